//! The owner of a meeting killed (`SIGKILL`) at the worst moments, on three real nodes: 0 to 3 ms
//! (and a little more) after a REST kick-all was sent to it, directly or through another node,
//! and in the middle of a join storm. Whatever the kill cut short, the session ends exactly once with one `meeting.ended`,
//! every client learns of the end, no event reaches a client twice or out of order, and every
//! join that was answered resumes in the same session. And a Redis restart mid-session: the
//! nodes reconnect and resubscribe, the clients whose relays lost messages resume, nothing is
//! lost, and the bus carries commands again.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_core::proto::{ClientMessage, ResumeRefusal, ServerMessage};
use serde_json::json;

use crate::cluster_nodes::{
    join_on, meeting_with, owner_of, peer_ids, roster, until_everyone_sees, Cluster, InSession, NODES,
};
use crate::cluster_takeover::{node_of, ok_retried, RESUME_WITHIN};
use crate::crash::all_clients::{each, join_all, read_on};
use crate::crash::raw_client::Client;
use crate::crash::webhook_receiver::Receiver;
use crate::postgres_node::{assert_ended_once, assert_ended_once_resent_at_most_once, live_sessions, open_stays};

/// The session end `c` learned: an event, or a resume refused because the session had ended.
fn end_of(c: &Client) -> Option<String> {
    match &c.refused {
        Some(ResumeRefusal::SessionEnded { end }) => Some(end.session_id.clone()),
        _ => c.ended().map(|end| end.session_id),
    }
}

/// Every client reads what its connection still brings; one that has not heard of an end then
/// resumes on a live node (its own, or node 1 for node 0's), where it hears the end, is refused
/// because the session ended, or finds it live (and stays connected).
async fn after_the_kill(clients: Vec<Client>, urls: Arc<Vec<String>>) -> Vec<Client> {
    each(clients, move |_, mut c| {
        let urls = urls.clone();
        async move {
            c.drain(Duration::from_secs(1)).await;
            let deadline = Instant::now() + RESUME_WITHIN;
            while end_of(&c).is_none() {
                c.ws = None;
                match c.hello(&urls[node_of(&c).max(1)], true).await {
                    Some(ServerMessage::Welcome { resumed: true, .. }) => {
                        c.drain(Duration::from_secs(1)).await;
                        return c;
                    }
                    Some(ServerMessage::ResumeRefused { .. }) => {}
                    Some(other) => panic!("{}: resume answered {other:?}", c.name),
                    None => tokio::time::sleep(Duration::from_millis(100)).await,
                }
                assert!(Instant::now() < deadline, "{}: no resume within {RESUME_WITHIN:?}", c.name);
            }
            c
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_killed_0_to_3_ms_after_a_kick_all_leaves_one_end_that_every_client_learns() {
    // A delivery the killed node had claimed is sent again once its claim (three attempt
    // timeouts) runs out.
    let mut cluster = Cluster::start_with(&["--webhook-timeout-secs", "1"]).await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let (receiver, hook_url) = Receiver::start().await;
    let hook = json!({"name": "kick-all", "url": hook_url, "events": ["meeting.ended"]});
    cluster.nodes[1].ok("POST", "/webhooks", Some(hook)).await;
    // (the node the kick-all is sent to, the delay): 0 to 3 ms, through another node and to the
    // owner itself, and a little later so that some kills come after the owner ran it.
    for (via, delay_ms) in [(1, 0), (1, 3), (0, 0), (0, 3), (0, 15), (0, 40)] {
        let InSession { meeting_id, clients, session, .. } =
            cluster.in_session(json!({"title": "kick-all, then a kill"}), 6, &urls).await;

        // The kick-all goes to the owner (through node `via`), which is killed `delay_ms` after
        // the request set off (the `kill` command itself takes a moment more).
        let path = format!("/meetings/{meeting_id}/active-session/kick-all");
        let kill = async {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            cluster.nodes[0].signal("KILL");
        };
        let ((status, answer), ()) = tokio::join!(cluster.nodes[via].api("POST", &path, None), kill);
        if status == 200 {
            assert!(live_sessions(&cluster.db, &meeting_id).await.is_empty(), "answered 200, so ended: {answer}");
        }
        let mut clients = after_the_kill(clients, urls.clone()).await;
        let survived = !live_sessions(&cluster.db, &meeting_id).await.is_empty();
        println!(
            "kill {delay_ms} ms after the kick-all: answered {status}, the session {}",
            if survived { "lived on" } else { "had ended" }
        );
        if survived {
            // The kick-all died with the owner: it is sent again, to the node that took over.
            ok_retried(&cluster.nodes[2], "POST", &path, None).await;
            clients = after_the_kill(clients, urls.clone()).await;
        }
        for c in &clients {
            assert_eq!(end_of(c).as_ref(), Some(&session), "{} (kill {delay_ms} ms after): learned the end", c.name);
        }
        // A kill just after the owner sent the webhook, before it marked it delivered, resends it.
        assert_ended_once_resent_at_most_once(&cluster.db, &meeting_id, &session, &receiver).await;
        let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
        assert!(faults.is_empty(), "kill {delay_ms} ms after: {faults:?}");
        cluster.restart_node(0);
    }
}

/// Each client says hello on its node and asks to join, all at once, without insisting: a client
/// whose join is not answered (its node or the owner died) is left as it is. Each answered join
/// counts in `answered`.
async fn storm(clients: Vec<Client>, urls: Arc<Vec<String>>, answered: Arc<AtomicUsize>) -> Vec<Client> {
    each(clients, move |_, mut c| {
        let (urls, answered) = (urls.clone(), answered.clone());
        async move {
            if matches!(c.hello(&urls[node_of(&c)], false).await, Some(ServerMessage::Welcome { .. })) && c.join().await
            {
                answered.fetch_add(1, Ordering::SeqCst);
            }
            c
        }
    })
    .await
}

/// After the kill: a client whose join was answered resumes its stay on a live node (it must be
/// taken back); any other says hello afresh and joins there.
async fn recover(clients: Vec<Client>, urls: Arc<Vec<String>>) -> Vec<Client> {
    each(clients, move |_, mut c| {
        let urls = urls.clone();
        async move {
            let url = &urls[node_of(&c).max(1)];
            let deadline = Instant::now() + RESUME_WITHIN;
            c.ws = None;
            loop {
                if c.admitted {
                    match c.hello(url, true).await {
                        Some(ServerMessage::Welcome { resumed: true, .. }) => return c,
                        Some(ServerMessage::ResumeRefused { refusal }) => {
                            panic!("{}: an answered join refused {refusal:?}", c.name)
                        }
                        _ => {}
                    }
                } else if matches!(c.hello(url, false).await, Some(ServerMessage::Welcome { .. })) && c.join().await {
                    return c;
                }
                assert!(Instant::now() < deadline, "{}: not back within {RESUME_WITHIN:?}", c.name);
                c.ws = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_killed_mid_join_storm_keeps_every_answered_join_in_the_one_session() {
    const STORM: usize = 24;
    // Stays whose join was written but never answered are away on the node that takes over, and
    // go after this grace.
    let cluster = Cluster::start_with(&["--away-grace-secs", "3"]).await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let (meeting_id, mut clients, _) = meeting_with(&cluster, json!({"title": "join storm"}), STORM).await;
    let rest = clients.split_off(1);
    let host = join_on(clients, urls.clone()).await;
    assert_eq!(owner_of(&cluster.db, &meeting_id).await.as_deref(), Some("node-0"));
    let session = live_sessions(&cluster.db, &meeting_id).await[0].clone();

    // The storm; the owner dies once three of its joins have been answered.
    let answered = Arc::new(AtomicUsize::new(0));
    let kill = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while answered.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        cluster.nodes[0].signal("KILL");
    };
    let (stormed, ()) = tokio::join!(storm(rest, urls.clone(), answered.clone()), kill);
    let answered_before = stormed.iter().filter(|c| c.admitted).count();
    println!("join storm: {answered_before} of {} joins answered when the owner died", stormed.len());
    assert!(answered_before >= 3, "the kill came mid-storm");

    let everyone: Vec<Client> = host.into_iter().chain(stormed).collect();
    let answered_stays: BTreeSet<String> =
        everyone.iter().filter(|c| c.admitted).map(|c| c.peer_id.clone().unwrap()).collect();
    let everyone = recover(everyone, urls).await;
    for c in everyone.iter().filter(|c| c.peer_id.as_ref().is_some_and(|p| answered_stays.contains(p))) {
        assert_eq!(c.resumed, Some(true), "{}: an answered join resumed", c.name);
    }
    let ids = peer_ids(&everyone);
    let everyone = until_everyone_sees(everyone, &ids).await;
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await, vec![session], "the one session");
    let faults: Vec<&String> = everyone.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "no event repeated or out of order: {faults:?}");
}

/// `c` resumes its stay on its own node (the stay must be taken back), retrying for a while.
async fn resume_on_own_node(c: &mut Client, urls: &[String]) {
    let deadline = Instant::now() + RESUME_WITHIN;
    loop {
        match c.hello(&urls[node_of(c)], true).await {
            Some(ServerMessage::Welcome { resumed: true, .. }) => return,
            Some(other @ (ServerMessage::ResumeRefused { .. } | ServerMessage::Welcome { .. })) => {
                panic!("{}: resume answered {other:?}", c.name)
            }
            _ => {}
        }
        assert!(Instant::now() < deadline, "{}: no resume within {RESUME_WITHIN:?}", c.name);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every client reads until its roster is `peers` less itself, resuming on its own node whenever
/// its connection closes (a relay that lost messages closes its connections so that they resume).
async fn converge(clients: Vec<Client>, urls: Arc<Vec<String>>, peers: &BTreeSet<String>) -> Vec<Client> {
    let peers = Arc::new(peers.clone());
    each(clients, move |_, mut c| {
        let (urls, peers) = (urls.clone(), peers.clone());
        async move {
            let mut expected = (*peers).clone();
            expected.remove(c.peer_id.as_ref().unwrap());
            let deadline = Instant::now() + RESUME_WITHIN;
            while roster(&c) != expected {
                if c.ws.is_none() {
                    resume_on_own_node(&mut c, &urls).await;
                } else {
                    c.recv(Duration::from_millis(200)).await;
                }
                assert!(Instant::now() < deadline, "{}: sees {:?}, not {expected:?}", c.name, roster(&c));
            }
            c
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_mid_session_loses_nothing_and_the_bus_carries_commands_again() {
    let mut cluster = Cluster::start().await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let (receiver, hook_url) = Receiver::start().await;
    let hook = json!({"name": "redis", "url": hook_url, "events": ["meeting.ended"]});
    cluster.nodes[1].ok("POST", "/webhooks", Some(hook)).await;
    let InSession { meeting_id, clients, everyone, session } =
        cluster.in_session(json!({"title": "redis restart"}), 9, &urls).await;

    // Redis restarts empty: every subscription and the event logs are gone.
    cluster.redis.restart().await;
    let clients = each(clients, |_, mut c| async move {
        c.drain(Duration::from_secs(2)).await;
        c
    })
    .await;
    let closed = clients.iter().filter(|c| c.ws.is_none()).count();
    println!("redis restarted: {closed} of {} connections closed (to resume)", clients.len());
    let clients = converge(clients, urls.clone(), &everyone).await;

    // The bus carries a REST command to the owner again; the session goes on and ends once.
    let body = json!({"custom_participant_ids": ["p5"]});
    ok_retried(&cluster.nodes[2], "POST", &format!("/meetings/{meeting_id}/active-session/kick"), Some(body)).await;
    let (_, clients): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p5");
    let staying = peer_ids(&clients);
    let clients = converge(clients, urls.clone(), &staying).await;
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await, vec![session.clone()], "the same session");
    assert_eq!(owner_of(&cluster.db, &meeting_id).await.as_deref(), Some("node-0"), "the same owner");
    let listening = read_on(clients);
    ok_retried(&cluster.nodes[1], "POST", &format!("/meetings/{meeting_id}/active-session/kick-all"), None).await;
    let clients = join_all(listening).await;
    for c in &clients {
        assert_eq!(end_of(c).as_ref(), Some(&session), "{} heard the end", c.name);
    }
    assert_ended_once(&cluster.db, &meeting_id, &session, &receiver).await;
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "no event repeated or out of order: {faults:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_postgres_outage_answers_503_with_retry_after_and_live_sessions_keep_their_connections() {
    let mut cluster = Cluster::start().await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let InSession { meeting_id, clients, everyone, session } =
        cluster.in_session(json!({"title": "postgres outage"}), 6, &urls).await;

    // PostgreSQL goes away (shorter than a node lease): REST asks to try again, changing nothing.
    cluster.pg.stop();
    let outage = Instant::now();
    let kick = format!("/meetings/{meeting_id}/active-session/kick");
    let body = json!({"custom_participant_ids": ["p3"]});
    for (method, path, body) in [("GET", "/meetings", None), ("POST", kick.as_str(), Some(body.clone()))] {
        let (status, headers, answer) = cluster.nodes[1].api_with_headers(method, path, body).await;
        assert_eq!(status, 503, "{method} {path}: {answer}");
        let retry_after = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u32>().ok());
        assert!(retry_after.is_some_and(|s| s > 0), "{method} {path}: Retry-After {headers:?}");
        assert_eq!(answer["success"], json!(false), "the error envelope: {answer}");
    }
    let clients = each(clients, |_, mut c| async move {
        c.drain(Duration::from_millis(1500)).await;
        assert!(c.ws.is_some(), "{}: its connection stays open through the outage", c.name);
        c
    })
    .await;

    // p0 (on the owner's node) leaves while it is still away: its stay must be closed before the
    // leave is answered, so the room holds the answer while its writer tries again.
    let (mut leaver, clients): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p0");
    let mut leaver = leaver.remove(0);
    let p0 = leaver.peer_id.clone().unwrap();
    const LEAVE: u64 = 900;
    assert!(leaver.send(&ClientMessage::Leave { req: LEAVE }).await);

    // It comes back: the leave is answered, and its departure reaches everyone over connections
    // that stayed open.
    cluster.pg.start_again();
    eprintln!("PostgreSQL was away for {:?}", outage.elapsed());
    cluster.db = cluster.pg.connect().await;
    let answered = loop {
        match leaver.recv(Duration::from_secs(5)).await {
            Some(ServerMessage::Reply { req: LEAVE, .. }) => break true,
            Some(_) => continue,
            None => break false,
        }
    };
    assert!(answered, "the leave is answered once it is written");
    assert!(!open_stays(&cluster.db).await.contains_key(&p0), "p0's stay is closed");
    let clients = each(clients, |_, mut c| {
        let p0 = p0.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            while roster(&c).contains(&p0) {
                assert!(c.ws.is_some(), "{}: its connection stays open while the write waits", c.name);
                assert!(Instant::now() < deadline, "{}: sees p0 leave", c.name);
                c.recv(Duration::from_millis(200)).await;
            }
            c
        }
    })
    .await;

    // The refused kick, sent again, goes through; the session is the one it was.
    assert_eq!(open_stays(&cluster.db).await.len(), everyone.len() - 1, "the refused kick changed nothing");
    ok_retried(&cluster.nodes[2], "POST", &kick, Some(body)).await;
    let (_, clients): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p3");
    let staying = peer_ids(&clients);
    let clients = converge(clients, urls, &staying).await;
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await, vec![session], "the same session");
    let faults: Vec<&String> = clients.iter().chain([&leaver]).flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_longer_than_the_lease_stops_the_rooms_and_they_run_again_once_it_is_back() {
    let mut cluster = Cluster::start().await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let InSession { meeting_id, clients, everyone, session } =
        cluster.in_session(json!({"title": "long outage"}), 6, &urls).await;

    // Longer than the lease's margin: every node lets go of its rooms, and their clients are
    // told to come back later.
    cluster.pg.stop();
    let clients = each(clients, |_, mut c| async move {
        let deadline = Instant::now() + Duration::from_secs(15);
        while c.ws.is_some() {
            assert!(Instant::now() < deadline, "{}: its room let go of it", c.name);
            c.recv(Duration::from_millis(200)).await;
        }
        c
    })
    .await;

    // Back: the nodes hold their leases again, the clients resume into a room that runs again
    // (not one that stops at once over the lapse it was started after), and commands go through.
    cluster.pg.start_again();
    cluster.db = cluster.pg.connect().await;
    let clients = converge(clients, urls.clone(), &everyone).await;
    let body = json!({"custom_participant_ids": ["p4"]});
    ok_retried(&cluster.nodes[2], "POST", &format!("/meetings/{meeting_id}/active-session/kick"), Some(body)).await;
    let (_, clients): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p4");
    let staying = peer_ids(&clients);
    let clients = converge(clients, urls, &staying).await;
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await, vec![session], "the same session");
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_the_database_cannot_take_is_not_answered_and_nothing_answered_is_lost() {
    let mut cluster = Cluster::start().await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let InSession { meeting_id, clients, everyone, .. } =
        cluster.in_session(json!({"title": "a leave in an outage"}), 6, &urls).await;
    let (mut leaver, others): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p3");
    let mut leaver = leaver.remove(0);
    let p3 = leaver.peer_id.clone().unwrap();

    // p3 (on the owner's node) leaves while PostgreSQL is away for longer than the writer tries
    // again: its stay cannot be closed, so the leave is not answered (the room stops rather than
    // answer what it could not write).
    cluster.pg.stop();
    let answer = leaver.call(|req| ClientMessage::Leave { req }).await;
    assert!(!matches!(answer, Some(ServerMessage::Reply { .. })), "an unwritten leave was answered: {answer:?}");
    assert!(leaver.ws.is_none(), "the room stopped and closed the connection: {answer:?}");
    cluster.pg.start_again();
    cluster.db = cluster.pg.connect().await;
    assert!(
        open_stays(&cluster.db).await.contains_key(&p3),
        "p3 is still in the session, as nobody was told otherwise"
    );

    // Back: p3 resumes and leaves, answered this time; the others hold everyone but p3.
    resume_on_own_node(&mut leaver, &urls).await;
    let answer = leaver.call(|req| ClientMessage::Leave { req }).await;
    assert!(matches!(answer, Some(ServerMessage::Reply { .. })), "the leave, once it can be written: {answer:?}");
    let staying = &everyone - &BTreeSet::from([p3.clone()]);
    let others = converge(others, urls, &staying).await;
    assert!(!open_stays(&cluster.db).await.contains_key(&p3), "p3's stay is closed");
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await.len(), 1, "the session goes on");
    let faults: Vec<&String> = others.iter().chain([&leaver]).flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
}
