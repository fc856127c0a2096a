//! A node of the cluster: its bus, its lease, and the meetings it owns. The room registry asks
//! it to claim a meeting before running the meeting's room, and to release it when the room
//! ends idle; the rooms watch its lease and stop when it no longer holds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::bus::Bus;
use super::event_log::{EventLog, LogLimits};
use super::lease::LeasePolicy;
use super::liveness::{self, Beat};
use super::ownership::{self, Claim, Fence};
use super::ClusterError;

/// How long a node's heartbeat keeps it alive in the database's eyes (another node may take
/// its meetings this long after its last heartbeat), how much sooner it stops its own rooms, and
/// how often it beats.
pub(crate) const NODE_LEASE: LeaseSettings = LeaseSettings {
    lease: Duration::from_secs(6),
    margin: Duration::from_secs(2),
    interval: Duration::from_millis(500),
};

/// A node's lease settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeaseSettings {
    /// The lease the database judges by.
    pub(crate) lease: Duration,
    /// How much before it runs out the node stops its rooms.
    pub(crate) margin: Duration,
    /// Time between heartbeats.
    pub(crate) interval: Duration,
}

/// What each live session's event log keeps: as many events as a room keeps for an away peer, for
/// an hour after the last.
const LOG_LIMITS: LogLimits = LogLimits { capacity: convene_room::REPLAY_AWAY, ttl: Duration::from_secs(3600) };

/// How long a start waits for the node's first heartbeat to commit.
const FIRST_HEARTBEAT_WAIT: Duration = Duration::from_secs(30);

/// This node's end of the cluster.
pub(crate) struct ClusterNode {
    /// The bus between the nodes.
    pub(crate) bus: Bus,
    /// The live sessions' event logs.
    pub(crate) event_log: EventLog<redis::aio::ConnectionManager>,
    /// The event log's connection, for the readiness probe's `PING`.
    redis: redis::aio::ConnectionManager,
    pool: deadpool_postgres::Pool,
    lease_holds: watch::Receiver<bool>,
    lease: Duration,
}

impl ClusterNode {
    /// Connects to the bus, starts the heartbeat and waits until the node's lease holds.
    pub(crate) async fn start(
        postgres_url: &str,
        pool: deadpool_postgres::Pool,
        redis_url: &str,
        node_id: &str,
        settings: LeaseSettings,
    ) -> Result<Arc<Self>, ClusterError> {
        let bus = Bus::connect(redis_url, node_id).await?;
        // An append gives up after a second (the room's frames wait for it); a takeover's read of
        // a whole log may take longer.
        let log_config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(Duration::from_secs(3)));
        let log_conn = redis::Client::open(redis_url)?.get_connection_manager_with_config(log_config).await?;
        let event_log = EventLog::new(log_conn.clone(), LOG_LIMITS);
        let policy = LeasePolicy { lease: settings.lease, margin: settings.margin };
        let beat = Beat {
            postgres_url: postgres_url.to_owned(),
            node_id: node_id.to_owned(),
            policy,
            interval: settings.interval,
        };
        let mut lease_holds = liveness::spawn(beat);
        tokio::time::timeout(FIRST_HEARTBEAT_WAIT, lease_holds.wait_for(|holds| *holds))
            .await
            .map_err(|_| ClusterError::LeaseLost)?
            .map_err(|_| ClusterError::LeaseLost)?;
        Ok(Arc::new(Self { bus, event_log, redis: log_conn, pool, lease_holds, lease: settings.lease }))
    }

    /// This node's name.
    pub(crate) fn node_id(&self) -> &str {
        self.bus.node_id()
    }

    /// Whether the node's lease holds now (its rooms may act).
    pub(crate) fn holds(&self) -> bool {
        *self.lease_holds.borrow()
    }

    /// Redis answers a `PING` (the readiness probe).
    pub(crate) async fn ping_redis(&self) -> Result<(), ClusterError> {
        let mut conn = self.redis.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await?;
        Ok(())
    }

    /// A receiver that turns `false` when the lease stops holding.
    pub(crate) fn lease_watch(&self) -> watch::Receiver<bool> {
        self.lease_holds.clone()
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, ClusterError> {
        self.pool.get().await.map_err(|e| ClusterError::Pool(e.to_string()))
    }

    /// Claims `meeting_id` for this node ([`ownership::claim`]); refused while the lease does not
    /// hold.
    pub(crate) async fn claim(&self, meeting_id: &str) -> Result<Claim, ClusterError> {
        if !self.holds() {
            return Err(ClusterError::LeaseLost);
        }
        let mut client = self.client().await?;
        ownership::claim(&mut client, meeting_id, self.node_id(), self.lease).await
    }

    /// Gives up a meeting whose room ended ([`ownership::release`]).
    pub(crate) async fn release(&self, fence: &Fence) -> Result<bool, ClusterError> {
        ownership::release(&**self.client().await?, fence).await
    }

    /// The meetings this node owns by the database, each with the fence it owns it under.
    pub(crate) async fn owned_here(&self) -> Result<Vec<Fence>, ClusterError> {
        let client = self.client().await?;
        let rows =
            client.query("SELECT meeting_id, epoch FROM meeting_owners WHERE node_id = $1", &[&self.node_id()]).await?;
        Ok(rows.iter().map(|r| Fence { meeting_id: r.get(0), epoch: r.get(1) }).collect())
    }

    /// The meetings this node owns by the database, each with its fence and, if it has a live
    /// session, the app of that session.
    pub(crate) async fn owned_here_with_live_session(&self) -> Result<Vec<(Fence, Option<String>)>, ClusterError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT o.meeting_id, o.epoch, s.app_id FROM meeting_owners o
                 LEFT JOIN sessions s ON s.meeting_id = o.meeting_id AND s.status = 'LIVE'
                 WHERE o.node_id = $1",
                &[&self.node_id()],
            )
            .await?;
        Ok(rows.iter().map(|r| (Fence { meeting_id: r.get(0), epoch: r.get(1) }, r.get(2))).collect())
    }

    /// The meetings of app `app_id` another node owns.
    pub(crate) async fn owned_elsewhere(&self, app_id: &str) -> Result<Vec<String>, ClusterError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT o.meeting_id FROM meeting_owners o JOIN meetings m ON m.id = o.meeting_id
                 WHERE o.node_id IS NOT NULL AND o.node_id <> $1 AND m.app_id = $2",
                &[&self.node_id(), &app_id],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The live sessions, as (app, meeting), whose meeting nobody owns or whose owner's lease has
    /// run out: no room runs them, so their timers (away peers' grace, the keep-alive of an empty
    /// session) would never fire unless a node takes them over.
    pub(crate) async fn orphaned(&self) -> Result<Vec<(String, String)>, ClusterError> {
        let client = self.client().await?;
        let lease = ownership::millis(self.lease);
        let rows = client
            .query(
                "SELECT s.app_id, s.meeting_id FROM sessions s
                 LEFT JOIN meeting_owners o ON o.meeting_id = s.meeting_id
                 LEFT JOIN nodes n ON n.node_id = o.node_id
                 WHERE s.status = 'LIVE' AND (o.node_id IS NULL OR n.heartbeat_at IS NULL
                   OR n.heartbeat_at <= now() - $1::bigint * interval '1 millisecond')",
                &[&lease],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Whether `meeting_id` is still owned under `epoch` by a node whose lease holds (a relay's
    /// check: an owner that is paused still listens on the bus, but its lease runs out).
    pub(crate) async fn owner_holds(&self, meeting_id: &str, epoch: i64) -> Result<bool, ClusterError> {
        let client = self.client().await?;
        let lease = ownership::millis(self.lease);
        let row = client
            .query_opt(
                "SELECT 1 FROM meeting_owners o JOIN nodes n ON n.node_id = o.node_id
                 WHERE o.meeting_id = $1 AND o.epoch = $2
                   AND n.heartbeat_at > now() - $3::bigint * interval '1 millisecond'",
                &[&meeting_id, &epoch, &lease],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Whether any node owns `meeting_id` now (its room runs somewhere, or its owner died and
    /// nobody took it over yet).
    pub(crate) async fn is_owned(&self, meeting_id: &str) -> Result<bool, ClusterError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT 1 FROM meeting_owners WHERE meeting_id = $1 AND node_id IS NOT NULL", &[&meeting_id])
            .await?;
        Ok(row.is_some())
    }
}
