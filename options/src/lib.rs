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
//! The constraints are `risk_core::policy` chains ([`SizingPolicy`]), built at start-up, so
//! that the options engine, the single-instrument vol-target sizer and the other kernels share
//! one constraint system and one explanation: the *book* policy sizes one unit of the desired
//! book (its Greeks the unit's) from `Fixed { qty: 1 }` through `gamma_limit`, `vega_limit`,
//! the liquidation buffer of the book's hedge and the hedge's leverage; the *hedge* policy,
//! in underlying units, holds the hedge and moves it by the delta band, then caps it by its
//! liquidation buffer and leverage. Each order's [`Constraint`] is the binding step of the
//! decision that sized it ([`Constraint::from_binding`]; one to one with the policy's
//! `ConstraintKind`, [`Constraint::kind`]), except [`Constraint::Liquidity`], the touch cap
//! applied to an order's lots after the policy.
//!
//! The base model is a configured option book (`desired` lots per option,
//! [`OptionsEngine::set_desired`]). A scale `s ∈ [0, 1]` applied to it is the smallest of: the
//! gamma and vega caps (`policy::Constraint::GammaLimit`/`VegaLimit` on the book's Greeks), the
//! liquidation buffer of the hedge that would neutralize the scaled book's delta (inverse or
//! linear margin model, [`max_safe_qty`](risk_core::margin::max_safe_qty): the liquidation price
//! stays `k σ √h` away from the mark, σ from the configured [`VolSource`]: EWMA or GARCH
//! forecast, implied (the surface's ATM term structure at the horizon), or a blend), and the
//! leverage cap (|hedge notional| ≤ `max_leverage` × collateral). Options are resized toward
//! `desired × s` (cuts at once; increases only once they reach `rebalance_frac` of the desired
//! size). Then the portfolio delta, with the option targets, is brought back inside
//! `±delta_band` by a hedge order, itself capped by the liquidation buffer and leverage. Every
//! order is capped to `liquidity_frac` of the quantity displayed at the touch, truncated to lots,
//! and dropped below the minimum size; each names the constraint that triggered it
//! ([`OptionsOrder::reason`]) and the one that set its size ([`OptionsOrder::binding`]). Each
//! sizing pass that sends orders yields one [`Decision`] with its inputs, the portfolio Greeks
//! before and after and every constraint's value. The pass lives in `sizing`, the event
//! handling in `event`.
//!
//! Units: delta in underlying units (coins), gamma per USD, vega per volatility point in USD,
//! hedge lots in base units (linear: coins) or USD face (inverse). The options' own margin is not
//! modelled: the collateral backs the hedge. No allocation after start-up.

#![forbid(unsafe_code)]

pub mod chain;
mod event;
pub mod kernel;
pub mod log;
mod order;
mod sizing;
pub mod surface;
pub mod synthetic;

use feeds::{Instrument, InstrumentId, Registry};
use risk_core::greeks_limits::HedgeTo;
use risk_core::margin::{Contract, MarginTiers};
use risk_core::policy::{
    self, BaseModel, ConstraintKind, DeltaExposure, SizingPolicy, MAX_CONSTRAINTS,
};
use risk_core::vol::garch::{self, GarchError};
use risk_core::vol::{Ewma, Garch11, Garch11Params, GarchFit};

pub use chain::{OptionChain, OptionSpec};
pub use order::{Decision, OptionsFill, OptionsOrder, OptionsSink};
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
    /// The constraint named by a policy step's kind (`None` for the kinds the options engine's
    /// policies do not use). The inverse of [`Constraint::kind`].
    #[must_use]
    pub const fn from_kind(kind: ConstraintKind) -> Option<Self> {
        match kind {
            ConstraintKind::DeltaBand => Some(Self::DeltaBand),
            ConstraintKind::GammaLimit => Some(Self::GammaCap),
            ConstraintKind::VegaLimit => Some(Self::VegaCap),
            ConstraintKind::LiquidationBuffer => Some(Self::LiquidationBuffer),
            ConstraintKind::MaxLeverage => Some(Self::Leverage),
            _ => None,
        }
    }

    /// The policy step kind this constraint reports: `None` for [`Constraint::Model`] (the base
    /// model) and [`Constraint::Liquidity`] (the touch cap on the lots of an order, applied
    /// after the policy).
    #[must_use]
    pub const fn kind(self) -> Option<ConstraintKind> {
        match self {
            Self::Model => None,
            Self::DeltaBand => Some(ConstraintKind::DeltaBand),
            Self::GammaCap => Some(ConstraintKind::GammaLimit),
            Self::VegaCap => Some(ConstraintKind::VegaLimit),
            Self::LiquidationBuffer => Some(ConstraintKind::LiquidationBuffer),
            Self::Leverage => Some(ConstraintKind::MaxLeverage),
            Self::Liquidity => None,
        }
    }

    /// The constraint a policy decision's binding step names ([`Constraint::Model`] for the
    /// base model, and for a kind outside [`Constraint::from_kind`], which the engine's
    /// policies do not hold).
    #[must_use]
    pub fn from_binding(b: policy::Binding) -> Self {
        match b {
            policy::Binding::Base => Self::Model,
            policy::Binding::Constraint { kind, .. } => {
                Self::from_kind(kind).unwrap_or(Self::Model)
            }
        }
    }

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

/// Steps of the book-scale policy, in chain order: gamma cap, vega cap, liquidation buffer of
/// the book's hedge, leverage of the book's hedge.
const BOOK_STEPS: [ConstraintKind; 4] = [
    ConstraintKind::GammaLimit,
    ConstraintKind::VegaLimit,
    ConstraintKind::LiquidationBuffer,
    ConstraintKind::MaxLeverage,
];

/// Steps of the hedge policy, in chain order: delta band, liquidation buffer, leverage.
const HEDGE_STEPS: [ConstraintKind; 3] = [
    ConstraintKind::DeltaBand,
    ConstraintKind::LiquidationBuffer,
    ConstraintKind::MaxLeverage,
];

const _: () = assert!(BOOK_STEPS.len() <= MAX_CONSTRAINTS && HEDGE_STEPS.len() <= MAX_CONSTRAINTS);

/// The two policies of `cfg` for a hedge of `contract`: the book's scale and the hedge.
fn policies(
    cfg: &OptionsConfig,
    contract: Contract,
    tiers: MarginTiers,
) -> Result<(SizingPolicy, SizingPolicy), OptionsError> {
    use policy::Constraint as C;
    let buffer = |exposure| C::DeltaLiquidationBuffer {
        tiers,
        k: cfg.buffer_k,
        horizon_days: cfg.buffer_horizon_days,
        max_margin_ratio: cfg.max_margin_ratio,
        exposure,
    };
    let leverage = C::DeltaLeverage {
        max_abs_delta: cfg.max_leverage * cfg.collateral_coin,
    };
    let book = [
        C::GammaLimit {
            max_abs: cfg.max_abs_gamma,
        },
        C::VegaLimit {
            max_abs: cfg.max_abs_vega_per_vol_point,
        },
        buffer(DeltaExposure::Hedge),
        leverage,
    ];
    let hedge = [
        C::DeltaBand {
            half_width: cfg.delta_band,
            to: cfg.hedge_to,
        },
        buffer(DeltaExposure::Position),
        leverage,
    ];
    debug_assert!(book.iter().map(C::kind).eq(BOOK_STEPS));
    debug_assert!(hedge.iter().map(C::kind).eq(HEDGE_STEPS));
    // The configuration was checked above: a refusal here is an out-of-range product.
    let bad = |_| OptionsError::Config("max_leverage");
    Ok((
        SizingPolicy::new(contract, BaseModel::Fixed { qty: 1.0 }, &book).map_err(bad)?,
        SizingPolicy::new(contract, BaseModel::Hold, &hedge).map_err(bad)?,
    ))
}
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
    /// The option book's scale: a fixed book of one unit (Greeks: the desired book's) under
    /// [`BOOK_STEPS`].
    book_policy: SizingPolicy,
    /// The hedge, in underlying units: hold, under [`HEDGE_STEPS`].
    hedge_policy: SizingPolicy,
    /// The last decisions of the two policies (kept here: no copy of the step records per pass).
    book_decision: policy::Decision,
    hedge_decision: policy::Decision,
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
        let (book_policy, hedge_policy) = policies(&cfg, hedge.contract, tiers)?;
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
            book_policy,
            hedge_policy,
            book_decision: policy::Decision::default(),
            hedge_decision: policy::Decision::default(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_name_policy_steps_one_to_one() {
        for c in [
            Constraint::Model,
            Constraint::DeltaBand,
            Constraint::GammaCap,
            Constraint::VegaCap,
            Constraint::LiquidationBuffer,
            Constraint::Leverage,
            Constraint::Liquidity,
        ] {
            match c.kind() {
                Some(kind) => assert_eq!(Constraint::from_kind(kind), Some(c)),
                None => assert!(matches!(c, Constraint::Model | Constraint::Liquidity)),
            }
        }
        assert_eq!(
            Constraint::from_binding(policy::Binding::Base),
            Constraint::Model
        );
        assert_eq!(
            BOOK_STEPS.map(Constraint::from_kind)[3],
            Some(Constraint::Leverage)
        );
        assert_eq!(
            HEDGE_STEPS.map(Constraint::from_kind)[0],
            Some(Constraint::DeltaBand)
        );
    }
}
