//! Property test of the Binance sync procedure on a synthetic spot market: random diffs, random
//! dropped diffs (gaps) and snapshots taken from the true book at random points. Whenever the
//! feed says its book is valid, the book equals the true book at its update id, level for level;
//! no event claims a valid book between a gap and the next SnapshotEnd.

use std::collections::BTreeMap;

use feeds::binance::encode::{self, Scales};
use feeds::{flags, BinanceFeed, EventKind, PxQty, Registry};
use proptest::prelude::*;

type Side = BTreeMap<i64, i64>;

#[derive(Debug, Clone)]
enum Step {
    /// A diff of (is_bid, price, qty) levels; `dropped` = lost before reaching the feed.
    Diff {
        levels: Vec<(bool, i64, i64)>,
        ids: u64,
        dropped: bool,
    },
    /// A REST snapshot of the true book, delivered now.
    Snapshot,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (proptest::collection::vec((any::<bool>(), 1i64..60, 0i64..4), 0..8), 1u64..4, proptest::bool::weighted(0.08))
            .prop_map(|(levels, ids, dropped)| Step::Diff { levels, ids, dropped }),
        1 => Just(Step::Snapshot),
    ]
}

fn top(s: &Side, bid: bool) -> PxQty {
    let l = if bid {
        s.iter().next_back()
    } else {
        s.iter().next()
    };
    l.map(|(&px, &qty)| PxQty { px, qty }).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn feed_book_is_exact_whenever_valid(steps in proptest::collection::vec(step(), 1..120)) {
        let s = Scales { px: 2, qty: 3 };
        let mut reg = Registry::new();
        let id = reg.register("XYZUSDT", feeds::Market::BinanceSpot, 2, 3);
        let mut feed = BinanceFeed::new(reg);
        feed.emit_levels(true);
        let (mut bids, mut asks) = (Side::new(), Side::new());
        let mut history: BTreeMap<u64, (Side, Side)> = BTreeMap::new();
        let mut last_id = 100u64;
        history.insert(last_id, (bids.clone(), asks.clone()));
        let mut frame = Vec::new();
        let mut in_gap = false;
        // The latest diff was lost: the feed cannot know yet.
        let mut last_dropped = false;
        let mut t = 0u64;
        for st in &steps {
            t += 1;
            frame.clear();
            match st {
                Step::Diff { levels, ids, dropped } => {
                    let (first, last) = (last_id + 1, last_id + ids);
                    let (mut b, mut a) = (Vec::new(), Vec::new());
                    for &(bid, px, qty) in levels {
                        let side = if bid { &mut bids } else { &mut asks };
                        if qty == 0 { side.remove(&px); } else { side.insert(px, qty); }
                        if bid { b.push(PxQty { px, qty }); } else { a.push(PxQty { px, qty }); }
                    }
                    last_id = last;
                    history.insert(last_id, (bids.clone(), asks.clone()));
                    last_dropped = *dropped;
                    if *dropped {
                        continue;
                    }
                    encode::depth_update(&mut frame, "XYZUSDT", t, first, last, &b, &a, s);
                }
                Step::Snapshot => {
                    let b: Vec<PxQty> = bids.iter().rev().map(|(&px, &qty)| PxQty { px, qty }).collect();
                    let a: Vec<PxQty> = asks.iter().map(|(&px, &qty)| PxQty { px, qty }).collect();
                    encode::snapshot(&mut frame, last_id, &b, &a, s);
                }
            }
            let mut events = Vec::new();
            feed.on_frame(t, &frame, &mut |e| events.push(e)).unwrap();
            for e in &events {
                prop_assert_eq!(e.instrument, id);
                match e.kind {
                    EventKind::Gap => { prop_assert!(!in_gap); in_gap = true; }
                    EventKind::SnapshotEnd => in_gap = false,
                    _ => {}
                }
                if in_gap {
                    prop_assert_eq!(e.flags & flags::BOOK_VALID, 0, "valid claimed during a gap: {:?}", e);
                }
                if e.kind == EventKind::Bbo {
                    prop_assert!(e.book_valid() && e.flags & flags::FROM_BOOK != 0);
                    let (hb, ha) = &history[&e.seq];
                    prop_assert_eq!((e.bid, e.ask), (top(hb, true), top(ha, false)), "at id {}", e.seq);
                }
            }
            let book = feed.book(id).unwrap();
            if book.is_valid() {
                let (hb, ha) = &history[&book.last_update_id()];
                let want_b: Vec<PxQty> = hb.iter().rev().map(|(&px, &qty)| PxQty { px, qty }).collect();
                let want_a: Vec<PxQty> = ha.iter().map(|(&px, &qty)| PxQty { px, qty }).collect();
                prop_assert_eq!(book.bids().collect::<Vec<_>>(), want_b);
                prop_assert_eq!(book.asks().collect::<Vec<_>>(), want_a);
                if !last_dropped {
                    prop_assert_eq!(book.last_update_id(), last_id, "a valid book is current");
                }
            }
        }
        let s = feed.stats();
        prop_assert_eq!(s.malformed, 0);
        prop_assert!(s.diffs_applied + s.diffs_dropped_stale + s.diffs_buffered >= s.diffs);
    }
}
