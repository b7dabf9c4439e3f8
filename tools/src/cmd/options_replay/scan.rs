//! The first pass: the chain learned from the captures, and each underlying's hedge.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use feeds::deribit::{DeribitInstrument, InstrumentKind, OptionType};
use feeds::multi::{CaptureFormat, InputSpec, MultiFeed, Venue, VenueFeed};
use feeds::{EventKind, InstrumentId, MarketEvent, Registry};
use options::OptionSpec;

use super::OptionsReplayArgs;

/// What the first pass learned.
pub(super) struct Scan {
    pub(super) global: Registry,
    pub(super) locals: Vec<Registry>,
    /// Chain facts by global id (from `get_instruments`, else the name).
    pub(super) facts: Vec<Option<DeribitInstrument>>,
    /// Option tickers by global id.
    pub(super) tickers: Vec<u32>,
    pub(super) first_ns: Option<u64>,
    pub(super) last_ns: u64,
}

pub(super) fn input_specs(a: &OptionsReplayArgs) -> anyhow::Result<Vec<InputSpec>> {
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
                market: None,
                rest_symbol: None,
            });
        }
    }
    Ok(specs)
}

/// A hedge symbol with a dash (`BTC-PERPETUAL`, `BTC-24SEP21`) is a Deribit instrument.
pub(super) fn hedge_is_deribit(symbols: &[String]) -> bool {
    symbols
        .iter()
        .any(|s| s.rsplit('=').next().is_some_and(|x| x.contains('-')))
}

pub(super) fn scan(specs: &[InputSpec]) -> anyhow::Result<(Scan, MultiFeed)> {
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
pub(super) fn future_of(option: &str) -> Option<&str> {
    let mut it = option.match_indices('-');
    it.next()?;
    let (second, _) = it.next()?;
    Some(&option[..second])
}

/// Chain of `underlying`: unexpired options with a ticker or a book entry, by global id.
pub(super) fn chain_of(
    scan: &Scan,
    underlying: &str,
    book: &BTreeMap<String, i64>,
) -> Vec<OptionSpec> {
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
pub(super) fn default_future(scan: &Scan, chain: &[OptionSpec]) -> Option<String> {
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
pub(super) fn captured_hedges(
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
