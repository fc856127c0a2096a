//! Webhook delivery to a local receiver: payloads, signatures verified with an independent RSA
//! implementation (the `openssl` command), retries on 5xx, none on other 4xx, stable `rtk-uuid`
//! across retries, and delivery of what was queued before a restart.

use crate::support;

use std::collections::VecDeque;

use convene_server::store::{DeliveryStatus, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use convene_core::proto::{ClientMessage, ServerMessage, SessionEvent};
use convene_server::DataLocation;
use serde_json::{json, Value};
use support::{fast_timings, TestServer};

#[derive(Clone, Debug)]
struct Delivery {
    headers: HeaderMap,
    body: String,
}

/// A webhook receiver answering with scripted statuses (200 once the script runs out).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> (Self, String) {
        let r = Receiver::default();
        r.script.lock().unwrap().extend(script);
        let state = r.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push(Delivery { headers, body });
                    let code = state.script.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(code).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        for _ in 0..200 {
            let got = self.deliveries();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} deliveries, got {:?}", self.deliveries());
    }
}

fn header(d: &Delivery, name: &str) -> String {
    d.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Verifies `rtk-signature` over the raw body with the `openssl` command and the published key.
fn openssl_verifies(public_pem: &str, body: &str, signature_b64: &str) -> bool {
    use base64::Engine;
    let dir = std::env::temp_dir().join(format!("convene-sig-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let sig = base64::engine::general_purpose::STANDARD.decode(signature_b64).expect("base64 signature");
    std::fs::write(dir.join("pub.pem"), public_pem).unwrap();
    std::fs::write(dir.join("body"), body).unwrap();
    std::fs::write(dir.join("sig"), sig).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "body"])
        .current_dir(&dir)
        .output()
        .expect("openssl runs");
    std::fs::remove_dir_all(&dir).unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

async fn public_key(s: &TestServer) -> String {
    let (status, v) = s.api("GET", "/.well-known/webhooks.json", None).await;
    assert_eq!(status, 200);
    v["data"]["publicKey"].as_str().unwrap().to_owned()
}

async fn register(s: &TestServer, url: &str, events: &[&str]) -> String {
    let (status, v) = s.api("POST", "/webhooks", Some(json!({"name": "test", "url": url, "events": events}))).await;
    assert_eq!(status, 201, "{v}");
    v["data"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_story_is_delivered_signed() {
    let s = TestServer::start().await;
    let (rx, url) = Receiver::start(&[]).await;
    let hook = register(
        &s,
        &url,
        &[
            "meeting.started",
            "meeting.ended",
            "meeting.participantJoined",
            "meeting.participantLeft",
            "recording.statusUpdate",
        ],
    )
    .await;
    let m = s.meeting(json!({"title": "Board"})).await;
    let (_, host_token) = s.participant(&m, "host", "group_call_host").await;
    let (_, bob_token) = s.participant(&m, "bob", "group_call_participant").await;
    let mut host = s.joined(&host_token).await;
    let mut bob = s.joined(&bob_token).await;
    bob.call(|req| ClientMessage::Leave { req }).await;
    host.call(|req| ClientMessage::StartRecording { req, allow_multiple: false }).await;
    host.call(|req| ClientMessage::KickAll { req }).await;
    let got = rx.wait_for(9).await;
    let events: Vec<String> = got
        .iter()
        .map(|d| serde_json::from_str::<Value>(&d.body).unwrap()["event"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "meeting.started",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "recording.statusUpdate",
        "meeting.ended",
    ] {
        assert!(events.iter().any(|e| e == expected), "{expected} missing from {events:?}");
    }
    let key = public_key(&s).await;
    for d in &got {
        assert_eq!(header(d, "rtk-webhook-id"), hook);
        assert!(!header(d, "rtk-uuid").is_empty());
        assert!(openssl_verifies(&key, &d.body, &header(d, "rtk-signature")), "signature of {}", d.body);
        assert!(!openssl_verifies(&key, &format!("{} ", d.body), &header(d, "rtk-signature")), "a changed body fails");
    }
    let uuids: std::collections::BTreeSet<String> = got.iter().map(|d| header(d, "rtk-uuid")).collect();
    assert_eq!(uuids.len(), got.len(), "one rtk-uuid per event");
    let ended: Value = got
        .iter()
        .map(|d| serde_json::from_str::<Value>(&d.body).unwrap())
        .find(|v| v["event"] == "meeting.ended")
        .unwrap();
    assert_eq!(ended["reason"], "HOST_ENDED_MEETING");
    assert_eq!(ended["meeting"]["id"], m.as_str());
    assert_eq!(ended["meeting"]["title"], "Board");
    assert!(ended["meeting"]["endedAt"].is_string());
    assert!(ended["meeting"]["sessionId"].is_string());
    let statuses: Vec<String> = got
        .iter()
        .map(|d| serde_json::from_str::<Value>(&d.body).unwrap())
        .filter(|v| v["event"] == "recording.statusUpdate")
        .map(|v| v["recording"]["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["INVOKED", "RECORDING", "UPLOADING", "UPLOADED"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_subscribed_events_are_sent_and_5xx_is_retried_with_the_same_uuid() {
    let s = TestServer::start().await;
    let (rx, url) = Receiver::start(&[500, 503]).await;
    register(&s, &url, &["meeting.ended"]).await;
    let m = s.meeting(json!({})).await;
    let (_, t) = s.participant(&m, "host", "group_call_host").await;
    let mut c = s.joined(&t).await;
    let (status, _) = s.api("POST", &format!("/meetings/{m}/active-session/kick-all"), None).await;
    assert_eq!(status, 200);
    let got = rx.wait_for(3).await;
    assert!(got.iter().all(|d| d.body.contains("\"meeting.ended\"")), "only meeting.ended");
    let uuids: std::collections::BTreeSet<String> = got.iter().map(|d| header(d, "rtk-uuid")).collect();
    assert_eq!(uuids.len(), 1, "the same delivery three times");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.deliveries().len(), 3, "no more after the 200");
    let counts = s.server.store().outbox_counts().await.unwrap();
    assert_eq!(counts, vec![(DeliveryStatus::Delivered, 1)]);
    assert!(matches!(
        c.until(|m| matches!(m, ServerMessage::Event { event: SessionEvent::SessionEnded { .. }, .. })).await,
        ServerMessage::Event { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_not_retried() {
    let s = TestServer::start().await;
    let (rx, url) = Receiver::start(&[400]).await;
    register(&s, &url, &["meeting.started"]).await;
    let m = s.meeting(json!({})).await;
    let (_, t) = s.participant(&m, "host", "group_call_host").await;
    let _c = s.joined(&t).await;
    rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.deliveries().len(), 1);
    assert_eq!(s.server.store().outbox_counts().await.unwrap(), vec![(DeliveryStatus::Failed, 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_queued_before_a_restart_is_delivered_after_it() {
    let dir = std::env::temp_dir().join(format!("convene-restart-{}", uuid::Uuid::new_v4()));
    let admin = "cvn_test_admin_token_0123456789abcdef";
    // First run: the receiver is down (connection refused), so the delivery waits in the outbox.
    let mut timings = fast_timings();
    timings.webhook_retry_base = Duration::from_secs(3600);
    let s = TestServer::start_with(DataLocation::Dir(dir.clone()), timings, Some(admin)).await;
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        format!("http://{addr}/hook")
    };
    let hook = register(&s, &dead, &["meeting.started"]).await;
    let m = s.meeting(json!({})).await;
    let (_, t) = s.participant(&m, "host", "group_call_host").await;
    let _c = s.joined(&t).await;
    for _ in 0..100 {
        if s.server.store().outbox_counts().await.unwrap().iter().any(|(st, _)| *st == DeliveryStatus::Pending) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let key_before = public_key(&s).await;
    let app = s.app.clone();
    s.server.shutdown().await;
    // Point the webhook at a live receiver and make the retry due, as if time had passed.
    let (rx, url) = Receiver::start(&[]).await;
    {
        let store = convene_server::store::SqliteStore::open(Some(&dir.join("convene.db"))).unwrap();
        let mut w = store.get_webhook(&app, &hook).await.unwrap().unwrap();
        w.url = url.clone();
        store.update_webhook(&app, &w).await.unwrap();
        assert_eq!(store.retry_pending_now(0).await.unwrap(), 1);
    }
    let s2 = TestServer::start_with(DataLocation::Dir(dir.clone()), fast_timings(), Some(admin)).await;
    let got = rx.wait_for(1).await;
    assert!(got[0].body.contains("meeting.started"));
    assert_eq!(public_key(&s2).await, key_before, "the key pair survives the restart");
    assert!(openssl_verifies(&key_before, &got[0].body, &header(&got[0], "rtk-signature")));
    s2.server.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
