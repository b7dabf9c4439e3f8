//! The per-rebalance portfolio solvers: risk parity by Newton with conjugate gradient, cold and
//! warm-started, against the previous method (coordinate descent, then Newton with Cholesky) on
//! seeded covariances of 1 to 100 assets (factor model, constant correlation 0.95, condition
//! number 1e4 with correlations of both signs), unequal and equal budgets; many-asset Kelly at
//! 100 assets; no allocation per solve; bad inputs are errors.

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

use proptest::prelude::*;
use risk_core::kelly::{KellyOptions, KellySolver};
use risk_core::linalg;
use risk_core::risk_parity::{risk_contributions, NewtonSystem, RiskParityError, RiskParitySolver};
use testkit::portfolio::{budgets, covariance, ewma_step, CovKind};

const SIZES: [usize; 5] = [1, 2, 5, 30, 100];

/// Largest `|RCᵢ − bᵢ| / bᵢ` of weights `w`.
fn max_rel_rc_error(cov: &[f64], n: usize, w: &[f64], b: &[f64]) -> f64 {
    let mut rc = vec![0.0; n];
    risk_contributions(cov, n, w, &mut rc).unwrap();
    rc.iter()
        .zip(b)
        .map(|(r, bi)| (r / bi - 1.0).abs())
        .fold(0.0, f64::max)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Checks `w` is a long-only portfolio whose contributions are the budgets within 1e-10.
fn assert_solution(what: &str, cov: &[f64], n: usize, w: &[f64], b: &[f64]) {
    assert!(w.iter().all(|&x| x > 0.0), "{what}: weights not positive");
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{what}: sum");
    let err = max_rel_rc_error(cov, n, w, b);
    assert!(err <= 1e-10, "{what}: max rel RC error {err:e}");
}

#[test]
fn cold_warm_and_previous_method_agree_on_seeded_matrices() {
    for n in SIZES {
        for kind in CovKind::ALL {
            for seed in 0..3 {
                let what = format!("n={n} {} seed {seed}", kind.name());
                let cov = covariance(kind, n, seed);
                let b = budgets(n, seed);
                let mut new = RiskParitySolver::new(n);
                let mut old = RiskParitySolver::with_cholesky_newton(n);
                let (mut w_new, mut w_old) = (vec![0.0; n], vec![0.0; n]);
                new.solve(&cov, n, Some(&b), &mut w_new).unwrap();
                old.solve(&cov, n, Some(&b), &mut w_old).unwrap();
                assert_solution(&format!("{what} cold"), &cov, n, &w_new, &b);
                assert_solution(&format!("{what} previous"), &cov, n, &w_old, &b);
                let d = max_abs_diff(&w_new, &w_old);
                assert!(
                    d <= 1e-10,
                    "{what}: cold vs previous method differ by {d:e}"
                );

                // One EWMA update (λ = 0.97) later, warm from the last answer vs cold.
                let mut moved = cov.clone();
                ewma_step(&mut moved, n, 0.97, 100 + seed);
                let mut w_warm = w_new.clone();
                let rep = new
                    .solve_warm(&moved, n, Some(&b), &mut w_warm)
                    .unwrap_or_else(|e| panic!("{what}: warm: {e}"));
                assert_eq!(
                    rep.sweeps, 0,
                    "{what}: a warm start skips coordinate descent"
                );
                let mut w_cold = vec![0.0; n];
                new.solve(&moved, n, Some(&b), &mut w_cold).unwrap();
                old.solve(&moved, n, Some(&b), &mut w_old).unwrap();
                assert_solution(&format!("{what} warm"), &moved, n, &w_warm, &b);
                let d = max_abs_diff(&w_warm, &w_cold).max(max_abs_diff(&w_warm, &w_old));
                assert!(d <= 1e-10, "{what}: warm vs cold differ by {d:e}");
            }
        }
    }
}

#[test]
fn equal_budgets_give_equal_contributions() {
    for n in SIZES {
        for kind in CovKind::ALL {
            let cov = covariance(kind, n, 9);
            let eq = vec![1.0 / n as f64; n];
            let mut s = RiskParitySolver::new(n);
            let mut w = vec![0.0; n];
            s.solve(&cov, n, None, &mut w).unwrap();
            assert_solution(&format!("n={n} {} equal", kind.name()), &cov, n, &w, &eq);
            let mut moved = cov.clone();
            ewma_step(&mut moved, n, 0.97, 3);
            s.solve_warm(&moved, n, None, &mut w).unwrap();
            assert_solution(
                &format!("n={n} {} equal warm", kind.name()),
                &moved,
                n,
                &w,
                &eq,
            );
        }
    }
}

#[test]
fn a_run_of_warm_solves_tracks_the_moving_covariance() {
    let n = 100;
    let mut cov = covariance(CovKind::Factor, n, 5);
    let b = budgets(n, 5);
    let mut s = RiskParitySolver::new(n);
    let mut w = vec![0.0; n];
    s.solve(&cov, n, Some(&b), &mut w).unwrap();
    for step in 0..20 {
        ewma_step(&mut cov, n, 0.97, 1000 + step);
        s.solve_warm(&cov, n, Some(&b), &mut w).unwrap();
        assert_solution(&format!("step {step}"), &cov, n, &w, &b);
    }
}

#[test]
fn cholesky_newton_is_still_reachable_and_ill_conditioning_falls_back_to_it() {
    let n = 30;
    let cov = covariance(CovKind::IllConditioned, n, 1);
    let b = budgets(n, 1);
    let mut s = RiskParitySolver::new(n);
    s.newton_system = NewtonSystem::Cholesky;
    let mut w = vec![0.0; n];
    let rep = s.solve(&cov, n, Some(&b), &mut w).unwrap();
    assert_eq!(rep.cg_iterations, 0);
    assert_solution("Cholesky Newton", &cov, n, &w, &b);
    // A cap of one iteration forces the fallback; the answer is the same.
    let mut capped = RiskParitySolver::new(n);
    capped.max_cg = 1;
    let mut w2 = vec![0.0; n];
    capped.solve(&cov, n, Some(&b), &mut w2).unwrap();
    assert!(max_abs_diff(&w, &w2) <= 1e-10);
}

#[test]
fn warm_start_from_an_invalid_vector_is_a_cold_start() {
    let n = 30;
    let cov = covariance(CovKind::Factor, n, 2);
    let b = budgets(n, 2);
    let mut s = RiskParitySolver::new(n);
    let mut cold = vec![0.0; n];
    s.solve(&cov, n, Some(&b), &mut cold).unwrap();
    for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        let mut w = vec![1.0 / n as f64; n];
        w[3] = bad;
        let rep = s.solve_warm(&cov, n, Some(&b), &mut w).unwrap();
        assert_eq!(rep, s.solve(&cov, n, Some(&b), &mut cold).unwrap());
        assert!(max_abs_diff(&w, &cold) == 0.0, "start {bad}");
    }
    // Any positive start converges to the same answer.
    let mut w: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
    s.solve_warm(&cov, n, Some(&b), &mut w).unwrap();
    assert!(max_abs_diff(&w, &cold) <= 1e-10);
}

#[test]
fn solves_allocate_nothing() {
    let n = 100;
    let cov = covariance(CovKind::Factor, n, 4);
    let mut moved = cov.clone();
    ewma_step(&mut moved, n, 0.97, 8);
    let b = budgets(n, 4);
    let mu: Vec<f64> = (0..n).map(|i| 0.01 + 0.001 * i as f64).collect();
    let mut rp = RiskParitySolver::new(n);
    let mut old = RiskParitySolver::with_cholesky_newton(n);
    let mut kelly = KellySolver::new(n);
    let (mut w, mut f) = (vec![0.0; n], vec![0.0; n]);
    let opts = KellyOptions {
        rf: 0.001,
        fraction: 0.5,
        max_gross_leverage: Some(3.0),
    };
    let ((), allocs) = testkit::alloc::measure(|| {
        rp.solve(&cov, n, Some(&b), &mut w).unwrap();
        rp.solve_warm(&moved, n, Some(&b), &mut w).unwrap();
        rp.solve_warm(&moved, n, None, &mut w).unwrap();
        old.solve(&cov, n, Some(&b), &mut w).unwrap();
        kelly.solve(&mu, &cov, &opts, &mut f).unwrap();
    });
    assert_eq!(allocs, 0);
}

#[test]
fn bad_inputs_are_errors_and_leave_the_weights_alone() {
    let cov = [0.04, 0.006, 0.006, 0.09];
    let mut s = RiskParitySolver::new(2);
    let start = [0.6, 0.4];
    let mut w = start;
    let mut nan = cov;
    nan[2] = f64::NAN;
    assert!(matches!(
        s.solve_warm(&nan, 2, None, &mut w),
        Err(RiskParityError::BadCovariance { row: 1, col: 0 })
    ));
    let mut inf = cov;
    inf[1] = f64::INFINITY;
    assert!(matches!(
        s.solve(&inf, 2, None, &mut w),
        Err(RiskParityError::BadCovariance { row: 0, col: 1 })
    ));
    // The first non-finite element is named even when a later variance is also bad.
    inf[3] = -1.0;
    assert!(matches!(
        s.solve(&inf, 2, None, &mut w),
        Err(RiskParityError::BadCovariance { row: 0, col: 1 })
    ));
    let mut neg = cov;
    neg[3] = 0.0;
    assert!(matches!(
        s.solve_warm(&neg, 2, None, &mut w),
        Err(RiskParityError::BadCovariance { row: 1, col: 1 })
    ));
    assert!(matches!(
        s.solve_warm(&cov, 2, Some(&[0.7, 0.7]), &mut w),
        Err(RiskParityError::BudgetsNotNormalized { .. })
    ));
    assert!(matches!(
        s.solve_warm(&cov, 2, Some(&[1.0, f64::NAN]), &mut w),
        Err(RiskParityError::BadBudget { index: 1, .. })
    ));
    assert!(matches!(
        s.solve_warm(&cov, 2, None, &mut [0.5; 3]),
        Err(RiskParityError::LengthMismatch {
            what: "weights",
            ..
        })
    ));
    assert!(matches!(
        s.solve_warm(&cov[..3], 2, None, &mut w),
        Err(RiskParityError::LengthMismatch {
            what: "covariance",
            ..
        })
    ));
    assert!(matches!(
        s.solve_warm(&[0.04; 9], 3, None, &mut [0.3; 3]),
        Err(RiskParityError::BadDimension { n: 3, n_max: 2 })
    ));
    // Negative variance of the equal-weight portfolio: not positive definite.
    assert!(matches!(
        s.solve_warm(&[1.0, -2.0, -2.0, 1.0], 2, None, &mut w),
        Err(RiskParityError::Linalg(
            linalg::LinalgError::NotPositiveDefinite { .. }
        ))
    ));
    assert_eq!(w, start);
    // Indefinite with an interior solution of equal weights: the Newton system detects it or
    // converges; never a panic.
    let indef = [1.0, 0.9, 0.9, 0.1];
    assert!(linalg::cholesky(&indef, 2, &mut [0.0; 4]).is_err());
    let _ = s.solve(&indef, 2, Some(&[0.3, 0.7]), &mut w);
}

#[test]
fn kelly_at_100_assets_solves_the_system() {
    let n = 100;
    let cov = covariance(CovKind::Factor, n, 6);
    let mu: Vec<f64> = (0..n).map(|i| 0.02 + 0.0005 * (i % 17) as f64).collect();
    let opts = KellyOptions {
        rf: 0.01,
        fraction: 0.5,
        max_gross_leverage: None,
    };
    let mut s = KellySolver::new(n);
    let mut f = vec![0.0; n];
    s.solve(&mu, &cov, &opts, &mut f).unwrap();
    let mut sf = vec![0.0; n];
    linalg::mat_vec(&cov, n, &f, &mut sf).unwrap();
    for i in 0..n {
        let want = 0.5 * (mu[i] - 0.01);
        assert!((sf[i] - want).abs() <= 1e-10 * want.abs().max(1e-3), "{i}");
    }
}

/// A random three-factor covariance with unequal budgets.
fn case() -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>, u64)> {
    (1_usize..=40).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec(-0.4_f64..0.4, n * 3),
            prop::collection::vec(0.0005_f64..0.2, n),
            prop::collection::vec(0.05_f64..1.0, n),
            any::<u64>(),
        )
            .prop_map(|(n, load, spec, braw, seed)| {
                let mut cov = vec![0.0; n * n];
                for i in 0..n {
                    for j in 0..n {
                        let s: f64 = (0..3).map(|f| load[i * 3 + f] * load[j * 3 + f]).sum();
                        cov[i * n + j] = s + if i == j { spec[i] } else { 0.0 };
                    }
                }
                let total: f64 = braw.iter().sum();
                (n, cov, braw.iter().map(|x| x / total).collect(), seed)
            })
    })
}

proptest! {
    #![proptest_config(testkit::prop::config(48, "proptest-regressions/portfolio_solvers.txt"))]

    #[test]
    fn warm_equals_cold_after_an_update((n, cov, b, seed) in case()) {
        let mut s = RiskParitySolver::new(n);
        let mut w = vec![0.0; n];
        s.solve(&cov, n, Some(&b), &mut w).unwrap();
        let mut moved = cov.clone();
        ewma_step(&mut moved, n, 0.97, seed);
        let mut cold = vec![0.0; n];
        s.solve(&moved, n, Some(&b), &mut cold).unwrap();
        s.solve_warm(&moved, n, Some(&b), &mut w).unwrap();
        prop_assert!(max_abs_diff(&w, &cold) <= 1e-10);
        prop_assert!(max_rel_rc_error(&moved, n, &w, &b) <= 1e-10);
    }
}
