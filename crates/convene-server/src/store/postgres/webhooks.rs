//! Webhook subscriptions in PostgreSQL.

use tokio_postgres::Row;

use super::{count, PgStore};
use crate::model::Webhook;
use crate::store::{new_id, now_rfc3339, Page, StoreResult};

const COLUMNS: &str = "id, name, url, events, enabled, created_at, updated_at";

fn webhook(r: &Row) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: r.get(0),
        name: r.get(1),
        url: r.get(2),
        events: serde_json::from_str(r.get(3))?,
        enabled: r.get(4),
        created_at: r.get(5),
        updated_at: r.get(6),
    })
}

impl PgStore {
    /// Creates a webhook.
    pub(crate) async fn create_webhook(
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
        self.client()
            .await?
            .execute(
                "INSERT INTO webhooks (id, app_id, name, url, events, enabled, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &w.id,
                    &app_id,
                    &w.name,
                    &w.url,
                    &serde_json::to_string(&w.events)?,
                    &w.enabled,
                    &w.created_at,
                    &w.updated_at,
                ],
            )
            .await?;
        Ok(w)
    }

    /// A webhook of an app.
    pub(crate) async fn get_webhook(&self, app_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE app_id = $1 AND id = $2");
        self.client().await?.query_opt(&sql, &[&app_id, &id]).await?.as_ref().map(webhook).transpose()
    }

    /// A page of an app's webhooks, oldest first, and how many there are.
    pub(crate) async fn list_webhooks(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Webhook>, u64)> {
        let client = self.client().await?;
        let total = count(&client, "SELECT count(*) FROM webhooks WHERE app_id = $1", &[&app_id]).await?;
        let (limit, offset) = page.limit_offset();
        let sql =
            format!("SELECT {COLUMNS} FROM webhooks WHERE app_id = $1 ORDER BY created_at, seq LIMIT $2 OFFSET $3");
        let rows = client.query(&sql, &[&app_id, &limit, &offset]).await?;
        Ok((rows.iter().map(webhook).collect::<StoreResult<_>>()?, total))
    }

    /// Writes a webhook's fields back.
    pub(crate) async fn update_webhook(&self, app_id: &str, w: &Webhook) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE webhooks SET name = $3, url = $4, events = $5, enabled = $6, updated_at = $7
                 WHERE app_id = $1 AND id = $2",
                &[&app_id, &w.id, &w.name, &w.url, &serde_json::to_string(&w.events)?, &w.enabled, &w.updated_at],
            )
            .await?;
        Ok(())
    }

    /// Deletes a webhook; pending deliveries to it are dropped.
    pub(crate) async fn delete_webhook(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let deleted = tx.execute("DELETE FROM webhooks WHERE app_id = $1 AND id = $2", &[&app_id, &id]).await? == 1;
        if deleted {
            tx.execute("UPDATE outbox SET status = 'dropped' WHERE webhook_id = $1 AND status = 'pending'", &[&id])
                .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
