//! What a start opens: the store (SQLite in the data directory, or PostgreSQL with
//! [`ServerConfig::postgres`](crate::ServerConfig)) and the two keys every answer depends on, the
//! participant-token key and the webhook signing key. On SQLite the signing key is a file of the
//! data directory; on PostgreSQL both keys are rows of the database, so every node on it accepts
//! the same participant tokens and signs webhooks with the same key.

use std::path::Path;
use std::sync::Arc;

use crate::store::postgres::PgStore;
use crate::store::{SqliteStore, Store};
use crate::webhook::Signer;
use crate::StartError;

/// The settings key of the participant-token key (hex).
const TOKEN_KEY: &str = "participant_token_key";
/// The settings key of the webhook signing key (PKCS#8 PEM), on PostgreSQL.
const SIGNING_KEY: &str = "webhook_signing_key";

/// A node on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresNode {
    /// The database, `postgres://user[:password]@host:port/database`.
    pub url: String,
    /// This node's name, unique among the nodes on the database and the same across its restarts.
    pub node_id: String,
}

/// What a start opened.
pub(crate) struct Opened {
    /// The store.
    pub(crate) store: Arc<dyn Store>,
    /// The same store, when it is SQLite (tests and tools read its raw rows).
    pub(crate) sqlite: Option<SqliteStore>,
    /// The PostgreSQL pool, when the store is PostgreSQL (a cluster node's own queries).
    pub(crate) pg_pool: Option<deadpool_postgres::Pool>,
    /// The participant-token key.
    pub(crate) token_key: Vec<u8>,
    /// The webhook signer.
    pub(crate) signer: Signer,
}

/// Opens SQLite at `db_path` (in memory without one), its signing key at `key_path`.
pub(crate) async fn sqlite(db_path: Option<&Path>, key_path: Option<&Path>) -> Result<Opened, StartError> {
    let sqlite = SqliteStore::open(db_path)?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let token_key = match store.kv_get(TOKEN_KEY).await? {
        Some(hex) => decode_hex(&hex),
        None => {
            let key = crate::auth::TokenKey::generate();
            store.kv_set(TOKEN_KEY, &encode_hex(&key)).await?;
            key
        }
    };
    let signer = Signer::load_or_create(key_path)?;
    Ok(Opened { store, sqlite: Some(sqlite), pg_pool: None, token_key, signer })
}

/// Connects to PostgreSQL as `node`, migrating its schema; the keys are the database's (made by
/// whichever node started first).
pub(crate) async fn postgres(node: &PostgresNode, claim_lease: std::time::Duration) -> Result<Opened, StartError> {
    let pg = PgStore::connect(&node.url, &node.node_id).await?.with_claim_lease(claim_lease);
    let token_key = decode_hex(&pg.kv_get_or_insert(TOKEN_KEY, &encode_hex(&crate::auth::TokenKey::generate())).await?);
    let signer = match pg.kv_get(SIGNING_KEY).await? {
        Some(pem) => Signer::from_pem(&pem)?,
        None => {
            // Generating takes a while: only when there is no key yet, and then the first
            // node's key is the one kept.
            let (fresh, fresh_pem) = Signer::generate()?;
            let pem = pg.kv_get_or_insert(SIGNING_KEY, &fresh_pem).await?;
            if pem == fresh_pem {
                fresh
            } else {
                Signer::from_pem(&pem)?
            }
        }
    };
    let pg_pool = Some(pg.pool().clone());
    Ok(Opened { store: Arc::new(pg), sqlite: None, pg_pool, token_key, signer })
}

/// The store of a node on PostgreSQL, for tools beside the running nodes (the token commands).
pub async fn postgres_store(node: &PostgresNode) -> Result<Arc<dyn Store>, crate::store::StoreError> {
    Ok(Arc::new(PgStore::connect(&node.url, &node.node_id).await?))
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).filter_map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}
