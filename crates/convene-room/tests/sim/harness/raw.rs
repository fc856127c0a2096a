//! A raw participant side for the room: connections that send whatever they are told (hellos
//! new and resumed, any command from any status at anyone, undecodable frames), REST commands,
//! restarts and time, against a [`SimServer`]. The room's property test and its fuzz target both
//! drive the room through it.

use convene_core::permissions::{Permissions, PermissionsPatch, WaitingRoomType};
use convene_core::proto::{ClientMessage, Resume, ServerMessage, PROTOCOL_VERSION};
use convene_room::{ApiCommand, ParticipantInfo, RecordingAction, StoreWrite};

use super::{ConnId, SimServer};

/// The participants: a host, a participant, one who waits for a host (and does not see the
/// participant list), one who waits to be accepted.
pub const WHO: [&str; 4] = ["host", "bob", "carol", "dan"];

/// One step.
#[derive(Debug, Clone)]
pub enum Op {
    Hello { who: usize, resume: bool, as_other: bool, seq_back: u64 },
    Frame { who: usize, kind: u8, target: usize },
    BadFrame { who: usize },
    Disconnect { who: usize },
    Api { kind: u8, target: usize },
    Restart,
    Wait(u64),
}

/// What the test knows of each participant's latest connection, as a client would.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    conn: Option<ConnId>,
    peer: Option<String>,
    last_seq: u64,
}

pub struct Sim {
    pub s: SimServer,
    pub now: u64,
    seen: [Seen; 4],
}

impl Sim {
    /// Everyone connected and asking to join.
    pub fn new() -> Self {
        let mut s = SimServer::new(5_000);
        let carol = PermissionsPatch {
            waiting_room_type: Some(WaitingRoomType::OnPrivilegedUserEntry),
            show_participant_list: Some(false),
            ..Default::default()
        };
        let dan = PermissionsPatch { waiting_room_type: Some(WaitingRoomType::SkipOnAccept), ..Default::default() };
        s.register("host", "group_call_host", Permissions::group_call_host());
        s.register("bob", "group_call_participant", Permissions::group_call_participant());
        for (alias, patch) in [("carol", carol), ("dan", dan)] {
            let mut p = Permissions::group_call_participant();
            p.apply(&patch);
            s.register(alias, "group_call_participant", p);
        }
        let mut sim = Self { s, now: 0, seen: Default::default() };
        // Start with everyone connected and asking to join, so that random steps reach deep
        // states often.
        for who in 0..4 {
            sim.apply(Op::Hello { who, resume: false, as_other: false, seq_back: 0 });
            sim.apply(Op::Frame { who, kind: 1, target: 0 });
        }
        sim
    }

    fn peer(&self, i: usize) -> String {
        self.s.peer_id_of(WHO[i]).or_else(|| self.seen[i].peer.clone()).unwrap_or_else(|| "nobody".into())
    }

    /// Carries out one step.
    pub fn apply(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Hello { who, resume, as_other, seq_back } => {
                let Some(conn) = self.s.open() else { return };
                let seen = self.seen[who].clone();
                let resume = (resume && seen.peer.is_some()).then(|| Resume {
                    peer_id: if as_other { self.peer((who + 1) % 4) } else { seen.peer.clone().unwrap_or_default() },
                    last_seq: seen.last_seq.saturating_sub(seq_back),
                });
                let token = format!("token-{}", WHO[who]);
                self.seen[who].conn = Some(conn);
                self.s.handle(now, conn, ClientMessage::Hello { protocol: PROTOCOL_VERSION, token, resume });
            }
            Op::Frame { who, kind, target } => {
                let Some(conn) = self.seen[who].conn else { return };
                let msg = self.frame(kind, target);
                self.s.handle(now, conn, msg);
            }
            Op::BadFrame { who } => {
                if let Some(conn) = self.seen[who].conn {
                    self.s.bad_frame(now, conn);
                }
            }
            Op::Disconnect { who } => {
                if let Some(conn) = self.seen[who].conn.take() {
                    self.s.close(now, conn);
                }
            }
            Op::Api { kind, target } => self.api(kind, target),
            Op::Restart => self.s.restart(now),
            Op::Wait(ms) => {
                let target = self.now + ms;
                while let Some(t) = self.s.next_deadline().filter(|t| *t <= target) {
                    self.now = self.now.max(t);
                    self.s.tick(self.now);
                }
                self.now = target;
                self.s.tick(target);
            }
        }
        self.observe();
    }

    fn frame(&self, kind: u8, target: usize) -> ClientMessage {
        let req = u64::from(kind) + 1;
        let peer_id = self.peer(target);
        match kind {
            0 => ClientMessage::Ping {},
            1 => ClientMessage::Join { req, name: None },
            2 => ClientMessage::Leave { req },
            3 => ClientMessage::Kick { req, peer_id },
            4 => ClientMessage::KickAll { req },
            5 => ClientMessage::AcceptWaiting { req, peer_ids: vec![peer_id.clone(), peer_id] },
            6 => ClientMessage::RejectWaiting { req, peer_id },
            7 => {
                let patch = PermissionsPatch {
                    accept_waiting_requests: Some(target.is_multiple_of(2)),
                    show_participant_list: Some(target < 2),
                    ..Default::default()
                };
                ClientMessage::UpdatePermissions { req, peer_ids: vec![peer_id], patch }
            }
            8 => ClientMessage::StartRecording { req, allow_multiple: false },
            9 => ClientMessage::StopRecording { req, recording_id: None },
            10 => ClientMessage::UpdatePermissions { req, peer_ids: vec![], patch: PermissionsPatch::default() },
            _ => ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: "token-host".into(), resume: None },
        }
    }

    fn api(&mut self, kind: u8, target: usize) {
        let now = self.now;
        let user = format!("user-{}", WHO[target]);
        let recording = self.s.writes.iter().rev().find_map(|w| match w {
            StoreWrite::RecordingSaved(rec) => Some(rec.id.clone()),
            _ => None,
        });
        let command = match kind {
            0 => ApiCommand::KickAll,
            1 => ApiCommand::Kick(vec![user]),
            2 => {
                let participant = ParticipantInfo {
                    id: user,
                    custom_participant_id: WHO[target].into(),
                    preset_name: "group_call_host".into(),
                    name: Some(format!("{} (renamed)", WHO[target])),
                    picture: None,
                };
                ApiCommand::ParticipantChanged { participant, permissions: Box::new(Permissions::group_call_host()) }
            }
            3 => {
                let mut p = Permissions::group_call_participant();
                p.show_participant_list = target.is_multiple_of(2);
                ApiCommand::PresetChanged {
                    app_id: "app-1".into(),
                    presets: vec![("group_call_participant".into(), p)],
                }
            }
            4 => ApiCommand::StartRecording { allow_multiple: target == 0 },
            5 | 6 => {
                let action = [RecordingAction::Stop, RecordingAction::Pause, RecordingAction::Resume][target % 3];
                ApiCommand::RecordingAction { recording_id: recording.unwrap_or_else(|| "none".into()), action }
            }
            _ => return self.s.delete_participant(now, WHO[target]),
        };
        self.s.api(now, command);
    }

    /// Reads what each participant's connection was sent, as its client would, and forgets
    /// connections the server closed.
    fn observe(&mut self) {
        for (conn, msg) in std::mem::take(&mut self.s.outbox) {
            let Some(seen) = self.seen.iter_mut().find(|s| s.conn == Some(conn)) else { continue };
            match msg {
                ServerMessage::Welcome { peer_id, resumed, .. } => {
                    if !resumed {
                        seen.last_seq = 0;
                    }
                    seen.peer = Some(peer_id);
                }
                ServerMessage::Event { seq, .. } => seen.last_seq = seen.last_seq.max(seq),
                ServerMessage::ResumeRefused { .. } => seen.peer = None,
                _ => {}
            }
        }
        for conn in std::mem::take(&mut self.s.closed) {
            for seen in &mut self.seen {
                if seen.conn == Some(conn) {
                    seen.conn = None;
                }
            }
        }
    }
}
