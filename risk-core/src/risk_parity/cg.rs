//! The Newton system of the risk-parity solver, `(Σ + diag(h)) Δ = g`, by conjugate gradient
//! preconditioned by the system's diagonal (Jacobi).
//!
//! Scaled by its diagonal, the Hessian of Spinu's objective is well conditioned for ordinary
//! covariances (the barrier `bᵢ/xᵢ²` dominates where `Σ` is nearly singular), so each Newton step
//! needs a handful of `O(n²)` products `Σp` instead of an `O(n³)` factorization. Within one solve
//! only `h = b/x²` changes between steps.
//!
//! Tried and left out: deflation by the search directions of earlier Newton steps (Saad et al.
//! 2000), which saved two to four products per solve at 100 assets but cost as much in `O(mn)`
//! projections, and so was no faster.
//!
//! Nothing here allocates: [`CgWork`] owns every buffer, sized once.

use crate::linalg::{self, LinalgError};

/// The buffers of [`CgWork::solve`], sized for up to `n_max` assets.
#[derive(Debug, Clone)]
pub(super) struct CgWork {
    /// The solution `Δ` and its product `ΣΔ`.
    pub(super) step: Vec<f64>,
    pub(super) s_step: Vec<f64>,
    resid: Vec<f64>,
    z: Vec<f64>,
    dir: Vec<f64>,
    s_dir: Vec<f64>,
    h_dir: Vec<f64>,
    diag_inv: Vec<f64>,
}

impl CgWork {
    /// Buffers for up to `n_max` assets.
    pub(super) fn new(n_max: usize) -> Self {
        Self {
            step: vec![0.0; n_max],
            s_step: vec![0.0; n_max],
            resid: vec![0.0; n_max],
            z: vec![0.0; n_max],
            dir: vec![0.0; n_max],
            s_dir: vec![0.0; n_max],
            h_dir: vec![0.0; n_max],
            diag_inv: vec![0.0; n_max],
        }
    }

    /// Solves `(Σ + diag(h)) Δ = g` approximately from `Δ = 0`, preconditioned by
    /// `M = diag(Σᵢᵢ + hᵢ)`, until the residual's norm `√(rᵀ M⁻¹ r)` is at most `eta` times
    /// `√(gᵀ M⁻¹ g)` (at least one iteration), or `max_iter` iterations ran. Writes `Δ` to
    /// `self.step` and `ΣΔ` to `self.s_step` (accumulated from the same products `Σp`, so exact
    /// but for rounding); returns the iterations (each one product `Σp`) and whether the target
    /// was reached.
    ///
    /// Every iterate is a descent direction of the objective, so a capped solve still makes
    /// progress. Loops are element-wise or [`linalg::dot`] reductions, so they vectorize.
    ///
    /// # Errors
    /// [`LinalgError::NotPositiveDefinite`] when a search direction has non-positive (or
    /// non-finite) curvature `pᵀ H p`: the Hessian, hence `Σ`, is not positive definite.
    pub(super) fn solve(
        &mut self,
        cov: &[f64],
        h: &[f64],
        g: &[f64],
        eta: f64,
        max_iter: u32,
    ) -> Result<(u32, bool), LinalgError> {
        let n = g.len();
        let (h, step, s_step, resid, z) = (
            &h[..n],
            &mut self.step[..n],
            &mut self.s_step[..n],
            &mut self.resid[..n],
            &mut self.z[..n],
        );
        let (dir, s_dir, h_dir, diag_inv) = (
            &mut self.dir[..n],
            &mut self.s_dir[..n],
            &mut self.h_dir[..n],
            &mut self.diag_inv[..n],
        );
        for i in 0..n {
            diag_inv[i] = (cov[i * n + i] + h[i]).recip();
            step[i] = 0.0;
            s_step[i] = 0.0;
            resid[i] = g[i];
            z[i] = g[i] * diag_inv[i];
            dir[i] = z[i];
        }
        let mut rz = linalg::dot(resid, z);
        let target = eta * eta * rz;
        let mut iterations = 0;
        loop {
            if iterations > 0 && rz <= target {
                return Ok((iterations, true));
            }
            if iterations >= max_iter.max(1) {
                return Ok((iterations, false));
            }
            linalg::mat_vec(cov, n, dir, s_dir)?;
            for i in 0..n {
                h_dir[i] = h[i].mul_add(dir[i], s_dir[i]);
            }
            let curv = linalg::dot(dir, h_dir);
            if !(curv > 0.0) || !curv.is_finite() {
                return Err(LinalgError::NotPositiveDefinite {
                    index: 0,
                    pivot: curv,
                });
            }
            let alpha = rz / curv;
            for i in 0..n {
                step[i] = alpha.mul_add(dir[i], step[i]);
                s_step[i] = alpha.mul_add(s_dir[i], s_step[i]);
                resid[i] = (-alpha).mul_add(h_dir[i], resid[i]);
                z[i] = resid[i] * diag_inv[i];
            }
            let rz_next = linalg::dot(resid, z);
            let beta = rz_next / rz;
            for i in 0..n {
                dir[i] = beta.mul_add(dir[i], z[i]);
            }
            rz = rz_next;
            iterations += 1;
        }
    }
}
