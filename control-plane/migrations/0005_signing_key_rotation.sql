CREATE TABLE "trust_bundles" (
	"sequence" bigint PRIMARY KEY NOT NULL,
	"payload" text NOT NULL,
	"signatures" jsonb NOT NULL,
	"created_by" text DEFAULT '' NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "signing_keys" ADD COLUMN "revoked_reason" text DEFAULT '' NOT NULL;