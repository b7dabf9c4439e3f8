//! `[instrument]`: the sized instrument.

use serde::Deserialize;

use crate::error::{bad, ConfigError};
use feeds::decimal::parse_decimal;
use feeds::Market;

/// `[instrument]`. Not a [`feeds::Instrument`]: the file writes the lot, minimum order and tick
/// as decimal strings, turned into mantissas at the instrument's scale when the file is resolved
/// ([`crate::Config::resolve`]; the tick by `ballast run` against the venue's).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InstrumentConfig {
    /// Venue symbol as in payloads (`BTCUSDT`).
    pub symbol: String,
    /// `spot`, `usdm` or `coinm` (Binance), or `deribit`.
    pub market: Market,
    /// Decimals of price mantissas (Binance sends 8).
    pub px_scale: u8,
    /// Decimals of quantity mantissas.
    pub qty_scale: u8,
    /// Lot size, a decimal string (`"0.00001"`).
    pub lot: String,
    /// Smallest order, a decimal string.
    pub min_qty: String,
    /// Price tick, a decimal string (optional; `ballast run` on Deribit checks it against the
    /// venue's `tick_size`).
    pub tick: Option<String>,
}

impl Default for InstrumentConfig {
    fn default() -> Self {
        Self {
            symbol: "BTCUSDT".into(),
            market: Market::BinanceSpot,
            px_scale: 8,
            qty_scale: 8,
            lot: "0.00001".into(),
            min_qty: "0.0001".into(),
            tick: None,
        }
    }
}

/// Lot and minimum order of the instrument, quantity mantissas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lots {
    pub(crate) lot: i64,
    pub(crate) min_qty: i64,
}

impl InstrumentConfig {
    /// Checks the symbol and scales; the lot and minimum order as mantissas.
    pub(crate) fn lots(&self) -> Result<Lots, ConfigError> {
        if self.symbol.is_empty()
            || !self
                .symbol
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "instrument.symbol",
                &self.symbol,
                "expected a venue symbol such as BTCUSDT",
            ));
        }
        if self.px_scale > 18 {
            return Err(bad(
                "instrument.px_scale",
                self.px_scale,
                "expected 0 ..= 18",
            ));
        }
        if self.qty_scale > 18 {
            return Err(bad(
                "instrument.qty_scale",
                self.qty_scale,
                "expected 0 ..= 18",
            ));
        }
        let lot = parse_decimal(self.lot.as_bytes(), self.qty_scale)
            .ok()
            .filter(|d| d.mantissa > 0)
            .ok_or_else(|| {
                bad(
                    "instrument.lot",
                    &self.lot,
                    "expected a positive decimal with at most qty_scale decimals",
                )
            })?;
        let min_qty = parse_decimal(self.min_qty.as_bytes(), self.qty_scale).map_err(|_| {
            bad(
                "instrument.min_qty",
                &self.min_qty,
                "expected a decimal with at most qty_scale decimals",
            )
        })?;
        Ok(Lots {
            lot: lot.mantissa,
            min_qty: min_qty.mantissa,
        })
    }
}
