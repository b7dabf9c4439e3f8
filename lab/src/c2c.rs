//! Core-to-core latency: a cache-line ping-pong between two pinned threads. The floor every
//! cross-thread hop of the pipeline is compared with.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use engine::clock::Clock;

/// Round-trip times of one core pair, ns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundTrip {
    /// Median round trip (two cache-line transfers).
    pub median_ns: f64,
    /// 99th percentile of the per-sample means.
    pub p99_ns: f64,
    /// Whether both threads could be pinned as asked.
    pub pinned: bool,
}

/// Measures `samples` × `per_sample` round trips between a thread on `core_a` and one on `core_b`
/// (each sample's mean is one observation; the median of those is reported). With `core_a ==
/// core_b` or cores that cannot be pinned, the figure is what the scheduler gives (reported
/// `pinned = false`), which on one core is dominated by context switches — do not compare it with a
/// real floor.
#[must_use]
pub fn round_trip(core_a: usize, core_b: usize, samples: usize, per_sample: u32) -> RoundTrip {
    let (mut obs, pinned) = round_trip_samples(core_a, core_b, samples, per_sample);
    if obs.is_empty() {
        obs.push(f64::NAN);
    }
    obs.sort_by(f64::total_cmp);
    let median_ns = obs[obs.len() / 2];
    let p99_ns = obs[(obs.len() * 99 / 100).min(obs.len() - 1)];
    RoundTrip {
        median_ns,
        p99_ns,
        pinned,
    }
}

/// The raw observations behind [`round_trip`]: `samples` means (ns per round trip, each over
/// `per_sample` round trips, in measurement order) from a thread on `core_a` (the initiator) to one
/// on `core_b`, and whether both threads were pinned as asked on distinct cores. Empty only if a
/// measuring thread panicked.
#[must_use]
pub fn round_trip_samples(
    core_a: usize,
    core_b: usize,
    samples: usize,
    per_sample: u32,
) -> (Vec<f64>, bool) {
    let ping = CachePadded::new(AtomicU64::new(0));
    let pong = CachePadded::new(AtomicU64::new(0));
    let clock = Clock::new();
    let samples = samples.max(1);
    let per_sample = per_sample.max(1);
    let total = samples as u64 * u64::from(per_sample);
    std::thread::scope(|s| {
        let echo = s.spawn(|| {
            let ok = core_affinity::set_for_current(core_affinity::CoreId { id: core_b });
            for i in 1..=total {
                // Acquire: pairs with the initiator's Release store of `ping`, so the round trip
                // carries a real happens-before edge as the pipeline's rings do.
                while ping.load(Ordering::Acquire) != i {
                    std::hint::spin_loop();
                }
                // Release: pairs with the initiator's Acquire load of `pong`.
                pong.store(i, Ordering::Release);
            }
            ok
        });
        let init = s.spawn(|| {
            let ok = core_affinity::set_for_current(core_affinity::CoreId { id: core_a });
            let mut obs = Vec::with_capacity(samples);
            let mut i = 0u64;
            for _ in 0..samples {
                let t0 = clock.raw();
                for _ in 0..per_sample {
                    i += 1;
                    // Release: pairs with the echo thread's Acquire load of `ping`.
                    ping.store(i, Ordering::Release);
                    // Acquire: pairs with the echo thread's Release store of `pong`.
                    while pong.load(Ordering::Acquire) != i {
                        std::hint::spin_loop();
                    }
                }
                obs.push(clock.delta_ns(t0, clock.raw()) as f64 / f64::from(per_sample));
            }
            (obs, ok)
        });
        let (obs, ok_a) = init.join().unwrap_or_default();
        let ok_b = echo.join().unwrap_or(false);
        (obs, ok_a && ok_b && core_a != core_b)
    })
}
