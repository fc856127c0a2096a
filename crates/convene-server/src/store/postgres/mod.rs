//! The PostgreSQL store of cluster mode (issue 13), being built. Its schema, applied through
//! numbered migrations that every node runs at start, also holds the cluster's own tables
//! (meeting owners, node heartbeats, the shared webhook outbox: `crate::cluster`).
//!
//! Built so far: the pool and the migrations, settings (`kv`), apps and API tokens, as methods
//! of [`PgStore`] named as the SQLite store's. Not yet: meetings, participants, presets,
//! sessions, recordings, webhooks and the room writes, so `PgStore` does not implement
//! [`Store`](super::Store) yet and nothing in the server uses it.

mod apps;
#[cfg(test)]
pub(crate) mod test_postgres;

pub(crate) mod embedded {
    refinery::embed_migrations!("src/store/postgres/migrations");
}

use super::{StoreError, StoreResult};

/// The advisory lock nodes take while they migrate, so that nodes starting together migrate one
/// after the other (any fixed number; this one is "convene" in ASCII).
const MIGRATION_LOCK: i64 = 0x63_6f_6e_76_65_6e_65;

/// Brings the schema up to date. Nodes starting at once take turns (a PostgreSQL advisory lock),
/// and the migrations table makes a later run a no-op.
pub(crate) async fn migrate(client: &mut tokio_postgres::Client) -> StoreResult<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let ran = embedded::migrations::runner().run_async(client).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    ran?;
    Ok(())
}

/// The store on a PostgreSQL database, through a pool of connections.
#[derive(Clone)]
pub(crate) struct PgStore {
    pool: deadpool_postgres::Pool,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`) and brings its schema
    /// up to date.
    pub(crate) async fn connect(url: &str) -> StoreResult<Self> {
        let config = deadpool_postgres::Config { url: Some(url.to_owned()), ..Default::default() };
        let pool = config
            .create_pool(Some(deadpool_postgres::Runtime::Tokio1), tokio_postgres::NoTls)
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        let store = Self { pool };
        let mut client = store.client().await?;
        migrate(&mut client).await?;
        drop(client);
        Ok(store)
    }

    /// A connection of the pool.
    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| StoreError::Pool(e.to_string()))
    }
}
