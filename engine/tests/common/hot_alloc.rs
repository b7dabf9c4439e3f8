//! The global allocator of the pipeline's zero-allocation tests: counts each allocation made on a
//! feed or kernel thread in steady state (after warm-up), by the stage tag of the thread making it
//! ([`engine::probe`]). A test binary includes it with
//! `#[path = "common/hot_alloc.rs"] mod hot_alloc;` and reads [`HOT_ALLOCS`] after the run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use engine::probe;

pub struct Counting;

/// Steady-state allocations on feed and kernel threads.
pub static HOT_ALLOCS: AtomicU64 = AtomicU64::new(0);

fn count() {
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

#[global_allocator]
static GLOBAL: Counting = Counting;
