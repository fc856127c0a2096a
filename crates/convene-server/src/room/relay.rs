//! The relay: on a node that does not own a meeting, it stands where the meeting's room would
//! (the registry hands its channel to connections and REST handlers alike) and passes everything
//! to the owner over the bus: connections' traffic up the meeting's channel, REST commands as
//! requests. What the owner sends back comes one message per event for all of this node's
//! clients, numbered; a number out of order (a message lost, or a new owner) closes every
//! connection of the relay so that each resumes (no silent loss). So does an owner that no
//! longer listens, or no longer holds the meeting with a live lease (paused, say).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use convene_core::proto::CloseCode;
use tokio::sync::mpsc;

use super::relay_wire::{Down, DownOp, Up};
use super::{ApiCommand, ApiReply, ConnHandle, Refusal, Registry, RoomCommand};
use crate::cluster::bus::{self, Bus, RequestError};
use crate::cluster::node::ClusterNode;

/// How long a REST command routed to the owner waits for its answer.
pub(crate) const ROUTED_TIMEOUT: Duration = Duration::from_secs(5);

/// Messages from the owner the relay may have queued (beyond them, one is lost: a gap).
const DOWN_QUEUE: usize = 8192;

/// How often a relay with connections checks that the owner still listens.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// One relay's state: its connections and where it is in the owner's numbering.
struct Relay {
    node: Arc<ClusterNode>,
    bus: Bus,
    registry: Registry,
    meeting_id: String,
    /// The owner's epoch when the relay started.
    epoch: i64,
    /// This relay's life, as the owner knows it.
    link: u64,
    /// The number of the next message expected from the owner.
    next_seq: u64,
    conns: HashMap<u64, ConnHandle>,
}

/// What woke the relay.
enum Woke {
    Command(Option<RoomCommand>),
    Down(Option<bus::Down>),
    Probe,
}

/// Starts the relay of `meeting_id`, owned under `epoch` by another node; commands queue in `rx`.
pub(super) fn spawn(
    node: Arc<ClusterNode>,
    registry: Registry,
    meeting_id: String,
    epoch: i64,
    rx: mpsc::Receiver<RoomCommand>,
) {
    let downs = node.bus.relay(&meeting_id, DOWN_QUEUE);
    let relay = Relay {
        node: node.clone(),
        bus: node.bus.clone(),
        registry,
        meeting_id,
        epoch,
        link: uuid::Uuid::new_v4().as_u64_pair().0,
        next_seq: 1,
        conns: HashMap::new(),
    };
    tokio::spawn(relay.run(rx, downs));
}

impl Relay {
    async fn run(mut self, mut rx: mpsc::Receiver<RoomCommand>, mut downs: mpsc::Receiver<bus::Down>) {
        tracing::debug!(meeting = %self.meeting_id, epoch = self.epoch, "relay started");
        let mut probe = tokio::time::interval(PROBE_EVERY);
        loop {
            let probing = !self.conns.is_empty();
            let woke = tokio::select! {
                cmd = rx.recv() => Woke::Command(cmd),
                down = downs.recv() => Woke::Down(down),
                _ = probe.tick(), if probing => Woke::Probe,
            };
            match woke {
                Woke::Command(Some(cmd)) => self.handle(cmd).await,
                Woke::Down(Some(down)) => self.handle_down(down).await,
                Woke::Probe => {
                    if !self.owner_is_there().await {
                        self.close_all("the meeting's owner is gone; resume").await;
                    }
                }
                Woke::Command(None) | Woke::Down(None) => break,
            }
            if self.conns.is_empty() && rx.is_empty() {
                break;
            }
        }
        // Leaves the registry first, so that the next command finds no relay and claims anew.
        rx.close();
        self.registry.forget_closed(&self.meeting_id);
        while let Ok(cmd) = rx.try_recv() {
            self.handle(cmd).await;
        }
        self.close_all("the relay stopped; resume").await;
        drop(downs);
        self.bus.stop_relaying(&self.meeting_id);
        tracing::debug!(meeting = %self.meeting_id, "relay stopped");
    }

    /// Whether the owner still listens on the bus and still holds the meeting under the relay's
    /// epoch with a live lease (a paused owner still listens, but its lease runs out). Doubt
    /// (PostgreSQL unreachable) keeps the relay going.
    async fn owner_is_there(&self) -> bool {
        if matches!(self.bus.probe_room(&self.meeting_id).await, Ok(0)) {
            return false;
        }
        match self.node.owner_holds(&self.meeting_id, self.epoch).await {
            Ok(holds) => holds,
            Err(e) => {
                tracing::warn!(error = %e, meeting = %self.meeting_id, "could not check the meeting's owner");
                true
            }
        }
    }

    async fn handle(&mut self, cmd: RoomCommand) {
        let link = self.link;
        let up = match cmd {
            RoomCommand::Attach { conn, arrival } => {
                let id = conn.id;
                self.conns.insert(id, conn);
                Up::Attach { link, conn: id, arrival }
            }
            RoomCommand::Frame { conn_id, msg } => Up::Frame { link, conn: conn_id, msg },
            RoomCommand::BadFrame { conn_id, code, message } => {
                Up::BadFrame { link, conn: conn_id, code: code.code(), message }
            }
            RoomCommand::Detach { conn_id } => {
                if self.conns.remove(&conn_id).is_none() {
                    return;
                }
                Up::Detach { link, conn: conn_id }
            }
            RoomCommand::Api { command, reply } => {
                let (bus, meeting_id) = (self.bus.clone(), self.meeting_id.clone());
                tokio::spawn(async move {
                    let _ = reply.send(routed(&bus, &meeting_id, command).await);
                });
                return;
            }
        };
        self.send_up(up).await;
    }

    /// Sends one message up; an owner that no longer listens closes every connection.
    async fn send_up(&mut self, up: Up) {
        let body = serde_json::to_value(&up).unwrap_or_default();
        match self.bus.send_up(&self.meeting_id, body).await {
            Ok(0) => self.close_all("the meeting's owner is gone; resume").await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, meeting = %self.meeting_id, "relayed traffic not published");
                self.close_all("the bus failed; resume").await;
            }
        }
    }

    async fn handle_down(&mut self, down: bus::Down) {
        let Ok(Down { link, op }) = serde_json::from_value::<Down>(down.body) else {
            tracing::warn!(meeting = %self.meeting_id, "a message from the owner does not read");
            return;
        };
        if link != self.link {
            return; // For an earlier life of this relay: its connections are gone.
        }
        if down.epoch < self.epoch {
            // From an owner that was displaced (paused past its lease, say) and is letting go of
            // what it held: nothing of it is for this relay's clients, and nothing was lost.
            tracing::debug!(meeting = %self.meeting_id, epoch = down.epoch, "a message from a former owner is dropped");
            return;
        }
        if down.epoch != self.epoch || down.seq != self.next_seq {
            tracing::warn!(
                meeting = %self.meeting_id,
                expected = self.next_seq,
                got = down.seq,
                "messages from the owner were lost; the relay's clients resume"
            );
            return self.close_all("messages from the meeting's owner were lost; resume").await;
        }
        self.next_seq += 1;
        match op {
            DownOp::Frames { conns, text } => {
                let frame = Utf8Bytes::from(text);
                for id in conns {
                    self.push(id, frame.clone()).await;
                }
            }
            DownOp::Close { conns, code, reason } => {
                let code = CloseCode::from_code(code).unwrap_or(CloseCode::TryAgainLater);
                for conn in conns {
                    if let Some(handle) = self.conns.remove(&conn) {
                        handle.close(code, reason.clone());
                    }
                }
            }
        }
    }

    /// Queues a frame; a connection whose queue is full is too slow and is dropped (it resumes).
    async fn push(&mut self, id: u64, frame: Utf8Bytes) {
        let Some(handle) = self.conns.get(&id) else { return };
        if handle.offer(frame) {
            return;
        }
        self.conns.remove(&id);
        self.send_up(Up::Detach { link: self.link, conn: id }).await;
    }

    /// Closes every connection so that each resumes, telling the owner they went.
    async fn close_all(&mut self, reason: &'static str) {
        let conns: Vec<(u64, ConnHandle)> = self.conns.drain().collect();
        for (id, handle) in conns {
            handle.close(CloseCode::TryAgainLater, reason);
            let body = serde_json::to_value(Up::Detach { link: self.link, conn: id }).unwrap_or_default();
            let _ = self.bus.send_up(&self.meeting_id, body).await;
        }
    }
}

/// A REST command sent to the owner and its answer. When nobody listened (the owner is gone, or
/// not yet subscribed) or the request could not be sent, the answer is `Restarting`, which the
/// caller may retry since nothing ran; when the owner took it but did not answer in time, it is
/// `Unanswered`, which is not retried (the command may have run); so it is when its answer does
/// not read.
async fn routed(bus: &Bus, meeting_id: &str, command: ApiCommand) -> ApiReply {
    let body = serde_json::to_value(&command).unwrap_or_default();
    match bus.request(meeting_id, body, ROUTED_TIMEOUT).await {
        // The owner took it, so it may have run: not to be sent again.
        Ok(answer) => serde_json::from_value(answer).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the owner's answer does not read");
            ApiReply::Refused(Refusal::Unanswered)
        }),
        Err(RequestError::NoOwner) => ApiReply::Refused(Refusal::Restarting),
        Err(RequestError::Timeout) => {
            tracing::warn!(meeting = %meeting_id, "the meeting's owner did not answer a routed REST command in time");
            ApiReply::Refused(Refusal::Unanswered)
        }
        Err(RequestError::Bus(e)) => {
            tracing::warn!(error = %e, "a routed REST command failed");
            ApiReply::Refused(Refusal::Restarting)
        }
    }
}
