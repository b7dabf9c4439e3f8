//! An option chain of one underlying in structure-of-arrays layout, so the SIMD Greeks kernel runs
//! over it in place: static facts (strike, expiry, call/put, lot), ticker state (mark price and
//! mark/bid/ask implied volatility), the touch of the option's own book when one is seen,
//! positions and working quantities in lots, and the kernel's outputs (price, delta, gamma, vega).
//!
//! Each expiry has its own forward: the chain keeps per expiry a basis ratio `F_expiry / hedge
//! mid` ([`OptionChain::set_basis`], 1 until set) and values every option at
//! `hedge mid × its expiry's ratio` ([`OptionChain::revalue`]; the forward each option was
//! valued at is [`OptionChain::forward`]).
//!
//! All vectors are sized at start-up by [`OptionChain::push`]; nothing grows per tick.

use feeds::InstrumentId;
use risk_core::greeks::{
    greeks_batch, BatchInputs, BatchOutputs, GreeksError, LaneStatus, Model, Tier,
};

/// Static facts about one option, given at start-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSpec {
    /// The option's instrument id (ids of one engine must be below its `max_instruments`).
    pub instrument: InstrumentId,
    /// Strike, quote per base (USD).
    pub strike: f64,
    /// Expiry, ns since the Unix epoch.
    pub expiry_ns: u64,
    /// Call (`true`) or put.
    pub is_call: bool,
    /// One lot in underlying units (Deribit BTC options: 0.1 BTC).
    pub lot_qty: f64,
    /// Smallest order, lots (at least 1).
    pub min_lots: i64,
}

/// Nanoseconds per year of the chain's time to expiry (365 days, Deribit's convention).
pub const NS_PER_YEAR: f64 = 365.0 * 86_400.0 * 1e9;

/// The chain of one underlying, structure of arrays. Index `i` is the same option in every
/// vector.
#[derive(Debug, Default)]
pub struct OptionChain {
    /// Instrument ids.
    pub instrument: Vec<InstrumentId>,
    /// Strikes, USD.
    pub strike: Vec<f64>,
    /// Expiries, ns.
    pub expiry_ns: Vec<u64>,
    /// Call flags.
    pub is_call: Vec<bool>,
    /// Lot size, underlying units.
    pub lot_qty: Vec<f64>,
    /// Smallest order, lots.
    pub min_lots: Vec<i64>,
    /// Mark price in coin (from the ticker; 0 until one is seen).
    pub mark_px_coin: Vec<f64>,
    /// Mark implied volatility, fraction (0 until a ticker is seen: the option is not priced).
    pub mark_iv: Vec<f64>,
    /// Bid implied volatility, fraction (0 when none).
    pub bid_iv: Vec<f64>,
    /// Ask implied volatility, fraction (0 when none).
    pub ask_iv: Vec<f64>,
    /// Touch of the option's own book (bid px, bid qty, ask px, ask qty in coin and underlying
    /// units; qty 0 when no book is seen).
    pub bid_px_coin: Vec<f64>,
    /// Best bid quantity, underlying units.
    pub bid_qty: Vec<f64>,
    /// Best ask price in coin.
    pub ask_px_coin: Vec<f64>,
    /// Best ask quantity, underlying units.
    pub ask_qty: Vec<f64>,
    /// Filled position, lots (signed).
    pub position_lots: Vec<i64>,
    /// Sent and not yet reported, lots (signed).
    pub working_lots: Vec<i64>,
    /// Index of each option's expiry in `expiries`.
    expiry_slot: Vec<u32>,
    /// Distinct expiries, in order of first appearance.
    expiries: Vec<u64>,
    /// Per expiry: forward / hedge mid (1 until a ticker sets it).
    basis: Vec<f64>,
    /// Per expiry, scratch of one revaluation: forward and time to expiry (years).
    slot_fwd: Vec<f64>,
    slot_t_years: Vec<f64>,
    // Kernel inputs refreshed per batch.
    underlying: Vec<f64>,
    t_years: Vec<f64>,
    rate: Vec<f64>,
    /// Black-76 premium, USD per unit of underlying.
    pub price: Vec<f64>,
    /// Delta per unit of underlying.
    pub delta: Vec<f64>,
    /// Gamma per unit of underlying, per USD.
    pub gamma: Vec<f64>,
    /// Vega per 1.00 of volatility, USD per unit of underlying.
    pub vega: Vec<f64>,
    theta: Vec<f64>,
    /// Per-option kernel status (`ok`/`intrinsic` lanes have numbers).
    pub status: Vec<LaneStatus>,
}

impl OptionChain {
    /// Number of options.
    #[must_use]
    pub fn len(&self) -> usize {
        self.strike.len()
    }

    /// Whether the chain is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.strike.is_empty()
    }

    /// Adds an option (start-up only). Returns its index.
    pub fn push(&mut self, s: &OptionSpec) -> usize {
        self.instrument.push(s.instrument);
        self.strike.push(s.strike);
        self.expiry_ns.push(s.expiry_ns);
        self.is_call.push(s.is_call);
        let slot = match self.expiries.iter().position(|&e| e == s.expiry_ns) {
            Some(k) => k,
            None => {
                self.expiries.push(s.expiry_ns);
                self.basis.push(1.0);
                self.slot_fwd.push(0.0);
                self.slot_t_years.push(0.0);
                self.expiries.len() - 1
            }
        };
        self.expiry_slot.push(slot as u32);
        self.lot_qty.push(s.lot_qty);
        self.min_lots.push(s.min_lots.max(1));
        for v in [
            &mut self.mark_px_coin,
            &mut self.mark_iv,
            &mut self.bid_iv,
            &mut self.ask_iv,
            &mut self.bid_px_coin,
            &mut self.bid_qty,
            &mut self.ask_px_coin,
            &mut self.ask_qty,
            &mut self.underlying,
            &mut self.t_years,
            &mut self.rate,
            &mut self.price,
            &mut self.delta,
            &mut self.gamma,
            &mut self.vega,
            &mut self.theta,
        ] {
            v.push(0.0);
        }
        self.position_lots.push(0);
        self.working_lots.push(0);
        self.status.push(LaneStatus::BadVol);
        self.len() - 1
    }

    /// Position in underlying units.
    #[must_use]
    pub fn position_qty(&self, i: usize) -> f64 {
        self.position_lots[i] as f64 * self.lot_qty[i]
    }

    /// Number of distinct expiries.
    #[must_use]
    pub fn expiry_count(&self) -> usize {
        self.expiries.len()
    }

    /// Expiry slot of option `i` (index into [`Self::basis`]).
    #[must_use]
    pub fn expiry_slot(&self, i: usize) -> usize {
        self.expiry_slot[i] as usize
    }

    /// Basis ratio (forward / hedge mid) of expiry slot `e`.
    #[must_use]
    pub fn basis(&self, e: usize) -> f64 {
        self.basis[e]
    }

    /// Sets the basis ratio of expiry slot `e` (every option of that expiry is valued at
    /// `hedge mid × ratio` from its next revaluation). A ratio that is not finite and positive,
    /// or a slot out of range, is ignored (returns `false`).
    pub fn set_basis(&mut self, e: usize, ratio: f64) -> bool {
        match self.basis.get_mut(e) {
            Some(b) if ratio.is_finite() && ratio > 0.0 => {
                *b = ratio;
                true
            }
            _ => false,
        }
    }

    /// Forward option `i` was last valued at, USD (0 before its first revaluation).
    #[must_use]
    pub fn forward(&self, i: usize) -> f64 {
        self.underlying[i]
    }

    /// Revalues options `range` at hedge mid `hedge_px` times each option's expiry basis (its
    /// forward) and time `now_ns` with their mark implied volatilities: one Black-76 batch over
    /// the SoA slices, no copy of the chain, no allocation. Options without a ticker yet (IV 0)
    /// come out `Intrinsic` priced at intrinsic value; expired ones likewise.
    ///
    /// # Errors
    /// Never in practice (all slices have the chain length); passed through from the kernel.
    pub fn revalue(
        &mut self,
        range: std::ops::Range<usize>,
        hedge_px: f64,
        now_ns: u64,
    ) -> Result<(), GreeksError> {
        let r = range;
        // Forward and time per expiry (a handful), then gathered per option.
        for e in 0..self.expiries.len() {
            self.slot_fwd[e] = hedge_px * self.basis[e];
            self.slot_t_years[e] =
                self.expiries[e].saturating_sub(now_ns) as f64 * (1.0 / NS_PER_YEAR);
        }
        let slots = &self.expiry_slot[r.clone()];
        for ((u, t), &e) in self.underlying[r.clone()]
            .iter_mut()
            .zip(&mut self.t_years[r.clone()])
            .zip(slots)
        {
            *u = self.slot_fwd[e as usize];
            *t = self.slot_t_years[e as usize];
        }
        let inp = BatchInputs {
            model: Model::Black76,
            underlying: &self.underlying[r.clone()],
            strike: &self.strike[r.clone()],
            t_years: &self.t_years[r.clone()],
            vol: &self.mark_iv[r.clone()],
            rate: &self.rate[r.clone()],
            carry_q: &[],
            is_call: &self.is_call[r.clone()],
        };
        let mut out = BatchOutputs {
            price: &mut self.price[r.clone()],
            delta: &mut self.delta[r.clone()],
            gamma: &mut self.gamma[r.clone()],
            vega: &mut self.vega[r.clone()],
            theta: &mut self.theta[r.clone()],
            rho: &mut [],
            vanna: &mut [],
            volga: &mut [],
            status: &mut self.status[r.clone()],
        };
        greeks_batch(&inp, Tier::PriceAnd4, &mut out)
    }

    /// Time to expiry of option `i` at the last revaluation, years.
    #[must_use]
    pub fn t_years(&self, i: usize) -> f64 {
        self.t_years[i]
    }
}
