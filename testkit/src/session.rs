//! Configured runs of the default configuration, as the pipeline tests drive them.

use config::session::{run_session, write_orders_csv, Session};
use config::{Config, Resolved};
use engine::clock::Clock;
use engine::pipeline::PipelineConfig;
use engine::source::FrameSource;
use engine::topology::Topology;

/// The default configuration, resolved.
///
/// # Panics
/// When the default configuration does not resolve (a bug).
#[must_use]
pub fn resolved() -> Resolved {
    Config::default()
        .resolve()
        .expect("default configuration resolves")
}

/// Runs `source` on `topology` with the default configuration.
///
/// # Panics
/// When `topology` does not parse or the run fails.
pub fn run_on(topology: &str, source: impl FrameSource) -> Session {
    let res = resolved();
    let pcfg = PipelineConfig {
        topology: Topology::parse(topology).expect("test topology"),
        ..res.pipeline.clone()
    };
    run_session(&res, &pcfg, source, &Clock::new()).expect("default sizing is valid")
}

/// The orders CSV of a session.
///
/// # Panics
/// Never in practice: writes to memory.
#[must_use]
pub fn orders_csv(s: &Session) -> Vec<u8> {
    let mut out = Vec::new();
    write_orders_csv(&mut out, &s.registry, &s.report).expect("writing to memory");
    out
}
