//! The scripted actions on the session as a whole: the host's permission patches, the recording
//! started over REST, and the REST kick-all through the proxy that ends the session.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_client::PermissionsPatch;
use serde_json::json;

use super::context::{unheld, Ctx};
use super::plan::Fate;
use super::report::Report;
use super::rng::Rng;

/// The host's permission patches: `can_spotlight` set on participants who stay, one at a time.
pub async fn patches(ctx: Arc<Ctx>, mut rng: Rng, chaos_ms: u64) -> Result<(), String> {
    let stayers: Vec<usize> = (1..ctx.slots.len()).filter(|i| ctx.slots[*i].fate == Fate::Stay).collect();
    if stayers.is_empty() {
        return Ok(());
    }
    let count = 2 + ctx.slots.len() / 8;
    let mut times: Vec<u64> = (0..count).map(|_| rng.range(chaos_ms / 4, chaos_ms)).collect();
    times.sort();
    for at in times {
        tokio::time::sleep_until(ctx.at(at)).await;
        let _acting = unheld(&ctx).await;
        let i = *rng.pick(&stayers);
        let value = rng.chance(0.5);
        let slot = ctx.slots[i].clone();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if Instant::now() > deadline {
                return Err(format!("patch of {} never went through", slot.name));
            }
            let ready = (|| {
                // Only once its join is through: before, its peer id may be that of a join
                // whose answer was cut, which it abandons for a new one.
                if !slot.joined.load(Ordering::Relaxed) {
                    return None;
                }
                let host = ctx.host().meeting()?;
                let peer = slot.peer_id()?;
                (host.self_().room_joined() && host.participants().get(&peer).is_some()).then(|| (host.clone(), peer))
            })();
            let Some((host, peer)) = ready else {
                tokio::time::sleep(Duration::from_millis(30)).await;
                continue;
            };
            let patch = PermissionsPatch { can_spotlight: Some(value), ..Default::default() };
            match host.participants().update_permissions(std::slice::from_ref(&peer), patch).await {
                Ok(()) => {
                    ctx.counters.patches.fetch_add(1, Ordering::Relaxed);
                    ctx.spotlight.lock().unwrap().insert(i, (value, peer));
                    break;
                }
                Err(_) => {
                    ctx.counters.patch_retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    Ok(())
}

/// Starts the recording over REST through the proxy, retrying through cuts.
pub async fn recording(ctx: Arc<Ctx>, at: u64) -> Result<(), String> {
    tokio::time::sleep_until(ctx.at(at)).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if Instant::now() > deadline {
            return Err("the recording never started".into());
        }
        let body = json!({"meeting_id": ctx.meeting_id});
        match ctx.rest.call(true, "POST", "/recordings", Some(body)).await {
            Ok((200, _)) => break,
            // 409: no session yet, or an earlier attempt worked with its answer cut.
            Ok((409 | 429 | 503, _)) | Err(_) => {
                ctx.counters.rest_retries.fetch_add(1, Ordering::Relaxed);
                let list = ctx.rest.all(&format!("/recordings?meeting_id={}", ctx.meeting_id)).await;
                if list.iter().any(|r| r["status"] == "RECORDING") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok((status, v)) => return Err(format!("recording start answered {status}: {v}")),
        }
    }
    ctx.recording.store(true, Ordering::Relaxed);
    Ok(())
}

/// The end: a REST kick-all through the proxy, sometimes with cuts around it, retried until the
/// session has ended. Gives the number of participants the kick-all removed, as it answered (none
/// when an earlier attempt ended the session and its answer was cut).
pub async fn end_session(
    ctx: &Arc<Ctx>,
    rng: &mut Rng,
    session_id: &str,
    report: &mut Report,
) -> Result<Option<u64>, String> {
    let end_cut = rng.chance(0.5);
    let mut end_rng = rng.fork(3);
    if end_cut {
        let ctx2 = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(end_rng.range(0, 30))).await;
            ctx2.proxy.cut_some(0.3, &mut end_rng);
        });
    }
    let kick_all_path = format!("/meetings/{}/active-session/kick-all", ctx.meeting_id);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut kicked_count = None;
    loop {
        report.kick_all_attempts += 1;
        match ctx.rest.call(true, "POST", &kick_all_path, None).await {
            Ok((200, v)) => {
                kicked_count = v["data"]["kicked_participants_count"].as_u64();
                break;
            }
            // 404: an earlier attempt ended it and its answer was cut.
            Ok((404, v)) => {
                let s = ctx.rest.get(&format!("/sessions/{session_id}")).await;
                if s["data"]["status"] == "ENDED" {
                    break;
                }
                return Err(format!("kick-all answered 404 with the session live: {v}"));
            }
            Ok((429 | 503, _)) | Err(_) => {}
            Ok((status, v)) => return Err(format!("kick-all answered {status}: {v}")),
        }
        if Instant::now() > deadline {
            return Err("kick-all never went through".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(kicked_count)
}
