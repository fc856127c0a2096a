//! Servers in a child process of their own (the load tool started again with a hidden
//! subcommand), so that the server's CPU and memory can be read apart from the clients', and so
//! that N = 10,000 fits in the per-process open-file limit.
//!
//! The child prints one JSON line on stdout when it is ready and exits when its stdin closes
//! (the parent died or is done). The floor server also reads `go` lines on stdin: each one
//! triggers the frame to every connection. The Convene server answers a `stats` line with a
//! JSON line: its live tasks and rooms, and the bytes its Rust heap holds (SQLite's own memory
//! is not counted).

use std::process::Stdio;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// A server running in a child process.
pub struct ChildServer {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    /// What the child printed when it was ready.
    pub ready: Value,
}

impl ChildServer {
    /// Starts `convene-load <role> [args]` and waits for its ready line.
    pub async fn spawn(role: &str, args: &[String]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("the load tool's own path: {e}"))?;
        let mut child = Command::new(exe)
            .arg(role)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting the {role} process: {e}"))?;
        let stdin = child.stdin.take().ok_or("child stdin")?;
        let stdout = child.stdout.take().ok_or("child stdout")?;
        let mut stdout = BufReader::new(stdout).lines();
        let line = stdout.next_line().await.map_err(|e| e.to_string())?.unwrap_or_default();
        let ready: Value =
            serde_json::from_str(&line).map_err(|e| format!("the {role} process did not start: {e} ({line:?})"))?;
        Ok(Self { child, stdin, stdout, ready })
    }

    /// Kills the child at once (`SIGKILL`).
    pub fn kill(&mut self) -> Result<(), String> {
        self.child.start_kill().map_err(|e| format!("killing a child: {e}"))
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Asks the Convene server child for its live tasks and rooms.
    pub async fn runtime_stats(&mut self) -> Result<Value, String> {
        self.send_line("stats").await?;
        let line = self.stdout.next_line().await.map_err(|e| e.to_string())?.ok_or("the server process ended")?;
        serde_json::from_str(&line).map_err(|e| format!("stats: {e}"))
    }

    /// Writes one line to the child's stdin (the floor's trigger).
    pub async fn send_line(&mut self, line: &str) -> Result<(), String> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.map_err(|e| e.to_string())?;
        self.stdin.flush().await.map_err(|e| e.to_string())
    }
}

/// Resident memory and CPU time used so far by a process, from `/proc` (Linux).
#[derive(Debug, Clone, Copy)]
pub struct ProcStats {
    pub rss_kib: u64,
    pub cpu_ms: u64,
}

impl ProcStats {
    /// The figures of process `pid`, where `/proc` has them.
    pub fn of(pid: u32) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss_kib = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which is in parentheses): utime and stime are the
        // 12th and 13th of them, in clock ticks (100 per second on Linux).
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Self { rss_kib, cpu_ms: ticks * 10 })
    }
}

/// What makes a `serve` child a node of a cluster.
pub struct NodeOptions {
    pub postgres: String,
    pub redis: String,
    pub node_id: String,
    pub admin_token: String,
}

/// The child side of `serve`: an in-memory convene-server on an ephemeral loopback port, or with
/// `node` a cluster node on its PostgreSQL and Redis.
pub async fn serve_convene(node: Option<NodeOptions>) -> Result<(), String> {
    crate::alloc::count_process_heap();
    let mut config = convene_server::ServerConfig::ephemeral();
    if let Some(node) = node {
        config.postgres = Some(convene_server::PostgresNode { url: node.postgres, node_id: node.node_id });
        config.redis = Some(node.redis);
        config.admin_token = Some(node.admin_token);
    }
    config.timings.outgoing_queue = 4096;
    // One client IP makes every request and connection here: no rate limits.
    config.limits = convene_server::limits::Limits::off();
    // Rooms left empty end soon, so that a soak can see everything return to its baseline.
    config.timings.room_idle = std::time::Duration::from_secs(2);
    let server = convene_server::start(config).await.map_err(|e| e.to_string())?;
    let (account, app) = server.default_app.clone();
    let ready = json!({"url": server.url(), "admin_token": server.admin_token, "account": account, "app": app});
    println!("{ready}");
    let (rooms, runtime) = (server.running_rooms_probe(), tokio::runtime::Handle::current());
    wait_for_stdin_lines(move |line| {
        if line == "stats" {
            let tasks = runtime.metrics().num_alive_tasks();
            let heap = crate::alloc::process_live_bytes();
            println!("{}", json!({"tasks": tasks, "rooms": rooms(), "heap_bytes": heap}));
        }
    })
    .await;
    server.shutdown().await;
    Ok(())
}

/// The child side of `serve-floor`: the floor server, triggered by `go` lines on stdin.
pub async fn serve_floor(len: usize) -> Result<(), String> {
    let (go, go_rx) = watch::channel(0u64);
    let addr = spawn_floor_server(len, go_rx).await?;
    println!("{}", json!({"addr": addr.to_string()}));
    wait_for_stdin_lines(move |_| {
        go.send_modify(|n| *n += 1);
    })
    .await;
    Ok(())
}

async fn wait_for_stdin_lines(mut on_line: impl FnMut(&str)) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        on_line(&line);
    }
}

/// The minimal floor server: accepts WebSocket connections and, on each change of `go`, writes
/// one text frame of `len` bytes to every connection (one task per connection, as
/// convene-server has). Returns the bound address.
pub async fn spawn_floor_server(len: usize, go_rx: watch::Receiver<u64>) -> Result<std::net::SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let frame: Arc<str> = Arc::from("x".repeat(len).as_str());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let mut go = go_rx.clone();
            go.mark_unchanged();
            let frame = frame.clone();
            tokio::spawn(async move {
                // The same socket settings as convene-server's.
                let config = WebSocketConfig::default().read_buffer_size(convene_server::READ_BUFFER);
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else { return };
                if go.changed().await.is_err() {
                    return;
                }
                let _ = ws.send(Message::Text(frame.as_ref().into())).await;
                let _ = ws.next().await;
            });
        }
    });
    Ok(addr)
}
