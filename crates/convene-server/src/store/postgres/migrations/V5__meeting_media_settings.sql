-- A meeting's media settings of Cloudflare's schema, stored (JSON) and not acted on.
ALTER TABLE meetings
    ADD COLUMN summarize_on_end  BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN transcribe_on_end BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN ai_config         TEXT,
    ADD COLUMN recording_config  TEXT;
