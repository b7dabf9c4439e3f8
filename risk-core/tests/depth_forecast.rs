//! The order-flow depth forecast: no allocation per event, garbage ignored, multiplier bounds,
//! a synthetic liquidity void seen before the depth is gone, and the least-squares fit.

use proptest::prelude::*;
use risk_core::depth_forecast::{
    multiplier_of, DepthFitter, DepthForecast, DepthForecastConfig, DepthModel, DepthTarget,
    N_FEATURES,
};
use risk_core::liquidity::{BookTop, TradeSide};

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

const MS: u64 = 1_000_000;

/// A steady book: 100/101, 10 on each side, a small trade each way every 100 ms, for `secs`.
fn steady(f: &mut DepthForecast, from_ns: u64, secs: u64) -> u64 {
    let mut t = from_ns;
    for _ in 0..secs * 10 {
        assert!(f.on_bbo(t, 100.0, 10.0, 101.0, 10.0));
        assert!(f.on_trade(t + MS, 101.0, 0.2, TradeSide::Buy));
        assert!(f.on_trade(t + 2 * MS, 100.0, 0.2, TradeSide::Sell));
        // The consumed quantity is replenished by the next update.
        t += 100 * MS;
    }
    t
}

/// A model that reads only order flow: heavy trading and cancellations predict a drop.
const FLOW_ONLY: DepthModel = DepthModel {
    horizon_ns: 1_000_000_000,
    coef: [0.0, 0.0, 0.0, -1.0, -1.0, 0.0, 0.0],
};

#[test]
fn a_synthetic_void_lowers_the_multiplier_before_the_depth_is_gone() {
    let mut f = DepthForecast::new(DepthForecastConfig {
        model: FLOW_ONLY,
        ..DepthForecastConfig::default()
    });
    let t0 = steady(&mut f, 0, 20);
    assert_eq!(f.multiplier(TradeSide::Buy), 1.0);
    assert_eq!(f.multiplier(TradeSide::Sell), 1.0);
    let (trades0, cancels0) = (
        f.trade_intensity(TradeSide::Buy),
        f.cancel_intensity(TradeSide::Buy),
    );
    // A sweep: every 50 ms buyers take part of the ask level and the rest of it is pulled, the
    // next level up is thinner. (price of the level hit, quantity bought there, next ask qty)
    let sweep = [(101.0, 6.0, 8.0), (101.5, 5.0, 6.0), (102.0, 4.0, 4.5)];
    let mut t = t0;
    let mut first_shrink = None;
    for (px, bought, next_qty) in sweep {
        t += 50 * MS;
        assert!(f.on_trade(t, px, bought, TradeSide::Buy));
        assert!(f.on_bbo(t + MS, 100.0, 10.0, px + 0.5, next_qty));
        if first_shrink.is_none() && f.multiplier(TradeSide::Buy) < 1.0 {
            first_shrink = Some(next_qty);
        }
    }
    assert!(f.trade_intensity(TradeSide::Buy) > 3.0 * trades0);
    // 4 + 3 + 2 pulled, none before.
    assert_eq!(cancels0, 0.0);
    assert!(f.cancel_intensity(TradeSide::Buy) > 0.8 * 9.0 * std::f64::consts::LN_2);
    let m = f.multiplier(TradeSide::Buy);
    assert!((0.25..0.5).contains(&m), "buy multiplier {m}");
    assert!(
        // Shrunk while the touch still held 60 % of its quantity.
        first_shrink.is_some_and(|q| q >= 6.0),
        "shrank at {first_shrink:?}"
    );
    assert!(f.forecast_depth(TradeSide::Buy) < 0.5 * f.depth(TradeSide::Buy));
    // The bids were not touched: sells keep their size.
    assert_eq!(f.multiplier(TradeSide::Sell), 1.0);
}

#[test]
fn cancellations_at_the_touch_are_what_trades_do_not_explain() {
    let mut f = DepthForecast::new(DepthForecastConfig {
        model: DepthModel::PERSISTENCE,
        ..DepthForecastConfig::default()
    });
    assert!(f.on_bbo(0, 100.0, 10.0, 101.0, 10.0));
    // 3 traded at the ask, the ask falls by 3: no cancellation.
    assert!(f.on_trade(MS, 101.0, 3.0, TradeSide::Buy));
    assert!(f.on_bbo(2 * MS, 100.0, 10.0, 101.0, 7.0));
    assert_eq!(f.cancel_intensity(TradeSide::Buy), 0.0);
    // The bid falls by 4 with no trade: 4 cancelled (rate 4 · ln 2 per second at a 1 s
    // half-life, barely decayed).
    assert!(f.on_bbo(3 * MS, 100.0, 6.0, 101.0, 7.0));
    let c = f.cancel_intensity(TradeSide::Sell);
    assert!((c - 4.0 * std::f64::consts::LN_2).abs() < 1e-9, "{c}");
    // The ask level leaves the book after 2 traded: 5 cancelled.
    assert!(f.on_trade(4 * MS, 101.0, 2.0, TradeSide::Buy));
    assert!(f.on_bbo(5 * MS, 100.0, 6.0, 102.0, 9.0));
    let c = f.cancel_intensity(TradeSide::Buy);
    assert!((c - 5.0 * std::f64::consts::LN_2).abs() < 1e-9, "{c}");
    // An improving bid cancels nothing.
    let before = f.cancel_intensity(TradeSide::Sell);
    assert!(f.on_bbo(6 * MS, 100.5, 1.0, 102.0, 9.0));
    assert!(f.cancel_intensity(TradeSide::Sell) <= before);
}

#[test]
fn garbage_is_ignored() {
    let mut f = DepthForecast::new(DepthForecastConfig::default());
    assert!(!f.on_trade(0, 101.0, 1.0, TradeSide::Buy), "no book yet");
    assert_eq!(f.multiplier(TradeSide::Buy), 1.0);
    assert!(f.features(TradeSide::Buy).is_none());
    let t = steady(&mut f, 0, 5);
    let before = (
        f.features(TradeSide::Buy),
        f.features(TradeSide::Sell),
        f.multiplier(TradeSide::Buy),
    );
    let bad = [
        (f64::NAN, 1.0, 101.0, 1.0),
        (100.0, f64::INFINITY, 101.0, 1.0),
        (100.0, 1.0, f64::NEG_INFINITY, 1.0),
        (100.0, 1.0, 101.0, -1.0),
        (100.0, 0.0, 101.0, 1.0),
        (-100.0, 1.0, 101.0, 1.0),
        (102.0, 1.0, 101.0, 1.0),
        (101.0, 1.0, 101.0, 1.0),
    ];
    for (bp, bq, ap, aq) in bad {
        assert!(!f.on_bbo(t, bp, bq, ap, aq), "{bp} {bq} {ap} {aq}");
    }
    let bad_depth = BookTop {
        bid_px: 100.0,
        bid_qty: 1.0,
        ask_px: 101.0,
        ask_qty: 1.0,
        bid_depth: f64::NAN,
        ask_depth: 5.0,
    };
    assert!(!f.on_book(t, bad_depth));
    for (px, qty) in [
        (f64::NAN, 1.0),
        (101.0, f64::NAN),
        (101.0, -2.0),
        (0.0, 1.0),
    ] {
        assert!(!f.on_trade(t, px, qty, TradeSide::Buy));
    }
    let after = (
        f.features(TradeSide::Buy),
        f.features(TradeSide::Sell),
        f.multiplier(TradeSide::Buy),
    );
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    // A time that steps back is no time elapsed, not a panic or a NaN.
    assert!(f.on_bbo(t / 2, 100.0, 10.0, 101.0, 10.0));
    assert!(f.multiplier(TradeSide::Buy).is_finite());
    // A NaN floor or trigger is made safe.
    let g = DepthForecast::new(DepthForecastConfig {
        floor: f64::NAN,
        trigger: f64::NAN,
        ..DepthForecastConfig::default()
    });
    assert_eq!(g.config().floor, 1.0);
    assert_eq!(g.config().trigger, 0.0);
    assert_eq!(multiplier_of(f64::NAN, 0.5, 0.25), 1.0);
    assert_eq!(multiplier_of(-10.0, 0.5, 0.25), 0.25);
    assert_eq!(multiplier_of(-0.1, 0.5, 0.25), 1.0);
    assert!((multiplier_of(-0.1, 1.0, 0.25) - (-0.1_f64).exp()).abs() < 1e-15);
}

#[test]
fn no_allocation_per_event() {
    let mut f = DepthForecast::new(DepthForecastConfig {
        target: DepthTarget::Book,
        ..DepthForecastConfig::default()
    });
    steady(&mut f, 0, 1);
    let mut fit = DepthFitter::default();
    let (sum, allocs) = testkit::alloc::measure(|| {
        let mut sum = 0.0;
        for i in 0..20_000u64 {
            let t = 200_000 * MS + i * MS;
            let q = 1.0 + (i % 17) as f64;
            f.on_book(
                t,
                BookTop {
                    bid_px: 100.0,
                    bid_qty: q,
                    ask_px: 101.0 + (i % 3) as f64,
                    ask_qty: 18.0 - q,
                    bid_depth: 5.0 * q,
                    ask_depth: 60.0,
                },
            );
            f.on_trade(t, 101.0, 0.5, TradeSide::Buy);
            f.on_trade(t, 100.0, 0.25, TradeSide::Sell);
            f.advance_to(t + MS / 2);
            sum += f.multiplier(TradeSide::Buy) + f.multiplier(TradeSide::Sell);
            sum += f.forecast_depth(TradeSide::Buy);
            if let Some(x) = f.features(TradeSide::Buy) {
                fit.add(&x, (i % 5) as f64 - 2.0);
            }
        }
        sum + fit.solve(MS, 1e-3).map_or(0.0, |m| m.coef[0])
    });
    assert!(sum.is_finite());
    assert_eq!(allocs, 0, "allocations in the per-event path");
}

#[test]
fn the_fit_recovers_known_coefficients() {
    let truth = [0.3, -0.7, 0.2, 1.5, -0.4, 0.9, -1.1];
    let mut fit = DepthFitter::default();
    let mut s = 12345u64;
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    for _ in 0..2000 {
        let mut x = [1.0; N_FEATURES];
        for v in &mut x[1..] {
            *v = next();
        }
        let y: f64 = truth.iter().zip(&x).map(|(b, v)| b * v).sum();
        assert!(fit.add(&x, y));
    }
    assert!(!fit.add(&[f64::NAN; N_FEATURES], 1.0));
    assert_eq!(fit.len(), 2000);
    let m = fit.solve(MS, 0.0).unwrap();
    for (got, want) in m.coef.iter().zip(truth) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    // A feature that never varies is singular without a ridge, zero with one.
    let mut flat = DepthFitter::default();
    for i in 0..50 {
        let mut x = [0.0; N_FEATURES];
        x[0] = 1.0;
        x[1] = f64::from(i);
        flat.add(&x, 0.5 * f64::from(i));
    }
    assert!(flat.solve(MS, 0.0).is_err());
    let m = flat.solve(MS, 1e-6).unwrap();
    assert_eq!(m.coef[6], 0.0);
    assert!((m.coef[1] - 0.5).abs() < 1e-3);
    assert!(DepthFitter::default().solve(MS, 0.0).is_err());
}

proptest! {
    #[test]
    fn multiplier_stays_in_floor_one(
        events in prop::collection::vec(
            (0u64..2_000_000_000, prop::num::f64::ANY, prop::num::f64::ANY, 0u8..4), 1..200),
        coef in prop::array::uniform7(-50.0f64..50.0),
        floor in 0.0f64..1.0,
        trigger in 0.0f64..=1.0,
    ) {
        let mut f = DepthForecast::new(DepthForecastConfig {
            floor,
            trigger,
            model: DepthModel { horizon_ns: 1, coef },
            ..DepthForecastConfig::default()
        });
        let mut t = 0u64;
        for (dt, a, b, kind) in events {
            t = t.saturating_add(dt);
            match kind {
                0 => { f.on_bbo(t, a.abs(), b.abs(), a.abs() + 1.0, b.abs()); }
                1 => { f.on_bbo(t, 100.0, a, 101.0, b); }
                2 => { f.on_trade(t, a, b, TradeSide::Buy); }
                _ => { f.on_trade(t, a, b, TradeSide::Sell); }
            }
            for side in [TradeSide::Buy, TradeSide::Sell] {
                let m = f.multiplier(side);
                prop_assert!(m >= floor && m <= 1.0, "{m} outside [{floor}, 1]");
                let d = f.forecast_depth(side);
                prop_assert!(d >= 0.0 && !d.is_nan());
            }
        }
    }
}
