//! `GET/POST /apps` and `GET /apps/{app_id}`.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::{Envelope, ListEnvelope};
use super::{app_for, ok, valid_account, ApiError, ApiJson, ApiPath, ApiResult, Caller, Resource};
use crate::model::App;
use crate::state::AppState;
use crate::store::Page;

/// Body of `POST /apps`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApp {
    /// Display name, 1 to 200 characters (not only spaces).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

/// `data` of `POST /apps`, as Cloudflare answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApp {
    /// The new app.
    pub app: App,
}

/// Creates an app with the default presets (`group_call_host`, `group_call_participant`,
/// `webinar_presenter`, `webinar_viewer`). Answers `200` with the app in `data.app`, as
/// Cloudflare's does.
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/apps", tag = "apps",
    params(("account_id" = String, Path)), request_body = CreateApp,
    responses((status = 200, body = Envelope<CreatedApp>), (status = 400, body = super::envelope::ErrorEnvelope),
        (status = 401, body = super::envelope::ErrorEnvelope), (status = 403, body = super::envelope::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateApp>,
) -> ApiResult<Response> {
    caller.require(Resource::Apps, true)?;
    if caller.app_id.is_some() {
        return Err(ApiError::forbidden("an app-scoped token cannot create apps"));
    }
    valid_account(&account_id)?;
    caller.require_account(&account_id)?;
    let name = body.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::bad_request("name must be 1 to 200 characters"));
    }
    let name = name.to_owned();
    let app = super::to_completion(async move {
        Ok(crate::bootstrap::create_app_with_presets(state.store(), &account_id, &name).await?)
    })
    .await?;
    Ok(ok(CreatedApp { app }))
}

/// Lists the account's apps (only the token's app for an app-scoped token).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/apps", tag = "apps",
    params(("account_id" = String, Path)),
    responses((status = 200, body = ListEnvelope<App>), (status = 401, body = super::envelope::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<String>,
) -> ApiResult<Response> {
    caller.require(Resource::Apps, false)?;
    valid_account(&account_id)?;
    caller.require_account(&account_id)?;
    let apps: Vec<App> = state
        .store()
        .list_apps(&account_id)
        .await?
        .into_iter()
        .filter(|a| caller.app_id.as_ref().is_none_or(|own| *own == a.id))
        .collect();
    let total = apps.len() as u64;
    Ok(super::list(apps, Page { page_no: 1, per_page: total.max(1) }, total))
}

/// Gets one app of the account (404 for another account's, or for another app than an
/// app-scoped token's).
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/apps/{app_id}", tag = "apps",
    params(("account_id" = String, Path), ("app_id" = String, Path)),
    responses((status = 200, body = Envelope<App>), (status = 404, body = super::envelope::ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    Ok(ok(app_for(&state, &caller, &account_id, &app_id, Resource::Apps, false).await?))
}
