//! Keeps `docs/protocol.md` true: every example in it decodes as the message it claims to be and
//! re-encodes to the same JSON, and every message and event kind has an example.

use std::collections::BTreeSet;
use std::path::PathBuf;

use convene_core::proto::{decode_client, decode_server, encode_client, encode_server};
use serde_json::Value;

fn examples(kind: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.md");
    let doc = std::fs::read_to_string(&path).expect("docs/protocol.md");
    let fence = format!("```json {kind}\n");
    doc.split(&fence).skip(1).map(|rest| rest.split("\n```").next().expect("closed fence").to_owned()).collect()
}

fn tag(json: &str, key: &str) -> String {
    let v: Value = serde_json::from_str(json).expect("example is JSON");
    v[key].as_str().unwrap_or_default().to_owned()
}

#[test]
fn client_examples_round_trip_and_cover_every_message() {
    let mut kinds = BTreeSet::new();
    for example in examples("client") {
        let msg = decode_client(&example).unwrap_or_else(|e| panic!("{example}: {e}"));
        let again: Value = serde_json::from_str(&encode_client(&msg)).unwrap();
        assert_eq!(again, serde_json::from_str::<Value>(&example).unwrap(), "{example}");
        kinds.insert(tag(&example, "type"));
    }
    let all = [
        "hello",
        "join",
        "leave",
        "kick",
        "kick_all",
        "accept_waiting",
        "reject_waiting",
        "update_permissions",
        "start_recording",
        "stop_recording",
        "ping",
    ];
    for k in all {
        assert!(kinds.contains(k), "docs/protocol.md has no client example of {k}");
    }
}

#[test]
fn server_examples_round_trip_and_cover_every_message_and_event() {
    let mut kinds = BTreeSet::new();
    let mut events = BTreeSet::new();
    for example in examples("server") {
        let msg = decode_server(&example).unwrap_or_else(|e| panic!("{example}: {e}"));
        let again: Value = serde_json::from_str(&encode_server(&msg)).unwrap();
        assert_eq!(again, serde_json::from_str::<Value>(&example).unwrap(), "{example}");
        kinds.insert(tag(&example, "type"));
        events.insert(tag(&example, "event"));
    }
    for k in ["welcome", "resume_refused", "reply", "error", "event", "pong"] {
        assert!(kinds.contains(k), "docs/protocol.md has no server example of {k}");
    }
    // The decoder's own list: a new event kind needs an example here to pass.
    for e in convene_core::proto::SESSION_EVENT_KINDS {
        assert!(events.contains(e), "docs/protocol.md has no example of the {e} event");
    }
}
