//! Zero allocations per event on the feed and kernel threads after warm-up, counted by a global
//! allocator that attributes each allocation to the pipeline stage of the thread making it.

use engine::probe;
use engine::source::MemorySource;
use synth::{generate, SynthConfig};

use testkit as common;

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

use testkit::alloc::{hot_allocs, reset_hot_allocs};

#[test]
fn no_allocation_per_event_on_feed_and_kernel_threads() {
    // Includes a lost diff and a resync after warm-up, so the book's recovery path is covered too.
    let frames = generate(&SynthConfig {
        steps: 6_000,
        gap_at: Some(0.7),
        ..SynthConfig::default()
    });
    for topo in ["single", "feed,kernel+exec", "feed,kernel,exec"] {
        reset_hot_allocs();
        let s = common::run_on(topo, MemorySource::new(frames.clone()));
        let r = &s.report;
        assert!(
            r.feed.events > 20_000 && !r.orders.is_empty(),
            "the run must exercise the path"
        );
        assert_eq!(r.feed.adapter.resyncs, 1);
        let n = hot_allocs();
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
    assert!(hot_allocs() >= 1);
}
