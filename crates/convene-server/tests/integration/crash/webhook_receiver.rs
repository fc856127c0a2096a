//! A webhook receiver that records every delivery (`rtk-uuid` and body), counts the requests in
//! flight and answers after a delay that the test sets (slow on demand), or is down (503) on
//! demand.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

/// The receiver's shared state; [`Receiver::start`] serves it.
#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<(String, String)>>>,
    /// Requests being answered now.
    pub in_flight: Arc<AtomicUsize>,
    /// How long each answer waits, ms.
    pub delay_ms: Arc<AtomicU64>,
    /// While set, the receiver is down: it answers 503 and records nothing.
    pub down: Arc<AtomicBool>,
    /// Requests answered 503 while down.
    pub refused: Arc<AtomicUsize>,
}

impl Receiver {
    /// Serves on a free local port; gives the receiver and its URL.
    pub async fn start() -> (Self, String) {
        let r = Receiver::default();
        let state = r.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    if state.down.load(Ordering::SeqCst) {
                        state.refused.fetch_add(1, Ordering::SeqCst);
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let uuid = headers.get("rtk-uuid").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    state.got.lock().unwrap().push((uuid, body));
                    state.in_flight.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(state.delay_ms.load(Ordering::SeqCst))).await;
                    state.in_flight.fetch_sub(1, Ordering::SeqCst);
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    /// Every delivery so far: (`rtk-uuid`, body), in order of arrival.
    pub fn got(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }
}
