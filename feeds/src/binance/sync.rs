//! The book sync procedure of one instrument (see the parent module): its state, the diffs kept
//! while a snapshot is awaited, and one diff's step through it, emitting the events it causes.

use std::collections::VecDeque;

use super::{FeedStats, MAX_BUFFERED_DIFFS, PREALLOCATED_BOOK_LEVELS, PREALLOCATED_BUFFERED_DIFFS};
use crate::book::L2Book;
use crate::event::{flags, EventKind, MarketEvent, PxQty, Side};
use crate::registry::InstrumentId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sync {
    /// Buffering diffs until a snapshot arrives.
    AwaitSnapshot,
    /// Snapshot loaded, waiting for the bridging diff.
    AwaitBridge,
    /// Synced.
    Valid,
}

/// A diff kept while the book awaits a snapshot. Its `Vec`s are recycled through a pool.
#[derive(Debug, Default)]
pub(super) struct BufDiff {
    pub(super) first_id: u64,
    pub(super) final_id: u64,
    pub(super) prev_final_id: Option<u64>,
    pub(super) event_ms: u64,
    pub(super) bids: Vec<PxQty>,
    pub(super) asks: Vec<PxQty>,
}

/// A diff as the sync procedure sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct DiffRef<'a> {
    pub(super) first_id: u64,
    pub(super) final_id: u64,
    pub(super) prev_final_id: Option<u64>,
    pub(super) event_ms: u64,
    pub(super) bids: &'a [PxQty],
    pub(super) asks: &'a [PxQty],
}

#[derive(Debug)]
pub(super) struct InstState {
    pub(super) book: L2Book,
    pub(super) sync: Sync,
    /// A depth frame was seen (otherwise tickers alone are the truth).
    pub(super) seen_depth: bool,
    /// Valid again would be a resync (a gap happened since the last sync).
    pub(super) after_gap: bool,
    pub(super) buffered: VecDeque<BufDiff>,
    pub(super) px_scale: u8,
    pub(super) qty_scale: u8,
    pub(super) px_decimals: u8,
    pub(super) qty_decimals: u8,
}

impl InstState {
    pub(super) fn new(px_scale: u8, qty_scale: u8) -> Self {
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
    pub(super) fn ticker_flags(&self) -> u16 {
        if self.sync == Sync::Valid || !self.seen_depth {
            flags::BOOK_VALID
        } else {
            0
        }
    }
}

/// What the sync procedure did with one diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
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

/// Exchange milliseconds to nanoseconds (saturating).
pub(super) fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

/// Keeps diff `d` in `st`'s buffer (a recycled one from `pool`; the oldest is dropped, counted,
/// when the buffer is full).
pub(super) fn buffer_diff(
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
pub(super) fn sync_step(
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

/// Runs the diffs `st` buffered through the sync procedure after its snapshot was loaded,
/// returning the applied and stale ones to `pool`; stops, keeping the rest, at the first that
/// cannot apply (a gap, or a snapshot too old to bridge, which is counted and awaits the next).
pub(super) fn replay_buffered(
    st: &mut InstState,
    id: InstrumentId,
    recv_ns: u64,
    emit_levels: bool,
    pool: &mut Vec<BufDiff>,
    stats: &mut FeedStats,
    sink: &mut impl FnMut(MarketEvent),
) {
    while let Some(b) = st.buffered.pop_front() {
        let diff = DiffRef {
            first_id: b.first_id,
            final_id: b.final_id,
            prev_final_id: b.prev_final_id,
            event_ms: b.event_ms,
            bids: &b.bids,
            asks: &b.asks,
        };
        match sync_step(st, &diff, id, recv_ns, emit_levels, stats, sink) {
            Step::Stale | Step::Bridged | Step::Applied => pool.push(b),
            Step::StaleSnapshot => {
                st.sync = Sync::AwaitSnapshot;
                stats.snapshots_stale += 1;
                st.buffered.push_front(b);
                break;
            }
            Step::Gap | Step::Buffer => {
                st.buffered.push_front(b);
                break;
            }
        }
    }
}
