//! The portfolio market end to end: determinism, every input through the real Binance or Deribit
//! parser and book sync, and the statistics the demo relies on, measured on the books that sync
//! produces.

use feeds::multi::{tag_frame, InputKind, MultiAdapter, Venue, VenueFeed};
use feeds::{EventKind, FeedAdapter, InstrumentId, L2Book, Market, Registry};
use synth::portfolio::{generate_portfolio, MarketTape, PortfolioSynthConfig, TapeInput, VolShock};

fn registry_of(input: &TapeInput) -> Registry {
    let mut r = Registry::new();
    r.register(&input.symbol, input.market, input.px_scale, input.qty_scale);
    r
}

/// The capture kind of an input (`binance-usdm`, `deribit`, …).
fn kind_of(input: &TapeInput) -> InputKind {
    InputKind {
        venue: if input.market == Market::Deribit {
            Venue::Deribit
        } else {
            Venue::Binance
        },
        market: Some(input.market),
    }
}

/// The book of a feed's one instrument.
fn book(f: &VenueFeed) -> Option<&L2Book> {
    match f {
        VenueFeed::Binance(b) => b.book(InstrumentId(0)),
        VenueFeed::Deribit(d) => d.book(InstrumentId(0)),
    }
}

/// One frame through a feed.
fn feed_frame(f: &mut VenueFeed, ns: u64, frame: &[u8]) -> Result<(), String> {
    match f {
        VenueFeed::Binance(b) => b
            .on_frame(ns, frame, &mut |_| {})
            .map_err(|e| e.to_string()),
        VenueFeed::Deribit(d) => d
            .on_frame(ns, frame, &mut |_| {})
            .map_err(|e| e.to_string()),
    }
}

/// Input `input`'s mid from its feed's book, `None` while the book is not valid.
fn mid(f: &VenueFeed, input: &TapeInput) -> Option<f64> {
    let book = book(f)?;
    let (b, a) = (book.best_bid()?, book.best_ask()?);
    book.is_valid()
        .then(|| (b.px + a.px) as f64 / 2.0 / 10f64.powi(i32::from(input.px_scale)))
}

/// Every input through its own feed; returns each feed and, at every whole second of market
/// time, each input's mid and spread (price mantissa).
#[allow(clippy::type_complexity)] // test helper: one row per second, one entry per input
fn replay(tape: &MarketTape, start_ns: u64) -> (Vec<VenueFeed>, Vec<Vec<(Option<f64>, i64)>>) {
    let mut feeds: Vec<VenueFeed> = tape
        .inputs
        .iter()
        .map(|i| VenueFeed::new(kind_of(i), registry_of(i)))
        .collect();
    let mut samples = Vec::new();
    let mut next_s = start_ns + 1_000_000_000;
    let spread = |f: &VenueFeed| {
        let Some(book) = book(f) else {
            return 0;
        };
        match (book.best_bid(), book.best_ask()) {
            (Some(b), Some(a)) => a.px - b.px,
            _ => 0,
        }
    };
    for (ns, i, frame) in &tape.frames {
        while *ns >= next_s {
            samples.push(
                feeds
                    .iter()
                    .zip(&tape.inputs)
                    .map(|(f, input)| (mid(f, input), spread(f)))
                    .collect(),
            );
            next_s += 1_000_000_000;
        }
        feed_frame(&mut feeds[usize::from(*i)], *ns, frame)
            .unwrap_or_else(|e| panic!("input {i} at {ns}: {e}"));
    }
    (feeds, samples)
}

type Samples = [Vec<(Option<f64>, i64)>];

/// Log-returns of input `i` between consecutive samples `from..=to`.
fn returns(samples: &Samples, i: usize, from: usize, to: usize) -> Vec<Option<f64>> {
    (from..to)
        .map(|s| match (samples[s][i].0, samples[s + 1][i].0) {
            (Some(a), Some(b)) => Some((b / a).ln()),
            _ => None,
        })
        .collect()
}

fn vol_1s(r: &[Option<f64>]) -> f64 {
    let v: Vec<f64> = r.iter().flatten().copied().collect();
    (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64 * 365.25 * 86_400.0).sqrt()
}

fn corr(a: &[Option<f64>], b: &[Option<f64>]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        if let (Some(x), Some(y)) = (x, y) {
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
    }
    ab / (aa * bb).sqrt()
}

fn default_tape() -> (PortfolioSynthConfig, MarketTape) {
    let cfg = PortfolioSynthConfig::default();
    let tape = generate_portfolio(&cfg).expect("default config is valid");
    (cfg, tape)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let cfg = PortfolioSynthConfig {
        duration_s: 20.0,
        break_at_s: 10.0,
        shock: Some(VolShock {
            factor: 1,
            at_s: 12.0,
            duration_s: 4.0,
            mult: 3.5,
        }),
        void: None,
        lost_diff: None,
        ..PortfolioSynthConfig::default()
    };
    let a = generate_portfolio(&cfg).unwrap();
    assert_eq!(a, generate_portfolio(&cfg).unwrap());
    assert!(
        a.frames
            .windows(2)
            .all(|w| (w[0].0, w[0].1) <= (w[1].0, w[1].1)),
        "frames sorted by receive time, ties in input order"
    );
    let b = generate_portfolio(&PortfolioSynthConfig { seed: 12, ..cfg }).unwrap();
    assert_ne!(a.frames, b.frames);
    // The same bytes on every machine: a fingerprint of the whole tape (FNV-1a over receive
    // times, inputs and frames). A deliberate change to the generator updates it.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (ns, i, f) in &a.frames {
        for byte in ns.to_le_bytes().iter().chain([i]).chain(f) {
            h = (h ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("fingerprint {h:#018x}, {} frames", a.frames.len());
    assert_eq!(h, 0xd198_ce52_5393_8d08);
}

#[test]
fn every_input_parses_and_syncs() {
    let (cfg, tape) = default_tape();
    let names: Vec<(&str, &str)> = tape
        .inputs
        .iter()
        .map(|i| (i.symbol.as_str(), i.market.name()))
        .collect();
    assert_eq!(
        names,
        [
            ("BTCUSDT", "spot"),
            ("BTCUSDT", "usdm"),
            ("BTCUSD_PERP", "coinm"),
            ("BTC-PERPETUAL", "deribit"),
            ("ETHUSDT", "spot"),
            ("ETHUSDT", "usdm"),
            ("ETHUSD_PERP", "coinm"),
            ("SOLUSDT", "spot"),
            ("SOLUSDT", "usdm"),
        ]
    );
    let lost = cfg.lost_diff.unwrap();
    let (feeds, _) = replay(&tape, cfg.start_ns);
    for (i, f) in feeds.iter().enumerate() {
        let s = f.stats();
        let gaps = u64::from(i == lost.input);
        assert_eq!(s.malformed, 0, "input {i}");
        assert_eq!(
            s.fallback_parses, 0,
            "input {i}: the scanner reads every frame"
        );
        assert_eq!((s.gaps, s.resyncs), (gaps, gaps), "input {i}: {s:?}");
        assert_eq!(s.snapshots, 1 + gaps, "input {i}: {s:?}");
        assert_eq!(
            (
                s.snapshots_stale,
                s.snapshots_ignored,
                s.ignored,
                s.buffer_overflows
            ),
            (0, 0, 0, 0),
            "input {i}: {s:?}"
        );
        assert!(s.trades > 500 && s.book_tickers > 3000, "input {i}: {s:?}");
        // Every diff applies but the opening one (in Binance's snapshot; Deribit's channel opens
        // with its snapshot) and, after the lost one, those the resync snapshot contains.
        let opening = u64::from(tape.inputs[i].market != Market::Deribit);
        let stale = opening + gaps * u64::from(lost.resync_after_diffs);
        assert_eq!(s.diffs_applied + stale, s.diffs, "input {i}: {s:?}");
        assert!(book(f).unwrap().is_valid(), "input {i}");
        assert_eq!(f.registry().len(), 1, "input {i}");
    }
    let (l, lost_ns, resync_ns) = tape.truth.lost_diff.unwrap();
    assert_eq!(l, lost.input);
    assert!(
        resync_ns > lost_ns + 2_000_000_000,
        "20 diffs of 100 ms later"
    );
}

/// The same tape through the pipeline-facing adapter, one input per (market, symbol), each with
/// its own adapter (books read per input, not through the global registry).
#[test]
fn multi_adapter_accepts_every_tagged_frame() {
    let (_, tape) = default_tape();
    // Each input tagged with its market, as `--capture binance-usdm=FILE` would.
    let kinds: Vec<InputKind> = tape.inputs.iter().map(kind_of).collect();
    let locals = tape.inputs.iter().map(registry_of).collect();
    let mut a = MultiAdapter::new(&kinds, Registry::new(), locals);
    let mut buf = Vec::new();
    let (mut gaps, mut synced) = (0, 0);
    for (ns, i, frame) in &tape.frames {
        tag_frame(&mut buf, usize::from(*i), frame).unwrap();
        assert!(a.on_frame(*ns, &buf, &mut |e| match e.kind {
            EventKind::Gap => gaps += 1,
            EventKind::SnapshotEnd => synced += 1,
            _ => {}
        }));
    }
    let total = FeedAdapter::stats(&a);
    assert_eq!(total.frames, tape.frames.len() as u64);
    assert_eq!((total.malformed, total.gaps, total.resyncs), (0, 1, 1));
    assert_eq!((gaps, synced), (1, tape.inputs.len() + 1), "one resync");
    for i in 0..tape.inputs.len() {
        assert_eq!(a.rejected(i), 0);
        let f = a.feed(i).unwrap();
        assert!(book(f).unwrap().is_valid(), "input {i}");
    }
}

#[test]
fn grid_statistics_match_the_configuration() {
    let (cfg, tape) = default_tape();
    let t = &tape.truth;
    let k = cfg.factors.len();
    let shock = t.shock.unwrap();
    for (w, want) in [
        (&t.realized_before, &cfg.corr_before),
        (&t.realized_after, &cfg.corr_after),
    ] {
        println!("grid corr {:.3?} vol {:.3?}", w.corr, w.vol);
        // Over a window that holds the shock, the shocked factor's returns weigh more in the
        // shock, where the other factor's do not: the window's correlation is the conditional
        // one times (T - d + m d) / sqrt(T (T - d + m² d)) (T the window, d the shock in it).
        let span = (w.end_ns - w.start_ns) as f64;
        let d = (w.end_ns.min(shock.end_ns)).saturating_sub(w.start_ns.max(shock.start_ns)) as f64;
        let m = shock.vol / t.vol[shock.factor];
        let weight = (span - d + m * d) / (span * (span - d + m * m * d)).sqrt();
        for (ij, &conditional) in want.iter().enumerate() {
            let (i, j) = (ij / k, ij % k);
            let expect = if (i == shock.factor) != (j == shock.factor) {
                conditional * weight
            } else {
                conditional
            };
            assert!(
                (w.corr[ij] - expect).abs() < 0.05,
                "corr[{ij}] {} vs {expect}",
                w.corr[ij],
            );
        }
    }
    for i in 0..k {
        let before = t.realized_before.vol[i];
        assert!((before / t.vol[i] - 1.0).abs() < 0.15, "vol[{i}] {before}");
        if i != shock.factor {
            let after = t.realized_after.vol[i];
            assert!((after / t.vol[i] - 1.0).abs() < 0.15, "vol[{i}] {after}");
        }
    }
    let in_shock = t.realized_shock.as_ref().unwrap().vol[shock.factor];
    println!("grid shock vol {in_shock:.3} vs {}", shock.vol);
    assert!(
        (in_shock / shock.vol - 1.0).abs() < 0.15,
        "{in_shock} vs {}",
        shock.vol
    );
    assert_eq!(t.break_ns, cfg.start_ns + 180_000_000_000);
    assert_eq!(shock.start_ns, cfg.start_ns + 240_000_000_000);
}

#[test]
fn books_show_the_break_the_shock_the_basis_and_the_void() {
    let (cfg, tape) = default_tape();
    let t = &tape.truth;
    let (_, samples) = replay(&tape, cfg.start_ns);
    // Sample s is taken at start + (s + 1) seconds.
    let sec = |ns: u64| ((ns - cfg.start_ns) / 1_000_000_000) as usize - 1;
    let (brk, end) = (sec(t.break_ns), samples.len() - 1);
    let spot = [0, 4, 7];
    for (from, to, want, grid) in [
        (0, brk, &t.corr_before, &t.realized_before.corr),
        (brk, end, &t.corr_after, &t.realized_after.corr),
    ] {
        for a in 0..3 {
            for b in a + 1..3 {
                let c = corr(
                    &returns(&samples, spot[a], from, to),
                    &returns(&samples, spot[b], from, to),
                );
                let (w, g) = (want[a * 3 + b], grid[a * 3 + b]);
                println!("corr {a}{b} [{from},{to}): books {c:.3}, grid {g:.3}, configured {w}");
                assert!((c - g).abs() < 0.15, "books {c} vs grid {g}");
                assert!((c - w).abs() < 0.15, "books {c} vs configured {w}");
            }
        }
    }
    let shock = t.shock.unwrap();
    let (s0, s1) = (sec(shock.start_ns), sec(shock.end_ns));
    let eth = spot[shock.factor];
    let before = vol_1s(&returns(&samples, eth, 0, s0));
    let during = vol_1s(&returns(&samples, eth, s0, s1));
    let grid = t.realized_shock.as_ref().unwrap().vol[shock.factor];
    println!(
        "ETH vol: before {before:.3}, in shock {during:.3} (grid {grid:.3}, configured {})",
        shock.vol
    );
    assert!((before / t.vol[shock.factor] - 1.0).abs() < 0.15);
    assert!((during / grid - 1.0).abs() < 0.2);
    assert!(during / before > 2.5, "{during} vs {before}");
    for (f, inputs) in [(0, &[0, 1, 2, 3][..]), (1, &[4, 5, 6][..])] {
        for (m, &i) in inputs.iter().enumerate().skip(1) {
            let c = corr(
                &returns(&samples, inputs[0], 0, end),
                &returns(&samples, i, 0, end),
            );
            let basis: Vec<f64> = samples
                .iter()
                .filter_map(|s| Some((s[i].0? / s[inputs[0]].0?).ln() * 1e4))
                .collect();
            let mean = basis.iter().sum::<f64>() / basis.len() as f64;
            let want = cfg.factors[f].markets[m].basis_bp;
            println!("factor {f} input {i}: corr to spot {c:.4}, basis {mean:.2} bp");
            assert!(c > 0.95, "input {i}: {c}");
            assert!((mean - want).abs() < 1.0, "input {i}: {mean} bp vs {want}");
        }
    }
    let (vi, v0, v1) = t.void.unwrap();
    let inside = samples[(sec(v0) + sec(v1)) / 2][vi].1;
    let outside = samples[sec(v0) - 5][vi].1;
    println!("void spread {inside} vs {outside}");
    assert!(inside >= 10 * outside, "{inside} vs {outside}");
}

#[test]
fn bad_configurations_are_refused_by_field() {
    let cfg = PortfolioSynthConfig {
        corr_after: vec![1.0, 0.9, 0.9, 0.9, 1.0, -0.9, 0.9, -0.9, 1.0],
        ..PortfolioSynthConfig::default()
    };
    let e = generate_portfolio(&cfg).unwrap_err();
    assert_eq!(e.field, "corr_after", "{e}");
    let mut cfg = PortfolioSynthConfig::default();
    cfg.lost_diff.as_mut().unwrap().input = 9;
    assert_eq!(
        generate_portfolio(&cfg).unwrap_err().field,
        "lost_diff.input"
    );
    let mut cfg = PortfolioSynthConfig::default();
    cfg.factors[0].markets[2].contract_usd = None;
    let e = generate_portfolio(&cfg).unwrap_err();
    assert_eq!(e.field, "factors[0].markets[2].contract_usd", "{e}");
    let mut cfg = PortfolioSynthConfig::default();
    cfg.factors[0].markets[3].lot = 1;
    let e = generate_portfolio(&cfg).unwrap_err();
    assert_eq!(e.field, "factors[0].markets[3].lot", "{e}");
    let cfg = PortfolioSynthConfig {
        quote_ms: 15,
        ..PortfolioSynthConfig::default()
    };
    assert_eq!(generate_portfolio(&cfg).unwrap_err().field, "quote_ms");
}
