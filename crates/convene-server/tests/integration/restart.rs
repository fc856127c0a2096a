//! A server restart on the same data directory: the live session survives, clients resume it
//! (with a fresh snapshot, since the event log is not kept across restarts) with its pins, and it
//! can still be ended for everyone.

use crate::support;

use convene_core::proto::{ClientMessage, Resume, ServerMessage, SessionEvent};
use convene_server::DataLocation;
use serde_json::json;
use support::{fast_timings, RawClient, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_resume_the_same_session_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("convene-restart-{}", uuid::Uuid::new_v4()));
    let admin = "cvn_restart_admin_token_0123456789abcdef";
    let s = TestServer::start_with(DataLocation::Dir(dir.clone()), fast_timings(), Some(admin)).await;
    let m = s.meeting(json!({})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let mut bob = s.joined(&bob_token).await;
    host.until(|m| matches!(m, ServerMessage::Event { event: SessionEvent::PeerJoined { .. }, .. })).await;
    host.send(&ClientMessage::Pin { req: 50, peer_id: bob.peer_id.clone(), pinned: true }).await;
    let pinned = |m: &ServerMessage| matches!(m, ServerMessage::Event { event: SessionEvent::PeerUpdated { peer, .. }, .. } if peer.pinned);
    host.until(pinned).await;
    bob.until(pinned).await;
    let (status, v) = s.api("GET", &format!("/meetings/{m}/active-session"), None).await;
    assert_eq!(status, 200);
    let session_id = v["data"]["id"].as_str().unwrap().to_owned();
    s.server.shutdown().await;
    assert_eq!(bob.close_code().await, Some(1012), "told to come back");
    assert_eq!(host.close_code().await, Some(1012));

    let s = TestServer::start_with(DataLocation::Dir(dir.clone()), fast_timings(), Some(admin)).await;
    let (status, v) = s.api("GET", &format!("/meetings/{m}/active-session"), None).await;
    assert_eq!((status, v["data"]["id"].as_str()), (200, Some(session_id.as_str())), "the same session is live");
    let mut resumed = Vec::new();
    let bob_peer = bob.peer_id.clone();
    for (client, token) in [(bob, &bob_token), (host, &host_token)] {
        let resume = Resume { peer_id: client.peer_id.clone(), last_seq: client.last_seq };
        let mut again =
            RawClient::connect_resume(&s.ws_url(), token, Some(resume)).await.expect("resumed after restart");
        assert_eq!(again.peer_id, client.peer_id);
        let snapshot =
            again.until(|m| matches!(m, ServerMessage::Event { event: SessionEvent::Joined { .. }, .. })).await;
        let ServerMessage::Event { seq, event: SessionEvent::Joined { room } } = snapshot else { unreachable!() };
        assert!(seq > client.last_seq, "sequence numbers keep growing across the restart");
        assert_eq!(room.session.id, session_id);
        assert_eq!(room.peers.len(), 1, "the other participant is still in the room");
        let bob_pinned = if room.self_peer.id == bob_peer { room.self_peer.pinned } else { room.peers[0].pinned };
        assert!(bob_pinned, "the pin of bob survives the restart");
        resumed.push(again);
    }
    let (status, v) = s.api("POST", &format!("/meetings/{m}/active-session/kick-all"), None).await;
    assert_eq!((status, v["data"]["kicked_participants_count"].as_u64()), (200, Some(2)));
    for c in &mut resumed {
        c.until(|m| matches!(m, ServerMessage::Event { event: SessionEvent::SessionEnded { .. }, .. })).await;
    }
    s.server.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
