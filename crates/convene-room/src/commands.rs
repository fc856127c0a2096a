//! What a peer asks on its connection, one step per command. The room is the authority: every
//! host action is checked against the sender's current permissions here.

use std::time::Instant;

use convene_core::permissions::{Permissions, PermissionsPatch};
use convene_core::proto::{
    display_name, ClientMessage, ErrorCode, ReplyData, ServerMessage, SessionEvent, WaitlistOutcome, WireError,
};
use convene_core::{Actor, EndReason};

use crate::gates::Gate;
use crate::output::ConnId;
use crate::peer::{Gone, PeerStatus};
use crate::recording::Requester;
use crate::records::MeetingStatus;
use crate::room::Room;
use crate::StayOutcome;

/// The sender of a command, as the room saw it when the command arrived.
struct Sender {
    conn: ConnId,
    peer_id: String,
    permissions: Permissions,
    status: PeerStatus,
}

impl Sender {
    fn joined(&self) -> bool {
        self.status == PeerStatus::Joined
    }

    fn actor(&self) -> Actor {
        Actor::Peer { peer_id: self.peer_id.clone() }
    }
}

/// A command's refusal: its code and message.
type Refused = (ErrorCode, String);

fn refused(code: ErrorCode, message: &str) -> Refused {
    (code, message.to_owned())
}

impl Room {
    /// A connection sent a command. Commands of connections the room does not know (closed, or
    /// not yet welcomed) are ignored.
    pub fn handle_frame(&mut self, now: Instant, conn: ConnId, msg: ClientMessage) {
        if let Some(sender) = self.sender(conn) {
            self.command(now, &sender, msg);
        }
        self.track_idle(now);
    }

    /// A connection sent a frame that could not be decoded: it gets the error; nothing changes.
    pub fn handle_bad_frame(&mut self, now: Instant, conn: ConnId, code: ErrorCode, message: String) {
        if self.conns.contains_key(&conn) {
            self.send_direct(conn, &ServerMessage::Error { req: None, error: WireError::new(code, message) });
        }
        self.track_idle(now);
    }

    fn sender(&self, conn: ConnId) -> Option<Sender> {
        let peer_id = self.conns.get(&conn)?.clone()?;
        let me = self.peers.get(&peer_id)?;
        Some(Sender { conn, permissions: me.permissions.clone(), status: me.status, peer_id })
    }

    fn command(&mut self, now: Instant, from: &Sender, msg: ClientMessage) {
        let req = msg.request_id().unwrap_or(0);
        let outcome = match msg {
            ClientMessage::Ping {} => return self.send_direct(from.conn, &ServerMessage::Pong),
            ClientMessage::Hello { .. } => Err(refused(ErrorCode::MalformedFrame, "hello was already sent")),
            ClientMessage::Join { name, .. } => self.join(from, req, name),
            ClientMessage::Leave { .. } => {
                self.reply(from.conn, req, ReplyData::default());
                self.remove_peer(now, &from.peer_id, Gone::Left, StayOutcome::Left);
                Ok(())
            }
            ClientMessage::Kick { peer_id, .. } => self.kick_one(now, from, req, &peer_id),
            ClientMessage::KickAll { .. } => self.kick_everyone(now, from, req),
            ClientMessage::AcceptWaiting { peer_ids, .. } => self.accept_waiting(from, req, peer_ids),
            ClientMessage::RejectWaiting { peer_id, .. } => self.reject_waiting(now, from, req, &peer_id),
            ClientMessage::UpdatePermissions { peer_ids, patch, .. } => {
                self.update_permissions(now, from, req, peer_ids, patch)
            }
            ClientMessage::StartRecording { allow_multiple, .. } => {
                self.peer_starts_recording(now, from, req, allow_multiple)
            }
            ClientMessage::StopRecording { recording_id, .. } => {
                self.peer_stops_recording(now, from, req, recording_id.as_deref())
            }
            ClientMessage::PauseRecording { recording_id, .. } => {
                self.peer_pauses_recording(now, from, req, recording_id.as_deref(), true)
            }
            ClientMessage::ResumeRecording { recording_id, .. } => {
                self.peer_pauses_recording(now, from, req, recording_id.as_deref(), false)
            }
            ClientMessage::Pin { peer_id, pinned, .. } => self.pin(now, from, req, &peer_id, pinned),
        };
        if let Err((code, message)) = outcome {
            self.send_direct(from.conn, &ServerMessage::Error { req: Some(req), error: WireError::new(code, message) });
        }
    }

    /// Answers a request.
    pub(crate) fn reply(&mut self, conn: ConnId, req: u64, data: ReplyData) {
        self.send_direct(conn, &ServerMessage::Reply { req, data });
    }

    /// `join`: into the session, or the waiting room, once the driver has confirmed that the
    /// participant still exists. The reply follows the events of this peer's own entry; when a
    /// host's entry lets peers in from the waiting room, their admissions follow the reply,
    /// after a check of their own.
    fn join(&mut self, from: &Sender, req: u64, name: Option<String>) -> Result<(), Refused> {
        if from.status != PeerStatus::Joining {
            return Err(refused(ErrorCode::AlreadyJoining, "already joined"));
        }
        let name = name.map(|n| chosen_name(from, &n)).transpose()?;
        if self.config.meeting.status == MeetingStatus::Inactive {
            return Err(refused(ErrorCode::JoinRefused, "the meeting is INACTIVE and refuses joins"));
        }
        if self.join_pending(&from.peer_id) {
            return Err(refused(ErrorCode::AlreadyJoining, "already joining"));
        }
        // Answered once the participant is confirmed.
        let gate = Gate::Join { peer_id: from.peer_id.clone(), conn: from.conn, req, name };
        self.check_then(std::slice::from_ref(&from.peer_id), gate);
        Ok(())
    }

    fn kick_one(&mut self, now: Instant, from: &Sender, req: u64, target: &str) -> Result<(), Refused> {
        if !from.joined() || !from.permissions.kick_participant {
            return Err(refused(ErrorCode::PermissionDenied, "kick_participant is required"));
        }
        if target == from.peer_id {
            return Err(refused(ErrorCode::ActionOnSelf, "cannot kick self"));
        }
        if self.peers.get(target).is_none_or(|p| p.status != PeerStatus::Joined) {
            return Err(refused(ErrorCode::ParticipantNotFound, "no such participant in the session"));
        }
        self.reply(from.conn, req, ReplyData::default());
        self.kick(now, target, from.actor());
        Ok(())
    }

    /// `pin`: a joined participant (the sender too) pinned or unpinned for everyone. Pinning
    /// what is already pinned answers and changes nothing.
    fn pin(&mut self, now: Instant, from: &Sender, req: u64, target: &str, pinned: bool) -> Result<(), Refused> {
        if !from.joined() || !from.permissions.pin_participant {
            return Err(refused(ErrorCode::PermissionDenied, "pin_participant is required"));
        }
        let visible = |p: &crate::peer::PeerState| !p.peer.hidden || target == from.peer_id;
        if self.peers.get(target).is_none_or(|p| p.status != PeerStatus::Joined || !visible(p)) {
            return Err(refused(ErrorCode::ParticipantNotFound, "no such participant in the session"));
        }
        self.reply(from.conn, req, ReplyData::default());
        self.set_pinned(now, target, pinned, from.actor());
        Ok(())
    }

    fn kick_everyone(&mut self, now: Instant, from: &Sender, req: u64) -> Result<(), Refused> {
        if !from.joined() || !from.permissions.kick_participant {
            return Err(refused(ErrorCode::PermissionDenied, "kick_participant is required"));
        }
        let count = self.peers.values().filter(|p| p.status != PeerStatus::Joining).count() as u64;
        self.reply(from.conn, req, ReplyData { kicked_participants_count: Some(count) });
        self.end_session(now, EndReason::HostEndedMeeting, from.actor());
        Ok(())
    }

    fn accept_waiting(&mut self, from: &Sender, req: u64, mut peer_ids: Vec<String>) -> Result<(), Refused> {
        peer_ids.sort();
        peer_ids.dedup();
        if !from.joined() || !from.permissions.accept_waiting_requests {
            return Err(refused(ErrorCode::PermissionDenied, "accept_waiting_requests is required"));
        }
        // Answered once the waiting participants are confirmed.
        let waiting: Vec<String> = peer_ids.iter().filter(|id| self.is_waiting(id)).cloned().collect();
        self.check_then(&waiting, Gate::Accept { conn: from.conn, req, peer_ids });
        Ok(())
    }

    fn reject_waiting(&mut self, now: Instant, from: &Sender, req: u64, target: &str) -> Result<(), Refused> {
        if !from.joined() || !from.permissions.accept_waiting_requests {
            return Err(refused(ErrorCode::PermissionDenied, "accept_waiting_requests is required"));
        }
        if !self.is_waiting(target) {
            return Err(refused(ErrorCode::ParticipantNotFound, "no such waiting participant"));
        }
        self.reply(from.conn, req, ReplyData::default());
        self.waitlist_removed(now, target, WaitlistOutcome::Rejected);
        self.event_to(now, target, SessionEvent::Rejected { by: from.actor() });
        self.forget_peer(now, target, Gone::Rejected(from.actor()), None);
        Ok(())
    }

    fn update_permissions(
        &mut self,
        now: Instant,
        from: &Sender,
        req: u64,
        peer_ids: Vec<String>,
        patch: PermissionsPatch,
    ) -> Result<(), Refused> {
        if !from.joined() || !from.permissions.can_change_participant_permissions {
            return Err(refused(ErrorCode::PermissionDenied, "can_change_participant_permissions is required"));
        }
        if let Some(field) = patch.beyond(&from.permissions) {
            let message = format!("cannot grant {field}: the sender does not hold it");
            return Err((ErrorCode::PermissionDenied, message));
        }
        if peer_ids.is_empty() || patch.is_empty() {
            return Err(refused(ErrorCode::InvalidArgument, "name at least one participant and one change"));
        }
        if peer_ids.contains(&from.peer_id) {
            return Err(refused(ErrorCode::ActionOnSelf, "cannot change own permissions"));
        }
        if !peer_ids.iter().all(|id| self.peers.get(id).is_some_and(|p| p.status != PeerStatus::Joining)) {
            return Err(refused(ErrorCode::ParticipantNotFound, "no such participant"));
        }
        self.reply(from.conn, req, ReplyData::default());
        for id in peer_ids {
            let Some(p) = self.peers.get_mut(&id) else { continue };
            let before = p.permissions.clone();
            p.permissions.apply(&patch);
            self.event_to(now, &id, SessionEvent::PermissionsUpdated { patch, by: from.actor() });
            self.resync_if_lists_changed(now, &id, &before);
        }
        Ok(())
    }

    fn peer_starts_recording(&mut self, now: Instant, from: &Sender, req: u64, multiple: bool) -> Result<(), Refused> {
        require_recorder(from)?;
        // Answered once the file is open.
        let by = Requester::Peer { conn: from.conn, req };
        self.start_recording(now, "API_CALL", Some(&from.peer_id), multiple, by)
            .map_err(|refusal| (ErrorCode::RecordingInProgress, refusal.to_string()))
    }

    fn peer_stops_recording(&mut self, now: Instant, from: &Sender, req: u64, id: Option<&str>) -> Result<(), Refused> {
        require_recorder(from)?;
        // Answered once the file is finished.
        let by = Requester::Peer { conn: from.conn, req };
        self.stop_recording(now, id, "API_CALL", by)
            .map_err(|refusal| (ErrorCode::RecordingNotStarted, refusal.to_string()))
    }

    /// `pause_recording` (`pause` true) or `resume_recording`: answered at once.
    fn peer_pauses_recording(
        &mut self,
        now: Instant,
        from: &Sender,
        req: u64,
        id: Option<&str>,
        pause: bool,
    ) -> Result<(), Refused> {
        require_recorder(from)?;
        self.set_paused(now, id, pause).map_err(|refusal| (ErrorCode::RecordingNotStarted, refusal.to_string()))?;
        self.reply(from.conn, req, ReplyData::default());
        Ok(())
    }
}

/// A recording command's sender: joined, with `can_record`.
fn require_recorder(from: &Sender) -> Result<(), Refused> {
    if !from.joined() || !from.permissions.can_record {
        return Err(refused(ErrorCode::RecordingPermissionDenied, "can_record is required"));
    }
    Ok(())
}

/// A join's chosen display name, checked: the sender needs `can_edit_display_name`, and the name
/// is one by [`display_name`].
fn chosen_name(from: &Sender, name: &str) -> Result<String, Refused> {
    if !from.permissions.can_edit_display_name {
        return Err(refused(ErrorCode::PermissionDenied, "can_edit_display_name is required to choose a name"));
    }
    display_name(name)
        .map(str::to_owned)
        .ok_or_else(|| refused(ErrorCode::InvalidArgument, "a name is 1 to 200 characters"))
}
