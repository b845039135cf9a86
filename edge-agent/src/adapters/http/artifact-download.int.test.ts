import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, MillwrightError } from '../../domain/errors.js';
import { systemUpdateClock } from '../../update/ports.js';
import { HttpArtifactFetcher } from './artifact-download.js';

/** Several of the fetcher's 1 MiB write batches, not a multiple of any chunk size. */
const ARTIFACT = randomBytes(3 * 1024 * 1024 + 4321);
/** The first response is cut here: inside the second write batch. */
const CUT_AT = 1_500_000;

describe('HttpArtifactFetcher against a real HTTP server', () => {
  let server: http.Server;
  let base: string;
  let dir: string;
  const ranges: string[] = [];
  let cutNext = false;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-dl-'));
    server = http.createServer((req, res) => {
      const range = req.headers.range ?? '';
      ranges.push(range);
      const start = Number(/bytes=(\d+)-/.exec(range)?.[1] ?? 0);
      const body = ARTIFACT.subarray(start);
      if (req.url === '/too-big') {
        // Chunked, so only the fetcher's own count can notice the extra bytes.
        res.writeHead(200);
        res.end(Buffer.concat([body, Buffer.alloc(10)]));
        return;
      }
      const headers: http.OutgoingHttpHeaders = { 'content-length': body.length };
      if (start > 0) headers['content-range'] = `bytes ${start}-${ARTIFACT.length - 1}/${ARTIFACT.length}`;
      res.writeHead(start > 0 ? 206 : 200, headers);
      if (cutNext) {
        cutNext = false;
        res.write(body.subarray(0, CUT_AT), () => res.socket?.destroy());
      } else {
        res.end(body);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  const fetcher = () =>
    new HttpArtifactFetcher({
      urls: { refresh: async () => ({ url: `${base}/a`, expiresAtMs: 0 }) },
      clock: systemUpdateClock,
      options: { timeoutMs: 5000, retries: 3, backoffMinMs: 10, backoffMaxMs: 50, maxBytes: 64 * 1024 * 1024 },
    });
  const request = (name: string, path = '/a') => ({
    model: 'm',
    version: '1',
    url: `${base}${path}`,
    urlExpiresAtMs: 0,
    expectedBytes: ARTIFACT.length,
    partialPath: join(dir, name),
  });

  it('writes a multi-MiB artifact byte for byte', async () => {
    const req = request('whole.part');
    await fetcher().fetch(req, new AbortController().signal);
    expect((await readFile(req.partialPath)).equals(ARTIFACT)).toBe(true);
  });

  it('keeps the bytes received before a cut and resumes right after them', async () => {
    ranges.length = 0;
    cutNext = true;
    const req = request('cut.part');
    await fetcher().fetch(req, new AbortController().signal);
    expect(ranges).toHaveLength(2);
    const resumedAt = Number(/bytes=(\d+)-/.exec(ranges[1]!)?.[1]);
    // Everything the socket delivered before the cut was written, not only the whole batches.
    expect(resumedAt).toBe(CUT_AT);
    expect((await readFile(req.partialPath)).equals(ARTIFACT)).toBe(true);
  });

  it('refuses a body longer than the signed size', async () => {
    const err = await fetcher()
      .fetch(request('big.part', '/too-big'), new AbortController().signal)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MillwrightError);
    expect((err as MillwrightError).code).toBe(ErrorCode.INTEGRITY);
  });
});
