//! `[risk]`: limits of the pre-trade risk gate.

use std::path::PathBuf;

use serde::Deserialize;

/// `[risk]`: limits of the pre-trade risk gate (see [`engine::risk_gate`]). Not a
/// [`engine::risk_gate::RiskLimits`]: quantities are decimal strings, resolved to mantissas at
/// the sized instrument's `qty_scale` (known only with `[instrument]`), and the kill switch is
/// described rather than built.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSection {
    /// Largest order quantity, decimal string.
    pub max_order_qty: String,
    /// Largest price × quantity per order, quote units.
    pub max_notional: f64,
    /// Largest absolute position, decimal string.
    pub max_position: String,
    /// Sustained orders per second.
    pub max_orders_per_sec: f64,
    /// Orders that may go at once.
    pub burst: f64,
    /// Allowed distance of the limit from the mark, fraction (0 = no band).
    pub price_band: f64,
    /// The kill switch trips when this file exists.
    pub kill_file: Option<PathBuf>,
    /// The kill switch trips on SIGUSR1.
    pub kill_signal: bool,
}

impl Default for RiskSection {
    fn default() -> Self {
        Self {
            max_order_qty: "1".into(),
            max_notional: 100_000.0,
            max_position: "2".into(),
            max_orders_per_sec: 10.0,
            burst: 20.0,
            price_band: 0.02,
            kill_file: None,
            kill_signal: true,
        }
    }
}
