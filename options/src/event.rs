//! The engine's event handling: hedge touches (sampling the forecasts, revaluing the chain),
//! option tickers and touches, gaps, and execution reports. Each handler that changes what the
//! book is worth runs a sizing pass ([`crate::sizing`]).

use feeds::{EventKind, MarketEvent, Side};

use crate::{OptionsEngine, OptionsFill, OptionsSink};

impl OptionsEngine {
    fn sample(&mut self, now_ns: u64, mid: f64) {
        if self.last_sample_mid <= 0.0 {
            self.last_sample_mid = mid;
            self.last_sample_ns = now_ns;
            return;
        }
        let elapsed = now_ns.saturating_sub(self.last_sample_ns);
        if elapsed < self.cfg.sample_interval_ns {
            return;
        }
        let k = elapsed / self.cfg.sample_interval_ns;
        let r = (mid / self.last_sample_mid).ln() / (k as f64).sqrt();
        self.ewma.update(r);
        if let Some(g) = &mut self.garch {
            g.update(r);
        }
        self.last_sample_mid = mid;
        self.last_sample_ns += k * self.cfg.sample_interval_ns;
    }

    /// Processes one market event; orders and decisions go to `sink`. `t_ingest` is the raw clock
    /// reading of the frame's ingestion (carried into orders).
    pub fn on_event(&mut self, ev: &MarketEvent, t_ingest: u64, sink: &mut impl OptionsSink) {
        self.stats.events += 1;
        self.last_event_ns = self.last_event_ns.max(ev.recv_ns);
        if ev.instrument == self.hedge.instrument {
            match ev.kind {
                EventKind::Bbo => self.on_hedge_bbo(ev, t_ingest, sink),
                EventKind::Gap | EventKind::SnapshotBegin => self.hedge_valid = false,
                _ => {}
            }
            return;
        }
        let Some(i) = self.chain_index(ev.instrument) else {
            return;
        };
        match ev.kind {
            EventKind::OptionTicker => self.on_option_ticker(i, ev, t_ingest, sink),
            EventKind::Bbo => self.on_option_bbo(i, ev),
            EventKind::Gap | EventKind::SnapshotBegin => {
                self.chain.bid_qty[i] = 0.0;
                self.chain.ask_qty[i] = 0.0;
            }
            _ => {}
        }
    }

    /// The hedge's touch: store it, sample the forecasts, revalue the chain when the mid moved
    /// (or pending forwards were converted), size.
    fn on_hedge_bbo(&mut self, ev: &MarketEvent, t_ingest: u64, sink: &mut impl OptionsSink) {
        let inst = &self.hedge_inst;
        let (b, a) = (inst.px_f64(ev.bid.px), inst.px_f64(ev.ask.px));
        let ok = ev.book_valid()
            && ev.bid.qty > 0
            && ev.ask.qty > 0
            && b > 0.0
            && b < a
            && a.is_finite();
        self.hedge_valid = ok;
        if !ok {
            return;
        }
        self.bid_px = b;
        self.ask_px = a;
        self.bid_qty = inst.qty_f64(ev.bid.qty);
        self.ask_qty = inst.qty_f64(ev.ask.qty);
        let mid = 0.5 * (b + a);
        if let Some(s) = &mut self.surface {
            // Throttled expiries: at most one refit per hedge tick.
            s.refit_due(&self.chain, ev.recv_ns);
        }
        let mut moved = mid != self.spot_px;
        self.spot_px = mid;
        if self.pending > 0 {
            // Tickers seen before the first touch: their forwards against it.
            for (e, f) in self.pending_fwd.iter_mut().enumerate() {
                if *f > 0.0 {
                    self.chain.set_basis(e, *f / mid);
                    *f = 0.0;
                }
            }
            self.pending = 0;
            moved = true;
        }
        self.sample(ev.recv_ns, mid);
        if moved {
            let n = self.chain.len();
            if self.chain.revalue(0..n, mid, ev.recv_ns).is_ok() {
                self.stats.full_revaluations += 1;
            }
        }
        self.size(ev, t_ingest, sink);
    }

    /// Option `i`'s ticker: marks, IVs and its expiry's basis; refit the smile, revalue the
    /// option, size.
    fn on_option_ticker(
        &mut self,
        i: usize,
        ev: &MarketEvent,
        t_ingest: u64,
        sink: &mut impl OptionsSink,
    ) {
        let Some(t) = feeds::deribit::read_option_ticker(ev) else {
            return;
        };
        let c = &mut self.chain;
        let fin = |x: f64| if x.is_finite() && x >= 0.0 { x } else { 0.0 };
        c.mark_px_coin[i] = fin(t.mark_px);
        c.mark_iv[i] = fin(t.mark_iv);
        c.bid_iv[i] = fin(t.bid_iv);
        c.ask_iv[i] = fin(t.ask_iv);
        if t.underlying_px > 0.0 && t.underlying_px.is_finite() {
            let e = c.expiry_slot(i);
            if self.spot_px > 0.0 {
                c.set_basis(e, t.underlying_px / self.spot_px);
            } else {
                self.pending += u32::from(self.pending_fwd[e] == 0.0);
                self.pending_fwd[e] = t.underlying_px;
            }
        }
        if let Some(s) = &mut self.surface {
            // The ticker's underlying price is the expiry's forward; else the hedge mid.
            let fwd = if t.underlying_px > 0.0 && t.underlying_px.is_finite() {
                t.underlying_px
            } else {
                self.spot_px
            };
            s.on_ticker(&self.chain, i, fwd, ev.recv_ns);
        }
        if self.spot_px > 0.0 {
            if self
                .chain
                .revalue(i..i + 1, self.spot_px, ev.recv_ns)
                .is_ok()
            {
                self.stats.single_revaluations += 1;
            }
            self.size(ev, t_ingest, sink);
        }
    }

    /// Option `i`'s touch (limit prices and the liquidity cap).
    fn on_option_bbo(&mut self, i: usize, ev: &MarketEvent) {
        let inst = &self.instruments[ev.instrument.0 as usize];
        let c = &mut self.chain;
        let valid = ev.book_valid();
        c.bid_px_coin[i] = inst.px_f64(ev.bid.px);
        c.ask_px_coin[i] = inst.px_f64(ev.ask.px);
        c.bid_qty[i] = if valid { inst.qty_f64(ev.bid.qty) } else { 0.0 };
        c.ask_qty[i] = if valid { inst.qty_f64(ev.ask.qty) } else { 0.0 };
    }

    /// Applies an execution report.
    pub fn on_fill(&mut self, f: &OptionsFill) {
        self.stats.fills += 1;
        let sign = if f.side == Side::Buy { 1 } else { -1 };
        let (pos, work) = if f.instrument == self.hedge.instrument {
            (&mut self.hedge_position_lots, &mut self.hedge_working_lots)
        } else if let Some(i) = self.chain_index(f.instrument) {
            self.activate(i);
            (
                &mut self.chain.position_lots[i],
                &mut self.chain.working_lots[i],
            )
        } else {
            return;
        };
        *pos += sign * f.filled_lots;
        *work -= sign * (f.filled_lots + f.cancelled_lots);
    }
}
