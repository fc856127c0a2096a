//! What the room knows of the world around it: the app, the meeting's settings, a participant's
//! record, and the records it writes (recordings, the outcome of a stay). The driver builds these
//! from its store; the room never reads the store itself.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use convene_core::contract::MeetingStatus;

/// The app a meeting belongs to (for webhook payloads and download links).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppInfo {
    /// App id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The account the app belongs to (part of REST URLs).
    pub account: String,
}

/// The settings of a meeting that its session rules read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSettings {
    /// Meeting id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// An `INACTIVE` meeting refuses joins.
    pub status: MeetingStatus,
    /// Seconds a session stays alive after its last participant left.
    pub session_keep_alive_time_in_secs: u32,
    /// Start recording when a session starts.
    pub record_on_start: bool,
}

/// A participant's record, as a peer of it shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantInfo {
    /// Participant id (the `userId` clients see).
    pub id: String,
    /// The app's own id for the participant.
    pub custom_participant_id: String,
    /// The preset's name.
    pub preset_name: String,
    /// Display name.
    pub name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
}

/// How a peer's stay in a session ended, as the store records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StayOutcome {
    /// It left.
    Left,
    /// It was kicked (by a host or the API).
    Kicked,
    /// It went away and did not resume within the grace period.
    Expired,
}

impl StayOutcome {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StayOutcome::Left => "left",
            StayOutcome::Kicked => "kicked",
            StayOutcome::Expired => "expired",
        }
    }
}

/// Where a recording is in RealtimeKit's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RecordingStatus {
    /// Asked for; the file is being created.
    Invoked,
    /// Writing.
    Recording,
    /// Paused: events are not written.
    Paused,
    /// Stopped; the file is being finished.
    Uploading,
    /// Finished; downloadable.
    Uploaded,
    /// Failed.
    Errored,
}

impl RecordingStatus {
    /// Every status.
    pub const ALL: [RecordingStatus; 6] = [
        RecordingStatus::Invoked,
        RecordingStatus::Recording,
        RecordingStatus::Paused,
        RecordingStatus::Uploading,
        RecordingStatus::Uploaded,
        RecordingStatus::Errored,
    ];

    /// The wire and stored spelling (`INVOKED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingStatus::Invoked => "INVOKED",
            RecordingStatus::Recording => "RECORDING",
            RecordingStatus::Paused => "PAUSED",
            RecordingStatus::Uploading => "UPLOADING",
            RecordingStatus::Uploaded => "UPLOADED",
            RecordingStatus::Errored => "ERRORED",
        }
    }

    /// Reads a stored spelling.
    pub fn parse(s: &str) -> Result<Self, UnknownStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A stored recording status that is none of [`RecordingStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown recording status {0:?}")]
pub struct UnknownStatus(pub String);

/// A recording of a session's signalling timeline (RealtimeKit's recording object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recording {
    /// Recording id.
    pub id: String,
    /// The meeting's id.
    pub meeting_id: String,
    /// The session's id.
    pub session_id: Option<String>,
    /// Where it is in its life cycle.
    pub status: RecordingStatus,
    /// When it was asked for.
    pub invoked_time: String,
    /// When it started.
    pub started_time: Option<String>,
    /// When it stopped.
    pub stopped_time: Option<String>,
    /// The file's name.
    pub output_file_name: String,
    /// Where to download it (the server's `/download` path), once uploaded.
    pub download_url: Option<String>,
    /// Where to download the audio alone: always null, as Convene records signalling, not media
    /// (Cloudflare's answers have the field, and its SDKs require it).
    pub audio_download_url: Option<String>,
    /// When `download_url` stops working: always null, as Convene's links do not expire.
    pub download_url_expiry: Option<String>,
    /// Size in bytes, once uploaded.
    pub file_size: Option<u64>,
    /// Seconds recorded, once stopped (absent before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_duration: Option<u64>,
    /// Why it started.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub start_reason: Value,
    /// Why it stopped (absent before it did).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_status_spellings_round_trip() {
        for status in RecordingStatus::ALL {
            assert_eq!(RecordingStatus::parse(status.as_str()), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(RecordingStatus::parse("DONE"), Err(UnknownStatus("DONE".into())));
    }
}
