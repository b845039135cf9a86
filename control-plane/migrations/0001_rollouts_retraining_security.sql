CREATE TABLE "agent_credentials" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"user_public_key" text NOT NULL,
	"issued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "agent_model_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"report_seq" bigint NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"phase" text NOT NULL,
	"version" text DEFAULT '' NOT NULL,
	"previous_version" text DEFAULT '' NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"rollout_id" text,
	"desired_generation" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alert_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"webhook_url" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "config_layers" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"selector" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"config" jsonb NOT NULL,
	"created_by" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dataset_objects" (
	"key" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"version" text NOT NULL,
	"site_id" text NOT NULL,
	"day" text NOT NULL,
	"rows" integer NOT NULL,
	"sha256" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"labelled" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dataset_snapshots" (
	"id" text PRIMARY KEY NOT NULL,
	"filter" jsonb NOT NULL,
	"manifest_key" text NOT NULL,
	"total_rows" bigint NOT NULL,
	"label_summary" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "desired_states" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"site_id" text NOT NULL,
	"generation" bigint NOT NULL,
	"state" jsonb NOT NULL,
	"rollout_id" text,
	"kv_revision" bigint,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_histograms" (
	"model" text NOT NULL,
	"version" text NOT NULL,
	"site_id" text NOT NULL,
	"feature" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"counts" jsonb NOT NULL,
	CONSTRAINT "feature_histograms_model_version_site_id_feature_hour_pk" PRIMARY KEY("model","version","site_id","feature","hour")
);
--> statement-breakpoint
CREATE TABLE "fleet_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_by" text DEFAULT '' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"rule_id" text NOT NULL,
	"subject" text NOT NULL,
	"first_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "operator_labels" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"prediction_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"kind" text NOT NULL,
	"note" text DEFAULT '' NOT NULL,
	"operator" text DEFAULT '' NOT NULL,
	"source" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "retraining_policies" (
	"model" text PRIMARY KEY NOT NULL,
	"policy" jsonb NOT NULL,
	"updated_by" text DEFAULT '' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "retraining_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"base_version" text NOT NULL,
	"snapshot_id" text NOT NULL,
	"trigger" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"status" text NOT NULL,
	"claimed_by" text DEFAULT '' NOT NULL,
	"claim_expires_at" timestamp with time zone,
	"progress" double precision DEFAULT 0 NOT NULL,
	"progress_note" text DEFAULT '' NOT NULL,
	"result_version" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rollout_decisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"rollout_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"stage" integer DEFAULT 0 NOT NULL,
	"gates" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"actor" text DEFAULT '' NOT NULL,
	"reason" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rollout_members" (
	"rollout_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"stage" integer NOT NULL,
	"role" text DEFAULT 'target' NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rollout_members_rollout_id_agent_id_pk" PRIMARY KEY("rollout_id","agent_id")
);
--> statement-breakpoint
CREATE TABLE "rollouts" (
	"id" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"version" text NOT NULL,
	"spec" jsonb NOT NULL,
	"status" text NOT NULL,
	"status_reason" text DEFAULT '' NOT NULL,
	"current_stage" integer DEFAULT 0 NOT NULL,
	"stage_started_at" timestamp with time zone,
	"previous_version" text DEFAULT '' NOT NULL,
	"target_size" integer DEFAULT 0 NOT NULL,
	"created_by" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "signing_keys" ADD COLUMN "revoked_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "agent_model_events_seq_idx" ON "agent_model_events" USING btree ("agent_id","report_seq");--> statement-breakpoint
CREATE INDEX "agent_model_events_at_idx" ON "agent_model_events" USING btree ("agent_id","at");--> statement-breakpoint
CREATE INDEX "config_layers_scope_idx" ON "config_layers" USING btree ("scope");--> statement-breakpoint
CREATE INDEX "dataset_objects_partition_idx" ON "dataset_objects" USING btree ("model","version","site_id","day");--> statement-breakpoint
CREATE INDEX "notification_events_open_idx" ON "notification_events" USING btree ("rule_id","subject","resolved_at");--> statement-breakpoint
CREATE INDEX "operator_labels_prediction_idx" ON "operator_labels" USING btree ("prediction_id");--> statement-breakpoint
CREATE INDEX "retraining_requests_status_idx" ON "retraining_requests" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "rollout_decisions_rollout_idx" ON "rollout_decisions" USING btree ("rollout_id","at");--> statement-breakpoint
CREATE INDEX "rollout_members_agent_idx" ON "rollout_members" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "rollouts_model_status_idx" ON "rollouts" USING btree ("model","status");--> statement-breakpoint
CREATE INDEX "agent_history_at_idx" ON "agent_history" USING btree ("at");