//! Render Binance frames in the venue's exact JSON shape from mantissas and scales, for the demo's
//! synthetic market and for tests. No serde, no allocation beyond growing `out`; prices and
//! quantities are printed with exactly `scale` decimals, as Binance prints them.
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
}
