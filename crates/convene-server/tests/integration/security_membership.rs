//! Security review, membership holes, each tried against a real server with raw protocol
//! clients: a deleted participant cannot stay or get in (1), one participant cannot grow the
//! room with ghosts (2), a demoted host loses its powers at once (9), and a peer cannot grant
//! powers it does not hold (10).

use crate::support;

use convene_core::permissions::PermissionsPatch;
use convene_core::proto::{ClientMessage, Resume, ServerMessage, SessionEvent, TOO_FAST};
use convene_core::Actor;
use convene_server::limits::Limits;
use convene_server::DataLocation;
use serde_json::json;
use support::{error_code, fast_timings, is_event, RawClient, TestServer};

/// Asks for a ping's answer: every message before it is returned.
async fn drain(c: &mut RawClient) -> Vec<ServerMessage> {
    c.send(&ClientMessage::Ping {}).await;
    let mut seen = Vec::new();
    loop {
        match c.recv().await {
            Some(ServerMessage::Pong) | None => return seen,
            Some(m) => seen.push(m),
        }
    }
}

/// The participant ids in a newly joined watcher's roster.
async fn roster_of_new_watcher(s: &TestServer, meeting: &str, name: &str) -> Vec<String> {
    let (_, token) = s.participant(meeting, name, "group_call_host").await;
    let mut watcher = RawClient::connect(&s.ws_url(), &token).await;
    let req = watcher.req();
    watcher.send(&ClientMessage::Join { req, name: None }).await;
    let joined = watcher.until(|m| is_event(m, |e| matches!(e, SessionEvent::Joined { .. }))).await;
    let ServerMessage::Event { event: SessionEvent::Joined { room }, .. } = joined else { unreachable!() };
    room.peers.iter().map(|p| p.user_id.clone()).collect()
}

#[tokio::test]
async fn a_deleted_participant_in_the_waiting_room_is_removed_at_once() {
    let s = TestServer::start().await;
    s.preset("guest", json!({"waiting_room_type": "SKIP_ON_ACCEPT"})).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (guest_id, guest_token) = s.participant(&m, "guest", "guest").await;
    let mut host = s.joined(&host_token).await;
    let mut guest = RawClient::connect(&s.ws_url(), &guest_token).await;
    let req = guest.req();
    guest.send(&ClientMessage::Join { req, name: None }).await;
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::WaitlistAdded { .. }))).await;
    let (status, v) = s.api("DELETE", &format!("/meetings/{m}/participants/{guest_id}"), None).await;
    assert_eq!(status, 200, "{v}");
    // The guest is told it was removed and its connection closes; the host sees it leave the
    // waiting list, and can no longer admit it.
    guest.until(|m| is_event(m, |e| matches!(e, SessionEvent::Kicked { by: Actor::Api }))).await;
    assert_eq!(guest.close_code().await, Some(1000));
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::WaitlistRemoved { .. }))).await;
    let guest_peer = guest.peer_id.clone();
    let accept = host.call(|req| ClientMessage::AcceptWaiting { req, peer_ids: vec![guest_peer] }).await;
    assert_eq!(error_code(&accept), Some(1202));
    assert!(!roster_of_new_watcher(&s, &m, "watcher").await.contains(&guest_id));
}

#[tokio::test]
async fn a_peer_that_said_hello_is_closed_when_its_participant_is_deleted() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (guest_id, guest_token) = s.participant(&m, "guest", "group_call_participant").await;
    let _host = s.joined(&host_token).await;
    let mut guest = RawClient::connect(&s.ws_url(), &guest_token).await;
    let (status, _) = s.api("DELETE", &format!("/meetings/{m}/participants/{guest_id}"), None).await;
    assert_eq!(status, 200);
    let told = guest.recv().await.expect("told before the close");
    assert_eq!(error_code(&told), Some(4), "{told:?}");
    assert_eq!(guest.close_code().await, Some(1008));
    assert!(!roster_of_new_watcher(&s, &m, "watcher").await.contains(&guest_id));
}

#[tokio::test]
async fn a_join_and_an_admission_after_the_deletion_are_refused() {
    // The deletion reaches the store while the room has not heard of it (the race between a
    // DELETE and a hello): the room checks the store again at the join and at the admission.
    let s = TestServer::start().await;
    s.preset("guest", json!({"waiting_room_type": "SKIP_ON_ACCEPT"})).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (late_id, late_token) = s.participant(&m, "late", "group_call_participant").await;
    let (waiting_id, waiting_token) = s.participant(&m, "waiting", "guest").await;
    let mut host = s.joined(&host_token).await;
    let mut late = RawClient::connect(&s.ws_url(), &late_token).await;
    let mut waiting = RawClient::connect(&s.ws_url(), &waiting_token).await;
    let req = waiting.req();
    waiting.send(&ClientMessage::Join { req, name: None }).await;
    host.until(|m| is_event(m, |e| matches!(e, SessionEvent::WaitlistAdded { .. }))).await;
    let store = s.server.store();
    assert!(store.delete_participant(&s.app, &m, &late_id).await.unwrap());
    assert!(store.delete_participant(&s.app, &m, &waiting_id).await.unwrap());
    assert_eq!(error_code(&late.join().await), Some(4), "join refused");
    assert_eq!(late.close_code().await, Some(1008));
    let waiting_peer = waiting.peer_id.clone();
    let accept = host.call(|req| ClientMessage::AcceptWaiting { req, peer_ids: vec![waiting_peer] }).await;
    assert_eq!(error_code(&accept), Some(1202), "admission refused");
    waiting.until(|m| is_event(m, |e| matches!(e, SessionEvent::Kicked { .. }))).await;
    let roster = roster_of_new_watcher(&s, &m, "watcher").await;
    assert!(!roster.contains(&late_id) && !roster.contains(&waiting_id), "{roster:?}");
}

#[tokio::test]
async fn connecting_and_dropping_again_and_again_never_grows_the_room() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (ghost_id, ghost_token) = s.participant(&m, "ghost", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    for _ in 0..10 {
        let ghost = s.joined(&ghost_token).await;
        ghost.drop_connection().await;
    }
    let seen = drain(&mut host).await;
    let joins = seen.iter().filter(|m| is_event(m, |e| matches!(e, SessionEvent::PeerJoined { .. }))).count();
    let lefts = seen.iter().filter(|m| is_event(m, |e| matches!(e, SessionEvent::PeerLeft { .. }))).count();
    assert_eq!(joins, 10, "each new connection joined");
    assert_eq!(joins - lefts, 4, "the oldest away peers were replaced: at most 4 stay");
    let roster = roster_of_new_watcher(&s, &m, "watcher").await;
    assert_eq!(roster.iter().filter(|id| **id == ghost_id).count(), 4, "{roster:?}");
}

#[tokio::test]
async fn a_new_peer_beyond_the_cap_is_refused_when_all_are_connected() {
    // Without the connection cap, the room's own cap on peers still holds.
    let s = TestServer::start_limited(DataLocation::Memory, fast_timings(), None, Limits::off()).await;
    let m = s.meeting(json!({})).await;
    let (_, token) = s.participant(&m, "many", "group_call_participant").await;
    let mut tabs = Vec::new();
    for _ in 0..4 {
        tabs.push(s.joined(&token).await);
    }
    let mut fifth = support::RawClient::open(&s.ws_url()).await;
    let refused = support::hello_answer(&mut fifth, &token, None).await;
    assert_eq!(error_code(&refused), Some(TOO_FAST), "{refused:?}");
    assert_eq!(support::ws_close_code(&mut fifth).await, Some(1013));
    // The connected ones are untouched: nobody left, and the room holds the four.
    for tab in &mut tabs {
        let seen = drain(tab).await;
        assert!(seen.iter().all(|m| !is_event(m, |e| matches!(e, SessionEvent::PeerLeft { .. }))), "{seen:?}");
    }
    assert_eq!(roster_of_new_watcher(&s, &m, "watcher").await.len(), 4);
}

#[tokio::test]
async fn a_host_demoted_by_a_preset_change_loses_its_powers_at_once_and_after_a_resume() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({})).await;
    let (host_id, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let bob = s.joined(&bob_token).await;
    let body = json!({"preset_name": "group_call_participant"});
    let (status, v) = s.api("PATCH", &format!("/meetings/{m}/participants/{host_id}"), Some(body)).await;
    assert_eq!(status, 200, "{v}");
    let got = host.until(|m| is_event(m, |e| matches!(e, SessionEvent::PermissionsUpdated { .. }))).await;
    assert!(is_event(&got, |e| matches!(
        e,
        SessionEvent::PermissionsUpdated { patch, by: Actor::Api } if patch.kick_participant == Some(false)
    )));
    let bob_peer = bob.peer_id.clone();
    let kick = host.call(|req| ClientMessage::Kick { req, peer_id: bob_peer.clone() }).await;
    assert_eq!(error_code(&kick), Some(1201), "the server enforces the new preset");
    // A resume brings the new set, not the old one.
    let (host_peer, last_seq) = host.drop_connection().await;
    let mut again = support::RawClient::open(&s.ws_url()).await;
    let resume = Some(Resume { peer_id: host_peer, last_seq });
    let welcome = support::hello_answer(&mut again, &host_token, resume).await;
    let ServerMessage::Welcome { resumed: true, self_info, .. } = welcome else { panic!("{welcome:?}") };
    assert!(!self_info.permissions.kick_participant);
    assert_eq!(self_info.preset_name, "group_call_participant");
}

#[tokio::test]
async fn a_preset_patch_reaches_the_live_peers_of_that_preset() {
    let s = TestServer::start().await;
    let preset = s.preset("moderator", json!({"kick_participant": true, "show_participant_list": true})).await;
    let m = s.meeting(json!({})).await;
    let (_, mod_token) = s.participant(&m, "mod", "moderator").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut moderator = s.joined(&mod_token).await;
    let mut bob = s.joined(&bob_token).await;
    let body = json!({"permissions": {"kick_participant": false}});
    let (status, v) = s.api("PATCH", &format!("/presets/{preset}"), Some(body)).await;
    assert_eq!(status, 200, "{v}");
    moderator.until(|m| is_event(m, |e| matches!(e, SessionEvent::PermissionsUpdated { .. }))).await;
    let bob_peer = bob.peer_id.clone();
    let kick = moderator.call(|req| ClientMessage::Kick { req, peer_id: bob_peer }).await;
    assert_eq!(error_code(&kick), Some(1201));
    // Bob, of another preset, heard nothing of it.
    assert!(drain(&mut bob)
        .await
        .iter()
        .all(|m| !is_event(m, |e| matches!(e, SessionEvent::PermissionsUpdated { .. }))));
}

#[tokio::test]
async fn a_peer_cannot_grant_a_permission_it_does_not_hold() {
    let s = TestServer::start().await;
    s.preset("changer", json!({"can_change_participant_permissions": true, "show_participant_list": true})).await;
    let m = s.meeting(json!({})).await;
    let (_, changer_token) = s.participant(&m, "changer", "changer").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut changer = s.joined(&changer_token).await;
    let mut bob = s.joined(&bob_token).await;
    let bob_peer = bob.peer_id.clone();
    let grant_kick = PermissionsPatch { kick_participant: Some(true), ..Default::default() };
    let refused = changer
        .call(|req| ClientMessage::UpdatePermissions { req, peer_ids: vec![bob_peer.clone()], patch: grant_kick })
        .await;
    assert_eq!(error_code(&refused), Some(1201), "{refused:?}");
    assert!(drain(&mut bob).await.is_empty(), "nothing changed for bob");
    assert_eq!(error_code(&bob.call(|req| ClientMessage::KickAll { req }).await), Some(1201));
    // What the sender holds it may grant.
    let grant_list = PermissionsPatch { show_participant_list: Some(true), ..Default::default() };
    let granted =
        changer.call(|req| ClientMessage::UpdatePermissions { req, peer_ids: vec![bob_peer], patch: grant_list }).await;
    assert!(matches!(granted, ServerMessage::Reply { .. }), "{granted:?}");
}
