//! The session rules: handshake and resume, join and the waiting room, leave, kick, kick-all,
//! permission patches, keep-alive end, and the REST actions. The server is the authority: every
//! host action is checked against the sender's current permissions here.

use std::collections::VecDeque;
use std::time::Instant;

use convene_core::permissions::WaitingRoomType;
use convene_core::proto::{
    ClientMessage, CloseCode, ErrorCode, ReplyData, ResumeRefusal, RoomSnapshot, SelfInfo, ServerMessage, SessionEvent,
    SessionInfo, WaitlistOutcome, WireError, PROTOCOL_VERSION,
};
use convene_core::{Actor, EndReason, RecordingState, SessionEnd};
use serde_json::json;

use super::actor::{peer_record, Gone, Live, PeerState, Room, Status};
use super::{ApiCommand, ApiReply, Arrival, ConnHandle, Refusal};
use crate::store::now_rfc3339;

impl Room {
    pub(super) fn attach(&mut self, conn: ConnHandle, arrival: Arrival) {
        self.conns.insert(conn.id, (conn.clone(), None));
        let Some(resume) = arrival.resume else {
            if !self.make_room_for_peer(&arrival.participant.id) {
                return self.refuse_over_peer_cap(&conn);
            }
            let peer_id = crate::store::new_id();
            let permissions = self.permissions_for(&arrival.participant);
            let peer = peer_record(&peer_id, &arrival.participant, &permissions);
            self.peers.insert(
                peer_id.clone(),
                PeerState {
                    peer,
                    participant: arrival.participant,
                    permissions,
                    status: Status::Joining,
                    conn: Some(conn.id),
                    away_since: None,
                    replay: VecDeque::new(),
                    evicted_up_to: 0,
                    token_expires: arrival.token_expires,
                },
            );
            self.conns.insert(conn.id, (conn.clone(), Some(peer_id.clone())));
            self.welcome(&conn, &peer_id, false);
            return;
        };
        let refusal = match self.gone.get(&resume.peer_id).map(|(g, _)| g.clone()) {
            Some(Gone::Kicked(by)) => Some(ResumeRefusal::Kicked { by }),
            Some(Gone::Rejected(by)) => Some(ResumeRefusal::Rejected { by }),
            Some(Gone::Ended(end)) => Some(ResumeRefusal::SessionEnded { end }),
            Some(Gone::Left | Gone::Expired) => Some(ResumeRefusal::Expired),
            None => match self.peers.get(&resume.peer_id) {
                Some(p) if p.participant.id == arrival.participant.id && p.status != Status::Joining => None,
                Some(_) => Some(ResumeRefusal::Expired),
                None => Some(self.forgotten(&resume.peer_id, &arrival.participant.id)),
            },
        };
        if let Some(refusal) = refusal {
            tracing::info!(peer = %resume.peer_id, ?refusal, "resume refused");
            self.send_direct(&conn, &ServerMessage::ResumeRefused { refusal });
            self.conns.remove(&conn.id);
            let _ = conn.tx.try_send(super::Outgoing::Close(CloseCode::Normal, "resume refused"));
            return;
        }
        let peer_id = resume.peer_id;
        // A newer connection replaces an older one of the same peer.
        self.close_peer_conn(&peer_id, CloseCode::Replaced, "replaced by a newer connection");
        if let Some(p) = self.peers.get_mut(&peer_id) {
            p.conn = Some(conn.id);
            p.away_since = None;
            p.token_expires = arrival.token_expires;
        }
        self.conns.insert(conn.id, (conn.clone(), Some(peer_id.clone())));
        self.welcome(&conn, &peer_id, true);
        self.replay(&conn, &peer_id, resume.last_seq);
    }

    /// The refusal for a peer this room does not know: `session_ended` when the store says the
    /// stay ended with its session (the room that ended it is gone: a restart, or it idled out),
    /// so that the client ends `ended` rather than `failed`; `expired` otherwise.
    fn forgotten(&self, peer_id: &str, participant_id: &str) -> ResumeRefusal {
        let Ok(Some(stay)) = self.state.store().ended_stay(peer_id) else { return ResumeRefusal::Expired };
        let reason = serde_json::from_value::<EndReason>(serde_json::Value::String(stay.end_reason));
        let ended_by = serde_json::from_str::<Actor>(&stay.ended_by);
        match (reason, ended_by) {
            (Ok(reason), Ok(ended_by)) if stay.participant_id == participant_id && stay.outcome == "ended" => {
                ResumeRefusal::SessionEnded { end: SessionEnd { session_id: stay.session_id, reason, ended_by } }
            }
            _ => ResumeRefusal::Expired,
        }
    }

    fn welcome(&mut self, conn: &ConnHandle, peer_id: &str, resumed: bool) {
        let Some(p) = self.peers.get(peer_id) else { return };
        let self_info = SelfInfo {
            user_id: p.participant.id.clone(),
            name: p.peer.name.clone(),
            picture: p.participant.picture.clone(),
            custom_participant_id: p.participant.custom_participant_id.clone(),
            preset_name: p.participant.preset_name.clone(),
            permissions: p.permissions.clone(),
        };
        let meeting = convene_core::proto::MeetingInfo {
            id: self.meeting.id.clone(),
            title: self.meeting.title.clone().unwrap_or_default(),
        };
        let msg = ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            peer_id: peer_id.to_owned(),
            resumed,
            self_info,
            meeting,
        };
        self.send_direct(conn, &msg);
    }

    /// Replays what a resuming peer missed, or sends a fresh snapshot when the log does not
    /// reach back far enough.
    fn replay(&mut self, conn: &ConnHandle, peer_id: &str, last_seq: u64) {
        let Some(p) = self.peers.get(peer_id) else { return };
        let missed = p.replay.iter().filter(|(s, _)| *s > last_seq).count();
        // A replay the connection's queue cannot hold would drop it again and again: a snapshot
        // replaces it (for joined peers; the waiting room sends only a few events).
        let fits = missed < conn.tx.capacity() || p.status != Status::Joined;
        if (last_seq >= p.evicted_up_to || p.evicted_up_to == 0) && fits {
            let frames: Vec<_> = p.replay.iter().filter(|(s, _)| *s > last_seq).map(|(_, f)| f.clone()).collect();
            tracing::debug!(peer = %peer_id, count = frames.len(), "replaying missed events");
            for f in frames {
                // A replay that overflows the queue drops the connection like any other; nothing
                // is lost, the client resumes again from what it applied.
                if !self.push(conn.clone(), f) {
                    break;
                }
            }
        } else if p.status == Status::Joined {
            tracing::debug!(peer = %peer_id, "replay log too short; sending a snapshot");
            let room = self.snapshot(peer_id);
            self.event_to(peer_id, SessionEvent::Joined { room });
        }
    }

    pub(super) fn snapshot(&self, peer_id: &str) -> RoomSnapshot {
        let me = &self.peers[peer_id];
        let peers = if me.permissions.show_participant_list {
            self.peers
                .values()
                .filter(|o| o.status == Status::Joined && o.peer.id != peer_id && !o.peer.hidden)
                .map(|o| o.peer.clone())
                .collect()
        } else {
            Vec::new()
        };
        let waitlisted = if me.permissions.accept_waiting_requests {
            self.peers.values().filter(|o| o.status == Status::Waiting).map(|o| o.peer.clone()).collect()
        } else {
            Vec::new()
        };
        let live = self.session.as_ref().expect("a snapshot needs a session");
        RoomSnapshot {
            self_peer: me.peer.clone(),
            session: SessionInfo { id: live.id.clone(), started_at: live.started_at.clone() },
            peers,
            waitlisted,
            recording: self.recording_state(),
        }
    }

    pub(super) fn frame(&mut self, conn_id: u64, msg: ClientMessage) {
        let Some((conn, Some(peer_id))) = self.conns.get(&conn_id).cloned() else { return };
        let Some(me) = self.peers.get(&peer_id) else { return };
        let perms = me.permissions.clone();
        let status = me.status;
        let joined = status == Status::Joined;
        let by = Actor::Peer { peer_id: peer_id.clone() };
        let refuse = |room: &mut Room, req: u64, code: ErrorCode, message: &str| {
            let error = WireError::new(code, message);
            room.send_direct(&conn, &ServerMessage::Error { req: Some(req), error });
        };
        let done =
            |room: &mut Room, req: u64, data: ReplyData| room.send_direct(&conn, &ServerMessage::Reply { req, data });
        match msg {
            ClientMessage::Ping {} => self.send_direct(&conn, &ServerMessage::Pong),
            ClientMessage::Hello { .. } => refuse(self, 0, ErrorCode::MalformedFrame, "hello was already sent"),
            ClientMessage::Join { req } => {
                if status != Status::Joining {
                    return refuse(self, req, ErrorCode::AlreadyJoining, "already joined");
                }
                if self.meeting.status == crate::model::MeetingStatus::Inactive {
                    return refuse(self, req, ErrorCode::JoinRefused, "the meeting is INACTIVE and refuses joins");
                }
                if self.refuse_revoked_join(&conn, &peer_id, req) {
                    return;
                }
                let wait = match perms.waiting_room_type {
                    WaitingRoomType::Skip => false,
                    WaitingRoomType::SkipOnAccept => true,
                    WaitingRoomType::OnPrivilegedUserEntry => !self.privileged_present(),
                };
                if wait {
                    self.waitlist(&peer_id);
                } else {
                    self.admit(&peer_id);
                }
                done(self, req, ReplyData::default());
            }
            ClientMessage::Leave { req } => {
                done(self, req, ReplyData::default());
                self.remove_peer(&peer_id, Gone::Left, "left");
            }
            ClientMessage::Kick { req, peer_id: target } => {
                if !joined || !perms.kick_participant {
                    return refuse(self, req, ErrorCode::PermissionDenied, "kick_participant is required");
                }
                if target == peer_id {
                    return refuse(self, req, ErrorCode::ActionOnSelf, "cannot kick self");
                }
                if !self.peers.get(&target).is_some_and(|p| p.status == Status::Joined) {
                    return refuse(self, req, ErrorCode::ParticipantNotFound, "no such participant in the session");
                }
                done(self, req, ReplyData::default());
                self.kick(&target, by);
            }
            ClientMessage::KickAll { req } => {
                if !joined || !perms.kick_participant {
                    return refuse(self, req, ErrorCode::PermissionDenied, "kick_participant is required");
                }
                let count = self.peers.values().filter(|p| p.status != Status::Joining).count() as u64;
                done(self, req, ReplyData { kicked_participants_count: Some(count) });
                self.end_session(EndReason::HostEndedMeeting, by);
            }
            ClientMessage::AcceptWaiting { req, mut peer_ids } => {
                peer_ids.sort();
                peer_ids.dedup();
                if !joined || !perms.accept_waiting_requests {
                    return refuse(self, req, ErrorCode::PermissionDenied, "accept_waiting_requests is required");
                }
                // A waiting participant deleted meanwhile is removed, not admitted.
                for id in &peer_ids {
                    if self.is_waiting(id) && !self.still_allowed(id) {
                        self.evict(id);
                    }
                }
                if peer_ids.is_empty() || !peer_ids.iter().all(|id| self.is_waiting(id)) {
                    return refuse(self, req, ErrorCode::ParticipantNotFound, "no such waiting participant");
                }
                done(self, req, ReplyData::default());
                for id in peer_ids {
                    self.waitlist_removed(&id, WaitlistOutcome::Accepted);
                    self.admit(&id);
                }
            }
            ClientMessage::RejectWaiting { req, peer_id: target } => {
                if !joined || !perms.accept_waiting_requests {
                    return refuse(self, req, ErrorCode::PermissionDenied, "accept_waiting_requests is required");
                }
                if !self.is_waiting(&target) {
                    return refuse(self, req, ErrorCode::ParticipantNotFound, "no such waiting participant");
                }
                done(self, req, ReplyData::default());
                self.waitlist_removed(&target, WaitlistOutcome::Rejected);
                self.event_to(&target, SessionEvent::Rejected { by: by.clone() });
                self.forget_peer(&target, Gone::Rejected(by), None);
            }
            ClientMessage::UpdatePermissions { req, peer_ids, patch } => {
                if !joined || !perms.can_change_participant_permissions {
                    return refuse(
                        self,
                        req,
                        ErrorCode::PermissionDenied,
                        "can_change_participant_permissions is required",
                    );
                }
                if let Some(field) = patch.beyond(&perms) {
                    let message = format!("cannot grant {field}: the sender does not hold it");
                    return refuse(self, req, ErrorCode::PermissionDenied, &message);
                }
                if peer_ids.is_empty() || patch.is_empty() {
                    return refuse(
                        self,
                        req,
                        ErrorCode::InvalidArgument,
                        "name at least one participant and one change",
                    );
                }
                if peer_ids.contains(&peer_id) {
                    return refuse(self, req, ErrorCode::ActionOnSelf, "cannot change own permissions");
                }
                if !peer_ids.iter().all(|id| self.peers.get(id).is_some_and(|p| p.status != Status::Joining)) {
                    return refuse(self, req, ErrorCode::ParticipantNotFound, "no such participant");
                }
                done(self, req, ReplyData::default());
                for id in peer_ids {
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.permissions.apply(&patch);
                    }
                    self.event_to(&id, SessionEvent::PermissionsUpdated { patch, by: by.clone() });
                }
            }
            ClientMessage::StartRecording { req } | ClientMessage::StopRecording { req }
                if !joined || !perms.can_record =>
            {
                refuse(self, req, ErrorCode::RecordingPermissionDenied, "can_record is required")
            }
            ClientMessage::StartRecording { req } => match self.start_recording("API_CALL", Some(&peer_id), false) {
                Ok(_) => done(self, req, ReplyData::default()),
                Err(refusal) => refuse(self, req, ErrorCode::RecordingInProgress, &refusal.to_string()),
            },
            ClientMessage::StopRecording { req } => match self.stop_recording(None, "API_CALL") {
                Ok(_) => done(self, req, ReplyData::default()),
                Err(refusal) => refuse(self, req, ErrorCode::RecordingNotStarted, &refusal.to_string()),
            },
        }
    }

    /// Joined peers who receive the participant list, but `except`.
    fn listeners_except(&self, except: &str) -> Vec<String> {
        self.peers
            .iter()
            .filter(|(id, p)| {
                p.status == Status::Joined && id.as_str() != except && p.permissions.show_participant_list
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn privileged_present(&self) -> bool {
        self.peers.values().any(|p| p.status == Status::Joined && p.permissions.accept_waiting_requests)
    }

    fn is_waiting(&self, id: &str) -> bool {
        self.peers.get(id).is_some_and(|p| p.status == Status::Waiting)
    }

    fn hosts(&self) -> Vec<String> {
        self.peers
            .iter()
            .filter(|(_, p)| p.status == Status::Joined && p.permissions.accept_waiting_requests)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn waitlist(&mut self, peer_id: &str) {
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        p.status = Status::Waiting;
        let peer = p.peer.clone();
        self.event_to(peer_id, SessionEvent::Waitlisted);
        let hosts = self.hosts();
        self.broadcast(&hosts, SessionEvent::WaitlistAdded { peer });
    }

    pub(super) fn waitlist_removed(&mut self, peer_id: &str, outcome: WaitlistOutcome) {
        let hosts = self.hosts();
        self.broadcast(&hosts, SessionEvent::WaitlistRemoved { peer_id: peer_id.to_owned(), outcome });
    }

    fn ensure_session(&mut self) {
        if self.session.is_some() {
            return;
        }
        let store = self.state.store();
        match store.start_session(&self.app_id, &self.meeting.id, self.meeting.title.as_deref()) {
            Ok(s) => {
                tracing::info!(meeting = %self.meeting.id, session = %s.id, "session started");
                self.session = Some(Live { id: s.id, started_at: s.started_at });
                let payload = json!({"event": "meeting.started", "meeting": self.meeting_payload(None)});
                self.webhook("meeting.started", payload);
                if self.meeting.record_on_start {
                    let _ = self.start_recording("RECORD_ON_START", None, false);
                }
            }
            Err(e) => tracing::error!(error = %e, "could not start a session"),
        }
    }

    fn admit(&mut self, peer_id: &str) {
        self.ensure_session();
        let Some(session_id) = self.session.as_ref().map(|s| s.id.clone()) else { return };
        let others = self.joined_ids();
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        if !matches!(p.status, Status::Joining | Status::Waiting) {
            return; // already admitted (a repeated id, or a cascade of auto-admissions)
        }
        p.status = Status::Joined;
        let me = p.peer.clone();
        let participant = p.participant.clone();
        let may_accept = p.permissions.accept_waiting_requests;
        self.empty_since = None;
        if let Err(e) = self.state.store().peer_joined(&session_id, peer_id, &participant) {
            tracing::error!(error = %e, "could not record a join");
        }
        let room = self.snapshot(peer_id);
        self.event_to(peer_id, SessionEvent::Joined { room });
        if !me.hidden {
            let listeners = self.listeners_except(peer_id);
            self.broadcast(&listeners, SessionEvent::PeerJoined { peer: me.clone() });
        }
        let _ = self.state.store().touch_session(&session_id, self.seq, others.len() as u32 + 1);
        let payload = json!({
            "event": "meeting.participantJoined",
            "meeting": self.meeting_payload(None),
            "participant": participant_payload(&me, &now_rfc3339(), None),
        });
        self.webhook("meeting.participantJoined", payload);
        if may_accept {
            let waiting: Vec<String> = self
                .peers
                .iter()
                .filter(|(_, w)| {
                    w.status == Status::Waiting
                        && w.permissions.waiting_room_type == WaitingRoomType::OnPrivilegedUserEntry
                })
                .map(|(id, _)| id.clone())
                .collect();
            for w in waiting {
                if !self.still_allowed(&w) {
                    self.evict(&w);
                    continue;
                }
                self.waitlist_removed(&w, WaitlistOutcome::Accepted);
                self.admit(&w);
            }
        }
    }

    pub(super) fn kick(&mut self, target: &str, by: Actor) {
        self.event_to(target, SessionEvent::Kicked { by: by.clone() });
        let others = self.listeners_except(target);
        let hidden = self.peers.get(target).is_some_and(|p| p.peer.hidden);
        if !hidden {
            self.broadcast(&others, SessionEvent::PeerKicked { peer_id: target.to_owned(), by: by.clone() });
        }
        self.forget_peer(target, Gone::Kicked(by), Some("kicked"));
    }

    /// A peer leaves the room for good (left, or away too long), telling the others.
    pub(super) fn remove_peer(&mut self, peer_id: &str, gone: Gone, outcome: &str) {
        let Some(p) = self.peers.get(peer_id) else { return };
        let (status, hidden) = (p.status, p.peer.hidden);
        if status == Status::Waiting {
            self.waitlist_removed(peer_id, WaitlistOutcome::Left);
        }
        if status == Status::Joined && !hidden {
            let others = self.listeners_except(peer_id);
            self.broadcast(&others, SessionEvent::PeerLeft { peer_id: peer_id.to_owned() });
        }
        let recorded = (status == Status::Joined).then_some(outcome);
        self.forget_peer(peer_id, gone, recorded);
    }

    /// Drops a peer's state, closing its connection; `outcome` records the end of a session stay.
    pub(super) fn forget_peer(&mut self, peer_id: &str, gone: Gone, outcome: Option<&str>) {
        self.close_peer_conn(peer_id, CloseCode::Normal, "left the room");
        let Some(p) = self.peers.remove(peer_id) else { return };
        self.gone.insert(peer_id.to_owned(), (gone, Instant::now()));
        if let Some(outcome) = outcome.filter(|_| p.status == Status::Joined) {
            if let Err(e) = self.state.store().peer_left(peer_id, outcome) {
                tracing::error!(error = %e, "could not record a leave");
            }
            let payload = json!({
                "event": "meeting.participantLeft",
                "meeting": self.meeting_payload(None),
                "participant": participant_payload(&p.peer, "", Some(&now_rfc3339())),
            });
            self.webhook("meeting.participantLeft", payload);
        }
        if self.session.is_some() && self.joined_ids().is_empty() && self.empty_since.is_none() {
            self.empty_since = Some(Instant::now());
        }
    }

    /// Ends the session for everyone: recording stopped, every peer told and disconnected, the
    /// session `ENDED` in the store, `meeting.ended` queued. Returns how many peers were removed.
    pub(super) fn end_session(&mut self, reason: EndReason, by: Actor) -> u64 {
        let Some(live) = self.session.take() else { return 0 };
        let recording = self.recording.is_some();
        if recording {
            let joined = self.joined_ids();
            self.broadcast(&joined, SessionEvent::RecordingUpdated { state: RecordingState::Stopping });
        }
        let end = SessionEnd { session_id: live.id.clone(), reason, ended_by: by.clone() };
        let everyone: Vec<String> =
            self.peers.iter().filter(|(_, p)| p.status != Status::Joining).map(|(id, _)| id.clone()).collect();
        // The store says ENDED before anyone hears of it, and queues `meeting.ended` in the same
        // transaction: a crash cannot keep the end and lose its webhook.
        let ended_by = serde_json::to_string(&by).unwrap_or_default();
        let reason_str =
            serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let ended_at = now_rfc3339();
        let mut meeting = self.meeting_payload_for(&live, Some(&ended_at));
        meeting["status"] = json!("ENDED");
        let body = json!({"event": "meeting.ended", "meeting": meeting, "reason": reason_str}).to_string();
        let webhook = (self.app_id.as_str(), "meeting.ended", body.as_str(), crate::webhook::now_ms());
        match self.state.store().end_session(&live.id, &reason_str, &ended_by, self.seq + 1, &ended_at, webhook) {
            Ok(0) => {}
            Ok(_) => self.state.0.webhooks.wake(),
            Err(e) => tracing::error!(error = %e, "could not record the end of a session"),
        }
        // The end goes into the recording's timeline (even a paused one) before the file is closed.
        if let Some(rec) = &mut self.recording {
            rec.paused = false;
        }
        self.broadcast(&everyone, SessionEvent::SessionEnded { end: end.clone() });
        if recording {
            let _ = self.stop_recording_in(None, "ALL_PEERS_LEFT", false);
        }
        for id in &everyone {
            self.close_peer_conn(id, CloseCode::Normal, "session ended");
            self.peers.remove(id);
            self.gone.insert(id.clone(), (Gone::Ended(end.clone()), Instant::now()));
        }
        self.empty_since = None;
        tracing::info!(meeting = %self.meeting.id, session = %live.id, ?reason, peers = everyone.len(), "session ended");
        everyone.len() as u64
    }

    pub(super) fn api(&mut self, command: ApiCommand) -> ApiReply {
        match command {
            ApiCommand::KickAll => match self.session {
                Some(_) => ApiReply::KickedAll(self.end_session(EndReason::HostEndedMeeting, Actor::Api)),
                None => ApiReply::Refused(Refusal::NoActiveSession { meeting_id: self.meeting.id.clone() }),
            },
            ApiCommand::Kick(participant_ids) => {
                let targets: Vec<(String, String)> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.status == Status::Joined && participant_ids.contains(&p.participant.id))
                    .map(|(id, p)| (id.clone(), p.participant.id.clone()))
                    .collect();
                if targets.is_empty() {
                    return ApiReply::Refused(Refusal::NoSuchParticipants { ids: participant_ids.join(", ") });
                }
                let mut kicked: Vec<String> = Vec::new();
                for (peer_id, participant_id) in targets {
                    self.kick(&peer_id, Actor::Api);
                    if !kicked.contains(&participant_id) {
                        kicked.push(participant_id);
                    }
                }
                ApiReply::Kicked(kicked)
            }
            ApiCommand::ParticipantDeleted(participant_id) => {
                self.participant_deleted(&participant_id);
                ApiReply::Done
            }
            ApiCommand::ParticipantChanged(participant) => {
                self.participant_changed(*participant);
                ApiReply::Done
            }
            ApiCommand::PresetChanged { app_id, names } => {
                if app_id == self.app_id {
                    self.preset_changed(&names);
                }
                ApiReply::Done
            }
            ApiCommand::MeetingUpdated(meeting) => {
                self.meeting = *meeting;
                ApiReply::Done
            }
            ApiCommand::StartRecording { allow_multiple } => {
                match self.start_recording("API_CALL", None, allow_multiple) {
                    Ok(rec) => ApiReply::Recording(Box::new(rec)),
                    Err(refusal) => ApiReply::Refused(refusal),
                }
            }
            ApiCommand::RecordingAction { recording_id, action } => self.recording_action(&recording_id, action),
        }
    }

    pub(super) fn recording_state(&self) -> RecordingState {
        match &self.recording {
            Some(r) if r.paused => RecordingState::Paused,
            Some(_) => RecordingState::Recording,
            None => RecordingState::Idle,
        }
    }

    /// The `meeting` object of webhook payloads.
    pub(super) fn meeting_payload(&self, ended_at: Option<&str>) -> serde_json::Value {
        match &self.session {
            Some(live) => self.meeting_payload_for(live, ended_at),
            None => json!({"id": self.meeting.id, "title": self.meeting.title, "roomName": self.meeting.id}),
        }
    }

    fn meeting_payload_for(&self, live: &Live, ended_at: Option<&str>) -> serde_json::Value {
        let mut m = json!({
            "id": self.meeting.id,
            "sessionId": live.id,
            "title": self.meeting.title,
            "roomName": self.meeting.id,
            "status": "LIVE",
            "createdAt": live.started_at,
            "startedAt": live.started_at,
            "organizedBy": {"id": self.app_id, "name": self.app_name},
        });
        if let Some(t) = ended_at {
            m["endedAt"] = json!(t);
        }
        m
    }

    /// Queues a webhook event for the app's subscribers.
    pub(super) fn webhook(&self, event: &str, payload: serde_json::Value) {
        self.state.0.webhooks.emit(self.state.store(), &self.app_id, event, &payload);
    }
}

fn participant_payload(peer: &convene_core::proto::Peer, joined_at: &str, left_at: Option<&str>) -> serde_json::Value {
    let mut p = json!({
        "peerId": peer.id,
        "userDisplayName": peer.name,
        "customParticipantId": peer.custom_participant_id,
        "clientSpecificId": peer.custom_participant_id,
    });
    if !joined_at.is_empty() {
        p["joinedAt"] = json!(joined_at);
    }
    if let Some(t) = left_at {
        p["leftAt"] = json!(t);
    }
    p
}
