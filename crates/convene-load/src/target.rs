//! The server under load: started in-process (ephemeral port, in-memory store) or a running one,
//! with a meeting and N participants made through the REST API, and N native clients.

use std::sync::Arc;
use std::time::Duration;

use convene::{Event, InitOptions, Meeting, ReconnectPolicy};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// How many connections are set up at once.
const SETUP_CONCURRENCY: usize = 128;

pub struct Target {
    pub base: String,
    kit: String,
    token: String,
    http: reqwest::Client,
    _server: Option<convene_server::RunningServer>,
}

/// A connected client and the stream of its events.
pub struct Client {
    pub meeting: Meeting,
    pub events: Box<dyn futures_util::Stream<Item = Event> + Send + Unpin>,
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
    /// Starts a server in-process, or uses the one at `server` with `admin_token`.
    pub async fn new(server: Option<String>, admin_token: Option<String>) -> Result<Self, String> {
        let http = reqwest::Client::new();
        match server {
            None => {
                let mut config = convene_server::ServerConfig::ephemeral();
                config.timings.outgoing_queue = 4096;
                let s = convene_server::start(config).await.map_err(|e| e.to_string())?;
                let (account, app) = s.default_app.clone();
                let base = s.url();
                let kit = format!("{base}/client/v4/accounts/{account}/realtime/kit/{app}");
                Ok(Self { base, kit, token: s.admin_token.clone(), http, _server: Some(s) })
            }
            Some(base) => {
                let token = admin_token.ok_or("--admin-token (or CONVENE_ADMIN_TOKEN) is needed with --server")?;
                let base = base.trim_end_matches('/').to_owned();
                let apps_url = format!("{base}/client/v4/accounts/local/realtime/kit/apps");
                let mut t = Self { base, kit: String::new(), token, http, _server: None };
                let apps = t.get(&apps_url).await?;
                let app = apps["data"][0]["id"].as_str().ok_or("the server has no app under account local")?.to_owned();
                t.kit = format!("{}/client/v4/accounts/local/realtime/kit/{app}", t.base);
                Ok(t)
            }
        }
    }

    async fn get(&self, url: &str) -> Result<Value, String> {
        let r = self.http.get(url).header("authorization", format!("Bearer {}", self.token)).send().await;
        let text = r.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
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
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value =
            serde_json::from_str(&resp.text().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {v}"));
        }
        Ok(v["data"].clone())
    }

    /// A meeting and `n` participants (`group_call_participant`); returns the meeting id and the
    /// participants' tokens.
    pub async fn meeting_with(&self, n: usize) -> Result<(String, Vec<String>), String> {
        let meeting = self.rest("POST", "/meetings", Some(json!({"title": "load"}))).await?;
        let id = meeting["id"].as_str().ok_or("meeting id")?.to_owned();
        let bar = bar(n as u64, "participants");
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let body = json!({"custom_participant_id": format!("p{i}"), "preset_name": "group_call_participant", "name": format!("P{i}")});
            let p = self.rest("POST", &format!("/meetings/{id}/participants"), Some(body)).await?;
            tokens.push(p["token"].as_str().ok_or("token")?.to_owned());
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok((id, tokens))
    }

    /// Initialises a native client per token (not joined yet).
    pub async fn clients(&self, tokens: &[String]) -> Result<Vec<Client>, String> {
        let bar = bar(tokens.len() as u64, "clients");
        let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut tasks = Vec::with_capacity(tokens.len());
        for token in tokens {
            let gate = gate.clone();
            let mut options = InitOptions::new(self.base.clone(), token.clone());
            options.request_timeout = Duration::from_secs(60);
            options.reconnect = ReconnectPolicy { max_attempts: 3, ..ReconnectPolicy::default() };
            let bar = bar.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let meeting = Meeting::init(options).await.map_err(|e| e.to_string())?;
                let events: Box<dyn futures_util::Stream<Item = Event> + Send + Unpin> = Box::new(meeting.events());
                bar.inc(1);
                Ok::<_, String>(Client { meeting, events })
            }));
        }
        let mut clients = Vec::with_capacity(tasks.len());
        for t in tasks {
            clients.push(t.await.map_err(|e| e.to_string())??);
        }
        bar.finish_and_clear();
        Ok(clients)
    }

    /// Joins every client, a bounded number at a time.
    pub async fn join_all(&self, clients: &[Client]) -> Result<(), String> {
        let bar = bar(clients.len() as u64, "joining");
        let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut tasks = Vec::with_capacity(clients.len());
        for c in clients {
            let m = c.meeting.clone();
            let gate = gate.clone();
            let bar = bar.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                let r = m.join().await.map_err(|e| e.to_string());
                bar.inc(1);
                r
            }));
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        bar.finish_and_clear();
        Ok(())
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
