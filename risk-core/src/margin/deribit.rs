//! Deribit's standard (non-portfolio) margin: inverse futures and perpetuals, and short options,
//! all margined in the coin of the currency's account.
//!
//! # The published rules
//! - **Futures and perpetuals** (inverse, face value in USD): the margin rate grows linearly with
//!   the position's size in coin, `S = |face| / mark`:
//!   `IM = S · (im_base + slope · S)` and `MM = S · (mm_base + slope · S)`, in coin. Deribit's
//!   published values (support article "11 January 2022", margin changes for standard-margin
//!   accounts; the futures contract specification states the same slope as "linearly increasing
//!   0.5 % per 100 BTC"): BTC `IM = 2 % + S · 0.005 %`, `MM = 1 % + S · 0.005 %`; ETH
//!   `IM = 2 % + S · 0.0004 %`, `MM = 1 % + S · 0.0004 %` ([`DeribitRates::BTC`],
//!   [`DeribitRates::ETH`]).
//! - **Options** (inverse, one contract = one coin, mark price `m` in coin, underlying mark `U`
//!   in USD), Deribit's standard-margin formulas:
//!   short call `MM = 0.075 + m`, `IM = max(0.15 − OTM/U, 0.1) + m` with `OTM = max(K − U, 0)`;
//!   short put `MM = max(0.075, 0.075 · m) + m`, `IM = max(max(0.15 − OTM/U, 0.1) + m, MM)` with
//!   `OTM = max(U − K, 0)`. A long option carries no margin: its premium was paid, and its mark
//!   value counts in equity.
//!
//! The rates are Deribit's to change: every one is a field of [`DeribitRates`], configurable.
//!
//! # Account arithmetic
//! An account's equity is its coin balance plus the futures' unrealized PnL plus the options' mark
//! value (long positive, short negative); it is liquidated when equity falls to the summed
//! maintenance margin. New positions need `IM ≤ equity − the other positions' IM` (Deribit's
//! available balance). Because the futures' margin grows with the *square* of the size in coin, a
//! short future has two liquidation prices: the one above the entry (its loss), and one far below,
//! where its size in coin (and so its margin) outgrows its gain. [`LiquidationBand`] carries both.
//!
//! Every function is O(1), allocation-free, and returns `None`/errors rather than NaN.

use super::{MarginError, SafeSizeSpec, Side};
use crate::greeks::OptionKind;

/// Deribit standard-margin rates of one currency (fractions; `slope_per_coin` per coin of
/// position size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeribitRates {
    /// Futures initial-margin base rate (0.02).
    pub future_im: f64,
    /// Futures maintenance-margin base rate (0.01).
    pub future_mm: f64,
    /// Increase of both futures rates per coin of position size (BTC 0.00005, ETH 0.000004).
    pub slope_per_coin: f64,
    /// Short-option maintenance rate, coin per contract (0.075).
    pub option_mm: f64,
    /// Short-option initial rate before the out-of-the-money reduction (0.15).
    pub option_im: f64,
    /// Floor of the reduced short-option initial rate (0.1).
    pub option_im_floor: f64,
}

impl DeribitRates {
    /// Deribit's published BTC rates: futures IM 2 % + size · 0.005 %, MM 1 % + size · 0.005 %;
    /// options 0.075 / 0.15 / 0.1.
    pub const BTC: Self = Self {
        future_im: 0.02,
        future_mm: 0.01,
        slope_per_coin: 0.000_05,
        option_mm: 0.075,
        option_im: 0.15,
        option_im_floor: 0.1,
    };

    /// Deribit's published ETH rates: futures IM 2 % + size · 0.0004 %, MM 1 % + size ·
    /// 0.0004 %; options as BTC.
    pub const ETH: Self = Self {
        slope_per_coin: 0.000_004,
        ..Self::BTC
    };

    /// The published rates of a currency (`BTC`, `ETH`); `None` for any other.
    #[must_use]
    pub fn published(currency: &str) -> Option<Self> {
        match currency {
            "BTC" => Some(Self::BTC),
            "ETH" => Some(Self::ETH),
            _ => None,
        }
    }

    /// Checks every rate: base rates in [0, 1) with `future_mm ≤ future_im`, a finite slope ≥ 0,
    /// option rates in [0, 1) with `option_im_floor ≤ option_im`.
    ///
    /// # Errors
    /// [`MarginError::BadInput`] naming the first rate that is out of range.
    pub fn check(&self) -> Result<Self, MarginError> {
        let rate = |v: f64| v.is_finite() && (0.0..1.0).contains(&v);
        if !rate(self.future_im) {
            return Err(MarginError::BadInput("futures initial rate"));
        }
        if !rate(self.future_mm) || self.future_mm > self.future_im {
            return Err(MarginError::BadInput(
                "futures maintenance rate (at most the initial one)",
            ));
        }
        if !(self.slope_per_coin.is_finite() && self.slope_per_coin >= 0.0) {
            return Err(MarginError::BadInput("futures rate slope"));
        }
        if !rate(self.option_mm) {
            return Err(MarginError::BadInput("option maintenance rate"));
        }
        if !rate(self.option_im) || !rate(self.option_im_floor) {
            return Err(MarginError::BadInput("option initial rates"));
        }
        if self.option_im_floor > self.option_im {
            return Err(MarginError::BadInput(
                "option initial floor (at most the initial rate)",
            ));
        }
        Ok(*self)
    }

    /// Futures initial-margin rate of a position of `size_coin` (either sign).
    #[must_use]
    pub fn future_im_rate(&self, size_coin: f64) -> f64 {
        self.future_im + self.slope_per_coin * size_coin.abs()
    }

    /// Futures maintenance-margin rate of a position of `size_coin` (either sign).
    #[must_use]
    pub fn future_mm_rate(&self, size_coin: f64) -> f64 {
        self.future_mm + self.slope_per_coin * size_coin.abs()
    }

    /// Futures initial margin of a position of `size_coin`, coin.
    #[must_use]
    pub fn future_initial_margin(&self, size_coin: f64) -> f64 {
        size_coin.abs() * self.future_im_rate(size_coin)
    }

    /// Futures maintenance margin of a position of `size_coin`, coin.
    #[must_use]
    pub fn future_maintenance_margin(&self, size_coin: f64) -> f64 {
        size_coin.abs() * self.future_mm_rate(size_coin)
    }

    /// Maintenance margin of one short option contract whose mark is `mark_coin`, coin.
    #[must_use]
    pub fn short_option_maintenance(&self, kind: OptionKind, mark_coin: f64) -> f64 {
        let m = mark_coin.max(0.0);
        match kind {
            OptionKind::Call => self.option_mm + m,
            OptionKind::Put => self.option_mm.max(self.option_mm * m) + m,
        }
    }

    /// Initial margin of one short option contract (strike `strike`, underlying mark
    /// `underlying_px`, both USD; mark `mark_coin`), coin. 0 for a non-positive underlying.
    #[must_use]
    pub fn short_option_initial(
        &self,
        kind: OptionKind,
        mark_coin: f64,
        strike: f64,
        underlying_px: f64,
    ) -> f64 {
        if !(underlying_px > 0.0) {
            return 0.0;
        }
        let m = mark_coin.max(0.0);
        let otm = match kind {
            OptionKind::Call => (strike - underlying_px).max(0.0),
            OptionKind::Put => (underlying_px - strike).max(0.0),
        };
        let base = (self.option_im - otm / underlying_px).max(self.option_im_floor) + m;
        match kind {
            OptionKind::Call => base,
            OptionKind::Put => base.max(self.short_option_maintenance(kind, m)),
        }
    }

    /// Initial and maintenance margin of `qty` contracts of an option (negative: written), coin:
    /// zero for a long.
    #[must_use]
    pub fn option_margins(
        &self,
        kind: OptionKind,
        qty: f64,
        mark_coin: f64,
        strike: f64,
        underlying_px: f64,
    ) -> (f64, f64) {
        if !(qty < 0.0) {
            return (0.0, 0.0);
        }
        let n = -qty;
        (
            n * self.short_option_initial(kind, mark_coin, strike, underlying_px),
            n * self.short_option_maintenance(kind, mark_coin),
        )
    }
}

/// An inverse future or perpetual on Deribit: side, face value in USD, entry price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeribitFuture {
    /// Long or short.
    pub side: Side,
    /// Face value, USD (Deribit's `amount`), positive.
    pub face_usd: f64,
    /// Entry price, USD.
    pub entry_px: f64,
}

/// The prices between which an account holding a position stays above its maintenance margin:
/// safe for `below < price < above`; `below = 0` means no liquidation on the way down, `above =
/// ∞` none on the way up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiquidationBand {
    /// Liquidation price on the way down (0: none).
    pub below: f64,
    /// Liquidation price on the way up (∞: none).
    pub above: f64,
}

impl LiquidationBand {
    /// The smaller relative distance from `px` to either end (∞ when neither exists).
    #[must_use]
    pub fn distance_from(&self, px: f64) -> f64 {
        let down = if self.below > 0.0 {
            (px - self.below) / px
        } else {
            f64::INFINITY
        };
        let up = if self.above.is_finite() {
            (self.above - px) / px
        } else {
            f64::INFINITY
        };
        down.min(up)
    }
}

impl DeribitFuture {
    /// Size in coin at `px`.
    #[must_use]
    pub fn size_coin(&self, px: f64) -> f64 {
        self.face_usd / px
    }

    fn sign(&self) -> f64 {
        match self.side {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }

    /// Unrealized PnL at `px`, coin: `± face · (1/entry − 1/px)`.
    #[must_use]
    pub fn unrealized_pnl(&self, px: f64) -> f64 {
        self.sign() * self.face_usd * (1.0 / self.entry_px - 1.0 / px)
    }

    /// Initial margin at `px`, coin.
    #[must_use]
    pub fn initial_margin(&self, rates: &DeribitRates, px: f64) -> f64 {
        rates.future_initial_margin(self.size_coin(px))
    }

    /// Maintenance margin at `px`, coin.
    #[must_use]
    pub fn maintenance_margin(&self, rates: &DeribitRates, px: f64) -> f64 {
        rates.future_maintenance_margin(self.size_coin(px))
    }

    /// Where equity `collateral + uPnL(px)` meets the maintenance margin, the account's other
    /// positions held (`collateral`: coin balance plus the others' PnL and option value minus
    /// their maintenance, see [`super::MarginMode::effective_collateral`]). Closed form: with
    /// `u = 1/px`, `Q` the face and `b`, `s` the base rate and slope, equity minus maintenance is
    /// the concave quadratic `D ± Q u − b Q u − s Q² u²` (`D = collateral ∓ Q/entry`).
    ///
    /// `None` when no price is safe (equity under maintenance everywhere) or an input is not a
    /// finite positive number.
    #[must_use]
    pub fn liquidation_band(
        &self,
        rates: &DeribitRates,
        collateral: f64,
    ) -> Option<LiquidationBand> {
        let (q, e) = (self.face_usd, self.entry_px);
        if !(q > 0.0 && q.is_finite() && e > 0.0 && e.is_finite() && collateral.is_finite()) {
            return None;
        }
        let (b, s) = (rates.future_mm, rates.slope_per_coin);
        let a = s * q * q;
        match self.side {
            Side::Long => {
                // g(u) = (C + Q/e) − (1 + b) Q u − a u², decreasing in u > 0.
                let d = collateral + q / e;
                if !(d > 0.0) {
                    return None;
                }
                let bq = (1.0 + b) * q;
                let u = 2.0 * d / (bq + (bq * bq + 4.0 * a * d).sqrt());
                Some(LiquidationBand {
                    below: 1.0 / u,
                    above: f64::INFINITY,
                })
            }
            Side::Short => {
                // g(u) = (C − Q/e) + (1 − b) Q u − a u², concave.
                let d = collateral - q / e;
                let bq = (1.0 - b) * q;
                if a == 0.0 {
                    return Some(LiquidationBand {
                        below: 0.0,
                        above: if d >= 0.0 { f64::INFINITY } else { bq / -d },
                    });
                }
                let disc = bq * bq + 4.0 * a * d;
                if !(disc >= 0.0) {
                    return None;
                }
                let root = disc.sqrt();
                // Larger root: the price below; the smaller one (positive only when D < 0):
                // the price above, from u₁ u₂ = −D / a without cancellation.
                let u_big = (bq + root) / (2.0 * a);
                if !(u_big > 0.0) {
                    return None;
                }
                let above = if d >= 0.0 {
                    f64::INFINITY
                } else {
                    (bq + root) / (-2.0 * d)
                };
                Some(LiquidationBand {
                    below: 1.0 / u_big,
                    above,
                })
            }
        }
    }
}

/// Which limit set the largest safe Deribit size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeribitSizeBound {
    /// A liquidation price would come inside the buffer.
    LiquidationBuffer,
    /// The maintenance margin at the mark would exceed its share of the collateral.
    MarginRatio,
    /// The initial margin at the mark would exceed the available collateral.
    InitialMargin,
}

/// The largest safe face value of a Deribit future and the limit that set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeribitSafeSize {
    /// Largest face value, USD.
    pub face_usd: f64,
    /// Largest face the buffer alone allows.
    pub face_buffer: f64,
    /// Largest face the margin ratio alone allows.
    pub face_margin_ratio: f64,
    /// Largest face the initial margin alone allows.
    pub face_initial: f64,
    /// The tightest of the three.
    pub bound: DeribitSizeBound,
}

/// Largest `Q ≥ 0` with `c + β Q − a Q² ≥ 0` (`a ≥ 0`, `c ≥ 0`): ∞ when nothing bounds it.
fn largest_face(a: f64, beta: f64, c: f64) -> f64 {
    if a == 0.0 {
        return if beta >= 0.0 {
            f64::INFINITY
        } else {
            c / -beta
        };
    }
    let root = (beta * beta + 4.0 * a * c).sqrt();
    if beta >= 0.0 {
        (beta + root) / (2.0 * a)
    } else {
        2.0 * c / (root - beta)
    }
}

/// The largest Deribit future opened at `spec.mark_px` whose account stays above maintenance
/// for every price within `k σ √horizon` of the mark (both ends: a short's margin also grows as
/// the price falls), whose maintenance margin at the mark stays within `max_margin_ratio` of the
/// collateral, and whose initial margin at the mark fits the collateral. `spec.collateral` is
/// the account's available collateral for this position, coin: equity minus the other
/// positions' initial margin (so the buffer and ratio checks, which need only the others'
/// maintenance, are conservative). `spec.contract` must be inverse. O(1), closed form.
///
/// # Errors
/// [`MarginError::BadInput`] for a linear contract, a non-positive mark or collateral, a
/// negative or non-finite σ/horizon/k, or a margin ratio outside (0, 1].
pub fn max_safe_face(
    spec: &SafeSizeSpec,
    rates: &DeribitRates,
) -> Result<DeribitSafeSize, MarginError> {
    let s = spec;
    if s.contract != super::Contract::Inverse {
        return Err(MarginError::BadInput(
            "contract (Deribit futures are inverse)",
        ));
    }
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
    let (e, c, d) = (s.mark_px, s.collateral, s.buffer_frac());
    let (b, sl) = (rates.future_mm, rates.slope_per_coin);
    let sign = match s.side {
        Side::Long => 1.0,
        Side::Short => -1.0,
    };
    // Equity minus maintenance at price p, per face: c + Q (±(1/e − 1/p) − b/p) − s Q²/p².
    let at = |p: f64| {
        let n = 1.0 / p;
        largest_face(sl * n * n, sign * (1.0 / e - n) - b * n, c)
    };
    let up = at(e * (1.0 + d));
    let down = if d < 1.0 {
        at(e * (1.0 - d))
    } else if s.side == Side::Short && sl == 0.0 {
        // A short without the size slope gains without bound as the price falls.
        f64::INFINITY
    } else {
        0.0
    };
    let face_buffer = up.min(down);
    let n = 1.0 / e;
    let face_margin_ratio = largest_face(sl * n * n, -b * n, s.max_margin_ratio * c);
    let face_initial = largest_face(sl * n * n, -rates.future_im * n, c);
    let (face_usd, bound) = if face_buffer <= face_margin_ratio && face_buffer <= face_initial {
        (face_buffer, DeribitSizeBound::LiquidationBuffer)
    } else if face_margin_ratio <= face_initial {
        (face_margin_ratio, DeribitSizeBound::MarginRatio)
    } else {
        (face_initial, DeribitSizeBound::InitialMargin)
    };
    Ok(DeribitSafeSize {
        face_usd,
        face_buffer,
        face_margin_ratio,
        face_initial,
        bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_futures_rates_at_sizes_across_the_slope() {
        let r = DeribitRates::BTC;
        // Deribit's own examples: 0, 25 and 350 BTC.
        assert_eq!(r.future_initial_margin(0.0), 0.0);
        assert!((r.future_im_rate(25.0) - 0.021_25).abs() < 1e-15);
        assert!((r.future_initial_margin(25.0) - 0.531_25).abs() < 1e-12);
        assert!((r.future_maintenance_margin(25.0) - 0.281_25).abs() < 1e-12);
        assert!((r.future_initial_margin(350.0) - 13.125).abs() < 1e-10);
        assert!((r.future_maintenance_margin(-350.0) - 9.625).abs() < 1e-10);
        let eth = DeribitRates::ETH;
        assert!((eth.future_initial_margin(1000.0) - 24.0).abs() < 1e-10);
        assert!((eth.future_maintenance_margin(1000.0) - 14.0).abs() < 1e-10);
    }

    #[test]
    fn rates_out_of_range_are_named() {
        let bad = DeribitRates {
            future_mm: 0.03,
            ..DeribitRates::BTC
        };
        assert!(matches!(bad.check(), Err(MarginError::BadInput(m)) if m.contains("maintenance")));
        let bad = DeribitRates {
            slope_per_coin: f64::NAN,
            ..DeribitRates::BTC
        };
        assert!(bad.check().is_err());
        assert_eq!(DeribitRates::ETH.check(), Ok(DeribitRates::ETH));
    }

    #[test]
    fn the_safe_face_meets_its_limit_exactly() {
        let r = DeribitRates::BTC;
        for side in [Side::Long, Side::Short] {
            let spec = SafeSizeSpec {
                contract: super::super::Contract::Inverse,
                side,
                mark_px: 60_000.0,
                collateral: 2.0,
                sigma: 0.6,
                horizon: 1.0 / 365.0,
                k: 4.0,
                max_margin_ratio: 1.0,
            };
            let s = max_safe_face(&spec, &r).unwrap();
            assert_eq!(s.bound, DeribitSizeBound::LiquidationBuffer, "{side:?}");
            let f = DeribitFuture {
                side,
                face_usd: s.face_usd,
                entry_px: 60_000.0,
            };
            let band = f.liquidation_band(&r, 2.0).unwrap();
            let edge = match side {
                Side::Long => band.below,
                Side::Short => band.above,
            };
            assert!(
                (edge - spec.buffer_px()).abs() < 1e-6 * spec.mark_px,
                "{side:?}: {edge} vs {}",
                spec.buffer_px()
            );
        }
    }
}
