//! `/{app_id}/meetings/{meeting_id}/participants`.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::{Envelope, ErrorEnvelope, ListEnvelope};
use super::meetings::find as find_meeting;
use super::{
    app_for, created, ok, valid_id, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Caller, PageQuery, Resource,
};
use crate::auth::now_secs;
use crate::model::Participant;
use crate::room::ApiCommand;
use crate::state::AppState;
use crate::store::now_rfc3339;

/// Body of `POST .../participants`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParticipant {
    /// The app's own id for this participant, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub custom_participant_id: String,
    /// A preset of the app (or a built-in one).
    pub preset_name: String,
    /// Display name, at most 200 characters.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Picture URL, at most 2000 characters.
    #[schema(max_length = 2000)]
    pub picture: Option<String>,
}

/// Body of `PATCH .../participants/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditParticipant {
    /// Display name, at most 200 characters.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Picture URL, at most 2000 characters.
    #[schema(max_length = 2000)]
    pub picture: Option<String>,
    /// Another preset (its permissions apply to the participant's live peers at once).
    pub preset_name: Option<String>,
}

/// Body of `PUT .../participants/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceParticipant {
    /// The participant's `custom_participant_id`, which cannot change (optional).
    pub custom_participant_id: Option<String>,
    /// A preset of the app (or a built-in one).
    pub preset_name: String,
    /// Display name, at most 200 characters; left out: none.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Picture URL, at most 2000 characters; left out: none.
    #[schema(max_length = 2000)]
    pub picture: Option<String>,
}

async fn check_preset(state: &AppState, app_id: &str, name: &str) -> ApiResult<()> {
    let known = state.store().preset_by_name(app_id, name).await?.is_some()
        || convene_core::Permissions::built_in(name).is_some();
    if known {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("no preset named {name:?} in this app")))
    }
}

/// An optional text field of at most `max` characters.
pub fn check_text(field: &str, v: &Option<String>, max: usize) -> ApiResult<()> {
    match v {
        Some(s) if s.chars().count() > max => {
            Err(ApiError::bad_request(format!("{field} must be at most {max} characters")))
        }
        _ => Ok(()),
    }
}

/// Adds a participant; the answer carries its auth `token` (valid 100 days).
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants", tag = "participants",
    operation_id = "add_participant",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path)), request_body = AddParticipant,
    responses((status = 201, body = Envelope<Participant>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<AddParticipant>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    find_meeting(&state, &app_id, &meeting_id).await?;
    let custom = body.custom_participant_id.trim();
    if custom.is_empty() || custom.len() > 200 {
        return Err(ApiError::bad_request("custom_participant_id must be 1 to 200 characters"));
    }
    check_text("name", &body.name, 200)?;
    check_text("picture", &body.picture, 2000)?;
    check_preset(&state, &app_id, &body.preset_name).await?;
    let mut p = state
        .store()
        .create_participant(
            &app_id,
            &meeting_id,
            custom,
            &body.preset_name,
            body.name.as_deref(),
            body.picture.as_deref(),
        )
        .await?;
    p.token = Some(state.0.tokens.issue(&p.id, &meeting_id, &app_id, now_secs()));
    Ok(created(p))
}

/// Lists participants.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants", tag = "participants",
    operation_id = "get_meeting_participants",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path), PageQuery),
    responses((status = 200, body = ListEnvelope<Participant>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id)): ApiPath<(String, String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    let page = q.page()?;
    find_meeting(&state, &app_id, &meeting_id).await?;
    let (items, total) = state.store().list_participants(&app_id, &meeting_id, page).await?;
    Ok(super::list(items, page, total))
}

async fn find(state: &AppState, app_id: &str, meeting_id: &str, id: &str) -> ApiResult<Participant> {
    find_meeting(state, app_id, meeting_id).await?;
    valid_id("participant_id", id)?;
    state
        .store()
        .get_participant(app_id, meeting_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no participant {id}")))
}

/// Gets a participant.
#[utoipa::path(get, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants/{participant_id}", tag = "participants",
    operation_id = "get_meeting_participant",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path), ("participant_id" = String, Path)),
    responses((status = 200, body = Envelope<Participant>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id, id)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, false).await?;
    Ok(ok(find(&state, &app_id, &meeting_id, &id).await?))
}

/// Edits a participant's name, picture or preset. The answer carries a new auth `token` (as
/// Cloudflare's does; older tokens stay valid).
#[utoipa::path(patch, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants/{participant_id}", tag = "participants",
    operation_id = "edit_participant",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path), ("participant_id" = String, Path)),
    request_body = EditParticipant,
    responses((status = 200, body = Envelope<Participant>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id, id)): ApiPath<(String, String, String, String)>,
    ApiJson(body): ApiJson<EditParticipant>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let mut p = find(&state, &app_id, &meeting_id, &id).await?;
    check_text("name", &body.name, 200)?;
    check_text("picture", &body.picture, 2000)?;
    if let Some(preset) = body.preset_name {
        check_preset(&state, &app_id, &preset).await?;
        p.preset_name = preset;
    }
    if body.name.is_some() {
        p.name = body.name;
    }
    if body.picture.is_some() {
        p.picture = body.picture;
    }
    save_changed(state, app_id, meeting_id, p).await
}

/// Replaces a participant: `preset_name` is required, and a `name` or `picture` left out is
/// cleared. Its `custom_participant_id` cannot change (give it or leave it out). The answer
/// carries a new auth `token`, as a `PATCH`'s does.
#[utoipa::path(put, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants/{participant_id}", tag = "participants",
    operation_id = "replace_participant",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path), ("participant_id" = String, Path)),
    request_body = ReplaceParticipant,
    responses((status = 200, body = Envelope<Participant>), (status = 400, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id, id)): ApiPath<(String, String, String, String)>,
    ApiJson(body): ApiJson<ReplaceParticipant>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let mut p = find(&state, &app_id, &meeting_id, &id).await?;
    if body.custom_participant_id.as_ref().is_some_and(|c| *c != p.custom_participant_id) {
        return Err(ApiError::bad_request("custom_participant_id cannot change"));
    }
    check_text("name", &body.name, 200)?;
    check_text("picture", &body.picture, 2000)?;
    check_preset(&state, &app_id, &body.preset_name).await?;
    p.preset_name = body.preset_name;
    p.name = body.name;
    p.picture = body.picture;
    save_changed(state, app_id, meeting_id, p).await
}

/// Stores a changed participant, gives its live peers a new preset's permissions at once, and
/// answers it with a new auth `token`. Runs to its end even if the caller hangs up.
async fn save_changed(state: AppState, app_id: String, meeting_id: String, mut p: Participant) -> ApiResult<Response> {
    p.updated_at = now_rfc3339();
    let token = state.0.tokens.issue(&p.id, &meeting_id, &app_id, now_secs());
    let mut p = super::to_completion(async move {
        state.store().update_participant(&app_id, &meeting_id, &p).await?;
        // The check first saves reading the preset when no room runs.
        if state.0.rooms.is_live(&meeting_id).await {
            let permissions = Box::new(crate::room::permissions_of(state.store(), &app_id, &p.preset_name).await);
            let changed = ApiCommand::ParticipantChanged { participant: p.info(), permissions };
            let _ = state.0.rooms.tell_live(&app_id, &meeting_id, changed).await;
        }
        Ok(p)
    })
    .await?;
    p.token = Some(token);
    Ok(ok(p))
}

/// Deletes a participant: every token of it stops working at once.
#[utoipa::path(delete, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants/{participant_id}", tag = "participants",
    operation_id = "delete_meeting_participant",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path), ("participant_id" = String, Path)),
    responses((status = 200, body = Envelope<DeletedParticipant>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id, id)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let p = find(&state, &app_id, &meeting_id, &id).await?;
    let preset_id = match state.store().preset_by_name(&app_id, &p.preset_name).await? {
        Some(preset) => preset.id,
        None => p.preset_name.clone(),
    };
    super::to_completion(async move {
        state.store().delete_participant(&app_id, &meeting_id, &id).await?;
        // Its tokens are dead; every peer of it goes too: joined ones are kicked by the API,
        // waiting ones and ones not yet joined are removed (a join or an admission that comes
        // later is refused, since the room checks the store at every membership step).
        let _ = state.0.rooms.tell_live(&app_id, &meeting_id, ApiCommand::ParticipantDeleted(id)).await;
        Ok(())
    })
    .await?;
    Ok(ok(DeletedParticipant { participant: p, preset_id }))
}

/// `data` of a participant's delete: the participant as it was, and its preset's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedParticipant {
    /// The participant.
    #[serde(flatten)]
    pub participant: Participant,
    /// Its preset's id (the preset's name, when it is a built-in preset the app has no record of).
    pub preset_id: String,
}

/// Issues a new token for a participant; older tokens stay valid.
#[utoipa::path(post, path = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/participants/{participant_id}/token", tag = "participants",
    operation_id = "regenerate_token",
    params(("account_id" = String, Path), ("app_id" = String, Path), ("meeting_id" = String, Path), ("participant_id" = String, Path)),
    responses((status = 200, body = Envelope<super::envelope::TokenData>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn refresh_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((account_id, app_id, meeting_id, id)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Response> {
    app_for(&state, &caller, &account_id, &app_id, Resource::Realtime, true).await?;
    let p = find(&state, &app_id, &meeting_id, &id).await?;
    let token = state.0.tokens.issue(&p.id, &meeting_id, &app_id, now_secs());
    Ok(ok(super::envelope::TokenData { token }))
}
