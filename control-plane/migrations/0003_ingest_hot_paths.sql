DROP INDEX "agents_heartbeat_idx";--> statement-breakpoint
DROP INDEX "records_kind_ts_idx";--> statement-breakpoint
CREATE INDEX "records_rare_kind_ts_idx" ON "records" USING btree ("kind","ts") WHERE "records"."kind" <> 'prediction';--> statement-breakpoint
-- Room on each page for HOT updates: a heartbeat then rewrites no index (hand-added: drizzle has no table storage parameters; existing rows move to roomy pages as they are updated or on VACUUM FULL).
ALTER TABLE "agents" SET (fillfactor = 70);
