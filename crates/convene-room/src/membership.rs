//! Who may stay: the checks that run at every step that changes membership (a participant
//! deleted or whose token expired is refused at join and at admission, and removed at once when
//! deleted), the cap on one participant's peers, and permissions that follow a preset or a
//! participant changed at run time.

use std::time::Instant;

use convene_core::permissions::Permissions;
use convene_core::proto::{CloseCode, ErrorCode, ServerMessage, SessionEvent, WaitlistOutcome, WireError};
use convene_core::Actor;

use crate::output::ConnId;
use crate::peer::{Gone, PeerStatus};
use crate::records::{ParticipantInfo, StayOutcome};
use crate::room::Room;

/// Peers one participant may have in a room at once (its tabs and devices), counting those
/// whose connection dropped and that may still resume. A new `hello` beyond this replaces the
/// participant's peer that has been away longest, or is refused with `4429` and close `1013`
/// when all of them are connected.
pub const PEERS_PER_PARTICIPANT: usize = 4;

impl Room {
    /// Removes a peer whose participant was deleted or whose token no longer holds: a joined
    /// one is kicked by the API, a waiting one is told it was kicked and leaves the waiting
    /// list, one that has not joined is told its token is invalid. Its connection is closed.
    pub(crate) fn evict(&mut self, now: Instant, peer_id: &str) {
        let Some(status) = self.peers.get(peer_id).map(|p| p.status) else { return };
        tracing::info!(peer = %peer_id, ?status, "participant removed or its token expired; evicted");
        match status {
            PeerStatus::Joined => self.kick(now, peer_id, Actor::Api),
            PeerStatus::Waiting => {
                self.waitlist_removed(now, peer_id, WaitlistOutcome::Left);
                self.event_to(now, peer_id, SessionEvent::Kicked { by: Actor::Api });
                self.forget_peer(now, peer_id, Gone::Kicked(Actor::Api), None);
            }
            PeerStatus::Joining => {
                if let Some(conn) = self.peers.get(peer_id).and_then(|p| p.conn) {
                    let message = "invalid auth token: the participant was removed";
                    let error = WireError::new(ErrorCode::InvalidAuthToken, message);
                    self.send_direct(conn, &ServerMessage::Error { req: None, error });
                }
                self.close_peer_conn(peer_id, CloseCode::PolicyViolation, "revoked token");
                self.forget_peer(now, peer_id, Gone::Kicked(Actor::Api), None);
            }
        }
    }

    /// A participant was deleted: every peer of it goes.
    pub(crate) fn participant_deleted(&mut self, now: Instant, participant_id: &str) {
        for peer_id in self.peers_of(participant_id) {
            self.evict(now, &peer_id);
        }
    }

    /// Makes room for a new peer of `participant_id`: under the cap, nothing to do; at the cap,
    /// the peer away longest is removed (as if its grace ran out). Returns false when every
    /// peer of the participant is connected, so the new one must be refused.
    pub(crate) fn make_room_for_peer(&mut self, now: Instant, participant_id: &str) -> bool {
        let mine = self.peers_of(participant_id);
        if mine.len() < PEERS_PER_PARTICIPANT {
            return true;
        }
        let oldest_away = mine
            .iter()
            .filter_map(|id| self.peers.get(id).and_then(|p| p.away_since.map(|t| (t, id.clone()))))
            .min()
            .map(|(_, id)| id);
        match oldest_away {
            Some(id) => {
                tracing::info!(peer = %id, "a new connection of the same participant replaces this away peer");
                // Recorded as a stay that expired: the peer went away and did not come back.
                self.remove_peer(now, &id, Gone::Expired, StayOutcome::Expired);
                true
            }
            None => false,
        }
    }

    /// Answers a `hello` refused by the peer cap: `4429`, then close `1013` (the client backs
    /// off and retries, as for the connection cap).
    pub(crate) fn refuse_over_peer_cap(&mut self, conn: ConnId) {
        let message = format!("this participant already has {PEERS_PER_PARTICIPANT} connected peers; retry later");
        self.send_direct(conn, &ServerMessage::Error { req: None, error: WireError::new(ErrorCode::TooFast, message) });
        self.close_conn(conn, CloseCode::TryAgainLater, "too many peers");
    }

    /// A participant's record changed: its peers take the record and `permissions` (its
    /// preset's) now.
    pub(crate) fn participant_changed(
        &mut self,
        now: Instant,
        participant: ParticipantInfo,
        permissions: &Permissions,
    ) {
        for peer_id in self.peers_of(&participant.id) {
            if let Some(p) = self.peers.get_mut(&peer_id) {
                p.participant = participant.clone();
                if let Some(name) = &p.chosen_name {
                    p.participant.name = Some(name.clone());
                }
                p.peer.preset_name = participant.preset_name.clone();
            }
            self.take_permissions(now, &peer_id, permissions);
        }
    }

    /// A preset changed: peers whose participant has this preset name take its permissions now.
    pub(crate) fn preset_changed(&mut self, now: Instant, name: &str, permissions: &Permissions) {
        let affected: Vec<String> =
            self.peers.iter().filter(|(_, p)| p.participant.preset_name == name).map(|(id, _)| id.clone()).collect();
        for peer_id in affected {
            self.take_permissions(now, &peer_id, permissions);
        }
    }

    /// Gives a peer a new permission set; a change is enforced at once and sent to it as
    /// `permissions_updated` by the API (sequenced, so a resume replays it and never brings the
    /// old set back).
    fn take_permissions(&mut self, now: Instant, peer_id: &str, new: &Permissions) {
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        let patch = p.permissions.patch_to(new);
        if patch.is_empty() {
            return;
        }
        let before = std::mem::replace(&mut p.permissions, new.clone());
        let joining = p.status == PeerStatus::Joining;
        tracing::info!(peer = %peer_id, "preset changed; permissions updated");
        if !joining {
            self.event_to(now, peer_id, SessionEvent::PermissionsUpdated { patch, by: Actor::Api });
            self.resync_if_lists_changed(now, peer_id, &before);
        }
    }

    /// A joined peer that gained (or lost) the participant list or the waiting list gets a
    /// fresh snapshot after its `permissions_updated`: its client builds the lists only from
    /// snapshots and from events it was sent, and it was sent none while it lacked them.
    pub(crate) fn resync_if_lists_changed(&mut self, now: Instant, peer_id: &str, before: &Permissions) {
        let Some(p) = self.peers.get(peer_id).filter(|p| p.status == PeerStatus::Joined) else { return };
        let now_perms = &p.permissions;
        if now_perms.show_participant_list == before.show_participant_list
            && now_perms.accept_waiting_requests == before.accept_waiting_requests
        {
            return;
        }
        let room = self.snapshot(peer_id);
        self.event_to(now, peer_id, SessionEvent::Joined { room });
    }

    /// The peer ids of one participant.
    fn peers_of(&self, participant_id: &str) -> Vec<String> {
        self.peers.iter().filter(|(_, p)| p.participant.id == participant_id).map(|(id, _)| id.clone()).collect()
    }
}
