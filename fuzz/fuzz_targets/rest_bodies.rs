//! Arbitrary bytes as the REST request bodies of `convene-server`, deserialised with serde_json as
//! the handlers' JSON extractor does, then the checks the handlers run on them (the ones that need
//! no store: the store lookups of presets and meetings are not fuzzed here).
//!
//! Invariants: nothing panics; a body the checks accept stays within the documented limits
//! (title at most 500 bytes, keep-alive 0..=600 s, names and texts within their lengths, URLs
//! `http(s)://`, events known); a checked permission set is complete and checks again to itself
//! (before and after a `PATCH` merge into a built-in preset).

#![no_main]

use convene_core::permissions::{Permissions, BUILT_IN_PRESETS};
use convene_server::api::apps::CreateApp;
use convene_server::api::meetings::{KickBody, MeetingBody};
use convene_server::api::participants::{check_text, AddParticipant, EditParticipant};
use convene_server::api::presets::{checked_permissions, merge, object_or_empty, valid_name, PresetBody};
use convene_server::api::recordings::{RecordingActionBody, StartRecording};
use convene_server::api::webhooks::{check_events, check_name, check_url, WebhookBody};
use convene_server::api::{valid_id, PageQuery};
use convene_server::model::{Meeting, SUBSCRIBABLE_EVENTS};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn permissions(v: Value) {
    if let Ok(full) = checked_permissions(v) {
        assert!(full.is_object(), "checked permissions are not an object: {full}");
        let again = checked_permissions(full.clone()).expect("checked permissions check again");
        assert_eq!(again, full, "checking a checked permission set changes it");
        let p: Permissions = serde_json::from_value(full).expect("checked permissions decode");
        let _ = serde_json::to_string(&p).expect("permissions serialise");
    }
}

fn preset(body: PresetBody) {
    if let Some(name) = &body.name {
        if let Ok(n) = valid_name(name) {
            assert!(!n.is_empty() && n.len() <= 100 && n == n.trim(), "valid_name accepted {n:?}");
        }
    }
    // POST: the permissions as given (missing fields take defaults).
    permissions(body.permissions.clone().unwrap_or(Value::Object(Default::default())));
    // PATCH: merged into the current set, here each built-in preset's.
    if let Some(patch) = &body.permissions {
        for name in BUILT_IN_PRESETS {
            let mut merged = serde_json::to_value(Permissions::built_in(name).expect("built-in")).expect("serialise");
            merge(&mut merged, patch.clone());
            permissions(merged);
        }
    }
    for (v, field) in [(body.config, "config"), (body.ui, "ui")] {
        if let Ok(o) = object_or_empty(v, field) {
            assert!(o.is_object());
        }
    }
}

fn meeting(body: MeetingBody) {
    let mut m = Meeting::with_defaults(None);
    if body.apply(&mut m).is_ok() {
        assert!(m.title.as_ref().is_none_or(|t| t.len() <= 500), "title over 500 accepted");
        assert!(m.session_keep_alive_time_in_secs <= 600, "keep-alive over 600 accepted");
        serde_json::to_string(&m).expect("meeting serialises");
    }
}

fn webhook(body: WebhookBody) {
    if let Some(name) = &body.name {
        if check_name(name).is_ok() {
            assert!(!name.trim().is_empty() && name.len() <= 200);
        }
    }
    if let Some(url) = &body.url {
        if check_url(url, convene_server::webhook::TargetPolicy::default()).is_ok() {
            assert!(url.starts_with("http://") || url.starts_with("https://"));
            assert!(url.len() <= 2000);
        }
    }
    if let Some(events) = &body.events {
        if check_events(events).is_ok() {
            assert!(!events.is_empty());
            assert!(events.iter().all(|e| SUBSCRIBABLE_EVENTS.contains(&e.as_str())));
        }
    }
}

fn texts(name: &Option<String>, picture: &Option<String>) {
    if check_text("name", name, 200).is_ok() {
        assert!(name.as_ref().is_none_or(|n| n.len() <= 200));
    }
    if check_text("picture", picture, 2000).is_ok() {
        assert!(picture.as_ref().is_none_or(|p| p.len() <= 2000));
    }
}

fuzz_target!(|data: &[u8]| {
    // Every body type on every input: which ones accept it is part of what the fuzzer explores.
    if let Ok(body) = serde_json::from_slice::<PresetBody>(data) {
        preset(body);
    }
    if let Ok(body) = serde_json::from_slice::<MeetingBody>(data) {
        meeting(body);
    }
    if let Ok(body) = serde_json::from_slice::<WebhookBody>(data) {
        webhook(body);
    }
    if let Ok(body) = serde_json::from_slice::<AddParticipant>(data) {
        texts(&body.name, &body.picture);
        let _ = Permissions::built_in(&body.preset_name);
    }
    if let Ok(body) = serde_json::from_slice::<EditParticipant>(data) {
        texts(&body.name, &body.picture);
    }
    if let Ok(body) = serde_json::from_slice::<StartRecording>(data) {
        if valid_id("meeting_id", &body.meeting_id).is_ok() {
            assert_eq!(body.meeting_id.len(), 36, "valid_id accepted {:?}", body.meeting_id);
        }
    }
    // These have no check outside the handler's own body (emptiness, a match on `action`,
    // trimming the name): decoding them must not panic.
    let _ = serde_json::from_slice::<KickBody>(data);
    let _ = serde_json::from_slice::<RecordingActionBody>(data);
    let _ = serde_json::from_slice::<CreateApp>(data);
    // Paging parameters (a query string in the handlers; the same checks).
    if let Ok(q) = serde_json::from_slice::<PageQuery>(data) {
        let _ = q.page();
    }
    // An arbitrary JSON value as a permission set, as a PATCH merges it.
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        permissions(v);
    }
});
