//! The REST API under `/client/v4/accounts/{account_id}/realtime/kit/`: RealtimeKit's paths,
//! snake_case bodies and envelope, bearer-token auth with scopes, per-app isolation.

// In fuzzing builds this module is public (the fuzz targets call its body types and checks), so
// its items are `pub` though the normal build cannot reach them from outside, and the handlers'
// crate-private state shows in public signatures there.
#![cfg_attr(not(fuzzing), allow(unreachable_pub))]
#![cfg_attr(fuzzing, allow(private_interfaces))]

pub mod apps;
pub mod envelope;
pub mod meetings;
pub mod openapi;
pub mod participants;
pub mod presets;
pub mod recordings;
pub mod sessions;
pub mod webhooks;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::auth::{hash_secret, Scope};
use crate::state::AppState;
use crate::store::{Page, StoreError};
pub use envelope::{created, list, ok};

/// Largest accepted request body (bytes); above it the answer is 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An API failure, answered as `{"success":false,"error":{"code","message"}}` with the HTTP status
/// as the code. Nothing is changed by a request that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status (also the envelope's `code`).
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
}

impl ApiError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self { status: StatusCode::UNAUTHORIZED, message: message.into() }
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self { status: StatusCode::FORBIDDEN, message: message.into() }
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, message: message.into() }
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self { status: StatusCode::CONFLICT, message: message.into() }
    }
    /// 503, with `Retry-After`: the server is shutting down, a room is restarting or moving to
    /// another node, or the database is unreachable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into() }
    }
}

/// Seconds a `503` asks the client to wait before it tries again (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 2;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unreachable() {
            tracing::warn!(error = %e, "the database is unreachable");
            return Self::unavailable("the database is unreachable; try again shortly");
        }
        tracing::error!(error = %e, "store failure");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, message: "internal error".into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = envelope::failed(self.status, self.message);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(RETRY_AFTER_SECS));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still be on its way: the connection cannot be reused.
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        }
        response
    }
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Runs a change to its end even if the caller hangs up: a handler's future is dropped when its
/// client goes away, and a change that writes to the store and then tells a live room (or
/// writes several rows) must not stop between the two. The handler awaits the answer.
pub(crate) async fn to_completion<T: Send + 'static>(
    change: impl std::future::Future<Output = ApiResult<T>> + Send + 'static,
) -> ApiResult<T> {
    match tokio::spawn(change).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ApiError::unavailable("the server is shutting down")),
    }
}

/// A JSON body whose rejections (bad JSON, wrong type, too large) answer in the envelope.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    /// Reads the body whole within the body timeout: a body still arriving after it gets `408`
    /// and the connection is closed (a client cannot hold a request open by sending slowly).
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.0.timings.http_body_timeout;
        match tokio::time::timeout(limit, Json::<T>::from_request(req, state)).await {
            Ok(Ok(Json(v))) => Ok(ApiJson(v)),
            Ok(Err(rejection)) => Err(json_rejection(rejection)),
            Err(_) => Err(ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                message: format!("the request body did not arrive within {} s", limit.as_secs_f64()),
            }),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let message = match &rejection {
        JsonRejection::MissingJsonContentType(_) => "expected a JSON body (Content-Type: application/json)".into(),
        JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
            format!("body larger than {MAX_BODY_BYTES} bytes")
        }
        other => other.body_text(),
    };
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
    ApiError { status, message }
}

/// Path parameters whose rejections answer in the envelope.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::bad_request(path_message(&e))),
        }
    }
}

fn path_message(e: &PathRejection) -> String {
    e.body_text()
}

/// Query parameters whose rejections answer in the envelope. A parameter may repeat where its
/// field is a list (`status=UPLOADED&status=ERRORED`, as Cloudflare's SDKs send lists).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        // A parameter given without a value (`page_no=`) is refused rather than read as absent.
        if let Some(empty) =
            query.split('&').find(|p| !p.is_empty() && p.split_once('=').is_none_or(|(_, v)| v.is_empty()))
        {
            let name = empty.split_once('=').map_or(empty, |(k, _)| k);
            return Err(ApiError::bad_request(format!("query parameter {} has no value", quoted(name))));
        }
        let deserializer = serde_html_form::Deserializer::from_bytes(query.as_bytes());
        match serde_path_to_error::deserialize(deserializer) {
            Ok(v) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::bad_request(format!("Failed to deserialize query string: {e}"))),
        }
    }
}

/// A time range of a list's query (`start_time`, `end_time`: RFC 3339), in the stores' form.
pub fn time_range(start_time: Option<&str>, end_time: Option<&str>) -> ApiResult<crate::store::TimeRange> {
    let read = |field: &str, v: Option<&str>| match v {
        None => Ok(None),
        Some(s) => match crate::store::parse_rfc3339(s) {
            Some(t) => Ok(Some(crate::store::rfc3339(t))),
            None => Err(ApiError::bad_request(format!(
                "{field} must be an RFC 3339 time such as 2026-01-01T00:00:00Z, not {}",
                quoted(s)
            ))),
        },
    };
    Ok(crate::store::TimeRange { from: read("start_time", start_time)?, until: read("end_time", end_time)? })
}

/// `sort_order`: `ASC` or `DESC` (default: `DESC`).
pub fn sort_order(v: Option<&str>) -> ApiResult<crate::store::Direction> {
    use crate::store::Direction;
    match v {
        None | Some("DESC") => Ok(Direction::Descending),
        Some("ASC") => Ok(Direction::Ascending),
        Some(other) => Err(ApiError::bad_request(format!("sort_order is ASC or DESC, not {}", quoted(other)))),
    }
}

/// Paging query parameters.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1)]
    pub page_no: Option<u64>,
    /// Items per page, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
}

impl PageQuery {
    /// The validated page.
    pub fn page(self) -> ApiResult<Page> {
        let page_no = self.page_no.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page_no == 0 || !(1..=100).contains(&per_page) {
            return Err(ApiError::bad_request("page_no starts at 1 and per_page is 1..=100"));
        }
        // The offset must fit SQL's signed 64-bit OFFSET (and not overflow computing it).
        let offset = (page_no - 1).checked_mul(per_page).filter(|o| i64::try_from(*o).is_ok());
        if offset.is_none() {
            return Err(ApiError::bad_request("page_no is too large"));
        }
        Ok(Page { page_no, per_page })
    }
}

/// The authenticated API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's scope.
    pub scope: Scope,
    /// The one app the token is limited to, if any.
    pub app_id: Option<String>,
    /// The one account the token belongs to (`None`: every account, the operator's).
    pub account_id: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(secret) = bearer_credential(&parts.headers) else {
            return Err(ApiError::unauthorized("missing Authorization: Bearer <API token>"));
        };
        let record = state.store().token_by_hash(&hash_secret(secret)).await?;
        let Some(record) = record else { return Err(ApiError::unauthorized("unknown API token")) };
        let scope = Scope::parse(&record.scope).ok_or_else(|| ApiError::unauthorized("unknown API token"))?;
        Ok(Caller { scope, app_id: record.app_id, account_id: record.account_id })
    }
}

/// What a request touches, for scope checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Apps.
    Apps,
    /// Presets.
    Presets,
    /// Meetings, participants, sessions, recordings, webhooks.
    Realtime,
}

impl Caller {
    /// Refuses (403) what the scope does not allow.
    pub fn require(&self, resource: Resource, write: bool) -> ApiResult<()> {
        let allowed = match (self.scope, resource, write) {
            (Scope::Admin, _, _) => true,
            (Scope::Realtime, Resource::Realtime, _) => true,
            (Scope::Realtime, Resource::Apps | Resource::Presets, write) => !write,
            (Scope::Read, _, write) => !write,
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("a {} token may not do this", self.scope.as_str())))
        }
    }

    /// Refuses (403) an account the token does not belong to.
    pub fn require_account(&self, account_id: &str) -> ApiResult<()> {
        match &self.account_id {
            Some(own) if own != account_id => Err(ApiError::forbidden("this API token belongs to another account")),
            _ => Ok(()),
        }
    }

    /// Refuses (403) an app the token is not for.
    pub fn require_app(&self, app_id: &str) -> ApiResult<()> {
        match &self.app_id {
            Some(own) if own != app_id => Err(ApiError::forbidden("this API token is for another app")),
            _ => Ok(()),
        }
    }
}

/// The credentials of an `Authorization: Bearer <token>` header value (the scheme is
/// case-insensitive, spaces around the credentials are ignored; empty credentials are none).
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim_start().split_once([' ', '\t'])?;
    let credential = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty()).then_some(credential)
}

/// The bearer credentials of a request: the one reading of `Authorization` that both
/// authentication and the per-token rate limit use.
pub fn bearer_credential(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer)
}

/// Checks that a path id is one of ours: a UUID in its canonical hyphenated lowercase form, so
/// anything else gets 400, not 404 or 500.
pub fn valid_id(kind: &str, id: &str) -> ApiResult<()> {
    let canonical = id.len() == 36 && uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id);
    if canonical {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{kind} {} is not a valid id (a lowercase UUID)", quoted(id))))
    }
}

/// Checks an `{account_id}`: 1 to 128 characters, none of them control characters.
pub fn valid_account(account_id: &str) -> ApiResult<()> {
    if account_id.is_empty() || account_id.len() > 128 || account_id.chars().any(char::is_control) {
        return Err(ApiError::bad_request("account_id must be 1 to 128 printable characters"));
    }
    Ok(())
}

/// `value` quoted for an error message, cut after 64 characters (a request may carry kilobytes).
pub(crate) fn quoted(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// Resolves `{account_id}/{app_id}` for a caller: 400 on a malformed id, 403 outside the token's
/// app or scope, 404 when the app does not exist under that account.
pub async fn app_for(
    state: &AppState,
    caller: &Caller,
    account_id: &str,
    app_id: &str,
    resource: Resource,
    write: bool,
) -> ApiResult<crate::model::App> {
    valid_account(account_id)?;
    valid_id("app_id", app_id)?;
    caller.require(resource, write)?;
    caller.require_account(account_id)?;
    caller.require_app(app_id)?;
    match state.store().get_app(account_id, app_id).await? {
        Some(app) => Ok(app),
        None => Err(ApiError::not_found(format!("no app {app_id} in account {account_id}"))),
    }
}

/// A fallback for unknown paths: 404 in the envelope.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// A fallback for a known path with the wrong method: 405 in the envelope.
pub async fn method_not_allowed() -> ApiError {
    ApiError { status: StatusCode::METHOD_NOT_ALLOWED, message: "method not allowed on this endpoint".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change whose caller hangs up halfway still runs to its end.
    #[tokio::test]
    async fn a_change_outlives_its_cancelled_caller() {
        let (open_gate, gate) = tokio::sync::oneshot::channel::<()>();
        let (finished, done) = tokio::sync::oneshot::channel::<&str>();
        let change = to_completion(async move {
            gate.await.map_err(|_| ApiError::unavailable("gate dropped"))?;
            let _ = finished.send("both halves ran");
            Ok(())
        });
        // The caller gives up while the change waits between its two halves.
        let cancelled = tokio::time::timeout(std::time::Duration::from_millis(10), change).await;
        assert!(cancelled.is_err(), "the change cannot have finished before its gate opened");
        open_gate.send(()).expect("the spawned change still waits for its gate");
        assert_eq!(done.await, Ok("both halves ran"));
    }

    #[tokio::test]
    async fn a_change_answers_its_caller() {
        assert_eq!(to_completion(async { Ok(7) }).await, Ok(7));
        let refused: ApiResult<()> = to_completion(async { Err(ApiError::conflict("taken")) }).await;
        assert_eq!(refused, Err(ApiError::conflict("taken")));
    }
}
