/**
 * GetAgent callers on their own thread: the heartbeat publisher of the load generator runs in
 * bursts, and on the same event loop its bursts showed up as seconds of "API latency" that the
 * control plane never saw. Here only the callers share the loop.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { call, insecure } from '@millwright/control-plane/cli/client.js';
import { FleetServiceClient } from '@millwright/proto';

interface PollerInit {
  grpcAddr: string;
  token: string;
  /** Agent ids polled round-robin, split over the callers. */
  ids: string[];
  callers: number;
}

type ToPoller = { t: 'published'; id: string; atMs: number } | { t: 'stop' };
type FromPoller = { t: 'done'; apiMs: number[]; lagsMs: number[] } | { t: 'failed'; message: string };

/** The main thread's handle: start, tell it when a polled agent's heartbeat was published, stop. */
export class ApiPoller {
  private readonly result: Promise<{ apiMs: number[]; lagsMs: number[] }>;

  constructor(init: PollerInit) {
    const worker = new Worker(new URL(import.meta.url), { workerData: init });
    this.worker = worker;
    this.result = new Promise((resolve, reject) => {
      worker.on('message', (m: FromPoller) =>
        m.t === 'done' ? resolve({ apiMs: m.apiMs, lagsMs: m.lagsMs }) : reject(new Error(m.message)),
      );
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`GetAgent poller exited with code ${code}`)));
    });
  }

  private readonly worker: Worker;

  published(id: string, atMs: number): void {
    this.worker.postMessage({ t: 'published', id, atMs } satisfies ToPoller);
  }

  /** GetAgent latencies, and for published heartbeats the time until GetAgent first showed them. */
  async stop(): Promise<{ apiMs: number[]; lagsMs: number[] }> {
    this.worker.postMessage({ t: 'stop' } satisfies ToPoller);
    const r = await this.result;
    await this.worker.terminate();
    return r;
  }
}

async function poll(port: NonNullable<typeof parentPort>, init: PollerInit): Promise<void> {
  const client = new FleetServiceClient(init.grpcAddr, insecure());
  const published = new Map<string, number>();
  const lastSeen = new Map<string, number>();
  const apiMs: number[] = [];
  const lagsMs: number[] = [];
  let stop = false;
  port.on('message', (m: ToPoller) => {
    if (m.t === 'stop') stop = true;
    else if (!published.has(m.id)) published.set(m.id, m.atMs);
  });
  const caller = async (w: number) => {
    for (let k = w; !stop; k += init.callers) {
      const id = init.ids[k % init.ids.length]!;
      const t0 = performance.now();
      const a = await call(client, client.getAgent, { id }, { timeoutMs: 10_000, token: init.token });
      apiMs.push(performance.now() - t0);
      if (a.lastHeartbeatMs > (lastSeen.get(id) ?? 0)) {
        lastSeen.set(id, a.lastHeartbeatMs);
        const pub = published.get(id);
        if (pub !== undefined) {
          lagsMs.push(Date.now() - pub);
          published.delete(id);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: init.callers }, (_, w) => caller(w)));
    port.postMessage({ t: 'done', apiMs, lagsMs } satisfies FromPoller);
  } catch (err) {
    port.postMessage({ t: 'failed', message: (err as Error).message } satisfies FromPoller);
  } finally {
    client.close();
  }
}

if (!isMainThread && parentPort) void poll(parentPort, workerData as PollerInit);
