//! Webhook subscriptions.

use rusqlite::{params, OptionalExtension};

use super::{new_id, now_rfc3339, Page, Sqlite};
use crate::model::Webhook;
use crate::store::StoreResult;

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Webhook, String)> {
    Ok((
        Webhook {
            id: r.get(0)?,
            name: r.get(1)?,
            url: r.get(2)?,
            events: Vec::new(),
            enabled: r.get(4)?,
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
        },
        r.get(3)?,
    ))
}

fn finish((mut w, events): (Webhook, String)) -> StoreResult<Webhook> {
    w.events = serde_json::from_str(&events)?;
    Ok(w)
}

const COLUMNS: &str = "id, name, url, events, enabled, created_at, updated_at";

impl Sqlite {
    /// Creates a webhook.
    pub(crate) fn create_webhook(
        &self,
        app_id: &str,
        name: &str,
        url: &str,
        events: &[String],
        enabled: bool,
    ) -> StoreResult<Webhook> {
        let now = now_rfc3339();
        let w = Webhook {
            id: new_id(),
            name: name.to_owned(),
            url: url.to_owned(),
            events: events.to_vec(),
            enabled,
            created_at: now.clone(),
            updated_at: now,
        };
        self.lock().execute(
            "INSERT INTO webhooks (id, app_id, name, url, events, enabled, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                w.id,
                app_id,
                w.name,
                w.url,
                serde_json::to_string(&w.events)?,
                w.enabled,
                w.created_at,
                w.updated_at
            ],
        )?;
        Ok(w)
    }

    /// A webhook of an app.
    pub(crate) fn get_webhook(&self, app_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE app_id = ?1 AND id = ?2");
        let r = self.lock().query_row(&sql, [app_id, id], row).optional()?;
        r.map(finish).transpose()
    }

    /// A page of an app's webhooks, oldest first, and how many there are.
    pub(crate) fn list_webhooks(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Webhook>, u64)> {
        let conn = self.lock();
        let total: u64 = conn.query_row("SELECT COUNT(*) FROM webhooks WHERE app_id = ?1", [app_id], |r| r.get(0))?;
        let (limit, offset) = page.limit_offset();
        let sql =
            format!("SELECT {COLUMNS} FROM webhooks WHERE app_id = ?1 ORDER BY created_at, rowid LIMIT ?2 OFFSET ?3");
        let mut stmt = conn.prepare(&sql)?;
        let rows: Vec<_> = stmt.query_map(params![app_id, limit, offset], row)?.collect::<Result<_, _>>()?;
        Ok((rows.into_iter().map(finish).collect::<StoreResult<_>>()?, total))
    }

    /// Writes a webhook's fields back.
    pub(crate) fn update_webhook(&self, app_id: &str, w: &Webhook) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE webhooks SET name = ?3, url = ?4, events = ?5, enabled = ?6, updated_at = ?7 WHERE app_id = ?1 AND id = ?2",
            params![app_id, w.id, w.name, w.url, serde_json::to_string(&w.events)?, w.enabled, w.updated_at],
        )?;
        Ok(())
    }

    /// Deletes a webhook; pending deliveries to it are dropped.
    pub(crate) fn delete_webhook(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        self.tx(|tx| {
            let n = tx.execute("DELETE FROM webhooks WHERE app_id = ?1 AND id = ?2", [app_id, id])?;
            if n == 1 {
                tx.execute("UPDATE outbox SET status = 'dropped' WHERE webhook_id = ?1 AND status = 'pending'", [id])?;
            }
            Ok(n == 1)
        })
    }
}
