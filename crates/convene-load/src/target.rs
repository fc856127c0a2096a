//! The server under load: started in-process (ephemeral port, in-memory store) or a running one,
//! with a meeting and N participants made through the REST API, and N native clients.

use std::sync::Arc;
use std::time::Duration;

use convene_client::{Event, InitOptions, Meeting, ReconnectPolicy};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::child::{ChildServer, ProcStats};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// How many connections are set up at once.
const SETUP_CONCURRENCY: usize = 128;

pub struct Target {
    pub base: String,
    /// Where client `i` connects: `client_bases[i % len]` (the base alone, or a cluster's nodes).
    pub client_bases: Vec<String>,
    /// How the clients reconnect.
    pub reconnect: ReconnectPolicy,
    kit: String,
    token: String,
    http: reqwest::Client,
    _server: Option<convene_server::RunningServer>,
    child: Option<ChildServer>,
}

/// Where the server under load runs.
pub enum ServerMode {
    /// In this process, sharing it with the clients.
    InProcess,
    /// In a child process of its own (`convene-load serve`).
    Child,
    /// A running server at this URL, with this admin token.
    Remote { url: String, admin_token: String },
}

/// An initialised client (connected when it joins).
pub struct Client {
    pub meeting: Meeting,
}

/// Times a join whose connection dropped before the server answered is tried again.
const JOIN_ATTEMPTS: u32 = 5;

/// Joins as an application would: a join that fails with `0012` (the connection dropped, or
/// the welcome did not come within the attempt timeout, before the server answered) is
/// retryable, and is tried again up to [`JOIN_ATTEMPTS`] times. Returns how many retries it took.
pub async fn join_retrying(meeting: &Meeting) -> Result<u32, String> {
    let mut retries = 0;
    loop {
        match meeting.join().await {
            Ok(()) => return Ok(retries),
            Err(convene_client::ClientError::ConnectionLost) if retries + 1 < JOIN_ATTEMPTS => retries += 1,
            Err(e) => return Err(format!("join failed after {} attempts: {e}", retries + 1)),
        }
    }
}

/// A client's events.
pub type Events = Box<dyn futures_util::Stream<Item = Event> + Send + Unpin>;

impl Client {
    /// Subscribes to the client's events; the stream must be read, as an application would, or
    /// they pile up.
    pub fn events(&self) -> Events {
        Box::new(self.meeting.events())
    }
}

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}").map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

impl Target {
    /// Starts the server (in this process or a child) or connects to a running one.
    pub async fn new(mode: ServerMode) -> Result<Self, String> {
        // Idle connections are dropped before a Convene server's keep-alive limit (10 s) closes
        // them, so that no request goes out on a connection the server is closing.
        let http = reqwest::Client::builder()
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| convene_core::error::with_causes(&e))?;
        let (base, token, account, app, server, child) = match mode {
            ServerMode::InProcess => {
                let mut config = convene_server::ServerConfig::ephemeral();
                config.timings.outgoing_queue = 4096;
                // One client IP makes every request and connection here: no rate limits.
                config.limits = convene_server::limits::Limits::off();
                let s = convene_server::start(config).await.map_err(|e| e.to_string())?;
                let (account, app) = s.default_app.clone();
                (s.url(), s.admin_token.clone(), account, Some(app), Some(s), None)
            }
            ServerMode::Child => {
                let c = ChildServer::spawn("serve", &[]).await?;
                let field = |k: &str| c.ready[k].as_str().map(str::to_owned).ok_or(format!("serve: no {k}"));
                let (base, token, account, app) =
                    (field("url")?, field("admin_token")?, field("account")?, field("app")?);
                (base, token, account, Some(app), None, Some(c))
            }
            ServerMode::Remote { url, admin_token } => {
                (url.trim_end_matches('/').to_owned(), admin_token, "local".to_owned(), None, None, None)
            }
        };
        let reconnect = ReconnectPolicy { max_attempts: 3, ..ReconnectPolicy::default() };
        let client_bases = vec![base.clone()];
        let mut t = Self { base, client_bases, reconnect, kit: String::new(), token, http, _server: server, child };
        let app = match app {
            Some(app) => app,
            None => {
                let apps = t.get(&format!("{}/client/v4/accounts/{account}/realtime/kit/apps", t.base)).await?;
                apps["data"][0]["id"].as_str().ok_or("the server has no app under account local")?.to_owned()
            }
        };
        t.kit = format!("{}/client/v4/accounts/{account}/realtime/kit/{app}", t.base);
        Ok(t)
    }

    /// Live tasks and rooms of the server, when it runs in a child process.
    pub async fn server_runtime(&mut self) -> Option<Value> {
        self.child.as_mut()?.runtime_stats().await.ok()
    }

    /// Open files of the server, when it runs in a child process.
    pub fn server_open_files(&self) -> Option<usize> {
        let pid = self.child.as_ref()?.pid()?;
        Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
    }

    /// Memory and CPU of the server, when it runs in a child process.
    pub fn server_stats(&self) -> Option<ProcStats> {
        self.child.as_ref()?.pid().and_then(ProcStats::of)
    }

    async fn get(&self, url: &str) -> Result<Value, String> {
        let r = self.http.get(url).header("authorization", format!("Bearer {}", self.token)).send().await;
        let text = r
            .map_err(|e| convene_core::error::with_causes(&e))?
            .text()
            .await
            .map_err(|e| convene_core::error::with_causes(&e))?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// A REST call; returns the body's `data`.
    pub async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method.parse().map_err(|_| "method")?, format!("{}{path}", self.kit))
            .header("authorization", format!("Bearer {}", self.token));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| convene_core::error::with_causes(&e))?;
        let status = resp.status();
        let v: Value =
            serde_json::from_str(&resp.text().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {v}"));
        }
        Ok(v["data"].clone())
    }

    /// A preset whose participants see no participant list (the server sends them no roster
    /// and no join or leave of others), for crowds too large to hold N rosters of N in one
    /// process. Returns its name.
    pub async fn listless_preset(&self) -> Result<String, String> {
        let name = "load_listless";
        let body = json!({"name": name, "permissions": {"show_participant_list": false, "waiting_room_type": "SKIP"}});
        self.rest("POST", "/presets", Some(body)).await?;
        Ok(name.to_owned())
    }

    /// A meeting and `n` participants with `preset`, named `{prefix}{i}`; returns the meeting
    /// id and the participants' tokens.
    pub async fn meeting_with(&self, n: usize, preset: &str) -> Result<(String, Vec<String>), String> {
        let meeting = self.rest("POST", "/meetings", Some(json!({"title": "load"}))).await?;
        let id = meeting["id"].as_str().ok_or("meeting id")?.to_owned();
        let tokens = self.participants(&id, n, preset, "p").await?;
        Ok((id, tokens))
    }

    /// `n` participants of `meeting` with `preset`, named `{prefix}{i}`; their tokens.
    pub async fn participants(
        &self,
        meeting: &str,
        n: usize,
        preset: &str,
        prefix: &str,
    ) -> Result<Vec<String>, String> {
        let bar = bar(n as u64, "participants");
        let path = format!("/meetings/{meeting}/participants");
        let made: Vec<Result<String, String>> = futures_util::stream::iter(0..n)
            .map(|i| {
                let body = json!({"custom_participant_id": format!("{prefix}{i}"), "preset_name": preset, "name": format!("{prefix}{i}")});
                let (path, bar) = (&path, &bar);
                async move {
                    let p = self.rest("POST", path, Some(body)).await?;
                    bar.inc(1);
                    p["token"].as_str().map(str::to_owned).ok_or_else(|| "token".to_owned())
                }
            })
            .buffered(16)
            .collect()
            .await;
        bar.finish_and_clear();
        made.into_iter().collect()
    }

    /// Initialises a native client per token (not joined yet).
    pub async fn clients(&self, tokens: &[String]) -> Result<Vec<Client>, String> {
        let bar = bar(tokens.len() as u64, "clients");
        let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut tasks = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let gate = gate.clone();
            let base = &self.client_bases[i % self.client_bases.len()];
            let mut options = InitOptions::new(base.clone(), token.clone());
            options.request_timeout = Duration::from_secs(60);
            options.reconnect = self.reconnect;
            let bar = bar.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let meeting = Meeting::init(options).await.map_err(|e| e.to_string())?;
                bar.inc(1);
                Ok::<_, String>(Client { meeting })
            }));
        }
        let mut clients = Vec::with_capacity(tasks.len());
        for t in tasks {
            clients.push(t.await.map_err(|e| e.to_string())??);
        }
        bar.finish_and_clear();
        Ok(clients)
    }

    /// Joins every client, a bounded number at a time (retrying as [`join_retrying`] does).
    /// Returns how many retries the joins took in all.
    pub async fn join_all(&self, clients: &[Client]) -> Result<u32, String> {
        let bar = bar(clients.len() as u64, "joining");
        let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut tasks = Vec::with_capacity(clients.len());
        for c in clients {
            let m = c.meeting.clone();
            let gate = gate.clone();
            let bar = bar.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let r = join_retrying(&m).await;
                bar.inc(1);
                r
            }));
        }
        let mut retries = 0;
        for t in tasks {
            retries += t.await.map_err(|e| e.to_string())??;
        }
        bar.finish_and_clear();
        Ok(retries)
    }

    /// Waits until every client's next event stream yields an event matching `pred`.
    pub async fn next_matching(
        events: &mut (dyn futures_util::Stream<Item = Event> + Send + Unpin),
        pred: fn(&Event) -> bool,
    ) -> bool {
        while let Some(e) = events.next().await {
            if pred(&e) {
                return true;
            }
        }
        false
    }
}
