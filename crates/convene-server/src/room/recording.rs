//! Recording: the session's signalling timeline written as JSON lines to a file, through
//! RealtimeKit's states (`INVOKED`, `RECORDING`, `UPLOADING`, `UPLOADED`, or `ERRORED`), with a
//! `recording.statusUpdate` webhook at each change and `recording_updated` events to clients.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use convene_core::proto::SessionEvent;
use convene_core::RecordingState;
use serde_json::json;

use super::actor::Room;
use super::{ApiReply, RecordingAction, Refusal};
use crate::model::Recording;
use crate::store::{new_id, now_rfc3339};

/// A recording in progress.
pub(crate) struct ActiveRecording {
    pub rec: Recording,
    file: Option<BufWriter<File>>,
    path: PathBuf,
    started: Instant,
    pub paused: bool,
}

impl ActiveRecording {
    /// Appends one event frame to the timeline (skipped while paused).
    pub fn write(&mut self, frame: &Utf8Bytes) {
        if self.paused {
            return;
        }
        if let Some(file) = &mut self.file {
            let line = format!("{{\"at\":\"{}\",\"frame\":{}}}\n", now_rfc3339(), frame.as_str());
            if let Err(e) = file.write_all(line.as_bytes()) {
                tracing::error!(error = %e, "recording write failed");
                self.file = None;
            }
        }
    }
}

/// The path of a recording's file.
pub fn recording_path(dir: &std::path::Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.jsonl"))
}

impl Room {
    /// Starts recording the live session; refused when there is no session or one is already
    /// recording.
    pub(super) fn start_recording(
        &mut self,
        reason: &str,
        by_peer: Option<&str>,
        allow_multiple: bool,
    ) -> Result<Recording, Refusal> {
        let Some(session_id) = self.session.as_ref().map(|s| s.id.clone()) else {
            return Err(Refusal::NothingToRecord { meeting_id: self.meeting.id.clone() });
        };
        if self.recording.is_some() {
            return Err(Refusal::AlreadyRecording { multiple_asked: allow_multiple });
        }
        let id = new_id();
        let dir = self.state.0.recordings_dir.clone();
        let path = recording_path(&dir, &id);
        let caller = match by_peer {
            Some(peer) => json!({"type": "USER", "user_Id": peer}),
            None => json!({"type": "ORGANIZATION", "name": self.app_name}),
        };
        let mut rec = Recording {
            id: id.clone(),
            meeting_id: self.meeting.id.clone(),
            session_id: Some(session_id),
            status: "INVOKED".into(),
            invoked_time: now_rfc3339(),
            started_time: None,
            stopped_time: None,
            output_file_name: format!("{id}.jsonl"),
            download_url: None,
            file_size: None,
            recording_duration: None,
            start_reason: json!({"reason": reason, "caller": caller}),
            stop_reason: None,
        };
        self.save_and_announce(&rec);
        let everyone = self.joined_ids();
        self.broadcast(&everyone, SessionEvent::RecordingUpdated { state: RecordingState::Starting });
        let file = crate::files::private_dir(&dir).and_then(|_| crate::files::create_private(&path));
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "cannot create the recording file");
                rec.status = "ERRORED".into();
                rec.stop_reason = Some(json!({"reason": "INTERNAL_ERROR"}));
                self.save_and_announce(&rec);
                self.broadcast(&everyone, SessionEvent::RecordingUpdated { state: RecordingState::Idle });
                return Err(Refusal::RecordingFile);
            }
        };
        rec.status = "RECORDING".into();
        rec.started_time = Some(now_rfc3339());
        self.save_and_announce(&rec);
        self.recording = Some(ActiveRecording {
            rec: rec.clone(),
            file: Some(BufWriter::new(file)),
            path,
            started: Instant::now(),
            paused: false,
        });
        self.broadcast(&everyone, SessionEvent::RecordingUpdated { state: RecordingState::Recording });
        Ok(self.with_url(rec))
    }

    /// Stops the recording (optionally only if it has this id), telling the peers.
    pub(super) fn stop_recording(&mut self, id: Option<&str>, reason: &str) -> Result<Recording, Refusal> {
        self.stop_recording_in(id, reason, true)
    }

    /// Stops the recording; `tell_clients` sends `STOPPING` and `IDLE` to the peers (not when the
    /// session is ending, which tells them itself).
    pub(super) fn stop_recording_in(
        &mut self,
        id: Option<&str>,
        reason: &str,
        tell_clients: bool,
    ) -> Result<Recording, Refusal> {
        match &self.recording {
            None => return Err(Refusal::NotRecording),
            Some(r) if id.is_some_and(|id| id != r.rec.id) => return Err(Refusal::NotInProgress { id: None }),
            Some(_) => {}
        }
        let mut active = self.recording.take().expect("checked above");
        let everyone = if tell_clients { self.joined_ids() } else { Vec::new() };
        if tell_clients {
            self.broadcast(&everyone, SessionEvent::RecordingUpdated { state: RecordingState::Stopping });
        }
        let mut rec = active.rec.clone();
        rec.status = "UPLOADING".into();
        rec.stopped_time = Some(now_rfc3339());
        rec.recording_duration = Some(active.started.elapsed().as_secs());
        rec.stop_reason = Some(json!({"reason": reason}));
        self.save_and_announce(&rec);
        let flushed = active.file.take().map(|mut f| f.flush()).transpose();
        match (flushed, std::fs::metadata(&active.path)) {
            (Ok(_), Ok(meta)) => {
                rec.status = "UPLOADED".into();
                rec.file_size = Some(meta.len());
            }
            (flushed, meta) => {
                tracing::error!(?flushed, meta = ?meta.err(), "recording could not be finished");
                rec.status = "ERRORED".into();
            }
        }
        self.save_and_announce(&rec);
        if tell_clients {
            self.broadcast(&everyone, SessionEvent::RecordingUpdated { state: RecordingState::Idle });
        }
        Ok(self.with_url(rec))
    }

    pub(super) fn recording_action(&mut self, id: &str, action: RecordingAction) -> ApiReply {
        let matches = self.recording.as_ref().is_some_and(|r| r.rec.id == id);
        if !matches {
            return ApiReply::Refused(Refusal::NotInProgress { id: Some(id.to_owned()) });
        }
        let everyone = self.joined_ids();
        match action {
            RecordingAction::Stop => match self.stop_recording(Some(id), "API_CALL") {
                Ok(rec) => ApiReply::Recording(Box::new(rec)),
                Err(refusal) => ApiReply::Refused(refusal),
            },
            RecordingAction::Pause | RecordingAction::Resume => {
                let pause = action == RecordingAction::Pause;
                let active = self.recording.as_mut().expect("checked above");
                if active.paused == pause {
                    return ApiReply::Refused(Refusal::AlreadyInState { id: id.to_owned(), paused: pause });
                }
                active.paused = pause;
                active.rec.status = if pause { "PAUSED" } else { "RECORDING" }.into();
                let rec = active.rec.clone();
                self.save_and_announce(&rec);
                let state = if pause { RecordingState::Paused } else { RecordingState::Recording };
                self.broadcast(&everyone, SessionEvent::RecordingUpdated { state });
                ApiReply::Recording(Box::new(self.with_url(rec)))
            }
        }
    }

    fn with_url(&self, mut rec: Recording) -> Recording {
        if rec.status == "UPLOADED" {
            rec.download_url = Some(format!(
                "{}/client/v4/accounts/{}/realtime/kit/{}/recordings/{}/download",
                self.state.0.base_url, self.app_account, self.app_id, rec.id
            ));
        }
        rec
    }

    fn save_and_announce(&mut self, rec: &Recording) {
        if let Some(active) = &mut self.recording {
            if active.rec.id == rec.id {
                active.rec = rec.clone();
            }
        }
        if let Err(e) = self.state.store().save_recording(&self.app_id, rec) {
            tracing::error!(error = %e, "could not save a recording");
        }
        let rec = self.with_url(rec.clone());
        let payload = json!({
            "event": "recording.statusUpdate",
            "recording": {
                "id": rec.id,
                "recordingId": rec.id,
                "status": rec.status,
                "downloadUrl": rec.download_url,
                "audioDownloadUrl": null,
                "downloadUrlExpiry": null,
                "startedTime": rec.started_time,
                "stoppedTime": rec.stopped_time,
                "fileSize": rec.file_size.map(|n| n.to_string()),
                "outputFileName": rec.output_file_name,
                "meetingId": rec.meeting_id,
                "recordingDuration": rec.recording_duration,
                "organizationId": self.app_id,
                "roomUUID": rec.session_id,
            },
            "meeting": self.meeting_payload(None),
        });
        self.webhook("recording.statusUpdate", payload);
    }
}
