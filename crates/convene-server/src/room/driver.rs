//! The room task: a thin driver of one meeting's [`Room`]. Each step takes one input (a command
//! from a connection or the REST API, or a timer), hands it to the machine with the time, and
//! applies what comes out ([`outputs`](super::outputs)). It holds no session state: only the
//! connections' queues, the pending REST answers, the open recording files, and the writes of
//! turns not yet applied with the outputs those turns hold back.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use convene_core::proto::CloseCode;
use convene_room::{AppInfo, ConnId, IdSource, LoggedEvent, RequestId, Restored, Room, RoomConfig, WallClock};
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use super::files::RecordingFiles;
use super::outputs::{Release, Turn};
use super::owned::{LinkKey, Owner, OwnerWoke};
use super::{ApiReply, ConnHandle, Refusal, Registry, RoomCommand, RoomDeps};
use crate::model::Meeting;
use crate::store::{PendingWrites, RoomWrite, RoomWritesApplied, Store, StoreResult};
use crate::webhook::now_ms;

/// At most this many turns (inputs) in a row share one batch of writes while more commands are
/// queued (a join storm): one hand-off to the database and one release of their frames, so that
/// each connection gets several frames per wake-up and writes them at once. A turn's frames wait
/// for the group's end, which comes at the latest when the queue is empty.
const GROUP_TURNS: u32 = 64;

/// At most this many groups' writes are submitted and not yet applied; beyond it the room takes
/// no new command until the oldest is applied.
const MAX_GROUPS_IN_FLIGHT: usize = 64;

/// How long the task sleeps when the machine has no timer.
const NO_TIMER_SLEEP: Duration = Duration::from_secs(3600);

/// Random ids (UUID v4) for the machine.
struct RandomIds;

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        crate::store::new_id()
    }
}

/// Where a connection the room knows is.
pub(super) enum ConnEnd {
    /// On this node.
    Local(ConnHandle),
    /// On another node, which relays it (cluster mode).
    Relayed {
        /// The relay's life on that node.
        link: LinkKey,
        /// The connection, by that node's id.
        remote: u64,
    },
}

/// Why a room task stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// Nothing left to do: the meeting is given up.
    Idle,
    /// The server is stopping.
    ServerStopping,
    /// The node may no longer act for the meeting (its lease, its fence or the bus): another
    /// node takes it over.
    Displaced,
}

/// One room task's state: the machine, and the IO it drives.
pub(super) struct Driver {
    pub(super) room: Room,
    pub(super) deps: RoomDeps,
    registry: Registry,
    pub(super) app_id: String,
    /// The connections, by the id the machine knows them by.
    pub(super) conns: HashMap<ConnId, ConnEnd>,
    /// In cluster mode, the owner's side: the fence, the bus, the relayed connections.
    pub(super) owner: Option<Owner>,
    /// A write was refused by the fence: the room must stop, and let nothing more out.
    pub(super) fenced: bool,
    /// REST commands awaiting their answer.
    pub(super) replies: HashMap<RequestId, oneshot::Sender<ApiReply>>,
    next_request: u64,
    pub(super) files: RecordingFiles,
    /// Frames, closes and REST answers of the turn being applied, released once its writes are
    /// done.
    pub(super) held: Vec<Release>,
    /// Store writes and webhook events of the turn not yet submitted.
    pub(super) writes: Vec<RoomWrite>,
    /// Events for the session's log (cluster mode) not yet submitted.
    pub(super) logged: Vec<LoggedEvent>,
    /// The turn's batches submitted so far (before its lookups).
    pub(super) submitted: Vec<PendingWrites>,
    /// Turns whose writes are being applied, oldest first, each holding its frames, closes and
    /// answers until then: the machine goes on with the next input meanwhile.
    pub(super) in_flight: VecDeque<Turn>,
    /// Turns handled since the last group of writes was submitted ([`GROUP_TURNS`]).
    grouped: u32,
}

/// What woke the room task.
enum Woke {
    Command(Option<RoomCommand>),
    Owner(OwnerWoke),
    Timer,
    Applied(Vec<RoomWritesApplied>),
    Stopping,
}

/// Starts a meeting's room task, restoring a live session when `restored` says so, owning the
/// meeting through `owner` in cluster mode. Commands queue in `rx` until the task has read the
/// app's name and started its machine.
pub(super) fn spawn(
    deps: RoomDeps,
    registry: Registry,
    app_id: String,
    meeting: Meeting,
    rx: mpsc::Receiver<RoomCommand>,
    restored: Option<Restored>,
    mut owner: Option<Owner>,
) {
    let running = deps.tasks.started();
    // Every line the room task logs names its meeting (a field of `--log-format json`).
    // (No parent: the REST request or connection that started the room is not its cause.)
    let span = tracing::info_span!(parent: None, "room", meeting_id = %meeting.id);
    let task = async move {
        let _running = running;
        let app = app_info(&*deps.store, &app_id).await;
        let now = Instant::now();
        let config = RoomConfig {
            app,
            meeting: meeting.settings(),
            base_url: deps.base_url.clone(),
            away_grace: deps.away_grace,
            room_idle: deps.room_idle,
            send_queue: deps.send_queue,
            log_events: owner.is_some(),
            clock: WallClock { at: now, unix_ms: now_ms().max(0) as u64 },
        };
        let mut room = Room::new(config, Box::new(RandomIds), now);
        let session_id = restored.as_ref().map(|r| r.session_id.clone());
        let adopted = restored.is_some_and(|r| room.restore(now, r));
        if let Some(owner) = owner.as_mut() {
            let adopted = session_id.filter(|_| adopted);
            owner.start_log(deps.store.clone(), &app_id, adopted);
        }
        let files = RecordingFiles::new(deps.recordings_dir.clone());
        let mut driver = Driver {
            room,
            deps,
            registry,
            app_id,
            conns: HashMap::new(),
            owner,
            fenced: false,
            replies: HashMap::new(),
            next_request: 1,
            files,
            held: Vec::new(),
            writes: Vec::new(),
            logged: Vec::new(),
            submitted: Vec::new(),
            in_flight: VecDeque::new(),
            grouped: 0,
        };
        driver.apply_outputs(true).await;
        let ended = driver.run(rx).await;
        driver.give_up(ended).await;
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
}

/// Waits for the cluster's side of an owning room; never, for a room on one node.
async fn owner_woke(owner: &mut Option<Owner>) -> OwnerWoke {
    match owner {
        Some(owner) => owner.next().await,
        None => std::future::pending().await,
    }
}

/// Waits until the oldest turn in flight has been applied (it stays in the queue; cancelling
/// this loses nothing).
async fn oldest_applied(in_flight: &mut VecDeque<Turn>) -> Vec<RoomWritesApplied> {
    match in_flight.front_mut() {
        Some(turn) => (&mut turn.applied).await,
        None => std::future::pending().await,
    }
}

/// The app's name and account, as webhooks carry them (empty when the store cannot say).
async fn app_info(store: &dyn Store, app_id: &str) -> AppInfo {
    let (name, account) = tokio::join!(store.app_name(app_id), store.app_account(app_id));
    let known = |r: StoreResult<Option<String>>| {
        r.unwrap_or_else(|e| {
            tracing::error!(error = %e, "store failure reading an app");
            None
        })
        .unwrap_or_default()
    };
    AppInfo { id: app_id.to_owned(), name: known(name), account: known(account) }
}

impl Driver {
    async fn run(&mut self, mut rx: mpsc::Receiver<RoomCommand>) -> Ended {
        let meeting_id = self.room.meeting().id.clone();
        tracing::debug!(meeting = %meeting_id, "room started");
        let mut stopping = self.deps.stopping.clone();
        let mut ended = Ended::ServerStopping;
        loop {
            if *stopping.borrow() {
                break;
            }
            if self.fenced {
                ended = Ended::Displaced;
                break;
            }
            let deadline = self.room.poll_timeout().map_or_else(|| Instant::now() + NO_TIMER_SLEEP, |(_, at)| at);
            let writing = !self.in_flight.is_empty();
            // A database that falls behind holds the room back: its queue fills, and the
            // connections' and REST handlers' sends wait.
            let accepting = self.in_flight.len() < MAX_GROUPS_IN_FLIGHT;
            let woke = tokio::select! {
                cmd = rx.recv(), if accepting => Woke::Command(cmd),
                _ = tokio::time::sleep_until(deadline.into()) => Woke::Timer,
                results = oldest_applied(&mut self.in_flight), if writing => Woke::Applied(results),
                woke = owner_woke(&mut self.owner) => Woke::Owner(woke),
                _ = stopping.changed() => Woke::Stopping,
            };
            match woke {
                Woke::Command(Some(cmd)) => self.handle(cmd),
                Woke::Owner(woke) => {
                    if !self.handle_owner(woke) {
                        ended = Ended::Displaced;
                        break;
                    }
                }
                Woke::Command(None) | Woke::Stopping => break,
                Woke::Timer => self.room.handle_timeout(Instant::now()),
                Woke::Applied(results) => {
                    self.turn_applied(results);
                    self.release_applied_turns();
                }
            }
            self.grouped += 1;
            let end_group = rx.is_empty() || self.grouped >= GROUP_TURNS;
            if end_group {
                self.grouped = 0;
            }
            self.apply_outputs(end_group).await;
            if end_group
                && self.in_flight.is_empty()
                && self.room.is_drained(Instant::now())
                && self.close_if_idle(&mut rx)
            {
                ended = Ended::Idle;
                break;
            }
        }
        // What was gathered is submitted and applied, and its answers go out (unless a fence
        // refused the writes: then nothing more goes out).
        self.apply_outputs(true).await;
        while !self.in_flight.is_empty() {
            let results = oldest_applied(&mut self.in_flight).await;
            self.turn_applied(results);
            // Releasing may have dropped a slow connection, which the machine answers.
            self.apply_outputs(true).await;
        }
        if self.fenced {
            ended = Ended::Displaced;
        }
        if ended != Ended::Idle {
            rx.close();
            self.registry.forget_closed(&meeting_id);
            self.hand_over_connections(ended == Ended::ServerStopping);
        }
        tracing::debug!(meeting = %meeting_id, ?ended, "room stopped");
        ended
    }

    /// In cluster mode, after the room stopped: stops taking the meeting's bus traffic, answers
    /// what was queued, and gives the meeting up when the room ended idle (a node that was
    /// displaced or is stopping keeps nothing it could still write with, and another node claims
    /// the meeting).
    async fn give_up(mut self, ended: Ended) {
        let Some(mut owner) = self.owner.take() else { return };
        let meeting_id = owner.fence.meeting_id.clone();
        // Closed first: the bus gives the meeting up only once its receiver is closed.
        owner.close_inbound();
        if let Err(e) = owner.bus().stop_serving(&meeting_id).await {
            tracing::warn!(error = %e, meeting = %meeting_id, "could not stop taking the meeting's bus traffic");
        }
        super::owned::refuse_queued(&mut owner);
        if ended == Ended::Idle {
            if let Err(e) = owner.node().release(&owner.fence).await {
                tracing::warn!(error = %e, meeting = %meeting_id, "could not give the meeting up; it stays owned until the lease runs out");
            }
        }
    }

    /// Hands one command to the machine.
    pub(super) fn handle(&mut self, cmd: RoomCommand) {
        let now = Instant::now();
        match cmd {
            RoomCommand::Attach { conn, arrival } => {
                let id = ConnId(conn.id);
                self.conns.insert(id, ConnEnd::Local(conn));
                self.room.handle_hello(now, id, arrival);
            }
            RoomCommand::Frame { conn_id, msg } => self.room.handle_frame(now, ConnId(conn_id), msg),
            RoomCommand::BadFrame { conn_id, code, message } => {
                self.room.handle_bad_frame(now, ConnId(conn_id), code, message)
            }
            RoomCommand::Detach { conn_id } => {
                self.conns.remove(&ConnId(conn_id));
                self.room.handle_disconnect(now, ConnId(conn_id));
            }
            RoomCommand::Api { command, reply } => {
                let request = RequestId(self.next_request);
                self.next_request += 1;
                self.replies.insert(request, reply);
                self.room.handle_api(now, request, command);
            }
        }
    }

    /// Lets out every turn at the front whose writes are already applied, together: a burst of
    /// turns (a join storm) then reaches each connection's queue as several frames at once, which
    /// its task writes in one go, instead of one frame (and one write) per wake-up.
    fn release_applied_turns(&mut self) {
        while let Some(turn) = self.in_flight.front_mut() {
            let Some(results) = (&mut turn.applied).now_or_never() else { return };
            self.turn_applied(results);
        }
    }

    /// Leaves the registry if nothing is queued; refuses what arrives in the gap.
    fn close_if_idle(&mut self, rx: &mut mpsc::Receiver<RoomCommand>) -> bool {
        if !rx.is_empty() {
            return false;
        }
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                RoomCommand::Api { reply, .. } => {
                    let _ = reply.send(ApiReply::Refused(Refusal::Restarting));
                }
                RoomCommand::Attach { conn, .. } => {
                    conn.close(CloseCode::TryAgainLater, "room restarting; try again");
                    conn.kill.notify_one();
                }
                RoomCommand::Frame { .. } | RoomCommand::BadFrame { .. } | RoomCommand::Detach { .. } => {}
            }
        }
        self.registry.forget_closed(&self.room.meeting().id);
        true
    }
}
