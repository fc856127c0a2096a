//! Endpoints for participant clients (authenticated by the participant token, not an API token):
//! `GET /v1/participant/me` (who am I, my preset, the meeting) and the webhook public key.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use convene_core::contract::{MeMeeting, MeParticipant, MeSession, ParticipantMe};

use crate::api::{ApiError, ApiResult};
use crate::auth::now_secs;
use crate::state::AppState;

/// Browser clients call this endpoint from their own origin: allow any origin (the participant
/// token, not a cookie, is the credential).
fn with_cors(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, header::HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, header::HeaderValue::from_static("authorization, content-type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, header::HeaderValue::from_static("GET, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, header::HeaderValue::from_static("600"));
    response
}

/// `OPTIONS /v1/participant/me`: the CORS preflight.
pub(crate) async fn me_preflight() -> Response {
    with_cors(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/participant/me` with `Authorization: Bearer <participant token>`.
pub(crate) async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    with_cors(me_inner(state, headers).await.into_response())
}

async fn me_inner(state: AppState, headers: HeaderMap) -> ApiResult<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::api::bearer)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <participant token>"))?;
    let claims = state
        .0
        .tokens
        .verify(token.trim(), now_secs())
        .map_err(|e| ApiError::unauthorized(format!("invalid auth token: {e}")))?;
    let Some((participant, home)) = state.store().participant_by_id(&claims.participant_id).await? else {
        return Err(ApiError::unauthorized("invalid auth token: the participant was removed"));
    };
    if home.meeting_id != claims.meeting_id {
        return Err(ApiError::unauthorized("invalid auth token"));
    }
    let meeting = state
        .store()
        .get_meeting(&home.app_id, &home.meeting_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid auth token: the meeting no longer exists"))?;
    let permissions = state.store().preset_permissions(&home.app_id, &participant.preset_name).await?;
    let session = state.store().live_session_start(&home.app_id, &home.meeting_id).await?;
    let me = ParticipantMe {
        participant: MeParticipant {
            id: participant.id,
            name: participant.name,
            picture: participant.picture,
            custom_participant_id: participant.custom_participant_id,
            preset_name: participant.preset_name,
        },
        permissions,
        meeting: MeMeeting { id: meeting.id, title: meeting.title, status: meeting.status },
        session: session.map(|(id, started_at)| MeSession { id, started_at }),
    };
    Ok(Json(json!({"success": true, "data": me})).into_response())
}

/// `GET /.well-known/webhooks.json`: the public key that verifies `rtk-signature`.
pub(crate) async fn webhook_key(State(state): State<AppState>) -> Response {
    Json(json!({"success": true, "data": {"publicKey": state.0.webhooks.signer().public_pem()}, "message": ""}))
        .into_response()
}
