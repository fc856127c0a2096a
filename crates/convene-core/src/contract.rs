//! What a client and the server agree on besides the signalling frames, defined once:
//!
//! - where a client finds the server's endpoints ([`ServerUrl`]);
//! - the body of `GET /v1/participant/me` ([`ParticipantMe`]), which the server serves and the
//!   native client reads before it connects;
//! - how a client's options become a [`Config`] ([`ClientOptions`], [`Config::from_me`]), with one
//!   rule for the jitter seed ([`seed_from_token`]);
//! - the table that hands a command's reply to whoever waits for it ([`Waiters`]).
//!
//! The native client and the browser package both use all four: the browser package's JavaScript
//! only fetches `/v1/participant/me` and hands its `data` and the options, as JSON, to the core's
//! readers ([`ParticipantMe::from_value`], [`ClientOptions::from_value`]).
//!
//! ```
//! use convene_core::contract::{ClientOptions, ParticipantMe, ServerUrl};
//! use convene_core::Config;
//!
//! let server = ServerUrl::parse("https://meet.example.com/").unwrap();
//! assert_eq!(server.me(), "https://meet.example.com/v1/participant/me");
//! assert_eq!(server.signal(), "wss://meet.example.com/v1/signal");
//!
//! // The `data` of the server's answer to `GET /v1/participant/me`:
//! let me = ParticipantMe::from_value(&serde_json::json!({
//!     "participant": {"id": "p1", "name": null, "custom_participant_id": "ada",
//!                     "preset_name": "group_call_host"},
//!     "permissions": {"kick_participant": true},
//!     "meeting": {"id": "m1", "title": "Stand-up", "status": "ACTIVE"},
//!     "session": null
//! })).unwrap();
//! let config = Config::from_me("token", &me, &ClientOptions::default());
//! assert_eq!(config.self_info.name, "ada", "no name: the custom id stands in");
//! assert_eq!(config.meeting.title, "Stand-up");
//! ```

use serde::{Deserialize, Serialize};

use crate::participant::Config;
use crate::proto::{MeetingInfo, RequestId, SelfInfo};
use crate::{Permissions, ReconnectPolicy};

/// The path of the participant's own record, under the server's base URL.
pub const ME_PATH: &str = "/v1/participant/me";
/// The path of the signalling WebSocket, under the server's base URL.
pub const SIGNAL_PATH: &str = "/v1/signal";

/// Why a server URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerUrlError {
    /// The URL does not start with `http://` or `https://`.
    #[error("the server URL must start with http:// or https:// (got {0:?})")]
    Scheme(String),
    /// Nothing follows the scheme.
    #[error("the server URL names no host (got {0:?})")]
    NoHost(String),
}

/// A Convene server's base URL (`http://host:port` or `https://host`, a path prefix allowed,
/// say behind a proxy), from which both endpoints follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// The URL without its scheme and without a trailing slash.
    rest: String,
    /// `https://` (so `wss://` for signalling).
    secure: bool,
}

impl ServerUrl {
    /// Checks a base URL: its scheme must be `http` or `https` and a host must follow.
    pub fn parse(base: &str) -> Result<Self, ServerUrlError> {
        let trimmed = base.trim_ascii();
        let (rest, secure) = if let Some(rest) = trimmed.strip_prefix("https://") {
            (rest, true)
        } else if let Some(rest) = trimmed.strip_prefix("http://") {
            (rest, false)
        } else {
            return Err(ServerUrlError::Scheme(base.to_owned()));
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.starts_with('/') {
            return Err(ServerUrlError::NoHost(base.to_owned()));
        }
        Ok(Self { rest: rest.to_owned(), secure })
    }

    /// Whether the server is reached over TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The URL of `GET /v1/participant/me`.
    pub fn me(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}{ME_PATH}", self.rest)
    }

    /// The URL of the signalling WebSocket (`ws://`, or `wss://` for an `https://` server).
    pub fn signal(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}{SIGNAL_PATH}", self.rest)
    }
}

/// The `data` of `GET /v1/participant/me`: who the token's participant is, its preset's
/// permissions, the meeting, and the live session if there is one. The server writes it with
/// `serde`; clients read it with [`ParticipantMe::from_value`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantMe {
    /// The participant.
    pub participant: MeParticipant,
    /// Its preset's permissions, as in force now.
    pub permissions: Permissions,
    /// The meeting.
    pub meeting: MeMeeting,
    /// The live session, if one is running.
    pub session: Option<MeSession>,
}

/// The participant in [`ParticipantMe`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeParticipant {
    /// The participant id (RealtimeKit's `userId`).
    pub id: String,
    /// Display name, if the app gave one.
    pub name: Option<String>,
    /// Picture URL, if the app gave one.
    pub picture: Option<String>,
    /// The app's own id of the participant.
    pub custom_participant_id: String,
    /// The preset's name.
    pub preset_name: String,
}

/// The meeting in [`ParticipantMe`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeMeeting {
    /// Meeting id.
    pub id: String,
    /// Title, if it has one.
    pub title: Option<String>,
    /// Whether it can be joined.
    pub status: MeetingStatus,
}

/// The live session in [`ParticipantMe`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeSession {
    /// Session id.
    pub id: String,
    /// When it started (RFC 3339).
    pub started_at: String,
}

/// A meeting's status (RealtimeKit's `ACTIVE` / `INACTIVE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeetingStatus {
    /// Joinable.
    Active,
    /// Refuses joins.
    Inactive,
}

impl MeetingStatus {
    /// The wire (and stored) string.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Active => "ACTIVE",
            MeetingStatus::Inactive => "INACTIVE",
        }
    }
}

/// Why a client could not read what the server sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// A field is missing or of the wrong type.
    #[error("{field}: expected {expected}")]
    Field {
        /// The field's path, e.g. `participant.id`.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The permissions do not read.
    #[error("permissions: {0}")]
    Permissions(String),
}

/// Reads the fields of [`ParticipantMe`] and [`ClientOptions`]. Written out rather than derived,
/// for the browser package's size (derived readers cost it 6.5 KB gzip, see
/// `docs/benchmarks.md`); every check is made before anything is copied, so that a refusal has
/// nothing to undo. A test checks that this reads what the derived writer wrote.
struct Fields<'a>(&'a serde_json::Value);

impl<'a> Fields<'a> {
    fn object(v: &'a serde_json::Value, field: &'static str) -> Result<Self, ContractError> {
        if v.is_object() {
            Ok(Self(v))
        } else {
            Err(ContractError::Field { field, expected: "an object" })
        }
    }

    fn text(&self, key: &str, field: &'static str) -> Result<&'a str, ContractError> {
        self.0[key].as_str().ok_or(ContractError::Field { field, expected: "a string" })
    }

    fn optional_text(&self, key: &str, field: &'static str) -> Result<Option<&'a str>, ContractError> {
        match &self.0[key] {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) => Ok(Some(s)),
            _ => Err(ContractError::Field { field, expected: "a string or null" }),
        }
    }

    /// An integer in `0..=max`, or `None` when the field is absent or null.
    fn optional_count(&self, key: &str, max: u64, field: &'static str) -> Result<Option<u64>, ContractError> {
        match &self.0[key] {
            serde_json::Value::Null => Ok(None),
            v => match v.as_u64() {
                Some(n) if n <= max => Ok(Some(n)),
                _ => Err(ContractError::Field { field, expected: "a non-negative integer in range" }),
            },
        }
    }
}

impl ParticipantMe {
    /// Reads the `data` of the server's answer to `GET /v1/participant/me`, parsed.
    pub fn from_value(v: &serde_json::Value) -> Result<Self, ContractError> {
        let data = Fields::object(v, "data")?.0;
        let p = Fields::object(&data["participant"], "participant")?;
        let (id, name, picture) = (
            p.text("id", "participant.id")?,
            p.optional_text("name", "participant.name")?,
            p.optional_text("picture", "participant.picture")?,
        );
        let custom_participant_id = p.text("custom_participant_id", "participant.custom_participant_id")?;
        let preset_name = p.text("preset_name", "participant.preset_name")?;
        let m = Fields::object(&data["meeting"], "meeting")?;
        let status = match m.text("status", "meeting.status")? {
            "ACTIVE" => MeetingStatus::Active,
            "INACTIVE" => MeetingStatus::Inactive,
            _ => return Err(ContractError::Field { field: "meeting.status", expected: "ACTIVE or INACTIVE" }),
        };
        let (meeting_id, title) = (m.text("id", "meeting.id")?, m.optional_text("title", "meeting.title")?);
        let session = match &data["session"] {
            serde_json::Value::Null => None,
            s => {
                let s = Fields::object(s, "session")?;
                Some((s.text("id", "session.id")?, s.text("started_at", "session.started_at")?))
            }
        };
        let permissions = serde_json::from_value(data["permissions"].clone())
            .map_err(|e| ContractError::Permissions(e.to_string()))?;
        Ok(Self {
            participant: MeParticipant {
                id: id.to_owned(),
                name: name.map(str::to_owned),
                picture: picture.map(str::to_owned),
                custom_participant_id: custom_participant_id.to_owned(),
                preset_name: preset_name.to_owned(),
            },
            permissions,
            meeting: MeMeeting { id: meeting_id.to_owned(), title: title.map(str::to_owned), status },
            session: session.map(|(id, started_at)| MeSession { id: id.to_owned(), started_at: started_at.to_owned() }),
        })
    }

    /// The local participant as the core starts with it (a participant without a name shows
    /// its custom id, as RealtimeKit does).
    pub fn self_info(&self) -> SelfInfo {
        let p = &self.participant;
        SelfInfo {
            user_id: p.id.clone(),
            name: p.name.clone().unwrap_or_else(|| p.custom_participant_id.clone()),
            picture: p.picture.clone(),
            custom_participant_id: p.custom_participant_id.clone(),
            preset_name: p.preset_name.clone(),
            permissions: self.permissions.clone(),
        }
    }

    /// The meeting as the core starts with it.
    pub fn meeting_info(&self) -> MeetingInfo {
        MeetingInfo { id: self.meeting.id.clone(), title: self.meeting.title.clone().unwrap_or_default() }
    }
}

/// A client's settings besides who it is. The native client builds them from its `InitOptions`,
/// the browser package reads them from its JSON options with [`ClientOptions::from_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Reconnection after a dropped connection.
    pub reconnect: ReconnectPolicy,
    /// How long a command may wait for the server's reply, in ms.
    pub request_timeout_ms: u64,
    /// Seed of the reconnect jitter; `None` derives it from the token ([`seed_from_token`]).
    pub seed: Option<u64>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self { reconnect: ReconnectPolicy::default(), request_timeout_ms: 10_000, seed: None }
    }
}

impl ClientOptions {
    /// Reads options given as JSON, `{ "reconnect": { "initial_delay_ms", "max_delay_ms",
    /// "max_attempts", "attempt_timeout_ms" }, "request_timeout_ms", "seed" }`, every field
    /// optional (an absent or null field keeps its default). A field of the wrong type, or a
    /// number out of range, is refused by name; nothing is half-read.
    ///
    /// ```
    /// use convene_core::contract::{ClientOptions, ContractError};
    ///
    /// let o = ClientOptions::from_value(&serde_json::json!({"reconnect": {"max_attempts": 2}, "seed": 7})).unwrap();
    /// assert_eq!((o.reconnect.max_attempts, o.seed), (2, Some(7)));
    /// let err = ClientOptions::from_value(&serde_json::json!({"request_timeout_ms": "soon"})).unwrap_err();
    /// assert!(matches!(err, ContractError::Field { field: "options.request_timeout_ms", .. }));
    /// ```
    pub fn from_value(v: &serde_json::Value) -> Result<Self, ContractError> {
        let o = Fields::object(v, "options")?;
        let mut options = Self::default();
        let r = &mut options.reconnect;
        if !o.0["reconnect"].is_null() {
            let p = Fields::object(&o.0["reconnect"], "options.reconnect")?;
            let ms = |key, field| p.optional_count(key, u64::MAX, field);
            r.initial_delay_ms =
                ms("initial_delay_ms", "options.reconnect.initial_delay_ms")?.unwrap_or(r.initial_delay_ms);
            r.max_delay_ms = ms("max_delay_ms", "options.reconnect.max_delay_ms")?.unwrap_or(r.max_delay_ms);
            r.attempt_timeout_ms =
                ms("attempt_timeout_ms", "options.reconnect.attempt_timeout_ms")?.unwrap_or(r.attempt_timeout_ms);
            let attempts = p.optional_count("max_attempts", u64::from(u32::MAX), "options.reconnect.max_attempts")?;
            r.max_attempts = attempts.map_or(r.max_attempts, |n| n as u32);
        }
        let timeout = o.optional_count("request_timeout_ms", u64::MAX, "options.request_timeout_ms")?;
        options.request_timeout_ms = timeout.unwrap_or(options.request_timeout_ms);
        options.seed = o.optional_count("seed", u64::MAX, "options.seed")?;
        Ok(options)
    }
}

/// The jitter seed of a client that was given none: a hash (FNV-1a) of its token, so that the
/// clients of different participants spread their retries out, and one client's are repeatable.
pub fn seed_from_token(token: &str) -> u64 {
    token.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

impl Config {
    /// The configuration of a client for the participant `me` describes, holding `auth_token`.
    pub fn from_me(auth_token: &str, me: &ParticipantMe, options: &ClientOptions) -> Self {
        let mut config = Config::new(auth_token, me.self_info(), me.meeting_info());
        config.reconnect = options.reconnect;
        config.request_timeout_ms = options.request_timeout_ms;
        config.seed = options.seed.unwrap_or_else(|| seed_from_token(auth_token));
        config
    }
}

/// Who waits for which command's reply. A driver puts a waiter in when
/// [`Participant::command`](crate::Participant::command) gives it a request id, and takes it out
/// at the matching [`Output::Resolved`](crate::Output::Resolved). Few commands are in flight at
/// once, so this is a short list.
#[derive(Debug)]
pub struct Waiters<W> {
    waiting: Vec<(RequestId, W)>,
}

impl<W> Default for Waiters<W> {
    fn default() -> Self {
        Self { waiting: Vec::new() }
    }
}

impl<W> Waiters<W> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records who waits for request `req`.
    pub fn insert(&mut self, req: RequestId, waiter: W) {
        self.waiting.push((req, waiter));
    }

    /// Takes the waiter of request `req`, if any.
    pub fn take(&mut self, req: RequestId) -> Option<W> {
        let at = self.waiting.iter().position(|(r, _)| *r == req)?;
        Some(self.waiting.swap_remove(at).1)
    }

    /// How many are waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nobody is waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_follow_the_scheme_and_refuse_what_is_not_http() {
        let plain = ServerUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(plain.me(), "http://127.0.0.1:8080/v1/participant/me");
        assert_eq!(plain.signal(), "ws://127.0.0.1:8080/v1/signal");
        assert!(!plain.is_secure());
        let prefixed = ServerUrl::parse("https://example.com/convene/").unwrap();
        assert_eq!(prefixed.signal(), "wss://example.com/convene/v1/signal");
        assert_eq!(ServerUrl::parse("example.com"), Err(ServerUrlError::Scheme("example.com".into())));
        assert_eq!(ServerUrl::parse("ws://example.com"), Err(ServerUrlError::Scheme("ws://example.com".into())));
        assert_eq!(ServerUrl::parse("https://"), Err(ServerUrlError::NoHost("https://".into())));
    }

    fn me() -> ParticipantMe {
        ParticipantMe {
            participant: MeParticipant {
                id: "p1".into(),
                name: Some("Ada".into()),
                picture: None,
                custom_participant_id: "ada".into(),
                preset_name: "group_call_host".into(),
            },
            permissions: Permissions::built_in("group_call_host").unwrap(),
            meeting: MeMeeting { id: "m1".into(), title: None, status: MeetingStatus::Active },
            session: Some(MeSession { id: "s1".into(), started_at: "2026-12-01T00:00:00Z".into() }),
        }
    }

    #[test]
    fn the_participant_record_round_trips_and_gives_the_core_its_start() {
        let me = me();
        let wire = serde_json::to_value(&me).unwrap();
        assert_eq!(wire["meeting"]["status"], "ACTIVE");
        assert_eq!(ParticipantMe::from_value(&wire).unwrap(), me, "the reader reads what the server writes");
        let mut bare = me.clone();
        bare.session = None;
        bare.participant.picture = None;
        bare.meeting.status = MeetingStatus::Inactive;
        assert_eq!(ParticipantMe::from_value(&serde_json::to_value(&bare).unwrap()).unwrap(), bare);
        let config = Config::from_me("tok", &me, &ClientOptions::default());
        assert_eq!(config.self_info.name, "Ada");
        assert_eq!(config.self_info.user_id, "p1");
        assert_eq!(config.meeting, MeetingInfo { id: "m1".into(), title: String::new() });
        assert_eq!(config.seed, seed_from_token("tok"));
        assert_eq!(config.request_timeout_ms, 10_000);
    }

    #[test]
    fn a_record_with_a_missing_or_mistyped_field_is_refused_by_name() {
        let mut wire = serde_json::to_value(me()).unwrap();
        wire["participant"]["id"] = serde_json::json!(7);
        let field = |e| match e {
            ContractError::Field { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(ParticipantMe::from_value(&wire).unwrap_err()), "participant.id");
        wire["participant"]["id"] = "p1".into();
        wire["meeting"]["status"] = "OPEN".into();
        assert_eq!(field(ParticipantMe::from_value(&wire).unwrap_err()), "meeting.status");
        wire["meeting"] = serde_json::Value::Null;
        assert_eq!(field(ParticipantMe::from_value(&wire).unwrap_err()), "meeting");
        assert_eq!(field(ParticipantMe::from_value(&serde_json::json!([])).unwrap_err()), "data");
    }

    #[test]
    fn options_set_the_timings_and_a_given_seed_wins_over_the_token() {
        let mut o = ClientOptions::default();
        o.reconnect.max_attempts = 2;
        o.request_timeout_ms = 3_000;
        o.seed = Some(7);
        let config = Config::from_me("tok", &me(), &o);
        assert_eq!((config.reconnect.max_attempts, config.request_timeout_ms, config.seed), (2, 3_000, 7));
    }

    #[test]
    fn json_options_keep_the_defaults_they_do_not_name_and_refuse_a_wrong_type_by_name() {
        let o = ClientOptions::from_value(&serde_json::json!({})).unwrap();
        assert_eq!(o, ClientOptions::default());
        let o = ClientOptions::from_value(&serde_json::json!({
            "reconnect": {"initial_delay_ms": 10, "max_delay_ms": 20, "max_attempts": 3, "attempt_timeout_ms": 40},
            "request_timeout_ms": 50, "seed": null
        }))
        .unwrap();
        let r = ReconnectPolicy { initial_delay_ms: 10, max_delay_ms: 20, max_attempts: 3, attempt_timeout_ms: 40 };
        assert_eq!(o, ClientOptions { reconnect: r, request_timeout_ms: 50, seed: None });
        let refused = |v: serde_json::Value| match ClientOptions::from_value(&v) {
            Err(ContractError::Field { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(serde_json::json!("fast")), "options");
        assert_eq!(refused(serde_json::json!({"reconnect": 3})), "options.reconnect");
        assert_eq!(refused(serde_json::json!({"reconnect": {"max_attempts": -1}})), "options.reconnect.max_attempts");
        assert_eq!(
            refused(serde_json::json!({"reconnect": {"max_attempts": 1u64 << 32}})),
            "options.reconnect.max_attempts"
        );
        assert_eq!(refused(serde_json::json!({"request_timeout_ms": 1.5})), "options.request_timeout_ms");
        assert_eq!(refused(serde_json::json!({"seed": "7"})), "options.seed");
    }

    #[test]
    fn waiters_hand_each_reply_to_its_own_waiter_once() {
        let mut w = Waiters::new();
        w.insert(1, "first");
        w.insert(2, "second");
        assert_eq!(w.take(2), Some("second"));
        assert_eq!(w.take(2), None, "a reply is handed over once");
        assert_eq!(w.take(9), None);
        assert_eq!(w.len(), 1);
        assert_eq!(w.take(1), Some("first"));
        assert!(w.is_empty());
    }
}
