//! The signalling WebSocket (`GET /v1/signal`): one task per connection. The first frame must be
//! `hello` within the handshake timeout; the token is checked (signature, expiry, revocation)
//! before the room sees anything. Frames over the size limit close the connection with 1009;
//! malformed frames get a 4400 error and change nothing.

use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::response::Response;
use convene_core::proto::{
    decode_client, encode_server, ClientMessage, CloseCode, ErrorCode, FrameError, ServerMessage, WireError,
    PROTOCOL_VERSION,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::auth::now_secs;
use crate::limits::{Bucket, Rate};
use crate::room::{Arrival, CloseReason, ConnHandle, NoRoom, Outgoing, RoomCommand};
use crate::serve::ConnectionSlot;
use crate::state::AppState;

/// The largest frame read off the socket at all; frames between the protocol limit and this are
/// read and refused with close code 1009.
const SOCKET_FRAME_LIMIT: usize = 1024 * 1024;

/// How long one write may take to go out before the connection is dropped as stuck.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// At most this many queued frames are written together (one flush, usually one syscall).
const WRITE_BATCH: usize = 64;

/// Bytes read off a socket at a time. Client frames are small (a larger one is still read
/// whole); the WebSocket library's default (128 KiB, zero-filled on each read) kept 128 KiB
/// resident per connection.
pub const READ_BUFFER: usize = 1024;

/// `GET /v1/signal`: upgrades to the signalling WebSocket. The upgraded socket keeps the TCP
/// connection's place in the listener's per-IP and total counts until it closes.
pub(crate) async fn signal(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    slot: Option<Extension<Arc<ConnectionSlot>>>,
) -> Response {
    ws.max_message_size(SOCKET_FRAME_LIMIT).max_frame_size(SOCKET_FRAME_LIMIT).read_buffer_size(READ_BUFFER).on_upgrade(
        move |socket| async move {
            let _slot = slot;
            connection(socket, state).await
        },
    )
}

type Sink = SplitSink<WebSocket, Message>;

/// Sends one message; false when it failed or the client did not take it within the send
/// timeout (a client that stops reading must not hold its task and its connection slot).
async fn send(sink: &mut Sink, msg: &ServerMessage) -> bool {
    let sent = sink.send(Message::Text(Utf8Bytes::from(encode_server(msg))));
    matches!(tokio::time::timeout(SEND_TIMEOUT, sent).await, Ok(Ok(())))
}

/// Sends a close frame, giving up after the send timeout.
async fn close(sink: &mut Sink, code: CloseCode, reason: impl Into<CloseReason>) {
    let reason = reason.into();
    tracing::debug!(code = code.code(), reason = &*reason, "closing a signalling connection");
    let reason = match reason {
        std::borrow::Cow::Borrowed(r) => Utf8Bytes::from_static(r),
        std::borrow::Cow::Owned(r) => Utf8Bytes::from(r),
    };
    let frame = Message::Close(Some(CloseFrame { code: code.code(), reason }));
    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(frame)).await;
}

fn error_msg(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error { req: None, error: WireError::new(code, message) }
}

/// Reads and decodes one text frame. `None` when the connection ended.
/// The client's next message (`None` once it has gone), counted in `convene_frames_in_total`.
async fn next_text(
    stream: &mut SplitStream<WebSocket>,
    metrics: &crate::metrics::Metrics,
) -> Option<Result<ClientMessage, FrameError>> {
    let frame = loop {
        match stream.next().await? {
            Ok(Message::Text(text)) => break decode_client(text.as_str()),
            Ok(Message::Binary(_)) => break Err(FrameError::Malformed("binary frames are not used".into())),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    };
    metrics.frame_in(frame.as_ref().ok().map(ClientMessage::kind));
    Some(frame)
}

/// Who a connection's `hello` says it is, once its token and participant are checked.
struct Greeted {
    claims: crate::auth::ParticipantClaims,
    participant: crate::model::Participant,
    resume: Option<convene_core::proto::Resume>,
}

/// The handshake: `hello` within the timeout, a protocol this server speaks, a valid token of a
/// participant that still exists. `None` when it failed (the client was told why).
async fn handshake(sink: &mut Sink, stream: &mut SplitStream<WebSocket>, state: &AppState) -> Option<Greeted> {
    let timings = &state.0.timings;
    // The handshake: hello, within the timeout.
    let hello = tokio::time::timeout(timings.handshake_timeout, next_text(stream, &state.0.metrics)).await;
    let (token, resume, protocol) = match hello {
        Err(_) => return reject(sink, CloseCode::PolicyViolation, "no hello in time").await,
        Ok(None) => return None,
        Ok(Some(Ok(ClientMessage::Hello { protocol, token, resume }))) => (token, resume, protocol),
        Ok(Some(Err(FrameError::TooLarge { .. }))) => {
            return reject(sink, CloseCode::TooLarge, "frame too large").await
        }
        Ok(Some(Ok(_))) => {
            send(sink, &error_msg(ErrorCode::MalformedFrame, "the first frame must be hello")).await;
            return reject(sink, CloseCode::PolicyViolation, "expected hello").await;
        }
        Ok(Some(Err(e))) => {
            send(sink, &error_msg(e.error_code(), e.to_string())).await;
            return reject(sink, CloseCode::PolicyViolation, "malformed hello").await;
        }
    };
    if protocol != PROTOCOL_VERSION {
        send(
            sink,
            &error_msg(
                ErrorCode::MalformedFrame,
                format!("unsupported protocol {protocol}; this server speaks {PROTOCOL_VERSION}"),
            ),
        )
        .await;
        return reject(sink, CloseCode::PolicyViolation, "unsupported protocol").await;
    }
    let claims = match state.0.tokens.verify(&token, now_secs()) {
        Ok(c) => c,
        Err(e) => {
            send(sink, &error_msg(ErrorCode::InvalidAuthToken, format!("invalid auth token: {e}"))).await;
            return reject(sink, CloseCode::PolicyViolation, "invalid auth token").await;
        }
    };
    let participant = match state.store().participant_by_id(&claims.participant_id).await {
        Ok(Some((p, home))) if home.meeting_id == claims.meeting_id && home.app_id == claims.app_id => p,
        Ok(_) => {
            send(sink, &error_msg(ErrorCode::InvalidAuthToken, "invalid auth token: the participant was removed"))
                .await;
            return reject(sink, CloseCode::PolicyViolation, "revoked token").await;
        }
        Err(e) => {
            tracing::error!(error = %e, "store failure during a handshake");
            send(sink, &error_msg(ErrorCode::Internal, "internal error")).await;
            return reject(sink, CloseCode::InternalError, "internal error").await;
        }
    };
    Some(Greeted { claims, participant, resume })
}

/// Closes a connection whose handshake failed.
async fn reject(sink: &mut Sink, code: CloseCode, reason: &'static str) -> Option<Greeted> {
    close(sink, code, reason).await;
    None
}

async fn connection(socket: WebSocket, state: AppState) {
    let (mut sink, mut stream) = socket.split();
    let timings = state.0.timings.clone();
    let Some(Greeted { claims, participant, resume }) = handshake(&mut sink, &mut stream, &state).await else { return };
    let Some(_counted) = state.0.limiter.connect(&participant.id) else {
        let message = "too many connections for this participant; retry later";
        send(&mut sink, &error_msg(ErrorCode::TooFast, message)).await;
        return close(&mut sink, CloseCode::TryAgainLater, "too many connections").await;
    };
    let room = match state.0.rooms.sender(&claims.app_id, &claims.meeting_id).await {
        Ok(room) => room,
        Err(NoRoom::NoSuchMeeting) => {
            let message = "invalid auth token: the meeting no longer exists";
            send(&mut sink, &error_msg(ErrorCode::InvalidAuthToken, message)).await;
            return close(&mut sink, CloseCode::PolicyViolation, "no such meeting").await;
        }
        Err(NoRoom::Unavailable) => {
            return close(&mut sink, CloseCode::TryAgainLater, "room unavailable; try again").await
        }
    };
    let (conn, rx) = ConnHandle::new(timings.outgoing_queue);
    let conn_id = conn.id;
    let kill = conn.kill.clone();
    let token_valid_for = std::time::Duration::from_millis(
        claims.exp.saturating_mul(1000).saturating_sub(crate::webhook::now_ms().max(0) as u64),
    );
    let arrival = Arrival { participant: participant.info(), resume, token_valid_for };
    if room.send(RoomCommand::Attach { conn, arrival }).await.is_err() {
        return close(&mut sink, CloseCode::TryAgainLater, "room unavailable; try again").await;
    }
    let _attached = state.0.metrics.peer_connected();
    let link = Link {
        room: &room,
        conn_id,
        kill: &kill,
        idle_timeout: timings.idle_timeout,
        stopping: state.stopping(),
        frames: state.0.limiter.frame_bucket(),
        limiter: &state.0.limiter,
        metrics: &state.0.metrics,
    };
    pump(&mut sink, &mut stream, rx, link).await;
    let _ = room.send(RoomCommand::Detach { conn_id }).await;
}

/// One attached connection's ends.
struct Link<'a> {
    room: &'a mpsc::Sender<RoomCommand>,
    conn_id: u64,
    kill: &'a tokio::sync::Notify,
    idle_timeout: std::time::Duration,
    stopping: tokio::sync::watch::Receiver<bool>,
    /// The frame-rate bucket, when frames are limited.
    frames: Option<(Bucket, Rate)>,
    /// Counts the frames it refuses.
    limiter: &'a crate::limits::Limiter,
    /// Counts the frames received ([`next_text`]).
    metrics: &'a crate::metrics::Metrics,
}

/// What woke a connection's task.
enum Wake {
    /// The room dropped the connection as too slow.
    Killed,
    /// The server is stopping.
    Stopping,
    /// The room queued something, or let go (`None`).
    Outgoing(Option<Outgoing>),
    /// The client sent something, or left (`None`).
    Incoming(Option<Result<ClientMessage, FrameError>>),
    /// The client was silent too long.
    Idle,
}

/// How a connection's task ends: with a close frame, or without one (the socket is gone).
enum End {
    Close(CloseCode, CloseReason),
    Gone,
}

/// Frame-rate limiting of one connection: the bucket, and the refusals allowed before a flooding
/// connection is closed (the burst, refilled at a tenth of the rate), so that a client sending
/// steadily above the rate is closed soon while one that overshoots now and then is only refused.
struct Limit {
    frames: Bucket,
    rate: Rate,
    patience: Bucket,
    patience_rate: Rate,
}

impl Limit {
    fn new((frames, rate): (Bucket, Rate)) -> Self {
        let patience_rate = Rate::new(rate.burst, rate.per_second / 10.0);
        Self { frames, rate, patience: Bucket::full(patience_rate, Instant::now()), patience_rate }
    }

    /// `Ok` when a frame may go to the room; `Err(true)` when the connection must close.
    fn take(&mut self, now: Instant) -> Result<(), bool> {
        if self.frames.take(self.rate, now).is_ok() {
            return Ok(());
        }
        Err(self.patience.take(self.patience_rate, now).is_err())
    }
}

/// Moves frames both ways until either side ends, the room drops the connection, the server
/// stops, or it idles.
async fn pump(sink: &mut Sink, stream: &mut SplitStream<WebSocket>, mut rx: mpsc::Receiver<Outgoing>, link: Link<'_>) {
    let Link { room, conn_id, kill, idle_timeout, mut stopping, frames, limiter, metrics } = link;
    let mut last_rx = Instant::now();
    let mut limit = frames.map(Limit::new);
    let end = loop {
        let idle_at = last_rx + idle_timeout;
        // Biased: a kill or a stop decides the close code before the closed channel that follows it.
        let wake = tokio::select! {
            biased;
            _ = kill.notified() => Wake::Killed,
            _ = stopping.changed() => Wake::Stopping,
            out = rx.recv() => Wake::Outgoing(out),
            incoming = next_text(stream, metrics) => Wake::Incoming(incoming),
            _ = tokio::time::sleep_until(idle_at.into()) => Wake::Idle,
        };
        let step = match wake {
            Wake::Killed => Err(End::Close(CloseCode::TryAgainLater, "too slow; resume".into())),
            Wake::Stopping => Err(End::Close(CloseCode::Restarting, "server restarting; resume".into())),
            Wake::Outgoing(Some(Outgoing::Frame(f))) => write_batch(sink, &mut rx, f).await,
            Wake::Outgoing(Some(Outgoing::Close(code, reason))) => Err(End::Close(code, reason)),
            // The room let go: because the server is stopping (resume later), or the stay ended.
            Wake::Outgoing(None) if *stopping.borrow() => {
                Err(End::Close(CloseCode::Restarting, "server restarting; resume".into()))
            }
            Wake::Outgoing(None) => Err(End::Close(CloseCode::Normal, "closed".into())),
            Wake::Incoming(incoming) => {
                last_rx = Instant::now();
                let limit = limit.as_mut().map(|l| (l, limiter));
                receive(sink, room, conn_id, limit, incoming).await
            }
            Wake::Idle => Err(End::Close(CloseCode::Idle, "idle".into())),
        };
        if let Err(end) = step {
            break end;
        }
    };
    if let End::Close(code, reason) = end {
        close(sink, code, reason).await;
    }
}

/// Writes a frame and those queued behind it in one write (one flush, usually one syscall). A
/// client that stops reading blocks the write: it is given up on after the send timeout (the
/// room already counts it away or gone; it resumes if it comes back).
async fn write_batch(sink: &mut Sink, rx: &mut mpsc::Receiver<Outgoing>, first: Utf8Bytes) -> Result<(), End> {
    let mut then_close = None;
    let written = async {
        sink.feed(Message::Text(first)).await?;
        for _ in 1..WRITE_BATCH {
            match rx.try_recv() {
                Ok(Outgoing::Frame(f)) => sink.feed(Message::Text(f)).await?,
                Ok(Outgoing::Close(code, reason)) => {
                    then_close = Some((code, reason));
                    break;
                }
                Err(_) => break,
            }
        }
        sink.flush().await
    };
    match tokio::time::timeout(SEND_TIMEOUT, written).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "a write failed; connection dropped");
            return Err(End::Gone);
        }
        Err(_) => {
            tracing::debug!("a write took over the send timeout; connection dropped");
            return Err(End::Gone);
        }
    }
    match then_close {
        Some((code, reason)) => Err(End::Close(code, reason)),
        None => Ok(()),
    }
}

/// Hands what the client sent to the room, once the frame rate allows it; a frame over the rate
/// is refused (`4429` to a request), and a connection that keeps flooding is closed.
async fn receive(
    sink: &mut Sink,
    room: &mpsc::Sender<RoomCommand>,
    conn_id: u64,
    limit: Option<(&mut Limit, &crate::limits::Limiter)>,
    incoming: Option<Result<ClientMessage, FrameError>>,
) -> Result<(), End> {
    let Some(frame) = incoming else { return Err(End::Gone) };
    if let Some((limit, limiter)) = limit {
        let taken = limit.take(Instant::now());
        if taken.is_err() {
            limiter.frame_refused();
        }
        match taken {
            Ok(()) => {}
            Err(true) => return Err(End::Close(CloseCode::PolicyViolation, "too many messages".into())),
            Err(false) => {
                if let Some(req) = frame.as_ref().ok().and_then(ClientMessage::request_id) {
                    let error = WireError::new(ErrorCode::TooFast, "too many messages; slow down");
                    if !send(sink, &ServerMessage::Error { req: Some(req), error }).await {
                        return Err(End::Gone);
                    }
                }
                return Ok(());
            }
        }
    }
    let cmd = match frame {
        Err(FrameError::TooLarge { .. }) => return Err(End::Close(CloseCode::TooLarge, "frame too large".into())),
        Ok(msg) => RoomCommand::Frame { conn_id, msg },
        Err(e) => RoomCommand::BadFrame { conn_id, code: e.error_code(), message: e.to_string() },
    };
    if room.send(cmd).await.is_err() {
        return Err(End::Close(CloseCode::TryAgainLater, "room unavailable; try again".into()));
    }
    Ok(())
}
