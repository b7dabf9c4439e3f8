//! Property tests of `risk_core::greeks`: SIMD equals the scalar twin bit for bit (seeded random
//! batches and edge cases), put-call parity, every Greek equals a high-order finite difference of
//! the price, IV(price(σ)) = σ, and no input makes anything panic.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use risk_core::greeks::{
    erfc, erfc_x4, greeks, greeks_batch, greeks_batch_scalar, implied_vol, implied_vol_batch,
    implied_vol_batch_scalar, norm_cdf, norm_cdf_x4, BatchInputs, BatchOutputs, Greeks,
    GreeksError, IvInputs, IvOption, LaneStatus, Model, OptionInputs, OptionKind, Tier,
};
use wide::f64x4;

const SPECIAL: [f64; 14] = [
    0.0,
    -0.0,
    1e-300,
    5e-324,
    -1.0,
    1e300,
    f64::MAX,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e-12,
    0.5,
    1.0,
    100.0,
];

struct Batch {
    s: Vec<f64>,
    k: Vec<f64>,
    t: Vec<f64>,
    vol: Vec<f64>,
    r: Vec<f64>,
    q: Vec<f64>,
    call: Vec<bool>,
}

impl Batch {
    fn inputs(&self, model: Model) -> BatchInputs<'_> {
        BatchInputs {
            model,
            underlying: &self.s,
            strike: &self.k,
            t_years: &self.t,
            vol: &self.vol,
            rate: &self.r,
            carry_q: &self.q,
            is_call: &self.call,
        }
    }
}

/// A seeded batch: mostly ordinary options over wide moneyness and σ√T, with special values
/// sprinkled into every input.
/// `n` random options: strikes up to `z_max` standard deviations from the spot, one input in 20
/// replaced by a special value when `specials`.
fn random_batch(seed: u64, n: usize) -> Batch {
    random_batch_in(seed, n, 12.0, true, (-9.0, 3.0), (-7.0, 2.0))
}

/// As [`random_batch`] with maturities e^U(ln_t) and volatilities e^U(ln_vol).
fn random_batch_in(
    seed: u64,
    n: usize,
    z_max: f64,
    specials: bool,
    ln_t: (f64, f64),
    ln_vol: (f64, f64),
) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut b = Batch {
        s: vec![],
        k: vec![],
        t: vec![],
        vol: vec![],
        r: vec![],
        q: vec![],
        call: vec![],
    };
    for _ in 0..n {
        let s = 100.0 * (rng.gen_range(-4.0..4.0f64)).exp();
        let t = (rng.gen_range(ln_t.0..ln_t.1)).exp();
        let vol = (rng.gen_range(ln_vol.0..ln_vol.1)).exp();
        let z = rng.gen_range(-z_max..z_max);
        let k = s * (z * vol * t.sqrt()).exp();
        let mut v = [
            s,
            k,
            t,
            vol,
            rng.gen_range(-0.05..0.2),
            rng.gen_range(-0.05..0.1),
        ];
        if specials && rng.gen_bool(0.05) {
            let i = rng.gen_range(0..6);
            v[i] = SPECIAL[rng.gen_range(0..SPECIAL.len())];
        }
        b.s.push(v[0]);
        b.k.push(v[1]);
        b.t.push(v[2]);
        b.vol.push(v[3]);
        b.r.push(v[4]);
        b.q.push(v[5]);
        b.call.push(rng.gen_bool(0.5));
    }
    b
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn run(
    f: fn(&BatchInputs, Tier, &mut BatchOutputs) -> Result<(), GreeksError>,
    inp: &BatchInputs,
    tier: Tier,
) -> (Vec<Vec<f64>>, Vec<LaneStatus>) {
    let n = inp.strike.len();
    let mut o = vec![vec![0.0; n]; 8];
    let mut st = vec![LaneStatus::Ok; n];
    {
        let [p, d, g, v, th, rh, va, vo] = &mut o[..] else {
            unreachable!()
        };
        let mut out = BatchOutputs {
            price: p,
            delta: d,
            gamma: g,
            vega: v,
            theta: th,
            rho: rh,
            vanna: va,
            volga: vo,
            status: &mut st,
        };
        f(inp, tier, &mut out).expect("shapes");
    }
    (o, st)
}

#[test]
fn simd_equals_scalar_bit_for_bit() {
    for seed in 0..12 {
        // Lengths 16m + 3, 7, 11, 15: blocks of 16, then of 12, 8 and/or 4, and the scalar tail.
        // Seeds 0–5: wide strikes and special values (most blocks mix regions or fall back to the
        // scalar path); 6–8: strikes within ±3σ, whole blocks on the central fast path, some
        // with rates × maturities beyond the unreduced discount exp; 9–11: ±6σ, blocks that
        // mix central and outer lanes.
        let n = 4099 + 4 * (seed as usize % 4);
        let b = match seed {
            0..=5 => random_batch(seed, n),
            // T from a day to 3 years, σ from 5 % to 150 %.
            6..=8 => random_batch_in(seed, n, 3.0, false, (-5.9, 1.1), (-3.0, 0.4)),
            _ => random_batch_in(seed, n, 6.0, false, (-5.9, 1.1), (-3.0, 0.4)),
        };
        for model in [Model::Bsm, Model::Black76] {
            for tier in [Tier::Price, Tier::PriceAnd4, Tier::All] {
                let inp = b.inputs(model);
                let (ov, sv) = run(greeks_batch, &inp, tier);
                let (os, ss) = run(greeks_batch_scalar, &inp, tier);
                assert_eq!(sv, ss);
                for (i, (a, c)) in ov.iter().zip(&os).enumerate() {
                    for j in 0..a.len() {
                        assert!(
                            same_bits(a[j], c[j]),
                            "{model:?} {tier:?} output {i} lane {j}: {} vs {}",
                            a[j],
                            c[j]
                        );
                    }
                }
                // And the single-option API agrees with both.
                if tier == Tier::All {
                    for j in (0..b.s.len()).step_by(37) {
                        let (g, st) = greeks(&OptionInputs {
                            model,
                            kind: if b.call[j] {
                                OptionKind::Call
                            } else {
                                OptionKind::Put
                            },
                            underlying: b.s[j],
                            strike: b.k[j],
                            t_years: b.t[j],
                            vol: b.vol[j],
                            rate: b.r[j],
                            carry_q: b.q[j],
                        });
                        assert_eq!(st, sv[j]);
                        assert!(same_bits(g.price, ov[0][j]) && same_bits(g.volga, ov[7][j]));
                    }
                }
            }
        }
    }
}

#[test]
fn normal_cdf_and_erfc_vector_equals_scalar() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut xs: Vec<f64> = (0..40_000).map(|_| rng.gen_range(-45.0..45.0)).collect();
    xs.extend_from_slice(&SPECIAL);
    xs.extend_from_slice(&[
        -0.0,
        0.46875 * std::f64::consts::SQRT_2,
        4.0 * std::f64::consts::SQRT_2,
        0.46875,
        4.0,
        -38.5,
        27.0,
    ]);
    while xs.len() % 4 != 0 {
        xs.push(1.0);
    }
    for c in xs.chunks(4) {
        let v = f64x4::new([c[0], c[1], c[2], c[3]]);
        let (n4, e4) = (norm_cdf_x4(v).to_array(), erfc_x4(v).to_array());
        for i in 0..4 {
            assert!(same_bits(n4[i], norm_cdf(c[i])), "Φ({})", c[i]);
            assert!(same_bits(e4[i], erfc(c[i])), "erfc({})", c[i]);
        }
    }
    // Limits and symmetry.
    assert_eq!(norm_cdf(f64::NEG_INFINITY), 0.0);
    assert_eq!(norm_cdf(f64::INFINITY), 1.0);
    assert!(norm_cdf(f64::NAN).is_nan() && erfc(f64::NAN).is_nan());
    assert_eq!(erfc(f64::INFINITY), 0.0);
    assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
    assert_eq!(norm_cdf(0.0), 0.5);
}

#[test]
fn edge_cases_have_defined_results() {
    let base = OptionInputs {
        model: Model::Bsm,
        kind: OptionKind::Call,
        underlying: 100.0,
        strike: 90.0,
        t_years: 0.5,
        vol: 0.2,
        rate: 0.03,
        carry_q: 0.01,
    };
    let with = |f: &dyn Fn(&mut OptionInputs)| {
        let mut o = base;
        f(&mut o);
        greeks(&o)
    };
    let all_nan = |g: &Greeks| {
        [
            g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga,
        ]
        .iter()
        .all(|x| x.is_nan())
    };
    for (bad, status) in [
        (
            with(&|o| o.underlying = f64::NAN),
            LaneStatus::BadUnderlying,
        ),
        (with(&|o| o.underlying = -1.0), LaneStatus::BadUnderlying),
        (with(&|o| o.underlying = 0.0), LaneStatus::BadUnderlying),
        (with(&|o| o.strike = f64::INFINITY), LaneStatus::BadStrike),
        (with(&|o| o.t_years = -1e-9), LaneStatus::BadTime),
        (with(&|o| o.t_years = f64::NAN), LaneStatus::BadTime),
        (with(&|o| o.vol = -0.1), LaneStatus::BadVol),
        (with(&|o| o.vol = f64::INFINITY), LaneStatus::BadVol),
        (with(&|o| o.rate = f64::NAN), LaneStatus::BadRate),
        (
            with(&|o| o.carry_q = f64::NEG_INFINITY),
            LaneStatus::BadRate,
        ),
    ] {
        assert_eq!(bad.1, status);
        assert!(all_nan(&bad.0), "{status:?}: {:?}", bad.0);
    }
    // T = 0: intrinsic value, delta a step, no diffusion Greeks.
    let (g, st) = with(&|o| o.t_years = 0.0);
    assert_eq!(st, LaneStatus::Intrinsic);
    assert_eq!(
        (g.price, g.delta, g.gamma, g.vega, g.vanna, g.volga),
        (10.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    );
    let (g, _) = with(&|o| {
        o.t_years = 0.0;
        o.kind = OptionKind::Put;
    });
    assert_eq!((g.price, g.delta), (0.0, 0.0));
    // σ = 0 with T > 0: discounted forward intrinsic.
    let (g, st) = with(&|o| o.vol = 0.0);
    assert_eq!(st, LaneStatus::Intrinsic);
    let fwd_intr = 100.0 * (-0.01f64 * 0.5).exp() - 90.0 * (-0.03f64 * 0.5).exp();
    assert!((g.price - fwd_intr).abs() < 1e-12);
    // At the money at expiry: price 0, delta ½, the rest undefined.
    let (g, st) = with(&|o| {
        o.t_years = 0.0;
        o.strike = 100.0;
    });
    assert_eq!(st, LaneStatus::Intrinsic);
    assert_eq!((g.price, g.delta), (0.0, 0.5));
    assert!(g.gamma.is_nan());
    // Shapes are checked before anything is written.
    let b = random_batch(1, 8);
    let mut short = vec![0.0; 7];
    let mut d = vec![0.0; 8];
    let mut st = vec![LaneStatus::Ok; 8];
    let e = greeks_batch(
        &b.inputs(Model::Bsm),
        Tier::Price,
        &mut BatchOutputs {
            price: &mut short,
            delta: &mut [],
            gamma: &mut [],
            vega: &mut [],
            theta: &mut [],
            rho: &mut [],
            vanna: &mut [],
            volga: &mut [],
            status: &mut st,
        },
    );
    assert_eq!(
        e,
        Err(GreeksError::LengthMismatch {
            field: "price",
            got: 7,
            expected: 8
        })
    );
    let e = greeks_batch(
        &b.inputs(Model::Bsm),
        Tier::PriceAnd4,
        &mut BatchOutputs {
            price: &mut d,
            delta: &mut [],
            gamma: &mut [],
            vega: &mut [],
            theta: &mut [],
            rho: &mut [],
            vanna: &mut [],
            volga: &mut [],
            status: &mut st,
        },
    );
    assert!(matches!(
        e,
        Err(GreeksError::LengthMismatch { field: "delta", .. })
    ));
}

#[test]
fn discounted_legs_out_of_range_are_refused_and_large_rates_still_served() {
    let put = |s: f64, k: f64, t: f64, r: f64| OptionInputs {
        model: Model::Bsm,
        kind: OptionKind::Put,
        underlying: s,
        strike: k,
        t_years: t,
        vol: 0.2,
        rate: r,
        carry_q: 0.0,
    };
    // |rT| = 622 ≤ 700, but K·e^{−rT} = 3.9e79·e^{622} overflows: OutOfRange, not NaN with Ok.
    let far = put(4.55e-25, 3.87e79, 8.02e146, -7.76e-145);
    assert_eq!(greeks(&far).1, LaneStatus::OutOfRange);
    let (v, st) = implied_vol_of(&far, 6.3e-292);
    assert!(v.is_nan() && st == LaneStatus::OutOfRange, "{v} {st:?}");
    // |rT| = 200 with legs in range (K·e^{−200} ≈ 1.4e-85): served, the batch (vector blocks
    // send such lanes to the scalar path) bit for bit as the single-option call.
    let big = put(100.0, 100.0, 200.0, 1.0);
    let (g, st) = greeks(&big);
    assert_eq!(st, LaneStatus::Ok);
    assert!(g.price.is_finite() && g.price >= 0.0);
    let n = 21;
    let b = Batch {
        s: vec![100.0; n],
        k: vec![100.0; n],
        t: vec![200.0; n],
        vol: vec![0.2; n],
        r: vec![1.0; n],
        q: vec![0.0; n],
        call: vec![false; n],
    };
    let (o, st) = run(greeks_batch, &b.inputs(Model::Bsm), Tier::All);
    assert!(st.iter().all(|s| *s == LaneStatus::Ok));
    assert!(o[0].iter().all(|p| same_bits(*p, g.price)));
    assert!(o[7].iter().all(|x| same_bits(*x, g.volga)));
}

#[test]
fn implied_vol_bounds_and_edge_cases() {
    let o = IvOption {
        model: Model::Bsm,
        kind: OptionKind::Call,
        underlying: 100.0,
        strike: 90.0,
        t_years: 0.5,
        rate: 0.03,
        carry_q: 0.01,
        price: 12.0,
    };
    let iv = |f: &dyn Fn(&mut IvOption)| {
        let mut x = o;
        f(&mut x);
        implied_vol(&x)
    };
    let (v, st) = iv(&|_| {});
    assert_eq!(st, LaneStatus::Ok);
    assert!(v > 0.0 && v < 1.0);
    let fwd_intr = 100.0 * (-0.01f64 * 0.5).exp() - 90.0 * (-0.03f64 * 0.5).exp();
    for (f, want) in [
        (
            iv(&|x| x.price = fwd_intr - 1e-9),
            LaneStatus::BelowIntrinsic,
        ),
        (iv(&|x| x.price = 100.0), LaneStatus::AboveMaximum),
        (iv(&|x| x.price = 1e6), LaneStatus::AboveMaximum),
        (iv(&|x| x.price = -1.0), LaneStatus::BadPrice),
        (iv(&|x| x.price = f64::NAN), LaneStatus::BadPrice),
        (iv(&|x| x.t_years = 0.0), LaneStatus::BadTime),
        (iv(&|x| x.strike = -5.0), LaneStatus::BadStrike),
        (
            iv(&|x| x.underlying = f64::INFINITY),
            LaneStatus::BadUnderlying,
        ),
        (iv(&|x| x.rate = f64::NAN), LaneStatus::BadRate),
        (
            iv(&|x| {
                x.kind = OptionKind::Put;
                x.price = 0.0
            }),
            LaneStatus::Intrinsic,
        ),
    ] {
        assert_eq!(f.1, want);
        if want == LaneStatus::Intrinsic {
            assert_eq!(f.0, 0.0);
        } else {
            assert!(f.0.is_nan());
        }
    }
}

/// Price as a function of the perturbed inputs.
/// The implied volatility of `o`'s contract at `price`.
fn implied_vol_of(o: &OptionInputs, price: f64) -> (f64, LaneStatus) {
    implied_vol(&IvOption {
        model: o.model,
        kind: o.kind,
        underlying: o.underlying,
        strike: o.strike,
        t_years: o.t_years,
        rate: o.rate,
        carry_q: o.carry_q,
        price,
    })
}

/// The discounted legs (a, b) = (S·e^{−qT}, K·e^{−rT}) of `o` (Black-76: q = r), by std's `exp`.
fn legs(o: &OptionInputs) -> (f64, f64) {
    let q = if o.model == Model::Black76 {
        o.rate
    } else {
        o.carry_q
    };
    (
        o.underlying * (-q * o.t_years).exp(),
        o.strike * (-o.rate * o.t_years).exp(),
    )
}

fn price(o: &OptionInputs) -> f64 {
    greeks(o).0.price
}

/// 8th-order central first derivative of f at x with step h.
fn d1(f: &dyn Fn(f64) -> f64, x: f64, h: f64) -> f64 {
    let c = [4.0 / 5.0, -1.0 / 5.0, 4.0 / 105.0, -1.0 / 280.0];
    (1..=4)
        .map(|i| c[i - 1] * (f(x + i as f64 * h) - f(x - i as f64 * h)))
        .sum::<f64>()
        / h
}

/// 8th-order central second derivative.
fn d2(f: &dyn Fn(f64) -> f64, x: f64, h: f64) -> f64 {
    let c = [8.0 / 5.0, -1.0 / 5.0, 8.0 / 315.0, -1.0 / 560.0];
    let c0 = -205.0 / 72.0;
    (c0 * f(x)
        + (1..=4)
            .map(|i| c[i - 1] * (f(x + i as f64 * h) + f(x - i as f64 * h)))
            .sum::<f64>())
        / (h * h)
}

fn opt() -> impl Strategy<Value = OptionInputs> {
    (
        prop::bool::ANY,
        prop::bool::ANY,
        -2.0..2.0f64, // ln S/100
        -2.5..2.5f64, // moneyness in σ√T
        -4.0..1.0f64, // ln T
        0.05..2.0f64, // σ√T
        -0.02..0.1f64,
        -0.02..0.06f64,
    )
        .prop_map(|(b76, call, ls, z, lt, v, r, q)| {
            let s = 100.0 * ls.exp();
            let t = lt.exp();
            let vol = v / t.sqrt();
            OptionInputs {
                model: if b76 { Model::Black76 } else { Model::Bsm },
                kind: if call {
                    OptionKind::Call
                } else {
                    OptionKind::Put
                },
                underlying: s,
                strike: s * (z * v).exp(),
                t_years: t,
                vol,
                rate: r,
                carry_q: q,
            }
        })
}

fn close(what: &str, got: f64, fd: f64, rel: f64, abs: f64) -> Result<(), TestCaseError> {
    prop_assert!(
        (got - fd).abs() <= rel * got.abs().max(fd.abs()) + abs,
        "{}: analytic {} vs finite difference {}",
        what,
        got,
        fd
    );
    Ok(())
}

proptest! {
    #![proptest_config(testkit::prop::config(300, "proptest-regressions/greeks_props.txt"))]

    #[test]
    fn greeks_equal_finite_differences_of_the_price(o in opt()) {
        let (g, st) = greeks(&o);
        prop_assert_eq!(st, LaneStatus::Ok);
        let s = o.underlying;
        let at_s = |x: f64| price(&OptionInputs { underlying: x, ..o });
        let at_vol = |x: f64| price(&OptionInputs { vol: x, ..o });
        let at_t = |x: f64| price(&OptionInputs { t_years: x, ..o });
        let at_r = |x: f64| price(&OptionInputs { rate: x, ..o });
        let hs = s * 1e-3;
        let hv = o.vol * 1e-3;
        let ht = o.t_years * 1e-3;
        // A second difference divides the price's own rounding (a few ulps, summed over the
        // stencil's weights) by h²: that noise is part of the tolerance, or a correct Greek fails.
        let noise = |h: f64| 64.0 * f64::EPSILON * g.price.abs().max(1e-300) / (h * h);
        close("delta", g.delta, d1(&at_s, s, hs), 1e-8, 1e-11)?;
        close("gamma", g.gamma, d2(&at_s, s, hs), 1e-5, 1e-9 / s + noise(hs))?;
        close("vega", g.vega, d1(&at_vol, o.vol, hv), 1e-8, 1e-11 * s)?;
        close("theta", g.theta, -d1(&at_t, o.t_years, ht), 1e-7, 1e-10 * s)?;
        // Black-76 rho holds F fixed, so the finite difference in r at fixed F is the right one.
        close("rho", g.rho, d1(&at_r, o.rate, 1e-4), 1e-8, 1e-11 * s)?;
        let delta_at_vol = |x: f64| greeks(&OptionInputs { vol: x, ..o }).0.delta;
        let vanna_fd = d1(&|x| d1(&|y| price(&OptionInputs { underlying: y, vol: x, ..o }), s, hs), o.vol, hv);
        close("vanna", g.vanna, vanna_fd, 1e-5, 1e-8)?;
        close("vanna via delta", g.vanna, d1(&delta_at_vol, o.vol, hv), 1e-8, 1e-11)?;
        let vega_at_vol = |x: f64| greeks(&OptionInputs { vol: x, ..o }).0.vega;
        // The second difference in σ with a wider step: its truncation error is still far below
        // the tolerance (8th order in h/σ), while the price's rounding over h² is 10⁴× smaller. At
        // h = 1e-3 σ that rounding, a few ulps of the larger of the two terms a·Φ, b·Φ (not of
        // the price they cancel to), exceeded the tolerance near the forward's money (saved case).
        let hv2 = o.vol * 1e-2;
        close("volga", g.volga, d2(&at_vol, o.vol, hv2), 1e-5, 1e-9 * s + noise(hv2))?;
        close("volga via vega", g.volga, d1(&vega_at_vol, o.vol, hv), 1e-8, 1e-11 * s)?;
    }

    #[test]
    fn put_call_parity(o in opt()) {
        let c = greeks(&OptionInputs { kind: OptionKind::Call, ..o }).0;
        let p = greeks(&OptionInputs { kind: OptionKind::Put, ..o }).0;
        let (a, b) = legs(&o);
        let scale = a.max(b);
        prop_assert!((c.price - p.price - (a - b)).abs() <= 4e-15 * scale, "{} {} {}", c.price, p.price, a - b);
        // A few ulps of e^{−qT}: the kernel's (within 1 ulp of std's), the test's own a/S (two
        // roundings) and the two products. Was 4e-16 absolute, which e^{−qT} > 1 (q < 0) exceeds
        // at 2 ulps (saved case; 2.00 ulps the worst of 2 M random cases).
        let dq = a / o.underlying;
        prop_assert!((c.delta - p.delta - dq).abs() <= 4.0 * f64::EPSILON * dq);
        prop_assert_eq!(c.gamma, p.gamma);
        prop_assert_eq!(c.vega, p.vega);
    }

    #[test]
    fn implied_vol_inverts_the_price(o in opt()) {
        let g = greeks(&o).0;
        let (iv, st) = implied_vol_of(&o, g.price);
        prop_assert_eq!(st, LaneStatus::Ok);
        // The price carries a few ulps of the larger of its two terms a·Φ(ωd₁), b·Φ(ωd₂) (which
        // cancel to it), at most price + forward intrinsic value, so σ is recovered to within
        // |Δσ| ≤ that·few / vega. (With ulps of the price alone, a deep in-the-money call failed
        // by 1 %: saved case.)
        let (a, b) = legs(&o);
        let intrinsic = (if o.kind == OptionKind::Call { a - b } else { b - a }).max(0.0);
        let tol = 8.0 * f64::EPSILON * (g.price.abs() + intrinsic) / g.vega + 1e-13 * o.vol;
        prop_assert!((iv - o.vol).abs() <= tol, "iv {} vs σ {} (tol {:e})", iv, o.vol, tol);
    }

    #[test]
    fn nothing_panics_on_arbitrary_inputs(
        s in prop::num::f64::ANY, k in prop::num::f64::ANY, t in prop::num::f64::ANY,
        vol in prop::num::f64::ANY, r in prop::num::f64::ANY, q in prop::num::f64::ANY,
        p in prop::num::f64::ANY, call in prop::bool::ANY, b76 in prop::bool::ANY,
    ) {
        let model = if b76 { Model::Black76 } else { Model::Bsm };
        let kind = if call { OptionKind::Call } else { OptionKind::Put };
        let (g, st) = greeks(&OptionInputs { model, kind, underlying: s, strike: k, t_years: t, vol, rate: r, carry_q: q });
        if st.is_ok() {
            prop_assert!(!g.price.is_nan() && g.price >= 0.0, "{:?}", g);
        } else {
            prop_assert!(g.price.is_nan());
        }
        let (v, st) = implied_vol(&IvOption { model, kind, underlying: s, strike: k, t_years: t, rate: r, carry_q: q, price: p });
        let iv_ok = if st.is_ok() { v >= 0.0 } else { v.is_nan() };
        prop_assert!(iv_ok, "iv {} status {:?}", v, st);
        // The batch paths agree with the scalar one on the same lane, repeated to fill a vector.
        let four = |x: f64| vec![x; 5];
        let inp = IvInputs { model, underlying: &four(s), strike: &four(k), t_years: &four(t), rate: &four(r), carry_q: &four(q), is_call: &[call; 5], price: &four(p) };
        let (mut v1, mut s1, mut v2, mut s2) = (vec![0.0; 5], vec![LaneStatus::Ok; 5], vec![0.0; 5], vec![LaneStatus::Ok; 5]);
        implied_vol_batch(&inp, &mut v1, &mut s1).expect("shapes");
        implied_vol_batch_scalar(&inp, &mut v2, &mut s2).expect("shapes");
        prop_assert_eq!(&s1, &s2);
        for i in 0..5 {
            prop_assert!(same_bits(v1[i], v2[i]));
            prop_assert!(same_bits(v1[i], v));
        }
    }
}

#[test]
fn implied_vol_simd_equals_scalar_on_a_chain() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // 12m + 15: blocks of 12, one of 8, one of 4 and a scalar tail.
    let n = 4107;
    let b = random_batch(3, n);
    // Prices from the kernel, perturbed a little (some fall outside the bounds on purpose).
    let (o, _) = run(greeks_batch, &b.inputs(Model::Bsm), Tier::Price);
    let price: Vec<f64> = o[0]
        .iter()
        .map(|p| p * (1.0 + rng.gen_range(-1e-3..1e-3)))
        .collect();
    let inp = IvInputs {
        model: Model::Bsm,
        underlying: &b.s,
        strike: &b.k,
        t_years: &b.t,
        rate: &b.r,
        carry_q: &b.q,
        is_call: &b.call,
        price: &price,
    };
    let (mut v1, mut s1, mut v2, mut s2) = (
        vec![0.0; n],
        vec![LaneStatus::Ok; n],
        vec![0.0; n],
        vec![LaneStatus::Ok; n],
    );
    implied_vol_batch(&inp, &mut v1, &mut s1).expect("shapes");
    implied_vol_batch_scalar(&inp, &mut v2, &mut s2).expect("shapes");
    assert_eq!(s1, s2);
    for i in 0..n {
        assert!(same_bits(v1[i], v2[i]), "lane {i}: {} vs {}", v1[i], v2[i]);
    }
    assert!(s1.iter().filter(|s| **s == LaneStatus::Ok).count() > n / 2);
}
