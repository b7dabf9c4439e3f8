//! Resize orders, fills, and the reasons that explain an order's size. All plain `Copy` data that
//! crosses the rings.

use feeds::{InstrumentId, Side};
use risk_core::policy::{self, ConstraintKind};
use risk_core::vol_target::VolTargetBound;

/// Which model set a target position.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Volatility targeting from the EWMA forecast.
    VolTarget = 1,
    /// Flatten: the model declined to hold a position (e.g. the book went invalid while positioned
    /// is NOT a reason to trade; this is an explicit model decision such as a zero target).
    Flatten = 2,
    /// The options engine's delta hedge (on the perpetual or future).
    DeltaHedge = 3,
    /// The options engine's option book (desired book × the policy's scale).
    OptionBook = 4,
    /// The portfolio engine's risk parity with budgets.
    RiskParity = 5,
    /// The portfolio engine's fractional multi-asset Kelly.
    Kelly = 6,
    /// The portfolio engine's fixed weights levered to a volatility target.
    PortfolioVolTarget = 7,
}

impl Reason {
    /// Stable lowercase name used in CSV and reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VolTarget => "vol_target",
            Self::Flatten => "flatten",
            Self::DeltaHedge => "delta_hedge",
            Self::OptionBook => "option_book",
            Self::RiskParity => "risk_parity",
            Self::Kelly => "kelly",
            Self::PortfolioVolTarget => "portfolio_vol_target",
        }
    }
}

/// Which constraint bound the size (or `Model` when the model's own value stood).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    /// The model's value stood.
    Model = 0,
    /// Capped by the maximum leverage.
    MaxLeverage = 1,
    /// Raised to the minimum leverage.
    MinLeverage = 2,
    /// Cut to what the touch displays (paper adapter fills at most the displayed quantity).
    TouchLiquidity = 3,
    /// Rounded down to the lot size.
    LotRounding = 4,
    /// The options engine's delta band.
    DeltaBand = 5,
    /// The options engine's cap on |portfolio gamma|.
    GammaCap = 6,
    /// The options engine's cap on |portfolio vega|.
    VegaCap = 7,
    /// The liquidation buffer (the options engine's hedge, a sizing policy's step, or an
    /// account's in the portfolio engine).
    LiquidationBuffer = 8,
    /// A sizing policy's cap on |notional| (an instrument's largest notional).
    MaxNotional = 9,
    /// A sizing policy's cap on |portfolio delta| (the portfolio: the underlying's net delta
    /// across venues).
    DeltaLimit = 10,
    /// A sizing policy's share of a pool's liquidity.
    PoolCap = 11,
    /// A sizing policy's minimum trade: the position was kept.
    MinTradeSize = 12,
    /// A sizing policy's slippage limit on the book (or the impact model).
    Liquidity = 13,
    /// The portfolio's cap on one factor's exposure.
    FactorCap = 14,
    /// The portfolio's gross-leverage limit.
    GrossLeverage = 15,
    /// The portfolio's net-leverage limit.
    NetLeverage = 16,
    /// A spot account's cash (buys) or holdings (sells: no short).
    SpotBalance = 17,
    /// Kelly scaled to the portfolio's volatility ceiling.
    VolCeiling = 18,
}

impl Binding {
    /// Stable lowercase name used in CSV and reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::MaxLeverage => "max_leverage",
            Self::MinLeverage => "min_leverage",
            Self::TouchLiquidity => "touch_liquidity",
            Self::LotRounding => "lot_rounding",
            Self::DeltaBand => "delta_band",
            Self::GammaCap => "gamma_cap",
            Self::VegaCap => "vega_cap",
            Self::LiquidationBuffer => "liquidation_buffer",
            Self::FactorCap => "factor_cap",
            Self::GrossLeverage => "gross_leverage",
            Self::NetLeverage => "net_leverage",
            Self::SpotBalance => "spot_balance",
            Self::VolCeiling => "vol_target",
            Self::MaxNotional => "max_notional",
            Self::DeltaLimit => "delta_limit",
            Self::PoolCap => "pool_cap",
            Self::MinTradeSize => "min_trade_size",
            Self::Liquidity => "liquidity",
        }
    }

    /// The binding named by a policy step's kind.
    #[must_use]
    pub const fn from_kind(kind: ConstraintKind) -> Self {
        match kind {
            ConstraintKind::MaxLeverage => Self::MaxLeverage,
            ConstraintKind::MaxNotional => Self::MaxNotional,
            ConstraintKind::DeltaLimit => Self::DeltaLimit,
            ConstraintKind::GammaLimit => Self::GammaCap,
            ConstraintKind::VegaLimit => Self::VegaCap,
            ConstraintKind::LiquidationBuffer => Self::LiquidationBuffer,
            ConstraintKind::Liquidity => Self::Liquidity,
            ConstraintKind::PoolCap => Self::PoolCap,
            ConstraintKind::MinTradeSize => Self::MinTradeSize,
            ConstraintKind::LotRounding => Self::LotRounding,
            ConstraintKind::DeltaBand => Self::DeltaBand,
        }
    }

    /// The binding of a policy decision: its binding step, or, when the base model's value
    /// stood, the leverage bound that set a vol-target base ([`Binding::Model`] when none did).
    #[must_use]
    pub const fn of_decision(d: &policy::Decision) -> Self {
        match d.binding {
            policy::Binding::Constraint { kind, .. } => Self::from_kind(kind),
            policy::Binding::Base => match d.base_bound {
                VolTargetBound::Model => Self::Model,
                VolTargetBound::MaxLeverage => Self::MaxLeverage,
                VolTargetBound::MinLeverage => Self::MinLeverage,
            },
        }
    }
}

/// A resize order: `target − (position + working)` rounded to lots, as a marketable limit
/// (immediate-or-cancel) at the touch.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Engine-assigned, strictly increasing.
    pub id: u64,
    /// Receive time (capture or wire) of the market event that triggered the decision, ns.
    pub recv_ns: u64,
    /// Raw clock reading when the triggering frame was ingested (tick-to-order start).
    pub t_ingest: u64,
    /// Raw clock reading when the kernel pushed the order.
    pub t_push: u64,
    /// Under a paced replay, ns by which the triggering frame's ingestion trailed its intended send
    /// time (set by the pipeline; 0 otherwise). Corrects tick-to-order for coordinated omission.
    pub ingest_lag_ns: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Model that set the target.
    pub reason: Reason,
    /// Constraint that bound the size.
    pub binding: Binding,
    /// Quantity mantissa at the instrument's `qty_scale` (> 0).
    pub qty: i64,
    /// Limit price mantissa at the instrument's `px_scale` (the opposite touch).
    pub limit_px: i64,
    /// Quantity displayed at the limit price when the kernel decided (what the paper adapter may
    /// fill), mantissa.
    pub touch_qty: i64,
    /// Target position, base units.
    pub target_qty: f64,
    /// Position before this order, base units.
    pub position_qty: f64,
    /// Working (unfilled, in flight) quantity before this order, signed base units.
    pub working_qty: f64,
    /// Annualized volatility forecast that produced the target.
    pub vol_forecast: f64,
    /// The portfolio rebalance that decided it (0: not a portfolio order).
    pub rebalance: u64,
}

/// An execution report: how much of an order filled; the remainder is cancelled (IOC).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// The order.
    pub order_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side of the order.
    pub side: Side,
    /// Filled quantity mantissa (0 = nothing filled, all cancelled).
    pub qty: i64,
    /// Fill price mantissa.
    pub px: i64,
    /// Quantity cancelled (order qty − filled), mantissa.
    pub cancelled_qty: i64,
    /// Raw clock reading when the adapter produced the report.
    pub t_report: u64,
}
