//! The room's invariants, checked against the real machine after every step of a test: what its
//! outputs broke ([`SimServer::violations`]), sessions ending exactly once, the persisted writes
//! agreeing with the machine's state, and every settled, connected client's roster agreeing
//! with the room's.

use std::collections::{BTreeMap, BTreeSet};

use convene_core::RoomState;
use convene_room::{PeerStatus, RecordingStatus, StoreWrite};

use super::{SimServer, World};

/// What the persisted writes say, applied in order.
#[derive(Debug, Default)]
pub struct StoreModel {
    /// Sessions by id: whether each is live.
    pub sessions: BTreeMap<String, bool>,
    /// Open stays: peer id to session id.
    pub open_stays: BTreeMap<String, String>,
    /// The last saved status of each recording.
    pub recordings: BTreeMap<String, RecordingStatus>,
    /// The highest `last_seq` written per session.
    pub last_seq: BTreeMap<String, u64>,
}

impl StoreModel {
    /// Applies the writes in order; the first write that makes no sense is an error.
    pub fn replay(writes: &[StoreWrite]) -> Result<Self, String> {
        let mut m = StoreModel::default();
        for w in writes {
            match w {
                StoreWrite::SessionStarted { session_id, .. } => {
                    if m.sessions.insert(session_id.clone(), true).is_some() {
                        return Err(format!("session {session_id} started twice"));
                    }
                }
                StoreWrite::SessionTouched { session_id, last_seq, .. } => {
                    if !m.sessions.contains_key(session_id) {
                        return Err(format!("touch of unknown session {session_id}"));
                    }
                    let seq = m.last_seq.entry(session_id.clone()).or_default();
                    *seq = (*seq).max(*last_seq);
                }
                StoreWrite::PeerJoined { session_id, peer_id, .. } => {
                    if m.sessions.get(session_id) != Some(&true) {
                        return Err(format!("{peer_id} joined session {session_id}, which is not live"));
                    }
                    if m.open_stays.insert(peer_id.clone(), session_id.clone()).is_some() {
                        return Err(format!("{peer_id} joined twice"));
                    }
                }
                StoreWrite::PeerLeft { peer_id, .. } => {
                    if m.open_stays.remove(peer_id).is_none() {
                        return Err(format!("{peer_id} left without an open stay"));
                    }
                }
                StoreWrite::SessionEnded { end, last_seq, .. } => {
                    if m.sessions.insert(end.session_id.clone(), false) != Some(true) {
                        return Err(format!("session {} ended twice, or before it started", end.session_id));
                    }
                    m.open_stays.retain(|_, s| *s != end.session_id);
                    m.last_seq.insert(end.session_id.clone(), *last_seq);
                }
                StoreWrite::RecordingSaved(rec) => {
                    m.recordings.insert(rec.id.clone(), rec.status);
                }
                StoreWrite::PeerPinned { peer_id, .. } => {
                    if !m.open_stays.contains_key(peer_id) {
                        return Err(format!("{peer_id} was pinned without an open stay"));
                    }
                }
            }
        }
        Ok(m)
    }
}

/// Checks the room's invariants; `Err` says which broke.
pub fn check_server(server: &SimServer) -> Result<(), String> {
    if let Some(v) = server.violations.first() {
        return Err(v.clone());
    }
    let ended: BTreeSet<&String> = server.ended_sessions.iter().map(|(id, _)| id).collect();
    if ended.len() != server.ended_sessions.len() {
        return Err(format!("a session ended twice: {:?}", server.ended_sessions));
    }
    let model = StoreModel::replay(&server.writes)?;
    let live: Vec<&String> = model.sessions.iter().filter(|(_, live)| **live).map(|(id, _)| id).collect();
    let room = server.room();
    if live.iter().map(|s| s.as_str()).collect::<Vec<_>>() != room.session_id().into_iter().collect::<Vec<_>>() {
        return Err(format!("the store's live sessions {live:?} are not the room's {:?}", room.session_id()));
    }
    let joined = server.joined_peer_ids();
    let stays: BTreeSet<String> = model.open_stays.keys().cloned().collect();
    if stays != joined {
        return Err(format!("open stays {stays:?} are not the joined peers {joined:?}"));
    }
    let recording_live = model
        .recordings
        .values()
        .any(|s| matches!(s, RecordingStatus::Invoked | RecordingStatus::Recording | RecordingStatus::Paused));
    if recording_live != (room.recording_state() != convene_core::RecordingState::Idle) {
        return Err(format!(
            "the store's recordings {:?} disagree with {:?}",
            model.recordings,
            room.recording_state()
        ));
    }
    Ok(())
}

/// [`check_server`], and every connected, joined client's roster against the room's.
pub fn check_world(w: &World) -> Result<(), String> {
    check_server(&w.server)?;
    let room = w.server.room();
    let peers: Vec<_> = room.peers().collect();
    for (alias, client) in &w.clients {
        let core = &client.core;
        let Some(me) = core.peer_id() else { continue };
        let Some(view) = peers.iter().find(|p| p.peer.id == me) else { continue };
        let attached = client.conn.is_some() && view.conn.map(|c| c.0) == client.conn;
        if !attached || core.room_state() != RoomState::Joined || view.status != PeerStatus::Joined {
            continue;
        }
        let visible = |p: &&convene_room::PeerView| p.peer.id != me && !p.peer.hidden;
        let expected: BTreeSet<String> = if view.permissions.show_participant_list {
            peers.iter().filter(|p| p.status == PeerStatus::Joined).filter(visible).map(|p| p.peer.id.clone()).collect()
        } else {
            BTreeSet::new()
        };
        let got: BTreeSet<String> = core.roster().joined().keys().cloned().collect();
        if got != expected {
            return Err(format!("{alias}'s roster {got:?} is not the room's {expected:?}"));
        }
        if view.permissions.accept_waiting_requests {
            let waiting: BTreeSet<String> =
                peers.iter().filter(|p| p.status == PeerStatus::Waiting).map(|p| p.peer.id.clone()).collect();
            let got: BTreeSet<String> = core.roster().waitlisted().keys().cloned().collect();
            if got != waiting {
                return Err(format!("{alias}'s waiting list {got:?} is not the room's {waiting:?}"));
            }
        }
    }
    Ok(())
}
