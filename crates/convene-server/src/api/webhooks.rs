//! `/{app_id}/webhooks`.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use super::envelope::{Envelope, ErrorEnvelope, ListEnvelope};
use super::{
    app_for, created, ok, valid_id, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Caller, PageQuery, Resource,
};
use crate::model::{Webhook, SUBSCRIBABLE_EVENTS};
use crate::state::AppState;
use crate::store::now_rfc3339;
use crate::webhook::TargetPolicy;

/// Body of `POST /webhooks` and `PUT` (all fields but `enabled`) and `PATCH` (any of them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// Name, 1 to 200 characters (required to create).
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// An `http://` or `https://` URL, at most 2000 characters, without credentials, not reaching
    /// loopback, private or link-local addresses unless the server allows private targets
    /// (required to create). Redirects are not followed.
    #[schema(max_length = 2000, pattern = "^https?://")]
    pub url: Option<String>,
    /// Events to deliver, at least one, from RealtimeKit's list (required to create).
    #[schema(schema_with = event_names)]
    pub events: Option<Vec<String>>,
    /// Whether to deliver (default true).
    pub enabled: Option<bool>,
}

/// The schema of `events`: a non-empty array of the names in [`SUBSCRIBABLE_EVENTS`].
fn event_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let item = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(SUBSCRIBABLE_EVENTS));
    let array_or_null = SchemaType::from_iter([Type::Array, Type::Null]);
    ArrayBuilder::new().schema_type(array_or_null).items(item).min_items(Some(1)).build()
}

/// An `http://` or `https://` URL of at most 2000 bytes, without credentials, that the target
/// policy allows (no loopback, private or link-local address unless the operator allows them).
pub fn check_url(url: &str, policy: TargetPolicy) -> ApiResult<()> {
    if url.len() > 2000 {
        return Err(ApiError::bad_request("url must be at most 2000 characters"));
    }
    // As written, not only as the URL parser reads it (which forgives `HTTP:`, `http:host` and
    // leading spaces): the stored URL matches the documented pattern `^https?://`.
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::bad_request(format!("url {} must start with http:// or https://", super::quoted(url))));
    }
    match policy.check(url) {
        Ok(_) => Ok(()),
        Err(e) => Err(ApiError::bad_request(format!("url {}: {e}", super::quoted(url)))),
    }
}

/// At least one event, each one a subscribable event.
pub fn check_events(events: &[String]) -> ApiResult<()> {
    if events.is_empty() {
        return Err(ApiError::bad_request("events must name at least one event"));
    }
    match events.iter().find(|e| !SUBSCRIBABLE_EVENTS.contains(&e.as_str())) {
        Some(bad) => {
            Err(ApiError::bad_request(format!("unknown event {bad:?}; known: {}", SUBSCRIBABLE_EVENTS.join(", "))))
        }
        None => Ok(()),
    }
}

/// A name of 1 to 200 characters, not blank.
pub fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(ApiError::bad_request("name must be 1 to 200 characters"));
    }
    Ok(())
}

/// Registers a webhook.
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks", tag = "webhooks",
    operation_id = "addWebhook",
    params(("account_id" = String, Path), ("app_id" = String, Path)), request_body = WebhookBody,
    responses((status = 201, body = Envelope<Webhook>), (status = 400, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let (Some(name), Some(url), Some(events)) = (body.name, body.url, body.events) else {
        return Err(ApiError::bad_request("name, url and events are required"));
    };
    check_name(&name)?;
    check_url(&url, state.0.webhooks.policy())?;
    check_events(&events)?;
    Ok(created(state.store().create_webhook(&app_id, &name, &url, &events, body.enabled.unwrap_or(true)).await?))
}

/// Lists webhooks.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks", tag = "webhooks",
    operation_id = "getAllWebhooks",
    params(("account_id" = String, Path), ("app_id" = String, Path), PageQuery),
    responses((status = 200, body = ListEnvelope<Webhook>), (status = 400, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    let page = q.page()?;
    let (items, total) = state.store().list_webhooks(&app_id, page).await?;
    Ok(super::list(items, page, total))
}

/// Lists the event names a webhook may subscribe to (RealtimeKit's whole list; Convene sends
/// `meeting.started`, `meeting.ended`, `meeting.participantJoined`, `meeting.participantLeft` and
/// `recording.statusUpdate`, and never the others, which are about media).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks/all", tag = "webhooks",
    operation_id = "getAllWebhookEvents",
    params(("account_id" = String, Path), ("app_id" = String, Path)),
    responses((status = 200, body = Envelope<Vec<String>>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    Ok(ok(SUBSCRIBABLE_EVENTS.map(str::to_owned).to_vec()))
}

async fn find(state: &AppState, app_id: &str, id: &str) -> ApiResult<Webhook> {
    valid_id("webhook_id", id)?;
    state.store().get_webhook(app_id, id).await?.ok_or_else(|| ApiError::not_found(format!("no webhook {id}")))
}

/// Gets a webhook.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks/{webhook_id}", tag = "webhooks",
    operation_id = "getWebhook",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 200, body = Envelope<Webhook>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    Ok(ok(find(&state, &app_id, &id).await?))
}

/// Changes a webhook.
#[utoipa::path(patch, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks/{webhook_id}", tag = "webhooks",
    operation_id = "editWebhook",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("webhook_id" = String, Path)), request_body = WebhookBody,
    responses((status = 200, body = Envelope<Webhook>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let mut w = find(&state, &app_id, &id).await?;
    body.apply(&mut w, state.0.webhooks.policy())?;
    Ok(ok(save(&state, &app_id, w).await?))
}

/// Replaces a webhook: `name`, `url` and `events` are required (as on create), and `enabled`
/// left out is `true` again.
#[utoipa::path(put, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks/{webhook_id}", tag = "webhooks",
    operation_id = "replaceWebhook",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("webhook_id" = String, Path)), request_body = WebhookBody,
    responses((status = 200, body = Envelope<Webhook>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    if body.name.is_none() || body.url.is_none() || body.events.is_none() {
        return Err(ApiError::bad_request("name, url and events are required"));
    }
    let mut w = find(&state, &app_id, &id).await?;
    w.enabled = true;
    body.apply(&mut w, state.0.webhooks.policy())?;
    Ok(ok(save(&state, &app_id, w).await?))
}

impl WebhookBody {
    /// Checks the fields the body has and sets them on `w` (nothing is stored here).
    fn apply(self, w: &mut Webhook, policy: TargetPolicy) -> ApiResult<()> {
        if let Some(name) = self.name {
            check_name(&name)?;
            w.name = name;
        }
        if let Some(url) = self.url {
            check_url(&url, policy)?;
            w.url = url;
        }
        if let Some(events) = self.events {
            check_events(&events)?;
            w.events = events;
        }
        if let Some(enabled) = self.enabled {
            w.enabled = enabled;
        }
        Ok(())
    }
}

async fn save(state: &AppState, app_id: &str, mut w: Webhook) -> ApiResult<Webhook> {
    w.updated_at = now_rfc3339();
    state.store().update_webhook(app_id, &w).await?;
    // A webhook enabled again (or pointed elsewhere) may have a backlog due now.
    state.0.webhooks.wake();
    Ok(w)
}

/// Deletes a webhook (pending deliveries to it are dropped).
#[utoipa::path(delete, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/webhooks/{webhook_id}", tag = "webhooks",
    operation_id = "deleteWebhook",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("webhook_id" = String, Path)),
    responses((status = 200, body = Envelope<Webhook>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let w = find(&state, &app_id, &id).await?;
    state.store().delete_webhook(&app_id, &id).await?;
    Ok(ok(w))
}
