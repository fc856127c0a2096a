//! The bus against a real Redis (started by the test, loopback only).

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::cluster::test_redis::TestRedis;

const WAIT: Duration = Duration::from_secs(2);

/// Node `b` owns `m1` and answers every request with what it was asked, plus who answered.
async fn echo_owner(b: &Bus) -> tokio::task::JoinHandle<()> {
    let mut requests = b.serve("m1").await.unwrap();
    let b = b.clone();
    tokio::spawn(async move {
        while let Some(inbound) = requests.recv().await {
            let RoomInbound::Request(request) = inbound else { continue };
            let body = json!({ "asked": request.body.clone(), "by": "b" });
            b.reply(request, body).await.unwrap();
        }
    })
}

#[tokio::test]
async fn a_request_at_any_node_reaches_the_owner_and_comes_back_with_its_answer() {
    let redis = TestRedis::start().await;
    let a = Bus::connect(&redis.url(), "a").await.unwrap();
    let b = Bus::connect(&redis.url(), "b").await.unwrap();
    let _owner = echo_owner(&b).await;
    let answers = futures_util::future::join_all((0..10).map(|i| a.request("m1", json!({ "kick": i }), WAIT))).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.unwrap(), json!({ "asked": { "kick": i }, "by": "b" }), "each reply to its own request");
    }
    // The owner asks itself too.
    assert_eq!(b.request("m1", json!("self"), WAIT).await.unwrap(), json!({ "asked": "self", "by": "b" }));
}

#[tokio::test]
async fn a_meeting_nobody_serves_is_reported_at_once_and_a_silent_owner_times_out() {
    let redis = TestRedis::start().await;
    let a = Bus::connect(&redis.url(), "a").await.unwrap();
    let b = Bus::connect(&redis.url(), "b").await.unwrap();
    let started = Instant::now();
    assert!(matches!(a.request("m1", json!({}), WAIT).await, Err(RequestError::NoOwner)));
    assert!(started.elapsed() < WAIT, "without waiting for the timeout");
    let silent = b.serve("m1").await.unwrap();
    let short = Duration::from_millis(200);
    assert!(matches!(a.request("m1", json!({}), short).await, Err(RequestError::Timeout)));
    b.stop_serving("m1").await.unwrap();
    assert!(a.request("m1", json!({}), short).await.is_err(), "still served while its receiver is open");
    assert_eq!(a.probe_room("m1").await.unwrap(), 1, "a receiver still open keeps the subscription");
    drop(silent);
    b.stop_serving("m1").await.unwrap();
    assert!(matches!(a.request("m1", json!({}), WAIT).await, Err(RequestError::NoOwner)));
}

#[tokio::test]
async fn after_a_redis_restart_both_nodes_subscribe_again_and_requests_flow() {
    let mut redis = TestRedis::start().await;
    let a = Bus::connect(&redis.url(), "a").await.unwrap();
    let b = Bus::connect(&redis.url(), "b").await.unwrap();
    let _owner = echo_owner(&b).await;
    assert!(a.request("m1", json!(1), WAIT).await.is_ok());
    let mut probe = redis.connect().await;
    let () = probe.set("before-restart", 1).await.unwrap();
    redis.restart().await;
    let mut probe = redis.connect().await;
    let kept: Option<i64> = probe.get("before-restart").await.unwrap();
    assert_eq!(kept, None, "an empty Redis, with no subscriptions, came back");
    // Requests fail while the nodes reconnect; within 10 s they flow again, owner's room channel
    // and requester's reply channel both subscribed again without anyone asking.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match a.request("m1", json!(2), Duration::from_millis(500)).await {
            Ok(answer) => {
                assert_eq!(answer, json!({ "asked": 2, "by": "b" }));
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "still failing 10 s after the restart: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn relayed_traffic_a_full_room_queue_loses_is_reported_with_the_node_it_came_from() {
    let redis = TestRedis::start().await;
    let (a, c) = (Bus::connect(&redis.url(), "a").await.unwrap(), Bus::connect(&redis.url(), "c").await.unwrap());
    let b = Bus::connect(&redis.url(), "b").await.unwrap();
    let mut inbound = b.serve("m1").await.unwrap();
    c.send_up("m1", json!({ "fits": true })).await.unwrap();
    let first = tokio::time::timeout(WAIT, inbound.recv()).await.unwrap();
    assert!(matches!(first, Some(RoomInbound::Up { ref from, .. }) if from == "c"), "{first:?}");
    assert!(b.take_lost_ups("m1").is_empty(), "nothing lost while the room keeps up");
    // The room reads nothing now: one message more than its queue holds, from node a.
    for i in 0..=ROOM_QUEUE {
        a.send_up("m1", json!({ "n": i })).await.unwrap();
    }
    let deadline = Instant::now() + WAIT;
    let lost = loop {
        let lost = b.take_lost_ups("m1");
        if !lost.is_empty() || Instant::now() > deadline {
            break lost;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(lost, ["a"], "the node whose traffic was lost");
    assert!(b.take_lost_ups("m1").is_empty(), "reported once");
    assert_eq!(inbound.len(), ROOM_QUEUE, "the queue holds what fitted");
}
