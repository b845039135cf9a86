import { type FileHandle, open, rm, stat } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { ErrorCode, MillwrightError } from '../../domain/errors.js';
import type { ArtifactFetcher, ArtifactUrlSource, FetchRequest, UpdateClock } from '../../update/ports.js';

export interface HttpDownloadOptions {
  /** A connection idle this long is abandoned (the partial file is kept). @default 30000 */
  timeoutMs: number;
  /** Attempts per `fetch` call before it gives up with UNAVAILABLE. @default 5 */
  retries: number;
  /** Back-off between attempts. @default 500 / 30000 */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Largest artifact accepted. @default 512 MiB */
  maxBytes: number;
}

type Outcome = 'done' | 'refresh';

class Transient extends MillwrightError {
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.UNAVAILABLE, message, {}, { cause });
  }
}

/**
 * Downloads artifacts by presigned URL with node:http(s): resumes a partial file with a Range
 * request, retries with back-off, enforces the signed size and a size limit, and asks for a fresh
 * URL (through `urls`) when the one it has expired or is refused.
 */
export class HttpArtifactFetcher implements ArtifactFetcher {
  constructor(private readonly deps: { urls: ArtifactUrlSource; clock: UpdateClock; options: HttpDownloadOptions }) {}

  async fetch(req: FetchRequest, signal: AbortSignal): Promise<void> {
    const { maxBytes, retries } = this.deps.options;
    if (req.expectedBytes > maxBytes) {
      throw new MillwrightError(
        ErrorCode.RESOURCE_EXHAUSTED,
        `artifact of ${req.expectedBytes} bytes exceeds ${maxBytes}`,
      );
    }
    let url = req.url;
    let expiresAtMs = req.urlExpiresAtMs;
    let last: unknown;
    for (let attempt = 1; attempt <= retries; attempt++) {
      try {
        if (!url || (expiresAtMs > 0 && expiresAtMs <= this.deps.clock.now())) {
          ({ url, expiresAtMs } = await this.deps.urls.refresh(req.model, req.version, signal));
        }
        if ((await this.attempt(url, req, signal)) === 'done') return;
        url = '';
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (err instanceof MillwrightError && err.code !== ErrorCode.UNAVAILABLE && err.code !== ErrorCode.NOT_FOUND) {
          throw err;
        }
        last = err;
      }
      if (attempt < retries) await this.deps.clock.sleep(this.backoff(attempt), signal);
    }
    throw new Transient(
      `download of ${req.model}@${req.version} failed after ${retries} attempts: ${message(last)}`,
      last,
    );
  }

  private backoff(attempt: number): number {
    const { backoffMinMs, backoffMaxMs } = this.deps.options;
    return Math.min(backoffMaxMs, backoffMinMs * 2 ** (attempt - 1));
  }

  private async attempt(url: string, req: FetchRequest, signal: AbortSignal): Promise<Outcome> {
    const have = await partialSize(req);
    if (have === req.expectedBytes) return 'done';
    const res = await get(url, have, this.deps.options.timeoutMs, signal);
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403 || status === 404 || status === 410) return discard(res, 'refresh');
    if (status === 416) {
      // Our partial does not fit the object the server has: start over.
      await rm(req.partialPath, { force: true });
      return discard(res, Promise.reject(new Transient('range not satisfiable; restarting from zero')));
    }
    if (status === 206 && contentRangeStart(res) === have) return this.write(res, req, have);
    if (status === 200) return this.write(res, req, 0);
    return discard(res, Promise.reject(new Transient(`HTTP ${status} from artifact server`)));
  }

  private async write(res: IncomingMessage, req: FetchRequest, offset: number): Promise<Outcome> {
    const fh = await open(req.partialPath, offset === 0 ? 'w' : 'a');
    const out = new BatchedWriter(fh);
    let total = offset;
    try {
      for await (const chunk of res) {
        total += (chunk as Buffer).length;
        if (total > req.expectedBytes) {
          res.destroy();
          throw new MillwrightError(ErrorCode.INTEGRITY, `server sent more than the signed ${req.expectedBytes} bytes`);
        }
        await out.add(chunk as Buffer);
      }
      await out.flush();
      await fh.sync();
    } catch (err) {
      if (err instanceof MillwrightError) throw err;
      // Keep what did arrive, so the next attempt resumes after it.
      await out.flush().catch(() => undefined);
      throw new Transient(`connection lost after ${total} of ${req.expectedBytes} bytes: ${message(err)}`, err);
    } finally {
      await closeQuietly(fh);
    }
    if (total < req.expectedBytes)
      throw new Transient(`connection closed after ${total} of ${req.expectedBytes} bytes`);
    return 'done';
  }
}

/**
 * Gathers the socket's chunks (typically 16-64 KiB) into one writev per MiB: one file-system round
 * trip per chunk cost more CPU than receiving the chunk.
 */
class BatchedWriter {
  private static readonly BATCH_BYTES = 1 << 20;
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly fh: FileHandle) {}

  async add(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= BatchedWriter.BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const { chunks, bytes } = this;
    this.chunks = [];
    this.bytes = 0;
    const { bytesWritten } = await this.fh.writev(chunks);
    if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
  }
}

async function partialSize(req: FetchRequest): Promise<number> {
  const size = await stat(req.partialPath).then(
    (s) => s.size,
    () => 0,
  );
  if (size <= req.expectedBytes) return size;
  await rm(req.partialPath, { force: true });
  return 0;
}

function get(url: string, from: number, timeoutMs: number, signal: AbortSignal): Promise<IncomingMessage> {
  const client = url.startsWith('https:') ? https : http;
  const headers = from > 0 ? { range: `bytes=${from}-` } : {};
  return new Promise((resolve, reject) => {
    const r = client.get(url, { headers, signal, timeout: timeoutMs }, resolve);
    r.on('timeout', () => r.destroy(new Transient(`no data for ${timeoutMs} ms`)));
    r.on('error', (err) => reject(signal.aborted ? signal.reason : new Transient(message(err), err)));
  });
}

function contentRangeStart(res: IncomingMessage): number | undefined {
  const m = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
  return m ? Number(m[1]) : undefined;
}

async function discard<T>(res: IncomingMessage, outcome: T | Promise<T>): Promise<T> {
  res.resume();
  return outcome;
}

async function closeQuietly(fh: FileHandle): Promise<void> {
  await fh.close().catch(() => undefined);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
