//! Applying the machine's outputs, in order: frames onto the connections' queues (a connection
//! whose queue is full is too slow: it is dropped, and resumes), closes, REST answers, store
//! writes, webhook events, and the lookups and file work whose results go back in at once.

use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use convene_room::{ConnId, Frame, Output, ParticipantInfo, StoreWrite};

use super::driver::Driver;
use super::Outgoing;

impl Driver {
    /// Applies every pending output.
    pub(super) fn apply_outputs(&mut self) {
        while let Some(output) = self.room.poll_output() {
            self.apply(output);
        }
    }

    fn apply(&mut self, output: Output) {
        match output {
            Output::Send { conn, frame } => {
                if let Some(frame) = text(frame) {
                    self.push(conn, frame);
                }
            }
            Output::Broadcast { conns, frame } => {
                let Some(frame) = text(frame) else { return };
                for conn in conns {
                    self.push(conn, frame.clone());
                }
            }
            Output::Close { conn, code, reason } => {
                if let Some(handle) = self.conns.remove(&conn) {
                    let _ = handle.tx.try_send(Outgoing::Close(code, reason));
                }
            }
            Output::Reply { request, reply } => {
                if let Some(tx) = self.replies.remove(&request) {
                    let _ = tx.send(reply);
                }
            }
            Output::Store(write) => self.persist(write),
            Output::Webhook(event) => self.state.0.webhooks.emit(self.state.store(), &self.app_id, &event),
            Output::CheckParticipants { check, participant_ids } => {
                let current = self.current_participants(&participant_ids);
                self.room.handle_participants_checked(Instant::now(), check, current);
            }
            Output::FindEndedStay { conn, peer_id, participant_id } => {
                let ended = self.state.store().ended_stay(&peer_id, &participant_id).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "store failure looking up a stay");
                    None
                });
                self.room.handle_ended_stay(Instant::now(), conn, &peer_id, ended);
            }
            Output::Recording(io) => {
                if let Some((id, result)) = self.files.apply(io) {
                    self.room.handle_recording_io(Instant::now(), &id, result);
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

    /// The records of those of these participants that still exist in this meeting. A store
    /// failure counts as gone: membership is never granted on a guess.
    fn current_participants(&self, ids: &[String]) -> Vec<ParticipantInfo> {
        let meeting_id = &self.room.meeting().id;
        ids.iter()
            .filter_map(|id| match self.state.store().participant_by_id(id) {
                Ok(Some((p, home))) if home.meeting_id == *meeting_id => Some(p.info()),
                Ok(_) => None,
                Err(e) => {
                    tracing::error!(error = %e, "store failure checking a participant; refusing");
                    None
                }
            })
            .collect()
    }

    /// Applies one store write.
    fn persist(&mut self, write: StoreWrite) {
        let store = self.state.store();
        let result = match &write {
            StoreWrite::SessionStarted { session_id, meeting_id, title, started_at } => {
                store.start_session(&self.app_id, session_id, meeting_id, title.as_deref(), started_at)
            }
            StoreWrite::SessionTouched { session_id, last_seq, concurrent } => {
                store.touch_session(session_id, *last_seq, *concurrent)
            }
            StoreWrite::PeerJoined { session_id, peer_id, participant, at } => {
                store.peer_joined(session_id, peer_id, participant, at)
            }
            StoreWrite::PeerLeft { peer_id, outcome, at } => store.peer_left(peer_id, *outcome, at),
            StoreWrite::SessionEnded { end, last_seq, ended_at, webhook } => {
                let ended_by = serde_json::to_string(&end.ended_by).unwrap_or_default();
                let reason = serde_json::to_value(end.reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let body = webhook.payload.to_string();
                let queued = (self.app_id.as_str(), webhook.kind.as_str(), body.as_str(), webhook.at_ms as i64);
                store.end_session(&end.session_id, &reason, &ended_by, *last_seq, ended_at, queued).map(|n| {
                    if n > 0 {
                        self.state.0.webhooks.wake();
                    }
                })
            }
            StoreWrite::RecordingSaved(rec) => store.save_recording(&self.app_id, rec),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, ?write, "a store write failed");
        }
    }
}

/// A frame as the WebSocket library takes it (the bytes are shared, not copied).
fn text(frame: Frame) -> Option<Utf8Bytes> {
    Utf8Bytes::try_from(frame.bytes().clone()).ok()
}
