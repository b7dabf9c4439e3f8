//! The options-aware sizing engine of one underlying: the hedge instrument's touch (perpetual or
//! future, linear or inverse), the option chain in structure-of-arrays ([`chain`]), positions and
//! working orders in lots, and the sizing policy that turns them into explained resize orders.
//!
//! # Per event
//! - Hedge `Bbo` (the underlying moved): sample the EWMA (and, when attached, GARCH(1,1)) forecast
//!   on mid returns, revalue the whole chain (held and candidate options) in one Black-76 SIMD
//!   batch, each option at its expiry's forward (`hedge mid × basis`, below), size.
//! - Option `OptionTicker`: store mark price and mark/bid/ask IV; the ticker's `underlying_price`
//!   (its expiry's forward or future) sets the expiry's basis ratio `F / hedge mid` (kept until
//!   the next ticker of that expiry; 1 until one is seen; a ticker before the first hedge touch
//!   is converted at that touch); revalue that option alone, refit its expiry's smile when a
//!   surface is attached ([`surface`]), size.
//! - Option `Bbo`: store the option's touch (used for limit prices and the liquidity cap).
//! - `Gap`/`SnapshotBegin` of the hedge: nothing is sized until its book is valid again.
//!
//! # Policy
//! The base model is a configured option book (`desired` lots per option, [`OptionsEngine::set_desired`]).
//! A scale `s ∈ [0, 1]` applied to it is the smallest of: the gamma and vega caps
//! ([`option_scale`]), the liquidation buffer of the hedge that would neutralize the scaled book's
//! delta (inverse or linear margin model, [`max_safe_qty`]: the liquidation price stays
//! `k σ √h` away from the mark, σ from the configured [`VolSource`]: EWMA or GARCH forecast,
//! implied (the surface's ATM term structure at the horizon), or a blend), and the leverage cap
//! (|hedge notional| ≤ `max_leverage` × collateral). Options are resized toward `desired × s`
//! (cuts at once; increases only once they reach `rebalance_frac` of the desired size). Then the
//! portfolio delta, with the option targets, is brought back inside `±delta_band` by a hedge
//! order, itself capped by the liquidation buffer and leverage. Every order is capped to
//! `liquidity_frac` of the quantity displayed at the touch, truncated to lots, and dropped below
//! the minimum size; each names the constraint that triggered it ([`OptionsOrder::reason`]) and
//! the one that set its size ([`OptionsOrder::binding`]). Each sizing pass that sends orders
//! yields one [`Decision`] with its inputs, the portfolio Greeks before and after and every
//! constraint's value.
//!
//! Units: delta in underlying units (coins), gamma per USD, vega per volatility point in USD,
//! hedge lots in base units (linear: coins) or USD face (inverse). The options' own margin is not
//! modelled: the collateral backs the hedge. No allocation after start-up.

#![forbid(unsafe_code)]

pub mod chain;
pub mod kernel;
pub mod log;
pub mod surface;
pub mod synthetic;

use feeds::{EventKind, Instrument, InstrumentId, MarketEvent, Registry, Side};
use risk_core::greeks_limits::{
    band_hedge, option_scale, GammaVegaLimits, HedgeTo, PortfolioGreeks, ScaleBound,
};
use risk_core::margin::{self, max_safe_qty, Contract, MarginTiers, SafeSizeSpec};
use risk_core::vol::garch::{self, GarchError};
use risk_core::vol::{Ewma, Garch11, Garch11Params, GarchFit};

pub use chain::{OptionChain, OptionSpec};
pub use surface::{IvSource, SurfaceConfig, SurfaceError, VolSurface};

/// A constraint of the policy: why an order was sent ([`OptionsOrder::reason`]) and what set its
/// size ([`OptionsOrder::binding`]).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Constraint {
    /// The configured option book (base model) stood.
    Model = 0,
    /// The delta band: hedge back to its edge (or centre).
    DeltaBand = 1,
    /// The cap on |portfolio gamma|.
    GammaCap = 2,
    /// The cap on |portfolio vega|.
    VegaCap = 3,
    /// The liquidation buffer of the hedge position.
    LiquidationBuffer = 4,
    /// The leverage cap.
    Leverage = 5,
    /// The share of the displayed touch an order may take.
    Liquidity = 6,
}

impl Constraint {
    /// Stable lowercase name used in logs and tests.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::DeltaBand => "delta_band",
            Self::GammaCap => "gamma_cap",
            Self::VegaCap => "vega_cap",
            Self::LiquidationBuffer => "liquidation_buffer",
            Self::Leverage => "leverage",
            Self::Liquidity => "liquidity",
        }
    }
}

/// Where the volatility of the liquidation buffer comes from.
///
/// "Implied" is the surface's ATM implied volatility interpolated at the buffer horizon
/// (`now + buffer_horizon_days`) when a surface is attached ([`OptionsEngine::with_surface`]),
/// else the at-the-money mark IV of the nearest unexpired expiry. The GARCH sources need
/// [`OptionsEngine::with_garch`] (or [`OptionsEngine::with_garch_fit`]); without it they have no
/// value and sizing passes are skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VolSource {
    /// The EWMA forecast of the hedge mid's returns.
    Forecast,
    /// The implied volatility (see above).
    Implied,
    /// `w × EWMA forecast + (1 − w) × implied`.
    Blend {
        /// Weight of the forecast, in [0, 1].
        forecast_weight: f64,
    },
    /// The GARCH(1,1) forecast of the hedge mid's returns, averaged over the buffer horizon.
    Garch,
    /// `w × GARCH forecast + (1 − w) × implied`.
    GarchBlend {
        /// Weight of the forecast, in [0, 1].
        forecast_weight: f64,
    },
}

/// The hedge instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HedgeSpec {
    /// Instrument id.
    pub instrument: InstrumentId,
    /// Linear (qty in coins) or inverse (qty in USD face, coin-margined).
    pub contract: Contract,
    /// One lot: coins (linear) or USD face (inverse).
    pub lot_qty: f64,
    /// Smallest order, lots.
    pub min_lots: i64,
}

/// Configuration of the policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionsConfig {
    /// Half-width of the no-hedge band around zero delta, underlying units.
    pub delta_band: f64,
    /// Hedge back to the band's edge or centre.
    pub hedge_to: HedgeTo,
    /// Largest |portfolio gamma| (per USD).
    pub max_abs_gamma: f64,
    /// Largest |portfolio vega| per vol point (USD).
    pub max_abs_vega_per_vol_point: f64,
    /// Collateral backing the hedge, coins.
    pub collateral_coin: f64,
    /// Flat maintenance-margin rate of the hedge.
    pub mmr: f64,
    /// Buffer in standard deviations `k`.
    pub buffer_k: f64,
    /// Buffer horizon, days.
    pub buffer_horizon_days: f64,
    /// Highest margin ratio at the mark, (0, 1].
    pub max_margin_ratio: f64,
    /// Largest |hedge notional| / collateral value.
    pub max_leverage: f64,
    /// Share of the displayed touch quantity one order may take, (0, 1].
    pub liquidity_frac: f64,
    /// Option increases wait until they reach this share of the desired size (cuts are immediate).
    pub rebalance_frac: f64,
    /// Volatility of the liquidation buffer.
    pub vol_source: VolSource,
    /// EWMA decay per sample.
    pub ewma_lambda: f64,
    /// EWMA warm-up samples.
    pub ewma_warmup: u32,
    /// Sampling interval of hedge mid returns, ns.
    pub sample_interval_ns: u64,
}

/// Optional parts of an engine, built on top of [`OptionsEngine::new`] by
/// [`OptionsEngine::with_extras`] (from configuration: `[options.garch]`, `[options.surface]`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EngineExtras {
    /// A GARCH(1,1) forecast with these parameters ([`OptionsEngine::with_garch`]).
    pub garch: Option<Garch11Params>,
    /// An implied-volatility surface with these settings ([`OptionsEngine::with_surface`]).
    pub surface: Option<SurfaceConfig>,
}

/// Why an engine could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsError {
    /// A configuration value is out of range.
    #[error("options config: `{0}` out of range")]
    Config(&'static str),
    /// An instrument id is not in the registry, or is given twice.
    #[error("instrument {0} unknown or already in the chain")]
    Instrument(u32),
    /// GARCH parameters invalid, or the warm-up fit failed.
    #[error("options GARCH: {0}")]
    Garch(#[from] GarchError),
    /// A surface setting is out of range.
    #[error(transparent)]
    Surface(#[from] SurfaceError),
}

/// A resize order of the options engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionsOrder {
    /// Engine-assigned, strictly increasing.
    pub id: u64,
    /// Receive time of the triggering event, ns.
    pub recv_ns: u64,
    /// Raw clock reading of the triggering frame's ingestion.
    pub t_ingest: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Whether this is the hedge (else an option).
    pub is_hedge: bool,
    /// Buy or sell.
    pub side: Side,
    /// Quantity, lots (> 0).
    pub qty_lots: i64,
    /// Quantity, underlying units (options, linear hedge) or USD face (inverse hedge).
    pub qty: f64,
    /// Limit price: the opposite touch (USD for the hedge, coin for options), or the option's
    /// mark when its book is not seen.
    pub limit_px: f64,
    /// Constraint that triggered the order.
    pub reason: Constraint,
    /// Constraint that set its size.
    pub binding: Constraint,
    /// Target position, lots.
    pub target_lots: i64,
    /// Position before the order, lots.
    pub position_lots: i64,
    /// Working quantity before the order, lots.
    pub working_lots: i64,
}

/// An execution report for an [`OptionsOrder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionsFill {
    /// The order.
    pub order_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side.
    pub side: Side,
    /// Filled lots.
    pub filled_lots: i64,
    /// Cancelled lots (order − filled).
    pub cancelled_lots: i64,
    /// Fill price (the order's limit).
    pub px: f64,
}

impl OptionsFill {
    /// The paper fill of `o`: all of it at its limit (orders are already capped to the touch).
    #[must_use]
    pub fn paper(o: &OptionsOrder) -> Self {
        Self {
            order_id: o.id,
            instrument: o.instrument,
            side: o.side,
            filled_lots: o.qty_lots,
            cancelled_lots: 0,
            px: o.limit_px,
        }
    }
}

/// One sizing pass that sent orders: its inputs and every constraint's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Receive time of the triggering event, ns.
    pub recv_ns: u64,
    /// Triggering instrument.
    pub trigger: InstrumentId,
    /// Underlying (hedge mid) price, USD.
    pub underlying_px: f64,
    /// EWMA forecast, annualized (NaN before warm-up).
    pub vol_forecast: f64,
    /// GARCH(1,1) forecast averaged over the buffer horizon, annualized (NaN without GARCH).
    pub vol_garch: f64,
    /// ATM implied volatility: the surface's at the buffer horizon when one is attached, else
    /// the nearest expiry's ATM mark IV (NaN when not computed or unavailable).
    pub vol_implied: f64,
    /// Volatility used by the liquidation buffer, annualized.
    pub vol_used: f64,
    /// Lowest forward the chain's expiries are valued at (`underlying_px × basis`), USD.
    pub forward_lo: f64,
    /// Highest forward the chain's expiries are valued at, USD.
    pub forward_hi: f64,
    /// Portfolio Greeks with positions + working before the orders (hedge delta included).
    pub before: PortfolioGreeks,
    /// Portfolio Greeks with the targets of the orders.
    pub after: PortfolioGreeks,
    /// Greeks of the full desired option book (scale 1).
    pub desired: PortfolioGreeks,
    /// Delta band half-width.
    pub delta_band: f64,
    /// Gamma cap.
    pub max_abs_gamma: f64,
    /// Vega cap.
    pub max_abs_vega: f64,
    /// Scale allowed by the gamma/vega caps.
    pub scale_gamma_vega: f64,
    /// Scale allowed by the liquidation buffer.
    pub scale_liquidation: f64,
    /// Scale allowed by the leverage cap.
    pub scale_leverage: f64,
    /// Applied scale.
    pub scale: f64,
    /// Constraint that set the scale (`Model` when 1).
    pub scale_binding: Constraint,
    /// Largest |hedge delta| the liquidation buffer allows, underlying units.
    pub max_hedge_delta_liquidation: f64,
    /// Largest |hedge delta| the leverage cap allows, underlying units.
    pub max_hedge_delta_leverage: f64,
    /// Hedge liquidity cap (lots) for the side traded, or −1 when no hedge order.
    pub hedge_liquidity_cap_lots: i64,
    /// Hedge position + working before, lots.
    pub hedge_lots_before: i64,
    /// Hedge target, lots.
    pub hedge_lots_after: i64,
    /// Orders sent by this pass.
    pub orders: u32,
}

/// Receives the engine's output. Must not allocate or block on the hot path.
pub trait OptionsSink {
    /// A resize order.
    fn order(&mut self, o: &OptionsOrder);
    /// The decision behind the orders just sent.
    fn decision(&mut self, _d: &Decision) {}
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionsStats {
    /// Events seen.
    pub events: u64,
    /// Full-chain revaluations.
    pub full_revaluations: u64,
    /// Single-option revaluations.
    pub single_revaluations: u64,
    /// Sizing passes run.
    pub sizing_passes: u64,
    /// Passes skipped: no valid hedge touch yet, or no volatility.
    pub skipped: u64,
    /// Orders that rounded below the minimum size.
    pub below_min: u64,
    /// Orders sent.
    pub orders: u64,
    /// Decisions.
    pub decisions: u64,
    /// Fills applied.
    pub fills: u64,
}

const NO_INDEX: u32 = u32::MAX;
const NS_PER_YEAR_VOL: f64 = 365.25 * 86_400.0 * 1e9;

/// The engine of one underlying.
#[derive(Debug)]
pub struct OptionsEngine {
    cfg: OptionsConfig,
    hedge: HedgeSpec,
    hedge_inst: Instrument,
    instruments: Vec<Instrument>,
    /// instrument id → chain index.
    index: Vec<u32>,
    chain: OptionChain,
    desired_lots: Vec<i64>,
    /// Chain indices, ascending, of the options that ever had a desired size, a position or a
    /// working order: the only ones the sizing pass aggregates and resizes (for the others
    /// both the current and the desired size are 0). Grows within its start-up capacity.
    active: Vec<u32>,
    is_active: Vec<bool>,
    tiers: MarginTiers,
    // Hedge state.
    hedge_valid: bool,
    bid_px: f64,
    bid_qty: f64,
    ask_px: f64,
    ask_qty: f64,
    hedge_position_lots: i64,
    hedge_working_lots: i64,
    spot_px: f64,
    // Forecasts and the surface.
    ewma: Ewma,
    garch: Option<Garch11>,
    /// Buffer horizon in sampling intervals (GARCH aggregation), at least 1.
    horizon_samples: u32,
    surface: Option<VolSurface>,
    /// Per expiry slot: a ticker's forward seen before the first hedge touch (0: none).
    pending_fwd: Vec<f64>,
    /// Expiry slots with a pending forward.
    pending: u32,
    last_sample_ns: u64,
    last_sample_mid: f64,
    periods_per_year: f64,
    next_order_id: u64,
    /// Receive time of the last event, ns.
    last_event_ns: u64,
    stats: OptionsStats,
}

fn check(ok: bool, what: &'static str) -> Result<(), OptionsError> {
    if ok {
        Ok(())
    } else {
        Err(OptionsError::Config(what))
    }
}

impl OptionsEngine {
    /// An engine over `registry`'s instruments with `hedge` and the options `chain` (start-up).
    ///
    /// # Errors
    /// [`OptionsError`] for a configuration value out of range or an unknown/duplicate instrument.
    pub fn new(
        registry: &Registry,
        cfg: OptionsConfig,
        hedge: HedgeSpec,
        chain: &[OptionSpec],
    ) -> Result<Self, OptionsError> {
        check(
            cfg.delta_band >= 0.0 && cfg.delta_band.is_finite(),
            "delta_band",
        )?;
        check(cfg.max_abs_gamma >= 0.0, "max_abs_gamma")?;
        check(
            cfg.max_abs_vega_per_vol_point >= 0.0,
            "max_abs_vega_per_vol_point",
        )?;
        check(
            cfg.collateral_coin > 0.0 && cfg.collateral_coin.is_finite(),
            "collateral_coin",
        )?;
        check(cfg.buffer_k >= 0.0 && cfg.buffer_k.is_finite(), "buffer_k")?;
        check(
            cfg.buffer_horizon_days >= 0.0 && cfg.buffer_horizon_days.is_finite(),
            "buffer_horizon_days",
        )?;
        check(
            cfg.max_margin_ratio > 0.0 && cfg.max_margin_ratio <= 1.0,
            "max_margin_ratio",
        )?;
        check(
            cfg.max_leverage >= 0.0 && cfg.max_leverage.is_finite(),
            "max_leverage",
        )?;
        check(
            cfg.liquidity_frac > 0.0 && cfg.liquidity_frac <= 1.0,
            "liquidity_frac",
        )?;
        check((0.0..=1.0).contains(&cfg.rebalance_frac), "rebalance_frac")?;
        if let VolSource::Blend { forecast_weight } | VolSource::GarchBlend { forecast_weight } =
            cfg.vol_source
        {
            check(
                (0.0..=1.0).contains(&forecast_weight),
                "vol_source.forecast_weight",
            )?;
        }
        check(cfg.sample_interval_ns > 0, "sample_interval_ns")?;
        check(
            hedge.lot_qty > 0.0 && hedge.lot_qty.is_finite(),
            "hedge.lot_qty",
        )?;
        let ewma = Ewma::new(cfg.ewma_lambda, cfg.ewma_warmup)
            .ok_or(OptionsError::Config("ewma_lambda"))?;
        let tiers = MarginTiers::flat(cfg.mmr).map_err(|_| OptionsError::Config("mmr"))?;
        let instruments = registry.instruments().to_vec();
        let hedge_inst = registry
            .get(hedge.instrument)
            .ok_or(OptionsError::Instrument(hedge.instrument.0))?
            .clone();
        let mut index = vec![NO_INDEX; instruments.len()];
        let mut ch = OptionChain::default();
        for s in chain {
            let slot = index
                .get_mut(s.instrument.0 as usize)
                .filter(|v| **v == NO_INDEX && s.instrument != hedge.instrument)
                .ok_or(OptionsError::Instrument(s.instrument.0))?;
            check(s.lot_qty > 0.0 && s.lot_qty.is_finite(), "option.lot_qty")?;
            check(s.strike > 0.0 && s.strike.is_finite(), "option.strike")?;
            *slot = ch.push(s) as u32;
        }
        let n = ch.len();
        let expiries = ch.expiry_count();
        Ok(Self {
            cfg,
            hedge: HedgeSpec {
                min_lots: hedge.min_lots.max(1),
                ..hedge
            },
            hedge_inst,
            instruments,
            index,
            chain: ch,
            desired_lots: vec![0; n],
            active: Vec::with_capacity(n),
            is_active: vec![false; n],
            tiers,
            hedge_valid: false,
            bid_px: 0.0,
            bid_qty: 0.0,
            ask_px: 0.0,
            ask_qty: 0.0,
            hedge_position_lots: 0,
            hedge_working_lots: 0,
            spot_px: 0.0,
            ewma,
            garch: None,
            horizon_samples: ((cfg.buffer_horizon_days * 86_400e9 / cfg.sample_interval_ns as f64)
                .round()
                .clamp(1.0, f64::from(u32::MAX))) as u32,
            surface: None,
            pending_fwd: vec![0.0; expiries],
            pending: 0,
            last_sample_ns: 0,
            last_sample_mid: 0.0,
            periods_per_year: NS_PER_YEAR_VOL / cfg.sample_interval_ns as f64,
            next_order_id: 1,
            last_event_ns: 0,
            stats: OptionsStats::default(),
        })
    }

    /// Adds a GARCH(1,1) forecast on the sampled hedge-mid returns with `params` (per-sample
    /// variance units: ω in squared returns of one `sample_interval_ns`), starting from the
    /// long-run variance `ω / (1 − α − β)` (start-up).
    ///
    /// # Errors
    /// [`OptionsError::Garch`] for parameters outside `ω > 0, α, β ≥ 0, α + β < 1`.
    pub fn with_garch(mut self, params: Garch11Params) -> Result<Self, OptionsError> {
        let p = Garch11Params::new(params.omega, params.alpha, params.beta)?;
        self.garch = Some(Garch11::new(p, 0.0, p.unconditional_variance())?);
        Ok(self)
    }

    /// Adds a GARCH(1,1) forecast fitted by maximum likelihood (zero mean, normal innovations)
    /// to a warm-up window of `returns` sampled every `sample_interval_ns` (e.g. from the
    /// capture's or the venue's recent history), positioned after the window's last return
    /// (start-up; the fit takes milliseconds). Returns the fit for reporting.
    ///
    /// # Errors
    /// [`OptionsError::Garch`] when the fit refuses the window (too short, non-finite, zero
    /// variance).
    pub fn with_garch_fit(mut self, returns: &[f64]) -> Result<(Self, GarchFit), OptionsError> {
        let f = garch::fit(returns, &garch::FitOptions::default())?;
        self.garch = Some(f.filter());
        Ok((self, f))
    }

    /// Applies `extras`: [`Self::with_garch`] and [`Self::with_surface`] for those present
    /// (start-up).
    ///
    /// # Errors
    /// Theirs.
    pub fn with_extras(self, extras: &EngineExtras) -> Result<Self, OptionsError> {
        let e = match extras.garch {
            Some(p) => self.with_garch(p)?,
            None => self,
        };
        match extras.surface {
            Some(c) => e.with_surface(c),
            None => Ok(e),
        }
    }

    /// Adds an implied-volatility surface over the chain's expiries ([`surface`]), refitted as
    /// option tickers arrive; the implied source then uses its ATM term structure (start-up).
    ///
    /// # Errors
    /// [`OptionsError::Surface`] for a setting out of range.
    pub fn with_surface(mut self, cfg: SurfaceConfig) -> Result<Self, OptionsError> {
        self.surface = Some(VolSurface::new(&self.chain, cfg)?);
        Ok(self)
    }

    /// The surface, when attached.
    #[must_use]
    pub fn surface(&self) -> Option<&VolSurface> {
        self.surface.as_ref()
    }

    /// The GARCH filter, when attached.
    #[must_use]
    pub fn garch(&self) -> Option<&Garch11> {
        self.garch.as_ref()
    }

    /// Current GARCH forecast: the mean per-sample variance over the buffer horizon
    /// (`Σ_{i=1..h} σ²ₜ₊ᵢ / h`, closed form), annualized. `None` without GARCH.
    #[must_use]
    pub fn vol_garch(&self) -> Option<f64> {
        self.garch.as_ref().map(|g| {
            let h = self.horizon_samples;
            (g.aggregate_variance(h) / f64::from(h) * self.periods_per_year).sqrt()
        })
    }

    /// The implied volatility of the configured sources at `now_ns`: the surface's ATM vol at
    /// `now_ns + buffer_horizon_days` when attached, else [`Self::atm_implied_vol`].
    #[must_use]
    pub fn implied_vol_for_buffer(&self, now_ns: u64) -> Option<f64> {
        match &self.surface {
            Some(s) => {
                let h_ns = (self.cfg.buffer_horizon_days * 86_400e9) as u64;
                s.atm_vol(now_ns.max(s.now_ns()).saturating_add(h_ns))
            }
            None => self.atm_implied_vol(now_ns),
        }
        .filter(|v| v.is_finite() && *v > 0.0)
    }

    /// The chain (read-only).
    #[must_use]
    pub fn chain(&self) -> &OptionChain {
        &self.chain
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> OptionsStats {
        self.stats
    }

    /// Hedge position, lots.
    #[must_use]
    pub fn hedge_position_lots(&self) -> i64 {
        self.hedge_position_lots
    }

    /// Position of option `id`, lots (0 when not in the chain).
    #[must_use]
    pub fn option_position_lots(&self, id: InstrumentId) -> i64 {
        self.chain_index(id)
            .map_or(0, |i| self.chain.position_lots[i])
    }

    /// Latest receive time of the events seen, ns (0 before the first).
    #[must_use]
    pub fn last_event_ns(&self) -> u64 {
        self.last_event_ns
    }

    /// Last hedge mid, USD (0 before the first valid touch).
    #[must_use]
    pub fn underlying_px(&self) -> f64 {
        self.spot_px
    }

    fn chain_index(&self, id: InstrumentId) -> Option<usize> {
        match self.index.get(id.0 as usize) {
            Some(&i) if i != NO_INDEX => Some(i as usize),
            _ => None,
        }
    }

    /// Sets the desired (base-model) position of option `id`, lots. Returns `false` when `id` is
    /// not in the chain.
    pub fn set_desired(&mut self, id: InstrumentId, lots: i64) -> bool {
        let Some(i) = self.chain_index(id) else {
            return false;
        };
        self.desired_lots[i] = lots;
        if lots != 0 {
            self.activate(i);
        }
        true
    }

    /// Adds option `i` to the active set (kept ascending; within its start-up capacity).
    fn activate(&mut self, i: usize) {
        if !self.is_active[i] {
            self.is_active[i] = true;
            let at = self.active.partition_point(|&j| (j as usize) < i);
            self.active.insert(at, i as u32);
        }
    }

    /// Sets a starting position (start-up, or reconciliation with the venue): option or hedge.
    /// Returns `false` for an unknown instrument.
    pub fn set_position(&mut self, id: InstrumentId, lots: i64) -> bool {
        if id == self.hedge.instrument {
            self.hedge_position_lots = lots;
            return true;
        }
        let Some(i) = self.chain_index(id) else {
            return false;
        };
        self.chain.position_lots[i] = lots;
        if lots != 0 {
            self.activate(i);
        }
        true
    }

    /// Current EWMA forecast, annualized.
    #[must_use]
    pub fn vol_forecast(&self) -> Option<f64> {
        self.ewma
            .variance()
            .map(|v| (v * self.periods_per_year).sqrt())
    }

    /// ATM mark IV of the nearest unexpired expiry at `now_ns` (strike nearest the expiry's
    /// forward in log distance among options with an IV; ties: the first in the chain). One
    /// pass over the chain, no logarithm: `|ln(K/F)|` orders as `max(K/F, F/K)`.
    #[must_use]
    pub fn atm_implied_vol(&self, now_ns: u64) -> Option<f64> {
        let c = &self.chain;
        let (mut best_exp, mut best, mut best_d) = (u64::MAX, None, f64::INFINITY);
        for i in 0..c.len() {
            let (e, iv) = (c.expiry_ns[i], c.mark_iv[i]);
            if e <= now_ns || e > best_exp || !(iv > 0.0) {
                continue;
            }
            let r = c.strike[i] / (self.spot_px * c.basis(c.expiry_slot(i)));
            let d = if r >= 1.0 { r } else { 1.0 / r };
            if e < best_exp {
                (best_exp, best_d, best) = (e, f64::INFINITY, None);
            }
            if d < best_d {
                best_d = d;
                best = Some(iv);
            }
        }
        best
    }

    fn sample(&mut self, now_ns: u64, mid: f64) {
        if self.last_sample_mid <= 0.0 {
            self.last_sample_mid = mid;
            self.last_sample_ns = now_ns;
            return;
        }
        let elapsed = now_ns.saturating_sub(self.last_sample_ns);
        if elapsed < self.cfg.sample_interval_ns {
            return;
        }
        let k = elapsed / self.cfg.sample_interval_ns;
        let r = (mid / self.last_sample_mid).ln() / (k as f64).sqrt();
        self.ewma.update(r);
        if let Some(g) = &mut self.garch {
            g.update(r);
        }
        self.last_sample_mid = mid;
        self.last_sample_ns += k * self.cfg.sample_interval_ns;
    }

    /// Processes one market event; orders and decisions go to `sink`. `t_ingest` is the raw clock
    /// reading of the frame's ingestion (carried into orders).
    pub fn on_event(&mut self, ev: &MarketEvent, t_ingest: u64, sink: &mut impl OptionsSink) {
        self.stats.events += 1;
        self.last_event_ns = self.last_event_ns.max(ev.recv_ns);
        if ev.instrument == self.hedge.instrument {
            match ev.kind {
                EventKind::Bbo => {
                    let inst = &self.hedge_inst;
                    let (b, a) = (inst.px_f64(ev.bid.px), inst.px_f64(ev.ask.px));
                    let ok = ev.book_valid()
                        && ev.bid.qty > 0
                        && ev.ask.qty > 0
                        && b > 0.0
                        && b < a
                        && a.is_finite();
                    self.hedge_valid = ok;
                    if !ok {
                        return;
                    }
                    self.bid_px = b;
                    self.ask_px = a;
                    self.bid_qty = inst.qty_f64(ev.bid.qty);
                    self.ask_qty = inst.qty_f64(ev.ask.qty);
                    let mid = 0.5 * (b + a);
                    if let Some(s) = &mut self.surface {
                        // Throttled expiries: at most one refit per hedge tick.
                        s.refit_due(&self.chain, ev.recv_ns);
                    }
                    let mut moved = mid != self.spot_px;
                    self.spot_px = mid;
                    if self.pending > 0 {
                        // Tickers seen before the first touch: their forwards against it.
                        for (e, f) in self.pending_fwd.iter_mut().enumerate() {
                            if *f > 0.0 {
                                self.chain.set_basis(e, *f / mid);
                                *f = 0.0;
                            }
                        }
                        self.pending = 0;
                        moved = true;
                    }
                    self.sample(ev.recv_ns, mid);
                    if moved {
                        let n = self.chain.len();
                        if self.chain.revalue(0..n, mid, ev.recv_ns).is_ok() {
                            self.stats.full_revaluations += 1;
                        }
                    }
                    self.size(ev, t_ingest, sink);
                }
                EventKind::Gap | EventKind::SnapshotBegin => self.hedge_valid = false,
                _ => {}
            }
            return;
        }
        let Some(i) = self.chain_index(ev.instrument) else {
            return;
        };
        match ev.kind {
            EventKind::OptionTicker => {
                let Some(t) = feeds::deribit::read_option_ticker(ev) else {
                    return;
                };
                let c = &mut self.chain;
                let fin = |x: f64| if x.is_finite() && x >= 0.0 { x } else { 0.0 };
                c.mark_px_coin[i] = fin(t.mark_px);
                c.mark_iv[i] = fin(t.mark_iv);
                c.bid_iv[i] = fin(t.bid_iv);
                c.ask_iv[i] = fin(t.ask_iv);
                if t.underlying_px > 0.0 && t.underlying_px.is_finite() {
                    let e = c.expiry_slot(i);
                    if self.spot_px > 0.0 {
                        c.set_basis(e, t.underlying_px / self.spot_px);
                    } else {
                        self.pending += u32::from(self.pending_fwd[e] == 0.0);
                        self.pending_fwd[e] = t.underlying_px;
                    }
                }
                if let Some(s) = &mut self.surface {
                    // The ticker's underlying price is the expiry's forward; else the hedge mid.
                    let fwd = if t.underlying_px > 0.0 && t.underlying_px.is_finite() {
                        t.underlying_px
                    } else {
                        self.spot_px
                    };
                    s.on_ticker(&self.chain, i, fwd, ev.recv_ns);
                }
                if self.spot_px > 0.0 {
                    if self
                        .chain
                        .revalue(i..i + 1, self.spot_px, ev.recv_ns)
                        .is_ok()
                    {
                        self.stats.single_revaluations += 1;
                    }
                    self.size(ev, t_ingest, sink);
                }
            }
            EventKind::Bbo => {
                let inst = &self.instruments[ev.instrument.0 as usize];
                let c = &mut self.chain;
                let valid = ev.book_valid();
                c.bid_px_coin[i] = inst.px_f64(ev.bid.px);
                c.ask_px_coin[i] = inst.px_f64(ev.ask.px);
                c.bid_qty[i] = if valid { inst.qty_f64(ev.bid.qty) } else { 0.0 };
                c.ask_qty[i] = if valid { inst.qty_f64(ev.ask.qty) } else { 0.0 };
            }
            EventKind::Gap | EventKind::SnapshotBegin => {
                self.chain.bid_qty[i] = 0.0;
                self.chain.ask_qty[i] = 0.0;
            }
            _ => {}
        }
    }

    /// Applies an execution report.
    pub fn on_fill(&mut self, f: &OptionsFill) {
        self.stats.fills += 1;
        let sign = if f.side == Side::Buy { 1 } else { -1 };
        let (pos, work) = if f.instrument == self.hedge.instrument {
            (&mut self.hedge_position_lots, &mut self.hedge_working_lots)
        } else if let Some(i) = self.chain_index(f.instrument) {
            self.activate(i);
            (
                &mut self.chain.position_lots[i],
                &mut self.chain.working_lots[i],
            )
        } else {
            return;
        };
        *pos += sign * f.filled_lots;
        *work -= sign * (f.filled_lots + f.cancelled_lots);
    }

    /// Delta of `lots` of the hedge, underlying units.
    fn hedge_delta(&self, lots: i64) -> f64 {
        let q = lots as f64 * self.hedge.lot_qty;
        match self.hedge.contract {
            Contract::Linear => q,
            Contract::Inverse => q / self.spot_px,
        }
    }

    /// Greeks of the options at position + working lots and of the desired book, in one pass
    /// over the active options.
    fn option_greeks_pair(&self) -> (PortfolioGreeks, PortfolioGreeks) {
        let c = &self.chain;
        let (mut cur, mut want) = (PortfolioGreeks::default(), PortfolioGreeks::default());
        for &i in &self.active {
            let i = i as usize;
            let (l, d) = (c.position_lots[i] + c.working_lots[i], self.desired_lots[i]);
            if (l == 0 && d == 0) || !c.status[i].is_ok() {
                continue;
            }
            let (dl, gl, vl) = (
                c.lot_qty[i] * c.delta[i],
                c.lot_qty[i] * c.gamma[i],
                c.lot_qty[i] * c.vega[i] * 0.01,
            );
            let (l, d) = (l as f64, d as f64);
            cur.delta += l * dl;
            cur.gamma += l * gl;
            cur.vega_per_vol_point += l * vl;
            want.delta += d * dl;
            want.gamma += d * gl;
            want.vega_per_vol_point += d * vl;
        }
        (cur, want)
    }

    /// Largest |hedge delta| the liquidation buffer allows for a hedge on `side`.
    fn max_hedge_delta_liquidation(&self, side: margin::Side, vol: f64) -> f64 {
        let spec = SafeSizeSpec {
            contract: self.hedge.contract,
            side,
            mark_px: self.spot_px,
            collateral: match self.hedge.contract {
                Contract::Inverse => self.cfg.collateral_coin,
                Contract::Linear => self.cfg.collateral_coin * self.spot_px,
            },
            sigma: vol / 365.0_f64.sqrt(),
            horizon: self.cfg.buffer_horizon_days,
            k: self.cfg.buffer_k,
            max_margin_ratio: self.cfg.max_margin_ratio,
        };
        match max_safe_qty(&spec, &self.tiers) {
            Ok(s) => match self.hedge.contract {
                Contract::Inverse => s.qty_buffer.min(s.qty_margin_ratio) / self.spot_px,
                Contract::Linear => s.qty_buffer.min(s.qty_margin_ratio),
            },
            Err(_) => 0.0,
        }
    }

    #[allow(clippy::too_many_arguments)] // private helper: each argument is one order field
    fn emit(
        &mut self,
        sink: &mut impl OptionsSink,
        ev: &MarketEvent,
        t_ingest: u64,
        hedge: Option<usize>,
        trade_lots: i64,
        limit_px: f64,
        reason: Constraint,
        binding: Constraint,
    ) {
        let (instrument, pos, work, lot) = match hedge {
            None => (
                self.hedge.instrument,
                self.hedge_position_lots,
                self.hedge_working_lots,
                self.hedge.lot_qty,
            ),
            Some(i) => (
                self.chain.instrument[i],
                self.chain.position_lots[i],
                self.chain.working_lots[i],
                self.chain.lot_qty[i],
            ),
        };
        let o = OptionsOrder {
            id: self.next_order_id,
            recv_ns: ev.recv_ns,
            t_ingest,
            instrument,
            is_hedge: hedge.is_none(),
            side: if trade_lots > 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            qty_lots: trade_lots.abs(),
            qty: trade_lots.abs() as f64 * lot,
            limit_px,
            reason,
            binding,
            target_lots: pos + work + trade_lots,
            position_lots: pos,
            working_lots: work,
        };
        self.next_order_id += 1;
        match hedge {
            None => self.hedge_working_lots += trade_lots,
            Some(i) => self.chain.working_lots[i] += trade_lots,
        }
        self.stats.orders += 1;
        sink.order(&o);
    }

    fn size(&mut self, ev: &MarketEvent, t_ingest: u64, sink: &mut impl OptionsSink) {
        if !(self.hedge_valid && self.spot_px > 0.0) {
            self.stats.skipped += 1;
            return;
        }
        let fc = self.vol_forecast();
        let gc = self.vol_garch();
        let needs_iv = !matches!(self.cfg.vol_source, VolSource::Forecast | VolSource::Garch);
        let iv = if needs_iv || self.surface.is_some() {
            self.implied_vol_for_buffer(ev.recv_ns)
        } else {
            None
        };
        let blend = |f: Option<f64>, w: f64| match (f, iv) {
            (Some(f), Some(i)) => Some(w * f + (1.0 - w) * i),
            _ => None,
        };
        let vol = match self.cfg.vol_source {
            VolSource::Forecast => fc,
            VolSource::Implied => iv,
            VolSource::Blend { forecast_weight: w } => blend(fc, w),
            VolSource::Garch => gc,
            VolSource::GarchBlend { forecast_weight: w } => blend(gc, w),
        };
        let Some(vol) = vol.filter(|v| v.is_finite() && *v >= 0.0) else {
            self.stats.skipped += 1;
            return;
        };
        self.stats.sizing_passes += 1;
        let hedge_cur = self.hedge_position_lots + self.hedge_working_lots;
        let (before_opt, desired) = self.option_greeks_pair();
        let mut before = before_opt;
        before.delta += self.hedge_delta(hedge_cur);

        // Scale of the option book.
        let limits = GammaVegaLimits {
            max_abs_gamma: self.cfg.max_abs_gamma,
            max_abs_vega: self.cfg.max_abs_vega_per_vol_point,
        };
        let (s_gv, gv_bound) = option_scale(&desired, &PortfolioGreeks::default(), &limits);
        // A book long delta needs a short hedge.
        let hedge_side = if desired.delta > 0.0 {
            margin::Side::Short
        } else {
            margin::Side::Long
        };
        let max_liq = self.max_hedge_delta_liquidation(hedge_side, vol);
        let max_lev = self.cfg.max_leverage * self.cfg.collateral_coin;
        let ratio = |cap: f64| {
            if desired.delta.abs() > 0.0 {
                (cap / desired.delta.abs()).min(1.0)
            } else {
                1.0
            }
        };
        let (s_liq, s_lev) = (ratio(max_liq), ratio(max_lev));
        let mut scale = 1.0;
        let mut scale_binding = Constraint::Model;
        let gv = match gv_bound {
            ScaleBound::Vega => Constraint::VegaCap,
            _ => Constraint::GammaCap,
        };
        for (s, b) in [
            (s_gv, gv),
            (s_liq, Constraint::LiquidationBuffer),
            (s_lev, Constraint::Leverage),
        ] {
            if s < scale {
                scale = s;
                scale_binding = b;
            }
        }

        let mut orders = 0u32;
        let mut opt_after = before_opt;
        // Option resizes toward desired × scale.
        for k in 0..self.active.len() {
            let i = self.active[k] as usize;
            let want = (self.desired_lots[i] as f64 * scale).trunc() as i64;
            let have = self.chain.position_lots[i] + self.chain.working_lots[i];
            if want == have || !self.chain.status[i].is_ok() {
                continue;
            }
            let cut = want.abs() < have.abs()
                || (want != 0 && have != 0 && want.signum() != have.signum());
            let mut trade = want - have;
            if !cut {
                let need =
                    (self.cfg.rebalance_frac * self.desired_lots[i].abs() as f64).ceil() as i64;
                if trade.abs() < need.max(self.chain.min_lots[i]) {
                    continue;
                }
            }
            let c = &self.chain;
            let (touch_px, touch_qty) = if trade > 0 {
                (c.ask_px_coin[i], c.ask_qty[i])
            } else {
                (c.bid_px_coin[i], c.bid_qty[i])
            };
            let (reason, mut binding) = if cut {
                (scale_binding, scale_binding)
            } else {
                // An increase toward the scaled book: the scale's constraint set its size.
                (Constraint::Model, scale_binding)
            };
            let limit_px = if touch_qty > 0.0 && touch_px > 0.0 {
                let cap = (touch_qty * self.cfg.liquidity_frac / c.lot_qty[i]).floor() as i64;
                if trade.abs() > cap {
                    trade = trade.signum() * cap;
                    binding = Constraint::Liquidity;
                }
                touch_px
            } else {
                c.mark_px_coin[i]
            };
            if trade.abs() < c.min_lots[i] || !(limit_px > 0.0) {
                self.stats.below_min += 1;
                continue;
            }
            self.emit(
                sink,
                ev,
                t_ingest,
                Some(i),
                trade,
                limit_px,
                reason,
                binding,
            );
            let (c, q) = (&self.chain, trade as f64 * self.chain.lot_qty[i]);
            opt_after.delta += q * c.delta[i];
            opt_after.gamma += q * c.gamma[i];
            opt_after.vega_per_vol_point += q * c.vega[i] * 0.01;
            orders += 1;
        }

        // Hedge: bring the delta with the option targets inside the band.
        let hedge_delta_cur = self.hedge_delta(hedge_cur);
        let total = opt_after.delta + hedge_delta_cur;
        let dd = band_hedge(total, 0.0, self.cfg.delta_band, self.cfg.hedge_to);
        let mut hedge_cap_lots = -1;
        let mut hedge_target = hedge_cur;
        if dd != 0.0 {
            let per_lot = self.hedge_delta(1);
            let mut lots = dd / per_lot;
            let mut binding = Constraint::DeltaBand;
            // Cap the resulting hedge delta.
            let target_delta = hedge_delta_cur + dd;
            let side = if target_delta < 0.0 {
                margin::Side::Short
            } else {
                margin::Side::Long
            };
            let cap_liq = self.max_hedge_delta_liquidation(side, vol);
            let (cap, cap_b) = if cap_liq <= max_lev {
                (cap_liq, Constraint::LiquidationBuffer)
            } else {
                (max_lev, Constraint::Leverage)
            };
            if target_delta.abs() > cap {
                let capped = cap.copysign(target_delta);
                lots = (capped - hedge_delta_cur) / per_lot;
                binding = cap_b;
            }
            // A band trade rounds away from zero (so delta lands inside the band); a capped one
            // toward zero (so the cap holds).
            let mut trade = if binding == Constraint::DeltaBand {
                let l = lots.abs().ceil().max(self.hedge.min_lots as f64);
                l.copysign(lots) as i64
            } else {
                lots.trunc() as i64
            };
            let touch_qty = if trade > 0 {
                self.ask_qty
            } else {
                self.bid_qty
            };
            let cap_lots =
                (touch_qty * self.cfg.liquidity_frac / self.hedge.lot_qty).floor() as i64;
            hedge_cap_lots = cap_lots;
            if trade.abs() > cap_lots {
                trade = trade.signum() * cap_lots;
                binding = Constraint::Liquidity;
            }
            if trade != 0 && trade.abs() >= self.hedge.min_lots {
                let px = if trade > 0 { self.ask_px } else { self.bid_px };
                self.emit(
                    sink,
                    ev,
                    t_ingest,
                    None,
                    trade,
                    px,
                    Constraint::DeltaBand,
                    binding,
                );
                hedge_target = hedge_cur + trade;
                orders += 1;
            } else {
                self.stats.below_min += 1;
            }
        }
        if orders == 0 {
            return;
        }
        let mut after = opt_after;
        after.delta += self.hedge_delta(hedge_target);
        let (mut b_lo, mut b_hi) = (f64::INFINITY, 0.0_f64);
        for e in 0..self.chain.expiry_count() {
            let b = self.chain.basis(e);
            b_lo = b_lo.min(b);
            b_hi = b_hi.max(b);
        }
        let d = Decision {
            recv_ns: ev.recv_ns,
            trigger: ev.instrument,
            underlying_px: self.spot_px,
            vol_forecast: fc.unwrap_or(f64::NAN),
            vol_garch: gc.unwrap_or(f64::NAN),
            vol_implied: iv.unwrap_or(f64::NAN),
            vol_used: vol,
            forward_lo: if b_hi > 0.0 {
                self.spot_px * b_lo
            } else {
                self.spot_px
            },
            forward_hi: if b_hi > 0.0 {
                self.spot_px * b_hi
            } else {
                self.spot_px
            },
            before,
            after,
            desired,
            delta_band: self.cfg.delta_band,
            max_abs_gamma: self.cfg.max_abs_gamma,
            max_abs_vega: self.cfg.max_abs_vega_per_vol_point,
            scale_gamma_vega: s_gv,
            scale_liquidation: s_liq,
            scale_leverage: s_lev,
            scale,
            scale_binding,
            max_hedge_delta_liquidation: max_liq,
            max_hedge_delta_leverage: max_lev,
            hedge_liquidity_cap_lots: hedge_cap_lots,
            hedge_lots_before: hedge_cur,
            hedge_lots_after: hedge_target,
            orders,
        };
        self.stats.decisions += 1;
        sink.decision(&d);
    }
}
