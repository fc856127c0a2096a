//! One participant driven by hand: the client core over a raw WebSocket on the current thread,
//! so that the `joined` frame it receives can be weighed (bytes), timed (decode and apply) and
//! the roster it leaves behind counted (heap bytes, by the counting allocator).

use std::time::{Duration, Instant};

use convene_core::proto::{encode_client, MeetingInfo, SelfInfo};
use convene_core::{Command, Config, Output, Participant, RoomState};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::alloc::thread_live_bytes;

/// What joining a big room cost one newcomer.
#[derive(Debug, Clone, Copy)]
pub struct JoinCost {
    /// Remote participants in the roster after the join.
    pub roster_len: usize,
    /// Bytes of the frame that made the participant `joined` (the roster snapshot).
    pub snapshot_bytes: usize,
    /// Time to decode that frame and apply it to the core.
    pub decode_and_apply: Duration,
    /// Heap bytes the core kept after applying it (the roster and its strings).
    pub retained_bytes: i64,
}

/// Joins with `token` at `ws_url` and measures the join. Must run on a current-thread runtime
/// (or `block_on`), so that the core's allocations are counted on one thread.
pub async fn join_and_measure(ws_url: &str, token: &str) -> Result<JoinCost, String> {
    let config = Config::new(token, SelfInfo::default(), MeetingInfo::default());
    let mut core = Participant::new(config);
    let epoch = Instant::now();
    let now = || epoch.elapsed().as_millis() as u64;
    core.command(now(), Command::Join).map_err(|e| e.to_string())?;
    let mut ws = None;
    let deadline = epoch + Duration::from_secs(120);
    let mut outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    loop {
        for output in outputs.drain(..) {
            match output {
                Output::Connect => {
                    let config = Some(convene_client::socket_config());
                    let (s, _) = tokio_tungstenite::connect_async_with_config(ws_url, config, false)
                        .await
                        .map_err(|e| e.to_string())?;
                    ws = Some(s);
                    core.handle_transport_opened(now());
                }
                Output::Transmit(msg) => {
                    let s = ws.as_mut().ok_or("transmit without a connection")?;
                    s.send(Message::Text(encode_client(&msg).into())).await.map_err(|e| e.to_string())?;
                }
                Output::Disconnect => return Err("the server closed the connection during the join".into()),
                Output::Event(_) | Output::Resolved { .. } => {}
            }
        }
        outputs.extend(std::iter::from_fn(|| core.poll_output()));
        if !outputs.is_empty() {
            continue;
        }
        let s = ws.as_mut().ok_or("no connection")?;
        let frame = tokio::time::timeout_at(deadline.into(), s.next())
            .await
            .map_err(|_| "no joined frame within 120 s")?
            .ok_or("the connection closed")?
            .map_err(|e| e.to_string())?;
        let Message::Text(text) = frame else { continue };
        let before = thread_live_bytes();
        let started = Instant::now();
        core.handle_frame(now(), text.as_str()).map_err(|e| e.to_string())?;
        let decode_and_apply = started.elapsed();
        // Events and answers are handed over and gone; frames to send are kept. Count what stays.
        outputs.extend(
            std::iter::from_fn(|| core.poll_output()).filter(|o| matches!(o, Output::Transmit(_) | Output::Connect)),
        );
        let retained_bytes = thread_live_bytes() - before;
        if core.room_state() == RoomState::Joined {
            let roster_len = core.roster().joined().len();
            if let Some(mut s) = ws.take() {
                let _ = s.close(None).await;
            }
            return Ok(JoinCost { roster_len, snapshot_bytes: text.len(), decode_and_apply, retained_bytes });
        }
    }
}
