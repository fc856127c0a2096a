//! Cluster mode (issue 13), being built: several nodes on one PostgreSQL. What is here so far:
//!
//! - the PostgreSQL schema, applied through numbered migrations ([`migrate`]);
//! - one owner per live meeting, fenced by an epoch ([`ownership`]);
//! - the node's own judgement of whether its lease still holds ([`lease`]), kept by a heartbeat
//!   task that tells the node when to stop its rooms ([`liveness`]);
//! - each live session's event log in Redis, appended under the owner's epoch ([`event_log`]);
//! - the bus between nodes: requests to a meeting's owner and their replies ([`bus`]);
//! - the webhook outbox shared by the nodes, claimed with `FOR UPDATE SKIP LOCKED` and a lease,
//!   woken by `LISTEN`/`NOTIFY` ([`outbox`]).
//!
//! Not yet here: the PostgreSQL store, relaying clients' frames, routing REST commands through the
//! bus,
//! takeover and the orphan sweep, the flags (`--postgres`, `--redis`, `--node-id`). Nothing in the
//! server uses this module yet.

pub(crate) mod bus;
pub(crate) mod event_log;
pub(crate) mod lease;
pub(crate) mod liveness;
pub(crate) mod outbox;
pub(crate) mod ownership;
#[cfg(test)]
pub(crate) mod test_postgres;
#[cfg(test)]
pub(crate) mod test_redis;

mod embedded {
    refinery::embed_migrations!("src/cluster/migrations");
}

/// Why the cluster's database could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    /// PostgreSQL failed or could not be reached.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The schema could not be brought up to date.
    #[error("cluster schema migration failed: {0}")]
    Migration(#[from] refinery::Error),
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

/// The advisory lock nodes take while they migrate, so that nodes starting together migrate one
/// after the other (any fixed number; this one is "convene" in ASCII).
const MIGRATION_LOCK: i64 = 0x63_6f_6e_76_65_6e_65;

/// Brings the cluster's schema up to date. Every node runs this at start: nodes starting at once
/// take turns (a PostgreSQL advisory lock), and the migrations table makes a later run a no-op.
pub(crate) async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), ClusterError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let ran = embedded::migrations::runner().run_async(client).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    ran?;
    Ok(())
}
