import type { Decision, Reason } from './model.js';

/** One scored window, as the pipeline produced it. */
export interface PredictionEvent {
  /** "<agent>:<seq>" once buffered; before that "<agent>:p<counter>". */
  predictionId: string;
  asset: string;
  model: string;
  modelVersion: string;
  score: number;
  decision: Decision;
  reasons: Reason[];
  latencyUs: number;
  windowStartMs: number;
  windowEndMs: number;
  /** Fraction of the window's points flagged by cleaning. */
  inputBadFraction: number;
}

export type AlertState = 'raised' | 'resolved';

/** A de-duplicated alert episode transition, sent to the line (MQTT/webhook) and upstream. */
export interface AlertEvent {
  alertId: string;
  state: AlertState;
  asset: string;
  modelVersion: string;
  score: number;
  reasons: Reason[];
  message: string;
  predictionId: string;
  atMs: number;
}
