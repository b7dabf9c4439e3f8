//! Factor paths: correlated GARCH(1,1) log-returns on a fixed time grid (constant conditional
//! correlation per regime), a correlation break and a volatility shock; and the realized
//! statistics of a window of them.
//!
//! Every transcendental function goes through `libm` (a pure-Rust port of musl's), so the paths
//! are the same bits on every platform: the frames rendered from them must be byte-identical.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Lower Cholesky factor of the row-major `k`×`k` matrix `a`; `None` when `a` is not positive
/// definite.
pub(super) fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = a[i * k + j];
            for p in 0..j {
                s -= l[i * k + p] * l[j * k + p];
            }
            if i == j {
                if !(s > 1e-9) {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// Standard normal draws (Box–Muller, both of each pair used).
#[derive(Debug, Default)]
pub(super) struct Normals {
    spare: Option<f64>,
}

impl Normals {
    pub(super) fn next(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
        let u2: f64 = rng.gen_range(0.0..1.0);
        let r = (-2.0 * libm::log(u1)).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare = Some(r * libm::sin(theta));
        r * libm::cos(theta)
    }
}

/// What the factor simulation needs, per grid step.
#[derive(Debug)]
pub(super) struct FactorModel {
    /// Factors.
    pub(super) k: usize,
    /// Grid steps.
    pub(super) steps: usize,
    /// Unconditional variance per step, per factor.
    pub(super) var_per_step: Vec<f64>,
    /// GARCH(1,1) `alpha`, `beta` per step.
    pub(super) alpha: f64,
    pub(super) beta: f64,
    /// Cholesky factors of the correlation before and from the break.
    pub(super) chol_before: Vec<f64>,
    pub(super) chol_after: Vec<f64>,
    /// First step of the after-break regime.
    pub(super) break_step: usize,
    /// Shock: factor, first step, end step (exclusive), volatility multiple.
    pub(super) shock: Option<(usize, usize, usize, f64)>,
}

impl FactorModel {
    /// Volatility multiple in force for factor `i` at step `n`.
    pub(super) fn shock_mult(&self, i: usize, n: usize) -> f64 {
        match self.shock {
            Some((f, a, b, m)) if f == i && (a..b).contains(&n) => m,
            _ => 1.0,
        }
    }

    /// Log price of each factor relative to its start, at grid points `0..=steps`, row-major
    /// (`x[n * k + i]`). The GARCH variance is fed the unshocked return, so the shock scales the
    /// volatility by exactly its multiple while it lasts and leaves no trace after.
    pub(super) fn simulate(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let k = self.k;
        let mut x = vec![0.0; (self.steps + 1) * k];
        let mut h = self.var_per_step.clone();
        let mut normals = Normals::default();
        let mut eps = vec![0.0; k];
        for n in 0..self.steps {
            let chol = if n < self.break_step {
                &self.chol_before
            } else {
                &self.chol_after
            };
            for e in &mut eps {
                *e = normals.next(rng);
            }
            for i in 0..k {
                let z: f64 = (0..=i).map(|j| chol[i * k + j] * eps[j]).sum();
                let r = h[i].sqrt() * z;
                let omega = self.var_per_step[i] * (1.0 - self.alpha - self.beta);
                h[i] = omega + self.alpha * r * r + self.beta * h[i];
                x[(n + 1) * k + i] = x[n * k + i] + r * self.shock_mult(i, n);
            }
        }
        x
    }
}

/// Annualized volatility of each factor and their correlation over grid steps `from..to` of the
/// path `x` (zero-mean estimators: the sum of squared and cross returns, as for high-frequency
/// returns).
pub(super) fn window_stats(
    x: &[f64],
    k: usize,
    from: usize,
    to: usize,
    steps_per_year: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut s = vec![0.0; k * k];
    for n in from..to {
        for i in 0..k {
            let ri = x[(n + 1) * k + i] - x[n * k + i];
            for j in 0..k {
                s[i * k + j] += ri * (x[(n + 1) * k + j] - x[n * k + j]);
            }
        }
    }
    let count = to.saturating_sub(from).max(1) as f64;
    let vol = (0..k)
        .map(|i| (s[i * k + i] / count * steps_per_year).sqrt())
        .collect();
    let corr = (0..k * k)
        .map(|ij| {
            let (i, j) = (ij / k, ij % k);
            s[ij] / (s[i * k + i] * s[j * k + j]).sqrt()
        })
        .collect();
    (vol, corr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_reconstructs_and_rejects_indefinite() {
        let a = [1.0, 0.8, 0.7, 0.8, 1.0, 0.75, 0.7, 0.75, 1.0];
        let l = cholesky(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|p| l[i * 3 + p] * l[j * 3 + p]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[1.0, 0.9, 0.9, 0.9, 1.0, -0.9, 0.9, -0.9, 1.0], 3).is_none());
    }
}
