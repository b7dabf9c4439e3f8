//! A thread-local tag naming the pipeline stage(s) the current thread runs, for tests and tools
//! that attribute work (for example allocations counted by a test's global allocator) to a stage.
//! Reading it does not allocate.

use std::cell::Cell;

/// Bit of [`current`] set on a thread running the feed stage.
pub const FEED: u8 = 1;
/// Bit set on a thread running the kernel stage.
pub const KERNEL: u8 = 2;
/// Bit set on a thread running the execution stage.
pub const EXEC: u8 = 4;
/// Bit set while the pipeline is past its warm-up (set by [`set_steady`]).
pub const STEADY: u8 = 8;

thread_local! {
    static TAG: Cell<u8> = const { Cell::new(0) };
}

/// Stage bits of the current thread (0 outside the pipeline).
#[must_use]
pub fn current() -> u8 {
    TAG.with(Cell::get)
}

/// Sets the current thread's stage bits (the pipeline does this at thread start).
pub fn set(bits: u8) {
    TAG.with(|t| t.set(bits));
}

/// Marks the current thread as past warm-up.
pub fn set_steady() {
    TAG.with(|t| t.set(t.get() | STEADY));
}
