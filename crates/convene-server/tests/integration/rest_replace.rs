//! `PUT` of meetings, participants, presets and webhooks (a replace: what the body leaves out
//! takes its default again), `PATCH` of a preset's `config` and `ui` (merged field by field), and
//! the list of webhook events. A refused body changes nothing.

use serde_json::json;

use crate::rest::{data, err};
use crate::support::TestServer;

#[tokio::test]
async fn put_replaces_a_meeting_whole_and_a_refused_one_changes_nothing() {
    let s = TestServer::start().await;
    let m =
        s.meeting(json!({"title": "Before", "record_on_start": true, "session_keep_alive_time_in_secs": 600})).await;
    let (st, v) = s.api("PUT", &format!("/meetings/{m}"), Some(json!({"title": "After"}))).await;
    let replaced = data(st, &v, 200);
    assert_eq!(replaced["id"], json!(m));
    let fields = (&replaced["title"], &replaced["record_on_start"], &replaced["session_keep_alive_time_in_secs"]);
    assert_eq!(fields, (&json!("After"), &json!(false), &json!(60)), "left out: the defaults again");
    for bad in [json!({"title": "x", "session_keep_alive_time_in_secs": 601}), json!({"title": "x", "colour": "red"})] {
        let (st, v) = s.api("PUT", &format!("/meetings/{m}"), Some(bad)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &format!("/meetings/{m}"), None).await;
    assert_eq!(data(st, &v, 200), replaced, "the refused replaces changed nothing");
    let (st, v) = s.api("PUT", &format!("/meetings/{}", uuid::Uuid::new_v4()), Some(json!({"title": "x"}))).await;
    err(st, &v, 404);
}

#[tokio::test]
async fn put_replaces_a_preset_and_patch_merges_its_config_and_ui() {
    let s = TestServer::start().await;
    let body = json!({
        "name": "stage",
        "permissions": {"kick_participant": true},
        "config": {"view_type": "GROUP_CALL", "max_video_streams": {"desktop": 4, "mobile": 2}},
        "ui": {"design_tokens": {"theme": "dark", "spacing_base": 4}},
    });
    let (st, v) = s.api("POST", "/presets", Some(body)).await;
    let id = data(st, &v, 201)["id"].as_str().unwrap().to_owned();

    let patch = json!({"config": {"view_type": "WEBINAR"}, "ui": {"design_tokens": {"theme": "light"}}});
    let (st, v) = s.api("PATCH", &format!("/presets/{id}"), Some(patch)).await;
    let patched = data(st, &v, 200);
    let config = json!({"view_type": "WEBINAR", "max_video_streams": {"desktop": 4, "mobile": 2}});
    assert_eq!(patched["config"], config, "the fields the patch leaves out stay");
    assert_eq!(patched["ui"], json!({"design_tokens": {"theme": "light", "spacing_base": 4}}));
    assert_eq!(patched["permissions"]["kick_participant"], json!(true));

    for bad in [json!({"permissions": {}}), json!({"name": "x", "config": 3}), json!({"name": "x", "permissions": 1})] {
        let (st, v) = s.api("PUT", &format!("/presets/{id}"), Some(bad)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &format!("/presets/{id}"), None).await;
    assert_eq!(data(st, &v, 200), patched, "the refused replaces changed nothing");

    let (st, v) = s.api("PUT", &format!("/presets/{id}"), Some(json!({"name": "stage two"}))).await;
    let replaced = data(st, &v, 200);
    assert_eq!((&replaced["id"], &replaced["name"]), (&json!(id), &json!("stage two")));
    assert_eq!((&replaced["config"], &replaced["ui"]), (&json!({}), &json!({})), "left out: empty again");
    assert_eq!(replaced["permissions"]["kick_participant"], json!(false), "left out: the restrictive default");
    let (st, v) = s.api("PUT", &format!("/presets/{id}"), Some(json!({"name": "group_call_host"}))).await;
    err(st, &v, 409);
}

#[tokio::test]
async fn put_replaces_a_webhook_and_needs_its_name_url_and_events() {
    let s = TestServer::start().await;
    let body = json!({"name": "A", "url": "http://127.0.0.1:9/a", "events": ["meeting.ended"], "enabled": false});
    let (st, v) = s.api("POST", "/webhooks", Some(body)).await;
    let created = data(st, &v, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    for bad in [
        json!({"name": "B", "events": ["meeting.started"]}),
        json!({"name": "B", "url": "http://127.0.0.1:9/b", "events": []}),
        json!({"name": "B", "url": "ftp://127.0.0.1/b", "events": ["meeting.started"]}),
    ] {
        let (st, v) = s.api("PUT", &format!("/webhooks/{id}"), Some(bad)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(data(st, &v, 200), created, "the refused replaces changed nothing");
    let body = json!({"name": "B", "url": "http://127.0.0.1:9/b", "events": ["meeting.started"]});
    let (st, v) = s.api("PUT", &format!("/webhooks/{id}"), Some(body)).await;
    let replaced = data(st, &v, 200);
    let fields = (&replaced["id"], &replaced["name"], &replaced["url"], &replaced["enabled"]);
    assert_eq!(fields, (&json!(id), &json!("B"), &json!("http://127.0.0.1:9/b"), &json!(true)));
    assert_eq!(replaced["events"], json!(["meeting.started"]));
}

#[tokio::test]
async fn put_replaces_a_participant_and_cannot_change_its_custom_id() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"title": "people"})).await;
    let body = json!({"custom_participant_id": "ada", "preset_name": "group_call_host", "name": "Ada", "picture": "https://example.com/a.png"});
    let (st, v) = s.api("POST", &format!("/meetings/{m}/participants"), Some(body)).await;
    let id = data(st, &v, 201)["id"].as_str().unwrap().to_owned();
    let path = format!("/meetings/{m}/participants/{id}");
    let (st, v) = s.api("PUT", &path, Some(json!({"preset_name": "group_call_participant", "name": "Ada L."}))).await;
    let replaced = data(st, &v, 200);
    assert_eq!((&replaced["preset_name"], &replaced["name"]), (&json!("group_call_participant"), &json!("Ada L.")));
    assert!(replaced.get("picture").is_none(), "left out: cleared ({replaced})");
    assert!(replaced["token"].as_str().is_some_and(|t| !t.is_empty()), "a new token, as a PATCH's");
    for bad in [
        json!({"name": "no preset"}),
        json!({"preset_name": "no_such_preset"}),
        json!({"preset_name": "group_call_host", "custom_participant_id": "someone-else"}),
        json!({"preset_name": "group_call_host", "colour": "red"}),
    ] {
        let (st, v) = s.api("PUT", &path, Some(bad)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &path, None).await;
    let read = data(st, &v, 200);
    assert_eq!(
        (&read["preset_name"], &read["name"], read.get("picture")),
        (&json!("group_call_participant"), &json!("Ada L."), None)
    );
    let same = json!({"preset_name": "group_call_host", "custom_participant_id": "ada"});
    let (st, v) = s.api("PUT", &path, Some(same)).await;
    assert_eq!(data(st, &v, 200)["custom_participant_id"], json!("ada"), "its own custom id may be given");
}

#[tokio::test]
async fn the_webhook_event_list_names_every_subscribable_event() {
    let s = TestServer::start().await;
    let (st, v) = s.api("GET", "/webhooks/all", None).await;
    let events = data(st, &v, 200);
    let names: Vec<&str> = events.as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(names.contains(&"meeting.ended") && names.contains(&"recording.statusUpdate"), "{names:?}");
    for name in &names {
        let hook = json!({"name": "each", "url": "http://127.0.0.1:9/hook", "events": [name]});
        let (st, v) = s.api("POST", "/webhooks", Some(hook)).await;
        data(st, &v, 201);
    }
}
