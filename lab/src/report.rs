//! What every bench writes: a JSON summary (one entry per configuration, one series per hop or
//! measurement, percentiles in ns), HdrHistogram percentile distributions (`.hgrm`) and interval
//! logs, and the comparison of two summaries that flags regressions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use engine::latency::{fmt_ns, percentile_distribution};

/// Summary format version written in every JSON summary.
pub const SUMMARY_VERSION: u32 = 1;

/// A bench run: what was measured, where, and the results of every configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Format version ([`SUMMARY_VERSION`]).
    pub version: u32,
    /// `cores`, `pipeline` or `venue`.
    pub bench: String,
    /// Unix time the run started, s.
    pub started_unix_s: u64,
    /// Cores the process could use.
    pub cores: Vec<usize>,
    /// Same-run baselines (name → ns), e.g. the core-to-core round trip and the parse-only cost.
    pub floors: Vec<Floor>,
    /// One entry per configuration (topology, core pair, venue probe...).
    pub configs: Vec<ConfigSummary>,
}

/// A baseline measured in the same run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Floor {
    /// What it is.
    pub name: String,
    /// Its median, ns.
    pub median_ns: f64,
}

/// One configuration's results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ConfigSummary {
    /// Stable name (matched across runs by [`compare`]).
    pub name: String,
    /// Free-form details (topology as run, URL...).
    pub detail: String,
    /// Offered rate, messages per second (0 when not rate-driven).
    pub offered_per_s: f64,
    /// Achieved rate, messages per second.
    pub achieved_per_s: f64,
    /// Messages offered.
    pub offered: u64,
    /// Messages that completed (events to the kernel, responses received...).
    pub completed: u64,
    /// Messages dropped, conflated or lost.
    pub dropped: u64,
    /// Wall time, s.
    pub elapsed_s: f64,
    /// Warnings raised.
    pub warnings: Vec<String>,
    /// One series per hop or measurement.
    pub series: Vec<SeriesSummary>,
}

/// Percentiles of one histogram, ns.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SeriesSummary {
    /// Hop or measurement name.
    pub name: String,
    /// Samples.
    pub count: u64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 90th percentile, ns.
    pub p90_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// 99.99th percentile, ns.
    pub p9999_ns: u64,
    /// Largest value, ns.
    pub max_ns: u64,
}

impl SeriesSummary {
    /// The percentiles of `h` under `name`.
    #[must_use]
    pub fn of(name: &str, h: &Histogram<u64>) -> Self {
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_percentile(p)
            }
        };
        Self {
            name: name.to_owned(),
            count: h.len(),
            mean_ns: if h.is_empty() { 0.0 } else { h.mean() },
            p50_ns: q(50.0),
            p90_ns: q(90.0),
            p99_ns: q(99.0),
            p999_ns: q(99.9),
            p9999_ns: q(99.99),
            max_ns: if h.is_empty() { 0 } else { h.max() },
        }
    }

    /// The value of `m`, ns.
    #[must_use]
    pub fn metric(&self, m: Metric) -> u64 {
        match m {
            Metric::P50 => self.p50_ns,
            Metric::P90 => self.p90_ns,
            Metric::P99 => self.p99_ns,
            Metric::P999 => self.p999_ns,
            Metric::P9999 => self.p9999_ns,
            Metric::Max => self.max_ns,
        }
    }
}

/// A table of series: count and percentiles.
#[must_use]
pub fn series_table(series: &[SeriesSummary]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "series", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
    for r in series.iter().filter(|r| r.count > 0) {
        let _ = write!(s, "{:<22} {:>10}", r.name, r.count);
        for v in [
            r.p50_ns, r.p90_ns, r.p99_ns, r.p999_ns, r.p9999_ns, r.max_ns,
        ] {
            let _ = write!(s, " {:>10}", fmt_ns(v));
        }
        s.push('\n');
    }
    s
}

/// An output file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {message}")]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    std::fs::write(path, bytes).map_err(|e| WriteError {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// A name safe in file names and interval-log tags: ASCII letters, digits, `-`, `_` and `.`; every
/// other character becomes `_`.
#[must_use]
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `h` as `<dir>/<stem>.hgrm`: HdrHistogram's percentile distribution, values in µs.
///
/// # Errors
/// The file cannot be written.
pub fn write_hgrm(dir: &Path, stem: &str, h: &Histogram<u64>) -> Result<PathBuf, WriteError> {
    let path = dir.join(format!("{}.hgrm", file_safe(stem)));
    write_file(&path, percentile_distribution(h, 1000.0).as_bytes())?;
    Ok(path)
}

/// One interval of an interval log.
#[derive(Debug)]
pub struct Interval<'a> {
    /// Tag (a configuration or series name; made file-safe).
    pub tag: &'a str,
    /// Start, relative to the log's start time.
    pub start: Duration,
    /// Length.
    pub length: Duration,
    /// Values recorded in the interval, ns.
    pub hist: &'a Histogram<u64>,
}

/// Writes an HdrHistogram interval log (the Java `HistogramLogWriter` format, version 1.3:
/// `#[StartTime: ...]`, then one `Tag=...,start,length,max,base64 compressed histogram` line per
/// interval; values in ns, the max column in µs) to `path`.
///
/// # Errors
/// The file cannot be written or a histogram cannot be encoded.
pub fn write_interval_log(
    path: &Path,
    started: SystemTime,
    comment: &str,
    intervals: &[Interval<'_>],
) -> Result<(), WriteError> {
    let err = |message: String| WriteError {
        path: path.to_owned(),
        message,
    };
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut w = IntervalLogWriterBuilder::new()
            .add_comment(comment)
            .add_comment("[Histogram log format version 1.3]")
            .with_start_time(started)
            .with_base_time(started)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut buf, &mut ser)
            .map_err(|e| err(e.to_string()))?;
        w.write_comment("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")
            .map_err(|e| err(e.to_string()))?;
        for iv in intervals {
            let tag = file_safe(iv.tag);
            w.write_histogram(iv.hist, iv.start, iv.length, Tag::new(&tag))
                .map_err(|e| err(format!("{e:?}")))?;
        }
    }
    write_file(path, &buf)
}

/// Writes `summary` as pretty JSON to `path`.
///
/// # Errors
/// The file cannot be written.
pub fn write_summary(path: &Path, summary: &Summary) -> Result<(), WriteError> {
    let text = serde_json::to_string_pretty(summary).map_err(|e| WriteError {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    write_file(path, text.as_bytes())
}

/// A summary that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

/// Reads a JSON summary written by [`write_summary`].
///
/// # Errors
/// The file cannot be read, is not a summary, or has another format version.
pub fn read_summary(path: &Path) -> Result<Summary, ReadError> {
    let err = |message: String| ReadError {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let s: Summary =
        serde_json::from_str(&text).map_err(|e| err(format!("not a bench summary: {e}")))?;
    if s.version != SUMMARY_VERSION {
        return Err(err(format!(
            "summary format version {} (this build reads {SUMMARY_VERSION})",
            s.version
        )));
    }
    Ok(s)
}

/// A percentile compared by [`compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Metric {
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    #[cfg_attr(feature = "clap", value(name = "p99.9", alias = "p999"))]
    P999,
    /// 99.99th percentile.
    #[cfg_attr(feature = "clap", value(name = "p99.99", alias = "p9999"))]
    P9999,
    /// Largest value.
    Max,
}

impl Metric {
    /// Its name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P99 => "p99",
            Self::P999 => "p99.9",
            Self::P9999 => "p99.99",
            Self::Max => "max",
        }
    }
}

/// One line of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// Configuration name.
    pub config: String,
    /// Series name (or `throughput`).
    pub series: String,
    /// Metric name.
    pub metric: &'static str,
    /// Value in run A (ns, or messages/s for throughput).
    pub a: f64,
    /// Value in run B.
    pub b: f64,
    /// How much worse B is than A: B/A for latency, A/B for throughput (> 1 = worse).
    pub worse_ratio: f64,
    /// Whether the ratio exceeds 1 + threshold.
    pub regression: bool,
}

/// Compares run `b` with baseline `a`: every series present in both (same configuration and
/// series names, at least `min_count` samples in each) on each of `metrics`, plus the achieved
/// throughput of each configuration. A row is a regression when B is worse than A by more than
/// `threshold` (0.1 = 10 %). Configurations or series present in only one run are skipped.
#[must_use]
pub fn compare(
    a: &Summary,
    b: &Summary,
    metrics: &[Metric],
    threshold: f64,
    min_count: u64,
) -> Vec<CompareRow> {
    let mut rows = Vec::new();
    let limit = 1.0 + threshold;
    for ca in &a.configs {
        let Some(cb) = b.configs.iter().find(|c| c.name == ca.name) else {
            continue;
        };
        if ca.achieved_per_s > 0.0 && cb.achieved_per_s > 0.0 {
            let worse = ca.achieved_per_s / cb.achieved_per_s;
            rows.push(CompareRow {
                config: ca.name.clone(),
                series: "throughput".into(),
                metric: "msg/s",
                a: ca.achieved_per_s,
                b: cb.achieved_per_s,
                worse_ratio: worse,
                regression: worse > limit,
            });
        }
        for sa in &ca.series {
            let Some(sb) = cb.series.iter().find(|s| s.name == sa.name) else {
                continue;
            };
            if sa.count < min_count.max(1) || sb.count < min_count.max(1) {
                continue;
            }
            for &m in metrics {
                let (va, vb) = (sa.metric(m) as f64, sb.metric(m) as f64);
                let worse = vb / va.max(1.0);
                rows.push(CompareRow {
                    config: ca.name.clone(),
                    series: sa.name.clone(),
                    metric: m.name(),
                    a: va,
                    b: vb,
                    worse_ratio: worse,
                    regression: worse > limit,
                });
            }
        }
    }
    rows
}

/// The comparison as a table (`REGRESSION` marks flagged rows).
#[must_use]
pub fn compare_table(rows: &[CompareRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<28} {:<22} {:<7} {:>12} {:>12} {:>8}  flag",
        "config", "series", "metric", "A", "B", "B/A"
    );
    for r in rows {
        let fmt = |v: f64| {
            if r.series == "throughput" {
                format!("{v:.0}/s")
            } else {
                fmt_ns(v as u64)
            }
        };
        let ratio = if r.series == "throughput" {
            r.b / r.a.max(1e-9)
        } else {
            r.worse_ratio
        };
        let _ = writeln!(
            s,
            "{:<28} {:<22} {:<7} {:>12} {:>12} {:>8.3}  {}",
            r.config,
            r.series,
            r.metric,
            fmt(r.a),
            fmt(r.b),
            ratio,
            if r.regression { "REGRESSION" } else { "" }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::latency::new_histogram;

    fn summary(p50: u64, rate: f64) -> Summary {
        let mut h = new_histogram();
        for v in 0..1000 {
            h.record(p50 + v).unwrap();
        }
        let mut s = SeriesSummary::of("tick_to_decision_co", &h);
        s.p50_ns = p50;
        Summary {
            version: SUMMARY_VERSION,
            bench: "pipeline".into(),
            started_unix_s: 0,
            cores: vec![0, 1],
            floors: vec![],
            configs: vec![ConfigSummary {
                name: "single".into(),
                achieved_per_s: rate,
                series: vec![s],
                ..ConfigSummary::default()
            }],
        }
    }

    #[test]
    fn compare_flags_only_what_got_worse_beyond_the_threshold() {
        let a = summary(1_000, 10_000.0);
        let same = compare(&a, &a, &[Metric::P50, Metric::P99], 0.1, 10);
        assert_eq!(same.len(), 3);
        assert!(same.iter().all(|r| !r.regression));
        let b = summary(1_200, 10_000.0);
        let rows = compare(&a, &b, &[Metric::P50], 0.1, 10);
        let p50 = rows.iter().find(|r| r.metric == "p50").unwrap();
        assert!(p50.regression && (p50.worse_ratio - 1.2).abs() < 1e-9);
        assert!(!compare(&a, &b, &[Metric::P50], 0.25, 10)[1].regression);
        let slow = summary(1_000, 5_000.0);
        assert!(compare(&a, &slow, &[], 0.1, 10)[0].regression);
        assert!(compare_table(&rows).contains("REGRESSION"));
        // Faster is never a regression.
        assert!(compare(&b, &a, &[Metric::P50], 0.1, 10)
            .iter()
            .all(|r| !r.regression));
    }

    #[test]
    fn summary_and_interval_log_round_trip() {
        let dir = std::env::temp_dir().join(format!("ballast-lab-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = summary(1_000, 1.0);
        let p = dir.join("s.json");
        write_summary(&p, &s).unwrap();
        assert_eq!(read_summary(&p).unwrap(), s);
        std::fs::write(&p, "{}").unwrap();
        assert!(read_summary(&p)
            .unwrap_err()
            .to_string()
            .contains("not a bench summary"));
        let mut h = new_histogram();
        h.record(5_000).unwrap();
        let log = dir.join("i.hlog");
        let iv = [Interval {
            tag: "cfg one",
            start: Duration::from_secs(1),
            length: Duration::from_secs(1),
            hist: &h,
        }];
        write_interval_log(&log, SystemTime::UNIX_EPOCH, "test", &iv).unwrap();
        let bytes = std::fs::read(&log).unwrap();
        let parsed: Vec<_> =
            hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&bytes)
                .collect::<Result<_, _>>()
                .unwrap();
        let hists: Vec<_> = parsed
            .iter()
            .filter_map(|e| match e {
                hdrhistogram::serialization::interval_log::LogEntry::Interval(i) => Some(i),
                _ => None,
            })
            .collect();
        assert_eq!(hists.len(), 1);
        assert_eq!(hists[0].tag().unwrap().as_str(), "cfg_one");
        assert!(
            (hists[0].max() - 5.0).abs() < 0.01,
            "max in µs: {}",
            hists[0].max()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
