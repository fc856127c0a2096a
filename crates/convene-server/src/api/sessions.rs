//! `/{app_id}/sessions`.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{paged, Envelope, ErrorEnvelope, PagedEnvelope};
use super::{app_for, ok, valid_id, ApiError, ApiPath, ApiQuery, ApiResult, Caller, PageQuery, Resource};
use crate::model::{Session, SessionPeer};
use crate::state::AppState;
use crate::store::{SessionFilter, SessionOrder, SessionStatus};

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
    /// Only sessions whose meeting title, meeting id or own id contains this.
    pub search: Option<String>,
    /// Only sessions started at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub start_time: Option<String>,
    /// Only sessions started at or before this time (RFC 3339).
    #[param(format = DateTime)]
    pub end_time: Option<String>,
    /// `createdAt` (default) or `minutesConsumed` (the participant-minutes of the session's
    /// stays so far).
    #[param(pattern = "^(createdAt|minutesConsumed)$")]
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

/// `data` of `GET /sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// The sessions, newest first.
    pub sessions: Vec<Session>,
}

/// Lists sessions (newest first unless sorted otherwise): of one meeting, of one status, searched,
/// in a time range.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions", tag = "sessions",
    operation_id = "GetSessions",
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
    let direction = super::sort_order(q.sort_order.as_deref())?;
    let order = match q.sort_by.as_deref() {
        None | Some("createdAt") => SessionOrder::CreatedAt(direction),
        Some("minutesConsumed") => SessionOrder::MinutesConsumed(direction),
        Some(other) => {
            let other = super::quoted(other);
            return Err(ApiError::bad_request(format!("sort_by is createdAt or minutesConsumed, not {other}")));
        }
    };
    let created = super::time_range(q.start_time.as_deref(), q.end_time.as_deref())?;
    let filter = SessionFilter { meeting_id: q.associated_id, status, search: q.search, created, order };
    let (sessions, total) = state.store().list_sessions(&app_id, &filter, page).await?;
    let paging = page.paging(sessions.len(), total);
    Ok(paged(SessionList { sessions }, paging))
}

async fn find(state: &AppState, app_id: &str, id: &str) -> ApiResult<Session> {
    valid_id("session_id", id)?;
    state.store().get_session(app_id, id).await?.ok_or_else(|| ApiError::not_found(format!("no session {id}")))
}

/// Gets a session.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/{session_id}", tag = "sessions",
    operation_id = "GetSessionDetails",
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

/// `data` of `GET /sessions/{id}/participants`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPeerList {
    /// The session's stays (one per peer: a participant who rejoined has several), in the order
    /// they began.
    pub participants: Vec<SessionPeer>,
}

/// Lists the peers of a session with `joined_at`, `left_at` and `duration` (minutes).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/{session_id}/participants", tag = "sessions",
    operation_id = "GetSessionParticipants",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("session_id" = String, Path), PageQuery),
    responses((status = 200, body = PagedEnvelope<SessionPeerList>), (status = 404, body = ErrorEnvelope)),
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
    let (participants, total) = state.store().session_peers(&id, page).await?;
    let paging = page.paging(participants.len(), total);
    Ok(paged(SessionPeerList { participants }, paging))
}

/// `data` of `GET /sessions/{id}/participants/{participant_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPeerDetails {
    /// The stay.
    pub participant: SessionPeer,
}

/// Gets one stay of a session, by its id (the `id` of the session's participant list: a peer).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/{session_id}/participants/{participant_id}", tag = "sessions",
    operation_id = "GetParticipantDetails",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("session_id" = String, Path), ("participant_id" = String, Path)),
    responses((status = 200, body = Envelope<SessionPeerDetails>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn participant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id, peer_id)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    find(&state, &app_id, &id).await?;
    valid_id("participant_id", &peer_id)?;
    match state.store().session_peer(&app_id, &peer_id).await? {
        Some((session_id, participant)) if session_id == id => Ok(ok(SessionPeerDetails { participant })),
        _ => Err(ApiError::not_found(format!("no participant {peer_id} in session {id}"))),
    }
}

/// Query of `GET /sessions/peer-report/{peer_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeerReportQuery {
    /// Which parts of the report to give. Convene has no media, so there is no device, network
    /// or quality data: every filter answers the stay itself and nothing more.
    #[param(pattern = "^(device_info|ip_information|precall_network_information|events|quality_stats)$")]
    pub filters: Option<String>,
    /// Accepted; Convene keeps no peer events beyond `joined_at` and `left_at`.
    #[allow(dead_code)] // read by serde only: Cloudflare's SDKs send it
    pub include_peer_events: Option<bool>,
}

/// The stay a peer report is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerReportParticipant {
    /// The stay.
    #[serde(flatten)]
    pub stay: SessionPeer,
    /// Its session.
    pub session_id: String,
}

/// `data` of `GET /sessions/peer-report/{peer_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerReport {
    /// The stay.
    pub participant: PeerReportParticipant,
}

/// The participant data of a peer (a stay in some session of the app), by its peer id.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions/peer-report/{peer_id}", tag = "sessions",
    operation_id = "GetParticipantDataFromPeerId",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("peer_id" = String, Path), PeerReportQuery),
    responses((status = 200, body = Envelope<PeerReport>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn peer_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, peer_id)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<PeerReportQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    const FILTERS: [&str; 5] =
        ["device_info", "ip_information", "precall_network_information", "events", "quality_stats"];
    if let Some(f) = q.filters.as_deref().filter(|f| !FILTERS.contains(f)) {
        return Err(ApiError::bad_request(format!("filters {f:?} is not one of {}", FILTERS.join(", "))));
    }
    valid_id("peer_id", &peer_id)?;
    match state.store().session_peer(&app_id, &peer_id).await? {
        Some((session_id, stay)) => Ok(ok(PeerReport { participant: PeerReportParticipant { stay, session_id } })),
        None => Err(ApiError::not_found(format!("no peer {peer_id}"))),
    }
}
