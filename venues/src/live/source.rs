//! [`LiveSource`]: frames from one supervised websocket connection.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Link, CONTROL, CTL_RESET, CTL_SNAPSHOT, CTL_STALE};
use engine::clock::Clock;
use engine::source::{FrameSource, SourceError};
use net::ws::{http_get, WsConn, WsRecv};

/// Which protocol the connection speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueKind {
    /// Binance combined streams: `url` is the host base (`ws://127.0.0.1:9000`); the source
    /// connects to `{url}/stream?streams=…`. `rest_base` serves depth snapshots
    /// (`http://127.0.0.1:9000`), `depth_path` is `/api/v3/depth` (spot) or `/fapi/v1/depth`.
    Binance {
        /// `http://host:port` of the REST API.
        rest_base: String,
        /// Path of the depth snapshot endpoint.
        depth_path: String,
    },
    /// Deribit JSON-RPC: `url` is the full websocket URL (`ws://…/ws/api/v2`).
    Deribit {
        /// `public/set_heartbeat` interval, s (0 = none).
        heartbeat_s: u32,
    },
}

/// The streams of one instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Instrument index in the feed's registry.
    pub instrument: u32,
    /// Venue symbol (`BTCUSDT`, `BTC-PERPETUAL`).
    pub symbol: String,
    /// Full channel names as the venue spells them in frames (`btcusdt@depth@100ms`,
    /// `book.BTC-PERPETUAL.100ms`).
    pub channels: Vec<String>,
    /// No frame for this long marks the instrument stale (0 = never).
    pub stale_ms: u64,
}

impl StreamSpec {
    /// Whether one of the channels carries a depth book (needs resyncs).
    #[must_use]
    pub fn has_book(&self) -> bool {
        self.channels
            .iter()
            .any(|c| c.contains("@depth") || c.starts_with("book."))
    }
}

/// Supervision parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorConfig {
    /// Connect and handshake timeout, ms.
    pub connect_timeout_ms: u64,
    /// First reconnect delay, ms (doubles per failed attempt).
    pub backoff_base_ms: u64,
    /// Largest reconnect delay, ms.
    pub backoff_max_ms: u64,
    /// Random extra delay, fraction of the delay (0.5 = up to +50 %).
    pub jitter: f64,
    /// Send a ping after this long without traffic, ms.
    pub ping_ms: u64,
    /// Drop and reconnect after this long without a data frame (a connection that answers pings
    /// but sends no data is as useless as a dead one), ms; 0 = never.
    pub dead_ms: u64,
    /// Wait this long after connecting before the first REST snapshot (diffs buffer), ms.
    pub snapshot_delay_ms: u64,
    /// Least time between two snapshot requests of one instrument, ms.
    pub snapshot_retry_ms: u64,
    /// Give up after this many consecutive failed connects (0 = never).
    pub max_failures: u32,
    /// Seed of the jitter.
    pub seed: u64,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 2000,
            backoff_base_ms: 50,
            backoff_max_ms: 5000,
            jitter: 0.5,
            ping_ms: 1000,
            dead_ms: 5000,
            snapshot_delay_ms: 50,
            snapshot_retry_ms: 100,
            max_failures: 0,
            seed: 1,
        }
    }
}

/// Everything a live source needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    /// Websocket URL (see [`VenueKind`]).
    pub url: String,
    /// Protocol.
    pub venue: VenueKind,
    /// Instruments and their channels.
    pub streams: Vec<StreamSpec>,
    /// Supervision.
    pub supervisor: SupervisorConfig,
}

impl LiveConfig {
    /// The URL the source connects to (Binance: the combined-stream URL).
    #[must_use]
    pub fn connect_url(&self) -> String {
        match &self.venue {
            VenueKind::Binance { .. } => {
                let names: Vec<&str> = self
                    .streams
                    .iter()
                    .flat_map(|s| s.channels.iter().map(String::as_str))
                    .collect();
                format!(
                    "{}/stream?streams={}",
                    self.url.trim_end_matches('/'),
                    names.join("/")
                )
            }
            VenueKind::Deribit { .. } => self.url.clone(),
        }
    }
}

/// Counters of a live source, readable from any thread while it runs.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Successful connects.
    pub connects: AtomicU64,
    /// Failed connect attempts.
    pub connect_failures: AtomicU64,
    /// Connections lost (error, close, or dead).
    pub disconnects: AtomicU64,
    /// Book resyncs requested (REST snapshots fetched, Deribit resubscriptions).
    pub resyncs: AtomicU64,
    /// REST snapshot requests that failed.
    pub snapshot_failures: AtomicU64,
    /// Stale periods (a stream silent beyond its limit).
    pub stale_periods: AtomicU64,
    /// Data frames received.
    pub frames: AtomicU64,
    /// Pings sent.
    pub pings: AtomicU64,
    /// Deribit `test_request` heartbeats answered.
    pub heartbeats_answered: AtomicU64,
}

impl LiveCounters {
    fn inc(c: &AtomicU64) {
        // Relaxed: monotonic statistics, read for reports only.
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot of the counters as plain numbers.
    #[must_use]
    pub fn snapshot(&self) -> LiveCountersSnapshot {
        // Relaxed: statistics.
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LiveCountersSnapshot {
            connects: g(&self.connects),
            connect_failures: g(&self.connect_failures),
            disconnects: g(&self.disconnects),
            resyncs: g(&self.resyncs),
            snapshot_failures: g(&self.snapshot_failures),
            stale_periods: g(&self.stale_periods),
            frames: g(&self.frames),
            pings: g(&self.pings),
            heartbeats_answered: g(&self.heartbeats_answered),
        }
    }
}

/// Plain copy of [`LiveCounters`].
#[allow(missing_docs)] // Same fields as `LiveCounters`, documented there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCountersSnapshot {
    pub connects: u64,
    pub connect_failures: u64,
    pub disconnects: u64,
    pub resyncs: u64,
    pub snapshot_failures: u64,
    pub stale_periods: u64,
    pub frames: u64,
    pub pings: u64,
    pub heartbeats_answered: u64,
}

/// A [`FrameSource`] over one supervised websocket connection. Hands an empty frame when nothing
/// is ready (the pipeline idles) and `None` once [`LiveSource::stop_flag`] is set.
#[derive(Debug)]
pub struct LiveSource {
    cfg: LiveConfig,
    connect_url: String,
    clock: Clock,
    conn: Option<WsConn>,
    link: Arc<Link>,
    counters: Arc<LiveCounters>,
    stop: Arc<AtomicBool>,
    routes: Vec<(Vec<u8>, usize)>,
    last_seen: Vec<u64>,
    stale: Vec<bool>,
    snap_due: Vec<u64>,
    last_any: u64,
    last_frame: u64,
    last_ping: u64,
    retry_at: u64,
    attempts: u32,
    failures: u32,
    ctrl: VecDeque<Vec<u8>>,
    /// The control frame being handed out (venue frames are handed out of the connection).
    cur: Vec<u8>,
    rng: ChaCha8Rng,
    rpc_id: u64,
    epoch0_ns: u64,
    raw0: u64,
}

/// The instrument index a frame belongs to, from its `"stream"` (Binance) or `"channel"`
/// (Deribit) field.
fn route(venue: &VenueKind, routes: &[(Vec<u8>, usize)], frame: &[u8]) -> Option<usize> {
    let key: &[u8] = match venue {
        VenueKind::Binance { .. } => b"\"stream\":\"",
        VenueKind::Deribit { .. } => b"\"channel\":\"",
    };
    let at = frame.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &frame[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    let name = &rest[..end];
    routes.iter().find(|(c, _)| c == name).map(|&(_, i)| i)
}

/// What one receive produced, without the borrow of the payload (see `next_frame`).
enum Got {
    Frame,
    Control,
    Nothing,
    Failed,
}

fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

impl LiveSource {
    /// A source for `cfg`, answering resync requests on `link` (shared with the
    /// [`super::LiveFeed`]). Connects on the first call.
    #[must_use]
    pub fn new(cfg: LiveConfig, link: Arc<Link>, clock: Clock) -> Self {
        let n = cfg.streams.len();
        let routes = cfg
            .streams
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.channels.iter().map(move |c| (c.as_bytes().to_vec(), i)))
            .collect();
        let raw0 = clock.raw();
        let epoch0_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Self {
            connect_url: cfg.connect_url(),
            rng: ChaCha8Rng::seed_from_u64(cfg.supervisor.seed),
            cfg,
            clock,
            conn: None,
            link,
            counters: Arc::new(LiveCounters::default()),
            stop: Arc::new(AtomicBool::new(false)),
            routes,
            last_seen: vec![0; n],
            stale: vec![false; n],
            snap_due: vec![0; n],
            last_any: 0,
            last_frame: 0,
            last_ping: 0,
            retry_at: 0,
            attempts: 0,
            failures: 0,
            ctrl: VecDeque::new(),
            cur: Vec::new(),
            rpc_id: 0,
            epoch0_ns,
            raw0,
        }
    }

    /// Counters, shared (read them while it runs).
    #[must_use]
    pub fn counters(&self) -> Arc<LiveCounters> {
        Arc::clone(&self.counters)
    }

    /// Set it to end the source (the run then drains and ends).
    #[must_use]
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Receive time, ns since the Unix epoch, of `elapsed` ns since the start (wall clock at
    /// start + engine clock since).
    fn now_ns(&self, elapsed: u64) -> u64 {
        self.epoch0_ns + elapsed
    }

    /// Engine-clock ns since the source was made; every deadline is kept in this unit.
    fn elapsed_ns(&self) -> u64 {
        self.clock.delta_ns(self.raw0, self.clock.raw())
    }

    fn backoff_ns(&mut self) -> u64 {
        let s = &self.cfg.supervisor;
        let base = s
            .backoff_base_ms
            .saturating_mul(1u64 << self.attempts.min(16))
            .min(s.backoff_max_ms.max(s.backoff_base_ms));
        let jitter = s.jitter.clamp(0.0, 4.0) * self.rng.gen::<f64>();
        ms_to_ns((base as f64 * (1.0 + jitter)) as u64)
    }

    fn push_ctrl(&mut self, kind: u8, i: usize, body: &[u8]) {
        let mut f = Vec::with_capacity(6 + body.len());
        f.push(CONTROL);
        f.push(kind);
        f.extend_from_slice(&u32::try_from(i).unwrap_or(u32::MAX).to_le_bytes());
        f.extend_from_slice(body);
        self.ctrl.push_back(f);
    }

    fn rpc(&mut self, method: &str, params: &serde_json::Value) -> String {
        self.rpc_id += 1;
        serde_json::json!({"jsonrpc": "2.0", "id": self.rpc_id, "method": method, "params": params})
            .to_string()
    }

    fn on_connected(&mut self, mut conn: WsConn, now: u64) -> Result<WsConn, net::ws::WsError> {
        LiveCounters::inc(&self.counters.connects);
        self.failures = 0;
        if let VenueKind::Deribit { heartbeat_s } = self.cfg.venue {
            if heartbeat_s > 0 {
                let m = self.rpc(
                    "public/set_heartbeat",
                    &serde_json::json!({ "interval": heartbeat_s }),
                );
                conn.send_text(m)?;
            }
            let channels: Vec<&String> = self
                .cfg
                .streams
                .iter()
                .flat_map(|s| s.channels.iter())
                .collect();
            let channels = serde_json::json!({ "channels": channels });
            let m = self.rpc("public/subscribe", &channels);
            conn.send_text(m)?;
        }
        self.last_any = now;
        self.last_frame = now;
        self.last_ping = now;
        let delay = ms_to_ns(self.cfg.supervisor.snapshot_delay_ms);
        for i in 0..self.cfg.streams.len() {
            self.last_seen[i] = now;
            self.stale[i] = false;
            self.snap_due[i] = now.saturating_add(delay);
        }
        Ok(conn)
    }

    fn disconnect(&mut self, now: u64) {
        if let Some(c) = self.conn.take() {
            c.close();
        }
        LiveCounters::inc(&self.counters.disconnects);
        let wait = self.backoff_ns();
        self.retry_at = now.saturating_add(wait);
        self.attempts = self.attempts.saturating_add(1);
        self.push_ctrl(CTL_RESET, 0, &[]);
    }

    /// Duties while connected: heartbeat answers and resyncs. Returns false if the connection
    /// failed.
    fn duties(&mut self, now: u64) -> bool {
        let Some(mut conn) = self.conn.take() else {
            return false;
        };
        let mut ok = true;
        if self.link.take_test() {
            let m = self.rpc("public/test", &serde_json::json!({}));
            ok &= conn.send_text(m).is_ok();
            LiveCounters::inc(&self.counters.heartbeats_answered);
        }
        for i in 0..self.cfg.streams.len() {
            let id = self.cfg.streams[i].instrument as usize;
            if !self.link.take_resync(id) {
                continue;
            }
            match self.cfg.venue.clone() {
                VenueKind::Binance {
                    rest_base,
                    depth_path,
                } => {
                    if now < self.snap_due[i] {
                        self.link.request_resync(id);
                        continue;
                    }
                    let retry = ms_to_ns(self.cfg.supervisor.snapshot_retry_ms);
                    self.snap_due[i] = now.saturating_add(retry);
                    let url = format!(
                        "{}{}?symbol={}&limit=1000",
                        rest_base.trim_end_matches('/'),
                        depth_path,
                        self.cfg.streams[i].symbol
                    );
                    let timeout = Duration::from_millis(self.cfg.supervisor.connect_timeout_ms);
                    match http_get(&url, timeout) {
                        Ok(body) => {
                            LiveCounters::inc(&self.counters.resyncs);
                            self.push_ctrl(CTL_SNAPSHOT, id, &body);
                        }
                        Err(_) => {
                            LiveCounters::inc(&self.counters.snapshot_failures);
                            self.link.request_resync(id);
                        }
                    }
                }
                VenueKind::Deribit { .. } => {
                    let books: Vec<String> = self.cfg.streams[i]
                        .channels
                        .iter()
                        .filter(|c| c.starts_with("book."))
                        .cloned()
                        .collect();
                    let p = serde_json::json!({ "channels": books });
                    let un = self.rpc("public/unsubscribe", &p);
                    let sub = self.rpc("public/subscribe", &p);
                    ok &= conn.send_text(un).is_ok() && conn.send_text(sub).is_ok();
                    LiveCounters::inc(&self.counters.resyncs);
                }
            }
        }
        self.conn = Some(conn);
        ok
    }

    fn check_stale(&mut self, now: u64) {
        for i in 0..self.cfg.streams.len() {
            let lim = self.cfg.streams[i].stale_ms;
            if lim == 0 || self.stale[i] {
                continue;
            }
            if now.saturating_sub(self.last_seen[i]) > ms_to_ns(lim) {
                self.stale[i] = true;
                LiveCounters::inc(&self.counters.stale_periods);
                let id = self.cfg.streams[i].instrument as usize;
                self.push_ctrl(CTL_STALE, id, &[]);
            }
        }
    }
}

impl FrameSource for LiveSource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        let now = self.elapsed_ns();
        if let Some(c) = self.ctrl.pop_front() {
            self.cur = c;
            return Ok(Some((self.now_ns(now), self.cur.as_slice())));
        }
        // Acquire: pairs with the Release store of whoever stops the run.
        if self.stop.load(Ordering::Acquire) {
            if let Some(c) = self.conn.take() {
                c.close();
            }
            return Ok(None);
        }
        if self.conn.is_none() {
            if now < self.retry_at {
                return Ok(Some((0, &[])));
            }
            let timeout = Duration::from_millis(self.cfg.supervisor.connect_timeout_ms.max(1));
            match WsConn::connect(&self.connect_url, timeout) {
                Ok(c) => {
                    let now = self.elapsed_ns();
                    match self.on_connected(c, now) {
                        Ok(c) => self.conn = Some(c),
                        Err(_) => self.disconnect(now),
                    }
                }
                Err(e) => {
                    LiveCounters::inc(&self.counters.connect_failures);
                    self.failures += 1;
                    let max = self.cfg.supervisor.max_failures;
                    if max > 0 && self.failures >= max {
                        return Err(SourceError {
                            path: PathBuf::from(&self.connect_url),
                            message: format!("{e} ({} attempts)", self.failures),
                        });
                    }
                    let wait = self.backoff_ns();
                    self.retry_at = self.elapsed_ns().saturating_add(wait);
                    self.attempts = self.attempts.saturating_add(1);
                }
            }
            return Ok(Some((0, &[])));
        }
        if !self.duties(now) {
            self.disconnect(now);
            return Ok(Some((0, &[])));
        }
        if let Some(c) = self.ctrl.pop_front() {
            self.cur = c;
            return Ok(Some((self.now_ns(now), self.cur.as_slice())));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Some((0, &[])));
        };
        // The payload stays in the connection's buffer: routed here, handed out below through
        // `last_message` once this borrow has ended (no copy).
        let got = match conn.recv() {
            Ok(WsRecv::Frame(b)) => {
                if let Some(i) = route(&self.cfg.venue, &self.routes, b) {
                    self.last_seen[i] = now;
                    self.stale[i] = false;
                }
                Got::Frame
            }
            Ok(WsRecv::Control) => Got::Control,
            Ok(WsRecv::Nothing) => Got::Nothing,
            Err(_) => Got::Failed,
        };
        match got {
            Got::Frame => {
                self.last_any = now;
                self.last_frame = now;
                self.attempts = 0;
                LiveCounters::inc(&self.counters.frames);
                let ts = self.now_ns(now);
                match self.conn.as_ref() {
                    Some(c) => Ok(Some((ts, c.last_message()))),
                    None => Ok(Some((0, &[]))),
                }
            }
            Got::Control => {
                self.last_any = now;
                Ok(Some((0, &[])))
            }
            Got::Nothing => {
                self.check_stale(now);
                let s = &self.cfg.supervisor;
                let quiet = now.saturating_sub(self.last_any);
                let no_data = now.saturating_sub(self.last_frame);
                if s.dead_ms > 0 && no_data > ms_to_ns(s.dead_ms) {
                    self.disconnect(now);
                } else if s.ping_ms > 0
                    && quiet > ms_to_ns(s.ping_ms)
                    && now.saturating_sub(self.last_ping) > ms_to_ns(s.ping_ms)
                {
                    self.last_ping = now;
                    LiveCounters::inc(&self.counters.pings);
                    let failed = self.conn.as_mut().is_some_and(|c| c.ping().is_err());
                    if failed {
                        self.disconnect(now);
                    }
                }
                Ok(Some((0, &[])))
            }
            Got::Failed => {
                self.disconnect(now);
                Ok(Some((0, &[])))
            }
        }
    }
}
