//! [`LiveFeed`]: a venue feed behind the live source's control frames.

use std::sync::Arc;

use feeds::deribit::DeribitFeed;
use feeds::{
    flags, BinanceFeed, EventKind, FeedAdapter, FeedStats, InstrumentId, MarketEvent, Registry,
};

use super::{Link, CONTROL, CTL_RESET, CTL_SNAPSHOT, CTL_STALE};
use crate::risk_gate::Marks;

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
/// resyncs, and publishes marks (mid of every valid best bid/offer) for the risk gate.
#[derive(Debug)]
pub struct LiveFeed<V> {
    inner: V,
    carried: FeedStats,
    link: Arc<Link>,
    has_book: Vec<bool>,
    marks: Option<Marks>,
    stats: LiveFeedStats,
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
        Self {
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
                    sink(gap(InstrumentId(i as u32), recv_ns));
                    if self.has_book.get(i).copied().unwrap_or(false) && V::RESYNC_ON_GAP {
                        self.link.request_resync(i);
                    }
                }
                true
            }
            CTL_STALE => {
                self.stats.stale_gaps += 1;
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
            inner, link, marks, ..
        } = self;
        let ok = inner.on_frame(recv_ns, frame, &mut |e| {
            match e.kind {
                EventKind::Gap if V::RESYNC_ON_GAP => link.request_resync(e.instrument.0 as usize),
                EventKind::Bbo if e.book_valid() && e.bid.px > 0 && e.ask.px >= e.bid.px => {
                    if let Some(m) = marks {
                        m.set(e.instrument, e.bid.px + (e.ask.px - e.bid.px) / 2);
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
