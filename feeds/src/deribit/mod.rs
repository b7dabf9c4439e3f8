//! Deribit market data (JSON-RPC 2.0 over websocket): subscription notifications for `book.*`,
//! `ticker.*` and `trades.*`, heartbeats, and the `public/get_instruments` response, normalized
//! into [`MarketEvent`]s with exact L2 books.
//!
//! # Book continuity
//! A `book.{instrument}.{interval}` channel opens with a `"type":"snapshot"` carrying
//! `change_id`; each `"type":"change"` carries `prev_change_id`, which must equal the previous
//! message's `change_id`. A break marks the book invalid, emits one [`EventKind::Gap`] (`seq` = the
//! last applied `change_id`, `bid.px` = the breaking message's `change_id`) and queues the
//! instrument for [`DeribitFeed::take_resubscribe`]: the transport resubscribes, Deribit sends a
//! new snapshot, and the book is valid again ([`FeedStats::resyncs`]). Changes arriving while the
//! book is invalid are dropped (counted in `diffs_dropped_stale`). Grouped books
//! (`book.{instrument}.{group}.{depth}.{interval}`, no `type`) are full snapshots every time.
//!
//! # Events
//! - book snapshot → `SnapshotBegin`, `SnapshotEnd` (`seq` = `change_id`), `Bbo`
//!   (`FROM_BOOK | BOOK_VALID`); change → `Level`s (if [`DeribitFeed::emit_levels`]) then `Bbo`.
//! - option ticker → [`EventKind::OptionTicker`] (layout in [`option_ticker`]); other tickers →
//!   `Bbo` from `best_bid_price`/`best_bid_amount`/`best_ask_price`/`best_ask_amount` (`seq` =
//!   `timestamp` ms).
//! - trade → `Trade` (`seq` = `trade_seq`, side = `direction`).
//!
//! Tickers and trades carry `BOOK_VALID` when the instrument's book is valid or it has no book
//! channel. Prices and amounts are exact mantissas at [`DERIBIT_SCALE`] decimals.
//!
//! Parsing: envelopes and books are walked by hand (`walk.rs`: string-aware, bracket-matched,
//! allocation-free); tickers and trades are parsed by serde from their spans with borrowed
//! strings and raw number spans (no `f64` on the way into a book). No allocation per frame in
//! steady state (`tests/deribit_alloc.rs`).
//!
//! [`EventKind::Gap`]: crate::event::EventKind::Gap
//! [`EventKind::OptionTicker`]: crate::event::EventKind::OptionTicker

mod book;
pub mod encode;
pub mod instruments;
pub mod num;
mod ticker;
mod trade;
pub mod walk;

use std::collections::VecDeque;

use crate::binance::FeedStats;
use crate::book::L2Book;
use crate::event::{flags, MarketEvent, PxQty, Side};
use crate::registry::{InstrumentId, Market, Registry};
pub use instruments::{DeribitInstrument, InstrumentKind, OptionType};
pub use ticker::{option_ticker, read_option_ticker, OptionTicker};

/// Decimal scale of Deribit prices and amounts (mantissas).
pub const DERIBIT_SCALE: u8 = 8;

/// Most instruments queued for resubscription at once (a queue longer than this is deduplicated
/// anyway; one entry per instrument).
const MAX_RESUB: usize = 1024;

/// Why a Deribit frame was rejected. The feed's state is unchanged by a rejected frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeribitError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("invalid Deribit frame JSON: {0}")]
    Json(String),
    /// A number is not an exact decimal at [`DERIBIT_SCALE`].
    #[error("bad number in `{field}`")]
    Number {
        /// Which field.
        field: &'static str,
    },
    /// A book level is not `[action, price, amount]` or `[price, amount]`.
    #[error("bad book level")]
    Level,
    /// A `get_instruments` result was malformed.
    #[error(transparent)]
    Instruments(#[from] instruments::InstrumentsError),
}

#[derive(Debug, Clone)]
struct State {
    book: L2Book,
    /// A book channel was seen for it.
    seen_book: bool,
    /// A gap happened since the last snapshot (the next snapshot is a resync).
    after_gap: bool,
    /// Queued for resubscription and not yet taken.
    resub_queued: bool,
}

impl State {
    fn new() -> Self {
        Self {
            book: L2Book::default(),
            seen_book: false,
            after_gap: false,
            resub_queued: false,
        }
    }

    fn ticker_flags(&self) -> u16 {
        if !self.seen_book || self.book.is_valid() {
            flags::BOOK_VALID
        } else {
            0
        }
    }
}

/// One Deribit connection's worth of market data: parses frames, keeps exact books per
/// instrument, knows the instrument chain. One per feed thread.
#[derive(Debug, Clone)]
pub struct DeribitFeed {
    registry: Registry,
    states: Vec<State>,
    /// Chain facts by instrument id.
    chain: Vec<Option<DeribitInstrument>>,
    stats: FeedStats,
    emit_levels: bool,
    resubscribe: VecDeque<InstrumentId>,
    test_request: bool,
    levels: Vec<(Side, PxQty)>,
    bids: Vec<PxQty>,
    asks: Vec<PxQty>,
}

impl DeribitFeed {
    /// A feed over `registry`'s instruments; instruments seen first in a frame or a
    /// `get_instruments` response are registered as [`Market::Deribit`] at [`DERIBIT_SCALE`].
    #[must_use]
    pub fn new(registry: Registry) -> Self {
        let n = registry.len();
        let mut f = Self {
            registry,
            states: Vec::with_capacity(n),
            chain: Vec::with_capacity(n),
            stats: FeedStats::default(),
            emit_levels: false,
            resubscribe: VecDeque::with_capacity(16),
            test_request: false,
            levels: Vec::with_capacity(256),
            bids: Vec::with_capacity(256),
            asks: Vec::with_capacity(256),
        };
        f.grow();
        f
    }

    fn grow(&mut self) {
        while self.states.len() < self.registry.len() {
            let name = self.registry.instruments()[self.states.len()]
                .symbol
                .clone();
            self.states.push(State::new());
            self.chain.push(instruments::parse_name(&name));
        }
    }

    /// Also emit one [`EventKind::Level`] per level of every applied change (before its `Bbo`).
    ///
    /// [`EventKind::Level`]: crate::event::EventKind::Level
    pub fn emit_levels(&mut self, on: bool) {
        self.emit_levels = on;
    }

    /// The instrument registry (grows as instruments are seen).
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The exact book of `id`; `last_update_id` is the last applied `change_id`.
    #[must_use]
    pub fn book(&self, id: InstrumentId) -> Option<&L2Book> {
        self.states.get(id.0 as usize).map(|s| &s.book)
    }

    /// Chain facts about `id` (from `get_instruments`, else from its name).
    #[must_use]
    pub fn instrument(&self, id: InstrumentId) -> Option<&DeribitInstrument> {
        self.chain.get(id.0 as usize).and_then(Option::as_ref)
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> FeedStats {
        self.stats
    }

    /// The next instrument whose book broke continuity and needs a fresh snapshot (the
    /// transport unsubscribes and subscribes its book channel again). Each instrument is queued
    /// once per gap.
    pub fn take_resubscribe(&mut self) -> Option<InstrumentId> {
        let id = self.resubscribe.pop_front()?;
        if let Some(s) = self.states.get_mut(id.0 as usize) {
            s.resub_queued = false;
        }
        Some(id)
    }

    /// Whether a `test_request` heartbeat arrived since the last call (the transport answers it
    /// with `public/test`).
    pub fn take_test_request(&mut self) -> bool {
        std::mem::take(&mut self.test_request)
    }

    /// Loads a `public/get_instruments` `result` array into the chain (registering instruments).
    ///
    /// # Errors
    /// [`DeribitError::Instruments`] when it is malformed (nothing is loaded).
    pub fn load_instruments(&mut self, result: &str) -> Result<usize, DeribitError> {
        let list = instruments::parse_instruments(result)?;
        let n = list.len();
        for i in list {
            let id = self
                .registry
                .register(&i.name, Market::Deribit, DERIBIT_SCALE, DERIBIT_SCALE);
            self.grow();
            self.chain[id.0 as usize] = Some(i);
        }
        Ok(n)
    }

    fn id_of(&mut self, name: &str) -> InstrumentId {
        match self.registry.id(name) {
            Some(id) => id,
            None => {
                let id =
                    self.registry
                        .register(name, Market::Deribit, DERIBIT_SCALE, DERIBIT_SCALE);
                self.grow();
                id
            }
        }
    }

    /// Parses one raw frame received at `recv_ns` and pushes its events into `sink`, in order
    /// (see the module docs). Also handles heartbeats and `get_instruments` responses; other
    /// responses are counted as ignored.
    ///
    /// # Errors
    /// [`DeribitError`] for a malformed frame; the feed's state is unchanged (only `frames` and
    /// `malformed` count it).
    pub fn on_frame(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), DeribitError> {
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
    ) -> Result<(), DeribitError> {
        let bad = |m: &str| DeribitError::Json(m.to_owned());
        let start = walk::ws(frame, 0);
        let (mut method, mut params, mut result, mut error) = (None, None, None, false);
        let end = walk::entries(frame, start, |k, a, b| match k {
            b"method" => method = Some(&frame[a..b]),
            b"params" => params = Some((a, b)),
            b"result" => result = Some(&frame[a..b]),
            b"error" => error = true,
            _ => {}
        })
        .ok_or_else(|| bad("frame is not a well-formed JSON object"))?;
        if walk::ws(frame, end) != frame.len() {
            return Err(bad("trailing bytes after the JSON object"));
        }
        match (method.and_then(walk::plain_str), params) {
            (Some("subscription"), Some((pa, _))) => {
                let (mut channel, mut data) = (None, None);
                walk::entries(frame, pa, |k, a, b| match k {
                    b"channel" => channel = walk::plain_str(&frame[a..b]),
                    b"data" => data = Some(&frame[a..b]),
                    _ => {}
                })
                .ok_or_else(|| bad("`params` is not an object"))?;
                let (Some(ch), Some(data)) = (channel, data) else {
                    return Err(bad("subscription without `channel` and `data`"));
                };
                if ch.starts_with("book.") {
                    self.on_book(recv_ns, data, sink)
                } else if ch.starts_with("ticker.") {
                    self.on_ticker(recv_ns, data, sink)
                } else if ch.starts_with("trades.") {
                    self.on_trades(recv_ns, data, sink)
                } else {
                    self.stats.ignored += 1;
                    Ok(())
                }
            }
            (Some("heartbeat"), Some((pa, _))) => {
                let mut kind = None;
                walk::entries(frame, pa, |k, a, b| {
                    if k == b"type" {
                        kind = walk::plain_str(&frame[a..b]);
                    }
                })
                .ok_or_else(|| bad("`params` is not an object"))?;
                match kind {
                    Some("test_request") => self.test_request = true,
                    Some(_) => {}
                    None => return Err(bad("heartbeat without `type`")),
                }
                self.stats.ignored += 1;
                Ok(())
            }
            (None, _) if result.is_some() || error => {
                if let Some(r) = result.and_then(|r| std::str::from_utf8(r).ok()) {
                    if r.starts_with('[')
                        && r.contains("\"instrument_name\"")
                        && r.contains("\"kind\"")
                    {
                        self.load_instruments(r)?;
                        return Ok(());
                    }
                }
                self.stats.ignored += 1;
                Ok(())
            }
            _ => {
                self.stats.ignored += 1;
                Ok(())
            }
        }
    }
}

impl crate::adapter::FeedAdapter for DeribitFeed {
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        DeribitFeed::on_frame(self, recv_ns, frame, sink).is_ok()
    }

    fn stats(&self) -> FeedStats {
        DeribitFeed::stats(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    fn frame(channel: &str, data: &str) -> Vec<u8> {
        format!(r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"{channel}","data":{data}}}}}"#).into_bytes()
    }

    fn run(f: &mut DeribitFeed, fr: &[u8]) -> (Result<(), DeribitError>, Vec<MarketEvent>) {
        let mut v = Vec::new();
        let r = f.on_frame(1, fr, &mut |e| v.push(e));
        (r, v)
    }

    const SNAP: &str = r#"{"type":"snapshot","timestamp":5,"instrument_name":"BTC-PERPETUAL","change_id":10,"bids":[["new",100.5,20.0],["new",100.0,10.0]],"asks":[["new",101.0,30.0]]}"#;

    #[test]
    fn snapshot_change_and_gap() {
        let mut f = DeribitFeed::new(Registry::new());
        let (r, ev) = run(&mut f, &frame("book.BTC-PERPETUAL.raw", SNAP));
        r.unwrap();
        let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::SnapshotBegin,
                EventKind::SnapshotEnd,
                EventKind::Bbo
            ]
        );
        assert_eq!(
            ev[2].bid,
            PxQty {
                px: 10_050_000_000,
                qty: 2_000_000_000
            }
        );
        assert_eq!(
            ev[2].ask,
            PxQty {
                px: 10_100_000_000,
                qty: 3_000_000_000
            }
        );
        let ch = r#"{"type":"change","timestamp":6,"instrument_name":"BTC-PERPETUAL","prev_change_id":10,"change_id":11,"bids":[["delete",100.5,0.0]],"asks":[["change",101.0,5.0]]}"#;
        let (r, ev) = run(&mut f, &frame("book.BTC-PERPETUAL.raw", ch));
        r.unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].bid.px, 10_000_000_000);
        assert_eq!(ev[0].ask.qty, 500_000_000);
        assert_eq!(ev[0].seq, 11);
        assert!(ev[0].book_valid());
        // Gap: prev_change_id 12 != 11.
        let gap = ch.replace(
            "\"prev_change_id\":10,\"change_id\":11",
            "\"prev_change_id\":12,\"change_id\":13",
        );
        let (r, ev) = run(&mut f, &frame("book.BTC-PERPETUAL.raw", &gap));
        r.unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind, EventKind::Gap);
        assert_eq!((ev[0].seq, ev[0].bid.px), (11, 13));
        let id = f.registry().id("BTC-PERPETUAL").unwrap();
        assert!(!f.book(id).unwrap().is_valid());
        assert_eq!(f.take_resubscribe(), Some(id));
        assert_eq!(f.take_resubscribe(), None);
        // Changes while invalid are dropped; a ticker then has no BOOK_VALID.
        let ch2 = ch.replace(
            "\"prev_change_id\":10,\"change_id\":11",
            "\"prev_change_id\":13,\"change_id\":14",
        );
        let (_, ev) = run(&mut f, &frame("book.BTC-PERPETUAL.raw", &ch2));
        assert!(ev.is_empty());
        let tk = r#"{"timestamp":7,"instrument_name":"BTC-PERPETUAL","best_bid_price":100.0,"best_bid_amount":10.0,"best_ask_price":101.0,"best_ask_amount":5.0,"mark_price":100.7}"#;
        let (_, ev) = run(&mut f, &frame("ticker.BTC-PERPETUAL.raw", tk));
        assert_eq!(ev[0].kind, EventKind::Bbo);
        assert!(!ev[0].book_valid());
        // Resubscribed snapshot: valid again, one resync.
        let (_, ev) = run(&mut f, &frame("book.BTC-PERPETUAL.100ms", SNAP));
        assert_eq!(ev.last().unwrap().kind, EventKind::Bbo);
        assert!(f.book(id).unwrap().is_valid());
        let s = f.stats();
        assert_eq!(
            (
                s.gaps,
                s.resyncs,
                s.snapshots,
                s.diffs_applied,
                s.diffs_dropped_stale
            ),
            (1, 1, 2, 1, 1)
        );
    }

    #[test]
    fn option_ticker_layout() {
        let mut f = DeribitFeed::new(Registry::new());
        let tk = r#"{"underlying_price":32366.75,"timestamp":1626993722929,"mark_price":0.00090376,"mark_iv":142.78,"bid_iv":0.0,"ask_iv":150.5,"instrument_name":"BTC-24SEP21-8000-P","best_bid_price":0.0005,"best_ask_price":0.0015}"#;
        let (r, ev) = run(&mut f, &frame("ticker.BTC-24SEP21-8000-P.raw", tk));
        r.unwrap();
        let t = read_option_ticker(&ev[0]).unwrap();
        assert_eq!(t.underlying_px, 32366.75);
        assert_eq!(t.mark_px, 0.00090376);
        assert_eq!(t.mark_iv, 142.78 / 100.0);
        assert_eq!(t.ask_iv, 1.505);
        assert_eq!(ev[0].exch_ns, 1_626_993_722_929_000_000);
        assert!(ev[0].book_valid());
        let i = f.instrument(ev[0].instrument).unwrap();
        assert_eq!(i.option_type, Some(OptionType::Put));
        assert_eq!(i.strike, 800_000_000_000);
    }

    #[test]
    fn heartbeat_trades_and_rejects() {
        let mut f = DeribitFeed::new(Registry::new());
        let (r, _) = run(
            &mut f,
            br#"{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}"#,
        );
        r.unwrap();
        assert!(f.take_test_request());
        assert!(!f.take_test_request());
        let tr = r#"[{"trade_seq":7,"trade_id":"1","timestamp":9,"price":0.0015,"amount":2.5,"direction":"sell","instrument_name":"BTC-24SEP21-8000-P"}]"#;
        let (r, ev) = run(&mut f, &frame("trades.BTC-24SEP21-8000-P.raw", tr));
        r.unwrap();
        assert_eq!(
            (ev[0].kind, ev[0].seq, ev[0].side),
            (EventKind::Trade, 7, Side::Sell)
        );
        assert_eq!(
            ev[0].bid,
            PxQty {
                px: 150_000,
                qty: 250_000_000
            }
        );
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"method":"subscription","params":{"channel":"book.X.raw","data":{"type":"snapshot","instrument_name":"X","change_id":1,"bids":[["new",-1,2]],"asks":[]}}}"#,
            br#"{"method":"subscription","params":{"channel":"book.X.raw","data":{"type":"snapshot","instrument_name":"X","change_id":1,"bids":[["nope",1,2]],"asks":[]}}}"#,
        ] {
            let before = f.registry().len();
            let (r, ev) = run(&mut f, bad);
            assert!(r.is_err(), "{}", String::from_utf8_lossy(bad));
            assert!(ev.is_empty());
            assert_eq!(f.registry().len(), before);
        }
    }
}
