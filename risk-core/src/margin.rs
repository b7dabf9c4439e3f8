//! Margin models of perpetuals and futures with tiered maintenance-margin rates: liquidation
//! prices and the largest position that keeps a liquidation buffer and a margin-ratio ceiling.
//!
//! # Conventions
//! - **Linear** (quote-margined, e.g. BTCUSDT): `qty` in base units (coins), prices in quote,
//!   collateral and PnL in quote; notional = `qty · price` (quote).
//! - **Inverse** (coin-margined, e.g. BTCUSD): `qty` is the face value in quote (contracts ×
//!   contract size in USD), collateral and PnL in coin; PnL of a long = `qty · (1/entry − 1/price)`,
//!   notional = `qty / price` (coin).
//! - Maintenance margin follows the bracket shape of Binance: for a notional `N` in the bracket
//!   with floor `fₜ`, `MM(N) = N · mmrₜ − cumₜ`. The maintenance amounts `cumₜ` make `MM`
//!   continuous: `cumₜ = cumₜ₋₁ + fₜ (mmrₜ − mmrₜ₋₁)`. They can be derived
//!   ([`MarginTiers::new`]) or given and checked ([`MarginTiers::with_amounts`]).
//! - The tier applies to the notional *at the price considered*, so at the computed liquidation
//!   price equity equals the maintenance margin exactly (up to rounding).
//! - Isolated margin uses the position's own collateral. Cross margin uses the wallet balance
//!   plus the other positions' unrealized PnL minus their maintenance margin ([`MarginMode`]).
//!
//! Every function here is O(tiers), allocation-free, and returns `None`/errors rather than NaN.
//! Deribit's standard margin (a rate growing linearly with the size in coin, and short options)
//! is in [`deribit`].

pub mod deribit;

use thiserror::Error;

/// Most brackets a [`MarginTiers`] holds (Binance's largest schedules have about a dozen).
pub const MAX_TIERS: usize = 16;

/// Contract type. Configured as `linear` or `inverse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Contract {
    /// Quote-margined: PnL linear in price.
    Linear,
    /// Coin-margined: PnL linear in 1/price, settled in coin.
    Inverse,
}

/// Position side. Configured as `long` or `short`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Side {
    /// Long.
    Long,
    /// Short.
    Short,
}

/// One maintenance-margin bracket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmrTier {
    /// Lowest notional of the bracket (quote for linear, coin for inverse).
    pub notional_floor: f64,
    /// Maintenance-margin rate, a fraction (0.004 = 0.4 %).
    pub mmr: f64,
    /// Maintenance amount `cum` subtracted from `notional · mmr`.
    pub maint_amount: f64,
}

/// Why a margin schedule or query was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum MarginError {
    /// No brackets, or more than [`MAX_TIERS`].
    #[error("need 1..={MAX_TIERS} brackets, got {0}")]
    TierCount(usize),
    /// The first floor is not 0, or floors do not strictly increase.
    #[error("bracket {index}: floors must start at 0 and strictly increase")]
    Floors {
        /// Zero-based bracket.
        index: usize,
    },
    /// A rate outside [0, 1) or not finite.
    #[error("bracket {index}: maintenance rate must be in [0, 1)")]
    Rate {
        /// Zero-based bracket.
        index: usize,
    },
    /// A given maintenance amount does not make the margin continuous.
    #[error(
        "bracket {index}: maintenance amount {given} should be {expected} for a continuous margin"
    )]
    Amount {
        /// Zero-based bracket.
        index: usize,
        /// The amount given.
        given: f64,
        /// The amount continuity requires.
        expected: f64,
    },
    /// A price, quantity, collateral or buffer that is not a finite number of the right sign.
    #[error("{0} must be finite and positive")]
    BadInput(&'static str),
}

/// A maintenance-margin schedule (fixed capacity, `Copy`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarginTiers {
    tiers: [MmrTier; MAX_TIERS],
    len: usize,
}

impl MarginTiers {
    /// A schedule from `(notional_floor, mmr)` pairs, deriving the maintenance amounts for
    /// continuity.
    ///
    /// # Errors
    /// [`MarginError::TierCount`], [`MarginError::Floors`], [`MarginError::Rate`].
    pub fn new(brackets: &[(f64, f64)]) -> Result<Self, MarginError> {
        let mut t = [MmrTier {
            notional_floor: 0.0,
            mmr: 0.0,
            maint_amount: 0.0,
        }; MAX_TIERS];
        if brackets.is_empty() || brackets.len() > MAX_TIERS {
            return Err(MarginError::TierCount(brackets.len()));
        }
        let mut cum = 0.0;
        for (i, &(floor, mmr)) in brackets.iter().enumerate() {
            check_bracket(i, floor, mmr, brackets.get(i.wrapping_sub(1)).map(|b| b.0))?;
            if i > 0 {
                cum += floor * (mmr - brackets[i - 1].1);
            }
            t[i] = MmrTier {
                notional_floor: floor,
                mmr,
                maint_amount: cum,
            };
        }
        Ok(Self {
            tiers: t,
            len: brackets.len(),
        })
    }

    /// A schedule with given maintenance amounts, checked for continuity to a relative
    /// `1e-6` of the bracket floor's margin (exchanges publish rounded amounts).
    ///
    /// # Errors
    /// As [`MarginTiers::new`], plus [`MarginError::Amount`].
    pub fn with_amounts(brackets: &[MmrTier]) -> Result<Self, MarginError> {
        let pairs_len = brackets.len();
        if pairs_len == 0 || pairs_len > MAX_TIERS {
            return Err(MarginError::TierCount(pairs_len));
        }
        let mut t = [MmrTier {
            notional_floor: 0.0,
            mmr: 0.0,
            maint_amount: 0.0,
        }; MAX_TIERS];
        let mut expected = 0.0;
        for (i, b) in brackets.iter().enumerate() {
            check_bracket(
                i,
                b.notional_floor,
                b.mmr,
                (i > 0).then(|| brackets[i - 1].notional_floor),
            )?;
            if i > 0 {
                expected += b.notional_floor * (b.mmr - brackets[i - 1].mmr);
            }
            let tol = 1e-6 * (b.notional_floor * b.mmr).abs().max(1e-9);
            if !b.maint_amount.is_finite() || (b.maint_amount - expected).abs() > tol {
                return Err(MarginError::Amount {
                    index: i,
                    given: b.maint_amount,
                    expected,
                });
            }
            t[i] = *b;
        }
        Ok(Self {
            tiers: t,
            len: pairs_len,
        })
    }

    /// A single flat rate.
    ///
    /// # Errors
    /// [`MarginError::Rate`].
    pub fn flat(mmr: f64) -> Result<Self, MarginError> {
        Self::new(&[(0.0, mmr)])
    }

    /// The brackets.
    #[must_use]
    pub fn tiers(&self) -> &[MmrTier] {
        &self.tiers[..self.len]
    }

    /// Index of the bracket holding `notional`.
    #[must_use]
    pub fn tier_index(&self, notional: f64) -> usize {
        let mut i = 0;
        while i + 1 < self.len && notional >= self.tiers[i + 1].notional_floor {
            i += 1;
        }
        i
    }

    /// Maintenance margin of a position of `notional` (same unit as the floors).
    #[must_use]
    pub fn maintenance_margin(&self, notional: f64) -> f64 {
        let t = &self.tiers[self.tier_index(notional)];
        notional * t.mmr - t.maint_amount
    }
}

fn check_bracket(
    i: usize,
    floor: f64,
    mmr: f64,
    prev_floor: Option<f64>,
) -> Result<(), MarginError> {
    let floors_ok = match prev_floor {
        None => floor == 0.0,
        Some(p) => floor.is_finite() && floor > p,
    };
    if !floors_ok {
        return Err(MarginError::Floors { index: i });
    }
    if !(mmr.is_finite() && (0.0..1.0).contains(&mmr)) {
        return Err(MarginError::Rate { index: i });
    }
    Ok(())
}

/// Collateral backing a position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MarginMode {
    /// Isolated: only the position's own margin.
    Isolated {
        /// Margin assigned to the position (quote for linear, coin for inverse).
        collateral: f64,
    },
    /// Cross: the whole account backs the position.
    Cross {
        /// Wallet balance.
        wallet_balance: f64,
        /// Unrealized PnL of the account's other positions.
        others_unrealized_pnl: f64,
        /// Maintenance margin of the other positions.
        others_maintenance: f64,
    },
}

impl MarginMode {
    /// Collateral available to this position: the isolated margin, or `wallet + others' uPnL −
    /// others' maintenance` (Binance's cross-margin liquidation formula, the other positions held
    /// at their marks).
    #[must_use]
    pub fn effective_collateral(&self) -> f64 {
        match *self {
            Self::Isolated { collateral } => collateral,
            Self::Cross {
                wallet_balance,
                others_unrealized_pnl,
                others_maintenance,
            } => wallet_balance + others_unrealized_pnl - others_maintenance,
        }
    }
}

/// A position: contract, side, entry price and size (see the module conventions for units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Contract type.
    pub contract: Contract,
    /// Side.
    pub side: Side,
    /// Entry price (quote per base).
    pub entry_px: f64,
    /// Size: base units (linear) or quote face value (inverse), positive.
    pub qty: f64,
}

impl Position {
    /// Notional at `px`: quote for linear, coin for inverse.
    #[must_use]
    pub fn notional(&self, px: f64) -> f64 {
        match self.contract {
            Contract::Linear => self.qty * px,
            Contract::Inverse => self.qty / px,
        }
    }

    /// Unrealized PnL at `px` (quote for linear, coin for inverse).
    #[must_use]
    pub fn unrealized_pnl(&self, px: f64) -> f64 {
        let sign = match self.side {
            Side::Long => 1.0,
            Side::Short => -1.0,
        };
        match self.contract {
            Contract::Linear => sign * self.qty * (px - self.entry_px),
            Contract::Inverse => sign * self.qty * (1.0 / self.entry_px - 1.0 / px),
        }
    }

    /// Equity `collateral + uPnL` at `px`.
    #[must_use]
    pub fn equity(&self, collateral: f64, px: f64) -> f64 {
        collateral + self.unrealized_pnl(px)
    }

    /// Maintenance margin at `px`.
    #[must_use]
    pub fn maintenance_margin(&self, tiers: &MarginTiers, px: f64) -> f64 {
        tiers.maintenance_margin(self.notional(px))
    }

    /// Margin ratio `maintenance / equity` at `px` (Binance's "margin ratio"; liquidation at 1).
    /// Infinite when equity is not positive.
    #[must_use]
    pub fn margin_ratio(&self, tiers: &MarginTiers, collateral: f64, px: f64) -> f64 {
        let eq = self.equity(collateral, px);
        if eq > 0.0 {
            self.maintenance_margin(tiers, px) / eq
        } else {
            f64::INFINITY
        }
    }

    /// Liquidation price: the price at which equity equals the maintenance margin, or `None`
    /// when no positive price liquidates the position (a long whose collateral covers the whole
    /// notional, an inverse short with enough coin) or an input is invalid.
    #[must_use]
    pub fn liquidation_price(&self, tiers: &MarginTiers, mode: &MarginMode) -> Option<f64> {
        let c = mode.effective_collateral();
        let (q, e) = (self.qty, self.entry_px);
        if !(q > 0.0 && q.is_finite() && e > 0.0 && e.is_finite() && c.is_finite()) {
            return None;
        }
        for (i, t) in tiers.tiers().iter().enumerate() {
            let (m, cum) = (t.mmr, t.maint_amount);
            let px = match (self.contract, self.side) {
                (Contract::Linear, Side::Long) => (q * e - c - cum) / (q * (1.0 - m)),
                (Contract::Linear, Side::Short) => (c + q * e + cum) / (q * (1.0 + m)),
                (Contract::Inverse, Side::Long) => q * (1.0 + m) / (c + q / e + cum),
                (Contract::Inverse, Side::Short) => q * (1.0 - m) / (q / e - c - cum),
            };
            if !(px > 0.0) || !px.is_finite() {
                // This bracket's line has no positive root; a later one cannot either for a
                // long linear (prices only fall further), but keep scanning for the others.
                continue;
            }
            let notional = self.notional(px);
            let lo_ok = notional >= t.notional_floor * (1.0 - 1e-12);
            let hi_ok = tiers
                .tiers()
                .get(i + 1)
                .is_none_or(|next| notional < next.notional_floor * (1.0 + 1e-12));
            if lo_ok && hi_ok {
                return Some(px);
            }
        }
        None
    }
}

/// Which limit set the largest safe size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafeSizeBound {
    /// The liquidation price would come closer than the buffer.
    LiquidationBuffer,
    /// The margin ratio at the mark would exceed its maximum.
    MarginRatio,
}

/// Inputs of [`max_safe_qty`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SafeSizeSpec {
    /// Contract type.
    pub contract: Contract,
    /// Side of the new position.
    pub side: Side,
    /// Mark price, also the entry price of the position.
    pub mark_px: f64,
    /// Collateral (see [`MarginMode::effective_collateral`]).
    pub collateral: f64,
    /// Volatility forecast of returns per unit of `horizon` (e.g. per √day).
    pub sigma: f64,
    /// Horizon in the units of `sigma` (e.g. days).
    pub horizon: f64,
    /// Number of standard deviations of buffer `k`.
    pub k: f64,
    /// Highest margin ratio (maintenance / equity) allowed at the mark, in (0, 1].
    pub max_margin_ratio: f64,
}

impl SafeSizeSpec {
    /// Relative distance the liquidation price must keep from the mark: `k σ √horizon`.
    #[must_use]
    pub fn buffer_frac(&self) -> f64 {
        self.k * self.sigma * self.horizon.sqrt()
    }

    /// The price the liquidation price may not pass: `mark (1 − d)` for a long (floored at 0),
    /// `mark (1 + d)` for a short.
    #[must_use]
    pub fn buffer_px(&self) -> f64 {
        let d = self.buffer_frac();
        match self.side {
            Side::Long => (self.mark_px * (1.0 - d)).max(0.0),
            Side::Short => self.mark_px * (1.0 + d),
        }
    }
}

/// The largest safe size and the limit that set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SafeSize {
    /// Largest size (base units for linear, quote face value for inverse).
    pub qty: f64,
    /// Largest size the buffer alone allows.
    pub qty_buffer: f64,
    /// Largest size the margin ratio alone allows.
    pub qty_margin_ratio: f64,
    /// The tighter of the two.
    pub bound: SafeSizeBound,
}

/// The largest position opened at the mark whose liquidation price stays at least
/// `k · σ · √horizon` (relative) away from the mark and whose margin ratio at the mark stays at
/// most `max_margin_ratio`. O(tiers), closed form per bracket.
///
/// # Errors
/// [`MarginError::BadInput`] for a non-positive mark or collateral, a negative or non-finite
/// σ/horizon/k, or a margin ratio outside (0, 1].
pub fn max_safe_qty(spec: &SafeSizeSpec, tiers: &MarginTiers) -> Result<SafeSize, MarginError> {
    let s = spec;
    if !(s.mark_px > 0.0 && s.mark_px.is_finite()) {
        return Err(MarginError::BadInput("mark price"));
    }
    if !(s.collateral > 0.0 && s.collateral.is_finite()) {
        return Err(MarginError::BadInput("collateral"));
    }
    if !(s.sigma >= 0.0 && s.horizon >= 0.0 && s.k >= 0.0 && s.buffer_frac().is_finite()) {
        return Err(MarginError::BadInput("sigma, horizon and k"));
    }
    if !(s.max_margin_ratio > 0.0 && s.max_margin_ratio <= 1.0) {
        return Err(MarginError::BadInput("max margin ratio"));
    }
    let e = s.mark_px;
    let lb = s.buffer_px();
    // Condition Q · aₜ ≤ R + cumₜ with the bracket chosen by the notional Q · n.
    let qty_buffer = match s.contract {
        Contract::Linear => {
            let loss = match s.side {
                Side::Long => e - lb,
                Side::Short => lb - e,
            };
            largest_q(tiers, s.collateral, lb, |m| loss + m * lb)
        }
        Contract::Inverse => {
            if lb <= 0.0 {
                0.0
            } else {
                let loss = match s.side {
                    Side::Long => 1.0 / lb - 1.0 / e,
                    Side::Short => 1.0 / e - 1.0 / lb,
                };
                largest_q(tiers, s.collateral, 1.0 / lb, |m| loss + m / lb)
            }
        }
    };
    let n_mark = match s.contract {
        Contract::Linear => e,
        Contract::Inverse => 1.0 / e,
    };
    let qty_margin_ratio = largest_q(tiers, s.max_margin_ratio * s.collateral, n_mark, |m| {
        m * n_mark
    });
    let (qty, bound) = if qty_buffer <= qty_margin_ratio {
        (qty_buffer, SafeSizeBound::LiquidationBuffer)
    } else {
        (qty_margin_ratio, SafeSizeBound::MarginRatio)
    };
    Ok(SafeSize {
        qty,
        qty_buffer,
        qty_margin_ratio,
        bound,
    })
}

/// Largest `Q ≥ 0` with `Q · a(mmrₜ) ≤ r + cumₜ`, the bracket `t` holding the notional `Q · n`.
/// `a` is increasing in the rate, and `Q ↦ Q a − cum` is continuous and increasing, so the first
/// bracket whose own solution stays below its ceiling is the answer.
fn largest_q(tiers: &MarginTiers, r: f64, n: f64, a: impl Fn(f64) -> f64) -> f64 {
    let ts = tiers.tiers();
    for (i, t) in ts.iter().enumerate() {
        let at = a(t.mmr);
        let ceiling = ts.get(i + 1).map(|x| x.notional_floor);
        if at <= 0.0 {
            // No size breaks the condition within this bracket.
            match ceiling {
                Some(_) => continue,
                None => return f64::INFINITY,
            }
        }
        // q = (r + cum) / a; test q · n ≥ ceiling without dividing: (r + cum) · n ≥ ceiling · a.
        let num = r + t.maint_amount;
        match ceiling {
            Some(c) if n > 0.0 && num * n >= c * at => continue,
            _ => return (num / at).max(0.0),
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binance_like() -> MarginTiers {
        MarginTiers::new(&[
            (0.0, 0.004),
            (50_000.0, 0.005),
            (250_000.0, 0.01),
            (1_000_000.0, 0.025),
        ])
        .unwrap()
    }

    #[test]
    fn derived_amounts_make_margin_continuous() {
        let t = binance_like();
        assert_eq!(t.tiers()[1].maint_amount, 50.0);
        assert_eq!(t.tiers()[2].maint_amount, 50.0 + 250_000.0 * 0.005);
        for &f in &[50_000.0, 250_000.0, 1_000_000.0] {
            let below = t.maintenance_margin(f * (1.0 - 1e-12));
            let at = t.maintenance_margin(f);
            assert!((below - at).abs() < 1e-6);
        }
        assert!(matches!(
            MarginTiers::with_amounts(&[
                MmrTier {
                    notional_floor: 0.0,
                    mmr: 0.004,
                    maint_amount: 0.0
                },
                MmrTier {
                    notional_floor: 50_000.0,
                    mmr: 0.005,
                    maint_amount: 75.0
                },
            ]),
            Err(MarginError::Amount { index: 1, .. })
        ));
        assert!(matches!(
            MarginTiers::new(&[(1.0, 0.01)]),
            Err(MarginError::Floors { index: 0 })
        ));
    }

    #[test]
    fn linear_long_liquidation_matches_hand_computation() {
        // 1 BTC long at 50 000 with 5 000 USDT isolated, flat 0.4 %:
        // P = (Q E − C) / (Q (1 − m)) = 45 000 / 0.996.
        let t = MarginTiers::flat(0.004).unwrap();
        let p = Position {
            contract: Contract::Linear,
            side: Side::Long,
            entry_px: 50_000.0,
            qty: 1.0,
        };
        let mode = MarginMode::Isolated {
            collateral: 5_000.0,
        };
        let liq = p.liquidation_price(&t, &mode).unwrap();
        assert!((liq - 45_000.0 / 0.996).abs() < 1e-9);
        let eq = p.equity(5_000.0, liq);
        assert!((eq - p.maintenance_margin(&t, liq)).abs() < 1e-9);
        // Fully collateralized long: no liquidation.
        let safe = MarginMode::Isolated {
            collateral: 60_000.0,
        };
        assert_eq!(p.liquidation_price(&t, &safe), None);
    }

    #[test]
    fn safe_size_respects_both_limits() {
        let t = binance_like();
        let spec = SafeSizeSpec {
            contract: Contract::Linear,
            side: Side::Long,
            mark_px: 50_000.0,
            collateral: 10_000.0,
            sigma: 0.03,
            horizon: 1.0,
            k: 3.0,
            max_margin_ratio: 0.5,
        };
        let s = max_safe_qty(&spec, &t).unwrap();
        let p = Position {
            contract: Contract::Linear,
            side: Side::Long,
            entry_px: 50_000.0,
            qty: s.qty,
        };
        let liq = p
            .liquidation_price(
                &t,
                &MarginMode::Isolated {
                    collateral: 10_000.0,
                },
            )
            .unwrap();
        assert_eq!(s.bound, SafeSizeBound::LiquidationBuffer);
        assert!(
            (liq - spec.buffer_px()).abs() < 1e-6,
            "{liq} vs {}",
            spec.buffer_px()
        );
    }
}
