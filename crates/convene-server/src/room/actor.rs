//! The room task: its state, its loop, connections, and sequenced delivery.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use convene_core::permissions::Permissions;
use convene_core::proto::{encode_server, CloseCode, Peer, ServerMessage, SessionEvent, WireError};
use convene_core::state::SessionEnd;
use tokio::sync::mpsc;

use super::recording::ActiveRecording;
use super::{ConnHandle, Outgoing, RoomCommand};
use crate::model::{Meeting, Participant};
use crate::state::AppState;

/// Frames kept per connected peer for replay on resume. Older ones are dropped, and a resume
/// from before them gets a fresh snapshot instead.
pub(super) const REPLAY_CONNECTED: usize = 64;
/// Frames kept per away peer; past this the resume gets a snapshot.
pub(super) const REPLAY_AWAY: usize = 4096;
/// Sequence numbers skipped after a restart, above anything sent before it.
const RESTART_SEQ_MARGIN: u64 = 1_000_000;
/// How long the room remembers why a peer left (for resumes that come late).
const GONE_MEMORY: Duration = Duration::from_secs(600);

/// Where a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Welcomed; has not asked to join.
    Joining,
    /// In the waiting room.
    Waiting,
    /// In the session.
    Joined,
}

/// Why a peer is no longer here (answered to late resumes).
#[derive(Debug, Clone)]
pub(super) enum Gone {
    Left,
    Kicked(convene_core::Actor),
    Rejected(convene_core::Actor),
    Ended(SessionEnd),
    Expired,
}

/// A peer of this room.
pub(super) struct PeerState {
    pub peer: Peer,
    pub participant: Participant,
    pub permissions: Permissions,
    pub status: Status,
    pub conn: Option<u64>,
    pub away_since: Option<Instant>,
    pub replay: VecDeque<(u64, Utf8Bytes)>,
    /// The highest sequence number dropped from `replay`.
    pub evicted_up_to: u64,
    /// When the token of its latest connection expires (seconds since the epoch).
    pub token_expires: u64,
}

/// The live session.
pub(super) struct Live {
    pub id: String,
    pub started_at: String,
}

/// One meeting's live state.
pub(super) struct Room {
    pub state: AppState,
    pub app_id: String,
    pub app_name: String,
    /// The account the app belongs to (for URLs to the REST API).
    pub app_account: String,
    pub meeting: Meeting,
    pub session: Option<Live>,
    pub seq: u64,
    pub peers: HashMap<String, PeerState>,
    pub conns: HashMap<u64, (ConnHandle, Option<String>)>,
    pub gone: HashMap<String, (Gone, Instant)>,
    pub recording: Option<ActiveRecording>,
    /// Since when the session has had no joined peer.
    pub empty_since: Option<Instant>,
    /// Since when the room has had nothing at all.
    idle_since: Option<Instant>,
}

/// A live session restored from the store at start-up.
pub struct Restored {
    /// Session id.
    pub session_id: String,
    /// Start time.
    pub started_at: String,
    /// Highest sequence number persisted.
    pub last_seq: u64,
    /// Peers that were in it, by peer id, with their participant records.
    pub peers: Vec<(String, Participant)>,
}

pub(super) fn spawn(
    state: AppState,
    app_id: String,
    meeting: Meeting,
    rx: mpsc::Receiver<RoomCommand>,
    restored: Option<Restored>,
) {
    let app_name = state.store().app_name(&app_id).ok().flatten().unwrap_or_default();
    let app_account = state.store().app_account(&app_id).ok().flatten().unwrap_or_default();
    let mut room = Room {
        state,
        app_id,
        app_name,
        app_account,
        meeting,
        session: None,
        seq: 0,
        peers: HashMap::new(),
        conns: HashMap::new(),
        gone: HashMap::new(),
        recording: None,
        empty_since: None,
        idle_since: Some(Instant::now()),
    };
    if let Some(r) = restored {
        room.restore(r);
    }
    tokio::spawn(room.run(rx));
}

/// Starts the room of a session that was live when the server stopped: its peers are away and
/// may resume within the grace period (with a snapshot, since the event log did not survive).
pub fn spawn_restored(state: &AppState, app_id: &str, meeting: Meeting, restored: Restored) {
    let (tx, rx) = mpsc::channel(super::ROOM_QUEUE);
    state.0.rooms.insert(&meeting.id, tx);
    spawn(state.clone(), app_id.to_owned(), meeting, rx, Some(restored));
}

impl Room {
    fn restore(&mut self, r: Restored) {
        self.seq = r.last_seq + RESTART_SEQ_MARGIN;
        // Stored at once: only joins store the sequence otherwise, so a second restart before
        // any join would start again from the same base, below what clients already have.
        if let Err(e) = self.state.store().touch_session(&r.session_id, self.seq, 0) {
            tracing::error!(error = %e, "could not record the restored sequence");
        }
        self.session = Some(Live { id: r.session_id, started_at: r.started_at });
        let now = Instant::now();
        for (peer_id, participant) in r.peers {
            let permissions = self.permissions_for(&participant);
            let peer = peer_record(&peer_id, &participant, &permissions);
            self.peers.insert(
                peer_id,
                PeerState {
                    peer,
                    participant,
                    permissions,
                    status: Status::Joined,
                    conn: None,
                    away_since: Some(now),
                    replay: VecDeque::new(),
                    evicted_up_to: u64::MAX,
                    // Checked again at the resume's hello, which brings its token.
                    token_expires: u64::MAX,
                },
            );
        }
        if self.joined_ids().is_empty() {
            self.empty_since = Some(now);
        }
        self.idle_since = None;
        tracing::info!(meeting = %self.meeting.id, peers = self.peers.len(), "restored a live session");
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoomCommand>) {
        let meeting_id = self.meeting.id.clone();
        tracing::debug!(meeting = %meeting_id, "room started");
        let mut stopping = self.state.stopping();
        loop {
            if *stopping.borrow() {
                break;
            }
            let deadline = self.next_deadline().unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.handle(cmd),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline.into()) => self.tick(Instant::now()),
                _ = stopping.changed() => break,
            }
            // After commands and timers alike: track idleness, and end the task once idle long
            // enough (otherwise the idle deadline, already past, would fire again at once).
            if !self.is_idle() {
                self.idle_since = None;
            } else if self.idle_since.is_none() {
                self.idle_since = Some(Instant::now());
            }
            if self.idle_since.is_some_and(|t| t.elapsed() >= self.state.0.timings.room_idle)
                && self.close_if_idle(&mut rx)
            {
                break;
            }
        }
        tracing::debug!(meeting = %meeting_id, "room stopped");
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
                    let _ = reply.send(super::ApiReply::Refused(super::Refusal::Restarting));
                }
                RoomCommand::Attach { conn, .. } => {
                    let _ = conn.tx.try_send(Outgoing::Close(CloseCode::TryAgainLater, "room restarting; try again"));
                    conn.kill.notify_one();
                }
                RoomCommand::Frame { .. } | RoomCommand::BadFrame { .. } | RoomCommand::Detach { .. } => {}
            }
        }
        let map = &self.state.0.rooms;
        map.forget_closed(&self.meeting.id);
        true
    }

    fn is_idle(&self) -> bool {
        self.session.is_none() && self.peers.is_empty() && self.conns.is_empty() && self.recording.is_none()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let t = &self.state.0.timings;
        let away = self.peers.values().filter_map(|p| p.away_since.map(|a| a + t.away_grace)).min();
        let keep_alive = self
            .empty_since
            .filter(|_| self.session.is_some())
            .map(|e| e + Duration::from_secs(u64::from(self.meeting.session_keep_alive_time_in_secs)));
        let idle = self.idle_since.map(|i| i + t.room_idle);
        let gone = self.gone.values().map(|(_, at)| *at + GONE_MEMORY).min();
        [away, keep_alive, idle, gone].into_iter().flatten().min()
    }

    fn tick(&mut self, now: Instant) {
        let grace = self.state.0.timings.away_grace;
        let expired: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| p.away_since.is_some_and(|a| now >= a + grace))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::info!(peer = %id, "away too long; removed");
            self.remove_peer(&id, Gone::Expired, "expired");
        }
        let keep_alive = Duration::from_secs(u64::from(self.meeting.session_keep_alive_time_in_secs));
        if self.session.is_some() && self.empty_since.is_some_and(|e| now >= e + keep_alive) {
            self.end_session(convene_core::EndReason::AllParticipantsLeft, convene_core::Actor::System);
        }
        self.gone.retain(|_, (_, at)| now < *at + GONE_MEMORY);
    }

    fn handle(&mut self, cmd: RoomCommand) {
        match cmd {
            RoomCommand::Attach { conn, arrival } => self.attach(conn, arrival),
            RoomCommand::Frame { conn_id, msg } => self.frame(conn_id, msg),
            RoomCommand::BadFrame { conn_id, code, message } => {
                if let Some((conn, _)) = self.conns.get(&conn_id) {
                    let conn = conn.clone();
                    self.send_direct(&conn, &ServerMessage::Error { req: None, error: WireError::new(code, message) });
                }
            }
            RoomCommand::Detach { conn_id } => self.detach(conn_id),
            RoomCommand::Api { command, reply } => {
                let answer = self.api(command);
                let _ = reply.send(answer);
            }
        }
    }

    /// The permissions of a participant's preset ([`crate::store::Store::preset_permissions`]);
    /// when the store fails, the built-in preset of that name, else none.
    pub(super) fn permissions_for(&self, participant: &Participant) -> Permissions {
        let name = &participant.preset_name;
        self.state.store().preset_permissions(&self.app_id, name).unwrap_or_else(|e| {
            tracing::error!(preset = %name, error = %e, "store failure reading a preset");
            Permissions::built_in(name).unwrap_or_default()
        })
    }

    /// Sends an unsequenced message on one connection.
    pub(super) fn send_direct(&mut self, conn: &ConnHandle, msg: &ServerMessage) {
        let frame = Utf8Bytes::from(encode_server(msg));
        self.push(conn.clone(), frame);
    }

    /// Queues a frame; a connection whose queue is full is too slow and is dropped (it resumes).
    /// Returns whether the frame was queued.
    pub(super) fn push(&mut self, conn: ConnHandle, frame: Utf8Bytes) -> bool {
        if conn.tx.try_send(Outgoing::Frame(frame)).is_ok() {
            return true;
        }
        tracing::warn!(conn = conn.id, "client cannot keep up; disconnecting it");
        conn.kill.notify_one();
        self.detach(conn.id);
        false
    }

    /// Sends one sequenced event to several peers: one sequence number, one serialisation.
    pub(super) fn broadcast(&mut self, recipients: &[String], event: SessionEvent) {
        self.seq += 1;
        let seq = self.seq;
        let frame = Utf8Bytes::from(encode_server(&ServerMessage::Event { seq, event }));
        if let Some(rec) = &mut self.recording {
            rec.write(&frame);
        }
        let mut targets = Vec::with_capacity(recipients.len());
        for id in recipients {
            let Some(p) = self.peers.get_mut(id) else { continue };
            let cap = if p.conn.is_some() { REPLAY_CONNECTED } else { REPLAY_AWAY };
            p.replay.push_back((seq, frame.clone()));
            while p.replay.len() > cap {
                if let Some((old, _)) = p.replay.pop_front() {
                    p.evicted_up_to = old;
                }
            }
            if let Some(conn_id) = p.conn {
                if let Some((conn, _)) = self.conns.get(&conn_id) {
                    targets.push(conn.clone());
                }
            }
        }
        for conn in targets {
            self.push(conn, frame.clone());
        }
    }

    /// Sends one sequenced event to one peer.
    pub(super) fn event_to(&mut self, peer_id: &str, event: SessionEvent) {
        self.broadcast(&[peer_id.to_owned()], event);
    }

    /// Closes a peer's connection after what is queued.
    pub(super) fn close_peer_conn(&mut self, peer_id: &str, code: CloseCode, reason: &'static str) {
        let Some(conn_id) = self.peers.get_mut(peer_id).and_then(|p| p.conn.take()) else { return };
        if let Some((conn, _)) = self.conns.remove(&conn_id) {
            let _ = conn.tx.try_send(Outgoing::Close(code, reason));
        }
    }

    /// Peer ids in the session.
    pub(super) fn joined_ids(&self) -> Vec<String> {
        self.peers.iter().filter(|(_, p)| p.status == Status::Joined).map(|(id, _)| id.clone()).collect()
    }

    fn detach(&mut self, conn_id: u64) {
        let Some((_, peer_id)) = self.conns.remove(&conn_id) else { return };
        let Some(peer_id) = peer_id else { return };
        let Some(p) = self.peers.get_mut(&peer_id) else { return };
        if p.conn != Some(conn_id) {
            return;
        }
        p.conn = None;
        if p.status == Status::Joining {
            self.peers.remove(&peer_id);
            return;
        }
        p.away_since = Some(Instant::now());
        tracing::debug!(peer = %peer_id, "connection lost; waiting for a resume");
    }
}

/// The public record of a peer.
pub(super) fn peer_record(peer_id: &str, participant: &Participant, permissions: &Permissions) -> Peer {
    Peer {
        id: peer_id.to_owned(),
        user_id: participant.id.clone(),
        name: participant.name.clone().unwrap_or_else(|| participant.custom_participant_id.clone()),
        picture: participant.picture.clone(),
        custom_participant_id: participant.custom_participant_id.clone(),
        preset_name: participant.preset_name.clone(),
        hidden: permissions.hidden_participant,
    }
}
