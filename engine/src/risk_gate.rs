//! The pre-trade risk gate: every order passes it before a byte leaves for the venue.
//!
//! Checks, in order: kill switch, known instrument, max order quantity, max notional per order,
//! max position per instrument (worst case: position + working + this order, unless the order
//! reduces the exposure), price band around the mark (fat-finger), max orders per second (a token
//! bucket on the engine clock; checked last so orders rejected for another reason spend no token).
//! A rejected order never reaches the venue: it is answered at once with a wholly cancelled report
//! (so the kernel's working quantity is released) and counted under its [`RejectReason`].
//!
//! The kill switch trips by command ([`KillSwitch::trip`]), by a file appearing
//! ([`KillSwitch::with_file`], checked every 100 ms on the execution thread) or by a signal
//! ([`KillSwitch::on_signal`]). Once tripped, the gate asks the adapter to cancel every working
//! order and rejects every new one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use feeds::{Instrument, Marks, Side};

use crate::clock::Clock;
use crate::exec::{cancelled, ExecutionAdapter};
use crate::order::{Fill, Order};

/// Why the gate rejected an order.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The kill switch is tripped.
    KillSwitch = 0,
    /// The instrument has no limits configured.
    UnknownInstrument = 1,
    /// Quantity above the instrument's maximum.
    MaxOrderQty = 2,
    /// Price × quantity above the maximum notional.
    MaxNotional = 3,
    /// The worst-case position would exceed the maximum.
    MaxPosition = 4,
    /// Limit price outside the band around the mark.
    PriceBand = 5,
    /// No mark price known yet, so the band cannot be checked.
    NoMark = 6,
    /// The orders-per-second token bucket is empty.
    RateLimit = 7,
}

impl RejectReason {
    /// Every reason, in discriminant order.
    pub const ALL: [Self; 8] = [
        Self::KillSwitch,
        Self::UnknownInstrument,
        Self::MaxOrderQty,
        Self::MaxNotional,
        Self::MaxPosition,
        Self::PriceBand,
        Self::NoMark,
        Self::RateLimit,
    ];

    /// Stable lowercase name for reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::KillSwitch => "kill_switch",
            Self::UnknownInstrument => "unknown_instrument",
            Self::MaxOrderQty => "max_order_qty",
            Self::MaxNotional => "max_notional",
            Self::MaxPosition => "max_position",
            Self::PriceBand => "price_band",
            Self::NoMark => "no_mark",
            Self::RateLimit => "rate_limit",
        }
    }
}

/// Limits of one instrument, in its mantissas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstrumentLimits {
    /// Largest order quantity, mantissa at the instrument's `qty_scale`.
    pub max_order_qty: i64,
    /// Largest price × quantity of one order, quote units.
    pub max_notional: f64,
    /// Largest absolute worst-case position, mantissa.
    pub max_position: i64,
}

/// The gate's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskLimits {
    /// Per instrument, indexed by instrument id; `None` = the instrument may not trade.
    pub instruments: Vec<Option<InstrumentLimits>>,
    /// Sustained orders per second (token refill rate).
    pub max_orders_per_sec: f64,
    /// Bucket size (orders that may go at once).
    pub burst: f64,
    /// Allowed distance of the limit price from the mark, as a fraction (0.02 = 2 %); `None`
    /// disables the band.
    pub price_band: Option<f64>,
}

/// The kill switch: a flag set by command or signal, and optionally a file whose existence trips
/// it.
#[derive(Debug, Clone, Default)]
pub struct KillSwitch {
    flag: Arc<AtomicBool>,
    file: Option<PathBuf>,
}

impl KillSwitch {
    /// A switch not tripped, with no file.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also trips when `path` exists.
    #[must_use]
    pub fn with_file(mut self, path: PathBuf) -> Self {
        self.file = Some(path);
        self
    }

    /// Also trips on signal `sig` (e.g. `SIGUSR1`).
    ///
    /// # Errors
    /// The signal cannot be handled (forbidden signal number).
    pub fn on_signal(self, sig: i32) -> std::io::Result<Self> {
        signal_hook::flag::register(sig, Arc::clone(&self.flag))?;
        Ok(self)
    }

    /// Trips the switch (command).
    pub fn trip(&self) {
        // Release: pairs with the Acquire load in `is_tripped`.
        self.flag.store(true, Ordering::Release);
    }

    /// Whether the flag is set (does not look at the file).
    #[must_use]
    pub fn is_tripped(&self) -> bool {
        // Acquire: pairs with the Release store in `trip` (and signal-hook's store).
        self.flag.load(Ordering::Acquire)
    }

    /// Looks at the file (a `stat` call) and trips when it exists.
    pub fn check_file(&self) -> bool {
        if let Some(f) = &self.file {
            if f.exists() {
                self.trip();
            }
        }
        self.is_tripped()
    }
}

/// Counters of the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateStats {
    /// Orders that passed to the venue.
    pub passed: u64,
    /// Rejections by reason, indexed by `RejectReason as usize`.
    pub rejected: [u64; 8],
    /// Times the kill switch made the adapter cancel everything.
    pub kill_cancels: u64,
}

impl GateStats {
    /// Rejections for `r`.
    #[must_use]
    pub fn rejected(&self, r: RejectReason) -> u64 {
        self.rejected[r as usize]
    }

    /// All rejections.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

/// The gate's state: limits, positions and working quantities it has seen, the token bucket.
#[derive(Debug)]
pub struct RiskGate {
    limits: RiskLimits,
    instruments: Vec<Instrument>,
    /// Per instrument: its quantity is in quote units (inverse contracts).
    quote_qty: Vec<bool>,
    position: Vec<i64>,
    working: Vec<i64>,
    tokens: f64,
    last_refill: Option<u64>,
    marks: Marks,
    kill: KillSwitch,
    killed: bool,
    last_file_check: u64,
    stats: GateStats,
}

impl RiskGate {
    /// A gate over `instruments` (index = id) with `limits`, reading marks from `marks` and
    /// watching `kill`.
    #[must_use]
    pub fn new(
        instruments: &[Instrument],
        limits: RiskLimits,
        marks: Marks,
        kill: KillSwitch,
    ) -> Self {
        let n = instruments.len();
        Self {
            tokens: limits.burst.max(1.0),
            limits,
            instruments: instruments.to_vec(),
            quote_qty: vec![false; n],
            position: vec![0; n],
            working: vec![0; n],
            last_refill: None,
            marks,
            kill,
            killed: false,
            last_file_check: 0,
            stats: GateStats::default(),
        }
    }

    /// Says that instrument index `i` is quantity-in-quote (Deribit's inverse futures and
    /// perpetuals: the amount is USD): its order notional is the quantity itself, not price ×
    /// quantity. Ignored beyond the table.
    #[must_use]
    pub fn with_quote_qty(mut self, i: usize) -> Self {
        if let Some(q) = self.quote_qty.get_mut(i) {
            *q = true;
        }
        self
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> GateStats {
        self.stats
    }

    /// Position the gate has seen filled for instrument index `i`, mantissa.
    #[must_use]
    pub fn position(&self, i: usize) -> i64 {
        self.position.get(i).copied().unwrap_or(0)
    }

    /// Checks `o` at raw clock reading `now` (spends a token when it passes).
    ///
    /// # Errors
    /// The first limit `o` breaks.
    pub fn check(&mut self, o: &Order, clock: &Clock, now: u64) -> Result<(), RejectReason> {
        let r = self.check_inner(o, clock, now);
        match r {
            Ok(()) => {
                self.stats.passed += 1;
                if let Some(w) = self.working.get_mut(o.instrument.0 as usize) {
                    *w += signed(o.side, o.qty);
                }
            }
            Err(reason) => self.stats.rejected[reason as usize] += 1,
        }
        r
    }

    fn check_inner(&mut self, o: &Order, clock: &Clock, now: u64) -> Result<(), RejectReason> {
        if self.killed || self.kill.is_tripped() {
            return Err(RejectReason::KillSwitch);
        }
        let i = o.instrument.0 as usize;
        let (Some(Some(lim)), Some(inst)) =
            (self.limits.instruments.get(i), self.instruments.get(i))
        else {
            return Err(RejectReason::UnknownInstrument);
        };
        if o.qty <= 0 || o.qty > lim.max_order_qty {
            return Err(RejectReason::MaxOrderQty);
        }
        let notional = if self.quote_qty[i] {
            inst.qty_f64(o.qty)
        } else {
            inst.qty_f64(o.qty) * inst.px_f64(o.limit_px)
        };
        if !(notional <= lim.max_notional) {
            return Err(RejectReason::MaxNotional);
        }
        let before = self.position[i].saturating_add(self.working[i]);
        let after = before.saturating_add(signed(o.side, o.qty));
        if after.unsigned_abs() > lim.max_position.unsigned_abs()
            && after.unsigned_abs() > before.unsigned_abs()
        {
            return Err(RejectReason::MaxPosition);
        }
        if let Some(band) = self.limits.price_band {
            let mark = self.marks.get(o.instrument);
            if mark <= 0 {
                return Err(RejectReason::NoMark);
            }
            let dist = (o.limit_px as f64 - mark as f64).abs();
            if !(dist <= band * mark as f64) {
                return Err(RejectReason::PriceBand);
            }
        }
        let rate = self.limits.max_orders_per_sec;
        let burst = self.limits.burst.max(1.0);
        if let Some(t) = self.last_refill {
            let el_ns = clock.delta_ns(t, now);
            self.tokens = (self.tokens + el_ns as f64 * rate * 1e-9).min(burst);
        }
        self.last_refill = Some(now);
        if self.tokens < 1.0 {
            return Err(RejectReason::RateLimit);
        }
        self.tokens -= 1.0;
        Ok(())
    }

    /// Applies a final report of an order that passed: the fill moves into the position, the
    /// whole order leaves the working quantity.
    pub fn on_report(&mut self, f: &Fill) {
        let i = f.instrument.0 as usize;
        if let (Some(p), Some(w)) = (self.position.get_mut(i), self.working.get_mut(i)) {
            *p += signed(f.side, f.qty);
            *w -= signed(f.side, f.qty + f.cancelled_qty);
        }
    }

    /// Whether the kill switch has tripped (looks at the file at most every 100 ms). Returns true
    /// exactly once, when it is first seen tripped.
    pub fn poll_kill(&mut self, clock: &Clock, now: u64) -> bool {
        if self.killed {
            return false;
        }
        let tripped = if clock.delta_ns(self.last_file_check, now) >= 100_000_000 {
            self.last_file_check = now;
            self.kill.check_file()
        } else {
            self.kill.is_tripped()
        };
        if tripped {
            self.killed = true;
            self.stats.kill_cancels += 1;
        }
        tripped
    }
}

fn signed(side: Side, qty: i64) -> i64 {
    if side == Side::Sell {
        -qty
    } else {
        qty
    }
}

/// An execution adapter behind the risk gate.
#[derive(Debug)]
pub struct Gated<A> {
    gate: RiskGate,
    inner: A,
}

impl<A: ExecutionAdapter> Gated<A> {
    /// `inner` behind `gate`.
    #[must_use]
    pub fn new(gate: RiskGate, inner: A) -> Self {
        Self { gate, inner }
    }

    /// The gate.
    #[must_use]
    pub fn gate(&self) -> &RiskGate {
        &self.gate
    }

    /// The adapter behind the gate.
    #[must_use]
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Splits into gate and adapter.
    #[must_use]
    pub fn into_parts(self) -> (RiskGate, A) {
        (self.gate, self.inner)
    }
}

impl<A: ExecutionAdapter> ExecutionAdapter for Gated<A> {
    fn submit(&mut self, o: &Order, clock: &Clock, report: &mut impl FnMut(Fill)) {
        let now = clock.raw();
        if self.gate.poll_kill(clock, now) {
            self.inner.cancel_all(clock);
        }
        if self.gate.check(o, clock, now).is_err() {
            report(cancelled(o, clock.raw()));
            return;
        }
        let gate = &mut self.gate;
        self.inner.submit(o, clock, &mut |f| {
            gate.on_report(&f);
            report(f);
        });
    }

    fn poll(&mut self, clock: &Clock, report: &mut impl FnMut(Fill)) -> bool {
        if self.gate.poll_kill(clock, clock.raw()) {
            self.inner.cancel_all(clock);
        }
        let gate = &mut self.gate;
        self.inner.poll(clock, &mut |f| {
            gate.on_report(&f);
            report(f);
        })
    }

    fn in_flight(&self) -> usize {
        self.inner.in_flight()
    }

    fn cancel_all(&mut self, clock: &Clock) {
        self.inner.cancel_all(clock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{Binding, Reason};
    use feeds::{InstrumentId, Market, Registry};

    /// Records what reached the "venue"; fills everything at the limit.
    #[derive(Debug, Default)]
    struct Venue {
        sent: Vec<u64>,
        cancel_alls: u32,
    }

    impl ExecutionAdapter for Venue {
        fn submit(&mut self, o: &Order, clock: &Clock, report: &mut impl FnMut(Fill)) {
            self.sent.push(o.id);
            report(Fill {
                order_id: o.id,
                instrument: o.instrument,
                side: o.side,
                qty: o.qty,
                px: o.limit_px,
                cancelled_qty: 0,
                t_report: clock.raw(),
            });
        }
        fn cancel_all(&mut self, _: &Clock) {
            self.cancel_alls += 1;
        }
    }

    fn order(id: u64, side: Side, qty: i64, px: i64) -> Order {
        Order {
            id,
            recv_ns: 0,
            t_ingest: 0,
            t_push: 0,
            ingest_lag_ns: 0,
            instrument: InstrumentId(0),
            side,
            reason: Reason::VolTarget,
            binding: Binding::Model,
            qty,
            limit_px: px,
            touch_qty: qty,
            target_qty: 0.0,
            position_qty: 0.0,
            working_qty: 0.0,
            vol_forecast: 0.0,
            rebalance: 0,
        }
    }

    /// BTCUSDT at scales 2/3: max 1.000 per order, 50 000 notional, position 2.000, 100 orders/s
    /// burst 3, band 1 %, mark 50 000.00.
    fn gated(kill: KillSwitch) -> (Gated<Venue>, Marks) {
        let mut reg = Registry::new();
        reg.register("BTCUSDT", Market::BinanceSpot, 2, 3);
        let marks = Marks::new(1);
        marks.set(InstrumentId(0), 5_000_000);
        let limits = RiskLimits {
            instruments: vec![Some(InstrumentLimits {
                max_order_qty: 1_000,
                max_notional: 50_000.0,
                max_position: 2_000,
            })],
            max_orders_per_sec: 100.0,
            burst: 3.0,
            price_band: Some(0.01),
        };
        let gate = RiskGate::new(reg.instruments(), limits, marks.clone(), kill);
        (Gated::new(gate, Venue::default()), marks)
    }

    fn submit(g: &mut Gated<Venue>, c: &Clock, o: Order) -> Fill {
        let mut out = None;
        g.submit(&o, c, &mut |f| out = Some(f));
        out.expect("a report")
    }

    #[test]
    fn each_breach_rejected_and_never_sent() {
        let c = Clock::new();
        let (mut g, marks) = gated(KillSwitch::new());
        // Passes.
        assert_eq!(
            submit(&mut g, &c, order(1, Side::Buy, 500, 5_000_000)).qty,
            500
        );
        // Quantity.
        let f = submit(&mut g, &c, order(2, Side::Buy, 1_001, 5_000_000));
        assert_eq!((f.qty, f.cancelled_qty), (0, 1_001));
        assert_eq!(g.gate().stats().rejected(RejectReason::MaxOrderQty), 1);
        // Notional: 1.000 at 50 100.00 = 50 100 > 50 000 (price within the 1 % band).
        submit(&mut g, &c, order(3, Side::Buy, 1_000, 5_010_000));
        assert_eq!(g.gate().stats().rejected(RejectReason::MaxNotional), 1);
        // Price band: 2 % above the mark.
        submit(&mut g, &c, order(4, Side::Buy, 100, 5_100_000));
        assert_eq!(g.gate().stats().rejected(RejectReason::PriceBand), 1);
        // Position: 0.5 filled + 0.9 + 0.9 would be 2.3 > 2.0; first 0.9 passes (1.4).
        assert_eq!(
            submit(&mut g, &c, order(5, Side::Buy, 900, 5_000_000)).qty,
            900
        );
        submit(&mut g, &c, order(6, Side::Buy, 900, 5_000_000));
        assert_eq!(g.gate().stats().rejected(RejectReason::MaxPosition), 1);
        assert_eq!(g.gate().position(0), 1_400);
        // A reducing order passes even though it is large.
        assert_eq!(
            submit(&mut g, &c, order(7, Side::Sell, 1_000, 5_000_000)).qty,
            1_000
        );
        // Rate: burst 3 spent by orders 1, 5, 7 (rejected ones spent none).
        submit(&mut g, &c, order(8, Side::Buy, 10, 5_000_000));
        assert_eq!(g.gate().stats().rejected(RejectReason::RateLimit), 1);
        // Unknown mark.
        marks.set(InstrumentId(0), 0);
        submit(&mut g, &c, order(9, Side::Buy, 10, 5_000_000));
        assert_eq!(g.gate().stats().rejected(RejectReason::NoMark), 1);
        // Unknown instrument.
        let mut o = order(10, Side::Buy, 10, 5_000_000);
        o.instrument = InstrumentId(7);
        submit(&mut g, &c, o);
        assert_eq!(
            g.gate().stats().rejected(RejectReason::UnknownInstrument),
            1
        );
        assert_eq!(g.inner().sent, vec![1, 5, 7]);
        assert_eq!(g.gate().stats().passed, 3);
        assert_eq!(g.gate().stats().rejected_total(), 7);
    }

    /// An inverse contract's notional is its quantity (USD), not price × quantity.
    #[test]
    fn quote_quantity_notional() {
        let mut reg = Registry::new();
        reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
        let marks = Marks::new(1);
        marks.set(InstrumentId(0), 6_000_000_000_000);
        let limits = RiskLimits {
            instruments: vec![Some(InstrumentLimits {
                max_order_qty: 1_000_000 * 100_000_000,
                max_notional: 50_000.0,
                max_position: 1_000_000 * 100_000_000,
            })],
            max_orders_per_sec: 100.0,
            burst: 10.0,
            price_band: Some(0.01),
        };
        let linear = RiskGate::new(
            reg.instruments(),
            limits.clone(),
            marks.clone(),
            KillSwitch::new(),
        );
        let mut g = Gated::new(linear, Venue::default());
        let c = Clock::new();
        // 1000 read as BTC at 60 000: 60 M notional, rejected.
        submit(
            &mut g,
            &c,
            order(1, Side::Buy, 100_000_000_000, 6_000_000_000_000),
        );
        assert_eq!(g.gate().stats().rejected(RejectReason::MaxNotional), 1);
        let inverse = RiskGate::new(reg.instruments(), limits, marks, KillSwitch::new())
            .with_quote_qty(0)
            .with_quote_qty(9);
        let mut g = Gated::new(inverse, Venue::default());
        // 1000 USD: passes; 60 000 USD: above 50 000.
        assert_eq!(
            submit(
                &mut g,
                &c,
                order(1, Side::Buy, 100_000_000_000, 6_000_000_000_000)
            )
            .qty,
            100_000_000_000
        );
        submit(
            &mut g,
            &c,
            order(2, Side::Buy, 6_000_000_000_000, 6_000_000_000_000),
        );
        assert_eq!(g.gate().stats().rejected(RejectReason::MaxNotional), 1);
        assert_eq!(g.inner().sent, vec![1]);
    }

    #[test]
    fn token_bucket_refills_on_the_clock() {
        let c = Clock::new();
        let (mut g, _) = gated(KillSwitch::new());
        for id in 1..=3 {
            assert_eq!(
                submit(&mut g, &c, order(id, Side::Buy, 1, 5_000_000)).qty,
                1
            );
        }
        // The burst is spent: the fourth within microseconds is rejected.
        assert_eq!(submit(&mut g, &c, order(9, Side::Buy, 1, 5_000_000)).qty, 0);
        assert_eq!(g.gate().stats().rejected(RejectReason::RateLimit), 1);
        // 100 orders/s: one token after 10 ms.
        std::thread::sleep(std::time::Duration::from_millis(25));
        assert_eq!(submit(&mut g, &c, order(4, Side::Buy, 1, 5_000_000)).qty, 1);
        assert_eq!(g.inner().sent, vec![1, 2, 3, 4]);
    }

    #[test]
    fn kill_switch_command_cancels_and_blocks() {
        let c = Clock::new();
        let kill = KillSwitch::new();
        let (mut g, _) = gated(kill.clone());
        submit(&mut g, &c, order(1, Side::Buy, 1, 5_000_000));
        kill.trip();
        assert!(!g.poll(&c, &mut |_| {}));
        assert_eq!(g.inner().cancel_alls, 1);
        let f = submit(&mut g, &c, order(2, Side::Buy, 1, 5_000_000));
        assert_eq!(f.cancelled_qty, 1);
        assert_eq!(g.gate().stats().rejected(RejectReason::KillSwitch), 1);
        assert_eq!(g.inner().sent, vec![1]);
        assert_eq!(g.inner().cancel_alls, 1);
    }

    #[test]
    fn kill_switch_file() {
        let c = Clock::new();
        let path = std::env::temp_dir().join(format!("ballast-kill-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let (mut g, _) = gated(KillSwitch::new().with_file(path.clone()));
        submit(&mut g, &c, order(1, Side::Buy, 1, 5_000_000));
        std::fs::write(&path, b"stop").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(110));
        g.poll(&c, &mut |_| {});
        std::fs::remove_file(&path).unwrap();
        submit(&mut g, &c, order(2, Side::Buy, 1, 5_000_000));
        assert_eq!(g.gate().stats().rejected(RejectReason::KillSwitch), 1);
        assert_eq!(g.inner().cancel_alls, 1);
        assert_eq!(g.inner().sent, vec![1]);
    }

    #[test]
    fn kill_switch_signal() {
        let c = Clock::new();
        let kill = KillSwitch::new()
            .on_signal(signal_hook::consts::SIGUSR2)
            .unwrap();
        let (mut g, _) = gated(kill);
        signal_hook::low_level::raise(signal_hook::consts::SIGUSR2).unwrap();
        submit(&mut g, &c, order(1, Side::Buy, 1, 5_000_000));
        assert_eq!(g.gate().stats().rejected(RejectReason::KillSwitch), 1);
        assert!(g.inner().sent.is_empty());
    }
}
