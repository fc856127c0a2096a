//! The event log against a real Redis (started by the test, loopback only).

use std::time::Duration;

use super::*;
use crate::cluster::test_redis::TestRedis;
use crate::cluster::ClusterError;

async fn log(redis: &TestRedis, capacity: usize) -> EventLog {
    EventLog::new(redis.connect().await, capacity, Duration::from_secs(60))
}

fn events(range: std::ops::RangeInclusive<u64>) -> Replay {
    Replay::Events(range.map(|seq| (seq, format!("event {seq}").into_bytes())).collect())
}

#[tokio::test]
async fn a_resume_gets_exactly_what_it_missed_and_a_gap_once_the_log_no_longer_covers_it() {
    let redis = TestRedis::start().await;
    let mut log = log(&redis, 5).await;
    assert_eq!(log.since("s1", 0).await.unwrap(), Replay::Gap, "no log: a snapshot");
    for seq in 1..=4 {
        assert_eq!(log.append("s1", 1, seq, format!("event {seq}").as_bytes()).await.unwrap(), AppendOutcome::Appended);
    }
    assert_eq!(log.since("s1", 1).await.unwrap(), events(2..=4));
    assert_eq!(log.since("s1", 4).await.unwrap(), Replay::Events(vec![]), "missed nothing");
    assert_eq!(log.since("s1", 9).await.unwrap(), Replay::Gap, "claims more than was logged");
    for seq in 5..=8 {
        log.append("s1", 1, seq, format!("event {seq}").as_bytes()).await.unwrap();
    }
    // Five kept: 4 to 8.
    assert_eq!(log.since("s1", 3).await.unwrap(), events(4..=8));
    assert_eq!(log.since("s1", 2).await.unwrap(), Replay::Gap, "event 3 was trimmed");
    assert_eq!(log.since("s2", 0).await.unwrap(), Replay::Gap, "sessions have logs of their own");
}

#[tokio::test]
async fn an_old_owner_cannot_append_once_a_newer_one_has() {
    let redis = TestRedis::start().await;
    let mut old = log(&redis, 100).await;
    let mut new = log(&redis, 100).await;
    old.append("s1", 1, 1, b"event 1").await.unwrap();
    // The meeting was taken over (epoch 2); the new owner goes on from the log's top.
    assert_eq!(new.append("s1", 2, 2, b"event 2").await.unwrap(), AppendOutcome::Appended);
    assert_eq!(old.append("s1", 1, 3, b"stale").await.unwrap(), AppendOutcome::Fenced { epoch: 2 });
    assert_eq!(new.since("s1", 0).await.unwrap(), events(1..=2), "nothing of the old owner's after the takeover");
}

#[tokio::test]
async fn a_number_that_does_not_follow_the_last_is_refused_and_changes_nothing() {
    let redis = TestRedis::start().await;
    let mut log = log(&redis, 100).await;
    log.append("s1", 1, 7, b"event 7").await.unwrap();
    assert_eq!(log.append("s1", 1, 7, b"again").await.unwrap(), AppendOutcome::OutOfOrder { top: 7 });
    assert_eq!(log.append("s1", 1, 9, b"skips 8").await.unwrap(), AppendOutcome::OutOfOrder { top: 7 });
    assert_eq!(log.since("s1", 6).await.unwrap(), events(7..=7));
    assert_eq!(log.since("s1", 5).await.unwrap(), Replay::Gap, "the log starts at 7");
    log.append("s2", 1, MAX_SEQ - 1, b"far").await.unwrap();
    log.append("s2", 1, MAX_SEQ, b"last").await.unwrap();
    assert_eq!(log.since("s2", MAX_SEQ - 1).await.unwrap(), Replay::Events(vec![(MAX_SEQ, b"last".to_vec())]));
    assert!(matches!(log.append("s3", 1, MAX_SEQ + 1, b"beyond").await, Err(ClusterError::SequenceTooLarge(_))));
    assert_eq!(log.since("s3", 0).await.unwrap(), Replay::Gap, "nothing was written");
}
