//! `ballast bench compare`: two runs' summaries side by side, failing on a regression.

use std::path::PathBuf;

use anyhow::bail;
use engine::latency::fmt_ns;
use lab::report::{compare, compare_table, read_summary, Metric};

#[derive(Debug, clap::Args)]
pub(super) struct CompareArgs {
    /// Baseline summary (summary.json of an earlier run).
    a: PathBuf,
    /// Summary compared with the baseline.
    b: PathBuf,
    /// Flag B when worse than A by more than this (`10%` or `0.1`).
    #[arg(long, default_value = "10%")]
    threshold: String,
    /// Percentiles compared, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "p50,p99")]
    metrics: Vec<Metric>,
    /// Series with fewer samples than this (in either run) are not compared.
    #[arg(long, default_value_t = 100)]
    min_count: u64,
}

fn parse_threshold(s: &str) -> anyhow::Result<f64> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    };
    match v {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => bail!("--threshold `{s}`: expected a non-negative fraction such as 0.1 or a percentage such as 10%"),
    }
}

/// Runs `ballast bench compare`.
pub(super) fn run(a: CompareArgs) -> anyhow::Result<()> {
    let threshold = parse_threshold(&a.threshold)?;
    let sa = read_summary(&a.a)?;
    let sb = read_summary(&a.b)?;
    if sa.bench != sb.bench {
        bail!(
            "{} is a `{}` run and {} a `{}` run: nothing to compare",
            a.a.display(),
            sa.bench,
            a.b.display(),
            sb.bench
        );
    }
    let rows = compare(&sa, &sb, &a.metrics, threshold, a.min_count);
    println!(
        "== ballast bench compare: A = {}, B = {} ({} bench, threshold {:.1} %) ==",
        a.a.display(),
        a.b.display(),
        sa.bench,
        threshold * 100.0
    );
    for (fa, fb) in sa.floors.iter().filter_map(|fa| {
        sb.floors
            .iter()
            .find(|f| f.name == fa.name)
            .map(|fb| (fa, fb))
    }) {
        println!(
            "floor {:<30} A {:>10}  B {:>10}  B/A {:.3} (machine drift, not flagged)",
            fa.name,
            fmt_ns(fa.median_ns.round() as u64),
            fmt_ns(fb.median_ns.round() as u64),
            fb.median_ns / fa.median_ns.max(1e-9)
        );
    }
    if rows.is_empty() {
        bail!(
            "the two runs share no configuration and series with at least {} samples",
            a.min_count
        );
    }
    print!("{}", compare_table(&rows));
    let flagged = rows.iter().filter(|r| r.regression).count();
    if flagged > 0 {
        bail!(
            "{flagged} regression(s) beyond {:.1} % (B worse than A)",
            threshold * 100.0
        );
    }
    println!("no regression beyond {:.1} %", threshold * 100.0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_as_fractions() {
        assert!((parse_threshold("10%").unwrap() - 0.1).abs() < 1e-12);
        assert!((parse_threshold("0.25").unwrap() - 0.25).abs() < 1e-12);
        assert!(parse_threshold("-1%").is_err());
        assert!(parse_threshold("ten").is_err());
    }
}
