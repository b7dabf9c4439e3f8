//! `ballast bench venue`: websocket or order round trips against a venue or the simulator.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::bail;
use engine::clock::Clock;
use engine::topology::available_cores;
use lab::report::{
    series_table, write_hgrm, write_interval_log, write_summary, ConfigSummary, Interval,
    SeriesSummary, Summary, SUMMARY_VERSION,
};
use lab::venue::{self, Probe, VenueBench};

use super::{bar, plot, prepare_out, unix_now_s};

#[derive(Debug, clap::Args)]
pub(super) struct VenueArgs {
    /// Websocket URL, e.g. ws://127.0.0.1:9000/ws/api/v2 (Deribit) or .../ws-api/v3 (Binance).
    #[arg(long)]
    url: String,
    /// What each request is.
    #[arg(long, value_enum, default_value_t = Probe::Ping)]
    probe: Probe,
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

/// Runs `ballast bench venue`.
pub(super) fn run(a: VenueArgs) -> anyhow::Result<()> {
    let probe = a.probe;
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
