//! `ballast options-replay`: Deribit option captures (and optionally a hedge capture) merged by
//! receive time, one options engine per underlying, paper fills, a JSON-lines log of every order
//! and every decision.
//!
//! # Steps
//! 1. A first pass over the merged inputs ([`feeds::multi::MultiFeed`]) learns the chain from the
//!    captures' `public/get_instruments` responses (strike, expiry, call/put, minimum amount)
//!    and counts each option's tickers; a second pass over the same inputs, with the first
//!    pass's registries, gets the same instrument ids.
//! 2. Per underlying (`[options] underlyings`, default every underlying with option tickers): the
//!    chain is every unexpired option of it with at least one ticker or a `[[options.book]]`
//!    entry; the desired book is `[[options.book]]`, else `default_lots` per option.
//! 3. The hedge: `--hedge-capture F --hedge-symbol [U=]SYM` (a real book, merged by receive
//!    time), or `--hedge-from-underlying`: a **derived** touch on the future named by
//!    `[hedge] symbols` (default: the future of the expiry with the most tickers), rebuilt from
//!    each of its options' tickers' `underlying_price` ± `derived_half_spread_bps` with
//!    `derived_qty` shown each side. It is registered as `<future>@derived` and is not a book.
//! 4. The second pass runs through the same pipeline as live ([`engine::pipeline::run_kernel`]):
//!    the merged inputs are one frame source (frames tagged with their input), the adapters one
//!    feed stage ([`feeds::multi::MultiAdapter`], plus the derived touches), the engines one
//!    [`OptionsKernel`], paper execution. Orders and decisions go from the kernel on a ring to a
//!    writer thread, in the kernel's order; order ids are the pipeline's (global over
//!    underlyings). The summary names each engine's instruments and prints the pipeline's
//!    latency table (tick to order included).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use config::{HedgeSection, OptionsSection};

use crate::cmd::run_common::read_config;
use engine::clock::Clock;
use engine::kernel::PaperAdapter;
use engine::pipeline::{run_kernel, PipelineConfig, RunReport};
use engine::topology::Topology;
use feeds::deribit::InstrumentKind;
use feeds::multi::{InputSpec, MergedFrames, MultiAdapter};
use feeds::{InstrumentId, Market};
use options::kernel::{OptionsKernel, RecordRing};
use options::{HedgeSpec, OptionSpec};

mod scan;
mod stage;
mod summary;

use scan::{captured_hedges, chain_of, default_future, input_specs, scan, Scan};
use stage::{writer, Derive, ReplayFeed, Written};

use crate::cmd::run_common::TaggedSource;
use summary::{engine_end, print_summary, EngineEnd};

/// Replay Deribit option captures through one options engine per underlying and log every
/// order and decision as JSON lines.
#[derive(Debug, clap::Args)]
pub struct OptionsReplayArgs {
    /// Deribit capture (cryptofeed JSONL or `<recv ns> <frame>` lines; plain, gzip or zstd).
    /// Repeat for several captures: they are merged by receive time.
    #[arg(long = "capture", required = true)]
    captures: Vec<PathBuf>,
    /// TOML configuration with `[options]` and `[hedge]` (see the README); defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write every order as one JSON line.
    #[arg(long)]
    orders_out: Option<PathBuf>,
    /// Write every decision (inputs, Greeks before/after, each constraint's value) as one JSON
    /// line.
    #[arg(long)]
    decisions_out: Option<PathBuf>,
    /// Topology: `auto`, `single` or e.g. `feed@0,kernel+exec@1` (overrides the config's).
    #[arg(long)]
    topology: Option<Topology>,
    /// Pace: `max`, `realtime` or a factor such as `10` (latency is queueing-free only below
    /// saturation; the logs are the same at any pace).
    #[arg(long, default_value = "max")]
    speed: String,
    /// Derive each underlying's hedge touch from its option tickers' `underlying_price` (a
    /// configured half-spread and displayed size; NOT a real book).
    #[arg(long)]
    hedge_from_underlying: bool,
    /// A real hedge capture (Binance or Deribit), merged by receive time.
    #[arg(long)]
    hedge_capture: Vec<PathBuf>,
    /// The hedge capture's symbol, `UNDERLYING=SYMBOL` or `SYMBOL` (the underlying is then the
    /// one the symbol starts with). Repeat per underlying.
    #[arg(long)]
    hedge_symbol: Vec<String>,
}

impl OptionsReplayArgs {
    /// The options replay `ballast replay` runs for a configuration with `[options]`: Deribit
    /// captures, hedge captures and the replay's shared flags.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn from_replay(
        captures: Vec<PathBuf>,
        hedge_capture: Vec<PathBuf>,
        hedge_symbol: Vec<String>,
        hedge_from_underlying: bool,
        config: Option<PathBuf>,
        orders_out: Option<PathBuf>,
        decisions_out: Option<PathBuf>,
        topology: Option<Topology>,
        speed: String,
    ) -> Self {
        Self {
            captures,
            config,
            orders_out,
            decisions_out,
            topology,
            speed,
            hedge_from_underlying,
            hedge_capture,
            hedge_symbol,
        }
    }
}

/// Where an underlying's hedge touch comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HedgeSource {
    /// Derived from the tickers of these options (ids), for the future `future`.
    Derived { future: String },
    /// A captured book of this symbol.
    Captured { symbol: String },
}

/// The `[options]`, `[hedge]` and pipeline settings of `path` (defaults without a file: one
/// thread).
fn load_config(
    path: Option<&Path>,
) -> anyhow::Result<(OptionsSection, HedgeSection, PipelineConfig)> {
    let Some(p) = path else {
        return Ok((
            OptionsSection::default(),
            HedgeSection::default(),
            PipelineConfig::default(),
        ));
    };
    let cfg = read_config(p)?;
    let pipeline = cfg
        .resolve()
        .with_context(|| p.display().to_string())?
        .pipeline;
    Ok((
        cfg.options.unwrap_or_default(),
        cfg.hedge.unwrap_or_default(),
        pipeline,
    ))
}

/// An underlying's engine as planned (steps 2–3): its chain, its hedge and its settings.
struct Plan {
    underlying: String,
    source: HedgeSource,
    hedge_id: InstrumentId,
    chain: Vec<OptionSpec>,
    cfg: options::OptionsConfig,
    extras: options::EngineExtras,
    default_lots: i64,
}

/// The planned engines, and the underlyings skipped for want of a hedge feed.
struct Plans {
    plans: Vec<Plan>,
    skipped: Vec<String>,
}

/// What the second pass leaves: the pipeline's report, each engine's end, the log's counts.
struct Replayed {
    report: RunReport,
    engines: Vec<EngineEnd>,
    rejected: u64,
    written: Written,
    derived: u64,
}

/// The `[options]`, `[hedge]` and pipeline settings, with the flags applied and checked.
fn settings(
    a: &OptionsReplayArgs,
) -> anyhow::Result<(OptionsSection, HedgeSection, PipelineConfig)> {
    if !a.hedge_from_underlying && a.hedge_capture.is_empty() {
        bail!("no hedge feed: pass --hedge-from-underlying (derived touch) or --hedge-capture F --hedge-symbol SYM");
    }
    let (opts, hedge_cfg, mut pcfg) = load_config(a.config.as_deref())?;
    if let Some(t) = &a.topology {
        pcfg.topology = t.clone();
    }
    pcfg.speed = super::run_common::parse_speed(&a.speed)?;
    hedge_cfg.check()?;
    Ok((opts, hedge_cfg, pcfg))
}

/// The underlyings replayed: `[options] underlyings`, else every underlying with option tickers.
fn underlyings_of(opts: &OptionsSection, scan: &Scan) -> anyhow::Result<Vec<String>> {
    let mut underlyings: Vec<String> = if opts.underlyings.is_empty() {
        let mut u: Vec<String> = scan
            .facts
            .iter()
            .enumerate()
            .filter_map(|(g, f)| {
                f.as_ref()
                    .filter(|f| f.kind == InstrumentKind::Option && scan.tickers[g] > 0)
                    .map(|f| f.underlying.clone())
            })
            .collect();
        u.sort();
        u
    } else {
        opts.underlyings.clone()
    };
    underlyings.dedup();
    if underlyings.is_empty() {
        bail!("no option tickers in the captures: nothing to replay");
    }
    Ok(underlyings)
}

/// Steps 2–3: each underlying's chain and hedge; derived hedges are registered in
/// `scan.global` (before the kernel is built).
fn plan(
    a: &OptionsReplayArgs,
    opts: &OptionsSection,
    hedge_cfg: &HedgeSection,
    scan: &mut Scan,
    underlyings: &[String],
    book: &BTreeMap<String, i64>,
) -> anyhow::Result<Plans> {
    let captured = captured_hedges(a, underlyings)?;
    let mut plans: Vec<Plan> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for u in underlyings {
        let chain = chain_of(scan, u, book);
        if chain.is_empty() {
            bail!(
                "options.underlyings: `{u}` has no unexpired option with a ticker in the captures"
            );
        }
        let config::OptionsResolved {
            cfg,
            default_lots,
            extras,
        } = opts.resolve_for(u)?;
        let (source, hedge_id) = if let Some(sym) = captured.get(u) {
            let id = scan.global.id(sym).with_context(|| {
                format!("--hedge-symbol {sym}: not seen in the hedge capture(s)")
            })?;
            (
                HedgeSource::Captured {
                    symbol: sym.clone(),
                },
                id,
            )
        } else if a.hedge_from_underlying {
            let fut = match hedge_cfg.symbols.get(u) {
                Some(f) => f.clone(),
                None => default_future(scan, &chain)
                    .with_context(|| format!("{u}: no future to derive a hedge from"))?,
            };
            let id = scan
                .global
                .register(&format!("{fut}@derived"), Market::Deribit, 8, 8);
            (HedgeSource::Derived { future: fut }, id)
        } else {
            skipped.push(u.clone());
            continue;
        };
        plans.push(Plan {
            underlying: u.clone(),
            source,
            hedge_id,
            chain,
            cfg,
            extras,
            default_lots,
        });
    }
    if plans.is_empty() {
        bail!("no underlying has a hedge feed ({skipped:?} skipped)");
    }
    Ok(Plans { plans, skipped })
}

/// Option id → the derived hedge its tickers quote (options of a derived hedge's future).
fn derive_targets(scan: &Scan, plans: &[Plan]) -> anyhow::Result<Vec<Option<InstrumentId>>> {
    let mut derive_to: Vec<Option<InstrumentId>> = vec![None; scan.global.len()];
    for p in plans {
        if let HedgeSource::Derived { future } = &p.source {
            let prefix = format!("{future}-");
            let mut any = false;
            for s in &p.chain {
                if scan.global.instruments()[s.instrument.0 as usize]
                    .symbol
                    .starts_with(&prefix)
                {
                    derive_to[s.instrument.0 as usize] = Some(p.hedge_id);
                    any = true;
                }
            }
            if !any {
                bail!(
                    "{}: no option of future {future} has a ticker: cannot derive its hedge",
                    p.underlying
                );
            }
        }
    }
    Ok(derive_to)
}

/// The kernel: one engine per underlying with its desired book, orders and decisions on a ring
/// to the log writer, which is started here.
fn kernel(
    a: &OptionsReplayArgs,
    scan: &Scan,
    plans: &[Plan],
    hedge_cfg: &HedgeSection,
    book: &BTreeMap<String, i64>,
) -> anyhow::Result<(
    OptionsKernel<RecordRing>,
    std::thread::JoinHandle<anyhow::Result<Written>>,
)> {
    let (ring, rx) = RecordRing::new(1 << 16, true);
    let mut kernel = OptionsKernel::new(&scan.global, ring);
    for p in plans {
        let hedge = HedgeSpec {
            instrument: p.hedge_id,
            contract: hedge_cfg.contract,
            lot_qty: hedge_cfg.lot_qty,
            min_lots: hedge_cfg.min_lots,
        };
        let k = kernel
            .add_underlying_with(p.cfg, hedge, &p.chain, &p.extras)
            .with_context(|| format!("options engine of {}", p.underlying))?;
        let eng = kernel.engine_mut(k).context("engine just added")?;
        for s in &p.chain {
            let name = &scan.global.instruments()[s.instrument.0 as usize].symbol;
            eng.set_desired(
                s.instrument,
                book.get(name).copied().unwrap_or(p.default_lots),
            );
        }
    }
    let log = writer(rx, a.orders_out.clone(), a.decisions_out.clone());
    Ok((kernel, log))
}

/// Step 4: the second pass, through the pipeline as live; waits for the log writer.
fn replay(
    mut pcfg: PipelineConfig,
    specs: &[InputSpec],
    scan: &Scan,
    hedge_cfg: &HedgeSection,
    derive_to: Vec<Option<InstrumentId>>,
    kernel: OptionsKernel<RecordRing>,
    log: std::thread::JoinHandle<anyhow::Result<Written>>,
) -> anyhow::Result<Replayed> {
    pcfg.max_instruments = pcfg.max_instruments.max(scan.global.len());
    let derived = Arc::new(AtomicU64::new(0));
    let feed = ReplayFeed {
        inner: MultiAdapter::new(
            &specs.iter().map(InputSpec::kind).collect::<Vec<_>>(),
            scan.global.clone(),
            scan.locals.clone(),
        ),
        derive: Derive {
            derive_to,
            half_spread: hedge_cfg.derived_half_spread_bps * 1e-4,
            qty_mantissa: (hedge_cfg.derived_qty * 1e8).round() as i64,
            derived: Arc::clone(&derived),
        },
    };
    let source = TaggedSource::new(MergedFrames::open(specs)?, "options-replay inputs");
    let clock = Clock::new();
    let (report, kernel) = run_kernel(&pcfg, source, feed, kernel, PaperAdapter::default(), &clock);
    let engines = kernel.engines().iter().map(engine_end).collect();
    let rejected = kernel.rejected();
    // Dropping the kernel closes the ring: the writer drains it and ends.
    drop(kernel);
    let written = log
        .join()
        .map_err(|_| anyhow::anyhow!("the log writer panicked"))??;
    Ok(Replayed {
        report,
        engines,
        rejected,
        written,
        derived: derived.load(Ordering::Relaxed),
    })
}

/// Runs the options replay.
///
/// # Errors
/// A missing or unreadable capture, a bad flag or configuration value, an underlying without a
/// hedge feed, an unwritable output.
pub fn run(a: OptionsReplayArgs) -> anyhow::Result<()> {
    let (opts, hedge_cfg, pcfg) = settings(&a)?;
    let specs = input_specs(&a)?;
    let started = std::time::Instant::now();

    // 1. First pass: chain facts, ticker counts, registries.
    let (mut scan, first_pass) = scan(&specs)?;
    let book: BTreeMap<String, i64> = opts
        .book
        .iter()
        .map(|e| (e.symbol.clone(), e.lots))
        .collect();
    for sym in book.keys() {
        if scan.global.id(sym).is_none() {
            bail!("options.book: `{sym}` is not an instrument of the captures");
        }
    }
    let underlyings = underlyings_of(&opts, &scan)?;

    // 2–3. Chains and hedges, then the kernel and its log writer.
    let plans = plan(&a, &opts, &hedge_cfg, &mut scan, &underlyings, &book)?;
    let derive_to = derive_targets(&scan, &plans.plans)?;
    let (kernel, log) = kernel(&a, &scan, &plans.plans, &hedge_cfg, &book)?;

    // 4. Second pass: the replay through the pipeline, as live.
    let replayed = replay(pcfg, &specs, &scan, &hedge_cfg, derive_to, kernel, log)?;
    let elapsed = started.elapsed();

    print_summary(
        &specs,
        &scan,
        &first_pass,
        &plans,
        &hedge_cfg,
        &replayed,
        elapsed,
    );
    if let Some(e) = &replayed.report.source_error {
        bail!("replay stopped early: {e}");
    }
    Ok(())
}
