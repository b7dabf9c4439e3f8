//! Zero allocations per frame on the feed thread after warm-up, on the real capture.

mod common;
#[path = "support/counting.rs"]
mod counting;

use feeds::{BinanceFeed, MarketEvent, Registry};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

#[test]
fn no_allocation_per_frame_after_warm_up() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let lines = common::hftbacktest_lines(&dir.join("binance/spot_btcusdt_20240808.gz"));
    let mut feed = BinanceFeed::new(Registry::new());
    let mut events: Vec<MarketEvent> = Vec::with_capacity(4096);
    let warm = 2000;
    for l in &lines[..warm] {
        events.clear();
        feed.on_frame(l.recv_ns, &l.frame, &mut |e| events.push(e))
            .unwrap();
    }
    let id = feed.registry().id("BTCUSDT").unwrap();
    assert!(feed.book(id).unwrap().is_valid(), "synced during warm-up");
    let mut n_events = 0usize;
    let ((), allocs) = counting::measure(|| {
        for l in &lines[warm..] {
            events.clear();
            feed.on_frame(l.recv_ns, &l.frame, &mut |e| events.push(e))
                .unwrap();
            n_events += events.len();
        }
    });
    assert!(n_events > 30_000);
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations over {} frames",
        lines.len() - warm
    );
    assert_eq!(feed.stats().fallback_parses, 0);
}
