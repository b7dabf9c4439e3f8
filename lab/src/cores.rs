//! The core-to-core latency matrix: a cache-line ping-pong ([`crate::c2c`]) for every ordered pair
//! of the cores this process may use, both directions measured, used to choose the pinning.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::c2c::round_trip_samples;
use engine::latency::{fmt_ns, new_histogram};

/// One ordered pair of the matrix.
#[derive(Debug, Clone)]
pub struct PairResult {
    /// Core of the initiating thread.
    pub from_core: usize,
    /// Core of the echoing thread.
    pub to_core: usize,
    /// Median round trip, ns.
    pub median_ns: f64,
    /// 99th percentile round trip, ns.
    pub p99_ns: f64,
    /// Whether both threads were pinned as asked.
    pub pinned: bool,
    /// Every observation (mean round trip of one sample), ns.
    pub hist: Histogram<u64>,
}

/// Measures every ordered pair of distinct `cores` (`samples` × `per_sample` round trips each),
/// calling `progress(done, total)` after each pair.
#[must_use]
pub fn matrix(
    cores: &[usize],
    samples: usize,
    per_sample: u32,
    progress: &mut dyn FnMut(usize, usize),
) -> Vec<PairResult> {
    let total = cores.len() * cores.len().saturating_sub(1);
    let mut out = Vec::with_capacity(total);
    for &a in cores {
        for &b in cores {
            if a == b {
                continue;
            }
            let (mut obs, pinned) = round_trip_samples(a, b, samples, per_sample);
            let mut hist = new_histogram();
            for &o in &obs {
                if o.is_finite() {
                    hist.saturating_record((o.round() as u64).max(1));
                }
            }
            obs.sort_by(f64::total_cmp);
            let at = |q: f64| {
                obs.get(((obs.len() as f64 * q) as usize).min(obs.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            out.push(PairResult {
                from_core: a,
                to_core: b,
                median_ns: at(0.5),
                p99_ns: at(0.99),
                pinned,
                hist,
            });
            progress(out.len(), total);
        }
    }
    out
}

/// The matrix as a table: rows are the initiating core, columns the echoing core, each cell
/// `median / p99` of the round trip (`n/a` on the diagonal; `*` marks a pair that could not be
/// pinned).
#[must_use]
pub fn matrix_table(cores: &[usize], pairs: &[PairResult]) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:>8}", "from\\to");
    for c in cores {
        let _ = write!(s, " {:>22}", format!("core {c}"));
    }
    s.push('\n');
    for &a in cores {
        let _ = write!(s, "{:>8}", format!("core {a}"));
        for &b in cores {
            let cell = pairs
                .iter()
                .find(|p| p.from_core == a && p.to_core == b)
                .map_or_else(
                    || "n/a".to_owned(),
                    |p| {
                        format!(
                            "{} / {}{}",
                            fmt_ns(p.median_ns.round() as u64),
                            fmt_ns(p.p99_ns.round() as u64),
                            if p.pinned { "" } else { " *" }
                        )
                    },
                );
            let _ = write!(s, " {cell:>22}");
        }
        s.push('\n');
    }
    s
}

/// The matrix as CSV: `from_core,to_core,median_ns,p99_ns,one_way_median_ns,samples,pinned`.
#[must_use]
pub fn matrix_csv(pairs: &[PairResult]) -> String {
    let mut s =
        String::from("from_core,to_core,median_ns,p99_ns,one_way_median_ns,samples,pinned\n");
    for p in pairs {
        let _ = writeln!(
            s,
            "{},{},{:.1},{:.1},{:.1},{},{}",
            p.from_core,
            p.to_core,
            p.median_ns,
            p.p99_ns,
            p.median_ns / 2.0,
            p.hist.len(),
            p.pinned
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ordered_pair_is_measured_once() {
        let mut calls = Vec::new();
        let pairs = matrix(&[0, 1], 5, 50, &mut |d, t| calls.push((d, t)));
        assert_eq!(calls, vec![(1, 2), (2, 2)]);
        assert_eq!(pairs.len(), 2);
        assert_eq!((pairs[0].from_core, pairs[0].to_core), (0, 1));
        assert_eq!((pairs[1].from_core, pairs[1].to_core), (1, 0));
        for p in &pairs {
            assert_eq!(p.hist.len(), 5);
            assert!(p.median_ns > 0.0 && p.p99_ns >= p.median_ns);
        }
        let t = matrix_table(&[0, 1], &pairs);
        assert_eq!(t.lines().count(), 3);
        assert!(t.contains("n/a"));
        let csv = matrix_csv(&pairs);
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.lines().nth(1).unwrap().starts_with("0,1,"));
    }
}
