//! Run configuration, read from TOML. Unknown keys and bad values are errors that name the key (and,
//! from the TOML parser, the line and column).

use serde::Deserialize;

use crate::kernel::KernelConfig;
use crate::pipeline::{Backpressure, PipelineConfig, Wait};
use crate::sizer::VolTargetConfig;
use crate::topology::{available_cores, Topology};
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
    /// `auto`, `single` or a spec like `feed@0,kernel+exec@1` (see [`crate::topology`]).
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
}

/// `[live]`: one venue connection for `ballast run`. Credentials are never in this file: it names
/// an environment-variable prefix or an owner-only file holding them.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
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
    /// Execution adapter: `paper` (default) or `binance` (WebSocket API).
    pub adapter: String,
    /// WebSocket API URL of the `binance` adapter.
    pub exec_url: Option<String>,
    /// Credentials from `{prefix}_API_KEY` / `{prefix}_API_SECRET`.
    pub credentials_env: Option<String>,
    /// Credentials from this owner-only file (`key=`, `secret=` lines).
    pub credentials_file: Option<std::path::PathBuf>,
    /// Stop after this many seconds (0 = until SIGINT/SIGTERM).
    pub duration_s: f64,
}

/// `[risk]`: limits of the pre-trade risk gate (see [`crate::risk_gate`]).
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
    /// `spot`, `usdm` or `coinm` (Binance).
    pub market: String,
    /// Decimals of price mantissas (Binance sends 8).
    pub px_scale: u8,
    /// Decimals of quantity mantissas.
    pub qty_scale: u8,
    /// Lot size, a decimal string (`"0.00001"`).
    pub lot: String,
    /// Smallest order, a decimal string.
    pub min_qty: String,
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
            s => {
                return Err(bad(
                    "instrument.market",
                    s,
                    "expected `spot`, `usdm` or `coinm`",
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
}
