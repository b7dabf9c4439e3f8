//! The options engine's fixtures: a permissive configuration, a chain of options on an inverse
//! perpetual hedge, a sink that records everything, the hedge's touch.

use feeds::{flags, EventKind, InstrumentId, Market, MarketEvent, PxQty, Registry};
use options::{
    Decision, HedgeSpec, OptionSpec, OptionsConfig, OptionsEngine, OptionsError, OptionsOrder,
    OptionsSink, VolSource,
};
use risk_core::greeks_limits::HedgeTo;
use risk_core::margin::Contract;

/// The tests' clock origin (2023-11-14), ns.
pub const T0: u64 = 1_700_000_000_000_000_000;
/// One day, ns.
pub const DAY_NS: u64 = 86_400_000_000_000;

/// A configuration where nothing binds unless a test tightens it: a 0.2 delta band hedged to its
/// edge, gamma and vega caps out of reach, 100 coins of collateral at 0.5 % maintenance margin
/// (buffer 3 σ over a day), leverage up to 10⁶, the whole touch, implied vol, EWMA λ = 0.94 over
/// one-second samples.
#[must_use]
pub fn config() -> OptionsConfig {
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

/// A Deribit chain under construction: the registry, the `BTC-PERPETUAL` hedge (inverse, 10 USD
/// lots) and the options added so far (0.1-coin lots, one lot minimum).
#[derive(Debug)]
pub struct Chain {
    /// Every instrument, the hedge first.
    pub reg: Registry,
    /// The hedge perpetual.
    pub hedge: InstrumentId,
    /// The options, in the order added.
    pub specs: Vec<OptionSpec>,
}

impl Default for Chain {
    fn default() -> Self {
        let mut reg = Registry::new();
        let hedge = reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
        Self {
            reg,
            hedge,
            specs: Vec::new(),
        }
    }
}

impl Chain {
    /// Registers option `name` and adds it to the chain.
    pub fn option(
        &mut self,
        name: &str,
        strike: f64,
        expiry_ns: u64,
        is_call: bool,
    ) -> InstrumentId {
        let instrument = self.reg.register(name, Market::Deribit, 8, 8);
        self.specs.push(OptionSpec {
            instrument,
            strike,
            expiry_ns,
            is_call,
            lot_qty: 0.1,
            min_lots: 1,
        });
        instrument
    }

    /// The hedge's specification: inverse, 10 USD lots, one lot minimum.
    #[must_use]
    pub fn hedge_spec(&self) -> HedgeSpec {
        HedgeSpec {
            instrument: self.hedge,
            contract: Contract::Inverse,
            lot_qty: 10.0,
            min_lots: 1,
        }
    }

    /// An engine over the chain.
    ///
    /// # Errors
    /// As [`OptionsEngine::new`].
    pub fn engine(&self, cfg: OptionsConfig) -> Result<OptionsEngine, OptionsError> {
        OptionsEngine::new(&self.reg, cfg, self.hedge_spec(), &self.specs)
    }
}

/// Records every order and decision the engine hands over.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Orders, in the order sent.
    pub orders: Vec<OptionsOrder>,
    /// Decisions, in the order made.
    pub decisions: Vec<Decision>,
}

impl OptionsSink for Recorder {
    fn order(&mut self, o: &OptionsOrder) {
        self.orders.push(*o);
    }
    fn decision(&mut self, d: &Decision) {
        self.decisions.push(*d);
    }
}

/// Keeps the orders and counts the decisions (without keeping them, for allocation tests and
/// benches).
#[derive(Debug, Default)]
pub struct Tally {
    /// Orders, in the order sent.
    pub orders: Vec<OptionsOrder>,
    /// Decisions made.
    pub decisions: u64,
}

impl OptionsSink for Tally {
    fn order(&mut self, o: &OptionsOrder) {
        self.orders.push(*o);
    }
    fn decision(&mut self, _d: &Decision) {
        self.decisions += 1;
    }
}

/// `x` in the 8-decimal mantissa of the chain's instruments, rounded.
#[must_use]
pub fn p8(x: f64) -> i64 {
    (x * 1e8).round() as i64
}

/// A valid book's touch: bid `mid − half_spread`, ask `mid + half_spread`, `qty` on each side.
#[must_use]
pub fn bbo(id: InstrumentId, t_ns: u64, mid: f64, half_spread: f64, qty: f64) -> MarketEvent {
    let mut e = MarketEvent::new(EventKind::Bbo, id, t_ns);
    e.flags = flags::BOOK_VALID;
    e.bid = PxQty {
        px: p8(mid - half_spread),
        qty: p8(qty),
    };
    e.ask = PxQty {
        px: p8(mid + half_spread),
        qty: p8(qty),
    };
    e
}
