//! The replay of one client's story after the end: on the wire (what the proxy wrote), per
//! connection of its final stay, event `seq`s strictly increase, a resume replays only events after
//! the client's `last_seq` from a `seq` it was given, a refused resume ends the stay the way its
//! fate says, and the roster replayed from the events ends as the server's truth; in the client,
//! `participantJoined`/`participantLeft` replayed on its first snapshot give the roster it holds.

use std::collections::{BTreeMap, BTreeSet};

use convene_client::Event;
use convene_core::proto::{ResumeRefusal, SessionEvent};

use super::context::Ctx;
use super::plan::Fate;
use super::report::Report;

/// Checks one client's wire record (its final stay) and its own event stream.
pub fn check_wire_and_events(
    ctx: &Ctx,
    i: usize,
    rosters: &BTreeMap<usize, BTreeSet<String>>,
    truth: &BTreeSet<String>,
    errors: &mut Vec<String>,
    report: &mut Report,
) {
    let slot = &ctx.slots[i];
    let Some(me) = slot.peer_id() else {
        errors.push(format!("{} has no peer id", slot.name));
        return;
    };
    let seen = ctx.wire.signalling(i);
    for s in &seen {
        for g in &s.garbage {
            errors.push(format!("{}: {g}", slot.name));
        }
    }
    let stay: Vec<_> = seen.iter().filter(|s| s.peer() == Some(me.as_str())).collect();
    if stay.is_empty() {
        errors.push(format!("{}: no connection of its stay on the wire", slot.name));
        return;
    }
    let mut effective: Vec<(u64, SessionEvent)> = Vec::new();
    let mut delivered: BTreeSet<u64> = BTreeSet::new();
    let mut last_resume = 0;
    for (k, conn) in stay.iter().enumerate() {
        let mut floor = 0;
        if k == 0 {
            if conn.hello != Some(None) || conn.welcome.as_ref().is_some_and(|(_, resumed)| *resumed) {
                errors.push(format!("{}: its stay did not start with a fresh hello and welcome", slot.name));
            }
        } else {
            match &conn.hello {
                Some(Some(resume)) => {
                    let from = resume.last_seq;
                    if from != 0 && from != last_resume && !delivered.contains(&from) {
                        errors.push(format!("{}: resumed from seq {from}, never given to it", slot.name));
                    }
                    let before = effective.len();
                    effective.retain(|(s, _)| *s <= from);
                    report.unapplied_after_cut += (before - effective.len()) as u64;
                    floor = from;
                    last_resume = from;
                    if conn.welcome.as_ref().is_some_and(|(_, resumed)| *resumed) {
                        report.wire_resumes += 1;
                    }
                }
                other => errors.push(format!("{}: a later connection of its stay said hello {other:?}", slot.name)),
            }
        }
        let mut last = floor;
        for (seq, event) in &conn.events {
            if *seq <= last {
                errors.push(format!(
                    "{}: seq {seq} after {last} on connection {} (resumed from {floor}): delivered twice or out of order",
                    slot.name, conn.conn
                ));
            }
            last = last.max(*seq);
            delivered.insert(*seq);
            effective.push((*seq, event.clone()));
        }
    }
    // A refused resume ends a stay, the way its fate says.
    for (k, conn) in stay.iter().enumerate() {
        let Some(refusal) = &conn.refused else { continue };
        report.resume_refusals += 1;
        let fits = matches!(
            (slot.fate, refusal),
            (Fate::Stay, ResumeRefusal::SessionEnded { .. })
                | (Fate::Kick { .. }, ResumeRefusal::Kicked { .. })
                | (Fate::Partition, ResumeRefusal::Expired)
        );
        if !fits || k + 1 != stay.len() {
            errors.push(format!("{}: resume refused {refusal:?} on connection {k} of {}", slot.name, stay.len()));
        }
    }
    // The roster as the wire told it.
    let mut roster: Option<BTreeSet<String>> = None;
    let mut first_snapshot: Option<BTreeSet<String>> = None;
    for (seq, event) in &effective {
        match event {
            SessionEvent::Joined { room } => {
                let set: BTreeSet<String> = room.peers.iter().map(|p| p.id.clone()).filter(|p| *p != me).collect();
                if roster.is_some() {
                    report.resync_snapshots += 1;
                } else {
                    first_snapshot = Some(set.clone());
                }
                roster = Some(set);
            }
            SessionEvent::PeerJoined { peer } => {
                let added = roster.as_mut().is_some_and(|r| r.insert(peer.id.clone()));
                if !added {
                    errors.push(format!("{}: wire seq {seq}: {} joined while present", slot.name, peer.id));
                }
            }
            SessionEvent::PeerLeft { peer_id } | SessionEvent::PeerKicked { peer_id, .. } => {
                let removed = roster.as_mut().is_some_and(|r| r.remove(peer_id));
                if !removed {
                    errors.push(format!("{}: wire seq {seq}: {peer_id} left while absent", slot.name));
                }
            }
            _ => {}
        }
    }
    let Some(held) = rosters.get(&i) else { return };
    let others: BTreeSet<String> = truth.iter().filter(|p| **p != me).cloned().collect();
    if roster.as_ref() != Some(&others) {
        errors.push(format!("{}: the wire's roster differs from the server's truth", slot.name));
    }
    // The client's own events, replayed on its first snapshot.
    let mut set = first_snapshot.unwrap_or_default();
    let mut joined = false;
    for e in slot.events.lock().unwrap().iter() {
        match e {
            Event::RoomJoined { reconnected: false } => joined = true,
            Event::ParticipantJoined { participant } => {
                let added = joined && set.insert(participant.id.clone());
                if !added {
                    errors.push(format!("{}: participantJoined {} while present", slot.name, participant.id));
                }
            }
            Event::ParticipantLeft { participant } => {
                let removed = set.remove(&participant.id);
                if !removed {
                    errors.push(format!("{}: participantLeft {} while absent", slot.name, participant.id));
                }
            }
            _ => {}
        }
    }
    if &set != held {
        errors.push(format!("{}: its events give {} peers, it holds {}", slot.name, set.len(), held.len()));
    }
    if held != &others {
        errors.push(format!("{}: it holds {} peers, the server {}", slot.name, held.len(), others.len()));
    }
}
