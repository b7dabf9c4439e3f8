//! Render Deribit subscription notifications (JSON-RPC 2.0) from mantissas, for the demo's
//! synthetic markets and for tests: `book.*` snapshots and changes, the `ticker.*` of a future or
//! perpetual, `trades.*`. Prices and amounts are JSON numbers, as Deribit sends them, with
//! trailing zeros dropped; futures amounts are USD.
//!
//! Every function appends one frame to `out` (it does not clear it). Mantissas are expected to be
//! non-negative.

use std::io::Write as _;

use crate::binance::encode::Scales;
use crate::decimal::{write_decimal, write_u64};
use crate::event::PxQty;

/// What a book change does to a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookAction {
    /// A price level that was not in the book.
    New,
    /// A new amount at an existing level.
    Change,
    /// The level is gone (its amount is written as 0).
    Delete,
}

impl BookAction {
    const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Change => "change",
            Self::Delete => "delete",
        }
    }
}

fn num(out: &mut Vec<u8>, m: i64, scale: u8) {
    write_decimal(out, m, scale, 1);
}

fn head(out: &mut Vec<u8>, channel: &str, instrument: &str, interval: &str) {
    out.extend_from_slice(
        b"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":\"",
    );
    out.extend_from_slice(channel.as_bytes());
    out.push(b'.');
    out.extend_from_slice(instrument.as_bytes());
    out.push(b'.');
    out.extend_from_slice(interval.as_bytes());
    out.extend_from_slice(b"\",\"data\":");
}

fn levels(out: &mut Vec<u8>, levels: &[(BookAction, PxQty)], s: Scales) {
    out.push(b'[');
    for (i, (a, l)) in levels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"[\"");
        out.extend_from_slice(a.as_str().as_bytes());
        out.extend_from_slice(b"\",");
        num(out, l.px, s.px);
        out.push(b',');
        num(out, if *a == BookAction::Delete { 0 } else { l.qty }, s.qty);
        out.push(b']');
    }
    out.push(b']');
}

/// One book notification: levels best first on each side.
#[derive(Debug, Clone, Copy)]
pub struct BookFrame<'a> {
    /// Instrument name (`BTC-PERPETUAL`).
    pub instrument: &'a str,
    /// Channel interval (`100ms`, `raw`).
    pub interval: &'a str,
    /// Venue timestamp, ms.
    pub ts_ms: u64,
    /// This notification's `change_id`.
    pub change_id: u64,
    /// The previous notification's `change_id` (`None`: a snapshot).
    pub prev_change_id: Option<u64>,
    /// Bid levels, descending prices.
    pub bids: &'a [(BookAction, PxQty)],
    /// Ask levels, ascending prices.
    pub asks: &'a [(BookAction, PxQty)],
}

/// `book.<instrument>.<interval>`: a `"type":"snapshot"` (every level `new`) when
/// `prev_change_id` is `None`, else a `"type":"change"` chained to it.
pub fn book(out: &mut Vec<u8>, b: &BookFrame<'_>, s: Scales) {
    head(out, "book", b.instrument, b.interval);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(if b.prev_change_id.is_some() {
        b"change"
    } else {
        b"snapshot"
    });
    out.extend_from_slice(b"\",\"timestamp\":");
    write_u64(out, b.ts_ms);
    if let Some(p) = b.prev_change_id {
        out.extend_from_slice(b",\"prev_change_id\":");
        write_u64(out, p);
    }
    out.extend_from_slice(b",\"instrument_name\":\"");
    out.extend_from_slice(b.instrument.as_bytes());
    out.extend_from_slice(b"\",\"change_id\":");
    write_u64(out, b.change_id);
    out.extend_from_slice(b",\"bids\":");
    levels(out, b.bids, s);
    out.extend_from_slice(b",\"asks\":");
    levels(out, b.asks, s);
    out.extend_from_slice(b"}}}");
}

/// The ticker of a future or perpetual.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FutureTicker {
    /// Venue timestamp, ms.
    pub ts_ms: u64,
    /// Best bid price and amount (USD) mantissas.
    pub best_bid: PxQty,
    /// Best ask price and amount mantissas.
    pub best_ask: PxQty,
    /// Mark price mantissa.
    pub mark_px: i64,
    /// Index price mantissa.
    pub index_px: i64,
    /// Open interest, USD mantissa (at the quantity scale).
    pub open_interest: i64,
    /// Perpetuals: the current funding rate and its 8-hour average, fractions (`None`: a dated
    /// future, which has neither).
    pub funding: Option<(f64, f64)>,
}

/// `ticker.<instrument>.<interval>` of a future or perpetual.
pub fn future_ticker(
    out: &mut Vec<u8>,
    instrument: &str,
    interval: &str,
    t: &FutureTicker,
    s: Scales,
) {
    head(out, "ticker", instrument, interval);
    out.extend_from_slice(b"{\"timestamp\":");
    write_u64(out, t.ts_ms);
    out.extend_from_slice(b",\"state\":\"open\",\"instrument_name\":\"");
    out.extend_from_slice(instrument.as_bytes());
    out.extend_from_slice(b"\",\"mark_price\":");
    num(out, t.mark_px, s.px);
    out.extend_from_slice(b",\"index_price\":");
    num(out, t.index_px, s.px);
    out.extend_from_slice(b",\"open_interest\":");
    num(out, t.open_interest, s.qty);
    if let Some((current, avg_8h)) = t.funding {
        // Writing into a Vec cannot fail.
        let _ = write!(
            out,
            ",\"current_funding\":{current:?},\"funding_8h\":{avg_8h:?}"
        );
    }
    out.extend_from_slice(b",\"best_bid_price\":");
    num(out, t.best_bid.px, s.px);
    out.extend_from_slice(b",\"best_bid_amount\":");
    num(out, t.best_bid.qty, s.qty);
    out.extend_from_slice(b",\"best_ask_price\":");
    num(out, t.best_ask.px, s.px);
    out.extend_from_slice(b",\"best_ask_amount\":");
    num(out, t.best_ask.qty, s.qty);
    out.extend_from_slice(b",\"stats\":{}}}}");
}

/// One trade of a `trades.*` notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    /// The instrument's trade sequence number.
    pub trade_seq: u64,
    /// Trade id.
    pub trade_id: u64,
    /// Venue timestamp, ms.
    pub ts_ms: u64,
    /// Price mantissa.
    pub px: i64,
    /// Amount mantissa (USD for futures).
    pub amount: i64,
    /// Taker side: buy (`true`) or sell.
    pub buy: bool,
    /// Mark price mantissa.
    pub mark_px: i64,
    /// Index price mantissa.
    pub index_px: i64,
}

/// `trades.<instrument>.<interval>` carrying `trades` in order.
pub fn trades(out: &mut Vec<u8>, instrument: &str, interval: &str, trades: &[Trade], s: Scales) {
    head(out, "trades", instrument, interval);
    out.push(b'[');
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"trade_seq\":");
        write_u64(out, t.trade_seq);
        out.extend_from_slice(b",\"trade_id\":\"");
        write_u64(out, t.trade_id);
        out.extend_from_slice(b"\",\"timestamp\":");
        write_u64(out, t.ts_ms);
        out.extend_from_slice(b",\"tick_direction\":0,\"price\":");
        num(out, t.px, s.px);
        out.extend_from_slice(b",\"mark_price\":");
        num(out, t.mark_px, s.px);
        out.extend_from_slice(b",\"instrument_name\":\"");
        out.extend_from_slice(instrument.as_bytes());
        out.extend_from_slice(b"\",\"index_price\":");
        num(out, t.index_px, s.px);
        out.extend_from_slice(b",\"direction\":\"");
        out.extend_from_slice(if t.buy { b"buy" } else { b"sell" });
        out.extend_from_slice(b"\",\"amount\":");
        num(out, t.amount, s.qty);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deribit::DeribitFeed;
    use crate::event::{EventKind, Side};
    use crate::registry::Registry;

    const S: Scales = Scales { px: 1, qty: 0 };

    fn pq(px: i64, qty: i64) -> PxQty {
        PxQty { px, qty }
    }

    #[test]
    fn frames_parse_back_exactly_through_the_feed() {
        let mut feed = DeribitFeed::new(Registry::new());
        let mut events = Vec::new();
        let mut f = Vec::new();
        let new = |l| (BookAction::New, l);
        book(
            &mut f,
            &BookFrame {
                instrument: "BTC-PERPETUAL",
                interval: "100ms",
                ts_ms: 1_700_000_000_000,
                change_id: 10,
                prev_change_id: None,
                bids: &[new(pq(600_005, 1_000)), new(pq(600_000, 20))],
                asks: &[new(pq(600_010, 500))],
            },
            S,
        );
        feed.on_frame(1, &f, &mut |e| events.push(e)).unwrap();
        f.clear();
        book(
            &mut f,
            &BookFrame {
                instrument: "BTC-PERPETUAL",
                interval: "100ms",
                ts_ms: 1_700_000_000_100,
                change_id: 13,
                prev_change_id: Some(10),
                bids: &[(BookAction::Delete, pq(600_005, 0))],
                asks: &[(BookAction::Change, pq(600_010, 70))],
            },
            S,
        );
        feed.on_frame(2, &f, &mut |e| events.push(e)).unwrap();
        let bbo = events.iter().rfind(|e| e.kind == EventKind::Bbo).unwrap();
        // 60 000.0 USD and 20 USD at the feed's 8 decimals.
        assert_eq!(bbo.bid.px, 60_000 * 100_000_000);
        assert_eq!(bbo.bid.qty, 20 * 100_000_000);
        assert_eq!(bbo.ask.qty, 70 * 100_000_000);
        assert!(bbo.book_valid());

        f.clear();
        future_ticker(
            &mut f,
            "BTC-PERPETUAL",
            "100ms",
            &FutureTicker {
                ts_ms: 1_700_000_000_200,
                best_bid: pq(600_000, 20),
                best_ask: pq(600_010, 70),
                mark_px: 600_005,
                index_px: 599_990,
                open_interest: 1_000_000,
                funding: Some((0.0001, 0.00005)),
            },
            S,
        );
        let text = std::str::from_utf8(&f).unwrap();
        assert!(text.contains("\"funding_8h\":5e-5"), "{text}");
        let before = events.len();
        feed.on_frame(3, &f, &mut |e| events.push(e)).unwrap();
        assert_eq!(events[before].kind, EventKind::Bbo);
        assert_eq!(events[before].ask.px, 60_001 * 100_000_000);

        f.clear();
        trades(
            &mut f,
            "BTC-PERPETUAL",
            "100ms",
            &[Trade {
                trade_seq: 7,
                trade_id: 99,
                ts_ms: 1_700_000_000_300,
                px: 600_010,
                amount: 30,
                buy: true,
                mark_px: 600_005,
                index_px: 599_990,
            }],
            S,
        );
        let before = events.len();
        feed.on_frame(4, &f, &mut |e| events.push(e)).unwrap();
        let t = events[before];
        assert_eq!((t.kind, t.side, t.seq), (EventKind::Trade, Side::Buy, 7));
        assert_eq!(t.bid.qty, 30 * 100_000_000);
        assert_eq!(feed.stats().malformed, 0);
    }
}
