//! `book.*` notifications: the hand walk of their fields and level arrays, and the snapshot or
//! change they apply to the instrument's book (continuity by `change_id`).

use super::num::json_decimal;
use super::{walk, DeribitError, DeribitFeed, DERIBIT_SCALE, MAX_RESUB};
use crate::event::{flags, EventKind, MarketEvent, PxQty, Side};

/// A book notification's fields, read by the `walk` module (no serde).
#[derive(Debug, Default)]
struct BookData<'a> {
    kind: Option<&'a str>,
    instrument_name: Option<&'a str>,
    timestamp: u64,
    change_id: u64,
    prev_change_id: Option<u64>,
    bids: Option<&'a [u8]>,
    asks: Option<&'a [u8]>,
}

impl DeribitFeed {
    /// Walks a level array (`[["new", 0.1, 2.0], …]` or `[[0.1, 2.0], …]`) into `self.levels`.
    fn parse_levels(&mut self, s: &[u8], side: Side) -> Result<(), DeribitError> {
        let mut i = 0usize;
        let skip_ws = |i: &mut usize| {
            while *i < s.len() && s[*i].is_ascii_whitespace() {
                *i += 1;
            }
        };
        let token = |i: &mut usize| -> &[u8] {
            let st = *i;
            while *i < s.len() && !matches!(s[*i], b',' | b']' | b' ' | b'\n' | b'\t' | b'\r') {
                *i += 1;
            }
            &s[st..*i]
        };
        skip_ws(&mut i);
        if s.get(i) != Some(&b'[') {
            return Err(DeribitError::Level);
        }
        i += 1;
        skip_ws(&mut i);
        if s.get(i) == Some(&b']') {
            return Ok(());
        }
        loop {
            skip_ws(&mut i);
            if s.get(i) != Some(&b'[') {
                return Err(DeribitError::Level);
            }
            i += 1;
            skip_ws(&mut i);
            // Optional action string.
            let mut delete = false;
            if s.get(i) == Some(&b'"') {
                let st = i + 1;
                let len = s[st..]
                    .iter()
                    .position(|&c| c == b'"')
                    .ok_or(DeribitError::Level)?;
                delete = match &s[st..st + len] {
                    b"new" | b"change" => false,
                    b"delete" => true,
                    _ => return Err(DeribitError::Level),
                };
                i = st + len + 1;
                skip_ws(&mut i);
                if s.get(i) != Some(&b',') {
                    return Err(DeribitError::Level);
                }
                i += 1;
                skip_ws(&mut i);
            }
            let px = json_decimal(token(&mut i), DERIBIT_SCALE)
                .map_err(|_| DeribitError::Number { field: "price" })?;
            skip_ws(&mut i);
            if s.get(i) != Some(&b',') {
                return Err(DeribitError::Level);
            }
            i += 1;
            skip_ws(&mut i);
            let qty = json_decimal(token(&mut i), DERIBIT_SCALE)
                .map_err(|_| DeribitError::Number { field: "amount" })?;
            skip_ws(&mut i);
            if s.get(i) != Some(&b']') {
                return Err(DeribitError::Level);
            }
            i += 1;
            self.levels.push((
                side,
                PxQty {
                    px,
                    qty: if delete { 0 } else { qty },
                },
            ));
            skip_ws(&mut i);
            match s.get(i) {
                Some(b',') => i += 1,
                Some(b']') => return Ok(()),
                _ => return Err(DeribitError::Level),
            }
        }
    }

    pub(super) fn on_book(
        &mut self,
        recv_ns: u64,
        data: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), DeribitError> {
        let mut d = BookData::default();
        let mut bad_number = false;
        walk::entries(data, 0, |k, a, b| {
            let v = &data[a..b];
            match k {
                b"type" => d.kind = walk::plain_str(v),
                b"instrument_name" => d.instrument_name = walk::plain_str(v),
                b"timestamp" => {
                    d.timestamp = walk::uint(v).unwrap_or_else(|| {
                        bad_number = true;
                        0
                    })
                }
                b"change_id" => {
                    d.change_id = walk::uint(v).unwrap_or_else(|| {
                        bad_number = true;
                        0
                    })
                }
                b"prev_change_id" => {
                    d.prev_change_id = if v == b"null" {
                        None
                    } else {
                        walk::uint(v).or_else(|| {
                            bad_number = true;
                            None
                        })
                    }
                }
                b"bids" => d.bids = Some(v),
                b"asks" => d.asks = Some(v),
                _ => {}
            }
        })
        .ok_or_else(|| DeribitError::Json("book `data` is not an object".into()))?;
        if bad_number {
            return Err(DeribitError::Number {
                field: "change_id/timestamp",
            });
        }
        let (Some(name), Some(bids), Some(asks)) = (d.instrument_name, d.bids, d.asks) else {
            return Err(DeribitError::Json(
                "book without `instrument_name`, `bids` or `asks`".into(),
            ));
        };
        self.levels.clear();
        self.parse_levels(bids, Side::Buy)?;
        self.parse_levels(asks, Side::Sell)?;
        // Validated: now mutate.
        let id = self.id_of(name);
        let exch_ns = d.timestamp.saturating_mul(1_000_000);
        let snapshot = match d.kind {
            Some("snapshot") | None => true,
            Some("change") => false,
            Some(_) => {
                self.stats.ignored += 1;
                return Ok(());
            }
        };
        let st = &mut self.states[id.0 as usize];
        st.seen_book = true;
        if snapshot {
            self.stats.snapshots += 1;
            let mut begin = MarketEvent::new(EventKind::SnapshotBegin, id, recv_ns);
            begin.exch_ns = exch_ns;
            sink(begin);
            self.bids.clear();
            self.asks.clear();
            for (side, l) in &self.levels {
                if l.qty > 0 {
                    if *side == Side::Buy {
                        self.bids.push(*l);
                    } else {
                        self.asks.push(*l);
                    }
                }
            }
            st.book.load_snapshot(&self.bids, &self.asks, d.change_id);
            st.book.set_valid(true);
            if std::mem::take(&mut st.after_gap) {
                self.stats.resyncs += 1;
            }
            let mut end = MarketEvent::new(EventKind::SnapshotEnd, id, recv_ns);
            end.exch_ns = exch_ns;
            end.seq = d.change_id;
            end.flags = flags::BOOK_VALID;
            sink(end);
        } else {
            self.stats.diffs += 1;
            if !st.book.is_valid() {
                self.stats.diffs_dropped_stale += 1;
                return Ok(());
            }
            let last = st.book.last_update_id();
            if d.prev_change_id != Some(last) {
                self.stats.gaps += 1;
                st.book.set_valid(false);
                st.after_gap = true;
                let mut g = MarketEvent::new(EventKind::Gap, id, recv_ns);
                g.exch_ns = exch_ns;
                g.seq = last;
                g.bid.px = d.change_id as i64;
                sink(g);
                if !st.resub_queued && self.resubscribe.len() < MAX_RESUB {
                    st.resub_queued = true;
                    self.resubscribe.push_back(id);
                }
                return Ok(());
            }
            for (side, l) in &self.levels {
                st.book.set(*side, l.px, l.qty);
                if self.emit_levels {
                    let mut e = MarketEvent::new(EventKind::Level, id, recv_ns);
                    e.exch_ns = exch_ns;
                    e.seq = d.change_id;
                    e.side = *side;
                    e.bid = *l;
                    e.flags = flags::BOOK_VALID;
                    sink(e);
                }
            }
            st.book.set_last_update_id(d.change_id);
            self.stats.diffs_applied += 1;
        }
        let st = &self.states[id.0 as usize];
        let mut e = MarketEvent::new(EventKind::Bbo, id, recv_ns);
        e.exch_ns = exch_ns;
        e.seq = d.change_id;
        e.flags = flags::FROM_BOOK | flags::BOOK_VALID;
        e.bid = st.book.best_bid().unwrap_or_default();
        e.ask = st.book.best_ask().unwrap_or_default();
        sink(e);
        Ok(())
    }
}
