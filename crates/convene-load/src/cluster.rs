//! `--nodes N`: the workloads against a cluster of N convene-server nodes, each in a child process
//! (`convene-load serve --postgres URL --redis URL --node-id node-i`), on a PostgreSQL and a Redis
//! given with `--postgres`/`--redis` or started here (throwaway ones, loopback only, as the
//! server's tests start theirs). Client `i` connects to node `i % N` through a front door of its
//! own: a TCP forwarder that goes to the next node when its node is gone, as a load balancer
//! would. Reported beside each workload's figures: the bus messages (Redis `PUBLISH`es) it took.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_client::{Event, ReconnectPolicy, RoomState};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::child::ChildServer;
use crate::target::{bar, ServerMode, Target};
use crate::test_postgres::TestPostgres;
use crate::test_redis::TestRedis;

/// How long clients keep trying to reconnect after a node dies (the node lease is 6 s).
const RECONNECT: ReconnectPolicy =
    ReconnectPolicy { initial_delay_ms: 100, max_delay_ms: 1_000, max_attempts: 120, attempt_timeout_ms: 5_000 };

/// A running cluster: its nodes, their front doors, and the engines it started (if any).
pub struct Cluster {
    nodes: Vec<Option<ChildServer>>,
    /// The nodes' names, in order.
    pub node_ids: Vec<String>,
    redis_url: String,
    db: tokio_postgres::Client,
    _engines: (Option<TestPostgres>, Option<TestRedis>),
}

/// Where the engines are: given, or `None` to start throwaway ones.
pub struct Engines {
    pub postgres: Option<String>,
    pub redis: Option<String>,
}

impl Cluster {
    /// Starts `count` nodes (one after the other) and a target whose
    /// REST goes to the first node's front door and whose clients are spread over the doors.
    pub async fn start(count: usize, engines: Engines) -> Result<(Self, Target), String> {
        let (pg, pg_url) = match engines.postgres {
            Some(url) => (None, url),
            None => {
                let pg = TestPostgres::start();
                let url = pg.url();
                (Some(pg), url)
            }
        };
        let (redis, redis_url) = match engines.redis {
            Some(url) => (None, url),
            None => {
                let r = TestRedis::start().await;
                let url = r.url();
                (Some(r), url)
            }
        };
        let (db, connection) =
            tokio_postgres::connect(&pg_url, tokio_postgres::NoTls).await.map_err(|e| format!("PostgreSQL: {e}"))?;
        tokio::spawn(connection);
        let admin_token = format!("load-{}-{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let node_ids: Vec<String> = (0..count).map(|i| format!("node-{i}")).collect();
        let mut nodes = Vec::with_capacity(count);
        let mut addrs = Vec::with_capacity(count);
        for id in &node_ids {
            let args: Vec<String> =
                ["--postgres", &pg_url, "--redis", &redis_url, "--node-id", id, "--admin-token", &admin_token]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
            let node = ChildServer::spawn("serve", &args).await?;
            let url = node.ready["url"].as_str().ok_or("serve: no url")?.to_owned();
            addrs.push(url.trim_start_matches("http://").parse::<SocketAddr>().map_err(|e| e.to_string())?);
            nodes.push(Some(node));
        }
        let mut doors = Vec::with_capacity(count);
        for i in 0..count {
            let order: Vec<SocketAddr> = (0..count).map(|k| addrs[(i + k) % count]).collect();
            doors.push(front_door(order).await?);
        }
        let mut target = Target::new(ServerMode::Remote { url: doors[0].clone(), admin_token }).await?;
        target.client_bases = doors;
        target.reconnect = RECONNECT;
        let cluster = Self { nodes, node_ids, redis_url, db, _engines: (pg, redis) };
        Ok((cluster, target))
    }

    /// Redis `PUBLISH` calls so far (every bus message is one).
    pub async fn publishes(&self) -> Result<u64, String> {
        let client = redis::Client::open(self.redis_url.as_str()).map_err(|e| e.to_string())?;
        let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        let info: String =
            redis::cmd("INFO").arg("commandstats").query_async(&mut conn).await.map_err(|e| e.to_string())?;
        let line = info.lines().find(|l| l.starts_with("cmdstat_publish:"));
        let calls = line.and_then(|l| l.split(['=', ',']).nth(1)).map(|c| c.parse::<u64>().unwrap_or(0)).unwrap_or(0);
        Ok(calls)
    }

    /// The index of the node that owns `meeting_id` now.
    async fn owner_of(&self, meeting_id: &str) -> Result<usize, String> {
        let row = self
            .db
            .query_opt("SELECT node_id FROM meeting_owners WHERE meeting_id = $1", &[&meeting_id])
            .await
            .map_err(|e| e.to_string())?;
        let owner: Option<String> = row.and_then(|r| r.get(0));
        let owner = owner.ok_or("the meeting has no owner")?;
        self.node_ids.iter().position(|n| *n == owner).ok_or(format!("unknown owner {owner}"))
    }

    /// `SIGKILL`s node `i`.
    fn kill(&mut self, i: usize) -> Result<(), String> {
        let mut node = self.nodes[i].take().ok_or("that node is already gone")?;
        node.kill()
    }
}

/// A loopback port that forwards each connection to the first of `order` that accepts it.
async fn front_door(order: Vec<SocketAddr>) -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let order = Arc::new(order);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let order = order.clone();
            tokio::spawn(async move {
                for addr in order.iter() {
                    if let Ok(mut server) = TcpStream::connect(addr).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        return;
                    }
                }
            });
        }
    });
    Ok(url)
}

/// `takeover`: N participants spread over the nodes in one session; the meeting's owner is
/// killed (`SIGKILL`); the time from the kill until each client has resumed (`roomJoined` with
/// `reconnected`) on a node that lives. Then every client must be in the same session, holding
/// everyone (nothing lost), and none may have left.
pub async fn takeover(cluster: &mut Cluster, target: &Target, n: usize) -> Result<Value, String> {
    let (meeting, tokens) = target.meeting_with(n, "group_call_participant").await?;
    let clients = target.clients(&tokens).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    for (i, c) in clients.iter().enumerate() {
        let (tx, mut events) = (tx.clone(), c.events());
        tokio::spawn(async move {
            while let Some(e) = futures_util::StreamExt::next(&mut events).await {
                if matches!(e, Event::RoomJoined { reconnected: true }) {
                    let _ = tx.send((i, Instant::now()));
                }
            }
        });
    }
    drop(tx);
    target.join_all(&clients).await?;
    crate::workloads::settle(&clients, n).await?;
    let session = clients[0].meeting.meta().session_id();
    let owner = cluster.owner_of(&meeting).await?;
    let publishes_before = cluster.publishes().await?;
    let t0 = Instant::now();
    cluster.kill(owner)?;
    let progress = bar(n as u64, "resumed");
    let mut resumed = vec![None; n];
    let mut count = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while count < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((i, at))) => {
                // A resume from before the kill (a connection that dropped while joining) is not
                // this one's.
                if at >= t0 && resumed[i].is_none() {
                    resumed[i] = Some(at - t0);
                    count += 1;
                    progress.inc(1);
                }
            }
            _ => break,
        }
    }
    progress.finish_and_clear();
    if count < n {
        return Err(format!("only {count} of {n} clients resumed after the owner's kill"));
    }
    crate::workloads::settle(&clients, n).await?;
    let same = clients.iter().filter(|c| c.meeting.meta().session_id() == session).count();
    let joined = clients.iter().filter(|c| c.meeting.self_().room_state() == RoomState::Joined).count();
    if same != n || joined != n {
        return Err(format!("after the takeover {joined} of {n} are joined and {same} in the first session"));
    }
    let latencies: Vec<Duration> = resumed.into_iter().flatten().collect();
    let p = crate::stats::Percentiles::of(&latencies);
    Ok(json!({
        "workload": "takeover",
        "participants": n,
        "nodes": cluster.node_ids.len(),
        "killed": cluster.node_ids[owner],
        "resumed_p50_ms": p.p50_ms, "resumed_p99_ms": p.p99_ms, "last_resumed_ms": p.max_ms,
        "same_session_everyone_held": true,
        "bus_messages_after_the_kill": cluster.publishes().await?.saturating_sub(publishes_before),
    }))
}
