//! Mark prices shared between the market-data feed (which writes them) and whatever reads them on
//! another thread (the engine's pre-trade risk gate): a table of atomics owned here, below both,
//! so the feed never reaches into the gate.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Mark prices (mantissas at each instrument's `px_scale`; 0 = unknown), written by the feed
/// thread and read by the gate on the execution thread.
#[derive(Debug, Clone)]
pub struct Marks(Arc<[AtomicI64]>);

impl Marks {
    /// A table for instrument ids `0..n`.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self((0..n).map(|_| AtomicI64::new(0)).collect())
    }

    /// Publishes the mark of instrument `id` (ignored beyond the table).
    #[inline]
    pub fn set(&self, id: crate::InstrumentId, px: i64) {
        if let Some(m) = self.0.get(id.0 as usize) {
            // Relaxed: each slot is an independent value, pairs with the Relaxed load in `get`; no
            // other data is published through it.
            m.store(px, Ordering::Relaxed);
        }
    }

    /// The mark of `id`, 0 when unknown.
    #[inline]
    #[must_use]
    pub fn get(&self, id: crate::InstrumentId) -> i64 {
        // Relaxed: pairs with the Relaxed store in `set`.
        self.0
            .get(id.0 as usize)
            .map_or(0, |m| m.load(Ordering::Relaxed))
    }
}
