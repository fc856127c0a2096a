//! The workloads: `kick-all` (with the floor measured in the same run), `floor` alone, and
//! `join-storm`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_core::proto::{encode_server, ServerMessage, SessionEvent};
use convene_core::{Actor, EndReason, Event, RoomState, SessionEnd};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::child::{spawn_floor_server, ChildServer};
use crate::cluster::Cluster;
use crate::stats::Percentiles;
use crate::target::{bar, Target};

/// How `kick-all` runs.
#[derive(Debug, Clone, Default)]
pub struct KickAllOptions {
    /// Servers (Convene's and the floor's) in child processes.
    pub isolate: bool,
    /// Participants without the participant list (see `Target::listless_preset`).
    pub listless: bool,
    /// Where to draw the latency distributions (SVG).
    pub plot: Option<std::path::PathBuf>,
}

/// How long a workload may wait for its last participant.
const DEADLINE: Duration = Duration::from_secs(120);

/// `kick-all`: N joined participants; one REST kick-all; the time from the request to each
/// participant observing `roomLeft { state: "ended" }`. Then the floor with the same N.
pub async fn kick_all(target: &Target, n: usize, opts: KickAllOptions, bus: Option<&Cluster>) -> Result<Value, String> {
    let preset = if opts.listless { target.listless_preset().await? } else { "group_call_participant".to_owned() };
    let (meeting, tokens) = target.meeting_with(n, &preset).await?;
    let clients = target.clients(&tokens).await?;
    // Each client's events are consumed as they arrive, as an application would; the instant of
    // `roomLeft { state: "ended" }` is reported.
    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    for c in &clients {
        let tx = tx.clone();
        let mut events = c.events();
        tokio::spawn(async move {
            let ended = |e: &Event| matches!(e, Event::RoomLeft { state } if state.room_state() == RoomState::Ended);
            if Target::next_matching(&mut *events, ended).await {
                let _ = tx.send(Instant::now());
            }
        });
    }
    let retried = target.join_all(&clients).await?;
    if !opts.listless {
        settle(&clients, n).await?;
    }
    drop(tx);
    profiler_pause().await;
    let published = match bus {
        Some(cluster) => Some(cluster.publishes().await?),
        None => None,
    };
    let t0 = Instant::now();
    let answer = target.rest("POST", &format!("/meetings/{meeting}/active-session/kick-all"), None).await?;
    let rest_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let removed = answer["kicked_participants_count"].as_u64().unwrap_or(0);
    let progress = bar(n as u64, "ended");
    let mut latencies = Vec::with_capacity(n);
    let collect = async {
        while let Some(t) = rx.recv().await {
            latencies.push(t - t0);
            progress.inc(1);
        }
    };
    let _ = tokio::time::timeout(DEADLINE, collect).await;
    progress.finish_and_clear();
    if latencies.len() != n {
        return Err(format!(
            "only {} of {n} participants saw roomLeft ended (the server removed {removed})",
            latencies.len()
        ));
    }
    let bus_messages = match (bus, published) {
        (Some(cluster), Some(before)) => Some(cluster.publishes().await?.saturating_sub(before)),
        _ => None,
    };
    drop(clients);
    let convene = Percentiles::of(&latencies);
    let floor_samples = floor(n, frame_len(), opts.isolate).await?;
    let floor = Percentiles::of(&floor_samples);
    if let Some(path) = &opts.plot {
        let title = format!("kick-all, N = {n}: request to roomLeft ended, beside the floor");
        crate::plot::write_cdf(path, &title, &[("Convene kick-all", &latencies), ("floor", &floor_samples)])?;
    }
    Ok(json!({
        "workload": "kick-all",
        "participants": n,
        "p50_ms": convene.p50_ms, "p99_ms": convene.p99_ms, "max_ms": convene.max_ms,
        "floor_p50_ms": floor.p50_ms, "floor_p99_ms": floor.p99_ms, "floor_max_ms": floor.max_ms,
        "ratio_max": ratio(convene.max_ms, floor.max_ms),
        "ratio_p99": ratio(convene.p99_ms, floor.p99_ms),
        "all_ended": true,
        "rest_answer_ms": (rest_ms * 1000.0).round() / 1000.0,
        "server": if opts.isolate { "child process" } else { "in-process" },
        "participant_list": !opts.listless,
        "bus_messages": bus_messages,
        "setup_joins_retried": retried,
    }))
}

/// Waits until every client sees the other N - 1 (the join storm's events are all applied), so
/// that the measurement starts from a quiet system.
pub async fn settle(clients: &[crate::target::Client], n: usize) -> Result<(), String> {
    let progress = bar(n as u64, "settling");
    let until = Instant::now() + DEADLINE;
    loop {
        let settled = clients.iter().filter(|c| c.meeting.participants().joined_count() == n - 1).count();
        progress.set_position(settled as u64);
        if settled == n {
            progress.finish_and_clear();
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("only {settled} of {n} clients saw everyone join"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// With `CONVENE_LOAD_PAUSE_MS` set, says so on stderr and waits that long before the measured
/// step, so that a profiler can be attached to the quiet process (`perf record -p`).
async fn profiler_pause() {
    let Some(ms) = std::env::var("CONVENE_LOAD_PAUSE_MS").ok().and_then(|v| v.parse::<u64>().ok()) else { return };
    eprintln!("convene-load: pid {}: measuring in {ms} ms", std::process::id());
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        (a / b * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// The size of the `session_ended` frame a participant receives.
fn frame_len() -> usize {
    let end = SessionEnd {
        session_id: "00000000-0000-4000-8000-000000000000".into(),
        reason: EndReason::HostEndedMeeting,
        ended_by: Actor::Api,
    };
    encode_server(&ServerMessage::Event { seq: 1000, event: SessionEvent::SessionEnded { end } }).len()
}

/// `floor`: N connections to a minimal tokio-tungstenite server that writes one frame of `len`
/// bytes to every connection (one task per connection, as convene-server); the time from the
/// trigger to each connection reading it. With `isolate`, the floor server runs in a child
/// process, as the Convene server does then.
pub async fn floor(n: usize, len: usize, isolate: bool) -> Result<Vec<Duration>, String> {
    let (go, go_rx) = watch::channel(0u64);
    let mut child = None;
    let addr = if isolate {
        let c = ChildServer::spawn("serve-floor", &["--frame-len".into(), len.to_string()]).await?;
        let addr = c.ready["addr"].as_str().ok_or("serve-floor: no addr")?.to_owned();
        child = Some(c);
        addr
    } else {
        spawn_floor_server(len, go_rx).await?.to_string()
    };
    let progress = bar(n as u64, "floor");
    let gate = Arc::new(Semaphore::new(128));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<()>();
    let (tx, mut rx) = mpsc::unbounded_channel::<Instant>();
    for _ in 0..n {
        let gate = gate.clone();
        let (ready_tx, tx, url) = (ready_tx.clone(), tx.clone(), format!("ws://{addr}/"));
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let config = Some(convene_client::socket_config());
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async_with_config(url, config, false).await else {
                return;
            };
            drop(permit);
            let _ = ready_tx.send(());
            if let Some(Ok(Message::Text(_))) = ws.next().await {
                let _ = tx.send(Instant::now());
            }
        });
    }
    drop((ready_tx, tx));
    for _ in 0..n {
        ready_rx.recv().await.ok_or("a floor connection failed")?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    // Let the server side finish its handshakes before the trigger.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    match child.as_mut() {
        Some(c) => c.send_line("go").await?,
        None => {
            go.send_modify(|g| *g += 1);
        }
    }
    let mut latencies = Vec::with_capacity(n);
    let collect = async {
        while let Some(t) = rx.recv().await {
            latencies.push(t - t0);
        }
    };
    let _ = tokio::time::timeout(DEADLINE, collect).await;
    if latencies.len() != n {
        return Err(format!("the floor reached only {} of {n} connections", latencies.len()));
    }
    Ok(latencies)
}

/// `join-storm`: N initialised participants call join at once; the time until all are joined.
pub async fn join_storm(target: &Target, n: usize, bus: Option<&Cluster>) -> Result<Value, String> {
    let (_, tokens) = target.meeting_with(n, "group_call_participant").await?;
    let clients = target.clients(&tokens).await?;
    profiler_pause().await;
    let published = match bus {
        Some(cluster) => Some(cluster.publishes().await?),
        None => None,
    };
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for c in &clients {
        let m = c.meeting.clone();
        tasks.push(tokio::spawn(async move {
            let retries = crate::target::join_retrying(&m).await?;
            Ok::<(Duration, u32), String>((t0.elapsed(), retries))
        }));
    }
    let progress = bar(n as u64, "joined");
    let mut latencies = Vec::with_capacity(n);
    let mut retried = 0;
    for t in tasks {
        let (latency, retries) = t.await.map_err(|e| e.to_string())??;
        latencies.push(latency);
        retried += retries;
        progress.inc(1);
    }
    progress.finish_and_clear();
    let all = t0.elapsed();
    let bus_messages = match (bus, published) {
        (Some(cluster), Some(before)) => Some(cluster.publishes().await?.saturating_sub(before)),
        _ => None,
    };
    let joined = clients.iter().filter(|c| c.meeting.self_().room_joined()).count();
    if joined != n {
        return Err(format!("{joined} of {n} joined"));
    }
    let p = Percentiles::of(&latencies);
    Ok(json!({
        "workload": "join-storm",
        "participants": n,
        "p50_ms": p.p50_ms, "p99_ms": p.p99_ms, "max_ms": p.max_ms,
        "all_joined_ms": all.as_secs_f64() * 1000.0,
        "joins_per_second": (n as f64 / all.as_secs_f64()).round(),
        "process_peak_rss_kib": crate::stats::peak_rss_kib(),
        "server_rss_kib": target.server_stats().map(|s| s.rss_kib),
        "bus_messages": bus_messages,
        "joins_retried": retried,
    }))
}
