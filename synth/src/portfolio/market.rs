//! One market of one factor: its basis, its book and the frames that book's changes produce, in
//! that market's own dialect: Binance trades, `bookTicker`, depth diffs and REST snapshots (spot
//! `U`/`u` with consecutive ids; futures `pu` with ids that skip), or Deribit's JSON-RPC
//! notifications (`book.*` opening with a snapshot and chained by `change_id`, `ticker.*` with
//! mark, index and funding, `trades.*`; amounts in USD).

use feeds::binance::encode::{self, Futures, Scales};
use feeds::deribit::encode::{self as deribit, BookAction, BookFrame, FutureTicker};
use feeds::registry::POW10;
use feeds::{Market, PxQty};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::factors::Normals;
use super::MarketSpec;

/// Spacing of the book's levels behind the touch, in basis points of the opening price.
const LEVEL_GAP_BP: f64 = 0.3;
/// Grid levels behind the touch that vanish in a liquidity void.
const VOID_HOLE: usize = 5;
/// Touch size in a liquidity void, as a fraction of the usual.
const VOID_TOUCH: f64 = 0.1;
/// Mean-reversion time of the basis and of the depth, s.
const BASIS_TAU_S: f64 = 30.0;
const DEPTH_TAU_S: f64 = 60.0;
/// Stationary standard deviation of the basis (bp) and of the log depth.
const BASIS_SD_BP: f64 = 0.5;
const DEPTH_SD: f64 = 0.3;

/// The run's clock and events, as one market sees them (grid steps in quote steps).
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub(super) start_ns: u64,
    pub(super) quote_ns: u64,
    /// Factor grid steps per quote step.
    pub(super) steps_per_quote: usize,
    /// Quote steps per depth diff.
    pub(super) quotes_per_depth: usize,
    pub(super) quotes: usize,
    pub(super) levels: usize,
    pub(super) trades_per_s: f64,
    /// Quote steps `[a, b)` of a liquidity void on this market.
    pub(super) void: Option<(usize, usize)>,
    /// Depth period whose diff is lost, and the period after whose diff the resync snapshot
    /// arrives.
    pub(super) lost: Option<(usize, usize)>,
}

/// Frames of one market, and when its lost diff and resync snapshot would be received.
#[derive(Debug)]
pub(super) struct MarketFrames {
    pub(super) frames: Vec<(u64, Vec<u8>)>,
    pub(super) lost_recv_ns: Option<u64>,
    pub(super) resync_recv_ns: Option<u64>,
}

/// One side of a book: levels by ascending price (at most a few dozen, so a sorted `Vec`).
type Side = Vec<PxQty>;

struct Sim<'a> {
    spec: &'a MarketSpec,
    pair: &'a str,
    scales: Scales,
    rng: ChaCha8Rng,
    normals: Normals,
    bids: Side,
    asks: Side,
    id: u64,
    trade_id: u64,
    agg_id: u64,
    /// Changes since the last depth diff, in order: (is_bid, px, qty).
    changes: Vec<(bool, i64, i64)>,
    first_id: u64,
    prev_final_id: u64,
    last_ticker: (PxQty, PxQty),
    last_recv: u64,
    latency_ns: u64,
    /// Mark (the mid) and index (the factor's price) now, for Deribit's tickers and trades.
    mark: f64,
    index: f64,
    /// Deribit: the book as last published (ascending prices), and whether its snapshot went out.
    pub_bids: Side,
    pub_asks: Side,
    published: bool,
    out: MarketFrames,
}

/// Runs one market over the factor's log-price path `x` (relative to `start_px`; `x[n]` at grid
/// point `n`) and `shock(n)`, the factor's volatility multiple at step `n`.
pub(super) fn run(
    spec: &MarketSpec,
    start_px: f64,
    x: &[f64],
    shock: &dyn Fn(usize) -> f64,
    plan: &Plan,
    rng: ChaCha8Rng,
) -> MarketFrames {
    let futures = spec.market != Market::BinanceSpot;
    let mut s = Sim {
        spec,
        pair: spec.symbol.split('_').next().unwrap_or(&spec.symbol),
        scales: Scales {
            px: spec.px_scale,
            qty: spec.qty_scale,
        },
        rng,
        normals: Normals::default(),
        bids: Side::new(),
        asks: Side::new(),
        id: if futures {
            7_000_000_000
        } else {
            50_000_000_000
        },
        trade_id: 3_000_000_000,
        agg_id: 2_000_000_000,
        changes: Vec::with_capacity(64),
        first_id: 0,
        prev_final_id: 0,
        last_ticker: (PxQty::default(), PxQty::default()),
        last_recv: 0,
        latency_ns: match spec.market {
            Market::BinanceSpot => 1_200_000,
            Market::BinanceUsdM => 900_000,
            Market::Deribit => 1_500_000,
            _ => 1_100_000,
        },
        mark: start_px,
        index: start_px,
        pub_bids: Side::new(),
        pub_asks: Side::new(),
        published: false,
        out: MarketFrames {
            frames: Vec::with_capacity(plan.quotes * 3 + 16),
            lost_recv_ns: None,
            resync_recv_ns: None,
        },
    };
    s.id += s.rng.gen_range(0..1_000_000);
    s.prev_final_id = s.id;
    let px_unit = POW10[spec.px_scale as usize] as f64;
    let tick = spec.tick as f64;
    let gap = ((start_px * LEVEL_GAP_BP * 1e-4 * px_unit / tick).round() as i64).max(1);
    let quote_s = plan.quote_ns as f64 * 1e-9;
    let basis_mean = spec.basis_bp * 1e-4;
    let (kb, sb) = ou(quote_s, BASIS_TAU_S, BASIS_SD_BP * 1e-4);
    let (kd, sd) = ou(quote_s, DEPTH_TAU_S, DEPTH_SD);
    let mut basis = basis_mean;
    let mut log_depth = 0.0;
    let mut old_mid = start_px;
    let mut saved: Option<(Side, Side, u64, u64)> = None;
    for q in 0..plan.quotes {
        let t0 = plan.start_ns + q as u64 * plan.quote_ns;
        let n = (q + 1) * plan.steps_per_quote;
        basis += kb * (basis_mean - basis) + sb * s.normals.next(&mut s.rng);
        log_depth += -kd * log_depth + sd * s.normals.next(&mut s.rng);
        let mid = start_px * libm::exp(x[n] + basis);
        s.mark = mid;
        s.index = start_px * libm::exp(x[n]);
        let depth = libm::exp(log_depth) / shock(n - 1).sqrt();
        let in_void = plan.void.is_some_and(|(a, b)| (a..b).contains(&q));
        s.trades(t0, plan, mid > old_mid);
        old_mid = mid;
        // Move the book to the new mid: the touch (wider in a void), then grid levels behind it.
        let spread = if in_void {
            2 * gap + 1
        } else if s.rng.gen_range(0..10) == 0 {
            2
        } else {
            1
        };
        let mid_ticks = mid * px_unit / tick;
        let best_bid = (mid_ticks - spread as f64 / 2.0).floor() as i64;
        let best_ask = best_bid + spread;
        let hole = if in_void { VOID_HOLE } else { 0 };
        let first_bid = (best_bid - 1).div_euclid(gap) * gap;
        let first_ask = (best_ask.div_euclid(gap) + 1) * gap;
        let bid_px: Vec<i64> = std::iter::once(best_bid)
            .chain((hole..plan.levels - 1).map(|k| first_bid - k as i64 * gap))
            .map(|t| t * spec.tick)
            .collect();
        let ask_px: Vec<i64> = std::iter::once(best_ask)
            .chain((hole..plan.levels - 1).map(|k| first_ask + k as i64 * gap))
            .map(|t| t * spec.tick)
            .collect();
        let touch_depth = if in_void { depth * VOID_TOUCH } else { depth };
        s.move_side(true, &bid_px, mid, depth, touch_depth);
        s.move_side(false, &ask_px, mid, depth, touch_depth);
        // Quote churn: one to three levels change size (side and level from one draw).
        let bits: u64 = s.rng.gen();
        for c in 0..1 + bits % 3 {
            let b = bits >> (2 + 16 * c);
            let is_bid = b & 1 == 1;
            let side = if is_bid { &bid_px } else { &ask_px };
            let k = (b >> 1) as usize % side.len();
            let d = if k == 0 { touch_depth } else { depth };
            let qty = s.draw_qty(k, mid, d);
            s.set(is_bid, side[k], qty);
        }
        s.ticker(t0 + plan.quote_ns * 3 / 4);
        if (q + 1) % plan.quotes_per_depth == 0 {
            let period = q / plan.quotes_per_depth;
            let t_end = t0 + plan.quote_ns - 1_000;
            let lose = plan.lost.is_some_and(|(p, _)| p == period);
            let recv = s.depth(t_end, lose);
            if lose {
                s.out.lost_recv_ns = Some(recv);
            }
            if period == 0 {
                saved = Some((s.bids.clone(), s.asks.clone(), s.id, t_end));
            }
            if period == 1 && spec.market != Market::Deribit {
                // The opening snapshot arrives after two diffs and reflects the first (Deribit's
                // book channel opens with its snapshot instead).
                if let Some((b, a, id, at)) = saved.take() {
                    s.snapshot(&b, &a, id, at, t_end + 500_000);
                }
            }
            if plan.lost.is_some_and(|(_, r)| r == period) {
                let (b, a) = (s.bids.clone(), s.asks.clone());
                let recv = s.snapshot(&b, &a, s.id, t_end, t_end + 500_000);
                s.out.resync_recv_ns = Some(recv);
            }
        }
    }
    s.out
}

/// Channel interval of the Deribit notifications.
const DERIBIT_INTERVAL: &str = "100ms";

/// The Deribit book actions taking side `old` to `new` (both ascending by price), ascending.
fn diff(old: &Side, new: &Side) -> Vec<(BookAction, PxQty)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) if o.px == n.px => {
                if o.qty != n.qty {
                    out.push((BookAction::Change, *n));
                }
                i += 1;
                j += 1;
            }
            (Some(o), Some(n)) if o.px < n.px => {
                out.push((BookAction::Delete, *o));
                i += 1;
            }
            (Some(o), None) => {
                out.push((BookAction::Delete, *o));
                i += 1;
            }
            (_, Some(n)) => {
                out.push((BookAction::New, *n));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// Per-step mean reversion and shock size of an Ornstein–Uhlenbeck process with time constant
/// `tau_s` and stationary standard deviation `sd`, stepped every `dt_s`.
fn ou(dt_s: f64, tau_s: f64, sd: f64) -> (f64, f64) {
    let k = (dt_s / tau_s).min(1.0);
    (k, sd * (k * (2.0 - k)).sqrt())
}

impl Sim<'_> {
    fn futures(&self) -> Option<Futures<'_>> {
        match self.spec.market {
            Market::BinanceSpot | Market::Deribit => None,
            Market::BinanceCoinM => Some(Futures::CoinM { pair: self.pair }),
            _ => Some(Futures::UsdM),
        }
    }

    /// Receive time of an event at `event_ns`: the market's latency plus jitter, never before
    /// the market's previous frame.
    fn stamp(&mut self, event_ns: u64) -> u64 {
        let r = event_ns + self.latency_ns + self.rng.gen_range(0..300_000);
        self.last_recv = self.last_recv.max(r);
        self.last_recv
    }

    /// A level's size: notional growing with distance from the touch, heavy-tailed, scaled by
    /// `depth`; in lots (COIN-M: contracts).
    fn draw_qty(&mut self, k: usize, mid: f64, depth: f64) -> i64 {
        let u: f64 = self.rng.gen_range(0.0..1.0);
        let usd = self.spec.level_usd * depth * (0.4 + 0.1 * k as f64) * (0.2 + 1.6 * u * u);
        let units = match (self.spec.market, self.spec.contract_usd) {
            // Deribit's futures amounts are USD.
            (Market::Deribit, _) => usd,
            (_, Some(c)) => usd / f64::from(c),
            (_, None) => usd / mid,
        };
        let lots =
            (units * POW10[self.spec.qty_scale as usize] as f64 / self.spec.lot as f64) as i64;
        lots.max(1) * self.spec.lot
    }

    /// One elementary book change, with its own update id.
    fn set(&mut self, is_bid: bool, px: i64, qty: i64) {
        let side = if is_bid {
            &mut self.bids
        } else {
            &mut self.asks
        };
        match side.binary_search_by_key(&px, |l| l.px) {
            Ok(i) if side[i].qty == qty => return,
            Ok(i) if qty == 0 => {
                side.remove(i);
            }
            Ok(i) => side[i].qty = qty,
            Err(_) if qty == 0 => return,
            Err(i) => side.insert(i, PxQty { px, qty }),
        }
        // Futures ids skip (other updates of the venue's engine; by a step drawn from the change
        // itself, no RNG draw); spot ids are consecutive.
        self.id += if self.spec.market == Market::BinanceSpot {
            1
        } else {
            1 + (px ^ qty).unsigned_abs() % 3
        };
        if self.changes.is_empty() {
            self.first_id = self.id;
        }
        self.changes.push((is_bid, px, qty));
    }

    /// Makes one side hold exactly the levels `px` (touch first): others removed, missing ones
    /// added.
    fn move_side(&mut self, is_bid: bool, px: &[i64], mid: f64, depth: f64, touch_depth: f64) {
        // `px` runs away from the touch: descending for bids, ascending for asks.
        let wanted = |p: i64| {
            if is_bid {
                px.binary_search_by(|x| p.cmp(x)).is_ok()
            } else {
                px.binary_search(&p).is_ok()
            }
        };
        let side = if is_bid { &self.bids } else { &self.asks };
        let gone: Vec<i64> = side
            .iter()
            .filter(|l| !wanted(l.px))
            .map(|l| l.px)
            .collect();
        for p in gone {
            self.set(is_bid, p, 0);
        }
        for (k, &p) in px.iter().enumerate() {
            let side = if is_bid { &self.bids } else { &self.asks };
            if side.binary_search_by_key(&p, |l| l.px).is_err() {
                let d = if k == 0 { touch_depth } else { depth };
                let qty = self.draw_qty(k, mid, d);
                self.set(is_bid, p, qty);
            }
        }
    }

    fn touch(&self) -> (PxQty, PxQty) {
        (
            self.bids.last().copied().unwrap_or_default(),
            self.asks.first().copied().unwrap_or_default(),
        )
    }

    /// Trades in the first half of the quote step, at the touch, each taking part of it.
    fn trades(&mut self, t0: u64, plan: &Plan, up: bool) {
        let p = plan.trades_per_s * plan.quote_ns as f64 * 1e-9;
        let n = u32::from(self.rng.gen_bool((0.8 * p).min(1.0)))
            + u32::from(self.rng.gen_bool((0.2 * p).min(1.0)));
        for j in 0..n {
            let buy = self.rng.gen_bool(if up { 0.7 } else { 0.3 });
            let (bid, ask) = self.touch();
            let level = if buy { ask } else { bid };
            if level.qty == 0 {
                continue;
            }
            let f: f64 = self.rng.gen_range(0.05..0.6);
            let lots = (level.qty as f64 * f / self.spec.lot as f64) as i64;
            let qty = (lots.max(1) * self.spec.lot).min(level.qty);
            let event_ns = t0 + plan.quote_ns * u64::from(j + 1) / 8;
            let recv = self.stamp(event_ns);
            let ms = event_ns / 1_000_000;
            let mut f = Vec::with_capacity(256);
            if self.spec.market == Market::Deribit {
                self.trade_id += 1;
                self.agg_id += self.rng.gen_range(1..4);
                deribit::trades(
                    &mut f,
                    &self.spec.symbol,
                    DERIBIT_INTERVAL,
                    &[deribit::Trade {
                        trade_seq: self.trade_id,
                        trade_id: self.agg_id,
                        ts_ms: ms,
                        px: level.px,
                        amount: qty,
                        buy,
                        mark_px: self.px_mantissa(self.mark),
                        index_px: self.px_mantissa(self.index),
                    }],
                    self.scales,
                );
            } else if self.futures().is_some() {
                self.agg_id += 1;
                let first = self.trade_id + 1;
                self.trade_id += self.rng.gen_range(1..4);
                encode::agg_trade(
                    &mut f,
                    &self.spec.symbol,
                    ms,
                    self.agg_id,
                    level.px,
                    qty,
                    first,
                    self.trade_id,
                    ms.saturating_sub(1),
                    !buy,
                    self.scales,
                );
            } else {
                self.trade_id += 1;
                encode::trade(
                    &mut f,
                    &self.spec.symbol,
                    ms,
                    self.trade_id,
                    level.px,
                    qty,
                    ms.saturating_sub(1),
                    !buy,
                    self.scales,
                );
            }
            self.out.frames.push((recv, f));
            self.set(!buy, level.px, level.qty - qty);
        }
    }

    /// A `bookTicker` when the touch changed since the last one.
    fn ticker(&mut self, event_ns: u64) {
        let (bid, ask) = self.touch();
        if (bid, ask) == self.last_ticker || bid.qty == 0 || ask.qty == 0 {
            return;
        }
        self.last_ticker = (bid, ask);
        let recv = self.stamp(event_ns);
        let ms = event_ns / 1_000_000;
        let mut f = Vec::with_capacity(256);
        if self.spec.market == Market::Deribit {
            // Deribit's funding: the premium of the mark over the index beyond a ±0.05 % dead
            // band, per 8 hours.
            let premium = self.mark / self.index - 1.0;
            let funding = premium.max(0.0005) + premium.min(-0.0005);
            deribit::future_ticker(
                &mut f,
                &self.spec.symbol,
                DERIBIT_INTERVAL,
                &FutureTicker {
                    ts_ms: ms,
                    best_bid: bid,
                    best_ask: ask,
                    mark_px: self.px_mantissa(self.mark),
                    index_px: self.px_mantissa(self.index),
                    open_interest: 500_000_000 * POW10[self.spec.qty_scale as usize],
                    funding: Some((funding, funding)),
                },
                self.scales,
            );
            self.out.frames.push((recv, f));
            return;
        }
        match self.futures() {
            Some(fut) => encode::futures_book_ticker(
                &mut f,
                fut,
                &self.spec.symbol,
                self.id,
                ms,
                ms.saturating_sub(1),
                bid,
                ask,
                self.scales,
            ),
            None => encode::book_ticker(&mut f, &self.spec.symbol, self.id, bid, ask, self.scales),
        }
        self.out.frames.push((recv, f));
    }

    /// Ends a depth period: renders its diff (or drops it when `lose`); returns the receive
    /// time it has (or would have had).
    fn depth(&mut self, event_ns: u64, lose: bool) -> u64 {
        if self.spec.market == Market::Deribit {
            return self.deribit_book(event_ns, lose);
        }
        let recv = self.stamp(event_ns);
        let mut changes = std::mem::take(&mut self.changes);
        let prev = std::mem::replace(&mut self.prev_final_id, self.id);
        if lose || changes.is_empty() {
            self.changes = changes;
            self.changes.clear();
            return recv;
        }
        // The diff carries each level's last quantity: stable sort by level, keep the last.
        changes.sort_by_key(|(b, p, _)| (*b, *p));
        let mut last: Vec<(bool, PxQty)> = Vec::with_capacity(changes.len());
        for &(b, px, qty) in &changes {
            match last.last_mut() {
                Some((lb, l)) if *lb == b && l.px == px => l.qty = qty,
                _ => last.push((b, PxQty { px, qty })),
            }
        }
        let bids: Vec<PxQty> = last.iter().rev().filter(|(b, _)| *b).map(|l| l.1).collect();
        let asks: Vec<PxQty> = last.iter().filter(|(b, _)| !*b).map(|l| l.1).collect();
        changes.clear();
        self.changes = changes;
        let ms = event_ns / 1_000_000;
        let mut f = Vec::with_capacity(160 + 40 * last.len());
        match self.futures() {
            Some(fut) => encode::futures_depth_update(
                &mut f,
                fut,
                &self.spec.symbol,
                ms,
                ms.saturating_sub(1),
                [self.first_id, self.id, prev],
                &bids,
                &asks,
                self.scales,
            ),
            None => encode::depth_update(
                &mut f,
                &self.spec.symbol,
                ms,
                self.first_id,
                self.id,
                &bids,
                &asks,
                self.scales,
            ),
        }
        self.out.frames.push((recv, f));
        recv
    }

    /// A price (USD) as a mantissa on the tick grid.
    fn px_mantissa(&self, px: f64) -> i64 {
        let unit = POW10[self.spec.px_scale as usize] as f64;
        (px * unit / self.spec.tick as f64).round() as i64 * self.spec.tick
    }

    /// Ends a Deribit depth period: the first is the channel's snapshot; later ones are changes
    /// from the book as last published (`new`, `change`, `delete`), chained by `change_id` (the
    /// book's update id). A lost change still moves the venue's book and ids: the next change's
    /// `prev_change_id` then breaks the chain. Returns the receive time it has (or would have).
    fn deribit_book(&mut self, event_ns: u64, lose: bool) -> u64 {
        let recv = self.stamp(event_ns);
        self.changes.clear();
        let prev = std::mem::replace(&mut self.prev_final_id, self.id);
        let ms = event_ns / 1_000_000;
        if !self.published {
            self.published = true;
            self.deribit_snapshot(ms, recv);
            return recv;
        }
        let bids = diff(&self.pub_bids, &self.bids);
        let asks = diff(&self.pub_asks, &self.asks);
        self.pub_bids.clone_from(&self.bids);
        self.pub_asks.clone_from(&self.asks);
        if lose || (bids.is_empty() && asks.is_empty()) {
            if bids.is_empty() && asks.is_empty() {
                // Nothing to send: the chain continues from the last sent id.
                self.prev_final_id = prev;
            }
            return recv;
        }
        // Bids best (highest) first.
        let bids: Vec<(BookAction, PxQty)> = bids.into_iter().rev().collect();
        let mut f = Vec::with_capacity(200 + 40 * (bids.len() + asks.len()));
        deribit::book(
            &mut f,
            &BookFrame {
                instrument: &self.spec.symbol,
                interval: DERIBIT_INTERVAL,
                ts_ms: ms,
                change_id: self.id,
                prev_change_id: Some(prev),
                bids: &bids,
                asks: &asks,
            },
            self.scales,
        );
        self.out.frames.push((recv, f));
        recv
    }

    /// A Deribit book snapshot of the whole book at the current update id, received at `recv`.
    fn deribit_snapshot(&mut self, ts_ms: u64, recv: u64) {
        let new = |l: &PxQty| (BookAction::New, *l);
        let bids: Vec<(BookAction, PxQty)> = self.bids.iter().rev().map(new).collect();
        let asks: Vec<(BookAction, PxQty)> = self.asks.iter().map(new).collect();
        self.pub_bids.clone_from(&self.bids);
        self.pub_asks.clone_from(&self.asks);
        self.prev_final_id = self.id;
        let mut f = Vec::with_capacity(200 + 40 * (bids.len() + asks.len()));
        deribit::book(
            &mut f,
            &BookFrame {
                instrument: &self.spec.symbol,
                interval: DERIBIT_INTERVAL,
                ts_ms,
                change_id: self.id,
                prev_change_id: None,
                bids: &bids,
                asks: &asks,
            },
            self.scales,
        );
        self.out.frames.push((recv, f));
    }

    /// A REST depth snapshot body of the book `bids`/`asks` at update id `id` (as of
    /// `state_ns`), answered at `event_ns`; returns its receive time. On Deribit: a fresh
    /// `book.*` snapshot of the current book (the resubscription after a broken chain).
    fn snapshot(&mut self, bids: &Side, asks: &Side, id: u64, state_ns: u64, event_ns: u64) -> u64 {
        if self.spec.market == Market::Deribit {
            let recv = self.stamp(event_ns);
            self.deribit_snapshot(event_ns / 1_000_000, recv);
            return recv;
        }
        let b: Vec<PxQty> = bids.iter().rev().copied().collect();
        let a = asks;
        let mut f = Vec::with_capacity(96 + 40 * (b.len() + a.len()));
        let ms = state_ns / 1_000_000;
        match self.futures() {
            Some(fut) => encode::futures_snapshot(
                &mut f,
                fut,
                &self.spec.symbol,
                id,
                ms,
                ms.saturating_sub(1),
                &b,
                a,
                self.scales,
            ),
            None => encode::snapshot(&mut f, id, &b, a, self.scales),
        }
        let recv = self.stamp(event_ns);
        self.out.frames.push((recv, f));
        recv
    }
}
