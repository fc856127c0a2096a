//! End-to-end: native clients through a server restart on the same SQLite store. They see
//! `disconnected`, resume the same session when the server is back (`roomJoined { reconnected:
//! true }`), miss nothing and repeat nothing afterwards, and still end with the session.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use convene_client::{Event, InitOptions, Meeting, ReconnectPolicy, RoomState};
use convene_server::{DataLocation, ServerConfig};
use futures_util::StreamExt;
use serde_json::{json, Value};

async fn start(listen: std::net::SocketAddr, dir: &std::path::Path) -> convene_server::RunningServer {
    for _ in 0..50 {
        let config = ServerConfig {
            listen,
            data: DataLocation::Dir(dir.to_path_buf()),
            admin_token: Some("cvn_e2e_admin_token_0123456789abcdef".into()),
            webhooks: convene_server::webhook::WebhookOptions { allow_private: true, ca_file: None },
            ..ServerConfig::ephemeral()
        };
        if let Ok(s) = convene_server::start(config).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

async fn rest(kit: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{kit}{path}"))
        .header("authorization", "Bearer cvn_e2e_admin_token_0123456789abcdef");
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v["data"].clone()
}

async fn client(base: &str, token: &str) -> (Meeting, Arc<Mutex<Vec<Event>>>) {
    let mut options = InitOptions::new(base, token);
    options.reconnect =
        ReconnectPolicy { initial_delay_ms: 50, max_delay_ms: 200, max_attempts: 20, attempt_timeout_ms: 2_000 };
    let meeting = Meeting::init(options).await.unwrap();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let mut stream = meeting.events();
    tokio::spawn(async move {
        while let Some(e) = stream.next().await {
            sink.lock().unwrap().push(e);
        }
    });
    (meeting, events)
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..250 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn count(events: &Arc<Mutex<Vec<Event>>>, name: &str) -> usize {
    events.lock().unwrap().iter().filter(|e| e.name() == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_resume_the_same_session_after_a_server_restart() {
    let dir = std::env::temp_dir().join(format!("convene-e2e-{}", uuid::Uuid::new_v4()));
    let server = start("127.0.0.1:0".parse().unwrap(), &dir).await;
    let addr = server.addr;
    let base = format!("http://{addr}");
    let (account, app) = server.default_app.clone();
    let kit = format!("{base}/client/v4/accounts/{account}/realtime/kit/{app}");
    let meeting_id =
        rest(&kit, "POST", "/meetings", Some(json!({"title": "restart"}))).await["id"].as_str().unwrap().to_owned();
    let mut tokens = Vec::new();
    for (name, preset) in
        [("host", "group_call_host"), ("bob", "group_call_participant"), ("carol", "group_call_participant")]
    {
        let body = json!({"custom_participant_id": name, "preset_name": preset, "name": name});
        let p = rest(&kit, "POST", &format!("/meetings/{meeting_id}/participants"), Some(body)).await;
        tokens.push(p["token"].as_str().unwrap().to_owned());
    }
    let (host, host_events) = client(&base, &tokens[0]).await;
    let (bob, bob_events) = client(&base, &tokens[1]).await;
    host.self_().set_name("The Host").unwrap();
    host.join().await.unwrap();
    bob.join().await.unwrap();
    let session = host.meta().session_id().unwrap();

    server.shutdown().await;
    until("both disconnected", || {
        host.self_().room_state() == RoomState::Disconnected && bob.self_().room_state() == RoomState::Disconnected
    })
    .await;
    let server = start(addr, &dir).await;
    until("both resumed", || host.self_().room_joined() && bob.self_().room_joined()).await;
    assert_eq!(host.meta().session_id().unwrap(), session, "the same session");
    // The events reach the lists through a task of their own, a moment after the state changes.
    let resumed =
        |events: &Arc<Mutex<Vec<Event>>>| events.lock().unwrap().contains(&Event::RoomJoined { reconnected: true });
    until("both heard roomJoined (reconnected)", || resumed(&host_events) && resumed(&bob_events)).await;
    assert_eq!(host.participants().joined().len(), 1, "bob is still there");
    let host_seen_by_bob = bob.participants().joined().first().map(|p| p.name.clone());
    assert_eq!(host_seen_by_bob.as_deref(), Some("The Host"), "the name chosen before joining outlives a restart");
    assert_eq!(host.self_().info().name, "The Host");

    let (carol, _) = client(&base, &tokens[2]).await;
    carol.join().await.unwrap();
    until("carol seen by both", || host.participants().joined().len() == 2 && bob.participants().joined().len() == 2)
        .await;
    let removed = host.participants().kick_all().await.unwrap();
    assert_eq!(removed, 3);
    until("everyone ended", || [&host, &bob, &carol].iter().all(|m| m.self_().room_state() == RoomState::Ended)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (name, events) in [("host", &host_events), ("bob", &bob_events)] {
        assert_eq!(count(events, "participantJoined"), if name == "host" { 2 } else { 1 }, "{name}: nothing repeated");
        assert_eq!(count(events, "roomJoined"), 2, "{name}");
        assert_eq!(count(events, "roomLeft"), 2, "{name}: disconnected, then ended");
    }
    let sessions = rest(&kit, "GET", &format!("/sessions?associated_id={meeting_id}"), None).await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1, "one session throughout");
    assert_eq!(sessions["sessions"][0]["status"], "ENDED");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
