//! Probes for load balancers and orchestrators, without a token:
//!
//! - `GET /healthz`: the process serves HTTP (`200 {"status":"alive"}`), outside the rate limits;
//! - `GET /readyz`: it can do its work: the store answers a query, and in cluster mode Redis
//!   answers `PING` and the node's lease holds. `200 {"status":"ready","checks":{...}}` with each
//!   check `"ok"`, or `503` with `"status":"not_ready"` and the failed checks `"failed"` (their
//!   reasons are logged); on the metrics listener the reasons are in the answer too. On the
//!   public listener it counts against the per-IP REST limit, since each probe queries the store.
//!   A server told to stop answers `503` for as long as it still answers. Each check gives up
//!   after [`CHECK_TIMEOUT`].

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::state::AppState;

/// How long one readiness check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`.
pub(crate) async fn healthz() -> Response {
    Json(json!({ "status": "alive" })).into_response()
}

/// `"ok"`, or why not.
async fn check<E: std::fmt::Display>(probe: impl std::future::Future<Output = Result<(), E>>) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// `GET /readyz` on the public listener: which checks failed, not why.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    readiness(&state, false).await
}

/// `GET /readyz` on the metrics listener: the failed checks' reasons too.
pub(crate) async fn readyz_detailed(State(state): State<AppState>) -> Response {
    readiness(&state, true).await
}

async fn readiness(state: &AppState, detailed: bool) -> Response {
    let mut checks = Map::new();
    let mut ready = true;
    let mut record = |name: &str, outcome: Result<(), String>| {
        ready &= outcome.is_ok();
        let word = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(reason) => {
                tracing::warn!(check = name, %reason, "not ready");
                if detailed {
                    reason
                } else {
                    "failed".to_owned()
                }
            }
        };
        checks.insert(name.to_owned(), Value::String(word));
    };
    record("store", check(state.store().ping()).await);
    if let Some(node) = &state.0.cluster {
        record("redis", check(node.ping_redis()).await);
        record("lease", if node.holds() { Ok(()) } else { Err("the node's lease does not hold".into()) });
    }
    if *state.0.stopping.borrow() {
        record("stopping", Err("the server is stopping".into()));
    }
    let (status, word) = if ready { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "not_ready") };
    (status, Json(json!({ "status": word, "checks": checks }))).into_response()
}
