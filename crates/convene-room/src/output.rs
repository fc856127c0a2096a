//! What the room asks of its driver: frames to send, connections to close, replies to REST
//! commands, writes to the store, webhook events and recording lines, drained in order with
//! [`Room::poll_output`](crate::Room::poll_output). Also the names of its timers.

use bytes::Bytes;
use convene_core::proto::{encode_server, CloseCode, ServerMessage};
use convene_core::SessionEnd;
use serde_json::Value;

use crate::api::ApiReply;
use crate::records::{ParticipantInfo, Recording, StayOutcome};

/// A connection, as the driver numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A REST command awaiting its [`Output::Reply`], as the driver numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A membership check awaiting [`Room::handle_participants_checked`](crate::Room::handle_participants_checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId(pub u64);

/// One encoded server message (UTF-8 JSON), cheap to clone: a broadcast is serialised once and
/// shared by every recipient and replay buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Bytes,
    kind: &'static str,
}

impl Frame {
    pub(crate) fn encode(msg: &ServerMessage) -> Self {
        Self::from_parts(Bytes::from(encode_server(msg)), msg.kind())
    }

    pub(crate) fn from_parts(bytes: Bytes, kind: &'static str) -> Self {
        Self { bytes, kind }
    }

    /// The frame's bytes (valid UTF-8).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The frame's text.
    pub fn as_str(&self) -> &str {
        // Built only from a `String` by `encode`.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }

    /// What the frame is ([`ServerMessage::kind`]: `"reply"`, `"peer_joined"`, ...), for the
    /// driver's counters.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

/// Something the driver must do, in the order given.
#[derive(Debug)]
pub enum Output {
    /// Queue a frame on one connection.
    Send {
        /// The connection.
        conn: ConnId,
        /// The frame.
        frame: Frame,
    },
    /// Queue one frame on several connections.
    Broadcast {
        /// The connections.
        conns: Vec<ConnId>,
        /// The frame.
        frame: Frame,
    },
    /// Close a connection once what is queued on it went out. The room has forgotten it.
    Close {
        /// The connection.
        conn: ConnId,
        /// The close code.
        code: CloseCode,
        /// The close reason.
        reason: &'static str,
    },
    /// The answer to a REST command.
    Reply {
        /// The command.
        request: RequestId,
        /// The answer.
        reply: ApiReply,
    },
    /// Store this event in the session's log before any frame that follows it goes out (only
    /// with [`RoomConfig::log_events`](crate::RoomConfig)).
    Logged(crate::LoggedEvent),
    /// Persist this, after every earlier write.
    Store(StoreWrite),
    /// Queue a webhook event for the app's subscribers.
    Webhook(WebhookEvent),
    /// Find which of these participants still exist in this meeting, and answer with
    /// [`Room::handle_participants_checked`](crate::Room::handle_participants_checked) (a join
    /// or an admission waits for it).
    CheckParticipants {
        /// The check.
        check: CheckId,
        /// The participants.
        participant_ids: Vec<String>,
    },
    /// Look up how the stay of a peer this room does not know ended (a resume after a restart
    /// or after the room that ended it was dropped), and answer with
    /// [`Room::handle_ended_stay`](crate::Room::handle_ended_stay). Only a stay of
    /// `participant_id` that ended with its session counts.
    FindEndedStay {
        /// The resuming connection.
        conn: ConnId,
        /// The peer it resumes.
        peer_id: String,
        /// Its participant.
        participant_id: String,
    },
    /// Look up the permissions of preset `preset_name` for a new connection of participant
    /// `participant_id`, and answer with
    /// [`Room::handle_permissions`](crate::Room::handle_permissions) before the next input.
    FindPermissions {
        /// The arriving connection.
        conn: ConnId,
        /// Its participant.
        participant_id: String,
        /// The participant's preset.
        preset_name: String,
    },
    /// Work on a recording's file; the driver answers with
    /// [`Room::handle_recording_io`](crate::Room::handle_recording_io) before its next input.
    Recording(RecordingIo),
}

/// A change to persist.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreWrite {
    /// A session began (status `LIVE`).
    SessionStarted {
        /// Session id.
        session_id: String,
        /// The meeting.
        meeting_id: String,
        /// The meeting's title then.
        title: Option<String>,
        /// When.
        started_at: String,
    },
    /// The highest sequence number used so far, and the number of peers in the session now.
    SessionTouched {
        /// Session id.
        session_id: String,
        /// Highest sequence number sent.
        last_seq: u64,
        /// Peers in the session now (the store keeps the peak).
        concurrent: u32,
    },
    /// A peer entered the session.
    PeerJoined {
        /// Session id.
        session_id: String,
        /// Peer id.
        peer_id: String,
        /// Its participant.
        participant: ParticipantInfo,
        /// When.
        at: String,
    },
    /// A peer's stay ended before its session did.
    PeerLeft {
        /// Peer id.
        peer_id: String,
        /// How.
        outcome: StayOutcome,
        /// When.
        at: String,
    },
    /// The session ended: status `ENDED`, every open stay closed as `ended`, and `webhook`
    /// queued, all at once (a crash must not keep the end and lose its webhook).
    SessionEnded {
        /// How it ended.
        end: SessionEnd,
        /// Highest sequence number used (the end itself).
        last_seq: u64,
        /// When.
        ended_at: String,
        /// The `meeting.ended` event.
        webhook: WebhookEvent,
    },
    /// A recording's record, inserted or replaced.
    RecordingSaved(Box<Recording>),
    /// A joined peer was pinned or unpinned (its session's peers are restored so).
    PeerPinned {
        /// Peer id.
        peer_id: String,
        /// Pinned now.
        pinned: bool,
    },
}

/// The webhook events the room emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    /// `meeting.started`.
    MeetingStarted,
    /// `meeting.ended`.
    MeetingEnded,
    /// `meeting.participantJoined`.
    ParticipantJoined,
    /// `meeting.participantLeft`.
    ParticipantLeft,
    /// `recording.statusUpdate`.
    RecordingStatusUpdate,
}

impl WebhookKind {
    /// The event's name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::MeetingStarted => "meeting.started",
            WebhookKind::MeetingEnded => "meeting.ended",
            WebhookKind::ParticipantJoined => "meeting.participantJoined",
            WebhookKind::ParticipantLeft => "meeting.participantLeft",
            WebhookKind::RecordingStatusUpdate => "recording.statusUpdate",
        }
    }
}

/// A webhook event.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// Which.
    pub kind: WebhookKind,
    /// Its body.
    pub payload: Value,
    /// When it happened (ms since the Unix epoch).
    pub at_ms: u64,
}

/// Work on a recording's file (one file per recording, named by its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingIo {
    /// Create the file.
    Open {
        /// The recording.
        id: String,
    },
    /// Append a line of the timeline (a write that fails stops further writes, not the
    /// recording).
    Append {
        /// The recording.
        id: String,
        /// The line, newline included.
        line: String,
    },
    /// Flush and close the file, and report its size.
    Finish {
        /// The recording.
        id: String,
    },
}

/// The outcome of a [`RecordingIo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingIoResult {
    /// The file was created.
    Opened,
    /// The file could not be created.
    OpenFailed,
    /// The file is complete, this many bytes long.
    Finished {
        /// Its size.
        bytes: u64,
    },
    /// The file could not be completed.
    FinishFailed,
}

/// The room's timers, as [`Room::poll_timeout`](crate::Room::poll_timeout) names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A peer that went away runs out of grace and leaves.
    AwayGrace,
    /// A session with no peer left ends.
    KeepAlive,
    /// A room with nothing in it may be dropped.
    Idle,
    /// The room forgets why a peer left (late resumes then get `expired`).
    GoneMemory,
}
