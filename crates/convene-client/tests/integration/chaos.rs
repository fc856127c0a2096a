//! Chaos: native clients talk to a real server through a fault-injecting TCP proxy
//! (`chaos/proxy.rs`). On a seeded schedule it delays bytes, cuts connections (both directions,
//! sometimes in the middle of a frame), refuses new connections for a while, pauses all forwarding
//! (up to 1.5 s; in a fifth of the seeds once for longer than the server's away grace, after a
//! quiet moment; in seeds 10, 30, ... once for longer than the server's idle timeout, which is
//! longer than the clients' 10 s ping interval, so the server closes the silent connections and
//! everyone resumes), hangs the downlink of the host and some others while more events than the
//! server's replay window pile up and then cuts them (they resume from a snapshot), and cuts one
//! client off for longer than the away grace. Meanwhile participants join (a storm at the start,
//! then a trickle), leave, are kicked (by the host's client or by REST through the proxy), get
//! permission patches from the host, a recording is started over REST, and at the end a REST
//! kick-all through the proxy, sometimes with cuts around it, ends the session. A webhook receiver
//! fails about 30% of delivery attempts on purpose (500, or the connection dropped).
//!
//! Checks, per seed:
//! - every client's final room state: `ended` (in until the end), `left`, `kicked`, or `failed`
//!   (cut off longer than the away grace); one terminal `roomLeft`, one fresh `roomJoined`;
//! - on the wire (what the proxy wrote): per client and stay, event `seq`s strictly increase on
//!   each connection, a resumed connection replays only events after the client's `last_seq`
//!   (nothing twice), and the resume point is a `seq` the client was given; a refused resume is the
//!   last connection of a stay and matches the fate; the roster replayed from the events (a
//!   snapshot replaces it) never adds a present peer or removes an absent one, and ends as the
//!   server's truth;
//! - in the client: `participantJoined`/`participantLeft`, replayed on its first snapshot, never
//!   add a present peer or remove an absent one and give exactly the roster the client holds, which
//!   equals the server's truth (the session's present peers) before the end; the last permission
//!   patch and the recording state arrived;
//! - the session ended exactly once (one `ENDED` session, `HOST_ENDED_MEETING` by the API, one
//!   `sessionEnded` per client in at the end, kick-all's count);
//! - webhooks: every outbox row delivered; each event (`meeting.started`, one
//!   `participantJoined` per stay, one `participantLeft` per stay that did not end with the session,
//!   the recording's updates, `meeting.ended`) under exactly one `rtk-uuid`, every retry of a uuid
//!   with the same body;
//! - the store (REST session participants, and the outcome column read from the store): one stay
//!   per participant with the outcome the client saw (`ended` at the session's `ended_at`,
//!   `kicked`, `left` or, when the leave frame was cut, `expired`), plus "ghost" stays of joins
//!   whose answer was cut, which must have expired; the recording `UPLOADED`.
//!
//! `CHAOS_SEED=n` replays one seed, `CHAOS_SEEDS=k` runs seeds 1..=k (default 20, 20 to 60
//! participants each). The ignored test `chaos_sessions_long` runs 100 to 200 participants (seed 1:
//! 200), longer chaos, and the pause longer than the idle timeout in every seed (`cargo test -p
//! convene-client --test integration chaos -- --ignored`).

//!
//! The pieces, under `tests/chaos/`: `plan.rs` draws the seed's plan (mode, timings, who does
//! what when); `clients.rs` is each participant's bookkeeping and scripted life;
//! `session_actions.rs` the host's patches, the recording and the kick-all that ends the session;
//! `faults.rs` the fault schedule; `context.rs` the state the tasks share; `rest.rs` the REST
//! calls; `checks.rs` and `replay_checks.rs` the checks; `report.rs` what a seed did and the lines
//! printed; `proxy.rs`, `wire.rs`, `hooks.rs` and `rng.rs` the proxy, its wire record, the webhook
//! receiver and the seeded generator. This file drives the seeds.

#[path = "chaos/checks.rs"]
mod checks;
#[path = "chaos/clients.rs"]
mod clients;
#[path = "chaos/cluster.rs"]
mod cluster;
#[path = "chaos/context.rs"]
mod context;
#[path = "chaos/faults.rs"]
mod faults;
#[path = "chaos/hooks.rs"]
mod hooks;
#[path = "chaos/plan.rs"]
mod plan;
#[path = "chaos/proxy.rs"]
mod proxy;
#[path = "chaos/replay_checks.rs"]
mod replay_checks;
#[path = "chaos/report.rs"]
mod report;
#[path = "chaos/rest.rs"]
mod rest;
#[path = "chaos/rng.rs"]
mod rng;
#[path = "chaos/session_actions.rs"]
mod session_actions;
#[path = "chaos/wire.rs"]
mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use convene_client::RoomState;
use convene_server::{DataLocation, ServerConfig};
use serde_json::json;

use checks::{check_final_state, check_store, check_webhooks, converged};
use clients::{participant, Slot};
use context::{until, until_drained, Counters, Ctx};
use faults::faults;
use hooks::Hooks;
use plan::{plan, timings, Fate, Mode};
use proxy::Proxy;
use replay_checks::check_wire_and_events;
use report::Report;
use rest::{Rest, ADMIN};
use rng::Rng;
use session_actions::{end_session, patches, recording};
use wire::Wire;

/// Where a seed runs: one server on SQLite, or three nodes of a cluster on PostgreSQL and Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Servers {
    One,
    Cluster,
}

/// One seed: its servers, proxy, webhook receiver, meeting and participants, then [`drive`].
async fn run_seed(seed: u64, mode: Mode, servers: Servers) -> Result<Report, String> {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let n = rng.range(mode.sizes.0, mode.sizes.1) as usize;
    let chaos_ms = rng.range(mode.chaos_ms.0, mode.chaos_ms.1);
    let config = || ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: DataLocation::Memory,
        admin_token: Some(ADMIN.into()),
        timings: timings(&mode),
        webhooks: convene_server::webhook::WebhookOptions { allow_private: true, ca_file: None },
        ..ServerConfig::ephemeral()
    };
    let (mut nodes, engines) = match servers {
        Servers::One => (vec![convene_server::start(config()).await.map_err(|e| e.to_string())?], None),
        Servers::Cluster => {
            let (nodes, engines) = cluster::start(config).await?;
            (nodes, Some(engines))
        }
    };
    let upstreams = nodes.iter().map(|s| s.addr).collect();
    let server = nodes.remove(0);
    let (account, app) = server.default_app.clone();
    let wire = Arc::new(Wire::default());
    let proxy = Proxy::new(upstreams, seed, wire.clone());
    let backend_tag = n;
    let backend_url = proxy.listen(backend_tag).await;
    let kit = format!("/client/v4/accounts/{account}/realtime/kit/{app}");
    let rest = Rest {
        // Idle pooled connections are dropped before the server's 10 s keep-alive limit closes
        // them, so that no request is sent on a connection the server is closing.
        http: reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().expect("HTTP client"),
        direct: format!("{}{kit}", server.url()),
        proxied: format!("{backend_url}{kit}"),
    };
    let hooks = Hooks::start(seed, 0.3).await;
    let events = [
        "meeting.started",
        "meeting.ended",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "recording.statusUpdate",
    ];
    let (status, v) = rest
        .call(false, "POST", "/webhooks", Some(json!({"name": "chaos", "url": hooks.url, "events": events})))
        .await?;
    if status != 201 {
        return Err(format!("webhook registration answered {status}: {v}"));
    }
    let webhook_id = v["data"]["id"].as_str().unwrap_or_default().to_owned();
    let body = json!({"title": format!("chaos {seed}"), "session_keep_alive_time_in_secs": 60});
    let (status, v) = rest.call(false, "POST", "/meetings", Some(body)).await?;
    if status != 201 {
        return Err(format!("meeting creation answered {status}: {v}"));
    }
    let meeting_id = v["data"]["id"].as_str().unwrap().to_owned();
    let plan = plan(&mut rng, &mode, n, chaos_ms);
    let mut slots = Vec::with_capacity(n);
    for (i, (fate, join_at, act_at)) in plan.into_iter().enumerate() {
        let (name, preset) =
            if i == 0 { ("host".to_owned(), "group_call_host") } else { (format!("p{i}"), "group_call_participant") };
        let (participant_id, token) =
            server.add_participant(&meeting_id, &name, preset).await.map_err(|e| e.to_string())?;
        slots.push(Arc::new(Slot {
            name,
            participant_id,
            token,
            fate,
            join_at,
            act_at,
            url: proxy.listen(i).await,
            meeting: OnceLock::new(),
            events: Arc::default(),
            joined: AtomicBool::new(false),
        }));
    }
    let ctx = Arc::new(Ctx {
        seed,
        mode,
        server,
        engines,
        proxy,
        wire,
        rest,
        meeting_id,
        slots,
        start: Instant::now(),
        spotlight: Mutex::new(BTreeMap::new()),
        recording: AtomicBool::new(false),
        hold: AtomicBool::new(false),
        acting: AtomicU64::new(0),
        counters: Counters::default(),
    });
    let result = drive(&ctx, &mut rng, chaos_ms, &hooks, &webhook_id).await;
    ctx.proxy.shutdown();
    for node in nodes {
        node.shutdown().await;
    }
    let mut report = result?;
    report.seed = seed;
    report.participants = n;
    report.millis = started.elapsed().as_millis();
    Ok(report)
}

/// The phases of a seed once everything is set up: chaos, calm (the room settles), the end, and
/// the checks.
async fn drive(
    ctx: &Arc<Ctx>,
    rng: &mut Rng,
    chaos_ms: u64,
    hooks: &Hooks,
    webhook_id: &str,
) -> Result<Report, String> {
    let n = ctx.slots.len();
    let mut report = Report::default();
    for s in &ctx.slots {
        *report.fates.entry(format!("{:?}", s.fate.final_state())).or_default() += 1;
    }
    // The chaos phase.
    let mut tasks = Vec::new();
    for i in 0..n {
        tasks.push((Some(i), tokio::spawn(participant(ctx.clone(), i))));
    }
    tasks.push((None, tokio::spawn(patches(ctx.clone(), rng.fork(1), chaos_ms))));
    let recording_at = rng.range(chaos_ms / 5, chaos_ms * 3 / 5);
    tasks.push((None, tokio::spawn(recording(ctx.clone(), recording_at))));
    let fault_task = tokio::spawn(faults(ctx.clone(), rng.fork(2), chaos_ms));
    for (slot, t) in tasks {
        match tokio::time::timeout(Duration::from_secs(120), t).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => return Err(format!("a task panicked: {e}")),
            Err(_) => {
                // Who it was and where it stands (the task goes on running).
                let who = match slot.map(|i| &ctx.slots[i]) {
                    Some(s) => {
                        let socket = s.meeting().map(|m| m.meta().socket_state());
                        format!(
                            "{:?}, joined {}, socket {socket:?}: {}",
                            s.fate,
                            s.joined.load(Ordering::Relaxed),
                            s.tail()
                        )
                    }
                    None => "the patches or the recording".into(),
                };
                return Err(format!("the actions of {who} did not finish in 120 s"));
            }
        }
    }
    let _ = fault_task.await;
    ctx.proxy.calm();

    // Calm: everything settles; the clients hold the server's truth.
    let session_id = ctx.session_id().ok_or("the host has no session id")?;
    let stayers: Vec<usize> = (0..n).filter(|i| ctx.slots[*i].fate == Fate::Stay).collect();
    let settle = ctx.mode.away_grace + Duration::from_secs(30);
    let deadline = Instant::now() + settle;
    let truth = loop {
        let peers = ctx.rest.all(&format!("/sessions/{session_id}/participants")).await;
        let present: BTreeSet<String> =
            peers.iter().filter(|p| p["left_at"].is_null()).map(|p| p["id"].as_str().unwrap().to_owned()).collect();
        match converged(ctx, &stayers, &present) {
            Ok(()) => break present,
            Err(e) if Instant::now() >= deadline => return Err(format!("no convergence after {settle:?}: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    // Rosters and event logs at this point (nothing changes until the end).
    let rosters: BTreeMap<usize, BTreeSet<String>> = stayers.iter().map(|i| (*i, ctx.slots[*i].roster())).collect();
    let mut errors: Vec<String> = Vec::new();

    // The end: a REST kick-all through the proxy, sometimes with cuts around it.
    let kicked_count = end_session(ctx, rng, &session_id, &mut report).await?;
    if let Some(count) = kicked_count {
        if count != stayers.len() as u64 {
            errors.push(format!("kick-all removed {count}, expected {}", stayers.len()));
        }
    }
    // In to the end: every stayer ended, and every client that is out has its `roomLeft` read.
    let settled = |i: usize| {
        let slot = &ctx.slots[i];
        let out = slot.state().is_some_and(|s| s.is_terminal());
        let state_ok = slot.fate != Fate::Stay || slot.state() == Some(RoomState::Ended);
        state_ok && (!out || slot.saw_terminal_room_left())
    };
    let ended = until("everyone in to end", Duration::from_secs(30), || (0..n).all(settled)).await;
    if let Err(e) = ended {
        let who: Vec<String> = (0..n).filter(|i| !settled(*i)).map(|i| ctx.slots[i].tail()).collect();
        return Err(format!("{e}: {}", who.join("; ")));
    }

    // Final states and each client's own story.
    for i in 0..n {
        check_final_state(ctx, i, &session_id, &mut errors, &mut report);
        check_wire_and_events(ctx, i, &rosters, &truth, &mut errors, &mut report);
    }

    // The session ended exactly once; the store agrees with the clients.
    let sessions = ctx.rest.all(&format!("/sessions?associated_id={}", ctx.meeting_id)).await;
    let session = match sessions.as_slice() {
        [s] if s["status"] == "ENDED" && s["end_reason"] == "HOST_ENDED_MEETING" && s["id"] == session_id.as_str() => {
            s.clone()
        }
        other => return Err(format!("expected one ENDED session, got {other:?}")),
    };
    let ended_at = session["ended_at"].as_str().unwrap_or_default().to_owned();
    check_store(ctx, &session_id, &ended_at, &mut errors, &mut report).await;

    // Recording.
    let recordings = ctx.rest.all(&format!("/recordings?meeting_id={}", ctx.meeting_id)).await;
    match recordings.as_slice() {
        [r] if r["status"] == "UPLOADED" && r["session_id"] == session_id.as_str() => {}
        other => errors.push(format!("expected one UPLOADED recording, got {other:?}")),
    }

    // Webhooks: every row delivered, each event under one uuid.
    let drained = until_drained(ctx, Duration::from_secs(30)).await;
    if let Err(e) = drained {
        errors.push(e);
    }
    check_webhooks(ctx, hooks, webhook_id, &session_id, &mut errors, &mut report).await;

    report.take_counts(ctx);
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors.join("\n"))
    }
}

/// The seeds to run: `CHAOS_SEED=n` alone, or `CHAOS_SEEDS=k` (default 20): 1..=k.
fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let count = std::env::var("CHAOS_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20u64);
    (1..=count).collect()
}

/// Runs the seeds one after another (each within 300 s) on `servers`, prints a line per seed and
/// the totals; panics at the first failing seed, naming it.
async fn run(mode_for: fn(u64) -> Mode, seeds: Vec<u64>, servers: Servers) {
    let started = Instant::now();
    let mut reports = Vec::new();
    for seed in seeds {
        let outcome =
            tokio::time::timeout(Duration::from_secs(300), tokio::spawn(run_seed(seed, mode_for(seed), servers))).await;
        let failure = match outcome {
            Ok(Ok(Ok(report))) => {
                println!("{}", report.line());
                reports.push(report);
                continue;
            }
            Ok(Ok(Err(e))) => e,
            Ok(Err(e)) => format!("panicked: {e}"),
            Err(_) => "did not finish in 300 s".to_owned(),
        };
        panic!("chaos seed {seed} failed (replay with CHAOS_SEED={seed}):\n{failure}");
    }
    println!("{}", Report::totals(&reports, started.elapsed().as_secs_f64()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_sessions() {
    run(Mode::default_for, seeds(), Servers::One).await;
}

/// The same chaos against three nodes of a cluster (PostgreSQL and Redis of the seed's own),
/// participant `i` on node `i % 3`: `CHAOS_CLUSTER_SEEDS=k` runs seeds 1..=k (default 3), or
/// `CHAOS_SEED=n` one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_sessions_on_three_nodes() {
    let seeds = match std::env::var("CHAOS_CLUSTER_SEEDS").ok().and_then(|s| s.parse().ok()) {
        Some(count) => (1..=count).collect(),
        None if std::env::var("CHAOS_SEED").is_ok() => seeds(),
        None => (1..=3).collect(),
    };
    run(Mode::default_for, seeds, Servers::Cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 100 to 200 participants per seed, pauses longer than the keep-alive ping interval"]
async fn chaos_sessions_long() {
    let seeds = if std::env::var("CHAOS_SEED").is_ok() || std::env::var("CHAOS_SEEDS").is_ok() {
        seeds()
    } else {
        (1..=5).collect()
    };
    run(Mode::long_for, seeds, Servers::One).await;
}
