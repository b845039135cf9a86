/**
 * The agent's crash-safe on-disk buffer for everything bound for the cloud.
 *
 * Records go into append-only segment files (format in ./frame.ts). Appends from any number of
 * producers are framed into one in-memory batch; a single writer task writes the batch and
 * fdatasyncs it (group commit), and only then resolves every caller: "acknowledged" means durable.
 * While one batch syncs, the next one fills, so the group window is exactly one fdatasync.
 *
 * Eviction design: dropping records from an append-only log needs either tombstones or rewriting.
 * Tombstones free no disk until every record of a segment is dead, and segments mix classes (an
 * alert among a million telemetry records would pin the whole segment), so capacity eviction and
 * TTL rewrite ("compact") the oldest sealed segment holding the class to drop: survivors are
 * copied to a new file, fsynced, renamed over the old one. Dropping is therefore exact, counted per
 * record and class as it happens, frees the bytes at once, and needs no extra persisted state; the
 * price is copying the survivors of one segment per eviction step (rare: only when the disk quota
 * or a TTL is hit). Committed records are removed by the same pass for free.
 *
 * All file mutations (group commits, rolls, compaction, reclaim, quarantine) run in the one writer
 * task; reads and cursor updates never wait for it except to skip a segment being rewritten.
 *
 * Reads keep one open handle per segment (closed when the segment is replaced, removed or the
 * buffer closed; a read racing with that sees a changed generation or a missing segment and
 * retries) and read ahead in large spans into one reused arena (./reader.ts SpanReader). Every
 * frame is still verified by its checksum when it is parsed out of the bytes read from the file,
 * immediately before it is handed out; nothing is trusted from an earlier verification. A caller
 * done with a batch may hand it back (`reuse`) so the next read needs no allocation.
 *
 * Durability, the hot path: a group commit is one O_DSYNC write per segment part (./writer.ts),
 * acknowledged only when it returns; frames are built and checksummed in WebAssembly memory
 * (./crc32c-wasm.ts). Producers that wait for their acknowledgement before appending again (the
 * usual case) leave nothing to pipeline: the next batch only exists once this one is durable, so
 * the work between two fdatasyncs (framing, checksums, the thread-pool round trip) is what was cut.
 */
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { fsyncDir } from '../fs-atomic.js';
import { compactSegment, type Decide, quarantineTail, Verdict } from './compact.js';
import { type Cursors, loadCursors, saveCursors } from './cursor-file.js';
import { DropCounter, type DropReason } from './drops.js';
import { BufferArgumentError, BufferFullError, BufferUnavailableError } from './errors.js';
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './frame.js';
import { emptyBatch, type ReadBatch, SpanReader, seekAfter } from './reader.js';
import { DEFAULT_EVICTION_ORDER, RECORD_CLASS_CODE, RECORD_CLASSES } from './record-class.js';
import { recover } from './recovery.js';
import { type Segment, scanSegment } from './segment.js';
import type { AppendEntry, BufferOptions, BufferStats, DropReport, OpenReport } from './types.js';
import { type Waiter, WriteBatch } from './write-batch.js';
import { WriteFailure, writeBatch } from './writer.js';

interface Queued {
  entries: readonly AppendEntry[];
  bytes: number;
  rank: number;
  resolve(firstSeq: number): void;
  reject(err: unknown): void;
}

interface Task {
  run(): Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

type Resolved = Required<Omit<BufferOptions, 'onGroupCommit' | 'ttlMs'>> & Pick<BufferOptions, 'onGroupCommit'>;

export class DurableBuffer {
  /** What open found and repaired. */
  readonly openReport: OpenReport;
  private readonly opts: Resolved;
  private readonly ttl = new Float64Array(8).fill(Number.POSITIVE_INFINITY);
  /** Eviction rank per class code; protected classes rank above every evictable one. */
  private readonly rank = new Int32Array(8);
  private readonly evictCodes: number[];
  private segments: Segment[];
  private active: Segment | null = null;
  private activeFd: FileHandle | null = null;
  /** Projected size of the segment the next appended record lands in; -1: it opens a new segment. */
  private planSize = -1;
  private nextSeq: number;
  private durableSeq: number;
  private cursors: Cursors;
  private diskBytes: number;
  private fill = new WriteBatch();
  private spare = new WriteBatch();
  private inflightBytes = 0;
  private readonly waitQ: Queued[] = [];
  private readonly tasks: Task[] = [];
  private writerRunning = false;
  private writerScheduled = false;
  private idleWaiters: Array<() => void> = [];
  private failed: Error | null = null;
  private closed = false;
  private groupCommits = 0;
  private lastRetention = 0;
  private cursorSave: Promise<void> | null = null;
  private cursorDirty = false;
  private readHint: { seg: Segment; gen: number; after: number; off: number } | null = null;
  /** Read handles kept open per segment; closed when the segment is replaced, removed or closed. */
  private readonly readers = new Map<Segment, Promise<FileHandle>>();
  /** Reads ahead into one reused arena, serving the following batches from it. */
  private readonly spans = new SpanReader();
  private readonly drops = new DropCounter();
  private lastMaintenanceError: BufferStats['lastMaintenanceError'] = null;
  private unreported = new DropCounter();

  private constructor(
    opts: Resolved,
    ttlMs: BufferOptions['ttlMs'],
    rec: Awaited<ReturnType<typeof recover>>,
    c: Cursors,
  ) {
    this.opts = opts;
    for (const [name, ms] of Object.entries(ttlMs ?? {})) this.ttl[RECORD_CLASS_CODE[name as keyof typeof ttlMs]] = ms;
    this.evictCodes = opts.evictionOrder.map((n) => RECORD_CLASS_CODE[n]);
    this.rank.fill(this.evictCodes.length);
    this.evictCodes.forEach((code, i) => {
      this.rank[code] = i;
    });
    this.segments = rec.segments;
    this.diskBytes = rec.segments.reduce((s, g) => s + g.size, 0);
    this.nextSeq = Math.max(rec.maxSeqSeen, c.send, c.commit, c.seqFloor) + 1;
    this.durableSeq = this.nextSeq - 1;
    this.cursors = { ...c, seqFloor: this.nextSeq - 1 };
    this.lastRetention = opts.clock();
    for (const ev of rec.corruptions) this.recordCorruption(ev);
    this.openReport = {
      segments: rec.segments.length,
      records: rec.segments.reduce((s, g) => s + g.live.count, 0),
      headSeq: this.durableSeq,
      sendCursor: c.send,
      commitCursor: c.commit,
      tornTail: rec.tornTail,
      corruptions: rec.corruptions,
      removedTempFiles: rec.removedTempFiles,
      cursorsReset: false,
      durationMs: 0,
    };
  }

  /**
   * Opens (creating if needed) the buffer in `options.dir`, verifying and repairing it.
   * @throws BufferArgumentError for inconsistent options; I/O errors of the data directory.
   */
  static async open(options: BufferOptions): Promise<DurableBuffer> {
    const t0 = performance.now();
    const opts = resolveOptions(options);
    const rec = await recover(opts.dir, opts.maxRecordBytes, opts.clock());
    const loaded = await loadCursors(opts.dir);
    const c = loaded === null || loaded === 'corrupt' ? { send: 0, commit: 0, seqFloor: 0 } : loaded;
    const buf = new DurableBuffer(opts, options.ttlMs, rec, c);
    if (loaded === 'corrupt') (buf.openReport as { cursorsReset: boolean }).cursorsReset = true;
    await buf.persistCursors();
    (buf.openReport as { durationMs: number }).durationMs = performance.now() - t0;
    return buf;
  }

  /**
   * Appends records; they get consecutive seqs. Resolves with the first seq once every record of
   * the call is fdatasync'd.
   * @throws BufferFullError (RESOURCE_EXHAUSTED) when eviction cannot make room or the disk is full.
   * @throws BufferArgumentError for an unknown class or a body over `maxRecordBytes`.
   * @throws BufferUnavailableError when closed or after an unrecoverable disk error.
   */
  append(entries: readonly AppendEntry[]): Promise<number> {
    if (this.closed || this.failed) return Promise.reject(this.unavailable());
    let bytes = 0;
    let rank = -1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const code = RECORD_CLASS_CODE[e.cls];
      if (code === undefined) return Promise.reject(new BufferArgumentError('unknown record class', { cls: e.cls }));
      if (e.body.length > this.opts.maxRecordBytes) {
        return Promise.reject(new BufferArgumentError('record body too large', { bytes: e.body.length }));
      }
      bytes += FRAME_HEADER_BYTES + e.body.length;
      if (this.rank[code]! > rank) rank = this.rank[code]!;
    }
    if (entries.length === 0) return Promise.resolve(this.nextSeq);
    return new Promise<number>((resolve, reject) => {
      if (this.waitQ.length === 0 && this.fits(bytes)) this.enqueue(entries, bytes, { firstSeq: 0, resolve, reject });
      else {
        this.waitQ.push({ entries, bytes, rank, resolve, reject });
        this.kick();
      }
    });
  }

  /**
   * Up to `maxRecords` durable records after `afterSeq` (default: the send cursor), in seq order,
   * at most `maxBytes` of record bytes (at least one record if any). Does not move the send cursor.
   * A batch never spans two segments. Seqs may have gaps where records were dropped (counted in
   * `stats().drops`).
   * `reuse`: a batch from an earlier read that the caller is done with: its memory is reused for
   * this one when large enough (no allocation per read). It must not be used afterwards.
   */
  async readUnsent(
    maxRecords: number,
    maxBytes: number,
    afterSeq = this.cursors.send,
    reuse?: ReadBatch,
  ): Promise<ReadBatch> {
    if (this.closed) throw this.unavailable();
    for (;;) {
      const seg = this.segments.find((s) => s.live.countIn(afterSeq, this.durableSeq) > 0);
      if (seg === undefined) return emptyBatch(afterSeq);
      if (seg.busy) {
        await this.whenWriterIdle();
        continue;
      }
      const gen = seg.generation;
      const hint = this.readHint;
      const lim = { afterSeq, maxSeq: this.durableSeq, maxRecords, maxBytes, maxBody: this.opts.maxRecordBytes };
      let r: Awaited<ReturnType<SpanReader['read']>>;
      try {
        const fh = await this.readHandle(seg);
        const off =
          hint && hint.seg === seg && hint.gen === gen && hint.after === afterSeq
            ? hint.off
            : await seekAfter(seg, fh, afterSeq, this.opts.maxRecordBytes);
        if (off < 0 || seg.generation !== gen || seg.busy) continue;
        r = await this.spans.read(seg, fh, off, lim, reuse);
      } catch (err) {
        if (this.closed) throw this.unavailable();
        // The segment was rewritten or removed (and its handle closed) while we read: retry.
        if (seg.generation !== gen || !this.segments.includes(seg)) continue;
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (seg.generation !== gen) continue;
      if (r.fault !== null) {
        await this.runTask(() => this.quarantineAt(seg, gen, r.fault!.offset, r.fault!.fault, r.fault!.prevSeq));
        if (r.batch.count === 0) continue;
      } else if (r.batch.count === 0) {
        return r.batch;
      }
      this.readHint = { seg, gen, after: r.batch.lastSeq, off: r.nextOffset };
      return r.batch;
    }
  }

  /**
   * Moves the send cursor to `seq` (JetStream acknowledged everything up to it) and persists it.
   * Never moves it backwards; see `rewindSendToCommitted`.
   * @throws BufferArgumentError when `seq` is above the durable head.
   */
  markSent(seq: number): Promise<void> {
    this.checkSeq(seq);
    if (seq <= this.cursors.send) return Promise.resolve();
    this.cursors.send = seq;
    return this.persistCursors();
  }

  /**
   * Moves the commit cursor to `seq` (the control plane committed everything up to it), persists
   * it, and deletes segments that hold only committed records.
   * @throws BufferArgumentError when `seq` is above the durable head.
   */
  async markCommitted(seq: number): Promise<void> {
    this.checkSeq(seq);
    if (seq <= this.cursors.commit) return;
    this.cursors.commit = seq;
    if (this.cursors.send < seq) this.cursors.send = seq;
    await this.persistCursors();
    if (this.segments.some((s) => s !== this.active && s.lastSeq <= seq)) await this.runTask(() => this.reclaim());
  }

  /** Resends everything not yet committed: for when the cloud lost data the broker had acknowledged. */
  rewindSendToCommitted(): Promise<void> {
    this.cursors.send = this.cursors.commit;
    this.readHint = null;
    return this.persistCursors();
  }

  /** Drops records older than their class TTL now, instead of at the next automatic pass. */
  enforceRetention(): Promise<void> {
    return this.runTask(() => this.retention());
  }

  stats(): BufferStats {
    let unsent = 0;
    let uncommitted = 0;
    for (const s of this.segments) {
      unsent += s.live.countIn(this.cursors.send, this.durableSeq);
      uncommitted += s.live.countIn(this.cursors.commit, this.durableSeq);
    }
    return {
      headSeq: this.durableSeq,
      sendCursor: this.cursors.send,
      commitCursor: this.cursors.commit,
      unsent,
      uncommitted,
      bytesOnDisk: this.diskBytes,
      capacityBytes: this.opts.capacityBytes,
      pendingBytes: this.fill.len + this.inflightBytes,
      segments: this.segments.length,
      groupCommits: this.groupCommits,
      drops: this.drops.report(),
      lastMaintenanceError: this.lastMaintenanceError,
    };
  }

  /** Drops (and corruptions) since the previous call, for the upstream report. */
  takeDropReport(): DropReport {
    const r = this.unreported.report();
    this.unreported = new DropCounter();
    return r;
  }

  /** Waits for pending appends to become durable, persists the cursors and closes files. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.whenWriterIdle();
    this.closed = true;
    await this.persistCursors();
    await this.activeFd?.close();
    this.activeFd = null;
    this.active = null;
    await Promise.all([...this.readers.keys()].map((seg) => this.closeReader(seg)));
  }

  // ---- append path -------------------------------------------------------------------------

  private fits(bytes: number): boolean {
    const pending = this.fill.len + this.inflightBytes;
    if (this.diskBytes + pending + bytes > this.opts.capacityBytes) return false;
    return this.fill.len === 0 || this.fill.len + bytes <= this.opts.maxPendingBytes;
  }

  private enqueue(entries: readonly AppendEntry[], bytes: number, waiter: Waiter): void {
    const b = this.fill;
    b.reserve(bytes, entries.length);
    const first = this.nextSeq;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const frame = FRAME_HEADER_BYTES + e.body.length;
      if (
        this.planSize < 0 ||
        (this.planSize + frame > this.opts.segmentBytes && this.planSize > SEGMENT_HEADER_BYTES)
      ) {
        b.markBreak();
        this.planSize = SEGMENT_HEADER_BYTES;
      }
      this.planSize += frame;
      b.push(this.nextSeq++, RECORD_CLASS_CODE[e.cls], e.tsMs, e.body);
    }
    waiter.firstSeq = first;
    b.waiters.push(waiter);
    this.kick();
  }

  private kick(): void {
    if (this.writerRunning || this.writerScheduled) return;
    this.writerScheduled = true;
    const run = (): void => void this.writerLoop();
    if (this.opts.groupCommitDelayMs > 0) setTimeout(run, this.opts.groupCommitDelayMs);
    else setImmediate(run);
  }

  private async writerLoop(): Promise<void> {
    this.writerScheduled = false;
    this.writerRunning = true;
    try {
      for (;;) {
        let worked = false;
        if (this.fill.n > 0) {
          await this.flush();
          worked = true;
        }
        while (this.tasks.length > 0) {
          const t = this.tasks.shift()!;
          await t.run().then(t.resolve, t.reject);
          worked = true;
        }
        if (this.fill.n === 0 && this.waitQ.length > 0) {
          await this.admitQueued();
          worked = true;
        }
        if (this.retentionDue()) {
          await this.retention().catch((err: unknown) => this.noteMaintenanceError(err));
          worked = true;
        }
        if (!worked) break;
      }
    } catch (err) {
      this.failed = err instanceof Error ? err : new Error(String(err));
      this.rejectAll(this.unavailable());
    } finally {
      this.writerRunning = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async flush(): Promise<void> {
    const b = this.fill;
    this.fill = this.spare;
    this.spare = b;
    this.inflightBytes = b.len;
    try {
      const r = await writeBatch(b, this.writerState());
      this.active = r.active;
      this.activeFd = r.activeFd;
      this.diskBytes += r.grownBytes;
      this.durableSeq = b.firstSeq + b.n - 1;
      this.groupCommits++;
      this.opts.onGroupCommit?.(b.n, b.len);
      for (const w of b.waiters) w.resolve(w.firstSeq);
    } catch (err) {
      this.afterWriteFailure(b, err);
    } finally {
      this.inflightBytes = 0;
      b.reset();
    }
  }

  private writerState() {
    return { dir: this.opts.dir, segments: this.segments, active: this.active, activeFd: this.activeFd };
  }

  private afterWriteFailure(b: WriteBatch, err: unknown): void {
    this.active = null;
    this.activeFd = null;
    this.planSize = -1;
    const cause = err instanceof WriteFailure ? err.cause : err;
    if (!(err instanceof WriteFailure) || err.fatal)
      this.failed = cause instanceof Error ? cause : new Error(String(cause));
    const enospc = (cause as NodeJS.ErrnoException).code === 'ENOSPC';
    const e = enospc
      ? new BufferFullError('filesystem full', { records: b.n, bytes: b.len }, { cause })
      : new BufferUnavailableError('buffer write failed', { records: b.n }, { cause });
    for (const wt of b.waiters) wt.reject(e);
  }

  private async admitQueued(): Promise<void> {
    while (this.waitQ.length > 0) {
      const q = this.waitQ[0]!;
      if (this.fits(q.bytes)) {
        this.waitQ.shift();
        this.enqueue(q.entries, q.bytes, { firstSeq: 0, resolve: q.resolve, reject: q.reject });
        continue;
      }
      if (this.fill.n > 0) return;
      let room: boolean | unknown;
      try {
        room = await this.makeRoom(q.bytes, q.rank);
      } catch (err) {
        this.noteMaintenanceError(err);
        room = err;
      }
      if (room === true) continue;
      this.waitQ.shift();
      for (const e of q.entries)
        this.countDrop('rejected', RECORD_CLASS_CODE[e.cls], FRAME_HEADER_BYTES + e.body.length);
      const details = { needBytes: q.bytes, bytesOnDisk: this.diskBytes, capacityBytes: this.opts.capacityBytes };
      q.reject(
        room === false
          ? new BufferFullError('buffer full: nothing evictable for this append', details)
          : new BufferFullError('buffer full: eviction failed', details, { cause: room }),
      );
    }
  }

  // ---- eviction, retention, reclaim -------------------------------------------------------

  /** Value-aware eviction: drops classes of rank <= `rank`, lowest first, oldest segment first. */
  private async makeRoom(need: number, rank: number): Promise<boolean> {
    const over = (): boolean => this.diskBytes + this.fill.len + need > this.opts.capacityBytes;
    await this.reclaim();
    const now = this.opts.clock();
    for (let r = 0; r < this.evictCodes.length && r <= rank && over(); r++) {
      const code = this.evictCodes[r]!;
      for (const seg of [...this.segments]) {
        if (!over()) break;
        if (seg.classCount[code] === 0 || !this.segments.includes(seg)) continue;
        if (seg === this.active) await this.sealActive();
        await this.compact(seg, this.decider(now, code));
      }
    }
    return !over();
  }

  private decider(now: number, evictCode: number): Decide {
    const commit = this.cursors.commit;
    return (seq, code, ts) => {
      if (seq <= commit) return Verdict.RECLAIM;
      if (ts < now - this.ttl[code]!) return Verdict.TTL;
      return code === evictCode ? Verdict.EVICT : Verdict.KEEP;
    };
  }

  private retentionDue(): boolean {
    return this.opts.clock() - this.lastRetention >= this.opts.retentionIntervalMs && this.segments.length > 0;
  }

  private async retention(): Promise<void> {
    const now = this.opts.clock();
    this.lastRetention = now;
    for (const seg of [...this.segments]) {
      if (!this.segments.includes(seg) || seg.lastSeq <= this.cursors.commit) continue;
      if (!RECORD_CLASSES.some((n) => this.expired(seg, RECORD_CLASS_CODE[n], now))) continue;
      if (seg === this.active) {
        if (this.fill.n > 0) continue;
        await this.sealActive();
      }
      await this.compact(seg, this.decider(now, 0));
    }
    await this.reclaim();
  }

  private expired(seg: Segment, code: number, now: number): boolean {
    return seg.classCount[code]! > 0 && seg.minTs[code]! < now - this.ttl[code]!;
  }

  private async reclaim(): Promise<void> {
    const dead = this.segments.filter((s) => s !== this.active && s.lastSeq <= this.cursors.commit);
    if (dead.length === 0) return;
    await this.persistCursors();
    for (const seg of dead) {
      await unlink(seg.path);
      this.removeSegment(seg);
    }
    await fsyncDir(this.opts.dir);
  }

  private async compact(seg: Segment, decide: Decide): Promise<void> {
    await this.persistCursors();
    seg.busy = true;
    try {
      const out = await compactSegment(seg, this.opts.maxRecordBytes, decide);
      if (out.segment === seg) return;
      const lost = seg.live.count - (out.segment?.live.count ?? 0) - sumRecords(out.dropped);
      for (let code = 1; code < 8; code++) {
        this.countDrops('ttl', code, out.dropped, Verdict.TTL);
        this.countDrops('evicted', code, out.dropped, Verdict.EVICT);
      }
      this.replaceSegment(seg, out.segment);
      if (out.fault) {
        const f = out.fault;
        this.recordCorruption({
          segment: seg.name,
          offset: f.offset,
          fault: f.fault,
          quarantinedBytes: f.restBytes,
          quarantineFile: f.quarantineFile,
          lostRecords: lost,
          atMs: this.opts.clock(),
        });
      }
    } finally {
      seg.busy = false;
      seg.generation++;
    }
  }

  private countDrops(reason: DropReason, code: number, dropped: Float64Array, v: Verdict): void {
    const i = (v * 8 + code) * 2;
    if (dropped[i]! > 0) this.countDrop(reason, code, dropped[i + 1]!, dropped[i]!);
  }

  // ---- quarantine at runtime ----------------------------------------------------------------

  private async quarantineAt(seg: Segment, gen: number, offset: number, fault: string, prevSeq: number): Promise<void> {
    if (seg.generation !== gen || !this.segments.includes(seg)) return;
    if (seg === this.active) await this.sealActive();
    seg.busy = true;
    try {
      await this.persistCursors();
      const file = await quarantineTail(seg.path, this.opts.dir, offset);
      const kept = offset > 0 ? (await scanSegment(seg.dir, seg.firstSeq, this.opts.maxRecordBytes)).segment : null;
      if (offset > 0 && kept!.live.count === 0) {
        await unlink(seg.path);
        await fsyncDir(this.opts.dir);
      }
      const lost = seg.live.countIn(prevSeq, seg.lastSeq);
      this.replaceSegment(seg, kept && kept.live.count > 0 ? kept : null);
      this.recordCorruption({
        segment: seg.name,
        offset,
        fault,
        quarantinedBytes: seg.size - offset,
        quarantineFile: file,
        lostRecords: lost,
        atMs: this.opts.clock(),
      });
    } finally {
      seg.busy = false;
      seg.generation++;
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private async sealActive(): Promise<void> {
    const fd = this.activeFd;
    this.active = null;
    this.activeFd = null;
    this.planSize = -1;
    await fd?.close();
  }

  private replaceSegment(old: Segment, next: Segment | null): void {
    const i = this.segments.indexOf(old);
    if (i < 0) return;
    this.diskBytes += (next?.size ?? 0) - old.size;
    if (next) this.segments[i] = next;
    else this.segments.splice(i, 1);
    if (this.readHint?.seg === old) this.readHint = null;
    this.spans.forget(old);
    void this.closeReader(old);
  }

  /** The open read handle of `seg` (opened on first use; a segment no longer listed is not cached). */
  private async readHandle(seg: Segment): Promise<FileHandle> {
    let p = this.readers.get(seg);
    if (p === undefined) {
      p = open(seg.path, 'r');
      this.readers.set(seg, p);
      p.catch(() => {
        if (this.readers.get(seg) === p) this.readers.delete(seg);
      });
    }
    const fh = await p;
    if (!this.segments.includes(seg) || this.closed) {
      // Replaced while opening: do not keep a handle nobody will close.
      await this.closeReader(seg);
    }
    return fh;
  }

  private async closeReader(seg: Segment): Promise<void> {
    const p = this.readers.get(seg);
    if (p === undefined) return;
    this.readers.delete(seg);
    // FileHandle.close waits for reads in flight; later reads on it fail and are retried.
    await p.then((fh) => fh.close()).catch(() => undefined);
  }

  private removeSegment(seg: Segment): void {
    this.replaceSegment(seg, null);
  }

  private noteMaintenanceError(err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    this.lastMaintenanceError = { atMs: this.opts.clock(), message: String(err), code: code ?? null };
  }

  private countDrop(reason: DropReason, code: number, bytes: number, records = 1): void {
    this.drops.add(reason, code, bytes, records);
    this.unreported.add(reason, code, bytes, records);
  }

  private recordCorruption(ev: OpenReport['corruptions'][number]): void {
    this.drops.corruption(ev);
    this.unreported.corruption(ev);
  }

  private runTask(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.tasks.push({ run, resolve, reject });
      this.kick();
    });
  }

  private whenWriterIdle(): Promise<void> {
    if (!this.writerRunning && !this.writerScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private persistCursors(): Promise<void> {
    this.cursorDirty = true;
    this.cursorSave ??= this.saveCursorsLoop();
    return this.cursorSave;
  }

  private async saveCursorsLoop(): Promise<void> {
    try {
      while (this.cursorDirty) {
        this.cursorDirty = false;
        this.cursors.seqFloor = this.nextSeq - 1;
        await saveCursors(this.opts.dir, { ...this.cursors });
      }
    } finally {
      this.cursorSave = null;
    }
  }

  private checkSeq(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.durableSeq) {
      throw new BufferArgumentError('cursor beyond the durable head', { seq, headSeq: this.durableSeq });
    }
  }

  private unavailable(): BufferUnavailableError {
    return new BufferUnavailableError(
      this.closed ? 'buffer closed' : 'buffer failed; reopen to recover',
      {},
      {
        cause: this.failed ?? undefined,
      },
    );
  }

  private rejectAll(err: unknown): void {
    for (const q of this.waitQ.splice(0)) q.reject(err);
    for (const w of this.fill.waiters) w.reject(err);
    this.fill.reset();
  }
}

function resolveOptions(o: BufferOptions): Resolved {
  const segmentBytes = o.segmentBytes ?? 64 << 20;
  const r: Resolved = {
    dir: o.dir,
    capacityBytes: o.capacityBytes,
    segmentBytes,
    maxRecordBytes: o.maxRecordBytes ?? Math.min(4 << 20, Math.floor(segmentBytes / 2)),
    evictionOrder: o.evictionOrder ?? DEFAULT_EVICTION_ORDER,
    groupCommitDelayMs: o.groupCommitDelayMs ?? 0,
    maxPendingBytes: o.maxPendingBytes ?? 16 << 20,
    retentionIntervalMs: o.retentionIntervalMs ?? 10_000,
    clock: o.clock ?? Date.now,
    onGroupCommit: o.onGroupCommit,
  };
  const bad: string[] = [];
  if (!(r.segmentBytes >= 4096)) bad.push('segmentBytes must be >= 4096');
  if (!(r.capacityBytes >= 4 * r.segmentBytes)) bad.push('capacityBytes must be >= 4 * segmentBytes');
  if (!(r.maxRecordBytes + FRAME_HEADER_BYTES + SEGMENT_HEADER_BYTES <= r.segmentBytes)) {
    bad.push('maxRecordBytes must fit in a segment');
  }
  if (bad.length > 0) throw new BufferArgumentError(`invalid buffer options: ${bad.join('; ')}`, { issues: bad });
  return r;
}

function sumRecords(dropped: Float64Array): number {
  let n = 0;
  for (let i = 0; i < dropped.length; i += 2) n += dropped[i]!;
  return n;
}
