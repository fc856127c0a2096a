//! Membership checks against the store. A join and an admission go ahead only once the driver
//! confirmed that the participants concerned still exist (a deletion may reach the store before
//! the room hears of it): the room asks with [`Output::CheckParticipants`], parks the action as a
//! [`Gate`], and carries it out, checked again against the state of the moment, when
//! [`Room::handle_participants_checked`] brings the answer.

use std::collections::BTreeMap;
use std::time::Instant;

use convene_core::permissions::WaitingRoomType;
use convene_core::proto::{ErrorCode, ReplyData, ServerMessage, WaitlistOutcome, WireError};

use crate::output::{CheckId, ConnId, Output};
use crate::peer::PeerStatus;
use crate::records::ParticipantInfo;
use crate::room::Room;

/// An action waiting for a membership check.
#[derive(Debug, Clone)]
pub(crate) enum Gate {
    /// A peer's `join`, with the display name it chose, if any (already checked).
    Join { peer_id: String, conn: ConnId, req: u64, name: Option<String> },
    /// A host's `accept_waiting`.
    Accept { conn: ConnId, req: u64, peer_ids: Vec<String> },
    /// A host was admitted: those waiting for one come in.
    HostArrived { waiting: Vec<String> },
}

impl Room {
    /// Asks the driver whether the participants of these peers still exist, and parks `gate`.
    pub(crate) fn check_then(&mut self, peer_ids: &[String], gate: Gate) {
        let mut participant_ids: Vec<String> =
            peer_ids.iter().filter_map(|id| self.peers.get(id)).map(|p| p.participant.id.clone()).collect();
        participant_ids.sort();
        participant_ids.dedup();
        let check = CheckId(self.next_check);
        self.next_check += 1;
        self.gates.insert(check, gate);
        self.outputs.push_back(Output::CheckParticipants { check, participant_ids });
    }

    /// Whether a `join` of this peer waits for its check.
    pub(crate) fn join_pending(&self, peer_id: &str) -> bool {
        self.gates.values().any(|g| matches!(g, Gate::Join { peer_id: p, .. } if p == peer_id))
    }

    /// The answer to [`Output::CheckParticipants`]: the records, as they are now, of those of
    /// the participants asked about that still exist in this meeting.
    pub fn handle_participants_checked(&mut self, now: Instant, check: CheckId, current: Vec<ParticipantInfo>) {
        if let Some(gate) = self.gates.remove(&check) {
            let current: BTreeMap<String, ParticipantInfo> = current.into_iter().map(|p| (p.id.clone(), p)).collect();
            self.open_gate(now, gate, &current);
        }
        self.track_idle(now);
    }

    fn open_gate(&mut self, now: Instant, gate: Gate, current: &BTreeMap<String, ParticipantInfo>) {
        match gate {
            Gate::Join { peer_id, conn, req, name } => self.join_checked(now, &peer_id, conn, req, name, current),
            Gate::Accept { conn, req, peer_ids } => self.accept_checked(now, conn, req, peer_ids, current),
            Gate::HostArrived { waiting } => self.host_arrived_checked(now, waiting, current),
        }
    }

    /// Whether a peer may still be in the room: its participant is among `current` (whose record
    /// it takes) and its token holds.
    fn confirmed(&mut self, now: Instant, peer_id: &str, current: &BTreeMap<String, ParticipantInfo>) -> bool {
        let Some(p) = self.peers.get_mut(peer_id) else { return false };
        let Some(record) = current.get(&p.participant.id) else { return false };
        p.participant = record.clone();
        if let Some(name) = &p.chosen_name {
            p.participant.name = Some(name.clone());
        }
        p.token_deadline.is_none_or(|deadline| now < deadline)
    }

    fn join_checked(
        &mut self,
        now: Instant,
        peer_id: &str,
        conn: ConnId,
        req: u64,
        name: Option<String>,
        current: &BTreeMap<String, ParticipantInfo>,
    ) {
        // The peer may have left, or reconnected, while the check ran.
        if !self.peers.get(peer_id).is_some_and(|p| p.status == PeerStatus::Joining && p.conn == Some(conn)) {
            return;
        }
        if !self.confirmed(now, peer_id, current) {
            let message = "invalid auth token: the participant was removed or its token expired";
            let error = WireError::new(ErrorCode::InvalidAuthToken, message);
            self.send_direct(conn, &ServerMessage::Error { req: Some(req), error });
            return self.evict(now, peer_id);
        }
        if let (Some(name), Some(p)) = (name, self.peers.get_mut(peer_id)) {
            p.choose_name(name);
        }
        let waiting_room = self.peers[peer_id].permissions.waiting_room_type;
        let wait = match waiting_room {
            WaitingRoomType::Skip => false,
            WaitingRoomType::SkipOnAccept => true,
            WaitingRoomType::OnPrivilegedUserEntry => !self.privileged_present(),
        };
        if wait {
            self.waitlist(now, peer_id);
        } else {
            self.admit(now, peer_id);
        }
        self.reply(conn, req, ReplyData::default());
    }

    fn accept_checked(
        &mut self,
        now: Instant,
        conn: ConnId,
        req: u64,
        peer_ids: Vec<String>,
        current: &BTreeMap<String, ParticipantInfo>,
    ) {
        // A waiting participant deleted meanwhile, or whose token expired, is removed, not admitted.
        for id in &peer_ids {
            if self.is_waiting(id) && !self.confirmed(now, id, current) {
                self.evict(now, id);
            }
        }
        if peer_ids.is_empty() || !peer_ids.iter().all(|id| self.is_waiting(id)) {
            let error = WireError::new(ErrorCode::ParticipantNotFound, "no such waiting participant");
            return self.send_direct(conn, &ServerMessage::Error { req: Some(req), error });
        }
        self.reply(conn, req, ReplyData::default());
        for id in peer_ids {
            self.waitlist_removed(now, &id, WaitlistOutcome::Accepted);
            self.admit(now, &id);
        }
    }

    fn host_arrived_checked(
        &mut self,
        now: Instant,
        waiting: Vec<String>,
        current: &BTreeMap<String, ParticipantInfo>,
    ) {
        for w in waiting {
            if !self.is_waiting(&w) {
                continue;
            }
            if !self.confirmed(now, &w, current) {
                self.evict(now, &w);
                continue;
            }
            self.waitlist_removed(now, &w, WaitlistOutcome::Accepted);
            self.admit(now, &w);
        }
    }

    /// Peers waiting for a host to arrive.
    pub(crate) fn waiting_for_host(&self) -> Vec<String> {
        self.peers
            .iter()
            .filter(|(_, w)| {
                w.status == PeerStatus::Waiting
                    && w.permissions.waiting_room_type == WaitingRoomType::OnPrivilegedUserEntry
            })
            .map(|(id, _)| id.clone())
            .collect()
    }
}
