//! The bus between nodes, over Redis pub/sub. A node listens on a channel of its own (for the
//! replies to its requests) and on one channel per meeting it owns; a request for a meeting is
//! published on the meeting's channel and answered on the requester's. Redis says how many
//! listened: none means nobody owns the meeting, and the requesting node may claim it.
//!
//! Subscriptions are the trap of a bus like this (a Redis restart silently ends them): the
//! connection is redis-rs's `ConnectionManager` on RESP3, which reconnects on its own and
//! subscribes again to every channel it had, tested with a real Redis restart.
//!
//! Pub/sub delivers at most once: a request or reply lost while Redis is down is not resent, and
//! the requester gets [`RequestError::Timeout`].
//!
//! Beside requests, the bus carries relayed clients' traffic: a node whose clients' meeting is
//! owned elsewhere sends their frames up the meeting's channel ([`Bus::send_up`]), and the owner
//! sends what they receive down the node's channel ([`Bus::send_down`]), one message per node and
//! event, numbered per meeting and node so that the relaying node can see a gap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushInfo, PushKind, Value as RedisValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::ClusterError;

/// Requests and relayed frames a room's channel holds before the bus drops new ones for it.
const ROOM_QUEUE: usize = 4096;

fn node_channel(node_id: &str) -> String {
    format!("convene:node:{node_id}")
}

fn room_channel(meeting_id: &str) -> String {
    format!("convene:room:{meeting_id}")
}

/// What travels on the bus.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Envelope {
    /// To a meeting's owner, answered on the node channel of `from`.
    Request { id: u64, from: String, body: Value },
    /// The answer to a request.
    Reply { id: u64, body: Value },
    /// Relayed client traffic, from node `from` to a meeting's owner.
    Up { from: String, body: Value },
    /// From a meeting's owner (under `epoch`) to a node relaying its clients: the `seq`-th
    /// message to that node for that meeting and epoch, from 1.
    Down { meeting: String, epoch: i64, seq: u64, body: Value },
    /// Nothing: published to learn how many listen.
    Probe,
}

/// What reaches the owner of a meeting on its channel.
#[derive(Debug)]
pub(crate) enum RoomInbound {
    /// A request, to be answered with [`Bus::reply`].
    Request(BusRequest),
    /// Relayed client traffic from node `from`.
    Up {
        /// The relaying node.
        from: String,
        /// What it relays.
        body: Value,
    },
}

/// What reaches a node relaying clients of a meeting owned elsewhere.
#[derive(Debug)]
pub(crate) struct Down {
    /// The owner's epoch.
    pub(crate) epoch: i64,
    /// The message's number for this meeting, epoch and node, from 1.
    pub(crate) seq: u64,
    /// What the owner sends.
    pub(crate) body: Value,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// No node listens for the meeting: nobody owns it.
    #[error("no node owns the meeting")]
    NoOwner,
    /// The owner did not answer in time (or the request or reply was lost while Redis was
    /// down).
    #[error("the owner did not answer in time")]
    Timeout,
    /// Redis failed.
    #[error(transparent)]
    Bus(#[from] ClusterError),
}

/// A request that reached the owner of a meeting; [`BusRequest::reply`] answers it.
#[derive(Debug)]
pub(crate) struct BusRequest {
    /// What was asked.
    pub(crate) body: Value,
    id: u64,
    from: String,
}

struct Inner {
    node_id: String,
    conn: ConnectionManager,
    next_id: AtomicU64,
    /// Requests of this node waiting for their reply.
    waiting: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    /// Meetings this node serves, and where their requests go.
    rooms: Mutex<HashMap<String, mpsc::Sender<RoomInbound>>>,
    /// Meetings served here whose full queue lost relayed traffic, and from which nodes.
    lost_ups: Mutex<HashMap<String, std::collections::BTreeSet<String>>>,
    /// Meetings owned elsewhere whose clients this node relays, and where the owner's messages go.
    relays: Mutex<HashMap<String, mpsc::Sender<Down>>>,
}

/// A node's end of the bus. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Bus {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Bus {
    /// Connects node `node_id` to the Redis at `url` and listens on its own channel.
    pub(crate) async fn connect(url: &str, node_id: &str) -> Result<Self, ClusterError> {
        let separator = if url.contains('?') { '&' } else { '?' };
        let client = redis::Client::open(format!("{url}{separator}protocol=resp3"))?;
        let (pushes, received) = mpsc::unbounded_channel();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(pushes)
            .set_automatic_resubscription()
            .set_max_delay(Duration::from_secs(1));
        let mut conn = client.get_connection_manager_with_config(config).await?;
        conn.subscribe(node_channel(node_id)).await?;
        let inner = Arc::new(Inner {
            node_id: node_id.to_owned(),
            conn,
            next_id: AtomicU64::new(1),
            waiting: Mutex::default(),
            rooms: Mutex::default(),
            relays: Mutex::default(),
            lost_ups: Mutex::default(),
        });
        tokio::spawn(dispatch(received, Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// This node's name.
    pub(crate) fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Starts taking the requests and relayed traffic for `meeting_id` (this node owns it now).
    pub(crate) async fn serve(&self, meeting_id: &str) -> Result<mpsc::Receiver<RoomInbound>, ClusterError> {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        lock(&self.inner.rooms).insert(meeting_id.to_owned(), tx);
        self.inner.conn.clone().subscribe(room_channel(meeting_id)).await?;
        Ok(rx)
    }

    /// The nodes whose relayed traffic for `meeting_id` was lost (its queue here was full) since
    /// the last call.
    pub(crate) fn take_lost_ups(&self, meeting_id: &str) -> Vec<String> {
        lock(&self.inner.lost_ups).remove(meeting_id).map(|nodes| nodes.into_iter().collect()).unwrap_or_default()
    }

    /// Stops taking the requests for `meeting_id`, once the receiver [`Bus::serve`] gave is
    /// closed or dropped; if another receiver serves the meeting by then, it is left alone.
    pub(crate) async fn stop_serving(&self, meeting_id: &str) -> Result<(), ClusterError> {
        {
            let mut rooms = lock(&self.inner.rooms);
            if !rooms.get(meeting_id).is_some_and(|tx| tx.is_closed()) {
                return Ok(());
            }
            rooms.remove(meeting_id);
        }
        lock(&self.inner.lost_ups).remove(meeting_id);
        self.inner.conn.clone().unsubscribe(room_channel(meeting_id)).await?;
        Ok(())
    }

    /// Asks the owner of `meeting_id` and waits up to `timeout` for its answer.
    pub(crate) async fn request(
        &self,
        meeting_id: &str,
        body: Value,
        timeout: Duration,
    ) -> Result<Value, RequestError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, answer) = oneshot::channel();
        lock(&self.inner.waiting).insert(id, tx);
        let envelope = Envelope::Request { id, from: self.inner.node_id.clone(), body };
        let published = self.publish(&room_channel(meeting_id), &envelope).await;
        let outcome = match published {
            Ok(0) => Err(RequestError::NoOwner),
            Ok(_) => tokio::time::timeout(timeout, answer).await.map_err(|_| RequestError::Timeout),
            Err(e) => Err(e.into()),
        };
        lock(&self.inner.waiting).remove(&id);
        // A dropped sender means the bus is going away: as good as no answer.
        outcome.and_then(|reply| reply.map_err(|_| RequestError::Timeout))
    }

    /// Starts taking what the owner of `meeting_id` sends to this node for its relayed clients.
    /// The queue is bounded: a relay that falls behind misses messages, and sees the gap.
    pub(crate) fn relay(&self, meeting_id: &str, capacity: usize) -> mpsc::Receiver<Down> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        lock(&self.inner.relays).insert(meeting_id.to_owned(), tx);
        rx
    }

    /// Forgets the relay of `meeting_id` once its receiver is dropped.
    pub(crate) fn stop_relaying(&self, meeting_id: &str) {
        let mut relays = lock(&self.inner.relays);
        if relays.get(meeting_id).is_some_and(|tx| tx.is_closed()) {
            relays.remove(meeting_id);
        }
    }

    /// Relays client traffic to the owner of `meeting_id`; returns how many nodes listened (0:
    /// nobody owns it now).
    pub(crate) async fn send_up(&self, meeting_id: &str, body: Value) -> Result<u64, ClusterError> {
        self.publish(&room_channel(meeting_id), &Envelope::Up { from: self.inner.node_id.clone(), body }).await
    }

    /// Sends node `node_id` the `seq`-th message for its relayed clients of `meeting_id`; returns
    /// how many listened (0: the node is gone).
    pub(crate) async fn send_down(
        &self,
        node_id: &str,
        meeting_id: &str,
        epoch: i64,
        seq: u64,
        body: Value,
    ) -> Result<u64, ClusterError> {
        let envelope = Envelope::Down { meeting: meeting_id.to_owned(), epoch, seq, body };
        self.publish(&node_channel(node_id), &envelope).await
    }

    /// How many listen on node `node_id`'s channel (0: the node is gone), by publishing nothing
    /// to it.
    pub(crate) async fn probe_node(&self, node_id: &str) -> Result<u64, ClusterError> {
        self.publish(&node_channel(node_id), &Envelope::Probe).await
    }

    /// How many listen on `meeting_id`'s channel (0: nobody owns it now).
    pub(crate) async fn probe_room(&self, meeting_id: &str) -> Result<u64, ClusterError> {
        self.publish(&room_channel(meeting_id), &Envelope::Probe).await
    }

    /// Answers a request that reached this node.
    pub(crate) async fn reply(&self, request: BusRequest, body: Value) -> Result<(), ClusterError> {
        self.publish(&node_channel(&request.from), &Envelope::Reply { id: request.id, body }).await.map(drop)
    }

    /// Publishes; returns how many listened.
    async fn publish(&self, channel: &str, envelope: &Envelope) -> Result<u64, ClusterError> {
        let text = serde_json::to_string(envelope).map_err(|e| ClusterError::UnexpectedReply(e.to_string()))?;
        Ok(self.inner.conn.clone().publish(channel, text).await?)
    }
}

/// Hands each message to the waiting request or the serving room, until the bus is dropped.
async fn dispatch(mut received: mpsc::UnboundedReceiver<PushInfo>, bus: Weak<Inner>) {
    while let Some(push) = received.recv().await {
        let Some(inner) = bus.upgrade() else { return };
        if push.kind != PushKind::Message {
            continue;
        }
        let [RedisValue::BulkString(channel), RedisValue::BulkString(payload)] = push.data.as_slice() else {
            continue;
        };
        match serde_json::from_slice::<Envelope>(payload) {
            Ok(Envelope::Reply { id, body }) => {
                if let Some(waiter) = lock(&inner.waiting).remove(&id) {
                    let _ = waiter.send(body);
                }
            }
            Ok(Envelope::Request { id, from, body }) => {
                to_room(&inner, channel, RoomInbound::Request(BusRequest { body, id, from }))
            }
            Ok(Envelope::Up { from, body }) => to_room(&inner, channel, RoomInbound::Up { from, body }),
            Ok(Envelope::Probe) => {}
            Ok(Envelope::Down { meeting, epoch, seq, body }) => {
                let relay = lock(&inner.relays).get(&meeting).cloned();
                // A full queue loses the message; the relay sees the gap at the next one.
                if let Some(relay) = relay {
                    let _ = relay.try_send(Down { epoch, seq, body });
                }
            }
            Err(e) => tracing::warn!(error = %e, "a bus message does not read"),
        }
    }
}

/// Hands what came on a meeting's channel to the room that serves it here.
fn to_room(inner: &Inner, channel: &[u8], inbound: RoomInbound) {
    let meeting = String::from_utf8_lossy(channel);
    let meeting = meeting.strip_prefix("convene:room:").unwrap_or_default();
    let room = lock(&inner.rooms).get(meeting).cloned();
    if let Some(room) = room {
        match room.try_send(inbound) {
            Ok(()) => {}
            // Relayed traffic lost: the room learns from which node ([`Bus::take_lost_ups`]),
            // so that it has that node's clients resume rather than miss what they sent. (A
            // request lost is not answered: the asking node's wait runs out.)
            Err(mpsc::error::TrySendError::Full(RoomInbound::Up { from, .. })) => {
                tracing::warn!(meeting, node = %from, "a room's bus queue is full: relayed traffic was dropped");
                lock(&inner.lost_ups).entry(meeting.to_owned()).or_default().insert(from);
            }
            Err(mpsc::error::TrySendError::Full(RoomInbound::Request(_))) => {
                tracing::warn!(meeting, "a room's bus queue is full: a request was dropped");
            }
            // The room has stopped; its relayed clients are being told to resume.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!(meeting, "a message for a room that has stopped was dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests;
