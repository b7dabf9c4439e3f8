//! Instruments and accounts as the kernel keeps them: touch, position, entry price, wallet, and
//! the account's margin arithmetic (equity, maintenance, margin ratio, liquidation distance).
//!
//! Units: an instrument's quantity is in its quantity units (base units for linear contracts and
//! spot, contracts for Binance's inverse contracts, USD of face value for Deribit's futures);
//! `multiplier` turns one unit into base units (linear) or quote face value (inverse). A margin
//! account's wallet is in its currency (USD, or the factor's coin for an inverse or Deribit
//! account); a spot account's wallet is its USD cash.
//!
//! Two margin models: Binance's tiered maintenance margin under cross margin (`margin` accounts:
//! each position's liquidation price with the account's other positions held at their marks),
//! and Deribit's standard margin (`deribit` accounts, [`risk_core::margin::deribit`]): equity is
//! the coin balance plus the futures' PnL plus the held options' mark value, maintenance sums the
//! futures' size-dependent margin and the written options' margin, and the liquidation distance
//! is the smallest move of the underlying — every future and option of the account repriced
//! together — that takes equity down to maintenance.

use feeds::{InstrumentId, Market};
use risk_core::greeks::{greeks, Model, OptionInputs, OptionKind};
use risk_core::margin::deribit::{DeribitFuture, DeribitRates};
use risk_core::margin::{Contract, MarginMode, MarginTiers, Position, Side as PosSide};

use crate::held::HeldBook;
use crate::spec::{AccountKind, InstrumentSpec};

/// One instrument's state.
#[derive(Debug, Clone)]
pub struct Inst {
    /// Global instrument id.
    pub id: InstrumentId,
    /// Market.
    pub market: Market,
    /// Factor index.
    pub factor: usize,
    /// Account index.
    pub account: usize,
    /// Linear or inverse.
    pub contract: Contract,
    /// Base units (linear) or quote face value (inverse) per quantity unit.
    pub multiplier: f64,
    /// Quantity step.
    pub lot: f64,
    /// Smallest order notional, quote.
    pub min_notional: f64,
    /// Taker fee, fraction of notional.
    pub fee: f64,
    /// Funding a long pays per day, bps.
    pub funding_bps_per_day: f64,
    /// Slippage limit, bps.
    pub max_slippage_bps: f64,
    /// Largest |position notional|, quote.
    pub max_notional: f64,
    /// Decimal places of price mantissas.
    pub px_scale: u8,
    /// Decimal places of quantity mantissas.
    pub qty_scale: u8,
    /// Touch: bid and ask price mantissas and displayed quantities.
    pub bid_m: i64,
    /// Ask price mantissa.
    pub ask_m: i64,
    /// Bid quantity mantissa.
    pub bid_qm: i64,
    /// Ask quantity mantissa.
    pub ask_qm: i64,
    /// The touch as numbers.
    pub bid: f64,
    /// Ask price.
    pub ask: f64,
    /// Bid quantity, quantity units.
    pub bid_qty: f64,
    /// Ask quantity, quantity units.
    pub ask_qty: f64,
    /// Whether the book is valid and the touch two-sided and uncrossed.
    pub live: bool,
    /// Position, quantity units.
    pub pos: f64,
    /// Position mantissa (exact).
    pub pos_m: i64,
    /// Working (sent, unreported) quantity mantissa, signed.
    pub working_m: i64,
    /// Average entry price of the open position.
    pub entry: f64,
    /// Realized PnL, account currency.
    pub realized: f64,
    /// Fees paid, account currency.
    pub fees: f64,
}

impl Inst {
    /// A flat instrument of `spec`.
    #[must_use]
    pub fn new(
        spec: &InstrumentSpec,
        id: InstrumentId,
        market: Market,
        (factor, account): (usize, usize),
        (px_scale, qty_scale): (u8, u8),
    ) -> Self {
        Self {
            id,
            market,
            factor,
            account,
            contract: spec.contract,
            multiplier: spec.multiplier,
            lot: spec.lot,
            min_notional: spec.min_notional,
            fee: spec.fee_bps * 1e-4,
            funding_bps_per_day: spec.funding_bps_per_day,
            max_slippage_bps: spec.max_slippage_bps,
            max_notional: spec.max_notional,
            px_scale,
            qty_scale,
            bid_m: 0,
            ask_m: 0,
            bid_qm: 0,
            ask_qm: 0,
            bid: 0.0,
            ask: 0.0,
            bid_qty: 0.0,
            ask_qty: 0.0,
            live: false,
            pos: 0.0,
            pos_m: 0,
            working_m: 0,
            entry: 0.0,
            realized: 0.0,
            fees: 0.0,
        }
    }

    /// Mid price (0 before the first touch).
    #[must_use]
    pub fn mid(&self) -> f64 {
        0.5 * (self.bid + self.ask)
    }

    /// Quantity units of a mantissa.
    #[must_use]
    pub fn qty_of(&self, m: i64) -> f64 {
        m as f64 / feeds::registry::POW10[usize::from(self.qty_scale)] as f64
    }

    /// Working quantity, quantity units.
    #[must_use]
    pub fn working(&self) -> f64 {
        self.qty_of(self.working_m)
    }

    /// Delta in underlying units of the held position (inverse: at its entry price, which is
    /// what its coin PnL follows).
    #[must_use]
    pub fn delta(&self) -> f64 {
        match self.contract {
            Contract::Linear => self.pos * self.multiplier,
            Contract::Inverse if self.entry > 0.0 => self.pos * self.multiplier / self.entry,
            Contract::Inverse => 0.0,
        }
    }

    /// Exposure in USD added by one more quantity unit traded now.
    #[must_use]
    pub fn unit_exposure(&self) -> f64 {
        match self.contract {
            Contract::Linear => self.multiplier * self.mid(),
            Contract::Inverse => self.multiplier,
        }
    }

    /// The position as the margin model sees it (`None` when flat or unpriced).
    #[must_use]
    pub fn margin_position(&self) -> Option<Position> {
        if self.pos == 0.0 || !(self.entry > 0.0) {
            return None;
        }
        Some(Position {
            contract: self.contract,
            side: if self.pos > 0.0 {
                PosSide::Long
            } else {
                PosSide::Short
            },
            entry_px: self.entry,
            qty: self.pos.abs() * self.multiplier,
        })
    }

    /// Unrealized PnL at the mid, account currency.
    #[must_use]
    pub fn unrealized(&self) -> f64 {
        let mid = self.mid();
        if mid > 0.0 {
            self.margin_position()
                .map_or(0.0, |p| p.unrealized_pnl(mid))
        } else {
            0.0
        }
    }

    /// Applies a fill of `qty` units (signed) at `px`: position, entry, realized PnL and fee, in
    /// the account currency. Returns the cash moved for a spot account (negative: paid).
    pub fn apply_fill(&mut self, qty: f64, px: f64) -> f64 {
        let fee_ccy = match self.contract {
            Contract::Linear => qty.abs() * self.multiplier * px * self.fee,
            Contract::Inverse => qty.abs() * self.multiplier / px * self.fee,
        };
        self.fees += fee_ccy;
        let old = self.pos;
        let new = old + qty;
        if old == 0.0 || old.signum() == qty.signum() {
            // Opening or adding: the entry is the quantity-weighted average (inverse: harmonic,
            // so the coin PnL stays exact).
            self.entry = match self.contract {
                Contract::Linear => (old.abs() * self.entry + qty.abs() * px) / new.abs(),
                Contract::Inverse => {
                    let inv = if old == 0.0 {
                        1.0 / px
                    } else {
                        (old.abs() / self.entry + qty.abs() / px) / new.abs()
                    };
                    1.0 / inv
                }
            };
        } else {
            let closed = qty.abs().min(old.abs());
            let per = match self.contract {
                Contract::Linear => (px - self.entry) * self.multiplier,
                Contract::Inverse => (1.0 / self.entry - 1.0 / px) * self.multiplier,
            };
            self.realized += closed * per * old.signum();
            if new == 0.0 {
                self.entry = 0.0;
            } else if new.signum() != old.signum() {
                self.entry = px;
            }
        }
        self.pos = new;
        -qty * self.multiplier * px - fee_ccy
    }
}

/// One account's state and its margin arithmetic.
#[derive(Debug, Clone)]
pub struct Account {
    /// Margin or spot.
    pub kind: AccountKind,
    /// The factor whose coin is the collateral (inverse accounts).
    pub coin: Option<usize>,
    /// Wallet: collateral plus realized PnL minus fees (margin), or cash (spot).
    pub wallet: f64,
    /// Maintenance brackets (`margin` accounts).
    pub tiers: MarginTiers,
    /// Deribit's rates (`deribit` accounts).
    pub deribit: DeribitRates,
    /// Buffer standard deviations.
    pub liq_k: f64,
    /// Buffer horizon, years.
    pub horizon_years: f64,
    /// Highest margin ratio allowed.
    pub max_margin_ratio: f64,
    /// Peak margin ratio seen at a sample.
    pub peak_margin_ratio: f64,
    /// Closest liquidation distance seen at a sample.
    pub min_liq_distance: f64,
}

/// An account's margin figures now.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Margin {
    /// Equity (wallet plus unrealized PnL; spot: cash plus holdings at the mid).
    pub equity: f64,
    /// Sum of maintenance margins.
    pub maintenance: f64,
    /// The margin the account's room for new positions is measured against: Deribit's initial
    /// margin (new positions need `initial ≤ equity`); the maintenance margin for Binance's
    /// model (its room is the liquidation buffer and the margin ratio); 0 for spot.
    pub initial: f64,
    /// Maintenance over equity (∞ when equity ≤ 0 with margin used).
    pub ratio: f64,
    /// Closest relative distance of a liquidation price to its mark (∞: none).
    pub liq_distance: f64,
}

/// The position of `x` as Deribit margins it (`None` when flat or unpriced).
fn deribit_future(x: &Inst) -> Option<DeribitFuture> {
    x.margin_position().map(|p| DeribitFuture {
        side: p.side,
        face_usd: p.qty,
        entry_px: p.entry_px,
    })
}

/// Call or put of held option `j`.
fn option_kind(held: &HeldBook, j: usize) -> OptionKind {
    if held.is_call[j] {
        OptionKind::Call
    } else {
        OptionKind::Put
    }
}

/// Held option `j`'s mark in coin with its forward moved by `1 + x` (Black-76 at its last
/// volatility and time to expiry: the scalar twin of the book's SIMD revaluation); `None` when
/// it is stale or the lane is refused.
fn option_mark_moved(held: &HeldBook, j: usize, x: f64) -> Option<f64> {
    let f = held.forward[j] * (1.0 + x);
    if !(f > 0.0) || held.mark_coin(j).is_none() {
        return None;
    }
    let (g, status) = greeks(&OptionInputs {
        model: Model::Black76,
        kind: option_kind(held, j),
        underlying: f,
        strike: held.strike[j],
        t_years: held.t_years[j],
        vol: held.iv[j],
        rate: 0.0,
        carry_q: 0.0,
    });
    let m = g.price / f;
    (status.is_ok() && m.is_finite()).then_some(m.max(0.0))
}

/// Equity minus maintenance of `deribit` account `a` with the underlying moved by `1 + x`: every
/// future at its mid × (1 + x), every option repriced at its forward × (1 + x).
fn deribit_gap(a: usize, acc: &Account, insts: &[Inst], held: &HeldBook, x: f64) -> f64 {
    let mut gap = acc.wallet;
    for inst in insts.iter().filter(|i| i.account == a) {
        let px = inst.mid() * (1.0 + x);
        if let (Some(f), true) = (deribit_future(inst), px > 0.0) {
            gap += f.unrealized_pnl(px) - f.maintenance_margin(&acc.deribit, px);
        }
    }
    for j in 0..held.len() {
        if held.account[j] != Some(a) {
            continue;
        }
        if let Some(mark) = option_mark_moved(held, j, x) {
            let q = held.qty[j];
            gap += q * mark;
            if q < 0.0 {
                gap += q * acc
                    .deribit
                    .short_option_maintenance(option_kind(held, j), mark);
            }
        }
    }
    gap
}

/// Smallest |x| with the gap at or below zero on one side (`dir` ±1) of the mark, found by a
/// geometric scan (steps ×1.25 from 0.05 %) and bisection to 1e-12; ∞ when none is found
/// (up to a ×1000 rise, down to a 99.9999 % fall).
fn deribit_liq_move(dir: f64, gap: impl Fn(f64) -> f64) -> f64 {
    let limit = if dir > 0.0 { 1e3 } else { 1.0 - 1e-6 };
    let (mut safe, mut step): (f64, f64) = (0.0, 5e-4);
    loop {
        let x = step.min(limit);
        if gap(dir * x) <= 0.0 {
            let mut hi = x;
            while hi - safe > 1e-12 * hi.max(1e-6) {
                let mid = 0.5 * (safe + hi);
                if gap(dir * mid) <= 0.0 {
                    hi = mid;
                } else {
                    safe = mid;
                }
            }
            return hi;
        }
        if x >= limit {
            return f64::INFINITY;
        }
        safe = x;
        step *= 1.25;
    }
}

/// Measures every account: equity, maintenance and initial margin per account, then each
/// account's closest liquidation distance — per position under cross margin with the account's
/// other positions held (`margin`), or the smallest joint move of the underlying (`deribit`,
/// see the module docs). O(instruments + options + accounts), plus O(instruments + options)
/// per root-finding step for each `deribit` account. Writes `out[a]` for each account.
pub fn measure_accounts(accounts: &[Account], insts: &[Inst], held: &HeldBook, out: &mut [Margin]) {
    for (m, acc) in out.iter_mut().zip(accounts) {
        *m = Margin {
            equity: acc.wallet,
            maintenance: 0.0,
            initial: 0.0,
            ratio: 0.0,
            liq_distance: f64::INFINITY,
        };
    }
    for x in insts {
        let acc = &accounts[x.account];
        let m = &mut out[x.account];
        let mid = x.mid();
        match acc.kind {
            AccountKind::Spot => m.equity += x.pos * x.multiplier * mid,
            AccountKind::Margin => {
                if let (Some(p), true) = (x.margin_position(), mid > 0.0) {
                    let mm = p.maintenance_margin(&acc.tiers, mid);
                    m.equity += p.unrealized_pnl(mid);
                    m.maintenance += mm;
                    m.initial += mm;
                }
            }
            AccountKind::Deribit => {
                if let (Some(f), true) = (deribit_future(x), mid > 0.0) {
                    m.equity += f.unrealized_pnl(mid);
                    m.maintenance += f.maintenance_margin(&acc.deribit, mid);
                    m.initial += f.initial_margin(&acc.deribit, mid);
                }
            }
        }
    }
    for j in 0..held.len() {
        let (Some(a), Some(mark)) = (held.account[j], held.mark_coin(j)) else {
            continue;
        };
        let (acc, m) = (&accounts[a], &mut out[a]);
        let q = held.qty[j];
        let (im, mm) = acc.deribit.option_margins(
            option_kind(held, j),
            q,
            mark,
            held.strike[j],
            held.forward[j],
        );
        m.equity += q * mark;
        m.maintenance += mm;
        m.initial += im;
    }
    for m in out.iter_mut() {
        m.ratio = if m.maintenance == 0.0 {
            0.0
        } else if m.equity > 0.0 {
            m.maintenance / m.equity
        } else {
            f64::INFINITY
        };
    }
    for x in insts {
        let acc = &accounts[x.account];
        let mid = x.mid();
        if acc.kind != AccountKind::Margin || !(mid > 0.0) {
            continue;
        }
        let Some(p) = x.margin_position() else {
            continue;
        };
        let m = &mut out[x.account];
        let own_upnl = p.unrealized_pnl(mid);
        let own_mm = p.maintenance_margin(&acc.tiers, mid);
        let mode = MarginMode::Cross {
            wallet_balance: acc.wallet,
            others_unrealized_pnl: m.equity - acc.wallet - own_upnl,
            others_maintenance: m.maintenance - own_mm,
        };
        if let Some(liq) = p.liquidation_price(&acc.tiers, &mode) {
            m.liq_distance = m.liq_distance.min((liq - mid).abs() / mid);
        }
    }
    for (a, acc) in accounts.iter().enumerate() {
        if acc.kind != AccountKind::Deribit || out[a].maintenance == 0.0 {
            continue;
        }
        let gap = |x: f64| deribit_gap(a, acc, insts, held, x);
        out[a].liq_distance = if gap(0.0) <= 0.0 {
            0.0
        } else {
            deribit_liq_move(1.0, gap).min(deribit_liq_move(-1.0, gap))
        };
    }
}

/// The margin `qty` units of `x` held at its mid take from its account's room (see
/// [`Margin::initial`]), in the account's currency: Deribit's initial margin, or Binance's
/// maintenance margin; 0 for spot.
#[must_use]
pub fn room_margin_at_mid(x: &Inst, acc: &Account, qty: f64) -> f64 {
    let mid = x.mid();
    if qty == 0.0 || !(mid > 0.0) {
        return 0.0;
    }
    match acc.kind {
        AccountKind::Spot => 0.0,
        AccountKind::Deribit => acc
            .deribit
            .future_initial_margin(qty.abs() * x.multiplier / mid),
        AccountKind::Margin => Position {
            contract: x.contract,
            side: PosSide::Long,
            entry_px: mid,
            qty: qty.abs() * x.multiplier,
        }
        .maintenance_margin(&acc.tiers, mid),
    }
}
