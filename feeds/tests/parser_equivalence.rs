//! The scanner and the serde parser give identical events on every real frame and on mutated
//! frames (byte flips, truncation, whitespace, field reordering, escapes); nothing panics.

mod common;

use common::*;
use feeds::{BinanceFeed, FrameError, MarketEvent, Registry};
use proptest::prelude::*;

/// Two feeds in lock step: one through `on_frame` (scanner first), one through the serde parser.
struct Pair {
    scan: BinanceFeed,
    serde: BinanceFeed,
    ev_scan: Vec<MarketEvent>,
    ev_serde: Vec<MarketEvent>,
}

impl Pair {
    fn new(reg: Registry) -> Self {
        Self {
            scan: BinanceFeed::new(reg.clone()),
            serde: BinanceFeed::new(reg),
            ev_scan: Vec::new(),
            ev_serde: Vec::new(),
        }
    }

    fn feed(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        snapshot_symbol: Option<&str>,
    ) -> Result<(), FrameError> {
        if let Some(sym) = snapshot_symbol {
            if let Some(id) = self.scan.registry().id(sym) {
                self.scan.set_snapshot_target(id);
                self.serde.set_snapshot_target(id);
            }
        }
        self.ev_scan.clear();
        self.ev_serde.clear();
        let a = self
            .scan
            .on_frame(recv_ns, frame, &mut |e| self.ev_scan.push(e));
        let b = self
            .serde
            .on_frame_serde(recv_ns, frame, &mut |e| self.ev_serde.push(e));
        assert_eq!(a, b, "paths disagree on {}", String::from_utf8_lossy(frame));
        assert_eq!(
            self.ev_scan,
            self.ev_serde,
            "events differ on {}",
            String::from_utf8_lossy(frame)
        );
        a
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// All real frames: (name, registry for snapshots, lines).
fn captures() -> Option<Vec<(&'static str, Registry, Vec<Line>)>> {
    let dir = testkit::data::shared_dir("binance/spot_btcusdt_20240808.gz")?;
    let spot = cryptofeed_lines(&dir.join("cryptofeed/BINANCE.jsonl.zst"));
    let fut = cryptofeed_lines(&dir.join("cryptofeed/BINANCE_FUTURES.jsonl.zst"));
    Some(vec![
        (
            "hftbacktest",
            Registry::new(),
            hftbacktest_lines(&dir.join("binance/spot_btcusdt_20240808.gz")),
        ),
        (
            "cryptofeed spot",
            registry_for(&spot, feeds::Market::BinanceSpot),
            spot,
        ),
        (
            "cryptofeed futures",
            registry_for(&fut, feeds::Market::BinanceUsdM),
            fut,
        ),
    ])
}

#[test]
fn identical_on_every_real_frame_and_scanner_takes_them_all() {
    let Some(caps) = captures() else { return };
    for (name, reg, lines) in caps {
        let mut p = Pair::new(reg);
        for l in &lines {
            p.feed(l.recv_ns, &l.frame, l.snapshot_symbol.as_deref())
                .unwrap();
        }
        let s = p.scan.stats();
        assert_eq!(
            s.fallback_parses, 0,
            "{name}: the scanner handed real frames to serde"
        );
        assert_eq!(
            s,
            feeds::FeedStats {
                fallback_parses: 0,
                ..p.serde.stats()
            }
        );
        eprintln!("{name}: {} frames identical", lines.len());
    }
}

/// Semantics-preserving rewrites of a frame, done through serde_json (keys come out sorted, so
/// fields are reordered) or by hand.
fn rewrites(frame: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let v: serde_json::Value = serde_json::from_slice(frame).unwrap();
    out.push(serde_json::to_vec(&v).unwrap()); // sorted keys: reordered
    out.push(serde_json::to_vec_pretty(&v).unwrap()); // whitespace and newlines
    let mut spaced = frame.to_vec();
    spaced.push(b' ');
    spaced.insert(0, b'\t');
    out.push(spaced);
    // Escape one character inside a string.
    let quotes: Vec<usize> = (0..frame.len()).filter(|&i| frame[i] == b'"').collect();
    let k = rng.below(quotes.len() / 2) * 2;
    let (a, b) = (quotes[k] + 1, quotes[k + 1]);
    if b > a {
        let pos = a + rng.below(b - a);
        let mut esc = frame[..pos].to_vec();
        esc.extend_from_slice(format!("\\u{:04x}", frame[pos]).as_bytes());
        esc.extend_from_slice(&frame[pos + 1..]);
        out.push(esc);
    }
    out
}

#[test]
fn rewritten_frames_give_the_same_events_as_the_originals() {
    let Some(caps) = captures() else { return };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (name, reg, lines) in caps {
        // Every frame of the small captures, every 7th of the big one, each rewritten 4 ways.
        let step = if lines.len() > 10_000 { 7 } else { 1 };
        for which in 0..4 {
            let mut orig = BinanceFeed::new(reg.clone());
            let mut rew = Pair::new(reg.clone());
            let (mut e0, mut e1) = (Vec::new(), Vec::new());
            for (i, l) in lines.iter().enumerate() {
                let frame = if i % step == 0 {
                    let mut r = rewrites(&l.frame, &mut rng);
                    let k = which.min(r.len() - 1);
                    r.swap_remove(k)
                } else {
                    l.frame.clone()
                };
                if let Some(sym) = &l.snapshot_symbol {
                    let id = orig.registry().id(sym).unwrap();
                    orig.set_snapshot_target(id);
                }
                e0.clear();
                orig.on_frame(l.recv_ns, &l.frame, &mut |e| e0.push(e))
                    .unwrap();
                rew.feed(l.recv_ns, &frame, l.snapshot_symbol.as_deref())
                    .unwrap_or_else(|e| {
                        panic!(
                            "{name}: rewrite {which} rejected ({e}): {}",
                            String::from_utf8_lossy(&frame)
                        )
                    });
                e1.clone_from(&rew.ev_scan);
                assert_eq!(
                    e0,
                    e1,
                    "{name}: rewrite {which} changed the events of {}",
                    String::from_utf8_lossy(&frame)
                );
            }
            assert!(rew.scan.stats().fallback_parses > 0);
        }
    }
}

#[test]
fn mutated_frames_never_panic_and_never_diverge() {
    let Some(caps) = captures() else { return };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    const INTERESTING: &[u8] = b"\"\\{}[],: 0159-.eE+ntf\x00\x7f\x80\xff";
    let mut rejected = 0u64;
    let mut total = 0u64;
    for (_, reg, lines) in caps {
        let step = if lines.len() > 10_000 { 3 } else { 1 };
        let mut p = Pair::new(reg);
        for (i, l) in lines.iter().enumerate() {
            let mut f = l.frame.clone();
            if i % step == 0 {
                match rng.below(4) {
                    0 => {
                        let pos = rng.below(f.len());
                        f[pos] = INTERESTING[rng.below(INTERESTING.len())];
                    }
                    1 => {
                        let pos = rng.below(f.len());
                        f[pos] = rng.next() as u8;
                    }
                    2 => f.truncate(rng.below(f.len())),
                    _ => {
                        let pos = rng.below(f.len());
                        f.remove(pos);
                    }
                }
            }
            total += 1;
            if p.feed(l.recv_ns, &f, l.snapshot_symbol.as_deref()).is_err() {
                rejected += 1;
            }
        }
        assert_eq!(p.scan.stats().malformed, p.serde.stats().malformed);
    }
    eprintln!("{total} frames, {rejected} rejected, no divergence");
    assert!(
        rejected > 1000,
        "mutations must actually produce malformed frames ({rejected})"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_bytes_never_panic_nor_diverge(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut p = Pair::new(Registry::new());
        let _ = p.feed(1, &bytes, None);
    }

    #[test]
    fn json_shaped_garbage_never_panics_nor_diverges(
        s in r#"\{("stream":"[a-z@]{0,12}",)?("data":)?\{("(e|E|s|u|U|pu|b|a|B|A|t|p|q|m|lastUpdateId|bids|asks|x)":("[0-9.A-Z]{0,6}"|[0-9]{1,21}|-1|1\.5|true|null|\[\]|\[\["[0-9.]{1,5}","[0-9.]{1,5}"\]\]|\{\}),?){0,9}\}\}?"#
    ) {
        let mut p = Pair::new(Registry::new());
        let _ = p.feed(1, s.as_bytes(), None);
    }
}
