-- Cluster mode's webhook outbox: one row per delivery. Any node may deliver; a node claims a row
-- for a while (`claimed_by`, `claim_until`, by the database's clock) before it sends it, so two
-- live nodes never send one event at once, and a row whose node died mid-delivery is claimed
-- again, and re-sent with the same uuid, once its claim runs out.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    uuid            TEXT NOT NULL UNIQUE,
    webhook_id      TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_by      TEXT,
    claim_until     TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Each webhook's oldest pending row is the only one that may be sent (one at a time, in order).
CREATE INDEX outbox_pending ON outbox (webhook_id, id) WHERE status = 'pending';
