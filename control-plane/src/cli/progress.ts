/** Upload progress on stderr: a redrawn bar on a terminal, one summary line otherwise. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
const REDRAW_MS = 100;
const BAR_WIDTH = 30;

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

function rate(bytes: number, elapsedMs: number): string {
  return `${formatBytes(elapsedMs > 0 ? Math.round((bytes * 1000) / elapsedMs) : 0)}/s`;
}

/** `[=========>          ]  45%  12.0 MiB / 26.7 MiB  8.1 MiB/s` */
export function progressLine(sent: number, total: number, elapsedMs: number): string {
  const fraction = total > 0 ? Math.min(1, sent / total) : 1;
  const filled = Math.floor(fraction * BAR_WIDTH);
  const bar = `${'='.repeat(filled)}${filled < BAR_WIDTH ? '>' : ''}`.padEnd(BAR_WIDTH).slice(0, BAR_WIDTH);
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `[${bar}] ${pct}  ${formatBytes(sent)} / ${formatBytes(total)}  ${rate(sent, elapsedMs)}`;
}

export function summaryLine(sent: number, elapsedMs: number): string {
  return `uploaded ${formatBytes(sent)} in ${(elapsedMs / 1000).toFixed(1)} s (${rate(sent, elapsedMs)})`;
}

/** Where progress goes; `isTTY` decides between a live bar and one line at the end. */
export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

export class Progress {
  private sent = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private readonly started: number;

  constructor(
    private readonly out: ProgressSink,
    private readonly total: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  advance(bytes: number): void {
    this.sent += bytes;
    if (!this.out.isTTY || this.now() - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = this.now();
    this.out.write(`\r${progressLine(this.sent, this.total, this.lastDraw - this.started)}`);
  }

  finish(): void {
    const elapsed = this.now() - this.started;
    if (this.out.isTTY) this.out.write(`\r${progressLine(this.sent, this.total, elapsed)}\n`);
    else this.out.write(`${summaryLine(this.sent, elapsed)}\n`);
  }
}
