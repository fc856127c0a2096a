//! Events for the application, and their JSON payload contract.
//!
//! [`Event::payload`] is the one place that decides how an event looks to applications outside
//! Rust: RealtimeKit's event names (`roomLeft`, `participantJoined`, ...) and camelCase fields.
//! The browser package hands these payloads to JavaScript listeners, and the scenario files under
//! `tests/scenarios/` match against them.

use serde_json::{json, Map, Value};

use crate::permissions::PermissionsPatch;
use crate::proto::{Peer, WaitlistOutcome};
use crate::state::{Actor, LeaveState, RecordingState, SessionEnd, SocketState};

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The local participant is in the meeting (`meeting.self` `roomJoined`).
    RoomJoined {
        /// True when this is a return after a dropped connection.
        reconnected: bool,
    },
    /// The local participant's stay ended or was interrupted (`meeting.self` `roomLeft`). Fires
    /// exactly once per transition into a leave state.
    RoomLeft {
        /// The leave state, with who and why.
        state: LeaveState,
    },
    /// The local participant was placed in the waiting room (`meeting.self` `waitlisted`).
    Waitlisted,
    /// A remote participant joined (`participants.joined` `participantJoined`).
    ParticipantJoined {
        /// The participant.
        participant: Peer,
    },
    /// A remote participant left, for any reason (`participants.joined` `participantLeft`).
    ParticipantLeft {
        /// The participant.
        participant: Peer,
    },
    /// A remote participant was removed (`participants.joined` `kicked`); a
    /// [`Event::ParticipantLeft`] follows.
    ParticipantKicked {
        /// Its peer id.
        peer_id: String,
        /// Who removed it.
        by: Actor,
    },
    /// Someone entered the waiting room (`participants.waitlisted` `participantJoined`).
    WaitlistAdded {
        /// The waiting participant.
        participant: Peer,
    },
    /// Someone left the waiting room (`participants.waitlisted` `participantLeft`).
    WaitlistRemoved {
        /// The participant.
        participant: Peer,
        /// Admitted, refused, or gave up.
        outcome: WaitlistOutcome,
    },
    /// The local participant's permissions changed (`self.permissions` `permissionsUpdate`).
    PermissionsUpdate {
        /// What changed.
        patch: PermissionsPatch,
        /// Who changed it.
        by: Actor,
    },
    /// The recording state changed (`meeting.recording` `recordingUpdate`).
    RecordingUpdate {
        /// The new state.
        state: RecordingState,
    },
    /// The signalling connection changed (`meeting.meta` `socketConnectionUpdate`).
    SocketConnectionUpdate {
        /// The new socket state.
        socket: SocketState,
    },
    /// The session ended for everyone: id, reason and who ended it.
    SessionEnded {
        /// How and by whom.
        end: SessionEnd,
    },
    /// A participant was pinned or unpinned for everyone (RealtimeKit's `pinned` / `unpinned`,
    /// on the participant, `participants.joined`, or `meeting.self` when it is this one).
    PinUpdate {
        /// Its peer id (this participant's own when it is the one pinned).
        peer_id: String,
        /// Pinned now.
        pinned: bool,
    },
}

impl Event {
    /// RealtimeKit's name of this event.
    pub fn name(&self) -> &'static str {
        match self {
            Event::RoomJoined { .. } => "roomJoined",
            Event::RoomLeft { .. } => "roomLeft",
            Event::Waitlisted => "waitlisted",
            Event::ParticipantJoined { .. } => "participantJoined",
            Event::ParticipantLeft { .. } => "participantLeft",
            Event::ParticipantKicked { .. } => "kicked",
            Event::WaitlistAdded { .. } => "waitlistAdded",
            Event::WaitlistRemoved { .. } => "waitlistRemoved",
            Event::PermissionsUpdate { .. } => "permissionsUpdate",
            Event::RecordingUpdate { .. } => "recordingUpdate",
            Event::SocketConnectionUpdate { .. } => "socketConnectionUpdate",
            Event::SessionEnded { .. } => "sessionEnded",
            Event::PinUpdate { pinned: true, .. } => "pinned",
            Event::PinUpdate { pinned: false, .. } => "unpinned",
        }
    }

    /// The event as applications outside Rust see it: `{"event": name, ...camelCase fields}`.
    ///
    /// ```
    /// use convene_core::{Event, LeaveState};
    /// let e = Event::RoomLeft { state: LeaveState::Left };
    /// assert_eq!(e.payload(), serde_json::json!({"event": "roomLeft", "state": "left"}));
    /// ```
    pub fn payload(&self) -> Value {
        let body = match self {
            Event::RoomJoined { reconnected } => json!({ "reconnected": reconnected }),
            Event::RoomLeft { state } => leave_state_json(state),
            Event::Waitlisted => json!({}),
            Event::ParticipantJoined { participant } | Event::ParticipantLeft { participant } => {
                json!({ "participant": participant })
            }
            Event::ParticipantKicked { peer_id, by } => json!({ "id": peer_id, "kicked_by": by }),
            Event::WaitlistAdded { participant } => json!({ "participant": participant }),
            Event::WaitlistRemoved { participant, outcome } => {
                json!({ "participant": participant, "outcome": outcome })
            }
            Event::PermissionsUpdate { patch, by } => json!({ "patch": patch, "changed_by": by }),
            Event::RecordingUpdate { state } => json!({ "state": state }),
            Event::SocketConnectionUpdate { socket } => json!({
                "state": socket.state,
                "reconnected": socket.reconnected,
                "reconnection_attempt": socket.reconnection_attempt,
            }),
            Event::SessionEnded { end } => json!(end),
            Event::PinUpdate { peer_id, .. } => json!({ "id": peer_id }),
        };
        let mut object = match camelize(body) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        object.insert("event".into(), Value::from(self.name()));
        Value::Object(object)
    }
}

fn leave_state_json(state: &LeaveState) -> Value {
    let room = state.room_state().as_str();
    match state {
        LeaveState::Left | LeaveState::Disconnected => json!({ "state": room }),
        LeaveState::Kicked { kicked_by } => json!({ "state": room, "kicked_by": kicked_by }),
        LeaveState::Ended(end) => json!({
            "state": room,
            "session_id": end.session_id,
            "reason": end.reason,
            "ended_by": end.ended_by,
        }),
        LeaveState::Rejected { rejected_by } => json!({ "state": room, "rejected_by": rejected_by }),
        LeaveState::Failed { attempts } => json!({ "state": room, "attempts": attempts }),
    }
}

/// Rewrites every object key from snake_case to camelCase, recursively. Values are untouched.
pub fn camelize(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (camel_key(&k), camelize(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(camelize).collect()),
        other => other,
    }
}

/// `snake_case` to `camelCase`: an ASCII letter after an underscore is uppercased, the underscore
/// dropped; anything else stays as it is. (ASCII only: the keys are field names, and Unicode's
/// case tables would be 6 KB gzip of the browser package.)
fn camel_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::EndReason;

    #[test]
    fn keys_are_camel_cased_ascii_only() {
        let value = camelize(json!({"kick_participant": 1, "already": {"nested_key": [{"a_b": 2}]}, "é_ü": 3}));
        assert_eq!(value, json!({"kickParticipant": 1, "already": {"nestedKey": [{"aB": 2}]}, "éü": 3}));
    }

    #[test]
    fn payloads_are_camel_case_with_realtimekit_names() {
        let peer = Peer {
            id: "p2".into(),
            user_id: "u2".into(),
            name: "Bob".into(),
            picture: None,
            custom_participant_id: "bob".into(),
            preset_name: "group_call_participant".into(),
            hidden: false,
            pinned: false,
        };
        assert_eq!(
            Event::ParticipantJoined { participant: peer }.payload(),
            json!({"event":"participantJoined","participant":{"id":"p2","userId":"u2","name":"Bob",
                "customParticipantId":"bob","presetName":"group_call_participant"}})
        );
        let end = SessionEnd {
            session_id: "s".into(),
            reason: EndReason::HostEndedMeeting,
            ended_by: Actor::Peer { peer_id: "h".into() },
        };
        assert_eq!(
            Event::RoomLeft { state: LeaveState::Ended(end.clone()) }.payload(),
            json!({"event":"roomLeft","state":"ended","sessionId":"s","reason":"HOST_ENDED_MEETING",
                "endedBy":{"kind":"peer","peerId":"h"}})
        );
        assert_eq!(Event::SessionEnded { end }.payload()["endedBy"], json!({"kind":"peer","peerId":"h"}));
        let pin = |pinned| Event::PinUpdate { peer_id: "p2".into(), pinned }.payload();
        assert_eq!(pin(true), json!({"event":"pinned","id":"p2"}));
        assert_eq!(pin(false), json!({"event":"unpinned","id":"p2"}));
        let patch = PermissionsPatch { kick_participant: Some(true), ..Default::default() };
        assert_eq!(
            Event::PermissionsUpdate { patch, by: Actor::Api }.payload(),
            json!({"event":"permissionsUpdate","patch":{"kickParticipant":true},"changedBy":{"kind":"api"}})
        );
        let socket = SocketState {
            state: crate::state::SocketConnectionState::Reconnecting,
            reconnected: false,
            reconnection_attempt: 2,
        };
        assert_eq!(
            Event::SocketConnectionUpdate { socket }.payload(),
            json!({"event":"socketConnectionUpdate","state":"reconnecting","reconnected":false,"reconnectionAttempt":2})
        );
    }

    #[test]
    fn camel_key_handles_edges() {
        assert_eq!(camel_key("a_b_c"), "aBC");
        assert_eq!(camel_key("plain"), "plain");
        assert_eq!(camel_key("trailing_"), "trailing");
    }
}
