//! `/{app_id}/presets`.

use axum::extract::State;
use axum::response::Response;
use convene_core::permissions::Permissions;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::envelope::{Envelope, ErrorEnvelope, ListEnvelope};
use super::{
    app_for, created, ok, valid_id, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Caller, PageQuery, Resource,
};
use crate::model::Preset;
use crate::room::ApiCommand;
use crate::state::AppState;
use crate::store::now_rfc3339;

/// Body of `POST /presets` and `PUT` (and, all optional, `PATCH`: each object given merges
/// into the preset's, field by field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetBody {
    /// Name, unique in the app, 1 to 100 characters (required to create).
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Meeting configuration, kept as given.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// RealtimeKit's permission set; missing fields take the most restrictive defaults.
    #[schema(value_type = Option<Object>)]
    pub permissions: Option<Value>,
    /// UI settings, kept as given.
    #[schema(value_type = Option<Object>)]
    pub ui: Option<Value>,
}

/// A preset body read whole, as a create or a replace takes it.
struct WholePreset {
    name: String,
    permissions: Value,
    config: Value,
    ui: Value,
}

impl PresetBody {
    /// Checks the body as a whole preset: `name` required, the permissions filled in with their
    /// defaults, `config` and `ui` empty when absent.
    fn whole(self) -> ApiResult<WholePreset> {
        let name = valid_name(self.name.as_deref().ok_or_else(|| ApiError::bad_request("name is required"))?)?;
        let permissions = checked_permissions(self.permissions.unwrap_or(Value::Object(Default::default())))?;
        let config = object_or_empty(self.config, "config")?;
        let ui = object_or_empty(self.ui, "ui")?;
        Ok(WholePreset { name, permissions, config, ui })
    }
}

/// Checks a permissions object and returns it in full (defaults filled in).
pub fn checked_permissions(v: Value) -> ApiResult<Value> {
    let p: Permissions = serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("permissions: {e}")))?;
    Ok(serde_json::to_value(p).expect("permissions serialise"))
}

/// `config` and `ui`: an object, or an empty one when absent.
pub fn object_or_empty(v: Option<Value>, field: &str) -> ApiResult<Value> {
    match v {
        None => Ok(Value::Object(Default::default())),
        Some(Value::Object(m)) => Ok(Value::Object(m)),
        Some(_) => Err(ApiError::bad_request(format!("{field} must be an object"))),
    }
}

/// A preset name, trimmed: 1 to 100 characters.
pub fn valid_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// Creates a preset.
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/presets", tag = "presets",
    operation_id = "post-presets",
    params(("account_id" = String, Path), ("app_id" = String, Path)), request_body = PresetBody,
    responses((status = 201, body = Envelope<Preset>), (status = 400, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<PresetBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Presets, true).await?;
    let WholePreset { name, permissions, config, ui } = body.whole()?;
    super::to_completion(async move {
        match state.store().create_preset(&app_id, &name, &config, &permissions, &ui).await? {
            Some(p) => {
                // Live peers of that preset name (on the built-in fallback until now) take it.
                live_peers_follow(&state, &app_id, vec![name]).await;
                Ok(created(p))
            }
            None => Err(ApiError::conflict(format!("a preset named {name:?} already exists"))),
        }
    })
    .await
}

/// Lists presets.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/presets", tag = "presets",
    operation_id = "get-presets",
    params(("account_id" = String, Path), ("app_id" = String, Path), PageQuery),
    responses((status = 200, body = ListEnvelope<Preset>), (status = 400, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Presets, false).await?;
    let page = q.page()?;
    let (items, total) = state.store().list_presets(&app_id, page).await?;
    Ok(super::list(items, page, total))
}

async fn find(state: &AppState, app_id: &str, preset_id: &str) -> ApiResult<Preset> {
    valid_id("preset_id", preset_id)?;
    state
        .store()
        .get_preset(app_id, preset_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no preset {preset_id}")))
}

/// Gets a preset.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/presets/{preset_id}", tag = "presets",
    operation_id = "get-presets-preset_id",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("preset_id" = String, Path)),
    responses((status = 200, body = Envelope<Preset>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, preset_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Presets, false).await?;
    Ok(ok(find(&state, &app_id, &preset_id).await?))
}

/// Changes a preset. Participants of this preset who are in a session take the new permissions
/// at once (a `permissions_updated` event by the API), and the server enforces them.
#[utoipa::path(patch, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/presets/{preset_id}", tag = "presets",
    operation_id = "patch-presets-preset_id",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("preset_id" = String, Path)), request_body = PresetBody,
    responses((status = 200, body = Envelope<Preset>), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, preset_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<PresetBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Presets, true).await?;
    let mut preset = find(&state, &app_id, &preset_id).await?;
    let old_name = preset.name.clone();
    if let Some(name) = body.name {
        preset.name = valid_name(&name)?;
    }
    if let Some(p) = body.permissions {
        // A patch of permissions merges into the current set.
        let mut merged = preset.permissions.clone();
        merge(&mut merged, p);
        preset.permissions = checked_permissions(merged)?;
    }
    // `config` and `ui` patches merge field by field too (Cloudflare's partial types).
    if let Some(c) = body.config {
        merge(&mut preset.config, object_or_empty(Some(c), "config")?);
    }
    if let Some(u) = body.ui {
        merge(&mut preset.ui, object_or_empty(Some(u), "ui")?);
    }
    save(state, app_id, preset, old_name).await
}

/// Replaces a preset, keeping its id: `name` is required, and what the body leaves out takes
/// its default again (as on create).
#[utoipa::path(put, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/presets/{preset_id}", tag = "presets",
    operation_id = "put-presets-preset_id",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("preset_id" = String, Path)), request_body = PresetBody,
    responses((status = 200, body = Envelope<Preset>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, preset_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<PresetBody>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Presets, true).await?;
    let mut preset = find(&state, &app_id, &preset_id).await?;
    let WholePreset { name, permissions, config, ui } = body.whole()?;
    let old_name = std::mem::replace(&mut preset.name, name);
    (preset.permissions, preset.config, preset.ui) = (permissions, config, ui);
    save(state, app_id, preset, old_name).await
}

/// Stores a changed preset (409 when its new name is taken), and has the live peers of its old
/// and new names follow. Runs to its end even if the caller hangs up.
async fn save(state: AppState, app_id: String, mut preset: Preset, old_name: String) -> ApiResult<Response> {
    preset.updated_at = now_rfc3339();
    super::to_completion(async move {
        match state.store().update_preset(&app_id, &preset).await? {
            Ok(()) => {
                let mut names = vec![old_name, preset.name.clone()];
                names.dedup();
                live_peers_follow(&state, &app_id, names).await;
                Ok(ok(preset))
            }
            Err(()) => Err(ApiError::conflict("a preset with that name already exists")),
        }
    })
    .await
}

/// Tells every live room that presets of these names changed, and waits until they applied it.
async fn live_peers_follow(state: &AppState, app_id: &str, names: Vec<String>) {
    let mut presets = Vec::with_capacity(names.len());
    for name in names {
        let permissions = crate::room::permissions_of(state.store(), app_id, &name).await;
        presets.push((name, permissions));
    }
    let command = || ApiCommand::PresetChanged { app_id: app_id.to_owned(), presets: presets.clone() };
    state.0.rooms.ask_live(app_id, command).await;
}

/// Merges a patch into the current value (objects recursively; anything else replaces).
pub fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Deletes a preset.
#[utoipa::path(delete, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/presets/{preset_id}", tag = "presets",
    operation_id = "delete-presets-preset_id",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("preset_id" = String, Path)),
    responses((status = 200, body = Envelope<Preset>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, preset_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Presets, true).await?;
    let preset = find(&state, &app_id, &preset_id).await?;
    super::to_completion(async move {
        state.store().delete_preset(&app_id, &preset_id).await?;
        // Its participants fall back to the built-in preset of that name, if any, else to none.
        live_peers_follow(&state, &app_id, vec![preset.name.clone()]).await;
        Ok(ok(preset))
    })
    .await
}
