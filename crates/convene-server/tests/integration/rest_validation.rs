//! Path and query validation of the REST API: whatever stands where an id, an account or a page
//! number should be, the answer is 400 in the error envelope (JSON, code 400, a message naming the
//! parameter), never a 5xx, never a bare router answer, and nothing changes in the store. Also: the
//! OpenAPI document lists every status code the server sends and the parameters where they are.
//! `scripts/schemathesis.sh` checks the same against the document with generated requests.

use crate::support;

use serde_json::{json, Value};
use support::TestServer;

/// The answer of a request: status, `Content-Type`, body (JSON, or the text as a JSON string).
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

/// A request with the admin token. `path` is absolute (`/client/...`) or relative to the kit of
/// the ready app; it is sent as written (percent-escapes included).
async fn send(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> Answer {
    let url = if path.starts_with("/client") { format!("{}{path}", s.url()) } else { format!("{}{path}", s.kit()) };
    let mut req = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("authorization", format!("Bearer {}", s.token));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, content_type, body }
}

/// Asserts the error envelope with this status (and code), as JSON; returns the message.
fn refused(a: &Answer, expected: u16, what: &str) -> String {
    assert_eq!(a.status, expected, "{what}: {}", a.body);
    assert_eq!(a.content_type, "application/json", "{what}: {}", a.body);
    let top: Vec<&String> =
        a.body.as_object().unwrap_or_else(|| panic!("{what}: not an object: {}", a.body)).keys().collect();
    assert_eq!(top, ["error", "success"], "{what}: {}", a.body);
    assert_eq!(a.body["success"], json!(false), "{what}: {}", a.body);
    assert_eq!(a.body["error"]["code"], json!(expected), "{what}: {}", a.body);
    let message = a.body["error"]["message"].as_str().unwrap_or_else(|| panic!("{what}: no message: {}", a.body));
    assert!(!message.trim().is_empty(), "{what}: {}", a.body);
    message.to_owned()
}

/// What the store holds, as the API shows it: every list of the ready app, and the seeded items.
async fn snapshot(s: &TestServer, meeting: &str) -> Vec<Value> {
    let mut state = Vec::new();
    for path in [
        format!("/client/v4/accounts/{}/realtime/kit/apps", s.account),
        "/presets?per_page=100".to_owned(),
        "/meetings?per_page=100".to_owned(),
        format!("/meetings/{meeting}"),
        format!("/meetings/{meeting}/participants?per_page=100"),
        "/sessions?per_page=100".to_owned(),
        "/recordings?per_page=100".to_owned(),
        "/webhooks?per_page=100".to_owned(),
    ] {
        let a = send(s, "GET", &path, None).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        state.push(a.body);
    }
    state
}

/// Things that are not ids, as they would appear in a URL path (already percent-encoded).
fn not_ids(real: &str) -> Vec<(String, &'static str)> {
    vec![
        ("not-an-id".to_owned(), "a word"),
        (real.to_uppercase(), "an uppercase UUID"),
        (format!("{{{real}}}").replace('{', "%7B").replace('}', "%7D"), "a UUID in braces"),
        (real.replace('-', ""), "a UUID without hyphens"),
        (format!("{real}0"), "a UUID and one more character"),
        (real[..35].to_owned(), "a UUID one character short"),
        (format!("urn:uuid:{real}"), "a UUID URN"),
        ("0".repeat(4096), "4 KiB of digits"),
        ("%00".to_owned(), "a NUL byte"),
        ("%FF%FE".to_owned(), "bytes that are not UTF-8"),
        ("a%2Fb".to_owned(), "an encoded slash"),
        ("%C3%A9".to_owned(), "a non-ASCII letter"),
        ("1".to_owned(), "a number"),
        ("-1".to_owned(), "a negative number"),
        ("%20".to_owned(), "a space"),
    ]
}

#[tokio::test]
async fn malformed_ids_are_refused_with_400_on_every_endpoint_and_change_nothing() {
    let s = TestServer::start().await;
    let meeting = s.meeting(json!({"title": "Kept"})).await;
    let (participant, _) = s.participant(&meeting, "ada", "group_call_host").await;
    let preset = s.preset("kept_preset", json!({"kick_participant": true})).await;
    let hook = json!({"name": "kept", "url": "http://127.0.0.1:9/hook", "events": ["meeting.ended"], "enabled": false});
    let a = send(&s, "POST", "/webhooks", Some(hook)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let webhook = a.body["data"]["id"].as_str().unwrap().to_owned();
    let before = snapshot(&s, &meeting).await;

    let edit_meeting = json!({"title": "Changed", "status": "INACTIVE"});
    let edit_participant = json!({"name": "Changed"});
    let edit_preset = json!({"name": "changed"});
    let edit_webhook = json!({"name": "changed", "enabled": true});
    let participant_body = json!({"custom_participant_id": "new", "preset_name": "group_call_host"});
    // (method, path with `{}` for the bad id, body, the parameter the message names)
    let endpoints: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", "/client/v4/accounts/local/realtime/kit/{}/meetings".into(), None, "app_id"),
        ("POST", "/client/v4/accounts/local/realtime/kit/{}/meetings".into(), Some(json!({"title": "x"})), "app_id"),
        ("GET", "/presets/{}".into(), None, "preset_id"),
        ("PATCH", "/presets/{}".into(), Some(edit_preset), "preset_id"),
        ("DELETE", "/presets/{}".into(), None, "preset_id"),
        ("GET", "/meetings/{}".into(), None, "meeting_id"),
        ("PATCH", "/meetings/{}".into(), Some(edit_meeting), "meeting_id"),
        ("GET", "/meetings/{}/active-session".into(), None, "meeting_id"),
        (
            "POST",
            "/meetings/{}/active-session/kick".into(),
            Some(json!({"participant_ids": [participant]})),
            "meeting_id",
        ),
        ("POST", "/meetings/{}/active-session/kick-all".into(), None, "meeting_id"),
        ("GET", "/meetings/{}/participants".into(), None, "meeting_id"),
        ("POST", "/meetings/{}/participants".into(), Some(participant_body), "meeting_id"),
        ("GET", format!("/meetings/{{}}/participants/{participant}"), None, "meeting_id"),
        ("GET", format!("/meetings/{meeting}/participants/{{}}"), None, "participant_id"),
        ("PATCH", format!("/meetings/{meeting}/participants/{{}}"), Some(edit_participant), "participant_id"),
        (
            "PUT",
            format!("/meetings/{meeting}/participants/{{}}"),
            Some(json!({"preset_name": "group_call_host"})),
            "participant_id",
        ),
        ("DELETE", format!("/meetings/{meeting}/participants/{{}}"), None, "participant_id"),
        ("DELETE", format!("/meetings/{{}}/participants/{participant}"), None, "meeting_id"),
        ("POST", format!("/meetings/{meeting}/participants/{{}}/token"), None, "participant_id"),
        ("GET", "/sessions/{}".into(), None, "session_id"),
        ("GET", "/sessions/{}/participants".into(), None, "session_id"),
        ("POST", "/recordings".into(), Some(json!({"meeting_id": "{}"})), "meeting_id"),
        ("GET", "/recordings/{}".into(), None, "recording_id"),
        ("PUT", "/recordings/{}".into(), Some(json!({"action": "stop"})), "recording_id"),
        ("GET", "/recordings/{}/download".into(), None, "recording_id"),
        ("GET", "/webhooks/{}".into(), None, "webhook_id"),
        ("PATCH", "/webhooks/{}".into(), Some(edit_webhook), "webhook_id"),
        ("DELETE", "/webhooks/{}".into(), None, "webhook_id"),
    ];
    let real = uuid::Uuid::new_v4().to_string();
    for (method, template, body, param) in &endpoints {
        for (bad, what) in not_ids(&real) {
            // An id in a body is JSON, not a URL: decode the escapes the path form needs.
            let (path, body) = match body {
                Some(Value::Object(fields)) if fields.values().any(|v| v == "{}") => {
                    let decoded = percent_decode(&bad);
                    let fields = fields
                        .iter()
                        .map(|(k, v)| (k.clone(), if v == "{}" { json!(decoded) } else { v.clone() }))
                        .collect();
                    (template.clone(), Some(Value::Object(fields)))
                }
                _ => (template.replace("{}", &bad), body.clone()),
            };
            let a = send(&s, method, &path, body).await;
            let message = refused(&a, 400, &format!("{method} {path} ({what})"));
            assert!(message.contains(param), "{method} {path} ({what}): the message names {param}: {message}");
            assert!(message.len() < 300, "{method} {path} ({what}): the message is short: {message}");
        }
    }
    // The real ids under an uppercase spelling are refused too (ids are compared exactly).
    let (upper_meeting, upper_participant) = (meeting.to_uppercase(), participant.to_uppercase());
    for (method, path, body) in [
        ("PATCH", format!("/meetings/{upper_meeting}"), Some(json!({"title": "x"}))),
        ("PATCH", format!("/presets/{}", preset.to_uppercase()), Some(json!({"name": "x"}))),
        ("DELETE", format!("/presets/{}", preset.to_uppercase()), None),
        ("PATCH", format!("/webhooks/{}", webhook.to_uppercase()), Some(json!({"name": "x"}))),
        ("DELETE", format!("/webhooks/{}", webhook.to_uppercase()), None),
        ("PATCH", format!("/meetings/{meeting}/participants/{upper_participant}"), Some(json!({"name": "x"}))),
        ("DELETE", format!("/meetings/{meeting}/participants/{upper_participant}"), None),
        ("DELETE", format!("/meetings/{upper_meeting}/participants/{participant}"), None),
    ] {
        let a = send(&s, method, &path, body).await;
        refused(&a, 400, &format!("{method} {path}"));
    }
    assert_eq!(snapshot(&s, &meeting).await, before, "refused requests changed nothing");
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn malformed_account_ids_are_refused_with_400() {
    let s = TestServer::start().await;
    let meeting = s.meeting(json!({"title": "Kept"})).await;
    let before = snapshot(&s, &meeting).await;
    let long = "a".repeat(129);
    for (account, what) in
        [(long.as_str(), "129 characters"), ("%00", "a NUL byte"), ("a%0Ab", "a line feed"), ("%FF", "not UTF-8")]
    {
        for (method, path, body) in [
            ("GET", format!("/client/v4/accounts/{account}/realtime/kit/apps"), None),
            ("POST", format!("/client/v4/accounts/{account}/realtime/kit/apps"), Some(json!({"name": "x"}))),
            ("GET", format!("/client/v4/accounts/{account}/realtime/kit/{}/meetings", s.app), None),
            (
                "PATCH",
                format!("/client/v4/accounts/{account}/realtime/kit/{}/meetings/{meeting}", s.app),
                Some(json!({"title": "x"})),
            ),
        ] {
            let a = send(&s, method, &path, body).await;
            let message = refused(&a, 400, &format!("{method} {path} ({what})"));
            assert!(message.contains("account_id"), "{message}");
        }
    }
    // A well-formed account that is not the app's: 404, not 400.
    let a = send(&s, "GET", &format!("/client/v4/accounts/elsewhere/realtime/kit/{}/meetings", s.app), None).await;
    refused(&a, 404, "another account");
    assert_eq!(snapshot(&s, &meeting).await, before, "refused requests changed nothing");
}

#[tokio::test]
async fn malformed_query_parameters_are_refused_with_400() {
    let s = TestServer::start().await;
    let meeting = s.meeting(json!({"title": "Kept"})).await;
    s.participant(&meeting, "ada", "group_call_host").await;
    let before = snapshot(&s, &meeting).await;
    let lists = [
        "/presets".to_owned(),
        "/meetings".to_owned(),
        format!("/meetings/{meeting}/participants"),
        "/sessions".to_owned(),
        format!("/sessions/{}/participants", uuid::Uuid::new_v4()),
        "/recordings".to_owned(),
        "/webhooks".to_owned(),
    ];
    let bad_pages = [
        ("page_no=0", "page_no"),
        ("page_no=-1", "page_no"),
        ("page_no=1.5", "page_no"),
        ("page_no=abc", "page_no"),
        ("page_no=", "page_no"),
        ("page_no=99999999999999999999999", "page_no"),
        ("page_no=18446744073709551615", "page_no"),
        ("page_no=9223372036854775807&per_page=2", "page_no"),
        ("page_no=1&page_no=2", "page_no"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=-20", "per_page"),
        ("per_page=%00", "per_page"),
        ("per_page=1e3", "per_page"),
    ];
    for list in &lists {
        for (query, param) in bad_pages {
            let path = format!("{list}?{query}");
            let a = send(&s, "GET", &path, None).await;
            // A list of an unknown session is 404 once its query is fine; a bad query comes first.
            let message = refused(&a, 400, &format!("GET {path}"));
            assert!(message.contains(param), "GET {path}: the message names {param}: {message}");
        }
        // The largest page that still fits is an empty page, not an error.
        let a = send(&s, "GET", &format!("{list}?page_no=1000000&per_page=100"), None).await;
        if list == "/sessions" {
            assert_eq!((a.status, &a.body["data"]), (200, &json!({"sessions": []})), "{list}: {}", a.body);
        } else if list.starts_with("/sessions/") {
            refused(&a, 404, "the participants of an unknown session");
        } else {
            assert_eq!((a.status, &a.body["data"]), (200, &json!([])), "{list}: {}", a.body);
        }
    }
    for (path, param) in [
        ("/sessions?associated_id=not-an-id".to_owned(), "associated_id"),
        (format!("/sessions?associated_id={}", meeting.to_uppercase()), "associated_id"),
        ("/sessions?status=OPEN".to_owned(), "status"),
        ("/sessions?status=live".to_owned(), "status"),
        ("/recordings?meeting_id=%00".to_owned(), "meeting_id"),
        ("/recordings?meeting_id=not-an-id".to_owned(), "meeting_id"),
        ("/meetings?colour=red".to_owned(), "colour"),
        ("/sessions?colour=red".to_owned(), "colour"),
        ("/meetings?status=OPEN".to_owned(), "status"),
        ("/meetings?start_time=yesterday".to_owned(), "start_time"),
        ("/meetings?end_time=2026-13-01T00:00:00Z".to_owned(), "end_time"),
        ("/sessions?sort_by=duration".to_owned(), "sort_by"),
        ("/sessions?sort_order=asc".to_owned(), "sort_order"),
        ("/sessions?start_time=2026-01-01".to_owned(), "start_time"),
        ("/recordings?status=DONE".to_owned(), "status"),
        ("/recordings?status=UPLOADED&status=".to_owned(), "status"),
        ("/recordings?sort_by=createdAt".to_owned(), "sort_by"),
        ("/recordings?expired=maybe".to_owned(), "expired"),
        ("/sessions/peer-report/not-an-id".to_owned(), "peer_id"),
    ] {
        let a = send(&s, "GET", &path, None).await;
        let message = refused(&a, 400, &format!("GET {path}"));
        assert!(message.contains(param), "GET {path}: the message names {param}: {message}");
    }
    assert_eq!(snapshot(&s, &meeting).await, before, "refused requests changed nothing");
}

#[tokio::test]
async fn router_misses_and_bodies_answer_in_the_json_envelope() {
    let s = TestServer::start().await;
    let meeting = s.meeting(json!({"title": "Kept"})).await;
    let before = snapshot(&s, &meeting).await;
    let kit = format!("/client/v4/accounts/{}/realtime/kit/{}", s.account, s.app);
    // An empty segment where an id goes is an id that is not one.
    for (path, param) in [
        (format!("{kit}/meetings//participants"), "meeting_id"),
        (format!("/client/v4/accounts/{}/realtime/kit//meetings", s.account), "app_id"),
        ("/client/v4/accounts//realtime/kit/apps".to_owned(), "account_id"),
    ] {
        let a = send(&s, "GET", &path, None).await;
        let message = refused(&a, 400, &format!("GET {path}"));
        assert!(message.contains(param), "GET {path}: the message names {param}: {message}");
    }
    // Paths the router does not know.
    for path in [
        format!("{kit}/meetings/"),
        format!("{kit}/meetings/{meeting}/participants/"),
        format!("{kit}//meetings"),
        format!("{kit}/meetings/{meeting}/unknown"),
        "/client/v4".to_owned(),
        "/client/v4/accounts/local/realtime/kit".to_owned(),
    ] {
        let a = send(&s, "GET", &path, None).await;
        refused(&a, 404, &format!("GET {path}"));
    }
    let a = send(&s, "DELETE", &format!("{kit}/meetings/{meeting}"), None).await;
    refused(&a, 405, "DELETE on a meeting");
    let a = send(&s, "DELETE", &format!("{kit}/sessions"), None).await;
    refused(&a, 405, "DELETE on sessions");

    // A body without `Content-Type: application/json`: 415, in the envelope.
    let url = format!("{}/meetings/{meeting}", s.kit());
    let resp = reqwest::Client::new()
        .patch(&url)
        .header("authorization", format!("Bearer {}", s.token))
        .header("content-type", "text/plain")
        .body(r#"{"title":"x"}"#)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    refused(&Answer { status, content_type, body }, 415, "PATCH as text/plain");
    assert_eq!(snapshot(&s, &meeting).await, before, "refused requests changed nothing");
}

/// The operations of the document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((path.clone(), method.clone(), op.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn the_openapi_document_lists_every_answer_and_where_each_parameter_goes() {
    let s = TestServer::start().await;
    let a = send(&s, "GET", "/client/v4/openapi.json", None).await;
    assert_eq!(a.status, 200);
    let doc = a.body;
    let ops = operations(&doc);
    assert_eq!(ops.len(), 42, "every operation of the router is in the document");
    let ids: Vec<&str> = ops.iter().map(|(_, _, op)| op["operationId"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids are unique: {ids:?}");
    // Cloudflare's own ids, where Cloudflare has the operation (its spelling kept).
    let kit = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}";
    for (method, path, id) in [
        ("post", "/meetings/{meeting_id}/active-session/kick-all", "KickAllParticipants"),
        ("post", "/meetings/{meeting_id}/active-session/kick", "KickPartcipants"),
        ("put", "/meetings/{meeting_id}/participants/{participant_id}", "replace_participant"),
        ("get", "/sessions/peer-report/{peer_id}", "GetParticipantDataFromPeerId"),
        ("put", "/presets/{preset_id}", "put-presets-preset_id"),
        ("get", "/webhooks/all", "getAllWebhookEvents"),
    ] {
        assert_eq!(doc["paths"][format!("{kit}{path}")][method]["operationId"], json!(id), "{method} {path}");
    }
    for (path, method, op) in &ops {
        let responses = op["responses"].as_object().unwrap();
        let mut expected = vec!["400", "401", "403", "404"];
        if op.get("requestBody").is_some() {
            expected.extend(["413", "415"]);
        }
        for status in expected {
            let r = &responses.get(status).unwrap_or_else(|| panic!("{method} {path} does not list {status}"));
            assert_eq!(
                r["content"]["application/json"]["schema"]["$ref"],
                json!("#/components/schemas/ErrorEnvelope"),
                "{method} {path} {status}"
            );
        }
        assert!(responses.keys().any(|k| k.starts_with('2')), "{method} {path} lists its success");
        for p in op["parameters"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            let location = p["in"].as_str().unwrap();
            let in_path = path.contains(&format!("{{{name}}}"));
            assert_eq!(location == "path", in_path, "{method} {path}: {name} is documented in {location}");
            if location == "query" {
                assert_ne!(p["required"], json!(true), "{method} {path}: {name} is optional");
            }
            if in_path && name != "account_id" {
                assert_eq!(p["schema"]["format"], json!("uuid"), "{method} {path}: {name}");
                assert!(p["schema"]["pattern"].is_string(), "{method} {path}: {name}");
            }
            if name == "per_page" {
                assert_eq!((p["schema"]["minimum"].clone(), p["schema"]["maximum"].clone()), (json!(1), json!(100)));
            }
        }
    }
    let kick = &doc["paths"]
        ["/client/v4/accounts/{account_id}/realtime/kit/{app_id}/meetings/{meeting_id}/active-session/kick-all"]
        ["post"];
    assert!(kick["responses"].get("503").is_some(), "an unavailable room is documented");
}
