//! The built-in synthetic market: a deterministic, seeded Binance spot market rendered as real
//! Binance frames (combined-stream `bookTicker`, `trade`, `depthUpdate@100ms` and the bare REST depth
//! snapshot), so the demo runs through the very parser, book sync, pipeline and kernel that replays
//! of captured data use.
//!
//! The mid follows a GARCH(1,1) random walk per step (volatility clustering) with one volatility
//! shock (variance × `shock_mult`², plus a jump) part-way through. Every elementary book change has
//! its own update id, exactly as on the venue: a `bookTicker` carries the id of the change that
//! moved the touch, and each step's `depthUpdate` aggregates the step's changes (`U` = first id,
//! `u` = last). The market opens with buffered diffs, a snapshot and a bridging diff; optionally one
//! diff is lost (a sequence gap) and a later snapshot re-syncs the book.
//!
//! [`portfolio`] generates the portfolio demo's market the same way: several correlated factors
//! quoted on spot, USD-M and COIN-M markets, one input per market.

#![forbid(unsafe_code)]

pub mod portfolio;

use std::collections::BTreeMap;

use feeds::binance::encode::{self, Scales};
use feeds::PxQty;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Parameters of the synthetic market.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// RNG seed: same seed, same frames.
    pub seed: u64,
    /// Steps to simulate (one depth diff per step).
    pub steps: u32,
    /// Event time per step, ms.
    pub step_ms: u64,
    /// Unconditional annualized volatility of the mid.
    pub base_vol: f64,
    /// Step (fraction of the run) at which the volatility shock hits.
    pub shock_at: f64,
    /// Volatility multiple at the shock.
    pub shock_mult: f64,
    /// Step (fraction of the run) whose depth diff is lost, if any; a snapshot follows 20 steps later.
    pub gap_at: Option<f64>,
    /// Price levels kept on each side.
    pub levels: usize,
    /// Opening mid price.
    pub start_px: f64,
    /// Symbol (uppercase).
    pub symbol: String,
    /// Receive time of the first frame, ns since the epoch.
    pub start_ns: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            steps: 60_000,
            step_ms: 50,
            base_vol: 0.6,
            shock_at: 0.6,
            shock_mult: 6.0,
            gap_at: Some(0.8),
            levels: 25,
            start_px: 60_000.0,
            symbol: "BTCUSDT".into(),
            start_ns: 1_723_161_600_000_000_000,
        }
    }
}

const SCALES: Scales = Scales { px: 8, qty: 8 };
/// 0.01 at scale 8.
const TICK: i64 = 1_000_000;
/// 0.00001 at scale 8.
const LOT: i64 = 1_000;

/// Both sides of the generator's book and the update id they reflect.
type BookCopy = (BTreeMap<i64, i64>, BTreeMap<i64, i64>, u64);

struct Gen {
    rng: ChaCha8Rng,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    id: u64,
    trade_id: u64,
    /// Changes of the current step: (is_bid, px) → qty.
    step_changes: BTreeMap<(bool, i64), i64>,
    step_first_id: u64,
    symbol: String,
    frames: Vec<(u64, Vec<u8>)>,
}

impl Gen {
    fn rand_qty(&mut self) -> i64 {
        // 0.001 .. ~2 BTC, heavy-ish tail, in lots.
        let u: f64 = self.rng.gen_range(0.0..1.0);
        let q = 0.001 + 1.5 * u * u * u;
        ((q * 1e8) as i64 / LOT).max(1) * LOT
    }

    fn set(&mut self, is_bid: bool, px: i64, qty: i64) -> u64 {
        let side = if is_bid {
            &mut self.bids
        } else {
            &mut self.asks
        };
        if qty == 0 {
            side.remove(&px);
        } else {
            side.insert(px, qty);
        }
        self.id += 1;
        if self.step_changes.is_empty() {
            self.step_first_id = self.id;
        }
        self.step_changes.insert((is_bid, px), qty);
        self.id
    }

    fn best_bid(&self) -> (i64, i64) {
        self.bids
            .iter()
            .next_back()
            .map_or((0, 0), |(p, q)| (*p, *q))
    }

    fn best_ask(&self) -> (i64, i64) {
        self.asks.iter().next().map_or((0, 0), |(p, q)| (*p, *q))
    }

    fn push_ticker(&mut self, recv_ns: u64) {
        let (bp, bq) = self.best_bid();
        let (ap, aq) = self.best_ask();
        let mut f = Vec::with_capacity(160);
        let (bid, ask) = (PxQty { px: bp, qty: bq }, PxQty { px: ap, qty: aq });
        encode::book_ticker(&mut f, &self.symbol, self.id, bid, ask, SCALES);
        self.frames.push((recv_ns, f));
    }

    fn push_trade(&mut self, recv_ns: u64, px: i64, qty: i64, buyer_is_maker: bool) {
        self.trade_id += 1;
        let ms = recv_ns / 1_000_000;
        let mut f = Vec::with_capacity(200);
        encode::trade(
            &mut f,
            &self.symbol,
            ms,
            self.trade_id,
            px,
            qty,
            ms,
            buyer_is_maker,
            SCALES,
        );
        self.frames.push((recv_ns, f));
    }

    /// Ends the step: renders its depth diff (or drops it when `lose`).
    fn push_depth(&mut self, recv_ns: u64, lose: bool) {
        if self.step_changes.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut self.step_changes);
        if lose {
            return;
        }
        let level = |((_, p), q): (&(bool, i64), &i64)| PxQty { px: *p, qty: *q };
        let bids: Vec<PxQty> = changes
            .iter()
            .filter(|((b, _), _)| *b)
            .rev()
            .map(level)
            .collect();
        let asks: Vec<PxQty> = changes
            .iter()
            .filter(|((b, _), _)| !*b)
            .map(level)
            .collect();
        let mut f = Vec::with_capacity(96 + 40 * changes.len());
        encode::depth_update(
            &mut f,
            &self.symbol,
            recv_ns / 1_000_000,
            self.step_first_id,
            self.id,
            &bids,
            &asks,
            SCALES,
        );
        self.frames.push((recv_ns, f));
    }

    fn snapshot_frame(bids: &BTreeMap<i64, i64>, asks: &BTreeMap<i64, i64>, id: u64) -> Vec<u8> {
        let b: Vec<PxQty> = bids
            .iter()
            .rev()
            .map(|(p, q)| PxQty { px: *p, qty: *q })
            .collect();
        let a: Vec<PxQty> = asks
            .iter()
            .map(|(p, q)| PxQty { px: *p, qty: *q })
            .collect();
        let mut f = Vec::with_capacity(64 + 40 * (b.len() + a.len()));
        encode::snapshot(&mut f, id, &b, &a, SCALES);
        f
    }
}

/// Standard normal draw (Box–Muller; deterministic under the seed).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Generates the whole market: `(receive ns, raw frame)` in receive order.
#[must_use]
pub fn generate(cfg: &SynthConfig) -> Vec<(u64, Vec<u8>)> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        bids: BTreeMap::new(),
        asks: BTreeMap::new(),
        id: 1_000_000,
        trade_id: 5_000_000,
        step_changes: BTreeMap::new(),
        step_first_id: 0,
        symbol: cfg.symbol.clone(),
        frames: Vec::with_capacity(cfg.steps as usize * 7 + 16),
    };
    let levels = cfg.levels.max(2) as i64;
    let step_ns = cfg.step_ms.max(1) * 1_000_000;
    let steps_per_year = 365.25 * 86_400_000.0 / cfg.step_ms.max(1) as f64;
    let uncond = cfg.base_vol * cfg.base_vol / steps_per_year;
    let (alpha, beta) = (0.01, 0.9897);
    let omega = uncond * (1.0 - alpha - beta);
    let mut h = uncond;
    let mut log_mid = cfg.start_px.ln();
    let shock_step = (cfg.shock_at * f64::from(cfg.steps)) as u32;
    let gap_step = cfg.gap_at.map(|g| (g * f64::from(cfg.steps)) as u32);
    let mut resync_at: Option<u32> = None;
    // Opening book.
    let mid_ticks = ((cfg.start_px * 1e8) as i64) / TICK;
    for k in 0..levels {
        let q = g.rand_qty();
        g.bids.insert((mid_ticks - 1 - k) * TICK, q);
        let q = g.rand_qty();
        g.asks.insert((mid_ticks + k) * TICK, q);
    }
    let mut saved: Option<BookCopy> = None;
    for step in 0..cfg.steps {
        let t0 = cfg.start_ns + u64::from(step) * step_ns;
        // Volatility: GARCH(1,1) per step, plus the shock.
        let z = normal(&mut g.rng);
        if step == shock_step {
            h *= cfg.shock_mult * cfg.shock_mult;
            log_mid -= 3.0 * h.sqrt();
        }
        let r = h.sqrt() * z;
        h = omega + alpha * r * r + beta * h;
        log_mid += r;
        let mid = log_mid.exp();
        let new_bid = ((mid * 1e8) as i64 / TICK - 1) * TICK;
        let spread_ticks = if g.rng.gen_range(0..10) == 0 { 2 } else { 1 };
        let new_ask = new_bid + spread_ticks * TICK;
        let mut t = t0;
        let dt = step_ns / 16;
        // Trades at the old touch consume displayed quantity.
        let n_trades = g.rng.gen_range(0..4);
        for _ in 0..n_trades {
            let buy = g.rng.gen_bool(0.5);
            let (px, q) = if buy { g.best_ask() } else { g.best_bid() };
            if px == 0 {
                continue;
            }
            let tq = (q / 4 / LOT).max(1) * LOT;
            t += dt;
            g.push_trade(t, px, tq.min(q), !buy);
            g.set(!buy, px, (q - tq).max(0));
            t += dt / 4;
            g.push_ticker(t);
        }
        // Move the touch: clear levels that would cross, add levels inside.
        let crossing_bids: Vec<i64> = g.bids.range(new_ask..).map(|(p, _)| *p).collect();
        for p in crossing_bids {
            g.set(true, p, 0);
        }
        let crossing_asks: Vec<i64> = g.asks.range(..=new_bid).map(|(p, _)| *p).collect();
        for p in crossing_asks {
            g.set(false, p, 0);
        }
        for k in 0..levels {
            let p = new_bid - k * TICK;
            if !g.bids.contains_key(&p) {
                let q = g.rand_qty();
                g.set(true, p, q);
            }
            let p = new_ask + k * TICK;
            if !g.asks.contains_key(&p) {
                let q = g.rand_qty();
                g.set(false, p, q);
            }
        }
        t += dt;
        g.push_ticker(t);
        // Quote churn near the touch.
        for _ in 0..g.rng.gen_range(1..5) {
            let bid_side = g.rng.gen_bool(0.5);
            let k = g.rng.gen_range(0..3);
            let p = if bid_side {
                g.best_bid().0 - k * TICK
            } else {
                g.best_ask().0 + k * TICK
            };
            let q = g.rand_qty();
            g.set(bid_side, p, q);
            if k == 0 {
                t += dt;
                g.push_ticker(t);
            }
        }
        // Trim far levels.
        while g.bids.len() > levels as usize + 5 {
            let p = *g.bids.keys().next().expect("non-empty");
            g.set(true, p, 0);
        }
        while g.asks.len() > levels as usize + 5 {
            let p = *g.asks.keys().next_back().expect("non-empty");
            g.set(false, p, 0);
        }
        let lose = gap_step == Some(step);
        if lose {
            resync_at = Some(step + 20);
        }
        g.push_depth(t0 + step_ns - 1000, lose);
        if step == 0 {
            saved = Some((g.bids.clone(), g.asks.clone(), g.id));
        }
        if step == 1 {
            // The opening snapshot arrives after two buffered diffs and reflects the first.
            let (b, a, id) = saved.take().expect("saved at step 0");
            g.frames
                .push((t0 + step_ns - 500, Gen::snapshot_frame(&b, &a, id)));
        }
        if resync_at == Some(step) {
            let f = Gen::snapshot_frame(&g.bids, &g.asks, g.id);
            g.frames.push((t0 + step_ns - 500, f));
        }
    }
    g.frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_ordered() {
        let cfg = SynthConfig {
            steps: 500,
            ..SynthConfig::default()
        };
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a, b);
        assert!(
            a.windows(2).all(|w| w[0].0 <= w[1].0),
            "receive times must not go backwards"
        );
        assert!(a.iter().any(|(_, f)| f.starts_with(b"{\"lastUpdateId\":")));
        let other = generate(&SynthConfig { seed: 8, ..cfg });
        assert_ne!(a, other);
    }
}
