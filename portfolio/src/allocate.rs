//! Allocation across factors: the policy's target exposures on one covariance matrix, then the
//! portfolio limits (factor caps, gross and net leverage), each factor's binding step recorded.
//!
//! Exposures are in the account currency (USD) and signed; the weight of a factor is its exposure
//! over capital. Risk parity and vol-target lever their weights to the volatility target, so
//! their risk contributions `RCᵢ = eᵢ (Σe)ᵢ / eᵀΣe` are the risk-parity solver's (the budgets) as
//! long as only uniform scalings bind (the target, gross and net leverage); a factor cap clips
//! one factor and moves every contribution, and says so in the factor's binding.
//!
//! [`Allocator`] owns its buffers (sized once for `n_max` factors): an allocation does not
//! allocate.

use risk_core::kelly::{KellyError, KellyOptions, KellySolver};
use risk_core::risk_parity::{RiskParityError, RiskParitySolver};

use crate::spec::{Policy, PortfolioSpec};

/// The step that last set a factor's target exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FactorBinding {
    /// The policy's value stood.
    #[default]
    Model,
    /// Kelly scaled down to the volatility ceiling.
    VolTarget,
    /// Clipped to the factor's `max_weight`.
    FactorCap,
    /// Scaled to the gross-leverage limit.
    GrossLeverage,
    /// Scaled to the net-leverage limit.
    NetLeverage,
    /// Not in the matrix (not ready or stale): its exposure is held, not traded.
    Masked,
}

impl FactorBinding {
    /// Stable snake-case name for records and tables.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::VolTarget => "vol_target",
            Self::FactorCap => "factor_cap",
            Self::GrossLeverage => "gross_leverage",
            Self::NetLeverage => "net_leverage",
            Self::Masked => "masked",
        }
    }
}

/// Why an allocation failed (the previous targets then stand).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum AllocError {
    /// The risk-parity solve failed.
    #[error(transparent)]
    RiskParity(#[from] RiskParityError),
    /// The Kelly solve failed.
    #[error(transparent)]
    Kelly(#[from] KellyError),
    /// The portfolio's variance is not positive and finite.
    #[error("portfolio variance {0} is not positive")]
    Variance(f64),
}

/// What an allocation wrote besides the exposures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AllocReport {
    /// Annualized volatility of the target exposures as a fraction of capital,
    /// `√(eᵀΣe) / capital`.
    pub portfolio_vol: f64,
    /// Gross leverage `Σ |eᵢ| / capital`.
    pub gross_leverage: f64,
    /// Net leverage `Σ eᵢ / capital`.
    pub net_leverage: f64,
    /// Largest `|RCᵢ − bᵢ| / bᵢ` of the unconstrained solve (risk parity; 0 otherwise).
    pub solver_error: f64,
}

/// The allocator of a portfolio: solvers and scratch for up to `n_max` factors.
#[derive(Debug, Clone)]
pub struct Allocator {
    rp: RiskParitySolver,
    kelly: KellySolver,
    budgets: Vec<f64>,
    mu: Vec<f64>,
    w: Vec<f64>,
    sx: Vec<f64>,
    /// The last risk-parity weights (summing to one) and the factors they were for: the next
    /// solve on the same factors starts from them.
    prev_w: Vec<f64>,
    prev_factors: Vec<usize>,
    /// Solves started warm, cold.
    pub warm_solves: u64,
    /// See [`Self::warm_solves`].
    pub cold_solves: u64,
}

impl Allocator {
    /// An allocator for up to `n_max` factors (allocates once).
    #[must_use]
    pub fn new(n_max: usize) -> Self {
        let mut rp = RiskParitySolver::new(n_max.max(1));
        rp.tolerance = 1e-12;
        Self {
            rp,
            kelly: KellySolver::new(n_max.max(1)),
            budgets: vec![0.0; n_max],
            mu: vec![0.0; n_max],
            w: vec![0.0; n_max],
            sx: vec![0.0; n_max],
            prev_w: vec![0.0; n_max],
            prev_factors: Vec::with_capacity(n_max),
            warm_solves: 0,
            cold_solves: 0,
        }
    }

    /// Target exposures of the `k` factors `factors[..k]` (indices into `spec.factors`) under the
    /// annualized covariance `cov` (`k × k`, row-major), written to `exposure[..k]` with their
    /// bindings. Budgets of the factors present are renormalized to sum to one. Kelly reads the
    /// factors' configured `expected_return`.
    ///
    /// # Errors
    /// [`AllocError`]; nothing is written then.
    pub fn allocate(
        &mut self,
        spec: &PortfolioSpec,
        factors: &[usize],
        cov: &[f64],
        exposure: &mut [f64],
        binding: &mut [FactorBinding],
    ) -> Result<AllocReport, AllocError> {
        self.allocate_with_returns(spec, factors, cov, None, exposure, binding)
    }

    /// [`Self::allocate`] with Kelly's expected returns given per spec factor
    /// (`expected[f]`, annualized: a signal's latest values) instead of the configured ones.
    ///
    /// # Errors
    /// [`AllocError`]; nothing is written then.
    pub fn allocate_with_returns(
        &mut self,
        spec: &PortfolioSpec,
        factors: &[usize],
        cov: &[f64],
        expected: Option<&[f64]>,
        exposure: &mut [f64],
        binding: &mut [FactorBinding],
    ) -> Result<AllocReport, AllocError> {
        let k = factors.len();
        let cov = &cov[..k * k];
        let w = &mut self.w[..k];
        let mut report = AllocReport::default();
        let mut scale_binding = FactorBinding::Model;
        match spec.policy {
            Policy::RiskParity => {
                let b = &mut self.budgets[..k];
                let total: f64 = factors.iter().map(|&f| spec.factors[f].budget).sum();
                for (bi, &f) in b.iter_mut().zip(factors) {
                    *bi = spec.factors[f].budget / total;
                }
                // Warm start from the last answer when the factors are the same ones.
                let r = if self.prev_factors == factors {
                    w.copy_from_slice(&self.prev_w[..k]);
                    self.warm_solves += 1;
                    self.rp.solve_warm(cov, k, Some(b), w)?
                } else {
                    self.cold_solves += 1;
                    self.rp.solve(cov, k, Some(b), w)?
                };
                self.prev_w[..k].copy_from_slice(w);
                self.prev_factors.clear();
                self.prev_factors.extend_from_slice(factors);
                report.solver_error = r.max_rel_error;
                let sigma = quad(cov, w, &mut self.sx[..k]).sqrt();
                let lev = spec.target_vol.unwrap_or(1.0) / sigma;
                for wi in w.iter_mut() {
                    *wi *= lev;
                }
            }
            Policy::VolTarget => {
                for (wi, &f) in w.iter_mut().zip(factors) {
                    *wi = spec.factors[f].budget;
                }
                let sigma = quad(cov, w, &mut self.sx[..k]).sqrt();
                if !(sigma > 0.0 && sigma.is_finite()) {
                    return Err(AllocError::Variance(sigma * sigma));
                }
                let lev = spec.target_vol.unwrap_or(1.0) / sigma;
                for wi in w.iter_mut() {
                    *wi *= lev;
                }
            }
            Policy::Kelly => {
                let mu = &mut self.mu[..k];
                for (m, &f) in mu.iter_mut().zip(factors) {
                    *m = expected.map_or(spec.factors[f].expected_return, |e| e[f]);
                }
                let opts = KellyOptions {
                    rf: spec.rf,
                    fraction: spec.kelly_fraction,
                    max_gross_leverage: None,
                };
                self.kelly.solve(mu, cov, &opts, w)?;
                if let Some(cap) = spec.target_vol {
                    let sigma = quad(cov, w, &mut self.sx[..k]).sqrt();
                    if sigma > cap {
                        let s = cap / sigma;
                        for wi in w.iter_mut() {
                            *wi *= s;
                        }
                        scale_binding = FactorBinding::VolTarget;
                    }
                }
            }
        }
        for (bi, _) in binding[..k].iter_mut().zip(factors) {
            *bi = scale_binding;
        }
        // Factor caps: clip each.
        for ((wi, bi), &f) in w.iter_mut().zip(&mut binding[..k]).zip(factors) {
            let cap = spec.factors[f].max_weight;
            if wi.abs() > cap {
                *wi = cap.copysign(*wi);
                *bi = FactorBinding::FactorCap;
            }
        }
        // Gross, then net leverage: scale all (risk shares unchanged).
        let gross: f64 = w.iter().map(|x| x.abs()).sum();
        if gross > spec.max_gross_leverage {
            let s = spec.max_gross_leverage / gross;
            w.iter_mut().for_each(|x| *x *= s);
            binding[..k].fill(FactorBinding::GrossLeverage);
        }
        let net: f64 = w.iter().sum();
        if net.abs() > spec.max_net_leverage {
            let s = spec.max_net_leverage / net.abs();
            w.iter_mut().for_each(|x| *x *= s);
            binding[..k].fill(FactorBinding::NetLeverage);
        }
        let var = quad(cov, w, &mut self.sx[..k]);
        if !(var >= 0.0 && var.is_finite()) {
            return Err(AllocError::Variance(var));
        }
        report.portfolio_vol = var.sqrt();
        report.gross_leverage = w.iter().map(|x| x.abs()).sum();
        report.net_leverage = w.iter().sum();
        for (e, wi) in exposure[..k].iter_mut().zip(w.iter()) {
            *e = wi * spec.capital;
        }
        Ok(report)
    }
}

/// `xᵀ Σ x`, with `Σx` left in `sx`.
fn quad(cov: &[f64], x: &[f64], sx: &mut [f64]) -> f64 {
    let k = x.len();
    let mut q = 0.0;
    for i in 0..k {
        let row = &cov[i * k..(i + 1) * k];
        let s: f64 = row.iter().zip(x).map(|(c, xj)| c * xj).sum();
        sx[i] = s;
        q += x[i] * s;
    }
    q
}

/// Risk contributions `RCᵢ = eᵢ (Σe)ᵢ / eᵀΣe` of exposures `e` under `cov` (`k × k`), written
/// to `out`; `false` (nothing written) when the variance is not positive.
pub fn risk_contributions(cov: &[f64], e: &[f64], sx: &mut [f64], out: &mut [f64]) -> bool {
    let var = quad(cov, e, sx);
    if !(var > 0.0 && var.is_finite()) {
        return false;
    }
    for ((o, ei), si) in out.iter_mut().zip(e).zip(sx.iter()) {
        *o = ei * si / var;
    }
    true
}
