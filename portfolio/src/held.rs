//! A held option book (Deribit options the portfolio does not trade but must hedge): its deltas
//! and gammas from the SIMD Greeks kernel count in each underlying's **net** delta, so the split
//! hedges an option book on Deribit with the linear and inverse instruments of any venue.
//!
//! Each option's forward and implied volatility are its last Deribit ticker's `underlying_price`
//! and `mark_iv`; Greeks are Black-76 on that forward with r = 0 and T in years of 365 days
//! (Deribit's convention, `risk_core::greeks::units`): delta in underlying units per contract.
//! An option without a ticker yet, or whose lane the kernel refuses, counts zero and is reported
//! (`stale`). Revaluation runs once per sample over the whole book in `f64x4` lanes; no allocation.
//!
//! An option held in a `deribit` account (its `account`, or the only deribit account of its coin)
//! also counts there: its mark in coin (the Black-76 price over the forward) in the account's
//! equity, and, written, Deribit's option margin in its maintenance and initial margin.

use feeds::deribit::instruments::{parse_name, InstrumentKind};
use feeds::deribit::read_option_ticker;
use feeds::{InstrumentId, MarketEvent};
use risk_core::greeks::{greeks_batch, BatchInputs, BatchOutputs, LaneStatus, Model, Tier};

use crate::spec::{PortfolioSpec, SpecError};

/// Nanoseconds per year of 365 days.
const NS_PER_YEAR: f64 = 365.0 * 86_400.0 * 1e9;

/// The held options, structure of arrays.
#[derive(Debug, Clone, Default)]
pub struct HeldBook {
    /// Registry id of each option.
    pub ids: Vec<InstrumentId>,
    /// Factor index of each.
    pub factor: Vec<usize>,
    /// Position, contracts of one underlying unit (signed).
    pub qty: Vec<f64>,
    /// The `deribit` account holding each (`None`: outside every account).
    pub account: Vec<Option<usize>>,
    /// Strike, USD.
    pub(crate) strike: Vec<f64>,
    expiry_ns: Vec<u64>,
    /// Call (`true`) or put.
    pub(crate) is_call: Vec<bool>,
    /// Forward (the last ticker's `underlying_price`), USD; 0 before the first ticker.
    pub(crate) forward: Vec<f64>,
    /// Mark implied volatility, fraction.
    pub(crate) iv: Vec<f64>,
    /// Time to expiry at the last revaluation, years.
    pub(crate) t_years: Vec<f64>,
    zeros: Vec<f64>,
    /// Black-76 price at the last revaluation, USD per contract.
    pub(crate) price: Vec<f64>,
    /// Delta per contract at the last revaluation (0 when stale).
    pub delta: Vec<f64>,
    /// Gamma per contract at the last revaluation (0 when stale).
    pub gamma: Vec<f64>,
    vega: Vec<f64>,
    theta: Vec<f64>,
    status: Vec<LaneStatus>,
    /// Options without a usable ticker or lane at the last revaluation.
    pub stale: usize,
}

impl HeldBook {
    /// The book of `spec.options`, each with its factor and the account holding it.
    ///
    /// # Errors
    /// A [`SpecError`] naming `portfolio.options[i]` for a name that is not a Deribit option, an
    /// unknown factor, a non-finite quantity or an account that cannot hold it.
    pub fn new(spec: &PortfolioSpec) -> Result<Self, SpecError> {
        let mut b = Self::default();
        for (i, o) in spec.options.iter().enumerate() {
            let key = |k: &str| format!("portfolio.options[{i}].{k}");
            let inst = parse_name(&o.symbol)
                .filter(|x| x.kind == InstrumentKind::Option)
                .ok_or_else(|| SpecError {
                    key: key("symbol"),
                    message: format!("`{}` is not a Deribit option name", o.symbol),
                })?;
            let factor = spec
                .factors
                .iter()
                .position(|f| f.name == o.factor)
                .ok_or_else(|| SpecError {
                    key: key("factor"),
                    message: format!("no factor `{}`", o.factor),
                })?;
            if !o.qty.is_finite() {
                return Err(SpecError {
                    key: key("qty"),
                    message: "not finite".into(),
                });
            }
            b.factor.push(factor);
            b.qty.push(o.qty);
            b.account.push(spec.option_account(i)?);
            b.strike.push(inst.strike_f64());
            b.expiry_ns.push(inst.expiry_ns);
            b.is_call
                .push(inst.option_type == Some(feeds::deribit::instruments::OptionType::Call));
        }
        let n = b.qty.len();
        for v in [
            &mut b.forward,
            &mut b.iv,
            &mut b.t_years,
            &mut b.zeros,
            &mut b.price,
            &mut b.delta,
            &mut b.gamma,
            &mut b.vega,
            &mut b.theta,
        ] {
            *v = vec![0.0; n];
        }
        b.status = vec![LaneStatus::Ok; n];
        b.stale = n;
        Ok(b)
    }

    /// Number of options held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.qty.len()
    }

    /// Whether no option is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.qty.is_empty()
    }

    /// The implied volatility at the money of factor `f`'s options at `now_ns`: the mark IV of
    /// the option whose strike is nearest its forward in log terms (ties: the nearer expiry),
    /// among those with a ticker and at least a day to expiry; `None` without one.
    #[must_use]
    pub fn atm_iv(&self, f: usize, now_ns: u64) -> Option<f64> {
        const DAY_NS: u64 = 86_400_000_000_000;
        let mut best: Option<(f64, u64, f64)> = None;
        for j in 0..self.len() {
            if self.factor[j] != f
                || !(self.forward[j] > 0.0 && self.iv[j] > 0.0)
                || self.expiry_ns[j] < now_ns.saturating_add(DAY_NS)
            {
                continue;
            }
            let m = (self.strike[j] / self.forward[j]).ln().abs();
            let better =
                best.is_none_or(|(bm, be, _)| m < bm || (m == bm && self.expiry_ns[j] < be));
            if better {
                best = Some((m, self.expiry_ns[j], self.iv[j]));
            }
        }
        best.map(|b| b.2)
    }

    /// Option `j`'s mark at the last revaluation, coin per contract (the Black-76 price over the
    /// forward, Deribit's quotation); `None` while it is stale.
    #[must_use]
    pub fn mark_coin(&self, j: usize) -> Option<f64> {
        let ok = self.status.get(j)?.is_ok() && self.forward[j] > 0.0;
        let m = self.price[j] / self.forward[j];
        (ok && m.is_finite()).then_some(m.max(0.0))
    }

    /// Takes option `j`'s ticker (forward and mark IV); `false` when `ev` is not a usable ticker.
    pub fn on_ticker(&mut self, j: usize, ev: &MarketEvent) -> bool {
        let Some(t) = read_option_ticker(ev) else {
            return false;
        };
        if !(t.underlying_px > 0.0 && t.underlying_px.is_finite() && t.mark_iv.is_finite()) {
            return false;
        }
        self.forward[j] = t.underlying_px;
        // The feed already turned Deribit's percent into a fraction.
        self.iv[j] = t.mark_iv.max(0.0);
        true
    }

    /// Revalues every option at `now_ns` (one SIMD batch).
    pub fn revalue(&mut self, now_ns: u64) {
        if self.is_empty() {
            return;
        }
        for (t, e) in self.t_years.iter_mut().zip(&self.expiry_ns) {
            *t = e.saturating_sub(now_ns) as f64 / NS_PER_YEAR;
        }
        // Options without a ticker have forward 0: their lanes are refused and count zero.
        let inp = BatchInputs {
            model: Model::Black76,
            underlying: &self.forward,
            strike: &self.strike,
            t_years: &self.t_years,
            vol: &self.iv,
            rate: &self.zeros,
            carry_q: &[],
            is_call: &self.is_call,
        };
        let mut out = BatchOutputs {
            price: &mut self.price,
            delta: &mut self.delta,
            gamma: &mut self.gamma,
            vega: &mut self.vega,
            theta: &mut self.theta,
            rho: &mut [],
            vanna: &mut [],
            volga: &mut [],
            status: &mut self.status,
        };
        if greeks_batch(&inp, Tier::PriceAnd4, &mut out).is_err() {
            self.delta.fill(0.0);
            self.gamma.fill(0.0);
            // No lane was valued: none has a mark either.
            self.status.fill(LaneStatus::BadUnderlying);
            self.stale = self.len();
            return;
        }
        self.stale = 0;
        for j in 0..self.len() {
            let ok = self.status[j].is_ok()
                && self.forward[j] > 0.0
                && self.delta[j].is_finite()
                && self.gamma[j].is_finite();
            if !ok {
                self.delta[j] = 0.0;
                self.gamma[j] = 0.0;
                self.stale += 1;
            }
        }
    }
}
