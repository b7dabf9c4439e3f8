//! `ballast demo --options`: the options engine on the built-in synthetic Deribit market
//! ([`options::synthetic`]: BTC and ETH, each an inverse perpetual to hedge with and a chain of
//! calls and puts with a volatility smile, raw `ticker.*`/`book.*` frames, a volatility shock
//! half-way that makes the engines cut exposure before the liquidation buffer is reached).
//!
//! Two runs over the same frames, paper fills in both:
//! 1. a direct loop (Deribit feed → [`OptionsKernel`] → paper fill, one thread) that samples each
//!    underlying's portfolio Greeks after every hedge tick and times the kernel per event;
//! 2. the pipeline ([`engine::pipeline::run_kernel`], as live and `options-replay`), for
//!    tick-to-order latency; its orders must equal the direct loop's.
//!
//! Each engine carries an SVI implied-volatility surface (its ATM term structure is the implied
//! source of the blended buffer volatility) and a GARCH(1,1) forecast whose long-run level is the
//! market's own calm volatility ([`garch_params`]).
//!
//! Prints orders by reason and by binding constraint, Greeks over time as percentiles, margin and
//! liquidation-buffer use, the shock's effect on the GARCH forecast and the book, the surfaces'
//! fits, and both latencies.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{ensure, Context};
use engine::clock::Clock;
use engine::kernel::PaperAdapter;
use engine::order::Order;
use engine::pipeline::{run_kernel, KernelLogic, PipelineConfig, RunReport, Speed};
use engine::source::MemorySource;
use engine::topology::Topology;
use feeds::{EventKind, FeedAdapter, MarketEvent};
use hdrhistogram::Histogram;
use options::kernel::{OptionsKernel, Record, RecordBuffer};
use options::synthetic::{
    default_config, MarketUnderlying, OptionsMarket, OptionsMarketSpec, START_NS,
};
use options::{EngineExtras, OptionsEngine, SurfaceConfig};
use risk_core::margin::MarginTiers;
use risk_core::vol::Garch11Params;

/// Every `DESIRED_EVERY`-th option of each chain is in the desired book with `DESIRED_LOTS`.
const DESIRED_EVERY: usize = 3;
const DESIRED_LOTS: i64 = 20;

/// p1 / p50 / p99 of `v` (sorted in place).
fn pct(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    (at(0.01), at(0.5), at(0.99))
}

/// Delta of `lots` of an inverse perpetual of `lot_usd` at `px`, coins.
fn hedge_delta(lots: i64, lot_usd: f64, px: f64) -> f64 {
    lots as f64 * lot_usd / px
}

/// Portfolio Greeks from filled positions (options + hedge).
fn portfolio(eng: &OptionsEngine, lot_usd: f64) -> (f64, f64, f64) {
    let c = eng.chain();
    let (mut d, mut g, mut v) = (0.0, 0.0, 0.0);
    for i in 0..c.len() {
        if !c.status[i].is_ok() || c.position_lots[i] == 0 {
            continue;
        }
        let q = c.position_qty(i);
        d += q * c.delta[i];
        g += q * c.gamma[i];
        v += q * c.vega[i] * 0.01;
    }
    let px = eng.underlying_px();
    if px > 0.0 {
        d += hedge_delta(eng.hedge_position_lots(), lot_usd, px);
    }
    (d, g, v)
}

/// GARCH(1,1) of the demo: α = 0.08, β = 0.90, ω set so the long-run variance per sample is the
/// calm market's (a tick multiplies the spot by `1 + step·(u − ½)`, u uniform: variance
/// `step²/12` per tick, summed over the ticks of one sampling interval).
fn garch_params(
    spec: &OptionsMarketSpec,
    sample_interval_ns: u64,
) -> anyhow::Result<Garch11Params> {
    let (alpha, beta) = (0.08, 0.90);
    let ticks_per_sample = sample_interval_ns as f64 / spec.tick_ns.max(1) as f64;
    let var = spec.step * spec.step / 12.0 * ticks_per_sample;
    Garch11Params::new(var * (1.0 - alpha - beta), alpha, beta)
        .map_err(|e| anyhow::anyhow!("demo GARCH parameters: {e}"))
}

/// Per-underlying samples and peaks of the direct run.
#[derive(Default)]
struct Track {
    delta: Vec<f64>,
    gamma: Vec<f64>,
    vega: Vec<f64>,
    mm_peak: f64,
    lev_peak: f64,
    /// GARCH next-sample volatility (annualized) at the last hedge tick before the shock.
    garch_pre_shock: f64,
    /// Highest GARCH next-sample volatility after the shock.
    garch_peak: f64,
    /// GARCH forecast averaged over the buffer horizon (what the buffer uses): before the
    /// shock and its peak after.
    garch_h_pre_shock: f64,
    garch_h_peak: f64,
    /// Implied volatility of the buffer (surface ATM) before the shock and at its peak after.
    implied_pre_shock: f64,
    implied_peak: f64,
}

/// Orders without clock readings (to compare runs).
fn plain(o: &Order) -> Order {
    Order {
        t_ingest: 0,
        t_push: 0,
        ingest_lag_ns: 0,
        ..*o
    }
}

fn join(m: &BTreeMap<&'static str, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kernel of a run: one engine per underlying with its GARCH forecast and surface, and the
/// desired book on every `DESIRED_EVERY`-th option.
fn new_kernel(m: &OptionsMarket, spec: &OptionsMarketSpec) -> anyhow::Result<OptionsKernel> {
    let mut k = OptionsKernel::new(&m.registry, RecordBuffer::with_capacity(1 << 16));
    for mu in &m.underlyings {
        let cfg = default_config(mu);
        let extras = EngineExtras {
            garch: Some(garch_params(spec, cfg.sample_interval_ns)?),
            // A refit runs Nelder–Mead (up to `max_evals` SVI evaluations, ~0.1–1 ms):
            // each expiry at most every 10 s, deferred refits one per hedge tick.
            surface: Some(SurfaceConfig {
                min_refit_interval_ns: 10_000_000_000,
                ..SurfaceConfig::default()
            }),
        };
        let e = k
            .add_underlying_with(cfg, mu.hedge, &mu.chain, &extras)
            .context("options kernel")?;
        let eng = k.engine_mut(e).context("engine just added")?;
        for (i, s) in mu.chain.iter().enumerate() {
            if i % DESIRED_EVERY == 0 {
                eng.set_desired(s.instrument, DESIRED_LOTS);
            }
        }
    }
    Ok(k)
}

/// What the direct loop produced.
struct Direct {
    kernel: OptionsKernel,
    /// Its orders without clock readings.
    orders: Vec<Order>,
    tracks: Vec<Track>,
    /// Kernel time per event (event in → orders out + paper fills), ns.
    lat: Histogram<u64>,
    wall: std::time::Duration,
}

/// The direct loop: feed → kernel → paper fill on one thread, timing the kernel per event and
/// sampling each underlying after every hedge tick.
fn direct_loop(
    m: &OptionsMarket,
    spec: &OptionsMarketSpec,
    shock_ns: u64,
    clock: &Clock,
) -> anyhow::Result<Direct> {
    let mut kernel = new_kernel(m, spec)?;
    let mut feed = m.feed();
    let mut paper = PaperAdapter::default();
    let mut lat = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).context("histogram")?;
    let mut events: Vec<MarketEvent> = Vec::with_capacity(1024);
    let mut orders: Vec<Order> = Vec::with_capacity(1024);
    let mut direct_orders: Vec<Order> = Vec::new();
    let mut tracks: Vec<Track> = m.underlyings.iter().map(|_| Track::default()).collect();
    let tiers: Vec<MarginTiers> = m
        .underlyings
        .iter()
        .map(|u| MarginTiers::flat(default_config(u).mmr))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("mmr: {e:?}"))?;
    let t0 = std::time::Instant::now();
    for (t, f) in &m.frames {
        events.clear();
        FeedAdapter::on_frame(&mut feed, *t, f, &mut |e| events.push(e));
        for e in &events {
            let a = clock.raw();
            KernelLogic::on_event(&mut kernel, e, a, &mut |o| orders.push(o));
            for o in &orders {
                let fill = paper.submit(o, 0);
                KernelLogic::on_fill(&mut kernel, &fill);
            }
            let b = clock.raw();
            lat.saturating_record(clock.delta_ns(a, b).max(1));
            direct_orders.extend(orders.drain(..).map(|o| plain(&o)));
            if e.kind != EventKind::Bbo {
                continue;
            }
            for (u, mu) in m.underlyings.iter().enumerate() {
                if e.instrument == mu.hedge.instrument {
                    let eng = &kernel.engines()[u];
                    sample(&mut tracks[u], eng, mu, &tiers[u], e.recv_ns, shock_ns);
                }
            }
        }
    }
    Ok(Direct {
        kernel,
        orders: direct_orders,
        tracks,
        lat,
        wall: t0.elapsed(),
    })
}

/// Samples underlying `mu`'s Greeks, margin, leverage and volatilities into `tr` after a hedge
/// tick received at `recv_ns`.
fn sample(
    tr: &mut Track,
    eng: &OptionsEngine,
    mu: &MarketUnderlying,
    tiers: &MarginTiers,
    recv_ns: u64,
    shock_ns: u64,
) {
    let lot = mu.hedge.lot_qty;
    let (d, g, v) = portfolio(eng, lot);
    tr.delta.push(d);
    tr.gamma.push(g);
    tr.vega.push(v);
    let px = eng.underlying_px();
    let cfg = default_config(mu);
    let notional = eng.hedge_position_lots().unsigned_abs() as f64 * lot / px;
    tr.mm_peak = tr
        .mm_peak
        .max(tiers.maintenance_margin(notional) / cfg.collateral_coin);
    tr.lev_peak = tr.lev_peak.max(notional / cfg.collateral_coin);
    let per_year = 365.25 * 86_400e9 / cfg.sample_interval_ns as f64;
    let g = eng
        .garch()
        .map_or(f64::NAN, |g| (g.variance() * per_year).sqrt());
    let gh = eng.vol_garch().unwrap_or(f64::NAN);
    let iv = eng.implied_vol_for_buffer(recv_ns).unwrap_or(f64::NAN);
    if recv_ns < shock_ns {
        tr.garch_pre_shock = g;
        tr.garch_h_pre_shock = gh;
        tr.implied_pre_shock = iv;
    } else {
        tr.garch_peak = tr.garch_peak.max(g);
        tr.garch_h_peak = tr.garch_h_peak.max(gh);
        tr.implied_peak = tr.implied_peak.max(iv);
    }
}

/// Orders by reason and binding, decisions' smallest scale and buffer use, from the records.
struct Tally {
    by_reason: BTreeMap<&'static str, u64>,
    by_binding: BTreeMap<&'static str, u64>,
    hedge_orders: u64,
    option_orders: u64,
    decisions: u64,
    cuts_after_shock: u64,
    first_cut: Option<u64>,
    min_scale: f64,
    min_scale_binding: &'static str,
    buffer_use_peak: f64,
}

fn tally(kernel: &OptionsKernel, m: &OptionsMarket, shock_ns: u64) -> Tally {
    let records = kernel.log().records();
    let (mut by_reason, mut by_binding) = (BTreeMap::new(), BTreeMap::new());
    let (mut hedge_orders, mut option_orders, mut decisions) = (0u64, 0u64, 0u64);
    let mut cuts_after_shock = 0u64;
    let mut first_cut: Option<u64> = None;
    let (mut min_scale, mut min_scale_binding) = (1.0_f64, "model");
    let mut buffer_use_peak = 0.0_f64;
    for r in records {
        match r {
            Record::Order(o) => {
                *by_reason.entry(o.reason.as_str()).or_insert(0u64) += 1;
                *by_binding.entry(o.binding.as_str()).or_insert(0u64) += 1;
                if o.is_hedge {
                    hedge_orders += 1;
                } else {
                    option_orders += 1;
                    let cur = o.position_lots + o.working_lots;
                    if o.recv_ns >= shock_ns && o.target_lots.abs() < cur.abs() {
                        cuts_after_shock += 1;
                        first_cut.get_or_insert(o.recv_ns);
                    }
                }
            }
            Record::Decision(d) => {
                decisions += 1;
                if d.scale < min_scale {
                    min_scale = d.scale;
                    min_scale_binding = d.scale_binding.as_str();
                }
                let u = kernel.underlying_of(d.trigger).unwrap_or(0);
                let lot = m.underlyings[u].hedge.lot_qty;
                let hd = hedge_delta(d.hedge_lots_after, lot, d.underlying_px).abs();
                if d.max_hedge_delta_liquidation > 0.0 {
                    buffer_use_peak = buffer_use_peak.max(hd / d.max_hedge_delta_liquidation);
                }
            }
        }
    }
    Tally {
        by_reason,
        by_binding,
        hedge_orders,
        option_orders,
        decisions,
        cuts_after_shock,
        first_cut,
        min_scale,
        min_scale_binding,
        buffer_use_peak,
    }
}

/// The hedge instrument's symbol of underlying `u`.
fn hedge_symbol(m: &OptionsMarket, u: usize) -> &str {
    &m.registry.instruments()[m.underlyings[u].hedge.instrument.0 as usize].symbol
}

/// The configuration, the market and the orders.
fn print_setup(
    m: &OptionsMarket,
    spec: &OptionsMarketSpec,
    shock_ns: u64,
    direct: &Direct,
    t: &Tally,
    report: &RunReport,
) {
    println!("== ballast demo --options: synthetic Deribit options (BTC, ETH), inverse perpetual hedges ==");
    for u in &m.underlyings {
        let c = default_config(u);
        println!(
            "{:<17} {} options (calls and puts, 8 expiries, smile), desired {} lots on every {}rd; band ±{:.3} coin, |gamma| <= {:.3e}/USD, |vega| <= {:.0} USD/vol pt, collateral {:.1} coin, buffer {}σ/{} d",
            m.registry.instruments()[u.hedge.instrument.0 as usize].symbol,
            u.chain.len(),
            DESIRED_LOTS,
            DESIRED_EVERY,
            c.delta_band,
            c.max_abs_gamma,
            c.max_abs_vega_per_vol_point,
            c.collateral_coin,
            c.buffer_k,
            c.buffer_horizon_days
        );
    }
    println!(
        "market            {} frames, {} ticks of {} ms; shock at t+{:.0} s: moves x{}, implied vols x{:.2}",
        m.frames.len(),
        spec.ticks,
        spec.tick_ns / 1_000_000,
        (shock_ns - START_NS) as f64 / 1e9,
        spec.shock_mult,
        spec.shock_mult.sqrt()
    );
    println!(
        "orders            {} ({} hedge, {} option), {} decisions; direct loop {:.3} s, pipeline {} identical",
        t.hedge_orders + t.option_orders,
        t.hedge_orders,
        t.option_orders,
        t.decisions,
        direct.wall.as_secs_f64(),
        report.topology
    );
    println!("  by reason       {}", join(&t.by_reason));
    println!("  by binding      {}", join(&t.by_binding));
}

/// Greeks over time, margin, volatilities and surfaces per underlying.
fn print_underlyings(m: &OptionsMarket, direct: &mut Direct) {
    println!("greeks over time  (after every hedge tick)       p1          p50          p99");
    for (u, tr) in direct.tracks.iter_mut().enumerate() {
        let name = hedge_symbol(m, u);
        let cur = name.split('-').next().unwrap_or("");
        let (d1, d50, d99) = pct(&mut tr.delta);
        let (g1, g50, g99) = pct(&mut tr.gamma);
        let (v1, v50, v99) = pct(&mut tr.vega);
        println!("  {cur} delta, coin                     {d1:>12.4} {d50:>12.4} {d99:>12.4}");
        println!("  {cur} gamma, per USD                  {g1:>12.3e} {g50:>12.3e} {g99:>12.3e}");
        println!("  {cur} vega, USD per vol point         {v1:>12.1} {v50:>12.1} {v99:>12.1}");
    }
    for (u, tr) in direct.tracks.iter().enumerate() {
        let c = default_config(&m.underlyings[u]);
        println!(
            "margin {:<10} peak maintenance margin / collateral {:.2} % (mmr {}), peak hedge leverage {:.2}x of {}x",
            hedge_symbol(m, u),
            tr.mm_peak * 100.0,
            c.mmr,
            tr.lev_peak,
            c.max_leverage
        );
    }
    for (u, tr) in direct.tracks.iter().enumerate() {
        let eng = &direct.kernel.engines()[u];
        let name = hedge_symbol(m, u);
        let cur = name.split('-').next().unwrap_or("");
        println!(
            "vol {cur:<13} GARCH(1,1) next-second vol {:.0} % before the shock -> peak {:.0} % after; over the {}-day buffer horizon {:.0} % -> {:.0} %; surface ATM implied at the horizon {:.1} % -> {:.1} %",
            tr.garch_pre_shock * 100.0,
            tr.garch_peak * 100.0,
            default_config(&m.underlyings[u]).buffer_horizon_days,
            tr.garch_h_pre_shock * 100.0,
            tr.garch_h_peak * 100.0,
            tr.implied_pre_shock * 100.0,
            tr.implied_peak * 100.0
        );
        if let Some(sf) = eng.surface() {
            let st = sf.stats();
            let cal = sf.calendar_check();
            println!(
                "surface {cur:<9} {} slices: {} refits, {} SVI fits, {} flat fallbacks, {} butterfly flags, {} calendar flags (now {} calendar violations)",
                sf.slices().len(),
                st.refits,
                st.svi_fits,
                st.fallbacks,
                st.butterfly_flags,
                st.calendar_flags,
                cal.violations
            );
        }
    }
}

/// Buffer use, the shock's effect and both latencies.
fn print_outcome(shock_ns: u64, direct: &Direct, t: &Tally, report: &RunReport, speed: Speed) {
    println!(
        "liquidation       peak |hedge delta| / buffer-safe hedge delta {:.3} (<= 1: no hedge went past the buffer-safe size)",
        t.buffer_use_peak
    );
    match t.first_cut {
        Some(c) => println!(
            "vol shock         {} option cuts after it, the first {:.2} s after; smallest book scale {:.3} set by {}",
            t.cuts_after_shock,
            (c - shock_ns) as f64 / 1e9,
            t.min_scale,
            t.min_scale_binding
        ),
        None => println!("vol shock         no option cut after it"),
    }
    let lat = &direct.lat;
    println!(
        "kernel per event  direct loop (event in -> orders out + paper fills): p50 {} p90 {} p99 {} p99.9 {} max {} (n = {})",
        engine::latency::fmt_ns(lat.value_at_quantile(0.5)),
        engine::latency::fmt_ns(lat.value_at_quantile(0.9)),
        engine::latency::fmt_ns(lat.value_at_quantile(0.99)),
        engine::latency::fmt_ns(lat.value_at_quantile(0.999)),
        engine::latency::fmt_ns(lat.max()),
        lat.len()
    );
    println!(
        "pipeline          {}, {} (`_co`: from the intended send time):",
        report.topology,
        match speed {
            Speed::Max => "unpaced".to_string(),
            Speed::Factor(f) => format!("paced at {f}x event time"),
        }
    );
    print!("{}", engine::latency::table(&report.latency));
}

/// Runs the options demo.
///
/// # Errors
/// An output file that cannot be written, or (a bug) the pipeline disagreeing with the direct
/// loop.
pub fn run(
    seed: u64,
    topology: &Topology,
    speed: Speed,
    orders_out: Option<&Path>,
    decisions_out: Option<&Path>,
) -> anyhow::Result<()> {
    // 112 options: 7 strikes (calls and puts) on each of the 8 expiries, enough for an SVI fit.
    let spec = OptionsMarketSpec {
        seed,
        options_per_underlying: 112,
        tickers_per_tick: 2,
        ..OptionsMarketSpec::default()
    };
    let m = OptionsMarket::generate(&spec);
    let shock_tick = (spec.shock_at.clamp(0.0, 1.0) * spec.ticks as f64) as u64;
    let shock_ns = START_NS + 1_000_000_000 + shock_tick * spec.tick_ns;

    // 1. Direct loop: per-tick Greeks and kernel time per event.
    let clock = Clock::new();
    let mut direct = direct_loop(&m, &spec, shock_ns, &clock)?;

    // 2. The same frames through the pipeline.
    // Paced (`--speed`, default 1000x event time, about 12 k frames/s) so latency is measured
    // below saturation rather than as queueing behind a replay at full speed.
    let pcfg = PipelineConfig {
        topology: topology.clone(),
        speed,
        ..PipelineConfig::default()
    };
    let (report, pk) = run_kernel(
        &pcfg,
        MemorySource::new(m.frames.clone()),
        m.feed(),
        new_kernel(&m, &spec)?,
        PaperAdapter::default(),
        &clock,
    );
    let piped: Vec<Order> = report.orders.iter().map(plain).collect();
    ensure!(
        piped == direct.orders,
        "the pipeline's orders differ from the direct loop's ({} vs {})",
        piped.len(),
        direct.orders.len()
    );

    // Records: orders by reason/binding, decisions' scale and buffer use.
    let t = tally(&direct.kernel, &m, shock_ns);
    print_setup(&m, &spec, shock_ns, &direct, &t, &report);
    print_underlyings(&m, &mut direct);
    print_outcome(shock_ns, &direct, &t, &report, speed);
    let write = |p: &Path, k: &OptionsKernel, want: fn(&Record) -> bool| -> anyhow::Result<()> {
        let mut out = Vec::new();
        for r in k.log().records().iter().filter(|r| want(r)) {
            r.write_jsonl(&mut out).context("render")?;
        }
        std::fs::write(p, out).with_context(|| format!("cannot write {}", p.display()))
    };
    ensure!(
        direct.kernel.log().dropped() == 0 && pk.log().dropped() == 0,
        "decision log buffer too small"
    );
    if let Some(p) = orders_out {
        write(p, &pk, |r| matches!(r, Record::Order(_)))?;
    }
    if let Some(p) = decisions_out {
        write(p, &pk, |r| matches!(r, Record::Decision(_)))?;
    }
    Ok(())
}
