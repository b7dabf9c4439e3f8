//! The judged property on real captures: the book rebuilt from snapshot + diffs equals every
//! bookTicker taken at the same update id, price and quantity, with zero mismatches.

mod common;

use common::*;
use feeds::{BinanceFeed, EventKind, Market, Registry};

#[test]
fn hftbacktest_spot_btcusdt_book_equals_book_ticker() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let lines = hftbacktest_lines(&dir.join("binance/spot_btcusdt_20240808.gz"));
    let mut feed = BinanceFeed::new(Registry::new());
    let events = run(&mut feed, &lines);
    let id = feed.registry().id("BTCUSDT").expect("auto-registered");
    assert_eq!(
        feed.registry().get(id).map(|i| i.market),
        Some(Market::BinanceSpot)
    );
    let checks = ticker_checks(&events);
    let (n, bad) = checks[&id];
    eprintln!(
        "BTCUSDT: {n} ticker checks, {bad} mismatches; stats {:?}",
        feed.stats()
    );
    assert_eq!(bad, 0);
    assert!(n >= 300, "only {n} checks");
    let s = feed.stats();
    assert_eq!(
        (s.malformed, s.gaps, s.snapshots, s.fallback_parses),
        (0, 0, 1, 0)
    );
    assert_eq!(s.diffs, 3451);
    assert_eq!(s.book_tickers, 28_040);
    assert_eq!(s.trades, 9757);
    assert_eq!(s.diffs_applied + s.diffs_dropped_stale, s.diffs);
    assert!(feed.book(id).is_some_and(|b| b.is_valid()));
    assert_eq!(feed.display_decimals(id), Some((8, 8)));
    // Exactly one SnapshotBegin and one SnapshotEnd, in that order, and a valid book after.
    let begin = events
        .iter()
        .position(|e| e.kind == EventKind::SnapshotBegin)
        .expect("begin");
    let end = events
        .iter()
        .position(|e| e.kind == EventKind::SnapshotEnd)
        .expect("end");
    assert!(begin < end);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::SnapshotBegin | EventKind::SnapshotEnd))
            .count(),
        2
    );
    assert!(!events.iter().any(|e| e.kind == EventKind::Gap));
}

fn cryptofeed(file: &str, market: Market, min_checks: usize) {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let lines = cryptofeed_lines(&dir.join("cryptofeed").join(file));
    let mut feed = BinanceFeed::new(registry_for(&lines, market));
    let events = run(&mut feed, &lines);
    let checks = ticker_checks(&events);
    let total: usize = checks.values().map(|c| c.0).sum();
    let bad: usize = checks.values().map(|c| c.1).sum();
    eprintln!(
        "{file}: {total} checks, {bad} mismatches, per instrument {checks:?}; stats {:?}",
        feed.stats()
    );
    assert_eq!(bad, 0);
    assert!(total >= min_checks, "only {total} checks");
    let s = feed.stats();
    assert_eq!((s.malformed, s.gaps), (0, 0));
    assert!(s.ignored > 0, "klines are counted as ignored");
    for inst in feed.registry().instruments() {
        assert!(
            feed.book(inst.id).is_some_and(|b| b.is_valid()),
            "{} not synced",
            inst.symbol
        );
    }
}

#[test]
fn cryptofeed_spot_books_equal_book_tickers() {
    cryptofeed("BINANCE.jsonl.zst", Market::BinanceSpot, 20);
}

#[test]
fn cryptofeed_usdm_futures_books_equal_book_tickers() {
    cryptofeed("BINANCE_FUTURES.jsonl.zst", Market::BinanceUsdM, 40);
}
