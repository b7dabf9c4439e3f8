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
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use config::{Config, HedgeSection, OptionsSection};
use engine::clock::Clock;
use engine::kernel::PaperAdapter;
use engine::pipeline::{run_kernel, PipelineConfig, RunReport};
use engine::source::{FrameSource, SourceError};
use engine::topology::Topology;
use feeds::binance::FeedStats;
use feeds::deribit::{read_option_ticker, DeribitInstrument, InstrumentKind, OptionType};
use feeds::multi::{
    tag_frame, CaptureFormat, InputSpec, MergedFrames, MultiAdapter, MultiFeed, Venue, VenueFeed,
};
use feeds::{flags, EventKind, FeedAdapter, InstrumentId, Market, MarketEvent, PxQty, Registry};
use options::kernel::{OptionsKernel, Record, RecordRing};
use options::{HedgeSpec, OptionSpec, OptionsEngine, OptionsStats};

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

/// Where an underlying's hedge touch comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HedgeSource {
    /// Derived from the tickers of these options (ids), for the future `future`.
    Derived { future: String },
    /// A captured book of this symbol.
    Captured { symbol: String },
}

/// What the first pass learned.
struct Scan {
    global: Registry,
    locals: Vec<Registry>,
    /// Chain facts by global id (from `get_instruments`, else the name).
    facts: Vec<Option<DeribitInstrument>>,
    /// Option tickers by global id.
    tickers: Vec<u32>,
    first_ns: Option<u64>,
    last_ns: u64,
}

fn input_specs(a: &OptionsReplayArgs) -> anyhow::Result<Vec<InputSpec>> {
    let mut specs = Vec::new();
    for (paths, venue) in [
        (&a.captures, Venue::Deribit),
        (&a.hedge_capture, Venue::Binance),
    ] {
        for p in paths {
            std::fs::metadata(p).with_context(|| format!("cannot read capture {}", p.display()))?;
            let venue = if venue == Venue::Binance && hedge_is_deribit(&a.hedge_symbol) {
                Venue::Deribit
            } else {
                venue
            };
            specs.push(InputSpec {
                paths: vec![p.clone()],
                format: CaptureFormat::detect(p),
                venue,
                rest_symbol: None,
            });
        }
    }
    Ok(specs)
}

/// A hedge symbol with a dash (`BTC-PERPETUAL`, `BTC-24SEP21`) is a Deribit instrument.
fn hedge_is_deribit(symbols: &[String]) -> bool {
    symbols
        .iter()
        .any(|s| s.rsplit('=').next().is_some_and(|x| x.contains('-')))
}

fn scan(specs: &[InputSpec]) -> anyhow::Result<(Scan, MultiFeed)> {
    let mut multi = MultiFeed::open(specs, Registry::new(), Vec::new())?;
    let mut tickers: Vec<u32> = Vec::new();
    let (mut first_ns, mut last_ns) = (None, 0);
    while let Some(info) = multi.next(&mut |_, e: &MarketEvent| {
        if e.kind == EventKind::OptionTicker {
            let i = e.instrument.0 as usize;
            if tickers.len() <= i {
                tickers.resize(i + 1, 0);
            }
            tickers[i] += 1;
        }
    })? {
        first_ns.get_or_insert(info.recv_ns);
        last_ns = last_ns.max(info.recv_ns);
    }
    let global = multi.registry().clone();
    let mut facts: Vec<Option<DeribitInstrument>> = vec![None; global.len()];
    let mut locals = Vec::with_capacity(specs.len());
    for i in 0..specs.len() {
        let Some(feed) = multi.feed(i) else { continue };
        locals.push(feed.registry().clone());
        if let VenueFeed::Deribit(d) = feed {
            for inst in d.registry().instruments() {
                let Some(g) = global.id(&inst.symbol) else {
                    continue;
                };
                let slot = &mut facts[g.0 as usize];
                // get_instruments facts win over facts read from a name.
                if let Some(f) = d.instrument(inst.id) {
                    if slot.as_ref().is_none_or(|s| !s.from_venue && f.from_venue) {
                        *slot = Some(f.clone());
                    }
                }
            }
        }
    }
    tickers.resize(global.len(), 0);
    Ok((
        Scan {
            global,
            locals,
            facts,
            tickers,
            first_ns,
            last_ns,
        },
        multi,
    ))
}

/// `BTC-24SEP21-8000-P` → `BTC-24SEP21`.
fn future_of(option: &str) -> Option<&str> {
    let mut it = option.match_indices('-');
    it.next()?;
    let (second, _) = it.next()?;
    Some(&option[..second])
}

/// Chain of `underlying`: unexpired options with a ticker or a book entry, by global id.
fn chain_of(scan: &Scan, underlying: &str, book: &BTreeMap<String, i64>) -> Vec<OptionSpec> {
    let now = scan.first_ns.unwrap_or(0);
    let mut out = Vec::new();
    for (g, f) in scan.facts.iter().enumerate() {
        let Some(f) = f else { continue };
        let listed = book.contains_key(&f.name);
        if f.kind != InstrumentKind::Option
            || f.underlying != underlying
            || f.expiry_ns <= now
            || !(scan.tickers[g] > 0 || listed)
        {
            continue;
        }
        let lot_mantissa = if f.min_trade_amount > 0 {
            f.min_trade_amount
        } else {
            f.contract_size
        };
        let lot_qty = lot_mantissa as f64 / 1e8;
        if !(lot_qty > 0.0) || f.strike <= 0 {
            continue;
        }
        out.push(OptionSpec {
            instrument: InstrumentId(g as u32),
            strike: f.strike_f64(),
            expiry_ns: f.expiry_ns,
            is_call: f.option_type == Some(OptionType::Call),
            lot_qty,
            min_lots: 1,
        });
    }
    out
}

/// The default derived hedge of a chain: the future of the expiry with the most tickers (ties:
/// the earlier expiry, then the name).
fn default_future(scan: &Scan, chain: &[OptionSpec]) -> Option<String> {
    let mut per: BTreeMap<(u64, String), u64> = BTreeMap::new();
    for s in chain {
        let name = &scan.global.instruments()[s.instrument.0 as usize].symbol;
        if let Some(fut) = future_of(name) {
            *per.entry((s.expiry_ns, fut.to_owned())).or_default() +=
                u64::from(scan.tickers[s.instrument.0 as usize]);
        }
    }
    let best = per.values().copied().max()?;
    per.into_iter()
        .find(|(_, n)| *n == best)
        .map(|((_, f), _)| f)
}

/// `--hedge-symbol` values as underlying → symbol.
fn captured_hedges(
    a: &OptionsReplayArgs,
    underlyings: &[String],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if !a.hedge_symbol.is_empty() && a.hedge_capture.is_empty() {
        bail!("--hedge-symbol needs --hedge-capture");
    }
    if !a.hedge_capture.is_empty() && a.hedge_symbol.is_empty() {
        bail!("--hedge-capture needs --hedge-symbol [UNDERLYING=]SYMBOL");
    }
    for v in &a.hedge_symbol {
        let (u, sym) = match v.split_once('=') {
            Some((u, s)) => (u.to_owned(), s.to_owned()),
            None => {
                let u = underlyings
                    .iter()
                    .filter(|u| v.starts_with(u.as_str()))
                    .max_by_key(|u| u.len())
                    .with_context(|| {
                        format!("--hedge-symbol {v}: no underlying among {underlyings:?} is a prefix; write UNDERLYING={v}")
                    })?;
                (u.clone(), v.clone())
            }
        };
        if sym.is_empty() {
            bail!("--hedge-symbol {v}: empty symbol");
        }
        out.insert(u, sym);
    }
    Ok(out)
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
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read config {}", p.display()))?;
    let cfg = Config::from_toml(&text).with_context(|| format!("config {}", p.display()))?;
    let pipeline = cfg
        .resolve()
        .with_context(|| format!("config {}", p.display()))?
        .pipeline;
    Ok((
        cfg.options.unwrap_or_default(),
        cfg.hedge.unwrap_or_default(),
        pipeline,
    ))
}

/// The merged inputs as one pipeline frame source: each frame tagged with its input
/// ([`feeds::multi::tag_frame`]) for [`ReplayFeed`].
struct TaggedSource {
    frames: MergedFrames,
    buf: Vec<u8>,
}

impl FrameSource for TaggedSource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        let err = |message: String| SourceError {
            path: PathBuf::from("options-replay inputs"),
            message,
        };
        let Some((input, ns, frame)) = self
            .frames
            .next_frame()
            .map_err(|e| err(format!("{e:#}")))?
        else {
            return Ok(None);
        };
        tag_frame(&mut self.buf, input, frame)
            .ok_or_else(|| err(format!("input {input}: at most 256 inputs")))?;
        Ok(Some((ns, &self.buf)))
    }

    fn malformed(&self) -> u64 {
        self.frames.malformed_count()
    }
}

/// The derived hedge touch of `--hedge-from-underlying`: before each ticker of an option whose
/// future is an underlying's derived hedge, a `Bbo` of `<future>@derived` at the ticker's
/// `underlying_price` ± the half-spread with the configured size each side, flagged `SYNTHETIC`.
struct Derive {
    /// Option id → the derived hedge its tickers quote.
    derive_to: Vec<Option<InstrumentId>>,
    half_spread: f64,
    qty_mantissa: i64,
    /// Derived touches emitted (read after the run).
    derived: Arc<AtomicU64>,
}

impl Derive {
    fn bbo(&self, e: &MarketEvent) -> Option<MarketEvent> {
        let h = self
            .derive_to
            .get(e.instrument.0 as usize)
            .copied()
            .flatten()?;
        let px = read_option_ticker(e)?.underlying_px;
        let (bid, ask) = (
            px * (1.0 - self.half_spread) * 1e8,
            px * (1.0 + self.half_spread) * 1e8,
        );
        if !(bid >= 1.0 && ask < 9.0e18) {
            return None;
        }
        let mut b = MarketEvent::new(EventKind::Bbo, h, e.recv_ns);
        b.exch_ns = e.exch_ns;
        b.flags = flags::BOOK_VALID | flags::SYNTHETIC;
        b.bid = PxQty {
            px: bid.round() as i64,
            qty: self.qty_mantissa,
        };
        b.ask = PxQty {
            px: ask.round() as i64,
            qty: self.qty_mantissa,
        };
        Some(b)
    }
}

/// The feed stage: every input's adapter ([`MultiAdapter`]) and the derived hedge touches.
struct ReplayFeed {
    inner: MultiAdapter,
    derive: Derive,
}

impl FeedAdapter for ReplayFeed {
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        let Some((&tag, raw)) = frame.split_first() else {
            return false;
        };
        let derive = &self.derive;
        self.inner
            .on_input_frame(usize::from(tag), recv_ns, raw, &mut |e| {
                if e.kind == EventKind::OptionTicker {
                    if let Some(b) = derive.bbo(e) {
                        // Relaxed: a counter, read only after the feed thread is joined (the
                        // join orders it).
                        derive.derived.fetch_add(1, Ordering::Relaxed);
                        sink(b);
                    }
                }
                sink(*e);
            })
    }

    fn stats(&self) -> FeedStats {
        self.inner.stats()
    }
}

/// Writes orders and decisions from the kernel's record ring into their files (a thread of its
/// own: the kernel waits for room, so nothing is lost) and counts orders by reason.
#[derive(Default)]
struct Written {
    orders: u64,
    decisions: u64,
    by_reason: BTreeMap<(&'static str, &'static str, bool), u64>,
}

fn writer(
    mut rx: rtrb::Consumer<Record>,
    orders_out: Option<PathBuf>,
    decisions_out: Option<PathBuf>,
) -> std::thread::JoinHandle<anyhow::Result<Written>> {
    std::thread::spawn(move || {
        let open = |p: &Option<PathBuf>| -> anyhow::Result<Option<BufWriter<File>>> {
            p.as_ref()
                .map(|p| {
                    File::create(p)
                        .map(BufWriter::new)
                        .with_context(|| format!("cannot create {}", p.display()))
                })
                .transpose()
        };
        let (mut ow, mut dw) = (open(&orders_out)?, open(&decisions_out)?);
        let mut w = Written::default();
        loop {
            let Ok(r) = rx.pop() else {
                if rx.is_abandoned() && rx.is_empty() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_micros(50));
                continue;
            };
            let out = match &r {
                Record::Order(o) => {
                    w.orders += 1;
                    *w.by_reason
                        .entry((o.reason.as_str(), o.binding.as_str(), o.is_hedge))
                        .or_default() += 1;
                    ow.as_mut()
                }
                Record::Decision(_) => {
                    w.decisions += 1;
                    dw.as_mut()
                }
            };
            if let Some(f) = out {
                r.write_jsonl(f).context("writing the JSON-lines log")?;
            }
        }
        for (f, p) in [(ow, &orders_out), (dw, &decisions_out)] {
            if let (Some(mut f), Some(p)) = (f, p) {
                f.flush()
                    .with_context(|| format!("cannot write {}", p.display()))?;
            }
        }
        Ok(w)
    })
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

/// An engine at the end of the replay, for the summary.
struct EngineEnd {
    stats: OptionsStats,
    hedge_lots: i64,
    underlying_px: f64,
    /// The `vol at the end: ...` line.
    vol: String,
    chain: Vec<InstrumentId>,
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
            &specs.iter().map(|s| s.venue).collect::<Vec<_>>(),
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
    let source = TaggedSource {
        frames: MergedFrames::open(specs)?,
        buf: Vec::with_capacity(1 << 16),
    };
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

/// An engine's end state: counters, hedge position, last underlying price, volatilities, chain.
fn engine_end(e: &OptionsEngine) -> EngineEnd {
    let now = e.last_event_ns();
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
    let surf =
        e.surface().map_or("off".to_string(), |s| {
            let st = s.stats();
            format!(
            "{} refits ({} SVI, {} flat fallbacks, {} butterfly / {} calendar flags, {} deferred)",
            st.refits, st.svi_fits, st.fallbacks, st.butterfly_flags, st.calendar_flags, st.deferred
        )
        });
    EngineEnd {
        stats: e.stats(),
        hedge_lots: e.hedge_position_lots(),
        underlying_px: e.underlying_px(),
        vol: format!(
            "vol at the end: EWMA {}, GARCH {}, implied {}; surface {surf}",
            pct(e.vol_forecast()),
            pct(e.vol_garch()),
            pct(e.implied_vol_for_buffer(now)),
        ),
        chain: e.chain().instrument.clone(),
    }
}

/// Prints the summary: inputs, orders and decisions, each engine, orders by reason, latency.
fn print_summary(
    specs: &[InputSpec],
    scan: &Scan,
    first_pass: &MultiFeed,
    plans: &Plans,
    hedge_cfg: &HedgeSection,
    r: &Replayed,
    elapsed: std::time::Duration,
) {
    let report = &r.report;
    println!(
        "ballast options-replay: {} frames, {} events from {} input(s) through the pipeline ({}) in {:.2} s (two passes); {:.1} s of market",
        report.feed.frames,
        report.feed.events,
        specs.len(),
        report.topology,
        elapsed.as_secs_f64(),
        scan.last_ns.saturating_sub(scan.first_ns.unwrap_or(0)) as f64 / 1e9
    );
    for (i, s) in specs.iter().enumerate() {
        let f = first_pass.frames();
        println!(
            "  input {i} {:<8} {}: {} frames, {} malformed lines, {} rejected frames, {} frames step back in time (kept in file order)",
            format!("{:?}", s.venue),
            s.paths[0].display(),
            f.frames(i),
            f.malformed_count_of(i),
            first_pass.rejected(i),
            f.steps_back(i)
        );
    }
    for m in first_pass.frames().malformed().iter().take(5) {
        println!("    skipped {m}");
    }
    println!(
        "  {} orders ({} fills), {} decisions; {} derived hedge touches; {} orders not expressible (cancelled)",
        r.written.orders,
        report.fills.iter().filter(|f| f.qty > 0).count(),
        r.written.decisions,
        r.derived,
        r.rejected
    );
    for (p, e) in plans.plans.iter().zip(&r.engines) {
        let src = match &p.source {
            HedgeSource::Derived { future } => format!(
                "DERIVED touch (not a real book): {future} tickers' underlying_price ± {} bps, {} shown each side",
                hedge_cfg.derived_half_spread_bps, hedge_cfg.derived_qty
            ),
            HedgeSource::Captured { symbol } => format!("captured book {symbol}"),
        };
        println!(
            "  {}: {} options; hedge {} (id {}) [{}]",
            p.underlying,
            p.chain.len(),
            scan.global.instruments()[p.hedge_id.0 as usize].symbol,
            p.hedge_id.0,
            src
        );
        let ids: Vec<String> = e
            .chain
            .iter()
            .map(|i| format!("{}={}", i.0, scan.global.instruments()[i.0 as usize].symbol))
            .collect();
        println!("    chain ids {}", ids.join(" "));
        println!("    {}", e.vol);
        let st = e.stats;
        println!(
            "    events {} sizing passes {} skipped {} orders {} decisions {} full revaluations {}; hedge position {} lots, last underlying {:.2}",
            st.events,
            st.sizing_passes,
            st.skipped,
            st.orders,
            st.decisions,
            st.full_revaluations,
            e.hedge_lots,
            e.underlying_px
        );
    }
    if !plans.skipped.is_empty() {
        println!("  skipped (no hedge feed): {}", plans.skipped.join(", "));
    }
    println!("  orders by (reason, binding, instrument):");
    for ((r, bnd, hedge), n) in &r.written.by_reason {
        println!(
            "    {:<20} {:<20} {:<7} {n}",
            r,
            bnd,
            if *hedge { "hedge" } else { "option" }
        );
    }
    println!();
    print!("{}", engine::latency::table(&report.latency));
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
