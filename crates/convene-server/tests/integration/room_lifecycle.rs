//! Room lifecycle edges: idle rooms end, a resume too large for the queue gets a snapshot,
//! deleting a participant removes it from a live session, admissions happen once, list-less
//! presets hear of no departures, and recordings keep their end and their download link.

use crate::support;

use std::time::Duration;

use convene_core::proto::{ClientMessage, Resume, ServerMessage, SessionEvent};
use convene_core::Actor;
use convene_server::DataLocation;
use serde_json::json;
use support::{fast_timings, is_event, RawClient, TestServer};

/// Everything a client receives until the answer to a ping (what the server had queued for it).
async fn drain(c: &mut RawClient) -> Vec<ServerMessage> {
    c.send(&ClientMessage::Ping {}).await;
    let mut got = Vec::new();
    loop {
        match c.recv().await.expect("open") {
            ServerMessage::Pong => return got,
            m => got.push(m),
        }
    }
}

#[tokio::test]
async fn an_idle_room_task_ends() {
    let mut timings = fast_timings();
    timings.room_idle = Duration::from_millis(200);
    let s = TestServer::start_with(DataLocation::Memory, timings, None).await;
    let m = s.meeting(json!({})).await;
    // A REST call on a meeting with no session starts its room, which then has nothing to do.
    let (status, _) = s.api("POST", &format!("/meetings/{m}/active-session/kick-all"), None).await;
    assert_eq!(status, 404);
    assert_eq!(s.server.running_rooms(), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.server.running_rooms(), 0, "the idle room's task ended");
    // And a new one starts when needed.
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    let mut c = RawClient::connect(&s.ws_url(), &token).await;
    assert!(matches!(c.join().await, ServerMessage::Reply { .. }));
}

#[tokio::test]
async fn a_resume_too_large_for_the_queue_gets_a_snapshot() {
    let mut timings = fast_timings();
    timings.outgoing_queue = 16;
    let s = TestServer::start_with(DataLocation::Memory, timings, None).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let bob = s.joined(&bob_token).await;
    let (peer_id, last_seq) = bob.drop_connection().await;
    for _ in 0..6 {
        host.call(|req| ClientMessage::StartRecording { req, allow_multiple: false }).await;
        host.call(|req| ClientMessage::StopRecording { req, recording_id: None }).await;
    }
    let resume = Resume { peer_id, last_seq };
    let mut bob = RawClient::connect_resume(&s.ws_url(), &bob_token, Some(resume)).await.expect("resumed");
    let got = drain(&mut bob).await;
    assert_eq!(got.len(), 1, "one snapshot instead of 24 frames: {got:?}");
    assert!(is_event(&got[0], |e| matches!(e, SessionEvent::Joined { .. })));
}

#[tokio::test]
async fn deleting_a_connected_participant_removes_it_from_the_session() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (bob_id, bob_token) = s.participant(&m, "bob", "group_call_host").await;
    let mut host = s.joined(&host_token).await;
    let mut bob = s.joined(&bob_token).await;
    let (status, _) = s.api("DELETE", &format!("/meetings/{m}/participants/{bob_id}"), None).await;
    assert_eq!(status, 200);
    let kicked = bob.until(|m| is_event(m, |e| matches!(e, SessionEvent::Kicked { .. }))).await;
    assert!(is_event(&kicked, |e| *e == SessionEvent::Kicked { by: Actor::Api }));
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::PeerKicked { .. }))).await;
}

#[tokio::test]
async fn a_waiting_participant_is_admitted_once() {
    let s = TestServer::start().await;
    s.preset("lobby", json!({"waiting_room_type": "SKIP_ON_ACCEPT", "show_participant_list": true})).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, guest_token) = s.participant(&m, "guest", "lobby").await;
    let mut host = s.joined(&host_token).await;
    let mut guest = s.joined(&guest_token).await;
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::WaitlistAdded { .. }))).await;
    let id = guest.peer_id.clone();
    let reply = host.call(|req| ClientMessage::AcceptWaiting { req, peer_ids: vec![id.clone(), id] }).await;
    assert!(matches!(reply, ServerMessage::Reply { .. }));
    let got = drain(&mut guest).await;
    let admissions = got.iter().filter(|m| is_event(m, |e| matches!(e, SessionEvent::Joined { .. }))).count();
    assert_eq!(admissions, 1, "{got:?}");
    let got = drain(&mut host).await;
    let joins = got.iter().filter(|m| is_event(m, |e| matches!(e, SessionEvent::PeerJoined { .. }))).count();
    assert_eq!(joins, 1, "{got:?}");
}

#[tokio::test]
async fn presets_without_the_list_hear_of_no_departures() {
    let s = TestServer::start().await;
    s.preset("blind", json!({"show_participant_list": false})).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, blind_token) = s.participant(&m, "blind", "blind").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let (_, carol_token) = s.participant(&m, "carol", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let mut blind = s.joined(&blind_token).await;
    let mut bob = s.joined(&bob_token).await;
    let carol = s.joined(&carol_token).await;
    drain(&mut blind).await;
    bob.call(|req| ClientMessage::Leave { req }).await;
    let carol_id = carol.peer_id.clone();
    host.call(|req| ClientMessage::Kick { req, peer_id: carol_id }).await;
    // (The host's call() consumed bob's peer_left while waiting for its reply; carol's
    // peer_kicked comes after the reply.)
    let got = drain(&mut host).await;
    assert!(
        got.iter().any(|m| is_event(m, |e| matches!(e, SessionEvent::PeerKicked { .. }))),
        "the host sees it: {got:?}"
    );
    let got = drain(&mut blind).await;
    assert!(got.is_empty(), "the list-less participant hears nothing: {got:?}");
}

#[tokio::test]
async fn a_paused_recording_keeps_the_end_and_its_download_link_works() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    let _host = s.joined(&token).await;
    let (_, v) = s.api("POST", "/recordings", Some(json!({"meeting_id": m}))).await;
    let rec = v["data"]["id"].as_str().unwrap().to_owned();
    let (status, v) = s.api("PUT", &format!("/recordings/{rec}"), Some(json!({"action": "pause"}))).await;
    assert_eq!((status, v["data"]["status"].as_str()), (200, Some("PAUSED")));
    s.api("POST", &format!("/meetings/{m}/active-session/kick-all"), None).await;
    let (_, v) = s.api("GET", &format!("/recordings/{rec}"), None).await;
    assert_eq!(v["data"]["status"], "UPLOADED");
    let url = v["data"]["download_url"].as_str().unwrap().to_owned();
    let resp =
        reqwest::Client::new().get(&url).header("authorization", format!("Bearer {}", s.token)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    assert!(resp.text().await.unwrap().contains("session_ended"), "the end is in the timeline");
}
