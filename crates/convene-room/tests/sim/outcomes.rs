//! The room's outcome table: every sender status (a peer that has said hello, one in the waiting
//! room, a joined participant, a joined host) against every command a connection can send, each
//! with its defined answer. The match over [`ClientMessage`] is exhaustive, so a new command does
//! not compile until it has a row.

use std::collections::BTreeMap;

use convene_core::permissions::{Permissions, PermissionsPatch, WaitingRoomType};
use convene_core::proto::{ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION};

use crate::harness::{ConnId, SimServer};

/// Who sends the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Sender {
    /// Said hello; has not asked to join.
    Joining,
    /// In the waiting room.
    Waiting,
    /// In the session, without host powers.
    Participant,
    /// In the session, with host powers.
    Host,
}

const SENDERS: [Sender; 4] = [Sender::Joining, Sender::Waiting, Sender::Participant, Sender::Host];

/// The first thing the sender hears back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Pong,
    Reply,
    Error(ErrorCode),
}

/// A room with one peer in each status; the connections by sender.
fn room() -> (SimServer, BTreeMap<Sender, ConnId>) {
    let mut s = SimServer::new(60_000);
    let waiting = PermissionsPatch { waiting_room_type: Some(WaitingRoomType::SkipOnAccept), ..Default::default() };
    let mut waiting_perms = Permissions::group_call_participant();
    waiting_perms.apply(&waiting);
    let regs = [
        (Sender::Host, "host", Permissions::group_call_host()),
        (Sender::Participant, "participant", Permissions::group_call_participant()),
        (Sender::Waiting, "waiting", waiting_perms),
        (Sender::Joining, "joining", Permissions::group_call_participant()),
    ];
    let mut conns = BTreeMap::new();
    for (sender, alias, permissions) in regs {
        let reg = s.register(alias, "preset", permissions);
        let conn = s.open().expect("online");
        s.handle(0, conn, ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: reg.token, resume: None });
        if sender != Sender::Joining {
            s.handle(0, conn, ClientMessage::Join { req: 1, name: None });
        }
        conns.insert(sender, conn);
    }
    s.outbox.clear();
    (s, conns)
}

/// Every command, aimed where it makes sense (the host kicks the participant, the others aim
/// at the host; waiting-room commands name the waiting peer).
fn commands(s: &SimServer, from: Sender) -> Vec<ClientMessage> {
    let peer = |alias: &str| s.peer_id_of(alias).expect("peer");
    let other = if from == Sender::Host { peer("participant") } else { peer("host") };
    let patch = PermissionsPatch { kick_participant: Some(false), ..Default::default() };
    let hello = ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: "token-host".into(), resume: None };
    vec![
        ClientMessage::Ping {},
        hello,
        ClientMessage::Join { req: 7, name: None },
        ClientMessage::Leave { req: 7 },
        ClientMessage::Kick { req: 7, peer_id: other.clone() },
        ClientMessage::KickAll { req: 7 },
        ClientMessage::AcceptWaiting { req: 7, peer_ids: vec![peer("waiting")] },
        ClientMessage::RejectWaiting { req: 7, peer_id: peer("waiting") },
        ClientMessage::Pin { req: 7, peer_id: other.clone(), pinned: true },
        ClientMessage::UpdatePermissions { req: 7, peer_ids: vec![other], patch },
        ClientMessage::StartRecording { req: 7, allow_multiple: false },
        ClientMessage::StopRecording { req: 7, recording_id: None },
        ClientMessage::PauseRecording { req: 7, recording_id: None },
        ClientMessage::ResumeRecording { req: 7, recording_id: None },
    ]
}

/// The defined outcome of each (sender, command) pair.
fn expected(from: Sender, msg: &ClientMessage) -> Answer {
    use Answer::{Error, Pong, Reply};
    let joined = matches!(from, Sender::Participant | Sender::Host);
    let host = from == Sender::Host;
    let denied = Error(ErrorCode::PermissionDenied);
    match msg {
        ClientMessage::Ping {} => Pong,
        ClientMessage::Hello { .. } => Error(ErrorCode::MalformedFrame),
        ClientMessage::Join { .. } if from == Sender::Joining => Reply,
        ClientMessage::Join { .. } => Error(ErrorCode::AlreadyJoining),
        ClientMessage::Leave { .. } => Reply,
        ClientMessage::Kick { .. }
        | ClientMessage::KickAll { .. }
        | ClientMessage::AcceptWaiting { .. }
        | ClientMessage::RejectWaiting { .. }
        | ClientMessage::Pin { .. }
        | ClientMessage::UpdatePermissions { .. } => {
            if joined && host {
                Reply
            } else {
                denied
            }
        }
        ClientMessage::StartRecording { .. } if joined && host => Reply,
        ClientMessage::StopRecording { .. }
        | ClientMessage::PauseRecording { .. }
        | ClientMessage::ResumeRecording { .. }
            if joined && host =>
        {
            Error(ErrorCode::RecordingNotStarted)
        }
        ClientMessage::StartRecording { .. }
        | ClientMessage::StopRecording { .. }
        | ClientMessage::PauseRecording { .. }
        | ClientMessage::ResumeRecording { .. } => Error(ErrorCode::RecordingPermissionDenied),
    }
}

fn answer(s: &SimServer, conn: ConnId) -> Option<Answer> {
    s.outbox.iter().filter(|(c, _)| *c == conn).find_map(|(_, m)| match m {
        ServerMessage::Pong => Some(Answer::Pong),
        ServerMessage::Reply { .. } => Some(Answer::Reply),
        ServerMessage::Error { error, .. } => ErrorCode::from_code(error.code).map(Answer::Error),
        _ => None,
    })
}

#[test]
fn every_status_against_every_command() {
    let mut rows = 0;
    for from in SENDERS {
        let count = commands(&room().0, from).len();
        for i in 0..count {
            let (mut s, conns) = room();
            let msg = commands(&s, from).swap_remove(i);
            let want = expected(from, &msg);
            s.handle(1_000, conns[&from], msg.clone());
            let got = answer(&s, conns[&from]);
            assert_eq!(got, Some(want), "{from:?} sending {msg:?}");
            harness_checks(&s, from, &msg);
            rows += 1;
        }
    }
    assert_eq!(rows, 56, "4 senders x 14 commands");
}

/// Beyond the answer: the room's invariants hold after every row.
fn harness_checks(s: &SimServer, from: Sender, msg: &ClientMessage) {
    if let Err(broken) = crate::harness::invariants::check_server(s) {
        panic!("{from:?} sending {msg:?}: {broken}");
    }
}

#[test]
fn frames_of_unknown_connections_change_nothing() {
    let (mut s, _) = room();
    let before: Vec<_> = s.room().peers().collect();
    let stranger = s.open().expect("online");
    s.close(1_000, stranger);
    for msg in commands(&s, Sender::Host) {
        s.handle(1_000, stranger, msg);
    }
    assert!(s.outbox.is_empty(), "{:?}", s.outbox);
    assert_eq!(s.room().peers().collect::<Vec<_>>(), before);
}

#[test]
fn a_first_frame_other_than_hello_is_refused_and_closed() {
    let (mut s, _) = room();
    let conn = s.open().expect("online");
    s.handle(1_000, conn, ClientMessage::Join { req: 1, name: None });
    assert_eq!(answer(&s, conn), Some(Answer::Error(ErrorCode::MalformedFrame)));
    assert!(s.closed.contains(&conn));
}

#[test]
fn a_lost_connection_leaves_each_status_as_defined() {
    for from in SENDERS {
        let (mut s, conns) = room();
        let peer = s.room().peers().find(|p| p.conn.map(|c| c.0) == Some(conns[&from])).expect("peer").peer.id;
        s.close(1_000, conns[&from]);
        let after = s.room().peers().find(|p| p.peer.id == peer);
        match from {
            // A peer that never asked to join is forgotten; the others are away, may resume.
            Sender::Joining => assert!(after.is_none(), "{from:?}"),
            _ => assert!(after.is_some_and(|p| p.conn.is_none()), "{from:?}"),
        }
        crate::harness::invariants::check_server(&s).unwrap_or_else(|e| panic!("{from:?}: {e}"));
    }
}
