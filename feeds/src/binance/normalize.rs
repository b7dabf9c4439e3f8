//! Normalization: a parsed frame (from the scanner or the serde parser) into [`MarketEvent`]s, with
//! the decimal strings read at the instrument's scales and depth frames run through the book
//! sync procedure.

use super::parse::Parsed;
use super::sync::{
    buffer_diff, ms_to_ns, replay_buffered, sync_step, DiffRef, InstState, Step, Sync,
};
use super::{BinanceFeed, FrameError};
use crate::decimal::parse_decimal;
use crate::event::{EventKind, MarketEvent, PxQty, Side};
use crate::registry::InstrumentId;

impl BinanceFeed {
    pub(super) fn normalize(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        parsed: Parsed<'_>,
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        match parsed {
            Parsed::Ignored => {
                self.stats.ignored += 1;
                Ok(())
            }
            Parsed::BookTicker {
                symbol,
                update_id,
                event_ms,
                bid_px,
                bid_qty,
                ask_px,
                ask_qty,
            } => self.on_book_ticker(
                recv_ns,
                &symbol,
                update_id,
                event_ms,
                [&bid_px, &bid_qty, &ask_px, &ask_qty],
                sink,
            ),
            Parsed::Trade {
                symbol,
                event_ms,
                id,
                px,
                qty,
                buyer_is_maker,
            } => self.on_trade(
                recv_ns,
                &symbol,
                event_ms,
                id,
                [&px, &qty],
                buyer_is_maker,
                sink,
            ),
            Parsed::Depth {
                symbol,
                event_ms,
                first_id,
                final_id,
                prev_final_id,
            } => {
                let ids = DiffRef {
                    first_id,
                    final_id,
                    prev_final_id,
                    event_ms,
                    bids: &[],
                    asks: &[],
                };
                self.on_depth(recv_ns, frame, &symbol, &ids, sink)
            }
            Parsed::Snapshot {
                symbol,
                last_update_id,
                event_ms,
            } => self.on_snapshot(
                recv_ns,
                frame,
                symbol.as_deref(),
                last_update_id,
                event_ms,
                sink,
            ),
        }
    }

    /// A best bid/offer; `px_qty` holds the bid price, bid quantity, ask price and ask quantity.
    fn on_book_ticker(
        &mut self,
        recv_ns: u64,
        symbol: &str,
        update_id: u64,
        event_ms: Option<u64>,
        px_qty: [&[u8]; 4],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        let [bid_px, bid_qty, ask_px, ask_qty] = px_qty;
        let (id, ps, qs) = self.scales(symbol);
        let d = |s: &[u8], scale: u8, field: &'static str| {
            parse_decimal(s, scale).map_err(|error| FrameError::Decimal { field, error })
        };
        let (bp, bq, ap, aq) = (
            d(bid_px, ps, "b")?,
            d(bid_qty, qs, "B")?,
            d(ask_px, ps, "a")?,
            d(ask_qty, qs, "A")?,
        );
        let id = match id {
            Some(id) => id,
            None => self.register(symbol, false),
        };
        self.stats.book_tickers += 1;
        let st = &mut self.states[id.0 as usize];
        st.px_decimals = st.px_decimals.max(bp.decimals).max(ap.decimals);
        st.qty_decimals = st.qty_decimals.max(bq.decimals).max(aq.decimals);
        let mut ev = MarketEvent::new(EventKind::Bbo, id, recv_ns);
        ev.exch_ns = ms_to_ns(event_ms.unwrap_or(0));
        ev.seq = update_id;
        ev.flags = st.ticker_flags();
        ev.bid = PxQty {
            px: bp.mantissa,
            qty: bq.mantissa,
        };
        ev.ask = PxQty {
            px: ap.mantissa,
            qty: aq.mantissa,
        };
        sink(ev);
        Ok(())
    }

    /// A trade; `px_qty` holds its price and quantity.
    #[allow(clippy::too_many_arguments)] // private helper: one argument per field of the trade
    fn on_trade(
        &mut self,
        recv_ns: u64,
        symbol: &str,
        event_ms: u64,
        trade_id: u64,
        px_qty: [&[u8]; 2],
        buyer_is_maker: bool,
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        let [px, qty] = px_qty;
        let (id, ps, qs) = self.scales(symbol);
        let p = parse_decimal(px, ps).map_err(|error| FrameError::Decimal { field: "p", error })?;
        let q =
            parse_decimal(qty, qs).map_err(|error| FrameError::Decimal { field: "q", error })?;
        let id = match id {
            Some(id) => id,
            None => self.register(symbol, false),
        };
        self.stats.trades += 1;
        let st = &mut self.states[id.0 as usize];
        st.px_decimals = st.px_decimals.max(p.decimals);
        st.qty_decimals = st.qty_decimals.max(q.decimals);
        let mut ev = MarketEvent::new(EventKind::Trade, id, recv_ns);
        ev.exch_ns = ms_to_ns(event_ms);
        ev.seq = trade_id;
        ev.side = if buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        };
        ev.flags = st.ticker_flags();
        ev.bid = PxQty {
            px: p.mantissa,
            qty: q.mantissa,
        };
        sink(ev);
        Ok(())
    }

    /// A depth diff (`ids`: its update ids and time; its levels are in the parsed spans): through
    /// the sync procedure, buffered while the book awaits a snapshot or after a gap.
    fn on_depth(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        symbol: &str,
        ids: &DiffRef<'_>,
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        let (id, ps, qs) = self.scales(symbol);
        let dec = self.parse_levels(frame, ps, qs, ["b", "a"])?;
        let id = match id {
            Some(id) => id,
            None => self.register(symbol, ids.prev_final_id.is_some()),
        };
        self.stats.diffs += 1;
        let st = &mut self.states[id.0 as usize];
        st.seen_depth = true;
        st.px_decimals = st.px_decimals.max(dec.px_decimals);
        st.qty_decimals = st.qty_decimals.max(dec.qty_decimals);
        let diff = DiffRef {
            bids: &self.scratch_bids,
            asks: &self.scratch_asks,
            ..*ids
        };
        let step = sync_step(
            st,
            &diff,
            id,
            recv_ns,
            self.emit_levels,
            &mut self.stats,
            sink,
        );
        match step {
            Step::Buffer | Step::StaleSnapshot => {
                if step == Step::StaleSnapshot {
                    st.sync = Sync::AwaitSnapshot;
                    self.stats.snapshots_stale += 1;
                }
                buffer_diff(st, &diff, &mut self.pool, &mut self.stats);
            }
            Step::Gap => buffer_diff(st, &diff, &mut self.pool, &mut self.stats),
            Step::Stale | Step::Bridged | Step::Applied => {}
        }
        Ok(())
    }

    /// A REST snapshot (its levels are in the parsed spans): loaded into the instrument its body
    /// names, or else the one that awaits a snapshot, then its buffered diffs replayed.
    fn on_snapshot(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        symbol: Option<&str>,
        last_update_id: u64,
        event_ms: Option<u64>,
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), FrameError> {
        let target = match symbol {
            // A body that names its symbol goes to that instrument, whatever else awaits one. A
            // capture's snapshots come before the symbol's first frame: an unknown symbol is
            // registered here, as a frame's would be.
            Some(sym) => Some(match self.lookup(sym) {
                Some(id) if (id.0 as usize) < self.states.len() => id,
                _ => self.register(sym, event_ms.is_some()),
            }),
            None => self.resolve_snapshot_target()?,
        };
        let Some(id) = target else {
            // No instrument awaits a snapshot: nothing to do with it.
            self.stats.snapshots_ignored += 1;
            return Ok(());
        };
        let (ps, qs) = (
            self.states[id.0 as usize].px_scale,
            self.states[id.0 as usize].qty_scale,
        );
        let dec = self.parse_levels(frame, ps, qs, ["bids", "asks"])?;
        self.snapshot_target = None;
        let st = &mut self.states[id.0 as usize];
        st.px_decimals = st.px_decimals.max(dec.px_decimals);
        st.qty_decimals = st.qty_decimals.max(dec.qty_decimals);
        if st.sync == Sync::Valid {
            self.stats.snapshots_ignored += 1;
            return Ok(());
        }
        self.stats.snapshots += 1;
        let mut ev = MarketEvent::new(EventKind::SnapshotBegin, id, recv_ns);
        ev.exch_ns = ms_to_ns(event_ms.unwrap_or(0));
        ev.seq = last_update_id;
        sink(ev);
        st.book
            .load_snapshot(&self.scratch_bids, &self.scratch_asks, last_update_id);
        st.sync = Sync::AwaitBridge;
        replay_buffered(
            st,
            id,
            recv_ns,
            self.emit_levels,
            &mut self.pool,
            &mut self.stats,
            sink,
        );
        Ok(())
    }

    /// The instrument a bare snapshot belongs to; `None` when no instrument awaits one.
    fn resolve_snapshot_target(&self) -> Result<Option<InstrumentId>, FrameError> {
        if let Some(id) = self.snapshot_target {
            if (id.0 as usize) < self.states.len() {
                return Ok(Some(id));
            }
        }
        let pick = |f: &dyn Fn(&InstState) -> bool| {
            let mut it = self.states.iter().enumerate().filter(|(_, s)| f(s));
            let first = it.next().map(|(i, _)| InstrumentId(i as u32));
            let n = u32::from(first.is_some()) + it.count() as u32;
            (first, n)
        };
        match pick(&|s| s.sync != Sync::Valid && s.seen_depth) {
            (Some(id), 1) => Ok(Some(id)),
            (_, 0) => match pick(&|s| s.sync != Sync::Valid) {
                (Some(id), 1) => Ok(Some(id)),
                (_, 0) => Ok(None),
                (_, n) => Err(FrameError::SnapshotTarget { awaiting: n }),
            },
            (_, n) => Err(FrameError::SnapshotTarget { awaiting: n }),
        }
    }
}
