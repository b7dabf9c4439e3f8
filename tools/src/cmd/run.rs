//! `ballast run --config FILE.toml`: live mode. One venue connection (`[live]`: Binance combined
//! streams or Deribit JSON-RPC), the sized instrument (`[instrument]`), volatility-targeted sizing
//! (`[sizing]`), the pre-trade risk gate (`[risk]`) and the execution adapter (`paper` by default,
//! the Binance WebSocket API or Deribit JSON-RPC). Runs until SIGINT/SIGTERM or `live.duration_s`,
//! then prints what happened (and, with `--orders-out`, every order with its final report).

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use config::{BinanceAuthMode, Config, ExecAdapter, LiveSection, Resolved, RiskSection};

use crate::cmd::run_common::read_config;
use engine::clock::Clock;
use engine::exec::ExecutionAdapter;
use engine::kernel::{Kernel, PaperAdapter};
use engine::pipeline::{run_with, PipelineConfig, RunReport};
use engine::risk_gate::{Gated, InstrumentLimits, KillSwitch, RejectReason, RiskGate, RiskLimits};
use engine::sizer::{Sizer, Target, TickView, VolTargetSizer};
use feeds::decimal::parse_decimal;
use feeds::deribit::{instruments::parse_name, DeribitFeed, InstrumentKind, DERIBIT_SCALE};
use feeds::multi::Venue;
use feeds::{BinanceFeed, InstrumentId, Market, Marks, Registry, Side};
use venues::exec::binance::{BinanceAuth, BinanceExec, BinanceExecConfig};
use venues::exec::deribit::{DeribitExec, DeribitExecConfig};
use venues::exec::Credentials;
use venues::live::feed::LiveFeedStats;
use venues::live::{Link, LiveConfig, LiveCounters, LiveFeed, LiveSource, VenueFeed, VenueKind};

/// `ballast run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The run configuration (TOML; see `examples/run-venue-sim.toml` and
    /// `examples/run-venue-sim-deribit.toml`).
    #[arg(long)]
    pub config: PathBuf,
    /// Write every order with its final report as CSV (mantissas; `sent` says whether it left
    /// for the venue, `client_id` is how the venue knows it).
    #[arg(long)]
    pub orders_out: Option<PathBuf>,
}

fn limits(r: &RiskSection, res: &Resolved, n: usize) -> anyhow::Result<RiskLimits> {
    let qty = |field: &str, s: &str| -> anyhow::Result<i64> {
        parse_decimal(s.as_bytes(), res.qty_scale)
            .ok()
            .map(|d| d.mantissa)
            .filter(|m| *m > 0)
            .with_context(|| {
                format!(
                    "`risk.{field}` = {s:?}: expected a positive decimal with at most {} decimals",
                    res.qty_scale
                )
            })
    };
    let pos = |field: &str, v: f64| -> anyhow::Result<f64> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            bail!("`risk.{field}` = {v}: expected a finite number > 0")
        }
    };
    if !(r.price_band.is_finite() && r.price_band >= 0.0) {
        bail!(
            "`risk.price_band` = {}: expected a fraction >= 0",
            r.price_band
        );
    }
    // Only the sized instrument (id 0) may trade; the others (option tickers subscribed for
    // their marks) are rejected as unknown should an order ever name them.
    let mut instruments = vec![None; n.max(1)];
    instruments[0] = Some(InstrumentLimits {
        max_order_qty: qty("max_order_qty", &r.max_order_qty)?,
        max_notional: pos("max_notional", r.max_notional)?,
        max_position: qty("max_position", &r.max_position)?,
    });
    Ok(RiskLimits {
        instruments,
        max_orders_per_sec: pos("max_orders_per_sec", r.max_orders_per_sec)?,
        burst: pos("burst", r.burst)?.max(1.0),
        price_band: (r.price_band > 0.0).then_some(r.price_band),
    })
}

/// Volatility targeting of an instrument whose quantity is in quote units (Deribit's inverse
/// futures and perpetuals: the amount is USD). The model sizes in base units: positions go in
/// divided by the mid, the target comes out multiplied by it. Linear instruments pass through.
#[derive(Debug)]
struct RunSizer {
    inner: VolTargetSizer,
    quote_qty: bool,
}

impl Sizer for RunSizer {
    fn on_tick(&mut self, v: &TickView<'_>) -> Option<Target> {
        if !self.quote_qty {
            return self.inner.on_tick(v);
        }
        if !(v.mid_px.is_finite() && v.mid_px > 0.0) {
            return None;
        }
        let base = TickView {
            position_qty: v.position_qty / v.mid_px,
            working_qty: v.working_qty / v.mid_px,
            ..*v
        };
        let mut t = self.inner.on_tick(&base)?;
        t.qty *= v.mid_px;
        t.qty.is_finite().then_some(t)
    }
}

/// Whether `symbol` is a Deribit inverse contract (coin-settled future or perpetual: amounts in
/// USD). Linear `_USDC` contracts and options trade in base units.
fn deribit_inverse(symbol: &str) -> bool {
    parse_name(symbol).is_some_and(|i| {
        matches!(i.kind, InstrumentKind::Future | InstrumentKind::Perpetual)
            && !i.underlying.contains('_')
    })
}

/// The HTTP URL of Deribit's `public/get_instruments` (all currencies) on the host of the
/// JSON-RPC websocket `ws_url` (`wss://www.deribit.com/ws/api/v2` →
/// `https://www.deribit.com/api/v2/public/get_instruments?currency=any`).
fn instruments_url(ws_url: &str) -> anyhow::Result<String> {
    let (scheme, rest) = ws_url
        .split_once("://")
        .with_context(|| format!("`live.url` = {ws_url:?}: not a websocket URL"))?;
    let http = match scheme {
        "ws" => "http",
        "wss" => "https",
        _ => bail!("`live.url` = {ws_url:?}: expected ws:// or wss://"),
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    Ok(format!(
        "{http}://{authority}/api/v2/public/get_instruments?currency=any"
    ))
}

/// `instrument.lot` / `instrument.tick` against the venue's contract: the lot must be a whole
/// number of the venue's amount step (contract size for futures and perpetuals, minimum trade
/// amount for options), the tick (when given) the venue's tick size. Mantissas at
/// [`DERIBIT_SCALE`]. The error names the field and both values.
fn contract_mismatch(
    inst: &config::InstrumentConfig,
    venue: &feeds::deribit::DeribitInstrument,
) -> anyhow::Result<()> {
    let dec = |m: i64| {
        let mut v = Vec::new();
        feeds::write_decimal(&mut v, m, DERIBIT_SCALE, 0);
        String::from_utf8_lossy(&v).into_owned()
    };
    let lot = parse_decimal(inst.lot.as_bytes(), DERIBIT_SCALE)
        .ok()
        .map(|d| d.mantissa)
        .filter(|m| *m > 0)
        .with_context(|| format!("`instrument.lot` = {:?}: not a positive decimal", inst.lot))?;
    let (step, what) = if venue.kind == InstrumentKind::Option {
        (venue.min_trade_amount, "min_trade_amount")
    } else {
        (venue.contract_size, "contract_size")
    };
    if step > 0 && lot % step != 0 {
        bail!(
            "`instrument.lot` = {:?} disagrees with Deribit's {what} = {} for {}: the lot must be a whole number of contracts",
            inst.lot,
            dec(step),
            venue.name
        );
    }
    if let Some(t) = &inst.tick {
        let tick = parse_decimal(t.as_bytes(), DERIBIT_SCALE)
            .ok()
            .map(|d| d.mantissa)
            .filter(|m| *m > 0)
            .with_context(|| format!("`instrument.tick` = {t:?}: not a positive decimal"))?;
        if venue.tick_size > 0 && tick != venue.tick_size {
            bail!(
                "`instrument.tick` = {t:?} disagrees with Deribit's tick_size = {} for {}",
                dec(venue.tick_size),
                venue.name
            );
        }
    }
    Ok(())
}

/// Asks the venue (`public/get_instruments` on the host of `ws_url`) for the contract of
/// `inst.symbol` and refuses a configuration that disagrees with it ([`contract_mismatch`]).
fn check_deribit_contract(inst: &config::InstrumentConfig, ws_url: &str) -> anyhow::Result<()> {
    let url = instruments_url(ws_url)?;
    let body = net::ws::http_get(&url, Duration::from_secs(10))
        .with_context(|| format!("contract check: public/get_instruments ({url})"))?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .with_context(|| format!("contract check: {url}: not JSON"))?;
    let result = v
        .get("result")
        .with_context(|| format!("contract check: {url}: no `result` in the answer"))?;
    let list = feeds::deribit::instruments::parse_instruments(&result.to_string())
        .with_context(|| format!("contract check: {url}"))?;
    let venue = list
        .iter()
        .find(|i| i.name == inst.symbol)
        .with_context(|| {
            format!(
                "`instrument.symbol` = {:?}: not listed by Deribit's public/get_instruments",
                inst.symbol
            )
        })?;
    contract_mismatch(inst, venue)
}

/// Everything the run needs once the configuration is read.
struct Setup {
    pcfg: PipelineConfig,
    source: LiveSource,
    counters: Arc<LiveCounters>,
    link: Arc<Link>,
    marks: Marks,
    has_book: Vec<bool>,
    gate: RiskGate,
    reg: Registry,
    id: InstrumentId,
    kernel: Kernel<RunSizer>,
    clock: Clock,
    live: LiveSection,
    orders_out: Option<PathBuf>,
}

fn credentials(live: &LiveSection, adapter: &str) -> anyhow::Result<Credentials> {
    Ok(match (&live.credentials_env, &live.credentials_file) {
        (Some(p), None) => Credentials::from_env(p)?,
        (None, Some(f)) => Credentials::from_file(f)?,
        _ => bail!(
            "`live.credentials_env` or `live.credentials_file` (exactly one) is required by the {adapter} adapter"
        ),
    })
}

/// The live connection of `[live]`: its channels registered in `reg` beside the sized
/// instrument `id`, checked against `[instrument]`.
fn live_config_of(
    cfg: &Config,
    res: &Resolved,
    live: &LiveSection,
    reg: &mut Registry,
    id: InstrumentId,
) -> anyhow::Result<LiveConfig> {
    let mut lcfg = match live.venue {
        Venue::Binance => {
            if !matches!(res.market, Market::BinanceSpot | Market::BinanceUsdM) {
                bail!(
                    "`instrument.market` = {:?}: `live.venue` = \"binance\" sizes `spot` or `usdm` instruments",
                    res.market.name()
                );
            }
            let lcfg = super::capture::live_config(
                Venue::Binance,
                &live.url,
                &live.channels,
                live.rest.as_deref(),
                res.market,
                reg,
                live.stale_ms,
            )
            .context("`live.channels`")?;
            if reg.len() != 1 {
                bail!(
                    "`live.channels`: every channel must be of `instrument.symbol` = {}",
                    res.symbol
                );
            }
            lcfg
        }
        Venue::Deribit => {
            if res.market != Market::Deribit {
                bail!(
                    "`instrument.market` = {:?}: `live.venue` = \"deribit\" needs `deribit`",
                    res.market.name()
                );
            }
            if res.px_scale != DERIBIT_SCALE || res.qty_scale != DERIBIT_SCALE {
                bail!(
                    "`instrument.px_scale` / `instrument.qty_scale` = {} / {}: Deribit prices and amounts are read at {DERIBIT_SCALE} decimals",
                    res.px_scale,
                    res.qty_scale
                );
            }
            let mut lcfg = super::capture::live_config(
                Venue::Deribit,
                &live.url,
                &live.channels,
                None,
                res.market,
                reg,
                live.stale_ms,
            )
            .context("`live.channels`")?;
            if !lcfg.streams.iter().any(|s| s.instrument == id.0) {
                bail!(
                    "`live.channels`: no channel of `instrument.symbol` = {} (e.g. book.{}.100ms)",
                    res.symbol,
                    res.symbol
                );
            }
            check_deribit_contract(&cfg.instrument, &live.url)?;
            if let VenueKind::Deribit { heartbeat_s } = &mut lcfg.venue {
                *heartbeat_s = live.heartbeat_s;
            }
            lcfg
        }
    };
    lcfg.url = lcfg.url.trim_end_matches('/').to_owned();
    Ok(lcfg)
}

/// The risk gate of `[risk]` over the instruments of `reg`, and whether the sized instrument
/// `id` is quoted in quote currency (a Deribit inverse contract).
fn risk_gate(
    cfg: &Config,
    res: &Resolved,
    reg: &Registry,
    id: InstrumentId,
    marks: &Marks,
) -> anyhow::Result<(RiskGate, bool)> {
    let risk = cfg.risk.clone().unwrap_or_default();
    let limits = limits(&risk, res, reg.len())?;
    let mut kill = KillSwitch::new();
    if let Some(f) = &risk.kill_file {
        kill = kill.with_file(f.clone());
    }
    if risk.kill_signal {
        kill = kill
            .on_signal(signal_hook::consts::SIGUSR1)
            .context("SIGUSR1 handler")?;
    }
    let quote_qty = res.market == Market::Deribit && deribit_inverse(&res.symbol);
    let mut gate = RiskGate::new(reg.instruments(), limits, marks.clone(), kill);
    if quote_qty {
        gate = gate.with_quote_qty(id.0 as usize);
    }
    Ok((gate, quote_qty))
}

/// Stops `source` on SIGINT or SIGTERM, and after `duration_s` seconds when positive.
fn arm_stop(source: &LiveSource, duration_s: f64) -> anyhow::Result<()> {
    let stop = source.stop_flag();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    if duration_s > 0.0 {
        let stop = Arc::clone(&stop);
        let d = Duration::from_secs_f64(duration_s);
        std::thread::spawn(move || {
            std::thread::sleep(d);
            // Release: pairs with the source's Acquire load.
            stop.store(true, Ordering::Release);
        });
    }
    Ok(())
}

/// Runs `ballast run`.
///
/// # Errors
/// A bad configuration (naming the key), missing credentials, a venue that cannot be reached.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let cfg = read_config(&a.config)?;
    let res = cfg
        .resolve()
        .with_context(|| a.config.display().to_string())?;
    let live = cfg
        .live
        .clone()
        .with_context(|| format!("{}: a `[live]` section is required", a.config.display()))?;
    if live.channels.is_empty() {
        bail!("`live.channels`: at least one channel is required");
    }
    let mut reg = Registry::new();
    let id = reg.register(&res.symbol, res.market, res.px_scale, res.qty_scale);
    let lcfg = live_config_of(&cfg, &res, &live, &mut reg, id)?;
    let clock = Clock::new();
    let marks = Marks::new(reg.len());
    let (gate, quote_qty) = risk_gate(&cfg, &res, &reg, id, &marks)?;
    let link = Arc::new(Link::new(reg.len()));
    let mut has_book = vec![false; reg.len()];
    for s in &lcfg.streams {
        if let Some(b) = has_book.get_mut(s.instrument as usize) {
            *b = s.has_book();
        }
    }
    let source = LiveSource::new(lcfg, Arc::clone(&link), clock.clone());
    arm_stop(&source, live.duration_s)?;
    let counters = source.counters();
    let sizer = RunSizer {
        inner: VolTargetSizer::new(id, res.sizing).context("`sizing`: rejected")?,
        quote_qty,
    };
    let kernel = Kernel::new(&reg, res.kernel, sizer);
    let mut pcfg = res.pipeline.clone();
    pcfg.exec_sync = false;
    let setup = Setup {
        pcfg,
        source,
        counters,
        link,
        marks,
        has_book,
        gate,
        reg,
        id,
        kernel,
        clock,
        live,
        orders_out: a.orders_out,
    };
    if setup.live.venue == Venue::Deribit {
        let feed = DeribitFeed::new(setup.reg.clone());
        drive(setup, feed)
    } else {
        let mut feed = BinanceFeed::new(setup.reg.clone());
        feed.set_snapshot_target(id);
        drive(setup, feed)
    }
}

/// Runs the pipeline with the configured adapter behind the gate and prints the outcome.
fn drive<V: VenueFeed>(s: Setup, inner: V) -> anyhow::Result<()> {
    let Setup {
        pcfg,
        source,
        counters,
        link,
        marks,
        has_book,
        gate,
        reg,
        id,
        kernel,
        clock,
        live,
        orders_out,
    } = s;
    let mut feed = LiveFeed::new(inner, link, has_book, Some(marks));
    let prefix = format!("bl{}-", std::process::id());
    let exec_url = || -> anyhow::Result<String> {
        match (&live.exec_url, live.venue) {
            (Some(u), _) => Ok(u.clone()),
            (None, Venue::Deribit) => Ok(live.url.trim_end_matches('/').to_owned()),
            (None, Venue::Binance) => bail!("`live.exec_url` is required by the binance adapter"),
        }
    };
    match (live.adapter, live.venue) {
        (ExecAdapter::Paper, _) => {
            let adapter = Gated::new(gate, PaperAdapter::default());
            let r = run_with(&pcfg, source, &mut feed, kernel, adapter, &clock);
            let sent: Vec<u64> = Vec::new();
            let lf = feed.live_stats();
            finish(
                &r,
                &counters,
                lf,
                &reg,
                id,
                &sent,
                "",
                orders_out.as_deref(),
            )
        }
        (ExecAdapter::Binance, Venue::Binance) => {
            let creds = credentials(&live, "binance")?;
            let auth = match live.auth {
                BinanceAuthMode::Hmac => BinanceAuth::Hmac(creds),
                BinanceAuthMode::Logon => BinanceAuth::Ed25519Logon(creds),
            };
            let exec = BinanceExec::connect(
                BinanceExecConfig {
                    url: exec_url()?,
                    auth,
                    recv_window_ms: 5000,
                    ack_timeout_ms: 500,
                    connect_timeout_ms: 2000,
                    client_id_prefix: prefix.clone(),
                },
                reg.instruments(),
                clock.clone(),
            )
            .context("connecting the binance execution adapter")?;
            let r = run_with(
                &pcfg,
                source,
                &mut feed,
                kernel,
                Gated::new(gate, exec),
                &clock,
            );
            finish_live(
                &r,
                &counters,
                feed.live_stats(),
                &reg,
                id,
                &prefix,
                orders_out.as_deref(),
                &live,
            )
        }
        (ExecAdapter::Deribit, Venue::Deribit) => {
            let creds = credentials(&live, "deribit")?;
            let exec = DeribitExec::connect(
                DeribitExecConfig {
                    url: exec_url()?,
                    credentials: creds,
                    settle_timeout_ms: 500,
                    connect_timeout_ms: 2000,
                    label_prefix: prefix.clone(),
                },
                reg.instruments(),
                clock.clone(),
            )
            .context("connecting the deribit execution adapter")?;
            let r = run_with(
                &pcfg,
                source,
                &mut feed,
                kernel,
                Gated::new(gate, exec),
                &clock,
            );
            finish_live(
                &r,
                &counters,
                feed.live_stats(),
                &reg,
                id,
                &prefix,
                orders_out.as_deref(),
                &live,
            )
        }
        (ExecAdapter::Binance, Venue::Deribit) => {
            bail!("`live.adapter` = \"binance\" cannot trade on `live.venue` = \"deribit\"")
        }
        (ExecAdapter::Deribit, Venue::Binance) => {
            bail!("`live.adapter` = \"deribit\" cannot trade on `live.venue` = \"binance\"")
        }
    }
}

/// A venue execution adapter as `run` reports it: the engine ids it sent, and its counters.
trait LiveExec: ExecutionAdapter {
    fn sent_ids(&self) -> &[u64];
    fn summary(&self, live: &LiveSection) -> String;
}

impl LiveExec for BinanceExec {
    fn sent_ids(&self) -> &[u64] {
        BinanceExec::sent_ids(self)
    }
    fn summary(&self, live: &LiveSection) -> String {
        let st = self.stats();
        format!(
            "exec sent {} acks {} recovered {} rejects {} not_sent {} exec_connects {} logons {} logon_failures {} auth {}",
            st.sent, st.acks, st.recovered, st.rejects, st.not_sent, st.connects, st.logons,
            st.logon_failures, live.auth.as_str()
        )
    }
}

impl LiveExec for DeribitExec {
    fn sent_ids(&self) -> &[u64] {
        DeribitExec::sent_ids(self)
    }
    fn summary(&self, _live: &LiveSection) -> String {
        let st = self.stats();
        format!(
            "exec sent {} acks {} notifications {} from_trades {} rejects {} not_sent {} exec_connects {} auth_failures {}",
            st.sent, st.acks, st.from_notifications, st.from_trades, st.rejects, st.not_sent,
            st.connects, st.auth_failures
        )
    }
}

/// [`finish`] for a venue adapter, then its counters.
#[allow(clippy::too_many_arguments)] // the run's parts, each printed or written once
fn finish_live<A: LiveExec>(
    r: &RunReport<Gated<A>>,
    counters: &LiveCounters,
    feed: LiveFeedStats,
    reg: &Registry,
    id: InstrumentId,
    prefix: &str,
    orders_out: Option<&Path>,
    live: &LiveSection,
) -> anyhow::Result<()> {
    let x = r.adapter.inner();
    finish(r, counters, feed, reg, id, x.sent_ids(), prefix, orders_out)?;
    println!("{}", x.summary(live));
    Ok(())
}

/// Prints the summary and writes `--orders-out`.
#[allow(clippy::too_many_arguments)] // the run's parts, each printed or written once
fn finish<A: ExecutionAdapter>(
    r: &RunReport<Gated<A>>,
    counters: &LiveCounters,
    feed: LiveFeedStats,
    reg: &Registry,
    id: InstrumentId,
    sent_ids: &[u64],
    prefix: &str,
    orders_out: Option<&Path>,
) -> anyhow::Result<()> {
    let g = r.adapter.gate().stats();
    let filled: i64 = r.fills.iter().map(|f| f.qty).sum();
    println!(
        "orders {} fills {} filled_orders {} filled_qty_mantissa {}",
        r.orders.len(),
        r.fills.len(),
        r.fills.iter().filter(|f| f.qty > 0).count(),
        filled
    );
    println!(
        "position_mantissa {}",
        r.instruments
            .iter()
            .find(|i| i.id == id)
            .map_or(0, |i| i.position)
    );
    print!("gate passed {} rejected {}", g.passed, g.rejected_total());
    for reason in RejectReason::ALL {
        if g.rejected(reason) > 0 {
            print!(" {}={}", reason.as_str(), g.rejected(reason));
        }
    }
    println!();
    let c = counters.snapshot();
    println!(
        "live connects {} disconnects {} resyncs {} stale_periods {} frames {} heartbeats_answered {}",
        c.connects, c.disconnects, c.resyncs, c.stale_periods, c.frames, c.heartbeats_answered
    );
    // What the feed thread saw of the source's control frames: book resets (one per disconnect),
    // stale gaps, snapshots applied, and snapshots it could not use and asked for again.
    println!(
        "live_feed resets {} stale_gaps {} snapshots {} snapshots_retried {}",
        feed.resets, feed.stale_gaps, feed.snapshots, feed.snapshots_retried
    );
    println!(
        "feed frames {} rejected {} gaps {} kernel_skipped_invalid {} kernel_gaps {}",
        r.feed.frames,
        r.feed.rejected,
        r.feed.adapter.gaps,
        r.kernel.skipped_invalid,
        r.kernel.gaps
    );
    if let Some(e) = &r.source_error {
        println!("source error: {e}");
    }
    if let Some(path) = orders_out {
        write_orders(path, r, reg, sent_ids, prefix)
            .with_context(|| format!("writing --orders-out {}", path.display()))?;
    }
    Ok(())
}

/// One CSV row per order: what was asked, whether it left, and its final report.
fn write_orders<A>(
    path: &Path,
    r: &RunReport<A>,
    reg: &Registry,
    sent_ids: &[u64],
    prefix: &str,
) -> anyhow::Result<()> {
    let sent: std::collections::HashSet<u64> = sent_ids.iter().copied().collect();
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(
        w,
        "order_id,client_id,instrument,side,qty,limit_px,sent,filled_qty,fill_px,cancelled_qty"
    )?;
    for o in &r.orders {
        let f = r.fills.iter().find(|f| f.order_id == o.id);
        let sym = reg.get(o.instrument).map_or("", |i| i.symbol.as_str());
        let is_sent = sent.contains(&o.id);
        writeln!(
            w,
            "{},{},{sym},{},{},{},{},{},{},{}",
            o.id,
            if is_sent {
                format!("{prefix}{}", o.id)
            } else {
                String::new()
            },
            if o.side == Side::Sell { "sell" } else { "buy" },
            o.qty,
            o.limit_px,
            u8::from(is_sent),
            f.map_or(String::new(), |f| f.qty.to_string()),
            f.map_or(String::new(), |f| f.px.to_string()),
            f.map_or(String::new(), |f| f.cancelled_qty.to_string()),
        )?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod contract_tests {
    use super::*;

    fn inst(lot: &str, tick: Option<&str>) -> config::InstrumentConfig {
        config::InstrumentConfig {
            symbol: "BTC-PERPETUAL".into(),
            market: Market::Deribit,
            lot: lot.into(),
            tick: tick.map(Into::into),
            ..Default::default()
        }
    }

    fn venue() -> Vec<feeds::deribit::DeribitInstrument> {
        feeds::deribit::instruments::parse_instruments(
            r#"[{"tick_size":0.5,"settlement_period":"perpetual","min_trade_amount":10,"kind":"future","instrument_name":"BTC-PERPETUAL","expiration_timestamp":32503708800000,"contract_size":10,"base_currency":"BTC"},
                {"tick_size":0.0005,"strike":40000.0,"settlement_period":"month","option_type":"put","min_trade_amount":0.1,"kind":"option","instrument_name":"BTC-24SEP21-40000-P","expiration_timestamp":1632470400000,"contract_size":1.0,"base_currency":"BTC"}]"#,
        )
        .unwrap()
    }

    #[test]
    fn lot_and_tick_against_the_contract() {
        let v = venue();
        let perp = &v[0];
        contract_mismatch(&inst("10", None), perp).unwrap();
        contract_mismatch(&inst("20", Some("0.5")), perp).unwrap();
        let e = contract_mismatch(&inst("1", None), perp)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`instrument.lot` = \"1\"") && e.contains("contract_size = 10"),
            "{e}"
        );
        let e = contract_mismatch(&inst("15", None), perp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"15\""), "{e}");
        let e = contract_mismatch(&inst("10", Some("0.1")), perp)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`instrument.tick` = \"0.1\"") && e.contains("tick_size = 0.5"),
            "{e}"
        );
        assert!(contract_mismatch(&inst("x", None), perp).is_err());
        assert!(contract_mismatch(&inst("10", Some("-1")), perp).is_err());
        // Options step by their minimum trade amount (0.1), not the 1-coin contract size.
        let opt = &v[1];
        contract_mismatch(&inst("0.3", Some("0.0005")), opt).unwrap();
        let e = contract_mismatch(&inst("0.05", None), opt)
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_trade_amount = 0.1"), "{e}");
    }

    #[test]
    fn instruments_url_from_the_websocket() {
        assert_eq!(
            instruments_url("wss://www.deribit.com/ws/api/v2").unwrap(),
            "https://www.deribit.com/api/v2/public/get_instruments?currency=any"
        );
        assert_eq!(
            instruments_url("ws://127.0.0.1:9200/ws/api/v2").unwrap(),
            "http://127.0.0.1:9200/api/v2/public/get_instruments?currency=any"
        );
        assert!(instruments_url("http://x/").is_err());
        assert!(instruments_url("nothing").is_err());
    }
}
