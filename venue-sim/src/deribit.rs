//! Deribit JSON-RPC 2.0 of the simulator: market-data subscriptions (snapshots rendered from the
//! simulator's own books, changes chained by `change_id`), heartbeats, authentication, orders
//! and `user.orders` / `user.trades` notifications.

use std::sync::Arc;

use feeds::{PxQty, Side};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::matching::{
    AckKind, Books, DKind, DSub, Exchange, NewOrder, OrderStatus, OrderType, SimFill, SimOrder,
    TimeInForce, VenueError,
};
use super::server::{lock, take_malformed, take_skip, Local};
use super::{Shared, SIM_SCALE};

/// Deribit error codes used by the simulator.
mod code {
    pub const UNAUTHORIZED: i64 = 13009;
    pub const ORDER_NOT_FOUND: i64 = 10004;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const PARSE_ERROR: i64 = -32700;
    pub const NOT_OPEN_ORDER: i64 = 11044;
    pub const POST_ONLY_REJECT: i64 = 11054;
    pub const INVALID_CREDENTIALS: i64 = 13004;
}

/// Venue-neutral errors mapped to Deribit's codes.
fn deribit_error(e: &VenueError) -> VenueError {
    let (c, m) = match e.code {
        -2011 | -2013 => (code::NOT_OPEN_ORDER, "not_open_order"),
        -2010 => (code::POST_ONLY_REJECT, "post_only_reject"),
        -1121 => (code::INVALID_PARAMS, "Invalid params: instrument_name"),
        -1013 | -1102 | -1100 => (code::INVALID_PARAMS, "Invalid params"),
        c if c > 0 || c <= -32000 => return e.clone(),
        _ => (10_000 + e.code.abs() % 1000, e.msg.as_str()),
    };
    VenueError::new(c, m)
}

fn num(m: i64) -> Value {
    let mut v = Vec::with_capacity(24);
    feeds::write_decimal(&mut v, m, SIM_SCALE, 1);
    // Decimals of at most 15 significant digits round-trip through f64 and print back alike.
    std::str::from_utf8(&v)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(Value::Null, Value::from)
}

fn dec_text(m: i64) -> String {
    let mut v = Vec::with_capacity(24);
    feeds::write_decimal(&mut v, m, SIM_SCALE, 1);
    String::from_utf8(v).unwrap_or_default()
}

/// The `result` array of `public/get_instruments` for `currency` (`any` = all).
pub(super) fn instruments_result(ex: &Exchange, currency: &str) -> String {
    let mut all: Vec<Value> = Vec::new();
    for (cur, body) in &ex.instruments {
        if currency.eq_ignore_ascii_case("any") || cur.eq_ignore_ascii_case(currency) {
            if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(body) {
                all.extend(a);
            }
        }
    }
    Value::from(all).to_string()
}

fn ok(id: &Value, result: Value, now_ns: u64) -> String {
    let us = now_ns / 1000;
    json!({"jsonrpc": "2.0", "id": id, "result": result, "usIn": us, "usOut": us, "usDiff": 0, "testnet": true}).to_string()
}

fn err(id: &Value, e: &VenueError) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.msg}, "testnet": true}).to_string()
}

fn notification(channel: &str, data: &str) -> String {
    let mut s = String::with_capacity(channel.len() + data.len() + 64);
    s.push_str("{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":");
    s.push_str(&Value::from(channel).to_string());
    s.push_str(",\"data\":");
    s.push_str(data);
    s.push_str("}}");
    s
}

/// Parses a channel name into a subscription.
fn parse_channel(ch: &str) -> Option<DSub> {
    let parts: Vec<&str> = ch.split('.').collect();
    let (kind, instrument) = match parts.as_slice() {
        ["book", inst, _] | ["book", inst, _, _, _] => (DKind::Book, *inst),
        ["ticker", inst, _] => (DKind::Ticker, *inst),
        ["trades", inst, _] => (DKind::Trades, *inst),
        ["user", "orders", inst, _] => (DKind::UserOrders, *inst),
        ["user", "orders", _, cur, _] => (DKind::UserOrders, *cur),
        ["user", "trades", inst, _] => (DKind::UserTrades, *inst),
        ["user", "trades", _, cur, _] => (DKind::UserTrades, *cur),
        _ => return None,
    };
    Some(DSub {
        kind,
        instrument: instrument.to_owned(),
        client: ch.to_owned(),
        awaiting_snapshot: kind == DKind::Book,
    })
}

/// Whether a user channel filter (`BTC-PERPETUAL`, `BTC`, `any`) covers `instrument`.
fn user_match(filter: &str, instrument: &str) -> bool {
    filter == "any" || filter == instrument || instrument.split(['-', '_']).next() == Some(filter)
}

/// Snapshot notification data rendered from the simulator's book.
fn render_snapshot(ex: &Exchange, instrument: &str, now_ns: u64) -> Option<String> {
    let book = ex.books.book(instrument).filter(|b| b.is_valid())?;
    let side = |it: &mut dyn Iterator<Item = PxQty>| -> String {
        let v: Vec<String> = it
            .map(|l| format!("[\"new\",{},{}]", dec_text(l.px), dec_text(l.qty)))
            .collect();
        format!("[{}]", v.join(","))
    };
    Some(format!(
        "{{\"type\":\"snapshot\",\"timestamp\":{},\"instrument_name\":{},\"change_id\":{},\"bids\":{},\"asks\":{}}}",
        now_ns / 1_000_000,
        Value::from(instrument),
        book.last_update_id(),
        side(&mut book.bids()),
        side(&mut book.asks())
    ))
}

#[derive(Deserialize)]
struct Note<'a> {
    #[serde(borrow)]
    params: NoteParams<'a>,
}

#[derive(Deserialize)]
struct NoteParams<'a> {
    #[serde(borrow)]
    channel: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct BookHead<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
}

/// Applies one source frame to the simulator's books and publishes it to subscribers.
pub(super) fn publish(sh: &Arc<Shared>, ex: &mut Exchange, frame: &[u8], now_ns: u64) {
    if let Books::Deribit(f) = &mut ex.books {
        let _ = f.on_frame(now_ns, frame, &mut |_| {});
    }
    let Ok(note) = serde_json::from_slice::<Note<'_>>(frame) else {
        return;
    };
    let Some(sub) = parse_channel(&note.params.channel) else {
        return;
    };
    let data = note.params.data.get();
    let is_snapshot = sub.kind == DKind::Book
        && serde_json::from_str::<BookHead<'_>>(data)
            .map(|h| h.kind.as_deref() != Some("change"))
            .unwrap_or(false);
    // Faults are spent only on frames someone receives.
    let watched = ex.conns.values().any(|c| {
        c.dsubs.iter().any(|d| {
            d.kind == sub.kind
                && d.instrument == sub.instrument
                && (!d.awaiting_snapshot || is_snapshot)
        })
    });
    if watched && sub.kind == DKind::Book && !is_snapshot && take_skip(sh) {
        // The simulator's book applied it; subscribers never see it.
    } else if watched {
        let malformed = take_malformed(sh);
        for c in ex.conns.values_mut() {
            let tx = c.tx.clone();
            for d in &mut c.dsubs {
                if d.kind != sub.kind || d.instrument != sub.instrument {
                    continue;
                }
                if d.awaiting_snapshot {
                    if !is_snapshot {
                        continue;
                    }
                    d.awaiting_snapshot = false;
                }
                let text = notification(&d.client, data);
                c.queued.fetch_add(
                    usize::from(malformed) + 1,
                    std::sync::atomic::Ordering::Relaxed,
                );
                if malformed {
                    let _ = tx.send(super::matching::Out {
                        text: text[..text.len() / 2].to_owned(),
                        ack: false,
                    });
                }
                let _ = tx.send(super::matching::Out { text, ack: false });
            }
        }
    }
    if sub.kind == DKind::Book {
        for (idx, fills) in ex.rematch(&sub.instrument, now_ns) {
            notify(ex, idx, &fills, now_ns);
        }
    }
}

fn order_json(o: &SimOrder, fills: &[SimFill], now_ns: u64) -> Value {
    let t_ms = now_ns / 1_000_000;
    let (qsum, pq): (i128, i128) = fills.iter().fold((0, 0), |(q, p), f| {
        (
            q + i128::from(f.qty),
            p + i128::from(f.qty) * i128::from(f.px),
        )
    });
    let avg = if qsum > 0 {
        i64::try_from(pq / qsum).unwrap_or(0)
    } else {
        0
    };
    let state = match o.status {
        OrderStatus::New | OrderStatus::PartiallyFilled => "open",
        OrderStatus::Filled => "filled",
        OrderStatus::Cancelled | OrderStatus::Expired => "cancelled",
    };
    json!({
        "order_id": o.order_id.to_string(), "order_state": state,
        "order_type": if o.order_type == OrderType::Market { "market" } else { "limit" },
        "direction": if o.side == Side::Buy { "buy" } else { "sell" },
        "price": if o.order_type == OrderType::Market { Value::from("market_price") } else { num(o.px) },
        "amount": num(o.qty), "filled_amount": num(o.filled_qty), "average_price": num(avg),
        "label": o.client_id, "instrument_name": o.instrument, "creation_timestamp": o.recv_ns / 1_000_000,
        "last_update_timestamp": t_ms,
        "time_in_force": match o.tif { TimeInForce::Gtc => "good_til_cancelled", TimeInForce::Ioc => "immediate_or_cancel", TimeInForce::Fok => "fill_or_kill" },
        "post_only": o.post_only, "reduce_only": false, "api": true, "web": false, "replaced": false,
        "is_liquidation": false, "max_show": num(o.qty), "commission": 0.0,
        "cancel_reason": if o.status == OrderStatus::Expired { "immediate_or_cancel" } else { "" },
    })
}

fn trade_json(o: &SimOrder, f: &SimFill, state: &str) -> Value {
    json!({
        "trade_id": f.trade_id.to_string(), "trade_seq": f.trade_id, "order_id": o.order_id.to_string(),
        "instrument_name": f.instrument, "direction": if f.side == Side::Buy { "buy" } else { "sell" },
        "price": num(f.px), "amount": num(f.qty), "timestamp": f.t_ns / 1_000_000, "state": state,
        "fee": 0.0, "fee_currency": f.instrument.split(['-', '_']).next().unwrap_or(""),
        "liquidity": if f.maker { "M" } else { "T" }, "label": o.client_id,
        "order_type": if o.order_type == OrderType::Market { "market" } else { "limit" },
        "index_price": 0.0, "mark_price": 0.0, "tick_direction": 0, "matching_id": null, "api": true,
        "post_only": o.post_only, "reduce_only": false,
    })
}

/// `user.orders` and `user.trades` notifications for order `idx` (and its new fills).
fn notify(ex: &Exchange, idx: usize, fills: &[SimFill], now_ns: u64) {
    let o = &ex.record.orders[idx];
    let all: Vec<SimFill> = ex
        .record
        .fills
        .iter()
        .filter(|f| f.order_id == o.order_id)
        .cloned()
        .collect();
    let order = order_json(o, &all, now_ns).to_string();
    let state = order_json(o, &[], now_ns)["order_state"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let trades = Value::from(
        fills
            .iter()
            .map(|f| trade_json(o, f, &state))
            .collect::<Vec<_>>(),
    )
    .to_string();
    for c in ex.conns.values() {
        if !c.authed {
            continue;
        }
        for d in &c.dsubs {
            if d.kind == DKind::UserOrders && user_match(&d.instrument, &o.instrument) {
                c.send(notification(&d.client, &order), false);
            }
            if d.kind == DKind::UserTrades
                && !fills.is_empty()
                && user_match(&d.instrument, &o.instrument)
            {
                c.send(notification(&d.client, &trades), false);
            }
        }
    }
}

fn p_num(p: &Value, k: &str) -> Result<Option<i64>, VenueError> {
    match p.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            feeds::deribit::num::json_decimal(n.to_string().as_bytes(), SIM_SCALE)
                .map(Some)
                .map_err(|_| VenueError::new(code::INVALID_PARAMS, format!("Invalid params: {k}")))
        }
        Some(Value::String(s)) => feeds::deribit::num::json_decimal(s.as_bytes(), SIM_SCALE)
            .map(Some)
            .map_err(|_| VenueError::new(code::INVALID_PARAMS, format!("Invalid params: {k}"))),
        Some(_) => Err(VenueError::new(
            code::INVALID_PARAMS,
            format!("Invalid params: {k}"),
        )),
    }
}

fn p_order_id(p: &Value) -> Option<u64> {
    match p.get("order_id")? {
        Value::String(s) => s.rsplit('-').next()?.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Handles one JSON-RPC request.
pub(super) fn on_text(sh: &Arc<Shared>, local: &mut Local, text: &str) {
    let now_ns = sh.now_ns();
    let mut ex = lock(sh);
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            ex.send_to(
                local.id,
                err(
                    &Value::Null,
                    &VenueError::new(code::PARSE_ERROR, "Parse error"),
                ),
                false,
            );
            return;
        }
    };
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let method = v
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let p = v.get("params").cloned().unwrap_or(Value::Null);
    let authed = ex.conns.get(&local.id).is_some_and(|c| c.authed);
    if method.starts_with("private/") && !authed {
        let e = VenueError::new(code::UNAUTHORIZED, "unauthorized");
        if matches!(
            method.as_str(),
            "private/buy" | "private/sell" | "private/edit" | "private/cancel"
        ) {
            ex.reject(
                p.get("label").and_then(Value::as_str).unwrap_or(""),
                p.get("instrument_name")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                &e,
                now_ns,
            );
        }
        ex.send_to(
            local.id,
            err(&id, &e),
            matches!(
                method.as_str(),
                "private/buy" | "private/sell" | "private/edit" | "private/cancel"
            ),
        );
        return;
    }
    match method.as_str() {
        "public/test" => {
            local.hb_outstanding = None;
            ex.send_to(
                local.id,
                ok(&id, json!({"version": "1.2.26"}), now_ns),
                false,
            );
        }
        "public/get_time" => ex.send_to(
            local.id,
            ok(&id, Value::from(now_ns / 1_000_000), now_ns),
            false,
        ),
        "public/set_heartbeat" => match p.get("interval").and_then(Value::as_f64) {
            Some(s) if s.is_finite() && s >= 0.01 => {
                local.hb_interval = Some(std::time::Duration::from_secs_f64(s));
                local.hb_last = std::time::Instant::now();
                local.hb_outstanding = None;
                ex.send_to(local.id, ok(&id, Value::from("ok"), now_ns), false);
            }
            _ => ex.send_to(
                local.id,
                err(
                    &id,
                    &VenueError::new(code::INVALID_PARAMS, "Invalid params: interval"),
                ),
                false,
            ),
        },
        "public/disable_heartbeat" => {
            local.hb_interval = None;
            local.hb_outstanding = None;
            ex.send_to(local.id, ok(&id, Value::from("ok"), now_ns), false);
        }
        "public/get_instruments" => {
            let cur = p.get("currency").and_then(Value::as_str).unwrap_or("any");
            let mut list: Value = serde_json::from_str(&instruments_result(&ex, cur))
                .unwrap_or(Value::Array(Vec::new()));
            if let (Some(kind), Value::Array(a)) =
                (p.get("kind").and_then(Value::as_str), &mut list)
            {
                a.retain(|i| i.get("kind").and_then(Value::as_str) == Some(kind));
            }
            ex.send_to(local.id, ok(&id, list, now_ns), false);
        }
        "public/auth" => auth(sh, &mut ex, local, &id, &p, now_ns),
        "public/subscribe" | "private/subscribe" | "public/unsubscribe" | "private/unsubscribe" => {
            subscribe(sh, &mut ex, local, &id, &p, &method, now_ns);
        }
        "private/buy" | "private/sell" => {
            place(sh, &mut ex, local, &id, &p, method == "private/buy", now_ns)
        }
        "private/edit" => edit(sh, &mut ex, local, &id, &p, now_ns),
        "private/cancel" => {
            let idx = ex.find(p_order_id(&p), None);
            let name = p.get("order_id").map(|v| v.to_string()).unwrap_or_default();
            let r = ex.cancel(idx, &name, now_ns).map(|i| (i, Vec::new()));
            respond_order(sh, &mut ex, local, &id, r, AckKind::Cancel, now_ns);
        }
        "private/get_order_state" => order_state(&ex, local, &id, &p, now_ns),
        "private/get_open_orders_by_instrument" | "private/get_open_orders" => {
            open_orders(&ex, local, &id, &p, now_ns);
        }
        "private/get_user_trades_by_instrument" => user_trades(&ex, local, &id, &p, now_ns),
        _ => ex.send_to(
            local.id,
            err(
                &id,
                &VenueError::new(code::METHOD_NOT_FOUND, "Method not found"),
            ),
            false,
        ),
    }
}

/// `public/auth` with client credentials (matching the configured key and secret, if any).
fn auth(sh: &Shared, ex: &mut Exchange, local: &Local, id: &Value, p: &Value, now_ns: u64) {
    let gt = p.get("grant_type").and_then(Value::as_str);
    let cid = p.get("client_id").and_then(Value::as_str);
    let secret = p.get("client_secret").and_then(Value::as_str);
    let good = gt == Some("client_credentials")
        && cid.is_some()
        && sh.cfg.api_key.as_deref().is_none_or(|k| Some(k) == cid)
        && sh
            .cfg
            .api_secret
            .as_deref()
            .is_none_or(|s| Some(s) == secret);
    if good {
        if let Some(c) = ex.conns.get_mut(&local.id) {
            c.authed = true;
        }
        let tok = format!("sim-token-{}", local.id);
        ex.send_to(local.id, ok(
                id,
                json!({"access_token": tok, "expires_in": 31_536_000, "refresh_token": format!("{tok}-r"), "scope": "connection mainaccount trade:read_write", "token_type": "bearer"}),
                now_ns,
            ),
            false,
        );
    } else {
        ex.send_to(
            local.id,
            err(
                id,
                &VenueError::new(code::INVALID_CREDENTIALS, "invalid_credentials"),
            ),
            false,
        );
    }
}

/// `public/subscribe`, `private/subscribe` and their `unsubscribe`s: user channels need an
/// authenticated connection; a book channel starts with its snapshot.
fn subscribe(
    sh: &Shared,
    ex: &mut Exchange,
    local: &Local,
    id: &Value,
    p: &Value,
    method: &str,
    now_ns: u64,
) {
    let authed = ex.conns.get(&local.id).is_some_and(|c| c.authed);
    let chans: Vec<String> = p
        .get("channels")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        });
    let unsub = method.ends_with("unsubscribe");
    let mut done = Vec::new();
    let mut snaps = Vec::new();
    for ch in &chans {
        let Some(mut sub) = parse_channel(ch) else {
            continue;
        };
        let user = matches!(sub.kind, DKind::UserOrders | DKind::UserTrades);
        if user && !authed {
            continue;
        }
        let Some(c) = ex.conns.get_mut(&local.id) else {
            return;
        };
        c.dsubs.retain(|d| d.client != *ch);
        done.push(ch.clone());
        if unsub {
            continue;
        }
        if sub.kind == DKind::Book {
            if let Some(data) = render_snapshot(ex, &sub.instrument, now_ns) {
                sub.awaiting_snapshot = false;
                snaps.push(notification(ch, &data));
            }
        }
        if let Some(c) = ex.conns.get_mut(&local.id) {
            c.dsubs.push(sub);
        }
    }
    ex.send_to(local.id, ok(id, Value::from(done), now_ns), false);
    for s in snaps {
        ex.send_to(local.id, s, false);
    }
    if !unsub {
        // Relaxed: polled flag.
        sh.md_started
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `private/edit`: a new amount (and price) for an open order.
fn edit(sh: &Shared, ex: &mut Exchange, local: &Local, id: &Value, p: &Value, now_ns: u64) {
    let idx = ex.find(p_order_id(p), None);
    let name = p.get("order_id").map(|v| v.to_string()).unwrap_or_default();
    let r = (|| {
        let qty = p_num(p, "amount")?
            .ok_or_else(|| VenueError::new(code::INVALID_PARAMS, "Invalid params: amount"))?;
        let px = p_num(p, "price")?
            .or_else(|| idx.map(|i| ex.record.orders[i].px))
            .unwrap_or(0);
        Ok((qty, px))
    })();
    let r = match r {
        Ok((qty, px)) => ex.edit(idx, &name, qty, px, now_ns),
        Err(e) => {
            ex.reject(&name, "", &e, now_ns);
            Err(e)
        }
    };
    respond_order(sh, ex, local, id, r, AckKind::Edit, now_ns);
}

/// `private/get_order_state`.
fn order_state(ex: &Exchange, local: &Local, id: &Value, p: &Value, now_ns: u64) {
    match ex.find(p_order_id(p), None) {
        Some(i) => {
            let o = &ex.record.orders[i];
            let fills: Vec<SimFill> = ex
                .record
                .fills
                .iter()
                .filter(|f| f.order_id == o.order_id)
                .cloned()
                .collect();
            ex.send_to(
                local.id,
                ok(id, order_json(o, &fills, now_ns), now_ns),
                false,
            );
        }
        None => ex.send_to(
            local.id,
            err(
                id,
                &VenueError::new(code::ORDER_NOT_FOUND, "order_not_found"),
            ),
            false,
        ),
    }
}

/// `private/get_open_orders` and `private/get_open_orders_by_instrument`.
fn open_orders(ex: &Exchange, local: &Local, id: &Value, p: &Value, now_ns: u64) {
    let inst = p.get("instrument_name").and_then(Value::as_str);
    let list: Vec<Value> = ex
        .open
        .iter()
        .map(|&i| &ex.record.orders[i])
        .filter(|o| inst.is_none_or(|s| o.instrument == s))
        .map(|o| {
            let fills: Vec<SimFill> = ex
                .record
                .fills
                .iter()
                .filter(|f| f.order_id == o.order_id)
                .cloned()
                .collect();
            order_json(o, &fills, now_ns)
        })
        .collect();
    ex.send_to(local.id, ok(id, Value::from(list), now_ns), false);
}

/// `private/get_user_trades_by_instrument`.
fn user_trades(ex: &Exchange, local: &Local, id: &Value, p: &Value, now_ns: u64) {
    let inst = p
        .get("instrument_name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let trades: Vec<Value> = ex
        .record
        .fills
        .iter()
        .filter(|f| f.instrument == inst)
        .map(|f| {
            let o = &ex.record.orders[(f.order_id - 1) as usize];
            trade_json(o, f, "")
        })
        .collect();
    ex.send_to(
        local.id,
        ok(id, json!({"trades": trades, "has_more": false}), now_ns),
        false,
    );
}

fn respond_order(
    sh: &Shared,
    ex: &mut Exchange,
    local: &Local,
    id: &Value,
    r: Result<(usize, Vec<SimFill>), VenueError>,
    kind: AckKind,
    now_ns: u64,
) {
    let lost = sh.take_lost_ack();
    match r {
        Ok((idx, fills)) => {
            ex.ack(idx, kind, !lost, now_ns);
            let o = &ex.record.orders[idx];
            let all: Vec<SimFill> = ex
                .record
                .fills
                .iter()
                .filter(|f| f.order_id == o.order_id)
                .cloned()
                .collect();
            let order = order_json(o, &all, now_ns);
            let state = order["order_state"].as_str().unwrap_or("").to_owned();
            let result = match kind {
                AckKind::Cancel => order,
                _ => {
                    json!({"order": order, "trades": fills.iter().map(|f| trade_json(o, f, &state)).collect::<Vec<_>>()})
                }
            };
            if !lost {
                ex.send_to(local.id, ok(id, result, now_ns), true);
            }
            notify(ex, idx, &fills, now_ns);
        }
        Err(e) => {
            if !lost {
                ex.send_to(local.id, err(id, &deribit_error(&e)), true);
            }
        }
    }
}

fn place(
    sh: &Shared,
    ex: &mut Exchange,
    local: &Local,
    id: &Value,
    p: &Value,
    buy: bool,
    now_ns: u64,
) {
    let label = p
        .get("label")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let inst = p
        .get("instrument_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let parsed = (|| -> Result<NewOrder, VenueError> {
        let qty = p_num(p, "amount")?
            .ok_or_else(|| VenueError::new(code::INVALID_PARAMS, "Invalid params: amount"))?;
        let order_type = match p.get("type").and_then(Value::as_str).unwrap_or("limit") {
            "limit" => OrderType::Limit,
            "market" => OrderType::Market,
            _ => {
                return Err(VenueError::new(
                    code::INVALID_PARAMS,
                    "Invalid params: type",
                ))
            }
        };
        let px = match order_type {
            OrderType::Limit => p_num(p, "price")?
                .ok_or_else(|| VenueError::new(code::INVALID_PARAMS, "Invalid params: price"))?,
            OrderType::Market => 0,
        };
        let tif = match p
            .get("time_in_force")
            .and_then(Value::as_str)
            .unwrap_or("good_til_cancelled")
        {
            "good_til_cancelled" | "good_til_day" => TimeInForce::Gtc,
            "immediate_or_cancel" => TimeInForce::Ioc,
            "fill_or_kill" => TimeInForce::Fok,
            _ => {
                return Err(VenueError::new(
                    code::INVALID_PARAMS,
                    "Invalid params: time_in_force",
                ))
            }
        };
        let post_only = p.get("post_only").and_then(Value::as_bool).unwrap_or(false);
        Ok(NewOrder {
            client_id: label.clone(),
            instrument: inst.clone(),
            side: if buy { Side::Buy } else { Side::Sell },
            order_type,
            tif,
            post_only,
            px,
            qty,
        })
    })();
    let r = match parsed {
        Ok(o) => ex.place(o, now_ns),
        Err(e) => {
            ex.reject(&label, &inst, &e, now_ns);
            Err(e)
        }
    };
    respond_order(sh, ex, local, id, r, AckKind::New, now_ns);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse() {
        let b = parse_channel("book.BTC-PERPETUAL.100ms").unwrap();
        assert_eq!(
            (b.kind, b.instrument.as_str(), b.awaiting_snapshot),
            (DKind::Book, "BTC-PERPETUAL", true)
        );
        assert_eq!(
            parse_channel("book.BTC-PERPETUAL.none.10.100ms")
                .unwrap()
                .kind,
            DKind::Book
        );
        assert_eq!(
            parse_channel("user.orders.any.any.raw").unwrap().instrument,
            "any"
        );
        assert_eq!(
            parse_channel("user.trades.BTC-PERPETUAL.raw").unwrap().kind,
            DKind::UserTrades
        );
        assert!(parse_channel("nope.x").is_none());
        assert!(user_match("BTC", "BTC-PERPETUAL"));
        assert!(user_match("any", "ETH-1OCT21"));
        assert!(!user_match("ETH", "BTC-PERPETUAL"));
    }

    #[test]
    fn numbers_print_like_deribit() {
        assert_eq!(num(150_000).to_string(), "0.0015");
        assert_eq!(num(471_400_000_000).to_string(), "4714.0");
        assert_eq!(num(3_200_050_000_000).to_string(), "32000.5");
    }
}
