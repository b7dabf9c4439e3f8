//! [`Config`]: the whole file, and its top-level (pipeline) keys.

use serde::de::{Error as _, IntoDeserializer as _};
use serde::{Deserialize, Deserializer};

use crate::{
    ConfigError, HedgeSection, InstrumentConfig, LiveSection, OptionsSection, RiskSection,
    SizingConfig,
};
use engine::pipeline::{Backpressure, Wait};
use engine::topology::{available_cores, Topology};

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `auto`, `single` or a spec like `feed@0,kernel+exec@1` (see [`engine::topology`]); `auto`
    /// is resolved on the cores this process may use when the file is read.
    pub topology: Topology,
    /// Feed→kernel ring slots.
    pub event_ring: usize,
    /// Kernel→execution and fills ring slots.
    pub order_ring: usize,
    /// `block` or `conflate`.
    pub backpressure: Backpressure,
    /// `auto` (`None`: see [`engine::pipeline::PipelineConfig::wait`]), `spin`, `spin-yield` or
    /// `spin-park`.
    #[serde(deserialize_with = "auto_or")]
    pub wait: Option<Wait>,
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
    /// Captures a replay reads, `TAG=FILE` (see [`feeds::multi::InputSpec::parse_tagged`]);
    /// relative paths are relative to the configuration file. `--capture` flags replace them.
    pub captures: Vec<String>,
    /// `[portfolio]`: the portfolio engine (see [`portfolio::spec`]).
    pub portfolio: Option<portfolio::PortfolioSpec>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            topology: Topology::auto(&available_cores()),
            event_ring: 4096,
            order_ring: 1024,
            backpressure: Backpressure::Block,
            wait: None,
            instrument: InstrumentConfig::default(),
            sizing: SizingConfig::default(),
            live: None,
            risk: None,
            options: None,
            hedge: None,
            captures: Vec::new(),
            portfolio: None,
        }
    }
}

impl Config {
    /// Parses TOML text.
    ///
    /// # Errors
    /// Syntax errors, unknown keys, wrong types and values that are not one of a setting's
    /// spellings, with the dotted key, line and column (and the allowed values).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::toml(text, e))
    }
}

/// `auto` (`None`) or one of `T`'s spellings; the error lists `T`'s and `auto`.
fn auto_or<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    let s = String::deserialize(d)?;
    if s == "auto" {
        return Ok(None);
    }
    T::deserialize(s.into_deserializer())
        .map(Some)
        .map_err(|e: serde::de::value::Error| D::Error::custom(format_args!("{e}, or `auto`")))
}
