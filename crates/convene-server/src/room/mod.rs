//! Rooms: one task per meeting drives that meeting's [`convene_room::Room`], the sans-IO machine
//! that holds its live state (session, peers, event log, recording). Connections and REST
//! handlers talk to the task through a bounded channel, so every change to a session is
//! serialised in one place and fan-out needs no locks. The task owns only what does IO: the
//! connections' queues, the clock, the store, the webhook outbox and the recording files.

mod driver;
mod files;
mod outputs;
mod refusal;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use convene_core::permissions::Permissions;
use convene_core::proto::{ClientMessage, CloseCode, ErrorCode};
use tokio::sync::{mpsc, oneshot, watch, Notify};

use crate::model::Meeting;
use crate::store::Store;

pub(crate) use convene_room::{ApiCommand, ApiReply, Arrival, RecordingAction, Refusal, Restored, RestoredPeer};
pub(crate) use files::recording_path;

/// What a connection task is told to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send this text frame.
    Frame(Utf8Bytes),
    /// Close the socket with this code and reason.
    Close(CloseCode, &'static str),
}

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

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

impl ConnHandle {
    /// A new handle, queueing at most `capacity` frames, and the receiving end for the connection
    /// task.
    pub(crate) fn new(capacity: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { id: NEXT_CONN.fetch_add(1, Ordering::Relaxed), tx, kill: Arc::new(Notify::new()) }, rx)
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
}

/// Commands a room may have queued.
pub(crate) const ROOM_QUEUE: usize = 4096;

impl Rooms {
    /// No rooms yet; each starts with `deps`.
    pub(crate) fn new(deps: RoomDeps) -> Self {
        Self { registry: Registry::default(), deps }
    }

    /// Sends a command to a meeting's room, starting the room if needed. Fails only when the
    /// meeting does not exist (or the server is shutting down).
    pub(crate) async fn send(&self, app_id: &str, meeting_id: &str, cmd: RoomCommand) -> Result<(), RoomCommand> {
        let mut cmd = cmd;
        for _ in 0..3 {
            let Some(tx) = self.sender(app_id, meeting_id).await else { return Err(cmd) };
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

    /// Asks a room something from the REST API and waits for the answer.
    pub(crate) async fn ask(&self, app_id: &str, meeting_id: &str, command: ApiCommand) -> Option<ApiReply> {
        let (reply, answer) = oneshot::channel();
        self.send(app_id, meeting_id, RoomCommand::Api { command, reply }).await.ok()?;
        answer.await.ok()
    }

    /// The sender of a meeting's room (starting it if needed), for connections that send many
    /// commands. `None` when the meeting does not exist.
    pub(crate) async fn sender(&self, app_id: &str, meeting_id: &str) -> Option<mpsc::Sender<RoomCommand>> {
        if let Some(tx) = self.registry.open(meeting_id) {
            return Some(tx);
        }
        let meeting = match self.deps.store.get_meeting(app_id, meeting_id).await {
            Ok(meeting) => meeting?,
            Err(e) => {
                tracing::error!(error = %e, "store failure looking up a meeting");
                return None;
            }
        };
        let mut map = self.registry.lock();
        // Another caller may have started the room while the meeting was looked up.
        if let Some(tx) = map.get(meeting_id).filter(|tx| !tx.is_closed()) {
            return Some(tx.clone());
        }
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        map.insert(meeting_id.to_owned(), tx.clone());
        drop(map);
        driver::spawn(self.deps.clone(), self.registry.clone(), app_id.to_owned(), meeting, rx, None);
        Some(tx)
    }

    /// Starts the room of a session that was live when the server stopped: its peers are away
    /// and may resume within the grace period.
    pub(crate) fn restore(&self, app_id: &str, meeting: Meeting, restored: Restored) {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        self.registry.lock().insert(meeting.id.clone(), tx);
        driver::spawn(self.deps.clone(), self.registry.clone(), app_id.to_owned(), meeting, rx, Some(restored));
    }

    /// Asks every running room `command()` and waits for their answers; rooms that are not
    /// running are not started.
    pub(crate) async fn ask_running(&self, command: impl Fn() -> ApiCommand) {
        let rooms: Vec<mpsc::Sender<RoomCommand>> =
            self.registry.lock().values().filter(|tx| !tx.is_closed()).cloned().collect();
        for tx in rooms {
            let (reply, answer) = oneshot::channel();
            if tx.send(RoomCommand::Api { command: command(), reply }).await.is_ok() {
                let _ = answer.await;
            }
        }
    }

    /// Whether a meeting's room task is running.
    pub(crate) fn is_running(&self, meeting_id: &str) -> bool {
        self.registry.open(meeting_id).is_some()
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
