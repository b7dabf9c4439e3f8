//! Raw SVI smile of one expiry (Gatheral 2004): total implied variance at log-moneyness
//! `k = ln(K/F)` is `w(k) = a + b (ρ (k − m) + √((k − m)² + σ²))`, implied volatility
//! `√(w(k)/T)`.
//!
//! # Fit
//! [`fit`] takes `(k, w, weight)` points (structure of arrays) and minimizes the weighted squared
//! error in total variance with the quasi-explicit method (Zeliade Systems, 2009): for fixed
//! `(m, σ)`, with `y = (k − m)/σ`, the smile is linear in `(a, d, c) = (a, ρbσ, bσ)`:
//! `w = a + d y + c √(y² + 1)`, so the inner problem is a 3-variable least-squares problem with
//! linear constraints, solved exactly (unconstrained normal equations, and if that point is not
//! admissible, every active set of up to three constraints through its KKT system, solved by
//! [`linalg::solve_in_place`]). The outer problem in `(m, ln σ)` is a coarse grid followed by
//! Nelder–Mead ([`optim::nelder_mead`], restarted once), inside bounds derived from the data's
//! k range. Nothing allocates: the points are read in place.
//!
//! # Parameter bounds
//! Enforced by the inner problem, so every fitted smile satisfies them:
//! - `b ≥ 0` and `|ρ| ≤` [`RHO_MAX`] `< 1`, `σ > 0`;
//! - Roger Lee's moment bound on the wings' slopes, `b (1 + |ρ|) ≤ 2`;
//! - a non-negative minimum total variance `a + bσ√(1 − ρ²) ≥ 0`. This constraint is not linear
//!   in `(a, d, c)`; the fit imposes the slightly stronger `a + bσ·h(ρ) ≥ 0` where `h` is the
//!   piecewise-linear interpolation of `√(1 − ρ²)` at `ρ ∈ {−1, −½, 0, ½, 1}` (`h ≤ √(1 − ρ²)`
//!   because the square root is concave), which is linear and exact at those nodes.
//!
//! # Arbitrage
//! The bounds do not exclude static arbitrage; the checks report it instead of hiding it:
//! - butterfly ([`butterfly`]): Gatheral's density factor
//!   `g(k) = (1 − k w′/(2w))² − (w′²/4)(1/w + 1/4) + w″/2` must be ≥ 0 (and `w > 0`) on a grid,
//!   otherwise the risk-neutral density is negative somewhere;
//! - calendar ([`calendar`]): total variance must not decrease with expiry at fixed `k`.

use crate::{linalg, optim};
use thiserror::Error;

/// Fewest points (with positive weight and distinct `k`) a fit accepts: SVI has five parameters.
pub const MIN_POINTS: usize = 5;
/// Largest |ρ| a fit may return (strictly below one).
pub const RHO_MAX: f64 = 0.999;
/// Roger Lee's bound on the asymptotic slope of total variance in `k`.
pub const LEE_SLOPE_MAX: f64 = 2.0;
/// Slack allowed by [`SviParams::new`] on the minimum-variance condition (rounding of a fit).
const MIN_VAR_SLACK: f64 = 1e-12;
/// Largest |k| a fit accepts: a strike e^10 ≈ 22,000 times the forward (or its inverse) is an
/// input error, not a quote.
pub const K_ABS_MAX: f64 = 10.0;
/// Largest total variance a fit accepts (an implied vol of 1,000 % over ten years).
pub const W_MAX: f64 = 1_000.0;

/// Why an SVI computation refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum SviError {
    /// The slices `k`, `w`, `weight` differ in length.
    #[error("length mismatch: k has {k} points, w {w}, weight {weight}")]
    LengthMismatch {
        /// Length of `k`.
        k: usize,
        /// Length of `w`.
        w: usize,
        /// Length of `weight`.
        weight: usize,
    },
    /// Fewer usable points (positive weight, distinct k) than [`MIN_POINTS`].
    #[error("need at least {needed} points with positive weight and distinct k, got {got}")]
    TooFewPoints {
        /// Minimum number.
        needed: usize,
        /// Number found (distinct k with positive weight, counted up to `needed`).
        got: usize,
    },
    /// A point's field is NaN or infinite.
    #[error("point {index}: `{field}` is not finite")]
    NonFinite {
        /// Zero-based index of the point.
        index: usize,
        /// `k`, `w` or `weight`.
        field: &'static str,
    },
    /// `|k|` above [`K_ABS_MAX`] or `w` above [`W_MAX`].
    #[error("point {index}: `{field}` is out of range")]
    OutOfRange {
        /// Zero-based index of the point.
        index: usize,
        /// `k` or `w`.
        field: &'static str,
    },
    /// A total variance or weight is negative.
    #[error("point {index}: `{field}` is negative")]
    Negative {
        /// Zero-based index of the point.
        index: usize,
        /// `w` or `weight`.
        field: &'static str,
    },
    /// All total variances with positive weight are zero: there is no smile to fit.
    #[error("all total variances are zero")]
    ZeroVariance,
    /// A parameter given to [`SviParams::new`] is out of its domain.
    #[error("invalid SVI parameters: {0}")]
    InvalidParameters(&'static str),
    /// No admissible parameters were found (should not happen with valid points).
    #[error("no admissible SVI fit found")]
    NoFit,
}

/// Raw SVI parameters of one expiry (total-variance units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SviParams {
    /// Level `a`.
    pub a: f64,
    /// Wing slope scale `b ≥ 0`.
    pub b: f64,
    /// Skew `ρ ∈ (−1, 1)`.
    pub rho: f64,
    /// Horizontal shift `m`.
    pub m: f64,
    /// ATM curvature `σ > 0`.
    pub sigma: f64,
}

impl SviParams {
    /// Validated parameters.
    ///
    /// # Errors
    /// [`SviError::InvalidParameters`] naming the violated condition: a non-finite value,
    /// `b < 0`, `|ρ| ≥ 1`, `σ ≤ 0`, `b (1 + |ρ|) > 2` (Lee) or `a + bσ√(1 − ρ²) < 0`.
    pub fn new(a: f64, b: f64, rho: f64, m: f64, sigma: f64) -> Result<Self, SviError> {
        let p = Self {
            a,
            b,
            rho,
            m,
            sigma,
        };
        let bad = |s| Err(SviError::InvalidParameters(s));
        if ![a, b, rho, m, sigma].iter().all(|x| x.is_finite()) {
            return bad("a parameter is not finite");
        }
        if b < 0.0 {
            return bad("b < 0");
        }
        if rho.abs() >= 1.0 {
            return bad("|rho| >= 1");
        }
        if sigma <= 0.0 {
            return bad("sigma <= 0");
        }
        if b * (1.0 + rho.abs()) > LEE_SLOPE_MAX * (1.0 + 1e-12) {
            return bad("b (1 + |rho|) > 2 (Lee's wing bound)");
        }
        if p.min_total_variance() < -MIN_VAR_SLACK * (1.0 + a.abs() + b * sigma) {
            return bad("a + b sigma sqrt(1 - rho^2) < 0 (negative total variance)");
        }
        Ok(p)
    }

    /// Total variance `w(k)`.
    #[inline]
    #[must_use]
    pub fn total_variance(&self, k: f64) -> f64 {
        let x = k - self.m;
        self.b.mul_add(
            self.rho
                .mul_add(x, (x * x + self.sigma * self.sigma).sqrt()),
            self.a,
        )
    }

    /// `(w, w′, w″)` at `k`.
    #[inline]
    #[must_use]
    pub fn derivatives(&self, k: f64) -> (f64, f64, f64) {
        let x = k - self.m;
        let r = (x * x + self.sigma * self.sigma).sqrt();
        let w = self.b.mul_add(self.rho.mul_add(x, r), self.a);
        let w1 = self.b * (self.rho + x / r);
        let w2 = self.b * self.sigma * self.sigma / (r * r * r);
        (w, w1, w2)
    }

    /// Implied volatility `√(w(k)/T)` for time to expiry `t_years`; NaN when `T ≤ 0` or
    /// `w(k) < 0`.
    #[inline]
    #[must_use]
    pub fn implied_vol(&self, k: f64, t_years: f64) -> f64 {
        let w = self.total_variance(k);
        if t_years > 0.0 && w >= 0.0 {
            (w / t_years).sqrt()
        } else {
            f64::NAN
        }
    }

    /// Smallest total variance over all `k`: `a + bσ√(1 − ρ²)`.
    #[must_use]
    pub fn min_total_variance(&self) -> f64 {
        (self.b * self.sigma).mul_add((1.0 - self.rho * self.rho).max(0.0).sqrt(), self.a)
    }

    /// Gatheral's density factor `g(k)`; the risk-neutral density is non-negative where
    /// `g ≥ 0` and `w > 0`. NaN where `w ≤ 0`.
    #[must_use]
    pub fn g(&self, k: f64) -> f64 {
        let (w, w1, w2) = self.derivatives(k);
        if w <= 0.0 {
            return f64::NAN;
        }
        let t = 1.0 - k * w1 / (2.0 * w);
        t * t - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2
    }
}

/// Options of [`fit`] and [`fit_from`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Cap on evaluations of the inner problem (bounds the work of one fit).
    pub max_evals: u32,
    /// Convergence of Nelder–Mead: simplex diameter in `(m, ln σ)`.
    pub x_tol: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_evals: 2_000,
            x_tol: 1e-11,
        }
    }
}

/// Result of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SviFit {
    /// Fitted parameters (within the bounds of the module docs).
    pub params: SviParams,
    /// Weighted root-mean-square error in total variance, `√(Σ wᵢ rᵢ² / Σ wᵢ)`.
    pub rmse: f64,
    /// Inner-problem evaluations spent.
    pub evals: u32,
}

/// Validated view of the points.
struct Points<'a> {
    k: &'a [f64],
    w: &'a [f64],
    wt: &'a [f64],
    k_lo: f64,
    k_hi: f64,
    wsum: f64,
}

fn check_points<'a>(k: &'a [f64], w: &'a [f64], wt: &'a [f64]) -> Result<Points<'a>, SviError> {
    if k.len() != w.len() || k.len() != wt.len() {
        return Err(SviError::LengthMismatch {
            k: k.len(),
            w: w.len(),
            weight: wt.len(),
        });
    }
    let (mut k_lo, mut k_hi, mut wsum, mut wmax) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0_f64);
    let mut distinct = [0.0_f64; MIN_POINTS];
    let mut n_distinct = 0;
    for i in 0..k.len() {
        for (v, field) in [(k[i], "k"), (w[i], "w"), (wt[i], "weight")] {
            if !v.is_finite() {
                return Err(SviError::NonFinite { index: i, field });
            }
        }
        for (v, field) in [(w[i], "w"), (wt[i], "weight")] {
            if v < 0.0 {
                return Err(SviError::Negative { index: i, field });
            }
        }
        if k[i].abs() > K_ABS_MAX {
            return Err(SviError::OutOfRange {
                index: i,
                field: "k",
            });
        }
        if w[i] > W_MAX {
            return Err(SviError::OutOfRange {
                index: i,
                field: "w",
            });
        }
        if wt[i] == 0.0 {
            continue;
        }
        if n_distinct < MIN_POINTS && !distinct[..n_distinct].contains(&k[i]) {
            distinct[n_distinct] = k[i];
            n_distinct += 1;
        }
        k_lo = k_lo.min(k[i]);
        k_hi = k_hi.max(k[i]);
        wsum += wt[i];
        wmax = wmax.max(w[i]);
    }
    if n_distinct < MIN_POINTS {
        return Err(SviError::TooFewPoints {
            needed: MIN_POINTS,
            got: n_distinct,
        });
    }
    if wmax <= 0.0 {
        return Err(SviError::ZeroVariance);
    }
    Ok(Points {
        k,
        w,
        wt,
        k_lo,
        k_hi,
        wsum,
    })
}

/// The constraints of the inner problem as `coef · (a, d, c) ≥ rhs`; `rhs` of the Lee rows is
/// `−2σ`, filled per `σ`.
const N_CON: usize = 8;

fn constraints(sigma: f64) -> [([f64; 3], f64); N_CON] {
    // Pieces of the interpolation of √(1 − ρ²) at ρ = −1, −½, 0, ½, 1.
    let h_half = 0.75_f64.sqrt();
    let pieces = [
        (-1.0, 0.0, -0.5, h_half),
        (-0.5, h_half, 0.0, 1.0),
        (0.0, 1.0, 0.5, h_half),
        (0.5, h_half, 1.0, 0.0),
    ];
    let mut out = [([0.0; 3], 0.0); N_CON];
    out[0] = ([0.0, -1.0, RHO_MAX], 0.0); // d ≤ ρmax c
    out[1] = ([0.0, 1.0, RHO_MAX], 0.0); // −d ≤ ρmax c
    out[2] = ([0.0, -1.0, -1.0], -LEE_SLOPE_MAX * sigma); // c + d ≤ 2σ
    out[3] = ([0.0, 1.0, -1.0], -LEE_SLOPE_MAX * sigma); // c − d ≤ 2σ
    for (j, &(r0, h0, r1, h1)) in pieces.iter().enumerate() {
        let beta = (h1 - h0) / (r1 - r0);
        let alpha = h0 - beta * r0;
        // a + c·(α + β ρ) = a + α c + β d ≥ 0.
        out[4 + j] = ([1.0, beta, alpha], 0.0);
    }
    out
}

/// The inner problem at `(m, σ)`: best admissible `(a, d, c)` and its weighted squared error.
#[allow(clippy::needless_range_loop)] // dense 3×3 / 6×6 algebra reads best indexed
fn inner(p: &Points<'_>, m: f64, sigma: f64) -> Option<([f64; 3], f64)> {
    // Normal equations: minimize xᵀHx − 2gᵀx.
    let mut h = [[0.0_f64; 3]; 3];
    let mut g = [0.0_f64; 3];
    let inv_s = 1.0 / sigma;
    for i in 0..p.k.len() {
        let wt = p.wt[i];
        if wt == 0.0 {
            continue;
        }
        let y = (p.k[i] - m) * inv_s;
        let phi = [1.0, y, (y * y + 1.0).sqrt()];
        for r in 0..3 {
            g[r] += wt * phi[r] * p.w[i];
            for c in r..3 {
                h[r][c] += wt * phi[r] * phi[c];
            }
        }
    }
    for r in 0..3 {
        for c in 0..r {
            h[r][c] = h[c][r];
        }
    }
    let cons = constraints(sigma);
    // Each constraint within rounding of its own terms.
    let feasible = |x: &[f64; 3]| {
        cons.iter().all(|(a, rhs)| {
            let terms = [a[0] * x[0], a[1] * x[1], a[2] * x[2]];
            let tol = 1e-12 * (1e-12 + terms.iter().map(|t| t.abs()).sum::<f64>() + rhs.abs());
            terms.iter().sum::<f64>() - rhs >= -tol
        })
    };
    let objective = |x: &[f64; 3]| -> f64 {
        let mut q = 0.0;
        for r in 0..3 {
            q -= 2.0 * g[r] * x[r];
            for c in 0..3 {
                q += x[r] * h[r][c] * x[c];
            }
        }
        q
    };
    // KKT system for the active set `act` (indices into `cons`): the point and whether its
    // multipliers are all non-negative (then a feasible point is the optimum: the problem is
    // convex, so the KKT conditions are sufficient).
    let kkt = |act: &[usize]| -> Option<([f64; 3], bool)> {
        let n = 3 + act.len();
        let mut a = [0.0_f64; 36];
        let mut b = [0.0_f64; 6];
        for r in 0..3 {
            for c in 0..3 {
                a[r * n + c] = 2.0 * h[r][c];
            }
            b[r] = 2.0 * g[r];
        }
        for (j, &ci) in act.iter().enumerate() {
            let (coef, rhs) = cons[ci];
            for c in 0..3 {
                a[(3 + j) * n + c] = coef[c];
                a[c * n + 3 + j] = -coef[c];
            }
            b[3 + j] = rhs;
        }
        linalg::solve_in_place(&mut a[..n * n], n, &mut b[..n]).ok()?;
        let lam_tol = 1e-12 * (1.0 + g.iter().fold(0.0_f64, |m, v| m.max(v.abs())));
        let dual_ok = b[3..n].iter().all(|&l| l >= -lam_tol);
        Some(([b[0], b[1], b[2]], dual_ok))
    };
    // Active sets by size (0, then 1, 2, 3 constraints); the first feasible KKT point with
    // non-negative multipliers is optimal. The best feasible point seen is kept as a fallback
    // (degenerate, linearly dependent active sets).
    let mut best: Option<([f64; 3], f64)> = None;
    let mut consider = |act: &[usize]| -> bool {
        let Some((x, dual_ok)) = kkt(act) else {
            return false;
        };
        if !feasible(&x) {
            return false;
        }
        if dual_ok {
            best = Some((x, f64::NEG_INFINITY));
            return true;
        }
        let q = objective(&x);
        if best.is_none_or(|(_, bq)| q < bq) {
            best = Some((x, q));
        }
        false
    };
    'search: {
        if consider(&[]) {
            break 'search;
        }
        for i in 0..N_CON {
            if consider(&[i]) {
                break 'search;
            }
        }
        for i in 0..N_CON {
            for j in i + 1..N_CON {
                if consider(&[i, j]) {
                    break 'search;
                }
            }
        }
        for i in 0..N_CON {
            for j in i + 1..N_CON {
                for l in j + 1..N_CON {
                    if consider(&[i, j, l]) {
                        break 'search;
                    }
                }
            }
        }
    }
    let (x, _) = best?;
    // The error itself, summed directly (no cancellation near a perfect fit).
    let mut ssr = 0.0;
    for i in 0..p.k.len() {
        if p.wt[i] == 0.0 {
            continue;
        }
        let y = (p.k[i] - m) * inv_s;
        let r = p.w[i] - (x[0] + x[1] * y + x[2] * (y * y + 1.0).sqrt());
        ssr += p.wt[i] * r * r;
    }
    Some((x, ssr))
}

/// Bounds of the outer search, from the data's k range.
#[derive(Clone, Copy)]
struct Bounds {
    m: (f64, f64),
    ln_s: (f64, f64),
}

impl Bounds {
    fn of(p: &Points<'_>) -> Self {
        let span = (p.k_hi - p.k_lo).max(1e-6);
        Self {
            m: (p.k_lo - span, p.k_hi + span),
            ln_s: (1e-4_f64.ln(), (4.0 * span).max(0.5).ln()),
        }
    }

    fn clamp(&self, v: [f64; 2]) -> [f64; 2] {
        [
            v[0].clamp(self.m.0, self.m.1),
            v[1].clamp(self.ln_s.0, self.ln_s.1),
        ]
    }
}

/// The outer objective: the inner problem's error at `(m, ln σ)`, `+∞` where it has no
/// admissible point.
fn outer(p: &Points<'_>, v: &[f64]) -> f64 {
    inner(p, v[0], v[1].exp()).map_or(f64::INFINITY, |(_, f)| f)
}

/// Nelder–Mead in `(m, ln σ)` from `x0` with initial steps `step`, inside `bounds`, on what is
/// left of `max_evals` after `evals` (which it adds to); returns the best vertex.
fn search(
    p: &Points<'_>,
    bounds: &Bounds,
    x0: [f64; 2],
    step: [f64; 2],
    opts: &FitOptions,
    evals: &mut u32,
) -> [f64; 2] {
    let mut v = x0;
    let out = optim::nelder_mead(
        |v| outer(p, v),
        &mut v,
        &optim::NelderMead {
            step: &step,
            bounds: Some(&[bounds.m, bounds.ln_s]),
            max_evals: opts.max_evals.max(16).saturating_sub(*evals),
            ties: optim::Ties::Age,
            x_tol: opts.x_tol,
            f_rel_tol: 0.0,
            f_abs_tol: f64::MIN_POSITIVE,
        },
    );
    *evals += out.evals;
    v
}

fn finish(p: &Points<'_>, v: [f64; 2], evals: u32) -> Result<SviFit, SviError> {
    let (m, sigma) = (v[0], v[1].exp());
    let (x, ssr) = inner(p, m, sigma).ok_or(SviError::NoFit)?;
    // Overflowing inputs (total variances near f64::MAX) have no finite fit.
    if !(ssr.is_finite() && x.iter().all(|v| v.is_finite())) {
        return Err(SviError::NoFit);
    }
    let [a, d, c] = x;
    let c = c.max(0.0);
    let b = c / sigma;
    let rho = if c > 0.0 {
        (d / c).clamp(-RHO_MAX, RHO_MAX)
    } else {
        0.0
    };
    Ok(SviFit {
        params: SviParams {
            a,
            b,
            rho,
            m,
            sigma,
        },
        rmse: (ssr / p.wsum).sqrt(),
        evals,
    })
}

/// Fits a raw SVI smile to points `(k[i], w[i])` (log-moneyness, total implied variance) with
/// weights `weight[i] ≥ 0` (0 excludes a point): coarse grid over `(m, σ)`, then Nelder–Mead.
/// No allocation.
///
/// # Errors
/// [`SviError`] for mismatched lengths, a non-finite, negative or out-of-range input (naming the
/// point and field), fewer than [`MIN_POINTS`] usable points, all-zero variance, or no
/// admissible fit.
pub fn fit(k: &[f64], w: &[f64], weight: &[f64], opts: &FitOptions) -> Result<SviFit, SviError> {
    let p = check_points(k, w, weight)?;
    let bounds = Bounds::of(&p);
    let mut evals = 0;
    let span = (p.k_hi - p.k_lo).max(1e-6);
    // Coarse grid: m across the data, σ log-spaced.
    const GM: usize = 9;
    const GS: usize = 7;
    let (s_lo, s_hi) = ((0.01 * span).max(1e-3).ln(), (2.0 * span).max(0.05).ln());
    let (mut best, mut best_f) = ([0.5 * (p.k_lo + p.k_hi), s_lo], f64::INFINITY);
    for i in 0..GM {
        let m = p.k_lo + span * i as f64 / (GM - 1) as f64;
        for j in 0..GS {
            let ls = s_lo + (s_hi - s_lo) * j as f64 / (GS - 1) as f64;
            let v = bounds.clamp([m, ls]);
            let f = outer(&p, &v);
            evals += 1;
            if f < best_f {
                (best, best_f) = (v, f);
            }
        }
    }
    let v = search(&p, &bounds, best, [0.1 * span, 0.5], opts, &mut evals);
    let v = search(&p, &bounds, v, [0.01 * span, 0.05], opts, &mut evals);
    finish(&p, v, evals)
}

/// Refits from a previous smile `start` (warm start: one Nelder–Mead pass around its `(m, σ)`,
/// no grid and no restart), the cheap path when a smile moved a little. No allocation.
///
/// # Errors
/// As [`fit`].
pub fn fit_from(
    k: &[f64],
    w: &[f64],
    weight: &[f64],
    start: &SviParams,
    opts: &FitOptions,
) -> Result<SviFit, SviError> {
    let p = check_points(k, w, weight)?;
    let bounds = Bounds::of(&p);
    let span = (p.k_hi - p.k_lo).max(1e-6);
    let x0 = if start.m.is_finite() && start.sigma > 0.0 {
        [start.m, start.sigma.ln()]
    } else {
        [0.5 * (p.k_lo + p.k_hi), (0.2 * span).ln()]
    };
    let mut evals = 0;
    let v = search(&p, &bounds, x0, [0.02 * span, 0.1], opts, &mut evals);
    finish(&p, v, evals)
}

/// Butterfly-arbitrage check of one smile on a grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ButterflyReport {
    /// Grid points where `g(k) < −tol` or `w(k) ≤ 0` (density negative or undefined).
    pub violations: u32,
    /// Smallest `g` on the grid (−∞ when `w ≤ 0` somewhere).
    pub min_g: f64,
    /// Where the smallest `g` is.
    pub k_at_min_g: f64,
}

impl ButterflyReport {
    /// Whether the smile is free of butterfly arbitrage on the grid.
    #[must_use]
    pub fn is_free(&self) -> bool {
        self.violations == 0
    }
}

/// Tolerance of the arbitrage checks (rounding of a fitted smile).
pub const ARB_TOL: f64 = 1e-9;

/// Checks `g(k) ≥ 0` and `w(k) > 0` at `n ≥ 2` evenly spaced points of `[k_lo, k_hi]`.
#[must_use]
pub fn butterfly(p: &SviParams, k_lo: f64, k_hi: f64, n: u32) -> ButterflyReport {
    let n = n.max(2);
    let mut r = ButterflyReport {
        violations: 0,
        min_g: f64::INFINITY,
        k_at_min_g: k_lo,
    };
    for i in 0..n {
        let k = k_lo + (k_hi - k_lo) * f64::from(i) / f64::from(n - 1);
        let g = p.g(k);
        let g = if g.is_nan() { f64::NEG_INFINITY } else { g };
        if g < -ARB_TOL {
            r.violations += 1;
        }
        if g < r.min_g {
            r.min_g = g;
            r.k_at_min_g = k;
        }
    }
    r
}

/// Calendar-arbitrage check across expiries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalendarReport {
    /// (grid point, adjacent pair) combinations where total variance decreases with expiry.
    pub violations: u32,
    /// Largest decrease `w(Tᵢ, k) − w(Tᵢ₊₁, k)` found (0 when none).
    pub worst_drop: f64,
    /// Where it is.
    pub worst_k: f64,
    /// Index of the earlier slice of the worst pair.
    pub worst_slice: usize,
}

impl CalendarReport {
    /// Whether the slices are free of calendar arbitrage on the grid.
    #[must_use]
    pub fn is_free(&self) -> bool {
        self.violations == 0
    }
}

/// Checks that total variance is non-decreasing in expiry at `n ≥ 2` evenly spaced `k` in
/// `[k_lo, k_hi]`, for `slices` ordered by increasing expiry (each evaluated by `w_of`, so a
/// caller can mix SVI slices and flat fallbacks).
#[must_use]
pub fn calendar_by(
    slices: usize,
    w_of: impl Fn(usize, f64) -> f64,
    k_lo: f64,
    k_hi: f64,
    n: u32,
) -> CalendarReport {
    let n = n.max(2);
    let mut r = CalendarReport {
        violations: 0,
        worst_drop: 0.0,
        worst_k: k_lo,
        worst_slice: 0,
    };
    for s in 1..slices {
        for i in 0..n {
            let k = k_lo + (k_hi - k_lo) * f64::from(i) / f64::from(n - 1);
            let drop = w_of(s - 1, k) - w_of(s, k);
            if drop > ARB_TOL {
                r.violations += 1;
                if drop > r.worst_drop {
                    r.worst_drop = drop;
                    r.worst_k = k;
                    r.worst_slice = s - 1;
                }
            }
        }
    }
    r
}

/// [`calendar_by`] over SVI slices ordered by increasing expiry.
#[must_use]
pub fn calendar(slices: &[SviParams], k_lo: f64, k_hi: f64, n: u32) -> CalendarReport {
    calendar_by(
        slices.len(),
        |s, k| slices[s].total_variance(k),
        k_lo,
        k_hi,
        n,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn grid(p: &SviParams, n: usize, lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let k: Vec<f64> = (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect();
        let w = k.iter().map(|&k| p.total_variance(k)).collect();
        (k, w, vec![1.0; n])
    }

    fn close(p: &SviParams, q: &SviParams, tol: f64) -> bool {
        [
            (p.a, q.a),
            (p.b, q.b),
            (p.rho, q.rho),
            (p.m, q.m),
            (p.sigma, q.sigma),
        ]
        .iter()
        .all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn recovers_known_parameters_noise_free() {
        for truth in [
            SviParams::new(0.04, 0.4, -0.4, 0.05, 0.2).unwrap(),
            SviParams::new(0.01, 0.1, 0.3, -0.1, 0.1).unwrap(),
            SviParams::new(-0.02, 0.3, -0.7, 0.1, 0.3).unwrap(),
        ] {
            let (k, w, wt) = grid(&truth, 21, -0.8, 0.6);
            let f = fit(&k, &w, &wt, &FitOptions::default()).unwrap();
            assert!(
                close(&f.params, &truth, 1e-8),
                "{truth:?} fitted as {:?} (rmse {})",
                f.params,
                f.rmse
            );
            assert!(f.rmse < 1e-10);
            // The warm start lands on the same smile.
            let start = SviParams {
                m: truth.m + 0.05,
                sigma: truth.sigma * 1.3,
                ..truth
            };
            let g = fit_from(&k, &w, &wt, &start, &FitOptions::default()).unwrap();
            assert!(close(&g.params, &truth, 1e-8), "{:?}", g.params);
        }
    }

    #[test]
    fn noisy_points_fit_close() {
        let truth = SviParams::new(0.04, 0.4, -0.4, 0.05, 0.2).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let (k, mut w, wt) = grid(&truth, 41, -0.8, 0.6);
        for v in &mut w {
            // ±0.5% multiplicative noise in total variance.
            *v *= 1.0 + 0.005 * (2.0 * rng.gen::<f64>() - 1.0);
        }
        let f = fit(&k, &w, &wt, &FitOptions::default()).unwrap();
        for &kk in &k {
            let (a, b) = (f.params.total_variance(kk), truth.total_variance(kk));
            assert!((a - b).abs() / b < 0.01, "k={kk}: {a} vs {b}");
        }
        assert!(f.rmse < 0.005 * 0.2, "rmse {}", f.rmse);
    }

    #[test]
    fn fitted_parameters_respect_bounds() {
        // Points that want a wing steeper than Lee allows and a negative minimum variance.
        let k: Vec<f64> = (0..11).map(|i| -1.0 + 0.2 * f64::from(i)).collect();
        let w: Vec<f64> = k.iter().map(|&k: &f64| 3.0 * k.abs()).collect();
        let f = fit(&k, &w, &[1.0; 11], &FitOptions::default()).unwrap();
        let p = f.params;
        assert!(p.b >= 0.0 && p.rho.abs() <= RHO_MAX && p.sigma > 0.0);
        assert!(p.b * (1.0 + p.rho.abs()) <= LEE_SLOPE_MAX + 1e-9, "{p:?}");
        assert!(p.min_total_variance() >= -1e-10, "{p:?}");
        assert!(SviParams::new(p.a, p.b, p.rho, p.m, p.sigma).is_ok());
    }

    #[test]
    fn flags_butterfly_arbitrage_of_a_known_arbitrageable_smile() {
        // Axel Vogt's example (Gatheral & Jacquier 2014): admissible parameters, negative density.
        let vogt = SviParams::new(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153).unwrap();
        let (k, w, wt) = grid(&vogt, 31, -1.5, 1.5);
        let f = fit(&k, &w, &wt, &FitOptions::default()).unwrap();
        assert!(close(&f.params, &vogt, 1e-6), "{:?}", f.params);
        let r = butterfly(&f.params, -1.5, 1.5, 301);
        assert!(!r.is_free(), "{r:?}");
        assert!(r.min_g < 0.0);
        // A plain smile is free of it.
        let ok = SviParams::new(0.04, 0.4, -0.4, 0.05, 0.2).unwrap();
        assert!(butterfly(&ok, -1.5, 1.5, 301).is_free());
    }

    #[test]
    fn flags_calendar_arbitrage() {
        let near = SviParams::new(0.02, 0.2, -0.3, 0.0, 0.2).unwrap();
        let far = SviParams::new(0.04, 0.2, -0.3, 0.0, 0.2).unwrap();
        assert!(calendar(&[near, far], -1.0, 1.0, 41).is_free());
        let r = calendar(&[far, near], -1.0, 1.0, 41);
        assert_eq!(r.violations, 41);
        assert!((r.worst_drop - 0.02).abs() < 1e-12);
        // Crossing smiles: a steeper near wing overtakes the far one on the left only.
        let steep = SviParams::new(0.01, 0.8, -0.9, 0.0, 0.1).unwrap();
        let r = calendar(&[steep, far], -1.0, 1.0, 41);
        assert!(
            r.violations > 0 && r.violations < 41 && r.worst_k < 0.0,
            "{r:?}"
        );
    }

    #[test]
    fn degenerate_inputs_are_errors_not_panics() {
        let o = FitOptions::default();
        assert_eq!(
            fit(&[0.0], &[0.04], &[1.0], &o),
            Err(SviError::TooFewPoints { needed: 5, got: 1 })
        );
        assert_eq!(
            fit(&[0.0, 0.1], &[0.04, 0.05], &[1.0, 1.0], &o),
            Err(SviError::TooFewPoints { needed: 5, got: 2 })
        );
        // Repeated strikes do not count twice; zero weights do not count.
        let k = [0.0, 0.0, 0.1, 0.1, 0.2, 0.3];
        let w = [0.04; 6];
        assert!(matches!(
            fit(&k, &w, &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0], &o),
            Err(SviError::TooFewPoints { got: 3, .. })
        ));
        assert_eq!(
            fit(&[0.0, 0.1], &[0.04], &[1.0, 1.0], &o),
            Err(SviError::LengthMismatch {
                k: 2,
                w: 1,
                weight: 2
            })
        );
        let k = [-0.2, -0.1, 0.0, 0.1, 0.2];
        let mut w = [0.04; 5];
        w[3] = f64::NAN;
        assert_eq!(
            fit(&k, &w, &[1.0; 5], &o),
            Err(SviError::NonFinite {
                index: 3,
                field: "w"
            })
        );
        w[3] = 2e3;
        assert_eq!(
            fit(&k, &w, &[1.0; 5], &o),
            Err(SviError::OutOfRange {
                index: 3,
                field: "w"
            })
        );
        w[3] = -0.01;
        assert_eq!(
            fit(&k, &w, &[1.0; 5], &o),
            Err(SviError::Negative {
                index: 3,
                field: "w"
            })
        );
        assert_eq!(
            fit(&k, &[0.0; 5], &[1.0; 5], &o),
            Err(SviError::ZeroVariance)
        );
        let mut kk = k;
        kk[0] = f64::INFINITY;
        assert!(matches!(
            fit(&kk, &[0.04; 5], &[1.0; 5], &o),
            Err(SviError::NonFinite {
                index: 0,
                field: "k"
            })
        ));
        // A flat smile (one vol everywhere) fits exactly with b = 0.
        let f = fit(&k, &[0.04; 5], &[1.0; 5], &o).unwrap();
        assert!(f.rmse < 1e-12, "{f:?}");
        assert!((f.params.total_variance(0.05) - 0.04).abs() < 1e-10);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]
        /// Arbitrary points (NaN, ±∞, negative, repeated, huge) give an error or an admissible
        /// smile, never a panic.
        #[test]
        fn fit_never_panics_and_returns_admissible_smiles(
            pts in proptest::collection::vec(
                (
                    proptest::prop_oneof![30 => -3.0..3.0_f64, 1 => proptest::num::f64::ANY],
                    proptest::prop_oneof![30 => 0.0..2.0_f64, 1 => proptest::num::f64::ANY],
                    proptest::prop_oneof![30 => 0.0..1.0_f64, 1 => proptest::num::f64::ANY],
                ),
                0..24,
            )
        ) {
            let k: Vec<f64> = pts.iter().map(|p| p.0).collect();
            let w: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let wt: Vec<f64> = pts.iter().map(|p| p.2).collect();
            let opts = FitOptions { max_evals: 200, x_tol: 1e-6 };
            let r = fit(&k, &w, &wt, &opts);
            if pts.len() >= MIN_POINTS && pts.iter().all(|p| p.0.abs() < 3.0 && (0.0..2.0).contains(&p.1) && (0.0..1.0).contains(&p.2)) && pts.iter().any(|p| p.1 > 0.0 && p.2 > 0.0) {
                // Clean points: only too few distinct positive-weight strikes may refuse.
                proptest::prop_assert!(
                    matches!(r, Ok(_) | Err(SviError::TooFewPoints { .. } | SviError::ZeroVariance)),
                    "{:?}",
                    r
                );
            }
            if let Ok(f) = r {
                let p = f.params;
                proptest::prop_assert!(
                    SviParams::new(p.a, p.b, p.rho, p.m, p.sigma).is_ok(),
                    "{:?}",
                    p
                );
                proptest::prop_assert!(f.rmse.is_finite());
            }
        }
    }

    #[test]
    fn new_rejects_out_of_domain_parameters() {
        assert!(SviParams::new(0.04, -0.1, 0.0, 0.0, 0.1).is_err());
        assert!(SviParams::new(0.04, 0.1, 1.0, 0.0, 0.1).is_err());
        assert!(SviParams::new(0.04, 0.1, 0.0, 0.0, 0.0).is_err());
        assert!(SviParams::new(0.04, 1.5, 0.5, 0.0, 0.1).is_err()); // Lee
        assert!(SviParams::new(-0.1, 0.1, 0.0, 0.0, 0.1).is_err()); // negative variance
        assert!(SviParams::new(f64::NAN, 0.1, 0.0, 0.0, 0.1).is_err());
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let p = SviParams::new(0.04, 0.4, -0.4, 0.05, 0.2).unwrap();
        for k in [-0.7, -0.1, 0.05, 0.3, 0.9] {
            let h = 1e-5;
            let (_, w1, w2) = p.derivatives(k);
            let fd1 = (p.total_variance(k + h) - p.total_variance(k - h)) / (2.0 * h);
            let fd2 = (p.total_variance(k + h) - 2.0 * p.total_variance(k)
                + p.total_variance(k - h))
                / (h * h);
            assert!((w1 - fd1).abs() < 1e-8, "{k}: {w1} vs {fd1}");
            assert!((w2 - fd2).abs() < 1e-4, "{k}: {w2} vs {fd2}");
        }
    }
}
