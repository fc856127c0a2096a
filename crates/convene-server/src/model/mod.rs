//! The REST resources, as stored and as served (RealtimeKit's snake_case shapes).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

mod meeting_config;

pub use meeting_config::{
    AiConfig, AudioChannel, AudioCodec, AudioConfig, BucketConfig, LiveStreamingConfig, RecordingConfig,
    StorageAuthMethod, StorageConfig, StorageType, Summarization, SummaryType, TextFormat, Transcription,
    TranscriptionLanguage, VideoCodec, VideoConfig, Watermark, WatermarkPosition, WatermarkSize,
};

/// An app: the unit of isolation. Belongs to the account it was created under.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct App {
    /// App id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A preset: reusable configuration and permissions applied to participants.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Preset {
    /// Preset id.
    pub id: String,
    /// Name, unique within the app (participants refer to presets by name).
    pub name: String,
    /// Meeting configuration (`view_type`, `media`, ...), kept as given.
    #[schema(value_type = Object)]
    pub config: Value,
    /// The permission set (RealtimeKit's `permissions` object).
    #[schema(value_type = Object)]
    pub permissions: Value,
    /// UI settings, kept as given.
    #[schema(value_type = Object)]
    pub ui: Value,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A meeting: a persistent room; sessions are its live instances.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Meeting {
    /// Meeting id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// `ACTIVE` or `INACTIVE`; an `INACTIVE` meeting refuses joins.
    pub status: MeetingStatus,
    /// Seconds a session stays alive after the last participant left (0..=600).
    pub session_keep_alive_time_in_secs: u32,
    /// Start recording when a session starts.
    pub record_on_start: bool,
    /// Keep chat after the session.
    pub persist_chat: bool,
    /// Start a livestream when a session starts (accepted and stored; not acted on).
    pub live_stream_on_start: bool,
    /// Summarise the transcript when a session ends (stored; not acted on: no media here).
    #[serde(default)]
    pub summarize_on_end: bool,
    /// Transcribe the session when it ends (stored; not acted on: no media here).
    #[serde(default)]
    pub transcribe_on_end: bool,
    /// Transcription and summary settings (stored; not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_config: Option<AiConfig>,
    /// Recording settings (stored but for the storage credentials; not acted on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_config: Option<RecordingConfig>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl Meeting {
    /// A new `ACTIVE` meeting with RealtimeKit's defaults (keep-alive 60 s, nothing on start);
    /// the store sets its id and times.
    pub fn with_defaults(title: Option<String>) -> Self {
        Meeting {
            id: String::new(),
            title,
            status: MeetingStatus::Active,
            session_keep_alive_time_in_secs: 60,
            record_on_start: false,
            persist_chat: false,
            live_stream_on_start: false,
            summarize_on_end: false,
            transcribe_on_end: false,
            ai_config: None,
            recording_config: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }
}

/// A meeting's status: the contract's type, which `GET /v1/participant/me` serves too.
pub use convene_core::contract::MeetingStatus;

/// A participant record (RealtimeKit's "participant"; a live connection of it is a peer).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Participant {
    /// Participant id (the `userId` clients see).
    pub id: String,
    /// The app's own id for this participant.
    pub custom_participant_id: String,
    /// The preset's name.
    pub preset_name: String,
    /// Display name.
    pub name: Option<String>,
    /// Picture URL, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// The participant auth token (only in the answers of add and token refresh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A session: one live instance of a meeting.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// The meeting's id.
    pub associated_id: String,
    /// The meeting's title when the session started.
    pub meeting_display_name: Option<String>,
    /// The app's id.
    pub organization_id: String,
    /// `LIVE` or `ENDED`.
    pub status: String,
    /// Always `meeting`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Peers in the session now.
    pub live_participants: u32,
    /// Most peers at once.
    pub max_concurrent_participants: u32,
    /// Participant-minutes so far.
    pub minutes_consumed: f64,
    /// Start.
    pub started_at: String,
    /// End, once ended (absent before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// `HOST_ENDED_MEETING` or `ALL_PARTICIPANTS_LEFT`, once ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// One peer's stay in a session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionPeer {
    /// Peer id.
    pub id: String,
    /// The participant's id.
    pub user_id: String,
    /// The app's id for the participant.
    pub custom_participant_id: String,
    /// Display name.
    pub display_name: String,
    /// Preset name.
    pub preset_name: String,
    /// When the peer joined.
    pub joined_at: String,
    /// When the peer left, once it did (absent before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_at: Option<String>,
    /// Minutes in the session (so far, while still in).
    pub duration: f64,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A recording of a session's signalling timeline: the room core's record.
pub use convene_room::{Recording, RecordingStatus};

/// A webhook subscription.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    /// Webhook id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Where deliveries go.
    pub url: String,
    /// Subscribed event names.
    pub events: Vec<String>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// Webhook event names the server emits.
pub const WEBHOOK_EVENTS: [&str; 5] = [
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "recording.statusUpdate",
];

/// Event names a webhook may subscribe to: RealtimeKit's whole list (some are never emitted here).
pub const SUBSCRIBABLE_EVENTS: [&str; 9] = [
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "meeting.chatSynced",
    "recording.statusUpdate",
    "livestreaming.statusUpdate",
    "meeting.transcript",
    "meeting.summary",
];

impl Participant {
    /// The part of the record a room shows of its peers.
    pub fn info(&self) -> convene_room::ParticipantInfo {
        convene_room::ParticipantInfo {
            id: self.id.clone(),
            custom_participant_id: self.custom_participant_id.clone(),
            preset_name: self.preset_name.clone(),
            name: self.name.clone(),
            picture: self.picture.clone(),
        }
    }
}

impl Meeting {
    /// The settings a room's session rules read.
    pub fn settings(&self) -> convene_room::MeetingSettings {
        convene_room::MeetingSettings {
            id: self.id.clone(),
            title: self.title.clone(),
            status: self.status,
            session_keep_alive_time_in_secs: self.session_keep_alive_time_in_secs,
            record_on_start: self.record_on_start,
        }
    }
}
