/** Alarm persistence: raise on k hot windows of the last n, clear after n quiet ones, then hold off. */
export interface AlarmConfig {
  /** Hot windows needed among the last `n` to raise. */
  k: number;
  n: number;
  /** After an alarm clears, no new alarm is raised for this long (seconds). */
  holdOffS: number;
}

export interface AlarmState {
  history: number[];
  active: boolean;
  raisedAtMs: number | null;
  clearedAtMs: number | null;
}

export class PersistenceAlarm {
  private readonly config: AlarmConfig;
  private readonly history: Uint8Array;
  private pos = 0;
  private hot = 0;
  private isActive = false;
  private raisedAtMs: number | null = null;
  private clearedAtMs: number | null = null;

  constructor(config: AlarmConfig) {
    this.config = config;
    this.history = new Uint8Array(config.n);
  }

  get active(): boolean {
    return this.isActive;
  }

  /** Start time of the current alarm, if one is active. */
  get since(): number | null {
    return this.isActive ? this.raisedAtMs : null;
  }

  /** Feeds one window's verdict at time `tMs`; returns whether the alarm is active after it. */
  update(isHot: boolean, tMs: number): boolean {
    this.hot += (isHot ? 1 : 0) - this.history[this.pos]!;
    this.history[this.pos] = isHot ? 1 : 0;
    this.pos = (this.pos + 1) % this.config.n;
    if (!this.isActive && this.hot >= this.config.k && !this.holdingOff(tMs)) {
      this.isActive = true;
      this.raisedAtMs = tMs;
    } else if (this.isActive && this.hot === 0) {
      this.isActive = false;
      this.clearedAtMs = tMs;
    }
    return this.isActive;
  }

  private holdingOff(tMs: number): boolean {
    return this.clearedAtMs !== null && tMs - this.clearedAtMs < this.config.holdOffS * 1000;
  }

  exportState(): AlarmState {
    const history: number[] = [];
    for (let i = 0; i < this.config.n; i++) history.push(this.history[(this.pos + i) % this.config.n]!);
    return { history, active: this.isActive, raisedAtMs: this.raisedAtMs, clearedAtMs: this.clearedAtMs };
  }

  importState(s: AlarmState): void {
    this.history.fill(0);
    const recent = s.history.slice(-this.config.n);
    recent.forEach((v, i) => {
      this.history[i] = v ? 1 : 0;
    });
    this.pos = recent.length % this.config.n;
    this.hot = recent.filter(Boolean).length;
    this.isActive = s.active;
    this.raisedAtMs = s.raisedAtMs;
    this.clearedAtMs = s.clearedAtMs;
  }
}
