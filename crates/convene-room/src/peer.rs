//! A peer of the room: one connection's worth of a participant (a tab, a device), its status,
//! its replay buffer, and why it went once it is gone.

use std::collections::VecDeque;
use std::time::Instant;

use convene_core::permissions::Permissions;
use convene_core::proto::Peer;
use convene_core::{Actor, SessionEnd};

use crate::output::{ConnId, Frame};
use crate::records::ParticipantInfo;

/// Where a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerStatus {
    /// Welcomed; has not asked to join.
    Joining,
    /// In the waiting room.
    Waiting,
    /// In the session.
    Joined,
}

/// Why a peer is no longer here (answered to late resumes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Gone {
    Left,
    Kicked(Actor),
    Rejected(Actor),
    Ended(SessionEnd),
    Expired,
}

/// A peer's state.
#[derive(Debug)]
pub(crate) struct PeerState {
    pub peer: Peer,
    pub participant: ParticipantInfo,
    pub permissions: Permissions,
    pub status: PeerStatus,
    pub conn: Option<ConnId>,
    pub away_since: Option<Instant>,
    pub replay: VecDeque<(u64, Frame)>,
    /// The highest sequence number dropped from `replay`.
    pub evicted_up_to: u64,
    /// Restored by a takeover whose room differs from the logged one: its next resume gets a
    /// snapshot after the replay.
    pub resync: bool,
    /// Its place in the order of arrival (snapshots list peers in it).
    pub arrival: u64,
    /// When the token of its latest connection stops holding (`None`: not checked, as for a
    /// peer restored after a restart until it resumes with a token).
    pub token_deadline: Option<Instant>,
    /// The display name its join chose (`setName` before joining), kept over its record's.
    pub chosen_name: Option<String>,
}

impl PeerState {
    /// A new peer.
    pub(crate) fn new(
        peer_id: &str,
        participant: ParticipantInfo,
        permissions: Permissions,
        status: PeerStatus,
        token_deadline: Option<Instant>,
    ) -> Self {
        Self {
            peer: peer_record(peer_id, &participant, &permissions),
            participant,
            permissions,
            status,
            conn: None,
            away_since: None,
            replay: VecDeque::new(),
            evicted_up_to: 0,
            resync: false,
            arrival: 0,
            token_deadline,
            chosen_name: None,
        }
    }
}

impl PeerState {
    /// Names the stay `name` (chosen before joining) over its record's name, now and after every
    /// later read of the record.
    pub(crate) fn choose_name(&mut self, name: String) {
        self.peer.name = name.clone();
        self.participant.name = Some(name.clone());
        self.chosen_name = Some(name);
    }
}

/// The public record of a peer.
pub(crate) fn peer_record(peer_id: &str, participant: &ParticipantInfo, permissions: &Permissions) -> Peer {
    Peer {
        id: peer_id.to_owned(),
        user_id: participant.id.clone(),
        name: participant.name.clone().unwrap_or_else(|| participant.custom_participant_id.clone()),
        picture: participant.picture.clone(),
        custom_participant_id: participant.custom_participant_id.clone(),
        preset_name: participant.preset_name.clone(),
        hidden: permissions.hidden_participant,
        pinned: false,
    }
}

/// A read-only view of a peer, for drivers and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerView {
    /// The public record.
    pub peer: Peer,
    /// Where it is.
    pub status: PeerStatus,
    /// Its permissions now.
    pub permissions: Permissions,
    /// Its connection, if connected.
    pub conn: Option<ConnId>,
}
