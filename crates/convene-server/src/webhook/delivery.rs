//! The delivery task: attempts run concurrently, at most [`CONCURRENCY`] at once and one at a
//! time per webhook, so a receiver that never answers holds only its own slot (for at most the
//! attempt timeout) and delays only its own events; one webhook's events go out in order. An
//! attempt's outcome is written only while its row is still pending, so a webhook deleted
//! meanwhile is never attempted again. Delivered, failed and dropped rows are pruned after the
//! retention period.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::now_ms;
use crate::state::AppState;
use crate::store::OutboxRow;

/// Attempts in flight at once, across all webhooks.
pub const CONCURRENCY: usize = 16;

/// How often finished rows past the retention period are looked for (at most).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The HTTP client of deliveries: no redirects, the attempt timeout, only addresses the target
/// policy allows, TLS with the system's roots (and the operator's extra CA, if any).
fn client(state: &AppState) -> reqwest::Result<reqwest::Client> {
    let webhooks = &state.0.webhooks;
    let timeout = state.0.timings.webhook_attempt_timeout;
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
pub async fn deliver_forever(state: AppState) {
    let client = match client(&state) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client; webhooks will not be delivered");
            return;
        }
    };
    let wake = state.0.webhooks.waker();
    let mut in_flight: JoinSet<String> = JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut pruned_at: Option<Instant> = None;
    let mut stopping = state.stopping();
    loop {
        if *stopping.borrow() {
            break;
        }
        let prune_every = PRUNE_EVERY.min(state.0.timings.outbox_retention.max(Duration::from_millis(10)));
        if pruned_at.is_none_or(|t| t.elapsed() >= prune_every) {
            prune(&state);
            pruned_at = Some(Instant::now());
        }
        if in_flight.len() < CONCURRENCY {
            let due = state.store().due_per_webhook(now_ms(), CONCURRENCY * 4).unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the webhook outbox");
                Vec::new()
            });
            for row in due {
                if in_flight.len() >= CONCURRENCY {
                    break;
                }
                if busy.insert(row.webhook_id.clone()) {
                    in_flight.spawn(attempt(state.clone(), client.clone(), row));
                }
            }
        }
        let wait = next_wait(&state, &busy).min(prune_every);
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
fn next_wait(state: &AppState, busy: &HashSet<String>) -> Duration {
    let next = state.store().next_due_per_webhook().unwrap_or_default();
    next.into_iter()
        .filter(|(webhook_id, _)| !busy.contains(webhook_id))
        .map(|(_, at)| Duration::from_millis((at - now_ms()).clamp(0, 60_000) as u64))
        .min()
        .unwrap_or(Duration::from_secs(60))
}

fn prune(state: &AppState) {
    let retention = state.0.timings.outbox_retention;
    let cutoff = time::OffsetDateTime::now_utc() - retention;
    match state.store().prune_outbox(&crate::store::rfc3339(cutoff)) {
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
async fn attempt(state: AppState, client: reqwest::Client, row: OutboxRow) -> String {
    let outcome = match state.0.webhooks.policy().check(&row.url) {
        Err(refused) => Outcome::Retry(format!("target refused: {refused}")),
        Ok(url) => post(&state, &client, url, &row).await,
    };
    let timings = &state.0.timings;
    let last_attempt = row.attempts + 1 >= timings.webhook_max_attempts;
    let (status, next, error) = match outcome {
        Outcome::Delivered => ("delivered", 0, None),
        Outcome::Retry(e) if !last_attempt => {
            let backoff =
                timings.webhook_retry_base.saturating_mul(1u32 << row.attempts.min(16)).min(Duration::from_secs(600));
            ("pending", now_ms() + backoff.as_millis() as i64, Some(e))
        }
        Outcome::Retry(e) | Outcome::Final(e) => ("failed", 0, Some(e)),
    };
    tracing::debug!(uuid = %row.uuid, url = %row.url, status, ?error, "webhook delivery");
    match state.store().delivery_outcome(row.id, status, next, error.as_deref()) {
        Ok(true) => {}
        Ok(false) => tracing::debug!(uuid = %row.uuid, "webhook deleted during its attempt; outcome dropped"),
        Err(e) => tracing::error!(error = %e, "could not record a webhook delivery"),
    }
    row.webhook_id
}

async fn post(state: &AppState, client: &reqwest::Client, url: reqwest::Url, row: &OutboxRow) -> Outcome {
    let signature = state.0.webhooks.signer().sign(row.body.as_bytes());
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
