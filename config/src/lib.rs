//! `config`: Ballast's run configuration and configured runs. The TOML file is read once into
//! typed settings (every enumerated setting an enum; unknown keys and bad values are errors that
//! name the key, the line and the allowed values) and resolved into the engine's own structs
//! ([`Resolved`]); [`session`] builds the registry, feed, sizer and kernel a replay or the demo
//! runs.
//!
//! Owns: the file format and its validation. Must never: run on a hot thread.

#![forbid(unsafe_code)]

mod file;
pub mod session;

pub use file::*;
