//! Property tests: random sequences of commands, server actions, faults (drops, the server
//! offline, server restarts) and time against the real room machine. Checked after every step:
//! the room's invariants ([`crate::harness::invariants`]), no panic, `roomLeft` at most once per
//! transition (and nothing at all after a terminal one), no command succeeds in a terminal state,
//! the roster never holds the participant itself, and every request settles exactly once.

use crate::harness;

use convene_core::permissions::{PermissionsPatch, WaitingRoomType};
use convene_core::{Actor, Command, EndReason, Event, LeaveState, Output, RoomState};
use harness::World;
use proptest::prelude::*;

const ALIASES: [&str; 4] = ["host", "bob", "carol", "guest"];

#[derive(Debug, Clone)]
enum Op {
    Cmd { who: usize, cmd: u8, target: usize },
    Drop(usize),
    ApiKickAll,
    ApiKick(usize),
    Offline,
    Online,
    Restart,
    SetActive(bool),
    Wait(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..4usize, 0..10u8, 0..4usize).prop_map(|(who, cmd, target)| Op::Cmd { who, cmd, target }),
        2 => (0..4usize).prop_map(Op::Drop),
        1 => Just(Op::ApiKickAll),
        1 => (0..4usize).prop_map(Op::ApiKick),
        1 => Just(Op::Offline),
        1 => Just(Op::Online),
        1 => Just(Op::Restart),
        1 => any::<bool>().prop_map(Op::SetActive),
        3 => prop_oneof![0..500u64, 500..5_000u64, 5_000..200_000u64].prop_map(Op::Wait),
    ]
}

fn world() -> World {
    populated(World::with_keep_alive(3_000))
}

/// A world whose restarts are takeovers restoring from an event log of `capacity` events.
fn logging_world(capacity: usize) -> World {
    populated(World::with_event_log(3_000, capacity))
}

fn populated(mut w: World) -> World {
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_participant", None);
    w.add(
        "carol",
        "group_call_participant",
        Some(PermissionsPatch { show_participant_list: Some(false), ..Default::default() }),
    );
    let wait = PermissionsPatch { waiting_room_type: Some(WaitingRoomType::SkipOnAccept), ..Default::default() };
    w.add("guest", "group_call_participant", Some(wait));
    // Start in session so that random operations reach deep states often.
    for alias in ALIASES {
        w.run(alias, Command::Join).expect("join");
    }
    w
}

fn command(w: &World, cmd: u8, target: &str) -> Command {
    let id = w.server.peer_id_of(target).unwrap_or_else(|| target.to_owned());
    match cmd {
        0 => Command::Join,
        1 => Command::Leave,
        2 => Command::Kick { peer_id: id },
        3 => Command::KickAll,
        4 => Command::AcceptWaiting { ids: vec![id] },
        5 => Command::AcceptAllWaiting,
        6 => Command::RejectWaiting { id },
        7 => Command::UpdatePermissions {
            ids: vec![id],
            patch: PermissionsPatch {
                kick_participant: Some(true),
                accept_waiting_requests: Some(true),
                ..Default::default()
            },
        },
        8 => Command::StartRecording { allow_multiple: false },
        _ => Command::StopRecording { id: None },
    }
}

/// Checks the event log of one client: roomLeft once per transition, nothing after a terminal one.
fn check_events(alias: &str, events: &[Event]) -> Result<(), TestCaseError> {
    let mut last_left: Option<&LeaveState> = None;
    let mut terminal_at: Option<usize> = None;
    for (i, e) in events.iter().enumerate() {
        if let Some(t) = terminal_at {
            return Err(TestCaseError::fail(format!("{alias}: event {e:?} at {i} after the terminal roomLeft at {t}")));
        }
        match e {
            Event::RoomLeft { state } => {
                if let Some(prev) = last_left {
                    prop_assert_ne!(
                        prev.room_state(),
                        state.room_state(),
                        "{}: two roomLeft without a transition",
                        alias
                    );
                }
                if state.room_state().is_terminal() {
                    terminal_at = Some(i);
                }
                last_left = Some(state);
            }
            Event::RoomJoined { .. } | Event::Waitlisted => last_left = None,
            _ => {}
        }
    }
    Ok(())
}

pub(crate) fn check_world(w: &World) -> Result<(), TestCaseError> {
    if let Err(broken) = harness::invariants::check_world(w) {
        return Err(TestCaseError::fail(broken));
    }
    for (alias, client) in &w.clients {
        check_events(alias, &client.events)?;
        let core = &client.core;
        if let Some(me) = core.peer_id() {
            prop_assert!(!core.roster().joined().contains_key(me), "{} holds itself in joined", alias);
            prop_assert!(!core.roster().waitlisted().contains_key(me), "{} holds itself in waitlisted", alias);
        }
        if core.room_state().is_terminal() {
            prop_assert!(core.is_terminated(), "{} is terminal but not terminated", alias);
            prop_assert_eq!(core.pending_requests(), 0);
        }
        if core.room_state() == RoomState::Joined {
            prop_assert!(core.session().is_some(), "{} joined without a session", alias);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        run_random(world(), ops)?;
    }

    /// As above, with restarts that are takeovers restoring from an event log (cluster mode):
    /// the room's events are logged before they go out, and the clients that resume after a
    /// takeover hold the server's truth, whether replayed or (past a short log) sent a snapshot.
    #[test]
    fn random_sequences_with_takeovers_from_the_event_log_keep_the_invariants(
        ops in proptest::collection::vec(op(), 1..60),
        capacity in prop_oneof![Just(4usize), Just(4096usize)],
    ) {
        run_random(logging_world(capacity), ops)?;
    }

    #[test]
    fn malformed_frames_never_panic_or_change_state(frames in proptest::collection::vec(".{0,200}", 1..20)) {
        let mut w = world();
        let now = w.now;
        let before_state = w.core("host").room_state();
        let before_seq = w.core("host").last_seq();
        let core = &mut w.clients.get_mut("host").unwrap().core;
        for f in frames {
            if core.handle_frame(now, &f).is_ok() {
                // Random text that happens to be a valid frame is fine; drain what it caused.
                while core.poll_output().is_some() {}
                return Ok(());
            }
            prop_assert!(core.poll_output().is_none(), "a refused frame outputs nothing");
        }
        prop_assert_eq!(core.room_state(), before_state);
        prop_assert_eq!(core.last_seq(), before_seq);
    }
}

/// Runs `ops` on `w`, checking the world after each and that every request settles at the end.
fn run_random(mut w: World, ops: Vec<Op>) -> Result<(), TestCaseError> {
    for op in ops {
        match op {
            Op::Cmd { who, cmd, target } => {
                let alias = ALIASES[who];
                let command = command(&w, cmd, ALIASES[target]);
                let terminal = w.core(alias).room_state().is_terminal();
                let state = w.core(alias).room_state();
                let result = w.issue(alias, command);
                if terminal {
                    prop_assert_eq!(result.clone().map_err(|e| e.code()), Err(4501), "{} in {}", alias, state);
                    let client = w.clients.get_mut(alias).unwrap();
                    prop_assert!(client.core.poll_output().is_none(), "a refused command outputs nothing");
                }
                if let Err(e) = &result {
                    prop_assert_eq!(w.core(alias).room_state(), state, "a refused command changes nothing: {}", e);
                }
                w.settle();
            }
            Op::Drop(who) => w.drop_connection(ALIASES[who]),
            Op::ApiKickAll => {
                let now = w.now;
                w.server.end_session(now, EndReason::HostEndedMeeting, Actor::Api);
                w.settle();
            }
            Op::ApiKick(who) => {
                let now = w.now;
                w.server.api_kick(now, ALIASES[who]);
                w.settle();
            }
            Op::Offline => {
                let now = w.now;
                w.server.set_online(now, false);
                w.settle();
            }
            Op::Online => {
                let now = w.now;
                w.server.set_online(now, true);
                w.settle();
            }
            Op::Restart => {
                let now = w.now;
                w.server.restart(now);
                w.settle();
            }
            Op::SetActive(active) => {
                let now = w.now;
                w.server.set_active(now, active);
            }
            Op::Wait(ms) => w.advance(ms),
        }
        check_world(&w)?;
    }
    // Given time and a reachable server, every request settles.
    let now = w.now;
    w.server.set_online(now, true);
    w.advance(3_600_000);
    check_world(&w)?;
    for (alias, client) in &w.clients {
        prop_assert_eq!(client.core.pending_requests(), 0, "{} has unsettled requests", alias);
        prop_assert!(client.core.poll_timeout().is_none() || !client.core.room_state().is_terminal());
    }
    Ok(())
}

#[test]
fn a_refused_command_in_a_terminal_state_outputs_nothing() {
    let mut w = world();
    w.run("host", Command::Leave).unwrap();
    assert_eq!(w.core("host").room_state(), RoomState::Left);
    for cmd in 0..10 {
        let c = command(&w, cmd, "bob");
        assert_eq!(w.issue("host", c).unwrap_err().code(), 4501);
    }
    let client = w.clients.get_mut("host").unwrap();
    assert!(!matches!(client.core.poll_output(), Some(Output::Transmit(_))));
}
