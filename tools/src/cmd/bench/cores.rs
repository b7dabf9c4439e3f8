//! `ballast bench cores`: the core-to-core latency matrix.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use engine::latency::fmt_ns;
use engine::topology::available_cores;
use lab::cores::{matrix, matrix_csv, matrix_table};
use lab::report::{
    write_hgrm, write_interval_log, write_summary, ConfigSummary, Interval, SeriesSummary, Summary,
    SUMMARY_VERSION,
};

use super::{bar, plot, prepare_out, unix_now_s};

#[derive(Debug, clap::Args)]
pub(super) struct CoresArgs {
    /// Observations per pair (each the mean of --per-sample round trips).
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Round trips averaged into one observation.
    #[arg(long, default_value_t = 200)]
    per_sample: u32,
    /// Write the matrix as CSV here (also written as cores.csv under --out).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Directory for .hgrm files, the interval log, the JSON summary and the SVG plot.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `ballast bench cores`.
pub(super) fn run(a: CoresArgs) -> anyhow::Result<()> {
    if a.samples == 0 || a.per_sample == 0 {
        bail!("--samples and --per-sample must be positive");
    }
    prepare_out(a.out.as_deref())?;
    let started = SystemTime::now();
    let cores = available_cores();
    if cores.len() < 2 {
        bail!(
            "this process may use {} core(s); a core-to-core matrix needs at least 2",
            cores.len()
        );
    }
    let pb = bar((cores.len() * (cores.len() - 1)) as u64, "core pairs");
    let pairs = matrix(&cores, a.samples, a.per_sample, &mut |d, _| {
        pb.set_position(d as u64);
    });
    pb.finish_and_clear();
    println!("== ballast bench cores: cache-line round trip, median / p99 (rows initiate) ==");
    println!(
        "{} observations per pair, each the mean of {} round trips; one way ≈ half",
        a.samples, a.per_sample
    );
    print!("{}", matrix_table(&cores, &pairs));
    if pairs.iter().any(|p| !p.pinned) {
        println!("* a thread could not be pinned as asked: that figure is what the scheduler gave");
    }
    if let Some(best) = pairs
        .iter()
        .filter(|p| p.pinned)
        .min_by(|x, y| x.median_ns.total_cmp(&y.median_ns))
    {
        println!(
            "fastest pair: core {} ↔ core {} ({} round trip): pin the feed and kernel threads there",
            best.from_core,
            best.to_core,
            fmt_ns(best.median_ns.round() as u64)
        );
    }
    let csv = matrix_csv(&pairs);
    if let Some(p) = &a.csv {
        std::fs::write(p, &csv).with_context(|| format!("writing --csv {}", p.display()))?;
    }
    let Some(dir) = &a.out else { return Ok(()) };
    std::fs::write(dir.join("cores.csv"), &csv).context("writing cores.csv")?;
    let mut configs = Vec::new();
    let mut lines = Vec::new();
    let names: Vec<String> = pairs
        .iter()
        .map(|p| format!("core{}-core{}", p.from_core, p.to_core))
        .collect();
    for (p, name) in pairs.iter().zip(&names) {
        write_hgrm(dir, name, &p.hist)?;
        configs.push(ConfigSummary {
            name: name.clone(),
            detail: format!(
                "initiator on core {}, echo on core {}",
                p.from_core, p.to_core
            ),
            offered: p.hist.len(),
            completed: p.hist.len(),
            warnings: if p.pinned {
                vec![]
            } else {
                vec!["not pinned as asked".into()]
            },
            series: vec![SeriesSummary::of("round_trip", &p.hist)],
            ..ConfigSummary::default()
        });
        lines.push((name.clone(), &p.hist));
    }
    let intervals: Vec<Interval<'_>> = pairs
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (p, name))| Interval {
            tag: name,
            start: Duration::from_secs(i as u64),
            length: Duration::from_secs(1),
            hist: &p.hist,
        })
        .collect();
    write_interval_log(
        &dir.join("cores.hlog"),
        started,
        "ballast bench cores: one interval per core pair (tag), round trip ns",
        &intervals,
    )?;
    let summary = Summary {
        version: SUMMARY_VERSION,
        bench: "cores".into(),
        started_unix_s: unix_now_s(),
        cores: cores.clone(),
        floors: vec![],
        configs,
    };
    write_summary(&dir.join("summary.json"), &summary)?;
    plot::percentiles(
        &dir.join("cores.svg"),
        "Core-to-core round trip by percentile",
        &lines,
    )?;
    println!("wrote {}", dir.display());
    Ok(())
}
