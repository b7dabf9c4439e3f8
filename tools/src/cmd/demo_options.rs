//! `ballast demo --options`: the options engine on the built-in synthetic market
//! ([`engine::options::synth`]): a chain of calls with a volatility smile on a simulated
//! underlying, an inverse perpetual to hedge with, and a volatility shock half-way that makes the
//! engine cut exposure before the liquidation buffer is reached. Paper fills, one thread (a
//! direct loop over the events); prints orders by reason and binding constraint, portfolio Greeks
//! over time as percentiles, margin and buffer use, and the kernel's per-event latency.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use engine::clock::Clock;
use engine::options::log::{write_decision, write_order};
use engine::options::synth::{default_config, generate, PaperSink, SynthOptions};
use engine::options::{Decision, OptionsEngine, OptionsOrder, OptionsSink};
use feeds::EventKind;
use hdrhistogram::Histogram;
use risk_core::margin::{Contract, MarginTiers};

#[derive(Default)]
struct Log {
    orders: Vec<u8>,
    decisions: Vec<u8>,
    by_reason: BTreeMap<&'static str, u64>,
    by_binding: BTreeMap<&'static str, u64>,
    hedge_orders: u64,
    option_orders: u64,
    /// Option orders after the shock that cut a position (|target| < |position + working|).
    cuts_after_shock: u64,
    first_cut_after_shock_ns: Option<u64>,
    shock_ns: u64,
    /// Peak |hedge delta after| / max hedge delta allowed by the liquidation buffer.
    buffer_use_peak: f64,
    min_scale: f64,
    min_scale_binding: &'static str,
    decisions_n: u64,
}

impl OptionsSink for Log {
    fn order(&mut self, o: &OptionsOrder) {
        *self.by_reason.entry(o.reason.as_str()).or_default() += 1;
        *self.by_binding.entry(o.binding.as_str()).or_default() += 1;
        if o.is_hedge {
            self.hedge_orders += 1;
        } else {
            self.option_orders += 1;
            let cur = o.position_lots + o.working_lots;
            if o.recv_ns >= self.shock_ns && o.target_lots.abs() < cur.abs() {
                self.cuts_after_shock += 1;
                self.first_cut_after_shock_ns.get_or_insert(o.recv_ns);
            }
        }
        // Writing into a Vec cannot fail.
        let _ = write_order(&mut self.orders, o);
    }

    fn decision(&mut self, d: &Decision) {
        self.decisions_n += 1;
        if d.scale < self.min_scale {
            self.min_scale = d.scale;
            self.min_scale_binding = d.scale_binding.as_str();
        }
        let hedge_delta = hedge_delta_of(d.hedge_lots_after, d.underlying_px).abs();
        if d.max_hedge_delta_liquidation > 0.0 {
            self.buffer_use_peak = self
                .buffer_use_peak
                .max(hedge_delta / d.max_hedge_delta_liquidation);
        }
        let _ = write_decision(&mut self.decisions, d);
    }
}

/// Delta of `lots` of the inverse perpetual at `px`, BTC.
fn hedge_delta_of(lots: i64, px: f64) -> f64 {
    lots as f64 * HEDGE_LOT_USD / px
}

const HEDGE_LOT_USD: f64 = 10.0;

/// p1 / p50 / p99 of `v` (sorted in place).
fn pct(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    (at(0.01), at(0.5), at(0.99))
}

/// Portfolio Greeks from positions (options + hedge), as the engine holds them.
fn portfolio(eng: &OptionsEngine) -> (f64, f64, f64) {
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
        d += hedge_delta_of(eng.hedge_position_lots(), px);
    }
    (d, g, v)
}

/// Runs the options demo.
///
/// # Errors
/// An output file that cannot be written.
pub fn run(
    seed: u64,
    orders_out: Option<&Path>,
    decisions_out: Option<&Path>,
) -> anyhow::Result<()> {
    let synth = SynthOptions {
        seed: SynthOptions::default().seed ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D),
        hedge_lot_usd: HEDGE_LOT_USD,
        ..SynthOptions::default()
    };
    let cfg = default_config();
    let m = generate(&synth);
    let mut eng = m.engine(cfg).context("options engine")?;
    let log = Log {
        shock_ns: synth.shock_ns(),
        min_scale: 1.0,
        min_scale_binding: "model",
        ..Log::default()
    };
    let mut sink = PaperSink::new(log, m.specs.len() + 1);
    let clock = Clock::new();
    let mut lat = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).context("histogram")?;
    let n = m.events.len();
    let (mut delta, mut gamma, mut vega) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let tiers = MarginTiers::flat(cfg.mmr).context("mmr")?;
    let (mut mm_peak, mut lev_peak) = (0.0_f64, 0.0_f64);
    let t0 = std::time::Instant::now();
    for ev in &m.events {
        let a = clock.raw();
        sink.step(&mut eng, ev, a);
        let b = clock.raw();
        lat.saturating_record(clock.delta_ns(a, b).max(1));
        if ev.kind == EventKind::Bbo {
            let (d, g, v) = portfolio(&eng);
            delta.push(d);
            gamma.push(g);
            vega.push(v);
            let px = eng.underlying_px();
            let notional_coin =
                eng.hedge_position_lots().unsigned_abs() as f64 * HEDGE_LOT_USD / px;
            debug_assert!(matches!(m.hedge.contract, Contract::Inverse));
            mm_peak = mm_peak.max(tiers.maintenance_margin(notional_coin) / cfg.collateral_coin);
            lev_peak = lev_peak.max(notional_coin / cfg.collateral_coin);
        }
    }
    let wall = t0.elapsed();
    let log = sink.inner;
    let st = eng.stats();

    println!("== ballast demo --options: synthetic BTC options, inverse perpetual hedge ==");
    println!(
        "market            {} options ({} expiries x {} strikes, calls, smile), {} hedge ticks + {} option tickers, {:.0} s of market",
        m.specs.len(),
        synth.expiries,
        synth.strikes,
        synth.ticks,
        m.events.len() as u64 - synth.ticks,
        (synth.ticks * synth.tick_ns) as f64 / 1e9
    );
    println!(
        "shock             at t+{:.0} s: moves x{}, implied vols x{:.2}",
        (synth.shock_ns() - synth.start_ns) as f64 / 1e9,
        synth.shock_mult,
        synth.shock_mult.sqrt()
    );
    println!(
        "policy            delta band ±{} BTC, |gamma| <= {:e}/USD, |vega| <= {} USD/vol pt, collateral {} BTC, buffer {}σ over {} d, leverage <= {}x",
        cfg.delta_band,
        cfg.max_abs_gamma,
        cfg.max_abs_vega_per_vol_point,
        cfg.collateral_coin,
        cfg.buffer_k,
        cfg.buffer_horizon_days,
        cfg.max_leverage
    );
    println!(
        "run               {} events in {:.3} s; {} sizing passes, {} full revaluations, {} single, {} skipped",
        st.events,
        wall.as_secs_f64(),
        st.sizing_passes,
        st.full_revaluations,
        st.single_revaluations,
        st.skipped
    );
    println!(
        "orders            {} ({} hedge, {} option), {} decisions",
        st.orders, log.hedge_orders, log.option_orders, log.decisions_n
    );
    println!("  by reason       {}", join(&log.by_reason));
    println!("  by binding      {}", join(&log.by_binding));
    let (d1, d50, d99) = pct(&mut delta);
    let (g1, g50, g99) = pct(&mut gamma);
    let (v1, v50, v99) = pct(&mut vega);
    println!("greeks over time  (after every hedge tick)       p1          p50          p99");
    println!("  delta, BTC                          {d1:>12.4} {d50:>12.4} {d99:>12.4}");
    println!("  gamma, per USD                      {g1:>12.3e} {g50:>12.3e} {g99:>12.3e}");
    println!("  vega, USD per vol point             {v1:>12.1} {v50:>12.1} {v99:>12.1}");
    println!(
        "margin            peak maintenance margin / collateral {:.2} % (mmr {}), peak hedge leverage {:.2}x of {}x",
        mm_peak * 100.0,
        cfg.mmr,
        lev_peak,
        cfg.max_leverage
    );
    println!(
        "liquidation       peak |hedge delta| / buffer-safe hedge delta {:.3} (<= 1: the hedge never went past the buffer-safe size)",
        log.buffer_use_peak
    );
    match log.first_cut_after_shock_ns {
        Some(t) => println!(
            "vol shock         {} option cuts after it, the first {:.1} s after; smallest book scale {:.3} set by {}",
            log.cuts_after_shock,
            (t - synth.shock_ns()) as f64 / 1e9,
            log.min_scale,
            log.min_scale_binding
        ),
        None => println!("vol shock         no option cut after it"),
    }
    println!(
        "kernel latency    per event (tick in -> all orders out, paper fills included), ns: p50 {} p90 {} p99 {} p99.9 {} max {} (n = {})",
        lat.value_at_quantile(0.5),
        lat.value_at_quantile(0.9),
        lat.value_at_quantile(0.99),
        lat.value_at_quantile(0.999),
        lat.max(),
        lat.len()
    );
    println!("                  direct loop on one thread (the pipeline's tick-to-order needs the options seam)");
    if let Some(p) = orders_out {
        std::fs::write(p, &log.orders).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = decisions_out {
        std::fs::write(p, &log.decisions)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}

fn join(m: &BTreeMap<&'static str, u64>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
