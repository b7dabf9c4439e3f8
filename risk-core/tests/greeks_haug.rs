//! Haug, *The Complete Guide to Option Pricing Formulas* (McGraw-Hill 1998), as tabulated in
//! QuantLib's test-suite (`europeanoption.cpp`, `testValues` and `testGreekValues`). Haug prints
//! four decimals; values must agree within QuantLib's tolerance of 1e-4 (one of Haug's entries,
//! the at-the-money call at T = 0.1, σ = 0.15, is 1.8734 where 50-digit arithmetic gives
//! 1.87334457…, so half a unit in the last place would be too tight for the table itself).

use risk_core::greeks::units::{theta_per_day, DAYS_PER_YEAR};
use risk_core::greeks::{greeks, Greeks, LaneStatus, Model, OptionInputs, OptionKind};

use OptionKind::{Call, Put};

fn bsm(kind: OptionKind, k: f64, s: f64, q: f64, r: f64, t: f64, vol: f64) -> Greeks {
    let (g, st) = greeks(&OptionInputs {
        model: Model::Bsm,
        kind,
        underlying: s,
        strike: k,
        t_years: t,
        vol,
        rate: r,
        carry_q: q,
    });
    assert_eq!(st, LaneStatus::Ok);
    g
}

/// type, strike, spot, q, r, t, vol, value.
type HaugRow = (OptionKind, f64, f64, f64, f64, f64, f64, f64);

fn near(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() <= 1e-4, "{what}: {got} vs Haug {want}");
}

#[test]
fn haug_prices() {
    // type, strike, spot, q, r, t, vol, value
    #[rustfmt::skip]
    let rows: &[HaugRow] = &[
        (Call, 65.0, 60.0, 0.00, 0.08, 0.25, 0.30, 2.1334),
        (Put, 95.0, 100.0, 0.05, 0.10, 0.50, 0.20, 2.4648),
        (Put, 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),
        (Call, 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),
        (Call, 1.60, 1.56, 0.08, 0.06, 0.50, 0.12, 0.0291),
        (Put, 70.0, 75.0, 0.05, 0.10, 0.50, 0.35, 4.0870),
        (Call, 100.0, 90.0, 0.10, 0.10, 0.10, 0.15, 0.0205),
        (Call, 100.0, 100.0, 0.10, 0.10, 0.10, 0.15, 1.8734),
        (Call, 100.0, 110.0, 0.10, 0.10, 0.10, 0.15, 9.9413),
        (Call, 100.0, 90.0, 0.10, 0.10, 0.10, 0.25, 0.3150),
        (Call, 100.0, 100.0, 0.10, 0.10, 0.10, 0.25, 3.1217),
        (Call, 100.0, 110.0, 0.10, 0.10, 0.10, 0.25, 10.3556),
        (Call, 100.0, 90.0, 0.10, 0.10, 0.10, 0.35, 0.9474),
        (Call, 100.0, 100.0, 0.10, 0.10, 0.10, 0.35, 4.3693),
        (Call, 100.0, 110.0, 0.10, 0.10, 0.10, 0.35, 11.1381),
        (Call, 100.0, 90.0, 0.10, 0.10, 0.50, 0.15, 0.8069),
        (Call, 100.0, 100.0, 0.10, 0.10, 0.50, 0.15, 4.0232),
        (Call, 100.0, 110.0, 0.10, 0.10, 0.50, 0.15, 10.5769),
        (Call, 100.0, 90.0, 0.10, 0.10, 0.50, 0.25, 2.7026),
        (Call, 100.0, 100.0, 0.10, 0.10, 0.50, 0.25, 6.6997),
        (Call, 100.0, 110.0, 0.10, 0.10, 0.50, 0.25, 12.7857),
        (Call, 100.0, 90.0, 0.10, 0.10, 0.50, 0.35, 4.9329),
        (Call, 100.0, 100.0, 0.10, 0.10, 0.50, 0.35, 9.3679),
        (Call, 100.0, 110.0, 0.10, 0.10, 0.50, 0.35, 15.3086),
        (Put, 100.0, 90.0, 0.10, 0.10, 0.10, 0.15, 9.9210),
        (Put, 100.0, 100.0, 0.10, 0.10, 0.10, 0.15, 1.8734),
        (Put, 100.0, 110.0, 0.10, 0.10, 0.10, 0.15, 0.0408),
        (Put, 100.0, 90.0, 0.10, 0.10, 0.10, 0.25, 10.2155),
        (Put, 100.0, 100.0, 0.10, 0.10, 0.10, 0.25, 3.1217),
        (Put, 100.0, 110.0, 0.10, 0.10, 0.10, 0.25, 0.4551),
        (Put, 100.0, 90.0, 0.10, 0.10, 0.10, 0.35, 10.8479),
        (Put, 100.0, 100.0, 0.10, 0.10, 0.10, 0.35, 4.3693),
        (Put, 100.0, 110.0, 0.10, 0.10, 0.10, 0.35, 1.2376),
        (Put, 100.0, 90.0, 0.10, 0.10, 0.50, 0.15, 10.3192),
        (Put, 100.0, 100.0, 0.10, 0.10, 0.50, 0.15, 4.0232),
        (Put, 100.0, 110.0, 0.10, 0.10, 0.50, 0.15, 1.0646),
        (Put, 100.0, 90.0, 0.10, 0.10, 0.50, 0.25, 12.2149),
        (Put, 100.0, 100.0, 0.10, 0.10, 0.50, 0.25, 6.6997),
        (Put, 100.0, 110.0, 0.10, 0.10, 0.50, 0.25, 3.2734),
        (Put, 100.0, 90.0, 0.10, 0.10, 0.50, 0.35, 14.4452),
        (Put, 100.0, 100.0, 0.10, 0.10, 0.50, 0.35, 9.3679),
        (Put, 100.0, 110.0, 0.10, 0.10, 0.50, 0.35, 5.7963),
        (Call, 40.0, 42.0, 0.08, 0.04, 0.75, 0.35, 5.0975),
    ];
    for &(kind, k, s, q, r, t, vol, want) in rows {
        near(
            &format!("{kind:?} K={k} S={s} T={t} σ={vol}"),
            bsm(kind, k, s, q, r, t, vol).price,
            want,
        );
    }
}

#[test]
fn haug_black76_futures_option() {
    // Haug p. 4: futures option F = 19, K = 19, T = 0.75, r = 0.10, σ = 0.28 → 1.7011 both ways.
    for kind in [Call, Put] {
        let (g, st) = greeks(&OptionInputs {
            model: Model::Black76,
            kind,
            underlying: 19.0,
            strike: 19.0,
            t_years: 0.75,
            vol: 0.28,
            rate: 0.10,
            carry_q: f64::NAN, // ignored by Black-76
        });
        assert_eq!(st, LaneStatus::Ok);
        near("black76", g.price, 1.7011);
    }
}

#[test]
fn haug_greeks() {
    let g = bsm(Call, 100.0, 105.0, 0.10, 0.10, 0.5, 0.36);
    near("call delta", g.delta, 0.5946);
    let g = bsm(Put, 100.0, 105.0, 0.10, 0.10, 0.5, 0.36);
    near("put delta", g.delta, -0.3566);
    // Elasticity Δ·S/V.
    near("put elasticity", g.delta * 105.0 / g.price, -4.8775);
    for kind in [Call, Put] {
        let g = bsm(kind, 60.0, 55.0, 0.0, 0.10, 0.75, 0.30);
        near("gamma", g.gamma, 0.0278);
        near("vega", g.vega, 18.9358);
    }
    let g = bsm(Put, 405.0, 430.0, 0.05, 0.07, 1.0 / 12.0, 0.20);
    near("put theta per year", g.theta, -31.1924);
    near(
        "put theta per day",
        theta_per_day(g.theta, DAYS_PER_YEAR),
        -0.0855,
    );
    let g = bsm(Call, 75.0, 72.0, 0.0, 0.09, 1.0, 0.19);
    near("call rho", g.rho, 38.7325);
}
