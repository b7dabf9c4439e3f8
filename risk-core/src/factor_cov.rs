//! The online covariance of a portfolio's risk factors: one sample per tick of a fixed
//! receive-time clock (each factor's log return of its reference mid over the interval), an EWMA
//! of the return products per pair, and a shrunk, positive-definite matrix of the factors that
//! are ready, on demand.
//!
//! - **Masked, not zero-filled.** A factor without a return in a sample (not started yet, stale,
//!   its book gapped) passes NaN: its pairs are not updated at all, so its estimates neither
//!   decay nor learn a zero return. Each pair keeps its own weight `W_ij = Σ (1 − λ) λ^k` over
//!   the samples where both factors were present, and its estimate is `S_ij / W_ij`: the
//!   bias-corrected EWMA over those samples. A factor that started late is estimated from the
//!   samples it has; one that missed more than `max_missed` samples in a row, has fewer than
//!   `min_samples`, or shows no variance is left out of [`FactorCovariance::matrix`] until it is
//!   ready again.
//! - **Positive definite.** A matrix estimated pair by pair over different samples need not be
//!   positive semi-definite. [`FactorCovariance::matrix`] shrinks it toward a target (the constant
//!   correlation one by default, as Ledoit & Wolf 2004) with the configured intensity, and raises
//!   the intensity (halving the distance to 1) until a Cholesky factorization succeeds; if even the
//!   target fails (an average correlation of −1/(k−1) or below), the diagonal target is used.
//!   The intensity used is returned, so a decision can say it.
//!
//! Per sample, [`FactorCovariance::update`] costs one multiply-add per pair and per weight over the
//! upper triangle (contiguous rows when every factor is present), and allocates nothing; every
//! buffer is sized for `n` factors at construction.

use thiserror::Error;

use crate::kelly::CovTarget;
use crate::linalg::cholesky;

/// Why a factor covariance refused a setting or a sample.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum FactorCovError {
    /// The decay `λ` is outside (0, 1).
    #[error("EWMA decay {0} is outside (0, 1)")]
    BadLambda(f64),
    /// The configured shrinkage intensity is outside [0, 1].
    #[error("shrinkage intensity {0} is outside [0, 1]")]
    BadShrinkage(f64),
    /// No factors.
    #[error("a factor covariance needs at least one factor")]
    Empty,
    /// A buffer does not match the number of factors.
    #[error("{what}: expected {expected} elements, got {got}")]
    DimensionMismatch {
        /// Which buffer.
        what: &'static str,
        /// Elements expected (at least).
        expected: usize,
        /// Elements supplied.
        got: usize,
    },
    /// A return is infinite (NaN means "no return this sample" and is accepted).
    #[error("factor {factor}: infinite return")]
    Infinite {
        /// The factor's index.
        factor: usize,
    },
}

/// Settings of a [`FactorCovariance`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorCovConfig {
    /// EWMA decay per sample, (0, 1) (RiskMetrics: 0.94 for daily returns).
    pub lambda: f64,
    /// Samples a factor needs before it enters the matrix.
    pub min_samples: u32,
    /// Consecutive samples a factor may miss and still count as live.
    pub max_missed: u32,
    /// The shrinkage target.
    pub target: CovTarget,
    /// The shrinkage intensity applied to every matrix, [0, 1] (raised when needed for positive
    /// definiteness).
    pub shrinkage: f64,
}

impl Default for FactorCovConfig {
    fn default() -> Self {
        Self {
            lambda: 0.97,
            min_samples: 20,
            max_missed: 3,
            target: CovTarget::ConstantCorrelation,
            shrinkage: 0.1,
        }
    }
}

/// What [`FactorCovariance::matrix`] wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CovSnapshot {
    /// Factors in the matrix (its dimension `k`).
    pub k: usize,
    /// The shrinkage intensity used (the configured one, or more when the matrix needed it).
    pub intensity: f64,
    /// The target used (the diagonal one when the configured target was not positive definite).
    pub target: CovTarget,
}

/// The online, masked EWMA covariance of `n` factors. See the module docs.
#[derive(Debug, Clone)]
pub struct FactorCovariance {
    n: usize,
    cfg: FactorCovConfig,
    /// `Σ (1 − λ) λ^k r_i r_j` over co-observed samples; upper triangle, row-major `n × n`.
    s: Vec<f64>,
    /// `Σ (1 − λ) λ^k` over the same samples; upper triangle.
    w: Vec<f64>,
    /// Samples seen per factor.
    seen: Vec<u32>,
    /// Samples missed in a row per factor.
    missed: Vec<u32>,
    /// Scratch: the present factors of a sample.
    present: Vec<usize>,
    /// Scratch: the sample with missing returns as 0, and whether each is present.
    zeroed: Vec<f64>,
    keep: Vec<bool>,
    /// Scratch: the normalized matrix of the ready factors, `k × k`.
    raw: Vec<f64>,
    /// Scratch: a Cholesky factor, `k × k`.
    chol: Vec<f64>,
    /// Whether some sample had some factors but not all (then pairs have different weights and
    /// the estimate may be indefinite).
    partial: bool,
}

impl FactorCovariance {
    /// A covariance of `n` factors, none seen yet.
    ///
    /// # Errors
    /// [`FactorCovError::Empty`], [`FactorCovError::BadLambda`], [`FactorCovError::BadShrinkage`].
    pub fn new(n: usize, cfg: FactorCovConfig) -> Result<Self, FactorCovError> {
        if n == 0 {
            return Err(FactorCovError::Empty);
        }
        if !(cfg.lambda > 0.0 && cfg.lambda < 1.0) {
            return Err(FactorCovError::BadLambda(cfg.lambda));
        }
        if !(0.0..=1.0).contains(&cfg.shrinkage) {
            return Err(FactorCovError::BadShrinkage(cfg.shrinkage));
        }
        Ok(Self {
            n,
            cfg,
            s: vec![0.0; n * n],
            w: vec![0.0; n * n],
            seen: vec![0; n],
            missed: vec![0; n],
            present: Vec::with_capacity(n),
            zeroed: vec![0.0; n],
            keep: vec![false; n],
            raw: vec![0.0; n * n],
            chol: vec![0.0; n * n],
            partial: false,
        })
    }

    /// Number of factors.
    #[must_use]
    pub fn factors(&self) -> usize {
        self.n
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &FactorCovConfig {
        &self.cfg
    }

    /// Adds one sample: `returns[i]` is factor `i`'s log return over the sampling interval, NaN
    /// when it has none this sample. Nothing changes on an error.
    ///
    /// # Errors
    /// [`FactorCovError::DimensionMismatch`] when `returns.len() != n`,
    /// [`FactorCovError::Infinite`] for an infinite return.
    pub fn update(&mut self, returns: &[f64]) -> Result<(), FactorCovError> {
        let n = self.n;
        if returns.len() != n {
            return Err(FactorCovError::DimensionMismatch {
                what: "returns",
                expected: n,
                got: returns.len(),
            });
        }
        if let Some(factor) = returns.iter().position(|r| r.is_infinite()) {
            return Err(FactorCovError::Infinite { factor });
        }
        self.present.clear();
        for (i, r) in returns.iter().enumerate() {
            if r.is_nan() {
                self.missed[i] = self.missed[i].saturating_add(1);
            } else {
                self.present.push(i);
                self.seen[i] = self.seen[i].saturating_add(1);
                self.missed[i] = 0;
            }
        }
        if !self.present.is_empty() && self.present.len() < n {
            self.partial = true;
        }
        let lam = self.cfg.lambda;
        let c = 1.0 - lam;
        if self.present.len() == n {
            // Every factor present: whole rows of the upper triangle, contiguous.
            for i in 0..n {
                let ci = c * returns[i];
                let row = i * n + i..(i + 1) * n;
                for ((s, w), rj) in self.s[row.clone()]
                    .iter_mut()
                    .zip(&mut self.w[row])
                    .zip(&returns[i..])
                {
                    *s = lam.mul_add(*s, ci * rj);
                    *w = lam.mul_add(*w, c);
                }
            }
        } else {
            // Some missing: the same rows, each pair updated only where both are present (a
            // select per element, which vectorizes; the arithmetic is the full path's, so a pair
            // gets the same bits whichever path a sample takes).
            for (i, r) in returns.iter().enumerate() {
                self.keep[i] = !r.is_nan();
                self.zeroed[i] = if r.is_nan() { 0.0 } else { *r };
            }
            for &i in &self.present {
                let ci = c * returns[i];
                let row = i * n + i..(i + 1) * n;
                for (((s, w), rj), &kj) in self.s[row.clone()]
                    .iter_mut()
                    .zip(&mut self.w[row])
                    .zip(&self.zeroed[i..])
                    .zip(&self.keep[i..])
                {
                    let (s1, w1) = (lam.mul_add(*s, ci * rj), lam.mul_add(*w, c));
                    *s = if kj { s1 } else { *s };
                    *w = if kj { w1 } else { *w };
                }
            }
        }
        Ok(())
    }

    /// The EWMA estimate of the covariance of factors `i` and `j` over the samples where both were
    /// present; `None` before the first such sample or out of range.
    #[must_use]
    pub fn estimate(&self, i: usize, j: usize) -> Option<f64> {
        if i >= self.n || j >= self.n {
            return None;
        }
        let k = i.min(j) * self.n + i.max(j);
        (self.w[k] > 0.0).then(|| self.s[k] / self.w[k])
    }

    /// The EWMA estimates of every pair of `factors` (ascending indices, each below `n`) into
    /// `out` (row-major `k × k`, `k = factors.len()`; 0 for a pair never co-observed): the
    /// unshrunk block, without the bounds checks of [`Self::estimate`] per pair.
    ///
    /// # Errors
    /// [`FactorCovError::DimensionMismatch`] when `out` is shorter than `k × k`, a factor is out
    /// of range or the indices are not ascending.
    pub fn estimates_into(&self, factors: &[usize], out: &mut [f64]) -> Result<(), FactorCovError> {
        let k = factors.len();
        let sorted = factors.windows(2).all(|w| w[0] < w[1]);
        if out.len() < k * k || !sorted || factors.last().is_some_and(|&f| f >= self.n) {
            return Err(FactorCovError::DimensionMismatch {
                what: "factors",
                expected: self.n,
                got: k,
            });
        }
        let n = self.n;
        for (a, &fa) in factors.iter().enumerate() {
            let (s, w) = (&self.s[fa * n..(fa + 1) * n], &self.w[fa * n..(fa + 1) * n]);
            for (b, &fb) in factors.iter().enumerate().skip(a) {
                let v = if w[fb] > 0.0 { s[fb] / w[fb] } else { 0.0 };
                out[a * k + b] = v;
                out[b * k + a] = v;
            }
        }
        Ok(())
    }

    /// Whether factor `i` enters the matrix: at least `min_samples` samples, at most `max_missed`
    /// missed in a row, and a positive variance.
    #[must_use]
    pub fn is_ready(&self, i: usize) -> bool {
        i < self.n
            && self.seen[i] >= self.cfg.min_samples.max(1)
            && self.missed[i] <= self.cfg.max_missed
            && self
                .estimate(i, i)
                .is_some_and(|v| v > 0.0 && v.is_finite())
    }

    /// Writes the shrunk, positive-definite covariance of the ready factors into `out` (row-major
    /// `k × k`) and their indices, ascending, into `factors[..k]`. `k` may be 0 (nothing ready).
    ///
    /// # Errors
    /// [`FactorCovError::DimensionMismatch`] when `factors` is shorter than `n` or `out` than
    /// `n × n`.
    pub fn matrix(
        &mut self,
        factors: &mut [usize],
        out: &mut [f64],
    ) -> Result<CovSnapshot, FactorCovError> {
        let n = self.n;
        if factors.len() < n {
            return Err(FactorCovError::DimensionMismatch {
                what: "factors",
                expected: n,
                got: factors.len(),
            });
        }
        if out.len() < n * n {
            return Err(FactorCovError::DimensionMismatch {
                what: "out",
                expected: n * n,
                got: out.len(),
            });
        }
        let mut k = 0;
        for i in 0..n {
            if self.is_ready(i) {
                factors[k] = i;
                k += 1;
            }
        }
        let mut snap = CovSnapshot {
            k,
            intensity: self.cfg.shrinkage,
            target: self.cfg.target,
        };
        if k == 0 {
            return Ok(snap);
        }
        // Moved out for the call and back (an empty `Vec` allocates nothing).
        let mut raw = std::mem::take(&mut self.raw);
        let filled = self.estimates_into(&factors[..k], &mut raw);
        self.raw = raw;
        filled?;
        let raw = &self.raw[..k * k];
        let out = &mut out[..k * k];
        let chol = &mut self.chol[..k * k];
        // Standard deviations once (k square roots, not k²), and the mean correlation of the
        // constant-correlation target once for every intensity tried.
        let sd = &mut self.zeroed[..k];
        for (a, s) in sd.iter_mut().enumerate() {
            *s = raw[a * k + a].sqrt();
        }
        let mut rbar = 0.0;
        if k > 1 {
            let mut sum = 0.0;
            for a in 0..k {
                let row = &raw[a * k..(a + 1) * k];
                let mut r = 0.0;
                for b in (a + 1)..k {
                    r += row[b] / sd[b];
                }
                sum += r / sd[a];
            }
            rbar = 2.0 * sum / (k * (k - 1)) as f64;
        }
        // Every sample had every factor or none: the estimate is Σ wₜ rₜrₜᵀ / W, positive
        // semi-definite, and the target with −1/(k−1) < r̄ < 1 is positive definite, so
        // (1 − δ)S + δF has its least eigenvalue at least δ λmin(F) = δ min(1 − r̄, 1 + (k − 1)r̄)
        // min σ². When that clears the rounding of the matrix's entries by a wide margin
        // (64 k ε max σ²), the Cholesky check is skipped.
        let delta = self.cfg.shrinkage;
        if !self.partial && k == n && delta > 0.0 {
            let r = if self.cfg.target == CovTarget::ConstantCorrelation {
                rbar
            } else {
                0.0
            };
            let spread = (1.0 - r).min(1.0 + (k as f64 - 1.0) * r);
            let (lo, hi) = sd.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), x| {
                (lo.min(*x), hi.max(*x))
            });
            let margin = 64.0 * k as f64 * f64::EPSILON * hi * hi;
            if spread > 0.0 && delta * spread * lo * lo > margin {
                snap.target = self.cfg.target;
                snap.intensity = delta;
                let dr = delta * r;
                for a in 0..k {
                    let ta = dr * sd[a];
                    out[a * k + a] = raw[a * k + a];
                    for b in (a + 1)..k {
                        let v = (1.0 - delta).mul_add(raw[a * k + b], ta * sd[b]);
                        out[a * k + b] = v;
                        out[b * k + a] = v;
                    }
                }
                return Ok(snap);
            }
        }
        for target in [self.cfg.target, CovTarget::Diagonal] {
            snap.target = target;
            let r = if target == CovTarget::ConstantCorrelation {
                rbar
            } else {
                0.0
            };
            let mut delta = self.cfg.shrinkage;
            // Halving the distance to 1 each time: 1 − 2⁻⁶⁰ is 1 to working precision.
            for attempt in 0..=60 {
                if attempt == 60 {
                    delta = 1.0;
                }
                snap.intensity = delta;
                // out = (1 − δ) Σ + δ F, F's off-diagonal r·sdₐ·sd_b, its diagonal Σ's.
                let dr = delta * r;
                // Upper triangle, mirrored: the matrix is exactly symmetric.
                for a in 0..k {
                    let ta = dr * sd[a];
                    out[a * k + a] = raw[a * k + a];
                    for b in (a + 1)..k {
                        let v = (1.0 - delta).mul_add(raw[a * k + b], ta * sd[b]);
                        out[a * k + b] = v;
                        out[b * k + a] = v;
                    }
                }
                if cholesky(out, k, chol).is_ok() {
                    return Ok(snap);
                }
                delta += (1.0 - delta) / 2.0;
            }
        }
        // The diagonal target with positive variances is positive definite: not reached.
        Ok(snap)
    }
}
