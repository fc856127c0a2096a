//! The protocol's codes, defined once: error codes (in `error` frames and on the client's
//! [`ClientError`](crate::ClientError)) and WebSocket close codes. RealtimeKit's web codes where it
//! has one; `44xx` and `45xx` are Convene's own (a range RealtimeKit does not use: its `19xx` are
//! its livestream's). On the wire a code is a number, so that a client
//! keeps a code it does not know (a newer server's) as [`ClientError::Server`](crate::ClientError::Server).

/// Declares [`ErrorCode`] from one list: the variants, their numbers and their docs, which also
/// become the npm package's declarations (`ErrorCodes` in its `generated.d.ts`).
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal,)*) => {
        /// An error code.
        ///
        /// ```
        /// use convene_core::proto::ErrorCode;
        ///
        /// assert_eq!(ErrorCode::PermissionDenied.code(), 1201);
        /// assert_eq!(ErrorCode::from_code(1201), Some(ErrorCode::PermissionDenied));
        /// assert_eq!(ErrorCode::from_code(7777), None);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $name = $code,)*
        }

        impl ErrorCode {
            /// Every error code, in order.
            pub(crate) const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The code's documentation, one line.
            #[cfg(all(test, feature = "typescript"))]
            pub(crate) fn doc(self) -> String {
                let lines: &[&str] = match self {
                    $(ErrorCode::$name => &[$($doc),*],)*
                };
                lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
            }
        }
    };
}

error_codes! {
    /// `0001`: the client could not initialise (the server unreachable, a refused certificate,
    /// an unexpected answer).
    InitFailed = 1,
    /// `0002`: the join was refused (the meeting is `INACTIVE`).
    JoinRefused = 2,
    /// `0004`: the participant token is invalid, expired or revoked (at `hello`, or at `join` when
    /// the participant was deleted since).
    InvalidAuthToken = 4,
    /// `0012`: the connection was lost before the reply (client-side only).
    ConnectionLost = 12,
    /// `1001`: the preset lacks `can_record`.
    RecordingPermissionDenied = 1001,
    /// `1004`: no recording to stop.
    RecordingNotStarted = 1004,
    /// `1005`: a recording is already running.
    RecordingInProgress = 1005,
    /// `1200`: the server failed (its store, say); nothing was changed.
    Internal = 1200,
    /// `1201`: the preset lacks the permission (or a patch grants one the sender lacks).
    PermissionDenied = 1201,
    /// `1202`: no such participant (in the session, or in the waiting room).
    ParticipantNotFound = 1202,
    /// `1203`: the action cannot be done on oneself.
    ActionOnSelf = 1203,
    /// `1205`: not permitted without joining the room.
    NotJoined = 1205,
    /// `4501`: the room was left (a terminal state); create a new client (client-side only).
    RoomClosed = 4501,
    /// `4502`: no reply in time (client-side only).
    Timeout = 4502,
    /// `4503`: already joining or joined.
    AlreadyJoining = 4503,
    /// `4504`: an invalid argument.
    InvalidArgument = 4504,
    /// `4400`: a malformed frame (not JSON, not a known message, or not allowed now).
    MalformedFrame = 4400,
    /// `4413`: a frame over the size limit (the connection is also closed with
    /// [`CloseCode::TooLarge`]).
    FrameTooLarge = 4413,
    /// `4429`: too fast: a command over the connection's frame rate, or a connection over the
    /// participant's connection or peer cap (then closed with [`CloseCode::TryAgainLater`]).
    TooFast = 4429,
}

impl ErrorCode {
    /// The number on the wire.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The code of a number, if it is one of these.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }
}

/// A WebSocket close code the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// `1000`: the stay ended (left, kicked, rejected, the session ended, a resume refused).
    Normal = 1000,
    /// `1001`: the connection was silent for the idle timeout.
    Idle = 1001,
    /// `1008`: the handshake was refused (no `hello` in time, a bad or revoked token), or the
    /// client kept sending over the frame rate.
    PolicyViolation = 1008,
    /// `1009`: a frame over the size limit.
    TooLarge = 1009,
    /// `1011`: the server failed.
    InternalError = 1011,
    /// `1012`: the server is restarting: resume.
    Restarting = 1012,
    /// `1013`: try again later: too slow to keep up (resume), the room is restarting, or too many
    /// connections or peers of this participant.
    TryAgainLater = 1013,
    /// `4409`: replaced by a newer connection of the same peer.
    Replaced = 4409,
}

impl CloseCode {
    /// Every close code, in order.
    pub const ALL: [CloseCode; 8] = [
        CloseCode::Normal,
        CloseCode::Idle,
        CloseCode::PolicyViolation,
        CloseCode::TooLarge,
        CloseCode::InternalError,
        CloseCode::Restarting,
        CloseCode::TryAgainLater,
        CloseCode::Replaced,
    ];

    /// The number on the wire.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The close code with this number, if it is one the server sends.
    ///
    /// ```
    /// use convene_core::proto::CloseCode;
    /// assert_eq!(CloseCode::from_code(1013), Some(CloseCode::TryAgainLater));
    /// assert_eq!(CloseCode::from_code(1005), None);
    /// ```
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_round_trips_and_codes_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            assert!(seen.insert(c.code()), "{c:?} twice");
        }
    }

    #[test]
    fn convenes_own_codes_stay_out_of_realtimekits_modules() {
        use ErrorCode::*;
        // RealtimeKit's own codes, as its web package 2.0.2 throws them (and its documentation
        // lists them); its modules there are the prefixes `00` to `20` and `99`.
        let realtimekits = [
            InitFailed,
            JoinRefused,
            InvalidAuthToken,
            ConnectionLost,
            RecordingPermissionDenied,
            RecordingNotStarted,
            RecordingInProgress,
            Internal,
            PermissionDenied,
            ParticipantNotFound,
            ActionOnSelf,
            NotJoined,
        ];
        for c in ErrorCode::ALL.iter().copied().filter(|c| !realtimekits.contains(c)) {
            let module = c.code() / 100;
            assert!(module == 44 || module == 45, "{c:?} ({}) is in RealtimeKit's module {module:02}", c.code());
        }
    }

    #[test]
    fn every_close_code_round_trips_and_codes_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for c in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(c.code()), Some(c));
            assert!(seen.insert(c.code()), "{c:?} twice");
        }
    }
}
