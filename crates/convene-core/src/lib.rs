//! # convene-core
//!
//! The sans-IO participant core of Convene: the wire protocol ([`proto`]), preset permissions
//! ([`permissions`]), and the state machine of the local participant in a real-time meeting
//! ([`Participant`]): joining, the waiting room, leaving, being kicked, the session being ended
//! for everyone, reconnecting and resuming, session and recording state.
//!
//! It does no I/O, reads no clock and draws no unseeded randomness. A driver (the native client
//! `convene-client`, the browser client `convene-wasm`, or a test) owns the socket and the timer.
//!
//! ## The driver contract
//!
//! Inputs go in as method calls carrying the current time in milliseconds from any monotonic
//! clock. **After every input, drain [`Participant::poll_output`] until it returns `None`**, then
//! arm a timer for [`Participant::poll_timeout`]:
//!
//! ```no_run
//! use convene_core::{Config, Output, Participant, proto};
//! # fn now() -> u64 { 0 }
//! # fn send(_: String) {}
//! # fn open_socket() {}
//! # fn close_socket() {}
//! # fn deliver(_: convene_core::Event) {}
//! # fn settle(_: u64, _: Result<convene_core::CommandOk, convene_core::ClientError>) {}
//! # let config: Config = todo!();
//! let mut core = Participant::new(config);
//! let _join = core.command(now(), convene_core::Command::Join);
//! loop {
//!     while let Some(output) = core.poll_output() {
//!         match output {
//!             Output::Connect => open_socket(),            // then handle_transport_opened/closed
//!             Output::Transmit(msg) => send(proto::encode_client(&msg)),
//!             Output::Disconnect => close_socket(),
//!             Output::Event(event) => deliver(event),
//!             Output::Resolved { req, result } => settle(req, result),
//!         }
//!     }
//!     if core.is_terminated() { break; }
//!     // Wait for whichever comes first: a frame (core.handle_frame), the socket opening or
//!     // closing (handle_transport_opened / handle_transport_closed), a user command
//!     // (core.command), or the deadline core.poll_timeout() (core.handle_timeout).
//! #   break;
//! }
//! ```
//!
//! ## States
//!
//! [`RoomState`] takes RealtimeKit's strings. `left` (this participant left; others stay),
//! `kicked` (a host removed it), `ended` (the session ended for everyone), `rejected` (the waiting
//! room refused it) and `failed` (reconnection gave up) are terminal: every command then fails
//! with [`ClientError::RoomClosed`]. `disconnected` is not: the core reconnects with backoff and
//! resumes, emitting `roomJoined { reconnected: true }`, or `ended` / `kicked` when that happened
//! meanwhile. [`Event::RoomLeft`] fires exactly once per transition into a leave state.

#![forbid(unsafe_code)]

pub mod contract;
pub mod error;
pub mod event;
pub mod participant;
pub mod permissions;
pub mod proto;
pub mod reconnect;
pub mod roster;
pub mod scenario;
pub mod state;
#[cfg(test)]
mod typescript;

pub use error::ClientError;
pub use event::Event;
pub use participant::{Command, CommandOk, Config, Keepalive, Output, Participant};
pub use permissions::{Permissions, PermissionsPatch};
pub use reconnect::ReconnectPolicy;
pub use state::{
    Actor, EndReason, LeaveState, RecordingState, RoomState, SessionEnd, SocketConnectionState, SocketState,
    WaitlistStatus,
};
