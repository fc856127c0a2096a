//! # convene
//!
//! The native Rust client for Convene meetings: a tokio + tokio-tungstenite driver around the
//! sans-IO [`convene_core`] state machine, with RealtimeKit's shape: `self_()`, `participants()`,
//! `meta()`, `recording()`, `join()`, `leave()`, and a stream of typed events. Every host action
//! resolves when the server has acted (`kick_all().await` returns once the session is `ENDED`) and
//! fails with a typed error carrying RealtimeKit's code (`1201`, `1205`, ...).
//!
//! ```no_run
//! use convene::{InitOptions, Meeting, RoomState};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let meeting = Meeting::init(InitOptions::new("http://127.0.0.1:8790", "<participant token>")).await?;
//! let mut events = meeting.events();
//! meeting.join().await?;
//! if meeting.self_().permissions().kick_participant {
//!     match meeting.participants().kick_all().await {
//!         Ok(removed) => println!("ended the session for {removed} peers"),
//!         Err(e) if e.code() == 1201 => println!("not allowed"),
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! while let Some(event) = events.next().await {
//!     if let convene::Event::RoomLeft { state } = event {
//!         if state.room_state() == RoomState::Ended {
//!             println!("the session was ended for everyone");
//!         }
//!         break;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! One task per meeting drives the core: it selects over the socket, the command channel and the
//! core's next deadline, and drains the core's outputs after every input. It reconnects per the
//! core's policy: a dropped connection shows as `disconnected`, then `roomJoined { reconnected:
//! true }`, or `ended` / `kicked` if that happened meanwhile.

mod driver;
mod meeting;

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
}

impl InitError {
    /// RealtimeKit's code: `4` (`0004`) for a bad token, `1` (`0001`) otherwise.
    pub fn code(&self) -> u16 {
        match self {
            InitError::InvalidAuthToken(_) => 4,
            InitError::Unreachable(_) | InitError::Protocol(_) => 1,
        }
    }
}
