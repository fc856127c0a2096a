//! The shared scenario files (`tests/scenarios/*.json`) run by the native client against a real
//! `convene-server`, the same files the room core runs in simulated time.
//!
//! Real time differs from simulated time in two ways, handled here: expectations are checked
//! until they hold (events arrive asynchronously), and time is scaled by [`TIME_SCALE`]: `wait`
//! steps and the reconnect policy both run ten times faster, so the give-up scenario takes seconds.
//! "Server offline" stops the server (connections close, new ones are refused) and "online" starts
//! it again on the same port and data directory. A `drop` is a network outage that lasts until the
//! next `wait`, as in simulated time, where no time passes between steps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_client::{ClientError, Event, InitOptions, Meeting, Permissions, ReconnectPolicy};
use convene_core::scenario::{find_in_order, matches, resolve_aliases, Scenario, Step};
use convene_server::{DataLocation, RunningServer, ServerConfig, Timings};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// Real runs are this many times faster than the scenario's clock.
const TIME_SCALE: u64 = 10;
/// How long an expectation may take to come true.
const EVENTUALLY: Duration = Duration::from_secs(4);

struct Client {
    meeting: Meeting,
    events: Arc<Mutex<Vec<Event>>>,
    cursor: usize,
    participant_id: String,
    peer_id: Option<String>,
}

struct Run {
    server: Option<RunningServer>,
    addr: std::net::SocketAddr,
    dir: PathBuf,
    admin: String,
    kit: String,
    meeting_id: String,
    clients: BTreeMap<String, Client>,
    /// Clients in a simulated outage, released by the next `wait`.
    held: BTreeSet<String>,
    http: reqwest::Client,
}

fn timings() -> Timings {
    Timings { away_grace: Duration::from_secs(30), ..Timings::default() }
}

async fn start_server(listen: std::net::SocketAddr, dir: &std::path::Path, admin: &str) -> RunningServer {
    for _ in 0..50 {
        let config = ServerConfig {
            listen,
            data: DataLocation::Dir(dir.to_path_buf()),
            admin_token: Some(admin.to_owned()),
            timings: timings(),
            webhooks: convene_server::webhook::WebhookOptions { allow_private: true, ca_file: None },
            ..ServerConfig::ephemeral()
        };
        match convene_server::start(config).await {
            Ok(s) => return s,
            // The port can take a moment to be free again after a stop.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("the server did not start on {listen}");
}

impl Run {
    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.kit))
            .header("authorization", format!("Bearer {}", self.admin));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.expect("REST request");
        let status = resp.status().as_u16();
        (status, serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null))
    }

    fn peer_id(&self, alias: &str) -> String {
        let c = &self.clients[alias];
        c.meeting.self_().id().or_else(|| c.peer_id.clone()).unwrap_or_else(|| alias.to_owned())
    }

    fn events(&self, alias: &str) -> Vec<Value> {
        self.clients[alias].events.lock().unwrap().iter().map(Event::payload).collect()
    }
}

async fn setup(scenario: &Scenario) -> Run {
    let dir = std::env::temp_dir().join(format!("convene-scn-{}", uuid::Uuid::new_v4()));
    let admin = format!("cvn_scenario_{}", uuid::Uuid::new_v4().simple());
    let server = start_server("127.0.0.1:0".parse().unwrap(), &dir, &admin).await;
    let addr = server.addr;
    let (account, app) = server.default_app.clone();
    let kit = format!("http://{addr}/client/v4/accounts/{account}/realtime/kit/{app}");
    let mut run = Run {
        server: Some(server),
        addr,
        dir,
        admin,
        kit,
        meeting_id: String::new(),
        clients: BTreeMap::new(),
        held: BTreeSet::new(),
        // Idle pooled connections are dropped before the server's 10 s keep-alive limit closes
        // them, so that no request is sent on a connection the server is closing.
        http: reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().expect("HTTP client"),
    };
    let body =
        json!({"title": scenario.meeting.title, "session_keep_alive_time_in_secs": scenario.meeting.keep_alive_secs});
    let (status, v) = run.api("POST", "/meetings", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    run.meeting_id = v["data"]["id"].as_str().unwrap().to_owned();
    for (alias, setup) in &scenario.participants {
        let preset = match &setup.permissions {
            None => setup.preset.clone(),
            Some(patch) => {
                let mut permissions = Permissions::built_in(&setup.preset).expect("built-in preset");
                permissions.apply(patch);
                let name = format!("{}-{alias}", setup.preset);
                let (status, v) =
                    run.api("POST", "/presets", Some(json!({"name": name, "permissions": permissions}))).await;
                assert_eq!(status, 201, "{v}");
                name
            }
        };
        let body = json!({"custom_participant_id": alias, "preset_name": preset, "name": alias});
        let (status, v) = run.api("POST", &format!("/meetings/{}/participants", run.meeting_id), Some(body)).await;
        assert_eq!(status, 201, "{v}");
        let token = v["data"]["token"].as_str().unwrap().to_owned();
        let mut options = InitOptions::new(format!("http://{addr}"), token);
        let default = ReconnectPolicy::default();
        options.reconnect = ReconnectPolicy {
            initial_delay_ms: default.initial_delay_ms / TIME_SCALE,
            max_delay_ms: default.max_delay_ms / TIME_SCALE,
            max_attempts: default.max_attempts,
            attempt_timeout_ms: default.attempt_timeout_ms / TIME_SCALE,
        };
        options.request_timeout = Duration::from_secs(5);
        let meeting = Meeting::init(options).await.expect("init");
        let events: Arc<Mutex<Vec<Event>>> = Arc::default();
        let sink = events.clone();
        let mut stream = meeting.events();
        tokio::spawn(async move {
            while let Some(e) = stream.next().await {
                sink.lock().unwrap().push(e);
            }
        });
        let participant_id = v["data"]["id"].as_str().unwrap().to_owned();
        run.clients.insert(alias.clone(), Client { meeting, events, cursor: 0, participant_id, peer_id: None });
    }
    run
}

fn outcome(result: Result<(), ClientError>, error: Option<u16>) -> Result<(), String> {
    match (result, error) {
        (Ok(()), None) => Ok(()),
        (Err(e), Some(code)) if e.code() == code => Ok(()),
        (Err(e), Some(code)) => Err(format!("expected error {code}, got {} ({e})", e.code())),
        (Err(e), None) => Err(format!("unexpected error {} ({e})", e.code())),
        (Ok(()), Some(code)) => Err(format!("expected error {code}, but it succeeded")),
    }
}

/// Waits (up to two seconds) until `who` sees each of `targets` in the meeting or its waiting
/// room, as a person would before acting on them; the step then runs whatever the outcome.
async fn sees(run: &Run, who: &str, targets: &[String]) {
    let ids: Vec<String> = targets.iter().map(|t| run.clients[t].participant_id.clone()).collect();
    let view = &run.clients[who].meeting.participants();
    for _ in 0..40 {
        let joined = view.joined();
        let waiting = view.waitlisted();
        let known = |id: &String| joined.iter().chain(waiting.iter()).any(|p| &p.user_id == id);
        if ids.iter().all(known) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn step(run: &mut Run, step: &Step) -> Result<(), String> {
    match step {
        Step::Join { who, error } => outcome(run.clients[who].meeting.join().await, *error),
        Step::Leave { who, error } => outcome(run.clients[who].meeting.leave().await, *error),
        Step::Kick { who, target, error } => {
            sees(run, who, std::slice::from_ref(target)).await;
            let id = run.peer_id(target);
            outcome(run.clients[who].meeting.participants().kick(&id).await, *error)
        }
        Step::KickAll { who, error } => {
            outcome(run.clients[who].meeting.participants().kick_all().await.map(|_| ()), *error)
        }
        Step::Pin { who, target, pinned, error } => {
            let meeting = &run.clients[who].meeting;
            if target == who {
                let me = meeting.self_();
                return outcome(if *pinned { me.pin().await } else { me.unpin().await }, *error);
            }
            sees(run, who, std::slice::from_ref(target)).await;
            let participants = meeting.participants();
            let Some(p) = participants.get(&run.peer_id(target)) else {
                return Err(format!("{who} does not see {target}"));
            };
            outcome(if *pinned { p.pin().await } else { p.unpin().await }, *error)
        }
        Step::Accept { who, targets, error } => {
            sees(run, who, targets).await;
            let ids: Vec<String> = targets.iter().map(|t| run.peer_id(t)).collect();
            outcome(run.clients[who].meeting.participants().accept_all_waiting_room_requests(&ids).await, *error)
        }
        Step::AcceptAll { who, error } => {
            outcome(run.clients[who].meeting.participants().accept_everyone_waiting().await, *error)
        }
        Step::Reject { who, target, error } => {
            sees(run, who, std::slice::from_ref(target)).await;
            let id = run.peer_id(target);
            outcome(run.clients[who].meeting.participants().reject_waiting_room_request(&id).await, *error)
        }
        Step::UpdatePermissions { who, targets, patch, error } => {
            sees(run, who, targets).await;
            let ids: Vec<String> = targets.iter().map(|t| run.peer_id(t)).collect();
            outcome(run.clients[who].meeting.participants().update_permissions(&ids, *patch).await, *error)
        }
        Step::StartRecording { who, error } => outcome(run.clients[who].meeting.recording().start().await, *error),
        Step::StopRecording { who, error } => outcome(run.clients[who].meeting.recording().stop(None).await, *error),
        Step::ApiKickAll => {
            let (status, v) =
                run.api("POST", &format!("/meetings/{}/active-session/kick-all", run.meeting_id), None).await;
            (status == 200).then_some(()).ok_or(format!("REST kick-all answered {status}: {v}"))
        }
        Step::ApiKick { target } => {
            let body = json!({"participant_ids": [run.clients[target].participant_id]});
            let (status, v) =
                run.api("POST", &format!("/meetings/{}/active-session/kick", run.meeting_id), Some(body)).await;
            (status == 200).then_some(()).ok_or(format!("REST kick answered {status}: {v}"))
        }
        Step::ApiSetStatus { status } => {
            let (code, v) =
                run.api("PATCH", &format!("/meetings/{}", run.meeting_id), Some(json!({"status": status}))).await;
            (code == 200).then_some(()).ok_or(format!("REST PATCH answered {code}: {v}"))
        }
        Step::Drop { who } => {
            // As in simulated time, the client stays away until time passes (the next wait).
            run.clients[who].meeting.simulate_outage(true).await;
            run.held.insert(who.clone());
            Ok(())
        }
        Step::ServerOffline => {
            if let Some(server) = run.server.take() {
                server.shutdown().await;
            }
            Ok(())
        }
        Step::ServerOnline => {
            if run.server.is_none() {
                run.server = Some(start_server(run.addr, &run.dir, &run.admin).await);
            }
            Ok(())
        }
        Step::Wait { ms } => {
            for who in std::mem::take(&mut run.held) {
                run.clients[&who].meeting.simulate_outage(false).await;
            }
            tokio::time::sleep(Duration::from_millis(ms / TIME_SCALE)).await;
            Ok(())
        }
        Step::Expect { .. } => {
            let deadline = Instant::now() + EVENTUALLY;
            loop {
                match expect(run, step) {
                    Ok(end) => {
                        if let Step::Expect { who, .. } = step {
                            let c = run.clients.get_mut(who).unwrap();
                            c.cursor += end;
                        }
                        return Ok(());
                    }
                    Err(e) if Instant::now() >= deadline => return Err(e),
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }
    }
}

/// Checks an expectation now; `Ok` gives how far the cursor moves.
fn expect(run: &Run, step: &Step) -> Result<usize, String> {
    let Step::Expect {
        who,
        events,
        absent,
        counts,
        room_state,
        recording_state,
        waitlist_status,
        joined,
        waitlisted,
        permissions,
        pinned,
    } = step
    else {
        unreachable!("only expectations")
    };
    let resolve = |v: &Value| resolve_aliases(v, &|a| run.clients.contains_key(a).then(|| run.peer_id(a)));
    let all = run.events(who);
    let window = &all[run.clients[who].cursor.min(all.len())..];
    let patterns: Vec<Value> = events.iter().map(resolve).collect();
    let end = find_in_order(&patterns, window)
        .map_err(|p| format!("{who}: no event matching {p} among {}", Value::from(window.to_vec())))?;
    for pattern in absent.iter().map(resolve) {
        if let Some(e) = window.iter().find(|e| matches(&pattern, e)) {
            return Err(format!("{who}: unwanted event {e}"));
        }
    }
    for (name, n) in counts {
        let got = all.iter().filter(|e| e["event"] == name.as_str()).count();
        if got != *n {
            return Err(format!("{who}: {got} {name} events, expected {n}"));
        }
    }
    let m = &run.clients[who].meeting;
    if let Some(s) = room_state {
        if m.self_().room_state() != *s {
            return Err(format!("{who}: room state {}, expected {s}", m.self_().room_state()));
        }
    }
    if let Some(s) = recording_state {
        if m.recording().state() != *s {
            return Err(format!("{who}: recording {:?}, expected {s:?}", m.recording().state()));
        }
    }
    if let Some(s) = waitlist_status {
        if m.self_().waitlist_status() != *s {
            return Err(format!("{who}: waitlist {:?}, expected {s:?}", m.self_().waitlist_status()));
        }
    }
    let ids = |aliases: &Vec<String>| -> BTreeSet<String> { aliases.iter().map(|a| run.peer_id(a)).collect() };
    if let Some(expected) = joined {
        let got: BTreeSet<String> = m.participants().joined().into_iter().map(|p| p.id).collect();
        if got != ids(expected) {
            return Err(format!("{who}: joined {got:?}, expected {:?}", ids(expected)));
        }
    }
    if let Some(expected) = waitlisted {
        let got: BTreeSet<String> = m.participants().waitlisted().into_iter().map(|p| p.id).collect();
        if got != ids(expected) {
            return Err(format!("{who}: waitlisted {got:?}, expected {:?}", ids(expected)));
        }
    }
    if let Some(expected) = pinned {
        let mut got: BTreeSet<String> = m.participants().pinned().into_iter().map(|p| p.id).collect();
        if m.self_().is_pinned() {
            got.insert(run.peer_id(who));
        }
        if got != ids(expected) {
            return Err(format!("{who}: pinned {got:?}, expected {:?}", ids(expected)));
        }
    }
    if let Some(expected) = permissions {
        let actual = serde_json::to_value(m.self_().permissions()).unwrap();
        if !matches(expected, &actual) {
            return Err(format!("{who}: permissions do not match {expected}"));
        }
    }
    Ok(end)
}

async fn run_file(path: &PathBuf) -> Result<(), String> {
    let scenario = Scenario::parse(&std::fs::read_to_string(path).unwrap()).map_err(|e| e.to_string())?;
    let mut run = setup(&scenario).await;
    let mut result = Ok(());
    for (i, s) in scenario.steps.iter().enumerate() {
        if let Err(e) = step(&mut run, s).await {
            result = Err(format!("{}: step {} ({s:?}): {e}", scenario.name, i + 1));
            break;
        }
        for c in run.clients.values_mut() {
            if let Some(id) = c.meeting.self_().id() {
                c.peer_id = Some(id);
            }
        }
    }
    if let Some(server) = run.server.take() {
        server.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&run.dir);
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_file_passes_against_a_real_server() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 15);
    let mut failures = Vec::new();
    for f in &files {
        let started = Instant::now();
        match run_file(f).await {
            Ok(()) => {
                println!("ok   {} ({} ms)", f.file_name().unwrap().to_string_lossy(), started.elapsed().as_millis())
            }
            Err(e) => {
                println!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} scenario(s) failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}
