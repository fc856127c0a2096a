-- Settings (the participant-token key, the webhook signing key), apps and API tokens: in
-- PostgreSQL, every node accepts the same tokens and signs with the same key. Times are RFC 3339
-- text, as the SQLite store keeps them, so that both answer alike.
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- `seq` orders rows made within one millisecond (`created_at` has millisecond precision).
CREATE TABLE apps (
    seq        BIGSERIAL,
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX apps_account ON apps (account_id, created_at);

CREATE TABLE api_tokens (
    seq        BIGSERIAL,
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    scope      TEXT NOT NULL,
    app_id     TEXT,
    account_id TEXT,
    created_at TEXT NOT NULL
);
