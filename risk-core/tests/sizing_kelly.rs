//! Kelly: the closed form within 1e-12 relative, linearity in μ − r, the leverage cap, and
//! Ledoit–Wolf shrinkage against PyPortfolioOpt (`tests/data/sizing/gen_shrinkage.py`).

use proptest::prelude::*;
use risk_core::kelly::{self, CovTarget, KellyOptions, KellySolver};
use serde_json::Value;
use std::path::PathBuf;

/// Σ = A Aᵀ + diag(d) with d bounded away from zero: well conditioned.
fn spd(n: usize, a: &[f64], d: &[f64]) -> Vec<f64> {
    let mut cov = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let s: f64 = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>() * 0.02;
            cov[i * n + j] = s + if i == j { d[i] } else { 0.0 };
        }
    }
    cov
}

fn case() -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>, f64)> {
    (1usize..=12).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec(-1.0_f64..1.0, n * n),
            prop::collection::vec(0.01_f64..0.09, n),
            prop::collection::vec(-3.0_f64..3.0, n),
            -0.05_f64..0.05,
        )
            .prop_map(|(n, a, d, f, rf)| (n, spd(n, &a, &d), f, rf))
    })
}

proptest! {
    #![proptest_config(testkit::prop::config(128, "proptest-regressions/sizing_kelly.txt"))]

    /// Choose f, set μ = r + Σ f: the solve must return f (the closed form Σ⁻¹(μ − r)).
    #[test]
    fn recovers_the_closed_form((n, cov, f, rf) in case()) {
        let mu: Vec<f64> = (0..n)
            .map(|i| rf + (0..n).map(|j| cov[i * n + j] * f[j]).sum::<f64>())
            .collect();
        let got = kelly::multi(&mu, &cov, &KellyOptions { rf, ..KellyOptions::default() }).unwrap();
        let scale = f.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        for (g, w) in got.iter().zip(&f) {
            prop_assert!((g - w).abs() <= 1e-12 * scale.max(1e-3), "{} vs {}", g, w);
        }
    }

    /// Doubling the excess return doubles every fraction; c-fractional Kelly is c × full.
    #[test]
    fn linear_in_excess_return((n, cov, f, rf) in case(), k in 0.1_f64..10.0, c in 0.05_f64..1.0) {
        let mu: Vec<f64> = f.iter().map(|x| rf + x * 0.01).collect();
        let mu_k: Vec<f64> = f.iter().map(|x| rf + k * x * 0.01).collect();
        let base = kelly::multi(&mu, &cov, &KellyOptions { rf, ..KellyOptions::default() }).unwrap();
        let scaled = kelly::multi(&mu_k, &cov, &KellyOptions { rf, ..KellyOptions::default() }).unwrap();
        let frac = kelly::multi(&mu, &cov, &KellyOptions { rf, fraction: c, max_gross_leverage: None }).unwrap();
        let mag = base.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        for i in 0..n {
            prop_assert!((scaled[i] - k * base[i]).abs() <= 1e-9 * k * mag.max(1e-12));
            prop_assert!((frac[i] - c * base[i]).abs() <= 1e-12 * mag.max(1e-12));
        }
        // Single asset: (μ − r)/σ² exactly.
        let one = kelly::continuous_from_variance(mu[0], rf, cov[0]).unwrap();
        let one_multi = kelly::multi(&mu[..1], &cov[..1], &KellyOptions { rf, ..KellyOptions::default() }).unwrap();
        prop_assert!((one - one_multi[0]).abs() <= 1e-12 * one.abs().max(1e-300));
    }

    /// The cap keeps the direction and never exceeds the limit.
    #[test]
    fn leverage_cap((n, cov, f, rf) in case(), cap in 0.1_f64..5.0) {
        let mu: Vec<f64> = (0..n).map(|i| rf + (0..n).map(|j| cov[i * n + j] * f[j]).sum::<f64>()).collect();
        let mut s = KellySolver::new(n);
        let mut out = vec![0.0; n];
        let rep = s.solve(&mu, &cov, &KellyOptions { rf, fraction: 1.0, max_gross_leverage: Some(cap) }, &mut out).unwrap();
        let gross: f64 = out.iter().map(|x| x.abs()).sum();
        prop_assert!(gross <= cap * (1.0 + 1e-12));
        prop_assert_eq!(rep.capped, rep.gross_uncapped > cap);
        if rep.capped {
            let s = cap / rep.gross_uncapped;
            let full = kelly::multi(&mu, &cov, &KellyOptions { rf, ..KellyOptions::default() }).unwrap();
            for (o, fu) in out.iter().zip(&full) {
                prop_assert!((o - s * fu).abs() <= 1e-12 * rep.gross_uncapped.max(1.0));
            }
        }
    }
}

#[test]
fn ledoit_wolf_constant_correlation_matches_pypfopt() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sizing");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lw_reference.json")).unwrap())
            .unwrap();
    let text = std::fs::read_to_string(dir.join("lw_returns.csv")).unwrap();
    let returns: Vec<f64> = text
        .lines()
        .flat_map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap()))
        .collect();
    let (t, n) = (
        r["t"].as_u64().unwrap() as usize,
        r["n"].as_u64().unwrap() as usize,
    );
    let s = kelly::ledoit_wolf(&returns, t, n, CovTarget::ConstantCorrelation).unwrap();
    let want = r["intensity"].as_f64().unwrap();
    assert!(
        (s.intensity - want).abs() < 1e-10,
        "{} vs {want}",
        s.intensity
    );
    for i in 0..n {
        for j in 0..n {
            let w = r["cov"][i][j].as_f64().unwrap();
            assert!(
                (s.cov[i * n + j] - w).abs() < 1e-12 * w.abs().max(1e-6),
                "({i},{j})"
            );
        }
    }
    // The diagonal target: an intensity in [0, 1] and a positive-definite result.
    let d = kelly::ledoit_wolf(&returns, t, n, CovTarget::Diagonal).unwrap();
    assert!((0.0..=1.0).contains(&d.intensity));
    let mut l = vec![0.0; n * n];
    risk_core::linalg::cholesky(&d.cov, n, &mut l).unwrap();
}

#[test]
fn diagonal_target_shrinks_independent_noise_more() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let (t, n) = (60, 10);
    let indep: Vec<f64> = (0..t * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let common: Vec<f64> = (0..t)
        .flat_map(|_| {
            let m: f64 = rng.gen_range(-1.0..1.0);
            (0..n)
                .map(|_| m + 0.2 * rng.gen_range(-1.0..1.0))
                .collect::<Vec<_>>()
        })
        .collect();
    let a = kelly::ledoit_wolf(&indep, t, n, CovTarget::Diagonal)
        .unwrap()
        .intensity;
    let b = kelly::ledoit_wolf(&common, t, n, CovTarget::Diagonal)
        .unwrap()
        .intensity;
    assert!(a > 0.5 && b < 0.1, "independent {a}, common factor {b}");
}
