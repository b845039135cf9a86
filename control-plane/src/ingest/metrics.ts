import { Counter, Histogram, type Registry } from 'prom-client';
import type { IngestMetrics } from './ports.js';

/** Prometheus metrics of records ingest (dead letters are counted by the dead-letter sink). */
export function promIngestMetrics(registry: Registry): IngestMetrics {
  const registers = [registry];
  const records = new Counter({
    name: 'mw_records_ingested_total',
    help: 'Records committed to Postgres (including duplicates ignored), by kind',
    labelNames: ['kind'],
    registers,
  });
  const batches = new Counter({ name: 'mw_record_batches_total', help: 'Record batches committed', registers });
  const duplicates = new Counter({
    name: 'mw_records_duplicates_total',
    help: 'Records already stored and ignored (redelivery or resend)',
    registers,
  });
  const lag = new Histogram({
    name: 'mw_records_ingest_lag_seconds',
    help: 'Commit time minus the batch sent_at',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers,
  });
  const flush = new Histogram({
    name: 'mw_records_flush_seconds',
    help: 'Time to store one group of batches (sample uploads and the transaction)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  return {
    flushed(s) {
      batches.inc(s.batches);
      duplicates.inc(s.duplicates);
      for (const [kind, n] of s.byKind) records.inc({ kind }, n);
      flush.observe(s.durationMs / 1000);
    },
    lag: (ms) => lag.observe(Math.max(0, ms) / 1000),
  };
}
