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
//! - **Fixed or Ledoit–Wolf intensity.** [`Shrinkage::Fixed`] shrinks by a configured intensity;
//!   [`Shrinkage::LedoitWolf`] by Ledoit & Wolf's (2004, "Honey, I shrunk the sample covariance
//!   matrix") optimal one, estimated online (below), before any raise for positive definiteness.
//!
//! Per sample, [`FactorCovariance::update`] costs one multiply-add per pair and per weight over the
//! upper triangle (contiguous rows when every factor is present), and allocates nothing; every
//! buffer is sized for `n` factors at construction.
//!
//! # Ledoit–Wolf online
//!
//! The paper's intensity is `δ* = max(0, min(1, κ / T))`, `κ = (π − ρ) / γ`: `π = Σᵢⱼ πᵢⱼ` the
//! asymptotic variances of the sample covariances, `ρ = Σᵢ πᵢᵢ + Σᵢ≠ⱼ (r̄/2)(√(sⱼⱼ/sᵢᵢ) θᵢᵢ,ᵢⱼ +
//! √(sᵢᵢ/sⱼⱼ) θⱼⱼ,ᵢⱼ)` their asymptotic covariances with the target's entries, `γ = ‖F − S‖²` (the
//! Frobenius distance of the constant-correlation target `F`, mean correlation `r̄`, from the
//! sample `S`). Online, each is a weighted average over the same EWMA weights as the covariance:
//!
//! - **Zero mean**, as the covariance itself (`sᵢⱼ = E_w[rᵢrⱼ]`, the RiskMetrics convention for
//!   short-horizon returns): `πᵢⱼ = E_w[(rᵢrⱼ)²] − sᵢⱼ²` and `θᵢᵢ,ᵢⱼ = E_w[rᵢ³rⱼ] − sᵢᵢ sᵢⱼ`. Three
//!   more EWMA matrices per pair (`E_w[(rᵢrⱼ)²]`, `E_w[rᵢ³rⱼ]`, `E_w[rᵢrⱼ³]`), updated with the
//!   pair's own weights, so `πᵢⱼ` is exactly the weighted variance of `rᵢrⱼ` over the samples
//!   that estimated `sᵢⱼ`. On de-meaned returns with equal weights these are the paper's sums.
//! - **Effective sample size per pair**: the variance of a weighted mean of `T` iid terms with
//!   normalized weights `ŵ` is `σ² Σ ŵ²`, so the paper's `πᵢⱼ / T` becomes `πᵢⱼ / Tᵢⱼ` with
//!   Kish's `Tᵢⱼ = Wᵢⱼ² / Σ w²` over the pair's samples. A masked sample neither decays nor adds
//!   to a pair, so its weights are `c λᵏ` over its own `m` samples, `W = c(1 − λᵐ)/(1 − λ)`, and
//!   `Σ w²` follows from `W`: `Tᵢⱼ = W(1 + λ)/(2c − W(1 − λ))`, exact, with no matrix of squared
//!   weights to keep. In the steady state it is `(1 + λ)/(1 − λ)`; during warm-up it is about the
//!   number of samples, and for a pair that started late or missed samples it is that pair's
//!   own, so the noisiest pairs are not credited with samples they never had (the steady-state
//!   form would under-shrink exactly then). With equal weights (`λ = c = 1`) it is `m`.
//! - **Masking**: each pair's terms use its own weights and `Tᵢⱼ`, so
//!   `δ* = Σᵢ≠ⱼ (πᵢⱼ − ρᵢⱼ)/Tᵢⱼ / γ` (the diagonal terms cancel: `ρᵢᵢ = πᵢᵢ`), which is the paper's
//!   estimator when every pair has the same samples. Under masking `θᵢᵢ,ᵢⱼ` takes `sᵢᵢ` over
//!   factor `i`'s own samples (the plug-in of `Cov(rᵢ², rᵢrⱼ) = E[rᵢ³rⱼ] − E[rᵢ²]E[rᵢrⱼ]`), and the
//!   pair's `Tᵢⱼ` divides its `ρ` term too, where the exact divisor would mix the pair's and the
//!   factor's sample sets: an approximation in a term that is small beside `π`.
//! - **Cost**: the three moment matrices are kept only when Ledoit–Wolf is configured, updated
//!   by an `f64x4` kernel (with a scalar twin it is tested against, bit for bit) beside the
//!   covariance's own: five streams over the upper triangle instead of two, and the update is
//!   bound by moving them through the cache. The intensity costs `O(k²)` per
//!   [`FactorCovariance::matrix`], one division per pair.
//!
//! `γ = 0` gives `δ* = 1`, as the batch [`crate::kelly::ledoit_wolf`] does: the sample is its
//! target, so the matrix is the same whatever the intensity. That is always the case for one
//! factor, and for two toward constant correlation (the target's one correlation is the
//! sample's); γ within the rounding of the target's entries counts as 0.

use thiserror::Error;
use wide::{f64x4, CmpGt};

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

/// How the shrinkage intensity is chosen. Configured as a number (`shrinkage = 0.1`: fixed) or
/// `shrinkage = "ledoit-wolf"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shrinkage {
    /// A fixed intensity in [0, 1].
    Fixed(f64),
    /// Ledoit & Wolf's optimal intensity toward the target, estimated online from EWMA fourth
    /// moments (see the module docs). Costs three more multiply-adds per pair and sample.
    LedoitWolf,
}

impl Shrinkage {
    /// The configuration's spelling of [`Shrinkage::LedoitWolf`].
    pub const LEDOIT_WOLF: &'static str = "ledoit-wolf";
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Shrinkage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Shrinkage;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    "a fixed intensity in [0, 1] (a number) or `{}`",
                    Shrinkage::LEDOIT_WOLF
                )
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Shrinkage, E> {
                Ok(Shrinkage::Fixed(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Shrinkage, E> {
                // Integers as TOML writes them (`0`, `1`): exact in an `f64` up to 2⁵³, and
                // anything beyond is out of range anyway.
                Ok(Shrinkage::Fixed(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Shrinkage, E> {
                Ok(Shrinkage::Fixed(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Shrinkage, E> {
                if v == Shrinkage::LEDOIT_WOLF {
                    Ok(Shrinkage::LedoitWolf)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(Visit)
    }
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
    /// How the shrinkage intensity applied to every matrix is chosen (raised when needed for
    /// positive definiteness).
    pub shrinkage: Shrinkage,
}

impl Default for FactorCovConfig {
    fn default() -> Self {
        Self {
            lambda: 0.97,
            min_samples: 20,
            max_missed: 3,
            target: CovTarget::ConstantCorrelation,
            shrinkage: Shrinkage::Fixed(0.1),
        }
    }
}

/// What [`FactorCovariance::matrix`] wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CovSnapshot {
    /// Factors in the matrix (its dimension `k`).
    pub k: usize,
    /// The shrinkage intensity used: the fixed or the Ledoit–Wolf one, or more when the matrix
    /// needed it.
    pub intensity: f64,
    /// The target used (the diagonal one when the configured target was not positive definite).
    pub target: CovTarget,
}

/// The weights of one sample: what was decays by `lam`, the sample enters with weight `c`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Weights {
    lam: f64,
    c: f64,
}

/// The EWMA moments of Ledoit–Wolf's intensity, over the same pair weights as the covariance;
/// upper triangle, row-major `n × n`, like the covariance's sums.
#[derive(Debug, Clone)]
struct Moments {
    /// `Σ w (rᵢrⱼ)²`.
    q: Vec<f64>,
    /// `Σ w rᵢ³rⱼ` (`i ≤ j`).
    a: Vec<f64>,
    /// `Σ w rᵢrⱼ³`.
    b: Vec<f64>,
    /// Scratch: 1 where a factor has a return this sample, 0 where not.
    keep: Vec<f64>,
    /// Scratch: the block's variances and inverse standard deviations, `k` each.
    var: Vec<f64>,
    isd: Vec<f64>,
    /// Scratch: one row of the block's `W`, `Q`, `A`, `B`, when the ready factors are not all of
    /// them (gathered, so the row kernel reads contiguous lanes).
    rows: [Vec<f64>; 4],
}

impl Moments {
    fn new(n: usize) -> Self {
        Self {
            q: vec![0.0; n * n],
            a: vec![0.0; n * n],
            b: vec![0.0; n * n],
            keep: vec![0.0; n],
            var: vec![0.0; n],
            isd: vec![0.0; n],
            rows: std::array::from_fn(|_| vec![0.0; n]),
        }
    }
}

/// The online, masked EWMA covariance of `n` factors. See the module docs.
#[derive(Debug, Clone)]
pub struct FactorCovariance {
    n: usize,
    cfg: FactorCovConfig,
    /// The weights of a sample (`λ`, `1 − λ`).
    wt: Weights,
    /// `Σ (1 − λ) λ^k r_i r_j` over co-observed samples; upper triangle, row-major `n × n`.
    s: Vec<f64>,
    /// `Σ (1 − λ) λ^k` over the same samples; upper triangle.
    w: Vec<f64>,
    /// Ledoit–Wolf's moments, when configured.
    moments: Option<Moments>,
    /// Samples seen per factor.
    seen: Vec<u32>,
    /// Samples missed in a row per factor.
    missed: Vec<u32>,
    /// Scratch: the present factors of a sample.
    present: Vec<usize>,
    /// Scratch: the sample with missing returns as 0, and whether each is present.
    zeroed: Vec<f64>,
    keep: Vec<bool>,
    /// Scratch: the ready factors (for [`Self::ledoit_wolf_intensity`]).
    ready: Vec<usize>,
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
        if let Shrinkage::Fixed(d) = cfg.shrinkage {
            if !(0.0..=1.0).contains(&d) {
                return Err(FactorCovError::BadShrinkage(d));
            }
        }
        Ok(Self {
            n,
            cfg,
            wt: Weights {
                lam: cfg.lambda,
                c: 1.0 - cfg.lambda,
            },
            s: vec![0.0; n * n],
            w: vec![0.0; n * n],
            moments: (cfg.shrinkage == Shrinkage::LedoitWolf).then(|| Moments::new(n)),
            seen: vec![0; n],
            missed: vec![0; n],
            present: Vec::with_capacity(n),
            zeroed: vec![0.0; n],
            keep: vec![false; n],
            ready: Vec::with_capacity(n),
            raw: vec![0.0; n * n],
            chol: vec![0.0; n * n],
            partial: false,
        })
    }

    /// Equal weights (`λ = 1`, each sample entering with weight 1): the estimates become plain
    /// averages and Kish's effective size the count, so the online Ledoit–Wolf intensity can be
    /// checked against the batch one on the same samples.
    #[cfg(test)]
    fn with_equal_weights(mut self) -> Self {
        self.wt = Weights { lam: 1.0, c: 1.0 };
        self
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
        let Weights { lam, c } = self.wt;
        let all = self.present.len() == n;
        if all {
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
        if let Some(m) = self.moments.as_mut() {
            // The same rows again for Ledoit–Wolf's moments (the same weights per pair).
            if all {
                for i in 0..n {
                    let row = i * n + i..(i + 1) * n;
                    let rows = [&mut m.q[row.clone()], &mut m.a[row.clone()], &mut m.b[row]];
                    moments_row::<false>(rows, returns[i], &returns[i..], &[], self.wt);
                }
            } else {
                for (k, r) in m.keep.iter_mut().zip(returns) {
                    *k = if r.is_nan() { 0.0 } else { 1.0 };
                }
                for &i in &self.present {
                    let row = i * n + i..(i + 1) * n;
                    let rows = [&mut m.q[row.clone()], &mut m.a[row.clone()], &mut m.b[row]];
                    moments_row::<true>(rows, returns[i], &self.zeroed[i..], &m.keep[i..], self.wt);
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

    /// Kish's effective number of samples behind [`Self::estimate`]`(i, j)`: `W² / Σ w²` over the
    /// samples where both were present, `W(1 + λ)/(2(1 − λ) − W(1 − λ))` (about their count
    /// during warm-up, `(1 + λ)/(1 − λ)` in the steady state; see the module docs). `None` before
    /// the first such sample or out of range.
    #[must_use]
    pub fn effective_samples(&self, i: usize, j: usize) -> Option<f64> {
        if i >= self.n || j >= self.n {
            return None;
        }
        let w = self.w[i.min(j) * self.n + i.max(j)];
        let Kish { t1, t0 } = Kish::of(self.wt);
        (w > 0.0).then(|| 1.0 / (t1 / w - t0))
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

    /// Fills `raw[..k²]` with the EWMA block of `factors` (`k` of them, ready) and `zeroed[..k]`
    /// with their standard deviations; returns their mean correlation (0 for one factor).
    fn block(&mut self, factors: &[usize]) -> Result<f64, FactorCovError> {
        let k = factors.len();
        // Moved out for the call and back (an empty `Vec` allocates nothing).
        let mut raw = std::mem::take(&mut self.raw);
        let filled = self.estimates_into(factors, &mut raw);
        self.raw = raw;
        filled?;
        let raw = &self.raw[..k * k];
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
        Ok(rbar)
    }

    /// Ledoit–Wolf's optimal intensity toward the configured target for the matrix of the factors
    /// ready now: what [`Self::matrix`] starts from before any raise for positive definiteness
    /// (and what it reports when none is needed). `None` unless Ledoit–Wolf is configured, or
    /// when no factor is ready. Allocates nothing.
    pub fn ledoit_wolf_intensity(&mut self) -> Option<f64> {
        self.moments.as_ref()?;
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend((0..self.n).filter(|&i| self.is_ready(i)));
        let mut delta = None;
        if !ready.is_empty() {
            if let Ok(rbar) = self.block(&ready) {
                let k = ready.len();
                let r = if self.cfg.target == CovTarget::ConstantCorrelation {
                    rbar
                } else {
                    0.0
                };
                let blk = Block {
                    n: self.n,
                    w: &self.w,
                    kish: Kish::of(self.wt),
                    factors: &ready,
                    raw: &self.raw[..k * k],
                    sd: &self.zeroed[..k],
                };
                delta = self.moments.as_mut().map(|m| lw_intensity(&blk, m, r));
            }
        }
        self.ready = ready;
        delta
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
        let shrinkage = self.cfg.shrinkage;
        let mut snap = CovSnapshot {
            k,
            intensity: match shrinkage {
                Shrinkage::Fixed(d) => d,
                Shrinkage::LedoitWolf => 1.0,
            },
            target: self.cfg.target,
        };
        if k == 0 {
            return Ok(snap);
        }
        let rbar = self.block(&factors[..k])?;
        let blk = Block {
            n,
            w: &self.w,
            kish: Kish::of(self.wt),
            factors: &factors[..k],
            raw: &self.raw[..k * k],
            sd: &self.zeroed[..k],
        };
        let (raw, sd) = (blk.raw, blk.sd);
        let out = &mut out[..k * k];
        let chol = &mut self.chol[..k * k];
        let moments = &mut self.moments;
        // The intensity to start from toward the target of mean correlation `r`.
        let mut start = |r: f64| match (shrinkage, moments.as_mut()) {
            (Shrinkage::Fixed(d), _) => d,
            (Shrinkage::LedoitWolf, Some(m)) => lw_intensity(&blk, m, r),
            // Not reached: the moments are kept whenever Ledoit–Wolf is configured.
            (Shrinkage::LedoitWolf, None) => 1.0,
        };
        let target_r = |t: CovTarget| {
            if t == CovTarget::ConstantCorrelation {
                rbar
            } else {
                0.0
            }
        };
        let delta = start(target_r(self.cfg.target));
        // Every sample had every factor or none: the estimate is Σ wₜ rₜrₜᵀ / W, positive
        // semi-definite, and the target with −1/(k−1) < r̄ < 1 is positive definite, so
        // (1 − δ)S + δF has its least eigenvalue at least δ λmin(F) = δ min(1 − r̄, 1 + (k − 1)r̄)
        // min σ². When that clears the rounding of the matrix's entries by a wide margin
        // (64 k ε max σ²), the Cholesky check is skipped.
        if !self.partial && k == n && delta > 0.0 {
            let r = target_r(self.cfg.target);
            let spread = (1.0 - r).min(1.0 + (k as f64 - 1.0) * r);
            let (lo, hi) = sd.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), x| {
                (lo.min(*x), hi.max(*x))
            });
            let margin = 64.0 * k as f64 * f64::EPSILON * hi * hi;
            if spread > 0.0 && delta * spread * lo * lo > margin {
                snap.target = self.cfg.target;
                snap.intensity = delta;
                shrink_into(raw, sd, k, delta, r, out);
                return Ok(snap);
            }
        }
        for target in [self.cfg.target, CovTarget::Diagonal] {
            snap.target = target;
            let r = target_r(target);
            let mut delta = if target == self.cfg.target {
                delta
            } else {
                start(r)
            };
            // Halving the distance to 1 each time: 1 − 2⁻⁶⁰ is 1 to working precision.
            for attempt in 0..=60 {
                if attempt == 60 {
                    delta = 1.0;
                }
                snap.intensity = delta;
                shrink_into(raw, sd, k, delta, r, out);
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

/// `out = (1 − δ) Σ + δ F` for the `k × k` block `raw` with standard deviations `sd`, `F`'s
/// off-diagonal `r·sdₐ·sd_b` and its diagonal `raw`'s; the upper triangle, mirrored, so the
/// matrix is exactly symmetric.
fn shrink_into(raw: &[f64], sd: &[f64], k: usize, delta: f64, r: f64, out: &mut [f64]) {
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
}

/// Four consecutive elements as a vector (`x` has at least four).
#[inline]
fn lanes(x: &[f64]) -> f64x4 {
    f64x4::new([x[0], x[1], x[2], x[3]])
}

/// Stores `v` into the first four elements of `x`.
#[inline]
fn put(x: &mut [f64], v: f64x4) {
    x[..4].copy_from_slice(&v.to_array());
}

/// Row `i` of Ledoit–Wolf's moments from the diagonal on (`rows` = `Q`, `A`, `B`, each at least
/// `rj.len()` long), four pairs per step: for each `j` (`rj[j]` the return of factor `i + j`, 0
/// when missing), `q ← λq + c (rᵢrⱼ)²`, `a ← λa + c rᵢ³rⱼ` and `b ← λb + c rᵢrⱼ³`; with
/// `MASKED`, only where `keep[j] > 0` (elsewhere the pair neither decays nor learns, as its
/// covariance). [`moments_row_scalar`] is its scalar twin, bit for bit.
#[inline]
fn moments_row<const MASKED: bool>(
    rows: [&mut [f64]; 3],
    ri: f64,
    rj: &[f64],
    keep: &[f64],
    wt: Weights,
) {
    let len = rj.len();
    let [q, a, b] = rows;
    let (q, a, b) = (&mut q[..len], &mut a[..len], &mut b[..len]);
    let keep = if MASKED { &keep[..len] } else { &keep[..0] };
    let (lam, c) = (f64x4::splat(wt.lam), f64x4::splat(wt.c));
    let (riv, ri2) = (f64x4::splat(ri), f64x4::splat(ri * ri));
    let full = len / 4 * 4;
    // Every row cut to the same length, so the lanes below need no bounds checks.
    let (qv, av, bv, rv) = (&mut q[..full], &mut a[..full], &mut b[..full], &rj[..full]);
    let kv = if MASKED { &keep[..full] } else { keep };
    for at in (0..full).step_by(4) {
        let j = at..at + 4;
        let r = lanes(&rv[j.clone()]);
        let (q0, a0, b0) = (
            lanes(&qv[j.clone()]),
            lanes(&av[j.clone()]),
            lanes(&bv[j.clone()]),
        );
        let p = riv * r;
        let cp = c * p;
        let mut q1 = lam.mul_add(q0, cp * p);
        let mut a1 = lam.mul_add(a0, cp * ri2);
        let mut b1 = lam.mul_add(b0, cp * (r * r));
        if MASKED {
            let k = lanes(&kv[j.clone()]).cmp_gt(f64x4::ZERO);
            q1 = k.blend(q1, q0);
            a1 = k.blend(a1, a0);
            b1 = k.blend(b1, b0);
        }
        put(&mut qv[j.clone()], q1);
        put(&mut av[j.clone()], a1);
        put(&mut bv[j], b1);
    }
    let keep_tail = if MASKED { &keep[full..] } else { keep };
    moments_row_scalar::<MASKED>(
        [&mut q[full..], &mut a[full..], &mut b[full..]],
        ri,
        &rj[full..],
        keep_tail,
        wt,
    );
}

/// The scalar twin of [`moments_row`]: the same arithmetic, one pair at a time (the vector
/// kernel's tail too).
fn moments_row_scalar<const MASKED: bool>(
    rows: [&mut [f64]; 3],
    ri: f64,
    rj: &[f64],
    keep: &[f64],
    wt: Weights,
) {
    let [q, a, b] = rows;
    let (lam, c, ri2) = (wt.lam, wt.c, ri * ri);
    for (j, &r) in rj.iter().enumerate() {
        if MASKED && !(keep[j] > 0.0) {
            continue;
        }
        let p = ri * r;
        let cp = c * p;
        q[j] = lam.mul_add(q[j], cp * p);
        a[j] = lam.mul_add(a[j], cp * ri2);
        b[j] = lam.mul_add(b[j], cp * (r * r));
    }
}

/// Kish's effective size of a pair from its weight `W` (see the module docs), as
/// `1/T = t1/W − t0`: `t1 = 2c/(1 + λ)`, `t0 = (1 − λ)/(1 + λ)`.
#[derive(Debug, Clone, Copy)]
struct Kish {
    t1: f64,
    t0: f64,
}

impl Kish {
    fn of(wt: Weights) -> Self {
        Self {
            t1: 2.0 * wt.c / (1.0 + wt.lam),
            t0: (1.0 - wt.lam) / (1.0 + wt.lam),
        }
    }
}

/// The ready block a matrix is built from: `factors` (ascending), their EWMA covariance `raw`
/// (`k × k`) and standard deviations `sd`, and the covariance's weights `w` (`n × n`) and their
/// decay.
#[derive(Debug, Clone, Copy)]
struct Block<'a> {
    n: usize,
    w: &'a [f64],
    kish: Kish,
    factors: &'a [usize],
    raw: &'a [f64],
    sd: &'a [f64],
}

/// Ledoit–Wolf's intensity of `blk` toward the target of mean correlation `r` (0: the diagonal
/// target): `Σᵢ≠ⱼ (πᵢⱼ − ρᵢⱼ)/Tᵢⱼ / γ` clamped to [0, 1] (see the module docs); 1 when `γ = 0`
/// to rounding (the sample is its target: always so for two factors and constant correlation)
/// or when the sums are not finite (moments overflowed), the safe side.
fn lw_intensity(blk: &Block<'_>, m: &mut Moments, r: f64) -> f64 {
    let (n, k, raw) = (blk.n, blk.factors.len(), blk.raw);
    let (mut sum_var, mut sum_var2) = (0.0, 0.0);
    for (x, s) in blk.sd.iter().enumerate() {
        let v = raw[x * k + x];
        m.var[x] = v;
        m.isd[x] = 1.0 / s;
        sum_var += v;
        sum_var2 += v * v;
    }
    let (mut num, mut gamma) = (0.0, 0.0);
    for x in 0..k.saturating_sub(1) {
        let (lo, fx) = (x + 1, blk.factors[x]);
        let len = k - lo;
        // Both triangles count: `num` and `γ` twice, which cancels in the ratio.
        let (var, sd, isd) = (&m.var[..k], blk.sd, &m.isd[..k]);
        let head = LwHead {
            var: var[x],
            sd: sd[x],
            isd: isd[x],
            r,
            kish: blk.kish,
        };
        let (dn, dg) = if k == n {
            // Every factor ready: pair (x, y) is at x·n + y, the row's tail contiguous.
            let u = fx * n + lo..fx * n + k;
            lw_row(
                &LwRow {
                    s: &raw[x * k + lo..(x + 1) * k],
                    var: &var[lo..],
                    sd: &sd[lo..],
                    isd: &isd[lo..],
                    w: &blk.w[u.clone()],
                    q: &m.q[u.clone()],
                    a: &m.a[u.clone()],
                    b: &m.b[u],
                },
                head,
            )
        } else {
            for (t, &fy) in blk.factors[lo..].iter().enumerate() {
                let u = fx * n + fy;
                m.rows[0][t] = blk.w[u];
                m.rows[1][t] = m.q[u];
                m.rows[2][t] = m.a[u];
                m.rows[3][t] = m.b[u];
            }
            let g = &m.rows;
            lw_row(
                &LwRow {
                    s: &raw[x * k + lo..(x + 1) * k],
                    var: &var[lo..],
                    sd: &sd[lo..],
                    isd: &isd[lo..],
                    w: &g[0][..len],
                    q: &g[1][..len],
                    a: &g[2][..len],
                    b: &g[3][..len],
                },
                head,
            )
        };
        num += dn;
        gamma += dg;
    }
    // γ at the rounding of the target's entries (64 ε relative to σₓσᵧ) is γ = 0: two factors,
    // whose constant-correlation target is the sample itself, or a sample already at its target.
    let floor = (64.0 * f64::EPSILON).powi(2) * (sum_var * sum_var - sum_var2);
    let delta = num / gamma;
    if gamma > floor && delta.is_finite() {
        delta.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// Row `x` of the block from the diagonal on, as [`lw_row`] reads it: for each later factor `y`,
/// `s` = `sₓᵧ`, its variance, standard deviation and inverse, and the pair's `W`, `Q`, `A`
/// (`Σ w rₓ³rᵧ`) and `B` (`Σ w rₓrᵧ³`); all the same length.
#[derive(Debug, Clone, Copy)]
struct LwRow<'a> {
    s: &'a [f64],
    var: &'a [f64],
    sd: &'a [f64],
    isd: &'a [f64],
    w: &'a [f64],
    q: &'a [f64],
    a: &'a [f64],
    b: &'a [f64],
}

/// Factor `x` of [`LwRow`]: its variance, standard deviation and inverse, the target's mean
/// correlation, and the effective sizes' constants.
#[derive(Debug, Clone, Copy)]
struct LwHead {
    var: f64,
    sd: f64,
    isd: f64,
    r: f64,
    kish: Kish,
}

/// Row `x`'s sums `(Σᵧ (πₓᵧ − ρₓᵧ)/Tₓᵧ, Σᵧ (fₓᵧ − sₓᵧ)²)`, four pairs per step in `f64x4` lanes,
/// the lanes summed pairwise, then the tail left to right. [`lw_row_scalar`] is its scalar twin,
/// bit for bit.
#[inline]
fn lw_row(v: &LwRow<'_>, h: LwHead) -> (f64, f64) {
    let len = v.s.len();
    let full = len / 4 * 4;
    let (half_r, rsx) = (f64x4::splat(0.5 * h.r), f64x4::splat(h.r * h.sd));
    let (varx, sdx, isdx) = (f64x4::splat(h.var), f64x4::splat(h.sd), f64x4::splat(h.isd));
    let (t1, t0) = (f64x4::splat(h.kish.t1), f64x4::splat(h.kish.t0));
    let (mut num, mut gam) = (f64x4::ZERO, f64x4::ZERO);
    // Every column cut to the same length, so the lanes below need no bounds checks.
    let (sv, wv, varv) = (&v.s[..full], &v.w[..full], &v.var[..full]);
    let (sdv, isdv) = (&v.sd[..full], &v.isd[..full]);
    let (qv, av, bv) = (&v.q[..full], &v.a[..full], &v.b[..full]);
    for c in 0..full / 4 {
        let l = |x: &[f64]| lanes(&x[4 * c..4 * c + 4]);
        let (s, w) = (l(sv), l(wv));
        let (vary, sdy, isdy) = (l(varv), l(sdv), l(isdv));
        let seen = w.cmp_gt(f64x4::ZERO);
        let iw = seen.blend(f64x4::ONE / w, f64x4::ZERO);
        let pi = l(qv) * iw - s * s;
        let tx = l(av) * iw - varx * s;
        let ty = l(bv) * iw - vary * s;
        let rho = half_r * ((sdy * isdx) * tx + (sdx * isdy) * ty);
        let inv_t = seen.blend(t1 * iw - t0, f64x4::ZERO);
        num += (pi - rho) * inv_t;
        let d = rsx * sdy - s;
        gam += d * d;
    }
    let (n4, g4) = (num.to_array(), gam.to_array());
    let mut sums = (
        (n4[0] + n4[1]) + (n4[2] + n4[3]),
        (g4[0] + g4[1]) + (g4[2] + g4[3]),
    );
    for j in full..len {
        let (dn, dg) = lw_pair(v, h, j);
        sums.0 += dn;
        sums.1 += dg;
    }
    sums
}

/// The scalar twin of [`lw_row`]: the same four lane sums, reduction and tail, one pair at a
/// time.
#[cfg(test)]
fn lw_row_scalar(v: &LwRow<'_>, h: LwHead) -> (f64, f64) {
    let len = v.s.len();
    let full = len / 4 * 4;
    let (mut num, mut gam) = ([0.0_f64; 4], [0.0_f64; 4]);
    for j in 0..full {
        let (dn, dg) = lw_pair(v, h, j);
        num[j % 4] += dn;
        gam[j % 4] += dg;
    }
    let mut sums = (
        (num[0] + num[1]) + (num[2] + num[3]),
        (gam[0] + gam[1]) + (gam[2] + gam[3]),
    );
    for j in full..len {
        let (dn, dg) = lw_pair(v, h, j);
        sums.0 += dn;
        sums.1 += dg;
    }
    sums
}

/// Pair `(x, y)`'s terms, `y` the `j`-th of the row: `(πₓᵧ − ρₓᵧ)/Tₓᵧ` and `(fₓᵧ − sₓᵧ)²`, as
/// [`lw_row`] computes them per lane.
#[inline]
fn lw_pair(v: &LwRow<'_>, h: LwHead, j: usize) -> (f64, f64) {
    let (s, w) = (v.s[j], v.w[j]);
    let iw = if w > 0.0 { 1.0 / w } else { 0.0 };
    let inv_t = if w > 0.0 {
        h.kish.t1 * iw - h.kish.t0
    } else {
        0.0
    };
    let pi = v.q[j] * iw - s * s;
    let tx = v.a[j] * iw - h.var * s;
    let ty = v.b[j] * iw - v.var[j] * s;
    let rho = (0.5 * h.r) * ((v.sd[j] * h.isd) * tx + (h.sd * v.isd[j]) * ty);
    let d = (h.r * h.sd) * v.sd[j] - s;
    ((pi - rho) * inv_t, d * d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kelly;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `t` samples of `n` factors: a common driver with loadings that differ per factor (so the
    /// constant-correlation target is wrong and the intensity lands inside (0, 1)), scales that
    /// differ too, de-meaned when `demean`.
    fn factor_returns(n: usize, t: usize, seed: u64, demean: bool) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x: Vec<f64> = (0..t)
            .flat_map(|_| {
                let common: f64 = rng.gen_range(-1.0..1.0);
                (0..n)
                    .map(|i| {
                        let load = 1.5 * (i as f64) / (n as f64);
                        1e-3 * (1.0 + 0.3 * i as f64) * (load * common + rng.gen_range(-1.0..1.0))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        if demean {
            for i in 0..n {
                let m = (0..t).map(|s| x[s * n + i]).sum::<f64>() / t as f64;
                for s in 0..t {
                    x[s * n + i] -= m;
                }
            }
        }
        x
    }

    /// Ledoit & Wolf (2004), written from the paper: the sample covariance with `1/T`, the
    /// constant-correlation target, `π̂`, `ρ̂` (both θ terms, not folded by symmetry), `γ̂`, and
    /// `δ* = max(0, min(1, κ̂/T))`. `x` is de-meaned, `t × n`.
    fn paper_intensity(x: &[f64], t: usize, n: usize) -> f64 {
        let tf = t as f64;
        let at = |s: usize, i: usize| x[s * n + i];
        let mut cov = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                cov[i * n + j] = (0..t).map(|s| at(s, i) * at(s, j)).sum::<f64>() / tf;
            }
        }
        let c = |i: usize, j: usize| cov[i * n + j];
        let mut rbar = 0.0;
        for i in 0..n {
            for j in (i + 1)..n {
                rbar += c(i, j) / (c(i, i) * c(j, j)).sqrt();
            }
        }
        rbar *= 2.0 / ((n - 1) * n) as f64;
        let pi = |i: usize, j: usize| {
            (0..t)
                .map(|s| (at(s, i) * at(s, j) - c(i, j)).powi(2))
                .sum::<f64>()
                / tf
        };
        let theta = |k: usize, i: usize, j: usize| {
            (0..t)
                .map(|s| (at(s, k).powi(2) - c(k, k)) * (at(s, i) * at(s, j) - c(i, j)))
                .sum::<f64>()
                / tf
        };
        let (mut pi_hat, mut rho_hat, mut gamma_hat) = (0.0, 0.0, 0.0);
        for i in 0..n {
            rho_hat += pi(i, i);
            for j in 0..n {
                pi_hat += pi(i, j);
                if i != j {
                    rho_hat += rbar / 2.0
                        * ((c(j, j) / c(i, i)).sqrt() * theta(i, i, j)
                            + (c(i, i) / c(j, j)).sqrt() * theta(j, i, j));
                    let f = rbar * (c(i, i) * c(j, j)).sqrt();
                    gamma_hat += (f - c(i, j)).powi(2);
                }
            }
        }
        let kappa = (pi_hat - rho_hat) / gamma_hat;
        (kappa / tf).clamp(0.0, 1.0)
    }

    fn lw_cfg(lambda: f64) -> FactorCovConfig {
        FactorCovConfig {
            lambda,
            min_samples: 1,
            max_missed: 0,
            target: CovTarget::ConstantCorrelation,
            shrinkage: Shrinkage::LedoitWolf,
        }
    }

    #[test]
    fn equal_weights_give_the_batch_ledoit_wolf_intensity_and_matrix() {
        for (n, t, seed) in [(3, 12, 1), (6, 40, 2), (12, 60, 3), (25, 400, 4)] {
            let x = factor_returns(n, t, seed, true);
            let batch = kelly::ledoit_wolf(&x, t, n, CovTarget::ConstantCorrelation).unwrap();
            let paper = paper_intensity(&x, t, n);
            let mut cov = FactorCovariance::new(n, lw_cfg(0.97))
                .unwrap()
                .with_equal_weights();
            for row in x.chunks(n) {
                cov.update(row).unwrap();
            }
            assert_eq!(cov.effective_samples(0, n - 1), Some(t as f64));
            let online = cov.ledoit_wolf_intensity().unwrap();
            let (mut f, mut m) = (vec![0; n], vec![0.0; n * n]);
            let snap = cov.matrix(&mut f, &mut m).unwrap();
            assert_eq!(snap.k, n);
            assert_eq!(snap.intensity, online, "the matrix uses it unraised");
            assert!(
                batch.intensity > 0.0 && batch.intensity < 1.0,
                "{n}×{t}: {} is clamped, the comparison would be weak",
                batch.intensity
            );
            let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
            assert!(
                rel(online, batch.intensity) < 1e-13,
                "{online} vs batch {}",
                batch.intensity
            );
            assert!(
                rel(paper, batch.intensity) < 1e-13,
                "{paper} vs batch {}",
                batch.intensity
            );
            for (a, b) in m.iter().zip(&batch.cov) {
                assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn two_factors_are_their_constant_correlation_target() {
        // The target's one correlation is the sample's: γ = 0 to rounding, δ* = 1 (as the
        // batch), and the matrix is the sample whatever the intensity.
        let (n, t) = (2, 50);
        let x = factor_returns(n, t, 6, true);
        let batch = kelly::ledoit_wolf(&x, t, n, CovTarget::ConstantCorrelation).unwrap();
        let mut cov = FactorCovariance::new(n, lw_cfg(0.9)).unwrap();
        for row in x.chunks(n) {
            cov.update(row).unwrap();
        }
        assert_eq!(cov.ledoit_wolf_intensity(), Some(1.0));
        assert_eq!(batch.intensity, 1.0);
        let (mut f, mut m) = (vec![0; n], vec![0.0; n * n]);
        cov.matrix(&mut f, &mut m).unwrap();
        let mut raw = vec![0.0; n * n];
        cov.estimates_into(&[0, 1], &mut raw).unwrap();
        for (a, b) in m.iter().zip(&raw) {
            assert!((a - b).abs() <= 1e-15 * b.abs().max(1e-12), "{a} vs {b}");
        }
    }

    #[test]
    fn nearly_equal_ewma_weights_approach_the_batch_intensity() {
        // λ = 1 − 1e-9 over 200 samples: the weights differ by 2e-7 relative, the intensity
        // by about 1e-8; the public path, no test hook.
        let (n, t) = (8, 200);
        let x = factor_returns(n, t, 9, true);
        let batch = kelly::ledoit_wolf(&x, t, n, CovTarget::ConstantCorrelation).unwrap();
        let mut cov = FactorCovariance::new(n, lw_cfg(1.0 - 1e-9)).unwrap();
        for row in x.chunks(n) {
            cov.update(row).unwrap();
        }
        let teff = cov.effective_samples(2, 5).unwrap();
        assert!((teff / t as f64 - 1.0).abs() < 1e-6, "{teff}");
        let online = cov.ledoit_wolf_intensity().unwrap();
        assert!(
            (online / batch.intensity - 1.0).abs() < 1e-6,
            "{online} vs {}",
            batch.intensity
        );
    }

    #[test]
    fn the_diagonal_target_matches_the_batch_too() {
        let (n, t) = (5, 30);
        let x = factor_returns(n, t, 5, true);
        let batch = kelly::ledoit_wolf(&x, t, n, CovTarget::Diagonal).unwrap();
        let mut cov = FactorCovariance::new(
            n,
            FactorCovConfig {
                target: CovTarget::Diagonal,
                ..lw_cfg(0.9)
            },
        )
        .unwrap()
        .with_equal_weights();
        for row in x.chunks(n) {
            cov.update(row).unwrap();
        }
        let online = cov.ledoit_wolf_intensity().unwrap();
        assert!(batch.intensity > 0.0 && batch.intensity < 1.0);
        assert!((online / batch.intensity - 1.0).abs() < 1e-13);
    }

    /// Edge values for the kernels: 0, tiny, huge (products overflow to ±∞), negative.
    fn edgy(rng: &mut ChaCha8Rng) -> f64 {
        match rng.gen_range(0..8) {
            0 => 0.0,
            1 => 1e-300,
            2 => -1e160,
            3 => 1e80,
            _ => rng.gen_range(-1.0..1.0) * 1e-3,
        }
    }

    #[test]
    fn the_moment_kernel_matches_its_scalar_twin_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        for case in 0..400 {
            let len = rng.gen_range(0..23);
            let edge = case % 3 == 0;
            let draw = |rng: &mut ChaCha8Rng| {
                if edge {
                    edgy(rng)
                } else {
                    rng.gen_range(-1.0..1.0) * 1e-3
                }
            };
            let ri = draw(&mut rng);
            let rj: Vec<f64> = (0..len).map(|_| draw(&mut rng)).collect();
            let keep: Vec<f64> = (0..len).map(|_| f64::from(rng.gen_bool(0.7))).collect();
            let init: Vec<Vec<f64>> = (0..3)
                .map(|_| (0..len).map(|_| rng.gen_range(0.0..1e-6)).collect())
                .collect();
            let wt = Weights {
                lam: rng.gen_range(0.5..1.0),
                c: 0.0,
            };
            let wt = Weights {
                c: 1.0 - wt.lam,
                ..wt
            };
            for masked in [false, true] {
                let (mut v, mut s) = (init.clone(), init.clone());
                let [v0, v1, v2] = &mut v[..] else {
                    unreachable!()
                };
                let [s0, s1, s2] = &mut s[..] else {
                    unreachable!()
                };
                if masked {
                    moments_row::<true>([v0, v1, v2], ri, &rj, &keep, wt);
                    moments_row_scalar::<true>([s0, s1, s2], ri, &rj, &keep, wt);
                } else {
                    moments_row::<false>([v0, v1, v2], ri, &rj, &[], wt);
                    moments_row_scalar::<false>([s0, s1, s2], ri, &rj, &[], wt);
                }
                for (a, b) in v.iter().flatten().zip(s.iter().flatten()) {
                    assert_eq!(a.to_bits(), b.to_bits(), "case {case} masked {masked}");
                }
                if masked {
                    for (j, k) in keep.iter().enumerate() {
                        if *k == 0.0 {
                            assert!((0..3).all(|m| v[m][j] == init[m][j]), "masked pair moved");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_intensity_row_matches_its_scalar_twin_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        for case in 0..400 {
            let len = rng.gen_range(0..23);
            let col = |rng: &mut ChaCha8Rng, lo: f64, hi: f64| -> Vec<f64> {
                (0..len).map(|_| rng.gen_range(lo..hi)).collect()
            };
            let sd = col(&mut rng, 1e-3, 1e-2);
            let var: Vec<f64> = sd.iter().map(|s| s * s).collect();
            let isd: Vec<f64> = sd.iter().map(|s| 1.0 / s).collect();
            let s = col(&mut rng, -1e-5, 1e-5);
            let mut w = col(&mut rng, 0.0, 1.0);
            if case % 4 == 0 && len > 0 {
                w[rng.gen_range(0..len)] = 0.0; // a pair never co-observed
            }
            let (q, a, b) = (
                col(&mut rng, 0.0, 1e-10),
                col(&mut rng, -1e-10, 1e-10),
                col(&mut rng, -1e-10, 1e-10),
            );
            let row = LwRow {
                s: &s,
                var: &var,
                sd: &sd,
                isd: &isd,
                w: &w,
                q: &q,
                a: &a,
                b: &b,
            };
            let lam = rng.gen_range(0.5..1.0);
            let h = LwHead {
                var: 4e-6,
                sd: 2e-3,
                isd: 500.0,
                r: rng.gen_range(-0.2..0.9),
                kish: Kish::of(Weights { lam, c: 1.0 - lam }),
            };
            let (v, sc) = (lw_row(&row, h), lw_row_scalar(&row, h));
            assert_eq!(v.0.to_bits(), sc.0.to_bits(), "case {case}");
            assert_eq!(v.1.to_bits(), sc.1.to_bits(), "case {case}");
            assert!(v.0.is_finite() && v.1 >= 0.0);
        }
    }
}
