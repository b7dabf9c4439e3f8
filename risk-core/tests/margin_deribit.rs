//! Deribit's standard margin against hand-computed values: futures initial and maintenance margin
//! across the size slope, short-option margin, the liquidation prices of an inverse perpetual
//! (closed form against a bisection of the raw equity and margin), and the largest safe size as a
//! policy step.

use proptest::prelude::*;
use risk_core::greeks::OptionKind;
use risk_core::margin::deribit::{
    max_safe_face, DeribitFuture, DeribitRates, DeribitSizeBound, LiquidationBand,
};
use risk_core::margin::{Contract, SafeSizeSpec, Side};
use risk_core::policy::{
    BaseModel, Binding, Constraint, ConstraintKind, SizingInputs, SizingPolicy,
};

const BTC: DeribitRates = DeribitRates::BTC;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn futures_margin_grows_linearly_with_the_size_in_coin() {
    // 1.5 M USD of BTC-PERPETUAL at 60 000 is 25 BTC: IM 2 % + 25 × 0.005 % = 2.125 % of 25 BTC
    // = 0.53125 BTC; MM 1.125 % = 0.28125 BTC. At 48 000 the same face is 31.25 BTC: MM
    // (1 % + 0.15625 %) × 31.25 = 0.361328125 BTC.
    let f = DeribitFuture {
        side: Side::Long,
        face_usd: 1_500_000.0,
        entry_px: 60_000.0,
    };
    assert!(close(f.initial_margin(&BTC, 60_000.0), 0.531_25, 1e-12));
    assert!(close(f.maintenance_margin(&BTC, 60_000.0), 0.281_25, 1e-12));
    assert!(close(
        f.maintenance_margin(&BTC, 48_000.0),
        0.361_328_125,
        1e-12
    ));
    // 350 BTC: IM 3.75 % → 13.125 BTC, MM 2.75 % → 9.625 BTC (Deribit's own example sizes).
    assert!(close(BTC.future_initial_margin(350.0), 13.125, 1e-12));
    assert!(close(BTC.future_maintenance_margin(350.0), 9.625, 1e-12));
    // ETH: 2 % + 1000 × 0.0004 % = 2.4 % of 1000 ETH = 24 ETH; MM 1.4 % = 14 ETH.
    let eth = DeribitRates::ETH;
    assert!(close(eth.future_initial_margin(1000.0), 24.0, 1e-12));
    assert!(close(eth.future_maintenance_margin(-1000.0), 14.0, 1e-12));
    // PnL of the long in coin: 1.5 M × (1/60 000 − 1/50 000) = −5 BTC.
    assert!(close(f.unrealized_pnl(50_000.0), -5.0, 1e-12));
}

#[test]
fn short_option_margin_follows_the_published_formulas() {
    // Short call, mark 0.05 BTC: MM 0.075 + 0.05 = 0.125; 10 % out of the money at U = 60 000,
    // K = 66 000: IM max(0.15 − 0.1, 0.1) + 0.05 = 0.15; 3.33 % out: 0.15 − 0.0333… + 0.05.
    assert!(close(
        BTC.short_option_maintenance(OptionKind::Call, 0.05),
        0.125,
        1e-15
    ));
    assert!(close(
        BTC.short_option_initial(OptionKind::Call, 0.05, 66_000.0, 60_000.0),
        0.15,
        1e-15
    ));
    assert!(close(
        BTC.short_option_initial(OptionKind::Call, 0.05, 62_000.0, 60_000.0),
        0.15 - 2_000.0 / 60_000.0 + 0.05,
        1e-15
    ));
    // In the money: no reduction.
    assert!(close(
        BTC.short_option_initial(OptionKind::Call, 0.2, 50_000.0, 60_000.0),
        0.35,
        1e-15
    ));
    // Short put, mark 0.02: MM max(0.075, 0.0015) + 0.02 = 0.095; deep in the money, mark 1.5:
    // max(0.075, 0.1125) + 1.5 = 1.6125. IM of the 20 % out-of-the-money put at mark 0.02:
    // max(max(0.15 − 0.2, 0.1) + 0.02, 0.095) = 0.12.
    assert!(close(
        BTC.short_option_maintenance(OptionKind::Put, 0.02),
        0.095,
        1e-15
    ));
    assert!(close(
        BTC.short_option_maintenance(OptionKind::Put, 1.5),
        1.6125,
        1e-15
    ));
    assert!(close(
        BTC.short_option_initial(OptionKind::Put, 0.02, 48_000.0, 60_000.0),
        0.12,
        1e-15
    ));
    // Quantities: written −3 calls at mark 0.05 → (0.45, 0.375); longs carry nothing.
    let (im, mm) = BTC.option_margins(OptionKind::Call, -3.0, 0.05, 66_000.0, 60_000.0);
    assert!(close(im, 0.45, 1e-15) && close(mm, 0.375, 1e-15));
    assert_eq!(
        BTC.option_margins(OptionKind::Put, 4.0, 0.05, 66_000.0, 60_000.0),
        (0.0, 0.0)
    );
}

/// Equity minus maintenance of one future at `px`, from the raw definitions.
fn raw_gap(f: &DeribitFuture, collateral: f64, px: f64) -> f64 {
    let sign = if f.side == Side::Long { 1.0 } else { -1.0 };
    let pnl = sign * f.face_usd * (1.0 / f.entry_px - 1.0 / px);
    let size = f.face_usd / px;
    collateral + pnl - size * (0.01 + 0.000_05 * size)
}

/// The root of `raw_gap` between `lo` and `hi` (a sign change), by bisection.
fn bisect(f: &DeribitFuture, c: f64, mut lo: f64, mut hi: f64) -> f64 {
    let sign_lo = raw_gap(f, c, lo) > 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if (raw_gap(f, c, mid) > 0.0) == sign_lo {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn perpetual_liquidation_prices_match_an_independent_bisection() {
    // 10 BTC long (600 000 USD at 60 000) on 1 BTC of collateral. By hand: with u = 1/P,
    // 1 + 10 − 600 000 u = 600 000 u (0.01 + 0.00005 · 600 000 u), so
    // 1.8e7 u² + 606 000 u − 11 = 0 → u = 1.814 20e-5, P ≈ 55 120.
    let long = DeribitFuture {
        side: Side::Long,
        face_usd: 600_000.0,
        entry_px: 60_000.0,
    };
    let band = long.liquidation_band(&BTC, 1.0).unwrap();
    assert_eq!(band.above, f64::INFINITY);
    assert!((band.below - 55_120.0).abs() < 1.0, "{}", band.below);
    let b = bisect(&long, 1.0, 1_000.0, 60_000.0);
    assert!(close(band.below, b, 1e-10), "{} vs {b}", band.below);

    // The same size short on 1 BTC: liquidated on a rise, and — the margin growing with the size
    // in coin — on a deep fall.
    let short = DeribitFuture {
        side: Side::Short,
        ..long
    };
    let band = short.liquidation_band(&BTC, 1.0).unwrap();
    let up = bisect(&short, 1.0, 60_000.0, 1e6);
    let down = bisect(&short, 1.0, 1.0, 60_000.0);
    assert!(close(band.above, up, 1e-10), "{} vs {up}", band.above);
    assert!(close(band.below, down, 1e-10), "{} vs {down}", band.below);
    assert!(band.above > 60_000.0 && band.above < 66_000.0);
    assert!(band.below < 1_000.0);
    assert!(close(
        band.distance_from(60_000.0),
        (band.above - 60_000.0) / 60_000.0,
        1e-12
    ));

    // A short covered by its own coin (collateral ≥ face / entry) has no liquidation above.
    let covered = short.liquidation_band(&BTC, 10.5).unwrap();
    assert_eq!(covered.above, f64::INFINITY);
    // No safe price at all: None, not NaN.
    let broke = DeribitFuture {
        side: Side::Long,
        ..long
    };
    assert_eq!(broke.liquidation_band(&BTC, -20.0), None);
    assert_eq!(
        DeribitFuture {
            face_usd: f64::NAN,
            ..long
        }
        .liquidation_band(&BTC, 1.0),
        None
    );
    // Without the slope the band is Binance's flat-rate inverse formula.
    let flat = DeribitRates {
        slope_per_coin: 0.0,
        ..BTC
    };
    let LiquidationBand { below, .. } = long.liquidation_band(&flat, 1.0).unwrap();
    assert!(close(below, 600_000.0 * 1.01 / (1.0 + 10.0), 1e-12));
}

fn spec(side: Side, collateral: f64, k: f64, ratio: f64) -> SafeSizeSpec {
    SafeSizeSpec {
        contract: Contract::Inverse,
        side,
        mark_px: 60_000.0,
        collateral,
        sigma: 0.6,
        horizon: 1.0 / 365.0,
        k,
        max_margin_ratio: ratio,
    }
}

#[test]
fn each_limit_of_the_safe_size_binds_and_a_linear_contract_is_refused() {
    // Wide buffer: the buffer binds; no buffer and a low ratio: the margin ratio; no buffer and
    // ratio 1: the initial margin (2 % > 1 %).
    let s = max_safe_face(&spec(Side::Long, 1.0, 4.0, 1.0), &BTC).unwrap();
    assert_eq!(s.bound, DeribitSizeBound::LiquidationBuffer);
    let s = max_safe_face(&spec(Side::Long, 1.0, 0.0, 0.2), &BTC).unwrap();
    assert_eq!(s.bound, DeribitSizeBound::MarginRatio);
    // MM at the mark = 0.2 BTC: n (0.01 + 0.00005 n) = 0.2 → n = 17.7… BTC.
    let n = s.face_usd / 60_000.0;
    assert!(close(BTC.future_maintenance_margin(n), 0.2, 1e-12));
    let s = max_safe_face(&spec(Side::Short, 1.0, 0.0, 1.0), &BTC).unwrap();
    assert_eq!(s.bound, DeribitSizeBound::InitialMargin);
    assert!(close(
        BTC.future_initial_margin(s.face_usd / 60_000.0),
        1.0,
        1e-12
    ));
    let mut lin = spec(Side::Long, 1.0, 4.0, 1.0);
    lin.contract = Contract::Linear;
    assert!(max_safe_face(&lin, &BTC).is_err());
    assert!(max_safe_face(&spec(Side::Long, 0.0, 4.0, 1.0), &BTC).is_err());
}

#[test]
fn the_policy_step_clamps_to_the_safe_face_and_is_reported_as_the_buffer() {
    let c = Constraint::DeribitMargin {
        rates: BTC,
        k: 4.0,
        horizon_years: 1.0 / 365.0,
        max_margin_ratio: 0.5,
    };
    let p = SizingPolicy::new(
        Contract::Inverse,
        BaseModel::Fixed { qty: 5_000_000.0 },
        &[c],
    )
    .unwrap();
    let x = SizingInputs {
        capital: 1e6,
        collateral: 1.0,
        mark_px: 60_000.0,
        forecast_vol: 0.6,
        ..SizingInputs::default()
    };
    let d = p.evaluate(&x).unwrap();
    let want = max_safe_face(&spec(Side::Long, 1.0, 4.0, 0.5), &BTC)
        .unwrap()
        .face_usd;
    assert!(
        close(d.target_qty, want, 1e-12),
        "{} vs {want}",
        d.target_qty
    );
    assert!(matches!(
        d.binding,
        Binding::Constraint {
            kind: ConstraintKind::LiquidationBuffer,
            ..
        }
    ));
    // Deribit's margin is for inverse futures only.
    assert!(SizingPolicy::new(Contract::Linear, BaseModel::Fixed { qty: 1.0 }, &[c]).is_err());
    // Bad collateral declines to size (no NaN).
    let broke = SizingInputs {
        collateral: f64::NAN,
        ..x
    };
    assert!(p.evaluate(&broke).is_err());
}

proptest! {
    /// At the safe size the account survives the whole buffer band (both ends) and stays within
    /// its ratio and initial margin; 0.1 % more breaks the limit that bound it.
    #[test]
    fn the_safe_face_is_the_largest_that_holds(
        long in any::<bool>(),
        collateral in 0.01_f64..50.0,
        k in 0.0_f64..6.0,
        ratio in 0.05_f64..1.0,
        eth in any::<bool>(),
    ) {
        let rates = if eth { DeribitRates::ETH } else { BTC };
        let side = if long { Side::Long } else { Side::Short };
        let sp = spec(side, collateral, k, ratio);
        let s = max_safe_face(&sp, &rates).unwrap();
        prop_assert!(s.face_usd.is_finite() && s.face_usd > 0.0);
        let d = sp.buffer_frac();
        let gap = |face: f64, px: f64| {
            let f = DeribitFuture { side, face_usd: face, entry_px: 60_000.0 };
            collateral + f.unrealized_pnl(px) - f.maintenance_margin(&rates, px)
        };
        let ok = |face: f64| {
            let n = face / 60_000.0;
            let lo_ok = d >= 1.0 || gap(face, 60_000.0 * (1.0 - d)) >= -1e-9 * collateral;
            let buffer = lo_ok && gap(face, 60_000.0 * (1.0 + d)) >= -1e-9 * collateral;
            (
                buffer,
                rates.future_maintenance_margin(n) <= ratio * collateral * (1.0 + 1e-9),
                rates.future_initial_margin(n) <= collateral * (1.0 + 1e-9),
            )
        };
        let (b, r, i) = ok(s.face_usd);
        prop_assert!(b && r && i, "{s:?}");
        let (b, r, i) = ok(s.face_usd * 1.001);
        match s.bound {
            DeribitSizeBound::LiquidationBuffer => prop_assert!(!b),
            DeribitSizeBound::MarginRatio => prop_assert!(!r),
            DeribitSizeBound::InitialMargin => prop_assert!(!i),
        }
    }
}
