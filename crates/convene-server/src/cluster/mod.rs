//! Cluster mode (issue 13), being built: several nodes on one PostgreSQL. What is here so far:
//!
//! - the PostgreSQL schema, applied through numbered migrations
//!   ([`crate::store::postgres::migrate`]);
//! - one owner per live meeting, fenced by an epoch ([`ownership`]);
//! - the node's own judgement of whether its lease still holds ([`lease`]), kept by a heartbeat
//!   task that tells the node when to stop its rooms ([`liveness`]);
//! - each live session's event log in Redis, appended under the owner's epoch ([`event_log`]);
//! - the bus between nodes: requests to a meeting's owner and their replies ([`bus`]);
//! - the webhook outbox shared by the nodes, claimed with `FOR UPDATE SKIP LOCKED` and a lease,
//!   woken by `LISTEN`/`NOTIFY` ([`outbox`]).
//!
//! Not yet here: the whole PostgreSQL store (begun in [`crate::store::postgres`]), relaying
//! clients' frames, routing REST commands through the bus, takeover and the orphan sweep, the
//! flags (`--postgres`, `--redis`, `--node-id`). Nothing in the server uses this module yet.

pub(crate) mod bus;
pub(crate) mod event_log;
pub(crate) mod lease;
pub(crate) mod liveness;
pub(crate) mod outbox;
pub(crate) mod ownership;
#[cfg(test)]
pub(crate) mod test_redis;

/// Why the cluster's database could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    /// PostgreSQL failed or could not be reached.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Redis failed or could not be reached.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A sequence number beyond what a session's log takes ([`event_log::MAX_SEQ`]).
    #[error("sequence number {0} is beyond the event log's range")]
    SequenceTooLarge(u64),
    /// Redis answered something this version does not understand.
    #[error("unexpected answer from Redis to {0}")]
    UnexpectedReply(String),
}
