//! `ballast demo`: the main job on the built-in synthetic market.

use std::path::PathBuf;

use anyhow::Context;
use engine::clock::Clock;
use engine::config::Config;
use engine::source::MemorySource;
use engine::synth::{generate, SynthConfig};

use super::run_common::{execute, parse_speed, print_summary, write_hgrm, write_orders};

/// Run the whole pipeline on a deterministic, seeded synthetic Binance market (volatility
/// clustering and one shock, a lost diff and its resync) rendered as real Binance frames.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// RNG seed of the synthetic market.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Steps of 50 ms event time (one depth diff each, plus tickers and trades).
    #[arg(long, default_value_t = 60_000)]
    steps: u32,
    /// Topology: `auto`, `single`, or e.g. `feed@0,kernel+exec@1`.
    #[arg(long, default_value = "auto")]
    topology: String,
    /// Pace: `max`, `realtime` or a factor (event time / wall time). The default offers about
    /// 120 k frames/s (1000× the event time) so that latency is measured below saturation.
    #[arg(long, default_value = "1000")]
    speed: String,
    /// Optional TOML configuration (see the README); the demo's defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write every order as CSV.
    #[arg(long)]
    orders_out: Option<PathBuf>,
    /// Write each latency histogram as an HdrHistogram percentile distribution (`<hop>.hgrm`).
    #[arg(long)]
    hgrm_out: Option<PathBuf>,
}

/// Runs the demo.
///
/// # Errors
/// A bad flag value or configuration, or an output file that cannot be written.
pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    let speed = parse_speed(&a.speed)?;
    let cfg = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --config {}", p.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => Config::default(),
    };
    let res = cfg.resolve().with_context(|| match &a.config {
        Some(p) => format!("in {}", p.display()),
        None => "in the default configuration".to_string(),
    })?;
    let synth = SynthConfig {
        seed: a.seed,
        steps: a.steps,
        symbol: res.symbol.clone(),
        ..SynthConfig::default()
    };
    let t = std::time::Instant::now();
    let frames = generate(&synth);
    eprintln!(
        "ballast demo: generated {} Binance frames ({} s of market, seed {}) in {:.2} s",
        frames.len(),
        u64::from(synth.steps) * synth.step_ms / 1000,
        synth.seed,
        t.elapsed().as_secs_f64()
    );
    let clock = Clock::new();
    let out = execute(
        &res,
        Some(&a.topology),
        speed,
        MemorySource::new(frames),
        &clock,
    )?;
    print_summary(
        "ballast demo: synthetic BTCUSDT, EWMA volatility targeting",
        &out,
        &clock,
    );
    if let Some(p) = &a.orders_out {
        write_orders(p, &out)?;
    }
    if let Some(d) = &a.hgrm_out {
        write_hgrm(d, &out.report)?;
    }
    Ok(())
}
