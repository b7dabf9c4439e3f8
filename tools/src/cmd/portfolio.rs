//! The portfolio engine over merged captures (`ballast replay` with a `[portfolio]` section, and
//! `ballast demo --portfolio`): tagged inputs merged by receive time through one feed stage, the
//! portfolio kernel, paper execution; the rebalance log written by a thread of its own; the
//! summary tables.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use super::run_common::TaggedSource;
use anyhow::Context;
use engine::clock::Clock;
use engine::kernel::PaperAdapter;
use engine::latency::table;
use engine::pipeline::{run_kernel, PipelineConfig, RunReport};
use engine::source::{FrameSource, SourceError};
use feeds::binance::AUTO_SCALE;
use feeds::multi::{InputKind, InputSpec, MergedFrames, MultiAdapter};
use feeds::{Market, Registry};
use portfolio::{record_ring, write_rebalance, PortfolioKernel, PortfolioSpec, RecordDrain};

/// Where a portfolio run writes.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    /// Orders with their fills and rebalance, CSV.
    pub orders_out: Option<PathBuf>,
    /// Rebalance records, JSON lines.
    pub decisions_out: Option<PathBuf>,
    /// Put each rebalance's covariance in its record.
    pub log_covariance: bool,
}

/// A finished portfolio run.
pub struct PortfolioRun {
    /// The pipeline's report.
    pub report: RunReport,
    /// The kernel after the run (targets, accounts, realized risk contributions).
    pub kernel: PortfolioKernel<portfolio::RecordRing>,
    /// The global registry.
    pub registry: Registry,
    /// Every rebalance, briefly (for tables).
    pub briefs: Vec<Brief>,
}

/// A rebalance in brief: when, why, and per factor (weight, risk contribution, vol, binding).
#[derive(Debug, Clone)]
pub struct Brief {
    /// Receive time of the triggering event, ns.
    pub recv_ns: u64,
    /// Trigger name.
    pub trigger: &'static str,
    /// Portfolio volatility of the targets.
    pub portfolio_vol: f64,
    /// Per factor: weight, risk contribution, vol, binding.
    pub factors: Vec<(f64, f64, f64, &'static str)>,
}

/// A tape of tagged frames in memory as a pipeline source (the demo's synthetic market).
pub(crate) struct TapeSource {
    frames: Vec<(u64, u8, Vec<u8>)>,
    next: usize,
    buf: Vec<u8>,
}

impl TapeSource {
    /// Frames `(recv_ns, input, frame)` in receive-time order.
    pub(crate) fn new(frames: Vec<(u64, u8, Vec<u8>)>) -> Self {
        Self {
            frames,
            next: 0,
            buf: Vec::with_capacity(1 << 16),
        }
    }
}

impl FrameSource for TapeSource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        let Some((ns, input, frame)) = self.frames.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        self.buf.clear();
        self.buf.push(*input);
        self.buf.extend_from_slice(frame);
        Ok(Some((*ns, &self.buf)))
    }
}

/// The registries: every spec instrument registered up front on its market (global ids in spec
/// order), and each input's adapter starting with the instruments of its market.
pub(crate) fn registries(
    spec: &PortfolioSpec,
    kinds: &[InputKind],
) -> anyhow::Result<(Registry, Vec<Registry>)> {
    let mut global = Registry::new();
    let mut markets = Vec::with_capacity(spec.instruments.len());
    for (i, s) in spec.instruments.iter().enumerate() {
        let m = InputKind::from_tag(&s.market)
            .and_then(|k| k.market)
            .with_context(|| format!("portfolio.instruments[{i}].market: `{}`", s.market))?;
        global.register(&s.symbol, m, AUTO_SCALE, AUTO_SCALE);
        markets.push(m);
    }
    for o in &spec.options {
        global.register(&o.symbol, Market::Deribit, AUTO_SCALE, AUTO_SCALE);
        markets.push(Market::Deribit);
    }
    let names = spec
        .instruments
        .iter()
        .map(|s| &s.symbol)
        .chain(spec.options.iter().map(|o| &o.symbol));
    let names: Vec<&String> = names.collect();
    let locals = kinds
        .iter()
        .map(|k| {
            let mut r = Registry::new();
            for (s, m) in names.iter().zip(&markets) {
                if k.market == Some(*m) {
                    r.register(s, *m, AUTO_SCALE, AUTO_SCALE);
                }
            }
            r
        })
        .collect();
    Ok((global, locals))
}

/// Resolves capture arguments (`TAG=FILE`); relative paths against `base`.
///
/// # Errors
/// A bad tag or an unreadable file, naming the argument.
pub fn captures(args: &[String], base: Option<&Path>) -> anyhow::Result<Vec<InputSpec>> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let mut spec = InputSpec::parse_tagged(a)?;
        for p in &mut spec.paths {
            if p.is_relative() {
                if let Some(b) = base {
                    *p = b.join(&*p);
                }
            }
            std::fs::metadata(&*p)
                .with_context(|| format!("cannot read capture {}", p.display()))?;
        }
        spec.format = feeds::multi::CaptureFormat::detect(&spec.paths[0]);
        out.push(spec);
    }
    if out.is_empty() {
        anyhow::bail!(
            "no captures: give `--capture TAG=FILE` or `captures = [...]` in the configuration"
        );
    }
    Ok(out)
}

/// Replays `specs` through the portfolio engine.
///
/// # Errors
/// A bad spec, an unreadable capture, an unwritable output.
pub fn replay(
    spec: PortfolioSpec,
    specs: &[InputSpec],
    mut pcfg: PipelineConfig,
    out: &Outputs,
    signals: Vec<portfolio::Signal>,
) -> anyhow::Result<PortfolioRun> {
    let kinds: Vec<InputKind> = specs.iter().map(InputSpec::kind).collect();
    let (global, locals) = registries(&spec, &kinds)?;
    let feed = MultiAdapter::new(&kinds, global.clone(), locals);
    let source = TaggedSource::new(MergedFrames::open(specs)?, "replay inputs");
    run(spec, global, feed, source, &mut pcfg, out, signals)
}

/// Runs any tagged source through the portfolio engine (replays and the demo).
pub(crate) fn run<S: FrameSource>(
    spec: PortfolioSpec,
    global: Registry,
    feed: MultiAdapter,
    source: S,
    pcfg: &mut PipelineConfig,
    out: &Outputs,
    signals: Vec<portfolio::Signal>,
) -> anyhow::Result<PortfolioRun> {
    let template = portfolio::Rebalance::with_capacity(
        spec.factors.len(),
        spec.instruments.len(),
        spec.accounts.len(),
    );
    let (ring, drain) = record_ring(&template, 64);
    let kernel = PortfolioKernel::new(spec.clone(), &global, ring)?
        .with_covariance_log(out.log_covariance)
        .with_signals(signals);
    let writer = writer(drain, spec, out.decisions_out.clone(), out.log_covariance);
    pcfg.exec_sync = true;
    pcfg.max_instruments = pcfg.max_instruments.max(global.len() + 16);
    let clock = Clock::new();
    let (report, kernel) = run_kernel(pcfg, source, feed, kernel, PaperAdapter::default(), &clock);
    // The kernel (returned for the summary) keeps its end of the ring: the writer is told how
    // many records there are and ends once it has written them all.
    let briefs = writer.finish(&kernel)?;
    if let Some(p) = &out.orders_out {
        write_orders(p, &global, &report)?;
    }
    Ok(PortfolioRun {
        report,
        kernel,
        registry: global,
        briefs,
    })
}

/// The log writer thread and how many records the kernel produced.
struct Writer {
    handle: std::thread::JoinHandle<anyhow::Result<Vec<Brief>>>,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Writer {
    /// Tells the writer how many records the kernel made and waits for it to write them.
    fn finish(self, kernel: &PortfolioKernel<portfolio::RecordRing>) -> anyhow::Result<Vec<Brief>> {
        let made = kernel.portfolio_stats().rebalances.iter().sum::<u64>();
        self.done
            .store(made + 1, std::sync::atomic::Ordering::Release);
        self.handle
            .join()
            .map_err(|_| anyhow::anyhow!("the rebalance log writer panicked"))?
    }
}

fn writer(
    mut drain: RecordDrain,
    spec: PortfolioSpec,
    path: Option<PathBuf>,
    with_cov: bool,
) -> Writer {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = std::sync::Arc::clone(&done);
    let handle = std::thread::spawn(move || {
        let mut w = path
            .as_ref()
            .map(|p| {
                File::create(p)
                    .map(BufWriter::new)
                    .with_context(|| format!("cannot create --decisions-out {}", p.display()))
            })
            .transpose()?;
        let mut n = 0u64;
        let mut briefs = Vec::new();
        loop {
            if let Some(r) = drain.pop() {
                if let Some(w) = w.as_mut() {
                    write_rebalance(w, &spec, &r, with_cov).context("writing the rebalance log")?;
                }
                briefs.push(Brief {
                    recv_ns: r.recv_ns,
                    trigger: r.trigger.as_str(),
                    portfolio_vol: r.portfolio_vol,
                    factors: r
                        .factors
                        .iter()
                        .map(|f| (f.weight, f.risk_contribution, f.vol, f.binding.as_str()))
                        .collect(),
                });
                drain.give_back(r);
                n += 1;
                continue;
            }
            let target = seen.load(std::sync::atomic::Ordering::Acquire);
            if (target > 0 && n + 1 >= target) || drain.is_done() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        if let (Some(mut w), Some(p)) = (w, path) {
            w.flush()
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(briefs)
    });
    Writer { handle, done }
}

/// Every order with its rebalance, binding and fill, CSV.
fn write_orders(path: &Path, registry: &Registry, report: &RunReport) -> anyhow::Result<()> {
    let file = File::create(path)
        .with_context(|| format!("cannot create --orders-out {}", path.display()))?;
    let mut w = BufWriter::new(file);
    let mut body = || -> std::io::Result<()> {
        writeln!(
            w,
            "order_id,rebalance,recv_ns,venue,market,symbol,side,qty,limit_px,reason,binding,target_qty,position_qty,fill_qty,fill_px"
        )?;
        for (o, f) in report.orders.iter().zip(&report.fills) {
            let Some(inst) = registry.get(o.instrument) else {
                continue;
            };
            let (ps, qs) = (
                feeds::registry::POW10[usize::from(inst.px_scale)] as f64,
                feeds::registry::POW10[usize::from(inst.qty_scale)] as f64,
            );
            writeln!(
                w,
                "{},{},{},{},{},{},{},{:?},{:?},{},{},{:?},{:?},{:?},{:?}",
                o.id,
                o.rebalance,
                o.recv_ns,
                inst.market.venue_name(),
                inst.market.name(),
                inst.symbol,
                if o.side == feeds::Side::Buy {
                    "buy"
                } else {
                    "sell"
                },
                o.qty as f64 / qs,
                o.limit_px as f64 / ps,
                o.reason.as_str(),
                o.binding.as_str(),
                o.target_qty,
                o.position_qty,
                f.qty as f64 / qs,
                f.px as f64 / ps,
            )?;
        }
        w.flush()
    };
    body().with_context(|| format!("writing {}", path.display()))
}

/// Prints the run's summary: pipeline counters, orders by binding, the factor table, the account
/// table and the latency table.
pub fn print_summary(title: &str, run: &PortfolioRun) {
    let r = &run.report;
    let k = &run.kernel;
    let spec = k.spec();
    super::run_common::print_run_header(title, r);
    println!(
        "events            {} to the kernel ({} bbo, {} trades)",
        r.feed.events, r.kernel.bbo, r.kernel.trades
    );
    println!(
        "book              {} diffs applied, {} gaps, {} resyncs, {} snapshots",
        r.feed.adapter.diffs_applied,
        r.feed.adapter.gaps,
        r.feed.adapter.resyncs,
        r.feed.adapter.snapshots
    );
    println!(
        "bad input         {} malformed lines, {} rejected frames",
        r.feed.malformed_lines, r.feed.rejected
    );
    let ps = k.portfolio_stats();
    println!(
        "rebalances        {} (start {}, clock {}, drift {}, vol jump {}, universe {}, signal {}), {} failed, {} samples; {} records",
        ps.rebalances.iter().sum::<u64>(),
        ps.rebalances[0],
        ps.rebalances[1],
        ps.rebalances[2],
        ps.rebalances[3],
        ps.rebalances[4],
        ps.rebalances[5],
        ps.failed,
        ps.samples,
        run.briefs.len()
    );
    if let Some(file) = &spec.signals {
        println!(
            "signals           {} expected-return updates applied from {file}",
            ps.signals
        );
    }
    println!(
        "orders            {} ({} filled)",
        r.orders.len(),
        r.fills.iter().filter(|f| f.qty > 0).count()
    );
    let mut by_binding = std::collections::BTreeMap::new();
    for o in &r.orders {
        *by_binding
            .entry((o.reason.as_str(), o.binding.as_str()))
            .or_insert(0u64) += 1;
    }
    for ((reason, binding), n) in by_binding {
        println!("  reason {reason:<12} bound by {binding:<18} {n}");
    }
    println!();
    println!(
        "{:<8} {:>8} {:>8} {:>9} {:>8} {:>14} {:>14}",
        "factor", "budget", "weight", "real. RC", "vol %", "target USD", "net USD"
    );
    for (f, fs) in spec.factors.iter().enumerate() {
        let target = k.target(f);
        let net = k.net_exposure(f).0;
        println!(
            "{:<8} {:>8.3} {:>8} {:>9} {:>8.1} {:>14} {:>14.0}",
            fs.name,
            fs.budget,
            target.map_or("-".to_string(), |t| format!("{:.3}", t / spec.capital)),
            k.realized_rc(f)
                .map_or("-".to_string(), |x| format!("{x:.3}")),
            k.vol(f) * 100.0,
            target.map_or("-".to_string(), |t| format!("{t:.0}")),
            net
        );
    }
    println!();
    println!(
        "{:<12} {:<8} {:>6} {:>14} {:>12} {:>10} {:>10} {:>12}",
        "account", "model", "ccy", "equity", "maint.", "margin %", "peak %", "closest liq"
    );
    for (a, acc) in spec.accounts.iter().enumerate() {
        let m = k.account_margin(a).unwrap_or_default();
        let (peak, closest) = k.account_extremes(a).unwrap_or((0.0, f64::INFINITY));
        let ccy = if acc.kind == portfolio::spec::AccountKind::Spot {
            "USD"
        } else {
            acc.currency.as_str()
        };
        println!(
            "{:<12} {:<8} {:>6} {:>14.4} {:>12.4} {:>10.2} {:>10.2} {:>12}",
            acc.name,
            acc.kind.name(),
            ccy,
            m.equity,
            m.maintenance,
            m.ratio * 100.0,
            peak * 100.0,
            if closest.is_finite() {
                format!("{:.1} %", closest * 100.0)
            } else {
                "none".to_string()
            }
        );
    }
    println!();
    println!(
        "{:<16} {:<6} {:>14} {:>12} {:>14}",
        "instrument", "market", "position", "mid", "pnl"
    );
    for (s, res) in spec.instruments.iter().zip(&r.instruments) {
        let qs = run.registry.get(res.id).map_or(8, |i| i.qty_scale);
        println!(
            "{:<16} {:<6} {:>14} {:>12} {:>14.4}",
            s.symbol,
            run.registry.get(res.id).map_or("-", |i| i.market.name()),
            res.position as f64 / feeds::registry::POW10[usize::from(qs)] as f64,
            res.last_mid_px
                .map_or("-".to_string(), |m| format!("{m:.2}")),
            res.pnl
        );
    }
    if let Some(e) = &r.source_error {
        println!("source error      {e}");
    }
    println!();
    print!("{}", table(&r.latency));
}
