//! Hand-written decoding of the tagged server messages.
//!
//! Derived `Deserialize` for internally tagged enums (and `#[serde(flatten)]`) buffers through
//! serde's private `Content` type, which instantiates every field type's decoder two more times.
//! In the browser build that was about a quarter of all code. Here each message is read once into
//! a JSON object, the tag is dispatched by hand, and every field is decoded as one concrete type
//! from a `serde_json::Value`. The wire format is the same (the derived `Serialize` writes it);
//! unknown fields are ignored, unknown tags are errors.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{ResumeRefusal, ServerMessage, SessionEvent};
use crate::state::Actor;

type Object = Map<String, Value>;

/// A required field.
fn field<T: DeserializeOwned, E: serde::de::Error>(o: &mut Object, key: &'static str) -> Result<T, E> {
    match o.remove(key) {
        Some(v) => serde_json::from_value(v).map_err(|e| E::custom(format_args!("field `{key}`: {e}"))),
        None => Err(E::missing_field(key)),
    }
}

/// An optional field (absent or null is `None`).
fn optional<T: DeserializeOwned, E: serde::de::Error>(o: &mut Object, key: &'static str) -> Result<Option<T>, E> {
    match o.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v).map(Some).map_err(|e| E::custom(format_args!("field `{key}`: {e}"))),
    }
}

fn tag<E: serde::de::Error>(o: &mut Object, key: &'static str) -> Result<String, E> {
    match o.remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(E::custom(format_args!("field `{key}` must be a string"))),
        None => Err(E::missing_field(key)),
    }
}

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut o = Object::deserialize(d)?;
        let kind = tag::<D::Error>(&mut o, "type")?;
        Ok(match kind.as_str() {
            "welcome" => ServerMessage::Welcome {
                protocol: field(&mut o, "protocol")?,
                peer_id: field(&mut o, "peer_id")?,
                resumed: field(&mut o, "resumed")?,
                self_info: field(&mut o, "self")?,
                meeting: field(&mut o, "meeting")?,
            },
            "resume_refused" => ServerMessage::ResumeRefused { refusal: ResumeRefusal::from_object(o)? },
            "reply" => {
                ServerMessage::Reply { req: field(&mut o, "req")?, data: optional(&mut o, "data")?.unwrap_or_default() }
            }
            "error" => ServerMessage::Error { req: optional(&mut o, "req")?, error: field(&mut o, "error")? },
            "event" => ServerMessage::Event { seq: field(&mut o, "seq")?, event: SessionEvent::from_object(o)? },
            "pong" => ServerMessage::Pong,
            other => {
                const KNOWN: &[&str] = &["welcome", "resume_refused", "reply", "error", "event", "pong"];
                return Err(D::Error::unknown_variant(other, KNOWN));
            }
        })
    }
}

impl SessionEvent {
    fn from_object<E: serde::de::Error>(mut o: Object) -> Result<Self, E> {
        let kind = tag::<E>(&mut o, "event")?;
        let o = &mut o;
        Ok(match kind.as_str() {
            "joined" => SessionEvent::Joined { room: field(o, "room")? },
            "waitlisted" => SessionEvent::Waitlisted,
            "rejected" => SessionEvent::Rejected { by: field(o, "by")? },
            "kicked" => SessionEvent::Kicked { by: field(o, "by")? },
            "session_ended" => SessionEvent::SessionEnded { end: field(o, "end")? },
            "peer_joined" => SessionEvent::PeerJoined { peer: field(o, "peer")? },
            "peer_left" => SessionEvent::PeerLeft { peer_id: field(o, "peer_id")? },
            "peer_kicked" => SessionEvent::PeerKicked { peer_id: field(o, "peer_id")?, by: field(o, "by")? },
            "waitlist_added" => SessionEvent::WaitlistAdded { peer: field(o, "peer")? },
            "waitlist_removed" => {
                SessionEvent::WaitlistRemoved { peer_id: field(o, "peer_id")?, outcome: field(o, "outcome")? }
            }
            "permissions_updated" => {
                SessionEvent::PermissionsUpdated { patch: field(o, "patch")?, by: field(o, "by")? }
            }
            "recording_updated" => SessionEvent::RecordingUpdated { state: field(o, "state")?, id: optional(o, "id")? },
            "peer_updated" => SessionEvent::PeerUpdated { peer: field(o, "peer")?, by: field(o, "by")? },
            other => {
                return Err(E::unknown_variant(other, &super::SESSION_EVENT_KINDS));
            }
        })
    }
}

impl<'de> Deserialize<'de> for SessionEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SessionEvent::from_object(Object::deserialize(d)?)
    }
}

impl ResumeRefusal {
    fn from_object<E: serde::de::Error>(mut o: Object) -> Result<Self, E> {
        let reason = tag::<E>(&mut o, "reason")?;
        Ok(match reason.as_str() {
            "session_ended" => ResumeRefusal::SessionEnded { end: field(&mut o, "end")? },
            "kicked" => ResumeRefusal::Kicked { by: field(&mut o, "by")? },
            "rejected" => ResumeRefusal::Rejected { by: field(&mut o, "by")? },
            "expired" => ResumeRefusal::Expired,
            other => return Err(E::unknown_variant(other, &["session_ended", "kicked", "rejected", "expired"])),
        })
    }
}

impl<'de> Deserialize<'de> for ResumeRefusal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ResumeRefusal::from_object(Object::deserialize(d)?)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut o = Object::deserialize(d)?;
        let kind = tag::<D::Error>(&mut o, "kind")?;
        Ok(match kind.as_str() {
            "peer" => Actor::Peer { peer_id: field(&mut o, "peer_id")? },
            "api" => Actor::Api,
            "system" => Actor::System,
            other => return Err(D::Error::unknown_variant(other, &["peer", "api", "system"])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode_server, encode_server, ReplyData};
    use super::*;

    #[test]
    fn unknown_fields_are_ignored_and_bad_tags_and_fields_refused() {
        let m = decode_server(r#"{"type":"reply","req":3,"future":true}"#).unwrap();
        assert_eq!(m, ServerMessage::Reply { req: 3, data: ReplyData::default() });
        for bad in [
            r#"{"type":"nope"}"#,
            r#"{"req":3}"#,
            r#"{"type":3}"#,
            r#"{"type":"reply"}"#,
            r#"{"type":"reply","req":"x"}"#,
            r#"{"type":"event","seq":1,"event":"nope"}"#,
            r#"{"type":"event","seq":1,"event":"kicked","by":{"kind":"alien"}}"#,
            r#"{"type":"resume_refused","reason":"bored"}"#,
            r#"[]"#,
        ] {
            assert!(decode_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_variant_round_trips() {
        let actor = Actor::Peer { peer_id: "p".into() };
        let events = [
            SessionEvent::Waitlisted,
            SessionEvent::Rejected { by: Actor::Api },
            SessionEvent::Kicked { by: Actor::System },
            SessionEvent::PeerLeft { peer_id: "x".into() },
            SessionEvent::PeerKicked { peer_id: "x".into(), by: actor.clone() },
            SessionEvent::PeerUpdated {
                peer: crate::proto::Peer {
                    id: "x".into(),
                    user_id: "u".into(),
                    name: "X".into(),
                    picture: None,
                    custom_participant_id: "c".into(),
                    preset_name: "p".into(),
                    hidden: false,
                    pinned: true,
                },
                by: actor.clone(),
            },
            SessionEvent::RecordingUpdated { state: crate::state::RecordingState::Paused, id: Some("r".into()) },
            SessionEvent::PermissionsUpdated {
                patch: crate::permissions::PermissionsPatch { kick_participant: Some(true), ..Default::default() },
                by: actor,
            },
        ];
        for (i, event) in events.into_iter().enumerate() {
            let msg = ServerMessage::Event { seq: i as u64 + 1, event };
            assert_eq!(decode_server(&encode_server(&msg)).unwrap(), msg);
            let wire: serde_json::Value = serde_json::from_str(&encode_server(&msg)).unwrap();
            assert_eq!(wire["event"], msg.kind(), "kind() names the event as the wire does");
        }
        for refusal in [ResumeRefusal::Expired, ResumeRefusal::Kicked { by: Actor::Api }] {
            let msg = ServerMessage::ResumeRefused { refusal };
            assert_eq!(decode_server(&encode_server(&msg)).unwrap(), msg);
        }
        assert_eq!(decode_server(&encode_server(&ServerMessage::Pong)).unwrap(), ServerMessage::Pong);
        for msg in [ServerMessage::Pong, ServerMessage::ResumeRefused { refusal: ResumeRefusal::Expired }] {
            let wire: serde_json::Value = serde_json::from_str(&encode_server(&msg)).unwrap();
            assert_eq!(wire["type"], msg.kind());
        }
        for msg in [
            crate::proto::ClientMessage::KickAll { req: 1 },
            crate::proto::ClientMessage::Ping {},
            crate::proto::ClientMessage::Pin { req: 3, peer_id: "x".into(), pinned: false },
            crate::proto::ClientMessage::UpdatePermissions { req: 2, peer_ids: vec![], patch: Default::default() },
        ] {
            let wire: serde_json::Value = serde_json::from_str(&crate::proto::encode_client(&msg)).unwrap();
            assert_eq!(wire["type"], msg.kind());
        }
    }
}
