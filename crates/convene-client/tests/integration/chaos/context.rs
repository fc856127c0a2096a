//! The shared state of one seed's run ([`Ctx`]): the server, the proxy and its wire record, the
//! participants, what the scripted actions did (counters, patches, recording), the hold that long
//! pauses put on scripted actions, and the waiting helpers ([`until`], [`unheld`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_server::store::DeliveryStatus;
use convene_server::RunningServer;

use super::clients::Slot;
use super::plan::Mode;
use super::proxy::Proxy;
use super::rest::Rest;
use super::wire::Wire;

/// Counters for the report.
#[derive(Debug, Default)]
pub struct Counters {
    pub join_retries: AtomicU64,
    pub init_retries: AtomicU64,
    pub kicks_by_host: AtomicU64,
    pub kicks_by_rest: AtomicU64,
    pub kick_retries: AtomicU64,
    pub patches: AtomicU64,
    pub patch_retries: AtomicU64,
    pub rest_retries: AtomicU64,
    pub pauses: AtomicU64,
    pub pause_ms: AtomicU64,
    pub refusal_windows: AtomicU64,
    pub partitions: AtomicU64,
    pub hangs: AtomicU64,
    pub recording_toggles: AtomicU64,
}

/// Everything one seed's tasks share.
pub struct Ctx {
    /// The seed.
    pub seed: u64,
    /// How big and how hard the run is.
    pub mode: Mode,
    /// The server, in this process (on a cluster, its first node; REST goes to it directly).
    pub server: RunningServer,
    /// On a cluster, its PostgreSQL and Redis.
    pub engines: Option<super::cluster::Engines>,
    /// The fault-injecting proxy between the clients and the server.
    pub proxy: Proxy,
    /// What the proxy forwarded.
    pub wire: Arc<Wire>,
    /// REST, direct or through the proxy.
    pub rest: Rest,
    /// The meeting.
    pub meeting_id: String,
    /// The participants, the host first.
    pub slots: Vec<Arc<Slot>>,
    /// The start of the chaos phase.
    pub start: Instant,
    /// The last `can_spotlight` value each participant was given (by index), and to which peer.
    pub spotlight: Mutex<BTreeMap<usize, (bool, String)>>,
    /// The recording has started.
    pub recording: AtomicBool,
    /// Set during long pauses: scripted actions wait (a leave sent into a long pause is lost when
    /// the server closes the silent connection, and only the away grace removes the peer).
    pub hold: AtomicBool,
    /// Scripted actions under way (a long pause starts once there are none).
    pub acting: AtomicU64,
    /// Counters for the report.
    pub counters: Counters,
}

impl Ctx {
    /// The moment `ms` after the start of the chaos phase.
    pub fn at(&self, ms: u64) -> tokio::time::Instant {
        (self.start + Duration::from_millis(ms)).into()
    }

    /// The host (participant 0).
    pub fn host(&self) -> &Slot {
        &self.slots[0]
    }

    /// The outcome the store recorded for each stay of the session: peer id → (participant id,
    /// outcome, left_at).
    pub async fn stays(&self, session_id: &str) -> BTreeMap<String, (String, Option<String>, Option<String>)> {
        if let Some(engines) = &self.engines {
            return super::cluster::stays(&engines.db, session_id).await;
        }
        let session_id = session_id.to_owned();
        let rows = self
            .server
            .sqlite
            .as_ref()
            .expect("a server on SQLite")
            .tx(move |t| {
                let mut stmt = t.prepare(
                    "SELECT peer_id, participant_id, outcome, left_at FROM session_peers WHERE session_id = ?1",
                )?;
                let rows = stmt
                    .query_map([&session_id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            (r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?),
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await
            .expect("store query");
        rows.into_iter().collect()
    }

    /// The outcome the store recorded for one stay, if it has ended.
    pub async fn outcome_of(&self, session_id: &str, peer_id: &str) -> Option<String> {
        self.stays(session_id).await.get(peer_id).and_then(|(_, o, _)| o.clone())
    }

    /// The session, as the host's client knows it.
    pub fn session_id(&self) -> Option<String> {
        self.host().meeting().and_then(|m| m.meta().session_id())
    }
}

/// Waits until `f` holds, checking every 20 ms; an error after `timeout`.
pub async fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Result<(), String> {
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

/// Waits until no webhook delivery is pending, or `timeout`.
pub async fn until_drained(ctx: &Ctx, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let counts = ctx.server.store().outbox_counts().await;
        if counts.is_ok_and(|c| c.iter().all(|(status, _)| *status != DeliveryStatus::Pending)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for the webhook outbox to drain"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits while a long pause holds scripted actions, then counts one action under way until the
/// guard is dropped.
pub async fn unheld(ctx: &Ctx) -> Acting<'_> {
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
pub struct Acting<'a>(&'a Ctx);

impl Drop for Acting<'_> {
    fn drop(&mut self) {
        self.0.acting.fetch_sub(1, Ordering::SeqCst);
    }
}
