//! What every [`Store`] must answer, alike: one suite, run on SQLite (in memory) and on
//! PostgreSQL (a throwaway database the test starts), so that a node answers the same whichever
//! store it runs on.

use convene_core::{Actor, EndReason, SessionEnd};
use convene_room::{ParticipantInfo, RecordingStatus, StayOutcome, StoreWrite, WebhookEvent, WebhookKind};
use serde_json::json;

use super::{now_ms, now_rfc3339, DeliveryStatus, Page, RoomWrite, SessionStatus, Store};
use super::{Direction, MeetingFilter, RecordingFilter, SessionFilter, SessionOrder, TimeRange};
use crate::auth::Scope;
use crate::model::{Meeting, MeetingStatus, Recording};

const FIRST_PAGE: Page = Page { page_no: 1, per_page: 20 };

/// Runs the whole suite on `store`, which must be empty.
pub(crate) async fn every_store_answers_alike(store: &dyn Store) {
    Box::pin(settings_apps_and_tokens(store)).await;
    let app = store.create_app("acct", "suite").await.unwrap().id;
    // Each part boxed: unboxed, the whole suite is one future too large for a test thread's stack
    // in a debug build.
    Box::pin(meetings_and_participants(store, &app)).await;
    Box::pin(meeting_media_settings(store, &app)).await;
    Box::pin(presets(store, &app)).await;
    Box::pin(sessions_and_stays(store, &app)).await;
    Box::pin(session_lists(store)).await;
    Box::pin(recordings(store, &app)).await;
    Box::pin(webhooks_and_the_outbox(store, &app)).await;
}

async fn settings_apps_and_tokens(store: &dyn Store) {
    assert_eq!(store.kv_get("key").await.unwrap(), None);
    store.kv_set("key", "1").await.unwrap();
    store.kv_set("key", "2").await.unwrap();
    assert_eq!(store.kv_get("key").await.unwrap().as_deref(), Some("2"));
    let first = store.create_app("mine", "first").await.unwrap();
    let second = store.create_app("mine", "second").await.unwrap();
    store.create_app("theirs", "third").await.unwrap();
    let apps = store.list_apps("mine").await.unwrap();
    assert_eq!(ids(&apps, |a| &a.id), [first.id.clone(), second.id.clone()], "oldest first");
    assert!(store.get_app("theirs", &first.id).await.unwrap().is_none(), "not another account's");
    assert_eq!(store.get_app("mine", &first.id).await.unwrap().map(|a| a.name).as_deref(), Some("first"));
    assert_eq!(store.app_account(&second.id).await.unwrap().as_deref(), Some("mine"));
    assert_eq!(store.app_name(&second.id).await.unwrap().as_deref(), Some("second"));

    let (admin, added) = store.insert_token("hash-a", Scope::Admin, None, None).await.unwrap();
    assert!(added && !store.insert_token("hash-a", Scope::Admin, None, None).await.unwrap().1, "known once");
    let (read, _) = store.insert_token("hash-r", Scope::Read, Some("mine"), Some(&first.id)).await.unwrap();
    assert_eq!(store.token_by_hash("hash-r").await.unwrap(), Some(read.clone()));
    assert_eq!(store.admin_token_count().await.unwrap(), 1);
    let tokens = store.list_tokens().await.unwrap();
    assert_eq!(ids(&tokens, |t| &t.record.id), [admin.id.clone(), read.id.clone()], "oldest first");
    assert!(store.revoke_token(&admin.id).await.unwrap() && !store.revoke_token(&admin.id).await.unwrap());
    assert_eq!(store.token_by_hash("hash-a").await.unwrap(), None);
    assert_eq!(store.admin_token_count().await.unwrap(), 0);
}

async fn meetings_and_participants(store: &dyn Store, app: &str) {
    let first = store.create_meeting(app, Meeting::with_defaults(Some("100% _real_ standup".into()))).await.unwrap();
    let second = store.create_meeting(app, Meeting::with_defaults(Some("retro".into()))).await.unwrap();
    store.create_meeting("other-app", Meeting::with_defaults(Some("retro".into()))).await.unwrap();
    assert!(!first.id.is_empty() && !first.created_at.is_empty());
    let all_meetings = MeetingFilter::default();
    let (all, total) = store.list_meetings(app, &all_meetings, FIRST_PAGE).await.unwrap();
    assert_eq!((ids(&all, |m| &m.id), total), (vec![first.id.clone(), second.id.clone()], 2), "oldest first");
    let (found, _) = store.list_meetings(app, &searching("100% _"), FIRST_PAGE).await.unwrap();
    assert_eq!(ids(&found, |m| &m.id), std::slice::from_ref(&first.id), "wildcards in a search match themselves");
    let (by_id, _) = store.list_meetings(app, &searching(&second.id[..8]), FIRST_PAGE).await.unwrap();
    assert_eq!(ids(&by_id, |m| &m.id), std::slice::from_ref(&second.id), "a search matches ids too");
    let (none, n) = store.list_meetings(app, &searching("1_0"), FIRST_PAGE).await.unwrap();
    assert!(none.is_empty() && n == 0);
    let since_second = TimeRange { from: Some(second.created_at.clone()), until: None };
    let (newer, _) = store
        .list_meetings(app, &MeetingFilter { created: since_second, ..Default::default() }, FIRST_PAGE)
        .await
        .unwrap();
    assert!(newer.iter().all(|m| m.created_at >= second.created_at) && newer.iter().any(|m| m.id == second.id));
    let until_first = TimeRange { from: None, until: Some(first.created_at.clone()) };
    let (older, _) = store
        .list_meetings(app, &MeetingFilter { created: until_first, ..Default::default() }, FIRST_PAGE)
        .await
        .unwrap();
    assert!(older.iter().any(|m| m.id == first.id) && older.iter().all(|m| m.created_at <= first.created_at));
    let (page2, total) = store.list_meetings(app, &all_meetings, Page { page_no: 2, per_page: 1 }).await.unwrap();
    assert_eq!((ids(&page2, |m| &m.id), total), (vec![second.id.clone()], 2));

    let mut changed = first.clone();
    changed.status = MeetingStatus::Inactive;
    changed.session_keep_alive_time_in_secs = 600;
    changed.record_on_start = true;
    changed.title = None;
    store.update_meeting(app, &changed).await.unwrap();
    let read = store.get_meeting(app, &first.id).await.unwrap().unwrap();
    assert_eq!(
        (read.status, read.session_keep_alive_time_in_secs, read.record_on_start, read.title),
        (MeetingStatus::Inactive, 600, true, None)
    );
    assert!(store.get_meeting("other-app", &first.id).await.unwrap().is_none(), "another app's");
    let inactive = MeetingFilter { status: Some(MeetingStatus::Inactive), ..Default::default() };
    let (only, n) = store.list_meetings(app, &inactive, FIRST_PAGE).await.unwrap();
    assert_eq!((ids(&only, |m| &m.id), n), (vec![first.id.clone()], 1), "the status filter");

    let m = &second.id;
    let ann = store.create_participant(app, m, "ann", "group_call_host", Some("Ann"), None).await.unwrap();
    let bob = store.create_participant(app, m, "bob", "group_call_participant", None, Some("p.png")).await.unwrap();
    let (listed, total) = store.list_participants(app, m, FIRST_PAGE).await.unwrap();
    assert_eq!((ids(&listed, |p| &p.id), total), (vec![ann.id.clone(), bob.id.clone()], 2));
    let (p, home) = store.participant_by_id(&bob.id).await.unwrap().unwrap();
    assert_eq!(
        (p.picture.as_deref(), home.app_id.as_str(), home.meeting_id.as_str()),
        (Some("p.png"), app, m.as_str())
    );
    assert_eq!(store.participants_by_custom_id(m, "ann").await.unwrap(), std::slice::from_ref(&ann.id));
    let mut renamed = ann.clone();
    renamed.name = Some("Ann B.".into());
    renamed.preset_name = "webinar_viewer".into();
    store.update_participant(app, m, &renamed).await.unwrap();
    let read = store.get_participant(app, m, &ann.id).await.unwrap().unwrap();
    assert_eq!((read.name.as_deref(), read.preset_name.as_str()), (Some("Ann B."), "webinar_viewer"));
    assert!(store.delete_participant(app, m, &ann.id).await.unwrap());
    assert!(!store.delete_participant(app, m, &ann.id).await.unwrap(), "once");
    assert!(store.get_participant(app, m, &ann.id).await.unwrap().is_none());
    assert!(store.participant_by_id(&ann.id).await.unwrap().is_none(), "its tokens stop working");
    assert!(store.participants_by_custom_id(m, "ann").await.unwrap().is_empty());
    assert_eq!(store.list_participants(app, m, FIRST_PAGE).await.unwrap().1, 1);
}

async fn meeting_media_settings(store: &dyn Store, app: &str) {
    let made = store.create_meeting(app, Meeting::with_defaults(None)).await.unwrap();
    let read = store.get_meeting(app, &made.id).await.unwrap().unwrap();
    assert_eq!(
        (read.summarize_on_end, read.transcribe_on_end, &read.ai_config, &read.recording_config),
        (false, false, &None, &None)
    );
    let mut changed = made.clone();
    changed.summarize_on_end = true;
    changed.transcribe_on_end = true;
    changed.ai_config =
        Some(serde_json::from_value(json!({"transcription": {"language": "de", "keywords": ["Convene"]}})).unwrap());
    changed.recording_config =
        Some(serde_json::from_value(json!({"max_seconds": 60, "audio_config": {"codec": "AAC"}})).unwrap());
    store.update_meeting(app, &changed).await.unwrap();
    let read = store.get_meeting(app, &made.id).await.unwrap().unwrap();
    assert_eq!((read.summarize_on_end, read.transcribe_on_end), (true, true));
    assert_eq!((read.ai_config, read.recording_config), (changed.ai_config, changed.recording_config));
    let (listed, _) = store.list_meetings(app, &searching(&made.id), FIRST_PAGE).await.unwrap();
    assert_eq!(listed.first().map(|m| m.summarize_on_end), Some(true), "a listing reads them too");
}

async fn presets(store: &dyn Store, app: &str) {
    let perms = json!({"kick_participant": true});
    let host = store.create_preset(app, "boss", &json!({"a": 1}), &perms, &json!({})).await.unwrap().unwrap();
    assert!(
        store.create_preset(app, "boss", &json!({}), &json!({}), &json!({})).await.unwrap().is_none(),
        "name taken"
    );
    let other = store.create_preset(app, "guest", &json!({}), &json!("not permissions"), &json!({})).await.unwrap();
    let other = other.unwrap();
    assert_eq!(store.get_preset(app, &host.id).await.unwrap().unwrap().config, json!({"a": 1}));
    assert_eq!(store.preset_by_name(app, "guest").await.unwrap().unwrap().id, other.id);
    assert!(store.preset_permissions(app, "boss").await.unwrap().kick_participant);
    let unreadable = store.preset_permissions(app, "guest").await.unwrap();
    assert_eq!(unreadable, convene_core::Permissions::default(), "an unreadable set counts as none");
    let built_in = store.preset_permissions(app, "group_call_host").await.unwrap();
    assert_eq!(Some(built_in), convene_core::Permissions::built_in("group_call_host"), "the built-in one");
    let (listed, total) = store.list_presets(app, FIRST_PAGE).await.unwrap();
    assert_eq!((ids(&listed, |p| &p.id), total), (vec![host.id.clone(), other.id.clone()], 2));

    let mut clash = other.clone();
    clash.name = "boss".into();
    assert_eq!(store.update_preset(app, &clash).await.unwrap(), Err(()), "the new name is taken");
    let mut demoted = host.clone();
    demoted.permissions = json!({"kick_participant": false});
    store.update_preset(app, &demoted).await.unwrap().unwrap();
    assert!(!store.preset_permissions(app, "boss").await.unwrap().kick_participant, "read after the update");
    assert!(store.delete_preset(app, &host.id).await.unwrap());
    assert!(!store.delete_preset(app, &host.id).await.unwrap());
    assert_eq!(store.preset_permissions(app, "boss").await.unwrap(), convene_core::Permissions::default());
}

pub(crate) fn info(id: &str) -> ParticipantInfo {
    ParticipantInfo {
        id: id.into(),
        custom_participant_id: format!("custom-{id}"),
        preset_name: "group_call_host".into(),
        name: Some(id.to_uppercase()),
        picture: None,
    }
}

fn session_write(write: StoreWrite) -> RoomWrite {
    RoomWrite::Session(write)
}

async fn sessions_and_stays(store: &dyn Store, app: &str) {
    let meeting = store.create_meeting(app, Meeting::with_defaults(Some("live".into()))).await.unwrap().id;
    store.create_webhook(app, "ended", "https://example.com/ended", &["meeting.ended".into()], true).await.unwrap();
    let t0 = now_rfc3339();
    let writes = vec![
        session_write(StoreWrite::SessionStarted {
            session_id: "s1".into(),
            meeting_id: meeting.clone(),
            title: Some("live".into()),
            started_at: t0.clone(),
        }),
        session_write(StoreWrite::PeerJoined {
            session_id: "s1".into(),
            peer_id: "p1".into(),
            participant: info("a"),
            at: t0.clone(),
        }),
        session_write(StoreWrite::PeerJoined {
            session_id: "s1".into(),
            peer_id: "p2".into(),
            participant: info("b"),
            at: t0.clone(),
        }),
        session_write(StoreWrite::SessionTouched { session_id: "s1".into(), last_seq: 7, concurrent: 2 }),
        session_write(StoreWrite::PeerPinned { peer_id: "p2".into(), pinned: true }),
        session_write(StoreWrite::PeerPinned { peer_id: "p1".into(), pinned: true }),
        session_write(StoreWrite::PeerPinned { peer_id: "p2".into(), pinned: false }),
        session_write(StoreWrite::PeerLeft { peer_id: "p2".into(), outcome: StayOutcome::Kicked, at: now_rfc3339() }),
    ];
    let pending = store.submit_room_writes(app, None, writes);
    // A call made after the submission sees the writes, even before the batch is awaited.
    assert_eq!(store.live_session_start(app, &meeting).await.unwrap(), Some(("s1".into(), t0.clone())));
    let applied = pending.await;
    assert!(applied.failed.is_empty() && applied.unreached.is_none(), "{applied:?}");

    let live = store.live_session(app, &meeting).await.unwrap().unwrap();
    assert_eq!((live.id.as_str(), live.status.as_str(), live.live_participants), ("s1", "LIVE", 1));
    assert_eq!(live.max_concurrent_participants, 2);
    let restored = store.live_sessions(None).await.unwrap();
    assert_eq!(store.gauges().await.unwrap().live_sessions, restored.len() as u64, "the gauge counts them all");
    let (row, peers) = restored.iter().find(|(s, _)| s.id == "s1").unwrap();
    assert_eq!((row.last_seq, peers.len(), peers[0].peer_id.as_str()), (7, 1, "p1"));
    assert!(peers[0].pinned, "a live stay keeps its pin for the room that restores it");
    let of_meeting = store.live_sessions(Some((app, &meeting))).await.unwrap();
    let ids_of = |rows: &[(crate::store::LiveSessionRow, Vec<crate::store::LivePeerRow>)]| {
        rows.iter().map(|(s, p)| (s.id.clone(), p.len())).collect::<Vec<_>>()
    };
    assert_eq!(ids_of(&of_meeting), vec![("s1".to_owned(), 1)], "the meeting's own live session");
    assert!(store.live_sessions(Some((app, "no-such-meeting"))).await.unwrap().is_empty());
    assert!(store.live_sessions(Some(("another-app", &meeting))).await.unwrap().is_empty(), "not another app's");
    let (stays, total) = store.session_peers("s1", FIRST_PAGE).await.unwrap();
    assert_eq!((ids(&stays, |p| &p.id), total), (vec!["p1".to_owned(), "p2".to_owned()], 2));
    assert_eq!(stays[0].display_name, "A");
    assert!(stays[1].left_at.is_some());
    let (of_session, p2) = store.session_peer(app, "p2").await.unwrap().expect("the stay of p2");
    assert_eq!((of_session.as_str(), p2.id.as_str(), p2.left_at.is_some()), ("s1", "p2", true));
    assert!(store.session_peer("another-app", "p2").await.unwrap().is_none(), "not another app's");
    assert!(store.session_peer(app, "no-such-peer").await.unwrap().is_none());

    let end = SessionEnd { session_id: "s1".into(), reason: EndReason::HostEndedMeeting, ended_by: Actor::Api };
    let event = WebhookEvent { kind: WebhookKind::MeetingEnded, payload: json!({"event": "meeting.ended"}), at_ms: 0 };
    assert_eq!(store.end_session(app, &end, 9, &now_rfc3339(), &event).await.unwrap(), 1, "one delivery queued");
    assert_eq!(store.end_session(app, &end, 9, &now_rfc3339(), &event).await.unwrap(), 0, "ended once");
    assert!(store.live_session(app, &meeting).await.unwrap().is_none());
    let ended = store.get_session(app, "s1").await.unwrap().unwrap();
    assert_eq!((ended.status.as_str(), ended.end_reason.as_deref()), ("ENDED", Some("HOST_ENDED_MEETING")));
    assert_eq!(store.ended_stay("p1", "a").await.unwrap(), Some(end.clone()), "the stay ended with the session");
    assert_eq!(store.ended_stay("p1", "b").await.unwrap(), None, "not another participant's");
    assert_eq!(store.ended_stay("p2", "b").await.unwrap(), None, "kicked before the end");
    assert!(store.live_sessions(None).await.unwrap().iter().all(|(s, _)| s.id != "s1"));

    let ended_of_meeting =
        SessionFilter { meeting_id: Some(meeting.clone()), status: Some(SessionStatus::Ended), ..Default::default() };
    let (ended_list, n) = store.list_sessions(app, &ended_of_meeting, FIRST_PAGE).await.unwrap();
    assert_eq!((ids(&ended_list, |s| &s.id), n), (vec!["s1".to_owned()], 1));
    let live = SessionFilter { status: Some(SessionStatus::Live), ..Default::default() };
    assert_eq!(store.list_sessions(app, &live, FIRST_PAGE).await.unwrap().1, 0);
    assert!(store.get_session("other-app", "s1").await.unwrap().is_none());
}

fn searching(text: &str) -> MeetingFilter {
    MeetingFilter { search: Some(text.to_owned()), ..Default::default() }
}

/// Lists of sessions: searched, in a time range, by minutes (an app of their own, so that no
/// other session counts).
async fn session_lists(store: &dyn Store) {
    let app = store.create_app("acct", "session lists").await.unwrap().id;
    let app = app.as_str();
    // A short session (one stay of 1 minute) and a long one (one stay of 10), a day apart.
    for (id, title, day, minutes) in [("short", "stand-up", "01", 1), ("long", "planning", "02", 10)] {
        let meeting = store.create_meeting(app, Meeting::with_defaults(Some(title.into()))).await.unwrap().id;
        let at = |minute: u32| format!("2026-01-{day}T00:{minute:02}:00.000Z");
        let writes = vec![
            session_write(StoreWrite::SessionStarted {
                session_id: id.into(),
                meeting_id: meeting,
                title: Some(title.into()),
                started_at: at(0),
            }),
            session_write(StoreWrite::PeerJoined {
                session_id: id.into(),
                peer_id: format!("{id}-peer"),
                participant: info("a"),
                at: at(0),
            }),
            session_write(StoreWrite::PeerLeft {
                peer_id: format!("{id}-peer"),
                outcome: StayOutcome::Left,
                at: at(minutes),
            }),
        ];
        let applied = store.submit_room_writes(app, None, writes).await;
        assert!(applied.failed.is_empty() && applied.unreached.is_none(), "{applied:?}");
    }
    let session_ids = |filter: SessionFilter| async move {
        let (found, _) = store.list_sessions(app, &filter, FIRST_PAGE).await.unwrap();
        ids(&found, |s| &s.id)
    };
    assert_eq!(session_ids(SessionFilter::default()).await, ["long", "short"], "newest first");
    let oldest_first = SessionFilter { order: SessionOrder::CreatedAt(Direction::Ascending), ..Default::default() };
    assert_eq!(session_ids(oldest_first).await, ["short", "long"]);
    let fewest = SessionFilter { order: SessionOrder::MinutesConsumed(Direction::Ascending), ..Default::default() };
    assert_eq!(session_ids(fewest).await, ["short", "long"], "by minutes");
    let most = SessionFilter { order: SessionOrder::MinutesConsumed(Direction::Descending), ..Default::default() };
    assert_eq!(session_ids(most).await, ["long", "short"]);
    assert_eq!(session_ids(SessionFilter { search: Some("stand".into()), ..Default::default() }).await, ["short"]);
    assert_eq!(
        session_ids(SessionFilter { search: Some("lon".into()), ..Default::default() }).await,
        ["long"],
        "by id"
    );
    let second_day = TimeRange { from: Some("2026-01-02T00:00:00.000Z".into()), until: None };
    assert_eq!(session_ids(SessionFilter { created: second_day, ..Default::default() }).await, ["long"]);
    let first_day = TimeRange { from: None, until: Some("2026-01-01T23:59:59.999Z".into()) };
    assert_eq!(session_ids(SessionFilter { created: first_day, ..Default::default() }).await, ["short"]);
}

fn recording(id: &str, meeting: &str, status: RecordingStatus, invoked: &str) -> Recording {
    Recording {
        id: id.into(),
        meeting_id: meeting.into(),
        session_id: None,
        status,
        invoked_time: invoked.into(),
        started_time: None,
        stopped_time: None,
        output_file_name: format!("{id}.jsonl"),
        download_url: None,
        audio_download_url: None,
        download_url_expiry: None,
        file_size: None,
        recording_duration: None,
        start_reason: json!({"reason": "API_CALL"}),
        stop_reason: None,
    }
}

async fn recordings(store: &dyn Store, app: &str) {
    store
        .save_recording(app, &recording("r1", "m1", RecordingStatus::Recording, "2026-01-01T00:00:00.000Z"))
        .await
        .unwrap();
    let mut done = recording("r2", "m2", RecordingStatus::Uploaded, "2026-01-02T00:00:00.000Z");
    store.save_recording(app, &done).await.unwrap();
    done.file_size = Some(42);
    done.stop_reason = Some(json!({"reason": "API_CALL"}));
    store.save_recording(app, &done).await.unwrap();
    let read = store.get_recording(app, "r2").await.unwrap().unwrap();
    assert_eq!((read.file_size, read.stop_reason.clone()), (Some(42), done.stop_reason.clone()), "replaced");
    let (all, total) = store.list_recordings(app, &RecordingFilter::default(), FIRST_PAGE).await.unwrap();
    assert_eq!((ids(&all, |r| &r.id), total), (vec!["r2".to_owned(), "r1".to_owned()], 2), "newest first");
    let of_m1 = RecordingFilter { meeting_id: Some("m1".into()), ..Default::default() };
    assert_eq!(store.list_recordings(app, &of_m1, FIRST_PAGE).await.unwrap().1, 1);
    let recording_ids = |filter: RecordingFilter| async move {
        let (found, _) = store.list_recordings(app, &filter, FIRST_PAGE).await.unwrap();
        ids(&found, |r| &r.id)
    };
    let uploaded = RecordingFilter { statuses: vec![RecordingStatus::Uploaded], ..Default::default() };
    assert_eq!(recording_ids(uploaded).await, ["r2"], "the status filter");
    let either =
        RecordingFilter { statuses: vec![RecordingStatus::Uploaded, RecordingStatus::Recording], ..Default::default() };
    assert_eq!(recording_ids(either).await, ["r2", "r1"]);
    let oldest_first = RecordingFilter { order: Direction::Ascending, ..Default::default() };
    assert_eq!(recording_ids(oldest_first).await, ["r1", "r2"]);
    let since = TimeRange { from: Some("2026-01-02T00:00:00.000Z".into()), until: None };
    assert_eq!(recording_ids(RecordingFilter { invoked: since, ..Default::default() }).await, ["r2"], "the time range");
    let until = TimeRange { from: None, until: Some("2026-01-01T12:00:00.000Z".into()) };
    assert_eq!(recording_ids(RecordingFilter { invoked: until, ..Default::default() }).await, ["r1"]);
    assert_eq!(
        recording_ids(RecordingFilter { search: Some("m2".into()), ..Default::default() }).await,
        ["r2"],
        "by meeting id"
    );
    assert_eq!(store.fail_unfinished_recordings().await.unwrap(), 1);
    let failed = store.get_recording(app, "r1").await.unwrap().unwrap();
    assert_eq!(failed.status, RecordingStatus::Errored);
    assert_eq!(failed.stop_reason, Some(json!({"reason": "INTERNAL_ERROR"})));
}

async fn webhooks_and_the_outbox(store: &dyn Store, app: &str) {
    // The session suite left one queued delivery (`meeting.ended`) to the webhook it made.
    let (hooks, n) = store.list_webhooks(app, FIRST_PAGE).await.unwrap();
    assert_eq!(n, 1);
    let ended_hook = hooks[0].clone();
    let joined_events = ["meeting.participantJoined".to_owned()];
    let joins = store.create_webhook(app, "joins", "https://example.com/j", &joined_events, true).await.unwrap();
    let (listed, _) = store.list_webhooks(app, FIRST_PAGE).await.unwrap();
    assert_eq!(ids(&listed, |w| &w.id), [ended_hook.id.clone(), joins.id.clone()], "oldest first");
    let joined = WebhookEvent { kind: WebhookKind::ParticipantJoined, payload: json!({"n": 1}), at_ms: 0 };
    assert_eq!(store.enqueue_webhook_event(app, &joined).await.unwrap(), 1, "only the subscriber");

    let gauges = store.gauges().await.unwrap();
    assert_eq!(gauges.outbox_pending, 2, "{gauges:?}");
    let waited = gauges.outbox_oldest_age.expect("an age");
    assert!(waited < std::time::Duration::from_secs(600), "the oldest was queued in this test: {waited:?}");
    let due = store.due_per_webhook(now_ms(), 10).await.unwrap();
    assert_eq!(due.len(), 2, "one per webhook: {due:?}");
    let to_joins = due.iter().find(|r| r.webhook_id == joins.id).unwrap().clone();
    assert_eq!((to_joins.body.as_str(), to_joins.attempts), (r#"{"n":1}"#, 0));
    let to_ended = due.iter().find(|r| r.webhook_id == ended_hook.id).unwrap().clone();
    assert!(store.delivery_outcome(to_ended.id, DeliveryStatus::Delivered, 0, None).await.unwrap());
    let retry_at = now_ms() + 60_000;
    assert!(store.delivery_outcome(to_joins.id, DeliveryStatus::Pending, retry_at, Some("503")).await.unwrap());
    assert!(store.due_per_webhook(now_ms(), 10).await.unwrap().is_empty(), "the retry waits");
    let next = store.next_due_per_webhook().await.unwrap();
    assert_eq!(next.len(), 1);
    assert!((next[0].1 - retry_at).abs() < 5_000, "due in about a minute: {next:?}");
    assert_eq!(store.retry_pending_now(now_ms()).await.unwrap(), 1);
    let again = store.due_per_webhook(now_ms(), 10).await.unwrap();
    assert_eq!((again.len(), again[0].uuid.as_str(), again[0].attempts), (1, to_joins.uuid.as_str(), 1), "same uuid");

    let mut moved = joins.clone();
    moved.url = "https://example.com/moved".into();
    moved.enabled = true;
    store.update_webhook(app, &moved).await.unwrap();
    assert_eq!(store.get_webhook(app, &joins.id).await.unwrap().unwrap().url, moved.url);
    assert!(store.delete_webhook(app, &joins.id).await.unwrap());
    assert!(store.get_webhook(app, &joins.id).await.unwrap().is_none());
    assert!(
        !store.delivery_outcome(again[0].id, DeliveryStatus::Delivered, 0, None).await.unwrap(),
        "dropped stays dropped"
    );
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(counts, [(DeliveryStatus::Delivered, 1), (DeliveryStatus::Dropped, 1)]);
    let tomorrow = super::rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(1));
    assert_eq!(store.prune_outbox(&tomorrow).await.unwrap(), 2);
    assert!(store.outbox_counts().await.unwrap().is_empty());
    let gauges = store.gauges().await.unwrap();
    assert_eq!((gauges.outbox_pending, gauges.outbox_oldest_age), (0, None));
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &String) -> Vec<String> {
    items.iter().map(|t| id(t).clone()).collect()
}
