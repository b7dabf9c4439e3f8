//! Zero allocations per event on the feed and kernel threads after warm-up, counted by a global
//! allocator that attributes each allocation to the pipeline stage of the thread making it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use engine::probe;
use engine::source::MemorySource;
use engine::synth::{generate, SynthConfig};

mod common;

struct Counting;

static HOT_ALLOCS: AtomicU64 = AtomicU64::new(0);

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

#[test]
fn no_allocation_per_event_on_feed_and_kernel_threads() {
    // Includes a lost diff and a resync after warm-up, so the book's recovery path is covered too.
    let frames = generate(&SynthConfig {
        steps: 6_000,
        gap_at: Some(0.7),
        ..SynthConfig::default()
    });
    for topo in ["single", "feed,kernel+exec", "feed,kernel,exec"] {
        HOT_ALLOCS.store(0, Ordering::Relaxed);
        let s = common::run_on(topo, MemorySource::new(frames.clone()));
        let r = &s.report;
        assert!(
            r.feed.events > 20_000 && !r.orders.is_empty(),
            "the run must exercise the path"
        );
        assert_eq!(r.feed.adapter.resyncs, 1);
        let n = HOT_ALLOCS.load(Ordering::Relaxed);
        assert_eq!(
            n, 0,
            "{n} allocations on the feed/kernel threads after warm-up on {topo} ({} events)",
            r.feed.events
        );
    }
    // The counter does count: an allocation on a thread tagged as steady feed is seen.
    std::thread::spawn(|| {
        probe::set(probe::FEED);
        probe::set_steady();
        std::hint::black_box(vec![1u8; 64]);
    })
    .join()
    .unwrap();
    assert!(HOT_ALLOCS.load(Ordering::Relaxed) >= 1);
}
