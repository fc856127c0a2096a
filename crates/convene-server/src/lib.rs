//! # convene-server
//!
//! A self-hostable Convene session server: RealtimeKit's REST API (paths, snake_case bodies,
//! `{success, data}` envelope) under `/client/v4/accounts/{account_id}/realtime/kit/`, the
//! signalling WebSocket of `docs/protocol.md` at `/v1/signal`, an embedded SQLite store, and
//! webhooks signed as RealtimeKit signs them, delivered from a persistent outbox.
//!
//! Embed it in an application's own test suite, as the end-session example and this crate's
//! tests do (the counterpart of RealtimeKit's `./mock` export): start it on an ephemeral loopback
//! port with an in-memory store, make meetings and participants without HTTP, and point the code
//! under test at it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = convene_server::start(convene_server::ServerConfig::ephemeral()).await?;
//! let meeting_id = server.create_meeting("Weekly sync").await?;
//! let (participant_id, token) = server.add_participant(&meeting_id, "Hana", "group_call_host").await?;
//!
//! // The participant's token works against the running server, as a client would use it.
//! let http = reqwest::Client::new();
//! let me = http.get(format!("{}/v1/participant/me", server.url())).bearer_auth(&token).send().await?;
//! let me: serde_json::Value = serde_json::from_str(&me.text().await?)?;
//! assert_eq!(me["data"]["participant"]["id"], participant_id.as_str());
//!
//! // The REST API answers with the generated admin token, in the ready app.
//! let (account, app) = &server.default_app;
//! let url = format!("{}/client/v4/accounts/{account}/realtime/kit/{app}/meetings/{meeting_id}", server.url());
//! let meeting = http.get(url).bearer_auth(&server.admin_token).send().await?.text().await?;
//! let meeting: serde_json::Value = serde_json::from_str(&meeting)?;
//! assert_eq!(meeting["data"]["title"], "Weekly sync");
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![warn(unreachable_pub)]

/// The REST API's handlers. Private to the crate, except in fuzzing builds (cargo-fuzz sets
/// `--cfg fuzzing`), where `fuzz/fuzz_targets/rest_bodies.rs` calls its body types and checks.
#[cfg(fuzzing)]
pub mod api;
#[cfg(not(fuzzing))]
mod api;
pub mod auth;
pub mod backup;
mod bootstrap;
pub mod client_addr;
// Cluster mode (issue 13): docs/cluster.md.
mod cluster;
pub mod files;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod model;
mod opening;
mod participant_api;
mod room;
pub mod serve;
mod state;
pub mod store;
mod timings;
pub mod webhook;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;

pub use bootstrap::{Prepared, DEFAULT_ACCOUNT, MIN_ADMIN_TOKEN_LEN};
pub use cluster::ClusterError;
pub use opening::{postgres_store, PostgresNode};
use state::AppState;
pub use timings::Timings;
pub use ws::READ_BUFFER;

/// Where data lives.
#[derive(Debug, Clone)]
pub enum DataLocation {
    /// A directory: `convene.db`, `webhook_key.pem`, `recordings/`.
    Dir(PathBuf),
    /// Nothing kept: an in-memory database, a key for this run, recordings in a temporary
    /// directory removed at shutdown.
    Memory,
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where data lives.
    pub data: DataLocation,
    /// An admin API token to accept (kept hashed). Without one, the first start generates one.
    pub admin_token: Option<String>,
    /// The URL clients use to reach the server (for download links); default `http://<listen>`.
    pub base_url: Option<String>,
    /// Timings.
    pub timings: Timings,
    /// Rate limits and connection caps.
    pub limits: limits::Limits,
    /// How webhooks are delivered.
    pub webhooks: webhook::WebhookOptions,
    /// Terminate TLS with this certificate and key (`https://`, `wss://`); plain HTTP without.
    pub tls: Option<serve::TlsFiles>,
    /// Keep everything in PostgreSQL, as this node, instead of SQLite in the data directory
    /// (which then holds only recordings).
    pub postgres: Option<PostgresNode>,
    /// Run as a node of a cluster on this Redis (`redis://host:port`) and [`Self::postgres`]:
    /// the node runs the rooms of the meetings it owns and relays the others to their owners.
    pub redis: Option<String>,
    /// Serve `GET /metrics` (with `/healthz` and `/readyz`) on this address, plain HTTP. Without
    /// it there is no metrics endpoint: the public listener never serves one.
    pub metrics_listen: Option<SocketAddr>,
}

impl ServerConfig {
    /// An in-memory server on an ephemeral loopback port, with a generated admin token.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: DataLocation::Memory,
            admin_token: None,
            base_url: None,
            timings: Timings::default(),
            limits: limits::Limits::default(),
            webhooks: webhook::WebhookOptions::default(),
            tls: None,
            postgres: None,
            redis: None,
            metrics_listen: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or a file in it.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The database.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The webhook key.
    #[error(transparent)]
    Key(#[from] webhook::sign::KeyError),
    /// The webhook options.
    #[error(transparent)]
    Webhooks(#[from] webhook::OptionsError),
    /// The TLS certificate or key.
    #[error(transparent)]
    Tls(#[from] serve::TlsError),
    /// The cluster's bus or lease could not be had.
    #[error("cluster: {0}")]
    Cluster(#[from] cluster::ClusterError),
    /// `redis` was given without `postgres`: a cluster's nodes share one PostgreSQL.
    #[error("a cluster node needs PostgreSQL (--postgres) as well as Redis (--redis)")]
    RedisWithoutPostgres,
    /// The admin token given is too short to be a secret.
    #[error("the admin token must be at least {min} characters (it has {0}); `convene-server token create --scope admin` makes a good one", min = bootstrap::MIN_ADMIN_TOKEN_LEN)]
    AdminTokenTooShort(usize),
}

/// How long a stopping server waits for its rooms' last writes.
pub const ROOMS_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A running server.
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// An admin API token: the one given, or the one generated (empty when an earlier start
    /// generated it; it is stored hashed and cannot be shown again).
    pub admin_token: String,
    /// Whether the server speaks TLS.
    pub tls: bool,
    /// Whether `admin_token` was generated by this start.
    pub admin_token_is_new: bool,
    /// What this start did with the admin tokens.
    pub prepared: Prepared,
    /// The ready app: (account id, app id).
    pub default_app: (String, String),
    /// Where `GET /metrics` is served, with [`ServerConfig::metrics_listen`].
    pub metrics_addr: Option<SocketAddr>,
    state: AppState,
    router: Router,
    /// The SQLite store behind the server, when it runs on SQLite (for tests and tools that
    /// read raw rows).
    pub sqlite: Option<store::SqliteStore>,
    shutdown: oneshot::Sender<()>,
    metrics_shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    temp_dir: Option<PathBuf>,
}

impl RunningServer {
    /// `http://addr`, or `https://addr` with TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// The signalling WebSocket's URL: `ws://addr/v1/signal`, or `wss://` with TLS.
    pub fn signal_url(&self) -> String {
        format!("{}://{}/v1/signal", if self.tls { "wss" } else { "ws" }, self.addr)
    }

    /// Stops accepting, closes every connection (code 1012: clients resume after a restart),
    /// stops the rooms (live sessions stay `LIVE` in the store), waits for the server task and
    /// for the rooms' last writes (up to [`ROOMS_STOP_WAIT`]).
    pub async fn shutdown(self) {
        self.state.0.stopping.send_replace(true);
        let _ = self.shutdown.send(());
        if let Some(stop) = self.metrics_shutdown {
            let _ = stop.send(());
        }
        let _ = self.task.await;
        if tokio::time::timeout(ROOMS_STOP_WAIT, self.state.0.rooms.all_stopped()).await.is_err() {
            tracing::warn!("rooms still writing after {ROOMS_STOP_WAIT:?}; stopping without them");
        }
        if let Some(dir) = self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Creates a meeting in the ready app, as `POST .../meetings` would. Returns its id.
    pub async fn create_meeting(&self, title: &str) -> Result<String, store::StoreError> {
        let meeting = model::Meeting::with_defaults(Some(title.to_owned()));
        Ok(self.state.store().create_meeting(&self.default_app.1, meeting).await?.id)
    }

    /// Adds a participant to a meeting of the ready app, as `POST .../participants` would.
    /// Returns its id and auth token.
    pub async fn add_participant(
        &self,
        meeting_id: &str,
        name: &str,
        preset: &str,
    ) -> Result<(String, String), store::StoreError> {
        let app = &self.default_app.1;
        let p = self.state.store().create_participant(app, meeting_id, name, preset, Some(name), None).await?;
        let token = self.state.0.tokens.issue(&p.id, meeting_id, app, auth::now_secs());
        Ok((p.id, token))
    }

    /// The store (for tests and tools that look inside).
    pub fn store(&self) -> &dyn store::Store {
        self.state.store()
    }

    /// The routes, for requests made in-process without a socket (`tower::ServiceExt::oneshot`).
    /// A request counts against the per-IP limits only if it carries a `ConnectInfo`.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// How many meetings have a running room task.
    pub fn running_rooms(&self) -> usize {
        self.state.0.rooms.live_count()
    }

    /// A probe of [`running_rooms`](Self::running_rooms) that outlives this borrow (for a stats
    /// line printed while the server runs).
    pub fn running_rooms_probe(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let state = self.state.clone();
        move || state.0.rooms.live_count()
    }

    /// A participant token for `participant_id` of meeting `meeting_id` of app `app_id`, issued at
    /// `issued_at` (Unix seconds), as the REST API issues them.
    pub fn issue_participant_token(
        &self,
        participant_id: &str,
        meeting_id: &str,
        app_id: &str,
        issued_at: u64,
    ) -> String {
        self.state.0.tokens.issue(participant_id, meeting_id, app_id, issued_at)
    }

    /// Stops the server without any cleanup, as a crash would (the data directory stays as is).
    pub fn abort(self) {
        self.task.abort();
    }
}

/// The routes.
fn router(state: AppState) -> Router {
    use api::{apps, meetings, participants, presets, recordings, sessions, webhooks};
    let kit = "/client/v4/accounts/{account_id}/realtime/kit";
    let app = format!("{kit}/{{app_id}}");
    let meeting = format!("{app}/meetings/{{meeting_id}}");
    Router::new()
        .route(&format!("{kit}/apps"), get(apps::list).post(apps::create))
        .route(&format!("{kit}/apps/{{app_id}}"), get(apps::get))
        .route(&format!("{app}/presets"), get(presets::list).post(presets::create))
        .route(
            &format!("{app}/presets/{{preset_id}}"),
            get(presets::get).patch(presets::patch).put(presets::replace).delete(presets::delete),
        )
        .route(&format!("{app}/meetings"), get(meetings::list).post(meetings::create))
        .route(&meeting, get(meetings::get).patch(meetings::patch).put(meetings::replace))
        .route(&format!("{meeting}/active-session"), get(meetings::active_session))
        .route(&format!("{meeting}/active-session/kick"), post(meetings::kick))
        .route(&format!("{meeting}/active-session/kick-all"), post(meetings::kick_all))
        .route(&format!("{meeting}/participants"), get(participants::list).post(participants::add))
        .route(
            &format!("{meeting}/participants/{{participant_id}}"),
            get(participants::get).patch(participants::patch).put(participants::replace).delete(participants::delete),
        )
        .route(&format!("{meeting}/participants/{{participant_id}}/token"), post(participants::refresh_token))
        .route(&format!("{app}/sessions"), get(sessions::list))
        .route(&format!("{app}/sessions/{{session_id}}"), get(sessions::get))
        .route(&format!("{app}/sessions/{{session_id}}/participants"), get(sessions::participants))
        .route(&format!("{app}/sessions/{{session_id}}/participants/{{participant_id}}"), get(sessions::participant))
        .route(&format!("{app}/sessions/peer-report/{{peer_id}}"), get(sessions::peer_report))
        .route(&format!("{app}/recordings"), get(recordings::list).post(recordings::start))
        .route(&format!("{app}/recordings/{{recording_id}}"), get(recordings::get).put(recordings::action))
        .route(&format!("{app}/recordings/{{recording_id}}/download"), get(recordings::download))
        .route(&format!("{app}/recordings/active-recording/{{meeting_id}}"), get(recordings::active))
        .route(&format!("{app}/webhooks"), get(webhooks::list).post(webhooks::create))
        .route(&format!("{app}/webhooks/all"), get(webhooks::events))
        .route(
            &format!("{app}/webhooks/{{webhook_id}}"),
            get(webhooks::get).patch(webhooks::patch).put(webhooks::replace).delete(webhooks::delete),
        )
        .route("/client/v4/openapi.json", get(api::openapi::serve))
        .route("/.well-known/webhooks.json", get(participant_api::webhook_key))
        .route("/v1/participant/me", get(participant_api::me).options(participant_api::me_preflight))
        // Behind the per-IP limit, as each probe queries the store.
        .route("/readyz", get(health::readyz))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(api::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.0.limiter.clone(), limits::rest_limits))
        .layer(axum::middleware::from_fn_with_state(state.0.metrics.clone(), metrics::rest_requests))
        .route("/healthz", get(health::healthz))
        .route(
            "/v1/signal",
            get(ws::signal).layer(axum::middleware::from_fn_with_state(state.0.limiter.clone(), limits::join_limits)),
        )
        .with_state(state)
}

/// The metrics listener, bound, and what stops it.
struct MetricsListener {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    stop: oneshot::Receiver<()>,
}

impl MetricsListener {
    /// Binds `at`, if given; the sender stops it.
    async fn bind(at: Option<SocketAddr>) -> std::io::Result<(Option<Self>, Option<oneshot::Sender<()>>)> {
        let Some(at) = at else { return Ok((None, None)) };
        let listener = tokio::net::TcpListener::bind(at).await?;
        let addr = listener.local_addr()?;
        let (tx, stop) = oneshot::channel::<()>();
        Ok((Some(Self { listener, addr, stop }), Some(tx)))
    }
}

/// The metrics listener's routes: `/metrics` and the probes.
fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz_detailed))
        .with_state(state)
}

/// Opens the store, prepares first-start data, restores live sessions, binds, and serves.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    if let Some(token) = &config.admin_token {
        if token.len() < bootstrap::MIN_ADMIN_TOKEN_LEN {
            return Err(StartError::AdminTokenTooShort(token.len()));
        }
    }
    if config.redis.is_some() && config.postgres.is_none() {
        return Err(StartError::RedisWithoutPostgres);
    }
    let (db_path, key_path, recordings_dir, temp_dir) = match &config.data {
        DataLocation::Dir(dir) => {
            files::private_dir(dir)?;
            let db = dir.join("convene.db");
            // On PostgreSQL the directory holds only recordings.
            if config.postgres.is_none() {
                files::private_database(&db)?;
            }
            (Some(db), Some(dir.join("webhook_key.pem")), dir.join("recordings"), None)
        }
        DataLocation::Memory => {
            let dir = std::env::temp_dir().join(format!("convene-{}", uuid::Uuid::new_v4()));
            (None, None, dir.join("recordings"), Some(dir))
        }
    };
    files::private_dir(&recordings_dir)?;
    let opened = match &config.postgres {
        Some(node) => opening::postgres(node, config.timings.webhook_attempt_timeout.saturating_mul(3)).await?,
        None => opening::sqlite(db_path.as_deref(), key_path.as_deref()).await?,
    };
    let cluster = match (&config.redis, &config.postgres, &opened.pg_pool) {
        (Some(redis), Some(node), Some(pool)) => Some(
            cluster::node::ClusterNode::start(&node.url, pool.clone(), redis, &node.node_id, cluster::node::NODE_LEASE)
                .await?,
        ),
        _ => None,
    };
    let store = opened.store;
    let prepared = bootstrap::prepare_shared(&*store, opened.pg_pool.as_ref(), config.admin_token.as_deref()).await?;
    let failed = store.fail_unfinished_recordings().await?;
    if failed > 0 {
        tracing::warn!(failed, "recordings interrupted by the last stop were marked ERRORED");
    }
    let tls = config.tls.as_ref().map(serve::tls_acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // Bound before anything starts running, so that a taken address fails the start cleanly.
    let (metrics_listener, metrics_shutdown) = MetricsListener::bind(config.metrics_listen).await?;
    let metrics_addr = metrics_listener.as_ref().map(|m| m.addr);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = config.base_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}"));
    let webhooks = Arc::new(webhook::Webhooks::new(opened.signer, &config.webhooks)?);
    let stopping = tokio::sync::watch::channel(false).0;
    let metrics = Arc::new(metrics::Metrics::new());
    let rooms = room::Rooms::new(room::RoomDeps {
        store: store.clone(),
        webhook_wake: webhooks.waker(),
        recordings_dir: recordings_dir.clone(),
        base_url: base_url.clone(),
        away_grace: config.timings.away_grace,
        room_idle: config.timings.room_idle,
        send_queue: config.timings.outgoing_queue,
        stopping: stopping.subscribe(),
        tasks: room::RoomTasks::default(),
        cluster: cluster.clone(),
        metrics: metrics.clone(),
    });
    let delivery = webhook::Delivery {
        store: store.clone(),
        webhooks: webhooks.clone(),
        settings: webhook::DeliverySettings::from(&config.timings),
        stopping: stopping.subscribe(),
        metrics: metrics.clone(),
    };
    let state = AppState(Arc::new(state::Shared {
        store,
        tokens: auth::TokenKey::new(opened.token_key),
        rooms,
        webhooks,
        recordings_dir,
        base_url,
        timings: config.timings.clone(),
        stopping,
        limiter: Arc::new(limits::Limiter::with_metrics(config.limits.clone(), metrics.clone())),
        cluster: cluster.clone(),
        metrics: metrics.clone(),
    }));
    if cluster.is_some() {
        let restored = state.0.rooms.restore_owned().await?;
        tracing::info!(restored, "rooms of the meetings this node owned restored");
        tokio::spawn(sweep_orphans(state.clone()));
    } else {
        restore_live_sessions(&state).await?;
    }
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let app = router(state.clone());
    let routes = app.clone();
    if let Some(node) = &config.postgres {
        // Deliveries queued by any node wake this one's delivery task.
        let wake =
            cluster::outbox::wake_on_notify(node.url.clone(), state.0.webhooks.waker(), state.0.stopping.subscribe());
        tokio::spawn(wake);
    }
    let worker = tokio::spawn(webhook::deliver_forever(delivery));
    let tls_on = tls.is_some();
    let (timings, limits) = (config.timings.clone(), config.limits.clone());
    let metrics_routes = metrics_router(state.clone());
    let task = tokio::spawn(async move {
        let public = serve::serve(listener, app, tls, &timings, &limits, metrics.clone(), shutdown_rx);
        let private = async {
            if let Some(m) = metrics_listener {
                serve::serve(m.listener, metrics_routes, None, &timings, &limits::Limits::off(), metrics, m.stop).await;
            }
        };
        tokio::join!(public, private);
        // The delivery task ends on `stopping` once its attempts in flight are cancelled, so that
        // none of them writes an outcome after the server has stopped.
        let _ = worker.await;
    });
    let admin_token_is_new = prepared.new_admin_token.is_some();
    let admin_token = prepared.new_admin_token.clone().or(config.admin_token).unwrap_or_default();
    Ok(RunningServer {
        addr,
        tls: tls_on,
        admin_token,
        admin_token_is_new,
        default_app: prepared.default_app.clone(),
        metrics_addr,
        prepared,
        state,
        router: routes,
        sqlite: opened.sqlite,
        shutdown,
        metrics_shutdown,
        task,
        temp_dir,
    })
}

/// Cluster mode: takes over, every [`room::ORPHAN_SWEEP_EVERY`], the live sessions no live node
/// runs ([`room::Rooms::adopt_orphans`]), until the server stops.
async fn sweep_orphans(state: AppState) {
    let mut stopping = state.0.stopping.subscribe();
    let mut every = tokio::time::interval(room::ORPHAN_SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stopping.changed() => {}
        }
        if *stopping.borrow() {
            return;
        }
        state.0.rooms.adopt_orphans().await;
    }
}

async fn restore_live_sessions(state: &AppState) -> Result<(), StartError> {
    let store = state.store();
    for (session, peers) in store.live_sessions(None).await? {
        let Some(meeting) = store.get_meeting(&session.app_id, &session.meeting_id).await? else { continue };
        let app_id = session.app_id.clone();
        let restored = room::restored_from(store, session, peers).await?;
        state.0.rooms.restore(&app_id, meeting, restored);
    }
    Ok(())
}
