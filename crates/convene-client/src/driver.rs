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
    #[cfg(feature = "fault-injection")]
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

/// The driver's IO state: the socket, a connection being opened, the callers waiting for
/// their requests, and a simulated outage. No room state: that is the core's.
#[derive(Default)]
struct Link {
    ws: Option<Ws>,
    connecting: Option<Connecting>,
    waiters: Waiters<oneshot::Sender<Result<CommandOk, ClientError>>>,
    /// During a simulated outage, a connection the core asks for waits until the outage ends.
    #[cfg(feature = "fault-injection")]
    outage: bool,
    #[cfg(feature = "fault-injection")]
    deferred_connect: bool,
}

/// What woke the driver.
enum Input {
    Command(Option<DriverCommand>),
    Opened(Result<Box<Ws>, tokio_tungstenite::tungstenite::Error>),
    Frame(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Timeout,
}

impl Driver {
    /// Runs until the [`crate::Meeting`] handles are gone: applies every output of the core,
    /// then waits for the next input (a command, the socket, the timer) and hands it to the core.
    pub async fn run(mut self) {
        let epoch = Instant::now();
        let mut link = Link::default();
        loop {
            if self.apply_outputs(&mut link, epoch).await {
                continue;
            }
            match self.next_input(&mut link, epoch).await {
                Input::Command(None) => break,
                Input::Command(Some(command)) => self.on_command(&mut link, command, epoch),
                Input::Opened(result) => self.on_opened(&mut link, result, epoch),
                Input::Frame(frame) => self.on_frame(&mut link, frame, epoch),
                Input::Timeout => lock(&self.core).handle_timeout(millis(epoch)),
            }
        }
        if let Some(mut s) = link.ws {
            let _ = s.close(None).await;
        }
    }

    /// Drains and applies the core's outputs; false when there were none.
    async fn apply_outputs(&mut self, link: &mut Link, epoch: Instant) -> bool {
        let outputs: Vec<Output> = {
            let mut core = lock(&self.core);
            std::iter::from_fn(|| core.poll_output()).collect()
        };
        if outputs.is_empty() {
            return false;
        }
        // Sockets to close and memory to free once the events are out (see below).
        let mut closing = Vec::new();
        for output in outputs {
            self.apply(link, output, &mut closing, epoch).await;
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
        true
    }

    async fn apply(&mut self, link: &mut Link, output: Output, closing: &mut Vec<Ws>, epoch: Instant) {
        match output {
            Output::Connect => {
                if let Some(mut old) = link.ws.take() {
                    let _ = old.close(None).await;
                }
                #[cfg(feature = "fault-injection")]
                if link.outage {
                    link.deferred_connect = true;
                    return;
                }
                link.connecting = Some(self.connect());
            }
            Output::Transmit(msg) => {
                let text = encode_client(&msg);
                let sent = match link.ws.as_mut() {
                    Some(s) => s.send(Message::Text(text.into())).await.is_ok(),
                    None => false,
                };
                if !sent {
                    tracing::debug!("send failed; the connection is gone");
                    link.ws = None;
                    lock(&self.core).handle_transport_closed(millis(epoch));
                }
            }
            Output::Disconnect => {
                link.connecting = None;
                closing.extend(link.ws.take());
            }
            Output::Event(event) => self.publish(event),
            Output::Resolved { req, result } => {
                if let Some(waiter) = link.waiters.take(req) {
                    let _ = waiter.send(result);
                }
            }
        }
    }

    /// Waits for whichever input comes first.
    async fn next_input(&mut self, link: &mut Link, epoch: Instant) -> Input {
        let deadline = lock(&self.core).poll_timeout().map(|at| epoch + std::time::Duration::from_millis(at));
        tokio::select! {
            cmd = self.commands.recv() => Input::Command(cmd),
            result = opened(&mut link.connecting) => Input::Opened(result.map(Box::new)),
            frame = next_frame(&mut link.ws) => Input::Frame(frame),
            _ = sleep(deadline) => Input::Timeout,
        }
    }

    fn on_command(&mut self, link: &mut Link, command: DriverCommand, epoch: Instant) {
        match command {
            DriverCommand::Run(command, answer) => match lock(&self.core).command(millis(epoch), command) {
                Ok(req) => link.waiters.insert(req, answer),
                Err(e) => {
                    let _ = answer.send(Err(e));
                }
            },
            #[cfg(feature = "fault-injection")]
            DriverCommand::Outage(true, done) => {
                link.outage = true;
                let was_connected = link.ws.take().is_some() || link.connecting.take().is_some();
                if was_connected {
                    lock(&self.core).handle_transport_closed(millis(epoch));
                }
                let _ = done.send(());
            }
            #[cfg(feature = "fault-injection")]
            DriverCommand::Outage(false, done) => {
                link.outage = false;
                if std::mem::take(&mut link.deferred_connect) {
                    link.connecting = Some(self.connect());
                }
                let _ = done.send(());
            }
        }
    }

    fn on_opened(
        &mut self,
        link: &mut Link,
        result: Result<Box<Ws>, tokio_tungstenite::tungstenite::Error>,
        epoch: Instant,
    ) {
        link.connecting = None;
        match result {
            Ok(stream) => {
                link.ws = Some(*stream);
                lock(&self.core).handle_transport_opened(millis(epoch));
            }
            Err(e) => {
                tracing::debug!(error = %e, "connection failed");
                lock(&self.core).handle_transport_closed(millis(epoch));
            }
        }
    }

    fn on_frame(
        &mut self,
        link: &mut Link,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        epoch: Instant,
    ) {
        match frame {
            Some(Ok(Message::Text(text))) => {
                if let Err(e) = lock(&self.core).handle_frame(millis(epoch), text.as_str()) {
                    tracing::warn!(error = %e, "a frame from the server was refused");
                }
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                link.ws = None;
                lock(&self.core).handle_transport_closed(millis(epoch));
            }
            Some(Ok(_)) => {}
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

/// The core's clock: milliseconds since the driver started.
fn millis(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
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
