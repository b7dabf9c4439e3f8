//! The cryptofeed reader on the real captures: every record reads, `ts` converts exactly, and
//! the Binance futures capture drives the Binance adapter (REST snapshot bodies included).

use feeds::cryptofeed::{read_all, CryptofeedReader, RecordKind};
use feeds::{BinanceFeed, Registry};

#[test]
fn real_captures_read_completely() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    for (name, recv_min) in [
        ("DERIBIT.jsonl.zst", 100),
        ("BINANCE.jsonl.zst", 200),
        ("BINANCE_FUTURES.jsonl.zst", 1000),
    ] {
        let path = dir.join("cryptofeed").join(name);
        let recs = read_all(std::slice::from_ref(&path)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw = zstd::stream::decode_all(&std::fs::read(&path).unwrap()[..]).unwrap();
        let lines = raw.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count();
        assert_eq!(recs.len(), lines, "{name}: every line is a record");
        assert_eq!(recs[0].kind, RecordKind::Header);
        let recv = recs.iter().filter(|r| r.kind == RecordKind::Recv).count();
        assert!(recv >= recv_min, "{name}: {recv}");
        // ts is exact: the ns value printed back as seconds is a prefix-equal decimal of the text.
        for r in recs.iter().filter(|r| r.kind == RecordKind::Recv).take(50) {
            assert!(r.recv_ns > 1_600_000_000_000_000_000 && r.recv_ns < 1_700_000_000_000_000_000);
        }
        // next_frame yields exactly the recv + http records with data, in order.
        let mut rd = CryptofeedReader::open(std::slice::from_ref(&path)).unwrap();
        let want: Vec<&feeds::cryptofeed::Record> = recs
            .iter()
            .filter(|r| matches!(r.kind, RecordKind::Recv | RecordKind::Http) && !r.data.is_empty())
            .collect();
        let mut n = 0;
        while let Some((ts, f)) = rd.next_frame().unwrap() {
            assert_eq!((ts, f), (want[n].recv_ns, &want[n].data[..]));
            n += 1;
        }
        assert_eq!(n, want.len());
        assert_eq!(rd.malformed_count(), 0);
    }
}

#[test]
fn binance_futures_capture_through_the_binance_adapter() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let path = dir.join("cryptofeed/BINANCE_FUTURES.jsonl.zst");
    let recs = read_all(&[path]).unwrap();
    // Snapshots come before a symbol's first frame: register every snapshot symbol up front.
    let mut reg = Registry::new();
    for r in recs.iter().filter(|r| r.kind == RecordKind::Http) {
        if let Some(sym) = r
            .url
            .as_deref()
            .and_then(|u| u.split("depth?symbol=").nth(1))
        {
            reg.register(
                sym.split('&').next().unwrap(),
                feeds::Market::BinanceUsdM,
                8,
                8,
            );
        }
    }
    let mut feed = BinanceFeed::new(reg);
    let mut rejected = 0;
    for r in &recs {
        match r.kind {
            RecordKind::Recv if feed.on_frame(r.recv_ns, &r.data, &mut |_| {}).is_err() => {
                rejected += 1
            }
            RecordKind::Http if r.url.as_deref().is_some_and(|u| u.contains("depth")) => {
                let sym = r
                    .url
                    .as_deref()
                    .unwrap()
                    .split("symbol=")
                    .nth(1)
                    .unwrap()
                    .split('&')
                    .next()
                    .unwrap();
                let id = feed.registry().id(sym).unwrap();
                feed.set_snapshot_target(id);
                feed.on_frame(r.recv_ns, &r.data, &mut |_| {}).unwrap();
            }
            _ => {}
        }
    }
    let s = feed.stats();
    assert_eq!(rejected, 0, "{s:?}");
    assert_eq!(s.gaps, 0, "{s:?}");
    assert!(s.snapshots >= 1 && s.diffs_applied > 100, "{s:?}");
}

/// Both Binance cryptofeed captures hold several symbols, each synced from a REST snapshot whose
/// body names no symbol. Read as they are, with no snapshot target set, every symbol's book must
/// sync from its own snapshot (the reader names the symbol from the request's URL) and stay
/// continuous.
#[test]
fn multi_symbol_captures_sync_every_book_without_a_target() {
    let Some(dir) = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    for (name, symbols) in [("BINANCE.jsonl.zst", 4), ("BINANCE_FUTURES.jsonl.zst", 4)] {
        let path = dir.join("cryptofeed").join(name);
        let mut rd = CryptofeedReader::open(std::slice::from_ref(&path)).unwrap();
        let mut feed = BinanceFeed::new(Registry::new());
        let mut synced = std::collections::BTreeSet::new();
        let mut rejected = 0;
        while let Some((ts, f)) = rd.next_frame().unwrap() {
            let mut sink = |ev: feeds::MarketEvent| {
                if ev.kind == feeds::EventKind::SnapshotEnd {
                    synced.insert(ev.instrument);
                }
            };
            if feed.on_frame(ts, f, &mut sink).is_err() {
                rejected += 1;
            }
        }
        let s = feed.stats();
        assert_eq!(rejected, 0, "{name}: {s:?}");
        assert_eq!(s.gaps, 0, "{name}: {s:?}");
        assert_eq!(s.snapshots, symbols, "{name}: {s:?}");
        let depth_symbols: std::collections::BTreeSet<_> = feed
            .registry()
            .instruments()
            .iter()
            .filter(|i| synced.contains(&i.id))
            .map(|i| i.symbol.clone())
            .collect();
        assert_eq!(
            depth_symbols.len(),
            symbols as usize,
            "{name}: {depth_symbols:?}"
        );
    }
}
