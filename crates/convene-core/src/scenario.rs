//! The scenario file format shared by every front end (`tests/scenarios/*.json`).
//!
//! A scenario names its participants and lists steps: commands, REST-side actions, faults, waits,
//! and expectations. The room core's tests (`crates/convene-room/tests/sim`) run every file against
//! the real room machine in simulated time; the native and browser clients run the same files
//! against a real `convene-server`, so neither the front ends nor the server's rules can drift. This module holds only the data types and the matching rules; each front end has
//! its own runner.
//!
//! ```json
//! {
//!   "name": "kick-all by a host",
//!   "participants": { "host": { "preset": "group_call_host" }, "bob": { "preset": "group_call_participant" } },
//!   "steps": [
//!     { "do": "join", "as": "host" },
//!     { "do": "join", "as": "bob" },
//!     { "do": "kick_all", "as": "bob", "error": 1201 },
//!     { "do": "kick_all", "as": "host" },
//!     { "do": "expect", "as": "bob", "room_state": "ended",
//!       "events": [ { "event": "roomLeft", "state": "ended", "reason": "HOST_ENDED_MEETING", "endedBy": { "peerId": "@host" } } ] }
//!   ]
//! }
//! ```
//!
//! Matching rules, used by [`matches()`]: an expected object matches when each of its keys is present
//! in the actual object with a matching value (extra actual keys are fine); arrays match element by
//! element and must have the same length; other values must be equal. A string `"@alias"` stands
//! for that participant's current peer id.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::permissions::PermissionsPatch;
use crate::state::{RecordingState, RoomState, WaitlistStatus};

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Meeting settings.
    #[serde(default)]
    pub meeting: MeetingSetup,
    /// Participants by alias, in a stable order.
    pub participants: BTreeMap<String, ParticipantSetup>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// Meeting settings of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeetingSetup {
    /// Meeting title.
    pub title: String,
    /// `session_keep_alive_time_in_secs`.
    pub keep_alive_secs: u64,
}

impl Default for MeetingSetup {
    fn default() -> Self {
        Self { title: "Scenario meeting".into(), keep_alive_secs: 60 }
    }
}

/// A participant of a scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantSetup {
    /// A built-in preset name.
    pub preset: String,
    /// Changes to the preset's permissions for this participant (a custom preset).
    #[serde(default)]
    pub permissions: Option<PermissionsPatch>,
}

/// One step. Command steps succeed unless `error` names the code they must fail with.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `meeting.join()`.
    Join {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `meeting.leave()`.
    Leave {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `participant.kick()`.
    Kick {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Alias of the participant to remove.
        target: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `participants.kickAll()`.
    KickAll {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `acceptWaitingRoomRequest` for each target.
    Accept {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Aliases of waiting participants.
        targets: Vec<String>,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// Accept everyone waiting.
    AcceptAll {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `rejectWaitingRoomRequest`.
    Reject {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Alias of the waiting participant.
        target: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `updatePermissions(targets, patch)`.
    UpdatePermissions {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Aliases of the targets.
        targets: Vec<String>,
        /// The change.
        patch: PermissionsPatch,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `recording.start()`.
    StartRecording {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `recording.stop()`.
    StopRecording {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// `participant.pin()` / `unpin()`, or `meeting.self.pin()` / `unpin()` when the target is
    /// the participant itself.
    Pin {
        /// Who.
        #[serde(rename = "as")]
        who: String,
        /// Alias of the participant to pin or unpin.
        target: String,
        /// `false` to unpin.
        #[serde(default = "pin_by_default")]
        pinned: bool,
        /// Expected error code.
        #[serde(default)]
        error: Option<u16>,
    },
    /// REST `POST .../active-session/kick-all`.
    ApiKickAll,
    /// REST `POST .../active-session/kick` for one participant.
    ApiKick {
        /// Alias of the participant.
        target: String,
    },
    /// REST `PATCH .../meetings/{id}` with `{"status": ...}`.
    ApiSetStatus {
        /// `ACTIVE` or `INACTIVE`.
        status: String,
    },
    /// The participant's connection drops (no leave is sent).
    Drop {
        /// Who.
        #[serde(rename = "as")]
        who: String,
    },
    /// The server stops accepting connections (and drops every open one).
    ServerOffline,
    /// The server accepts connections again.
    ServerOnline,
    /// Time passes.
    Wait {
        /// Milliseconds.
        ms: u64,
    },
    /// Checks a participant's events and state.
    Expect {
        /// Whose.
        #[serde(rename = "as")]
        who: String,
        /// Patterns that must appear, in this order, among the events since the last `expect`
        /// for this participant.
        #[serde(default)]
        events: Vec<Value>,
        /// Patterns that must not appear among those events.
        #[serde(default)]
        absent: Vec<Value>,
        /// Total number of events of each name since the start.
        #[serde(default)]
        counts: BTreeMap<String, usize>,
        /// `meeting.self.roomState`.
        #[serde(default)]
        room_state: Option<RoomState>,
        /// `meeting.recording.recordingState`.
        #[serde(default)]
        recording_state: Option<RecordingState>,
        /// `meeting.self.waitlistStatus`.
        #[serde(default)]
        waitlist_status: Option<WaitlistStatus>,
        /// Aliases of the remote participants in `participants.joined`, in any order.
        #[serde(default)]
        joined: Option<Vec<String>>,
        /// Aliases of the participants in `participants.waitlisted`, in any order.
        #[serde(default)]
        waitlisted: Option<Vec<String>>,
        /// A partial permissions object (snake_case) the participant's permissions must match.
        #[serde(default)]
        permissions: Option<Value>,
        /// Aliases of the participants pinned, in any order: the remote ones of
        /// `participants.pinned`, and this participant's own when `meeting.self.isPinned`.
        #[serde(default)]
        pinned: Option<Vec<String>>,
    },
}

fn pin_by_default() -> bool {
    true
}

impl Scenario {
    /// Parses a scenario file's text.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Replaces every string `"@alias"` in `pattern` by `peer_id(alias)` (left as is when unknown).
pub fn resolve_aliases(pattern: &Value, peer_id: &dyn Fn(&str) -> Option<String>) -> Value {
    match pattern {
        Value::String(s) => match s.strip_prefix('@').and_then(peer_id) {
            Some(id) => Value::String(id),
            None => pattern.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve_aliases(v, peer_id)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), resolve_aliases(v, peer_id))).collect())
        }
        other => other.clone(),
    }
}

/// Whether `actual` matches the partial `expected` (see the module docs).
pub fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, ev)| a.get(k).is_some_and(|av| matches(ev, av))),
        (Value::Array(e), Value::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y)),
        _ => expected == actual,
    }
}

/// Finds `patterns` in order within `events`. Returns the index just past the last match, or the
/// first pattern that could not be found.
pub fn find_in_order<'a>(patterns: &'a [Value], events: &[Value]) -> Result<usize, &'a Value> {
    let mut at = 0;
    for pattern in patterns {
        match events[at..].iter().position(|e| matches(pattern, e)) {
            Some(i) => at += i + 1,
            None => return Err(pattern),
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn partial_matching() {
        let actual = json!({"event":"roomLeft","state":"ended","endedBy":{"kind":"peer","peerId":"p1"}});
        assert!(matches(&json!({"event":"roomLeft"}), &actual));
        assert!(matches(&json!({"endedBy":{"peerId":"p1"}}), &actual));
        assert!(!matches(&json!({"state":"left"}), &actual));
        assert!(!matches(&json!({"missing":1}), &actual));
        assert!(!matches(&json!([1]), &json!([1, 2])));
    }

    #[test]
    fn in_order_and_aliases() {
        let events = vec![json!({"event":"a"}), json!({"event":"b","id":"p9"}), json!({"event":"c"})];
        let pat = resolve_aliases(&json!({"event":"b","id":"@bob"}), &|a| (a == "bob").then(|| "p9".into()));
        assert_eq!(find_in_order(&[json!({"event":"a"}), pat], &events), Ok(2));
        let wrong_order = [json!({"event":"c"}), json!({"event":"a"})];
        assert!(find_in_order(&wrong_order, &events).is_err());
    }

    #[test]
    fn steps_parse_and_unknown_fields_are_refused() {
        let s = Scenario::parse(
            r#"{"name":"x","participants":{"h":{"preset":"group_call_host"}},
                "steps":[{"do":"join","as":"h"},{"do":"kick_all","as":"h","error":1201},{"do":"wait","ms":5}]}"#,
        )
        .unwrap();
        assert_eq!(s.steps.len(), 3);
        assert!(Scenario::parse(r#"{"name":"x","participants":{},"steps":[{"do":"join","as":"h","oops":1}]}"#).is_err());
    }
}
