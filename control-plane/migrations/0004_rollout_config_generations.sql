ALTER TABLE "agent_model_events" ADD COLUMN "config_generation" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "config_layers" ADD COLUMN "rollout_id" text;