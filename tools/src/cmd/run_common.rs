//! What `demo` and `replay` share: building the pipeline from a resolved configuration, writing the
//! orders CSV and histogram files, and printing the summary.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;

use anyhow::{bail, Context};
use config::session::run_session;
use config::{Config, Resolved};
use engine::clock::Clock;
use engine::latency::{percentile_distribution, table, HOPS};
use engine::pipeline::{RunReport, Speed};
use engine::source::FrameSource;
use engine::topology::Topology;
use feeds::registry::POW10;
use feeds::{InstrumentId, Registry};

/// Reads `--config` into typed settings; errors name the file, then the key, line and column.
pub fn read_config(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --config {}", path.display()))?;
    Config::from_toml(&text).with_context(|| path.display().to_string())
}

/// Reads and checks `--config` (the defaults when absent); errors name the file and the key.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Resolved> {
    let cfg = match path {
        Some(p) => read_config(p)?,
        None => Config::default(),
    };
    cfg.resolve().with_context(|| match path {
        Some(p) => p.display().to_string(),
        None => "the default configuration".to_string(),
    })
}

/// Parses `--speed`: `max`, `realtime` or a positive factor.
pub fn parse_speed(s: &str) -> anyhow::Result<Speed> {
    match s {
        "max" => Ok(Speed::Max),
        "realtime" => Ok(Speed::Factor(1.0)),
        f => match f.parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Factor(x)),
            _ => bail!("--speed `{f}`: expected `max`, `realtime` or a positive factor such as 10"),
        },
    }
}

/// Result of one run plus what is needed to print it.
pub struct Outcome {
    pub report: RunReport,
    pub registry: Registry,
    pub id: InstrumentId,
    pub position_qty: f64,
    pub pnl: f64,
    pub vol_forecast: Option<f64>,
    pub last_mid_px: Option<f64>,
}

/// Runs `source` through the pipeline under `res` (topology overridden by `topology` if given).
pub fn execute<S: FrameSource>(
    res: &Resolved,
    topology: Option<&Topology>,
    speed: Speed,
    source: S,
    clock: &Clock,
) -> anyhow::Result<Outcome> {
    let mut pcfg = res.pipeline.clone();
    if let Some(t) = topology {
        pcfg.topology = t.clone();
    }
    pcfg.speed = speed;
    let config::session::Session {
        report,
        registry,
        id,
    } = run_session(res, &pcfg, source, clock)?;
    let inst = registry
        .get(id)
        .context("instrument registered above")?
        .clone();
    let res_i = report.instruments.iter().find(|r| r.id == id).copied();
    let position_qty = inst.qty_f64(res_i.map_or(0, |r| r.position));
    let pnl = res_i.map_or(0.0, |r| r.pnl);
    let last_mid_px = res_i.and_then(|r| r.last_mid_px);
    let vol_forecast = report.orders.last().map(|o| o.vol_forecast);
    Ok(Outcome {
        report,
        registry,
        id,
        position_qty,
        pnl,
        vol_forecast,
        last_mid_px,
    })
}

/// Writes every order (with its execution report) as CSV.
pub fn write_orders(path: &Path, o: &Outcome) -> anyhow::Result<()> {
    let file = File::create(path)
        .with_context(|| format!("cannot create --orders-out {}", path.display()))?;
    let mut w = BufWriter::new(file);
    config::session::write_orders_csv(&mut w, &o.registry, &o.report)
        .and_then(|()| w.flush())
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes one `.hgrm` file per non-empty hop into `dir` (created if missing).
pub fn write_hgrm(dir: &Path, report: &RunReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create --hgrm-out {}", dir.display()))?;
    for hop in HOPS {
        let h = report.latency.get(hop);
        if h.is_empty() {
            continue;
        }
        let path = dir.join(format!("{}.hgrm", hop.name()));
        std::fs::write(&path, percentile_distribution(h, 1000.0))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Prints a run summary's first lines: the title, the topology and its warnings, the frames and
/// their rate.
pub fn print_run_header(title: &str, r: &RunReport) {
    let secs = r.elapsed_ns as f64 / 1e9;
    println!("== {title} ==");
    println!("topology          {}", r.topology);
    for w in &r.warnings {
        println!("warning           {w}");
    }
    println!(
        "frames            {} in {:.3} s ({:.0} frames/s)",
        r.feed.frames,
        secs,
        r.feed.frames as f64 / secs.max(1e-9)
    );
}

/// Prints the summary and latency table.
pub fn print_summary(title: &str, o: &Outcome, clock: &Clock) {
    let r = &o.report;
    print_run_header(title, r);
    println!(
        "events            {} to the kernel ({} bbo, {} trades), {} conflated",
        r.feed.events, r.kernel.bbo, r.kernel.trades, r.feed.conflated
    );
    println!(
        "book              {} diffs applied, {} stale dropped, {} gaps, {} resyncs, {} snapshots",
        r.feed.adapter.diffs_applied,
        r.feed.adapter.diffs_dropped_stale,
        r.feed.adapter.gaps,
        r.feed.adapter.resyncs,
        r.feed.adapter.snapshots
    );
    println!(
        "bad input         {} malformed lines, {} rejected frames, {} ignored frames",
        r.feed.malformed_lines, r.feed.rejected, r.feed.adapter.ignored
    );
    println!(
        "kernel            {} decisions, {} ticks skipped on an invalid book, {} crossed, {} below min size",
        r.kernel.decisions, r.kernel.skipped_invalid, r.kernel.skipped_crossed, r.kernel.below_min
    );
    let inst = o.registry.get(o.id);
    let qs = inst.map_or(8, |i| i.qty_scale);
    let filled = r.adapter.filled_qty as f64 / POW10[qs as usize] as f64;
    let cancelled = r.adapter.cancelled_qty as f64 / POW10[qs as usize] as f64;
    println!(
        "orders            {} ({} fills, {filled} filled, {cancelled} cancelled at the touch)",
        r.orders.len(),
        r.fills.iter().filter(|f| f.qty > 0).count()
    );
    let mut by_binding = std::collections::BTreeMap::new();
    for ord in &r.orders {
        *by_binding
            .entry((ord.reason.as_str(), ord.binding.as_str()))
            .or_insert(0u64) += 1;
    }
    for ((reason, binding), n) in by_binding {
        println!("  reason {reason:<12} bound by {binding:<16} {n}");
    }
    println!(
        "final position    {} {} (mid {})",
        o.position_qty,
        inst.map_or("", |i| i.symbol.as_str()),
        o.last_mid_px.map_or("-".to_string(), |m| format!("{m:.2}"))
    );
    println!(
        "pnl               {:.2} (quote, marked to the last mid)",
        o.pnl
    );
    if let Some(v) = o.vol_forecast {
        println!(
            "vol forecast      {:.1} % annualized at the last order",
            v * 100.0
        );
    }
    if let Some(e) = &r.source_error {
        println!("source error      {e}");
    }
    let cost = clock.measure_cost(200_000);
    println!(
        "clock             TSC via quanta {:.1} ns/read (Instant::now {:.1} ns/read)",
        cost.raw_ns, cost.instant_ns
    );
    println!();
    print!("{}", table(&r.latency));
}

/// Merged inputs as one pipeline frame source: each frame tagged with its input
/// ([`feeds::multi::tag_frame`]) for a [`feeds::multi::MultiAdapter`] (the portfolio and options
/// replays). Errors name the inputs by `label`.
pub struct TaggedSource {
    frames: feeds::multi::MergedFrames,
    buf: Vec<u8>,
    label: &'static str,
}

impl TaggedSource {
    /// The merged `frames`, errors labelled `label`.
    #[must_use]
    pub fn new(frames: feeds::multi::MergedFrames, label: &'static str) -> Self {
        Self {
            frames,
            buf: Vec::with_capacity(1 << 16),
            label,
        }
    }
}

impl FrameSource for TaggedSource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, engine::source::SourceError> {
        let err = |message: String| engine::source::SourceError {
            path: std::path::PathBuf::from(self.label),
            message,
        };
        let Some((input, ns, frame)) = self
            .frames
            .next_frame()
            .map_err(|e| err(format!("{e:#}")))?
        else {
            return Ok(None);
        };
        feeds::multi::tag_frame(&mut self.buf, input, frame)
            .ok_or_else(|| err(format!("input {input}: at most 256 inputs")))?;
        Ok(Some((ns, &self.buf)))
    }

    fn malformed(&self) -> u64 {
        self.frames.malformed_count()
    }
}
