//! `config`: Ballast's run configuration and configured runs. The TOML file is read once into
//! typed settings (every enumerated setting an enum; unknown keys and bad values are errors that
//! name the key, the line and the allowed values) and resolved into the engine's own structs
//! ([`Resolved`]); [`session`] builds the registry, feed, sizer and kernel a replay or the demo
//! runs.
//!
//! One module per section of the file: [`Config`] (the whole file and its top-level pipeline
//! keys), `[instrument]`, `[sizing]`, `[live]`, `[risk]`, `[options]`, `[hedge]`.
//!
//! Owns: the file format and its validation. Must never: run on a hot thread.

#![forbid(unsafe_code)]

mod error;
mod file;
mod hedge;
mod instrument;
mod live;
mod options;
mod resolve;
mod risk;
pub mod session;
mod sizing;

pub use self::options::{
    OptionsBookEntry, OptionsGarchSection, OptionsOverride, OptionsResolved, OptionsSection,
    OptionsSurfaceSection, VolSourceKind,
};
pub use error::ConfigError;
pub use file::Config;
pub use hedge::HedgeSection;
pub use instrument::InstrumentConfig;
pub use live::{BinanceAuthMode, ExecAdapter, LiveSection};
pub use resolve::Resolved;
pub use risk::RiskSection;
pub use sizing::SizingConfig;
