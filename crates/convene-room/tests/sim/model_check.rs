//! Exhaustive exploration of the protocol: a breadth-first search over the real participant
//! cores and the real room machine together, from a fresh meeting, through every sequence of
//! actions up to a bounded depth: each participant's commands, a connection lost (with the frame
//! in flight lost too), a frame delivered twice, a server restart, the REST kick-all, and time
//! running to the next deadline. Every reachable state is checked against the invariants of the
//! property tests ([`crate::properties::check_world`], which includes the room's own).
//!
//! States are told apart by an abstraction of what matters to the rules (each peer's status and
//! connection, the session and recording, the persisted stays, each client's room state, socket
//! state, roster, pending requests), with peer ids replaced by their participants, so that paths
//! reaching the same situation are explored once. Depth and size are set by
//! `CONVENE_MODEL_DEPTH` (default below); `docs/reliability.md` records deeper runs.

use std::collections::{BTreeSet, HashSet, VecDeque};

use convene_core::permissions::{PermissionsPatch, WaitingRoomType};
use convene_core::{Actor, Command, EndReason};

use crate::harness::invariants::StoreModel;
use crate::harness::World;

/// One step of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// A participant issues a command.
    Command(usize, Cmd),
    /// A participant issues a command, and its connection drops before the frame arrives.
    CommandLost(usize, Cmd),
    /// A participant's connection drops.
    Drop(usize),
    /// The last frame a participant sent arrives a second time.
    Duplicate(usize),
    /// The server restarts.
    Restart,
    /// REST kick-all.
    ApiKickAll,
    /// Time runs to the next deadline of anyone.
    Advance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Join,
    Leave,
    KickAll,
    KickNext,
    AcceptAll,
}

/// A meeting's participants: aliases and presets.
struct Cast {
    aliases: &'static [&'static str],
    host_commands: &'static [Cmd],
    guest_commands: &'static [Cmd],
}

const TWO: Cast = Cast {
    aliases: &["host", "guest"],
    host_commands: &[Cmd::Join, Cmd::Leave, Cmd::KickAll, Cmd::KickNext, Cmd::AcceptAll],
    guest_commands: &[Cmd::Join, Cmd::Leave],
};

const THREE: Cast = Cast {
    aliases: &["host", "bob", "guest"],
    host_commands: &[Cmd::Join, Cmd::KickAll, Cmd::KickNext, Cmd::AcceptAll],
    guest_commands: &[Cmd::Join, Cmd::Leave],
};

impl Cast {
    fn world(&self) -> World {
        let mut w = World::with_keep_alive(2_000);
        for alias in self.aliases {
            match *alias {
                "host" => w.add(alias, "group_call_host", None),
                "guest" => {
                    let wait = WaitingRoomType::SkipOnAccept;
                    let patch = PermissionsPatch { waiting_room_type: Some(wait), ..Default::default() };
                    w.add(alias, "group_call_participant", Some(patch));
                }
                _ => w.add(alias, "group_call_participant", None),
            }
        }
        w
    }

    fn actions(&self) -> Vec<Action> {
        let mut actions = Vec::new();
        for (i, alias) in self.aliases.iter().enumerate() {
            let commands = if *alias == "host" { self.host_commands } else { self.guest_commands };
            actions.extend(commands.iter().map(|c| Action::Command(i, *c)));
            actions.push(Action::CommandLost(i, commands[0]));
            actions.push(Action::Drop(i));
            actions.push(Action::Duplicate(i));
        }
        actions.extend([Action::Restart, Action::ApiKickAll, Action::Advance]);
        actions
    }

    fn command(&self, w: &World, who: usize, cmd: Cmd) -> Command {
        let next = self.aliases[(who + 1) % self.aliases.len()];
        match cmd {
            Cmd::Join => Command::Join,
            Cmd::Leave => Command::Leave,
            Cmd::KickAll => Command::KickAll,
            Cmd::KickNext => Command::Kick { peer_id: w.server.peer_id_of(next).unwrap_or_default() },
            Cmd::AcceptAll => Command::AcceptAllWaiting,
        }
    }

    fn apply(&self, w: &mut World, action: Action) {
        let now = w.now;
        match action {
            Action::Command(who, cmd) => {
                let command = self.command(w, who, cmd);
                let _ = w.issue(self.aliases[who], command);
                w.settle();
            }
            Action::CommandLost(who, cmd) => {
                let command = self.command(w, who, cmd);
                if let Some(conn) = w.client(self.aliases[who]).conn {
                    let _ = w.issue(self.aliases[who], command);
                    w.server.drop_conn(now, conn);
                }
                w.settle();
            }
            Action::Drop(who) => w.drop_connection(self.aliases[who]),
            Action::Duplicate(who) => {
                let client = w.client(self.aliases[who]);
                if let (Some(conn), Some(frame)) = (client.conn, client.last_sent.clone()) {
                    w.server.handle(now, conn, frame);
                }
                w.settle();
            }
            Action::Restart => {
                w.server.restart(now);
                w.settle();
            }
            Action::ApiKickAll => {
                w.server.end_session(now, EndReason::HostEndedMeeting, Actor::Api);
                w.settle();
            }
            Action::Advance => {
                let next =
                    w.clients.values().filter_map(|c| c.core.poll_timeout()).chain(w.server.next_deadline()).min();
                if let Some(t) = next {
                    w.advance(t.saturating_sub(now).max(1));
                }
            }
        }
    }

    /// The world after `path`, from the start.
    fn replay(&self, path: &[Action]) -> World {
        let mut w = self.world();
        for action in path {
            self.apply(&mut w, *action);
        }
        w
    }
}

/// What tells two states apart, with peer ids replaced by their participants.
fn fingerprint(w: &World) -> String {
    let room = w.server.room();
    let peers: Vec<_> = room.peers().collect();
    let who = |peer_id: &str| peers.iter().find(|p| p.peer.id == peer_id).map_or("gone", |p| p.peer.user_id.as_str());
    let room_peers: BTreeSet<String> =
        peers.iter().map(|p| format!("{}:{:?}:{}", p.peer.user_id, p.status, p.conn.is_some())).collect();
    let model = StoreModel::replay(&w.server.writes).expect("the writes replay");
    let stays: BTreeSet<&str> = model.open_stays.keys().map(|p| who(p)).collect();
    let clients: Vec<String> = w
        .clients
        .iter()
        .map(|(alias, c)| {
            let core = &c.core;
            let joined: BTreeSet<&str> = core.roster().joined().keys().map(|p| who(p)).collect();
            let waiting: BTreeSet<&str> = core.roster().waitlisted().keys().map(|p| who(p)).collect();
            format!(
                "{alias}:{}:{:?}:{joined:?}:{waiting:?}:{}:{}",
                core.room_state(),
                core.socket_state(),
                core.pending_requests(),
                c.conn.is_some()
            )
        })
        .collect();
    format!(
        "{room_peers:?}|{}|{:?}|{stays:?}|{}|{clients:?}",
        room.session_id().is_some(),
        room.recording_state(),
        w.server.ended_sessions.len().min(3)
    )
}

/// What a search found.
#[derive(Debug)]
struct Explored {
    states: usize,
    transitions: usize,
    depth: usize,
}

fn explore(cast: &Cast, max_depth: usize) -> Explored {
    let actions = cast.actions();
    let start = cast.world();
    let mut seen = HashSet::from([fingerprint(&start)]);
    let mut frontier = VecDeque::from([Vec::<Action>::new()]);
    let (mut transitions, mut depth) = (0, 0);
    while let Some(path) = frontier.pop_front() {
        if path.len() == max_depth {
            continue;
        }
        for action in &actions {
            let mut next = path.clone();
            next.push(*action);
            let w = cast.replay(&next);
            transitions += 1;
            if let Err(broken) = crate::properties::check_world(&w) {
                panic!("after {next:?}: {broken}");
            }
            if seen.insert(fingerprint(&w)) {
                depth = depth.max(next.len());
                frontier.push_back(next);
            }
        }
    }
    Explored { states: seen.len(), transitions, depth }
}

fn depth(default: usize) -> usize {
    std::env::var("CONVENE_MODEL_DEPTH").ok().and_then(|d| d.parse().ok()).unwrap_or(default)
}

#[test]
fn two_participants_every_sequence_to_the_bound_keeps_the_invariants() {
    // Depth 10 exhausts this abstraction (no new state beyond it); 12 shows that.
    let found = explore(&TWO, depth(12));
    eprintln!("model check, two participants: {found:?}");
    assert!(found.states > 300 && found.depth >= 10, "the search reached only {found:?}");
}

#[test]
fn three_participants_every_sequence_to_the_bound_keeps_the_invariants() {
    let found = explore(&THREE, depth(5));
    eprintln!("model check, three participants: {found:?}");
    assert!(found.states > 300 && found.transitions > 2_000, "the search reached only {found:?}");
}
