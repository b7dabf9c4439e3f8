//! Load for the pipeline bench: frames at a fixed offered rate, and a sizer wrapper that injects
//! busy-wait delay (a deliberately slowed build, or one stall of known length) into the kernel.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use engine::clock::Clock;
use engine::sizer::{Sizer, Target, TickView};
use engine::source::{FrameSource, SourceError};

/// Frames offered at a fixed rate: frame k gets the receive time `start + k / rate`, so a paced
/// replay ([`engine::pipeline::Speed::Factor`] of 1) intends to send it exactly then, whatever the
/// frames' original timing. Ends after `count` frames or when the frames run out.
#[derive(Debug)]
pub struct RateSource {
    frames: Vec<(u64, Vec<u8>)>,
    next: usize,
    count: usize,
    period_ns: f64,
    start_ns: u64,
    progress: Arc<AtomicU64>,
}

/// Frames between two updates of the progress counter.
const PROGRESS_EVERY: usize = 1024;

impl RateSource {
    /// Offers up to `count` of `frames` (in order) at `rate_per_s` frames per second. A rate that
    /// is not finite and positive is taken as 1 frame/s.
    #[must_use]
    pub fn new(frames: Vec<(u64, Vec<u8>)>, rate_per_s: f64, count: usize) -> Self {
        let rate = if rate_per_s.is_finite() && rate_per_s > 0.0 {
            rate_per_s
        } else {
            1.0
        };
        let start_ns = frames.first().map_or(0, |f| f.0);
        Self {
            count: count.min(frames.len()),
            frames,
            next: 0,
            period_ns: 1e9 / rate,
            start_ns,
            progress: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Frames that will be offered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no frame will be offered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// A counter of frames handed out so far (updated every 1024 frames and at the end), for a
    /// progress display on another thread.
    #[must_use]
    pub fn progress(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.progress)
    }
}

impl FrameSource for RateSource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        if self.next >= self.count {
            // Relaxed: a progress display only; nothing is synchronized through it.
            self.progress.store(self.count as u64, Ordering::Relaxed);
            return Ok(None);
        }
        let k = self.next;
        self.next += 1;
        if k % PROGRESS_EVERY == 0 {
            // Relaxed: a progress display only.
            self.progress.store(k as u64, Ordering::Relaxed);
        }
        let recv_ns = self.start_ns + (k as f64 * self.period_ns).round() as u64;
        Ok(Some((recv_ns, self.frames[k].1.as_slice())))
    }
}

/// Delay injected into the kernel through its sizer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injection {
    /// Busy-wait on every tick the sizer sees, ns (0 = none): a uniformly slower kernel.
    pub per_tick_ns: u64,
    /// One busy-wait of `.1` ns on the sizer's tick number `.0` (1-based): a single stall.
    pub stall: Option<(u64, u64)>,
}

/// A sizer that busy-waits as [`Injection`] says, then asks the inner sizer. Busy-waiting (not
/// sleeping) keeps the delay exact and the thread on its core, as a slow computation would.
#[derive(Debug, Clone)]
pub struct BusyWaitSizer<Z> {
    inner: Z,
    clock: Clock,
    inject: Injection,
    ticks: u64,
}

impl<Z: Sizer> BusyWaitSizer<Z> {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: Z, clock: Clock, inject: Injection) -> Self {
        Self {
            inner,
            clock,
            inject,
            ticks: 0,
        }
    }

    /// Ticks seen so far.
    #[must_use]
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    fn spin(&self, ns: u64) {
        let t0 = self.clock.raw();
        while self.clock.delta_ns(t0, self.clock.raw()) < ns {
            std::hint::spin_loop();
        }
    }
}

impl<Z: Sizer> Sizer for BusyWaitSizer<Z> {
    fn on_tick(&mut self, view: &TickView<'_>) -> Option<Target> {
        self.ticks += 1;
        if self.inject.per_tick_ns > 0 {
            self.spin(self.inject.per_tick_ns);
        }
        if let Some((at, ns)) = self.inject.stall {
            if at == self.ticks {
                self.spin(ns);
            }
        }
        self.inner.on_tick(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_source_schedules_frames_at_the_offered_rate() {
        let frames: Vec<_> = (0..10u64).map(|i| (1_000 + i * 7, vec![b'x'; 3])).collect();
        let mut s = RateSource::new(frames, 4_000.0, 5);
        assert_eq!(s.len(), 5);
        let mut times = Vec::new();
        while let Some((t, f)) = s.next_frame().unwrap() {
            assert_eq!(f, b"xxx");
            times.push(t);
        }
        assert_eq!(times, vec![1_000, 251_000, 501_000, 751_000, 1_001_000]);
        assert_eq!(s.progress().load(Ordering::Relaxed), 5);
        let s = RateSource::new(vec![(0, vec![])], 1e6, 100);
        assert_eq!(s.len(), 1, "count is capped by the frames held");
    }
}
