//! Binance spot and USD-M / COIN-M futures market data: frame parsing, normalization into
//! [`MarketEvent`]s and exact L2 books kept in sync by Binance's documented procedure.
//!
//! # Book sync
//! Per instrument: diffs are buffered until a REST snapshot arrives; the snapshot is loaded and
//! buffered diffs with `u <= lastUpdateId` dropped; the first kept diff must bridge (spot
//! `U <= lastUpdateId + 1 <= u`; futures `U <= lastUpdateId <= u`, or `pu == lastUpdateId`); after
//! that every diff must continue the previous one (spot `U == previous u + 1`; futures
//! `pu == previous u`; a diff that carries `pu` is checked the futures way). A break marks the
//! book invalid, emits one [`EventKind::Gap`] and buffers diffs again until the next snapshot. A
//! snapshot older than the first buffered diff (it cannot bridge) is dropped, the book stays
//! invalid and waits for the next one. A snapshot for an already valid book is ignored.
//!
//! # Parsing
//! A schema-specific scanner (module `scan`) reads the frames Binance actually sends without
//! allocating; anything it does not recognize (whitespace, other field orders, escapes, unknown
//! shapes) goes to the typed serde parser ([`json`]), which is the reference: both produce the
//! same intermediate form, normalized by one function, so they cannot disagree on events.
//!
//! [`EventKind::Gap`]: crate::event::EventKind::Gap

pub mod encode;
pub mod json;
mod normalize;
mod parse;
mod scan;
mod sync;

use crate::book::L2Book;
use crate::decimal::{parse_decimal, DecimalError};
use crate::event::{MarketEvent, PxQty};
use crate::registry::{InstrumentId, Market, Registry};
use parse::LevelSpans;
use sync::{BufDiff, InstState};

/// Price and quantity scale given to instruments registered at first sight (Binance sends at
/// most 8 decimals).
pub const AUTO_SCALE: u8 = 8;

/// Diffs buffered per instrument while its book awaits a snapshot; the oldest is dropped beyond.
pub const MAX_BUFFERED_DIFFS: usize = 4096;

/// Buffered diffs allocated at start-up (about 50 s of `@100ms` diffs while a book awaits its
/// snapshot), each with room for [`PREALLOCATED_DIFF_LEVELS`] levels a side. A longer gap, or a
/// bigger diff while buffering, allocates once; the pool keeps what it grew.
pub const PREALLOCATED_BUFFERED_DIFFS: usize = 512;

/// Levels a side each instrument's book holds before it allocates (Binance snapshots are at most
/// 1,000 levels by default, 5,000 when asked).
pub const PREALLOCATED_BOOK_LEVELS: usize = 2048;

/// Levels a side of each preallocated buffered diff.
pub const PREALLOCATED_DIFF_LEVELS: usize = 128;

/// Why a frame was rejected. The feed's state is unchanged by a rejected frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, or JSON of the wrong shape for its kind (missing field, wrong type).
    #[error("invalid frame JSON ({category:?} error near column {column})")]
    Json {
        /// serde_json's error class.
        category: serde_json::error::Category,
        /// 1-based column of the error (the frame is one line).
        column: u32,
    },
    /// The frame (or its `data`) is not a JSON object.
    #[error("frame is not a JSON object")]
    NotObject,
    /// A price or quantity string is not an exact decimal at the instrument's scale.
    #[error("bad decimal in field `{field}`: {error}")]
    Decimal {
        /// Which field (`b`, `B`, `p`, `bids`, …).
        field: &'static str,
        /// What was wrong with it.
        error: DecimalError,
    },
    /// A REST snapshot body (no symbol) arrived, several instruments await one and no target
    /// was set.
    #[error("REST depth snapshot without symbol and {awaiting} instruments awaiting one (use set_snapshot_target)")]
    SnapshotTarget {
        /// Number of candidate instruments (more than 1).
        awaiting: u32,
    },
    /// Frame longer than 4 GiB.
    #[error("frame longer than 4 GiB")]
    TooLong,
}

/// Counters of a [`BinanceFeed`]. `Copy`; read with [`BinanceFeed::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Frames handed to `on_frame`.
    pub frames: u64,
    /// Frames rejected as malformed.
    pub malformed: u64,
    /// Well-formed frames of streams Ballast does not use (klines, replies, …).
    pub ignored: u64,
    /// Frames the scanner handed to the serde parser.
    pub fallback_parses: u64,
    /// `bookTicker` frames.
    pub book_tickers: u64,
    /// `trade` and `aggTrade` frames.
    pub trades: u64,
    /// `depthUpdate` frames.
    pub diffs: u64,
    /// Diffs applied to a book (live or from the buffer after a snapshot).
    pub diffs_applied: u64,
    /// Diffs dropped as already contained in the book (`u <= ` book id).
    pub diffs_dropped_stale: u64,
    /// Diffs buffered while awaiting a snapshot.
    pub diffs_buffered: u64,
    /// Buffered diffs dropped because the buffer was full.
    pub buffer_overflows: u64,
    /// Sequence gaps detected on a valid book.
    pub gaps: u64,
    /// Books made valid again after a gap.
    pub resyncs: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Snapshots ignored because the book was already valid (or no instrument awaited one).
    pub snapshots_ignored: u64,
    /// Snapshots that could not bridge to the buffered diffs (too old), dropped.
    pub snapshots_stale: u64,
}

/// One Binance connection's worth of instruments: parses frames, keeps each instrument's exact
/// L2 book in sync and emits normalized [`MarketEvent`]s. One per feed thread.
#[derive(Debug)]
pub struct BinanceFeed {
    registry: Registry,
    states: Vec<InstState>,
    stats: FeedStats,
    emit_levels: bool,
    snapshot_target: Option<InstrumentId>,
    spans: LevelSpans,
    scratch_bids: Vec<PxQty>,
    scratch_asks: Vec<PxQty>,
    pool: Vec<BufDiff>,
    /// Last symbol looked up and its id (most frames repeat the previous symbol).
    last_symbol: ([u8; 32], u8, InstrumentId),
    /// The market every symbol of this connection belongs to, when the capture or the
    /// configuration says so (spot and USD-M frames of `BTCUSDT` look alike).
    market: Option<Market>,
}

/// Decimal strings parsed at an instrument's scales, with the widest decimals seen.
struct Decimals {
    px_decimals: u8,
    qty_decimals: u8,
}

impl BinanceFeed {
    /// A feed over `registry`'s instruments. Unknown symbols seen in frames are registered at
    /// first sight as Binance spot (USD-M futures when the frame carries `pu`, COIN-M when the
    /// symbol also looks like `…USD_PERP`/`…USD_yymmdd`) with [`AUTO_SCALE`] decimals.
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        let states = registry
            .instruments()
            .iter()
            .map(|i| InstState::new(i.px_scale, i.qty_scale))
            .collect();
        Self {
            registry,
            states,
            stats: FeedStats::default(),
            emit_levels: false,
            snapshot_target: None,
            spans: LevelSpans {
                bids: Vec::with_capacity(crate::book::DEFAULT_LEVEL_CAPACITY),
                asks: Vec::with_capacity(crate::book::DEFAULT_LEVEL_CAPACITY),
                text: Vec::new(),
                in_text: false,
            },
            scratch_bids: Vec::with_capacity(crate::book::DEFAULT_LEVEL_CAPACITY),
            scratch_asks: Vec::with_capacity(crate::book::DEFAULT_LEVEL_CAPACITY),
            pool: (0..PREALLOCATED_BUFFERED_DIFFS)
                .map(|_| BufDiff {
                    bids: Vec::with_capacity(PREALLOCATED_DIFF_LEVELS),
                    asks: Vec::with_capacity(PREALLOCATED_DIFF_LEVELS),
                    ..BufDiff::default()
                })
                .collect(),
            last_symbol: ([0; 32], 0, InstrumentId(u32::MAX)),
            market: None,
        }
    }

    /// A feed whose frames all belong to `market`: symbols are looked up and registered on it
    /// (not guessed from the frame's shape). One feed per market where two markets list the same
    /// symbol.
    #[must_use]
    pub fn with_market(registry: Registry, market: Market) -> Self {
        let mut me = Self::new(registry);
        me.market = Some(market);
        me
    }

    /// The market this feed was told its frames belong to, if any.
    #[must_use]
    pub fn market(&self) -> Option<Market> {
        self.market
    }

    /// Also emit one [`EventKind::Level`] event per level of every applied diff (before the
    /// diff's `Bbo`). Off by default.
    ///
    /// [`EventKind::Level`]: crate::event::EventKind::Level
    pub fn emit_levels(&mut self, on: bool) {
        self.emit_levels = on;
    }

    /// The instrument the next bare REST depth snapshot (which carries no symbol) applies to. Used
    /// once. Without it, a snapshot goes to the one instrument awaiting a snapshot (among those
    /// that have seen depth diffs, else among all registered ones); it is ignored when none awaits
    /// one and rejected when several do.
    pub fn set_snapshot_target(&mut self, id: InstrumentId) {
        self.snapshot_target = Some(id);
    }

    /// The instrument registry (grows when unknown symbols are seen).
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The exact-decimal book of `id`.
    #[must_use]
    pub fn book(&self, id: InstrumentId) -> Option<&L2Book> {
        self.states.get(id.0 as usize).map(|s| &s.book)
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> FeedStats {
        self.stats
    }

    /// The widest number of decimals the venue has used for `id`'s prices and quantities so far
    /// (`61837.63000000` → 8): print with these to reproduce the venue's strings.
    #[must_use]
    pub fn display_decimals(&self, id: InstrumentId) -> Option<(u8, u8)> {
        self.states
            .get(id.0 as usize)
            .map(|s| (s.px_decimals, s.qty_decimals))
    }

    /// Parse one raw frame (combined-stream envelope or bare; `bookTicker`, `trade`, `aggTrade`,
    /// `depthUpdate`, REST depth snapshot body; other streams are counted as ignored) and push
    /// the normalized events into `sink`, in order:
    /// - `bookTicker` → one `Bbo` (seq = `u`), `BOOK_VALID` when the book is synced or the
    ///   instrument never had a depth frame;
    /// - `trade`/`aggTrade` → one `Trade` (seq = trade or aggregate id, side = aggressor), same
    ///   `BOOK_VALID` rule;
    /// - `depthUpdate` → when applied: `Level`s (if [`Self::emit_levels`]) then one `Bbo` with
    ///   `FROM_BOOK | BOOK_VALID` (seq = `u`); `SnapshotEnd` before it when it was the bridging
    ///   diff; one `Gap` when it breaks continuity; nothing when buffered or stale;
    /// - snapshot → `SnapshotBegin`, then (buffered diffs applied) `SnapshotEnd` and a `Bbo` per
    ///   applied buffered diff, all stamped with the snapshot's `recv_ns`.
    ///
    /// Events carry `exch_ns` from the frame's `E` (0 when absent). No allocation in steady
    /// state (the serde fallback and first-sight registration do allocate).
    ///
    /// # Errors
    /// [`FrameError`] for a malformed frame; all state is left as it was (only `frames` and
    /// `malformed` count it).
    pub fn on_frame(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        self.stats.frames += 1;
        let r = self.on_frame_inner(recv_ns, frame, sink);
        if r.is_err() {
            self.stats.malformed += 1;
        }
        r
    }

    fn on_frame_inner(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        if u32::try_from(frame.len()).is_err() {
            return Err(FrameError::TooLong);
        }
        let parsed = match scan::scan(frame, &mut self.spans) {
            Some(p) => p,
            None => {
                let p = json::parse(frame, &mut self.spans)?;
                self.stats.fallback_parses += 1;
                p
            }
        };
        self.normalize(recv_ns, frame, parsed, sink)
    }

    /// Parse `frame` with the serde parser only (no scanner) and normalize. For tests and
    /// benches comparing the two paths; same contract as [`Self::on_frame`].
    ///
    /// # Errors
    /// As [`Self::on_frame`].
    pub fn on_frame_serde(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        self.stats.frames += 1;
        let r = if u32::try_from(frame.len()).is_err() {
            Err(FrameError::TooLong)
        } else {
            json::parse(frame, &mut self.spans)
                .and_then(|p| self.normalize(recv_ns, frame, p, sink))
        };
        if r.is_err() {
            self.stats.malformed += 1;
        }
        r
    }

    /// Whether the scanner alone recognizes `frame` (no serde fallback). For tests and benches.
    #[must_use]
    pub fn scanner_accepts(&mut self, frame: &[u8]) -> bool {
        scan::scan(frame, &mut self.spans).is_some()
    }

    /// Existing id of `symbol`, through a one-entry cache.
    fn lookup(&mut self, symbol: &str) -> Option<InstrumentId> {
        let (buf, len, id) = &self.last_symbol;
        if *len as usize == symbol.len() && &buf[..*len as usize] == symbol.as_bytes() {
            return Some(*id);
        }
        let id = match self.market {
            Some(m) => self.registry.id_in(m, symbol)?,
            None => self.registry.id(symbol)?,
        };
        if symbol.len() <= 32 {
            let mut b = [0u8; 32];
            b[..symbol.len()].copy_from_slice(symbol.as_bytes());
            self.last_symbol = (b, symbol.len() as u8, id);
        }
        Some(id)
    }

    /// Scales of `symbol` (registered or the auto-registration ones).
    fn scales(&mut self, symbol: &str) -> (Option<InstrumentId>, u8, u8) {
        match self.lookup(symbol) {
            Some(id) => {
                let s = &self.states[id.0 as usize];
                (Some(id), s.px_scale, s.qty_scale)
            }
            None => (None, AUTO_SCALE, AUTO_SCALE),
        }
    }

    /// Register `symbol` at first sight (after the frame validated).
    fn register(&mut self, symbol: &str, futures: bool) -> InstrumentId {
        let market = if let Some(m) = self.market {
            m
        } else if !futures {
            Market::BinanceSpot
        } else if symbol.contains("USD_") {
            Market::BinanceCoinM
        } else {
            Market::BinanceUsdM
        };
        let id = self
            .registry
            .register(symbol, market, AUTO_SCALE, AUTO_SCALE);
        while self.states.len() <= id.0 as usize {
            let inst = &self.registry.instruments()[self.states.len()];
            self.states
                .push(InstState::new(inst.px_scale, inst.qty_scale));
        }
        id
    }

    /// Parse the level spans into the scratch vectors at the given scales.
    fn parse_levels(
        &mut self,
        frame: &[u8],
        px_scale: u8,
        qty_scale: u8,
        names: [&'static str; 2],
    ) -> Result<Decimals, FrameError> {
        let mut dec = Decimals {
            px_decimals: 0,
            qty_decimals: 0,
        };
        self.scratch_bids.clear();
        self.scratch_asks.clear();
        let text: &[u8] = if self.spans.in_text {
            &self.spans.text
        } else {
            frame
        };
        for (spans, out, field) in [
            (&self.spans.bids, &mut self.scratch_bids, names[0]),
            (&self.spans.asks, &mut self.scratch_asks, names[1]),
        ] {
            for s in spans {
                let px = parse_decimal(&text[s[0] as usize..s[1] as usize], px_scale)
                    .map_err(|error| FrameError::Decimal { field, error })?;
                let qty = parse_decimal(&text[s[2] as usize..s[3] as usize], qty_scale)
                    .map_err(|error| FrameError::Decimal { field, error })?;
                dec.px_decimals = dec.px_decimals.max(px.decimals);
                dec.qty_decimals = dec.qty_decimals.max(qty.decimals);
                out.push(PxQty {
                    px: px.mantissa,
                    qty: qty.mantissa,
                });
            }
        }
        Ok(dec)
    }
}
