//! `soak`: N participants join, stay a while, leave and come back, over and over, for the whole
//! duration, against one server in a child process. Afterwards, with everyone gone and the
//! room's task ended, the server's open files, live tasks and Rust heap are compared with the
//! baseline taken before anyone joined (resident memory is reported too: the system allocator
//! keeps freed memory, and SQLite's in-memory store grows with the session history), and every
//! join and leave must have succeeded.
//!
//! One participant in ten sees the participant list (and so every other join and leave); the
//! others have a list-less preset, which keeps N rosters of N out of this one process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_client::{InitOptions, Meeting, ReconnectPolicy};
use serde_json::{json, Value};

use crate::target::{bar, Target};

/// How long a stay and the pause after it last, in ms (uniform in the range).
const STAY_MS: (u64, u64) = (5_000, 25_000);
const PAUSE_MS: (u64, u64) = (1_000, 5_000);

/// What came back to its baseline is allowed this much above it: a few descriptors and tasks
/// (the listener, the store, timers that come and go), and the allocator's retained memory.
const SLACK_FILES: usize = 4;
const SLACK_TASKS: usize = 4;
/// Maps keep their grown capacity; everything else must be freed.
const SLACK_HEAP_BYTES: i64 = 1024 * 1024;

#[derive(Default)]
struct Counters {
    joins: AtomicU64,
    leaves: AtomicU64,
    errors: AtomicU64,
}

pub async fn soak(target: &mut Target, n: usize, duration: Duration) -> Result<Value, String> {
    let listless = target.listless_preset().await?;
    let body = json!({"title": "soak", "session_keep_alive_time_in_secs": 5});
    let meeting = target.rest("POST", "/meetings", Some(body)).await?;
    let meeting = meeting["id"].as_str().ok_or("meeting id")?.to_owned();
    let watchers = n / 10;
    let mut tokens = target.participants(&meeting, watchers, "group_call_participant", "w").await?;
    tokens.extend(target.participants(&meeting, n - watchers, &listless, "s").await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = Snapshot::take(target).await;

    let counters = Arc::new(Counters::default());
    let stop_at = Instant::now() + duration;
    let progress = bar(duration.as_secs(), "soak (s)");
    let mut loops = Vec::with_capacity(n);
    for (i, token) in tokens.into_iter().enumerate() {
        let (counters, base_url) = (counters.clone(), target.base.clone());
        loops.push(tokio::spawn(async move { participant_loop(i as u64, base_url, token, stop_at, counters).await }));
    }
    let started = Instant::now();
    let mut peak_rss = 0;
    while Instant::now() < stop_at {
        tokio::time::sleep(Duration::from_secs(1)).await;
        progress.set_position(started.elapsed().as_secs());
        peak_rss = peak_rss.max(target.server_stats().map(|s| s.rss_kib).unwrap_or(0));
    }
    for l in loops {
        l.await.map_err(|e| e.to_string())?;
    }
    progress.finish_and_clear();

    // Everyone has left: wait for the room's task to end, then compare.
    let mut end = Snapshot::take(target).await;
    for _ in 0..60 {
        if end.rooms == Some(0)
            && end.files <= base.files.map(|f| f + SLACK_FILES)
            && end.tasks <= base.tasks.map(|t| t + SLACK_TASKS)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        end = Snapshot::take(target).await;
    }
    let errors = counters.errors.load(Ordering::Relaxed);
    let files_back = matches!((base.files, end.files), (Some(b), Some(e)) if e <= b + SLACK_FILES);
    let tasks_back = matches!((base.tasks, end.tasks), (Some(b), Some(e)) if e <= b + SLACK_TASKS);
    let heap_back = matches!((base.heap_bytes, end.heap_bytes), (Some(b), Some(e)) if e <= b + SLACK_HEAP_BYTES);
    let result = json!({
        "workload": "soak",
        "participants": n,
        "duration_s": duration.as_secs_f64(),
        "joins": counters.joins.load(Ordering::Relaxed),
        "leaves": counters.leaves.load(Ordering::Relaxed),
        "errors": errors,
        "server_open_files_base": base.files, "server_open_files_end": end.files,
        "server_tasks_base": base.tasks, "server_tasks_end": end.tasks,
        "server_rooms_end": end.rooms,
        "server_rss_base_kib": base.rss_kib, "server_rss_peak_kib": peak_rss, "server_rss_end_kib": end.rss_kib,
        "server_heap_base_bytes": base.heap_bytes, "server_heap_end_bytes": end.heap_bytes,
        "back_to_baseline": files_back && tasks_back && heap_back && end.rooms == Some(0),
    });
    if errors > 0 || !files_back || !tasks_back || !heap_back || end.rooms != Some(0) {
        return Err(format!("the soak did not come back clean: {result:#}"));
    }
    Ok(result)
}

/// Server figures at one moment.
struct Snapshot {
    files: Option<usize>,
    tasks: Option<usize>,
    rooms: Option<usize>,
    rss_kib: Option<u64>,
    heap_bytes: Option<i64>,
}

impl Snapshot {
    async fn take(target: &mut Target) -> Self {
        let runtime = target.server_runtime().await;
        Self {
            files: target.server_open_files(),
            tasks: runtime.as_ref().and_then(|r| r["tasks"].as_u64()).map(|t| t as usize),
            rooms: runtime.as_ref().and_then(|r| r["rooms"].as_u64()).map(|t| t as usize),
            rss_kib: target.server_stats().map(|s| s.rss_kib),
            heap_bytes: runtime.as_ref().and_then(|r| r["heap_bytes"].as_i64()),
        }
    }
}

/// Join, stay, leave, pause, until `stop_at`; each stay is a fresh client (a left client is
/// done for good).
async fn participant_loop(seed: u64, base_url: String, token: String, stop_at: Instant, counters: Arc<Counters>) {
    let mut rng = convene_core::reconnect::SplitMix64::new(seed);
    let mut between = |(lo, hi): (u64, u64)| Duration::from_millis(lo + rng.next_u64() % (hi - lo));
    // Spread the first joins over the first pause.
    tokio::time::sleep(between(PAUSE_MS)).await;
    while Instant::now() + Duration::from_secs(1) < stop_at {
        let stay = between(STAY_MS).min(stop_at.saturating_duration_since(Instant::now()));
        let pause = between(PAUSE_MS);
        let mut options = InitOptions::new(base_url.clone(), token.clone());
        options.request_timeout = Duration::from_secs(30);
        options.reconnect = ReconnectPolicy { max_attempts: 5, ..ReconnectPolicy::default() };
        let stayed = async {
            let meeting = Meeting::init(options).await.map_err(|e| e.to_string())?;
            meeting.join().await.map_err(|e| e.to_string())?;
            counters.joins.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(stay).await;
            meeting.leave().await.map_err(|e| e.to_string())?;
            counters.leaves.fetch_add(1, Ordering::Relaxed);
            Ok::<(), String>(())
        };
        if let Err(e) = stayed.await {
            eprintln!("convene-load soak: a stay failed: {e}");
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(pause).await;
    }
}
