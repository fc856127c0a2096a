//! Crash and restart of the real `convene-server` process: `kill -9` at several moments of a
//! session, each followed by a restart on the same data directory and port.
//!
//! 1. During a join storm: every participant whose join was answered is in the store and resumes
//!    the same session (a fresh snapshot, `seq` above anything sent before); one that was welcomed
//!    but not admitted is refused (`expired`) and joins again.
//! 2. With a recording running and the webhook receiver down (the outbox holds every event): the
//!    recording is `ERRORED` after the restart (its file kept), a new one can start, and the whole
//!    outbox is delivered once a receiver is up.
//! 3. While webhooks are being delivered (a slow receiver, a request in flight): after the restart
//!    every row is delivered, at least once, retries under the same `rtk-uuid` with the same body.
//! 4. Around a REST kick-all, five times with different delays, one participant away each time:
//!    the session is either still `LIVE` (clients resume, a second kick-all ends it) or `ENDED`
//!    with every stay closed and `meeting.ended` queued, and then every client that had not heard
//!    it (the away one at least) learns that the session ended when it resumes (`resume_refused`
//!    `session_ended`, from the store: the room that ended it is gone).
//! 5. Once more with everything quiet.
//!
//! After every kill, before the restart, the SQLite file is opened as the next start will find it:
//! `PRAGMA integrity_check` is `ok` and the rows hang together (no stay of a missing session or
//! participant, at most one live session per meeting, ended sessions have every stay closed, ...).
//!
//! The pieces, under `tests/crash/`: `server_process.rs` starts, kills and restarts the binary;
//! `store_checks.rs` reads the SQLite file after a kill (integrity and invariants);
//! `raw_client.rs` is a raw protocol client that, unlike `support::RawClient`, treats a refused
//! connection or a dead socket as an outcome, not a panic; `all_clients.rs` runs every client at
//! once (resume after a restart, join again); `webhook_receiver.rs` is the receiver, slow on demand.

#[path = "crash/all_clients.rs"]
pub(crate) mod all_clients;
#[path = "crash/raw_client.rs"]
pub(crate) mod raw_client;
#[path = "crash/server_process.rs"]
pub(crate) mod server_process;
#[path = "crash/store_checks.rs"]
mod store_checks;
#[path = "crash/webhook_receiver.rs"]
pub(crate) mod webhook_receiver;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_core::proto::{ResumeRefusal, ServerMessage, SessionEvent};
use convene_core::{Actor, EndReason};
use serde_json::json;

use all_clients::{each, join_all, join_missing, read_on, resume_all};
use raw_client::Client;
use server_process::{Server, ADMIN};
use store_checks::{check_database, db, live_session, open_stays, outbox, session_row};
use webhook_receiver::Receiver;

/// Participants in the meeting (the host included).
const PARTICIPANTS: usize = 24;

/// Waits until `f` holds; panics after `timeout`.
async fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_many_moments_and_restart() {
    let started = Instant::now();
    let dir: PathBuf = std::env::temp_dir().join(format!("convene-crash-{}", uuid::Uuid::new_v4()));
    let mut server = Server::start(&dir, "127.0.0.1:0");
    let listen = server.addr.to_string();
    let url = server.ws_url();
    let mut figures: Vec<String> = Vec::new();

    // Setup: a meeting, a host and participants, a webhook whose receiver is down.
    let meeting =
        server.ok("POST", "/meetings", Some(json!({"title": "crash", "session_keep_alive_time_in_secs": 60}))).await;
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let mut clients = Vec::new();
    for i in 0..PARTICIPANTS {
        let (name, preset) =
            if i == 0 { ("host".to_owned(), "group_call_host") } else { (format!("p{i}"), "group_call_participant") };
        let body = json!({"custom_participant_id": name, "preset_name": preset, "name": name});
        let p = server.ok("POST", &format!("/meetings/{meeting_id}/participants"), Some(body)).await;
        clients.push(Client { name, token: p["token"].as_str().unwrap().to_owned(), ..Client::default() });
    }
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let events = [
        "meeting.started",
        "meeting.ended",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "recording.statusUpdate",
    ];
    let hook = server.ok("POST", "/webhooks", Some(json!({"name": "crash", "url": dead, "events": events}))).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let app_id = server.kit.rsplit('/').next().unwrap().to_owned();

    // 1. kill -9 during a join storm.
    let answered = Arc::new(AtomicUsize::new(0));
    let storm = {
        let answered = answered.clone();
        let url = url.clone();
        clients
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                let answered = answered.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(8 * i as u64)).await;
                    if matches!(c.hello(&url, false).await, Some(ServerMessage::Welcome { .. })) && c.join().await {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    c.drain(Duration::from_secs(60)).await;
                    c
                })
            })
            .collect::<Vec<_>>()
    };
    until("half the joins answered", Duration::from_secs(20), || answered.load(Ordering::SeqCst) >= PARTICIPANTS / 2)
        .await;
    server.kill();
    let clients = join_all(storm).await;
    check_database(&dir, "after the kill during the join storm");
    let kept = open_stays(&dir);
    let session_1 = live_session(&dir, &meeting_id).expect("the session is live in the store");
    for c in &clients {
        if c.admitted {
            let peer = c.peer_id.as_ref().unwrap();
            assert_eq!(kept.get(peer), Some(&session_1), "{}: its answered join is in the store", c.name);
        }
    }
    let welcomed: BTreeSet<String> = clients.iter().filter_map(|c| c.peer_id.clone()).collect();
    assert!(kept.keys().all(|p| welcomed.contains(p)), "every stay in the store is a welcomed peer");
    let pending_before = outbox(&dir);
    assert!(pending_before.values().all(|(s, _, _)| s == "pending"), "the receiver is down: nothing delivered");
    assert!(pending_before.values().any(|(_, e, _)| e == "meeting.started"), "meeting.started is queued");
    figures.push(format!(
        "join storm: {} of {PARTICIPANTS} answered, {} in the store, {} welcomed but not admitted; {} webhooks queued",
        clients.iter().filter(|c| c.admitted).count(),
        kept.len(),
        welcomed.len() - kept.len(),
        pending_before.len()
    ));

    server = Server::start(&dir, &listen);
    let clients = resume_all(clients, &url, &kept).await;
    let resumed = clients.iter().filter(|c| c.resumed == Some(true)).count();
    let refused = clients.iter().filter(|c| c.refused.is_some()).count();
    assert_eq!(resumed, kept.len(), "every stay the store kept resumed");
    let clients = join_missing(clients, &url).await;
    let stays = open_stays(&dir);
    assert_eq!(stays.len(), PARTICIPANTS, "everyone is in");
    assert!(stays.values().all(|s| *s == session_1), "one session throughout");
    figures
        .push(format!("  restart: {resumed} resumed the same session, {refused} refused (expired) and joined again"));

    // 2. kill -9 with a recording running and the outbox full of undelivered events.
    let clients = read_on(clients);
    let rec = server.ok("POST", "/recordings", Some(json!({"meeting_id": meeting_id}))).await;
    assert_eq!(rec["status"], "RECORDING");
    let recording_1 = rec["id"].as_str().unwrap().to_owned();
    server.kill();
    let clients = join_all(clients).await;
    check_database(&dir, "after the kill while recording");
    let status: String =
        db(&dir).query_row("SELECT status FROM recordings WHERE id = ?1", [&recording_1], |r| r.get(0)).unwrap();
    assert_eq!(status, "RECORDING", "the store says recording when the process dies");
    let queued = outbox(&dir);
    assert!(queued.len() >= pending_before.len() && queued.values().all(|(s, _, _)| s == "pending"), "{queued:?}");
    // A receiver comes up; an operator points the webhook at it and retries now.
    let (receiver, receiver_url) = Receiver::start().await;
    receiver.delay_ms.store(150, Ordering::SeqCst);
    {
        use convene_server::store::Store as _;
        let store = convene_server::store::SqliteStore::open(Some(&dir.join("convene.db"))).unwrap();
        let mut w = store.get_webhook(&app_id, &hook_id).await.unwrap().expect("the webhook survived");
        w.url = receiver_url.clone();
        store.update_webhook(&app_id, &w).await.unwrap();
        assert_eq!(store.retry_pending_now(0).await.unwrap(), queued.len());
    }
    server = Server::start(&dir, &listen);
    let kept = open_stays(&dir);
    assert_eq!(kept.len(), PARTICIPANTS);
    let clients = resume_all(clients, &url, &kept).await;
    let rec = server.ok("GET", &format!("/recordings/{recording_1}"), None).await;
    assert_eq!(rec["status"], "ERRORED", "an interrupted recording is marked ERRORED: {rec}");
    assert!(dir.join("recordings").join(format!("{recording_1}.jsonl")).exists(), "its file is kept");
    let rec = server.ok("POST", "/recordings", Some(json!({"meeting_id": meeting_id}))).await;
    assert_eq!(rec["status"], "RECORDING", "the restored session records again");
    let recording_2 = rec["id"].as_str().unwrap().to_owned();
    figures.push(format!(
        "recording: {} events queued while the receiver was down; recording ERRORED after the kill, a new one started",
        queued.len()
    ));

    // 3. kill -9 while webhooks are being delivered (one request in flight).
    let clients = read_on(clients);
    until("deliveries under way", Duration::from_secs(30), || {
        receiver.got().len() >= 5 && receiver.in_flight.load(Ordering::SeqCst) > 0
    })
    .await;
    server.kill();
    let received_at_kill = receiver.got().len();
    let clients = join_all(clients).await;
    check_database(&dir, "after the kill during webhook deliveries");
    let rows = outbox(&dir);
    let delivered = rows.values().filter(|(s, _, _)| s == "delivered").count();
    let pending = rows.values().filter(|(s, _, _)| s == "pending").count();
    assert!(pending > 0, "deliveries were still under way");
    receiver.delay_ms.store(0, Ordering::SeqCst);
    server = Server::start(&dir, &listen);
    let kept = open_stays(&dir);
    let clients = resume_all(clients, &url, &kept).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox(&dir).values().any(|(s, _, _)| s != "delivered") {
        assert!(Instant::now() < deadline, "the outbox drains: {:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = outbox(&dir);
    let mut bodies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (uuid, body) in receiver.got() {
        bodies.entry(uuid).or_default().insert(body);
    }
    let row_uuids: BTreeSet<&String> = rows.keys().collect();
    let got_uuids: BTreeSet<&String> = bodies.keys().collect();
    assert_eq!(got_uuids, row_uuids, "every queued event arrived, nothing else");
    assert!(bodies.values().all(|b| b.len() == 1), "a retry carries the same body under the same uuid");
    let attempts = receiver.got().len();
    figures.push(format!(
        "webhooks: killed with {delivered} delivered and {pending} pending ({received_at_kill} requests received); after the restart all {} delivered in {attempts} requests ({} repeated)",
        rows.len(),
        attempts - rows.len()
    ));

    // 4. kill -9 around a REST kick-all, three times.
    let mut clients = clients;
    let mut ended_sessions = Vec::new();
    for (round, delay_us) in [0u64, 250, 500, 1_000, 3_000].into_iter().enumerate() {
        let session = live_session(&dir, &meeting_id).expect("a live session to end");
        // One participant is away (its connection dropped) when the session ends: it cannot have
        // heard the end before the kill, whenever the kill comes.
        let away = round + 1;
        if let Some(mut ws) = clients[away].ws.take() {
            let _ = ws.close(None).await;
        }
        let listening = read_on(clients);
        let kick = {
            let path = format!("http://{}{}/meetings/{meeting_id}/active-session/kick-all", server.addr, server.kit);
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(path)
                    .header("authorization", format!("Bearer {ADMIN}"))
                    .send()
                    .await
                    .is_ok()
            })
        };
        tokio::time::sleep(Duration::from_micros(delay_us)).await;
        server.kill();
        let answered = kick.await.unwrap();
        clients = join_all(listening).await;
        check_database(&dir, &format!("after the kill around kick-all {round}"));
        let (status, reason) = session_row(&dir, &session);
        if answered {
            assert_eq!(status, "ENDED", "kick-all was answered, so the end was stored");
        }
        let heard = clients.iter().filter(|c| c.ended().is_some_and(|e| e.session_id == session)).count();
        match status.as_str() {
            "ENDED" => {
                assert_eq!(reason.as_deref(), Some("HOST_ENDED_MEETING"));
                let ended = outbox(&dir).values().filter(|(_, e, s)| e == "meeting.ended" && *s == session).count();
                assert_eq!(ended, 1, "meeting.ended is queued with the end");
            }
            "LIVE" => assert_eq!(heard, 0, "no one hears of an end the store does not have"),
            other => panic!("session {other}"),
        }
        if status == "ENDED" {
            assert!(clients[away].ended().is_none(), "the away participant heard nothing");
        }
        server = Server::start(&dir, &listen);
        let kept = open_stays(&dir);
        if status == "LIVE" {
            clients = resume_all(clients, &url, &kept).await;
            let listening = read_on(clients);
            let v = server.ok("POST", &format!("/meetings/{meeting_id}/active-session/kick-all"), None).await;
            assert_eq!(v["kicked_participants_count"].as_u64(), Some(PARTICIPANTS as u64));
            clients = join_all(listening).await;
        } else {
            // Everyone who missed the end learns it when resuming, never a silent new session.
            clients = each(clients, {
                let url = url.clone();
                move |_, mut c| {
                    let url = url.clone();
                    async move {
                        if c.ended().is_none() {
                            let answer = c.hello(&url, true).await;
                            match answer {
                                Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::SessionEnded { end } }) => {
                                    c.events.push((c.last_seq, SessionEvent::SessionEnded { end }));
                                }
                                other => {
                                    panic!("{}: after an end it did not hear, resuming answered {other:?}", c.name)
                                }
                            }
                        }
                        c
                    }
                }
            })
            .await;
        }
        for c in &clients {
            let end = c.ended().unwrap_or_else(|| panic!("{}: no end of session {session}", c.name));
            assert_eq!(end.session_id, session);
            assert_eq!(end.reason, EndReason::HostEndedMeeting);
            assert_eq!(end.ended_by, Actor::Api);
        }
        assert_eq!(session_row(&dir, &session).0, "ENDED");
        figures.push(format!(
            "kick-all {round} (kill {delay_us} us after the request, answered: {answered}): the store had it {status}; {heard} of {PARTICIPANTS} clients had heard the end before the kill (one was away)",
        ));
        ended_sessions.push(session);
        // Everyone joins again: a new session.
        for c in &mut clients {
            c.peer_id = None;
            c.ws = None;
            c.refused = None;
        }
        clients = join_missing(clients, &url).await;
        let next = live_session(&dir, &meeting_id).expect("a new session");
        assert!(!ended_sessions.contains(&next), "a new session id");
    }

    // 5. kill -9 with everything quiet, then the last look at the store.
    let listening = read_on(clients);
    server.kill();
    let clients = join_all(listening).await;
    check_database(&dir, "after the last kill");
    server = Server::start(&dir, &listen);
    let kept = open_stays(&dir);
    assert_eq!(kept.len(), PARTICIPANTS);
    let clients = resume_all(clients, &url, &kept).await;
    let listening = read_on(clients);
    server.ok("POST", &format!("/meetings/{meeting_id}/active-session/kick-all"), None).await;
    let clients = join_all(listening).await;
    let sessions = server.ok("GET", &format!("/sessions?associated_id={meeting_id}&per_page=100"), None).await;
    let sessions = sessions["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 6, "one session per kick-all: {sessions:?}");
    assert!(sessions.iter().all(|s| s["status"] == "ENDED" && s["end_reason"] == "HOST_ENDED_MEETING"));
    let recordings = server.ok("GET", &format!("/recordings?meeting_id={meeting_id}"), None).await;
    let statuses: BTreeMap<String, String> = recordings
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(statuses.get(&recording_1).map(String::as_str), Some("ERRORED"));
    assert!(
        matches!(statuses.get(&recording_2).map(String::as_str), Some("ERRORED" | "UPLOADED")),
        "the second recording ended with its session or with a kill: {statuses:?}"
    );
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox(&dir).values().any(|(s, _, _)| s != "delivered") {
        assert!(Instant::now() < deadline, "the outbox drains");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = outbox(&dir);
    let got: BTreeSet<String> = receiver.got().into_iter().map(|(uuid, _)| uuid).collect();
    assert_eq!(got, rows.keys().cloned().collect::<BTreeSet<_>>(), "every event delivered, under its own uuid");
    for s in sessions.iter().map(|s| s["id"].as_str().unwrap()) {
        let ended = rows.values().filter(|(_, e, id)| e == "meeting.ended" && id == s).count();
        assert_eq!(ended, 1, "one meeting.ended for session {s}");
    }
    server.kill();
    check_database(&dir, "at the end");
    figures.push(format!(
        "{} sessions, {} webhook events, {:.1} s",
        sessions.len(),
        rows.len(),
        started.elapsed().as_secs_f64()
    ));
    for f in &figures {
        println!("{f}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
