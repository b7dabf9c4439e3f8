//! The parsed, not yet normalized form of a Binance frame, shared by the scanner and the serde
//! parser so both feed the same normalization code.

use std::borrow::Cow;

/// What a payload is, decided from the same three keys by both parsers: `lastUpdateId` present →
/// REST snapshot; else by `e`; a payload without `e` but with `u` is a spot `bookTicker`;
/// anything else (klines, subscription replies, …) is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    BookTicker,
    Trade,
    AggTrade,
    Depth,
    Snapshot,
    Ignored,
}

impl Kind {
    pub(crate) fn decide(has_last_update_id: bool, e: Option<&[u8]>, has_u: bool) -> Kind {
        if has_last_update_id {
            return Kind::Snapshot;
        }
        match e {
            Some(b"depthUpdate") => Kind::Depth,
            Some(b"trade") => Kind::Trade,
            Some(b"aggTrade") => Kind::AggTrade,
            Some(b"bookTicker") => Kind::BookTicker,
            Some(_) => Kind::Ignored,
            None if has_u => Kind::BookTicker,
            None => Kind::Ignored,
        }
    }
}

/// Byte offsets `[px_start, px_end, qty_start, qty_end]` of each level's strings, bids and asks:
/// into the frame (scanner) or into `text` when `in_text` (serde fallback, which copies the
/// possibly unescaped strings there). Reused across frames (no allocation once grown).
#[derive(Debug, Default)]
pub(crate) struct LevelSpans {
    pub(crate) bids: Vec<[u32; 4]>,
    pub(crate) asks: Vec<[u32; 4]>,
    pub(crate) text: Vec<u8>,
    pub(crate) in_text: bool,
}

impl LevelSpans {
    pub(crate) fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.text.clear();
        self.in_text = false;
    }
}

/// One parsed frame. Decimal strings are still raw bytes: they become mantissas once the
/// instrument (and so its scale) is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    BookTicker {
        symbol: Cow<'a, str>,
        update_id: u64,
        event_ms: Option<u64>,
        bid_px: Cow<'a, [u8]>,
        bid_qty: Cow<'a, [u8]>,
        ask_px: Cow<'a, [u8]>,
        ask_qty: Cow<'a, [u8]>,
    },
    Trade {
        symbol: Cow<'a, str>,
        event_ms: u64,
        id: u64,
        px: Cow<'a, [u8]>,
        qty: Cow<'a, [u8]>,
        buyer_is_maker: bool,
    },
    /// Levels in [`LevelSpans`].
    Depth {
        symbol: Cow<'a, str>,
        event_ms: u64,
        first_id: u64,
        final_id: u64,
        prev_final_id: Option<u64>,
    },
    /// Levels in [`LevelSpans`].
    Snapshot {
        /// The symbol the body names (COIN-M bodies carry it; spot and USD-M ones do not).
        symbol: Option<Cow<'a, str>>,
        last_update_id: u64,
        event_ms: Option<u64>,
    },
    Ignored,
}
