//! Seeded covariance matrices and risk budgets for the portfolio solvers' tests and benches
//! (risk parity, many-asset Kelly). Every generator is a pure function of its arguments: the same
//! `(n, seed)` gives the same bits on every machine (ChaCha8, no platform-dependent math beyond
//! `sqrt`, `ln`, `cos` and `exp` of the standard library).
//!
//! Matrices are row-major `n × n`, symmetric to the last bit (built from the lower triangle).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The kinds of covariance the solvers are exercised on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovKind {
    /// Three-factor model `B Bᵀ + diag(d)`: a common factor with positive loadings, two
    /// long-short factors, specific variances; volatilities from about 10 % to 60 %.
    Factor,
    /// Constant correlation 0.95 with volatilities from 5 % to 60 % (strongly correlated).
    Correlated,
    /// Eigenvalues spread log-uniformly over four decades (condition number 1e4) with a
    /// random orthogonal basis, so correlations of both signs.
    IllConditioned,
}

impl CovKind {
    /// Every kind, in a fixed order.
    pub const ALL: [CovKind; 3] = [
        CovKind::Factor,
        CovKind::Correlated,
        CovKind::IllConditioned,
    ];

    /// A short lower-case name (`factor`, `rho95`, `illcond`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            CovKind::Factor => "factor",
            CovKind::Correlated => "rho95",
            CovKind::IllConditioned => "illcond",
        }
    }
}

/// A standard normal draw (Box–Muller, one of the pair).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Copies the lower triangle onto the upper one, so the matrix is symmetric to the last bit.
fn symmetrize(cov: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..i {
            cov[j * n + i] = cov[i * n + j];
        }
    }
}

/// A seeded symmetric positive definite covariance of the given kind.
#[must_use]
pub fn covariance(kind: CovKind, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (n as u64).rotate_left(32));
    let mut cov = vec![0.0; n * n];
    match kind {
        CovKind::Factor => {
            let k = 3;
            let load: Vec<f64> = (0..n * k)
                .map(|i| {
                    if i % k == 0 {
                        rng.gen_range(0.05..0.3)
                    } else {
                        rng.gen_range(-0.2..0.2)
                    }
                })
                .collect();
            for i in 0..n {
                let spec: f64 = rng.gen_range(0.003..0.15);
                for j in 0..=i {
                    let s: f64 = (0..k).map(|f| load[i * k + f] * load[j * k + f]).sum();
                    cov[i * n + j] = s + if i == j { spec } else { 0.0 };
                }
            }
        }
        CovKind::Correlated => {
            let vol: Vec<f64> = (0..n).map(|_| rng.gen_range(0.05..0.6)).collect();
            for i in 0..n {
                for j in 0..=i {
                    let rho = if i == j { 1.0 } else { 0.95 };
                    cov[i * n + j] = rho * vol[i] * vol[j];
                }
            }
        }
        CovKind::IllConditioned => {
            // Q = H_1 … H_m (Householder reflections of random unit vectors), Σ = Q Λ Qᵀ.
            let mut q = vec![0.0; n * n];
            for i in 0..n {
                q[i * n + i] = 1.0;
            }
            let mut v = vec![0.0; n];
            for _ in 0..n {
                for vi in v.iter_mut() {
                    *vi = normal(&mut rng);
                }
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                for vi in v.iter_mut() {
                    *vi /= norm;
                }
                // Q ← Q (I − 2 v vᵀ).
                for row in q.chunks_exact_mut(n) {
                    let d: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
                    for (a, b) in row.iter_mut().zip(&v) {
                        *a -= 2.0 * d * b;
                    }
                }
            }
            let lam: Vec<f64> = (0..n)
                .map(|k| {
                    let t = if n > 1 {
                        k as f64 / (n - 1) as f64
                    } else {
                        0.0
                    };
                    0.09 * (-4.0 * t * std::f64::consts::LN_10).exp()
                })
                .collect();
            for i in 0..n {
                for j in 0..=i {
                    cov[i * n + j] = (0..n).map(|k| q[i * n + k] * lam[k] * q[j * n + k]).sum();
                }
            }
        }
    }
    symmetrize(&mut cov, n);
    cov
}

/// Unequal risk budgets: uniform on `[0.2, 1)`, normalized to sum to one.
#[must_use]
pub fn budgets(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n as u64);
    let raw: Vec<f64> = (0..n).map(|_| rng.gen_range(0.2..1.0)).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|x| x / total).collect()
}

/// One EWMA step `Σ' = λ Σ + (1 − λ) r rᵀ` of `cov` in place, with the return `r = L z` drawn
/// from `N(0, Σ)` (`L` the Cholesky factor of `cov`, `z` standard normal from `seed`). Returns
/// `r`.
///
/// # Panics
/// When `cov` is not positive definite.
pub fn ewma_step(cov: &mut [f64], n: usize, lambda: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut l = vec![0.0; n * n];
    risk_core::linalg::cholesky(cov, n, &mut l).expect("positive definite covariance");
    let z: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
    let r: Vec<f64> = (0..n)
        .map(|i| (0..=i).map(|k| l[i * n + k] * z[k]).sum())
        .collect();
    for i in 0..n {
        for j in 0..n {
            cov[i * n + j] = lambda * cov[i * n + j] + (1.0 - lambda) * r[i] * r[j];
        }
    }
    r
}
