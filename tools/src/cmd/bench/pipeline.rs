//! `ballast bench pipeline`: the real pipeline at a fixed offered rate, once per topology and
//! ring, beside floors measured in the same run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use clap::ValueEnum as _;
use config::Resolved;
use engine::clock::Clock;
use engine::latency::{fmt_ns, Hop, HOPS};
use engine::pipeline::Backpressure;
use engine::ring::RingChoice;
use engine::topology::{available_cores, Topology, TopologyError};
use hdrhistogram::Histogram;
use lab::bench::{
    frames_needed, options_market, parse_only, parse_only_options, rescale_sampling, run_case_on,
    run_options_case, synthetic_frames, time_compression, CaseResult, PipelineBench, PipelineCase,
};
use lab::c2c::round_trip;
use lab::load::{Injection, RateSource};
use lab::report::{
    file_safe, series_table, write_hgrm, write_interval_log, write_summary, ConfigSummary, Floor,
    Interval, SeriesSummary, Summary, SUMMARY_VERSION,
};
use options::synthetic::OptionsMarket;

use super::{bar, plot, prepare_out, unix_now_s};
use crate::cmd::run_common::load_config;

#[derive(Debug, clap::Args)]
pub(super) struct PipelineArgs {
    /// Offered rate, frames per second (each frame intended at start + k / rate).
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// Seconds per configuration.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Topology to run (repeat for a sweep): `single`, `auto`, or e.g. `feed@0,kernel+exec@1`.
    /// Default: single, feed@0,kernel+exec@1 and feed,kernel,exec.
    #[arg(
        long = "topology",
        value_parser = named_topology,
        default_values = ["single", "feed@0,kernel+exec@1", "feed,kernel,exec"],
        hide_default_value = true
    )]
    topologies: Vec<NamedTopology>,
    /// Rings between the stages, comma-separated: every topology runs on each. With more than
    /// `rtrb` alone, configurations are named `TOPOLOGY/RING`.
    #[arg(long, value_delimiter = ',', default_value = "rtrb")]
    rings: Vec<RingChoice>,
    /// What the kernel sizes.
    #[arg(long, value_enum, default_value_t = WorkloadKind::VolTarget)]
    workload: WorkloadKind,
    /// Options in the book of `--workload options`.
    #[arg(long, default_value_t = 1_000)]
    options: usize,
    /// Feed behaviour when the kernel falls behind: `block` (lose nothing) or `conflate`.
    #[arg(long, value_enum, default_value_t = Backpressure::Block)]
    backpressure: Backpressure,
    /// Offer frames of these capture files (read into memory first) instead of the synthetic
    /// market; the configured symbol is sized.
    #[arg(long)]
    capture: Vec<PathBuf>,
    /// Seed of the synthetic market.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Optional TOML configuration (sizing, rings, symbol); the demo's defaults otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Busy-wait this long in the kernel's sizer on every tick (a deliberately slowed build, for
    /// testing `bench compare`).
    #[arg(long, default_value_t = 0)]
    inject_delay_ns: u64,
    /// One stall of this many ms in the kernel's sizer (on tick --stall-at-tick), to see the
    /// coordinated-omission correction at work.
    #[arg(long)]
    stall_ms: Option<f64>,
    /// Sizer tick (1-based) that stalls.
    #[arg(long, default_value_t = 1_000)]
    stall_at_tick: u64,
    /// Interval of the interval log, ms.
    #[arg(long, default_value_t = 1_000)]
    interval_ms: u64,
    /// Directory for .hgrm files, the interval log, the JSON summary and the SVG plots.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What `bench pipeline` sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WorkloadKind {
    /// The configured symbol on a synthetic or captured Binance market.
    VolTarget,
    /// A synthetic Deribit book of --options options hedged on the perpetual; every perpetual
    /// tick revalues and sizes the whole book.
    Options,
}

/// A `--topology` as given (it names the configuration) and as parsed.
#[derive(Debug, Clone)]
struct NamedTopology {
    spec: String,
    topology: Topology,
}

fn named_topology(spec: &str) -> Result<NamedTopology, TopologyError> {
    Ok(NamedTopology {
        spec: spec.to_owned(),
        topology: spec.parse()?,
    })
}

fn read_frames(paths: &[PathBuf], n: usize) -> anyhow::Result<Vec<(u64, Vec<u8>)>> {
    let mut r = feeds::CaptureReader::open(paths)
        .with_context(|| format!("cannot open --capture {}", paths[0].display()))?;
    let mut out = Vec::with_capacity(n.min(1 << 24));
    while out.len() < n {
        match r.next_frame() {
            Ok(Some((ts, f))) => out.push((ts, f.to_vec())),
            Ok(None) => break,
            Err(e) => bail!("reading --capture: {e}"),
        }
    }
    Ok(out)
}

/// The flags of a sweep, checked.
#[derive(Debug)]
struct Checked {
    backpressure: Backpressure,
    /// Sizer tick (1-based) and length, ns, of the injected stall.
    stall: Option<(u64, u64)>,
    rings: Vec<RingChoice>,
    options_workload: bool,
}

fn check(a: &PipelineArgs) -> anyhow::Result<Checked> {
    if !(a.rate.is_finite() && a.rate > 0.0) {
        bail!(
            "--rate {}: expected a positive number of frames per second",
            a.rate
        );
    }
    if !(a.duration.is_finite() && a.duration > 0.0) {
        bail!(
            "--duration {}: expected a positive number of seconds",
            a.duration
        );
    }
    let stall = match a.stall_ms {
        None => None,
        Some(ms) if ms.is_finite() && ms > 0.0 => Some((a.stall_at_tick.max(1), (ms * 1e6) as u64)),
        Some(ms) => bail!("--stall-ms {ms}: expected a positive number of milliseconds"),
    };
    let mut rings = Vec::new();
    for &ring in &a.rings {
        if !rings.contains(&ring) {
            rings.push(ring);
        }
    }
    let options_workload = a.workload == WorkloadKind::Options;
    if options_workload && !a.capture.is_empty() {
        bail!("--capture feeds the vol-target workload; --workload options runs a synthetic book");
    }
    if options_workload && !(1..=100_000).contains(&a.options) {
        bail!("--options {}: expected 1 to 100000 options", a.options);
    }
    if options_workload && (a.inject_delay_ns > 0 || a.stall_ms.is_some()) {
        bail!("--inject-delay-ns and --stall-ms wrap the vol-target sizer; not with --workload options");
    }
    Ok(Checked {
        backpressure: a.backpressure,
        stall,
        rings,
        options_workload,
    })
}

/// One case per topology and ring.
fn cases(a: &PipelineArgs, rings: &[RingChoice]) -> Vec<(PipelineCase, RingChoice)> {
    let mut cases = Vec::new();
    for t in &a.topologies {
        for &ring in rings {
            let name = if rings == [RingChoice::Rtrb] {
                t.spec.clone()
            } else {
                format!("{}/{}", t.spec, ring.name())
            };
            cases.push((
                PipelineCase {
                    name,
                    topology: t.topology.clone(),
                },
                ring,
            ));
        }
    }
    cases
}

/// The frames offered: the options market's, the capture's, or a synthetic Binance market's.
fn offered_frames(
    a: &PipelineArgs,
    res: &Resolved,
    market: Option<&OptionsMarket>,
    n: usize,
) -> anyhow::Result<Vec<(u64, Vec<u8>)>> {
    Ok(if let Some(m) = market {
        m.frames.clone()
    } else if a.capture.is_empty() {
        synthetic_frames(n, &res.symbol, a.seed)
    } else {
        let f = read_frames(&a.capture, n)?;
        if f.len() < n {
            eprintln!(
                "ballast bench: the capture holds {} frames, fewer than {n} ({} s at {}/s); \
                 offering them all",
                f.len(),
                a.duration,
                a.rate
            );
        }
        f
    })
}

/// The floors measured before the cases (core-to-core round trip and one way, parse only) and
/// the parse-only histogram.
fn floors_before(
    cores: &[usize],
    res: &Resolved,
    market: Option<&OptionsMarket>,
    frames: &[(u64, Vec<u8>)],
    clock: &Clock,
) -> (Vec<Floor>, Histogram<u64>) {
    let mut floors = Vec::new();
    if cores.len() >= 2 {
        let rt = round_trip(cores[0], cores[1], 201, 2_000);
        floors.push(Floor {
            name: format!("c2c_round_trip_core{}_core{}", cores[0], cores[1]),
            median_ns: rt.median_ns,
        });
        floors.push(Floor {
            name: "c2c_one_way".into(),
            median_ns: rt.median_ns / 2.0,
        });
    }
    let parse_h = match market {
        Some(m) => parse_only_options(m, clock),
        None => parse_only(res, frames, clock),
    };
    floors.push(Floor {
        name: "parse_only".into(),
        median_ns: parse_h.value_at_percentile(50.0) as f64,
    });
    (floors, parse_h)
}

/// What is offered, how it is scheduled, and the floors.
fn print_header(
    a: &PipelineArgs,
    checked: &Checked,
    frames: usize,
    market: Option<&OptionsMarket>,
    compression: f64,
    res: &Resolved,
    floors: &[Floor],
) {
    println!("== ballast bench pipeline ==");
    println!(
        "offered           {} frames/s for {} s ({} frames, {}), backpressure {}",
        a.rate,
        a.duration,
        frames,
        if checked.options_workload {
            "synthetic Deribit options market"
        } else if a.capture.is_empty() {
            "synthetic market"
        } else {
            "captured frames"
        },
        a.backpressure
            .to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_owned())
    );
    if a.inject_delay_ns > 0 || checked.stall.is_some() {
        println!(
            "injected          {} ns per sizer tick{}",
            a.inject_delay_ns,
            checked.stall.map_or(String::new(), |(t, ns)| format!(
                ", one stall of {} at tick {t}",
                fmt_ns(ns)
            ))
        );
    }
    if let Some(m) = market {
        println!(
            "workload          options: {} options on {} underlying(s), desired book on every \
             tenth; rings {}",
            m.underlyings.iter().map(|u| u.chain.len()).sum::<usize>(),
            m.underlyings.len(),
            a.rings
                .iter()
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(",")
        );
        println!(
            "schedule          {compression:.1}× the recorded pace; volatility sampling \
             interval scaled to match"
        );
    } else {
        println!(
            "schedule          {compression:.1}× the recorded pace; sizer sampling interval scaled \
             to {} of schedule time",
            fmt_ns(res.sizing.sample_interval_ns)
        );
    }
    for f in floors {
        println!(
            "floor             {:<28} {}",
            f.name,
            fmt_ns(f.median_ns.round() as u64)
        );
    }
}

/// What one case runs on.
#[derive(Debug)]
struct Workload<'a> {
    res: &'a Resolved,
    bench: &'a PipelineBench,
    market: Option<&'a OptionsMarket>,
    compression: f64,
    clock: &'a Clock,
    /// Start of the sweep (case starts in the interval log are measured from it).
    t0: Instant,
}

/// Runs one case on a fresh rate source of `frames`, with a progress bar when interactive;
/// returns its result and its start, from the sweep's.
fn run_case(
    w: &Workload<'_>,
    case: &PipelineCase,
    ring: RingChoice,
    frames: &[(u64, Vec<u8>)],
) -> anyhow::Result<(CaseResult, Duration)> {
    let source = RateSource::new(frames.to_vec(), w.bench.rate_per_s, frames.len());
    let counter = source.progress();
    let total = source.len() as u64;
    let pb = bar(total, &case.name);
    let done = AtomicBool::new(false);
    let start = w.t0.elapsed();
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            // Acquire: pairs with the Release store below, after the run.
            while !done.load(Ordering::Acquire) {
                pb.set_position(counter.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let r = match w.market {
            Some(m) => run_options_case(w.bench, case, ring, m, w.compression, source, w.clock)
                .context("options workload"),
            None => run_case_on(w.res, w.bench, case, ring, source, w.clock)
                .context("vol-target workload"),
        };
        // Release: pairs with the progress thread's Acquire load.
        done.store(true, Ordering::Release);
        r
    })?;
    pb.finish_and_clear();
    Ok((r, start))
}

/// The floors a case's figures are set against.
#[derive(Debug, Clone, Copy)]
struct CaseFloors {
    /// Parse-only median, ns.
    parse: f64,
    /// Core-to-core one way, ns.
    c2c_one_way: Option<f64>,
    /// Core-to-core round trip before and after the cases, ns.
    c2c_before: Option<f64>,
    c2c_after: Option<f64>,
}

/// Prints one case's figures against the floors; returns its summary.
fn report_case(r: &CaseResult, fl: &CaseFloors) -> ConfigSummary {
    let rep = &r.report;
    let secs = rep.elapsed_ns as f64 / 1e9;
    let achieved = rep.feed.frames as f64 / secs.max(1e-9);
    println!();
    println!("-- {} (ran as {}) --", r.name, rep.topology);
    for w in &rep.warnings {
        println!("warning           {w}");
    }
    println!(
        "throughput        {:.0} frames/s achieved of {:.0} offered ({:.1} %), {} events",
        achieved,
        r.offered_per_s,
        100.0 * achieved / r.offered_per_s,
        rep.feed.events
    );
    println!(
        "drops             {} conflated, {} rejected frames, {} orders",
        rep.feed.conflated,
        rep.feed.rejected,
        rep.orders.len()
    );
    let series: Vec<SeriesSummary> = HOPS
        .iter()
        .map(|&h| SeriesSummary::of(h.name(), rep.latency.get(h)))
        .filter(|s| s.count > 0)
        .collect();
    print!("{}", series_table(&series));
    let p50 = |h: Hop| rep.latency.get(h).value_at_percentile(50.0) as f64;
    if !rep.latency.get(Hop::Parse).is_empty() && fl.parse > 0.0 {
        println!(
            "vs floors         parse p50 = {:.2}× parse-only",
            p50(Hop::Parse) / fl.parse
        );
    }
    if let Some(f) = fl.c2c_one_way.filter(|_| rep.topology.threads.len() > 1) {
        println!(
            "vs floors         feed_to_kernel p50 = {:.2}× the core-to-core one-way floor",
            p50(Hop::FeedToKernel) / f.max(1.0)
        );
    }
    let t2o = rep.latency.get(Hop::TickToOrderCorrected);
    if !t2o.is_empty() {
        let q = |p: f64| t2o.value_at_percentile(p);
        let floor = match (fl.c2c_before, fl.c2c_after) {
            (Some(b), Some(a)) => format!(
                "; p50 = {:.1}× / {:.1}× the c2c round trip before / after",
                q(50.0) as f64 / b.max(1.0),
                q(50.0) as f64 / a.max(1.0)
            ),
            _ => String::new(),
        };
        println!(
            "tick_to_order     p50 {} p99 {} p99.9 {} (corrected, {} orders){floor}",
            fmt_ns(q(50.0)),
            fmt_ns(q(99.0)),
            fmt_ns(q(99.9)),
            t2o.len()
        );
    }
    let co = rep.latency.get(Hop::TickToDecisionCorrected);
    let raw = rep.latency.get(Hop::TickToDecision);
    if !co.is_empty() && !raw.is_empty() {
        println!(
            "co correction     p99 {} corrected vs {} uncorrected (max {} vs {})",
            fmt_ns(co.value_at_percentile(99.0)),
            fmt_ns(raw.value_at_percentile(99.0)),
            fmt_ns(co.max()),
            fmt_ns(raw.max())
        );
    }
    ConfigSummary {
        name: r.name.clone(),
        detail: format!("topology {}", rep.topology),
        offered_per_s: r.offered_per_s,
        achieved_per_s: achieved,
        offered: r.frames_offered,
        completed: rep.feed.frames,
        dropped: rep.feed.conflated,
        elapsed_s: secs,
        warnings: rep.warnings.clone(),
        series,
    }
}

/// Writes the `.hgrm` files, plots, interval log and summary of a sweep under `dir`.
fn write_out(
    dir: &Path,
    a: &PipelineArgs,
    started: SystemTime,
    interval_ns: u64,
    ran: &[(CaseResult, Duration)],
    parse_h: &Histogram<u64>,
    summary: &Summary,
) -> anyhow::Result<()> {
    write_hgrm(dir, "floor.parse_only", parse_h)?;
    let mut intervals = Vec::new();
    let mut overview = Vec::new();
    for (r, start) in ran {
        let stem = file_safe(&r.name);
        let mut lines = Vec::new();
        for h in HOPS {
            let hist = r.report.latency.get(h);
            if hist.is_empty() {
                continue;
            }
            write_hgrm(dir, &format!("{stem}.{}", h.name()), hist)?;
            lines.push((h.name().to_owned(), hist));
        }
        plot::percentiles(
            &dir.join(format!("{stem}.svg")),
            &format!("Pipeline hops, {} at {} frames/s", r.name, a.rate),
            &lines,
        )?;
        overview.push((
            format!("{} (corrected)", r.name),
            r.report.latency.get(Hop::TickToDecisionCorrected),
        ));
        overview.push((
            format!("{} (uncorrected)", r.name),
            r.report.latency.get(Hop::TickToDecision),
        ));
        for (i, h) in r.report.intervals.iter().enumerate() {
            if h.is_empty() {
                continue;
            }
            intervals.push(Interval {
                tag: &r.name,
                start: *start + Duration::from_nanos(interval_ns * i as u64),
                length: Duration::from_nanos(interval_ns),
                hist: h,
            });
        }
    }
    plot::percentiles(
        &dir.join("pipeline.svg"),
        &format!(
            "Tick to decision by configuration, {} frames/s offered",
            a.rate
        ),
        &overview,
    )?;
    write_interval_log(
        &dir.join("pipeline.hlog"),
        started,
        "ballast bench pipeline: corrected tick-to-decision per interval, tag = topology",
        &intervals,
    )?;
    write_summary(&dir.join("summary.json"), summary)?;
    println!();
    println!("wrote {}", dir.display());
    Ok(())
}

/// Runs `ballast bench pipeline`.
pub(super) fn run(a: PipelineArgs) -> anyhow::Result<()> {
    let checked = check(&a)?;
    let cores = available_cores();
    let cases = cases(&a, &checked.rings);
    prepare_out(a.out.as_deref())?;
    let res = load_config(a.config.as_deref())?;
    let n = frames_needed(a.rate, a.duration);
    let market = checked
        .options_workload
        .then(|| options_market(a.options, n, a.seed));
    let frames = offered_frames(&a, &res, market.as_ref(), n)?;
    let compression = time_compression(&frames, a.rate);
    let res = rescale_sampling(&res, compression);
    let clock = Clock::new();
    let started = SystemTime::now();
    let t0 = Instant::now();
    // Floors measured in this run.
    let (mut floors, parse_h) = floors_before(&cores, &res, market.as_ref(), &frames, &clock);
    print_header(
        &a,
        &checked,
        frames.len(),
        market.as_ref(),
        compression,
        &res,
        &floors,
    );
    let bench = PipelineBench {
        rate_per_s: a.rate,
        backpressure: checked.backpressure,
        interval_ns: a.interval_ms.max(1) * 1_000_000,
        inject: Injection {
            per_tick_ns: a.inject_delay_ns,
            stall: checked.stall,
        },
    };
    let workload = Workload {
        res: &res,
        bench: &bench,
        market: market.as_ref(),
        compression,
        clock: &clock,
        t0,
    };
    let mut ran = Vec::new();
    for (case, ring) in &cases {
        ran.push(run_case(&workload, case, *ring, &frames)?);
    }
    // The floor again after the cases: the machine's load may have moved during the sweep.
    let c2c_before = floors
        .iter()
        .find(|f| f.name.starts_with("c2c_round_trip_core"))
        .map(|f| f.median_ns);
    let c2c_after =
        (cores.len() >= 2).then(|| round_trip(cores[0], cores[1], 201, 2_000).median_ns);
    if let Some(after) = c2c_after {
        println!(
            "floor             {:<28} {}",
            "c2c_round_trip_after",
            fmt_ns(after.round() as u64)
        );
        floors.push(Floor {
            name: "c2c_round_trip_after".into(),
            median_ns: after,
        });
    }
    let case_floors = CaseFloors {
        parse: parse_h.value_at_percentile(50.0) as f64,
        c2c_one_way: floors
            .iter()
            .find(|f| f.name == "c2c_one_way")
            .map(|f| f.median_ns),
        c2c_before,
        c2c_after,
    };
    let configs = ran
        .iter()
        .map(|(r, _)| report_case(r, &case_floors))
        .collect();
    let summary = Summary {
        version: SUMMARY_VERSION,
        bench: "pipeline".into(),
        started_unix_s: unix_now_s(),
        cores,
        floors,
        configs,
    };
    let Some(dir) = &a.out else { return Ok(()) };
    write_out(
        dir,
        &a,
        started,
        bench.interval_ns,
        &ran,
        &parse_h,
        &summary,
    )
}
