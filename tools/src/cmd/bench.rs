//! `ballast bench`: the latency lab — core-to-core matrix, pipeline topology sweeps at a fixed
//! offered rate (histograms corrected for coordinated omission), venue round trips, and the
//! comparison of two runs. Every bench prints a table and, with `--out DIR`, writes `.hgrm`
//! percentile distributions, an HdrHistogram interval log, a JSON summary and SVG plots.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use config::{Config, Resolved};
use engine::clock::Clock;
use engine::latency::{fmt_ns, Hop, HOPS};
use engine::pipeline::Backpressure;
use engine::ring::RingChoice;
use engine::topology::{available_cores, Topology};
use indicatif::{ProgressBar, ProgressStyle};
use lab::bench::{
    frames_needed, options_market, parse_only, parse_only_options, rescale_sampling, run_case_on,
    run_options_case, synthetic_frames, time_compression, PipelineBench, PipelineCase,
};
use lab::c2c::round_trip;
use lab::cores::{matrix, matrix_csv, matrix_table};
use lab::load::{Injection, RateSource};
use lab::report::{
    compare, compare_table, file_safe, read_summary, series_table, write_hgrm, write_interval_log,
    write_summary, ConfigSummary, Floor, Interval, Metric, SeriesSummary, Summary, SUMMARY_VERSION,
};
use lab::venue::{self, Probe, VenueBench};

/// Latency lab: core-to-core matrix, pipeline sweeps, venue round trips, run comparison.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    cmd: BenchCmd,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCmd {
    /// Core-to-core latency matrix (cache-line ping-pong) for every pair of usable cores.
    Cores(CoresArgs),
    /// The real pipeline at a fixed offered rate, once per topology, with per-hop and
    /// coordinated-omission-corrected end-to-end histograms beside same-run floors.
    Pipeline(PipelineArgs),
    /// Websocket round trip or order-to-acknowledgement latency against a venue or
    /// `ballast venue-sim`.
    Venue(VenueArgs),
    /// Compare two JSON summaries side by side; exit 1 when B regressed beyond the threshold.
    Compare(CompareArgs),
}

#[derive(Debug, clap::Args)]
struct CoresArgs {
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

#[derive(Debug, clap::Args)]
struct PipelineArgs {
    /// Offered rate, frames per second (each frame intended at start + k / rate).
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// Seconds per configuration.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Topology to run (repeat for a sweep): `single`, `auto`, or e.g. `feed@0,kernel+exec@1`.
    /// Default: single, feed@0,kernel+exec@1 and feed,kernel,exec.
    #[arg(long = "topology")]
    topologies: Vec<String>,
    /// Rings between the stages, comma-separated (`rtrb`, `crossbeam`): every topology runs on
    /// each. With more than `rtrb` alone, configurations are named `TOPOLOGY/RING`.
    #[arg(long, default_value = "rtrb")]
    rings: String,
    /// What the kernel sizes: `vol-target` (the configured symbol on a synthetic or captured
    /// Binance market) or `options` (a synthetic Deribit book of --options options hedged on the
    /// perpetual; every perpetual tick revalues and sizes the whole book).
    #[arg(long, default_value = "vol-target")]
    workload: String,
    /// Options in the book of `--workload options`.
    #[arg(long, default_value_t = 1_000)]
    options: usize,
    /// Feed behaviour when the kernel falls behind: `block` (lose nothing) or `conflate`.
    #[arg(long, default_value = "block")]
    backpressure: String,
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

#[derive(Debug, clap::Args)]
struct VenueArgs {
    /// Websocket URL, e.g. ws://127.0.0.1:9000/ws/api/v2 (Deribit) or .../ws-api/v3 (Binance).
    #[arg(long)]
    url: String,
    /// `ping` (websocket ping/pong), `deribit-test` (public/test), `binance-ping` (API ping),
    /// `binance-order` (order.place → ack) or `deribit-order` (private/buy → ack).
    #[arg(long, default_value = "ping")]
    probe: String,
    /// Requests recorded.
    #[arg(long, default_value_t = 1_000)]
    count: u64,
    /// Requests sent first and not recorded.
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// Scheduled requests per second (one in flight at a time).
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Response timeout, ms.
    #[arg(long, default_value_t = 2_000)]
    timeout_ms: u64,
    /// Symbol or instrument name of the order probes.
    #[arg(long, default_value = "BTCUSDT")]
    symbol: String,
    /// Limit price of the order probes.
    #[arg(long, default_value = "1000")]
    price: String,
    /// Quantity (Binance) or amount (Deribit) of the order probes.
    #[arg(long, default_value = "0.001")]
    qty: String,
    /// API key (order probes).
    #[arg(long)]
    api_key: Option<String>,
    /// API secret (order probes): signs Binance requests, authenticates on Deribit.
    #[arg(long)]
    api_secret: Option<String>,
    /// Interval of the interval log, ms.
    #[arg(long, default_value_t = 1_000)]
    interval_ms: u64,
    /// Directory for .hgrm files, the interval log, the JSON summary and the SVG plot.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// Baseline summary (summary.json of an earlier run).
    a: PathBuf,
    /// Summary compared with the baseline.
    b: PathBuf,
    /// Flag B when worse than A by more than this (`10%` or `0.1`).
    #[arg(long, default_value = "10%")]
    threshold: String,
    /// Percentiles compared (comma-separated: p50,p90,p99,p99.9,p99.99,max).
    #[arg(long, default_value = "p50,p99")]
    metrics: String,
    /// Series with fewer samples than this (in either run) are not compared.
    #[arg(long, default_value_t = 100)]
    min_count: u64,
}

/// Runs `ballast bench ...`.
///
/// # Errors
/// Bad flags or inputs, unwritable outputs, a failed venue connection, or (compare) a regression.
pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    match a.cmd {
        BenchCmd::Cores(a) => cores(a),
        BenchCmd::Pipeline(a) => pipeline(a),
        BenchCmd::Venue(a) => venue_bench(a),
        BenchCmd::Compare(a) => compare_cmd(a),
    }
}

fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

fn bar(len: u64, what: &str) -> ProgressBar {
    if !interactive() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:<28} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_owned());
    pb
}

fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn prepare_out(out: Option<&Path>) -> anyhow::Result<()> {
    if let Some(d) = out {
        std::fs::create_dir_all(d)
            .with_context(|| format!("cannot create --out {}", d.display()))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// cores

fn cores(a: CoresArgs) -> anyhow::Result<()> {
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

// ---------------------------------------------------------------------------------------------
// pipeline

fn load_config(path: Option<&Path>) -> anyhow::Result<Resolved> {
    let cfg = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read --config {}", p.display()))?;
            Config::from_toml(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => Config::default(),
    };
    cfg.resolve().with_context(|| match path {
        Some(p) => format!("in {}", p.display()),
        None => "in the default configuration".to_string(),
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

fn pipeline(a: PipelineArgs) -> anyhow::Result<()> {
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
    let backpressure = match a.backpressure.as_str() {
        "block" => Backpressure::Block,
        "conflate" => Backpressure::Conflate,
        b => bail!("--backpressure `{b}`: expected `block` or `conflate`"),
    };
    let stall = match a.stall_ms {
        None => None,
        Some(ms) if ms.is_finite() && ms > 0.0 => Some((a.stall_at_tick.max(1), (ms * 1e6) as u64)),
        Some(ms) => bail!("--stall-ms {ms}: expected a positive number of milliseconds"),
    };
    let mut rings = Vec::new();
    for r in a.rings.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let Some(ring) = RingChoice::parse(r) else {
            bail!("--rings: unknown ring `{r}`: expected rtrb or crossbeam");
        };
        if !rings.contains(&ring) {
            rings.push(ring);
        }
    }
    if rings.is_empty() {
        bail!(
            "--rings `{}`: name at least one ring (rtrb, crossbeam)",
            a.rings
        );
    }
    let options_workload = match a.workload.as_str() {
        "vol-target" => false,
        "options" => true,
        w => bail!("--workload `{w}`: expected `vol-target` or `options`"),
    };
    if options_workload && !a.capture.is_empty() {
        bail!("--capture feeds the vol-target workload; --workload options runs a synthetic book");
    }
    if options_workload && !(1..=100_000).contains(&a.options) {
        bail!("--options {}: expected 1 to 100000 options", a.options);
    }
    if options_workload && (a.inject_delay_ns > 0 || a.stall_ms.is_some()) {
        bail!("--inject-delay-ns and --stall-ms wrap the vol-target sizer; not with --workload options");
    }
    let specs: Vec<String> = if a.topologies.is_empty() {
        vec![
            "single".into(),
            "feed@0,kernel+exec@1".into(),
            "feed,kernel,exec".into(),
        ]
    } else {
        a.topologies.clone()
    };
    let cores = available_cores();
    let mut cases = Vec::new();
    for s in &specs {
        let topology = match s.as_str() {
            "auto" => Topology::auto(&cores),
            t => Topology::parse(t).with_context(|| format!("--topology `{t}`"))?,
        };
        for &ring in &rings {
            let name = if rings == [RingChoice::Rtrb] {
                s.clone()
            } else {
                format!("{s}/{}", ring.name())
            };
            cases.push((
                PipelineCase {
                    name,
                    topology: topology.clone(),
                },
                ring,
            ));
        }
    }
    prepare_out(a.out.as_deref())?;
    let res = load_config(a.config.as_deref())?;
    let n = frames_needed(a.rate, a.duration);
    let market = options_workload.then(|| options_market(a.options, n, a.seed));
    let frames = if let Some(m) = &market {
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
    };
    let compression = time_compression(&frames, a.rate);
    let res = rescale_sampling(&res, compression);
    let clock = Clock::new();
    let started = SystemTime::now();
    let bench_t0 = std::time::Instant::now();
    // Floors measured in this run.
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
    let parse_h = match &market {
        Some(m) => parse_only_options(m, &clock),
        None => parse_only(&res, &frames, &clock),
    };
    floors.push(Floor {
        name: "parse_only".into(),
        median_ns: parse_h.value_at_percentile(50.0) as f64,
    });
    println!("== ballast bench pipeline ==");
    println!(
        "offered           {} frames/s for {} s ({} frames, {}), backpressure {}",
        a.rate,
        a.duration,
        frames.len(),
        if options_workload {
            "synthetic Deribit options market"
        } else if a.capture.is_empty() {
            "synthetic market"
        } else {
            "captured frames"
        },
        a.backpressure
    );
    if a.inject_delay_ns > 0 || stall.is_some() {
        println!(
            "injected          {} ns per sizer tick{}",
            a.inject_delay_ns,
            stall.map_or(String::new(), |(t, ns)| format!(
                ", one stall of {} at tick {t}",
                fmt_ns(ns)
            ))
        );
    }
    if let Some(m) = &market {
        println!(
            "workload          options: {} options on {} underlying(s), desired book on every \
             tenth; rings {}",
            m.underlyings.iter().map(|u| u.chain.len()).sum::<usize>(),
            m.underlyings.len(),
            a.rings
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
    for f in &floors {
        println!(
            "floor             {:<28} {}",
            f.name,
            fmt_ns(f.median_ns.round() as u64)
        );
    }
    let bench = PipelineBench {
        rate_per_s: a.rate,
        backpressure,
        interval_ns: a.interval_ms.max(1) * 1_000_000,
        inject: Injection {
            per_tick_ns: a.inject_delay_ns,
            stall,
        },
    };
    let mut results = Vec::new();
    let mut case_starts = Vec::new();
    for (case, ring) in &cases {
        let source = RateSource::new(frames.clone(), a.rate, frames.len());
        let counter = source.progress();
        let total = source.len() as u64;
        let pb = bar(total, &case.name);
        let done = AtomicBool::new(false);
        case_starts.push(bench_t0.elapsed());
        let r = std::thread::scope(|s| {
            s.spawn(|| {
                // Acquire: pairs with the Release store below, after the run.
                while !done.load(Ordering::Acquire) {
                    pb.set_position(counter.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            let r = match &market {
                Some(m) => run_options_case(&bench, case, *ring, m, compression, source, &clock)
                    .context("options workload"),
                None => run_case_on(&res, &bench, case, *ring, source, &clock)
                    .context("vol-target workload"),
            };
            // Release: pairs with the progress thread's Acquire load.
            done.store(true, Ordering::Release);
            r
        })?;
        pb.finish_and_clear();
        results.push(r);
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
    let c2c_one_way = floors
        .iter()
        .find(|f| f.name == "c2c_one_way")
        .map(|f| f.median_ns);
    let parse_floor = parse_h.value_at_percentile(50.0) as f64;
    let mut configs = Vec::new();
    for r in &results {
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
        if !rep.latency.get(Hop::Parse).is_empty() && parse_floor > 0.0 {
            println!(
                "vs floors         parse p50 = {:.2}× parse-only",
                p50(Hop::Parse) / parse_floor
            );
        }
        if let Some(f) = c2c_one_way.filter(|_| rep.topology.threads.len() > 1) {
            println!(
                "vs floors         feed_to_kernel p50 = {:.2}× the core-to-core one-way floor",
                p50(Hop::FeedToKernel) / f.max(1.0)
            );
        }
        let t2o = rep.latency.get(Hop::TickToOrderCorrected);
        if !t2o.is_empty() {
            let q = |p: f64| t2o.value_at_percentile(p);
            let floor = match (c2c_before, c2c_after) {
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
        configs.push(ConfigSummary {
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
        });
    }
    let summary = Summary {
        version: SUMMARY_VERSION,
        bench: "pipeline".into(),
        started_unix_s: unix_now_s(),
        cores,
        floors,
        configs,
    };
    let Some(dir) = &a.out else { return Ok(()) };
    write_hgrm(dir, "floor.parse_only", &parse_h)?;
    let mut intervals = Vec::new();
    let mut overview = Vec::new();
    for (r, start) in results.iter().zip(&case_starts) {
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
                start: *start + Duration::from_nanos(bench.interval_ns * i as u64),
                length: Duration::from_nanos(bench.interval_ns),
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
    write_summary(&dir.join("summary.json"), &summary)?;
    println!();
    println!("wrote {}", dir.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// venue

fn venue_bench(a: VenueArgs) -> anyhow::Result<()> {
    let Some(probe) = Probe::parse(&a.probe) else {
        bail!(
            "--probe `{}`: expected ping, deribit-test, binance-ping, binance-order or deribit-order",
            a.probe
        );
    };
    if a.count == 0 {
        bail!("--count must be positive");
    }
    prepare_out(a.out.as_deref())?;
    let cfg = VenueBench {
        url: a.url.clone(),
        probe,
        count: a.count,
        warmup: a.warmup,
        rate_per_s: a.rate,
        timeout: Duration::from_millis(a.timeout_ms.max(1)),
        symbol: a.symbol.clone(),
        price: a.price.clone(),
        qty: a.qty.clone(),
        api_key: a.api_key.clone(),
        api_secret: a.api_secret.clone(),
        interval: Duration::from_millis(a.interval_ms.max(1)),
    };
    let clock = Clock::new();
    let started = SystemTime::now();
    let pb = bar(a.warmup + a.count, probe.name());
    let r = venue::run(&cfg, &clock, &mut |d, _| pb.set_position(d))?;
    pb.finish_and_clear();
    let secs = r.elapsed_ns as f64 / 1e9;
    println!(
        "== ballast bench venue: {} against {} ==",
        probe.name(),
        a.url
    );
    println!(
        "requests          {} sent ({} warm-up), {} answered, {} errors, {} timed out",
        r.sent, a.warmup, r.received, r.rejected, r.timeouts
    );
    println!(
        "rate              {:.0} requests/s achieved of {} scheduled",
        a.count as f64 / secs.max(1e-9),
        a.rate
    );
    if let Some(e) = &r.first_error {
        println!("first error       {e}");
    }
    let rtt_name = format!("{}_rtt", probe.name());
    let co_name = format!("{}_rtt_co", probe.name());
    let series = vec![
        SeriesSummary::of(&rtt_name, &r.rtt),
        SeriesSummary::of(&co_name, &r.rtt_co),
    ];
    print!("{}", series_table(&series));
    let Some(dir) = &a.out else { return Ok(()) };
    write_hgrm(dir, &rtt_name, &r.rtt)?;
    write_hgrm(dir, &co_name, &r.rtt_co)?;
    let intervals: Vec<Interval<'_>> = r
        .intervals
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.is_empty())
        .map(|(i, h)| Interval {
            tag: &co_name,
            start: cfg.interval * u32::try_from(i).unwrap_or(u32::MAX),
            length: cfg.interval,
            hist: h,
        })
        .collect();
    write_interval_log(
        &dir.join("venue.hlog"),
        started,
        &format!(
            "ballast bench venue: {} corrected round trip per interval",
            probe.name()
        ),
        &intervals,
    )?;
    let summary = Summary {
        version: SUMMARY_VERSION,
        bench: "venue".into(),
        started_unix_s: unix_now_s(),
        cores: available_cores(),
        floors: vec![],
        configs: vec![ConfigSummary {
            name: probe.name().into(),
            detail: a.url.clone(),
            offered_per_s: a.rate,
            achieved_per_s: a.count as f64 / secs.max(1e-9),
            offered: r.sent,
            completed: r.received,
            dropped: r.timeouts,
            elapsed_s: secs,
            warnings: vec![],
            series,
        }],
    };
    write_summary(&dir.join("summary.json"), &summary)?;
    plot::percentiles(
        &dir.join("venue.svg"),
        &format!("{} round trip by percentile", probe.name()),
        &[(rtt_name.clone(), &r.rtt), (co_name.clone(), &r.rtt_co)],
    )?;
    println!("wrote {}", dir.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// compare

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

fn compare_cmd(a: CompareArgs) -> anyhow::Result<()> {
    let threshold = parse_threshold(&a.threshold)?;
    let mut metrics = Vec::new();
    for m in a
        .metrics
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        metrics.push(Metric::parse(m).with_context(|| {
            format!("--metrics: unknown `{m}` (expected p50, p90, p99, p99.9, p99.99 or max)")
        })?);
    }
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
    let rows = compare(&sa, &sb, &metrics, threshold, a.min_count);
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

// ---------------------------------------------------------------------------------------------
// plots

mod plot {
    use std::path::Path;

    use anyhow::Context as _;
    use hdrhistogram::Histogram;
    use plotters::prelude::*;

    /// Points of a percentile distribution: x = nines (−log10(1 − q)), y = latency in µs.
    fn points(h: &Histogram<u64>, max_nines: f64) -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        if h.is_empty() {
            return pts;
        }
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            let x = if q >= 1.0 {
                max_nines
            } else {
                (-(1.0 - q).log10()).min(max_nines)
            };
            pts.push((x, (v.value_iterated_to() as f64 / 1e3).max(1e-3)));
        }
        pts
    }

    fn label(x: f64) -> String {
        let p = 100.0 * (1.0 - 10f64.powf(-x));
        let mut s = format!("{p:.4}");
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
        format!("{s}%")
    }

    /// Draws latency by percentile on a log "nines" axis, one line per series, as SVG.
    pub fn percentiles(
        path: &Path,
        title: &str,
        series: &[(String, &Histogram<u64>)],
    ) -> anyhow::Result<()> {
        let max_count = series
            .iter()
            .map(|(_, h)| h.len())
            .max()
            .unwrap_or(1)
            .max(10);
        let max_nines = (max_count as f64).log10().ceil().clamp(1.0, 7.0);
        let lines: Vec<(&str, Vec<(f64, f64)>)> = series
            .iter()
            .map(|(n, h)| (n.as_str(), points(h, max_nines)))
            .filter(|(_, p)| !p.is_empty())
            .collect();
        let (mut lo, mut hi) = (f64::INFINITY, 0f64);
        for (_, p) in &lines {
            for &(_, y) in p {
                lo = lo.min(y);
                hi = hi.max(y);
            }
        }
        if !lo.is_finite() {
            (lo, hi) = (0.001, 1.0);
        }
        let (lo, hi) = (lo / 1.5, hi * 1.5);
        let root = SVGBackend::new(path, (1000, 620)).into_drawing_area();
        let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 22))
                .margin(16)
                .x_label_area_size(44)
                .y_label_area_size(72)
                .build_cartesian_2d(0f64..max_nines, (lo..hi).log_scale())?;
            chart
                .configure_mesh()
                .x_labels(max_nines as usize + 1)
                .x_label_formatter(&|x| label(*x))
                .y_label_formatter(&|y| {
                    if *y >= 1.0 {
                        format!("{y:.0}")
                    } else {
                        format!("{y:.3}")
                    }
                })
                .x_desc("percentile")
                .y_desc("latency (µs)")
                .draw()?;
            for (i, (name, pts)) in lines.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                    .label(*name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
            root.present()?;
            Ok(())
        };
        draw()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("drawing {}", path.display()))
    }
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

    #[test]
    fn plot_writes_an_svg_with_one_line_per_series() {
        let mut a = engine::latency::new_histogram();
        let mut b = engine::latency::new_histogram();
        for v in 1..=10_000u64 {
            a.record(v * 10).unwrap();
            b.record(v * 30).unwrap();
        }
        let p = std::env::temp_dir().join(format!("ballast-plot-{}.svg", std::process::id()));
        plot::percentiles(&p, "t", &[("a".into(), &a), ("b".into(), &b)]).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(
            svg.matches(r#"stroke-width="2" points="#).count(),
            2,
            "one data line per series"
        );
        assert!(
            svg.contains(">\na\n<") && svg.contains(">\nb\n<"),
            "legend names each series"
        );
        assert!(svg.contains("99.99%"));
        let _ = std::fs::remove_file(&p);
    }
}
