//! Latency histograms: one [`HopHistograms`] per thread, recorded without locks or allocation
//! (fixed-range HDR histograms, 1 ns … 60 s at 3 significant digits, allocated at start-up), merged
//! for the report.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// A timed hop of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hop {
    /// Frame ingested → its events normalized (parse, book update), on the feed thread.
    Parse = 0,
    /// Event pushed on the feed→kernel ring → popped by the kernel.
    FeedToKernel = 1,
    /// Event popped by the kernel → sizing decision made (order pushed, or none).
    Kernel = 2,
    /// Order pushed on the kernel→execution ring → popped by the execution stage.
    KernelToExec = 3,
    /// Frame ingested → order handed to the execution adapter.
    TickToOrder = 4,
    /// Fill produced by the adapter → applied by the kernel.
    FillToKernel = 5,
    /// Frame ingested → the kernel done with one of its events (order pushed or none): the
    /// per-message end-to-end latency, recorded for every event.
    TickToDecision = 6,
    /// As [`Hop::TickToDecision`] but from the frame's intended send time under a paced replay
    /// (corrected for coordinated omission: a stall that delays the sender is charged to every
    /// message it delayed). Recorded only by paced runs.
    TickToDecisionCorrected = 7,
    /// As [`Hop::TickToOrder`] but from the frame's intended send time under a paced replay.
    /// Recorded only by paced runs.
    TickToOrderCorrected = 8,
}

/// Every hop, in report order.
pub const HOPS: [Hop; 9] = [
    Hop::Parse,
    Hop::FeedToKernel,
    Hop::Kernel,
    Hop::KernelToExec,
    Hop::TickToOrder,
    Hop::FillToKernel,
    Hop::TickToDecision,
    Hop::TickToDecisionCorrected,
    Hop::TickToOrderCorrected,
];

impl Hop {
    /// Stable name used in reports and file names.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Parse => "parse",
            Self::FeedToKernel => "feed_to_kernel",
            Self::Kernel => "kernel",
            Self::KernelToExec => "kernel_to_exec",
            Self::TickToOrder => "tick_to_order",
            Self::FillToKernel => "fill_to_kernel",
            Self::TickToDecision => "tick_to_decision",
            Self::TickToDecisionCorrected => "tick_to_decision_co",
            Self::TickToOrderCorrected => "tick_to_order_co",
        }
    }
}

/// Highest value a histogram tracks: 60 s in ns. Larger values are clamped (counted at the max).
pub const MAX_TRACKABLE_NS: u64 = 60_000_000_000;

/// One histogram per hop. Each thread owns one set; nothing is shared while running.
#[derive(Debug, Clone)]
pub struct HopHistograms {
    hists: Vec<Histogram<u64>>,
}

impl Default for HopHistograms {
    fn default() -> Self {
        Self::new()
    }
}

impl HopHistograms {
    /// Allocates every histogram (start-up only).
    ///
    /// # Panics
    /// Never: the bounds are constants that `hdrhistogram` accepts.
    #[must_use]
    pub fn new() -> Self {
        let hists = HOPS.iter().map(|_| new_histogram()).collect();
        Self { hists }
    }

    /// Records `ns` for `hop`. No allocation, no lock; values beyond the range are clamped.
    #[inline]
    pub fn record(&mut self, hop: Hop, ns: u64) {
        self.hists[hop as usize].saturating_record(ns.max(1));
    }

    /// The histogram of `hop`.
    #[must_use]
    pub fn get(&self, hop: Hop) -> &Histogram<u64> {
        &self.hists[hop as usize]
    }

    /// Adds every histogram of `other` into `self` (report time).
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.hists.iter_mut().zip(&other.hists) {
            // Same bounds on both sides, so `add` cannot fail; a failure would only drop samples.
            let _ = a.add(b);
        }
    }
}

/// A fixed-range histogram as every hop uses: 1 ns … [`MAX_TRACKABLE_NS`], 3 significant digits,
/// no auto-resize (recording never allocates).
///
/// # Panics
/// Never: the bounds are constants that `hdrhistogram` accepts.
#[must_use]
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, MAX_TRACKABLE_NS, 3)
        .expect("constant histogram bounds are valid");
    h.auto(false);
    h
}

/// Percentiles reported for every hop.
pub const REPORT_PERCENTILES: [f64; 6] = [50.0, 90.0, 99.0, 99.9, 99.99, 100.0];

/// One line of the latency table: count and percentiles (ns) of a histogram.
#[must_use]
pub fn summary_row(h: &Histogram<u64>) -> (u64, [u64; 6]) {
    let mut out = [0u64; 6];
    for (o, p) in out.iter_mut().zip(REPORT_PERCENTILES) {
        *o = if h.is_empty() {
            0
        } else if p >= 100.0 {
            h.max()
        } else {
            h.value_at_percentile(p)
        };
    }
    (h.len(), out)
}

/// Renders a nanosecond value for humans (`840 ns`, `12.3 µs`, `4.56 ms`).
#[must_use]
pub fn fmt_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.2} µs", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// A table of every non-empty hop: count, p50, p90, p99, p99.9, p99.99, max.
#[must_use]
pub fn table(h: &HopHistograms) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "hop", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
    for hop in HOPS {
        let (n, q) = summary_row(h.get(hop));
        if n == 0 {
            continue;
        }
        let _ = write!(s, "{:<20} {:>10}", hop.name(), n);
        for v in q {
            let _ = write!(s, " {:>10}", fmt_ns(v));
        }
        s.push('\n');
    }
    s
}

/// The histogram in HdrHistogram's percentile-distribution text format (as printed by
/// `outputPercentileDistribution` and loaded by the HdrHistogram plotter), values in
/// microseconds (`value_scale` = 1000 ns per unit).
#[must_use]
pub fn percentile_distribution(h: &Histogram<u64>, value_scale: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            let value = v.value_iterated_to() as f64 / value_scale;
            if q < 1.0 {
                let _ = writeln!(
                    s,
                    "{:>12.3} {:>2.12} {:>10} {:>14.2}",
                    value,
                    q,
                    count_at_or_below(h, v.value_iterated_to()),
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(s, "{:>12.3} {:>2.12} {:>10}", value, q, h.len());
            }
        }
    }
    let mean = h.mean() / value_scale;
    let sd = h.stdev() / value_scale;
    let max = h.max() as f64 / value_scale;
    let _ = writeln!(s, "#[Mean    = {mean:>12.3}, StdDeviation   = {sd:>12.3}]");
    let _ = writeln!(
        s,
        "#[Max     = {max:>12.3}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        h.distinct_values()
    );
    s
}

fn count_at_or_below(h: &Histogram<u64>, value: u64) -> u64 {
    h.count_between(0, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_merges_and_reports() {
        let mut a = HopHistograms::new();
        let mut b = HopHistograms::new();
        for v in 1..=1000 {
            a.record(Hop::TickToOrder, v * 100);
        }
        b.record(Hop::TickToOrder, 1_000_000);
        b.record(Hop::Parse, u64::MAX);
        a.merge(&b);
        let (n, q) = summary_row(a.get(Hop::TickToOrder));
        assert_eq!(n, 1001);
        assert!((49_900..=50_200).contains(&q[0]), "p50 {}", q[0]);
        assert!(q[5] >= 999_000, "max {}", q[5]);
        assert_eq!(a.get(Hop::Parse).len(), 1);
        let text = percentile_distribution(a.get(Hop::TickToOrder), 1000.0);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"));
        assert!(text.contains("#[Max     ="));
        assert!(text.contains("Total count    =         1001]"));
        let t = table(&a);
        assert!(t.contains("tick_to_order"));
        assert!(!t.contains("kernel_to_exec"));
    }
}
