//! The checks of a seed, besides the replay of each client's events: whether the room has settled
//! (the condition of the calm phase), each client's final state and own story after the end, the
//! store's record of the session against the clients, and the webhooks against the store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use convene_client::{Actor, EndReason, Event, RoomState};
use convene_core::proto::SessionEvent;
use serde_json::Value;

use convene_server::store::DeliveryStatus;

use super::clients::Slot;
use super::context::Ctx;
use super::hooks::{Answer, Hooks};
use super::plan::Fate;
use super::report::Report;

/// Whether the room has settled: everyone where their fate puts them, the session's present peers
/// exactly those who stay, each of them joined and holding that roster, patches and the recording
/// state delivered.
pub fn converged(ctx: &Ctx, stayers: &[usize], present: &BTreeSet<String>) -> Result<(), String> {
    for slot in &ctx.slots {
        let want = match slot.fate {
            Fate::Stay => RoomState::Joined,
            other => other.final_state(),
        };
        if slot.state() != Some(want) {
            return Err(format!("{} is not {want}: {}", slot.name, slot.tail()));
        }
    }
    let expected: BTreeSet<String> = stayers.iter().filter_map(|i| ctx.slots[*i].peer_id()).collect();
    if &expected != present {
        return Err(format!("the session holds {present:?}, the stayers are {expected:?}"));
    }
    let recording = ctx.recording.load(Ordering::Relaxed);
    for i in stayers {
        let slot = &ctx.slots[*i];
        let me = slot.peer_id().unwrap_or_default();
        let others: BTreeSet<String> = expected.iter().filter(|p| **p != me).cloned().collect();
        let roster = slot.roster();
        if roster != others {
            let extra: Vec<&String> = roster.difference(&others).collect();
            let missing: Vec<&String> = others.difference(&roster).collect();
            return Err(format!(
                "{} holds {} peers, the server {}: extra {extra:?}, missing {missing:?}",
                slot.name,
                roster.len(),
                others.len()
            ));
        }
        if let Some((v, peer)) = ctx.spotlight.lock().unwrap().get(i) {
            if Some(peer) != slot.peer_id().as_ref() {
                return Err(format!("{} was patched as {peer}, another stay than its own", slot.name));
            }
            if slot.meeting().unwrap().self_().permissions().can_spotlight != *v {
                return Err(format!("{} lacks its last patch ({v}): {}", slot.name, patch_story(ctx, *i)));
            }
        }
        if recording && slot.meeting().unwrap().recording().state() != convene_client::RecordingState::Recording {
            return Err(format!("{} does not see the recording", slot.name));
        }
    }
    Ok(())
}

/// What the wire and the client say about a participant's permission patches (for diagnosis).
fn patch_story(ctx: &Ctx, i: usize) -> String {
    let mut story = Vec::new();
    for s in ctx.wire.signalling(i) {
        let resume = s.hello.as_ref().and_then(|h| h.as_ref()).map(|r| r.last_seq);
        story.push(format!(
            "conn {} resume {resume:?} welcome {:?} spotlight {:?}",
            s.conn, s.welcome, s.welcome_spotlight
        ));
        for (seq, e) in &s.events {
            match e {
                SessionEvent::PermissionsUpdated { patch, .. } => {
                    story.push(format!("  {seq} patch {:?}", patch.can_spotlight))
                }
                SessionEvent::Joined { .. } => story.push(format!("  {seq} snapshot")),
                _ => {}
            }
        }
    }
    for e in ctx.slots[i].events.lock().unwrap().iter() {
        match e {
            Event::PermissionsUpdate { patch, .. } => {
                story.push(format!("client: permissionsUpdate {:?}", patch.can_spotlight))
            }
            Event::RoomJoined { reconnected } => story.push(format!("client: roomJoined {reconnected}")),
            _ => {}
        }
    }
    story.join("\n")
}

/// One client's final state after the end: the state its fate puts it in, one terminal `roomLeft`,
/// one fresh `roomJoined`, and for those in until the end one `sessionEnded` (by the API) and the
/// last permission patch. Counts its resumes.
pub fn check_final_state(ctx: &Ctx, i: usize, session_id: &str, errors: &mut Vec<String>, report: &mut Report) {
    let slot = &ctx.slots[i];
    let expected = slot.fate.final_state();
    if slot.state() != Some(expected) {
        errors.push(format!("{} should be {expected}: {}", slot.name, slot.tail()));
    }
    let events = slot.events.lock().unwrap().clone();
    let terminal: Vec<&Event> =
        events.iter().filter(|e| matches!(e, Event::RoomLeft { state } if state.room_state().is_terminal())).collect();
    if terminal.len() != 1 {
        errors.push(format!("{}: {} terminal roomLeft events", slot.name, terminal.len()));
    }
    let fresh = events.iter().filter(|e| matches!(e, Event::RoomJoined { reconnected: false })).count();
    if fresh != 1 {
        errors.push(format!("{}: {fresh} roomJoined without reconnection", slot.name));
    }
    report.resumes += events.iter().filter(|e| matches!(e, Event::RoomJoined { reconnected: true })).count() as u64;
    if expected == RoomState::Ended {
        let ends: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::SessionEnded { .. })).collect();
        match ends.as_slice() {
            [Event::SessionEnded { end }]
                if end.reason == EndReason::HostEndedMeeting
                    && end.ended_by == Actor::Api
                    && end.session_id == session_id => {}
            other => errors.push(format!("{}: sessionEnded events {other:?}", slot.name)),
        }
        // Patched permissions arrived.
        if let Some((v, _)) = ctx.spotlight.lock().unwrap().get(&i) {
            let got = slot.meeting().unwrap().self_().permissions().can_spotlight;
            if got != *v {
                errors.push(format!("{}: can_spotlight {got}, the last patch set {v}", slot.name));
            }
        }
    }
}

/// The store's record of the session against the clients.
pub async fn check_store(ctx: &Ctx, session_id: &str, ended_at: &str, errors: &mut Vec<String>, report: &mut Report) {
    let stays = ctx.stays(session_id).await;
    let rest_peers = ctx.rest.all(&format!("/sessions/{session_id}/participants")).await;
    if rest_peers.len() != stays.len() {
        errors.push(format!("REST lists {} stays, the store {}", rest_peers.len(), stays.len()));
    }
    for p in &rest_peers {
        let id = p["id"].as_str().unwrap_or_default();
        let joined_at = p["joined_at"].as_str().unwrap_or_default();
        let left_at = p["left_at"].as_str().unwrap_or_default();
        if left_at.is_empty() || left_at < joined_at || left_at > ended_at {
            errors.push(format!("stay {id}: joined {joined_at}, left {left_at:?}, session ended {ended_at}"));
        }
        if stays.get(id).map(|(_, _, l)| l.as_deref().unwrap_or_default()) != Some(left_at) {
            errors.push(format!("stay {id}: REST and the store disagree"));
        }
    }
    let by_participant: BTreeMap<&str, &Slot> = ctx.slots.iter().map(|s| (s.participant_id.as_str(), &**s)).collect();
    let mut seen_final: BTreeSet<String> = BTreeSet::new();
    for (peer_id, (participant_id, outcome, left_at)) in &stays {
        let Some(slot) = by_participant.get(participant_id.as_str()) else {
            errors.push(format!("stay {peer_id} of an unknown participant {participant_id}"));
            continue;
        };
        let outcome = outcome.as_deref().unwrap_or("none");
        if slot.peer_id().as_deref() == Some(peer_id.as_str()) {
            seen_final.insert(slot.name.clone());
            let ok = match slot.fate {
                Fate::Stay => outcome == "ended" && left_at.as_deref() == Some(ended_at),
                Fate::Kick { .. } => outcome == "kicked",
                Fate::Leave => {
                    // A leave whose frame was cut is learned from the away grace running out.
                    if outcome == "expired" {
                        report.leaves_by_expiry += 1;
                    }
                    outcome == "left" || outcome == "expired"
                }
                Fate::Partition => outcome == "expired",
            };
            if !ok {
                errors.push(format!("{} ({:?}): the store says {outcome}, left at {left_at:?}", slot.name, slot.fate));
            }
        } else {
            // A join whose answer was cut: the client joined again; the first stay must have gone.
            report.ghost_stays += 1;
            let by_rest_kick = slot.fate == (Fate::Kick { by_rest: true });
            if !(outcome == "expired" || by_rest_kick && outcome == "kicked") {
                errors.push(format!("{}: an abandoned stay {peer_id} ended {outcome}", slot.name));
            }
        }
    }
    for slot in &ctx.slots {
        if !seen_final.contains(&slot.name) {
            errors.push(format!("{}: its stay is not in the store", slot.name));
        }
    }
}

/// Webhooks against the store and the session.
pub async fn check_webhooks(
    ctx: &Ctx,
    hooks: &Hooks,
    webhook_id: &str,
    session_id: &str,
    errors: &mut Vec<String>,
    report: &mut Report,
) {
    let counts = ctx.server.store().outbox_counts().await.unwrap_or_default();
    let rows: u64 = counts.iter().map(|(_, n)| n).sum();
    if counts.iter().any(|(status, _)| *status != DeliveryStatus::Delivered) {
        errors.push(format!("outbox not all delivered: {counts:?}"));
    }
    let by_uuid = hooks.by_uuid();
    let all = hooks.deliveries();
    report.webhook_events = by_uuid.len() as u64;
    report.webhook_attempts = all.len() as u64;
    report.webhook_500 = all.iter().filter(|d| d.answer == Answer::Error).count() as u64;
    report.webhook_dropped = all.iter().filter(|d| d.answer == Answer::Dropped).count() as u64;
    if by_uuid.len() as u64 != rows {
        errors.push(format!("{} distinct rtk-uuids, {rows} outbox rows", by_uuid.len()));
    }
    let mut keys: BTreeMap<String, u64> = BTreeMap::new();
    for (uuid, attempts) in &by_uuid {
        if !attempts.iter().any(|d| d.answer == Answer::Ok) {
            errors.push(format!("webhook {uuid} never accepted"));
        }
        if attempts.iter().any(|d| d.body != attempts[0].body || d.webhook_id != webhook_id) {
            errors.push(format!("webhook {uuid}: retries differ"));
        }
        let v: Value = serde_json::from_str(&attempts[0].body).unwrap_or(Value::Null);
        let event = v["event"].as_str().unwrap_or("?").to_owned();
        // The recording's last updates come after the session is gone from the room: their
        // `meeting` object has no session id then (only `recording.roomUUID` names it).
        let session_of = match event.as_str() {
            "recording.statusUpdate" => &v["recording"]["roomUUID"],
            _ => &v["meeting"]["sessionId"],
        };
        if session_of != session_id {
            errors.push(format!("webhook {event} of another session: {v}"));
        }
        let key = match event.as_str() {
            "meeting.participantJoined" | "meeting.participantLeft" => {
                format!("{event} {}", v["participant"]["peerId"].as_str().unwrap_or("?"))
            }
            "recording.statusUpdate" => format!("{event} {}", v["recording"]["status"].as_str().unwrap_or("?")),
            "meeting.ended" => format!("{event} {}", v["reason"].as_str().unwrap_or("?")),
            _ => event,
        };
        *keys.entry(key).or_default() += 1;
    }
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    expected.insert("meeting.started".into(), 1);
    expected.insert("meeting.ended HOST_ENDED_MEETING".into(), 1);
    let toggles = ctx.counters.recording_toggles.load(Ordering::Relaxed);
    for s in ["INVOKED", "RECORDING", "UPLOADING", "UPLOADED"] {
        expected.insert(format!("recording.statusUpdate {s}"), 1);
    }
    expected.insert("recording.statusUpdate RECORDING".into(), 1 + toggles);
    if toggles > 0 {
        expected.insert("recording.statusUpdate PAUSED".into(), toggles);
    }
    for (peer_id, (_, outcome, _)) in ctx.stays(session_id).await {
        expected.insert(format!("meeting.participantJoined {peer_id}"), 1);
        if outcome.as_deref() != Some("ended") {
            expected.insert(format!("meeting.participantLeft {peer_id}"), 1);
        }
    }
    if keys != expected {
        let missing: Vec<String> = expected
            .iter()
            .filter(|(k, n)| keys.get(*k) != Some(n))
            .map(|(k, n)| format!("{k} x{n} (got {})", keys.get(k).copied().unwrap_or(0)))
            .collect();
        let extra: Vec<&String> = keys.keys().filter(|k| !expected.contains_key(*k)).collect();
        errors.push(format!("webhook events differ: missing or repeated {missing:?}, unexpected {extra:?}"));
    }
}
