//! The trait every venue adapter implements, so the engine's feed stage can drive any of them.

use crate::binance::FeedStats;
use crate::event::MarketEvent;

/// A venue adapter: raw frames in, normalized [`MarketEvent`]s out, books kept in between.
pub trait FeedAdapter: Send {
    /// Parses one raw frame received at `recv_ns` and pushes its events into `sink`, in order.
    /// A frame the adapter rejects returns `false` and leaves its state as it was (counted in
    /// [`FeedAdapter::stats`]). Must not allocate per frame in steady state, nor panic on any input.
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool;

    /// Counters so far (frames, malformed, diffs, gaps, resyncs...).
    fn stats(&self) -> FeedStats;
}

impl FeedAdapter for crate::binance::BinanceFeed {
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        crate::binance::BinanceFeed::on_frame(self, recv_ns, frame, sink).is_ok()
    }

    fn stats(&self) -> FeedStats {
        crate::binance::BinanceFeed::stats(self)
    }
}
