//! Webhooks: events go into a persistent outbox (one row per subscribed webhook) in the same
//! store as everything else; a delivery task posts them, signed, retrying with backoff on 5xx and
//! network errors (not on other 4xx), and picks up where it left off after a restart.

pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use crate::store::{OutboxRow, Store};
pub use sign::Signer;

/// The webhook queue's handle.
pub struct Webhooks {
    signer: Signer,
    wake: Arc<Notify>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Webhooks {
    /// A queue signing with `signer`.
    pub fn new(signer: Signer) -> Self {
        Self { signer, wake: Arc::new(Notify::new()) }
    }

    /// The signer (for the public key endpoint).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Wakes the delivery task after the store queued deliveries itself (within another change).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Queues `event` for every enabled webhook of the app that subscribes to it.
    pub fn emit(&self, store: &Store, app_id: &str, event: &str, payload: &Value) {
        let body = payload.to_string();
        match store.enqueue_webhook_event(app_id, event, &body, now_ms()) {
            Ok(0) => {}
            Ok(n) => {
                tracing::debug!(event, deliveries = n, "webhook queued");
                self.wake.notify_one();
            }
            Err(e) => tracing::error!(error = %e, event, "could not queue a webhook"),
        }
    }

    /// Runs deliveries until the process ends.
    pub async fn deliver_forever(state: crate::state::AppState) {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client; webhooks will not be delivered");
                return;
            }
        };
        let wake = state.0.webhooks.wake.clone();
        loop {
            let due = state.store().due_deliveries(now_ms(), 32).unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read the webhook outbox");
                Vec::new()
            });
            let worked = !due.is_empty();
            for row in due {
                deliver(&state, &client, row).await;
            }
            if worked {
                continue;
            }
            let next = state.store().next_delivery_ms().ok().flatten();
            let wait = next
                .map(|t| Duration::from_millis((t - now_ms()).clamp(0, 60_000) as u64))
                .unwrap_or(Duration::from_secs(60));
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

async fn deliver(state: &crate::state::AppState, client: &reqwest::Client, row: OutboxRow) {
    let signature = state.0.webhooks.signer.sign(row.body.as_bytes());
    let response = client
        .post(&row.url)
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
    let timings = &state.0.timings;
    let retry_at = || {
        let backoff =
            timings.webhook_retry_base.saturating_mul(1u32 << row.attempts.min(16)).min(Duration::from_secs(600));
        now_ms() + backoff.as_millis() as i64
    };
    let last_attempt = row.attempts + 1 >= timings.webhook_max_attempts;
    let (status, next, error) = match response {
        Ok(r) if r.status().is_success() => ("delivered", 0, None),
        Ok(r) if r.status().is_server_error() && !last_attempt => {
            ("pending", retry_at(), Some(format!("HTTP {}", r.status())))
        }
        Ok(r) => ("failed", 0, Some(format!("HTTP {}", r.status()))),
        Err(e) if !last_attempt => ("pending", retry_at(), Some(e.to_string())),
        Err(e) => ("failed", 0, Some(e.to_string())),
    };
    tracing::debug!(uuid = %row.uuid, url = %row.url, status, ?error, "webhook delivery");
    if let Err(e) = state.store().delivery_outcome(row.id, status, next, error.as_deref()) {
        tracing::error!(error = %e, "could not record a webhook delivery");
    }
}
