/** Sequential, verifying walk over the frames of one open segment file, in large chunks. */
import type { FileHandle } from 'node:fs/promises';
import { CrcArena } from './crc32c-wasm.js';
import { checkFrame, FRAME_HEADER_BYTES, type FrameFault, type Frames, framesIn } from './frame.js';

const CHUNK = 1 << 20;

/**
 * Called per verified frame; `f.bytes[off]` is its header. Return false to stop the walk. The
 * bytes are reused for the next chunk: copy what must outlive the call.
 */
export type FrameVisitor = (f: Frames, off: number, bodyLen: number, fileOff: number) => boolean;

export interface WalkEnd {
  /** File offset where the walk ended: `to`, the stop point, or the start of the bad frame. */
  end: number;
  fault: FrameFault | null;
}

/**
 * Visits the frames in `[from, to)` of `fh`. A frame cut by `to` or failing its checksum ends the
 * walk with a fault at its offset; nothing after a bad frame is trusted. `afterChunk` runs between
 * chunks, where the visitor's side effects may be flushed (the chunk buffer is then reused).
 */
export async function walkFrames(
  fh: FileHandle,
  from: number,
  to: number,
  maxBody: number,
  visit: FrameVisitor,
  afterChunk?: () => Promise<void>,
): Promise<WalkEnd> {
  const arena = new CrcArena(Math.min(CHUNK, Math.max(to - from, FRAME_HEADER_BYTES)));
  let buf = arena.bytes;
  let frames = framesIn(arena);
  let pos = from;
  while (pos < to) {
    const want = Math.min(buf.length, to - pos);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    let off = 0;
    while (off < bytesRead) {
      const r = checkFrame(frames, off, bytesRead, maxBody);
      if (typeof r === 'number') {
        if (!visit(frames, off, r, pos + off)) return { end: pos + off, fault: null };
        off += FRAME_HEADER_BYTES + r;
        continue;
      }
      if ((r === 'short-header' || r === 'short-body') && pos + bytesRead < to) break;
      return { end: pos + off, fault: r };
    }
    if (off === 0) {
      if (bytesRead === 0) return { end: pos, fault: 'short-header' };
      arena.reserve(FRAME_HEADER_BYTES + buf.readUInt32LE(0) + CHUNK);
      buf = arena.bytes;
      frames = framesIn(arena);
    }
    pos += off;
    if (afterChunk) await afterChunk();
  }
  return { end: pos, fault: null };
}
