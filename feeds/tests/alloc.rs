//! Zero allocations per frame on the feed thread after warm-up, on the real capture.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use feeds::{BinanceFeed, MarketEvent, Registry};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls made on a thread that
// switched counting on.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ON.with(Cell::get) {
            // Relaxed: a plain counter read after the measured section on the same thread.
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ON.with(Cell::get) {
            // Relaxed: see `alloc`.
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_allocation_per_frame_after_warm_up() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let lines = common::hftbacktest_lines(&dir.join("binance/spot_btcusdt_20240808.gz"));
    let mut feed = BinanceFeed::new(Registry::new());
    let mut events: Vec<MarketEvent> = Vec::with_capacity(4096);
    let warm = 2000;
    for l in &lines[..warm] {
        events.clear();
        feed.on_frame(l.recv_ns, &l.frame, &mut |e| events.push(e))
            .unwrap();
    }
    let id = feed.registry().id("BTCUSDT").unwrap();
    assert!(feed.book(id).unwrap().is_valid(), "synced during warm-up");
    let mut n_events = 0usize;
    ON.with(|c| c.set(true));
    for l in &lines[warm..] {
        events.clear();
        feed.on_frame(l.recv_ns, &l.frame, &mut |e| events.push(e))
            .unwrap();
        n_events += events.len();
    }
    ON.with(|c| c.set(false));
    let allocs = ALLOCS.load(Ordering::Relaxed);
    assert!(n_events > 30_000);
    assert_eq!(
        allocs,
        0,
        "{allocs} allocations over {} frames",
        lines.len() - warm
    );
    assert_eq!(feed.stats().fallback_parses, 0);
}
