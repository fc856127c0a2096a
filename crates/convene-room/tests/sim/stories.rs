//! Story tests for behaviour the scenario files cannot express: timeouts, requests in flight
//! across a drop, keep-alive, determinism, reply ordering.

use crate::harness;

use convene_core::proto::{ClientMessage, MeetingInfo, SelfInfo, ServerMessage, SessionEvent};
use convene_core::{
    Actor, ClientError, Command, Config, EndReason, Event, Output, Participant, Permissions, RoomState, SessionEnd,
    SocketConnectionState,
};
use harness::World;

fn two() -> World {
    let mut w = World::new();
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_participant", None);
    w.run("host", Command::Join).unwrap();
    w.run("bob", Command::Join).unwrap();
    w
}

/// A lone core talking to a hand-driven server: connected, welcomed, joined.
fn joined_core() -> (Participant, u64) {
    let info = SelfInfo { permissions: Permissions::group_call_host(), ..SelfInfo::default() };
    let mut core = Participant::new(Config::new("t", info.clone(), MeetingInfo::default()));
    let now = 0;
    let join = core.command(now, Command::Join).unwrap();
    core.handle_transport_opened(now);
    core.handle_frame(
        now,
        &format!(
            r#"{{"type":"welcome","protocol":1,"peer_id":"me","resumed":false,"self":{},"meeting":{{"id":"m","title":"t"}}}}"#,
            serde_json::to_string(&info).unwrap()
        ),
    )
    .unwrap();
    core.handle_frame(
        now,
        r#"{"type":"event","seq":1,"event":"joined","room":{"self_peer":{"id":"me","user_id":"u","name":"n","custom_participant_id":"c","preset_name":"p"},"session":{"id":"s1","started_at":"t"}}}"#,
    )
    .unwrap();
    core.handle_frame(now, &format!(r#"{{"type":"reply","req":{join}}}"#)).unwrap();
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    assert!(outputs.contains(&Output::Resolved { req: join, result: Ok(Default::default()) }), "{outputs:?}");
    assert_eq!(core.room_state(), RoomState::Joined);
    (core, now)
}

fn resolved(outputs: &[Output], req: u64) -> Option<Result<convene_core::CommandOk, ClientError>> {
    outputs.iter().find_map(|o| match o {
        Output::Resolved { req: r, result } if *r == req => Some(result.clone()),
        _ => None,
    })
}

#[test]
fn a_request_without_reply_times_out() {
    let (mut core, now) = joined_core();
    let req = core.command(now, Command::KickAll).unwrap();
    assert!(matches!(core.poll_output(), Some(Output::Transmit(ClientMessage::KickAll { .. }))));
    let deadline = core.poll_timeout().unwrap();
    assert_eq!(deadline, now + 10_000, "the request deadline comes first");
    core.handle_timeout(deadline - 1);
    assert!(core.poll_output().is_none(), "nothing before the deadline");
    core.handle_timeout(deadline);
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    let err = resolved(&outputs, req).expect("resolved").unwrap_err();
    assert_eq!(err, ClientError::Timeout { after_ms: 10_000 });
    assert_eq!(err.code(), 4502);
    assert_eq!(core.room_state(), RoomState::Joined, "a timeout changes no state");
    // A late reply to a settled request is ignored.
    core.handle_frame(deadline + 1, &format!(r#"{{"type":"reply","req":{req}}}"#)).unwrap();
    assert!(core.poll_output().is_none());
}

#[test]
fn kick_all_resolves_when_the_session_ends_before_the_reply() {
    let (mut core, now) = joined_core();
    let req = core.command(now, Command::KickAll).unwrap();
    while core.poll_output().is_some() {}
    let end = SessionEnd {
        session_id: "s1".into(),
        reason: EndReason::HostEndedMeeting,
        ended_by: Actor::Peer { peer_id: "me".into() },
    };
    core.handle_server_message(now, ServerMessage::Event { seq: 2, event: SessionEvent::SessionEnded { end } });
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    assert_eq!(resolved(&outputs, req), Some(Ok(Default::default())));
    assert!(outputs.contains(&Output::Disconnect));
    assert_eq!(core.room_state(), RoomState::Ended);
}

#[test]
fn a_drop_fails_requests_in_flight_with_connection_lost() {
    let (mut core, now) = joined_core();
    let req = core.command(now, Command::StartRecording { allow_multiple: false }).unwrap();
    while core.poll_output().is_some() {}
    core.handle_transport_closed(now + 5);
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    assert_eq!(resolved(&outputs, req), Some(Err(ClientError::ConnectionLost)));
    assert_eq!(ClientError::ConnectionLost.code_string(), "0012");
    assert_eq!(core.room_state(), RoomState::Disconnected);
    assert_eq!(core.socket_state().state, SocketConnectionState::Reconnecting);
}

#[test]
fn leave_succeeds_locally_even_without_a_reply() {
    let (mut core, now) = joined_core();
    let req = core.command(now, Command::Leave).unwrap();
    assert!(matches!(core.poll_output(), Some(Output::Transmit(ClientMessage::Leave { .. }))));
    let second = core.command(now, Command::Leave).unwrap();
    assert!(core.poll_output().is_none(), "a second leave sends nothing more");
    core.handle_timeout(now + 10_000);
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    assert_eq!(resolved(&outputs, req), Some(Ok(Default::default())));
    assert_eq!(resolved(&outputs, second), Some(Ok(Default::default())));
    assert_eq!(core.room_state(), RoomState::Left);
    assert!(core.is_terminated());
}

#[test]
fn keepalive_pings_then_declares_a_silent_server_dead() {
    let (mut core, now) = joined_core();
    assert_eq!(core.poll_timeout(), Some(now + 10_000));
    core.handle_timeout(now + 10_000);
    assert_eq!(core.poll_output(), Some(Output::Transmit(ClientMessage::Ping {})));
    core.handle_timeout(now + 20_000);
    assert_eq!(core.poll_output(), Some(Output::Transmit(ClientMessage::Ping {})));
    core.handle_timeout(now + 30_000);
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    assert!(outputs.contains(&Output::Disconnect), "{outputs:?}");
    assert_eq!(core.room_state(), RoomState::Disconnected);
    // A pong in time keeps it alive.
    let (mut core, now) = joined_core();
    core.handle_timeout(now + 10_000);
    core.handle_server_message(now + 10_010, ServerMessage::Pong);
    core.handle_timeout(now + 30_000);
    assert_eq!(core.room_state(), RoomState::Joined);
}

#[test]
fn an_invalid_token_fails_the_join_with_0004() {
    let mut w = World::new();
    w.add("host", "group_call_host", None);
    let client = w.clients.get_mut("host").unwrap();
    let info = client.core.self_info().clone();
    client.core = Participant::new(Config::new("forged", info, MeetingInfo::default()));
    let err = w.run("host", Command::Join).unwrap_err();
    assert_eq!(err.code_string(), "0004");
    assert_eq!(w.core("host").room_state(), RoomState::Init, "the client may try again");
}

#[test]
fn kick_all_reports_the_count_and_ends_one_session() {
    let mut w = two();
    let session = w.core("host").session().unwrap().id.clone();
    let ok = w.run("host", Command::KickAll).unwrap();
    assert_eq!(ok.kicked_participants_count, Some(2));
    assert_eq!(w.server.ended_sessions, vec![(session, EndReason::HostEndedMeeting)]);
}

#[test]
fn a_session_after_keep_alive_is_a_new_one() {
    let mut w = World::with_keep_alive(2_000);
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_participant", None);
    w.run("host", Command::Join).unwrap();
    let first = w.core("host").session().unwrap().id.clone();
    w.run("host", Command::Leave).unwrap();
    w.advance(1_000);
    assert!(w.server.session_id().is_some(), "still live within the keep-alive");
    w.advance(1_500);
    assert_eq!(w.server.ended_sessions, vec![(first.clone(), EndReason::AllParticipantsLeft)]);
    w.run("bob", Command::Join).unwrap();
    let second = w.core("bob").session().unwrap().id.clone();
    assert_ne!(first, second);
}

#[test]
fn a_rejoin_within_keep_alive_continues_the_session() {
    let mut w = World::with_keep_alive(5_000);
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_participant", None);
    w.run("host", Command::Join).unwrap();
    let first = w.core("host").session().unwrap().id.clone();
    w.run("host", Command::Leave).unwrap();
    w.advance(3_000);
    w.run("bob", Command::Join).unwrap();
    assert_eq!(w.core("bob").session().unwrap().id, first);
    w.advance(10_000);
    assert!(w.server.ended_sessions.is_empty());
}

#[test]
fn reconnect_timing_is_deterministic_per_seed() {
    let run = || {
        let mut w = two();
        let now = w.now;
        w.server.set_online(now, false);
        w.settle();
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = w.core("bob").poll_timeout().unwrap();
            times.push(t);
            w.advance(t - w.now);
        }
        times
    };
    assert_eq!(run(), run());
}

#[test]
fn events_replayed_on_resume_are_not_repeated() {
    let mut w = two();
    w.add("carol", "group_call_participant", None);
    w.drop_connection("bob");
    w.run("carol", Command::Join).unwrap();
    w.run("carol", Command::Leave).unwrap();
    w.advance(5_000);
    let names: Vec<&str> = w.client("bob").events.iter().map(Event::name).collect();
    let joined = names.iter().filter(|n| **n == "participantJoined").count();
    let left = names.iter().filter(|n| **n == "participantLeft").count();
    assert_eq!((joined, left), (1, 1), "{names:?}");
    // Replaying the same frames again (a duplicate delivery) changes nothing.
    let seq = w.core("bob").last_seq();
    let now = w.now;
    let core = &mut w.clients.get_mut("bob").unwrap().core;
    core.handle_server_message(
        now,
        ServerMessage::Event { seq, event: SessionEvent::PeerLeft { peer_id: "x".into() } },
    );
    assert!(core.poll_output().is_none());
    assert_eq!(core.room_state(), RoomState::Joined);
}

#[test]
fn waiting_participants_can_be_accepted_by_user_id() {
    let mut w = World::new();
    w.add("host", "group_call_host", None);
    let wait = convene_core::PermissionsPatch {
        waiting_room_type: Some(convene_core::permissions::WaitingRoomType::SkipOnAccept),
        ..Default::default()
    };
    w.add("guest", "group_call_participant", Some(wait));
    w.run("host", Command::Join).unwrap();
    w.run("guest", Command::Join).unwrap();
    let user_id = w.core("guest").self_info().user_id.clone();
    w.run("host", Command::AcceptWaiting { ids: vec![user_id] }).unwrap();
    assert_eq!(w.core("guest").room_state(), RoomState::Joined);
    let err = w.run("host", Command::AcceptWaiting { ids: vec![] }).unwrap_err();
    assert_eq!(err.code(), 4504);
    let err = w.run("host", Command::AcceptAllWaiting).unwrap_err();
    assert_eq!(err.code(), 4504, "nobody is waiting");
}

#[test]
fn the_server_refuses_a_crafted_kick_all_and_nothing_changes() {
    // A client that skips the local check (a hand-crafted frame) is refused by the server.
    let mut w = two();
    let now = w.now;
    let conn = w.client("bob").conn.unwrap();
    w.server.handle(now, conn, ClientMessage::KickAll { req: 777 });
    let refusal = w.server.outbox.iter().find_map(|(c, m)| match m {
        ServerMessage::Error { req: Some(777), error } if *c == conn => Some(error.code),
        _ => None,
    });
    assert_eq!(refusal, Some(1201));
    w.settle();
    assert_eq!(w.core("host").room_state(), RoomState::Joined);
    assert!(w.server.ended_sessions.is_empty());
}

#[test]
fn a_snapshot_while_joined_resynchronises_the_roster_with_events() {
    let (mut core, now) = joined_core();
    let peer = |id: &str| convene_core::proto::Peer {
        id: id.into(),
        user_id: format!("u-{id}"),
        name: id.into(),
        picture: None,
        custom_participant_id: id.into(),
        preset_name: "group_call_participant".into(),
        hidden: false,
        pinned: false,
    };
    core.handle_server_message(
        now,
        ServerMessage::Event { seq: 2, event: SessionEvent::PeerJoined { peer: peer("a") } },
    );
    core.handle_server_message(
        now,
        ServerMessage::Event { seq: 3, event: SessionEvent::PeerJoined { peer: peer("b") } },
    );
    while core.poll_output().is_some() {}
    let room = convene_core::proto::RoomSnapshot {
        self_peer: peer("me"),
        session: convene_core::proto::SessionInfo { id: "s1".into(), started_at: "t".into() },
        peers: vec![peer("b"), peer("c"), peer("me")],
        waitlisted: vec![],
        recording: convene_core::RecordingState::Recording,
        recording_id: None,
    };
    core.handle_server_message(now, ServerMessage::Event { seq: 1_000_004, event: SessionEvent::Joined { room } });
    let events: Vec<serde_json::Value> = std::iter::from_fn(|| core.poll_output())
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.payload()),
            _ => None,
        })
        .collect();
    let names: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["participant"]["id"].as_str().or(e["state"].as_str()).unwrap_or("")))
        .collect();
    assert_eq!(names, [("participantLeft", "a"), ("participantJoined", "c"), ("recordingUpdate", "RECORDING")]);
    let ids: Vec<&str> = core.roster().joined().keys().map(String::as_str).collect();
    assert_eq!(ids, ["b", "c"], "never self");
    assert_eq!(core.room_state(), RoomState::Joined);
}

#[test]
fn an_ended_session_hands_its_roster_to_the_driver_to_free_after_room_left() {
    let (mut core, now) = joined_core();
    for (seq, id) in [(2, "a"), (3, "b")] {
        let frame = format!(
            r#"{{"type":"event","seq":{seq},"event":"peer_joined","peer":{{"id":"{id}","user_id":"u{id}","name":"{id}","custom_participant_id":"c{id}","preset_name":"p"}}}}"#
        );
        core.handle_frame(now, &frame).unwrap();
    }
    while core.poll_output().is_some() {}
    assert_eq!(core.roster().joined().len(), 2);
    assert!(core.take_released().is_none(), "nothing is released while joined");
    let end = SessionEnd { session_id: "s1".into(), reason: EndReason::HostEndedMeeting, ended_by: Actor::Api };
    core.handle_server_message(now, ServerMessage::Event { seq: 4, event: SessionEvent::SessionEnded { end } });
    assert!(core.roster().joined().is_empty(), "the roster is empty at once");
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    assert!(outputs.iter().any(|o| matches!(o, Output::Event(Event::RoomLeft { .. }))), "{outputs:?}");
    let released = core.take_released().expect("the old roster, for the driver to free");
    assert_eq!(released.joined().len(), 2);
    assert!(core.take_released().is_none(), "handed over once");
}

#[test]
fn a_resume_over_the_connection_cap_backs_off_instead_of_failing() {
    let (mut core, now) = joined_core();
    core.handle_transport_closed(now);
    while core.poll_output().is_some() {}
    assert_eq!(core.room_state(), RoomState::Disconnected);
    let retry_at = core.poll_timeout().expect("a retry is scheduled");
    core.handle_timeout(retry_at);
    assert!(std::iter::from_fn(|| core.poll_output()).any(|o| o == Output::Connect));
    core.handle_transport_opened(retry_at);
    while core.poll_output().is_some() {}
    let refusal =
        r#"{"type":"error","error":{"code":4429,"message":"too many connections for this participant; retry later"}}"#;
    core.handle_frame(retry_at, refusal).unwrap();
    assert_eq!(core.room_state(), RoomState::Disconnected, "not a terminal failure");
    core.handle_transport_closed(retry_at);
    assert_eq!(core.room_state(), RoomState::Disconnected);
    assert!(core.poll_timeout().is_some_and(|t| t > retry_at), "another attempt is scheduled");
}

#[test]
fn a_first_join_over_the_connection_cap_fails_with_4429() {
    let info = SelfInfo { permissions: Permissions::group_call_host(), ..SelfInfo::default() };
    let mut core = Participant::new(Config::new("t", info, MeetingInfo::default()));
    let join = core.command(0, Command::Join).unwrap();
    core.handle_transport_opened(0);
    while core.poll_output().is_some() {}
    core.handle_frame(0, r#"{"type":"error","error":{"code":4429,"message":"too many connections"}}"#).unwrap();
    let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    let err = resolved(&outputs, join).expect("the join is settled").unwrap_err();
    assert_eq!(err.code(), 4429);
    assert_eq!(core.room_state(), RoomState::Init);
}

#[test]
fn a_grant_beyond_the_senders_own_permissions_is_refused_locally_with_1201() {
    // The host may change permissions but not kick: it cannot give kicking to bob.
    let mut w = World::new();
    let no_kick = convene_core::PermissionsPatch { kick_participant: Some(false), ..Default::default() };
    w.add("host", "group_call_host", Some(no_kick));
    w.add("bob", "group_call_participant", None);
    w.run("host", Command::Join).unwrap();
    w.run("bob", Command::Join).unwrap();
    let bob = w.server.peer_id_of("bob").unwrap();
    let grant = convene_core::PermissionsPatch { kick_participant: Some(true), ..Default::default() };
    let refused = w.issue("host", Command::UpdatePermissions { ids: vec![bob.clone()], patch: grant });
    assert_eq!(refused.unwrap_err(), ClientError::CannotGrant { permission: "kick_participant".into() });
    let record = convene_core::PermissionsPatch { can_record: Some(true), ..Default::default() };
    assert!(w.run("host", Command::UpdatePermissions { ids: vec![bob], patch: record }).is_ok());
    assert!(w.core("bob").permissions().can_record);
}
