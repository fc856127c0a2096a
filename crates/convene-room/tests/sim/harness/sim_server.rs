//! The real room machine behind a simulated network: [`convene_room::Room`] for one meeting,
//! with the handshake a server's socket task does before the room sees a connection (the
//! token, the protocol version), a participant directory and a store that answer the room's
//! lookups, and the room's outputs decoded into messages per connection. Time is simulated
//! (milliseconds from a fixed instant); ids are seeded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use convene_core::permissions::Permissions;
use convene_core::proto::{
    decode_server, ClientMessage, ErrorCode, MeetingInfo, SelfInfo, ServerMessage, WireError, PROTOCOL_VERSION,
};
use convene_core::{Actor, EndReason, RecordingState, SessionEnd};
use convene_room::{
    ApiCommand, ApiReply, AppInfo, Arrival, LoggedEvent, MeetingSettings, MeetingStatus, Output, ParticipantInfo,
    PeerStatus, RecordingIo, RecordingIoResult, RecordingStatus, RequestId, Restored, RestoredLog, RestoredPeer, Room,
    RoomConfig, SeededIds, StoreWrite, Timer, WallClock, WebhookEvent,
};

/// A connection id.
pub type ConnId = u64;

/// How long tokens hold in the simulation (longer than any test runs).
const TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A participant record (what REST `POST .../participants` creates).
#[derive(Debug, Clone)]
pub struct Registration {
    pub token: String,
    pub info: SelfInfo,
}

/// The simulated server of one meeting.
pub struct SimServer {
    room: Room,
    config: RoomConfig,
    seed: u64,
    /// Restarts so far.
    pub restarts: u64,
    base: Instant,
    pub meeting: MeetingInfo,
    pub online: bool,
    registrations: BTreeMap<String, Registration>,
    /// Open connections, and whether each has said hello.
    conns: BTreeMap<ConnId, bool>,
    next_conn: ConnId,
    next_request: u64,
    replies: BTreeMap<RequestId, ApiReply>,
    /// Messages to deliver, by connection, in order.
    pub outbox: Vec<(ConnId, ServerMessage)>,
    /// Connections the server closed.
    pub closed: Vec<ConnId>,
    /// Sessions that ended, in order (id, reason).
    pub ended_sessions: Vec<(String, EndReason)>,
    /// Every store write, in order.
    pub writes: Vec<StoreWrite>,
    /// Every webhook event, in order.
    pub webhooks: Vec<WebhookEvent>,
    /// Recording files: lines appended so far, by recording id.
    pub recording_files: BTreeMap<String, Vec<String>>,
    /// While set, recording files are not opened until [`SimServer::open_held_recordings`] (a
    /// driver with slow file work).
    pub hold_recording_opens: bool,
    held_opens: Vec<String>,
    /// Per connection: the lowest sequence number an event on it may carry next (above the
    /// last one sent, and above a resume's `last_seq`).
    seq_floor: BTreeMap<ConnId, u64>,
    /// Broken rules seen in the room's outputs (checked by [`super::invariants`]).
    pub violations: Vec<String>,
    /// With an event log (as in cluster mode): the events logged, oldest first, at most
    /// `log_capacity` of them; a restart is then a takeover that restores from it.
    pub log: Option<VecDeque<LoggedEvent>>,
    log_capacity: usize,
    /// The room's view digest when events were last logged (as the driver logs it with each
    /// batch).
    log_view: Option<u64>,
    /// Every sequence number logged, and the highest sent.
    logged_seqs: BTreeSet<u64>,
    max_event_seq: u64,
    /// Restarts whose room took the log up.
    pub replaying_restarts: u64,
}

impl SimServer {
    pub fn new(keep_alive_ms: u64) -> Self {
        Self::with_seed(keep_alive_ms, 1)
    }

    pub fn with_seed(keep_alive_ms: u64, seed: u64) -> Self {
        let base = Instant::now();
        let meeting = MeetingInfo { id: "meeting-1".into(), title: "Scenario meeting".into() };
        let config = RoomConfig {
            app: AppInfo { id: "app-1".into(), name: "Simulation".into(), account: "account-1".into() },
            meeting: MeetingSettings {
                id: meeting.id.clone(),
                title: Some(meeting.title.clone()),
                status: MeetingStatus::Active,
                session_keep_alive_time_in_secs: u32::try_from(keep_alive_ms / 1_000).expect("keep-alive fits"),
                record_on_start: false,
            },
            base_url: "https://convene.invalid".into(),
            away_grace: Duration::from_secs(120),
            room_idle: TOKEN_LIFETIME,
            send_queue: 256,
            log_events: false,
            clock: WallClock { at: base, unix_ms: 1_764_633_600_000 },
        };
        Self {
            room: Room::new(config.clone(), Box::new(SeededIds::new(seed)), base),
            config,
            seed,
            restarts: 0,
            base,
            meeting,
            online: true,
            registrations: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1,
            next_request: 1,
            replies: BTreeMap::new(),
            outbox: Vec::new(),
            closed: Vec::new(),
            ended_sessions: Vec::new(),
            writes: Vec::new(),
            webhooks: Vec::new(),
            recording_files: BTreeMap::new(),
            hold_recording_opens: false,
            held_opens: Vec::new(),
            seq_floor: BTreeMap::new(),
            violations: Vec::new(),
            log: None,
            log_capacity: 0,
            log_view: None,
            logged_seqs: BTreeSet::new(),
            max_event_seq: 0,
            replaying_restarts: 0,
        }
    }

    /// A server whose room logs every event, keeping the last `capacity` (cluster mode's log in
    /// Redis); its restarts are takeovers that restore from the log.
    pub fn with_event_log(keep_alive_ms: u64, seed: u64, capacity: usize) -> Self {
        let mut server = Self::with_seed(keep_alive_ms, seed);
        server.config.log_events = true;
        server.room = Room::new(server.config.clone(), Box::new(SeededIds::new(seed)), server.base);
        server.log = Some(VecDeque::new());
        server.log_capacity = capacity;
        server
    }

    /// The room machine, for inspection.
    pub fn room(&self) -> &Room {
        &self.room
    }

    fn at(&self, now: u64) -> Instant {
        self.base + Duration::from_millis(now)
    }

    pub fn register(&mut self, alias: &str, preset: &str, permissions: Permissions) -> Registration {
        let reg = Registration {
            token: self.token_of(alias),
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

    /// Renames the meeting (before anyone connects).
    pub fn set_title(&mut self, title: &str) {
        self.meeting.title = title.to_owned();
        let mut settings = self.room.meeting().clone();
        settings.title = Some(title.to_owned());
        self.api(0, ApiCommand::MeetingUpdated(settings));
    }

    /// Sets the meeting `ACTIVE` or `INACTIVE` (REST `PATCH .../meetings/{id}`).
    pub fn set_active(&mut self, now: u64, active: bool) {
        let mut settings = self.room.meeting().clone();
        settings.status = if active { MeetingStatus::Active } else { MeetingStatus::Inactive };
        self.api(now, ApiCommand::MeetingUpdated(settings));
    }

    pub fn session_id(&self) -> Option<&str> {
        self.room.session_id()
    }

    pub fn recording(&self) -> RecordingState {
        self.room.recording_state()
    }

    /// The peer id of a live peer by alias.
    pub fn peer_id_of(&self, alias: &str) -> Option<String> {
        let user = format!("user-{alias}");
        self.room.peers().find(|p| p.peer.user_id == user).map(|p| p.peer.id)
    }

    /// Peer ids the room holds.
    pub fn live_peer_ids(&self) -> BTreeSet<String> {
        self.room.peers().map(|p| p.peer.id).collect()
    }

    /// Joined peer ids.
    pub fn joined_peer_ids(&self) -> BTreeSet<String> {
        self.room.peers().filter(|p| p.status == PeerStatus::Joined).map(|p| p.peer.id).collect()
    }

    /// The participant token of `alias`.
    pub fn token_of(&self, alias: &str) -> String {
        format!("token-{alias}")
    }

    pub fn open(&mut self) -> Option<ConnId> {
        if !self.online {
            return None;
        }
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(id, false);
        Some(id)
    }

    /// The client closed the connection.
    pub fn close(&mut self, now: u64, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            let at = self.at(now);
            self.room.handle_disconnect(at, convene_room::ConnId(conn));
            self.pump(now);
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

    /// A frame from a client.
    pub fn handle(&mut self, now: u64, conn: ConnId, msg: ClientMessage) {
        let Some(&welcomed) = self.conns.get(&conn) else { return };
        let at = self.at(now);
        match (welcomed, msg) {
            (false, ClientMessage::Hello { protocol, token, resume }) => {
                self.hello(now, conn, protocol, &token, resume)
            }
            (false, _) => self.refuse_handshake(now, conn, ErrorCode::MalformedFrame, "the first frame must be hello"),
            (true, msg) => {
                let refused = self.refused_by_permissions(conn, &msg);
                let before = refused.then(|| self.observable());
                self.room.handle_frame(at, convene_room::ConnId(conn), msg.clone());
                if let Some(before) = before {
                    if before != self.observable() {
                        self.violations.push(format!("{msg:?} without its permission changed the room"));
                    }
                    let outputs = self.room_outputs_pending();
                    if outputs != 1 {
                        self.violations.push(format!("{msg:?} without its permission gave {outputs} outputs"));
                    }
                }
            }
        }
        self.pump(now);
    }

    /// Whether the sender of `msg` on `conn` lacks what the command needs (being in the session,
    /// and its permission).
    fn refused_by_permissions(&self, conn: ConnId, msg: &ClientMessage) -> bool {
        let Some(sender) = self.room.peers().find(|p| p.conn == Some(convene_room::ConnId(conn))) else { return false };
        let p = &sender.permissions;
        let allowed = match msg {
            ClientMessage::Kick { .. } | ClientMessage::KickAll { .. } => p.kick_participant,
            ClientMessage::AcceptWaiting { .. } | ClientMessage::RejectWaiting { .. } => p.accept_waiting_requests,
            ClientMessage::UpdatePermissions { .. } => p.can_change_participant_permissions,
            ClientMessage::StartRecording { .. } | ClientMessage::StopRecording { .. } => p.can_record,
            _ => return false,
        };
        !allowed || sender.status != PeerStatus::Joined
    }

    /// What a refused command must leave as it was.
    fn observable(&self) -> (Vec<convene_room::PeerView>, Option<String>, RecordingState, u64) {
        let peers = self.room.peers().collect();
        (peers, self.room.session_id().map(str::to_owned), self.room.recording_state(), self.room.last_seq())
    }

    fn room_outputs_pending(&self) -> usize {
        self.room.pending_outputs()
    }

    /// What a server's socket task checks before the room sees the connection.
    fn hello(
        &mut self,
        now: u64,
        conn: ConnId,
        protocol: u32,
        token: &str,
        resume: Option<convene_core::proto::Resume>,
    ) {
        if protocol != PROTOCOL_VERSION {
            return self.refuse_handshake(now, conn, ErrorCode::MalformedFrame, "unsupported protocol");
        }
        let Some(reg) = self.registrations.get(token).cloned() else {
            return self.refuse_handshake(now, conn, ErrorCode::InvalidAuthToken, "invalid auth token");
        };
        self.conns.insert(conn, true);
        self.seq_floor.insert(conn, resume.as_ref().map_or(0, |r| r.last_seq) + 1);
        let arrival = Arrival { participant: participant_info(&reg.info), resume, token_valid_for: TOKEN_LIFETIME };
        let at = self.at(now);
        self.room.handle_hello(at, convene_room::ConnId(conn), arrival);
    }

    fn refuse_handshake(&mut self, now: u64, conn: ConnId, code: ErrorCode, message: &str) {
        let error = WireError::new(code, message);
        self.outbox.push((conn, ServerMessage::Error { req: None, error }));
        self.drop_conn(now, conn);
    }

    /// A frame that could not be decoded.
    pub fn bad_frame(&mut self, now: u64, conn: ConnId) {
        if self.conns.get(&conn) == Some(&true) {
            let at = self.at(now);
            let message = "not JSON".to_owned();
            self.room.handle_bad_frame(at, convene_room::ConnId(conn), ErrorCode::MalformedFrame, message);
            self.pump(now);
        }
    }

    /// REST `DELETE .../participants/{id}`: its tokens stop working, and the room hears of it.
    pub fn delete_participant(&mut self, now: u64, alias: &str) {
        self.registrations.remove(&format!("token-{alias}"));
        self.api(now, ApiCommand::ParticipantDeleted(format!("user-{alias}")));
    }

    /// The server restarts: every connection drops, unfinished recordings are marked `ERRORED`
    /// (as at a real start-up), and a new room takes up the live session the writes describe.
    pub fn restart(&mut self, now: u64) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.conns.remove(&conn);
            self.closed.push(conn);
        }
        let model = super::invariants::StoreModel::replay(&self.writes).expect("the writes replay");
        for (id, status) in &model.recordings {
            if matches!(
                status,
                RecordingStatus::Invoked
                    | RecordingStatus::Recording
                    | RecordingStatus::Paused
                    | RecordingStatus::Uploading
            ) {
                let mut rec = self.last_recording(id).expect("saved");
                rec.status = RecordingStatus::Errored;
                self.writes.push(StoreWrite::RecordingSaved(Box::new(rec)));
            }
        }
        self.restarts += 1;
        let at = self.at(now);
        let mut config = self.config.clone();
        config.meeting = self.room.meeting().clone();
        config.clock = WallClock { at, unix_ms: self.config.clock.unix_ms(at) };
        let ids = SeededIds::new(self.seed.wrapping_add(self.restarts.wrapping_mul(0x9E37_79B9)));
        self.room = Room::new(config, Box::new(ids), at);
        if let Some(mut restored) = self.restored(&model) {
            restored.log = self.restored_log(&restored.session_id);
            if self.room.restore(at, restored) {
                self.replaying_restarts += 1;
            }
        }
        self.pump(now);
    }

    /// What a takeover reads of the session's log: its last number and the events still held.
    fn restored_log(&self, session_id: &str) -> Option<RestoredLog> {
        let log = self.log.as_ref()?;
        let events: Vec<LoggedEvent> = log.iter().filter(|e| e.session_id == session_id).cloned().collect();
        let top = events.last()?.seq;
        Some(RestoredLog { top, events, view: self.log_view })
    }

    /// The live session the writes describe, as a start-up reads it.
    fn restored(&self, model: &super::invariants::StoreModel) -> Option<Restored> {
        let (session_id, _) = model.sessions.iter().find(|(_, live)| **live)?;
        let started_at = self.writes.iter().find_map(|w| match w {
            StoreWrite::SessionStarted { session_id: s, started_at, .. } if s == session_id => Some(started_at.clone()),
            _ => None,
        })?;
        let peers = model
            .open_stays
            .iter()
            .filter(|(_, s)| *s == session_id)
            .filter_map(|(peer_id, _)| {
                let participant = self.writes.iter().find_map(|w| match w {
                    StoreWrite::PeerJoined { peer_id: p, participant, .. } if p == peer_id => Some(participant.clone()),
                    _ => None,
                })?;
                // A participant deleted meanwhile is not restored (the start-up finds no record).
                let reg = self.registrations.values().find(|r| r.info.user_id == participant.id)?;
                let permissions = reg.info.permissions.clone();
                let pinned = self.writes.iter().rev().find_map(|w| match w {
                    StoreWrite::PeerPinned { peer_id: p, pinned } if p == peer_id => Some(*pinned),
                    _ => None,
                });
                let pinned = pinned.unwrap_or(false);
                Some(RestoredPeer { peer_id: peer_id.clone(), participant, permissions, display_name: None, pinned })
            })
            .collect();
        let last_seq = model.last_seq.get(session_id).copied().unwrap_or(0);
        Some(Restored { session_id: session_id.clone(), started_at, last_seq, peers, log: None })
    }

    fn last_recording(&self, id: &str) -> Option<convene_room::Recording> {
        self.writes.iter().rev().find_map(|w| match w {
            StoreWrite::RecordingSaved(rec) if rec.id == id => Some((**rec).clone()),
            _ => None,
        })
    }

    /// A REST command; its answer.
    pub fn api(&mut self, now: u64, command: ApiCommand) -> ApiReply {
        let request = RequestId(self.next_request);
        self.next_request += 1;
        let at = self.at(now);
        self.room.handle_api(at, request, command);
        self.pump(now);
        self.replies.remove(&request).expect("every REST command is answered")
    }

    /// REST kick-all; the number of peers removed (0 without a live session).
    pub fn end_session(&mut self, now: u64, reason: EndReason, by: Actor) -> u64 {
        assert_eq!((reason, by), (EndReason::HostEndedMeeting, Actor::Api), "the REST API ends sessions this way");
        match self.api(now, ApiCommand::KickAll) {
            ApiReply::KickedAll(n) => n,
            ApiReply::Refused(_) => 0,
            other => panic!("kick-all answered {other:?}"),
        }
    }

    /// REST kick of one participant by alias.
    pub fn api_kick(&mut self, now: u64, alias: &str) -> bool {
        matches!(self.api(now, ApiCommand::Kick(vec![format!("user-{alias}")])), ApiReply::Kicked(_))
    }

    /// Runs the room's timers due at `now`.
    pub fn tick(&mut self, now: u64) {
        let at = self.at(now);
        self.room.handle_timeout(at);
        self.pump(now);
    }

    /// The next time [`SimServer::tick`] has work. The idle timer is the driver's business (it
    /// drops an idle room); the simulation keeps its room.
    pub fn next_deadline(&self) -> Option<u64> {
        self.room
            .timers()
            .filter(|(timer, _)| *timer != Timer::Idle)
            .map(|(_, at)| at.saturating_duration_since(self.base).as_millis() as u64)
            .min()
    }

    /// Applies the room's outputs, answering its lookups at once.
    fn pump(&mut self, now: u64) {
        let at = self.at(now);
        let logged_before = self.logged_seqs.len();
        self.pump_outputs(at);
        if self.logged_seqs.len() > logged_before {
            self.log_view = self.room.view_digest();
        }
    }

    fn pump_outputs(&mut self, at: Instant) {
        while let Some(output) = self.room.poll_output() {
            match output {
                Output::Send { conn, frame } => self.deliver(conn.0, frame.as_str()),
                Output::Broadcast { conns, frame } => {
                    for conn in conns {
                        self.deliver(conn.0, frame.as_str());
                    }
                }
                Output::Close { conn, .. } => {
                    if self.conns.remove(&conn.0).is_some() {
                        self.closed.push(conn.0);
                    }
                }
                Output::Reply { request, reply } => {
                    self.replies.insert(request, reply);
                }
                Output::Logged(event) => self.logged(event),
                Output::Store(write) => {
                    if let StoreWrite::SessionEnded { end, .. } = &write {
                        self.ended_sessions.push((end.session_id.clone(), end.reason));
                    }
                    self.writes.push(write);
                }
                Output::Webhook(event) => self.webhooks.push(event),
                Output::CheckParticipants { check, participant_ids } => {
                    let current = self
                        .registrations
                        .values()
                        .map(|r| participant_info(&r.info))
                        .filter(|p| participant_ids.contains(&p.id))
                        .collect();
                    self.room.handle_participants_checked(at, check, current);
                }
                Output::FindEndedStay { conn, peer_id, participant_id } => {
                    let ended = self.ended_stay(&peer_id, &participant_id);
                    self.room.handle_ended_stay(at, conn, &peer_id, ended);
                }
                Output::FindPermissions { conn, participant_id, .. } => {
                    let permissions = self
                        .registrations
                        .values()
                        .find(|r| r.info.user_id == participant_id)
                        .map(|r| r.info.permissions.clone())
                        .unwrap_or_default();
                    self.room.handle_permissions(at, conn, permissions);
                }
                Output::Recording(io) => self.recording_io(at, io),
            }
        }
    }

    /// An event for the log: it must come before its frames, and follow the last one logged.
    fn logged(&mut self, event: LoggedEvent) {
        let Some(log) = self.log.as_mut() else {
            self.violations.push(format!("event {} logged by a room that does not log", event.seq));
            return;
        };
        if let Some(last) = log.back().filter(|l| l.session_id == event.session_id && l.seq >= event.seq) {
            self.violations.push(format!("event {} logged after {}", event.seq, last.seq));
        }
        self.logged_seqs.insert(event.seq);
        log.push_back(event);
        while log.len() > self.log_capacity {
            log.pop_front();
        }
    }

    fn deliver(&mut self, conn: ConnId, frame: &str) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let msg = decode_server(frame).expect("the room's frames decode");
        if let (ServerMessage::Event { seq, .. }, Some(_)) = (&msg, &self.log) {
            // A new event (not a replay) of a live session goes out only once logged.
            let new = *seq > self.max_event_seq;
            if new && self.room.session_id().is_some() && !self.logged_seqs.contains(seq) {
                self.violations.push(format!("event {seq} sent before it was logged"));
            }
            self.max_event_seq = self.max_event_seq.max(*seq);
        }
        if let ServerMessage::Event { seq, .. } = &msg {
            let floor = self.seq_floor.entry(conn).or_insert(1);
            if *seq < *floor {
                self.violations.push(format!("connection {conn}: event {seq} below {floor}"));
            }
            *floor = (*floor).max(seq + 1);
        }
        self.outbox.push((conn, msg));
    }

    fn recording_io(&mut self, at: Instant, io: RecordingIo) {
        match io {
            RecordingIo::Open { id } if self.hold_recording_opens => self.held_opens.push(id),
            RecordingIo::Open { id } => {
                self.recording_files.insert(id.clone(), Vec::new());
                self.room.handle_recording_io(at, &id, RecordingIoResult::Opened);
            }
            RecordingIo::Append { id, line } => self.recording_files.entry(id).or_default().push(line),
            RecordingIo::Finish { id } => {
                let bytes = self.recording_files.get(&id).map_or(0, |l| l.iter().map(|l| l.len() as u64).sum());
                self.room.handle_recording_io(at, &id, RecordingIoResult::Finished { bytes });
            }
        }
    }

    /// Opens the recording files held back by `hold_recording_opens`.
    pub fn open_held_recordings(&mut self, now: u64) {
        self.hold_recording_opens = false;
        for id in std::mem::take(&mut self.held_opens) {
            self.recording_io(self.at(now), RecordingIo::Open { id });
        }
        self.pump(now);
    }

    /// How the store says a stay ended: with its session, when the stay was open at the end.
    fn ended_stay(&self, peer_id: &str, participant_id: &str) -> Option<SessionEnd> {
        let (session_id, _) = self.writes.iter().find_map(|w| match w {
            StoreWrite::PeerJoined { session_id, peer_id: p, participant, .. }
                if p == peer_id && participant.id == participant_id =>
            {
                Some((session_id.clone(), ()))
            }
            _ => None,
        })?;
        let left_before =
            self.writes.iter().any(|w| matches!(w, StoreWrite::PeerLeft { peer_id: p, .. } if p == peer_id));
        if left_before {
            return None;
        }
        self.writes.iter().find_map(|w| match w {
            StoreWrite::SessionEnded { end, .. } if end.session_id == session_id => Some(end.clone()),
            _ => None,
        })
    }
}

/// The room's view of a registration.
fn participant_info(info: &SelfInfo) -> ParticipantInfo {
    ParticipantInfo {
        id: info.user_id.clone(),
        custom_participant_id: info.custom_participant_id.clone(),
        preset_name: info.preset_name.clone(),
        name: Some(info.name.clone()),
        picture: info.picture.clone(),
    }
}
