//! A depth diff removed from the real capture: the feed sees the gap, marks the book invalid (no
//! event carries BOOK_VALID), re-syncs from the next snapshot and matches the tickers again.

mod common;

use common::*;
use feeds::binance::encode::{self, Scales};
use feeds::{flags, BinanceFeed, EventKind, MarketEvent, PxQty, Registry};
use testkit::data::is_depth_diff;

#[test]
fn removed_diff_gaps_then_resyncs_from_next_snapshot() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let lines = hftbacktest_lines(&dir.join("binance/spot_btcusdt_20240808.gz"));
    let depth_idx: Vec<usize> = (0..lines.len())
        .filter(|&i| is_depth_diff(&lines[i].frame))
        .collect();
    let removed = depth_idx[500];
    let inject_before = depth_idx[800];

    // Reference feed on the untouched capture, in lock step, to synthesize the re-sync snapshot
    // from the true book.
    let mut truth = BinanceFeed::new(Registry::new());
    let mut feed = BinanceFeed::new(Registry::new());
    let mut events: Vec<MarketEvent> = Vec::new();
    let mut removed_ids = (0u64, 0u64);
    let mut inject_at_event = 0usize;
    let mut snap = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i == inject_before {
            let id = truth.registry().id("BTCUSDT").unwrap();
            let b = truth.book(id).unwrap();
            let bids: Vec<PxQty> = b.bids().collect();
            let asks: Vec<PxQty> = b.asks().collect();
            snap.clear();
            encode::snapshot(
                &mut snap,
                b.last_update_id(),
                &bids,
                &asks,
                Scales { px: 8, qty: 8 },
            );
            inject_at_event = events.len();
            feed.on_frame(l.recv_ns, &snap, &mut |e| events.push(e))
                .expect("synthetic snapshot");
        }
        truth.on_frame(l.recv_ns, &l.frame, &mut |_| {}).unwrap();
        if i == removed {
            let v: serde_json::Value = serde_json::from_slice(&l.frame).unwrap();
            removed_ids = (
                v["data"]["U"].as_u64().unwrap(),
                v["data"]["u"].as_u64().unwrap(),
            );
            continue;
        }
        feed.on_frame(l.recv_ns, &l.frame, &mut |e| events.push(e))
            .unwrap();
    }

    let s = feed.stats();
    assert_eq!(
        (s.gaps, s.resyncs, s.snapshots, s.malformed),
        (1, 1, 2, 0),
        "{s:?}"
    );
    let gaps: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].kind == EventKind::Gap)
        .collect();
    assert_eq!(gaps.len(), 1);
    let g = events[gaps[0]];
    assert_eq!(g.seq, removed_ids.0 - 1, "gap carries the last applied id");
    assert_eq!(
        g.bid.px as u64,
        removed_ids.1 + 1,
        "gap carries the first id of the breaking diff"
    );
    assert!(!g.book_valid());

    // Between the gap and the resync's SnapshotEnd nothing claims a valid book.
    let begin = events
        .iter()
        .rposition(|e| e.kind == EventKind::SnapshotBegin)
        .unwrap();
    let end = events
        .iter()
        .rposition(|e| e.kind == EventKind::SnapshotEnd)
        .unwrap();
    assert!(gaps[0] < inject_at_event && inject_at_event == begin && begin < end);
    let invalid = &events[gaps[0]..end];
    assert!(
        invalid.len() > 100,
        "the invalid stretch spans the capture ({} events)",
        invalid.len()
    );
    assert!(
        invalid.iter().all(|e| e.flags & flags::BOOK_VALID == 0),
        "an event claimed a valid book while invalid"
    );
    assert!(
        invalid.iter().all(|e| e.flags & flags::FROM_BOOK == 0),
        "no book BBO while invalid"
    );
    let first_end = events
        .iter()
        .position(|e| e.kind == EventKind::SnapshotEnd)
        .unwrap();
    assert!(events[first_end..gaps[0]]
        .iter()
        .filter(|e| e.kind == EventKind::Bbo)
        .all(MarketEvent::book_valid));
    assert!(events[end..]
        .iter()
        .filter(|e| e.kind == EventKind::Bbo)
        .all(MarketEvent::book_valid));

    // Matches resume after the resync and never fail.
    let after = ticker_checks(&events[end..]);
    let (n, bad) = after.values().fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
    assert_eq!(bad, 0);
    assert!(n >= 50, "only {n} checks after the resync");
    let whole = ticker_checks(&events);
    assert_eq!(whole.values().map(|c| c.1).sum::<usize>(), 0);

    // And the whole book, every level, equals the reference at the end.
    let id = feed.registry().id("BTCUSDT").unwrap();
    let (a, b) = (feed.book(id).unwrap(), truth.book(id).unwrap());
    assert!(a.is_valid());
    assert_eq!(a.last_update_id(), b.last_update_id());
    assert!(a.bids().eq(b.bids()) && a.asks().eq(b.asks()));
}

#[test]
fn stale_snapshot_is_dropped_and_the_next_one_syncs() {
    // Synthetic: snapshot older than the first buffered diff cannot bridge.
    let s = Scales { px: 2, qty: 3 };
    let mut reg = Registry::new();
    let id = reg.register("XUSDT", feeds::Market::BinanceSpot, 2, 3);
    let mut feed = BinanceFeed::new(reg);
    let mut ev = Vec::new();
    let mut f = Vec::new();
    let pq = |px, qty| PxQty { px, qty };
    encode::depth_update(&mut f, "XUSDT", 1, 20, 25, &[pq(100, 1)], &[], s);
    feed.on_frame(1, &f, &mut |e| ev.push(e)).unwrap();
    f.clear();
    encode::snapshot(&mut f, 10, &[pq(99, 5)], &[pq(101, 5)], s);
    feed.on_frame(2, &f, &mut |e| ev.push(e)).unwrap();
    assert_eq!(feed.stats().snapshots_stale, 1);
    assert!(!feed.book(id).unwrap().is_valid());
    f.clear();
    encode::snapshot(&mut f, 22, &[pq(99, 5)], &[pq(101, 5)], s);
    feed.on_frame(3, &f, &mut |e| ev.push(e)).unwrap();
    let b = feed.book(id).unwrap();
    assert!(b.is_valid());
    assert_eq!(b.last_update_id(), 25);
    assert_eq!(b.best_bid(), Some(pq(100, 1)));
    let kinds: Vec<EventKind> = ev.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::SnapshotBegin,
            EventKind::SnapshotBegin,
            EventKind::SnapshotEnd,
            EventKind::Bbo
        ]
    );
    assert_eq!(ev[3].seq, 25);
    assert_eq!(
        ev[3].recv_ns, 3,
        "replayed diffs are stamped with the snapshot's receive time"
    );
    // A further snapshot on a valid book is ignored.
    feed.on_frame(4, &f, &mut |e| ev.push(e)).unwrap();
    assert_eq!(feed.stats().snapshots_ignored, 1);
    assert_eq!(ev.len(), 4);
}

#[test]
fn futures_pu_chain_gap() {
    let s = Scales { px: 1, qty: 0 };
    let mut feed = BinanceFeed::new(Registry::new());
    let mut ev = Vec::new();
    let pq = |px, qty| PxQty { px, qty };
    let frame = |first: u64, last: u64, pu: u64, bid: i64| {
        format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{first},"u":{last},"pu":{pu},"b":[["{}.0","1"]],"a":[]}}}}"#,
            bid
        )
    };
    let _ = s;
    feed.on_frame(1, frame(100, 110, 90, 5).as_bytes(), &mut |e| ev.push(e))
        .unwrap();
    let id = feed.registry().id("BTCUSDT").unwrap();
    assert_eq!(
        feed.registry().get(id).unwrap().market,
        feeds::Market::BinanceUsdM
    );
    let mut snap = Vec::new();
    encode::snapshot(
        &mut snap,
        110,
        &[pq(400_000_000, 100_000_000)],
        &[],
        Scales { px: 8, qty: 8 },
    );
    feed.on_frame(2, &snap, &mut |e| ev.push(e)).unwrap();
    assert!(
        !feed.book(id).unwrap().is_valid(),
        "diff u=110 is contained in the snapshot"
    );
    // Futures ids are not consecutive: the bridge is pu == lastUpdateId.
    feed.on_frame(3, frame(130, 140, 110, 6).as_bytes(), &mut |e| ev.push(e))
        .unwrap();
    assert!(feed.book(id).unwrap().is_valid());
    feed.on_frame(4, frame(150, 160, 140, 7).as_bytes(), &mut |e| ev.push(e))
        .unwrap();
    assert_eq!(feed.stats().gaps, 0);
    feed.on_frame(5, frame(180, 190, 170, 8).as_bytes(), &mut |e| ev.push(e))
        .unwrap();
    assert_eq!(feed.stats().gaps, 1);
    assert!(!feed.book(id).unwrap().is_valid());
    assert_eq!(ev.last().unwrap().kind, EventKind::Gap);
    assert_eq!(ev.last().unwrap().seq, 160);
}
