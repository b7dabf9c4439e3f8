//! Order encode + sign cost per order, beside the HMAC-only floor measured in the same run:
//! - Binance `order.place` under HMAC: the request as the adapters built it before (parameters
//!   as owned `String`s, a `serde_json::Map`, `format!`, `to_string`; reproduced here as the
//!   baseline) and as they build it now ([`venues::exec::binance::encode_request`]: one reused
//!   buffer, exact decimals, signature into a fixed buffer); the logged-on request (no signature);
//! - Deribit `private/buy`: `json!` with decimals through `f64` (before) vs
//!   [`venues::exec::deribit::encode_order`] (now);
//! - the websocket client frame (mask + copy) of the encoded request;
//! - the answers: a Binance `order.place` FULL response (two fills) and a Deribit `private/buy`
//!   response (order and two trades) read into a final report, as the adapters read them before
//!   (`serde_json::Value`, Deribit decimals through `f64` text; reproduced here as the baseline)
//!   and now ([`venues::exec::ack`]: walked in place, exact decimals, no allocation).
//!
//! `cargo bench -p ballast-bench --bench order_encode`. Two shared cores here: read the ratios.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use feeds::Side;
use net::ws::encode_client_text_frame;
use serde_json::Value;
use venues::exec::ack;
use venues::exec::binance::{encode_request, Param, ReqId};
use venues::exec::deribit::encode_order;
use venues::exec::sign::HmacSigner;

const SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

fn dec_string(m: i64, scale: u8) -> String {
    let mut v = Vec::with_capacity(24);
    feeds::write_decimal(&mut v, m, scale, 0);
    String::from_utf8(v).unwrap_or_default()
}

/// The Binance request as built before (commit af53d9f's `build_request`), the baseline.
fn binance_before(signer: &HmacSigner, payload: &mut String, id: u64, now_ms: u64) -> String {
    let mut params: Vec<(&'static str, String)> = vec![
        ("symbol", "BTCUSDT".to_owned()),
        ("side", "BUY".to_owned()),
        ("type", "LIMIT".to_owned()),
        ("timeInForce", "IOC".to_owned()),
        ("quantity", dec_string(200_000, 8)),
        ("price", dec_string(6_000_001_000_000, 8)),
        ("newClientOrderId", format!("bl-{id}")),
        ("newOrderRespType", "FULL".to_owned()),
    ];
    params.push(("timestamp", now_ms.to_string()));
    params.push(("recvWindow", 5000u64.to_string()));
    params.push(("apiKey", KEY.to_owned()));
    params.sort_by(|a, b| a.0.cmp(b.0));
    payload.clear();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            payload.push('&');
        }
        let _ = write!(payload, "{k}={v}");
    }
    let sig = signer.sign_hex(payload.as_bytes());
    params.push(("signature", String::from_utf8_lossy(&sig).into_owned()));
    let mut p = serde_json::Map::with_capacity(params.len());
    for (k, v) in params.drain(..) {
        let v = match k {
            "timestamp" | "recvWindow" => v.parse::<u64>().map_or(Value::from(v), Value::from),
            _ => Value::from(v),
        };
        p.insert(k.to_owned(), v);
    }
    serde_json::json!({"id": format!("p{id}"), "method": "order.place", "params": p}).to_string()
}

fn binance_now(
    hmac: Option<(&str, &HmacSigner)>,
    out: &mut Vec<u8>,
    payload: &mut Vec<u8>,
    id: u64,
    now_ms: u64,
) {
    encode_request(
        out,
        payload,
        hmac,
        now_ms,
        5000,
        ReqId {
            kind: b'p',
            order: id,
            seq: 0,
        },
        "order.place",
        &[
            ("symbol", Param::Str("BTCUSDT")),
            ("side", Param::Str("BUY")),
            ("type", Param::Str("LIMIT")),
            ("timeInForce", Param::Str("IOC")),
            ("quantity", Param::Dec(200_000, 8)),
            ("price", Param::Dec(6_000_001_000_000, 8)),
            ("newClientOrderId", Param::Id("bl-", id)),
            ("newOrderRespType", Param::Str("FULL")),
        ],
    );
}

fn deribit_dec_f64(m: i64, scale: u8) -> Value {
    dec_string(m, scale)
        .parse::<f64>()
        .map_or(Value::Null, Value::from)
}

/// The Deribit order as built before (`json!`, decimals through `f64`), the baseline.
fn deribit_before(id: u64) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "private/buy", "params": {
        "instrument_name": "BTC-PERPETUAL", "amount": deribit_dec_f64(1_000_000_000, 8), "type": "limit",
        "price": deribit_dec_f64(6_000_050_000_000, 8), "time_in_force": "immediate_or_cancel",
        "label": format!("bl-{id}")}})
    .to_string()
}

/// A Binance `order.place` answer (FULL response type, two fills) as the venue writes it.
const BINANCE_ACK: &str = r#"{"id":"p7","status":200,"result":{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"bl-7","transactTime":1700000000000,"price":"60001.00000000","origQty":"0.00300000","executedQty":"0.00300000","cummulativeQuoteQty":"180.00003000","status":"FILLED","timeInForce":"IOC","type":"LIMIT","side":"BUY","workingTime":1700000000000,"fills":[{"price":"60000.00000000","qty":"0.00100000","commission":"0.00000000","commissionAsset":"BNB","tradeId":1},{"price":"60000.01500000","qty":"0.00200000","commission":"0.00000000","commissionAsset":"BNB","tradeId":2}],"selfTradePreventionMode":"NONE"},"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1},{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":4}]}"#;

/// A Deribit `private/buy` answer (order filled in two trades) as the venue writes it.
const DERIBIT_ACK: &str = r#"{"jsonrpc":"2.0","id":7,"result":{"order":{"order_id":"ETH-7","order_state":"filled","order_type":"limit","direction":"buy","price":60001.0,"amount":30.0,"filled_amount":30.0,"average_price":60000.3333,"label":"bl-7","instrument_name":"BTC-PERPETUAL","creation_timestamp":1700000000000,"last_update_timestamp":1700000000001,"time_in_force":"immediate_or_cancel","post_only":false,"reduce_only":false,"api":true,"web":false,"replaced":false,"is_liquidation":false,"max_show":30.0,"commission":0.0,"cancel_reason":"immediate_or_cancel"},"trades":[{"trade_id":"T-1","trade_seq":1,"order_id":"ETH-7","instrument_name":"BTC-PERPETUAL","direction":"buy","price":60000.0,"amount":10.0,"timestamp":1700000000000,"state":"filled","fee":1.5e-07,"fee_currency":"BTC","liquidity":"T","label":"bl-7","order_type":"limit","index_price":60000.12,"mark_price":60000.1,"tick_direction":1,"matching_id":null,"api":true,"post_only":false,"reduce_only":false},{"trade_id":"T-2","trade_seq":2,"order_id":"ETH-7","instrument_name":"BTC-PERPETUAL","direction":"buy","price":60000.5,"amount":20.0,"timestamp":1700000000000,"state":"filled","fee":3.0e-07,"fee_currency":"BTC","liquidity":"T","label":"bl-7","order_type":"limit","index_price":60000.12,"mark_price":60000.1,"tick_direction":1,"matching_id":null,"api":true,"post_only":false,"reduce_only":false}]},"usIn":1700000000000000,"usOut":1700000000000100,"usDiff":100,"testnet":true}"#;

/// The Binance answer read as before (the adapter's `on_message` + `final_report` up to commit
/// ed053ad, for an order of 0.003 at 60001): (filled, price) mantissas.
fn binance_ack_before(text: &[u8]) -> Option<(i64, i64)> {
    let v: Value = serde_json::from_slice(text).ok()?;
    let id = v.get("id").and_then(Value::as_str)?;
    let (_kind, rest) = id.split_at(1.min(id.len()));
    let _order: u64 = rest.split('-').next()?.parse().ok()?;
    if v.get("status").and_then(Value::as_u64).unwrap_or(0) != 200 {
        return None;
    }
    let r = v.get("result")?;
    let status = r.get("status")?.as_str()?;
    if !matches!(
        status,
        "FILLED" | "EXPIRED" | "CANCELED" | "REJECTED" | "EXPIRED_IN_MATCH"
    ) {
        return None;
    }
    let (ps, qs) = (8u8, 8u8);
    let d = |v: &Value, scale: u8| -> Option<i64> {
        feeds::parse_decimal(v.as_str()?.as_bytes(), scale)
            .ok()
            .map(|x| x.mantissa)
    };
    let filled = d(r.get("executedQty")?, qs)?.clamp(0, 300_000);
    let fills = r.get("fills").and_then(Value::as_array)?;
    let (mut num, mut den) = (0i128, 0i128);
    for f in fills {
        let (p, q) = (d(f.get("price")?, ps)?, d(f.get("qty")?, qs)?);
        num += i128::from(p) * i128::from(q);
        den += i128::from(q);
    }
    Some((filled, i64::try_from((num + den / 2) / den.max(1)).ok()?))
}

/// The Binance answer read now.
fn binance_ack_now(text: &[u8]) -> Option<(i64, i64)> {
    let r = ack::binance_response(text)?;
    let (_kind, _order) = ack::binance_req_id(r.id?)?;
    if r.status != Some(200) {
        return None;
    }
    let o = ack::binance_order_outcome(&r.order?, 8, 8, 300_000, 6_000_100_000_000)?;
    Some((o.filled, o.px))
}

/// The Deribit answer read as before (decimals through `serde_json`'s `f64` and its text), for
/// an order of 30 at 60001.
fn deribit_ack_before(text: &[u8]) -> Option<(i64, i64)> {
    let num_text = |v: &Value| match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    let d = |v: &Value, s: u8| {
        feeds::parse_decimal(num_text(v)?.as_bytes(), s)
            .ok()
            .map(|x| x.mantissa)
    };
    let v: Value = serde_json::from_slice(text).ok()?;
    if v.get("method").and_then(Value::as_str) == Some("subscription") {
        return None;
    }
    let _id = v.get("id").and_then(Value::as_u64)?;
    if v.get("error").is_some() {
        return None;
    }
    let res = v.get("result")?;
    let trades = res.get("trades").and_then(Value::as_array)?;
    let o = res.get("order")?;
    let state = o.get("order_state")?.as_str()?;
    if !matches!(state, "filled" | "cancelled" | "rejected") {
        return None;
    }
    let filled = d(o.get("filled_amount")?, 8)?.clamp(0, 3_000_000_000);
    let (mut num, mut den) = (0i128, 0i128);
    for t in trades {
        let (p, q) = (d(t.get("price")?, 8)?, d(t.get("amount")?, 8)?);
        num += i128::from(p) * i128::from(q);
        den += i128::from(q);
    }
    Some((filled, i64::try_from((num + den / 2) / den.max(1)).ok()?))
}

/// The Deribit answer read now.
fn deribit_ack_now(text: &[u8]) -> Option<(i64, i64)> {
    let m = ack::deribit_message(text)?;
    if m.is_subscription() || m.error.is_some() {
        return None;
    }
    let _id = m.id?;
    let o =
        ack::deribit_order_outcome(&m.order?, m.trades, 8, 8, 3_000_000_000, 6_000_100_000_000)?;
    Some((o.filled, o.px))
}

/// Median of `rounds` timings of `iters` calls of `f`, ns per call.
fn time(rounds: usize, iters: u64, mut f: impl FnMut(u64)) -> f64 {
    let mut v: Vec<f64> = (0..rounds)
        .map(|r| {
            let t = Instant::now();
            for i in 0..iters {
                f(r as u64 * iters + i);
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "order encode + sign per order, ns (median of 9 rounds); load average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let signer = HmacSigner::new(SECRET);
    let (rounds, iters) = (9, 50_000u64);
    let now_ms = 1_700_000_000_000u64;

    // The HMAC-only floor: the signature over the same payload the encoder signs.
    let (mut out, mut payload) = (Vec::with_capacity(2048), Vec::with_capacity(1024));
    binance_now(Some((KEY, &signer)), &mut out, &mut payload, 1, now_ms);
    let signed = payload.clone();
    let hmac = time(rounds, iters, |_| {
        black_box(signer.sign_hex(black_box(&signed)));
    });
    let mut sbuf = String::with_capacity(1024);
    let before = time(rounds, iters, |i| {
        black_box(binance_before(&signer, &mut sbuf, i, now_ms + i));
    });
    let now = time(rounds, iters, |i| {
        binance_now(Some((KEY, &signer)), &mut out, &mut payload, i, now_ms + i);
        black_box(&out);
    });
    let logon = time(rounds, iters, |i| {
        binance_now(None, &mut out, &mut payload, i, now_ms + i);
        black_box(&out);
    });
    let mut frame = Vec::with_capacity(4096);
    let framed = time(rounds, iters, |i| {
        binance_now(Some((KEY, &signer)), &mut out, &mut payload, i, now_ms + i);
        frame.clear();
        encode_client_text_frame(&mut frame, &out, (i as u32).to_ne_bytes());
        black_box(&frame);
    });
    let d_before = time(rounds, iters, |i| {
        black_box(deribit_before(i));
    });
    let d_now = time(rounds, iters, |i| {
        encode_order(
            &mut out,
            i,
            Side::Buy,
            "BTC-PERPETUAL",
            1_000_000_000,
            8,
            6_000_050_000_000,
            8,
            "bl-",
        );
        black_box(&out);
    });
    let row = |name: &str, ns: f64| println!("{name:<58} {ns:>8.0} ns {:>7.2}x HMAC", ns / hmac);
    println!(
        "Binance order.place ({}-byte signed payload, CPU SHA extensions: {})",
        signed.len(),
        std::arch::is_x86_feature_detected!("sha")
    );
    row("HMAC-SHA256 only (floor)", hmac);
    row(
        "before: String params + serde_json Map + sign (baseline)",
        before,
    );
    row("now: reused buffer, exact decimals, sign", now);
    row("now + masked websocket frame", framed);
    row("now, logged-on session (no signature)", logon);
    println!("ratio now / before: {:.2}", now / before);
    println!("Deribit private/buy");
    row("before: json! + decimals through f64 (baseline)", d_before);
    row("now: reused buffer, exact decimals", d_now);
    println!("ratio now / before: {:.2}", d_now / d_before);

    // The answers, both ways, on the same texts (the same report either way).
    let (b, d) = (BINANCE_ACK.as_bytes(), DERIBIT_ACK.as_bytes());
    assert_eq!(binance_ack_before(b), binance_ack_now(b));
    assert_eq!(binance_ack_now(b), Some((300_000, 6_000_001_000_000)));
    assert_eq!(deribit_ack_before(d), deribit_ack_now(d));
    assert_eq!(deribit_ack_now(d), Some((3_000_000_000, 6_000_033_333_333)));
    let ab_before = time(rounds, iters, |_| {
        black_box(binance_ack_before(black_box(b)));
    });
    let ab_now = time(rounds, iters, |_| {
        black_box(binance_ack_now(black_box(b)));
    });
    let ad_before = time(rounds, iters, |_| {
        black_box(deribit_ack_before(black_box(d)));
    });
    let ad_now = time(rounds, iters, |_| {
        black_box(deribit_ack_now(black_box(d)));
    });
    let ack_row = |name: &str, ns: f64| println!("{name:<58} {ns:>8.0} ns");
    println!(
        "Binance order.place answer ({} bytes, two fills) -> final report",
        b.len()
    );
    ack_row("before: serde_json::Value (baseline)", ab_before);
    ack_row("now: walked in place, exact decimals", ab_now);
    println!("ratio now / before: {:.2}", ab_now / ab_before);
    println!(
        "Deribit private/buy answer ({} bytes, two trades) -> final report",
        d.len()
    );
    ack_row(
        "before: serde_json::Value, decimals via f64 text (baseline)",
        ad_before,
    );
    ack_row("now: walked in place, exact decimals", ad_now);
    println!("ratio now / before: {:.2}", ad_now / ad_before);
}
