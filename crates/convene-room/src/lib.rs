//! The room core: one meeting's live session rules as a sans-IO state machine, the server's side
//! of the protocol as [`convene_core`] is the participant's.
//!
//! A [`Room`] takes inputs as method calls carrying the time (`handle_hello`, `handle_frame`,
//! `handle_bad_frame`, `handle_disconnect`, `handle_api`, `handle_timeout`, and the answers to
//! its requests, `handle_ended_stay` and `handle_recording_io`) and gives its outputs as values
//! drained with [`Room::poll_output`]: frames to one connection or to many (serialised once),
//! connections to close, replies to REST commands, store writes, webhook events and recording
//! file work. [`Room::poll_timeout`] names the next timer. It reads no clock (wall times derive
//! from a [`WallClock`] and each input's `now`), opens no socket or file, touches no database,
//! and takes its ids from an [`IdSource`] the driver supplies. The server drives it with tokio,
//! SQLite and WebSockets; tests drive it in simulated time against real participant cores.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use convene_core::proto::ClientMessage;
//! use convene_core::Permissions;
//! use convene_room::*;
//!
//! let t0 = Instant::now();
//! let config = RoomConfig {
//!     app: AppInfo { id: "app".into(), name: "App".into(), account: "acct".into() },
//!     meeting: MeetingSettings {
//!         id: "m1".into(),
//!         title: Some("Stand-up".into()),
//!         status: MeetingStatus::Active,
//!         session_keep_alive_time_in_secs: 60,
//!         record_on_start: false,
//!     },
//!     base_url: "https://convene.example".into(),
//!     away_grace: Duration::from_secs(30),
//!     room_idle: Duration::from_secs(60),
//!     send_queue: 256,
//!     log_events: false,
//!     clock: WallClock { at: t0, unix_ms: 1_764_633_600_000 },
//! };
//! let mut room = Room::new(config, Box::new(SeededIds::new(1)), t0);
//! let host = ParticipantInfo {
//!     id: "p1".into(),
//!     custom_participant_id: "alice".into(),
//!     preset_name: "group_call_host".into(),
//!     name: Some("Alice".into()),
//!     picture: None,
//! };
//! let arrival = Arrival { participant: host.clone(), resume: None, token_valid_for: Duration::from_secs(3600) };
//!
//! // A driver applies the outputs in order, answering the room's lookups from its store.
//! fn drive(room: &mut Room, now: Instant, directory: &[ParticipantInfo]) -> Vec<Output> {
//!     let mut done = Vec::new();
//!     while let Some(output) = room.poll_output() {
//!         match output {
//!             Output::CheckParticipants { check, participant_ids } => {
//!                 let current = directory.iter().filter(|p| participant_ids.contains(&p.id)).cloned().collect();
//!                 room.handle_participants_checked(now, check, current);
//!             }
//!             Output::FindPermissions { conn, preset_name, .. } => {
//!                 room.handle_permissions(now, conn, Permissions::built_in(&preset_name).unwrap_or_default());
//!             }
//!             other => done.push(other),
//!         }
//!     }
//!     done
//! }
//!
//! room.handle_hello(t0, ConnId(1), arrival);
//! drive(&mut room, t0, &[host.clone()]); // the welcome, once the preset's permissions are in
//! room.handle_frame(t0, ConnId(1), ClientMessage::Join { req: 1, name: None });
//! drive(&mut room, t0, &[host.clone()]);
//! assert!(room.session_id().is_some());
//!
//! room.handle_api(t0, RequestId(1), ApiCommand::KickAll);
//! let outputs = drive(&mut room, t0, &[host]);
//! let ended = outputs.iter().any(|o| matches!(o, Output::Reply { reply: ApiReply::KickedAll(1), .. }));
//! assert!(ended && room.session_id().is_none());
//! ```

#![warn(unreachable_pub)]

mod api;
mod clock;
mod commands;
mod delivery;
mod event_log;
mod gates;
mod handshake;
mod ids;
mod membership;
mod output;
mod payloads;
mod peer;
mod recording;
mod records;
mod refusal;
mod room;
mod session;

pub use api::{ApiCommand, ApiReply, RecordingAction};
pub use clock::{format_rfc3339, WallClock};
pub use event_log::{BadLogEntry, LoggedEvent, Recipients, RestoredLog};
pub use handshake::Arrival;
pub use ids::{IdSource, SeededIds};
pub use membership::PEERS_PER_PARTICIPANT;
pub use output::{
    CheckId, ConnId, Frame, Output, RecordingIo, RecordingIoResult, RequestId, StoreWrite, Timer, WebhookEvent,
    WebhookKind,
};
pub use peer::{PeerStatus, PeerView};
pub use records::{
    AppInfo, MeetingSettings, MeetingStatus, ParticipantInfo, Recording, RecordingStatus, StayOutcome, UnknownStatus,
};
pub use refusal::Refusal;
pub use room::{
    Restored, RestoredPeer, Room, RoomConfig, GONE_MEMORY, REPLAY_AWAY, REPLAY_CONNECTED, RESTART_SEQ_MARGIN,
};
