//! The signalling WebSocket and session lifecycle against a real server: joins, the waiting room,
//! kicks, kick-all (from a client and from REST), keep-alive expiry, new sessions, INACTIVE
//! meetings, permission patches, hidden participants, resume, the server's own permission checks,
//! and bad frames.

use crate::support;

use convene_core::proto::{ClientMessage, Resume, ResumeRefusal, ServerMessage, SessionEvent, WaitlistOutcome};
use convene_core::{Actor, EndReason, PermissionsPatch, RecordingState};
use serde_json::json;
use support::{error_code, is_event, RawClient, TestServer};

async fn session_status(s: &TestServer, meeting: &str) -> Vec<(String, String, Option<String>)> {
    let (status, v) = s.api("GET", &format!("/sessions?associated_id={meeting}"), None).await;
    assert_eq!(status, 200, "{v}");
    v["data"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["id"].as_str().unwrap().to_owned(),
                x["status"].as_str().unwrap().to_owned(),
                x["end_reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn join_starts_a_session_and_peers_see_each_other() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"title": "Standup"})).await;
    let (host_id, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = RawClient::connect(&s.ws_url(), &host_token).await;
    let joined = host.join().await;
    assert!(matches!(joined, ServerMessage::Reply { .. }), "{joined:?}");
    let sessions = session_status(&s, &m).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].1, "LIVE");
    let (status, active) = s.api("GET", &format!("/meetings/{m}/active-session"), None).await;
    assert_eq!(status, 200);
    assert_eq!(active["data"]["live_participants"], 1);
    let bob = s.joined(&bob_token).await;
    let seen = host.until(|m| is_event(m, |e| matches!(e, SessionEvent::PeerJoined { .. }))).await;
    let ServerMessage::Event { event: SessionEvent::PeerJoined { peer }, .. } = seen else { unreachable!() };
    assert_eq!(peer.id, bob.peer_id);
    assert_eq!(peer.custom_participant_id, "bob");
    // The host's own record is the participant's.
    let (_, v) = s.api("GET", &format!("/sessions/{}/participants", sessions[0].0), None).await;
    let peers = v["data"]["participants"].as_array().unwrap();
    let ids: Vec<&str> = peers.iter().map(|p| p["user_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&host_id.as_str()), "{v}");
    assert_eq!(peers[0]["left_at"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_crafted_kick_all_without_permission_is_refused_and_changes_nothing() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let mut bob = s.joined(&bob_token).await;
    let refused = bob.call(|req| ClientMessage::KickAll { req }).await;
    assert_eq!(error_code(&refused), Some(1201));
    let refused = bob.call(|req| ClientMessage::Kick { req, peer_id: String::new() }).await;
    assert_eq!(error_code(&refused), Some(1201));
    let refused = bob.call(|req| ClientMessage::StartRecording { req, allow_multiple: false }).await;
    assert_eq!(error_code(&refused), Some(1001));
    let patch = PermissionsPatch { kick_participant: Some(true), ..Default::default() };
    let host_peer = host.peer_id.clone();
    let refused = bob.call(|req| ClientMessage::UpdatePermissions { req, peer_ids: vec![host_peer], patch }).await;
    assert_eq!(error_code(&refused), Some(1201));
    assert_eq!(session_status(&s, &m).await[0].1, "LIVE");
    // Both are still connected and joined: a ping is answered.
    host.send(&ClientMessage::Ping {}).await;
    assert!(matches!(host.until(|m| matches!(m, ServerMessage::Pong)).await, ServerMessage::Pong));
}

#[tokio::test]
async fn kick_all_from_a_host_ends_the_session_for_everyone() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let mut clients = Vec::new();
    for name in ["a", "b", "c"] {
        let (_, t) = s.participant(&m, name, "group_call_participant").await;
        let c = s.joined(&t).await;
        clients.push(c);
    }
    let mut host = s.joined(&host_token).await;
    let reply = host.call(|req| ClientMessage::KickAll { req }).await;
    let ServerMessage::Reply { data, .. } = &reply else { panic!("{reply:?}") };
    assert_eq!(data.kicked_participants_count, Some(4));
    let host_peer = host.peer_id.clone();
    for c in clients.iter_mut().chain(std::iter::once(&mut host)) {
        let ended = c.until(|m| is_event(m, |e| matches!(e, SessionEvent::SessionEnded { .. }))).await;
        let ServerMessage::Event { event: SessionEvent::SessionEnded { end }, .. } = ended else { unreachable!() };
        assert_eq!(end.reason, EndReason::HostEndedMeeting);
        assert_eq!(end.ended_by, Actor::Peer { peer_id: host_peer.clone() });
        assert!(c.recv().await.is_none(), "the server closes after the end");
    }
    let sessions = session_status(&s, &m).await;
    assert_eq!(sessions[0].1, "ENDED");
    assert_eq!(sessions[0].2.as_deref(), Some("HOST_ENDED_MEETING"));
    let (status, _) = s.api("GET", &format!("/meetings/{m}/active-session"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn keep_alive_ends_an_empty_session_and_a_rejoin_starts_a_new_one() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"session_keep_alive_time_in_secs": 1})).await;
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    let mut c = s.joined(&token).await;
    c.call(|req| ClientMessage::Leave { req }).await;
    let first = session_status(&s, &m).await;
    assert_eq!(first[0].1, "LIVE", "still live within the keep-alive");
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    let after = session_status(&s, &m).await;
    assert_eq!(after[0].1, "ENDED");
    assert_eq!(after[0].2.as_deref(), Some("ALL_PARTICIPANTS_LEFT"));
    let _again = s.joined(&token).await;
    let sessions = session_status(&s, &m).await;
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].1, "LIVE");
    assert_ne!(sessions[0].0, first[0].0, "a new session id");
}

#[tokio::test]
async fn an_inactive_meeting_refuses_joins_until_active_again() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    let (status, _) = s.api("PATCH", &format!("/meetings/{m}"), Some(json!({"status": "INACTIVE"}))).await;
    assert_eq!(status, 200);
    let mut c = RawClient::connect(&s.ws_url(), &token).await;
    assert_eq!(error_code(&c.join().await), Some(2));
    assert!(session_status(&s, &m).await.is_empty(), "no session was started");
    s.api("PATCH", &format!("/meetings/{m}"), Some(json!({"status": "ACTIVE"}))).await;
    assert!(matches!(c.join().await, ServerMessage::Reply { .. }));
    assert_eq!(session_status(&s, &m).await[0].1, "LIVE");
}

#[tokio::test]
async fn the_waiting_room_admits_and_rejects() {
    let s = TestServer::start().await;
    s.preset("guest", json!({"waiting_room_type": "SKIP_ON_ACCEPT", "show_participant_list": true})).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, g1) = s.participant(&m, "g1", "guest").await;
    let (_, g2) = s.participant(&m, "g2", "guest").await;
    let mut host = s.joined(&host_token).await;
    let mut guest1 = RawClient::connect(&s.ws_url(), &g1).await;
    let req = guest1.req();
    guest1.send(&ClientMessage::Join { req, name: None }).await;
    assert!(is_event(&guest1.recv().await.unwrap(), |e| matches!(e, SessionEvent::Waitlisted)));
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::WaitlistAdded { .. }))).await;
    let id1 = guest1.peer_id.clone();
    assert!(matches!(
        host.call(|req| ClientMessage::AcceptWaiting { req, peer_ids: vec![id1] }).await,
        ServerMessage::Reply { .. }
    ));
    let admitted = guest1.until(|m| is_event(m, |e| matches!(e, SessionEvent::Joined { .. }))).await;
    let ServerMessage::Event { event: SessionEvent::Joined { room }, .. } = admitted else { unreachable!() };
    assert_eq!(room.peers.len(), 1, "the host is in the roster");
    let mut guest2 = RawClient::connect(&s.ws_url(), &g2).await;
    let req = guest2.req();
    guest2.send(&ClientMessage::Join { req, name: None }).await;
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::WaitlistAdded { .. }))).await;
    let id2 = guest2.peer_id.clone();
    let refused = guest1.call(|req| ClientMessage::RejectWaiting { req, peer_id: id2.clone() }).await;
    assert_eq!(error_code(&refused), Some(1201), "guests may not decide");
    host.call(|req| ClientMessage::RejectWaiting { req, peer_id: id2 }).await;
    let rejected = guest2.until(|m| is_event(m, |e| matches!(e, SessionEvent::Rejected { .. }))).await;
    assert!(is_event(&rejected, |e| matches!(e, SessionEvent::Rejected { by: Actor::Peer { .. } })));
    let removed = host.until(|m| is_event(m, |e| matches!(e, SessionEvent::WaitlistRemoved { .. }))).await;
    assert!(is_event(&removed, |e| matches!(
        e,
        SessionEvent::WaitlistRemoved { outcome: WaitlistOutcome::Rejected, .. }
    )));
}

#[tokio::test]
async fn a_permission_patch_reaches_the_target_and_allows_kick_all() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let mut bob = s.joined(&bob_token).await;
    assert_eq!(error_code(&bob.call(|req| ClientMessage::KickAll { req }).await), Some(1201));
    let patch = PermissionsPatch { kick_participant: Some(true), ..Default::default() };
    let bob_peer = bob.peer_id.clone();
    host.call(|req| ClientMessage::UpdatePermissions { req, peer_ids: vec![bob_peer], patch }).await;
    let got = bob.until(|m| is_event(m, |e| matches!(e, SessionEvent::PermissionsUpdated { .. }))).await;
    assert!(is_event(
        &got,
        |e| matches!(e, SessionEvent::PermissionsUpdated { patch, .. } if patch.kick_participant == Some(true))
    ));
    assert!(matches!(bob.call(|req| ClientMessage::KickAll { req }).await, ServerMessage::Reply { .. }));
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::SessionEnded { .. }))).await;
}

#[tokio::test]
async fn hidden_participants_are_not_shown_and_list_less_presets_get_no_roster() {
    let s = TestServer::start().await;
    s.preset("ghost", json!({"hidden_participant": true, "show_participant_list": true})).await;
    s.preset("blind", json!({"show_participant_list": false})).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, ghost_token) = s.participant(&m, "ghost", "ghost").await;
    let (_, blind_token) = s.participant(&m, "blind", "blind").await;
    let mut host = s.joined(&host_token).await;
    let mut ghost = s.joined(&ghost_token).await;
    let mut blind = RawClient::connect(&s.ws_url(), &blind_token).await;
    let req = blind.req();
    blind.send(&ClientMessage::Join { req, name: None }).await;
    let snapshot = blind.until(|m| is_event(m, |e| matches!(e, SessionEvent::Joined { .. }))).await;
    let ServerMessage::Event { event: SessionEvent::Joined { room }, .. } = snapshot else { unreachable!() };
    assert!(room.peers.is_empty(), "no roster for show_participant_list false");
    // The host hears of the blind participant, never of the ghost.
    let joined = host.until(|m| is_event(m, |e| matches!(e, SessionEvent::PeerJoined { .. }))).await;
    assert!(is_event(
        &joined,
        |e| matches!(e, SessionEvent::PeerJoined { peer } if peer.custom_participant_id == "blind")
    ));
    host.call(|req| ClientMessage::Leave { req }).await;
    // The ghost saw the host and the blind one; the blind one saw nobody leave.
    let left = ghost.until(|m| is_event(m, |e| matches!(e, SessionEvent::PeerLeft { .. }))).await;
    assert!(matches!(left, ServerMessage::Event { .. }));
    blind.send(&ClientMessage::Ping {}).await;
    let next = blind.recv().await.unwrap();
    assert!(matches!(next, ServerMessage::Reply { .. } | ServerMessage::Pong), "{next:?}");
}

#[tokio::test]
async fn a_dropped_client_resumes_without_losing_or_repeating_events() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let (_, carol_token) = s.participant(&m, "carol", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let bob = s.joined(&bob_token).await;
    let (bob_peer, last_seq) = bob.drop_connection().await;
    let _carol = s.joined(&carol_token).await;
    host.call(|req| ClientMessage::StartRecording { req, allow_multiple: false }).await;
    let resume = Resume { peer_id: bob_peer.clone(), last_seq };
    let mut bob = RawClient::connect_resume(&s.ws_url(), &bob_token, Some(resume)).await.expect("resumed");
    assert_eq!(bob.peer_id, bob_peer, "the same peer");
    let mut missed = Vec::new();
    while missed.len() < 3 {
        if let Some(ServerMessage::Event { event, .. }) = bob.recv().await {
            missed.push(event);
        }
    }
    assert!(matches!(&missed[0], SessionEvent::PeerJoined { peer } if peer.custom_participant_id == "carol"));
    let SessionEvent::RecordingUpdated { state: RecordingState::Starting, id: Some(id) } = &missed[1] else {
        panic!("{:?}", missed[1])
    };
    assert_eq!(missed[2], SessionEvent::RecordingUpdated { state: RecordingState::Recording, id: Some(id.clone()) });
    // Nothing else is pending: the next message answers a ping.
    bob.send(&ClientMessage::Ping {}).await;
    assert!(matches!(bob.recv().await, Some(ServerMessage::Pong)));
    // The host never saw bob leave.
    host.send(&ClientMessage::Ping {}).await;
    let mut saw_left = false;
    loop {
        match host.recv().await.unwrap() {
            ServerMessage::Pong => break,
            m => saw_left |= is_event(&m, |e| matches!(e, SessionEvent::PeerLeft { .. })),
        }
    }
    assert!(!saw_left);
}

#[tokio::test]
async fn a_client_away_during_kick_all_learns_the_end_on_resume() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let _host = s.joined(&host_token).await;
    let bob = s.joined(&bob_token).await;
    let (bob_peer, last_seq) = bob.drop_connection().await;
    let (status, v) = s.api("POST", &format!("/meetings/{m}/active-session/kick-all"), None).await;
    assert_eq!((status, v["data"]["kicked_participants_count"].as_u64()), (200, Some(2)), "{v}");
    let refused =
        RawClient::connect_resume(&s.ws_url(), &bob_token, Some(Resume { peer_id: bob_peer, last_seq })).await;
    let Err(ServerMessage::ResumeRefused { refusal: ResumeRefusal::SessionEnded { end } }) = refused else {
        panic!("expected a refusal with the end")
    };
    assert_eq!((end.reason, end.ended_by), (EndReason::HostEndedMeeting, Actor::Api));
}

#[tokio::test]
async fn rest_kick_removes_one_participant() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (bob_id, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let mut bob = s.joined(&bob_token).await;
    let (status, v) =
        s.api("POST", &format!("/meetings/{m}/active-session/kick"), Some(json!({"participant_ids": [bob_id]}))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["action"], "kick");
    assert_eq!(v["data"]["participants"][0]["id"], bob_id.as_str());
    let kicked = bob.until(|m| is_event(m, |e| matches!(e, SessionEvent::Kicked { .. }))).await;
    assert!(is_event(&kicked, |e| *e == SessionEvent::Kicked { by: Actor::Api }));
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::PeerKicked { .. }))).await;
    assert_eq!(session_status(&s, &m).await[0].1, "LIVE", "the others stay");
    let (status, _) = s
        .api("POST", &format!("/meetings/{m}/active-session/kick"), Some(json!({"custom_participant_ids": ["nobody"]})))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn ending_the_session_stops_the_recording_and_the_file_holds_the_timeline() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let mut host = s.joined(&host_token).await;
    let (status, v) = s.api("POST", "/recordings", Some(json!({"meeting_id": m}))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["status"], "RECORDING");
    let rec = v["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = s.api("POST", "/recordings", Some(json!({"meeting_id": m}))).await;
    assert_eq!(status, 409, "one recording at a time");
    host.call(|req| ClientMessage::KickAll { req }).await;
    let (_, v) = s.api("GET", &format!("/recordings/{rec}"), None).await;
    assert_eq!(v["data"]["status"], "UPLOADED", "{v}");
    assert_eq!(v["data"]["stop_reason"]["reason"], "ALL_PEERS_LEFT");
    assert!(v["data"]["file_size"].as_u64().unwrap() > 0);
    let (status, body) = s.api("GET", &format!("/recordings/{rec}/download"), None).await;
    assert_eq!(status, 200);
    let text = body.as_str().map(str::to_owned).unwrap_or_else(|| body.to_string());
    assert!(text.contains("session_ended"), "the timeline has the end: {text}");
}

#[tokio::test]
async fn bad_frames_get_typed_errors_and_change_nothing() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    // First frame not hello.
    let mut ws = RawClient::open(&s.ws_url()).await;
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::Text(r#"{"type":"join","req":1}"#.into())).await.unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("4400"), "{first:?}");
    // Wrong token.
    let err = RawClient::connect_resume(&s.ws_url(), "forged.token.here", None).await.err().expect("refused");
    assert_eq!(error_code(&err), Some(4));
    // Malformed frames keep the connection and state.
    let mut c = s.joined(&token).await;
    for bad in ["{", "[]", r#"{"type":"kick_all"}"#, r#"{"type":"nope","req":1}"#, r#"{"type":"ping","extra":1}"#] {
        c.send_text(bad.to_owned()).await;
        let answer = c.recv().await.unwrap();
        assert_eq!(error_code(&answer), Some(4400), "{bad}: {answer:?}");
    }
    assert_eq!(session_status(&s, &m).await[0].1, "LIVE");
    c.send(&ClientMessage::Ping {}).await;
    assert!(matches!(c.recv().await, Some(ServerMessage::Pong)));
    // Oversized: close 1009.
    c.send_text(format!(r#"{{"type":"kick","req":9,"peer_id":"{}"}}"#, "x".repeat(20_000))).await;
    assert_eq!(c.close_code().await, Some(1009));
    // A deleted participant's token stops working at once.
    let (pid, t2) = s.participant(&m, "temp", "group_call_participant").await;
    s.api("DELETE", &format!("/meetings/{m}/participants/{pid}"), None).await;
    let err = RawClient::connect_resume(&s.ws_url(), &t2, None).await.err().expect("refused");
    assert_eq!(error_code(&err), Some(4));
}

#[tokio::test]
async fn a_client_that_cannot_keep_up_is_dropped_and_stays_in_the_session() {
    // A two-frame queue holds a join's event and reply. The reply to start_recording and the two
    // recording events that follow in the same turn of the room overflow it (a current-thread
    // runtime keeps the connection task from draining in between).
    let mut timings = support::fast_timings();
    timings.outgoing_queue = 2;
    let s = TestServer::start_with(convene_server::DataLocation::Memory, timings, None).await;
    let m = s.meeting(json!({})).await;
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    let mut host = RawClient::connect(&s.ws_url(), &token).await;
    assert!(matches!(host.join().await, ServerMessage::Reply { .. }));
    let req = host.req();
    host.send(&ClientMessage::StartRecording { req, allow_multiple: false }).await;
    assert_eq!(host.close_code().await, Some(1013), "dropped as too slow");
    // The room went on without waiting for it, and keeps its place for a resume.
    let (_, active) = s.api("GET", &format!("/meetings/{m}/active-session"), None).await;
    assert_eq!(active["data"]["status"], "LIVE");
    assert_eq!(active["data"]["live_participants"], 1, "still in the session, away");
    let (_, recs) = s.api("GET", "/recordings", None).await;
    assert_eq!(recs["data"][0]["status"], "RECORDING");
}

#[tokio::test]
async fn the_participant_endpoint_serves_browsers_on_other_origins() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"title": "CORS"})).await;
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/participant/me", s.url());
    let pre = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://127.0.0.1:1234")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    assert!(pre.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    let me = http.get(&url).header("authorization", format!("Bearer {token}")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["access-control-allow-origin"], "*");
    let body: serde_json::Value = serde_json::from_str(&me.text().await.unwrap()).unwrap();
    assert_eq!(body["data"]["meeting"]["title"], "CORS");
    assert_eq!(body["data"]["permissions"]["kick_participant"], true);
    let bad = http.get(&url).header("authorization", "Bearer forged").send().await.unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(bad.headers()["access-control-allow-origin"], "*", "errors are readable by the page too");
}
