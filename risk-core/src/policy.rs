//! Sizing policy: a base model followed by a chain of constraints, with an explanation of every
//! decision — the target position, which step bound it and each step's value — so that every
//! order can say why it has its size.
//!
//! # Evaluation
//! 1. The base model gives a signed target position `t₀` in instrument units (base units for a
//!    linear contract, quote face value for an inverse one; see [`crate::margin`]).
//! 2. Each constraint, in chain order, either gives an interval `[lo, hi]` of allowed target
//!    positions and clamps the running target into it (leverage, notional, Greeks, liquidation
//!    buffer, liquidity, pool), or adjusts it (minimum trade size, lot rounding).
//! 3. The step that last changed the target is the *binding* step; the last interval step that
//!    changed it is the binding *limit* (rounding can move the target after it).
//!
//! A position need not be a quantity of one instrument: a delta hedge can be sized in underlying
//! units (its delta, `unit_greeks.delta = 1`) and an option book by its scale (one unit = the
//! whole desired book, `unit_greeks` = the book's Greeks). The delta steps
//! ([`Constraint::DeltaBand`], [`Constraint::DeltaLeverage`],
//! [`Constraint::DeltaLiquidationBuffer`]) are written for those two uses.
//!
//! Every step's interval and the target before and after it are recorded in a fixed-capacity
//! array: [`SizingPolicy::evaluate`] allocates nothing and never returns NaN — invalid inputs are
//! a [`PolicyError`] (decline to size), not a number.

use crate::greeks_limits::{abs_limit_interval, band_hedge, HedgeTo, PortfolioGreeks};
use crate::liquidity::{max_qty_unchecked, pool_cap_notional, Level, SqrtImpact, TradeSide};
use crate::margin::deribit::{max_safe_face, DeribitRates};
use crate::margin::{max_safe_qty, Contract, MarginTiers, SafeSizeSpec, Side};
use crate::vol_target::{VolTarget, VolTargetBound};
use thiserror::Error;

/// Most constraints in a chain.
pub const MAX_CONSTRAINTS: usize = 16;

/// The model that proposes a position before constraints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BaseModel {
    /// A fixed signed position in instrument units.
    Fixed {
        /// Position (instrument units, signed).
        qty: f64,
    },
    /// Fractional continuous Kelly on the instrument: notional = `c (μ − r) / σ²` × capital,
    /// with μ, r and σ annualized ([`SizingInputs::expected_return`], [`SizingInputs::rf`],
    /// [`SizingInputs::forecast_vol`]).
    Kelly {
        /// Kelly fraction `c ∈ (0, 1]`.
        fraction: f64,
    },
    /// Volatility targeting: notional = leverage × capital × direction, the leverage from
    /// [`VolTarget::leverage`]; inside the hysteresis band the current position is kept.
    VolTarget(VolTarget),
    /// A risk-parity weight computed off the tick (see [`crate::risk_parity`]): notional =
    /// `weight × leverage × capital × direction`.
    RiskParity {
        /// Weight of this instrument in the risk-parity portfolio.
        weight: f64,
        /// Gross leverage of the portfolio.
        leverage: f64,
    },
    /// The current position ([`SizingInputs::current_qty`]): only the constraints move it (a
    /// delta hedge whose trades come from [`Constraint::DeltaBand`]).
    Hold,
}

/// Whose delta a delta step margins: the position itself, or the delta-one hedge that
/// neutralizes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaExposure {
    /// The position is the delta-one exposure (a hedge sized in underlying units): a long
    /// position is margined as a long.
    Position,
    /// The position is hedged by a delta-one contract of the opposite delta (an option book
    /// sized by its scale): a position long delta is margined as a short hedge.
    Hedge,
}

/// One step of the chain.
// The margin schedule is kept inline (not boxed) so that a policy is `Copy`, is built without
// allocation and is evaluated without following a pointer.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constraint {
    /// `|notional| ≤ max × capital`.
    MaxLeverage {
        /// Largest leverage (multiple of capital).
        max: f64,
    },
    /// `|notional| ≤ max` (quote).
    MaxNotional {
        /// Largest notional in quote.
        max: f64,
    },
    /// `|Δ_other + q δ_unit| ≤ max_abs` for the underlying's delta.
    DeltaLimit {
        /// Largest |delta| of the underlying, in underlying units.
        max_abs: f64,
    },
    /// `|Γ_other + q γ_unit| ≤ max_abs`.
    GammaLimit {
        /// Largest |gamma|.
        max_abs: f64,
    },
    /// `|V_other + q v_unit| ≤ max_abs` (per vol point).
    VegaLimit {
        /// Largest |vega| per vol point.
        max_abs: f64,
    },
    /// The liquidation price stays `k σ √horizon` away from the mark and the margin ratio at
    /// the mark stays ≤ `max_margin_ratio` ([`max_safe_qty`]), the position treated as opened at
    /// the mark with [`SizingInputs::collateral`].
    LiquidationBuffer {
        /// Maintenance-margin brackets.
        tiers: MarginTiers,
        /// Standard deviations of buffer.
        k: f64,
        /// Horizon in years (σ is annualized), e.g. 1/365 for a day.
        horizon_years: f64,
        /// Highest margin ratio at the mark, in (0, 1].
        max_margin_ratio: f64,
    },
    /// The trade `target − current` stays within `max_slippage_bps` of the mid: by walking the
    /// L2 book when one is given, else by the square-root impact model; the allowed trade is
    /// multiplied by the order-flow multipliers of the inputs.
    Liquidity {
        /// Slippage limit of the average fill, in bps of the mid.
        max_slippage_bps: f64,
        /// Fallback model when [`SizingInputs::book`] is `None` (no book and no model: the
        /// trade is not allowed).
        impact: Option<SqrtImpact>,
    },
    /// `|notional| ≤` the pool cap ([`pool_cap_notional`]) from
    /// [`SizingInputs::pool_liquidity`] and [`SizingInputs::open_interest`].
    PoolCap {
        /// Largest share of the pool's available liquidity.
        max_share: f64,
        /// Open-interest limit of the side (quote), if the venue publishes one.
        oi_limit: Option<f64>,
    },
    /// A trade smaller than `min_qty` is not made (the current position is kept).
    MinTradeSize {
        /// Smallest trade, instrument units.
        min_qty: f64,
    },
    /// Round the target toward zero to a multiple of `lot` (never increases |target|).
    LotRounding {
        /// Lot size, instrument units.
        lot: f64,
    },
    /// Band hedging with hysteresis: while the portfolio delta at the target,
    /// `Δ_other + t δ_unit`, is within `±half_width` the target is kept; outside, the target
    /// moves by `d / δ_unit`, `d` the delta that brings it back to the band's edge or to its
    /// centre ([`band_hedge`]). An adjustment: a unit without delta is left alone.
    DeltaBand {
        /// Half-width of the no-hedge band around zero delta, underlying units.
        half_width: f64,
        /// Back to the band's edge or to its centre.
        to: HedgeTo,
    },
    /// The leverage of the position's delta: `|t δ_unit| ≤ max_abs_delta`, underlying units
    /// (largest leverage × collateral in underlying units; a unit without delta is unbounded).
    /// Reported as [`ConstraintKind::MaxLeverage`].
    DeltaLeverage {
        /// Largest |delta| of the position, underlying units.
        max_abs_delta: f64,
    },
    /// The liquidation buffer of the delta-one contract (the policy's [`Contract`], at the mark
    /// with [`SizingInputs::collateral`]) that carries the position's delta: `|t δ_unit| ≤` the
    /// safe size of [`max_safe_qty`] in underlying units (an inverse contract's face value over
    /// the mark), σ per √day = `forecast_vol / √365`. The side margined is the exposure's (see
    /// [`DeltaExposure`]) on the side of zero the target is on (a target of 0 counts as
    /// positive); inputs the margin model rejects give a safe size of 0.
    /// Reported as [`ConstraintKind::LiquidationBuffer`].
    DeltaLiquidationBuffer {
        /// Maintenance-margin brackets.
        tiers: MarginTiers,
        /// Standard deviations of buffer.
        k: f64,
        /// Horizon, days.
        horizon_days: f64,
        /// Highest margin ratio at the mark, in (0, 1].
        max_margin_ratio: f64,
        /// Whose delta is margined.
        exposure: DeltaExposure,
    },
    /// Deribit's standard margin of an inverse future ([`max_safe_face`]): the account stays
    /// above maintenance for every price within `k σ √horizon` of the mark (both ends), the
    /// maintenance margin at the mark stays within `max_margin_ratio` of
    /// [`SizingInputs::collateral`], and the initial margin at the mark fits it. The collateral
    /// is the account's available balance for this position (equity minus the other positions'
    /// initial margin), coin; the policy's contract must be inverse.
    /// Reported as [`ConstraintKind::LiquidationBuffer`].
    DeribitMargin {
        /// The currency's rates.
        rates: DeribitRates,
        /// Standard deviations of buffer.
        k: f64,
        /// Horizon in years (σ is annualized).
        horizon_years: f64,
        /// Highest maintenance margin over the collateral at the mark, in (0, 1].
        max_margin_ratio: f64,
    },
}

/// The kind of a step, for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// [`Constraint::MaxLeverage`].
    MaxLeverage,
    /// [`Constraint::MaxNotional`].
    MaxNotional,
    /// [`Constraint::DeltaLimit`].
    DeltaLimit,
    /// [`Constraint::GammaLimit`].
    GammaLimit,
    /// [`Constraint::VegaLimit`].
    VegaLimit,
    /// [`Constraint::LiquidationBuffer`].
    LiquidationBuffer,
    /// [`Constraint::Liquidity`].
    Liquidity,
    /// [`Constraint::PoolCap`].
    PoolCap,
    /// [`Constraint::MinTradeSize`].
    MinTradeSize,
    /// [`Constraint::LotRounding`].
    LotRounding,
    /// [`Constraint::DeltaBand`].
    DeltaBand,
}

impl ConstraintKind {
    /// A short snake-case name (for logs and order tags).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::MaxLeverage => "max_leverage",
            Self::MaxNotional => "max_notional",
            Self::DeltaLimit => "delta_limit",
            Self::GammaLimit => "gamma_limit",
            Self::VegaLimit => "vega_limit",
            Self::LiquidationBuffer => "liquidation_buffer",
            Self::Liquidity => "liquidity",
            Self::PoolCap => "pool_cap",
            Self::MinTradeSize => "min_trade_size",
            Self::LotRounding => "lot_rounding",
            Self::DeltaBand => "delta_band",
        }
    }

    /// Whether the step is an interval limit (as opposed to an adjustment).
    #[must_use]
    pub fn is_limit(self) -> bool {
        !matches!(
            self,
            Self::MinTradeSize | Self::LotRounding | Self::DeltaBand
        )
    }
}

impl Constraint {
    /// Its kind.
    #[must_use]
    pub fn kind(&self) -> ConstraintKind {
        match self {
            Self::MaxLeverage { .. } => ConstraintKind::MaxLeverage,
            Self::MaxNotional { .. } => ConstraintKind::MaxNotional,
            Self::DeltaLimit { .. } => ConstraintKind::DeltaLimit,
            Self::GammaLimit { .. } => ConstraintKind::GammaLimit,
            Self::VegaLimit { .. } => ConstraintKind::VegaLimit,
            Self::LiquidationBuffer { .. } => ConstraintKind::LiquidationBuffer,
            Self::Liquidity { .. } => ConstraintKind::Liquidity,
            Self::PoolCap { .. } => ConstraintKind::PoolCap,
            Self::MinTradeSize { .. } => ConstraintKind::MinTradeSize,
            Self::LotRounding { .. } => ConstraintKind::LotRounding,
            Self::DeltaBand { .. } => ConstraintKind::DeltaBand,
            Self::DeltaLeverage { .. } => ConstraintKind::MaxLeverage,
            Self::DeltaLiquidationBuffer { .. } | Self::DeribitMargin { .. } => {
                ConstraintKind::LiquidationBuffer
            }
        }
    }
}

/// A bid and an ask side, best first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BookView<'a> {
    /// Bids, descending prices.
    pub bids: &'a [Level],
    /// Asks, ascending prices.
    pub asks: &'a [Level],
}

/// Everything a policy reads on a tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingInputs<'a> {
    /// Account equity in quote.
    pub capital: f64,
    /// Margin collateral for the liquidation buffer (quote for linear, coin for inverse; for
    /// cross margin see [`crate::margin::MarginMode::effective_collateral`]).
    pub collateral: f64,
    /// Mark price.
    pub mark_px: f64,
    /// Current position, instrument units (signed).
    pub current_qty: f64,
    /// Direction of the signal for vol-target and risk-parity bases (its sign is used).
    pub direction: f64,
    /// Annualized expected return μ (Kelly).
    pub expected_return: f64,
    /// Annualized risk-free rate r (Kelly).
    pub rf: f64,
    /// Annualized volatility forecast σ.
    pub forecast_vol: f64,
    /// Greeks of the underlying excluding this instrument.
    pub other_greeks: PortfolioGreeks,
    /// Greeks of one unit of this instrument (delta 1 for the underlying itself).
    pub unit_greeks: PortfolioGreeks,
    /// The L2 book, if known.
    pub book: Option<BookView<'a>>,
    /// Order-flow multiplier for buys, in [0, 1] (1 = no signal).
    pub flow_multiplier_buy: f64,
    /// Order-flow multiplier for sells, in [0, 1].
    pub flow_multiplier_sell: f64,
    /// Available liquidity of the venue's pool (quote).
    pub pool_liquidity: f64,
    /// Open interest of the side (quote).
    pub open_interest: f64,
}

impl Default for SizingInputs<'_> {
    fn default() -> Self {
        Self {
            capital: 0.0,
            collateral: 0.0,
            mark_px: 0.0,
            current_qty: 0.0,
            direction: 1.0,
            expected_return: 0.0,
            rf: 0.0,
            forecast_vol: 0.0,
            other_greeks: PortfolioGreeks::default(),
            unit_greeks: PortfolioGreeks {
                delta: 1.0,
                gamma: 0.0,
                vega_per_vol_point: 0.0,
            },
            book: None,
            flow_multiplier_buy: 1.0,
            flow_multiplier_sell: 1.0,
            pool_liquidity: 0.0,
            open_interest: 0.0,
        }
    }
}

/// Why a policy declined to size (small and `Copy`: it crosses the hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// More than [`MAX_CONSTRAINTS`] steps.
    #[error("more than {MAX_CONSTRAINTS} constraints")]
    TooManyConstraints,
    /// A policy parameter is invalid (step index, or `None` for the base model).
    #[error("invalid parameter in step {0:?}")]
    BadParameter(Option<u8>),
    /// An input needed by the base model or a step is missing, non-finite or non-positive.
    #[error("invalid input: {0}")]
    BadInput(&'static str),
}

/// What one step saw and did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRecord {
    /// The step's kind.
    pub kind: ConstraintKind,
    /// Lowest allowed target (−∞ when unbounded below, or not evaluated: of the liquidation
    /// buffer and liquidity limits only the side the target moves toward is computed; for
    /// adjustments, the target before).
    pub lo: f64,
    /// Highest allowed target (+∞ when unbounded above; for adjustments, the target after).
    pub hi: f64,
    /// Target before the step.
    pub before: f64,
    /// Target after the step.
    pub after: f64,
    /// The step's limit in its own units where it has one that is not a position: the largest
    /// |delta| of [`Constraint::DeltaLeverage`] and [`Constraint::DeltaLiquidationBuffer`]
    /// (underlying units), the band's half-width of [`Constraint::DeltaBand`]; +∞ otherwise.
    pub limit: f64,
}

impl StepRecord {
    /// Whether the step changed the target.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.after != self.before
    }
}

/// Which step set the final size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// No step changed the base model's target.
    Base,
    /// Step `index` of the chain (the last one that changed the target).
    Constraint {
        /// Zero-based position in the chain.
        index: u8,
        /// Its kind.
        kind: ConstraintKind,
    },
}

/// A sizing decision with its explanation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Target position, instrument units (signed, finite).
    pub target_qty: f64,
    /// The base model's proposal.
    pub base_qty: f64,
    /// Whether the vol-target hysteresis kept the current position as the base.
    pub base_held: bool,
    /// Which leverage bound set a vol-target base ([`VolTarget::leverage`]);
    /// [`VolTargetBound::Model`] for the other bases.
    pub base_bound: VolTargetBound,
    /// The step that last changed the target.
    pub binding: Binding,
    /// The last interval limit that changed the target (rounding may act after it).
    pub binding_limit: Binding,
    steps: [StepRecord; MAX_CONSTRAINTS],
    n_steps: u8,
}

impl Default for Decision {
    fn default() -> Self {
        Self {
            target_qty: 0.0,
            base_qty: 0.0,
            base_held: false,
            base_bound: VolTargetBound::Model,
            binding: Binding::Base,
            binding_limit: Binding::Base,
            steps: [EMPTY_STEP; MAX_CONSTRAINTS],
            n_steps: 0,
        }
    }
}

impl Decision {
    /// The record of every step, in chain order.
    #[must_use]
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps[..usize::from(self.n_steps)]
    }

    /// The trade to send: `target − current`.
    #[must_use]
    pub fn trade_qty(&self, current_qty: f64) -> f64 {
        self.target_qty - current_qty
    }
}

/// A base model and its constraint chain (fixed capacity, `Copy`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizingPolicy {
    /// Contract type of the instrument (sets the units, see the module docs).
    pub contract: Contract,
    /// The base model.
    pub base: BaseModel,
    chain: [Option<Constraint>; MAX_CONSTRAINTS],
    len: u8,
}

const EMPTY_STEP: StepRecord = StepRecord {
    kind: ConstraintKind::MaxLeverage,
    lo: 0.0,
    hi: 0.0,
    before: 0.0,
    after: 0.0,
    limit: 0.0,
};

fn pos(x: f64) -> bool {
    x > 0.0 && x.is_finite()
}

fn nonneg(x: f64) -> bool {
    x >= 0.0 && x.is_finite()
}

impl SizingPolicy {
    /// A policy with validated parameters.
    ///
    /// # Errors
    /// [`PolicyError::TooManyConstraints`], [`PolicyError::BadParameter`] for a non-positive
    /// limit, lot or leverage, a Kelly fraction outside (0, 1], a margin ratio outside (0, 1].
    pub fn new(
        contract: Contract,
        base: BaseModel,
        chain: &[Constraint],
    ) -> Result<Self, PolicyError> {
        if chain.len() > MAX_CONSTRAINTS {
            return Err(PolicyError::TooManyConstraints);
        }
        let base_ok = match base {
            BaseModel::Fixed { qty } => qty.is_finite(),
            BaseModel::Kelly { fraction } => fraction > 0.0 && fraction <= 1.0,
            BaseModel::VolTarget(v) => {
                pos(v.target_vol)
                    && nonneg(v.min_leverage)
                    && v.max_leverage.is_finite()
                    && v.max_leverage >= v.min_leverage
                    && nonneg(v.band)
            }
            BaseModel::RiskParity { weight, leverage } => nonneg(weight) && nonneg(leverage),
            BaseModel::Hold => true,
        };
        if !base_ok {
            return Err(PolicyError::BadParameter(None));
        }
        let mut arr = [None; MAX_CONSTRAINTS];
        for (i, c) in chain.iter().enumerate() {
            let ok = match *c {
                Constraint::MaxLeverage { max } | Constraint::MaxNotional { max } => nonneg(max),
                Constraint::DeltaLimit { max_abs }
                | Constraint::GammaLimit { max_abs }
                | Constraint::VegaLimit { max_abs } => max_abs >= 0.0, // +∞: no limit
                Constraint::LiquidationBuffer {
                    k,
                    horizon_years,
                    max_margin_ratio,
                    ..
                } => {
                    nonneg(k)
                        && nonneg(horizon_years)
                        && max_margin_ratio > 0.0
                        && max_margin_ratio <= 1.0
                }
                Constraint::Liquidity {
                    max_slippage_bps,
                    impact,
                } => {
                    nonneg(max_slippage_bps)
                        && impact
                            .is_none_or(|m| pos(m.adv_qty) && nonneg(m.y) && nonneg(m.daily_vol))
                }
                Constraint::PoolCap {
                    max_share,
                    oi_limit,
                } => nonneg(max_share) && oi_limit.is_none_or(nonneg),
                Constraint::MinTradeSize { min_qty } => nonneg(min_qty),
                Constraint::LotRounding { lot } => pos(lot),
                Constraint::DeltaBand { half_width, .. } => nonneg(half_width),
                Constraint::DeltaLeverage { max_abs_delta } => max_abs_delta >= 0.0,
                Constraint::DeltaLiquidationBuffer {
                    k,
                    horizon_days,
                    max_margin_ratio,
                    ..
                } => {
                    nonneg(k)
                        && nonneg(horizon_days)
                        && max_margin_ratio > 0.0
                        && max_margin_ratio <= 1.0
                }
                Constraint::DeribitMargin {
                    rates,
                    k,
                    horizon_years,
                    max_margin_ratio,
                } => {
                    contract == Contract::Inverse
                        && rates.check().is_ok()
                        && nonneg(k)
                        && nonneg(horizon_years)
                        && max_margin_ratio > 0.0
                        && max_margin_ratio <= 1.0
                }
            };
            if !ok {
                return Err(PolicyError::BadParameter(u8::try_from(i).ok()));
            }
            arr[i] = Some(*c);
        }
        // chain.len() ≤ 16 was checked above.
        let len = u8::try_from(chain.len()).map_err(|_| PolicyError::TooManyConstraints)?;
        Ok(Self {
            contract,
            base,
            chain: arr,
            len,
        })
    }

    /// The chain.
    pub fn constraints(&self) -> impl Iterator<Item = &Constraint> {
        self.chain[..usize::from(self.len)].iter().flatten()
    }

    /// Sets step `index`, a [`Constraint::MinTradeSize`], to `min_qty` (a minimum notional's
    /// quantity moves with the price), without rebuilding the chain.
    ///
    /// # Errors
    /// [`PolicyError::BadParameter`] when step `index` is not a minimum trade or `min_qty` is
    /// negative or not finite.
    pub fn set_min_trade(&mut self, index: usize, min_qty: f64) -> Result<(), PolicyError> {
        let bad = PolicyError::BadParameter(u8::try_from(index).ok());
        match self.chain.get_mut(index) {
            Some(Some(Constraint::MinTradeSize { min_qty: m }))
                if index < usize::from(self.len) && min_qty >= 0.0 && min_qty.is_finite() =>
            {
                *m = min_qty;
                Ok(())
            }
            _ => Err(bad),
        }
    }

    /// The same policy without step `index` (for what-if analysis and tests).
    #[must_use]
    pub fn without(&self, index: usize) -> Self {
        let mut out = *self;
        let n = usize::from(self.len);
        if index < n {
            out.chain[index..n].rotate_left(1);
            out.chain[n - 1] = None;
            out.len -= 1;
        }
        out
    }

    /// Quote notional of `qty` instrument units at `mark_px`.
    #[inline]
    fn notional_per_unit(&self, mark_px: f64) -> f64 {
        match self.contract {
            Contract::Linear => mark_px,
            Contract::Inverse => 1.0,
        }
    }

    fn base_qty(&self, x: &SizingInputs<'_>) -> Result<(f64, bool, VolTargetBound), PolicyError> {
        let npu = self.notional_per_unit(x.mark_px);
        let dir = if x.direction > 0.0 {
            1.0
        } else if x.direction < 0.0 {
            -1.0
        } else {
            0.0
        };
        let mut bound = VolTargetBound::Model;
        let (q, held) = match self.base {
            BaseModel::Fixed { qty } => (qty, false),
            BaseModel::Hold => (x.current_qty, false),
            BaseModel::Kelly { fraction } => {
                if !pos(x.forecast_vol) {
                    return Err(PolicyError::BadInput("forecast_vol"));
                }
                if !x.expected_return.is_finite() || !x.rf.is_finite() {
                    return Err(PolicyError::BadInput("expected_return"));
                }
                let f = fraction * (x.expected_return - x.rf) / (x.forecast_vol * x.forecast_vol);
                (f * x.capital / npu, false)
            }
            BaseModel::VolTarget(vt) => {
                let (lev, b) = vt
                    .leverage(x.forecast_vol)
                    .ok_or(PolicyError::BadInput("forecast_vol"))?;
                bound = b;
                let q = dir * lev * x.capital / npu;
                // The band is relative: comparing positions is comparing leverages.
                if vt.outside_band(x.current_qty, q) {
                    (q, false)
                } else {
                    (x.current_qty, true)
                }
            }
            BaseModel::RiskParity { weight, leverage } => {
                (dir * weight * leverage * x.capital / npu, false)
            }
        };
        if q.is_finite() {
            Ok((q, held, bound))
        } else {
            Err(PolicyError::BadInput("base model"))
        }
    }

    /// Interval of allowed targets of an interval limit.
    ///
    /// For the two-sided limits whose sides cost a computation each (liquidation buffer,
    /// liquidity), only the side the running target `t` moves toward is evaluated; the other end
    /// is reported as unbounded (the interval always contains 0, resp. the current position).
    /// The delta steps also set `limit` ([`StepRecord::limit`]).
    fn interval(
        &self,
        c: &Constraint,
        x: &SizingInputs<'_>,
        npu: f64,
        inv_npu: f64,
        t: f64,
        limit: &mut f64,
    ) -> Result<(f64, f64), PolicyError> {
        const INF: f64 = f64::INFINITY;
        let sym = |cap_notional: f64| {
            let q = cap_notional * inv_npu;
            (-q, q)
        };
        Ok(match *c {
            Constraint::MaxLeverage { max } => sym(max * x.capital),
            Constraint::MaxNotional { max } => sym(max),
            Constraint::DeltaLimit { max_abs } => {
                greek_interval(x.unit_greeks.delta, x.other_greeks.delta, max_abs)
            }
            Constraint::GammaLimit { max_abs } => {
                greek_interval(x.unit_greeks.gamma, x.other_greeks.gamma, max_abs)
            }
            Constraint::VegaLimit { max_abs } => greek_interval(
                x.unit_greeks.vega_per_vol_point,
                x.other_greeks.vega_per_vol_point,
                max_abs,
            ),
            Constraint::LiquidationBuffer {
                ref tiers,
                k,
                horizon_years,
                max_margin_ratio,
            } => self.safe_size_interval(x, t, k, horizon_years, max_margin_ratio, |spec| {
                max_safe_qty(spec, tiers).map(|s| s.qty).ok()
            })?,
            Constraint::DeribitMargin {
                ref rates,
                k,
                horizon_years,
                max_margin_ratio,
            } => self.safe_size_interval(x, t, k, horizon_years, max_margin_ratio, |spec| {
                max_safe_face(spec, rates).map(|s| s.face_usd).ok()
            })?,
            Constraint::Liquidity {
                max_slippage_bps,
                impact,
            } => {
                let cur = x.current_qty;
                if t == cur {
                    return Ok((-INF, INF));
                }
                let side = if t > cur {
                    TradeSide::Buy
                } else {
                    TradeSide::Sell
                };
                let q = match (x.book, impact) {
                    (Some(b), _) => {
                        let (Some(bb), Some(ba)) = (b.bids.first(), b.asks.first()) else {
                            return Ok((cur, cur));
                        };
                        let mid = 0.5 * (bb.px + ba.px);
                        let levels = if side == TradeSide::Buy {
                            b.asks
                        } else {
                            b.bids
                        };
                        max_qty_unchecked(levels, mid, side, max_slippage_bps)
                    }
                    (None, Some(m)) => m.max_qty(max_slippage_bps),
                    (None, None) => 0.0,
                };
                let m = if side == TradeSide::Buy {
                    x.flow_multiplier_buy
                } else {
                    x.flow_multiplier_sell
                };
                if !m.is_finite() {
                    return Err(PolicyError::BadInput("flow multiplier"));
                }
                let q = q * m.clamp(0.0, 1.0);
                if side == TradeSide::Buy {
                    (-INF, cur + q)
                } else {
                    (cur - q, INF)
                }
            }
            Constraint::PoolCap {
                max_share,
                oi_limit,
            } => sym(pool_cap_notional(
                x.pool_liquidity,
                max_share,
                oi_limit,
                x.open_interest,
                x.current_qty * npu,
            )),
            Constraint::DeltaLeverage { max_abs_delta } => {
                *limit = max_abs_delta;
                let r = delta_ratio(max_abs_delta, x.unit_greeks.delta);
                (-r, r)
            }
            Constraint::DeltaLiquidationBuffer { .. } => {
                let up = t >= 0.0;
                *limit = self.delta_safe_size(c, x, up);
                let r = delta_ratio(*limit, x.unit_greeks.delta);
                if up {
                    (-INF, r)
                } else {
                    (-r, INF)
                }
            }
            Constraint::MinTradeSize { .. }
            | Constraint::LotRounding { .. }
            | Constraint::DeltaBand { .. } => (-INF, INF),
        })
    }

    /// The interval a margin model's safe size allows for target `t`: unbounded for a flat
    /// target, else up to `safe(spec)` on the target's side, `spec` the position at the mark
    /// surviving `k` σ over `horizon_years` within `max_margin_ratio`. Shared by the Binance
    /// tiers ([`max_safe_qty`]) and Deribit's standard margin ([`max_safe_face`]).
    fn safe_size_interval(
        &self,
        x: &SizingInputs<'_>,
        t: f64,
        k: f64,
        horizon_years: f64,
        max_margin_ratio: f64,
        safe: impl FnOnce(&SafeSizeSpec) -> Option<f64>,
    ) -> Result<(f64, f64), PolicyError> {
        const INF: f64 = f64::INFINITY;
        if t == 0.0 {
            return Ok((-INF, INF));
        }
        if !pos(x.collateral) {
            return Err(PolicyError::BadInput("collateral"));
        }
        if !pos(x.forecast_vol) {
            return Err(PolicyError::BadInput("forecast_vol"));
        }
        let spec = SafeSizeSpec {
            contract: self.contract,
            side: if t > 0.0 { Side::Long } else { Side::Short },
            mark_px: x.mark_px,
            collateral: x.collateral,
            sigma: x.forecast_vol,
            horizon: horizon_years,
            k,
            max_margin_ratio,
        };
        let q = safe(&spec).ok_or(PolicyError::BadInput("margin"))?;
        Ok(if t > 0.0 { (-INF, q) } else { (-q, INF) })
    }

    /// Largest |delta| of [`Constraint::DeltaLiquidationBuffer`] for a target on the positive
    /// side of zero (`up`) or the negative one; 0 for any other step or a rejected input.
    fn delta_safe_size(&self, c: &Constraint, x: &SizingInputs<'_>, up: bool) -> f64 {
        let Constraint::DeltaLiquidationBuffer {
            ref tiers,
            k,
            horizon_days,
            max_margin_ratio,
            exposure,
        } = *c
        else {
            return 0.0;
        };
        // Sign of the position's delta on that side; a unit without delta counts as long.
        let delta_long = x.unit_greeks.delta == 0.0 || (x.unit_greeks.delta > 0.0) == up;
        let long = match exposure {
            DeltaExposure::Position => delta_long,
            DeltaExposure::Hedge => !delta_long || x.unit_greeks.delta == 0.0,
        };
        let spec = SafeSizeSpec {
            contract: self.contract,
            side: if long { Side::Long } else { Side::Short },
            mark_px: x.mark_px,
            collateral: x.collateral,
            sigma: x.forecast_vol / 365.0_f64.sqrt(),
            horizon: horizon_days,
            k,
            max_margin_ratio,
        };
        match max_safe_qty(&spec, tiers) {
            Ok(s) => match self.contract {
                Contract::Inverse => s.qty_buffer.min(s.qty_margin_ratio) / x.mark_px,
                Contract::Linear => s.qty_buffer.min(s.qty_margin_ratio),
            },
            Err(_) => 0.0,
        }
    }

    /// Evaluate the policy on one tick. O(chain length + book levels + margin brackets), no
    /// allocation.
    ///
    /// # Errors
    /// [`PolicyError::BadInput`] when an input the base model or a step needs is missing or not
    /// finite (capital, mark, volatility, collateral): the caller keeps its position.
    pub fn evaluate(&self, x: &SizingInputs<'_>) -> Result<Decision, PolicyError> {
        let mut d = Decision::default();
        self.evaluate_into(x, &mut d)?;
        Ok(d)
    }

    /// [`SizingPolicy::evaluate`] into a caller-owned decision (no copy of the step records on
    /// return: the form for the kernel thread). On error `out` is left unspecified.
    ///
    /// # Errors
    /// As [`SizingPolicy::evaluate`].
    pub fn evaluate_into(
        &self,
        x: &SizingInputs<'_>,
        out: &mut Decision,
    ) -> Result<(), PolicyError> {
        if !pos(x.capital) {
            return Err(PolicyError::BadInput("capital"));
        }
        if !pos(x.mark_px) {
            return Err(PolicyError::BadInput("mark_px"));
        }
        if !x.current_qty.is_finite() {
            return Err(PolicyError::BadInput("current_qty"));
        }
        let npu = self.notional_per_unit(x.mark_px);
        let inv_npu = npu.recip();
        let (base_qty, base_held, base_bound) = self.base_qty(x)?;
        let mut t = base_qty;
        let steps = &mut out.steps;
        let mut binding = Binding::Base;
        let mut binding_limit = Binding::Base;
        let n = usize::from(self.len);
        for (i, c) in self.chain[..n].iter().flatten().enumerate() {
            let kind = c.kind();
            let before = t;
            let mut limit = f64::INFINITY;
            let (lo, hi) = match *c {
                Constraint::MinTradeSize { min_qty } => {
                    if (t - x.current_qty).abs() < min_qty {
                        t = x.current_qty;
                    }
                    (before, t)
                }
                Constraint::LotRounding { lot } => {
                    // The 1e-9 absorbs quotients like 2.9999999999999996; the min keeps a
                    // target that is a lot multiple up to rounding from growing by an ulp.
                    let units = (t.abs() / lot + 1e-9).floor();
                    t = (units * lot).min(t.abs()).copysign(t);
                    if t == 0.0 {
                        t = 0.0; // no negative zero
                    }
                    (before, t)
                }
                Constraint::DeltaBand { half_width, to } => {
                    let unit = x.unit_greeks.delta;
                    if unit != 0.0 && unit.is_finite() {
                        let dd = band_hedge(x.other_greeks.delta + t * unit, 0.0, half_width, to);
                        t += dd / unit;
                    }
                    limit = half_width;
                    (before, t)
                }
                _ => {
                    let (lo, hi) = self.interval(c, x, npu, inv_npu, t, &mut limit)?;
                    if lo.is_nan() || hi.is_nan() {
                        return Err(PolicyError::BadInput(kind.name()));
                    }
                    // An empty interval (lo > hi) means the limit cannot be met by this
                    // instrument; the target then goes as close as it can: the nearer end.
                    t = if lo <= hi {
                        t.clamp(lo, hi)
                    } else if (t - hi).abs() <= (t - lo).abs() {
                        hi
                    } else {
                        lo
                    };
                    (lo, hi)
                }
            };
            if t != before {
                // `i < n ≤ MAX_CONSTRAINTS = 16` fits in u8.
                let b = Binding::Constraint {
                    index: i as u8,
                    kind,
                };
                binding = b;
                if kind.is_limit() {
                    binding_limit = b;
                }
            }
            steps[i] = StepRecord {
                kind,
                lo,
                hi,
                before,
                after: t,
                limit,
            };
        }
        if !t.is_finite() {
            return Err(PolicyError::BadInput("target"));
        }
        out.target_qty = t;
        out.base_qty = base_qty;
        out.base_held = base_held;
        out.base_bound = base_bound;
        out.binding = binding;
        out.binding_limit = binding_limit;
        out.n_steps = self.len;
        Ok(())
    }
}

/// Largest |t| with `|t unit| ≤ max_abs` (+∞ for a unit without delta).
fn delta_ratio(max_abs: f64, unit: f64) -> f64 {
    if unit.abs() > 0.0 {
        max_abs / unit.abs()
    } else {
        f64::INFINITY
    }
}

fn greek_interval(unit: f64, other: f64, max_abs: f64) -> (f64, f64) {
    // A unit with no exposure to the Greek cannot fix (or worsen) it: unbounded.
    abs_limit_interval(unit, other, max_abs).unwrap_or((f64::NEG_INFINITY, f64::INFINITY))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> SizingInputs<'static> {
        SizingInputs {
            capital: 100_000.0,
            collateral: 100_000.0,
            mark_px: 50_000.0,
            expected_return: 0.3,
            forecast_vol: 0.6,
            ..SizingInputs::default()
        }
    }

    #[test]
    fn kelly_capped_by_leverage_then_rounded() {
        let p = SizingPolicy::new(
            Contract::Linear,
            BaseModel::Kelly { fraction: 1.0 },
            &[
                Constraint::MaxLeverage { max: 0.5 },
                Constraint::LotRounding { lot: 0.001 },
            ],
        )
        .unwrap();
        let d = p.evaluate(&inputs()).unwrap();
        // Kelly: 0.3 / 0.36 = 0.8333 × 100 000 / 50 000 = 1.6667 BTC; cap 0.5× → 1.0 BTC.
        assert!((d.base_qty - 0.3 / 0.36 * 2.0).abs() < 1e-12);
        assert!((d.target_qty - 1.0).abs() < 1e-12);
        assert_eq!(
            d.binding,
            Binding::Constraint {
                index: 0,
                kind: ConstraintKind::MaxLeverage
            }
        );
        assert_eq!(d.binding_limit, d.binding);
        assert_eq!(d.steps().len(), 2);
    }

    #[test]
    fn nan_inputs_decline() {
        let p =
            SizingPolicy::new(Contract::Linear, BaseModel::Kelly { fraction: 0.5 }, &[]).unwrap();
        let mut x = inputs();
        x.forecast_vol = f64::NAN;
        assert_eq!(p.evaluate(&x), Err(PolicyError::BadInput("forecast_vol")));
        x.forecast_vol = 0.5;
        x.mark_px = 0.0;
        assert_eq!(p.evaluate(&x), Err(PolicyError::BadInput("mark_px")));
    }

    #[test]
    fn min_trade_keeps_position_and_binds() {
        let p = SizingPolicy::new(
            Contract::Linear,
            BaseModel::Fixed { qty: 1.0004 },
            &[Constraint::MinTradeSize { min_qty: 0.001 }],
        )
        .unwrap();
        let mut x = inputs();
        x.current_qty = 1.0;
        let d = p.evaluate(&x).unwrap();
        assert_eq!(d.target_qty, 1.0);
        assert_eq!(
            d.binding,
            Binding::Constraint {
                index: 0,
                kind: ConstraintKind::MinTradeSize
            }
        );
        assert_eq!(d.binding_limit, Binding::Base);
    }

    #[test]
    fn without_drops_a_step() {
        let p = SizingPolicy::new(
            Contract::Linear,
            BaseModel::Fixed { qty: 3.0 },
            &[
                Constraint::MaxNotional { max: 100_000.0 },
                Constraint::MaxLeverage { max: 10.0 },
            ],
        )
        .unwrap();
        assert_eq!(p.evaluate(&inputs()).unwrap().target_qty, 2.0);
        assert_eq!(p.without(0).evaluate(&inputs()).unwrap().target_qty, 3.0);
        assert_eq!(p.without(0).constraints().count(), 1);
    }

    fn step(index: u8, kind: ConstraintKind) -> Binding {
        Binding::Constraint { index, kind }
    }

    /// A hedge sized in underlying units: 2 coins of other delta, none hedged yet.
    fn hedge_inputs(current_qty: f64) -> SizingInputs<'static> {
        SizingInputs {
            current_qty,
            other_greeks: PortfolioGreeks {
                delta: 2.0,
                ..PortfolioGreeks::default()
            },
            ..inputs()
        }
    }

    #[test]
    fn delta_band_keeps_inside_and_hedges_to_edge_or_centre() {
        let band = |to| {
            SizingPolicy::new(
                Contract::Linear,
                BaseModel::Hold,
                &[Constraint::DeltaBand {
                    half_width: 0.5,
                    to,
                }],
            )
            .unwrap()
        };
        let d = band(HedgeTo::Edge).evaluate(&hedge_inputs(0.0)).unwrap();
        assert_eq!(d.base_qty, 0.0);
        assert!((d.target_qty + 1.5).abs() < 1e-12, "{}", d.target_qty);
        assert_eq!(d.binding, step(0, ConstraintKind::DeltaBand));
        assert_eq!(d.binding_limit, Binding::Base, "an adjustment, not a limit");
        assert_eq!(d.steps()[0].limit, 0.5);
        assert_eq!(ConstraintKind::DeltaBand.name(), "delta_band");
        let d = band(HedgeTo::Center).evaluate(&hedge_inputs(0.0)).unwrap();
        assert!((d.target_qty + 2.0).abs() < 1e-12);
        // Inside the band (2 − 1.7 = 0.3): hysteresis keeps the hedge.
        let d = band(HedgeTo::Center).evaluate(&hedge_inputs(-1.7)).unwrap();
        assert_eq!(d.target_qty, -1.7);
        assert_eq!(d.binding, Binding::Base);
        // A unit of delta 0.5: twice the units.
        let mut x = hedge_inputs(0.0);
        x.unit_greeks.delta = 0.5;
        let d = band(HedgeTo::Center).evaluate(&x).unwrap();
        assert!((d.target_qty + 4.0).abs() < 1e-12);
    }

    #[test]
    fn delta_leverage_caps_the_hedge_and_is_named_max_leverage() {
        let p = SizingPolicy::new(
            Contract::Linear,
            BaseModel::Hold,
            &[
                Constraint::DeltaBand {
                    half_width: 0.0,
                    to: HedgeTo::Center,
                },
                Constraint::DeltaLeverage { max_abs_delta: 1.0 },
            ],
        )
        .unwrap();
        let d = p.evaluate(&hedge_inputs(0.0)).unwrap();
        assert_eq!(d.target_qty, -1.0);
        assert_eq!(d.binding, step(1, ConstraintKind::MaxLeverage));
        assert_eq!(d.binding_limit, d.binding);
        assert_eq!(d.steps()[1].limit, 1.0);
        assert_eq!((d.steps()[1].lo, d.steps()[1].hi), (-1.0, 1.0));
        // An option book of delta 4 per unit: |4 s| ≤ 1.
        let book = SizingPolicy::new(
            Contract::Linear,
            BaseModel::Fixed { qty: 1.0 },
            &[Constraint::DeltaLeverage { max_abs_delta: 1.0 }],
        )
        .unwrap();
        let mut x = inputs();
        x.unit_greeks.delta = -4.0;
        assert_eq!(book.evaluate(&x).unwrap().target_qty, 0.25);
        x.unit_greeks.delta = 0.0;
        assert_eq!(book.evaluate(&x).unwrap().binding, Binding::Base);
    }

    #[test]
    fn delta_liquidation_buffer_margins_the_right_side() {
        let tiers = MarginTiers::flat(0.005).unwrap();
        let chain = |exposure| {
            [Constraint::DeltaLiquidationBuffer {
                tiers,
                k: 3.0,
                horizon_days: 1.0,
                max_margin_ratio: 1.0,
                exposure,
            }]
        };
        let x = SizingInputs {
            collateral: 2.0,
            unit_greeks: PortfolioGreeks {
                delta: 1.0,
                ..PortfolioGreeks::default()
            },
            ..inputs()
        };
        let safe = |side| {
            let spec = SafeSizeSpec {
                contract: Contract::Inverse,
                side,
                mark_px: x.mark_px,
                collateral: x.collateral,
                sigma: x.forecast_vol / 365.0_f64.sqrt(),
                horizon: 1.0,
                k: 3.0,
                max_margin_ratio: 1.0,
            };
            max_safe_qty(&spec, &tiers).unwrap().qty / x.mark_px
        };
        let (long, short) = (safe(Side::Long), safe(Side::Short));
        assert!(long != short && long > 0.0 && short > 0.0);
        for (exposure, qty, cap) in [
            (DeltaExposure::Position, 100.0, long),
            (DeltaExposure::Position, -100.0, short),
            (DeltaExposure::Hedge, 100.0, short),
            (DeltaExposure::Hedge, -100.0, long),
        ] {
            let p = SizingPolicy::new(
                Contract::Inverse,
                BaseModel::Fixed { qty },
                &chain(exposure),
            )
            .unwrap();
            let d = p.evaluate(&x).unwrap();
            assert_eq!(d.target_qty, cap.copysign(qty), "{exposure:?} {qty}");
            assert_eq!(d.steps()[0].limit, cap);
            assert_eq!(d.binding, step(0, ConstraintKind::LiquidationBuffer));
        }
        // A margin model that rejects its inputs allows nothing.
        let p = SizingPolicy::new(
            Contract::Inverse,
            BaseModel::Fixed { qty: 1.0 },
            &chain(DeltaExposure::Position),
        )
        .unwrap();
        let d = p
            .evaluate(&SizingInputs {
                collateral: 0.0,
                ..x
            })
            .unwrap();
        assert_eq!(d.target_qty, 0.0);
    }

    #[test]
    fn vol_target_base_reports_its_leverage_bound() {
        let vt = VolTarget {
            target_vol: 0.2,
            min_leverage: 0.5,
            max_leverage: 2.0,
            band: 0.1,
        };
        let p = SizingPolicy::new(Contract::Linear, BaseModel::VolTarget(vt), &[]).unwrap();
        let mut x = inputs();
        x.forecast_vol = 0.05;
        let d = p.evaluate(&x).unwrap();
        assert_eq!(d.base_bound, VolTargetBound::MaxLeverage);
        assert_eq!(d.target_qty, 100_000.0 * 2.0 / 50_000.0);
        x.forecast_vol = 1.0;
        assert_eq!(
            p.evaluate(&x).unwrap().base_bound,
            VolTargetBound::MinLeverage
        );
        // Within 10 % of the current position: held.
        x.forecast_vol = 0.2;
        x.current_qty = 1.9;
        let d = p.evaluate(&x).unwrap();
        assert!(d.base_held);
        assert_eq!(d.target_qty, 1.9);
    }
}
