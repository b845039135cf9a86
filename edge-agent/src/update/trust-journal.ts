import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir } from '../fs-atomic.js';
import { keyIdOf } from './trust.js';

/**
 * `<dataDir>/trust/journal.log`: an append-only record of every accepted trust bundle and every revoked
 * key, kept beside `trust.json`. It is appended (and fsynced) before `trust.json` is replaced and never
 * rewritten, so when `trust.json` is lost or unreadable the agent still knows what it revoked, and that
 * it had accepted a bundle at all, and can verify the next bundle with the keys it had learnt
 * (docs/SECURITY.md). Lines: `bundle <sequence> <sha256 of the payload>`, `key <key id> <base64 public
 * key>` (a key learnt from a bundle) and `revoked <key id> [<base64 public key>]`.
 */
export const TRUST_JOURNAL_FILE = join('trust', 'journal.log');

export interface JournalContent {
  /** Whether the file exists: then this agent accepted a bundle once. */
  exists: boolean;
  /** The last accepted bundle. */
  last?: { sequence: number; sha256: string };
  /** Keys learnt from accepted bundles: base64 public key by key id (revoked ones included). */
  keys: Map<string, string>;
  /** Revoked key ids with their base64 public key ('' when not known). */
  revoked: Map<string, string>;
}

/** sha256 (hex) of a bundle's payload bytes, as the journal names it. */
export function payloadSha256(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('hex');
}

/**
 * Reads the journal; a torn or malformed line (a crash mid-append) is skipped, the rest still counts.
 * @throws the read error other than ENOENT (the caller decides how to fail closed).
 */
export async function readJournal(path: string): Promise<JournalContent> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { exists: false, keys: new Map(), revoked: new Map() };
    throw err;
  }
  const out: JournalContent = { exists: true, keys: new Map(), revoked: new Map() };
  for (const line of text.split('\n')) {
    const [kind, a, b] = line.trim().split(' ');
    if (kind === 'bundle' && a && /^\d+$/.test(a) && b && /^[0-9a-f]{64}$/.test(b)) {
      out.last = { sequence: Number(a), sha256: b };
    } else if (kind === 'key' && a && b && matches(a, b)) {
      out.keys.set(a, b);
    } else if (kind === 'revoked' && a && /^[0-9a-f]{16}$/.test(a)) {
      out.revoked.set(a, b && matches(a, b) ? b : out.revoked.get(a) || '');
    }
  }
  return out;
}

/** A public key is used only when it is the one its id names (a damaged line is skipped). */
function matches(keyId: string, publicKey: string): boolean {
  const raw = Buffer.from(publicKey, 'base64');
  return raw.length === 32 && keyIdOf(raw) === keyId;
}

/**
 * Appends lines and fsyncs them (and the directory when the file is new). A torn last line is ended
 * first, so it cannot swallow the next one.
 */
export async function appendJournal(path: string, lines: readonly string[]): Promise<void> {
  const fh = await open(path, 'a+');
  let size: number;
  try {
    size = (await fh.stat()).size;
    const last = Buffer.alloc(1);
    const torn = size > 0 && (await fh.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a;
    await fh.appendFile(`${torn ? '\n' : ''}${lines.map((l) => `${l}\n`).join('')}`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (size === 0) await fsyncDir(dirname(path));
}
