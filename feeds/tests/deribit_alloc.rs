//! Zero allocations per Deribit frame after warm-up (book snapshots and changes, option
//! tickers, trades), on the real capture.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use feeds::cryptofeed::{read_all, RecordKind};
use feeds::deribit::DeribitFeed;
use feeds::{MarketEvent, Registry};

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
fn no_allocation_per_deribit_frame_after_warm_up() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let recs = read_all(&[dir.join("cryptofeed/DERIBIT.jsonl.zst")]).unwrap();
    let frames: Vec<&[u8]> = recs
        .iter()
        .filter(|r| {
            r.kind == RecordKind::Recv && r.data.starts_with(b"{\"jsonrpc\":\"2.0\",\"method\"")
        })
        .map(|r| &r.data[..])
        .collect();
    assert!(frames.len() > 130);
    let mut feed = DeribitFeed::new(Registry::new());
    let mut events: Vec<MarketEvent> = Vec::with_capacity(4096);
    // Warm-up: first sight of every instrument registers it and sizes its book.
    for f in &frames {
        events.clear();
        feed.on_frame(0, f, &mut |e| events.push(e)).unwrap();
    }
    let before = feed.stats();
    let mut n_events = 0;
    ON.with(|c| c.set(true));
    for f in &frames {
        events.clear();
        feed.on_frame(1, f, &mut |e| events.push(e)).unwrap();
        n_events += events.len();
    }
    ON.with(|c| c.set(false));
    let after = feed.stats();
    // Relaxed: read on the thread that counted.
    assert_eq!(
        ALLOCS.load(Ordering::Relaxed),
        0,
        "allocations in steady state"
    );
    assert_eq!(
        after.gaps, before.gaps,
        "the replay chains again after each snapshot"
    );
    assert_eq!(
        n_events,
        89 + 46 + 2 * 10,
        "option tickers, book BBOs, snapshot markers"
    );
}
