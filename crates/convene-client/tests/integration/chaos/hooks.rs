//! A webhook receiver on a raw tokio socket (HTTP/1.1, keep-alive, `content-length` bodies) that
//! fails some deliveries on purpose, seeded per event (`rtk-uuid`) and attempt: it answers 500, or
//! drops the connection without answering, so that the server's outbox retries. After three
//! failures of one delivery it accepts it, which bounds the retry delays.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::rng::{hash, Rng};

/// How the receiver answered one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 200.
    Ok,
    /// 500 (the server retries).
    Error,
    /// The connection closed without an answer (the server retries).
    Dropped,
}

/// One delivery attempt as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `rtk-uuid`.
    pub uuid: String,
    /// `rtk-webhook-id`.
    pub webhook_id: String,
    /// The raw body.
    pub body: String,
    /// What the receiver answered.
    pub answer: Answer,
}

/// The receiver.
pub struct Hooks {
    /// Where the server should post (`http://127.0.0.1:port/hook`).
    pub url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    task: JoinHandle<()>,
}

impl Hooks {
    /// Starts a receiver whose failures are seeded by `seed`; `fail_chance` is the chance that one
    /// attempt fails (a quarter of the failures drop the connection, the rest answer 500).
    pub async fn start(seed: u64, fail_chance: f64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let state = got.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let state = state.clone();
                tokio::spawn(serve(socket, state, seed, fail_chance));
            }
        });
        Self { url, got, task }
    }

    /// Every attempt so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Attempts by `rtk-uuid`.
    pub fn by_uuid(&self) -> BTreeMap<String, Vec<Delivery>> {
        let mut map: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
        for d in self.deliveries() {
            map.entry(d.uuid.clone()).or_default().push(d);
        }
        map
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn decide(seed: u64, uuid: &str, attempt: usize, fail_chance: f64) -> Answer {
    if attempt >= 3 {
        return Answer::Ok;
    }
    let mut rng = Rng::new(seed ^ hash(uuid) ^ (attempt as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    if !rng.chance(fail_chance) {
        Answer::Ok
    } else if rng.chance(0.25) {
        Answer::Dropped
    } else {
        Answer::Error
    }
}

async fn serve(mut socket: TcpStream, got: Arc<Mutex<Vec<Delivery>>>, seed: u64, fail_chance: f64) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        // Headers.
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        buf.drain(..head_end + 4);
        let header = |name: &str| {
            head.lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        while buf.len() < length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[..length]).to_string();
        buf.drain(..length);
        let uuid = header("rtk-uuid");
        let answer = {
            let mut got = got.lock().unwrap();
            let attempt = got.iter().filter(|d| d.uuid == uuid).count();
            let answer = decide(seed, &uuid, attempt, fail_chance);
            got.push(Delivery { uuid, webhook_id: header("rtk-webhook-id"), body, answer });
            answer
        };
        let response: &[u8] = match answer {
            Answer::Ok => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            Answer::Error => b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
            Answer::Dropped => return,
        };
        if socket.write_all(response).await.is_err() {
            return;
        }
    }
}
