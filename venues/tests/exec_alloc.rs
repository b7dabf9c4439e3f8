//! Zero heap allocations per order on the venue adapters' order path (place, cancel, edit;
//! Binance under HMAC signing and under `session.logon`; Deribit), counted on the calling thread
//! after warm-up, against the in-process venue simulator. Every order must still get its final
//! report from the venue, so the requests counted are requests the venue accepted.
//!
//! The receive side is counted too:
//! - the whole round trip: submit, then poll until every final report is in (frames received
//!   through the connection's own reader, answers and notifications parsed, reports made), and
//!   the answers to cancels and edits read and dropped;
//! - the answers alone (`on_frame` on answer texts written as the venues write them: fills,
//!   expiries, recoveries, refusals, escaped strings, notifications, a re-logon).

use testkit::alloc as counting;

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

use std::time::{Duration, Instant};

use engine::clock::Clock;
use engine::exec::ExecutionAdapter;
use engine::order::{Binding, Fill, Order, Reason};
use feeds::{InstrumentId, Market, Registry, Side};
use testkit::live::start_sim;
use venue_sim::{self, SimConfig, Venue};
use venues::exec::binance::{BinanceAuth, BinanceExec, BinanceExecConfig};
use venues::exec::deribit::{DeribitExec, DeribitExecConfig};
use venues::exec::Credentials;

const WARM: u64 = 64;
const N: u64 = 300;

/// The counter is live in this binary (so a zero below means something).
#[test]
fn counter_counts() {
    let (v, k) = counting::measure(|| std::hint::black_box(vec![1u8; 64]));
    assert_eq!((v.len(), k), (64, 1));
}

fn order(id: u64, side: Side, qty: i64, limit_px: i64) -> Order {
    Order {
        id,
        recv_ns: 0,
        t_ingest: 0,
        t_push: 0,
        ingest_lag_ns: 0,
        instrument: InstrumentId(0),
        side,
        reason: Reason::VolTarget,
        binding: Binding::Model,
        qty,
        limit_px,
        touch_qty: 0,
        target_qty: 0.0,
        position_qty: 0.0,
        working_qty: 0.0,
        vol_forecast: 0.0,
        rebalance: 0,
    }
}

fn sim(venue: Venue, edit: impl FnOnce(&mut SimConfig)) -> venue_sim::SimHandle {
    start_sim(venue, 1_000_000, |sc| {
        sc.start_on_subscribe = false;
        edit(sc);
    })
}

/// Polls until nothing is in flight, the reports into `fills`; returns the allocations of the
/// polls.
fn settle<A: ExecutionAdapter>(a: &mut A, clock: &Clock, fills: &mut Vec<Fill>) -> u64 {
    let t0 = Instant::now();
    let mut allocs = 0;
    while a.in_flight() > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{} orders never reported",
            a.in_flight()
        );
        let (progress, k) = counting::measure(|| a.poll(clock, &mut |f| fills.push(f)));
        allocs += k;
        if !progress {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    allocs
}

/// Warms up: rounds of orders until the venue's book is up (a round with no refusal) and the
/// adapter's buffers have grown. Returns the next order id.
fn warm_up<A: ExecutionAdapter>(
    a: &mut A,
    clock: &Clock,
    rejects: impl Fn(&A) -> u64,
    qty: i64,
    buy_px: i64,
    sell_px: i64,
) -> u64 {
    let t0 = Instant::now();
    let mut next = 1;
    loop {
        let before = rejects(a);
        let (_, fills) = round(a, clock, next, WARM, qty, buy_px, sell_px);
        assert_eq!(fills.len() as u64, WARM);
        next += WARM;
        if rejects(a) == before {
            return next;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the venue never accepted orders"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Allocations counted over one round of orders.
#[derive(Debug, Clone, Copy)]
struct Counts {
    /// In the submits alone.
    submit: u64,
    /// In the whole round: submits and the polls until every final report is in.
    round_trip: u64,
}

/// Submits `n` orders from `first` (alternating sides at prices that do not cross) and polls
/// until every final report is in, counting the allocations of the submits and of the polls (the
/// report buffer is reserved before; the counter does not nest, so each call is counted on its
/// own). Returns the counts and the reports.
fn round<A: ExecutionAdapter>(
    a: &mut A,
    clock: &Clock,
    first: u64,
    n: u64,
    qty: i64,
    buy_px: i64,
    sell_px: i64,
) -> (Counts, Vec<Fill>) {
    let mut fills = Vec::with_capacity(n as usize);
    let (mut submit, mut polls) = (0, 0);
    for id in first..first + n {
        let (side, px) = if id % 2 == 0 {
            (Side::Buy, buy_px)
        } else {
            (Side::Sell, sell_px)
        };
        let o = order(id, side, qty, px);
        let ((), k) = counting::measure(|| a.submit(&o, clock, &mut |_| {}));
        submit += k;
        // Read acks now and then so the venue's answers do not pile up in the socket.
        if id % 16 == 0 {
            polls += settle(a, clock, &mut fills);
        }
    }
    polls += settle(a, clock, &mut fills);
    (
        Counts {
            submit,
            round_trip: submit + polls,
        },
        fills,
    )
}

fn binance(auth: BinanceAuth, edit: impl FnOnce(&mut SimConfig)) {
    let sim = sim(Venue::Binance, edit);
    let mut reg = Registry::new();
    reg.register("BTCUSDT", Market::BinanceSpot, 8, 8);
    let clock = Clock::new();
    let mut exec = BinanceExec::connect(
        BinanceExecConfig {
            url: format!("ws://{}/ws-api/v3", sim.addr()),
            auth,
            recv_window_ms: 5000,
            ack_timeout_ms: 2000,
            connect_timeout_ms: 2000,
            client_id_prefix: "alloc-".into(),
        },
        reg.instruments(),
        clock.clone(),
    )
    .expect("connect");
    // IOC far from the touch: each expires unfilled, a final report either way.
    let (qty, buy, sell) = (200_000, 100_000_000, 100_000_000_000_000);
    let first = warm_up(&mut exec, &clock, |e| e.stats().rejects, qty, buy, sell);
    let (rejects0, frames0) = (exec.stats().rejects, exec.stats().frames);
    let (counts, fills) = round(&mut exec, &clock, first, N, qty, buy, sell);
    let st = exec.stats();
    assert_eq!(fills.len() as u64, N, "{st:?}");
    assert_eq!(
        st.rejects - rejects0,
        0,
        "the venue refused requests: {st:?} {:?}",
        sim.record().rejects.first()
    );
    assert_eq!(st.sent, first - 1 + N);
    assert_eq!(counts.submit, 0, "{counts:?} over {N} order.place");
    let frames = st.frames - frames0;
    assert_eq!(
        counts.round_trip, 0,
        "{counts:?} over {N} order.place round trips ({frames} frames read)"
    );

    // Cancels by client id (the venue answers "unknown order" for IOC orders long gone; the
    // request is what is counted).
    let (cancels0, frames0) = (exec.stats().cancels, exec.stats().frames);
    let ((), k) = counting::measure(|| {
        for id in first..first + N {
            exec.cancel(id, InstrumentId(0));
        }
    });
    assert_eq!(exec.stats().cancels - cancels0, N);
    assert_eq!(k, 0, "{k} allocations over {N} order.cancel");
    let (frames, k) = answers(&mut exec, &clock, |e| e.stats().frames - frames0, N);
    assert_eq!(
        k, 0,
        "{k} allocations reading {frames} order.cancel answers"
    );

    binance_answers_handed_in(&mut exec, &clock, first + N);
    sim.stop();
}

/// What the answer to order `id` says, by `id % 4`: the answer text and the report expected of
/// it (`None`: wholly cancelled).
fn binance_answer(id: u64) -> (String, Option<(i64, i64)>) {
    // Rate limits and escaped strings the adapter skips.
    let limits = r#""rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":50,"count":1},{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":4}]"#;
    match id % 4 {
        // Filled in two fills: (0.001 × 60000 + 0.002 × 60000.015) / 0.003 = 60000.01.
        0 => (
            format!(
                r#"{{"id":"p{id}","status":200,"result":{{"symbol":"BTCUSDT","orderId":{id},"orderListId":-1,"clientOrderId":"alloc-\u0037\"{id}","transactTime":1700000000000,"price":"60001.00000000","origQty":"0.00300000","executedQty":"0.00300000","cummulativeQuoteQty":"180.00003000","status":"FILLED","timeInForce":"IOC","type":"LIMIT","side":"BUY","workingTime":1700000000000,"fills":[{{"price":"60000.00000000","qty":"0.00100000","commission":"0.00000000","commissionAsset":"BNB","tradeId":1}},{{"price":"60000.01500000","qty":"0.00200000","commission":"0.00000000","commissionAsset":"BNB","tradeId":2}}],"selfTradePreventionMode":"NONE"}},{limits}}}"#
            ),
            Some((300_000, 6_000_001_000_000)),
        ),
        // Expired unfilled (status escaped): the limit price.
        1 => (
            format!(
                r#"{{"id":"p{id}","status":200,"result":{{"symbol":"BTCUSDT","orderId":{id},"clientOrderId":"alloc-{id}","price":"1.00000000","origQty":"0.00300000","executedQty":"0.00000000","cummulativeQuoteQty":"0.00000000","status":"EXP\u0049RED","fills":[]}},{limits}}}"#
            ),
            Some((0, 100_000_000)),
        ),
        // Recovered by order.status (no fills listed): quote / quantity.
        2 => (
            format!(
                r#"{{"id":"s{id}-9","status":200,"result":{{"symbol":"BTCUSDT","orderId":{id},"price":"60001.00000000","origQty":"0.00300000","executedQty":"0.00200000","cummulativeQuoteQty":"120.00002000","status":"EXPIRED"}},{limits}}}"#
            ),
            Some((200_000, 6_000_001_000_000)),
        ),
        // Refused.
        _ => (
            format!(
                r#"{{"id":"p{id}","status":400,"error":{{"code":-2010,"msg":"Account has insufficient balance for requested action."}},{limits}}}"#
            ),
            None,
        ),
    }
}

/// Polls until `frames(a)` (frames read since a mark) reaches `n`; returns it and the
/// allocations of the polls.
fn answers<A: ExecutionAdapter>(
    a: &mut A,
    clock: &Clock,
    frames: impl Fn(&A) -> u64,
    n: u64,
) -> (u64, u64) {
    let t0 = Instant::now();
    let mut allocs = 0;
    while frames(a) < n {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{} of {n} answers",
            frames(a)
        );
        let (progress, k) = counting::measure(|| a.poll(clock, &mut |_| {}));
        allocs += k;
        if !progress {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    (frames(a), allocs)
}

/// Allocations of a `serde_json::Value` parse of `text` (the adapters' former first step).
fn value_allocs(text: &str) -> u64 {
    counting::measure(|| serde_json::from_str::<serde_json::Value>(text).map(|_| ())).1
}

/// The answers alone: for orders in flight, answers written as the venue writes them are handed
/// to `on_frame` before the venue's own (which then arrive late and are dropped); each order is
/// reported once, as its answer says, with no allocation.
fn binance_answers_handed_in(exec: &mut BinanceExec, clock: &Clock, first: u64) {
    let (late0, acks0, rec0, rej0) = {
        let s = exec.stats();
        (s.late_acks, s.acks, s.recovered, s.rejects)
    };
    let mut fills = Vec::with_capacity(N as usize);
    let (mut allocs, mut before) = (0, 0);
    for start in (first..first + N).step_by(16) {
        let ids = start..(start + 16).min(first + N);
        let answers: Vec<_> = ids.clone().map(binance_answer).collect();
        for id in ids.clone() {
            exec.submit(
                &order(id, Side::Buy, 300_000, 100_000_000),
                clock,
                &mut |_| {},
            );
        }
        for (text, _) in &answers {
            let ((), k) =
                counting::measure(|| exec.on_frame(text.as_bytes(), &mut |f| fills.push(f)));
            allocs += k;
            before += value_allocs(text);
        }
        // The venue's own answers, now late.
        let t0 = Instant::now();
        while exec.stats().late_acks - late0 < ids.end - first {
            assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", exec.stats());
            if !exec.poll(clock, &mut |f| panic!("a second report {f:?}")) {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
    assert_eq!(fills.len() as u64, N);
    for (f, id) in fills.iter().zip(first..) {
        assert_eq!(f.order_id, id);
        let (qty, px) = binance_answer(id).1.unwrap_or((0, 100_000_000));
        assert_eq!(
            (f.qty, f.px, f.cancelled_qty),
            (qty, px, 300_000 - qty),
            "{id}"
        );
    }
    let s = exec.stats();
    assert_eq!(
        (s.acks - acks0, s.recovered - rec0, s.rejects - rej0),
        (N / 2, N / 4, N / 4)
    );
    // A re-logon answer is counted, without allocating either.
    let logons0 = s.logons;
    let logon = br#"{"id":"logon","status":200,"result":{"apiKey":"k","authorizedSince":1,"connectedSince":1,"returnRateLimits":false,"serverTime":1},"rateLimits":[]}"#;
    let ((), k) = counting::measure(|| exec.on_frame(logon, &mut |_| {}));
    assert_eq!((exec.stats().logons - logons0, k), (1, 0));
    println!(
        "Binance answers: {allocs} allocations over {N} (serde_json::Value parse alone: {:.1} per \
         answer)",
        before as f64 / N as f64
    );
    assert_eq!(allocs, 0, "{allocs} allocations over {N} answers");
}

#[test]
fn binance_hmac_orders_do_not_allocate() {
    binance(
        BinanceAuth::Hmac(Credentials::new("alloc-key", "alloc-secret")),
        |sc| {
            sc.api_key = Some("alloc-key".into());
            sc.api_secret = Some("alloc-secret".into());
        },
    );
}

#[test]
fn binance_logon_orders_do_not_allocate() {
    let seed = [7u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    use base64::Engine as _;
    let secret = base64::engine::general_purpose::STANDARD.encode(seed);
    binance(
        BinanceAuth::Ed25519Logon(Credentials::new("alloc-key", secret)),
        |sc| {
            sc.api_key = Some("alloc-key".into());
            sc.ed25519_public_key = Some(public);
        },
    );
}

#[test]
fn deribit_orders_edits_cancels_do_not_allocate() {
    let sim = sim(Venue::Deribit, |sc| {
        sc.api_key = Some("alloc-client".into());
        sc.api_secret = Some("alloc-secret".into());
    });
    let mut reg = Registry::new();
    reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
    let inst = reg.instruments()[0].clone();
    let clock = Clock::new();
    let mut exec = DeribitExec::connect(
        DeribitExecConfig {
            url: format!("ws://{}/ws/api/v2", sim.addr()),
            credentials: Credentials::new("alloc-client", "alloc-secret"),
            settle_timeout_ms: 2000,
            connect_timeout_ms: 2000,
            label_prefix: "alloc-".into(),
        },
        reg.instruments(),
        clock.clone(),
    )
    .expect("connect");
    // 10 USD amounts at 0.5 USD ticks, far from the touch.
    let (qty, buy, sell) = (1_000_000_000, 100_000_000, 10_000_000_000_000);
    let first = warm_up(&mut exec, &clock, |e| e.stats().rejects, qty, buy, sell);
    let (rejects0, frames0) = (exec.stats().rejects, exec.stats().frames);
    let (counts, fills) = round(&mut exec, &clock, first, N, qty, buy, sell);
    let st = exec.stats();
    assert_eq!(fills.len() as u64, N, "{st:?}");
    assert_eq!(
        st.rejects - rejects0,
        0,
        "the venue refused orders: {st:?} {:?}",
        sim.record().rejects.first()
    );
    assert_eq!(counts.submit, 0, "{counts:?} over {N} private/buy|sell");
    let frames = st.frames - frames0;
    assert_eq!(
        counts.round_trip, 0,
        "{counts:?} over {N} private/buy|sell round trips ({frames} frames read)"
    );

    let (ec0, frames0) = (exec.stats().edits_cancels, exec.stats().frames);
    let ((), k) = counting::measure(|| {
        for i in 0..N {
            let px = 100_000_000 + (i as i64 % 7) * 50_000_000;
            exec.edit("ETH-1234567", 2_000_000_000, px, &inst);
            exec.cancel("ETH-1234567");
        }
    });
    assert_eq!(exec.stats().edits_cancels - ec0, 2 * N);
    assert_eq!(
        k, 0,
        "{k} allocations over {N} private/edit + private/cancel"
    );
    // Their answers (the venue knows no such order) read and dropped.
    let (frames, k) = answers(&mut exec, &clock, |e| e.stats().frames - frames0, 2 * N);
    assert_eq!(
        k, 0,
        "{k} allocations reading {frames} private/edit|cancel answers"
    );

    deribit_answers_handed_in(&mut exec, &clock, first + N);
    sim.stop();
}

/// What the answer to order `id` (30 USD at 1 USD, label `alloc-{id}`) says, by `id % 4`: the
/// answer text and the report expected of it (`None`: wholly cancelled).
fn deribit_answer(id: u64) -> (String, Option<(i64, i64)>) {
    let order = |state: &str, filled: &str, avg: &str, label: &str| {
        format!(
            r#"{{"order_id":"ETH-{id}","order_state":"{state}","order_type":"limit","direction":"buy","price":1.0,"amount":30.0,"filled_amount":{filled},"average_price":{avg},"label":"{label}","instrument_name":"BTC-PERPETUAL","creation_timestamp":1700000000000,"last_update_timestamp":1700000000001,"time_in_force":"immediate_or_cancel","post_only":false,"reduce_only":false,"api":true,"web":false,"replaced":false,"is_liquidation":false,"max_show":30.0,"commission":0.0,"cancel_reason":"immediate_or_cancel"}}"#
        )
    };
    let trade = |px: &str, amount: &str| {
        format!(
            r#"{{"trade_id":"T-{id}","trade_seq":{id},"order_id":"ETH-{id}","instrument_name":"BTC-PERPETUAL","direction":"buy","price":{px},"amount":{amount},"timestamp":1700000000000,"state":"filled","fee":1.5e-07,"fee_currency":"BTC","liquidity":"T","label":"alloc-{id}","order_type":"limit","index_price":60000.12,"mark_price":60000.1,"tick_direction":1,"matching_id":null,"api":true,"post_only":false,"reduce_only":false}}"#
        )
    };
    let tail = r#""usIn":1700000000000000,"usOut":1700000000000100,"usDiff":100,"testnet":true"#;
    match id % 4 {
        // Filled in two trades (one price in exponent form): (10 × 60000 + 20 × 60000.5) / 30.
        0 => (
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"order":{},"trades":[{},{}]}},{tail}}}"#,
                order("filled", "30.0", "60000.3333", &format!("alloc-{id}")),
                trade("60000.0", "10.0"),
                trade("6.00005e4", "20")
            ),
            Some((3_000_000_000, 6_000_033_333_333)),
        ),
        // Cancelled unfilled (immediate-or-cancel): the limit price.
        1 => (
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"order":{},"trades":[]}},{tail}}}"#,
                order("cancelled", "0.0", "0.0", &format!("alloc-{id}"))
            ),
            Some((0, 100_000_000)),
        ),
        // A user.orders notification (label escaped): the average price.
        2 => (
            format!(
                r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"user.orders.any.any.raw","data":{}}}}}"#,
                order("filled", "20", "60000.5", &format!(r"\u0061lloc-{id}"))
            ),
            Some((2_000_000_000, 6_000_050_000_000)),
        ),
        // Refused.
        _ => (
            format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"message":"not_enough_funds","data":{{"reason":"insufficient funds"}},"code":10009}},{tail}}}"#
            ),
            None,
        ),
    }
}

/// As [`binance_answers_handed_in`], for Deribit: responses (with trades), notifications and
/// refusals handed to `on_frame` before the venue's own answers.
fn deribit_answers_handed_in(exec: &mut DeribitExec, clock: &Clock, first: u64) {
    let s0 = exec.stats();
    let mut fills = Vec::with_capacity(N as usize);
    let (mut allocs, mut before) = (0, 0);
    for start in (first..first + N).step_by(16) {
        let ids = start..(start + 16).min(first + N);
        let answers: Vec<_> = ids.clone().map(deribit_answer).collect();
        for id in ids.clone() {
            exec.submit(
                &order(id, Side::Buy, 3_000_000_000, 100_000_000),
                clock,
                &mut |_| {},
            );
        }
        for (text, _) in &answers {
            let (_, k) =
                counting::measure(|| exec.on_frame(text.as_bytes(), &mut |f| fills.push(f)));
            allocs += k;
            before += value_allocs(text);
        }
        // The venue's own answers (at least one a order), now for orders already reported.
        let t0 = Instant::now();
        while exec.stats().frames - s0.frames < ids.end - first {
            assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", exec.stats());
            if !exec.poll(clock, &mut |f| panic!("a second report {f:?}")) {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
    assert_eq!(fills.len() as u64, N);
    for (f, id) in fills.iter().zip(first..) {
        assert_eq!(f.order_id, id);
        let (qty, px) = deribit_answer(id).1.unwrap_or((0, 100_000_000));
        assert_eq!(
            (f.qty, f.px, f.cancelled_qty),
            (qty, px, 3_000_000_000 - qty),
            "{id}"
        );
    }
    let s = exec.stats();
    assert_eq!(
        (
            s.acks - s0.acks,
            s.from_notifications - s0.from_notifications,
            s.rejects - s0.rejects
        ),
        (N / 2, N / 4, N / 4)
    );
    println!(
        "Deribit answers: {allocs} allocations over {N} (serde_json::Value parse alone: {:.1} per \
         answer)",
        before as f64 / N as f64
    );
    assert_eq!(allocs, 0, "{allocs} allocations over {N} answers");
}
