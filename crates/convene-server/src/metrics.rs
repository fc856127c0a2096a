//! `GET /metrics`: the server's counters in the OpenMetrics text format (which Prometheus
//! scrapes), served only on `--metrics-listen` (`ServerConfig::metrics_listen`), never on the
//! public listener.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `convene_live_rooms` | gauge | meetings whose room runs on this node |
//! | `convene_live_sessions` | gauge | sessions `LIVE` in the store (every node's, in a cluster) |
//! | `convene_connected_peers` | gauge | signalling connections attached to a room |
//! | `convene_frames_in_total` | counter | `kind`: the client message's `type`, or `malformed` |
//! | `convene_frames_out_total` | counter | `kind`: the server message's `type` or event, per recipient, as the rooms queue them (not the handshake's refusals) |
//! | `convene_rest_requests_total` | counter | `method` (`GET` ... `OPTIONS`, else `other`), `route` (the path template, or `unmatched`), `status` |
//! | `convene_rest_request_duration_seconds` | histogram | `route` |
//! | `convene_webhook_deliveries_total` | counter | `outcome`: `delivered`, `retrying`, `failed` |
//! | `convene_webhook_outbox_pending` | gauge | deliveries waiting |
//! | `convene_webhook_outbox_oldest_age_seconds` | gauge | how long the oldest has waited (0 when none) |
//! | `convene_rate_limited_total` | counter | `limit`: `rest_per_ip`, `rest_per_token`, `joins_per_ip`, `frames_per_connection`, `connections_per_participant`, `connections_per_ip`, `connections_total` |
//! | `convene_store_room_writes_duration_seconds` | histogram | a room turn's writes, from submission to applied |

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request as AxumRequest, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::state::AppState;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `kind`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Kind {
    kind: &'static str,
}

/// `method`, `route`, `status`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Request {
    method: String,
    route: String,
    status: u16,
}

/// `route`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Route {
    route: String,
}

/// `outcome`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    outcome: &'static str,
}

/// `limit`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Limit {
    limit: &'static str,
}

/// A latency histogram: 1 ms to about 16 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

type Latencies<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric, registered once; cheap to update from any task.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    live_rooms: Gauge,
    live_sessions: Gauge,
    outbox_pending: Gauge,
    outbox_oldest_age: Gauge<f64, AtomicU64>,
    connected_peers: Gauge,
    frames_in: Family<Kind, Counter>,
    frames_out: Family<Kind, Counter>,
    rest_requests: Family<Request, Counter>,
    rest_duration: Latencies<Route>,
    webhook_deliveries: Family<Outcome, Counter>,
    rate_limited: Family<Limit, Counter>,
    store_room_writes: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric at zero.
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("convene"),
            live_rooms: Gauge::default(),
            live_sessions: Gauge::default(),
            outbox_pending: Gauge::default(),
            outbox_oldest_age: Gauge::default(),
            connected_peers: Gauge::default(),
            frames_in: Family::default(),
            frames_out: Family::default(),
            rest_requests: Family::default(),
            rest_duration: Family::new_with_constructor(latency),
            webhook_deliveries: Family::default(),
            rate_limited: Family::default(),
            store_room_writes: latency(),
        };
        let r = &mut m.registry;
        r.register("live_rooms", "Meetings whose room runs on this node", m.live_rooms.clone());
        r.register("live_sessions", "Sessions LIVE in the store", m.live_sessions.clone());
        r.register("connected_peers", "Signalling connections attached to a room", m.connected_peers.clone());
        r.register("frames_in", "Frames received from clients, by message type", m.frames_in.clone());
        r.register("frames_out", "Frames the rooms queued to clients, by message type or event", m.frames_out.clone());
        r.register("rest_requests", "REST requests answered", m.rest_requests.clone());
        r.register("rest_request_duration_seconds", "REST request latency", m.rest_duration.clone());
        r.register("webhook_deliveries", "Webhook delivery attempts, by outcome", m.webhook_deliveries.clone());
        r.register("webhook_outbox_pending", "Webhook deliveries waiting in the outbox", m.outbox_pending.clone());
        r.register(
            "webhook_outbox_oldest_age_seconds",
            "How long the oldest waiting webhook delivery has waited",
            m.outbox_oldest_age.clone(),
        );
        r.register("rate_limited", "Requests, connections and frames refused by a limit", m.rate_limited.clone());
        r.register(
            "store_room_writes_duration_seconds",
            "A room turn's store writes, from submission to applied",
            m.store_room_writes.clone(),
        );
        m
    }

    /// A client frame received (`None`: it did not decode).
    pub(crate) fn frame_in(&self, kind: Option<&'static str>) {
        self.frames_in.get_or_create(&Kind { kind: kind.unwrap_or("malformed") }).inc();
    }

    /// `count` frames of `kind` queued to clients.
    pub(crate) fn frames_out(&self, kind: &'static str, count: usize) {
        self.frames_out.get_or_create(&Kind { kind }).inc_by(count as u64);
    }

    /// A connection attached to a room; the count drops when the guard does.
    pub(crate) fn peer_connected(self: &Arc<Self>) -> PeerGuard {
        self.connected_peers.inc();
        PeerGuard(self.clone())
    }

    /// A REST request answered.
    pub(crate) fn rest(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.rest_duration.get_or_create(&Route { route: route.clone() }).observe(seconds);
        self.rest_requests.get_or_create(&Request { method, route, status }).inc();
    }

    /// A webhook delivery attempt's outcome: `delivered`, `retrying` or `failed`.
    pub(crate) fn webhook_delivery(&self, outcome: &'static str) {
        self.webhook_deliveries.get_or_create(&Outcome { outcome }).inc();
    }

    /// A refusal by the limit named `limit` (a [`crate::limits::Limits`] field's name).
    pub(crate) fn rate_limited(&self, limit: &'static str) {
        self.rate_limited.get_or_create(&Limit { limit }).inc();
    }

    /// A room turn's writes took `seconds`.
    pub(crate) fn room_writes(&self, seconds: f64) {
        self.store_room_writes.observe(seconds);
    }

    /// The text of a scrape, with the gauges read now.
    pub(crate) fn render(&self, live_rooms: usize, store: Option<crate::store::StoreGauges>) -> String {
        self.live_rooms.set(i64::try_from(live_rooms).unwrap_or(i64::MAX));
        if let Some(g) = store {
            self.live_sessions.set(i64::try_from(g.live_sessions).unwrap_or(i64::MAX));
            self.outbox_pending.set(i64::try_from(g.outbox_pending).unwrap_or(i64::MAX));
            self.outbox_oldest_age.set(g.outbox_oldest_age.map_or(0.0, |d| d.as_secs_f64()));
        }
        let mut text = String::new();
        // Writing to a `String` cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// `GET /metrics` (on the metrics listener only).
pub(crate) async fn serve(State(state): State<AppState>) -> Response {
    let store = match tokio::time::timeout(crate::health::CHECK_TIMEOUT, state.store().gauges()).await {
        Ok(Ok(g)) => Some(g),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: the store's gauges could not be read");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the store's gauges took too long; left as they were");
            None
        }
    };
    let text = state.0.metrics.render(state.0.rooms.live_count(), store);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// OpenMetrics text, as `prometheus-client` encodes it.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Middleware on the REST API: each request gets an id (a `request_id` field on every log line
/// written while it runs, and the `x-request-id` answer header), and is counted by route and
/// status with its latency.
pub(crate) async fn rest_requests(State(metrics): State<Arc<Metrics>>, req: AxumRequest, next: Next) -> Response {
    let started = std::time::Instant::now();
    // Any token is a method to HTTP; the label keeps the standard ones only.
    let method = match *req.method() {
        Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE => req.method().as_str(),
        Method::HEAD | Method::OPTIONS => req.method().as_str(),
        _ => "other",
    }
    .to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("rest", request_id = %request_id, %method, %route);
    let mut response = async {
        let response = next.run(req).await;
        let status = response.status().as_u16();
        tracing::debug!(status, elapsed_ms = started.elapsed().as_millis() as u64, "answered");
        response
    }
    .instrument(span)
    .await;
    metrics.rest(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// One attached connection in `convene_connected_peers`.
#[derive(Debug)]
pub(crate) struct PeerGuard(Arc<Metrics>);

impl Drop for PeerGuard {
    fn drop(&mut self) {
        self.0.connected_peers.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_shows_what_was_counted() {
        let m = Arc::new(Metrics::new());
        m.frame_in(Some("join"));
        m.frame_in(None);
        m.frames_out("peer_joined", 3);
        let guard = m.peer_connected();
        m.rest("GET", "/meetings", 200, 0.004);
        m.rate_limited("rest_per_ip");
        let gauges = crate::store::StoreGauges {
            live_sessions: 2,
            outbox_pending: 1,
            outbox_oldest_age: Some(std::time::Duration::from_millis(1500)),
        };
        let text = m.render(4, Some(gauges));
        for line in [
            "convene_frames_in_total{kind=\"join\"} 1",
            "convene_frames_in_total{kind=\"malformed\"} 1",
            "convene_frames_out_total{kind=\"peer_joined\"} 3",
            "convene_connected_peers 1",
            "convene_rest_requests_total{method=\"GET\",route=\"/meetings\",status=\"200\"} 1",
            "convene_rest_request_duration_seconds_count{route=\"/meetings\"} 1",
            "convene_rate_limited_total{limit=\"rest_per_ip\"} 1",
            "convene_live_rooms 4",
            "convene_live_sessions 2",
            "convene_webhook_outbox_pending 1",
            "convene_webhook_outbox_oldest_age_seconds 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
        drop(guard);
        assert!(m.render(0, None).lines().any(|l| l == "convene_connected_peers 0"));
    }
}
