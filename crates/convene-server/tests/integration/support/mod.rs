//! Test support: an embedded server on an ephemeral loopback port, a small REST helper, and a raw
//! protocol client (WebSocket frames in and out, no state machine) for server-side tests.

#![allow(dead_code)]

pub mod hooks;
pub mod nginx;

use std::time::Duration;

use convene_core::proto::{decode_server, encode_client, ClientMessage, Resume, ServerMessage, PROTOCOL_VERSION};
use convene_server::limits::Limits;
use convene_server::{DataLocation, RunningServer, ServerConfig, Timings};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Fast timings for tests.
pub fn fast_timings() -> Timings {
    Timings {
        away_grace: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(30),
        webhook_retry_base: Duration::from_millis(50),
        webhook_max_attempts: 5,
        webhook_attempt_timeout: Duration::from_secs(10),
        outbox_retention: Duration::from_secs(3600),
        room_idle: Duration::from_secs(30),
        outgoing_queue: 1024,
        ..Timings::default()
    }
}

/// A running server and what tests need to talk to it.
pub struct TestServer {
    pub server: RunningServer,
    pub token: String,
    pub account: String,
    pub app: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(DataLocation::Memory, fast_timings(), None).await
    }

    pub async fn start_with(data: DataLocation, timings: Timings, admin_token: Option<&str>) -> Self {
        Self::start_limited(data, timings, admin_token, Limits::default()).await
    }

    pub async fn start_limited(
        data: DataLocation,
        timings: Timings,
        admin_token: Option<&str>,
        limits: Limits,
    ) -> Self {
        Self::start_config(|c| {
            c.data = data;
            c.timings = timings;
            c.admin_token = admin_token.map(str::to_owned);
            c.limits = limits;
        })
        .await
    }

    /// A server of the test defaults (in memory, fast timings, default limits, private webhook
    /// targets allowed) as `change` leaves them.
    pub async fn start_config(change: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig {
            timings: fast_timings(),
            // The tests' webhook receivers listen on loopback.
            webhooks: convene_server::webhook::WebhookOptions { allow_private: true, ca_file: None },
            ..ServerConfig::ephemeral()
        };
        change(&mut config);
        let server = convene_server::start(config).await.expect("server starts");
        let token = server.admin_token.clone();
        let (account, app) = server.default_app.clone();
        // Idle connections are dropped before the server's keep-alive limit (10 s) closes them,
        // so that a request never goes out on a connection the server is closing.
        Self { server, token, account, app }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `{base}/client/v4/accounts/{account}/realtime/kit/{app}`.
    pub fn kit(&self) -> String {
        format!("{}/client/v4/accounts/{}/realtime/kit/{}", self.url(), self.account, self.app)
    }

    /// A request with the admin token; returns the status and the JSON body (Null when empty).
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_as(&self.token.clone(), method, path, body).await
    }

    /// A request with a given bearer token, made in-process through the router (no socket; the
    /// peer address the limits count is loopback's, as over the socket). `path` is absolute
    /// (`/client/...`) or relative to [`TestServer::kit`].
    pub async fn api_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        use tower::ServiceExt;
        let uri = if path.starts_with("/client") || path.starts_with("/.well-known") || path.starts_with("/v1") {
            path.to_owned()
        } else {
            format!("/client/v4/accounts/{}/realtime/kit/{}{path}", self.account, self.app)
        };
        let request =
            axum::http::Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {token}"));
        let (request, body) = match body {
            Some(b) => (request.header("content-type", "application/json"), axum::body::Body::from(b.to_string())),
            None => (request, axum::body::Body::empty()),
        };
        let mut request = request.body(body).expect("a valid request");
        request.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
        let response = self.server.router().oneshot(request).await.expect("the router answers");
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    /// Creates a meeting; returns its id.
    pub async fn meeting(&self, body: Value) -> String {
        let (status, v) = self.api("POST", "/meetings", Some(body)).await;
        assert_eq!(status, 201, "{v}");
        v["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Adds a participant; returns (participant id, token).
    pub async fn participant(&self, meeting: &str, custom: &str, preset: &str) -> (String, String) {
        let body = json!({"custom_participant_id": custom, "preset_name": preset, "name": custom});
        let (status, v) = self.api("POST", &format!("/meetings/{meeting}/participants"), Some(body)).await;
        assert_eq!(status, 201, "{v}");
        (v["data"]["id"].as_str().unwrap().to_owned(), v["data"]["token"].as_str().unwrap().to_owned())
    }

    /// Creates a preset with these permissions changes over `group_call_participant`.
    pub async fn preset(&self, name: &str, permissions: Value) -> String {
        let (status, v) = self.api("POST", "/presets", Some(json!({"name": name, "permissions": permissions}))).await;
        assert_eq!(status, 201, "{v}");
        v["data"]["id"].as_str().unwrap().to_owned()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/signal", self.server.addr)
    }

    /// A client connected with `token` and joined (panics unless the join is answered).
    pub async fn joined(&self, token: &str) -> RawClient {
        let mut c = RawClient::connect(&self.ws_url(), token).await;
        c.join().await;
        c
    }
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A protocol-level client: frames in, frames out.
pub struct RawClient {
    ws: Ws,
    pub peer_id: String,
    pub last_seq: u64,
    next_req: u64,
}

impl RawClient {
    /// Connects without sending anything.
    pub async fn open(url: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        ws
    }

    /// Connects and says hello; panics unless welcomed.
    pub async fn connect(url: &str, token: &str) -> Self {
        Self::connect_resume(url, token, None).await.expect("welcomed")
    }

    /// Says hello on an open socket; panics unless welcomed.
    pub async fn hello(ws: Ws, token: &str) -> Self {
        Self::hello_resume(ws, token, None).await.expect("welcomed")
    }

    /// Connects and says hello (optionally resuming); returns the first answer when not welcomed.
    pub async fn connect_resume(url: &str, token: &str, resume: Option<Resume>) -> Result<Self, ServerMessage> {
        Self::hello_resume(Self::open(url).await, token, resume).await
    }

    async fn hello_resume(mut ws: Ws, token: &str, resume: Option<Resume>) -> Result<Self, ServerMessage> {
        let last_seq = resume.as_ref().map(|r| r.last_seq).unwrap_or(0);
        let hello = ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: token.to_owned(), resume };
        ws.send(Message::Text(encode_client(&hello).into())).await.unwrap();
        let mut client = Self { ws, peer_id: String::new(), last_seq, next_req: 1 };
        match client.recv().await {
            Some(ServerMessage::Welcome { peer_id, .. }) => {
                client.peer_id = peer_id;
                Ok(client)
            }
            Some(other) => Err(other),
            None => panic!("closed before any answer"),
        }
    }

    pub async fn send(&mut self, msg: &ClientMessage) {
        self.ws.send(Message::Text(encode_client(msg).into())).await.unwrap();
    }

    /// Sends `msg`; false when the connection is gone.
    pub async fn try_send(&mut self, msg: &ClientMessage) -> bool {
        self.ws.send(Message::Text(encode_client(msg).into())).await.is_ok()
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    pub fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    /// The next message (None when the connection closed), within five seconds.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        loop {
            let next =
                tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await.expect("a message within 5 s");
            match next {
                Some(Ok(Message::Text(t))) => {
                    let msg = decode_server(t.as_str()).expect("server frames decode");
                    if let ServerMessage::Event { seq, .. } = &msg {
                        assert!(*seq > self.last_seq, "sequence went from {} to {seq}", self.last_seq);
                        self.last_seq = *seq;
                    }
                    return Some(msg);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The close code the server sent (reading and dropping messages until then).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(5), self.ws.next()).await.expect("closed within 5 s");
            match next {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Messages until one matches `pred` (which is returned); panics if the connection closes.
    pub async fn until(&mut self, mut pred: impl FnMut(&ServerMessage) -> bool) -> ServerMessage {
        loop {
            match self.recv().await {
                Some(m) if pred(&m) => return m,
                Some(_) => continue,
                None => panic!("connection closed while waiting"),
            }
        }
    }

    /// Sends a command and waits for its reply or error.
    pub async fn call(&mut self, build: impl FnOnce(u64) -> ClientMessage) -> ServerMessage {
        let req = self.req();
        self.send(&build(req)).await;
        self.until(|m| matches!(m, ServerMessage::Reply { req: r, .. } | ServerMessage::Error { req: Some(r), .. } if *r == req))
            .await
    }

    /// Joins and waits for the join's reply.
    pub async fn join(&mut self) -> ServerMessage {
        self.call(|req| ClientMessage::Join { req, name: None }).await
    }

    /// Drops the connection without a leave.
    pub async fn drop_connection(mut self) -> (String, u64) {
        let _ = self.ws.close(None).await;
        (self.peer_id, self.last_seq)
    }
}

/// Says hello on an open socket and returns the first answer.
pub async fn hello_answer(ws: &mut Ws, token: &str, resume: Option<Resume>) -> ServerMessage {
    let hello = ClientMessage::Hello { protocol: PROTOCOL_VERSION, token: token.to_owned(), resume };
    ws.send(Message::Text(encode_client(&hello).into())).await.unwrap();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("an answer within 5 s");
        match next {
            Some(Ok(Message::Text(t))) => return decode_server(t.as_str()).expect("server frames decode"),
            Some(Ok(_)) => continue,
            other => panic!("closed before any answer: {other:?}"),
        }
    }
}

/// The close code the server sends on a raw socket (dropping messages until then).
pub async fn ws_close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("closed within 5 s");
        match next {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Whether `m` is a session event that `f` accepts.
pub fn is_event(m: &ServerMessage, f: impl Fn(&convene_core::proto::SessionEvent) -> bool) -> bool {
    matches!(m, ServerMessage::Event { event, .. } if f(event))
}

/// The error code of an `Error` message.
pub fn error_code(msg: &ServerMessage) -> Option<u16> {
    match msg {
        ServerMessage::Error { error, .. } => Some(error.code),
        _ => None,
    }
}
