//! An exact-decimal L2 order book: price levels as integer mantissas. Each side is a list of
//! sorted blocks of at most [`BLOCK_CAP`] levels (a one-level B+-tree, blocks recycled through a
//! pool), so an update anywhere in a deep book moves at most one block's worth of levels and
//! nothing allocates per update in steady state. The touch is the last level of the last block.

use crate::event::{PxQty, Side};

/// Levels per side of the largest snapshots Binance serves (5000) with room to spare: the
/// capacity the feed gives its per-frame scratch buffers.
pub const DEFAULT_LEVEL_CAPACITY: usize = 8192;

/// Levels a block holds before it splits in two.
pub const BLOCK_CAP: usize = 128;
/// Levels per block when a snapshot is loaded (room to grow before a split).
const BLOCK_FILL: usize = BLOCK_CAP / 2;

/// One side of a book. Levels are ordered by `key` ascending (bids: price ascending; asks: price
/// descending), so the best level is the last of the last block and iteration from the touch
/// outwards walks backwards.
#[derive(Debug, Clone)]
struct BookSide {
    blocks: Vec<Vec<PxQty>>,
    /// `key` of each block's first level, contiguous for the block search.
    firsts: Vec<i64>,
    pool: Vec<Vec<PxQty>>,
    /// Scratch for snapshot loading.
    tmp: Vec<PxQty>,
    /// true for bids.
    bid: bool,
    len: usize,
}

impl BookSide {
    fn new(bid: bool, levels: usize) -> Self {
        let mut s = Self {
            blocks: Vec::new(),
            firsts: Vec::new(),
            pool: Vec::new(),
            tmp: Vec::new(),
            bid,
            len: 0,
        };
        s.reserve(levels);
        s
    }

    /// Make room for `levels` levels (plus splits) without further allocation.
    fn reserve(&mut self, levels: usize) {
        let want = 2 * levels.div_ceil(BLOCK_FILL) + 8;
        let have = self.blocks.len() + self.pool.len();
        for _ in have..want {
            self.pool.push(Vec::with_capacity(BLOCK_CAP));
        }
        self.blocks.reserve(want.saturating_sub(self.blocks.len()));
        self.firsts.reserve(want.saturating_sub(self.firsts.len()));
        if self.tmp.capacity() < levels {
            self.tmp.reserve(levels - self.tmp.len());
        }
    }

    /// Sort key: ascending towards the touch. `!px` is `-px - 1`: order-reversing, no overflow.
    #[inline(always)]
    fn key(&self, px: i64) -> i64 {
        if self.bid {
            px
        } else {
            !px
        }
    }

    fn take_block(&mut self) -> Vec<PxQty> {
        self.pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BLOCK_CAP))
    }

    #[inline]
    fn set(&mut self, px: i64, qty: i64) {
        let k = self.key(px);
        let nb = self.blocks.len();
        if nb == 0 {
            if qty != 0 {
                let mut b = self.take_block();
                b.push(PxQty { px, qty });
                self.blocks.push(b);
                self.firsts.push(k);
                self.len = 1;
            }
            return;
        }
        // The block whose first key is <= k (the first block when k is below everything);
        // the last block (the touch) is checked first.
        let bi = if self.firsts[nb - 1] <= k {
            nb - 1
        } else {
            self.firsts.partition_point(|&f| f <= k).saturating_sub(1)
        };
        let bid = self.bid;
        let block = &mut self.blocks[bi];
        let found = block.binary_search_by(|l| {
            let lk = if bid { l.px } else { !l.px };
            lk.cmp(&k)
        });
        match found {
            Ok(i) => {
                if qty != 0 {
                    block[i].qty = qty;
                    return;
                }
                block.remove(i);
                self.len -= 1;
                let left = block.len();
                if left == 0 {
                    let b = self.blocks.remove(bi);
                    self.firsts.remove(bi);
                    self.pool.push(b);
                    return;
                }
                if i == 0 {
                    self.firsts[bi] = self.key(self.blocks[bi][0].px);
                }
                if left < BLOCK_CAP / 8 && bi > 0 && self.blocks[bi - 1].len() + left < BLOCK_CAP {
                    // Merge a small block into its lower neighbour (its keys are all higher).
                    let mut b = self.blocks.remove(bi);
                    self.firsts.remove(bi);
                    self.blocks[bi - 1].extend_from_slice(&b);
                    b.clear();
                    self.pool.push(b);
                }
            }
            Err(i) => {
                if qty == 0 {
                    return;
                }
                block.insert(i, PxQty { px, qty });
                self.len += 1;
                if i == 0 {
                    self.firsts[bi] = k;
                }
                if self.blocks[bi].len() >= BLOCK_CAP {
                    let mut nbk = self.take_block();
                    let block = &mut self.blocks[bi];
                    nbk.extend_from_slice(&block[BLOCK_CAP / 2..]);
                    block.truncate(BLOCK_CAP / 2);
                    let first = self.key(nbk[0].px);
                    self.blocks.insert(bi + 1, nbk);
                    self.firsts.insert(bi + 1, first);
                }
            }
        }
    }

    fn best(&self) -> Option<PxQty> {
        self.blocks.last().and_then(|b| b.last()).copied()
    }

    fn clear(&mut self) {
        while let Some(mut b) = self.blocks.pop() {
            b.clear();
            self.pool.push(b);
        }
        self.firsts.clear();
        self.len = 0;
    }

    /// Levels from the touch outwards.
    fn iter(&self) -> impl Iterator<Item = PxQty> + '_ {
        self.blocks
            .iter()
            .rev()
            .flat_map(|b| b.iter().rev().copied())
    }

    /// Replace the side by `levels` (any order; a repeated price keeps its last quantity; zero
    /// quantities are dropped).
    fn load(&mut self, levels: &[PxQty]) {
        self.clear();
        self.reserve(levels.len());
        let mut tmp = std::mem::take(&mut self.tmp);
        tmp.clear();
        tmp.extend_from_slice(levels);
        // Stable: input order is kept among equal prices, so the last of each run wins.
        if self.bid {
            tmp.sort_by_key(|l| l.px);
        } else {
            tmp.sort_by_key(|l| !l.px);
        }
        let mut w = 0usize;
        for r in 0..tmp.len() {
            let l = tmp[r];
            if w > 0 && tmp[w - 1].px == l.px {
                tmp[w - 1] = l;
            } else {
                tmp[w] = l;
                w += 1;
            }
        }
        tmp.truncate(w);
        tmp.retain(|l| l.qty != 0);
        for chunk in tmp.chunks(BLOCK_FILL) {
            let mut b = self.take_block();
            b.extend_from_slice(chunk);
            self.firsts.push(self.key(chunk[0].px));
            self.blocks.push(b);
        }
        self.len = tmp.len();
        self.tmp = tmp;
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
    /// An empty book that allocates its blocks when the first snapshot is loaded.
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl L2Book {
    /// An empty, invalid book with room for about `levels` levels a side before it allocates.
    #[must_use]
    pub fn with_capacity(levels: usize) -> Self {
        Self {
            bids: BookSide::new(true, levels),
            asks: BookSide::new(false, levels),
            last_update_id: 0,
            valid: false,
        }
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
        self.bids.iter()
    }

    /// Ask levels from the touch outwards (ascending price).
    pub fn asks(&self) -> impl Iterator<Item = PxQty> + '_ {
        self.asks.iter()
    }

    /// Number of bid and ask levels.
    #[must_use]
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len, self.asks.len)
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
    /// Allocates, when needed, room for twice the snapshot's depth so that later updates do not.
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
        self.bids.clear();
        self.asks.clear();
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
        b.load_snapshot(
            &[pq(100, 1), pq(99, 2), pq(101, 3)],
            &[pq(103, 1), pq(102, 5), pq(104, 1)],
            7,
        );
        assert_eq!(b.best_bid(), Some(pq(101, 3)));
        assert_eq!(b.best_ask(), Some(pq(102, 5)));
        assert_eq!(
            b.bids().map(|l| l.px).collect::<Vec<_>>(),
            vec![101, 100, 99]
        );
        assert_eq!(
            b.asks().map(|l| l.px).collect::<Vec<_>>(),
            vec![102, 103, 104]
        );
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

    impl BookSide {
        /// Structural invariants: non-empty blocks under the cap, keys strictly ascending across
        /// blocks, no zero quantity, `len` consistent.
        fn check(&self) {
            let mut prev: Option<i64> = None;
            let mut n = 0;
            assert_eq!(self.firsts.len(), self.blocks.len());
            for (b, &f) in self.blocks.iter().zip(&self.firsts) {
                assert_eq!(f, self.key(b[0].px));
                assert!(!b.is_empty() && b.len() < BLOCK_CAP);
                for l in b {
                    let k = self.key(l.px);
                    assert!(prev.is_none_or(|p| p < k));
                    assert_ne!(l.qty, 0);
                    prev = Some(k);
                    n += 1;
                }
            }
            assert_eq!(n, self.len);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Deep books: blocks split and merge, and the book still equals a BTreeMap model.
        #[test]
        fn deep_book_matches_model(
            snap in proptest::collection::vec((0i64..3000, 1i64..5), 0..1500),
            ops in proptest::collection::vec((0i64..3000, 0i64..3, any::<bool>()), 0..4000),
        ) {
            let mut book = L2Book::default();
            let mut model: [BTreeMap<i64, i64>; 2] = [BTreeMap::new(), BTreeMap::new()];
            let sb: Vec<PxQty> = snap.iter().map(|&(p, q)| pq(p, q)).collect();
            for l in &sb { model[0].insert(l.px, l.qty); model[1].insert(l.px, l.qty); }
            book.load_snapshot(&sb, &sb, 0);
            for &(px, qty, bid) in &ops {
                book.set(if bid { Side::Buy } else { Side::Sell }, px, qty);
                let m = &mut model[usize::from(!bid)];
                if qty == 0 { m.remove(&px); } else { m.insert(px, qty); }
            }
            book.bids.check();
            book.asks.check();
            prop_assert_eq!(book.bids().collect::<Vec<_>>(), model[0].iter().rev().map(|(&p, &q)| pq(p, q)).collect::<Vec<_>>());
            prop_assert_eq!(book.asks().collect::<Vec<_>>(), model[1].iter().map(|(&p, &q)| pq(p, q)).collect::<Vec<_>>());
            prop_assert_eq!(book.depth(), (model[0].len(), model[1].len()));
        }
    }

    proptest! {
        /// The book equals a BTreeMap model after any sequence of updates.
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
            book.bids.check();
            book.asks.check();
        }
    }
}
