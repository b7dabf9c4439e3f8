//! The sizing pass: the volatility of the liquidation buffer, the scale of the option book
//! under the gamma/vega caps, the liquidation buffer and leverage, the option resizes toward the
//! scaled book, the hedge back inside the delta band, and the [`Decision`] that explains them.
//! The scale and the hedge target are decisions of `risk_core::policy` (the engine's two
//! [`SizingPolicy`](risk_core::policy::SizingPolicy)s); what is left here turns them into lots
//! and orders. No allocation.

use feeds::{MarketEvent, Side};
use risk_core::greeks_limits::PortfolioGreeks;
use risk_core::margin::Contract;
use risk_core::policy::SizingInputs;

use crate::{Constraint, Decision, OptionsEngine, OptionsOrder, OptionsSink, VolSource};
use crate::{BOOK_STEPS, HEDGE_STEPS};

/// The volatilities a sizing pass reads, annualized (`None`: not available).
#[derive(Debug, Clone, Copy)]
struct Vols {
    /// The EWMA forecast.
    forecast: Option<f64>,
    /// The GARCH(1,1) forecast over the buffer horizon.
    garch: Option<f64>,
    /// The implied volatility at the buffer horizon (computed when a source or the surface
    /// needs it).
    implied: Option<f64>,
}

/// The scale applied to the desired option book and what each constraint allows.
#[derive(Debug, Clone, Copy)]
struct BookScale {
    /// Scale allowed by the gamma/vega caps.
    gamma_vega: f64,
    /// Scale allowed by the liquidation buffer.
    liquidation: f64,
    /// Scale allowed by the leverage cap.
    leverage: f64,
    /// Largest |hedge delta| the liquidation buffer allows on the desired book's hedge side.
    max_hedge_delta_liquidation: f64,
    /// Largest |hedge delta| the leverage cap allows.
    max_hedge_delta_leverage: f64,
    /// Applied scale: the smallest of the three, at most 1.
    scale: f64,
    /// Constraint that set the scale (`Model` when 1).
    binding: Constraint,
}

/// What the hedge step of a pass did.
#[derive(Debug, Clone, Copy)]
struct HedgeStep {
    /// Liquidity cap (lots) for the side traded, or −1 when no hedge trade was needed.
    cap_lots: i64,
    /// Hedge target, lots (position + working when no order was sent).
    target_lots: i64,
    /// Whether an order was sent.
    sent: bool,
}

impl OptionsEngine {
    /// Delta of `lots` of the hedge, underlying units.
    fn hedge_delta(&self, lots: i64) -> f64 {
        let q = lots as f64 * self.hedge.lot_qty;
        match self.hedge.contract {
            Contract::Linear => q,
            Contract::Inverse => q / self.spot_px,
        }
    }

    /// Greeks of the options at position + working lots and of the desired book, in one pass
    /// over the active options.
    fn option_greeks_pair(&self) -> (PortfolioGreeks, PortfolioGreeks) {
        let c = &self.chain;
        let (mut cur, mut want) = (PortfolioGreeks::default(), PortfolioGreeks::default());
        for &i in &self.active {
            let i = i as usize;
            let (l, d) = (c.position_lots[i] + c.working_lots[i], self.desired_lots[i]);
            if (l == 0 && d == 0) || !c.status[i].is_ok() {
                continue;
            }
            let (dl, gl, vl) = (
                c.lot_qty[i] * c.delta[i],
                c.lot_qty[i] * c.gamma[i],
                c.lot_qty[i] * c.vega[i] * 0.01,
            );
            let (l, d) = (l as f64, d as f64);
            cur.delta += l * dl;
            cur.gamma += l * gl;
            cur.vega_per_vol_point += l * vl;
            want.delta += d * dl;
            want.gamma += d * gl;
            want.vega_per_vol_point += d * vl;
        }
        (cur, want)
    }

    /// What the policies read on this pass besides the Greeks: the collateral at the hedge's
    /// mark and the buffer's volatility.
    fn policy_inputs(&self, vol: f64) -> SizingInputs<'static> {
        let value = self.cfg.collateral_coin * self.spot_px;
        SizingInputs {
            capital: value,
            collateral: match self.hedge.contract {
                Contract::Inverse => self.cfg.collateral_coin,
                Contract::Linear => value,
            },
            mark_px: self.spot_px,
            forecast_vol: vol,
            ..SizingInputs::default()
        }
    }

    #[allow(clippy::too_many_arguments)] // private helper: each argument is one order field
    fn emit(
        &mut self,
        sink: &mut impl OptionsSink,
        ev: &MarketEvent,
        t_ingest: u64,
        hedge: Option<usize>,
        trade_lots: i64,
        limit_px: f64,
        reason: Constraint,
        binding: Constraint,
    ) {
        let (instrument, pos, work, lot) = match hedge {
            None => (
                self.hedge.instrument,
                self.hedge_position_lots,
                self.hedge_working_lots,
                self.hedge.lot_qty,
            ),
            Some(i) => (
                self.chain.instrument[i],
                self.chain.position_lots[i],
                self.chain.working_lots[i],
                self.chain.lot_qty[i],
            ),
        };
        let o = OptionsOrder {
            id: self.next_order_id,
            recv_ns: ev.recv_ns,
            t_ingest,
            instrument,
            is_hedge: hedge.is_none(),
            side: if trade_lots > 0 {
                Side::Buy
            } else {
                Side::Sell
            },
            qty_lots: trade_lots.abs(),
            qty: trade_lots.abs() as f64 * lot,
            limit_px,
            reason,
            binding,
            target_lots: pos + work + trade_lots,
            position_lots: pos,
            working_lots: work,
        };
        self.next_order_id += 1;
        match hedge {
            None => self.hedge_working_lots += trade_lots,
            Some(i) => self.chain.working_lots[i] += trade_lots,
        }
        self.stats.orders += 1;
        sink.order(&o);
    }

    /// One sizing pass after an event that changed what the book is worth: orders and, when
    /// any was sent, their decision go to `sink`.
    pub(crate) fn size(&mut self, ev: &MarketEvent, t_ingest: u64, sink: &mut impl OptionsSink) {
        if !(self.hedge_valid && self.spot_px > 0.0) {
            self.stats.skipped += 1;
            return;
        }
        let vols = self.vols(ev.recv_ns);
        let Some(vol) = self
            .buffer_vol(&vols)
            .filter(|v| v.is_finite() && *v >= 0.0)
        else {
            self.stats.skipped += 1;
            return;
        };
        self.stats.sizing_passes += 1;
        let hedge_cur = self.hedge_position_lots + self.hedge_working_lots;
        let (before_opt, desired) = self.option_greeks_pair();
        let mut before = before_opt;
        before.delta += self.hedge_delta(hedge_cur);

        let scale = self.book_scale(&desired, vol);
        let mut opt_after = before_opt;
        let mut orders = self.resize_options(sink, ev, t_ingest, &scale, &mut opt_after);
        let hedge = self.hedge_to_band(sink, ev, t_ingest, opt_after.delta, hedge_cur, vol);
        orders += u32::from(hedge.sent);
        if orders == 0 {
            return;
        }
        let mut after = opt_after;
        after.delta += self.hedge_delta(hedge.target_lots);
        let (forward_lo, forward_hi) = self.forward_range();
        let d = Decision {
            recv_ns: ev.recv_ns,
            trigger: ev.instrument,
            underlying_px: self.spot_px,
            vol_forecast: vols.forecast.unwrap_or(f64::NAN),
            vol_garch: vols.garch.unwrap_or(f64::NAN),
            vol_implied: vols.implied.unwrap_or(f64::NAN),
            vol_used: vol,
            forward_lo,
            forward_hi,
            before,
            after,
            desired,
            delta_band: self.cfg.delta_band,
            max_abs_gamma: self.cfg.max_abs_gamma,
            max_abs_vega: self.cfg.max_abs_vega_per_vol_point,
            scale_gamma_vega: scale.gamma_vega,
            scale_liquidation: scale.liquidation,
            scale_leverage: scale.leverage,
            scale: scale.scale,
            scale_binding: scale.binding,
            max_hedge_delta_liquidation: scale.max_hedge_delta_liquidation,
            max_hedge_delta_leverage: scale.max_hedge_delta_leverage,
            hedge_liquidity_cap_lots: hedge.cap_lots,
            hedge_lots_before: hedge_cur,
            hedge_lots_after: hedge.target_lots,
            orders,
        };
        self.stats.decisions += 1;
        sink.decision(&d);
    }

    /// The forecasts at hand and, when a source or the surface needs it, the implied volatility
    /// at the buffer horizon.
    fn vols(&self, now_ns: u64) -> Vols {
        let needs_iv = !matches!(self.cfg.vol_source, VolSource::Forecast | VolSource::Garch);
        Vols {
            forecast: self.vol_forecast(),
            garch: self.vol_garch(),
            implied: if needs_iv || self.surface.is_some() {
                self.implied_vol_for_buffer(now_ns)
            } else {
                None
            },
        }
    }

    /// The volatility of the liquidation buffer from the configured source.
    fn buffer_vol(&self, v: &Vols) -> Option<f64> {
        let blend = |f: Option<f64>, w: f64| match (f, v.implied) {
            (Some(f), Some(i)) => Some(w * f + (1.0 - w) * i),
            _ => None,
        };
        match self.cfg.vol_source {
            VolSource::Forecast => v.forecast,
            VolSource::Implied => v.implied,
            VolSource::Blend { forecast_weight: w } => blend(v.forecast, w),
            VolSource::Garch => v.garch,
            VolSource::GarchBlend { forecast_weight: w } => blend(v.garch, w),
        }
    }

    /// The scale of the `desired` option book: the book policy's decision on one unit of the
    /// book (the smallest of what the gamma/vega caps, the liquidation buffer (at `vol`) of the
    /// hedge that would neutralize its delta and the leverage cap allow, at most 1), with each
    /// step's value for the decision log.
    fn book_scale(&mut self, desired: &PortfolioGreeks, vol: f64) -> BookScale {
        let x = SizingInputs {
            unit_greeks: *desired,
            other_greeks: PortfolioGreeks::default(),
            current_qty: 0.0,
            ..self.policy_inputs(vol)
        };
        let d = &mut self.book_decision;
        if self.book_policy.evaluate_into(&x, d).is_err() {
            // Greeks or a margin input the policy refuses: no option is added or kept.
            return BookScale {
                gamma_vega: 0.0,
                liquidation: 0.0,
                leverage: 0.0,
                max_hedge_delta_liquidation: 0.0,
                max_hedge_delta_leverage: self.cfg.max_leverage * self.cfg.collateral_coin,
                scale: 0.0,
                binding: Constraint::GammaCap,
            };
        }
        let steps = d.steps();
        debug_assert!(steps.iter().map(|r| r.kind).eq(BOOK_STEPS));
        let (vega, liq, lev) = (&steps[1], &steps[2], &steps[3]);
        BookScale {
            gamma_vega: vega.after,
            // The scale is never negative: the upper end is the step's allowance.
            liquidation: liq.hi.min(1.0),
            leverage: lev.hi.min(1.0),
            max_hedge_delta_liquidation: liq.limit,
            max_hedge_delta_leverage: lev.limit,
            scale: d.target_qty,
            binding: Constraint::from_binding(d.binding),
        }
    }

    /// Resizes the active options toward `desired × scale` (cuts at once, increases from
    /// `rebalance_frac` of the desired size, each capped to the touch's liquidity); adds the
    /// orders' Greeks to `opt_after`. Returns the number of orders sent.
    fn resize_options(
        &mut self,
        sink: &mut impl OptionsSink,
        ev: &MarketEvent,
        t_ingest: u64,
        book: &BookScale,
        opt_after: &mut PortfolioGreeks,
    ) -> u32 {
        let (scale, scale_binding) = (book.scale, book.binding);
        let mut orders = 0u32;
        for k in 0..self.active.len() {
            let i = self.active[k] as usize;
            let want = (self.desired_lots[i] as f64 * scale).trunc() as i64;
            let have = self.chain.position_lots[i] + self.chain.working_lots[i];
            if want == have || !self.chain.status[i].is_ok() {
                continue;
            }
            let cut = want.abs() < have.abs()
                || (want != 0 && have != 0 && want.signum() != have.signum());
            let mut trade = want - have;
            if !cut {
                let need =
                    (self.cfg.rebalance_frac * self.desired_lots[i].abs() as f64).ceil() as i64;
                if trade.abs() < need.max(self.chain.min_lots[i]) {
                    continue;
                }
            }
            let c = &self.chain;
            let (touch_px, touch_qty) = if trade > 0 {
                (c.ask_px_coin[i], c.ask_qty[i])
            } else {
                (c.bid_px_coin[i], c.bid_qty[i])
            };
            let (reason, mut binding) = if cut {
                (scale_binding, scale_binding)
            } else {
                // An increase toward the scaled book: the scale's constraint set its size.
                (Constraint::Model, scale_binding)
            };
            let limit_px = if touch_qty > 0.0 && touch_px > 0.0 {
                let cap = (touch_qty * self.cfg.liquidity_frac / c.lot_qty[i]).floor() as i64;
                if trade.abs() > cap {
                    trade = trade.signum() * cap;
                    binding = Constraint::Liquidity;
                }
                touch_px
            } else {
                c.mark_px_coin[i]
            };
            if trade.abs() < c.min_lots[i] || !(limit_px > 0.0) {
                self.stats.below_min += 1;
                continue;
            }
            self.emit(
                sink,
                ev,
                t_ingest,
                Some(i),
                trade,
                limit_px,
                reason,
                binding,
            );
            let (c, q) = (&self.chain, trade as f64 * self.chain.lot_qty[i]);
            opt_after.delta += q * c.delta[i];
            opt_after.gamma += q * c.gamma[i];
            opt_after.vega_per_vol_point += q * c.vega[i] * 0.01;
            orders += 1;
        }
        orders
    }

    /// Brings the delta with the option targets (`opt_delta`) back inside the band by a hedge
    /// order from `hedge_cur` lots: the hedge policy's decision in underlying units (the band,
    /// capped by the liquidation buffer at `vol` and the leverage cap), then lots and the
    /// touch's liquidity.
    fn hedge_to_band(
        &mut self,
        sink: &mut impl OptionsSink,
        ev: &MarketEvent,
        t_ingest: u64,
        opt_delta: f64,
        hedge_cur: i64,
        vol: f64,
    ) -> HedgeStep {
        let hedge_delta_cur = self.hedge_delta(hedge_cur);
        let x = SizingInputs {
            current_qty: hedge_delta_cur,
            other_greeks: PortfolioGreeks {
                delta: opt_delta,
                ..PortfolioGreeks::default()
            },
            unit_greeks: PortfolioGreeks {
                delta: 1.0,
                ..PortfolioGreeks::default()
            },
            ..self.policy_inputs(vol)
        };
        let mut step = HedgeStep {
            cap_lots: -1,
            target_lots: hedge_cur,
            sent: false,
        };
        let d = &mut self.hedge_decision;
        if self.hedge_policy.evaluate_into(&x, d).is_err() {
            return step;
        }
        debug_assert!(d.steps().iter().map(|r| r.kind).eq(HEDGE_STEPS));
        // The hedge trades only when the delta left the band; the caps then limit that trade.
        if !d.steps()[0].changed() {
            return step;
        }
        let mut binding = Constraint::from_binding(d.binding);
        let lots = (d.target_qty - hedge_delta_cur) / self.hedge_delta(1);
        // A band trade rounds away from zero (so delta lands inside the band); a capped one
        // toward zero (so the cap holds).
        let mut trade = if binding == Constraint::DeltaBand {
            let l = lots.abs().ceil().max(self.hedge.min_lots as f64);
            l.copysign(lots) as i64
        } else {
            lots.trunc() as i64
        };
        let touch_qty = if trade > 0 {
            self.ask_qty
        } else {
            self.bid_qty
        };
        let cap_lots = (touch_qty * self.cfg.liquidity_frac / self.hedge.lot_qty).floor() as i64;
        step.cap_lots = cap_lots;
        if trade.abs() > cap_lots {
            trade = trade.signum() * cap_lots;
            binding = Constraint::Liquidity;
        }
        if trade != 0 && trade.abs() >= self.hedge.min_lots {
            let px = if trade > 0 { self.ask_px } else { self.bid_px };
            self.emit(
                sink,
                ev,
                t_ingest,
                None,
                trade,
                px,
                Constraint::DeltaBand,
                binding,
            );
            step.target_lots = hedge_cur + trade;
            step.sent = true;
        } else {
            self.stats.below_min += 1;
        }
        step
    }

    /// Lowest and highest forward the chain's expiries are valued at (`spot × basis`), USD; the
    /// spot itself when no expiry has a basis.
    fn forward_range(&self) -> (f64, f64) {
        let (mut b_lo, mut b_hi) = (f64::INFINITY, 0.0_f64);
        for e in 0..self.chain.expiry_count() {
            let b = self.chain.basis(e);
            b_lo = b_lo.min(b);
            b_hi = b_hi.max(b);
        }
        if b_hi > 0.0 {
            (self.spot_px * b_lo, self.spot_px * b_hi)
        } else {
            (self.spot_px, self.spot_px)
        }
    }
}
