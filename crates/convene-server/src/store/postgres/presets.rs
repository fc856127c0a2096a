//! Presets in PostgreSQL. Their permissions are read from the database at every arrival, not
//! cached: another node may change them at any time.

use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::{count, PgStore};
use crate::model::Preset;
use crate::store::{new_id, now_rfc3339, Page, StoreResult};

const COLUMNS: &str = "id, name, config, permissions, ui, created_at, updated_at";

fn preset(r: &Row) -> StoreResult<Preset> {
    Ok(Preset {
        id: r.get(0),
        name: r.get(1),
        config: serde_json::from_str(r.get(2))?,
        permissions: serde_json::from_str(r.get(3))?,
        ui: serde_json::from_str(r.get(4))?,
        created_at: r.get(5),
        updated_at: r.get(6),
    })
}

impl PgStore {
    /// Creates a preset. `None` when the name is taken in this app.
    pub(crate) async fn create_preset(
        &self,
        app_id: &str,
        name: &str,
        config: &Value,
        permissions: &Value,
        ui: &Value,
    ) -> StoreResult<Option<Preset>> {
        let now = now_rfc3339();
        let preset = Preset {
            id: new_id(),
            name: name.to_owned(),
            config: config.clone(),
            permissions: permissions.clone(),
            ui: ui.clone(),
            created_at: now.clone(),
            updated_at: now,
        };
        let inserted = self
            .client()
            .await?
            .execute(
                "INSERT INTO presets (id, app_id, name, config, permissions, ui, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (app_id, name) DO NOTHING",
                &[
                    &preset.id,
                    &app_id,
                    &preset.name,
                    &config.to_string(),
                    &permissions.to_string(),
                    &ui.to_string(),
                    &preset.created_at,
                    &preset.updated_at,
                ],
            )
            .await?;
        Ok((inserted == 1).then_some(preset))
    }

    /// A preset by id.
    pub(crate) async fn get_preset(&self, app_id: &str, id: &str) -> StoreResult<Option<Preset>> {
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = $1 AND id = $2");
        self.client().await?.query_opt(&sql, &[&app_id, &id]).await?.as_ref().map(preset).transpose()
    }

    /// A preset by name.
    pub(crate) async fn preset_by_name(&self, app_id: &str, name: &str) -> StoreResult<Option<Preset>> {
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = $1 AND name = $2");
        self.client().await?.query_opt(&sql, &[&app_id, &name]).await?.as_ref().map(preset).transpose()
    }

    /// The permissions a participant of preset `name` holds: the app's preset of that name,
    /// else the built-in preset, else none. A stored set that no longer reads counts as none,
    /// with a warning.
    pub(crate) async fn preset_permissions(&self, app_id: &str, name: &str) -> StoreResult<convene_core::Permissions> {
        let sql = "SELECT permissions FROM presets WHERE app_id = $1 AND name = $2";
        let row = self.client().await?.query_opt(sql, &[&app_id, &name]).await?;
        Ok(match row {
            Some(r) => serde_json::from_str(r.get(0)).unwrap_or_else(|e| {
                tracing::warn!(preset = %name, error = %e, "unreadable preset permissions");
                convene_core::Permissions::default()
            }),
            None => convene_core::Permissions::built_in(name).unwrap_or_default(),
        })
    }

    /// A page of presets and the total count.
    pub(crate) async fn list_presets(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Preset>, u64)> {
        let client = self.client().await?;
        let total = count(&client, "SELECT count(*) FROM presets WHERE app_id = $1", &[&app_id]).await?;
        let (limit, offset) = page.limit_offset();
        let sql =
            format!("SELECT {COLUMNS} FROM presets WHERE app_id = $1 ORDER BY created_at, seq LIMIT $2 OFFSET $3");
        let rows = client.query(&sql, &[&app_id, &limit, &offset]).await?;
        Ok((rows.iter().map(preset).collect::<StoreResult<_>>()?, total))
    }

    /// Replaces a preset's fields; `Ok(Err(()))` when the new name is taken in the app.
    pub(crate) async fn update_preset(&self, app_id: &str, preset: &Preset) -> StoreResult<Result<(), ()>> {
        let updated = self
            .client()
            .await?
            .execute(
                "UPDATE presets SET name = $3, config = $4, permissions = $5, ui = $6, updated_at = $7
                 WHERE app_id = $1 AND id = $2",
                &[
                    &app_id,
                    &preset.id,
                    &preset.name,
                    &preset.config.to_string(),
                    &preset.permissions.to_string(),
                    &preset.ui.to_string(),
                    &preset.updated_at,
                ],
            )
            .await;
        match updated {
            Ok(_) => Ok(Ok(())),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(Err(())),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a preset. Returns whether it existed.
    pub(crate) async fn delete_preset(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        let sql = "DELETE FROM presets WHERE app_id = $1 AND id = $2";
        Ok(self.client().await?.execute(sql, &[&app_id, &id]).await? == 1)
    }
}
