//! The records the store answers with that are not the REST API's resources.

/// A stored API token (its secret is only ever kept hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Token id.
    pub id: String,
    /// `admin`, `realtime` or `read`.
    pub scope: String,
    /// The one app the token is limited to, if any.
    pub app_id: Option<String>,
    /// The one account the token is limited to (`None`: every account, the operator's).
    pub account_id: Option<String>,
}

impl TokenRecord {
    /// A new token's record, with a new id.
    pub(crate) fn new(scope: crate::auth::Scope, account_id: Option<&str>, app_id: Option<&str>) -> Self {
        Self {
            id: super::new_id(),
            scope: scope.as_str().to_owned(),
            app_id: app_id.map(str::to_owned),
            account_id: account_id.map(str::to_owned),
        }
    }
}

/// A token as `token list` shows it.
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// What the token may do, and where.
    pub record: TokenRecord,
    /// When it was made.
    pub created_at: String,
}

/// Where a participant belongs.
#[derive(Debug, Clone)]
pub struct ParticipantHome {
    /// The app.
    pub app_id: String,
    /// The meeting.
    pub meeting_id: String,
}

/// A delivery to make.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// `rtk-uuid`: unique per event and webhook, the same on every retry.
    pub uuid: String,
    /// `rtk-webhook-id`.
    pub webhook_id: String,
    /// Target URL.
    pub url: String,
    /// The exact body to sign and send.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
}

/// A live session to restore after a restart.
#[derive(Debug, Clone)]
pub struct LiveSessionRow {
    /// Session id.
    pub id: String,
    /// App id.
    pub app_id: String,
    /// Meeting id.
    pub meeting_id: String,
    /// Start time.
    pub started_at: String,
    /// The highest event sequence number used.
    pub last_seq: u64,
}

/// A peer of a live session to restore after a restart.
#[derive(Debug, Clone)]
pub struct LivePeerRow {
    /// Peer id.
    pub peer_id: String,
    /// Participant id.
    pub participant_id: String,
    /// The name the stay went by.
    pub display_name: String,
    /// Whether it was pinned.
    pub pinned: bool,
}
