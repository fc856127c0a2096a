//! Deterministic test harness: real participant cores driven against the real room machine
//! ([`SimServer`]) with simulated time, as quinn tests both ends of its protocol together.
//!
//! Frames go through the real encoder and decoder, so the harness also exercises the wire format.
//! `settle()` runs until nothing moves; `advance(ms)` moves the clock deadline by deadline.

#![allow(dead_code)]

pub mod invariants;
pub mod raw;
pub mod scenario_runner;
pub mod sim_server;

use std::collections::BTreeMap;

use convene_core::permissions::{Permissions, PermissionsPatch};
use convene_core::proto::{decode_client, encode_client, encode_server, MeetingInfo, RequestId};
use convene_core::{ClientError, Command, CommandOk, Config, Event, Output, Participant};

pub use sim_server::{ConnId, SimServer};

/// One simulated client.
pub struct Client {
    pub core: Participant,
    pub conn: Option<ConnId>,
    pub events: Vec<Event>,
    pub resolved: BTreeMap<RequestId, Result<CommandOk, ClientError>>,
    pub transmitted: usize,
    /// The last frame it sent (for tests that deliver it twice).
    pub last_sent: Option<convene_core::proto::ClientMessage>,
    /// Every message the server sent it, in order.
    pub received: Vec<convene_core::proto::ServerMessage>,
}

/// The server and its clients, with one clock.
pub struct World {
    pub now: u64,
    pub server: SimServer,
    pub clients: BTreeMap<String, Client>,
    pub seed: u64,
}

impl World {
    pub fn new() -> Self {
        Self::with_keep_alive(60_000)
    }

    pub fn with_keep_alive(keep_alive_ms: u64) -> Self {
        Self { now: 1_000, server: SimServer::new(keep_alive_ms), clients: BTreeMap::new(), seed: 1 }
    }

    /// A world whose server logs its events (keeping `capacity`), so that each restart is a
    /// takeover that replays from the log (cluster mode).
    pub fn with_event_log(keep_alive_ms: u64, capacity: usize) -> Self {
        let server = SimServer::with_event_log(keep_alive_ms, 1, capacity);
        Self { now: 1_000, server, clients: BTreeMap::new(), seed: 1 }
    }

    /// Adds a participant with a built-in preset and optional changes to it.
    pub fn add(&mut self, alias: &str, preset: &str, patch: Option<PermissionsPatch>) {
        let mut permissions = Permissions::built_in(preset).unwrap_or_else(|| panic!("unknown preset {preset}"));
        if let Some(patch) = patch {
            permissions.apply(&patch);
        }
        let reg = self.server.register(alias, preset, permissions);
        let meeting = MeetingInfo { id: self.server.meeting.id.clone(), title: self.server.meeting.title.clone() };
        let mut config = Config::new(reg.token, reg.info, meeting);
        self.seed += 1;
        config.seed = self.seed;
        let client = Client {
            core: Participant::new(config),
            conn: None,
            events: Vec::new(),
            resolved: BTreeMap::new(),
            transmitted: 0,
            last_sent: None,
            received: Vec::new(),
        };
        self.clients.insert(alias.to_owned(), client);
    }

    pub fn client(&self, alias: &str) -> &Client {
        self.clients.get(alias).unwrap_or_else(|| panic!("no participant {alias}"))
    }

    pub fn core(&self, alias: &str) -> &Participant {
        &self.client(alias).core
    }

    /// Runs a command and settles. Returns the local error, or the request's outcome.
    pub fn run(&mut self, alias: &str, command: Command) -> Result<CommandOk, ClientError> {
        let now = self.now;
        let req = self.clients.get_mut(alias).expect("participant").core.command(now, command)?;
        self.settle();
        match self.client(alias).resolved.get(&req) {
            Some(result) => result.clone(),
            None => panic!("{alias}: request {req} still pending after settling"),
        }
    }

    /// Issues a command without settling (for tests of in-flight behaviour).
    pub fn issue(&mut self, alias: &str, command: Command) -> Result<RequestId, ClientError> {
        let now = self.now;
        self.clients.get_mut(alias).expect("participant").core.command(now, command)
    }

    /// Delivers everything until no client and no server has anything left to do.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the world did not settle");
    }

    /// One round: drain every client's outputs, then deliver the server's. Returns whether
    /// anything happened.
    pub fn step(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        let aliases: Vec<String> = self.clients.keys().cloned().collect();
        for alias in &aliases {
            while let Some(output) = self.clients.get_mut(alias).unwrap().core.poll_output() {
                moved = true;
                self.apply_output(alias, output);
            }
        }
        let outbox = std::mem::take(&mut self.server.outbox);
        for (conn, msg) in outbox {
            moved = true;
            if let Some(alias) = self.alias_of(conn) {
                let text = encode_server(&msg);
                let client = self.clients.get_mut(&alias).unwrap();
                client.core.handle_frame(now, &text).expect("server frames decode");
                client.received.push(msg);
            }
        }
        let closed = std::mem::take(&mut self.server.closed);
        for conn in closed {
            moved = true;
            if let Some(alias) = self.alias_of(conn) {
                let client = self.clients.get_mut(&alias).unwrap();
                client.conn = None;
                client.core.handle_transport_closed(now);
            }
        }
        moved
    }

    fn alias_of(&self, conn: ConnId) -> Option<String> {
        self.clients.iter().find(|(_, c)| c.conn == Some(conn)).map(|(a, _)| a.clone())
    }

    fn apply_output(&mut self, alias: &str, output: Output) {
        let now = self.now;
        match output {
            Output::Connect => {
                let old = self.clients.get_mut(alias).unwrap().conn.take();
                if let Some(old) = old {
                    self.server.close(now, old);
                }
                let conn = self.server.open();
                let client = self.clients.get_mut(alias).unwrap();
                client.conn = conn;
                match conn {
                    Some(_) => client.core.handle_transport_opened(now),
                    None => client.core.handle_transport_closed(now),
                }
            }
            Output::Transmit(msg) => {
                let client = self.clients.get_mut(alias).unwrap();
                client.transmitted += 1;
                let Some(conn) = client.conn else { panic!("{alias}: transmit without a connection: {msg:?}") };
                let text = encode_client(&msg);
                let decoded = decode_client(&text).expect("client frames decode");
                client.last_sent = Some(decoded.clone());
                self.server.handle(now, conn, decoded);
            }
            Output::Disconnect => {
                if let Some(conn) = self.clients.get_mut(alias).unwrap().conn.take() {
                    self.server.close(now, conn);
                }
            }
            Output::Event(event) => self.clients.get_mut(alias).unwrap().events.push(event),
            Output::Resolved { req, result } => {
                let previous = self.clients.get_mut(alias).unwrap().resolved.insert(req, result);
                assert!(previous.is_none(), "{alias}: request {req} resolved twice");
            }
        }
    }

    /// The connection of `alias` drops (no leave).
    pub fn drop_connection(&mut self, alias: &str) {
        if let Some(conn) = self.client(alias).conn {
            self.server.drop_conn(self.now, conn);
        }
        self.settle();
    }

    /// Moves the clock forward by `ms`, firing every deadline on the way, then settles.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        self.settle();
        loop {
            let next = self
                .clients
                .values()
                .filter_map(|c| c.core.poll_timeout())
                .chain(self.server.next_deadline())
                .filter(|t| *t <= target)
                .min();
            let Some(t) = next else { break };
            self.now = self.now.max(t);
            let now = self.now;
            self.server.tick(now);
            for client in self.clients.values_mut() {
                if client.core.poll_timeout().is_some_and(|d| d <= now) {
                    client.core.handle_timeout(now);
                }
            }
            self.settle();
        }
        self.now = target;
        self.server.tick(target);
        self.settle();
    }

    /// The application events of `alias` as JSON payloads.
    pub fn payloads(&self, alias: &str) -> Vec<serde_json::Value> {
        self.client(alias).events.iter().map(Event::payload).collect()
    }

    /// How many events named `name` `alias` got.
    pub fn count(&self, alias: &str, name: &str) -> usize {
        self.client(alias).events.iter().filter(|e| e.name() == name).count()
    }
}
