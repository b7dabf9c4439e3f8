//! Zero heap allocations per order on the venue adapters' order path (place, cancel, edit;
//! Binance under HMAC signing and under `session.logon`; Deribit), counted on the calling thread
//! after warm-up, against the in-process venue simulator. Every order must still get its final
//! report from the venue, so the requests counted are requests the venue accepted.

#[path = "../../feeds/tests/support/counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

use std::time::{Duration, Instant};

use engine::clock::Clock;
use engine::exec::binance::{BinanceAuth, BinanceExec, BinanceExecConfig};
use engine::exec::deribit::{DeribitExec, DeribitExecConfig};
use engine::exec::{Credentials, ExecutionAdapter};
use engine::order::{Binding, Fill, Order, Reason};
use engine::synth::SynthConfig;
use engine::venue_sim::{self, SimConfig, SimSource, Venue};
use feeds::{InstrumentId, Market, Registry, Side};

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
    }
}

fn sim(venue: Venue, edit: impl FnOnce(&mut SimConfig)) -> venue_sim::SimHandle {
    let mut sc = SimConfig::new(
        venue,
        SimSource::Synthetic(SynthConfig {
            steps: 1_000_000,
            step_ms: 50,
            levels: 10,
            ..SynthConfig::default()
        }),
    );
    sc.start_on_subscribe = false;
    edit(&mut sc);
    venue_sim::start(sc).expect("sim")
}

/// Polls until nothing is in flight; returns the reports.
fn settle<A: ExecutionAdapter>(a: &mut A, clock: &Clock, fills: &mut Vec<Fill>) {
    let t0 = Instant::now();
    while a.in_flight() > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{} orders never reported",
            a.in_flight()
        );
        if !a.poll(clock, &mut |f| fills.push(f)) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
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

/// Submits `n` orders from `first` (alternating sides at prices that do not cross), counting the
/// allocations of the submits only; then settles. Returns (allocations, reports).
fn round<A: ExecutionAdapter>(
    a: &mut A,
    clock: &Clock,
    first: u64,
    n: u64,
    qty: i64,
    buy_px: i64,
    sell_px: i64,
) -> (u64, Vec<Fill>) {
    let mut fills = Vec::with_capacity(n as usize);
    let mut allocs = 0;
    for id in first..first + n {
        let (side, px) = if id % 2 == 0 {
            (Side::Buy, buy_px)
        } else {
            (Side::Sell, sell_px)
        };
        let o = order(id, side, qty, px);
        let ((), k) = counting::measure(|| a.submit(&o, clock, &mut |_| {}));
        allocs += k;
        // Read acks now and then so the venue's answers do not pile up in the socket.
        if id % 16 == 0 {
            settle(a, clock, &mut fills);
        }
    }
    settle(a, clock, &mut fills);
    (allocs, fills)
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
    let rejects0 = exec.stats().rejects;
    let (allocs, fills) = round(&mut exec, &clock, first, N, qty, buy, sell);
    let st = exec.stats();
    assert_eq!(fills.len() as u64, N, "{st:?}");
    assert_eq!(
        st.rejects - rejects0,
        0,
        "the venue refused requests: {st:?} {:?}",
        sim.record().rejects.first()
    );
    assert_eq!(st.sent, first - 1 + N);
    assert_eq!(allocs, 0, "{allocs} allocations over {N} order.place");

    // Cancels by client id (the venue answers "unknown order" for IOC orders long gone; the
    // request is what is counted).
    let cancels0 = exec.stats().cancels;
    let ((), k) = counting::measure(|| {
        for id in first..first + N {
            exec.cancel(id, InstrumentId(0));
        }
    });
    assert_eq!(exec.stats().cancels - cancels0, N);
    assert_eq!(k, 0, "{k} allocations over {N} order.cancel");
    sim.stop();
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
    let rejects0 = exec.stats().rejects;
    let (allocs, fills) = round(&mut exec, &clock, first, N, qty, buy, sell);
    let st = exec.stats();
    assert_eq!(fills.len() as u64, N, "{st:?}");
    assert_eq!(
        st.rejects - rejects0,
        0,
        "the venue refused orders: {st:?} {:?}",
        sim.record().rejects.first()
    );
    assert_eq!(allocs, 0, "{allocs} allocations over {N} private/buy|sell");

    let ec0 = exec.stats().edits_cancels;
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
    sim.stop();
}
