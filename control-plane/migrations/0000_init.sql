CREATE TABLE "agent_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"health" text NOT NULL,
	"running_model_version" text DEFAULT '' NOT NULL,
	"unsent_records" bigint DEFAULT 0 NOT NULL,
	"event" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agents" (
	"id" text PRIMARY KEY NOT NULL,
	"site_id" text NOT NULL,
	"line_id" text DEFAULT '' NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"agent_version" text DEFAULT '' NOT NULL,
	"running_model_version" text DEFAULT '' NOT NULL,
	"desired_model_version" text DEFAULT '' NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"heartbeat_seq" bigint DEFAULT 0 NOT NULL,
	"boot_id" text DEFAULT '' NOT NULL,
	"started_at" timestamp with time zone,
	"buffer" jsonb,
	"resources" jsonb,
	"model_state" jsonb,
	"enrolled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"decommissioned_at" timestamp with time zone,
	"pinned" boolean DEFAULT false NOT NULL,
	"nkey_public" text,
	"last_health" text DEFAULT 'online' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alias_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"alias" text NOT NULL,
	"from_version" text DEFAULT '' NOT NULL,
	"to_version" text NOT NULL,
	"actor" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_by" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"actor_role" text DEFAULT '' NOT NULL,
	"action" text NOT NULL,
	"target" text DEFAULT '' NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"source" text DEFAULT '' NOT NULL,
	"reason" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bootstrap_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"site_id" text NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"max_uses" integer DEFAULT 1 NOT NULL,
	"uses" integer DEFAULT 0 NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_by" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bootstrap_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"subject" text NOT NULL,
	"code" text NOT NULL,
	"reason" text NOT NULL,
	"agent_id" text,
	"payload_size" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "model_aliases" (
	"model" text NOT NULL,
	"alias" text NOT NULL,
	"version" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_aliases_model_alias_pk" PRIMARY KEY("model","alias")
);
--> statement-breakpoint
CREATE TABLE "model_versions" (
	"model" text NOT NULL,
	"version" text NOT NULL,
	"sequence" bigint NOT NULL,
	"manifest" jsonb NOT NULL,
	"sha256" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"signature" jsonb NOT NULL,
	"artifact_key" text NOT NULL,
	"created_by" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_versions_model_version_pk" PRIMARY KEY("model","version")
);
--> statement-breakpoint
CREATE TABLE "models" (
	"name" text PRIMARY KEY NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"latest_sequence" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "record_streams" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"buffer_id" text NOT NULL,
	"committed_seq" bigint DEFAULT 0 NOT NULL,
	"pending_ranges" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "records" (
	"stream_id" bigint NOT NULL,
	"seq" bigint NOT NULL,
	"agent_id" text NOT NULL,
	"site_id" text NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"class" smallint NOT NULL,
	"kind" text NOT NULL,
	"model_version" text,
	"score" double precision,
	"decision" smallint,
	"body" jsonb NOT NULL,
	CONSTRAINT "records_stream_id_seq_pk" PRIMARY KEY("stream_id","seq")
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"key_id" text PRIMARY KEY NOT NULL,
	"public_key" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sites" (
	"id" text PRIMARY KEY NOT NULL,
	"display_name" text DEFAULT '' NOT NULL,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"lines" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"maintenance_windows" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_site_id_sites_id_fk" FOREIGN KEY ("site_id") REFERENCES "public"."sites"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bootstrap_tokens" ADD CONSTRAINT "bootstrap_tokens_site_id_sites_id_fk" FOREIGN KEY ("site_id") REFERENCES "public"."sites"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_aliases" ADD CONSTRAINT "model_aliases_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_model_models_name_fk" FOREIGN KEY ("model") REFERENCES "public"."models"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_history_agent_at_idx" ON "agent_history" USING btree ("agent_id","at");--> statement-breakpoint
CREATE INDEX "agents_site_idx" ON "agents" USING btree ("site_id","id");--> statement-breakpoint
CREATE INDEX "agents_labels_gin" ON "agents" USING gin ("labels");--> statement-breakpoint
CREATE INDEX "agents_heartbeat_idx" ON "agents" USING btree ("last_heartbeat_at");--> statement-breakpoint
CREATE INDEX "alias_history_model_idx" ON "alias_history" USING btree ("model","alias","at");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("actor","at");--> statement-breakpoint
CREATE INDEX "dead_letters_at_idx" ON "dead_letters" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "model_versions_seq_idx" ON "model_versions" USING btree ("model","sequence");--> statement-breakpoint
CREATE UNIQUE INDEX "record_streams_agent_buffer_idx" ON "record_streams" USING btree ("agent_id","buffer_id");--> statement-breakpoint
CREATE INDEX "records_agent_ts_idx" ON "records" USING btree ("agent_id","ts");--> statement-breakpoint
CREATE INDEX "records_kind_ts_idx" ON "records" USING btree ("kind","ts");