//! `/{app_id}/meetings` and the active session (`active-session`, `kick`, `kick-all`).

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope, ListEnvelope};
use super::{
    app_for, created, ok, valid_id, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Caller, PageQuery, Resource,
};
use crate::model::{AiConfig, Meeting, MeetingStatus, RecordingConfig, Session};
use crate::room::{ApiCommand, ApiReply};
use crate::state::AppState;
use crate::store::{now_rfc3339, MeetingFilter};

/// Body of `POST /meetings`, `PATCH` and `PUT /meetings/{id}`: every field of Cloudflare's schema.
/// Those about media (AI, transcription, recording encoding) are checked and stored, not acted on.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingBody {
    /// Title, at most 500 characters.
    #[schema(max_length = 500)]
    pub title: Option<String>,
    /// `ACTIVE` or `INACTIVE`.
    pub status: Option<MeetingStatus>,
    /// 0..=600 seconds; default 60.
    #[schema(maximum = 600)]
    pub session_keep_alive_time_in_secs: Option<u32>,
    /// Start recording when a session starts.
    pub record_on_start: Option<bool>,
    /// Start a livestream when a session starts (stored only).
    pub live_stream_on_start: Option<bool>,
    /// Keep chat (stored only).
    pub persist_chat: Option<bool>,
    /// Summarise the transcript when a session ends (stored only: no media here).
    pub summarize_on_end: Option<bool>,
    /// Transcribe the session when it ends (stored only).
    pub transcribe_on_end: Option<bool>,
    /// Transcription and summary settings (stored only); replaces the stored ones whole.
    pub ai_config: Option<AiConfig>,
    /// Recording settings (stored only, but for `storage_config`: checked, never stored);
    /// replaces the stored ones whole.
    pub recording_config: Option<RecordingConfig>,
}

impl MeetingBody {
    /// Checks the body and applies it to a meeting (nothing is stored here).
    pub fn apply(self, m: &mut Meeting) -> ApiResult<()> {
        if let Some(t) = self.title {
            if t.len() > 500 {
                return Err(ApiError::bad_request("title must be at most 500 characters"));
            }
            m.title = Some(t);
        }
        if let Some(s) = self.status {
            m.status = s;
        }
        if let Some(k) = self.session_keep_alive_time_in_secs {
            if k > 600 {
                return Err(ApiError::bad_request("session_keep_alive_time_in_secs must be 0..=600"));
            }
            m.session_keep_alive_time_in_secs = k;
        }
        if let Some(r) = self.record_on_start {
            m.record_on_start = r;
        }
        if let Some(l) = self.live_stream_on_start {
            m.live_stream_on_start = l;
        }
        if let Some(p) = self.persist_chat {
            m.persist_chat = p;
        }
        if let Some(s) = self.summarize_on_end {
            m.summarize_on_end = s;
        }
        if let Some(t) = self.transcribe_on_end {
            m.transcribe_on_end = t;
        }
        if let Some(ai) = self.ai_config {
            m.ai_config = Some(ai);
        }
        if let Some(r) = self.recording_config {
            m.recording_config = Some(r);
        }
        Ok(())
    }
}

/// Query of `GET /meetings`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MeetingListQuery {
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page_no: Option<u64>,
    /// Items per page, 1..=100.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    /// Only meetings whose title or id contains this.
    pub search: Option<String>,
    /// Only meetings of this status.
    pub status: Option<MeetingStatus>,
    /// Only meetings created at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub start_time: Option<String>,
    /// Only meetings created at or before this time (RFC 3339).
    #[param(format = DateTime)]
    pub end_time: Option<String>,
}

/// Creates a meeting.
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings", tag = "meetings",
    operation_id = "create_meeting",
    params(("account_id" = String, Path), ("app_id" = String, Path)), request_body = MeetingBody,
    responses((status = 201, body = Envelope<Meeting>), (status = 400, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<MeetingBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let mut m = Meeting::with_defaults(None);
    body.apply(&mut m)?;
    Ok(created(state.store().create_meeting(&app_id, m).await?))
}

/// Lists meetings.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings", tag = "meetings",
    operation_id = "get_all_meetings",
    params(("account_id" = String, Path), ("app_id" = String, Path), MeetingListQuery),
    responses((status = 200, body = ListEnvelope<Meeting>), (status = 400, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<MeetingListQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    let page = PageQuery { page_no: q.page_no, per_page: q.per_page }.page()?;
    let created = super::time_range(q.start_time.as_deref(), q.end_time.as_deref())?;
    let filter = MeetingFilter { search: q.search, status: q.status, created };
    let (items, total) = state.store().list_meetings(&app_id, &filter, page).await?;
    Ok(super::list(items, page, total))
}

/// Finds a meeting of the app (400 for a malformed id, 404 for an unknown one).
pub async fn find(state: &AppState, app_id: &str, meeting_id: &str) -> ApiResult<Meeting> {
    valid_id("meeting_id", meeting_id)?;
    state
        .store()
        .get_meeting(app_id, meeting_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no meeting {meeting_id}")))
}

/// Gets a meeting.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}", tag = "meetings",
    operation_id = "get_meeting",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)),
    responses((status = 200, body = Envelope<Meeting>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    Ok(ok(find(&state, &app_id, &meeting_id).await?))
}

/// Changes a meeting. `{"status":"INACTIVE"}` refuses new joins (a live session goes on until it
/// ends); `ACTIVE` allows them again.
#[utoipa::path(patch, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}", tag = "meetings",
    operation_id = "update_meeting",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)), request_body = MeetingBody,
    responses((status = 200, body = Envelope<Meeting>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<MeetingBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let mut m = find(&state, &app_id, &meeting_id).await?;
    body.apply(&mut m)?;
    Ok(ok(save(state, app_id, m).await?))
}

/// Replaces a meeting: what the body leaves out takes its default again (as on create).
#[utoipa::path(put, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}", tag = "meetings",
    operation_id = "replace_meeting",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)), request_body = MeetingBody,
    responses((status = 200, body = Envelope<Meeting>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<MeetingBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let old = find(&state, &app_id, &meeting_id).await?;
    let mut m = Meeting { id: old.id, created_at: old.created_at, ..Meeting::with_defaults(None) };
    body.apply(&mut m)?;
    Ok(ok(save(state, app_id, m).await?))
}

/// Stores a changed meeting and tells its running room; if none runs, the next one reads the
/// store. Runs to its end even if the caller hangs up.
async fn save(state: AppState, app_id: String, mut m: Meeting) -> ApiResult<Meeting> {
    m.updated_at = now_rfc3339();
    super::to_completion(async move {
        state.store().update_meeting(&app_id, &m).await?;
        let _ = state.0.rooms.tell_live(&app_id, &m.id, ApiCommand::MeetingUpdated(m.settings())).await;
        Ok(m)
    })
    .await
}

/// Gets the live session of a meeting (404 when there is none).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session", tag = "active session",
    operation_id = "GetActiveSession",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)),
    responses((status = 200, body = Envelope<Session>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn active_session(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    find(&state, &app_id, &meeting_id).await?;
    match state.store().live_session(&app_id, &meeting_id).await? {
        Some(s) => Ok(ok(s)),
        None => Err(ApiError::not_found(format!("No active session found for meeting_id {meeting_id}"))),
    }
}

/// Body of `POST .../active-session/kick`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KickBody {
    /// Participant ids.
    #[serde(default)]
    pub participant_ids: Vec<String>,
    /// The app's own participant ids.
    #[serde(default)]
    pub custom_participant_ids: Vec<String>,
}

/// Answer of kick.
#[derive(Debug, Serialize, ToSchema)]
pub struct KickResult {
    /// Always `kick`.
    pub action: String,
    /// The participants removed.
    pub participants: Vec<KickedParticipant>,
}

/// A removed participant.
#[derive(Debug, Serialize, ToSchema)]
pub struct KickedParticipant {
    /// Participant id.
    pub id: String,
    /// Display name, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Picture, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// Created.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// Removes participants from the live session; each sees `roomLeft` with state `kicked`.
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session/kick", tag = "active session",
    operation_id = "KickPartcipants",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)), request_body = KickBody,
    responses((status = 200, body = Envelope<KickResult>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 503, description = "The meeting's room is not available; try again.", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn kick(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<KickBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    find(&state, &app_id, &meeting_id).await?;
    if body.participant_ids.is_empty() && body.custom_participant_ids.is_empty() {
        return Err(ApiError::bad_request("give participant_ids or custom_participant_ids"));
    }
    let mut ids = body.participant_ids.clone();
    for custom in &body.custom_participant_ids {
        ids.extend(state.store().participants_by_custom_id(&meeting_id, custom).await?);
    }
    match state.0.rooms.ask(&app_id, &meeting_id, ApiCommand::Kick(ids)).await {
        Some(ApiReply::Kicked(kicked)) => {
            let mut participants = Vec::new();
            for id in kicked {
                if let Some(p) = state.store().get_participant(&app_id, &meeting_id, &id).await? {
                    participants.push(KickedParticipant {
                        id: p.id,
                        name: p.name,
                        picture: p.picture,
                        created_at: p.created_at,
                        updated_at: p.updated_at,
                    });
                }
            }
            Ok(ok(KickResult { action: "kick".into(), participants }))
        }
        Some(ApiReply::Refused(refusal)) => Err(refusal.into()),
        _ => Err(ApiError::unavailable("the meeting's room is not available; try again")),
    }
}

/// Answer of kick-all.
#[derive(Debug, Serialize, ToSchema)]
pub struct KickAllResult {
    /// Always `kick-all`.
    pub action: String,
    /// Peers removed.
    pub kicked_participants_count: u64,
}

/// Ends the live session for everyone: every client sees `roomLeft` with state `ended`, the
/// recording stops, the session becomes `ENDED` and `meeting.ended` fires (`HOST_ENDED_MEETING`).
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session/kick-all", tag = "active session",
    operation_id = "KickAllParticipants",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)),
    responses((status = 200, body = Envelope<KickAllResult>), (status = 404, description = "No such meeting, or no live session.", body = ErrorEnvelope),
        (status = 503, description = "The meeting's room is not available; try again.", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn kick_all(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    find(&state, &app_id, &meeting_id).await?;
    match state.0.rooms.ask(&app_id, &meeting_id, ApiCommand::KickAll).await {
        Some(ApiReply::KickedAll(n)) => {
            Ok(ok(KickAllResult { action: "kick-all".into(), kicked_participants_count: n }))
        }
        Some(ApiReply::Refused(refusal)) => Err(refusal.into()),
        _ => Err(ApiError::unavailable("the meeting's room is not available; try again")),
    }
}
