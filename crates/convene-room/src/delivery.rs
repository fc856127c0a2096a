//! Delivery: unsequenced frames to one connection, sequenced events to peers (one sequence
//! number and one serialisation per event, kept in each recipient's replay buffer), closing a
//! peer's connection, and the store and webhook outputs.

use std::time::Instant;

use convene_core::proto::{CloseCode, ServerMessage, SessionEvent};

use crate::output::{ConnId, Frame, Output, StoreWrite, WebhookEvent, WebhookKind};
use crate::peer::PeerStatus;
use crate::room::{Room, REPLAY_AWAY, REPLAY_CONNECTED};

impl Room {
    /// Sends an unsequenced message on one connection.
    pub(crate) fn send_direct(&mut self, conn: ConnId, msg: &ServerMessage) {
        self.outputs.push_back(Output::Send { conn, frame: Frame::encode(msg) });
    }

    /// Sends one sequenced event to several peers: one sequence number, one serialisation.
    pub(crate) fn broadcast(&mut self, now: Instant, recipients: &[String], event: SessionEvent) {
        self.seq += 1;
        let seq = self.seq;
        let frame = Frame::encode(&ServerMessage::Event { seq, event });
        self.log_event(seq, recipients, &frame);
        self.record_frame(now, &frame);
        let mut conns = Vec::with_capacity(recipients.len());
        for id in recipients {
            let Some(p) = self.peers.get_mut(id) else { continue };
            let cap = if p.conn.is_some() { REPLAY_CONNECTED } else { REPLAY_AWAY };
            p.replay.push_back((seq, frame.clone()));
            while p.replay.len() > cap {
                if let Some((old, _)) = p.replay.pop_front() {
                    p.evicted_up_to = old;
                }
            }
            conns.extend(p.conn);
        }
        match conns.len() {
            0 => {}
            1 => self.outputs.push_back(Output::Send { conn: conns[0], frame }),
            _ => self.outputs.push_back(Output::Broadcast { conns, frame }),
        }
    }

    /// Sends one sequenced event to one peer.
    pub(crate) fn event_to(&mut self, now: Instant, peer_id: &str, event: SessionEvent) {
        self.broadcast(now, &[peer_id.to_owned()], event);
    }

    /// Closes a connection after what is queued on it, and forgets it.
    pub(crate) fn close_conn(&mut self, conn: ConnId, code: CloseCode, reason: &'static str) {
        self.conns.remove(&conn);
        self.arriving.remove(&conn);
        self.outputs.push_back(Output::Close { conn, code, reason });
    }

    /// Closes a peer's connection after what is queued.
    pub(crate) fn close_peer_conn(&mut self, peer_id: &str, code: CloseCode, reason: &'static str) {
        let Some(conn) = self.peers.get_mut(peer_id).and_then(|p| p.conn.take()) else { return };
        if self.conns.contains_key(&conn) {
            self.close_conn(conn, code, reason);
        }
    }

    /// Peer ids in the session.
    pub(crate) fn joined_ids(&self) -> Vec<String> {
        self.peers.iter().filter(|(_, p)| p.status == PeerStatus::Joined).map(|(id, _)| id.clone()).collect()
    }

    /// Persists a change.
    pub(crate) fn store(&mut self, write: StoreWrite) {
        self.outputs.push_back(Output::Store(write));
    }

    /// Queues a webhook event for the app's subscribers.
    pub(crate) fn webhook(&mut self, now: Instant, kind: WebhookKind, payload: serde_json::Value) {
        let at_ms = self.config.clock.unix_ms(now);
        self.outputs.push_back(Output::Webhook(WebhookEvent { kind, payload, at_ms }));
    }

    /// The wall time of `now`.
    pub(crate) fn wall(&self, now: Instant) -> String {
        self.config.clock.rfc3339(now)
    }
}
