//! Greeks limits per underlying: delta re-hedging bands (fixed, and Whalley–Wilmott from gamma,
//! transaction cost and risk aversion) and the scaling of option positions that keeps |gamma|
//! and |vega| within limits.
//!
//! Inputs are portfolio Greeks as plain numbers (this module does not price options):
//! delta in units of the underlying, gamma as delta change per one unit of underlying price,
//! vega per volatility point. Allocation-free, O(1).

/// Portfolio Greeks of one underlying.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PortfolioGreeks {
    /// Delta, in units of the underlying.
    pub delta: f64,
    /// Gamma, delta change per unit move of the underlying price.
    pub gamma: f64,
    /// Vega per volatility point.
    pub vega_per_vol_point: f64,
}

/// Where a re-hedge takes delta once it left its band. Configured as `edge` or `center` (also
/// spelled `centre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum HedgeTo {
    /// Back to the nearest edge of the band (the Whalley–Wilmott optimum: least trading).
    #[default]
    Edge,
    /// Back to the target.
    #[cfg_attr(feature = "serde", serde(alias = "centre"))]
    Center,
}

/// The hedge trade (in underlying units, signed) that brings `delta` back inside
/// `target ± half_width`, or 0 when it is inside. A non-finite or negative half-width gives 0
/// trade only if `delta` is finite and equal to the target; NaN never comes out.
#[must_use]
pub fn band_hedge(delta: f64, target: f64, half_width: f64, to: HedgeTo) -> f64 {
    if !(delta.is_finite() && target.is_finite()) {
        return 0.0;
    }
    let hw = if half_width.is_finite() {
        half_width.max(0.0)
    } else {
        0.0
    };
    let dev = delta - target;
    if dev.abs() <= hw {
        return 0.0;
    }
    match to {
        HedgeTo::Center => -dev,
        HedgeTo::Edge => -(dev - dev.signum() * hw),
    }
}

/// Whalley & Wilmott (1997) asymptotic no-transaction band for proportional costs:
/// half-width `H = (3 e^{−r(T−t)} λ S Γ² / (2 γ))^{1/3}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WhalleyWilmott {
    /// Proportional transaction cost λ (fraction of traded value, e.g. 0.0005).
    pub cost_frac: f64,
    /// Risk aversion γ (> 0).
    pub risk_aversion: f64,
    /// Discount factor `e^{−r(T−t)}` (1 for short horizons).
    pub discount: f64,
}

impl WhalleyWilmott {
    /// Band half-width in underlying units for spot `S` and portfolio gamma `Γ`; 0 for invalid
    /// parameters (which makes the band a hedge-always rule).
    #[must_use]
    pub fn half_width(&self, spot: f64, gamma: f64) -> f64 {
        let v = 3.0 * self.discount * self.cost_frac * spot * gamma * gamma
            / (2.0 * self.risk_aversion);
        if v.is_finite() && v > 0.0 {
            v.cbrt()
        } else {
            0.0
        }
    }

    /// The hedge trade that brings delta back inside the band around `target`.
    #[must_use]
    pub fn hedge(&self, greeks: &PortfolioGreeks, target: f64, spot: f64, to: HedgeTo) -> f64 {
        band_hedge(
            greeks.delta,
            target,
            self.half_width(spot, greeks.gamma),
            to,
        )
    }
}

/// Limits on the absolute portfolio gamma and vega of one underlying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaVegaLimits {
    /// Largest |gamma|.
    pub max_abs_gamma: f64,
    /// Largest |vega| per vol point.
    pub max_abs_vega: f64,
}

/// Which limit set an option scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleBound {
    /// Neither limit binds: scale 1.
    None,
    /// The gamma limit.
    Gamma,
    /// The vega limit.
    Vega,
    /// The other positions alone breach a limit: options go to zero.
    Infeasible,
}

/// Interval of `s` with `|a s + b| ≤ limit`; `None` when empty.
#[must_use]
pub fn abs_limit_interval(a: f64, b: f64, limit: f64) -> Option<(f64, f64)> {
    if !(limit >= 0.0) || !a.is_finite() || !b.is_finite() {
        return None;
    }
    if a == 0.0 {
        return (b.abs() <= limit).then_some((f64::NEG_INFINITY, f64::INFINITY));
    }
    let inv = a.recip();
    let (x, y) = ((-limit - b) * inv, (limit - b) * inv);
    Some(if x <= y { (x, y) } else { (y, x) })
}

/// Largest scale `s ∈ [0, 1]` applied to the option positions' Greeks `options` such that
/// `|s Γ_opt + Γ_other| ≤ max_abs_gamma` and the same for vega, with the binding limit.
#[must_use]
pub fn option_scale(
    options: &PortfolioGreeks,
    other: &PortfolioGreeks,
    limits: &GammaVegaLimits,
) -> (f64, ScaleBound) {
    let g = abs_limit_interval(options.gamma, other.gamma, limits.max_abs_gamma);
    let v = abs_limit_interval(
        options.vega_per_vol_point,
        other.vega_per_vol_point,
        limits.max_abs_vega,
    );
    let (Some(g), Some(v)) = (g, v) else {
        return (0.0, ScaleBound::Infeasible);
    };
    let lo = g.0.max(v.0).max(0.0);
    let hi = g.1.min(v.1).min(1.0);
    if lo > hi {
        return (0.0, ScaleBound::Infeasible);
    }
    if hi >= 1.0 {
        return (1.0, ScaleBound::None);
    }
    let bound = if g.1 <= v.1 {
        ScaleBound::Gamma
    } else {
        ScaleBound::Vega
    };
    (hi, bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_hedges() {
        assert_eq!(band_hedge(0.5, 0.0, 1.0, HedgeTo::Edge), 0.0);
        assert!((band_hedge(1.5, 0.0, 1.0, HedgeTo::Edge) + 0.5).abs() < 1e-15);
        assert!((band_hedge(-1.5, 0.0, 1.0, HedgeTo::Center) - 1.5).abs() < 1e-15);
        assert_eq!(band_hedge(f64::NAN, 0.0, 1.0, HedgeTo::Edge), 0.0);
    }

    #[test]
    fn whalley_wilmott_width_scales_as_documented() {
        let ww = WhalleyWilmott {
            cost_frac: 0.001,
            risk_aversion: 1.0,
            discount: 1.0,
        };
        let h = ww.half_width(100.0, 0.05);
        assert!((h - (1.5_f64 * 0.001 * 100.0 * 0.0025).cbrt()).abs() < 1e-15);
        // Width ∝ Γ^(2/3) and ∝ (λ/γ)^(1/3).
        assert!((ww.half_width(100.0, 0.4) / h - 8.0_f64.powf(2.0 / 3.0)).abs() < 1e-12);
        let ww8 = WhalleyWilmott {
            cost_frac: 0.008,
            ..ww
        };
        assert!((ww8.half_width(100.0, 0.05) / h - 2.0).abs() < 1e-12);
        let g = PortfolioGreeks {
            delta: 3.0,
            gamma: 0.05,
            vega_per_vol_point: 0.0,
        };
        assert!((ww.hedge(&g, 0.0, 100.0, HedgeTo::Edge) + (3.0 - h)).abs() < 1e-12);
    }

    #[test]
    fn option_scaling() {
        let lim = GammaVegaLimits {
            max_abs_gamma: 10.0,
            max_abs_vega: 1_000.0,
        };
        let opts = PortfolioGreeks {
            delta: 0.0,
            gamma: 20.0,
            vega_per_vol_point: 1_500.0,
        };
        let (s, b) = option_scale(&opts, &PortfolioGreeks::default(), &lim);
        assert_eq!((s, b), (0.5, ScaleBound::Gamma));
        let opts = PortfolioGreeks {
            delta: 0.0,
            gamma: 5.0,
            vega_per_vol_point: 4_000.0,
        };
        assert_eq!(
            option_scale(&opts, &PortfolioGreeks::default(), &lim),
            (0.25, ScaleBound::Vega)
        );
        let other = PortfolioGreeks {
            delta: 0.0,
            gamma: 11.0,
            vega_per_vol_point: 0.0,
        };
        let hedge = PortfolioGreeks {
            delta: 0.0,
            gamma: -2.0,
            vega_per_vol_point: 0.0,
        };
        assert_eq!(option_scale(&hedge, &other, &lim), (1.0, ScaleBound::None));
        assert_eq!(option_scale(&opts, &other, &lim).1, ScaleBound::Infeasible);
    }
}
