//! Shared helpers of the engine's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod live;

use std::path::PathBuf;

use engine::clock::Clock;
use engine::config::{Config, Resolved};
use engine::pipeline::PipelineConfig;
use engine::session::{run_session, write_orders_csv, Session};
use engine::source::FrameSource;
use engine::topology::Topology;

/// A file of `../shared/data`, or `None` (skip) when it is missing outside CI.
///
/// # Panics
/// When the file is missing and `CI` is set.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "test data {} is missing (CI needs ../shared beside the clone)",
        p.display()
    );
    eprintln!("skipping: {} not found", p.display());
    None
}

/// The default configuration, resolved.
pub fn resolved() -> Resolved {
    Config::default()
        .resolve()
        .expect("default configuration resolves")
}

/// Runs `source` on `topology` with the default configuration.
pub fn run_on(topology: &str, source: impl FrameSource) -> Session {
    let res = resolved();
    let pcfg = PipelineConfig {
        topology: Topology::parse(topology).expect("test topology"),
        ..res.pipeline.clone()
    };
    run_session(&res, &pcfg, source, &Clock::new()).expect("default sizing is valid")
}

/// The orders CSV of a session.
pub fn orders_csv(s: &Session) -> Vec<u8> {
    let mut out = Vec::new();
    write_orders_csv(&mut out, &s.registry, &s.report).expect("writing to memory");
    out
}
