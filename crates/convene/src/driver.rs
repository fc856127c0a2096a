//! The driver task: one per meeting. It owns the WebSocket and the timer, feeds the core every
//! input with the current time, and acts on every output. It keeps no room state of its own: the
//! core (shared behind a mutex that is never held across an await) answers every question.

use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use convene_core::contract::Waiters;
use convene_core::proto::encode_client;
use convene_core::{ClientError, Command, CommandOk, Event, Output, Participant};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Result<Ws, tokio_tungstenite::tungstenite::Error>> + Send>>;

/// What a [`crate::Meeting`] asks of its driver.
pub(crate) enum DriverCommand {
    /// Run a command; the answer comes when the server has acted (or a local check failed).
    Run(Command, oneshot::Sender<Result<CommandOk, ClientError>>),
    /// A network outage starts (the connection drops; reconnection waits) or ends (for tests of
    /// reconnection). The sender hears back once the driver has acted on it.
    Outage(bool, oneshot::Sender<()>),
}

/// The core, shared with the [`crate::Meeting`] handles for queries.
pub(crate) type SharedCore = Arc<Mutex<Participant>>;

pub(crate) fn lock(core: &SharedCore) -> MutexGuard<'_, Participant> {
    core.lock().unwrap_or_else(|p| p.into_inner())
}

/// Event subscribers; closed ones are dropped on the next event.
pub(crate) type Subscribers = Arc<Mutex<Vec<mpsc::UnboundedSender<Event>>>>;

pub(crate) struct Driver {
    pub core: SharedCore,
    pub ws_url: String,
    pub tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    pub commands: mpsc::Receiver<DriverCommand>,
    pub subscribers: Subscribers,
}

impl Driver {
    pub async fn run(mut self) {
        let epoch = Instant::now();
        let now = move || epoch.elapsed().as_millis() as u64;
        let mut ws: Option<Ws> = None;
        let mut connecting: Option<Connecting> = None;
        let mut waiters: Waiters<oneshot::Sender<Result<CommandOk, ClientError>>> = Waiters::new();
        // During a simulated outage, a connection the core asks for waits until the outage ends.
        let mut outage = false;
        let mut deferred_connect = false;
        loop {
            // Drain every output before waiting for anything.
            let outputs: Vec<Output> = {
                let mut core = lock(&self.core);
                std::iter::from_fn(|| core.poll_output()).collect()
            };
            if !outputs.is_empty() {
                // Sockets to close and memory to free once the events are out (see below).
                let mut closing = Vec::new();
                for output in outputs {
                    match output {
                        Output::Connect => {
                            if let Some(mut old) = ws.take() {
                                let _ = old.close(None).await;
                            }
                            if outage {
                                deferred_connect = true;
                            } else {
                                connecting = Some(self.connect());
                            }
                        }
                        Output::Transmit(msg) => {
                            let text = encode_client(&msg);
                            let sent = match ws.as_mut() {
                                Some(s) => s.send(Message::Text(text.into())).await.is_ok(),
                                None => false,
                            };
                            if !sent {
                                tracing::debug!("send failed; the connection is gone");
                                ws = None;
                                lock(&self.core).handle_transport_closed(now());
                            }
                        }
                        Output::Disconnect => {
                            connecting = None;
                            closing.extend(ws.take());
                        }
                        Output::Event(event) => self.publish(event),
                        Output::Resolved { req, result } => {
                            if let Some(waiter) = waiters.take(req) {
                                let _ = waiter.send(result);
                            }
                        }
                    }
                }
                // A terminal state: let the subscribers see `roomLeft` before the socket's close
                // handshake and the freeing of the roster (thousands of entries in a big room).
                let released = lock(&self.core).take_released();
                if released.is_some() || !closing.is_empty() {
                    tokio::task::yield_now().await;
                    drop(released);
                    for mut old in closing {
                        let _ = old.close(None).await;
                    }
                }
                continue;
            }
            let deadline = lock(&self.core).poll_timeout().map(|at| epoch + std::time::Duration::from_millis(at));
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    None => break,
                    Some(DriverCommand::Run(command, answer)) => {
                        let result = lock(&self.core).command(now(), command);
                        match result {
                            Ok(req) => waiters.insert(req, answer),
                            Err(e) => { let _ = answer.send(Err(e)); }
                        }
                    }
                    Some(DriverCommand::Outage(true, done)) => {
                        outage = true;
                        let was_connected = ws.take().is_some() || connecting.take().is_some();
                        if was_connected {
                            lock(&self.core).handle_transport_closed(now());
                        }
                        let _ = done.send(());
                    }
                    Some(DriverCommand::Outage(false, done)) => {
                        outage = false;
                        if std::mem::take(&mut deferred_connect) {
                            connecting = Some(self.connect());
                        }
                        let _ = done.send(());
                    }
                },
                result = opened(&mut connecting) => {
                    connecting = None;
                    match result {
                        Ok(stream) => {
                            ws = Some(stream);
                            lock(&self.core).handle_transport_opened(now());
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "connection failed");
                            lock(&self.core).handle_transport_closed(now());
                        }
                    }
                }
                frame = next_frame(&mut ws) => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Err(e) = lock(&self.core).handle_frame(now(), text.as_str()) {
                            tracing::warn!(error = %e, "a frame from the server was refused");
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        ws = None;
                        lock(&self.core).handle_transport_closed(now());
                    }
                    Some(Ok(_)) => {}
                },
                _ = sleep(deadline) => lock(&self.core).handle_timeout(now()),
            }
        }
        if let Some(mut s) = ws {
            let _ = s.close(None).await;
        }
    }

    fn connect(&self) -> Connecting {
        let url = self.ws_url.clone();
        let connector = tokio_tungstenite::Connector::Rustls(self.tls.clone());
        Box::pin(async move {
            tokio_tungstenite::connect_async_tls_with_config(url, Some(socket_config()), false, Some(connector))
                .await
                .map(|(stream, _)| stream)
        })
    }

    fn publish(&self, event: Event) {
        tracing::debug!(event = event.name(), "event");
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.retain(|tx| tx.send(event.clone()).is_ok());
    }
}

async fn sleep(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => pending().await,
    }
}

async fn opened(connecting: &mut Option<Connecting>) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    match connecting.as_mut() {
        Some(f) => f.await,
        None => pending().await,
    }
}

async fn next_frame(ws: &mut Option<Ws>) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
    match ws.as_mut() {
        Some(s) => s.next().await,
        None => pending().await,
    }
}

/// Bytes read off the socket at a time. The WebSocket library's default (128 KiB) is zero-filled
/// on every read; frames larger than this (a big room's roster) are still read whole.
const READ_BUFFER: usize = 16 * 1024;

/// The client's WebSocket settings (also used by the load tool's floor, so that both measure the
/// same socket handling).
pub fn socket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}
