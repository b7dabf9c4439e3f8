//! The end of a replay: each engine's final state and the printed summary.

use config::HedgeSection;
use feeds::multi::{InputSpec, MultiFeed};
use feeds::InstrumentId;
use options::{OptionsEngine, OptionsStats};

use super::scan::Scan;
use super::{HedgeSource, Plans, Replayed};

/// An engine at the end of the replay, for the summary.
pub(super) struct EngineEnd {
    pub(super) stats: OptionsStats,
    pub(super) hedge_lots: i64,
    pub(super) underlying_px: f64,
    /// The `vol at the end: ...` line.
    pub(super) vol: String,
    pub(super) chain: Vec<InstrumentId>,
}

/// An engine's end state: counters, hedge position, last underlying price, volatilities, chain.
pub(super) fn engine_end(e: &OptionsEngine) -> EngineEnd {
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
pub(super) fn print_summary(
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
