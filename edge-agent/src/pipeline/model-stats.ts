/**
 * Per-version model health over an interval (the evidence rollout gates use): counts and a
 * log-bucketed latency histogram, so percentiles need no per-inference allocation.
 */
const BUCKETS = 64;
/** Bucket b holds latencies in [2^(b/4), 2^((b+1)/4)) microseconds. */
const bucketOf = (us: number) => Math.min(BUCKETS - 1, Math.max(0, Math.floor(Math.log2(Math.max(us, 1)) * 4)));
const bucketUpper = (b: number) => 2 ** ((b + 1) / 4);

export interface ModelStatsSnapshot {
  model: string;
  modelVersion: string;
  startMs: number;
  endMs: number;
  inferences: number;
  errors: number;
  nanOutputs: number;
  latencyP50Us: number;
  latencyP99Us: number;
  alerts: number;
  shadowVersion: string;
  shadowCompared: number;
  shadowDisagreements: number;
}

export class ModelStatsAccumulator {
  private readonly hist = new Uint32Array(BUCKETS);
  private inferences = 0;
  private errors = 0;
  private nanOutputs = 0;
  private alerts = 0;
  private shadowVersion = '';
  private shadowCompared = 0;
  private shadowDisagreements = 0;

  constructor(
    readonly model: string,
    readonly version: string,
    private startMs: number,
  ) {}

  record(latencyUs: number, score: number, alert: boolean): void {
    this.inferences++;
    this.hist[bucketOf(latencyUs)]!++;
    if (!Number.isFinite(score)) this.nanOutputs++;
    if (alert) this.alerts++;
  }

  recordError(): void {
    this.errors++;
  }

  recordShadow(version: string, disagreed: boolean): void {
    this.shadowVersion = version;
    this.shadowCompared++;
    if (disagreed) this.shadowDisagreements++;
  }

  /** Returns the interval's figures and starts a new interval. */
  take(endMs: number): ModelStatsSnapshot {
    const snap: ModelStatsSnapshot = {
      model: this.model,
      modelVersion: this.version,
      startMs: this.startMs,
      endMs,
      inferences: this.inferences,
      errors: this.errors,
      nanOutputs: this.nanOutputs,
      latencyP50Us: this.percentile(0.5),
      latencyP99Us: this.percentile(0.99),
      alerts: this.alerts,
      shadowVersion: this.shadowVersion,
      shadowCompared: this.shadowCompared,
      shadowDisagreements: this.shadowDisagreements,
    };
    this.hist.fill(0);
    this.inferences = this.errors = this.nanOutputs = this.alerts = this.shadowCompared = this.shadowDisagreements = 0;
    this.startMs = endMs;
    return snap;
  }

  private percentile(p: number): number {
    const total = this.hist.reduce((a, b) => a + b, 0);
    if (total === 0) return 0;
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.hist[b]!;
      if (seen >= p * total) return Math.round(bucketUpper(b));
    }
    return Math.round(bucketUpper(BUCKETS - 1));
  }
}
