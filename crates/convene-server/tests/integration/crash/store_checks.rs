//! The SQLite file as the next start will find it, read directly after a kill: `PRAGMA
//! integrity_check` and the invariants of the schema (rows that hang together), and the few
//! queries the test asserts on (open stays, a session's status, the outbox, the live session).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// The server's SQLite file in `dir`, opened directly.
pub fn db(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join("convene.db")).expect("the database opens");
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

/// The single number a query gives.
fn count(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `PRAGMA integrity_check` and the invariants of the schema in `store/mod.rs`.
pub fn check_database(dir: &Path, when: &str) {
    let c = db(dir);
    let integrity: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok", "{when}: integrity_check");
    let invariants = [
        ("stays of a missing session", "SELECT COUNT(*) FROM session_peers p LEFT JOIN sessions s ON s.id = p.session_id WHERE s.id IS NULL"),
        ("stays of a missing participant", "SELECT COUNT(*) FROM session_peers p LEFT JOIN participants q ON q.id = p.participant_id WHERE q.id IS NULL"),
        ("sessions of a missing meeting", "SELECT COUNT(*) FROM sessions s LEFT JOIN meetings m ON m.id = s.meeting_id WHERE m.id IS NULL"),
        ("participants of a missing meeting", "SELECT COUNT(*) FROM participants q LEFT JOIN meetings m ON m.id = q.meeting_id WHERE m.id IS NULL"),
        ("recordings of a missing session", "SELECT COUNT(*) FROM recordings r LEFT JOIN sessions s ON s.id = r.session_id WHERE r.session_id IS NOT NULL AND s.id IS NULL"),
        ("deliveries of a missing webhook", "SELECT COUNT(*) FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id WHERE w.id IS NULL"),
        ("meetings with two live sessions", "SELECT COUNT(*) FROM (SELECT meeting_id FROM sessions WHERE status = 'LIVE' GROUP BY meeting_id HAVING COUNT(*) > 1)"),
        ("sessions neither LIVE nor ENDED", "SELECT COUNT(*) FROM sessions WHERE status NOT IN ('LIVE', 'ENDED')"),
        ("ended sessions without an end", "SELECT COUNT(*) FROM sessions WHERE status = 'ENDED' AND (ended_at IS NULL OR end_reason IS NULL OR ended_at < started_at)"),
        ("live sessions with an end", "SELECT COUNT(*) FROM sessions WHERE status = 'LIVE' AND (ended_at IS NOT NULL OR end_reason IS NOT NULL)"),
        ("open stays of ended sessions", "SELECT COUNT(*) FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE s.status = 'ENDED' AND p.left_at IS NULL"),
        ("stays with a leave time but no outcome, or the reverse", "SELECT COUNT(*) FROM session_peers WHERE (left_at IS NULL) <> (outcome IS NULL)"),
        ("stays that ended before they began", "SELECT COUNT(*) FROM session_peers WHERE left_at < joined_at"),
        ("stays with an unknown outcome", "SELECT COUNT(*) FROM session_peers WHERE outcome NOT IN ('left', 'kicked', 'expired', 'ended')"),
        ("stays of a session ended for everyone, closed later", "SELECT COUNT(*) FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE s.status = 'ENDED' AND p.left_at > s.ended_at"),
        ("deliveries with an unknown status", "SELECT COUNT(*) FROM outbox WHERE status NOT IN ('pending', 'delivered', 'failed')"),
        ("repeated delivery uuids", "SELECT COUNT(*) - COUNT(DISTINCT uuid) FROM outbox"),
        ("recordings with an unknown status", "SELECT COUNT(*) FROM recordings WHERE status NOT IN ('INVOKED', 'RECORDING', 'PAUSED', 'UPLOADING', 'UPLOADED', 'ERRORED')"),
        ("uploaded recordings without a size", "SELECT COUNT(*) FROM recordings WHERE status = 'UPLOADED' AND file_size IS NULL"),
    ];
    for (what, sql) in invariants {
        assert_eq!(count(&c, sql), 0, "{when}: {what}");
    }
}

/// Open stays (peer id → session id) of live sessions.
pub fn open_stays(dir: &Path) -> BTreeMap<String, String> {
    let c = db(dir);
    let mut stmt = c
        .prepare("SELECT p.peer_id, p.session_id FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE s.status = 'LIVE' AND p.left_at IS NULL")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// (status, end_reason) of a session.
pub fn session_row(dir: &Path, id: &str) -> (String, Option<String>) {
    db(dir)
        .query_row("SELECT status, end_reason FROM sessions WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

/// Outbox rows: uuid → (status, event, session id in the body).
pub fn outbox(dir: &Path) -> BTreeMap<String, (String, String, String)> {
    let c = db(dir);
    let mut stmt = c.prepare("SELECT uuid, status, body FROM outbox").unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .map(|(uuid, status, body)| {
            let v: Value = serde_json::from_str(&body).unwrap();
            let event = v["event"].as_str().unwrap_or_default().to_owned();
            let session = v["meeting"]["sessionId"].as_str().unwrap_or_default().to_owned();
            (uuid, (status, event, session))
        })
        .collect()
}

/// The meeting's live session, if any.
pub fn live_session(dir: &Path, meeting: &str) -> Option<String> {
    use rusqlite::OptionalExtension;
    db(dir)
        .query_row("SELECT id FROM sessions WHERE meeting_id = ?1 AND status = 'LIVE'", [meeting], |r| r.get(0))
        .optional()
        .unwrap()
}
