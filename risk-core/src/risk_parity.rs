//! Risk parity: long-only weights whose risk contributions `RCᵢ = wᵢ (Σw)ᵢ / wᵀΣw` equal given
//! budgets `bᵢ > 0` (`Σ bᵢ = 1`; equal budgets give equal risk contribution, ERC).
//!
//! Spinu's (2013) convex formulation: `x* = argmin ½ xᵀΣx − Σ bᵢ ln xᵢ` satisfies
//! `xᵢ (Σx)ᵢ = bᵢ`, so `w = x* / Σ x*` has `RCᵢ = bᵢ`. It is solved by cyclical coordinate
//! descent (each coordinate in closed form, `O(n)` per coordinate with a maintained `Σx`,
//! Griveau-Billion, Richard & Roncalli 2013), and when coordinate descent is slow (strong
//! correlations) by Spinu's damped Newton method with a Cholesky solve, which converges
//! quadratically. Iteration stops when every contribution is within `tolerance` (default 1e-12)
//! of its budget, relative.
//!
//! [`RiskParitySolver`] owns its buffers, sized once for up to `n_max` assets; `solve` does not
//! allocate.

use crate::linalg::{self, LinalgError};
use thiserror::Error;

/// Why a risk-parity solve failed.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum RiskParityError {
    /// Fewer than one asset, or more than the solver was sized for.
    #[error("{n} assets outside the solver's range 1..={n_max}")]
    BadDimension {
        /// Assets asked for.
        n: usize,
        /// Capacity of the solver.
        n_max: usize,
    },
    /// A buffer has the wrong length.
    #[error("{what} has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Which argument.
        what: &'static str,
        /// Elements expected.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// A covariance element is not finite, or a variance is not positive.
    #[error("covariance element ({row}, {col}) is not finite or the variance is not positive")]
    BadCovariance {
        /// Zero-based row.
        row: usize,
        /// Zero-based column.
        col: usize,
    },
    /// A budget is not a positive finite number.
    #[error("budget {index} = {value} is not positive")]
    BadBudget {
        /// Zero-based asset.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Budgets do not sum to one (within 1e-9).
    #[error("budgets sum to {sum}, not 1")]
    BudgetsNotNormalized {
        /// Their sum.
        sum: f64,
    },
    /// The covariance matrix is not positive definite.
    #[error(transparent)]
    Linalg(#[from] LinalgError),
    /// No convergence within the iteration limits (happens only for a covariance matrix that is
    /// not positive definite or extremely ill-conditioned).
    #[error("no convergence: largest relative contribution error {max_rel_error:e}")]
    NoConvergence {
        /// Largest `|RCᵢ − bᵢ| / bᵢ` reached.
        max_rel_error: f64,
    },
}

/// Diagnostics of a solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskParityReport {
    /// Coordinate-descent sweeps.
    pub sweeps: u32,
    /// Newton steps.
    pub newton_steps: u32,
    /// Largest `|RCᵢ − bᵢ| / bᵢ` at the solution.
    pub max_rel_error: f64,
    /// Portfolio variance `wᵀΣw` of the returned weights.
    pub variance: f64,
}

/// A risk-parity solver with buffers for up to `n_max` assets.
#[derive(Debug, Clone)]
pub struct RiskParitySolver {
    n_max: usize,
    x: Vec<f64>,
    sx: Vec<f64>,
    grad: Vec<f64>,
    hess: Vec<f64>,
    /// Relative tolerance on the risk contributions.
    pub tolerance: f64,
    /// Coordinate-descent sweeps before switching to Newton.
    pub max_sweeps: u32,
    /// Newton steps allowed.
    pub max_newton: u32,
}

impl RiskParitySolver {
    /// A solver for up to `n_max` assets (allocates `O(n_max²)` once).
    #[must_use]
    pub fn new(n_max: usize) -> Self {
        Self {
            n_max,
            x: vec![0.0; n_max],
            sx: vec![0.0; n_max],
            grad: vec![0.0; n_max],
            hess: vec![0.0; n_max * n_max],
            tolerance: 1e-12,
            max_sweeps: 60,
            max_newton: 50,
        }
    }

    /// Weights for `n` assets with covariance `cov` (row-major `n × n`, symmetric positive
    /// definite) and risk budgets `budgets` (`None` = equal), written to `weights` (summing to
    /// one).
    ///
    /// # Errors
    /// See [`RiskParityError`]. A matrix that is not positive definite is reported by the Newton
    /// phase's Cholesky factorization or by non-convergence; use
    /// [`linalg::cholesky`] first to reject it up front.
    pub fn solve(
        &mut self,
        cov: &[f64],
        n: usize,
        budgets: Option<&[f64]>,
        weights: &mut [f64],
    ) -> Result<RiskParityReport, RiskParityError> {
        check_inputs(cov, n, self.n_max, budgets, weights)?;
        let equal = 1.0 / n as f64;
        let budget = |i: usize| budgets.map_or(equal, |b| b[i]);

        let x = &mut self.x[..n];
        let sx = &mut self.sx[..n];
        // Start from inverse-volatility weights scaled so that xᵀΣx = Σb = 1.
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = budget(i) / cov[i * n + i].sqrt();
        }
        linalg::mat_vec(cov, n, x, sx)?;
        let q = linalg::dot(x, sx);
        if !(q > 0.0) {
            return Err(RiskParityError::Linalg(LinalgError::NotPositiveDefinite {
                index: 0,
                pivot: q,
            }));
        }
        let s = q.sqrt().recip();
        for (xi, sxi) in x.iter_mut().zip(sx.iter_mut()) {
            *xi *= s;
            *sxi *= s;
        }

        let tol = self.tolerance;
        let mut sweeps = 0;
        let mut err = residual(x, sx, &budget);
        while err > tol && sweeps < self.max_sweeps {
            for i in 0..n {
                let row = &cov[i * n..(i + 1) * n];
                let d = row[i];
                let c = sx[i] - d * x[i];
                let bi = budget(i);
                // Positive root of d·x² + c·x − b = 0, written without cancellation.
                let root = c.mul_add(c, 4.0 * d * bi).sqrt();
                let xi = if c > 0.0 {
                    2.0 * bi / (c + root)
                } else {
                    (root - c) / (2.0 * d)
                };
                let delta = xi - x[i];
                if delta != 0.0 {
                    for (sk, &rk) in sx.iter_mut().zip(row) {
                        *sk = rk.mul_add(delta, *sk);
                    }
                    x[i] = xi;
                }
            }
            sweeps += 1;
            // Refresh Σx exactly (drift from the incremental updates) and check.
            linalg::mat_vec(cov, n, x, sx)?;
            err = residual(x, sx, &budget);
        }

        let mut newton_steps = 0;
        while err > tol && newton_steps < self.max_newton {
            // g = Σx − b/x, H = Σ + diag(b/x²); Δ = H⁻¹ g; damped step x ← x − Δ/(1 + λ).
            let hess = &mut self.hess[..n * n];
            hess.copy_from_slice(cov);
            let grad = &mut self.grad[..n];
            for i in 0..n {
                let bi = budget(i);
                grad[i] = sx[i] - bi / x[i];
                hess[i * n + i] += bi / (x[i] * x[i]);
            }
            linalg::cholesky_in_place(hess, n)?;
            linalg::cholesky_solve(hess, n, grad)?;
            // Newton decrement λ² = gᵀ H⁻¹ g.
            let mut lam2 = 0.0;
            for i in 0..n {
                lam2 += (sx[i] - budget(i) / x[i]) * grad[i];
            }
            let lam = lam2.max(0.0).sqrt();
            let mut step = if lam > 0.25 { 1.0 / (1.0 + lam) } else { 1.0 };
            // Stay strictly positive.
            for i in 0..n {
                if grad[i] > 0.0 {
                    step = step.min(0.9 * x[i] / grad[i]);
                }
            }
            for i in 0..n {
                x[i] -= step * grad[i];
            }
            newton_steps += 1;
            linalg::mat_vec(cov, n, x, sx)?;
            err = residual(x, sx, &budget);
        }
        if !(err <= tol) {
            return Err(RiskParityError::NoConvergence { max_rel_error: err });
        }
        let sum: f64 = x.iter().sum();
        for (w, xi) in weights.iter_mut().zip(x.iter()) {
            *w = xi / sum;
        }
        let variance = linalg::dot(x, sx) / (sum * sum);
        Ok(RiskParityReport {
            sweeps,
            newton_steps,
            max_rel_error: err,
            variance,
        })
    }
}

/// Checks the inputs of [`RiskParitySolver::solve`] (dimension, lengths, budgets positive and
/// normalized, covariance finite with a positive diagonal), in that order.
fn check_inputs(
    cov: &[f64],
    n: usize,
    n_max: usize,
    budgets: Option<&[f64]>,
    weights: &[f64],
) -> Result<(), RiskParityError> {
    if n == 0 || n > n_max {
        return Err(RiskParityError::BadDimension { n, n_max });
    }
    if cov.len() != n * n {
        return Err(RiskParityError::LengthMismatch {
            what: "covariance",
            expected: n * n,
            got: cov.len(),
        });
    }
    if weights.len() != n {
        return Err(RiskParityError::LengthMismatch {
            what: "weights",
            expected: n,
            got: weights.len(),
        });
    }
    if let Some(b) = budgets {
        if b.len() != n {
            return Err(RiskParityError::LengthMismatch {
                what: "budgets",
                expected: n,
                got: b.len(),
            });
        }
        let mut sum = 0.0;
        for (index, &value) in b.iter().enumerate() {
            if !(value > 0.0 && value.is_finite()) {
                return Err(RiskParityError::BadBudget { index, value });
            }
            sum += value;
        }
        if (sum - 1.0).abs() > 1e-9 {
            return Err(RiskParityError::BudgetsNotNormalized { sum });
        }
    }
    for i in 0..n {
        for j in 0..n {
            let v = cov[i * n + j];
            if !v.is_finite() || (i == j && !(v > 0.0)) {
                return Err(RiskParityError::BadCovariance { row: i, col: j });
            }
        }
    }
    Ok(())
}

/// Largest relative error `|RCᵢ / bᵢ − 1|` with `RCᵢ = xᵢ (Σx)ᵢ / xᵀΣx`.
fn residual(x: &[f64], sx: &[f64], budget: &impl Fn(usize) -> f64) -> f64 {
    let total = linalg::dot(x, sx);
    if !(total > 0.0) || !total.is_finite() {
        return f64::INFINITY;
    }
    let inv = total.recip();
    let mut worst = 0.0_f64;
    for (i, (&xi, &si)) in x.iter().zip(sx).enumerate() {
        if !(xi > 0.0) {
            return f64::INFINITY;
        }
        let e = (xi * si * inv / budget(i) - 1.0).abs();
        worst = worst.max(if e.is_nan() { f64::INFINITY } else { e });
    }
    worst
}

/// Risk contributions of weights `w` as shares of total risk (`wᵢ (Σw)ᵢ / wᵀΣw`, summing to
/// one), written to `out`; returns the portfolio variance `wᵀΣw`.
///
/// # Errors
/// [`LinalgError::DimensionMismatch`] on a length mismatch.
pub fn risk_contributions(
    cov: &[f64],
    n: usize,
    w: &[f64],
    out: &mut [f64],
) -> Result<f64, LinalgError> {
    linalg::mat_vec(cov, n, w, out)?;
    let var = linalg::dot(w, out);
    for (o, wi) in out.iter_mut().zip(w) {
        *o = wi * *o / var;
    }
    Ok(var)
}

/// Convenience: equal-risk-contribution or budgeted weights, allocating a solver.
///
/// # Errors
/// As [`RiskParitySolver::solve`].
pub fn risk_parity_weights(
    cov: &[f64],
    n: usize,
    budgets: Option<&[f64]>,
) -> Result<Vec<f64>, RiskParityError> {
    let mut solver = RiskParitySolver::new(n);
    let mut w = vec![0.0; n];
    solver.solve(cov, n, budgets, &mut w)?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Maillard, Roncalli & Teiletche (2010), section 3.2: σ = (10 %, 20 %, 30 %, 40 %), constant
    /// correlation ρ gives ERC weights ∝ 1/σ = (48 %, 24 %, 16 %, 12 %).
    #[test]
    fn constant_correlation_gives_inverse_vol() {
        let sig = [0.1, 0.2, 0.3, 0.4];
        let rho = 0.5;
        let mut cov = [0.0; 16];
        for i in 0..4 {
            for j in 0..4 {
                cov[i * 4 + j] = sig[i] * sig[j] * if i == j { 1.0 } else { rho };
            }
        }
        let w = risk_parity_weights(&cov, 4, None).unwrap();
        for (wi, want) in w.iter().zip([0.48, 0.24, 0.16, 0.12]) {
            assert!((wi - want).abs() < 1e-12, "{wi} vs {want}");
        }
    }

    #[test]
    fn newton_phase_alone_converges() {
        let n = 5;
        let mut cov = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let (si, sj) = (0.1 + 0.05 * i as f64, 0.1 + 0.05 * j as f64);
                cov[i * n + j] = si
                    * sj
                    * if i == j {
                        1.0
                    } else {
                        0.9_f64.powi((i as i32 - j as i32).abs())
                    };
            }
        }
        let b = [0.1, 0.2, 0.3, 0.15, 0.25];
        let mut s = RiskParitySolver::new(n);
        s.max_sweeps = 0;
        let mut w = vec![0.0; n];
        let rep = s.solve(&cov, n, Some(&b), &mut w).unwrap();
        assert!(rep.newton_steps > 0 && rep.sweeps == 0);
        let mut rc = vec![0.0; n];
        risk_contributions(&cov, n, &w, &mut rc).unwrap();
        for (r, bi) in rc.iter().zip(b) {
            assert!((r / bi - 1.0).abs() < 1e-10);
        }
    }

    #[test]
    fn rejects_bad_budgets_and_matrices() {
        let cov = [1.0, 0.2, 0.2, 1.0];
        let mut w = [0.0; 2];
        let mut s = RiskParitySolver::new(2);
        assert!(matches!(
            s.solve(&cov, 2, Some(&[0.5, 0.6]), &mut w),
            Err(RiskParityError::BudgetsNotNormalized { .. })
        ));
        assert!(matches!(
            s.solve(&cov, 2, Some(&[1.0, 0.0]), &mut w),
            Err(RiskParityError::BadBudget { index: 1, .. })
        ));
        assert!(matches!(
            s.solve(&[1.0, 0.2, 0.2, -1.0], 2, None, &mut w),
            Err(RiskParityError::BadCovariance { row: 1, col: 1 })
        ));
        assert!(matches!(
            s.solve(&cov, 3, None, &mut w),
            Err(RiskParityError::BadDimension { .. })
        ));
    }
}
