//! [`LiveFeed`]: a venue feed behind the live source's control frames.

use std::sync::Arc;

use feeds::deribit::{read_option_ticker, DeribitFeed};
use feeds::registry::POW10;
use feeds::{
    flags, BinanceFeed, EventKind, FeedAdapter, FeedStats, InstrumentId, MarketEvent, Registry,
};

use super::{Link, CONTROL, CTL_RESET, CTL_SNAPSHOT, CTL_STALE};
use feeds::Marks;

/// What the live wrapper needs from a venue feed.
pub trait VenueFeed: Send + Sized {
    /// Whether a [`EventKind::Gap`] from the feed asks the transport for a resync (Binance: a
    /// REST snapshot). Feeds that queue their own requests ([`VenueFeed::take_resync`]) say no.
    const RESYNC_ON_GAP: bool;

    /// Parses one frame; false when rejected (see [`FeedAdapter::on_frame`]).
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool;

    /// Counters.
    fn stats(&self) -> FeedStats;

    /// The registry.
    fn registry(&self) -> &Registry;

    /// A fresh feed over the same instruments, every book empty (after a reconnect).
    #[must_use]
    fn fresh(&self) -> Self;

    /// The next bare REST snapshot is for `id`.
    fn set_snapshot_target(&mut self, id: InstrumentId) {
        let _ = id;
    }

    /// A heartbeat asks for an answer.
    fn take_test_request(&mut self) -> bool {
        false
    }

    /// The next instrument the feed asks to resync.
    fn take_resync(&mut self) -> Option<InstrumentId> {
        None
    }
}

impl VenueFeed for BinanceFeed {
    const RESYNC_ON_GAP: bool = true;

    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        BinanceFeed::on_frame(self, recv_ns, frame, sink).is_ok()
    }

    fn stats(&self) -> FeedStats {
        BinanceFeed::stats(self)
    }

    fn registry(&self) -> &Registry {
        BinanceFeed::registry(self)
    }

    fn fresh(&self) -> Self {
        BinanceFeed::new(self.registry().clone())
    }

    fn set_snapshot_target(&mut self, id: InstrumentId) {
        BinanceFeed::set_snapshot_target(self, id);
    }
}

impl VenueFeed for DeribitFeed {
    const RESYNC_ON_GAP: bool = false;

    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        DeribitFeed::on_frame(self, recv_ns, frame, sink).is_ok()
    }

    fn stats(&self) -> FeedStats {
        DeribitFeed::stats(self)
    }

    fn registry(&self) -> &Registry {
        DeribitFeed::registry(self)
    }

    fn fresh(&self) -> Self {
        DeribitFeed::new(self.registry().clone())
    }

    fn take_test_request(&mut self) -> bool {
        DeribitFeed::take_test_request(self)
    }

    fn take_resync(&mut self) -> Option<InstrumentId> {
        DeribitFeed::take_resubscribe(self)
    }
}

/// Counters of the wrapper itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveFeedStats {
    /// Book resets after a lost connection.
    pub resets: u64,
    /// Gap events emitted because a stream went stale.
    pub stale_gaps: u64,
    /// REST snapshots handed to the feed.
    pub snapshots: u64,
    /// Snapshots the feed could not use (too old or otherwise), asked again.
    pub snapshots_retried: u64,
}

/// A venue feed driven by a [`super::LiveSource`]: handles its control frames, asks it for
/// resyncs, and publishes marks for the risk gate's price band.
///
/// Marks: an option's is the venue's mark price from its ticker ([`EventKind::OptionTicker`],
/// coin per contract, rounded to the instrument's `px_scale`); once an instrument has had one, its
/// book's mid no longer moves its mark (option books are wide and thin, the mark is not). Every
/// other instrument's mark (perpetuals, futures, spot) is the mid of each valid best bid/offer,
/// from its book or its ticker. A lost connection clears every mark and a stale stream its
/// instrument's, so the gate rejects (`no_mark`) rather than check a price against an old mark.
#[derive(Debug)]
pub struct LiveFeed<V> {
    inner: V,
    carried: FeedStats,
    link: Arc<Link>,
    has_book: Vec<bool>,
    marks: Option<Marks>,
    /// Per instrument index: its mark comes from option tickers (sized at start-up).
    ticker_marked: Vec<bool>,
    /// Per instrument index: its `px_scale` (instruments registered later get no mark).
    px_scale: Vec<u8>,
    stats: LiveFeedStats,
}

/// `px` (venue units, `f64` from a ticker) as a mantissa at `scale` decimals; `None` unless
/// finite, positive and representable.
fn px_mantissa(px: f64, scale: u8) -> Option<i64> {
    let m = (px * POW10[usize::from(scale.min(18))] as f64).round();
    (1.0..9.0e18).contains(&m).then_some(m as i64)
}

// `..b` keeps this compiling when `FeedStats` gains a counter (carried as the newest value then).
#[allow(clippy::needless_update)]
fn add(a: FeedStats, b: FeedStats) -> FeedStats {
    FeedStats {
        frames: a.frames + b.frames,
        malformed: a.malformed + b.malformed,
        ignored: a.ignored + b.ignored,
        fallback_parses: a.fallback_parses + b.fallback_parses,
        book_tickers: a.book_tickers + b.book_tickers,
        trades: a.trades + b.trades,
        diffs: a.diffs + b.diffs,
        diffs_applied: a.diffs_applied + b.diffs_applied,
        diffs_dropped_stale: a.diffs_dropped_stale + b.diffs_dropped_stale,
        diffs_buffered: a.diffs_buffered + b.diffs_buffered,
        buffer_overflows: a.buffer_overflows + b.buffer_overflows,
        gaps: a.gaps + b.gaps,
        resyncs: a.resyncs + b.resyncs,
        snapshots: a.snapshots + b.snapshots,
        snapshots_ignored: a.snapshots_ignored + b.snapshots_ignored,
        snapshots_stale: a.snapshots_stale + b.snapshots_stale,
        ..b
    }
}

fn gap(id: InstrumentId, recv_ns: u64) -> MarketEvent {
    let mut e = MarketEvent::new(EventKind::Gap, id, recv_ns);
    e.flags = flags::SYNTHETIC;
    e
}

impl<V: VenueFeed> LiveFeed<V> {
    /// Wraps `inner`; `has_book[i]` says whether instrument index `i` has a depth channel (it
    /// needs a resync at start and after every reset). Resyncs of those are requested at once.
    #[must_use]
    pub fn new(inner: V, link: Arc<Link>, has_book: Vec<bool>, marks: Option<Marks>) -> Self {
        for (i, b) in has_book.iter().enumerate() {
            if *b && V::RESYNC_ON_GAP {
                link.request_resync(i);
            }
        }
        let px_scale: Vec<u8> = inner
            .registry()
            .instruments()
            .iter()
            .map(|i| i.px_scale)
            .collect();
        Self {
            ticker_marked: vec![false; px_scale.len()],
            px_scale,
            inner,
            carried: FeedStats::default(),
            link,
            has_book,
            marks,
            stats: LiveFeedStats::default(),
        }
    }

    /// The venue feed.
    #[must_use]
    pub fn inner(&self) -> &V {
        &self.inner
    }

    /// The wrapper's counters.
    #[must_use]
    pub fn live_stats(&self) -> LiveFeedStats {
        self.stats
    }

    fn control(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        let Some(&kind) = frame.get(1) else {
            return false;
        };
        let id = frame
            .get(2..6)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        match kind {
            CTL_RESET => {
                self.stats.resets += 1;
                self.carried = add(self.carried, self.inner.stats());
                self.inner = self.inner.fresh();
                for i in 0..self.inner.registry().len() {
                    if let Some(m) = &self.marks {
                        m.set(InstrumentId(i as u32), 0);
                    }
                    sink(gap(InstrumentId(i as u32), recv_ns));
                    if self.has_book.get(i).copied().unwrap_or(false) && V::RESYNC_ON_GAP {
                        self.link.request_resync(i);
                    }
                }
                true
            }
            CTL_STALE => {
                self.stats.stale_gaps += 1;
                if let Some(m) = &self.marks {
                    m.set(InstrumentId(id), 0);
                }
                sink(gap(InstrumentId(id), recv_ns));
                true
            }
            CTL_SNAPSHOT => {
                self.stats.snapshots += 1;
                let id = InstrumentId(id);
                self.inner.set_snapshot_target(id);
                let mut began = false;
                let ok = self.forward(recv_ns, &frame[6..], &mut |e| {
                    began |= e.kind == EventKind::SnapshotBegin && e.instrument == id;
                    sink(e);
                });
                if !began {
                    self.stats.snapshots_retried += 1;
                    self.link.request_resync(id.0 as usize);
                }
                ok
            }
            _ => false,
        }
    }

    fn forward(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        let Self {
            inner,
            link,
            marks,
            ticker_marked,
            px_scale,
            ..
        } = self;
        let ok = inner.on_frame(recv_ns, frame, &mut |e| {
            let i = e.instrument.0 as usize;
            match (e.kind, marks.as_ref()) {
                (EventKind::Gap, _) if V::RESYNC_ON_GAP => link.request_resync(i),
                (EventKind::Bbo, Some(m))
                    if e.book_valid()
                        && e.bid.px > 0
                        && e.ask.px >= e.bid.px
                        && !ticker_marked.get(i).copied().unwrap_or(false) =>
                {
                    m.set(e.instrument, e.bid.px + (e.ask.px - e.bid.px) / 2);
                }
                (EventKind::OptionTicker, Some(m)) => {
                    let px = read_option_ticker(&e)
                        .and_then(|t| px_mantissa(t.mark_px, px_scale.get(i).copied()?));
                    if let (Some(px), Some(flag)) = (px, ticker_marked.get_mut(i)) {
                        *flag = true;
                        m.set(e.instrument, px);
                    }
                }
                _ => {}
            }
            sink(e);
        });
        if inner.take_test_request() {
            link.request_test();
        }
        while let Some(id) = inner.take_resync() {
            link.request_resync(id.0 as usize);
        }
        ok
    }
}

impl<V: VenueFeed> FeedAdapter for LiveFeed<V> {
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        if frame.first() == Some(&CONTROL) {
            return self.control(recv_ns, frame, sink);
        }
        self.forward(recv_ns, frame, sink)
    }

    fn stats(&self) -> FeedStats {
        add(self.carried, self.inner.stats())
    }
}

/// A borrowed feed drives the pipeline just as well, and the caller still has it afterwards to read
/// [`LiveFeed::live_stats`].
impl<V: VenueFeed> FeedAdapter for &mut LiveFeed<V> {
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        FeedAdapter::on_frame(&mut **self, recv_ns, frame, sink)
    }

    fn stats(&self) -> FeedStats {
        FeedAdapter::stats(&**self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::clock::Clock;
    use engine::order::{Binding, Order, Reason};
    use engine::risk_gate::{InstrumentLimits, KillSwitch, RejectReason, RiskGate, RiskLimits};
    use feeds::{Market, Side};

    const OPT: &str = "BTC-27DEC24-60000-C";

    fn note(channel: &str, data: &str) -> Vec<u8> {
        format!(
            "{{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"{channel}\",\"data\":{data}}}}}"
        )
        .into_bytes()
    }

    fn book(name: &str, change_id: u64, bid: &str, ask: &str) -> Vec<u8> {
        note(
            &format!("book.{name}.100ms"),
            &format!(
                "{{\"type\":\"snapshot\",\"timestamp\":1700000000000,\"instrument_name\":\"{name}\",\"change_id\":{change_id},\"bids\":[[\"new\",{bid},5.0]],\"asks\":[[\"new\",{ask},5.0]]}}"
            ),
        )
    }

    fn option_ticker(mark: &str) -> Vec<u8> {
        note(
            &format!("ticker.{OPT}.100ms"),
            &format!(
                "{{\"timestamp\":1700000000000,\"state\":\"open\",\"instrument_name\":\"{OPT}\",\"mark_price\":{mark},\"mark_iv\":55.1,\"underlying_price\":61000.0,\"index_price\":61000.0,\"bid_iv\":50.0,\"ask_iv\":60.0,\"best_bid_price\":0.01,\"best_bid_amount\":5.0,\"best_ask_price\":0.09,\"best_ask_amount\":5.0}}"
            ),
        )
    }

    fn order(id: u64, instrument: u32, qty: i64, px: i64) -> Order {
        Order {
            id,
            recv_ns: 0,
            t_ingest: 0,
            t_push: 0,
            ingest_lag_ns: 0,
            instrument: InstrumentId(instrument),
            side: Side::Buy,
            reason: Reason::VolTarget,
            binding: Binding::Model,
            qty,
            limit_px: px,
            touch_qty: qty,
            target_qty: 0.0,
            position_qty: 0.0,
            working_qty: 0.0,
            vol_forecast: 0.0,
            rebalance: 0,
        }
    }

    /// The option's mark is its ticker's mark price (not its wide book's mid), the perpetual's the
    /// mid of its book; a fat-finger limit on the option is rejected by the gate's price band, a
    /// limit near the mark passes; a lost connection clears the marks.
    #[test]
    fn option_marks_from_tickers_feed_the_price_band() {
        let mut reg = Registry::new();
        let perp = reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
        let opt = reg.register(OPT, Market::Deribit, 8, 8);
        let marks = Marks::new(reg.len());
        let link = Arc::new(Link::new(reg.len()));
        let mut feed = LiveFeed::new(
            DeribitFeed::new(reg.clone()),
            Arc::clone(&link),
            vec![true, true],
            Some(marks.clone()),
        );
        let mut events = Vec::new();
        let push = |f: &mut LiveFeed<DeribitFeed>, frame: &[u8]| {
            let mut kinds = Vec::new();
            assert!(FeedAdapter::on_frame(f, 1, frame, &mut |e| kinds.push(e.kind)));
            kinds
        };
        push(&mut feed, &book("BTC-PERPETUAL", 10, "60000.0", "60001.0"));
        // The option's book alone gives a mid mark (0.05) until a ticker says otherwise.
        push(&mut feed, &book(OPT, 20, "0.01", "0.09"));
        assert_eq!(marks.get(opt), 5_000_000);
        events.extend(push(&mut feed, &option_ticker("0.0512")));
        push(&mut feed, &book(OPT, 21, "0.01", "0.09"));
        assert!(events.contains(&EventKind::OptionTicker));
        assert_eq!(marks.get(perp), 6_000_050_000_000);
        assert_eq!(
            marks.get(opt),
            5_120_000,
            "the ticker's mark, not the book's mid"
        );

        let limits = InstrumentLimits {
            max_order_qty: 100_000_000_000,
            max_notional: 1e9,
            max_position: 1_000_000_000_000,
        };
        let mut gate = RiskGate::new(
            reg.instruments(),
            RiskLimits {
                instruments: vec![Some(limits), Some(limits)],
                max_orders_per_sec: 1e6,
                burst: 1e6,
                price_band: Some(0.02),
            },
            marks.clone(),
            KillSwitch::new(),
        );
        let c = Clock::new();
        let now = c.raw();
        // 1 % above the option's mark: passes.
        assert_eq!(
            gate.check(&order(1, 1, 100_000_000, 5_170_000), &c, now),
            Ok(())
        );
        // Fat finger: ten times the mark (0.512 BTC for a 0.0512 option).
        assert_eq!(
            gate.check(&order(2, 1, 100_000_000, 51_200_000), &c, now),
            Err(RejectReason::PriceBand)
        );
        // The book's mid (0.05) is 2.3 % off the mark: outside a 2 % band.
        assert_eq!(
            gate.check(&order(3, 1, 100_000_000, 5_000_000), &c, now),
            Err(RejectReason::PriceBand)
        );
        // The perpetual against its mid.
        assert_eq!(
            gate.check(&order(4, 0, 1_000_000_000, 6_000_000_000_000), &c, now),
            Ok(())
        );
        assert_eq!(
            gate.check(&order(5, 0, 1_000_000_000, 6_600_000_000_000), &c, now),
            Err(RejectReason::PriceBand)
        );
        // A malformed or non-positive mark never becomes a mark.
        push(&mut feed, &option_ticker("-1"));
        assert_eq!(marks.get(opt), 5_120_000);

        // Connection lost: every mark cleared, the gate rejects for want of one.
        let reset = [CONTROL, CTL_RESET, 0, 0, 0, 0];
        push(&mut feed, &reset);
        assert_eq!((marks.get(perp), marks.get(opt)), (0, 0));
        assert_eq!(
            gate.check(&order(6, 1, 100_000_000, 5_120_000), &c, now),
            Err(RejectReason::NoMark)
        );
        // A fresh ticker marks the option again.
        push(&mut feed, &option_ticker("0.0498"));
        assert_eq!(marks.get(opt), 4_980_000);
        assert_eq!(gate.stats().passed, 2);
        assert_eq!(gate.stats().rejected(RejectReason::PriceBand), 3);
    }
}
