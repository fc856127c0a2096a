//! `Meeting`: the application's handle, with RealtimeKit's shape (`self_()`, `participants()`,
//! `meta()`, `recording()`, `join()`, `leave()`, `events()`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use convene_core::contract::{ClientOptions, ParticipantMe, ServerUrl};
use convene_core::proto::{Peer, SelfInfo};
use convene_core::{
    ClientError, Command, CommandOk, Config, Event, Participant, Permissions, PermissionsPatch, ReconnectPolicy,
    RecordingState, RoomState, SocketState, WaitlistStatus,
};
use futures_util::Stream;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::driver::{lock, Driver, DriverCommand, SharedCore, Subscribers};
use crate::InitError;

/// How to initialise a meeting client.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The server, e.g. `http://127.0.0.1:8790` or `https://meet.example.com` (a path prefix is
    /// kept; another scheme is refused with [`InitError::InvalidServerUrl`]).
    pub base_url: String,
    /// The participant's auth token (from REST `POST .../participants`).
    pub auth_token: String,
    /// Reconnection after a dropped connection (default: 250 ms doubling to 5 s, 8 attempts).
    pub reconnect: ReconnectPolicy,
    /// How long a command may wait for the server (default 10 s).
    pub request_timeout: Duration,
    /// Seed of the reconnect jitter (default: from the token, so clients spread out).
    pub seed: Option<u64>,
    /// PEM CA certificates to trust for an `https://` server besides the system's roots (which
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR` can point elsewhere, read once per process): for servers
    /// with a private CA.
    /// Certificates are always verified, host name included.
    pub ca_certificates_pem: Option<String>,
}

impl InitOptions {
    /// The settings the core takes from these options.
    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            reconnect: self.reconnect,
            request_timeout_ms: self.request_timeout.as_millis().try_into().unwrap_or(u64::MAX),
            seed: self.seed,
        }
    }

    /// Options with default timings.
    pub fn new(base_url: impl Into<String>, auth_token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            auth_token: auth_token.into(),
            reconnect: ReconnectPolicy::default(),
            request_timeout: Duration::from_secs(10),
            seed: None,
            ca_certificates_pem: None,
        }
    }
}

struct Inner {
    core: SharedCore,
    commands: mpsc::Sender<DriverCommand>,
    subscribers: Subscribers,
}

/// A meeting client. Cheap to clone; the connection ends when the last clone is dropped.
#[derive(Clone)]
pub struct Meeting {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Meeting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let core = lock(&self.inner.core);
        f.debug_struct("Meeting").field("room_state", &core.room_state()).field("peer_id", &core.peer_id()).finish()
    }
}

impl Meeting {
    /// Fetches who this participant is, its preset and the meeting, and starts the driver. No
    /// connection is made until [`Meeting::join`]. Must be called inside a tokio runtime.
    pub async fn init(options: InitOptions) -> Result<Self, InitError> {
        let server = ServerUrl::parse(&options.base_url)?;
        let tls = crate::tls::client_config(options.ca_certificates_pem.as_deref())?;
        let me = fetch_me(&server, &options.auth_token, &tls).await?;
        let config = Config::from_me(&options.auth_token, &me, &options.client_options());
        let core: SharedCore = Arc::new(Mutex::new(Participant::new(config)));
        let (tx, rx) = mpsc::channel(64);
        let subscribers: Subscribers = Arc::default();
        let driver =
            Driver { core: core.clone(), ws_url: server.signal(), tls, commands: rx, subscribers: subscribers.clone() };
        tokio::spawn(driver.run());
        Ok(Self { inner: Arc::new(Inner { core, commands: tx, subscribers }) })
    }

    async fn run(&self, command: Command) -> Result<CommandOk, ClientError> {
        let (answer, result) = oneshot::channel();
        self.inner.commands.send(DriverCommand::Run(command, answer)).await.map_err(|_| ClientError::ConnectionLost)?;
        result.await.map_err(|_| ClientError::ConnectionLost)?
    }

    /// Joins (or enters the waiting room). Resolves once the server has answered: the room state
    /// is then `joined` or `waitlisted`.
    pub async fn join(&self) -> Result<(), ClientError> {
        self.run(Command::Join).await.map(|_| ())
    }

    /// Leaves: only this participant goes; the session continues for the others.
    pub async fn leave(&self) -> Result<(), ClientError> {
        self.run(Command::Leave).await.map(|_| ())
    }

    /// A stream of every event from now on. Several subscribers may listen; each must be polled.
    pub fn events(&self) -> impl Stream<Item = Event> + Send + Unpin + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.subscribers.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) }))
    }

    /// The local participant (`meeting.self`).
    pub fn self_(&self) -> SelfView<'_> {
        SelfView { meeting: self }
    }

    /// The remote participants (`meeting.participants`).
    pub fn participants(&self) -> Participants<'_> {
        Participants { meeting: self }
    }

    /// Meeting metadata and the connection (`meeting.meta`).
    pub fn meta(&self) -> Meta<'_> {
        Meta { meeting: self }
    }

    /// Recording (`meeting.recording`).
    pub fn recording(&self) -> Recording<'_> {
        Recording { meeting: self }
    }

    /// Fault injection for tests: `true` drops the connection as a network failure would and
    /// holds reconnection; `false` lets the client reconnect and resume. Only with the
    /// `fault-injection` feature.
    #[cfg(feature = "fault-injection")]
    pub async fn simulate_outage(&self, down: bool) {
        let (done, acted) = tokio::sync::oneshot::channel();
        if self.inner.commands.send(DriverCommand::Outage(down, done)).await.is_ok() {
            let _ = acted.await;
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Participant) -> T) -> T {
        f(&lock(&self.inner.core))
    }
}

/// `meeting.self`.
pub struct SelfView<'a> {
    meeting: &'a Meeting,
}

impl SelfView<'_> {
    /// `roomState`.
    pub fn room_state(&self) -> RoomState {
        self.meeting.read(|c| c.room_state())
    }
    /// `roomJoined`.
    pub fn room_joined(&self) -> bool {
        self.meeting.read(|c| c.room_joined())
    }
    /// `waitlistStatus`.
    pub fn waitlist_status(&self) -> WaitlistStatus {
        self.meeting.read(|c| c.waitlist_status())
    }
    /// `id`: the peer id, once connected.
    pub fn id(&self) -> Option<String> {
        self.meeting.read(|c| c.peer_id().map(str::to_owned))
    }
    /// `userId`, `name`, `customParticipantId`, `presetName`, ...
    pub fn info(&self) -> SelfInfo {
        self.meeting.read(|c| c.self_info().clone())
    }
    /// `permissions`, as currently in force.
    pub fn permissions(&self) -> Permissions {
        self.meeting.read(|c| c.permissions().clone())
    }
    /// `setName(name)`: the display name to join with, which everyone then sees. Only before
    /// `join()`, with `can_edit_display_name`, 1 to 200 characters once trimmed; an error
    /// changes nothing.
    pub fn set_name(&self, name: &str) -> Result<(), ClientError> {
        lock(&self.meeting.inner.core).set_name(name)
    }
    /// `isPinned`: whether a host pinned this participant for everyone.
    pub fn is_pinned(&self) -> bool {
        self.meeting.read(|c| c.is_pinned())
    }
    /// `pin()`: pins this participant for everyone (needs `pin_participant`, `1201` without;
    /// `1205` before joining).
    pub async fn pin(&self) -> Result<(), ClientError> {
        self.set_pinned(true).await
    }
    /// `unpin()`.
    pub async fn unpin(&self) -> Result<(), ClientError> {
        self.set_pinned(false).await
    }
    async fn set_pinned(&self, pinned: bool) -> Result<(), ClientError> {
        let id = self.id().unwrap_or_default();
        self.meeting.run(Command::Pin { id, pinned }).await.map(|_| ())
    }
}

/// `meeting.participants`.
pub struct Participants<'a> {
    meeting: &'a Meeting,
}

impl<'a> Participants<'a> {
    /// `joined`: everyone else in the meeting, ordered by peer id.
    pub fn joined(&self) -> Vec<Peer> {
        self.meeting.read(|c| c.roster().joined().values().cloned().collect())
    }
    /// How many others are in the meeting (`joined.size`), without copying them.
    pub fn joined_count(&self) -> usize {
        self.meeting.read(|c| c.roster().joined().len())
    }
    /// `waitlisted`: the waiting room (for those who may accept).
    pub fn waitlisted(&self) -> Vec<Peer> {
        self.meeting.read(|c| c.roster().waitlisted().values().cloned().collect())
    }
    /// `pinned`: the joined participants pinned for everyone, ordered by peer id.
    pub fn pinned(&self) -> Vec<Peer> {
        self.meeting.read(|c| c.roster().joined().values().filter(|p| p.pinned).cloned().collect())
    }
    /// One joined participant by peer id or participant id.
    pub fn get(&self, id: &str) -> Option<RemoteParticipant<'a>> {
        let peer = self.meeting.read(|c| c.roster().find_joined(id).cloned())?;
        Some(RemoteParticipant { meeting: self.meeting, peer })
    }
    /// `kickAll()`: ends the session for everyone. Resolves once the server has ended it, with the
    /// number of peers removed; fails with `1205` before joining and `1201` without
    /// `kick_participant`.
    pub async fn kick_all(&self) -> Result<u64, ClientError> {
        self.meeting.run(Command::KickAll).await.map(|ok| ok.kicked_participants_count.unwrap_or(0))
    }
    /// `acceptWaitingRoomRequest(id)` (peer id or participant id).
    pub async fn accept_waiting_room_request(&self, id: &str) -> Result<(), ClientError> {
        self.meeting.run(Command::AcceptWaiting { ids: vec![id.to_owned()] }).await.map(|_| ())
    }
    /// `acceptAllWaitingRoomRequest(ids)`.
    pub async fn accept_all_waiting_room_requests(&self, ids: &[String]) -> Result<(), ClientError> {
        self.meeting.run(Command::AcceptWaiting { ids: ids.to_vec() }).await.map(|_| ())
    }
    /// Accepts everyone waiting now.
    pub async fn accept_everyone_waiting(&self) -> Result<(), ClientError> {
        self.meeting.run(Command::AcceptAllWaiting).await.map(|_| ())
    }
    /// `rejectWaitingRoomRequest(id)`.
    pub async fn reject_waiting_room_request(&self, id: &str) -> Result<(), ClientError> {
        self.meeting.run(Command::RejectWaiting { id: id.to_owned() }).await.map(|_| ())
    }
    /// `updatePermissions(ids, patch)`.
    pub async fn update_permissions(&self, ids: &[String], patch: PermissionsPatch) -> Result<(), ClientError> {
        self.meeting.run(Command::UpdatePermissions { ids: ids.to_vec(), patch }).await.map(|_| ())
    }
    /// Removes one participant by peer id or participant id (as `participant.kick()`).
    pub async fn kick(&self, id: &str) -> Result<(), ClientError> {
        self.meeting.run(Command::Kick { peer_id: id.to_owned() }).await.map(|_| ())
    }
}

/// A remote participant.
pub struct RemoteParticipant<'a> {
    meeting: &'a Meeting,
    /// Its record.
    pub peer: Peer,
}

impl RemoteParticipant<'_> {
    /// `participant.kick()`.
    pub async fn kick(&self) -> Result<(), ClientError> {
        self.meeting.run(Command::Kick { peer_id: self.peer.id.clone() }).await.map(|_| ())
    }
    /// `participant.pin()`: pins it for everyone (needs `pin_participant`).
    pub async fn pin(&self) -> Result<(), ClientError> {
        self.meeting.run(Command::Pin { id: self.peer.id.clone(), pinned: true }).await.map(|_| ())
    }
    /// `participant.unpin()`.
    pub async fn unpin(&self) -> Result<(), ClientError> {
        self.meeting.run(Command::Pin { id: self.peer.id.clone(), pinned: false }).await.map(|_| ())
    }
}

/// `meeting.meta`.
pub struct Meta<'a> {
    meeting: &'a Meeting,
}

impl Meta<'_> {
    /// `meetingId`.
    pub fn meeting_id(&self) -> String {
        self.meeting.read(|c| c.meeting().id.clone())
    }
    /// `meetingTitle`.
    pub fn meeting_title(&self) -> String {
        self.meeting.read(|c| c.meeting().title.clone())
    }
    /// `sessionId`, once joined.
    pub fn session_id(&self) -> Option<String> {
        self.meeting.read(|c| c.session().map(|s| s.id.clone()))
    }
    /// `meetingStartedTimestamp` (RFC 3339), once joined.
    pub fn meeting_started_timestamp(&self) -> Option<String> {
        self.meeting.read(|c| c.session().map(|s| s.started_at.clone()))
    }
    /// `socketState`.
    pub fn socket_state(&self) -> SocketState {
        self.meeting.read(|c| c.socket_state())
    }
}

/// `meeting.recording`.
pub struct Recording<'a> {
    meeting: &'a Meeting,
}

impl Recording<'_> {
    /// `recordingState`.
    pub fn state(&self) -> RecordingState {
        self.meeting.read(|c| c.recording_state())
    }
    /// `recordings`: the session's recording in progress (its id and state), if any; one runs at
    /// a time.
    pub fn recordings(&self) -> Vec<(String, RecordingState)> {
        self.meeting.read(|c| c.recording().map(|(id, state)| (id.to_owned(), state)).into_iter().collect())
    }
    /// `start()`: needs `can_record` (`1001`); `1005` while one is in progress.
    pub async fn start(&self) -> Result<(), ClientError> {
        self.meeting.run(Command::StartRecording { allow_multiple: false }).await.map(|_| ())
    }
    /// `stop(recordingId?)`: `1004` when that recording is not in progress.
    pub async fn stop(&self, recording_id: Option<&str>) -> Result<(), ClientError> {
        self.meeting.run(Command::StopRecording { id: recording_id.map(str::to_owned) }).await.map(|_| ())
    }
    /// `pause(recordingId?)`: `1004` unless that recording is recording.
    pub async fn pause(&self, recording_id: Option<&str>) -> Result<(), ClientError> {
        self.meeting.run(Command::PauseRecording { id: recording_id.map(str::to_owned) }).await.map(|_| ())
    }
    /// `resume(recordingId?)`: `1004` unless that recording is paused.
    pub async fn resume(&self, recording_id: Option<&str>) -> Result<(), ClientError> {
        self.meeting.run(Command::ResumeRecording { id: recording_id.map(str::to_owned) }).await.map(|_| ())
    }
}

/// `GET /v1/participant/me`: who the token's participant is, its permissions and the meeting.
async fn fetch_me(
    server: &ServerUrl,
    auth_token: &str,
    tls: &Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<ParticipantMe, InitError> {
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((**tls).clone())
        .build()
        .map_err(|e| InitError::Tls(crate::tls::describe(&e).0))?;
    let response =
        client.get(server.me()).header("authorization", format!("Bearer {auth_token}")).send().await.map_err(|e| {
            match crate::tls::describe(&e) {
                (text, true) => InitError::Tls(text),
                (text, false) => InitError::Unreachable(text),
            }
        })?;
    let status = response.status();
    let body: Value = serde_json::from_str(&response.text().await.map_err(|e| InitError::Unreachable(e.to_string()))?)
        .map_err(|e| InitError::Protocol(e.to_string()))?;
    if status.as_u16() == 401 {
        return Err(InitError::InvalidAuthToken(body["error"]["message"].as_str().unwrap_or("").to_owned()));
    }
    if !status.is_success() {
        return Err(InitError::Protocol(format!("HTTP {status}: {body}")));
    }
    ParticipantMe::from_value(&body["data"]).map_err(|e| InitError::Protocol(format!("{}: {e}", server.me())))
}
