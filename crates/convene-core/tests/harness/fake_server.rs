//! A simulated session server for one meeting: just enough of `convene-server`'s rules to drive
//! the core through every story, deterministically, with simulated time.
//!
//! It speaks the real wire protocol (`ServerMessage` / `ClientMessage`), keeps a per-peer log of
//! sequenced events for resume, re-checks permissions like the real server, and exposes the
//! REST-side actions (kick, kick-all, status) and faults (drop, offline) the scenarios use.

use std::collections::{BTreeMap, BTreeSet};

use convene_core::permissions::{Permissions, WaitingRoomType};
use convene_core::proto::{
    ClientMessage, MeetingInfo, Peer, ReplyData, ResumeRefusal, RoomSnapshot, SelfInfo, ServerMessage, SessionEvent,
    SessionInfo, WaitlistOutcome, WireError, PROTOCOL_VERSION,
};
use convene_core::state::{Actor, EndReason, RecordingState, SessionEnd};

/// A connection id.
pub type ConnId = u64;

/// A participant record (what REST `POST .../participants` creates).
#[derive(Debug, Clone)]
pub struct Registration {
    pub token: String,
    pub info: SelfInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeerStatus {
    Joining,
    Waiting,
    Joined,
}

#[derive(Debug)]
struct LivePeer {
    alias: String,
    peer: Peer,
    permissions: Permissions,
    status: PeerStatus,
    conn: Option<ConnId>,
    log: Vec<(u64, SessionEvent)>,
    away_since: Option<u64>,
}

/// How a peer's stay ended, remembered for resume.
#[derive(Debug, Clone)]
enum Gone {
    Left,
    Kicked(Actor),
    Rejected(Actor),
    Ended(SessionEnd),
    Expired,
}

/// The simulated server.
#[derive(Debug)]
pub struct FakeServer {
    pub meeting: MeetingInfo,
    pub active: bool,
    pub online: bool,
    pub keep_alive_ms: u64,
    pub away_grace_ms: u64,
    registrations: BTreeMap<String, Registration>,
    conns: BTreeMap<ConnId, Option<String>>,
    next_conn: ConnId,
    peers: BTreeMap<String, LivePeer>,
    gone: BTreeMap<String, Gone>,
    session: Option<SessionInfo>,
    empty_since: Option<u64>,
    recording: RecordingState,
    seq: u64,
    peer_counter: u64,
    session_counter: u64,
    /// Messages to deliver, by connection, in order.
    pub outbox: Vec<(ConnId, ServerMessage)>,
    /// Connections the server closed.
    pub closed: Vec<ConnId>,
    /// Sessions that ended, in order (id, reason).
    pub ended_sessions: Vec<(String, EndReason)>,
}

impl FakeServer {
    pub fn new(keep_alive_ms: u64) -> Self {
        Self {
            meeting: MeetingInfo { id: "meeting-1".into(), title: "Scenario meeting".into() },
            active: true,
            online: true,
            keep_alive_ms,
            away_grace_ms: 120_000,
            registrations: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            peers: BTreeMap::new(),
            gone: BTreeMap::new(),
            session: None,
            empty_since: None,
            recording: RecordingState::Idle,
            seq: 0,
            peer_counter: 0,
            session_counter: 0,
            outbox: Vec::new(),
            closed: Vec::new(),
            ended_sessions: Vec::new(),
        }
    }

    pub fn register(&mut self, alias: &str, preset: &str, permissions: Permissions) -> Registration {
        let reg = Registration {
            token: format!("token-{alias}"),
            info: SelfInfo {
                user_id: format!("user-{alias}"),
                name: alias.to_owned(),
                picture: None,
                custom_participant_id: alias.to_owned(),
                preset_name: preset.to_owned(),
                permissions,
            },
        };
        self.registrations.insert(reg.token.clone(), reg.clone());
        reg
    }

    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }

    pub fn recording(&self) -> RecordingState {
        self.recording
    }

    /// The peer id of a live peer by alias.
    pub fn peer_id_of(&self, alias: &str) -> Option<String> {
        self.peers.values().find(|p| p.alias == alias).map(|p| p.peer.id.clone())
    }

    pub fn open(&mut self) -> Option<ConnId> {
        if !self.online {
            return None;
        }
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(id, None);
        Some(id)
    }

    /// The connection closed (either side).
    pub fn close(&mut self, now: u64, conn: ConnId) {
        if let Some(Some(peer_id)) = self.conns.remove(&conn) {
            if let Some(p) = self.peers.get_mut(&peer_id) {
                if p.conn == Some(conn) {
                    p.conn = None;
                    p.away_since = Some(now);
                }
            }
        }
    }

    /// The server drops a connection on its side.
    pub fn drop_conn(&mut self, now: u64, conn: ConnId) {
        self.close(now, conn);
        self.closed.push(conn);
    }

    pub fn set_online(&mut self, now: u64, online: bool) {
        self.online = online;
        if !online {
            let conns: Vec<ConnId> = self.conns.keys().copied().collect();
            for c in conns {
                self.drop_conn(now, c);
            }
        }
    }

    fn send(&mut self, conn: ConnId, msg: ServerMessage) {
        self.outbox.push((conn, msg));
    }

    fn error(&mut self, conn: ConnId, req: u64, code: u16, message: &str) {
        self.send(conn, ServerMessage::Error { req: Some(req), error: WireError { code, message: message.into() } });
    }

    /// Logs a sequenced event for one peer and delivers it if connected.
    fn event_to(&mut self, peer_id: &str, event: SessionEvent) {
        self.seq += 1;
        let seq = self.seq;
        if let Some(p) = self.peers.get_mut(peer_id) {
            p.log.push((seq, event.clone()));
            if let Some(conn) = p.conn {
                self.outbox.push((conn, ServerMessage::Event { seq, event }));
            }
        }
    }

    fn joined_ids(&self) -> Vec<String> {
        self.peers.values().filter(|p| p.status == PeerStatus::Joined).map(|p| p.peer.id.clone()).collect()
    }

    pub fn handle(&mut self, now: u64, conn: ConnId, msg: ClientMessage) {
        let Some(bound) = self.conns.get(&conn).cloned() else { return };
        match (bound, msg) {
            (None, ClientMessage::Hello { protocol, token, resume }) => self.hello(now, conn, protocol, &token, resume),
            (None, _) => {
                let error = WireError { code: 4400, message: "the first frame must be hello".into() };
                self.send(conn, ServerMessage::Error { req: None, error });
                self.drop_conn(now, conn);
            }
            (Some(_), ClientMessage::Hello { .. }) => {
                let error = WireError { code: 4400, message: "hello was already sent".into() };
                self.send(conn, ServerMessage::Error { req: None, error });
            }
            (Some(peer_id), msg) => self.command(now, conn, &peer_id, msg),
        }
    }

    fn hello(
        &mut self,
        now: u64,
        conn: ConnId,
        protocol: u32,
        token: &str,
        resume: Option<convene_core::proto::Resume>,
    ) {
        let Some(reg) = self.registrations.get(token).cloned() else {
            let error = WireError { code: 4, message: "invalid auth token".into() };
            self.send(conn, ServerMessage::Error { req: None, error });
            self.drop_conn(now, conn);
            return;
        };
        if protocol != PROTOCOL_VERSION {
            let error = WireError { code: 4400, message: "unsupported protocol".into() };
            self.send(conn, ServerMessage::Error { req: None, error });
            return;
        }
        if let Some(resume) = resume {
            if let Some(gone) = self.gone.get(&resume.peer_id).cloned() {
                let refusal = match gone {
                    Gone::Kicked(by) => ResumeRefusal::Kicked { by },
                    Gone::Rejected(by) => ResumeRefusal::Rejected { by },
                    Gone::Ended(end) => ResumeRefusal::SessionEnded { end },
                    Gone::Left | Gone::Expired => ResumeRefusal::Expired,
                };
                self.send(conn, ServerMessage::ResumeRefused { refusal });
                return;
            }
            let Some(p) = self.peers.get_mut(&resume.peer_id) else {
                self.send(conn, ServerMessage::ResumeRefused { refusal: ResumeRefusal::Expired });
                return;
            };
            p.conn = Some(conn);
            p.away_since = None;
            let missed: Vec<(u64, SessionEvent)> =
                p.log.iter().filter(|(s, _)| *s > resume.last_seq).cloned().collect();
            let self_info = SelfInfo { permissions: p.permissions.clone(), ..reg.info.clone() };
            self.conns.insert(conn, Some(resume.peer_id.clone()));
            let meeting = self.meeting.clone();
            let peer_id = resume.peer_id;
            self.send(conn, ServerMessage::Welcome { protocol, peer_id, resumed: true, self_info, meeting });
            for (seq, event) in missed {
                self.send(conn, ServerMessage::Event { seq, event });
            }
            return;
        }
        self.peer_counter += 1;
        let alias = reg.info.custom_participant_id.clone();
        let peer_id = format!("peer-{alias}-{}", self.peer_counter);
        let peer = Peer {
            id: peer_id.clone(),
            user_id: reg.info.user_id.clone(),
            name: reg.info.name.clone(),
            picture: None,
            custom_participant_id: reg.info.custom_participant_id.clone(),
            preset_name: reg.info.preset_name.clone(),
            hidden: reg.info.permissions.hidden_participant,
        };
        self.peers.insert(
            peer_id.clone(),
            LivePeer {
                alias,
                peer,
                permissions: reg.info.permissions.clone(),
                status: PeerStatus::Joining,
                conn: Some(conn),
                log: Vec::new(),
                away_since: None,
            },
        );
        self.conns.insert(conn, Some(peer_id.clone()));
        let meeting = self.meeting.clone();
        self.send(conn, ServerMessage::Welcome { protocol, peer_id, resumed: false, self_info: reg.info, meeting });
    }

    fn command(&mut self, now: u64, conn: ConnId, peer_id: &str, msg: ClientMessage) {
        let Some(me) = self.peers.get(peer_id) else { return };
        let perms = me.permissions.clone();
        let status = me.status;
        let by = Actor::Peer { peer_id: peer_id.to_owned() };
        let joined = status == PeerStatus::Joined;
        match msg {
            ClientMessage::Ping {} => self.send(conn, ServerMessage::Pong),
            ClientMessage::Hello { .. } => {}
            ClientMessage::Join { req } => {
                if status != PeerStatus::Joining {
                    return self.error(conn, req, 1903, "already joined");
                }
                if !self.active {
                    return self.error(conn, req, 2, "the meeting is INACTIVE");
                }
                let must_wait = match perms.waiting_room_type {
                    WaitingRoomType::Skip => false,
                    WaitingRoomType::SkipOnAccept => true,
                    WaitingRoomType::OnPrivilegedUserEntry => !self.privileged_present(),
                };
                if must_wait {
                    self.waitlist(peer_id);
                } else {
                    self.admit(now, peer_id);
                }
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
            }
            ClientMessage::Leave { req } => {
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
                self.remove(now, peer_id, Gone::Left);
            }
            ClientMessage::Kick { req, peer_id: target } => {
                if !joined || !perms.kick_participant {
                    return self.error(conn, req, 1201, "kick_participant is required");
                }
                if !self.peers.get(&target).is_some_and(|p| p.status == PeerStatus::Joined) {
                    return self.error(conn, req, 1202, "no such participant");
                }
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
                self.kick(now, &target, by);
            }
            ClientMessage::KickAll { req } => {
                if !joined || !perms.kick_participant {
                    return self.error(conn, req, 1201, "kick_participant is required");
                }
                let count = self.peers.len() as u64;
                let data = ReplyData { kicked_participants_count: Some(count) };
                self.send(conn, ServerMessage::Reply { req, data });
                self.end_session(now, EndReason::HostEndedMeeting, by);
            }
            ClientMessage::AcceptWaiting { req, peer_ids } => {
                if !joined || !perms.accept_waiting_requests {
                    return self.error(conn, req, 1201, "accept_waiting_requests is required");
                }
                if !peer_ids.iter().all(|id| self.is_waiting(id)) {
                    return self.error(conn, req, 1202, "no such waiting participant");
                }
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
                for id in peer_ids {
                    self.waitlist_removed(&id, WaitlistOutcome::Accepted);
                    self.admit(now, &id);
                }
            }
            ClientMessage::RejectWaiting { req, peer_id: target } => {
                if !joined || !perms.accept_waiting_requests {
                    return self.error(conn, req, 1201, "accept_waiting_requests is required");
                }
                if !self.is_waiting(&target) {
                    return self.error(conn, req, 1202, "no such waiting participant");
                }
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
                self.waitlist_removed(&target, WaitlistOutcome::Rejected);
                self.event_to(&target, SessionEvent::Rejected { by: by.clone() });
                self.remove(now, &target, Gone::Rejected(by));
            }
            ClientMessage::UpdatePermissions { req, peer_ids, patch } => {
                if !joined || !perms.can_change_participant_permissions {
                    return self.error(conn, req, 1201, "can_change_participant_permissions is required");
                }
                if patch.beyond(&perms).is_some() {
                    return self.error(conn, req, 1201, "cannot grant a permission the sender does not hold");
                }
                if !peer_ids.iter().all(|id| self.peers.contains_key(id)) {
                    return self.error(conn, req, 1202, "no such participant");
                }
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
                for id in peer_ids {
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.permissions.apply(&patch);
                    }
                    self.event_to(&id, SessionEvent::PermissionsUpdated { patch, by: by.clone() });
                }
            }
            ClientMessage::StartRecording { req } | ClientMessage::StopRecording { req }
                if !joined || !perms.can_record =>
            {
                self.error(conn, req, 1001, "can_record is required")
            }
            ClientMessage::StartRecording { req } => {
                if self.recording != RecordingState::Idle {
                    return self.error(conn, req, 1005, "recording already in progress");
                }
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
                self.set_recording(RecordingState::Starting);
                self.set_recording(RecordingState::Recording);
            }
            ClientMessage::StopRecording { req } => {
                if self.recording == RecordingState::Idle {
                    return self.error(conn, req, 1004, "recording not started");
                }
                self.send(conn, ServerMessage::Reply { req, data: ReplyData::default() });
                self.set_recording(RecordingState::Stopping);
                self.set_recording(RecordingState::Idle);
            }
        }
    }

    fn privileged_present(&self) -> bool {
        self.peers.values().any(|p| p.status == PeerStatus::Joined && p.permissions.accept_waiting_requests)
    }

    fn is_waiting(&self, id: &str) -> bool {
        self.peers.get(id).is_some_and(|p| p.status == PeerStatus::Waiting)
    }

    fn waitlist(&mut self, peer_id: &str) {
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        p.status = PeerStatus::Waiting;
        let peer = p.peer.clone();
        self.event_to(peer_id, SessionEvent::Waitlisted);
        let hosts: Vec<String> = self
            .peers
            .values()
            .filter(|h| h.status == PeerStatus::Joined && h.permissions.accept_waiting_requests)
            .map(|h| h.peer.id.clone())
            .collect();
        for h in hosts {
            self.event_to(&h, SessionEvent::WaitlistAdded { peer: peer.clone() });
        }
    }

    fn waitlist_removed(&mut self, peer_id: &str, outcome: WaitlistOutcome) {
        let hosts: Vec<String> = self
            .peers
            .values()
            .filter(|h| h.status == PeerStatus::Joined && h.permissions.accept_waiting_requests)
            .map(|h| h.peer.id.clone())
            .collect();
        for h in hosts {
            self.event_to(&h, SessionEvent::WaitlistRemoved { peer_id: peer_id.to_owned(), outcome });
        }
    }

    fn admit(&mut self, now: u64, peer_id: &str) {
        if self.session.is_none() {
            self.session_counter += 1;
            self.session =
                Some(SessionInfo { id: format!("session-{}", self.session_counter), started_at: format!("t+{now}ms") });
        }
        self.empty_since = None;
        let others = self.joined_ids();
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        p.status = PeerStatus::Joined;
        let me = p.peer.clone();
        let my_perms = p.permissions.clone();
        let visible = |id: &String, s: &Self| s.peers.get(id).map(|x| x.peer.clone()).filter(|x| !x.hidden);
        let peers: Vec<Peer> = if my_perms.show_participant_list {
            others.iter().filter_map(|id| visible(id, self)).collect()
        } else {
            Vec::new()
        };
        let waitlisted: Vec<Peer> = if my_perms.accept_waiting_requests {
            self.peers.values().filter(|w| w.status == PeerStatus::Waiting).map(|w| w.peer.clone()).collect()
        } else {
            Vec::new()
        };
        let room = RoomSnapshot {
            self_peer: me.clone(),
            session: self.session.clone().expect("session exists"),
            peers,
            waitlisted,
            recording: self.recording,
        };
        self.event_to(peer_id, SessionEvent::Joined { room });
        if !me.hidden {
            for other in &others {
                if self.peers.get(other).is_some_and(|o| o.permissions.show_participant_list) {
                    self.event_to(other, SessionEvent::PeerJoined { peer: me.clone() });
                }
            }
        }
        if my_perms.accept_waiting_requests {
            let waiting: Vec<String> = self
                .peers
                .values()
                .filter(|w| {
                    w.status == PeerStatus::Waiting
                        && w.permissions.waiting_room_type == WaitingRoomType::OnPrivilegedUserEntry
                })
                .map(|w| w.peer.id.clone())
                .collect();
            for w in waiting {
                self.waitlist_removed(&w, WaitlistOutcome::Accepted);
                self.admit(now, &w);
            }
        }
    }

    fn kick(&mut self, now: u64, target: &str, by: Actor) {
        self.event_to(target, SessionEvent::Kicked { by: by.clone() });
        let others: Vec<String> = self.joined_ids().into_iter().filter(|id| id != target).collect();
        for o in others {
            self.event_to(&o, SessionEvent::PeerKicked { peer_id: target.to_owned(), by: by.clone() });
        }
        self.forget(now, target, Gone::Kicked(by));
    }

    /// Removes a peer that left (or was refused), telling the others.
    fn remove(&mut self, now: u64, peer_id: &str, gone: Gone) {
        let was_joined = self.peers.get(peer_id).is_some_and(|p| p.status == PeerStatus::Joined);
        let was_waiting = self.is_waiting(peer_id);
        if was_waiting && matches!(gone, Gone::Left | Gone::Expired) {
            self.waitlist_removed(peer_id, WaitlistOutcome::Left);
        }
        if was_joined {
            let others: Vec<String> = self.joined_ids().into_iter().filter(|id| id != peer_id).collect();
            for o in others {
                self.event_to(&o, SessionEvent::PeerLeft { peer_id: peer_id.to_owned() });
            }
        }
        self.forget(now, peer_id, gone);
    }

    fn forget(&mut self, now: u64, peer_id: &str, gone: Gone) {
        if let Some(p) = self.peers.remove(peer_id) {
            if let Some(conn) = p.conn {
                self.drop_conn(now, conn);
            }
        }
        self.gone.insert(peer_id.to_owned(), gone);
        if self.session.is_some() && self.joined_ids().is_empty() && self.empty_since.is_none() {
            self.empty_since = Some(now);
        }
    }

    fn set_recording(&mut self, state: RecordingState) {
        self.recording = state;
        for id in self.joined_ids() {
            self.event_to(&id, SessionEvent::RecordingUpdated { state });
        }
    }

    /// Ends the live session for everyone (kick-all, or keep-alive expiry).
    pub fn end_session(&mut self, now: u64, reason: EndReason, by: Actor) -> u64 {
        let Some(session) = self.session.take() else { return 0 };
        if self.recording != RecordingState::Idle {
            self.set_recording(RecordingState::Stopping);
            self.recording = RecordingState::Idle;
        }
        let end = SessionEnd { session_id: session.id.clone(), reason, ended_by: by };
        let everyone: Vec<String> = self.peers.keys().cloned().collect();
        for id in &everyone {
            self.event_to(id, SessionEvent::SessionEnded { end: end.clone() });
        }
        for id in &everyone {
            if let Some(p) = self.peers.remove(id) {
                if let Some(conn) = p.conn {
                    self.drop_conn(now, conn);
                }
            }
            self.gone.insert(id.clone(), Gone::Ended(end.clone()));
        }
        self.empty_since = None;
        self.ended_sessions.push((session.id, reason));
        everyone.len() as u64
    }

    /// REST kick of one participant by alias.
    pub fn api_kick(&mut self, now: u64, alias: &str) -> bool {
        match self.peer_id_of(alias) {
            Some(id) => {
                self.kick(now, &id, Actor::Api);
                true
            }
            None => false,
        }
    }

    /// Runs the server's own timers: keep-alive expiry and the grace period of away peers.
    pub fn tick(&mut self, now: u64) {
        let expired: Vec<String> = self
            .peers
            .values()
            .filter(|p| p.away_since.is_some_and(|t| now >= t + self.away_grace_ms))
            .map(|p| p.peer.id.clone())
            .collect();
        for id in expired {
            self.remove(now, &id, Gone::Expired);
        }
        if let Some(since) = self.empty_since {
            if now >= since + self.keep_alive_ms {
                self.end_session(now, EndReason::AllParticipantsLeft, Actor::System);
            }
        }
    }

    /// The next time [`FakeServer::tick`] has work.
    pub fn next_deadline(&self) -> Option<u64> {
        let away = self.peers.values().filter_map(|p| p.away_since.map(|t| t + self.away_grace_ms)).min();
        let empty = self.empty_since.map(|t| t + self.keep_alive_ms);
        [away, empty].into_iter().flatten().min()
    }

    /// Peer ids currently connected and joined (for invariant checks).
    pub fn live_peer_ids(&self) -> BTreeSet<String> {
        self.peers.keys().cloned().collect()
    }
}
