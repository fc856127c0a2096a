//! A room that owns its meeting in cluster mode: what it takes from the bus (REST commands other
//! nodes route to it, and the traffic of clients other nodes relay to it), what it sends them
//! back (one numbered message per relay and event, [`relay_wire`](super::relay_wire)), and the
//! three things that stop it: its node's lease no longer holding, a write refused by its fence,
//! or the bus going away.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_core::proto::{CloseCode, ErrorCode};
use convene_room::{ConnId, LoggedEvent};
use tokio::sync::{mpsc, oneshot, watch};

use super::driver::{ConnEnd, Driver};
use super::log_writer::LogWriter;
use super::relay_wire::{Down, DownOp, Up};
use super::{ApiCommand, ApiReply, Refusal, RoomCommand};
use crate::cluster::bus::{Bus, RoomInbound};
use crate::cluster::node::ClusterNode;
use crate::store::{Fence, PendingWrites, Store};

/// Messages a downlink may have queued before further ones are dropped (the relay then sees
/// the gap and its clients resume).
const DOWNLINK_QUEUE: usize = 8192;

/// How often an idle downlink checks that its node still listens.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// A relay's life on one node: (node, link id).
pub(super) type LinkKey = (String, u64);

/// What woke an owning room from the cluster's side.
pub(super) enum OwnerWoke {
    /// Something came on the meeting's channel.
    Inbound(RoomInbound),
    /// A relaying node no longer listens: its clients are gone.
    LinkGone(LinkKey),
    /// Traffic these nodes relayed was lost on its way in (the room's bus queue was full):
    /// their clients must resume.
    UpsLost(Vec<String>),
    /// The node's lease no longer holds, or the bus went away: the room must stop.
    MustStop,
}

/// The cluster side of a room that owns its meeting.
pub(super) struct Owner {
    /// What every write of the room is conditional on.
    pub(super) fence: Fence,
    node: Arc<ClusterNode>,
    inbound: mpsc::Receiver<RoomInbound>,
    lease: watch::Receiver<bool>,
    links: HashMap<LinkKey, Downlink>,
    /// Relayed connections: (node, the node's connection id) to the room's id and link.
    relayed: HashMap<(String, u64), (ConnId, u64)>,
    gone_tx: mpsc::UnboundedSender<LinkKey>,
    gone: mpsc::UnboundedReceiver<LinkKey>,
    /// The session's event log writer, once the room has started.
    log: Option<LogWriter>,
    /// Relayed connections to close, gathered by link, code and reason until
    /// [`Owner::flush_closes`] sends each group in one message.
    closing: BTreeMap<(LinkKey, u16, String), Vec<u64>>,
}

/// The owner's end of one relay: numbers what it sends, and a task publishes it in order.
struct Downlink {
    sent: u64,
    tx: mpsc::Sender<(u64, Down)>,
}

impl Owner {
    /// The cluster side of a room that owns its meeting under `fence`, taking what the bus
    /// brings in `inbound`.
    pub(super) fn new(node: Arc<ClusterNode>, fence: Fence, inbound: mpsc::Receiver<RoomInbound>) -> Self {
        let (gone_tx, gone) = mpsc::unbounded_channel();
        let mut lease = node.lease_watch();
        // From now on: a lapse before this room started (and since healed) is not this room's.
        // A lease that does not hold now stops the room at once ([`Owner::next`]).
        lease.borrow_and_update();
        let (links, relayed, closing) = (HashMap::new(), HashMap::new(), BTreeMap::new());
        Self { fence, node, inbound, lease, links, relayed, gone_tx, gone, log: None, closing }
    }

    /// Starts the writer of the room's event log; `adopted` is the session whose log the room
    /// took over, if it did.
    pub(super) fn start_log(&mut self, store: Arc<dyn Store>, app_id: &str, adopted: Option<String>) {
        let log = self.node.event_log.clone();
        self.log = Some(LogWriter::spawn(log, store, app_id.to_owned(), self.fence.clone(), adopted));
    }

    /// Logs `events` with the room's view after them ([`LogWriter::submit`]).
    pub(super) fn log(&self, events: Vec<LoggedEvent>, view: Option<u64>) -> Option<PendingWrites> {
        self.log.as_ref().map(|log| log.submit(events, view))
    }

    /// The bus.
    pub(super) fn bus(&self) -> &Bus {
        &self.node.bus
    }

    /// Takes nothing more from the bus (what is queued can still be read).
    pub(super) fn close_inbound(&mut self) {
        self.inbound.close();
    }

    /// The node.
    pub(super) fn node(&self) -> &Arc<ClusterNode> {
        &self.node
    }

    /// Waits for the next thing from the cluster's side.
    pub(super) async fn next(&mut self) -> OwnerWoke {
        if !*self.lease.borrow() {
            return OwnerWoke::MustStop;
        }
        let lost = self.node.bus.take_lost_ups(&self.fence.meeting_id);
        if !lost.is_empty() {
            return OwnerWoke::UpsLost(lost);
        }
        tokio::select! {
            inbound = self.inbound.recv() => inbound.map_or(OwnerWoke::MustStop, OwnerWoke::Inbound),
            Some(link) = self.gone.recv() => OwnerWoke::LinkGone(link),
            // A room runs only while the lease holds, so any change means it lapsed (even if a
            // heartbeat has taken it up again since).
            _ = self.lease.changed() => OwnerWoke::MustStop,
        }
    }

    /// Sends `op` down a relay's link, numbered; a full queue loses it (the relay sees the gap).
    pub(super) fn send(&mut self, link: &LinkKey, op: DownOp) {
        let downlink = match self.links.get_mut(link) {
            Some(d) => d,
            None => {
                let (tx, rx) = mpsc::channel(DOWNLINK_QUEUE);
                let publisher = Publisher {
                    bus: self.node.bus.clone(),
                    meeting_id: self.fence.meeting_id.clone(),
                    epoch: self.fence.epoch,
                    link: link.clone(),
                    gone: self.gone_tx.clone(),
                };
                tokio::spawn(publisher.run(rx));
                self.links.entry(link.clone()).or_insert(Downlink { sent: 0, tx })
            }
        };
        downlink.sent += 1;
        if downlink.tx.try_send((downlink.sent, Down { link: link.1, op })).is_err() {
            tracing::warn!(node = %link.0, "a relay's downlink is full; its clients will resume");
        }
    }

    /// Has the relay of `link` close its connection `remote` at the next
    /// [`Owner::flush_closes`], after whatever was sent down that link before.
    pub(super) fn close_relayed(&mut self, link: &LinkKey, remote: u64, code: CloseCode, reason: &str) {
        self.closing.entry((link.clone(), code.code(), reason.to_owned())).or_default().push(remote);
    }

    /// Sends the gathered closes: one message per link, code and reason.
    pub(super) fn flush_closes(&mut self) {
        for ((link, code, reason), conns) in std::mem::take(&mut self.closing) {
            self.send(&link, DownOp::Close { conns, code, reason });
        }
    }

    /// Forgets one relayed connection (the room closed it).
    pub(super) fn forget_relayed(&mut self, node: &str, remote: u64) {
        self.relayed.remove(&(node.to_owned(), remote));
    }

    /// Forgets every relayed connection of a link; returns the room's ids for them.
    fn drop_link(&mut self, link: &LinkKey) -> Vec<ConnId> {
        self.links.remove(link);
        let mut ids = Vec::new();
        self.relayed.retain(|(node, _), (id, l)| {
            let of_link = *node == link.0 && *l == link.1;
            if of_link {
                ids.push(*id);
            }
            !of_link
        });
        ids
    }

    /// Every relayed connection, with its link and the relaying node's id.
    fn every_relayed(&self) -> Vec<(LinkKey, u64)> {
        self.relayed.iter().map(|((node, remote), (_, link))| ((node.clone(), *link), *remote)).collect()
    }
}

/// Publishes one downlink's messages in order; reports the link gone when its node no longer
/// listens.
struct Publisher {
    bus: Bus,
    meeting_id: String,
    epoch: i64,
    link: LinkKey,
    gone: mpsc::UnboundedSender<LinkKey>,
}

impl Publisher {
    async fn run(self, mut rx: mpsc::Receiver<(u64, Down)>) {
        let mut probe = tokio::time::interval(PROBE_EVERY);
        loop {
            let listened = tokio::select! {
                msg = rx.recv() => {
                    let Some((seq, down)) = msg else { return };
                    let body = serde_json::to_value(&down).unwrap_or_default();
                    self.bus.send_down(&self.link.0, &self.meeting_id, self.epoch, seq, body).await
                }
                _ = probe.tick() => self.bus.probe_node(&self.link.0).await,
            };
            match listened {
                Ok(0) => {
                    let _ = self.gone.send(self.link.clone());
                    return;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, node = %self.link.0, "a relay's message was not published"),
            }
        }
    }
}

impl Driver {
    /// Handles what came from the cluster's side; `false` when the room must stop.
    pub(super) fn handle_owner(&mut self, woke: OwnerWoke) -> bool {
        match woke {
            OwnerWoke::Inbound(RoomInbound::Request(request)) => {
                let command = match serde_json::from_value::<ApiCommand>(request.body.clone()) {
                    Ok(command) => command,
                    Err(e) => {
                        tracing::warn!(error = %e, "a routed REST command does not read; not answered");
                        return true;
                    }
                };
                let (reply, answer) = oneshot::channel::<ApiReply>();
                let bus = self.owner_bus();
                tokio::spawn(async move {
                    let reply = answer.await.unwrap_or(ApiReply::Refused(Refusal::Restarting));
                    let body = serde_json::to_value(&reply).unwrap_or_default();
                    if let Some(bus) = bus {
                        if let Err(e) = bus.reply(request, body).await {
                            tracing::warn!(error = %e, "a routed REST answer was not published");
                        }
                    }
                });
                self.handle(RoomCommand::Api { command, reply });
            }
            OwnerWoke::Inbound(RoomInbound::Up { from, body }) => match serde_json::from_value::<Up>(body) {
                Ok(up) => self.handle_up(from, up),
                Err(e) => tracing::warn!(error = %e, node = %from, "relayed traffic does not read"),
            },
            OwnerWoke::LinkGone(link) => {
                let now = Instant::now();
                let Some(owner) = self.owner.as_mut() else { return true };
                for id in owner.drop_link(&link) {
                    self.conns.remove(&id);
                    self.room.handle_disconnect(now, id);
                }
            }
            OwnerWoke::UpsLost(nodes) => self.relayed_traffic_lost(&nodes),
            OwnerWoke::MustStop => return false,
        }
        true
    }

    /// Traffic relayed from `nodes` was lost (a frame, a detach, an attach: which is not known):
    /// each of their connections the room knows is closed with `1013`, so that its client
    /// resumes and resends what went unanswered, and is away in the room meanwhile. A connection
    /// whose attach was lost gets no welcome, and its client tries again.
    fn relayed_traffic_lost(&mut self, nodes: &[String]) {
        const REASON: &str = "traffic to the meeting's owner was lost; resume";
        let now = Instant::now();
        let Some(owner) = self.owner.as_mut() else { return };
        tracing::warn!(meeting = %owner.fence.meeting_id, ?nodes, "relayed traffic was lost; those nodes' clients resume");
        for (link, remote) in owner.every_relayed() {
            if !nodes.contains(&link.0) {
                continue;
            }
            if let Some((id, _)) = owner.relayed.remove(&(link.0.clone(), remote)) {
                self.conns.remove(&id);
                self.room.handle_disconnect(now, id);
            }
            owner.close_relayed(&link, remote, CloseCode::TryAgainLater, REASON);
        }
        owner.flush_closes();
    }

    fn owner_bus(&self) -> Option<Bus> {
        self.owner.as_ref().map(|o| o.bus().clone())
    }

    /// A relayed connection's traffic.
    fn handle_up(&mut self, from: String, up: Up) {
        let now = Instant::now();
        let Some(owner) = self.owner.as_mut() else { return };
        match up {
            Up::Attach { link, conn, arrival } => {
                let id = ConnId(super::next_conn_id());
                owner.relayed.insert((from.clone(), conn), (id, link));
                self.conns.insert(id, ConnEnd::Relayed { link: (from, link), remote: conn });
                self.room.handle_hello(now, id, arrival);
            }
            Up::Frame { link, conn, msg } => match owner.relayed.get(&(from.clone(), conn)) {
                Some((id, _)) => self.room.handle_frame(now, *id, msg),
                None => unknown_conn(owner, (from, link), conn),
            },
            Up::BadFrame { link, conn, code, message } => match owner.relayed.get(&(from.clone(), conn)) {
                Some((id, _)) => {
                    let code = ErrorCode::from_code(code).unwrap_or(ErrorCode::MalformedFrame);
                    self.room.handle_bad_frame(now, *id, code, message);
                }
                None => unknown_conn(owner, (from, link), conn),
            },
            Up::Detach { conn, .. } => {
                if let Some((id, _)) = owner.relayed.remove(&(from, conn)) {
                    self.conns.remove(&id);
                    self.room.handle_disconnect(now, id);
                }
            }
        }
    }

    /// The room stops: every relayed connection is told to resume elsewhere, and so is every
    /// local one unless the whole server is stopping (its connections then close by themselves).
    pub(super) fn hand_over_connections(&mut self, server_stopping: bool) {
        const REASON: &str = "the meeting moved to another node; resume";
        if let Some(owner) = self.owner.as_mut() {
            for (link, remote) in owner.every_relayed() {
                owner.close_relayed(&link, remote, CloseCode::TryAgainLater, REASON);
            }
            owner.flush_closes();
            owner.relayed.clear();
        }
        for (_, end) in self.conns.drain() {
            if let ConnEnd::Local(handle) = end {
                if !server_stopping {
                    handle.close(CloseCode::TryAgainLater, REASON);
                }
            }
        }
    }
}

/// Traffic of a connection the room does not know (its link was given up as gone, say): the
/// relay is told to close it, and it resumes.
fn unknown_conn(owner: &mut Owner, link: LinkKey, conn: u64) {
    owner.close_relayed(&link, conn, CloseCode::TryAgainLater, "unknown to the meeting's owner; resume");
    owner.flush_closes();
}

/// Answers what was queued for a room that has stopped: REST commands are refused (the asking
/// node tries again), attaching connections are told to resume.
pub(super) fn refuse_queued(owner: &mut Owner) {
    while let Ok(inbound) = owner.inbound.try_recv() {
        match inbound {
            RoomInbound::Request(request) => {
                let body = serde_json::to_value(ApiReply::Refused(Refusal::Restarting)).unwrap_or_default();
                let bus = owner.bus().clone();
                tokio::spawn(async move {
                    let _ = bus.reply(request, body).await;
                });
            }
            RoomInbound::Up { from, body } => {
                if let Ok(Up::Attach { link, conn, .. }) = serde_json::from_value::<Up>(body) {
                    unknown_conn(owner, (from, link), conn);
                }
            }
        }
    }
}
