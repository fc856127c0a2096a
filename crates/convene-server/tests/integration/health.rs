//! `GET /healthz` and `GET /readyz`: answered without a token and outside the rate limits; in
//! cluster mode the readiness follows Redis (down: 503 naming it; back: ready again).

use crate::support;

use std::time::{Duration, Instant};

use convene_server::limits::{Limits, Rate};
use serde_json::{json, Value};
use support::TestServer;

use crate::crash::server_process::Server;
use crate::test_postgres::TestPostgres;
use crate::test_redis::TestRedis;

async fn get(base: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.text().await.unwrap()).unwrap())
}

#[tokio::test]
async fn the_probes_answer_without_a_token_and_only_readiness_is_rate_limited() {
    let limits = Limits { rest_per_ip: Some(Rate::new(2, 0.01)), ..Limits::off() };
    let s = TestServer::start_config(|c| {
        c.limits = limits;
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let private = format!("http://{}", s.server.metrics_addr.unwrap());
    let ready = json!({"status": "ready", "checks": {"store": "ok"}});
    assert_eq!(get(&s.url(), "/readyz").await, (200, ready.clone()));
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{}/meetings", s.kit())).bearer_auth(&s.token).send().await.unwrap().status(), 200);
    // The public readiness probe queries the store: it draws on the per-IP budget, now spent.
    assert_eq!(reqwest::get(format!("{}/readyz", s.url())).await.unwrap().status(), 429);
    for _ in 0..3 {
        assert_eq!(get(&s.url(), "/healthz").await, (200, json!({"status": "alive"})));
        assert_eq!(get(&private, "/healthz").await, (200, json!({"status": "alive"})));
        assert_eq!(get(&private, "/readyz").await, (200, ready.clone()));
    }
}

/// `/readyz` until `pred` holds of it, for up to `within`.
async fn readiness_until(base: &str, within: Duration, pred: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
    let deadline = Instant::now() + within;
    loop {
        let (status, v) = get(base, "/readyz").await;
        if pred(status, &v) {
            return (status, v);
        }
        assert!(Instant::now() < deadline, "readiness stayed {status} {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_cluster_node_is_not_ready_while_redis_is_down() {
    let pg = TestPostgres::start();
    let mut redis = TestRedis::start().await;
    let dir = std::env::temp_dir().join(format!("convene-health-{}", uuid::Uuid::new_v4()));
    let (pg_url, redis_url) = (pg.url(), redis.url());
    let node = Server::start_with(
        &dir,
        "127.0.0.1:0",
        &["--postgres", &pg_url, "--redis", &redis_url, "--node-id", "health-0"],
    );
    let base = format!("http://{}", node.addr);
    let ready = json!({"status": "ready", "checks": {"store": "ok", "redis": "ok", "lease": "ok"}});
    assert_eq!(get(&base, "/readyz").await, (200, ready.clone()));

    redis.stop();
    let (_, v) = readiness_until(&base, Duration::from_secs(10), |status, _| status == 503).await;
    assert_eq!(v["status"], "not_ready");
    assert_eq!(v["checks"]["store"], "ok", "{v}");
    assert_eq!(v["checks"]["redis"], "failed", "the public probe names the check, not the reason: {v}");
    assert_eq!(get(&base, "/healthz").await.0, 200, "alive all the same");

    redis.restart().await;
    let (_, v) = readiness_until(&base, Duration::from_secs(15), |status, _| status == 200).await;
    assert_eq!(v, ready);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
