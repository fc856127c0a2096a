-- Cluster mode: which node is alive, and which node owns each live meeting.
-- Liveness is judged by the database's clock (now()), never by a node's.
CREATE TABLE nodes (
    node_id      TEXT PRIMARY KEY,
    heartbeat_at TIMESTAMPTZ NOT NULL
);

-- One row per meeting that has ever been owned; rows are never deleted, so that `epoch` only ever
-- grows. `epoch` is the fencing token: it grows by one at every claim by a new owner and at every
-- release, and every write an owner makes for the meeting is conditional on it. `node_id` is
-- NULL while nobody owns the meeting.
CREATE TABLE meeting_owners (
    meeting_id TEXT PRIMARY KEY,
    node_id    TEXT REFERENCES nodes (node_id),
    epoch      BIGINT NOT NULL CHECK (epoch > 0),
    changed_at TIMESTAMPTZ NOT NULL
);
