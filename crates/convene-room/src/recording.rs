//! Recording: the session's signalling timeline written as JSON lines to a file, through
//! RealtimeKit's states (`INVOKED`, `RECORDING`, `PAUSED`, `UPLOADING`, `UPLOADED`, or
//! `ERRORED`), with a `recording.statusUpdate` webhook at each change and `recording_updated`
//! events to clients. The file itself is the driver's: the room asks for it to be opened,
//! appended to and finished, and hears back how that went.

use std::time::Instant;

use convene_core::proto::{ErrorCode, ReplyData, ServerMessage, SessionEvent, WireError};
use convene_core::RecordingState;
use serde_json::json;

use crate::api::{ApiReply, RecordingAction};
use crate::output::{ConnId, Frame, Output, RecordingIo, RecordingIoResult, RequestId, StoreWrite, WebhookKind};
use crate::payloads;
use crate::records::{Recording, RecordingStatus};
use crate::refusal::Refusal;
use crate::room::Room;

/// Who waits for the outcome of a recording command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requester {
    /// Nobody (record on start, the end of a session).
    Nobody,
    /// A peer's request on its connection.
    Peer { conn: ConnId, req: u64 },
    /// A REST command.
    Api(RequestId),
}

/// A recording in progress.
#[derive(Debug)]
pub(crate) struct ActiveRecording {
    pub rec: Recording,
    /// Who waits for the file to be opened; `None` once it is.
    opening: Option<Requester>,
    started: Instant,
    pub paused: bool,
}

impl ActiveRecording {
    /// The recording's state as clients see it.
    pub(crate) fn client_state(&self) -> RecordingState {
        if self.paused {
            RecordingState::Paused
        } else {
            RecordingState::Recording
        }
    }
}

/// A stopped recording whose file is being finished.
#[derive(Debug)]
pub(crate) struct Finishing {
    rec: Recording,
    /// The peers told `STOPPING`, told `IDLE` once done (none when the session is ending).
    told: Option<Vec<String>>,
    by: Requester,
}

impl Room {
    /// Starts recording the live session; refused when there is no session or one is already
    /// recording. `by` hears the outcome once the file is open.
    pub(crate) fn start_recording(
        &mut self,
        now: Instant,
        reason: &str,
        by_peer: Option<&str>,
        allow_multiple: bool,
        by: Requester,
    ) -> Result<(), Refusal> {
        let Some(session_id) = self.session.as_ref().map(|s| s.id.clone()) else {
            return Err(Refusal::NothingToRecord { meeting_id: self.config.meeting.id.clone() });
        };
        if self.recording.is_some() || self.finishing.is_some() {
            return Err(Refusal::AlreadyRecording { multiple_asked: allow_multiple });
        }
        let id = self.ids.next_id();
        let caller = match by_peer {
            Some(peer) => json!({"type": "USER", "user_Id": peer}),
            None => json!({"type": "ORGANIZATION", "name": self.config.app.name}),
        };
        let rec = Recording {
            id: id.clone(),
            meeting_id: self.config.meeting.id.clone(),
            session_id: Some(session_id),
            status: RecordingStatus::Invoked,
            invoked_time: self.wall(now),
            started_time: None,
            stopped_time: None,
            output_file_name: format!("{id}.jsonl"),
            download_url: None,
            audio_download_url: None,
            download_url_expiry: None,
            file_size: None,
            recording_duration: None,
            start_reason: json!({"reason": reason, "caller": caller}),
            stop_reason: None,
        };
        self.recording = Some(ActiveRecording { rec: rec.clone(), opening: Some(by), started: now, paused: false });
        self.save_and_announce(now, &rec);
        let everyone = self.joined_ids();
        self.announce_recording(now, &everyone, RecordingState::Starting, &rec.id);
        self.outputs.push_back(Output::Recording(RecordingIo::Open { id }));
        Ok(())
    }

    /// The outcome of an [`Output::Recording`] request.
    pub fn handle_recording_io(&mut self, now: Instant, id: &str, result: RecordingIoResult) {
        match result {
            RecordingIoResult::Opened | RecordingIoResult::OpenFailed => self.opened(now, id, result),
            RecordingIoResult::Finished { .. } | RecordingIoResult::FinishFailed => self.finished(now, id, result),
        }
        self.track_idle(now);
    }

    fn opened(&mut self, now: Instant, id: &str, result: RecordingIoResult) {
        let Some(active) = self.recording.as_mut().filter(|a| a.rec.id == id) else { return };
        let Some(by) = active.opening.take() else { return };
        let mut rec = active.rec.clone();
        let everyone = self.joined_ids();
        if result == RecordingIoResult::OpenFailed {
            tracing::error!(recording = %id, "the recording file could not be created");
            rec.status = RecordingStatus::Errored;
            rec.stop_reason = Some(json!({"reason": "INTERNAL_ERROR"}));
            self.recording = None;
            self.save_and_announce(now, &rec);
            self.announce_recording(now, &everyone, RecordingState::Idle, &rec.id);
            return self.answer(by, Err(Refusal::RecordingFile), ErrorCode::RecordingInProgress);
        }
        rec.status = RecordingStatus::Recording;
        rec.started_time = Some(self.wall(now));
        if let Some(active) = &mut self.recording {
            active.started = now;
        }
        self.save_and_announce(now, &rec);
        self.announce_recording(now, &everyone, RecordingState::Recording, &rec.id);
        let rec = self.with_url(rec);
        self.answer(by, Ok(rec), ErrorCode::RecordingInProgress);
    }

    /// Stops the recording (only if it has this id, when one is given), telling the peers.
    pub(crate) fn stop_recording(
        &mut self,
        now: Instant,
        id: Option<&str>,
        reason: &str,
        by: Requester,
    ) -> Result<(), Refusal> {
        match &self.recording {
            None => return Err(Refusal::NotRecording),
            Some(r) if r.opening.is_some() => return Err(Refusal::NotRecording),
            Some(r) if id.is_some_and(|id| id != r.rec.id) => return Err(Refusal::NotInProgress { id: None }),
            Some(_) => {}
        }
        self.finish_recording(now, reason, true, by)
    }

    /// Stops the recording and asks for its file to be finished; `tell_clients` sends `STOPPING`
    /// now and `IDLE` once finished (not when the session is ending, which tells them itself).
    pub(crate) fn finish_recording(
        &mut self,
        now: Instant,
        reason: &str,
        tell_clients: bool,
        by: Requester,
    ) -> Result<(), Refusal> {
        let Some(active) = self.recording.take() else { return Err(Refusal::NotRecording) };
        if let Some(opener) = active.opening {
            // Its file was still being opened (a driver with slow file work): whoever asked for
            // it hears that the session it was to record is over, rather than nothing.
            let refusal = Refusal::NothingToRecord { meeting_id: self.config.meeting.id.clone() };
            self.answer(opener, Err(refusal), ErrorCode::RecordingInProgress);
        }
        let told = tell_clients.then(|| self.joined_ids());
        if let Some(everyone) = &told {
            self.announce_recording(now, everyone, RecordingState::Stopping, &active.rec.id);
        }
        let mut rec = active.rec;
        rec.status = RecordingStatus::Uploading;
        rec.stopped_time = Some(self.wall(now));
        rec.recording_duration = Some(now.saturating_duration_since(active.started).as_secs());
        rec.stop_reason = Some(json!({"reason": reason}));
        self.save_and_announce(now, &rec);
        let id = rec.id.clone();
        self.finishing = Some(Finishing { rec, told, by });
        self.outputs.push_back(Output::Recording(RecordingIo::Finish { id }));
        Ok(())
    }

    fn finished(&mut self, now: Instant, id: &str, result: RecordingIoResult) {
        let Some(Finishing { mut rec, told, by }) = self.finishing.take_if(|f| f.rec.id == id) else { return };
        match result {
            RecordingIoResult::Finished { bytes } => {
                rec.status = RecordingStatus::Uploaded;
                rec.file_size = Some(bytes);
            }
            _ => {
                tracing::error!(recording = %id, "the recording could not be finished");
                rec.status = RecordingStatus::Errored;
            }
        }
        self.save_and_announce(now, &rec);
        if let Some(everyone) = told {
            self.announce_recording(now, &everyone, RecordingState::Idle, &rec.id);
        }
        let rec = self.with_url(rec);
        self.answer(by, Ok(rec), ErrorCode::RecordingNotStarted);
    }

    /// Tells whoever waits how a recording command ended (`code` for a peer's refusal).
    fn answer(&mut self, by: Requester, outcome: Result<Recording, Refusal>, code: ErrorCode) {
        match (by, outcome) {
            (Requester::Nobody, _) => {}
            (Requester::Peer { conn, req }, Ok(_)) => self.reply(conn, req, ReplyData::default()),
            (Requester::Peer { conn, req }, Err(refusal)) => {
                let error = WireError::new(code, refusal.to_string());
                self.send_direct(conn, &ServerMessage::Error { req: Some(req), error });
            }
            (Requester::Api(request), Ok(rec)) => {
                self.outputs.push_back(Output::Reply { request, reply: ApiReply::Recording(Box::new(rec)) })
            }
            (Requester::Api(request), Err(refusal)) => {
                self.outputs.push_back(Output::Reply { request, reply: ApiReply::Refused(refusal) })
            }
        }
    }

    /// A REST action on the recording in progress.
    pub(crate) fn recording_action(&mut self, now: Instant, request: RequestId, id: &str, action: RecordingAction) {
        let reply = |reply| Output::Reply { request, reply };
        let matches = self.recording.as_ref().is_some_and(|r| r.rec.id == id && r.opening.is_none());
        if !matches {
            let refusal = Refusal::NotInProgress { id: Some(id.to_owned()) };
            return self.outputs.push_back(reply(ApiReply::Refused(refusal)));
        }
        let pause = match action {
            RecordingAction::Stop => {
                if let Err(refusal) = self.stop_recording(now, Some(id), "API_CALL", Requester::Api(request)) {
                    self.outputs.push_back(reply(ApiReply::Refused(refusal)));
                }
                return;
            }
            RecordingAction::Pause => true,
            RecordingAction::Resume => false,
        };
        let outcome = match self.set_paused(now, Some(id), pause) {
            Ok(rec) => ApiReply::Recording(Box::new(self.with_url(rec))),
            Err(refusal) => ApiReply::Refused(refusal),
        };
        self.outputs.push_back(reply(outcome));
    }

    /// Pauses (`pause`) or resumes the recording in progress (only if it has this id, when one
    /// is given), telling the peers. Returns the recording as it now is.
    pub(crate) fn set_paused(&mut self, now: Instant, id: Option<&str>, pause: bool) -> Result<Recording, Refusal> {
        let everyone = self.joined_ids();
        let Some(active) = self.recording.as_mut().filter(|r| r.opening.is_none()) else {
            return Err(Refusal::NotRecording);
        };
        if id.is_some_and(|id| id != active.rec.id) {
            return Err(Refusal::NotInProgress { id: id.map(str::to_owned) });
        }
        if active.paused == pause {
            return Err(Refusal::AlreadyInState { id: active.rec.id.clone(), paused: pause });
        }
        active.paused = pause;
        active.rec.status = if pause { RecordingStatus::Paused } else { RecordingStatus::Recording };
        let rec = active.rec.clone();
        self.save_and_announce(now, &rec);
        let state = if pause { RecordingState::Paused } else { RecordingState::Recording };
        self.announce_recording(now, &everyone, state, &rec.id);
        Ok(rec)
    }

    /// The recording as a `joined` snapshot shows it, with its id: `STARTING` while its file opens
    /// (the peers then in the session were told so, and everyone joined hears `RECORDING` once it
    /// is open). A recording being finished shows as `IDLE`: a joiner is not among those told
    /// `STOPPING`, who alone hear its `IDLE`.
    pub(crate) fn recording_for_snapshot(&self) -> (RecordingState, Option<String>) {
        match &self.recording {
            Some(active) if active.opening.is_some() => (RecordingState::Starting, Some(active.rec.id.clone())),
            Some(active) => (active.client_state(), Some(active.rec.id.clone())),
            None => (RecordingState::Idle, None),
        }
    }

    /// Tells `peers` the recording's state.
    pub(crate) fn announce_recording(&mut self, now: Instant, peers: &[String], state: RecordingState, id: &str) {
        self.broadcast(now, peers, SessionEvent::RecordingUpdated { state, id: Some(id.to_owned()) });
    }

    /// Appends an event frame to the timeline (not while paused, nor before the file is open).
    pub(crate) fn record_frame(&mut self, now: Instant, frame: &Frame) {
        let Some(active) = self.recording.as_ref().filter(|a| !a.paused && a.opening.is_none()) else { return };
        let id = active.rec.id.clone();
        let line = format!("{{\"at\":\"{}\",\"frame\":{}}}\n", self.wall(now), frame.as_str());
        self.outputs.push_back(Output::Recording(RecordingIo::Append { id, line }));
    }

    /// The recording with its download link, once uploaded.
    fn with_url(&self, mut rec: Recording) -> Recording {
        if rec.status == RecordingStatus::Uploaded {
            let c = &self.config;
            rec.download_url = Some(format!(
                "{}/client/v4/accounts/{}/realtime/kit/{}/recordings/{}/download",
                c.base_url, c.app.account, c.app.id, rec.id
            ));
        }
        rec
    }

    fn save_and_announce(&mut self, now: Instant, rec: &Recording) {
        if let Some(active) = self.recording.as_mut().filter(|a| a.rec.id == rec.id) {
            active.rec = rec.clone();
        }
        self.store(StoreWrite::RecordingSaved(Box::new(rec.clone())));
        let payload = payloads::recording_status(self, &self.with_url(rec.clone()));
        self.webhook(now, WebhookKind::RecordingStatusUpdate, payload);
    }
}
