//! The real `convene-server` binary as a child process: started on a data directory and port
//! (retried while a killed process's port is still taken), driven over REST with the admin token,
//! and killed with `SIGKILL`. Its output is drained for the whole life of the process and the last
//! lines are kept for failure messages.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_convene-server");

/// With `CONVENE_TEST_LOG_DIR` set, each server's whole output goes to `server-PID.log` there
/// (and `CONVENE_TEST_LOG` sets their `RUST_LOG`, `convene_server=warn` by default): for reading
/// what the nodes of a failing test did.
fn full_log(pid: u32) -> Option<Arc<Mutex<std::fs::File>>> {
    let dir = std::env::var_os("CONVENE_TEST_LOG_DIR")?;
    let file = std::fs::File::create(Path::new(&dir).join(format!("server-{pid}.log"))).ok()?;
    Some(Arc::new(Mutex::new(file)))
}
/// The admin token the server is started with.
pub const ADMIN: &str = "cvn_crash_admin_token_0123456789abcdef";

/// A running `convene-server` process. Dropping it kills it.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `/client/v4/accounts/{account}/realtime/kit/{app}`.
    pub kit: String,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Starts the binary on `listen` with `dir` as its data directory; waits for its banner.
    pub fn start(dir: &Path, listen: &str) -> Self {
        Self::start_with(dir, listen, &[])
    }

    /// As [`Server::start`], with more flags (`--postgres URL --node-id NAME`, say).
    pub fn start_with(dir: &Path, listen: &str, flags: &[&str]) -> Self {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Self::try_start(dir, listen, flags) {
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

    fn try_start(dir: &Path, listen: &str, flags: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(BIN)
            .args(["--listen", listen, "--data", dir.to_str().unwrap(), "--admin-token", ADMIN])
            .args(if flags.contains(&"--away-grace-secs") { &[][..] } else { &["--away-grace-secs", "60"][..] })
            .arg("--webhook-allow-private")
            .args(flags)
            .env("RUST_LOG", std::env::var("CONVENE_TEST_LOG").unwrap_or_else(|_| "convene_server=warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let log: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let file = full_log(child.id());
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for (pipe, tx) in [(Box::new(stdout) as Box<dyn std::io::Read + Send>, Some(tx)), (Box::new(stderr), None)] {
            let log = log.clone();
            let file = file.clone();
            // Drained for the whole life of the process, so that it never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(tx) = &tx {
                        let _ = tx.send(line.clone());
                    }
                    if let Some(f) = &file {
                        use std::io::Write;
                        let _ = writeln!(f.lock().unwrap(), "{line}");
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
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// Sends `signal` (`STOP`, `CONT`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill").args([format!("-{signal}"), pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -{signal}");
        if signal == "STOP" {
            self.until_every_thread_stopped();
        }
    }

    /// Waits until each of the process's threads is stopped: `kill` returns once `SIGSTOP` is
    /// sent, and a thread stops only once it next runs.
    fn until_every_thread_stopped(&self) {
        let tasks = format!("/proc/{}/task", self.child.id());
        let started = Instant::now();
        loop {
            let states: Vec<String> = std::fs::read_dir(&tasks)
                .expect("the process's threads")
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("stat")).ok())
                // The state follows the parenthesised name, which may hold spaces.
                .filter_map(|stat| {
                    stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').next()).map(str::to_owned)
                })
                .collect();
            // A thread that has exited (zombie, dead) has nothing left to run.
            let running = states.iter().filter(|s| !matches!(s.as_str(), "Z" | "X"));
            if !states.is_empty() && running.clone().all(|s| s == "T" || s == "t") {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the process did not stop: thread states {states:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The signalling WebSocket's URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/signal", self.addr)
    }

    /// A REST call with the admin token: (status, body); status 0 when the call failed.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, body) = self.api_with_headers(method, path, body).await;
        (status, body)
    }

    /// As [`Server::api`], with the answer's headers (none when the call failed).
    pub async fn api_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
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
                let headers = resp.headers().clone();
                let text = resp.text().await.unwrap_or_default();
                (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(e) => (0, reqwest::header::HeaderMap::new(), Value::String(e.to_string())),
        }
    }

    /// A REST call that must succeed; its `data`.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
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
