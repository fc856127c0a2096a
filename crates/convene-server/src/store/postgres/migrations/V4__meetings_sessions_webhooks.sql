-- Everything else the SQLite store keeps, with the same columns and encodings (times as RFC 3339
-- text, JSON as text), so that both stores answer alike. `seq` orders rows made within one
-- millisecond.
CREATE TABLE presets (
    seq         BIGSERIAL,
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    config      TEXT NOT NULL,
    permissions TEXT NOT NULL,
    ui          TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (app_id, name)
);

CREATE TABLE meetings (
    seq                  BIGSERIAL,
    id                   TEXT PRIMARY KEY,
    app_id               TEXT NOT NULL,
    title                TEXT,
    status               TEXT NOT NULL,
    keep_alive           BIGINT NOT NULL,
    record_on_start      BOOLEAN NOT NULL,
    persist_chat         BOOLEAN NOT NULL,
    live_stream_on_start BOOLEAN NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX meetings_app ON meetings (app_id, created_at, seq);

CREATE TABLE participants (
    seq                   BIGSERIAL,
    id                    TEXT PRIMARY KEY,
    app_id                TEXT NOT NULL,
    meeting_id            TEXT NOT NULL,
    custom_participant_id TEXT NOT NULL,
    preset_name           TEXT NOT NULL,
    name                  TEXT,
    picture               TEXT,
    deleted               BOOLEAN NOT NULL DEFAULT false,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);
CREATE INDEX participants_meeting ON participants (meeting_id, created_at, seq);
CREATE INDEX participants_custom ON participants (meeting_id, custom_participant_id);

CREATE TABLE sessions (
    seq            BIGSERIAL,
    id             TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL,
    meeting_id     TEXT NOT NULL,
    meeting_title  TEXT,
    status         TEXT NOT NULL CHECK (status IN ('LIVE', 'ENDED')),
    started_at     TEXT NOT NULL,
    ended_at       TEXT,
    end_reason     TEXT,
    ended_by       TEXT,
    max_concurrent BIGINT NOT NULL DEFAULT 0,
    last_seq       BIGINT NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX sessions_app ON sessions (app_id, created_at, seq);
-- At most one live session per meeting, whichever node writes it.
CREATE UNIQUE INDEX one_live_session ON sessions (meeting_id) WHERE status = 'LIVE';

CREATE TABLE session_peers (
    seq                   BIGSERIAL,
    peer_id               TEXT PRIMARY KEY,
    session_id            TEXT NOT NULL,
    participant_id        TEXT NOT NULL,
    custom_participant_id TEXT NOT NULL,
    display_name          TEXT NOT NULL,
    preset_name           TEXT NOT NULL,
    joined_at             TEXT NOT NULL,
    left_at               TEXT,
    outcome               TEXT
);
CREATE INDEX session_peers_session ON session_peers (session_id, joined_at, seq);

CREATE TABLE recordings (
    seq              BIGSERIAL,
    id               TEXT PRIMARY KEY,
    app_id           TEXT NOT NULL,
    meeting_id       TEXT NOT NULL,
    session_id       TEXT,
    status           TEXT NOT NULL,
    invoked_time     TEXT NOT NULL,
    started_time     TEXT,
    stopped_time     TEXT,
    output_file_name TEXT NOT NULL,
    file_size        BIGINT,
    duration         BIGINT,
    start_reason     TEXT NOT NULL,
    stop_reason      TEXT
);
CREATE INDEX recordings_app ON recordings (app_id, invoked_time, seq);

CREATE TABLE webhooks (
    seq        BIGSERIAL,
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX webhooks_app ON webhooks (app_id, created_at, seq);
