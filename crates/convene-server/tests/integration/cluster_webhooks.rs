//! The webhook outbox shared by three real nodes: deliveries to a receiver that is down are
//! retried, by whichever node claims them, until it is up, and each event then arrives once;
//! a node killed in the middle of a delivery leaves its claim to run out, and another node sends
//! the event again once, under the same `rtk-uuid`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster_nodes::{join_on, meeting_with, Cluster, NODES};
use crate::crash::raw_client::Client;
use crate::crash::webhook_receiver::Receiver;

/// The outbox's rows: uuid to (status, node holding the claim).
async fn outbox(db: &tokio_postgres::Client) -> BTreeMap<String, (String, Option<String>)> {
    let rows = db.query("SELECT uuid, status, claimed_by FROM outbox", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect()
}

/// Waits (up to `within`) until `done` holds of the outbox.
async fn until_outbox(
    db: &tokio_postgres::Client,
    within: Duration,
    what: &str,
    done: impl Fn(&BTreeMap<String, (String, Option<String>)>) -> bool,
) -> BTreeMap<String, (String, Option<String>)> {
    let deadline = Instant::now() + within;
    loop {
        let rows = outbox(db).await;
        if done(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "{what}: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A meeting whose host joins on node 0 (a `meeting.started`).
async fn a_session_starts(cluster: &Cluster, urls: &Arc<Vec<String>>) -> Vec<Client> {
    let (_, clients, _) = meeting_with(cluster, json!({"title": "webhooks"}), 1).await;
    join_on(clients, urls.clone()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_wait_out_a_receiver_that_is_down_and_survive_a_node_killed_mid_delivery() {
    // An attempt may take 2 s: a dead node's claim runs out 6 s after it was taken.
    let cluster = Cluster::start_with(&["--webhook-timeout-secs", "2"]).await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let (receiver, hook_url) = Receiver::start().await;
    cluster.nodes[2]
        .ok("POST", "/webhooks", Some(json!({"name": "all", "url": hook_url, "events": ["meeting.started"]})))
        .await;

    // Down: the event is tried and refused, and stays pending.
    receiver.down.store(true, Ordering::SeqCst);
    let _first = a_session_starts(&cluster, &urls).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.refused.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the down receiver was tried twice");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = outbox(&cluster.db).await;
    assert!(rows.values().all(|(status, _)| status == "pending"), "pending while it is down: {rows:?}");
    assert!(receiver.got().is_empty());

    // Up: it arrives, once.
    receiver.down.store(false, Ordering::SeqCst);
    let rows = until_outbox(&cluster.db, Duration::from_secs(30), "delivered once up", |rows| {
        rows.values().all(|(status, _)| status == "delivered")
    })
    .await;
    let uuid = rows.keys().next().unwrap().clone();
    let arrivals: Vec<String> = receiver.got().into_iter().map(|(u, _)| u).collect();
    assert_eq!(arrivals, vec![uuid], "one arrival of the one event");

    // Slow: a node takes the next event and is killed while the receiver holds the request.
    receiver.delay_ms.store(10_000, Ordering::SeqCst);
    let _second = a_session_starts(&cluster, &urls).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.in_flight.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the next event is being delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows = outbox(&cluster.db).await;
    let (uuid, claimant) = rows
        .iter()
        .find_map(|(u, (status, by))| (status == "pending").then(|| (u.clone(), by.clone().expect("claimed"))))
        .expect("the delivery in flight");
    let n: usize = claimant.strip_prefix("node-").unwrap().parse().unwrap();
    receiver.delay_ms.store(0, Ordering::SeqCst);
    cluster.nodes[n].signal("KILL");
    let killed_at = Instant::now();
    until_outbox(&cluster.db, Duration::from_secs(30), "delivered by another node", |rows| {
        rows.get(&uuid).is_some_and(|(status, _)| status == "delivered")
    })
    .await;
    println!("a delivery whose node died went out again {:?} later", killed_at.elapsed());
    let again = receiver.got().into_iter().filter(|(u, _)| *u == uuid).count();
    assert_eq!(again, 2, "the killed node's attempt, then one re-send under the same uuid");
}
