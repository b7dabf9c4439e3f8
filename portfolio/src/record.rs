//! The rebalance record: everything one rebalance saw and decided, fixed-capacity so the kernel
//! fills it without allocating, rendered as one JSON line off the hot path.
//!
//! A record carries the factor covariance the rebalance used (annualized, the ready factors in
//! ascending order), so anyone holding the record alone can re-solve the allocation and check the
//! risk contributions. Numbers are Rust's shortest round-trip decimals (the same run gives the
//! same bytes, and a reader recovers every `f64` exactly); non-finite numbers are `null`.

use std::io::{self, Write};

use crate::allocate::FactorBinding;
use crate::spec::{Policy, PortfolioSpec};

/// What started a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trigger {
    /// The first rebalance once the covariance is ready.
    #[default]
    Start,
    /// `every_samples` samples since the last one.
    Clock,
    /// A factor's net exposure left its band.
    Drift,
    /// A factor's volatility forecast jumped.
    VolJump,
    /// A factor entered or left the matrix.
    Universe,
    /// An expected-return update arrived from the signal input (Kelly).
    Signal,
}

impl Trigger {
    /// Stable snake-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Clock => "clock",
            Self::Drift => "drift",
            Self::VolJump => "vol_jump",
            Self::Universe => "universe",
            Self::Signal => "signal",
        }
    }
}

/// One factor in a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FactorRow {
    /// Whether the factor was in the matrix.
    pub ready: bool,
    /// Target exposure over capital.
    pub weight: f64,
    /// Its budget, renormalized over the ready factors (risk parity), else as configured.
    pub budget: f64,
    /// Risk contribution of the target exposures under the record's covariance.
    pub risk_contribution: f64,
    /// Annualized volatility forecast.
    pub vol: f64,
    /// Annualized expected return the rebalance used (configured, or the signal's last update).
    pub expected_return: f64,
    /// Target exposure, USD.
    pub target_exposure: f64,
    /// Net exposure across every venue before the rebalance's orders, USD.
    pub net_exposure: f64,
    /// Net exposure the orders aim at (target minus what no instrument could take), USD.
    pub planned_exposure: f64,
    /// Net delta across every venue before the orders, underlying units (held options
    /// included).
    pub net_delta: f64,
    /// The held options' part of it.
    pub option_delta: f64,
    /// The held options' gamma, per underlying unit.
    pub option_gamma: f64,
    /// The step that set the target.
    pub binding: FactorBinding,
}

/// One instrument in a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InstrumentRow {
    /// Target position, quantity units (contracts for inverse).
    pub target_qty: f64,
    /// Position plus working quantity before the order.
    pub position_qty: f64,
    /// The order sent (0: none).
    pub order_id: u64,
    /// Its signed quantity.
    pub order_qty: f64,
    /// The constraint that bound the target (or the factor's binding when none did).
    pub binding: &'static str,
    /// Cost of trading it, bps (half spread, fee, funding over the horizon).
    pub cost_bps: f64,
    /// The depth forecast's multiplier of its liquidity cap for the trade's side (1: no void
    /// predicted, or the forecast is off).
    pub flow_multiplier: f64,
}

/// One account in a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AccountRow {
    /// Equity (margin: wallet plus unrealized PnL; spot: cash plus holdings), in its currency
    /// (spot: USD).
    pub equity: f64,
    /// Maintenance margin, same currency (0 for spot).
    pub maintenance: f64,
    /// Maintenance over equity.
    pub margin_ratio: f64,
    /// Closest relative distance to liquidation (∞: none): of a position's liquidation price to
    /// its mark (`margin`), or of the underlying move that takes equity to maintenance
    /// (`deribit`).
    pub liq_distance: f64,
}

/// A rebalance (fixed capacity: `n` factors, `m` instruments, `a` accounts).
#[derive(Debug, Clone, PartialEq)]
pub struct Rebalance {
    /// Rebalance number, from 1.
    pub seq: u64,
    /// Receive time of the event that triggered it, ns.
    pub recv_ns: u64,
    /// Why.
    pub trigger: Trigger,
    /// The policy.
    pub policy: Policy,
    /// Annualized volatility of the target exposures over capital.
    pub portfolio_vol: f64,
    /// Gross leverage of the targets.
    pub gross_leverage: f64,
    /// Net leverage of the targets.
    pub net_leverage: f64,
    /// Largest relative risk-contribution error of the risk-parity solve.
    pub solver_error: f64,
    /// Shrinkage intensity of the matrix.
    pub shrinkage: f64,
    /// Ready factors (indices into the spec's factors), ascending: `cov`'s rows.
    pub cov_factors: Vec<usize>,
    /// The annualized covariance used, `k × k` row-major (`k = cov_factors.len()`).
    pub cov: Vec<f64>,
    /// Per factor (all of them, in spec order).
    pub factors: Vec<FactorRow>,
    /// Per instrument (spec order).
    pub instruments: Vec<InstrumentRow>,
    /// Per account (spec order).
    pub accounts: Vec<AccountRow>,
}

impl Rebalance {
    /// An empty record with room for `n` factors, `m` instruments and `a` accounts.
    #[must_use]
    pub fn with_capacity(n: usize, m: usize, a: usize) -> Self {
        Self {
            seq: 0,
            recv_ns: 0,
            trigger: Trigger::Start,
            policy: Policy::RiskParity,
            portfolio_vol: 0.0,
            gross_leverage: 0.0,
            net_leverage: 0.0,
            solver_error: 0.0,
            shrinkage: 0.0,
            cov_factors: Vec::with_capacity(n),
            cov: Vec::with_capacity(n * n),
            factors: vec![FactorRow::default(); n],
            instruments: vec![InstrumentRow::default(); m],
            accounts: vec![AccountRow::default(); a],
        }
    }

    /// Copies `other` into `self` without allocating when the capacities match.
    pub fn copy_from(&mut self, other: &Self) {
        self.seq = other.seq;
        self.recv_ns = other.recv_ns;
        self.trigger = other.trigger;
        self.policy = other.policy;
        self.portfolio_vol = other.portfolio_vol;
        self.gross_leverage = other.gross_leverage;
        self.net_leverage = other.net_leverage;
        self.solver_error = other.solver_error;
        self.shrinkage = other.shrinkage;
        self.cov_factors.clear();
        self.cov_factors.extend_from_slice(&other.cov_factors);
        self.cov.clear();
        self.cov.extend_from_slice(&other.cov);
        self.factors.clear();
        self.factors.extend_from_slice(&other.factors);
        self.instruments.clear();
        self.instruments.extend_from_slice(&other.instruments);
        self.accounts.clear();
        self.accounts.extend_from_slice(&other.accounts);
    }
}

/// Where the kernel hands its rebalances (called on the kernel thread: must not block for long
/// nor allocate).
pub trait RebalanceSink: Send {
    /// One rebalance.
    fn record(&mut self, r: &Rebalance);
}

/// Discards records.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecords;

impl RebalanceSink for NoRecords {
    fn record(&mut self, _: &Rebalance) {}
}

/// Keeps every record (allocates: tests and small runs).
#[derive(Debug, Clone, Default)]
pub struct KeepRecords(pub Vec<Rebalance>);

impl RebalanceSink for KeepRecords {
    fn record(&mut self, r: &Rebalance) {
        self.0.push(r.clone());
    }
}

/// A number as JSON: shortest round-trip decimal, `null` when not finite.
struct Num(f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_finite() {
            write!(f, "{:?}", self.0)
        } else {
            f.write_str("null")
        }
    }
}

/// Writes `r` as one JSON line with the names of `spec`. `with_cov`: include the covariance
/// (`cov_factors`, `cov`).
///
/// # Errors
/// The writer's.
pub fn write_rebalance(
    w: &mut impl Write,
    spec: &PortfolioSpec,
    r: &Rebalance,
    with_cov: bool,
) -> io::Result<()> {
    write!(
        w,
        "{{\"type\":\"rebalance\",\"seq\":{},\"recv_ns\":{},\"trigger\":\"{}\",\"policy\":\"{}\",\"portfolio_vol\":{},\"gross_leverage\":{},\"net_leverage\":{},\"solver_error\":{},\"shrinkage\":{},\"capital\":{},\"factors\":[",
        r.seq,
        r.recv_ns,
        r.trigger.as_str(),
        r.policy.name(),
        Num(r.portfolio_vol),
        Num(r.gross_leverage),
        Num(r.net_leverage),
        Num(r.solver_error),
        Num(r.shrinkage),
        Num(spec.capital),
    )?;
    for (i, (f, s)) in r.factors.iter().zip(&spec.factors).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            "{{\"name\":\"{}\",\"ready\":{},\"weight\":{},\"budget\":{},\"risk_contribution\":{},\"vol\":{},\"expected_return\":{},\"target_exposure\":{},\"net_exposure\":{},\"planned_exposure\":{},\"net_delta\":{},\"option_delta\":{},\"option_gamma\":{},\"binding\":\"{}\"}}",
            s.name,
            f.ready,
            Num(f.weight),
            Num(f.budget),
            Num(f.risk_contribution),
            Num(f.vol),
            Num(f.expected_return),
            Num(f.target_exposure),
            Num(f.net_exposure),
            Num(f.planned_exposure),
            Num(f.net_delta),
            Num(f.option_delta),
            Num(f.option_gamma),
            f.binding.as_str()
        )?;
    }
    w.write_all(b"],\"instruments\":[")?;
    for (i, (x, s)) in r.instruments.iter().zip(&spec.instruments).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        let (venue, market) = split_tag(&s.market);
        write!(
            w,
            "{{\"venue\":\"{venue}\",\"market\":\"{market}\",\"symbol\":\"{}\",\"factor\":\"{}\",\"account\":\"{}\",\"target_qty\":{},\"position_qty\":{},\"order_id\":{},\"order_qty\":{},\"binding\":\"{}\",\"cost_bps\":{},\"flow_multiplier\":{}}}",
            s.symbol,
            s.factor,
            s.account,
            Num(x.target_qty),
            Num(x.position_qty),
            x.order_id,
            Num(x.order_qty),
            x.binding,
            Num(x.cost_bps),
            Num(x.flow_multiplier)
        )?;
    }
    w.write_all(b"],\"accounts\":[")?;
    for (i, (a, s)) in r.accounts.iter().zip(&spec.accounts).enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            "{{\"name\":\"{}\",\"kind\":\"{}\",\"currency\":\"{}\",\"equity\":{},\"maintenance\":{},\"margin_ratio\":{},\"liq_distance\":{}}}",
            s.name,
            s.kind.name(),
            if matches!(s.kind, crate::spec::AccountKind::Spot) { crate::spec::USD } else { &s.currency },
            Num(a.equity),
            Num(a.maintenance),
            Num(a.margin_ratio),
            Num(a.liq_distance)
        )?;
    }
    w.write_all(b"]")?;
    if with_cov {
        w.write_all(b",\"cov_factors\":[")?;
        for (i, f) in r.cov_factors.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            write!(w, "\"{}\"", spec.factors[*f].name)?;
        }
        w.write_all(b"],\"cov\":[")?;
        for (i, c) in r.cov.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            write!(w, "{}", Num(*c))?;
        }
        w.write_all(b"]")?;
    }
    w.write_all(b"}\n")
}

/// `binance-usdm` → (`binance`, `usdm`); `deribit` → (`deribit`, `deribit`).
fn split_tag(tag: &str) -> (&str, &str) {
    tag.split_once('-').unwrap_or((tag, tag))
}

/// The kernel's end of a record ring: a pool of preallocated records moved (boxed pointers, no
/// allocation) to a writer thread and back. When the writer lags and the pool is empty the
/// kernel yields until a record returns: a replay loses no record; a record costs one copy.
#[derive(Debug)]
pub struct RecordRing {
    full: rtrb::Producer<Box<Rebalance>>,
    empty: rtrb::Consumer<Box<Rebalance>>,
    /// Times the kernel waited for a free record.
    pub waits: u64,
}

/// The writer's end of a [`RecordRing`].
#[derive(Debug)]
pub struct RecordDrain {
    full: rtrb::Consumer<Box<Rebalance>>,
    empty: rtrb::Producer<Box<Rebalance>>,
}

/// A ring of `slots` records shaped like `template` (allocated here, once).
#[must_use]
pub fn record_ring(template: &Rebalance, slots: usize) -> (RecordRing, RecordDrain) {
    let slots = slots.max(1);
    let (full_tx, full_rx) = rtrb::RingBuffer::new(slots);
    let (mut empty_tx, empty_rx) = rtrb::RingBuffer::new(slots);
    for _ in 0..slots {
        // Shaped like the template with its full capacities (a clone would keep only the
        // lengths, and the first copy into each record would allocate). The ring was made with
        // `slots` places.
        let _ = empty_tx.push(Box::new(Rebalance::with_capacity(
            template.factors.len(),
            template.instruments.len(),
            template.accounts.len(),
        )));
    }
    (
        RecordRing {
            full: full_tx,
            empty: empty_rx,
            waits: 0,
        },
        RecordDrain {
            full: full_rx,
            empty: empty_tx,
        },
    )
}

impl RebalanceSink for RecordRing {
    fn record(&mut self, r: &Rebalance) {
        loop {
            if let Ok(mut b) = self.empty.pop() {
                b.copy_from(r);
                // Never full: at most `slots` records exist.
                let _ = self.full.push(b);
                return;
            }
            if self.empty.is_abandoned() {
                return;
            }
            self.waits += 1;
            std::thread::yield_now();
        }
    }
}

impl RecordDrain {
    /// The next record, if one is waiting.
    pub fn pop(&mut self) -> Option<Box<Rebalance>> {
        self.full.pop().ok()
    }

    /// Returns a written record to the pool.
    pub fn give_back(&mut self, r: Box<Rebalance>) {
        let _ = self.empty.push(r);
    }

    /// Whether the kernel dropped its end and every record was taken.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.full.is_abandoned() && self.full.is_empty()
    }
}
