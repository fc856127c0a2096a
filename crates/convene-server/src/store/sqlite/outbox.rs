//! The webhook outbox: one row per delivery, kept until delivered or given up.

use rusqlite::params;

use convene_room::WebhookEvent;

use super::{now_rfc3339, Sqlite};
use crate::store::encoding::subscribes;
use crate::store::now_ms;
use crate::store::OutboxRow;
use crate::store::{DeliveryStatus, StoreError, StoreResult};

/// Queues one event for every enabled webhook of the app that subscribes to it, within `tx`. Its
/// deliveries are due at once by the clock the delivery task reads ([`now_ms`]), not at the
/// event's own time: a room's wall time is fixed at the room's start and advanced by the
/// monotonic clock, so after the system clock steps back it runs ahead, and due times taken from
/// it would wait out the step.
pub(super) fn queue(tx: &rusqlite::Transaction<'_>, app_id: &str, event: &WebhookEvent) -> StoreResult<usize> {
    let (name, body, now_ms) = (event.kind.as_str(), event.payload.to_string(), now_ms());
    let hooks: Vec<(String, String, String)> = {
        let mut stmt = tx.prepare("SELECT id, url, events FROM webhooks WHERE app_id = ?1 AND enabled = 1")?;
        let rows = stmt.query_map([app_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
        rows
    };
    let targets: Vec<(String, String)> =
        hooks.into_iter().filter(|(_, _, events)| subscribes(events, name)).map(|(id, url, _)| (id, url)).collect();
    let created = now_rfc3339();
    for (webhook_id, url) in &targets {
        tx.execute(
            "INSERT INTO outbox (uuid, webhook_id, url, body, next_attempt_ms, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            params![uuid::Uuid::new_v4().to_string(), webhook_id, url, body, now_ms, created],
        )?;
    }
    Ok(targets.len())
}

impl Sqlite {
    /// Queues one event for every enabled webhook of the app that subscribes to it, in one
    /// transaction. Returns how many deliveries were queued.
    pub(crate) fn enqueue_webhook_event(&self, app_id: &str, event: &WebhookEvent) -> StoreResult<usize> {
        self.tx(|tx| queue(tx, app_id, event))
    }

    /// The oldest due pending delivery of each enabled webhook (at most `limit` webhooks), so
    /// that one webhook's backlog never hides another's events.
    pub(crate) fn due_per_webhook(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        let conn = self.lock();
        // Deliveries go to the webhook's current URL, so fixing a URL also fixes the backlog.
        let mut stmt = conn.prepare(
            "SELECT o.id, o.uuid, o.webhook_id, w.url, o.body, o.attempts
             FROM outbox o JOIN webhooks w ON w.id = o.webhook_id AND w.enabled = 1
             WHERE o.id IN (SELECT MIN(id) FROM outbox WHERE status = 'pending' AND next_attempt_ms <= ?1
                            GROUP BY webhook_id)
             ORDER BY o.next_attempt_ms, o.id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![now_ms, limit as i64], |r| {
                Ok(OutboxRow {
                    id: r.get(0)?,
                    uuid: r.get(1)?,
                    webhook_id: r.get(2)?,
                    url: r.get(3)?,
                    body: r.get(4)?,
                    attempts: r.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// When each enabled webhook's next pending delivery is due.
    pub(crate) fn next_due_per_webhook(&self) -> StoreResult<Vec<(String, i64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT o.webhook_id, MIN(o.next_attempt_ms)
             FROM outbox o JOIN webhooks w ON w.id = o.webhook_id AND w.enabled = 1
             WHERE o.status = 'pending' GROUP BY o.webhook_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Marks a delivery done (`delivered` or `failed`), or schedules a retry (`pending`), only
    /// while it is still pending: an attempt that was in flight when its webhook was deleted
    /// (its rows `dropped`) cannot bring the row back. Returns whether the row was updated.
    pub(crate) fn delivery_outcome(
        &self,
        id: i64,
        status: DeliveryStatus,
        next_attempt_ms: i64,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let updated = self.lock().execute(
            "UPDATE outbox SET status = ?2, attempts = attempts + 1, next_attempt_ms = ?3, last_error = ?4
             WHERE id = ?1 AND status = 'pending'",
            params![id, status.as_str(), next_attempt_ms, error],
        )?;
        Ok(updated == 1)
    }

    /// Deletes delivered, failed and dropped rows created before `cutoff` (RFC 3339, as
    /// [`super::now_rfc3339`] writes it). Returns how many.
    pub(crate) fn prune_outbox(&self, cutoff: &str) -> StoreResult<usize> {
        Ok(self.lock().execute(
            "DELETE FROM outbox WHERE status IN ('delivered', 'failed', 'dropped') AND created_at < ?1",
            [cutoff],
        )?)
    }

    /// Makes every pending delivery due at `now_ms` (an operator's "retry now"). Returns how many.
    pub(crate) fn retry_pending_now(&self, now_ms: i64) -> StoreResult<usize> {
        Ok(self.lock().execute("UPDATE outbox SET next_attempt_ms = ?1 WHERE status = 'pending'", [now_ms])?)
    }

    /// Counts deliveries by status (for tests and operators).
    pub(crate) fn outbox_counts(&self) -> StoreResult<Vec<(DeliveryStatus, u64)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status")?;
        let rows: Vec<(String, u64)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(status, n)| {
                DeliveryStatus::parse(&status).map(|s| (s, n)).ok_or(StoreError::Corrupt("outbox status", status))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use convene_room::WebhookKind;

    use super::*;

    #[test]
    fn an_event_from_a_room_whose_wall_time_runs_ahead_is_due_at_once() {
        let db = Sqlite::open(None).unwrap();
        let app = db.create_app("acct", "app").unwrap();
        db.create_webhook(&app.id, "hook", "https://example.com/hook", &["meeting.started".into()], true).unwrap();
        // The room started before the system clock stepped back an hour: its wall time is ahead.
        let an_hour_ahead = (now_ms() + 3_600_000) as u64;
        let event =
            WebhookEvent { kind: WebhookKind::MeetingStarted, payload: serde_json::json!({}), at_ms: an_hour_ahead };
        assert_eq!(db.enqueue_webhook_event(&app.id, &event).unwrap(), 1);
        let due = db.due_per_webhook(now_ms(), 10).unwrap();
        assert_eq!(due.len(), 1, "due now, not an hour from now");
    }
}
