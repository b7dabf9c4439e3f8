//! Volatility forecasts: EWMA (RiskMetrics) and GARCH(1,1), plus annualization helpers.
//!
//! All forecasts are variances *per observation* of the returns they were fed; convert with
//! [`annualize_variance`] / [`annualized_vol`] using the number of observations per year
//! (e.g. 252 for daily bars, 365 × 24 × 3600 for one-second crypto returns).

pub mod ewma;
pub mod garch;
mod special;
pub mod svi;

pub use ewma::Ewma;
pub use garch::{Garch11, Garch11Params, GarchFit};

/// Trading days per year, for daily equity returns.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;
/// Seconds in a 365-day year, for around-the-clock venues.
pub const SECONDS_PER_YEAR: f64 = 365.0 * 24.0 * 3600.0;

/// Variance per observation → annual variance (`var × obs_per_year`).
#[inline]
#[must_use]
pub fn annualize_variance(var_per_obs: f64, obs_per_year: f64) -> f64 {
    var_per_obs * obs_per_year
}

/// Variance per observation → annualized volatility `√(var × obs_per_year)`.
#[inline]
#[must_use]
pub fn annualized_vol(var_per_obs: f64, obs_per_year: f64) -> f64 {
    (var_per_obs * obs_per_year).sqrt()
}

/// Annualized volatility → variance per observation `vol² / obs_per_year`.
#[inline]
#[must_use]
pub fn deannualize_vol(vol_annual: f64, obs_per_year: f64) -> f64 {
    vol_annual * vol_annual / obs_per_year
}

/// Volatility over a horizon of `horizon_obs` observations, from a per-observation variance,
/// under the square-root-of-time rule: `√(var × h)`.
#[inline]
#[must_use]
pub fn horizon_vol(var_per_obs: f64, horizon_obs: f64) -> f64 {
    (var_per_obs * horizon_obs).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annualization_round_trips() {
        let v = 1.5e-4;
        let vol = annualized_vol(v, TRADING_DAYS_PER_YEAR);
        assert!((vol - (1.5e-4_f64 * 252.0).sqrt()).abs() < 1e-15);
        assert!((deannualize_vol(vol, TRADING_DAYS_PER_YEAR) - v).abs() < 1e-18);
        assert!((annualize_variance(v, 252.0) - vol * vol).abs() < 1e-15);
        assert!((horizon_vol(v, 4.0) - 2.0 * v.sqrt()).abs() < 1e-15);
    }
}
