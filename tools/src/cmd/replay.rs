//! `ballast replay`: captured frames through the whole pipeline.

use std::path::PathBuf;

use anyhow::{bail, Context};
use engine::clock::Clock;
use engine::source::CaptureSource;
use engine::topology::Topology;

use super::portfolio::{self as pf, Outputs};
use super::run_common::{
    execute, load_config, parse_speed, print_summary, read_config, write_hgrm, write_orders,
};

/// Replay captures through parser, books, pipeline, kernel and paper execution, with the engine
/// the configuration asks for: capture files of one instrument (`<recv ns> <raw frame>` lines,
/// plain, gzip or zstd; several files continue each other) for the single-instrument kernel; with
/// `[portfolio]`, tagged captures of several venues and markets (`--capture binance-usdm=FILE`, or
/// `captures` in the configuration) merged by receive time for the portfolio engine; with
/// `[options]`, `--capture deribit=FILE` option feeds (and hedge feeds of other tags) for the
/// options engine, as `ballast options-replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Capture files of the single-instrument kernel, in order.
    files: Vec<PathBuf>,
    /// A tagged capture of the portfolio engine, `TAG=FILE` with TAG one of binance-spot,
    /// binance-usdm, binance-coinm, binance, deribit (repeat; replaces the configuration's
    /// `captures`).
    #[arg(long = "capture", value_name = "TAG=FILE")]
    captures: Vec<String>,
    /// Portfolio engine: write each rebalance as one JSON line.
    #[arg(long)]
    decisions_out: Option<PathBuf>,
    /// Portfolio engine: put each rebalance's factor covariance in its record.
    #[arg(long)]
    log_covariance: bool,
    /// Portfolio engine, Kelly policy: expected returns over time, CSV
    /// `recv_ns,factor,expected_return` (replaces the configuration's `signals`).
    #[arg(long, value_name = "FILE")]
    signals: Option<PathBuf>,
    /// Options engine: derive each underlying's hedge touch from its option tickers'
    /// `underlying_price` (see `ballast options-replay`).
    #[arg(long)]
    hedge_from_underlying: bool,
    /// Options engine: the hedge capture's symbol, `UNDERLYING=SYMBOL` or `SYMBOL` (repeat).
    #[arg(long)]
    hedge_symbol: Vec<String>,
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
    if let Some(path) = &a.config {
        let cfg = read_config(path)?;
        if let Some(spec) = cfg.portfolio.clone() {
            return portfolio_replay(&a, path, &cfg, spec, speed);
        }
        if cfg.options.is_some() {
            let path = path.clone();
            return options_replay(a, &path);
        }
    }
    if a.files.is_empty() {
        bail!(
            "no capture FILES: give the single-instrument kernel's files, or a --config with \
             `[portfolio]` or `[options]` and tagged captures (`--capture TAG=FILE`)"
        );
    }
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

/// The portfolio engine over the tagged captures of the flags or of the configuration.
fn portfolio_replay(
    a: &ReplayArgs,
    path: &std::path::Path,
    cfg: &config::Config,
    mut spec: portfolio::PortfolioSpec,
    speed: engine::pipeline::Speed,
) -> anyhow::Result<()> {
    if !a.files.is_empty() {
        bail!("a portfolio replay takes tagged captures (`--capture TAG=FILE`), not plain files");
    }
    let specs = if a.captures.is_empty() {
        pf::captures(&cfg.captures, path.parent())
    } else {
        pf::captures(&a.captures, None)
    }
    .with_context(|| path.display().to_string())?;
    let mut pcfg = cfg.pipeline().with_context(|| path.display().to_string())?;
    pcfg.speed = speed;
    if let Some(t) = &a.topology {
        pcfg.topology = t.clone();
    }
    let out = Outputs {
        orders_out: a.orders_out.clone(),
        decisions_out: a.decisions_out.clone(),
        log_covariance: a.log_covariance,
    };
    // The flag's path is the caller's; the configuration's is relative to the file.
    let signal_file = match (&a.signals, &spec.signals) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) => Some(path.parent().map_or_else(|| p.into(), |d| d.join(p))),
        (None, None) => None,
    };
    spec.signals = signal_file.as_ref().map(|p| p.display().to_string());
    spec.check().with_context(|| path.display().to_string())?;
    let signals = match &signal_file {
        Some(p) => {
            let names: Vec<&str> = spec.factors.iter().map(|f| f.name.as_str()).collect();
            portfolio::read_signals(p, &names)?
        }
        None => Vec::new(),
    };
    let run = pf::replay(spec, &specs, pcfg, &out, signals)
        .with_context(|| path.display().to_string())?;
    pf::print_summary("ballast replay (portfolio)", &run);
    if let Some(d) = &a.hgrm_out {
        write_hgrm(d, &run.report)?;
    }
    if let Some(e) = &run.report.source_error {
        bail!("replay stopped early: {e}");
    }
    Ok(())
}

/// The options engine: `deribit=` captures are the option feeds, the others its hedge feeds (the
/// same run as `ballast options-replay`).
fn options_replay(a: ReplayArgs, path: &std::path::Path) -> anyhow::Result<()> {
    if !a.files.is_empty() {
        bail!(
            "an options replay takes tagged captures (`--capture deribit=FILE`), not plain files"
        );
    }
    let (mut options, mut hedges) = (Vec::new(), Vec::new());
    for c in &a.captures {
        let spec = feeds::multi::InputSpec::parse_tagged(c)?;
        let to = if spec.venue == feeds::multi::Venue::Deribit {
            &mut options
        } else {
            &mut hedges
        };
        to.extend(spec.paths);
    }
    super::options_replay::run(super::options_replay::OptionsReplayArgs::from_replay(
        options,
        hedges,
        a.hedge_symbol,
        a.hedge_from_underlying,
        Some(path.to_path_buf()),
        a.orders_out,
        a.decisions_out,
        a.topology,
        a.speed,
    ))
}
