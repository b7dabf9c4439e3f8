//! Coordinated-omission correction: one stall of known length in the kernel at a known offered
//! rate. Measured from each frame's intended send time, every frame that arrived during the stall
//! shows it (latencies spread from the stall down to 0, about stall × rate of them); measured from
//! when the sender got round to ingesting the frame, only the frame being processed shows it.

use config::Config;
use engine::clock::Clock;
use engine::latency::Hop;
use engine::pipeline::Backpressure;
use engine::topology::Topology;
use lab::bench::{
    rescale_sampling, run_case, synthetic_frames, time_compression, PipelineBench, PipelineCase,
};
use lab::load::{Injection, RateSource};

const RATE_PER_S: f64 = 10_000.0;
const FRAMES: usize = 8_000;
const STALL_NS: u64 = 60_000_000;
const STALL_AT_TICK: u64 = 2_000;

#[test]
fn corrected_histogram_charges_the_stall_to_every_queued_frame() {
    let res = Config::default().resolve().expect("default configuration");
    let frames = synthetic_frames(FRAMES, &res.symbol, 11);
    let res = rescale_sampling(&res, time_compression(&frames, RATE_PER_S));
    let bench = PipelineBench {
        rate_per_s: RATE_PER_S,
        backpressure: Backpressure::Block,
        interval_ns: 100_000_000,
        inject: Injection {
            per_tick_ns: 0,
            stall: Some((STALL_AT_TICK, STALL_NS)),
        },
    };
    let case = PipelineCase {
        name: "single".into(),
        topology: Topology::single(),
    };
    let clock = Clock::new();
    let r = run_case(
        &res,
        &bench,
        &case,
        RateSource::new(frames, RATE_PER_S, FRAMES),
        &clock,
    )
    .expect("default sizing is valid");
    let rep = &r.report;
    assert_eq!(rep.feed.frames, FRAMES as u64);
    assert!(
        rep.kernel.bbo > STALL_AT_TICK,
        "the stall tick must be reached: {} ticks",
        rep.kernel.bbo
    );
    let co = rep.latency.get(Hop::TickToDecisionCorrected);
    let raw = rep.latency.get(Hop::TickToDecision);
    assert_eq!(co.len(), raw.len(), "both record every event");
    assert_eq!(co.len(), rep.feed.events);

    // Frames intended during the stall: STALL × RATE = 600; those intended in its first half
    // waited more than STALL/2 — each frame yields at least one event. A loaded machine can only
    // add delay, so these are lower bounds with a margin for frames yielding no event.
    let queued = STALL_NS as f64 * 1e-9 * RATE_PER_S;
    let co_above_half = co.count_between(STALL_NS / 2, u64::MAX);
    assert!(
        co_above_half as f64 >= 0.7 * queued / 2.0,
        "corrected: {co_above_half} events above {} ns, expected about {}",
        STALL_NS / 2,
        queued / 2.0
    );
    let co_above_tenth = co.count_between(STALL_NS / 10, u64::MAX);
    assert!(
        co_above_tenth as f64 >= 0.7 * 0.9 * queued,
        "corrected: {co_above_tenth} events above a tenth of the stall, expected about {}",
        0.9 * queued
    );
    // The spread runs from the stall down: some queued frames waited between a quarter and
    // three quarters of it.
    let co_middle = co.count_between(STALL_NS / 4, 3 * STALL_NS / 4);
    assert!(
        co_middle as f64 >= 0.7 * queued / 2.0,
        "corrected: {co_middle} events in the middle of the stall"
    );
    assert!(
        co.max() >= STALL_NS * 95 / 100,
        "corrected max {}",
        co.max()
    );
    let co_p99 = co.value_at_percentile(99.0);
    assert!(
        co_p99 >= STALL_NS / 10,
        "corrected p99 {co_p99} ns must reflect the stall"
    );

    // Uncorrected: the stall shows only on the frame whose event stalled (and the other events of
    // that frame, ingested before it). Everything queued behind it is timed from its late ingestion.
    let raw_above_half = raw.count_between(STALL_NS / 2, u64::MAX);
    assert!(
        (1..=20).contains(&raw_above_half),
        "uncorrected: {raw_above_half} events above half the stall (expected the stalled frame only)"
    );
    assert!(
        raw.max() >= STALL_NS * 95 / 100,
        "the stall itself is seen once"
    );
    assert!(
        co_above_half >= 10 * raw_above_half,
        "corrected {co_above_half} vs uncorrected {raw_above_half} above half the stall"
    );

    // The interval histograms add up to the corrected histogram.
    let in_intervals: u64 = rep.intervals.iter().map(|h| h.len()).sum();
    assert_eq!(in_intervals, co.len());
}
