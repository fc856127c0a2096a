//! Why a room refused a REST action or a recording command, typed. The server answers each with
//! an HTTP status and this message; the signalling side with its protocol code.

/// A room's refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum Refusal {
    /// Kick-all with no live session.
    #[error("No active session found for meeting_id {meeting_id}")]
    NoActiveSession {
        /// The meeting.
        meeting_id: String,
    },
    /// Kick of participants none of which is in the session.
    #[error("No user found with id {ids}")]
    NoSuchParticipants {
        /// The ids asked for, comma-separated.
        ids: String,
    },
    /// A recording asked for with no live session.
    #[error("meeting {meeting_id} has no active session to record")]
    NothingToRecord {
        /// The meeting.
        meeting_id: String,
    },
    /// A recording asked for while one runs; one recording per session here.
    #[error("a recording is already in progress{}", if *.multiple_asked { " (one recording per session here)" } else { "" })]
    AlreadyRecording {
        /// The caller asked for several recordings.
        multiple_asked: bool,
    },
    /// A stop with nothing recording.
    #[error("nothing is recording")]
    NotRecording,
    /// An action on a recording that is not the one in progress.
    #[error("{}", match .id { Some(id) => format!("recording {id} is not in progress"), None => "that recording is not in progress".to_owned() })]
    NotInProgress {
        /// The recording, when named in the message.
        id: Option<String>,
    },
    /// A pause of a paused recording, or a resume of a running one.
    #[error("recording {id} is already {}", if *.paused { "paused" } else { "running" })]
    AlreadyInState {
        /// The recording.
        id: String,
        /// Whether it is paused.
        paused: bool,
    },
    /// The recording's file could not be created.
    #[error("the recording file could not be created")]
    RecordingFile,
    /// The room was closing as the command arrived (try again).
    #[error("the room was restarting; try again")]
    Restarting,
    /// In cluster mode, the node that runs the meeting did not answer in time. The command may
    /// have taken effect, so it is not sent again on the caller's behalf.
    #[error("the node running the meeting did not answer in time; the command may have taken effect")]
    Unanswered,
}
