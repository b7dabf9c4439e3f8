//! Order encode + sign cost per order, beside the HMAC-only floor measured in the same run:
//! - Binance `order.place` under HMAC: the request as the adapters built it before (parameters
//!   as owned `String`s, a `serde_json::Map`, `format!`, `to_string`; reproduced here as the
//!   baseline) and as they build it now ([`engine::exec::binance::encode_request`]: one reused
//!   buffer, exact decimals, signature into a fixed buffer); the logged-on request (no signature);
//! - Deribit `private/buy`: `json!` with decimals through `f64` (before) vs
//!   [`engine::exec::deribit::encode_order`] (now);
//! - the websocket client frame (mask + copy) of the encoded request.
//!
//! `cargo bench -p ballast-bench --bench order_encode`. Two shared cores here: read the ratios.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use engine::exec::binance::{encode_request, Param, ReqId};
use engine::exec::deribit::encode_order;
use engine::exec::sign::HmacSigner;
use engine::live::ws::encode_client_text_frame;
use feeds::Side;
use serde_json::Value;

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
}
