CREATE TABLE "agent_liveness" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"heartbeat_seq" bigint NOT NULL,
	"boot_id" text NOT NULL,
	"started_at" timestamp with time zone,
	"unsent_records" bigint,
	"uncommitted_records" bigint,
	"bytes_on_disk" bigint,
	"capacity_bytes" bigint,
	"head_seq" bigint,
	"committed_seq" bigint,
	"last_sync_ms" bigint,
	"dropped_by_class" jsonb,
	"cpu_percent" double precision,
	"rss_bytes" bigint,
	"disk_free_bytes" bigint
);
--> statement-breakpoint
ALTER TABLE "agent_liveness" ADD CONSTRAINT "agent_liveness_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;