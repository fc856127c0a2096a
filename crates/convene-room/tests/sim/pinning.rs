//! Pinning as a host control: `participant.pin()` / `unpin()` and `meeting.self.pin()`, with
//! `pin_participant`, seen by everyone (a late joiner and a resume too), kept across a restart.
//! Both sides' checks: the core refuses locally, the room refuses a crafted frame, and neither
//! changes anything.

use convene_core::permissions::PermissionsPatch;
use convene_core::proto::{ClientMessage, ErrorCode, ServerMessage};
use convene_core::{ClientError, Command, Event, RoomState};

use crate::harness::World;

/// Whether `watcher` sees `of` pinned (its own pin when they are the same).
fn pinned_at(w: &World, watcher: &str, of: &str) -> Option<bool> {
    if watcher == of {
        return Some(w.core(of).is_pinned());
    }
    let peer_id = w.core(of).peer_id()?.to_owned();
    w.core(watcher).roster().joined().get(&peer_id).map(|p| p.pinned)
}

fn pins(w: &World, alias: &str) -> Vec<(String, bool)> {
    let events = &w.client(alias).events;
    events
        .iter()
        .filter_map(|e| match e {
            Event::PinUpdate { peer_id, pinned } => Some((peer_id.clone(), *pinned)),
            _ => None,
        })
        .collect()
}

fn three_joined() -> World {
    let mut w = World::new();
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_participant", None);
    w.add("carol", "group_call_participant", None);
    for alias in ["host", "bob", "carol"] {
        w.run(alias, Command::Join).unwrap();
    }
    w
}

#[test]
fn a_pin_reaches_everyone_once_and_an_unpin_too() {
    let mut w = three_joined();
    let bob = w.core("bob").peer_id().unwrap().to_owned();
    w.run("host", Command::Pin { id: bob.clone(), pinned: true }).unwrap();
    for alias in ["host", "bob", "carol"] {
        assert_eq!(pinned_at(&w, alias, "bob"), Some(true), "{alias} sees bob pinned");
        assert_eq!(pins(&w, alias), vec![(bob.clone(), true)], "{alias}: one pinned event");
    }
    assert_eq!(w.count("bob", "pinned"), 1, "bob's own meeting.self pinned");
    // Pinning what is pinned answers and tells no one again.
    w.run("host", Command::Pin { id: bob.clone(), pinned: true }).unwrap();
    assert_eq!(pins(&w, "carol").len(), 1);
    // A late joiner's snapshot has the pin; so does the participant's own after a resume.
    w.add("dave", "group_call_participant", None);
    w.run("dave", Command::Join).unwrap();
    assert_eq!(pinned_at(&w, "dave", "bob"), Some(true));
    w.drop_connection("bob");
    w.advance(5_000);
    w.settle();
    assert_eq!(w.core("bob").room_state(), RoomState::Joined);
    assert_eq!(pinned_at(&w, "bob", "bob"), Some(true), "kept over a resume");

    w.run("host", Command::Pin { id: bob.clone(), pinned: false }).unwrap();
    for alias in ["host", "bob", "carol", "dave"] {
        assert_eq!(pinned_at(&w, alias, "bob"), Some(false), "{alias} sees bob unpinned");
        assert_eq!(pins(&w, alias).last(), Some(&(bob.clone(), false)), "{alias}: unpinned");
    }
}

#[test]
fn a_host_pins_itself_by_its_user_id_and_a_restart_keeps_the_pin() {
    let mut w = three_joined();
    let user_id = w.core("host").self_info().user_id.clone();
    w.run("host", Command::Pin { id: user_id, pinned: true }).unwrap();
    assert!(w.core("host").is_pinned());
    assert_eq!(pinned_at(&w, "carol", "host"), Some(true));
    let now = w.now;
    w.server.restart(now);
    w.advance(10_000);
    w.settle();
    for alias in ["host", "bob", "carol"] {
        assert_eq!(w.core(alias).room_state(), RoomState::Joined, "{alias} is back");
        assert_eq!(pinned_at(&w, alias, "host"), Some(true), "{alias} still sees the host pinned");
    }
}

#[test]
fn the_core_refuses_a_pin_without_the_permission_or_a_target_and_sends_nothing() {
    let mut w = three_joined();
    let host = w.core("host").peer_id().unwrap().to_owned();
    let sent = |w: &World| w.client("bob").transmitted + w.client("host").transmitted;
    let frames = sent(&w);
    assert_eq!(
        w.run("bob", Command::Pin { id: host.clone(), pinned: true }),
        Err(ClientError::PermissionDenied { permission: "pin_participant" })
    );
    assert_eq!(
        w.run("host", Command::Pin { id: "nobody".into(), pinned: true }),
        Err(ClientError::ParticipantNotFound { peer_id: "nobody".into() })
    );
    assert_eq!(sent(&w), frames, "nothing was sent");
    w.add("late", "group_call_host", None);
    assert!(matches!(w.run("late", Command::Pin { id: host, pinned: true }), Err(ClientError::NotJoined { .. })));
    assert!(pins(&w, "carol").is_empty());
}

#[test]
fn the_room_refuses_a_crafted_pin_it_may_not_take_and_tells_no_one() {
    let mut w = World::new();
    let no_pin = PermissionsPatch { pin_participant: Some(false), ..Default::default() };
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_host", Some(no_pin));
    w.run("host", Command::Join).unwrap();
    w.run("bob", Command::Join).unwrap();
    let host_peer = w.core("host").peer_id().unwrap().to_owned();
    let host_conn = w.client("host").conn.unwrap();
    let bob_conn = w.client("bob").conn.unwrap();
    let cases = [
        (bob_conn, ClientMessage::Pin { req: 90, peer_id: host_peer, pinned: true }, ErrorCode::PermissionDenied),
        (
            host_conn,
            ClientMessage::Pin { req: 91, peer_id: "ghost".into(), pinned: true },
            ErrorCode::ParticipantNotFound,
        ),
    ];
    for (conn, msg, code) in cases {
        w.server.outbox.clear();
        let now = w.now;
        w.server.handle(now, conn, msg.clone());
        let answer = w.server.outbox.iter().find(|(c, _)| *c == conn).map(|(_, m)| m.clone());
        assert!(
            matches!(&answer, Some(ServerMessage::Error { error, .. }) if error.code == code.code()),
            "{msg:?}: {answer:?}"
        );
        assert!(
            !w.server.outbox.iter().any(|(_, m)| matches!(m, ServerMessage::Event { .. })),
            "{msg:?}: nobody was told anything"
        );
    }
    w.server.outbox.clear();
    w.settle();
    assert_eq!(pinned_at(&w, "bob", "host"), Some(false), "nobody is pinned");
}
