//! A meeting's AI and recording settings, in the shapes of Cloudflare's RealtimeKit schema. Convene
//! stores them with the meeting and answers them back, checked field by field (an unknown field, a
//! wrong type or a value outside its enum is a 400), but acts on none: it has no media to
//! transcribe, summarise or encode. The storage credentials of `recording_config.storage_config`
//! are checked for their names and types (not for which of Cloudflare's four shapes they form:
//! nothing here uses them) and then dropped, never stored: Convene uploads nowhere, and a secret
//! it does not need is one it cannot leak.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a meeting's transcripts and summaries would be made (`ai_config`). Stored, not acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AiConfig {
    /// The summary's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summarization: Option<Summarization>,
    /// The transcription's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcription: Option<Transcription>,
}

/// `ai_config.summarization`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Summarization {
    /// The kind of meeting the summary is written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_type: Option<SummaryType>,
    /// `plain_text` or `markdown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format: Option<TextFormat>,
    /// At most this many words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_limit: Option<u32>,
}

/// `ai_config.summarization.summary_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // the names are Cloudflare's and say what they are
pub enum SummaryType {
    General,
    TeamMeeting,
    SalesCall,
    ClientCheckIn,
    Interview,
    DailyStandup,
    OneOnOneMeeting,
    Lecture,
    CodeReview,
}

/// `ai_config.summarization.text_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// Plain text.
    PlainText,
    /// Markdown.
    Markdown,
}

/// `ai_config.transcription`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transcription {
    /// Words to listen for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Vec<String>>,
    /// The spoken language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<TranscriptionLanguage>,
    /// Mask profanity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profanity_filter: Option<bool>,
}

/// `ai_config.transcription.language`: the languages Cloudflare's schema lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(missing_docs)] // the names are language tags
pub enum TranscriptionLanguage {
    #[serde(rename = "en-US")]
    EnUs,
    #[serde(rename = "en-IN")]
    EnIn,
    #[serde(rename = "de")]
    De,
    #[serde(rename = "hi")]
    Hi,
    #[serde(rename = "sv")]
    Sv,
    #[serde(rename = "ru")]
    Ru,
    #[serde(rename = "pl")]
    Pl,
    #[serde(rename = "el")]
    El,
    #[serde(rename = "fr")]
    Fr,
    #[serde(rename = "nl")]
    Nl,
}

/// How a meeting's recordings would be encoded and where they would go (`recording_config`).
/// Stored (but for `storage_config`, which is checked and dropped), not acted on: Convene's
/// recordings are signalling timelines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingConfig {
    /// The audio track's encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_config: Option<AudioConfig>,
    /// A prefix for the recording's file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name_prefix: Option<String>,
    /// Where to stream the recording live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_streaming_config: Option<LiveStreamingConfig>,
    /// The longest a recording may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seconds: Option<u32>,
    /// Whether Cloudflare's own bucket keeps a copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realtimekit_bucket_config: Option<BucketConfig>,
    /// Your own storage for the recordings: checked, never stored (`skip_serializing`), so a
    /// meeting read back has none.
    #[serde(default, skip_serializing)]
    #[schema(write_only)]
    pub storage_config: Option<StorageConfig>,
    /// The video track's encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_config: Option<VideoConfig>,
}

/// `recording_config.audio_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioConfig {
    /// `mono` or `stereo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<AudioChannel>,
    /// `MP3` or `AAC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<AudioCodec>,
    /// Also export the audio as its own file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_file: Option<bool>,
}

/// `recording_config.audio_config.channel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum AudioChannel {
    Mono,
    Stereo,
}

/// `recording_config.audio_config.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum AudioCodec {
    Mp3,
    Aac,
}

/// `recording_config.live_streaming_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveStreamingConfig {
    /// The RTMP endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtmp_url: Option<String>,
}

/// `recording_config.realtimekit_bucket_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Keep a copy in the bucket.
    pub enabled: bool,
}

/// `recording_config.storage_config`: one object for the four shapes of Cloudflare's schema
/// (which differ only in which field is required). Checked, never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // the names are Cloudflare's and say what they are
pub struct StorageConfig {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<StorageType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<StorageAuthMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

/// `storage_config.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum StorageType {
    Aws,
    Azure,
    Digitalocean,
    Gcs,
    Sftp,
}

/// `storage_config.auth_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum StorageAuthMethod {
    Key,
    Password,
}

/// `recording_config.video_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoConfig {
    /// `H264`, `VP8` or `VP9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
    /// Also export the video as its own file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_file: Option<bool>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// A picture over the video.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
}

/// `recording_config.video_config.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum VideoCodec {
    H264,
    Vp8,
    Vp9,
}

/// `recording_config.video_config.watermark`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// Which corner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<WatermarkPosition>,
    /// Its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<WatermarkSize>,
    /// The picture's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `watermark.position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[allow(missing_docs)]
pub enum WatermarkPosition {
    #[serde(rename = "left top")]
    LeftTop,
    #[serde(rename = "right top")]
    RightTop,
    #[serde(rename = "left bottom")]
    LeftBottom,
    #[serde(rename = "right bottom")]
    RightBottom,
}

/// `watermark.size`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatermarkSize {
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recording_config_keeps_its_settings_and_drops_the_storage_credentials() {
        let given = json!({
            "file_name_prefix": "standup",
            "max_seconds": 3600,
            "audio_config": {"channel": "stereo", "codec": "AAC", "export_file": true},
            "video_config": {"codec": "VP9", "watermark": {"position": "left top", "size": {"width": 10}}},
            "storage_config": {"type": "aws", "access_key": "AK", "secret": "S3CRET", "bucket": "b", "region": "r"},
        });
        let config: RecordingConfig = serde_json::from_value(given).unwrap();
        assert_eq!(config.storage_config.as_ref().and_then(|s| s.secret.as_deref()), Some("S3CRET"));
        let stored = serde_json::to_value(&config).unwrap();
        assert_eq!(stored["file_name_prefix"], "standup");
        assert_eq!(stored["video_config"]["watermark"]["position"], "left top");
        assert!(stored.get("storage_config").is_none(), "{stored}");
        assert!(!stored.to_string().contains("S3CRET"));
    }

    #[test]
    fn settings_outside_the_schema_are_refused() {
        for bad in [
            json!({"transcription": {"language": "xx"}}),
            json!({"summarization": {"word_limit": -1}}),
            json!({"summarisation": {}}),
        ] {
            assert!(serde_json::from_value::<AiConfig>(bad.clone()).is_err(), "{bad}");
        }
        let bad_codec = json!({"audio_config": {"codec": "FLAC"}});
        assert!(serde_json::from_value::<RecordingConfig>(bad_codec).is_err());
        let language = json!({"transcription": {"language": "en-US"}});
        let ai: AiConfig = serde_json::from_value(language.clone()).unwrap();
        assert_eq!(serde_json::to_value(ai).unwrap(), language);
    }
}
