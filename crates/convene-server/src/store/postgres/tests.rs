//! The PostgreSQL store against a real PostgreSQL (started by the test, loopback only).

use super::test_postgres::TestPostgres;
use super::PgStore;
use crate::store::conformance::every_store_answers_alike;

#[tokio::test]
async fn the_postgres_store_answers_as_every_store_does() {
    let pg = TestPostgres::start();
    let store = PgStore::connect(&pg.url(), "node-a").await.unwrap();
    every_store_answers_alike(&store).await;
}

mod batches {
    use convene_room::StoreWrite;

    use super::*;
    use crate::cluster::ownership::{self, Claim, Fence};
    use crate::model::Meeting;
    use crate::store::conformance::info;
    use crate::store::{now_rfc3339, RoomWrite, Store, StoreError};

    fn started(session_id: &str, meeting_id: &str) -> RoomWrite {
        let started_at = now_rfc3339();
        let meeting_id = meeting_id.to_owned();
        RoomWrite::Session(StoreWrite::SessionStarted {
            session_id: session_id.into(),
            meeting_id,
            title: None,
            started_at,
        })
    }

    fn joined(session_id: &str, peer_id: &str) -> RoomWrite {
        let (session_id, peer_id) = (session_id.to_owned(), peer_id.to_owned());
        RoomWrite::Session(StoreWrite::PeerJoined { session_id, peer_id, participant: info("a"), at: now_rfc3339() })
    }

    /// A store, an app with a meeting, and node `a`'s ownership of the meeting.
    async fn owned_meeting(pg: &TestPostgres) -> (PgStore, String, String, Fence) {
        let store = PgStore::connect(&pg.url(), "a").await.unwrap();
        let app = store.create_app("acct", "batches").await.unwrap().id;
        let meeting = store.create_meeting(&app, Meeting::with_defaults(None)).await.unwrap().id;
        let mut db = pg.connect().await;
        ownership::heartbeat(&db, "a").await.unwrap();
        let Ok(Claim::Owned(fence)) =
            ownership::claim(&mut db, &meeting, "a", std::time::Duration::from_secs(10)).await
        else {
            panic!("a owns the meeting")
        };
        (store, app, meeting, fence)
    }

    async fn stays(pg: &TestPostgres) -> Vec<String> {
        let db = pg.connect().await;
        let rows = db.query("SELECT peer_id FROM session_peers ORDER BY peer_id", &[]).await.unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    #[tokio::test]
    async fn one_bad_write_of_a_batch_fails_alone_and_the_others_are_applied() {
        let pg = TestPostgres::start();
        let (store, app, meeting, fence) = owned_meeting(&pg).await;
        // A second live session of one meeting breaks a unique index: that write alone fails.
        let writes = vec![started("s1", &meeting), joined("s1", "p1"), started("s2", &meeting), joined("s1", "p2")];
        let applied = store.submit_room_writes(&app, Some(fence), writes).await;
        let failed: Vec<String> = applied.failed.iter().map(|(w, _)| format!("{w:?}")).collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].contains("s2"), "the second start failed: {failed:?}");
        assert_eq!(stays(&pg).await, ["p1", "p2"], "the writes around it are applied");
        let live = store.live_sessions(Some((&app, &meeting))).await.unwrap();
        assert_eq!(live.iter().map(|(s, _)| s.id.as_str()).collect::<Vec<_>>(), ["s1"]);
    }

    #[tokio::test]
    async fn a_batch_under_a_fence_that_no_longer_holds_writes_nothing() {
        let pg = TestPostgres::start();
        let (store, app, meeting, fence) = owned_meeting(&pg).await;
        let db = pg.connect().await;
        ownership::release(&db, &fence).await.unwrap();
        let writes = vec![started("s1", &meeting), joined("s1", "p1")];
        let applied = store.submit_room_writes(&app, Some(fence), writes).await;
        assert_eq!(applied.failed.len(), 2, "{:?}", applied.failed);
        assert!(applied.failed.iter().all(|(_, e)| matches!(e, StoreError::Fenced { .. })), "{:?}", applied.failed);
        assert!(stays(&pg).await.is_empty(), "nothing written");
        assert!(store.live_sessions(None).await.unwrap().is_empty());
    }

    /// A node paused (or cut off) in the middle of a room write holds the meeting's ownership
    /// row: the database ends that transaction after [`IDLE_IN_TRANSACTION_TIMEOUT`], so another
    /// node's claim goes through instead of waiting for the paused node to wake; and the paused
    /// transaction, once its node wakes, commits nothing.
    #[tokio::test]
    async fn a_transaction_left_open_by_a_paused_owner_does_not_block_the_takeover() {
        use super::super::IDLE_IN_TRANSACTION_TIMEOUT;
        use std::time::{Duration, Instant};

        let pg = TestPostgres::start();
        let (store, _app, meeting, fence) = owned_meeting(&pg).await;
        let mut paused = store.pool().get().await.unwrap();
        let tx = paused.transaction().await.unwrap();
        assert!(ownership::hold_fence(&tx, &fence).await.unwrap(), "a holds its fence, and the row");

        // a's heartbeat is past the lease: b claims the meeting, and gets it despite the lock.
        let mut db = pg.connect().await;
        ownership::heartbeat(&db, "b").await.unwrap();
        db.execute("UPDATE nodes SET heartbeat_at = now() - interval '1 hour' WHERE node_id = 'a'", &[]).await.unwrap();
        let started = Instant::now();
        let claimed = tokio::time::timeout(
            IDLE_IN_TRANSACTION_TIMEOUT + Duration::from_secs(10),
            ownership::claim(&mut db, &meeting, "b", Duration::from_secs(10)),
        )
        .await
        .expect("the claim does not wait for the paused node");
        let Ok(Claim::Owned(taken)) = claimed else { panic!("b owns the meeting: {claimed:?}") };
        assert!(taken.epoch > fence.epoch);
        assert!(started.elapsed() >= IDLE_IN_TRANSACTION_TIMEOUT / 2, "it waited for the lock at first");

        // a wakes: its transaction is gone.
        let woke = tx.execute("UPDATE sessions SET ended_at = 'x' WHERE false", &[]).await;
        assert!(woke.is_err(), "the paused transaction was ended by the database");
    }
}
