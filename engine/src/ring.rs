//! The rings between the pipeline's stages, as a compile-time choice: `rtrb`'s wait-free SPSC ring
//! ([`Rtrb`], the default and what every stage pair needs) or crossbeam's bounded lock-free
//! `ArrayQueue` ([`Crossbeam`], MPMC, kept as the baseline `ballast bench pipeline --rings`
//! measures against). The pipeline is generic over [`Ring`], so each choice is monomorphized: no
//! dynamic dispatch per push or pop, and the `rtrb` path compiles to what it was before the choice
//! existed. Neither ring is home-made: these are thin adapters.

use std::sync::Arc;

use crossbeam_queue::ArrayQueue;

/// The sending end of a bounded ring.
pub trait RingTx<T>: Send {
    /// Pushes `v`, or hands it back when the ring is full.
    ///
    /// # Errors
    /// The value itself when there is no room.
    fn push(&mut self, v: T) -> Result<(), T>;
}

/// The receiving end of a bounded ring.
pub trait RingRx<T>: Send {
    /// The oldest value, if any.
    fn pop(&mut self) -> Option<T>;

    /// Whether the ring holds nothing (a snapshot: the sender may push right after).
    fn is_empty(&self) -> bool;
}

/// A kind of ring: builds the two ends of one of capacity `n`.
pub trait Ring: 'static {
    /// Stable lowercase name (`rtrb`, `crossbeam`) used in flags, tables and files.
    const NAME: &'static str;
    /// The sending end.
    type Tx<T: Send + 'static>: RingTx<T>;
    /// The receiving end.
    type Rx<T: Send + 'static>: RingRx<T>;

    /// A ring of `capacity` slots (at least 1).
    fn with_capacity<T: Send + 'static>(capacity: usize) -> (Self::Tx<T>, Self::Rx<T>);
}

/// `rtrb`'s wait-free single-producer single-consumer ring.
#[derive(Debug, Clone, Copy)]
pub enum Rtrb {}

impl<T: Send> RingTx<T> for rtrb::Producer<T> {
    #[inline]
    fn push(&mut self, v: T) -> Result<(), T> {
        rtrb::Producer::push(self, v).map_err(|rtrb::PushError::Full(v)| v)
    }
}

impl<T: Send> RingRx<T> for rtrb::Consumer<T> {
    #[inline]
    fn pop(&mut self) -> Option<T> {
        rtrb::Consumer::pop(self).ok()
    }

    #[inline]
    fn is_empty(&self) -> bool {
        rtrb::Consumer::is_empty(self)
    }
}

impl Ring for Rtrb {
    const NAME: &'static str = "rtrb";
    type Tx<T: Send + 'static> = rtrb::Producer<T>;
    type Rx<T: Send + 'static> = rtrb::Consumer<T>;

    fn with_capacity<T: Send + 'static>(capacity: usize) -> (Self::Tx<T>, Self::Rx<T>) {
        rtrb::RingBuffer::new(capacity.max(1))
    }
}

/// crossbeam's bounded lock-free MPMC `ArrayQueue`, used here with one producer and one consumer.
#[derive(Debug, Clone, Copy)]
pub enum Crossbeam {}

/// Sending end of a [`Crossbeam`] ring.
#[derive(Debug)]
pub struct CrossbeamTx<T>(Arc<ArrayQueue<T>>);

/// Receiving end of a [`Crossbeam`] ring.
#[derive(Debug)]
pub struct CrossbeamRx<T>(Arc<ArrayQueue<T>>);

impl<T: Send> RingTx<T> for CrossbeamTx<T> {
    #[inline]
    fn push(&mut self, v: T) -> Result<(), T> {
        self.0.push(v)
    }
}

impl<T: Send> RingRx<T> for CrossbeamRx<T> {
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ring for Crossbeam {
    const NAME: &'static str = "crossbeam";
    type Tx<T: Send + 'static> = CrossbeamTx<T>;
    type Rx<T: Send + 'static> = CrossbeamRx<T>;

    fn with_capacity<T: Send + 'static>(capacity: usize) -> (Self::Tx<T>, Self::Rx<T>) {
        let q = Arc::new(ArrayQueue::new(capacity.max(1)));
        (CrossbeamTx(Arc::clone(&q)), CrossbeamRx(q))
    }
}

/// A ring chosen at run time (flags, configuration); dispatch once, then run the monomorphized
/// pipeline ([`crate::pipeline::run_kernel_on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RingChoice {
    /// The `rtrb` wait-free SPSC ring ([`Rtrb`]).
    Rtrb,
    /// crossbeam's bounded `ArrayQueue` ([`Crossbeam`]).
    Crossbeam,
}

impl RingChoice {
    /// Every choice, in a stable order.
    pub const ALL: [Self; 2] = [Self::Rtrb, Self::Crossbeam];

    /// The ring's name (`rtrb`, `crossbeam`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rtrb => Rtrb::NAME,
            Self::Crossbeam => Crossbeam::NAME,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo<R: Ring>() {
        let (mut tx, mut rx) = R::with_capacity::<u64>(3);
        assert!(rx.is_empty());
        for v in 1..=3 {
            assert_eq!(tx.push(v), Ok(()));
        }
        assert_eq!(
            tx.push(4),
            Err(4),
            "{}: full ring hands the value back",
            R::NAME
        );
        assert_eq!(rx.pop(), Some(1));
        assert_eq!(tx.push(4), Ok(()));
        assert_eq!(
            (rx.pop(), rx.pop(), rx.pop(), rx.pop()),
            (Some(2), Some(3), Some(4), None)
        );
        assert!(rx.is_empty());
    }

    #[test]
    fn both_rings_are_bounded_fifos() {
        fifo::<Rtrb>();
        fifo::<Crossbeam>();
    }
}
