//! A takeover from the event log (cluster mode): the room that takes a live session over
//! restores each peer's replay from the log, so a client that resumes on it gets exactly what it
//! would have got from the room that died, under the same sequence numbers; past the log's reach,
//! a snapshot.

use convene_core::permissions::PermissionsPatch;
use convene_core::proto::{ClientMessage, Resume, ServerMessage, SessionEvent, PROTOCOL_VERSION};
use convene_core::Command;

use crate::harness::World;

/// Host, bob, carol and dave in a session; carol's connection drops; the host kicks bob while
/// she is away, and with `patch` changes dave's permissions (a change the store does not keep).
/// Then, with `takeover`, the server's room dies and another takes the session over from a log
/// of `capacity` events; then carol resumes. What the server sent carol's new connection, from
/// its welcome on, and the world.
fn carol_away_then_resumes(takeover: bool, capacity: usize, patch: bool) -> (Vec<ServerMessage>, World) {
    let mut w = World::with_event_log(60_000, capacity);
    w.add("host", "group_call_host", None);
    for alias in ["bob", "carol", "dave"] {
        w.add(alias, "group_call_participant", None);
    }
    for alias in ["host", "bob", "carol", "dave"] {
        w.run(alias, Command::Join).expect("join");
    }
    w.drop_connection("carol");
    let bob = w.server.peer_id_of("bob").expect("bob is in");
    w.run("host", Command::Kick { peer_id: bob }).expect("kick");
    if patch {
        let dave = w.server.peer_id_of("dave").expect("dave is in");
        let patch = PermissionsPatch { kick_participant: Some(true), ..Default::default() };
        w.run("host", Command::UpdatePermissions { ids: vec![dave], patch }).expect("patch");
    }
    let before = w.client("carol").received.len();
    if takeover {
        let now = w.now;
        w.server.restart(now);
    }
    w.advance(10_000);
    let received = w.client("carol").received[before..].to_vec();
    (received, w)
}

fn events(messages: &[ServerMessage]) -> Vec<(u64, SessionEvent)> {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Event { seq, event } => Some((*seq, event.clone())),
            _ => None,
        })
        .collect()
}

fn resumed(messages: &[ServerMessage]) -> bool {
    matches!(messages.first(), Some(ServerMessage::Welcome { resumed: true, .. }))
}

#[test]
fn after_a_takeover_a_resume_replays_exactly_what_the_dead_room_would_have() {
    let (after_takeover, w) = carol_away_then_resumes(true, 4096, false);
    let (without, _) = carol_away_then_resumes(false, 4096, false);
    assert!(resumed(&after_takeover) && resumed(&without), "carol resumed both times");
    let replayed = events(&after_takeover);
    assert_eq!(replayed, events(&without), "the same events under the same numbers");
    assert!(
        replayed.iter().any(|(_, e)| matches!(e, SessionEvent::PeerKicked { .. })),
        "the kick she missed is replayed: {replayed:?}"
    );
    assert!(!replayed.iter().any(|(_, e)| matches!(e, SessionEvent::Joined { .. })), "no snapshot");
    assert_eq!(w.server.replaying_restarts, 1);
    assert!(w.server.violations.is_empty(), "{:?}", w.server.violations);
}

#[test]
fn the_room_that_takes_over_numbers_on_as_the_dead_room_would_have() {
    let next_kick = |takeover: bool| {
        let (_, mut w) = carol_away_then_resumes(takeover, 4096, false);
        let dave = w.server.peer_id_of("dave").expect("dave is in");
        w.run("host", Command::Kick { peer_id: dave }).expect("kick");
        assert!(w.server.violations.is_empty(), "{:?}", w.server.violations);
        let carol = events(&w.client("carol").received);
        (carol.len(), carol.last().cloned())
    };
    assert_eq!(next_kick(true), next_kick(false), "the same events, the last under the same number");
}

#[test]
fn a_takeover_whose_room_differs_from_the_logged_one_sends_a_snapshot_after_the_replay() {
    // Dave's patched permissions are not in the store: the room that takes over has his
    // preset's, so everyone's view of the room is refreshed once the replay is through.
    let (after_takeover, w) = carol_away_then_resumes(true, 4096, true);
    let (without, _) = carol_away_then_resumes(false, 4096, true);
    let got = events(&after_takeover);
    let exact = events(&without);
    assert_eq!(got[..exact.len()], exact[..], "the replay first, as the dead room would have sent it");
    assert!(matches!(&got[exact.len()..], [(_, SessionEvent::Joined { .. })]), "then one snapshot: {got:?}");
    assert!(w.server.violations.is_empty(), "{:?}", w.server.violations);
}

#[test]
fn a_resume_from_before_what_the_log_still_holds_gets_a_snapshot() {
    // One event kept: the kick carol missed is no longer in the log.
    let (received, w) = carol_away_then_resumes(true, 1, true);
    let got = events(&received);
    assert!(resumed(&received));
    assert!(matches!(got.as_slice(), [(_, SessionEvent::Joined { .. })]), "one snapshot: {got:?}");
    assert!(w.server.violations.is_empty(), "{:?}", w.server.violations);
}

#[test]
fn after_a_takeover_a_peer_is_never_replayed_what_went_to_the_others_before_it_joined() {
    let mut w = World::with_event_log(60_000, 4096);
    w.add("host", "group_call_host", None);
    for alias in ["bob", "carol", "dave"] {
        w.add(alias, "group_call_participant", None);
    }
    for alias in ["host", "bob", "carol"] {
        w.run(alias, Command::Join).expect("join");
    }
    w.run("dave", Command::Join).expect("dave joins last");
    let dave = w.server.peer_id_of("dave").expect("dave is in");
    let joined_at = events(&w.client("dave").received)
        .iter()
        .find_map(|(seq, e)| matches!(e, SessionEvent::Joined { .. }).then_some(*seq))
        .expect("dave's snapshot");
    let now = w.now;
    w.server.restart(now);
    // A resume that claims to have seen nothing (no client of dave's would; a forged one may).
    w.settle();
    w.server.outbox.clear();
    let conn = w.server.open().expect("online");
    let token = w.server.token_of("dave");
    let resume = Some(Resume { peer_id: dave, last_seq: 0 });
    w.server.handle(now, conn, ClientMessage::Hello { protocol: PROTOCOL_VERSION, token, resume });
    let sent: Vec<ServerMessage> = w.server.outbox.iter().filter(|(c, _)| *c == conn).map(|(_, m)| m.clone()).collect();
    let before_its_join: Vec<(u64, SessionEvent)> =
        events(&sent).into_iter().filter(|(seq, _)| *seq < joined_at).collect();
    assert!(before_its_join.is_empty(), "replayed what went to the others: {before_its_join:?}");
    assert!(
        events(&sent).iter().any(|(_, e)| matches!(e, SessionEvent::Joined { .. })),
        "a snapshot instead: {sent:?}"
    );
}
