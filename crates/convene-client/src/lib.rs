//! # convene-client
//!
//! The native Rust client for Convene meetings: a tokio + tokio-tungstenite driver around the
//! sans-IO [`convene_core`] state machine, with RealtimeKit's shape: `self_()`, `participants()`,
//! `meta()`, `recording()`, `join()`, `leave()`, and a stream of typed events. Every host action
//! resolves when the server has acted (`kick_all().await` returns once the session is `ENDED`) and
//! fails with a typed error carrying RealtimeKit's code (`1201`, `1205`, ...).
//!
//! This example runs as a test against an embedded server (the hidden lines start it):
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = convene_server::start(convene_server::ServerConfig::ephemeral()).await?;
//! # let meeting_id = server.create_meeting("Weekly sync").await?;
//! # let (_, host_token) = server.add_participant(&meeting_id, "Hana", "group_call_host").await?;
//! # let (_, guest_token) = server.add_participant(&meeting_id, "Ada", "group_call_participant").await?;
//! # let base_url = server.url();
//! use convene_client::{Event, InitOptions, Meeting, RoomState};
//! use futures_util::StreamExt;
//!
//! let host = Meeting::init(InitOptions::new(base_url.clone(), host_token)).await?;
//! let guest = Meeting::init(InitOptions::new(base_url, guest_token)).await?;
//! let mut host_events = host.events();
//! let mut guest_events = guest.events();
//! host.join().await?;
//! guest.join().await?;
//!
//! // The host hears of the guest as a participantJoined event.
//! while let Some(event) = host_events.next().await {
//!     if let Event::ParticipantJoined { participant } = event {
//!         assert_eq!(participant.name, "Ada");
//!         break;
//!     }
//! }
//! assert_eq!(host.participants().joined().len(), 1);
//!
//! // Only a preset with kick_participant may end the session for everyone.
//! assert!(host.self_().permissions().kick_participant);
//! let refused = guest.participants().kick_all().await.unwrap_err();
//! assert_eq!(refused.code(), 1201);
//!
//! // kickAll() resolves once the server has ended the session.
//! let removed = host.participants().kick_all().await?;
//! assert_eq!(removed, 2);
//! assert_eq!(host.self_().room_state(), RoomState::Ended);
//!
//! // Everyone else learns it as roomLeft with state "ended".
//! while let Some(event) = guest_events.next().await {
//!     if let Event::RoomLeft { state } = event {
//!         assert_eq!(state.room_state(), RoomState::Ended);
//!         break;
//!     }
//! }
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! One task per meeting drives the core: it selects over the socket, the command channel and the
//! core's next deadline, and drains the core's outputs after every input. It reconnects per the
//! core's policy: a dropped connection shows as `disconnected`, then `roomJoined { reconnected:
//! true }`, or `ended` / `kicked` if that happened meanwhile.

mod driver;
pub use driver::socket_config;
mod meeting;
mod tls;

use convene_core::proto::ErrorCode;
pub use convene_core::{
    Actor, ClientError, EndReason, Event, LeaveState, Permissions, PermissionsPatch, ReconnectPolicy, RecordingState,
    RoomState, SessionEnd, SocketConnectionState, SocketState, WaitlistStatus,
};
pub use meeting::{InitOptions, Meeting, Meta, Participants, Recording, RemoteParticipant, SelfView};

/// Why [`Meeting::init`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    /// The server refused the participant token (`0004`).
    #[error("invalid auth token: {0}")]
    InvalidAuthToken(String),
    /// The server could not be reached (`0001`).
    #[error("failed to initialize: the server is unreachable: {0}")]
    Unreachable(String),
    /// The server answered something unexpected (`0001`).
    #[error("failed to initialize: {0}")]
    Protocol(String),
    /// TLS failed: the server's certificate was refused (an unknown CA, a name it is not valid
    /// for, expired), or the extra CA certificates given are unusable (`0001`).
    #[error("failed to initialize: TLS: {0}")]
    Tls(String),
    /// The server URL is not an `http://` or `https://` URL (`0001`).
    #[error("failed to initialize: {0}")]
    InvalidServerUrl(#[from] convene_core::contract::ServerUrlError),
}

impl InitError {
    /// RealtimeKit's code: `4` (`0004`) for a bad token, `1` (`0001`) otherwise.
    pub fn code(&self) -> u16 {
        match self {
            InitError::InvalidAuthToken(_) => ErrorCode::InvalidAuthToken,
            InitError::Unreachable(_) | InitError::Protocol(_) | InitError::Tls(_) | InitError::InvalidServerUrl(_) => {
                ErrorCode::InitFailed
            }
        }
        .code()
    }
}
