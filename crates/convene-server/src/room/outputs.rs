//! Applying the machine's outputs, in order: store writes and webhook events (each awaited
//! before the next output), the lookups and file work whose results go back in at once, and
//! frames onto the connections' queues (a connection whose queue is full is too slow: it is
//! dropped, and resumes), closes and REST answers. The last three are held until the turn's
//! writes are done and then released together, in their order: whoever sees a turn's frame or
//! answer finds the store as the turn left it.

use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use convene_core::proto::CloseCode;
use convene_room::{ApiReply, ConnId, Frame, Output, ParticipantInfo, RequestId, StoreWrite};

use super::driver::Driver;
use super::Outgoing;
use crate::store::Store;

/// What a turn lets out once its writes are done: a frame to one connection or to several, a
/// close, a REST answer.
pub(super) enum Release {
    Send(ConnId, Frame),
    Broadcast(Vec<ConnId>, Frame),
    Close(ConnId, CloseCode, &'static str),
    Reply(RequestId, ApiReply),
}

impl Driver {
    /// Applies every pending output: the writes and lookups first, then what they held back.
    /// Releasing may drop a slow connection, which gives the machine more to do.
    pub(super) async fn apply_outputs(&mut self) {
        loop {
            while let Some(output) = self.room.poll_output() {
                self.apply(output).await;
            }
            if self.held.is_empty() {
                return;
            }
            for held in std::mem::take(&mut self.held) {
                self.release(held);
            }
        }
    }

    async fn apply(&mut self, output: Output) {
        match output {
            Output::Send { conn, frame } => self.held.push(Release::Send(conn, frame)),
            Output::Broadcast { conns, frame } => self.held.push(Release::Broadcast(conns, frame)),
            Output::Close { conn, code, reason } => self.held.push(Release::Close(conn, code, reason)),
            Output::Reply { request, reply } => self.held.push(Release::Reply(request, reply)),
            Output::Store(write) => self.persist(write).await,
            Output::Webhook(event) => self.deps.outbox.emit(&self.app_id, &event).await,
            Output::CheckParticipants { check, participant_ids } => {
                let current = current_participants(&*self.deps.store, &self.room.meeting().id, &participant_ids).await;
                self.room.handle_participants_checked(Instant::now(), check, current);
            }
            Output::FindEndedStay { conn, peer_id, participant_id } => {
                let ended = self.deps.store.ended_stay(&peer_id, &participant_id).await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "store failure looking up a stay");
                    None
                });
                self.room.handle_ended_stay(Instant::now(), conn, &peer_id, ended);
            }
            Output::FindPermissions { conn, preset_name, .. } => {
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
                if let Some(frame) = text(frame) {
                    self.push(conn, frame);
                }
            }
            Release::Broadcast(conns, frame) => {
                let Some(frame) = text(frame) else { return };
                for conn in conns {
                    self.push(conn, frame.clone());
                }
            }
            Release::Close(conn, code, reason) => {
                if let Some(handle) = self.conns.remove(&conn) {
                    let _ = handle.tx.try_send(Outgoing::Close(code, reason));
                }
            }
            Release::Reply(request, reply) => {
                if let Some(tx) = self.replies.remove(&request) {
                    let _ = tx.send(reply);
                }
            }
        }
    }

    /// Queues a frame; a connection whose queue is full is too slow and is dropped (it resumes).
    fn push(&mut self, conn: ConnId, frame: Utf8Bytes) {
        let Some(handle) = self.conns.get(&conn) else { return };
        if handle.tx.try_send(Outgoing::Frame(frame)).is_ok() {
            return;
        }
        tracing::warn!(conn = conn.0, "client cannot keep up; disconnecting it");
        handle.kill.notify_one();
        self.conns.remove(&conn);
        self.room.handle_disconnect(Instant::now(), conn);
    }

    /// Applies one store write, awaiting it before the next output.
    async fn persist(&mut self, write: StoreWrite) {
        let store = &*self.deps.store;
        let result = match &write {
            StoreWrite::SessionStarted { session_id, meeting_id, title, started_at } => {
                store.start_session(&self.app_id, session_id, meeting_id, title.as_deref(), started_at).await
            }
            StoreWrite::SessionTouched { session_id, last_seq, concurrent } => {
                store.touch_session(session_id, *last_seq, *concurrent).await
            }
            StoreWrite::PeerJoined { session_id, peer_id, participant, at } => {
                store.peer_joined(session_id, peer_id, participant, at).await
            }
            StoreWrite::PeerLeft { peer_id, outcome, at } => store.peer_left(peer_id, *outcome, at).await,
            StoreWrite::SessionEnded { end, last_seq, ended_at, webhook } => {
                store.end_session(&self.app_id, end, *last_seq, ended_at, webhook).await.map(|queued| {
                    if queued > 0 {
                        self.deps.outbox.wake();
                    }
                })
            }
            StoreWrite::RecordingSaved(rec) => store.save_recording(&self.app_id, rec).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, ?write, "a store write failed");
        }
    }
}

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
