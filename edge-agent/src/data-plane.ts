import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MqttAlertSink } from './adapters/actions/mqtt.js';
import { WebhookAlertSink } from './adapters/actions/webhook.js';
import { startAgentApi } from './adapters/http/api.js';
import {
  alertRecord,
  cleaningRecord,
  dropRecord,
  featuresRecord,
  histogramsRecord,
  labelRecord,
  modelStatsRecord,
  predictionRecord,
  RecordClass,
  sampleRecord,
} from './adapters/proto/records.js';
import { AlertManager } from './alerts/alert-manager.js';
import { DurableBuffer } from './buffer/durable-buffer.js';
import type { RecordClassName } from './buffer/record-class.js';
import type { AppendEntry, ClassCounts } from './buffer/types.js';
import { CaptureStage } from './capture/stage.js';
import type { AgentConfig } from './config.js';
import type { HotConfig } from './config-overlay/overlay.js';
import type { ChannelSpec, SampleBlock, Source } from './domain/channel.js';
import { MillwrightError } from './domain/errors.js';
import type { AlertEvent, PredictionEvent } from './domain/prediction.js';
import { createSources, startSources, stopSources, systemClock } from './ingest/index.js';
import { EdgePipeline, type ModelProvider } from './pipeline/edge-pipeline.js';
import { registerSyncLagMetrics } from './sync/metrics.js';
import type { BatchPublisher, WatermarkFeed } from './sync/ports.js';
import { RecordSync } from './sync/record-sync.js';

const CLASS_NAME: Record<number, RecordClassName> = {
  [RecordClass.RECORD_CLASS_PREDICTION]: 'PREDICTION',
  [RecordClass.RECORD_CLASS_ANOMALOUS]: 'ANOMALOUS',
  [RecordClass.RECORD_CLASS_TELEMETRY]: 'TELEMETRY',
  [RecordClass.RECORD_CLASS_CAPTURE]: 'CAPTURE',
};

export interface DataPlaneDeps {
  config: Readonly<AgentConfig>;
  log: Logger;
  metrics: Registry;
  models: ModelProvider;
  /** Built once the buffer id is known (the NATS side lives in main). */
  makeUplink: (bufferId: string) => { publisher: BatchPublisher; watermarks: WatermarkFeed };
  bootId: string;
}

/**
 * The agent's data path: sources -> cleaning -> features -> inference -> local alerts, and
 * everything bound for the cloud through the durable buffer and sync. Runs fully offline.
 */
export class DataPlane {
  readonly buffer: DurableBuffer;
  readonly sync: RecordSync;
  readonly pipeline: EdgePipeline;
  readonly capture: CaptureStage;
  private readonly recent: PredictionEvent[] = [];
  private readonly known = new Set<string>();
  private pending: AppendEntry[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private lastReportMs = Date.now();
  /** Blocks a stage threw on since the last report. */
  private blockFailures = 0;
  /** Records an encoder refused since the last report. */
  private encodeFailures = 0;
  private api: { port: number; stop(): Promise<void> } | undefined;
  private readonly sinks: { send(e: AlertEvent): void; close?(): Promise<void>; flush?(): Promise<void> }[] = [];
  private readonly alerts: AlertManager;
  private readonly m;

  private constructor(
    private readonly deps: DataPlaneDeps,
    buffer: DurableBuffer,
    readonly bufferId: string,
    private readonly sources: Source[],
  ) {
    const { config } = deps;
    const log = deps.log.child({ component: 'pipeline' });
    this.buffer = buffer;
    this.m = makeMetrics(deps.metrics);
    const startedMs = Date.now();
    registerSyncLagMetrics(
      deps.metrics,
      () => ({ sync: this.sync.stats, ...this.buffer.stats(), startedMs }),
      Date.now,
    );
    const channels = sources.flatMap((s) => s.channels);
    this.capture = new CaptureStage({
      config: config.capture,
      channels,
      now: Date.now,
      random: Math.random,
      emitSample: (w) => {
        const now = Date.now();
        this.enqueue(RecordClass.RECORD_CLASS_CAPTURE, now, 'sample', () => sampleRecord(w, now));
      },
      emitHistograms: (h) =>
        this.enqueue(RecordClass.RECORD_CLASS_REPORT, h.endMs, 'histograms', () => histogramsRecord(h)),
      metrics: deps.metrics,
      log: log.child({ component: 'capture' }),
    });
    this.pipeline = new EdgePipeline({
      agentId: config.agentId,
      bootId: deps.bootId,
      channels,
      cleaning: (c) => config.cleaning.channels[c.name] ?? config.cleaning.defaults,
      features: (c: ChannelSpec) =>
        config.features.channels[c.name] ??
        (c.kind === 'vibration' ? config.features.vibration : config.features.process),
      drift: config.cleaning.drift,
      models: deps.models,
      now: Date.now,
      onPrediction: (p, f) => this.onPrediction(p, f),
      onModelError: (err, version) => {
        this.m.modelErrors.inc();
        log.warn({ err, version }, 'pipeline.model_error');
      },
    });
    this.alerts = new AlertManager({
      agentId: config.agentId,
      policy: { holdOffMs: config.alerts.holdOffS * 1000, resolveAfterNormal: config.alerts.resolveAfterNormal },
      now: Date.now,
      emit: (e) => this.onAlert(e),
    });
    const uplink = deps.makeUplink(bufferId);
    this.sync = new RecordSync({
      buffer,
      ...uplink,
      bufferId,
      log: log.child({ component: 'sync' }),
      now: Date.now,
      options: {
        batchRecords: config.sync.batchRecords,
        batchBytes: config.sync.batchBytes,
        maxInFlight: config.sync.maxInFlight,
        bandwidthBytesPerS: config.sync.bandwidthBytesPerS,
        resendAfterMs: config.sync.resendAfterS * 1000,
      },
    });
  }

  static async open(deps: DataPlaneDeps): Promise<DataPlane> {
    const { config, log } = deps;
    const dir = join(config.dataDir, 'buffer');
    await mkdir(dir, { recursive: true });
    const bufferId = await loadOrCreateBufferId(dir);
    const buffer = await DurableBuffer.open({
      dir,
      capacityBytes: config.buffer.capacityBytes,
      segmentBytes: config.buffer.segmentBytes,
      ttlMs: Object.fromEntries(Object.entries(config.buffer.ttlS).map(([k, v]) => [k, v * 1000])),
    });
    const report = buffer.openReport;
    const level = report.corruptions.length > 0 ? 'error' : 'info';
    log[level]({ ...report, bufferId }, 'buffer.opened');
    const sources = await createSources(config.sources, {
      clock: systemClock,
      onBadLine: (msg) => log.warn({ msg }, 'ingest.bad_line'),
    });
    return new DataPlane(deps, buffer, bufferId, sources);
  }

  async start(): Promise<void> {
    const { config, log } = this.deps;
    if (config.alerts.webhookUrl) {
      this.sinks.push(
        new WebhookAlertSink({
          url: config.alerts.webhookUrl,
          agentId: config.agentId,
          siteId: config.siteId,
          timeoutMs: 5000,
          retries: 3,
          onError: (err) => log.warn({ err }, 'alerts.webhook_failed'),
        }),
      );
    }
    if (config.alerts.mqttUrl) {
      this.sinks.push(
        new MqttAlertSink({
          url: config.alerts.mqttUrl,
          topicPrefix: config.alerts.mqttTopicPrefix,
          agentId: config.agentId,
          onError: (err) => log.warn({ err }, 'alerts.mqtt_failed'),
        }),
      );
    }
    this.flushTimer = setInterval(() => this.flush(), 50);
    this.reportTimer = setInterval(() => this.report(), config.reports.intervalS * 1000);
    await this.sync.start();
    const capture = this.capture.accept;
    const pipeline = this.pipeline.accept;
    await startSources(this.sources, (b) => {
      this.guarded(capture, b);
      this.guarded(pipeline, b);
    });
    this.api = await startAgentApi({
      host: config.http.host,
      port: config.http.port,
      registry: this.deps.metrics,
      ready: () => true,
      status: () => this.status(),
      recentPredictions: (n) => this.recent.slice(-n).reverse(),
      submitLabel: (l) => this.submitLabel(l),
    });
    log.info(
      { sources: this.sources.map((s) => s.id), httpPort: this.api.port, bufferId: this.bufferId },
      'data_plane.started',
    );
  }

  /** Stops intake first, then writes what was accepted, then stops sync. */
  async stop(): Promise<void> {
    await stopSources(this.sources);
    clearInterval(this.flushTimer);
    clearInterval(this.reportTimer);
    this.report(true);
    await this.flush();
    // Appending the last reports to a full buffer can evict again: report that too (bounded, as
    // each round only evicts to make room for the previous round's small report).
    for (let i = 0; i < 3 && this.enqueueDrops(this.lastReportMs, Date.now()); i++) await this.flush();
    await this.api?.stop();
    await this.sync.stop();
    for (const s of this.sinks) await s.flush?.();
    for (const s of this.sinks) await s.close?.();
    await this.buffer.close();
  }

  /**
   * Hot config from the desired state (alert policy, cleaning parameters, capture policy): checked
   * against this agent's channels now, throwing an Error that names what does not fit; the returned
   * function applies it. It runs outside any source callback, so it lands between two blocks. It
   * runs no downstream stage: points a cleaning swap releases leave with the channel's next block,
   * under `guarded` like any block.
   */
  prepareConfig(next: HotConfig): () => void {
    const { cleaning } = next;
    let swapCleaning: () => void;
    try {
      swapCleaning = this.pipeline.prepareCleaning(
        (c) => cleaning.channels[c.name] ?? cleaning.defaults,
        cleaning.drift,
      );
    } catch (err) {
      throw new Error(describeCleaningError(err), { cause: err });
    }
    const swapCapture = this.capture.prepare(next.capture, next.capturePolicy);
    const policy = { holdOffMs: next.alerts.holdOffS * 1000, resolveAfterNormal: next.alerts.resolveAfterNormal };
    return () => {
      swapCleaning();
      swapCapture();
      this.alerts.setPolicy(policy);
    };
  }

  get httpPort(): number | undefined {
    return this.api?.port;
  }

  status(): Record<string, unknown> {
    const b = this.buffer.stats();
    const active = this.deps.models.active();
    return {
      agentId: this.deps.config.agentId,
      siteId: this.deps.config.siteId,
      model: active ? { model: active.manifest.model, version: active.manifest.version } : null,
      openAlerts: this.alerts.openAlerts(),
      buffer: {
        headSeq: b.headSeq,
        sendCursor: b.sendCursor,
        commitCursor: b.commitCursor,
        unsent: b.unsent,
        uncommitted: b.uncommitted,
        bytesOnDisk: b.bytesOnDisk,
        capacityBytes: b.capacityBytes,
      },
      sync: this.sync.stats,
    };
  }

  /**
   * Runs one stage on a block. A stage that throws is a bug; sources would swallow the throw (one bad
   * consumer must not kill a source), so it is counted and logged here instead: the first failure
   * at once with its error, then a count per report interval.
   */
  private guarded(stage: (b: SampleBlock) => void, b: SampleBlock): void {
    try {
      stage(b);
    } catch (err) {
      this.m.blockFailures.inc();
      if (this.blockFailures++ === 0) this.deps.log.error({ err, channel: b.channel }, 'pipeline.block_failed');
    }
  }

  private onPrediction(p: PredictionEvent, f: { names: readonly string[]; values: Float64Array }): void {
    this.recent.push(p);
    if (this.recent.length > 500) this.recent.splice(0, this.recent.length - 500);
    this.known.add(p.predictionId);
    if (this.known.size > 50_000) this.known.delete(this.known.values().next().value!);
    this.m.predictions.inc({ decision: p.decision });
    this.m.latency.observe(p.latencyUs / 1e6);
    this.alerts.observe(p);
    this.capture.onPrediction(p, this.deps.models.active()!.manifest, f.values);
    const anomalous =
      p.decision === 'alert' ||
      (p.score >= this.deps.models.active()!.manifest.output.uncertainLow && p.decision !== 'unknown');
    const cls = anomalous ? RecordClass.RECORD_CLASS_ANOMALOUS : RecordClass.RECORD_CLASS_PREDICTION;
    this.enqueue(cls, p.windowEndMs, 'prediction', () => predictionRecord(p, cls));
    if (this.deps.config.upload.features || anomalous) {
      this.enqueue(RecordClass.RECORD_CLASS_TELEMETRY, p.windowEndMs, 'features', () =>
        featuresRecord(p.asset, f.names, f.values, p.windowStartMs, p.windowEndMs),
      );
    }
  }

  private onAlert(e: AlertEvent): void {
    this.m.alerts.inc({ state: e.state });
    this.deps.log.info({ alertId: e.alertId, asset: e.asset, state: e.state, message: e.message }, 'alert');
    for (const s of this.sinks) s.send(e);
    this.enqueue(RecordClass.RECORD_CLASS_ALERT, e.atMs, 'alert', () => alertRecord(e));
  }

  private async submitLabel(l: Parameters<typeof labelRecord>[0]): Promise<{ seq: number }> {
    if (!this.known.has(l.predictionId)) throw new Error(`unknown prediction ${l.predictionId}`);
    const seq = await this.buffer.append([{ cls: 'LABEL', tsMs: Date.now(), body: labelRecord(l, Date.now()) }]);
    // After the label is durable, so its record precedes the context windows it keeps.
    this.capture.onLabel(l.predictionId, Date.now());
    this.sync.notify();
    return { seq };
  }

  /**
   * Encodes a record for the next flush. An encoder refuses a record it cannot put on the wire (a
   * time that is not finite, or beyond 2^53 ms): that record is dropped, counted and logged like a
   * failed block (the first at once with its error, then a count per report), never the rest of the block.
   */
  private enqueue(cls: RecordClass, tsMs: number, body: string, encode: () => Uint8Array): void {
    let bytes: Uint8Array;
    try {
      bytes = encode();
    } catch (err) {
      this.m.encodeFailures.inc({ body });
      if (this.encodeFailures++ === 0) this.deps.log.error({ err, body }, 'record.encode_failed');
      return;
    }
    const name =
      CLASS_NAME[cls] ??
      (cls === RecordClass.RECORD_CLASS_ALERT ? 'ALERT' : cls === RecordClass.RECORD_CLASS_LABEL ? 'LABEL' : 'REPORT');
    this.pending.push({ cls: name, tsMs, body: bytes });
  }

  /** Appends what the pipeline produced since the last flush; the buffer group-commits it. */
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      await this.buffer.append(batch);
      this.m.buffered.inc(batch.length);
      this.sync.notify();
    } catch (err) {
      this.m.appendFailures.inc(batch.length);
      this.deps.log.warn({ err, records: batch.length }, 'buffer.append_failed');
    }
    const s = this.buffer.stats();
    this.m.bufferBytes.set(s.bytesOnDisk);
    this.m.unsent.set(s.unsent);
  }

  private report(final = false): void {
    const now = Date.now();
    if (this.blockFailures > 0) {
      this.deps.log.error({ blocks: this.blockFailures }, 'pipeline.blocks_failed');
      this.blockFailures = 0;
    }
    if (this.encodeFailures > 0) {
      this.deps.log.error({ records: this.encodeFailures }, 'records.encode_failed');
      this.encodeFailures = 0;
    }
    this.capture.report(now, final);
    const start = this.lastReportMs;
    this.lastReportMs = now;
    const quality = this.pipeline.takeQuality();
    if (quality.length > 0)
      this.enqueue(RecordClass.RECORD_CLASS_REPORT, now, 'cleaning', () => cleaningRecord(quality, start, now));
    for (const s of this.pipeline.takeModelStats())
      this.enqueue(RecordClass.RECORD_CLASS_REPORT, now, 'model_stats', () => modelStatsRecord(s));
    this.enqueueDrops(start, now);
  }

  /** Queues a drop report of what the buffer dropped since the last one; false when nothing was. */
  private enqueueDrops(start: number, now: number): boolean {
    const drops = this.buffer.takeDropReport();
    let any = false;
    for (const [cause, counts] of [
      ['ttl', drops.ttl],
      ['disk_full', drops.evicted],
      ['rejected', drops.rejected],
    ] as [string, ClassCounts][]) {
      if (Object.values(counts).some((c) => c.records > 0)) {
        any = true;
        for (const [cls, c] of Object.entries(counts)) this.m.drops.inc({ class: cls, cause }, c.records);
        this.enqueue(RecordClass.RECORD_CLASS_REPORT, now, 'drops', () => dropRecord(counts, cause, start, now));
      }
    }
    return any;
  }
}

/** The cleaning classes name the channel (and drift sibling) in their error details. */
function describeCleaningError(err: unknown): string {
  const d = err instanceof MillwrightError ? err.details : {};
  const channel = typeof d.channel === 'string' ? ` of channel ${d.channel}` : '';
  const sibling = typeof d.sibling === 'string' ? ` (sibling ${d.sibling})` : '';
  return `cleaning${channel}: ${(err as Error).message}${sibling}`;
}

async function loadOrCreateBufferId(dir: string): Promise<string> {
  const file = join(dir, 'BUFFER_ID');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const id = randomBytes(8).toString('hex');
    await writeFile(`${file}.tmp`, id);
    await rename(`${file}.tmp`, file);
    return id;
  }
}

function makeMetrics(registers: Registry) {
  const r = [registers];
  return {
    predictions: new Counter({
      name: 'mw_agent_predictions_total',
      help: 'Scored windows by decision',
      labelNames: ['decision'],
      registers: r,
    }),
    latency: new Histogram({
      name: 'mw_agent_inference_seconds',
      help: 'Inference latency',
      buckets: [5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2],
      registers: r,
    }),
    alerts: new Counter({
      name: 'mw_agent_alerts_total',
      help: 'Alert episode transitions',
      labelNames: ['state'],
      registers: r,
    }),
    blockFailures: new Counter({
      name: 'mw_agent_pipeline_block_failures_total',
      help: 'Sample blocks a pipeline stage threw on (a bug: the block is lost to that stage)',
      registers: r,
    }),
    encodeFailures: new Counter({
      name: 'mw_agent_record_encode_failures_total',
      help: 'Records dropped because an encoder refused a time in them (not finite, or beyond 2^53 ms), by record body',
      labelNames: ['body'],
      registers: r,
    }),
    modelErrors: new Counter({
      name: 'mw_agent_model_errors_total',
      help: 'Model load or scoring errors',
      registers: r,
    }),
    buffered: new Counter({
      name: 'mw_agent_buffered_records_total',
      help: 'Records made durable in the buffer',
      registers: r,
    }),
    appendFailures: new Counter({
      name: 'mw_agent_buffer_append_failures_total',
      help: 'Records the buffer refused',
      registers: r,
    }),
    drops: new Counter({
      name: 'mw_agent_buffer_drops_total',
      help: 'Records dropped by the buffer',
      labelNames: ['class', 'cause'],
      registers: r,
    }),
    bufferBytes: new Gauge({ name: 'mw_agent_buffer_bytes', help: 'Buffer bytes on disk', registers: r }),
    unsent: new Gauge({
      name: 'mw_agent_buffer_unsent_records',
      help: 'Records not yet acknowledged by JetStream',
      registers: r,
    }),
  };
}
