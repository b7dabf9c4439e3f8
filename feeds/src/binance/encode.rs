//! Render Binance frames (spot, USD-M and COIN-M futures) in the venue's exact JSON shape from
//! mantissas and scales, for the demo's synthetic markets and for tests. No serde, no allocation
//! beyond growing `out`; prices and quantities are printed with exactly `scale` decimals, as
//! Binance prints them.
//!
//! Every function appends one frame to `out` (it does not clear it). Mantissas are expected to be
//! non-negative (Binance never sends signs; the parser rejects them).

use crate::decimal::{write_decimal, write_u64};
use crate::event::PxQty;

/// Decimal scales of one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scales {
    /// Price decimals.
    pub px: u8,
    /// Quantity decimals.
    pub qty: u8,
}

fn dec(out: &mut Vec<u8>, m: i64, scale: u8) {
    out.push(b'"');
    write_decimal(out, m, scale, scale);
    out.push(b'"');
}

fn lower(out: &mut Vec<u8>, symbol: &str) {
    out.extend(symbol.bytes().map(|c| c.to_ascii_lowercase()));
}

fn stream_head(out: &mut Vec<u8>, symbol: &str, stream: &str) {
    out.extend_from_slice(b"{\"stream\":\"");
    lower(out, symbol);
    out.extend_from_slice(stream.as_bytes());
    out.extend_from_slice(b"\",\"data\":{");
}

fn levels(out: &mut Vec<u8>, levels: &[PxQty], s: Scales) {
    out.push(b'[');
    for (i, l) in levels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        dec(out, l.px, s.px);
        out.push(b',');
        dec(out, l.qty, s.qty);
        out.push(b']');
    }
    out.push(b']');
}

/// Spot `<symbol>@bookTicker` in the combined envelope:
/// `{"stream":"btcusdt@bookTicker","data":{"u":…,"s":"BTCUSDT","b":"…","B":"…","a":"…","A":"…"}}`.
pub fn book_ticker(
    out: &mut Vec<u8>,
    symbol: &str,
    update_id: u64,
    bid: PxQty,
    ask: PxQty,
    s: Scales,
) {
    stream_head(out, symbol, "@bookTicker");
    out.extend_from_slice(b"\"u\":");
    write_u64(out, update_id);
    out.extend_from_slice(b",\"s\":\"");
    out.extend_from_slice(symbol.as_bytes());
    out.extend_from_slice(b"\",\"b\":");
    dec(out, bid.px, s.px);
    out.extend_from_slice(b",\"B\":");
    dec(out, bid.qty, s.qty);
    out.extend_from_slice(b",\"a\":");
    dec(out, ask.px, s.px);
    out.extend_from_slice(b",\"A\":");
    dec(out, ask.qty, s.qty);
    out.extend_from_slice(b"}}");
}

/// Spot `<symbol>@trade` in the combined envelope. `buyer_is_maker` true = seller-initiated.
#[allow(clippy::too_many_arguments)] // mirrors the frame's fields one to one
pub fn trade(
    out: &mut Vec<u8>,
    symbol: &str,
    event_ms: u64,
    trade_id: u64,
    px: i64,
    qty: i64,
    trade_ms: u64,
    buyer_is_maker: bool,
    s: Scales,
) {
    stream_head(out, symbol, "@trade");
    out.extend_from_slice(b"\"e\":\"trade\",\"E\":");
    write_u64(out, event_ms);
    out.extend_from_slice(b",\"s\":\"");
    out.extend_from_slice(symbol.as_bytes());
    out.extend_from_slice(b"\",\"t\":");
    write_u64(out, trade_id);
    out.extend_from_slice(b",\"p\":");
    dec(out, px, s.px);
    out.extend_from_slice(b",\"q\":");
    dec(out, qty, s.qty);
    out.extend_from_slice(b",\"T\":");
    write_u64(out, trade_ms);
    out.extend_from_slice(if buyer_is_maker {
        b",\"m\":true,\"M\":true}}"
    } else {
        b",\"m\":false,\"M\":true}}"
    });
}

/// Spot `<symbol>@depth@100ms` diff in the combined envelope (levels with quantity 0 remove).
#[allow(clippy::too_many_arguments)] // mirrors the frame's fields one to one
pub fn depth_update(
    out: &mut Vec<u8>,
    symbol: &str,
    event_ms: u64,
    first_id: u64,
    final_id: u64,
    bids: &[PxQty],
    asks: &[PxQty],
    s: Scales,
) {
    stream_head(out, symbol, "@depth@100ms");
    out.extend_from_slice(b"\"e\":\"depthUpdate\",\"E\":");
    write_u64(out, event_ms);
    out.extend_from_slice(b",\"s\":\"");
    out.extend_from_slice(symbol.as_bytes());
    out.extend_from_slice(b"\",\"U\":");
    write_u64(out, first_id);
    out.extend_from_slice(b",\"u\":");
    write_u64(out, final_id);
    out.extend_from_slice(b",\"b\":");
    levels(out, bids, s);
    out.extend_from_slice(b",\"a\":");
    levels(out, asks, s);
    out.extend_from_slice(b"}}");
}

/// Spot REST depth snapshot body `{"lastUpdateId":…,"bids":[…],"asks":[…]}` (bids best first,
/// asks best first, as the venue sends them).
pub fn snapshot(out: &mut Vec<u8>, last_update_id: u64, bids: &[PxQty], asks: &[PxQty], s: Scales) {
    out.extend_from_slice(b"{\"lastUpdateId\":");
    write_u64(out, last_update_id);
    out.extend_from_slice(b",\"bids\":");
    levels(out, bids, s);
    out.extend_from_slice(b",\"asks\":");
    levels(out, asks, s);
    out.push(b'}');
}

/// The futures market a frame is rendered for: USD-M, or COIN-M with its pair (`BTCUSD` for
/// `BTCUSD_PERP`), which COIN-M frames carry as `ps` (streams) or `pair` (REST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Futures<'a> {
    /// USD-M (`BTCUSDT`).
    UsdM,
    /// COIN-M, with the symbol's pair.
    CoinM {
        /// The pair, `BTCUSD` for `BTCUSD_PERP`.
        pair: &'a str,
    },
}

fn pair_field(out: &mut Vec<u8>, fut: Futures<'_>, key: &[u8]) {
    if let Futures::CoinM { pair } = fut {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key);
        out.extend_from_slice(b"\":\"");
        out.extend_from_slice(pair.as_bytes());
        out.push(b'"');
    }
}

/// USD-M / COIN-M futures `<symbol>@bookTicker` in the combined envelope, in each market's key
/// order: USD-M `{"e":"bookTicker","u":…,"E":…,"T":…,"s":…,"b":…,"B":…,"a":…,"A":…}`, COIN-M
/// `{"e":"bookTicker","u":…,"s":…,"ps":…,"b":…,"B":…,"a":…,"A":…,"T":…,"E":…}`.
#[allow(clippy::too_many_arguments)] // mirrors the frame's fields one to one
pub fn futures_book_ticker(
    out: &mut Vec<u8>,
    fut: Futures<'_>,
    symbol: &str,
    update_id: u64,
    event_ms: u64,
    txn_ms: u64,
    bid: PxQty,
    ask: PxQty,
    s: Scales,
) {
    stream_head(out, symbol, "@bookTicker");
    out.extend_from_slice(b"\"e\":\"bookTicker\",\"u\":");
    write_u64(out, update_id);
    if fut == Futures::UsdM {
        out.extend_from_slice(b",\"E\":");
        write_u64(out, event_ms);
        out.extend_from_slice(b",\"T\":");
        write_u64(out, txn_ms);
    }
    out.extend_from_slice(b",\"s\":\"");
    out.extend_from_slice(symbol.as_bytes());
    out.push(b'"');
    pair_field(out, fut, b"ps");
    out.extend_from_slice(b",\"b\":");
    dec(out, bid.px, s.px);
    out.extend_from_slice(b",\"B\":");
    dec(out, bid.qty, s.qty);
    out.extend_from_slice(b",\"a\":");
    dec(out, ask.px, s.px);
    out.extend_from_slice(b",\"A\":");
    dec(out, ask.qty, s.qty);
    if fut != Futures::UsdM {
        out.extend_from_slice(b",\"T\":");
        write_u64(out, txn_ms);
        out.extend_from_slice(b",\"E\":");
        write_u64(out, event_ms);
    }
    out.extend_from_slice(b"}}");
}

/// `<symbol>@aggTrade` in the combined envelope (the futures trade stream, USD-M and COIN-M
/// alike): `{"e":"aggTrade","E":…,"s":…,"a":…,"p":…,"q":…,"f":…,"l":…,"T":…,"m":…}`.
/// `buyer_is_maker` true = seller-initiated.
#[allow(clippy::too_many_arguments)] // mirrors the frame's fields one to one
pub fn agg_trade(
    out: &mut Vec<u8>,
    symbol: &str,
    event_ms: u64,
    agg_id: u64,
    px: i64,
    qty: i64,
    first_trade_id: u64,
    last_trade_id: u64,
    trade_ms: u64,
    buyer_is_maker: bool,
    s: Scales,
) {
    stream_head(out, symbol, "@aggTrade");
    out.extend_from_slice(b"\"e\":\"aggTrade\",\"E\":");
    write_u64(out, event_ms);
    out.extend_from_slice(b",\"s\":\"");
    out.extend_from_slice(symbol.as_bytes());
    out.extend_from_slice(b"\",\"a\":");
    write_u64(out, agg_id);
    out.extend_from_slice(b",\"p\":");
    dec(out, px, s.px);
    out.extend_from_slice(b",\"q\":");
    dec(out, qty, s.qty);
    out.extend_from_slice(b",\"f\":");
    write_u64(out, first_trade_id);
    out.extend_from_slice(b",\"l\":");
    write_u64(out, last_trade_id);
    out.extend_from_slice(b",\"T\":");
    write_u64(out, trade_ms);
    out.extend_from_slice(if buyer_is_maker {
        b",\"m\":true}}"
    } else {
        b",\"m\":false}}"
    });
}

/// Futures `<symbol>@depth@100ms` diff in the combined envelope: `pu` is the previous diff's
/// `u` (futures ids are not consecutive); COIN-M adds `ps` after `s`.
#[allow(clippy::too_many_arguments)] // mirrors the frame's fields one to one
pub fn futures_depth_update(
    out: &mut Vec<u8>,
    fut: Futures<'_>,
    symbol: &str,
    event_ms: u64,
    txn_ms: u64,
    ids: [u64; 3],
    bids: &[PxQty],
    asks: &[PxQty],
    s: Scales,
) {
    let [first_id, final_id, prev_final_id] = ids;
    stream_head(out, symbol, "@depth@100ms");
    out.extend_from_slice(b"\"e\":\"depthUpdate\",\"E\":");
    write_u64(out, event_ms);
    out.extend_from_slice(b",\"T\":");
    write_u64(out, txn_ms);
    out.extend_from_slice(b",\"s\":\"");
    out.extend_from_slice(symbol.as_bytes());
    out.push(b'"');
    pair_field(out, fut, b"ps");
    out.extend_from_slice(b",\"U\":");
    write_u64(out, first_id);
    out.extend_from_slice(b",\"u\":");
    write_u64(out, final_id);
    out.extend_from_slice(b",\"pu\":");
    write_u64(out, prev_final_id);
    out.extend_from_slice(b",\"b\":");
    levels(out, bids, s);
    out.extend_from_slice(b",\"a\":");
    levels(out, asks, s);
    out.extend_from_slice(b"}}");
}

/// Futures REST depth snapshot body: USD-M `{"lastUpdateId":…,"E":…,"T":…,"bids":…,"asks":…}`;
/// COIN-M adds `"symbol":…,"pair":…` after `lastUpdateId`. Levels best first.
#[allow(clippy::too_many_arguments)] // mirrors the body's fields one to one
pub fn futures_snapshot(
    out: &mut Vec<u8>,
    fut: Futures<'_>,
    symbol: &str,
    last_update_id: u64,
    event_ms: u64,
    txn_ms: u64,
    bids: &[PxQty],
    asks: &[PxQty],
    s: Scales,
) {
    out.extend_from_slice(b"{\"lastUpdateId\":");
    write_u64(out, last_update_id);
    if let Futures::CoinM { .. } = fut {
        out.extend_from_slice(b",\"symbol\":\"");
        out.extend_from_slice(symbol.as_bytes());
        out.push(b'"');
    }
    pair_field(out, fut, b"pair");
    out.extend_from_slice(b",\"E\":");
    write_u64(out, event_ms);
    out.extend_from_slice(b",\"T\":");
    write_u64(out, txn_ms);
    out.extend_from_slice(b",\"bids\":");
    levels(out, bids, s);
    out.extend_from_slice(b",\"asks\":");
    levels(out, asks, s);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    const S8: Scales = Scales { px: 8, qty: 8 };

    #[test]
    fn book_ticker_matches_venue_bytes() {
        let mut v = Vec::new();
        let bid = PxQty {
            px: 6_183_763_000_000,
            qty: 378_826_000,
        };
        let ask = PxQty {
            px: 6_183_764_000_000,
            qty: 154_698_000,
        };
        book_ticker(&mut v, "BTCUSDT", 50_093_239_212, bid, ask, S8);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#
        );
    }

    #[test]
    fn trade_and_depth_match_venue_bytes() {
        let mut v = Vec::new();
        trade(
            &mut v,
            "BTCUSDT",
            1_723_161_255_343,
            3_735_683_259,
            6_183_763_000_000,
            2_000_000,
            1_723_161_255_342,
            true,
            S8,
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#
        );
        v.clear();
        let b = [PxQty {
            px: 5_565_387_000_000,
            qty: 0,
        }];
        let a = [
            PxQty {
                px: 6_183_804_000_000,
                qty: 32_332_000,
            },
            PxQty {
                px: 6_184_430_000_000,
                qty: 40_163_000,
            },
        ];
        depth_update(
            &mut v,
            "BTCUSDT",
            1_723_161_255_308,
            50_093_239_203,
            50_093_239_207,
            &b,
            &a,
            S8,
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],"a":[["61838.04000000","0.32332000"],["61844.30000000","0.40163000"]]}}"#
        );
        v.clear();
        snapshot(&mut v, 7, &[], &b, Scales { px: 2, qty: 0 });
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"lastUpdateId":7,"bids":[],"asks":[["55653870000.00","0"]]}"#
        );
    }

    #[test]
    fn futures_frames_match_venue_bytes() {
        let s = Scales { px: 1, qty: 0 };
        let pq = |px, qty| PxQty { px, qty };
        let coinm = Futures::CoinM { pair: "BTCUSD" };
        let mut v = Vec::new();
        futures_book_ticker(
            &mut v,
            coinm,
            "BTCUSD_PERP",
            17_242_169,
            1_591_268_628_166,
            1_591_268_628_155,
            pq(95_481, 52),
            pq(95_485, 11),
            s,
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"stream":"btcusd_perp@bookTicker","data":{"e":"bookTicker","u":17242169,"s":"BTCUSD_PERP","ps":"BTCUSD","b":"9548.1","B":"52","a":"9548.5","A":"11","T":1591268628155,"E":1591268628166}}"#
        );
        v.clear();
        let s2 = Scales { px: 2, qty: 3 };
        futures_book_ticker(
            &mut v,
            Futures::UsdM,
            "BTCUSDT",
            400_900_217,
            1_568_014_460_893,
            1_568_014_460_891,
            pq(6_000_010, 1_500),
            pq(6_000_020, 40),
            s2,
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BTCUSDT","b":"60000.10","B":"1.500","a":"60000.20","A":"0.040"}}"#
        );
        v.clear();
        agg_trade(
            &mut v,
            "BTCUSDT",
            123_456_789,
            5_933_014,
            6_000_010,
            100,
            100,
            105,
            123_456_785,
            true,
            s2,
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":123456789,"s":"BTCUSDT","a":5933014,"p":"60000.10","q":"0.100","f":100,"l":105,"T":123456785,"m":true}}"#
        );
        v.clear();
        futures_depth_update(
            &mut v,
            coinm,
            "BTCUSD_PERP",
            1_591_270_260_907,
            1_591_270_260_891,
            [17_285_681, 17_285_702, 17_285_675],
            &[pq(95_327, 0)],
            &[pq(95_341, 6)],
            s,
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"stream":"btcusd_perp@depth@100ms","data":{"e":"depthUpdate","E":1591270260907,"T":1591270260891,"s":"BTCUSD_PERP","ps":"BTCUSD","U":17285681,"u":17285702,"pu":17285675,"b":[["9532.7","0"]],"a":[["9534.1","6"]]}}"#
        );
        v.clear();
        futures_snapshot(
            &mut v,
            coinm,
            "BTCUSD_PERP",
            16_769_853,
            1_591_250_106_370,
            1_591_250_106_368,
            &[pq(95_327, 4)],
            &[],
            s,
        );
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"lastUpdateId":16769853,"symbol":"BTCUSD_PERP","pair":"BTCUSD","E":1591250106370,"T":1591250106368,"bids":[["9532.7","4"]],"asks":[]}"#
        );
        v.clear();
        futures_snapshot(&mut v, Futures::UsdM, "BTCUSDT", 7, 2, 1, &[], &[], s);
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            r#"{"lastUpdateId":7,"E":2,"T":1,"bids":[],"asks":[]}"#
        );
    }
}
