-- Room on each page for HOT updates of agent_liveness (drizzle has no table storage parameters): the table is updated by every heartbeat and has only its primary key, which heartbeats never change.
ALTER TABLE "agent_liveness" SET (fillfactor = 50);--> statement-breakpoint
-- Liveness so far lived in agents' heartbeat columns; heartbeats no longer write them (ADR 0007).
INSERT INTO "agent_liveness" ("agent_id", "last_seen", "heartbeat_seq", "boot_id", "started_at",
  "unsent_records", "uncommitted_records", "bytes_on_disk", "capacity_bytes", "head_seq", "committed_seq",
  "last_sync_ms", "dropped_by_class", "cpu_percent", "rss_bytes", "disk_free_bytes")
SELECT "id", "last_heartbeat_at", "heartbeat_seq", "boot_id", "started_at",
  ("buffer"->>'unsentRecords')::bigint, ("buffer"->>'uncommittedRecords')::bigint, ("buffer"->>'bytesOnDisk')::bigint,
  ("buffer"->>'capacityBytes')::bigint, ("buffer"->>'headSeq')::bigint, ("buffer"->>'committedSeq')::bigint,
  ("buffer"->>'lastSyncMs')::bigint, CASE WHEN "buffer" IS NULL THEN NULL ELSE coalesce("buffer"->'droppedByClass', '{}'::jsonb) END,
  ("resources"->>'cpuPercent')::float8, ("resources"->>'rssBytes')::bigint, ("resources"->>'diskFreeBytes')::bigint
FROM "agents" WHERE "last_heartbeat_at" IS NOT NULL
ON CONFLICT ("agent_id") DO NOTHING;
