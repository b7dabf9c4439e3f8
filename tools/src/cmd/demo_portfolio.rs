//! `ballast demo --portfolio`: the portfolio engine on the seeded synthetic market of several
//! correlated factors on Binance spot, USD-M and COIN-M and a Deribit perpetual, with a
//! correlation break and a volatility shock. Prints the truth of the market, the weights and risk contributions before and after each
//! event, then the replay summary (orders by binding constraint, margin per account, latency).

use std::path::PathBuf;

use anyhow::Context;
use engine::pipeline::Speed;
use engine::topology::Topology;
use feeds::multi::{InputKind, MultiAdapter, Venue};
use synth::portfolio::{generate_portfolio, PortfolioSynthConfig};

use super::portfolio::{self as pf, Brief, Outputs, TapeSource};

/// The demo's portfolio (`examples/portfolio-demo.toml`, built in).
const SPEC: &str = include_str!("../../../examples/portfolio-demo.toml");

/// What the demo was asked.
pub struct DemoPortfolio<'a> {
    /// RNG seed of the market.
    pub seed: u64,
    /// Topology.
    pub topology: &'a Topology,
    /// Pace.
    pub speed: Speed,
    /// A configuration replacing the built-in portfolio.
    pub config: Option<&'a std::path::Path>,
    /// Outputs.
    pub orders_out: Option<PathBuf>,
    /// Rebalance records.
    pub decisions_out: Option<PathBuf>,
}

/// Runs the demo.
///
/// # Errors
/// A bad configuration or an unwritable output.
pub fn run(d: &DemoPortfolio<'_>) -> anyhow::Result<()> {
    let cfg = match d.config {
        Some(p) => super::run_common::read_config(p)?,
        None => config::Config::from_toml(SPEC).context("the built-in portfolio")?,
    };
    let spec = cfg
        .portfolio
        .clone()
        .context("the configuration has no [portfolio] section")?;
    let market = generate_portfolio(&PortfolioSynthConfig {
        seed: d.seed,
        ..PortfolioSynthConfig::default()
    })?;
    let t0 = market.frames.first().map_or(0, |f| f.0);
    let truth = &market.truth;
    println!("== synthetic portfolio market (seed {}) ==", d.seed);
    println!(
        "inputs            {} markets, {} frames",
        market.inputs.len(),
        market.frames.len()
    );
    let secs = |ns: u64| ns.saturating_sub(t0) as f64 / 1e9;
    println!(
        "correlation break at {:.0} s; {}",
        secs(truth.break_ns),
        truth.shock.as_ref().map_or(String::new(), |s| format!(
            "{} volatility ×{:.1} from {:.0} s to {:.0} s",
            truth.factors[s.factor],
            s.vol / truth.vol[s.factor],
            secs(s.start_ns),
            secs(s.end_ns)
        ))
    );
    let k = truth.factors.len();
    for (w, label) in [
        (&truth.realized_before, "realized before the break"),
        (&truth.realized_after, "realized after the break"),
    ] {
        let corr: Vec<String> = (0..k)
            .flat_map(|i| (i + 1..k).map(move |j| (i, j)))
            .map(|(i, j)| {
                format!(
                    "{}-{} {:+.2}",
                    truth.factors[i],
                    truth.factors[j],
                    w.corr[i * k + j]
                )
            })
            .collect();
        let vols: Vec<String> = (0..k)
            .map(|i| format!("{} {:.0} %", truth.factors[i], w.vol[i] * 100.0))
            .collect();
        println!(
            "{label:<26} vol {}; corr {}",
            vols.join(", "),
            corr.join(", ")
        );
    }
    println!();

    let kinds: Vec<InputKind> = market
        .inputs
        .iter()
        .map(|i| InputKind {
            venue: if i.market == feeds::Market::Deribit {
                Venue::Deribit
            } else {
                Venue::Binance
            },
            market: Some(i.market),
        })
        .collect();
    let (global, locals) = pf::registries(&spec, &kinds)?;
    let feed = MultiAdapter::new(&kinds, global.clone(), locals);
    let mut pcfg = cfg.pipeline()?;
    pcfg.topology = d.topology.clone();
    pcfg.speed = d.speed;
    let out = Outputs {
        orders_out: d.orders_out.clone(),
        decisions_out: d.decisions_out.clone(),
        log_covariance: true,
    };
    let run = pf::run(
        spec.clone(),
        global,
        feed,
        TapeSource::new(market.frames.clone()),
        &mut pcfg,
        &out,
        Vec::new(),
    )?;

    // Weights and risk contributions at the last rebalance before each event and at the end.
    let shock_start = truth.shock.as_ref().map(|s| s.start_ns);
    let shock_end = truth.shock.as_ref().map(|s| s.end_ns);
    let last_before = |ns: u64| run.briefs.iter().rev().find(|b| b.recv_ns < ns);
    let mut rows: Vec<(&str, Option<&Brief>)> = vec![
        ("before the break", last_before(truth.break_ns)),
        (
            "after the break",
            shock_start
                .and_then(last_before)
                .filter(|b| b.recv_ns >= truth.break_ns),
        ),
    ];
    if let Some(end) = shock_end {
        rows.push((
            "in the vol shock",
            last_before(end).filter(|b| Some(b.recv_ns) >= shock_start),
        ));
    }
    rows.push(("end", run.briefs.last()));
    println!(
        "{:<18} {:>6} {:>8} {:>8}  per factor: weight / risk contribution / vol % / binding",
        "rebalance", "at s", "trigger", "port vol"
    );
    for (label, b) in rows {
        let Some(b) = b else {
            println!("{label:<18} (no rebalance)");
            continue;
        };
        let per: Vec<String> = b
            .factors
            .iter()
            .zip(&spec.factors)
            .map(|((w, rc, v, bind), f)| {
                format!("{} {:.3}/{:.3}/{:.0}/{bind}", f.name, w, rc, v * 100.0)
            })
            .collect();
        println!(
            "{label:<18} {:>6.0} {:>8} {:>7.1}%  {}",
            secs(b.recv_ns),
            b.trigger,
            b.portfolio_vol * 100.0,
            per.join("  ")
        );
    }
    println!();
    pf::print_summary("ballast demo --portfolio", &run);
    if let Some(e) = &run.report.source_error {
        anyhow::bail!("demo stopped early: {e}");
    }
    Ok(())
}
