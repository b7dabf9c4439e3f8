//! Accuracy of `risk_core::greeks` against 60-digit `mpmath` references
//! (`tests/data/greeks/gen_references.py` → the CSVs beside it).
//!
//! Targets (issue 3): over |ln(F/K)| ≤ 6σ√T and σ√T ∈ [1e-3, 3], price and each Greek within
//! 1e-12 relative or 1e-15 × the underlying absolute (scaled by the Greek's dimension: ×1 for
//! price-like outputs, ÷S for delta and vanna, ÷S² for gamma), whichever is looser; implied
//! volatility within 1e-12 relative where the time value is ≥ 1e-8 of the underlying and 1e-8
//! relative down to 1e-14.

use risk_core::greeks::{
    erfc, greeks, greeks_batch, implied_vol, implied_vol_batch, norm_cdf, BatchInputs,
    BatchOutputs, Greeks, IvInputs, IvOption, LaneStatus, Model, OptionInputs, OptionKind, Tier,
};

fn data(name: &str) -> String {
    let p = format!("{}/tests/data/greeks/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {p}: {e}"))
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
}

fn f(s: &str) -> f64 {
    s.parse().unwrap_or_else(|e| panic!("bad number {s}: {e}"))
}

fn ulp_rel(got: f64, want: f64) -> f64 {
    if got == want {
        return 0.0;
    }
    ((got - want) / want).abs()
}

#[test]
fn normal_cdf_and_erfc_near_machine_precision() {
    let text = data("normal_cdf.csv");
    let (mut worst_cdf, mut worst_erfc) = (0.0f64, 0.0f64);
    let mut n = 0;
    for r in rows(&text) {
        let (x, cdf, ec) = (f(r[0]), f(r[1]), f(r[2]));
        // Relative error where the reference is a normal double.
        if cdf > 1e-300 {
            worst_cdf = worst_cdf.max(ulp_rel(norm_cdf(x), cdf));
        }
        if ec > 1e-300 {
            worst_erfc = worst_erfc.max(ulp_rel(erfc(x), ec));
        }
        n += 1;
    }
    eprintln!("normal: {n} points, max rel err cdf {worst_cdf:.3e}, erfc {worst_erfc:.3e}");
    assert!(n > 4000);
    assert!(worst_cdf < 1e-15, "Φ max relative error {worst_cdf:e}");
    assert!(worst_erfc < 1e-15, "erfc max relative error {worst_erfc:e}");
}

struct Case {
    model: Model,
    kind: OptionKind,
    s: f64,
    k: f64,
    t: f64,
    vol: f64,
    r: f64,
    q: f64,
    want: [f64; 8],
}

fn cases() -> Vec<Case> {
    let text = data("bsm_black76.csv");
    rows(&text)
        .map(|r| Case {
            model: if r[0] == "bsm" {
                Model::Bsm
            } else {
                Model::Black76
            },
            kind: if r[1] == "call" {
                OptionKind::Call
            } else {
                OptionKind::Put
            },
            s: f(r[2]),
            k: f(r[3]),
            t: f(r[4]),
            vol: f(r[5]),
            r: f(r[6]),
            q: f(r[7]),
            want: core::array::from_fn(|i| f(r[8 + i])),
        })
        .collect()
}

const NAMES: [&str; 8] = [
    "price", "delta", "gamma", "vega", "theta", "rho", "vanna", "volga",
];

fn as_array(g: &Greeks) -> [f64; 8] {
    [
        g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.vanna, g.volga,
    ]
}

/// Error in units of the allowed tolerance (≤ 1 passes).
fn score(i: usize, s: f64, got: f64, want: f64) -> f64 {
    let abs_scale = match i {
        1 | 6 => 1.0, // delta, vanna: price per unit of S
        2 => 1.0 / s, // gamma: price per S²
        _ => s,       // price, vega, theta, rho, volga: price units
    };
    let tol = (1e-12 * want.abs()).max(1e-15 * abs_scale);
    (got - want).abs() / tol
}

#[test]
fn greeks_match_arbitrary_precision_references() {
    let cases = cases();
    assert!(cases.len() >= 4000);
    let mut worst = [(0.0f64, 0usize); 8];
    let mut worst_rel = [0.0f64; 8];
    for (n, c) in cases.iter().enumerate() {
        let (g, st) = greeks(&OptionInputs {
            model: c.model,
            kind: c.kind,
            underlying: c.s,
            strike: c.k,
            t_years: c.t,
            vol: c.vol,
            rate: c.r,
            carry_q: c.q,
        });
        assert_eq!(st, LaneStatus::Ok);
        for (i, got) in as_array(&g).into_iter().enumerate() {
            let sc = score(i, c.s, got, c.want[i]);
            if sc > worst[i].0 {
                worst[i] = (sc, n);
            }
            if c.want[i].abs() > 1e-3 * c.s.max(1.0 / c.s) {
                worst_rel[i] = worst_rel[i].max(ulp_rel(got, c.want[i]));
            }
        }
    }
    for i in 0..8 {
        eprintln!(
            "{:>5}: worst error / tolerance {:.3} (case {}), max rel err where |ref| is not tiny {:.2e}",
            NAMES[i], worst[i].0, worst[i].1 + 2, worst_rel[i]
        );
    }
    for i in 0..8 {
        assert!(
            worst[i].0 <= 1.0,
            "{} exceeds tolerance: {:?}",
            NAMES[i],
            worst[i]
        );
    }
}

#[test]
fn batch_kernel_matches_references_too() {
    // Same references through the SIMD batch (per model), to pin the vector path as well.
    let cases = cases();
    for model in [Model::Bsm, Model::Black76] {
        let sel: Vec<&Case> = cases.iter().filter(|c| c.model == model).collect();
        let col = |f: &dyn Fn(&Case) -> f64| sel.iter().map(|c| f(c)).collect::<Vec<f64>>();
        let (s, k, t, vol, r, q) = (
            col(&|c| c.s),
            col(&|c| c.k),
            col(&|c| c.t),
            col(&|c| c.vol),
            col(&|c| c.r),
            col(&|c| c.q),
        );
        let is_call: Vec<bool> = sel.iter().map(|c| c.kind == OptionKind::Call).collect();
        let n = sel.len();
        let mut o: Vec<Vec<f64>> = vec![vec![0.0; n]; 8];
        let mut status = vec![LaneStatus::Ok; n];
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
                status: &mut status,
            };
            let inp = BatchInputs {
                model,
                underlying: &s,
                strike: &k,
                t_years: &t,
                vol: &vol,
                rate: &r,
                carry_q: &q,
                is_call: &is_call,
            };
            greeks_batch(&inp, Tier::All, &mut out).expect("shapes");
        }
        for (j, c) in sel.iter().enumerate() {
            assert_eq!(status[j], LaneStatus::Ok);
            for i in 0..8 {
                let sc = score(i, c.s, o[i][j], c.want[i]);
                assert!(
                    sc <= 1.0,
                    "{:?} {} row {j}: {} vs {}",
                    model,
                    NAMES[i],
                    o[i][j],
                    c.want[i]
                );
            }
        }
    }
}

#[test]
fn implied_vol_matches_arbitrary_precision_inversion() {
    let text = data("implied_vol.csv");
    let mut worst_hi = 0.0f64; // time value ≥ 1e-8 S
    let mut worst_lo = 0.0f64; // 1e-14 ≤ tv < 1e-8
    let (mut n_hi, mut n_lo) = (0, 0);
    let mut opts = Vec::new();
    for r in rows(&text) {
        let o = IvOption {
            model: if r[0] == "bsm" {
                Model::Bsm
            } else {
                Model::Black76
            },
            kind: if r[1] == "call" {
                OptionKind::Call
            } else {
                OptionKind::Put
            },
            underlying: f(r[2]),
            strike: f(r[3]),
            t_years: f(r[4]),
            rate: f(r[5]),
            carry_q: f(r[6]),
            price: f(r[7]),
        };
        let (want, tv_rel) = (f(r[8]), f(r[9]));
        let (got, st) = implied_vol(&o);
        assert_eq!(st, LaneStatus::Ok, "{o:?}");
        let e = ulp_rel(got, want);
        if tv_rel >= 1e-8 {
            n_hi += 1;
            worst_hi = worst_hi.max(e);
        } else {
            n_lo += 1;
            worst_lo = worst_lo.max(e);
        }
        opts.push((o, want));
    }
    eprintln!("iv: {n_hi} cases tv ≥ 1e-8·S max rel err {worst_hi:.2e}; {n_lo} cases below, {worst_lo:.2e}");
    assert!(n_hi > 1000 && n_lo > 100);
    assert!(
        worst_hi <= 1e-12,
        "IV relative error {worst_hi:e} where tv ≥ 1e-8 S"
    );
    assert!(
        worst_lo <= 1e-8,
        "IV relative error {worst_lo:e} where tv < 1e-8 S"
    );

    // The batch (SIMD) path gives the same bits.
    for model in [Model::Bsm, Model::Black76] {
        let sel: Vec<&IvOption> = opts
            .iter()
            .map(|(o, _)| o)
            .filter(|o| o.model == model)
            .collect();
        let col = |f: &dyn Fn(&IvOption) -> f64| sel.iter().map(|o| f(o)).collect::<Vec<f64>>();
        let inp_cols = (
            col(&|o| o.underlying),
            col(&|o| o.strike),
            col(&|o| o.t_years),
            col(&|o| o.rate),
            col(&|o| o.carry_q),
            col(&|o| o.price),
        );
        let is_call: Vec<bool> = sel.iter().map(|o| o.kind == OptionKind::Call).collect();
        let mut vol = vec![0.0; sel.len()];
        let mut status = vec![LaneStatus::Ok; sel.len()];
        implied_vol_batch(
            &IvInputs {
                model,
                underlying: &inp_cols.0,
                strike: &inp_cols.1,
                t_years: &inp_cols.2,
                rate: &inp_cols.3,
                carry_q: &inp_cols.4,
                is_call: &is_call,
                price: &inp_cols.5,
            },
            &mut vol,
            &mut status,
        )
        .expect("shapes");
        for (j, o) in sel.iter().enumerate() {
            let (v, st) = implied_vol(o);
            assert_eq!((vol[j].to_bits(), status[j]), (v.to_bits(), st), "{o:?}");
        }
    }
}
