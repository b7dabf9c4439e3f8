//! The pipeline bench: the real feed → kernel → execution pipeline driven at a fixed offered rate
//! for a set duration, once per topology and ring, with histograms corrected for coordinated
//! omission, and the floors measured in the same run (core-to-core round trip, parse-only cost).
//! Two workloads: the vol-target kernel on a synthetic (or captured) Binance market
//! ([`run_case_on`]), and the options kernel on a synthetic Deribit option book
//! ([`run_options_case`]).

use feeds::{BinanceFeed, FeedAdapter, Registry};
use hdrhistogram::Histogram;

use crate::load::{BusyWaitSizer, Injection, RateSource};
use config::session::SessionError;
use config::Resolved;
use engine::clock::Clock;
use engine::kernel::{Kernel, PaperAdapter};
use engine::latency::new_histogram;
use engine::pipeline::{
    run_kernel_on, Backpressure, IntervalSpec, KernelLogic, PipelineConfig, RunReport, Speed,
};
use engine::ring::{Crossbeam, RingChoice, Rtrb};
use engine::sizer::VolTargetSizer;
use engine::topology::Topology;
use options::kernel::{NoLog, OptionsKernelError};
use options::synthetic::{default_config, OptionsMarket, OptionsMarketSpec, UnderlyingSpec};
use synth::{generate, SynthConfig};

/// One configuration of a sweep.
#[derive(Debug, Clone)]
pub struct PipelineCase {
    /// Name used in tables, files and comparisons (stable across runs).
    pub name: String,
    /// Stage placement.
    pub topology: Topology,
}

/// What every case of a sweep shares.
#[derive(Debug, Clone, Copy)]
pub struct PipelineBench {
    /// Offered rate, frames per second.
    pub rate_per_s: f64,
    /// Feed behaviour when the kernel falls behind.
    pub backpressure: Backpressure,
    /// Length of one interval of the interval log, ns.
    pub interval_ns: u64,
    /// Delay injected into the kernel (tests, and the "slowed build" of a comparison).
    pub inject: Injection,
}

/// One case's outcome.
#[derive(Debug)]
pub struct CaseResult {
    /// The case's name.
    pub name: String,
    /// Offered rate, frames per second.
    pub offered_per_s: f64,
    /// Frames offered.
    pub frames_offered: u64,
    /// The pipeline's report (histograms, counters, interval histograms).
    pub report: RunReport,
}

/// Frames a run of `duration_s` at `rate_per_s` offers (at least 1).
#[must_use]
pub fn frames_needed(rate_per_s: f64, duration_s: f64) -> usize {
    let n = rate_per_s * duration_s;
    if n.is_finite() && n >= 1.0 {
        n.ceil().min(1e9) as usize
    } else {
        1
    }
}

/// At least `n` frames of the built-in synthetic Binance market for `symbol` (no sequence gap),
/// exactly `n` when it made more.
#[must_use]
pub fn synthetic_frames(n: usize, symbol: &str, seed: u64) -> Vec<(u64, Vec<u8>)> {
    let mut steps = (n / 4).max(200);
    loop {
        let mut frames = generate(&SynthConfig {
            seed,
            steps: u32::try_from(steps).unwrap_or(u32::MAX),
            gap_at: None,
            symbol: symbol.to_owned(),
            ..SynthConfig::default()
        });
        if frames.len() >= n || steps >= u32::MAX as usize {
            frames.truncate(n);
            return frames;
        }
        let per_step = frames.len().max(1) as f64 / steps as f64;
        steps = ((n as f64 / per_step) * 1.05) as usize + 16;
    }
}

/// How many times faster than recorded the frames run when offered at `rate_per_s`: their
/// receive-time span over the span of the fixed-rate schedule (1 when either is empty).
#[must_use]
pub fn time_compression(frames: &[(u64, Vec<u8>)], rate_per_s: f64) -> f64 {
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
        return 1.0;
    };
    let recorded_ns = last.0.saturating_sub(first.0) as f64;
    let scheduled_ns = (frames.len() - 1) as f64 * 1e9 / rate_per_s;
    if recorded_ns > 0.0 && scheduled_ns > 0.0 && (recorded_ns / scheduled_ns).is_finite() {
        recorded_ns / scheduled_ns
    } else {
        1.0
    }
}

/// `res` with the sizer's return-sampling interval divided by `compression` (see
/// [`time_compression`]), so that under a fixed-rate schedule the sizer samples, warms up and
/// decides as often per frame as it does on the recorded market (the schedule rewrites receive
/// times).
#[must_use]
pub fn rescale_sampling(res: &Resolved, compression: f64) -> Resolved {
    let mut r = res.clone();
    if compression.is_finite() && compression > 0.0 {
        r.sizing.sample_interval_ns =
            ((r.sizing.sample_interval_ns as f64 / compression).round() as u64).max(1);
    }
    r
}

/// Runs one case on the `rtrb` rings ([`run_case_on`]).
///
/// # Errors
/// A sizing configuration the sizer rejects.
pub fn run_case(
    res: &Resolved,
    bench: &PipelineBench,
    case: &PipelineCase,
    source: RateSource,
    clock: &Clock,
) -> Result<CaseResult, SessionError> {
    run_case_on(res, bench, case, RingChoice::Rtrb, source, clock)
}

/// The pipeline configuration of a case: the case's topology, paced at the source's schedule,
/// interval histograms over the run (`base` gives rings, waits and warm-up).
fn case_config(
    base: &PipelineConfig,
    bench: &PipelineBench,
    case: &PipelineCase,
    frames: u64,
) -> PipelineConfig {
    let duration_ns = frames as f64 * 1e9 / bench.rate_per_s.max(1e-9);
    let interval_ns = bench.interval_ns.max(1_000_000);
    let slots = ((duration_ns / interval_ns as f64).ceil() as usize).clamp(1, 3_600);
    PipelineConfig {
        topology: case.topology.clone(),
        speed: Speed::Factor(1.0),
        backpressure: bench.backpressure,
        intervals: Some(IntervalSpec { interval_ns, slots }),
        ..base.clone()
    }
}

/// The pipeline on the ring `ring` (dispatched once; each ring is monomorphized).
fn run_on_ring<F: FeedAdapter, K: KernelLogic>(
    ring: RingChoice,
    pcfg: &PipelineConfig,
    source: RateSource,
    feed: F,
    kernel: K,
    clock: &Clock,
) -> RunReport {
    match ring {
        RingChoice::Rtrb => {
            run_kernel_on::<Rtrb, _, _, _, _>(
                pcfg,
                source,
                feed,
                kernel,
                PaperAdapter::default(),
                clock,
            )
            .0
        }
        RingChoice::Crossbeam => {
            run_kernel_on::<Crossbeam, _, _, _, _>(
                pcfg,
                source,
                feed,
                kernel,
                PaperAdapter::default(),
                clock,
            )
            .0
        }
    }
}

/// Runs one case of the vol-target workload: `source` through the pipeline under `res` with the
/// case's topology on `ring`, paced at the source's schedule, the kernel's sizer wrapped to
/// inject `bench.inject`.
///
/// # Errors
/// A sizing configuration the sizer rejects.
pub fn run_case_on(
    res: &Resolved,
    bench: &PipelineBench,
    case: &PipelineCase,
    ring: RingChoice,
    source: RateSource,
    clock: &Clock,
) -> Result<CaseResult, SessionError> {
    let frames_offered = source.len() as u64;
    let pcfg = case_config(&res.pipeline, bench, case, frames_offered);
    let mut registry = Registry::new();
    let id = registry.register(&res.symbol, res.market, res.px_scale, res.qty_scale);
    let mut feed = BinanceFeed::new(registry.clone());
    feed.set_snapshot_target(id);
    let sizer = VolTargetSizer::new(id, res.sizing).ok_or(SessionError)?;
    let sizer = BusyWaitSizer::new(sizer, clock.clone(), bench.inject);
    let kernel = Kernel::new(&registry, res.kernel, sizer);
    let report = run_on_ring(ring, &pcfg, source, feed, kernel, clock);
    Ok(CaseResult {
        name: case.name.clone(),
        offered_per_s: bench.rate_per_s,
        frames_offered,
        report,
    })
}

/// The options workload's market: one BTC underlying (inverse perpetual, 0.1-coin option lots)
/// with `options` options, and at least `n` frames (exactly `n` when it made more): the opening
/// books and tickers of the chain, then ticks of one perpetual ticker and one option ticker each.
#[must_use]
pub fn options_market(options: usize, n: usize, seed: u64) -> OptionsMarket {
    let opening = 2 * options;
    let mut m = OptionsMarket::generate(&OptionsMarketSpec {
        seed,
        underlyings: vec![UnderlyingSpec {
            currency: "BTC".into(),
            spot_px: 42_000.0,
            hedge_lot_usd: 10.0,
            option_lot: 0.1,
        }],
        options_per_underlying: options,
        ticks: n.saturating_sub(opening).div_ceil(2).max(1),
        tickers_per_tick: 1,
        ..OptionsMarketSpec::default()
    });
    m.frames.truncate(n.max(1));
    m
}

/// Runs one case of the options workload: the frames of `market` offered by `source` through
/// the Deribit feed into an options kernel (one engine per underlying, [`default_config`] with the
/// volatility sampling interval divided by `compression`, a desired book on every tenth option),
/// on `ring`. Tick-to-order is the latency of the full revaluation and sizing of the book a
/// perpetual tick triggers.
///
/// # Errors
/// A configuration the options engine rejects.
pub fn run_options_case(
    bench: &PipelineBench,
    case: &PipelineCase,
    ring: RingChoice,
    market: &OptionsMarket,
    compression: f64,
    source: RateSource,
    clock: &Clock,
) -> Result<CaseResult, OptionsKernelError> {
    let frames_offered = source.len() as u64;
    let pcfg = case_config(&PipelineConfig::default(), bench, case, frames_offered);
    let kernel = market.kernel(
        |u| {
            let mut c = default_config(u);
            if compression.is_finite() && compression > 0.0 {
                c.sample_interval_ns =
                    ((c.sample_interval_ns as f64 / compression).round() as u64).max(1);
            }
            c
        },
        10,
        50,
        NoLog,
    )?;
    let report = run_on_ring(ring, &pcfg, source, market.feed(), kernel, clock);
    Ok(CaseResult {
        name: case.name.clone(),
        offered_per_s: bench.rate_per_s,
        frames_offered,
        report,
    })
}

/// The parse-only floor of the options workload: each frame through a fresh Deribit feed alone
/// on the calling thread, timed per frame as the `parse` hop is.
#[must_use]
pub fn parse_only_options(market: &OptionsMarket, clock: &Clock) -> Histogram<u64> {
    let mut feed = market.feed();
    let mut h = new_histogram();
    let mut events = 0u64;
    for (recv_ns, f) in &market.frames {
        let t0 = clock.raw();
        FeedAdapter::on_frame(&mut feed, *recv_ns, f, &mut |_| events += 1);
        h.saturating_record(clock.delta_ns(t0, clock.raw()).max(1));
    }
    std::hint::black_box(events);
    h
}

/// The parse-only floor: each frame through a fresh Binance feed (parse, normalize, book update)
/// alone on the calling thread, timed per frame with the pipeline's clock, as the `parse` hop is.
#[must_use]
pub fn parse_only(res: &Resolved, frames: &[(u64, Vec<u8>)], clock: &Clock) -> Histogram<u64> {
    let mut registry = Registry::new();
    let id = registry.register(&res.symbol, res.market, res.px_scale, res.qty_scale);
    let mut feed = BinanceFeed::new(registry);
    feed.set_snapshot_target(id);
    let mut h = new_histogram();
    let mut events = 0u64;
    for (recv_ns, f) in frames {
        let t0 = clock.raw();
        FeedAdapter::on_frame(&mut feed, *recv_ns, f, &mut |_| events += 1);
        h.saturating_record(clock.delta_ns(t0, clock.raw()).max(1));
    }
    std::hint::black_box(events);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_frames_gives_exactly_what_was_asked() {
        let f = synthetic_frames(5_000, "BTCUSDT", 3);
        assert_eq!(f.len(), 5_000);
        assert_eq!(frames_needed(1000.0, 2.5), 2_500);
        assert_eq!(frames_needed(f64::NAN, 2.5), 1);
    }
}
