//! The server's timings, tunable for tests.

use std::time::Duration;

/// Timings, tunable for tests.
#[derive(Debug, Clone)]
pub struct Timings {
    /// How long a peer whose connection dropped stays in the session, waiting to resume.
    pub away_grace: Duration,
    /// How long a new connection may take to send `hello`.
    pub handshake_timeout: Duration,
    /// A connection silent for this long is closed (clients ping every 10 s).
    pub idle_timeout: Duration,
    /// First webhook retry delay; doubles per attempt up to ten minutes.
    pub webhook_retry_base: Duration,
    /// Attempts before a webhook delivery is given up.
    pub webhook_max_attempts: u32,
    /// How long one webhook attempt may take (connecting included) before it counts as failed.
    pub webhook_attempt_timeout: Duration,
    /// How long delivered, failed and dropped webhook deliveries are kept before they are pruned.
    pub outbox_retention: Duration,
    /// How long an idle room (no session, no peers) lingers before its task ends.
    pub room_idle: Duration,
    /// Frames a connection may have queued before it counts as too slow and is dropped (it then
    /// resumes and gets what it missed).
    pub outgoing_queue: usize,
    /// How long a TLS handshake, and each request's headers, may take to arrive; also how long a
    /// keep-alive connection may idle between requests. The connection is closed after it.
    pub http_header_timeout: Duration,
    /// How long a request body may take to arrive whole (`408`, and the connection closes).
    pub http_body_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            away_grace: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            webhook_retry_base: Duration::from_secs(1),
            webhook_max_attempts: 12,
            webhook_attempt_timeout: Duration::from_secs(10),
            outbox_retention: Duration::from_secs(7 * 24 * 3600),
            room_idle: Duration::from_secs(30),
            outgoing_queue: 1024,
            http_header_timeout: Duration::from_secs(10),
            http_body_timeout: Duration::from_secs(30),
        }
    }
}
