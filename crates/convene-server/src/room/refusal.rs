//! The HTTP status the REST API answers a room's [`Refusal`] with.

use axum::http::StatusCode;

use super::Refusal;

/// The HTTP status the REST API answers a refusal with.
pub(super) fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::NoActiveSession { .. } | Refusal::NoSuchParticipants { .. } => StatusCode::NOT_FOUND,
        Refusal::NothingToRecord { .. }
        | Refusal::AlreadyRecording { .. }
        | Refusal::NotRecording
        | Refusal::NotInProgress { .. }
        | Refusal::AlreadyInState { .. } => StatusCode::CONFLICT,
        Refusal::RecordingFile => StatusCode::INTERNAL_SERVER_ERROR,
        Refusal::Restarting => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::Unanswered => StatusCode::GATEWAY_TIMEOUT,
    }
}

impl From<Refusal> for crate::api::ApiError {
    fn from(refusal: Refusal) -> Self {
        Self { status: refusal_status(&refusal), message: refusal.to_string() }
    }
}
