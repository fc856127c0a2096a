//! Security review, HTTP holes, each tried against a real server: the per-token rate limit reads
//! the token as authentication does (11).

use crate::support;

use convene_server::limits::{Limits, Rate};
use convene_server::DataLocation;
use support::{fast_timings, TestServer};

#[tokio::test]
async fn every_spelling_of_one_token_draws_on_the_same_rate_limit_bucket() {
    let limits = Limits { rest_per_token: Some(Rate::new(3, 0.0)), ..Limits::off() };
    let s = TestServer::start_limited(DataLocation::Memory, fast_timings(), None, limits).await;
    let http = reqwest::Client::new();
    let url = format!("{}/meetings", s.kit());
    let spellings = [format!("Bearer {}", s.token), format!("bearer {}", s.token), format!("BEARER   {} ", s.token)];
    for header in &spellings {
        let r = http.get(&url).header("authorization", header).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{header:?} authenticates");
    }
    for header in &spellings {
        let r = http.get(&url).header("authorization", header).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 429, "{header:?} counts against the same bucket");
    }
}

#[tokio::test]
async fn a_token_of_one_account_cannot_reach_another_accounts_apps() {
    let s = support::TestServer::start().await;
    let store = s.server.store();
    let acme_admin = "cvn_acme_admin_token_0123456789abcdef";
    store
        .insert_token(
            &convene_server::auth::hash_secret(acme_admin),
            convene_server::auth::Scope::Admin,
            Some("acme"),
            None,
        )
        .await
        .unwrap();
    let root = "/client/v4/accounts";
    // Its own account: apps are made and listed.
    let (status, v) = s
        .api_as(
            acme_admin,
            "POST",
            &format!("{root}/acme/realtime/kit/apps"),
            Some(serde_json::json!({"name": "acme app"})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let acme_app = v["data"]["app"]["id"].as_str().unwrap().to_owned();
    let (status, v) = s.api_as(acme_admin, "GET", &format!("{root}/acme/realtime/kit/{acme_app}/meetings"), None).await;
    assert_eq!(status, 200, "{v}");
    // Another account's: nothing, whatever the route.
    let local = format!("{root}/{}/realtime/kit", s.account);
    for (method, path) in [
        ("GET", format!("{local}/apps")),
        ("POST", format!("{local}/apps")),
        ("GET", format!("{local}/{}/meetings", s.app)),
        ("GET", format!("{local}/{}/presets", s.app)),
        ("GET", format!("{local}/{}/webhooks", s.app)),
    ] {
        let body = (method == "POST").then(|| serde_json::json!({"name": "intruder"}));
        let (status, v) = s.api_as(acme_admin, method, &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {v}");
    }
    // The operator's token reaches both.
    let (status, _) = s.api("GET", &format!("{root}/acme/realtime/kit/apps"), None).await;
    assert_eq!(status, 200);
    let (status, v) = s.api("GET", &format!("{local}/apps"), None).await;
    assert_eq!((status, v["paging"]["total_count"].as_u64()), (200, Some(1)), "no app was made in local");
}

mod slowloris {
    use std::time::{Duration, Instant};

    use convene_server::limits::Limits;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::support::TestServer;

    /// A server with one-second header and body timeouts.
    async fn impatient(limits: Limits) -> TestServer {
        TestServer::start_config(|c| {
            c.timings.http_header_timeout = Duration::from_secs(1);
            c.timings.http_body_timeout = Duration::from_secs(1);
            c.limits = limits;
        })
        .await
    }

    /// Reads until the server closes the connection; returns what it sent and when it closed.
    async fn until_closed(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
        let started = Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = within.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), started.elapsed()),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("still open after {within:?}; got {:?}", String::from_utf8_lossy(&got)),
            }
        }
    }

    /// A request on a new connection (the server closes idle keep-alive connections after 1 s
    /// here, so a pooled one may be closing) is answered.
    async fn still_serves(s: &TestServer) {
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let r = http.get(format!("{}/meetings", s.kit())).bearer_auth(&s.token).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "others are still served");
    }

    #[tokio::test]
    async fn idle_half_sent_and_slow_body_connections_are_closed_in_time() {
        let s = impatient(Limits::default()).await;
        let addr = s.server.addr;
        // Idle: nothing sent at all.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        // Headers never finished.
        let mut headers = TcpStream::connect(addr).await.unwrap();
        headers.write_all(b"GET /client/v4/openapi.json HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        // A body that never arrives whole.
        let mut body = TcpStream::connect(addr).await.unwrap();
        let path = format!("/client/v4/accounts/{}/realtime/kit/{}/meetings", s.account, s.app);
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\"",
            s.token
        );
        body.write_all(head.as_bytes()).await.unwrap();
        // A keep-alive connection that goes idle after one request.
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET /client/v4/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        still_serves(&s).await;
        let (_, idle_closed) = until_closed(&mut idle, Duration::from_secs(4)).await;
        let (_, headers_closed) = until_closed(&mut headers, Duration::from_secs(4)).await;
        let (answer, body_closed) = until_closed(&mut body, Duration::from_secs(4)).await;
        let (first, kept_closed) = until_closed(&mut kept, Duration::from_secs(4)).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(first.starts_with("HTTP/1.1 200"), "the kept connection was answered first: {first:.40}");
        for (what, t) in
            [("idle", idle_closed), ("headers", headers_closed), ("body", body_closed), ("kept", kept_closed)]
        {
            assert!(t < Duration::from_secs(3), "{what} closed after {t:?}");
        }
        still_serves(&s).await;
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let listed = http.get(format!("{}/meetings", s.kit())).bearer_auth(&s.token).send().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&listed.text().await.unwrap()).unwrap();
        assert_eq!(v["paging"]["total_count"].as_u64(), Some(0), "the slow create made nothing");
    }

    #[tokio::test]
    async fn connections_over_the_per_ip_cap_are_closed_at_once() {
        let s = impatient(Limits { connections_per_ip: Some(3), ..Limits::off() }).await;
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(TcpStream::connect(s.server.addr).await.unwrap());
        }
        // Give the listener a moment to count them, then the fourth is closed unread.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut fourth = TcpStream::connect(s.server.addr).await.unwrap();
        let (sent, closed) = until_closed(&mut fourth, Duration::from_millis(500)).await;
        assert!(sent.is_empty() && closed < Duration::from_millis(500));
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again = TcpStream::connect(s.server.addr).await.unwrap();
        again.write_all(b"GET /client/v4/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let (answer, _) = until_closed(&mut again, Duration::from_secs(2)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "a freed slot serves again: {answer:.40}");
    }

    #[tokio::test]
    async fn connections_over_the_total_cap_are_closed_at_once() {
        let s = impatient(Limits { connections_total: Some(2), ..Limits::off() }).await;
        let _a = TcpStream::connect(s.server.addr).await.unwrap();
        let _b = TcpStream::connect(s.server.addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut third = TcpStream::connect(s.server.addr).await.unwrap();
        let (sent, _) = until_closed(&mut third, Duration::from_millis(500)).await;
        assert!(sent.is_empty());
    }
}
