//! What the REST API asks of a room, and the answers. A command's answer comes out as an
//! [`Output::Reply`] carrying the driver's [`RequestId`]: at once for most, after the file work
//! for starting and stopping a recording.

use std::time::Instant;

use convene_core::permissions::Permissions;
use convene_core::{Actor, EndReason};
use serde::{Deserialize, Serialize};

use crate::output::{Output, RequestId};
use crate::peer::PeerStatus;
use crate::recording::Requester;
use crate::records::{MeetingSettings, ParticipantInfo, Recording};
use crate::refusal::Refusal;
use crate::room::Room;

/// A REST action on a room (serde: in cluster mode it travels from the node that got the request
/// to the meeting's owner).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ApiCommand {
    /// End the session for everyone. Answers with the number of peers removed.
    KickAll,
    /// Remove these participants (by participant id). Answers with the ids removed.
    Kick(Vec<String>),
    /// A participant was deleted: every peer of it goes, whatever its state (waiting, not yet
    /// joined, away), and its later connections are refused. Answers `Done`.
    ParticipantDeleted(String),
    /// A participant's record changed (its preset, say): its live peers take the record and
    /// the permissions given (its preset's) at once. Answers `Done`.
    ParticipantChanged {
        /// The record now.
        participant: ParticipantInfo,
        /// Its preset's permissions now.
        permissions: Box<Permissions>,
    },
    /// Presets of the app were changed or deleted: live peers of those preset names take the
    /// permissions given at once. Answers `Done` (also from rooms of other apps, which ignore it).
    PresetChanged {
        /// The app of the presets.
        app_id: String,
        /// Each preset name (before a rename, and after it) with its permissions now.
        presets: Vec<(String, Permissions)>,
    },
    /// The meeting's settings changed. Answers `Done`.
    MeetingUpdated(MeetingSettings),
    /// Start recording. Answers with the recording.
    StartRecording {
        /// The caller allows several recordings (one per session is supported here).
        allow_multiple: bool,
    },
    /// Stop, pause or resume a recording. Answers with the recording.
    RecordingAction {
        /// Which recording.
        recording_id: String,
        /// What to do.
        action: RecordingAction,
    },
}

/// A REST action on a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordingAction {
    /// Stop and upload.
    Stop,
    /// Pause.
    Pause,
    /// Resume after a pause.
    Resume,
}

/// A room's answer to an [`ApiCommand`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiReply {
    /// Peers removed by kick-all.
    KickedAll(u64),
    /// Participant ids removed by kick.
    Kicked(Vec<String>),
    /// Done.
    Done,
    /// A recording.
    Recording(Box<Recording>),
    /// Refused, and why.
    Refused(Refusal),
}

impl Room {
    /// A REST command; its answer is an [`Output::Reply`] for `request`.
    pub fn handle_api(&mut self, now: Instant, request: RequestId, command: ApiCommand) {
        if let Some(reply) = self.api(now, request, command) {
            self.outputs.push_back(Output::Reply { request, reply });
        }
        self.track_idle(now);
    }

    /// Carries out a command; `None` when its answer comes later.
    fn api(&mut self, now: Instant, request: RequestId, command: ApiCommand) -> Option<ApiReply> {
        Some(match command {
            ApiCommand::KickAll => match self.session {
                Some(_) => ApiReply::KickedAll(self.end_session(now, EndReason::HostEndedMeeting, Actor::Api)),
                None => ApiReply::Refused(Refusal::NoActiveSession { meeting_id: self.config.meeting.id.clone() }),
            },
            ApiCommand::Kick(participant_ids) => self.kick_participants(now, &participant_ids),
            ApiCommand::ParticipantDeleted(participant_id) => {
                self.participant_deleted(now, &participant_id);
                ApiReply::Done
            }
            ApiCommand::ParticipantChanged { participant, permissions } => {
                self.participant_changed(now, participant, &permissions);
                ApiReply::Done
            }
            ApiCommand::PresetChanged { app_id, presets } => {
                if app_id == self.config.app.id {
                    for (name, permissions) in &presets {
                        self.preset_changed(now, name, permissions);
                    }
                }
                ApiReply::Done
            }
            ApiCommand::MeetingUpdated(meeting) => {
                self.config.meeting = meeting;
                ApiReply::Done
            }
            ApiCommand::StartRecording { allow_multiple } => {
                match self.start_recording(now, "API_CALL", None, allow_multiple, Requester::Api(request)) {
                    Ok(()) => return None,
                    Err(refusal) => ApiReply::Refused(refusal),
                }
            }
            ApiCommand::RecordingAction { recording_id, action } => {
                self.recording_action(now, request, &recording_id, action);
                return None;
            }
        })
    }

    fn kick_participants(&mut self, now: Instant, participant_ids: &[String]) -> ApiReply {
        let targets: Vec<(String, String)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.status == PeerStatus::Joined && participant_ids.contains(&p.participant.id))
            .map(|(id, p)| (id.clone(), p.participant.id.clone()))
            .collect();
        if targets.is_empty() {
            return ApiReply::Refused(Refusal::NoSuchParticipants { ids: participant_ids.join(", ") });
        }
        let mut kicked: Vec<String> = Vec::new();
        for (peer_id, participant_id) in targets {
            self.kick(now, &peer_id, Actor::Api);
            if !kicked.contains(&participant_id) {
                kicked.push(participant_id);
            }
        }
        ApiReply::Kicked(kicked)
    }
}
