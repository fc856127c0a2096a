//! REST contract tests: every endpoint end to end against SQLite, the error envelope, and the
//! seed's curl commands run with the real `curl` binary. Scope and isolation tests are in
//! `rest_scopes.rs`.

use crate::support;

use convene_core::proto::{ServerMessage, SessionEvent};
use serde_json::{json, Value};
use support::{RawClient, TestServer};

/// Asserts a success envelope with this status and returns `data`.
pub(crate) fn data(status: u16, v: &Value, expected: u16) -> Value {
    assert_eq!(status, expected, "{v}");
    assert_eq!(v["success"], json!(true), "{v}");
    assert!(v.get("data").is_some(), "no data: {v}");
    v["data"].clone()
}

/// Asserts a list envelope (200) and returns its items and `(start_offset, end_offset, total_count)`.
fn items(status: u16, v: &Value) -> (Vec<Value>, (u64, u64, u64)) {
    let list = data(status, v, 200).as_array().unwrap_or_else(|| panic!("data is not a list: {v}")).clone();
    let p = &v["paging"];
    let paging = (p["start_offset"].as_u64(), p["end_offset"].as_u64(), p["total_count"].as_u64());
    let (Some(s), Some(e), Some(t)) = paging else { panic!("bad paging: {v}") };
    (list, (s, e, t))
}

/// Asserts the error envelope, exactly `{"success":false,"error":{"code","message"}}`.
pub(crate) fn err(status: u16, v: &Value, expected: u16) {
    assert_eq!(status, expected, "{v}");
    let top: Vec<&String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().collect();
    assert_eq!(top, ["error", "success"], "{v}");
    assert_eq!(v["success"], json!(false), "{v}");
    let inner: Vec<&String> = v["error"].as_object().expect("error object").keys().collect();
    assert_eq!(inner, ["code", "message"], "{v}");
    assert_eq!(v["error"]["code"], json!(expected), "{v}");
    assert!(!v["error"]["message"].as_str().expect("message is a string").trim().is_empty(), "{v}");
}

fn names(list: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = list.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    n.sort();
    n
}

/// A request with full control: optional bearer token, content type and raw body.
async fn raw(s: &TestServer, method: &str, path: &str, token: Option<&str>, body: Option<&[u8]>) -> (u16, Value) {
    let url = if path.starts_with("/client") || path.starts_with("/.well-known") || path.starts_with("/v1") {
        format!("{}{path}", s.url())
    } else {
        format!("{}{path}", s.kit())
    };
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_vec());
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn apps_and_presets_end_to_end() {
    let s = TestServer::start().await;
    let apps_path = format!("/client/v4/accounts/{}/realtime/kit/apps", s.account);
    let (st, v) = s.api("GET", &apps_path, None).await;
    let (apps, paging) = items(st, &v);
    assert_eq!((apps.len(), paging), (1, (1, 1, 1)));
    assert_eq!(apps[0]["id"], json!(s.app));

    let (st, v) = s.api("POST", &apps_path, Some(json!({"name": "Second app"}))).await;
    let app = data(st, &v, 200)["app"].clone();
    assert_eq!(app["name"], "Second app");
    let app_id = app["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&app_id).is_ok(), "{app_id}");
    let (st, v) = s.api("GET", &format!("{apps_path}/{app_id}"), None).await;
    assert_eq!(data(st, &v, 200), app, "one app, as it was created");
    let (st, v) = s.api("GET", &format!("{apps_path}/{}", uuid::Uuid::new_v4()), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("POST", &apps_path, Some(json!({"name": "  "}))).await;
    err(st, &v, 400);
    let (st, v) = s.api("GET", &apps_path, None).await;
    let (apps, paging) = items(st, &v);
    assert_eq!(paging, (1, 2, 2));
    assert!(apps.iter().any(|a| a["id"] == json!(app_id)));
    let new_presets = format!("/client/v4/accounts/{}/realtime/kit/{app_id}/presets", s.account);
    let (st, v) = s.api("GET", &new_presets, None).await;
    let (list, paging) = items(st, &v);
    assert_eq!(names(&list), ["group_call_host", "group_call_participant", "webinar_presenter", "webinar_viewer"]);
    assert_eq!(paging, (1, 4, 4));

    // Presets of the default app.
    let perms = json!({"kick_participant": true, "can_record": true});
    let body = json!({"name": "moderator", "permissions": perms, "ui": {"theme": "dark"}});
    let (st, v) = s.api("POST", "/presets", Some(body.clone())).await;
    let preset = data(st, &v, 201);
    let id = preset["id"].as_str().unwrap().to_owned();
    assert_eq!(preset["name"], "moderator");
    assert_eq!(preset["ui"], json!({"theme": "dark"}));
    let perms = &preset["permissions"];
    assert_eq!((perms["kick_participant"].clone(), perms["can_record"].clone()), (json!(true), json!(true)));
    assert_eq!(perms["pin_participant"], json!(false), "missing permissions take the restrictive default");
    let (st, v) = s.api("POST", "/presets", Some(body)).await;
    err(st, &v, 409);
    let (st, v) = s.api("GET", "/presets?per_page=2&page_no=3", None).await;
    let (list, paging) = items(st, &v);
    assert_eq!((names(&list), paging), (vec!["moderator".to_owned()], (5, 5, 5)));
    let (st, v) = s.api("GET", &format!("/presets/{id}"), None).await;
    assert_eq!(data(st, &v, 200), preset);

    // PATCH of permissions merges into the current set.
    let (st, v) =
        s.api("PATCH", &format!("/presets/{id}"), Some(json!({"permissions": {"pin_participant": true}}))).await;
    let patched = data(st, &v, 200);
    let perms = &patched["permissions"];
    assert_eq!(perms["pin_participant"], json!(true));
    assert_eq!((perms["kick_participant"].clone(), perms["can_record"].clone()), (json!(true), json!(true)));
    assert_eq!(patched["name"], "moderator");
    let (st, v) = s.api("PATCH", &format!("/presets/{id}"), Some(json!({"name": "group_call_host"}))).await;
    err(st, &v, 409);
    let (st, v) = s.api("PATCH", &format!("/presets/{id}"), Some(json!({"permissions": {"can_record": "yes"}}))).await;
    err(st, &v, 400);
    let (st, v) = s.api("GET", &format!("/presets/{id}"), None).await;
    let now = data(st, &v, 200);
    assert_eq!((now["name"].clone(), now["permissions"].clone()), (json!("moderator"), patched["permissions"].clone()));
    let (st, v) = s
        .api("PATCH", &format!("/presets/{id}"), Some(json!({"name": "mod", "config": {"view_type": "GROUP_CALL"}})))
        .await;
    let renamed = data(st, &v, 200);
    assert_eq!(
        (renamed["name"].clone(), renamed["config"].clone()),
        (json!("mod"), json!({"view_type": "GROUP_CALL"}))
    );

    let (st, v) = s.api("DELETE", &format!("/presets/{id}"), None).await;
    assert_eq!(data(st, &v, 200)["id"], json!(id));
    let (st, v) = s.api("GET", &format!("/presets/{id}"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("DELETE", &format!("/presets/{id}"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("GET", "/presets", None).await;
    assert_eq!(items(st, &v).1, (1, 4, 4));
}

#[tokio::test]
async fn meetings_end_to_end() {
    let s = TestServer::start().await;
    let (st, v) = s.api("POST", "/meetings", Some(json!({"title": "Standup"}))).await;
    let standup = data(st, &v, 201);
    assert_eq!(standup["status"], "ACTIVE");
    assert_eq!(standup["session_keep_alive_time_in_secs"], 60, "the default keep-alive");
    assert_eq!(standup["record_on_start"], false);
    let id = standup["id"].as_str().unwrap().to_owned();
    let body =
        json!({"title": "Retro", "status": "INACTIVE", "session_keep_alive_time_in_secs": 0, "persist_chat": true});
    let (st, v) = s.api("POST", "/meetings", Some(body)).await;
    let retro = data(st, &v, 201);
    assert_eq!(
        (retro["status"].clone(), retro["session_keep_alive_time_in_secs"].clone()),
        (json!("INACTIVE"), json!(0))
    );
    assert_eq!(retro["persist_chat"], true);
    let body = json!({"title": "Planning 100%", "session_keep_alive_time_in_secs": 600});
    let (st, v) = s.api("POST", "/meetings", Some(body)).await;
    assert_eq!(data(st, &v, 201)["session_keep_alive_time_in_secs"], 600);
    let (st, v) = s.api("POST", "/meetings", Some(json!({"title": "x", "session_keep_alive_time_in_secs": 601}))).await;
    err(st, &v, 400);

    let (st, v) = s.api("GET", "/meetings", None).await;
    let (all, paging) = items(st, &v);
    assert_eq!((all.len(), paging), (3, (1, 3, 3)), "the refused meeting was not created");
    let (st, v) = s.api("GET", "/meetings?per_page=2", None).await;
    let (page, paging) = items(st, &v);
    assert_eq!((page.len(), paging), (2, (1, 2, 3)));
    let (st, v) = s.api("GET", "/meetings?per_page=2&page_no=2", None).await;
    let (page, paging) = items(st, &v);
    assert_eq!((page.len(), paging), (1, (3, 3, 3)));
    let (st, v) = s.api("GET", "/meetings?per_page=2&page_no=3", None).await;
    assert_eq!(items(st, &v), (vec![], (0, 0, 3)));
    let (st, v) = s.api("GET", "/meetings?search=tro", None).await;
    let (found, paging) = items(st, &v);
    assert_eq!((found, paging), (vec![retro.clone()], (1, 1, 1)));
    let (st, v) = s.api("GET", "/meetings?search=nothing-like-this", None).await;
    assert_eq!(items(st, &v), (vec![], (0, 0, 0)));
    // `search` is a substring, not a pattern: `%` and `_` match only themselves.
    let (st, v) = s.api("GET", "/meetings?search=%25", None).await;
    let (found, _) = items(st, &v);
    assert_eq!(found.iter().map(|m| m["title"].clone()).collect::<Vec<_>>(), [json!("Planning 100%")]);
    let (st, v) = s.api("GET", "/meetings?search=_", None).await;
    assert_eq!(items(st, &v), (vec![], (0, 0, 0)));

    let (st, v) = s.api("GET", &format!("/meetings/{id}"), None).await;
    assert_eq!(data(st, &v, 200), standup);
    let (st, v) = s.api("PATCH", &format!("/meetings/{id}"), Some(json!({"status": "INACTIVE"}))).await;
    let m = data(st, &v, 200);
    assert_eq!((m["status"].clone(), m["title"].clone()), (json!("INACTIVE"), json!("Standup")));
    let body = json!({"status": "ACTIVE", "session_keep_alive_time_in_secs": 600, "title": "Daily"});
    let (st, v) = s.api("PATCH", &format!("/meetings/{id}"), Some(body)).await;
    let m = data(st, &v, 200);
    assert_eq!((m["status"].clone(), m["session_keep_alive_time_in_secs"].clone()), (json!("ACTIVE"), json!(600)));
    for bad in [json!({"session_keep_alive_time_in_secs": 601, "title": "Changed"}), json!({"status": "PAUSED"})] {
        let (st, v) = s.api("PATCH", &format!("/meetings/{id}"), Some(bad)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &format!("/meetings/{id}"), None).await;
    assert_eq!(data(st, &v, 200), m, "refused PATCHes changed nothing");
    let (st, v) = s.api("GET", &format!("/meetings/{}", uuid::Uuid::new_v4()), None).await;
    err(st, &v, 404);
}

#[tokio::test]
async fn participants_end_to_end() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"title": "People"})).await;
    let path = format!("/meetings/{m}/participants");
    let picture = "https://example.com/a.png";
    let host = "group_call_host";
    let body = json!({"custom_participant_id": "alice", "preset_name": host, "name": "Alice", "picture": picture});
    let (st, v) = s.api("POST", &path, Some(body)).await;
    let alice = data(st, &v, 201);
    let id = alice["id"].as_str().unwrap().to_owned();
    let token = alice["token"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok() && token.split('.').count() == 3, "{alice}");
    assert_eq!(
        (alice["preset_name"].clone(), alice["custom_participant_id"].clone()),
        (json!("group_call_host"), json!("alice"))
    );
    let (st, v) =
        s.api("POST", &path, Some(json!({"custom_participant_id": "bob", "preset_name": "no_such_preset"}))).await;
    err(st, &v, 400);
    s.preset("moderator", json!({"kick_participant": true})).await;
    let (st, v) =
        s.api("POST", &path, Some(json!({"custom_participant_id": "carol", "preset_name": "moderator"}))).await;
    let carol = data(st, &v, 201);

    let (st, v) = s.api("GET", &path, None).await;
    let (list, paging) = items(st, &v);
    assert_eq!(paging, (1, 2, 2), "the refused participant was not added");
    assert!(list.iter().all(|p| p.get("token").is_none()), "tokens are only in add and refresh answers: {v}");
    let (st, v) = s.api("GET", &format!("{path}?per_page=1&page_no=1"), None).await;
    let (first, paging) = items(st, &v);
    assert_eq!(paging, (1, 1, 2));
    let (st, v) = s.api("GET", &format!("{path}?per_page=1&page_no=2"), None).await;
    let (second, paging) = items(st, &v);
    assert_eq!(paging, (2, 2, 2));
    let mut ids = vec![first[0]["id"].clone(), second[0]["id"].clone()];
    ids.sort_by_key(|v| v.to_string());
    let mut want = vec![json!(id), carol["id"].clone()];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(ids, want, "the two pages hold both participants");
    let (st, v) = s.api("GET", &format!("{path}/{id}"), None).await;
    let got = data(st, &v, 200);
    assert_eq!((got["name"].clone(), got["picture"].clone()), (json!("Alice"), json!("https://example.com/a.png")));

    let body = json!({"name": "Alicia", "picture": "https://example.com/b.png", "preset_name": "webinar_viewer"});
    let (st, v) = s.api("PATCH", &format!("{path}/{id}"), Some(body)).await;
    let mut patched = data(st, &v, 200);
    let edit_token = patched.as_object_mut().unwrap().remove("token").expect("an edit answers a new token");
    assert!(edit_token.as_str().is_some_and(|t| t.split('.').count() == 3 && t != token), "{edit_token}");
    assert_eq!(
        (patched["name"].clone(), patched["picture"].clone(), patched["preset_name"].clone()),
        (json!("Alicia"), json!("https://example.com/b.png"), json!("webinar_viewer"))
    );
    let (st, v) =
        s.api("PATCH", &format!("{path}/{id}"), Some(json!({"preset_name": "no_such_preset", "name": "X"}))).await;
    err(st, &v, 400);
    let (st, v) = s.api("GET", &format!("{path}/{id}"), None).await;
    assert_eq!(data(st, &v, 200), patched, "the refused PATCH changed nothing");

    let (st, v) = s.api("POST", &format!("{path}/{id}/token"), None).await;
    let fresh = data(st, &v, 200)["token"].as_str().unwrap().to_owned();
    assert!(fresh.split('.').count() == 3 && fresh != token, "a new, different token");
    let (st, v) = s.api_as(&fresh, "GET", "/v1/participant/me", None).await;
    assert_eq!(data(st, &v, 200)["participant"]["id"], json!(id));

    let (st, v) = s.api("GET", "/presets?per_page=100", None).await;
    let (presets, _) = items(st, &v);
    let viewer = presets.iter().find(|p| p["name"] == "webinar_viewer").expect("the viewer preset")["id"].clone();
    let (st, v) = s.api("DELETE", &format!("{path}/{id}"), None).await;
    let deleted = data(st, &v, 200);
    assert_eq!((&deleted["id"], &deleted["preset_id"]), (&json!(id), &viewer), "the participant and its preset's id");
    let (st, v) = s.api("GET", &format!("{path}/{id}"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("DELETE", &format!("{path}/{id}"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("POST", &format!("{path}/{id}/token"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api_as(&token, "GET", "/v1/participant/me", None).await;
    err(st, &v, 401);
    let (st, v) = s.api("GET", &path, None).await;
    assert_eq!(items(st, &v).1, (1, 1, 1));
}

#[tokio::test]
async fn active_session_sessions_and_recordings() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"title": "Live"})).await;
    let (st, v) = s.api("GET", &format!("/meetings/{m}/active-session"), None).await;
    err(st, &v, 404);
    assert!(v["error"]["message"].as_str().unwrap().contains("No active session"), "{v}");
    let (st, v) = s.api("POST", &format!("/meetings/{m}/active-session/kick-all"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("POST", "/recordings", Some(json!({"meeting_id": m}))).await;
    err(st, &v, 409);
    let (st, v) = s.api("GET", "/recordings", None).await;
    assert_eq!(items(st, &v), (vec![], (0, 0, 0)));
    let (st, v) = s.api("GET", "/sessions", None).await;
    assert_eq!(data(st, &v, 200), json!({"sessions": []}));

    let (pid, token) = s.participant(&m, "host", "group_call_host").await;
    let mut client = RawClient::connect(&s.ws_url(), &token).await;
    assert!(matches!(client.join().await, ServerMessage::Reply { .. }));
    let (st, v) = s.api("GET", &format!("/meetings/{m}/active-session"), None).await;
    let live = data(st, &v, 200);
    assert_eq!((live["status"].clone(), live["associated_id"].clone()), (json!("LIVE"), json!(m)));
    let sid = live["id"].as_str().unwrap().to_owned();

    let (st, v) = s.api("GET", &format!("/sessions?associated_id={m}"), None).await;
    let sessions = data(st, &v, 200)["sessions"].clone();
    assert_eq!((sessions[0]["id"].clone(), sessions.as_array().unwrap().len()), (json!(sid), 1));
    assert_eq!(v["paging"]["total_count"], 1);
    let (st, v) = s.api("GET", "/sessions?status=LIVE", None).await;
    assert_eq!(data(st, &v, 200)["sessions"][0]["id"], json!(sid));
    let (st, v) = s.api("GET", &format!("/sessions?associated_id={m}&status=ENDED"), None).await;
    assert_eq!(data(st, &v, 200), json!({"sessions": []}));
    let (st, v) = s.api("GET", &format!("/sessions?associated_id={}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(data(st, &v, 200), json!({"sessions": []}));
    for bad in ["/sessions?status=live", "/sessions?status=BOGUS", "/sessions?associated_id=not-an-id"] {
        let (st, v) = s.api("GET", bad, None).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &format!("/sessions/{sid}"), None).await;
    assert_eq!(data(st, &v, 200)["id"], json!(sid));
    let (st, v) = s.api("GET", &format!("/sessions/{sid}/participants"), None).await;
    let peers = data(st, &v, 200)["participants"].clone();
    assert_eq!((peers[0]["user_id"].clone(), v["paging"]["total_count"].clone()), (json!(pid), json!(1)));
    let peer_id = peers[0]["id"].as_str().unwrap().to_owned();
    let (st, v) = s.api("GET", &format!("/sessions/{sid}/participants/{peer_id}"), None).await;
    let stay = data(st, &v, 200)["participant"].clone();
    assert_eq!(
        (&stay["id"], &stay["user_id"], &stay["joined_at"]),
        (&peers[0]["id"], &json!(pid), &peers[0]["joined_at"])
    );
    let (st, v) = s.api("GET", &format!("/sessions/{sid}/participants/{}", uuid::Uuid::new_v4()), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("GET", &format!("/sessions/peer-report/{peer_id}?filters=events"), None).await;
    let report = data(st, &v, 200)["participant"].clone();
    assert_eq!((report["user_id"].clone(), report["session_id"].clone()), (json!(pid), json!(sid)));
    let (st, v) = s.api("GET", &format!("/sessions/peer-report/{peer_id}?filters=bogus"), None).await;
    err(st, &v, 400);

    let (st, v) = s.api("GET", &format!("/recordings/active-recording/{m}"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("POST", "/recordings", Some(json!({"meeting_id": m}))).await;
    let rec = data(st, &v, 200);
    let (st, v) = s.api("GET", &format!("/recordings/active-recording/{m}"), None).await;
    assert_eq!(data(st, &v, 200)["id"], rec["id"], "the recording under way");
    assert_eq!((rec["meeting_id"].clone(), rec["session_id"].clone()), (json!(m), json!(sid)));
    let (st, v) = s.api("POST", "/recordings", Some(json!({"meeting_id": m}))).await;
    err(st, &v, 409);
    let (st, v) = s.api("GET", &format!("/recordings?meeting_id={m}"), None).await;
    let (recs, paging) = items(st, &v);
    assert_eq!((recs[0]["id"].clone(), paging), (rec["id"].clone(), (1, 1, 1)));
    let (st, v) = s.api("GET", &format!("/recordings/{}", rec["id"].as_str().unwrap()), None).await;
    assert_eq!(data(st, &v, 200)["id"], rec["id"]);
    client.drop_connection().await;
}

#[tokio::test]
async fn webhooks_end_to_end() {
    let s = TestServer::start().await;
    let body = json!({"name": "Ended", "url": "http://127.0.0.1:9/hook", "events": ["meeting.ended"]});
    let (st, v) = s.api("POST", "/webhooks", Some(body)).await;
    let hook = data(st, &v, 201);
    assert_eq!((hook["enabled"].clone(), hook["events"].clone()), (json!(true), json!(["meeting.ended"])));
    let id = hook["id"].as_str().unwrap().to_owned();
    for bad in [
        json!({"name": "A", "url": "http://127.0.0.1:9/", "events": ["meeting.exploded"]}),
        json!({"name": "A", "url": "ftp://127.0.0.1/hook", "events": ["meeting.ended"]}),
        json!({"name": "A", "url": "not a url", "events": ["meeting.ended"]}),
        json!({"name": "A", "url": "http://127.0.0.1:9/", "events": []}),
        json!({"name": "A", "url": "http://127.0.0.1:9/"}),
    ] {
        let (st, v) = s.api("POST", "/webhooks", Some(bad)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", "/webhooks", None).await;
    assert_eq!(items(st, &v), (vec![hook.clone()], (1, 1, 1)), "refused webhooks were not created");
    let (st, v) = s.api("GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(data(st, &v, 200), hook);

    let body = json!({"events": ["meeting.started", "meeting.ended"], "enabled": false, "name": "Both"});
    let (st, v) = s.api("PATCH", &format!("/webhooks/{id}"), Some(body)).await;
    let patched = data(st, &v, 200);
    assert_eq!(patched["events"], json!(["meeting.started", "meeting.ended"]));
    assert_eq!(
        (patched["enabled"].clone(), patched["name"].clone(), patched["url"].clone()),
        (json!(false), json!("Both"), hook["url"].clone())
    );
    for bad in [json!({"events": ["nope"]}), json!({"url": "javascript:alert(1)"}), json!({"name": ""})] {
        let (st, v) = s.api("PATCH", &format!("/webhooks/{id}"), Some(bad)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &format!("/webhooks/{id}"), None).await;
    assert_eq!(data(st, &v, 200), patched, "refused PATCHes changed nothing");
    let (st, v) = s.api("DELETE", &format!("/webhooks/{id}"), None).await;
    assert_eq!(data(st, &v, 200)["id"], json!(id));
    let (st, v) = s.api("GET", &format!("/webhooks/{id}"), None).await;
    err(st, &v, 404);
    let (st, v) = s.api("GET", "/webhooks", None).await;
    assert_eq!(items(st, &v), (vec![], (0, 0, 0)));
}

/// Every route of `convene_server::router` under `/client/v4/accounts/...`.
const ROUTES: [&str; 24] = [
    "apps",
    "apps/{app_id}",
    "{app_id}/presets",
    "{app_id}/presets/{preset_id}",
    "{app_id}/meetings",
    "{app_id}/meetings/{meeting_id}",
    "{app_id}/meetings/{meeting_id}/active-session",
    "{app_id}/meetings/{meeting_id}/active-session/kick",
    "{app_id}/meetings/{meeting_id}/active-session/kick-all",
    "{app_id}/meetings/{meeting_id}/participants",
    "{app_id}/meetings/{meeting_id}/participants/{participant_id}",
    "{app_id}/meetings/{meeting_id}/participants/{participant_id}/token",
    "{app_id}/sessions",
    "{app_id}/sessions/{session_id}",
    "{app_id}/sessions/{session_id}/participants",
    "{app_id}/sessions/{session_id}/participants/{participant_id}",
    "{app_id}/sessions/peer-report/{peer_id}",
    "{app_id}/recordings",
    "{app_id}/recordings/active-recording/{meeting_id}",
    "{app_id}/recordings/{recording_id}",
    "{app_id}/recordings/{recording_id}/download",
    "{app_id}/webhooks",
    "{app_id}/webhooks/all",
    "{app_id}/webhooks/{webhook_id}",
];

#[tokio::test]
async fn openapi_document_and_webhook_key() {
    let s = TestServer::start().await;
    let (st, doc) = raw(&s, "GET", "/client/v4/openapi.json", None, None).await;
    assert_eq!(st, 200, "{doc}");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
    let paths = doc["paths"].as_object().expect("paths is an object");
    for route in ROUTES {
        let full = format!("/client/v4/accounts/{{account_id}}/realtime/kit/{route}");
        assert!(paths.contains_key(&full), "openapi.json lacks {full}");
    }
    assert_eq!(paths.len(), ROUTES.len(), "no paths beyond the router's: {:?}", paths.keys());
    let meeting = &paths["/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}"];
    assert!(["get", "patch", "put"].iter().all(|m| meeting.get(m).is_some()), "{meeting}");

    let (st, v) = raw(&s, "GET", "/.well-known/webhooks.json", None, None).await;
    let key = data(st, &v, 200)["publicKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with("-----BEGIN PUBLIC KEY-----"), "{key}");
}

#[tokio::test]
async fn error_envelopes() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"title": "Only"})).await;
    let t = s.token.clone();
    let (st, v) = raw(&s, "GET", "/meetings", None, None).await;
    err(st, &v, 401);
    let (st, v) = raw(&s, "POST", "/meetings", None, Some(br#"{"title":"x"}"#)).await;
    err(st, &v, 401);
    for bad in ["wrong-token", "cvn_AAAA"] {
        let (st, v) = s.api_as(bad, "GET", "/meetings", None).await;
        err(st, &v, 401);
    }
    let (st, v) = raw(&s, "GET", "/client/v4/nothing-here", Some(&t), None).await;
    err(st, &v, 404);
    let (st, v) = raw(&s, "GET", &format!("/meetings/{m}/nothing-here"), Some(&t), None).await;
    err(st, &v, 404);
    let (st, v) = raw(&s, "DELETE", &format!("/meetings/{m}"), Some(&t), None).await;
    err(st, &v, 405);
    let (st, v) = raw(&s, "PUT", &format!("/client/v4/accounts/{}/realtime/kit/apps", s.account), Some(&t), None).await;
    err(st, &v, 405);

    let too_big = format!(r#"{{"title":"{}"}}"#, "a".repeat(70 * 1024));
    let bodies: [(&[u8], u16); 7] = [
        (b"{\"title\": ", 400),
        (b"not json", 400),
        (br#"{"title": 5}"#, 400),
        (br#"{"session_keep_alive_time_in_secs": "sixty"}"#, 400),
        (br#"{"session_keep_alive_time_in_secs": -1}"#, 400),
        (br#"{"title": "x", "colour": "red"}"#, 400),
        (too_big.as_bytes(), 413),
    ];
    for (body, code) in bodies {
        let (st, v) = raw(&s, "POST", "/meetings", Some(&t), Some(body)).await;
        err(st, &v, code);
        let (st, v) = raw(&s, "PATCH", &format!("/meetings/{m}"), Some(&t), Some(body)).await;
        err(st, &v, code);
    }
    let participants = format!("/meetings/{m}/participants");
    let unknown_fields = [
        ("/presets", json!({"name": "x", "colour": 1})),
        (participants.as_str(), json!({"custom_participant_id": "a", "preset_name": "group_call_host", "age": 3})),
        ("/webhooks", json!({"name": "a", "url": "http://127.0.0.1/", "events": ["meeting.ended"], "secret": "x"})),
        ("/recordings", json!({"meeting_id": m, "format": "mp4"})),
    ];
    for (path, body) in unknown_fields {
        let (st, v) = s.api("POST", path, Some(body)).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", "/meetings", None).await;
    assert_eq!(items(st, &v).1, (1, 1, 1), "refused requests created nothing");
    let (st, v) = s.api("GET", &format!("/meetings/{m}"), None).await;
    assert_eq!(data(st, &v, 200)["title"], "Only", "refused requests changed nothing");

    let zero = uuid::Uuid::nil();
    for path in [
        "/meetings/not-an-id".to_owned(),
        format!("/meetings/{m}/participants/not-an-id"),
        "/meetings/not-an-id/participants".to_owned(),
        "/meetings/not-an-id/active-session".to_owned(),
        "/presets/not-an-id".to_owned(),
        "/sessions/not-an-id".to_owned(),
        "/recordings/not-an-id".to_owned(),
        "/webhooks/not-an-id".to_owned(),
        format!("/client/v4/accounts/{}/realtime/kit/not-an-id/meetings", s.account),
        format!("/meetings/{zero}x"),
    ] {
        let (st, v) = s.api("GET", &path, None).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("PATCH", "/meetings/not-an-id", Some(json!({"title": "x"}))).await;
    err(st, &v, 400);

    for list in ["/meetings", "/presets", "/sessions", "/recordings", participants.as_str()] {
        for q in
            ["per_page=0", "per_page=1000", "page_no=0", "per_page=abc", "page_no=-1", "page_no=18446744073709551615"]
        {
            let (st, v) = s.api("GET", &format!("{list}?{q}"), None).await;
            err(st, &v, 400);
        }
    }
}

/// Runs `curl` with these arguments on a blocking thread; returns its stdout as JSON.
async fn curl(args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || std::process::Command::new("curl").args(&args).output())
        .await
        .unwrap()
        .expect("curl runs");
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_curl_commands() {
    let s = TestServer::start().await;
    let m = s.meeting(json!({"title": "Seed"})).await;
    let (_, token) = s.participant(&m, "host", "group_call_host").await;
    let mut client = RawClient::connect(&s.ws_url(), &token).await;
    assert!(matches!(client.join().await, ServerMessage::Reply { .. }));
    let auth = format!("Authorization: Bearer {}", s.token);
    let base =
        format!("http://127.0.0.1:{}/client/v4/accounts/{}/realtime/kit/{}", s.server.addr.port(), s.account, s.app);

    let kick_all = format!("{base}/meetings/{m}/active-session/kick-all");
    let v = curl(strings(&[&kick_all, "--request", "POST", "--header", &auth])).await;
    assert_eq!(v, json!({"success": true, "data": {"action": "kick-all", "kicked_participants_count": 1}}));
    let ended =
        client.until(|msg| matches!(msg, ServerMessage::Event { event: SessionEvent::SessionEnded { .. }, .. })).await;
    assert!(matches!(ended, ServerMessage::Event { event: SessionEvent::SessionEnded { .. }, .. }));
    let (st, v) = s.api("GET", &format!("/sessions?associated_id={m}"), None).await;
    let session = data(st, &v, 200)["sessions"][0].clone();
    assert_eq!(
        (session["status"].clone(), session["end_reason"].clone()),
        (json!("ENDED"), json!("HOST_ENDED_MEETING"))
    );

    let webhooks = format!("{base}/webhooks");
    let body =
        r#"{"name": "Session ended webhook","url": "http://127.0.0.1:9/convene-hook","events": ["meeting.ended"]}"#;
    let v = curl(strings(&[&webhooks, "--request", "POST", "--header", &auth, "--json", body])).await;
    assert_eq!(v["success"], json!(true), "{v}");
    let hook = &v["data"];
    assert_eq!(
        (hook["name"].clone(), hook["url"].clone(), hook["events"].clone()),
        (json!("Session ended webhook"), json!("http://127.0.0.1:9/convene-hook"), json!(["meeting.ended"]))
    );
    let (st, v) = s.api("GET", &format!("/webhooks/{}", hook["id"].as_str().unwrap()), None).await;
    assert_eq!(&data(st, &v, 200), hook);

    let meeting = format!("{base}/meetings/{m}");
    let v = curl(strings(&[&meeting, "--request", "PATCH", "--header", &auth, "--json", r#"{"status": "INACTIVE"}"#]))
        .await;
    assert_eq!((v["success"].clone(), v["data"]["status"].clone()), (json!(true), json!("INACTIVE")), "{v}");
    let (st, v) = s.api("GET", &format!("/meetings/{m}"), None).await;
    assert_eq!(data(st, &v, 200)["status"], "INACTIVE");
    let (_, late) = s.participant(&m, "late", "group_call_host").await;
    let mut late = RawClient::connect(&s.ws_url(), &late).await;
    let refused = late.join().await;
    assert_eq!(support::error_code(&refused), Some(2), "{refused:?}");
}
