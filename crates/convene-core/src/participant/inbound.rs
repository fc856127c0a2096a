//! Messages from the server: the handshake, replies, and sequenced session events.

use crate::error::ClientError;
use crate::event::Event;
use crate::proto::{decode_server, FrameError, ResumeRefusal, RoomSnapshot, ServerMessage, SessionEvent};
use crate::state::{
    LeaveState, RecordingState, RoomState, SessionEnd, SocketConnectionState, SocketState, WaitlistStatus,
};

use super::{CommandOk, Link, Participant};

impl Participant {
    /// Decodes and handles one text frame from the server. A frame that cannot be decoded is
    /// refused with a typed error and changes nothing.
    pub fn handle_frame(&mut self, now: u64, text: &str) -> Result<(), FrameError> {
        let msg = decode_server(text)?;
        self.handle_server_message(now, msg);
        Ok(())
    }

    /// Handles one message from the server.
    pub fn handle_server_message(&mut self, now: u64, msg: ServerMessage) {
        if matches!(self.link, Link::Down | Link::Backoff { .. } | Link::Connecting { .. }) {
            tracing::debug!("message without an open connection ignored");
            return;
        }
        self.last_rx_at = now;
        match msg {
            ServerMessage::Welcome { protocol, peer_id, resumed, self_info, meeting } => {
                self.on_welcome(now, protocol, peer_id, resumed, self_info, meeting)
            }
            ServerMessage::ResumeRefused { refusal } => self.on_resume_refused(refusal),
            ServerMessage::Reply { req, data } => {
                let ok = CommandOk { kicked_participants_count: data.kicked_participants_count };
                self.on_reply(req, Ok(ok));
            }
            ServerMessage::Error { req: Some(req), error } => self.on_reply(req, Err(ClientError::from_wire(error))),
            ServerMessage::Error { req: None, error } => self.on_connection_error(error),
            ServerMessage::Event { seq, event } => self.on_event(seq, event),
            ServerMessage::Pong => {}
        }
    }

    fn on_welcome(
        &mut self,
        now: u64,
        protocol: u32,
        peer_id: String,
        resumed: bool,
        self_info: crate::proto::SelfInfo,
        meeting: crate::proto::MeetingInfo,
    ) {
        if !matches!(self.link, Link::Handshaking { .. }) {
            tracing::warn!("unexpected welcome ignored");
            return;
        }
        if protocol != crate::proto::PROTOCOL_VERSION {
            tracing::warn!(protocol, "server speaks another protocol version");
        }
        let resuming = self.room == RoomState::Disconnected;
        if resuming && (!resumed || Some(peer_id.as_str()) != self.peer_id.as_deref()) {
            // A fresh peer would be a silent join into another stay: refuse it.
            self.on_resume_refused(ResumeRefusal::Expired);
            return;
        }
        self.link = Link::Up;
        self.config.self_info = self_info;
        if !self.permissions().can_edit_display_name {
            // The preset changed since `set_name`: the server would refuse the join the name
            // rides on, so the record's name stands.
            self.chosen_name = None;
        }
        if let (Some(name), false) = (&self.chosen_name, resuming) {
            // Chosen before the join, which carries it: the server names the stay so.
            self.config.self_info.name = name.clone();
        }
        self.config.meeting = meeting;
        self.peer_id = Some(peer_id);
        let socket = SocketState {
            state: SocketConnectionState::Connected,
            reconnected: resuming || self.socket.reconnected,
            reconnection_attempt: 0,
        };
        self.set_socket(socket);
        if resuming {
            let back_to = self.resume_to.take().unwrap_or(RoomState::Joined);
            self.room = back_to;
            tracing::info!(state = %back_to, last_seq = self.last_seq, "resumed");
            if back_to == RoomState::Waitlisted {
                self.emit(Event::Waitlisted);
            } else {
                self.emit(Event::RoomJoined { reconnected: true });
            }
        } else if let Some(req) = self.join_req {
            self.transmit(now, crate::proto::ClientMessage::Join { req, name: self.chosen_name.clone() });
        }
    }

    fn on_resume_refused(&mut self, refusal: ResumeRefusal) {
        if self.room != RoomState::Disconnected {
            tracing::warn!("resume refusal outside a resume ignored");
            return;
        }
        tracing::info!(?refusal, "resume refused");
        match refusal {
            ResumeRefusal::SessionEnded { end } => self.session_ended(end),
            ResumeRefusal::Kicked { by } => self.finish(LeaveState::Kicked { kicked_by: by }),
            ResumeRefusal::Rejected { by } => self.finish(LeaveState::Rejected { rejected_by: by }),
            ResumeRefusal::Expired => {
                let attempts = self.socket.reconnection_attempt;
                self.finish(LeaveState::Failed { attempts })
            }
        }
    }

    fn on_connection_error(&mut self, error: crate::proto::WireError) {
        tracing::warn!(code = error.code, message = %error.message, "server reported a connection error");
        if !matches!(self.link, Link::Handshaking { .. }) {
            return;
        }
        if error.code == crate::proto::ErrorCode::TooFast.code() && self.room == RoomState::Disconnected {
            // A resume over the participant's connection cap: the server closes this
            // connection, and the client backs off and tries again as after any drop. (A first
            // join refused so fails with this error.)
            return;
        }
        // The handshake was refused (bad or revoked token, unsupported protocol).
        if self.room == RoomState::Disconnected {
            let attempts = self.socket.reconnection_attempt;
            self.finish(LeaveState::Failed { attempts });
        } else if let Some(req) = self.join_req {
            self.resolve(req, Err(ClientError::from_wire(error)));
            self.drop_link();
        }
    }

    fn on_event(&mut self, seq: u64, event: SessionEvent) {
        if seq <= self.last_seq {
            tracing::debug!(seq, last = self.last_seq, "duplicate event ignored");
            return;
        }
        if self.room.is_terminal() || !matches!(self.link, Link::Up) {
            return;
        }
        self.last_seq = seq;
        match event {
            SessionEvent::Joined { room } => self.admitted(room),
            SessionEvent::Waitlisted => {
                if self.room == RoomState::Init && self.join_req.is_some() {
                    self.room = RoomState::Waitlisted;
                    self.waitlist = WaitlistStatus::Waiting;
                    self.emit(Event::Waitlisted);
                }
            }
            SessionEvent::Rejected { by } => {
                if self.room == RoomState::Waitlisted {
                    self.finish(LeaveState::Rejected { rejected_by: by });
                }
            }
            SessionEvent::Kicked { by } if self.in_room() => self.finish(LeaveState::Kicked { kicked_by: by }),
            SessionEvent::SessionEnded { end } if self.in_room() => self.session_ended(end),
            SessionEvent::PermissionsUpdated { patch, by } if self.in_room() => self.permissions_updated(patch, by),
            other if self.room == RoomState::Joined => self.room_event(other),
            other => tracing::debug!(?other, state = %self.room, "event outside the room ignored"),
        }
    }

    /// Joined or in the waiting room.
    fn in_room(&self) -> bool {
        matches!(self.room, RoomState::Joined | RoomState::Waitlisted)
    }

    fn permissions_updated(&mut self, patch: crate::permissions::PermissionsPatch, by: crate::state::Actor) {
        if self.config.self_info.permissions.apply(&patch) {
            if !self.permissions().accept_waiting_requests {
                self.roster.clear_waiting();
            }
            self.emit(Event::PermissionsUpdate { patch, by });
        }
    }

    fn session_ended(&mut self, end: SessionEnd) {
        if self.room.is_terminal() {
            return;
        }
        self.emit(Event::SessionEnded { end: end.clone() });
        self.finish(LeaveState::Ended(end));
    }

    /// Takes the local participant out of a snapshot's lists, both as the snapshot names it
    /// (`self_peer`) and as the welcome did (the peer id): a server that disagrees with itself must
    /// not put this participant in its own roster.
    fn without_self(&self, room: &mut RoomSnapshot) {
        let own = self.self_peer_id();
        let snapshot_self = room.self_peer.id.as_str();
        room.peers.retain(|p| p.id != own && p.id != snapshot_self);
        room.waitlisted.retain(|p| p.id != own && p.id != snapshot_self);
    }

    fn admitted(&mut self, mut room: RoomSnapshot) {
        self.without_self(&mut room);
        if self.room == RoomState::Joined {
            self.resync(room);
            return;
        }
        if !matches!(self.room, RoomState::Init | RoomState::Waitlisted) {
            tracing::warn!(state = %self.room, "admission outside a join ignored");
            return;
        }
        if self.room == RoomState::Waitlisted {
            self.waitlist = WaitlistStatus::Accepted;
        }
        self.room = RoomState::Joined;
        self.session = Some(room.session);
        self.recording = room.recording;
        self.recording_id = room.recording_id.filter(|_| room.recording != RecordingState::Idle);
        self.roster.clear();
        self.self_pinned = room.self_peer.pinned;
        let self_id = room.self_peer.id;
        let show_list = self.permissions().show_participant_list;
        let may_accept = self.permissions().accept_waiting_requests;
        if show_list {
            for peer in room.peers {
                self.roster.add_joined(peer, &self_id);
            }
        }
        if may_accept {
            for peer in room.waitlisted {
                self.roster.add_waiting(peer, &self_id);
            }
        }
        tracing::info!(peers = self.roster.joined().len(), "joined");
        self.emit(Event::RoomJoined { reconnected: false });
    }

    /// A fresh snapshot while joined (the server could not replay everything after a resume):
    /// the roster becomes the snapshot's, with an event for every difference.
    fn resync(&mut self, room: RoomSnapshot) {
        if self.session.as_ref().is_some_and(|s| s.id != room.session.id) {
            tracing::warn!("a snapshot of another session ignored");
            return;
        }
        tracing::info!(peers = room.peers.len(), "resynchronised from a snapshot");
        self.set_self_pinned(room.self_peer.pinned);
        let self_id = room.self_peer.id;
        let mut fresh = crate::roster::Roster::default();
        if self.permissions().show_participant_list {
            for peer in room.peers {
                fresh.add_joined(peer, &self_id);
            }
        }
        if self.permissions().accept_waiting_requests {
            for peer in room.waitlisted {
                fresh.add_waiting(peer, &self_id);
            }
        }
        let old = std::mem::replace(&mut self.roster, fresh);
        for (id, participant) in old.joined() {
            if !self.roster.joined().contains_key(id) {
                self.emit(Event::ParticipantLeft { participant: participant.clone() });
            }
        }
        for (id, participant) in old.waitlisted() {
            if !self.roster.waitlisted().contains_key(id) {
                let outcome = crate::proto::WaitlistOutcome::Left;
                self.emit(Event::WaitlistRemoved { participant: participant.clone(), outcome });
            }
        }
        let joined: Vec<_> = self
            .roster
            .joined()
            .iter()
            .filter(|(id, _)| !old.joined().contains_key(*id))
            .map(|(_, p)| p.clone())
            .collect();
        for participant in joined {
            self.emit(Event::ParticipantJoined { participant });
        }
        let repinned: Vec<_> = self
            .roster
            .joined()
            .iter()
            .filter(|(id, p)| old.joined().get(*id).is_some_and(|before| before.pinned != p.pinned))
            .map(|(id, p)| (id.clone(), p.pinned))
            .collect();
        for (peer_id, pinned) in repinned {
            self.emit(Event::PinUpdate { peer_id, pinned });
        }
        let waiting: Vec<_> = self
            .roster
            .waitlisted()
            .iter()
            .filter(|(id, _)| !old.waitlisted().contains_key(*id))
            .map(|(_, p)| p.clone())
            .collect();
        for participant in waiting {
            self.emit(Event::WaitlistAdded { participant });
        }
        self.set_recording(room.recording, room.recording_id);
    }

    fn room_event(&mut self, event: SessionEvent) {
        let self_id = self.self_peer_id().to_owned();
        match event {
            SessionEvent::PeerJoined { peer } => {
                if self.permissions().show_participant_list && self.roster.add_joined(peer.clone(), &self_id) {
                    self.emit(Event::ParticipantJoined { participant: peer });
                }
            }
            SessionEvent::PeerLeft { peer_id } => {
                if let Some(participant) = self.roster.remove_joined(&peer_id) {
                    self.emit(Event::ParticipantLeft { participant });
                }
            }
            SessionEvent::PeerKicked { peer_id, by } => {
                if let Some(participant) = self.roster.remove_joined(&peer_id) {
                    self.emit(Event::ParticipantKicked { peer_id, by });
                    self.emit(Event::ParticipantLeft { participant });
                }
            }
            SessionEvent::WaitlistAdded { peer } => {
                if self.permissions().accept_waiting_requests && self.roster.add_waiting(peer.clone(), &self_id) {
                    self.emit(Event::WaitlistAdded { participant: peer });
                }
            }
            SessionEvent::WaitlistRemoved { peer_id, outcome } => {
                if let Some(participant) = self.roster.remove_waiting(&peer_id) {
                    self.emit(Event::WaitlistRemoved { participant, outcome });
                }
            }
            SessionEvent::RecordingUpdated { state, id } => self.set_recording(state, id),
            SessionEvent::PeerUpdated { peer, .. } => self.peer_updated(peer),
            // Events about the local participant itself are handled by `on_event`.
            SessionEvent::Joined { .. }
            | SessionEvent::Waitlisted
            | SessionEvent::Rejected { .. }
            | SessionEvent::Kicked { .. }
            | SessionEvent::SessionEnded { .. }
            | SessionEvent::PermissionsUpdated { .. } => {}
        }
    }
}

impl Participant {
    /// A joined participant was pinned or unpinned (for this participant, its own pin).
    fn peer_updated(&mut self, peer: crate::proto::Peer) {
        if peer.id == self.self_peer_id() {
            return self.set_self_pinned(peer.pinned);
        }
        // Only the pin changes this way; the rest of a record stays as it arrived.
        let Some(known) = self.roster.joined_mut(&peer.id).filter(|known| known.pinned != peer.pinned) else {
            return;
        };
        known.pinned = peer.pinned;
        self.emit(Event::PinUpdate { peer_id: peer.id, pinned: peer.pinned });
    }
}
