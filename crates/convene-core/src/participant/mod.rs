//! The local participant state machine.
//!
//! [`Participant`] is sans-IO: inputs are method calls that carry the current time in
//! milliseconds (from any monotonic clock the driver chooses), outputs are values the driver
//! drains with [`Participant::poll_output`], and [`Participant::poll_timeout`] tells when to call
//! [`Participant::handle_timeout`] next. See the crate docs for the driver loop.

mod commands;
mod inbound;
mod link;
mod requests;

use std::collections::VecDeque;

use crate::error::ClientError;
use crate::event::Event;
use crate::permissions::Permissions;
use crate::proto::{ClientMessage, MeetingInfo, Peer, RequestId, SelfInfo, SessionInfo};
use crate::reconnect::{ReconnectPolicy, SplitMix64};
use crate::roster::Roster;
use crate::state::{LeaveState, RecordingState, RoomState, SocketState, WaitlistStatus};

pub use commands::Command;

/// What the driver must do. Drain with [`Participant::poll_output`] after every input.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a new connection to the server (closing any existing one first), then report
    /// [`Participant::handle_transport_opened`] or [`Participant::handle_transport_closed`].
    Connect,
    /// Send this message as one text frame ([`crate::proto::encode_client`]).
    Transmit(ClientMessage),
    /// Close the connection. Events of a closed connection must not be reported any more.
    Disconnect,
    /// Tell the application.
    Event(Event),
    /// A command finished: resolve (or reject) the caller's future.
    Resolved {
        /// The request id that [`Participant::command`] returned.
        req: RequestId,
        /// The outcome; `Ok` carries the `kick_all` count when there is one.
        result: Result<CommandOk, ClientError>,
    },
}

/// What a successful command returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommandOk {
    /// For `kick_all`: how many peers the server removed.
    pub kicked_participants_count: Option<u64>,
}

/// Keep-alive settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Send a ping when nothing was sent for this long, in ms.
    pub ping_interval_ms: u64,
    /// Declare the connection dead when nothing was received for this long, in ms.
    pub dead_after_ms: u64,
}

impl Default for Keepalive {
    fn default() -> Self {
        Self { ping_interval_ms: 10_000, dead_after_ms: 30_000 }
    }
}

/// How to build a [`Participant`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The participant auth token, sent in the first frame.
    pub auth_token: String,
    /// Who this participant is (from the init request); the server's welcome refreshes it.
    pub self_info: SelfInfo,
    /// The meeting (from the init request); the server's welcome refreshes it.
    pub meeting: MeetingInfo,
    /// How long a command may wait for the server's reply, in ms.
    pub request_timeout_ms: u64,
    /// Reconnection after a dropped connection.
    pub reconnect: ReconnectPolicy,
    /// Keep-alive.
    pub keepalive: Keepalive,
    /// Seed of the reconnect jitter.
    pub seed: u64,
}

impl Config {
    /// A configuration with default timings.
    pub fn new(auth_token: impl Into<String>, self_info: SelfInfo, meeting: MeetingInfo) -> Self {
        Self {
            auth_token: auth_token.into(),
            self_info,
            meeting,
            request_timeout_ms: 10_000,
            reconnect: ReconnectPolicy::default(),
            keepalive: Keepalive::default(),
            seed: 0x00C0_FFEE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingKind {
    Join,
    Leave,
    KickAll,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    kind: PendingKind,
    deadline: u64,
    /// A kick-all the server accepted: it settles when the session-ended event arrives, so that
    /// the caller's room state is already `ended` when `kickAll()` resolves.
    accepted: Option<CommandOk>,
}

/// The connection as the core sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No connection, none wanted.
    Down,
    /// Waiting to retry at this time.
    Backoff { retry_at: u64 },
    /// `Connect` was asked at this time; waiting for the transport to open.
    Connecting { since: u64 },
    /// Hello sent at this time; waiting for the welcome.
    Handshaking { since: u64 },
    /// Ready.
    Up,
}

/// The local participant.
#[derive(Debug)]
pub struct Participant {
    config: Config,
    peer_id: Option<String>,
    room: RoomState,
    /// While `disconnected`: the state to return to on resume.
    resume_to: Option<RoomState>,
    waitlist: WaitlistStatus,
    socket: SocketState,
    session: Option<SessionInfo>,
    recording: RecordingState,
    /// The recording `recording` is about, while there is one.
    recording_id: Option<String>,
    roster: Roster,
    /// The roster as it was when a terminal state was entered, until the driver frees it.
    released: Option<Roster>,
    link: Link,
    last_seq: u64,
    next_req: RequestId,
    pending: requests::Requests<Pending>,
    join_req: Option<RequestId>,
    /// The name `set_name` chose, sent with the join.
    chosen_name: Option<String>,
    /// Whether a host pinned this participant (RealtimeKit's `meeting.self.isPinned`).
    self_pinned: bool,
    leave_sent: bool,
    last_rx_at: u64,
    last_tx_at: u64,
    rng: SplitMix64,
    outputs: VecDeque<Output>,
}

impl Participant {
    /// A participant in state `init`, not connected.
    pub fn new(config: Config) -> Self {
        let rng = SplitMix64::new(config.seed);
        Self {
            config,
            peer_id: None,
            room: RoomState::Init,
            resume_to: None,
            waitlist: WaitlistStatus::None,
            socket: SocketState::default(),
            session: None,
            recording: RecordingState::Idle,
            recording_id: None,
            roster: Roster::default(),
            released: None,
            link: Link::Down,
            last_seq: 0,
            next_req: 1,
            pending: requests::Requests::default(),
            join_req: None,
            chosen_name: None,
            self_pinned: false,
            leave_sent: false,
            last_rx_at: 0,
            last_tx_at: 0,
            rng,
            outputs: VecDeque::new(),
        }
    }

    /// The next thing the driver must do, or `None` when there is nothing left.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The remote participants a terminal state let go of, for the driver to free once it has
    /// delivered the outputs, so that `roomLeft` is not held up by freeing a large roster. The
    /// roster seen through [`Participant::roster`] is already empty; dropping the result frees
    /// the memory. A driver that never calls this frees it with the participant.
    pub fn take_released(&mut self) -> Option<Roster> {
        self.released.take()
    }

    /// When [`Participant::handle_timeout`] must be called next (ms, the driver's clock), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let requests = self.pending.iter().map(|(_, p)| p.deadline).min();
        let keepalive = self.config.keepalive;
        let link = match self.link {
            Link::Down => None,
            Link::Backoff { retry_at } => Some(retry_at),
            Link::Connecting { since } | Link::Handshaking { since } => {
                Some(since + self.config.reconnect.attempt_timeout_ms)
            }
            Link::Up => {
                Some((self.last_tx_at + keepalive.ping_interval_ms).min(self.last_rx_at + keepalive.dead_after_ms))
            }
        };
        [requests, link].into_iter().flatten().min()
    }

    /// `meeting.self.roomState`.
    pub fn room_state(&self) -> RoomState {
        self.room
    }

    /// `meeting.self.roomJoined`: true exactly while the room state is `joined`.
    pub fn room_joined(&self) -> bool {
        self.room == RoomState::Joined
    }

    /// Whether the stay is over: terminal state, nothing left to drain. The driver may drop the
    /// participant once this is true.
    pub fn is_terminated(&self) -> bool {
        self.room.is_terminal() && self.outputs.is_empty() && self.link == Link::Down
    }

    /// `meeting.self.waitlistStatus`.
    pub fn waitlist_status(&self) -> WaitlistStatus {
        self.waitlist
    }

    /// `meeting.meta.socketState`.
    pub fn socket_state(&self) -> SocketState {
        self.socket
    }

    /// The peer id, once the server has given one.
    pub fn peer_id(&self) -> Option<&str> {
        self.peer_id.as_deref()
    }

    /// Who this participant is.
    pub fn self_info(&self) -> &SelfInfo {
        &self.config.self_info
    }

    /// The permissions in force.
    pub fn permissions(&self) -> &Permissions {
        &self.config.self_info.permissions
    }

    /// The meeting.
    pub fn meeting(&self) -> &MeetingInfo {
        &self.config.meeting
    }

    /// The session, once joined.
    pub fn session(&self) -> Option<&SessionInfo> {
        self.session.as_ref()
    }

    /// `meeting.recording.recordingState`.
    pub fn recording_state(&self) -> RecordingState {
        self.recording
    }

    /// `meeting.recording.recordings`: the recording of the session with its state, while there
    /// is one (one runs at a time here).
    pub fn recording(&self) -> Option<(&str, RecordingState)> {
        self.recording_id.as_deref().map(|id| (id, self.recording))
    }

    /// The remote roster.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Remote participants in the meeting (`meeting.participants.joined`).
    pub fn joined(&self) -> impl Iterator<Item = &Peer> {
        self.roster.joined().values()
    }

    /// The last session event sequence number applied.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Requests sent and not yet resolved.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    fn emit(&mut self, event: Event) {
        tracing::debug!(event = event.name(), "event");
        self.outputs.push_back(Output::Event(event));
    }

    fn transmit(&mut self, now: u64, msg: ClientMessage) {
        self.last_tx_at = now;
        self.outputs.push_back(Output::Transmit(msg));
    }

    fn resolve(&mut self, req: RequestId, result: Result<CommandOk, ClientError>) {
        if self.pending.remove(req).is_some() {
            if self.join_req == Some(req) {
                self.join_req = None;
            }
            self.outputs.push_back(Output::Resolved { req, result });
        }
    }

    fn set_socket(&mut self, socket: SocketState) {
        if self.socket != socket {
            self.socket = socket;
            self.emit(Event::SocketConnectionUpdate { socket });
        }
    }

    fn set_recording(&mut self, state: RecordingState, id: Option<String>) {
        if state == RecordingState::Idle {
            self.recording_id = None;
        } else if id.is_some() {
            self.recording_id = id;
        }
        if self.recording != state {
            self.recording = state;
            self.emit(Event::RecordingUpdate { state });
        }
    }

    /// Enters a terminal state: once, with one `roomLeft`, closing the connection and settling
    /// every pending request (a pending leave succeeds; a pending kick-all succeeds when the
    /// session ended; anything else fails with [`ClientError::RoomClosed`]).
    fn finish(&mut self, state: LeaveState) {
        let room = state.room_state();
        debug_assert!(room.is_terminal());
        if self.room.is_terminal() {
            return;
        }
        let ended = room == RoomState::Ended;
        self.room = room;
        self.resume_to = None;
        match room {
            RoomState::Rejected => self.waitlist = WaitlistStatus::Rejected,
            RoomState::Ended => self.set_recording(RecordingState::Idle, None),
            _ => {}
        }
        let settled: Vec<(RequestId, Pending)> = self.pending.iter().map(|(r, p)| (*r, *p)).collect();
        for (req, pending) in settled {
            let result = match pending.kind {
                PendingKind::Leave => Ok(CommandOk::default()),
                PendingKind::KickAll if ended => Ok(pending.accepted.unwrap_or_default()),
                _ => Err(ClientError::RoomClosed { state: room }),
            };
            self.resolve(req, result);
        }
        // Emptied now; freed by the driver after `roomLeft` is delivered (`take_released`).
        self.released = Some(std::mem::take(&mut self.roster));
        if self.link != Link::Down {
            self.link = Link::Down;
            self.outputs.push_back(Output::Disconnect);
        }
        if room == RoomState::Failed {
            let socket = SocketState { state: crate::state::SocketConnectionState::Failed, ..self.socket };
            self.set_socket(socket);
        } else if self.socket.state != crate::state::SocketConnectionState::Disconnected {
            let socket = SocketState {
                state: crate::state::SocketConnectionState::Disconnected,
                reconnection_attempt: 0,
                ..self.socket
            };
            self.set_socket(socket);
        }
        tracing::info!(state = %room, "room left");
        self.emit(Event::RoomLeft { state });
    }

    fn alloc_request(&mut self, now: u64, kind: PendingKind) -> RequestId {
        let req = self.next_req;
        self.next_req += 1;
        self.pending.insert(req, Pending { kind, deadline: now + self.config.request_timeout_ms, accepted: None });
        req
    }

    /// Whether this participant is pinned for everyone (`meeting.self.isPinned`).
    pub fn is_pinned(&self) -> bool {
        self.self_pinned
    }

    /// Takes this participant's pin from the server; an event when it changed.
    fn set_self_pinned(&mut self, pinned: bool) {
        if self.self_pinned != pinned {
            self.self_pinned = pinned;
            self.emit(Event::PinUpdate { peer_id: self.self_peer_id().to_owned(), pinned });
        }
    }

    fn self_peer_id(&self) -> &str {
        self.peer_id.as_deref().unwrap_or("")
    }
}
