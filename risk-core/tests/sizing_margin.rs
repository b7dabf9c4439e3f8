//! Margin property tests: at the computed liquidation price equity equals the maintenance
//! margin (linear and inverse, long and short, tiered, isolated and cross), and the largest safe
//! size sits exactly on its binding limit.

use proptest::prelude::*;
use risk_core::margin::{
    max_safe_qty, Contract, MarginMode, MarginTiers, Position, SafeSizeBound, SafeSizeSpec, Side,
};

/// 1–6 brackets with increasing floors and rates; floors scaled to the contract's notional unit.
fn tiers(unit: f64) -> impl Strategy<Value = MarginTiers> {
    prop::collection::vec((0.2_f64..3.0, 0.0005_f64..0.02), 1..6).prop_map(move |v| {
        let mut floor = 0.0;
        let mut rate = 0.002;
        let mut b = Vec::new();
        for (i, (df, dr)) in v.into_iter().enumerate() {
            if i > 0 {
                floor += df * unit;
            }
            rate += dr;
            b.push((floor, rate));
        }
        MarginTiers::new(&b).unwrap()
    })
}

fn contract() -> impl Strategy<Value = Contract> {
    prop_oneof![Just(Contract::Linear), Just(Contract::Inverse)]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Long), Just(Side::Short)]
}

/// A position, its schedule and a margin mode; sizes such that notionals cross brackets.
fn scenario() -> impl Strategy<Value = (Position, MarginTiers, MarginMode)> {
    (
        contract(),
        side(),
        100.0_f64..100_000.0,
        0.01_f64..10.0,
        0.01_f64..1.0,
        any::<bool>(),
    )
        .prop_flat_map(|(c, s, entry, size, coll_frac, cross)| {
            // Notional at entry in the collateral unit: linear quote, inverse coin.
            let (qty, notional) = match c {
                Contract::Linear => (size, size * entry),
                Contract::Inverse => (size * entry, size),
            };
            (
                Just((c, s, entry, qty, notional * coll_frac, cross)),
                tiers(notional / 2.0),
            )
        })
        .prop_map(|((c, s, entry, qty, coll, cross), t)| {
            let p = Position {
                contract: c,
                side: s,
                entry_px: entry,
                qty,
            };
            let mode = if cross {
                MarginMode::Cross {
                    wallet_balance: coll * 1.5,
                    others_unrealized_pnl: -coll * 0.2,
                    others_maintenance: coll * 0.3,
                }
            } else {
                MarginMode::Isolated { collateral: coll }
            };
            (p, t, mode)
        })
}

proptest! {
    #![proptest_config(testkit::prop::config(512, "proptest-regressions/sizing_margin.txt"))]

    #[test]
    fn equity_equals_maintenance_at_liquidation((p, t, mode) in scenario()) {
        let c = mode.effective_collateral();
        match p.liquidation_price(&t, &mode) {
            Some(liq) => {
                prop_assert!(liq > 0.0 && liq.is_finite());
                let eq = p.equity(c, liq);
                let mm = p.maintenance_margin(&t, liq);
                let scale = p.notional(liq).abs().max(c.abs());
                prop_assert!((eq - mm).abs() <= 1e-9 * scale, "eq {} mm {} at {}", eq, mm, liq);
                // Healthy side of the liquidation price: equity above maintenance.
                let healthy = match p.side { Side::Long => liq * 1.01, Side::Short => liq * 0.99 };
                prop_assert!(p.equity(c, healthy) > p.maintenance_margin(&t, healthy));
            }
            None => {
                // No positive liquidation price: equity covers maintenance at every price on
                // the losing side we can probe.
                for f in [0.5, 0.1, 0.01, 2.0, 10.0, 100.0] {
                    let px = p.entry_px * f;
                    let losing = match p.side { Side::Long => f < 1.0, Side::Short => f > 1.0 };
                    if losing {
                        prop_assert!(p.equity(c, px) >= p.maintenance_margin(&t, px) - 1e-9 * p.notional(px).abs());
                    }
                }
            }
        }
    }

    #[test]
    fn largest_safe_size_sits_on_its_limit(
        c in contract(), s in side(), mark in 100.0_f64..100_000.0, coll in 0.5_f64..50.0,
        sigma in 0.005_f64..0.1, k in 0.5_f64..5.0, ratio in 0.05_f64..1.0, unit in 0.5_f64..20.0,
        t in tiers(1.0),
    ) {
        // Collateral and floors in the contract's notional unit.
        let unit_notional = match c { Contract::Linear => mark, Contract::Inverse => 1.0 };
        let collateral = coll * unit_notional;
        let scaled: Vec<(f64, f64)> = t.tiers().iter().map(|b| (b.notional_floor * unit * unit_notional, b.mmr)).collect();
        let t = MarginTiers::new(&scaled).unwrap();
        let spec = SafeSizeSpec { contract: c, side: s, mark_px: mark, collateral, sigma, horizon: 1.0, k, max_margin_ratio: ratio };
        let safe = max_safe_qty(&spec, &t).unwrap();
        prop_assert!(safe.qty.is_finite() && safe.qty >= 0.0);
        prop_assume!(safe.qty > 0.0);
        let mode = MarginMode::Isolated { collateral };
        let at = Position { contract: c, side: s, entry_px: mark, qty: safe.qty };
        let liq = at.liquidation_price(&t, &mode);
        let ok_buffer = |liq: Option<f64>| match (s, liq) {
            (_, None) => true,
            (Side::Long, Some(l)) => l <= spec.buffer_px() * (1.0 + 1e-9),
            (Side::Short, Some(l)) => l >= spec.buffer_px() * (1.0 - 1e-9),
        };
        prop_assert!(ok_buffer(liq), "liq {:?} buffer {}", liq, spec.buffer_px());
        prop_assert!(at.margin_ratio(&t, collateral, mark) <= ratio * (1.0 + 1e-9));
        // 0.1 % more breaks the binding limit.
        let more = Position { qty: safe.qty * 1.001, ..at };
        match safe.bound {
            SafeSizeBound::LiquidationBuffer => prop_assert!(!ok_buffer(more.liquidation_price(&t, &mode))),
            SafeSizeBound::MarginRatio => prop_assert!(more.margin_ratio(&t, collateral, mark) > ratio),
        }
    }
}
