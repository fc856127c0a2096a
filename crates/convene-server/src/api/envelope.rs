//! RealtimeKit's answer envelope, `{success, data}` (with `paging` for lists) and
//! `{success: false, error: {code, message}}`: the types the handlers serve, and the ones the
//! OpenAPI document describes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{Page, Paging};

/// A successful single answer.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always true.
    pub success: bool,
    /// The resource.
    pub data: T,
}

/// A successful list answer.
#[derive(Serialize, ToSchema)]
pub struct ListEnvelope<T> {
    /// Always true.
    pub success: bool,
    /// The items.
    pub data: Vec<T>,
    /// Where this page is.
    pub paging: Paging,
}

/// A successful answer of one page whose items sit inside `data` (`GET /sessions`:
/// `data.sessions`).
#[derive(Serialize, ToSchema)]
pub struct PagedEnvelope<T> {
    /// Always true.
    pub success: bool,
    /// The page's items, in an object.
    pub data: T,
    /// Where this page is.
    pub paging: Paging,
}

/// A failed answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always false.
    pub success: bool,
    /// What went wrong.
    pub error: ErrorBody,
}

/// The error of a failed answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status.
    pub code: u16,
    /// For a person.
    pub message: String,
}

/// A participant token.
#[derive(Serialize, ToSchema)]
pub struct TokenData {
    /// The new token.
    pub token: String,
}

/// `{"success": true, "data": ...}`.
pub fn ok<T: Serialize>(data: T) -> Response {
    Json(Envelope { success: true, data }).into_response()
}

/// `{"success": true, "data": ...}` with status 201.
pub fn created<T: Serialize>(data: T) -> Response {
    (StatusCode::CREATED, Json(Envelope { success: true, data })).into_response()
}

/// `{"success": true, "data": [...], "paging": {...}}`.
pub fn list<T: Serialize>(data: Vec<T>, page: Page, total: u64) -> Response {
    let paging = page.paging(data.len(), total);
    Json(ListEnvelope { success: true, data, paging }).into_response()
}

/// `{"success": true, "data": {...}, "paging": {...}}`, for pages whose items sit in an object.
pub fn paged<T: Serialize>(data: T, paging: Paging) -> Response {
    Json(PagedEnvelope { success: true, data, paging }).into_response()
}

/// `{"success": false, "error": {"code", "message"}}` with `status`.
pub(crate) fn failed(status: StatusCode, message: String) -> Response {
    let body = ErrorEnvelope { success: false, error: ErrorBody { code: status.as_u16(), message } };
    (status, Json(body)).into_response()
}
