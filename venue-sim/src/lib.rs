//! The local venue simulator: serves a venue's real protocols on 127.0.0.1 so the feeds, the
//! execution adapters and the supervision can be tested end to end without the internet.
//!
//! One TCP listener serves everything (the first request line decides):
//! - **Binance**: websocket `GET /stream?streams=a/b/c` (combined market data, plus the live
//!   `SUBSCRIBE`/`UNSUBSCRIBE` methods), websocket `GET /ws-api/v3` (WebSocket API: `order.place`,
//!   `order.cancel`, `order.status`, `openOrders.status`, `session.logon`/`status`/`logout`,
//!   `userDataStream.subscribe`, `ping`, `time`), HTTP `GET /api/v3/depth?symbol=&limit=` and
//!   `GET /fapi/v1/depth?…` (REST snapshot of the simulator's own book).
//! - **Deribit**: websocket `GET /ws/api/v2` (JSON-RPC 2.0: `public/get_instruments`,
//!   `public/subscribe`/`unsubscribe` to `book.*`, `ticker.*`, `trades.*`, `public/set_heartbeat`
//!   with `test_request` heartbeats, `public/test`, `public/auth` (client credentials),
//!   `private/buy`/`sell`/`edit`/`cancel`/`get_order_state`/`get_open_orders_by_instrument`,
//!   `private/subscribe` to `user.orders.*`/`user.trades.*`), HTTP
//!   `GET /api/v2/public/get_instruments?currency=`.
//! - **Control** (both venues), plain HTTP: `POST /sim/fault?kind=K[&ms=N|&n=N]` with `K` one of
//!   `disconnect`, `stall` (`ms`), `malformed` (`n`), `skip`, `delay_acks` (`ms`, 0 clears),
//!   `lose_acks` (`n`); `GET /sim/record` (the [`SimRecord`] as JSON); `POST /sim/stop`.
//!
//! Market data comes from capture files (Ballast/hftbacktest line captures or cryptofeed JSONL,
//! replayed at `speed` × recorded pace) or from a seeded synthetic market. It starts when the first
//! market-data subscription arrives (so a test never misses the opening). The simulator keeps its
//! own exact books by running Ballast's own venue adapters over the frames it publishes; REST
//! snapshots and Deribit subscription snapshots are rendered from those books.
//!
//! Orders match against the current displayed book (limit, IOC, FOK, market; partial fills;
//! post-only rejected when it would cross). Resting orders are matched again after every book
//! update. The displayed liquidity is the market's (the replay), so own fills do not deplete it.
//! Every order, ack, reject and fill is recorded exactly ([`SimHandle::record`]), prices and
//! quantities as mantissas at [`SIM_SCALE`] decimals.
//!
//! The simulator never binds anything but a loopback address ([`start`] refuses others).

#![forbid(unsafe_code)]

mod binance;
mod deribit;
mod dsynth;
mod ed25519;
mod http;
mod matching;
mod server;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use synth::SynthConfig;

pub use binance::{hmac_sha256_hex, signature_payload as binance_signature_payload};
pub use matching::{
    AckKind, OrderStatus, OrderType, SimAck, SimFill, SimOrder, SimRecord, SimReject, TimeInForce,
};

/// Decimal scale of every price and quantity mantissa in the simulator and its [`SimRecord`].
pub const SIM_SCALE: u8 = 8;

/// Which venue's protocols the simulator speaks: Binance spot (market-data streams, REST depth,
/// WebSocket API orders) or Deribit (JSON-RPC 2.0 over one websocket). The feeds' venue, so that a
/// simulated venue and the adapter that parses it are one value.
pub use feeds::multi::Venue;

/// Where the simulator's market data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SimSource {
    /// Capture files in order: Ballast's `<recv ns> <frame>` lines (plain or gzip) or cryptofeed
    /// JSONL (`.jsonl`, `.jsonl.zst`), told apart by content.
    Capture(Vec<PathBuf>),
    /// A seeded synthetic market (Binance: [`synth`] frames; Deribit: a perpetual and an
    /// option chain around it, see `dsynth`). `gap_at` is ignored (faults are injected on command).
    Synthetic(SynthConfig),
}

/// Simulator configuration. [`SimConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Protocols spoken.
    pub venue: Venue,
    /// Listen address; must be loopback. `127.0.0.1:0` picks a free port (see [`SimHandle::addr`]).
    pub listen: SocketAddr,
    /// Market data source.
    pub source: SimSource,
    /// Pace: 1.0 = recorded pace, 10.0 = ten times faster; `0.0` or non-finite = as fast as the
    /// subscribers read.
    pub speed: f64,
    /// API key the order protocol expects (`apiKey` on Binance, `client_id` on Deribit); `None`
    /// accepts any.
    pub api_key: Option<String>,
    /// Shared secret: Binance requests must carry a valid HMAC-SHA256 `signature` under it, Deribit
    /// `public/auth` must present it as `client_secret`. `None` skips the checks.
    pub api_secret: Option<String>,
    /// Ed25519 public key (32 bytes) checking Binance `session.logon` signatures; `None` accepts
    /// any logon that carries an `apiKey`.
    pub ed25519_public_key: Option<[u8; 32]>,
    /// Start market data at the first subscription (default) rather than at once.
    pub start_on_subscribe: bool,
}

impl SimConfig {
    /// Defaults: `127.0.0.1:0`, recorded pace, no credentials checked, data on first subscription.
    #[must_use]
    pub fn new(venue: Venue, source: SimSource) -> Self {
        Self {
            venue,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            source,
            speed: 1.0,
            api_key: None,
            api_secret: None,
            ed25519_public_key: None,
            start_on_subscribe: true,
        }
    }
}

/// A fault injected on command into the running simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Drop every open websocket connection at once (no close frame).
    Disconnect,
    /// Send nothing on any connection (market data paused, acks and heartbeats held) for this long.
    Stall(Duration),
    /// Send this many malformed frames (truncated copies of the next market-data frames) in
    /// addition to the real ones.
    Malformed(u32),
    /// Do not publish the next book diff (Binance `depthUpdate`, Deribit book `change`), while the
    /// simulator's own book applies it: subscribers see a sequence gap.
    SkipSequence,
    /// Hold every order response this long before sending it (sticky; `Duration::ZERO` clears).
    /// Later messages on the connection queue behind it, so order is kept.
    DelayAcks(Duration),
    /// Do not send the responses to the next this-many order requests (the orders are still
    /// processed, recorded and reported through execution reports / `user.*` notifications).
    LoseAcks(u32),
}

/// Errors of [`start`].
pub type StartError = std::io::Error;

/// Fault state shared by the simulator's threads.
#[derive(Debug, Default)]
struct Faults {
    /// Incremented by each [`Fault::Disconnect`]; connections opened before close.
    disconnect_epoch: AtomicU64,
    /// Nanoseconds since `Shared::t0` until which nothing is sent (0 = not stalled).
    stall_until_ns: AtomicU64,
    malformed: AtomicU32,
    skip: AtomicU32,
    ack_delay_ns: AtomicU64,
    lose_acks: AtomicU32,
}

/// State shared by the accept loop, the market-data thread and the connections.
#[derive(Debug)]
struct Shared {
    cfg: SimConfig,
    t0: Instant,
    stop: AtomicBool,
    md_started: AtomicBool,
    faults: Faults,
    exch: Mutex<matching::Exchange>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    fn stalled(&self) -> bool {
        // Relaxed: a plain flag; a stall seen one poll late is harmless.
        self.now_ns() < self.faults.stall_until_ns.load(Ordering::Relaxed)
    }

    fn inject(&self, f: Fault) {
        // All fault counters are independent flags read with Relaxed by the connection and
        // market-data threads; no data is published through them.
        let fl = &self.faults;
        match f {
            Fault::Disconnect => {
                fl.disconnect_epoch.fetch_add(1, Ordering::Relaxed);
            }
            Fault::Stall(d) => {
                let until = self.now_ns().saturating_add(d.as_nanos() as u64);
                fl.stall_until_ns.store(until, Ordering::Relaxed);
            }
            Fault::Malformed(n) => {
                fl.malformed.fetch_add(n, Ordering::Relaxed);
            }
            Fault::SkipSequence => {
                fl.skip.fetch_add(1, Ordering::Relaxed);
            }
            Fault::DelayAcks(d) => fl
                .ack_delay_ns
                .store(d.as_nanos() as u64, Ordering::Relaxed),
            Fault::LoseAcks(n) => {
                fl.lose_acks.fetch_add(n, Ordering::Relaxed);
            }
        }
        if let Ok(mut ex) = self.exch.lock() {
            ex.record.faults.push(format!("{f:?}"));
        }
    }

    /// Takes one lost ack if any are pending.
    fn take_lost_ack(&self) -> bool {
        self.faults
            .lose_acks
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// A running simulator. Dropping it stops it too (without waiting).
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl SimHandle {
    /// The address it listens on (the actual port when started on port 0).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Injects a fault now.
    pub fn inject(&self, f: Fault) {
        self.shared.inject(f);
    }

    /// A copy of the exact record so far: orders (current state), acks, rejects and fills.
    #[must_use]
    pub fn record(&self) -> SimRecord {
        match self.shared.exch.lock() {
            Ok(ex) => ex.record.clone(),
            Err(p) => p.into_inner().record.clone(),
        }
    }

    /// Whether the market data source is exhausted (everything published).
    #[must_use]
    pub fn source_done(&self) -> bool {
        match self.shared.exch.lock() {
            Ok(ex) => ex.source_done,
            Err(p) => p.into_inner().source_done,
        }
    }

    /// Whether a stop was requested (by [`SimHandle::stop`] or `POST /sim/stop`).
    #[must_use]
    pub fn stopping(&self) -> bool {
        // Relaxed: a flag polled by the threads; pairs with the store in `request_stop`.
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// Blocks until a stop is requested (e.g. `POST /sim/stop`), then stops.
    pub fn wait(self) {
        while !self.stopping() {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
    }

    /// Stops: closes the listener and every connection, joins the threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Relaxed: threads poll this flag; the joins below synchronize with their exit.
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop with a throw-away connection to ourselves (loopback only).
        let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            // Relaxed: see `shutdown`.
            self.shared.stop.store(true, Ordering::Relaxed);
            let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        }
    }
}

/// Starts a simulator: loads the market data source, binds the listener and spawns the accept
/// and market-data threads (one more thread per connection).
///
/// # Errors
/// The listen address is not loopback, the bind fails, or the source cannot be read (capture
/// missing or unreadable).
pub fn start(cfg: SimConfig) -> Result<SimHandle, StartError> {
    if !cfg.listen.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("venue-sim listens on loopback only, not {}", cfg.listen),
        ));
    }
    let frames = server::load_source(&cfg)?;
    let exch = matching::Exchange::new(cfg.venue, frames)?;
    let listener = TcpListener::bind(cfg.listen)?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        md_started: AtomicBool::new(!cfg.start_on_subscribe),
        cfg,
        t0: Instant::now(),
        stop: AtomicBool::new(false),
        faults: Faults::default(),
        exch: Mutex::new(exch),
    });
    let mut threads = Vec::new();
    {
        let sh = Arc::clone(&shared);
        threads.push(
            std::thread::Builder::new()
                .name("sim-md".into())
                .spawn(move || server::market_data(&sh))?,
        );
    }
    {
        let sh = Arc::clone(&shared);
        threads.push(
            std::thread::Builder::new()
                .name("sim-accept".into())
                .spawn(move || server::accept_loop(&sh, &listener))?,
        );
    }
    Ok(SimHandle {
        addr,
        shared,
        threads,
    })
}
