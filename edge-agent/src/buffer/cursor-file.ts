/**
 * The cursors file: send cursor, commit cursor and a seq floor (the highest seq ever assigned that
 * may no longer be in any segment), replaced atomically (write tmp, fsync, rename, fsync dir).
 *
 *   u32 magic "MWCU" | u32 version=1 | u64 send | u64 commit | u64 seqFloor | u32 crc32c of the 32 bytes before
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';
import { crc32c } from './crc32c.js';
import { readU64, writeU64 } from './frame.js';

const MAGIC = 0x5543574d;
const SIZE = 36;
export const CURSOR_FILE = 'cursors';

export interface Cursors {
  send: number;
  commit: number;
  seqFloor: number;
}

/** Loads the cursors; `null` when the file is absent, `'corrupt'` when it does not verify. */
export async function loadCursors(dir: string): Promise<Cursors | null | 'corrupt'> {
  let buf: Buffer;
  try {
    buf = await readFile(join(dir, CURSOR_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (buf.length !== SIZE || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== 1) return 'corrupt';
  if (crc32c(buf, 0, SIZE - 4) !== buf.readUInt32LE(SIZE - 4)) return 'corrupt';
  return { send: readU64(buf, 8), commit: readU64(buf, 16), seqFloor: readU64(buf, 24) };
}

/** Durably replaces the cursors file. */
export async function saveCursors(dir: string, c: Cursors): Promise<void> {
  const buf = Buffer.alloc(SIZE);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(1, 4);
  writeU64(buf, 8, c.send);
  writeU64(buf, 16, c.commit);
  writeU64(buf, 24, c.seqFloor);
  buf.writeUInt32LE(crc32c(buf, 0, SIZE - 4), SIZE - 4);
  await writeFileAtomic(join(dir, CURSOR_FILE), buf);
}
