//! What the engine hands out: resize orders, their execution reports, and the decision behind
//! each sizing pass that sent orders, through an [`OptionsSink`].

use feeds::{InstrumentId, Side};
use risk_core::greeks_limits::PortfolioGreeks;

use crate::Constraint;

/// A resize order of the options engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionsOrder {
    /// Engine-assigned, strictly increasing.
    pub id: u64,
    /// Receive time of the triggering event, ns.
    pub recv_ns: u64,
    /// Raw clock reading of the triggering frame's ingestion.
    pub t_ingest: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Whether this is the hedge (else an option).
    pub is_hedge: bool,
    /// Buy or sell.
    pub side: Side,
    /// Quantity, lots (> 0).
    pub qty_lots: i64,
    /// Quantity, underlying units (options, linear hedge) or USD face (inverse hedge).
    pub qty: f64,
    /// Limit price: the opposite touch (USD for the hedge, coin for options), or the option's
    /// mark when its book is not seen.
    pub limit_px: f64,
    /// Constraint that triggered the order.
    pub reason: Constraint,
    /// Constraint that set its size.
    pub binding: Constraint,
    /// Target position, lots.
    pub target_lots: i64,
    /// Position before the order, lots.
    pub position_lots: i64,
    /// Working quantity before the order, lots.
    pub working_lots: i64,
}

/// An execution report for an [`OptionsOrder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionsFill {
    /// The order.
    pub order_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Filled lots.
    pub filled_lots: i64,
    /// Cancelled lots (order − filled).
    pub cancelled_lots: i64,
    /// Fill price (the order's limit).
    pub px: f64,
}

impl OptionsFill {
    /// The paper fill of `o`: all of it at its limit (orders are already capped to the touch).
    #[must_use]
    pub fn paper(o: &OptionsOrder) -> Self {
        Self {
            order_id: o.id,
            instrument: o.instrument,
            side: o.side,
            filled_lots: o.qty_lots,
            cancelled_lots: 0,
            px: o.limit_px,
        }
    }
}

/// One sizing pass that sent orders: its inputs and every constraint's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Receive time of the triggering event, ns.
    pub recv_ns: u64,
    /// Triggering instrument.
    pub trigger: InstrumentId,
    /// Underlying (hedge mid) price, USD.
    pub underlying_px: f64,
    /// EWMA forecast, annualized (NaN before warm-up).
    pub vol_forecast: f64,
    /// GARCH(1,1) forecast averaged over the buffer horizon, annualized (NaN without GARCH).
    pub vol_garch: f64,
    /// ATM implied volatility: the surface's at the buffer horizon when one is attached, else
    /// the nearest expiry's ATM mark IV (NaN when not computed or unavailable).
    pub vol_implied: f64,
    /// Volatility used by the liquidation buffer, annualized.
    pub vol_used: f64,
    /// Lowest forward the chain's expiries are valued at (`underlying_px × basis`), USD.
    pub forward_lo: f64,
    /// Highest forward the chain's expiries are valued at, USD.
    pub forward_hi: f64,
    /// Portfolio Greeks with positions + working before the orders (hedge delta included).
    pub before: PortfolioGreeks,
    /// Portfolio Greeks with the targets of the orders.
    pub after: PortfolioGreeks,
    /// Greeks of the full desired option book (scale 1).
    pub desired: PortfolioGreeks,
    /// Delta band half-width.
    pub delta_band: f64,
    /// Gamma cap.
    pub max_abs_gamma: f64,
    /// Vega cap.
    pub max_abs_vega: f64,
    /// Scale allowed by the gamma/vega caps.
    pub scale_gamma_vega: f64,
    /// Scale allowed by the liquidation buffer.
    pub scale_liquidation: f64,
    /// Scale allowed by the leverage cap.
    pub scale_leverage: f64,
    /// Applied scale.
    pub scale: f64,
    /// Constraint that set the scale (`Model` when 1).
    pub scale_binding: Constraint,
    /// Largest |hedge delta| the liquidation buffer allows, underlying units.
    pub max_hedge_delta_liquidation: f64,
    /// Largest |hedge delta| the leverage cap allows, underlying units.
    pub max_hedge_delta_leverage: f64,
    /// Hedge liquidity cap (lots) for the side traded, or −1 when no hedge order.
    pub hedge_liquidity_cap_lots: i64,
    /// Hedge position + working before, lots.
    pub hedge_lots_before: i64,
    /// Hedge target, lots.
    pub hedge_lots_after: i64,
    /// Orders sent by this pass.
    pub orders: u32,
}

/// Receives the engine's output. Must not allocate or block on the hot path.
pub trait OptionsSink {
    /// A resize order.
    fn order(&mut self, o: &OptionsOrder);
    /// The decision behind the orders just sent.
    fn decision(&mut self, _d: &Decision) {}
}
