//! Crash and restart of the real `convene-server` process: `kill -9` at several moments of a
//! session, each followed by a restart on the same data directory and port.
//!
//! 1. During a join storm: every participant whose join was answered is in the store and resumes
//!    the same session (a fresh snapshot, `seq` above anything sent before); one that was welcomed
//!    but not admitted is refused (`expired`) and joins again.
//! 2. With a recording running and the webhook receiver down (the outbox holds every event): the
//!    recording is `ERRORED` after the restart (its file kept), a new one can start, and the whole
//!    outbox is delivered once a receiver is up.
//! 3. While webhooks are being delivered (a slow receiver, a request in flight): after the restart
//!    every row is delivered, at least once, retries under the same `rtk-uuid` with the same body.
//! 4. Around a REST kick-all, five times with different delays, one participant away each time:
//!    the session is either still `LIVE` (clients resume, a second kick-all ends it) or `ENDED`
//!    with every stay closed and `meeting.ended` queued, and then every client that had not heard
//!    it (the away one at least) learns that the session ended when it resumes (`resume_refused`
//!    `session_ended`, from the store: the room that ended it is gone).
//! 5. Once more with everything quiet.
//!
//! After every kill, before the restart, the SQLite file is opened as the next start will find it:
//! `PRAGMA integrity_check` is `ok` and the rows hang together (no stay of a missing session or
//! participant, at most one live session per meeting, ended sessions have every stay closed, ...).
//!
//! The clients are raw protocol clients written here: unlike `support::RawClient` they treat a
//! refused connection or a dead socket as an outcome, not a panic.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use convene_core::proto::{
    decode_server, encode_client, ClientMessage, Resume, ResumeRefusal, ServerMessage, SessionEvent, PROTOCOL_VERSION,
};
use convene_core::{Actor, EndReason};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_convene-server");
const ADMIN: &str = "cvn_crash_admin_token";
const PARTICIPANTS: usize = 24;

// ---------------------------------------------------------------------------------------------
// The server process.

/// A running `convene-server` process. Dropping it kills it.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// `/client/v4/accounts/{account}/realtime/kit/{app}`.
    kit: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Starts the binary on `listen` with `dir` as its data directory; waits for its banner.
    fn start(dir: &Path, listen: &str) -> Self {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Self::try_start(dir, listen) {
                Ok(s) => return s,
                // The port of a killed process can take a moment to be free.
                Err(e) if Instant::now() < deadline => {
                    eprintln!("start failed ({e}); retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("the server did not start: {e}"),
            }
        }
    }

    fn try_start(dir: &Path, listen: &str) -> Result<Self, String> {
        let mut child = Command::new(BIN)
            .args(["--listen", listen, "--data", dir.to_str().unwrap(), "--admin-token", ADMIN])
            .args(["--away-grace-secs", "60"])
            .env("RUST_LOG", "convene_server=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let log: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for (pipe, tx) in [(Box::new(stdout) as Box<dyn std::io::Read + Send>, Some(tx)), (Box::new(stderr), None)] {
            let log = log.clone();
            // Drained for the whole life of the process, so that it never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(tx) = &tx {
                        let _ = tx.send(line.clone());
                    }
                    let mut log = log.lock().unwrap();
                    log.push_back(line);
                    if log.len() > 200 {
                        log.pop_front();
                    }
                }
            });
        }
        let mut addr = None;
        let mut kit = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while addr.is_none() || kit.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("no banner; output: {:?}", log.lock().unwrap()));
                }
            };
            if let Some(url) = line.strip_prefix("convene-server listening on http://") {
                addr = url.trim().parse::<SocketAddr>().ok();
            }
            if line.contains("REST API:") {
                let url = line.split_whitespace().last().unwrap_or_default().trim_end_matches("/...");
                kit = url.find("/client/").map(|i| url[i..].to_owned());
            }
        }
        Ok(Self { child, addr: addr.unwrap(), kit: kit.unwrap(), log })
    }

    /// `kill -9`.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    fn ws_url(&self) -> String {
        format!("ws://{}/v1/signal", self.addr)
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("http://{}{}{path}", self.addr, self.kit))
            .header("authorization", format!("Bearer {ADMIN}"))
            .timeout(Duration::from_secs(10));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                (status, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => (0, Value::String(e.to_string())),
        }
    }

    async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.api(method, path, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}; log {:?}", self.log.lock().unwrap());
        v["data"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Raw clients that survive a dead server.

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One participant, across connections.
#[derive(Default)]
struct Client {
    name: String,
    token: String,
    ws: Option<Ws>,
    peer_id: Option<String>,
    last_seq: u64,
    /// The server answered its join.
    admitted: bool,
    /// Every event applied, in order (a repeated or decreasing `seq` is recorded in `faults`).
    events: Vec<(u64, SessionEvent)>,
    /// The last answer to a resume.
    resumed: Option<bool>,
    refused: Option<ResumeRefusal>,
    faults: Vec<String>,
    next_req: u64,
}

impl Client {
    async fn send(&mut self, msg: &ClientMessage) -> bool {
        match self.ws.as_mut() {
            Some(ws) => ws.send(Message::Text(encode_client(msg).into())).await.is_ok(),
            None => false,
        }
    }

    /// The next message within `wait` (None: closed, or nothing in time).
    async fn recv(&mut self, wait: Duration) -> Option<ServerMessage> {
        let ws = self.ws.as_mut()?;
        loop {
            match tokio::time::timeout(wait, ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let msg = decode_server(t.as_str()).expect("server frames decode");
                    if let ServerMessage::Event { seq, event } = &msg {
                        if *seq <= self.last_seq {
                            self.faults.push(format!("{}: seq {seq} after {}", self.name, self.last_seq));
                        }
                        self.last_seq = self.last_seq.max(*seq);
                        self.events.push((*seq, event.clone()));
                    }
                    return Some(msg);
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => {
                    self.ws = None;
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// Connects and says hello (resuming when it has a peer id and `resume`); returns the answer.
    async fn hello(&mut self, url: &str, resume: bool) -> Option<ServerMessage> {
        let (ws, _) =
            tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(url)).await.ok()?.ok()?;
        self.ws = Some(ws);
        let resume =
            if resume { self.peer_id.clone().map(|peer_id| Resume { peer_id, last_seq: self.last_seq }) } else { None };
        let fresh = resume.is_none();
        let hello = ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: self.token.clone(), resume };
        if !self.send(&hello).await {
            return None;
        }
        let answer = self.recv(Duration::from_secs(5)).await?;
        match &answer {
            ServerMessage::Welcome { peer_id, resumed, .. } => {
                if fresh {
                    // A new stay: a new peer, its own sequence.
                    self.peer_id = Some(peer_id.clone());
                    self.admitted = false;
                    self.events.clear();
                    self.last_seq = 0;
                    self.refused = None;
                    self.resumed = None;
                } else {
                    self.resumed = Some(*resumed);
                }
            }
            ServerMessage::ResumeRefused { refusal } => {
                self.refused = Some(refusal.clone());
                self.ws = None;
            }
            _ => {}
        }
        Some(answer)
    }

    /// Asks to join on the current connection; true once the server answered.
    async fn join(&mut self) -> bool {
        self.next_req += 1;
        let req = self.next_req;
        if !self.send(&ClientMessage::Join { req }).await {
            return false;
        }
        loop {
            match self.recv(Duration::from_secs(5)).await {
                Some(ServerMessage::Reply { req: r, .. }) if r == req => {
                    self.admitted = true;
                    return true;
                }
                Some(ServerMessage::Error { req: Some(r), error }) if r == req => {
                    self.faults.push(format!("{}: join refused {error:?}", self.name));
                    return false;
                }
                Some(_) => continue,
                None => return false,
            }
        }
    }

    /// Reads until the connection ends (or nothing came for `quiet`).
    async fn drain(&mut self, quiet: Duration) {
        while self.ws.is_some() {
            if self.recv(quiet).await.is_none() {
                break;
            }
        }
    }

    fn ended(&self) -> Option<convene_core::SessionEnd> {
        self.events.iter().rev().find_map(|(_, e)| match e {
            SessionEvent::SessionEnded { end } => Some(end.clone()),
            _ => None,
        })
    }
}

/// Runs `f` on every client at once (each in its own task) and gives them back in order.
async fn each<F, Fut>(clients: Vec<Client>, f: F) -> Vec<Client>
where
    F: Fn(usize, Client) -> Fut,
    Fut: std::future::Future<Output = Client> + Send + 'static,
{
    let tasks: Vec<_> = clients.into_iter().enumerate().map(|(i, c)| tokio::spawn(f(i, c))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(tokio::time::timeout(Duration::from_secs(60), t).await.expect("client task ends").expect("no panic"));
    }
    out
}

/// Lets every client read in the background until its connection ends; `join_all` gives them back.
fn read_on(clients: Vec<Client>) -> Vec<tokio::task::JoinHandle<Client>> {
    clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                c.drain(Duration::from_secs(120)).await;
                c
            })
        })
        .collect()
}

async fn join_all(tasks: Vec<tokio::task::JoinHandle<Client>>) -> Vec<Client> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            tokio::time::timeout(Duration::from_secs(30), t).await.expect("client sees the end").expect("no panic"),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The database as a restart finds it.

fn db(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join("convene.db")).expect("the database opens");
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

fn count(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `PRAGMA integrity_check` and the invariants of the schema in `store/mod.rs`.
fn check_database(dir: &Path, when: &str) {
    let c = db(dir);
    let integrity: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok", "{when}: integrity_check");
    let invariants = [
        ("stays of a missing session", "SELECT COUNT(*) FROM session_peers p LEFT JOIN sessions s ON s.id = p.session_id WHERE s.id IS NULL"),
        ("stays of a missing participant", "SELECT COUNT(*) FROM session_peers p LEFT JOIN participants q ON q.id = p.participant_id WHERE q.id IS NULL"),
        ("sessions of a missing meeting", "SELECT COUNT(*) FROM sessions s LEFT JOIN meetings m ON m.id = s.meeting_id WHERE m.id IS NULL"),
        ("participants of a missing meeting", "SELECT COUNT(*) FROM participants q LEFT JOIN meetings m ON m.id = q.meeting_id WHERE m.id IS NULL"),
        ("recordings of a missing session", "SELECT COUNT(*) FROM recordings r LEFT JOIN sessions s ON s.id = r.session_id WHERE r.session_id IS NOT NULL AND s.id IS NULL"),
        ("deliveries of a missing webhook", "SELECT COUNT(*) FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id WHERE w.id IS NULL"),
        ("meetings with two live sessions", "SELECT COUNT(*) FROM (SELECT meeting_id FROM sessions WHERE status = 'LIVE' GROUP BY meeting_id HAVING COUNT(*) > 1)"),
        ("sessions neither LIVE nor ENDED", "SELECT COUNT(*) FROM sessions WHERE status NOT IN ('LIVE', 'ENDED')"),
        ("ended sessions without an end", "SELECT COUNT(*) FROM sessions WHERE status = 'ENDED' AND (ended_at IS NULL OR end_reason IS NULL OR ended_at < started_at)"),
        ("live sessions with an end", "SELECT COUNT(*) FROM sessions WHERE status = 'LIVE' AND (ended_at IS NOT NULL OR end_reason IS NOT NULL)"),
        ("open stays of ended sessions", "SELECT COUNT(*) FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE s.status = 'ENDED' AND p.left_at IS NULL"),
        ("stays with a leave time but no outcome, or the reverse", "SELECT COUNT(*) FROM session_peers WHERE (left_at IS NULL) <> (outcome IS NULL)"),
        ("stays that ended before they began", "SELECT COUNT(*) FROM session_peers WHERE left_at < joined_at"),
        ("stays with an unknown outcome", "SELECT COUNT(*) FROM session_peers WHERE outcome NOT IN ('left', 'kicked', 'expired', 'ended')"),
        ("stays of a session ended for everyone, closed later", "SELECT COUNT(*) FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE s.status = 'ENDED' AND p.left_at > s.ended_at"),
        ("deliveries with an unknown status", "SELECT COUNT(*) FROM outbox WHERE status NOT IN ('pending', 'delivered', 'failed')"),
        ("repeated delivery uuids", "SELECT COUNT(*) - COUNT(DISTINCT uuid) FROM outbox"),
        ("recordings with an unknown status", "SELECT COUNT(*) FROM recordings WHERE status NOT IN ('INVOKED', 'RECORDING', 'PAUSED', 'UPLOADING', 'UPLOADED', 'ERRORED')"),
        ("uploaded recordings without a size", "SELECT COUNT(*) FROM recordings WHERE status = 'UPLOADED' AND file_size IS NULL"),
    ];
    for (what, sql) in invariants {
        assert_eq!(count(&c, sql), 0, "{when}: {what}");
    }
}

/// Open stays (peer id → session id) of live sessions.
fn open_stays(dir: &Path) -> BTreeMap<String, String> {
    let c = db(dir);
    let mut stmt = c
        .prepare("SELECT p.peer_id, p.session_id FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE s.status = 'LIVE' AND p.left_at IS NULL")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// (status, end_reason) of a session.
fn session_row(dir: &Path, id: &str) -> (String, Option<String>) {
    db(dir)
        .query_row("SELECT status, end_reason FROM sessions WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
}

/// Outbox rows: uuid → (status, event, session id in the body).
fn outbox(dir: &Path) -> BTreeMap<String, (String, String, String)> {
    let c = db(dir);
    let mut stmt = c.prepare("SELECT uuid, status, body FROM outbox").unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .map(|(uuid, status, body)| {
            let v: Value = serde_json::from_str(&body).unwrap();
            let event = v["event"].as_str().unwrap_or_default().to_owned();
            let session = v["meeting"]["sessionId"].as_str().unwrap_or_default().to_owned();
            (uuid, (status, event, session))
        })
        .collect()
}

fn live_session(dir: &Path, meeting: &str) -> Option<String> {
    use rusqlite::OptionalExtension;
    db(dir)
        .query_row("SELECT id FROM sessions WHERE meeting_id = ?1 AND status = 'LIVE'", [meeting], |r| r.get(0))
        .optional()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// A webhook receiver (slow on demand).

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, String)>>>,
    in_flight: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let r = Receiver::default();
        let state = r.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let uuid = headers.get("rtk-uuid").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    state.got.lock().unwrap().push((uuid, body));
                    state.in_flight.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(state.delay_ms.load(Ordering::SeqCst))).await;
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    fn got(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }
}

async fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Phases.

/// After a restart: every client with a peer id resumes at once; those the store kept get the same
/// session back with a fresh snapshot of everyone else the store kept; the others are refused.
/// Returns the clients, connected where resumed.
async fn resume_all(clients: Vec<Client>, url: &str, kept: &BTreeMap<String, String>) -> Vec<Client> {
    let url = url.to_owned();
    let kept = Arc::new(kept.clone());
    each(clients, move |_, mut c| {
        let url = url.clone();
        let kept = kept.clone();
        async move {
            let Some(peer) = c.peer_id.clone() else { return c };
            if c.ended().is_some() {
                return c;
            }
            c.resumed = None;
            c.refused = None;
            let before = c.last_seq;
            let answer = c.hello(&url, true).await;
            match (kept.get(&peer), answer) {
                (Some(session), Some(ServerMessage::Welcome { resumed: true, peer_id, .. })) => {
                    assert_eq!(peer_id, peer, "{}: the same peer", c.name);
                    // The event log did not survive: a snapshot, numbered above anything before.
                    loop {
                        match c.recv(Duration::from_secs(5)).await {
                            Some(ServerMessage::Event { seq, event: SessionEvent::Joined { room } }) => {
                                assert!(seq > before, "{}: snapshot seq {seq} not above {before}", c.name);
                                assert_eq!(&room.session.id, session, "{}: the same session", c.name);
                                let others: BTreeSet<String> = room.peers.iter().map(|p| p.id.clone()).collect();
                                let expected: BTreeSet<String> = kept
                                    .iter()
                                    .filter(|(p, s)| **p != peer && *s == session)
                                    .map(|(p, _)| p.clone())
                                    .collect();
                                assert_eq!(others, expected, "{}: the snapshot holds everyone the store kept", c.name);
                                break;
                            }
                            Some(_) => continue,
                            None => panic!("{}: no snapshot after resuming", c.name),
                        }
                    }
                }
                (None, Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::Expired })) => {}
                (kept_session, answer) => {
                    panic!("{}: kept in the store as {kept_session:?}, resume answered {answer:?}", c.name)
                }
            }
            c
        }
    })
    .await
}

/// Clients that are not in a session (never admitted, refused, or their session ended) join.
async fn join_missing(clients: Vec<Client>, url: &str) -> Vec<Client> {
    let url = url.to_owned();
    each(clients, move |_, mut c| {
        let url = url.clone();
        async move {
            if c.ws.is_some() && c.refused.is_none() {
                return c;
            }
            let welcomed = matches!(c.hello(&url, false).await, Some(ServerMessage::Welcome { .. }));
            assert!(welcomed && c.join().await, "{}: a fresh join works", c.name);
            c
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_many_moments_and_restart() {
    let started = Instant::now();
    let dir: PathBuf = std::env::temp_dir().join(format!("convene-crash-{}", uuid::Uuid::new_v4()));
    let mut server = Server::start(&dir, "127.0.0.1:0");
    let listen = server.addr.to_string();
    let url = server.ws_url();
    let mut figures: Vec<String> = Vec::new();

    // Setup: a meeting, a host and participants, a webhook whose receiver is down.
    let meeting =
        server.ok("POST", "/meetings", Some(json!({"title": "crash", "session_keep_alive_time_in_secs": 60}))).await;
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let mut clients = Vec::new();
    for i in 0..PARTICIPANTS {
        let (name, preset) =
            if i == 0 { ("host".to_owned(), "group_call_host") } else { (format!("p{i}"), "group_call_participant") };
        let body = json!({"custom_participant_id": name, "preset_name": preset, "name": name});
        let p = server.ok("POST", &format!("/meetings/{meeting_id}/participants"), Some(body)).await;
        clients.push(Client { name, token: p["token"].as_str().unwrap().to_owned(), ..Client::default() });
    }
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let events = [
        "meeting.started",
        "meeting.ended",
        "meeting.participantJoined",
        "meeting.participantLeft",
        "recording.statusUpdate",
    ];
    let hook = server.ok("POST", "/webhooks", Some(json!({"name": "crash", "url": dead, "events": events}))).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let app_id = server.kit.rsplit('/').next().unwrap().to_owned();

    // 1. kill -9 during a join storm.
    let answered = Arc::new(AtomicUsize::new(0));
    let storm = {
        let answered = answered.clone();
        let url = url.clone();
        clients
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                let answered = answered.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(8 * i as u64)).await;
                    if matches!(c.hello(&url, false).await, Some(ServerMessage::Welcome { .. })) && c.join().await {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    c.drain(Duration::from_secs(60)).await;
                    c
                })
            })
            .collect::<Vec<_>>()
    };
    until("half the joins answered", Duration::from_secs(20), || answered.load(Ordering::SeqCst) >= PARTICIPANTS / 2)
        .await;
    server.kill();
    let clients = join_all(storm).await;
    check_database(&dir, "after the kill during the join storm");
    let kept = open_stays(&dir);
    let session_1 = live_session(&dir, &meeting_id).expect("the session is live in the store");
    for c in &clients {
        if c.admitted {
            let peer = c.peer_id.as_ref().unwrap();
            assert_eq!(kept.get(peer), Some(&session_1), "{}: its answered join is in the store", c.name);
        }
    }
    let welcomed: BTreeSet<String> = clients.iter().filter_map(|c| c.peer_id.clone()).collect();
    assert!(kept.keys().all(|p| welcomed.contains(p)), "every stay in the store is a welcomed peer");
    let pending_before = outbox(&dir);
    assert!(pending_before.values().all(|(s, _, _)| s == "pending"), "the receiver is down: nothing delivered");
    assert!(pending_before.values().any(|(_, e, _)| e == "meeting.started"), "meeting.started is queued");
    figures.push(format!(
        "join storm: {} of {PARTICIPANTS} answered, {} in the store, {} welcomed but not admitted; {} webhooks queued",
        clients.iter().filter(|c| c.admitted).count(),
        kept.len(),
        welcomed.len() - kept.len(),
        pending_before.len()
    ));

    server = Server::start(&dir, &listen);
    let clients = resume_all(clients, &url, &kept).await;
    let resumed = clients.iter().filter(|c| c.resumed == Some(true)).count();
    let refused = clients.iter().filter(|c| c.refused.is_some()).count();
    assert_eq!(resumed, kept.len(), "every stay the store kept resumed");
    let clients = join_missing(clients, &url).await;
    let stays = open_stays(&dir);
    assert_eq!(stays.len(), PARTICIPANTS, "everyone is in");
    assert!(stays.values().all(|s| *s == session_1), "one session throughout");
    figures
        .push(format!("  restart: {resumed} resumed the same session, {refused} refused (expired) and joined again"));

    // 2. kill -9 with a recording running and the outbox full of undelivered events.
    let clients = read_on(clients);
    let rec = server.ok("POST", "/recordings", Some(json!({"meeting_id": meeting_id}))).await;
    assert_eq!(rec["status"], "RECORDING");
    let recording_1 = rec["id"].as_str().unwrap().to_owned();
    server.kill();
    let clients = join_all(clients).await;
    check_database(&dir, "after the kill while recording");
    let status: String =
        db(&dir).query_row("SELECT status FROM recordings WHERE id = ?1", [&recording_1], |r| r.get(0)).unwrap();
    assert_eq!(status, "RECORDING", "the store says recording when the process dies");
    let queued = outbox(&dir);
    assert!(queued.len() >= pending_before.len() && queued.values().all(|(s, _, _)| s == "pending"), "{queued:?}");
    // A receiver comes up; an operator points the webhook at it and retries now.
    let (receiver, receiver_url) = Receiver::start().await;
    receiver.delay_ms.store(150, Ordering::SeqCst);
    {
        let store = convene_server::store::Store::open(Some(&dir.join("convene.db"))).unwrap();
        let mut w = store.get_webhook(&app_id, &hook_id).unwrap().expect("the webhook survived");
        w.url = receiver_url.clone();
        store.update_webhook(&app_id, &w).unwrap();
        assert_eq!(store.retry_pending_now(0).unwrap(), queued.len());
    }
    server = Server::start(&dir, &listen);
    let kept = open_stays(&dir);
    assert_eq!(kept.len(), PARTICIPANTS);
    let clients = resume_all(clients, &url, &kept).await;
    let rec = server.ok("GET", &format!("/recordings/{recording_1}"), None).await;
    assert_eq!(rec["status"], "ERRORED", "an interrupted recording is marked ERRORED: {rec}");
    assert!(dir.join("recordings").join(format!("{recording_1}.jsonl")).exists(), "its file is kept");
    let rec = server.ok("POST", "/recordings", Some(json!({"meeting_id": meeting_id}))).await;
    assert_eq!(rec["status"], "RECORDING", "the restored session records again");
    let recording_2 = rec["id"].as_str().unwrap().to_owned();
    figures.push(format!(
        "recording: {} events queued while the receiver was down; recording ERRORED after the kill, a new one started",
        queued.len()
    ));

    // 3. kill -9 while webhooks are being delivered (one request in flight).
    let clients = read_on(clients);
    until("deliveries under way", Duration::from_secs(30), || {
        receiver.got().len() >= 5 && receiver.in_flight.load(Ordering::SeqCst) > 0
    })
    .await;
    server.kill();
    let received_at_kill = receiver.got().len();
    let clients = join_all(clients).await;
    check_database(&dir, "after the kill during webhook deliveries");
    let rows = outbox(&dir);
    let delivered = rows.values().filter(|(s, _, _)| s == "delivered").count();
    let pending = rows.values().filter(|(s, _, _)| s == "pending").count();
    assert!(pending > 0, "deliveries were still under way");
    receiver.delay_ms.store(0, Ordering::SeqCst);
    server = Server::start(&dir, &listen);
    let kept = open_stays(&dir);
    let clients = resume_all(clients, &url, &kept).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox(&dir).values().any(|(s, _, _)| s != "delivered") {
        assert!(Instant::now() < deadline, "the outbox drains: {:?}", outbox(&dir));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = outbox(&dir);
    let mut bodies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (uuid, body) in receiver.got() {
        bodies.entry(uuid).or_default().insert(body);
    }
    let row_uuids: BTreeSet<&String> = rows.keys().collect();
    let got_uuids: BTreeSet<&String> = bodies.keys().collect();
    assert_eq!(got_uuids, row_uuids, "every queued event arrived, nothing else");
    assert!(bodies.values().all(|b| b.len() == 1), "a retry carries the same body under the same uuid");
    let attempts = receiver.got().len();
    figures.push(format!(
        "webhooks: killed with {delivered} delivered and {pending} pending ({received_at_kill} requests received); after the restart all {} delivered in {attempts} requests ({} repeated)",
        rows.len(),
        attempts - rows.len()
    ));

    // 4. kill -9 around a REST kick-all, three times.
    let mut clients = clients;
    let mut ended_sessions = Vec::new();
    for (round, delay_us) in [0u64, 250, 500, 1_000, 3_000].into_iter().enumerate() {
        let session = live_session(&dir, &meeting_id).expect("a live session to end");
        // One participant is away (its connection dropped) when the session ends: it cannot have
        // heard the end before the kill, whenever the kill comes.
        let away = round + 1;
        if let Some(mut ws) = clients[away].ws.take() {
            let _ = ws.close(None).await;
        }
        let listening = read_on(clients);
        let kick = {
            let path = format!("http://{}{}/meetings/{meeting_id}/active-session/kick-all", server.addr, server.kit);
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(path)
                    .header("authorization", format!("Bearer {ADMIN}"))
                    .send()
                    .await
                    .is_ok()
            })
        };
        tokio::time::sleep(Duration::from_micros(delay_us)).await;
        server.kill();
        let answered = kick.await.unwrap();
        clients = join_all(listening).await;
        check_database(&dir, &format!("after the kill around kick-all {round}"));
        let (status, reason) = session_row(&dir, &session);
        if answered {
            assert_eq!(status, "ENDED", "kick-all was answered, so the end was stored");
        }
        let heard = clients.iter().filter(|c| c.ended().is_some_and(|e| e.session_id == session)).count();
        match status.as_str() {
            "ENDED" => {
                assert_eq!(reason.as_deref(), Some("HOST_ENDED_MEETING"));
                let ended = outbox(&dir).values().filter(|(_, e, s)| e == "meeting.ended" && *s == session).count();
                assert_eq!(ended, 1, "meeting.ended is queued with the end");
            }
            "LIVE" => assert_eq!(heard, 0, "no one hears of an end the store does not have"),
            other => panic!("session {other}"),
        }
        if status == "ENDED" {
            assert!(clients[away].ended().is_none(), "the away participant heard nothing");
        }
        server = Server::start(&dir, &listen);
        let kept = open_stays(&dir);
        if status == "LIVE" {
            clients = resume_all(clients, &url, &kept).await;
            let listening = read_on(clients);
            let v = server.ok("POST", &format!("/meetings/{meeting_id}/active-session/kick-all"), None).await;
            assert_eq!(v["kicked_participants_count"].as_u64(), Some(PARTICIPANTS as u64));
            clients = join_all(listening).await;
        } else {
            // Everyone who missed the end learns it when resuming, never a silent new session.
            clients = each(clients, {
                let url = url.clone();
                move |_, mut c| {
                    let url = url.clone();
                    async move {
                        if c.ended().is_none() {
                            let answer = c.hello(&url, true).await;
                            match answer {
                                Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::SessionEnded { end } }) => {
                                    c.events.push((c.last_seq, SessionEvent::SessionEnded { end }));
                                }
                                other => {
                                    panic!("{}: after an end it did not hear, resuming answered {other:?}", c.name)
                                }
                            }
                        }
                        c
                    }
                }
            })
            .await;
        }
        for c in &clients {
            let end = c.ended().unwrap_or_else(|| panic!("{}: no end of session {session}", c.name));
            assert_eq!(end.session_id, session);
            assert_eq!(end.reason, EndReason::HostEndedMeeting);
            assert_eq!(end.ended_by, Actor::Api);
        }
        assert_eq!(session_row(&dir, &session).0, "ENDED");
        figures.push(format!(
            "kick-all {round} (kill {delay_us} us after the request, answered: {answered}): the store had it {status}; {heard} of {PARTICIPANTS} clients had heard the end before the kill (one was away)",
        ));
        ended_sessions.push(session);
        // Everyone joins again: a new session.
        for c in &mut clients {
            c.peer_id = None;
            c.ws = None;
            c.refused = None;
        }
        clients = join_missing(clients, &url).await;
        let next = live_session(&dir, &meeting_id).expect("a new session");
        assert!(!ended_sessions.contains(&next), "a new session id");
    }

    // 5. kill -9 with everything quiet, then the last look at the store.
    let listening = read_on(clients);
    server.kill();
    let clients = join_all(listening).await;
    check_database(&dir, "after the last kill");
    server = Server::start(&dir, &listen);
    let kept = open_stays(&dir);
    assert_eq!(kept.len(), PARTICIPANTS);
    let clients = resume_all(clients, &url, &kept).await;
    let listening = read_on(clients);
    server.ok("POST", &format!("/meetings/{meeting_id}/active-session/kick-all"), None).await;
    let clients = join_all(listening).await;
    let sessions = server.ok("GET", &format!("/sessions?associated_id={meeting_id}&per_page=100"), None).await;
    let sessions = sessions["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 6, "one session per kick-all: {sessions:?}");
    assert!(sessions.iter().all(|s| s["status"] == "ENDED" && s["end_reason"] == "HOST_ENDED_MEETING"));
    let recordings = server.ok("GET", &format!("/recordings?meeting_id={meeting_id}"), None).await;
    let statuses: BTreeMap<String, String> = recordings
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(statuses.get(&recording_1).map(String::as_str), Some("ERRORED"));
    assert!(
        matches!(statuses.get(&recording_2).map(String::as_str), Some("ERRORED" | "UPLOADED")),
        "the second recording ended with its session or with a kill: {statuses:?}"
    );
    let faults: Vec<&String> = clients.iter().flat_map(|c| &c.faults).collect();
    assert!(faults.is_empty(), "{faults:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while outbox(&dir).values().any(|(s, _, _)| s != "delivered") {
        assert!(Instant::now() < deadline, "the outbox drains");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = outbox(&dir);
    let got: BTreeSet<String> = receiver.got().into_iter().map(|(uuid, _)| uuid).collect();
    assert_eq!(got, rows.keys().cloned().collect::<BTreeSet<_>>(), "every event delivered, under its own uuid");
    for s in sessions.iter().map(|s| s["id"].as_str().unwrap()) {
        let ended = rows.values().filter(|(_, e, id)| e == "meeting.ended" && id == s).count();
        assert_eq!(ended, 1, "one meeting.ended for session {s}");
    }
    server.kill();
    check_database(&dir, "at the end");
    figures.push(format!(
        "{} sessions, {} webhook events, {:.1} s",
        sessions.len(),
        rows.len(),
        started.elapsed().as_secs_f64()
    ));
    for f in &figures {
        println!("{f}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
