//! The task that keeps a node alive in the database's eyes and tells the node whether its lease
//! holds: it sends a heartbeat every `interval`, feeds each one that commits to the node's
//! [`Lease`], and publishes `holds` on a watch channel; the node's rooms must stop when it turns
//! `false` (they would be fenced off soon after anyway). A lost connection is opened again at
//! the next beat.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::lease::{Lease, LeasePolicy};
use super::ownership::heartbeat;

/// How the node beats.
#[derive(Debug, Clone)]
pub(crate) struct Beat {
    /// The database.
    pub(crate) postgres_url: String,
    /// This node.
    pub(crate) node_id: String,
    /// The lease and the margin.
    pub(crate) policy: LeasePolicy,
    /// Time between heartbeats; also the longest one may take.
    pub(crate) interval: Duration,
}

/// Starts the heartbeat task; the receiver says whether the lease holds. The task ends when
/// every receiver is dropped.
pub(crate) fn spawn(beat: Beat) -> watch::Receiver<bool> {
    let (holds, receiver) = watch::channel(false);
    tokio::spawn(run(beat, holds));
    receiver
}

async fn run(beat: Beat, holds: watch::Sender<bool>) {
    let mut lease = Lease::new(beat.policy);
    let mut client: Option<tokio_postgres::Client> = None;
    let mut next = Instant::now();
    loop {
        let sent_at = Instant::now();
        let committed = tokio::time::timeout(beat.interval, async {
            let c = match client.take().filter(|c| !c.is_closed()) {
                Some(c) => c,
                None => {
                    let (c, connection) = tokio_postgres::connect(&beat.postgres_url, tokio_postgres::NoTls).await?;
                    tokio::spawn(connection);
                    c
                }
            };
            let beaten = heartbeat(&c, &beat.node_id).await;
            client = Some(c);
            beaten
        })
        .await;
        match committed {
            Ok(Ok(())) => lease.handle_heartbeat_committed(sent_at.into_std()),
            Ok(Err(e)) => tracing::warn!(error = %e, node = %beat.node_id, "a heartbeat failed"),
            Err(_) => tracing::warn!(node = %beat.node_id, "a heartbeat did not answer in time"),
        }
        next += beat.interval;
        // Sleep to the next beat, but wake when the lease runs out to say so at once.
        loop {
            let now = Instant::now();
            holds.send_if_modified(|h| std::mem::replace(h, lease.holds(now.into_std())) != *h);
            if holds.is_closed() {
                return;
            }
            let expiry = lease.poll_timeout().map(Instant::from_std).filter(|t| *t > now);
            let wake = expiry.map_or(next, |t| t.min(next));
            if wake >= next {
                tokio::time::sleep_until(next).await;
                // A node paused past its lease (`SIGSTOP`) wakes here: it must publish that the
                // lease lapsed before a new heartbeat can take it up again.
                let now = Instant::now();
                holds.send_if_modified(|h| std::mem::replace(h, lease.holds(now.into_std())) != *h);
                break;
            }
            tokio::time::sleep_until(wake).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::migrate;
    use crate::store::postgres::test_postgres::TestPostgres;

    async fn changes_to(rx: &mut watch::Receiver<bool>, value: bool, within: Duration) -> Instant {
        tokio::time::timeout(within, rx.wait_for(|v| *v == value)).await.expect("in time").unwrap();
        Instant::now()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lease_holds_while_heartbeats_commit_lapses_in_time_when_postgres_is_gone_and_comes_back() {
        let pg = TestPostgres::start();
        migrate(&mut pg.connect().await).await.unwrap();
        let policy = LeasePolicy { lease: Duration::from_secs(3), margin: Duration::from_secs(1) };
        let interval = Duration::from_millis(200);
        let beat = Beat { postgres_url: pg.url(), node_id: "a".into(), policy, interval };
        let mut holds = spawn(beat);
        changes_to(&mut holds, true, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(*holds.borrow(), "still holding after more than a lease, heartbeats committing");

        let pg = std::sync::Arc::new(std::sync::Mutex::new(pg));
        let stopping = Instant::now();
        let stopper = pg.clone();
        tokio::task::spawn_blocking(move || stopper.lock().unwrap().stop()).await.unwrap();
        let lapsed = changes_to(&mut holds, false, Duration::from_secs(10)).await;
        // The last heartbeat that committed was sent before the stop began, and committed at most
        // one interval before it: the database calls the node dead a lease (3 s) after that
        // commit, so not before 2.8 s after the stop began. The node lets go at most
        // lease - margin (2 s) after that heartbeat was sent; up to 0.6 s more are allowed for
        // timers firing late on a busy machine.
        let let_go = lapsed - stopping;
        assert!(let_go <= policy.lease - interval - Duration::from_millis(200), "let go {let_go:?} after the stop");

        let starter = pg.clone();
        tokio::task::spawn_blocking(move || starter.lock().unwrap().start_again()).await.unwrap();
        changes_to(&mut holds, true, Duration::from_secs(10)).await;
    }
}
