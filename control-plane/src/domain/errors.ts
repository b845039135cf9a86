/** Error codes of the control plane; each boundary maps them in one table (gRPC: adapters/grpc/errors.ts). */
export const ErrorCode = {
  INVALID: 'INVALID',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  CONFLICT: 'CONFLICT',
  PRECONDITION: 'PRECONDITION',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTEGRITY: 'INTEGRITY',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error thrown on purpose. `field` names the offending request field for INVALID. */
export class MillwrightError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { field?: string; [k: string]: unknown } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends MillwrightError {
  constructor(what: string, id: string) {
    super(ErrorCode.NOT_FOUND, `${what} ${JSON.stringify(id)} not found`, { what, id });
  }
}

export class InvalidArgumentError extends MillwrightError {
  constructor(field: string, message: string) {
    super(ErrorCode.INVALID, `${field}: ${message}`, { field });
  }
}

export class AlreadyExistsError extends MillwrightError {
  constructor(what: string, id: string) {
    super(ErrorCode.ALREADY_EXISTS, `${what} ${JSON.stringify(id)} already exists`, { what, id });
  }
}

export class PreconditionError extends MillwrightError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.PRECONDITION, message, details);
  }
}

/** Configuration invalid; `issues` names every bad key. Thrown by the shared config loader. */
export { ConfigError } from '@millwright/edge-agent/domain/errors.js';

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
