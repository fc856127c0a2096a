//! The participants' side: each one's bookkeeping ([`Slot`]: its plan, its native client and the
//! events it emitted) and its scripted life: init and join (retried through the faults), then its
//! fate: leave, be cut off, or be kicked by the host's client or by REST.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use convene_client::{Event, InitOptions, Meeting, ReconnectPolicy, RoomState};
use futures_util::StreamExt;
use serde_json::json;

use super::context::{unheld, until, Ctx};
use super::plan::Fate;

/// One participant.
pub struct Slot {
    /// `host` or `p{i}`.
    pub name: String,
    /// Its participant id (REST).
    pub participant_id: String,
    /// Its participant token.
    pub token: String,
    /// What happens to it.
    pub fate: Fate,
    /// When it joins, ms after the start.
    pub join_at: u64,
    /// When it acts on its fate, ms after the start.
    pub act_at: u64,
    /// Its own listening address on the proxy (its tag).
    pub url: String,
    /// Its native client, once initialised.
    pub meeting: OnceLock<Meeting>,
    /// Every event its client emitted, in order.
    pub events: Arc<Mutex<Vec<Event>>>,
    /// Its join has gone through.
    pub joined: AtomicBool,
}

impl Slot {
    /// Its native client, once initialised.
    pub fn meeting(&self) -> Option<&Meeting> {
        self.meeting.get()
    }

    /// Its room state, once initialised.
    pub fn state(&self) -> Option<RoomState> {
        self.meeting().map(|m| m.self_().room_state())
    }

    /// Its client's terminal `roomLeft` has reached [`Slot::events`]. The event stream is read by a
    /// task of its own, so it can trail [`Slot::state`]; `roomLeft` is the last event a client
    /// emits, so once it is in, every event before it is too.
    pub fn saw_terminal_room_left(&self) -> bool {
        self.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::RoomLeft { state } if state.room_state().is_terminal()))
    }

    /// The peer id of its current stay.
    pub fn peer_id(&self) -> Option<String> {
        self.meeting().and_then(|m| m.self_().id())
    }

    /// The other peers its client holds.
    pub fn roster(&self) -> BTreeSet<String> {
        self.meeting().map(|m| m.participants().joined().into_iter().map(|p| p.id).collect()).unwrap_or_default()
    }

    /// Its name, state and last events, for failure messages.
    pub fn tail(&self) -> String {
        let events = self.events.lock().unwrap();
        let from = events.len().saturating_sub(8);
        let names: Vec<String> = events[from..].iter().map(|e| e.payload().to_string()).collect();
        format!("{} (state {:?}): last events {}", self.name, self.state(), names.join(", "))
    }
}

/// The native client's options: quick reconnection, many attempts, a seeded jitter.
fn options(url: &str, token: &str, seed: u64) -> InitOptions {
    let mut o = InitOptions::new(url, token);
    o.reconnect =
        ReconnectPolicy { initial_delay_ms: 40, max_delay_ms: 300, max_attempts: 400, attempt_timeout_ms: 1_500 };
    o.request_timeout = Duration::from_secs(8);
    o.seed = Some(seed);
    o
}

/// One participant's life: init (retried), join (retried until the server has it), then its fate.
pub async fn participant(ctx: Arc<Ctx>, i: usize) -> Result<(), String> {
    let slot = ctx.slots[i].clone();
    tokio::time::sleep_until(ctx.at(slot.join_at)).await;
    let mut tries = 0;
    let meeting = loop {
        match Meeting::init(options(&slot.url, &slot.token, ctx.seed ^ ((i as u64) << 20))).await {
            Ok(m) => break m,
            Err(e) => {
                tries += 1;
                ctx.counters.init_retries.fetch_add(1, Ordering::Relaxed);
                if tries > 200 {
                    return Err(format!("{}: init never worked: {e}", slot.name));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let mut stream = meeting.events();
    let sink = slot.events.clone();
    tokio::spawn(async move {
        while let Some(e) = stream.next().await {
            sink.lock().unwrap().push(e);
        }
    });
    let _ = slot.meeting.set(meeting.clone());
    let mut tries = 0;
    loop {
        match meeting.join().await {
            Ok(()) => break,
            // The join reached the server but its answer was cut: the client resumes on its own.
            Err(_) if meeting.self_().room_state() != RoomState::Init => break,
            Err(e) => {
                tries += 1;
                ctx.counters.join_retries.fetch_add(1, Ordering::Relaxed);
                if tries > 200 {
                    return Err(format!("{}: join never worked: {e}", slot.name));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    slot.joined.store(true, Ordering::Relaxed);
    if slot.fate == Fate::Stay {
        return Ok(());
    }
    tokio::time::sleep_until(ctx.at(slot.act_at)).await;
    let _acting = unheld(&ctx).await;
    let joined = || meeting.self_().room_joined();
    match slot.fate {
        Fate::Stay => Ok(()),
        Fate::Leave => {
            until(&format!("{} joined, to leave", slot.name), Duration::from_secs(30), joined).await?;
            meeting.leave().await.map_err(|e| format!("{}: leave failed: {e}", slot.name))
        }
        Fate::Partition => {
            until(&format!("{} joined, to be cut off", slot.name), Duration::from_secs(30), joined).await?;
            ctx.counters.partitions.fetch_add(1, Ordering::Relaxed);
            ctx.proxy.partition(i, ctx.mode.away_grace + Duration::from_secs(2));
            Ok(())
        }
        Fate::Kick { by_rest } => kick(&ctx, &slot, by_rest).await,
    }
}

/// Kicks a participant, retrying through cuts until the server has done it.
async fn kick(ctx: &Ctx, slot: &Slot, by_rest: bool) -> Result<(), String> {
    let target = slot.meeting().unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let peer_id = loop {
        if let Some(p) = target.self_().id() {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let session = loop {
        if let Some(s) = target.meta().session_id() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut first = true;
    loop {
        if Instant::now() > deadline {
            return Err(format!("{}: never kicked ({})", slot.name, slot.tail()));
        }
        if !first {
            ctx.counters.kick_retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        first = false;
        // An earlier attempt may have worked with its answer cut.
        if ctx.outcome_of(&session, &peer_id).await.as_deref() == Some("kicked") {
            return Ok(());
        }
        if by_rest {
            let body = json!({"participant_ids": [slot.participant_id]});
            let path = format!("/meetings/{}/active-session/kick", ctx.meeting_id);
            match ctx.rest.call(true, "POST", &path, Some(body)).await {
                Ok((200, _)) => {
                    ctx.counters.kicks_by_rest.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Ok((404 | 429 | 503, _)) | Err(_) => continue,
                Ok((status, v)) => return Err(format!("REST kick of {} answered {status}: {v}", slot.name)),
            }
        } else {
            let Some(host) = ctx.host().meeting() else { continue };
            if !host.self_().room_joined() || host.participants().get(&peer_id).is_none() {
                continue;
            }
            if host.participants().kick(&peer_id).await.is_ok() {
                ctx.counters.kicks_by_host.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        }
    }
}
