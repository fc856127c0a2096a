//! The webhook outbox shared by the nodes of a cluster, in PostgreSQL. Each webhook's oldest
//! pending delivery is the only one that may go out (one at a time, in order, as on one node); a
//! node claims it for a while with `FOR UPDATE SKIP LOCKED` before sending, so two live nodes
//! never send it at once; a node that dies mid-delivery leaves its claim to run out, and the row
//! is then claimed again and re-sent once, with the same `rtk-uuid`. Queuing an event notifies
//! [`CHANNEL`], so delivery tasks listening there wake at once rather than at their next poll.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::GenericClient;

use crate::store::DeliveryStatus;

/// The `LISTEN`/`NOTIFY` channel of new deliveries.
pub(crate) const CHANNEL: &str = "convene_outbox";

/// A delivery a node has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimed {
    /// The row.
    pub(crate) id: i64,
    /// The event's uuid (`rtk-uuid`), the same at every attempt.
    pub(crate) uuid: String,
    /// The webhook.
    pub(crate) webhook_id: String,
    /// Where it goes.
    pub(crate) url: String,
    /// The signed body.
    pub(crate) body: String,
    /// Attempts made before this one.
    pub(crate) attempts: i32,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Queues `body` for each of `targets` (webhook id, URL), due now, and notifies the delivery
/// tasks (the notification goes out when the surrounding transaction commits). Returns the
/// uuids, one per target.
pub(crate) async fn queue(
    client: &impl GenericClient,
    targets: &[(String, String)],
    body: &str,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let mut uuids = Vec::with_capacity(targets.len());
    for (webhook_id, url) in targets {
        let uuid = uuid::Uuid::new_v4().to_string();
        client
            .execute(
                "INSERT INTO outbox (uuid, webhook_id, url, body, status, next_attempt_at)
                 VALUES ($1, $2, $3, $4, 'pending', now())",
                &[&uuid, webhook_id, url, &body],
            )
            .await?;
        uuids.push(uuid);
    }
    if !targets.is_empty() {
        client.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await?;
    }
    Ok(uuids)
}

/// Claims for `node_id`, for `lease`, up to `limit` due deliveries: of each enabled webhook its
/// oldest pending one, unless another node holds a live claim on it. A delivery goes to its
/// webhook's current URL, so fixing a URL also fixes the backlog.
pub(crate) async fn claim_due(
    client: &impl GenericClient,
    node_id: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Claimed>, tokio_postgres::Error> {
    let rows = client
        .query(
            "UPDATE outbox o SET claimed_by = $1, claim_until = now() + $2::bigint * interval '1 millisecond'
             FROM webhooks w
             WHERE w.id = o.webhook_id AND o.id IN (
                 SELECT c.id FROM outbox c JOIN webhooks cw ON cw.id = c.webhook_id AND cw.enabled
                 WHERE c.status = 'pending' AND c.next_attempt_at <= now()
                   AND (c.claim_until IS NULL OR c.claim_until < now())
                   AND c.id = (SELECT min(h.id) FROM outbox h WHERE h.webhook_id = c.webhook_id AND h.status = 'pending')
                 ORDER BY c.next_attempt_at, c.id
                 LIMIT $3
                 FOR UPDATE OF c SKIP LOCKED)
             RETURNING o.id, o.uuid, o.webhook_id, w.url, o.body, o.attempts",
            &[&node_id, &millis(lease), &limit],
        )
        .await?;
    let claimed = rows
        .iter()
        .map(|r| Claimed {
            id: r.get(0),
            uuid: r.get(1),
            webhook_id: r.get(2),
            url: r.get(3),
            body: r.get(4),
            attempts: r.get(5),
        })
        .collect();
    Ok(claimed)
}

/// Records the outcome of `node_id`'s attempt at claimed delivery `id`: `delivered` or `failed`, or
/// `pending` again, due after `retry_in`. Returns `false`, changing nothing, if the claim was no
/// longer this node's (it ran out and another node took the row; that node's attempt counts).
pub(crate) async fn finish(
    client: &impl GenericClient,
    id: i64,
    node_id: &str,
    status: DeliveryStatus,
    retry_in: Duration,
    error: Option<&str>,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE outbox SET status = $3, attempts = attempts + 1, last_error = $5,
                 next_attempt_at = now() + $4::bigint * interval '1 millisecond', claimed_by = NULL, claim_until = NULL
             WHERE id = $1 AND claimed_by = $2 AND claim_until >= now() AND status = 'pending'",
            &[&id, &node_id, &status.as_str(), &millis(retry_in), &error],
        )
        .await?;
    Ok(updated == 1)
}

/// How long the delivery task's listener waits before it connects again after losing its
/// connection (the task polls meanwhile).
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// Wakes the webhook delivery task (`wake`) at each [`CHANNEL`] notification, so that a delivery
/// any node queued goes out at once rather than at the task's next poll; listens again after a
/// lost connection, until `stopping`.
pub(crate) async fn wake_on_notify(
    url: String,
    wake: std::sync::Arc<tokio::sync::Notify>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    while !*stopping.borrow() {
        match listen(&url).await {
            Ok(mut woken) => loop {
                tokio::select! {
                    message = woken.recv() => match message {
                        Some(()) => wake.notify_one(),
                        None => break,
                    },
                    _ = stopping.changed() => return,
                }
            },
            Err(e) => tracing::warn!(error = %e, "could not listen for new webhook deliveries; polling"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RELISTEN_AFTER) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// Listens on [`CHANNEL`] on a connection of its own: a message arrives for each notification
/// (several may come as one), and the receiver ends when the connection does.
pub(crate) async fn listen(url: &str) -> Result<mpsc::Receiver<()>, tokio_postgres::Error> {
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let (wake, woken) = mpsc::channel(1);
    // The client must live as long as its connection is polled: it goes to the polling task
    // once it has said LISTEN.
    let (keep, kept) = tokio::sync::oneshot::channel::<tokio_postgres::Client>();
    tokio::spawn(async move {
        let _kept = kept;
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        loop {
            // Ends, closing the connection, once nobody takes the wake-ups any more.
            let message = tokio::select! {
                message = futures_util::StreamExt::next(&mut messages) => message,
                _ = wake.closed() => return,
            };
            let Some(message) = message else { return };
            match message {
                Ok(tokio_postgres::AsyncMessage::Notification(_)) => {
                    let _ = wake.try_send(());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the outbox listener's connection failed");
                    return;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    let _ = keep.send(client);
    Ok(woken)
}

#[cfg(test)]
mod tests;
