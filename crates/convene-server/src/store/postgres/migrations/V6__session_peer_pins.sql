-- A live stay's pin, so that a room taken over or restarted pins it again.
ALTER TABLE session_peers ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false;
