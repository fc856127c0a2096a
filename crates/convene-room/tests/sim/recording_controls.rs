//! `meeting.recording` over the socket: `start({ allowMultiple })`, `pause`, `resume` and
//! `stop(recordingId)`, each with the recording's id, as everyone (a late joiner too) sees it.

use convene_core::permissions::PermissionsPatch;
use convene_core::proto::{ClientMessage, ErrorCode, ServerMessage};
use convene_core::{ClientError, Command, RecordingState};

use crate::harness::World;

fn recording_at(w: &World, alias: &str) -> Option<(String, RecordingState)> {
    w.core(alias).recording().map(|(id, state)| (id.to_owned(), state))
}

#[test]
fn pause_resume_and_stop_by_id_reach_everyone_with_the_recordings_id() {
    let mut w = World::new();
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_participant", None);
    w.run("host", Command::Join).unwrap();
    w.run("bob", Command::Join).unwrap();
    w.run("host", Command::StartRecording { allow_multiple: true }).unwrap();
    let (id, state) = recording_at(&w, "host").expect("a recording");
    assert_eq!(state, RecordingState::Recording);
    assert_eq!(recording_at(&w, "bob"), Some((id.clone(), RecordingState::Recording)));
    assert_eq!(
        w.run("host", Command::StartRecording { allow_multiple: true }),
        Err(ClientError::RecordingInProgress),
        "one recording at a time, allowMultiple or not"
    );

    w.run("host", Command::PauseRecording { id: None }).unwrap();
    assert_eq!(recording_at(&w, "bob"), Some((id.clone(), RecordingState::Paused)));
    assert_eq!(w.run("host", Command::PauseRecording { id: None }), Err(ClientError::RecordingNotStarted));
    // A late joiner's snapshot names the recording.
    w.add("carol", "group_call_participant", None);
    w.run("carol", Command::Join).unwrap();
    assert_eq!(recording_at(&w, "carol"), Some((id.clone(), RecordingState::Paused)));
    w.run("host", Command::ResumeRecording { id: Some(id.clone()) }).unwrap();
    assert_eq!(recording_at(&w, "carol"), Some((id.clone(), RecordingState::Recording)));

    let other = Some("not-this-one".to_owned());
    assert_eq!(w.run("host", Command::StopRecording { id: other }), Err(ClientError::RecordingNotStarted));
    assert_eq!(recording_at(&w, "bob").map(|(_, s)| s), Some(RecordingState::Recording), "unchanged");
    w.run("host", Command::StopRecording { id: Some(id) }).unwrap();
    for alias in ["host", "bob", "carol"] {
        assert_eq!(w.core(alias).recording_state(), RecordingState::Idle, "{alias}");
        assert_eq!(recording_at(&w, alias), None, "{alias}: no recording listed once idle");
    }
}

#[test]
fn the_room_refuses_pause_and_resume_it_cannot_do_and_changes_nothing() {
    let mut w = World::new();
    let no_record = PermissionsPatch { can_record: Some(false), ..Default::default() };
    w.add("host", "group_call_host", None);
    w.add("bob", "group_call_host", Some(no_record));
    w.run("host", Command::Join).unwrap();
    w.run("bob", Command::Join).unwrap();
    w.run("host", Command::StartRecording { allow_multiple: false }).unwrap();
    let (id, _) = recording_at(&w, "host").unwrap();
    // Crafted frames, past the core's checks: the room's own.
    let host_conn = w.client("host").conn.unwrap();
    let bob_conn = w.client("bob").conn.unwrap();
    let cases = [
        (bob_conn, ClientMessage::PauseRecording { req: 90, recording_id: None }, ErrorCode::RecordingPermissionDenied),
        (host_conn, ClientMessage::ResumeRecording { req: 91, recording_id: None }, ErrorCode::RecordingNotStarted),
        (
            host_conn,
            ClientMessage::PauseRecording { req: 92, recording_id: Some("other".into()) },
            ErrorCode::RecordingNotStarted,
        ),
        (
            host_conn,
            ClientMessage::StopRecording { req: 93, recording_id: Some("other".into()) },
            ErrorCode::RecordingNotStarted,
        ),
    ];
    for (conn, msg, code) in cases {
        w.server.outbox.clear();
        let now = w.now;
        w.server.handle(now, conn, msg.clone());
        let answer = w.server.outbox.iter().find(|(c, _)| *c == conn).map(|(_, m)| m.clone());
        assert!(
            matches!(&answer, Some(ServerMessage::Error { error, .. }) if error.code == code.code()),
            "{msg:?}: {answer:?}"
        );
        assert!(
            !w.server.outbox.iter().any(|(_, m)| matches!(m, ServerMessage::Event { .. })),
            "{msg:?}: nobody was told anything"
        );
    }
    w.server.outbox.clear();
    w.settle();
    assert_eq!(recording_at(&w, "bob"), Some((id, RecordingState::Recording)), "still recording");
}

/// A joiner while the recording's file is still opening sees `STARTING` with its id, as the
/// others were told, and then `RECORDING` with everyone.
#[test]
fn a_joiner_while_the_file_opens_sees_starting_then_recording() {
    let mut w = World::new();
    w.add("host", "group_call_host", None);
    w.add("carol", "group_call_participant", None);
    w.run("host", Command::Join).unwrap();
    w.server.hold_recording_opens = true;
    w.issue("host", Command::StartRecording { allow_multiple: false }).unwrap();
    w.settle();
    assert_eq!(w.core("host").recording_state(), RecordingState::Starting);
    w.run("carol", Command::Join).unwrap();
    let (id, state) = recording_at(&w, "carol").expect("the snapshot names the recording");
    assert_eq!(state, RecordingState::Starting);
    assert_eq!(w.run("carol", Command::StopRecording { id: None }), Err(ClientError::RecordingPermissionDenied));
    let now = w.now;
    w.server.open_held_recordings(now);
    w.settle();
    for alias in ["host", "carol"] {
        assert_eq!(recording_at(&w, alias), Some((id.clone(), RecordingState::Recording)), "{alias}");
    }
}
