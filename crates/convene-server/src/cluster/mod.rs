//! Cluster mode (issue 13): several nodes on one PostgreSQL and one Redis. The parts:
//!
//! - the PostgreSQL schema, applied through numbered migrations
//!   ([`crate::store::postgres::migrate`]);
//! - one owner per live meeting, fenced by an epoch ([`ownership`]);
//! - the node's own judgement of whether its lease still holds ([`lease`]), kept by a heartbeat
//!   task that tells the node when to stop its rooms ([`liveness`]);
//! - each live session's event log in Redis, appended under the owner's epoch and taken over
//!   (fenced and read) by the node that restores the session after the owner's death
//!   ([`event_log`]);
//! - the bus between nodes: requests to a meeting's owner and their replies, relayed clients'
//!   traffic ([`bus`]);
//! - the webhook outbox shared by the nodes, claimed with `FOR UPDATE SKIP LOCKED` and a lease,
//!   woken by `LISTEN`/`NOTIFY` ([`outbox`]);
//! - this node's end of it: its bus, its lease, its event log connection, the meetings it owns
//!   and the sessions nobody runs ([`node`]), which the rooms use with `--redis` (`crate::room`:
//!   owning rooms, their log writer, relays, takeover and the orphan sweep).
//!
//! Three real nodes together, with the owner killed or paused, Redis restarted and PostgreSQL
//! away, are tested in `tests/integration/cluster_*.rs` (see `docs/cluster.md`).

pub(crate) mod bus;
pub(crate) mod event_log;
pub(crate) mod lease;
pub(crate) mod liveness;
pub(crate) mod node;
pub(crate) mod outbox;
pub(crate) mod ownership;
#[cfg(test)]
pub(crate) mod test_redis;

/// Why the cluster's database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// PostgreSQL failed or could not be reached.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// Redis failed or could not be reached.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A sequence number beyond what a session's log takes (2^53, `event_log::MAX_SEQ`).
    #[error("sequence number {0} is beyond the event log's range")]
    SequenceTooLarge(u64),
    /// No connection to PostgreSQL could be had from the pool.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// This node's lease does not hold (its heartbeat has not committed lately): it may not act
    /// for any meeting.
    #[error("this node's lease in the cluster does not hold (PostgreSQL unreachable?)")]
    LeaseLost,
    /// Redis answered something this version does not understand.
    #[error("unexpected answer from Redis to {0}")]
    UnexpectedReply(String),
}
