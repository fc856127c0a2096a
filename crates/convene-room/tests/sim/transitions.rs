//! Every (state, input) pair has a defined outcome, checked here.
//!
//! The fixtures cover every `RoomState` (and the sub-phases where the connection matters); the
//! inputs cover every command, every server message and session event, the transport and the
//! timer. The matches below have no wildcard over inputs, commands or message kinds, so adding a
//! state, a command, a message or an event does not compile until it has a row here.

use crate::harness;

use convene_core::permissions::{PermissionsPatch, WaitingRoomType};
use convene_core::proto::{
    MeetingInfo, Peer, ReplyData, ResumeRefusal, RoomSnapshot, SelfInfo, ServerMessage, SessionEvent, SessionInfo,
    WaitlistOutcome, WireError,
};
use convene_core::{
    Actor, ClientError, Command, EndReason, Event, Output, Participant, RecordingState, RoomState, SessionEnd,
};
use harness::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixture {
    Init,
    /// Join asked, transport open, hello sent, no welcome yet.
    Joining,
    /// Welcomed, join sent, no answer yet.
    JoinSent,
    Joined,
    Waitlisted,
    Left,
    Kicked,
    Ended,
    Rejected,
    /// Connection lost, waiting to retry.
    DisconnectedBackoff,
    /// Connection lost, a resume handshake under way.
    DisconnectedResuming,
    Failed,
}

const FIXTURES: [Fixture; 12] = [
    Fixture::Init,
    Fixture::Joining,
    Fixture::JoinSent,
    Fixture::Joined,
    Fixture::Waitlisted,
    Fixture::Left,
    Fixture::Kicked,
    Fixture::Ended,
    Fixture::Rejected,
    Fixture::DisconnectedBackoff,
    Fixture::DisconnectedResuming,
    Fixture::Failed,
];

/// Every room state has a fixture (a new state does not compile without one).
fn fixture_for(state: RoomState) -> Fixture {
    match state {
        RoomState::Init => Fixture::Init,
        RoomState::Joined => Fixture::Joined,
        RoomState::Waitlisted => Fixture::Waitlisted,
        RoomState::Left => Fixture::Left,
        RoomState::Kicked => Fixture::Kicked,
        RoomState::Ended => Fixture::Ended,
        RoomState::Rejected => Fixture::Rejected,
        RoomState::Disconnected => Fixture::DisconnectedBackoff,
        RoomState::Failed => Fixture::Failed,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Cmd(Cmd),
    WelcomeFresh,
    WelcomeResumed,
    RefusedEnded,
    RefusedKicked,
    RefusedRejected,
    RefusedExpired,
    ReplyUnknown,
    ErrorUnknownReq,
    ErrorNoReq,
    Pong,
    Ev(Ev),
    DuplicateEvent,
    MalformedFrame,
    TransportOpened,
    TransportClosed,
    Timeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Join,
    Leave,
    Kick,
    KickAll,
    Accept,
    AcceptAll,
    Reject,
    UpdatePermissions,
    StartRecording,
    StopRecording,
    PauseRecording,
    ResumeRecording,
    Pin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Joined,
    Waitlisted,
    Rejected,
    Kicked,
    SessionEnded,
    PeerJoined,
    PeerLeft,
    PeerKicked,
    WaitlistAdded,
    WaitlistRemoved,
    PermissionsUpdated,
    RecordingUpdated,
    PeerUpdated,
}

const CMDS: [Cmd; 13] = [
    Cmd::Join,
    Cmd::Leave,
    Cmd::Kick,
    Cmd::KickAll,
    Cmd::Accept,
    Cmd::AcceptAll,
    Cmd::Reject,
    Cmd::UpdatePermissions,
    Cmd::StartRecording,
    Cmd::StopRecording,
    Cmd::PauseRecording,
    Cmd::ResumeRecording,
    Cmd::Pin,
];
const EVS: [Ev; 13] = [
    Ev::Joined,
    Ev::Waitlisted,
    Ev::Rejected,
    Ev::Kicked,
    Ev::SessionEnded,
    Ev::PeerJoined,
    Ev::PeerLeft,
    Ev::PeerKicked,
    Ev::WaitlistAdded,
    Ev::WaitlistRemoved,
    Ev::PermissionsUpdated,
    Ev::RecordingUpdated,
    Ev::PeerUpdated,
];

fn all_inputs() -> Vec<Input> {
    let mut v: Vec<Input> = CMDS.iter().map(|c| Input::Cmd(*c)).collect();
    v.extend([
        Input::WelcomeFresh,
        Input::WelcomeResumed,
        Input::RefusedEnded,
        Input::RefusedKicked,
        Input::RefusedRejected,
        Input::RefusedExpired,
        Input::ReplyUnknown,
        Input::ErrorUnknownReq,
        Input::ErrorNoReq,
        Input::Pong,
    ]);
    v.extend(EVS.iter().map(|e| Input::Ev(*e)));
    v.extend([
        Input::DuplicateEvent,
        Input::MalformedFrame,
        Input::TransportOpened,
        Input::TransportClosed,
        Input::Timeout,
    ]);
    v
}

/// Every command has an input (a new command does not compile without one).
fn cmd_of(command: &Command) -> Cmd {
    match command {
        Command::Join => Cmd::Join,
        Command::Leave => Cmd::Leave,
        Command::Kick { .. } => Cmd::Kick,
        Command::KickAll => Cmd::KickAll,
        Command::AcceptWaiting { .. } => Cmd::Accept,
        Command::AcceptAllWaiting => Cmd::AcceptAll,
        Command::RejectWaiting { .. } => Cmd::Reject,
        Command::UpdatePermissions { .. } => Cmd::UpdatePermissions,
        Command::StartRecording { .. } => Cmd::StartRecording,
        Command::StopRecording { .. } => Cmd::StopRecording,
        Command::PauseRecording { .. } => Cmd::PauseRecording,
        Command::ResumeRecording { .. } => Cmd::ResumeRecording,
        Command::Pin { .. } => Cmd::Pin,
    }
}

/// Every server message kind has an input.
fn input_of_message(msg: &ServerMessage) -> Input {
    match msg {
        ServerMessage::Welcome { resumed: false, .. } => Input::WelcomeFresh,
        ServerMessage::Welcome { resumed: true, .. } => Input::WelcomeResumed,
        ServerMessage::ResumeRefused { refusal: ResumeRefusal::SessionEnded { .. } } => Input::RefusedEnded,
        ServerMessage::ResumeRefused { refusal: ResumeRefusal::Kicked { .. } } => Input::RefusedKicked,
        ServerMessage::ResumeRefused { refusal: ResumeRefusal::Rejected { .. } } => Input::RefusedRejected,
        ServerMessage::ResumeRefused { refusal: ResumeRefusal::Expired } => Input::RefusedExpired,
        ServerMessage::Reply { .. } => Input::ReplyUnknown,
        ServerMessage::Error { req: Some(_), .. } => Input::ErrorUnknownReq,
        ServerMessage::Error { req: None, .. } => Input::ErrorNoReq,
        ServerMessage::Event { event, .. } => Input::Ev(ev_of(event)),
        ServerMessage::Pong => Input::Pong,
    }
}

/// Every session event has an input.
fn ev_of(event: &SessionEvent) -> Ev {
    match event {
        SessionEvent::Joined { .. } => Ev::Joined,
        SessionEvent::Waitlisted => Ev::Waitlisted,
        SessionEvent::Rejected { .. } => Ev::Rejected,
        SessionEvent::Kicked { .. } => Ev::Kicked,
        SessionEvent::SessionEnded { .. } => Ev::SessionEnded,
        SessionEvent::PeerJoined { .. } => Ev::PeerJoined,
        SessionEvent::PeerLeft { .. } => Ev::PeerLeft,
        SessionEvent::PeerKicked { .. } => Ev::PeerKicked,
        SessionEvent::WaitlistAdded { .. } => Ev::WaitlistAdded,
        SessionEvent::WaitlistRemoved { .. } => Ev::WaitlistRemoved,
        SessionEvent::PermissionsUpdated { .. } => Ev::PermissionsUpdated,
        SessionEvent::RecordingUpdated { .. } => Ev::RecordingUpdated,
        SessionEvent::PeerUpdated { .. } => Ev::PeerUpdated,
    }
}

/// What a command returns: accepted (a request id) or refused with a code.
type CmdOutcome = Result<(), u16>;

/// THE TABLE, commands: what each command returns in each fixture.
fn command_outcome(f: Fixture, c: Cmd) -> CmdOutcome {
    use Fixture::*;
    match (f, c) {
        (Left | Kicked | Ended | Rejected | Failed, _) => Err(4501),
        (Init, Cmd::Join) => Ok(()),
        (Joining | JoinSent | Joined | Waitlisted | DisconnectedBackoff | DisconnectedResuming, Cmd::Join) => Err(4503),
        (Init, Cmd::Leave) => Err(1205),
        (Joining | JoinSent | Joined | Waitlisted | DisconnectedBackoff | DisconnectedResuming, Cmd::Leave) => Ok(()),
        (Joined, Cmd::StopRecording | Cmd::PauseRecording | Cmd::ResumeRecording) => Err(1004),
        (
            Joined,
            Cmd::Kick
            | Cmd::KickAll
            | Cmd::Accept
            | Cmd::AcceptAll
            | Cmd::Reject
            | Cmd::UpdatePermissions
            | Cmd::StartRecording
            | Cmd::Pin,
        ) => Ok(()),
        (
            Init | Joining | JoinSent | Waitlisted | DisconnectedBackoff | DisconnectedResuming,
            Cmd::Kick
            | Cmd::KickAll
            | Cmd::Accept
            | Cmd::AcceptAll
            | Cmd::Reject
            | Cmd::UpdatePermissions
            | Cmd::StartRecording
            | Cmd::StopRecording
            | Cmd::PauseRecording
            | Cmd::ResumeRecording
            | Cmd::Pin,
        ) => Err(1205),
    }
}

/// THE TABLE, states: the room state after each input in each fixture.
fn state_after(f: Fixture, i: Input) -> RoomState {
    use Fixture::*;
    use RoomState as S;
    let unchanged = f.room_state();
    match (f, i) {
        (_, Input::Cmd(c)) => match (f, c, command_outcome(f, c)) {
            // A leave with no connection to tell, or while joining, leaves at once.
            (Joining | DisconnectedBackoff | DisconnectedResuming, Cmd::Leave, Ok(())) => S::Left,
            _ => unchanged,
        },
        (Joining, Input::WelcomeFresh | Input::WelcomeResumed) => S::Init,
        (DisconnectedResuming, Input::WelcomeResumed) => S::Joined,
        (DisconnectedResuming, Input::WelcomeFresh | Input::RefusedExpired | Input::ErrorNoReq) => S::Failed,
        (DisconnectedResuming, Input::RefusedEnded) => S::Ended,
        (DisconnectedResuming, Input::RefusedKicked) => S::Kicked,
        (DisconnectedResuming, Input::RefusedRejected) => S::Rejected,
        (
            _,
            Input::WelcomeFresh
            | Input::WelcomeResumed
            | Input::RefusedEnded
            | Input::RefusedKicked
            | Input::RefusedRejected
            | Input::RefusedExpired,
        ) => unchanged,
        (Joining, Input::ErrorNoReq) => S::Init,
        (_, Input::ErrorNoReq | Input::ReplyUnknown | Input::ErrorUnknownReq | Input::Pong) => unchanged,
        (JoinSent | Waitlisted, Input::Ev(Ev::Joined)) => S::Joined,
        (JoinSent, Input::Ev(Ev::Waitlisted)) => S::Waitlisted,
        (Waitlisted, Input::Ev(Ev::Rejected)) => S::Rejected,
        (Joined | Waitlisted, Input::Ev(Ev::Kicked)) => S::Kicked,
        (Joined | Waitlisted, Input::Ev(Ev::SessionEnded)) => S::Ended,
        (_, Input::Ev(_)) => unchanged,
        (_, Input::DuplicateEvent | Input::MalformedFrame | Input::TransportOpened) => unchanged,
        (Joining | JoinSent, Input::TransportClosed | Input::Timeout) => S::Init,
        (Joined | Waitlisted, Input::TransportClosed | Input::Timeout) => S::Disconnected,
        (DisconnectedBackoff | DisconnectedResuming, Input::TransportClosed | Input::Timeout) => S::Disconnected,
        (Init | Left | Kicked | Ended | Rejected | Failed, Input::TransportClosed | Input::Timeout) => unchanged,
    }
}

impl Fixture {
    fn room_state(self) -> RoomState {
        match self {
            Fixture::Init | Fixture::Joining | Fixture::JoinSent => RoomState::Init,
            Fixture::Joined => RoomState::Joined,
            Fixture::Waitlisted => RoomState::Waitlisted,
            Fixture::Left => RoomState::Left,
            Fixture::Kicked => RoomState::Kicked,
            Fixture::Ended => RoomState::Ended,
            Fixture::Rejected => RoomState::Rejected,
            Fixture::DisconnectedBackoff | Fixture::DisconnectedResuming => RoomState::Disconnected,
            Fixture::Failed => RoomState::Failed,
        }
    }
}

/// A world where `me` is in the fixture's state, with `boss` (a host) and `bob` joined and
/// `wally` waiting (when the fixture has a session).
fn build(f: Fixture) -> World {
    let mut w = World::new();
    let wait = PermissionsPatch { waiting_room_type: Some(WaitingRoomType::SkipOnAccept), ..Default::default() };
    let me_patch = matches!(f, Fixture::Waitlisted | Fixture::Rejected).then_some(wait);
    w.add("me", "group_call_host", me_patch);
    w.add("boss", "group_call_host", None);
    w.add("bob", "group_call_participant", None);
    w.add("wally", "group_call_participant", Some(wait));
    let join = |w: &mut World, who: &str| w.run(who, Command::Join).expect("join");
    match f {
        Fixture::Init => {}
        Fixture::Joining | Fixture::JoinSent => {
            let now = w.now;
            let core = &mut w.clients.get_mut("me").unwrap().core;
            core.command(now, Command::Join).unwrap();
            assert_eq!(core.poll_output(), Some(Output::Connect));
            core.handle_transport_opened(now);
            assert!(matches!(core.poll_output(), Some(Output::Transmit(_))));
            if f == Fixture::JoinSent {
                core.handle_server_message(now, welcome(false, "peer-me"));
                assert!(matches!(core.poll_output(), Some(Output::Event(_))));
                assert!(matches!(core.poll_output(), Some(Output::Transmit(_))));
            }
        }
        _ => {
            join(&mut w, "boss");
            join(&mut w, "bob");
            join(&mut w, "wally");
            join(&mut w, "me");
            match f {
                Fixture::Left => drop(w.run("me", Command::Leave)),
                Fixture::Kicked => {
                    let id = w.core("me").peer_id().unwrap().to_owned();
                    w.run("boss", Command::Kick { peer_id: id }).unwrap();
                }
                Fixture::Ended => drop(w.run("boss", Command::KickAll).unwrap()),
                Fixture::Rejected => {
                    let id = w.core("me").peer_id().unwrap().to_owned();
                    w.run("boss", Command::RejectWaiting { id }).unwrap();
                }
                Fixture::DisconnectedBackoff | Fixture::DisconnectedResuming => {
                    w.drop_connection("me");
                    if f == Fixture::DisconnectedResuming {
                        // Fire the retry, open the transport, but hold the server's answer.
                        let now = w.core("me").poll_timeout().unwrap();
                        w.now = now;
                        let core = &mut w.clients.get_mut("me").unwrap().core;
                        core.handle_timeout(now);
                        while core.poll_output().is_some() {}
                        core.handle_transport_opened(now);
                        while core.poll_output().is_some() {}
                    }
                }
                Fixture::Failed => {
                    let now = w.now;
                    w.server.set_online(now, false);
                    w.settle();
                    w.advance(600_000);
                }
                _ => {}
            }
        }
    }
    w
}

fn peer(id: &str) -> Peer {
    Peer {
        id: id.into(),
        user_id: format!("u-{id}"),
        name: id.into(),
        picture: None,
        custom_participant_id: id.into(),
        preset_name: "group_call_participant".into(),
        hidden: false,
        pinned: false,
    }
}

fn welcome(resumed: bool, peer_id: &str) -> ServerMessage {
    ServerMessage::Welcome {
        protocol: 1,
        peer_id: peer_id.into(),
        resumed,
        self_info: SelfInfo { permissions: convene_core::Permissions::group_call_host(), ..SelfInfo::default() },
        meeting: MeetingInfo { id: "meeting-1".into(), title: "t".into() },
    }
}

fn end() -> SessionEnd {
    SessionEnd { session_id: "session-1".into(), reason: EndReason::HostEndedMeeting, ended_by: Actor::Api }
}

/// Events as a server might send them, including the local participant itself in the roster (a
/// well-behaved server never does; the core must still never hold itself).
fn session_event(e: Ev, me: &str) -> SessionEvent {
    match e {
        Ev::Joined => SessionEvent::Joined {
            room: RoomSnapshot {
                self_peer: peer(me),
                session: SessionInfo { id: "session-1".into(), started_at: "t".into() },
                peers: vec![peer("zed"), peer(me)],
                waitlisted: vec![],
                recording: RecordingState::Idle,
                recording_id: None,
            },
        },
        Ev::Waitlisted => SessionEvent::Waitlisted,
        Ev::Rejected => SessionEvent::Rejected { by: Actor::Api },
        Ev::Kicked => SessionEvent::Kicked { by: Actor::Api },
        Ev::SessionEnded => SessionEvent::SessionEnded { end: end() },
        Ev::PeerJoined => SessionEvent::PeerJoined { peer: peer(me) },
        Ev::PeerLeft => SessionEvent::PeerLeft { peer_id: "zed".into() },
        Ev::PeerKicked => SessionEvent::PeerKicked { peer_id: "zed".into(), by: Actor::Api },
        Ev::WaitlistAdded => SessionEvent::WaitlistAdded { peer: peer("yan") },
        Ev::WaitlistRemoved => SessionEvent::WaitlistRemoved { peer_id: "yan".into(), outcome: WaitlistOutcome::Left },
        Ev::PermissionsUpdated => SessionEvent::PermissionsUpdated {
            patch: PermissionsPatch { pin_participant: Some(false), ..Default::default() },
            by: Actor::Api,
        },
        Ev::RecordingUpdated => {
            SessionEvent::RecordingUpdated { state: RecordingState::Recording, id: Some("r1".into()) }
        }
        Ev::PeerUpdated => SessionEvent::PeerUpdated { peer: Peer { pinned: true, ..peer("zed") }, by: Actor::Api },
    }
}

fn command_for(w: &World, c: Cmd) -> Command {
    let id = |alias: &str| w.server.peer_id_of(alias).unwrap_or_else(|| alias.to_owned());
    match c {
        Cmd::Join => Command::Join,
        Cmd::Leave => Command::Leave,
        Cmd::Kick => Command::Kick { peer_id: id("bob") },
        Cmd::KickAll => Command::KickAll,
        Cmd::Accept => Command::AcceptWaiting { ids: vec![id("wally")] },
        Cmd::AcceptAll => Command::AcceptAllWaiting,
        Cmd::Reject => Command::RejectWaiting { id: id("wally") },
        Cmd::UpdatePermissions => Command::UpdatePermissions {
            ids: vec![id("bob")],
            patch: PermissionsPatch { pin_participant: Some(true), ..Default::default() },
        },
        Cmd::StartRecording => Command::StartRecording { allow_multiple: false },
        Cmd::StopRecording => Command::StopRecording { id: None },
        Cmd::PauseRecording => Command::PauseRecording { id: None },
        Cmd::ResumeRecording => Command::ResumeRecording { id: None },
        Cmd::Pin => Command::Pin { id: id("bob"), pinned: true },
    }
}

/// Applies one input to `me`; returns the command outcome (for commands) and the outputs.
fn apply(w: &mut World, i: Input) -> (Option<CmdOutcome>, Vec<Output>) {
    let command = match i {
        Input::Cmd(c) => Some(command_for(w, c)),
        _ => None,
    };
    let now = w.now;
    let core: &mut Participant = &mut w.clients.get_mut("me").unwrap().core;
    let my_peer = core.peer_id().unwrap_or("peer-me").to_owned();
    let next_seq = core.last_seq() + 1;
    let mut outcome = None;
    let message = match i {
        Input::Cmd(c) => {
            let command = command.expect("built above");
            assert_eq!(cmd_of(&command), c);
            outcome = Some(core.command(now, command).map(|_| ()).map_err(|e: ClientError| e.code()));
            None
        }
        Input::WelcomeFresh => Some(welcome(false, "someone-new")),
        Input::WelcomeResumed => Some(welcome(true, &my_peer)),
        Input::RefusedEnded => {
            Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::SessionEnded { end: end() } })
        }
        Input::RefusedKicked => {
            Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::Kicked { by: Actor::Api } })
        }
        Input::RefusedRejected => {
            Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::Rejected { by: Actor::Api } })
        }
        Input::RefusedExpired => Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::Expired }),
        Input::ReplyUnknown => Some(ServerMessage::Reply { req: 9_999, data: ReplyData::default() }),
        Input::ErrorUnknownReq => {
            Some(ServerMessage::Error { req: Some(9_999), error: WireError { code: 1201, message: "no".into() } })
        }
        Input::ErrorNoReq => {
            Some(ServerMessage::Error { req: None, error: WireError { code: 4, message: "bad".into() } })
        }
        Input::Pong => Some(ServerMessage::Pong),
        Input::Ev(e) => Some(ServerMessage::Event { seq: next_seq, event: session_event(e, &my_peer) }),
        Input::DuplicateEvent => {
            Some(ServerMessage::Event { seq: next_seq - 1, event: SessionEvent::SessionEnded { end: end() } })
        }
        Input::MalformedFrame => {
            assert!(core.handle_frame(now, r#"{"type":"event","seq":"x"}"#).is_err());
            assert!(core.handle_frame(now, "not json").is_err());
            None
        }
        Input::TransportOpened => {
            core.handle_transport_opened(now);
            None
        }
        Input::TransportClosed => {
            core.handle_transport_closed(now);
            None
        }
        Input::Timeout => {
            // Far enough for every deadline: request timeouts, attempt timeouts, keep-alive.
            core.handle_timeout(now + 3_600_000);
            None
        }
    };
    if let Some(msg) = message {
        if i != Input::DuplicateEvent {
            assert_eq!(input_of_message(&msg), i, "input kinds line up");
        }
        core.handle_server_message(now, msg);
    }
    let mut outputs = Vec::new();
    while let Some(o) = core.poll_output() {
        outputs.push(o);
    }
    (outcome, outputs)
}

#[test]
fn every_room_state_has_a_fixture() {
    for state in RoomState::ALL {
        let f = fixture_for(state);
        assert_eq!(f.room_state(), state);
        assert!(FIXTURES.contains(&f));
    }
}

#[test]
fn every_state_against_every_input() {
    let inputs = all_inputs();
    let mut rows = 0;
    for f in FIXTURES {
        let fresh = build(f);
        assert_eq!(fresh.core("me").room_state(), f.room_state(), "fixture {f:?} is in the wrong state");
        for &i in &inputs {
            let mut w = build(f);
            let before = w.core("me").room_state();
            let (outcome, outputs) = apply(&mut w, i);
            let after = w.core("me").room_state();
            let ctx = format!("{f:?} x {i:?}");
            assert_eq!(after, state_after(f, i), "{ctx}: state");
            if let Input::Cmd(c) = i {
                assert_eq!(outcome, Some(command_outcome(f, c)), "{ctx}: command outcome");
            }
            let room_left: Vec<&Output> =
                outputs.iter().filter(|o| matches!(o, Output::Event(Event::RoomLeft { .. }))).collect();
            let entered_leave_state =
                after != before && !matches!(after, RoomState::Init | RoomState::Joined | RoomState::Waitlisted);
            assert_eq!(
                room_left.len(),
                usize::from(entered_leave_state),
                "{ctx}: roomLeft exactly once per transition"
            );
            if let Some(Output::Event(Event::RoomLeft { state })) = room_left.first() {
                assert_eq!(state.room_state(), after, "{ctx}: roomLeft carries the new state");
            }
            if before.is_terminal() {
                assert!(
                    outputs.iter().all(|o| !matches!(o, Output::Transmit(_) | Output::Connect)),
                    "{ctx}: a terminal state sends nothing: {outputs:?}"
                );
            }
            if after.is_terminal() {
                assert_eq!(w.core("me").pending_requests(), 0, "{ctx}: terminal leaves nothing pending");
                assert!(w.core("me").roster().joined().is_empty(), "{ctx}: terminal clears the roster");
            }
            let me = w.core("me").peer_id().unwrap_or("peer-me").to_owned();
            assert!(!w.core("me").roster().joined().contains_key(&me), "{ctx}: roster holds self");
            rows += 1;
        }
    }
    assert_eq!(rows, FIXTURES.len() * inputs.len());
    assert_eq!(inputs.len(), 13 + 10 + 13 + 5);
}
