//! The fault schedule, run against the proxy during the chaos phase: seeded cuts (some, all, one
//! client), refusal windows, pauses, noise storms, and at most once each the long pause (with
//! scripted actions held and a quiet moment first) and the hang of the host and some others.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use convene_client::RoomState;
use serde_json::json;

use super::context::{until, Ctx};
use super::plan::Fate;
use super::proxy::Noise;
use super::rng::Rng;

/// No noise.
const CALM: Noise = Noise { delay_chance: 0.0, delay_max_ms: 0, mid_cut_chance: 0.0 };
/// The noise of the whole chaos phase.
const BASE_NOISE: Noise = Noise { delay_chance: 0.02, delay_max_ms: 25, mid_cut_chance: 0.002 };
/// A storm of delays and mid-frame cuts, for a moment.
const STORM_NOISE: Noise = Noise { delay_chance: 0.3, delay_max_ms: 80, mid_cut_chance: 0.01 };

/// Waits (at most 5 s) until everyone who has joined and is not gone for good is connected.
async fn quiet(ctx: &Ctx) {
    let _ = until("a quiet moment", Duration::from_secs(5), || {
        ctx.slots.iter().all(|s| {
            !s.joined.load(Ordering::Relaxed)
                || s.fate == Fate::Partition
                || s.state().is_some_and(|st| st == RoomState::Joined || st.is_terminal())
        })
    })
    .await;
}

/// Pauses all forwarding for `ms`.
async fn pause(ctx: &Ctx, ms: u64) {
    ctx.counters.pauses.fetch_add(1, Ordering::Relaxed);
    ctx.counters.pause_ms.fetch_add(ms, Ordering::Relaxed);
    ctx.proxy.pause(true);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ctx.proxy.pause(false);
}

/// The host (who hears every roster change) and a fifth of the others hear nothing while the room
/// goes on and more events than the server's replay window (64 for a connected peer) pile up for
/// them (recording pause/resume toggles over REST, each an event to everyone); then their
/// connections are cut: they resume from a snapshot.
async fn hang(ctx: &Ctx, rng: &mut Rng) {
    if !ctx.recording.load(Ordering::Relaxed) {
        return;
    }
    let list = ctx.rest.all(&format!("/recordings?meeting_id={}", ctx.meeting_id)).await;
    let Some(id) = list.iter().find(|r| r["status"] == "RECORDING").and_then(|r| r["id"].as_str()) else { return };
    let mut tags: BTreeSet<usize> = BTreeSet::from([0]);
    tags.extend((1..ctx.slots.len()).filter(|_| rng.chance(0.2)));
    let hung = ctx.proxy.hang(&tags);
    ctx.counters.hangs.fetch_add(hung.len() as u64, Ordering::Relaxed);
    let pairs = rng.range(35, 45);
    for _ in 0..pairs {
        for action in ["pause", "resume"] {
            let path = format!("/recordings/{id}");
            match ctx.rest.call(false, "PUT", &path, Some(json!({"action": action}))).await {
                Ok((200, _)) => {}
                other => panic!("recording {action} answered {other:?}"),
            }
        }
        ctx.counters.recording_toggles.fetch_add(1, Ordering::Relaxed);
    }
    tokio::time::sleep(Duration::from_millis(rng.range(50, 300))).await;
    ctx.proxy.cut_conns(&hung);
}

/// The fault schedule, one fault at a time with gaps between, until `until_ms` from the start.
pub async fn faults(ctx: Arc<Ctx>, mut rng: Rng, until_ms: u64) {
    let proxy = &ctx.proxy;
    proxy.set_noise(BASE_NOISE);
    let tags = ctx.slots.len() as u64 + 1;
    // The special faults, each at most once, at seeded times.
    let mut hang_at = rng.chance(ctx.mode.hang_chance).then(|| rng.range(until_ms * 3 / 5, until_ms * 4 / 5));
    let long_pause = if ctx.mode.idle_pause {
        Some(ctx.mode.idle_timeout.as_millis() as u64 + rng.range(1_000, 2_000))
    } else if rng.chance(ctx.mode.over_grace_pause_chance) {
        Some(ctx.mode.away_grace.as_millis() as u64 + 1_000)
    } else {
        None
    };
    let mut long_pause_at = long_pause.map(|_| rng.range(until_ms / 3, until_ms / 2));
    let elapsed = |at: &mut Option<u64>| {
        let due = at.is_some_and(|t| ctx.start.elapsed() >= Duration::from_millis(t));
        if due {
            *at = None;
        }
        due
    };
    // A long pause moves the end of the schedule by its length.
    let mut end = Duration::from_millis(until_ms);
    while ctx.start.elapsed() < end {
        tokio::time::sleep(Duration::from_millis(rng.range(100, 350))).await;
        if elapsed(&mut hang_at) {
            hang(&ctx, &mut rng).await;
            continue;
        }
        if elapsed(&mut long_pause_at) {
            ctx.hold.store(true, Ordering::SeqCst);
            proxy.set_noise(CALM);
            let _ =
                until("scripted actions to finish", Duration::from_secs(20), || ctx.acting.load(Ordering::SeqCst) == 0)
                    .await;
            quiet(&ctx).await;
            let ms = long_pause.unwrap_or_default();
            pause(&ctx, ms).await;
            end += Duration::from_millis(ms);
            proxy.set_noise(BASE_NOISE);
            ctx.hold.store(false, Ordering::SeqCst);
            continue;
        }
        match rng.below(100) {
            0..=34 => {
                let fraction = rng.range(5, 30) as f64 / 100.0;
                proxy.cut_some(fraction, &mut rng);
            }
            35..=42 => {
                proxy.cut_some(1.0, &mut rng);
            }
            43..=57 => {
                proxy.cut_tag(rng.below(tags) as usize);
            }
            58..=67 => {
                let ms = rng.range(200, 900);
                ctx.counters.refusal_windows.fetch_add(1, Ordering::Relaxed);
                proxy.refuse_for(Duration::from_millis(ms));
                // Refusing starts with cutting some, so that clients meet the refusal.
                proxy.cut_some(0.3, &mut rng);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            68..=79 => pause(&ctx, rng.range(300, 1_500)).await,
            _ => {
                proxy.set_noise(STORM_NOISE);
                tokio::time::sleep(Duration::from_millis(rng.range(300, 1_000))).await;
                proxy.set_noise(BASE_NOISE);
            }
        }
    }
    proxy.set_noise(CALM);
}
