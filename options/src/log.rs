//! JSON-lines rendering of the options engine's orders and decisions (`--decisions-out`): one
//! object a line, fields in a fixed order, numbers in Rust's shortest round-trip form (so the same
//! run gives the same bytes), non-finite numbers as `null`. Not for the hot path: the caller
//! writes from the execution side or after the run.

use std::io::{self, Write};

use risk_core::greeks_limits::PortfolioGreeks;

use super::{Decision, OptionsOrder};

/// A number as JSON: shortest round-trip decimal, `null` when not finite.
struct Num(f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_finite() {
            // `{:?}` is Rust's shortest round-trip form and always shows a decimal point or
            // exponent (`1.0`, `1e-7`), both valid JSON.
            write!(f, "{:?}", self.0)
        } else {
            f.write_str("null")
        }
    }
}

fn greeks(w: &mut impl Write, name: &str, g: &PortfolioGreeks) -> io::Result<()> {
    write!(
        w,
        "\"{name}\":{{\"delta\":{},\"gamma\":{},\"vega_per_vol_point\":{}}}",
        Num(g.delta),
        Num(g.gamma),
        Num(g.vega_per_vol_point)
    )
}

/// Writes `o` as one JSON line.
///
/// # Errors
/// The writer's.
pub fn write_order(w: &mut impl Write, o: &OptionsOrder) -> io::Result<()> {
    writeln!(
        w,
        "{{\"type\":\"order\",\"id\":{},\"recv_ns\":{},\"instrument\":{},\"hedge\":{},\"side\":\"{}\",\"qty_lots\":{},\"qty\":{},\"limit_px\":{},\"reason\":\"{}\",\"binding\":\"{}\",\"target_lots\":{},\"position_lots\":{},\"working_lots\":{}}}",
        o.id,
        o.recv_ns,
        o.instrument.0,
        o.is_hedge,
        if o.side == feeds::Side::Buy { "buy" } else { "sell" },
        o.qty_lots,
        Num(o.qty),
        Num(o.limit_px),
        o.reason.as_str(),
        o.binding.as_str(),
        o.target_lots,
        o.position_lots,
        o.working_lots
    )
}

/// Writes `d` as one JSON line: inputs, portfolio Greeks before and after, every constraint's
/// value.
///
/// # Errors
/// The writer's.
pub fn write_decision(w: &mut impl Write, d: &Decision) -> io::Result<()> {
    write!(
        w,
        "{{\"type\":\"decision\",\"recv_ns\":{},\"trigger\":{},\"underlying_px\":{},\"vol_forecast\":{},\"vol_garch\":{},\"vol_implied\":{},\"vol_used\":{},\"forward_lo\":{},\"forward_hi\":{},",
        d.recv_ns,
        d.trigger.0,
        Num(d.underlying_px),
        Num(d.vol_forecast),
        Num(d.vol_garch),
        Num(d.vol_implied),
        Num(d.vol_used),
        Num(d.forward_lo),
        Num(d.forward_hi)
    )?;
    greeks(w, "before", &d.before)?;
    w.write_all(b",")?;
    greeks(w, "after", &d.after)?;
    w.write_all(b",")?;
    greeks(w, "desired", &d.desired)?;
    writeln!(
        w,
        ",\"constraints\":{{\"delta_band\":{},\"max_abs_gamma\":{},\"max_abs_vega\":{},\"scale_gamma_vega\":{},\"scale_liquidation\":{},\"scale_leverage\":{},\"scale\":{},\"scale_binding\":\"{}\",\"max_hedge_delta_liquidation\":{},\"max_hedge_delta_leverage\":{},\"hedge_liquidity_cap_lots\":{}}},\"hedge_lots_before\":{},\"hedge_lots_after\":{},\"orders\":{}}}",
        Num(d.delta_band),
        Num(d.max_abs_gamma),
        Num(d.max_abs_vega),
        Num(d.scale_gamma_vega),
        Num(d.scale_liquidation),
        Num(d.scale_leverage),
        Num(d.scale),
        d.scale_binding.as_str(),
        Num(d.max_hedge_delta_liquidation),
        Num(d.max_hedge_delta_leverage),
        d.hedge_liquidity_cap_lots,
        d.hedge_lots_before,
        d.hedge_lots_after,
        d.orders
    )
}
