//! The portfolio kernel in the pipeline, on the synthetic multi-market tape of `ballast demo
//! --portfolio` (8 Binance markets, 3 factors, the demo's portfolio): after warm-up the feed and
//! kernel threads allocate nothing per event — parsing, books, touches, sampling, rebalances,
//! the split, orders and records included — counted by a global allocator that attributes each
//! allocation to the pipeline stage of the thread making it.

use engine::clock::Clock;
use engine::kernel::PaperAdapter;
use engine::pipeline::{run_kernel, PipelineConfig};
use engine::source::MemorySource;
use engine::topology::Topology;
use feeds::multi::{tag_frame, InputKind, MultiAdapter, Venue};
use feeds::Registry;
use portfolio::{record_ring, PortfolioKernel, PortfolioSpec, Rebalance};
use synth::portfolio::{generate_portfolio, PortfolioSynthConfig};

use testkit::alloc::{hot_allocs, reset_hot_allocs};

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

#[derive(serde::Deserialize)]
struct File {
    portfolio: PortfolioSpec,
}

#[test]
fn no_allocation_per_event_in_the_portfolio_pipeline() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/portfolio-demo.toml"),
    )
    .unwrap();
    let spec = toml::from_str::<File>(&text).unwrap().portfolio;
    // The demo's market: correlation break, vol shock, liquidity void, a lost diff and its resync.
    let tape = generate_portfolio(&PortfolioSynthConfig::default()).unwrap();
    // Registries: every tape input on its market at its scales, globally and in its adapter.
    let mut global = Registry::new();
    let mut locals = Vec::new();
    let mut kinds = Vec::new();
    for i in &tape.inputs {
        global.register(&i.symbol, i.market, i.px_scale, i.qty_scale);
        let mut r = Registry::new();
        r.register(&i.symbol, i.market, i.px_scale, i.qty_scale);
        locals.push(r);
        kinds.push(InputKind {
            venue: Venue::Binance,
            market: Some(i.market),
        });
    }
    let frames: Vec<(u64, Vec<u8>)> = tape
        .frames
        .iter()
        .map(|(ns, i, f)| {
            let mut buf = Vec::new();
            tag_frame(&mut buf, usize::from(*i), f).unwrap();
            (*ns, buf)
        })
        .collect();
    for topo in ["single", "feed@0,kernel+exec@1"] {
        let template = Rebalance::with_capacity(
            spec.factors.len(),
            spec.instruments.len(),
            spec.accounts.len(),
        );
        // More records than rebalances: the kernel never waits for the (absent) writer.
        let (ring, _drain) = record_ring(&template, 256);
        let kernel = PortfolioKernel::new(spec.clone(), &global, ring).unwrap();
        let feed = MultiAdapter::new(&kinds, global.clone(), locals.clone());
        let cfg = PipelineConfig {
            topology: Topology::parse(topo).unwrap(),
            warmup_events: 2_000,
            exec_sync: true,
            max_instruments: 64,
            ..PipelineConfig::default()
        };
        reset_hot_allocs();
        let (r, k) = run_kernel(
            &cfg,
            MemorySource::new(frames.clone()),
            feed,
            kernel,
            PaperAdapter::default(),
            &Clock::new(),
        );
        let n = hot_allocs();
        let rebalances: u64 = k.portfolio_stats().rebalances.iter().sum();
        assert!(
            rebalances >= 5 && r.orders.len() > 20,
            "the run must exercise rebalances and orders: {rebalances}, {}",
            r.orders.len()
        );
        assert_eq!(
            n, 0,
            "{n} allocations on the feed/kernel threads after warm-up on {topo} ({} events, \
             {rebalances} rebalances)",
            r.feed.events
        );
    }
}
