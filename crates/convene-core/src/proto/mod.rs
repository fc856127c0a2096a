//! The wire protocol: every message between a client and the session server, as serde types.
//!
//! Frames are JSON text, one message per WebSocket text frame, tagged by `type`, fields in
//! snake_case. The client's first frame is [`ClientMessage::Hello`], carrying [`PROTOCOL_VERSION`]
//! and the participant token (the token is never put in the URL). Commands that expect a reply
//! carry a request id `req`; the server answers with [`ServerMessage::Reply`] or
//! [`ServerMessage::Error`] with the same `req`. Session events are [`ServerMessage::Event`] with a
//! per-session sequence number `seq` that only grows; a reconnecting client sends the last `seq` it
//! applied and the server replays what it missed. `docs/protocol.md` shows every message.
//!
//! ```
//! use convene_core::proto::{decode_server, encode_client, ClientMessage, ServerMessage};
//!
//! let frame = encode_client(&ClientMessage::KickAll { req: 7 });
//! assert_eq!(frame, r#"{"type":"kick_all","req":7}"#);
//! let msg = decode_server(r#"{"type":"reply","req":7,"data":{"kicked_participants_count":3}}"#).unwrap();
//! assert!(matches!(msg, ServerMessage::Reply { req: 7, .. }));
//! ```

use serde::{Deserialize, Serialize};

use crate::permissions::{Permissions, PermissionsPatch};
use crate::state::{Actor, RecordingState, SessionEnd};

mod codes;
mod decode;

pub use codes::{CloseCode, ErrorCode};

/// The protocol version this crate speaks, sent in the first frame of every connection.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame a client may send (bytes of JSON text). The server closes with
/// [`CloseCode::TooLarge`] above it.
pub const MAX_CLIENT_FRAME_BYTES: usize = 16 * 1024;

/// Largest frame the server may send (a full roster of a very large meeting fits).
pub const MAX_SERVER_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Error code of a refusal for going too fast: a command over the connection's frame rate (the
/// command fails; nothing changes), or a connection over the participant's cap (refused at the
/// handshake; the client backs off and tries again).
pub const TOO_FAST: u16 = ErrorCode::TooFast.code();

/// A request id, unique per client connection lifetime (the core never reuses one).
pub type RequestId = u64;

/// Where to resume after a reconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The peer id the server gave this client in its first [`ServerMessage::Welcome`].
    pub peer_id: String,
    /// The last event sequence number the client applied (0 if none).
    pub last_seq: u64,
}

/// The longest display name a join may carry, in characters (as the REST API's participant `name`).
pub const MAX_NAME_CHARS: usize = 200;

/// A display name as a join may carry it: trimmed of ASCII whitespace, 1 to [`MAX_NAME_CHARS`]
/// characters, no control characters (a NUL, say, which PostgreSQL's text cannot hold); `None`
/// when it is not one. The client's and the room's check.
pub fn display_name(name: &str) -> Option<&str> {
    let name = name.trim_matches(|c: char| c.is_ascii_whitespace());
    let fits = !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS;
    (fits && !name.chars().any(char::is_control)).then_some(name)
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First frame of every connection: version, credentials, and where to resume.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        protocol: u32,
        /// The participant auth token.
        token: String,
        /// Present when reconnecting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// Enter the meeting (or its waiting room).
    Join {
        /// Request id.
        req: RequestId,
        /// The display name for this stay, set by `meeting.self.setName` before joining (needs
        /// `can_edit_display_name`; 1 to 200 characters); absent: the participant's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Leave the meeting; others stay.
    Leave {
        /// Request id.
        req: RequestId,
    },
    /// Remove one participant (needs `kick_participant`).
    Kick {
        /// Request id.
        req: RequestId,
        /// The peer to remove.
        peer_id: String,
    },
    /// End the session for everyone (needs `kick_participant`).
    KickAll {
        /// Request id.
        req: RequestId,
    },
    /// Admit waiting participants (needs `accept_waiting_requests`).
    AcceptWaiting {
        /// Request id.
        req: RequestId,
        /// Peers to admit.
        peer_ids: Vec<String>,
    },
    /// Refuse a waiting participant (needs `accept_waiting_requests`).
    RejectWaiting {
        /// Request id.
        req: RequestId,
        /// The peer to refuse.
        peer_id: String,
    },
    /// Change participants' permissions (needs `can_change_participant_permissions`).
    UpdatePermissions {
        /// Request id.
        req: RequestId,
        /// Target peers.
        peer_ids: Vec<String>,
        /// The change.
        patch: PermissionsPatch,
    },
    /// Start recording the session (needs `can_record`).
    StartRecording {
        /// Request id.
        req: RequestId,
        /// RealtimeKit's `start({ allowMultiple })`: accepted, but one recording runs at a time.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        allow_multiple: bool,
    },
    /// Stop recording the session (needs `can_record`).
    StopRecording {
        /// Request id.
        req: RequestId,
        /// Only this recording (refused with `1004` when it is not the one in progress).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recording_id: Option<String>,
    },
    /// Pause the recording in progress (needs `can_record`).
    PauseRecording {
        /// Request id.
        req: RequestId,
        /// Only this recording (refused with `1004` when it is not the one in progress).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recording_id: Option<String>,
    },
    /// Resume the paused recording (needs `can_record`).
    ResumeRecording {
        /// Request id.
        req: RequestId,
        /// Only this recording (refused with `1004` when it is not the one paused).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recording_id: Option<String>,
    },
    /// Pin a joined participant for everyone, or unpin it (needs `pin_participant`; a
    /// participant may pin itself).
    Pin {
        /// Request id.
        req: RequestId,
        /// The peer to pin or unpin.
        peer_id: String,
        /// `true` to pin, `false` to unpin.
        pinned: bool,
    },
    /// Keep-alive; the server answers [`ServerMessage::Pong`].
    Ping {},
}

impl ClientMessage {
    /// The message's `type` on the wire (`"kick_all"`, say): a name for counting frames.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Join { .. } => "join",
            ClientMessage::Leave { .. } => "leave",
            ClientMessage::Kick { .. } => "kick",
            ClientMessage::KickAll { .. } => "kick_all",
            ClientMessage::AcceptWaiting { .. } => "accept_waiting",
            ClientMessage::RejectWaiting { .. } => "reject_waiting",
            ClientMessage::UpdatePermissions { .. } => "update_permissions",
            ClientMessage::StartRecording { .. } => "start_recording",
            ClientMessage::StopRecording { .. } => "stop_recording",
            ClientMessage::PauseRecording { .. } => "pause_recording",
            ClientMessage::ResumeRecording { .. } => "resume_recording",
            ClientMessage::Pin { .. } => "pin",
            ClientMessage::Ping {} => "ping",
        }
    }

    /// The request id, for messages that expect a reply.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            ClientMessage::Hello { .. } | ClientMessage::Ping {} => None,
            ClientMessage::Join { req, .. }
            | ClientMessage::Leave { req }
            | ClientMessage::Kick { req, .. }
            | ClientMessage::KickAll { req }
            | ClientMessage::AcceptWaiting { req, .. }
            | ClientMessage::RejectWaiting { req, .. }
            | ClientMessage::UpdatePermissions { req, .. }
            | ClientMessage::StartRecording { req, .. }
            | ClientMessage::StopRecording { req, .. }
            | ClientMessage::PauseRecording { req, .. }
            | ClientMessage::ResumeRecording { req, .. }
            | ClientMessage::Pin { req, .. } => Some(*req),
        }
    }
}

/// Who this participant is, as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SelfInfo {
    /// The participant id (RealtimeKit's `userId`), stable across sessions.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// The id the app gave when adding the participant.
    pub custom_participant_id: String,
    /// The preset's name.
    pub preset_name: String,
    /// The preset's permissions, as currently in force.
    pub permissions: Permissions,
}

/// The meeting, as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MeetingInfo {
    /// Meeting id.
    pub id: String,
    /// Meeting title.
    #[serde(default)]
    pub title: String,
}

/// A remote participant (a peer: one live connection of a participant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Peer id, unique per join.
    pub id: String,
    /// Participant id, stable across sessions.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// The id the app gave when adding the participant.
    pub custom_participant_id: String,
    /// The preset's name.
    pub preset_name: String,
    /// Hidden participants are never shown to others.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// Pinned by a host (`pin_participant`) for everyone: RealtimeKit's `isPinned`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
}

/// The live session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id; a new one for every session of a meeting.
    pub id: String,
    /// When it started (RFC 3339).
    pub started_at: String,
}

/// What a participant sees on being admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    /// This participant's own peer record.
    pub self_peer: Peer,
    /// The session.
    pub session: SessionInfo,
    /// Everyone else in the meeting (empty when this participant may not see the list).
    #[serde(default)]
    pub peers: Vec<Peer>,
    /// The waiting room (only for participants who may accept requests).
    #[serde(default)]
    pub waitlisted: Vec<Peer>,
    /// The recording state.
    #[serde(default)]
    pub recording: RecordingState,
    /// The recording in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_id: Option<String>,
}

/// Why a waiting participant left the waiting room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum WaitlistOutcome {
    /// Admitted.
    Accepted,
    /// Refused.
    Rejected,
    /// Gave up waiting.
    Left,
}

/// The `event` tag of every [`SessionEvent`], as on the wire.
pub const SESSION_EVENT_KINDS: [&str; 13] = [
    "joined",
    "waitlisted",
    "rejected",
    "kicked",
    "session_ended",
    "peer_joined",
    "peer_left",
    "peer_kicked",
    "waitlist_added",
    "waitlist_removed",
    "permissions_updated",
    "recording_updated",
    "peer_updated",
];

/// A sequenced session event. (Its `Deserialize` is hand-written in `decode.rs`.)
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SessionEvent {
    /// This participant is in the meeting (after a join, or after a waiting-room accept).
    Joined {
        /// The room as it is now.
        room: RoomSnapshot,
    },
    /// This participant was placed in the waiting room.
    Waitlisted,
    /// This participant's waiting-room request was rejected.
    Rejected {
        /// Who rejected it.
        by: Actor,
    },
    /// This participant was removed.
    Kicked {
        /// Who removed it.
        by: Actor,
    },
    /// The session ended for everyone.
    SessionEnded {
        /// How and by whom.
        end: SessionEnd,
    },
    /// A remote participant joined.
    PeerJoined {
        /// The peer.
        peer: Peer,
    },
    /// A remote participant left.
    PeerLeft {
        /// Its peer id.
        peer_id: String,
    },
    /// A remote participant was removed by a host or the API.
    PeerKicked {
        /// Its peer id.
        peer_id: String,
        /// Who removed it.
        by: Actor,
    },
    /// Someone entered the waiting room (sent to those who may accept).
    WaitlistAdded {
        /// The waiting peer.
        peer: Peer,
    },
    /// Someone left the waiting room.
    WaitlistRemoved {
        /// Its peer id.
        peer_id: String,
        /// Why.
        outcome: WaitlistOutcome,
    },
    /// This participant's permissions changed.
    PermissionsUpdated {
        /// The change.
        patch: PermissionsPatch,
        /// Who changed them.
        by: Actor,
    },
    /// The session's recording state changed.
    RecordingUpdated {
        /// The new state.
        state: RecordingState,
        /// The recording concerned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A joined participant's public record changed (it was pinned or unpinned): the record as
    /// it is now. Sent to those who see the participant list and to the participant itself.
    PeerUpdated {
        /// The record now.
        peer: Peer,
        /// Who changed it.
        by: Actor,
    },
}

/// Why a resume was refused. (Its `Deserialize` is hand-written in `decode.rs`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ResumeRefusal {
    /// The session ended while the client was away.
    SessionEnded {
        /// How and by whom.
        end: SessionEnd,
    },
    /// The participant was removed while away.
    Kicked {
        /// Who removed it.
        by: Actor,
    },
    /// The waiting-room request was rejected while away.
    Rejected {
        /// Who rejected it.
        by: Actor,
    },
    /// The server no longer knows this peer (its state expired).
    Expired,
}

/// Data of a successful reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReplyData {
    /// For `kick_all`: how many peers were removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kicked_participants_count: Option<u64>,
}

/// An error as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// Numeric code ([`ErrorCode`]; a client keeps one it does not know as it is).
    pub code: u16,
    /// Human-readable message.
    pub message: String,
}

impl WireError {
    /// An error of a known code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code: code.code(), message: message.into() }
    }
}

/// A message from the server to a client.
///
/// Unknown fields are ignored (a newer server may add some); unknown message types are errors.
/// (Its `Deserialize` is hand-written in `decode.rs`.)
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to [`ClientMessage::Hello`].
    Welcome {
        /// The server's protocol version.
        protocol: u32,
        /// This connection's peer id (the same as before when resumed).
        peer_id: String,
        /// Whether the connection resumed an earlier one; missed events follow.
        resumed: bool,
        /// Who this participant is.
        #[serde(rename = "self")]
        self_info: SelfInfo,
        /// The meeting.
        meeting: MeetingInfo,
    },
    /// The server cannot resume: the participant's stay ended while it was away.
    ResumeRefused {
        /// Why.
        #[serde(flatten)]
        refusal: ResumeRefusal,
    },
    /// A command succeeded.
    Reply {
        /// The command's request id.
        req: RequestId,
        /// Result data.
        #[serde(default)]
        data: ReplyData,
    },
    /// A command failed, or (without `req`) the connection hit a protocol error.
    Error {
        /// The command's request id, if the error answers one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<RequestId>,
        /// What went wrong.
        error: WireError,
    },
    /// A session event.
    Event {
        /// Per-session sequence number, strictly increasing.
        seq: u64,
        /// The event.
        #[serde(flatten)]
        event: SessionEvent,
    },
    /// Keep-alive answer.
    Pong,
}

impl ServerMessage {
    /// The message's `type` on the wire, or for an event its `event` (`"peer_joined"`, say): a
    /// name for counting frames.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::Welcome { .. } => "welcome",
            ServerMessage::ResumeRefused { .. } => "resume_refused",
            ServerMessage::Reply { .. } => "reply",
            ServerMessage::Error { .. } => "error",
            ServerMessage::Event { event, .. } => event.kind(),
            ServerMessage::Pong => "pong",
        }
    }
}

impl SessionEvent {
    /// The event's `event` on the wire (one of [`SESSION_EVENT_KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            SessionEvent::Joined { .. } => "joined",
            SessionEvent::Waitlisted => "waitlisted",
            SessionEvent::Rejected { .. } => "rejected",
            SessionEvent::Kicked { .. } => "kicked",
            SessionEvent::SessionEnded { .. } => "session_ended",
            SessionEvent::PeerJoined { .. } => "peer_joined",
            SessionEvent::PeerLeft { .. } => "peer_left",
            SessionEvent::PeerKicked { .. } => "peer_kicked",
            SessionEvent::WaitlistAdded { .. } => "waitlist_added",
            SessionEvent::WaitlistRemoved { .. } => "waitlist_removed",
            SessionEvent::PermissionsUpdated { .. } => "permissions_updated",
            SessionEvent::RecordingUpdated { .. } => "recording_updated",
            SessionEvent::PeerUpdated { .. } => "peer_updated",
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame is larger than the limit.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The frame's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The frame is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl FrameError {
    /// Stable numeric code (sent back in [`WireError::code`]): [`ErrorCode::FrameTooLarge`] or
    /// [`ErrorCode::MalformedFrame`].
    pub fn code(&self) -> u16 {
        self.error_code().code()
    }

    /// The typed code.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { .. } => ErrorCode::FrameTooLarge,
            FrameError::Malformed(_) => ErrorCode::MalformedFrame,
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(text: &str, limit: usize) -> Result<T, FrameError> {
    if text.len() > limit {
        return Err(FrameError::TooLarge { size: text.len(), limit });
    }
    serde_json::from_str(text).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Decodes a frame sent by the server.
pub fn decode_server(text: &str) -> Result<ServerMessage, FrameError> {
    decode(text, MAX_SERVER_FRAME_BYTES)
}

/// Decodes a frame sent by a client.
pub fn decode_client(text: &str) -> Result<ClientMessage, FrameError> {
    decode(text, MAX_CLIENT_FRAME_BYTES)
}

/// Encodes a client message as a text frame.
pub fn encode_client(msg: &ClientMessage) -> String {
    // Serialising these types cannot fail: every map key is a string.
    // (Display, not Debug, of the impossible error keeps the browser build smaller.)
    serde_json::to_string(msg).unwrap_or_else(|e| panic!("a client message did not serialise: {e}"))
}

/// Encodes a server message as a text frame.
pub fn encode_server(msg: &ServerMessage) -> String {
    serde_json::to_string(msg).unwrap_or_else(|e| panic!("a server message did not serialise: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::EndReason;

    #[test]
    fn hello_round_trips_and_omits_absent_resume() {
        let hello = ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: "t".into(), resume: None };
        let text = encode_client(&hello);
        assert_eq!(text, r#"{"type":"hello","protocol":1,"token":"t"}"#);
        assert_eq!(decode_client(&text).unwrap(), hello);
    }

    #[test]
    fn event_flattens_seq_and_event_tag() {
        let msg = ServerMessage::Event {
            seq: 9,
            event: SessionEvent::SessionEnded {
                end: SessionEnd { session_id: "s".into(), reason: EndReason::HostEndedMeeting, ended_by: Actor::Api },
            },
        };
        let text = encode_server(&msg);
        assert_eq!(
            text,
            r#"{"type":"event","seq":9,"event":"session_ended","end":{"session_id":"s","reason":"HOST_ENDED_MEETING","ended_by":{"kind":"api"}}}"#
        );
        assert_eq!(decode_server(&text).unwrap(), msg);
    }

    #[test]
    fn oversized_and_malformed_frames_are_typed_errors() {
        let big = format!(r#"{{"type":"kick","req":1,"peer_id":"{}"}}"#, "x".repeat(MAX_CLIENT_FRAME_BYTES));
        assert!(matches!(decode_client(&big), Err(FrameError::TooLarge { .. })));
        for bad in ["", "{", "[]", r#"{"type":"nope"}"#, r#"{"type":"kick_all"}"#, r#"{"type":"ping","x":1}"#] {
            let err = decode_client(bad).unwrap_err();
            assert!(matches!(err, FrameError::Malformed(_)), "{bad}: {err:?}");
            assert_eq!(err.code(), 4400);
        }
    }

    #[test]
    fn request_ids() {
        assert_eq!(ClientMessage::Ping {}.request_id(), None);
        assert_eq!(ClientMessage::Leave { req: 4 }.request_id(), Some(4));
    }
}
