//! `trades.*` notifications: every trade of the array validated, then each emitted, without
//! collecting them.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::num::json_decimal;
use super::{DeribitError, DeribitFeed, DERIBIT_SCALE};
use crate::binance::json::Text;
use crate::event::{EventKind, MarketEvent, PxQty, Side};

#[derive(Debug, Deserialize)]
struct TradeData<'a> {
    #[serde(borrow)]
    instrument_name: Cow<'a, str>,
    #[serde(default)]
    trade_seq: u64,
    #[serde(default)]
    timestamp: u64,
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(borrow)]
    amount: &'a RawValue,
    #[serde(borrow, default)]
    direction: Option<Text<'a>>,
}

impl DeribitFeed {
    pub(super) fn on_trades(
        &mut self,
        recv_ns: u64,
        data: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), DeribitError> {
        // Two passes over the array, no allocation: validate every trade, then emit them all.
        let parse = |t: &TradeData<'_>| -> Result<(i64, i64, Side), DeribitError> {
            let px = json_decimal(t.price.get().as_bytes(), DERIBIT_SCALE)
                .map_err(|_| DeribitError::Number { field: "price" })?;
            let qty = json_decimal(t.amount.get().as_bytes(), DERIBIT_SCALE)
                .map_err(|_| DeribitError::Number { field: "amount" })?;
            let side = match t.direction.as_ref().map(|d| d.0.as_ref()) {
                Some("buy") => Side::Buy,
                Some("sell") => Side::Sell,
                _ => Side::None,
            };
            Ok((px, qty, side))
        };
        let json = |e: serde_json::Error| DeribitError::Json(e.to_string());
        let mut de = serde_json::Deserializer::from_slice(data);
        serde::de::DeserializeSeed::deserialize(
            EachTrade(&mut |t: TradeData<'_>| parse(&t).map(|_| ())),
            &mut de,
        )
        .map_err(json)??;
        let mut de = serde_json::Deserializer::from_slice(data);
        serde::de::DeserializeSeed::deserialize(
            EachTrade(&mut |t: TradeData<'_>| {
                let (px, qty, side) = parse(&t)?;
                let id = self.id_of(&t.instrument_name);
                self.stats.trades += 1;
                let mut e = MarketEvent::new(EventKind::Trade, id, recv_ns);
                e.exch_ns = t.timestamp.saturating_mul(1_000_000);
                e.seq = t.trade_seq;
                e.side = side;
                e.bid = PxQty { px, qty };
                e.flags = self.states[id.0 as usize].ticker_flags();
                sink(e);
                Ok(())
            }),
            &mut de,
        )
        .map_err(json)?
    }
}

/// Deserializes a JSON array of trades, handing each to a callback without collecting them. The
/// first callback error stops the walk and is returned (inside the serde result).
struct EachTrade<'f, F>(&'f mut F);

impl<'de, F> serde::de::DeserializeSeed<'de> for EachTrade<'_, F>
where
    F: FnMut(TradeData<'de>) -> Result<(), DeribitError>,
{
    type Value = Result<(), DeribitError>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F> serde::de::Visitor<'de> for EachTrade<'_, F>
where
    F: FnMut(TradeData<'de>) -> Result<(), DeribitError>,
{
    type Value = Result<(), DeribitError>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of trades")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while let Some(t) = seq.next_element::<TradeData<'de>>()? {
            if let Err(e) = (self.0)(t) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }
}
