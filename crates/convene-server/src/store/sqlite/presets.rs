//! Presets.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use super::{new_id, now_rfc3339, Page, Sqlite};
use crate::model::Preset;
use crate::store::StoreResult;

fn preset_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn to_preset(row: (String, String, String, String, String, String, String)) -> StoreResult<Preset> {
    let (id, name, config, permissions, ui, created_at, updated_at) = row;
    Ok(Preset {
        id,
        name,
        config: serde_json::from_str(&config)?,
        permissions: serde_json::from_str(&permissions)?,
        ui: serde_json::from_str(&ui)?,
        created_at,
        updated_at,
    })
}

const COLUMNS: &str = "id, name, config, permissions, ui, created_at, updated_at";

impl Sqlite {
    /// Creates a preset. `None` when the name is taken in this app.
    pub(crate) fn create_preset(
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
        let inserted = self.lock().execute(
            "INSERT INTO presets (id, app_id, name, config, permissions, ui, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (app_id, name) DO NOTHING",
            params![
                preset.id,
                app_id,
                preset.name,
                config.to_string(),
                permissions.to_string(),
                ui.to_string(),
                preset.created_at,
                preset.updated_at
            ],
        )?;
        Ok((inserted == 1).then_some(preset))
    }

    /// A preset by id.
    pub(crate) fn get_preset(&self, app_id: &str, id: &str) -> StoreResult<Option<Preset>> {
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = ?1 AND id = ?2");
        let row = self.lock().query_row(&sql, [app_id, id], preset_row).optional()?;
        row.map(to_preset).transpose()
    }

    /// A preset by name.
    pub(crate) fn preset_by_name(&self, app_id: &str, name: &str) -> StoreResult<Option<Preset>> {
        let sql = format!("SELECT {COLUMNS} FROM presets WHERE app_id = ?1 AND name = ?2");
        let row = self.lock().query_row(&sql, [app_id, name], preset_row).optional()?;
        row.map(to_preset).transpose()
    }

    /// The permissions a participant of preset `name` holds: the app's preset of that name,
    /// else the built-in preset, else none. A stored set that no longer reads (written by
    /// another version, say) counts as none, with a warning.
    pub(crate) fn preset_permissions(&self, app_id: &str, name: &str) -> StoreResult<convene_core::Permissions> {
        Ok(match self.preset_by_name(app_id, name)? {
            Some(preset) => serde_json::from_value(preset.permissions).unwrap_or_else(|e| {
                tracing::warn!(preset = %name, error = %e, "unreadable preset permissions");
                convene_core::Permissions::default()
            }),
            None => convene_core::Permissions::built_in(name).unwrap_or_default(),
        })
    }

    /// A page of presets and the total count.
    pub(crate) fn list_presets(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Preset>, u64)> {
        let conn = self.lock();
        let total: u64 = conn.query_row("SELECT COUNT(*) FROM presets WHERE app_id = ?1", [app_id], |r| r.get(0))?;
        let (limit, offset) = page.limit_offset();
        let sql =
            format!("SELECT {COLUMNS} FROM presets WHERE app_id = ?1 ORDER BY created_at, rowid LIMIT ?2 OFFSET ?3");
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![app_id, limit, offset], preset_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok((rows.into_iter().map(to_preset).collect::<StoreResult<_>>()?, total))
    }

    /// Replaces a preset's fields; `Ok(Err(()))` when the new name is taken in the app.
    pub(crate) fn update_preset(&self, app_id: &str, preset: &Preset) -> StoreResult<Result<(), ()>> {
        let r = self.lock().execute(
            "UPDATE presets SET name = ?3, config = ?4, permissions = ?5, ui = ?6, updated_at = ?7
             WHERE app_id = ?1 AND id = ?2",
            params![
                app_id,
                preset.id,
                preset.name,
                preset.config.to_string(),
                preset.permissions.to_string(),
                preset.ui.to_string(),
                preset.updated_at
            ],
        );
        match r {
            Ok(_) => Ok(Ok(())),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Ok(Err(()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a preset. Returns whether it existed.
    pub(crate) fn delete_preset(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        Ok(self.lock().execute("DELETE FROM presets WHERE app_id = ?1 AND id = ?2", [app_id, id])? == 1)
    }
}
