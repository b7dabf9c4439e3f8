//! End to end on loopback, Binance: venue-sim → live source → feed → kernel → risk gate →
//! WebSocket API adapter → venue-sim → reports back, through every injected fault. The sim's
//! record and the engine's must agree exactly, and nothing is sized from an invalid book.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use testkit::live::FlipSizer;

use engine::clock::Clock;
use engine::kernel::{Kernel, KernelConfig};
use engine::pipeline::run_with;
use engine::risk_gate::Gated;
use feeds::Marks;
use feeds::{BinanceFeed, Market, Registry};
use testkit::live::start_sim;
use venue_sim::Venue;
use venues::exec::binance::{BinanceAuth, BinanceExec, BinanceExecConfig};
use venues::exec::Credentials;
use venues::live::{
    Link, LiveConfig, LiveFeed, LiveSource, StreamSpec, SupervisorConfig, VenueKind,
};

#[test]
fn binance_end_to_end_through_faults() {
    let sim = start_sim(Venue::Binance, 20_000, |sc| {
        sc.speed = 10.0;
        sc.api_key = Some("e2e-key".into());
        sc.api_secret = Some("e2e-secret".into());
    });
    let addr = sim.addr();

    let mut reg = Registry::new();
    let id = reg.register("BTCUSDT", Market::BinanceSpot, 8, 8);
    let clock = Clock::new();
    let link = Arc::new(Link::new(reg.len()));
    let marks = Marks::new(reg.len());
    let live = LiveConfig {
        url: format!("ws://{addr}"),
        venue: VenueKind::Binance {
            rest_base: format!("http://{addr}"),
            depth_path: "/api/v3/depth".into(),
        },
        streams: vec![StreamSpec {
            instrument: id.0,
            symbol: "BTCUSDT".into(),
            channels: vec!["btcusdt@depth@100ms".into(), "btcusdt@trade".into()],
            stale_ms: 150,
        }],
        supervisor: SupervisorConfig {
            backoff_base_ms: 10,
            backoff_max_ms: 200,
            ping_ms: 100,
            dead_ms: 250,
            snapshot_delay_ms: 20,
            snapshot_retry_ms: 30,
            ..SupervisorConfig::default()
        },
    };
    let source = LiveSource::new(live, Arc::clone(&link), clock.clone());
    let counters = source.counters();
    let stop = source.stop_flag();
    let feed = LiveFeed::new(
        BinanceFeed::new(reg.clone()),
        link,
        vec![true],
        Some(marks.clone()),
    );
    let invalid_seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let kernel = Kernel::new(
        &reg,
        KernelConfig {
            lot_qty: 1_000,
            min_qty: 1_000,
            cap_to_touch: true,
        },
        FlipSizer {
            ticks: 0,
            every: 15,
            qty: 0.002,
            invalid_seen: Arc::clone(&invalid_seen),
        },
    );
    let exec = BinanceExec::connect(
        BinanceExecConfig {
            url: format!("ws://{addr}/ws-api/v3"),
            auth: BinanceAuth::Hmac(Credentials::new("e2e-key", "e2e-secret")),
            recv_window_ms: 5000,
            ack_timeout_ms: 150,
            connect_timeout_ms: 1000,
            client_id_prefix: "e2e-".into(),
        },
        reg.instruments(),
        clock.clone(),
    )
    .expect("exec connect");
    let gate = testkit::live::gate(&reg, marks, 100_000_000, 1_000_000_000);
    let runner = {
        let clock = clock.clone();
        std::thread::spawn(move || {
            let cfg = testkit::live::pipeline();
            run_with(&cfg, source, feed, kernel, Gated::new(gate, exec), &clock)
        })
    };
    testkit::live::fault_script(&sim);
    stop.store(true, Ordering::Release);
    let report = runner.join().expect("pipeline thread");
    let rec = sim.record();
    sim.stop();

    let c = counters.snapshot();
    let (gate, exec) = report.adapter.into_parts();
    let es = exec.stats();
    eprintln!(
        "live {c:?}\nexec {es:?}\ngate {:?}\nkernel {:?}\nfeed {:?}",
        gate.stats(),
        report.kernel,
        report.feed
    );

    // Supervision did its job.
    assert!(c.disconnects >= 2, "dropped and stalled connections: {c:?}");
    assert!(c.connects >= 3, "{c:?}");
    assert!(c.stale_periods >= 1, "{c:?}");
    assert!(
        c.resyncs >= 3,
        "initial, after reconnects, after the skipped diff: {c:?}"
    );
    assert!(report.feed.rejected >= 1, "malformed frames rejected");
    assert!(
        report.feed.adapter.gaps >= 1,
        "skipped sequence seen as a gap"
    );
    // Never sized from an invalid book, and the guard was exercised.
    assert_eq!(invalid_seen.load(Ordering::Relaxed), 0);
    assert!(report.kernel.skipped_invalid > 0 || report.kernel.gaps > 0);
    // Lost acks were recovered by status queries.
    assert!(es.recovered >= 1, "{es:?}");
    assert!(report.orders.len() >= 10, "{} orders", report.orders.len());

    let venue_pos =
        testkit::live::assert_venue_agrees(&report.orders, &report.fills, &rec, exec.sent_ids());
    assert_eq!(report.instruments[0].position, venue_pos);
    assert_eq!(gate.position(0), venue_pos);
}
