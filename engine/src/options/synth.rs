//! A seeded synthetic options market for tests, the demo and benches: a random-walk underlying
//! quoted on an inverse perpetual (the hedge), a chain of calls over several expiries whose
//! tickers carry a volatility smile, and a volatility shock part-way through (returns and
//! implied volatilities scale up). Deterministic: the same [`SynthOptions`] gives the same
//! events, bit for bit.
//!
//! Start-up code (allocates); the engine is then driven with the pre-built events.

use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{flags, EventKind, InstrumentId, Market, MarketEvent, PxQty, Registry};
use risk_core::greeks_limits::HedgeTo;
use risk_core::margin::Contract;

use super::{
    HedgeSpec, OptionSpec, OptionsConfig, OptionsEngine, OptionsError, OptionsFill, OptionsOrder,
    OptionsSink, VolSource,
};

const DAY_NS: u64 = 86_400_000_000_000;

/// Shape of the synthetic market.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    /// RNG seed (xorshift64*; must not be 0).
    pub seed: u64,
    /// Hedge ticks (one `Bbo` each).
    pub ticks: u64,
    /// Receive time of the first tick, ns.
    pub start_ns: u64,
    /// Event time between ticks, ns.
    pub tick_ns: u64,
    /// Starting underlying price, USD.
    pub spot_px: f64,
    /// Width of a tick's uniform relative move (before the shock).
    pub step: f64,
    /// Share of `ticks` after which the shock starts, [0, 1].
    pub shock_at: f64,
    /// Multiplier of the move width after the shock (implied vols scale by its square root).
    pub shock_mult: f64,
    /// Expiries (7 days, then every 30 days).
    pub expiries: u32,
    /// Strikes per expiry.
    pub strikes: u32,
    /// Lowest strike, USD.
    pub strike_lo: f64,
    /// Strike step, USD.
    pub strike_step: f64,
    /// One option ticker every this many ticks.
    pub ticker_every: u64,
    /// Option lot, underlying units.
    pub option_lot: f64,
    /// Hedge (inverse perpetual) lot, USD face.
    pub hedge_lot_usd: f64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            seed: 0x9E37_79B9_7F4A_7C15,
            ticks: 3_000,
            start_ns: 1_700_000_000_000_000_000,
            tick_ns: 250_000_000,
            spot_px: 50_000.0,
            step: 0.0008,
            shock_at: 0.5,
            shock_mult: 2.5,
            expiries: 3,
            strikes: 8,
            strike_lo: 40_000.0,
            strike_step: 2_500.0,
            ticker_every: 7,
            option_lot: 0.1,
            hedge_lot_usd: 10.0,
        }
    }
}

impl SynthOptions {
    /// Receive time at which the shock starts, ns.
    #[must_use]
    pub fn shock_ns(&self) -> u64 {
        self.start_ns + self.shock_tick() * self.tick_ns
    }

    fn shock_tick(&self) -> u64 {
        (self.shock_at.clamp(0.0, 1.0) * self.ticks as f64) as u64
    }
}

/// The policy the synthetic market is tuned for: a ±0.3 BTC delta band, gamma and vega caps the
/// full book stays under before the shock, 2 BTC collateral, a 3σ one-day liquidation buffer on
/// a blend of the EWMA forecast and the ATM implied volatility.
#[must_use]
pub fn default_config() -> OptionsConfig {
    OptionsConfig {
        delta_band: 0.3,
        hedge_to: HedgeTo::Edge,
        max_abs_gamma: 6e-4,
        max_abs_vega_per_vol_point: 2_500.0,
        collateral_coin: 2.0,
        mmr: 0.005,
        buffer_k: 3.0,
        buffer_horizon_days: 1.0,
        max_margin_ratio: 1.0,
        max_leverage: 5.0,
        liquidity_frac: 0.5,
        rebalance_frac: 0.1,
        vol_source: VolSource::Blend {
            forecast_weight: 0.5,
        },
        ewma_lambda: 0.94,
        ewma_warmup: 5,
        sample_interval_ns: 1_000_000_000,
    }
}

/// The generated market: instruments, the chain, the desired book and the events in receive
/// order.
#[derive(Debug, Clone)]
pub struct SynthMarket {
    /// Registry: the perpetual first, then the options.
    pub registry: Registry,
    /// The inverse perpetual.
    pub hedge: HedgeSpec,
    /// The chain.
    pub specs: Vec<OptionSpec>,
    /// Base-model book: lots per option (long calls, 10 to 30 lots).
    pub desired: Vec<(InstrumentId, i64)>,
    /// Hedge `Bbo`s and option tickers, in receive order.
    pub events: Vec<MarketEvent>,
}

/// xorshift64*: a fixed, seeded sequence in [0, 1).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Builds the market described by `s`.
#[must_use]
pub fn generate(s: &SynthOptions) -> SynthMarket {
    let mut reg = Registry::new();
    let hedge = reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
    let mut specs = Vec::with_capacity((s.expiries * s.strikes) as usize);
    for e in 0..u64::from(s.expiries) {
        for k in 0..s.strikes {
            let id = reg.register(&format!("BTC-{e}-{k}-C"), Market::Deribit, 8, 8);
            specs.push(OptionSpec {
                instrument: id,
                strike: s.strike_lo + s.strike_step * f64::from(k),
                expiry_ns: s.start_ns + (7 + 30 * e) * DAY_NS,
                is_call: true,
                lot_qty: s.option_lot,
                min_lots: 1,
            });
        }
    }
    let desired = specs
        .iter()
        .enumerate()
        .map(|(i, o)| (o.instrument, 10 + (i as i64 % 5) * 5))
        .collect();
    let mut events = Vec::with_capacity((s.ticks + s.ticks / s.ticker_every.max(1) + 1) as usize);
    let mut rng = Rng(s.seed.max(1));
    let mut px = s.spot_px;
    let shock_tick = s.shock_tick();
    for tick in 0..s.ticks {
        let t = s.start_ns + tick * s.tick_ns;
        let shock = if tick >= shock_tick {
            s.shock_mult
        } else {
            1.0
        };
        px *= 1.0 + s.step * shock * (rng.next() - 0.5);
        let mut e = MarketEvent::new(EventKind::Bbo, hedge, t);
        e.flags = flags::BOOK_VALID;
        let depth = ((5_000.0 + 50_000.0 * rng.next()) * 1e8) as i64;
        e.bid = PxQty {
            px: ((px - 0.5) * 1e8).round() as i64,
            qty: depth,
        };
        e.ask = PxQty {
            px: ((px + 0.5) * 1e8).round() as i64,
            qty: depth,
        };
        events.push(e);
        if s.ticker_every > 0 && tick % s.ticker_every == 0 && !specs.is_empty() {
            let i = ((rng.next() * specs.len() as f64) as usize).min(specs.len() - 1);
            let m = (specs[i].strike / px).ln();
            let iv = (0.55 + 0.8 * m * m - 0.1 * m) * shock.sqrt();
            events.push(option_ticker(
                specs[i].instrument,
                t + 1,
                t + 1,
                &OptionTicker {
                    underlying_px: px,
                    mark_px: 0.02,
                    mark_iv: iv,
                    bid_iv: iv - 0.02,
                    ask_iv: iv + 0.02,
                },
            ));
        }
    }
    SynthMarket {
        registry: reg,
        hedge: HedgeSpec {
            instrument: hedge,
            contract: Contract::Inverse,
            lot_qty: s.hedge_lot_usd,
            min_lots: 1,
        },
        specs,
        desired,
        events,
    }
}

impl SynthMarket {
    /// An engine over this market with `cfg` and the desired book set.
    ///
    /// # Errors
    /// [`OptionsError`] for a configuration value out of range.
    pub fn engine(&self, cfg: OptionsConfig) -> Result<OptionsEngine, OptionsError> {
        let mut eng = OptionsEngine::new(&self.registry, cfg, self.hedge, &self.specs)?;
        for &(id, lots) in &self.desired {
            eng.set_desired(id, lots);
        }
        Ok(eng)
    }
}

/// A sink that keeps the orders of the current event so they can be paper-filled.
#[derive(Debug)]
pub struct PaperSink<S> {
    /// The wrapped sink (sees every order and decision).
    pub inner: S,
    pending: Vec<OptionsOrder>,
}

impl<S: OptionsSink> PaperSink<S> {
    /// Wraps `inner`; room for `capacity` orders per event.
    #[must_use]
    pub fn new(inner: S, capacity: usize) -> Self {
        Self {
            inner,
            pending: Vec::with_capacity(capacity),
        }
    }

    /// Feeds `ev` to `eng` and fills every order it sent in full at its limit (the orders are
    /// already capped to the touch), so positions follow the orders at once.
    pub fn step(&mut self, eng: &mut OptionsEngine, ev: &MarketEvent, t_ingest: u64) {
        eng.on_event(ev, t_ingest, self);
        for o in &self.pending {
            eng.on_fill(&OptionsFill::paper(o));
        }
        self.pending.clear();
    }
}

impl<S: OptionsSink> OptionsSink for PaperSink<S> {
    fn order(&mut self, o: &OptionsOrder) {
        self.pending.push(*o);
        self.inner.order(o);
    }

    fn decision(&mut self, d: &super::Decision) {
        self.inner.decision(d);
    }
}
