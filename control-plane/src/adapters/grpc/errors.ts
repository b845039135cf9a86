import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { type ErrorCode, MillwrightError } from '../../domain/errors.js';

/** The one table mapping domain error codes to gRPC status codes. */
export const STATUS_BY_CODE: Record<ErrorCode, status> = {
  INVALID: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  CONFLICT: status.ABORTED,
  PRECONDITION: status.FAILED_PRECONDITION,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTEGRITY: status.INVALID_ARGUMENT,
  INTERNAL: status.INTERNAL,
};

/** Turns any thrown value into a gRPC error; INVALID errors name the field in `mw-field` trailing metadata. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof MillwrightError) {
    const metadata = new Metadata();
    metadata.set('mw-code', err.code);
    if (err.details.field) metadata.set('mw-field', String(err.details.field));
    return { code: STATUS_BY_CODE[err.code], details: err.message, metadata };
  }
  return { code: status.INTERNAL, details: 'internal error' };
}
