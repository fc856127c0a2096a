//! The delivery task: attempts run concurrently, at most [`CONCURRENCY`] at once and one at a
//! time per webhook, so a receiver that never answers holds only its own slot (for at most the
//! attempt timeout) and delays only its own events; one webhook's events go out in order. An
//! attempt's outcome is written only while its row is still pending, so a webhook deleted
//! meanwhile is never attempted again. Delivered, failed and dropped rows are pruned after the
//! retention period.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{now_ms, Webhooks};
use crate::store::{DeliveryStatus, OutboxRow, Store};
use crate::timings::Timings;

/// Attempts in flight at once, across all webhooks.
pub const CONCURRENCY: usize = 16;

/// How often finished rows past the retention period are looked for (at most).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How deliveries are retried and kept (from [`Timings`]).
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// First retry delay; doubles per attempt up to ten minutes.
    pub retry_base: Duration,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
    /// How long finished deliveries are kept.
    pub retention: Duration,
}

impl From<&Timings> for DeliverySettings {
    fn from(t: &Timings) -> Self {
        Self {
            retry_base: t.webhook_retry_base,
            max_attempts: t.webhook_max_attempts,
            attempt_timeout: t.webhook_attempt_timeout,
            retention: t.outbox_retention,
        }
    }
}

/// What the delivery task uses: the outbox's store, the signer and target policy, its settings,
/// and the server's stop signal.
#[derive(Clone)]
pub struct Delivery {
    /// Where the outbox is.
    pub store: Arc<dyn Store>,
    /// Signing, target policy, extra CAs, the wake-up.
    pub webhooks: Arc<Webhooks>,
    /// Retries and retention.
    pub settings: DeliverySettings,
    /// Becomes true when the server stops.
    pub stopping: watch::Receiver<bool>,
    /// Counts the attempts' outcomes.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The HTTP client of deliveries: no redirects, the attempt timeout, only addresses the target
/// policy allows, TLS with the system's roots (and the operator's extra CA, if any).
fn client(d: &Delivery) -> reqwest::Result<reqwest::Client> {
    let webhooks = &d.webhooks;
    let timeout = d.settings.attempt_timeout;
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .dns_resolver(std::sync::Arc::new(super::target::CheckedResolver(webhooks.policy())));
    for ca in webhooks.extra_roots() {
        builder = builder.add_root_certificate(ca.clone());
    }
    builder.build()
}

/// Runs deliveries until the process ends.
pub async fn deliver_forever(d: Delivery) {
    let client = match client(&d) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client; webhooks will not be delivered");
            return;
        }
    };
    let wake = d.webhooks.waker();
    let mut in_flight: JoinSet<String> = JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut pruned_at: Option<Instant> = None;
    let mut stopping = d.stopping.clone();
    loop {
        if *stopping.borrow() {
            break;
        }
        let prune_every = PRUNE_EVERY.min(d.settings.retention.max(Duration::from_millis(10)));
        if pruned_at.is_none_or(|t| t.elapsed() >= prune_every) {
            prune(&d).await;
            pruned_at = Some(Instant::now());
        }
        if in_flight.len() < CONCURRENCY {
            let due = d.store.due_per_webhook(now_ms(), CONCURRENCY * 4).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the webhook outbox");
                Vec::new()
            });
            for row in due {
                if in_flight.len() >= CONCURRENCY {
                    break;
                }
                if busy.insert(row.webhook_id.clone()) {
                    in_flight.spawn(attempt(d.clone(), client.clone(), row));
                }
            }
        }
        let wait = next_wait(&*d.store, &busy).await.min(prune_every);
        tokio::select! {
            Some(done) = in_flight.join_next() => {
                if let Ok(webhook_id) = done {
                    busy.remove(&webhook_id);
                }
            }
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stopping.changed() => {}
        }
    }
    // Cancelled attempts leave their rows pending: they go out after the next start.
    in_flight.abort_all();
    while in_flight.join_next().await.is_some() {}
}

/// How long until a delivery of a webhook that is not busy is due (a minute at most).
async fn next_wait(store: &dyn Store, busy: &HashSet<String>) -> Duration {
    let next = store.next_due_per_webhook().await.unwrap_or_default();
    next.into_iter()
        .filter(|(webhook_id, _)| !busy.contains(webhook_id))
        .map(|(_, at)| Duration::from_millis((at - now_ms()).clamp(0, 60_000) as u64))
        .min()
        .unwrap_or(Duration::from_secs(60))
}

async fn prune(d: &Delivery) {
    let cutoff = time::OffsetDateTime::now_utc() - d.settings.retention;
    match d.store.prune_outbox(&crate::store::rfc3339(cutoff)).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(rows = n, "finished webhook deliveries pruned"),
        Err(e) => tracing::error!(error = %e, "could not prune the webhook outbox"),
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 2xx.
    Delivered,
    /// Worth trying again: 5xx, 3xx (redirects are not followed), a network error, a timeout,
    /// a target refused by the policy (DNS may change).
    Retry(String),
    /// Not worth trying again: another 4xx.
    Final(String),
}

/// One attempt of one row; returns the row's webhook id (its slot is free again).
async fn attempt(d: Delivery, client: reqwest::Client, row: OutboxRow) -> String {
    let outcome = match d.webhooks.policy().check(&row.url) {
        Err(refused) => Outcome::Retry(format!("target refused: {refused}")),
        Ok(url) => post(&d.webhooks, &client, url, &row).await,
    };
    let settings = &d.settings;
    let last_attempt = row.attempts + 1 >= settings.max_attempts;
    let (status, next, error) = match outcome {
        Outcome::Delivered => (DeliveryStatus::Delivered, 0, None),
        Outcome::Retry(e) if !last_attempt => {
            let backoff =
                settings.retry_base.saturating_mul(1u32 << row.attempts.min(16)).min(Duration::from_secs(600));
            (DeliveryStatus::Pending, now_ms() + backoff.as_millis() as i64, Some(e))
        }
        Outcome::Retry(e) | Outcome::Final(e) => (DeliveryStatus::Failed, 0, Some(e)),
    };
    d.metrics.webhook_delivery(match status {
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Pending => "retrying",
        DeliveryStatus::Failed | DeliveryStatus::Dropped => "failed",
    });
    tracing::debug!(uuid = %row.uuid, url = %row.url, status = status.as_str(), ?error, "webhook delivery");
    match d.store.delivery_outcome(row.id, status, next, error.as_deref()).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!(uuid = %row.uuid, "webhook deleted during its attempt; outcome dropped"),
        Err(e) => tracing::error!(error = %e, "could not record a webhook delivery"),
    }
    row.webhook_id
}

async fn post(webhooks: &Webhooks, client: &reqwest::Client, url: reqwest::Url, row: &OutboxRow) -> Outcome {
    let signature = webhooks.signer().sign(row.body.as_bytes());
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("rtk-signature", &signature)
        .header("rtk-uuid", &row.uuid)
        .header("rtk-webhook-id", &row.webhook_id)
        .header("dyte-signature", &signature)
        .header("dyte-uuid", &row.uuid)
        .header("dyte-webhook-id", &row.webhook_id)
        .body(row.body.clone())
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) if r.status().is_server_error() || r.status().is_redirection() => {
            Outcome::Retry(format!("HTTP {}", r.status()))
        }
        Ok(r) => Outcome::Final(format!("HTTP {}", r.status())),
        Err(e) => Outcome::Retry(convene_core::error::with_causes(&e)),
    }
}
