//! The session's membership changes: the waiting room, admission (which starts the session),
//! kicks, leaving, and the end of the session for everyone.

use std::time::Instant;

use convene_core::proto::{CloseCode, SessionEvent, WaitlistOutcome};
use convene_core::{Actor, EndReason, RecordingState, SessionEnd};

use crate::output::{StoreWrite, WebhookEvent, WebhookKind};
use crate::payloads;
use crate::peer::{Gone, PeerStatus};
use crate::recording::Requester;
use crate::records::StayOutcome;
use crate::room::{Live, Room};

impl Room {
    /// Joined peers who receive the participant list, but `except`.
    pub(crate) fn listeners_except(&self, except: &str) -> Vec<String> {
        self.peers
            .iter()
            .filter(|(id, p)| {
                p.status == PeerStatus::Joined && id.as_str() != except && p.permissions.show_participant_list
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub(crate) fn privileged_present(&self) -> bool {
        self.peers.values().any(|p| p.status == PeerStatus::Joined && p.permissions.accept_waiting_requests)
    }

    pub(crate) fn is_waiting(&self, id: &str) -> bool {
        self.peers.get(id).is_some_and(|p| p.status == PeerStatus::Waiting)
    }

    fn hosts(&self) -> Vec<String> {
        self.peers
            .iter()
            .filter(|(_, p)| p.status == PeerStatus::Joined && p.permissions.accept_waiting_requests)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub(crate) fn waitlist(&mut self, now: Instant, peer_id: &str) {
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        p.status = PeerStatus::Waiting;
        let peer = p.peer.clone();
        self.event_to(now, peer_id, SessionEvent::Waitlisted);
        let hosts = self.hosts();
        self.broadcast(now, &hosts, SessionEvent::WaitlistAdded { peer });
    }

    pub(crate) fn waitlist_removed(&mut self, now: Instant, peer_id: &str, outcome: WaitlistOutcome) {
        let hosts = self.hosts();
        self.broadcast(now, &hosts, SessionEvent::WaitlistRemoved { peer_id: peer_id.to_owned(), outcome });
    }

    fn ensure_session(&mut self, now: Instant) {
        if self.session.is_some() {
            return;
        }
        let live = Live { id: self.ids.next_id(), started_at: self.wall(now) };
        tracing::info!(meeting = %self.config.meeting.id, session = %live.id, "session started");
        self.store(StoreWrite::SessionStarted {
            session_id: live.id.clone(),
            meeting_id: self.config.meeting.id.clone(),
            title: self.config.meeting.title.clone(),
            started_at: live.started_at.clone(),
        });
        self.session = Some(live);
        let payload = payloads::meeting_started(self);
        self.webhook(now, WebhookKind::MeetingStarted, payload);
        if self.config.meeting.record_on_start {
            let _ = self.start_recording(now, "RECORD_ON_START", None, false, Requester::Nobody);
        }
    }

    pub(crate) fn admit(&mut self, now: Instant, peer_id: &str) {
        if !self.peers.get(peer_id).is_some_and(|p| matches!(p.status, PeerStatus::Joining | PeerStatus::Waiting)) {
            return; // already admitted (a repeated id, or a cascade of auto-admissions)
        }
        self.ensure_session(now);
        let Some(session_id) = self.session.as_ref().map(|s| s.id.clone()) else { return };
        let concurrent = self.joined_ids().len() as u32 + 1;
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        p.status = PeerStatus::Joined;
        let me = p.peer.clone();
        let participant = p.participant.clone();
        let may_accept = p.permissions.accept_waiting_requests;
        self.empty_since = None;
        let at = self.wall(now);
        self.store(StoreWrite::PeerJoined {
            session_id: session_id.clone(),
            peer_id: peer_id.to_owned(),
            participant,
            at,
        });
        let room = self.snapshot(peer_id);
        self.event_to(now, peer_id, SessionEvent::Joined { room });
        if !me.hidden {
            let listeners = self.listeners_except(peer_id);
            self.broadcast(now, &listeners, SessionEvent::PeerJoined { peer: me.clone() });
        }
        self.store(StoreWrite::SessionTouched { session_id, last_seq: self.seq, concurrent });
        let payload = payloads::participant_joined(self, &me, &self.wall(now));
        self.webhook(now, WebhookKind::ParticipantJoined, payload);
        let waiting = if may_accept { self.waiting_for_host() } else { Vec::new() };
        if !waiting.is_empty() {
            self.check_then(&waiting.clone(), crate::gates::Gate::HostArrived { waiting });
        }
    }

    /// Pins or unpins a joined peer: stored, then its record as it is now to those who see the
    /// list and to the peer itself. Nothing when the pin is already so.
    pub(crate) fn set_pinned(&mut self, now: Instant, target: &str, pinned: bool, by: Actor) {
        let Some(p) = self.peers.get_mut(target).filter(|p| p.peer.pinned != pinned) else { return };
        p.peer.pinned = pinned;
        let peer = p.peer.clone();
        self.store(StoreWrite::PeerPinned { peer_id: target.to_owned(), pinned });
        let mut recipients = if peer.hidden { Vec::new() } else { self.listeners_except(target) };
        recipients.push(target.to_owned());
        self.broadcast(now, &recipients, SessionEvent::PeerUpdated { peer, by });
    }

    pub(crate) fn kick(&mut self, now: Instant, target: &str, by: Actor) {
        self.event_to(now, target, SessionEvent::Kicked { by: by.clone() });
        let others = self.listeners_except(target);
        let hidden = self.peers.get(target).is_some_and(|p| p.peer.hidden);
        if !hidden {
            self.broadcast(now, &others, SessionEvent::PeerKicked { peer_id: target.to_owned(), by: by.clone() });
        }
        self.forget_peer(now, target, Gone::Kicked(by), Some(StayOutcome::Kicked));
    }

    /// A peer leaves the room for good (left, or away too long), telling the others.
    pub(crate) fn remove_peer(&mut self, now: Instant, peer_id: &str, gone: Gone, outcome: StayOutcome) {
        let Some(p) = self.peers.get(peer_id) else { return };
        let (status, hidden) = (p.status, p.peer.hidden);
        if status == PeerStatus::Waiting {
            self.waitlist_removed(now, peer_id, WaitlistOutcome::Left);
        }
        if status == PeerStatus::Joined && !hidden {
            let others = self.listeners_except(peer_id);
            self.broadcast(now, &others, SessionEvent::PeerLeft { peer_id: peer_id.to_owned() });
        }
        self.forget_peer(now, peer_id, gone, Some(outcome));
    }

    /// Drops a peer's state, closing its connection; `outcome` records the end of a session stay
    /// (of a joined peer).
    pub(crate) fn forget_peer(&mut self, now: Instant, peer_id: &str, gone: Gone, outcome: Option<StayOutcome>) {
        self.close_peer_conn(peer_id, CloseCode::Normal, "left the room");
        let Some(p) = self.drop_peer(peer_id) else { return };
        self.remember_gone(peer_id, gone, now);
        if let Some(outcome) = outcome.filter(|_| p.status == PeerStatus::Joined) {
            let at = self.wall(now);
            self.store(StoreWrite::PeerLeft { peer_id: peer_id.to_owned(), outcome, at: at.clone() });
            let payload = payloads::participant_left(self, &p.peer, &at);
            self.webhook(now, WebhookKind::ParticipantLeft, payload);
        }
        if self.session.is_some() && self.joined_ids().is_empty() && self.empty_since.is_none() {
            self.empty_since = Some(now);
        }
    }

    /// Ends the session for everyone: recording stopped, every peer told and disconnected, the
    /// session `ENDED` in the store with `meeting.ended` queued. Returns how many peers were
    /// removed.
    pub(crate) fn end_session(&mut self, now: Instant, reason: EndReason, by: Actor) -> u64 {
        let Some(live) = self.session.take() else { return 0 };
        let recording = self.recording.as_ref().map(|r| r.rec.id.clone());
        if let Some(id) = &recording {
            let joined = self.joined_ids();
            self.announce_recording(now, &joined, RecordingState::Stopping, id);
        }
        let end = SessionEnd { session_id: live.id.clone(), reason, ended_by: by };
        let everyone: Vec<String> =
            self.peers.iter().filter(|(_, p)| p.status != PeerStatus::Joining).map(|(id, _)| id.clone()).collect();
        // The store says ENDED before anyone hears of it, with `meeting.ended` in the same write.
        let ended_at = self.wall(now);
        let payload = payloads::meeting_ended(self, &live, &ended_at, reason);
        let webhook = WebhookEvent { kind: WebhookKind::MeetingEnded, payload, at_ms: self.config.clock.unix_ms(now) };
        self.store(StoreWrite::SessionEnded { end: end.clone(), last_seq: self.seq + 1, ended_at, webhook });
        // The end goes into the recording's timeline (even a paused one) before the file is closed.
        if let Some(rec) = &mut self.recording {
            rec.paused = false;
        }
        self.broadcast(now, &everyone, SessionEvent::SessionEnded { end: end.clone() });
        if recording.is_some() {
            let _ = self.finish_recording(now, "ALL_PEERS_LEFT", false, Requester::Nobody);
        }
        for id in &everyone {
            self.close_peer_conn(id, CloseCode::Normal, "session ended");
            self.drop_peer(id);
            self.remember_gone(id, Gone::Ended(end.clone()), now);
        }
        self.empty_since = None;
        tracing::info!(meeting = %self.config.meeting.id, session = %live.id, ?reason, peers = everyone.len(), "session ended");
        everyone.len() as u64
    }
}
