//! Execution allocation: one factor's trade split across the instruments that carry it.
//!
//! The trade is the factor's target exposure minus its net exposure across every venue (so an
//! option book or a coin collateral on one venue is hedged on another). Instruments are taken in
//! order of cost for the trade's side — half spread, taker fee and the funding a perpetual pays
//! over the holding horizon, in bps — and each is offered the whole remaining trade. Its own
//! constraint chain, evaluated by [`risk_core::policy`] (the one constraint system of every
//! kernel), cuts what it may take: its largest notional, the factor's net-delta limit, its
//! account's room under its margin model — Binance's tiered maintenance margin (liquidation
//! buffer under cross margin, the account's other positions held, and a margin-ratio ceiling)
//! or Deribit's standard margin (initial margin within the available balance, maintenance within
//! the margin-ratio ceiling, no liquidation within the buffer on either side) — the book's
//! liquidity within the slippage limit, the minimum trade and the lot. Spot instruments first
//! clip to the account's cash (buys) and holdings (sells: no short). What the instrument cannot
//! take is offered to the next one; what none can take is left (the record's
//! `planned_exposure` says how much).

use engine::order::{Binding, Order, Reason};
use feeds::{MarketEvent, Side};
use risk_core::greeks_limits::PortfolioGreeks;
use risk_core::liquidity::Level;
use risk_core::margin::Contract;
use risk_core::policy::{
    BaseModel, Binding as PolicyBinding, BookView, Constraint, ConstraintKind, SizingInputs,
    SizingPolicy,
};

use crate::allocate::FactorBinding;
use crate::kernel::PortfolioKernel;
use crate::record::RebalanceSink;
use crate::spec::{AccountKind, Policy};
use crate::state::Inst;

/// Cost of trading `x` on `side` now, bps of the mid.
fn cost_bps(x: &Inst, buy: bool, horizon_days: f64) -> f64 {
    let mid = x.mid();
    let half_spread = if mid > 0.0 {
        0.5 * (x.ask - x.bid) / mid * 1e4
    } else {
        f64::INFINITY
    };
    let funding = x.funding_bps_per_day * horizon_days;
    half_spread + x.fee * 1e4 + if buy { funding } else { -funding }
}

/// Instrument `x`'s constraint chain (built once; the base and the minimum trade are set per
/// decision) and the index of its minimum-trade step.
pub(crate) fn instrument_policy(
    x: &Inst,
    acc: &crate::state::Account,
    max_delta: f64,
) -> Result<(SizingPolicy, u8), risk_core::policy::PolicyError> {
    let mult = x.multiplier;
    let mut chain = [Constraint::MaxNotional { max: 0.0 }; 6];
    let mut n = 0;
    if x.max_notional.is_finite() {
        chain[n] = Constraint::MaxNotional {
            max: x.max_notional,
        };
        n += 1;
    }
    if max_delta.is_finite() {
        chain[n] = Constraint::DeltaLimit { max_abs: max_delta };
        n += 1;
    }
    match acc.kind {
        AccountKind::Margin => {
            chain[n] = Constraint::LiquidationBuffer {
                tiers: acc.tiers,
                k: acc.liq_k,
                horizon_years: acc.horizon_years,
                max_margin_ratio: acc.max_margin_ratio,
            };
            n += 1;
        }
        AccountKind::Deribit => {
            chain[n] = Constraint::DeribitMargin {
                rates: acc.deribit,
                k: acc.liq_k,
                horizon_years: acc.horizon_years,
                max_margin_ratio: acc.max_margin_ratio,
            };
            n += 1;
        }
        AccountKind::Spot => {}
    }
    chain[n] = Constraint::Liquidity {
        max_slippage_bps: x.max_slippage_bps,
        impact: None,
    };
    n += 1;
    let min_step = n as u8;
    chain[n] = Constraint::MinTradeSize { min_qty: 0.0 };
    n += 1;
    chain[n] = Constraint::LotRounding { lot: x.lot * mult };
    n += 1;
    let p = SizingPolicy::new(x.contract, BaseModel::Fixed { qty: 0.0 }, &chain[..n])?;
    Ok((p, min_step))
}

/// The order's binding for a factor-level binding.
fn factor_order_binding(b: FactorBinding) -> Binding {
    match b {
        FactorBinding::Model | FactorBinding::Masked => Binding::Model,
        FactorBinding::VolTarget => Binding::VolCeiling,
        FactorBinding::FactorCap => Binding::FactorCap,
        FactorBinding::GrossLeverage => Binding::GrossLeverage,
        FactorBinding::NetLeverage => Binding::NetLeverage,
    }
}

impl<S: RebalanceSink> PortfolioKernel<S> {
    /// Splits factor `f`'s trade across its instruments and emits their orders (see the module
    /// docs).
    pub(crate) fn split_factor(
        &mut self,
        f: usize,
        seq: u64,
        ev: &MarketEvent,
        t_ingest: u64,
        emit: &mut impl FnMut(Order),
    ) {
        let target = self.rec.factors[f].target_exposure;
        let (net, net_delta) = (self.net_usd[f], self.net_delta[f]);
        let mut remaining = target - net;
        let buy = remaining > 0.0;
        let horizon = self.spec.horizon_days;
        // Instruments of f by cost (ties: spec order), in the preallocated index buffer. Unstable
        // sort with the index as the last key: a total order, so deterministic, and no buffer
        // allocated.
        let m = self.by_factor[f].len();
        self.order_idx[..m].copy_from_slice(&self.by_factor[f]);
        let insts = &self.insts;
        self.order_idx[..m].sort_unstable_by(|&a, &b| {
            cost_bps(&insts[a], buy, horizon)
                .partial_cmp(&cost_bps(&insts[b], buy, horizon))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        let mut delta_now = net_delta;
        for o in 0..m {
            let i = self.order_idx[o];
            let x = &self.insts[i];
            let current = x.pos + x.working();
            let row_cost = cost_bps(x, buy, horizon);
            self.rec.instruments[i].cost_bps = row_cost;
            self.rec.instruments[i].position_qty = current;
            self.rec.instruments[i].target_qty = current;
            if !x.live {
                continue;
            }
            let unit = x.unit_exposure();
            if !(unit > 0.0 && unit.is_finite()) {
                continue;
            }
            // Less than half a lot left: no order can carry it (it stays in the record's
            // planned_exposure).
            if remaining.abs() < 0.5 * x.lot * unit {
                continue;
            }
            let proposed = current + remaining / unit;
            let Some((target_qty, binding)) = self.constrain(i, f, proposed, current, delta_now)
            else {
                continue;
            };
            let x = &self.insts[i];
            let trade = target_qty - current;
            remaining -= trade * unit;
            let (d_before, d_after) = match x.contract {
                Contract::Linear => (current * x.multiplier, target_qty * x.multiplier),
                Contract::Inverse => (
                    current * x.multiplier / x.mid(),
                    target_qty * x.multiplier / x.mid(),
                ),
            };
            delta_now += d_after - d_before;
            let row = &mut self.rec.instruments[i];
            row.target_qty = target_qty;
            row.binding = binding.as_str();
            let factor_binding = self.rec.factors[f].binding;
            let order_binding = if binding == Binding::Model {
                factor_order_binding(factor_binding)
            } else {
                binding
            };
            if let Some(order) = self.order(
                i,
                trade,
                target_qty,
                current,
                order_binding,
                seq,
                ev,
                t_ingest,
            ) {
                self.rec.instruments[i].order_id = order.id;
                self.rec.instruments[i].order_qty = trade;
                if order_binding != Binding::Model {
                    self.rec.instruments[i].binding = order_binding.as_str();
                }
                emit(order);
            }
        }
        self.rec.factors[f].planned_exposure = target - remaining;
    }

    /// Instrument `i`'s allowed target for a `proposed` one, and the binding step: the spot
    /// balance clip, then the policy chain. `None` when the policy declines (invalid inputs).
    fn constrain(
        &mut self,
        i: usize,
        f: usize,
        proposed: f64,
        current: f64,
        factor_delta: f64,
    ) -> Option<(f64, Binding)> {
        let x = &self.insts[i];
        let acc = &self.accounts[x.account];
        let mid = x.mid();
        let mult = x.multiplier;
        let mut base = proposed;
        let mut pre_binding = Binding::Model;
        if acc.kind == AccountKind::Spot {
            // No short; buys paid from cash including the fee.
            let max_buy = (acc.wallet / (x.ask * mult * (1.0 + x.fee))).max(0.0);
            let (lo, hi) = (0.0, current + max_buy);
            if base < lo || base > hi {
                base = base.clamp(lo, hi);
                pre_binding = Binding::SpotBalance;
            }
        }
        // Policy units: base units (linear) or quote face value (inverse).
        let unit_delta = match x.contract {
            Contract::Linear => 1.0,
            Contract::Inverse => 1.0 / mid,
        };
        let own_delta = current * mult * unit_delta;
        let collateral = if acc.kind == AccountKind::Spot {
            0.0
        } else {
            // Wallet plus every position's PnL and option value (its own too: the policy opens
            // the position at the mark) minus the other positions' margin — maintenance under
            // Binance's model, initial under Deribit's (its available balance) — and what this
            // rebalance's earlier decisions on the account committed.
            let m = &self.margins[x.account];
            let own = crate::state::room_margin_at_mid(x, acc, current);
            m.equity - (m.initial - own) - self.committed[x.account]
        };
        let min_qty = match x.contract {
            Contract::Linear => x.min_notional / mid,
            Contract::Inverse => x.min_notional,
        };
        let vol = self.vol(f);
        let (mult_buy, mult_sell) = match self.forecasts.get_mut(i) {
            Some(fc) => {
                fc.advance_to(self.rec.recv_ns);
                (
                    fc.multiplier(risk_core::liquidity::TradeSide::Buy),
                    fc.multiplier(risk_core::liquidity::TradeSide::Sell),
                )
            }
            None => (1.0, 1.0),
        };
        self.rec.instruments[i].flow_multiplier = if proposed >= current {
            mult_buy
        } else {
            mult_sell
        };
        let (policy, min_step) = &mut self.policies[i];
        policy.base = BaseModel::Fixed { qty: base * mult };
        policy.set_min_trade(usize::from(*min_step), min_qty).ok()?;
        let bids = [Level {
            px: x.bid,
            qty: x.bid_qty * mult,
        }];
        let asks = [Level {
            px: x.ask,
            qty: x.ask_qty * mult,
        }];
        let inputs = SizingInputs {
            capital: self.spec.capital,
            collateral,
            mark_px: mid,
            current_qty: current * mult,
            forecast_vol: vol,
            other_greeks: PortfolioGreeks {
                delta: factor_delta - own_delta,
                gamma: 0.0,
                vega_per_vol_point: 0.0,
            },
            unit_greeks: PortfolioGreeks {
                delta: unit_delta,
                gamma: 0.0,
                vega_per_vol_point: 0.0,
            },
            book: Some(BookView {
                bids: &bids,
                asks: &asks,
            }),
            flow_multiplier_buy: mult_buy,
            flow_multiplier_sell: mult_sell,
            ..SizingInputs::default()
        };
        let d = &mut self.decision;
        policy.evaluate_into(&inputs, d).ok()?;
        let t = d.target_qty / mult;
        if !t.is_finite() {
            self.pstats.non_finite += 1;
            return None;
        }
        if acc.kind != AccountKind::Spot {
            self.committed[x.account] += crate::state::room_margin_at_mid(x, acc, t)
                - crate::state::room_margin_at_mid(x, acc, current);
        }
        // The limit that bound the size, when one did; else the minimum trade when it stopped the
        // trade; lot rounding alone only trims a size the model set, so the model keeps the
        // credit (the record's steps still show the rounding).
        let binding = match (d.binding_limit, d.binding) {
            (PolicyBinding::Constraint { kind, .. }, _) => Binding::from_kind(kind),
            (
                PolicyBinding::Base,
                PolicyBinding::Constraint {
                    kind: ConstraintKind::MinTradeSize,
                    ..
                },
            ) => Binding::MinTradeSize,
            _ => pre_binding,
        };
        Some((t, binding))
    }

    /// The resize order moving instrument `i` by `trade` units (`None`: rounds to nothing).
    #[allow(clippy::too_many_arguments)]
    fn order(
        &mut self,
        i: usize,
        trade: f64,
        target_qty: f64,
        current: f64,
        binding: Binding,
        seq: u64,
        ev: &MarketEvent,
        t_ingest: u64,
    ) -> Option<Order> {
        let x = &mut self.insts[i];
        let raw = trade * feeds::registry::POW10[usize::from(x.qty_scale)] as f64;
        if !raw.is_finite() || raw.abs() >= 9.0e18 {
            self.pstats.non_finite += 1;
            return None;
        }
        let qty = raw.abs().round() as i64;
        if qty == 0 {
            return None;
        }
        let (side, limit_px, touch_qty) = if trade > 0.0 {
            (Side::Buy, x.ask_m, x.ask_qm)
        } else {
            (Side::Sell, x.bid_m, x.bid_qm)
        };
        let reason = match self.spec.policy {
            Policy::RiskParity => Reason::RiskParity,
            Policy::Kelly => Reason::Kelly,
            Policy::VolTarget => Reason::PortfolioVolTarget,
        };
        let order = Order {
            id: self.next_order_id,
            recv_ns: ev.recv_ns,
            t_ingest,
            t_push: 0,
            ingest_lag_ns: 0,
            instrument: x.id,
            side,
            reason,
            binding,
            qty,
            limit_px,
            touch_qty,
            target_qty,
            position_qty: x.pos,
            working_qty: current - x.pos,
            vol_forecast: self.rec.factors[x.factor].vol,
            rebalance: seq,
        };
        self.next_order_id += 1;
        x.working_m += if side == Side::Buy { qty } else { -qty };
        self.outstanding += 1;
        self.stats.orders += 1;
        Some(order)
    }
}
