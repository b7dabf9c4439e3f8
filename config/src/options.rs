//! `[options]`: the options engine of `ballast options-replay`, its GARCH forecast and surface,
//! and per-underlying overrides.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{bad, ConfigError};
use ::options::{IvSource, VolSource};
use risk_core::greeks_limits::HedgeTo;

/// Which volatility sizes the liquidation buffer, as the file names it. Not an
/// [`options::VolSource`]: the file gives the forecast's weight of the blends under its own key
/// (`forecast_weight`), so the name alone carries no weight ([`VolSourceKind::with_weight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolSourceKind {
    /// [`VolSource::Forecast`].
    Forecast,
    /// [`VolSource::Implied`].
    #[default]
    Implied,
    /// [`VolSource::Blend`].
    Blend,
    /// [`VolSource::Garch`].
    Garch,
    /// [`VolSource::GarchBlend`].
    GarchBlend,
}

impl VolSourceKind {
    /// The source, blends weighted by `forecast_weight`.
    #[must_use]
    pub const fn with_weight(self, forecast_weight: f64) -> VolSource {
        match self {
            Self::Forecast => VolSource::Forecast,
            Self::Implied => VolSource::Implied,
            Self::Blend => VolSource::Blend { forecast_weight },
            Self::Garch => VolSource::Garch,
            Self::GarchBlend => VolSource::GarchBlend { forecast_weight },
        }
    }
}

/// `[options]`: the options engine of `ballast options-replay` (one engine per underlying). Units
/// as in [`options::OptionsConfig`]: delta in coins, gamma per USD, vega per vol point in
/// USD, collateral in coins. `[options.underlying.<NAME>]` overrides the coin-denominated values
/// for one underlying (an ETH book needs a wider band than a BTC one). Not an
/// [`options::OptionsConfig`]: the file adds the base book and the overrides, gives the sampling
/// interval in ms and the blends' weight under its own key; [`OptionsSection::resolve_for`]
/// builds the engine's settings per underlying.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OptionsSection {
    /// Underlyings to run (`BTC`, `ETH`); empty: every underlying whose option tickers appear.
    pub underlyings: Vec<String>,
    /// Base model: desired lots of every chain option not listed in `book`.
    pub default_lots: i64,
    /// Base model: `[[options.book]]` entries (`symbol`, `lots`).
    pub book: Vec<OptionsBookEntry>,
    /// Half-width of the no-hedge delta band, coins.
    pub delta_band: f64,
    /// `edge` or `center` (also `centre`): where a band hedge brings delta back to.
    pub hedge_to: HedgeTo,
    /// Largest |portfolio gamma|, per USD.
    pub max_abs_gamma: f64,
    /// Largest |portfolio vega| per vol point, USD.
    pub max_abs_vega_per_vol_point: f64,
    /// Collateral backing the hedge, coins.
    pub collateral_coin: f64,
    /// Flat maintenance-margin rate of the hedge.
    pub mmr: f64,
    /// Liquidation buffer in standard deviations.
    pub buffer_k: f64,
    /// Liquidation buffer horizon, days.
    pub buffer_horizon_days: f64,
    /// Highest margin ratio at the mark, (0, 1].
    pub max_margin_ratio: f64,
    /// Largest |hedge notional| / collateral value.
    pub max_leverage: f64,
    /// Share of the displayed touch one order may take, (0, 1].
    pub liquidity_frac: f64,
    /// Option increases wait until they reach this share of the desired size.
    pub rebalance_frac: f64,
    /// `forecast`, `implied`, `blend`, `garch` or `garch_blend`: volatility of the liquidation
    /// buffer (`garch*` need `[options.garch]`).
    pub vol_source: VolSourceKind,
    /// Weight of the forecast in `blend` and `garch_blend`, [0, 1].
    pub forecast_weight: f64,
    /// EWMA decay per sample.
    pub ewma_lambda: f64,
    /// EWMA warm-up samples.
    pub ewma_warmup: u32,
    /// Sampling interval of hedge mid returns, ms.
    pub sample_ms: u64,
    /// `[options.garch]`: a GARCH(1,1) forecast on the sampled hedge-mid returns.
    pub garch: Option<OptionsGarchSection>,
    /// `[options.surface]`: an SVI implied-volatility surface per underlying (present: on).
    pub surface: Option<OptionsSurfaceSection>,
    /// Per-underlying overrides.
    pub underlying: BTreeMap<String, OptionsOverride>,
}

impl Default for OptionsSection {
    fn default() -> Self {
        Self {
            underlyings: Vec::new(),
            default_lots: 10,
            book: Vec::new(),
            delta_band: 0.3,
            hedge_to: HedgeTo::Edge,
            max_abs_gamma: 6e-4,
            max_abs_vega_per_vol_point: 2_500.0,
            collateral_coin: 2.0,
            mmr: 0.005,
            buffer_k: 3.0,
            buffer_horizon_days: 1.0,
            max_margin_ratio: 1.0,
            max_leverage: 5.0,
            liquidity_frac: 0.5,
            rebalance_frac: 0.1,
            vol_source: VolSourceKind::Implied,
            forecast_weight: 0.5,
            ewma_lambda: 0.94,
            ewma_warmup: 5,
            sample_ms: 1000,
            garch: None,
            surface: None,
            underlying: BTreeMap::new(),
        }
    }
}

/// `[options.garch]`: GARCH(1,1) parameters in per-sample variance units (one sample every
/// `options.sample_ms`): `σ²ₜ = ω + α r²ₜ₋₁ + β σ²ₜ₋₁`, started at the long-run variance
/// `ω / (1 − α − β)`. All three are required. Not a [`risk_core::vol::Garch11Params`] read
/// directly: [`OptionsGarchSection::params`] checks it under the dotted key it came from (the
/// base table or an underlying's override), which the parser cannot know.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptionsGarchSection {
    /// Constant ω, squared returns of one sample (> 0).
    pub omega: f64,
    /// ARCH coefficient α (≥ 0).
    pub alpha: f64,
    /// GARCH coefficient β (≥ 0, α + β < 1).
    pub beta: f64,
}

impl OptionsGarchSection {
    /// The validated parameters; `key` is the table's dotted key, for the error.
    ///
    /// # Errors
    /// The first key out of range: `omega` ≤ 0, `alpha` or `beta` < 0, `alpha + beta` ≥ 1, any
    /// non-finite value.
    pub fn params(&self, key: &str) -> Result<risk_core::vol::Garch11Params, ConfigError> {
        let err = |k: &str, v: f64, why| ConfigError::Key {
            key: format!("{key}.{k}"),
            value: v.to_string(),
            why,
        };
        if !(self.omega > 0.0 && self.omega.is_finite()) {
            return Err(err("omega", self.omega, "expected a finite value > 0"));
        }
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(err("alpha", self.alpha, "expected a finite value >= 0"));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(err("beta", self.beta, "expected a finite value >= 0"));
        }
        if self.alpha + self.beta >= 1.0 {
            return Err(ConfigError::Key {
                key: format!("{key}.alpha + {key}.beta"),
                value: (self.alpha + self.beta).to_string(),
                why: "expected < 1 (a stationary GARCH)",
            });
        }
        risk_core::vol::Garch11Params::new(self.omega, self.alpha, self.beta).map_err(|_| {
            ConfigError::Key {
                key: key.to_string(),
                value: format!("{self:?}"),
                why: "invalid GARCH(1,1) parameters",
            }
        })
    }
}

/// `[options.surface]`: the SVI surface's settings (the rest as
/// [`options::SurfaceConfig::default`]). Not an [`options::SurfaceConfig`]: the file gives the
/// refit interval in ms, and [`OptionsSurfaceSection::config`] checks it under the dotted key it
/// came from.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OptionsSurfaceSection {
    /// `mark` or `mid` (of bid and ask IV): which implied volatility the smiles are fitted to.
    pub iv_source: IvSource,
    /// Fewest distinct strikes with an IV to fit SVI (at least 5); fewer: flat at the ATM IV.
    pub min_points: usize,
    /// Least time between two refits of one expiry, ms (0: refit on every ticker).
    pub min_refit_interval_ms: u64,
}

impl Default for OptionsSurfaceSection {
    fn default() -> Self {
        let d = ::options::SurfaceConfig::default();
        Self {
            iv_source: IvSource::Mark,
            min_points: d.min_points,
            min_refit_interval_ms: d.min_refit_interval_ns / 1_000_000,
        }
    }
}

impl OptionsSurfaceSection {
    /// The surface settings; `key` is the table's dotted key, for the error.
    ///
    /// # Errors
    /// `min_points` below the SVI minimum, or a refit interval that overflows nanoseconds, named.
    pub fn config(&self, key: &str) -> Result<::options::SurfaceConfig, ConfigError> {
        let err = |k: &str, v: String, why| ConfigError::Key {
            key: format!("{key}.{k}"),
            value: v,
            why,
        };
        if self.min_points < risk_core::vol::svi::MIN_POINTS {
            return Err(err(
                "min_points",
                self.min_points.to_string(),
                "expected >= 5 (the fewest points of an SVI fit)",
            ));
        }
        let min_refit_interval_ns = self
            .min_refit_interval_ms
            .checked_mul(1_000_000)
            .ok_or_else(|| {
                err(
                    "min_refit_interval_ms",
                    self.min_refit_interval_ms.to_string(),
                    "too large",
                )
            })?;
        Ok(::options::SurfaceConfig {
            iv_source: self.iv_source,
            min_points: self.min_points,
            min_refit_interval_ns,
            ..::options::SurfaceConfig::default()
        })
    }
}

/// The resolved settings of one underlying's options engine ([`OptionsSection::resolve_for`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionsResolved {
    /// The policy.
    pub cfg: ::options::OptionsConfig,
    /// Desired lots of chain options not in `[[options.book]]`.
    pub default_lots: i64,
    /// The engine's add-ons (GARCH forecast, surface).
    pub extras: ::options::EngineExtras,
}

/// `[[options.book]]`: desired lots of one option.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OptionsBookEntry {
    /// Venue name (`BTC-24SEP21-8000-P`).
    pub symbol: String,
    /// Desired lots (negative: short).
    pub lots: i64,
}

/// `[options.underlying.<NAME>]`: coin-denominated values of one underlying.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OptionsOverride {
    /// Overrides `options.default_lots`.
    pub default_lots: Option<i64>,
    /// Overrides `options.delta_band`.
    pub delta_band: Option<f64>,
    /// Overrides `options.max_abs_gamma`.
    pub max_abs_gamma: Option<f64>,
    /// Overrides `options.max_abs_vega_per_vol_point`.
    pub max_abs_vega_per_vol_point: Option<f64>,
    /// Overrides `options.collateral_coin`.
    pub collateral_coin: Option<f64>,
    /// Overrides `[options.garch]` (the whole table).
    pub garch: Option<OptionsGarchSection>,
    /// Overrides `[options.surface]` (the whole table; present: on for this underlying).
    pub surface: Option<OptionsSurfaceSection>,
}

impl OptionsSection {
    /// The engine settings for `underlying` (its overrides applied), its default lots and its
    /// add-ons. Policy ranges are checked by [`options::OptionsEngine::new`], which names
    /// the field; GARCH and surface values are checked here.
    ///
    /// # Errors
    /// A zero `sample_ms`, a `garch*` source without `[options.garch]`, a GARCH or surface value
    /// out of range, named (an override under `options.underlying.<NAME>`).
    pub fn resolve_for(&self, underlying: &str) -> Result<OptionsResolved, ConfigError> {
        let vol_source = self.vol_source.with_weight(self.forecast_weight);
        if self.sample_ms == 0 {
            return Err(bad("options.sample_ms", 0, "expected > 0"));
        }
        let o = self.underlying.get(underlying).cloned().unwrap_or_default();
        let over = format!("options.underlying.{underlying}");
        let garch = match (&o.garch, &self.garch) {
            (Some(g), _) => Some(g.params(&format!("{over}.garch"))?),
            (None, Some(g)) => Some(g.params("options.garch")?),
            (None, None) => None,
        };
        if garch.is_none() && matches!(vol_source, VolSource::Garch | VolSource::GarchBlend { .. })
        {
            return Err(ConfigError::Key {
                key: "options.garch".into(),
                value: format!("(missing for {underlying})"),
                why:
                    "`vol_source` = `garch`/`garch_blend` needs [options.garch] omega, alpha, beta",
            });
        }
        let surface = match (&o.surface, &self.surface) {
            (Some(s), _) => Some(s.config(&format!("{over}.surface"))?),
            (None, Some(s)) => Some(s.config("options.surface")?),
            (None, None) => None,
        };
        Ok(OptionsResolved {
            cfg: ::options::OptionsConfig {
                delta_band: o.delta_band.unwrap_or(self.delta_band),
                hedge_to: self.hedge_to,
                max_abs_gamma: o.max_abs_gamma.unwrap_or(self.max_abs_gamma),
                max_abs_vega_per_vol_point: o
                    .max_abs_vega_per_vol_point
                    .unwrap_or(self.max_abs_vega_per_vol_point),
                collateral_coin: o.collateral_coin.unwrap_or(self.collateral_coin),
                mmr: self.mmr,
                buffer_k: self.buffer_k,
                buffer_horizon_days: self.buffer_horizon_days,
                max_margin_ratio: self.max_margin_ratio,
                max_leverage: self.max_leverage,
                liquidity_frac: self.liquidity_frac,
                rebalance_frac: self.rebalance_frac,
                vol_source,
                ewma_lambda: self.ewma_lambda,
                ewma_warmup: self.ewma_warmup,
                sample_interval_ns: self.sample_ms.saturating_mul(1_000_000),
            },
            default_lots: o.default_lots.unwrap_or(self.default_lots),
            extras: ::options::EngineExtras { garch, surface },
        })
    }
}
