//! The seam where sizing models plug into the kernel, and the foundation's model: volatility
//! targeting of one instrument from an EWMA forecast of mid-price returns.
//!
//! A [`Sizer`] sees one tick at a time (a valid book's touch, the position and the working
//! quantity) and answers with a [`Target`] position and the reason for it, or `None` to leave the
//! position alone. The kernel turns a target into a resize order. The Greeks kernel and the full
//! sizing policies of `risk-core` plug in here as further `Sizer`s.

use feeds::{Instrument, MarketEvent};
use risk_core::margin::Contract;
use risk_core::policy::{self, BaseModel, Constraint, SizingInputs, SizingPolicy};
use risk_core::vol::Ewma;
use risk_core::vol_target::VolTarget;

use crate::order::{Binding, Reason};

/// What a sizer sees on each tick of a valid book. Prices and quantities are in base/quote units
/// (`f64` starts here, at the kernel's edge).
#[derive(Debug, Clone, Copy)]
pub struct TickView<'a> {
    /// The event that triggered this tick.
    pub event: &'a MarketEvent,
    /// The instrument.
    pub instrument: &'a Instrument,
    /// Best bid price.
    pub bid_px: f64,
    /// Best ask price.
    pub ask_px: f64,
    /// Mid price.
    pub mid_px: f64,
    /// Filled position, base units (signed).
    pub position_qty: f64,
    /// Working (sent, not yet reported) quantity, base units (signed).
    pub working_qty: f64,
}

/// A sizer's answer: the position it wants and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Target position, base units (signed). Always finite.
    pub qty: f64,
    /// The model that set it.
    pub reason: Reason,
    /// The constraint that bound it.
    pub binding: Binding,
    /// The annualized volatility forecast behind it.
    pub vol_forecast: f64,
}

/// A sizing model the kernel calls on every tick of a valid book. Must not allocate, lock or do I/O.
pub trait Sizer: Send {
    /// The target position for this tick, or `None` to leave the position as it is (inside the
    /// hysteresis band, not warmed up, not this sizer's instrument...). Never returns a non-finite
    /// quantity.
    fn on_tick(&mut self, view: &TickView<'_>) -> Option<Target>;
}

/// Configuration of [`VolTargetSizer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolTargetConfig {
    /// Capital in quote currency.
    pub capital: f64,
    /// Target volatility, bounds and hysteresis band.
    pub target: VolTarget,
    /// EWMA decay per sample.
    pub ewma_lambda: f64,
    /// Sampling interval of mid-price returns, ns of event (receive) time.
    pub sample_interval_ns: u64,
    /// Samples averaged to seed the EWMA before the first decision.
    pub warmup_samples: u32,
    /// +1 to hold a long position, −1 a short one.
    pub direction: f64,
}

const NS_PER_YEAR: f64 = 365.25 * 86_400.0 * 1e9;

/// Volatility targeting of one instrument: target notional = capital × target vol / forecast vol,
/// clamped to `[min_leverage, max_leverage]` × capital, acted upon only outside the band — a
/// [`SizingPolicy`] with the vol-target base model ([`BaseModel::VolTarget`]) and, optionally,
/// further constraints ([`VolTargetSizer::with_constraints`]). The order's
/// [`Binding`] is the decision's ([`Binding::of_decision`]).
///
/// Returns are log returns of the mid sampled every `sample_interval_ns` of receive time; when
/// several intervals elapsed since the last sample, the return is divided by √(intervals) so the
/// EWMA keeps a per-interval variance. Annualized vol = √(variance × intervals per year).
#[derive(Debug, Clone)]
pub struct VolTargetSizer {
    cfg: VolTargetConfig,
    instrument: feeds::InstrumentId,
    ewma: Ewma,
    last_sample_ns: u64,
    last_mid: f64,
    periods_per_year: f64,
    policy: SizingPolicy,
    /// The last decision (kept here: no copy of the step records per tick).
    decision: policy::Decision,
}

impl VolTargetSizer {
    /// A sizer for `instrument`. Returns `None` when the EWMA λ is outside (0, 1) or the interval is
    /// zero.
    #[must_use]
    pub fn new(instrument: feeds::InstrumentId, cfg: VolTargetConfig) -> Option<Self> {
        Self::with_constraints(instrument, cfg, &[])
    }

    /// A sizer whose vol-target base is further limited by `chain` (positions in base units of
    /// a linear instrument, at the mid; start-up). Returns `None` as [`VolTargetSizer::new`] does,
    /// and when the policy refuses the target's or the chain's parameters.
    #[must_use]
    pub fn with_constraints(
        instrument: feeds::InstrumentId,
        cfg: VolTargetConfig,
        chain: &[Constraint],
    ) -> Option<Self> {
        if cfg.sample_interval_ns == 0 {
            return None;
        }
        let ewma = Ewma::new(cfg.ewma_lambda, cfg.warmup_samples)?;
        let policy =
            SizingPolicy::new(Contract::Linear, BaseModel::VolTarget(cfg.target), chain).ok()?;
        Some(Self {
            cfg,
            instrument,
            ewma,
            last_sample_ns: 0,
            last_mid: 0.0,
            periods_per_year: NS_PER_YEAR / cfg.sample_interval_ns as f64,
            policy,
            decision: policy::Decision::default(),
        })
    }

    /// The decision behind the last target (or the last held position).
    #[must_use]
    pub fn last_decision(&self) -> &policy::Decision {
        &self.decision
    }

    /// Current annualized volatility forecast, once warmed up.
    #[must_use]
    pub fn vol_forecast(&self) -> Option<f64> {
        self.ewma
            .variance()
            .map(|v| (v * self.periods_per_year).sqrt())
    }

    fn sample(&mut self, now_ns: u64, mid: f64) {
        if self.last_mid <= 0.0 {
            self.last_mid = mid;
            self.last_sample_ns = now_ns;
            return;
        }
        let elapsed = now_ns.saturating_sub(self.last_sample_ns);
        if elapsed < self.cfg.sample_interval_ns {
            return;
        }
        let intervals = (elapsed / self.cfg.sample_interval_ns) as f64;
        let r = (mid / self.last_mid).ln() / intervals.sqrt();
        self.ewma.update(r);
        self.last_mid = mid;
        self.last_sample_ns += (intervals as u64) * self.cfg.sample_interval_ns;
    }
}

impl Sizer for VolTargetSizer {
    fn on_tick(&mut self, v: &TickView<'_>) -> Option<Target> {
        if v.event.instrument != self.instrument || !(v.mid_px.is_finite() && v.mid_px > 0.0) {
            return None;
        }
        self.sample(v.event.recv_ns, v.mid_px);
        let vol = self.vol_forecast()?;
        let x = SizingInputs {
            capital: self.cfg.capital,
            collateral: self.cfg.capital,
            mark_px: v.mid_px,
            current_qty: v.position_qty + v.working_qty,
            direction: self.cfg.direction,
            forecast_vol: vol,
            ..SizingInputs::default()
        };
        // A refusal (no usable forecast, a non-finite target) leaves the position alone.
        self.policy.evaluate_into(&x, &mut self.decision).ok()?;
        let d = &self.decision;
        // Inside the hysteresis band nothing is sized.
        if d.base_held {
            return None;
        }
        Some(Target {
            qty: d.target_qty,
            reason: Reason::VolTarget,
            binding: Binding::of_decision(d),
            vol_forecast: vol,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use feeds::{EventKind, InstrumentId, Market, Registry};

    fn cfg() -> VolTargetConfig {
        VolTargetConfig {
            capital: 1_000_000.0,
            target: VolTarget {
                target_vol: 0.2,
                min_leverage: 0.0,
                max_leverage: 2.0,
                band: 0.1,
            },
            ewma_lambda: 0.9,
            sample_interval_ns: 1_000_000_000,
            warmup_samples: 3,
            direction: 1.0,
        }
    }

    #[test]
    fn targets_capital_times_vol_ratio_after_warmup() {
        let mut reg = Registry::new();
        let id = reg.register("BTCUSDT", Market::BinanceSpot, 8, 8);
        let inst = reg.get(id).unwrap().clone();
        let mut s = VolTargetSizer::new(id, cfg()).unwrap();
        let mids = [100.0, 101.0, 100.0, 101.0, 100.0];
        let mut last = None;
        for (i, m) in mids.iter().enumerate() {
            let ev = MarketEvent::new(EventKind::Bbo, id, i as u64 * 1_000_000_000);
            let v = TickView {
                event: &ev,
                instrument: &inst,
                bid_px: *m,
                ask_px: *m,
                mid_px: *m,
                position_qty: 0.0,
                working_qty: 0.0,
            };
            last = s.on_tick(&v);
        }
        let t = last.expect("warmed up after 3 samples");
        let vol = s.vol_forecast().unwrap();
        let want = 1_000_000.0 * (0.2 / vol).min(2.0) / 100.0;
        assert!((t.qty - want).abs() < 1e-9 * want);
        assert_eq!(t.reason, Reason::VolTarget);
        // Inside the band: no new target.
        let ev = MarketEvent::new(EventKind::Bbo, InstrumentId(0), 5_000_000_000);
        let v = TickView {
            event: &ev,
            instrument: &inst,
            bid_px: 100.0,
            ask_px: 100.0,
            mid_px: 100.0,
            position_qty: t.qty,
            working_qty: 0.0,
        };
        assert!(s.on_tick(&v).is_none());
    }
}
