//! What a relaying node and a meeting's owner say to each other about relayed clients, over the
//! bus ([`crate::cluster::bus`]). A relaying node names each of its connections by its own id
//! and each of its relay's lives by a random `link` id; the owner numbers what it sends to one
//! link from 1, so that the relay sees a message lost in between.

use convene_core::proto::ClientMessage;
use serde::{Deserialize, Serialize};

use super::Arrival;

/// From a relaying node to the meeting's owner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Up {
    /// A connection of the relay's sent `hello` with a valid token.
    Attach {
        /// The relay's life.
        link: u64,
        /// The connection, by the relaying node's id.
        conn: u64,
        /// Who it is.
        arrival: Arrival,
    },
    /// A connection sent a command.
    Frame {
        /// The relay's life.
        link: u64,
        /// The connection.
        conn: u64,
        /// The command.
        msg: ClientMessage,
    },
    /// A connection sent a frame that could not be decoded.
    BadFrame {
        /// The relay's life.
        link: u64,
        /// The connection.
        conn: u64,
        /// The error code to answer ([`convene_core::proto::ErrorCode`]).
        code: u16,
        /// What was wrong.
        message: String,
    },
    /// A connection closed.
    Detach {
        /// The relay's life.
        link: u64,
        /// The connection.
        conn: u64,
    },
}

/// From the meeting's owner to one relay.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Down {
    /// The relay's life this is for (a message for an earlier life is stale).
    pub(crate) link: u64,
    /// What to do.
    pub(crate) op: DownOp,
}

/// What the owner tells a relay to do.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum DownOp {
    /// Send this text frame to each of these connections (one message per event and node).
    Frames {
        /// The connections, by the relaying node's ids.
        conns: Vec<u64>,
        /// The frame.
        text: String,
    },
    /// Close these connections (the closes of one turn of the room, for one relay, with one
    /// code and reason, go in one message: a kick-all's are one per relay).
    Close {
        /// The connections, by the relaying node's ids.
        conns: Vec<u64>,
        /// The close code ([`convene_core::proto::CloseCode`]).
        code: u16,
        /// Why.
        reason: String,
    },
}
