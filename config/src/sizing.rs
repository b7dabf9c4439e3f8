//! `[sizing]`: volatility-targeted sizing.

use serde::Deserialize;

use crate::error::{bad, ConfigError};
use engine::sizer::VolTargetConfig;
use risk_core::margin::Side;
use risk_core::vol_target::VolTarget;

/// `[sizing]`. Not a [`VolTargetConfig`]: the file gives the sampling interval in ms and the
/// direction as `long` / `short`, and keeps the target's fields flat.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SizingConfig {
    /// Capital in quote currency.
    pub capital: f64,
    /// Annualized target volatility (0.5 = 50 %).
    pub target_vol: f64,
    /// Lowest exposure, × capital.
    pub min_leverage: f64,
    /// Highest exposure, × capital.
    pub max_leverage: f64,
    /// Relative hysteresis band (0.1 = act only on a 10 % change).
    pub band: f64,
    /// EWMA decay per sample.
    pub ewma_lambda: f64,
    /// Return sampling interval, ms of receive time.
    pub sample_ms: u64,
    /// Samples that seed the EWMA before the first decision.
    pub warmup_samples: u32,
    /// `long` or `short`.
    pub direction: Side,
    /// Cap each order to the quantity displayed at the touch.
    pub cap_to_touch: bool,
}

impl Default for SizingConfig {
    fn default() -> Self {
        Self {
            capital: 100_000.0,
            target_vol: 0.5,
            min_leverage: 0.0,
            max_leverage: 2.0,
            band: 0.1,
            ewma_lambda: 0.94,
            sample_ms: 1000,
            warmup_samples: 20,
            direction: Side::Long,
            cap_to_touch: true,
        }
    }
}

impl SizingConfig {
    /// Checks every value; the sizer's settings.
    pub(crate) fn resolve(&self) -> Result<VolTargetConfig, ConfigError> {
        let pos = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(bad(field, v, "expected a finite number > 0"))
            }
        };
        pos("sizing.capital", self.capital)?;
        pos("sizing.target_vol", self.target_vol)?;
        pos("sizing.max_leverage", self.max_leverage)?;
        if !(self.min_leverage.is_finite()
            && self.min_leverage >= 0.0
            && self.min_leverage <= self.max_leverage)
        {
            return Err(bad(
                "sizing.min_leverage",
                self.min_leverage,
                "expected 0 <= min_leverage <= max_leverage",
            ));
        }
        if !(self.band.is_finite() && (0.0..1.0).contains(&self.band)) {
            return Err(bad("sizing.band", self.band, "expected 0 <= band < 1"));
        }
        if !(self.ewma_lambda > 0.0 && self.ewma_lambda < 1.0) {
            return Err(bad(
                "sizing.ewma_lambda",
                self.ewma_lambda,
                "expected 0 < lambda < 1",
            ));
        }
        if self.sample_ms == 0 {
            return Err(bad("sizing.sample_ms", self.sample_ms, "expected > 0"));
        }
        if self.warmup_samples == 0 {
            return Err(bad(
                "sizing.warmup_samples",
                self.warmup_samples,
                "expected > 0",
            ));
        }
        Ok(VolTargetConfig {
            capital: self.capital,
            target: VolTarget {
                target_vol: self.target_vol,
                min_leverage: self.min_leverage,
                max_leverage: self.max_leverage,
                band: self.band,
            },
            ewma_lambda: self.ewma_lambda,
            sample_interval_ns: self.sample_ms * 1_000_000,
            warmup_samples: self.warmup_samples,
            direction: match self.direction {
                Side::Long => 1.0,
                Side::Short => -1.0,
            },
        })
    }
}
