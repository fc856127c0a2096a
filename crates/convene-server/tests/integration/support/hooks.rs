//! A webhook receiver on loopback that answers each request as scripted: a status, a status
//! after holding the request, a redirect, or never.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// This status at once.
    Status(u16),
    /// This status after holding the request this long.
    After(Duration, u16),
    /// `307` to this URL.
    Redirect(String),
    /// Never: the request is held until the client gives up.
    Never,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    /// When it arrived.
    pub at: Instant,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: String,
}

/// A receiver at `url`, answering from its script, then `200`.
#[derive(Clone)]
pub struct Hook {
    pub url: String,
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Hook {
    /// Starts a receiver on a loopback port.
    pub async fn start(script: Vec<Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hook = Hook { url, got: Arc::default(), script: Arc::new(Mutex::new(script.into())) };
        let state = hook.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move { state.answer(headers, body).await }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        hook
    }

    async fn answer(&self, headers: HeaderMap, body: String) -> Response {
        self.got.lock().unwrap().push(Got { at: Instant::now(), headers, body });
        let next = self.script.lock().unwrap().pop_front().unwrap_or(Answer::Status(200));
        match next {
            Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
            Answer::After(hold, code) => {
                tokio::time::sleep(hold).await;
                StatusCode::from_u16(code).unwrap().into_response()
            }
            Answer::Redirect(to) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response(),
            Answer::Never => std::future::pending().await,
        }
    }

    /// What arrived so far.
    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} requests at {}, got {}", self.url, self.got().len());
    }
}
