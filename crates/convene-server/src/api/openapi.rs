//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/client/v4/openapi.json`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

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

/// A regular expression for the ids this server makes: UUIDs, hyphenated, lowercase. Anything
/// else in an id's place is answered with 400 (see [`super::valid_id`]).
pub const ID_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

/// The answers every operation can give besides its own, added to each operation so that the
/// document lists every status code the server sends:
///
/// - 400 for a malformed path id, query parameter or body (every operation has path parameters);
/// - 401 without a known API token, 403 for a token of another scope or app;
/// - 404 for an unknown account/app (or resource), and for a path the router does not know;
/// - 413 and 415 for operations with a body (too large; not `Content-Type: application/json`);
/// - 429 over a rate limit, with `Retry-After` (see `crate::limits`).
///
/// It also describes the path parameters: every `*_id` but `account_id` is a UUID.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    describe_parameter(parameter);
                }
                let has_body = operation.request_body.is_some();
                add_error(operation, 400, "Malformed request: a path id, query parameter or body is not valid.");
                add_error(operation, 401, "Missing or unknown API token.");
                add_error(operation, 403, "The token's scope or app does not allow this.");
                add_error(operation, 404, "No such account, app or resource.");
                if has_body {
                    add_error(operation, 413, "Body larger than the limit (64 KiB).");
                    add_error(operation, 415, "Body without `Content-Type: application/json`.");
                }
                add_too_many_requests(operation);
            }
        }
    }
}

fn add_error(operation: &mut Operation, status: u16, description: &str) {
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build())
        .build();
    operation.responses.responses.entry(status.to_string()).or_insert(RefOr::T(response));
}

fn add_too_many_requests(operation: &mut Operation) {
    let retry_after = utoipa::openapi::HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("Seconds to wait before trying again."))
        .build();
    let response = ResponseBuilder::new()
        .description("Over a rate limit (per API token or per client IP); nothing was done.")
        .header("Retry-After", retry_after)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorEnvelope"))).build())
        .build();
    operation.responses.responses.entry("429".to_owned()).or_insert(RefOr::T(response));
}

fn describe_parameter(parameter: &mut Parameter) {
    if parameter.parameter_in != ParameterIn::Path {
        return;
    }
    let schema = if parameter.name == "account_id" {
        // No control characters (Unicode's Cc: U+0000-U+001F, U+007F-U+009F); see `valid_account`.
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(128))
            .pattern(Some("^[^\\u0000-\\u001F\\u007F-\\u009F]+$"))
    } else if parameter.name.ends_with("_id") {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uuid".into())))
            .pattern(Some(ID_PATTERN))
    } else {
        return;
    };
    parameter.schema = Some(schema.into());
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Convene server API", description = "RealtimeKit-compatible REST API of convene-server."),
    modifiers(&BearerAuth, &CommonResponses),
    paths(
        super::apps::create, super::apps::list, super::apps::get,
        super::presets::create, super::presets::list, super::presets::get, super::presets::patch, super::presets::replace,
        super::presets::delete,
        super::meetings::create, super::meetings::list, super::meetings::get, super::meetings::patch, super::meetings::replace,
        super::meetings::active_session, super::meetings::kick, super::meetings::kick_all,
        super::participants::add, super::participants::list, super::participants::get, super::participants::patch,
        super::participants::replace, super::participants::delete, super::participants::refresh_token,
        super::sessions::list, super::sessions::get, super::sessions::participants, super::sessions::participant,
        super::sessions::peer_report,
        super::recordings::start, super::recordings::list, super::recordings::active, super::recordings::get, super::recordings::action,
        super::recordings::download,
        super::webhooks::create, super::webhooks::list, super::webhooks::get, super::webhooks::patch, super::webhooks::replace,
        super::webhooks::delete, super::webhooks::events,
    )
)]
pub struct ApiDoc;

/// `GET /client/v4/openapi.json`.
pub async fn serve() -> Response {
    Json(ApiDoc::openapi()).into_response()
}
