//! A room's writes in PostgreSQL: one writer task applies the batches in the order they were
//! submitted, each batch in one transaction with one check of the owner's fence (if that
//! transaction fails before its commit, nothing of it is applied, and the batch's writes are
//! applied again each in a transaction of its own, so that one bad write does not take the
//! others with it), and every other call of [`PgStore`] waits
//! until the batches submitted before it are applied, so that a lookup a room makes after
//! submitting its writes reads what they wrote (as on SQLite's single thread).
//!
//! A write that could not reach the database before its commit (no connection, or one that went
//! mid-transaction: PostgreSQL rolled it back) is tried again, on a fresh connection, for up to
//! [`RETRY_FOR`]: a short outage holds the room's answers back rather than stop the room. One
//! whose connection went during the commit is not ([`StoreError::CommitUnknown`]), nor is a write
//! refused by its fence or by the database itself. Once a write of a batch has failed for want of
//! the database, the batch's later writes are not tried ([`StoreError::NotTried`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use convene_room::StoreWrite;
use tokio::sync::{mpsc, oneshot, watch};

use super::{outbox, recordings, sessions};
use crate::cluster::node::NODE_LEASE;
use crate::cluster::ownership;
use crate::store::{Fence, PendingWrites, RoomWrite, RoomWritesApplied, StoreError, StoreResult};

/// How long a write that could not reach the database is tried again: less than the time a node
/// keeps its rooms without a committed heartbeat ([`NODE_LEASE`] less its margin, 4 s), past
/// which they stop anyway.
pub(super) const RETRY_FOR: Duration = Duration::from_secs(3);
const _: () = assert!(RETRY_FOR.as_millis() < NODE_LEASE.lease.saturating_sub(NODE_LEASE.margin).as_millis());

/// The first wait before a write is tried again; it doubles up to [`RETRY_EVERY_AT_MOST`].
const RETRY_FIRST_AFTER: Duration = Duration::from_millis(100);

/// The longest wait between two tries of a write.
const RETRY_EVERY_AT_MOST: Duration = Duration::from_millis(800);

/// A submitted batch.
struct Batch {
    /// Its place in the order of submission, from 1.
    number: u64,
    app_id: String,
    fence: Option<Fence>,
    writes: Vec<RoomWrite>,
    answer: oneshot::Sender<RoomWritesApplied>,
}

/// The queue of batches and how far the writer has got.
pub(super) struct WriteQueue {
    batches: mpsc::UnboundedSender<Batch>,
    /// Batches submitted so far.
    submitted: AtomicU64,
    /// Batches applied so far (in order, so every batch up to this number is applied).
    applied: watch::Receiver<u64>,
}

impl WriteQueue {
    /// Starts the writer task on `pool`.
    pub(super) fn start(pool: deadpool_postgres::Pool) -> Arc<Self> {
        let (batches, queue) = mpsc::unbounded_channel();
        let (progress, applied) = watch::channel(0);
        tokio::spawn(write_in_order(pool, queue, progress));
        Arc::new(Self { batches, submitted: AtomicU64::new(0), applied })
    }

    /// Queues a batch; the future says how it went.
    pub(super) fn submit(&self, app_id: &str, fence: Option<Fence>, writes: Vec<RoomWrite>) -> PendingWrites {
        let (answer, answered) = oneshot::channel();
        // Numbering and sending under one step: the writer sees the numbers in order.
        let number = self.submitted.fetch_add(1, Ordering::SeqCst) + 1;
        let sent = self.batches.send(Batch { number, app_id: app_id.to_owned(), fence, writes, answer });
        Box::pin(async move {
            let unreached = |why: &str| RoomWritesApplied {
                unreached: Some(StoreError::Worker(why.into())),
                ..RoomWritesApplied::default()
            };
            if sent.is_err() {
                return unreached("the PostgreSQL writer has stopped");
            }
            answered.await.unwrap_or_else(|_| unreached("the PostgreSQL writer stopped before applying the batch"))
        })
    }

    /// Waits until every batch submitted before this call is applied.
    pub(super) async fn caught_up(&self) -> StoreResult<()> {
        let target = self.submitted.load(Ordering::SeqCst);
        let mut applied = self.applied.clone();
        applied
            .wait_for(|done| *done >= target)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::Worker("the PostgreSQL writer has stopped".into()))
    }
}

/// The writer task: applies each batch in turn and marks it applied.
async fn write_in_order(
    pool: deadpool_postgres::Pool,
    mut queue: mpsc::UnboundedReceiver<Batch>,
    progress: watch::Sender<u64>,
) {
    // `fetch_add` and `send` are two steps, so two submitters racing may send out of number
    // order; batches are applied as they arrive and marked applied up to the highest contiguous
    // number.
    let mut done = std::collections::BTreeSet::new();
    let mut applied_up_to = 0u64;
    while let Some(batch) = queue.recv().await {
        let result = apply_batch(&pool, &batch.app_id, batch.fence.as_ref(), batch.writes).await;
        let _ = batch.answer.send(result);
        done.insert(batch.number);
        while done.remove(&(applied_up_to + 1)) {
            applied_up_to += 1;
        }
        progress.send_replace(applied_up_to);
    }
}

async fn apply_batch(
    pool: &deadpool_postgres::Pool,
    app_id: &str,
    fence: Option<&Fence>,
    writes: Vec<RoomWrite>,
) -> RoomWritesApplied {
    let mut applied = RoomWritesApplied::default();
    let mut client = None;
    if writes.len() > 1 {
        match apply_together(pool, &mut client, app_id, fence, &writes).await {
            Together::Applied(queued) => {
                applied.deliveries_queued = queued;
                return applied;
            }
            Together::Refused(why) => {
                applied.failed = writes.into_iter().map(|w| (w, why())).collect();
                return applied;
            }
            // Rolled back: each write on its own (and tried again if the database is away).
            Together::RolledBack => client = None,
        }
    }
    let mut unreachable = false;
    for write in writes {
        if unreachable {
            applied.failed.push((write, StoreError::NotTried));
            continue;
        }
        match apply_retrying(pool, &mut client, app_id, fence, &write).await {
            Ok(queued) => applied.deliveries_queued += queued,
            Err(e) => {
                unreachable = e.is_unreachable();
                applied.failed.push((write, e));
            }
        }
    }
    applied
}

/// How a batch applied in one transaction went.
enum Together {
    /// Every write is applied; the webhook deliveries they queued.
    Applied(usize),
    /// None is, and none may be tried again: the fence no longer holds, or the commit's outcome
    /// is not known. The error of each write.
    Refused(Box<dyn Fn() -> StoreError + Send>),
    /// Nothing was applied (PostgreSQL rolled the transaction back, or it never began), so the
    /// writes may be applied one by one.
    RolledBack,
}

/// Applies a batch's writes in one transaction with one check of the fence (a storm of joins
/// makes batches of hundreds of writes, and a transaction each would cost four round trips a
/// write).
async fn apply_together(
    pool: &deadpool_postgres::Pool,
    client: &mut Option<deadpool_postgres::Object>,
    app_id: &str,
    fence: Option<&Fence>,
    writes: &[RoomWrite],
) -> Together {
    let c = match client {
        Some(c) => c,
        None => match pool.get().await {
            Ok(c) => client.insert(c),
            Err(_) => return Together::RolledBack,
        },
    };
    let Ok(tx) = c.transaction().await else { return Together::RolledBack };
    match check_fence(&tx, fence).await {
        Ok(()) => {}
        Err(StoreError::Fenced { meeting_id, epoch }) => {
            return Together::Refused(Box::new(move || StoreError::Fenced { meeting_id: meeting_id.clone(), epoch }))
        }
        Err(_) => return Together::RolledBack,
    }
    let mut queued = 0;
    for write in writes {
        match apply_in(&tx, app_id, write).await {
            Ok(q) => queued += q,
            Err(_) => return Together::RolledBack,
        }
    }
    match commit(tx).await {
        Ok(()) => Together::Applied(queued),
        Err(StoreError::CommitUnknown(why)) => {
            Together::Refused(Box::new(move || StoreError::CommitUnknown(why.clone())))
        }
        Err(_) => Together::RolledBack,
    }
}

/// Applies one write, trying it again while the database cannot be reached and it is safe to
/// (see the module's documentation). `client` is the connection the batch goes on: taken from the
/// pool when there is none, dropped when it failed.
async fn apply_retrying(
    pool: &deadpool_postgres::Pool,
    client: &mut Option<deadpool_postgres::Object>,
    app_id: &str,
    fence: Option<&Fence>,
    write: &RoomWrite,
) -> StoreResult<usize> {
    let give_up_at = tokio::time::Instant::now() + RETRY_FOR;
    let mut wait = RETRY_FIRST_AFTER;
    loop {
        let tried = match client {
            Some(c) => apply_one(c, app_id, fence, write).await,
            None => match pool.get().await {
                Ok(c) => apply_one(client.insert(c), app_id, fence, write).await,
                Err(e) => Err(StoreError::Pool(e.to_string())),
            },
        };
        let retry = match &tried {
            Err(e @ (StoreError::Pool(_) | StoreError::Postgres(_))) => e.is_unreachable(),
            _ => false,
        };
        if tried.is_err() {
            *client = None;
        }
        if !retry || tokio::time::Instant::now() + wait > give_up_at {
            return tried;
        }
        if let Err(e) = &tried {
            tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "a room write could not reach PostgreSQL; it is tried again");
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_EVERY_AT_MOST);
    }
}

/// Applies one write in a transaction of its own, if its fence holds; returns the webhook
/// deliveries it queued.
async fn apply_one(
    client: &mut deadpool_postgres::Object,
    app_id: &str,
    fence: Option<&Fence>,
    write: &RoomWrite,
) -> StoreResult<usize> {
    let tx = client.transaction().await?;
    check_fence(&tx, fence).await?;
    let queued = apply_in(&tx, app_id, write).await?;
    commit(tx).await?;
    Ok(queued)
}

/// Inside a write transaction: fails with [`StoreError::Fenced`] unless `fence` (if any) holds,
/// and holds it until the transaction ends.
async fn check_fence(tx: &deadpool_postgres::Transaction<'_>, fence: Option<&Fence>) -> StoreResult<()> {
    let Some(fence) = fence else { return Ok(()) };
    let holds = ownership::hold_fence(tx, fence).await.map_err(|e| match e {
        crate::cluster::ClusterError::Postgres(e) => StoreError::Postgres(e),
        other => StoreError::Worker(other.to_string()),
    })?;
    if holds {
        Ok(())
    } else {
        Err(StoreError::Fenced { meeting_id: fence.meeting_id.clone(), epoch: fence.epoch })
    }
}

/// One write, inside a transaction; returns the webhook deliveries it queued.
async fn apply_in(tx: &deadpool_postgres::Transaction<'_>, app_id: &str, write: &RoomWrite) -> StoreResult<usize> {
    match write {
        RoomWrite::Webhook(event) => outbox::queue_event(&**tx, app_id, event).await,
        RoomWrite::Session(write) => apply_session_write(tx, app_id, write).await,
    }
}

/// Commits: up to here PostgreSQL rolls the transaction back if the connection goes; during the
/// commit, nobody can tell ([`StoreError::CommitUnknown`]).
async fn commit(tx: deadpool_postgres::Transaction<'_>) -> StoreResult<()> {
    tx.commit().await.map_err(|e| match e.as_db_error() {
        Some(_) => StoreError::Postgres(e), // PostgreSQL's answer: not committed.
        None => StoreError::CommitUnknown(e.to_string()),
    })
}

async fn apply_session_write(
    tx: &tokio_postgres::Transaction<'_>,
    app_id: &str,
    write: &StoreWrite,
) -> StoreResult<usize> {
    match write {
        StoreWrite::SessionStarted { session_id, meeting_id, title, started_at } => {
            sessions::start(tx, app_id, session_id, meeting_id, title.as_deref(), started_at).await?
        }
        StoreWrite::SessionTouched { session_id, last_seq, concurrent } => {
            sessions::touch(tx, session_id, *last_seq, *concurrent).await?
        }
        StoreWrite::PeerJoined { session_id, peer_id, participant, at } => {
            sessions::peer_joined(tx, session_id, peer_id, participant, at).await?
        }
        StoreWrite::PeerLeft { peer_id, outcome, at } => sessions::peer_left(tx, peer_id, *outcome, at).await?,
        StoreWrite::SessionEnded { end, last_seq, ended_at, webhook } => {
            return sessions::end(tx, app_id, end, *last_seq, ended_at, webhook).await
        }
        StoreWrite::RecordingSaved(rec) => recordings::save(tx, app_id, rec).await?,
        StoreWrite::PeerPinned { peer_id, pinned } => sessions::peer_pinned(tx, peer_id, *pinned).await?,
    }
    Ok(0)
}
