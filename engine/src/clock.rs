//! The one clock of the hot path.
//!
//! Hot-path code reads [`Clock::raw`] (a TSC read through `quanta` when the CPU has an invariant TSC,
//! otherwise `CLOCK_MONOTONIC`) and converts differences to nanoseconds with
//! [`Clock::delta_ns`] off the critical path. Measured here (Zen3 VM, see `bench/benches/pipeline.rs`
//! which prints it every run): a raw TSC read costs about 7–10 ns, `std::time::Instant::now()` about
//! 20–25 ns through the vDSO; [`Clock::measure_cost`] measures both at start-up so the report states
//! the cost on the machine it runs on.

use std::time::Instant;

/// A cheap monotonic clock shared by all pipeline threads (`Clone` is cheap; the calibration is
/// shared).
#[derive(Debug, Clone)]
pub struct Clock {
    inner: quanta::Clock,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// Calibrates the TSC against the OS clock (done once; takes a few milliseconds).
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: quanta::Clock::new(),
        }
    }

    /// A raw, monotonic reading in clock ticks. Cheap; compare readings only through
    /// [`Clock::delta_ns`].
    #[inline(always)]
    #[must_use]
    pub fn raw(&self) -> u64 {
        self.inner.raw()
    }

    /// Nanoseconds between two raw readings (0 if `end` precedes `start`).
    #[inline]
    #[must_use]
    pub fn delta_ns(&self, start: u64, end: u64) -> u64 {
        if end <= start {
            return 0;
        }
        self.inner.delta_as_nanos(start, end)
    }

    /// Measures the cost of one [`Clock::raw`] read and of one `Instant::now()`, in ns, over
    /// `iters` reads each.
    #[must_use]
    pub fn measure_cost(&self, iters: u32) -> ClockCost {
        let iters = iters.max(1);
        let t0 = Instant::now();
        let mut acc = 0u64;
        for _ in 0..iters {
            acc = acc.wrapping_add(std::hint::black_box(self.raw()));
        }
        let raw_ns = t0.elapsed().as_nanos() as f64 / f64::from(iters);
        std::hint::black_box(acc);
        let t0 = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(Instant::now());
        }
        let instant_ns = t0.elapsed().as_nanos() as f64 / f64::from(iters);
        ClockCost { raw_ns, instant_ns }
    }
}

/// Cost of a clock read, measured on this machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockCost {
    /// ns per [`Clock::raw`] (TSC through quanta).
    pub raw_ns: f64,
    /// ns per `std::time::Instant::now()`.
    pub instant_ns: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_monotonic_and_scaled() {
        let c = Clock::new();
        let a = c.raw();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = c.raw();
        let d = c.delta_ns(a, b);
        assert!(d >= 4_000_000, "5 ms sleep measured as {d} ns");
        assert_eq!(c.delta_ns(b, a), 0);
    }
}
