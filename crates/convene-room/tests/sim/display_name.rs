//! `meeting.self.setName` before joining: the join carries the chosen name, the room names the
//! stay so, and everyone (the participant itself, the others, a resume) sees it. Both sides'
//! checks: the core refuses locally, the room refuses a crafted frame, and neither changes state.

use convene_core::permissions::PermissionsPatch;
use convene_core::proto::{ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION};
use convene_core::{ClientError, Command, Event, Permissions, RoomState};

use crate::harness::{SimServer, World};

fn name_at(w: &World, watcher: &str, of: &str) -> Option<String> {
    let user_id = w.core(of).self_info().user_id.clone();
    w.core(watcher).roster().joined().values().find(|p| p.user_id == user_id).map(|p| p.name.clone())
}

#[test]
fn a_name_chosen_before_joining_is_the_one_everyone_sees() {
    let mut w = World::new();
    w.add("bob", "group_call_participant", None);
    w.add("ada", "group_call_host", None);
    w.run("bob", Command::Join).unwrap();
    w.clients.get_mut("ada").unwrap().core.set_name("  Ada Lovelace ").unwrap();
    assert_eq!(w.core("ada").self_info().name, "Ada Lovelace", "trimmed, and meeting.self.name at once");
    w.run("ada", Command::Join).unwrap();
    assert_eq!(w.core("ada").self_info().name, "Ada Lovelace", "the welcome keeps the chosen name");
    assert_eq!(name_at(&w, "bob", "ada").as_deref(), Some("Ada Lovelace"));
    let seen = w
        .client("bob")
        .events
        .iter()
        .any(|e| matches!(e, Event::ParticipantJoined { participant } if participant.name == "Ada Lovelace"));
    assert!(seen, "bob's participantJoined carries the chosen name");

    // A resume keeps it: the room named the stay.
    w.drop_connection("ada");
    w.advance(5_000);
    w.settle();
    assert_eq!(w.core("ada").room_state(), RoomState::Joined);
    assert_eq!(w.core("ada").self_info().name, "Ada Lovelace");
    assert_eq!(name_at(&w, "bob", "ada").as_deref(), Some("Ada Lovelace"));
}

#[test]
fn the_core_refuses_a_name_after_joining_without_the_permission_or_out_of_bounds() {
    let mut w = World::new();
    let no_edit = PermissionsPatch { can_edit_display_name: Some(false), ..Default::default() };
    w.add("ada", "group_call_host", None);
    w.add("bob", "group_call_host", Some(no_edit));
    let bob_name = w.core("bob").self_info().name.clone();
    let bob = &mut w.clients.get_mut("bob").unwrap().core;
    assert_eq!(bob.set_name("Robert"), Err(ClientError::PermissionDenied { permission: "can_edit_display_name" }));
    assert_eq!(bob.self_info().name, bob_name, "unchanged");
    let ada = &mut w.clients.get_mut("ada").unwrap().core;
    for bad in ["", "   ", &"x".repeat(201)] {
        assert!(matches!(ada.set_name(bad), Err(ClientError::InvalidArgument(_))), "{bad:?}");
    }
    ada.set_name(&"é".repeat(200)).expect("200 characters, whatever their bytes");
    w.run("ada", Command::Join).unwrap();
    let ada = &mut w.clients.get_mut("ada").unwrap().core;
    assert!(matches!(ada.set_name("Later"), Err(ClientError::InvalidArgument(_))), "only before join()");
    assert_eq!(ada.self_info().name, "é".repeat(200));
}

/// The room's own check, for a client that skips the core's.
#[test]
fn the_room_refuses_a_crafted_join_whose_name_it_may_not_take() {
    let mut s = SimServer::new(60_000);
    let mut no_edit = Permissions::group_call_host();
    no_edit.can_edit_display_name = false;
    let cases = [
        (no_edit, "Mallory", ErrorCode::PermissionDenied),
        (Permissions::group_call_host(), " ", ErrorCode::InvalidArgument),
    ];
    for (i, (permissions, name, code)) in cases.into_iter().enumerate() {
        let reg = s.register(&format!("p{i}"), "preset", permissions);
        let conn = s.open().expect("online");
        s.handle(0, conn, ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: reg.token, resume: None });
        s.outbox.clear();
        s.handle(0, conn, ClientMessage::Join { req: 1, name: Some(name.into()) });
        let answers: Vec<&ServerMessage> = s.outbox.iter().filter(|(c, _)| *c == conn).map(|(_, m)| m).collect();
        assert!(
            matches!(answers.as_slice(), [ServerMessage::Error { req: Some(1), error }] if error.code == code.code()),
            "{name:?}: {answers:?}"
        );
        assert!(s.joined_peer_ids().is_empty(), "nobody joined");
    }
}

#[test]
fn names_with_control_characters_are_refused_on_both_sides() {
    let mut w = World::new();
    w.add("ada", "group_call_host", None);
    let ada = &mut w.clients.get_mut("ada").unwrap().core;
    for bad in ["a\u{0}", "line\nbreak", "\u{7f}del"] {
        assert!(matches!(ada.set_name(bad), Err(ClientError::InvalidArgument(_))), "{bad:?}");
    }
    let mut s = SimServer::new(60_000);
    let reg = s.register("p", "preset", Permissions::group_call_host());
    let conn = s.open().expect("online");
    s.handle(0, conn, ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: reg.token, resume: None });
    s.outbox.clear();
    s.handle(0, conn, ClientMessage::Join { req: 1, name: Some("a\u{0}".into()) });
    let refused = s.outbox.iter().any(|(c, m)| {
        *c == conn
            && matches!(m, ServerMessage::Error { req: Some(1), error } if error.code == ErrorCode::InvalidArgument.code())
    });
    assert!(refused, "{:?}", s.outbox);
    assert!(s.joined_peer_ids().is_empty());
}

/// A name chosen while the preset allowed it, and a preset that no longer does by the welcome:
/// the join goes without it (the room would refuse it), under the record's name.
#[test]
fn a_name_the_preset_no_longer_allows_is_dropped_at_the_welcome() {
    use convene_core::proto::{MeetingInfo, SelfInfo};
    use convene_core::{Config, Output, Participant};
    let info = SelfInfo { name: "record".into(), permissions: Permissions::group_call_host(), ..SelfInfo::default() };
    let mut core = Participant::new(Config::new("t", info.clone(), MeetingInfo::default()));
    core.set_name("Chosen").unwrap();
    core.command(0, Command::Join).unwrap();
    core.handle_transport_opened(0);
    let mut now_info = info;
    now_info.permissions.can_edit_display_name = false;
    let welcome = serde_json::json!({
        "type": "welcome", "protocol": 1, "peer_id": "me", "resumed": false,
        "self": now_info, "meeting": {"id": "m", "title": "t"},
    });
    core.handle_frame(0, &welcome.to_string()).unwrap();
    let joins: Vec<ClientMessage> = std::iter::from_fn(|| core.poll_output())
        .filter_map(|o| match o {
            Output::Transmit(m @ ClientMessage::Join { .. }) => Some(m),
            _ => None,
        })
        .collect();
    assert!(matches!(joins.as_slice(), [ClientMessage::Join { name: None, .. }]), "{joins:?}");
    assert_eq!(core.self_info().name, "record");
}
