//! The connection: opening, the handshake, drops, reconnection with backoff, keep-alive, and
//! request deadlines.

use crate::error::ClientError;
use crate::event::Event;
use crate::proto::{ClientMessage, Resume, PROTOCOL_VERSION};
use crate::state::{LeaveState, RoomState, SocketConnectionState, SocketState};

use super::{Link, Output, Participant, PendingKind};

impl Participant {
    /// Asks the driver for a connection.
    pub(super) fn connect(&mut self, now: u64) {
        self.link = Link::Connecting { since: now };
        self.outputs.push_back(Output::Connect);
    }

    /// Closes the connection without reconnecting (a failed join).
    pub(super) fn drop_link(&mut self) {
        if self.link != Link::Down {
            self.link = Link::Down;
            self.outputs.push_back(Output::Disconnect);
        }
    }

    /// The transport the core asked for with [`Output::Connect`] is open.
    pub fn handle_transport_opened(&mut self, now: u64) {
        if !matches!(self.link, Link::Connecting { .. }) {
            tracing::debug!("transport opened when none was asked for; ignored");
            return;
        }
        self.link = Link::Handshaking { since: now };
        self.last_rx_at = now;
        let resume = match (self.room, &self.peer_id) {
            (RoomState::Disconnected, Some(peer_id)) => {
                Some(Resume { peer_id: peer_id.clone(), last_seq: self.last_seq })
            }
            _ => None,
        };
        let token = self.config.auth_token.clone();
        self.transmit(now, ClientMessage::Hello { protocol: PROTOCOL_VERSION, token, resume });
    }

    /// The transport closed, or could not be opened.
    pub fn handle_transport_closed(&mut self, now: u64) {
        match self.link {
            Link::Down | Link::Backoff { .. } => {}
            Link::Connecting { .. } | Link::Handshaking { .. } | Link::Up => self.link_lost(now),
        }
    }

    /// Handles every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: u64) {
        self.expire_requests(now);
        match self.link {
            Link::Backoff { retry_at } if now >= retry_at => self.connect(now),
            Link::Connecting { since } | Link::Handshaking { since }
                if now >= since + self.config.reconnect.attempt_timeout_ms =>
            {
                tracing::debug!("connection attempt timed out");
                self.outputs.push_back(Output::Disconnect);
                self.link_lost(now);
            }
            Link::Up => {
                let keepalive = self.config.keepalive;
                if now >= self.last_rx_at + keepalive.dead_after_ms {
                    tracing::info!("no traffic from the server; connection considered dead");
                    self.outputs.push_back(Output::Disconnect);
                    self.link_lost(now);
                } else if now >= self.last_tx_at + keepalive.ping_interval_ms {
                    self.transmit(now, ClientMessage::Ping {});
                }
            }
            _ => {}
        }
    }

    fn expire_requests(&mut self, now: u64) {
        let expired: Vec<(u64, PendingKind)> =
            self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(r, p)| (*r, p.kind)).collect();
        let after_ms = self.config.request_timeout_ms;
        for (req, kind) in expired {
            match kind {
                // Leaving always succeeds locally; the server notices the closed connection.
                PendingKind::Leave => self.finish(LeaveState::Left),
                PendingKind::Join => {
                    self.resolve(req, Err(ClientError::Timeout { after_ms }));
                    if self.room == RoomState::Init {
                        self.drop_link();
                    }
                }
                PendingKind::KickAll | PendingKind::Other => self.resolve(req, Err(ClientError::Timeout { after_ms })),
            }
        }
    }

    /// The connection is gone without the core asking: fail what was in flight, then reconnect
    /// if there is a stay to resume.
    fn link_lost(&mut self, now: u64) {
        if self.leave_sent && !self.room.is_terminal() {
            // Gone while leaving: the leave is done as far as anyone can tell.
            self.link = Link::Down;
            self.finish(LeaveState::Left);
            return;
        }
        match self.room {
            RoomState::Init => {
                if let Some(req) = self.join_req {
                    self.resolve(req, Err(ClientError::ConnectionLost));
                }
                self.link = Link::Down;
            }
            RoomState::Joined | RoomState::Waitlisted => {
                // An accepted kick-all waits for the end, which the resume will bring.
                let in_flight: Vec<u64> =
                    self.pending.iter().filter(|(_, p)| p.accepted.is_none()).map(|(r, _)| *r).collect();
                for req in in_flight {
                    self.resolve(req, Err(ClientError::ConnectionLost));
                }
                self.resume_to = Some(self.room);
                self.room = RoomState::Disconnected;
                tracing::info!("connection lost; reconnecting");
                self.emit(Event::RoomLeft { state: LeaveState::Disconnected });
                self.schedule_retry(now, 1);
            }
            RoomState::Disconnected => {
                let next = self.socket.reconnection_attempt + 1;
                if next > self.config.reconnect.max_attempts {
                    self.link = Link::Down;
                    self.finish(LeaveState::Failed { attempts: self.socket.reconnection_attempt });
                } else {
                    self.schedule_retry(now, next);
                }
            }
            RoomState::Left | RoomState::Kicked | RoomState::Ended | RoomState::Rejected | RoomState::Failed => {
                self.link = Link::Down;
            }
        }
    }

    fn schedule_retry(&mut self, now: u64, attempt: u32) {
        let delay = self.config.reconnect.delay_ms(attempt, &mut self.rng);
        self.link = Link::Backoff { retry_at: now + delay };
        tracing::debug!(attempt, delay, "reconnect scheduled");
        self.set_socket(SocketState {
            state: SocketConnectionState::Reconnecting,
            reconnected: self.socket.reconnected,
            reconnection_attempt: attempt,
        });
    }
}
