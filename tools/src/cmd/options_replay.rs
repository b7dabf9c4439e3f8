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
//! 4. The replay runs the engines in a direct loop on the merged events (one thread, paper fills
//!    after every event); orders and decisions are written in event order, order ids numbered
//!    across engines (1, 2, … over the whole log). The summary names each engine's instruments.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use engine::config::{Config, HedgeSection, OptionsSection};
use engine::options::log::{write_decision, write_order};
use engine::options::synth::PaperSink;
use engine::options::{
    Decision, HedgeSpec, OptionSpec, OptionsEngine, OptionsOrder, OptionsSink, OptionsStats,
};
use feeds::deribit::{read_option_ticker, DeribitInstrument, InstrumentKind, OptionType};
use feeds::multi::{CaptureFormat, InputSpec, MultiFeed, Venue, VenueFeed};
use feeds::{flags, EventKind, InstrumentId, Market, MarketEvent, PxQty, Registry};

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
    /// Topology. Only `single` for now: the options engines run in one direct loop.
    #[arg(long)]
    topology: Option<String>,
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

/// One underlying's engine and its bookkeeping.
struct Book {
    underlying: String,
    source: HedgeSource,
    hedge_symbol: String,
    hedge_id: InstrumentId,
    chain_symbols: usize,
    engine: OptionsEngine,
}

/// Writes orders and decisions as JSON lines into memory (flushed after the run) and counts them.
#[derive(Default)]
struct Log {
    orders: Vec<u8>,
    decisions: Vec<u8>,
    by_reason: BTreeMap<(&'static str, &'static str, bool), u64>,
    n_orders: u64,
    n_decisions: u64,
    io_error: Option<std::io::Error>,
}

impl OptionsSink for Log {
    fn order(&mut self, o: &OptionsOrder) {
        // Each engine numbers its own orders from 1: the log numbers them across engines.
        self.n_orders += 1;
        let o = &OptionsOrder {
            id: self.n_orders,
            ..*o
        };
        *self
            .by_reason
            .entry((o.reason.as_str(), o.binding.as_str(), o.is_hedge))
            .or_default() += 1;
        if let Err(e) = write_order(&mut self.orders, o) {
            self.io_error.get_or_insert(e);
        }
    }

    fn decision(&mut self, d: &Decision) {
        self.n_decisions += 1;
        if let Err(e) = write_decision(&mut self.decisions, d) {
            self.io_error.get_or_insert(e);
        }
    }
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

fn scan(specs: &[InputSpec]) -> anyhow::Result<Scan> {
    let mut multi = MultiFeed::open(specs, Registry::new(), Vec::new())?;
    let mut tickers: Vec<u32> = Vec::new();
    let (mut first_ns, mut last_ns) = (None, 0);
    while let Some(info) = multi.next(&mut |_, _, e: &MarketEvent| {
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
    Ok(Scan {
        global,
        locals,
        facts,
        tickers,
        first_ns,
        last_ns,
    })
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

fn load_config(path: Option<&Path>) -> anyhow::Result<(OptionsSection, HedgeSection)> {
    let Some(p) = path else {
        return Ok((OptionsSection::default(), HedgeSection::default()));
    };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read config {}", p.display()))?;
    let cfg = Config::from_toml(&text).with_context(|| format!("config {}", p.display()))?;
    Ok((
        cfg.options.unwrap_or_default(),
        cfg.hedge.unwrap_or_default(),
    ))
}

/// Runs the options replay.
///
/// # Errors
/// A missing or unreadable capture, a bad flag or configuration value, an underlying without a
/// hedge feed, an unwritable output.
#[allow(clippy::too_many_lines)] // one linear set-up sequence, commented step by step
pub fn run(a: OptionsReplayArgs) -> anyhow::Result<()> {
    if let Some(t) = a.topology.as_deref().filter(|t| *t != "single") {
        bail!("--topology {t}: the options replay runs in one direct loop for now (only `single`)");
    }
    if !a.hedge_from_underlying && a.hedge_capture.is_empty() {
        bail!("no hedge feed: pass --hedge-from-underlying (derived touch) or --hedge-capture F --hedge-symbol SYM");
    }
    let (opts, hedge_cfg) = load_config(a.config.as_deref())?;
    let contract = hedge_cfg.check()?;
    let specs = input_specs(&a)?;
    let started = std::time::Instant::now();

    // 1. First pass: chain facts, ticker counts, registries.
    let mut scan = scan(&specs)?;
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
        u.dedup();
        u
    } else {
        opts.underlyings.clone()
    };
    underlyings.dedup();
    if underlyings.is_empty() {
        bail!("no option tickers in the captures: nothing to replay");
    }
    let captured = captured_hedges(&a, &underlyings)?;

    // 2–3. Chains, hedges, engines.
    let mut books: Vec<Book> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    // Global option id → index of the book whose derived hedge its tickers feed.
    let mut derive_from: Vec<Option<usize>> = Vec::new();
    let mut derived_ids: Vec<(usize, InstrumentId)> = Vec::new();
    for u in &underlyings {
        let chain = chain_of(&scan, u, &book);
        if chain.is_empty() {
            bail!(
                "options.underlyings: `{u}` has no unexpired option with a ticker in the captures"
            );
        }
        let (cfg, default_lots) = opts.resolve_for(u)?;
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
                None => default_future(&scan, &chain)
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
        let hedge = HedgeSpec {
            instrument: hedge_id,
            contract,
            lot_qty: hedge_cfg.lot_qty,
            min_lots: hedge_cfg.min_lots,
        };
        let mut engine = OptionsEngine::new(&scan.global, cfg, hedge, &chain)
            .with_context(|| format!("options engine of {u}"))?;
        for s in &chain {
            let name = &scan.global.instruments()[s.instrument.0 as usize].symbol;
            engine.set_desired(
                s.instrument,
                book.get(name).copied().unwrap_or(default_lots),
            );
        }
        let k = books.len();
        if let HedgeSource::Derived { future } = &source {
            let prefix = format!("{future}-");
            derive_from.resize(scan.global.len(), None);
            for s in &chain {
                if scan.global.instruments()[s.instrument.0 as usize]
                    .symbol
                    .starts_with(&prefix)
                {
                    derive_from[s.instrument.0 as usize] = Some(k);
                }
            }
            if !derive_from.iter().any(|d| *d == Some(k)) {
                bail!("{u}: no option of future {future} has a ticker: cannot derive its hedge");
            }
            derived_ids.push((k, hedge_id));
        }
        books.push(Book {
            underlying: u.clone(),
            hedge_symbol: scan.global.instruments()[hedge_id.0 as usize]
                .symbol
                .clone(),
            hedge_id,
            source,
            chain_symbols: chain.len(),
            engine,
        });
    }
    if books.is_empty() {
        bail!("no underlying has a hedge feed ({skipped:?} skipped)");
    }
    // Global id → book index.
    let mut route: Vec<Option<usize>> = vec![None; scan.global.len()];
    for (k, b) in books.iter().enumerate() {
        for &i in &b.engine.chain().instrument {
            route[i.0 as usize] = Some(k);
        }
    }
    for (k, b) in books.iter().enumerate() {
        if let HedgeSource::Captured { symbol } = &b.source {
            if let Some(id) = scan.global.id(symbol) {
                route[id.0 as usize] = Some(k);
            }
        }
    }
    derive_from.resize(scan.global.len(), None);
    let derived_hedge: Vec<Option<InstrumentId>> = {
        let mut v = vec![None; books.len()];
        for (k, id) in &derived_ids {
            v[*k] = Some(*id);
        }
        v
    };

    // 4. Second pass: the replay.
    let mut multi = MultiFeed::open(&specs, scan.global.clone(), scan.locals.clone())?;
    let max_chain = books.iter().map(|b| b.chain_symbols).max().unwrap_or(0);
    let mut sink = PaperSink::new(Log::default(), max_chain + 1);
    let half = hedge_cfg.derived_half_spread_bps * 1e-4;
    let qty_mantissa = (hedge_cfg.derived_qty * 1e8).round() as i64;
    let (mut frames, mut events, mut derived_touches) = (0u64, 0u64, 0u64);
    while let Some(_info) = multi.next(&mut |_, _, e: &MarketEvent| {
        events += 1;
        let i = e.instrument.0 as usize;
        if e.kind == EventKind::OptionTicker {
            if let Some(k) = derive_from.get(i).copied().flatten() {
                if let (Some(t), Some(h)) = (read_option_ticker(e), derived_hedge[k]) {
                    let px = t.underlying_px;
                    if px.is_finite() && px > 0.0 {
                        let mut b = MarketEvent::new(EventKind::Bbo, h, e.recv_ns);
                        b.exch_ns = e.exch_ns;
                        b.flags = flags::BOOK_VALID | flags::SYNTHETIC;
                        b.bid = PxQty {
                            px: (px * (1.0 - half) * 1e8).round() as i64,
                            qty: qty_mantissa,
                        };
                        b.ask = PxQty {
                            px: (px * (1.0 + half) * 1e8).round() as i64,
                            qty: qty_mantissa,
                        };
                        derived_touches += 1;
                        sink.step(&mut books[k].engine, &b, 0);
                    }
                }
            }
        }
        if let Some(k) = route.get(i).copied().flatten() {
            sink.step(&mut books[k].engine, e, 0);
        }
    })? {
        frames += 1;
    }
    let elapsed = started.elapsed();
    let log = sink.inner;
    if let Some(e) = log.io_error {
        return Err(e).context("writing the JSON-lines log");
    }
    if let Some(p) = &a.orders_out {
        write_file(p, &log.orders)?;
    }
    if let Some(p) = &a.decisions_out {
        write_file(p, &log.decisions)?;
    }

    // Summary.
    println!(
        "ballast options-replay: {} frames, {} events from {} input(s) in {:.2} s (two passes); {:.1} s of market",
        frames,
        events,
        specs.len(),
        elapsed.as_secs_f64(),
        scan.last_ns.saturating_sub(scan.first_ns.unwrap_or(0)) as f64 / 1e9
    );
    for (i, s) in specs.iter().enumerate() {
        let f = multi.frames();
        println!(
            "  input {i} {:<8} {}: {} frames, {} malformed lines, {} rejected frames, {} frames step back in time (kept in file order)",
            format!("{:?}", s.venue),
            s.paths[0].display(),
            f.frames(i),
            f.malformed_count_of(i),
            multi.rejected(i),
            f.steps_back(i)
        );
    }
    for m in multi.frames().malformed().iter().take(5) {
        println!("    skipped {m}");
    }
    println!(
        "  {} orders, {} decisions; {} derived hedge touches",
        log.n_orders, log.n_decisions, derived_touches
    );
    for b in &books {
        let st: OptionsStats = b.engine.stats();
        let src = match &b.source {
            HedgeSource::Derived { future } => format!(
                "DERIVED touch (not a real book): {future} tickers' underlying_price ± {} bps, {} shown each side",
                hedge_cfg.derived_half_spread_bps, hedge_cfg.derived_qty
            ),
            HedgeSource::Captured { symbol } => format!("captured book {symbol}"),
        };
        println!(
            "  {}: {} options; hedge {} (id {}) [{}]",
            b.underlying, b.chain_symbols, b.hedge_symbol, b.hedge_id.0, src
        );
        let ids: Vec<String> = b
            .engine
            .chain()
            .instrument
            .iter()
            .map(|i| format!("{}={}", i.0, scan.global.instruments()[i.0 as usize].symbol))
            .collect();
        println!("    chain ids {}", ids.join(" "));
        println!(
            "    events {} sizing passes {} skipped {} orders {} decisions {} full revaluations {}; hedge position {} lots, last underlying {:.2}",
            st.events,
            st.sizing_passes,
            st.skipped,
            st.orders,
            st.decisions,
            st.full_revaluations,
            b.engine.hedge_position_lots(),
            b.engine.underlying_px()
        );
    }
    if !skipped.is_empty() {
        println!("  skipped (no hedge feed): {}", skipped.join(", "));
    }
    println!("  orders by (reason, binding, instrument):");
    for ((r, bnd, hedge), n) in &log.by_reason {
        println!(
            "    {:<20} {:<20} {:<7} {n}",
            r,
            bnd,
            if *hedge { "hedge" } else { "option" }
        );
    }
    Ok(())
}

fn write_file(p: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f =
        std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.flush())
        .with_context(|| format!("cannot write {}", p.display()))
}
