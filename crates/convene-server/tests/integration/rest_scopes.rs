//! REST contract tests: API token scopes (`read`, `realtime`, `admin`), app-limited tokens, and
//! isolation between apps and accounts. Refused requests must change nothing.

use crate::support;

use convene_server::auth::{hash_secret, Scope};
use serde_json::{json, Value};
use support::TestServer;

/// Stores an API token with this scope (and app limit) and returns its secret.
async fn token(s: &TestServer, secret: &str, scope: &str, app_id: Option<&str>) -> String {
    let scope = Scope::parse(scope).expect("a scope");
    s.server.store().insert_token(&hash_secret(secret), scope, None, app_id).await.expect("token stored");
    secret.to_owned()
}

/// Asserts the 403 error envelope.
fn forbidden(status: u16, v: &Value) {
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["success"], json!(false), "{v}");
    assert_eq!(v["error"]["code"], json!(403), "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

/// Asserts a success envelope with this status and returns `data`.
fn data(status: u16, v: &Value, expected: u16) -> Value {
    assert_eq!(status, expected, "{v}");
    assert_eq!(v["success"], json!(true), "{v}");
    v["data"].clone()
}

fn apps_path(s: &TestServer) -> String {
    format!("/client/v4/accounts/{}/realtime/kit/apps", s.account)
}

/// Everything the admin can see of the default app, to compare before and after refused requests.
async fn snapshot(s: &TestServer, meeting: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for path in [
        apps_path(s),
        "/presets?per_page=100".to_owned(),
        "/meetings?per_page=100".to_owned(),
        format!("/meetings/{meeting}/participants?per_page=100"),
        "/webhooks".to_owned(),
        "/recordings".to_owned(),
        "/sessions".to_owned(),
    ] {
        let (status, v) = s.api("GET", &path, None).await;
        assert_eq!(status, 200, "{path}: {v}");
        all.push(v);
    }
    all
}

/// A meeting, a participant, a webhook and a preset made by the admin; returns their ids.
async fn fixture(s: &TestServer) -> (String, String, String, String) {
    let meeting = s.meeting(json!({"title": "Scoped"})).await;
    let (participant, _) = s.participant(&meeting, "alice", "group_call_participant").await;
    let body = json!({"name": "W", "url": "http://127.0.0.1:9/h", "events": ["meeting.ended"]});
    let (status, v) = s.api("POST", "/webhooks", Some(body)).await;
    let webhook = data(status, &v, 201)["id"].as_str().unwrap().to_owned();
    let preset = s.preset("moderator", json!({"kick_participant": true})).await;
    (meeting, participant, webhook, preset)
}

#[tokio::test]
async fn read_token_reads_and_cannot_write() {
    let s = TestServer::start().await;
    let (m, p, w, pr) = fixture(&s).await;
    let read = token(&s, "read-secret", "read", None).await;
    let before = snapshot(&s, &m).await;
    for path in [
        apps_path(&s),
        "/presets".to_owned(),
        format!("/presets/{pr}"),
        "/meetings".to_owned(),
        format!("/meetings/{m}"),
        format!("/meetings/{m}/participants"),
        format!("/meetings/{m}/participants/{p}"),
        "/webhooks".to_owned(),
        format!("/webhooks/{w}"),
        "/sessions".to_owned(),
        "/recordings".to_owned(),
    ] {
        let (status, v) = s.api_as(&read, "GET", &path, None).await;
        assert_eq!((status, v["success"].clone()), (200, json!(true)), "GET {path}: {v}");
    }
    let (status, v) = s.api_as(&read, "GET", &format!("/meetings/{m}"), None).await;
    assert_eq!(data(status, &v, 200)["title"], "Scoped");

    let writes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", apps_path(&s), Some(json!({"name": "Nope"}))),
        ("POST", "/presets".into(), Some(json!({"name": "nope"}))),
        ("PATCH", format!("/presets/{pr}"), Some(json!({"name": "nope"}))),
        ("DELETE", format!("/presets/{pr}"), None),
        ("POST", "/meetings".into(), Some(json!({"title": "Nope"}))),
        ("PATCH", format!("/meetings/{m}"), Some(json!({"status": "INACTIVE"}))),
        (
            "POST",
            format!("/meetings/{m}/participants"),
            Some(json!({"custom_participant_id": "x", "preset_name": "group_call_host"})),
        ),
        ("PATCH", format!("/meetings/{m}/participants/{p}"), Some(json!({"name": "Mallory"}))),
        ("DELETE", format!("/meetings/{m}/participants/{p}"), None),
        ("POST", format!("/meetings/{m}/participants/{p}/token"), None),
        ("POST", format!("/meetings/{m}/active-session/kick-all"), None),
        ("POST", format!("/meetings/{m}/active-session/kick"), Some(json!({"participant_ids": [p]}))),
        (
            "POST",
            "/webhooks".into(),
            Some(json!({"name": "N", "url": "http://127.0.0.1:9/", "events": ["meeting.ended"]})),
        ),
        ("PATCH", format!("/webhooks/{w}"), Some(json!({"enabled": false}))),
        ("DELETE", format!("/webhooks/{w}"), None),
        ("POST", "/recordings".into(), Some(json!({"meeting_id": m}))),
    ];
    for (method, path, body) in writes {
        let (status, v) = s.api_as(&read, method, &path, body).await;
        forbidden(status, &v);
    }
    assert_eq!(snapshot(&s, &m).await, before, "refused writes changed nothing");
}

#[tokio::test]
async fn realtime_token_writes_realtime_resources_only() {
    let s = TestServer::start().await;
    let (m, p, w, pr) = fixture(&s).await;
    let rt = token(&s, "realtime-secret", "realtime", None).await;
    let before = snapshot(&s, &m).await;
    let refused: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", apps_path(&s), Some(json!({"name": "Nope"}))),
        ("POST", "/presets".into(), Some(json!({"name": "nope"}))),
        ("PATCH", format!("/presets/{pr}"), Some(json!({"permissions": {"can_record": true}}))),
        ("DELETE", format!("/presets/{pr}"), None),
    ];
    for (method, path, body) in refused {
        let (status, v) = s.api_as(&rt, method, &path, body).await;
        forbidden(status, &v);
    }
    assert_eq!(snapshot(&s, &m).await, before, "refused writes changed nothing");
    let (status, v) = s.api_as(&rt, "GET", &format!("/presets/{pr}"), None).await;
    assert_eq!(data(status, &v, 200)["permissions"]["can_record"], false);
    let (status, v) = s.api_as(&rt, "GET", &apps_path(&s), None).await;
    assert_eq!(data(status, &v, 200).as_array().map(Vec::len), Some(1));

    let (status, v) = s.api_as(&rt, "POST", "/meetings", Some(json!({"title": "By realtime"}))).await;
    let m2 = data(status, &v, 201)["id"].as_str().unwrap().to_owned();
    let (status, v) = s.api_as(&rt, "PATCH", &format!("/meetings/{m2}"), Some(json!({"status": "INACTIVE"}))).await;
    assert_eq!(data(status, &v, 200)["status"], "INACTIVE");
    let body = json!({"custom_participant_id": "bob", "preset_name": "moderator"});
    let (status, v) = s.api_as(&rt, "POST", &format!("/meetings/{m}/participants"), Some(body)).await;
    let bob = data(status, &v, 201);
    assert!(bob["token"].as_str().is_some_and(|t| !t.is_empty()), "{bob}");
    let (status, v) =
        s.api_as(&rt, "PATCH", &format!("/meetings/{m}/participants/{p}"), Some(json!({"name": "Al"}))).await;
    assert_eq!(data(status, &v, 200)["name"], "Al");
    let (status, v) = s.api_as(&rt, "POST", &format!("/meetings/{m}/participants/{p}/token"), None).await;
    assert!(data(status, &v, 200)["token"].is_string());
    let (status, v) = s.api_as(&rt, "DELETE", &format!("/meetings/{m}/participants/{p}"), None).await;
    assert_eq!(data(status, &v, 200)["id"], json!(p));
    let body = json!({"name": "RT", "url": "http://127.0.0.1:9/rt", "events": ["meeting.started"]});
    let (status, v) = s.api_as(&rt, "POST", "/webhooks", Some(body)).await;
    data(status, &v, 201);
    let (status, v) = s.api_as(&rt, "PATCH", &format!("/webhooks/{w}"), Some(json!({"enabled": false}))).await;
    assert_eq!(data(status, &v, 200)["enabled"], false);
    let (status, v) = s.api_as(&rt, "DELETE", &format!("/webhooks/{w}"), None).await;
    data(status, &v, 200);

    // The admin sees every change.
    let (status, v) = s.api("GET", &format!("/meetings/{m}/participants/{p}"), None).await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = s.api("GET", "/webhooks", None).await;
    assert_eq!(
        data(status, &v, 200).as_array().unwrap().iter().map(|h| h["name"].clone()).collect::<Vec<_>>(),
        [json!("RT")]
    );
    let (status, v) = s.api("GET", "/meetings", None).await;
    assert_eq!(data(status, &v, 200).as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn app_limited_tokens_stay_in_their_app() {
    let s = TestServer::start().await;
    let (status, v) = s.api("POST", &apps_path(&s), Some(json!({"name": "Other"}))).await;
    let other = data(status, &v, 200)["app"]["id"].as_str().unwrap().to_owned();
    let other_kit = format!("/client/v4/accounts/{}/realtime/kit/{other}", s.account);
    let m = s.meeting(json!({"title": "Home"})).await;
    let before = snapshot(&s, &m).await;

    for scope in ["realtime", "admin", "read"] {
        let t = token(&s, &format!("limited-{scope}"), scope, Some(&other)).await;
        for (method, path, body) in [
            ("GET", "/meetings".to_owned(), None),
            ("GET", format!("/meetings/{m}"), None),
            ("GET", "/presets".to_owned(), None),
            ("POST", "/meetings".to_owned(), Some(json!({"title": "Intruder"}))),
            ("PATCH", format!("/meetings/{m}"), Some(json!({"title": "Intruder"}))),
            (
                "POST",
                "/webhooks".to_owned(),
                Some(json!({"name": "N", "url": "http://127.0.0.1:9/", "events": ["meeting.ended"]})),
            ),
        ] {
            let (status, v) = s.api_as(&t, method, &path, body).await;
            forbidden(status, &v);
        }
        let (status, v) = s.api_as(&t, "POST", &apps_path(&s), Some(json!({"name": "More"}))).await;
        forbidden(status, &v);
        // Its own app works, and it sees only that app.
        let (status, v) = s.api_as(&t, "GET", &format!("{other_kit}/presets"), None).await;
        assert_eq!(data(status, &v, 200).as_array().map(Vec::len), Some(4));
        let (status, v) = s.api_as(&t, "GET", &apps_path(&s), None).await;
        let apps = data(status, &v, 200);
        assert_eq!(apps.as_array().unwrap().iter().map(|a| a["id"].clone()).collect::<Vec<_>>(), [json!(other)]);
        assert_eq!(v["paging"]["total_count"], 1, "{v}");
    }
    let t = token(&s, "limited-rt-2", "realtime", Some(&other)).await;
    let (status, v) = s.api_as(&t, "POST", &format!("{other_kit}/meetings"), Some(json!({"title": "Theirs"}))).await;
    data(status, &v, 201);
    assert_eq!(snapshot(&s, &m).await, before, "refused requests changed nothing in the default app");
}

#[tokio::test]
async fn apps_and_accounts_are_isolated() {
    let s = TestServer::start().await;
    let (status, v) = s.api("POST", &apps_path(&s), Some(json!({"name": "B"}))).await;
    let b = data(status, &v, 200)["app"]["id"].as_str().unwrap().to_owned();
    let b_kit = format!("/client/v4/accounts/{}/realtime/kit/{b}", s.account);
    let m = s.meeting(json!({"title": "In A"})).await;
    let (p, _) = s.participant(&m, "alice", "group_call_host").await;
    let body = json!({"name": "A hook", "url": "http://127.0.0.1:9/a", "events": ["meeting.ended"]});
    let (status, v) = s.api("POST", "/webhooks", Some(body)).await;
    let w = data(status, &v, 201)["id"].as_str().unwrap().to_owned();
    let (status, v) = s.api("GET", "/presets", None).await;
    let preset = data(status, &v, 200)[0]["id"].as_str().unwrap().to_owned();
    let before = snapshot(&s, &m).await;

    for (method, path, body) in [
        ("GET", format!("{b_kit}/meetings/{m}"), None),
        ("PATCH", format!("{b_kit}/meetings/{m}"), Some(json!({"status": "INACTIVE"}))),
        ("GET", format!("{b_kit}/meetings/{m}/participants"), None),
        ("GET", format!("{b_kit}/meetings/{m}/participants/{p}"), None),
        ("DELETE", format!("{b_kit}/meetings/{m}/participants/{p}"), None),
        ("POST", format!("{b_kit}/meetings/{m}/participants/{p}/token"), None),
        (
            "POST",
            format!("{b_kit}/meetings/{m}/participants"),
            Some(json!({"custom_participant_id": "x", "preset_name": "group_call_host"})),
        ),
        ("GET", format!("{b_kit}/meetings/{m}/active-session"), None),
        ("POST", format!("{b_kit}/meetings/{m}/active-session/kick-all"), None),
        ("POST", format!("{b_kit}/recordings"), Some(json!({"meeting_id": m}))),
        ("GET", format!("{b_kit}/webhooks/{w}"), None),
        ("DELETE", format!("{b_kit}/webhooks/{w}"), None),
        ("GET", format!("{b_kit}/presets/{preset}"), None),
        ("DELETE", format!("{b_kit}/presets/{preset}"), None),
        ("GET", format!("/client/v4/accounts/other-account/realtime/kit/{}/meetings", s.app), None),
        ("GET", format!("/client/v4/accounts/other-account/realtime/kit/{}/meetings/{m}", s.app), None),
        (
            "POST",
            format!("/client/v4/accounts/other-account/realtime/kit/{}/meetings", s.app),
            Some(json!({"title": "x"})),
        ),
    ] {
        let (status, v) = s.api(method, &path, body).await;
        assert_eq!(
            (status, v["success"].clone(), v["error"]["code"].clone()),
            (404, json!(false), json!(404)),
            "{method} {path}: {v}"
        );
    }
    assert_eq!(snapshot(&s, &m).await, before, "requests through another app changed nothing");
    let (status, v) = s.api("GET", &format!("{b_kit}/meetings"), None).await;
    assert_eq!(data(status, &v, 200), json!([]), "B does not list A's meetings");
    let (status, v) = s.api("GET", &format!("{b_kit}/webhooks"), None).await;
    assert_eq!(data(status, &v, 200), json!([]));
    let (status, v) = s.api("GET", "/client/v4/accounts/other-account/realtime/kit/apps", None).await;
    assert_eq!(data(status, &v, 200), json!([]), "another account has no apps");
}
