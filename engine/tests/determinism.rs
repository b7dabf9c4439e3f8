//! Same input and configuration → byte-identical orders, single-threaded or on pinned threads.

use testkit as common;

use common::{orders_csv, run_on, shared_data};
use engine::source::{CaptureSource, MemorySource};
use synth::{generate, SynthConfig};

const TOPOLOGIES: [&str; 4] = [
    "single",
    "feed,kernel+exec",
    "feed,kernel,exec",
    "feed@0,kernel+exec@1",
];

#[test]
fn synthetic_market_orders_identical_across_runs_and_topologies() {
    let frames = generate(&SynthConfig {
        steps: 6_000,
        ..SynthConfig::default()
    });
    let reference = run_on("single", MemorySource::new(frames.clone()));
    assert!(
        reference.report.orders.len() > 20,
        "the test must exercise orders: {}",
        reference.report.orders.len()
    );
    let want = orders_csv(&reference);
    for topo in TOPOLOGIES {
        for _ in 0..2 {
            let s = run_on(topo, MemorySource::new(frames.clone()));
            assert_eq!(s.report.feed.events, reference.report.feed.events, "{topo}");
            assert!(orders_csv(&s) == want, "orders differ on topology {topo}");
        }
    }
}

#[test]
fn real_capture_orders_identical_across_runs_and_topologies() {
    let Some(path) = shared_data("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let open =
        || CaptureSource::open(std::slice::from_ref(&path), "BTCUSDT").expect("capture opens");
    let reference = run_on("single", open());
    assert!(!reference.report.orders.is_empty());
    let want = orders_csv(&reference);
    for topo in TOPOLOGIES {
        let s = run_on(topo, open());
        assert!(orders_csv(&s) == want, "orders differ on topology {topo}");
    }
}
