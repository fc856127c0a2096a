//! Chaos on a cluster: three server nodes in this process on a PostgreSQL and a Redis of the
//! seed's own (started here, loopback only, as the server's tests start theirs), the proxy
//! spreading the participants over them (participant `i` on node `i % 3`).

use convene_server::{PostgresNode, RunningServer, ServerConfig};

use crate::test_postgres::TestPostgres;
use crate::test_redis::TestRedis;

/// How many nodes.
pub const NODES: usize = 3;

/// The engines of one seed's cluster, and a connection for the checks.
pub struct Engines {
    pub db: tokio_postgres::Client,
    _redis: TestRedis,
    _pg: TestPostgres,
}

/// Starts the engines, then the nodes, each from `config` with its own database node name (the
/// first alone: it makes the schema and the keys). The nodes, and the engines.
pub async fn start(config: impl Fn() -> ServerConfig) -> Result<(Vec<RunningServer>, Engines), String> {
    let pg = TestPostgres::start();
    let redis = TestRedis::start().await;
    let db = pg.connect().await;
    let mut nodes = Vec::with_capacity(NODES);
    for n in 0..NODES {
        let mut c = config();
        c.postgres = Some(PostgresNode { url: pg.url(), node_id: format!("node-{n}") });
        c.redis = Some(redis.url());
        nodes.push(convene_server::start(c).await.map_err(|e| format!("node {n}: {e}"))?);
    }
    Ok((nodes, Engines { db, _redis: redis, _pg: pg }))
}

/// The stays of a session as PostgreSQL has them: peer id → (participant id, outcome, left_at).
pub async fn stays(
    db: &tokio_postgres::Client,
    session_id: &str,
) -> std::collections::BTreeMap<String, (String, Option<String>, Option<String>)> {
    let rows = db
        .query(
            "SELECT peer_id, participant_id, outcome, left_at FROM session_peers WHERE session_id = $1",
            &[&session_id],
        )
        .await
        .expect("store query");
    rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3)))).collect()
}
