//! The ring is a choice (`rtrb` or crossbeam's `ArrayQueue`) that changes no order: the same
//! replay gives byte-identical orders CSV (vol-target kernel, synthetic Binance market) and the
//! same orders and decisions (options kernel, synthetic Deribit market) on either ring, on one
//! thread and on two.

use testkit as common;

use common::resolved;
use config::session::write_orders_csv;
use engine::clock::Clock;
use engine::kernel::{Kernel, PaperAdapter};
use engine::pipeline::{run_kernel_on, PipelineConfig, RunReport};
use engine::ring::{Crossbeam, Ring, Rtrb};
use engine::sizer::VolTargetSizer;
use engine::source::MemorySource;
use engine::topology::Topology;
use feeds::{BinanceFeed, Registry};
use options::kernel::RecordBuffer;
use options::synthetic::{default_config, OptionsMarket, OptionsMarketSpec};
use synth::{generate, SynthConfig};

const TOPOLOGIES: [&str; 2] = ["single", "feed@0,kernel+exec@1"];

fn vol_target_csv<R: Ring>(frames: &[(u64, Vec<u8>)], topology: &str) -> (Vec<u8>, usize) {
    let res = resolved();
    let mut registry = Registry::new();
    let id = registry.register(&res.symbol, res.market, res.px_scale, res.qty_scale);
    let mut feed = BinanceFeed::new(registry.clone());
    feed.set_snapshot_target(id);
    let sizer = VolTargetSizer::new(id, res.sizing).expect("default sizing");
    let kernel = Kernel::new(&registry, res.kernel, sizer);
    let cfg = PipelineConfig {
        topology: Topology::parse(topology).expect("topology"),
        // Small rings, so that both kinds run full and the back-pressure paths are exercised.
        event_ring: 8,
        order_ring: 2,
        ..res.pipeline.clone()
    };
    let (report, _) = run_kernel_on::<R, _, _, _, _>(
        &cfg,
        MemorySource::new(frames.to_vec()),
        feed,
        kernel,
        PaperAdapter::default(),
        &Clock::new(),
    );
    let mut out = Vec::new();
    write_orders_csv(&mut out, &registry, &report).expect("write to memory");
    (out, report.orders.len())
}

#[test]
fn crossbeam_ring_gives_the_rtrb_orders_on_a_vol_target_replay() {
    let frames = generate(&SynthConfig {
        steps: 6_000,
        ..SynthConfig::default()
    });
    let (want, n) = vol_target_csv::<Rtrb>(&frames, "single");
    assert!(n > 20, "the replay must exercise orders: {n}");
    for topo in TOPOLOGIES {
        assert!(
            vol_target_csv::<Rtrb>(&frames, topo).0 == want,
            "rtrb on {topo}"
        );
        assert!(
            vol_target_csv::<Crossbeam>(&frames, topo).0 == want,
            "crossbeam on {topo}"
        );
    }
}

fn options_run<R: Ring>(m: &OptionsMarket, topology: &str) -> (RunReport, Vec<u8>) {
    let kernel = m
        .kernel(default_config, 3, 20, RecordBuffer::with_capacity(1 << 16))
        .expect("kernel");
    let cfg = PipelineConfig {
        topology: Topology::parse(topology).expect("topology"),
        event_ring: 8,
        order_ring: 2,
        ..PipelineConfig::default()
    };
    let (report, k) = run_kernel_on::<R, _, _, _, _>(
        &cfg,
        MemorySource::new(m.frames.clone()),
        m.feed(),
        kernel,
        PaperAdapter::default(),
        &Clock::new(),
    );
    let mut log = Vec::new();
    k.log().write_jsonl(&mut log).expect("write to memory");
    (report, log)
}

#[test]
fn crossbeam_ring_gives_the_rtrb_orders_and_decisions_on_an_options_replay() {
    let m = OptionsMarket::generate(&OptionsMarketSpec {
        ticks: 1_500,
        ..OptionsMarketSpec::default()
    });
    let (want, want_log) = options_run::<Rtrb>(&m, "single");
    assert!(want.orders.len() > 20, "{} orders", want.orders.len());
    let key = |r: &RunReport| -> Vec<_> {
        r.orders
            .iter()
            .map(|o| (o.id, o.instrument, o.side, o.qty, o.limit_px, o.binding))
            .collect()
    };
    for topo in TOPOLOGIES {
        let (r, log) = options_run::<Crossbeam>(&m, topo);
        assert!(key(&r) == key(&want), "crossbeam orders on {topo}");
        assert!(log == want_log, "crossbeam decisions on {topo}");
    }
}
