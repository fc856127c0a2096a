//! The owner of a live meeting dies (`SIGKILL`) on a cluster of three real nodes: another node
//! claims the meeting once the dead node's lease runs out, restores the session from PostgreSQL
//! and its event log in Redis, and every client resumes there in the same session with an exact
//! replay of what it missed, under the same sequence numbers (no snapshot); the session then goes
//! on and ends once, with one `meeting.ended`. When none of the clients comes back, a live node
//! takes the orphaned session over all the same and ends it once its peers' grace and its
//! keep-alive have run out. An owner paused (`SIGSTOP`) past its lease is taken over the same
//! way, and once it wakes it emits nothing and writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_core::proto::{ClientMessage, ServerMessage, SessionEvent};
use serde_json::{json, Value};

use crate::cluster_nodes::{owner_of, read_until, until_everyone_sees, Cluster, InSession, NODES};
use crate::crash::all_clients::{each, join_all, read_on};
use crate::crash::raw_client::Client;
use crate::crash::server_process::Server;
use crate::crash::webhook_receiver::Receiver;
use crate::postgres_node::{assert_ended_once, live_sessions, open_stays};

/// How long every client may take to resume after the owner's death: the node lease (6 s), the
/// relays' probe (1 s) and the retries, with room to spare on a loaded machine.
pub(crate) const RESUME_WITHIN: Duration = Duration::from_secs(30);

/// The index in `urls` of the node client `c` was on (`i % 3` for `p{i}`).
pub(crate) fn node_of(c: &Client) -> usize {
    c.name[1..].parse::<usize>().unwrap() % NODES
}

/// Every client resumes its stay, on its own node or (for those of the dead node 0) on node 1,
/// retrying while the meeting has no live owner; a refusal fails the test.
pub(crate) async fn resume_everyone(clients: Vec<Client>, urls: Arc<Vec<String>>) -> Vec<Client> {
    each(clients, move |_, mut c| {
        let urls = urls.clone();
        async move {
            c.ws = None;
            let url = &urls[node_of(&c).max(1)];
            let deadline = Instant::now() + RESUME_WITHIN;
            loop {
                match c.hello(url, true).await {
                    Some(ServerMessage::Welcome { resumed: true, .. }) => return c,
                    Some(other @ (ServerMessage::ResumeRefused { .. } | ServerMessage::Welcome { .. })) => {
                        panic!("{}: resume answered {other:?}", c.name)
                    }
                    _ => {}
                }
                assert!(Instant::now() < deadline, "{}: no resume within {RESUME_WITHIN:?}", c.name);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
    .await
}

/// A REST call that must succeed, retried while the meeting is between owners (503, 504).
pub(crate) async fn ok_retried(node: &Server, method: &str, path: &str, body: Option<Value>) -> Value {
    let deadline = Instant::now() + RESUME_WITHIN;
    loop {
        let (status, v) = node.api(method, path, body.clone()).await;
        match status {
            200..=299 => return v["data"].clone(),
            503 | 504 if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => panic!("{method} {path}: {status} {v}"),
        }
    }
}

/// The kick of `peer_id` as `c` heard it.
pub(crate) fn kick_of<'a>(c: &'a Client, peer_id: &str) -> Option<&'a (u64, SessionEvent)> {
    c.events.iter().find(|(_, e)| matches!(e, SessionEvent::PeerKicked { peer_id: p, .. } if p == peer_id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owner_is_taken_over_and_every_client_resumes_with_an_exact_replay() {
    let mut cluster = Cluster::start().await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let (receiver, hook_url) = Receiver::start().await;
    let hook = json!({"name": "takeover", "url": hook_url, "events": ["meeting.started", "meeting.ended"]});
    cluster.nodes[1].ok("POST", "/webhooks", Some(hook)).await;
    let InSession { meeting_id, clients, everyone, session } =
        cluster.in_session(json!({"title": "three nodes"}), 9, &urls).await;

    // p3, p4 and p5 (one on each node) stop reading: they miss what comes next. A REST kick of p1
    // through node 2 reaches the owner and everyone else.
    let (laggards, clients): (Vec<Client>, Vec<Client>) =
        clients.into_iter().partition(|c| ["p3", "p4", "p5"].contains(&c.name.as_str()));
    let (kicked, clients): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p1");
    let p1 = kicked[0].peer_id.clone().unwrap();
    let body = json!({"custom_participant_ids": ["p1"]});
    cluster.nodes[2].ok("POST", &format!("/meetings/{meeting_id}/active-session/kick"), Some(body)).await;
    read_until(kicked, "p1 hears it was kicked", |c| {
        c.events.iter().any(|(_, e)| matches!(e, SessionEvent::Kicked { .. }))
    })
    .await;
    let staying = &everyone - &BTreeSet::from([p1.clone()]);
    let clients = until_everyone_sees(clients, &staying).await;
    let watcher = clients.iter().find(|c| c.name == "p7").unwrap();
    let first_kick = kick_of(watcher, &p1).cloned().expect("p7 heard the kick");

    // The owner dies; every client resumes on a node that lives.
    let mut everyone_left: Vec<Client> = clients.into_iter().chain(laggards).collect();
    let at_kill: BTreeMap<String, u64> = everyone_left.iter().map(|c| (c.name.clone(), c.last_seq)).collect();
    let killed_at = Instant::now();
    cluster.nodes.remove(0).kill();
    everyone_left = resume_everyone(everyone_left, urls.clone()).await;
    let resumed_in = killed_at.elapsed();
    println!("owner killed: all {} clients resumed in {resumed_in:?}", everyone_left.len());
    let clients = until_everyone_sees(everyone_left, &staying).await;

    // Exactly what each missed: the laggards get the kick under its number; nobody a snapshot.
    for c in &clients {
        let seq_at_kill = at_kill[&c.name];
        let after: Vec<&(u64, SessionEvent)> = c.events.iter().filter(|(seq, _)| *seq > seq_at_kill).collect();
        assert!(
            after.iter().all(|(_, e)| !matches!(e, SessionEvent::Joined { .. })),
            "{}: a snapshot: {after:?}",
            c.name
        );
        assert_eq!(kick_of(c, &p1), Some(&first_kick), "{}: the kick, under the number p7 heard", c.name);
    }
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await, vec![session.clone()], "the same one session");
    let owner = owner_of(&cluster.db, &meeting_id).await;
    assert!(matches!(owner.as_deref(), Some("node-1" | "node-2")), "taken over by a live node: {owner:?}");

    // The session goes on under the new owner, numbered on from the log; then it ends once.
    let body = json!({"custom_participant_ids": ["p2"]});
    ok_retried(&cluster.nodes[1], "POST", &format!("/meetings/{meeting_id}/active-session/kick"), Some(body)).await;
    let (gone, clients): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p2");
    let p2 = gone[0].peer_id.clone().unwrap();
    let staying = &staying - &BTreeSet::from([p2.clone()]);
    let clients = until_everyone_sees(clients, &staying).await;
    let watcher = clients.iter().find(|c| c.name == "p7").unwrap();
    let (second, _) = kick_of(watcher, &p2).expect("p7 heard the second kick");
    assert!(*second > first_kick.0 && *second < first_kick.0 + 100, "numbered on: {second} after {}", first_kick.0);
    let listening = read_on(clients);
    ok_retried(&cluster.nodes[0], "POST", &format!("/meetings/{meeting_id}/active-session/kick-all"), None).await;
    let clients = join_all(listening).await;
    for c in &clients {
        assert_eq!(c.ended().map(|e| e.session_id).as_ref(), Some(&session), "{} heard the end", c.name);
    }
    assert_ended_once(&cluster.db, &meeting_id, &session, &receiver).await;
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "no event repeated or out of order: {faults:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_owner_died_and_whose_clients_never_came_back_is_ended_by_another_node() {
    let cluster = Cluster::start_with(&["--away-grace-secs", "2"]).await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let (receiver, hook_url) = Receiver::start().await;
    let hook = json!({"name": "orphans", "url": hook_url, "events": ["meeting.ended"]});
    cluster.nodes[1].ok("POST", "/webhooks", Some(hook)).await;
    let body = json!({"title": "abandoned", "session_keep_alive_time_in_secs": 1});
    let InSession { meeting_id, clients, session, .. } = cluster.in_session(body, 9, &urls).await;

    // The owner dies and every client goes away for good.
    let mut cluster = cluster;
    let killed_at = Instant::now();
    cluster.nodes.remove(0).kill();
    drop(clients);
    let deadline = killed_at + Duration::from_secs(40);
    while !live_sessions(&cluster.db, &meeting_id).await.is_empty() {
        assert!(Instant::now() < deadline, "the abandoned session never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("owner killed, nobody back: the session ended {:?} later", killed_at.elapsed());
    let owner = owner_of(&cluster.db, &meeting_id).await;
    assert!(!matches!(owner.as_deref(), Some("node-0")), "the dead node no longer owns it: {owner:?}");
    assert_ended_once(&cluster.db, &meeting_id, &session, &receiver).await;
    let row = cluster.db.query_one("SELECT end_reason FROM sessions WHERE id = $1", &[&session]).await.unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("ALL_PARTICIPANTS_LEFT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_owner_is_taken_over_and_once_it_wakes_it_emits_nothing_and_writes_nothing() {
    let cluster = Cluster::start().await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let InSession { meeting_id, clients, everyone, session } =
        cluster.in_session(json!({"title": "three nodes"}), 9, &urls).await;

    // The owner is paused; its host p0 asks it to kick p8, a frame the paused node has yet to read.
    let (mut host, others): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p0");
    let mut p0 = host.remove(0);
    let p8 = others.iter().find(|c| c.name == "p8").unwrap().peer_id.clone().unwrap();
    cluster.nodes[0].signal("STOP");
    assert!(p0.send(&ClientMessage::Kick { req: 99, peer_id: p8.clone() }).await, "the kick is sent");

    // The others resume on the live nodes once its lease has run out.
    let paused_at = Instant::now();
    let others = resume_everyone(others, urls.clone()).await;
    println!("owner paused: the other {} clients resumed in {:?}", others.len(), paused_at.elapsed());
    let others = until_everyone_sees(others, &everyone).await;
    let owner = owner_of(&cluster.db, &meeting_id).await;
    assert!(matches!(owner.as_deref(), Some("node-1" | "node-2")), "taken over by a live node: {owner:?}");

    // It wakes: the kick is never carried out, and p0's connection is handed over unanswered.
    cluster.nodes[0].signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while p0.ws.is_some() {
        assert!(Instant::now() < deadline, "the woken node let go of p0's connection");
        if let Some(ServerMessage::Reply { req: 99, .. }) = p0.recv(Duration::from_millis(200)).await {
            panic!("the old owner answered the kick");
        }
    }
    // Whatever the old owner could still send would come within a quiet couple of seconds.
    let others = each(others, |_, mut c| async move {
        c.drain(Duration::from_secs(2)).await;
        c
    })
    .await;
    for c in &others {
        // What the woken node still sends goes to the relays under its old epoch, which the
        // relays of the new owner drop: their clients stay connected.
        assert!(c.ws.is_some(), "{}: its connection was dropped when the old owner woke", c.name);
    }
    for c in others.iter().chain([&p0]) {
        assert!(kick_of(c, &p8).is_none(), "{}: heard a kick from the old owner: {:?}", c.name, c.events);
        assert!(!c.events.iter().any(|(_, e)| matches!(e, SessionEvent::Kicked { .. })), "{} was kicked", c.name);
    }
    assert_eq!(open_stays(&cluster.db).await.len(), everyone.len(), "p8's stay is still open: nothing written");
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await, vec![session], "the same session, live");

    // p0 resumes on a live node, in the session as it was.
    let p0 = resume_everyone(vec![p0], urls).await;
    let all: Vec<Client> = p0.into_iter().chain(others).collect();
    let all = until_everyone_sees(all, &everyone).await;
    let faults: Vec<&String> = all.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "no event repeated or out of order: {faults:?}");
}
