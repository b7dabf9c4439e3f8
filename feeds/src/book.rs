//! An exact-decimal L2 order book: price levels as integer mantissas, each side a pre-allocated
//! sorted `Vec` with the touch at the end, so the common updates (near the touch) move few
//! elements and nothing allocates per update once the capacity is reached.

use crate::event::{PxQty, Side};

/// Levels a side pre-allocates: Binance snapshots carry up to 5000 a side, diffs add a few.
pub const DEFAULT_LEVEL_CAPACITY: usize = 8192;

/// One side of a book. Sorted so that the best level is the last element: bids ascending by
/// price, asks descending. Iteration from the touch outwards is `iter().rev()`.
#[derive(Debug, Clone)]
struct BookSide {
    levels: Vec<PxQty>,
    /// true for bids (best = highest price).
    bid: bool,
}

impl BookSide {
    fn new(bid: bool, capacity: usize) -> Self {
        Self { levels: Vec::with_capacity(capacity), bid }
    }

    /// Position of `px` (Ok) or where it would be inserted (Err), in storage order.
    #[inline]
    fn find(&self, px: i64) -> Result<usize, usize> {
        let n = self.levels.len();
        // Fast path: updates cluster at the touch, which is the end of the Vec.
        if n > 0 {
            let last = self.levels[n - 1].px;
            if last == px {
                return Ok(n - 1);
            }
            if self.better(px, last) {
                return Err(n);
            }
        }
        if self.bid {
            self.levels.binary_search_by(|l| l.px.cmp(&px))
        } else {
            self.levels.binary_search_by(|l| px.cmp(&l.px))
        }
    }

    /// Whether `a` is a better price than `b` on this side.
    #[inline]
    fn better(&self, a: i64, b: i64) -> bool {
        if self.bid {
            a > b
        } else {
            a < b
        }
    }

    #[inline]
    fn set(&mut self, px: i64, qty: i64) {
        match self.find(px) {
            Ok(i) => {
                if qty == 0 {
                    self.levels.remove(i);
                } else {
                    self.levels[i].qty = qty;
                }
            }
            Err(i) => {
                if qty != 0 {
                    self.levels.insert(i, PxQty { px, qty });
                }
            }
        }
    }

    fn best(&self) -> Option<PxQty> {
        self.levels.last().copied()
    }

    /// Replace the side by `levels` (any order; a repeated price keeps its last quantity; zero
    /// quantities are dropped).
    fn load(&mut self, levels: &[PxQty]) {
        self.levels.clear();
        self.levels.extend_from_slice(levels);
        if self.bid {
            self.levels.sort_by_key(|l| l.px);
        } else {
            self.levels.sort_by_key(|l| std::cmp::Reverse(l.px));
        }
        // Stable sort keeps input order among equal prices: keep the last of each run.
        let mut w = 0usize;
        for r in 0..self.levels.len() {
            let l = self.levels[r];
            if w > 0 && self.levels[w - 1].px == l.px {
                self.levels[w - 1] = l;
            } else {
                self.levels[w] = l;
                w += 1;
            }
        }
        self.levels.truncate(w);
        self.levels.retain(|l| l.qty != 0);
    }
}

/// An exact-decimal L2 book for one instrument, with the venue update id it reflects and whether
/// it is synced with the venue. Prices and quantities are mantissas at the instrument's scales.
#[derive(Debug, Clone)]
pub struct L2Book {
    bids: BookSide,
    asks: BookSide,
    last_update_id: u64,
    valid: bool,
}

impl Default for L2Book {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_LEVEL_CAPACITY)
    }
}

impl L2Book {
    /// An empty, invalid book with room for `levels` levels a side before it allocates.
    #[must_use]
    pub fn with_capacity(levels: usize) -> Self {
        Self { bids: BookSide::new(true, levels), asks: BookSide::new(false, levels), last_update_id: 0, valid: false }
    }

    /// Best bid (highest price), if any.
    #[must_use]
    pub fn best_bid(&self) -> Option<PxQty> {
        self.bids.best()
    }

    /// Best ask (lowest price), if any.
    #[must_use]
    pub fn best_ask(&self) -> Option<PxQty> {
        self.asks.best()
    }

    /// Whether the book is synced with the venue (snapshot and bridging diff applied, no gap
    /// since). Nothing should be sized off an invalid book.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// The venue update id the book reflects (snapshot `lastUpdateId` or the last diff's `u`).
    #[must_use]
    pub fn last_update_id(&self) -> u64 {
        self.last_update_id
    }

    /// Bid levels from the touch outwards (descending price).
    pub fn bids(&self) -> impl Iterator<Item = PxQty> + '_ {
        self.bids.levels.iter().rev().copied()
    }

    /// Ask levels from the touch outwards (ascending price).
    pub fn asks(&self) -> impl Iterator<Item = PxQty> + '_ {
        self.asks.levels.iter().rev().copied()
    }

    /// Number of bid and ask levels.
    #[must_use]
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.levels.len(), self.asks.levels.len())
    }

    /// Set the quantity at `px` on `side` (`qty == 0` removes the level). `Side::None` is ignored.
    #[inline]
    pub fn set(&mut self, side: Side, px: i64, qty: i64) {
        match side {
            Side::Buy => self.bids.set(px, qty),
            Side::Sell => self.asks.set(px, qty),
            Side::None => {}
        }
    }

    /// Replace the whole book by a snapshot at `last_update_id`. The book stays invalid until
    /// [`L2Book::set_valid`] (the sync procedure validates it once the bridging diff applies).
    pub fn load_snapshot(&mut self, bids: &[PxQty], asks: &[PxQty], last_update_id: u64) {
        self.bids.load(bids);
        self.asks.load(asks);
        self.last_update_id = last_update_id;
        self.valid = false;
    }

    /// Record the update id the book now reflects.
    pub fn set_last_update_id(&mut self, id: u64) {
        self.last_update_id = id;
    }

    /// Mark the book synced or not.
    pub fn set_valid(&mut self, valid: bool) {
        self.valid = valid;
    }

    /// Empty the book and mark it invalid (capacity is kept).
    pub fn clear(&mut self) {
        self.bids.levels.clear();
        self.asks.levels.clear();
        self.last_update_id = 0;
        self.valid = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn pq(px: i64, qty: i64) -> PxQty {
        PxQty { px, qty }
    }

    #[test]
    fn touch_and_order() {
        let mut b = L2Book::with_capacity(4);
        b.load_snapshot(&[pq(100, 1), pq(99, 2), pq(101, 3)], &[pq(103, 1), pq(102, 5), pq(104, 1)], 7);
        assert_eq!(b.best_bid(), Some(pq(101, 3)));
        assert_eq!(b.best_ask(), Some(pq(102, 5)));
        assert_eq!(b.bids().map(|l| l.px).collect::<Vec<_>>(), vec![101, 100, 99]);
        assert_eq!(b.asks().map(|l| l.px).collect::<Vec<_>>(), vec![102, 103, 104]);
        b.set(Side::Buy, 101, 0);
        b.set(Side::Sell, 101, 9);
        assert_eq!(b.best_bid(), Some(pq(100, 1)));
        assert_eq!(b.best_ask(), Some(pq(101, 9)));
        b.set(Side::Sell, 500, 0); // removing an absent level is a no-op
        assert_eq!(b.depth(), (2, 4));
        assert_eq!(b.last_update_id(), 7);
        assert!(!b.is_valid());
    }

    #[test]
    fn snapshot_duplicates_keep_last_and_drop_zero() {
        let mut b = L2Book::default();
        b.load_snapshot(&[pq(1, 1), pq(1, 2), pq(2, 0)], &[], 1);
        assert_eq!(b.bids().collect::<Vec<_>>(), vec![pq(1, 2)]);
        assert_eq!(b.best_ask(), None);
    }

    proptest! {
        /// The sorted-Vec book equals a BTreeMap model after any sequence of updates.
        #[test]
        fn matches_btreemap_model(
            snap in proptest::collection::vec((0i64..50, 0i64..5, any::<bool>()), 0..40),
            ops in proptest::collection::vec((0i64..50, 0i64..5, any::<bool>()), 0..300),
        ) {
            let mut book = L2Book::with_capacity(2);
            let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
            let (mut sb, mut sa) = (Vec::new(), Vec::new());
            for &(px, qty, bid) in &snap {
                if bid { sb.push(pq(px, qty)); } else { sa.push(pq(px, qty)); }
                let m = &mut model[usize::from(!bid)];
                if qty == 0 { m.remove(&px); } else { m.insert(px, qty); }
            }
            book.load_snapshot(&sb, &sa, 0);
            for &(px, qty, bid) in &ops {
                book.set(if bid { Side::Buy } else { Side::Sell }, px, qty);
                let m = &mut model[usize::from(!bid)];
                if qty == 0 { m.remove(&px); } else { m.insert(px, qty); }
                prop_assert_eq!(book.best_bid(), model[0].iter().next_back().map(|(&p, &q)| pq(p, q)));
                prop_assert_eq!(book.best_ask(), model[1].iter().next().map(|(&p, &q)| pq(p, q)));
            }
            prop_assert_eq!(book.bids().collect::<Vec<_>>(), model[0].iter().rev().map(|(&p, &q)| pq(p, q)).collect::<Vec<_>>());
            prop_assert_eq!(book.asks().collect::<Vec<_>>(), model[1].iter().map(|(&p, &q)| pq(p, q)).collect::<Vec<_>>());
        }
    }
}
