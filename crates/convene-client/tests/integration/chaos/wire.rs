//! What went over the wire, as the proxy forwarded it: the proxy feeds every byte it has written to
//! either side into a per-connection parser (HTTP upgrade, then WebSocket frames), which records
//! the client's `hello` (fresh or resuming, with `last_seq`) and the server's `welcome`,
//! `resume_refused` and sequenced events. The native client hides its core's `last_seq`; this is
//! how the test sees exactly which events reached each client on each connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use convene_core::proto::{
    decode_client, decode_server, ClientMessage, Resume, ResumeRefusal, ServerMessage, SessionEvent,
};

/// One proxied connection as seen on the wire.
#[derive(Debug, Default)]
pub struct WireConn {
    /// The proxy's connection number (increasing in order of arrival).
    pub conn: u64,
    /// Whether it was upgraded to the signalling WebSocket.
    pub ws: bool,
    /// The client's hello: `Some(None)` fresh, `Some(Some(resume))` resuming.
    pub hello: Option<Option<Resume>>,
    /// The server's welcome: (peer id, resumed).
    pub welcome: Option<(String, bool)>,
    /// `can_spotlight` in the welcome's permissions.
    pub welcome_spotlight: Option<bool>,
    /// The server's refusal to resume.
    pub refused: Option<ResumeRefusal>,
    /// Sequenced events written to the client, in order.
    pub events: Vec<(u64, SessionEvent)>,
    /// Frames that did not decode (a test failure).
    pub garbage: Vec<String>,
    up: Parser,
    down: Parser,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    #[default]
    Http,
    Ws,
    Other,
}

#[derive(Debug, Default)]
struct Parser {
    buf: Vec<u8>,
    phase: Phase,
    message: Vec<u8>,
}

impl WireConn {
    /// Feeds bytes written to the server (`down == false`) or to the client (`down == true`).
    pub fn feed(&mut self, down: bool, bytes: &[u8]) {
        let mut messages = Vec::new();
        {
            let parser = if down { &mut self.down } else { &mut self.up };
            if parser.phase == Phase::Other {
                return;
            }
            parser.buf.extend_from_slice(bytes);
            parser.run(down, &mut self.ws, &mut messages);
        }
        for text in messages {
            self.message(down, &text);
        }
    }

    fn message(&mut self, down: bool, text: &str) {
        if down {
            match decode_server(text) {
                Ok(ServerMessage::Welcome { peer_id, resumed, self_info, .. }) => {
                    self.welcome = Some((peer_id, resumed));
                    self.welcome_spotlight = Some(self_info.permissions.can_spotlight);
                }
                Ok(ServerMessage::ResumeRefused { refusal }) => self.refused = Some(refusal),
                Ok(ServerMessage::Event { seq, event }) => self.events.push((seq, event)),
                Ok(_) => {}
                Err(e) => self.garbage.push(format!("server frame {text:?}: {e}")),
            }
        } else {
            match decode_client(text) {
                Ok(ClientMessage::Hello { resume, .. }) => self.hello = Some(resume),
                Ok(_) => {}
                Err(e) => self.garbage.push(format!("client frame {text:?}: {e}")),
            }
        }
    }
}

impl Parser {
    fn run(&mut self, down: bool, ws: &mut bool, out: &mut Vec<String>) {
        loop {
            match self.phase {
                Phase::Other => return,
                Phase::Http => {
                    let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if self.buf.len() > 64 * 1024 {
                            self.phase = Phase::Other;
                        }
                        return;
                    };
                    let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
                    self.buf.drain(..end + 4);
                    let upgrade = if down {
                        head.starts_with("HTTP/1.1 101")
                    } else {
                        head.starts_with("GET /v1/signal ") && head.to_ascii_lowercase().contains("upgrade: websocket")
                    };
                    if upgrade {
                        *ws = true;
                        self.phase = Phase::Ws;
                    } else {
                        self.phase = Phase::Other;
                        self.buf.clear();
                        return;
                    }
                }
                Phase::Ws => {
                    let Some((fin, opcode, payload, used)) = frame(&self.buf) else { return };
                    self.buf.drain(..used);
                    match opcode {
                        0x0 | 0x1 => {
                            self.message.extend_from_slice(&payload);
                            if fin {
                                let text = String::from_utf8_lossy(&self.message).to_string();
                                self.message.clear();
                                out.push(text);
                            }
                        }
                        0x8 => {
                            self.phase = Phase::Other;
                            return;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// One complete frame at the start of `buf`: (fin, opcode, unmasked payload, bytes used).
fn frame(buf: &[u8]) -> Option<(bool, u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let fin = buf[0] & 0x80 != 0;
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 => (u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])), 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if masked {
        let m: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(m)
    } else {
        None
    };
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let mut payload = buf.get(at..end)?.to_vec();
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Some((fin, opcode, payload, end))
}

/// Every connection of every tag (one tag per client, plus one for backend REST calls).
#[derive(Default)]
pub struct Wire {
    by_tag: Mutex<HashMap<usize, Vec<Arc<Mutex<WireConn>>>>>,
}

impl Wire {
    /// Starts recording a connection.
    pub fn open(&self, tag: usize, conn: u64) -> Arc<Mutex<WireConn>> {
        let c = Arc::new(Mutex::new(WireConn { conn, ..WireConn::default() }));
        self.by_tag.lock().unwrap().entry(tag).or_default().push(c.clone());
        c
    }

    /// A tag's WebSocket connections, in order of arrival, as (connection number, copy of what
    /// was seen).
    pub fn signalling(&self, tag: usize) -> Vec<Seen> {
        let conns = self.by_tag.lock().unwrap().get(&tag).cloned().unwrap_or_default();
        let mut out: Vec<Seen> = conns
            .iter()
            .filter_map(|c| {
                let c = c.lock().unwrap();
                c.ws.then(|| Seen {
                    conn: c.conn,
                    hello: c.hello.clone(),
                    welcome: c.welcome.clone(),
                    welcome_spotlight: c.welcome_spotlight,
                    refused: c.refused.clone(),
                    events: c.events.clone(),
                    garbage: c.garbage.clone(),
                })
            })
            .collect();
        out.sort_by_key(|s| s.conn);
        out
    }
}

/// A copy of one WebSocket connection's record.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Connection number.
    pub conn: u64,
    /// See [`WireConn::hello`].
    pub hello: Option<Option<Resume>>,
    /// See [`WireConn::welcome`].
    pub welcome: Option<(String, bool)>,
    /// See [`WireConn::welcome_spotlight`].
    pub welcome_spotlight: Option<bool>,
    /// See [`WireConn::refused`].
    pub refused: Option<ResumeRefusal>,
    /// See [`WireConn::events`].
    pub events: Vec<(u64, SessionEvent)>,
    /// See [`WireConn::garbage`].
    pub garbage: Vec<String>,
}

impl Seen {
    /// The peer this connection speaks for: the welcome's, else the resume's.
    pub fn peer(&self) -> Option<&str> {
        self.welcome
            .as_ref()
            .map(|(p, _)| p.as_str())
            .or_else(|| self.hello.as_ref().and_then(|h| h.as_ref()).map(|r| r.peer_id.as_str()))
    }
}
