//! The session's event log, for a takeover: with [`RoomConfig::log_events`](crate::RoomConfig)
//! set, the room emits every sequenced event it sends ([`Output::Logged`]) before the frames that
//! carry it, so that the driver can store it durably first (in cluster mode, a Redis stream)
//! and hold the frames until it has. A room that takes the session over
//! ([`Room::restore`](crate::Room::restore) with [`Restored::log`](crate::Restored)) rebuilds
//! each peer's replay buffer from the log, so that a client that resumes on it gets exactly what
//! it missed, under the same sequence numbers.

use convene_core::proto::{decode_server, ServerMessage, SessionEvent};
use serde::{Deserialize, Serialize};

use crate::output::{Frame, Output};
use crate::peer::PeerStatus;
use crate::room::{Room, REPLAY_AWAY};

/// At most this many joined peers may miss an event for the log to name them rather than its
/// recipients.
const EXCEPT_AT_MOST: usize = 8;

/// Who an event went to, as compactly as the log can say it: most events go to every joined
/// peer, or to all of them but one or two; an event to one peer names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipients {
    /// Every peer joined at the time but these.
    JoinedExcept(Vec<String>),
    /// Only these peers.
    Only(Vec<String>),
}

impl Recipients {
    /// Whether a peer that was joined from before this event until the log was read got it.
    pub fn includes(&self, peer_id: &str) -> bool {
        match self {
            Recipients::JoinedExcept(except) => !except.iter().any(|p| p == peer_id),
            Recipients::Only(only) => only.iter().any(|p| p == peer_id),
        }
    }
}

/// One sequenced event as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    /// The session it belongs to.
    pub session_id: String,
    /// Its sequence number.
    pub seq: u64,
    /// Who it went to.
    pub to: Recipients,
    /// The frame that carried it.
    pub frame: Frame,
}

/// A session's log as a room taking it over read it.
#[derive(Debug, Clone, Default)]
pub struct RestoredLog {
    /// The last sequence number logged.
    pub top: u64,
    /// The events the log still holds, oldest first, ending at `top` (older ones were trimmed).
    pub events: Vec<LoggedEvent>,
    /// The room's [`view digest`](Room::view_digest) when its last events were logged (`None`
    /// when it had none, or the log did not say).
    pub view: Option<u64>,
}

/// A logged frame that is not an event under its own sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("logged entry {seq} is not an event frame with that sequence number")]
pub struct BadLogEntry {
    /// The entry's sequence number.
    pub seq: u64,
}

impl Frame {
    /// A frame read back from the log, checked to be event `seq`.
    pub fn from_log(seq: u64, text: String) -> Result<Self, BadLogEntry> {
        let kind = match decode_server(&text) {
            Ok(ServerMessage::Event { seq: s, event }) if s == seq => event.kind(),
            _ => return Err(BadLogEntry { seq }),
        };
        Ok(Self::from_parts(bytes::Bytes::from(text), kind))
    }
}

impl Room {
    /// Logs event `seq` to `recipients` (when the room logs, in a session), ahead of its frames.
    pub(crate) fn log_event(&mut self, seq: u64, recipients: &[String], frame: &Frame) {
        if !self.config.log_events {
            return;
        }
        let Some(session) = &self.session else { return };
        let to = self.recipients(recipients);
        let event = LoggedEvent { session_id: session.id.clone(), seq, to, frame: frame.clone() };
        self.outputs.push_back(Output::Logged(event));
    }

    /// `recipients` as the log names them.
    fn recipients(&self, recipients: &[String]) -> Recipients {
        let joined = |id: &String| self.peers.get(id).is_some_and(|p| p.status == PeerStatus::Joined);
        let joined_count = self.peers.values().filter(|p| p.status == PeerStatus::Joined).count();
        // An event to one peer (its snapshot, say) names it: a takeover finds each peer's join
        // by it, and replays nothing from before.
        if recipients.len() == 1 || !recipients.iter().all(joined) || joined_count - recipients.len() > EXCEPT_AT_MOST {
            return Recipients::Only(recipients.to_vec());
        }
        if joined_count == recipients.len() {
            return Recipients::JoinedExcept(Vec::new());
        }
        let to: std::collections::BTreeSet<&str> = recipients.iter().map(String::as_str).collect();
        let except = self
            .peers
            .iter()
            .filter(|(id, p)| p.status == PeerStatus::Joined && !to.contains(id.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        Recipients::JoinedExcept(except)
    }

    /// A digest of what the peers hold of the room (everyone in the session and in the waiting
    /// room, each with their record and permissions, and the recording's state), which the
    /// driver logs with each batch of events. A room that takes the session over compares it
    /// with its own: where they differ (the store and the log disagree: a peer whose
    /// participant was deleted, a waiting room or a recording that did not survive), the peers
    /// get a snapshot after their replay, so that they hold the new room's truth. `None` while a
    /// peer still waits for that snapshot: what the peers hold is not known then, and a room that
    /// takes over next sends snapshots too. FNV-1a over each peer's fields and its permissions'
    /// JSON, stable across nodes and builds of one version (a node of another version may find
    /// a different digest: its resuming peers then get a snapshot, which is safe).
    ///
    /// The driver asks for it at every batch, so it is kept cheap: a peer's record is hashed
    /// field by field, and the permissions, which most peers share with others of their preset,
    /// are serialised once per distinct set.
    pub fn view_digest(&self) -> Option<u64> {
        if self.peers.values().any(|p| p.resync) {
            return None;
        }
        let mut digest = Fnv::default();
        let mut permission_digests: Vec<(&convene_core::permissions::Permissions, u64)> = Vec::new();
        for (id, p) in &self.peers {
            let mark: &[u8] = match p.status {
                PeerStatus::Joining => continue,
                PeerStatus::Waiting => b"W",
                PeerStatus::Joined => b"J",
            };
            digest.write(mark);
            digest.write(id.as_bytes());
            write_peer(&mut digest, &p.peer);
            let permissions = match permission_digests.iter().find(|(known, _)| **known == p.permissions) {
                Some((_, d)) => *d,
                None => {
                    let mut d = Fnv::default();
                    d.write(&serde_json::to_vec(&p.permissions).unwrap_or_default());
                    permission_digests.push((&p.permissions, d.0));
                    d.0
                }
            };
            digest.write(&permissions.to_le_bytes());
        }
        digest.write(format!("{:?}", self.recording_state()).as_bytes());
        Some(digest.0)
    }

    /// Whether `log` can stand for the session's events up to now: its top is at least what the
    /// store last recorded (a log that is behind the store lost entries).
    pub(crate) fn log_covers(log: &RestoredLog, session_id: &str, stored_seq: u64) -> bool {
        log.top >= stored_seq && log.events.iter().all(|e| e.session_id == session_id)
    }

    /// Fills the restored peers' replay buffers from the log; a peer that resumes from before
    /// the log's oldest event gets a snapshot, and so does every peer after its replay when the
    /// restored room differs from the one that logged ([`Room::view_digest`]). A peer whose own
    /// first snapshot (its join) is in the log is replayed nothing from before it: what came
    /// before went to the others.
    pub(crate) fn replay_from_log(&mut self, log: RestoredLog) {
        let resync = log.view.is_none() || log.view != self.view_digest();
        if resync {
            tracing::info!(meeting = %self.config.meeting.id, "the restored room differs from the logged one; resuming peers get a snapshot after their replay");
        }
        let oldest = log.events.first().map_or(log.top, |e| e.seq.saturating_sub(1));
        let joins = first_snapshots(&log.events);
        for (id, p) in self.peers.iter_mut() {
            p.resync = resync;
            let start = joins.get(id.as_str()).copied();
            p.evicted_up_to = start.map_or(oldest, |i| log.events[i].seq.saturating_sub(1));
            for event in &log.events[start.unwrap_or(0)..] {
                if !event.to.includes(id) {
                    continue;
                }
                p.replay.push_back((event.seq, event.frame.clone()));
                if p.replay.len() > REPLAY_AWAY {
                    if let Some((old, _)) = p.replay.pop_front() {
                        p.evicted_up_to = old;
                    }
                }
            }
        }
    }
}

/// For each peer whose first snapshot (`joined`, sent to it alone) is in `events`, where it is.
fn first_snapshots(events: &[LoggedEvent]) -> std::collections::BTreeMap<&str, usize> {
    let mut first = std::collections::BTreeMap::new();
    for (i, event) in events.iter().enumerate() {
        let Recipients::Only(only) = &event.to else { continue };
        let [peer] = only.as_slice() else { continue };
        if first.contains_key(peer.as_str()) {
            continue;
        }
        if matches!(
            decode_server(event.frame.as_str()),
            Ok(ServerMessage::Event { event: SessionEvent::Joined { .. }, .. })
        ) {
            first.insert(peer.as_str(), i);
        }
    }
    first
}

/// FNV-1a, 64 bits; each write is length-prefixed so that fields cannot run into each other.
struct Fnv(u64);

/// A peer's record into `digest`, every field (a field added to [`Peer`] does not compile here
/// until it is hashed too).
fn write_peer(digest: &mut Fnv, peer: &convene_core::proto::Peer) {
    let convene_core::proto::Peer { id, user_id, name, picture, custom_participant_id, preset_name, hidden, pinned } =
        peer;
    for field in [id, user_id, name, custom_participant_id, preset_name] {
        digest.write(field.as_bytes());
    }
    match picture {
        Some(url) => digest.write(url.as_bytes()),
        None => digest.write(b"\0none"),
    }
    digest.write(&[u8::from(*hidden), u8::from(*pinned)]);
}

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod digest_tests {
    use convene_core::proto::Peer;

    use super::{write_peer, Fnv};

    fn digest(peer: &Peer) -> u64 {
        let mut d = Fnv::default();
        write_peer(&mut d, peer);
        d.0
    }

    #[test]
    fn every_field_of_a_peer_record_counts_in_its_digest() {
        let base = Peer {
            id: "p1".into(),
            user_id: "u1".into(),
            name: "Ada".into(),
            picture: None,
            custom_participant_id: "c1".into(),
            preset_name: "group_call_host".into(),
            hidden: false,
            pinned: false,
        };
        assert_eq!(digest(&base), digest(&base.clone()), "the same record, the same digest");
        let changed = [
            Peer { id: "p2".into(), ..base.clone() },
            Peer { user_id: "u2".into(), ..base.clone() },
            Peer { name: "Grace".into(), ..base.clone() },
            Peer { picture: Some("https://example.com/a.png".into()), ..base.clone() },
            Peer { custom_participant_id: "c2".into(), ..base.clone() },
            Peer { preset_name: "group_call_participant".into(), ..base.clone() },
            Peer { hidden: true, ..base.clone() },
            Peer { pinned: true, ..base.clone() },
            // Not the same as moving text from one field to the next.
            Peer { id: "p1u".into(), user_id: "1".into(), ..base.clone() },
        ];
        for peer in changed {
            assert_ne!(digest(&peer), digest(&base), "{peer:?}");
        }
    }
}
