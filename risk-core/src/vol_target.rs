//! Volatility targeting: exposure = target vol / forecast vol, clamped to a leverage range, with a
//! hysteresis band so that small forecast moves do not churn the position.

/// Configuration of a volatility-targeted exposure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolTarget {
    /// Target annualized volatility of the position (e.g. 0.20).
    pub target_vol: f64,
    /// Lowest exposure as a multiple of capital (≥ 0).
    pub min_leverage: f64,
    /// Highest exposure as a multiple of capital.
    pub max_leverage: f64,
    /// Relative band: a new target within `band` × |current target| of the current one is not
    /// acted upon (0.10 = 10 %).
    pub band: f64,
}

/// Which bound set the exposure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolTargetBound {
    /// target / forecast, unclamped.
    Model,
    /// Clamped at `max_leverage`.
    MaxLeverage,
    /// Clamped at `min_leverage`.
    MinLeverage,
}

impl VolTarget {
    /// Exposure as a multiple of capital for an annualized volatility forecast, and the bound that
    /// set it. A non-finite or non-positive forecast gives `None` (no decision, never NaN).
    #[must_use]
    pub fn leverage(&self, forecast_vol: f64) -> Option<(f64, VolTargetBound)> {
        if !(forecast_vol.is_finite() && forecast_vol > 0.0) {
            return None;
        }
        let raw = self.target_vol / forecast_vol;
        if raw > self.max_leverage {
            Some((self.max_leverage, VolTargetBound::MaxLeverage))
        } else if raw < self.min_leverage {
            Some((self.min_leverage, VolTargetBound::MinLeverage))
        } else {
            Some((raw, VolTargetBound::Model))
        }
    }

    /// Whether moving from `current` to `target` (same units) clears the hysteresis band.
    #[must_use]
    pub fn outside_band(&self, current: f64, target: f64) -> bool {
        let diff = (target - current).abs();
        let scale = current.abs().max(target.abs());
        if scale == 0.0 {
            return false;
        }
        diff > self.band * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_names_the_bound() {
        let vt = VolTarget {
            target_vol: 0.2,
            min_leverage: 0.0,
            max_leverage: 2.0,
            band: 0.1,
        };
        assert_eq!(vt.leverage(0.4), Some((0.5, VolTargetBound::Model)));
        assert_eq!(vt.leverage(0.05), Some((2.0, VolTargetBound::MaxLeverage)));
        assert_eq!(vt.leverage(0.0), None);
        assert_eq!(vt.leverage(f64::NAN), None);
        assert!(!vt.outside_band(1.0, 1.05));
        assert!(vt.outside_band(1.0, 1.2));
        assert!(vt.outside_band(0.0, 1.0));
    }
}
