//! The roster-churn workload of `convene-core`, the same code built natively
//! (`roster-churn-native`) and to wasm32 for Node (`scripts/bench-wasm-vs-native.sh`): a client
//! core joined in a meeting of `peers` remote participants decodes and applies `peer_left` and
//! `peer_joined` frames, one pair per step, and drains its outputs. The roster size stays the same.

use convene_core::proto::{
    encode_server, MeetingInfo, Peer, RoomSnapshot, SelfInfo, ServerMessage, SessionEvent, SessionInfo,
};
use convene_core::{Command, Config, Participant, Permissions, RecordingState};
use wasm_bindgen::prelude::wasm_bindgen;

fn peer(i: usize) -> Peer {
    Peer {
        id: format!("peer-{i:08}"),
        user_id: format!("user-{i:08}"),
        name: format!("Participant {i}"),
        picture: None,
        custom_participant_id: format!("cp-{i}"),
        preset_name: "group_call_participant".into(),
        hidden: false,
        pinned: false,
    }
}

/// A joined client core and the state of the churn.
#[wasm_bindgen]
pub struct RosterChurn {
    core: Participant,
    seq: u64,
    next: usize,
    oldest: usize,
}

#[wasm_bindgen]
impl RosterChurn {
    /// A core joined (through the real `joined` frame) in a meeting of `peers` others.
    #[wasm_bindgen(constructor)]
    pub fn new(peers: usize) -> RosterChurn {
        let info = SelfInfo { permissions: Permissions::group_call_host(), ..SelfInfo::default() };
        let mut core = Participant::new(Config::new("t", info.clone(), MeetingInfo::default()));
        let me = peer(usize::MAX);
        let _ = core.command(0, Command::Join);
        core.handle_transport_opened(0);
        core.handle_server_message(
            0,
            ServerMessage::Welcome {
                protocol: 1,
                peer_id: me.id.clone(),
                resumed: false,
                self_info: info,
                meeting: MeetingInfo::default(),
            },
        );
        let room = RoomSnapshot {
            self_peer: me,
            session: SessionInfo { id: "s1".into(), started_at: "2026-11-25T00:00:00Z".into() },
            peers: (0..peers).map(peer).collect(),
            waitlisted: vec![],
            recording: RecordingState::Idle,
            recording_id: None,
        };
        let snapshot = encode_server(&ServerMessage::Event { seq: 1, event: SessionEvent::Joined { room } });
        let _ = core.handle_frame(0, &snapshot);
        while core.poll_output().is_some() {}
        RosterChurn { core, seq: 1, next: peers, oldest: 0 }
    }

    /// Remote participants in the roster.
    pub fn roster_len(&self) -> usize {
        self.core.roster().joined().len()
    }

    /// `pairs` steps of one `peer_left` and one `peer_joined` frame, each encoded, decoded and
    /// applied, outputs drained. Returns the events produced (two per step when all is well).
    pub fn run(&mut self, pairs: usize) -> usize {
        let mut events = 0;
        for _ in 0..pairs {
            self.seq += 1;
            let left = format!(
                r#"{{"type":"event","seq":{},"event":"peer_left","peer_id":"peer-{:08}"}}"#,
                self.seq, self.oldest
            );
            self.oldest += 1;
            let _ = self.core.handle_frame(0, &left);
            self.seq += 1;
            let joined = encode_server(&ServerMessage::Event {
                seq: self.seq,
                event: SessionEvent::PeerJoined { peer: peer(self.next) },
            });
            self.next += 1;
            let _ = self.core.handle_frame(0, &joined);
            while let Some(o) = self.core.poll_output() {
                events += usize::from(matches!(o, convene_core::Output::Event(_)));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_leaves_one_and_joins_one() {
        let mut churn = RosterChurn::new(100);
        assert_eq!(churn.roster_len(), 100);
        assert_eq!(churn.run(50), 100);
        assert_eq!(churn.roster_len(), 100);
    }
}
