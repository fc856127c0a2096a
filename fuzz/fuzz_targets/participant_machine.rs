//! The sans-IO participant machine driven by a fuzzed driver: user commands, server messages
//! (built structurally from the fuzzer's bytes, with ids drawn from small pools so that they hit
//! the roster and the requests in flight), raw frames, the socket opening and closing, and timer
//! ticks at monotonically increasing instants. The configuration (timeouts, backoff, keep-alive,
//! preset) is fuzzed too. An input may first bring the participant into the meeting or the
//! waiting room through the same checked steps, so that short inputs reach deep states.
//!
//! Invariants, checked after every step (not only "no panic"):
//!
//! - Outputs follow the driver contract: `Transmit` only on an open socket, `hello` first and
//!   once per socket; nothing at all is output once a terminal `roomLeft` was emitted.
//! - Every event is well-formed: its payload is a JSON object naming the event, and serialises.
//! - The room state equals the one the events tell (`roomJoined`, `waitlisted`, `roomLeft`),
//!   `roomLeft` fires at most once per transition, and a terminal state never changes again.
//!   In a terminal state the core is terminated: no request pending, no timer, empty roster.
//! - `joined` or `waitlisted` means the socket is open (a lost socket makes it `disconnected`);
//!   `disconnected` always has a timer (it reconnects or gives up, never hangs).
//! - The roster never holds the local participant or a hidden one, and it changes only as the
//!   `participantJoined` / `participantLeft` / `waitlistAdded` / `waitlistRemoved` events say
//!   (except on admission and at the end, which replace it wholesale); a `kicked` event is
//!   followed by the same peer's `participantLeft`; `sessionEnded` is followed by `roomLeft`
//!   `ended` with the same end. The socket and recording states equal what their events say.
//! - Requests: ids only grow; each resolves exactly once; the number pending equals those issued
//!   and not resolved; a refused command outputs nothing and changes nothing; a terminal state
//!   refuses every command with 4501; a successful `kickAll()` resolves only once `ended`, a
//!   successful `leave()` only in a terminal state; after a tick no request outlives its
//!   timeout, and `poll_timeout()` is never later than the earliest request deadline.
//! - The timer: after a tick at `now`, `poll_timeout()` is `None` or not before `now`, and a
//!   deadline equal to `now` makes progress (no busy loop at one instant).
//! - A refused frame outputs nothing and changes nothing; a frame while the socket is not open
//!   is ignored.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::{Result, Unstructured};
use convene_core::permissions::{Permissions, PermissionsPatch};
use convene_core::proto::{
    decode_client, encode_client, encode_server, ClientMessage, MeetingInfo, Peer, ReplyData, RequestId, ResumeRefusal,
    RoomSnapshot, SelfInfo, ServerMessage, SessionEvent, SessionInfo, WaitlistOutcome, WireError,
};
use convene_core::{
    Actor, ClientError, Command, Config, EndReason, Event, Keepalive, LeaveState, Output, Participant, ReconnectPolicy,
    RecordingState, RoomState, SessionEnd, SocketConnectionState, SocketState,
};
use libfuzzer_sys::fuzz_target;

/// Peer ids the fuzzed server uses; the first is the one it gives this participant by default.
const PEERS: [&str; 5] = ["p-self", "p-a", "p-b", "p-c", "p-d"];
const SELF_USER: &str = "u-self";
const SESSIONS: [&str; 2] = ["s-1", "s-2"];
const PRESETS: [&str; 4] = ["group_call_host", "group_call_participant", "webinar_presenter", "webinar_viewer"];
const MAX_OPS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    Closed,
    Connecting,
    Open { hello_sent: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Join,
    Leave,
    KickAll,
    Other,
}

/// The roster (joined, waiting) and recording state before an input.
struct Pre {
    roster: (BTreeSet<String>, BTreeSet<String>),
    recording: RecordingState,
}

/// What the events said so far.
#[derive(Debug)]
struct Model {
    room: RoomState,
    last_left: Option<RoomState>,
    terminal: bool,
    socket: SocketState,
}

struct Driver {
    core: Participant,
    now: u64,
    request_timeout_ms: u64,
    socket: Socket,
    /// Request id -> (kind, time issued), for every request not resolved yet.
    outstanding: BTreeMap<RequestId, (Kind, u64)>,
    resolved: BTreeSet<RequestId>,
    last_req: RequestId,
    model: Model,
    last_seq: u64,
    /// Events of the last step, for the step-level checks.
    step_events: Vec<Event>,
    step_resolved: Vec<(RequestId, Kind, bool)>,
    step_outputs: usize,
}

/// `FUZZ_TRACE=1` prints every input (to turn a crash into a regression test).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

macro_rules! trace {
    ($($arg:tt)+) => {
        if trace() {
            eprintln!($($arg)+);
        }
    };
}

fn fail(msg: String) -> ! {
    panic!("invariant violated: {msg}")
}

macro_rules! check {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            fail(format!($($arg)+));
        }
    };
}

fn pick<'a, T>(u: &mut Unstructured<'_>, items: &'a [T]) -> Result<&'a T> {
    u.choose(items)
}

fn peer(u: &mut Unstructured<'_>) -> Result<Peer> {
    let id = *pick(u, &PEERS)?;
    // Mostly a user of its own; sometimes this participant's user on another device.
    let user_id = if u.ratio(1, 8)? { SELF_USER.to_owned() } else { format!("u{}", &id[1..]) };
    Ok(Peer {
        id: id.to_owned(),
        user_id,
        name: format!("name {id}"),
        picture: if u.ratio(1, 4)? { Some("https://example.invalid/p.png".into()) } else { None },
        custom_participant_id: format!("c{}", &id[1..]),
        preset_name: pick(u, &PRESETS)?.to_string(),
        hidden: u.ratio(1, 8)?,
        pinned: u.ratio(1, 4)?,
    })
}

fn peers(u: &mut Unstructured<'_>) -> Result<Vec<Peer>> {
    let n = u.int_in_range(0..=4)?;
    (0..n).map(|_| peer(u)).collect()
}

fn actor(u: &mut Unstructured<'_>) -> Result<Actor> {
    Ok(match u.int_in_range(0..=2)? {
        0 => Actor::Peer { peer_id: pick(u, &PEERS)?.to_string() },
        1 => Actor::Api,
        _ => Actor::System,
    })
}

fn recording(u: &mut Unstructured<'_>) -> Result<RecordingState> {
    Ok(*pick(
        u,
        &[
            RecordingState::Idle,
            RecordingState::Starting,
            RecordingState::Recording,
            RecordingState::Paused,
            RecordingState::Stopping,
        ],
    )?)
}

/// A recording id: none, or one of two (so that ids match and miss).
fn recording_id(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(match u.int_in_range(0..=2)? {
        0 => None,
        n => Some(format!("rec-{n}")),
    })
}

fn session_end(u: &mut Unstructured<'_>) -> Result<SessionEnd> {
    Ok(SessionEnd {
        session_id: pick(u, &SESSIONS)?.to_string(),
        reason: if u.arbitrary()? { EndReason::HostEndedMeeting } else { EndReason::AllParticipantsLeft },
        ended_by: actor(u)?,
    })
}

fn opt_bool(u: &mut Unstructured<'_>) -> Result<Option<bool>> {
    Ok(match u.int_in_range(0..=2)? {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    })
}

fn patch(u: &mut Unstructured<'_>) -> Result<PermissionsPatch> {
    Ok(PermissionsPatch {
        kick_participant: opt_bool(u)?,
        accept_waiting_requests: opt_bool(u)?,
        show_participant_list: opt_bool(u)?,
        can_record: opt_bool(u)?,
        can_change_participant_permissions: opt_bool(u)?,
        hidden_participant: opt_bool(u)?,
        ..Default::default()
    })
}

fn permissions(u: &mut Unstructured<'_>) -> Result<Permissions> {
    let mut p = Permissions::built_in(pick(u, &PRESETS)?).expect("built-in preset");
    if u.arbitrary()? {
        p.apply(&patch(u)?);
    }
    Ok(p)
}

fn config(u: &mut Unstructured<'_>) -> Result<Config> {
    let self_info = SelfInfo {
        user_id: SELF_USER.into(),
        name: "Me".into(),
        picture: None,
        custom_participant_id: "me".into(),
        preset_name: "fuzzed".into(),
        permissions: permissions(u)?,
    };
    let meeting = MeetingInfo { id: "m-1".into(), title: "Fuzzed".into() };
    let mut c = Config::new("token", self_info, meeting);
    if u.arbitrary()? {
        c.request_timeout_ms = u.int_in_range(1..=20_000)?;
        c.reconnect = ReconnectPolicy {
            initial_delay_ms: u.int_in_range(0..=2_000)?,
            max_delay_ms: u.int_in_range(0..=10_000)?,
            max_attempts: u.int_in_range(1..=6)?,
            attempt_timeout_ms: u.int_in_range(1..=20_000)?,
        };
        c.keepalive =
            Keepalive { ping_interval_ms: u.int_in_range(1..=30_000)?, dead_after_ms: u.int_in_range(1..=60_000)? };
    }
    c.seed = u.arbitrary()?;
    Ok(c)
}

impl Driver {
    fn new(config: Config, start: u64) -> Self {
        let request_timeout_ms = config.request_timeout_ms;
        Self {
            core: Participant::new(config),
            now: start,
            request_timeout_ms,
            socket: Socket::Closed,
            outstanding: BTreeMap::new(),
            resolved: BTreeSet::new(),
            last_req: 0,
            model: Model { room: RoomState::Init, last_left: None, terminal: false, socket: SocketState::default() },
            last_seq: 0,
            step_events: Vec::new(),
            step_resolved: Vec::new(),
            step_outputs: 0,
        }
    }

    fn roster_keys(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let r = self.core.roster();
        (r.joined().keys().cloned().collect(), r.waitlisted().keys().cloned().collect())
    }

    // ---- inputs -------------------------------------------------------------------------------

    fn command(&mut self, command: Command) {
        let kind = match command {
            Command::Join => Kind::Join,
            Command::Leave => Kind::Leave,
            Command::KickAll => Kind::KickAll,
            _ => Kind::Other,
        };
        let before_room = self.core.room_state();
        let before_pending = self.core.pending_requests();
        let pre = self.pre();
        let before_roster = pre.roster.clone();
        let result = self.core.command(self.now, command.clone());
        trace!("{:>14} command {command:?} -> {result:?}", self.now);
        match result {
            Ok(req) => {
                check!(!before_room.is_terminal(), "{command:?} succeeded in the terminal state {before_room}");
                check!(req > self.last_req, "request id {req} not above the previous {}", self.last_req);
                self.last_req = req;
                self.outstanding.insert(req, (kind, self.now));
                self.drain(pre);
            }
            Err(e) => {
                if before_room.is_terminal() {
                    check!(
                        matches!(e, ClientError::RoomClosed { state } if state == before_room),
                        "{command:?} in {before_room} refused with {e:?}, not 4501"
                    );
                }
                self.drain(pre);
                check!(self.step_outputs == 0, "the refused command {command:?} ({e}) output something");
                check!(self.core.room_state() == before_room, "the refused command {command:?} changed the state");
                check!(
                    self.core.pending_requests() == before_pending,
                    "the refused command {command:?} changed requests"
                );
                check!(self.roster_keys() == before_roster, "the refused command {command:?} changed the roster");
            }
        }
    }

    /// A message the fuzzed server sends, through the real encoder and decoder.
    fn server_message(&mut self, msg: ServerMessage) {
        let text = encode_server(&msg);
        self.frame(&text, true);
    }

    fn frame(&mut self, text: &str, must_decode: bool) {
        let open = matches!(self.socket, Socket::Open { .. });
        let before = (self.core.room_state(), self.core.last_seq(), self.core.pending_requests(), self.roster_keys());
        let pre = self.pre();
        let result = self.core.handle_frame(self.now, text);
        trace!("{:>14} frame {text} -> {result:?}", self.now);
        self.drain(pre);
        let after = (self.core.room_state(), self.core.last_seq(), self.core.pending_requests(), self.roster_keys());
        match result {
            Ok(()) => {
                if !open {
                    check!(self.step_outputs == 0, "a frame while the socket is {:?} output something", self.socket);
                    check!(after == before, "a frame while the socket is {:?} changed the participant", self.socket);
                }
            }
            Err(e) => {
                check!(!must_decode, "an encoded server message did not decode: {e}\n{text}");
                check!(self.step_outputs == 0, "a refused frame output something");
                check!(after == before, "a refused frame changed the participant");
            }
        }
    }

    fn opened(&mut self) {
        let asked = self.socket == Socket::Connecting;
        if asked {
            self.socket = Socket::Open { hello_sent: false };
        }
        let pre = self.pre();
        trace!("{:>14} transport opened", self.now);
        self.core.handle_transport_opened(self.now);
        self.drain(pre);
        if !asked {
            check!(self.step_outputs == 0, "a transport nobody asked for opened, and the core output something");
        } else if !self.model.terminal {
            check!(self.socket == Socket::Open { hello_sent: true }, "no hello on a freshly opened socket");
        }
    }

    fn closed(&mut self) {
        self.socket = Socket::Closed;
        let pre = self.pre();
        trace!("{:>14} transport closed", self.now);
        self.core.handle_transport_closed(self.now);
        self.drain(pre);
    }

    fn tick(&mut self, advance: u64) {
        self.now += advance;
        let pre = self.pre();
        trace!("{:>14} timeout", self.now);
        self.core.handle_timeout(self.now);
        self.drain(pre);
        self.after_tick();
    }

    /// A timer that fires at the deadline the core asked for (and a tick at the same instant
    /// again while the deadline stays there, which must make progress).
    fn tick_to_deadline(&mut self) {
        let Some(deadline) = self.core.poll_timeout() else { return };
        self.now = self.now.max(deadline);
        for _ in 0..8 {
            let pre = self.pre();
            trace!("{:>14} timeout (at the deadline)", self.now);
            self.core.handle_timeout(self.now);
            self.drain(pre);
            self.after_tick();
            if self.core.poll_timeout() != Some(self.now) {
                return;
            }
        }
        fail(format!("poll_timeout() stays at {} after 8 ticks at that instant", self.now));
    }

    fn after_tick(&mut self) {
        let now = self.now;
        if let Some(t) = self.core.poll_timeout() {
            check!(t >= now, "after a tick at {now} the next deadline {t} is in the past");
        }
        for (req, (kind, at)) in &self.outstanding {
            check!(
                at + self.request_timeout_ms > now,
                "request {req} ({kind:?}, issued at {at}) still pending at {now}, past its timeout of {} ms",
                self.request_timeout_ms
            );
        }
    }

    // ---- outputs ------------------------------------------------------------------------------

    /// What the step-level checks compare with: taken before each input.
    fn pre(&self) -> Pre {
        Pre { roster: self.roster_keys(), recording: self.core.recording_state() }
    }

    fn drain(&mut self, pre: Pre) {
        self.step_events.clear();
        self.step_resolved.clear();
        self.step_outputs = 0;
        while let Some(output) = self.core.poll_output() {
            trace!("{:>14}   -> {output:?}", "");
            check!(!self.model.terminal, "output {output:?} after the terminal roomLeft");
            self.step_outputs += 1;
            match output {
                Output::Connect => self.socket = Socket::Connecting,
                Output::Disconnect => self.socket = Socket::Closed,
                Output::Transmit(msg) => self.transmitted(msg),
                Output::Event(event) => self.event(event),
                Output::Resolved { req, result } => {
                    let Some((kind, _)) = self.outstanding.remove(&req) else {
                        if self.resolved.contains(&req) {
                            fail(format!("request {req} resolved twice"));
                        }
                        fail(format!("request {req} resolved but never issued"));
                    };
                    self.resolved.insert(req);
                    self.step_resolved.push((req, kind, result.is_ok()));
                }
            }
        }
        self.check_step(pre);
    }

    fn transmitted(&mut self, msg: ClientMessage) {
        let Socket::Open { hello_sent } = self.socket else {
            fail(format!("transmit {msg:?} on a socket that is {:?}", self.socket));
        };
        let text = encode_client(&msg);
        let back = decode_client(&text).unwrap_or_else(|e| fail(format!("the core sent an undecodable frame: {e}")));
        check!(back == msg, "a client frame does not round-trip: {text}");
        match &msg {
            ClientMessage::Hello { resume, .. } => {
                check!(!hello_sent, "a second hello on one socket");
                if let Some(resume) = resume {
                    check!(Some(resume.peer_id.as_str()) == self.core.peer_id(), "resume with another peer id");
                    check!(resume.last_seq == self.core.last_seq(), "resume from another seq");
                }
                self.socket = Socket::Open { hello_sent: true };
            }
            other => {
                check!(hello_sent, "{other:?} sent before the hello");
                if let Some(req) = other.request_id() {
                    check!(
                        self.outstanding.contains_key(&req) || self.resolved.contains(&req),
                        "{other:?} carries a request id the core never returned"
                    );
                }
            }
        }
    }

    fn event(&mut self, event: Event) {
        let payload = event.payload();
        check!(payload.is_object(), "payload of {event:?} is not an object");
        check!(payload["event"] == event.name(), "payload of {event:?} does not name it");
        check!(serde_json::to_string(&payload).is_ok(), "payload of {event:?} does not serialise");
        if let Some(prev) = self.step_events.last() {
            if let Event::ParticipantKicked { peer_id, .. } = prev {
                check!(
                    matches!(&event, Event::ParticipantLeft { participant } if participant.id == *peer_id),
                    "kicked {peer_id} not followed by its participantLeft but by {event:?}"
                );
            }
        }
        // `sessionEnded` is followed by `roomLeft` `ended` with the same end; only the socket and
        // recording updates of leaving may come between.
        if let Some(end) = self.step_events.iter().rev().find_map(|e| match e {
            Event::SessionEnded { end } => Some(end),
            _ => None,
        }) {
            let left = self.step_events.iter().rev().take_while(|e| !matches!(e, Event::SessionEnded { .. }));
            if left.clone().all(|e| !matches!(e, Event::RoomLeft { .. })) {
                check!(
                    matches!(&event, Event::RoomLeft { state: LeaveState::Ended(e) } if e == end)
                        || matches!(&event, Event::SocketConnectionUpdate { .. } | Event::RecordingUpdate { .. }),
                    "sessionEnded not followed by roomLeft ended with the same end, but by {event:?}"
                );
            }
        }
        match &event {
            Event::RoomJoined { .. } => {
                self.model.room = RoomState::Joined;
                self.model.last_left = None;
            }
            Event::Waitlisted => {
                self.model.room = RoomState::Waitlisted;
                self.model.last_left = None;
            }
            Event::RoomLeft { state } => {
                let room = state.room_state();
                check!(self.model.last_left != Some(room), "two roomLeft {room} without a transition");
                check!(!self.model.room.is_terminal(), "roomLeft {room} after the terminal {}", self.model.room);
                self.model.room = room;
                self.model.last_left = Some(room);
                if room.is_terminal() {
                    self.model.terminal = true;
                }
            }
            Event::SocketConnectionUpdate { socket } => {
                check!(*socket != self.model.socket, "socketConnectionUpdate without a change: {socket:?}");
                self.model.socket = *socket;
            }
            _ => {}
        }
        self.step_events.push(event);
    }

    // ---- checks -------------------------------------------------------------------------------

    fn check_step(&mut self, pre: Pre) {
        let Pre { mut roster, mut recording } = pre;
        let core = &self.core;
        let room = core.room_state();

        // Event-told state.
        if let Some(last) = self.step_events.last() {
            check!(
                !matches!(last, Event::ParticipantKicked { .. }),
                "the step ended on {last:?} without its participantLeft"
            );
        }
        if self.step_events.iter().any(|e| matches!(e, Event::SessionEnded { .. })) {
            check!(
                matches!(self.step_events.last(), Some(Event::RoomLeft { state: LeaveState::Ended(_) })),
                "sessionEnded without a final roomLeft ended in the same step: {:?}",
                self.step_events
            );
        }
        check!(room == self.model.room, "room state {room}, but the events say {}", self.model.room);
        check!(core.socket_state() == self.model.socket, "socket state differs from its events");
        check!(core.room_joined() == (room == RoomState::Joined), "room_joined() disagrees with {room}");
        check!(core.last_seq() >= self.last_seq, "last_seq went back");
        self.last_seq = core.last_seq();

        // Terminal.
        if self.model.terminal {
            check!(room.is_terminal(), "{room} after a terminal roomLeft");
            check!(core.is_terminated(), "terminal {room} but not terminated");
            check!(core.pending_requests() == 0, "terminal {room} with requests pending");
            check!(core.poll_timeout().is_none(), "terminal {room} still asks for a timer");
            check!(core.roster().joined().is_empty() && core.roster().waitlisted().is_empty(), "roster kept in {room}");
            check!(self.socket == Socket::Closed, "terminal {room} with the socket {:?}", self.socket);
        }
        match room {
            RoomState::Joined | RoomState::Waitlisted => {
                check!(
                    matches!(self.socket, Socket::Open { hello_sent: true }),
                    "{room} with the socket {:?}",
                    self.socket
                );
                check!(core.poll_timeout().is_some(), "{room} without a timer (keep-alive)");
            }
            RoomState::Disconnected => {
                check!(core.poll_timeout().is_some(), "disconnected without a timer: it would hang");
                check!(
                    core.socket_state().state == SocketConnectionState::Reconnecting,
                    "disconnected with socket state {:?}",
                    core.socket_state()
                );
            }
            _ => {}
        }
        if room == RoomState::Joined {
            check!(core.session().is_some(), "joined without a session");
        }

        // Roster: never self, never hidden, keys are ids.
        let me = core.peer_id();
        for (map, name) in [(core.roster().joined(), "joined"), (core.roster().waitlisted(), "waitlisted")] {
            for (id, p) in map {
                check!(Some(id.as_str()) != me, "the roster ({name}) holds this participant itself ({id})");
                check!(!p.hidden, "the roster ({name}) holds the hidden {id}");
                check!(*id == p.id, "roster key {id} for peer {}", p.id);
            }
        }

        // Roster and recording change only as the events say (admission and the end replace them).
        let mut replaced = false;
        let mut waiting_cleared = false;
        for e in &self.step_events {
            match e {
                Event::RoomJoined { reconnected: false } => replaced = true,
                Event::RoomLeft { state } if state.room_state().is_terminal() => replaced = true,
                Event::PermissionsUpdate { .. } => waiting_cleared = !core.permissions().accept_waiting_requests,
                Event::ParticipantJoined { participant } => {
                    check!(
                        replaced || roster.0.insert(participant.id.clone()),
                        "participantJoined {} already in the roster",
                        participant.id
                    );
                }
                Event::ParticipantLeft { participant } => {
                    check!(
                        replaced || roster.0.remove(&participant.id),
                        "participantLeft {} not in the roster",
                        participant.id
                    );
                }
                Event::WaitlistAdded { participant } => {
                    check!(
                        replaced || roster.1.insert(participant.id.clone()),
                        "waitlistAdded {} already waiting",
                        participant.id
                    );
                }
                Event::WaitlistRemoved { participant, .. } => {
                    check!(
                        replaced || roster.1.remove(&participant.id),
                        "waitlistRemoved {} not waiting",
                        participant.id
                    );
                }
                Event::RecordingUpdate { state } => {
                    check!(replaced || *state != recording, "recordingUpdate without a change");
                    recording = *state;
                }
                Event::PinUpdate { peer_id, pinned } => {
                    // Of this participant, or of someone in the roster; as the core holds it now
                    // unless a later event of the step changed it again.
                    let now = if Some(peer_id.as_str()) == me {
                        Some(core.is_pinned())
                    } else {
                        core.roster().joined().get(peer_id).map(|p| p.pinned)
                    };
                    let later = self.step_events.iter().filter(|e| matches!(e, Event::PinUpdate { .. })).count() > 1;
                    check!(now.is_some() || replaced, "a pin of {peer_id}, who is neither self nor in the roster");
                    check!(later || replaced || now == Some(*pinned), "a pin event of {peer_id} that the core does not hold");
                }
                _ => {}
            }
        }
        if waiting_cleared {
            roster.1.clear();
        }
        if !replaced {
            let now = self.roster_keys();
            check!(now.0 == roster.0, "joined roster {:?}, but the events say {:?}", now.0, roster.0);
            check!(now.1 == roster.1, "waiting roster {:?}, but the events say {:?}", now.1, roster.1);
            check!(core.recording_state() == recording, "recording state differs from its events");
        }

        // Requests.
        check!(
            core.pending_requests() == self.outstanding.len(),
            "{} requests pending, {} issued and not resolved",
            core.pending_requests(),
            self.outstanding.len()
        );
        if let Some(earliest) = self.outstanding.values().map(|(_, at)| at + self.request_timeout_ms).min() {
            check!(
                core.poll_timeout().is_some_and(|t| t <= earliest),
                "poll_timeout() {:?} later than a request deadline {earliest}",
                core.poll_timeout()
            );
        }
        for (req, kind, ok) in &self.step_resolved {
            if *ok && *kind == Kind::KickAll {
                check!(room == RoomState::Ended, "kickAll {req} resolved Ok in {room}, not ended");
            }
            if *ok && *kind == Kind::Leave {
                check!(room.is_terminal(), "leave {req} resolved Ok in {room}");
            }
        }
    }
}

// ---- generation of inputs -----------------------------------------------------------------------

fn command(u: &mut Unstructured<'_>, d: &Driver) -> Result<Command> {
    let id = |u: &mut Unstructured<'_>| -> Result<String> {
        Ok(match u.int_in_range(0..=3)? {
            0 => SELF_USER.to_owned(),
            1 => format!("u{}", &pick(u, &PEERS)?[1..]),
            2 => d.core.peer_id().unwrap_or("p-self").to_owned(),
            _ => pick(u, &PEERS)?.to_string(),
        })
    };
    Ok(match u.int_in_range(0..=12)? {
        0 => Command::Join,
        1 => Command::Leave,
        2 => Command::Kick { peer_id: id(u)? },
        3 => Command::KickAll,
        4 => {
            let n = u.int_in_range(0..=3)?;
            Command::AcceptWaiting { ids: (0..n).map(|_| id(u)).collect::<Result<_>>()? }
        }
        5 => Command::AcceptAllWaiting,
        6 => Command::RejectWaiting { id: id(u)? },
        7 => {
            let n = u.int_in_range(0..=2)?;
            Command::UpdatePermissions { ids: (0..n).map(|_| id(u)).collect::<Result<_>>()?, patch: patch(u)? }
        }
        8 => Command::StartRecording { allow_multiple: u.arbitrary()? },
        9 => Command::StopRecording { id: recording_id(u)? },
        10 => Command::PauseRecording { id: recording_id(u)? },
        11 => Command::Pin { id: id(u)?, pinned: u.arbitrary()? },
        _ => Command::ResumeRecording { id: recording_id(u)? },
    })
}

fn request_id(u: &mut Unstructured<'_>, d: &Driver) -> Result<RequestId> {
    let outstanding: Vec<RequestId> = d.outstanding.keys().copied().collect();
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 if !outstanding.is_empty() => *pick(u, &outstanding)?,
        2 => d.last_req.saturating_sub(u.int_in_range(0..=3)?),
        _ => u.int_in_range(0..=d.last_req + 2)?,
    })
}

fn seq(u: &mut Unstructured<'_>, d: &Driver) -> Result<u64> {
    let last = d.core.last_seq();
    Ok(match u.int_in_range(0..=7)? {
        0 => last,
        1 => last.saturating_sub(1),
        2 => last.saturating_add(u.int_in_range(2..=5)?),
        3 => u.arbitrary()?,
        _ => last.saturating_add(1),
    })
}

fn session_event(u: &mut Unstructured<'_>, d: &Driver) -> Result<SessionEvent> {
    Ok(match u.int_in_range(0..=12)? {
        0 => {
            // Mostly the snapshot of this participant as the welcome named it.
            let mut self_peer = peer(u)?;
            if u.ratio(3, 4)? {
                self_peer.id = d.core.peer_id().unwrap_or("p-self").to_owned();
                self_peer.user_id = SELF_USER.into();
                self_peer.hidden = false;
            }
            SessionEvent::Joined {
                room: RoomSnapshot {
                    self_peer,
                    session: SessionInfo {
                        id: pick(u, &SESSIONS)?.to_string(),
                        started_at: "2026-11-25T19:00:00Z".into(),
                    },
                    peers: peers(u)?,
                    waitlisted: peers(u)?,
                    recording: recording(u)?,
                    recording_id: recording_id(u)?,
                },
            }
        }
        1 => SessionEvent::Waitlisted,
        2 => SessionEvent::Rejected { by: actor(u)? },
        3 => SessionEvent::Kicked { by: actor(u)? },
        4 => SessionEvent::SessionEnded { end: session_end(u)? },
        5 => SessionEvent::PeerJoined { peer: peer(u)? },
        6 => SessionEvent::PeerLeft { peer_id: pick(u, &PEERS)?.to_string() },
        7 => SessionEvent::PeerKicked { peer_id: pick(u, &PEERS)?.to_string(), by: actor(u)? },
        8 => SessionEvent::WaitlistAdded { peer: peer(u)? },
        9 => SessionEvent::WaitlistRemoved {
            peer_id: pick(u, &PEERS)?.to_string(),
            outcome: *pick(u, &[WaitlistOutcome::Accepted, WaitlistOutcome::Rejected, WaitlistOutcome::Left])?,
        },
        10 => SessionEvent::PermissionsUpdated { patch: patch(u)?, by: actor(u)? },
        11 => SessionEvent::PeerUpdated { peer: peer(u)?, by: actor(u)? },
        _ => SessionEvent::RecordingUpdated { state: recording(u)?, id: recording_id(u)? },
    })
}

fn welcome(u: &mut Unstructured<'_>, d: &Driver) -> Result<ServerMessage> {
    let peer_id = match (u.int_in_range(0..=3)?, d.core.peer_id()) {
        (0, _) => pick(u, &PEERS)?.to_string(),
        (_, Some(p)) => p.to_owned(),
        (_, None) => PEERS[0].to_owned(),
    };
    let mut self_info = d.core.self_info().clone();
    if u.ratio(1, 4)? {
        self_info.permissions = permissions(u)?;
    }
    Ok(ServerMessage::Welcome {
        protocol: if u.ratio(1, 8)? { u.arbitrary()? } else { 1 },
        peer_id,
        resumed: d.core.room_state() == RoomState::Disconnected || u.ratio(1, 4)?,
        self_info,
        meeting: d.core.meeting().clone(),
    })
}

fn server_message(u: &mut Unstructured<'_>, d: &Driver) -> Result<ServerMessage> {
    Ok(match u.int_in_range(0..=9)? {
        0 => welcome(u, d)?,
        1 => ServerMessage::ResumeRefused {
            refusal: match u.int_in_range(0..=3)? {
                0 => ResumeRefusal::SessionEnded { end: session_end(u)? },
                1 => ResumeRefusal::Kicked { by: actor(u)? },
                2 => ResumeRefusal::Rejected { by: actor(u)? },
                _ => ResumeRefusal::Expired,
            },
        },
        2 | 3 => ServerMessage::Reply {
            req: request_id(u, d)?,
            data: ReplyData {
                kicked_participants_count: if u.arbitrary()? { Some(u.int_in_range(0..=5)?) } else { None },
            },
        },
        4 => ServerMessage::Error {
            req: if u.ratio(3, 4)? { Some(request_id(u, d)?) } else { None },
            error: WireError {
                code: *pick(u, &[2, 4, 1201, 1202, 1205, 4501, 4400, 4413, 0, u16::MAX])?,
                message: "fuzzed".into(),
            },
        },
        5 => ServerMessage::Pong,
        _ => ServerMessage::Event { seq: seq(u, d)?, event: session_event(u, d)? },
    })
}

/// A raw frame: arbitrary text, or a valid frame cut or with a byte changed.
fn raw_frame(u: &mut Unstructured<'_>, d: &Driver) -> Result<String> {
    if u.arbitrary()? {
        return u.arbitrary();
    }
    let mut bytes = encode_server(&server_message(u, d)?).into_bytes();
    if !bytes.is_empty() {
        let at = u.choose_index(bytes.len())?;
        if u.arbitrary()? {
            bytes.truncate(at);
        } else {
            bytes[at] = u.arbitrary()?;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn advance(u: &mut Unstructured<'_>) -> Result<u64> {
    Ok(match u.int_in_range(0..=3)? {
        0 => u.int_in_range(0..=100)?,
        1 => u.int_in_range(0..=5_000)?,
        2 => u.int_in_range(0..=60_000)?,
        _ => u.int_in_range(0..=u32::MAX as u64)?,
    })
}

/// Brings the participant into the meeting (or its waiting room) through checked steps.
fn enter(d: &mut Driver, u: &mut Unstructured<'_>, waitlisted: bool) -> Result<()> {
    d.command(Command::Join);
    if d.socket != Socket::Connecting {
        return Ok(());
    }
    d.opened();
    let self_info = d.core.self_info().clone();
    let meeting = d.core.meeting().clone();
    d.server_message(ServerMessage::Welcome {
        protocol: 1,
        peer_id: PEERS[0].into(),
        resumed: false,
        self_info,
        meeting,
    });
    let event = if waitlisted {
        SessionEvent::Waitlisted
    } else {
        SessionEvent::Joined {
            room: RoomSnapshot {
                self_peer: Peer {
                    id: PEERS[0].into(),
                    user_id: SELF_USER.into(),
                    name: "Me".into(),
                    picture: None,
                    custom_participant_id: "me".into(),
                    preset_name: "fuzzed".into(),
                    hidden: false,
                    pinned: false,
                },
                session: SessionInfo { id: SESSIONS[0].into(), started_at: "2026-11-25T19:00:00Z".into() },
                peers: peers(u)?,
                waitlisted: peers(u)?,
                recording: recording(u)?,
                recording_id: recording_id(u)?,
            },
        }
    };
    d.server_message(ServerMessage::Event { seq: 1, event });
    // The server answers the join after the event; sometimes the answer is left to the fuzzer.
    let join = d.outstanding.keys().next().copied();
    if let (Some(req), true) = (join, u.ratio(3, 4)?) {
        d.server_message(ServerMessage::Reply { req, data: ReplyData::default() });
    }
    Ok(())
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let config = config(&mut u)?;
    let start = u.int_in_range(0..=1u64 << 40)?;
    let mut d = Driver::new(config, start);
    match u.int_in_range(0..=3)? {
        0 => {}
        1 => enter(&mut d, &mut u, true)?,
        _ => enter(&mut d, &mut u, false)?,
    }
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0..=15)? {
            0..=2 => {
                let c = command(&mut u, &d)?;
                d.command(c);
            }
            3..=7 => {
                let m = server_message(&mut u, &d)?;
                d.server_message(m);
            }
            8 => {
                let f = raw_frame(&mut u, &d)?;
                d.frame(&f, false);
            }
            9 => d.opened(),
            10 => d.closed(),
            11 | 12 => d.tick_to_deadline(),
            13 => {
                let a = advance(&mut u)?;
                d.tick(a);
            }
            14 => {
                // Time passes without the timer firing (a late timer); the next input is later.
                d.now += advance(&mut u)?;
            }
            _ => {
                // The socket opens if the core asked for one (a well-behaved driver).
                if d.socket == Socket::Connecting {
                    d.opened();
                } else {
                    d.tick_to_deadline();
                }
            }
        }
    }
    // Given time, every request settles (`after_tick` checks that none outlives its timeout).
    let timeout = d.request_timeout_ms;
    d.tick(timeout);
    check!(d.outstanding.is_empty(), "requests {:?} never settled", d.outstanding.keys());
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
