//! What the request handlers share. The rooms, the webhook delivery task and the limits
//! middleware get only the parts they use.

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::TokenKey;
use crate::limits::Limiter;
use crate::room::Rooms;
use crate::store::Store;
use crate::timings::Timings;
use crate::webhook::Webhooks;

/// The shared state.
pub(crate) struct Shared {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Signs participant tokens.
    pub tokens: TokenKey,
    /// Live rooms.
    pub rooms: Rooms,
    /// Webhook signing and delivery policy.
    pub webhooks: Arc<Webhooks>,
    /// Where recordings are written.
    pub recordings_dir: PathBuf,
    /// The server's own base URL (for download links).
    pub base_url: String,
    /// Timings.
    pub timings: Timings,
    /// Becomes true when the server stops: connections close with 1012, rooms end.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Rate limits and connection caps.
    pub limiter: Arc<Limiter>,
    /// This node of a cluster, in cluster mode (the readiness probe asks it of Redis and the
    /// lease).
    pub cluster: Option<Arc<crate::cluster::node::ClusterNode>>,
    /// The counters of `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// A cheap handle on [`Shared`].
#[derive(Clone)]
pub(crate) struct AppState(pub Arc<Shared>);

impl AppState {
    /// The database.
    pub(crate) fn store(&self) -> &dyn Store {
        &*self.0.store
    }

    /// A receiver that changes when the server stops.
    pub(crate) fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.stopping.subscribe()
    }
}
