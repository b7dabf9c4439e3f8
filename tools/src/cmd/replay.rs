//! `ballast replay`: captured frames through the whole pipeline.

use std::path::PathBuf;

use anyhow::{bail, Context};
use engine::clock::Clock;
use engine::source::CaptureSource;
use engine::topology::Topology;

use super::run_common::{
    execute, load_config, parse_speed, print_summary, write_hgrm, write_orders,
};

/// Replay capture files (`<recv ns> <raw frame>` lines, plain or gzip; several files continue each
/// other) through parser, books, pipeline, kernel and paper execution.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Capture files, in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Pace: `max`, `realtime` or a factor such as `10`.
    #[arg(long, default_value = "max")]
    speed: String,
    /// TOML configuration (instrument, sizing, topology; see the README).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the configuration's topology: `auto`, `single`, or e.g. `feed@0,kernel+exec@1`.
    #[arg(long)]
    topology: Option<Topology>,
    /// Write every order as CSV (byte-identical across runs and topologies).
    #[arg(long)]
    orders_out: Option<PathBuf>,
    /// Write each latency histogram as an HdrHistogram percentile distribution (`<hop>.hgrm`).
    #[arg(long)]
    hgrm_out: Option<PathBuf>,
}

/// Runs the replay.
///
/// # Errors
/// A missing or unreadable file, a bad flag or configuration value, an unwritable output.
pub fn run(a: ReplayArgs) -> anyhow::Result<()> {
    let speed = parse_speed(&a.speed)?;
    for f in &a.files {
        std::fs::metadata(f).with_context(|| format!("cannot read capture {}", f.display()))?;
    }
    let res = load_config(a.config.as_deref())?;
    let source = CaptureSource::open(&a.files, &res.symbol)?;
    let clock = Clock::new();
    let out = execute(&res, a.topology.as_ref(), speed, source, &clock)?;
    print_summary("ballast replay", &out, &clock);
    if let Some(p) = &a.orders_out {
        write_orders(p, &out)?;
    }
    if let Some(d) = &a.hgrm_out {
        write_hgrm(d, &out.report)?;
    }
    if let Some(e) = &out.report.source_error {
        bail!("replay stopped early: {e}");
    }
    Ok(())
}
