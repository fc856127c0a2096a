//! The end-a-session story, on an embedded server: a host ends a meeting's session for everyone.
//!
//! Run: `cargo run --example end-session`. It prints a transcript and exits 0 only if every step
//! behaved as RealtimeKit documents it.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use convene_client::{ClientError, Event, InitOptions, Meeting, RoomState};
use futures_util::StreamExt;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::{json, Value};

/// A failed step.
struct Failure(String);

type Step<T> = Result<T, Failure>;

fn check(ok: bool, what: impl Into<String>) -> Step<()> {
    if ok {
        Ok(())
    } else {
        Err(Failure(what.into()))
    }
}

struct Story {
    started: Instant,
    base: String,
    kit: String,
    token: String,
    http: reqwest::Client,
}

impl Story {
    fn say(&self, line: impl AsRef<str>) {
        println!("[{:>5} ms] {}", self.started.elapsed().as_millis(), line.as_ref());
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Step<Value> {
        let mut req = self
            .http
            .request(method.parse().expect("method"), format!("{}{path}", self.kit))
            .header("authorization", format!("Bearer {}", self.token));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| Failure(format!("{method} {path}: {e}")))?;
        let status = resp.status();
        let v: Value = serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        check(status.is_success(), format!("{method} {path} answered {status}: {v}"))?;
        Ok(v["data"].clone())
    }

    async fn participant(&self, meeting: &str, name: &str, preset: &str) -> Step<String> {
        let body = json!({"custom_participant_id": name, "preset_name": preset, "name": name});
        let data = self.api("POST", &format!("/meetings/{meeting}/participants"), Some(body)).await?;
        Ok(data["token"].as_str().unwrap_or_default().to_owned())
    }

    async fn client(&self, token: &str) -> Step<Meeting> {
        Meeting::init(InitOptions::new(self.base.clone(), token)).await.map_err(|e| Failure(format!("init: {e}")))
    }
}

/// Waits for an event matching `pred` on a stream, for at most two seconds.
async fn wait_for(
    events: &mut (impl futures_util::Stream<Item = Event> + Unpin),
    pred: impl Fn(&Event) -> bool,
) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(e) = events.next().await {
            if pred(&e) {
                return Some(e);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// Receives webhooks on a loopback port.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let sig = headers.get("rtk-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                sink.lock().unwrap_or_else(|p| p.into_inner()).push((sig, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

fn verify(public_pem: &str, body: &str, signature_b64: &str) -> bool {
    let Ok(key) = rsa::RsaPublicKey::from_public_key_pem(public_pem) else { return false };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature_b64) else { return false };
    let Ok(sig) = Signature::try_from(bytes.as_slice()) else { return false };
    VerifyingKey::<sha2::Sha256>::new(key).verify(body.as_bytes(), &sig).is_ok()
}

async fn story() -> Step<()> {
    let started = Instant::now();
    // The webhook receiver of this story listens on loopback, so private targets are allowed.
    let mut config = convene_server::ServerConfig::ephemeral();
    config.webhooks.allow_private = true;
    let server = convene_server::start(config).await.map_err(|e| Failure(format!("server: {e}")))?;
    let base = server.url();
    let mut s = Story {
        started,
        base: base.clone(),
        kit: String::new(),
        token: server.admin_token.clone(),
        // Idle pooled connections are dropped before the server's 10 s keep-alive limit closes
        // them, so that no request is sent on a connection the server is closing.
        http: reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().expect("HTTP client"),
    };
    s.say(format!("convene-server is up at {base} (in-memory store)"));

    // The backend's side: an app, a meeting, four participants, a webhook.
    let account = "acme";
    s.kit = format!("{base}/client/v4/accounts/{account}/realtime/kit");
    let app = s.api("POST", "/apps", Some(json!({"name": "End-a-session demo"}))).await?;
    let app_id = app["app"]["id"].as_str().unwrap_or_default().to_owned();
    s.kit = format!("{base}/client/v4/accounts/{account}/realtime/kit/{app_id}");
    let meeting = s.api("POST", "/meetings", Some(json!({"title": "Quarterly review"}))).await?;
    let meeting_id = meeting["id"].as_str().unwrap_or_default().to_owned();
    s.say(format!("REST: app {app_id}, meeting \"Quarterly review\" {meeting_id}"));
    let (hook_url, hooks) = webhook_receiver().await;
    s.api(
        "POST",
        "/webhooks",
        Some(json!({"name": "Session ended webhook", "url": hook_url, "events": ["meeting.ended"]})),
    )
    .await?;
    s.say(format!("REST: webhook for meeting.ended -> {hook_url}"));
    let host_token = s.participant(&meeting_id, "Hana (host)", "group_call_host").await?;
    let mut guest_tokens = Vec::new();
    for name in ["Ada", "Bo", "Cy"] {
        guest_tokens.push((name, s.participant(&meeting_id, name, "group_call_participant").await?));
    }
    s.say("REST: added Hana with group_call_host, Ada, Bo and Cy with group_call_participant");

    // Everyone joins.
    let host = s.client(&host_token).await?;
    host.join().await.map_err(|e| Failure(format!("host join: {e}")))?;
    let mut guests = Vec::new();
    for (name, token) in &guest_tokens {
        let m = s.client(token).await?;
        let events = m.events();
        m.join().await.map_err(|e| Failure(format!("{name} join: {e}")))?;
        check(m.self_().room_state() == RoomState::Joined, format!("{name} is not joined"))?;
        guests.push((*name, m, events));
    }
    // The host hears of each arrival as an event, a moment after the guest's own join returns.
    let deadline = Instant::now() + Duration::from_secs(5);
    while host.participants().joined_count() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let session = host.meta().session_id().unwrap_or_default();
    s.say(format!("all four joined session {session}; Hana sees {} others", host.participants().joined().len()));
    check(host.participants().joined().len() == 3, "the host should see three participants")?;

    // Permissions: the documented check, and a refused kickAll().
    let can_kick = host.self_().permissions().kick_participant;
    s.say(format!(
        "meeting.self.permissions.kickParticipant: Hana {can_kick}, Ada {}",
        guests[0].1.self_().permissions().kick_participant
    ));
    check(can_kick, "the host should have kick_participant")?;
    match guests[0].1.participants().kick_all().await {
        Err(e) if e.code() == 1201 => s.say(format!("Ada tries kickAll(): refused, code {} ({e})", e.code_string())),
        other => return Err(Failure(format!("Ada's kickAll() should fail with 1201, got {other:?}"))),
    }

    // A recording runs.
    host.recording().start().await.map_err(|e| Failure(format!("recording start: {e}")))?;
    s.say(format!("Hana starts recording: recordingState {:?}", host.recording().state()));

    // Leaving is not ending.
    let (cy_name, cy, _) = guests.pop().expect("three guests");
    cy.leave().await.map_err(|e| Failure(format!("leave: {e}")))?;
    let live = s.api("GET", &format!("/meetings/{meeting_id}/active-session"), None).await?;
    s.say(format!(
        "{cy_name} calls leave(): {cy_name} is {}, the session is still {} with {} participants",
        cy.self_().room_state(),
        live["status"],
        live["live_participants"]
    ));
    check(cy.self_().room_state() == RoomState::Left && live["status"] == "LIVE", "leave() must not end the session")?;

    // The host ends the session for everyone.
    let removed = host.participants().kick_all().await.map_err(|e| Failure(format!("kickAll: {e}")))?;
    s.say(format!("Hana calls kickAll(): resolved after the server ended the session ({removed} peers removed)"));
    for (name, m, events) in guests.iter_mut() {
        let left = wait_for(events, |e| matches!(e, Event::RoomLeft { .. })).await;
        let Some(Event::RoomLeft { state }) = left else { return Err(Failure(format!("{name} got no roomLeft"))) };
        let payload = Event::RoomLeft { state: state.clone() }.payload();
        s.say(format!("{name}: roomLeft {payload}"));
        check(m.self_().room_state() == RoomState::Ended, format!("{name} should be ended"))?;
    }
    check(host.self_().room_state() == RoomState::Ended, "the host should be ended too")?;
    s.say(format!("Hana: roomState {}", host.self_().room_state()));
    match host.participants().kick_all().await {
        Err(ClientError::RoomClosed { .. }) => {
            s.say("Hana's client refuses further commands (4501): create a new client to rejoin")
        }
        other => return Err(Failure(format!("a command after the end should fail, got {other:?}"))),
    }

    // The backend's view.
    let sessions = s.api("GET", &format!("/sessions?associated_id={meeting_id}"), None).await?;
    let first = &sessions["sessions"][0];
    s.say(format!("REST: session {} is {} ({})", first["id"], first["status"], first["end_reason"]));
    check(
        first["status"] == "ENDED" && first["end_reason"] == "HOST_ENDED_MEETING",
        "the session should be ENDED by the host",
    )?;
    let recordings = s.api("GET", "/recordings", None).await?;
    let rec = &recordings[0];
    s.say(format!("REST: recording {} is {}, stop_reason {}", rec["id"], rec["status"], rec["stop_reason"]));
    check(rec["status"] == "UPLOADED", "the recording should be stopped and uploaded")?;

    // The webhook.
    let key =
        s.http.get(format!("{base}/.well-known/webhooks.json")).send().await.map_err(|e| Failure(e.to_string()))?;
    let key: Value = serde_json::from_str(&key.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    let public_pem = key["data"]["publicKey"].as_str().unwrap_or_default().to_owned();
    let mut delivered = None;
    for _ in 0..100 {
        if let Some(d) = hooks.lock().unwrap_or_else(|p| p.into_inner()).first().cloned() {
            delivered = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (signature, body) = delivered.ok_or_else(|| Failure("no meeting.ended webhook arrived".into()))?;
    let payload: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let verified = verify(&public_pem, &body, &signature);
    s.say(format!(
        "webhook {} reason {} arrived; rtk-signature verified with /.well-known/webhooks.json: {verified}",
        payload["event"], payload["reason"]
    ));
    check(
        verified && payload["event"] == "meeting.ended" && payload["reason"] == "HOST_ENDED_MEETING",
        "a signed meeting.ended webhook",
    )?;

    // Disable the meeting: no new session.
    s.api("PATCH", &format!("/meetings/{meeting_id}"), Some(json!({"status": "INACTIVE"}))).await?;
    let again = s.client(&guest_tokens[0].1).await?;
    match again.join().await {
        Err(e) if e.code() == 2 => {
            s.say(format!("meeting set INACTIVE; Ada tries to rejoin: refused, code {} ({e})", e.code_string()))
        }
        other => return Err(Failure(format!("a join into an INACTIVE meeting should fail with 0002, got {other:?}"))),
    }
    check(again.self_().room_state() == RoomState::Init, "a refused join leaves the client in init")?;

    // And enable it again: a new session.
    s.api("PATCH", &format!("/meetings/{meeting_id}"), Some(json!({"status": "ACTIVE"}))).await?;
    again.join().await.map_err(|e| Failure(format!("rejoin: {e}")))?;
    let new_session = again.meta().session_id().unwrap_or_default();
    s.say(format!("meeting set ACTIVE; Ada rejoins: {}, new session {new_session}", again.self_().room_state()));
    check(!new_session.is_empty() && new_session != session, "a rejoin after the end starts a new session")?;
    again.leave().await.map_err(|e| Failure(format!("leave: {e}")))?;
    server.shutdown().await;
    s.say(format!("done in {} ms: every step behaved", started.elapsed().as_millis()));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match story().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(what)) => {
            eprintln!("FAILED: {what}");
            ExitCode::FAILURE
        }
    }
}
