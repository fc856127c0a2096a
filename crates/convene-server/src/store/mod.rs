//! The store behind a seam: the async [`Store`] trait names every operation the server needs,
//! in typed vocabulary; [`SqliteStore`] implements it on an embedded SQLite database, running
//! each blocking call on a database thread of its own, in order, so that a slow query never
//! stalls a connection's task. Another database is another implementation of the trait.
//!
//! ```no_run
//! # async fn demo() -> Result<(), convene_server::store::StoreError> {
//! use convene_server::store::{SqliteStore, Store};
//! let store = SqliteStore::open(None)?; // in memory
//! let app = store.create_app("my-account", "Demo").await?;
//! assert_eq!(store.app_name(&app.id).await?.as_deref(), Some("Demo"));
//! # Ok(()) }
//! ```

#[cfg(test)]
pub(crate) mod conformance;
mod encoding;
mod list_filters;
pub(crate) mod postgres;
mod rows;
mod sqlite;

use convene_core::SessionEnd;
use convene_room::{ParticipantInfo, StayOutcome, WebhookEvent};
use serde_json::Value;

use crate::auth::Scope;
pub use crate::cluster::ownership::Fence;
use crate::model::{App, Meeting, Participant, Preset, Recording, Session, SessionPeer, Webhook};
pub use list_filters::{Direction, MeetingFilter, RecordingFilter, SessionFilter, SessionOrder, TimeRange};
pub use rows::{LivePeerRow, LiveSessionRow, OutboxRow, ParticipantHome, TokenRecord, TokenRow};
pub use sqlite::SqliteStore;

/// The operations the server needs of its database. Every write that changes several rows is
/// atomic; a room submits its writes in the order its machine emits them ([`Store::submit_room_writes`]).
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    // A room's writes.
    /// Submits a room turn's writes, to be applied in order, each as its own change, after every
    /// call submitted before; the returned future says how it went. They are submitted when this
    /// returns: a call made after it (a room's next lookup) sees them, so a room can go on with
    /// its next input while they are applied, and lets the turn's frames out once they are.
    ///
    /// With a `fence` (cluster mode, PostgreSQL only), each write is made only while the fence
    /// still holds, in the write's own transaction; a write whose fence no longer holds changes
    /// nothing and fails with [`StoreError::Fenced`]. SQLite runs one node, where nobody fences.
    fn submit_room_writes(&self, app_id: &str, fence: Option<Fence>, writes: Vec<RoomWrite>) -> PendingWrites;

    /// Answers once the database does (`SELECT 1`): the readiness probe (`GET /readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// What `GET /metrics` reads of the database at each scrape.
    async fn gauges(&self) -> StoreResult<StoreGauges>;

    // Settings.
    /// A value of the key-value table (server settings such as the participant token key).
    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets a value of the key-value table.
    async fn kv_set(&self, key: &str, value: &str) -> StoreResult<()>;

    // Apps and API tokens.
    /// Creates an app under an account.
    async fn create_app(&self, account_id: &str, name: &str) -> StoreResult<App>;
    /// An app, only if it belongs to `account_id`.
    async fn get_app(&self, account_id: &str, app_id: &str) -> StoreResult<Option<App>>;
    /// The apps of an account, oldest first.
    async fn list_apps(&self, account_id: &str) -> StoreResult<Vec<App>>;
    /// The account an app belongs to.
    async fn app_account(&self, app_id: &str) -> StoreResult<Option<String>>;
    /// An app's name.
    async fn app_name(&self, app_id: &str) -> StoreResult<Option<String>>;
    /// Stores an API token by the hash of its secret. Storing a known secret again changes
    /// nothing; the answer says whether it was new.
    async fn insert_token(
        &self,
        hash: &str,
        scope: Scope,
        account_id: Option<&str>,
        app_id: Option<&str>,
    ) -> StoreResult<(TokenRecord, bool)>;
    /// The token with this secret hash.
    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRecord>>;
    /// Every API token, oldest first.
    async fn list_tokens(&self) -> StoreResult<Vec<TokenRow>>;
    /// Deletes an API token by id; it stops working at once. Returns whether it existed.
    async fn revoke_token(&self, id: &str) -> StoreResult<bool>;
    /// How many admin tokens exist.
    async fn admin_token_count(&self) -> StoreResult<u64>;

    // Meetings and participants.
    /// Stores a new meeting (its id and times are set here).
    async fn create_meeting(&self, app_id: &str, meeting: Meeting) -> StoreResult<Meeting>;
    /// A meeting of an app.
    async fn get_meeting(&self, app_id: &str, id: &str) -> StoreResult<Option<Meeting>>;
    /// A page of an app's meetings that `filter` keeps, oldest first, and the total.
    async fn list_meetings(&self, app_id: &str, filter: &MeetingFilter, page: Page)
        -> StoreResult<(Vec<Meeting>, u64)>;
    /// Writes a meeting's fields back.
    async fn update_meeting(&self, app_id: &str, meeting: &Meeting) -> StoreResult<()>;
    /// Adds a participant to a meeting.
    async fn create_participant(
        &self,
        app_id: &str,
        meeting_id: &str,
        custom_participant_id: &str,
        preset_name: &str,
        name: Option<&str>,
        picture: Option<&str>,
    ) -> StoreResult<Participant>;
    /// A live (not deleted) participant of a meeting.
    async fn get_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<Option<Participant>>;
    /// A live participant by id alone, with where it belongs (for participant tokens).
    async fn participant_by_id(&self, id: &str) -> StoreResult<Option<(Participant, ParticipantHome)>>;
    /// Live participants of a meeting by custom id.
    async fn participants_by_custom_id(&self, meeting_id: &str, custom_id: &str) -> StoreResult<Vec<String>>;
    /// A page of a meeting's live participants and the total.
    async fn list_participants(
        &self,
        app_id: &str,
        meeting_id: &str,
        page: Page,
    ) -> StoreResult<(Vec<Participant>, u64)>;
    /// Writes a participant's editable fields back.
    async fn update_participant(&self, app_id: &str, meeting_id: &str, p: &Participant) -> StoreResult<()>;
    /// Deletes a participant: every token of it stops working at once.
    async fn delete_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<bool>;

    // Presets.
    /// Creates a preset. `None` when the name is taken in this app.
    async fn create_preset(
        &self,
        app_id: &str,
        name: &str,
        config: &Value,
        permissions: &Value,
        ui: &Value,
    ) -> StoreResult<Option<Preset>>;
    /// A preset by id.
    async fn get_preset(&self, app_id: &str, id: &str) -> StoreResult<Option<Preset>>;
    /// A preset by name.
    async fn preset_by_name(&self, app_id: &str, name: &str) -> StoreResult<Option<Preset>>;
    /// The permissions a participant of preset `name` holds: the app's preset of that name,
    /// else the built-in preset, else none. A stored set that no longer reads (written by
    /// another version, say) counts as none, with a warning.
    async fn preset_permissions(&self, app_id: &str, name: &str) -> StoreResult<convene_core::Permissions>;
    /// A page of presets and the total count.
    async fn list_presets(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Preset>, u64)>;
    /// Replaces a preset's fields; `Ok(Err(()))` when the new name is taken in the app.
    async fn update_preset(&self, app_id: &str, preset: &Preset) -> StoreResult<Result<(), ()>>;
    /// Deletes a preset. Returns whether it existed.
    async fn delete_preset(&self, app_id: &str, id: &str) -> StoreResult<bool>;

    // Sessions and the peers in them.
    /// Starts a session (status `LIVE`) with the id and start time its room gave it.
    async fn start_session(
        &self,
        app_id: &str,
        id: &str,
        meeting_id: &str,
        title: Option<&str>,
        started_at: &str,
    ) -> StoreResult<()>;
    /// Ends a session at `ended_at`, closes every open peer stay, and queues `webhook` for the
    /// app's subscribers, all in one transaction. Returns how many
    /// deliveries were queued.
    async fn end_session(
        &self,
        app_id: &str,
        end: &SessionEnd,
        last_seq: u64,
        ended_at: &str,
        webhook: &WebhookEvent,
    ) -> StoreResult<usize>;
    /// Records the highest sequence number used, and the peak of concurrent peers.
    async fn touch_session(&self, id: &str, last_seq: u64, concurrent: u32) -> StoreResult<()>;
    /// A session of an app.
    async fn get_session(&self, app_id: &str, id: &str) -> StoreResult<Option<Session>>;
    /// The live session of a meeting.
    async fn live_session(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<Session>>;
    /// The id and start time of a meeting's live session: a lookup on the live-session index,
    /// without the counts and minutes that [`Store::live_session`] adds up over every stay (which
    /// grow with the session's history). Every client start asks for it.
    async fn live_session_start(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<(String, String)>>;
    /// A page of an app's sessions that `filter` keeps, in its order, and the total.
    async fn list_sessions(&self, app_id: &str, filter: &SessionFilter, page: Page)
        -> StoreResult<(Vec<Session>, u64)>;
    /// Records a peer entering a session at `at`.
    async fn peer_joined(&self, session_id: &str, peer_id: &str, p: &ParticipantInfo, at: &str) -> StoreResult<()>;
    /// Records a peer leaving a session at `at`.
    async fn peer_left(&self, peer_id: &str, outcome: StayOutcome, at: &str) -> StoreResult<()>;
    /// A page of a session's peers and the total.
    async fn session_peers(&self, session_id: &str, page: Page) -> StoreResult<(Vec<SessionPeer>, u64)>;
    /// One stay (a peer) of a session of the app, by its peer id, with its session's id.
    async fn session_peer(&self, app_id: &str, peer_id: &str) -> StoreResult<Option<(String, SessionPeer)>>;
    /// How the session of a stay of `participant_id` ended, for a resume that its room no
    /// longer remembers (a restart, or the room task idled out): `None` unless the stay is over
    /// because its session ended.
    async fn ended_stay(&self, peer_id: &str, participant_id: &str) -> StoreResult<Option<SessionEnd>>;
    /// Live sessions and their present peers, to restore after a restart: every one, or only
    /// the one of `meeting` (`(app_id, meeting_id)`), if it has one.
    async fn live_sessions(
        &self,
        meeting: Option<(&str, &str)>,
    ) -> StoreResult<Vec<(LiveSessionRow, Vec<LivePeerRow>)>>;

    // Recordings.
    /// Inserts or replaces a recording's row.
    async fn save_recording(&self, app_id: &str, rec: &Recording) -> StoreResult<()>;
    /// A recording of an app.
    async fn get_recording(&self, app_id: &str, id: &str) -> StoreResult<Option<Recording>>;
    /// A page of an app's recordings that `filter` keeps, in its order, and the total.
    async fn list_recordings(
        &self,
        app_id: &str,
        filter: &RecordingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Recording>, u64)>;
    /// Recordings left `INVOKED`/`RECORDING` by a crash: marked `ERRORED` at start-up.
    async fn fail_unfinished_recordings(&self) -> StoreResult<usize>;

    // Webhooks.
    /// Creates a webhook.
    async fn create_webhook(
        &self,
        app_id: &str,
        name: &str,
        url: &str,
        events: &[String],
        enabled: bool,
    ) -> StoreResult<Webhook>;
    /// A webhook of an app.
    async fn get_webhook(&self, app_id: &str, id: &str) -> StoreResult<Option<Webhook>>;
    /// A page of an app's webhooks, oldest first, and how many there are.
    async fn list_webhooks(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Webhook>, u64)>;
    /// Writes a webhook's fields back.
    async fn update_webhook(&self, app_id: &str, w: &Webhook) -> StoreResult<()>;
    /// Deletes a webhook; pending deliveries to it are dropped.
    async fn delete_webhook(&self, app_id: &str, id: &str) -> StoreResult<bool>;

    // The webhook outbox.
    /// Queues one event for every enabled webhook of the app that subscribes to it, in one
    /// transaction. Returns how many deliveries were queued.
    async fn enqueue_webhook_event(&self, app_id: &str, event: &WebhookEvent) -> StoreResult<usize>;
    /// The oldest due pending delivery of each enabled webhook (at most `limit` webhooks), so
    /// that one webhook's backlog never hides another's events.
    async fn due_per_webhook(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxRow>>;
    /// When each enabled webhook's next pending delivery is due.
    async fn next_due_per_webhook(&self) -> StoreResult<Vec<(String, i64)>>;
    /// Marks a delivery done (`delivered` or `failed`), or schedules a retry (`pending`), only
    /// while it is still pending: an attempt that was in flight when its webhook was deleted
    /// (its rows `dropped`) cannot bring the row back. Returns whether the row was updated.
    async fn delivery_outcome(
        &self,
        id: i64,
        status: DeliveryStatus,
        next_attempt_ms: i64,
        error: Option<&str>,
    ) -> StoreResult<bool>;
    /// Deletes delivered, failed and dropped rows created before `cutoff` (RFC 3339, as
    /// [`now_rfc3339`] writes it). Returns how many.
    async fn prune_outbox(&self, cutoff: &str) -> StoreResult<usize>;
    /// Makes every pending delivery due at `now_ms` (an operator's "retry now"). Returns how many.
    async fn retry_pending_now(&self, now_ms: i64) -> StoreResult<usize>;
    /// Counts deliveries by status (for tests and operators).
    async fn outbox_counts(&self) -> StoreResult<Vec<(DeliveryStatus, u64)>>;
}

/// A store failure. The API answers 500 and logs the detail.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON value is corrupt.
    #[error("stored JSON is corrupt: {0}")]
    Json(#[from] serde_json::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A stored value is not one this version knows (written by another version, say).
    #[error("stored {0} is not known: {1:?}")]
    Corrupt(&'static str, String),
    /// The store's worker stopped before answering (it panicked).
    #[error("the store's worker stopped: {0}")]
    Worker(String),
    /// PostgreSQL failed or could not be reached (cluster mode).
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection to PostgreSQL could be had from the pool (cluster mode).
    #[error("database connection pool: {0}")]
    Pool(String),
    /// A room write under an owner's fence that no longer holds: another node owns the meeting
    /// now (cluster mode). Nothing was written.
    #[error("meeting {meeting_id} is no longer owned under epoch {epoch}; the write was refused")]
    Fenced {
        /// The meeting.
        meeting_id: String,
        /// The epoch the writer held.
        epoch: i64,
    },
    /// Events of a session could be neither logged (Redis) nor recorded as gone past the log
    /// (PostgreSQL) (cluster mode): the turn that sent them must let nothing out and its room
    /// must stop, so that its clients resume on a room that knows what they saw.
    #[error("events of session {session_id} were neither logged nor recorded: {why}")]
    Unrecorded {
        /// The session.
        session_id: String,
        /// What failed.
        why: String,
    },
    /// The PostgreSQL schema could not be brought up to date (cluster mode).
    #[error("database migration failed: {0}")]
    PostgresMigration(#[from] refinery::Error),
    /// The connection to PostgreSQL went while a room write was committing (cluster mode): it may
    /// or may not have been applied, so it is not tried again.
    #[error(
        "the connection to PostgreSQL went while a write was committing; whether it was applied is not known: {0}"
    )]
    CommitUnknown(String),
    /// A room write not tried because an earlier write of its batch could not reach PostgreSQL
    /// (cluster mode): the writes of a batch are applied in order or not at all from the first
    /// that failed.
    #[error("not tried: an earlier write of its batch could not reach the database")]
    NotTried,
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Now, RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// Milliseconds since the Unix epoch, by this process's clock: the clock the outbox's due times
/// are kept in.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A time as RFC 3339 with milliseconds, UTC (the room machine's formatter, so that the times
/// the rooms and the store write read alike).
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let unix_ms = (t.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    convene_room::format_rfc3339(unix_ms)
}

/// Parses an RFC 3339 time.
pub fn parse_rfc3339(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// The database's share of `GET /metrics`, read at each scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreGauges {
    /// Sessions `LIVE` now (in cluster mode, on every node).
    pub live_sessions: u64,
    /// Webhook deliveries waiting in the outbox.
    pub outbox_pending: u64,
    /// How long the oldest of them has waited (`None` when none waits).
    pub outbox_oldest_age: Option<std::time::Duration>,
}

/// A new random id (UUID v4).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Paging of a list answer.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct Paging {
    /// Index of the first item (1-based, 0 when empty).
    pub start_offset: u64,
    /// Index of the last item.
    pub end_offset: u64,
    /// Items in all pages.
    pub total_count: u64,
}

/// Page selection (`page_no` from 1, `per_page` 1..=100, default 20).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Page number, from 1.
    pub page_no: u64,
    /// Items per page.
    pub per_page: u64,
}

impl Page {
    /// SQL `LIMIT` and `OFFSET`.
    pub fn limit_offset(self) -> (i64, i64) {
        (self.per_page as i64, ((self.page_no - 1) * self.per_page) as i64)
    }

    /// The paging block for a page of `len` items out of `total`.
    pub fn paging(self, len: usize, total: u64) -> Paging {
        let start = (self.page_no - 1) * self.per_page;
        if len == 0 {
            return Paging { start_offset: 0, end_offset: 0, total_count: total };
        }
        Paging { start_offset: start + 1, end_offset: start + len as u64, total_count: total }
    }
}

/// One of a room's writes: a change to its session, or a webhook event for the outbox.
#[derive(Debug, Clone)]
pub enum RoomWrite {
    /// A change to the session, its stays or its recording.
    Session(convene_room::StoreWrite),
    /// An event for the app's subscribed webhooks.
    Webhook(WebhookEvent),
}

/// What applying a turn's writes came to.
#[derive(Debug, Default)]
pub struct RoomWritesApplied {
    /// Webhook deliveries queued (the delivery task is to be woken when there are any).
    pub deliveries_queued: usize,
    /// The writes that failed, and why (the others were applied).
    pub failed: Vec<(RoomWrite, StoreError)>,
    /// Set when the store could not be reached, or the batch stopped part-way (a write
    /// panicked): the writes were not all applied, and which were is not known.
    pub unreached: Option<StoreError>,
}

impl StoreError {
    /// Whether the database could not be reached (rather than refusing or failing a request):
    /// no connection from the pool, a connection that failed or closed, or PostgreSQL saying it
    /// cannot serve now (connection exceptions, shutting down, out of resources). The request
    /// may be tried again shortly.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Pool(_) | StoreError::CommitUnknown(_) | StoreError::NotTried => true,
            StoreError::Postgres(e) => match e.as_db_error() {
                Some(db) => ["08", "53", "57P"].iter().any(|class| db.code().code().starts_with(class)),
                // Not the database's answer: a connection that closed or could not be made (an IO
                // error underneath); anything else (a row that is not there, a type that does not
                // match) is a bug, not an outage.
                None => e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
            },
            _ => false,
        }
    }
}

/// A submitted batch of room writes, until it has been applied.
pub type PendingWrites = std::pin::Pin<Box<dyn std::future::Future<Output = RoomWritesApplied> + Send + 'static>>;

/// Where a webhook delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// A 2xx answer came.
    Delivered,
    /// Given up: a final 4xx, or every attempt failed.
    Failed,
    /// Its webhook was deleted or disabled before it went out.
    Dropped,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
        }
    }

    /// The status of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed, Self::Dropped].into_iter().find(|d| d.as_str() == s)
    }
}

/// Whether a session is going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Going on.
    Live,
    /// Over.
    Ended,
}

impl SessionStatus {
    /// The name RealtimeKit uses (`LIVE`, `ENDED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "LIVE",
            Self::Ended => "ENDED",
        }
    }

    /// The status of a name (`LIVE`, `ENDED`).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Live, Self::Ended].into_iter().find(|st| st.as_str() == s)
    }
}
