//! A fault-injecting TCP proxy between the clients and the server. It forwards raw bytes (HTTP and
//! WebSocket alike) and, as the test's seeded schedule tells it: delays chunks, cuts connections
//! (both directions at once, sometimes in the middle of a frame), refuses new connections for a
//! while, pauses all forwarding ("the server hangs"), hangs the server-to-client direction of some
//! connections and then cuts them (the server goes on sending into a dead path), and partitions one
//! client (its connections cut and refused for a while). Every byte written to either side is also
//! fed to [`Wire`].
//!
//! Each client gets its own listening port (its *tag*), so faults can target one client without
//! parsing anything.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::rng::Rng;
use super::wire::{Wire, WireConn};

/// Background faults, applied per forwarded chunk.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noise {
    /// Chance that a chunk waits before it is forwarded.
    pub delay_chance: f64,
    /// The longest such wait, in ms.
    pub delay_max_ms: u64,
    /// Chance that a chunk to a client is cut in the middle (half written, then both directions
    /// closed).
    pub mid_cut_chance: f64,
}

/// Counters, for the report.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused (closed at once).
    pub refused: AtomicU64,
    /// Connections cut by the schedule.
    pub cuts: AtomicU64,
    /// Connections cut in the middle of a chunk to the client.
    pub mid_cuts: AtomicU64,
    /// Chunks delayed.
    pub delayed: AtomicU64,
}

struct Conn {
    tag: usize,
    cut: Arc<watch::Sender<bool>>,
    /// The server-to-client direction hangs while set.
    hang: Arc<watch::Sender<bool>>,
}

struct Inner {
    /// The servers: a connection of tag `t` goes to `upstreams[t % len]`.
    upstreams: Vec<SocketAddr>,
    seed: u64,
    next_conn: AtomicU64,
    conns: Mutex<BTreeMap<u64, Conn>>,
    paused: watch::Sender<bool>,
    refuse_until: Mutex<Option<Instant>>,
    partitioned: Mutex<BTreeMap<usize, Instant>>,
    noise: Mutex<Noise>,
    stats: Stats,
    wire: Arc<Wire>,
}

/// The proxy. Dropping it stops accepting; [`Proxy::shutdown`] also cuts what is open.
pub struct Proxy {
    inner: Arc<Inner>,
    listeners: Mutex<Vec<JoinHandle<()>>>,
}

impl Proxy {
    /// A proxy to `upstreams` (the connections of tag `t` go to `upstreams[t % len]`: a cluster's
    /// nodes); per-connection decisions are seeded from `seed`.
    pub fn new(upstreams: Vec<SocketAddr>, seed: u64, wire: Arc<Wire>) -> Self {
        assert!(!upstreams.is_empty(), "a proxy needs a server");
        let inner = Inner {
            upstreams,
            seed,
            next_conn: AtomicU64::new(1),
            conns: Mutex::new(BTreeMap::new()),
            paused: watch::channel(false).0,
            refuse_until: Mutex::new(None),
            partitioned: Mutex::new(BTreeMap::new()),
            noise: Mutex::new(Noise::default()),
            stats: Stats::default(),
            wire,
        };
        Self { inner: Arc::new(inner), listeners: Mutex::new(Vec::new()) }
    }

    /// Opens a listening port for `tag`; returns its base URL (`http://127.0.0.1:port`).
    pub async fn listen(&self, tag: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let inner = inner.clone();
                tokio::spawn(async move { inner.serve(tag, socket).await });
            }
        });
        self.listeners.lock().unwrap().push(task);
        url
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Sets the background faults.
    pub fn set_noise(&self, noise: Noise) {
        *self.inner.noise.lock().unwrap() = noise;
    }

    /// Cuts each open connection with probability `fraction`; returns how many were cut.
    pub fn cut_some(&self, fraction: f64, rng: &mut Rng) -> usize {
        let conns = self.inner.conns.lock().unwrap();
        let mut n = 0;
        for c in conns.values() {
            if rng.chance(fraction) {
                c.cut.send_replace(true);
                n += 1;
            }
        }
        self.inner.stats.cuts.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Cuts every open connection of one tag; returns how many.
    pub fn cut_tag(&self, tag: usize) -> usize {
        let conns = self.inner.conns.lock().unwrap();
        let mut n = 0;
        for c in conns.values().filter(|c| c.tag == tag) {
            c.cut.send_replace(true);
            n += 1;
        }
        self.inner.stats.cuts.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Makes the server-to-client direction of every open connection of these tags hang (the
    /// client hears nothing; what it sends still arrives); returns the connections hung.
    pub fn hang(&self, tags: &BTreeSet<usize>) -> Vec<u64> {
        let conns = self.inner.conns.lock().unwrap();
        let mut hung = Vec::new();
        for (id, c) in conns.iter().filter(|(_, c)| tags.contains(&c.tag)) {
            c.hang.send_replace(true);
            hung.push(*id);
        }
        hung
    }

    /// Ends a hang by cutting those connections (what hung is lost, as when a middlebox dies).
    pub fn cut_conns(&self, ids: &[u64]) -> usize {
        let conns = self.inner.conns.lock().unwrap();
        let mut n = 0;
        for id in ids {
            if let Some(c) = conns.get(id) {
                c.cut.send_replace(true);
                n += 1;
            }
        }
        self.inner.stats.cuts.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Stops (true) or resumes (false) all forwarding; new connections are held meanwhile.
    pub fn pause(&self, paused: bool) {
        self.inner.paused.send_replace(paused);
    }

    /// Refuses new connections for `duration`.
    pub fn refuse_for(&self, duration: Duration) {
        *self.inner.refuse_until.lock().unwrap() = Some(Instant::now() + duration);
    }

    /// Cuts one client off: its connections are cut and new ones refused for `duration`.
    pub fn partition(&self, tag: usize, duration: Duration) {
        self.inner.partitioned.lock().unwrap().insert(tag, Instant::now() + duration);
        self.cut_tag(tag);
    }

    /// No more faults: no noise, no pause, no refusals. Partitions run their course.
    pub fn calm(&self) {
        self.set_noise(Noise::default());
        self.pause(false);
        *self.inner.refuse_until.lock().unwrap() = None;
    }

    /// Stops listening and cuts every connection.
    pub fn shutdown(&self) {
        for task in self.listeners.lock().unwrap().drain(..) {
            task.abort();
        }
        self.calm();
        self.inner.partitioned.lock().unwrap().clear();
        for c in self.inner.conns.lock().unwrap().values() {
            c.cut.send_replace(true);
        }
    }
}

impl Inner {
    fn refusing(&self, tag: usize) -> bool {
        let now = Instant::now();
        self.refuse_until.lock().unwrap().is_some_and(|t| now < t)
            || self.partitioned.lock().unwrap().get(&tag).is_some_and(|t| now < *t)
    }

    /// Waits until forwarding is allowed; false when the connection was cut meanwhile.
    async fn unpaused(&self, cut: &mut watch::Receiver<bool>) -> bool {
        let mut paused = self.paused.subscribe();
        if !*paused.borrow_and_update() {
            return !*cut.borrow();
        }
        let resumed = tokio::select! {
            r = resumed(&mut paused) => r,
            _ = was_cut(cut) => false,
        };
        resumed && !*cut.borrow()
    }

    async fn serve(self: Arc<Self>, tag: usize, client: TcpStream) {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        if self.refusing(tag) {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(client);
            return;
        }
        let cut = Arc::new(watch::channel(false).0);
        let hang = Arc::new(watch::channel(false).0);
        let mut cut_rx = cut.subscribe();
        self.conns.lock().unwrap().insert(conn, Conn { tag, cut: cut.clone(), hang: hang.clone() });
        if self.unpaused(&mut cut_rx).await {
            if let Ok(server) = TcpStream::connect(self.upstreams[tag % self.upstreams.len()]).await {
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let wire = self.wire.open(tag, conn);
                let rng = Arc::new(Mutex::new(Rng::new(self.seed ^ conn.wrapping_mul(0xA24B_AED4_963E_E407))));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let up = Pump {
                    inner: self.clone(),
                    down: false,
                    cut: cut.clone(),
                    hang: None,
                    rng: rng.clone(),
                    wire: wire.clone(),
                };
                let down = Pump { inner: self.clone(), down: true, cut: cut.clone(), hang: Some(hang), rng, wire };
                tokio::join!(up.run(client_read, server_write), down.run(server_read, client_write));
            }
        }
        self.conns.lock().unwrap().remove(&conn);
    }
}

/// Resolves once the connection is cut (its `Ref` stays inside, so the future is `Send`).
async fn was_cut(cut: &mut watch::Receiver<bool>) {
    let _ = cut.wait_for(|c| *c).await;
}

/// Resolves once forwarding may go on; false if the proxy is gone.
async fn resumed(paused: &mut watch::Receiver<bool>) -> bool {
    paused.wait_for(|p| !*p).await.is_ok()
}

/// One direction of one connection.
struct Pump {
    inner: Arc<Inner>,
    /// Server to client.
    down: bool,
    cut: Arc<watch::Sender<bool>>,
    hang: Option<Arc<watch::Sender<bool>>>,
    rng: Arc<Mutex<Rng>>,
    wire: Arc<Mutex<WireConn>>,
}

impl Pump {
    async fn run(self, mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
        let mut cut = self.cut.subscribe();
        let mut hang = self.hang.as_ref().map(|h| h.subscribe());
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if !self.inner.unpaused(&mut cut).await {
                return;
            }

            let n = tokio::select! {
                r = from.read(&mut buf) => match r {
                    Ok(0) | Err(_) => {
                        // A half-close travels on; the other direction goes on until it ends too.
                        let _ = to.shutdown().await;
                        return;
                    }
                    Ok(n) => n,
                },
                _ = was_cut(&mut cut) => return,
            };
            let noise = *self.inner.noise.lock().unwrap();
            let (delay, mid_cut) = {
                let mut rng = self.rng.lock().unwrap();
                let delay = rng.chance(noise.delay_chance).then(|| rng.range(1, noise.delay_max_ms.max(1)));
                let mid_cut =
                    (self.down && n > 1 && rng.chance(noise.mid_cut_chance)).then(|| rng.range(1, n as u64 - 1));
                (delay, mid_cut)
            };
            if let Some(ms) = delay {
                self.inner.stats.delayed.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                    _ = was_cut(&mut cut) => return,
                }
            }
            if !self.inner.unpaused(&mut cut).await {
                return;
            }
            // A hung direction holds what it read until the connection is cut.
            if let Some(hang) = hang.as_mut() {
                if *hang.borrow_and_update() {
                    tokio::select! {
                        _ = resumed(hang) => {}
                        _ = was_cut(&mut cut) => return,
                    }
                }
            }
            let len = mid_cut.map_or(n, |k| k as usize);
            let written = tokio::select! {
                r = to.write_all(&buf[..len]) => r.is_ok(),
                _ = was_cut(&mut cut) => return,
            };
            if !written {
                self.cut.send_replace(true);
                return;
            }
            self.wire.lock().unwrap().feed(self.down, &buf[..len]);
            if mid_cut.is_some() {
                self.inner.stats.mid_cuts.fetch_add(1, Ordering::Relaxed);
                let _ = to.flush().await;
                self.cut.send_replace(true);
                return;
            }
        }
    }
}
