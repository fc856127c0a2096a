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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::Utf8Bytes;
use convene_core::permissions::Permissions;
use convene_core::proto::{ClientMessage, CloseCode, ErrorCode};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::state::AppState;
use crate::store::Store;

pub use convene_room::{ApiCommand, ApiReply, Arrival, RecordingAction, Refusal, Restored, RestoredPeer};
pub use driver::spawn_restored;
pub use files::recording_path;

/// What a connection task is told to do.
#[derive(Debug)]
pub enum Outgoing {
    /// Send this text frame.
    Frame(Utf8Bytes),
    /// Close the socket with this code and reason.
    Close(CloseCode, &'static str),
}

/// A room's handle on one WebSocket connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
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
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { id: NEXT_CONN.fetch_add(1, Ordering::Relaxed), tx, kill: Arc::new(Notify::new()) }, rx)
    }
}

/// The permissions of an app's preset as a room applies them ([`Store::preset_permissions`]);
/// when the store fails, the built-in preset of that name, else none.
pub fn permissions_of(store: &Store, app_id: &str, preset_name: &str) -> Permissions {
    store.preset_permissions(app_id, preset_name).unwrap_or_else(|e| {
        tracing::error!(preset = %preset_name, error = %e, "store failure reading a preset");
        Permissions::built_in(preset_name).unwrap_or_default()
    })
}

/// A message to a room.
#[derive(Debug)]
pub enum RoomCommand {
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

/// The registry of room tasks, by meeting id.
#[derive(Default)]
pub struct Rooms {
    map: Mutex<HashMap<String, mpsc::Sender<RoomCommand>>>,
}

/// Commands a room may have queued.
pub(crate) const ROOM_QUEUE: usize = 4096;

impl Rooms {
    /// Sends a command to a meeting's room, starting the room if needed. Fails only when the
    /// meeting does not exist (or the server is shutting down).
    pub async fn send(
        &self,
        state: &AppState,
        app_id: &str,
        meeting_id: &str,
        cmd: RoomCommand,
    ) -> Result<(), RoomCommand> {
        let mut cmd = cmd;
        for _ in 0..3 {
            let tx = match self.handle(state, app_id, meeting_id) {
                Some(tx) => tx,
                None => return Err(cmd),
            };
            match tx.send(cmd).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => {
                    // The room ended between lookup and send: forget it and start a new one.
                    self.forget(meeting_id, &tx);
                    cmd = back;
                }
            }
        }
        Err(cmd)
    }

    /// Asks a room something from the REST API and waits for the answer.
    pub async fn ask(&self, state: &AppState, app_id: &str, meeting_id: &str, command: ApiCommand) -> Option<ApiReply> {
        let (reply, answer) = oneshot::channel();
        self.send(state, app_id, meeting_id, RoomCommand::Api { command, reply }).await.ok()?;
        answer.await.ok()
    }

    fn handle(&self, state: &AppState, app_id: &str, meeting_id: &str) -> Option<mpsc::Sender<RoomCommand>> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(meeting_id) {
            if !tx.is_closed() {
                return Some(tx.clone());
            }
        }
        let meeting = state.store().get_meeting(app_id, meeting_id).ok().flatten()?;
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        driver::spawn(state.clone(), app_id.to_owned(), meeting, rx, None);
        map.insert(meeting_id.to_owned(), tx.clone());
        Some(tx)
    }

    /// Registers a room restored at start-up.
    pub(crate) fn insert(&self, meeting_id: &str, tx: mpsc::Sender<RoomCommand>) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).insert(meeting_id.to_owned(), tx);
    }

    /// Removes a room's entry if it is still `tx`.
    pub(crate) fn forget(&self, meeting_id: &str, tx: &mpsc::Sender<RoomCommand>) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(meeting_id).is_some_and(|t| t.same_channel(tx)) {
            map.remove(meeting_id);
        }
    }

    /// Removes a room's entry once its channel is closed.
    pub(crate) fn forget_closed(&self, meeting_id: &str) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(meeting_id).is_some_and(|t| t.is_closed()) {
            map.remove(meeting_id);
        }
    }

    /// The sender of a meeting's room (starting it if needed), for connections that send many
    /// commands. `None` when the meeting does not exist.
    pub fn sender(&self, state: &AppState, app_id: &str, meeting_id: &str) -> Option<mpsc::Sender<RoomCommand>> {
        self.handle(state, app_id, meeting_id)
    }

    /// Asks every running room `command()` and waits for their answers; rooms that are not
    /// running are not started.
    pub async fn ask_running(&self, command: impl Fn() -> ApiCommand) {
        let rooms: Vec<mpsc::Sender<RoomCommand>> = {
            let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.values().filter(|tx| !tx.is_closed()).cloned().collect()
        };
        for tx in rooms {
            let (reply, answer) = oneshot::channel();
            if tx.send(RoomCommand::Api { command: command(), reply }).await.is_ok() {
                let _ = answer.await;
            }
        }
    }

    /// Whether a meeting's room task is running.
    pub fn is_running(&self, meeting_id: &str) -> bool {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).get(meeting_id).is_some_and(|t| !t.is_closed())
    }

    /// Meetings with a running room task.
    pub fn live_count(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
