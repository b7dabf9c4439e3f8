//! The counting global allocator of the zero-allocation tests. A test binary installs it with
//! `#[global_allocator] static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;`.
//!
//! It counts two ways, both cheap enough to leave on:
//! - **per thread**, while [`measure`] runs on that thread: tests of one binary running in
//!   parallel do not see each other's allocations;
//! - **per pipeline stage**, in steady state: every allocation made on a feed or kernel thread
//!   after its warm-up (the thread's [`engine::probe`] tag) adds to [`hot_allocs`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use engine::probe;

/// Forwards to the system allocator and counts `alloc`, `alloc_zeroed` and `realloc` calls.
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Steady-state allocations on feed and kernel threads.
static HOT_ALLOCS: AtomicU64 = AtomicU64::new(0);

fn count() {
    if ON.with(Cell::get) {
        COUNT.with(|c| c.set(c.get() + 1));
    }
    let tag = probe::current();
    if tag & probe::STEADY != 0 && tag & (probe::FEED | probe::KERNEL) != 0 {
        // Relaxed: a plain event counter, read after the pipeline threads are joined.
        HOT_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call unchanged to the system allocator; counting has no side effect on
// the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
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

/// Steady-state allocations made so far on feed and kernel threads (tagged by
/// [`engine::probe`]) by the whole process.
#[must_use]
pub fn hot_allocs() -> u64 {
    // Relaxed: read after the pipeline threads are joined, which orders their increments first.
    HOT_ALLOCS.load(Ordering::Relaxed)
}

/// Sets [`hot_allocs`] back to zero (before a run whose steady state is measured).
pub fn reset_hot_allocs() {
    // Relaxed: called before the pipeline threads start; spawning orders it before them.
    HOT_ALLOCS.store(0, Ordering::Relaxed);
}
