//! `ballast`: the command line. Each subcommand lives in `cmd/<name>.rs`.

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

mod cmd;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// Ballast: low-latency, event-driven automated position sizing.
#[derive(Debug, Parser)]
#[command(name = "ballast", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the main job on the built-in synthetic market (no data, no network).
    Demo(cmd::demo::DemoArgs),
    /// Replay captured frames through the whole pipeline.
    Replay(cmd::replay::ReplayArgs),
    /// Latency lab: core-to-core matrix, pipeline topology sweeps with coordinated-omission
    /// corrected histograms, venue round trips, and run-to-run comparison.
    #[command(subcommand_required = true)]
    Bench(cmd::bench::BenchArgs),
    /// Rebuild one symbol's exact L2 book from captured Binance frames; print its top of book
    /// after every applied depth diff as CSV.
    Book(cmd::book::BookArgs),
    /// Fit volatility models (GARCH(1,1), EWMA) to returns or prices; print JSON estimates and
    /// variance forecasts.
    Vol(cmd::vol::VolArgs),
    /// Sizing models from CSV inputs: many-asset Kelly, risk parity, liquidation-aware sizes.
    Size(cmd::size::SizeArgs),
    /// Option prices and Greeks (or implied volatilities with --iv) for a CSV of options,
    /// BSM or Black-76, streamed through the SIMD kernel.
    Greeks(cmd::greeks::GreeksArgs),
    /// Local venue simulator: Binance or Deribit protocols on 127.0.0.1 (market data, REST,
    /// orders, fills, fault injection), from captures or a synthetic market.
    VenueSim(cmd::venue_sim::VenueSimArgs),
    /// Record every raw frame of a live connection (Binance or Deribit) with its receive time;
    /// crash-safe, optional gzip/zstd and rotation.
    Capture(cmd::capture::CaptureArgs),
    /// Live mode: venue feed, sizing, pre-trade risk gate and execution adapter from a TOML
    /// config (`[live]`, `[instrument]`, `[sizing]`, `[risk]`).
    Run(cmd::run::RunArgs),
    /// Replay Deribit option captures (and a hedge feed) through one options engine per
    /// underlying; log every order and decision as JSON lines.
    OptionsReplay(cmd::options_replay::OptionsReplayArgs),
    /// Score the order-flow depth forecast against persistence on captures (out of sample).
    Liquidity(cmd::liquidity::LiquidityArgs),
}

fn main() -> std::process::ExitCode {
    if let Err(msg) = cpu_check() {
        eprintln!("ballast: {msg}");
        return std::process::ExitCode::from(2);
    }
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Book(a) => cmd::book::run(a),
        Command::Vol(a) => cmd::vol::run(a),
        Command::Size(a) => cmd::size::run(a),
        Command::Greeks(a) => cmd::greeks::run(a),
        Command::VenueSim(a) => cmd::venue_sim::run(a),
        Command::Capture(a) => cmd::capture::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::OptionsReplay(a) => cmd::options_replay::run(a),
        Command::Liquidity(a) => cmd::liquidity::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ballast: error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

/// Ballast is built for x86-64-v3; refuse to run (instead of dying on SIGILL) on a CPU without
/// AVX2 and FMA. Reads CPUID directly: `is_x86_feature_detected!` folds to `true` in a build that
/// already enables the features, so it cannot tell.
fn cpu_check() -> Result<(), String> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__cpuid, __cpuid_count};
        let leaf1 = __cpuid(1);
        let max_leaf = __cpuid(0).eax;
        let leaf7_ebx = if max_leaf >= 7 {
            __cpuid_count(7, 0).ebx
        } else {
            0
        };
        let missing: Vec<&str> = [
            ("avx", leaf1.ecx & (1 << 28) != 0),
            ("fma", leaf1.ecx & (1 << 12) != 0),
            ("avx2", leaf7_ebx & (1 << 5) != 0),
            ("bmi2", leaf7_ebx & (1 << 8) != 0),
        ]
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "this CPU lacks {} required by this build (x86-64-v3, AVX2+FMA); rebuild without \
                 `-C target-cpu=x86-64-v3` in .cargo/config.toml",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}
