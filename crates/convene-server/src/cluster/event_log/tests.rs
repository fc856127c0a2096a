//! The event log against a real Redis (started by the test, loopback only).

use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::*;
use crate::cluster::test_redis::TestRedis;
use crate::cluster::ClusterError;

async fn log(redis: &TestRedis, capacity: usize) -> EventLog<MultiplexedConnection> {
    EventLog::new(redis.connect().await, LogLimits { capacity, ttl: Duration::from_secs(60) })
}

fn events(range: std::ops::RangeInclusive<u64>) -> Vec<(u64, Vec<u8>)> {
    range.map(|seq| (seq, format!("event {seq}").into_bytes())).collect()
}

fn taken(top: u64, range: std::ops::RangeInclusive<u64>) -> TakenOver {
    TakenOver::Log { top, view: None, entries: events(range) }
}

#[tokio::test]
async fn a_takeover_reads_every_event_the_log_still_holds_in_order() {
    let redis = TestRedis::start().await;
    let mut log = log(&redis, 5).await;
    assert_eq!(log.take_over("s1", 1).await.unwrap(), TakenOver::NoLog);
    assert_eq!(log.append("s1", 1, false, &events(1..=3), None).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(log.append("s1", 1, false, &events(4..=4), None).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(log.take_over("s1", 2).await.unwrap(), taken(4, 1..=4));
    assert_eq!(log.append("s1", 2, false, &events(5..=8), None).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(log.take_over("s1", 3).await.unwrap(), taken(8, 4..=8), "five kept: 1 to 3 were trimmed");
    assert_eq!(log.take_over("s2", 3).await.unwrap(), TakenOver::NoLog, "sessions have logs of their own");
}

#[tokio::test]
async fn once_a_node_takes_the_log_over_the_old_owner_can_append_nothing() {
    let redis = TestRedis::start().await;
    let mut old = log(&redis, 100).await;
    let mut new = log(&redis, 100).await;
    old.append("s1", 1, false, &events(1..=1), None).await.unwrap();
    // The meeting was taken over (epoch 2) before its new owner wrote anything.
    assert_eq!(new.take_over("s1", 2).await.unwrap(), taken(1, 1..=1));
    assert_eq!(old.append("s1", 1, false, &events(2..=2), None).await.unwrap(), AppendOutcome::Fenced { epoch: 2 });
    assert_eq!(old.append("s1", 1, true, &events(2..=2), None).await.unwrap(), AppendOutcome::Fenced { epoch: 2 });
    assert_eq!(old.take_over("s1", 1).await.unwrap(), TakenOver::Fenced { epoch: 2 }, "an older taker too");
    assert_eq!(new.append("s1", 2, false, &events(2..=2), None).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(new.take_over("s1", 3).await.unwrap(), taken(2, 1..=2), "nothing of the old owner's after it");
}

#[tokio::test]
async fn a_number_that_does_not_follow_the_last_is_refused_and_changes_nothing() {
    let redis = TestRedis::start().await;
    let mut log = log(&redis, 100).await;
    log.append("s1", 1, false, &events(7..=7), None).await.unwrap();
    assert_eq!(log.append("s1", 1, false, &events(7..=7), None).await.unwrap(), AppendOutcome::OutOfOrder { top: 7 });
    assert_eq!(log.append("s1", 1, false, &events(9..=10), None).await.unwrap(), AppendOutcome::OutOfOrder { top: 7 });
    let holed = vec![(8, b"8".to_vec()), (10, b"10".to_vec())];
    assert_eq!(log.append("s1", 1, false, &holed, None).await.unwrap(), AppendOutcome::OutOfOrder { top: 8 });
    assert_eq!(log.take_over("s1", 1).await.unwrap(), taken(7, 7..=7), "none of the refused batches went in");
    log.append("s2", 1, false, &events(MAX_SEQ - 1..=MAX_SEQ), None).await.unwrap();
    assert_eq!(log.take_over("s2", 1).await.unwrap(), taken(MAX_SEQ, MAX_SEQ - 1..=MAX_SEQ));
    let beyond = log.append("s3", 1, false, &events(MAX_SEQ..=MAX_SEQ + 1), None).await;
    assert!(matches!(beyond, Err(ClusterError::SequenceTooLarge(_))));
    assert_eq!(log.take_over("s3", 1).await.unwrap(), TakenOver::NoLog, "nothing was written");
}

#[tokio::test]
async fn a_restart_drops_what_the_log_held_and_starts_it_at_the_next_event() {
    let redis = TestRedis::start().await;
    let mut log = log(&redis, 100).await;
    log.append("s1", 1, false, &events(1..=3), None).await.unwrap();
    // Events 4 and 5 could not be logged (Redis was away): the log starts again at 6.
    assert_eq!(log.append("s1", 1, true, &events(6..=7), None).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(log.take_over("s1", 1).await.unwrap(), taken(7, 6..=7));
}

#[tokio::test]
async fn a_takeover_reads_the_view_the_last_append_recorded() {
    let redis = TestRedis::start().await;
    let mut log = log(&redis, 100).await;
    log.append("s1", 1, false, &events(1..=1), Some(u64::MAX)).await.unwrap();
    let TakenOver::Log { view, .. } = log.take_over("s1", 1).await.unwrap() else { panic!("a log") };
    assert_eq!(view, Some(u64::MAX), "as many digits as a digest has");
    log.append("s1", 1, false, &events(2..=2), None).await.unwrap();
    let TakenOver::Log { view, .. } = log.take_over("s1", 1).await.unwrap() else { panic!("a log") };
    assert_eq!(view, None, "not known after the last append");
}
