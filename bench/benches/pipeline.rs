//! The foundation's end-to-end figures, from one run on the real Binance capture:
//! parse+normalize frames/s on one core; replay events/s through the whole pipeline; tick-to-order
//! p50/p99/p99.9 beside the floor measured in the same run (the parse-only cost of the same frames
//! plus one core-to-core round trip between the two pinned threads, measured just before and after)
//! and their ratio.
//!
//! Run: `cargo bench -p ballast-bench --bench pipeline`.

use std::time::Instant;

use ballast_bench::{median, read_capture};
use engine::c2c::round_trip;
use engine::clock::Clock;
use engine::config::Config;
use engine::latency::Hop;
use engine::pipeline::{PipelineConfig, Speed};
use engine::session::run_session;
use engine::source::MemorySource;
use engine::topology::{available_cores, Topology};
use feeds::{BinanceFeed, Market, Registry};

const CAPTURE: &str = "binance/spot_btcusdt_20240808.gz";

fn parse_only(frames: &[(u64, Vec<u8>)]) -> f64 {
    let mut reg = Registry::new();
    let id = reg.register("BTCUSDT", Market::BinanceSpot, 8, 8);
    let mut passes = Vec::new();
    for _ in 0..15 {
        let mut feed = BinanceFeed::new(reg.clone());
        feed.set_snapshot_target(id);
        let mut n = 0u64;
        let t = Instant::now();
        for (ts, f) in frames {
            let _ = feed.on_frame(*ts, f, &mut |e| {
                n += std::hint::black_box(e).seq & 1;
            });
        }
        let ns = t.elapsed().as_nanos() as f64 / frames.len() as f64;
        std::hint::black_box(n);
        passes.push(ns);
    }
    median(&mut passes)
}

fn main() {
    let frames = read_capture(CAPTURE);
    let clock = Clock::new();
    let cost = clock.measure_cost(1_000_000);
    let cores = available_cores();
    let pair = (
        cores.first().copied().unwrap_or(0),
        cores.get(1).copied().unwrap_or(0),
    );
    println!(
        "ballast pipeline bench: {} frames of {CAPTURE}; cores {cores:?}",
        frames.len()
    );
    println!(
        "clock: TSC via quanta {:.1} ns/read, Instant::now {:.1} ns/read",
        cost.raw_ns, cost.instant_ns
    );

    // 1. Parse + normalize on one core.
    let parse_ns = parse_only(&frames);
    println!(
        "parse+normalize (BinanceFeed::on_frame, book sync included): {:.1} ns/frame = {:.2} M frames/s (target >= 2 M)",
        parse_ns,
        1e3 / parse_ns
    );

    // 2. Replay throughput through the whole pipeline, lossless, as fast as it goes.
    let res = Config::default().resolve().expect("default configuration");
    let topo = Topology::auto(&cores);
    for t in [Topology::single(), topo.clone()] {
        let mut rates = Vec::new();
        for _ in 0..7 {
            let pcfg = PipelineConfig {
                topology: t.clone(),
                speed: Speed::Max,
                ..res.pipeline.clone()
            };
            let s = run_session(&res, &pcfg, MemorySource::new(frames.clone()), &clock)
                .expect("session");
            rates.push(s.report.feed.events as f64 / (s.report.elapsed_ns as f64 / 1e9));
        }
        println!(
            "replay, topology {t}: {:.2} M events/s through feed → kernel → exec (median of 7)",
            median(&mut rates) / 1e6
        );
    }

    // 3. Tick-to-order below saturation: an eager sizer (no band, 100 ms samples) that resizes on most
    //    ticks, frames offered at 500x real time (~57 k frames/s).
    let mut eager = Config::default();
    eager.sizing.band = 0.0;
    eager.sizing.sample_ms = 100;
    eager.sizing.warmup_samples = 5;
    eager.sizing.cap_to_touch = false;
    eager.instrument.min_qty = "0.00001".into();
    let eager = eager.resolve().expect("eager configuration");
    println!();
    println!(
        "{:<26} {:>8} {:>9} {:>9} {:>9} {:>11} {:>11} {:>9}",
        "tick-to-order",
        "orders",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "rtt before",
        "rtt after",
        "p50/floor"
    );
    for t in [Topology::single(), topo] {
        let before = round_trip(pair.0, pair.1, 201, 2_000);
        let pcfg = PipelineConfig {
            topology: t.clone(),
            speed: Speed::Factor(500.0),
            ..eager.pipeline.clone()
        };
        let s =
            run_session(&eager, &pcfg, MemorySource::new(frames.clone()), &clock).expect("session");
        let after = round_trip(pair.0, pair.1, 201, 2_000);
        let h = s.report.latency.get(Hop::TickToOrder);
        let parse_p50 = s.report.latency.get(Hop::Parse).value_at_percentile(50.0) as f64;
        let rtt = 0.5 * (before.median_ns + after.median_ns);
        // Single-threaded, no hop crosses cores: the floor is the parse cost alone.
        let floor = if t.single { parse_p50 } else { parse_p50 + rtt };
        let p50 = h.value_at_percentile(50.0) as f64;
        println!(
            "{:<26} {:>8} {:>9} {:>9} {:>9} {:>11.0} {:>11.0} {:>9.2}",
            t.to_string(),
            h.len(),
            h.value_at_percentile(50.0),
            h.value_at_percentile(99.0),
            h.value_at_percentile(99.9),
            before.median_ns,
            after.median_ns,
            p50 / floor,
        );
        println!(
            "{:<26} floor = parse p50 {parse_p50:.0} ns{} (target p50 <= 1.5x floor){}",
            "",
            if t.single {
                String::new()
            } else {
                format!(" + core {}↔{} round trip {rtt:.0} ns", pair.0, pair.1)
            },
            if before.pinned {
                ""
            } else {
                "; cores could not be pinned"
            }
        );
    }
}
