//! The options kernel in the pipeline allocates nothing per event after warm-up on the feed and
//! kernel threads (Deribit parsing, routing, revaluation and sizing of both chains, order
//! conversion, the decisions buffer), counted by a global allocator that attributes each
//! allocation to the pipeline stage of the thread making it.

use engine::clock::Clock;
use engine::kernel::PaperAdapter;
use engine::pipeline::{run_kernel, PipelineConfig};
use engine::probe;
use engine::source::MemorySource;
use engine::topology::Topology;
use options::kernel::RecordBuffer;
use options::synthetic::{default_config, OptionsMarket, OptionsMarketSpec};

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

use testkit::alloc::{hot_allocs, reset_hot_allocs};

#[test]
fn no_allocation_per_event_in_the_options_pipeline() {
    let m = OptionsMarket::generate(&OptionsMarketSpec {
        ticks: 3_000,
        ..OptionsMarketSpec::default()
    });
    for topo in ["single", "feed,kernel+exec", "feed@0,kernel+exec@1"] {
        let kernel = m
            .kernel(default_config, 3, 20, RecordBuffer::with_capacity(1 << 16))
            .expect("kernel");
        let cfg = PipelineConfig {
            topology: Topology::parse(topo).expect("topology"),
            warmup_events: 500,
            ..PipelineConfig::default()
        };
        reset_hot_allocs();
        let (r, k) = run_kernel(
            &cfg,
            MemorySource::new(m.frames.clone()),
            m.feed(),
            kernel,
            PaperAdapter::default(),
            &Clock::new(),
        );
        let n = hot_allocs();
        assert!(
            r.orders.len() > 100 && k.log().records().len() > r.orders.len(),
            "the run must exercise orders and decisions: {} orders",
            r.orders.len()
        );
        assert_eq!(
            n, 0,
            "{n} allocations on the feed/kernel threads after warm-up on {topo} ({} events)",
            r.feed.events
        );
    }
    // The counter does count: an allocation on a thread tagged as steady kernel is seen.
    std::thread::spawn(|| {
        probe::set(probe::KERNEL);
        probe::set_steady();
        std::hint::black_box(vec![1u8; 64]);
    })
    .join()
    .expect("probe thread");
    assert!(hot_allocs() > 0);
}
