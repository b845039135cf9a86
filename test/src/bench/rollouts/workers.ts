/** The main thread's handle on one ./sim-worker.ts thread. */
import { Worker } from 'node:worker_threads';
import { type SimCounters, zeroCounters } from './counters.js';
import type { AgentTimes } from './phases.js';
import type { FromWorker, ToWorker, WorkerInit } from './sim-worker.js';

export class SimWorker {
  /** The worker's latest counters of the current window. */
  counters: SimCounters = zeroCounters();
  private window = 0;
  private waiter: { want: FromWorker['t']; resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`simulated-fleet worker exited with code ${code}`)));
  }

  /** Starts a worker and waits until its agents run. */
  static async start(init: WorkerInit): Promise<SimWorker> {
    const w = new SimWorker(new Worker(new URL('./sim-worker.js', import.meta.url), { workerData: init }));
    await w.request('ready');
    return w;
  }

  post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  reset(window: number): void {
    this.window = window;
    this.counters = zeroCounters();
    this.post({ t: 'reset', window });
  }

  /** The worker's final counters and step times of this window. */
  async collect(): Promise<[string, AgentTimes][]> {
    const m = await this.request('collected', { t: 'collect' });
    if (m.t !== 'collected') throw new Error(`unexpected ${m.t}`);
    this.counters = m.counters;
    return m.times;
  }

  async stop(): Promise<void> {
    await this.request('stopped', { t: 'stop' });
    await this.worker.terminate();
  }

  private request(want: FromWorker['t'], msg?: ToWorker): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { want, resolve, reject };
      if (msg) this.post(msg);
    });
  }

  private onMessage(m: FromWorker): void {
    // Counters sent before a reset arrived after it: drop them.
    if (m.t === 'counters') {
      if (m.window === this.window) this.counters = m.counters;
      return;
    }
    if (this.waiter?.want === m.t) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
    }
  }

  private fail(err: Error): void {
    if (this.waiter?.want === 'stopped') return;
    this.failure = err;
    this.waiter?.reject(err);
    this.waiter = undefined;
  }
}
