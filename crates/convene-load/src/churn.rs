//! `churn`: a session of N observers while other participants join and leave at a steady rate.
//! Reports the latency from a join (the `join()` call) to each observer's `participantJoined`,
//! and the server's CPU and memory after warm-up and at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_client::{Event, InitOptions, Meeting, ReconnectPolicy};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::child::ProcStats;
use crate::stats::Percentiles;
use crate::target::{bar, Target};

/// How the churn runs.
#[derive(Debug, Clone, Copy)]
pub struct ChurnOptions {
    /// How long participants join and leave.
    pub duration: Duration,
    /// Joins per second (and as many leaves, once the first stays are over).
    pub rate: f64,
    /// How long each churning participant stays.
    pub stay: Duration,
}

/// When each churning participant (by custom id) last called `join()`.
type JoinTimes = Arc<Mutex<HashMap<String, Instant>>>;

pub async fn churn(target: &Target, n: usize, opts: ChurnOptions) -> Result<Value, String> {
    let (meeting, tokens) = target.meeting_with(n, "group_call_participant").await?;
    let pool_size = (opts.rate * opts.stay.as_secs_f64() * 1.5).ceil() as usize + 2;
    let pool_tokens = target.participants(&meeting, pool_size, "group_call_participant", "c").await?;
    let observers = target.clients(&tokens).await?;
    let join_times: JoinTimes = Arc::default();
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel::<Duration>();
    for c in &observers {
        let mut events = c.events();
        let (times, tx) = (join_times.clone(), lat_tx.clone());
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(e) = events.next().await {
                let Event::ParticipantJoined { participant } = e else { continue };
                let at = Instant::now();
                let started =
                    times.lock().unwrap_or_else(|p| p.into_inner()).get(&participant.custom_participant_id).copied();
                if let Some(started) = started {
                    let _ = tx.send(at - started);
                }
            }
        });
    }
    drop(lat_tx);
    target.join_all(&observers).await?;
    crate::workloads::settle(&observers, n).await?;

    let free: Arc<Mutex<Vec<(usize, String)>>> = Arc::new(Mutex::new(pool_tokens.into_iter().enumerate().collect()));
    let warm_up = (opts.duration / 6).min(Duration::from_secs(10));
    let period = Duration::from_secs_f64(1.0 / opts.rate);
    let progress = bar(opts.duration.as_secs(), "churn (s)");
    let start_stats = target.server_stats();
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(period);
    let (mut joins, mut skipped) = (0u64, 0u64);
    let mut stays = Vec::new();
    let mut warm: Option<ProcStats> = None;
    let mut warm_at = t0;
    let (err_tx, mut err_rx) = mpsc::unbounded_channel::<String>();
    while t0.elapsed() < opts.duration {
        tick.tick().await;
        progress.set_position(t0.elapsed().as_secs());
        if warm.is_none() && t0.elapsed() >= warm_up {
            warm = target.server_stats();
            warm_at = Instant::now();
        }
        let Some((i, token)) = free.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
            skipped += 1;
            continue;
        };
        joins += 1;
        let (free, times, base, err_tx) = (free.clone(), join_times.clone(), target.base.clone(), err_tx.clone());
        stays.push(tokio::spawn(async move {
            if let Err(e) = stay(&base, &token, &format!("c{i}"), &times, opts.stay).await {
                let _ = err_tx.send(e);
            }
            free.lock().unwrap_or_else(|p| p.into_inner()).push((i, token));
        }));
    }
    let mid = target.server_stats();
    let churn_end = Instant::now();
    for s in stays {
        s.await.map_err(|e| e.to_string())?;
    }
    progress.finish_and_clear();
    drop(err_tx);
    if let Some(e) = err_rx.recv().await {
        return Err(format!("a churning participant failed: {e}"));
    }
    // Quiet again: memory at the end.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let end = target.server_stats();
    drop(observers);
    let mut latencies = Vec::new();
    while let Ok(l) = lat_rx.try_recv() {
        latencies.push(l);
    }
    if latencies.is_empty() {
        return Err("no participantJoined was observed".into());
    }
    let p = Percentiles::of(&latencies);
    let cpu = |a: Option<ProcStats>, b: Option<ProcStats>, secs: f64| match (a, b) {
        (Some(a), Some(b)) if secs > 0.0 => Some(((b.cpu_ms - a.cpu_ms) as f64 / 10.0 / secs).round()),
        _ => None,
    };
    let warm_secs = (warm_at - t0).as_secs_f64();
    let rest_secs = (churn_end - warm_at).as_secs_f64();
    Ok(json!({
        "workload": "churn",
        "participants": n,
        "duration_s": opts.duration.as_secs_f64(),
        "joins": joins, "joins_skipped_pool_empty": skipped,
        "observations": latencies.len(),
        "p50_ms": p.p50_ms, "p99_ms": p.p99_ms, "max_ms": p.max_ms,
        "server_cpu_percent_warm_up": cpu(start_stats, warm, warm_secs),
        "server_cpu_percent_after_warm_up": cpu(warm, mid, rest_secs),
        "server_rss_after_warm_up_kib": warm.map(|s| s.rss_kib),
        "server_rss_end_kib": end.map(|s| s.rss_kib),
        "server_rss_end_over_warm_up": match (warm, end) {
            (Some(w), Some(e)) if w.rss_kib > 0 => Some((e.rss_kib as f64 / w.rss_kib as f64 * 1000.0).round() / 1000.0),
            _ => None,
        },
    }))
}

/// One stay: a fresh client joins (its `join()` call timed), stays, and leaves.
async fn stay(base: &str, token: &str, custom_id: &str, times: &JoinTimes, length: Duration) -> Result<(), String> {
    let mut options = InitOptions::new(base.to_owned(), token.to_owned());
    options.request_timeout = Duration::from_secs(60);
    options.reconnect = ReconnectPolicy { max_attempts: 3, ..ReconnectPolicy::default() };
    let meeting = Meeting::init(options).await.map_err(|e| e.to_string())?;
    times.lock().unwrap_or_else(|p| p.into_inner()).insert(custom_id.to_owned(), Instant::now());
    meeting.join().await.map_err(|e| e.to_string())?;
    tokio::time::sleep(length).await;
    meeting.leave().await.map_err(|e| e.to_string())
}
