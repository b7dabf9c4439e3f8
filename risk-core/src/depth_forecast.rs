//! A short-horizon forecast of visible depth from order flow, and the size multiplier it implies.
//!
//! [`DepthForecast`] is fed every top-of-book update ([`DepthForecast::on_bbo`], or
//! [`DepthForecast::on_book`] with the depth of the first levels) and every trade
//! ([`DepthForecast::on_trade`]). It keeps, per book side, exponentially weighted features over a
//! fast and a slow half-life (1 s and 10 s by default):
//!
//! - the time-weighted mean of the log depth (fast and slow),
//! - the trade intensity: aggressive quantity that consumed the side, per second,
//! - the cancellation intensity at the touch: the decrease of the touch quantity not explained
//!   by trades at (or through) the touch, per second,
//! - the touch imbalance and the spread in ticks.
//!
//! A linear model in log depth ([`DepthModel`]) maps them to `ln(depth[t+h] / depth[t])`; the
//! forecast is `depth[t] · exp(β·x)` and the multiplier of a trade direction is
//! `clamp(min(1, forecast / depth), floor, 1)` on the side that trade consumes: it shrinks only
//! when the model predicts the depth will drop. Coefficients are fitted offline with
//! [`DepthFitter`] (ordinary least squares with a small ridge), which `ballast liquidity` runs on
//! the first half of each capture before it scores the second half.
//!
//! What the data say (README, `ballast liquidity`): on the six Binance captures the forecast of
//! the touch 1 s ahead beats persistence on five of six (MAE of log depth 0.80–0.98 of
//! persistence's), but a fit on the depth's own means alone does as well: the gain is mean
//! reversion of the depth, and the order-flow terms add nothing measurable out of sample. In the
//! fit, aggressive trading predicts a drop (negative coefficient) while the inferred
//! cancellations predict a refill (the level behind a cancelled touch is usually thicker). The
//! default multiplier therefore shrinks only on a predicted void (forecast below half the
//! current depth, [`DepthForecastConfig::trigger`]).
//!
//! Prices are in quote per base, quantities in base units, times in nanoseconds (non-decreasing;
//! a time that steps back is taken as no time elapsed). Nothing here allocates, and input that is
//! not finite, not positive or a crossed book is ignored (the call returns `false`).

use thiserror::Error;

use crate::liquidity::{BookTop, TradeSide};

/// Number of features of the model, the constant included.
pub const N_FEATURES: usize = 7;

/// Indices and names of the features, in order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "const",
    "slow_mean_gap",
    "fast_mean_gap",
    "trade_intensity",
    "cancel_intensity",
    "imbalance",
    "spread_ticks",
];

/// Largest |predicted log ratio| used (a forecast never moves depth by more than e^±8).
const MAX_LOG_RATIO: f64 = 8.0;

/// Coefficients of `ln(depth[t+h] / depth[t]) = β · x`, for one horizon `h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthModel {
    /// The horizon the coefficients were fitted for, in nanoseconds (informative).
    pub horizon_ns: u64,
    /// β, in the order of [`FEATURE_NAMES`].
    pub coef: [f64; N_FEATURES],
}

impl DepthModel {
    /// Persistence: the forecast is the current depth, the multiplier always 1.
    pub const PERSISTENCE: Self = Self {
        horizon_ns: 0,
        coef: [0.0; N_FEATURES],
    };

    /// Touch depth 1 s ahead. Fitted by `ballast liquidity` (ridge 1e-3) on the first half of
    /// each of the six Binance captures of 2024-08-08 (spot, USD-M and COIN-M; BTC and ETH;
    /// pooled, about 170 one-second samples per side each) and scored out of sample on their
    /// second halves: see the README's `ballast liquidity` section. The spread coefficient is 0
    /// because the touch spread was one tick at every sample.
    pub const TOUCH_1S: Self = Self {
        horizon_ns: 1_000_000_000,
        coef: [-0.0673, 0.7186, 0.0212, -0.1555, 0.1042, -0.0119, 0.0],
    };

    /// Touch depth 5 s ahead, fitted as [`Self::TOUCH_1S`].
    pub const TOUCH_5S: Self = Self {
        horizon_ns: 5_000_000_000,
        coef: [-0.2961, 1.0388, -0.0889, -0.1594, 0.3167, -0.1543, 0.0],
    };

    /// Depth of the first five levels 1 s ahead ([`DepthTarget::Book`]), fitted as
    /// [`Self::TOUCH_1S`].
    pub const TOP5_1S: Self = Self {
        horizon_ns: 1_000_000_000,
        coef: [-0.0492, 0.6139, 0.0948, -0.1019, 0.1674, 0.0342, -0.0403],
    };

    /// Depth of the first five levels 5 s ahead, fitted as [`Self::TOUCH_1S`].
    pub const TOP5_5S: Self = Self {
        horizon_ns: 5_000_000_000,
        coef: [-0.1275, 0.9372, -0.0692, 0.0657, 0.3068, -0.1372, 0.0826],
    };

    /// The predicted `ln(depth[t+h] / depth[t])` for features `x` (0 for a non-finite result),
    /// limited to ±8.
    #[must_use]
    pub fn log_ratio(&self, x: &[f64; N_FEATURES]) -> f64 {
        let mut s = 0.0;
        for (b, v) in self.coef.iter().zip(x) {
            s += b * v;
        }
        if s.is_finite() {
            s.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
        } else {
            0.0
        }
    }
}

/// Which depth the forecast predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthTarget {
    /// The quantity at the best price.
    Touch,
    /// The depth fields of [`BookTop`] passed to [`DepthForecast::on_book`] (e.g. the first five
    /// levels); [`DepthForecast::on_bbo`] sets them to the touch quantity.
    Book,
}

/// Settings of a [`DepthForecast`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthForecastConfig {
    /// Half-life of the fast averages and intensities, in nanoseconds.
    pub fast_half_life_ns: u64,
    /// Half-life of the slow mean of log depth, in nanoseconds.
    pub slow_half_life_ns: u64,
    /// The depth predicted.
    pub target: DepthTarget,
    /// Price tick; when not positive, the smallest positive spread seen so far stands for it.
    pub tick_px: f64,
    /// Smallest multiplier returned, in [0, 1].
    pub floor: f64,
    /// Forecast-to-current depth ratio below which the multiplier shrinks, in [0, 1]: at 0.5
    /// (the default) the size shrinks only when a void is predicted (forecast below half the
    /// current depth); at 1 it shrinks whenever any drop is predicted.
    pub trigger: f64,
    /// The coefficients.
    pub model: DepthModel,
}

impl Default for DepthForecastConfig {
    fn default() -> Self {
        Self {
            fast_half_life_ns: 1_000_000_000,
            slow_half_life_ns: 10_000_000_000,
            target: DepthTarget::Touch,
            tick_px: 0.0,
            floor: 0.25,
            trigger: 0.5,
            model: DepthModel::TOUCH_1S,
        }
    }
}

/// State of one book side.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct SideState {
    touch_px: f64,
    touch_qty: f64,
    depth: f64,
    ln_depth_fast: f64,
    ln_depth_slow: f64,
    /// Aggressive quantity that consumed this side, per second (fast EW rate).
    trade_rate: f64,
    /// Cancelled touch quantity, per second (fast EW rate).
    cancel_rate: f64,
    /// Quantity traded at or through the touch since the last book update.
    traded_at_touch: f64,
}

impl SideState {
    /// Cancellations implied by a new touch (`bid`: whether this is the bid side).
    fn cancelled(&self, bid: bool, px: f64, qty: f64) -> f64 {
        let worse = if bid {
            px < self.touch_px
        } else {
            px > self.touch_px
        };
        let gone = if px == self.touch_px {
            self.touch_qty - qty
        } else if worse {
            // The whole previous touch level left the book.
            self.touch_qty
        } else {
            0.0
        };
        (gone - self.traded_at_touch).max(0.0)
    }
}

/// Online forecast of the depth `h` seconds ahead on each side of one instrument's book (see the
/// module docs). Fixed size, no allocation, O(1) per event (two `exp` calls).
#[derive(Debug, Clone)]
pub struct DepthForecast {
    cfg: DepthForecastConfig,
    /// ln 2 / half-life, per second.
    lambda_fast: f64,
    lambda_slow: f64,
    bid: SideState,
    ask: SideState,
    last_ns: u64,
    has_book: bool,
    min_spread: f64,
}

fn lambda(half_life_ns: u64) -> f64 {
    if half_life_ns == 0 {
        f64::INFINITY
    } else {
        std::f64::consts::LN_2 / (half_life_ns as f64 * 1e-9)
    }
}

fn finite_pos(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

impl DepthForecast {
    /// A forecast with the given settings (a floor outside [0, 1] is clamped into it).
    #[must_use]
    pub fn new(mut cfg: DepthForecastConfig) -> Self {
        cfg.floor = if cfg.floor.is_nan() {
            1.0
        } else {
            cfg.floor.clamp(0.0, 1.0)
        };
        cfg.trigger = if cfg.trigger.is_nan() {
            0.0
        } else {
            cfg.trigger.clamp(0.0, 1.0)
        };
        Self {
            lambda_fast: lambda(cfg.fast_half_life_ns),
            lambda_slow: lambda(cfg.slow_half_life_ns),
            cfg,
            bid: SideState::default(),
            ask: SideState::default(),
            last_ns: 0,
            has_book: false,
            min_spread: f64::INFINITY,
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &DepthForecastConfig {
        &self.cfg
    }

    /// Replaces the coefficients (the averages and intensities are kept).
    pub fn set_model(&mut self, model: DepthModel) {
        self.cfg.model = model;
    }

    /// Whether a valid book has been seen (before it, every multiplier is 1).
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.has_book
    }

    /// Decays the averages and intensities to `ts_ns` (call it before reading the features at a
    /// time with no event; events do it themselves). A time before the last one is ignored.
    pub fn advance_to(&mut self, ts_ns: u64) {
        if !self.has_book || ts_ns <= self.last_ns {
            self.last_ns = self.last_ns.max(ts_ns);
            return;
        }
        let dt_s = (ts_ns - self.last_ns) as f64 * 1e-9;
        let keep_fast = (-self.lambda_fast * dt_s).exp();
        let keep_slow = (-self.lambda_slow * dt_s).exp();
        for s in [&mut self.bid, &mut self.ask] {
            // Time-weighted means of the (piecewise constant) log depth.
            let ln_d = s.depth.ln();
            s.ln_depth_fast += (1.0 - keep_fast) * (ln_d - s.ln_depth_fast);
            s.ln_depth_slow += (1.0 - keep_slow) * (ln_d - s.ln_depth_slow);
            s.trade_rate *= keep_fast;
            s.cancel_rate *= keep_fast;
        }
        self.last_ns = ts_ns;
    }

    /// Feeds a top-of-book update with touch quantities only (the depth of each side is its touch
    /// quantity). Returns `false`, changing nothing, for a non-finite or non-positive value or a
    /// crossed book.
    pub fn on_bbo(
        &mut self,
        ts_ns: u64,
        bid_px: f64,
        bid_qty: f64,
        ask_px: f64,
        ask_qty: f64,
    ) -> bool {
        self.on_book(
            ts_ns,
            BookTop {
                bid_px,
                bid_qty,
                ask_px,
                ask_qty,
                bid_depth: bid_qty,
                ask_depth: ask_qty,
            },
        )
    }

    /// Feeds a top-of-book update with the depth of each side (used when the target is
    /// [`DepthTarget::Book`]; a depth below the touch quantity is raised to it). Returns `false`,
    /// changing nothing, for a non-finite or non-positive value or a crossed book.
    pub fn on_book(&mut self, ts_ns: u64, top: BookTop) -> bool {
        let ok = [
            top.bid_px,
            top.bid_qty,
            top.ask_px,
            top.ask_qty,
            top.bid_depth,
            top.ask_depth,
        ]
        .iter()
        .all(|v| finite_pos(*v))
            && top.bid_px < top.ask_px;
        if !ok {
            return false;
        }
        let (bid_depth, ask_depth) = match self.cfg.target {
            DepthTarget::Touch => (top.bid_qty, top.ask_qty),
            DepthTarget::Book => (
                top.bid_depth.max(top.bid_qty),
                top.ask_depth.max(top.ask_qty),
            ),
        };
        if !self.has_book {
            self.has_book = true;
            self.last_ns = ts_ns;
            for (s, px, qty, d) in [
                (&mut self.bid, top.bid_px, top.bid_qty, bid_depth),
                (&mut self.ask, top.ask_px, top.ask_qty, ask_depth),
            ] {
                *s = SideState {
                    touch_px: px,
                    touch_qty: qty,
                    depth: d,
                    ln_depth_fast: d.ln(),
                    ln_depth_slow: d.ln(),
                    ..SideState::default()
                };
            }
        } else {
            self.advance_to(ts_ns);
            let (lf, bid, ask) = (self.lambda_fast, &mut self.bid, &mut self.ask);
            for (s, is_bid, px, qty, d) in [
                (bid, true, top.bid_px, top.bid_qty, bid_depth),
                (ask, false, top.ask_px, top.ask_qty, ask_depth),
            ] {
                let c = s.cancelled(is_bid, px, qty);
                if lf.is_finite() {
                    s.cancel_rate += c * lf;
                }
                s.touch_px = px;
                s.touch_qty = qty;
                s.depth = d;
                s.traded_at_touch = 0.0;
            }
        }
        let spread = top.ask_px - top.bid_px;
        if spread < self.min_spread {
            self.min_spread = spread;
        }
        true
    }

    /// Feeds a trade of `qty` at `px`; `aggressor` is the side that crossed the spread (a buy
    /// consumes the asks). Returns `false`, changing nothing, for a non-finite or non-positive
    /// value or before the first book.
    pub fn on_trade(&mut self, ts_ns: u64, px: f64, qty: f64, aggressor: TradeSide) -> bool {
        if !(finite_pos(px) && finite_pos(qty) && self.has_book) {
            return false;
        }
        self.advance_to(ts_ns);
        let lf = self.lambda_fast;
        let (ask_px, bid_px) = (self.ask.touch_px, self.bid.touch_px);
        let (s, at_touch) = match aggressor {
            TradeSide::Buy => (&mut self.ask, px >= ask_px),
            TradeSide::Sell => (&mut self.bid, px <= bid_px),
        };
        if lf.is_finite() {
            s.trade_rate += qty * lf;
        }
        if at_touch {
            s.traded_at_touch += qty;
        }
        true
    }

    fn sides(&self, side: TradeSide) -> (&SideState, &SideState) {
        match side {
            TradeSide::Buy => (&self.ask, &self.bid),
            TradeSide::Sell => (&self.bid, &self.ask),
        }
    }

    /// The current depth (of the configured target) on the side a trade in `side` consumes
    /// (the asks for a buy); 0 before the first book.
    #[must_use]
    pub fn depth(&self, side: TradeSide) -> f64 {
        self.sides(side).0.depth
    }

    /// The slow (default 10 s half-life) time-weighted mean of the log depth on the side a trade
    /// in `side` consumes, as a depth (`exp` of it): the "rolling mean" baseline.
    #[must_use]
    pub fn slow_mean_depth(&self, side: TradeSide) -> f64 {
        if self.has_book {
            self.sides(side).0.ln_depth_slow.exp()
        } else {
            0.0
        }
    }

    /// Aggressive quantity per second consuming the side a trade in `side` consumes (fast).
    #[must_use]
    pub fn trade_intensity(&self, side: TradeSide) -> f64 {
        self.sides(side).0.trade_rate
    }

    /// Cancelled touch quantity per second on the side a trade in `side` consumes (fast).
    #[must_use]
    pub fn cancel_intensity(&self, side: TradeSide) -> f64 {
        self.sides(side).0.cancel_rate
    }

    /// The model's features for the side a trade in `side` consumes, in the order of
    /// [`FEATURE_NAMES`]; `None` before the first book.
    #[must_use]
    pub fn features(&self, side: TradeSide) -> Option<[f64; N_FEATURES]> {
        if !self.has_book {
            return None;
        }
        let (s, o) = self.sides(side);
        let ln_d = s.depth.ln();
        let tick = if finite_pos(self.cfg.tick_px) {
            self.cfg.tick_px
        } else {
            self.min_spread
        };
        // Intensities per unit of the side's typical (slow mean) depth, not of the current one:
        // the gap to the mean already carries how thin the side is now.
        let typical = s.ln_depth_slow.exp();
        let spread = self.ask.touch_px - self.bid.touch_px;
        let spread_ticks = if finite_pos(tick) {
            (spread / tick).max(1.0).ln()
        } else {
            0.0
        };
        Some([
            1.0,
            s.ln_depth_slow - ln_d,
            s.ln_depth_fast - ln_d,
            (s.trade_rate / typical).ln_1p(),
            (s.cancel_rate / typical).ln_1p(),
            (s.touch_qty - o.touch_qty) / (s.touch_qty + o.touch_qty),
            spread_ticks,
        ])
    }

    /// The forecast depth `h` ahead on the side a trade in `side` consumes; 0 before the first
    /// book.
    #[must_use]
    pub fn forecast_depth(&self, side: TradeSide) -> f64 {
        match self.features(side) {
            Some(x) => self.depth(side) * self.cfg.model.log_ratio(&x).exp(),
            None => 0.0,
        }
    }

    /// Size multiplier in `[floor, 1]` for a trade in `side`, from the forecast-to-current depth
    /// ratio on the side it consumes ([`multiplier_of`]); 1 before the first book.
    #[must_use]
    pub fn multiplier(&self, side: TradeSide) -> f64 {
        match self.features(side) {
            Some(x) => multiplier_of(
                self.cfg.model.log_ratio(&x),
                self.cfg.trigger,
                self.cfg.floor,
            ),
            None => 1.0,
        }
    }
}

/// The multiplier for a predicted `ln(forecast / depth)`: the ratio `r = forecast / depth`
/// clamped into `[floor, 1]` when `r < trigger`, else 1 (no predicted void, no shrink). A NaN
/// prediction gives 1; `floor` and `trigger` are clamped into [0, 1].
#[must_use]
pub fn multiplier_of(log_ratio: f64, trigger: f64, floor: f64) -> f64 {
    let r = log_ratio.exp();
    let floor = if floor.is_nan() {
        1.0
    } else {
        floor.clamp(0.0, 1.0)
    };
    if r < trigger.min(1.0) {
        r.clamp(floor, 1.0)
    } else {
        1.0
    }
}

/// Why [`DepthFitter::solve`] found no coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FitError {
    /// Fewer samples than features.
    #[error("{0} samples, need at least {N_FEATURES}")]
    TooFewSamples(u64),
    /// The normal equations are singular (a feature never varies).
    #[error("singular normal equations")]
    Singular,
}

/// Least-squares fit of a [`DepthModel`]: accumulates `XᵀX` and `Xᵀy` sample by sample (fixed
/// size, no allocation) and solves `(XᵀX + n·ridge·I′) β = Xᵀy`, `I′` sparing the constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthFitter {
    xtx: [[f64; N_FEATURES]; N_FEATURES],
    xty: [f64; N_FEATURES],
    n: u64,
}

impl Default for DepthFitter {
    fn default() -> Self {
        Self {
            xtx: [[0.0; N_FEATURES]; N_FEATURES],
            xty: [0.0; N_FEATURES],
            n: 0,
        }
    }
}

impl DepthFitter {
    /// Adds a sample: features `x` and the realized `ln(depth[t+h] / depth[t])`. A non-finite
    /// value skips the sample (`false`).
    pub fn add(&mut self, x: &[f64; N_FEATURES], y: f64) -> bool {
        if !(y.is_finite() && x.iter().all(|v| v.is_finite())) {
            return false;
        }
        for i in 0..N_FEATURES {
            for j in 0..N_FEATURES {
                self.xtx[i][j] += x[i] * x[j];
            }
            self.xty[i] += x[i] * y;
        }
        self.n += 1;
        true
    }

    /// Samples added.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether no sample was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The coefficients, for horizon `horizon_ns`, with ridge `ridge` (relative to the sample
    /// count; a negative or non-finite ridge counts as 0).
    ///
    /// # Errors
    /// [`FitError`] with too few samples or singular equations.
    pub fn solve(&self, horizon_ns: u64, ridge: f64) -> Result<DepthModel, FitError> {
        if self.n < N_FEATURES as u64 {
            return Err(FitError::TooFewSamples(self.n));
        }
        let ridge = if ridge.is_finite() {
            ridge.max(0.0)
        } else {
            0.0
        };
        let mut a = self.xtx;
        let mut b = self.xty;
        let norm = a.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
        for (i, row) in a.iter_mut().enumerate().skip(1) {
            row[i] += ridge * self.n as f64;
        }
        // Gaussian elimination with partial pivoting.
        for col in 0..N_FEATURES {
            let piv = (col..N_FEATURES)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap_or(col);
            if !(a[piv][col].abs() > 1e-12 * norm) {
                return Err(FitError::Singular);
            }
            a.swap(col, piv);
            b.swap(col, piv);
            let pivot_row = a[col];
            for r in col + 1..N_FEATURES {
                let f = a[r][col] / pivot_row[col];
                for (v, p) in a[r][col..].iter_mut().zip(&pivot_row[col..]) {
                    *v -= f * p;
                }
                b[r] -= f * b[col];
            }
        }
        let mut coef = [0.0; N_FEATURES];
        for i in (0..N_FEATURES).rev() {
            let mut s = b[i];
            for j in i + 1..N_FEATURES {
                s -= a[i][j] * coef[j];
            }
            coef[i] = s / a[i][i];
        }
        if coef.iter().all(|c| c.is_finite()) {
            Ok(DepthModel { horizon_ns, coef })
        } else {
            Err(FitError::Singular)
        }
    }
}
