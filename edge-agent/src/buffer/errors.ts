/** Errors the durable buffer throws; match on class or `code`. */
import { ErrorCode, MillwrightError } from '../domain/errors.js';

/**
 * The append cannot be stored: capacity is used by records that eviction may not drop for this
 * append, or the filesystem itself is full (ENOSPC, as `cause`). Nothing of the append was kept.
 */
export class BufferFullError extends MillwrightError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(ErrorCode.RESOURCE_EXHAUSTED, message, details, options);
  }
}

/** The buffer is closed, or a disk error left it unable to accept writes until reopened. */
export class BufferUnavailableError extends MillwrightError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(ErrorCode.UNAVAILABLE, message, details, options);
  }
}

/** A caller passed something the buffer cannot store (unknown class, oversized body, cursor ahead of head). */
export class BufferArgumentError extends MillwrightError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.INVALID, message, details);
  }
}
