//! Typed, borrowed serde structs for Binance's market-data frames, and the full serde parser that
//! the scanner ([`super::scan`]) hands every frame it does not recognize to.
//!
//! The structs are public so that benches can measure serde_json, sonic-rs and simd-json on the
//! same typed, borrowed shapes.

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::parse::{Kind, LevelSpans, Parsed};
use super::FrameError;

/// A `[price, quantity]` pair of decimal strings, borrowed from the frame.
pub type Level<'a> = [&'a str; 2];

/// Combined-stream envelope `{"stream": "...", "data": {...}}`.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a, T> {
    /// Stream name, e.g. `btcusdt@bookTicker`.
    #[serde(borrow)]
    pub stream: &'a str,
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
    pub symbol: &'a str,
    /// Best bid price.
    #[serde(rename = "b", borrow)]
    pub bid_px: &'a str,
    /// Best bid quantity.
    #[serde(rename = "B", borrow)]
    pub bid_qty: &'a str,
    /// Best ask price.
    #[serde(rename = "a", borrow)]
    pub ask_px: &'a str,
    /// Best ask quantity.
    #[serde(rename = "A", borrow)]
    pub ask_qty: &'a str,
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
    pub symbol: &'a str,
    /// Trade id.
    #[serde(rename = "t")]
    pub trade_id: u64,
    /// Price.
    #[serde(rename = "p", borrow)]
    pub px: &'a str,
    /// Quantity.
    #[serde(rename = "q", borrow)]
    pub qty: &'a str,
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
    pub symbol: &'a str,
    /// Aggregate trade id.
    #[serde(rename = "a")]
    pub agg_id: u64,
    /// Price.
    #[serde(rename = "p", borrow)]
    pub px: &'a str,
    /// Quantity.
    #[serde(rename = "q", borrow)]
    pub qty: &'a str,
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
    pub symbol: &'a str,
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
    e: Option<&'a str>,
    #[serde(rename = "lastUpdateId", default)]
    last_update_id: Option<IgnoredAny>,
    #[serde(default)]
    u: Option<IgnoredAny>,
}

impl Probe<'_> {
    fn kind(&self) -> Kind {
        Kind::decide(self.last_update_id.is_some(), self.e.map(str::as_bytes), self.u.is_some())
    }
}

fn json_err(e: &serde_json::Error) -> FrameError {
    FrameError::Json { category: e.classify(), column: u32::try_from(e.column()).unwrap_or(u32::MAX) }
}

fn first_non_ws(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Byte offsets of a borrowed `&str` inside `frame`.
fn span(frame: &[u8], s: &str) -> (u32, u32) {
    let start = s.as_ptr() as usize - frame.as_ptr() as usize;
    (start as u32, (start + s.len()) as u32)
}

fn push_levels(frame: &[u8], out: &mut Vec<[u32; 4]>, levels: &[Level<'_>]) {
    for l in levels {
        let (a, b) = span(frame, l[0]);
        let (c, d) = span(frame, l[1]);
        out.push([a, b, c, d]);
    }
}

/// Full serde parse of one frame into [`Parsed`], level strings recorded as offsets in `spans`.
/// Allocates (level `Vec`s): this is the fallback, not the hot path.
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
                stream: &'b str,
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
                symbol: m.symbol,
                update_id: m.update_id,
                event_ms: m.event_ms,
                bid_px: m.bid_px.as_bytes(),
                bid_qty: m.bid_qty.as_bytes(),
                ask_px: m.ask_px.as_bytes(),
                ask_qty: m.ask_qty.as_bytes(),
            }
        }
        Kind::Trade => {
            let m: Trade<'a> = serde_json::from_slice(payload).map_err(de)?;
            Parsed::Trade {
                symbol: m.symbol,
                event_ms: m.event_ms,
                id: m.trade_id,
                px: m.px.as_bytes(),
                qty: m.qty.as_bytes(),
                buyer_is_maker: m.buyer_is_maker,
            }
        }
        Kind::AggTrade => {
            let m: AggTrade<'a> = serde_json::from_slice(payload).map_err(de)?;
            Parsed::Trade {
                symbol: m.symbol,
                event_ms: m.event_ms,
                id: m.agg_id,
                px: m.px.as_bytes(),
                qty: m.qty.as_bytes(),
                buyer_is_maker: m.buyer_is_maker,
            }
        }
        Kind::Depth => {
            let m: DepthUpdate<'a> = serde_json::from_slice(payload).map_err(de)?;
            push_levels(frame, &mut spans.bids, &m.bids);
            push_levels(frame, &mut spans.asks, &m.asks);
            Parsed::Depth {
                symbol: m.symbol,
                event_ms: m.event_ms,
                first_id: m.first_id,
                final_id: m.final_id,
                prev_final_id: m.prev_final_id,
            }
        }
        Kind::Snapshot => {
            let m: DepthSnapshot<'a> = serde_json::from_slice(payload).map_err(de)?;
            push_levels(frame, &mut spans.bids, &m.bids);
            push_levels(frame, &mut spans.asks, &m.asks);
            Parsed::Snapshot { last_update_id: m.last_update_id, event_ms: m.event_ms }
        }
    })
}
