//! Risk parity: long-only weights whose risk contributions `RCᵢ = wᵢ (Σw)ᵢ / wᵀΣw` equal given
//! budgets `bᵢ > 0` (`Σ bᵢ = 1`; equal budgets give equal risk contribution, ERC).
//!
//! Spinu's (2013) convex formulation: `x* = argmin ½ xᵀΣx − Σ bᵢ ln xᵢ` satisfies
//! `xᵢ (Σx)ᵢ = bᵢ`, so `w = x* / Σ x*` has `RCᵢ = bᵢ`. It is solved by Spinu's damped Newton
//! method from inverse-volatility weights ([`RiskParitySolver::solve`]) or from the previous
//! answer ([`RiskParitySolver::solve_warm`], for a rebalance after the covariance moved). Each
//! Newton system `(Σ + diag(b/x²)) Δ = ∇` is solved by conjugate gradient preconditioned by its
//! diagonal, only as accurately as the current error needs (inexact Newton), with `O(n²)` per
//! iteration and no factorization; `Σx` follows the steps from the same products. An
//! ill-conditioned matrix whose Newton systems need many iterations falls back to a Cholesky
//! factorization per step. The method before, cyclical coordinate descent (each coordinate in
//! closed form, Griveau-Billion, Richard & Roncalli 2013) then Newton with Cholesky, stays
//! available ([`RiskParitySolver::with_cholesky_newton`], [`NewtonSystem::Cholesky`],
//! `max_sweeps`). Iteration stops when every contribution is within `tolerance` (default 1e-12)
//! of its budget, relative, on an exact `Σx`.
//!
//! [`RiskParitySolver`] owns its buffers, sized once for up to `n_max` assets; `solve` and
//! `solve_warm` do not allocate.

use crate::linalg::{self, LinalgError};
use thiserror::Error;

mod cg;

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
    /// Conjugate-gradient iterations over all Newton steps (each one product `Σp`); zero with
    /// [`NewtonSystem::Cholesky`].
    pub cg_iterations: u32,
}

/// How a Newton step solves its linear system `(Σ + diag(b/x²)) Δ = g`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewtonSystem {
    /// Conjugate gradient preconditioned by the system's diagonal (Jacobi), stopped once the
    /// residual is small against the current contribution error (an inexact Newton method that
    /// keeps quadratic convergence). `O(n²)` per iteration and no factorization: scaled by its
    /// diagonal the Hessian is well conditioned for ordinary covariances, and a few iterations per
    /// step suffice. When a step needs more than
    /// [`max_cg`](RiskParitySolver::max_cg) iterations (an ill-conditioned matrix with
    /// correlations of both signs), the rest of that solve uses [`NewtonSystem::Cholesky`].
    ConjugateGradient,
    /// A fresh Cholesky factorization per step, `O(n³/3)`: the method before conjugate gradient.
    Cholesky,
}

/// A risk-parity solver with buffers for up to `n_max` assets.
#[derive(Debug, Clone)]
pub struct RiskParitySolver {
    n_max: usize,
    /// The budgets `bᵢ` of the current solve and their inverses.
    budget: Vec<f64>,
    inv_budget: Vec<f64>,
    x: Vec<f64>,
    sx: Vec<f64>,
    grad: Vec<f64>,
    hess: Vec<f64>,
    /// `bᵢ / xᵢ²`, the barrier's part of the Hessian.
    barrier: Vec<f64>,
    /// Conjugate gradient's buffers, the Newton direction `Δ` and `ΣΔ` among them.
    cg: cg::CgWork,
    /// Relative tolerance on the risk contributions.
    pub tolerance: f64,
    /// Coordinate-descent sweeps before Newton (cold starts only).
    pub max_sweeps: u32,
    /// Newton steps allowed.
    pub max_newton: u32,
    /// Conjugate-gradient iterations allowed per Newton step before the solve falls back to
    /// Cholesky (see [`NewtonSystem::ConjugateGradient`]).
    pub max_cg: u32,
    /// How each Newton step is solved.
    pub newton_system: NewtonSystem,
}

impl RiskParitySolver {
    /// A solver for up to `n_max` assets (allocates `O(n_max²)` once). Defaults: tolerance 1e-12,
    /// no coordinate-descent sweeps, at most 50 Newton steps solved by conjugate gradient with at
    /// most `n_max / 4 + 10` iterations each before falling back to Cholesky.
    #[must_use]
    pub fn new(n_max: usize) -> Self {
        Self {
            n_max,
            budget: vec![0.0; n_max],
            inv_budget: vec![0.0; n_max],
            x: vec![0.0; n_max],
            sx: vec![0.0; n_max],
            grad: vec![0.0; n_max],
            hess: vec![0.0; n_max * n_max],
            barrier: vec![0.0; n_max],
            cg: cg::CgWork::new(n_max),
            tolerance: 1e-12,
            max_sweeps: 0,
            max_newton: 50,
            max_cg: u32::try_from(n_max / 4 + 10).unwrap_or(u32::MAX),
            newton_system: NewtonSystem::ConjugateGradient,
        }
    }

    /// The solver of the method used before conjugate gradient: up to 60 coordinate-descent
    /// sweeps, then Newton steps each with a fresh Cholesky factorization. Same answers to the
    /// tolerance, slower; kept as a reference and a baseline.
    #[must_use]
    pub fn with_cholesky_newton(n_max: usize) -> Self {
        Self {
            max_sweeps: 60,
            newton_system: NewtonSystem::Cholesky,
            ..Self::new(n_max)
        }
    }

    /// Weights for `n` assets with covariance `cov` (row-major `n × n`, symmetric positive
    /// definite) and risk budgets `budgets` (`None` = equal), written to `weights` (summing to
    /// one). A cold start: inverse-volatility weights, whatever `weights` held.
    ///
    /// # Errors
    /// See [`RiskParityError`]. A matrix that is not positive definite is reported by the Newton
    /// phase (non-positive curvature in conjugate gradient, or a failed Cholesky factorization)
    /// or by non-convergence; use [`linalg::cholesky`] first to reject it up front.
    pub fn solve(
        &mut self,
        cov: &[f64],
        n: usize,
        budgets: Option<&[f64]>,
        weights: &mut [f64],
    ) -> Result<RiskParityReport, RiskParityError> {
        check_inputs(cov, n, self.n_max, budgets, weights)?;
        self.set_budgets(n, budgets);
        for (i, xi) in self.x[..n].iter_mut().enumerate() {
            *xi = self.budget[i] / cov[i * n + i].sqrt();
        }
        self.run(cov, n, weights, self.max_sweeps)
    }

    /// As [`solve`](Self::solve), starting from `weights` when it is a valid start: every element
    /// finite and positive (typically the previous answer, after the covariance moved by one
    /// update). The start is scaled so that `xᵀΣx = Σ bᵢ` (the best point on that ray) and the
    /// solver goes straight to Newton, skipping coordinate descent. Any other `weights` (a zero, a
    /// negative or a non-finite element, e.g. a freshly zeroed buffer) gives a cold start. On
    /// return `weights` holds the new answer, ready for the next call; on an error it is left as
    /// it was.
    ///
    /// # Errors
    /// As [`solve`](Self::solve).
    pub fn solve_warm(
        &mut self,
        cov: &[f64],
        n: usize,
        budgets: Option<&[f64]>,
        weights: &mut [f64],
    ) -> Result<RiskParityReport, RiskParityError> {
        check_inputs(cov, n, self.n_max, budgets, weights)?;
        if !weights.iter().all(|w| w.is_finite() && *w > 0.0) {
            return self.solve(cov, n, budgets, weights);
        }
        self.set_budgets(n, budgets);
        self.x[..n].copy_from_slice(weights);
        self.run(cov, n, weights, 0)
    }

    /// Copies the budgets (equal when `None`) and their inverses into the solver's buffers.
    fn set_budgets(&mut self, n: usize, budgets: Option<&[f64]>) {
        let equal = 1.0 / n as f64;
        for i in 0..n {
            self.budget[i] = budgets.map_or(equal, |b| b[i]);
            self.inv_budget[i] = self.budget[i].recip();
        }
    }

    /// Scales the start in `self.x` so that `xᵀΣx = 1`, runs at most `max_sweeps` sweeps of
    /// coordinate descent, then Newton; writes the normalized weights.
    fn run(
        &mut self,
        cov: &[f64],
        n: usize,
        weights: &mut [f64],
        max_sweeps: u32,
    ) -> Result<RiskParityReport, RiskParityError> {
        let b = &self.budget[..n];
        let inv_b = &self.inv_budget[..n];
        let x = &mut self.x[..n];
        let sx = &mut self.sx[..n];
        // Scale the start so that xᵀΣx = Σb = 1 (the minimum of the objective along the ray).
        linalg::mat_vec(cov, n, x, sx)?;
        // x is finite and positive, so Σx is finite unless Σ holds a NaN or an infinity (or
        // overflows): only then is the whole matrix scanned, saving that pass per solve.
        if linalg::first_non_finite(sx).is_some() {
            if let Some(e) = non_finite_element(cov, n) {
                return Err(e);
            }
        }
        let q = linalg::dot(x, sx);
        if !(q > 0.0) || !q.is_finite() {
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
        let mut err = residual(x, sx, inv_b);
        while err > tol && sweeps < max_sweeps {
            coordinate_sweep(cov, n, x, sx, b);
            sweeps += 1;
            // Refresh Σx exactly (drift from the incremental updates) and check.
            linalg::mat_vec(cov, n, x, sx)?;
            err = residual(x, sx, inv_b);
        }

        let mut system = self.newton_system;
        let mut newton_steps = 0;
        let mut cg_iterations = 0;
        // Whether `sx` was updated incrementally since the last exact product.
        let mut sx_drifted = false;
        let mut exact_sx = false;
        while newton_steps < self.max_newton {
            if err <= tol {
                if !sx_drifted {
                    break;
                }
                // Confirm convergence on an exact Σx. When that fails, the incremental updates
                // drifted (cancellation in an ill-conditioned Σ): refresh Σx exactly from here.
                linalg::mat_vec(cov, n, x, sx)?;
                sx_drifted = false;
                err = residual(x, sx, inv_b);
                exact_sx = err > tol;
                continue;
            }
            // g = Σx − b/x, H = Σ + diag(b/x²); Δ = H⁻¹ g; damped step x ← x − tΔ.
            let grad = &mut self.grad[..n];
            let barrier = &mut self.barrier[..n];
            for i in 0..n {
                let inv = x[i].recip();
                grad[i] = b[i].mul_add(-inv, sx[i]);
                barrier[i] = b[i] * inv * inv;
            }
            match system {
                NewtonSystem::Cholesky => {
                    let hess = &mut self.hess[..n * n];
                    hess.copy_from_slice(cov);
                    for i in 0..n {
                        hess[i * n + i] += barrier[i];
                    }
                    linalg::cholesky_in_place(hess, n)?;
                    let step = &mut self.cg.step[..n];
                    step.copy_from_slice(grad);
                    linalg::cholesky_solve(hess, n, step)?;
                }
                NewtonSystem::ConjugateGradient => {
                    // Aim the linearized contribution error at err^1.75 (superlinear; measured
                    // fewer products in total than err², which over-solves the early steps), or
                    // at the tolerance when that is enough to finish.
                    let eta = (err.powf(0.75).max(tol / err)).min(0.5);
                    let (iterations, solved) =
                        self.cg.solve(cov, barrier, grad, eta, self.max_cg)?;
                    cg_iterations += iterations;
                    if !solved {
                        // Too ill-conditioned for the diagonal preconditioner: the capped
                        // direction still descends; factorize from the next step on.
                        system = NewtonSystem::Cholesky;
                    }
                }
            }
            let step = &self.cg.step[..n];
            // Newton decrement λ² = gᵀ H⁻¹ g; Spinu's damping 1/(1 + λ) far from the solution.
            let lam = linalg::dot(grad, step).max(0.0).sqrt();
            let mut t = if lam > 0.25 { 1.0 / (1.0 + lam) } else { 1.0 };
            // Stay strictly positive.
            for i in 0..n {
                if step[i] > 0.0 {
                    t = t.min(0.9 * x[i] / step[i]);
                }
            }
            for (xi, di) in x.iter_mut().zip(step.iter()) {
                *xi = (-t).mul_add(*di, *xi);
            }
            newton_steps += 1;
            if system == NewtonSystem::ConjugateGradient && !exact_sx {
                // Σ(x − tΔ) = Σx − t ΣΔ, with ΣΔ accumulated by conjugate gradient from the
                // same products: exact but for rounding, confirmed by a fresh product at the end.
                for (si, di) in sx.iter_mut().zip(&self.cg.s_step[..n]) {
                    *si = (-t).mul_add(*di, *si);
                }
                sx_drifted = true;
            } else {
                linalg::mat_vec(cov, n, x, sx)?;
                sx_drifted = false;
            }
            err = residual(x, sx, inv_b);
        }
        if sx_drifted {
            linalg::mat_vec(cov, n, x, sx)?;
            err = residual(x, sx, inv_b);
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
            cg_iterations,
        })
    }
}

/// One sweep of cyclical coordinate descent: each `xᵢ` set to the positive root of
/// `Σᵢᵢ xᵢ² + cᵢ xᵢ − bᵢ = 0` (`cᵢ = (Σx)ᵢ − Σᵢᵢ xᵢ`), `Σx` kept up to date incrementally.
fn coordinate_sweep(cov: &[f64], n: usize, x: &mut [f64], sx: &mut [f64], b: &[f64]) {
    for i in 0..n {
        let row = &cov[i * n..(i + 1) * n];
        let d = row[i];
        let c = sx[i] - d * x[i];
        let bi = b[i];
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
}

/// Checks the inputs of [`RiskParitySolver::solve`] (dimension, lengths, budgets positive and
/// normalized, a finite positive diagonal), in that order; the off-diagonal elements' finiteness
/// is checked by the solve's first product.
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
    // The off-diagonal elements are checked by the first product Σx of the solve, whose start is
    // finite and positive: a NaN or an infinity of Σ reaches Σx ([`non_finite_element`]).
    for i in 0..n {
        let d = cov[i * n + i];
        if !(d > 0.0 && d.is_finite()) {
            return Err(non_finite_element(cov, n)
                .unwrap_or(RiskParityError::BadCovariance { row: i, col: i }));
        }
    }
    Ok(())
}

/// The first NaN or infinite element of `cov` in row-major order, as an error.
fn non_finite_element(cov: &[f64], n: usize) -> Option<RiskParityError> {
    linalg::first_non_finite(cov).map(|k| RiskParityError::BadCovariance {
        row: k / n,
        col: k % n,
    })
}

/// Largest relative error `|RCᵢ / bᵢ − 1|` with `RCᵢ = xᵢ (Σx)ᵢ / xᵀΣx` (`inv_b` holds `1/bᵢ`);
/// infinite when an `xᵢ` is not positive or an error is NaN.
fn residual(x: &[f64], sx: &[f64], inv_b: &[f64]) -> f64 {
    let total = linalg::dot(x, sx);
    if !(total > 0.0) || !total.is_finite() {
        return f64::INFINITY;
    }
    let inv = total.recip();
    let mut worst = 0.0_f64;
    let mut min_x = f64::INFINITY;
    for ((&xi, &si), &ib) in x.iter().zip(sx).zip(inv_b) {
        // NaN-propagating on purpose: `NaN > worst` is false, so a NaN error is caught below.
        let e = ((xi * si) * (inv * ib) - 1.0).abs();
        worst = if e > worst || e.is_nan() { e } else { worst };
        min_x = min_x.min(xi);
    }
    if !(min_x > 0.0) || worst.is_nan() {
        f64::INFINITY
    } else {
        worst
    }
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
