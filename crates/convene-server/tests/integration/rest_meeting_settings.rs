//! A meeting's media settings of Cloudflare's schema (`ai_config`, `recording_config`,
//! `summarize_on_end`, `transcribe_on_end`): stored and answered back, checked field by field, and
//! the storage credentials of `recording_config` never kept.

use serde_json::json;

use crate::rest::{data, err};
use crate::support::TestServer;

#[tokio::test]
async fn media_settings_are_stored_and_answered_but_storage_credentials_are_not() {
    let s = TestServer::start().await;
    let ai_config = json!({
        "summarization": {"summary_type": "daily_standup", "text_format": "markdown", "word_limit": 300},
        "transcription": {"language": "en-US", "keywords": ["Convene"], "profanity_filter": true},
    });
    let body = json!({
        "title": "settings",
        "summarize_on_end": true,
        "transcribe_on_end": true,
        "ai_config": ai_config,
        "recording_config": {
            "file_name_prefix": "standup",
            "max_seconds": 3600,
            "video_config": {"codec": "VP8", "width": 1280, "height": 720},
            "storage_config": {"type": "aws", "access_key": "AKIA", "secret": "hunter2", "bucket": "b", "region": "eu"},
        },
    });
    let (st, v) = s.api("POST", "/meetings", Some(body)).await;
    let made = data(st, &v, 201);
    assert!(!v.to_string().contains("hunter2"), "the answer holds no storage secret: {v}");
    let m = made["id"].as_str().unwrap().to_owned();
    let (st, v) = s.api("GET", &format!("/meetings/{m}"), None).await;
    let read = data(st, &v, 200);
    assert_eq!(read, made);
    assert_eq!((&read["summarize_on_end"], &read["transcribe_on_end"]), (&json!(true), &json!(true)));
    assert_eq!(read["ai_config"], ai_config);
    let recording = json!({"file_name_prefix": "standup", "max_seconds": 3600, "video_config": {"codec": "VP8", "width": 1280, "height": 720}});
    assert_eq!(read["recording_config"], recording, "kept but for storage_config");

    let (st, v) = s
        .api("PATCH", &format!("/meetings/{m}"), Some(json!({"ai_config": {"transcription": {"language": "de"}}})))
        .await;
    assert_eq!(
        data(st, &v, 200)["ai_config"],
        json!({"transcription": {"language": "de"}}),
        "a given ai_config replaces the old one"
    );
    let (st, v) = s.api("GET", &format!("/meetings/{m}"), None).await;
    let before = data(st, &v, 200);
    for bad in [
        json!({"ai_config": {"transcription": {"language": "tlh"}}}),
        json!({"ai_config": {"summarisation": {}}}),
        json!({"ai_config": 5}),
        json!({"recording_config": {"audio_config": {"codec": "FLAC"}}}),
        json!({"recording_config": {"storage_config": {"type": "ftp"}}}),
        json!({"summarize_on_end": "yes"}),
    ] {
        let (st, v) = s.api("PATCH", &format!("/meetings/{m}"), Some(bad.clone())).await;
        err(st, &v, 400);
    }
    let (st, v) = s.api("GET", &format!("/meetings/{m}"), None).await;
    assert_eq!(data(st, &v, 200), before, "the refused patches changed nothing");

    let (st, v) = s.api("PUT", &format!("/meetings/{m}"), Some(json!({"title": "plain"}))).await;
    let replaced = data(st, &v, 200);
    assert_eq!(
        (&replaced["summarize_on_end"], replaced.get("ai_config")),
        (&json!(false), None),
        "a replace drops them"
    );
}
