//! Errors of commands, with stable numeric codes.
//!
//! Codes follow RealtimeKit's web error table where it has one (`1201` permission denied, `1205`
//! action not permitted without joining room, `1001` recording permission denied, ...). Codes in
//! the `44xx` and `45xx` ranges are Convene's own, for cases RealtimeKit does not name (a range
//! RealtimeKit does not use).
//!
//! | code | error |
//! |------|-------|
//! | 0002 | [`ClientError::JoinRefused`] |
//! | 0004 | [`ClientError::InvalidAuthToken`] |
//! | 0012 | [`ClientError::ConnectionLost`] |
//! | 1001 | [`ClientError::RecordingPermissionDenied`] |
//! | 1004 | [`ClientError::RecordingNotStarted`] |
//! | 1005 | [`ClientError::RecordingInProgress`] |
//! | 1201 | [`ClientError::PermissionDenied`], [`ClientError::CannotGrant`] |
//! | 1202 | [`ClientError::ParticipantNotFound`] |
//! | 1203 | [`ClientError::ActionOnSelf`] |
//! | 1205 | [`ClientError::NotJoined`] |
//! | 4501 | [`ClientError::RoomClosed`] |
//! | 4502 | [`ClientError::Timeout`] |
//! | 4503 | [`ClientError::AlreadyJoining`] |
//! | 4504 | [`ClientError::InvalidArgument`] |
//! | any  | [`ClientError::Server`]: the server's own code |

use crate::proto::{ErrorCode, WireError};
use crate::state::RoomState;

/// Why a command failed. `Clone + Eq` so tests can compare errors.
///
/// Local checks fail before anything is sent; the server re-checks and may refuse with
/// [`ClientError::Server`] carrying the same code the local check would have used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The participant is not in the meeting (`1205`). Not retryable until joined.
    #[error("action not permitted without joining room (room state is {state})")]
    NotJoined {
        /// The state at the time.
        state: RoomState,
    },
    /// The preset lacks a host permission (`1201`). Not retryable unless permissions change.
    #[error("permission denied: the preset lacks {permission}")]
    PermissionDenied {
        /// The missing permission, by its REST name.
        permission: &'static str,
    },
    /// A permission patch would grant a permission the sender does not hold itself (`1201`).
    #[error("permission denied: cannot grant {permission}, which this participant does not hold")]
    CannotGrant {
        /// The permission, by its REST path (`kick_participant`, `media.audio.can_produce`).
        permission: String,
    },
    /// The preset lacks `can_record` (`1001`).
    #[error("recording permission denied: the preset lacks can_record")]
    RecordingPermissionDenied,
    /// Stop was asked while nothing is recording (`1004`).
    #[error("recording not started")]
    RecordingNotStarted,
    /// Start was asked while a recording is running (`1005`).
    #[error("recording already in progress")]
    RecordingInProgress,
    /// No such remote participant (`1202`).
    #[error("participant {peer_id} not found")]
    ParticipantNotFound {
        /// The id given.
        peer_id: String,
    },
    /// The action cannot target the local participant (`1203`).
    #[error("cannot perform this action on self")]
    ActionOnSelf,
    /// The stay in the room is over (`4501`); create a new client to join again. Not retryable.
    #[error("the room was left (state {state}); create a new client to join again")]
    RoomClosed {
        /// The terminal state.
        state: RoomState,
    },
    /// The server did not reply in time (`4502`). Retryable.
    #[error("no reply from the server within {after_ms} ms")]
    Timeout {
        /// The configured request timeout.
        after_ms: u64,
    },
    /// `join()` was called while a join is already under way or done (`4503`).
    #[error("already joining or joined (room state is {state})")]
    AlreadyJoining {
        /// The state at the time.
        state: RoomState,
    },
    /// An argument is unusable, e.g. an empty list of ids (`4504`).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The connection dropped before the server replied (`0012`); the outcome is unknown.
    /// Retryable after reconnecting.
    #[error("connection lost before the server replied")]
    ConnectionLost,
    /// The server refused the join (`0002`), e.g. the meeting is `INACTIVE`.
    #[error("failed to join room: {message}")]
    JoinRefused {
        /// The server's explanation.
        message: String,
    },
    /// The server refused the participant token (`0004`).
    #[error("invalid auth token: {message}")]
    InvalidAuthToken {
        /// The server's explanation.
        message: String,
    },
    /// The server refused the command with its own code.
    #[error("server error {code}: {message}")]
    Server {
        /// The server's code.
        code: u16,
        /// The server's message.
        message: String,
    },
}

/// An error with its causes, each once (an HTTP or WebSocket library's own message rarely says
/// why: a refused certificate, a refused connection). For the front ends' and tools' messages.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

impl ClientError {
    /// The stable numeric code.
    pub fn code(&self) -> u16 {
        match self.known_code() {
            Ok(code) => code.code(),
            Err(number) => number,
        }
    }

    /// The code, when it is one this crate knows (a server's own code may not be).
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.known_code().ok()
    }

    /// The typed code, or the number of a server's code this crate does not know.
    fn known_code(&self) -> Result<ErrorCode, u16> {
        Ok(match self {
            ClientError::NotJoined { .. } => ErrorCode::NotJoined,
            ClientError::PermissionDenied { .. } | ClientError::CannotGrant { .. } => ErrorCode::PermissionDenied,
            ClientError::RecordingPermissionDenied => ErrorCode::RecordingPermissionDenied,
            ClientError::RecordingNotStarted => ErrorCode::RecordingNotStarted,
            ClientError::RecordingInProgress => ErrorCode::RecordingInProgress,
            ClientError::ParticipantNotFound { .. } => ErrorCode::ParticipantNotFound,
            ClientError::ActionOnSelf => ErrorCode::ActionOnSelf,
            ClientError::RoomClosed { .. } => ErrorCode::RoomClosed,
            ClientError::Timeout { .. } => ErrorCode::Timeout,
            ClientError::AlreadyJoining { .. } => ErrorCode::AlreadyJoining,
            ClientError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            ClientError::ConnectionLost => ErrorCode::ConnectionLost,
            ClientError::JoinRefused { .. } => ErrorCode::JoinRefused,
            ClientError::InvalidAuthToken { .. } => ErrorCode::InvalidAuthToken,
            ClientError::Server { code, .. } => return ErrorCode::from_code(*code).ok_or(*code),
        })
    }

    /// The code as RealtimeKit writes it: four digits, zero-padded (`"0012"`, `"1201"`).
    pub fn code_string(&self) -> String {
        format!("{:04}", self.code())
    }

    /// The error the server sent, as a client error.
    pub fn from_wire(error: WireError) -> Self {
        match ErrorCode::from_code(error.code) {
            Some(ErrorCode::JoinRefused) => ClientError::JoinRefused { message: error.message },
            Some(ErrorCode::InvalidAuthToken) => ClientError::InvalidAuthToken { message: error.message },
            _ => ClientError::Server { code: error.code, message: error.message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_padded() {
        assert_eq!(ClientError::PermissionDenied { permission: "kick_participant" }.code(), 1201);
        assert_eq!(ClientError::NotJoined { state: RoomState::Init }.code_string(), "1205");
        assert_eq!(ClientError::ConnectionLost.code_string(), "0012");
        let e = ClientError::from_wire(WireError { code: 1201, message: "no".into() });
        assert_eq!(e.code(), 1201);
        assert!(matches!(
            ClientError::from_wire(WireError { code: 2, message: "inactive".into() }),
            ClientError::JoinRefused { .. }
        ));
    }
}
