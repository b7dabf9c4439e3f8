//! Zero allocations per frame on the feed thread after warm-up, on the real capture.

mod common;
use testkit::alloc as counting;

use feeds::{BinanceFeed, MarketEvent, Registry};

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

#[test]
fn no_allocation_per_frame_after_warm_up() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
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

/// The cryptofeed capture reader decodes each record's escaped `data` string into its reused
/// buffer: after warm-up, reading records allocates nothing (the `Cow<str>` it used before
/// allocated a `String` per record, and the path of the file was cloned per line). The frames
/// come out exactly as serde_json decodes them, and a bad escape is counted, not returned (it
/// sits in the warm-up: keeping a malformed line's location allocates, by design).
#[test]
fn cryptofeed_reader_allocates_nothing_per_record() {
    use feeds::cryptofeed::CryptofeedReader;
    let dir = std::env::temp_dir().join(format!("ballast-cf-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cap.jsonl");
    let mut text = String::from("{\"t\":\"header\",\"version\":1}\n");
    let mut want = Vec::new();
    for i in 0..2_000u32 {
        let frame = format!(
            "{{\"stream\":\"btcusdt@trade\",\"data\":{{\"e\":\"trade\",\"t\":{i},\"p\":\"6{i}.5\",\"m\":\"\\u00e9/\\ud83d\\ude00\"}}}}"
        );
        let data = serde_json::to_string(&frame).unwrap();
        text.push_str(&format!(
            "{{\"t\":\"recv\",\"conn\":\"wss:\\/\\/x\",\"ts\":1626993723.{i:07},\"data\":{data}}}"
        ));
        text.push('\n');
        want.push(frame);
        if i == 50 {
            text.push_str("{\"t\":\"recv\",\"ts\":1626993724.0,\"data\":\"bad \\u12 escape\"}\n");
        }
    }
    std::fs::write(&path, text).unwrap();
    let mut r = CryptofeedReader::open(std::slice::from_ref(&path)).unwrap();
    let warm = 100;
    for w in &want[..warm] {
        let (_, f) = r.next_frame().unwrap().unwrap();
        assert_eq!(f, w.as_bytes());
    }
    let mut got = Vec::with_capacity(want.len());
    let ((), allocs) = counting::measure(|| {
        while let Some((_, f)) = r.next_frame().unwrap() {
            got.push(f.len());
            assert!(got.len() <= want.len());
        }
    });
    assert_eq!(allocs, 0, "{allocs} allocations over {} records", got.len());
    assert_eq!(got.len(), want.len() - warm);
    assert_eq!(r.malformed_count(), 1, "{:?}", r.malformed());
    assert_eq!(r.malformed()[0].line_no, 53);
    // Content: a second reader, compared frame by frame.
    let mut r2 = CryptofeedReader::open(std::slice::from_ref(&path)).unwrap();
    for w in &want {
        assert_eq!(r2.next_frame().unwrap().unwrap().1, w.as_bytes());
    }
    std::fs::remove_dir_all(&dir).ok();
}
