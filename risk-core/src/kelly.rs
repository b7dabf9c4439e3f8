//! Kelly sizing: the fraction of capital that maximizes expected log growth.
//!
//! - Continuous, one asset: `f = (μ − r) / σ²` ([`continuous`]).
//! - Discrete bet won with probability `p` at net odds `b`: `f = p − (1 − p) / b` ([`discrete`]).
//! - Many assets: `f = Σ⁻¹ (μ − r)` through a Cholesky solve, never an explicit inverse
//!   ([`KellySolver`]); a singular or indefinite Σ is an error.
//! - Fractional Kelly `c ∈ (0, 1]` and a gross-leverage cap `Σ |fᵢ| ≤ L` (scaling all positions
//!   down together, which keeps the direction of the Kelly portfolio).
//! - Estimation error: shrinkage of μ toward a common target ([`shrink_mean`],
//!   [`bayes_stein_intensity`]) and of Σ toward a diagonal or constant-correlation target
//!   ([`shrink_covariance`], [`ledoit_wolf`]).
//!
//! μ, r and Σ must be in the same units (e.g. annualized); fractions are multiples of capital.

use crate::linalg::{self, LinalgError};
use thiserror::Error;

/// Why a Kelly computation refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum KellyError {
    /// σ or a variance is not a positive finite number.
    #[error("variance must be positive and finite, got {0}")]
    NonPositiveVariance(f64),
    /// A probability outside [0, 1].
    #[error("probability must be in [0, 1], got {0}")]
    BadProbability(f64),
    /// Net odds not positive.
    #[error("net odds must be positive, got {0}")]
    BadOdds(f64),
    /// A Kelly fraction outside (0, 1].
    #[error("Kelly fraction must be in (0, 1], got {0}")]
    BadFraction(f64),
    /// A leverage cap that is not positive.
    #[error("leverage cap must be positive, got {0}")]
    BadLeverage(f64),
    /// A shrinkage intensity outside [0, 1].
    #[error("shrinkage intensity must be in [0, 1], got {0}")]
    BadIntensity(f64),
    /// A mean or rate is not finite.
    #[error("input {index} is not finite")]
    NonFinite {
        /// Zero-based index (0 for scalars).
        index: usize,
    },
    /// Dimensions disagree, or a sample is too short.
    #[error("dimension mismatch: {what} has {got}, expected {expected}")]
    DimensionMismatch {
        /// Which argument.
        what: &'static str,
        /// Expected count.
        expected: usize,
        /// Given count.
        got: usize,
    },
    /// Σ is singular, indefinite, non-symmetric or not finite.
    #[error("covariance: {0}")]
    Covariance(#[from] LinalgError),
}

/// Continuous-time Kelly fraction of one asset: `(μ − r) / σ²` with `sigma` the volatility.
///
/// # Errors
/// [`KellyError::NonPositiveVariance`] for `σ ≤ 0` or non-finite, [`KellyError::NonFinite`] for a
/// non-finite μ or r.
pub fn continuous(mu: f64, rf: f64, sigma: f64) -> Result<f64, KellyError> {
    continuous_from_variance(mu, rf, sigma * sigma)
}

/// As [`continuous`] from the variance `σ²`.
///
/// # Errors
/// As [`continuous`].
pub fn continuous_from_variance(mu: f64, rf: f64, var: f64) -> Result<f64, KellyError> {
    if !(var > 0.0 && var.is_finite()) {
        return Err(KellyError::NonPositiveVariance(var));
    }
    if !mu.is_finite() || !rf.is_finite() {
        return Err(KellyError::NonFinite { index: 0 });
    }
    Ok((mu - rf) / var)
}

/// Discrete Kelly stake of a bet won with probability `p` paying `b` per unit staked (net odds):
/// `p − (1 − p) / b`. Negative means the bet should not be taken (or taken on the other side).
///
/// # Errors
/// [`KellyError::BadProbability`], [`KellyError::BadOdds`].
pub fn discrete(p: f64, b: f64) -> Result<f64, KellyError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(KellyError::BadProbability(p));
    }
    if !(b > 0.0 && b.is_finite()) {
        return Err(KellyError::BadOdds(b));
    }
    Ok(p - (1.0 - p) / b)
}

/// Fractional Kelly `c · f`.
///
/// # Errors
/// [`KellyError::BadFraction`] unless `0 < c ≤ 1`.
pub fn fractional(f: f64, c: f64) -> Result<f64, KellyError> {
    if !(c > 0.0 && c <= 1.0) {
        return Err(KellyError::BadFraction(c));
    }
    Ok(c * f)
}

/// Scale `f` down so that its gross leverage `Σ |fᵢ|` is at most `max_gross`; returns the gross
/// leverage before scaling.
pub fn cap_gross_leverage(f: &mut [f64], max_gross: f64) -> f64 {
    let gross: f64 = f.iter().map(|x| x.abs()).sum();
    if gross > max_gross && gross > 0.0 {
        let s = max_gross / gross;
        for x in f.iter_mut() {
            *x *= s;
        }
    }
    gross
}

/// Options of a many-asset Kelly solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KellyOptions {
    /// Risk-free rate `r`, same units as μ.
    pub rf: f64,
    /// Fractional Kelly `c ∈ (0, 1]` (1 = full Kelly).
    pub fraction: f64,
    /// Gross-leverage cap `L`, if any.
    pub max_gross_leverage: Option<f64>,
}

impl Default for KellyOptions {
    fn default() -> Self {
        Self {
            rf: 0.0,
            fraction: 1.0,
            max_gross_leverage: None,
        }
    }
}

/// What a many-asset solve did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KellyReport {
    /// Gross leverage `Σ |fᵢ|` of the (fractional) Kelly portfolio before the cap.
    pub gross_uncapped: f64,
    /// Whether the cap scaled the portfolio down.
    pub capped: bool,
}

/// Many-asset Kelly `f = c · Σ⁻¹ (μ − r)` with a reusable factor buffer (no allocation per
/// solve).
#[derive(Debug, Clone)]
pub struct KellySolver {
    n_max: usize,
    l: Vec<f64>,
}

impl KellySolver {
    /// A solver for up to `n_max` assets.
    #[must_use]
    pub fn new(n_max: usize) -> Self {
        Self {
            n_max,
            l: vec![0.0; n_max * n_max],
        }
    }

    /// Solve for `n = mu.len()` assets into `out`.
    ///
    /// # Errors
    /// [`KellyError::DimensionMismatch`] when `cov` is not `n × n`, `out` not `n` long or `n`
    /// exceeds the capacity; [`KellyError::Covariance`] for a non-symmetric, singular or
    /// indefinite Σ; [`KellyError::NonFinite`], [`KellyError::BadFraction`],
    /// [`KellyError::BadLeverage`].
    pub fn solve(
        &mut self,
        mu: &[f64],
        cov: &[f64],
        opts: &KellyOptions,
        out: &mut [f64],
    ) -> Result<KellyReport, KellyError> {
        let n = mu.len();
        if n == 0 || n > self.n_max {
            return Err(KellyError::DimensionMismatch {
                what: "assets",
                expected: self.n_max,
                got: n,
            });
        }
        if cov.len() != n * n {
            return Err(KellyError::DimensionMismatch {
                what: "covariance",
                expected: n * n,
                got: cov.len(),
            });
        }
        if out.len() != n {
            return Err(KellyError::DimensionMismatch {
                what: "output",
                expected: n,
                got: out.len(),
            });
        }
        if !(opts.fraction > 0.0 && opts.fraction <= 1.0) {
            return Err(KellyError::BadFraction(opts.fraction));
        }
        if let Some(l) = opts.max_gross_leverage {
            if !(l > 0.0) {
                return Err(KellyError::BadLeverage(l));
            }
        }
        if !opts.rf.is_finite() {
            return Err(KellyError::NonFinite { index: 0 });
        }
        if let Some(index) = mu.iter().position(|m| !m.is_finite()) {
            return Err(KellyError::NonFinite { index });
        }
        linalg::check_symmetric(cov, n)?;
        let l = &mut self.l[..n * n];
        linalg::cholesky(cov, n, l)?;
        for (o, m) in out.iter_mut().zip(mu) {
            *o = m - opts.rf;
        }
        linalg::cholesky_solve(l, n, out)?;
        for o in out.iter_mut() {
            *o *= opts.fraction;
        }
        let gross_uncapped = match opts.max_gross_leverage {
            Some(cap) => cap_gross_leverage(out, cap),
            None => out.iter().map(|x| x.abs()).sum(),
        };
        let capped = opts
            .max_gross_leverage
            .is_some_and(|cap| gross_uncapped > cap);
        Ok(KellyReport {
            gross_uncapped,
            capped,
        })
    }
}

/// Convenience: many-asset Kelly fractions, allocating.
///
/// # Errors
/// As [`KellySolver::solve`].
pub fn multi(mu: &[f64], cov: &[f64], opts: &KellyOptions) -> Result<Vec<f64>, KellyError> {
    let mut s = KellySolver::new(mu.len());
    let mut out = vec![0.0; mu.len()];
    s.solve(mu, cov, opts, &mut out)?;
    Ok(out)
}

/// Target of mean shrinkage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MeanTarget {
    /// Shrink toward zero excess return.
    Zero,
    /// Shrink toward the cross-sectional average of μ.
    GrandMean,
    /// Shrink toward a given common value.
    Value(f64),
}

fn mean_target(mu: &[f64], target: MeanTarget) -> f64 {
    match target {
        MeanTarget::Zero => 0.0,
        MeanTarget::GrandMean => mu.iter().sum::<f64>() / mu.len().max(1) as f64,
        MeanTarget::Value(v) => v,
    }
}

/// Shrink μ in place: `μ ← (1 − δ) μ + δ μ₀`.
///
/// # Errors
/// [`KellyError::BadIntensity`] unless `0 ≤ δ ≤ 1`.
pub fn shrink_mean(mu: &mut [f64], target: MeanTarget, intensity: f64) -> Result<(), KellyError> {
    if !(0.0..=1.0).contains(&intensity) {
        return Err(KellyError::BadIntensity(intensity));
    }
    let m0 = mean_target(mu, target);
    for m in mu.iter_mut() {
        *m = (1.0 - intensity).mul_add(*m, intensity * m0);
    }
    Ok(())
}

/// Jorion's (1986) Bayes–Stein intensity for means estimated from `t_obs` observations with
/// covariance Σ of one observation: `δ = (n + 2) / ((n + 2) + T (μ − μ₀)ᵀ Σ⁻¹ (μ − μ₀))`.
///
/// # Errors
/// [`KellyError::Covariance`] for a singular or indefinite Σ, dimension errors.
pub fn bayes_stein_intensity(
    mu: &[f64],
    cov: &[f64],
    t_obs: usize,
    target: MeanTarget,
) -> Result<f64, KellyError> {
    let n = mu.len();
    if cov.len() != n * n {
        return Err(KellyError::DimensionMismatch {
            what: "covariance",
            expected: n * n,
            got: cov.len(),
        });
    }
    let mut l = vec![0.0; n * n];
    linalg::cholesky(cov, n, &mut l)?;
    let m0 = mean_target(mu, target);
    let d: Vec<f64> = mu.iter().map(|m| m - m0).collect();
    let mut x = d.clone();
    linalg::cholesky_solve(&l, n, &mut x)?;
    let q = linalg::dot(&d, &x).max(0.0);
    let k = n as f64 + 2.0;
    Ok(k / (k + t_obs as f64 * q))
}

/// Target of covariance shrinkage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovTarget {
    /// The sample variances with zero covariances.
    Diagonal,
    /// The sample variances with the average sample correlation (Ledoit & Wolf 2004).
    ConstantCorrelation,
}

/// Write the shrinkage target `F` of `cov` into `out`.
fn target_matrix(cov: &[f64], n: usize, target: CovTarget, out: &mut [f64]) -> f64 {
    let mut rbar = 0.0;
    if target == CovTarget::ConstantCorrelation && n > 1 {
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    s += cov[i * n + j] / (cov[i * n + i] * cov[j * n + j]).sqrt();
                }
            }
        }
        rbar = s / (n * (n - 1)) as f64;
    }
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = if i == j {
                cov[i * n + i]
            } else {
                rbar * (cov[i * n + i] * cov[j * n + j]).sqrt()
            };
        }
    }
    rbar
}

/// `out = (1 − δ) Σ + δ F` for the chosen target `F`.
///
/// # Errors
/// [`KellyError::BadIntensity`], [`KellyError::DimensionMismatch`],
/// [`KellyError::NonPositiveVariance`] for a non-positive variance on the diagonal.
pub fn shrink_covariance(
    cov: &[f64],
    n: usize,
    target: CovTarget,
    intensity: f64,
    out: &mut [f64],
) -> Result<(), KellyError> {
    if !(0.0..=1.0).contains(&intensity) {
        return Err(KellyError::BadIntensity(intensity));
    }
    if cov.len() != n * n || out.len() != n * n {
        return Err(KellyError::DimensionMismatch {
            what: "covariance",
            expected: n * n,
            got: cov.len().min(out.len()),
        });
    }
    for i in 0..n {
        let v = cov[i * n + i];
        if !(v > 0.0 && v.is_finite()) {
            return Err(KellyError::NonPositiveVariance(v));
        }
    }
    target_matrix(cov, n, target, out);
    for (o, s) in out.iter_mut().zip(cov) {
        *o = (1.0 - intensity).mul_add(*s, intensity * *o);
    }
    Ok(())
}

/// A shrunk covariance estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct ShrunkCovariance {
    /// The shrunk matrix, row-major `n × n`.
    pub cov: Vec<f64>,
    /// The sample covariance (divided by `T`).
    pub sample: Vec<f64>,
    /// The estimated optimal intensity δ* ∈ [0, 1].
    pub intensity: f64,
}

/// Ledoit–Wolf shrinkage of the sample covariance of `returns` (`t × n`, row-major, one row per
/// observation) with the optimal intensity `δ* = max(0, min(1, (π − ρ) / γ / T))`: for the
/// constant-correlation target the estimator of Ledoit & Wolf (2004, "Honey, I shrunk the
/// sample covariance matrix"); for the diagonal target the same estimator with `ρ = Σ πᵢᵢ`
/// (the target's off-diagonal is zero and its diagonal is the sample's). The sample covariance
/// uses `1/T`, as in the paper.
///
/// # Errors
/// [`KellyError::DimensionMismatch`] when `returns.len() != t · n` or `t < 2`,
/// [`KellyError::NonFinite`], [`KellyError::NonPositiveVariance`] for a constant column.
pub fn ledoit_wolf(
    returns: &[f64],
    t: usize,
    n: usize,
    target: CovTarget,
) -> Result<ShrunkCovariance, KellyError> {
    if returns.len() != t * n || t < 2 || n == 0 {
        return Err(KellyError::DimensionMismatch {
            what: "returns",
            expected: t * n,
            got: returns.len(),
        });
    }
    if let Some(index) = returns.iter().position(|x| !x.is_finite()) {
        return Err(KellyError::NonFinite { index });
    }
    let tf = t as f64;
    let mut mean = vec![0.0; n];
    for row in returns.chunks_exact(n) {
        for (m, x) in mean.iter_mut().zip(row) {
            *m += x / tf;
        }
    }
    let xm: Vec<f64> = returns
        .chunks_exact(n)
        .flat_map(|row| row.iter().zip(&mean).map(|(x, m)| x - m))
        .collect();
    let mut s = vec![0.0; n * n];
    for row in xm.chunks_exact(n) {
        for i in 0..n {
            for j in 0..n {
                s[i * n + j] += row[i] * row[j] / tf;
            }
        }
    }
    for i in 0..n {
        if !(s[i * n + i] > 0.0) {
            return Err(KellyError::NonPositiveVariance(s[i * n + i]));
        }
    }
    let mut f = vec![0.0; n * n];
    let rbar = target_matrix(&s, n, target, &mut f);
    // π̂ᵢⱼ = (1/T) Σₜ ((xᵢₜ xⱼₜ) − sᵢⱼ)²; θ̂ᵢᵢ,ᵢⱼ = (1/T) Σₜ (xᵢₜ² − sᵢᵢ)(xᵢₜ xⱼₜ − sᵢⱼ).
    let mut pi = vec![0.0; n * n];
    let mut theta = vec![0.0; n * n];
    for row in xm.chunks_exact(n) {
        for i in 0..n {
            let a = row[i] * row[i] - s[i * n + i];
            for j in 0..n {
                let c = row[i] * row[j] - s[i * n + j];
                pi[i * n + j] += c * c / tf;
                theta[i * n + j] += a * c / tf;
            }
        }
    }
    let pi_hat: f64 = pi.iter().sum();
    let mut rho_hat: f64 = (0..n).map(|i| pi[i * n + i]).sum();
    if target == CovTarget::ConstantCorrelation {
        let mut off = 0.0;
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    off += (s[j * n + j] / s[i * n + i]).sqrt() * theta[i * n + j];
                }
            }
        }
        rho_hat += rbar * off;
    }
    let gamma_hat: f64 = s.iter().zip(&f).map(|(a, b)| (a - b) * (a - b)).sum();
    let intensity = if gamma_hat > 0.0 {
        ((pi_hat - rho_hat) / gamma_hat / tf).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let cov = s
        .iter()
        .zip(&f)
        .map(|(a, b)| (1.0 - intensity) * a + intensity * b)
        .collect();
    Ok(ShrunkCovariance {
        cov,
        sample: s,
        intensity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_asset_and_discrete_closed_forms() {
        assert!((continuous(0.08, 0.02, 0.2).unwrap() - 1.5).abs() < 1e-15);
        assert!((discrete(0.6, 1.0).unwrap() - 0.2).abs() < 1e-15);
        assert!((discrete(0.5, 2.0).unwrap() - 0.25).abs() < 1e-15);
        assert!(matches!(
            continuous(0.1, 0.0, 0.0),
            Err(KellyError::NonPositiveVariance(_))
        ));
        assert!(matches!(
            discrete(1.1, 1.0),
            Err(KellyError::BadProbability(_))
        ));
        assert!(matches!(discrete(0.5, 0.0), Err(KellyError::BadOdds(_))));
        assert!(matches!(
            fractional(1.0, 0.0),
            Err(KellyError::BadFraction(_))
        ));
        assert_eq!(fractional(2.0, 0.5).unwrap(), 1.0);
    }

    #[test]
    fn two_assets_match_the_explicit_inverse_and_cap_scales_uniformly() {
        let (s1, s2, rho) = (0.2, 0.3, 0.4);
        let cov = [s1 * s1, rho * s1 * s2, rho * s1 * s2, s2 * s2];
        let (e1, e2) = (0.06, 0.05);
        let det = cov[0] * cov[3] - cov[1] * cov[2];
        let want = [
            (cov[3] * e1 - cov[1] * e2) / det,
            (cov[0] * e2 - cov[2] * e1) / det,
        ];
        let f = multi(
            &[0.08, 0.07],
            &cov,
            &KellyOptions {
                rf: 0.02,
                ..KellyOptions::default()
            },
        )
        .unwrap();
        for (a, b) in f.iter().zip(want) {
            assert!((a / b - 1.0).abs() < 1e-12);
        }
        let opts = KellyOptions {
            rf: 0.02,
            fraction: 0.5,
            max_gross_leverage: Some(0.5),
        };
        let mut s = KellySolver::new(2);
        let mut out = [0.0; 2];
        let rep = s.solve(&[0.08, 0.07], &cov, &opts, &mut out).unwrap();
        assert!(rep.capped);
        assert!((out[0].abs() + out[1].abs() - 0.5).abs() < 1e-14);
        assert!((out[0] / out[1] - want[0] / want[1]).abs() < 1e-12);
    }

    #[test]
    fn singular_and_indefinite_covariances_are_errors() {
        let e = multi(
            &[0.1, 0.1],
            &[0.04, 0.04, 0.04, 0.04],
            &KellyOptions::default(),
        );
        assert!(matches!(
            e,
            Err(KellyError::Covariance(
                LinalgError::NotPositiveDefinite { .. }
            ))
        ));
        let e = multi(
            &[0.1, 0.1],
            &[0.04, 0.05, 0.05, 0.04],
            &KellyOptions::default(),
        );
        assert!(matches!(e, Err(KellyError::Covariance(_))));
        let e = multi(&[0.1], &[0.04, 0.0], &KellyOptions::default());
        assert!(matches!(e, Err(KellyError::DimensionMismatch { .. })));
    }

    #[test]
    fn shrinkage_endpoints() {
        let cov = [0.04, 0.01, 0.01, 0.09];
        let mut out = [0.0; 4];
        shrink_covariance(&cov, 2, CovTarget::Diagonal, 1.0, &mut out).unwrap();
        assert_eq!(out, [0.04, 0.0, 0.0, 0.09]);
        shrink_covariance(&cov, 2, CovTarget::ConstantCorrelation, 0.0, &mut out).unwrap();
        assert_eq!(out, cov);
        let mut mu = [0.1, 0.3];
        shrink_mean(&mut mu, MeanTarget::GrandMean, 0.5).unwrap();
        assert!((mu[0] - 0.15).abs() < 1e-15 && (mu[1] - 0.25).abs() < 1e-15);
        let d = bayes_stein_intensity(&[0.1, 0.3], &cov, 100, MeanTarget::GrandMean).unwrap();
        assert!(d > 0.0 && d < 1.0);
    }
}
