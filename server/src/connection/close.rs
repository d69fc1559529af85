//! Why a connection is closed, as its close frame says it.

/// A close code and its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: &'static str,
}

/// The client said goodbye (or vanished): answer its close and end.
pub const CLOSE_NORMAL: CloseReason = CloseReason {
    code: 1000,
    reason: "goodbye",
};
/// The server is shutting down: reconnect.
pub const CLOSE_RESTART: CloseReason = CloseReason {
    code: 1012,
    reason: "server restarting; reconnect",
};
/// Nothing heard from the client (not even a pong) for the idle timeout.
pub const CLOSE_IDLE: CloseReason = CloseReason {
    code: 1001,
    reason: "idle timeout",
};
/// A frame over 64 KiB, or one that is not valid WebSocket.
pub const CLOSE_BAD_FRAME: CloseReason = CloseReason {
    code: 1009,
    reason: "frame too large (max 64 KiB) or malformed",
};
/// Flooding: too many frames over the rate limit in a row (this connection's
/// or its address's), binary frames included.
pub const CLOSE_FLOOD: CloseReason = CloseReason {
    code: 1008,
    reason: "too many frames: slow down",
};
/// The client did not read fast enough: its queue passed the byte budget, or
/// it fell behind its room's feed. It resumes from its last `seq` on reconnect.
pub const CLOSE_SLOW: CloseReason = CloseReason {
    code: 4008,
    reason: "slow consumer: reconnect to resume",
};
/// The same tab opened a newer connection for every room this one was in.
pub const CLOSE_REPLACED: CloseReason = CloseReason {
    code: 4001,
    reason: "replaced by a newer connection",
};
/// The session this socket was signed in with ended (logged out, password
/// changed elsewhere, account deleted): reload to continue as whoever the
/// browser is now.
pub const CLOSE_SIGNED_OUT: CloseReason = CloseReason {
    code: 4003,
    reason: "signed out",
};
