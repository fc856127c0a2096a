//! Regression tests for what the fuzz targets (`fuzz/fuzz_targets/`, run by `scripts/fuzz.sh`)
//! found. Each test replays the input that failed, as the frames and calls the fuzzed driver made
//! (printed by `FUZZ_TRACE=1`), and checks the invariant that failed. The crashing inputs
//! themselves are kept in the fuzz corpus (`fuzz/corpus/<target>/regression-*`), so the fuzzers
//! replay them on every run too. See docs/reliability.md.

use convene_core::proto::{MeetingInfo, SelfInfo};
use convene_core::{Command, Config, Event, Output, Participant, Permissions, RoomState};

const ME: &str = r#"{"id":"p-self","user_id":"u-self","name":"Me","custom_participant_id":"me","preset_name":"p"}"#;

fn peer(id: &str) -> String {
    format!(r#"{{"id":"{id}","user_id":"u{id}","name":"{id}","custom_participant_id":"c{id}","preset_name":"p"}}"#)
}

/// A host that asked to join, with the transport open and the welcome (peer id `p-self`) in.
/// Returns the core, the join request id and the outputs so far.
fn welcomed() -> (Participant, u64, Vec<Output>) {
    let info =
        SelfInfo { user_id: "u-self".into(), permissions: Permissions::group_call_host(), ..SelfInfo::default() };
    let mut core = Participant::new(Config::new("t", info.clone(), MeetingInfo::default()));
    let join = core.command(0, Command::Join).unwrap();
    core.handle_transport_opened(0);
    let welcome = format!(
        r#"{{"type":"welcome","protocol":1,"peer_id":"p-self","resumed":false,"self":{},"meeting":{{"id":"m","title":"t"}}}}"#,
        serde_json::to_string(&info).unwrap()
    );
    core.handle_frame(0, &welcome).unwrap();
    let outputs = std::iter::from_fn(|| core.poll_output()).collect();
    (core, join, outputs)
}

fn drain(core: &mut Participant) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn assert_roster_never_holds_self(core: &Participant) {
    let me = core.peer_id().expect("welcomed");
    assert!(!core.roster().joined().contains_key(me), "joined holds self: {:?}", core.roster().joined().keys());
    assert!(
        !core.roster().waitlisted().contains_key(me),
        "waitlisted holds self: {:?}",
        core.roster().waitlisted().keys()
    );
}

/// participant_machine, finding 1: an admission snapshot whose `self_peer` is not the peer the
/// welcome named (a server that disagrees with itself) put this participant in its own roster,
/// in `joined` and in `waitlisted`. Found after a waiting-room admission; fixed in
/// `Participant::admitted` (the snapshot's lists lose both ids).
#[test]
fn a_snapshot_naming_another_self_peer_does_not_put_self_in_the_roster() {
    let (mut core, join, _) = welcomed();
    core.handle_frame(0, r#"{"type":"event","seq":1,"event":"waitlisted"}"#).unwrap();
    core.handle_frame(0, &format!(r#"{{"type":"reply","req":{join},"data":{{}}}}"#)).unwrap();
    assert_eq!(core.room_state(), RoomState::Waitlisted);
    let snapshot = format!(
        r#"{{"type":"event","seq":2,"event":"joined","room":{{"self_peer":{},"session":{{"id":"s-1","started_at":"2026-11-25T19:00:00Z"}},"peers":[{ME},{ME},{},{}],"waitlisted":[{},{ME}],"recording":"PAUSED"}}}}"#,
        peer("p-d"),
        peer("p-a"),
        peer("p-b"),
        peer("p-b"),
    );
    core.handle_frame(0, &snapshot).unwrap();
    let outputs = drain(&mut core);
    assert!(outputs.contains(&Output::Event(Event::RoomJoined { reconnected: false })), "{outputs:?}");
    assert_eq!(core.room_state(), RoomState::Joined);
    assert_roster_never_holds_self(&core);
    assert_eq!(core.roster().joined().keys().collect::<Vec<_>>(), ["p-a", "p-b"]);
    assert_eq!(core.roster().waitlisted().keys().collect::<Vec<_>>(), ["p-b"]);

    // The same snapshot again while joined (a resynchronisation) adds nothing of self either.
    let resync = snapshot.replace(r#""seq":2"#, r#""seq":3"#);
    core.handle_frame(0, &resync).unwrap();
    let outputs = drain(&mut core);
    assert!(
        !outputs.iter().any(
            |o| matches!(o, Output::Event(Event::ParticipantJoined { participant }) if participant.id == "p-self")
        ),
        "{outputs:?}"
    );
    assert_roster_never_holds_self(&core);
}

/// participant_machine, finding 2: an error answering the join after the server had already put
/// this participant in the waiting room (or the meeting) closed the connection but kept the state
/// `waitlisted` (or `joined`): no connection, no timer, no `roomLeft`, a participant that hangs.
/// Fixed in `Participant::on_reply`: after admission the join's error only settles the request.
#[test]
fn a_join_error_after_admission_keeps_the_connection() {
    for admission in [
        r#"{"type":"event","seq":1,"event":"waitlisted"}"#.to_owned(),
        format!(
            r#"{{"type":"event","seq":1,"event":"joined","room":{{"self_peer":{ME},"session":{{"id":"s-1","started_at":"t"}},"peers":[{}]}}}}"#,
            peer("p-a")
        ),
    ] {
        let (mut core, join, _) = welcomed();
        core.handle_frame(0, &admission).unwrap();
        let state = core.room_state();
        assert!(matches!(state, RoomState::Waitlisted | RoomState::Joined), "{state}");
        // The fuzzer's input also had a stale event (seq 0) before the error; it is ignored.
        core.handle_frame(0, r#"{"type":"event","seq":0,"event":"kicked","by":{"kind":"system"}}"#).unwrap();
        drain(&mut core);
        core.handle_frame(0, &format!(r#"{{"type":"error","req":{join},"error":{{"code":4,"message":"fuzzed"}}}}"#))
            .unwrap();
        let outputs = drain(&mut core);
        assert!(
            outputs.iter().any(|o| matches!(o, Output::Resolved { req, result: Err(_) } if *req == join)),
            "the join settles with the error: {outputs:?}"
        );
        assert!(!outputs.contains(&Output::Disconnect), "{state}: the connection is kept: {outputs:?}");
        assert_eq!(core.room_state(), state);
        assert_eq!(core.socket_state().state, convene_core::SocketConnectionState::Connected);
        assert!(core.poll_timeout().is_some(), "{state}: the keep-alive timer runs");
        // The stay goes on: a later drop reconnects instead of hanging.
        core.handle_transport_closed(1);
        assert_eq!(core.room_state(), RoomState::Disconnected);
        assert!(core.poll_timeout().is_some());
    }
}

/// Before admission a refused join still closes the connection and leaves the state `init`.
#[test]
fn a_join_refused_before_admission_still_closes_the_connection() {
    let (mut core, join, _) = welcomed();
    core.handle_frame(0, &format!(r#"{{"type":"error","req":{join},"error":{{"code":2,"message":"INACTIVE"}}}}"#))
        .unwrap();
    let outputs = drain(&mut core);
    assert!(outputs.contains(&Output::Disconnect), "{outputs:?}");
    assert_eq!(core.room_state(), RoomState::Init);
    assert_eq!(core.poll_timeout(), None);
}

/// frame_decode, finding 3: a number inside opaque JSON of a frame (a plugin's config in the
/// welcome's permissions) did not survive decode, encode, decode: serde_json's default float
/// parser is not correctly rounded (`81009116903963754e30` became `8.100911690396376e46`, one unit
/// in the last place above the nearest double, and the next decode moved again). Fixed by
/// correctly rounded parsing (serde_json's `float_roundtrip`) in native builds of the core.
#[test]
fn numbers_in_opaque_json_round_trip_exactly() {
    use convene_core::proto::{decode_server, encode_server, ServerMessage};
    let mut permissions = serde_json::to_value(Permissions::group_call_host()).unwrap();
    permissions["plugins"]["config"] = serde_json::json!({"p1": {"access_control": "FULL_ACCESS", "zoom": "NUMBER"}});
    for number in ["81009116903963754e30", "1.2345678901234567e-300", "2.2250738585072014e-308", "0.1"] {
        // The number goes into the frame as text, as the server's bytes would carry it.
        let frame = format!(
            r#"{{"type":"welcome","protocol":1,"peer_id":"p","resumed":false,"self":{{"user_id":"u","name":"n","custom_participant_id":"c","preset_name":"p","permissions":{}}},"meeting":{{"id":"m","title":"t"}}}}"#,
            permissions
        )
        .replace(r#""NUMBER""#, number);
        let msg = decode_server(&frame).unwrap();
        let ServerMessage::Welcome { self_info, .. } = &msg else { panic!("{msg:?}") };
        let zoom = self_info.permissions.plugins.config["p1"]["zoom"].as_f64().unwrap();
        assert_eq!(zoom, number.parse::<f64>().unwrap(), "{number} decodes to the nearest double");
        let again = decode_server(&encode_server(&msg)).unwrap();
        assert_eq!(again, msg, "{number} round-trips");
    }
}
