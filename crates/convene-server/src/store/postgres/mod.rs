//! The PostgreSQL store of cluster mode (issue 13). Its schema, applied through
//! numbered migrations that every node runs at start, also holds the cluster's own tables
//! (meeting owners, node heartbeats, the shared webhook outbox: `crate::cluster`).
//!
//! [`PgStore`] implements [`Store`](super::Store) with the SQLite store's answers: the same
//! columns and encodings (`super::encoding`), lists in creation order also within one millisecond
//! (a `seq` column), a room's writes applied in order before any later call reads
//! ([`room_writes`]), webhook deliveries claimed per node from the shared outbox
//! ([`crate::cluster::outbox`]). Preset permissions are not cached (another node may change
//! them). A cluster node's room writes are each conditional on the meeting owner's epoch (a
//! fence checked in the write's transaction).

mod apps;
mod meetings;
mod outbox;
mod presets;
mod recordings;
mod room_writes;
mod sessions;
mod store_impl;
#[cfg(test)]
pub(crate) mod test_postgres;
#[cfg(test)]
mod tests;
mod webhooks;

pub(crate) mod embedded {
    refinery::embed_migrations!("src/store/postgres/migrations");
}

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::types::ToSql;

use super::{StoreError, StoreResult};

/// The advisory lock nodes take while they migrate, so that nodes starting together migrate one
/// after the other (any fixed number; this one is "convene" in ASCII).
const MIGRATION_LOCK: i64 = 0x63_6f_6e_76_65_6e_65;

/// The advisory lock nodes take while they make the database's first contents (the default app
/// and the first admin token: [`crate::bootstrap::prepare`]), so that nodes starting together on
/// an empty database make them once.
pub(crate) const BOOTSTRAP_LOCK: i64 = MIGRATION_LOCK + 1;

/// Brings the schema up to date. Nodes starting at once take turns (a PostgreSQL advisory lock),
/// and the migrations table makes a later run a no-op.
pub(crate) async fn migrate(client: &mut tokio_postgres::Client) -> StoreResult<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let ran = embedded::migrations::runner().run_async(client).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    ran?;
    Ok(())
}

/// Runs `work` while this node holds the advisory lock `key`, on a pool connection kept for the
/// whole of `work`: nodes doing the same take turns. The lock goes with the connection, so a node
/// that dies holding it holds it no more.
pub(crate) async fn holding_lock<T>(
    pool: &deadpool_postgres::Pool,
    key: i64,
    work: impl std::future::Future<Output = T>,
) -> StoreResult<T> {
    let client = pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))?;
    client.execute("SELECT pg_advisory_lock($1)", &[&key]).await?;
    let done = work.await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&key]).await?;
    Ok(done)
}

/// How long a node holds a webhook delivery it claimed before another node may take it: longer
/// than an attempt may take ([`PgStore::with_claim_lease`] sets it from the attempt timeout).
pub(crate) const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(60);

/// How long a request waits for a connection of the pool (or for a new one to open).
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the database lets one of this node's transactions sit idle before it ends it (and
/// the connection). A node paused or cut off in the middle of a transaction would otherwise hold
/// that transaction's row locks until it woke: the ownership row its room write holds
/// ([`hold_fence`](crate::cluster::ownership::hold_fence)) among them, which the node taking the
/// meeting over must lock to claim it. Shorter than the node lease, so a takeover waits for the
/// lease alone; far longer than the gap between two statements of a live node's transaction.
pub(crate) const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection options of `url` with [`IDLE_IN_TRANSACTION_TIMEOUT`] added to those it has.
fn session_options(url: &str) -> StoreResult<String> {
    let config: tokio_postgres::Config = url.parse()?;
    let timeout = format!("-c idle_in_transaction_session_timeout={}", IDLE_IN_TRANSACTION_TIMEOUT.as_millis());
    Ok(match config.get_options() {
        Some(theirs) if !theirs.trim().is_empty() => format!("{theirs} {timeout}"),
        _ => timeout,
    })
}

/// The store on a PostgreSQL database, through a pool of connections, as node `node_id`.
#[derive(Clone)]
pub(crate) struct PgStore {
    pool: deadpool_postgres::Pool,
    node_id: String,
    claim_lease: Duration,
    writes: Arc<room_writes::WriteQueue>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`) as node `node_id`,
    /// brings its schema up to date and starts the room writer (on the current tokio runtime).
    pub(crate) async fn connect(url: &str, node_id: &str) -> StoreResult<Self> {
        // A database that does not answer makes requests fail (503) after a while rather than
        // wait for ever.
        let timeouts = deadpool_postgres::Timeouts {
            wait: Some(POOL_TIMEOUT),
            create: Some(POOL_TIMEOUT),
            recycle: Some(POOL_TIMEOUT),
        };
        let pool_config = deadpool_postgres::PoolConfig { timeouts, ..Default::default() };
        let config = deadpool_postgres::Config {
            url: Some(url.to_owned()),
            options: Some(session_options(url)?),
            pool: Some(pool_config),
            ..Default::default()
        };
        let pool = config
            .create_pool(Some(deadpool_postgres::Runtime::Tokio1), tokio_postgres::NoTls)
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))?;
        migrate(&mut client).await?;
        drop(client);
        let writes = room_writes::WriteQueue::start(pool.clone());
        Ok(Self { pool, node_id: node_id.to_owned(), claim_lease: DEFAULT_CLAIM_LEASE, writes })
    }

    /// Holds claimed webhook deliveries for `lease` (longer than an attempt may take).
    pub(crate) fn with_claim_lease(mut self, lease: Duration) -> Self {
        self.claim_lease = lease;
        self
    }

    /// The pool, for the cluster's own queries (ownership), which wait for no room write.
    pub(crate) fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    /// `SELECT 1` on a pooled connection (not waiting for the room writes in flight).
    pub(crate) async fn ping(&self) -> StoreResult<()> {
        let client = self.pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Live sessions (on every node) and the outbox's backlog.
    pub(crate) async fn gauges(&self) -> StoreResult<super::StoreGauges> {
        let client = self.pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM sessions WHERE status = 'LIVE'),
                        (SELECT count(*) FROM outbox WHERE status = 'pending'),
                        (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM outbox WHERE status = 'pending')",
                &[],
            )
            .await?;
        let (live, pending, age): (i64, i64, Option<f64>) = (row.get(0), row.get(1), row.get(2));
        Ok(super::StoreGauges {
            live_sessions: u64::try_from(live).unwrap_or(0),
            outbox_pending: u64::try_from(pending).unwrap_or(0),
            outbox_oldest_age: age.map(|s| std::time::Duration::from_secs_f64(s.max(0.0))),
        })
    }

    /// A connection of the pool, once the room writes submitted before this call are applied.
    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.writes.caught_up().await?;
        self.pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))
    }
}

/// The number a `SELECT count(*)` answers.
async fn count(client: &tokio_postgres::Client, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
    let n: i64 = client.query_one(sql, params).await?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}
