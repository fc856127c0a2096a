//! The npm package's TypeScript declarations of what comes from this crate: the event payloads,
//! the states, the permissions and the error codes, generated from the Rust types (`ts-rs`, with
//! their `///` docs as JSDoc) into `bindings/wasm/js/generated.d.ts`.
//!
//! `cargo test -p convene-core --features typescript` fails when that file differs from what the
//! types generate; with `CONVENE_WRITE_TYPES=1` it writes the file instead. The payload types
//! here mirror what [`Event::payload`] builds, and every test run checks that they serialise to
//! exactly its JSON, so that the declarations cannot drift from what listeners receive.

use serde::Serialize;

use crate::event::camelize;
use crate::state::{Actor, EndReason, LeaveState};
use crate::Event;

/// The payload of `meeting.self`'s `roomJoined`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
struct RoomJoinedPayload {
    /// True when this is a return after a dropped connection.
    reconnected: bool,
}

/// The payload of `meeting.self`'s `roomLeft`: RealtimeKit's `state`, with who and why.
#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "lowercase", rename_all_fields = "camelCase")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
enum RoomLeftPayload {
    /// This participant called `leave()`.
    Left,
    /// Removed by a host or the REST API.
    Kicked {
        /// Who removed this participant.
        kicked_by: Actor,
    },
    /// The session was ended for everyone.
    Ended {
        /// The session that ended.
        session_id: String,
        /// Why it ended.
        reason: EndReason,
        /// Who ended it.
        ended_by: Actor,
    },
    /// The waiting-room request was rejected.
    Rejected {
        /// Who rejected it.
        rejected_by: Actor,
    },
    /// The connection dropped; the client is reconnecting.
    Disconnected,
    /// Reconnection gave up after this many attempts.
    Failed {
        /// Attempts made.
        attempts: u32,
    },
}

impl From<&LeaveState> for RoomLeftPayload {
    fn from(state: &LeaveState) -> Self {
        match state.clone() {
            LeaveState::Left => Self::Left,
            LeaveState::Kicked { kicked_by } => Self::Kicked { kicked_by },
            LeaveState::Ended(end) => {
                Self::Ended { session_id: end.session_id, reason: end.reason, ended_by: end.ended_by }
            }
            LeaveState::Rejected { rejected_by } => Self::Rejected { rejected_by },
            LeaveState::Disconnected => Self::Disconnected,
            LeaveState::Failed { attempts } => Self::Failed { attempts },
        }
    }
}

/// The payload of `participants.joined`'s `kicked`: a remote participant was removed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
struct KickedPayload {
    /// Its peer id.
    id: String,
    /// Who removed it.
    kicked_by: Actor,
}

/// What [`Event::payload`] holds besides the event's name, as the mirror types here give it for
/// `event` (`None` for the events whose listeners get their fields as arguments).
fn mirrored(event: &Event) -> Option<serde_json::Value> {
    let value = match event {
        Event::RoomJoined { reconnected } => serde_json::to_value(RoomJoinedPayload { reconnected: *reconnected }),
        Event::RoomLeft { state } => serde_json::to_value(RoomLeftPayload::from(state)),
        Event::ParticipantKicked { peer_id, by } => {
            serde_json::to_value(KickedPayload { id: peer_id.clone(), kicked_by: by.clone() })
        }
        Event::SessionEnded { end } => serde_json::to_value(end),
        _ => return None,
    };
    value.ok().map(camelize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SessionEnd;

    fn peer() -> Actor {
        Actor::Peer { peer_id: "p1".into() }
    }

    /// Every event whose payload a mirror type declares, in each of its shapes.
    fn samples() -> Vec<Event> {
        let end = SessionEnd { session_id: "s1".into(), reason: EndReason::HostEndedMeeting, ended_by: peer() };
        let states = [
            LeaveState::Left,
            LeaveState::Kicked { kicked_by: Actor::Api },
            LeaveState::Ended(end.clone()),
            LeaveState::Rejected { rejected_by: peer() },
            LeaveState::Disconnected,
            LeaveState::Failed { attempts: 3 },
        ];
        let mut events: Vec<Event> = states.into_iter().map(|state| Event::RoomLeft { state }).collect();
        events.push(Event::RoomJoined { reconnected: true });
        events.push(Event::ParticipantKicked { peer_id: "p2".into(), by: Actor::System });
        events.push(Event::SessionEnded { end });
        events
    }

    #[test]
    fn the_declared_payloads_are_what_listeners_receive() {
        for event in samples() {
            let mut payload = event.payload();
            payload.as_object_mut().unwrap().remove("event");
            assert_eq!(mirrored(&event), Some(payload), "{event:?}");
        }
    }

    #[cfg(feature = "typescript")]
    mod generated {
        use std::path::PathBuf;

        use ts_rs::{Config, TS};

        use super::super::*;
        use crate::permissions::*;
        use crate::proto::{ErrorCode, WaitlistOutcome};
        use crate::state::*;

        /// The checked-in declarations.
        fn path() -> PathBuf {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bindings/wasm/js/generated.d.ts")
        }

        /// `export` and the declaration of `T`, with its docs.
        fn declare<T: TS>(cfg: &Config) -> String {
            format!("{}export {}\n", T::docs().unwrap_or_default(), T::decl(cfg))
        }

        /// The error codes: a name for each, with its meaning, and their union.
        fn error_codes() -> String {
            let mut out = String::from(
                "/** The numeric codes of `ClientError.code`, by name: RealtimeKit's where it has one. */\nexport interface ErrorCodes {\n",
            );
            for &code in ErrorCode::ALL {
                out.push_str(&format!("  /** {} */\n  {:?}: {};\n", code.doc(), code, code.code()));
            }
            out.push_str("}\n\n/** A numeric error code (`err.code`): one of {@link ErrorCodes}. */\nexport type ErrorCode = ErrorCodes[keyof ErrorCodes];\n");
            out
        }

        /// Rust's intra-doc links (``[`ClientError`]``, ``[`a`](crate::b)``) as plain code spans.
        fn plain_links(text: &str) -> String {
            let mut out = String::with_capacity(text.len());
            let mut rest = text;
            while let Some(start) = rest.find("[`") {
                let Some(len) = rest[start + 2..].find("`]") else { break };
                out.push_str(&rest[..start]);
                out.push_str(&rest[start + 1..start + 2 + len + 1]);
                rest = &rest[start + 2 + len + 2..];
                if rest.starts_with('(') {
                    if let Some(close) = rest.find(')') {
                        rest = &rest[close + 1..];
                    }
                }
            }
            out.push_str(rest);
            out
        }

        fn generate() -> String {
            let cfg = Config::new();
            let decls = [
                declare::<RoomState>(&cfg),
                declare::<WaitlistStatus>(&cfg),
                declare::<SocketConnectionState>(&cfg),
                declare::<SocketState>(&cfg),
                declare::<RecordingState>(&cfg),
                declare::<EndReason>(&cfg),
                declare::<Actor>(&cfg),
                declare::<SessionEnd>(&cfg),
                declare::<RoomJoinedPayload>(&cfg),
                declare::<RoomLeftPayload>(&cfg),
                declare::<KickedPayload>(&cfg),
                declare::<WaitlistOutcome>(&cfg),
                declare::<ProducePermission>(&cfg),
                declare::<WaitingRoomType>(&cfg),
                declare::<RecorderType>(&cfg),
                declare::<PluginAccess>(&cfg),
                declare::<PluginConfig>(&cfg),
                declare::<PublicChat>(&cfg),
                declare::<PrivateChat>(&cfg),
                declare::<ChatPermissions>(&cfg),
                declare::<ConnectedMeetingsPermissions>(&cfg),
                declare::<MediaProduce>(&cfg),
                declare::<MediaPermissions>(&cfg),
                declare::<PluginPermissions>(&cfg),
                declare::<PollPermissions>(&cfg),
                declare::<Permissions>(&cfg),
                declare::<PublicChatPatch>(&cfg),
                declare::<PrivateChatPatch>(&cfg),
                declare::<ChatPatch>(&cfg),
                declare::<ConnectedMeetingsPatch>(&cfg),
                declare::<MediaProducePatch>(&cfg),
                declare::<MediaPatch>(&cfg),
                declare::<PluginsPatch>(&cfg),
                declare::<PollsPatch>(&cfg),
                declare::<PermissionsPatch>(&cfg),
                error_codes(),
            ];
            let header = "// Generated from convene-core's Rust types by `cargo test -p convene-core --features typescript`\n// (CONVENE_WRITE_TYPES=1 to rewrite it): edit the Rust types and their docs, not this file.\n\n";
            plain_links(&format!("{header}{}", decls.join("\n")))
        }

        /// Every object key in `value`, at any depth.
        fn keys(value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        out.insert(k.clone());
                        keys(v, out);
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
                _ => {}
            }
        }

        /// A patch that sets every field (the host preset, as a patch).
        fn full_patch() -> PermissionsPatch {
            let mut preset = serde_json::to_value(Permissions::group_call_host()).unwrap();
            preset["plugins"].as_object_mut().unwrap().remove("config");
            serde_json::from_value(preset).unwrap()
        }

        /// The key names the generated declarations give are the ones listeners and getters see
        /// at run time (the JSON of every event, camelCase; the whole preset and a full patch as
        /// the package's getters camelCase them): each is a declared field.
        #[test]
        fn every_key_listeners_and_getters_see_is_a_declared_field() {
            let generated = generate();
            let mut events = super::samples();
            let socket =
                SocketState { state: SocketConnectionState::Reconnecting, reconnected: false, reconnection_attempt: 2 };
            events.push(Event::SocketConnectionUpdate { socket });
            events.push(Event::RecordingUpdate { state: RecordingState::Recording });
            events.push(Event::PermissionsUpdate { patch: full_patch(), by: Actor::Api });
            let mut seen = std::collections::BTreeSet::new();
            for event in &events {
                keys(&event.payload(), &mut seen);
            }
            keys(&camelize(serde_json::to_value(Permissions::group_call_host()).unwrap()), &mut seen);
            seen.remove("event");
            // Listener arguments rather than fields: `socketConnectionUpdate(state)`,
            // `recordingUpdate(state)`, `permissionsUpdate(patch, changedBy)`.
            seen.remove("patch");
            seen.remove("changedBy");
            assert!(seen.len() > 50, "the samples cover the preset: {seen:?}");
            for key in seen {
                let declared = [format!("\n{key}: "), format!("\n{key}?: "), format!("\"{key}\": ")];
                assert!(declared.iter().any(|d| generated.contains(d.as_str())), "`{key}` is not a declared field");
            }
        }

        #[test]
        fn the_checked_in_declarations_are_what_the_rust_types_generate() {
            let generated = generate();
            if std::env::var_os("CONVENE_WRITE_TYPES").is_some() {
                std::fs::write(path(), &generated).unwrap();
            }
            let checked_in = std::fs::read_to_string(path()).unwrap_or_default();
            assert!(
                checked_in == generated,
                "bindings/wasm/js/generated.d.ts differs from what the Rust types generate; \
                 run CONVENE_WRITE_TYPES=1 cargo test -p convene-core --features typescript"
            );
        }
    }
}
