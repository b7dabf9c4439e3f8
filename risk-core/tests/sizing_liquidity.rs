//! Liquidity property tests: slippage is monotone in size, the largest size within a slippage
//! limit is exactly on the limit, and the book walk never panics on arbitrary levels.

use proptest::prelude::*;
use risk_core::liquidity::{max_qty_within_slippage, walk_book, Level, SqrtImpact, TradeSide};

/// A valid book side: 1–30 levels moving away from the touch.
fn side_levels() -> impl Strategy<Value = (TradeSide, f64, Vec<Level>)> {
    (
        any::<bool>(),
        50.0_f64..200.0,
        prop::collection::vec((0.001_f64..2.0, 0.0_f64..10.0), 1..30),
    )
        .prop_map(|(buy, mid, steps)| {
            let side = if buy { TradeSide::Buy } else { TradeSide::Sell };
            let mut px = mid * (1.0 + side.sign() * 0.0005);
            let levels = steps
                .into_iter()
                .map(|(dp, q)| {
                    let l = Level { px, qty: q };
                    px += side.sign() * dp * mid * 1e-3;
                    l
                })
                .collect();
            (side, mid, levels)
        })
}

proptest! {
    #![proptest_config(testkit::prop::config(512, "proptest-regressions/sizing_liquidity.txt"))]

    #[test]
    fn slippage_is_monotone_in_size((side, mid, levels) in side_levels(), a in 0.001_f64..50.0, b in 0.001_f64..50.0) {
        let (small, large) = if a <= b { (a, b) } else { (b, a) };
        let fs = walk_book(&levels, small, mid, side).unwrap();
        let fl = walk_book(&levels, large, mid, side).unwrap();
        prop_assert!(fl.slippage_bps >= fs.slippage_bps - 1e-9);
        prop_assert!(fs.slippage_bps >= 0.0);
        prop_assert!(fl.filled_qty >= fs.filled_qty);
    }

    #[test]
    fn max_size_hits_the_limit((side, mid, levels) in side_levels(), bps in 0.0_f64..300.0) {
        let q = max_qty_within_slippage(&levels, mid, side, bps).unwrap();
        let depth: f64 = levels.iter().map(|l| l.qty).sum();
        prop_assert!(q >= 0.0 && q <= depth * (1.0 + 1e-12));
        if q > 1e-9 {
            let f = walk_book(&levels, q, mid, side).unwrap();
            prop_assert!(f.slippage_bps <= bps + 1e-7, "{} > {}", f.slippage_bps, bps);
            if q < depth * (1.0 - 1e-9) {
                // On the limit, and a little more breaks it.
                prop_assert!((f.slippage_bps - bps).abs() < 1e-6, "{} vs {}", f.slippage_bps, bps);
                let g = walk_book(&levels, q * 1.01 + 1e-9, mid, side).unwrap();
                prop_assert!(g.slippage_bps > bps);
            }
        }
    }

    #[test]
    fn never_panics_on_arbitrary_levels(raw in prop::collection::vec((any::<f64>(), any::<f64>()), 0..20), q in any::<f64>(), r in any::<f64>(), bps in any::<f64>()) {
        let levels: Vec<Level> = raw.into_iter().map(|(px, qty)| Level { px, qty }).collect();
        for side in [TradeSide::Buy, TradeSide::Sell] {
            if let Ok(f) = walk_book(&levels, q, r, side) {
                prop_assert!(f.avg_px.is_finite() && f.slippage_bps.is_finite());
            }
            if let Ok(m) = max_qty_within_slippage(&levels, r, side, bps) {
                prop_assert!(!m.is_nan());
            }
        }
    }

    #[test]
    fn sqrt_impact_is_monotone_and_inverts(y in 0.1_f64..2.0, vol in 0.001_f64..0.1, adv in 1.0_f64..1e9, hs in 0.0_f64..10.0, bps in 0.0_f64..500.0) {
        let m = SqrtImpact { y, daily_vol: vol, adv_qty: adv, half_spread_bps: hs };
        let q = m.max_qty(bps);
        if q > 0.0 {
            prop_assert!((m.cost_bps(q) - bps).abs() < 1e-9 * bps.max(1.0));
            prop_assert!(m.cost_bps(q * 1.1) > m.cost_bps(q));
        } else {
            prop_assert!(bps <= hs);
        }
    }
}
