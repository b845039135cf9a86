/**
 * Record classes of the buffer, as plain domain names. The numeric codes equal the wire enum
 * `RecordClass` of millwright.v1 (TELEMETRY=1 ... REPORT=7), so the adapter maps them 1:1.
 */
export type RecordClassName = 'TELEMETRY' | 'PREDICTION' | 'ANOMALOUS' | 'CAPTURE' | 'ALERT' | 'LABEL' | 'REPORT';

/** Every class, in code order. */
export const RECORD_CLASSES: readonly RecordClassName[] = Object.freeze([
  'TELEMETRY',
  'PREDICTION',
  'ANOMALOUS',
  'CAPTURE',
  'ALERT',
  'LABEL',
  'REPORT',
]);

/** Class name to its stored one-byte code. */
export const RECORD_CLASS_CODE: Readonly<Record<RecordClassName, number>> = Object.freeze({
  TELEMETRY: 1,
  PREDICTION: 2,
  ANOMALOUS: 3,
  CAPTURE: 4,
  ALERT: 5,
  LABEL: 6,
  REPORT: 7,
});

/** Highest valid class code; codes are 1..MAX_CLASS_CODE. */
export const MAX_CLASS_CODE = 7;

/** The class name of a stored code, or undefined for a code this build does not know. */
export function classFromCode(code: number): RecordClassName | undefined {
  return RECORD_CLASSES[code - 1];
}

/**
 * Which unsent classes capacity eviction may drop, lowest value first. Classes not listed
 * (ALERT, LABEL) are never evicted for space; only their TTL removes them.
 */
export const DEFAULT_EVICTION_ORDER: readonly RecordClassName[] = Object.freeze([
  'TELEMETRY',
  'PREDICTION',
  'REPORT',
  'ANOMALOUS',
  'CAPTURE',
]);
