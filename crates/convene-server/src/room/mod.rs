//! Rooms: one task per meeting drives that meeting's [`convene_room::Room`], the sans-IO machine
//! that holds its live state (session, peers, event log, recording). Connections and REST
//! handlers talk to the task through a bounded channel, so every change to a session is
//! serialised in one place and fan-out needs no locks. The task owns only what does IO: the
//! connections' queues, the clock, the store, the webhook outbox and the recording files.

mod clustered;
mod driver;
mod files;
mod log_writer;
mod outputs;
mod owned;
mod refusal;
mod relay;
mod relay_wire;
mod start_locks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use convene_core::permissions::Permissions;
use convene_core::proto::{ClientMessage, CloseCode, ErrorCode};
use tokio::sync::{mpsc, oneshot, watch, Notify};

use crate::cluster::node::ClusterNode;
use crate::model::Meeting;
use crate::store::Store;

use clustered::Elsewhere;
pub(crate) use clustered::ORPHAN_SWEEP_EVERY;
pub(crate) use convene_room::{ApiCommand, ApiReply, Arrival, RecordingAction, Refusal, Restored, RestoredPeer};
pub(crate) use files::recording_path;

/// What a connection task is told to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send this text frame.
    Frame(Utf8Bytes),
    /// Close the socket with this code and reason.
    Close(CloseCode, CloseReason),
}

/// A close frame's reason: one of the server's own, or one relayed from the meeting's owner.
pub(crate) type CloseReason = std::borrow::Cow<'static, str>;

/// A room's handle on one WebSocket connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    /// Unique per connection.
    pub id: u64,
    /// Frames to the client (bounded).
    pub tx: mpsc::Sender<Outgoing>,
    /// Closes the connection at once, whatever is queued.
    pub kill: Arc<Notify>,
}

impl ConnHandle {
    /// Queues a frame; when the queue is full the client is too slow: its connection is closed at
    /// once (it resumes) and false is returned, so that the caller forgets it.
    pub(crate) fn offer(&self, frame: Utf8Bytes) -> bool {
        if self.tx.try_send(Outgoing::Frame(frame)).is_ok() {
            return true;
        }
        tracing::warn!(conn = self.id, "client cannot keep up; disconnecting it");
        self.kill.notify_one();
        false
    }

    /// Closes the connection after what is queued on it, or at once if the close cannot be
    /// queued.
    pub(crate) fn close(&self, code: CloseCode, reason: impl Into<CloseReason>) {
        if self.tx.try_send(Outgoing::Close(code, reason.into())).is_err() {
            self.kill.notify_one();
        }
    }
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// A connection id unique in this process (for local connections and relayed ones alike).
pub(crate) fn next_conn_id() -> u64 {
    NEXT_CONN.fetch_add(1, Ordering::Relaxed)
}

impl ConnHandle {
    /// A new handle, queueing at most `capacity` frames, and the receiving end for the connection
    /// task.
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { id: next_conn_id(), tx, kill: Arc::new(Notify::new()) }, rx)
    }
}

/// The permissions of an app's preset as a room applies them ([`Store::preset_permissions`]);
/// when the store fails, the built-in preset of that name, else none.
pub(crate) async fn permissions_of(store: &dyn Store, app_id: &str, preset_name: &str) -> Permissions {
    store.preset_permissions(app_id, preset_name).await.unwrap_or_else(|e| {
        tracing::error!(preset = %preset_name, error = %e, "store failure reading a preset");
        Permissions::built_in(preset_name).unwrap_or_default()
    })
}

/// A message to a room.
#[derive(Debug)]
pub(crate) enum RoomCommand {
    /// A connection sent `hello` with a valid token.
    Attach {
        /// The connection.
        conn: ConnHandle,
        /// Who it is.
        arrival: Arrival,
    },
    /// A connection sent a command.
    Frame {
        /// The connection.
        conn_id: u64,
        /// The command.
        msg: ClientMessage,
    },
    /// A connection sent a frame that could not be decoded.
    BadFrame {
        /// The connection.
        conn_id: u64,
        /// The error code to answer.
        code: ErrorCode,
        /// What was wrong.
        message: String,
    },
    /// A connection closed.
    Detach {
        /// The connection.
        conn_id: u64,
    },
    /// A REST action.
    Api {
        /// The action.
        command: ApiCommand,
        /// Where the answer goes.
        reply: oneshot::Sender<ApiReply>,
    },
}

/// What a room task uses besides its machine: the store, the webhook outbox, where recordings
/// go, the server's base URL and timings, and the server's stop signal.
#[derive(Clone)]
pub(crate) struct RoomDeps {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Wakes the webhook delivery task when a room's writes queued deliveries.
    pub webhook_wake: Arc<Notify>,
    /// Where recordings are written.
    pub recordings_dir: PathBuf,
    /// The server's own base URL (for download links).
    pub base_url: String,
    /// How long a dropped peer may resume.
    pub away_grace: Duration,
    /// How long an idle room lingers.
    pub room_idle: Duration,
    /// Frames a connection may have queued.
    pub send_queue: usize,
    /// Becomes true when the server stops.
    pub stopping: watch::Receiver<bool>,
    /// The room tasks still running, so that a stopping server can wait for their last writes.
    pub tasks: RoomTasks,
    /// In cluster mode, this node: rooms run only for the meetings it owns, and the others'
    /// commands are relayed to their owners.
    pub cluster: Option<Arc<ClusterNode>>,
    /// The counters of `GET /metrics` (frames out, store write latency).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Why no room could take a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRoom {
    /// The meeting does not exist.
    NoSuchMeeting,
    /// The store or the cluster failed, or this node may not act now: try again.
    Unavailable,
}

/// Counts the running room tasks; [`RoomTasks::all_stopped`] waits until none runs.
#[derive(Clone, Default)]
pub(crate) struct RoomTasks(Arc<TaskCount>);

#[derive(Default)]
struct TaskCount {
    running: AtomicU64,
    one_stopped: Notify,
}

/// Held by a running room task; dropping it counts the task as stopped.
pub(crate) struct RoomTaskGuard(RoomTasks);

impl RoomTasks {
    /// Counts a task that starts now, until the guard is dropped.
    pub(crate) fn started(&self) -> RoomTaskGuard {
        self.0.running.fetch_add(1, Ordering::SeqCst);
        RoomTaskGuard(self.clone())
    }

    /// Waits until no room task runs (each has applied what it submitted to the store).
    pub(crate) async fn all_stopped(&self) {
        loop {
            let stopped = self.0.one_stopped.notified();
            tokio::pin!(stopped);
            // Registered before the count is read, so a task stopping in between is not missed.
            stopped.as_mut().enable();
            if self.0.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            stopped.await;
        }
    }
}

impl Drop for RoomTaskGuard {
    fn drop(&mut self) {
        (self.0).0.running.fetch_sub(1, Ordering::SeqCst);
        (self.0).0.one_stopped.notify_waiters();
    }
}

/// The meetings' room tasks, by meeting id (shared by the registry and the tasks, which leave
/// it when they end).
#[derive(Clone, Default)]
pub(crate) struct Registry(Arc<Mutex<HashMap<String, mpsc::Sender<RoomCommand>>>>);

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<RoomCommand>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open channel of a meeting's room, if one runs.
    fn open(&self, meeting_id: &str) -> Option<mpsc::Sender<RoomCommand>> {
        self.lock().get(meeting_id).filter(|tx| !tx.is_closed()).cloned()
    }

    /// Removes a room's entry if it is still `tx`.
    fn forget(&self, meeting_id: &str, tx: &mpsc::Sender<RoomCommand>) {
        let mut map = self.lock();
        if map.get(meeting_id).is_some_and(|t| t.same_channel(tx)) {
            map.remove(meeting_id);
        }
    }

    /// Removes a room's entry once its channel is closed.
    pub(crate) fn forget_closed(&self, meeting_id: &str) {
        let mut map = self.lock();
        if map.get(meeting_id).is_some_and(|t| t.is_closed()) {
            map.remove(meeting_id);
        }
    }
}

/// The registry of room tasks, by meeting id: starts a meeting's task on its first command.
pub(crate) struct Rooms {
    registry: Registry,
    deps: RoomDeps,
    /// In cluster mode, one start at a time per meeting.
    starting: start_locks::StartLocks,
}

/// How often a REST command is tried on a room that was restarting (it ended idle as the
/// command came, or moved to another node).
const ASK_TRIES: u32 = 3;

/// Commands a room may have queued.
pub(crate) const ROOM_QUEUE: usize = 4096;

impl Rooms {
    /// No rooms yet; each starts with `deps`.
    pub(crate) fn new(deps: RoomDeps) -> Self {
        Self { registry: Registry::default(), deps, starting: start_locks::StartLocks::default() }
    }

    /// Sends a command to a meeting's room, starting the room if needed. Fails only when the
    /// meeting does not exist (or the server is shutting down).
    pub(crate) async fn send(&self, app_id: &str, meeting_id: &str, cmd: RoomCommand) -> Result<(), RoomCommand> {
        let mut cmd = cmd;
        for _ in 0..3 {
            let Ok(tx) = self.sender(app_id, meeting_id).await else { return Err(cmd) };
            match tx.send(cmd).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => {
                    // The room ended between lookup and send: forget it and start a new one.
                    self.registry.forget(meeting_id, &tx);
                    cmd = back;
                }
            }
        }
        Err(cmd)
    }

    /// Asks a room something from the REST API and waits for the answer; a room that was
    /// restarting is asked again, a few times. `None` when the meeting does not exist.
    pub(crate) async fn ask(&self, app_id: &str, meeting_id: &str, command: ApiCommand) -> Option<ApiReply> {
        let mut answer = None;
        for attempt in 1..=ASK_TRIES {
            let (reply, answered) = oneshot::channel();
            let cmd = RoomCommand::Api { command: command.clone(), reply };
            self.send(app_id, meeting_id, cmd).await.ok()?;
            answer = answered.await.ok();
            if answer != Some(ApiReply::Refused(Refusal::Restarting)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
        answer
    }

    /// The sender of a meeting's room (starting it if needed), for connections that send many
    /// commands. In cluster mode, the room runs here only if this node owns the meeting (it
    /// claims it if nobody does); otherwise the sender is a relay's, to the owner.
    pub(crate) async fn sender(&self, app_id: &str, meeting_id: &str) -> Result<mpsc::Sender<RoomCommand>, NoRoom> {
        if let Some(tx) = self.registry.open(meeting_id) {
            return Ok(tx);
        }
        let meeting = match self.deps.store.get_meeting(app_id, meeting_id).await {
            Ok(meeting) => meeting.ok_or(NoRoom::NoSuchMeeting)?,
            Err(e) => {
                tracing::error!(error = %e, "store failure looking up a meeting");
                return Err(NoRoom::Unavailable);
            }
        };
        match self.deps.cluster.clone() {
            None => Ok(self.start(app_id, meeting, None, None)),
            Some(node) => self.start_clustered(&node, app_id, meeting, Elsewhere::Relay).await,
        }
    }

    /// Starts a meeting's room unless one runs already; returns its sender.
    fn start(
        &self,
        app_id: &str,
        meeting: Meeting,
        restored: Option<Restored>,
        owner: Option<owned::Owner>,
    ) -> mpsc::Sender<RoomCommand> {
        let mut map = self.registry.lock();
        // Another caller may have started the room while the meeting was looked up.
        if let Some(tx) = map.get(&meeting.id).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        map.insert(meeting.id.clone(), tx.clone());
        drop(map);
        driver::spawn(self.deps.clone(), self.registry.clone(), app_id.to_owned(), meeting, rx, restored, owner);
        tx
    }

    /// Starts the room of a session that was live when the server stopped: its peers are away
    /// and may resume within the grace period. On one node only; in cluster mode, see
    /// [`Rooms::restore_owned`].
    pub(crate) fn restore(&self, app_id: &str, meeting: Meeting, restored: Restored) {
        self.start(app_id, meeting, Some(restored), None);
    }

    /// Tells every live meeting of `app_id` something (a preset change, say), as [`Rooms::tell_live`]:
    /// the rooms running here, and in cluster mode the meetings other nodes own.
    pub(crate) async fn ask_live(&self, app_id: &str, command: impl Fn() -> ApiCommand) {
        let mut meetings: Vec<String> = self.registry.lock().keys().cloned().collect();
        if let Some(node) = &self.deps.cluster {
            match node.owned_elsewhere(app_id).await {
                Ok(elsewhere) => meetings.extend(elsewhere),
                Err(e) => tracing::warn!(error = %e, "could not list the meetings other nodes run"),
            }
        }
        meetings.sort();
        meetings.dedup();
        for meeting_id in meetings {
            let _ = self.tell_live(app_id, &meeting_id, command()).await;
        }
    }

    /// Tells a meeting's room something only if the room runs, here or (in cluster mode) on any
    /// node; never starts one, since a room that starts later reads the store. The room's answer,
    /// if one took the command.
    pub(crate) async fn tell_live(&self, app_id: &str, meeting_id: &str, command: ApiCommand) -> Option<ApiReply> {
        if let Some(tx) = self.registry.open(meeting_id) {
            let (reply, answered) = oneshot::channel();
            // A room that ended meanwhile needs nothing: the next one reads the store.
            tx.send(RoomCommand::Api { command, reply }).await.ok()?;
            return answered.await.ok();
        }
        if self.deps.cluster.is_some() && self.is_live(meeting_id).await {
            return self.ask(app_id, meeting_id, command).await;
        }
        None
    }

    /// Whether a meeting's room runs: here, or in cluster mode on any node.
    pub(crate) async fn is_live(&self, meeting_id: &str) -> bool {
        if self.registry.open(meeting_id).is_some() {
            return true;
        }
        match &self.deps.cluster {
            None => false,
            Some(node) => node.is_owned(meeting_id).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not learn whether a meeting is owned; taking it as live");
                true
            }),
        }
    }

    /// Meetings with a running room task.
    pub(crate) fn live_count(&self) -> usize {
        self.registry.lock().len()
    }

    /// Waits until every room task has stopped, after the server's stop signal: each applies
    /// the writes it submitted and lets their answers out first.
    pub(crate) async fn all_stopped(&self) {
        self.deps.tasks.all_stopped().await;
    }
}

/// The live session of meeting `meeting_id` as the store has it, ready to restore, if it has one.
pub(crate) async fn live_session_of(
    store: &dyn Store,
    app_id: &str,
    meeting_id: &str,
) -> crate::store::StoreResult<Option<Restored>> {
    match store.live_sessions(Some((app_id, meeting_id))).await?.pop() {
        Some((session, peers)) => Ok(Some(restored_from(store, session, peers).await?)),
        None => Ok(None),
    }
}

/// A live session and its peers as the store has them, as a room restores them (peers whose
/// participant was deleted meanwhile are left out).
pub(crate) async fn restored_from(
    store: &dyn Store,
    session: crate::store::LiveSessionRow,
    peers: Vec<crate::store::LivePeerRow>,
) -> crate::store::StoreResult<Restored> {
    let mut restored_peers = Vec::new();
    for p in peers {
        if let Some((participant, _)) = store.participant_by_id(&p.participant_id).await? {
            let permissions = permissions_of(store, &session.app_id, &participant.preset_name).await;
            restored_peers.push(RestoredPeer {
                peer_id: p.peer_id,
                participant: participant.info(),
                permissions,
                // Stored empty when the stay went by no name of its own.
                display_name: Some(p.display_name).filter(|name| !name.is_empty()),
                pinned: p.pinned,
            });
        }
    }
    Ok(Restored {
        session_id: session.id,
        started_at: session.started_at,
        last_seq: session.last_seq,
        peers: restored_peers,
        log: None,
    })
}
