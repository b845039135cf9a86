import type { ServerReadableStream, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { toServiceError } from './errors.js';

/** Wraps a unary handler: one log line per call, domain errors mapped to status codes. */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const started = performance.now();
    fn(call.request, call).then(
      (res) => {
        log.debug({ method, durationMs: performance.now() - started }, 'rpc.ok');
        callback(null, res);
      },
      (err: unknown) => {
        const se = toServiceError(err);
        const level = se.code === 13 ? 'error' : 'info';
        log[level](
          { method, code: se.code, err: level === 'error' ? err : undefined, details: se.details },
          'rpc.failed',
        );
        callback(se, null);
      },
    );
  };
}

/**
 * Wraps a client-streaming handler like `unary`: `fn` consumes the request stream and resolves to
 * the single response; one log line per call, domain errors mapped to status codes.
 */
export function clientStreaming<Req, Res>(
  log: Logger,
  method: string,
  fn: (call: ServerReadableStream<Req, Res>) => Promise<Res>,
) {
  return (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>): void => {
    const started = performance.now();
    fn(call).then(
      (res) => {
        log.debug({ method, durationMs: performance.now() - started }, 'rpc.ok');
        callback(null, res);
      },
      (err: unknown) => {
        const se = toServiceError(err);
        const level = se.code === 13 ? 'error' : 'info';
        log[level](
          { method, code: se.code, err: level === 'error' ? err : undefined, details: se.details },
          'rpc.failed',
        );
        callback(se, null);
      },
    );
  };
}
