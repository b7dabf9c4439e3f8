//! The kernel: per-instrument state (touch, validity, position, working quantity, cash), the
//! [`Sizer`] seam, and the conversion of a target position into a resize order.
//!
//! Resize = target − (position + working), truncated toward zero to the lot size, capped to the
//! quantity displayed at the touch, sent as a marketable limit (IOC) at the opposite touch. Nothing is
//! sized from an invalid book, a crossed or one-sided touch, or a non-finite number.

use feeds::registry::POW10;
use feeds::{EventKind, Instrument, InstrumentId, MarketEvent, PxQty, Registry, Side};

use crate::order::{Binding, Fill, Order};
use crate::sizer::{Sizer, TickView};

/// Order-shaping configuration of the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelConfig {
    /// Lot size as a quantity mantissa (orders are whole multiples). At least 1.
    pub lot_qty: i64,
    /// Smallest order quantity mantissa worth sending.
    pub min_qty: i64,
    /// Cap each order to the quantity displayed at the touch.
    pub cap_to_touch: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct InstState {
    valid: bool,
    has_touch: bool,
    bid: PxQty,
    ask: PxQty,
    /// Filled position, quantity mantissa.
    position: i64,
    /// Sent and not yet reported, signed quantity mantissa.
    working: i64,
    /// Cash flow of fills in price×quantity mantissa units (px_scale + qty_scale decimals).
    cash: i128,
}

/// Counters of the kernel, reported at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Market events processed.
    pub events: u64,
    /// Best-bid/offer events.
    pub bbo: u64,
    /// Trades.
    pub trades: u64,
    /// Gap events received.
    pub gaps: u64,
    /// Snapshot completions (book valid again).
    pub resyncs: u64,
    /// Ticks not sized because the book was invalid or the touch missing.
    pub skipped_invalid: u64,
    /// Ticks not sized because the touch was crossed or one-sided.
    pub skipped_crossed: u64,
    /// Events for instruments the kernel does not hold.
    pub unknown_instrument: u64,
    /// Targets returned by the sizer.
    pub decisions: u64,
    /// Targets that rounded to nothing (below min quantity, no touch quantity).
    pub below_min: u64,
    /// Orders emitted.
    pub orders: u64,
    /// Execution reports applied.
    pub fills: u64,
}

/// The sizing kernel for a set of instruments and one [`Sizer`].
#[derive(Debug)]
pub struct Kernel<Z> {
    cfg: KernelConfig,
    instruments: Vec<Instrument>,
    state: Vec<InstState>,
    sizer: Z,
    next_order_id: u64,
    outstanding: u32,
    stats: KernelStats,
}

impl<Z: Sizer> Kernel<Z> {
    /// A kernel holding every instrument of `registry` (registered before start-up).
    #[must_use]
    pub fn new(registry: &Registry, cfg: KernelConfig, sizer: Z) -> Self {
        let instruments = registry.instruments().to_vec();
        let state = vec![InstState::default(); instruments.len()];
        Self {
            cfg: KernelConfig {
                lot_qty: cfg.lot_qty.max(1),
                ..cfg
            },
            instruments,
            state,
            sizer,
            next_order_id: 1,
            outstanding: 0,
            stats: KernelStats::default(),
        }
    }

    /// Orders sent and not yet reported.
    #[must_use]
    pub fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> KernelStats {
        self.stats
    }

    /// The sizer.
    #[must_use]
    pub fn sizer(&self) -> &Z {
        &self.sizer
    }

    /// Filled position of `id` as a quantity mantissa.
    #[must_use]
    pub fn position(&self, id: InstrumentId) -> i64 {
        self.state.get(id.0 as usize).map_or(0, |s| s.position)
    }

    /// Last mid price of `id`, if a touch was seen.
    #[must_use]
    pub fn last_mid(&self, id: InstrumentId) -> Option<f64> {
        let (s, inst) = (
            self.state.get(id.0 as usize)?,
            self.instruments.get(id.0 as usize)?,
        );
        s.has_touch
            .then(|| 0.5 * (inst.px_f64(s.bid.px) + inst.px_f64(s.ask.px)))
    }

    /// Instruments the kernel holds.
    #[must_use]
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Mark-to-mid PnL of `id` in quote units: cash flows of fills plus the position at the last mid.
    #[must_use]
    pub fn pnl(&self, id: InstrumentId) -> f64 {
        let (Some(s), Some(inst)) = (
            self.state.get(id.0 as usize),
            self.instruments.get(id.0 as usize),
        ) else {
            return 0.0;
        };
        let scale = POW10[inst.px_scale as usize] as f64 * POW10[inst.qty_scale as usize] as f64;
        let cash = s.cash as f64 / scale;
        if !s.has_touch {
            return cash;
        }
        let mid = 0.5 * (inst.px_f64(s.bid.px) + inst.px_f64(s.ask.px));
        cash + inst.qty_f64(s.position) * mid
    }

    /// Processes one market event. Calls `emit` with at most one resize order. `t_ingest` is the raw
    /// clock reading of the frame's ingestion (carried into the order for tick-to-order latency).
    pub fn on_event(&mut self, ev: &MarketEvent, t_ingest: u64, emit: &mut impl FnMut(Order)) {
        self.stats.events += 1;
        let i = ev.instrument.0 as usize;
        let Some(st) = self.state.get_mut(i) else {
            self.stats.unknown_instrument += 1;
            return;
        };
        match ev.kind {
            EventKind::Bbo => {
                self.stats.bbo += 1;
                st.valid = ev.book_valid();
                st.bid = ev.bid;
                st.ask = ev.ask;
                st.has_touch = true;
            }
            EventKind::Gap => {
                self.stats.gaps += 1;
                st.valid = false;
                return;
            }
            EventKind::SnapshotBegin => {
                st.valid = false;
                st.has_touch = false;
                return;
            }
            EventKind::SnapshotEnd => {
                self.stats.resyncs += 1;
                return;
            }
            EventKind::Trade => {
                self.stats.trades += 1;
                return;
            }
            EventKind::Level | EventKind::OptionTicker => return,
        }
        if !(st.valid && st.has_touch) {
            self.stats.skipped_invalid += 1;
            return;
        }
        if st.bid.px <= 0
            || st.ask.px <= 0
            || st.bid.qty <= 0
            || st.ask.qty <= 0
            || st.bid.px >= st.ask.px
        {
            self.stats.skipped_crossed += 1;
            return;
        }
        let inst = &self.instruments[i];
        let bid_px = inst.px_f64(st.bid.px);
        let ask_px = inst.px_f64(st.ask.px);
        let view = TickView {
            event: ev,
            instrument: inst,
            bid_px,
            ask_px,
            mid_px: 0.5 * (bid_px + ask_px),
            position_qty: inst.qty_f64(st.position),
            working_qty: inst.qty_f64(st.working),
        };
        let Some(target) = self.sizer.on_tick(&view) else {
            return;
        };
        self.stats.decisions += 1;
        let delta = target.qty - (view.position_qty + view.working_qty);
        let raw = delta * POW10[inst.qty_scale as usize] as f64;
        if !raw.is_finite() || raw.abs() >= 9.0e18 {
            self.stats.below_min += 1;
            return;
        }
        let mut qty = (raw.abs() as i64) / self.cfg.lot_qty * self.cfg.lot_qty;
        let (side, limit, touch_qty) = if raw > 0.0 {
            (Side::Buy, st.ask.px, st.ask.qty)
        } else {
            (Side::Sell, st.bid.px, st.bid.qty)
        };
        let mut binding = target.binding;
        if self.cfg.cap_to_touch {
            let cap = touch_qty / self.cfg.lot_qty * self.cfg.lot_qty;
            if qty > cap {
                qty = cap;
                binding = Binding::TouchLiquidity;
            }
        }
        if qty < self.cfg.min_qty.max(1) {
            self.stats.below_min += 1;
            return;
        }
        let signed = if side == Side::Buy { qty } else { -qty };
        let order = Order {
            id: self.next_order_id,
            recv_ns: ev.recv_ns,
            t_ingest,
            t_push: 0,
            ingest_lag_ns: 0,
            instrument: ev.instrument,
            side,
            reason: target.reason,
            binding,
            qty,
            limit_px: limit,
            touch_qty,
            target_qty: target.qty,
            position_qty: view.position_qty,
            working_qty: view.working_qty,
            vol_forecast: target.vol_forecast,
            rebalance: 0,
        };
        self.next_order_id += 1;
        st.working += signed;
        self.outstanding += 1;
        self.stats.orders += 1;
        emit(order);
    }

    /// Applies an execution report: the filled part moves into the position and cash, the whole order
    /// leaves the working quantity.
    pub fn on_fill(&mut self, f: &Fill) {
        self.stats.fills += 1;
        self.outstanding = self.outstanding.saturating_sub(1);
        let Some(st) = self.state.get_mut(f.instrument.0 as usize) else {
            return;
        };
        let sign: i64 = if f.side == Side::Buy { 1 } else { -1 };
        st.position += sign * f.qty;
        st.working -= sign * (f.qty + f.cancelled_qty);
        st.cash -= i128::from(sign) * i128::from(f.qty) * i128::from(f.px);
    }
}

/// The paper execution adapter: fills an order at its limit price up to the quantity displayed at
/// the touch when the kernel decided (carried in [`Order::touch_qty`]); the rest is cancelled, as an
/// immediate-or-cancel order would be. Deterministic: the report depends on the order alone.
#[derive(Debug, Default, Clone, Copy)]
pub struct PaperAdapter {
    /// Orders received.
    pub orders: u64,
    /// Quantity filled, mantissa sum over instruments.
    pub filled_qty: i64,
    /// Quantity cancelled because the touch did not display it.
    pub cancelled_qty: i64,
}

impl PaperAdapter {
    /// Executes `o` against the touch it was sized on.
    pub fn submit(&mut self, o: &Order, t_report: u64) -> Fill {
        let qty = o.qty.min(o.touch_qty.max(0));
        self.orders += 1;
        self.filled_qty += qty;
        self.cancelled_qty += o.qty - qty;
        Fill {
            order_id: o.id,
            instrument: o.instrument,
            side: o.side,
            qty,
            px: o.limit_px,
            cancelled_qty: o.qty - qty,
            t_report,
        }
    }
}
