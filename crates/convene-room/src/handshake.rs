//! The handshake: a connection's `hello` (new peer or resume), the welcome, and what a resuming
//! peer missed (a replay, or a fresh snapshot when the log does not reach back far enough).

use std::time::{Duration, Instant};

use convene_core::permissions::Permissions;
use convene_core::proto::{
    CloseCode, MeetingInfo, Resume, ResumeRefusal, RoomSnapshot, SelfInfo, ServerMessage, SessionEvent, SessionInfo,
    PROTOCOL_VERSION,
};
use convene_core::SessionEnd;

use crate::output::{ConnId, Output};
use crate::peer::{Gone, PeerState, PeerStatus};
use crate::records::ParticipantInfo;
use crate::room::Room;

/// A participant as it arrives on a connection, its token checked by the driver.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Arrival {
    /// Its participant's record. A new peer's permissions are those of its preset when the
    /// room takes it in ([`Output::FindPermissions`]).
    pub participant: ParticipantInfo,
    /// The resume point, when reconnecting.
    pub resume: Option<Resume>,
    /// How long the token it came with still holds.
    pub token_valid_for: Duration,
}

impl Room {
    /// A connection sent `hello` with a valid token: a new peer is welcomed, a resume is
    /// welcomed and replayed to, or refused with the reason the peer went.
    pub fn handle_hello(&mut self, now: Instant, conn: ConnId, arrival: Arrival) {
        self.conns.insert(conn, None);
        match arrival.resume.clone() {
            None => self.arrive(conn, arrival),
            Some(resume) => self.resume(now, conn, arrival, resume),
        }
        self.track_idle(now);
    }

    /// A new peer: its permissions are read when the room takes it in, in order with the
    /// preset changes the room is told of, so a change that lands meanwhile is never missed.
    fn arrive(&mut self, conn: ConnId, arrival: Arrival) {
        let participant_id = arrival.participant.id.clone();
        let preset_name = arrival.participant.preset_name.clone();
        self.arriving.insert(conn, arrival);
        self.outputs.push_back(Output::FindPermissions { conn, participant_id, preset_name });
    }

    /// The answer to [`Output::FindPermissions`]: the permissions of the arriving peer's preset
    /// now. The peer is taken in (its connection welcomed) unless the connection went meanwhile.
    pub fn handle_permissions(&mut self, now: Instant, conn: ConnId, permissions: Permissions) {
        if let Some(arrival) = self.arriving.remove(&conn) {
            if self.conns.get(&conn) == Some(&None) {
                self.take_in(now, conn, arrival, permissions);
            }
        }
        self.track_idle(now);
    }

    fn take_in(&mut self, now: Instant, conn: ConnId, arrival: Arrival, permissions: Permissions) {
        if !self.make_room_for_peer(now, &arrival.participant.id) {
            return self.refuse_over_peer_cap(conn);
        }
        let peer_id = self.ids.next_id();
        let deadline = now.checked_add(arrival.token_valid_for);
        let mut peer = PeerState::new(&peer_id, arrival.participant, permissions, PeerStatus::Joining, deadline);
        peer.conn = Some(conn);
        self.add_peer(peer_id.clone(), peer);
        self.conns.insert(conn, Some(peer_id.clone()));
        self.welcome(conn, &peer_id, false);
    }

    fn resume(&mut self, now: Instant, conn: ConnId, arrival: Arrival, resume: Resume) {
        let refusal = match self.gone.get(&resume.peer_id).map(|(g, _)| g.clone()) {
            Some(Gone::Kicked(by)) => Some(ResumeRefusal::Kicked { by }),
            Some(Gone::Rejected(by)) => Some(ResumeRefusal::Rejected { by }),
            Some(Gone::Ended(end)) => Some(ResumeRefusal::SessionEnded { end }),
            Some(Gone::Left | Gone::Expired) => Some(ResumeRefusal::Expired),
            None => match self.peers.get(&resume.peer_id) {
                Some(p) if p.participant.id == arrival.participant.id && p.status != PeerStatus::Joining => None,
                Some(_) => Some(ResumeRefusal::Expired),
                None => {
                    // The store may know how its stay ended (the room that ended it is gone).
                    let (peer_id, participant_id) = (resume.peer_id, arrival.participant.id);
                    self.outputs.push_back(Output::FindEndedStay { conn, peer_id, participant_id });
                    return;
                }
            },
        };
        if let Some(refusal) = refusal {
            return self.refuse_resume(conn, &resume.peer_id, refusal);
        }
        let peer_id = resume.peer_id;
        // A newer connection replaces an older one of the same peer.
        self.close_peer_conn(&peer_id, CloseCode::Replaced, "replaced by a newer connection");
        self.set_away(&peer_id, None);
        if let Some(p) = self.peers.get_mut(&peer_id) {
            p.conn = Some(conn);
            p.token_deadline = now.checked_add(arrival.token_valid_for);
        }
        self.conns.insert(conn, Some(peer_id.clone()));
        self.welcome(conn, &peer_id, true);
        self.replay(now, conn, &peer_id, resume.last_seq);
    }

    /// The answer to [`Output::FindEndedStay`]: how the store says the stay of the resumed peer
    /// ended with its session, if it did (the client then ends `ended` rather than `failed`).
    pub fn handle_ended_stay(&mut self, now: Instant, conn: ConnId, peer_id: &str, ended: Option<SessionEnd>) {
        if self.conns.get(&conn) == Some(&None) {
            let refusal = match ended {
                Some(end) => ResumeRefusal::SessionEnded { end },
                None => ResumeRefusal::Expired,
            };
            self.refuse_resume(conn, peer_id, refusal);
        }
        self.track_idle(now);
    }

    fn refuse_resume(&mut self, conn: ConnId, peer_id: &str, refusal: ResumeRefusal) {
        tracing::info!(peer = %peer_id, ?refusal, "resume refused");
        self.send_direct(conn, &ServerMessage::ResumeRefused { refusal });
        self.close_conn(conn, CloseCode::Normal, "resume refused");
    }

    fn welcome(&mut self, conn: ConnId, peer_id: &str, resumed: bool) {
        let Some(p) = self.peers.get(peer_id) else { return };
        let self_info = SelfInfo {
            user_id: p.participant.id.clone(),
            name: p.peer.name.clone(),
            picture: p.participant.picture.clone(),
            custom_participant_id: p.participant.custom_participant_id.clone(),
            preset_name: p.participant.preset_name.clone(),
            permissions: p.permissions.clone(),
        };
        let meeting = MeetingInfo {
            id: self.config.meeting.id.clone(),
            title: self.config.meeting.title.clone().unwrap_or_default(),
        };
        let msg = ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            peer_id: peer_id.to_owned(),
            resumed,
            self_info,
            meeting,
        };
        self.send_direct(conn, &msg);
    }

    /// Replays what a resuming peer missed, or sends a fresh snapshot when the log does not
    /// reach back far enough.
    fn replay(&mut self, now: Instant, conn: ConnId, peer_id: &str, last_seq: u64) {
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        let resync = std::mem::take(&mut p.resync);
        let missed: Vec<_> = p.replay.iter().filter(|(s, _)| *s > last_seq).map(|(_, f)| f.clone()).collect();
        // A replay the connection's queue cannot hold (the welcome is in it) would drop it again
        // and again: a snapshot replaces it (for joined peers; the waiting room sends few events).
        let fits = missed.len() < self.config.send_queue.saturating_sub(1) || p.status != PeerStatus::Joined;
        if (last_seq >= p.evicted_up_to || p.evicted_up_to == 0) && fits {
            tracing::debug!(peer = %peer_id, count = missed.len(), "replaying missed events");
            // A replay that overflows the queue drops the connection like any other; nothing is
            // lost, the client resumes again from what it applied.
            for frame in missed {
                self.outputs.push_back(Output::Send { conn, frame });
            }
            if resync && p.status == PeerStatus::Joined {
                let room = self.snapshot(peer_id);
                self.event_to(now, peer_id, SessionEvent::Joined { room });
            }
        } else if p.status == PeerStatus::Joined {
            tracing::debug!(peer = %peer_id, "replay log too short; sending a snapshot");
            let room = self.snapshot(peer_id);
            self.event_to(now, peer_id, SessionEvent::Joined { room });
        }
    }

    /// What a peer sees of the room as it joins (or resumes past its replay buffer). The lists
    /// are in the order the peers arrived (not sorted by id: a client that inserts them one by
    /// one into an ordered map would fill its nodes only half).
    pub(crate) fn snapshot(&self, peer_id: &str) -> RoomSnapshot {
        let me = &self.peers[peer_id];
        let in_arrival_order = |status: PeerStatus| {
            let mut peers: Vec<&PeerState> = self
                .peers
                .values()
                .filter(|o| {
                    o.status == status && o.peer.id != peer_id && !(status == PeerStatus::Joined && o.peer.hidden)
                })
                .collect();
            peers.sort_unstable_by_key(|o| o.arrival);
            peers.into_iter().map(|o| o.peer.clone()).collect::<Vec<_>>()
        };
        let peers =
            if me.permissions.show_participant_list { in_arrival_order(PeerStatus::Joined) } else { Vec::new() };
        let waitlisted =
            if me.permissions.accept_waiting_requests { in_arrival_order(PeerStatus::Waiting) } else { Vec::new() };
        let live = self.session.as_ref().expect("a snapshot needs a session");
        let (recording, recording_id) = self.recording_for_snapshot();
        RoomSnapshot {
            self_peer: me.peer.clone(),
            session: SessionInfo { id: live.id.clone(), started_at: live.started_at.clone() },
            peers,
            waitlisted,
            recording,
            recording_id,
        }
    }
}
