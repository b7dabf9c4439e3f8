//! Typed, borrowed serde structs for Binance's market-data frames, and the full serde parser that
//! the scanner (module `scan`) hands every frame it does not recognize to.
//!
//! The structs are public so that benches can measure serde_json, sonic-rs and simd-json on the
//! same typed, borrowed shapes.

use std::borrow::Cow;

use serde::de::{IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::parse::{Kind, LevelSpans, Parsed};
use super::FrameError;

/// A JSON string, borrowed from the frame when it has no escapes, owned otherwise (serde's own
/// `Cow<str>` is always owned when nested in a `Vec` or an array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

impl Text<'_> {
    /// The string's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A `[price, quantity]` pair of decimal strings.
pub type Level<'a> = [Text<'a>; 2];

/// Combined-stream envelope `{"stream": "...", "data": {...}}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a, T> {
    /// Stream name, e.g. `btcusdt@bookTicker`.
    #[serde(borrow)]
    pub stream: Text<'a>,
    /// The payload.
    pub data: T,
}

/// `bookTicker` payload (spot has no `e`/`E`/`T`; futures add them).
#[derive(Debug, Deserialize)]
pub struct BookTicker<'a> {
    /// Order book update id.
    #[serde(rename = "u")]
    pub update_id: u64,
    /// Symbol.
    #[serde(rename = "s", borrow)]
    pub symbol: Text<'a>,
    /// Best bid price.
    #[serde(rename = "b", borrow)]
    pub bid_px: Text<'a>,
    /// Best bid quantity.
    #[serde(rename = "B", borrow)]
    pub bid_qty: Text<'a>,
    /// Best ask price.
    #[serde(rename = "a", borrow)]
    pub ask_px: Text<'a>,
    /// Best ask quantity.
    #[serde(rename = "A", borrow)]
    pub ask_qty: Text<'a>,
    /// Event time, ms (futures only).
    #[serde(rename = "E", default)]
    pub event_ms: Option<u64>,
}

/// `trade` payload.
#[derive(Debug, Deserialize)]
pub struct Trade<'a> {
    /// Event time, ms.
    #[serde(rename = "E")]
    pub event_ms: u64,
    /// Symbol.
    #[serde(rename = "s", borrow)]
    pub symbol: Text<'a>,
    /// Trade id.
    #[serde(rename = "t")]
    pub trade_id: u64,
    /// Price.
    #[serde(rename = "p", borrow)]
    pub px: Text<'a>,
    /// Quantity.
    #[serde(rename = "q", borrow)]
    pub qty: Text<'a>,
    /// Buyer is the maker (so the aggressor sold).
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `aggTrade` payload.
#[derive(Debug, Deserialize)]
pub struct AggTrade<'a> {
    /// Event time, ms.
    #[serde(rename = "E")]
    pub event_ms: u64,
    /// Symbol.
    #[serde(rename = "s", borrow)]
    pub symbol: Text<'a>,
    /// Aggregate trade id.
    #[serde(rename = "a")]
    pub agg_id: u64,
    /// Price.
    #[serde(rename = "p", borrow)]
    pub px: Text<'a>,
    /// Quantity.
    #[serde(rename = "q", borrow)]
    pub qty: Text<'a>,
    /// Buyer is the maker (so the aggressor sold).
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// `depthUpdate` payload (futures add `pu` and `T`).
#[derive(Debug, Deserialize)]
pub struct DepthUpdate<'a> {
    /// Event time, ms.
    #[serde(rename = "E")]
    pub event_ms: u64,
    /// Symbol.
    #[serde(rename = "s", borrow)]
    pub symbol: Text<'a>,
    /// First update id in the event.
    #[serde(rename = "U")]
    pub first_id: u64,
    /// Final update id in the event.
    #[serde(rename = "u")]
    pub final_id: u64,
    /// Futures: final update id of the previous event.
    #[serde(rename = "pu", default)]
    pub prev_final_id: Option<u64>,
    /// Bid levels to update (quantity `0` removes).
    #[serde(rename = "b", borrow)]
    pub bids: Vec<Level<'a>>,
    /// Ask levels to update.
    #[serde(rename = "a", borrow)]
    pub asks: Vec<Level<'a>>,
}

/// REST depth snapshot body.
#[derive(Debug, Deserialize)]
pub struct DepthSnapshot<'a> {
    /// The update id the snapshot reflects.
    #[serde(rename = "lastUpdateId")]
    pub last_update_id: u64,
    /// The symbol (COIN-M bodies carry it; spot and USD-M ones do not).
    #[serde(borrow, default)]
    pub symbol: Option<Text<'a>>,
    /// Futures: event time, ms.
    #[serde(rename = "E", default)]
    pub event_ms: Option<u64>,
    /// Bid levels, best first.
    #[serde(borrow)]
    pub bids: Vec<Level<'a>>,
    /// Ask levels, best first.
    #[serde(borrow)]
    pub asks: Vec<Level<'a>>,
}

/// The keys that decide what a frame is (see [`Kind`]).
#[derive(Debug, Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    e: Option<Text<'a>>,
    #[serde(rename = "lastUpdateId", default)]
    last_update_id: Option<IgnoredAny>,
    #[serde(default)]
    u: Option<IgnoredAny>,
}

impl Probe<'_> {
    fn kind(&self) -> Kind {
        Kind::decide(
            self.last_update_id.is_some(),
            self.e.as_ref().map(Text::as_bytes),
            self.u.is_some(),
        )
    }
}

fn json_err(e: &serde_json::Error) -> FrameError {
    FrameError::Json {
        category: e.classify(),
        column: u32::try_from(e.column()).unwrap_or(u32::MAX),
    }
}

fn bytes(t: Text<'_>) -> Cow<'_, [u8]> {
    match t.0 {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

fn first_non_ws(b: &[u8]) -> Option<u8> {
    b.iter()
        .copied()
        .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Copy the level strings into `text` and record their offsets there.
fn push_levels(text: &mut Vec<u8>, out: &mut Vec<[u32; 4]>, levels: &[Level<'_>]) {
    for l in levels {
        let a = text.len() as u32;
        text.extend_from_slice(l[0].as_bytes());
        let b = text.len() as u32;
        text.extend_from_slice(l[1].as_bytes());
        let c = text.len() as u32;
        out.push([a, b, b, c]);
    }
}

/// Full serde parse of one frame into [`Parsed`], level strings copied into `spans.text`.
/// Allocates (level `Vec`s, escaped strings): this is the fallback, not the hot path.
pub(crate) fn parse<'a>(frame: &'a [u8], spans: &mut LevelSpans) -> Result<Parsed<'a>, FrameError> {
    spans.clear();
    if first_non_ws(frame) != Some(b'{') {
        return Err(FrameError::NotObject);
    }
    let top: Probe<'a> = serde_json::from_slice(frame).map_err(|e| json_err(&e))?;
    let (payload, probe): (&'a [u8], Probe<'a>) = match top.data {
        Some(raw) => {
            let p = raw.get().as_bytes();
            if first_non_ws(p) != Some(b'{') {
                return Err(FrameError::NotObject);
            }
            // The envelope must carry a string `stream` too.
            #[derive(Deserialize)]
            struct Env<'b> {
                #[serde(borrow)]
                #[allow(dead_code)] // checked for presence and type only
                stream: Text<'b>,
            }
            let _: Env<'a> = serde_json::from_slice(frame).map_err(|e| json_err(&e))?;
            (p, serde_json::from_slice(p).map_err(|e| json_err(&e))?)
        }
        None => (frame, top),
    };
    let de = |e: serde_json::Error| json_err(&e);
    Ok(match probe.kind() {
        Kind::Ignored => Parsed::Ignored,
        Kind::BookTicker => {
            let m: BookTicker<'a> = serde_json::from_slice(payload).map_err(de)?;
            Parsed::BookTicker {
                symbol: m.symbol.0,
                update_id: m.update_id,
                event_ms: m.event_ms,
                bid_px: bytes(m.bid_px),
                bid_qty: bytes(m.bid_qty),
                ask_px: bytes(m.ask_px),
                ask_qty: bytes(m.ask_qty),
            }
        }
        Kind::Trade => {
            let m: Trade<'a> = serde_json::from_slice(payload).map_err(de)?;
            Parsed::Trade {
                symbol: m.symbol.0,
                event_ms: m.event_ms,
                id: m.trade_id,
                px: bytes(m.px),
                qty: bytes(m.qty),
                buyer_is_maker: m.buyer_is_maker,
            }
        }
        Kind::AggTrade => {
            let m: AggTrade<'a> = serde_json::from_slice(payload).map_err(de)?;
            Parsed::Trade {
                symbol: m.symbol.0,
                event_ms: m.event_ms,
                id: m.agg_id,
                px: bytes(m.px),
                qty: bytes(m.qty),
                buyer_is_maker: m.buyer_is_maker,
            }
        }
        Kind::Depth => {
            let m: DepthUpdate<'a> = serde_json::from_slice(payload).map_err(de)?;
            push_levels(&mut spans.text, &mut spans.bids, &m.bids);
            push_levels(&mut spans.text, &mut spans.asks, &m.asks);
            spans.in_text = true;
            Parsed::Depth {
                symbol: m.symbol.0,
                event_ms: m.event_ms,
                first_id: m.first_id,
                final_id: m.final_id,
                prev_final_id: m.prev_final_id,
            }
        }
        Kind::Snapshot => {
            let m: DepthSnapshot<'a> = serde_json::from_slice(payload).map_err(de)?;
            push_levels(&mut spans.text, &mut spans.bids, &m.bids);
            push_levels(&mut spans.text, &mut spans.asks, &m.asks);
            spans.in_text = true;
            Parsed::Snapshot {
                symbol: m.symbol.map(|t| t.0),
                last_update_id: m.last_update_id,
                event_ms: m.event_ms,
            }
        }
    })
}
