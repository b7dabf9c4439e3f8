//! Instrument registry: symbol ↔ dense id, with each instrument's decimal scales.

use std::collections::HashMap;

/// Dense instrument id, index into the registry.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InstrumentId(pub u32);

/// Which venue and market an instrument trades on. Configured as `spot`, `usdm`, `coinm` or
/// `deribit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Market {
    /// Binance spot (`U == previous u + 1` continuity).
    #[serde(rename = "spot")]
    #[cfg_attr(feature = "clap", value(name = "spot"))]
    BinanceSpot,
    /// Binance USD-M futures (`pu == previous u`).
    #[serde(rename = "usdm")]
    #[cfg_attr(feature = "clap", value(name = "usdm"))]
    BinanceUsdM,
    /// Binance COIN-M futures (`pu == previous u`).
    #[serde(rename = "coinm")]
    #[cfg_attr(feature = "clap", value(name = "coinm"))]
    BinanceCoinM,
    /// Deribit (options, futures, perpetuals).
    #[serde(rename = "deribit")]
    #[cfg_attr(feature = "clap", value(name = "deribit"))]
    Deribit,
}

impl Market {
    /// The name configuration files give it (`spot`, `usdm`, `coinm`, `deribit`), for messages.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::BinanceSpot => "spot",
            Self::BinanceUsdM => "usdm",
            Self::BinanceCoinM => "coinm",
            Self::Deribit => "deribit",
        }
    }

    /// The venue that lists the market (`binance`, `deribit`), for reports.
    #[must_use]
    pub const fn venue_name(self) -> &'static str {
        match self {
            Self::BinanceSpot | Self::BinanceUsdM | Self::BinanceCoinM => "binance",
            Self::Deribit => "deribit",
        }
    }
}

/// Static facts about one instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    /// Dense id.
    pub id: InstrumentId,
    /// Venue symbol, uppercase as the venue spells it in payloads (`BTCUSDT`).
    pub symbol: String,
    /// Venue and market.
    pub market: Market,
    /// Decimal places of price mantissas: price = mantissa × 10^-`px_scale`.
    pub px_scale: u8,
    /// Decimal places of quantity mantissas.
    pub qty_scale: u8,
}

impl Instrument {
    /// Price mantissa → `f64`, for the kernel's edge (never on the way into a book).
    #[must_use]
    pub fn px_f64(&self, mantissa: i64) -> f64 {
        mantissa as f64 / POW10[self.px_scale as usize] as f64
    }

    /// Quantity mantissa → `f64`.
    #[must_use]
    pub fn qty_f64(&self, mantissa: i64) -> f64 {
        mantissa as f64 / POW10[self.qty_scale as usize] as f64
    }
}

/// Powers of ten that fit an `i64` mantissa.
pub const POW10: [i64; 19] = {
    let mut t = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// (market, symbol) ↔ id map. Built at start-up; lookups on the hot path do not allocate.
///
/// An instrument is its market and its symbol: Binance spot `BTCUSDT` and USD-M `BTCUSDT` are
/// two instruments with two ids, two books and two positions.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    instruments: Vec<Instrument>,
    /// Per symbol, the ids of every market that lists it, in registration order.
    by_symbol: HashMap<String, Vec<InstrumentId>>,
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `symbol` on `market` (or return the existing id of that pair). Scales above 18
    /// are clamped to 18.
    pub fn register(
        &mut self,
        symbol: &str,
        market: Market,
        px_scale: u8,
        qty_scale: u8,
    ) -> InstrumentId {
        if let Some(id) = self.id_in(market, symbol) {
            return id;
        }
        let id = InstrumentId(self.instruments.len() as u32);
        self.instruments.push(Instrument {
            id,
            symbol: symbol.to_owned(),
            market,
            px_scale: px_scale.min(18),
            qty_scale: qty_scale.min(18),
        });
        self.by_symbol
            .entry(symbol.to_owned())
            .or_default()
            .push(id);
        id
    }

    /// Id of `symbol` on the first market that registered it, if any. Does not allocate. Where
    /// two markets list the same symbol, use [`Self::id_in`].
    #[must_use]
    pub fn id(&self, symbol: &str) -> Option<InstrumentId> {
        self.by_symbol
            .get(symbol)
            .and_then(|ids| ids.first())
            .copied()
    }

    /// Id of `symbol` on `market`, if registered. Does not allocate.
    #[must_use]
    pub fn id_in(&self, market: Market, symbol: &str) -> Option<InstrumentId> {
        self.by_symbol
            .get(symbol)?
            .iter()
            .copied()
            .find(|id| self.instruments[id.0 as usize].market == market)
    }

    /// The instrument with `id`.
    #[must_use]
    pub fn get(&self, id: InstrumentId) -> Option<&Instrument> {
        self.instruments.get(id.0 as usize)
    }

    /// All instruments, by id.
    #[must_use]
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Number of instruments.
    #[must_use]
    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    /// Whether nothing is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{InstrumentId, Market, Registry};

    #[test]
    fn one_symbol_on_two_markets_is_two_instruments() {
        let mut r = Registry::new();
        let spot = r.register("BTCUSDT", Market::BinanceSpot, 2, 5);
        let usdm = r.register("BTCUSDT", Market::BinanceUsdM, 1, 3);
        assert_ne!(spot, usdm);
        assert_eq!(r.register("BTCUSDT", Market::BinanceUsdM, 8, 8), usdm);
        assert_eq!(r.id("BTCUSDT"), Some(spot));
        assert_eq!(r.id_in(Market::BinanceSpot, "BTCUSDT"), Some(spot));
        assert_eq!(r.id_in(Market::BinanceUsdM, "BTCUSDT"), Some(usdm));
        assert_eq!(r.id_in(Market::BinanceCoinM, "BTCUSDT"), None);
        assert_eq!(r.get(usdm).unwrap().px_scale, 1);
        assert_eq!(r.len(), 2);
        assert_eq!(usdm, InstrumentId(1));
    }

    #[test]
    fn market_names_are_its_configuration_spellings() {
        for m in [
            Market::BinanceSpot,
            Market::BinanceUsdM,
            Market::BinanceCoinM,
            Market::Deribit,
        ] {
            let read: Market = serde_json::from_str(&format!("\"{}\"", m.name())).unwrap();
            assert_eq!(read, m);
        }
    }
}
