//! Zero allocations per Deribit frame after warm-up (book snapshots and changes, option
//! tickers, trades), on the real capture.

use testkit::alloc as counting;

use feeds::cryptofeed::{read_all, RecordKind};
use feeds::deribit::DeribitFeed;
use feeds::{MarketEvent, Registry};

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

#[test]
fn no_allocation_per_deribit_frame_after_warm_up() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let recs = read_all(&[dir.join("cryptofeed/DERIBIT.jsonl.zst")]).unwrap();
    let frames: Vec<&[u8]> = recs
        .iter()
        .filter(|r| {
            r.kind == RecordKind::Recv && r.data.starts_with(b"{\"jsonrpc\":\"2.0\",\"method\"")
        })
        .map(|r| &r.data[..])
        .collect();
    assert!(frames.len() > 130);
    let mut feed = DeribitFeed::new(Registry::new());
    let mut events: Vec<MarketEvent> = Vec::with_capacity(4096);
    // Warm-up: first sight of every instrument registers it and sizes its book.
    for f in &frames {
        events.clear();
        feed.on_frame(0, f, &mut |e| events.push(e)).unwrap();
    }
    let before = feed.stats();
    let mut n_events = 0;
    let ((), allocs) = counting::measure(|| {
        for f in &frames {
            events.clear();
            feed.on_frame(1, f, &mut |e| events.push(e)).unwrap();
            n_events += events.len();
        }
    });
    let after = feed.stats();
    assert_eq!(allocs, 0, "allocations in steady state");
    assert_eq!(
        after.gaps, before.gaps,
        "the replay chains again after each snapshot"
    );
    assert_eq!(
        n_events,
        89 + 46 + 2 * 10,
        "option tickers, book BBOs, snapshot markers"
    );
}
