//! The foundation's end-to-end figures, from one run on the real Binance capture:
//! parse+normalize frames/s on one core; replay events/s through the whole pipeline; tick-to-order
//! p50/p99/p99.9 beside the floor measured in the same run (the parse-only cost of the same frames
//! plus one core-to-core round trip between the two pinned threads, measured just before and after)
//! and their ratio. Last, the ring choice: replay throughput and tick-to-order on the multi-thread
//! topology with `rtrb` and with crossbeam's `ArrayQueue`, alternated in the same run, each beside
//! the same floor.
//!
//! Run: `cargo bench -p ballast-bench --bench pipeline`.

use std::time::Instant;

use ballast_bench::median;
use config::session::run_session;
use config::{Config, Resolved};
use engine::clock::Clock;
use engine::kernel::{Kernel, PaperAdapter};
use engine::latency::{new_histogram, Hop};
use engine::pipeline::{run_kernel_on, PipelineConfig, RunReport, Speed};
use engine::ring::{Crossbeam, Ring, Rtrb};
use engine::sizer::VolTargetSizer;
use engine::source::MemorySource;
use engine::topology::{available_cores, Topology};
use feeds::{BinanceFeed, Market, Registry};
use lab::c2c::round_trip;
use testkit::data::read_capture;

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

/// The session of `run_session` (BTCUSDT vol-target kernel, paper fills) on the ring `R`.
fn session_on<R: Ring>(
    res: &Resolved,
    pcfg: &PipelineConfig,
    frames: &[(u64, Vec<u8>)],
    clock: &Clock,
) -> RunReport {
    let mut registry = Registry::new();
    let id = registry.register(&res.symbol, res.market, res.px_scale, res.qty_scale);
    let mut feed = BinanceFeed::new(registry.clone());
    feed.set_snapshot_target(id);
    let sizer = VolTargetSizer::new(id, res.sizing).expect("sizing");
    let kernel = Kernel::new(&registry, res.kernel, sizer);
    run_kernel_on::<R, _, _, _, _>(
        pcfg,
        MemorySource::new(frames.to_vec()),
        feed,
        kernel,
        PaperAdapter::default(),
        clock,
    )
    .0
}

/// One ring's figures in the ring comparison.
struct RingRow {
    name: &'static str,
    rates: Vec<f64>,
    rtts: Vec<f64>,
}

impl RingRow {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            rates: Vec::new(),
            rtts: Vec::new(),
        }
    }
}

/// Replay throughput through the whole pipeline, lossless, as fast as it goes (median of 7), on
/// one thread and on `topo`.
fn replay_throughput(res: &Resolved, topo: &Topology, frames: &[(u64, Vec<u8>)], clock: &Clock) {
    for t in [Topology::single(), topo.clone()] {
        let mut rates = Vec::new();
        for _ in 0..7 {
            let pcfg = PipelineConfig {
                topology: t.clone(),
                speed: Speed::Max,
                ..res.pipeline.clone()
            };
            let s = run_session(res, &pcfg, MemorySource::new(frames.to_vec()), clock)
                .expect("session");
            rates.push(s.report.feed.events as f64 / (s.report.elapsed_ns as f64 / 1e9));
        }
        println!(
            "replay, topology {t}: {:.2} M events/s through feed → kernel → exec (median of 7)",
            median(&mut rates) / 1e6
        );
    }
}

/// An eager sizer (no band, 100 ms samples) that resizes on most ticks.
fn eager_config() -> Resolved {
    let mut eager = Config::default();
    eager.sizing.band = 0.0;
    eager.sizing.sample_ms = 100;
    eager.sizing.warmup_samples = 5;
    eager.sizing.cap_to_touch = false;
    eager.instrument.min_qty = "0.00001".into();
    eager.resolve().expect("eager configuration")
}

/// Tick-to-order below saturation (frames offered at 500x real time, ~57 k frames/s) beside its
/// floor, on one thread and on `topo`, with the core-to-core round trip of `pair` before and
/// after each run.
fn tick_to_order(
    eager: &Resolved,
    topo: &Topology,
    frames: &[(u64, Vec<u8>)],
    clock: &Clock,
    pair: (usize, usize),
) {
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
    for t in [Topology::single(), topo.clone()] {
        let before = round_trip(pair.0, pair.1, 201, 2_000);
        let pcfg = PipelineConfig {
            topology: t.clone(),
            speed: Speed::Factor(500.0),
            ..eager.pipeline.clone()
        };
        let s =
            run_session(eager, &pcfg, MemorySource::new(frames.to_vec()), clock).expect("session");
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

/// The ring choice on the multi-thread topology `topo`, alternated so both see the same load.
fn ring_choice(
    res: &Resolved,
    eager: &Resolved,
    topo: &Topology,
    frames: &[(u64, Vec<u8>)],
    clock: &Clock,
    pair: (usize, usize),
) {
    println!();
    println!(
        "{:<10} {:>13} {:>9} {:>9} {:>9} {:>11} {:>11} {:>9}",
        "ring", "replay Mev/s", "t2o p50", "p99", "p99.9", "rtt lowest", "rtt highest", "p50/floor"
    );
    let mut rows = [RingRow::new(Rtrb::NAME), RingRow::new(Crossbeam::NAME)];
    let mut tick_to_order = [new_histogram(), new_histogram()];
    let mut parse = [new_histogram(), new_histogram()];
    for _ in 0..3 {
        for (k, row) in rows.iter_mut().enumerate() {
            let fast = PipelineConfig {
                topology: topo.clone(),
                speed: Speed::Max,
                ..res.pipeline.clone()
            };
            let r = if k == 0 {
                session_on::<Rtrb>(res, &fast, frames, clock)
            } else {
                session_on::<Crossbeam>(res, &fast, frames, clock)
            };
            row.rates
                .push(r.feed.events as f64 / (r.elapsed_ns as f64 / 1e9) / 1e6);
            let paced = PipelineConfig {
                topology: topo.clone(),
                speed: Speed::Factor(500.0),
                ..eager.pipeline.clone()
            };
            let before = round_trip(pair.0, pair.1, 201, 2_000).median_ns;
            let r = if k == 0 {
                session_on::<Rtrb>(eager, &paced, frames, clock)
            } else {
                session_on::<Crossbeam>(eager, &paced, frames, clock)
            };
            let after = round_trip(pair.0, pair.1, 201, 2_000).median_ns;
            tick_to_order[k]
                .add(r.latency.get(Hop::TickToOrder))
                .expect("same histogram bounds");
            parse[k]
                .add(r.latency.get(Hop::Parse))
                .expect("same histogram bounds");
            row.rtts.extend([before, after]);
        }
    }
    for (k, row) in rows.iter_mut().enumerate() {
        let (lo, hi) = row
            .rtts
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(a, b), &x| (a.min(x), b.max(x)));
        let rtt = median(&mut row.rtts);
        let floor = parse[k].value_at_percentile(50.0) as f64 + rtt;
        let h = &tick_to_order[k];
        println!(
            "{:<10} {:>13.2} {:>9} {:>9} {:>9} {:>11.0} {:>11.0} {:>9.2}",
            row.name,
            median(&mut row.rates),
            h.value_at_percentile(50.0),
            h.value_at_percentile(99.0),
            h.value_at_percentile(99.9),
            lo,
            hi,
            h.value_at_percentile(50.0) as f64 / floor,
        );
    }
    println!(
        "{:<10} topology {topo}; replay: median of 3 lossless max-speed runs; tick-to-order: 3 \
         paced runs merged, floor = parse p50 + median of the round trips before and after each run",
        ""
    );
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
    replay_throughput(&res, &topo, &frames, &clock);

    // 3. Tick-to-order below saturation: an eager sizer (no band, 100 ms samples) that resizes on most
    //    ticks, frames offered at 500x real time (~57 k frames/s).
    let eager = eager_config();
    tick_to_order(&eager, &topo, &frames, &clock, pair);

    // 4. The ring choice on the multi-thread topology, alternated so both see the same load.
    ring_choice(&res, &eager, &topo, &frames, &clock, pair);
}
