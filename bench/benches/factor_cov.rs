//! The online factor covariance (`risk_core::factor_cov`), plain `harness = false` main; run with
//! `cargo bench -p ballast-bench --bench factor_cov`. Each figure is printed beside a baseline
//! measured in the same run and the ratio:
//!
//! - one sample into the covariance of 10, 100 and 500 factors, every factor present (baseline:
//!   the same EWMA written plainly over the whole `n × n` matrix, both triangles, indexed);
//! - the same with one factor in ten missing (the masked path);
//! - the shrunk positive-definite matrix of all factors (baseline: one Cholesky factorization of
//!   a matrix that size, the check it contains).
//!
//! Each figure is the median of 51 repetitions, with the fastest beside it. The portfolio issue's
//! target is a sample for 100 factors in at most 2 µs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use risk_core::factor_cov::{FactorCovConfig, FactorCovariance};
use risk_core::linalg::cholesky;
use std::hint::black_box;

const REPS: usize = 51;

/// Nanoseconds per operation of `f` (which performs `iters` operations): (median, minimum) over
/// `REPS` runs.
fn time_per_op(iters: u64, f: impl FnMut()) -> (f64, f64) {
    ballast_bench::time_per_op(REPS, iters, f)
}

fn samples(n: usize, t: usize, missing_every: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
    (0..t)
        .map(|s| {
            let common: f64 = rng.gen_range(-1.0..1.0);
            (0..n)
                .map(|i| {
                    if missing_every > 0 && (i + s) % missing_every == 0 {
                        f64::NAN
                    } else {
                        1e-3 * (0.5 * common + rng.gen_range(-1.0..1.0))
                    }
                })
                .collect()
        })
        .collect()
}

/// The baseline: the plain full-matrix EWMA, every element indexed.
fn plain_update(s: &mut [f64], w: &mut [f64], r: &[f64], lambda: f64) {
    let n = r.len();
    for i in 0..n {
        for j in 0..n {
            if r[i].is_nan() || r[j].is_nan() {
                continue;
            }
            s[i * n + j] = lambda * s[i * n + j] + (1.0 - lambda) * r[i] * r[j];
            w[i * n + j] = lambda * w[i * n + j] + (1.0 - lambda);
        }
    }
}

fn row(what: &str, (med, min): (f64, f64), (bmed, bmin): (f64, f64)) {
    println!(
        "{what:34} {med:>10.1} ns (min {min:>9.1})   baseline {bmed:>10.1} ns (min {bmin:>9.1})   ratio {:>5.2}",
        med / bmed
    );
}

fn main() {
    let cfg = FactorCovConfig {
        min_samples: 5,
        ..FactorCovConfig::default()
    };
    const T: usize = 64;
    for n in [10usize, 100, 500] {
        for (label, missing_every) in [("all present", 0usize), ("1 in 10 missing", 10)] {
            let xs = samples(n, T, missing_every);
            let mut cov = FactorCovariance::new(n, cfg).expect("valid settings");
            let ours = time_per_op(T as u64, || {
                for r in &xs {
                    cov.update(black_box(r)).expect("finite");
                }
            });
            let (mut s, mut w) = (vec![0.0; n * n], vec![0.0; n * n]);
            let base = time_per_op(T as u64, || {
                for r in &xs {
                    plain_update(&mut s, &mut w, black_box(r), cfg.lambda);
                }
            });
            black_box((&s, &w));
            row(&format!("update n={n} ({label})"), ours, base);
        }
        let xs = samples(n, T, 0);
        let mut cov = FactorCovariance::new(n, cfg).expect("valid settings");
        for r in &xs {
            cov.update(r).expect("finite");
        }
        let (mut f, mut m) = (vec![0; n], vec![0.0; n * n]);
        let ours = time_per_op(1, || {
            black_box(cov.matrix(&mut f, &mut m).expect("buffers sized"));
        });
        let mut l = vec![0.0; n * n];
        let base = time_per_op(1, || {
            black_box(cholesky(&m, n, &mut l).is_ok());
        });
        row(&format!("matrix n={n} (shrunk, PD-checked)"), ours, base);
    }
}
