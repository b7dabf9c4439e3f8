//! `ballast bench`: the latency lab — core-to-core matrix, pipeline topology sweeps at a fixed
//! offered rate (histograms corrected for coordinated omission), venue round trips, and the
//! comparison of two runs. Every bench prints a table and, with `--out DIR`, writes `.hgrm`
//! percentile distributions, an HdrHistogram interval log, a JSON summary and SVG plots.

mod compare;
mod cores;
mod pipeline;
mod plot;
mod venue;

use std::io::IsTerminal as _;
use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

/// Latency lab: core-to-core matrix, pipeline sweeps, venue round trips, run comparison.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    cmd: BenchCmd,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCmd {
    /// Core-to-core latency matrix (cache-line ping-pong) for every pair of usable cores.
    Cores(cores::CoresArgs),
    /// The real pipeline at a fixed offered rate, once per topology, with per-hop and
    /// coordinated-omission-corrected end-to-end histograms beside same-run floors.
    Pipeline(pipeline::PipelineArgs),
    /// Websocket round trip or order-to-acknowledgement latency against a venue or
    /// `ballast venue-sim`.
    Venue(venue::VenueArgs),
    /// Compare two JSON summaries side by side; exit 1 when B regressed beyond the threshold.
    Compare(compare::CompareArgs),
}

/// Runs `ballast bench ...`.
///
/// # Errors
/// Bad flags or inputs, unwritable outputs, a failed venue connection, or (compare) a regression.
pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    match a.cmd {
        BenchCmd::Cores(a) => cores::run(a),
        BenchCmd::Pipeline(a) => pipeline::run(a),
        BenchCmd::Venue(a) => venue::run(a),
        BenchCmd::Compare(a) => compare::run(a),
    }
}

fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

fn bar(len: u64, what: &str) -> ProgressBar {
    if !interactive() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:<28} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    pb
}

fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn prepare_out(out: Option<&Path>) -> anyhow::Result<()> {
    if let Some(d) = out {
        std::fs::create_dir_all(d)
            .with_context(|| format!("cannot create --out {}", d.display()))?;
    }
    Ok(())
}
