//! The observable states of the local participant: room, waiting list, socket, recording, and how
//! a stay in the room ended. Every enum serialises to RealtimeKit's exact strings.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `meeting.self.roomState`, with RealtimeKit's strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum RoomState {
    /// Created, not joined yet (also while a join is in flight).
    Init,
    /// In the meeting.
    Joined,
    /// In the waiting room.
    Waitlisted,
    /// This participant called `leave()`. Terminal.
    Left,
    /// A host or the REST API removed this participant. Terminal.
    Kicked,
    /// The session was ended for everyone. Terminal.
    Ended,
    /// A host rejected the waiting-room request. Terminal.
    Rejected,
    /// The connection dropped; the client is reconnecting. Not terminal.
    Disconnected,
    /// Reconnection gave up. Terminal: create a new client.
    Failed,
}

impl RoomState {
    /// Every state, in declaration order.
    pub const ALL: [RoomState; 9] = [
        RoomState::Init,
        RoomState::Joined,
        RoomState::Waitlisted,
        RoomState::Left,
        RoomState::Kicked,
        RoomState::Ended,
        RoomState::Rejected,
        RoomState::Disconnected,
        RoomState::Failed,
    ];

    /// RealtimeKit's string for this state.
    pub fn as_str(self) -> &'static str {
        match self {
            RoomState::Init => "init",
            RoomState::Joined => "joined",
            RoomState::Waitlisted => "waitlisted",
            RoomState::Left => "left",
            RoomState::Kicked => "kicked",
            RoomState::Ended => "ended",
            RoomState::Rejected => "rejected",
            RoomState::Disconnected => "disconnected",
            RoomState::Failed => "failed",
        }
    }

    /// Whether no command can succeed any more and no reconnect will be attempted.
    pub fn is_terminal(self) -> bool {
        matches!(self, RoomState::Left | RoomState::Kicked | RoomState::Ended | RoomState::Rejected | RoomState::Failed)
    }
}

impl fmt::Display for RoomState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `meeting.self.waitlistStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum WaitlistStatus {
    /// Never waitlisted.
    #[default]
    None,
    /// Waiting for a host.
    Waiting,
    /// A host accepted the request.
    Accepted,
    /// A host rejected the request.
    Rejected,
}

/// The signalling connection's state, as in `meeting.meta.socketState.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum SocketConnectionState {
    /// Connected (or never connected yet).
    Connected,
    /// Not connected, and not trying (before the first join, or after leaving).
    #[default]
    Disconnected,
    /// Lost; trying again.
    Reconnecting,
    /// Gave up.
    Failed,
}

/// `meeting.meta.socketState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct SocketState {
    /// The connection state.
    pub state: SocketConnectionState,
    /// True once a connection has been re-established after a drop.
    pub reconnected: bool,
    /// The number of the reconnection attempt in progress (0 when none).
    pub reconnection_attempt: u32,
}

/// `meeting.recording.recordingState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum RecordingState {
    /// No recording.
    #[default]
    Idle,
    /// A recording was requested and is starting.
    Starting,
    /// Recording.
    Recording,
    /// Paused.
    Paused,
    /// Stopping.
    Stopping,
}

/// Why a session ended, as in the `meeting.ended` webhook's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum EndReason {
    /// A host (client `kickAll()`) or the REST API (`kick-all`) ended it.
    HostEndedMeeting,
    /// Everyone left and the keep-alive time passed.
    AllParticipantsLeft,
}

/// Who did something to the session or to this participant.
// (Its `Deserialize` is hand-written in `proto/decode.rs`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all_fields = "camelCase"))]
pub enum Actor {
    /// A participant, by peer id.
    Peer {
        /// The acting peer's id.
        peer_id: String,
    },
    /// The REST API (a backend).
    Api,
    /// The server itself (keep-alive expiry, shutdown).
    System,
}

/// How and by whom a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct SessionEnd {
    /// The session that ended.
    pub session_id: String,
    /// Why it ended.
    pub reason: EndReason,
    /// Who ended it.
    pub ended_by: Actor,
}

/// How the local participant's stay ended or was interrupted: the payload of `roomLeft`.
///
/// Its JSON form for applications is built by [`crate::Event::payload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveState {
    /// This participant called `leave()`.
    Left,
    /// Removed by a host or the REST API.
    Kicked {
        /// Who removed this participant.
        kicked_by: Actor,
    },
    /// The session was ended for everyone.
    Ended(SessionEnd),
    /// The waiting-room request was rejected.
    Rejected {
        /// Who rejected it.
        rejected_by: Actor,
    },
    /// The connection dropped; the client is reconnecting.
    Disconnected,
    /// Reconnection gave up after this many attempts.
    Failed {
        /// Attempts made.
        attempts: u32,
    },
}

impl LeaveState {
    /// The room state this leave puts the participant in.
    pub fn room_state(&self) -> RoomState {
        match self {
            LeaveState::Left => RoomState::Left,
            LeaveState::Kicked { .. } => RoomState::Kicked,
            LeaveState::Ended(_) => RoomState::Ended,
            LeaveState::Rejected { .. } => RoomState::Rejected,
            LeaveState::Disconnected => RoomState::Disconnected,
            LeaveState::Failed { .. } => RoomState::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_realtimekits() {
        let strings: Vec<String> =
            RoomState::ALL.iter().map(|s| serde_json::to_value(s).unwrap().as_str().unwrap().to_owned()).collect();
        assert_eq!(
            strings,
            ["init", "joined", "waitlisted", "left", "kicked", "ended", "rejected", "disconnected", "failed"]
        );
        for s in RoomState::ALL {
            assert_eq!(s.to_string(), serde_json::to_value(s).unwrap().as_str().unwrap());
        }
        assert_eq!(serde_json::to_value(RecordingState::Stopping).unwrap(), "STOPPING");
        assert_eq!(serde_json::to_value(EndReason::HostEndedMeeting).unwrap(), "HOST_ENDED_MEETING");
    }

    #[test]
    fn wire_forms_are_snake_case() {
        let v = serde_json::to_value(SessionEnd {
            session_id: "s1".into(),
            reason: EndReason::HostEndedMeeting,
            ended_by: Actor::Peer { peer_id: "p1".into() },
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"session_id":"s1","reason":"HOST_ENDED_MEETING",
                "ended_by":{"kind":"peer","peer_id":"p1"}})
        );
        assert_eq!(serde_json::to_value(Actor::Api).unwrap(), serde_json::json!({"kind":"api"}));
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = RoomState::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(
            terminal,
            [RoomState::Left, RoomState::Kicked, RoomState::Ended, RoomState::Rejected, RoomState::Failed]
        );
    }
}
