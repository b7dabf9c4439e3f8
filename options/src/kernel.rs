//! The options engine as the pipeline's kernel stage: [`OptionsKernel`] holds one
//! [`OptionsEngine`] per underlying, routes each market event to the engine whose hedge or chain
//! holds its instrument, and converts between the engine's lot-and-`f64` world
//! ([`OptionsOrder`], [`OptionsFill`]) and the pipeline's exact mantissas ([`Order`], [`Fill`]),
//! so the existing execution stage, paper adapter, risk gate and latency histograms run
//! unchanged. Drive it with [`engine::pipeline::run_kernel`].
//!
//! # Conversion
//! - Quantity: `lots × lot mantissa` (a lot is checked at start-up to be a whole number of
//!   quantity mantissas at the instrument's scale). Fills come back as `qty / lot mantissa` whole
//!   lots, the rest of the order's lots cancelled.
//! - Price: the engine's `f64` limit rounded to the instrument's price mantissa. A limit that is
//!   not finite, not positive or out of `i64` range never reaches an order: the order is
//!   cancelled back into its engine at once (counted in [`OptionsKernel::rejected`]).
//! - `touch_qty`: the quantity the kernel last saw displayed at the order's limit on the
//!   instrument's own book. An option order priced at its mark (no book seen) carries its own
//!   quantity, so the paper adapter fills it whole, as [`OptionsFill::paper`] does.
//! - `reason`: [`Reason::DeltaHedge`] for the hedge, [`Reason::OptionBook`] for options;
//!   `binding`: the engine's binding constraint ([`Binding::DeltaBand`], `GammaCap`, `VegaCap`,
//!   `LiquidationBuffer`, `MaxLeverage`, `TouchLiquidity`, `Model`); `vol_forecast`: the
//!   volatility the pass used (its [`Decision::vol_used`]).
//! - Order ids are the kernel's (strictly increasing over all underlyings); the recorded
//!   [`OptionsOrder`]s carry the same id as the pipeline's [`Order`].
//!
//! # Decisions out (`--decisions-out`)
//! Each pass's orders are staged in a buffer sized at start-up (a chain's length + 1), converted
//! and emitted once the pass ends, then handed with the pass's [`Decision`] to the kernel's log
//! `L` (an [`OptionsSink`]): orders first, then their decision, the order
//! [`super::log::write_order`]/[`super::log::write_decision`] lines take. Two logs are provided,
//! neither allocating nor doing I/O on the hot path:
//! - [`RecordBuffer`]: records kept in memory up to a capacity fixed at start-up (the rest
//!   counted as dropped) and written after the run with [`RecordBuffer::write_jsonl`];
//! - [`RecordRing`]: records pushed on an `rtrb` ring that another thread drains to a file
//!   ([`RecordRing::new`]), either waiting for room (replays: nothing lost) or dropping and
//!   counting (live).
//!
//! [`NoLog`] keeps nothing (benches).

use std::io::{self, Write};

use feeds::registry::POW10;
use feeds::{EventKind, Instrument, InstrumentId, MarketEvent, Registry, Side};

use super::{
    log, Constraint, Decision, EngineExtras, HedgeSpec, OptionSpec, OptionsConfig, OptionsEngine,
    OptionsError, OptionsFill, OptionsOrder, OptionsSink,
};
use engine::kernel::KernelStats;
use engine::order::{Binding, Fill, Order, Reason};
use engine::pipeline::{InstrumentResult, KernelLogic};

const NO_ROUTE: u16 = u16::MAX;

/// Why an [`OptionsKernel`] could not take an underlying.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionsKernelError {
    /// The engine rejected its configuration or chain.
    #[error(transparent)]
    Engine(#[from] OptionsError),
    /// An instrument already belongs to another underlying (or twice to this one).
    #[error("instrument {instrument} already belongs to underlying {underlying}")]
    Routed {
        /// The instrument id.
        instrument: u32,
        /// The underlying that holds it.
        underlying: usize,
    },
    /// A lot is not a whole, positive number of quantity mantissas at the instrument's scale.
    #[error("instrument {instrument}: a lot of {lot_qty} is not a whole number of quantity units at {qty_scale} decimals")]
    Lot {
        /// The instrument id.
        instrument: u32,
        /// The configured lot.
        lot_qty: f64,
        /// The instrument's quantity scale.
        qty_scale: u8,
    },
    /// Too many underlyings (at most 65,535).
    #[error("too many underlyings")]
    TooMany,
}

/// One output of the options engine, as recorded for the decisions log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Record {
    /// An order (its id is the pipeline's).
    Order(OptionsOrder),
    /// The decision behind the orders recorded just before it.
    Decision(Decision),
}

impl Record {
    /// Writes the record as one JSON line ([`super::log`]).
    ///
    /// # Errors
    /// The writer's.
    pub fn write_jsonl(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            Self::Order(o) => log::write_order(w, o),
            Self::Decision(d) => log::write_decision(w, d),
        }
    }
}

/// A log that keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLog;

impl OptionsSink for NoLog {
    fn order(&mut self, _o: &OptionsOrder) {}
}

/// Records kept in memory up to a capacity fixed at start-up; later ones are counted, not kept.
#[derive(Debug, Default)]
pub struct RecordBuffer {
    records: Vec<Record>,
    dropped: u64,
}

impl RecordBuffer {
    /// A buffer of `capacity` records (allocated now; a [`Record`] is a few hundred bytes).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            records: Vec::with_capacity(capacity),
            dropped: 0,
        }
    }

    /// The records kept, in order.
    #[must_use]
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Records not kept because the buffer was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Writes every kept record as one JSON line each.
    ///
    /// # Errors
    /// The writer's.
    pub fn write_jsonl(&self, w: &mut impl Write) -> io::Result<()> {
        self.records.iter().try_for_each(|r| r.write_jsonl(w))
    }

    fn keep(&mut self, r: Record) {
        if self.records.len() < self.records.capacity() {
            self.records.push(r);
        } else {
            self.dropped += 1;
        }
    }
}

impl OptionsSink for RecordBuffer {
    fn order(&mut self, o: &OptionsOrder) {
        self.keep(Record::Order(*o));
    }
    fn decision(&mut self, d: &Decision) {
        self.keep(Record::Decision(*d));
    }
}

/// The reading end of a [`RecordRing`] (an `rtrb` consumer: `pop()` until `Err`, then check
/// `is_abandoned()` to know the kernel is gone).
pub type RecordConsumer = rtrb::Consumer<Record>;

/// Records pushed on an `rtrb` ring for another thread to write out.
#[derive(Debug)]
pub struct RecordRing {
    tx: rtrb::Producer<Record>,
    wait: bool,
    dropped: u64,
}

impl RecordRing {
    /// A ring of `capacity` records and its reading end. With `wait`, a full ring makes the
    /// kernel spin until the reader makes room (replays: nothing is lost, the reader must run on
    /// another thread); without, the record is dropped and counted (live).
    #[must_use]
    pub fn new(capacity: usize, wait: bool) -> (Self, RecordConsumer) {
        let (tx, rx) = rtrb::RingBuffer::new(capacity.max(2));
        (
            Self {
                tx,
                wait,
                dropped: 0,
            },
            rx,
        )
    }

    /// Records dropped because the ring was full (only without `wait`).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn send(&mut self, mut r: Record) {
        loop {
            match self.tx.push(r) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(back)) if self.wait && !self.tx.is_abandoned() => {
                    r = back;
                    std::hint::spin_loop();
                }
                Err(_) => {
                    self.dropped += 1;
                    return;
                }
            }
        }
    }
}

impl OptionsSink for RecordRing {
    fn order(&mut self, o: &OptionsOrder) {
        self.send(Record::Order(*o));
    }
    fn decision(&mut self, d: &Decision) {
        self.send(Record::Decision(*d));
    }
}

/// The last touch the kernel saw on an instrument's own book, mantissas.
#[derive(Debug, Clone, Copy, Default)]
struct Touch {
    valid: bool,
    bid_px: i64,
    bid_qty: i64,
    ask_px: i64,
    ask_qty: i64,
}

/// Collects one pass of an engine: its orders (in a buffer sized at start-up) and its decision.
struct Pass<'a> {
    orders: &'a mut Vec<OptionsOrder>,
    decision: &'a mut Option<Decision>,
}

impl OptionsSink for Pass<'_> {
    fn order(&mut self, o: &OptionsOrder) {
        self.orders.push(*o);
    }
    fn decision(&mut self, d: &Decision) {
        *self.decision = Some(*d);
    }
}

/// One [`OptionsEngine`] per underlying behind the pipeline's kernel seam ([`KernelLogic`]).
#[derive(Debug)]
pub struct OptionsKernel<L = RecordBuffer> {
    registry: Registry,
    instruments: Vec<Instrument>,
    engines: Vec<OptionsEngine>,
    /// instrument id → engine index (`NO_ROUTE` when no engine holds it).
    route: Vec<u16>,
    /// instrument id → one lot in quantity mantissas (0 when not routed).
    lot_mantissa: Vec<i64>,
    touch: Vec<Touch>,
    position: Vec<i64>,
    cash: Vec<i128>,
    pass_orders: Vec<OptionsOrder>,
    pass_decision: Option<Decision>,
    next_order_id: u64,
    outstanding: u32,
    rejected: u64,
    stats: KernelStats,
    log: L,
}

impl<L: OptionsSink + Send> OptionsKernel<L> {
    /// A kernel over `registry`'s instruments (every instrument the feed will report must be
    /// registered before start-up) with no underlying yet; orders and decisions go to `log`.
    #[must_use]
    pub fn new(registry: &Registry, log: L) -> Self {
        let instruments = registry.instruments().to_vec();
        let n = instruments.len();
        Self {
            registry: registry.clone(),
            instruments,
            engines: Vec::new(),
            route: vec![NO_ROUTE; n],
            lot_mantissa: vec![0; n],
            touch: vec![Touch::default(); n],
            position: vec![0; n],
            cash: vec![0; n],
            pass_orders: Vec::new(),
            pass_decision: None,
            next_order_id: 1,
            outstanding: 0,
            rejected: 0,
            stats: KernelStats::default(),
            log,
        }
    }

    /// Adds the engine of one underlying (its hedge and option chain; start-up). Returns its
    /// index, for [`Self::engine_mut`] (desired book, starting positions).
    ///
    /// # Errors
    /// [`OptionsKernelError`] when the engine rejects the configuration or chain, an instrument
    /// already belongs to an underlying, or a lot is not a whole number of quantity mantissas.
    /// Nothing is added then.
    pub fn add_underlying(
        &mut self,
        cfg: OptionsConfig,
        hedge: HedgeSpec,
        chain: &[OptionSpec],
    ) -> Result<usize, OptionsKernelError> {
        self.add_underlying_with(cfg, hedge, chain, &EngineExtras::default())
    }

    /// [`Self::add_underlying`] with the engine's add-ons (GARCH forecast, surface) applied by
    /// [`OptionsEngine::with_extras`].
    ///
    /// # Errors
    /// As [`Self::add_underlying`], and the add-ons' own ([`OptionsError::Garch`],
    /// [`OptionsError::Surface`]). Nothing is added then.
    pub fn add_underlying_with(
        &mut self,
        cfg: OptionsConfig,
        hedge: HedgeSpec,
        chain: &[OptionSpec],
        extras: &EngineExtras,
    ) -> Result<usize, OptionsKernelError> {
        let k = self.engines.len();
        let k16 = u16::try_from(k)
            .ok()
            .filter(|&k| k != NO_ROUTE)
            .ok_or(OptionsKernelError::TooMany)?;
        let engine = OptionsEngine::new(&self.registry, cfg, hedge, chain)?.with_extras(extras)?;
        let members = std::iter::once((hedge.instrument, hedge.lot_qty))
            .chain(chain.iter().map(|s| (s.instrument, s.lot_qty)));
        let mut lots = Vec::with_capacity(chain.len() + 1);
        for (id, lot_qty) in members {
            let i = id.0 as usize;
            // The engine checked every id against the registry.
            let inst = &self.instruments[i];
            if self.route[i] != NO_ROUTE || lots.iter().any(|&(j, _)| j == i) {
                return Err(OptionsKernelError::Routed {
                    instrument: id.0,
                    underlying: if self.route[i] == NO_ROUTE {
                        k
                    } else {
                        usize::from(self.route[i])
                    },
                });
            }
            let m = lot_qty * POW10[inst.qty_scale as usize] as f64;
            let whole = m.round();
            if !((1.0..9e18).contains(&whole) && (m - whole).abs() <= (whole * 1e-12).max(1e-6)) {
                return Err(OptionsKernelError::Lot {
                    instrument: id.0,
                    lot_qty,
                    qty_scale: inst.qty_scale,
                });
            }
            lots.push((i, whole as i64));
        }
        for (i, m) in lots {
            self.route[i] = k16;
            self.lot_mantissa[i] = m;
        }
        let need = chain.len() + 1;
        if self.pass_orders.capacity() < need {
            self.pass_orders.reserve_exact(need);
        }
        self.engines.push(engine);
        Ok(k)
    }

    /// The engines, by underlying index.
    #[must_use]
    pub fn engines(&self) -> &[OptionsEngine] {
        &self.engines
    }

    /// The engine of underlying `k` (start-up: desired book, starting positions).
    pub fn engine_mut(&mut self, k: usize) -> Option<&mut OptionsEngine> {
        self.engines.get_mut(k)
    }

    /// The underlying that holds `id`, if any.
    #[must_use]
    pub fn underlying_of(&self, id: InstrumentId) -> Option<usize> {
        match self.route.get(id.0 as usize) {
            Some(&k) if k != NO_ROUTE => Some(usize::from(k)),
            _ => None,
        }
    }

    /// Orders the engines decided whose price or quantity could not be expressed as an order
    /// (cancelled back into their engine; never sent).
    #[must_use]
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The log.
    #[must_use]
    pub fn log(&self) -> &L {
        &self.log
    }

    /// The log, taking the kernel apart (after the run).
    #[must_use]
    pub fn into_log(self) -> L {
        self.log
    }

    /// `o` as a pipeline order, or `None` when its price or quantity cannot be one.
    fn convert(&self, o: &OptionsOrder, id: u64, vol: f64) -> Option<Order> {
        let i = o.instrument.0 as usize;
        let inst = self.instruments.get(i)?;
        let lot_m = *self.lot_mantissa.get(i)?;
        let qty = o.qty_lots.checked_mul(lot_m).filter(|&q| q > 0)?;
        let px = o.limit_px * POW10[inst.px_scale as usize] as f64;
        if !(0.5..9.0e18).contains(&px) {
            return None;
        }
        let limit_px = px.round() as i64;
        let t = self.touch[i];
        let (touch_px, shown) = match o.side {
            Side::Buy => (t.ask_px, t.ask_qty),
            Side::Sell => (t.bid_px, t.bid_qty),
            Side::None => return None,
        };
        let touch_qty = if t.valid && touch_px == limit_px && shown > 0 {
            shown
        } else {
            qty
        };
        let lot = inst.qty_f64(lot_m);
        let binding = match (o.binding, o.binding.kind()) {
            (Constraint::Liquidity, _) => Binding::TouchLiquidity,
            (_, Some(kind)) => Binding::from_kind(kind),
            (_, None) => Binding::Model,
        };
        Some(Order {
            id,
            recv_ns: o.recv_ns,
            t_ingest: o.t_ingest,
            t_push: 0,
            ingest_lag_ns: 0,
            instrument: o.instrument,
            side: o.side,
            reason: if o.is_hedge {
                Reason::DeltaHedge
            } else {
                Reason::OptionBook
            },
            binding,
            qty,
            limit_px,
            touch_qty,
            target_qty: o.target_lots as f64 * lot,
            position_qty: o.position_lots as f64 * lot,
            working_qty: o.working_lots as f64 * lot,
            vol_forecast: vol,
            rebalance: 0,
        })
    }
}

impl<L: OptionsSink + Send> KernelLogic for OptionsKernel<L> {
    fn on_event(&mut self, ev: &MarketEvent, t_ingest: u64, emit: &mut impl FnMut(Order)) {
        self.stats.events += 1;
        let i = ev.instrument.0 as usize;
        let Some(&k) = self.route.get(i).filter(|&&k| k != NO_ROUTE) else {
            self.stats.unknown_instrument += 1;
            return;
        };
        match ev.kind {
            EventKind::Bbo => {
                self.stats.bbo += 1;
                self.touch[i] = Touch {
                    valid: ev.book_valid(),
                    bid_px: ev.bid.px,
                    bid_qty: ev.bid.qty,
                    ask_px: ev.ask.px,
                    ask_qty: ev.ask.qty,
                };
            }
            EventKind::Gap | EventKind::SnapshotBegin => {
                self.stats.gaps += u64::from(ev.kind == EventKind::Gap);
                self.touch[i].valid = false;
            }
            EventKind::SnapshotEnd => self.stats.resyncs += 1,
            EventKind::Trade => self.stats.trades += 1,
            EventKind::Level | EventKind::OptionTicker => {}
        }
        let engine = &mut self.engines[usize::from(k)];
        self.pass_orders.clear();
        self.pass_decision = None;
        engine.on_event(
            ev,
            t_ingest,
            &mut Pass {
                orders: &mut self.pass_orders,
                decision: &mut self.pass_decision,
            },
        );
        if self.pass_orders.is_empty() {
            return;
        }
        // The engine filters the volatility it uses to finite values.
        let vol = self.pass_decision.map_or(0.0, |d| d.vol_used);
        for j in 0..self.pass_orders.len() {
            let mut o = self.pass_orders[j];
            match self.convert(&o, self.next_order_id, vol) {
                Some(order) => {
                    o.id = order.id;
                    self.next_order_id += 1;
                    self.outstanding += 1;
                    self.stats.orders += 1;
                    self.log.order(&o);
                    emit(order);
                }
                None => {
                    self.rejected += 1;
                    self.engines[usize::from(k)].on_fill(&OptionsFill {
                        order_id: o.id,
                        instrument: o.instrument,
                        side: o.side,
                        filled_lots: 0,
                        cancelled_lots: o.qty_lots,
                        px: o.limit_px,
                    });
                }
            }
        }
        if let Some(d) = self.pass_decision {
            self.stats.decisions += 1;
            self.log.decision(&d);
        }
    }

    fn on_fill(&mut self, f: &Fill) {
        self.stats.fills += 1;
        self.outstanding = self.outstanding.saturating_sub(1);
        let i = f.instrument.0 as usize;
        let (Some(&k), Some(inst)) = (
            self.route.get(i).filter(|&&k| k != NO_ROUTE),
            self.instruments.get(i),
        ) else {
            return;
        };
        let lot_m = self.lot_mantissa[i];
        let filled_lots = f.qty / lot_m;
        let total_lots = f.qty.saturating_add(f.cancelled_qty) / lot_m;
        let sign: i64 = if f.side == Side::Buy { 1 } else { -1 };
        self.position[i] += sign * f.qty;
        self.cash[i] -= i128::from(sign) * i128::from(f.qty) * i128::from(f.px);
        self.engines[usize::from(k)].on_fill(&OptionsFill {
            order_id: f.order_id,
            instrument: f.instrument,
            side: f.side,
            filled_lots,
            cancelled_lots: total_lots - filled_lots,
            px: inst.px_f64(f.px),
        });
    }

    fn outstanding(&self) -> u32 {
        self.outstanding
    }

    fn max_orders_per_event(&self) -> usize {
        // One pass of one engine: an order per option of its chain and one hedge.
        self.pass_orders.capacity()
    }

    fn stats(&self) -> KernelStats {
        let mut s = self.stats;
        for e in &self.engines {
            let es = e.stats();
            s.below_min += es.below_min;
            s.skipped_invalid += es.skipped;
        }
        s
    }

    fn instrument_results(&self) -> Vec<InstrumentResult> {
        self.instruments
            .iter()
            .enumerate()
            .filter(|&(i, _)| self.route[i] != NO_ROUTE)
            .map(|(i, inst)| {
                let t = self.touch[i];
                let has_touch = t.bid_px > 0 && t.ask_px > 0;
                let mid = 0.5 * (inst.px_f64(t.bid_px) + inst.px_f64(t.ask_px));
                let scale =
                    POW10[inst.px_scale as usize] as f64 * POW10[inst.qty_scale as usize] as f64;
                let cash = self.cash[i] as f64 / scale;
                InstrumentResult {
                    id: inst.id,
                    position: self.position[i],
                    pnl: if has_touch {
                        cash + inst.qty_f64(self.position[i]) * mid
                    } else {
                        cash
                    },
                    last_mid_px: has_touch.then_some(mid),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use feeds::deribit::{option_ticker, OptionTicker};
    use feeds::{flags, Market, PxQty};
    use risk_core::greeks_limits::HedgeTo;
    use risk_core::margin::Contract;

    use super::*;
    use crate::VolSource;

    const DAY_NS: u64 = 86_400_000_000_000;
    const T0: u64 = 1_700_000_000_000_000_000;

    fn cfg() -> OptionsConfig {
        OptionsConfig {
            delta_band: 0.2,
            hedge_to: HedgeTo::Edge,
            max_abs_gamma: 1e9,
            max_abs_vega_per_vol_point: 1e12,
            collateral_coin: 100.0,
            mmr: 0.005,
            buffer_k: 3.0,
            buffer_horizon_days: 1.0,
            max_margin_ratio: 1.0,
            max_leverage: 1e6,
            liquidity_frac: 1.0,
            rebalance_frac: 0.0,
            vol_source: VolSource::Implied,
            ewma_lambda: 0.94,
            ewma_warmup: 2,
            sample_interval_ns: 1_000_000_000,
        }
    }

    struct Book {
        reg: Registry,
        hedge: HedgeSpec,
        call: OptionSpec,
    }

    fn book() -> Book {
        let mut reg = Registry::new();
        let hedge = reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
        let call = reg.register("BTC-30D-50000-C", Market::Deribit, 8, 8);
        Book {
            reg,
            hedge: HedgeSpec {
                instrument: hedge,
                contract: Contract::Inverse,
                lot_qty: 10.0,
                min_lots: 1,
            },
            call: OptionSpec {
                instrument: call,
                strike: 50_000.0,
                expiry_ns: T0 + 30 * DAY_NS,
                is_call: true,
                lot_qty: 0.1,
                min_lots: 1,
            },
        }
    }

    fn hedge_bbo(id: InstrumentId, t: u64) -> MarketEvent {
        let mut e = MarketEvent::new(EventKind::Bbo, id, t);
        e.flags = flags::BOOK_VALID;
        e.bid = PxQty {
            px: 4_999_950_000_000,
            qty: 1_000_000 * 100_000_000,
        };
        e.ask = PxQty {
            px: 5_000_000_000_000,
            qty: 1_000_000 * 100_000_000,
        };
        e
    }

    fn ticker(id: InstrumentId, t: u64, mark_px: f64) -> MarketEvent {
        let mut e = option_ticker(
            id,
            t,
            t,
            &OptionTicker {
                underlying_px: 50_000.0,
                mark_px,
                mark_iv: 0.6,
                bid_iv: 0.0,
                ask_iv: 0.0,
            },
        );
        e.flags = flags::BOOK_VALID;
        e
    }

    #[test]
    fn bad_underlyings_are_refused_and_nothing_is_added() {
        let b = book();
        let mut k = OptionsKernel::new(&b.reg, NoLog);
        let odd_lot = OptionSpec {
            lot_qty: 0.123_456_789_1,
            ..b.call
        };
        assert!(matches!(
            k.add_underlying(cfg(), b.hedge, &[odd_lot]),
            Err(OptionsKernelError::Lot { instrument, .. }) if instrument == b.call.instrument.0
        ));
        assert!(k.engines().is_empty());
        assert_eq!(k.underlying_of(b.call.instrument), None);
        assert_eq!(k.add_underlying(cfg(), b.hedge, &[b.call]), Ok(0));
        assert_eq!(k.underlying_of(b.call.instrument), Some(0));
        assert!(matches!(
            k.add_underlying(cfg(), b.hedge, &[]),
            Err(OptionsKernelError::Routed { underlying: 0, .. })
        ));
        assert_eq!(k.engines().len(), 1);
    }

    #[test]
    fn orders_are_exact_mantissas_and_fills_come_back_as_lots() {
        let b = book();
        let mut k = OptionsKernel::new(&b.reg, RecordBuffer::with_capacity(64));
        k.add_underlying(cfg(), b.hedge, &[b.call]).expect("valid");
        k.engine_mut(0)
            .expect("engine")
            .set_desired(b.call.instrument, 30);
        let mut out = Vec::new();
        k.on_event(&ticker(b.call.instrument, T0, 0.05), 11, &mut |o| {
            out.push(o)
        });
        assert!(
            out.is_empty(),
            "nothing is sized before the hedge has a touch"
        );
        k.on_event(&hedge_bbo(b.hedge.instrument, T0 + 1), 12, &mut |o| {
            out.push(o)
        });
        assert_eq!(out.len(), 2, "{out:?}");
        let (opt, hedge) = (out[0], out[1]);
        assert_eq!(opt.instrument, b.call.instrument);
        assert_eq!((opt.side, opt.qty), (Side::Buy, 30 * 10_000_000));
        assert_eq!(opt.limit_px, 5_000_000, "mark 0.05 coin at 8 decimals");
        assert_eq!(
            opt.touch_qty, opt.qty,
            "no book seen: the order's own quantity"
        );
        assert_eq!(opt.reason, Reason::OptionBook);
        assert_eq!(hedge.instrument, b.hedge.instrument);
        assert_eq!((hedge.side, hedge.reason), (Side::Sell, Reason::DeltaHedge));
        assert_eq!(hedge.binding, Binding::DeltaBand);
        assert_eq!(hedge.limit_px, 4_999_950_000_000, "sold at the bid");
        assert_eq!(hedge.qty % 1_000_000_000, 0, "whole 10-USD lots");
        assert_eq!(hedge.touch_qty, 1_000_000 * 100_000_000);
        assert_eq!((opt.id, hedge.id, opt.t_ingest), (1, 2, 12));
        assert_eq!(k.outstanding(), 2);
        // The option fills 20 of 30 lots, the hedge fully.
        k.on_fill(&Fill {
            order_id: 1,
            instrument: opt.instrument,
            side: opt.side,
            qty: 20 * 10_000_000,
            px: opt.limit_px,
            cancelled_qty: 10 * 10_000_000,
            t_report: 0,
        });
        k.on_fill(&Fill {
            order_id: 2,
            instrument: hedge.instrument,
            side: hedge.side,
            qty: hedge.qty,
            px: hedge.limit_px,
            cancelled_qty: 0,
            t_report: 0,
        });
        assert_eq!(k.outstanding(), 0);
        let e = &k.engines()[0];
        assert_eq!(e.option_position_lots(b.call.instrument), 20);
        assert_eq!(e.hedge_position_lots(), -(hedge.qty / 1_000_000_000));
        let recs = k.log().records();
        assert!(
            matches!(recs, [Record::Order(a), Record::Order(h), Record::Decision(_)] if a.id == 1 && h.id == 2)
        );
        let res = k.instrument_results();
        let call = res
            .iter()
            .find(|r| r.id == b.call.instrument)
            .expect("call");
        assert_eq!(call.position, 20 * 10_000_000);
    }

    #[test]
    fn an_unrepresentable_price_never_reaches_an_order() {
        let b = book();
        let mut k = OptionsKernel::new(&b.reg, RecordBuffer::with_capacity(64));
        k.add_underlying(cfg(), b.hedge, &[b.call]).expect("valid");
        k.engine_mut(0)
            .expect("engine")
            .set_desired(b.call.instrument, 30);
        // A mark of 1e12 coin is finite for the engine but beyond an i64 mantissa at 8 decimals.
        k.on_event(&ticker(b.call.instrument, T0, 1e12), 0, &mut |_| {});
        let mut out = Vec::new();
        k.on_event(&hedge_bbo(b.hedge.instrument, T0 + 1), 0, &mut |o| {
            out.push(o)
        });
        assert!(
            out.iter().all(|o| o.instrument != b.call.instrument),
            "{out:?}"
        );
        assert_eq!(k.rejected(), 1);
        assert_eq!(k.outstanding() as usize, out.len());
        // Cancelled back into the engine: nothing of it is left working.
        assert_eq!(k.engines()[0].option_position_lots(b.call.instrument), 0);
        assert!(k
            .log()
            .records()
            .iter()
            .all(|r| !matches!(r, Record::Order(o) if o.instrument == b.call.instrument)));
    }
}
