//! User commands: local checks first, then a request the server's reply resolves.
//!
//! Check order, as RealtimeKit: a terminal state fails with `4501`, then not joined with `1205`,
//! then a missing permission with `1201` (`1001` for recording), then the arguments.

use crate::error::ClientError;
use crate::permissions::PermissionsPatch;
use crate::proto::{display_name, ClientMessage, RequestId};
use crate::state::{LeaveState, RecordingState, RoomState};

use super::{CommandOk, Link, Participant, PendingKind};

/// A user command, for drivers that route commands through one entry point.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `meeting.join()`.
    Join,
    /// `meeting.leave()`.
    Leave,
    /// `participant.kick()`: by peer id or participant id.
    Kick {
        /// The participant to remove.
        peer_id: String,
    },
    /// `meeting.participants.kickAll()`.
    KickAll,
    /// `acceptWaitingRoomRequest(id)` / `acceptAllWaitingRoomRequest(ids)`.
    AcceptWaiting {
        /// Peer ids or participant ids of waiting participants.
        ids: Vec<String>,
    },
    /// Accept everyone currently waiting.
    AcceptAllWaiting,
    /// `rejectWaitingRoomRequest(id)`.
    RejectWaiting {
        /// Peer id or participant id of a waiting participant.
        id: String,
    },
    /// `updatePermissions(ids, patch)`.
    UpdatePermissions {
        /// Peer ids or participant ids of joined or waiting participants.
        ids: Vec<String>,
        /// The change.
        patch: PermissionsPatch,
    },
    /// `meeting.recording.start({ allowMultiple })`.
    StartRecording {
        /// Sent along; one recording runs at a time here, so a second start is still refused.
        allow_multiple: bool,
    },
    /// `meeting.recording.stop(recordingId?)`.
    StopRecording {
        /// Only this recording; `None`: the one in progress.
        id: Option<String>,
    },
    /// `meeting.recording.pause(recordingId?)`.
    PauseRecording {
        /// Only this recording; `None`: the one in progress.
        id: Option<String>,
    },
    /// `meeting.recording.resume(recordingId?)`.
    ResumeRecording {
        /// Only this recording; `None`: the paused one.
        id: Option<String>,
    },
    /// `participant.pin()` / `unpin()`, `meeting.self.pin()` / `unpin()`: for everyone.
    Pin {
        /// Peer id or participant id of a joined participant, or of this one.
        id: String,
        /// `true` to pin, `false` to unpin.
        pinned: bool,
    },
}

impl Participant {
    /// Runs a command. On success returns the request id that a later [`super::Output::Resolved`]
    /// settles; on a failed local check returns the error and changes nothing.
    pub fn command(&mut self, now: u64, command: Command) -> Result<RequestId, ClientError> {
        if self.room.is_terminal() {
            return Err(ClientError::RoomClosed { state: self.room });
        }
        match command {
            Command::Join => self.join(now),
            Command::Leave => self.leave(now),
            Command::Kick { peer_id } => self.kick(now, &peer_id),
            Command::KickAll => self.kick_all(now),
            Command::AcceptWaiting { ids } => self.accept_waiting(now, &ids),
            Command::AcceptAllWaiting => {
                let ids: Vec<String> = self.roster.waitlisted().keys().cloned().collect();
                self.accept_waiting(now, &ids)
            }
            Command::RejectWaiting { id } => self.reject_waiting(now, &id),
            Command::UpdatePermissions { ids, patch } => self.update_permissions(now, &ids, patch),
            Command::StartRecording { allow_multiple } => self.start_recording(now, allow_multiple),
            Command::StopRecording { id } => self.stop_recording(now, id),
            Command::PauseRecording { id } => self.pause_recording(now, id, true),
            Command::ResumeRecording { id } => self.pause_recording(now, id, false),
            Command::Pin { id, pinned } => self.pin(now, &id, pinned),
        }
    }

    /// `meeting.self.setName(name)`: the display name this participant joins with, which everyone
    /// then sees. Only before `join()` (as RealtimeKit's, whose later changes reach no one), with
    /// `can_edit_display_name`, and 1 to 200 characters once trimmed. Changes nothing on an error.
    pub fn set_name(&mut self, name: &str) -> Result<(), ClientError> {
        if self.room.is_terminal() {
            return Err(ClientError::RoomClosed { state: self.room });
        }
        if self.room != RoomState::Init || self.join_req.is_some() {
            return Err(ClientError::InvalidArgument("setName works only before join()"));
        }
        if !self.permissions().can_edit_display_name {
            return Err(ClientError::PermissionDenied { permission: "can_edit_display_name" });
        }
        let Some(name) = display_name(name) else {
            return Err(ClientError::InvalidArgument("a name is 1 to 200 characters"));
        };
        self.config.self_info.name = name.to_owned();
        self.chosen_name = Some(name.to_owned());
        Ok(())
    }

    fn join(&mut self, now: u64) -> Result<RequestId, ClientError> {
        if self.room != RoomState::Init || self.join_req.is_some() {
            return Err(ClientError::AlreadyJoining { state: self.room });
        }
        let req = self.alloc_request(now, PendingKind::Join);
        self.join_req = Some(req);
        self.connect(now);
        Ok(req)
    }

    fn leave(&mut self, now: u64) -> Result<RequestId, ClientError> {
        match self.room {
            RoomState::Init if self.join_req.is_none() => Err(ClientError::NotJoined { state: self.room }),
            // Connected (joined, waiting, or a join already at the server): tell the server.
            _ if self.link == Link::Up => {
                let req = self.alloc_request(now, PendingKind::Leave);
                if !self.leave_sent {
                    self.leave_sent = true;
                    self.transmit(now, ClientMessage::Leave { req });
                }
                Ok(req)
            }
            // Still connecting, or disconnected: there is no one to tell; leave locally at once.
            _ => {
                let req = self.alloc_request(now, PendingKind::Leave);
                self.finish(LeaveState::Left);
                Ok(req)
            }
        }
    }

    fn require_joined(&self) -> Result<(), ClientError> {
        if self.room == RoomState::Joined {
            Ok(())
        } else {
            Err(ClientError::NotJoined { state: self.room })
        }
    }

    fn require(&self, granted: bool, permission: &'static str) -> Result<(), ClientError> {
        if granted {
            Ok(())
        } else {
            Err(ClientError::PermissionDenied { permission })
        }
    }

    fn send(&mut self, now: u64, kind: PendingKind, build: impl FnOnce(RequestId) -> ClientMessage) -> RequestId {
        let req = self.alloc_request(now, kind);
        self.transmit(now, build(req));
        req
    }

    fn kick(&mut self, now: u64, id: &str) -> Result<RequestId, ClientError> {
        self.require_joined()?;
        self.require(self.permissions().kick_participant, "kick_participant")?;
        if id == self.self_peer_id() || id == self.config.self_info.user_id {
            return Err(ClientError::ActionOnSelf);
        }
        let peer_id = match self.roster.find_joined(id) {
            Some(peer) => peer.id.clone(),
            None => return Err(ClientError::ParticipantNotFound { peer_id: id.to_owned() }),
        };
        Ok(self.send(now, PendingKind::Other, |req| ClientMessage::Kick { req, peer_id }))
    }

    fn kick_all(&mut self, now: u64) -> Result<RequestId, ClientError> {
        self.require_joined()?;
        self.require(self.permissions().kick_participant, "kick_participant")?;
        Ok(self.send(now, PendingKind::KickAll, |req| ClientMessage::KickAll { req }))
    }

    fn waiting_peer_ids(&self, ids: &[String]) -> Result<Vec<String>, ClientError> {
        if ids.is_empty() {
            return Err(ClientError::InvalidArgument("no waiting participant given"));
        }
        ids.iter()
            .map(|id| match self.roster.find_waiting(id) {
                Some(peer) => Ok(peer.id.clone()),
                None => Err(ClientError::ParticipantNotFound { peer_id: id.clone() }),
            })
            .collect()
    }

    fn accept_waiting(&mut self, now: u64, ids: &[String]) -> Result<RequestId, ClientError> {
        self.require_joined()?;
        self.require(self.permissions().accept_waiting_requests, "accept_waiting_requests")?;
        let peer_ids = self.waiting_peer_ids(ids)?;
        Ok(self.send(now, PendingKind::Other, |req| ClientMessage::AcceptWaiting { req, peer_ids }))
    }

    fn reject_waiting(&mut self, now: u64, id: &str) -> Result<RequestId, ClientError> {
        self.require_joined()?;
        self.require(self.permissions().accept_waiting_requests, "accept_waiting_requests")?;
        let peer_id = self.waiting_peer_ids(&[id.to_owned()])?.remove(0);
        Ok(self.send(now, PendingKind::Other, |req| ClientMessage::RejectWaiting { req, peer_id }))
    }

    fn update_permissions(
        &mut self,
        now: u64,
        ids: &[String],
        patch: PermissionsPatch,
    ) -> Result<RequestId, ClientError> {
        self.require_joined()?;
        let allowed = self.permissions().can_change_participant_permissions;
        self.require(allowed, "can_change_participant_permissions")?;
        if let Some(permission) = patch.beyond(self.permissions()) {
            return Err(ClientError::CannotGrant { permission });
        }
        if ids.is_empty() {
            return Err(ClientError::InvalidArgument("no participant given"));
        }
        if patch.is_empty() {
            return Err(ClientError::InvalidArgument("the patch changes nothing"));
        }
        let mut peer_ids = Vec::with_capacity(ids.len());
        for id in ids {
            if id == self.self_peer_id() || *id == self.config.self_info.user_id {
                return Err(ClientError::ActionOnSelf);
            }
            match self.roster.find_joined(id).or_else(|| self.roster.find_waiting(id)) {
                Some(peer) => peer_ids.push(peer.id.clone()),
                None => return Err(ClientError::ParticipantNotFound { peer_id: id.clone() }),
            }
        }
        Ok(self.send(now, PendingKind::Other, |req| ClientMessage::UpdatePermissions { req, peer_ids, patch }))
    }

    fn start_recording(&mut self, now: u64, allow_multiple: bool) -> Result<RequestId, ClientError> {
        self.require_recorder()?;
        if self.recording != RecordingState::Idle {
            return Err(ClientError::RecordingInProgress);
        }
        Ok(self.send(now, PendingKind::Other, |req| ClientMessage::StartRecording { req, allow_multiple }))
    }

    fn stop_recording(&mut self, now: u64, id: Option<String>) -> Result<RequestId, ClientError> {
        self.require_recorder()?;
        let stoppable = matches!(self.recording, RecordingState::Recording | RecordingState::Paused);
        if !stoppable || !self.is_current_recording(id.as_deref()) {
            return Err(ClientError::RecordingNotStarted);
        }
        Ok(self.send(now, PendingKind::Other, |req| ClientMessage::StopRecording { req, recording_id: id }))
    }

    /// `pause()` (`pause` true) or `resume()`: of the recording that is recording, or paused.
    fn pause_recording(&mut self, now: u64, id: Option<String>, pause: bool) -> Result<RequestId, ClientError> {
        self.require_recorder()?;
        let from = if pause { RecordingState::Recording } else { RecordingState::Paused };
        if self.recording != from || !self.is_current_recording(id.as_deref()) {
            return Err(ClientError::RecordingNotStarted);
        }
        Ok(self.send(now, PendingKind::Other, |req| match pause {
            true => ClientMessage::PauseRecording { req, recording_id: id },
            false => ClientMessage::ResumeRecording { req, recording_id: id },
        }))
    }

    /// Pins or unpins a joined participant, or this one, for everyone (`pin_participant`).
    fn pin(&mut self, now: u64, id: &str, pinned: bool) -> Result<RequestId, ClientError> {
        self.require_joined()?;
        self.require(self.permissions().pin_participant, "pin_participant")?;
        let peer_id = if id == self.self_peer_id() || id == self.config.self_info.user_id {
            self.self_peer_id().to_owned()
        } else {
            match self.roster.find_joined(id) {
                Some(peer) => peer.id.clone(),
                None => return Err(ClientError::ParticipantNotFound { peer_id: id.to_owned() }),
            }
        };
        Ok(self.send(now, PendingKind::Other, |req| ClientMessage::Pin { req, peer_id, pinned }))
    }

    /// Joined, with `can_record` (else `1001`).
    fn require_recorder(&self) -> Result<(), ClientError> {
        self.require_joined()?;
        if !self.permissions().can_record {
            return Err(ClientError::RecordingPermissionDenied);
        }
        Ok(())
    }

    /// Whether `id`, if given, names the recording in progress.
    fn is_current_recording(&self, id: Option<&str>) -> bool {
        id.is_none_or(|id| self.recording_id.as_deref() == Some(id))
    }

    /// Settles a reply from the server.
    pub(super) fn on_reply(&mut self, req: RequestId, result: Result<CommandOk, ClientError>) {
        let Some(pending) = self.pending.get(req).copied() else {
            tracing::debug!(req, "reply to an unknown or settled request");
            return;
        };
        match pending.kind {
            PendingKind::Leave => {
                // The server confirmed (or refused, which cannot keep anyone in): leave locally.
                self.finish(LeaveState::Left);
            }
            PendingKind::Join if result.is_err() => {
                self.resolve(req, result);
                // Refused before admission: nothing to stay connected for. Once the server's
                // events have put this participant in the meeting or its waiting room, they
                // decide what happens next (as when a join times out); dropping the connection
                // then would leave it `joined` or `waitlisted` with no connection and no timer.
                if self.room == RoomState::Init {
                    self.drop_link();
                }
            }
            PendingKind::KickAll => match result {
                // Accepted: settle when the session-ended event arrives (see `finish`).
                Ok(ok) => {
                    if let Some(p) = self.pending.get_mut(req) {
                        p.accepted = Some(ok);
                    }
                }
                Err(e) => self.resolve(req, Err(e)),
            },
            _ => self.resolve(req, result),
        }
    }
}
