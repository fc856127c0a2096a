//! Runs a scenario file against the real room machine. Returns a readable error on the first step
//! that does not behave.

use std::collections::BTreeSet;

use convene_core::scenario::{find_in_order, matches, resolve_aliases, Scenario, Step};
use convene_core::{Actor, ClientError, Command, CommandOk, EndReason};
use serde_json::Value;

use super::World;

/// Per-participant cursor into the event list.
type Cursors = std::collections::BTreeMap<String, usize>;

/// Runs `scenario`; `Err` names the failing step.
pub fn run(scenario: &Scenario) -> Result<World, String> {
    let mut world = World::with_keep_alive(scenario.meeting.keep_alive_secs * 1_000);
    world.server.set_title(&scenario.meeting.title);
    for (alias, setup) in &scenario.participants {
        world.add(alias, &setup.preset, setup.permissions);
    }
    let mut cursors = Cursors::new();
    let mut peer_ids = std::collections::BTreeMap::<String, String>::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let at = format!("{}: step {} ({step:?})", scenario.name, i + 1);
        run_step(&mut world, step, &mut cursors, &mut peer_ids).map_err(|e| format!("{at}: {e}"))?;
        // Remember every peer id ever seen, so expectations can name participants who left.
        for (alias, client) in &world.clients {
            if let Some(id) = client.core.peer_id() {
                peer_ids.insert(alias.clone(), id.to_owned());
            }
        }
    }
    Ok(world)
}

fn command_step(world: &mut World, who: &str, command: Command, error: Option<u16>) -> Result<(), String> {
    let outcome: Result<CommandOk, ClientError> = world.run(who, command);
    match (outcome, error) {
        (Ok(_), None) => Ok(()),
        (Err(e), Some(code)) if e.code() == code => Ok(()),
        (Err(e), Some(code)) => Err(format!("expected error {code}, got {} ({e})", e.code())),
        (Err(e), None) => Err(format!("unexpected error {} ({e})", e.code())),
        (Ok(_), Some(code)) => Err(format!("expected error {code}, but it succeeded")),
    }
}

fn run_step(
    world: &mut World,
    step: &Step,
    cursors: &mut Cursors,
    peer_ids: &mut std::collections::BTreeMap<String, String>,
) -> Result<(), String> {
    let pid = |world: &World, alias: &str| -> String {
        world.server.peer_id_of(alias).or_else(|| peer_ids.get(alias).cloned()).unwrap_or_else(|| alias.to_owned())
    };
    match step {
        Step::Join { who, error } => command_step(world, who, Command::Join, *error),
        Step::Leave { who, error } => command_step(world, who, Command::Leave, *error),
        Step::Kick { who, target, error } => {
            let peer_id = pid(world, target);
            command_step(world, who, Command::Kick { peer_id }, *error)
        }
        Step::KickAll { who, error } => command_step(world, who, Command::KickAll, *error),
        Step::Pin { who, target, pinned, error } => {
            let id = pid(world, target);
            command_step(world, who, Command::Pin { id, pinned: *pinned }, *error)
        }
        Step::Accept { who, targets, error } => {
            let ids = targets.iter().map(|t| pid(world, t)).collect();
            command_step(world, who, Command::AcceptWaiting { ids }, *error)
        }
        Step::AcceptAll { who, error } => command_step(world, who, Command::AcceptAllWaiting, *error),
        Step::Reject { who, target, error } => {
            let id = pid(world, target);
            command_step(world, who, Command::RejectWaiting { id }, *error)
        }
        Step::UpdatePermissions { who, targets, patch, error } => {
            let ids = targets.iter().map(|t| pid(world, t)).collect();
            command_step(world, who, Command::UpdatePermissions { ids, patch: *patch }, *error)
        }
        Step::StartRecording { who, error } => {
            command_step(world, who, Command::StartRecording { allow_multiple: false }, *error)
        }
        Step::StopRecording { who, error } => command_step(world, who, Command::StopRecording { id: None }, *error),
        Step::ApiKickAll => {
            let now = world.now;
            world.server.end_session(now, EndReason::HostEndedMeeting, Actor::Api);
            world.settle();
            Ok(())
        }
        Step::ApiKick { target } => {
            let now = world.now;
            if !world.server.api_kick(now, target) {
                return Err(format!("{target} is not in the session"));
            }
            world.settle();
            Ok(())
        }
        Step::ApiSetStatus { status } => {
            let active = match status.as_str() {
                "ACTIVE" => true,
                "INACTIVE" => false,
                other => return Err(format!("unknown status {other}")),
            };
            let now = world.now;
            world.server.set_active(now, active);
            Ok(())
        }
        Step::Drop { who } => {
            world.drop_connection(who);
            Ok(())
        }
        Step::ServerOffline => {
            let now = world.now;
            world.server.set_online(now, false);
            world.settle();
            Ok(())
        }
        Step::ServerOnline => {
            let now = world.now;
            world.server.set_online(now, true);
            world.settle();
            Ok(())
        }
        Step::Wait { ms } => {
            world.advance(*ms);
            Ok(())
        }
        Step::Expect {
            who,
            events,
            absent,
            counts,
            room_state,
            recording_state,
            waitlist_status,
            joined,
            waitlisted,
            permissions,
            pinned,
        } => {
            let resolve = |v: &Value| resolve_aliases(v, &|a| Some(pid(world, a)));
            let all = world.payloads(who);
            let from = *cursors.get(who).unwrap_or(&0);
            let window = &all[from..];
            let patterns: Vec<Value> = events.iter().map(resolve).collect();
            let end = find_in_order(&patterns, window)
                .map_err(|p| format!("{who}: no event matching {p} among {}", Value::from(window.to_vec())))?;
            for pattern in absent.iter().map(resolve) {
                if let Some(e) = window.iter().find(|e| matches(&pattern, e)) {
                    return Err(format!("{who}: unwanted event {e} (matches {pattern})"));
                }
            }
            cursors.insert(who.clone(), from + end);
            for (name, n) in counts {
                let got = world.count(who, name);
                if got != *n {
                    return Err(format!("{who}: {got} {name} events, expected {n}"));
                }
            }
            let core = world.core(who);
            if let Some(state) = room_state {
                if core.room_state() != *state {
                    return Err(format!("{who}: room state {}, expected {state}", core.room_state()));
                }
            }
            if let Some(state) = recording_state {
                if core.recording_state() != *state {
                    return Err(format!("{who}: recording {:?}, expected {state:?}", core.recording_state()));
                }
            }
            if let Some(status) = waitlist_status {
                if core.waitlist_status() != *status {
                    return Err(format!("{who}: waitlist status {:?}, expected {status:?}", core.waitlist_status()));
                }
            }
            let ids = |aliases: &Vec<String>| -> BTreeSet<String> { aliases.iter().map(|a| pid(world, a)).collect() };
            if let Some(expected) = joined {
                let got: BTreeSet<String> = core.roster().joined().keys().cloned().collect();
                if got != ids(expected) {
                    return Err(format!("{who}: joined map {got:?}, expected {:?}", ids(expected)));
                }
            }
            if let Some(expected) = waitlisted {
                let got: BTreeSet<String> = core.roster().waitlisted().keys().cloned().collect();
                if got != ids(expected) {
                    return Err(format!("{who}: waitlisted map {got:?}, expected {:?}", ids(expected)));
                }
            }
            if let Some(expected) = pinned {
                let mut got: BTreeSet<String> =
                    core.roster().joined().values().filter(|p| p.pinned).map(|p| p.id.clone()).collect();
                if core.is_pinned() {
                    got.insert(pid(world, who));
                }
                if got != ids(expected) {
                    return Err(format!("{who}: pinned {got:?}, expected {:?}", ids(expected)));
                }
            }
            if let Some(expected) = permissions {
                let actual = serde_json::to_value(core.permissions()).expect("permissions serialise");
                if !matches(expected, &actual) {
                    return Err(format!("{who}: permissions {actual} do not match {expected}"));
                }
            }
            Ok(())
        }
    }
}
