//! A global allocator that counts allocations made on the current thread while counting is on,
//! for the zero-allocation tests. Each test binary installs it with
//! `#[global_allocator] static GLOBAL: counting::Counting = counting::Counting;`. Counts are per
//! thread, so tests of one binary running in parallel do not see each other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Forwards to the system allocator; counts `alloc` and `realloc` calls while [`measure`] runs.
pub struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    if ON.with(Cell::get) {
        COUNT.with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls made on a thread that
// switched counting on.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

/// Runs `f` with counting on for this thread; returns its result and the allocations it made.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = COUNT.with(Cell::get);
    ON.with(|c| c.set(true));
    let r = f();
    ON.with(|c| c.set(false));
    (r, COUNT.with(Cell::get) - before)
}
