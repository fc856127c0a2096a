//! The remote roster: who else is in the meeting, and who is waiting.
//!
//! The local participant is never in the roster, hidden participants are never shown, and a
//! participant whose preset has `show_participant_list: false` keeps an empty joined map. Maps are
//! ordered by peer id, so iteration is deterministic on every platform.

use std::collections::BTreeMap;

use crate::proto::Peer;

/// The joined and waitlisted maps, keyed by peer id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    joined: BTreeMap<String, Peer>,
    waitlisted: BTreeMap<String, Peer>,
}

impl Roster {
    /// Remote participants in the meeting.
    pub fn joined(&self) -> &BTreeMap<String, Peer> {
        &self.joined
    }

    /// Participants in the waiting room (visible to those who may accept them).
    pub fn waitlisted(&self) -> &BTreeMap<String, Peer> {
        &self.waitlisted
    }

    /// Finds a waiting peer by peer id or by participant (user) id, as RealtimeKit accepts both.
    pub fn find_waiting(&self, id: &str) -> Option<&Peer> {
        self.waitlisted.get(id).or_else(|| self.waitlisted.values().find(|p| p.user_id == id))
    }

    /// Finds a joined peer by peer id or by participant (user) id.
    pub fn find_joined(&self, id: &str) -> Option<&Peer> {
        self.joined.get(id).or_else(|| self.joined.values().find(|p| p.user_id == id))
    }

    /// Adds a joined peer unless it is `self_id` or hidden. Returns whether it was added new.
    pub(crate) fn add_joined(&mut self, peer: Peer, self_id: &str) -> bool {
        if peer.id == self_id || peer.hidden {
            return false;
        }
        self.joined.insert(peer.id.clone(), peer).is_none()
    }

    /// A joined peer's record, to update in place.
    pub(crate) fn joined_mut(&mut self, peer_id: &str) -> Option<&mut Peer> {
        self.joined.get_mut(peer_id)
    }

    /// Removes a joined peer.
    pub(crate) fn remove_joined(&mut self, peer_id: &str) -> Option<Peer> {
        self.joined.remove(peer_id)
    }

    /// Adds a waiting peer unless it is `self_id` or hidden. Returns whether it was added new.
    pub(crate) fn add_waiting(&mut self, peer: Peer, self_id: &str) -> bool {
        if peer.id == self_id || peer.hidden {
            return false;
        }
        self.waitlisted.insert(peer.id.clone(), peer).is_none()
    }

    /// Removes a waiting peer.
    pub(crate) fn remove_waiting(&mut self, peer_id: &str) -> Option<Peer> {
        self.waitlisted.remove(peer_id)
    }

    /// Empties both maps.
    pub(crate) fn clear(&mut self) {
        self.joined.clear();
        self.waitlisted.clear();
    }

    /// Drops the waiting room (the participant may no longer see it).
    pub(crate) fn clear_waiting(&mut self) {
        self.waitlisted.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, hidden: bool) -> Peer {
        Peer {
            id: id.into(),
            user_id: format!("u-{id}"),
            name: id.into(),
            picture: None,
            custom_participant_id: id.into(),
            preset_name: "group_call_participant".into(),
            hidden,
            pinned: false,
        }
    }

    #[test]
    fn never_holds_self_or_hidden() {
        let mut r = Roster::default();
        assert!(!r.add_joined(peer("me", false), "me"));
        assert!(!r.add_joined(peer("ghost", true), "me"));
        assert!(r.add_joined(peer("a", false), "me"));
        assert!(!r.add_joined(peer("a", false), "me"), "a repeat is not new");
        assert_eq!(r.joined().len(), 1);
        assert!(r.find_joined("u-a").is_some());
        assert!(r.remove_joined("a").is_some());
        assert!(r.remove_joined("a").is_none());
    }

    #[test]
    fn waiting_found_by_peer_or_user_id() {
        let mut r = Roster::default();
        r.add_waiting(peer("w", false), "me");
        assert_eq!(r.find_waiting("w").unwrap().id, "w");
        assert_eq!(r.find_waiting("u-w").unwrap().id, "w");
        assert!(r.find_waiting("zz").is_none());
    }
}
