//! The shared outbox against a real PostgreSQL (started by the test, loopback only).

use std::collections::HashSet;
use std::time::Duration;

use super::*;
use crate::store::postgres::migrate;
use crate::store::postgres::test_postgres::TestPostgres;

const LEASE: Duration = Duration::from_secs(30);

async fn database() -> (TestPostgres, tokio_postgres::Client) {
    let pg = TestPostgres::start();
    let mut client = pg.connect().await;
    migrate(&mut client).await.unwrap();
    for n in 0..10 {
        let (id, url) = hook(n);
        client
            .execute(
                "INSERT INTO webhooks (id, app_id, name, url, events, enabled, created_at, updated_at)
                 VALUES ($1, 'app', 'hook', $2, '[]', true, '', '')",
                &[&id, &url],
            )
            .await
            .unwrap();
    }
    (pg, client)
}

fn hook(n: usize) -> (String, String) {
    (format!("w{n}"), format!("https://example.com/{n}"))
}

#[tokio::test]
async fn nodes_claiming_together_never_share_a_delivery_and_take_one_per_webhook_at_a_time() {
    let (pg, db) = database().await;
    // Five webhooks, four events each.
    let targets: Vec<_> = (0..5).map(hook).collect();
    for event in 0..4 {
        queue(&db, &targets, &format!("event {event}")).await.unwrap();
    }
    let mut claims = Vec::new();
    for node in ["a", "b", "c"] {
        let client = pg.connect().await;
        claims.push((node, tokio::spawn(async move { claim_due(&client, node, LEASE, 100).await.unwrap() })));
    }
    let mut claimed = Vec::new();
    for (node, claim) in claims {
        claimed.extend(claim.await.unwrap().into_iter().map(|c| (node, c)));
    }
    let webhooks: HashSet<_> = claimed.iter().map(|(_, c)| c.webhook_id.clone()).collect();
    assert_eq!(claimed.len(), 5, "one per webhook, across all nodes: {claimed:?}");
    assert_eq!(webhooks.len(), 5);
    assert!(claimed.iter().all(|(_, c)| c.body == "event 0"), "each webhook's oldest first");
    assert!(claim_due(&db, "a", LEASE, 100).await.unwrap().is_empty(), "every head is claimed");

    // Only the claiming node finishes a delivery; delivering w0's first event makes its second
    // the next.
    let (node, first) = claimed.iter().find(|(_, c)| c.webhook_id == "w0").unwrap();
    let other = if *node == "a" { "b" } else { "a" };
    assert!(!finish(&db, first.id, other, DeliveryStatus::Delivered, Duration::ZERO, None).await.unwrap());
    assert!(finish(&db, first.id, node, DeliveryStatus::Delivered, Duration::ZERO, None).await.unwrap());
    let next = claim_due(&db, "a", LEASE, 100).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].webhook_id.as_str(), next[0].body.as_str()), ("w0", "event 1"));
}

/// Moves the database's view of every row's claim and due time `by` into the past, as if that
/// much time had gone by (no test waits for a lease to run out).
async fn time_passes(db: &tokio_postgres::Client, by: Duration) {
    let ms = millis(by);
    db.execute(
        "UPDATE outbox SET claim_until = claim_until - $1::bigint * interval '1 millisecond',
                           next_attempt_at = next_attempt_at - $1::bigint * interval '1 millisecond'",
        &[&ms],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_node_that_dies_mid_delivery_leaves_it_to_be_sent_once_more_with_the_same_uuid() {
    let (_pg, db) = database().await;
    let uuids = queue(&db, &[hook(0)], "ended").await.unwrap();
    let taken = claim_due(&db, "a", LEASE, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    // a dies before it records the outcome. While its claim runs, nobody else sends.
    assert!(claim_due(&db, "b", LEASE, 10).await.unwrap().is_empty());
    time_passes(&db, LEASE + Duration::from_millis(1)).await;
    let again = claim_due(&db, "b", LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].uuid, uuids[0], "the re-send carries the same rtk-uuid");
    // a's outcome, arriving late, is refused; b's counts.
    assert!(!finish(&db, taken[0].id, "a", DeliveryStatus::Delivered, Duration::ZERO, None).await.unwrap());
    assert!(finish(&db, again[0].id, "b", DeliveryStatus::Delivered, Duration::ZERO, None).await.unwrap());
    let attempts: i32 = db.query_one("SELECT attempts FROM outbox", &[]).await.unwrap().get(0);
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn a_retry_waits_its_delay_and_keeps_its_place() {
    let (_pg, db) = database().await;
    queue(&db, &[hook(0)], "first").await.unwrap();
    queue(&db, &[hook(0)], "second").await.unwrap();
    let taken = claim_due(&db, "a", LEASE, 10).await.unwrap();
    let delay = Duration::from_secs(60);
    assert!(finish(&db, taken[0].id, "a", DeliveryStatus::Pending, delay, Some("503")).await.unwrap());
    assert!(claim_due(&db, "a", LEASE, 10).await.unwrap().is_empty(), "not before its delay, and not the second");
    time_passes(&db, delay).await;
    let retried = claim_due(&db, "a", LEASE, 10).await.unwrap();
    assert_eq!((retried[0].body.as_str(), retried[0].attempts), ("first", 1));
}

#[tokio::test]
async fn queuing_wakes_a_listening_delivery_task_at_commit() {
    let (pg, mut db) = database().await;
    let mut woken = listen(&pg.url()).await.unwrap();
    let tx = db.transaction().await.unwrap();
    queue(&tx, &[hook(0)], "event").await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), woken.recv()).await;
    assert!(early.is_err(), "nothing before the commit");
    tx.commit().await.unwrap();
    let woke = tokio::time::timeout(Duration::from_secs(5), woken.recv()).await;
    assert_eq!(woke.ok().flatten(), Some(()), "woken by the commit");
}
