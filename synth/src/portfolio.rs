//! A seeded synthetic multi-factor, multi-market Binance and Deribit market for the portfolio
//! demo.
//!
//! Several factors (by default BTC, ETH and SOL) follow correlated log-returns on a fixed time
//! grid: a GARCH(1,1) variance per factor, a constant conditional correlation that **breaks** to
//! another matrix at a configured time, and a **volatility shock** (the volatility of one factor
//! times a multiple) for a while. Each factor is quoted on several markets (Binance spot, USD-M,
//! COIN-M; Deribit perpetuals): each market's mid is the factor's price times a small
//! mean-reverting basis, with a book of several levels whose depth varies, and optionally a
//! liquidity void on one market. The books are rendered as the real frames of their market:
//! Binance trades or `aggTrade`s, `bookTicker`s, depth diffs with `U`/`u` or `pu` continuity and
//! REST depth snapshot bodies, as [`crate::generate`] does for one spot market (each market opens
//! with two buffered diffs and a snapshot); Deribit `book.*` notifications (a snapshot, then
//! changes chained by `change_id`), `ticker.*` (mark, index, funding) and `trades.*`, amounts in
//! USD. Optionally one diff is lost and a later snapshot re-syncs that book.
//!
//! Output is byte-identical for the same configuration on any machine: prices and sizes are
//! integer mantissas, and the floating-point path uses only IEEE-exact operations and `libm`.
//! Each market draws from its own seeded stream, so the factor paths do not depend on how many
//! markets quote them.

mod factors;
mod market;

use feeds::Market;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use factors::{cholesky, window_stats, FactorModel};
use market::Plan;

/// Milliseconds in a (365.25-day) year: crypto trades around the clock.
const MS_PER_YEAR: f64 = 365.25 * 86_400_000.0;

/// One market quoting a factor, and its instrument's conventions.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSpec {
    /// [`Market::BinanceSpot`], [`Market::BinanceUsdM`], [`Market::BinanceCoinM`] or
    /// [`Market::Deribit`] (a perpetual or future).
    pub market: Market,
    /// Symbol as the venue spells it (`BTCUSDT`, `BTCUSD_PERP`).
    pub symbol: String,
    /// Decimals of the prices in its frames.
    pub px_scale: u8,
    /// Price tick, as a mantissa at `px_scale`.
    pub tick: i64,
    /// Decimals of the quantities in its frames.
    pub qty_scale: u8,
    /// Quantity step, as a mantissa at `qty_scale` (COIN-M: one contract; Deribit: the contract
    /// size in USD).
    pub lot: i64,
    /// COIN-M and Deribit: the contract's face value in USD (COIN-M quantities are contracts,
    /// Deribit's are USD); `None` otherwise (quantities are in the base asset).
    pub contract_usd: Option<u32>,
    /// Long-run basis of the mid over the factor price, bp.
    pub basis_bp: f64,
    /// Typical notional of a book level, USD.
    pub level_usd: f64,
}

/// One factor and the markets that quote it.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorSpec {
    /// Name (`BTC`).
    pub name: String,
    /// Opening price, USD.
    pub start_px: f64,
    /// Unconditional annualized volatility outside the shock.
    pub vol: f64,
    /// Markets quoting it.
    pub markets: Vec<MarketSpec>,
}

/// GARCH(1,1) of each factor's variance, per grid step: `h' = ω + α r² + β h`, with `ω` set so
/// that the unconditional variance is the factor's `vol`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Garch {
    /// Weight of the last squared return.
    pub alpha: f64,
    /// Weight of the last variance.
    pub beta: f64,
}

/// A volatility shock: the factor's volatility times `mult` over `[at_s, at_s + duration_s)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolShock {
    /// Index into [`PortfolioSynthConfig::factors`].
    pub factor: usize,
    /// Start, s of market time.
    pub at_s: f64,
    /// Length, s.
    pub duration_s: f64,
    /// Volatility multiple.
    pub mult: f64,
}

/// A liquidity void on one market over `[at_s, at_s + duration_s)`: the touch widens, is a
/// tenth of its usual size, and the first levels behind it vanish.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiquidityVoid {
    /// Index into [`MarketTape::inputs`] (factors in order, each factor's markets in order).
    pub input: usize,
    /// Start, s of market time.
    pub at_s: f64,
    /// Length, s.
    pub duration_s: f64,
}

/// A lost depth diff on one market (a sequence gap), and the snapshot that re-syncs its book.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LostDiff {
    /// Index into [`MarketTape::inputs`].
    pub input: usize,
    /// The diff of the depth period holding this time is lost, s of market time.
    pub at_s: f64,
    /// The re-syncing snapshot arrives after this many further diffs.
    pub resync_after_diffs: u32,
}

/// Parameters of the portfolio market. [`Default`] is the demo's: BTC, ETH, SOL on six minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct PortfolioSynthConfig {
    /// RNG seed: same seed and configuration, same bytes.
    pub seed: u64,
    /// Market time simulated, s.
    pub duration_s: f64,
    /// Factor grid step, ms.
    pub step_ms: u32,
    /// Book update step (one `bookTicker` at most per market), ms; a multiple of `step_ms`.
    pub quote_ms: u32,
    /// Depth diff period, ms; a multiple of `quote_ms`.
    pub depth_ms: u32,
    /// The factors.
    pub factors: Vec<FactorSpec>,
    /// Correlation of the factors' returns before the break, row-major k×k.
    pub corr_before: Vec<f64>,
    /// Correlation from the break on, row-major k×k.
    pub corr_after: Vec<f64>,
    /// When the correlation breaks, s of market time.
    pub break_at_s: f64,
    /// Variance clustering.
    pub garch: Garch,
    /// The volatility shock, if any.
    pub shock: Option<VolShock>,
    /// The liquidity void, if any.
    pub void: Option<LiquidityVoid>,
    /// The lost depth diff, if any.
    pub lost_diff: Option<LostDiff>,
    /// Levels a side of every book.
    pub levels: usize,
    /// Trades per second on each market (about).
    pub trades_per_s: f64,
    /// Time of the grid's first point, ns since the epoch (the frames' receive clock).
    pub start_ns: u64,
}

fn market(
    market: Market,
    symbol: &str,
    (px_scale, tick): (u8, i64),
    (qty_scale, lot): (u8, i64),
    contract_usd: Option<u32>,
    basis_bp: f64,
    level_usd: f64,
) -> MarketSpec {
    MarketSpec {
        market,
        symbol: symbol.into(),
        px_scale,
        tick,
        qty_scale,
        lot,
        contract_usd,
        basis_bp,
        level_usd,
    }
}

impl Default for PortfolioSynthConfig {
    fn default() -> Self {
        use Market::{BinanceCoinM as CoinM, BinanceSpot as Spot, BinanceUsdM as UsdM, Deribit};
        let factors = vec![
            FactorSpec {
                name: "BTC".into(),
                start_px: 60_000.0,
                vol: 0.55,
                markets: vec![
                    market(Spot, "BTCUSDT", (8, 1_000_000), (8, 1_000), None, 0.0, 50e3),
                    market(UsdM, "BTCUSDT", (2, 10), (3, 1), None, 1.5, 150e3),
                    market(CoinM, "BTCUSD_PERP", (1, 1), (0, 1), Some(100), 3.0, 40e3),
                    market(
                        Deribit,
                        "BTC-PERPETUAL",
                        (1, 5),
                        (0, 10),
                        Some(10),
                        2.0,
                        60e3,
                    ),
                ],
            },
            FactorSpec {
                name: "ETH".into(),
                start_px: 2_600.0,
                vol: 0.70,
                markets: vec![
                    market(
                        Spot,
                        "ETHUSDT",
                        (8, 1_000_000),
                        (8, 10_000),
                        None,
                        0.0,
                        25e3,
                    ),
                    market(UsdM, "ETHUSDT", (2, 1), (3, 1), None, 1.5, 80e3),
                    market(CoinM, "ETHUSD_PERP", (2, 1), (0, 1), Some(10), 3.0, 20e3),
                ],
            },
            FactorSpec {
                name: "SOL".into(),
                start_px: 150.0,
                vol: 0.95,
                markets: vec![
                    market(
                        Spot,
                        "SOLUSDT",
                        (8, 1_000_000),
                        (8, 100_000),
                        None,
                        0.0,
                        10e3,
                    ),
                    market(UsdM, "SOLUSDT", (4, 100), (0, 1), None, 1.5, 30e3),
                ],
            },
        ];
        Self {
            seed: 11,
            duration_s: 360.0,
            step_ms: 10,
            quote_ms: 50,
            depth_ms: 100,
            factors,
            corr_before: vec![1.0, 0.8, 0.7, 0.8, 1.0, 0.75, 0.7, 0.75, 1.0],
            corr_after: vec![1.0, 0.2, 0.2, 0.2, 1.0, -0.3, 0.2, -0.3, 1.0],
            break_at_s: 180.0,
            garch: Garch {
                alpha: 0.006,
                beta: 0.9935,
            },
            shock: Some(VolShock {
                factor: 1,
                at_s: 240.0,
                duration_s: 60.0,
                mult: 3.5,
            }),
            void: Some(LiquidityVoid {
                input: 2,
                at_s: 120.0,
                duration_s: 10.0,
            }),
            lost_diff: Some(LostDiff {
                input: 5,
                at_s: 200.0,
                resync_after_diffs: 20,
            }),
            levels: 20,
            trades_per_s: 3.0,
            start_ns: 1_723_161_600_000_000_000,
        }
    }
}

/// One input of the tape: one market of one factor, parsed by its own adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeInput {
    /// The factor it quotes.
    pub factor: String,
    /// Its market.
    pub market: Market,
    /// Its symbol.
    pub symbol: String,
    /// Decimals of its prices as its feed reads them (Deribit: the feed's own scale).
    pub px_scale: u8,
    /// Decimals of its quantities as its feed reads them.
    pub qty_scale: u8,
    /// COIN-M and Deribit: USD face value of one contract (COIN-M quantities are contracts,
    /// Deribit's USD).
    pub contract_usd: Option<u32>,
}

/// Realized statistics of the factor path (on the grid, log-returns) over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStats {
    /// Window start, ns (receive clock).
    pub start_ns: u64,
    /// Window end (exclusive), ns.
    pub end_ns: u64,
    /// Annualized volatility per factor.
    pub vol: Vec<f64>,
    /// Correlation, row-major k×k.
    pub corr: Vec<f64>,
}

/// The market's ground truth, for the demo to print beside its estimates.
#[derive(Debug, Clone, PartialEq)]
pub struct TapeTruth {
    /// Factor names, in order.
    pub factors: Vec<String>,
    /// Configured annualized volatility per factor outside the shock.
    pub vol: Vec<f64>,
    /// Configured correlation before the break, row-major k×k.
    pub corr_before: Vec<f64>,
    /// Configured correlation from the break on.
    pub corr_after: Vec<f64>,
    /// When the correlation breaks, ns (receive clock; frames lag their events by about a
    /// millisecond of feed latency).
    pub break_ns: u64,
    /// The shock: factor, `[start_ns, end_ns)` and its configured annualized volatility.
    pub shock: Option<ShockTruth>,
    /// The liquidity void: input and `[start_ns, end_ns)`.
    pub void: Option<(usize, u64, u64)>,
    /// The lost diff: input, when it would have been received, when the re-syncing snapshot
    /// is.
    pub lost_diff: Option<(usize, u64, u64)>,
    /// Realized on the grid before the break.
    pub realized_before: WindowStats,
    /// Realized on the grid from the break on. A window holding the shock weighs the shocked
    /// factor's returns more during it, so its correlation with the others reads lower than the
    /// conditional one (×0.84 for the default ×3.5 shock over a third of the window).
    pub realized_after: WindowStats,
    /// Realized on the grid during the shock.
    pub realized_shock: Option<WindowStats>,
}

/// The shock, as it happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShockTruth {
    /// Index of the factor.
    pub factor: usize,
    /// Start, ns.
    pub start_ns: u64,
    /// End (exclusive), ns.
    pub end_ns: u64,
    /// Annualized volatility during the shock (the factor's `vol` × the multiple).
    pub vol: f64,
}

/// The generated market: its inputs, all their frames merged by receive time, and the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketTape {
    /// The inputs, factors in order and each factor's markets in order.
    pub inputs: Vec<TapeInput>,
    /// `(recv_ns, input index, raw frame)`, by receive time; ties in input order, and each
    /// input's frames in the order the venue sent them.
    pub frames: Vec<(u64, u8, Vec<u8>)>,
    /// What was simulated.
    pub truth: TapeTruth,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("portfolio synth config: `{field}` {reason}")]
pub struct PortfolioSynthError {
    /// The offending field (`factors[2].markets[0].tick`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> PortfolioSynthError {
    PortfolioSynthError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Generates the portfolio market of `cfg`.
///
/// # Errors
/// [`PortfolioSynthError`] naming the field of a configuration that cannot be simulated
/// (a correlation matrix that is not a positive-definite correlation matrix, steps that do not
/// divide each other, an index out of range, a market other than Binance or Deribit, more than 256 inputs, …).
pub fn generate_portfolio(cfg: &PortfolioSynthConfig) -> Result<MarketTape, PortfolioSynthError> {
    let v = validate(cfg)?;
    let k = cfg.factors.len();
    let step_ns = u64::from(cfg.step_ms) * 1_000_000;
    let at_ns = |s: usize| cfg.start_ns + s as u64 * step_ns;
    let model = FactorModel {
        k,
        steps: v.steps,
        var_per_step: cfg
            .factors
            .iter()
            .map(|f| f.vol * f.vol / v.steps_per_year)
            .collect(),
        alpha: cfg.garch.alpha,
        beta: cfg.garch.beta,
        chol_before: v.chol_before,
        chol_after: v.chol_after,
        break_step: v.break_step,
        shock: v.shock,
    };
    let x = model.simulate(&mut ChaCha8Rng::seed_from_u64(cfg.seed));

    let mut inputs = Vec::new();
    let mut per_input = Vec::new();
    let mut void = None;
    let mut lost_diff = None;
    let quotes_per_depth = (cfg.depth_ms / cfg.quote_ms) as usize;
    let mut path = vec![0.0; v.steps + 1];
    for (fi, f) in cfg.factors.iter().enumerate() {
        for (n, p) in path.iter_mut().enumerate() {
            *p = x[n * k + fi];
        }
        let shock = |n: usize| model.shock_mult(fi, n);
        for m in &f.markets {
            let input = inputs.len();
            let plan = Plan {
                start_ns: cfg.start_ns,
                quote_ns: u64::from(cfg.quote_ms) * 1_000_000,
                steps_per_quote: v.steps_per_quote,
                quotes_per_depth,
                quotes: v.quotes,
                levels: cfg.levels,
                trades_per_s: cfg.trades_per_s,
                void: cfg.void.filter(|w| w.input == input).map(|w| {
                    let q = |s: f64| (s * 1000.0 / f64::from(cfg.quote_ms)) as usize;
                    (q(w.at_s), q(w.at_s + w.duration_s))
                }),
                lost: cfg.lost_diff.filter(|l| l.input == input).map(|l| {
                    let p = (l.at_s * 1000.0 / f64::from(cfg.depth_ms)) as usize;
                    (p, p + l.resync_after_diffs as usize)
                }),
            };
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            rng.set_stream(input as u64 + 1);
            let out = market::run(m, f.start_px, &path, &shock, &plan, rng);
            if let Some((a, b)) = plan.void {
                let q_ns = plan.quote_ns;
                void = Some((
                    input,
                    cfg.start_ns + a as u64 * q_ns,
                    cfg.start_ns + b as u64 * q_ns,
                ));
            }
            if let (Some(l), Some(r)) = (out.lost_recv_ns, out.resync_recv_ns) {
                lost_diff = Some((input, l, r));
            }
            // Deribit's feed reads every number at its own scale.
            let (px_scale, qty_scale) = if m.market == Market::Deribit {
                (feeds::deribit::DERIBIT_SCALE, feeds::deribit::DERIBIT_SCALE)
            } else {
                (m.px_scale, m.qty_scale)
            };
            inputs.push(TapeInput {
                factor: f.name.clone(),
                market: m.market,
                symbol: m.symbol.clone(),
                px_scale,
                qty_scale,
                contract_usd: m.contract_usd,
            });
            per_input.push(out.frames);
        }
    }
    let total = per_input.iter().map(Vec::len).sum();
    let mut frames: Vec<(u64, u8, Vec<u8>)> = Vec::with_capacity(total);
    for (i, fs) in per_input.into_iter().enumerate() {
        // At most 256 inputs (validated).
        let tag = i as u8;
        frames.extend(fs.into_iter().map(|(ns, f)| (ns, tag, f)));
    }
    // Stable: ties keep input order, and each input's own order.
    frames.sort_by_key(|(ns, i, _)| (*ns, *i));

    let stats = |a: usize, b: usize| {
        let (vol, corr) = window_stats(&x, k, a, b, v.steps_per_year);
        WindowStats {
            start_ns: at_ns(a),
            end_ns: at_ns(b),
            vol,
            corr,
        }
    };
    let truth = TapeTruth {
        factors: cfg.factors.iter().map(|f| f.name.clone()).collect(),
        vol: cfg.factors.iter().map(|f| f.vol).collect(),
        corr_before: cfg.corr_before.clone(),
        corr_after: cfg.corr_after.clone(),
        break_ns: at_ns(v.break_step),
        shock: v.shock.map(|(factor, a, b, m)| ShockTruth {
            factor,
            start_ns: at_ns(a),
            end_ns: at_ns(b),
            vol: cfg.factors[factor].vol * m,
        }),
        void,
        lost_diff,
        realized_before: stats(0, v.break_step),
        realized_after: stats(v.break_step, v.steps),
        realized_shock: v.shock.map(|(_, a, b, _)| stats(a, b)),
    };
    Ok(MarketTape {
        inputs,
        frames,
        truth,
    })
}

/// A configuration checked and turned into grid steps.
struct Valid {
    steps: usize,
    steps_per_quote: usize,
    quotes: usize,
    steps_per_year: f64,
    chol_before: Vec<f64>,
    chol_after: Vec<f64>,
    break_step: usize,
    shock: Option<(usize, usize, usize, f64)>,
}

fn validate(cfg: &PortfolioSynthConfig) -> Result<Valid, PortfolioSynthError> {
    let k = cfg.factors.len();
    if k == 0 {
        return Err(bad("factors", "is empty"));
    }
    let n_inputs: usize = cfg.factors.iter().map(|f| f.markets.len()).sum();
    if n_inputs > 256 {
        return Err(bad("factors", "quote more than 256 markets"));
    }
    if cfg.step_ms == 0 {
        return Err(bad("step_ms", "must be positive"));
    }
    if cfg.quote_ms == 0 || cfg.quote_ms % cfg.step_ms != 0 {
        return Err(bad("quote_ms", "must be a positive multiple of step_ms"));
    }
    if cfg.depth_ms == 0 || cfg.depth_ms % cfg.quote_ms != 0 {
        return Err(bad("depth_ms", "must be a positive multiple of quote_ms"));
    }
    if !(cfg.duration_s >= 1.0 && cfg.duration_s <= 86_400.0) {
        return Err(bad("duration_s", "must be between 1 and 86400"));
    }
    let steps_per_quote = (cfg.quote_ms / cfg.step_ms) as usize;
    let quotes = (cfg.duration_s * 1000.0 / f64::from(cfg.quote_ms)) as usize;
    let periods = quotes / (cfg.depth_ms / cfg.quote_ms) as usize;
    if periods < 2 {
        return Err(bad("duration_s", "must hold at least two depth periods"));
    }
    let steps = quotes * steps_per_quote;
    let step_at = |s: f64| (s * 1000.0 / f64::from(cfg.step_ms)) as usize;
    let in_run = |s: f64| s.is_finite() && s >= 0.0 && s <= cfg.duration_s;
    if !(2..=1000).contains(&cfg.levels) {
        return Err(bad("levels", "must be between 2 and 1000"));
    }
    if !(cfg.trades_per_s.is_finite() && cfg.trades_per_s >= 0.0) {
        return Err(bad("trades_per_s", "must be finite and non-negative"));
    }
    let g = cfg.garch;
    if !(g.alpha >= 0.0 && g.beta >= 0.0 && g.alpha + g.beta < 1.0) {
        return Err(bad("garch", "needs alpha, beta >= 0 and alpha + beta < 1"));
    }
    validate_factors(&cfg.factors)?;
    let chol = |name: &str, c: &[f64]| {
        if c.len() != k * k {
            return Err(bad(name, format!("must hold {} entries (k×k)", k * k)));
        }
        for i in 0..k {
            for j in 0..k {
                let (a, b) = (c[i * k + j], c[j * k + i]);
                if !(a.abs() <= 1.0) || a != b || (i == j && a != 1.0) {
                    return Err(bad(
                        name,
                        "must be symmetric with a unit diagonal and entries in [-1, 1]",
                    ));
                }
            }
        }
        cholesky(c, k).ok_or_else(|| bad(name, "is not positive definite"))
    };
    let chol_before = chol("corr_before", &cfg.corr_before)?;
    let chol_after = chol("corr_after", &cfg.corr_after)?;
    if !in_run(cfg.break_at_s) {
        return Err(bad("break_at_s", "must be within the run"));
    }
    let shock = match cfg.shock {
        None => None,
        Some(s) => {
            if s.factor >= k {
                return Err(bad("shock.factor", "is not a factor index"));
            }
            if !(in_run(s.at_s) && s.duration_s > 0.0 && in_run(s.at_s + s.duration_s)) {
                return Err(bad("shock", "must lie within the run"));
            }
            if !(s.mult > 0.0 && s.mult <= 20.0) {
                return Err(bad("shock.mult", "must be in (0, 20]"));
            }
            Some((
                s.factor,
                step_at(s.at_s),
                step_at(s.at_s + s.duration_s),
                s.mult,
            ))
        }
    };
    if let Some(w) = cfg.void {
        if w.input >= n_inputs {
            return Err(bad("void.input", "is not an input index"));
        }
        if !(in_run(w.at_s) && w.duration_s > 0.0 && in_run(w.at_s + w.duration_s)) {
            return Err(bad("void", "must lie within the run"));
        }
    }
    if let Some(l) = cfg.lost_diff {
        if l.input >= n_inputs {
            return Err(bad("lost_diff.input", "is not an input index"));
        }
        let p = (l.at_s * 1000.0 / f64::from(cfg.depth_ms)) as usize;
        if !(in_run(l.at_s) && p >= 2 && p + l.resync_after_diffs as usize + 1 < periods) {
            return Err(bad(
                "lost_diff",
                "must lie after the opening snapshot, with its resync and a diff after it within the run",
            ));
        }
        if l.resync_after_diffs == 0 {
            return Err(bad("lost_diff.resync_after_diffs", "must be positive"));
        }
    }
    Ok(Valid {
        steps,
        steps_per_quote,
        quotes,
        steps_per_year: MS_PER_YEAR / f64::from(cfg.step_ms),
        chol_before,
        chol_after,
        break_step: step_at(cfg.break_at_s).min(steps),
        shock: shock.map(|(f, a, b, m)| (f, a.min(steps), b.min(steps), m)),
    })
}

/// Checks each factor and each market's instrument conventions.
fn validate_factors(factors: &[FactorSpec]) -> Result<(), PortfolioSynthError> {
    for (fi, f) in factors.iter().enumerate() {
        if !(f.start_px > 0.0 && f.start_px < 1e9) {
            return Err(bad(
                format!("factors[{fi}].start_px"),
                "must be in (0, 1e9)",
            ));
        }
        if !(f.vol > 0.0 && f.vol < 20.0) {
            return Err(bad(format!("factors[{fi}].vol"), "must be in (0, 20)"));
        }
        for (mi, m) in f.markets.iter().enumerate() {
            let field = |name: &str| format!("factors[{fi}].markets[{mi}].{name}");
            if !matches!(
                m.market,
                Market::BinanceSpot | Market::BinanceUsdM | Market::BinanceCoinM | Market::Deribit
            ) {
                return Err(bad(field("market"), "must be spot, usdm, coinm or deribit"));
            }
            if m.symbol.is_empty() || m.symbol.len() > 32 || !m.symbol.is_ascii() {
                return Err(bad(field("symbol"), "must be 1 to 32 ASCII characters"));
            }
            if m.px_scale > 12 || m.qty_scale > 12 {
                return Err(bad(field("px_scale"), "scales must be at most 12"));
            }
            let px_mantissa = f.start_px * feeds::registry::POW10[m.px_scale as usize] as f64;
            if m.tick <= 0 || px_mantissa > 1e15 || (m.tick as f64) > px_mantissa / 1000.0 {
                return Err(bad(
                    field("tick"),
                    "must be positive, under a thousandth of the price, with the price under 1e15 ticks",
                ));
            }
            if m.lot <= 0 {
                return Err(bad(field("lot"), "must be positive"));
            }
            let inverse = matches!(m.market, Market::BinanceCoinM | Market::Deribit);
            if inverse != m.contract_usd.is_some_and(|c| c > 0) {
                return Err(bad(
                    field("contract_usd"),
                    "must be set (positive) for COIN-M and Deribit, and only for them",
                ));
            }
            if m.market == Market::Deribit {
                let c = i64::from(m.contract_usd.unwrap_or(0));
                if c.checked_mul(feeds::registry::POW10[m.qty_scale as usize]) != Some(m.lot) {
                    return Err(bad(
                        field("lot"),
                        "must be the contract size in USD at qty_scale (Deribit amounts are USD)",
                    ));
                }
            }
            if !(m.basis_bp.abs() < 1000.0) {
                return Err(bad(field("basis_bp"), "must be under 1000 bp"));
            }
            if !(m.level_usd > 0.0 && m.level_usd < 1e12) {
                return Err(bad(field("level_usd"), "must be in (0, 1e12)"));
            }
        }
    }
    Ok(())
}
