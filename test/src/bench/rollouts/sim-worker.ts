/**
 * A worker thread running one slice of the `full` fleet (./agent.ts agents), so the simulated
 * agents' own work (1,000 downloads, digests, installs and model loads that a real fleet does on
 * 1,000 machines) is not capped at one thread of the bench process. The main thread (./sim.ts)
 * watches KV and forwards each agent's desired values here; this thread reports counters every
 * 200 ms and its agents' step times when asked.
 */
import { join } from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { desiredFromProto } from '@millwright/edge-agent/adapters/nats/desired.js';
import { createAgentRuntimeRegistry } from '@millwright/edge-agent/runtimes.js';
import { TrustStore } from '@millwright/edge-agent/update/trust.js';
import { AgentStateReport, DesiredState, ModelStatePhase } from '@millwright/proto';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { type FleetShared, Slots, UpdatingAgent } from './agent.js';
import { type SimCounters, zeroCounters } from './counters.js';
import type { SimAgent } from './fleet.js';
import { type AgentTimes, PhaseRecorder } from './phases.js';
import { startProfile } from './self-profile.js';

export interface WorkerInit {
  natsUrl: string;
  /** Pinned signing keys, base64 raw ed25519. */
  trustKeys: string[];
  agents: SimAgent[];
  /** This thread's share of the download cap. */
  downloads: number;
  /** Parent of the agents' data directories. */
  root: string;
  /** When set, this thread's CPU profile (start to stop) is written there. */
  profileDir?: string;
}

export type ToWorker =
  | { t: 'desired'; agentId: string; value: Uint8Array; desiredAt: number }
  | { t: 'reset'; window: number }
  | { t: 'collect' }
  | { t: 'stop' };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'counters'; window: number; counters: SimCounters }
  | { t: 'collected'; window: number; counters: SimCounters; times: [string, AgentTimes][] }
  | { t: 'stopped' };

async function main(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  const stopProfile = init.profileDir ? await startProfile() : undefined;
  let window = 0;
  let counters = zeroCounters();
  const phases = new PhaseRecorder();
  const nc = await connect({ servers: init.natsUrl });
  const shared: FleetShared = {
    nc,
    js: countingJs(jetstream(nc), (r) => {
      counters.reports++;
      const phase = r.state?.phase;
      if (phase === ModelStatePhase.MODEL_STATE_PHASE_FAILED) counters.failures++;
      if (phase !== ModelStatePhase.MODEL_STATE_PHASE_ACTIVE) return;
      counters.activeReports++;
      counters.lastActiveMs = Date.now();
      phases.of(r.agentId).acked ??= Date.now();
    }),
    trust: TrustStore.fromBase64(init.trustKeys),
    registry: createAgentRuntimeRegistry(),
    slots: new Slots(init.downloads),
    root: init.root,
    log: pino({ level: 'warn' }, pino.destination(2)),
    times: (id) => phases.of(id),
    onDownloaded: (bytes, ms) => {
      counters.downloads++;
      counters.downloadedBytes += bytes;
      counters.downloadMs += ms;
    },
    onUrlRefresh: () => counters.urlRefreshes++,
    onReportError: () => counters.publishErrors++,
  };
  const agents = new Map<string, UpdatingAgent>();
  for (const a of init.agents) {
    const agent = new UpdatingAgent(a, shared);
    await agent.start();
    agents.set(a.id, agent);
  }
  const tick = setInterval(() => port.postMessage({ t: 'counters', window, counters } satisfies FromWorker), 200);
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'desired':
        phases.of(m.agentId).desired ??= m.desiredAt;
        agents.get(m.agentId)?.push(desiredFromProto(DesiredState.decode(m.value)));
        return;
      case 'reset':
        window = m.window;
        counters = zeroCounters();
        phases.reset();
        return;
      case 'collect':
        port.postMessage({ t: 'collected', window, counters, times: phases.entries() } satisfies FromWorker);
        return;
      case 'stop':
        clearInterval(tick);
        void Promise.all([...agents.values()].map((a) => a.stop()))
          .then(() => nc.close())
          .then(() => stopProfile?.(join(init.profileDir!, `agents-${threadId}.cpuprofile`)))
          .then(() => port.postMessage({ t: 'stopped' } satisfies FromWorker));
        return;
    }
  });
  port.postMessage({ t: 'ready' } satisfies FromWorker);
}

/** The thread's JetStream client, telling `onAck` of each acked state report (the real reporter awaits each ack). */
function countingJs(js: JetStreamClient, onAck: (r: AgentStateReport) => void): JetStreamClient {
  const publish: JetStreamClient['publish'] = async (subject, data, opts) => {
    const ack = await js.publish(subject, data, opts);
    if (data instanceof Uint8Array) onAck(AgentStateReport.decode(data));
    return ack;
  };
  // The reporter only publishes; everything else goes to the real client.
  return Object.assign(Object.create(js) as JetStreamClient, { publish });
}

if (parentPort) await main(parentPort, workerData as WorkerInit);
