//! Ownership against a real PostgreSQL (started by the test, loopback only).

use std::time::Duration;

use super::*;
use crate::store::postgres::migrate;
use crate::store::postgres::test_postgres::TestPostgres;

const LEASE: Duration = Duration::from_secs(10);

async fn database() -> (TestPostgres, Client) {
    let pg = TestPostgres::start();
    let mut client = pg.connect().await;
    migrate(&mut client).await.unwrap();
    (pg, client)
}

/// Makes `node_id`'s last heartbeat `age` old by the database's clock.
async fn age_heartbeat(client: &Client, node_id: &str, age: Duration) {
    let ms = millis(age);
    client
        .execute(
            "UPDATE nodes SET heartbeat_at = now() - $2::bigint * interval '1 millisecond' WHERE node_id = $1",
            &[&node_id, &ms],
        )
        .await
        .unwrap();
}

fn owned(claim: Claim) -> Fence {
    match claim {
        Claim::Owned(fence) => fence,
        other => panic!("not owned: {other:?}"),
    }
}

async fn fence_holds(client: &mut Client, fence: &Fence) -> bool {
    let tx = client.transaction().await.unwrap();
    let holds = hold_fence(&tx, fence).await.unwrap();
    tx.commit().await.unwrap();
    holds
}

#[tokio::test]
async fn a_meeting_has_one_owner_a_dead_owner_loses_it_and_its_old_fence_never_holds_again() {
    let (_pg, mut db) = database().await;
    for node in ["a", "b"] {
        heartbeat(&db, node).await.unwrap();
    }
    let a = owned(claim(&mut db, "m1", "a", LEASE).await.unwrap());
    assert_eq!(a.epoch, 1);
    // A claim by the owner itself (its room there ended, a new one starts) is a new ownership:
    // the ending room can neither write nor release the meeting under the new room.
    let again = owned(claim(&mut db, "m1", "a", LEASE).await.unwrap());
    assert_eq!(again.epoch, 2, "a new epoch");
    assert!(!fence_holds(&mut db, &a).await && !release(&db, &a).await.unwrap(), "the ending room's fence is dead");
    let a = again;
    assert_eq!(claim(&mut db, "m1", "b", LEASE).await.unwrap(), Claim::OwnedBy { node_id: "a".into(), epoch: 2 });
    assert!(fence_holds(&mut db, &a).await);

    // a's heartbeat is older than the lease by the database's clock: b takes the meeting over.
    age_heartbeat(&db, "a", LEASE + Duration::from_millis(1)).await;
    let b = owned(claim(&mut db, "m1", "b", LEASE).await.unwrap());
    assert_eq!(b.epoch, 3);
    assert!(!fence_holds(&mut db, &a).await, "the old owner's writes are refused");
    assert!(fence_holds(&mut db, &b).await);
    // a comes back to life: it does not get the meeting back while b is alive.
    heartbeat(&db, "a").await.unwrap();
    assert_eq!(claim(&mut db, "m1", "a", LEASE).await.unwrap(), Claim::OwnedBy { node_id: "b".into(), epoch: 3 });
    assert!(!release(&db, &a).await.unwrap(), "a stale owner cannot release either");

    // b releases the meeting when its session ends; the next claim gets a new epoch, and b's
    // fence stays dead.
    assert!(release(&db, &b).await.unwrap());
    assert!(!fence_holds(&mut db, &b).await);
    let next = owned(claim(&mut db, "m1", "a", LEASE).await.unwrap());
    assert_eq!(next.epoch, 5, "the epoch only ever grows");
    assert!(!fence_holds(&mut db, &a).await && !fence_holds(&mut db, &b).await);
}

#[tokio::test]
async fn simultaneous_first_claims_from_three_nodes_give_one_owner() {
    let (pg, db) = database().await;
    for node in ["a", "b", "c"] {
        heartbeat(&db, node).await.unwrap();
    }
    let mut claims = Vec::new();
    for node in ["a", "b", "c"] {
        let mut client = pg.connect().await;
        claims.push(tokio::spawn(async move { claim(&mut client, "m1", node, LEASE).await.unwrap() }));
    }
    let mut owners = Vec::new();
    let mut told = Vec::new();
    for (node, claim) in ["a", "b", "c"].into_iter().zip(claims) {
        match claim.await.unwrap() {
            Claim::Owned(fence) => owners.push((node, fence.epoch)),
            Claim::OwnedBy { node_id, epoch } => told.push((node_id, epoch)),
        }
    }
    assert_eq!(owners.len(), 1, "{owners:?}");
    let (owner, epoch) = owners[0];
    assert_eq!(epoch, 1);
    assert_eq!(told, vec![(owner.to_owned(), 1), (owner.to_owned(), 1)]);
}

#[tokio::test]
async fn a_write_that_held_the_fence_commits_before_a_takeover_changes_the_owner() {
    let (pg, mut db) = database().await;
    for node in ["a", "b"] {
        heartbeat(&db, node).await.unwrap();
    }
    let a = owned(claim(&mut db, "m1", "a", LEASE).await.unwrap());
    age_heartbeat(&db, "a", LEASE * 2).await;
    // a's write transaction holds the fence; b's takeover must wait for it to end.
    let mut writer = pg.connect().await;
    let tx = writer.transaction().await.unwrap();
    assert!(hold_fence(&tx, &a).await.unwrap());
    let mut other = pg.connect().await;
    let takeover = tokio::spawn(async move { claim(&mut other, "m1", "b", LEASE).await.unwrap() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!takeover.is_finished(), "the takeover waits for the fenced write");
    tx.commit().await.unwrap();
    assert_eq!(owned(takeover.await.unwrap()).epoch, 2);
    assert!(!fence_holds(&mut db, &a).await);
}

#[tokio::test]
async fn migrations_run_once_even_when_nodes_start_together() {
    let pg = TestPostgres::start();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let mut client = pg.connect().await;
        runs.push(tokio::spawn(async move { migrate(&mut client).await }));
    }
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let db = pg.connect().await;
    let applied: i64 = db.query_one("SELECT count(*) FROM refinery_schema_history", &[]).await.unwrap().get(0);
    let known = crate::store::postgres::embedded::migrations::runner().get_migrations().len();
    assert_eq!(applied as usize, known, "each migration once");
}
