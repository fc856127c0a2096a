//! `big-room`: a session of N (10,000 in the issue) participants. Reports the server's memory
//! per connected peer, and what a newcomer pays: the size of the roster snapshot it receives,
//! the time to decode and apply it, and its client core's memory per remote participant.
//!
//! The crowd uses a preset without the participant list: N native clients that each held a
//! roster of N would need N² roster entries in this one process (about 40 GB at N = 10,000).
//! The newcomer has the list, so it receives all N.

use std::time::Duration;

use serde_json::{json, Value};

use crate::newcomer::join_and_measure;
use crate::target::Target;

/// Runs the workload against `target` (whose server should run in a child process, for its
/// memory to be read apart). The server's memory per peer is given twice: as resident memory
/// (what the machine pays, allocator overhead included) and as live Rust heap bytes.
pub async fn big_room(target: &mut Target, n: usize) -> Result<Value, String> {
    let listless = target.listless_preset().await?;
    let (meeting, tokens) = target.meeting_with(n, &listless).await?;
    let newcomer = target.participants(&meeting, 1, "group_call_participant", "newcomer").await?;
    let clients = target.clients(&tokens).await?;
    // The server's memory with every participant created but none connected (a client connects
    // when it joins), then with all N connected and joined.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = target.server_stats();
    let heap_before = target.server_runtime().await.and_then(|r| r["heap_bytes"].as_i64());
    target.join_all(&clients).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = target.server_stats();
    let heap_after = target.server_runtime().await.and_then(|r| r["heap_bytes"].as_i64());
    let per_peer = match (before, after) {
        (Some(b), Some(a)) => Some(((a.rss_kib as f64 - b.rss_kib as f64) * 1024.0 / n as f64).round()),
        _ => None,
    };
    // The newcomer joins on a thread of its own, so that its allocations are counted alone.
    let ws_url = format!("ws://{}/v1/signal", target.base.trim_start_matches("http://"));
    let token = newcomer[0].clone();
    let cost = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(join_and_measure(&ws_url, &token))
    })
    .await
    .map_err(|e| e.to_string())??;
    if cost.roster_len != n {
        return Err(format!("the newcomer saw {} of {n} participants", cost.roster_len));
    }
    let joined = clients.iter().filter(|c| c.meeting.self_().room_joined()).count();
    if joined != n {
        return Err(format!("{joined} of {n} stayed joined"));
    }
    Ok(json!({
        "workload": "big-room",
        "participants": n,
        "server_rss_before_join_kib": before.map(|s| s.rss_kib),
        "server_rss_all_joined_kib": after.map(|s| s.rss_kib),
        "server_bytes_per_peer": per_peer,
        "server_heap_bytes_per_peer": match (heap_before, heap_after) {
            (Some(b), Some(a)) => Some(((a - b) as f64 / n as f64).round()),
            _ => None,
        },
        "newcomer_roster_len": cost.roster_len,
        "snapshot_bytes": cost.snapshot_bytes,
        "snapshot_decode_and_apply_ms": cost.decode_and_apply.as_secs_f64() * 1000.0,
        "client_bytes_per_remote_participant": (cost.retained_bytes as f64 / n as f64).round(),
    }))
}
