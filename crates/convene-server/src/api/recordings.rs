//! `/{app_id}/recordings`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope, ListEnvelope};
use super::meetings::find as find_meeting;
use super::{app_for, ok, valid_id, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Caller, PageQuery, Resource};
use crate::model::Recording;
use crate::model::RecordingStatus;
use crate::room::{ApiCommand, ApiReply, RecordingAction};
use crate::state::AppState;
use crate::store::{Page, RecordingFilter};

/// Body of `POST /recordings`. Media settings RealtimeKit accepts are accepted and ignored (a
/// recording here is the session's signalling timeline).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRecording {
    /// The meeting whose live session to record.
    #[schema(format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub meeting_id: String,
    /// Accepted; one recording per session here.
    pub allow_multiple_recordings: Option<bool>,
    /// Accepted and ignored.
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    pub max_seconds: Option<u32>,
    /// Accepted and ignored.
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    pub file_name_prefix: Option<String>,
    /// Accepted and ignored.
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    #[schema(value_type = Option<Object>)]
    pub audio_config: Option<serde_json::Value>,
    /// Accepted and ignored.
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    #[schema(value_type = Option<Object>)]
    pub video_config: Option<serde_json::Value>,
    /// Accepted and ignored.
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    #[schema(value_type = Option<Object>)]
    pub storage_config: Option<serde_json::Value>,
    /// Accepted and ignored (Cloudflare's bucket settings).
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    #[schema(value_type = Option<Object>)]
    pub realtimekit_bucket_config: Option<serde_json::Value>,
    /// Accepted and ignored (no media to stream out).
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    #[schema(value_type = Option<Object>)]
    pub rtmp_out_config: Option<serde_json::Value>,
    /// Accepted and ignored (no media to render).
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    #[schema(value_type = Option<Object>)]
    pub interactive_config: Option<serde_json::Value>,
    /// Accepted and ignored (the page Cloudflare's recorder would open).
    #[allow(dead_code)] // read by serde only: RealtimeKit clients send it
    pub url: Option<String>,
}

/// Body of `PUT /recordings/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingActionBody {
    /// `stop`, `pause` or `resume`.
    #[schema(pattern = "^(stop|pause|resume)$")]
    pub action: String,
}

/// Query of `GET /recordings`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordingListQuery {
    /// Only recordings of this meeting.
    #[param(format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub meeting_id: Option<String>,
    /// Only recordings in one of these statuses (the parameter repeats: `status=A&status=B`).
    #[serde(default)]
    #[param(value_type = Option<Vec<RecordingStatus>>)]
    pub status: Vec<RecordingStatus>,
    /// Whether the recording's file has expired. Convene keeps every recording's file (none
    /// expires): `true` lists none, `false` lists all.
    pub expired: Option<bool>,
    /// Only recordings whose meeting's title or id contains this.
    pub search: Option<String>,
    /// Only recordings asked for at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub start_time: Option<String>,
    /// Only recordings asked for at or before this time (RFC 3339).
    #[param(format = DateTime)]
    pub end_time: Option<String>,
    /// `invokedTime`, the only order (the default).
    #[param(pattern = "^invokedTime$")]
    pub sort_by: Option<String>,
    /// `DESC` (default) or `ASC`.
    #[param(pattern = "^(ASC|DESC)$")]
    pub sort_order: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page_no: Option<u64>,
    /// Items per page, 1..=100.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

fn with_url(state: &AppState, account_id: &str, app_id: &str, mut rec: Recording) -> Recording {
    if rec.status == crate::model::RecordingStatus::Uploaded {
        rec.download_url = Some(format!(
            "{}/client/v4/accounts/{account_id}/realtime/kit/{app_id}/recordings/{}/download",
            state.0.base_url, rec.id
        ));
    }
    rec
}

/// Starts recording a meeting's live session (409 when there is none, or one is recording).
/// Answers `200`, as Cloudflare's does.
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/recordings", tag = "recordings",
    operation_id = "start_recording",
    params(("account_id" = String, Path), ("app_id" = String, Path)), request_body = StartRecording,
    responses((status = 200, body = Envelope<Recording>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope), (status = 503, description = "The meeting's room is not available; try again.", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<StartRecording>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    find_meeting(&state, &app_id, &body.meeting_id).await?;
    let allow_multiple = body.allow_multiple_recordings.unwrap_or(false);
    match state.0.rooms.ask(&app_id, &body.meeting_id, ApiCommand::StartRecording { allow_multiple }).await {
        Some(ApiReply::Recording(rec)) => Ok(ok(with_url(&state, &account_id, &app_id, *rec))),
        Some(ApiReply::Refused(refusal)) => Err(refusal.into()),
        _ => Err(ApiError::unavailable("the meeting's room is not available; try again")),
    }
}

async fn find(state: &AppState, app_id: &str, id: &str) -> ApiResult<Recording> {
    valid_id("recording_id", id)?;
    state.store().get_recording(app_id, id).await?.ok_or_else(|| ApiError::not_found(format!("no recording {id}")))
}

/// Stops, pauses or resumes a recording.
#[utoipa::path(put, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/recordings/{recording_id}", tag = "recordings",
    operation_id = "pause_resume_stop_recording",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("recording_id" = String, Path)), request_body = RecordingActionBody,
    responses((status = 200, body = Envelope<Recording>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope), (status = 503, description = "The meeting's room is not available; try again.", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn action(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<RecordingActionBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let action = match body.action.as_str() {
        "stop" => RecordingAction::Stop,
        "pause" => RecordingAction::Pause,
        "resume" => RecordingAction::Resume,
        other => return Err(ApiError::bad_request(format!("action {other:?} is not stop, pause or resume"))),
    };
    let rec = find(&state, &app_id, &id).await?;
    let command = ApiCommand::RecordingAction { recording_id: id, action };
    match state.0.rooms.ask(&app_id, &rec.meeting_id, command).await {
        Some(ApiReply::Recording(rec)) => Ok(ok(with_url(&state, &account_id, &app_id, *rec))),
        Some(ApiReply::Refused(refusal)) => Err(refusal.into()),
        _ => Err(ApiError::unavailable("the meeting's room is not available; try again")),
    }
}

/// Lists recordings, newest first.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/recordings", tag = "recordings",
    operation_id = "get_all_recordings",
    params(("account_id" = String, Path), ("app_id" = String, Path), RecordingListQuery),
    responses((status = 200, body = ListEnvelope<Recording>), (status = 400, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<RecordingListQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    if let Some(m) = &q.meeting_id {
        valid_id("meeting_id", m)?;
    }
    let page = PageQuery { page_no: q.page_no, per_page: q.per_page }.page()?;
    if let Some(other) = q.sort_by.as_deref().filter(|s| *s != "invokedTime") {
        return Err(ApiError::bad_request(format!("sort_by is invokedTime, not {}", super::quoted(other))));
    }
    let order = super::sort_order(q.sort_order.as_deref())?;
    let invoked = super::time_range(q.start_time.as_deref(), q.end_time.as_deref())?;
    if q.expired == Some(true) {
        return Ok(super::list(Vec::<Recording>::new(), page, 0)); // Nothing expires here.
    }
    let filter = RecordingFilter { meeting_id: q.meeting_id, statuses: q.status, search: q.search, invoked, order };
    let (items, total) = state.store().list_recordings(&app_id, &filter, page).await?;
    let items = items.into_iter().map(|r| with_url(&state, &account_id, &app_id, r)).collect();
    Ok(super::list(items, page, total))
}

/// The newest recording of a meeting that is recording or paused (404 when there is none).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/recordings/active-recording/{meeting_id}", tag = "recordings",
    operation_id = "get_active_recording",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)),
    responses((status = 200, body = Envelope<Recording>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn active(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    use crate::model::RecordingStatus::{Invoked, Paused, Recording as Writing};
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    find_meeting(&state, &app_id, &meeting_id).await?;
    let active = RecordingFilter {
        meeting_id: Some(meeting_id.clone()),
        statuses: vec![Invoked, Writing, Paused],
        ..Default::default()
    };
    let (newest, _) = state.store().list_recordings(&app_id, &active, Page { page_no: 1, per_page: 1 }).await?;
    match newest.into_iter().next() {
        Some(rec) => Ok(ok(with_url(&state, &account_id, &app_id, rec))),
        None => Err(ApiError::not_found(format!("no active recording for meeting {meeting_id}"))),
    }
}

/// Gets a recording.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/recordings/{recording_id}", tag = "recordings",
    operation_id = "get_one_recording",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("recording_id" = String, Path)),
    responses((status = 200, body = Envelope<Recording>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    Ok(ok(with_url(&state, &account_id, &app_id, find(&state, &app_id, &id).await?)))
}

/// Downloads an uploaded recording: the session's signalling timeline, one JSON object a line.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/recordings/{recording_id}/download", tag = "recordings",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("recording_id" = String, Path)),
    responses((status = 200, content_type = "application/x-ndjson", body = String), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    let rec = find(&state, &app_id, &id).await?;
    if rec.status != crate::model::RecordingStatus::Uploaded {
        return Err(ApiError::conflict(format!("recording {id} is {}, not UPLOADED", rec.status.as_str())));
    }
    let path = crate::room::recording_path(&state.0.recordings_dir, &id);
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::error!(error = %e, path = %path.display(), "recording file unreadable");
        ApiError::not_found(format!("the file of recording {id} is gone"))
    })?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], bytes).into_response())
}
