//! The Deribit adapter on the real cryptofeed capture (`../shared/data/cryptofeed/DERIBIT.jsonl.zst`):
//! every book chain holds, every option ticker normalizes, the chain loads; and on mutated real
//! frames the adapter never panics and a rejected frame changes nothing.

use feeds::cryptofeed::CryptofeedReader;
use feeds::deribit::{read_option_ticker, DeribitFeed, InstrumentKind};
use feeds::{EventKind, Registry};
use proptest::prelude::*;

fn frames() -> Option<Frames> {
    let dir = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz")?;
    let path = dir.join("cryptofeed/DERIBIT.jsonl.zst");
    let mut r = CryptofeedReader::open(&[path]).expect("open DERIBIT.jsonl.zst");
    let mut out = Vec::new();
    while let Some((ts, f)) = r.next_frame().expect("read") {
        out.push((ts, f.to_vec()));
    }
    assert_eq!(r.malformed_count(), 0, "{:?}", r.malformed());
    Some(out)
}

#[test]
fn real_capture_books_chain_and_tickers_normalize() {
    let Some(frames) = frames() else { return };
    let mut feed = DeribitFeed::new(Registry::new());
    let (mut gaps, mut opt, mut book_bbo, mut trades) = (0, 0, 0, 0);
    let mut bad_iv = Vec::new();
    for (ts, f) in &frames {
        feed.on_frame(*ts, f, &mut |e| match e.kind {
            EventKind::Gap => gaps += 1,
            EventKind::OptionTicker => {
                let t = read_option_ticker(&e).unwrap();
                if !(t.mark_iv > 0.05
                    && t.mark_iv < 5.0
                    && t.underlying_px > 1000.0
                    && t.mark_px >= 0.0)
                {
                    bad_iv.push(t);
                }
                assert!(e.exch_ns > 1_600_000_000_000_000_000);
                opt += 1;
            }
            EventKind::Bbo => {
                assert!(e.book_valid());
                book_bbo += 1;
            }
            EventKind::Trade => trades += 1,
            _ => {}
        })
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(f)));
    }
    let s = feed.stats();
    assert_eq!(gaps, 0, "prev_change_id chains hold for every book message");
    assert_eq!(s.malformed, 0);
    assert_eq!(opt, 89, "all 89 option tickers normalize");
    assert!(bad_iv.is_empty(), "{bad_iv:?}");
    assert_eq!(s.snapshots + s.diffs, 46, "46 book messages: {s:?}");
    assert_eq!(s.diffs_applied, s.diffs);
    assert_eq!(book_bbo as u64, 46);
    let _ = trades;
    // The chain from get_instruments: options with strike, expiry and type.
    let opts: Vec<_> = (0..feed.registry().len() as u32)
        .filter_map(|i| feed.instrument(feeds::InstrumentId(i)))
        .filter(|i| i.kind == InstrumentKind::Option && i.from_venue)
        .collect();
    assert!(opts.len() > 100, "{}", opts.len());
    assert!(opts
        .iter()
        .all(|i| i.strike > 0 && i.expiry_ns > 0 && i.option_type.is_some() && i.tick_size > 0));
    let id = feed.registry().id("BTC-24SEP21-40000-P").unwrap();
    let i = feed.instrument(id).unwrap();
    assert_eq!(
        (i.strike, i.expiry_ns, i.tick_size),
        (40_000 * 100_000_000, 1_632_470_400_000_000_000, 50_000)
    );
    // Every book's levels are exact: a real snapshot level reads back as sent.
    let id = feed.registry().id("BTC-24SEP21-8000-P").unwrap();
    assert!(feed.book(id).unwrap().is_valid());
}

/// Mutations of real frames: flips, truncations, insertions.
fn mutate(f: &[u8], kind: u8, pos: usize, byte: u8) -> Vec<u8> {
    let mut v = f.to_vec();
    if v.is_empty() {
        return v;
    }
    let p = pos % v.len();
    match kind % 4 {
        0 => v[p] = byte,
        1 => v.truncate(p),
        2 => v.insert(p, byte),
        _ => {
            v.remove(p);
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]
    #[test]
    fn mutated_real_frames_never_panic_and_rejects_change_nothing(
        idx in any::<prop::sample::Index>(),
        muts in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let Some(frames) = FRAMES.as_ref() else { return Ok(()) };
        let (ts, f) = &frames[idx.index(frames.len())];
        let mut m = f.clone();
        for (k, p, b) in muts {
            m = mutate(&m, k, p, b);
        }
        // A feed that saw everything before this frame.
        let mut feed = PREFIX_FEEDS[idx.index(frames.len())].clone();
        let before = (feed.registry().len(), feed.stats());
        let mut events = 0;
        let r = feed.on_frame(*ts, &m, &mut |_| events += 1);
        if r.is_err() {
            let s = feed.stats();
            prop_assert_eq!(events, 0);
            prop_assert_eq!(feed.registry().len(), before.0);
            prop_assert_eq!(s.malformed, before.1.malformed + 1);
            prop_assert_eq!((s.snapshots, s.diffs, s.gaps, s.book_tickers, s.trades), (before.1.snapshots, before.1.diffs, before.1.gaps, before.1.book_tickers, before.1.trades));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut feed = DeribitFeed::new(Registry::new());
        let _ = feed.on_frame(0, &b, &mut |_| {});
    }
}

/// `(recv ns, frame)` of the capture.
type Frames = Vec<(u64, Vec<u8>)>;

static FRAMES: std::sync::LazyLock<Option<Frames>> = std::sync::LazyLock::new(frames);

/// `PREFIX_FEEDS[i]`: a feed that has seen frames `..i`.
static PREFIX_FEEDS: std::sync::LazyLock<Vec<DeribitFeed>> = std::sync::LazyLock::new(|| {
    let mut out = Vec::new();
    let mut feed = DeribitFeed::new(Registry::new());
    for (t, g) in FRAMES.as_ref().map_or(&[][..], |v| &v[..]) {
        out.push(feed.clone());
        let _ = feed.on_frame(*t, g, &mut |_| {});
    }
    out
});
