/** Error codes shared by every boundary of the agent; match on `code`, never on message text. */
export const ErrorCode = {
  INVALID: 'INVALID',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PRECONDITION: 'PRECONDITION',
  UNAVAILABLE: 'UNAVAILABLE',
  INTEGRITY: 'INTEGRITY',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error the agent throws on purpose. */
export class MillwrightError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A model artifact or manifest that cannot be loaded (schema mismatch, bad file, wrong runtime). */
export class ModelLoadError extends MillwrightError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(ErrorCode.INVALID, message, details, options);
  }
}

/** Artifact digest or signature does not check out. */
export class IntegrityError extends MillwrightError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.INTEGRITY, message, details);
  }
}

/** Configuration invalid; `issues` names every bad key. */
export class ConfigError extends MillwrightError {
  constructor(readonly issues: string[]) {
    super(ErrorCode.INVALID, `invalid configuration:\n  - ${issues.join('\n  - ')}`, { issues });
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
