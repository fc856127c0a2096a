//! What a list of meetings, sessions or recordings keeps, and in what order: the REST API's
//! query parameters (Cloudflare's), checked, in the form both stores read.

use super::SessionStatus;
use crate::model::{MeetingStatus, RecordingStatus};

/// A time range, both ends included. The ends are kept as the stores keep times (RFC 3339 with
/// milliseconds, in UTC), so that they compare as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// From this time on.
    pub from: Option<String>,
    /// Up to this time.
    pub until: Option<String>,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    /// Oldest (or smallest) first.
    Ascending,
    /// Newest (or largest) first.
    #[default]
    Descending,
}

impl Direction {
    /// The SQL keyword.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Direction::Ascending => "ASC",
            Direction::Descending => "DESC",
        }
    }
}

/// Which meetings a list keeps (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeetingFilter {
    /// Only meetings whose title or id contains this.
    pub search: Option<String>,
    /// Only meetings of this status.
    pub status: Option<MeetingStatus>,
    /// Only meetings created in this range.
    pub created: TimeRange,
}

/// The order of a list of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOrder {
    /// By start (`createdAt`).
    CreatedAt(Direction),
    /// By the participant-minutes of their stays so far (`minutesConsumed`), then newest first.
    MinutesConsumed(Direction),
}

impl Default for SessionOrder {
    fn default() -> Self {
        SessionOrder::CreatedAt(Direction::Descending)
    }
}

/// Which sessions a list keeps, and in what order (newest first unless told).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions of this meeting.
    pub meeting_id: Option<String>,
    /// Only sessions of this status.
    pub status: Option<SessionStatus>,
    /// Only sessions whose meeting title, meeting id or own id contains this.
    pub search: Option<String>,
    /// Only sessions started in this range.
    pub created: TimeRange,
    /// The order.
    pub order: SessionOrder,
}

/// Which recordings a list keeps (by the time they were asked for: newest first unless told).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    /// Only recordings of this meeting.
    pub meeting_id: Option<String>,
    /// Only recordings in one of these statuses (any, when empty).
    pub statuses: Vec<RecordingStatus>,
    /// Only recordings whose meeting's title or id contains this.
    pub search: Option<String>,
    /// Only recordings asked for in this range.
    pub invoked: TimeRange,
    /// The order.
    pub order: Direction,
}

impl RecordingFilter {
    /// The statuses as the stores keep them (every status when none is named).
    pub(crate) fn status_names(&self) -> Vec<&'static str> {
        if self.statuses.is_empty() {
            RecordingStatus::ALL.iter().map(|s| s.as_str()).collect()
        } else {
            self.statuses.iter().map(|s| s.as_str()).collect()
        }
    }
}
