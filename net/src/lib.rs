//! `net`: Ballast's transport. Its own websocket client ([`ws::WsConn`]: `ws://` over plain TCP,
//! `wss://` through rustls with webpki roots; borrowed receive, no allocation per message) and a
//! small HTTP/1.1 `GET` for REST snapshots ([`http::http_get`]).
//!
//! Owns: sockets, TLS, the websocket handshake and framing.
//! Must never: know a venue's messages (the `venues` crate speaks them) or touch the engine's rings.

#![forbid(unsafe_code)]

mod addr;
pub mod http;
mod tls;
pub mod ws;

pub use ws::{WsConn, WsError, WsRecv};
