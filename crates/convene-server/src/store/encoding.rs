//! How values are kept, alike in every store: the names and JSON a row holds, and what they are
//! read back as. Each store's SQL differs; what it writes and how it reads it back does not.

use convene_core::{Actor, EndReason, SessionEnd};

use crate::model::MeetingStatus;

/// How an end reason is stored: its wire name (`HOST_ENDED_MEETING`, ...).
pub(crate) fn end_reason_name(reason: EndReason) -> String {
    serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A meeting status as stored (`ACTIVE`, `INACTIVE`); anything else reads as `ACTIVE`.
pub(crate) fn meeting_status(stored: &str) -> MeetingStatus {
    if stored == "INACTIVE" {
        MeetingStatus::Inactive
    } else {
        MeetingStatus::Active
    }
}

/// A meeting's media settings (`ai_config`, `recording_config`) as stored: their JSON, or NULL.
pub(crate) fn settings_json<T: serde::Serialize>(settings: &Option<T>) -> Result<Option<String>, serde_json::Error> {
    settings.as_ref().map(serde_json::to_string).transpose()
}

/// Stored media settings read back (NULL reads as none).
pub(crate) fn settings_from_json<T: serde::de::DeserializeOwned>(
    stored: Option<&str>,
) -> Result<Option<T>, serde_json::Error> {
    stored.map(serde_json::from_str).transpose()
}

/// Minutes from one stored time to another (or to now, for a stay still going on); 0 when either
/// does not read.
pub(crate) fn minutes_between(from: &str, to: Option<&str>) -> f64 {
    let (Some(a), b) = (super::parse_rfc3339(from), to.and_then(super::parse_rfc3339)) else { return 0.0 };
    let b = b.unwrap_or_else(time::OffsetDateTime::now_utc);
    ((b - a).as_seconds_f64() / 60.0).max(0.0)
}

/// Whether a webhook's stored event list (a JSON array of names) has `event`. A list that does
/// not read subscribes to nothing.
pub(crate) fn subscribes(stored_events: &str, event: &str) -> bool {
    serde_json::from_str::<Vec<String>>(stored_events).is_ok_and(|events| events.iter().any(|e| e == event))
}

/// The stop reason written on recordings that a stop interrupted.
pub(crate) const INTERRUPTED_STOP_REASON: &str = r#"{"reason":"INTERNAL_ERROR"}"#;

/// The recording statuses a stop interrupts (marked `ERRORED` at the next start).
pub(crate) const UNFINISHED_RECORDING_STATUSES: [&str; 4] = ["INVOKED", "RECORDING", "PAUSED", "UPLOADING"];

/// A stay of an ended session, as stored.
#[derive(Debug, Clone)]
pub(crate) struct EndedStay {
    /// The participant.
    pub(crate) participant_id: String,
    /// How the stay ended (`left`, `kicked`, `expired`, `ended`).
    pub(crate) outcome: String,
    /// The session.
    pub(crate) session_id: String,
    /// The session's end reason, as stored (`HOST_ENDED_MEETING`, ...).
    pub(crate) end_reason: String,
    /// Who ended the session, as stored (an `Actor` in JSON).
    pub(crate) ended_by: String,
}

impl EndedStay {
    /// How the session ended, for a resume of `participant_id`: only when the stay is theirs
    /// and was ended by the session's end, and the stored reason and actor read.
    pub(crate) fn session_end_for(self, participant_id: &str) -> Option<SessionEnd> {
        if self.participant_id != participant_id || self.outcome != "ended" {
            return None;
        }
        let reason = serde_json::from_value::<EndReason>(serde_json::Value::String(self.end_reason)).ok()?;
        let ended_by = serde_json::from_str::<Actor>(&self.ended_by).ok()?;
        Some(SessionEnd { session_id: self.session_id, reason, ended_by })
    }
}

/// A `LIKE` pattern (with `ESCAPE '\'`) matching titles that contain `search` as a plain
/// substring: `%`, `_` and `\` in it match themselves.
pub(crate) fn contains_pattern(search: Option<&str>) -> String {
    let escaped = search.unwrap_or("").replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}
