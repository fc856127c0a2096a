//! Three real `convene-server` nodes (`--postgres URL --redis URL --node-id NAME`) on one
//! throwaway PostgreSQL and one throwaway Redis: participants spread over the three nodes are in
//! one session and see each other; a preset change, a participant's kick, a REST kick and a
//! REST kick-all, each sent through a node that does not own the meeting, reach everyone; the
//! session ends once, with one `meeting.ended`, delivered once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_core::proto::{ClientMessage, ServerMessage, SessionEvent};
use convene_core::state::Actor;
use serde_json::json;

use crate::crash::all_clients::{each, join_all, read_on};
use crate::crash::raw_client::Client;
use crate::crash::server_process::Server;
use crate::crash::webhook_receiver::Receiver;
use crate::postgres_node::{assert_ended_once, live_sessions, open_stays};
use crate::test_postgres::TestPostgres;
use crate::test_redis::TestRedis;

pub(crate) const NODES: usize = 3;
const PARTICIPANTS: usize = 9;

/// Three nodes on one PostgreSQL and one Redis of their own, each node with its own (empty) data
/// directory; `db` is a connection to the PostgreSQL, for the tests' checks.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Server>,
    dirs: Vec<std::path::PathBuf>,
    /// Each node's flags.
    flags: Vec<Vec<String>>,
    pub(crate) db: tokio_postgres::Client,
    pub(crate) redis: TestRedis,
    pub(crate) pg: TestPostgres,
}

impl Cluster {
    /// Starts PostgreSQL and Redis, then the three nodes together (so that every cluster test
    /// starts its nodes at once on an empty database, as a deployment may).
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`Cluster::start`], each node run with `extra` flags too.
    pub(crate) async fn start_with(extra: &[&str]) -> Self {
        let pg = TestPostgres::start();
        let redis = TestRedis::start().await;
        let db = pg.connect().await;
        let (pg_url, redis_url) = (pg.url(), redis.url());
        let (mut dirs, mut all_flags) = (Vec::new(), Vec::<Vec<String>>::new());
        for n in 0..NODES {
            dirs.push(std::env::temp_dir().join(format!("convene-cluster-{n}-{}", uuid::Uuid::new_v4())));
            let node_id = format!("node-{n}");
            let mut flags = vec!["--postgres", pg_url.as_str(), "--redis", redis_url.as_str(), "--node-id", &node_id];
            flags.extend_from_slice(extra);
            all_flags.push(flags.iter().map(|f| f.to_string()).collect());
        }
        let nodes = std::thread::scope(|scope| {
            let starting: Vec<_> = (0..NODES)
                .map(|n| {
                    let (dir, flags) = (&dirs[n], &all_flags[n]);
                    scope.spawn(move || {
                        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                        Server::start_with(dir, "127.0.0.1:0", &flags)
                    })
                })
                .collect();
            starting.into_iter().map(|s| s.join().expect("a node's start")).collect()
        });
        Self { nodes, dirs, flags: all_flags, db, redis, pg }
    }

    /// Starts node `n` again (after a kill), on the address it had.
    pub(crate) fn restart_node(&mut self, n: usize) {
        let listen = self.nodes[n].addr.to_string();
        let flags: Vec<&str> = self.flags[n].iter().map(String::as_str).collect();
        self.nodes[n] = Server::start_with(&self.dirs[n], &listen, &flags);
    }

    /// The signalling URL of node `n`.
    pub(crate) fn ws_url(&self, n: usize) -> String {
        self.nodes[n % NODES].ws_url()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The peers a client knows are in the room: its last snapshot, then joins and departures.
pub(crate) fn roster(c: &Client) -> BTreeSet<String> {
    let mut peers = BTreeSet::new();
    for (_, event) in &c.events {
        match event {
            SessionEvent::Joined { room } => peers = room.peers.iter().map(|p| p.id.clone()).collect(),
            SessionEvent::PeerJoined { peer } => {
                peers.insert(peer.id.clone());
            }
            SessionEvent::PeerLeft { peer_id } | SessionEvent::PeerKicked { peer_id, .. } => {
                peers.remove(peer_id);
            }
            _ => {}
        }
    }
    peers
}

/// Every client reads until `done` holds for it (each within 20 s, or the test fails).
pub(crate) async fn read_until(clients: Vec<Client>, what: &'static str, done: fn(&Client) -> bool) -> Vec<Client> {
    each(clients, move |_, mut c| async move {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&c) {
            assert!(Instant::now() < deadline && c.ws.is_some(), "{}: {what}; it has {:?}", c.name, c.events);
            c.recv(Duration::from_millis(200)).await;
        }
        c
    })
    .await
}

/// Every client with `peers` as its roster reads until its roster is `peers` less itself.
pub(crate) async fn until_everyone_sees(clients: Vec<Client>, peers: &BTreeSet<String>) -> Vec<Client> {
    let peers = Arc::new(peers.clone());
    each(clients, move |_, mut c| {
        let peers = peers.clone();
        async move {
            let mut expected = (*peers).clone();
            expected.remove(c.peer_id.as_ref().unwrap());
            let deadline = Instant::now() + Duration::from_secs(20);
            while roster(&c) != expected {
                assert!(Instant::now() < deadline, "{}: sees {:?}, not {expected:?}", c.name, roster(&c));
                c.recv(Duration::from_millis(200)).await;
            }
            c
        }
    })
    .await
}

/// The peer ids of `clients`.
pub(crate) fn peer_ids<'a>(clients: impl IntoIterator<Item = &'a Client>) -> BTreeSet<String> {
    clients.into_iter().map(|c| c.peer_id.clone().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_on_three_nodes_share_one_session_and_every_command_reaches_everyone() {
    let cluster = Cluster::start().await;
    let db = &cluster.db;
    let [a, b, c] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    let keys: BTreeSet<String> = {
        let mut keys = BTreeSet::new();
        for node in &cluster.nodes {
            let key = reqwest::get(format!("http://{}/.well-known/webhooks.json", node.addr)).await.unwrap();
            keys.insert(key.text().await.unwrap());
        }
        keys
    };
    assert_eq!(keys.len(), 1, "one webhook signing key on every node");

    // Made through different nodes: the webhook, the meeting, the participants.
    let (receiver, hook_url) = Receiver::start().await;
    let events = ["meeting.started", "meeting.ended"];
    a.ok("POST", "/webhooks", Some(json!({"name": "cluster", "url": hook_url, "events": events}))).await;
    let (meeting_id, clients, participant_ids) = meeting_on(&cluster).await;

    // The host joins on node 0 (which claims the meeting), then everyone else at once, client i on
    // node i % 3.
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let clients = join_host_first(clients, urls).await;
    let everyone = peer_ids(&clients);
    let clients = until_everyone_sees(clients, &everyone).await;
    let sessions = live_sessions(db, &meeting_id).await;
    assert_eq!(sessions.len(), 1, "one live session");
    let session = sessions[0].clone();
    assert_eq!(open_stays(db).await.len(), PARTICIPANTS, "every stay is in PostgreSQL");
    assert_eq!(owner_of(db, &meeting_id).await.as_deref(), Some("node-0"), "the host's node owns it");
    for c in &clients {
        let joined = c.events.iter().find_map(|(_, e)| match e {
            SessionEvent::Joined { room } => Some(room.session.id.clone()),
            _ => None,
        });
        assert_eq!(joined.as_ref(), Some(&session), "{}: in the one session", c.name);
    }

    // A preset change through node 2 makes p1 (on node 1) a host; p1 then kicks p4 (also on
    // node 1), through its node's relay.
    let body = json!({"preset_name": "group_call_host"});
    c.ok("PATCH", &format!("/meetings/{meeting_id}/participants/{}", participant_ids[1]), Some(body)).await;
    let mut clients = read_until(clients, "p1 hears its new permissions", |c| {
        c.name != "p1"
            || c.events.iter().any(|(_, e)| {
                matches!(e, SessionEvent::PermissionsUpdated { patch, by: Actor::Api } if patch.kick_participant == Some(true))
            })
    })
    .await;
    let p4 = clients[4].peer_id.clone().unwrap();
    let kick = clients[1].call(|req| ClientMessage::Kick { req, peer_id: p4 }).await;
    assert!(matches!(kick, Some(ServerMessage::Reply { .. })), "p1 may kick now: {kick:?}");
    let kicked = clients.remove(4);
    let kicked = read_until(vec![kicked], "p4 hears it was kicked", |c| {
        c.events.iter().any(|(_, e)| matches!(e, SessionEvent::Kicked { .. }))
    })
    .await;
    let clients = until_everyone_sees(clients, &(&everyone - &peer_ids(&kicked))).await;

    // A REST kick of p5 (on node 2) through node 1.
    let body = json!({"custom_participant_ids": ["p5"]});
    b.ok("POST", &format!("/meetings/{meeting_id}/active-session/kick"), Some(body)).await;
    let (gone, clients): (Vec<Client>, Vec<Client>) = clients.into_iter().partition(|c| c.name == "p5");
    read_until(gone, "p5 hears it was kicked", |c| {
        c.events.iter().any(|(_, e)| matches!(e, SessionEvent::Kicked { by: Actor::Api }))
    })
    .await;
    let staying = peer_ids(&clients);
    let clients = until_everyone_sees(clients, &staying).await;

    // A REST kick-all through node 2 ends the session for everyone left, once.
    let listening = read_on(clients);
    let answer = c.ok("POST", &format!("/meetings/{meeting_id}/active-session/kick-all"), None).await;
    assert_eq!(answer["kicked_participants_count"], json!(staying.len()), "{answer}");
    let clients = join_all(listening).await;
    for c in &clients {
        let end = c.ended().unwrap_or_else(|| panic!("{} heard no end", c.name));
        assert_eq!(end.session_id, session);
        let ends = c.events.iter().filter(|(_, e)| matches!(e, SessionEvent::SessionEnded { .. })).count();
        assert_eq!(ends, 1, "{}: one end", c.name);
    }
    assert_ended_once(db, &meeting_id, &session, &receiver).await;
    let faults: Vec<&String> = clients.iter().chain(&kicked).flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
}

/// A meeting made through node 1 and its participants made through every node in turn (p0 a host,
/// the others not): the meeting's id, its clients (not connected) and their participant ids.
pub(crate) async fn meeting_on(cluster: &Cluster) -> (String, Vec<Client>, Vec<String>) {
    meeting_with(cluster, json!({"title": "three nodes"}), PARTICIPANTS).await
}

/// As [`meeting_on`], the meeting made with `body`, with `count` participants.
pub(crate) async fn meeting_with(
    cluster: &Cluster,
    body: serde_json::Value,
    count: usize,
) -> (String, Vec<Client>, Vec<String>) {
    let meeting = cluster.nodes[1].ok("POST", "/meetings", Some(body)).await;
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let mut clients = Vec::new();
    let mut participant_ids = Vec::new();
    for i in 0..count {
        let preset = if i == 0 { "group_call_host" } else { "group_call_participant" };
        let name = format!("p{i}");
        let body = json!({"custom_participant_id": name, "preset_name": preset, "name": name});
        let p = cluster.nodes[i % NODES].ok("POST", &format!("/meetings/{meeting_id}/participants"), Some(body)).await;
        participant_ids.push(p["id"].as_str().unwrap().to_owned());
        clients.push(Client { name, token: p["token"].as_str().unwrap().to_owned(), ..Client::default() });
    }
    (meeting_id, clients, participant_ids)
}

/// A meeting in session on the cluster ([`Cluster::in_session`]).
pub(crate) struct InSession {
    pub(crate) meeting_id: String,
    /// Its participants, every one joined and seeing all the others.
    pub(crate) clients: Vec<Client>,
    /// Their peer ids.
    pub(crate) everyone: BTreeSet<String>,
    /// The live session.
    pub(crate) session: String,
}

impl Cluster {
    /// A meeting made with `body` and `count` participants, client `i` on `urls[i % 3]`: the host
    /// joins first (node 0 then owns the meeting), then everyone else at once, until everyone sees
    /// everyone.
    pub(crate) async fn in_session(&self, body: serde_json::Value, count: usize, urls: &Arc<Vec<String>>) -> InSession {
        let (meeting_id, clients, _) = meeting_with(self, body, count).await;
        let clients = join_host_first(clients, urls.clone()).await;
        let everyone = peer_ids(&clients);
        let clients = until_everyone_sees(clients, &everyone).await;
        assert_eq!(owner_of(&self.db, &meeting_id).await.as_deref(), Some("node-0"), "the host's node owns it");
        let sessions = live_sessions(&self.db, &meeting_id).await;
        assert_eq!(sessions.len(), 1, "one live session");
        InSession { meeting_id, clients, everyone, session: sessions[0].clone() }
    }
}

/// The host (the first client) joins first, so that its node claims the meeting, then the others
/// at once, as [`join_on`].
pub(crate) async fn join_host_first(mut clients: Vec<Client>, urls: Arc<Vec<String>>) -> Vec<Client> {
    let rest = clients.split_off(1);
    let mut clients = join_on(clients, urls.clone()).await;
    clients.extend(join_on(rest, urls).await);
    clients
}

/// Client i says hello on node i % 3 and joins; all at once.
pub(crate) async fn join_on(clients: Vec<Client>, urls: Arc<Vec<String>>) -> Vec<Client> {
    each(clients, move |_, mut c| {
        let urls = urls.clone();
        async move {
            let i: usize = c.name[1..].parse().unwrap();
            let welcomed = matches!(c.hello(&urls[i % NODES], false).await, Some(ServerMessage::Welcome { .. }));
            assert!(welcomed && c.join().await, "{}: joins on node {}: {:?}", c.name, i % NODES, c.faults);
            c
        }
    })
    .await
}

/// The node that owns `meeting_id` now, if any.
pub(crate) async fn owner_of(db: &tokio_postgres::Client, meeting_id: &str) -> Option<String> {
    let row = db.query_opt("SELECT node_id FROM meeting_owners WHERE meeting_id = $1", &[&meeting_id]).await.unwrap();
    row.and_then(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_started_together_on_an_empty_database_serve_one_default_app() {
    let cluster = Cluster::start().await;
    let kits: BTreeSet<&str> = cluster.nodes.iter().map(|n| n.kit.as_str()).collect();
    assert_eq!(kits.len(), 1, "every node serves the same default app: {kits:?}");
    let apps: Vec<String> =
        cluster.db.query("SELECT id FROM apps", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(apps.len(), 1, "one app made: {apps:?}");
    let kit = kits.into_iter().next().unwrap_or_default();
    assert!(kit.ends_with(&format!("/realtime/kit/{}", apps[0])), "{kit} is app {}", apps[0]);
    let default: String =
        cluster.db.query_one("SELECT value FROM kv WHERE key = 'default_app'", &[]).await.unwrap().get(0);
    assert_eq!(default, apps[0]);
    let admin_tokens: i64 =
        cluster.db.query_one("SELECT count(*) FROM api_tokens WHERE scope = 'admin'", &[]).await.unwrap().get(0);
    assert_eq!(admin_tokens, 1, "the one --admin-token, stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_first_joins_on_three_nodes_make_one_owner_and_one_session() {
    let cluster = Cluster::start().await;
    let db = &cluster.db;
    let (meeting_id, clients, _) = meeting_on(&cluster).await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let clients = join_on(clients, urls).await;
    let everyone = peer_ids(&clients);
    let clients = until_everyone_sees(clients, &everyone).await;
    assert_eq!(live_sessions(db, &meeting_id).await.len(), 1, "one live session");
    let owner = owner_of(db, &meeting_id).await.expect("an owner");
    let owners: i64 = db.query_one("SELECT count(*) FROM meeting_owners", &[]).await.unwrap().get(0);
    assert_eq!(owners, 1, "one ownership row, {owner}'s");
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_of_a_killed_relaying_node_resume_on_another_with_an_exact_replay() {
    let mut cluster = Cluster::start().await;
    let (meeting_id, clients, _) = meeting_on(&cluster).await;
    let urls: Arc<Vec<String>> = Arc::new((0..NODES).map(|n| cluster.ws_url(n)).collect());
    let clients = join_host_first(clients, urls.clone()).await;
    let everyone = peer_ids(&clients);
    let clients = until_everyone_sees(clients, &everyone).await;
    assert_eq!(owner_of(&cluster.db, &meeting_id).await.as_deref(), Some("node-0"));

    // Node 2 only relays; it dies. While its clients are away, p1 (on node 1) is kicked.
    let (orphans, mut clients): (Vec<Client>, Vec<Client>) =
        clients.into_iter().partition(|c| c.name[1..].parse::<usize>().unwrap() % NODES == 2);
    let listening = read_on(orphans);
    cluster.nodes.remove(2).kill();
    let mut orphans = join_all(listening).await;
    let before: Vec<u64> = orphans.iter().map(|c| c.last_seq).collect();
    let p1 = clients.iter().position(|c| c.name == "p1").unwrap();
    let kicked = clients.remove(p1);
    let body = json!({"custom_participant_ids": ["p1"]});
    cluster.nodes[0].ok("POST", &format!("/meetings/{meeting_id}/active-session/kick"), Some(body)).await;
    let staying = &everyone - &peer_ids([&kicked]);
    let clients = until_everyone_sees(clients, &staying).await;

    // They resume on node 1: the same stay, and exactly what they missed (no snapshot).
    for c in &mut orphans {
        let answer = c.hello(&urls[1], true).await;
        assert!(matches!(answer, Some(ServerMessage::Welcome { resumed: true, .. })), "{}: {answer:?}", c.name);
    }
    let orphans = until_everyone_sees(orphans, &staying).await;
    // Sequence numbers are the room's, so a peer's own run has gaps: what it missed is checked
    // against a participant who stayed connected, event for event, for what was sent to everyone.
    let orphan_ids = peer_ids(&orphans);
    let watcher = clients.iter().find(|c| c.name == "p7").unwrap();
    for (c, before) in orphans.iter().zip(before) {
        let missed: Vec<&(u64, SessionEvent)> = c.events.iter().filter(|(seq, _)| *seq > before).collect();
        assert!(
            missed.iter().all(|(_, e)| !matches!(e, SessionEvent::Joined { .. })),
            "{}: a replay, not a snapshot",
            c.name
        );
        let for_everyone: Vec<&(u64, SessionEvent)> =
            watcher.events.iter().filter(|(seq, e)| *seq > before && about_someone_else(e, &orphan_ids)).collect();
        assert!(!for_everyone.is_empty(), "p7 heard the kick");
        for event in for_everyone {
            assert!(missed.contains(&event), "{}: missed {event:?}; got {missed:?}", c.name);
        }
    }
    assert_eq!(live_sessions(&cluster.db, &meeting_id).await.len(), 1, "the same one session");
    let faults: Vec<&String> = clients.iter().chain(&orphans).flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
}

/// A roster event about a peer not in `orphans` (one every joined peer hears, with one `seq`).
fn about_someone_else(event: &SessionEvent, orphans: &BTreeSet<String>) -> bool {
    match event {
        SessionEvent::PeerJoined { peer } => !orphans.contains(&peer.id),
        SessionEvent::PeerLeft { peer_id } | SessionEvent::PeerKicked { peer_id, .. } => !orphans.contains(peer_id),
        _ => false,
    }
}
