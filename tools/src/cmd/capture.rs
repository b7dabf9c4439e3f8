//! `ballast capture`: record every raw frame of a live connection (with its receive time) in the
//! capture line format. Crash-safe: lines are flushed at least every 100 ms and on SIGINT/SIGTERM;
//! a capture cut by `kill -9` replays up to its last complete line.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use engine::clock::Clock;
use feeds::capture_writer::{CaptureWriter, CaptureWriterConfig, Compression, Rotation};
use feeds::deribit::{DeribitFeed, DERIBIT_SCALE};
use feeds::multi::Venue;
use feeds::{BinanceFeed, Market, Registry};
use venues::live::capture::run_capture;
use venues::live::{
    Link, LiveConfig, LiveFeed, LiveSource, StreamSpec, SupervisorConfig, VenueKind,
};

/// `ballast capture` arguments.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Venue whose protocol the connection speaks.
    #[arg(long, value_enum)]
    pub venue: Venue,
    /// Websocket URL: Binance host base (`ws://127.0.0.1:9000`, the combined-stream path is
    /// added), Deribit full URL (`ws://127.0.0.1:9000/ws/api/v2`).
    #[arg(long)]
    pub url: String,
    /// Channels, comma-separated or repeated: Binance `btcusdt@depth@100ms,btcusdt@trade`;
    /// Deribit `book.BTC-PERPETUAL.100ms,ticker.BTC-PERPETUAL.100ms`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub subscribe: Vec<String>,
    /// Output file (with rotation: the base name, files get `.00000`, `.00001`, …).
    #[arg(long)]
    pub out: PathBuf,
    /// Binance REST base for depth snapshots (default: the websocket host over http).
    #[arg(long)]
    pub rest: Option<String>,
    /// Binance market: `spot` (REST `/api/v3/depth`) or `usdm` (`/fapi/v1/depth`).
    #[arg(long, value_enum, default_value_t = Market::BinanceSpot)]
    pub market: Market,
    /// Compression of the capture files.
    #[arg(long, value_enum, default_value_t = Compression::None)]
    pub compress: Compression,
    /// Start a new file after this many MiB.
    #[arg(long)]
    pub rotate_mb: Option<u64>,
    /// Start a new file after this many seconds.
    #[arg(long)]
    pub rotate_s: Option<u64>,
    /// Stop after this many seconds (default: until SIGINT/SIGTERM).
    #[arg(long)]
    pub duration_s: Option<f64>,
}

/// Builds the live configuration of one connection from channel names.
///
/// # Errors
/// A Binance market other than spot or USD-M, or a channel name without a symbol.
pub fn live_config(
    venue: Venue,
    url: &str,
    channels: &[String],
    rest: Option<&str>,
    market: Market,
    reg: &mut Registry,
    stale_ms: u64,
) -> anyhow::Result<LiveConfig> {
    let mut streams: Vec<StreamSpec> = Vec::new();
    let (kind, mkt, scale) = match venue {
        Venue::Binance => {
            let path = match market {
                Market::BinanceSpot => "/api/v3/depth",
                Market::BinanceUsdM => "/fapi/v1/depth",
                other => bail!("--market `{}`: expected spot or usdm", other.name()),
            };
            let rest_base = rest.map_or_else(
                || {
                    url.replacen("wss://", "https://", 1)
                        .replacen("ws://", "http://", 1)
                },
                str::to_owned,
            );
            (
                VenueKind::Binance {
                    rest_base: rest_base.trim_end_matches('/').to_owned(),
                    depth_path: path.into(),
                },
                market,
                8,
            )
        }
        Venue::Deribit => (
            VenueKind::Deribit { heartbeat_s: 10 },
            Market::Deribit,
            DERIBIT_SCALE,
        ),
    };
    for ch in channels {
        let symbol = match &kind {
            VenueKind::Binance { .. } => ch.split('@').next().unwrap_or("").to_ascii_uppercase(),
            VenueKind::Deribit { .. } => ch.split('.').nth(1).unwrap_or("").to_owned(),
        };
        if symbol.is_empty() {
            bail!("channel `{ch}`: no instrument in it");
        }
        let id = reg
            .id(&symbol)
            .unwrap_or_else(|| reg.register(&symbol, mkt, scale, scale));
        match streams.iter_mut().find(|s| s.instrument == id.0) {
            Some(s) => s.channels.push(ch.clone()),
            None => streams.push(StreamSpec {
                instrument: id.0,
                symbol,
                channels: vec![ch.clone()],
                stale_ms,
            }),
        }
    }
    Ok(LiveConfig {
        url: url.trim_end_matches('/').to_owned(),
        venue: kind,
        streams,
        supervisor: SupervisorConfig::default(),
    })
}

/// Runs `ballast capture`.
///
/// # Errors
/// Bad arguments, an unwritable output, a write error.
pub fn run(a: CaptureArgs) -> anyhow::Result<()> {
    let mut reg = Registry::new();
    let cfg = live_config(
        a.venue,
        &a.url,
        &a.subscribe,
        a.rest.as_deref(),
        a.market,
        &mut reg,
        0,
    )?;
    let mut wc = CaptureWriterConfig::new(&a.out);
    wc.compression = a.compress;
    wc.rotation = Rotation {
        max_bytes: a.rotate_mb.map(|m| m << 20),
        max_age: a.rotate_s.map(Duration::from_secs),
    };
    let mut writer =
        CaptureWriter::create(wc).with_context(|| format!("creating {}", a.out.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    if let Some(d) = a.duration_s {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(d.max(0.0)));
            // Release: pairs with the Acquire load in the capture loop.
            stop.store(true, Ordering::Release);
        });
    }
    let link = Arc::new(Link::new(reg.len()));
    let has_book: Vec<bool> = {
        let mut v = vec![false; reg.len()];
        for s in &cfg.streams {
            v[s.instrument as usize] = s.has_book();
        }
        v
    };
    let mut source = LiveSource::new(cfg, Arc::clone(&link), Clock::new());
    let counters = source.counters();
    let stats = match a.venue {
        Venue::Binance => {
            let mut feed = LiveFeed::new(BinanceFeed::new(reg), link, has_book, None);
            run_capture(&mut source, &mut feed, &mut writer, &stop, &mut |_| {})
        }
        Venue::Deribit => {
            let mut feed = LiveFeed::new(DeribitFeed::new(reg), link, has_book, None);
            run_capture(&mut source, &mut feed, &mut writer, &stop, &mut |_| {})
        }
    };
    let paths = writer.finish().context("finishing the capture")?;
    let stats = stats.context("capture")?;
    let c = counters.snapshot();
    eprintln!(
        "captured {} frames and {} snapshots into {} file(s); connects {}, disconnects {}, resyncs {}",
        stats.frames,
        stats.snapshots,
        paths.len(),
        c.connects,
        c.disconnects,
        c.resyncs
    );
    Ok(())
}
