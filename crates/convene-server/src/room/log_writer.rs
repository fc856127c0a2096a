//! An owning room's writer of its session's event log (cluster mode): the machine's
//! [`Output::Logged`](convene_room::Output) events go to the session's Redis stream
//! ([`EventLog`]) in order, one batch per group of turns, and the turn's frames wait for the
//! batch as they wait for its store writes. An append refused by the log's fence stops the room
//! like a refused store write. An append that fails (Redis away, too slow, or a log that does not
//! follow) is not waited on again: its events go out unlogged once the writer has recorded in
//! PostgreSQL that the session's events went past the log (a node that takes the meeting over
//! then sends snapshots rather than trust the log), and the log starts afresh with the next
//! batch. If that record fails too ([`StoreError::Unrecorded`]), the turn lets nothing out and
//! the room stops: its clients resume on a room that knows what they saw.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use convene_room::{LoggedEvent, Recipients, RestoredLog, StoreWrite};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::cluster::event_log::{AppendOutcome, EventLog, TakenOver};
use crate::store::{Fence, PendingWrites, RoomWrite, RoomWritesApplied, Store, StoreError};

/// How long an append may take before its events go out unlogged.
const APPEND_TIMEOUT: Duration = Duration::from_secs(1);

/// One log entry's payload: who the event went to and its frame.
#[derive(Serialize, Deserialize)]
struct Entry<'a> {
    to: Recipients,
    #[serde(borrow)]
    frame: std::borrow::Cow<'a, str>,
}

/// A batch of events to log, and where its outcome goes.
type Job = (Vec<LoggedEvent>, Option<u64>, oneshot::Sender<RoomWritesApplied>);

/// The room's end of its log writer.
pub(super) struct LogWriter {
    tx: mpsc::UnboundedSender<Job>,
}

/// The writer's task: the log, and what it needs to record an unlogged batch.
struct Writer {
    log: EventLog<ConnectionManager>,
    store: Arc<dyn Store>,
    app_id: String,
    fence: Fence,
    /// Sessions whose log holds everything this room sent (none at first but a session whose
    /// log the room took over; the first append of any other starts its log afresh).
    following: HashSet<String>,
}

impl LogWriter {
    /// Starts the writer of a room owning its meeting under `fence`; `adopted` is the session
    /// whose log the room took over, if it did.
    pub(super) fn spawn(
        log: EventLog<ConnectionManager>,
        store: Arc<dyn Store>,
        app_id: String,
        fence: Fence,
        adopted: Option<String>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer { log, store, app_id, fence, following: adopted.into_iter().collect() };
        tokio::spawn(writer.run(rx));
        Self { tx }
    }

    /// Logs `events`, after every batch before them, with the room's view after them; the
    /// outcome comes as a batch of writes does.
    pub(super) fn submit(&self, events: Vec<LoggedEvent>, view: Option<u64>) -> PendingWrites {
        let (done, outcome) = oneshot::channel();
        let _ = self.tx.send((events, view, done));
        Box::pin(async move {
            outcome.await.unwrap_or_else(|_| RoomWritesApplied {
                unreached: Some(StoreError::Worker("the event log writer stopped".into())),
                ..RoomWritesApplied::default()
            })
        })
    }
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        while let Some((events, view, done)) = rx.recv().await {
            let mut applied = RoomWritesApplied::default();
            let sessions = sessions(&events);
            for (i, session) in sessions.iter().enumerate() {
                let of_session: Vec<&LoggedEvent> = events.iter().filter(|e| &e.session_id == session).collect();
                // The view after the batch is the last session's.
                let view = view.filter(|_| i + 1 == sessions.len());
                let outcome = self.append(session, &of_session, view).await;
                merge(&mut applied, outcome);
                if !applied.failed.is_empty() {
                    break;
                }
            }
            let _ = done.send(applied);
        }
    }

    /// Appends one session's events; on failure, records in the store that they went past the
    /// log.
    async fn append(&mut self, session_id: &str, events: &[&LoggedEvent], view: Option<u64>) -> RoomWritesApplied {
        let payloads: Vec<(u64, Vec<u8>)> = events.iter().map(|e| (e.seq, payload(e))).collect();
        let restart = !self.following.contains(session_id);
        let appended = tokio::time::timeout(
            APPEND_TIMEOUT,
            self.log.append(session_id, self.fence.epoch, restart, &payloads, view),
        )
        .await;
        let why = match appended {
            Ok(Ok(AppendOutcome::Appended)) => {
                self.following.insert(session_id.to_owned());
                return RoomWritesApplied::default();
            }
            Ok(Ok(AppendOutcome::Fenced { epoch })) => {
                tracing::warn!(meeting = %self.fence.meeting_id, epoch, "another node took the session's log over");
                let touched = touched(session_id, events);
                let fenced = StoreError::Fenced { meeting_id: self.fence.meeting_id.clone(), epoch: self.fence.epoch };
                return RoomWritesApplied { failed: vec![(touched, fenced)], ..RoomWritesApplied::default() };
            }
            Ok(Ok(AppendOutcome::OutOfOrder { top })) => format!("the log ends at {top}"),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {APPEND_TIMEOUT:?}"),
        };
        tracing::warn!(meeting = %self.fence.meeting_id, error = %why, "events not logged; the log starts afresh");
        self.following.remove(session_id);
        let write = touched(session_id, events);
        let recorded = self.store.submit_room_writes(&self.app_id, Some(self.fence.clone()), vec![write.clone()]).await;
        let fenced = recorded.failed.iter().any(|(_, e)| matches!(e, StoreError::Fenced { .. }));
        let unrecorded = recorded.unreached.as_ref().map(ToString::to_string).or_else(|| {
            recorded.failed.iter().find(|(_, e)| !matches!(e, StoreError::Fenced { .. })).map(|(_, e)| e.to_string())
        });
        match unrecorded {
            Some(e) if !fenced => {
                let why = format!("{why}; then {e}");
                let failed = StoreError::Unrecorded { session_id: session_id.to_owned(), why };
                RoomWritesApplied { failed: vec![(write, failed)], ..RoomWritesApplied::default() }
            }
            _ => recorded,
        }
    }
}

/// The sessions of `events`, in the order they first appear.
fn sessions(events: &[LoggedEvent]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for e in events {
        if !seen.contains(&e.session_id) {
            seen.push(e.session_id.clone());
        }
    }
    seen
}

/// The store write that says a session's events went as far as the last of `events`.
fn touched(session_id: &str, events: &[&LoggedEvent]) -> RoomWrite {
    let last_seq = events.iter().map(|e| e.seq).max().unwrap_or(0);
    RoomWrite::Session(StoreWrite::SessionTouched { session_id: session_id.to_owned(), last_seq, concurrent: 0 })
}

fn merge(into: &mut RoomWritesApplied, from: RoomWritesApplied) {
    into.deliveries_queued += from.deliveries_queued;
    into.failed.extend(from.failed);
    if into.unreached.is_none() {
        into.unreached = from.unreached;
    }
}

fn payload(event: &LoggedEvent) -> Vec<u8> {
    let entry = Entry { to: event.to.clone(), frame: event.frame.as_str().into() };
    serde_json::to_vec(&entry).unwrap_or_default()
}

/// What a node taking a session over found in its log, as the room restores it; `None` when
/// there is no log to go by. Entries that do not read make the whole log unusable (the peers
/// then resume with snapshots).
pub(super) fn restored_log(session_id: &str, taken: TakenOver) -> Option<RestoredLog> {
    let TakenOver::Log { top, view, entries } = taken else { return None };
    let mut events = Vec::with_capacity(entries.len());
    for (seq, bytes) in entries {
        let read = serde_json::from_slice::<Entry>(&bytes)
            .ok()
            .and_then(|e| convene_room::Frame::from_log(seq, e.frame.into_owned()).ok().map(|f| (e.to, f)));
        let Some((to, frame)) = read else {
            tracing::warn!(session = %session_id, seq, "a logged event does not read; the log is not used");
            return None;
        };
        events.push(LoggedEvent { session_id: session_id.to_owned(), seq, to, frame });
    }
    Some(RestoredLog { top, events, view })
}
