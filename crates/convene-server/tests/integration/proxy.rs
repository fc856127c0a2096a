//! Behind a real reverse proxy (Debian's nginx, configured as `docs/deploy.md` says): the REST
//! API and the signalling WebSocket work through it, and with `--trusted-proxy` the per-IP
//! limits count the clients nginx forwards for, not nginx. nginx reaches the server from
//! 127.0.0.3; the clients connect from 127.0.0.10 and 127.0.0.11.

use crate::support;

use std::net::IpAddr;

use convene_core::proto::{ServerMessage, SessionEvent};
use convene_server::limits::{Limits, Rate, TrustedProxies};
use support::nginx::TestNginx;
use support::{RawClient, TestServer};

const NGINX_SOURCE: [u8; 4] = [127, 0, 0, 3];

/// Each client IP may make three REST requests (and one more every 100 s).
fn three_requests_each(trusted: TrustedProxies) -> Limits {
    Limits { rest_per_ip: Some(Rate::new(3, 0.01)), trusted_proxies: trusted, ..Limits::off() }
}

/// A server with `limits` and an nginx in front of it.
async fn behind_nginx(limits: Limits) -> (TestServer, TestNginx) {
    let server = TestServer::start_config(|c| c.limits = limits).await;
    let nginx = TestNginx::start(server.server.addr, IpAddr::from(NGINX_SOURCE)).await;
    (server, nginx)
}

/// An HTTP client whose connections come from `source`.
fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from(source)).build().unwrap()
}

/// `GET /meetings` through the proxy, with a forwarding header the client wrote itself; the
/// status.
async fn list_meetings_with(s: &TestServer, nginx: &TestNginx, http: &reqwest::Client, forged: &[(&str, &str)]) -> u16 {
    let url = format!("{}/client/v4/accounts/{}/realtime/kit/{}/meetings", nginx.url(), s.account, s.app);
    let mut req = http.get(url).bearer_auth(&s.token);
    for (name, value) in forged {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap().status().as_u16()
}

/// `GET /meetings` through the proxy, optionally with a forged `X-Forwarded-For`; the status.
async fn list_meetings(s: &TestServer, nginx: &TestNginx, http: &reqwest::Client, spoof: Option<&str>) -> u16 {
    let forged: Vec<(&str, &str)> = spoof.map(|v| ("x-forwarded-for", v)).into_iter().collect();
    list_meetings_with(s, nginx, http, &forged).await
}

#[tokio::test]
async fn through_nginx_the_per_ip_limit_counts_each_client_and_cannot_be_spoofed() {
    let (s, nginx) = behind_nginx(three_requests_each("127.0.0.3".parse().unwrap())).await;
    let (a, b) = (client_from([127, 0, 0, 10]), client_from([127, 0, 0, 11]));
    for _ in 0..3 {
        assert_eq!(list_meetings(&s, &nginx, &a, None).await, 200, "{}", nginx.error_log());
    }
    assert_eq!(list_meetings(&s, &nginx, &a, None).await, 429, "a's fourth request is over a's limit");
    // A header a writes itself stays left of the address nginx saw: a is still a.
    assert_eq!(list_meetings(&s, &nginx, &a, Some("198.51.100.77")).await, 429, "a forged X-Forwarded-For");
    // Nor does a Forwarded header, which nginx passes through untouched: only X-Forwarded-For
    // (the header nginx writes) is read.
    let forged = [("forwarded", "for=198.51.100.78"), ("x-forwarded-for", "198.51.100.79, unknown")];
    assert_eq!(list_meetings_with(&s, &nginx, &a, &forged).await, 429, "a forged Forwarded");
    let garbage = [("x-forwarded-for", "unknown, _hidden, 198.51.100.80")];
    assert_eq!(list_meetings_with(&s, &nginx, &a, &garbage).await, 429, "garbage left of nginx's entry");
    // b has a budget of its own.
    for _ in 0..3 {
        assert_eq!(list_meetings(&s, &nginx, &b, None).await, 200, "b is not a");
    }
    assert_eq!(list_meetings(&s, &nginx, &b, None).await, 429);
}

#[tokio::test]
async fn without_trust_every_client_behind_nginx_shares_its_address() {
    let (s, nginx) = behind_nginx(three_requests_each(TrustedProxies::none())).await;
    let (a, b) = (client_from([127, 0, 0, 10]), client_from([127, 0, 0, 11]));
    for _ in 0..3 {
        assert_eq!(list_meetings(&s, &nginx, &a, None).await, 200);
    }
    assert_eq!(list_meetings(&s, &nginx, &b, None).await, 429, "b is counted as nginx, as a was");
    // Nor is a forwarded header believed from a peer that is not trusted.
    assert_eq!(list_meetings(&s, &nginx, &b, Some("198.51.100.78")).await, 429);
}

#[tokio::test]
async fn the_signalling_websocket_upgrades_through_nginx() {
    // One signalling connection per client IP (and one more every 100 s).
    let limits = Limits {
        joins_per_ip: Some(Rate::new(1, 0.01)),
        trusted_proxies: "127.0.0.3".parse::<TrustedProxies>().unwrap().and("127.0.0.1".parse().unwrap()),
        ..Limits::off()
    };
    let (s, nginx) = behind_nginx(limits).await;
    let meeting = s.meeting(serde_json::json!({"title": "proxied"})).await;
    let (_, host) = s.participant(&meeting, "host", "group_call_host").await;
    let (_, guest) = s.participant(&meeting, "guest", "group_call_participant").await;
    let ws_url = format!("ws://{}/v1/signal", nginx.addr);
    // The two connections come from 127.0.0.1 through nginx; each names a different client.
    let mut h = connect_as(&ws_url, &host, "192.0.2.1").await.expect("the host's upgrade");
    assert!(matches!(h.join().await, ServerMessage::Reply { .. }));
    let mut g = connect_as(&ws_url, &guest, "192.0.2.2").await.expect("the guest's upgrade");
    assert!(matches!(g.join().await, ServerMessage::Reply { .. }));
    // Frames flow both ways through the proxy: the host sees the guest arrive.
    h.until(|m| support::is_event(m, |e| matches!(e, SessionEvent::PeerJoined { .. }))).await;
    // A second connection of the host's client is over its per-IP limit: 429 at the upgrade.
    let refused = connect_as(&ws_url, &host, "192.0.2.1").await.err().expect("refused");
    assert_eq!(refused, 429);
}

/// Opens the signalling socket through a proxy that trusts this test (127.0.0.1 is trusted
/// too here) with `X-Forwarded-For: client`, and says hello; the HTTP status when refused.
async fn connect_as(url: &str, token: &str, client: &str) -> Result<RawClient, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("x-forwarded-for", client.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(RawClient::hello(ws, token).await),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("upgrade through nginx: {e}"),
    }
}
