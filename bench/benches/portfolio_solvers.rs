//! The per-rebalance portfolio solvers of `risk_core` (plain `harness = false` main; run with
//! `cargo bench -p ballast-bench --bench portfolio_solvers`). For 10, 30 and 100 factors of a
//! seeded three-factor covariance with unequal budgets (`testkit::portfolio`), each figure is the
//! median of 51 repetitions (the fastest beside it) and its ratio to one Cholesky factorization of
//! the same matrix, measured in the same run:
//!
//! - ERC cold: `RiskParitySolver::solve` (Newton with conjugate gradient);
//! - ERC warm: `RiskParitySolver::solve_warm` from the previous answer after one EWMA update of
//!   the covariance (`Σ' = 0.97 Σ + 0.03 r rᵀ`, `r` drawn from `N(0, Σ)`), budgets unchanged;
//! - ERC previous: the method before (coordinate descent, then Newton with a Cholesky per step);
//! - Kelly: `KellySolver::solve` (half Kelly, gross-leverage cap 3);
//! - the baseline, `linalg::cholesky`.
//!
//! Risk-parity solvers run at tolerance 1e-10 (the target's accuracy); the accuracy column is the
//! largest `|RCᵢ − bᵢ| / bᵢ` reached, recomputed from the weights. At 100 factors the other two
//! matrix kinds (constant correlation 0.95, condition number 1e4) follow. Targets at 100: warm
//! ≤ 10 µs, cold ≤ 40 µs, Kelly ≤ 30 µs.
//!
//! The matrices and the figures are also written, for `bench/py/portfolio_peers.py`, to
//! `$PORTFOLIO_BENCH_DIR` (default `target/portfolio_matrices` in the workspace): `n{N}_cov.csv`,
//! `n{N}_cov_moved.csv`, `n{N}_budgets.csv` and `ballast.json`.

use risk_core::kelly::{KellyOptions, KellySolver};
use risk_core::linalg::cholesky;
use risk_core::risk_parity::{risk_contributions, RiskParitySolver};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use testkit::portfolio::{budgets, covariance, ewma_step, CovKind};

const REPS: usize = 51;
const TOLERANCE: f64 = 1e-10;
const SEED: u64 = 7;

/// Nanoseconds per operation of `f` (which performs `iters` operations): (median, minimum) over
/// `REPS` runs.
fn time_per_op(iters: u64, f: impl FnMut()) -> (f64, f64) {
    ballast_bench::time_per_op(REPS, iters, f)
}

fn max_rel_rc_error(cov: &[f64], n: usize, w: &[f64], b: &[f64]) -> f64 {
    let mut rc = vec![0.0; n];
    risk_contributions(cov, n, w, &mut rc).expect("sizes match");
    rc.iter()
        .zip(b)
        .map(|(r, bi)| (r / bi - 1.0).abs())
        .fold(0.0, f64::max)
}

/// One printed and recorded figure.
struct Figure {
    what: &'static str,
    ns: (f64, f64),
    accuracy: Option<f64>,
}

fn csv(m: &[f64], cols: usize) -> String {
    let mut s = String::new();
    for row in m.chunks(cols) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:e}")).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

/// Times every solver on one matrix kind and size; writes the matrices to `dir` when given.
fn run(kind: CovKind, n: usize, dir: Option<&PathBuf>) -> (Vec<Figure>, (f64, f64)) {
    let cov = covariance(kind, n, SEED);
    let b = budgets(n, SEED);
    let mut moved = cov.clone();
    ewma_step(&mut moved, n, 0.97, SEED + 1);
    if let Some(dir) = dir {
        let write = |name: String, text: String| {
            std::fs::write(dir.join(&name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
        };
        write(format!("n{n}_cov.csv"), csv(&cov, n));
        write(format!("n{n}_cov_moved.csv"), csv(&moved, n));
        write(format!("n{n}_budgets.csv"), csv(&b, 1));
    }
    let iters: u64 = if n <= 30 { 100 } else { 20 };

    let mut solver = RiskParitySolver::new(n);
    solver.tolerance = TOLERANCE;
    let mut w0 = vec![0.0; n];
    solver.solve(&cov, n, Some(&b), &mut w0).expect("solvable");
    let mut w = vec![0.0; n];
    let cold = time_per_op(iters, || {
        for _ in 0..iters {
            black_box(solver.solve(black_box(&cov), n, Some(&b), &mut w).is_ok());
        }
    });
    let cold_err = max_rel_rc_error(&cov, n, &w, &b);
    let warm = time_per_op(iters, || {
        for _ in 0..iters {
            w.copy_from_slice(&w0);
            black_box(
                solver
                    .solve_warm(black_box(&moved), n, Some(&b), &mut w)
                    .is_ok(),
            );
        }
    });
    let warm_err = max_rel_rc_error(&moved, n, &w, &b);

    let mut old = RiskParitySolver::with_cholesky_newton(n);
    old.tolerance = TOLERANCE;
    let previous = time_per_op(iters / 4, || {
        for _ in 0..iters / 4 {
            black_box(old.solve(black_box(&cov), n, Some(&b), &mut w).is_ok());
        }
    });
    let old_err = max_rel_rc_error(&cov, n, &w, &b);

    let mu: Vec<f64> = (0..n).map(|i| 0.02 + 0.0005 * (i % 17) as f64).collect();
    let opts = KellyOptions {
        rf: 0.01,
        fraction: 0.5,
        max_gross_leverage: Some(3.0),
    };
    let mut kelly = KellySolver::new(n);
    let mut f = vec![0.0; n];
    let kelly_ns = time_per_op(iters, || {
        for _ in 0..iters {
            black_box(kelly.solve(&mu, black_box(&cov), &opts, &mut f).is_ok());
        }
    });

    let mut l = vec![0.0; n * n];
    let chol = time_per_op(iters, || {
        for _ in 0..iters {
            black_box(cholesky(black_box(&cov), n, &mut l).is_ok());
        }
    });
    let figures = vec![
        Figure {
            what: "erc_cold",
            ns: cold,
            accuracy: Some(cold_err),
        },
        Figure {
            what: "erc_warm",
            ns: warm,
            accuracy: Some(warm_err),
        },
        Figure {
            what: "erc_previous_cold",
            ns: previous,
            accuracy: Some(old_err),
        },
        Figure {
            what: "kelly",
            ns: kelly_ns,
            accuracy: None,
        },
    ];
    (figures, chol)
}

fn main() {
    let dir = std::env::var_os("PORTFOLIO_BENCH_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/portfolio_matrices"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut json =
        String::from("{\n  \"tolerance\": 1e-10,\n  \"matrix\": \"factor\",\n  \"rows\": [\n");
    let mut first = true;
    println!(
        "{:34} {:>10} {:>10} {:>12} {:>9}",
        "solver", "median µs", "min µs", "× Cholesky", "max RC err"
    );
    let cases: Vec<(CovKind, usize)> = [10, 30, 100]
        .into_iter()
        .map(|n| (CovKind::Factor, n))
        .chain([(CovKind::Correlated, 100), (CovKind::IllConditioned, 100)])
        .collect();
    for (kind, n) in cases {
        let write = (kind == CovKind::Factor).then_some(&dir);
        let (figures, chol) = run(kind, n, write);
        println!(
            "{:34} {:>10.2} {:>10.2} {:>12} {:>9}",
            format!("n={n} {} Cholesky (baseline)", kind.name()),
            chol.0 / 1e3,
            chol.1 / 1e3,
            "1.00",
            ""
        );
        for fig in &figures {
            let acc = fig.accuracy.map_or(String::new(), |a| format!("{a:.1e}"));
            println!(
                "{:34} {:>10.2} {:>10.2} {:>12.2} {:>9}",
                format!("n={n} {} {}", kind.name(), fig.what),
                fig.ns.0 / 1e3,
                fig.ns.1 / 1e3,
                fig.ns.0 / chol.0,
                acc
            );
            if write.is_some() {
                if !first {
                    json.push_str(",\n");
                }
                first = false;
                let _ = write!(
                    json,
                    "    {{\"n\": {n}, \"solver\": \"{}\", \"median_us\": {:.4}, \"min_us\": {:.4}, \
                     \"cholesky_median_us\": {:.4}, \"max_rel_rc_error\": {}}}",
                    fig.what,
                    fig.ns.0 / 1e3,
                    fig.ns.1 / 1e3,
                    chol.0 / 1e3,
                    fig.accuracy.map_or("null".to_string(), |a| format!("{a:e}"))
                );
            }
        }
    }
    json.push_str("\n  ]\n}\n");
    let path = dir.join("ballast.json");
    std::fs::write(&path, json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!("matrices and figures written to {}", dir.display());
}
