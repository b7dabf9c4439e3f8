//! `[hedge]`: the hedge instruments of `ballast options-replay`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{bad, ConfigError};
use risk_core::margin::Contract;

/// `[hedge]`: the hedge instrument of each underlying in `ballast options-replay`. Not an
/// [`options::HedgeSpec`]: that one holds the instrument id, known only once the captures are
/// read; this names symbols per underlying and the derived touch.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HedgeSection {
    /// Underlying → hedge symbol. With `--hedge-from-underlying`, a Deribit future name
    /// (`BTC-24SEP21`) whose options' tickers give the derived touch (default: the future of the
    /// expiry with the most tickers); with `--hedge-capture`, the capture's venue symbol.
    pub symbols: BTreeMap<String, String>,
    /// `inverse` (coin-margined, lots in USD face) or `linear` (lots in coins).
    pub contract: Contract,
    /// One lot: USD face (inverse) or coins (linear).
    pub lot_qty: f64,
    /// Smallest hedge order, lots.
    pub min_lots: i64,
    /// Derived touch: half-spread around the tickers' `underlying_price`, basis points.
    pub derived_half_spread_bps: f64,
    /// Derived touch: quantity displayed on each side, in the hedge's quantity unit (USD face
    /// for inverse).
    pub derived_qty: f64,
}

impl Default for HedgeSection {
    fn default() -> Self {
        Self {
            symbols: BTreeMap::new(),
            contract: Contract::Inverse,
            lot_qty: 10.0,
            min_lots: 1,
            derived_half_spread_bps: 2.5,
            derived_qty: 500_000.0,
        }
    }
}

impl HedgeSection {
    /// Checks the derived touch's values.
    ///
    /// # Errors
    /// A `derived_*` value out of range, named.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !(self.derived_half_spread_bps >= 0.0 && self.derived_half_spread_bps < 10_000.0) {
            return Err(bad(
                "hedge.derived_half_spread_bps",
                self.derived_half_spread_bps,
                "expected 0 ..< 10000",
            ));
        }
        if !(self.derived_qty > 0.0 && self.derived_qty.is_finite()) {
            return Err(bad("hedge.derived_qty", self.derived_qty, "expected > 0"));
        }
        Ok(())
    }
}
