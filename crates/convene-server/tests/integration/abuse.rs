//! Abuse limits, each tried against a real server: REST rate limits per API token and per IP
//! (429 with `Retry-After`, nothing done), the per-IP limit on signalling connections, the
//! per-connection frame rate, the cap on connections per participant, the handshake and idle
//! timeouts, and tampered, expired, forged and revoked participant tokens.

use crate::support;

use std::time::Duration;

use convene_core::proto::{ClientMessage, ServerMessage, PROTOCOL_VERSION, TOO_FAST};
use convene_server::auth::{hash_secret, now_secs};
use convene_server::limits::{Limits, Rate};
use convene_server::DataLocation;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::{error_code, fast_timings, RawClient, TestServer};
use tokio_tungstenite::tungstenite::{self, Message};

async fn limited(limits: Limits) -> TestServer {
    TestServer::start_limited(DataLocation::Memory, fast_timings(), None, limits).await
}

/// Asserts a 429 envelope; returns `Retry-After` in seconds.
async fn too_many(resp: reqwest::Response) -> u64 {
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], 429);
    assert!(body["error"]["message"].as_str().unwrap().contains("retry after"), "{body}");
    retry
}

async fn meeting_count(s: &TestServer) -> u64 {
    let (status, v) = s.api("GET", "/meetings", None).await;
    assert_eq!(status, 200, "{v}");
    v["paging"]["total_count"].as_u64().unwrap()
}

#[tokio::test]
async fn rest_requests_over_a_tokens_rate_get_429_and_change_nothing() {
    let s = limited(Limits { rest_per_token: Some(Rate::new(4, 0.5)), ..Limits::off() }).await;
    let other = "cvn_other_admin_token";
    s.server.store().insert_token(&hash_secret(other), convene_server::auth::Scope::Admin, None, None).await.unwrap();
    let http = reqwest::Client::new();
    let create = |token: &str| {
        http.post(format!("{}/meetings", s.kit()))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(json!({"title": "flood"}).to_string())
            .send()
    };
    for _ in 0..4 {
        assert_eq!(create(&s.token).await.unwrap().status().as_u16(), 201);
    }
    let retry = too_many(create(&s.token).await.unwrap()).await;
    assert!((1..=2).contains(&retry), "one token every 2 s: {retry}");
    // The refused create did nothing; another token has its own budget.
    let listed = http.get(format!("{}/meetings", s.kit())).bearer_auth(other).send().await.unwrap();
    let v: Value = serde_json::from_str(&listed.text().await.unwrap()).unwrap();
    assert_eq!(v["paging"]["total_count"], 4);
    // Requests without a token are not counted against any token (they get 401).
    let anonymous = http.get(format!("{}/meetings", s.kit())).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    // After the wait, the token may go on.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(create(&s.token).await.unwrap().status().as_u16(), 201);
}

#[tokio::test]
async fn rest_requests_over_an_ips_rate_get_429_whatever_the_token() {
    let s = limited(Limits { rest_per_ip: Some(Rate::new(3, 0.1)), ..Limits::off() }).await;
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let r = http.get(format!("{}/meetings", s.kit())).bearer_auth(&s.token).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    for token in [Some(s.token.as_str()), Some("cvn_unknown"), None] {
        let mut req = http.get(format!("{}/presets", s.kit()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let retry = too_many(req.send().await.unwrap()).await;
        assert!(retry >= 1);
    }
    // The openapi document and the participant endpoint are REST too.
    let doc = http.get(format!("{}/client/v4/openapi.json", s.url())).send().await.unwrap();
    too_many(doc).await;
}

#[tokio::test]
async fn signalling_connections_over_an_ips_rate_get_429_before_the_upgrade() {
    let s = limited(Limits { joins_per_ip: Some(Rate::new(2, 0.2)), ..Limits::off() }).await;
    let meeting = s.meeting(json!({"title": "t"})).await;
    let (_, token) = s.participant(&meeting, "a", "group_call_host").await;
    let _a = RawClient::connect(&s.ws_url(), &token).await;
    let _b = RawClient::connect(&s.ws_url(), &token).await;
    match tokio_tungstenite::connect_async(s.ws_url()).await {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429);
            let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=5).contains(&retry), "{retry}");
        }
        other => panic!("expected a 429 refusal, got {:?}", other.map(|_| "a connection")),
    }
    // REST is not affected by the signalling limit.
    assert_eq!(meeting_count(&s).await, 1);
}

#[tokio::test]
async fn commands_over_the_frame_rate_fail_with_4429_and_a_flood_is_closed() {
    let s = limited(Limits { frames_per_connection: Some(Rate::new(5, 0.0)), ..Limits::off() }).await;
    let meeting = s.meeting(json!({"title": "t"})).await;
    let (_, host) = s.participant(&meeting, "host", "group_call_host").await;
    let mut c = RawClient::connect(&s.ws_url(), &host).await;
    // The limit counts frames after hello: the join and four more pass.
    c.join().await;
    for _ in 0..4 {
        c.send(&ClientMessage::Ping {}).await;
        assert!(matches!(c.until(|m| matches!(m, ServerMessage::Pong)).await, ServerMessage::Pong));
    }
    // Over the rate: a kick-all is refused with 4429 for its request, and the session goes on.
    let refused = c.call(|req| ClientMessage::KickAll { req }).await;
    assert_eq!(error_code(&refused), Some(TOO_FAST), "{refused:?}");
    let (status, v) = s.api("GET", &format!("/meetings/{meeting}/active-session"), None).await;
    assert_eq!(status, 200, "the session is still live: {v}");
    // Past the burst of refusals in a row, the connection is closed with 1008.
    for _ in 0..6 {
        if !c.try_send(&ClientMessage::Ping {}).await {
            break;
        }
    }
    assert_eq!(c.close_code().await, Some(1008));
}

#[tokio::test]
async fn a_participant_holds_at_most_the_cap_of_connections() {
    let s = limited(Limits { connections_per_participant: Some(2), ..Limits::off() }).await;
    let meeting = s.meeting(json!({"title": "t"})).await;
    let (_, token) = s.participant(&meeting, "a", "group_call_host").await;
    let first = s.joined(&token).await;
    let _second = s.joined(&token).await;
    let refused = RawClient::connect_resume(&s.ws_url(), &token, None).await.err().expect("refused");
    assert_eq!(error_code(&refused), Some(TOO_FAST), "{refused:?}");
    // Another participant is not affected; when one connection goes, a new one is let in.
    let (_, other) = s.participant(&meeting, "b", "group_call_participant").await;
    let _b = s.joined(&other).await;
    let _ = first.drop_connection().await;
    let mut again = None;
    for _ in 0..50 {
        if let Ok(c) = RawClient::connect_resume(&s.ws_url(), &token, None).await {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a connection is let in once one closed");
}

#[tokio::test]
async fn a_connection_without_hello_is_closed_after_the_handshake_timeout() {
    let mut timings = fast_timings();
    timings.handshake_timeout = Duration::from_millis(300);
    let s = TestServer::start_limited(DataLocation::Memory, timings, None, Limits::default()).await;
    let mut ws = RawClient::open(&s.ws_url()).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed in time");
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1008),
        other => panic!("expected close 1008, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let mut timings = fast_timings();
    timings.idle_timeout = Duration::from_millis(400);
    let s = TestServer::start_limited(DataLocation::Memory, timings, None, Limits::default()).await;
    let meeting = s.meeting(json!({"title": "t"})).await;
    let (_, token) = s.participant(&meeting, "a", "group_call_host").await;
    let mut c = s.joined(&token).await;
    assert_eq!(c.close_code().await, Some(1001));
}

/// Says hello with `token`; returns the error code answered and the close code that follows.
async fn refused_hello(s: &TestServer, token: &str) -> (Option<u16>, Option<u16>) {
    let mut ws = RawClient::open(&s.ws_url()).await;
    let hello = ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: token.to_owned(), resume: None };
    ws.send(Message::Text(convene_core::proto::encode_client(&hello).into())).await.unwrap();
    let (mut code, mut close) = (None, None);
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        match m {
            Message::Text(t) => {
                let msg = convene_core::proto::decode_server(t.as_str()).unwrap();
                assert!(!matches!(msg, ServerMessage::Welcome { .. }), "token {token:.20}... was accepted");
                code = error_code(&msg);
            }
            Message::Close(frame) => {
                close = frame.map(|f| u16::from(f.code));
                break;
            }
            _ => {}
        }
    }
    (code, close)
}

#[tokio::test]
async fn tampered_expired_forged_and_revoked_participant_tokens_are_refused() {
    let s = TestServer::start().await;
    let meeting = s.meeting(json!({"title": "t"})).await;
    let (participant, token) = s.participant(&meeting, "a", "group_call_host").await;
    // Tampered: one character of the signature changed.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(refused_hello(&s, &tampered).await, (Some(4), Some(1008)));
    // Expired: issued long ago by the server's own key.
    let app = s.app.clone();
    let old = s.server.issue_participant_token(&participant, &meeting, &app, now_secs() - 10 * 365 * 86_400);
    assert_eq!(refused_hello(&s, &old).await, (Some(4), Some(1008)));
    // Forged: signed by another key.
    let forged = convene_server::auth::TokenKey::new(convene_server::auth::TokenKey::generate()).issue(
        &participant,
        &meeting,
        &app,
        now_secs(),
    );
    assert_eq!(refused_hello(&s, &forged).await, (Some(4), Some(1008)));
    // Not a token at all.
    assert_eq!(refused_hello(&s, "not.a.jwt").await, (Some(4), Some(1008)));
    // Revoked: the participant was deleted.
    let (status, _) = s.api("DELETE", &format!("/meetings/{meeting}/participants/{participant}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(refused_hello(&s, &token).await, (Some(4), Some(1008)));
    // Nothing started.
    let (status, _) = s.api("GET", &format!("/meetings/{meeting}/active-session"), None).await;
    assert_eq!(status, 404, "no session was started by a refused token");
}

#[tokio::test]
async fn a_steady_flood_above_the_rate_is_closed_even_when_some_frames_pass() {
    let s = limited(Limits { frames_per_connection: Some(Rate::new(5, 10.0)), ..Limits::off() }).await;
    let meeting = s.meeting(json!({"title": "t"})).await;
    let (_, host) = s.participant(&meeting, "host", "group_call_host").await;
    let mut c = RawClient::connect(&s.ws_url(), &host).await;
    // Four frames per refill of one: one passes and three are refused, over and over.
    for _ in 0..160 {
        if !c.try_send(&ClientMessage::Ping {}).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(c.close_code().await, Some(1008));
}
