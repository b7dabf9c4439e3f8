//! Live market data: websocket transport, connection supervision, and the glue that lets the
//! pipeline ([`engine::pipeline::run_with`]) run on a socket.
//!
//! - [`net::ws`] (the `net` crate): the websocket client (`ws://`, `wss://` through rustls) and a
//!   small HTTP `GET` for REST snapshots.
//! - [`source::LiveSource`]: a [`engine::source::FrameSource`] over one supervised connection:
//!   subscriptions (Binance combined streams in the URL; Deribit `public/subscribe`), pings,
//!   Deribit `public/set_heartbeat` and `test_request` answers, stale-stream detection (per
//!   stream), reconnect with exponential backoff and jitter, resubscription, and book resync
//!   (Binance: REST depth snapshot from the same host; Deribit: resubscribe for a new snapshot).
//!   Disconnects, resyncs and stale periods are counted ([`source::LiveCounters`]).
//! - [`feed::LiveFeed`]: wraps a venue feed; turns the source's control frames (reconnected,
//!   stream stale, snapshot) into book resets and [`feeds::EventKind::Gap`] events, so the kernel
//!   never sizes from a stale or invalid book, and asks the source for resyncs.
//!
//! The feed thread's only syscalls are the socket's (non-blocking `recv`), except while the
//! connection is down or a book resyncs (connect, REST snapshot), when there is nothing to size.

pub mod capture;
pub mod feed;
pub mod source;

pub use feed::{LiveFeed, VenueFeed};
pub use source::{LiveConfig, LiveCounters, LiveSource, StreamSpec, SupervisorConfig, VenueKind};

use std::sync::atomic::{AtomicBool, Ordering};

/// Requests from the feed wrapper to the source (same thread; atomics only so both halves are
/// `Send` without a lock).
#[derive(Debug)]
pub struct Link {
    /// Per instrument id: its book needs a resync (Binance: REST snapshot; Deribit: resubscribe).
    need: Box<[AtomicBool]>,
    /// A Deribit `test_request` heartbeat arrived and must be answered.
    test_request: AtomicBool,
}

impl Link {
    /// A link for instrument ids `0..n`.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self {
            need: (0..n).map(|_| AtomicBool::new(false)).collect(),
            test_request: AtomicBool::new(false),
        }
    }

    /// Asks for a resync of instrument index `i` (ignored beyond the table).
    pub fn request_resync(&self, i: usize) {
        if let Some(f) = self.need.get(i) {
            // Relaxed: both halves run on the feed thread; the flag carries no other data.
            f.store(true, Ordering::Relaxed);
        }
    }

    /// Takes the resync request of instrument index `i`.
    pub fn take_resync(&self, i: usize) -> bool {
        // Relaxed: see `request_resync`.
        self.need
            .get(i)
            .is_some_and(|f| f.swap(false, Ordering::Relaxed))
    }

    /// Asks for a heartbeat answer.
    pub fn request_test(&self) {
        // Relaxed: see `request_resync`.
        self.test_request.store(true, Ordering::Relaxed);
    }

    /// Takes the heartbeat request.
    pub fn take_test(&self) -> bool {
        // Relaxed: see `request_resync`.
        self.test_request.swap(false, Ordering::Relaxed)
    }
}

/// Control frames from the source to the feed wrapper start with this byte (no venue frame does:
/// they are JSON).
pub const CONTROL: u8 = 0;
/// Control: the connection dropped; reset every book.
pub const CTL_RESET: u8 = b'R';
/// Control: a stream went stale (instrument index follows, u32 LE).
pub const CTL_STALE: u8 = b'S';
/// Control: a REST snapshot for an instrument (index u32 LE, then the body).
pub const CTL_SNAPSHOT: u8 = b'P';

/// Whether `frame` is one of the source's control frames (never written to captures).
#[must_use]
pub fn is_control(frame: &[u8]) -> bool {
    frame.first() == Some(&CONTROL)
}
