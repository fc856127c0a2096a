//! The [`Store`](crate::store::Store) outbox calls on the cluster's shared outbox
//! ([`crate::cluster::outbox`]). The delivery task asks for due rows and reports outcomes as on
//! one node; here asking claims the rows for this node, for [`PgStore`]'s claim lease, so that
//! another node's delivery task leaves them alone while this one sends them. Due times are kept
//! by the database's clock: the node's times the task passes are read as delays from its now.

use std::time::Duration;

use convene_room::WebhookEvent;
use tokio_postgres::GenericClient;

use super::PgStore;
use crate::cluster::outbox as shared;
use crate::store::encoding::subscribes;
use crate::store::{now_ms, DeliveryStatus, OutboxRow, StoreError, StoreResult};

/// Queues one event for every enabled webhook of the app that subscribes to it, on `client` (a
/// transaction, so that the rows and the wake-up notification go out with the change that made
/// the event). Returns how many deliveries were queued.
pub(super) async fn queue_event(client: &impl GenericClient, app_id: &str, event: &WebhookEvent) -> StoreResult<usize> {
    let name = event.kind.as_str();
    let hooks = client.query("SELECT id, url, events FROM webhooks WHERE app_id = $1 AND enabled", &[&app_id]).await?;
    let targets: Vec<(String, String)> =
        hooks.iter().filter(|r| subscribes(r.get(2), name)).map(|r| (r.get(0), r.get(1))).collect();
    Ok(shared::queue(client, &targets, &event.payload.to_string()).await?.len())
}

/// The delay from the node's now to `at_ms`, by the node's clock (none if it has passed).
fn delay_until(at_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms())).unwrap_or(0))
}

impl PgStore {
    /// Queues one event for the app's subscribed webhooks, in one transaction.
    pub(crate) async fn enqueue_webhook_event(&self, app_id: &str, event: &WebhookEvent) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let queued = queue_event(&*tx, app_id, event).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Claims for this node the oldest due delivery of each enabled webhook (at most `limit`),
    /// skipping those another live node has claimed. Due is by the database's clock, so
    /// `_now_ms` (the node's) is not read.
    pub(crate) async fn due_per_webhook(&self, _now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let claimed = shared::claim_due(&**self.client().await?, &self.node_id, self.claim_lease, limit).await?;
        Ok(claimed
            .into_iter()
            .map(|c| OutboxRow {
                id: c.id,
                uuid: c.uuid,
                webhook_id: c.webhook_id,
                url: c.url,
                body: c.body,
                attempts: u32::try_from(c.attempts).unwrap_or(0),
            })
            .collect())
    }

    /// When each enabled webhook's next pending delivery is due, by the node's clock (the
    /// database's delay from its now, added to the node's now).
    pub(crate) async fn next_due_per_webhook(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT o.webhook_id,
                        GREATEST(0, (extract(epoch FROM min(GREATEST(o.next_attempt_at, o.claim_until)) - now()) * 1000)::bigint)
                 FROM outbox o JOIN webhooks w ON w.id = o.webhook_id AND w.enabled
                 WHERE o.status = 'pending' GROUP BY o.webhook_id",
                &[],
            )
            .await?;
        let now = now_ms();
        Ok(rows.iter().map(|r| (r.get(0), now.saturating_add(r.get::<_, i64>(1)))).collect())
    }

    /// Records the outcome of this node's attempt at a delivery it claimed: done, or pending
    /// again, due at `next_attempt_ms` by the node's clock. `false`, changing nothing, when the
    /// row is no longer pending or no longer this node's (its claim ran out and another node took
    /// it; that node's attempt counts).
    pub(crate) async fn delivery_outcome(
        &self,
        id: i64,
        status: DeliveryStatus,
        next_attempt_ms: i64,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let retry_in = delay_until(next_attempt_ms);
        Ok(shared::finish(&**self.client().await?, id, &self.node_id, status, retry_in, error).await?)
    }

    /// Deletes delivered, failed and dropped rows created before `cutoff` (RFC 3339).
    pub(crate) async fn prune_outbox(&self, cutoff: &str) -> StoreResult<usize> {
        let cutoff = crate::store::parse_rfc3339(cutoff)
            .ok_or_else(|| StoreError::Corrupt("outbox cutoff", cutoff.to_owned()))?;
        let pruned = self
            .client()
            .await?
            .execute(
                "DELETE FROM outbox WHERE status IN ('delivered', 'failed', 'dropped')
                   AND created_at < to_timestamp($1::bigint / 1000.0)",
                &[&((cutoff.unix_timestamp_nanos() / 1_000_000) as i64)],
            )
            .await?;
        Ok(pruned as usize)
    }

    /// Makes every pending delivery due now (an operator's "retry now"); claims in flight keep
    /// their node. `_now_ms` (the node's clock) is not read: due is by the database's.
    pub(crate) async fn retry_pending_now(&self, _now_ms: i64) -> StoreResult<usize> {
        let sql = "UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'";
        Ok(self.client().await?.execute(sql, &[]).await? as usize)
    }

    /// Counts deliveries by status.
    pub(crate) async fn outbox_counts(&self) -> StoreResult<Vec<(DeliveryStatus, u64)>> {
        let rows = self
            .client()
            .await?
            .query("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status", &[])
            .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.get(0);
                let n = u64::try_from(r.get::<_, i64>(1)).unwrap_or(0);
                DeliveryStatus::parse(&status).map(|s| (s, n)).ok_or(StoreError::Corrupt("outbox status", status))
            })
            .collect()
    }
}
