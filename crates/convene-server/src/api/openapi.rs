//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/client/v4/openapi.json`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::store::Paging;

/// A successful single answer.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T: ToSchema> {
    /// Always true.
    pub success: bool,
    /// The resource.
    pub data: T,
}

/// A successful list answer.
#[derive(Serialize, ToSchema)]
pub struct ListEnvelope<T: ToSchema> {
    /// Always true.
    pub success: bool,
    /// The items.
    pub data: Vec<T>,
    /// Where this page is.
    pub paging: Paging,
}

/// `GET /sessions` answer.
#[derive(Serialize, ToSchema)]
pub struct SessionListEnvelope {
    /// Always true.
    pub success: bool,
    /// The sessions.
    pub data: super::sessions::SessionList,
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

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Convene server API", description = "RealtimeKit-compatible REST API of convene-server."),
    modifiers(&BearerAuth),
    paths(
        super::apps::create, super::apps::list,
        super::presets::create, super::presets::list, super::presets::get, super::presets::patch, super::presets::delete,
        super::meetings::create, super::meetings::list, super::meetings::get, super::meetings::patch,
        super::meetings::active_session, super::meetings::kick, super::meetings::kick_all,
        super::participants::add, super::participants::list, super::participants::get, super::participants::patch,
        super::participants::delete, super::participants::refresh_token,
        super::sessions::list, super::sessions::get, super::sessions::participants,
        super::recordings::start, super::recordings::list, super::recordings::get, super::recordings::action,
        super::recordings::download,
        super::webhooks::create, super::webhooks::list, super::webhooks::get, super::webhooks::patch, super::webhooks::delete,
    )
)]
pub struct ApiDoc;

/// `GET /client/v4/openapi.json`.
pub async fn serve() -> Response {
    Json(ApiDoc::openapi()).into_response()
}
