//! Back-pressure: when the kernel falls behind, `conflate` replaces pending best-bid/offer events
//! (counted) but never drops a trade, gap or snapshot marker, and `block` loses nothing at all.

use engine::clock::Clock;
use engine::kernel::{Kernel, KernelConfig};
use engine::pipeline::{run, Backpressure, PipelineConfig, Speed};
use engine::sizer::{Sizer, Target, TickView};
use engine::source::MemorySource;
use engine::topology::Topology;
use feeds::{BinanceFeed, Market, Registry};
use synth::{generate, SynthConfig};

/// A sizer that takes `spin_ns` per tick and never trades: a kernel slower than the feed.
struct Slow {
    spin_ns: u64,
    clock: Clock,
}

impl Sizer for Slow {
    fn on_tick(&mut self, _v: &TickView<'_>) -> Option<Target> {
        let t0 = self.clock.raw();
        while self.clock.delta_ns(t0, self.clock.raw()) < self.spin_ns {
            std::hint::spin_loop();
        }
        None
    }
}

fn run_with(bp: Backpressure) -> engine::pipeline::RunReport {
    let frames = generate(&SynthConfig {
        steps: 3_000,
        gap_at: Some(0.5),
        ..SynthConfig::default()
    });
    let mut reg = Registry::new();
    let id = reg.register("BTCUSDT", Market::BinanceSpot, 8, 8);
    let mut feed = BinanceFeed::new(reg.clone());
    feed.set_snapshot_target(id);
    let clock = Clock::new();
    let kernel = Kernel::new(
        &reg,
        KernelConfig {
            lot_qty: 1000,
            min_qty: 1000,
            cap_to_touch: true,
        },
        Slow {
            spin_ns: 20_000,
            clock: clock.clone(),
        },
    );
    let cfg = PipelineConfig {
        topology: Topology::parse("feed,kernel+exec").unwrap(),
        event_ring: 16,
        backpressure: bp,
        speed: Speed::Max,
        ..PipelineConfig::default()
    };
    run(&cfg, MemorySource::new(frames), feed, kernel, &clock)
}

#[test]
fn conflation_drops_only_stale_bbo_and_counts_them() {
    let blocked = run_with(Backpressure::Block);
    assert_eq!(blocked.feed.conflated, 0);
    let conflated = run_with(Backpressure::Conflate);
    assert!(
        conflated.feed.conflated > 0,
        "a 20 µs kernel behind a 16-slot ring must conflate"
    );
    // Every event the feed produced either reached the kernel or was counted as conflated.
    assert_eq!(
        conflated.feed.events + conflated.feed.conflated,
        blocked.feed.events
    );
    assert_eq!(conflated.kernel.events, conflated.feed.events);
    // Trades, gaps and resyncs are never conflated.
    assert_eq!(conflated.kernel.trades, blocked.kernel.trades);
    assert_eq!(conflated.kernel.gaps, blocked.kernel.gaps);
    assert_eq!(conflated.kernel.resyncs, blocked.kernel.resyncs);
    assert_eq!(
        blocked.kernel.bbo - conflated.kernel.bbo,
        conflated.feed.conflated
    );
}
