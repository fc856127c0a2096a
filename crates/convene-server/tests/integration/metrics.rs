//! `GET /metrics` on `--metrics-listen` only: scraped before and after real traffic (REST calls,
//! two clients joining over the socket, a webhook delivered and one answered 500, a request over
//! the per-IP limit), the counters and gauges move as they should.

use crate::support;

use std::time::{Duration, Instant};

use convene_core::proto::ClientMessage;
use convene_server::limits::{Limits, Rate};
use serde_json::json;
use support::hooks::{Answer, Hook};
use support::TestServer;

/// The value of the sample `series` (metric name and labels, exactly as written), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(s: &TestServer) -> String {
    let addr = s.server.metrics_addr.expect("a metrics listener");
    let resp = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

/// Scrapes until `series` reads `want`, for up to five seconds.
async fn until(s: &TestServer, series: &str, want: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(s).await;
        if sample(&text, series) == Some(want) {
            return text;
        }
        assert!(Instant::now() < deadline, "{series} is not {want}:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_counters_move_with_real_traffic_and_only_the_metrics_listener_serves_them() {
    let limits = Limits { rest_per_ip: Some(Rate::new(40, 0.01)), ..Limits::off() };
    let s = TestServer::start_config(|c| {
        c.limits = limits;
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let public = reqwest::get(format!("{}/metrics", s.url())).await.unwrap();
    assert_eq!(public.status(), 404, "not on the public listener");
    let before = scrape(&s).await;
    assert_eq!(sample(&before, "convene_connected_peers"), Some(0.0));
    assert_eq!(sample(&before, "convene_live_rooms"), Some(0.0));

    // A webhook that answers 500 once, then 200: one retry, then delivered.
    let hook = Hook::start(vec![Answer::Status(500)]).await;
    let body = json!({"name": "m", "url": hook.url, "events": ["meeting.participantJoined"]});
    assert_eq!(s.api("POST", "/webhooks", Some(body)).await.0, 201);
    let meeting = s.meeting(json!({"title": "counted"})).await;
    let (_, host) = s.participant(&meeting, "host", "group_call_host").await;
    let (_, guest) = s.participant(&meeting, "guest", "group_call_participant").await;
    let mut h = s.joined(&host).await;
    let g = s.joined(&guest).await;
    h.send(&ClientMessage::Ping {}).await;

    let text = until(&s, "convene_connected_peers", 2.0).await;
    assert_eq!(sample(&text, "convene_live_rooms"), Some(1.0));
    assert_eq!(sample(&text, "convene_live_sessions"), Some(1.0));
    assert_eq!(sample(&text, "convene_frames_in_total{kind=\"hello\"}"), Some(2.0));
    assert_eq!(sample(&text, "convene_frames_in_total{kind=\"join\"}"), Some(2.0));
    assert!(sample(&text, "convene_frames_out_total{kind=\"welcome\"}") >= Some(2.0), "{text}");
    assert!(sample(&text, "convene_frames_out_total{kind=\"peer_joined\"}") >= Some(1.0), "{text}");
    let route = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings";
    let created = format!("convene_rest_requests_total{{method=\"POST\",route=\"{route}\",status=\"201\"}}");
    assert_eq!(sample(&text, &created), Some(1.0), "{text}");
    let latency = format!("convene_rest_request_duration_seconds_count{{route=\"{route}\"}}");
    assert!(sample(&text, &latency) >= Some(1.0), "{text}");
    assert!(sample(&text, "convene_store_room_writes_duration_seconds_count") > Some(0.0), "{text}");

    // Two joins: two deliveries, the first tried twice.
    let text = until(&s, "convene_webhook_deliveries_total{outcome=\"delivered\"}", 2.0).await;
    assert_eq!(sample(&text, "convene_webhook_deliveries_total{outcome=\"retrying\"}"), Some(1.0));
    assert_eq!(sample(&text, "convene_webhook_outbox_pending"), Some(0.0));
    assert_eq!(sample(&text, "convene_webhook_outbox_oldest_age_seconds"), Some(0.0));

    // Over the per-IP limit: counted by the limit's name.
    let http = reqwest::Client::new();
    let mut refused = 0;
    for _ in 0..45 {
        let r = http.get(format!("{}/presets", s.kit())).bearer_auth(&s.token).send().await.unwrap();
        refused += usize::from(r.status() == 429);
    }
    assert!(refused > 0);
    let text = scrape(&s).await;
    assert_eq!(sample(&text, "convene_rate_limited_total{limit=\"rest_per_ip\"}"), Some(refused as f64), "{text}");

    let _ = h.drop_connection().await;
    let _ = g.drop_connection().await;
    until(&s, "convene_connected_peers", 0.0).await;
}
