//! A raw protocol client, one participant across connections, that survives a dead server: unlike
//! `support::RawClient` it treats a refused connection or a dead socket as an outcome, not a panic.
//! It records every event it applied and flags a repeated or decreasing `seq`.

use std::time::Duration;

use convene_core::proto::{
    decode_server, encode_client, ClientMessage, Resume, ResumeRefusal, ServerMessage, SessionEvent, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// A signalling WebSocket.
type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One participant, across connections.
#[derive(Default)]
pub struct Client {
    /// Its participant name, for messages.
    pub name: String,
    /// Its participant token.
    pub token: String,
    /// The current connection, if any.
    pub ws: Option<Ws>,
    /// The peer id of its current stay.
    pub peer_id: Option<String>,
    /// The last event `seq` applied in this stay.
    pub last_seq: u64,
    /// The server answered its join.
    pub admitted: bool,
    /// Every event applied, in order (a repeated or decreasing `seq` is recorded in `faults`).
    pub events: Vec<(u64, SessionEvent)>,
    /// The last answer to a resume.
    pub resumed: Option<bool>,
    /// The refusal of the last resume, if it was refused.
    pub refused: Option<ResumeRefusal>,
    /// What went wrong in the protocol, for the final assertion.
    pub faults: Vec<String>,
    /// The id of its last request.
    pub next_req: u64,
}

impl Client {
    /// Sends a message on the current connection; false when there is none or it is dead.
    pub async fn send(&mut self, msg: &ClientMessage) -> bool {
        match self.ws.as_mut() {
            Some(ws) => ws.send(Message::Text(encode_client(msg).into())).await.is_ok(),
            None => false,
        }
    }

    /// The next message within `wait` (None: closed, or nothing in time).
    pub async fn recv(&mut self, wait: Duration) -> Option<ServerMessage> {
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
    pub async fn hello(&mut self, url: &str, resume: bool) -> Option<ServerMessage> {
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

    /// Sends the request `make` builds and reads until its answer: the `Reply` or `Error` of that
    /// request (None: the connection ended, or nothing came for 5 s). Events read meanwhile are
    /// applied as usual.
    pub async fn call(&mut self, make: impl FnOnce(u64) -> ClientMessage) -> Option<ServerMessage> {
        self.next_req += 1;
        let req = self.next_req;
        if !self.send(&make(req)).await {
            return None;
        }
        loop {
            match self.recv(Duration::from_secs(5)).await? {
                answer @ (ServerMessage::Reply { req: r, .. } | ServerMessage::Error { req: Some(r), .. })
                    if r == req =>
                {
                    return Some(answer)
                }
                _ => continue,
            }
        }
    }

    /// Asks to join on the current connection; true once the server answered.
    pub async fn join(&mut self) -> bool {
        match self.call(|req| ClientMessage::Join { req, name: None }).await {
            Some(ServerMessage::Reply { .. }) => {
                self.admitted = true;
                true
            }
            Some(ServerMessage::Error { error, .. }) => {
                self.faults.push(format!("{}: join refused {error:?}", self.name));
                false
            }
            _ => false,
        }
    }

    /// Reads until the connection ends (or nothing came for `quiet`).
    pub async fn drain(&mut self, quiet: Duration) {
        while self.ws.is_some() {
            if self.recv(quiet).await.is_none() {
                break;
            }
        }
    }

    /// The end of the session, if it heard one.
    pub fn ended(&self) -> Option<convene_core::SessionEnd> {
        self.events.iter().rev().find_map(|(_, e)| match e {
            SessionEvent::SessionEnded { end } => Some(end.clone()),
            _ => None,
        })
    }
}
