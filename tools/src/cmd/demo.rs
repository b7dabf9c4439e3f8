//! `ballast demo`: the main job on the built-in synthetic market.

use std::path::PathBuf;

use engine::clock::Clock;
use engine::source::MemorySource;
use engine::topology::Topology;
use synth::{generate, SynthConfig};

use super::run_common::{
    execute, load_config, parse_speed, print_summary, write_hgrm, write_orders,
};

/// Run the whole pipeline on a deterministic, seeded synthetic Binance market (volatility
/// clustering and one shock, a lost diff and its resync) rendered as real Binance frames.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("engine").args(["options", "portfolio"])))]
pub struct DemoArgs {
    /// RNG seed of the synthetic market.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Steps of 50 ms event time (one depth diff each, plus tickers and trades).
    #[arg(long, default_value_t = 60_000)]
    steps: u32,
    /// Topology: `auto`, `single`, or e.g. `feed@0,kernel+exec@1`.
    #[arg(long, default_value = "auto")]
    topology: Topology,
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
    /// The options demo instead: synthetic Deribit option chains (BTC, ETH) with a smile, inverse
    /// perpetuals to hedge with and a volatility shock, through the options engine in a direct
    /// loop and in the pipeline (`--seed`, `--topology`, `--speed` apply; `--orders-out` then
    /// writes JSON lines).
    #[arg(long)]
    options: bool,
    /// The portfolio demo instead: a synthetic market of correlated factors (BTC, ETH, SOL) on
    /// Binance spot, USD-M and COIN-M with a correlation break and a volatility shock, through the
    /// portfolio engine (risk parity across factors, execution across venues, margin per account;
    /// `--config` may replace the built-in `[portfolio]`).
    #[arg(long, conflicts_with = "options")]
    portfolio: bool,
    /// With `--options` or `--portfolio`: write every decision (rebalance) as one JSON line.
    #[arg(long, requires = "engine")]
    decisions_out: Option<PathBuf>,
}

/// Runs the demo.
///
/// # Errors
/// A bad flag value or configuration, or an output file that cannot be written.
pub fn run(a: DemoArgs) -> anyhow::Result<()> {
    if a.options {
        return super::demo_options::run(
            a.seed,
            &a.topology,
            parse_speed(&a.speed)?,
            a.orders_out.as_deref(),
            a.decisions_out.as_deref(),
        );
    }
    let speed = parse_speed(&a.speed)?;
    if a.portfolio {
        return super::demo_portfolio::run(&super::demo_portfolio::DemoPortfolio {
            seed: a.seed,
            topology: &a.topology,
            speed,
            config: a.config.as_deref(),
            orders_out: a.orders_out.clone(),
            decisions_out: a.decisions_out.clone(),
        });
    }
    let res = load_config(a.config.as_deref())?;
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
    print_shock(&synth, &out, res.sizing.capital);
    if let Some(p) = &a.orders_out {
        write_orders(p, &out)?;
    }
    if let Some(d) = &a.hgrm_out {
        write_hgrm(d, &out.report)?;
    }
    Ok(())
}

/// How the sizing reacted to the volatility shock: forecast and target exposure just before it,
/// at the deepest cut after it, and how long the cut took.
fn print_shock(synth: &SynthConfig, out: &super::run_common::Outcome, capital: f64) {
    let step_ns = synth.step_ms * 1_000_000;
    let shock_ns = synth.start_ns + (synth.shock_at * f64::from(synth.steps)) as u64 * step_ns;
    let orders = &out.report.orders;
    let Some(before) = orders.iter().rev().find(|o| o.recv_ns < shock_ns) else {
        return;
    };
    let after: Vec<_> = orders
        .iter()
        .filter(|o| o.recv_ns >= shock_ns && o.recv_ns < shock_ns + 600 * 1_000_000_000)
        .collect();
    let Some(low) = after
        .iter()
        .min_by(|a, b| a.target_qty.total_cmp(&b.target_qty))
    else {
        return;
    };
    let Some(first) = after.first() else { return };
    let notional = |o: &engine::order::Order| o.target_qty * o.limit_px as f64 / 1e8;
    println!();
    println!(
        "volatility shock at t+{} s (vol x{}):",
        (shock_ns - synth.start_ns) / 1_000_000_000,
        synth.shock_mult
    );
    println!(
        "  before  forecast {:>6.1} %  target {:>9.5} BTC = {:.2}x capital",
        before.vol_forecast * 100.0,
        before.target_qty,
        notional(before) / capital
    );
    println!(
        "  first   forecast {:>6.1} %  target {:>9.5} BTC = {:.2}x capital, {:.1} s after the shock",
        first.vol_forecast * 100.0,
        first.target_qty,
        notional(first) / capital,
        (first.recv_ns - shock_ns) as f64 / 1e9
    );
    println!(
        "  lowest  forecast {:>6.1} %  target {:>9.5} BTC = {:.2}x capital, {:.1} s after the shock",
        low.vol_forecast * 100.0,
        low.target_qty,
        notional(low) / capital,
        (low.recv_ns - shock_ns) as f64 / 1e9
    );
}
