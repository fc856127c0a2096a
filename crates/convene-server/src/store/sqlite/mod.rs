//! The SQLite store: one connection behind a mutex, WAL journal, every multi-row change in a
//! transaction, the schema's versions as numbered migrations. The tables' queries are in one
//! module each; [`worker`] implements the async [`Store`](super::Store) trait over them.

mod apps;
mod meetings;
mod outbox;
mod preset_cache;
mod presets;
mod recordings;
mod sessions;
mod webhooks;
mod worker;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension};

use convene_room::StoreWrite;

use super::{new_id, now_rfc3339, Page, RoomWrite, StoreResult};
pub use worker::SqliteStore;

/// The SQLite database: one connection behind a mutex. Its calls block; the async [`Store`](super::Store)
/// implementation ([`SqliteStore`]) runs them on a thread of its own.
pub(crate) struct Sqlite {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, app_id TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS presets (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,
  permissions TEXT NOT NULL, ui TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  UNIQUE (app_id, name));
CREATE TABLE IF NOT EXISTS meetings (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, title TEXT, status TEXT NOT NULL,
  keep_alive INTEGER NOT NULL, record_on_start INTEGER NOT NULL, persist_chat INTEGER NOT NULL,
  live_stream_on_start INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS meetings_app ON meetings (app_id, created_at);
CREATE TABLE IF NOT EXISTS participants (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, meeting_id TEXT NOT NULL, custom_participant_id TEXT NOT NULL,
  preset_name TEXT NOT NULL, name TEXT, picture TEXT, deleted INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS participants_meeting ON participants (meeting_id, created_at);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, meeting_id TEXT NOT NULL, meeting_title TEXT,
  status TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, end_reason TEXT, ended_by TEXT,
  max_concurrent INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_app ON sessions (app_id, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_session ON sessions (meeting_id) WHERE status = 'LIVE';
CREATE TABLE IF NOT EXISTS session_peers (
  peer_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, participant_id TEXT NOT NULL,
  custom_participant_id TEXT NOT NULL, display_name TEXT NOT NULL, preset_name TEXT NOT NULL,
  joined_at TEXT NOT NULL, left_at TEXT, outcome TEXT);
CREATE INDEX IF NOT EXISTS session_peers_session ON session_peers (session_id, joined_at);
CREATE TABLE IF NOT EXISTS recordings (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, meeting_id TEXT NOT NULL, session_id TEXT,
  status TEXT NOT NULL, invoked_time TEXT NOT NULL, started_time TEXT, stopped_time TEXT,
  output_file_name TEXT NOT NULL, file_size INTEGER, duration INTEGER,
  start_reason TEXT NOT NULL, stop_reason TEXT);
CREATE INDEX IF NOT EXISTS recordings_app ON recordings (app_id, invoked_time);
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY, app_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL,
  enabled INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL, webhook_id TEXT NOT NULL, url TEXT NOT NULL,
  body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
  status TEXT NOT NULL, last_error TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_ms);
CREATE INDEX IF NOT EXISTS outbox_webhook ON outbox (webhook_id, status, id);
"#;

/// The schema's versions, in order (kept in SQLite's `user_version`). The first is the schema
/// of the first release, written so that it also applies to a database made before migrations
/// were counted.
fn migrations() -> rusqlite_migration::Migrations<'static> {
    use rusqlite_migration::M;
    rusqlite_migration::Migrations::new(vec![
        M::up(SCHEMA),
        // API tokens belong to an account (NULL: every account, the operator's).
        M::up("ALTER TABLE api_tokens ADD COLUMN account_id TEXT;"),
        // A meeting's media settings of Cloudflare's schema, stored (JSON) and not acted on.
        M::up(
            "ALTER TABLE meetings ADD COLUMN summarize_on_end INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE meetings ADD COLUMN transcribe_on_end INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE meetings ADD COLUMN ai_config TEXT;
             ALTER TABLE meetings ADD COLUMN recording_config TEXT;",
        ),
        // A live stay's pin, so that a restarted room pins it again.
        M::up("ALTER TABLE session_peers ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;"),
    ])
}

impl Sqlite {
    /// Applies one room write; returns the webhook deliveries queued.
    pub(crate) fn apply_room_write(&self, app_id: &str, write: &RoomWrite) -> StoreResult<usize> {
        let write = match write {
            RoomWrite::Webhook(event) => return self.enqueue_webhook_event(app_id, event),
            RoomWrite::Session(write) => write,
        };
        match write {
            StoreWrite::SessionStarted { session_id, meeting_id, title, started_at } => {
                self.start_session(app_id, session_id, meeting_id, title.as_deref(), started_at)?
            }
            StoreWrite::SessionTouched { session_id, last_seq, concurrent } => {
                self.touch_session(session_id, *last_seq, *concurrent)?
            }
            StoreWrite::PeerJoined { session_id, peer_id, participant, at } => {
                self.peer_joined(session_id, peer_id, participant, at)?
            }
            StoreWrite::PeerLeft { peer_id, outcome, at } => self.peer_left(peer_id, *outcome, at)?,
            StoreWrite::SessionEnded { end, last_seq, ended_at, webhook } => {
                return self.end_session(app_id, end, *last_seq, ended_at, webhook)
            }
            StoreWrite::RecordingSaved(rec) => self.save_recording(app_id, rec)?,
            StoreWrite::PeerPinned { peer_id, pinned } => self.peer_pinned(peer_id, *pinned)?,
        }
        Ok(0)
    }

    /// Opens (creating if needed) the database at `path`, or an in-memory one.
    pub(crate) fn open(path: Option<&Path>) -> StoreResult<Self> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut conn = conn;
        migrations().to_latest(&mut conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in one transaction.
    pub(crate) fn tx<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// A query that reads nothing: the database answers.
    pub(crate) fn ping(&self) -> StoreResult<()> {
        Ok(self.lock().query_row("SELECT 1", [], |_| Ok(()))?)
    }

    /// Live sessions and the outbox's backlog.
    pub(crate) fn gauges(&self) -> StoreResult<super::StoreGauges> {
        let conn = self.lock();
        let (live, pending, oldest): (i64, i64, Option<String>) = conn.query_row(
            "SELECT (SELECT count(*) FROM sessions WHERE status = 'LIVE'),
                    (SELECT count(*) FROM outbox WHERE status = 'pending'),
                    (SELECT min(created_at) FROM outbox WHERE status = 'pending')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let age = oldest.as_deref().and_then(super::parse_rfc3339).map(|at| {
            let waited = time::OffsetDateTime::now_utc() - at;
            std::time::Duration::try_from(waited).unwrap_or_default()
        });
        Ok(super::StoreGauges {
            live_sessions: u64::try_from(live).unwrap_or(0),
            outbox_pending: u64::try_from(pending).unwrap_or(0),
            outbox_oldest_age: age,
        })
    }

    /// A value of the key-value table.
    pub(crate) fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        let conn = self.lock();
        Ok(conn.query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// Sets a value of the key-value table.
    pub(crate) fn kv_set(&self, key: &str, value: &str) -> StoreResult<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{parse_rfc3339, rfc3339};

    #[test]
    fn rfc3339_round_trips() {
        let s = now_rfc3339();
        assert!(s.ends_with('Z') && s.len() == 24, "{s}");
        let t = parse_rfc3339(&s).unwrap();
        assert_eq!(rfc3339(t), s);
    }

    #[test]
    fn a_database_of_the_release_before_migrations_is_upgraded_and_keeps_its_data() {
        let dir = std::env::temp_dir().join(format!("convene-migrate-{}", new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("convene.db");
        {
            // As the release before migrations made it: the tables, user_version 0, no
            // account on API tokens.
            let old = Connection::open(&path).unwrap();
            let before_accounts =
                SCHEMA.replace("CREATE INDEX IF NOT EXISTS outbox_webhook ON outbox (webhook_id, status, id);", "");
            old.execute_batch(&before_accounts).unwrap();
            old.execute(
                "INSERT INTO api_tokens (id, hash, scope, app_id, created_at) VALUES ('t1', 'h1', 'admin', NULL, 'x')",
                [],
            )
            .unwrap();
            old.execute(
                "INSERT INTO meetings (id, app_id, title, status, keep_alive, record_on_start, persist_chat,
                   live_stream_on_start, created_at, updated_at) VALUES ('m1', 'a1', 'old', 'ACTIVE', 60, 0, 0, 0, 'x', 'x')",
                [],
            )
            .unwrap();
            let version: i64 = old.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
            assert_eq!(version, 0);
        }
        let store = Sqlite::open(Some(&path)).unwrap();
        let token = store.token_by_hash("h1").unwrap().expect("the token survived");
        assert_eq!((token.scope.as_str(), token.account_id), ("admin", None));
        let meeting = store.get_meeting("a1", "m1").unwrap().expect("the meeting survived");
        assert_eq!((meeting.title.as_deref(), meeting.summarize_on_end, meeting.ai_config), (Some("old"), false, None));
        let version: i64 = store.lock().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, 4);
        drop(store);
        // Opening it again changes nothing.
        let again = Sqlite::open(Some(&path)).unwrap();
        assert_eq!(again.list_tokens().unwrap().len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn schema_applies_twice() {
        let store = Sqlite::open(None).unwrap();
        store.lock().execute_batch(SCHEMA).unwrap();
        store.kv_set("a", "1").unwrap();
        store.kv_set("a", "2").unwrap();
        assert_eq!(store.kv_get("a").unwrap().as_deref(), Some("2"));
    }
}
