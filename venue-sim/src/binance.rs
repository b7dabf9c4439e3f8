//! Binance protocols of the simulator: combined market-data streams, the REST depth snapshot and
//! the WebSocket API (`order.place`, `order.cancel`, `order.status`, `openOrders.status`,
//! `session.logon`, `userDataStream.subscribe`) with HMAC-SHA256 signature checks.

use std::sync::Arc;

use feeds::binance::encode::{self, Scales};
use feeds::{PxQty, Side};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::http::Request;
use super::matching::{
    AckKind, BStream, Books, Exchange, NewOrder, OrderStatus, OrderType, SimFill, SimOrder,
    TimeInForce, VenueError,
};
use super::server::{lock, take_malformed, take_skip, Local};
use super::{Shared, SIM_SCALE};

const SCALES: Scales = Scales {
    px: SIM_SCALE,
    qty: SIM_SCALE,
};

fn dec(m: i64) -> String {
    let mut v = Vec::with_capacity(24);
    feeds::write_decimal(&mut v, m, SIM_SCALE, SIM_SCALE);
    String::from_utf8(v).unwrap_or_default()
}

/// Parses a stream name (`btcusdt@depth@100ms`, `btcusdt@bookTicker`, …).
pub(super) fn parse_stream(name: &str) -> Option<BStream> {
    let (sym, rest) = name.split_once('@')?;
    let kind = rest.split('@').next()?.to_ascii_lowercase();
    if sym.is_empty() || kind.is_empty() {
        return None;
    }
    Some(BStream {
        client: name.to_owned(),
        symbol: sym.to_ascii_lowercase(),
        kind,
    })
}

/// The stream name of a combined-envelope frame and the byte range of its value.
fn frame_stream(frame: &[u8]) -> Option<(&str, usize, usize)> {
    const HEAD: &[u8] = b"{\"stream\":\"";
    if !frame.starts_with(HEAD) {
        return None;
    }
    let start = HEAD.len();
    let len = frame[start..].iter().position(|&c| c == b'"')?;
    let s = std::str::from_utf8(&frame[start..start + len]).ok()?;
    Some((s, start, start + len))
}

/// Applies one source frame to the simulator's book, publishes it to matching subscribers and
/// matches resting orders.
pub(super) fn publish(sh: &Arc<Shared>, ex: &mut Exchange, frame: &[u8], now_ns: u64) {
    let mut touched: Vec<feeds::InstrumentId> = Vec::new();
    let target = ex
        .next_frame
        .checked_sub(1)
        .and_then(|i| ex.snapshot_for.get(&i))
        .cloned();
    if let Books::Binance(f) = &mut ex.books {
        if let Some(id) = target.and_then(|s| f.registry().id(&s)) {
            f.set_snapshot_target(id);
        }
        let _ = f.on_frame(now_ns, frame, &mut |e| {
            if !touched.contains(&e.instrument) {
                touched.push(e.instrument);
            }
        });
    }
    if let Some((stream, s0, s1)) = frame_stream(frame) {
        if let Some(fs) = parse_stream(stream) {
            let is_depth = fs.kind == "depth";
            // Faults are spent only on frames someone receives.
            let watched = ex.conns.values().any(|c| {
                c.bstreams
                    .iter()
                    .any(|b| b.symbol == fs.symbol && b.kind == fs.kind)
            });
            let skip = watched && is_depth && take_skip(sh);
            if watched && !skip {
                let malformed = take_malformed(sh);
                for c in ex.conns.values() {
                    for b in &c.bstreams {
                        if b.symbol == fs.symbol && b.kind == fs.kind {
                            let mut text = String::with_capacity(frame.len() + 16);
                            text.push_str("{\"stream\":\"");
                            text.push_str(&b.client);
                            text.push_str(std::str::from_utf8(&frame[s1..]).unwrap_or(""));
                            if malformed {
                                let cut = text.len() / 2;
                                let cut = (0..=cut)
                                    .rev()
                                    .find(|&k| text.is_char_boundary(k))
                                    .unwrap_or(0);
                                c.send(text[..cut].to_owned(), false);
                            }
                            c.send(text, false);
                        }
                    }
                }
                let _ = s0;
            }
        }
    }
    let names: Vec<String> = touched
        .iter()
        .filter_map(|id| ex.books.registry().get(*id).map(|i| i.symbol.clone()))
        .collect();
    for name in names {
        for (idx, fills) in ex.rematch(&name, now_ns) {
            report_fills(ex, idx, &fills, now_ns);
        }
    }
}

/// `GET /api/v3/depth?symbol=&limit=`: the simulator's book as Binance's REST body.
pub(super) fn rest_depth(ex: &Exchange, req: &Request) -> Result<String, VenueError> {
    let sym = req
        .param("symbol")
        .ok_or_else(|| VenueError::new(-1102, "Mandatory parameter 'symbol' was not sent."))?;
    let limit = match req.param("limit") {
        Some(l) => l.parse::<usize>().map_err(|_| {
            VenueError::new(-1100, "Illegal characters found in parameter 'limit'.")
        })?,
        None => 100,
    }
    .clamp(1, 5000);
    let book = ex
        .books
        .book(&sym.to_ascii_uppercase())
        .ok_or_else(|| VenueError::new(-1121, "Invalid symbol."))?;
    if !book.is_valid() {
        return Err(VenueError::new(-1003, "Book not available yet."));
    }
    let bids: Vec<PxQty> = book.bids().take(limit).collect();
    let asks: Vec<PxQty> = book.asks().take(limit).collect();
    let mut out = Vec::new();
    encode::snapshot(&mut out, book.last_update_id(), &bids, &asks, SCALES);
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// The string form of a parameter value (as it is signed).
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The signature payload of WebSocket API `params`: every parameter but `signature`, sorted by key,
/// `key=value` joined by `&`.
#[must_use]
pub fn signature_payload(params: &serde_json::Map<String, Value>) -> String {
    let mut kv: Vec<(&String, String)> = params
        .iter()
        .filter(|(k, _)| *k != "signature")
        .map(|(k, v)| (k, param_text(v)))
        .collect();
    kv.sort_by(|a, b| a.0.cmp(b.0));
    kv.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Hex HMAC-SHA256 of `payload` under `secret`.
#[must_use]
pub fn hmac_sha256_hex(secret: &[u8], payload: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(payload);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ok(id: &Value, result: Value) -> String {
    json!({"id": id, "status": 200, "result": result, "rateLimits": []}).to_string()
}

fn err(id: &Value, e: &VenueError) -> String {
    json!({"id": id, "status": 400, "error": {"code": e.code, "msg": e.msg}, "rateLimits": []})
        .to_string()
}

fn side_str(s: Side) -> &'static str {
    if s == Side::Buy {
        "BUY"
    } else {
        "SELL"
    }
}

fn status_str(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::New => "NEW",
        OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
        OrderStatus::Filled => "FILLED",
        OrderStatus::Cancelled => "CANCELED",
        OrderStatus::Expired => "EXPIRED",
    }
}

fn type_str(o: &SimOrder) -> &'static str {
    match (o.order_type, o.post_only) {
        (OrderType::Market, _) => "MARKET",
        (OrderType::Limit, true) => "LIMIT_MAKER",
        (OrderType::Limit, false) => "LIMIT",
    }
}

fn tif_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
    }
}

/// Quote quantity (price × quantity) at `SIM_SCALE`, truncated.
fn quote(px: i64, qty: i64) -> i64 {
    let q =
        i128::from(px) * i128::from(qty) / i128::from(feeds::registry::POW10[SIM_SCALE as usize]);
    i64::try_from(q).unwrap_or(i64::MAX)
}

fn client_id(o: &SimOrder) -> String {
    if o.client_id.is_empty() {
        format!("sim-{}", o.order_id)
    } else {
        o.client_id.clone()
    }
}

fn order_json(o: &SimOrder, t_ms: u64, fills: Option<&[SimFill]>) -> Value {
    let cum_quote: i64 = fills.map_or(0, |f| f.iter().map(|f| quote(f.px, f.qty)).sum());
    let mut v = json!({
        "symbol": o.instrument, "orderId": o.order_id, "orderListId": -1, "clientOrderId": client_id(o),
        "transactTime": t_ms, "price": dec(o.px), "origQty": dec(o.qty), "executedQty": dec(o.filled_qty),
        "cummulativeQuoteQty": dec(cum_quote), "status": status_str(o.status), "timeInForce": tif_str(o.tif),
        "type": type_str(o), "side": side_str(o.side), "workingTime": t_ms, "selfTradePreventionMode": "NONE",
    });
    if let Some(fills) = fills {
        v["fills"] = fills
            .iter()
            .map(|f| json!({"price": dec(f.px), "qty": dec(f.qty), "commission": "0", "commissionAsset": "BNB", "tradeId": f.trade_id}))
            .collect();
    }
    v
}

/// One `executionReport` event in the WebSocket API's user-data envelope.
fn exec_report(
    o: &SimOrder,
    x: &str,
    status: OrderStatus,
    cum: i64,
    last: Option<&SimFill>,
    t_ms: u64,
) -> String {
    json!({"subscriptionId": 0, "event": {
        "e": "executionReport", "E": t_ms, "s": o.instrument, "c": client_id(o), "S": side_str(o.side),
        "o": type_str(o), "f": tif_str(o.tif), "q": dec(o.qty), "p": dec(o.px), "P": "0.00000000",
        "F": "0.00000000", "g": -1, "C": "", "x": x, "X": status_str(status), "r": "NONE", "i": o.order_id,
        "l": dec(last.map_or(0, |f| f.qty)), "z": dec(cum), "L": dec(last.map_or(0, |f| f.px)), "n": "0",
        "N": null, "T": t_ms, "t": last.map_or(-1, |f| f.trade_id as i64), "I": 0, "w": status.is_open(),
        "m": last.is_some_and(|f| f.maker), "M": false, "O": t_ms, "Z": "0", "Y": "0", "Q": "0.00000000",
        "W": t_ms, "V": "NONE"
    }})
    .to_string()
}

fn broadcast_user(ex: &Exchange, text: &str) {
    for c in ex.conns.values() {
        if c.user_orders {
            c.send(text.to_owned(), false);
        }
    }
}

/// Execution reports for fills of order `idx` (resting or just placed).
fn report_fills(ex: &Exchange, idx: usize, fills: &[SimFill], now_ns: u64) {
    let o = &ex.record.orders[idx];
    let t_ms = now_ns / 1_000_000;
    let mut cum = o.filled_qty - fills.iter().map(|f| f.qty).sum::<i64>();
    for f in fills {
        cum += f.qty;
        let st = if cum >= o.qty {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        broadcast_user(ex, &exec_report(o, "TRADE", st, cum, Some(f), t_ms));
    }
}

fn p_str<'a>(p: &'a serde_json::Map<String, Value>, k: &str) -> Option<&'a str> {
    p.get(k).and_then(Value::as_str)
}

fn p_dec(p: &serde_json::Map<String, Value>, k: &str) -> Result<Option<i64>, VenueError> {
    let Some(v) = p.get(k) else { return Ok(None) };
    let s = param_text(v);
    feeds::parse_decimal(s.as_bytes(), SIM_SCALE)
        .map(|d| Some(d.mantissa))
        .map_err(|_| VenueError::new(-1100, format!("Illegal characters found in parameter '{k}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.")))
}

fn check_auth(
    sh: &Shared,
    authed: bool,
    p: &serde_json::Map<String, Value>,
) -> Result<(), VenueError> {
    if authed {
        return Ok(());
    }
    if let Some(key) = &sh.cfg.api_key {
        if p_str(p, "apiKey") != Some(key.as_str()) {
            return Err(VenueError::new(-2014, "API-key format invalid."));
        }
    }
    if let Some(secret) = &sh.cfg.api_secret {
        let sig = p_str(p, "signature").ok_or_else(|| {
            VenueError::new(-1102, "Mandatory parameter 'signature' was not sent.")
        })?;
        let want = hmac_sha256_hex(secret.as_bytes(), signature_payload(p).as_bytes());
        if !sig.eq_ignore_ascii_case(&want) {
            return Err(VenueError::new(
                -1022,
                "Signature for this request is not valid.",
            ));
        }
    }
    Ok(())
}

/// Handles one text message on a Binance websocket.
pub(super) fn on_text(sh: &Arc<Shared>, local: &mut Local, text: &str) {
    let now_ns = sh.now_ns();
    let mut ex = lock(sh);
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            ex.send_to(
                local.id,
                err(&Value::Null, &VenueError::new(-1000, "Invalid JSON")),
                false,
            );
            return;
        }
    };
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let method = v.get("method").and_then(Value::as_str).unwrap_or("");
    let empty = serde_json::Map::new();
    let p = v.get("params").and_then(Value::as_object).unwrap_or(&empty);
    if local.path != "/ws-api/v3" {
        market_data(sh, &mut ex, local, &v, method, &id);
        return;
    }
    let authed = ex.conns.get(&local.id).is_some_and(|c| c.authed);
    let t_ms = now_ns / 1_000_000;
    let needs_auth = matches!(
        method,
        "order.place" | "order.cancel" | "order.status" | "openOrders.status"
    );
    if needs_auth {
        if let Err(e) = check_auth(sh, authed, p) {
            ex.reject(
                p_str(p, "newClientOrderId").unwrap_or(""),
                p_str(p, "symbol").unwrap_or(""),
                &e,
                now_ns,
            );
            ex.send_to(local.id, err(&id, &e), true);
            return;
        }
    }
    match method {
        "ping" => ex.send_to(local.id, ok(&id, json!({})), false),
        "time" => ex.send_to(local.id, ok(&id, json!({"serverTime": t_ms})), false),
        "session.logon" => session_logon(sh, &mut ex, local, &id, p, t_ms),
        "session.status" => ex.send_to(local.id, ok(
                &id,
                json!({"apiKey": if authed { Value::from("logged-on") } else { Value::Null }, "serverTime": t_ms}),
            ),
            false,
        ),
        "session.logout" => {
            if let Some(c) = ex.conns.get_mut(&local.id) {
                c.authed = false;
            }
            ex.send_to(local.id, ok(&id, json!({"apiKey": null, "serverTime": t_ms})),
                false,
            );
        }
        "userDataStream.subscribe" => {
            let need = sh.cfg.api_secret.is_some() || sh.cfg.ed25519_public_key.is_some();
            if need && !authed {
                ex.send_to(local.id, err(
                        &id,
                        &VenueError::new(-2015, "Invalid API-key, IP, or permissions for action."),
                    ),
                    false,
                );
            } else {
                if let Some(c) = ex.conns.get_mut(&local.id) {
                    c.user_orders = true;
                }
                ex.send_to(local.id, ok(&id, json!({"subscriptionId": 0})), false);
            }
        }
        "order.place" => place(sh, &mut ex, local, &id, p, now_ns),
        "order.cancel" => cancel(sh, &mut ex, local, &id, p, now_ns),
        "order.status" => order_status(&ex, local, &id, p, t_ms),
        "openOrders.status" => {
            let sym = p_str(p, "symbol");
            let list: Vec<Value> = ex
                .open
                .iter()
                .map(|&i| &ex.record.orders[i])
                .filter(|o| sym.is_none_or(|s| o.instrument == s))
                .map(|o| order_json(o, t_ms, None))
                .collect();
            ex.send_to(local.id, ok(&id, Value::from(list)), false);
        }
        _ => ex.send_to(local.id, err(
                &id,
                &VenueError::new(-1000, format!("Unknown method '{method}'.")),
            ),
            false,
        ),
    }
}

/// A request on a market-data connection: live subscription management.
fn market_data(sh: &Shared, ex: &mut Exchange, local: &Local, v: &Value, method: &str, id: &Value) {
    let names: Vec<String> = v
        .get("params")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        });
    let Some(c) = ex.conns.get_mut(&local.id) else {
        return;
    };
    let resp = match method {
        "SUBSCRIBE" => {
            for n in &names {
                if let Some(b) = parse_stream(n) {
                    if !c.bstreams.iter().any(|x| x.client == b.client) {
                        c.bstreams.push(b);
                    }
                }
            }
            // Relaxed: polled flag.
            sh.md_started
                .store(true, std::sync::atomic::Ordering::Relaxed);
            json!({"result": null, "id": id})
        }
        "UNSUBSCRIBE" => {
            c.bstreams.retain(|b| !names.contains(&b.client));
            json!({"result": null, "id": id})
        }
        "LIST_SUBSCRIPTIONS" => {
            json!({"result": c.bstreams.iter().map(|b| b.client.clone()).collect::<Vec<_>>(), "id": id})
        }
        _ => json!({"error": {"code": 2, "msg": "Invalid request: unknown method"}, "id": id}),
    };
    c.send(resp.to_string(), false);
}

/// `session.logon`: authenticates the connection ([`logon`]) and answers.
fn session_logon(
    sh: &Shared,
    ex: &mut Exchange,
    local: &Local,
    id: &Value,
    p: &serde_json::Map<String, Value>,
    t_ms: u64,
) {
    match logon(sh, p) {
        Ok(()) => {
            if let Some(c) = ex.conns.get_mut(&local.id) {
                c.authed = true;
            }
            let key = p_str(p, "apiKey").unwrap_or("");
            ex.send_to(local.id, ok(
                    id,
                    json!({"apiKey": key, "authorizedSince": t_ms, "connectedSince": t_ms, "returnRateLimits": false, "serverTime": t_ms}),
                ),
                false,
            );
        }
        Err(e) => ex.send_to(local.id, err(id, &e), false),
    }
}

/// `order.cancel` by `orderId` or `origClientOrderId` (and `symbol` when given).
fn cancel(
    sh: &Shared,
    ex: &mut Exchange,
    local: &Local,
    id: &Value,
    p: &serde_json::Map<String, Value>,
    now_ns: u64,
) {
    let t_ms = now_ns / 1_000_000;
    let oid = p.get("orderId").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    let cid = p_str(p, "origClientOrderId");
    let idx = ex
        .find(oid, cid)
        .filter(|&i| p_str(p, "symbol").is_none_or(|s| ex.record.orders[i].instrument == s));
    let name = cid.map_or_else(
        || oid.map_or(String::new(), |o| o.to_string()),
        str::to_owned,
    );
    match ex.cancel(idx, &name, now_ns) {
        Ok(i) => {
            let lost = sh.take_lost_ack();
            ex.ack(i, AckKind::Cancel, !lost, now_ns);
            let o = ex.record.orders[i].clone();
            let mut r = order_json(&o, t_ms, None);
            r["origClientOrderId"] = Value::from(client_id(&o));
            if !lost {
                ex.send_to(local.id, ok(id, r), true);
            }
            broadcast_user(
                ex,
                &exec_report(
                    &o,
                    "CANCELED",
                    OrderStatus::Cancelled,
                    o.filled_qty,
                    None,
                    t_ms,
                ),
            );
        }
        Err(e) => {
            if !sh.take_lost_ack() {
                ex.send_to(local.id, err(id, &e), true);
            }
        }
    }
}

/// `order.status` by `orderId` or `origClientOrderId`.
fn order_status(
    ex: &Exchange,
    local: &Local,
    id: &Value,
    p: &serde_json::Map<String, Value>,
    t_ms: u64,
) {
    let oid = p.get("orderId").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    match ex.find(oid, p_str(p, "origClientOrderId")) {
        Some(i) => {
            let o = &ex.record.orders[i];
            let fills: Vec<SimFill> = ex
                .record
                .fills
                .iter()
                .filter(|f| f.order_id == o.order_id)
                .cloned()
                .collect();
            let mut r = order_json(o, t_ms, Some(&fills));
            if let Some(m) = r.as_object_mut() {
                m.remove("fills");
            }
            ex.send_to(local.id, ok(id, r), false);
        }
        None => ex.send_to(
            local.id,
            err(id, &VenueError::new(-2013, "Order does not exist.")),
            false,
        ),
    }
}

/// `session.logon`: with an Ed25519 public key configured, the `signature` (base64) must verify
/// over the signature payload; otherwise an `apiKey` (matching the configured one) suffices.
fn logon(sh: &Shared, p: &serde_json::Map<String, Value>) -> Result<(), VenueError> {
    let key = p_str(p, "apiKey")
        .ok_or_else(|| VenueError::new(-1102, "Mandatory parameter 'apiKey' was not sent."))?;
    if sh.cfg.api_key.as_deref().is_some_and(|k| k != key) {
        return Err(VenueError::new(-2014, "API-key format invalid."));
    }
    if let Some(pk) = &sh.cfg.ed25519_public_key {
        let sig = p_str(p, "signature").ok_or_else(|| {
            VenueError::new(-1102, "Mandatory parameter 'signature' was not sent.")
        })?;
        if !super::ed25519::verify_b64(pk, signature_payload(p).as_bytes(), sig) {
            return Err(VenueError::new(
                -1022,
                "Signature for this request is not valid.",
            ));
        }
    }
    Ok(())
}

fn place(
    sh: &Shared,
    ex: &mut Exchange,
    local: &Local,
    id: &Value,
    p: &serde_json::Map<String, Value>,
    now_ns: u64,
) {
    let t_ms = now_ns / 1_000_000;
    let cid = p_str(p, "newClientOrderId").unwrap_or("").to_owned();
    let sym = p_str(p, "symbol").unwrap_or("").to_owned();
    let parsed =
        (|| -> Result<NewOrder, VenueError> {
            let side =
                match p_str(p, "side") {
                    Some("BUY") => Side::Buy,
                    Some("SELL") => Side::Sell,
                    _ => return Err(VenueError::new(
                        -1102,
                        "Mandatory parameter 'side' was not sent, was empty/null, or malformed.",
                    )),
                };
            let (order_type, post_only) = match p_str(p, "type") {
                Some("LIMIT") => (OrderType::Limit, false),
                Some("LIMIT_MAKER") => (OrderType::Limit, true),
                Some("MARKET") => (OrderType::Market, false),
                _ => return Err(VenueError::new(-1116, "Invalid orderType.")),
            };
            let tif = match (order_type, post_only, p_str(p, "timeInForce")) {
                (OrderType::Market, _, _) => TimeInForce::Ioc,
                (_, true, _) => TimeInForce::Gtc,
                (_, _, Some("GTC")) => TimeInForce::Gtc,
                (_, _, Some("IOC")) => TimeInForce::Ioc,
                (_, _, Some("FOK")) => TimeInForce::Fok,
                _ => return Err(VenueError::new(
                    -1102,
                    "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
                )),
            };
            let qty = p_dec(p, "quantity")?.ok_or_else(|| {
                VenueError::new(
                    -1102,
                    "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
                )
            })?;
            let px = match order_type {
                OrderType::Limit => p_dec(p, "price")?.ok_or_else(|| {
                    VenueError::new(
                        -1102,
                        "Mandatory parameter 'price' was not sent, was empty/null, or malformed.",
                    )
                })?,
                OrderType::Market => 0,
            };
            Ok(NewOrder {
                client_id: cid.clone(),
                instrument: sym.clone(),
                side,
                order_type,
                tif,
                post_only,
                px,
                qty,
            })
        })();
    let res = match parsed {
        Ok(o) => ex.place(o, now_ns),
        Err(e) => {
            ex.reject(&cid, &sym, &e, now_ns);
            Err(e)
        }
    };
    let lost = sh.take_lost_ack();
    match res {
        Ok((idx, fills)) => {
            ex.ack(idx, AckKind::New, !lost, now_ns);
            let o = ex.record.orders[idx].clone();
            if !lost {
                ex.send_to(local.id, ok(id, order_json(&o, t_ms, Some(&fills))), true);
            }
            broadcast_user(ex, &exec_report(&o, "NEW", OrderStatus::New, 0, None, t_ms));
            report_fills(ex, idx, &fills, now_ns);
            if o.status == OrderStatus::Expired {
                broadcast_user(
                    ex,
                    &exec_report(
                        &o,
                        "EXPIRED",
                        OrderStatus::Expired,
                        o.filled_qty,
                        None,
                        t_ms,
                    ),
                );
            }
        }
        Err(e) => {
            if !lost {
                ex.send_to(local.id, err(id, &e), true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_documented_hmac_example() {
        // Binance API documentation, "SIGNED endpoint examples": HMAC-SHA256 of the query string
        // under the documented example secret.
        let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let payload = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            hmac_sha256_hex(secret, payload),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn payload_sorts_and_skips_signature() {
        let v: Value = serde_json::from_str(
            r#"{"symbol":"BTCUSDT","apiKey":"k","signature":"x","quantity":0.5,"timestamp":1}"#,
        )
        .unwrap();
        assert_eq!(
            signature_payload(v.as_object().unwrap()),
            "apiKey=k&quantity=0.5&symbol=BTCUSDT&timestamp=1"
        );
    }

    #[test]
    fn stream_names_parse() {
        let b = parse_stream("btcusdt@depth@100ms").unwrap();
        assert_eq!((b.symbol.as_str(), b.kind.as_str()), ("btcusdt", "depth"));
        assert_eq!(
            parse_stream("BTCUSDT@bookTicker").unwrap().kind,
            "bookticker"
        );
        assert!(parse_stream("nope").is_none());
        assert_eq!(
            frame_stream(br#"{"stream":"a@trade","data":{}}"#).map(|s| s.0),
            Some("a@trade")
        );
    }
}
