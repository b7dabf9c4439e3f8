//! `ballast venue-sim`: the local venue simulator (Binance or Deribit protocols on 127.0.0.1).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use synth::SynthConfig;
use venue_sim::{self, SimConfig, SimSource, Venue};

/// Serve a venue's real protocols on loopback from captures or a synthetic market: market data
/// over websocket, REST snapshots / `get_instruments`, orders with acks, rejects and fills, and
/// faults injected on command (`POST /sim/fault?kind=disconnect|stall&ms=N|malformed&n=N|skip|
/// delay_acks&ms=N|lose_acks&n=N`; `GET /sim/record`; `POST /sim/stop`).
#[derive(Debug, clap::Args)]
pub struct VenueSimArgs {
    /// Listen address; loopback only (`127.0.0.1:PORT`, port 0 picks one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Protocols to speak (any case).
    #[arg(long, value_enum, ignore_case = true)]
    venue: Venue,
    /// Capture files to serve, in order (Ballast/hftbacktest lines, plain or gzip, or cryptofeed
    /// `.jsonl[.zst]`).
    #[arg(long, num_args = 1.., conflicts_with = "synthetic")]
    capture: Vec<PathBuf>,
    /// Serve a seeded synthetic market instead of captures.
    #[arg(long)]
    synthetic: bool,
    /// Synthetic market: steps (one book update each).
    #[arg(long, default_value_t = 100_000)]
    steps: u32,
    /// Synthetic market: RNG seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Pace: `max` or a factor of the recorded pace (`1` = recorded, `10` = ten times faster).
    #[arg(long, default_value = "1")]
    speed: String,
    /// Start market data at once instead of at the first subscription.
    #[arg(long)]
    start_now: bool,
    /// API key the order protocol must present (Binance `apiKey`, Deribit `client_id`).
    #[arg(long)]
    api_key: Option<String>,
    /// Name of an environment variable holding the shared secret that orders must be signed
    /// with (Binance HMAC-SHA256) or authenticate with (Deribit `client_secret`). Secrets are
    /// never taken on the command line.
    #[arg(long)]
    secret_env: Option<String>,
}

/// Runs the simulator until `POST /sim/stop` (or the process is killed).
///
/// # Errors
/// A non-loopback or malformed listen address, an unknown venue, no source, a bad speed, an
/// unreadable capture, a missing secret variable, or a failed bind.
pub fn run(a: VenueSimArgs) -> anyhow::Result<()> {
    let listen: SocketAddr = a
        .listen
        .parse()
        .with_context(|| format!("--listen `{}` is not IP:PORT", a.listen))?;
    if !listen.ip().is_loopback() {
        bail!("--listen {listen}: the venue simulator listens on loopback only (127.0.0.1)");
    }
    let source = match (a.capture.is_empty(), a.synthetic) {
        (false, false) => {
            for f in &a.capture {
                std::fs::metadata(f)
                    .with_context(|| format!("cannot read capture {}", f.display()))?;
            }
            SimSource::Capture(a.capture.clone())
        }
        (true, true) => SimSource::Synthetic(SynthConfig {
            seed: a.seed,
            steps: a.steps,
            ..SynthConfig::default()
        }),
        _ => bail!("give either --capture FILE... or --synthetic"),
    };
    let speed = match a.speed.as_str() {
        "max" => 0.0,
        s => match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => v,
            _ => bail!("--speed `{s}`: expected `max` or a positive factor"),
        },
    };
    let mut cfg = SimConfig::new(a.venue, source);
    cfg.listen = listen;
    cfg.speed = speed;
    cfg.start_on_subscribe = !a.start_now;
    cfg.api_key = a.api_key.clone();
    if let Some(var) = &a.secret_env {
        let v = std::env::var(var)
            .with_context(|| format!("--secret-env: environment variable {var} is not set"))?;
        if v.is_empty() {
            bail!("--secret-env: environment variable {var} is empty");
        }
        cfg.api_secret = Some(v);
    }
    let sim = venue_sim::start(cfg).context("cannot start the venue simulator")?;
    println!("venue-sim {} listening on {}", a.venue.name(), sim.addr());
    use std::io::Write as _;
    std::io::stdout().flush().ok();
    while !sim.stopping() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let rec = sim.record();
    sim.stop();
    println!(
        "venue-sim stopped: {} orders, {} acks, {} rejects, {} fills, {} faults",
        rec.orders.len(),
        rec.acks.len(),
        rec.rejects.len(),
        rec.fills.len(),
        rec.faults.len()
    );
    Ok(())
}
