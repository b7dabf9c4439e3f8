//! A websocket client connection of its own (RFC 6455, client side): `ws://` over plain TCP,
//! `wss://` through rustls (webpki roots). The HTTP/1.1 upgrade is done by hand; after it the
//! socket is non-blocking and [`WsConn::recv`] parses server frames straight out of a read buffer
//! allocated once at connect, handing out each message as a slice of that buffer (or, for a
//! fragmented message, of a second buffer reused across messages): no heap allocation per frame,
//! and at most one `recv` syscall per poll. Pings are answered with masked pongs through the same
//! outgoing buffer as the caller's frames, so frame order on the wire is kept.
//!
//! Never: a panic on anything the server sends (a bad handshake answer, a malformed or oversized
//! frame is an error that names it), or an allocation on the receive path once a connection is up,
//! except to grow a buffer for a message bigger than any before (bounded by [`MAX_MESSAGE`]).
//! Through TLS, rustls's buffered connection keeps its own per-record buffers.

mod conn;
mod frame;
mod handshake;
mod stream;

pub use crate::addr::host_port;
// `http_get` lived here before `net::http`; its callers still name this path.
pub use crate::http::http_get;
pub use conn::WsConn;
pub use frame::{encode_client_frame, encode_client_text_frame};
pub use handshake::accept_key;

/// A transport error, with what failed.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The URL is not a websocket URL with a host.
    #[error("bad websocket URL `{0}`")]
    Url(String),
    /// TCP connect failed.
    #[error("connect {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The websocket (or TLS) handshake failed.
    #[error("handshake with {url}: {message}")]
    Handshake {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The connection closed or failed after the handshake (a close from the peer names its code
    /// and reason; a protocol violation names the rule the frame broke).
    #[error("connection lost: {0}")]
    Closed(String),
}

/// What one [`WsConn::recv`] produced: the payload borrows the connection's buffer and is valid
/// until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsRecv<'a> {
    /// A text or binary message (its payload; a fragmented message reassembled).
    Frame(&'a [u8]),
    /// A control frame (ping, answered with a pong; or pong) was handled; counts as liveness.
    Control,
    /// No complete message yet.
    Nothing,
}

/// Size of the read buffer allocated at connect (a frame larger than it grows it once).
pub const READ_BUFFER: usize = 256 * 1024;
/// Largest message accepted (one frame or a reassembled fragmented message), bytes; a longer one
/// fails the connection (close code 1009).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
