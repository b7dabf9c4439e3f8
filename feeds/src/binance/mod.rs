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

pub mod encode;
pub mod json;
mod parse;
mod scan;

use std::collections::VecDeque;

use crate::book::L2Book;
use crate::decimal::{parse_decimal, DecimalError};
use crate::event::{flags, EventKind, MarketEvent, PxQty, Side};
use crate::registry::{InstrumentId, Market, Registry};
use parse::{LevelSpans, Parsed};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Buffering diffs until a snapshot arrives.
    AwaitSnapshot,
    /// Snapshot loaded, waiting for the bridging diff.
    AwaitBridge,
    /// Synced.
    Valid,
}

/// A diff kept while the book awaits a snapshot. Its `Vec`s are recycled through a pool.
#[derive(Debug, Default)]
struct BufDiff {
    first_id: u64,
    final_id: u64,
    prev_final_id: Option<u64>,
    event_ms: u64,
    bids: Vec<PxQty>,
    asks: Vec<PxQty>,
}

/// A diff as the sync procedure sees it.
#[derive(Debug, Clone, Copy)]
struct DiffRef<'a> {
    first_id: u64,
    final_id: u64,
    prev_final_id: Option<u64>,
    event_ms: u64,
    bids: &'a [PxQty],
    asks: &'a [PxQty],
}

#[derive(Debug)]
struct InstState {
    book: L2Book,
    sync: Sync,
    /// A depth frame was seen (otherwise tickers alone are the truth).
    seen_depth: bool,
    /// Valid again would be a resync (a gap happened since the last sync).
    after_gap: bool,
    buffered: VecDeque<BufDiff>,
    px_scale: u8,
    qty_scale: u8,
    px_decimals: u8,
    qty_decimals: u8,
}

impl InstState {
    fn new(px_scale: u8, qty_scale: u8) -> Self {
        Self {
            // Room for a 1,000-level snapshot plus growth before anything allocates.
            book: L2Book::with_capacity(PREALLOCATED_BOOK_LEVELS),
            sync: Sync::AwaitSnapshot,
            seen_depth: false,
            after_gap: false,
            buffered: VecDeque::with_capacity(PREALLOCATED_BUFFERED_DIFFS),
            px_scale,
            qty_scale,
            px_decimals: 0,
            qty_decimals: 0,
        }
    }

    /// BOOK_VALID for tickers and trades: synced, or ticker-only instrument.
    fn ticker_flags(&self) -> u16 {
        if self.sync == Sync::Valid || !self.seen_depth {
            flags::BOOK_VALID
        } else {
            0
        }
    }
}

/// What the sync procedure did with one diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Awaiting a snapshot: keep it.
    Buffer,
    /// Already contained in the book.
    Stale,
    /// Applied as the bridging diff: the book is valid now.
    Bridged,
    /// Applied on a valid book.
    Applied,
    /// Breaks continuity on a valid book.
    Gap,
    /// First diff after the snapshot does not bridge: the snapshot is too old.
    StaleSnapshot,
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
        }
    }

    /// Also emit one [`EventKind::Level`] event per level of every applied diff (before the
    /// diff's `Bbo`). Off by default.
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
        let id = self.registry.id(symbol)?;
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
        let market = if !futures {
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

    fn normalize(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        parsed: Parsed<'_>,
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        match parsed {
            Parsed::Ignored => {
                self.stats.ignored += 1;
                Ok(())
            }
            Parsed::BookTicker {
                symbol,
                update_id,
                event_ms,
                bid_px,
                bid_qty,
                ask_px,
                ask_qty,
            } => {
                let (id, ps, qs) = self.scales(&symbol);
                let d = |s: &[u8], scale: u8, field: &'static str| {
                    parse_decimal(s, scale).map_err(|error| FrameError::Decimal { field, error })
                };
                let (bp, bq, ap, aq) = (
                    d(&bid_px, ps, "b")?,
                    d(&bid_qty, qs, "B")?,
                    d(&ask_px, ps, "a")?,
                    d(&ask_qty, qs, "A")?,
                );
                let id = match id {
                    Some(id) => id,
                    None => self.register(&symbol, false),
                };
                self.stats.book_tickers += 1;
                let st = &mut self.states[id.0 as usize];
                st.px_decimals = st.px_decimals.max(bp.decimals).max(ap.decimals);
                st.qty_decimals = st.qty_decimals.max(bq.decimals).max(aq.decimals);
                let mut ev = MarketEvent::new(EventKind::Bbo, id, recv_ns);
                ev.exch_ns = ms_to_ns(event_ms.unwrap_or(0));
                ev.seq = update_id;
                ev.flags = st.ticker_flags();
                ev.bid = PxQty {
                    px: bp.mantissa,
                    qty: bq.mantissa,
                };
                ev.ask = PxQty {
                    px: ap.mantissa,
                    qty: aq.mantissa,
                };
                sink(ev);
                Ok(())
            }
            Parsed::Trade {
                symbol,
                event_ms,
                id: trade_id,
                px,
                qty,
                buyer_is_maker,
            } => {
                let (id, ps, qs) = self.scales(&symbol);
                let p = parse_decimal(&px, ps)
                    .map_err(|error| FrameError::Decimal { field: "p", error })?;
                let q = parse_decimal(&qty, qs)
                    .map_err(|error| FrameError::Decimal { field: "q", error })?;
                let id = match id {
                    Some(id) => id,
                    None => self.register(&symbol, false),
                };
                self.stats.trades += 1;
                let st = &mut self.states[id.0 as usize];
                st.px_decimals = st.px_decimals.max(p.decimals);
                st.qty_decimals = st.qty_decimals.max(q.decimals);
                let mut ev = MarketEvent::new(EventKind::Trade, id, recv_ns);
                ev.exch_ns = ms_to_ns(event_ms);
                ev.seq = trade_id;
                ev.side = if buyer_is_maker {
                    Side::Sell
                } else {
                    Side::Buy
                };
                ev.flags = st.ticker_flags();
                ev.bid = PxQty {
                    px: p.mantissa,
                    qty: q.mantissa,
                };
                sink(ev);
                Ok(())
            }
            Parsed::Depth {
                symbol,
                event_ms,
                first_id,
                final_id,
                prev_final_id,
            } => {
                let (id, ps, qs) = self.scales(&symbol);
                let dec = self.parse_levels(frame, ps, qs, ["b", "a"])?;
                let id = match id {
                    Some(id) => id,
                    None => self.register(&symbol, prev_final_id.is_some()),
                };
                self.stats.diffs += 1;
                let st = &mut self.states[id.0 as usize];
                st.seen_depth = true;
                st.px_decimals = st.px_decimals.max(dec.px_decimals);
                st.qty_decimals = st.qty_decimals.max(dec.qty_decimals);
                let diff = DiffRef {
                    first_id,
                    final_id,
                    prev_final_id,
                    event_ms,
                    bids: &self.scratch_bids,
                    asks: &self.scratch_asks,
                };
                let step = sync_step(
                    st,
                    &diff,
                    id,
                    recv_ns,
                    self.emit_levels,
                    &mut self.stats,
                    sink,
                );
                match step {
                    Step::Buffer | Step::StaleSnapshot => {
                        if step == Step::StaleSnapshot {
                            st.sync = Sync::AwaitSnapshot;
                            self.stats.snapshots_stale += 1;
                        }
                        buffer_diff(st, &diff, &mut self.pool, &mut self.stats);
                    }
                    Step::Gap => buffer_diff(st, &diff, &mut self.pool, &mut self.stats),
                    Step::Stale | Step::Bridged | Step::Applied => {}
                }
                Ok(())
            }
            Parsed::Snapshot {
                last_update_id,
                event_ms,
            } => {
                let Some(id) = self.resolve_snapshot_target()? else {
                    // No instrument awaits a snapshot: nothing to do with it.
                    self.stats.snapshots_ignored += 1;
                    return Ok(());
                };
                let (ps, qs) = (
                    self.states[id.0 as usize].px_scale,
                    self.states[id.0 as usize].qty_scale,
                );
                let dec = self.parse_levels(frame, ps, qs, ["bids", "asks"])?;
                self.snapshot_target = None;
                let st = &mut self.states[id.0 as usize];
                st.px_decimals = st.px_decimals.max(dec.px_decimals);
                st.qty_decimals = st.qty_decimals.max(dec.qty_decimals);
                if st.sync == Sync::Valid {
                    self.stats.snapshots_ignored += 1;
                    return Ok(());
                }
                self.stats.snapshots += 1;
                let mut ev = MarketEvent::new(EventKind::SnapshotBegin, id, recv_ns);
                ev.exch_ns = ms_to_ns(event_ms.unwrap_or(0));
                ev.seq = last_update_id;
                sink(ev);
                st.book
                    .load_snapshot(&self.scratch_bids, &self.scratch_asks, last_update_id);
                st.sync = Sync::AwaitBridge;
                // Replay buffered diffs.
                while let Some(b) = st.buffered.pop_front() {
                    let diff = DiffRef {
                        first_id: b.first_id,
                        final_id: b.final_id,
                        prev_final_id: b.prev_final_id,
                        event_ms: b.event_ms,
                        bids: &b.bids,
                        asks: &b.asks,
                    };
                    match sync_step(
                        st,
                        &diff,
                        id,
                        recv_ns,
                        self.emit_levels,
                        &mut self.stats,
                        sink,
                    ) {
                        Step::Stale | Step::Bridged | Step::Applied => self.pool.push(b),
                        Step::StaleSnapshot => {
                            st.sync = Sync::AwaitSnapshot;
                            self.stats.snapshots_stale += 1;
                            st.buffered.push_front(b);
                            break;
                        }
                        Step::Gap | Step::Buffer => {
                            st.buffered.push_front(b);
                            break;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// The instrument a bare snapshot belongs to; `None` when no instrument awaits one.
    fn resolve_snapshot_target(&self) -> Result<Option<InstrumentId>, FrameError> {
        if let Some(id) = self.snapshot_target {
            if (id.0 as usize) < self.states.len() {
                return Ok(Some(id));
            }
        }
        let pick = |f: &dyn Fn(&InstState) -> bool| {
            let mut it = self.states.iter().enumerate().filter(|(_, s)| f(s));
            let first = it.next().map(|(i, _)| InstrumentId(i as u32));
            let n = u32::from(first.is_some()) + it.count() as u32;
            (first, n)
        };
        match pick(&|s| s.sync != Sync::Valid && s.seen_depth) {
            (Some(id), 1) => Ok(Some(id)),
            (_, 0) => match pick(&|s| s.sync != Sync::Valid) {
                (Some(id), 1) => Ok(Some(id)),
                (_, 0) => Ok(None),
                (_, n) => Err(FrameError::SnapshotTarget { awaiting: n }),
            },
            (_, n) => Err(FrameError::SnapshotTarget { awaiting: n }),
        }
    }
}

fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

fn buffer_diff(
    st: &mut InstState,
    d: &DiffRef<'_>,
    pool: &mut Vec<BufDiff>,
    stats: &mut FeedStats,
) {
    let mut b = if st.buffered.len() >= MAX_BUFFERED_DIFFS {
        stats.buffer_overflows += 1;
        st.buffered.pop_front().unwrap_or_default()
    } else {
        pool.pop().unwrap_or_default()
    };
    b.first_id = d.first_id;
    b.final_id = d.final_id;
    b.prev_final_id = d.prev_final_id;
    b.event_ms = d.event_ms;
    b.bids.clear();
    b.bids.extend_from_slice(d.bids);
    b.asks.clear();
    b.asks.extend_from_slice(d.asks);
    st.buffered.push_back(b);
    stats.diffs_buffered += 1;
}

/// Run one diff through the sync procedure; applies it and emits events when it applies.
fn sync_step(
    st: &mut InstState,
    d: &DiffRef<'_>,
    id: InstrumentId,
    recv_ns: u64,
    emit_levels: bool,
    stats: &mut FeedStats,
    sink: &mut impl FnMut(MarketEvent),
) -> Step {
    let book_id = st.book.last_update_id();
    let step = match st.sync {
        Sync::AwaitSnapshot => return Step::Buffer,
        Sync::AwaitBridge => {
            if d.final_id <= book_id {
                Step::Stale
            } else {
                let bridges = match d.prev_final_id {
                    Some(pu) => (d.first_id <= book_id && book_id <= d.final_id) || pu == book_id,
                    None => {
                        d.first_id <= book_id.saturating_add(1)
                            && book_id.saturating_add(1) <= d.final_id
                    }
                };
                if bridges {
                    Step::Bridged
                } else {
                    Step::StaleSnapshot
                }
            }
        }
        Sync::Valid => {
            if d.final_id <= book_id {
                Step::Stale
            } else {
                let continues = match d.prev_final_id {
                    Some(pu) => pu == book_id,
                    None => Some(d.first_id) == book_id.checked_add(1),
                };
                if continues {
                    Step::Applied
                } else {
                    Step::Gap
                }
            }
        }
    };
    match step {
        Step::Stale => stats.diffs_dropped_stale += 1,
        Step::Gap => {
            stats.gaps += 1;
            st.sync = Sync::AwaitSnapshot;
            st.book.set_valid(false);
            st.after_gap = true;
            let mut ev = MarketEvent::new(EventKind::Gap, id, recv_ns);
            ev.exch_ns = ms_to_ns(d.event_ms);
            ev.seq = book_id;
            ev.bid.px = i64::try_from(d.first_id).unwrap_or(i64::MAX);
            sink(ev);
        }
        Step::Bridged | Step::Applied => {
            for l in d.bids {
                st.book.set(Side::Buy, l.px, l.qty);
            }
            for l in d.asks {
                st.book.set(Side::Sell, l.px, l.qty);
            }
            st.book.set_last_update_id(d.final_id);
            stats.diffs_applied += 1;
            let exch_ns = ms_to_ns(d.event_ms);
            if step == Step::Bridged {
                st.sync = Sync::Valid;
                st.book.set_valid(true);
                if st.after_gap {
                    stats.resyncs += 1;
                    st.after_gap = false;
                }
                let mut ev = MarketEvent::new(EventKind::SnapshotEnd, id, recv_ns);
                ev.exch_ns = exch_ns;
                ev.seq = d.final_id;
                ev.flags = flags::BOOK_VALID;
                sink(ev);
            }
            if emit_levels {
                for (side, levels) in [(Side::Buy, d.bids), (Side::Sell, d.asks)] {
                    for l in levels {
                        let mut ev = MarketEvent::new(EventKind::Level, id, recv_ns);
                        ev.exch_ns = exch_ns;
                        ev.seq = d.final_id;
                        ev.side = side;
                        ev.flags = flags::BOOK_VALID | flags::FROM_BOOK;
                        ev.bid = *l;
                        sink(ev);
                    }
                }
            }
            let mut ev = MarketEvent::new(EventKind::Bbo, id, recv_ns);
            ev.exch_ns = exch_ns;
            ev.seq = d.final_id;
            ev.flags = flags::BOOK_VALID | flags::FROM_BOOK;
            ev.bid = st.book.best_bid().unwrap_or_default();
            ev.ask = st.book.best_ask().unwrap_or_default();
            sink(ev);
        }
        Step::Buffer | Step::StaleSnapshot => {}
    }
    step
}
