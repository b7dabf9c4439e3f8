//! Shared helpers for the feeds integration tests: loading captures (`testkit::data` finds them).
#![allow(dead_code)] // each test binary uses a subset

use std::collections::HashMap;

use feeds::{BinanceFeed, EventKind, InstrumentId, MarketEvent, PxQty, Registry};

/// One input line of a converted capture: receive time, raw frame, and for a REST snapshot the
/// symbol it was requested for (the body carries none).
pub struct Line {
    pub recv_ns: u64,
    pub frame: Vec<u8>,
    pub snapshot_symbol: Option<String>,
}

/// Convert a cryptofeed `*.jsonl.zst` capture (`{"t","conn","ts","data"}` records) into the
/// `<recv ns> <raw frame>` line model: websocket `recv` records become frames, `http` records of
/// `/depth?symbol=…` become REST snapshot lines tagged with their symbol. File order is kept.
pub fn cryptofeed_lines(path: &std::path::Path) -> Vec<Line> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let text = zstd::stream::decode_all(&raw[..]).expect("zstd");
    let mut out = Vec::new();
    for rec in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(rec).expect("cryptofeed record");
        let ts = v["ts"].as_f64().unwrap_or(0.0);
        let recv_ns = (ts * 1e9) as u64;
        match v["t"].as_str() {
            Some("recv") => out.push(Line {
                recv_ns,
                frame: v["data"].as_str().expect("data").as_bytes().to_vec(),
                snapshot_symbol: None,
            }),
            Some("http") => {
                let url = v["url"].as_str().unwrap_or("");
                if url.contains("/depth?") {
                    let sym = url
                        .split("symbol=")
                        .nth(1)
                        .unwrap_or("")
                        .split('&')
                        .next()
                        .unwrap_or("");
                    out.push(Line {
                        recv_ns,
                        frame: v["data"].as_str().expect("data").as_bytes().to_vec(),
                        snapshot_symbol: Some(sym.to_owned()),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The hftbacktest capture as lines (through the crate's own capture reader).
pub fn hftbacktest_lines(path: &std::path::Path) -> Vec<Line> {
    let (frames, reader) = feeds::capture::read_all(&[path.to_path_buf()]).expect("capture");
    assert_eq!(reader.malformed_count(), 0, "{:?}", reader.malformed());
    frames
        .into_iter()
        .map(|(recv_ns, frame)| Line {
            recv_ns,
            frame,
            snapshot_symbol: None,
        })
        .collect()
}

/// Feed every line through `feed`, collecting the events. Snapshot lines tagged with a symbol get
/// their target set first (the symbol must be registered).
pub fn run(feed: &mut BinanceFeed, lines: &[Line]) -> Vec<MarketEvent> {
    let mut events = Vec::new();
    for l in lines {
        if let Some(sym) = &l.snapshot_symbol {
            let id = feed.registry().id(sym).expect("snapshot symbol registered");
            feed.set_snapshot_target(id);
        }
        feed.on_frame(l.recv_ns, &l.frame, &mut |e| events.push(e))
            .unwrap_or_else(|e| {
                panic!("frame rejected: {e}: {}", String::from_utf8_lossy(&l.frame))
            });
    }
    events
}

/// The judged property: for every `bookTicker` whose `u` equals the final `u` of an applied diff,
/// the book's best bid and ask right after that diff equal the ticker's, price and quantity.
/// Returns (checks, mismatches) per instrument.
pub fn ticker_checks(events: &[MarketEvent]) -> HashMap<InstrumentId, (usize, usize)> {
    let mut after_diff: HashMap<(InstrumentId, u64), (PxQty, PxQty)> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e.kind == EventKind::Bbo && e.flags & feeds::flags::FROM_BOOK != 0)
    {
        assert!(
            e.book_valid(),
            "book BBO emitted from an invalid book: {e:?}"
        );
        after_diff.insert((e.instrument, e.seq), (e.bid, e.ask));
    }
    let mut out: HashMap<InstrumentId, (usize, usize)> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e.kind == EventKind::Bbo && e.flags & feeds::flags::FROM_BOOK == 0)
    {
        if let Some(&(bid, ask)) = after_diff.get(&(e.instrument, e.seq)) {
            let c = out.entry(e.instrument).or_default();
            c.0 += 1;
            if bid != e.bid || ask != e.ask {
                c.1 += 1;
                eprintln!(
                    "mismatch at u={}: book {bid:?}/{ask:?} ticker {:?}/{:?}",
                    e.seq, e.bid, e.ask
                );
            }
        }
    }
    out
}

/// Registry with the symbols a cryptofeed capture requested snapshots for.
pub fn registry_for(lines: &[Line], market: feeds::Market) -> Registry {
    let mut r = Registry::new();
    for l in lines {
        if let Some(s) = &l.snapshot_symbol {
            r.register(s, market, 8, 8);
        }
    }
    r
}
