CREATE TABLE "dataset_cursors" (
	"stream_id" bigint PRIMARY KEY NOT NULL,
	"sealed_seq" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "dataset_objects" ADD COLUMN "label_counts" jsonb DEFAULT '{}'::jsonb NOT NULL;