//! `ballast liquidity --capture TAG=FILE ... [--horizon-s 1,5]`: does the order-flow depth
//! forecast (`risk_core::depth_forecast`) predict the next seconds' depth better than the
//! current book alone?
//!
//! Each capture is replayed through its venue adapter; one [`DepthForecast`] follows the touch
//! (venue tickers, or the rebuilt book's top when the capture has none) and one the first
//! `--levels` levels of the rebuilt L2 book, both fed every trade. Every second the features,
//! the depth and the slow mean of each side are sampled. For each horizon `h` the model is
//! fitted on samples of the first half of the captures (their targets too lie in the first half)
//! and scored on the second half only, against two baselines: persistence (the depth now) and
//! the 10 s time-weighted mean of log depth. Scores: MAE of log depth, and precision / recall
//! of a predicted "void" (depth at t+h below half the depth at t; predicted when the forecast
//! is). Prints a Markdown table, then the fitted coefficients.

use std::fmt::Write as _;

use anyhow::Context;
use clap::{Args, ValueEnum};
use feeds::multi::{InputSpec, MergedFrames, MultiAdapter, VenueFeed};
use feeds::{flags, EventKind, InstrumentId, MarketEvent, Registry, Side};
use risk_core::depth_forecast::{
    DepthFitter, DepthForecast, DepthForecastConfig, DepthModel, DepthTarget, FEATURE_NAMES,
    N_FEATURES,
};
use risk_core::liquidity::{BookTop, TradeSide};

const SAMPLE_NS: u64 = 1_000_000_000;
/// Depth ratio below which the depth at t+h counts as a void.
const VOID_RATIO: f64 = 0.5;
/// Features of the book-only ablation: the constant and the depth's own fast and slow means
/// (no trades, cancellations, imbalance or spread).
const BOOK_ONLY: [bool; N_FEATURES] = [true, true, true, false, false, false, false];
const ALL: [bool; N_FEATURES] = [true; N_FEATURES];

fn masked(x: &[f64; N_FEATURES], mask: &[bool; N_FEATURES]) -> [f64; N_FEATURES] {
    let mut out = *x;
    for (v, keep) in out.iter_mut().zip(mask) {
        if !keep {
            *v = 0.0;
        }
    }
    out
}

/// Fewest evaluation samples per capture and horizon.
const MIN_EVAL: usize = 20;

/// Where the coefficients are fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FitOn {
    /// One fit on the first halves of all captures together.
    Pooled,
    /// One fit per capture, on its own first half.
    PerCapture,
}

/// Arguments of `ballast liquidity`.
#[derive(Debug, Args)]
pub struct LiquidityArgs {
    /// A capture, `TAG=FILE` (tags: binance-spot, binance-usdm, binance-coinm, binance); repeat
    /// for several. Each is replayed and scored on its own.
    #[arg(long = "capture", required = true, value_name = "TAG=FILE", value_parser = InputSpec::parse_tagged)]
    pub captures: Vec<InputSpec>,
    /// Forecast horizons in seconds, comma-separated.
    #[arg(long = "horizon-s", value_delimiter = ',', default_value = "1,5",
          value_parser = clap::value_parser!(u32).range(1..=120))]
    pub horizons_s: Vec<u32>,
    /// Levels per side summed for the book depth target.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub levels: u16,
    /// Where the coefficients are fitted (always on first halves; scored on second halves).
    #[arg(long, value_enum, default_value = "pooled")]
    pub fit: FitOn,
    /// Ridge penalty of the fit, relative to the sample count.
    #[arg(long, default_value_t = 1e-3)]
    pub ridge: f64,
}

/// The two depth targets, in table order.
const TARGETS: [(DepthTarget, &str); 2] =
    [(DepthTarget::Touch, "touch"), (DepthTarget::Book, "top")];
const SIDES: [TradeSide; 2] = [TradeSide::Buy, TradeSide::Sell];

/// One 1-second sample: per target, per side (the side a buy / a sell consumes).
#[derive(Debug, Clone, Copy)]
struct Sample {
    depth: [[f64; 2]; 2],
    slow_mean: [[f64; 2]; 2],
    x: [[[f64; N_FEATURES]; 2]; 2],
}

/// A replayed capture.
#[derive(Debug)]
struct Replayed {
    name: String,
    samples: Vec<Sample>,
}

/// Replays one capture and samples both forecasts every second.
fn replay(spec: &InputSpec, levels: usize) -> anyhow::Result<Replayed> {
    let name = spec
        .paths
        .first()
        .and_then(|p| p.file_name())
        .map(|n| {
            let n = n.to_string_lossy();
            n.strip_suffix(".gz").unwrap_or(&n).to_owned()
        })
        .unwrap_or_default();
    let mut frames = MergedFrames::open(std::slice::from_ref(spec))
        .with_context(|| format!("open capture {}", display(spec)))?;
    let mut adapter = MultiAdapter::new(&[spec.kind()], Registry::new(), Vec::new());
    let mut fc = TARGETS.map(|(target, _)| {
        DepthForecast::new(DepthForecastConfig {
            target,
            model: DepthModel::PERSISTENCE,
            ..DepthForecastConfig::default()
        })
    });
    let mut events: Vec<MarketEvent> = Vec::with_capacity(256);
    let mut inst: Option<InstrumentId> = None;
    let mut seen_ticker = false;
    let mut next_ns: Option<u64> = None;
    let mut samples = Vec::new();
    while let Some((input, recv_ns, frame)) = frames
        .next_frame()
        .with_context(|| format!("read capture {}", display(spec)))?
    {
        // Sample the state every whole second, before the frame that crosses it.
        if let Some(t) = next_ns.as_mut() {
            while recv_ns >= *t {
                let mut s = Sample {
                    depth: [[0.0; 2]; 2],
                    slow_mean: [[0.0; 2]; 2],
                    x: [[[0.0; N_FEATURES]; 2]; 2],
                };
                for (k, f) in fc.iter_mut().enumerate() {
                    f.advance_to(*t);
                    for (j, side) in SIDES.into_iter().enumerate() {
                        s.depth[k][j] = f.depth(side);
                        s.slow_mean[k][j] = f.slow_mean_depth(side);
                        s.x[k][j] = f.features(side).unwrap_or([0.0; N_FEATURES]);
                    }
                }
                samples.push(s);
                *t += SAMPLE_NS;
            }
        }
        events.clear();
        adapter.on_input_frame(input, recv_ns, frame, &mut |e| events.push(*e));
        let mut book_bbo = false;
        for e in &events {
            let id = *inst.get_or_insert(e.instrument);
            if e.instrument != id {
                continue;
            }
            let Some(meta) = adapter.registry().get(id) else {
                continue;
            };
            match e.kind {
                EventKind::Bbo if e.book_valid() => {
                    let from_book = e.flags & flags::FROM_BOOK != 0;
                    seen_ticker |= !from_book;
                    book_bbo |= from_book;
                    if !from_book || !seen_ticker {
                        fc[0].on_bbo(
                            e.recv_ns,
                            meta.px_f64(e.bid.px),
                            meta.qty_f64(e.bid.qty),
                            meta.px_f64(e.ask.px),
                            meta.qty_f64(e.ask.qty),
                        );
                    }
                }
                EventKind::Trade => {
                    let aggressor = match e.side {
                        Side::Buy => TradeSide::Buy,
                        Side::Sell => TradeSide::Sell,
                        Side::None => continue,
                    };
                    for f in &mut fc {
                        f.on_trade(
                            e.recv_ns,
                            meta.px_f64(e.bid.px),
                            meta.qty_f64(e.bid.qty),
                            aggressor,
                        );
                    }
                }
                _ => {}
            }
        }
        if book_bbo {
            if let Some(top) = inst.and_then(|id| book_top(&adapter, id, levels)) {
                fc[1].on_book(recv_ns, top);
            }
        }
        if next_ns.is_none() && fc.iter().all(DepthForecast::is_ready) {
            next_ns = Some((recv_ns / SAMPLE_NS + 1) * SAMPLE_NS);
        }
    }
    anyhow::ensure!(
        !samples.is_empty(),
        "capture {}: no valid book and ticker were seen",
        display(spec)
    );
    Ok(Replayed { name, samples })
}

fn display(spec: &InputSpec) -> String {
    spec.paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The rebuilt book's top and the quantity of its first `levels` levels per side.
fn book_top(adapter: &MultiAdapter, global: InstrumentId, levels: usize) -> Option<BookTop> {
    let meta = adapter.registry().get(global)?;
    let Some(VenueFeed::Binance(feed)) = adapter.feed(0) else {
        return None;
    };
    let local = feed.registry().id_in(meta.market, &meta.symbol)?;
    let book = feed.book(local)?;
    if !book.is_valid() {
        return None;
    }
    let (bb, ba) = (book.best_bid()?, book.best_ask()?);
    let sum = |it: &mut dyn Iterator<Item = feeds::PxQty>| -> f64 {
        it.take(levels).map(|l| meta.qty_f64(l.qty)).sum()
    };
    Some(BookTop {
        bid_px: meta.px_f64(bb.px),
        bid_qty: meta.qty_f64(bb.qty),
        ask_px: meta.px_f64(ba.px),
        ask_qty: meta.qty_f64(ba.qty),
        bid_depth: sum(&mut book.bids()),
        ask_depth: sum(&mut book.asks()),
    })
}

/// Log ratio of depths (`None` unless both are positive and finite).
fn log_ratio(to: f64, from: f64) -> Option<f64> {
    let r = (to / from).ln();
    (to > 0.0 && from > 0.0 && r.is_finite()).then_some(r)
}

/// Adds the first-half samples of `r` (their targets also in the first half) for target `k`.
fn fit_samples(fit: &mut DepthFitter, r: &Replayed, k: usize, h: usize, mask: &[bool; N_FEATURES]) {
    let half = r.samples.len() / 2;
    for i in 0..half.saturating_sub(h) {
        let (now, later) = (&r.samples[i], &r.samples[i + h]);
        for j in 0..2 {
            if let Some(y) = log_ratio(later.depth[k][j], now.depth[k][j]) {
                fit.add(&masked(&now.x[k][j], mask), y);
            }
        }
    }
}

/// Precision / recall counters of the void prediction.
#[derive(Debug, Default, Clone, Copy)]
struct Hits {
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Hits {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    fn cell(&self) -> String {
        let pct = |a: u64, b: u64| {
            if b == 0 {
                "-".to_owned()
            } else {
                format!("{:.0}", 100.0 * a as f64 / b as f64)
            }
        };
        format!(
            "{}/{}",
            pct(self.tp, self.tp + self.fp),
            pct(self.tp, self.tp + self.fn_)
        )
    }
}

/// Scores of one capture, target and horizon on the second half.
#[derive(Debug, Default)]
struct Score {
    n: u64,
    voids: u64,
    abs_err: [f64; 4],
    hits_mean: Hits,
    hits_model: Hits,
    shrunk: u64,
    mult_sum: f64,
}

/// Scores the model `models.0` (all features, multiplier as [`DepthForecast::multiplier`]) and
/// the book-only ablation `models.1` on the second half of `r`.
fn score(r: &Replayed, k: usize, h: usize, models: (&DepthModel, &DepthModel)) -> Score {
    let cfg = DepthForecastConfig::default();
    let mut s = Score::default();
    let half = r.samples.len() / 2;
    let void = VOID_RATIO.ln();
    for i in half..r.samples.len().saturating_sub(h) {
        let (now, later) = (&r.samples[i], &r.samples[i + h]);
        for j in 0..2 {
            let (d0, d1) = (now.depth[k][j], later.depth[k][j]);
            let (Some(y), Some(mean)) = (log_ratio(d1, d0), log_ratio(now.slow_mean[k][j], d0))
            else {
                continue;
            };
            let pred = models.0.log_ratio(&now.x[k][j]);
            let pred_book = models.1.log_ratio(&masked(&now.x[k][j], &BOOK_ONLY));
            s.n += 1;
            let actual = y < void;
            s.voids += u64::from(actual);
            s.abs_err[0] += y.abs();
            s.abs_err[1] += (y - mean).abs();
            s.abs_err[2] += (y - pred_book).abs();
            s.abs_err[3] += (y - pred).abs();
            s.hits_mean.add(mean < void, actual);
            s.hits_model.add(pred < void, actual);
            let m = risk_core::depth_forecast::multiplier_of(pred, cfg.trigger, cfg.floor);
            s.shrunk += u64::from(m < 1.0);
            s.mult_sum += m;
        }
    }
    s
}

/// Run `ballast liquidity`.
///
/// # Errors
/// A capture that cannot be opened or read (named), one without a valid book, one too short for
/// the horizons, or a fit with singular equations.
pub fn run(args: LiquidityArgs) -> anyhow::Result<()> {
    let levels = usize::from(args.levels);
    let mut replays = Vec::with_capacity(args.captures.len());
    for spec in &args.captures {
        let r = replay(spec, levels)?;
        eprintln!("{}: {} one-second samples", r.name, r.samples.len());
        replays.push(r);
    }
    let mut horizons: Vec<usize> = args.horizons_s.iter().map(|&h| h as usize).collect();
    horizons.sort_unstable();
    horizons.dedup();
    for r in &replays {
        let need = 2 * (horizons.last().copied().unwrap_or(1) + MIN_EVAL);
        anyhow::ensure!(
            r.samples.len() >= need,
            "capture {}: {} one-second samples, need at least {need} for these horizons",
            r.name,
            r.samples.len()
        );
    }
    // Fits: per (target, horizon), pooled or per capture.
    let fit_one = |rs: &[&Replayed],
                   k: usize,
                   h: usize,
                   mask: &[bool; N_FEATURES]|
     -> anyhow::Result<DepthModel> {
        let mut fit = DepthFitter::default();
        for r in rs {
            fit_samples(&mut fit, r, k, h, mask);
        }
        fit.solve(h as u64 * SAMPLE_NS, args.ridge)
            .with_context(|| {
                format!(
                    "fit of the {} depth at {h} s on {}",
                    TARGETS[k].1,
                    rs.iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    };
    let mut out = String::new();
    let top = format!("top{levels}");
    let _ = writeln!(
        out,
        "| capture | depth | h s | n | voids % | MAE persist | MAE mean10s | MAE book-only | MAE model | model/persist | void P/R mean % | void P/R model % | shrunk % | mean mult |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut coef_rows = Vec::new();
    let all: Vec<&Replayed> = replays.iter().collect();
    for (k, (_, label)) in TARGETS.iter().enumerate() {
        let label = if k == 1 { top.as_str() } else { label };
        for &h in &horizons {
            let pooled = if args.fit == FitOn::Pooled {
                let m = fit_one(&all, k, h, &ALL)?;
                let b = fit_one(&all, k, h, &BOOK_ONLY)?;
                coef_rows.push(("pooled".to_owned(), label.to_owned(), h, m));
                Some((m, b))
            } else {
                None
            };
            for r in &replays {
                let (model, book_only) = match pooled {
                    Some(m) => m,
                    None => {
                        let m = fit_one(&[r], k, h, &ALL)?;
                        let b = fit_one(&[r], k, h, &BOOK_ONLY)?;
                        coef_rows.push((r.name.clone(), label.to_owned(), h, m));
                        (m, b)
                    }
                };
                let s = score(r, k, h, (&model, &book_only));
                let n = s.n.max(1) as f64;
                let [p, m, b, f] = s.abs_err.map(|e| e / n);
                let _ = writeln!(
                    out,
                    "| {} | {label} | {h} | {} | {:.1} | {p:.3} | {m:.3} | {b:.3} | {f:.3} | {:.3} | {} | {} | {:.0} | {:.3} |",
                    r.name,
                    s.n,
                    100.0 * s.voids as f64 / n,
                    if p > 0.0 { f / p } else { f64::NAN },
                    s.hits_mean.cell(),
                    s.hits_model.cell(),
                    100.0 * s.shrunk as f64 / n,
                    s.mult_sum / n,
                );
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| fitted on | depth | h s | {} |",
        FEATURE_NAMES.join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(N_FEATURES));
    for (on, label, h, m) in &coef_rows {
        let cells: Vec<String> = m.coef.iter().map(|c| format!("{c:.4}")).collect();
        let _ = writeln!(out, "| {on} | {label} | {h} | {} |", cells.join(" | "));
    }
    print!("{out}");
    Ok(())
}
