//! Liquidity-aware sizing: the cost of a size against an L2 book, the largest size within a
//! slippage limit, a square-root impact model when only the top of book is known, an
//! order-flow signal that shrinks the allowed size ahead of a liquidity void, and a pool /
//! open-interest cap.
//!
//! Prices are in quote per base, quantities in base units, slippage in basis points of a
//! reference price (usually the mid) and always non-negative for an adverse move. Nothing here
//! allocates.

use thiserror::Error;

/// One price level of a book side.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Level {
    /// Price (quote per base).
    pub px: f64,
    /// Quantity resting at the price (base units).
    pub qty: f64,
}

/// Direction of the trade that consumes liquidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeSide {
    /// Buy: walks the asks (ascending prices).
    Buy,
    /// Sell: walks the bids (descending prices).
    Sell,
}

impl TradeSide {
    /// +1 for a buy, −1 for a sell.
    #[must_use]
    pub fn sign(self) -> f64 {
        match self {
            Self::Buy => 1.0,
            Self::Sell => -1.0,
        }
    }
}

/// Why a liquidity computation refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum LiquidityError {
    /// A level has a non-positive or non-finite price or a negative/non-finite quantity.
    #[error("level {index} is invalid")]
    BadLevel {
        /// Zero-based level.
        index: usize,
    },
    /// Levels are not ordered away from the touch (asks ascending, bids descending).
    #[error("level {index} is out of order")]
    Unordered {
        /// Zero-based level.
        index: usize,
    },
    /// A reference price, size or limit that is not finite and positive.
    #[error("{0} must be finite and positive")]
    BadInput(&'static str),
}

/// The result of walking a book.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    /// Quantity filled (less than asked when the book ran out).
    pub filled_qty: f64,
    /// Volume-weighted average fill price.
    pub avg_px: f64,
    /// Adverse slippage of the average price against the reference, in bps.
    pub slippage_bps: f64,
    /// Levels touched.
    pub levels_used: usize,
    /// Whether the book ran out before the size was filled.
    pub exhausted: bool,
}

fn check_levels(levels: &[Level], side: TradeSide) -> Result<(), LiquidityError> {
    let mut prev = None;
    for (index, l) in levels.iter().enumerate() {
        if !(l.px > 0.0 && l.px.is_finite() && l.qty >= 0.0 && l.qty.is_finite()) {
            return Err(LiquidityError::BadLevel { index });
        }
        if let Some(p) = prev {
            let ordered = match side {
                TradeSide::Buy => l.px > p,
                TradeSide::Sell => l.px < p,
            };
            if !ordered {
                return Err(LiquidityError::Unordered { index });
            }
        }
        prev = Some(l.px);
    }
    Ok(())
}

fn slippage_bps(avg_px: f64, ref_px: f64, side: TradeSide) -> f64 {
    side.sign() * (avg_px - ref_px) / ref_px * 1e4
}

/// Walk `levels` (the asks for a buy, the bids for a sell, best first) for `qty`.
///
/// # Errors
/// [`LiquidityError`] for invalid or unordered levels, a non-positive size or reference.
pub fn walk_book(
    levels: &[Level],
    qty: f64,
    ref_px: f64,
    side: TradeSide,
) -> Result<Fill, LiquidityError> {
    check_levels(levels, side)?;
    if !(qty > 0.0 && qty.is_finite()) {
        return Err(LiquidityError::BadInput("size"));
    }
    if !(ref_px > 0.0 && ref_px.is_finite()) {
        return Err(LiquidityError::BadInput("reference price"));
    }
    let (mut filled, mut cost, mut used) = (0.0_f64, 0.0, 0);
    for l in levels {
        if filled >= qty {
            break;
        }
        if l.qty <= 0.0 {
            continue;
        }
        let take = (qty - filled).min(l.qty);
        cost += take * l.px;
        filled += take;
        used += 1;
    }
    if filled <= 0.0 {
        return Ok(Fill {
            filled_qty: 0.0,
            avg_px: ref_px,
            slippage_bps: 0.0,
            levels_used: 0,
            exhausted: true,
        });
    }
    let avg_px = cost / filled;
    let slip = slippage_bps(avg_px, ref_px, side);
    if !(avg_px.is_finite() && slip.is_finite()) {
        return Err(LiquidityError::BadInput("book values (overflow)"));
    }
    Ok(Fill {
        filled_qty: filled,
        avg_px,
        slippage_bps: slip,
        levels_used: used,
        exhausted: filled < qty,
    })
}

/// Largest size whose average fill price stays within `max_bps` of `ref_px` (adverse), exact
/// within a level (the average is solved for, not stepped). Capped at the visible depth.
///
/// # Errors
/// As [`walk_book`]; `max_bps` must be ≥ 0.
pub fn max_qty_within_slippage(
    levels: &[Level],
    ref_px: f64,
    side: TradeSide,
    max_bps: f64,
) -> Result<f64, LiquidityError> {
    check_levels(levels, side)?;
    if !(ref_px > 0.0 && ref_px.is_finite()) {
        return Err(LiquidityError::BadInput("reference price"));
    }
    if !(max_bps >= 0.0 && max_bps.is_finite()) {
        return Err(LiquidityError::BadInput("slippage limit"));
    }
    Ok(max_qty_unchecked(levels, ref_px, side, max_bps))
}

/// [`max_qty_within_slippage`] without the input checks (for the per-tick chain, whose book
/// view was validated when it was built).
#[must_use]
pub fn max_qty_unchecked(levels: &[Level], ref_px: f64, side: TradeSide, max_bps: f64) -> f64 {
    let s = side.sign();
    let limit = ref_px * (1.0 + s * max_bps * 1e-4);
    let (mut q, mut cost) = (0.0, 0.0);
    for l in levels {
        if l.qty <= 0.0 {
            continue;
        }
        // A level not worse than the limit is taken whole. A worse one is taken up to the
        // size x at which the average reaches the limit, (cost + x p) / (q + x) = limit; if the
        // whole level fits, the walk goes on (the average can still be under the limit).
        if s * (l.px - limit) > 0.0 {
            let x = (limit * q - cost) / (l.px - limit);
            if x < l.qty {
                return q + x.max(0.0);
            }
        }
        q += l.qty;
        cost += l.qty * l.px;
    }
    q
}

/// Square-root market-impact model for when only the top of book is known:
/// `cost_bps(Q) = half_spread_bps + 10⁴ · y · σ_daily · √(Q / ADV)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SqrtImpact {
    /// Impact coefficient `y` (of order 0.5–1 in the literature).
    pub y: f64,
    /// Daily volatility of returns (0.02 = 2 %).
    pub daily_vol: f64,
    /// Average daily volume in base units.
    pub adv_qty: f64,
    /// Half the quoted spread, in bps of the mid.
    pub half_spread_bps: f64,
}

impl SqrtImpact {
    /// Expected cost of trading `qty` in bps of the mid.
    #[must_use]
    pub fn cost_bps(&self, qty: f64) -> f64 {
        self.half_spread_bps + 1e4 * self.y * self.daily_vol * (qty.max(0.0) / self.adv_qty).sqrt()
    }

    /// Largest size whose expected cost is at most `max_bps` (0 when the spread alone exceeds
    /// it; 0 for an invalid model).
    #[must_use]
    pub fn max_qty(&self, max_bps: f64) -> f64 {
        let room = max_bps - self.half_spread_bps;
        let k = 1e4 * self.y * self.daily_vol;
        if !(room > 0.0 && k > 0.0 && self.adv_qty > 0.0 && room.is_finite()) {
            return 0.0;
        }
        let r = room / k;
        self.adv_qty * r * r
    }
}

/// Settings of the order-flow signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderFlowConfig {
    /// Window of the rolling sums, in nanoseconds.
    pub window_ns: u64,
    /// Weight of depth depletion in the shrink.
    pub depletion_weight: f64,
    /// Weight of adverse order-flow imbalance (normalized by the mean depth).
    pub ofi_weight: f64,
    /// Smallest multiplier the signal may return (e.g. 0.1).
    pub floor: f64,
}

impl Default for OrderFlowConfig {
    fn default() -> Self {
        Self {
            window_ns: 1_000_000_000,
            depletion_weight: 1.0,
            ofi_weight: 0.5,
            floor: 0.1,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct FlowEntry {
    ts_ns: u64,
    ofi: f64,
    bid_depth: f64,
    ask_depth: f64,
}

/// Top of book plus the visible depth of each side (e.g. the sum of the first few levels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BookTop {
    /// Best bid price.
    pub bid_px: f64,
    /// Quantity at the best bid.
    pub bid_qty: f64,
    /// Best ask price.
    pub ask_px: f64,
    /// Quantity at the best ask.
    pub ask_qty: f64,
    /// Depth of the bid side (base units).
    pub bid_depth: f64,
    /// Depth of the ask side (base units).
    pub ask_depth: f64,
}

/// Order-flow imbalance (Cont, Kukanov & Stoikov 2014) and depth depletion over a short
/// window, turned into a size multiplier in `[floor, 1]` for each trade direction.
///
/// OFI of one update: `e = 1{Pᵇ ≥ Pᵇ₋} qᵇ − 1{Pᵇ ≤ Pᵇ₋} qᵇ₋ − 1{Pᵃ ≤ Pᵃ₋} qᵃ + 1{Pᵃ ≥ Pᵃ₋} qᵃ₋`
/// (positive = buying pressure). Depletion of a side = `1 − depth_now / mean depth over the
/// window` (floored at 0). A buy, which consumes the asks, is shrunk by
/// `w_d · depletion_ask + w_o · max(0, OFI / mean depth)`; a sell by the bid depletion and the
/// negative OFI. Fixed capacity `N` updates inside the window (older ones fall out first);
/// O(1) per update amortized, no allocation.
#[derive(Debug, Clone)]
pub struct OrderFlowSignal<const N: usize> {
    cfg: OrderFlowConfig,
    ring: [FlowEntry; N],
    head: usize,
    len: usize,
    sum_ofi: f64,
    sum_bid: f64,
    sum_ask: f64,
    last: Option<BookTop>,
    since_resum: usize,
}

impl<const N: usize> OrderFlowSignal<N> {
    /// A signal with the given settings.
    #[must_use]
    pub fn new(cfg: OrderFlowConfig) -> Self {
        Self {
            cfg,
            ring: [FlowEntry::default(); N],
            head: 0,
            len: 0,
            sum_ofi: 0.0,
            sum_bid: 0.0,
            sum_ask: 0.0,
            last: None,
            since_resum: 0,
        }
    }

    /// Feed a book update at `ts_ns` (non-decreasing). Non-finite input is ignored (`false`).
    pub fn update(&mut self, ts_ns: u64, top: BookTop) -> bool {
        let vals = [
            top.bid_px,
            top.bid_qty,
            top.ask_px,
            top.ask_qty,
            top.bid_depth,
            top.ask_depth,
        ];
        if N == 0 || vals.iter().any(|v| !v.is_finite()) {
            return false;
        }
        let ofi = match self.last {
            None => 0.0,
            Some(p) => {
                let mut e = 0.0;
                if top.bid_px >= p.bid_px {
                    e += top.bid_qty;
                }
                if top.bid_px <= p.bid_px {
                    e -= p.bid_qty;
                }
                if top.ask_px <= p.ask_px {
                    e -= top.ask_qty;
                }
                if top.ask_px >= p.ask_px {
                    e += p.ask_qty;
                }
                e
            }
        };
        self.last = Some(top);
        self.evict(ts_ns);
        if self.len == N {
            self.pop();
        }
        let idx = (self.head + self.len) % N;
        self.ring[idx] = FlowEntry {
            ts_ns,
            ofi,
            bid_depth: top.bid_depth,
            ask_depth: top.ask_depth,
        };
        self.len += 1;
        self.sum_ofi += ofi;
        self.sum_bid += top.bid_depth;
        self.sum_ask += top.ask_depth;
        self.since_resum += 1;
        if self.since_resum >= N {
            self.resum();
        }
        true
    }

    fn pop(&mut self) {
        let e = self.ring[self.head];
        self.sum_ofi -= e.ofi;
        self.sum_bid -= e.bid_depth;
        self.sum_ask -= e.ask_depth;
        self.head = (self.head + 1) % N;
        self.len -= 1;
    }

    fn evict(&mut self, now_ns: u64) {
        while self.len > 0
            && self.ring[self.head]
                .ts_ns
                .saturating_add(self.cfg.window_ns)
                < now_ns
        {
            self.pop();
        }
    }

    /// Recompute the sums from the ring (bounds rounding drift of the running sums).
    fn resum(&mut self) {
        let (mut o, mut b, mut a) = (0.0, 0.0, 0.0);
        for k in 0..self.len {
            let e = self.ring[(self.head + k) % N];
            o += e.ofi;
            b += e.bid_depth;
            a += e.ask_depth;
        }
        (self.sum_ofi, self.sum_bid, self.sum_ask) = (o, b, a);
        self.since_resum = 0;
    }

    /// OFI summed over the window.
    #[must_use]
    pub fn ofi(&self) -> f64 {
        self.sum_ofi
    }

    /// Depletion `1 − depth_now / mean depth` of the side a trade in `side` consumes.
    #[must_use]
    pub fn depletion(&self, side: TradeSide) -> f64 {
        let (Some(top), true) = (self.last, self.len > 0) else {
            return 0.0;
        };
        let n = self.len as f64;
        let (now, mean) = match side {
            TradeSide::Buy => (top.ask_depth, self.sum_ask / n),
            TradeSide::Sell => (top.bid_depth, self.sum_bid / n),
        };
        if mean > 0.0 {
            (1.0 - now / mean).max(0.0)
        } else {
            0.0
        }
    }

    /// Size multiplier in `[floor, 1]` for a trade in `side`.
    #[must_use]
    pub fn multiplier(&self, side: TradeSide) -> f64 {
        if self.len == 0 {
            return 1.0;
        }
        let n = self.len as f64;
        let mean_depth = 0.5 * (self.sum_bid + self.sum_ask) / n;
        let adverse_ofi = if mean_depth > 0.0 {
            (side.sign() * self.sum_ofi / mean_depth).max(0.0)
        } else {
            0.0
        };
        let m = 1.0
            - self.cfg.depletion_weight * self.depletion(side)
            - self.cfg.ofi_weight * adverse_ofi;
        m.clamp(self.cfg.floor.clamp(0.0, 1.0), 1.0)
    }
}

/// Largest position notional (quote) a venue's pool allows: `share · available liquidity` of
/// the margin pool, and, with an open-interest limit, no more than the remaining room
/// `oi_limit − current_oi` plus what the position already holds. Never negative.
#[must_use]
pub fn pool_cap_notional(
    available_liquidity: f64,
    max_share: f64,
    oi_limit: Option<f64>,
    current_oi: f64,
    own_notional: f64,
) -> f64 {
    let mut cap = (max_share * available_liquidity).max(0.0);
    if let Some(limit) = oi_limit {
        cap = cap.min((limit - current_oi + own_notional.abs()).max(0.0));
    }
    if cap.is_nan() {
        0.0
    } else {
        cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asks() -> [Level; 3] {
        [
            Level {
                px: 100.0,
                qty: 1.0,
            },
            Level {
                px: 101.0,
                qty: 2.0,
            },
            Level {
                px: 103.0,
                qty: 5.0,
            },
        ]
    }

    #[test]
    fn walks_and_inverts_the_book() {
        let f = walk_book(&asks(), 2.0, 100.0, TradeSide::Buy).unwrap();
        assert!((f.avg_px - 100.5).abs() < 1e-12);
        assert!((f.slippage_bps - 50.0).abs() < 1e-9);
        assert_eq!(f.levels_used, 2);
        let q = max_qty_within_slippage(&asks(), 100.0, TradeSide::Buy, 50.0).unwrap();
        assert!((q - 2.0).abs() < 1e-12);
        let all = max_qty_within_slippage(&asks(), 100.0, TradeSide::Buy, 1e4).unwrap();
        assert_eq!(all, 8.0);
        let bids = [Level { px: 99.0, qty: 1.0 }, Level { px: 98.0, qty: 1.0 }];
        let s = walk_book(&bids, 2.0, 100.0, TradeSide::Sell).unwrap();
        assert!((s.slippage_bps - 150.0).abs() < 1e-9);
        assert!(matches!(
            walk_book(&bids, 1.0, 100.0, TradeSide::Buy),
            Err(LiquidityError::Unordered { index: 1 })
        ));
    }

    #[test]
    fn sqrt_impact_inverts() {
        let m = SqrtImpact {
            y: 0.8,
            daily_vol: 0.02,
            adv_qty: 1e6,
            half_spread_bps: 1.0,
        };
        let q = m.max_qty(20.0);
        assert!((m.cost_bps(q) - 20.0).abs() < 1e-9);
        assert_eq!(m.max_qty(0.5), 0.0);
    }

    #[test]
    fn order_flow_shrinks_the_consumed_side() {
        let mut s = OrderFlowSignal::<64>::new(OrderFlowConfig::default());
        let base = BookTop {
            bid_px: 99.0,
            bid_qty: 5.0,
            ask_px: 101.0,
            ask_qty: 5.0,
            bid_depth: 50.0,
            ask_depth: 50.0,
        };
        for i in 0..10 {
            s.update(i * 10_000_000, base);
        }
        assert_eq!(s.multiplier(TradeSide::Buy), 1.0);
        // Asks are lifted and thin out.
        let thin = BookTop {
            ask_px: 101.5,
            ask_qty: 1.0,
            ask_depth: 10.0,
            ..base
        };
        s.update(200_000_000, thin);
        assert!(s.ofi() > 0.0);
        assert!(s.multiplier(TradeSide::Buy) < 0.5);
        assert_eq!(s.multiplier(TradeSide::Sell), 1.0);
        // After the window only the thin book remains: no depletion against itself.
        s.update(2_000_000_000, thin);
        assert!(s.depletion(TradeSide::Buy) < 1e-12);
    }

    #[test]
    fn pool_cap_takes_the_tighter_limit() {
        assert_eq!(pool_cap_notional(1e6, 0.1, None, 0.0, 0.0), 1e5);
        assert_eq!(pool_cap_notional(1e6, 0.1, Some(5e6), 4.97e6, 1e4), 4e4);
        assert_eq!(pool_cap_notional(1e6, 0.1, Some(5e6), 6e6, 0.0), 0.0);
    }
}
