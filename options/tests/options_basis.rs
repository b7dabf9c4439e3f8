//! Per-expiry forwards: each option is valued at `hedge mid × its expiry's basis` (the basis is
//! `underlying_price / hedge mid` of the expiry's last ticker, 1 until one is seen), so a chain
//! with a known basis has delta and gamma at its own forward, not at the hedge mid; the hedge
//! reflects it and decisions carry the forward range.

use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{InstrumentId, MarketEvent};
use options::{OptionsConfig, OptionsEngine};
use risk_core::greeks::{greeks, Model, OptionInputs, OptionKind};
use risk_core::greeks_limits::HedgeTo;
use testkit::options::{Chain, Recorder, DAY_NS, T0};

const YEAR_NS: f64 = 365.0 * 86_400.0 * 1e9;

/// The permissive configuration with a narrow band hedged to its centre, ample collateral and
/// one-minute samples.
fn cfg() -> OptionsConfig {
    OptionsConfig {
        delta_band: 0.01,
        hedge_to: HedgeTo::Center,
        collateral_coin: 1e4,
        sample_interval_ns: 60_000_000_000,
        ..testkit::options::config()
    }
}

fn bbo(id: InstrumentId, t: u64, mid: f64) -> MarketEvent {
    testkit::options::bbo(id, t, mid, 0.5, 1e9)
}

fn ticker(id: InstrumentId, t: u64, fwd: f64) -> MarketEvent {
    option_ticker(
        id,
        t,
        t,
        &OptionTicker {
            underlying_px: fwd,
            mark_px: 0.05,
            mark_iv: 0.6,
            bid_iv: 0.0,
            ask_iv: 0.0,
        },
    )
}

struct Setup {
    eng: OptionsEngine,
    hedge: InstrumentId,
    /// (id, expiry) of: near call, near put, far call, far call of an expiry without tickers.
    opts: Vec<(InstrumentId, u64)>,
}

fn setup() -> Setup {
    let mut chain = Chain::default();
    let near = T0 + 7 * DAY_NS;
    let far = T0 + 180 * DAY_NS;
    let other = T0 + 90 * DAY_NS;
    let mut opts = Vec::new();
    for (name, strike, expiry, is_call) in [
        ("BTC-N-50000-C", 50_000.0, near, true),
        ("BTC-N-48000-P", 48_000.0, near, false),
        ("BTC-F-55000-C", 55_000.0, far, true),
        ("BTC-O-50000-C", 50_000.0, other, true),
    ] {
        opts.push((chain.option(name, strike, expiry, is_call), expiry));
    }
    let eng = chain.engine(cfg()).expect("engine");
    Setup {
        eng,
        hedge: chain.hedge,
        opts,
    }
}

/// Black-76 at forward `fwd` for chain option `i`.
fn expected(eng: &OptionsEngine, i: usize, fwd: f64, now_ns: u64) -> (f64, f64) {
    let c = eng.chain();
    let (g, _) = greeks(&OptionInputs {
        model: Model::Black76,
        kind: if c.is_call[i] {
            OptionKind::Call
        } else {
            OptionKind::Put
        },
        underlying: fwd,
        strike: c.strike[i],
        t_years: (c.expiry_ns[i] - now_ns) as f64 / YEAR_NS,
        vol: c.mark_iv[i],
        rate: 0.0,
        carry_q: 0.0,
    });
    (g.delta, g.gamma)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

#[test]
fn each_expiry_is_valued_at_its_own_forward() {
    let Setup {
        mut eng,
        hedge,
        opts,
    } = setup();
    let mut rec = Recorder::default();
    let mid0 = 50_000.0;
    eng.on_event(&bbo(hedge, T0, mid0), 0, &mut rec);
    // Near expiry trades at a 1 % premium, far at 6 %; the fourth expiry has no forward of its
    // own: its ticker carries no underlying price.
    eng.on_event(&ticker(opts[0].0, T0 + 1, mid0 * 1.01), 0, &mut rec);
    eng.on_event(&ticker(opts[1].0, T0 + 2, mid0 * 1.01), 0, &mut rec);
    eng.on_event(&ticker(opts[2].0, T0 + 3, mid0 * 1.06), 0, &mut rec);
    eng.on_event(&ticker(opts[3].0, T0 + 4, 0.0), 0, &mut rec);
    // The hedge moves: every option follows at its expiry's ratio.
    let (mid, now) = (52_000.0, T0 + 1_000_000_000);
    eng.on_event(&bbo(hedge, now, mid), 0, &mut rec);
    let c = eng.chain();
    for (i, ratio) in [(0, 1.01), (1, 1.01), (2, 1.06), (3, 1.0)] {
        let fwd = mid * ratio;
        assert!(
            close(c.forward(i), fwd),
            "option {i}: forward {} vs {fwd}",
            c.forward(i)
        );
        let (d, g) = expected(&eng, i, fwd, now);
        assert!(
            close(c.delta[i], d),
            "option {i}: delta {} vs {d}",
            c.delta[i]
        );
        assert!(
            close(c.gamma[i], g),
            "option {i}: gamma {} vs {g}",
            c.gamma[i]
        );
        // And not at the hedge mid (unless the ratio is 1).
        let (d_mid, _) = expected(&eng, i, mid, now);
        assert_eq!(close(c.delta[i], d_mid), ratio == 1.0, "option {i}");
    }
    // A later ticker of the near expiry moves its whole expiry's basis (at the next revaluation).
    eng.on_event(&ticker(opts[1].0, now + 1, mid * 0.99), 0, &mut rec);
    eng.on_event(&bbo(hedge, now + 2, mid + 10.0), 0, &mut rec);
    let c = eng.chain();
    assert!(close(c.forward(0), (mid + 10.0) * 0.99), "{}", c.forward(0));
    assert!(close(c.forward(2), (mid + 10.0) * 1.06), "{}", c.forward(2));
}

#[test]
fn a_forward_seen_before_the_first_touch_is_taken_against_it() {
    let Setup {
        mut eng,
        hedge,
        opts,
    } = setup();
    let mut rec = Recorder::default();
    eng.on_event(&ticker(opts[2].0, T0, 53_000.0), 0, &mut rec);
    eng.on_event(&bbo(hedge, T0 + 1, 50_000.0), 0, &mut rec);
    assert!(close(eng.chain().forward(2), 53_000.0));
    eng.on_event(&bbo(hedge, T0 + 2, 51_000.0), 0, &mut rec);
    assert!(close(eng.chain().forward(2), 51_000.0 * 1.06));
    assert!(close(eng.chain().forward(0), 51_000.0));
}

#[test]
fn the_hedge_and_the_decision_use_the_forwards() {
    // One long far call: its delta at the forward (6 % above the mid) is larger than at the mid,
    // so the hedge must sell that much more, and the decision shows the forward range.
    let Setup {
        mut eng,
        hedge,
        opts,
    } = setup();
    let mut rec = Recorder::default();
    let mid = 50_000.0;
    eng.set_desired(opts[2].0, 100);
    eng.on_event(&ticker(opts[0].0, T0, mid * 1.01), 0, &mut rec);
    eng.on_event(&ticker(opts[2].0, T0, mid * 1.06), 0, &mut rec);
    eng.on_event(&bbo(hedge, T0 + 1, mid), 0, &mut rec);
    let d = *rec.decisions.last().expect("a decision");
    assert!(close(d.forward_lo, mid), "{}", d.forward_lo);
    assert!(close(d.forward_hi, mid * 1.06), "{}", d.forward_hi);
    let (delta_fwd, _) = expected(&eng, 2, mid * 1.06, T0 + 1);
    let (delta_mid, _) = expected(&eng, 2, mid, T0 + 1);
    assert!(delta_fwd > delta_mid + 0.05, "{delta_fwd} vs {delta_mid}");
    let want_delta = 100.0 * 0.1 * delta_fwd;
    assert!(
        close(d.desired.delta, want_delta),
        "{} vs {want_delta}",
        d.desired.delta
    );
    // Hedged to the centre of a 0.01-coin band: the after-delta is within a lot of zero.
    assert!(d.after.delta.abs() <= 0.01, "{}", d.after.delta);
}
