//! `/{app_id}/sessions`.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{paged, Envelope, ErrorEnvelope, ListEnvelope, PagedEnvelope};
use super::{app_for, ok, valid_id, ApiError, ApiPath, ApiQuery, ApiResult, Caller, PageQuery, Resource};
use crate::model::{Session, SessionPeer};
use crate::state::AppState;
use crate::store::SessionStatus;

/// Query of `GET /sessions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionListQuery {
    /// Only sessions of this meeting.
    #[param(format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub associated_id: Option<String>,
    /// `LIVE` or `ENDED`.
    #[param(pattern = "^(LIVE|ENDED)$")]
    pub status: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page_no: Option<u64>,
    /// Items per page, 1..=100.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

/// `data` of `GET /sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// The sessions, newest first.
    pub sessions: Vec<Session>,
}

/// Lists sessions (newest first), optionally of one meeting and one status.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions", tag = "sessions",
    params(("account_id" = String, Path), ("app_id" = String, Path), SessionListQuery),
    responses((status = 200, body = PagedEnvelope<SessionList>), (status = 400, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<SessionListQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    if let Some(m) = &q.associated_id {
        valid_id("associated_id", m)?;
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(SessionStatus::parse(s).ok_or_else(|| ApiError::bad_request("status is LIVE or ENDED"))?),
    };
    let page = PageQuery { page_no: q.page_no, per_page: q.per_page }.page()?;
    let (sessions, total) = state.store().list_sessions(&app_id, q.associated_id.as_deref(), status, page).await?;
    let paging = page.paging(sessions.len(), total);
    Ok(paged(SessionList { sessions }, paging))
}

async fn find(state: &AppState, app_id: &str, id: &str) -> ApiResult<Session> {
    valid_id("session_id", id)?;
    state.store().get_session(app_id, id).await?.ok_or_else(|| ApiError::not_found(format!("no session {id}")))
}

/// Gets a session.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/{session_id}", tag = "sessions",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 200, body = Envelope<Session>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    Ok(ok(find(&state, &app_id, &id).await?))
}

/// Lists the peers of a session with `joined_at`, `left_at` and `duration` (minutes).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/{session_id}/participants", tag = "sessions",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("session_id" = String, Path), PageQuery),
    responses((status = 200, body = ListEnvelope<SessionPeer>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn participants(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    let page = q.page()?;
    find(&state, &app_id, &id).await?;
    let (items, total) = state.store().session_peers(&id, page).await?;
    Ok(super::list(items, page, total))
}
