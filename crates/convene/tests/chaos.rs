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
//! convene --test chaos -- --ignored`).

#[path = "chaos/hooks.rs"]
mod hooks;
#[path = "chaos/proxy.rs"]
mod proxy;
#[path = "chaos/rng.rs"]
mod rng;
#[path = "chaos/wire.rs"]
mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use convene::{Actor, EndReason, Event, InitOptions, Meeting, PermissionsPatch, ReconnectPolicy, RoomState};
use convene_core::proto::{ResumeRefusal, SessionEvent};
use convene_server::{DataLocation, RunningServer, ServerConfig, Timings};
use futures_util::StreamExt;
use serde_json::{json, Value};

use hooks::{Answer, Hooks};
use proxy::{Noise, Proxy};
use rng::Rng;
use wire::Wire;

const ADMIN: &str = "cvn_chaos_admin_token";

/// How big and how hard a run is.
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// Participants per seed (the host included), inclusive.
    sizes: (u64, u64),
    /// Length of the chaos phase, ms, inclusive.
    chaos_ms: (u64, u64),
    /// The server's away grace.
    away_grace: Duration,
    /// The server's idle timeout (clients ping every 10 s).
    idle_timeout: Duration,
    /// Chance of one global pause longer than the away grace (after a quiet moment, so that no
    /// one is away when it starts: connections stay open, the server keeps everyone).
    over_grace_pause_chance: f64,
    /// One global pause longer than the idle timeout, which is longer than the clients' ping
    /// interval, and shorter than the away grace: the server closes the silent connections, the
    /// clients resume after it.
    idle_pause: bool,
    /// Chance that one participant is cut off for longer than the away grace.
    partition_chance: f64,
    /// Chance of hanging the downlink of the host and some others, then cutting them.
    hang_chance: f64,
}

impl Mode {
    /// The default run: 20 to 60 participants; every 20th seed (10, 30, ...) has the pause
    /// longer than the idle timeout, with timings to match.
    fn default_for(seed: u64) -> Self {
        let mut m = Mode {
            sizes: (20, 60),
            chaos_ms: (2_500, 3_500),
            away_grace: Duration::from_secs(6),
            idle_timeout: Duration::from_secs(30),
            over_grace_pause_chance: 0.2,
            idle_pause: false,
            partition_chance: 0.2,
            hang_chance: 0.5,
        };
        if seed % 20 == 10 {
            m.away_grace = Duration::from_secs(20);
            m.idle_timeout = Duration::from_secs(12);
            m.idle_pause = true;
            m.over_grace_pause_chance = 0.0;
            m.partition_chance = 0.0;
        }
        m
    }

    /// The long run: 100 to 200 participants (seed 1 has 200), longer chaos, and the pause longer
    /// than the idle timeout in every seed.
    fn long_for(seed: u64) -> Self {
        Mode {
            sizes: if seed == 1 { (200, 200) } else { (100, 200) },
            chaos_ms: (6_000, 9_000),
            away_grace: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(12),
            over_grace_pause_chance: 0.0,
            idle_pause: true,
            partition_chance: 0.5,
            hang_chance: 0.7,
        }
    }
}

/// What happens to a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// In until the end: `ended`.
    Stay,
    /// Leaves: `left`.
    Leave,
    /// Kicked by the host's client or by REST: `kicked`.
    Kick { by_rest: bool },
    /// Cut off longer than the away grace: `failed` (the server expires the stay).
    Partition,
}

impl Fate {
    fn final_state(self) -> RoomState {
        match self {
            Fate::Stay => RoomState::Ended,
            Fate::Leave => RoomState::Left,
            Fate::Kick { .. } => RoomState::Kicked,
            Fate::Partition => RoomState::Failed,
        }
    }
}

/// One participant.
struct Slot {
    name: String,
    participant_id: String,
    token: String,
    fate: Fate,
    join_at: u64,
    act_at: u64,
    url: String,
    meeting: OnceLock<Meeting>,
    events: Arc<Mutex<Vec<Event>>>,
    joined: AtomicBool,
}

impl Slot {
    fn meeting(&self) -> Option<&Meeting> {
        self.meeting.get()
    }

    fn state(&self) -> Option<RoomState> {
        self.meeting().map(|m| m.self_().room_state())
    }

    fn peer_id(&self) -> Option<String> {
        self.meeting().and_then(|m| m.self_().id())
    }

    fn roster(&self) -> BTreeSet<String> {
        self.meeting().map(|m| m.participants().joined().into_iter().map(|p| p.id).collect()).unwrap_or_default()
    }

    fn tail(&self) -> String {
        let events = self.events.lock().unwrap();
        let from = events.len().saturating_sub(8);
        let names: Vec<String> = events[from..].iter().map(|e| e.payload().to_string()).collect();
        format!("{} (state {:?}): last events {}", self.name, self.state(), names.join(", "))
    }
}

/// Counters for the report.
#[derive(Debug, Default)]
struct Counters {
    join_retries: AtomicU64,
    init_retries: AtomicU64,
    kicks_by_host: AtomicU64,
    kicks_by_rest: AtomicU64,
    kick_retries: AtomicU64,
    patches: AtomicU64,
    patch_retries: AtomicU64,
    rest_retries: AtomicU64,
    pauses: AtomicU64,
    pause_ms: AtomicU64,
    refusal_windows: AtomicU64,
    partitions: AtomicU64,
    hangs: AtomicU64,
    recording_toggles: AtomicU64,
}

/// REST calls, directly (the test's oracle) or through the proxy (the test's actions).
#[derive(Clone)]
struct Rest {
    http: reqwest::Client,
    direct: String,
    proxied: String,
}

impl Rest {
    async fn call(
        &self,
        via_proxy: bool,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let base = if via_proxy { &self.proxied } else { &self.direct };
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .timeout(Duration::from_secs(10));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A direct call that must succeed.
    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call(false, "GET", path, None).await.expect("direct REST call");
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Every item of a paged list.
    async fn all(&self, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for page in 1.. {
            let sep = if path.contains('?') { '&' } else { '?' };
            let v = self.get(&format!("{path}{sep}per_page=100&page_no={page}")).await;
            let data = &v["data"];
            let items = data.as_array().or_else(|| data["sessions"].as_array()).cloned().unwrap_or_default();
            let n = items.len();
            out.extend(items);
            if n < 100 {
                break;
            }
        }
        out
    }
}

struct Ctx {
    seed: u64,
    mode: Mode,
    server: RunningServer,
    proxy: Proxy,
    wire: Arc<Wire>,
    rest: Rest,
    meeting_id: String,
    slots: Vec<Arc<Slot>>,
    start: Instant,
    /// The last `can_spotlight` value each participant was given (by index), and to which peer.
    spotlight: Mutex<BTreeMap<usize, (bool, String)>>,
    recording: AtomicBool,
    /// Set during long pauses: scripted actions wait (a leave sent into a long pause is lost when
    /// the server closes the silent connection, and only the away grace removes the peer).
    hold: AtomicBool,
    /// Scripted actions under way (a long pause starts once there are none).
    acting: AtomicU64,
    counters: Counters,
}

impl Ctx {
    fn at(&self, ms: u64) -> tokio::time::Instant {
        (self.start + Duration::from_millis(ms)).into()
    }

    fn host(&self) -> &Slot {
        &self.slots[0]
    }

    /// The outcome the store recorded for each stay of the session: peer id → (participant id,
    /// outcome, left_at).
    fn stays(&self, session_id: &str) -> BTreeMap<String, (String, Option<String>, Option<String>)> {
        let rows = self
            .server
            .state
            .store()
            .tx(|t| {
                let mut stmt = t.prepare(
                    "SELECT peer_id, participant_id, outcome, left_at FROM session_peers WHERE session_id = ?1",
                )?;
                let rows = stmt
                    .query_map([session_id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            (r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?),
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .expect("store query");
        rows.into_iter().collect()
    }

    fn outcome_of(&self, session_id: &str, peer_id: &str) -> Option<String> {
        self.stays(session_id).get(peer_id).and_then(|(_, o, _)| o.clone())
    }

    fn session_id(&self) -> Option<String> {
        self.host().meeting().and_then(|m| m.meta().session_id())
    }
}

async fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits while a long pause holds scripted actions, then counts one action under way until the
/// guard is dropped.
async fn unheld(ctx: &Ctx) -> Acting<'_> {
    loop {
        let _ = until("the end of a long pause", Duration::from_secs(60), || !ctx.hold.load(Ordering::SeqCst)).await;
        ctx.acting.fetch_add(1, Ordering::SeqCst);
        if !ctx.hold.load(Ordering::SeqCst) {
            return Acting(ctx);
        }
        ctx.acting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A scripted action under way.
struct Acting<'a>(&'a Ctx);

impl Drop for Acting<'_> {
    fn drop(&mut self) {
        self.0.acting.fetch_sub(1, Ordering::SeqCst);
    }
}

fn timings(mode: &Mode) -> Timings {
    Timings {
        away_grace: mode.away_grace,
        handshake_timeout: Duration::from_secs(3),
        idle_timeout: mode.idle_timeout,
        webhook_retry_base: Duration::from_millis(20),
        webhook_max_attempts: 12,
        room_idle: Duration::from_secs(60),
        outgoing_queue: 1024,
    }
}

/// The per-seed plan: who does what when.
fn plan(rng: &mut Rng, mode: &Mode, n: usize, chaos_ms: u64) -> Vec<(Fate, u64, u64)> {
    let mut out = vec![(Fate::Stay, 0, 0)];
    let partition = (rng.chance(mode.partition_chance)).then(|| 1 + rng.below(n as u64 - 1) as usize);
    for i in 1..n {
        let storm = rng.chance(0.4);
        let join_at = if storm { 0 } else { rng.range(0, chaos_ms / 2) };
        let act_at = rng.range(join_at + 300, chaos_ms);
        let fate = if Some(i) == partition {
            Fate::Partition
        } else {
            match rng.below(100) {
                0..=13 => Fate::Leave,
                14..=19 => Fate::Kick { by_rest: false },
                20..=23 => Fate::Kick { by_rest: true },
                _ => Fate::Stay,
            }
        };
        out.push((fate, join_at, act_at));
    }
    out
}

fn options(url: &str, token: &str, seed: u64) -> InitOptions {
    let mut o = InitOptions::new(url, token);
    o.reconnect =
        ReconnectPolicy { initial_delay_ms: 40, max_delay_ms: 300, max_attempts: 400, attempt_timeout_ms: 1_500 };
    o.request_timeout = Duration::from_secs(8);
    o.seed = Some(seed);
    o
}

/// One participant's life: init (retried), join (retried until the server has it), then its fate.
async fn participant(ctx: Arc<Ctx>, i: usize) -> Result<(), String> {
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
        if ctx.outcome_of(&session, &peer_id).as_deref() == Some("kicked") {
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

/// The host's permission patches: `can_spotlight` set on participants who stay, one at a time.
async fn patches(ctx: Arc<Ctx>, mut rng: Rng, chaos_ms: u64) -> Result<(), String> {
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
async fn recording(ctx: Arc<Ctx>, at: u64) -> Result<(), String> {
    tokio::time::sleep_until(ctx.at(at)).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if Instant::now() > deadline {
            return Err("the recording never started".into());
        }
        let body = json!({"meeting_id": ctx.meeting_id});
        match ctx.rest.call(true, "POST", "/recordings", Some(body)).await {
            Ok((201, _)) => break,
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

const CALM: Noise = Noise { delay_chance: 0.0, delay_max_ms: 0, mid_cut_chance: 0.0 };
const BASE_NOISE: Noise = Noise { delay_chance: 0.02, delay_max_ms: 25, mid_cut_chance: 0.002 };
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
async fn faults(ctx: Arc<Ctx>, mut rng: Rng, until_ms: u64) {
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

/// What one seed did, for the report.
#[derive(Debug, Default, Clone)]
struct Report {
    seed: u64,
    participants: usize,
    millis: u128,
    connections: u64,
    cuts: u64,
    mid_cuts: u64,
    refused: u64,
    refusal_windows: u64,
    pauses: u64,
    pause_ms: u64,
    delayed_chunks: u64,
    partitions: u64,
    hangs: u64,
    resumes: u64,
    wire_resumes: u64,
    resync_snapshots: u64,
    resume_refusals: u64,
    unapplied_after_cut: u64,
    ghost_stays: u64,
    leaves_by_expiry: u64,
    join_retries: u64,
    kicks_by_host: u64,
    kicks_by_rest: u64,
    kick_retries: u64,
    patches: u64,
    patch_retries: u64,
    kick_all_attempts: u64,
    webhook_events: u64,
    webhook_attempts: u64,
    webhook_500: u64,
    webhook_dropped: u64,
    fates: BTreeMap<String, u64>,
}

async fn run_seed(seed: u64, mode: Mode) -> Result<Report, String> {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let n = rng.range(mode.sizes.0, mode.sizes.1) as usize;
    let chaos_ms = rng.range(mode.chaos_ms.0, mode.chaos_ms.1);
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: DataLocation::Memory,
        admin_token: Some(ADMIN.into()),
        base_url: None,
        timings: timings(&mode),
        limits: convene_server::limits::Limits::default(),
    };
    let server = convene_server::start(config).await.map_err(|e| e.to_string())?;
    let (account, app) = server.default_app.clone();
    let wire = Arc::new(Wire::default());
    let proxy = Proxy::new(server.addr, seed, wire.clone());
    let backend_tag = n;
    let backend_url = proxy.listen(backend_tag).await;
    let kit = format!("/client/v4/accounts/{account}/realtime/kit/{app}");
    let rest = Rest {
        http: reqwest::Client::new(),
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
        let (participant_id, token) = server.add_participant(&meeting_id, &name, preset).map_err(|e| e.to_string())?;
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
    let mut report = result?;
    report.seed = seed;
    report.participants = n;
    report.millis = started.elapsed().as_millis();
    Ok(report)
}

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
        tasks.push(tokio::spawn(participant(ctx.clone(), i)));
    }
    tasks.push(tokio::spawn(patches(ctx.clone(), rng.fork(1), chaos_ms)));
    let recording_at = rng.range(chaos_ms / 5, chaos_ms * 3 / 5);
    tasks.push(tokio::spawn(recording(ctx.clone(), recording_at)));
    let fault_task = tokio::spawn(faults(ctx.clone(), rng.fork(2), chaos_ms));
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(120), t).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => return Err(format!("a task panicked: {e}")),
            Err(_) => return Err("a participant's actions did not finish in 120 s".into()),
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
    if let Some(count) = kicked_count {
        if count != stayers.len() as u64 {
            errors.push(format!("kick-all removed {count}, expected {}", stayers.len()));
        }
    }
    let ended = until("everyone in to end", Duration::from_secs(30), || {
        stayers.iter().all(|i| ctx.slots[*i].state() == Some(RoomState::Ended))
    })
    .await;
    if let Err(e) = ended {
        let who: Vec<String> = stayers
            .iter()
            .filter(|i| ctx.slots[**i].state() != Some(RoomState::Ended))
            .map(|i| ctx.slots[*i].tail())
            .collect();
        return Err(format!("{e}: {}", who.join("; ")));
    }

    // Final states and each client's own story.
    for (i, slot) in ctx.slots.iter().enumerate() {
        let expected = slot.fate.final_state();
        if slot.state() != Some(expected) {
            errors.push(format!("{} should be {expected}: {}", slot.name, slot.tail()));
        }
        let events = slot.events.lock().unwrap().clone();
        let terminal: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(e, Event::RoomLeft { state } if state.room_state().is_terminal()))
            .collect();
        if terminal.len() != 1 {
            errors.push(format!("{}: {} terminal roomLeft events", slot.name, terminal.len()));
        }
        let fresh = events.iter().filter(|e| matches!(e, Event::RoomJoined { reconnected: false })).count();
        if fresh != 1 {
            errors.push(format!("{}: {fresh} roomJoined without reconnection", slot.name));
        }
        report.resumes += events.iter().filter(|e| matches!(e, Event::RoomJoined { reconnected: true })).count() as u64;
        if expected == RoomState::Ended {
            let ends: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::SessionEnded { .. })).collect();
            match ends.as_slice() {
                [Event::SessionEnded { end }]
                    if end.reason == EndReason::HostEndedMeeting
                        && end.ended_by == Actor::Api
                        && end.session_id == session_id => {}
                other => errors.push(format!("{}: sessionEnded events {other:?}", slot.name)),
            }
            // Patched permissions arrived.
            if let Some((v, _)) = ctx.spotlight.lock().unwrap().get(&i) {
                let got = slot.meeting().unwrap().self_().permissions().can_spotlight;
                if got != *v {
                    errors.push(format!("{}: can_spotlight {got}, the last patch set {v}", slot.name));
                }
            }
        }
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
    let drained = until("the webhook outbox to drain", Duration::from_secs(30), || {
        ctx.server.state.store().outbox_counts().is_ok_and(|c| c.iter().all(|(status, _)| status != "pending"))
    })
    .await;
    if let Err(e) = drained {
        errors.push(e);
    }
    check_webhooks(ctx, hooks, webhook_id, &session_id, &mut errors, &mut report);

    let stats = ctx.proxy.stats();
    report.connections = stats.connections.load(Ordering::Relaxed);
    report.cuts = stats.cuts.load(Ordering::Relaxed);
    report.mid_cuts = stats.mid_cuts.load(Ordering::Relaxed);
    report.refused = stats.refused.load(Ordering::Relaxed);
    report.delayed_chunks = stats.delayed.load(Ordering::Relaxed);
    let c = &ctx.counters;
    report.refusal_windows = c.refusal_windows.load(Ordering::Relaxed);
    report.pauses = c.pauses.load(Ordering::Relaxed);
    report.pause_ms = c.pause_ms.load(Ordering::Relaxed);
    report.partitions = c.partitions.load(Ordering::Relaxed);
    report.hangs = c.hangs.load(Ordering::Relaxed);
    report.join_retries = c.join_retries.load(Ordering::Relaxed);
    report.kicks_by_host = c.kicks_by_host.load(Ordering::Relaxed);
    report.kicks_by_rest = c.kicks_by_rest.load(Ordering::Relaxed);
    report.kick_retries = c.kick_retries.load(Ordering::Relaxed);
    report.patches = c.patches.load(Ordering::Relaxed);
    report.patch_retries = c.patch_retries.load(Ordering::Relaxed);
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors.join("\n"))
    }
}

/// Whether the room has settled: everyone where their fate puts them, the session's present peers
/// exactly those who stay, each of them joined and holding that roster, patches and the recording
/// state delivered.
fn converged(ctx: &Ctx, stayers: &[usize], present: &BTreeSet<String>) -> Result<(), String> {
    for slot in &ctx.slots {
        let want = match slot.fate {
            Fate::Stay => RoomState::Joined,
            other => other.final_state(),
        };
        if slot.state() != Some(want) {
            return Err(format!("{} is not {want}: {}", slot.name, slot.tail()));
        }
    }
    let expected: BTreeSet<String> = stayers.iter().filter_map(|i| ctx.slots[*i].peer_id()).collect();
    if &expected != present {
        return Err(format!("the session holds {present:?}, the stayers are {expected:?}"));
    }
    let recording = ctx.recording.load(Ordering::Relaxed);
    for i in stayers {
        let slot = &ctx.slots[*i];
        let me = slot.peer_id().unwrap_or_default();
        let others: BTreeSet<String> = expected.iter().filter(|p| **p != me).cloned().collect();
        let roster = slot.roster();
        if roster != others {
            let extra: Vec<&String> = roster.difference(&others).collect();
            let missing: Vec<&String> = others.difference(&roster).collect();
            return Err(format!(
                "{} holds {} peers, the server {}: extra {extra:?}, missing {missing:?}",
                slot.name,
                roster.len(),
                others.len()
            ));
        }
        if let Some((v, peer)) = ctx.spotlight.lock().unwrap().get(i) {
            if Some(peer) != slot.peer_id().as_ref() {
                return Err(format!("{} was patched as {peer}, another stay than its own", slot.name));
            }
            if slot.meeting().unwrap().self_().permissions().can_spotlight != *v {
                return Err(format!("{} lacks its last patch ({v}): {}", slot.name, patch_story(ctx, *i)));
            }
        }
        if recording && slot.meeting().unwrap().recording().state() != convene::RecordingState::Recording {
            return Err(format!("{} does not see the recording", slot.name));
        }
    }
    Ok(())
}

/// What the wire and the client say about a participant's permission patches (for diagnosis).
fn patch_story(ctx: &Ctx, i: usize) -> String {
    let mut story = Vec::new();
    for s in ctx.wire.signalling(i) {
        let resume = s.hello.as_ref().and_then(|h| h.as_ref()).map(|r| r.last_seq);
        story.push(format!(
            "conn {} resume {resume:?} welcome {:?} spotlight {:?}",
            s.conn, s.welcome, s.welcome_spotlight
        ));
        for (seq, e) in &s.events {
            match e {
                SessionEvent::PermissionsUpdated { patch, .. } => {
                    story.push(format!("  {seq} patch {:?}", patch.can_spotlight))
                }
                SessionEvent::Joined { .. } => story.push(format!("  {seq} snapshot")),
                _ => {}
            }
        }
    }
    for e in ctx.slots[i].events.lock().unwrap().iter() {
        match e {
            Event::PermissionsUpdate { patch, .. } => {
                story.push(format!("client: permissionsUpdate {:?}", patch.can_spotlight))
            }
            Event::RoomJoined { reconnected } => story.push(format!("client: roomJoined {reconnected}")),
            _ => {}
        }
    }
    story.join("\n")
}

/// Checks one client's wire record (its final stay) and its own event stream.
fn check_wire_and_events(
    ctx: &Ctx,
    i: usize,
    rosters: &BTreeMap<usize, BTreeSet<String>>,
    truth: &BTreeSet<String>,
    errors: &mut Vec<String>,
    report: &mut Report,
) {
    let slot = &ctx.slots[i];
    let Some(me) = slot.peer_id() else {
        errors.push(format!("{} has no peer id", slot.name));
        return;
    };
    let seen = ctx.wire.signalling(i);
    for s in &seen {
        for g in &s.garbage {
            errors.push(format!("{}: {g}", slot.name));
        }
    }
    let stay: Vec<_> = seen.iter().filter(|s| s.peer() == Some(me.as_str())).collect();
    if stay.is_empty() {
        errors.push(format!("{}: no connection of its stay on the wire", slot.name));
        return;
    }
    let mut effective: Vec<(u64, SessionEvent)> = Vec::new();
    let mut delivered: BTreeSet<u64> = BTreeSet::new();
    let mut last_resume = 0;
    for (k, conn) in stay.iter().enumerate() {
        let mut floor = 0;
        if k == 0 {
            if conn.hello != Some(None) || conn.welcome.as_ref().is_some_and(|(_, resumed)| *resumed) {
                errors.push(format!("{}: its stay did not start with a fresh hello and welcome", slot.name));
            }
        } else {
            match &conn.hello {
                Some(Some(resume)) => {
                    let from = resume.last_seq;
                    if from != 0 && from != last_resume && !delivered.contains(&from) {
                        errors.push(format!("{}: resumed from seq {from}, never given to it", slot.name));
                    }
                    let before = effective.len();
                    effective.retain(|(s, _)| *s <= from);
                    report.unapplied_after_cut += (before - effective.len()) as u64;
                    floor = from;
                    last_resume = from;
                    if conn.welcome.as_ref().is_some_and(|(_, resumed)| *resumed) {
                        report.wire_resumes += 1;
                    }
                }
                other => errors.push(format!("{}: a later connection of its stay said hello {other:?}", slot.name)),
            }
        }
        let mut last = floor;
        for (seq, event) in &conn.events {
            if *seq <= last {
                errors.push(format!(
                    "{}: seq {seq} after {last} on connection {} (resumed from {floor}): delivered twice or out of order",
                    slot.name, conn.conn
                ));
            }
            last = last.max(*seq);
            delivered.insert(*seq);
            effective.push((*seq, event.clone()));
        }
    }
    // A refused resume ends a stay, the way its fate says.
    for (k, conn) in stay.iter().enumerate() {
        let Some(refusal) = &conn.refused else { continue };
        report.resume_refusals += 1;
        let fits = matches!(
            (slot.fate, refusal),
            (Fate::Stay, ResumeRefusal::SessionEnded { .. })
                | (Fate::Kick { .. }, ResumeRefusal::Kicked { .. })
                | (Fate::Partition, ResumeRefusal::Expired)
        );
        if !fits || k + 1 != stay.len() {
            errors.push(format!("{}: resume refused {refusal:?} on connection {k} of {}", slot.name, stay.len()));
        }
    }
    // The roster as the wire told it.
    let mut roster: Option<BTreeSet<String>> = None;
    let mut first_snapshot: Option<BTreeSet<String>> = None;
    for (seq, event) in &effective {
        match event {
            SessionEvent::Joined { room } => {
                let set: BTreeSet<String> = room.peers.iter().map(|p| p.id.clone()).filter(|p| *p != me).collect();
                if roster.is_some() {
                    report.resync_snapshots += 1;
                } else {
                    first_snapshot = Some(set.clone());
                }
                roster = Some(set);
            }
            SessionEvent::PeerJoined { peer } => {
                let added = roster.as_mut().is_some_and(|r| r.insert(peer.id.clone()));
                if !added {
                    errors.push(format!("{}: wire seq {seq}: {} joined while present", slot.name, peer.id));
                }
            }
            SessionEvent::PeerLeft { peer_id } | SessionEvent::PeerKicked { peer_id, .. } => {
                let removed = roster.as_mut().is_some_and(|r| r.remove(peer_id));
                if !removed {
                    errors.push(format!("{}: wire seq {seq}: {peer_id} left while absent", slot.name));
                }
            }
            _ => {}
        }
    }
    let Some(held) = rosters.get(&i) else { return };
    let others: BTreeSet<String> = truth.iter().filter(|p| **p != me).cloned().collect();
    if roster.as_ref() != Some(&others) {
        errors.push(format!("{}: the wire's roster differs from the server's truth", slot.name));
    }
    // The client's own events, replayed on its first snapshot.
    let mut set = first_snapshot.unwrap_or_default();
    let mut joined = false;
    for e in slot.events.lock().unwrap().iter() {
        match e {
            Event::RoomJoined { reconnected: false } => joined = true,
            Event::ParticipantJoined { participant } => {
                let added = joined && set.insert(participant.id.clone());
                if !added {
                    errors.push(format!("{}: participantJoined {} while present", slot.name, participant.id));
                }
            }
            Event::ParticipantLeft { participant } => {
                let removed = set.remove(&participant.id);
                if !removed {
                    errors.push(format!("{}: participantLeft {} while absent", slot.name, participant.id));
                }
            }
            _ => {}
        }
    }
    if &set != held {
        errors.push(format!("{}: its events give {} peers, it holds {}", slot.name, set.len(), held.len()));
    }
    if held != &others {
        errors.push(format!("{}: it holds {} peers, the server {}", slot.name, held.len(), others.len()));
    }
}

/// The store's record of the session against the clients.
async fn check_store(ctx: &Ctx, session_id: &str, ended_at: &str, errors: &mut Vec<String>, report: &mut Report) {
    let stays = ctx.stays(session_id);
    let rest_peers = ctx.rest.all(&format!("/sessions/{session_id}/participants")).await;
    if rest_peers.len() != stays.len() {
        errors.push(format!("REST lists {} stays, the store {}", rest_peers.len(), stays.len()));
    }
    for p in &rest_peers {
        let id = p["id"].as_str().unwrap_or_default();
        let joined_at = p["joined_at"].as_str().unwrap_or_default();
        let left_at = p["left_at"].as_str().unwrap_or_default();
        if left_at.is_empty() || left_at < joined_at || left_at > ended_at {
            errors.push(format!("stay {id}: joined {joined_at}, left {left_at:?}, session ended {ended_at}"));
        }
        if stays.get(id).map(|(_, _, l)| l.as_deref().unwrap_or_default()) != Some(left_at) {
            errors.push(format!("stay {id}: REST and the store disagree"));
        }
    }
    let by_participant: BTreeMap<&str, &Slot> = ctx.slots.iter().map(|s| (s.participant_id.as_str(), &**s)).collect();
    let mut seen_final: BTreeSet<String> = BTreeSet::new();
    for (peer_id, (participant_id, outcome, left_at)) in &stays {
        let Some(slot) = by_participant.get(participant_id.as_str()) else {
            errors.push(format!("stay {peer_id} of an unknown participant {participant_id}"));
            continue;
        };
        let outcome = outcome.as_deref().unwrap_or("none");
        if slot.peer_id().as_deref() == Some(peer_id.as_str()) {
            seen_final.insert(slot.name.clone());
            let ok = match slot.fate {
                Fate::Stay => outcome == "ended" && left_at.as_deref() == Some(ended_at),
                Fate::Kick { .. } => outcome == "kicked",
                Fate::Leave => {
                    // A leave whose frame was cut is learned from the away grace running out.
                    if outcome == "expired" {
                        report.leaves_by_expiry += 1;
                    }
                    outcome == "left" || outcome == "expired"
                }
                Fate::Partition => outcome == "expired",
            };
            if !ok {
                errors.push(format!("{} ({:?}): the store says {outcome}, left at {left_at:?}", slot.name, slot.fate));
            }
        } else {
            // A join whose answer was cut: the client joined again; the first stay must have gone.
            report.ghost_stays += 1;
            let by_rest_kick = slot.fate == (Fate::Kick { by_rest: true });
            if !(outcome == "expired" || by_rest_kick && outcome == "kicked") {
                errors.push(format!("{}: an abandoned stay {peer_id} ended {outcome}", slot.name));
            }
        }
    }
    for slot in &ctx.slots {
        if !seen_final.contains(&slot.name) {
            errors.push(format!("{}: its stay is not in the store", slot.name));
        }
    }
}

/// Webhooks against the store and the session.
fn check_webhooks(
    ctx: &Ctx,
    hooks: &Hooks,
    webhook_id: &str,
    session_id: &str,
    errors: &mut Vec<String>,
    report: &mut Report,
) {
    let counts = ctx.server.state.store().outbox_counts().unwrap_or_default();
    let rows: u64 = counts.iter().map(|(_, n)| n).sum();
    if counts.iter().any(|(status, _)| status != "delivered") {
        errors.push(format!("outbox not all delivered: {counts:?}"));
    }
    let by_uuid = hooks.by_uuid();
    let all = hooks.deliveries();
    report.webhook_events = by_uuid.len() as u64;
    report.webhook_attempts = all.len() as u64;
    report.webhook_500 = all.iter().filter(|d| d.answer == Answer::Error).count() as u64;
    report.webhook_dropped = all.iter().filter(|d| d.answer == Answer::Dropped).count() as u64;
    if by_uuid.len() as u64 != rows {
        errors.push(format!("{} distinct rtk-uuids, {rows} outbox rows", by_uuid.len()));
    }
    let mut keys: BTreeMap<String, u64> = BTreeMap::new();
    for (uuid, attempts) in &by_uuid {
        if !attempts.iter().any(|d| d.answer == Answer::Ok) {
            errors.push(format!("webhook {uuid} never accepted"));
        }
        if attempts.iter().any(|d| d.body != attempts[0].body || d.webhook_id != webhook_id) {
            errors.push(format!("webhook {uuid}: retries differ"));
        }
        let v: Value = serde_json::from_str(&attempts[0].body).unwrap_or(Value::Null);
        let event = v["event"].as_str().unwrap_or("?").to_owned();
        // The recording's last updates come after the session is gone from the room: their
        // `meeting` object has no session id then (only `recording.roomUUID` names it).
        let session_of = match event.as_str() {
            "recording.statusUpdate" => &v["recording"]["roomUUID"],
            _ => &v["meeting"]["sessionId"],
        };
        if session_of != session_id {
            errors.push(format!("webhook {event} of another session: {v}"));
        }
        let key = match event.as_str() {
            "meeting.participantJoined" | "meeting.participantLeft" => {
                format!("{event} {}", v["participant"]["peerId"].as_str().unwrap_or("?"))
            }
            "recording.statusUpdate" => format!("{event} {}", v["recording"]["status"].as_str().unwrap_or("?")),
            "meeting.ended" => format!("{event} {}", v["reason"].as_str().unwrap_or("?")),
            _ => event,
        };
        *keys.entry(key).or_default() += 1;
    }
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    expected.insert("meeting.started".into(), 1);
    expected.insert("meeting.ended HOST_ENDED_MEETING".into(), 1);
    let toggles = ctx.counters.recording_toggles.load(Ordering::Relaxed);
    for s in ["INVOKED", "RECORDING", "UPLOADING", "UPLOADED"] {
        expected.insert(format!("recording.statusUpdate {s}"), 1);
    }
    expected.insert("recording.statusUpdate RECORDING".into(), 1 + toggles);
    if toggles > 0 {
        expected.insert("recording.statusUpdate PAUSED".into(), toggles);
    }
    for (peer_id, (_, outcome, _)) in ctx.stays(session_id) {
        expected.insert(format!("meeting.participantJoined {peer_id}"), 1);
        if outcome.as_deref() != Some("ended") {
            expected.insert(format!("meeting.participantLeft {peer_id}"), 1);
        }
    }
    if keys != expected {
        let missing: Vec<String> = expected
            .iter()
            .filter(|(k, n)| keys.get(*k) != Some(n))
            .map(|(k, n)| format!("{k} x{n} (got {})", keys.get(k).copied().unwrap_or(0)))
            .collect();
        let extra: Vec<&String> = keys.keys().filter(|k| !expected.contains_key(*k)).collect();
        errors.push(format!("webhook events differ: missing or repeated {missing:?}, unexpected {extra:?}"));
    }
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let count = std::env::var("CHAOS_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20u64);
    (1..=count).collect()
}

async fn run(mode_for: fn(u64) -> Mode, seeds: Vec<u64>) {
    let started = Instant::now();
    let mut reports = Vec::new();
    for seed in seeds {
        let outcome =
            tokio::time::timeout(Duration::from_secs(300), tokio::spawn(run_seed(seed, mode_for(seed)))).await;
        let failure = match outcome {
            Ok(Ok(Ok(report))) => {
                println!(
                    "seed {seed:>3}: {:>3} participants {:>6} ms | conns {:>4} cuts {:>3} mid-frame {:>3} refused {:>3} pauses {} ({} ms) hung {} partitions {} | resumes {:>3} (wire {:>3}, snapshots {:>2}, refused {:>2}) ghosts {} leaves-by-expiry {} | kicks {}+{} patches {} | webhooks {} events, {} attempts ({} x500, {} dropped) | {:?}",
                    report.participants,
                    report.millis,
                    report.connections,
                    report.cuts,
                    report.mid_cuts,
                    report.refused,
                    report.pauses,
                    report.pause_ms,
                    report.hangs,
                    report.partitions,
                    report.resumes,
                    report.wire_resumes,
                    report.resync_snapshots,
                    report.resume_refusals,
                    report.ghost_stays,
                    report.leaves_by_expiry,
                    report.kicks_by_host,
                    report.kicks_by_rest,
                    report.patches,
                    report.webhook_events,
                    report.webhook_attempts,
                    report.webhook_500,
                    report.webhook_dropped,
                    report.fates,
                );
                reports.push(report);
                continue;
            }
            Ok(Ok(Err(e))) => e,
            Ok(Err(e)) => format!("panicked: {e}"),
            Err(_) => "did not finish in 300 s".to_owned(),
        };
        panic!("chaos seed {seed} failed (replay with CHAOS_SEED={seed}):\n{failure}");
    }
    let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    println!(
        "chaos: {} seeds, {} participants, {:.1} s | connections {}, cuts {} + {} mid-frame, refused {} in {} windows, pauses {} ({} ms), hung connections {}, partitions {}, delayed chunks {} | resumes {} (wire {}, snapshot resyncs {}, refused {}), events written but not applied before a cut {}, ghost stays {}, leaves learned by expiry {}, join retries {} | kicks {} by host + {} by REST ({} retries), patches {} ({} retries), kick-all attempts {} | webhook events {}, attempts {} ({} answered 500, {} dropped)",
        reports.len(),
        reports.iter().map(|r| r.participants).sum::<usize>(),
        started.elapsed().as_secs_f64(),
        sum(|r| r.connections),
        sum(|r| r.cuts),
        sum(|r| r.mid_cuts),
        sum(|r| r.refused),
        sum(|r| r.refusal_windows),
        sum(|r| r.pauses),
        sum(|r| r.pause_ms),
        sum(|r| r.hangs),
        sum(|r| r.partitions),
        sum(|r| r.delayed_chunks),
        sum(|r| r.resumes),
        sum(|r| r.wire_resumes),
        sum(|r| r.resync_snapshots),
        sum(|r| r.resume_refusals),
        sum(|r| r.unapplied_after_cut),
        sum(|r| r.ghost_stays),
        sum(|r| r.leaves_by_expiry),
        sum(|r| r.join_retries),
        sum(|r| r.kicks_by_host),
        sum(|r| r.kicks_by_rest),
        sum(|r| r.kick_retries),
        sum(|r| r.patches),
        sum(|r| r.patch_retries),
        sum(|r| r.kick_all_attempts),
        sum(|r| r.webhook_events),
        sum(|r| r.webhook_attempts),
        sum(|r| r.webhook_500),
        sum(|r| r.webhook_dropped),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_sessions() {
    run(Mode::default_for, seeds()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 100 to 200 participants per seed, pauses longer than the keep-alive ping interval"]
async fn chaos_sessions_long() {
    let seeds = if std::env::var("CHAOS_SEED").is_ok() || std::env::var("CHAOS_SEEDS").is_ok() {
        seeds()
    } else {
        (1..=5).collect()
    };
    run(Mode::long_for, seeds).await;
}
