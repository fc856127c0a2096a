//! Who may stay: the checks that run at every step that changes membership (a participant
//! deleted or its token expired is refused at join and at admission, and removed at once when
//! deleted), the cap on one participant's peers, and permissions that follow a preset changed
//! at run time.

use convene_core::proto::{CloseCode, ErrorCode, ServerMessage, SessionEvent, WaitlistOutcome, WireError};
use convene_core::Actor;

use super::actor::{Gone, Room, Status};
use super::ConnHandle;
use crate::model::Participant;

/// Peers one participant may have in a room at once (its tabs and devices), counting those
/// whose connection dropped and that may still resume. A new `hello` beyond this replaces the
/// participant's peer that has been away longest, or is refused with `4429` and close `1013`
/// when all of them are connected.
pub const PEERS_PER_PARTICIPANT: usize = 4;

/// Error code of a refusal because the participant was deleted or its token expired (the same
/// code as a bad token at `hello`).
const INVALID_AUTH_TOKEN: ErrorCode = ErrorCode::InvalidAuthToken;

impl Room {
    /// Whether the peer's participant still exists and its token still holds. A store failure
    /// counts as no: membership is never granted on a guess.
    pub(super) fn still_allowed(&mut self, peer_id: &str) -> bool {
        let Some(p) = self.peers.get(peer_id) else { return false };
        if p.token_expires <= crate::auth::now_secs() {
            return false;
        }
        match self.state.store().participant_by_id(&p.participant.id) {
            Ok(Some((current, home))) if home.meeting_id == self.meeting.id => {
                if let Some(p) = self.peers.get_mut(peer_id) {
                    p.participant = current;
                }
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::error!(error = %e, "store failure checking a participant; refusing");
                false
            }
        }
    }

    /// Removes a peer whose participant was deleted or whose token no longer holds: a joined
    /// one is kicked by the API, a waiting one is told it was kicked and leaves the waiting
    /// list, one that has not joined is told its token is invalid. Its connection is closed.
    pub(super) fn evict(&mut self, peer_id: &str) {
        let Some(status) = self.peers.get(peer_id).map(|p| p.status) else { return };
        tracing::info!(peer = %peer_id, ?status, "participant removed or its token expired; evicted");
        match status {
            Status::Joined => self.kick(peer_id, Actor::Api),
            Status::Waiting => {
                self.waitlist_removed(peer_id, WaitlistOutcome::Left);
                self.event_to(peer_id, SessionEvent::Kicked { by: Actor::Api });
                self.forget_peer(peer_id, Gone::Kicked(Actor::Api), None);
            }
            Status::Joining => {
                if let Some(conn) = self.conn_of(peer_id) {
                    let message = "invalid auth token: the participant was removed".to_owned();
                    let error = WireError::new(INVALID_AUTH_TOKEN, message);
                    self.send_direct(&conn, &ServerMessage::Error { req: None, error });
                }
                self.close_peer_conn(peer_id, CloseCode::PolicyViolation, "revoked token");
                self.forget_peer(peer_id, Gone::Kicked(Actor::Api), None);
            }
        }
    }

    /// Refuses a join request of a peer that may no longer join (`0004`), and evicts it.
    /// Returns whether it was refused.
    pub(super) fn refuse_revoked_join(&mut self, conn: &ConnHandle, peer_id: &str, req: u64) -> bool {
        if self.still_allowed(peer_id) {
            return false;
        }
        let message = "invalid auth token: the participant was removed or its token expired".to_owned();
        let error = WireError::new(INVALID_AUTH_TOKEN, message);
        self.send_direct(conn, &ServerMessage::Error { req: Some(req), error });
        self.evict(peer_id);
        true
    }

    /// Every peer of a deleted participant goes.
    pub(super) fn participant_deleted(&mut self, participant_id: &str) {
        for peer_id in self.peers_of(participant_id) {
            self.evict(&peer_id);
        }
    }

    /// Makes room for a new peer of `participant_id`: under the cap, nothing to do; at the cap,
    /// the peer away longest is removed (as if its grace ran out). Returns false when every
    /// peer of the participant is connected, so the new one must be refused.
    pub(super) fn make_room_for_peer(&mut self, participant_id: &str) -> bool {
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
                self.remove_peer(&id, Gone::Expired, "expired");
                true
            }
            None => false,
        }
    }

    /// Answers a `hello` refused by the peer cap: `4429`, then close `1013` (the client backs
    /// off and retries, as for the connection cap).
    pub(super) fn refuse_over_peer_cap(&mut self, conn: &ConnHandle) {
        let message = format!("this participant already has {PEERS_PER_PARTICIPANT} connected peers; retry later");
        self.send_direct(conn, &ServerMessage::Error { req: None, error: WireError::new(ErrorCode::TooFast, message) });
        self.conns.remove(&conn.id);
        let _ = conn.tx.try_send(super::Outgoing::Close(CloseCode::TryAgainLater, "too many peers"));
    }

    /// A participant's record changed: its peers take the record and their preset's
    /// permissions now.
    pub(super) fn participant_changed(&mut self, participant: Participant) {
        let new = self.permissions_for(&participant);
        for peer_id in self.peers_of(&participant.id) {
            if let Some(p) = self.peers.get_mut(&peer_id) {
                p.participant = participant.clone();
                p.peer.preset_name = participant.preset_name.clone();
            }
            self.take_permissions(&peer_id, &new);
        }
    }

    /// A preset changed: peers whose participant has one of these preset names take the new
    /// permissions now (each preset read from the store once).
    pub(super) fn preset_changed(&mut self, names: &[String]) {
        for name in names {
            let affected: Vec<String> = self
                .peers
                .iter()
                .filter(|(_, p)| p.participant.preset_name == *name)
                .map(|(id, _)| id.clone())
                .collect();
            let Some(first) = affected.first().and_then(|id| self.peers.get(id)) else { continue };
            let new = self.permissions_for(&first.participant);
            for peer_id in affected {
                self.take_permissions(&peer_id, &new);
            }
        }
    }

    /// Gives a peer a new permission set; a change is enforced at once and sent to it as
    /// `permissions_updated` by the API (sequenced, so a resume replays it and never brings the
    /// old set back).
    fn take_permissions(&mut self, peer_id: &str, new: &convene_core::Permissions) {
        let Some(p) = self.peers.get(peer_id) else { return };
        let patch = p.permissions.patch_to(new);
        if patch.is_empty() {
            return;
        }
        if let Some(p) = self.peers.get_mut(peer_id) {
            p.permissions = new.clone();
        }
        tracing::info!(peer = %peer_id, "preset changed; permissions updated");
        if self.peers.get(peer_id).is_some_and(|p| p.status != Status::Joining) {
            self.event_to(peer_id, SessionEvent::PermissionsUpdated { patch, by: Actor::Api });
        }
    }

    /// The peer ids of one participant.
    fn peers_of(&self, participant_id: &str) -> Vec<String> {
        self.peers.iter().filter(|(_, p)| p.participant.id == participant_id).map(|(id, _)| id.clone()).collect()
    }

    /// A peer's live connection.
    fn conn_of(&self, peer_id: &str) -> Option<ConnHandle> {
        let conn_id = self.peers.get(peer_id)?.conn?;
        self.conns.get(&conn_id).map(|(c, _)| c.clone())
    }
}
