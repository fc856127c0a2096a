//! Applying the machine's outputs, in order: store writes and webhook events (gathered, and
//! applied in order in one call to the store before the next lookup and at the end of the
//! turn), the lookups and file work whose results go back in at once, and
//! frames onto the connections' queues (a connection whose queue is full is too slow: it is
//! dropped, and resumes), closes and REST answers. The last three are held until the turn's
//! writes are done and then released together, in their order: whoever sees a turn's frame or
//! answer finds the turn's writes in the store.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use convene_core::proto::CloseCode;
use convene_room::{ApiReply, ConnId, Frame, Output, ParticipantInfo, RequestId};

use std::collections::HashMap;

use super::driver::{ConnEnd, Driver};
use super::owned::LinkKey;
use super::relay_wire::DownOp;

use crate::store::{RoomWrite, RoomWritesApplied, Store, StoreError};

/// What a turn lets out once its writes are done: a frame to one connection or to several, a
/// close, a REST answer.
pub(super) enum Release {
    Send(ConnId, Frame),
    Broadcast(Vec<ConnId>, Frame),
    Close(ConnId, CloseCode, &'static str),
    Reply(RequestId, ApiReply),
}

impl Driver {
    /// Applies every pending output. The writes are submitted to the store before each lookup
    /// and when the group of turns ends (`end_group`; until then they gather, with the frames,
    /// closes and answers they hold back); those go out once the writes are applied, after those
    /// of earlier groups ([`Driver::in_flight`]). Releasing may drop a slow connection, which
    /// gives the machine more to do.
    pub(super) async fn apply_outputs(&mut self, end_group: bool) {
        loop {
            while let Some(output) = self.room.poll_output() {
                self.apply(output).await;
            }
            if !end_group || !self.finish_turn() {
                break;
            }
        }
        // The relayed closes released meanwhile, one message per relay.
        if let Some(owner) = self.owner.as_mut() {
            owner.flush_closes();
        }
    }

    /// Submits the rest of the group's writes and queues its held outputs behind them; releases
    /// them at once when nothing is being written. Returns whether it released anything.
    fn finish_turn(&mut self) -> bool {
        self.submit_writes();
        let held = std::mem::take(&mut self.held);
        let pending = std::mem::take(&mut self.submitted);
        if pending.is_empty() && self.in_flight.is_empty() {
            if self.fenced {
                return false;
            }
            let released = !held.is_empty();
            for h in held {
                self.release(h);
            }
            return released;
        }
        if !pending.is_empty() || !held.is_empty() {
            let applied: PendingTurn = Box::pin(async move {
                let mut all = Vec::with_capacity(pending.len());
                for batch in pending {
                    all.push(batch.await);
                }
                all
            });
            self.in_flight.push_back(Turn { applied, held });
        }
        false
    }

    /// The oldest group in flight has been applied: reports its writes and lets its outputs out.
    pub(super) fn turn_applied(&mut self, results: Vec<RoomWritesApplied>) {
        let Some(turn) = self.in_flight.pop_front() else { return };
        for applied in results {
            self.report(applied);
        }
        if self.fenced {
            return; // Another node owns the meeting: what this turn held never goes out.
        }
        for h in turn.held {
            self.release(h);
        }
    }

    async fn apply(&mut self, output: Output) {
        match output {
            Output::Send { conn, frame } => self.held.push(Release::Send(conn, frame)),
            Output::Broadcast { conns, frame } => self.held.push(Release::Broadcast(conns, frame)),
            Output::Close { conn, code, reason } => self.held.push(Release::Close(conn, code, reason)),
            Output::Reply { request, reply } => self.held.push(Release::Reply(request, reply)),
            Output::Logged(event) => {
                if self.owner.is_some() {
                    self.logged.push(event);
                }
            }
            Output::Store(write) => self.writes.push(RoomWrite::Session(write)),
            Output::Webhook(event) => self.writes.push(RoomWrite::Webhook(event)),
            Output::CheckParticipants { check, participant_ids } => {
                self.submit_writes();
                let current = current_participants(&*self.deps.store, &self.room.meeting().id, &participant_ids).await;
                self.room.handle_participants_checked(Instant::now(), check, current);
            }
            Output::FindEndedStay { conn, peer_id, participant_id } => {
                self.submit_writes();
                let ended = self.deps.store.ended_stay(&peer_id, &participant_id).await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "store failure looking up a stay");
                    None
                });
                self.room.handle_ended_stay(Instant::now(), conn, &peer_id, ended);
            }
            Output::FindPermissions { conn, preset_name, .. } => {
                self.submit_writes();
                let permissions = super::permissions_of(&*self.deps.store, &self.app_id, &preset_name).await;
                self.room.handle_permissions(Instant::now(), conn, permissions);
            }
            Output::Recording(io) => {
                if let Some((id, result)) = self.files.apply(io) {
                    self.room.handle_recording_io(Instant::now(), &id, result);
                }
            }
        }
    }

    /// Lets out a frame, a close or a REST answer.
    fn release(&mut self, held: Release) {
        match held {
            Release::Send(conn, frame) => {
                self.deps.metrics.frames_out(frame.kind(), 1);
                if let Some(frame) = text(frame) {
                    self.push(conn, frame);
                }
            }
            Release::Broadcast(conns, frame) => {
                self.deps.metrics.frames_out(frame.kind(), conns.len());
                let Some(frame) = text(frame) else { return };
                // One message per relay for its connections, however many they are.
                let mut relayed: HashMap<LinkKey, Vec<u64>> = HashMap::new();
                for conn in conns {
                    match self.conns.get(&conn) {
                        Some(ConnEnd::Relayed { link, remote }) => {
                            relayed.entry(link.clone()).or_default().push(*remote)
                        }
                        Some(ConnEnd::Local(_)) => self.push(conn, frame.clone()),
                        None => {}
                    }
                }
                if let Some(owner) = self.owner.as_mut() {
                    for (link, conns) in relayed {
                        owner.send(&link, DownOp::Frames { conns, text: frame.as_str().to_owned() });
                    }
                }
            }
            Release::Close(conn, code, reason) => match self.conns.remove(&conn) {
                Some(ConnEnd::Local(handle)) => {
                    handle.close(code, reason);
                }
                Some(ConnEnd::Relayed { link, remote }) => {
                    if let Some(owner) = self.owner.as_mut() {
                        owner.forget_relayed(&link.0, remote);
                        owner.close_relayed(&link, remote, code, reason);
                    }
                }
                None => {}
            },
            Release::Reply(request, reply) => {
                if let Some(tx) = self.replies.remove(&request) {
                    let _ = tx.send(reply);
                }
            }
        }
    }

    /// Queues a frame; a connection whose queue is full is too slow and is dropped (it resumes).
    fn push(&mut self, conn: ConnId, frame: Utf8Bytes) {
        let handle = match self.conns.get(&conn) {
            Some(ConnEnd::Local(handle)) => handle,
            Some(ConnEnd::Relayed { link, remote }) => {
                let (link, conns) = (link.clone(), vec![*remote]);
                if let Some(owner) = self.owner.as_mut() {
                    owner.send(&link, DownOp::Frames { conns, text: frame.as_str().to_owned() });
                }
                return;
            }
            None => return,
        };
        if handle.offer(frame) {
            return;
        }
        self.conns.remove(&conn);
        self.room.handle_disconnect(Instant::now(), conn);
    }

    /// Submits the writes gathered since the last lookup, in order, in one call to the store (a
    /// lookup submitted after them reads what they wrote).
    ///
    /// The events gathered for the session's log go to its writer, which logs them after those
    /// before them; the turn's frames wait for both.
    fn submit_writes(&mut self) {
        if !self.logged.is_empty() {
            let logged = std::mem::take(&mut self.logged);
            let view = self.room.view_digest();
            if let Some(pending) = self.owner.as_ref().and_then(|o| o.log(logged, view)) {
                self.submitted.push(pending);
            }
        }
        if self.writes.is_empty() {
            return;
        }
        let writes = std::mem::take(&mut self.writes);
        let fence = self.owner.as_ref().map(|o| o.fence.clone());
        let pending = self.deps.store.submit_room_writes(&self.app_id, fence, writes);
        let (metrics, submitted_at) = (self.deps.metrics.clone(), Instant::now());
        self.submitted.push(Box::pin(async move {
            let applied = pending.await;
            metrics.room_writes(submitted_at.elapsed().as_secs_f64());
            applied
        }));
    }

    /// Logs what failed of a batch of writes, and wakes the webhook delivery task for what it
    /// queued. A write refused by the owner's fence stops the room.
    fn report(&mut self, applied: RoomWritesApplied) {
        if applied.failed.iter().any(|(_, e)| matches!(e, StoreError::Fenced { .. })) {
            tracing::warn!(meeting = %self.room.meeting().id, "another node owns the meeting now; this room stops");
            self.fenced = true;
            return;
        }
        if let Some((_, e)) = applied.failed.iter().find(|(_, e)| matches!(e, StoreError::Unrecorded { .. })) {
            tracing::error!(meeting = %self.room.meeting().id, error = %e, "this room stops; its clients resume");
            self.fenced = true;
            return;
        }
        if self.owner.is_some() && unreachable(&applied) {
            // Answering a turn whose writes the database did not take would lose what was
            // answered: nothing of it goes out, and the room stops (its clients resume once the
            // database is back, on a room that reads what it holds).
            tracing::error!(meeting = %self.room.meeting().id, "the database is unreachable; this room stops and answers nothing more");
            self.fenced = true;
            return;
        }
        if applied.deliveries_queued > 0 {
            self.deps.webhook_wake.notify_one();
        }
        for (write, e) in &applied.failed {
            tracing::error!(error = %e, ?write, "a store write failed");
        }
        if let Some(e) = applied.unreached {
            tracing::error!(error = %e, "a batch of writes was not applied whole; some of the turn's writes may be lost");
        }
    }
}

/// Whether a batch of writes failed because the database could not be reached.
fn unreachable(applied: &RoomWritesApplied) -> bool {
    applied.unreached.as_ref().is_some_and(StoreError::is_unreachable)
        || applied.failed.iter().any(|(_, e)| e.is_unreachable())
}

/// A group of turns whose writes are being applied, and the outputs it holds until then.
pub(super) struct Turn {
    /// Completes once every batch of the group is applied.
    pub(super) applied: PendingTurn,
    /// Its frames, closes and REST answers, in order.
    held: Vec<Release>,
}

/// The batches of one group of turns, until all are applied.
pub(super) type PendingTurn = Pin<Box<dyn Future<Output = Vec<RoomWritesApplied>> + Send>>;

/// The records of those of these participants that still exist in meeting `meeting_id`. A
/// store failure counts as gone: membership is never granted on a guess.
async fn current_participants(store: &dyn Store, meeting_id: &str, ids: &[String]) -> Vec<ParticipantInfo> {
    let mut current = Vec::with_capacity(ids.len());
    for id in ids {
        match store.participant_by_id(id).await {
            Ok(Some((p, home))) if home.meeting_id == meeting_id => current.push(p.info()),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "store failure checking a participant; refusing"),
        }
    }
    current
}

/// A frame as the WebSocket library takes it (the bytes are shared, not copied).
fn text(frame: Frame) -> Option<Utf8Bytes> {
    Utf8Bytes::try_from(frame.bytes().clone()).ok()
}
