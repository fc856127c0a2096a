//! `PUT` of meetings, presets and webhooks (a replace: what the body leaves out takes its
//! default again), and `PATCH` of a preset's `config` and `ui` (merged field by field). A
//! refused body changes nothing.

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
