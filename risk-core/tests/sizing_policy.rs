//! Policy property tests: the output is finite, it names the step that bound it, and that step
//! is in fact binding — the target sits on its limit, the value coming into it was outside, and
//! removing it changes the decision (unless another step has exactly the same limit).

use proptest::prelude::*;
use risk_core::greeks_limits::PortfolioGreeks;
use risk_core::liquidity::{Level, SqrtImpact};
use risk_core::margin::{Contract, MarginTiers};
use risk_core::policy::{
    BaseModel, Binding, BookView, Constraint, ConstraintKind, SizingInputs, SizingPolicy,
};
use risk_core::vol_target::VolTarget;

fn base() -> impl Strategy<Value = BaseModel> {
    prop_oneof![
        (-20.0_f64..20.0).prop_map(|qty| BaseModel::Fixed { qty }),
        (0.05_f64..1.0).prop_map(|fraction| BaseModel::Kelly { fraction }),
        (0.05_f64..0.5, 0.0_f64..0.5, 0.5_f64..5.0, 0.0_f64..0.2).prop_map(|(t, lo, hi, band)| {
            BaseModel::VolTarget(VolTarget {
                target_vol: t,
                min_leverage: lo,
                max_leverage: hi,
                band,
            })
        }),
        (0.0_f64..1.0, 0.5_f64..3.0)
            .prop_map(|(weight, leverage)| BaseModel::RiskParity { weight, leverage }),
    ]
}

fn constraint() -> impl Strategy<Value = Constraint> {
    prop_oneof![
        (0.0_f64..5.0).prop_map(|max| Constraint::MaxLeverage { max }),
        (0.0_f64..500_000.0).prop_map(|max| Constraint::MaxNotional { max }),
        (0.0_f64..10.0).prop_map(|max_abs| Constraint::DeltaLimit { max_abs }),
        (0.0_f64..1.0).prop_map(|max_abs| Constraint::GammaLimit { max_abs }),
        (0.0_f64..100.0).prop_map(|max_abs| Constraint::VegaLimit { max_abs }),
        (0.5_f64..4.0, 0.001_f64..0.05, 0.1_f64..1.0).prop_map(|(k, h, r)| {
            Constraint::LiquidationBuffer {
                tiers: MarginTiers::new(&[
                    (0.0, 0.004),
                    (50_000.0, 0.005),
                    (250_000.0, 0.01),
                    (1_000_000.0, 0.025),
                ])
                .unwrap(),
                k,
                horizon_years: h,
                max_margin_ratio: r,
            }
        }),
        (0.0_f64..100.0, any::<bool>()).prop_map(|(b, m)| Constraint::Liquidity {
            max_slippage_bps: b,
            impact: m.then_some(SqrtImpact {
                y: 0.7,
                daily_vol: 0.03,
                adv_qty: 1e4,
                half_spread_bps: 0.5
            }),
        }),
        (0.0_f64..0.5, prop::option::of(1e5_f64..1e7)).prop_map(|(s, oi)| Constraint::PoolCap {
            max_share: s,
            oi_limit: oi
        }),
        (0.0_f64..0.5).prop_map(|min_qty| Constraint::MinTradeSize { min_qty }),
        prop_oneof![Just(0.001), Just(0.01), Just(0.1), Just(1.0)]
            .prop_map(|lot| Constraint::LotRounding { lot }),
    ]
}

#[derive(Debug, Clone)]
struct World {
    bids: Vec<Level>,
    asks: Vec<Level>,
    with_book: bool,
    capital: f64,
    mark: f64,
    current: f64,
    direction: f64,
    mu: f64,
    vol: f64,
    other: PortfolioGreeks,
    unit: PortfolioGreeks,
    flow_buy: f64,
    flow_sell: f64,
    pool: f64,
    oi: f64,
}

fn world() -> impl Strategy<Value = World> {
    (
        (
            1e4_f64..1e6,
            1_000.0_f64..100_000.0,
            -10.0_f64..10.0,
            -1.0_f64..1.0,
            -1.0_f64..1.0,
            0.05_f64..2.0,
        ),
        (
            prop::collection::vec((0.0001_f64..0.002, 0.0_f64..5.0), 1..15),
            prop::collection::vec((0.0001_f64..0.002, 0.0_f64..5.0), 1..15),
            any::<bool>(),
        ),
        (
            (-5.0_f64..5.0, -1.0_f64..1.0, -50.0_f64..50.0),
            (-1.0_f64..1.0, -0.1_f64..0.1, -5.0_f64..5.0),
        ),
        (0.0_f64..1.0, 0.0_f64..1.0, 1e5_f64..1e8, 0.0_f64..1e7),
    )
        .prop_map(
            |(
                (capital, mark, current, direction, mu, vol),
                (b, a, with_book),
                (o, u),
                (fb, fs, pool, oi),
            )| {
                let mut px = mark * 0.9999;
                let bids = b
                    .iter()
                    .map(|&(d, q)| {
                        let l = Level { px, qty: q };
                        px *= 1.0 - d;
                        l
                    })
                    .collect();
                let mut px = mark * 1.0001;
                let asks = a
                    .iter()
                    .map(|&(d, q)| {
                        let l = Level { px, qty: q };
                        px *= 1.0 + d;
                        l
                    })
                    .collect();
                World {
                    bids,
                    asks,
                    with_book,
                    capital,
                    mark,
                    current,
                    direction,
                    mu,
                    vol,
                    other: PortfolioGreeks {
                        delta: o.0,
                        gamma: o.1,
                        vega_per_vol_point: o.2,
                    },
                    unit: PortfolioGreeks {
                        delta: u.0,
                        gamma: u.1,
                        vega_per_vol_point: u.2,
                    },
                    flow_buy: fb,
                    flow_sell: fs,
                    pool,
                    oi,
                }
            },
        )
}

fn inputs(w: &World) -> SizingInputs<'_> {
    SizingInputs {
        capital: w.capital,
        collateral: w.capital,
        mark_px: w.mark,
        current_qty: w.current,
        direction: w.direction,
        expected_return: w.mu,
        rf: 0.01,
        forecast_vol: w.vol,
        other_greeks: w.other,
        unit_greeks: w.unit,
        book: w.with_book.then_some(BookView {
            bids: &w.bids,
            asks: &w.asks,
        }),
        flow_multiplier_buy: w.flow_buy,
        flow_multiplier_sell: w.flow_sell,
        pool_liquidity: w.pool,
        open_interest: w.oi,
    }
}

proptest! {
    #![proptest_config(testkit::prop::config(1024, "proptest-regressions/sizing_policy.txt"))]

    #[test]
    fn binding_step_is_really_binding(b in base(), chain in prop::collection::vec(constraint(), 0..10), w in world()) {
        let p = SizingPolicy::new(Contract::Linear, b, &chain).unwrap();
        let x = inputs(&w);
        let d = p.evaluate(&x).unwrap();
        prop_assert!(d.target_qty.is_finite());
        let steps = d.steps();
        prop_assert_eq!(steps.len(), chain.len());
        match d.binding {
            Binding::Base => {
                prop_assert_eq!(d.target_qty, d.base_qty);
                prop_assert!(steps.iter().all(|s| !s.changed()));
            }
            Binding::Constraint { index, kind } => {
                let i = usize::from(index);
                let s = steps[i];
                prop_assert_eq!(s.kind, kind);
                prop_assert_eq!(kind, chain[i].kind());
                prop_assert!(s.changed());
                prop_assert!(steps[i + 1..].iter().all(|t| !t.changed()));
                prop_assert_eq!(s.after, d.target_qty);
                match kind {
                    ConstraintKind::MinTradeSize => prop_assert_eq!(d.target_qty, w.current),
                    ConstraintKind::LotRounding => prop_assert!(d.target_qty.abs() < s.before.abs()),
                    _ => {
                        // On the limit, and the value coming in was outside it.
                        prop_assert!(s.after == s.lo || s.after == s.hi);
                        prop_assert!(s.before < s.lo || s.before > s.hi);
                    }
                }
                // Removing it changes the decision — or, in a tie, another step takes over and
                // produces the same value (an identical step, a limit with the same edge, a
                // later rounding that lands on the same number); never the bare base model.
                let without = p.without(i).evaluate(&x).unwrap();
                prop_assert!(
                    without.target_qty != d.target_qty || without.binding != Binding::Base,
                    "removing step {} ({:?}) left {} unexplained", i, kind, d.target_qty
                );
            }
        }
        if let Binding::Constraint { index, .. } = d.binding_limit {
            let s = steps[usize::from(index)];
            prop_assert!(s.kind.is_limit());
            prop_assert!(s.after == s.lo || s.after == s.hi);
        }
    }

    #[test]
    fn bad_inputs_decline_never_nan(b in base(), chain in prop::collection::vec(constraint(), 0..6), w in world(),
                                    which in 0usize..4, bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(0.0), Just(-1.0)]) {
        let p = SizingPolicy::new(Contract::Linear, b, &chain).unwrap();
        let mut x = inputs(&w);
        match which { 0 => x.capital = bad, 1 => x.mark_px = bad, 2 => x.forecast_vol = bad, _ => x.current_qty = bad * f64::INFINITY }
        if let Ok(d) = p.evaluate(&x) {
            prop_assert!(d.target_qty.is_finite());
        }
    }
}
