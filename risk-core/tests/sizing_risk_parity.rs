//! Risk parity against `riskfolio-lib` (fixtures from `tests/data/sizing/gen_risk_parity.py`)
//! and the published example of Maillard, Roncalli & Teiletche (2010); property tests that the
//! contributions equal their budgets within 1e-10 relative for 2..=60 assets.

use proptest::prelude::*;
use risk_core::risk_parity::{risk_contributions, RiskParitySolver};
use serde_json::Value;
use std::path::PathBuf;

fn data(file: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sizing")
        .join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rows(file: &str) -> Vec<Vec<f64>> {
    data(file)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|c| c.trim().parse().unwrap()).collect())
        .collect()
}

/// Covariance of a case: the full matrix, or `B Bᵀ + diag(d)` from factor rows.
fn covariance(case: &Value) -> (Vec<f64>, usize) {
    if let Some(f) = case["cov"].as_str() {
        let m = rows(f);
        let n = m.len();
        (m.into_iter().flatten().collect(), n)
    } else {
        let m = rows(case["factors"].as_str().unwrap());
        let n = m.len();
        let k = m[0].len() - 1;
        let mut cov = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..k).map(|f| m[i][f] * m[j][f]).sum();
                cov[i * n + j] = s + if i == j { m[i][k] } else { 0.0 };
            }
        }
        (cov, n)
    }
}

fn max_rel_rc_error(cov: &[f64], n: usize, w: &[f64], budgets: &[f64]) -> f64 {
    let mut rc = vec![0.0; n];
    risk_contributions(cov, n, w, &mut rc).unwrap();
    rc.iter()
        .zip(budgets)
        .map(|(r, b)| (r / b - 1.0).abs())
        .fold(0.0, f64::max)
}

#[test]
fn matches_riskfolio_and_the_published_example() {
    let refs: Value = serde_json::from_str(&data("rp_reference.json")).unwrap();
    let mut solver = RiskParitySolver::new(500);
    for (name, case) in refs.as_object().unwrap() {
        let (cov, n) = covariance(case);
        let budgets: Option<Vec<f64>> = case["budget"]
            .as_str()
            .map(|f| rows(f).into_iter().map(|r| r[0]).collect());
        let mut w = vec![0.0; n];
        let rep = solver.solve(&cov, n, budgets.as_deref(), &mut w).unwrap();
        let want: Vec<f64> = case["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let worst = w
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let b = budgets.clone().unwrap_or_else(|| vec![1.0 / n as f64; n]);
        let rc_err = max_rel_rc_error(&cov, n, &w, &b);
        eprintln!(
            "{name}: n={n} sweeps={} newton={} max|w − riskfolio|={worst:.2e} max rel RC err={rc_err:.2e}",
            rep.sweeps, rep.newton_steps
        );
        assert!(
            worst < 1e-6,
            "{name}: weights differ from riskfolio by {worst}"
        );
        assert!(
            rc_err < 1e-10,
            "{name}: contributions off budget by {rc_err}"
        );
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        if let Some(p) = case["published_weights"].as_array() {
            for (wi, pi) in w.iter().zip(p) {
                assert!(
                    (wi - pi.as_f64().unwrap()).abs() < 0.0005 + 1e-12,
                    "{name}: {wi} vs {pi}"
                );
            }
        }
    }
}

/// A random positive-definite covariance: `B Bᵀ + diag(d)` plus a strong common factor.
fn cov_strategy(max_n: usize) -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>)> {
    (2..=max_n).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec(-0.4_f64..0.4, n * 3),
            prop::collection::vec(0.0005_f64..0.2, n),
            prop::collection::vec(0.05_f64..1.0, n),
        )
            .prop_map(|(n, load, spec, braw)| {
                let mut cov = vec![0.0; n * n];
                for i in 0..n {
                    for j in 0..n {
                        let mut s: f64 = (0..3).map(|f| load[i * 3 + f] * load[j * 3 + f]).sum();
                        if i == j {
                            s += spec[i];
                        }
                        cov[i * n + j] = s;
                    }
                }
                let total: f64 = braw.iter().sum();
                let b = braw.iter().map(|x| x / total).collect();
                (n, cov, b)
            })
    })
}

proptest! {
    #![proptest_config(testkit::prop::config(64, "proptest-regressions/sizing_risk_parity.txt"))]

    #[test]
    fn contributions_equal_budgets((n, cov, b) in cov_strategy(60)) {
        let mut solver = RiskParitySolver::new(n);
        let mut w = vec![0.0; n];
        solver.solve(&cov, n, Some(&b), &mut w).unwrap();
        prop_assert!(w.iter().all(|&x| x > 0.0));
        prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let err = max_rel_rc_error(&cov, n, &w, &b);
        prop_assert!(err < 1e-10, "max rel RC error {}", err);
    }

    #[test]
    fn equal_budgets_are_scale_invariant((n, cov, _b) in cov_strategy(20), k in 0.01_f64..100.0) {
        let mut solver = RiskParitySolver::new(n);
        let (mut w1, mut w2) = (vec![0.0; n], vec![0.0; n]);
        solver.solve(&cov, n, None, &mut w1).unwrap();
        let scaled: Vec<f64> = cov.iter().map(|c| c * k).collect();
        solver.solve(&scaled, n, None, &mut w2).unwrap();
        for (a, b) in w1.iter().zip(&w2) {
            prop_assert!((a - b).abs() < 1e-9);
        }
    }
}
