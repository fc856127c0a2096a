//! Why a room refused a REST action, typed; the API answers each with its HTTP status and
//! message, and the signalling side with its protocol code.

use axum::http::StatusCode;

/// A room's refusal of an [`ApiCommand`](super::ApiCommand) or of a recording command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Kick-all with no live session (`404`).
    #[error("No active session found for meeting_id {meeting_id}")]
    NoActiveSession {
        /// The meeting.
        meeting_id: String,
    },
    /// Kick of participants none of which is in the session (`404`).
    #[error("No user found with id {ids}")]
    NoSuchParticipants {
        /// The ids asked for, comma-separated.
        ids: String,
    },
    /// A recording asked for with no live session (`409`).
    #[error("meeting {meeting_id} has no active session to record")]
    NothingToRecord {
        /// The meeting.
        meeting_id: String,
    },
    /// A recording asked for while one runs (`409`); one recording per session here.
    #[error("a recording is already in progress{}", if *.multiple_asked { " (one recording per session here)" } else { "" })]
    AlreadyRecording {
        /// The caller asked for several recordings.
        multiple_asked: bool,
    },
    /// A stop with nothing recording (`409`).
    #[error("nothing is recording")]
    NotRecording,
    /// An action on a recording that is not the one in progress (`409`).
    #[error("{}", match .id { Some(id) => format!("recording {id} is not in progress"), None => "that recording is not in progress".to_owned() })]
    NotInProgress {
        /// The recording, when named in the message.
        id: Option<String>,
    },
    /// A pause of a paused recording, or a resume of a running one (`409`).
    #[error("recording {id} is already {}", if *.paused { "paused" } else { "running" })]
    AlreadyInState {
        /// The recording.
        id: String,
        /// Whether it is paused.
        paused: bool,
    },
    /// The recording's file could not be created (`500`).
    #[error("the recording file could not be created")]
    RecordingFile,
    /// The room was closing as the command arrived (`503`; try again).
    #[error("the room was restarting; try again")]
    Restarting,
}

impl Refusal {
    /// The HTTP status the REST API answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NoActiveSession { .. } | Refusal::NoSuchParticipants { .. } => StatusCode::NOT_FOUND,
            Refusal::NothingToRecord { .. }
            | Refusal::AlreadyRecording { .. }
            | Refusal::NotRecording
            | Refusal::NotInProgress { .. }
            | Refusal::AlreadyInState { .. } => StatusCode::CONFLICT,
            Refusal::RecordingFile => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::Restarting => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<Refusal> for crate::api::ApiError {
    fn from(refusal: Refusal) -> Self {
        Self { status: refusal.status(), message: refusal.to_string() }
    }
}
