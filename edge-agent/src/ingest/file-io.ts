/**
 * The only file-system access of the ingest feature, kept here so replay logic stays testable
 * and the I/O surface is one small module.
 */
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ErrorCode, MillwrightError } from '../domain/errors.js';

/** Streams a text file line by line (LF or CRLF), without loading it whole. */
export interface LineStream {
  lines: AsyncIterator<string>;
  close(): Promise<void>;
}

/** A random-access binary file. */
export interface BinaryFile {
  readonly size: number;
  /** Reads up to `dst.length` bytes at `position`; returns the bytes read. */
  read(dst: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

async function openHandle(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ErrorCode.NOT_FOUND : ErrorCode.UNAVAILABLE;
    throw new MillwrightError(code, `cannot open ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}

/** Opens `path` for line streaming. @throws MillwrightError NOT_FOUND / UNAVAILABLE */
export async function openLines(path: string): Promise<LineStream> {
  const fh = await openHandle(path);
  const rl = createInterface({ input: fh.createReadStream({ encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  return {
    lines: rl[Symbol.asyncIterator](),
    async close() {
      rl.close();
      await fh.close().catch(() => undefined);
    },
  };
}

/** Opens `path` for positional reads. @throws MillwrightError NOT_FOUND / UNAVAILABLE */
export async function openBinary(path: string): Promise<BinaryFile> {
  const fh = await openHandle(path);
  const { size } = await fh.stat();
  return {
    size,
    async read(dst, position) {
      const { bytesRead } = await fh.read(dst, 0, dst.length, position);
      return bytesRead;
    },
    close: () => fh.close(),
  };
}

/** Reads and parses a JSON file. @throws MillwrightError NOT_FOUND / INVALID */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new MillwrightError(
      ErrorCode.NOT_FOUND,
      `cannot read ${path}: ${(err as Error).message}`,
      { path },
      { cause: err },
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MillwrightError(
      ErrorCode.INVALID,
      `${path}: not valid JSON: ${(err as Error).message}`,
      { path },
      { cause: err },
    );
  }
}
