//! `ticker.*` notifications: option tickers (mark price and implied volatilities, carried in an
//! [`EventKind::OptionTicker`] event) and the best bid/offer of every other instrument.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::instruments::{self, InstrumentKind};
use super::num::json_decimal;
use super::{DeribitError, DeribitFeed, DERIBIT_SCALE};
use crate::event::{EventKind, MarketEvent, PxQty};
use crate::registry::InstrumentId;

/// Option ticker payload of a [`MarketEvent`] of kind [`EventKind::OptionTicker`]: every field is
/// an `f64` stored as its raw bits in the integer fields.
///
/// | field     | meaning                                         |
/// |-----------|-------------------------------------------------|
/// | `seq`     | underlying (futures) price, USD                 |
/// | `bid.px`  | mark price, in coin                             |
/// | `bid.qty` | mark implied volatility, fraction (0.8 = 80 %)  |
/// | `ask.px`  | bid implied volatility, fraction (0 when none)  |
/// | `ask.qty` | ask implied volatility, fraction (0 when none)  |
///
/// `exch_ns` is the ticker's `timestamp`. Strike, expiry and call/put are static: look them up
/// with [`DeribitFeed::instrument`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionTicker {
    /// Underlying price (Deribit's `underlying_price`), USD.
    pub underlying_px: f64,
    /// Mark price in coin.
    pub mark_px: f64,
    /// Mark IV, fraction.
    pub mark_iv: f64,
    /// Bid IV, fraction.
    pub bid_iv: f64,
    /// Ask IV, fraction.
    pub ask_iv: f64,
}

/// Builds an [`EventKind::OptionTicker`] event (see [`OptionTicker`] for the layout).
#[must_use]
pub fn option_ticker(
    instrument: InstrumentId,
    recv_ns: u64,
    exch_ns: u64,
    t: &OptionTicker,
) -> MarketEvent {
    let mut e = MarketEvent::new(EventKind::OptionTicker, instrument, recv_ns);
    e.exch_ns = exch_ns;
    e.seq = t.underlying_px.to_bits();
    e.bid = PxQty {
        px: t.mark_px.to_bits() as i64,
        qty: t.mark_iv.to_bits() as i64,
    };
    e.ask = PxQty {
        px: t.bid_iv.to_bits() as i64,
        qty: t.ask_iv.to_bits() as i64,
    };
    e
}

/// Reads the [`OptionTicker`] payload of an event (`None` unless its kind is `OptionTicker`).
#[must_use]
pub fn read_option_ticker(e: &MarketEvent) -> Option<OptionTicker> {
    (e.kind == EventKind::OptionTicker).then(|| OptionTicker {
        underlying_px: f64::from_bits(e.seq),
        mark_px: f64::from_bits(e.bid.px as u64),
        mark_iv: f64::from_bits(e.bid.qty as u64),
        bid_iv: f64::from_bits(e.ask.px as u64),
        ask_iv: f64::from_bits(e.ask.qty as u64),
    })
}

#[derive(Debug, Deserialize)]
struct TickerData<'a> {
    #[serde(borrow)]
    instrument_name: Cow<'a, str>,
    #[serde(default)]
    timestamp: u64,
    #[serde(borrow, default)]
    best_bid_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    best_bid_amount: Option<&'a RawValue>,
    #[serde(borrow, default)]
    best_ask_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    best_ask_amount: Option<&'a RawValue>,
    #[serde(default)]
    mark_price: Option<f64>,
    #[serde(default)]
    mark_iv: Option<f64>,
    #[serde(default)]
    bid_iv: Option<f64>,
    #[serde(default)]
    ask_iv: Option<f64>,
    #[serde(default)]
    underlying_price: Option<f64>,
    #[serde(default)]
    index_price: Option<f64>,
    /// Not used; named so serde skips it as a borrowed span (ignoring nested objects costs an
    /// allocation in serde_json).
    #[serde(borrow, default, rename = "stats")]
    _stats: Option<&'a RawValue>,
    /// Not used (published Greeks are recomputed by the kernel); borrowed span as above.
    #[serde(borrow, default, rename = "greeks")]
    _greeks: Option<&'a RawValue>,
}

impl DeribitFeed {
    pub(super) fn on_ticker(
        &mut self,
        recv_ns: u64,
        data: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), DeribitError> {
        let d: TickerData<'_> =
            serde_json::from_slice(data).map_err(|e| DeribitError::Json(e.to_string()))?;
        let num = |v: Option<&RawValue>, field: &'static str| -> Result<i64, DeribitError> {
            match v.map(RawValue::get) {
                None | Some("null") => Ok(0),
                Some(t) => json_decimal(t.as_bytes(), DERIBIT_SCALE)
                    .map_err(|_| DeribitError::Number { field }),
            }
        };
        let is_option = match self
            .registry
            .id(&d.instrument_name)
            .and_then(|id| self.instrument(id))
        {
            Some(i) => i.kind == InstrumentKind::Option,
            None => instruments::parse_name(&d.instrument_name)
                .is_some_and(|i| i.kind == InstrumentKind::Option),
        };
        let exch_ns = d.timestamp.saturating_mul(1_000_000);
        if is_option {
            let mark_px = d.mark_price.ok_or(DeribitError::Number {
                field: "mark_price",
            })?;
            let mark_iv = d.mark_iv.ok_or(DeribitError::Number { field: "mark_iv" })?;
            let underlying_px =
                d.underlying_price
                    .or(d.index_price)
                    .ok_or(DeribitError::Number {
                        field: "underlying_price",
                    })?;
            let t = OptionTicker {
                underlying_px,
                mark_px,
                mark_iv: mark_iv / 100.0,
                bid_iv: d.bid_iv.unwrap_or(0.0) / 100.0,
                ask_iv: d.ask_iv.unwrap_or(0.0) / 100.0,
            };
            let id = self.id_of(&d.instrument_name);
            self.stats.book_tickers += 1;
            let mut e = option_ticker(id, recv_ns, exch_ns, &t);
            e.flags = self.states[id.0 as usize].ticker_flags();
            sink(e);
        } else {
            let bid = PxQty {
                px: num(d.best_bid_price, "best_bid_price")?,
                qty: num(d.best_bid_amount, "best_bid_amount")?,
            };
            let ask = PxQty {
                px: num(d.best_ask_price, "best_ask_price")?,
                qty: num(d.best_ask_amount, "best_ask_amount")?,
            };
            let id = self.id_of(&d.instrument_name);
            self.stats.book_tickers += 1;
            let mut e = MarketEvent::new(EventKind::Bbo, id, recv_ns);
            e.exch_ns = exch_ns;
            e.seq = d.timestamp;
            e.bid = bid;
            e.ask = ask;
            e.flags = self.states[id.0 as usize].ticker_flags();
            sink(e);
        }
        Ok(())
    }
}
