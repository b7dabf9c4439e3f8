//! GARCH(1,1): `σ²ₜ = ω + α ε²ₜ₋₁ + β σ²ₜ₋₁`, `εₜ = rₜ − μ`, with Gaussian or standardized
//! Student-t innovations.
//!
//! - [`Garch11`] is the per-tick filter: one fused multiply-add chain per return, no allocation,
//!   plus closed-form h-step and aggregate forecasts.
//! - [`fit`] is the maximum-likelihood fit (not per tick; it does not allocate either).
//!
//! # Variance initialization
//! The recursion starts from the *backcast* of the `arch` Python package, so fits are comparable
//! with it: `σ²₀ = ω + (α + β)·bc`, where `bc = Σᵢ wᵢ ε²ᵢ` over the first `τ = min(75, n)`
//! residuals with weights `wᵢ ∝ 0.94ⁱ` normalized to sum to one ([`backcast`]). With a constant
//! mean the backcast is taken from the residuals at the sample mean and held fixed while μ is
//! estimated, as `arch` does.
//!
//! # Optimizer
//! The likelihood is maximized over an unconstrained reparameterization that enforces
//! `ω > 0, α ≥ 0, β ≥ 0, α + β < 1` (and `2.05 < ν < 500` for Student-t):
//! `ω = s²·e^{x₀}`, `α + β = p_max·σ(x₁)`, `α = (α + β)·σ(x₂)`, `μ = s·x₃`,
//! `ν = 2.05 + 497.95·σ(x₄)`, where `σ` is the logistic function and `s` the root mean square of
//! the returns (so the fit is scale-invariant: returns are used as given, never rescaled in the
//! output). BFGS ([`crate::optim::bfgs`]) with analytic gradients runs from the best three of a
//! grid of starting points; a Nelder–Mead search ([`crate::optim::nelder_mead`]) takes over from
//! the best point when BFGS stalls before its gradient tolerance, followed by another BFGS pass.
//! The likelihood itself lives in `garch/likelihood.rs`.

mod likelihood;

use likelihood::Problem;
use thiserror::Error;

/// Largest persistence α + β the fit may reach (strictly below one).
pub const MAX_PERSISTENCE: f64 = 1.0 - 1e-9;
/// Bounds of the Student-t degrees of freedom (those of the `arch` package).
pub const NU_BOUNDS: (f64, f64) = (2.05, 500.0);

/// Why a GARCH computation refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum GarchError {
    /// ω ≤ 0, α or β < 0, α + β ≥ 1, or a non-finite parameter.
    #[error(
        "invalid GARCH(1,1) parameters: need omega > 0, alpha >= 0, beta >= 0, alpha + beta < 1"
    )]
    InvalidParameters,
    /// A return is NaN or infinite.
    #[error("return {index} is not finite")]
    NonFinite {
        /// Zero-based index of the return.
        index: usize,
    },
    /// Fewer returns than the fit needs.
    #[error("need at least {needed} returns, got {got}")]
    TooFewObservations {
        /// Minimum number.
        needed: usize,
        /// Number given.
        got: usize,
    },
    /// All residuals are zero: there is no variance to model.
    #[error("the returns have zero variance")]
    ZeroVariance,
    /// The optimizer found no finite likelihood from any starting point.
    #[error("the likelihood could not be evaluated at any starting point")]
    NoFiniteLikelihood,
}

/// GARCH(1,1) variance parameters, in the units of the squared returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Garch11Params {
    /// Constant ω (variance per observation).
    pub omega: f64,
    /// ARCH coefficient α.
    pub alpha: f64,
    /// GARCH coefficient β.
    pub beta: f64,
}

impl Garch11Params {
    /// Validated parameters.
    ///
    /// # Errors
    /// [`GarchError::InvalidParameters`] unless `ω > 0, α ≥ 0, β ≥ 0, α + β < 1`, all finite.
    pub fn new(omega: f64, alpha: f64, beta: f64) -> Result<Self, GarchError> {
        let p = Self { omega, alpha, beta };
        if p.is_valid() {
            Ok(p)
        } else {
            Err(GarchError::InvalidParameters)
        }
    }

    fn is_valid(&self) -> bool {
        self.omega.is_finite()
            && self.omega > 0.0
            && self.alpha >= 0.0
            && self.beta >= 0.0
            && self.alpha + self.beta < 1.0
    }

    /// Persistence α + β.
    #[must_use]
    pub fn persistence(&self) -> f64 {
        self.alpha + self.beta
    }

    /// Long-run variance per observation `ω / (1 − α − β)`.
    #[must_use]
    pub fn unconditional_variance(&self) -> f64 {
        self.omega / (1.0 - self.persistence())
    }
}

/// Innovation distribution of the likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Innovation {
    /// Standard normal.
    #[default]
    Normal,
    /// Student-t standardized to unit variance, degrees of freedom ν estimated.
    StudentT,
}

/// Mean of the returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeanModel {
    /// μ = 0: returns are the residuals.
    #[default]
    Zero,
    /// A constant μ estimated jointly with the variance parameters.
    Constant,
}

/// The per-tick GARCH(1,1) filter. Holds the one-step-ahead variance; each [`Garch11::update`]
/// is O(1) and allocation-free.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Garch11 {
    params: Garch11Params,
    mu: f64,
    var_next: f64,
}

impl Garch11 {
    /// A filter with mean `mu` whose next-step variance is `var_next` (e.g. the backcast, the
    /// unconditional variance, or [`GarchFit::variance_next`]).
    ///
    /// # Errors
    /// [`GarchError::InvalidParameters`] for invalid parameters, a non-finite `mu`, or a
    /// non-positive or non-finite `var_next`.
    pub fn new(params: Garch11Params, mu: f64, var_next: f64) -> Result<Self, GarchError> {
        if !(params.is_valid() && mu.is_finite() && var_next > 0.0 && var_next.is_finite()) {
            return Err(GarchError::InvalidParameters);
        }
        Ok(Self {
            params,
            mu,
            var_next,
        })
    }

    /// Feed one return. Non-finite returns are ignored and reported as `false`, so the state
    /// never becomes NaN.
    #[inline]
    pub fn update(&mut self, ret: f64) -> bool {
        if !ret.is_finite() {
            return false;
        }
        let e = ret - self.mu;
        let p = &self.params;
        self.var_next = p
            .beta
            .mul_add(self.var_next, p.alpha.mul_add(e * e, p.omega));
        true
    }

    /// One-step-ahead variance forecast per observation.
    #[inline]
    #[must_use]
    pub fn variance(&self) -> f64 {
        self.var_next
    }

    /// The parameters.
    #[must_use]
    pub fn params(&self) -> Garch11Params {
        self.params
    }

    /// The mean μ.
    #[must_use]
    pub fn mu(&self) -> f64 {
        self.mu
    }

    /// Variance forecast `h ≥ 1` steps ahead: `σ̄² + (α + β)^{h−1} (σ²ₜ₊₁ − σ̄²)`. `h = 0` is
    /// treated as 1.
    #[must_use]
    pub fn forecast(&self, h: u32) -> f64 {
        let phi = self.params.persistence();
        let vbar = self.params.unconditional_variance();
        let k = h.max(1) - 1;
        vbar + phi.powi(i32::try_from(k).unwrap_or(i32::MAX)) * (self.var_next - vbar)
    }

    /// Forecasts for h = 1..=out.len() written into `out` (no allocation).
    pub fn forecast_into(&self, out: &mut [f64]) {
        let phi = self.params.persistence();
        let vbar = self.params.unconditional_variance();
        let mut dev = self.var_next - vbar;
        for o in out {
            *o = vbar + dev;
            dev *= phi;
        }
    }

    /// Variance of the sum of the next `h` returns, `Σ_{i=1..h}` forecast(i), in closed form.
    #[must_use]
    pub fn aggregate_variance(&self, h: u32) -> f64 {
        if h == 0 {
            return 0.0;
        }
        let phi = self.params.persistence();
        let vbar = self.params.unconditional_variance();
        let hf = f64::from(h);
        let geom = (1.0 - phi.powi(i32::try_from(h).unwrap_or(i32::MAX))) / (1.0 - phi);
        hf * vbar + (self.var_next - vbar) * geom
    }
}

/// The `arch` package's backcast: `Σ wᵢ ε²ᵢ` over the first `min(75, n)` residuals with
/// weights `∝ 0.94ⁱ` summing to one. Returns 0 for an empty slice.
#[must_use]
pub fn backcast(resids: &[f64]) -> f64 {
    backcast_of(resids.iter().copied())
}

/// [`backcast`] of residuals computed on the fly.
fn backcast_of(resids: impl Iterator<Item = f64>) -> f64 {
    let mut w = 1.0;
    let mut wsum = 0.0;
    let mut acc = 0.0;
    for e in resids.take(75) {
        acc += w * e * e;
        wsum += w;
        w *= 0.94;
    }
    if wsum > 0.0 {
        acc / wsum
    } else {
        0.0
    }
}

/// Options of [`fit`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FitOptions {
    /// Mean model (zero by default).
    pub mean: MeanModel,
    /// Innovation distribution (normal by default).
    pub innovation: Innovation,
    /// Whether to compute standard errors (off by default).
    pub std_errors: bool,
}

/// Standard errors of the estimates, in the units of the estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StdErrors {
    /// Of ω.
    pub omega: f64,
    /// Of α.
    pub alpha: f64,
    /// Of β.
    pub beta: f64,
    /// Of μ (constant mean only).
    pub mu: Option<f64>,
    /// Of ν (Student-t only).
    pub nu: Option<f64>,
}

/// Both kinds of standard errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitStdErrors {
    /// From the inverse of the observed information (negative Hessian).
    pub classic: StdErrors,
    /// Bollerslev–Wooldridge sandwich `H⁻¹ J H⁻¹` (`arch`'s default "robust").
    pub robust: StdErrors,
}

/// Result of a maximum-likelihood fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GarchFit {
    /// Estimated variance parameters.
    pub params: Garch11Params,
    /// Estimated mean (0 for [`MeanModel::Zero`]).
    pub mu: f64,
    /// Estimated Student-t degrees of freedom.
    pub nu: Option<f64>,
    /// Maximized log-likelihood (with all constants).
    pub loglik: f64,
    /// Number of returns.
    pub n: usize,
    /// Backcast used to start the recursion.
    pub backcast: f64,
    /// Conditional variance for the step after the last return.
    pub variance_next: f64,
    /// Standard errors, when asked for and the Hessian is negative definite.
    pub std_errors: Option<FitStdErrors>,
    /// Whether the gradient tolerance was met.
    pub converged: bool,
    /// Optimizer iterations spent (all starts).
    pub iterations: u32,
}

impl GarchFit {
    /// The per-tick filter positioned after the last fitted return.
    #[must_use]
    pub fn filter(&self) -> Garch11 {
        Garch11 {
            params: self.params,
            mu: self.mu,
            var_next: self.variance_next,
        }
    }

    /// Variance forecast `h` steps after the last return.
    #[must_use]
    pub fn forecast(&self, h: u32) -> f64 {
        self.filter().forecast(h)
    }
}

/// Full log-likelihood of `returns` under GARCH(1,1) with mean `mu`, started from `backcast`.
/// `nu = None` is the normal likelihood, `Some(ν)` the standardized Student-t. Returns NaN if a
/// conditional variance is not positive.
#[must_use]
pub fn loglikelihood(
    params: &Garch11Params,
    mu: f64,
    nu: Option<f64>,
    returns: &[f64],
    backcast: f64,
) -> f64 {
    let theta = [
        params.omega,
        params.alpha,
        params.beta,
        mu,
        nu.unwrap_or(0.0),
    ];
    let prob = Problem {
        r: returns,
        inv_scale: 1.0,
        bc: backcast,
        mean_free: false,
        t_dist: nu.is_some(),
    };
    prob.eval(&theta, None, None)
}

/// Maximum-likelihood fit of GARCH(1,1) to `returns` (used as given, no rescaling).
///
/// # Errors
/// [`GarchError::TooFewObservations`] for fewer than 10 returns, [`GarchError::NonFinite`] for
/// a NaN/inf return, [`GarchError::ZeroVariance`] when every residual is zero,
/// [`GarchError::NoFiniteLikelihood`] if no start gives a finite likelihood.
pub fn fit(returns: &[f64], opts: &FitOptions) -> Result<GarchFit, GarchError> {
    const MIN_N: usize = 10;
    let n = returns.len();
    if n < MIN_N {
        return Err(GarchError::TooFewObservations {
            needed: MIN_N,
            got: n,
        });
    }
    if let Some(index) = returns.iter().position(|r| !r.is_finite()) {
        return Err(GarchError::NonFinite { index });
    }
    let nf = n as f64;
    let mean = match opts.mean {
        MeanModel::Zero => 0.0,
        MeanModel::Constant => returns.iter().sum::<f64>() / nf,
    };
    let mean_sq = returns.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / nf;
    if !(mean_sq > 0.0) || !mean_sq.is_finite() {
        return Err(GarchError::ZeroVariance);
    }
    let scale = mean_sq.sqrt();
    let inv_scale = 1.0 / scale;
    // Backcast of the scaled residuals at the starting mean.
    let bc_scaled = backcast_of(returns.iter().map(|r| (r - mean) * inv_scale));
    let prob = Problem {
        r: returns,
        inv_scale,
        bc: bc_scaled,
        mean_free: opts.mean == MeanModel::Constant,
        t_dist: opts.innovation == Innovation::StudentT,
    };
    let mu0 = mean * inv_scale;

    // Grid of starts (variance 1 in scaled units), ranked by likelihood.
    let mut starts: [(f64, [f64; 5]); 12] = [(f64::NEG_INFINITY, [0.0; 5]); 12];
    let mut idx = 0;
    for &alpha in &[0.01, 0.05, 0.1, 0.2] {
        for &p in &[0.5, 0.9, 0.98] {
            let theta = [1.0 - p, alpha, p - alpha, mu0, 8.0];
            let ll = prob.eval(&theta, None, None);
            starts[idx] = (
                if ll.is_finite() {
                    ll
                } else {
                    f64::NEG_INFINITY
                },
                theta,
            );
            idx += 1;
        }
    }
    starts.sort_by(|a, b| b.0.total_cmp(&a.0));
    if !starts[0].0.is_finite() {
        return Err(GarchError::NoFiniteLikelihood);
    }

    let mut best: Option<(f64, [f64; 5], bool)> = None;
    let mut iterations = 0;
    for (ll0, theta0) in starts.iter().take(3) {
        if !ll0.is_finite() {
            continue;
        }
        let (mut x, mut out) = prob.bfgs(prob.to_x(theta0));
        iterations += out.iterations;
        if !out.converged && out.f.is_finite() {
            let again = prob.bfgs(prob.nelder_mead(x));
            iterations += again.1.iterations;
            if again.1.f <= out.f {
                (x, out) = again;
            }
        }
        // The logistic map flattens the likelihood near α = 0 (or β = 0): BFGS can stop there
        // with a vanishing gradient in x although the likelihood still rises into the interior.
        // If the natural gradient along α/(α + β) points inward, restart off the boundary.
        for _ in 0..3 {
            if !out.f.is_finite() {
                break;
            }
            let th = prob.to_theta(&x);
            let mut g = [0.0; 5];
            prob.eval(&th, Some(&mut g), None);
            let p = th[1] + th[2];
            let share = th[1] / p;
            let inward = if share < 1e-3 && g[1] > g[2] {
                Some(0.05)
            } else if share > 1.0 - 1e-3 && g[2] > g[1] {
                Some(0.95)
            } else {
                None
            };
            let Some(a) = inward else { break };
            let mut moved = th;
            moved[1] = p * a;
            moved[2] = p * (1.0 - a);
            let again = prob.bfgs(prob.to_x(&moved));
            iterations += again.1.iterations;
            if again.1.f < out.f {
                (x, out) = again;
            } else {
                break;
            }
        }
        if out.f.is_finite() && best.is_none_or(|(f, _, _)| out.f < f) {
            best = Some((out.f, x, out.converged));
        }
    }
    let (_, x_best, converged) = best.ok_or(GarchError::NoFiniteLikelihood)?;
    let theta = prob.to_theta(&x_best);
    let ll_scaled = prob.eval(&theta, None, None);
    let loglik = ll_scaled - nf * scale.ln();

    let s2 = scale * scale;
    let params = Garch11Params {
        omega: theta[0] * s2,
        alpha: theta[1],
        beta: theta[2],
    };
    let mu = if prob.mean_free {
        theta[3] * scale
    } else {
        0.0
    };
    let nu = prob.t_dist.then_some(theta[4]);
    // Filter through the sample (original units) for the next-step variance.
    let bc = bc_scaled * s2;
    let mut var = params.omega + (params.alpha + params.beta) * bc;
    for &r in returns {
        let e = r - mu;
        var = params.omega + params.alpha * e * e + params.beta * var;
    }
    let std_errors = if opts.std_errors {
        prob.std_errors(&theta, scale)
    } else {
        None
    };
    Ok(GarchFit {
        params,
        mu,
        nu,
        loglik,
        n,
        backcast: bc,
        variance_next: var,
        std_errors,
        converged,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn simulate(n: usize, omega: f64, alpha: f64, beta: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut h = omega / (1.0 - alpha - beta);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            // Box–Muller.
            let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
            let u2: f64 = rng.gen();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let r = h.sqrt() * z;
            out.push(r);
            h = omega + alpha * r * r + beta * h;
        }
        out
    }

    #[test]
    fn online_update_and_forecasts_are_consistent() {
        let p = Garch11Params::new(1e-6, 0.08, 0.9).unwrap();
        let mut g = Garch11::new(p, 0.0, 4e-5).unwrap();
        assert!(g.update(0.01));
        let v1 = 1e-6 + 0.08 * 1e-4 + 0.9 * 4e-5;
        assert!((g.variance() - v1).abs() < 1e-18);
        assert!(!g.update(f64::NAN));
        assert_eq!(g.forecast(1), g.variance());
        let mut f = [0.0; 6];
        g.forecast_into(&mut f);
        let mut sum = 0.0;
        for (h, fh) in f.iter().enumerate() {
            assert!((g.forecast(h as u32 + 1) - fh).abs() < 1e-18);
            sum += fh;
        }
        assert!((g.aggregate_variance(6) - sum).abs() < 1e-16);
        assert!((g.forecast(10_000) - p.unconditional_variance()).abs() < 1e-12);
        assert!(Garch11Params::new(1e-6, 0.5, 0.5).is_err());
        assert!(Garch11Params::new(0.0, 0.1, 0.5).is_err());
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let r = simulate(800, 0.05, 0.1, 0.85, 7);
        for (mean_free, t_dist) in [(false, false), (true, false), (true, true)] {
            let prob = Problem {
                r: &r,
                inv_scale: 0.9,
                bc: 1.1,
                mean_free,
                t_dist,
            };
            let x = prob.to_x(&[0.06, 0.08, 0.87, 0.02, 7.0]);
            let mut g = [0.0; 5];
            prob.objective(&x, Some(&mut g));
            for i in 0..prob.dim() {
                let h = 1e-6;
                let (mut xp, mut xm) = (x, x);
                xp[i] += h;
                xm[i] -= h;
                let fd = (prob.objective(&xp, None) - prob.objective(&xm, None)) / (2.0 * h);
                assert!(
                    (fd - g[i]).abs() < 1e-7 * (1.0 + fd.abs()),
                    "i={i} fd={fd} g={}",
                    g[i]
                );
            }
        }
    }

    #[test]
    fn fit_recovers_simulated_parameters_and_is_scale_equivariant() {
        let r = simulate(5000, 0.02, 0.08, 0.9, 11);
        let f = fit(
            &r,
            &FitOptions {
                std_errors: true,
                ..FitOptions::default()
            },
        )
        .unwrap();
        assert!(f.converged);
        assert!((f.params.alpha - 0.08).abs() < 0.03, "{f:?}");
        assert!((f.params.beta - 0.9).abs() < 0.04, "{f:?}");
        let se = f.std_errors.unwrap();
        assert!(se.robust.alpha > 0.0 && se.classic.beta > 0.0);
        // The loglik at the optimum beats nearby points.
        for (da, db) in [(0.002, 0.0), (-0.002, 0.0), (0.0, 0.002), (0.0, -0.002)] {
            let p = Garch11Params {
                alpha: f.params.alpha + da,
                beta: f.params.beta + db,
                ..f.params
            };
            assert!(loglikelihood(&p, 0.0, None, &r, f.backcast) < f.loglik);
        }
        let scaled: Vec<f64> = r.iter().map(|x| x * 0.01).collect();
        let g = fit(&scaled, &FitOptions::default()).unwrap();
        assert!((g.params.alpha - f.params.alpha).abs() < 1e-6);
        assert!((g.params.omega / 1e-4 - f.params.omega).abs() < 1e-6 * f.params.omega);
        assert!((g.loglik - (f.loglik - 5000.0 * 0.01_f64.ln())).abs() < 1e-6);
    }

    #[test]
    fn fit_rejects_bad_input() {
        assert!(matches!(
            fit(&[0.1; 5], &FitOptions::default()),
            Err(GarchError::TooFewObservations { .. })
        ));
        assert!(matches!(
            fit(&[0.0; 50], &FitOptions::default()),
            Err(GarchError::ZeroVariance)
        ));
        let mut r = vec![0.01; 50];
        r[7] = f64::NAN;
        assert!(matches!(
            fit(&r, &FitOptions::default()),
            Err(GarchError::NonFinite { index: 7 })
        ));
    }
}
