//! The real `convene-server` binary on PostgreSQL (`--postgres URL --node-id NAME`), against a
//! throwaway PostgreSQL the test starts: a session with its webhooks, `kill -9` mid-session and a
//! restart on the same database (every participant resumes the same session), a kick-all that
//! ends it once with one `meeting.ended`, delivered once; the token commands work on the same
//! database, and the keys live there (a restart with an empty data directory accepts the old
//! participant tokens and signs with the same key).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::crash::all_clients::{join_all, join_missing, read_on, resume_all};
use crate::crash::raw_client::Client;
use crate::crash::server_process::Server;
use crate::crash::webhook_receiver::Receiver;

use crate::test_postgres;

const PARTICIPANTS: usize = 8;

/// Each participant's open stay in the database: peer id to session id.
pub(crate) async fn open_stays(db: &tokio_postgres::Client) -> BTreeMap<String, String> {
    let rows = db.query("SELECT peer_id, session_id FROM session_peers WHERE left_at IS NULL", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

pub(crate) async fn live_sessions(db: &tokio_postgres::Client, meeting_id: &str) -> Vec<String> {
    let sql = "SELECT id FROM sessions WHERE meeting_id = $1 AND status = 'LIVE'";
    db.query(sql, &[&meeting_id]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

/// Queued `meeting.ended` deliveries of `session`.
async fn ended_events(db: &tokio_postgres::Client, session: &str) -> Vec<(String, String)> {
    let rows = db.query("SELECT uuid, status, body FROM outbox", &[]).await.unwrap();
    rows.iter()
        .filter(|r| {
            let body: Value = serde_json::from_str(r.get(2)).unwrap();
            body["event"] == "meeting.ended" && body["meeting"]["sessionId"] == session
        })
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_postgres_keeps_its_sessions_across_a_kill_and_ends_them_once() {
    let pg = test_postgres::TestPostgres::start();
    let db = pg.connect().await;
    let url = pg.url();
    let flags = ["--postgres", url.as_str(), "--node-id", "node-a"];
    let dir = std::env::temp_dir().join(format!("convene-pg-node-{}", uuid::Uuid::new_v4()));
    let mut server = Server::start_with(&dir, "127.0.0.1:0", &flags);
    let listen = server.addr.to_string();
    let ws_url = server.ws_url();
    assert!(!dir.join("convene.db").exists(), "nothing in SQLite");

    let (receiver, hook_url) = Receiver::start().await;
    let events = ["meeting.started", "meeting.ended", "meeting.participantJoined"];
    server.ok("POST", "/webhooks", Some(json!({"name": "pg", "url": hook_url, "events": events}))).await;
    let meeting = server.ok("POST", "/meetings", Some(json!({"title": "on postgres"}))).await;
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let mut clients = Vec::new();
    for i in 0..PARTICIPANTS {
        let preset = if i == 0 { "group_call_host" } else { "group_call_participant" };
        let name = format!("p{i}");
        let body = json!({"custom_participant_id": name, "preset_name": preset, "name": name});
        let p = server.ok("POST", &format!("/meetings/{meeting_id}/participants"), Some(body)).await;
        clients.push(Client { name, token: p["token"].as_str().unwrap().to_owned(), ..Client::default() });
    }
    let clients = join_missing(clients, &ws_url).await;
    let session = live_sessions(&db, &meeting_id).await;
    assert_eq!(session.len(), 1, "one live session in PostgreSQL");
    let session = session[0].clone();
    let kept = open_stays(&db).await;
    assert_eq!(kept.len(), PARTICIPANTS, "every stay is in PostgreSQL");
    let public_key = reqwest::get(format!("http://{listen}/.well-known/webhooks.json")).await.unwrap();
    let public_key = public_key.text().await.unwrap();

    // kill -9 mid-session, restart on the same database with an empty data directory.
    let listening = read_on(clients);
    server.kill();
    let clients = join_all(listening).await;
    std::fs::remove_dir_all(&dir).unwrap();
    server = Server::start_with(&dir, &listen, &flags);
    let clients = resume_all(clients, &ws_url, &kept).await;
    assert!(clients.iter().all(|c| c.resumed == Some(true)), "everyone resumed, with the tokens of before");
    assert_eq!(live_sessions(&db, &meeting_id).await, std::slice::from_ref(&session), "the same session");
    let key_after = reqwest::get(format!("http://{listen}/.well-known/webhooks.json")).await.unwrap();
    assert_eq!(key_after.text().await.unwrap(), public_key, "the same signing key, from the database");

    // A token made by the token command, on the same database, works on the running node.
    let token = token_command(&["token", "create", "--scope", "admin", "--all-accounts"], &flags);
    let kick_all = format!("http://{listen}{}/meetings/{meeting_id}/active-session/kick-all", server.kit);
    let listening = read_on(clients);
    let answer = reqwest::Client::new().post(&kick_all).bearer_auth(token.trim()).send().await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let clients = join_all(listening).await;
    for c in &clients {
        let end = c.ended().unwrap_or_else(|| panic!("{} heard no end", c.name));
        assert_eq!(end.session_id, session);
    }
    assert_ended_once(&db, &meeting_id, &session, &receiver).await;
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
    server.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

/// After `session` of `meeting_id` ended: the meeting has no live session, every stay is closed,
/// and one `meeting.ended` of it was queued and delivered once, under its uuid, to `receiver`.
pub(crate) async fn assert_ended_once(
    db: &tokio_postgres::Client,
    meeting_id: &str,
    session: &str,
    receiver: &Receiver,
) {
    let arrivals = ended_arrivals(db, meeting_id, session, receiver).await;
    assert_eq!(arrivals, 1, "delivered once, under its uuid");
}

/// As [`assert_ended_once`], for an end whose owner was killed around it: the outbox delivers at
/// least once, so a delivery the killed node had sent but not yet marked delivered is sent once
/// more, under the same uuid, by the node that claims it after the claim runs out. One arrival,
/// or two of the one uuid; never a second `meeting.ended`, never a third arrival.
pub(crate) async fn assert_ended_once_resent_at_most_once(
    db: &tokio_postgres::Client,
    meeting_id: &str,
    session: &str,
    receiver: &Receiver,
) {
    let arrivals = ended_arrivals(db, meeting_id, session, receiver).await;
    assert!(matches!(arrivals, 1 | 2), "delivered once, or resent once, under its uuid: {arrivals} arrivals");
}

/// Checks that `session` ended (no live session, every stay closed, one `meeting.ended` queued
/// and delivered); returns how many times `receiver` got that delivery's uuid.
async fn ended_arrivals(db: &tokio_postgres::Client, meeting_id: &str, session: &str, receiver: &Receiver) -> usize {
    assert!(live_sessions(db, meeting_id).await.is_empty(), "ENDED in PostgreSQL");
    assert!(open_stays(db).await.is_empty(), "every stay closed");
    let ended = delivered_ends(db, session).await;
    assert_eq!(ended.len(), 1, "one meeting.ended: {ended:?}");
    receiver.got().into_iter().filter(|(uuid, _)| *uuid == ended[0]).count()
}

/// The uuids of `session`'s `meeting.ended` deliveries, once every one of them is delivered.
async fn delivered_ends(db: &tokio_postgres::Client, session: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ended = ended_events(db, session).await;
        if !ended.is_empty() && ended.iter().all(|(_, status)| status == "delivered") {
            return ended.into_iter().map(|(uuid, _)| uuid).collect();
        }
        assert!(Instant::now() < deadline, "meeting.ended is delivered: {ended:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `convene-server` with `args` and `flags`; its standard output.
fn token_command(args: &[&str], flags: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_convene-server")).args(args).args(flags).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
