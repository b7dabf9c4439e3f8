//! The venue simulator over loopback: real protocols in, Ballast's own adapters as the client.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use feeds::{BinanceFeed, EventKind, PxQty, Registry};
use serde_json::{json, Value};
use testkit::cli::http;
use testkit::data::shared_dir;
use testkit::live::{start_sim, synth};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};
use venue_sim::{self, AckKind, Fault, OrderStatus, SimConfig, SimSource, Venue};

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(addr: SocketAddr, path: &str) -> Ws {
    let (ws, _) = tungstenite::connect(format!("ws://{addr}{path}")).expect("websocket connect");
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    ws
}

/// Next text message, or `None` after `idle` without one (or on close).
fn next_text(ws: &mut Ws, idle: Duration) -> Option<String> {
    let t0 = Instant::now();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => return Some(t),
            Ok(Message::Close(_)) => return None,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if t0.elapsed() > idle {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

fn send(ws: &mut Ws, v: &Value) {
    ws.send(Message::Text(v.to_string())).unwrap();
}

/// Reads until a message with `"id": id` arrives; other messages go to `other`.
fn response(ws: &mut Ws, id: u64, other: &mut Vec<String>) -> Value {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Some(t) = next_text(ws, Duration::from_secs(10)) {
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
            if v.get("id") == Some(&json!(id)) {
                return v;
            }
            other.push(t);
        }
    }
    panic!("no response to request {id}");
}

fn start(venue: Venue, steps: u32, speed: f64) -> venue_sim::SimHandle {
    start_sim(venue, steps, |c| c.speed = speed)
}

fn levels(b: &feeds::L2Book) -> (Vec<PxQty>, Vec<PxQty>) {
    (b.bids().collect(), b.asks().collect())
}

/// A Binance client book synced through the REST snapshot, then compared level by level with
/// the simulator's own book once the source is exhausted; a skipped diff shows as a gap and a
/// second snapshot resyncs it.
#[test]
fn binance_stream_and_rest_snapshot_keep_an_exact_book() {
    let sim = start(Venue::Binance, 800, 20.0);
    let addr = sim.addr();
    let mut ws = connect(
        addr,
        "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade",
    );
    let mut feed = BinanceFeed::new(Registry::new());
    let mut gaps = 0;
    let mut synced = false;
    let mut skipped = false;
    let mut frames = 0u64;
    let mut need_snapshot = true;
    while let Some(t) = next_text(&mut ws, Duration::from_millis(2000)) {
        frames += 1;
        let mut gap = false;
        feed.on_frame(frames, t.as_bytes(), &mut |e| {
            gap |= e.kind == EventKind::Gap
        })
        .unwrap();
        if gap {
            gaps += 1;
            need_snapshot = true;
        }
        let id = feed.registry().id("BTCUSDT");
        let valid = id.and_then(|i| feed.book(i)).is_some_and(|b| b.is_valid());
        if need_snapshot && t.contains("depthUpdate") {
            // Binance's procedure: one snapshot after diffs are buffering, then wait for the
            // bridging diff.
            let (st, body) = http(addr, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=1000");
            if st == 200 {
                feed.on_frame(frames, body.as_bytes(), &mut |_| {}).unwrap();
                need_snapshot = false;
            }
        }
        synced |= valid;
        if synced && !skipped && frames > 300 {
            sim.inject(Fault::SkipSequence);
            skipped = true;
        }
    }
    assert!(sim.source_done(), "the simulator published everything");
    assert!(skipped && synced);
    assert_eq!(gaps, 1, "the skipped diff is seen as exactly one gap");
    let s = feed.stats();
    assert_eq!(s.resyncs, 1);
    assert_eq!(s.malformed, 0);
    assert!(s.diffs_applied > 500, "{s:?}");
    // The client's book equals the simulator's, level by level.
    let id = feed.registry().id("BTCUSDT").unwrap();
    let (st, body) = http(addr, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000");
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["lastUpdateId"].as_u64().unwrap(),
        feed.book(id).unwrap().last_update_id()
    );
    let side = |k: &str| -> Vec<PxQty> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|l| PxQty {
                px: feeds::parse_decimal(l[0].as_str().unwrap().as_bytes(), 8)
                    .unwrap()
                    .mantissa,
                qty: feeds::parse_decimal(l[1].as_str().unwrap().as_bytes(), 8)
                    .unwrap()
                    .mantissa,
            })
            .collect()
    };
    assert_eq!(levels(feed.book(id).unwrap()), (side("bids"), side("asks")));
    sim.stop();
}

fn place(
    ws: &mut Ws,
    id: u64,
    mut params: Value,
    secret: Option<&str>,
    other: &mut Vec<String>,
) -> Value {
    if let Some(sec) = secret {
        params["apiKey"] = json!("key");
        params["timestamp"] = json!(1_700_000_000_000u64);
        let payload = venue_sim::binance_signature_payload(params.as_object().unwrap());
        params["signature"] = json!(venue_sim::hmac_sha256_hex(
            sec.as_bytes(),
            payload.as_bytes()
        ));
    }
    send(
        ws,
        &json!({"id": id, "method": "order.place", "params": params}),
    );
    response(ws, id, other)
}

fn wait_book(addr: SocketAddr) -> Value {
    let t0 = Instant::now();
    loop {
        let (st, body) = http(addr, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5");
        if st == 200 {
            return serde_json::from_str(&body).unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "book never became valid: {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Signed orders over the WebSocket API: bad signature and crossing post-only rejected, an IOC
/// fills against the book, a resting order cancels, a lost ack still leaves the order in the
/// record and in `order.status`; execution reports and the record agree exactly.
#[test]
fn binance_orders_signed_matched_and_recorded() {
    let sim = start_sim(Venue::Binance, 20_000, |cfg| {
        cfg.speed = 1.0;
        cfg.api_key = Some("key".into());
        cfg.api_secret = Some("s3cret".into());
    });
    let addr = sim.addr();
    let mut md = connect(addr, "/stream?streams=btcusdt@bookTicker");
    let _ = next_text(&mut md, Duration::from_secs(5));
    let book = wait_book(addr);
    let ask: f64 = book["asks"][0][0].as_str().unwrap().parse().unwrap();
    let bid: f64 = book["bids"][0][0].as_str().unwrap().parse().unwrap();
    let mut ws = connect(addr, "/ws-api/v3");
    let mut other = Vec::new();
    // Unsigned: rejected.
    let r = place(
        &mut ws,
        1,
        json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "1.00", "apiKey": "key", "timestamp": 1, "signature": "00"}),
        None,
        &mut other,
    );
    assert_eq!(r["error"]["code"], json!(-1022), "{r}");
    // Signed IOC buy well through the ask: fills.
    let px = format!("{:.2}", ask * 1.01);
    let r = place(
        &mut ws,
        2,
        json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "IOC", "quantity": "0.00100", "price": px, "newClientOrderId": "ioc-1"}),
        Some("s3cret"),
        &mut other,
    );
    assert_eq!(r["status"], json!(200), "{r}");
    let res = &r["result"];
    assert_eq!(res["clientOrderId"], json!("ioc-1"));
    assert!(
        matches!(
            res["status"].as_str(),
            Some("FILLED" | "EXPIRED" | "PARTIALLY_FILLED")
        ),
        "{res}"
    );
    let fills = res["fills"].as_array().unwrap().clone();
    assert!(!fills.is_empty(), "an IOC through the ask fills: {res}");
    // Post-only that would cross: rejected.
    let r = place(
        &mut ws,
        3,
        json!({"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT_MAKER", "quantity": "0.001", "price": format!("{:.2}", bid * 0.99)}),
        Some("s3cret"),
        &mut other,
    );
    assert_eq!(r["error"]["code"], json!(-2010), "{r}");
    // Resting buy far below: NEW, then cancel.
    let r = place(
        &mut ws,
        4,
        json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.002", "price": format!("{:.2}", bid * 0.5), "newClientOrderId": "rest-1"}),
        Some("s3cret"),
        &mut other,
    );
    assert_eq!(r["result"]["status"], json!("NEW"), "{r}");
    let oid = r["result"]["orderId"].as_u64().unwrap();
    let mut cancel = json!({"symbol": "BTCUSDT", "orderId": oid, "apiKey": "key", "timestamp": 2});
    let payload = venue_sim::binance_signature_payload(cancel.as_object().unwrap());
    cancel["signature"] = json!(venue_sim::hmac_sha256_hex(b"s3cret", payload.as_bytes()));
    send(
        &mut ws,
        &json!({"id": 5, "method": "order.cancel", "params": cancel}),
    );
    let r = response(&mut ws, 5, &mut other);
    assert_eq!(r["result"]["status"], json!("CANCELED"), "{r}");
    // Lost ack: no response, but the order exists.
    sim.inject(Fault::LoseAcks(1));
    let mut p = json!({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.003", "price": format!("{:.2}", bid * 0.5), "newClientOrderId": "lost-1", "apiKey": "key", "timestamp": 3});
    let payload = venue_sim::binance_signature_payload(p.as_object().unwrap());
    p["signature"] = json!(venue_sim::hmac_sha256_hex(b"s3cret", payload.as_bytes()));
    send(
        &mut ws,
        &json!({"id": 6, "method": "order.place", "params": p}),
    );
    let mut st = json!({"symbol": "BTCUSDT", "origClientOrderId": "lost-1", "apiKey": "key", "timestamp": 4});
    let payload = venue_sim::binance_signature_payload(st.as_object().unwrap());
    st["signature"] = json!(venue_sim::hmac_sha256_hex(b"s3cret", payload.as_bytes()));
    send(
        &mut ws,
        &json!({"id": 7, "method": "order.status", "params": st}),
    );
    let r = response(&mut ws, 7, &mut other);
    assert_eq!(r["result"]["status"], json!("NEW"), "{r}");
    assert!(
        other.iter().all(|t| !t.contains("\"id\":6")),
        "the lost ack never arrives"
    );

    let rec = sim.record();
    assert_eq!(rec.orders.len(), 3, "ioc, resting, lost-ack order");
    assert_eq!(rec.rejects.len(), 2);
    assert_eq!(rec.rejects[0].code, -1022);
    assert_eq!(rec.rejects[1].code, -2010);
    let kinds: Vec<(AckKind, bool)> = rec.acks.iter().map(|a| (a.kind, a.sent)).collect();
    assert_eq!(
        kinds,
        [
            (AckKind::New, true),
            (AckKind::New, true),
            (AckKind::Cancel, true),
            (AckKind::New, false)
        ]
    );
    assert_eq!(rec.orders[1].status, OrderStatus::Cancelled);
    // Fills in the response are exactly the record's.
    let rec_fills: Vec<(String, String)> = rec
        .fills
        .iter()
        .map(|f| {
            let d = |m: i64| {
                let mut v = Vec::new();
                feeds::write_decimal(&mut v, m, venue_sim::SIM_SCALE, venue_sim::SIM_SCALE);
                String::from_utf8(v).unwrap()
            };
            (d(f.px), d(f.qty))
        })
        .collect();
    let resp_fills: Vec<(String, String)> = fills
        .iter()
        .map(|f| {
            (
                f["price"].as_str().unwrap().to_owned(),
                f["qty"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(rec_fills, resp_fills);
    let filled: i64 = rec.fills.iter().map(|f| f.qty).sum();
    assert_eq!(filled, rec.orders[0].filled_qty);
    sim.stop();
}

/// Deribit: chain, book subscription with `change_id` continuity, a skipped change seen as a
/// gap and healed by resubscribing, option tickers normalized, orders filled with `user.*`
/// notifications, the client's book equal to a fresh snapshot at the end.
///
/// Long (about 200 lines) on purpose: one scenario on one connection, each step starting from the
/// state the previous one left (subscribed, gapped, resubscribed, trading), read top to bottom.
#[test]
fn deribit_subscriptions_resubscribe_and_orders() {
    let sim = start_sim(Venue::Deribit, 600, |cfg| {
        cfg.speed = 20.0;
        cfg.api_secret = Some("sec".into());
    });
    let addr = sim.addr();
    let (st, body) = http(addr, "GET", "/api/v2/public/get_instruments?currency=BTC");
    assert_eq!(st, 200);
    let chain: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<String> = chain["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instrument_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 7);
    let opt = names.iter().find(|n| n.ends_with("-C")).unwrap().clone();
    let mut feed = feeds::deribit::DeribitFeed::new(Registry::new());
    feed.load_instruments(&chain["result"].to_string()).unwrap();
    let mut ws = connect(addr, "/ws/api/v2");
    let mut other = Vec::new();
    send(
        &mut ws,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "public/subscribe", "params": {"channels": ["book.BTC-PERPETUAL.100ms", format!("ticker.{opt}.100ms")]}}),
    );
    let r = response(&mut ws, 1, &mut other);
    assert_eq!(r["result"].as_array().unwrap().len(), 2);
    let mut gaps = 0;
    let mut opt_tickers = 0;
    let mut frames = 0u64;
    let mut skipped = false;
    let mut pending: Vec<String> = std::mem::take(&mut other);
    pending.reverse();
    let mut next_id = 10;
    loop {
        let t = match pending.pop() {
            Some(t) => t,
            None => match next_text(&mut ws, Duration::from_millis(2000)) {
                Some(t) => t,
                None => break,
            },
        };
        frames += 1;
        feed.on_frame(frames, t.as_bytes(), &mut |e| {
            gaps += usize::from(e.kind == EventKind::Gap);
            if let Some(ot) = feeds::deribit::read_option_ticker(&e) {
                assert!(ot.mark_iv > 0.1 && ot.mark_iv < 3.0 && ot.underlying_px > 1000.0);
                opt_tickers += 1;
            }
        })
        .unwrap();
        if !skipped && frames > 200 {
            sim.inject(Fault::SkipSequence);
            skipped = true;
        }
        if let Some(id) = feed.take_resubscribe() {
            let name = feed.registry().get(id).unwrap().symbol.clone();
            let ch = format!("book.{name}.100ms");
            send(
                &mut ws,
                &json!({"jsonrpc": "2.0", "id": next_id, "method": "public/unsubscribe", "params": {"channels": [ch]}}),
            );
            send(
                &mut ws,
                &json!({"jsonrpc": "2.0", "id": next_id + 1, "method": "public/subscribe", "params": {"channels": [ch]}}),
            );
            next_id += 2;
        }
    }
    assert!(sim.source_done());
    assert_eq!(gaps, 1);
    let s = feed.stats();
    assert_eq!((s.resyncs, s.malformed), (1, 0), "{s:?}");
    assert_eq!(opt_tickers, 600 / 5);
    let id = feed.registry().id("BTC-PERPETUAL").unwrap();
    assert!(feed.book(id).unwrap().is_valid());
    // A fresh subscription's snapshot equals the client's book.
    let mut ws2 = connect(addr, "/ws/api/v2");
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "public/subscribe", "params": {"channels": ["book.BTC-PERPETUAL.raw"]}}),
    );
    let mut fresh = feeds::deribit::DeribitFeed::new(Registry::new());
    let mut got = Vec::new();
    let _ = response(&mut ws2, 1, &mut got);
    let snap = got
        .pop()
        .or_else(|| next_text(&mut ws2, Duration::from_secs(2)))
        .unwrap();
    fresh.on_frame(0, snap.as_bytes(), &mut |_| {}).unwrap();
    let fid = fresh.registry().id("BTC-PERPETUAL").unwrap();
    assert_eq!(
        levels(feed.book(id).unwrap()),
        levels(fresh.book(fid).unwrap())
    );
    assert_eq!(
        feed.book(id).unwrap().last_update_id(),
        fresh.book(fid).unwrap().last_update_id()
    );

    // Orders: unauthenticated rejected; after auth an IOC buy fills against the book.
    let mut other = Vec::new();
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "private/buy", "params": {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "market"}}),
    );
    assert_eq!(
        response(&mut ws2, 2, &mut other)["error"]["code"],
        json!(13009)
    );
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "public/auth", "params": {"grant_type": "client_credentials", "client_id": "id", "client_secret": "wrong"}}),
    );
    assert!(response(&mut ws2, 3, &mut other).get("error").is_some());
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 4, "method": "public/auth", "params": {"grant_type": "client_credentials", "client_id": "id", "client_secret": "sec"}}),
    );
    assert_eq!(
        response(&mut ws2, 4, &mut other)["result"]["token_type"],
        json!("bearer")
    );
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 5, "method": "private/subscribe", "params": {"channels": ["user.orders.any.any.raw", "user.trades.BTC-PERPETUAL.raw"]}}),
    );
    assert_eq!(
        response(&mut ws2, 5, &mut other)["result"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let ask = feed.book(id).unwrap().best_ask().unwrap();
    let ask_px = ask.px as f64 / 1e8;
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 6, "method": "private/buy", "params": {"instrument_name": "BTC-PERPETUAL", "amount": 10, "type": "limit", "price": ask_px, "time_in_force": "immediate_or_cancel", "label": "d-1"}}),
    );
    let r = response(&mut ws2, 6, &mut other);
    assert_eq!(r["result"]["order"]["order_state"], json!("filled"), "{r}");
    assert_eq!(r["result"]["trades"][0]["price"], json!(ask_px));
    assert_eq!(r["result"]["trades"][0]["amount"], json!(10.0));
    // Edit and cancel a resting order.
    let low = (ask.px / 100_000_000 / 2) as f64;
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 7, "method": "private/sell", "params": {"instrument_name": "BTC-PERPETUAL", "amount": 20, "price": ask_px * 2.0, "label": "d-2"}}),
    );
    let r = response(&mut ws2, 7, &mut other);
    let oid = r["result"]["order"]["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 8, "method": "private/edit", "params": {"order_id": oid, "amount": 30, "price": ask_px * 3.0}}),
    );
    assert_eq!(
        response(&mut ws2, 8, &mut other)["result"]["order"]["amount"],
        json!(30.0)
    );
    send(
        &mut ws2,
        &json!({"jsonrpc": "2.0", "id": 9, "method": "private/cancel", "params": {"order_id": oid}}),
    );
    assert_eq!(
        response(&mut ws2, 9, &mut other)["result"]["order_state"],
        json!("cancelled")
    );
    let _ = low;
    while let Some(t) = next_text(&mut ws2, Duration::from_millis(200)) {
        other.push(t);
    }
    let user_orders = other
        .iter()
        .filter(|t| t.contains("\"channel\":\"user.orders.any.any.raw\""))
        .count();
    let user_trades = other
        .iter()
        .filter(|t| t.contains("\"channel\":\"user.trades.BTC-PERPETUAL.raw\""))
        .count();
    assert_eq!(
        user_orders, 4,
        "one per order event (fill, new, edit, cancel)"
    );
    assert_eq!(user_trades, 1);
    let rec = sim.record();
    assert_eq!(rec.orders.len(), 2);
    assert_eq!(rec.fills.len(), 1);
    assert_eq!((rec.fills[0].px, rec.fills[0].qty), (ask.px, 1_000_000_000));
    assert_eq!(rec.rejects.len(), 1);
    assert_eq!(rec.rejects[0].code, 13009);
    sim.stop();
}

/// Heartbeats, malformed frames, disconnects and the HTTP control channel.
#[test]
fn deribit_heartbeat_faults_and_control() {
    let sim = start(Venue::Deribit, 20_000, 1.0);
    let addr = sim.addr();
    let mut ws = connect(addr, "/ws/api/v2");
    let mut other = Vec::new();
    send(
        &mut ws,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat", "params": {"interval": 0.2}}),
    );
    assert_eq!(response(&mut ws, 1, &mut other)["result"], json!("ok"));
    let mut feed = feeds::deribit::DeribitFeed::new(Registry::new());
    let t0 = Instant::now();
    while !feed.take_test_request() {
        let t = next_text(&mut ws, Duration::from_secs(5)).expect("heartbeat");
        feed.on_frame(0, t.as_bytes(), &mut |_| {}).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
    send(
        &mut ws,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "public/test", "params": {}}),
    );
    assert!(response(&mut ws, 2, &mut other)["result"]["version"].is_string());
    // Malformed frames arrive in addition to the real ones and are rejected without harm.
    send(
        &mut ws,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "public/subscribe", "params": {"channels": ["ticker.BTC-PERPETUAL.100ms"]}}),
    );
    let _ = response(&mut ws, 3, &mut other);
    let (st, _) = http(addr, "POST", "/sim/fault?kind=malformed&n=3");
    assert_eq!(st, 200);
    let (st, body) = http(addr, "POST", "/sim/fault?kind=bogus");
    assert_eq!(st, 400);
    assert!(body.contains("unknown fault kind"));
    let mut bad = 0;
    let mut good = 0;
    while bad < 3 || good < 5 {
        let t = next_text(&mut ws, Duration::from_secs(5)).expect("frames");
        match feed.on_frame(0, t.as_bytes(), &mut |_| {}) {
            Ok(()) => good += 1,
            Err(_) => bad += 1,
        }
        if feed.take_test_request() {
            send(
                &mut ws,
                &json!({"jsonrpc": "2.0", "id": 100 + good, "method": "public/test", "params": {}}),
            );
        }
    }
    assert_eq!(bad, 3);
    // Disconnect: the connection ends.
    sim.inject(Fault::Disconnect);
    // Frames already in flight may still arrive; then the socket reports closed (not a timeout).
    let t0 = Instant::now();
    let closed = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "connection not dropped"
        );
        match ws.read() {
            Ok(Message::Close(_)) => break true,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
    };
    assert!(closed);
    let (st, body) = http(addr, "GET", "/sim/record");
    assert_eq!(st, 200);
    let rec: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rec["faults"].as_array().unwrap().len(), 2);
    sim.stop();
}

#[test]
fn refuses_non_loopback() {
    let mut cfg = SimConfig::new(Venue::Binance, SimSource::Synthetic(synth(10)));
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    let e = venue_sim::start(cfg).unwrap_err();
    assert!(e.to_string().contains("loopback"));
    let cfg = SimConfig::new(
        Venue::Binance,
        SimSource::Capture(vec!["/nonexistent/capture.gz".into()]),
    );
    assert!(venue_sim::start(cfg).is_err());
}

/// The simulator serves the real Deribit capture: the chain from its `get_instruments` bodies,
/// every book chain intact through the simulator, every option ticker delivered.
#[test]
fn deribit_serves_the_real_capture() {
    let Some(dir) = shared_dir("cryptofeed/DERIBIT.jsonl.zst") else {
        return;
    };
    let mut cfg = SimConfig::new(
        Venue::Deribit,
        SimSource::Capture(vec![dir.join("cryptofeed/DERIBIT.jsonl.zst")]),
    );
    cfg.speed = 0.0;
    let sim = venue_sim::start(cfg).unwrap();
    let addr = sim.addr();
    let (st, body) = http(addr, "GET", "/api/v2/public/get_instruments?currency=BTC");
    assert_eq!(st, 200);
    assert!(body.contains("\"BTC-24SEP21-40000-P\""));
    let names = [
        "BTC-24SEP21-8000-P",
        "BTC-30JUL21-24000-P",
        "ETH-30JUL21-2800-C",
        "BTC-31DEC21-34000-P",
        "BTC-24SEP21-34000-P",
        "BTC-24JUN22-15000-C",
        "BTC-31DEC21-300000-C",
        "ETH-27AUG21-4000-P",
        "BTC-25MAR22-30000-C",
        "ETH-23JUL21-2300-C",
    ];
    let chans: Vec<String> = names
        .iter()
        .flat_map(|n| [format!("book.{n}.raw"), format!("ticker.{n}.100ms")])
        .collect();
    let mut ws = connect(addr, "/ws/api/v2");
    send(
        &mut ws,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "public/subscribe", "params": {"channels": chans}}),
    );
    let mut msgs = Vec::new();
    assert_eq!(
        response(&mut ws, 1, &mut msgs)["result"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    while let Some(t) = next_text(&mut ws, Duration::from_millis(2000)) {
        msgs.push(t);
    }
    assert!(sim.source_done());
    let mut feed = feeds::deribit::DeribitFeed::new(Registry::new());
    let (mut gaps, mut opt) = (0, 0);
    for t in &msgs {
        feed.on_frame(0, t.as_bytes(), &mut |e| {
            gaps += usize::from(e.kind == EventKind::Gap);
            opt += usize::from(e.kind == EventKind::OptionTicker);
        })
        .unwrap();
    }
    let s = feed.stats();
    assert_eq!(gaps, 0);
    assert_eq!(opt, 89);
    assert_eq!(
        (s.snapshots, s.diffs, s.diffs_applied),
        (10, 36, 36),
        "{s:?}"
    );
    sim.stop();
}

/// Delayed acks queue behind nothing else: execution reports overtake the held response, which
/// still arrives; without the delay the response comes first.
#[test]
fn delayed_acks_arrive_after_execution_reports() {
    let sim = start(Venue::Binance, 20_000, 1.0);
    let addr = sim.addr();
    let mut md = connect(addr, "/stream?streams=btcusdt@bookTicker");
    let _ = next_text(&mut md, Duration::from_secs(5));
    let book = wait_book(addr);
    let bid: f64 = book["bids"][0][0].as_str().unwrap().parse().unwrap();
    let mut ws = connect(addr, "/ws-api/v3");
    let mut other = Vec::new();
    send(
        &mut ws,
        &json!({"id": 1, "method": "userDataStream.subscribe"}),
    );
    assert_eq!(response(&mut ws, 1, &mut other)["status"], json!(200));
    let order = |id: u64| json!({"id": id, "method": "order.place", "params": {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": format!("{:.2}", bid * 0.5)}});
    send(&mut ws, &order(2));
    let first = next_text(&mut ws, Duration::from_secs(5)).unwrap();
    assert!(first.contains("\"id\":2"), "{first}");
    sim.inject(Fault::DelayAcks(Duration::from_millis(300)));
    send(&mut ws, &order(3));
    let first = next_text(&mut ws, Duration::from_secs(5)).unwrap();
    assert!(first.contains("executionReport"), "{first}");
    let r = response(&mut ws, 3, &mut other);
    assert_eq!(r["result"]["status"], json!("NEW"));
    assert_eq!(sim.record().acks.len(), 2);
    sim.stop();
}

/// A stall silences the feed; it resumes afterwards without loss of continuity.
#[test]
fn stall_silences_then_resumes() {
    let sim = start(Venue::Binance, 20_000, 1.0);
    let addr = sim.addr();
    let mut ws = connect(addr, "/stream?streams=btcusdt@depth@100ms");
    assert!(next_text(&mut ws, Duration::from_secs(5)).is_some());
    sim.inject(Fault::Stall(Duration::from_millis(3000)));
    // Whatever was already in flight drains within a few ms; then silence.
    while next_text(&mut ws, Duration::from_millis(300)).is_some() {}
    assert!(
        next_text(&mut ws, Duration::from_millis(600)).is_none(),
        "frames during the stall"
    );
    let mut ids = Vec::new();
    while ids.len() < 5 {
        let t = next_text(&mut ws, Duration::from_secs(5)).expect("resumes");
        let v: Value = serde_json::from_str(&t).unwrap();
        ids.push((
            v["data"]["U"].as_u64().unwrap(),
            v["data"]["u"].as_u64().unwrap(),
        ));
    }
    assert!(
        ids.windows(2).all(|w| w[1].0 == w[0].1 + 1),
        "diffs continue: {ids:?}"
    );
    sim.stop();
}

/// `session.logon` with an Ed25519 key: a bad signature is refused; after a good one the
/// connection's orders need no per-request signature and the user data stream opens.
#[test]
fn binance_session_logon_ed25519() {
    use base64::Engine as _;
    use ed25519_dalek::{Signer, SigningKey};
    let sk = SigningKey::from_bytes(&[42u8; 32]);
    let sim = start_sim(Venue::Binance, 20_000, |cfg| {
        cfg.api_key = Some("key".into());
        cfg.api_secret = Some("hmac-secret".into());
        cfg.ed25519_public_key = Some(sk.verifying_key().to_bytes());
    });
    let addr = sim.addr();
    let mut md = connect(addr, "/stream?streams=btcusdt@bookTicker");
    let _ = next_text(&mut md, Duration::from_secs(5));
    let book = wait_book(addr);
    let bid: f64 = book["bids"][0][0].as_str().unwrap().parse().unwrap();
    let mut ws = connect(addr, "/ws-api/v3");
    let mut other = Vec::new();
    let logon = |ws: &mut Ws, id: u64, key: &SigningKey| {
        let mut p = json!({"apiKey": "key", "timestamp": 1_700_000_000_000u64});
        let payload = venue_sim::binance_signature_payload(p.as_object().unwrap());
        p["signature"] = json!(base64::engine::general_purpose::STANDARD
            .encode(key.sign(payload.as_bytes()).to_bytes()));
        send(
            ws,
            &json!({"id": id, "method": "session.logon", "params": p}),
        );
    };
    logon(&mut ws, 1, &SigningKey::from_bytes(&[1u8; 32]));
    assert_eq!(
        response(&mut ws, 1, &mut other)["error"]["code"],
        json!(-1022)
    );
    send(
        &mut ws,
        &json!({"id": 2, "method": "userDataStream.subscribe"}),
    );
    assert_eq!(
        response(&mut ws, 2, &mut other)["error"]["code"],
        json!(-2015)
    );
    logon(&mut ws, 3, &sk);
    assert_eq!(
        response(&mut ws, 3, &mut other)["result"]["apiKey"],
        json!("key")
    );
    send(
        &mut ws,
        &json!({"id": 4, "method": "userDataStream.subscribe"}),
    );
    assert_eq!(response(&mut ws, 4, &mut other)["status"], json!(200));
    send(
        &mut ws,
        &json!({"id": 5, "method": "order.place", "params": {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": format!("{:.2}", bid * 0.5)}}),
    );
    assert_eq!(
        response(&mut ws, 5, &mut other)["result"]["status"],
        json!("NEW")
    );
    let report = next_text(&mut ws, Duration::from_secs(5)).unwrap();
    assert!(
        report.contains("\"executionReport\"") && report.contains("\"x\":\"NEW\""),
        "{report}"
    );
    sim.stop();
}

/// The simulator serves a cryptofeed Binance USD-M capture: its REST bodies sync the
/// simulator's book, a client syncs from the simulator's REST snapshot, and both books agree
/// level by level at the end.
#[test]
fn binance_serves_a_cryptofeed_futures_capture() {
    let Some(dir) = shared_dir("cryptofeed/DERIBIT.jsonl.zst") else {
        return;
    };
    let mut cfg = SimConfig::new(
        Venue::Binance,
        SimSource::Capture(vec![dir.join("cryptofeed/BINANCE_FUTURES.jsonl.zst")]),
    );
    // Paced (31 s recorded, about 2 s here) so the client snapshot is followed by bridging diffs.
    cfg.speed = 15.0;
    let sim = venue_sim::start(cfg).unwrap();
    let addr = sim.addr();
    let mut ws = connect(addr, "/stream?streams=sushiusdt@depth@100ms");
    let mut reg = Registry::new();
    let id = reg.register("SUSHIUSDT", feeds::Market::BinanceUsdM, 8, 8);
    let mut feed = BinanceFeed::new(reg);
    let mut need_snapshot = true;
    let mut n = 0;
    while let Some(t) = next_text(&mut ws, Duration::from_millis(2000)) {
        n += 1;
        feed.on_frame(n, t.as_bytes(), &mut |_| {}).unwrap();
        if need_snapshot {
            let (st, body) = http(addr, "GET", "/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000");
            if st == 200 {
                feed.set_snapshot_target(id);
                feed.on_frame(n, body.as_bytes(), &mut |_| {}).unwrap();
                need_snapshot = false;
            }
        }
    }
    assert!(sim.source_done());
    let s = feed.stats();
    assert_eq!((s.gaps, s.malformed, s.snapshots), (0, 0, 1), "{s:?}");
    assert!(feed.book(id).unwrap().is_valid());
    let (st, body) = http(addr, "GET", "/fapi/v1/depth?symbol=SUSHIUSDT&limit=5000");
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["lastUpdateId"].as_u64().unwrap(),
        feed.book(id).unwrap().last_update_id()
    );
    let side = |k: &str| -> Vec<PxQty> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|l| PxQty {
                px: feeds::parse_decimal(l[0].as_str().unwrap().as_bytes(), 8)
                    .unwrap()
                    .mantissa,
                qty: feeds::parse_decimal(l[1].as_str().unwrap().as_bytes(), 8)
                    .unwrap()
                    .mantissa,
            })
            .collect()
    };
    // The client's book came from a 1000-level snapshot: levels beyond that window may differ
    // (Binance's procedure too); the top 200 a side must agree exactly.
    let (b, a) = levels(feed.book(id).unwrap());
    let top = |v: &[PxQty]| v.iter().take(200).copied().collect::<Vec<_>>();
    assert_eq!((top(&b), top(&a)), (top(&side("bids")), top(&side("asks"))));
    sim.stop();
}
