//! `ballast run --config FILE.toml`: live mode. One venue connection (`[live]`), the sized
//! instrument (`[instrument]`), volatility-targeted sizing (`[sizing]`), the pre-trade risk gate
//! (`[risk]`) and the execution adapter (`paper` by default, or the Binance WebSocket API). Runs
//! until SIGINT/SIGTERM or `live.duration_s`, then prints what happened.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use engine::clock::Clock;
use engine::config::{Config, Resolved, RiskSection};
use engine::exec::binance::{BinanceAuth, BinanceExec, BinanceExecConfig};
use engine::exec::{Credentials, ExecutionAdapter};
use engine::kernel::{Kernel, PaperAdapter};
use engine::live::{Link, LiveFeed, LiveSource};
use engine::pipeline::{run_with, RunReport};
use engine::risk_gate::{
    Gated, InstrumentLimits, KillSwitch, Marks, RejectReason, RiskGate, RiskLimits,
};
use engine::sizer::VolTargetSizer;
use feeds::decimal::parse_decimal;
use feeds::{BinanceFeed, Registry};

/// `ballast run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The run configuration (TOML; see `examples/run-venue-sim.toml`).
    #[arg(long)]
    pub config: PathBuf,
}

fn limits(r: &RiskSection, res: &Resolved) -> anyhow::Result<RiskLimits> {
    let qty = |field: &str, s: &str| -> anyhow::Result<i64> {
        parse_decimal(s.as_bytes(), res.qty_scale)
            .ok()
            .map(|d| d.mantissa)
            .filter(|m| *m > 0)
            .with_context(|| {
                format!(
                    "`risk.{field}` = {s:?}: expected a positive decimal with at most {} decimals",
                    res.qty_scale
                )
            })
    };
    let pos = |field: &str, v: f64| -> anyhow::Result<f64> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            bail!("`risk.{field}` = {v}: expected a finite number > 0")
        }
    };
    if !(r.price_band.is_finite() && r.price_band >= 0.0) {
        bail!(
            "`risk.price_band` = {}: expected a fraction >= 0",
            r.price_band
        );
    }
    Ok(RiskLimits {
        instruments: vec![Some(InstrumentLimits {
            max_order_qty: qty("max_order_qty", &r.max_order_qty)?,
            max_notional: pos("max_notional", r.max_notional)?,
            max_position: qty("max_position", &r.max_position)?,
        })],
        max_orders_per_sec: pos("max_orders_per_sec", r.max_orders_per_sec)?,
        burst: pos("burst", r.burst)?.max(1.0),
        price_band: (r.price_band > 0.0).then_some(r.price_band),
    })
}

fn summary<A: ExecutionAdapter>(r: &RunReport<Gated<A>>, counters: &engine::live::LiveCounters) {
    let g = r.adapter.gate().stats();
    let filled: i64 = r.fills.iter().map(|f| f.qty).sum();
    println!(
        "orders {} fills {} filled_qty_mantissa {}",
        r.orders.len(),
        r.fills.len(),
        filled
    );
    println!(
        "position_mantissa {}",
        r.instruments.first().map_or(0, |i| i.position)
    );
    print!("gate passed {} rejected {}", g.passed, g.rejected_total());
    for reason in RejectReason::ALL {
        if g.rejected(reason) > 0 {
            print!(" {}={}", reason.as_str(), g.rejected(reason));
        }
    }
    println!();
    let c = counters.snapshot();
    println!(
        "live connects {} disconnects {} resyncs {} stale_periods {} frames {}",
        c.connects, c.disconnects, c.resyncs, c.stale_periods, c.frames
    );
    println!(
        "feed frames {} rejected {} gaps {}; kernel skipped_invalid {} gaps {}",
        r.feed.frames,
        r.feed.rejected,
        r.feed.adapter.gaps,
        r.kernel.skipped_invalid,
        r.kernel.gaps
    );
    if let Some(e) = &r.source_error {
        println!("source error: {e}");
    }
}

/// Runs `ballast run`.
///
/// # Errors
/// A bad configuration (naming the key), missing credentials, a venue that cannot be reached.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let cfg = Config::from_toml(&text).with_context(|| format!("{}", a.config.display()))?;
    let res = cfg
        .resolve()
        .with_context(|| format!("{}", a.config.display()))?;
    let live = cfg
        .live
        .clone()
        .with_context(|| format!("{}: a `[live]` section is required", a.config.display()))?;
    if live.venue != "binance" {
        bail!(
            "`live.venue` = {:?}: `ballast run` sizes Binance instruments (expected \"binance\")",
            live.venue
        );
    }
    if live.channels.is_empty() {
        bail!("`live.channels`: at least one channel is required");
    }
    let risk = cfg.risk.clone().unwrap_or_default();
    let mut reg = Registry::new();
    let id = reg.register(&res.symbol, res.market, res.px_scale, res.qty_scale);
    let market = match res.market {
        feeds::Market::BinanceUsdM => "usdm",
        _ => "spot",
    };
    let lcfg = super::capture::live_config(
        "binance",
        &live.url,
        &live.channels,
        live.rest.as_deref(),
        market,
        &mut reg,
        live.stale_ms,
    )
    .context("`live.channels`")?;
    if reg.len() != 1 {
        bail!(
            "`live.channels`: every channel must be of `instrument.symbol` = {}",
            res.symbol
        );
    }
    let limits = limits(&risk, &res)?;
    let clock = Clock::new();
    let marks = Marks::new(reg.len());
    let mut kill = KillSwitch::new();
    if let Some(f) = &risk.kill_file {
        kill = kill.with_file(f.clone());
    }
    if risk.kill_signal {
        kill = kill
            .on_signal(signal_hook::consts::SIGUSR1)
            .context("SIGUSR1 handler")?;
    }
    let gate = RiskGate::new(reg.instruments(), limits, marks.clone(), kill);
    let link = Arc::new(Link::new(reg.len()));
    let has_book = vec![lcfg.streams.iter().any(|s| s.has_book())];
    let source = LiveSource::new(lcfg, Arc::clone(&link), clock.clone());
    let stop = source.stop_flag();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    if live.duration_s > 0.0 {
        let stop = Arc::clone(&stop);
        let d = Duration::from_secs_f64(live.duration_s);
        std::thread::spawn(move || {
            std::thread::sleep(d);
            // Release: pairs with the source's Acquire load.
            stop.store(true, Ordering::Release);
        });
    }
    let counters = source.counters();
    let mut feed_inner = BinanceFeed::new(reg.clone());
    feed_inner.set_snapshot_target(id);
    let feed = LiveFeed::new(feed_inner, link, has_book, Some(marks));
    let sizer = VolTargetSizer::new(id, res.sizing).context("`sizing`: rejected")?;
    let kernel = Kernel::new(&reg, res.kernel, sizer);
    let mut pcfg = res.pipeline.clone();
    pcfg.exec_sync = false;
    fn go<A: ExecutionAdapter>(
        pcfg: &engine::pipeline::PipelineConfig,
        source: LiveSource,
        feed: LiveFeed<BinanceFeed>,
        kernel: Kernel<VolTargetSizer>,
        adapter: Gated<A>,
        clock: &Clock,
    ) -> RunReport<Gated<A>> {
        run_with(pcfg, source, feed, kernel, adapter, clock)
    }
    match live.adapter.as_str() {
        "" | "paper" => {
            let r = go(
                &pcfg,
                source,
                feed,
                kernel,
                Gated::new(gate, PaperAdapter::default()),
                &clock,
            );
            summary(&r, &counters);
        }
        "binance" => {
            let creds = match (&live.credentials_env, &live.credentials_file) {
                (Some(p), None) => Credentials::from_env(p)?,
                (None, Some(f)) => Credentials::from_file(f)?,
                _ => bail!("`live.credentials_env` or `live.credentials_file` (exactly one) is required by the binance adapter"),
            };
            let url = live
                .exec_url
                .clone()
                .context("`live.exec_url` is required by the binance adapter")?;
            let exec = BinanceExec::connect(
                BinanceExecConfig {
                    url,
                    auth: BinanceAuth::Hmac(creds),
                    recv_window_ms: 5000,
                    ack_timeout_ms: 500,
                    connect_timeout_ms: 2000,
                    client_id_prefix: format!("bl{}-", std::process::id()),
                },
                reg.instruments(),
                clock.clone(),
            )
            .context("connecting the execution adapter")?;
            let r = go(&pcfg, source, feed, kernel, Gated::new(gate, exec), &clock);
            summary(&r, &counters);
            let s = r.adapter.inner().stats();
            println!(
                "exec sent {} acks {} recovered {} rejects {} not_sent {}",
                s.sent, s.acks, s.recovered, s.rejects, s.not_sent
            );
        }
        other => bail!("`live.adapter` = {other:?}: expected \"paper\" or \"binance\""),
    }
    Ok(())
}
