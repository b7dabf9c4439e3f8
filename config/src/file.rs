//! Run configuration, read from TOML. Unknown keys and bad values are errors that name the key (and,
//! from the TOML parser, the line and column).

use serde::Deserialize;

use engine::kernel::KernelConfig;
use engine::pipeline::{Backpressure, PipelineConfig, Wait};
use engine::sizer::VolTargetConfig;
use engine::topology::{available_cores, Topology};
use feeds::decimal::parse_decimal;
use feeds::Market;
use risk_core::vol_target::VolTarget;

/// A configuration error, naming the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or did not match the schema (message has line, column and key).
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A value out of its range.
    #[error("`{field}` = {value}: {why}")]
    Value {
        /// Dotted key.
        field: &'static str,
        /// The offending value, as written.
        value: String,
        /// What is expected.
        why: &'static str,
    },
    /// A value out of its range under a key built at run time (per-underlying overrides).
    #[error("`{key}` = {value}: {why}")]
    Key {
        /// Dotted key (`options.underlying.ETH.garch.alpha`).
        key: String,
        /// The offending value, as written.
        value: String,
        /// What is expected.
        why: &'static str,
    },
}

fn bad(field: &'static str, value: impl ToString, why: &'static str) -> ConfigError {
    ConfigError::Value {
        field,
        value: value.to_string(),
        why,
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `auto`, `single` or a spec like `feed@0,kernel+exec@1` (see [`engine::topology`]).
    pub topology: String,
    /// Feed→kernel ring slots.
    pub event_ring: usize,
    /// Kernel→execution and fills ring slots.
    pub order_ring: usize,
    /// `block` or `conflate`.
    pub backpressure: String,
    /// `auto`, `spin`, `spin-yield` or `spin-park`.
    pub wait: String,
    /// The sized instrument.
    pub instrument: InstrumentConfig,
    /// Volatility-targeted sizing.
    pub sizing: SizingConfig,
    /// `[live]`: the venue connection of `ballast run` (absent for replays).
    pub live: Option<LiveSection>,
    /// `[risk]`: the pre-trade risk gate of `ballast run`.
    pub risk: Option<RiskSection>,
    /// `[options]`: the options engine of `ballast options-replay`.
    pub options: Option<OptionsSection>,
    /// `[hedge]`: its hedge instruments.
    pub hedge: Option<HedgeSection>,
}

/// `[live]`: one venue connection for `ballast run`. Credentials are never in this file: it names
/// an environment-variable prefix or an owner-only file holding them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSection {
    /// `binance` or `deribit`.
    pub venue: String,
    /// Websocket URL (Binance: host base; Deribit: full `…/ws/api/v2`).
    pub url: String,
    /// Binance REST base for depth snapshots (default: the websocket host over http).
    pub rest: Option<String>,
    /// Channels as the venue names them (`btcusdt@depth@100ms`, `book.BTC-PERPETUAL.100ms`).
    pub channels: Vec<String>,
    /// A stream silent this long marks its instrument stale, ms (0 = never).
    pub stale_ms: u64,
    /// Execution adapter: `paper` (default), `binance` (WebSocket API) or `deribit` (JSON-RPC).
    pub adapter: String,
    /// Order websocket URL: the WebSocket API of the `binance` adapter (required); the JSON-RPC
    /// endpoint of the `deribit` adapter (default: `url`).
    pub exec_url: Option<String>,
    /// How the `binance` adapter authenticates: `logon` (default: one Ed25519-signed
    /// `session.logon` per connection, again after every reconnect, and no signing per order;
    /// the secret is the base64 of the 32-byte Ed25519 seed) or `hmac` (an HMAC-SHA256
    /// signature on every request).
    pub auth: String,
    /// Deribit `public/set_heartbeat` interval, s (0 = no heartbeats; default 10).
    pub heartbeat_s: u32,
    /// Credentials from `{prefix}_API_KEY` / `{prefix}_API_SECRET`.
    pub credentials_env: Option<String>,
    /// Credentials from this owner-only file (`key=`, `secret=` lines).
    pub credentials_file: Option<std::path::PathBuf>,
    /// Stop after this many seconds (0 = until SIGINT/SIGTERM).
    pub duration_s: f64,
}

impl Default for LiveSection {
    fn default() -> Self {
        Self {
            venue: String::new(),
            url: String::new(),
            rest: None,
            channels: Vec::new(),
            stale_ms: 0,
            adapter: String::new(),
            exec_url: None,
            auth: "logon".into(),
            heartbeat_s: 10,
            credentials_env: None,
            credentials_file: None,
            duration_s: 0.0,
        }
    }
}

/// `[risk]`: limits of the pre-trade risk gate (see [`engine::risk_gate`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSection {
    /// Largest order quantity, decimal string.
    pub max_order_qty: String,
    /// Largest price × quantity per order, quote units.
    pub max_notional: f64,
    /// Largest absolute position, decimal string.
    pub max_position: String,
    /// Sustained orders per second.
    pub max_orders_per_sec: f64,
    /// Orders that may go at once.
    pub burst: f64,
    /// Allowed distance of the limit from the mark, fraction (0 = no band).
    pub price_band: f64,
    /// The kill switch trips when this file exists.
    pub kill_file: Option<std::path::PathBuf>,
    /// The kill switch trips on SIGUSR1.
    pub kill_signal: bool,
}

impl Default for RiskSection {
    fn default() -> Self {
        Self {
            max_order_qty: "1".into(),
            max_notional: 100_000.0,
            max_position: "2".into(),
            max_orders_per_sec: 10.0,
            burst: 20.0,
            price_band: 0.02,
            kill_file: None,
            kill_signal: true,
        }
    }
}

/// `[instrument]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InstrumentConfig {
    /// Venue symbol as in payloads (`BTCUSDT`).
    pub symbol: String,
    /// `spot`, `usdm` or `coinm` (Binance), or `deribit`.
    pub market: String,
    /// Decimals of price mantissas (Binance sends 8).
    pub px_scale: u8,
    /// Decimals of quantity mantissas.
    pub qty_scale: u8,
    /// Lot size, a decimal string (`"0.00001"`).
    pub lot: String,
    /// Smallest order, a decimal string.
    pub min_qty: String,
    /// Price tick, a decimal string (optional; `ballast run` on Deribit checks it against the
    /// venue's `tick_size`).
    pub tick: Option<String>,
}

/// `[sizing]`.
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
    pub direction: String,
    /// Cap each order to the quantity displayed at the touch.
    pub cap_to_touch: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            topology: "auto".into(),
            event_ring: 4096,
            order_ring: 1024,
            backpressure: "block".into(),
            wait: "auto".into(),
            instrument: InstrumentConfig::default(),
            sizing: SizingConfig::default(),
            live: None,
            risk: None,
            options: None,
            hedge: None,
        }
    }
}

impl Default for InstrumentConfig {
    fn default() -> Self {
        Self {
            symbol: "BTCUSDT".into(),
            market: "spot".into(),
            px_scale: 8,
            qty_scale: 8,
            lot: "0.00001".into(),
            min_qty: "0.0001".into(),
            tick: None,
        }
    }
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
            direction: "long".into(),
            cap_to_touch: true,
        }
    }
}

/// A configuration checked and turned into the engine's types.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Pipeline settings.
    pub pipeline: PipelineConfig,
    /// Kernel order shaping.
    pub kernel: KernelConfig,
    /// The sizer's settings.
    pub sizing: VolTargetConfig,
    /// Sized symbol.
    pub symbol: String,
    /// Its market.
    pub market: Market,
    /// Its price scale.
    pub px_scale: u8,
    /// Its quantity scale.
    pub qty_scale: u8,
}

impl Config {
    /// Parses TOML text.
    ///
    /// # Errors
    /// Syntax errors, unknown keys and wrong types, with line, column and key.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Checks every value and builds the engine's settings.
    ///
    /// # Errors
    /// The first value out of range, named.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let topology = match self.topology.as_str() {
            "auto" => Topology::auto(&available_cores()),
            s => Topology::parse(s).map_err(|_| {
                bad(
                    "topology",
                    s,
                    "expected `auto`, `single` or e.g. `feed@0,kernel+exec@1`",
                )
            })?,
        };
        let backpressure = match self.backpressure.as_str() {
            "block" => Backpressure::Block,
            "conflate" => Backpressure::Conflate,
            s => return Err(bad("backpressure", s, "expected `block` or `conflate`")),
        };
        let wait = match self.wait.as_str() {
            "auto" => None,
            "spin" => Some(Wait::Spin),
            "spin-yield" => Some(Wait::SpinYield),
            "spin-park" => Some(Wait::SpinPark),
            s => {
                return Err(bad(
                    "wait",
                    s,
                    "expected `auto`, `spin`, `spin-yield` or `spin-park`",
                ))
            }
        };
        if !(2..=1 << 24).contains(&self.event_ring) {
            return Err(bad(
                "event_ring",
                self.event_ring,
                "expected 2 ..= 16777216",
            ));
        }
        if !(2..=1 << 24).contains(&self.order_ring) {
            return Err(bad(
                "order_ring",
                self.order_ring,
                "expected 2 ..= 16777216",
            ));
        }
        let i = &self.instrument;
        if i.symbol.is_empty()
            || !i
                .symbol
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "instrument.symbol",
                &i.symbol,
                "expected a venue symbol such as BTCUSDT",
            ));
        }
        let market = match i.market.as_str() {
            "spot" => Market::BinanceSpot,
            "usdm" => Market::BinanceUsdM,
            "coinm" => Market::BinanceCoinM,
            "deribit" => Market::Deribit,
            s => {
                return Err(bad(
                    "instrument.market",
                    s,
                    "expected `spot`, `usdm`, `coinm` or `deribit`",
                ))
            }
        };
        if i.px_scale > 18 {
            return Err(bad("instrument.px_scale", i.px_scale, "expected 0 ..= 18"));
        }
        if i.qty_scale > 18 {
            return Err(bad(
                "instrument.qty_scale",
                i.qty_scale,
                "expected 0 ..= 18",
            ));
        }
        let lot = parse_decimal(i.lot.as_bytes(), i.qty_scale)
            .ok()
            .filter(|d| d.mantissa > 0)
            .ok_or_else(|| {
                bad(
                    "instrument.lot",
                    &i.lot,
                    "expected a positive decimal with at most qty_scale decimals",
                )
            })?;
        let min_qty = parse_decimal(i.min_qty.as_bytes(), i.qty_scale).map_err(|_| {
            bad(
                "instrument.min_qty",
                &i.min_qty,
                "expected a decimal with at most qty_scale decimals",
            )
        })?;
        let s = &self.sizing;
        let pos = |field: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(bad(field, v, "expected a finite number > 0"))
            }
        };
        pos("sizing.capital", s.capital)?;
        pos("sizing.target_vol", s.target_vol)?;
        pos("sizing.max_leverage", s.max_leverage)?;
        if !(s.min_leverage.is_finite()
            && s.min_leverage >= 0.0
            && s.min_leverage <= s.max_leverage)
        {
            return Err(bad(
                "sizing.min_leverage",
                s.min_leverage,
                "expected 0 <= min_leverage <= max_leverage",
            ));
        }
        if !(s.band.is_finite() && (0.0..1.0).contains(&s.band)) {
            return Err(bad("sizing.band", s.band, "expected 0 <= band < 1"));
        }
        if !(s.ewma_lambda > 0.0 && s.ewma_lambda < 1.0) {
            return Err(bad(
                "sizing.ewma_lambda",
                s.ewma_lambda,
                "expected 0 < lambda < 1",
            ));
        }
        if s.sample_ms == 0 {
            return Err(bad("sizing.sample_ms", s.sample_ms, "expected > 0"));
        }
        if s.warmup_samples == 0 {
            return Err(bad(
                "sizing.warmup_samples",
                s.warmup_samples,
                "expected > 0",
            ));
        }
        let direction = match s.direction.as_str() {
            "long" => 1.0,
            "short" => -1.0,
            d => return Err(bad("sizing.direction", d, "expected `long` or `short`")),
        };
        Ok(Resolved {
            pipeline: PipelineConfig {
                topology,
                event_ring: self.event_ring,
                order_ring: self.order_ring,
                backpressure,
                wait,
                ..PipelineConfig::default()
            },
            kernel: KernelConfig {
                lot_qty: lot.mantissa,
                min_qty: min_qty.mantissa,
                cap_to_touch: s.cap_to_touch,
            },
            sizing: VolTargetConfig {
                capital: s.capital,
                target: VolTarget {
                    target_vol: s.target_vol,
                    min_leverage: s.min_leverage,
                    max_leverage: s.max_leverage,
                    band: s.band,
                },
                ewma_lambda: s.ewma_lambda,
                sample_interval_ns: s.sample_ms * 1_000_000,
                warmup_samples: s.warmup_samples,
                direction,
            },
            symbol: i.symbol.clone(),
            market,
            px_scale: i.px_scale,
            qty_scale: i.qty_scale,
        })
    }
}

/// `[options]`: the options engine of `ballast options-replay` (one engine per underlying). Units
/// as in [`options::OptionsConfig`]: delta in coins, gamma per USD, vega per vol point in
/// USD, collateral in coins. `[options.underlying.<NAME>]` overrides the coin-denominated values
/// for one underlying (an ETH book needs a wider band than a BTC one).
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
    /// `edge` or `center`: where a band hedge brings delta back to.
    pub hedge_to: String,
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
    pub vol_source: String,
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
    pub underlying: std::collections::BTreeMap<String, OptionsOverride>,
}

/// `[options.garch]`: GARCH(1,1) parameters in per-sample variance units (one sample every
/// `options.sample_ms`): `σ²ₜ = ω + α r²ₜ₋₁ + β σ²ₜ₋₁`, started at the long-run variance
/// `ω / (1 − α − β)`. All three are required.
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
/// [`options::SurfaceConfig::default`]).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OptionsSurfaceSection {
    /// `mark` or `mid` (of bid and ask IV): which implied volatility the smiles are fitted to.
    pub iv_source: String,
    /// Fewest distinct strikes with an IV to fit SVI (at least 5); fewer: flat at the ATM IV.
    pub min_points: usize,
    /// Least time between two refits of one expiry, ms (0: refit on every ticker).
    pub min_refit_interval_ms: u64,
}

impl Default for OptionsSurfaceSection {
    fn default() -> Self {
        let d = options::SurfaceConfig::default();
        Self {
            iv_source: "mark".into(),
            min_points: d.min_points,
            min_refit_interval_ms: d.min_refit_interval_ns / 1_000_000,
        }
    }
}

impl OptionsSurfaceSection {
    /// The surface settings; `key` is the table's dotted key, for the error.
    ///
    /// # Errors
    /// An unknown `iv_source`, `min_points` below the SVI minimum, or a refit interval that
    /// overflows nanoseconds, named.
    pub fn config(&self, key: &str) -> Result<options::SurfaceConfig, ConfigError> {
        use options::IvSource;
        let err = |k: &str, v: String, why| ConfigError::Key {
            key: format!("{key}.{k}"),
            value: v,
            why,
        };
        let iv_source = match self.iv_source.as_str() {
            "mark" => IvSource::Mark,
            "mid" => IvSource::Mid,
            s => return Err(err("iv_source", s.into(), "expected `mark` or `mid`")),
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
        Ok(options::SurfaceConfig {
            iv_source,
            min_points: self.min_points,
            min_refit_interval_ns,
            ..options::SurfaceConfig::default()
        })
    }
}

/// The resolved settings of one underlying's options engine ([`OptionsSection::resolve_for`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionsResolved {
    /// The policy.
    pub cfg: options::OptionsConfig,
    /// Desired lots of chain options not in `[[options.book]]`.
    pub default_lots: i64,
    /// The engine's add-ons (GARCH forecast, surface).
    pub extras: options::EngineExtras,
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

impl Default for OptionsSection {
    fn default() -> Self {
        Self {
            underlyings: Vec::new(),
            default_lots: 10,
            book: Vec::new(),
            delta_band: 0.3,
            hedge_to: "edge".into(),
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
            vol_source: "implied".into(),
            forecast_weight: 0.5,
            ewma_lambda: 0.94,
            ewma_warmup: 5,
            sample_ms: 1000,
            garch: None,
            surface: None,
            underlying: std::collections::BTreeMap::new(),
        }
    }
}

impl OptionsSection {
    /// The engine settings for `underlying` (its overrides applied), its default lots and its
    /// add-ons. Policy ranges are checked by [`options::OptionsEngine::new`], which names
    /// the field; GARCH and surface values are checked here.
    ///
    /// # Errors
    /// An unknown `hedge_to` or `vol_source`, a zero `sample_ms`, a `garch*` source without
    /// `[options.garch]`, a GARCH or surface value out of range, named (an override under
    /// `options.underlying.<NAME>`).
    pub fn resolve_for(&self, underlying: &str) -> Result<OptionsResolved, ConfigError> {
        use options::VolSource;
        use risk_core::greeks_limits::HedgeTo;
        let hedge_to = match self.hedge_to.as_str() {
            "edge" => HedgeTo::Edge,
            "center" | "centre" => HedgeTo::Center,
            s => return Err(bad("options.hedge_to", s, "expected `edge` or `center`")),
        };
        let vol_source = match self.vol_source.as_str() {
            "forecast" => VolSource::Forecast,
            "implied" => VolSource::Implied,
            "blend" => VolSource::Blend {
                forecast_weight: self.forecast_weight,
            },
            "garch" => VolSource::Garch,
            "garch_blend" => VolSource::GarchBlend {
                forecast_weight: self.forecast_weight,
            },
            s => {
                return Err(bad(
                    "options.vol_source",
                    s,
                    "expected `forecast`, `implied`, `blend`, `garch` or `garch_blend`",
                ))
            }
        };
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
            cfg: options::OptionsConfig {
                delta_band: o.delta_band.unwrap_or(self.delta_band),
                hedge_to,
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
            extras: options::EngineExtras { garch, surface },
        })
    }
}

/// `[hedge]`: the hedge instrument of each underlying in `ballast options-replay`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HedgeSection {
    /// Underlying → hedge symbol. With `--hedge-from-underlying`, a Deribit future name
    /// (`BTC-24SEP21`) whose options' tickers give the derived touch (default: the future of the
    /// expiry with the most tickers); with `--hedge-capture`, the capture's venue symbol.
    pub symbols: std::collections::BTreeMap<String, String>,
    /// `inverse` (coin-margined, lots in USD face) or `linear` (lots in coins).
    pub contract: String,
    /// One lot: USD face (inverse) or coins (linear).
    pub lot_qty: f64,
    /// Smallest hedge order, lots.
    pub min_lots: i64,
    /// Derived touch: half-spread around the tickers' `underlying_price`, basis points.
    pub derived_half_spread_bps: f64,
    /// Derived touch: quantity displayed on each side, in the hedge's quantity unit (USD face
    /// for inverse).
    pub derived_qty: f64,
}

impl Default for HedgeSection {
    fn default() -> Self {
        Self {
            symbols: std::collections::BTreeMap::new(),
            contract: "inverse".into(),
            lot_qty: 10.0,
            min_lots: 1,
            derived_half_spread_bps: 2.5,
            derived_qty: 500_000.0,
        }
    }
}

impl HedgeSection {
    /// The contract type.
    ///
    /// # Errors
    /// An unknown `contract`, or a `derived_*` value out of range, named.
    pub fn check(&self) -> Result<risk_core::margin::Contract, ConfigError> {
        if !(self.derived_half_spread_bps >= 0.0 && self.derived_half_spread_bps < 10_000.0) {
            return Err(bad(
                "hedge.derived_half_spread_bps",
                self.derived_half_spread_bps,
                "expected 0 ..< 10000",
            ));
        }
        if !(self.derived_qty > 0.0 && self.derived_qty.is_finite()) {
            return Err(bad("hedge.derived_qty", self.derived_qty, "expected > 0"));
        }
        match self.contract.as_str() {
            "inverse" => Ok(risk_core::margin::Contract::Inverse),
            "linear" => Ok(risk_core::margin::Contract::Linear),
            s => Err(bad("hedge.contract", s, "expected `inverse` or `linear`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_and_errors_name_the_field() {
        Config::default().resolve().unwrap();
        let e = Config::from_toml("topology = \"single\"\n[sizing]\ncapitl = 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("capitl") && e.contains("line 3"), "{e}");
        let e = Config::from_toml("[sizing]\nband = 1.5\n")
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("sizing.band"), "{e}");
        let e = Config::from_toml("[instrument]\nlot = \"0.000000001\"\n")
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("instrument.lot"), "{e}");
        let e = Config::from_toml("topology = \"feed,kernel\"\n")
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("topology"), "{e}");
    }

    fn options(toml: &str) -> OptionsSection {
        Config::from_toml(toml).unwrap().options.expect("[options]")
    }

    #[test]
    fn options_garch_and_surface_resolve_with_overrides_and_name_bad_keys() {
        use options::{IvSource, VolSource};
        let o = options(
            "[options]\nvol_source = \"garch_blend\"\nforecast_weight = 0.25\n\
             [options.garch]\nomega = 1e-10\nalpha = 0.05\nbeta = 0.9\n\
             [options.surface]\niv_source = \"mid\"\nmin_refit_interval_ms = 250\n\
             [options.underlying.ETH.garch]\nomega = 4e-10\nalpha = 0.1\nbeta = 0.8\n\
             [options.underlying.ETH.surface]\nmin_points = 9\n",
        );
        let btc = o.resolve_for("BTC").unwrap();
        assert_eq!(
            btc.cfg.vol_source,
            VolSource::GarchBlend {
                forecast_weight: 0.25
            }
        );
        let g = btc.extras.garch.expect("garch");
        assert_eq!((g.omega, g.alpha, g.beta), (1e-10, 0.05, 0.9));
        let s = btc.extras.surface.expect("surface");
        assert_eq!(s.iv_source, IvSource::Mid);
        assert_eq!(s.min_refit_interval_ns, 250_000_000);
        let eth = o.resolve_for("ETH").unwrap();
        let g = eth.extras.garch.expect("garch");
        assert_eq!((g.omega, g.alpha, g.beta), (4e-10, 0.1, 0.8));
        let s = eth.extras.surface.expect("surface");
        assert_eq!((s.iv_source, s.min_points), (IvSource::Mark, 9));
        // Off unless configured.
        let plain = options("[options]\n").resolve_for("BTC").unwrap();
        assert_eq!(plain.extras, options::EngineExtras::default());

        for (toml, key) in [
            (
                "[options.garch]\nomega = 1e-9\nalpha = 0.5\nbeta = 0.5\n",
                "`options.garch.alpha + options.garch.beta` = 1",
            ),
            (
                "[options.garch]\nomega = 0\nalpha = 0.1\nbeta = 0.5\n",
                "`options.garch.omega` = 0",
            ),
            (
                "[options.garch]\nomega = 1e-9\nalpha = -0.1\nbeta = 0.5\n",
                "`options.garch.alpha` = -0.1",
            ),
            (
                "[options.garch]\nomega = 1e-9\nalpha = 0.1\nbeta = nan\n",
                "`options.garch.beta` = NaN",
            ),
            (
                "[options.underlying.BTC.garch]\nomega = 1e-9\nalpha = 0.1\nbeta = 0.95\n",
                "`options.underlying.BTC.garch.alpha + options.underlying.BTC.garch.beta`",
            ),
            ("[options]\nvol_source = \"garch\"\n", "`options.garch`"),
            (
                "[options.surface]\niv_source = \"bid\"\n",
                "`options.surface.iv_source` = bid",
            ),
            (
                "[options.underlying.BTC.surface]\nmin_points = 4\n",
                "`options.underlying.BTC.surface.min_points` = 4",
            ),
        ] {
            let e = options(toml).resolve_for("BTC").unwrap_err().to_string();
            assert!(e.contains(key), "{toml}: {e}");
        }
        // A missing GARCH key is named by the parser.
        let e = Config::from_toml("[options.garch]\nomega = 1e-9\nalpha = 0.1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("beta"), "{e}");
    }
}
