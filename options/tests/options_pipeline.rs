//! The options engine inside the real pipeline: a synthetic Deribit market (BTC and ETH
//! perpetuals, a chain of each, a volatility shock) parsed by the Deribit feed and sized by an
//! `OptionsKernel` through `pipeline::run_kernel` gives the same orders, fills and decisions on
//! one thread and on two pinned threads, and the same orders and decisions as the engines driven
//! directly with paper fills.

use engine::clock::Clock;
use engine::kernel::PaperAdapter;
use engine::order::{Binding, Fill, Order, Reason};
use engine::pipeline::{run_kernel, PipelineConfig, RunReport};
use engine::source::MemorySource;
use engine::topology::Topology;
use feeds::FeedAdapter;
use options::kernel::{OptionsKernel, Record, RecordBuffer};
use options::log::{write_decision, write_order};
use options::synthetic::{default_config, OptionsMarket, OptionsMarketSpec};
use options::{Decision, OptionsEngine, OptionsFill, OptionsOrder, OptionsSink};

const DESIRED_EVERY: usize = 3;
const DESIRED_LOTS: i64 = 20;

fn market() -> OptionsMarket {
    OptionsMarket::generate(&OptionsMarketSpec {
        ticks: 3_000,
        ..OptionsMarketSpec::default()
    })
}

fn run_on(m: &OptionsMarket, topology: &str) -> (RunReport, OptionsKernel) {
    let kernel = m
        .kernel(
            default_config,
            DESIRED_EVERY,
            DESIRED_LOTS,
            RecordBuffer::with_capacity(1 << 16),
        )
        .expect("kernel");
    let cfg = PipelineConfig {
        topology: Topology::parse(topology).expect("topology"),
        ..PipelineConfig::default()
    };
    run_kernel(
        &cfg,
        MemorySource::new(m.frames.clone()),
        m.feed(),
        kernel,
        PaperAdapter::default(),
        &Clock::new(),
    )
}

fn log_bytes(k: &OptionsKernel) -> Vec<u8> {
    let mut out = Vec::new();
    k.log().write_jsonl(&mut out).expect("write to memory");
    out
}

/// Orders without their clock readings.
fn orders(r: &RunReport) -> Vec<Order> {
    r.orders
        .iter()
        .map(|o| Order {
            t_ingest: 0,
            t_push: 0,
            ingest_lag_ns: 0,
            ..*o
        })
        .collect()
}

fn fills(r: &RunReport) -> Vec<Fill> {
    r.fills.iter().map(|f| Fill { t_report: 0, ..*f }).collect()
}

/// The engines' output with global order ids, as the kernel logs it.
struct Direct {
    out: Vec<u8>,
    pending: Vec<OptionsOrder>,
    next_id: u64,
}

impl OptionsSink for Direct {
    fn order(&mut self, o: &OptionsOrder) {
        let o = OptionsOrder {
            id: self.next_id,
            ..*o
        };
        self.next_id += 1;
        write_order(&mut self.out, &o).expect("write to memory");
        self.pending.push(o);
    }
    fn decision(&mut self, d: &Decision) {
        write_decision(&mut self.out, d).expect("write to memory");
    }
}

/// The same market through the Deribit feed into one engine per underlying, by hand: every
/// order filled on paper before the next event (what the pipeline's `exec_sync` does).
fn direct(m: &OptionsMarket) -> Vec<u8> {
    let mut engines: Vec<OptionsEngine> = m
        .underlyings
        .iter()
        .map(|u| {
            let mut e = OptionsEngine::new(&m.registry, default_config(u), u.hedge, &u.chain)
                .expect("engine");
            for (i, s) in u.chain.iter().enumerate() {
                if i % DESIRED_EVERY == 0 {
                    e.set_desired(s.instrument, DESIRED_LOTS);
                }
            }
            e
        })
        .collect();
    let owner = |id: feeds::InstrumentId| {
        m.underlyings
            .iter()
            .position(|u| u.hedge.instrument == id || u.chain.iter().any(|s| s.instrument == id))
    };
    let mut feed = m.feed();
    let mut sink = Direct {
        out: Vec::new(),
        pending: Vec::new(),
        next_id: 1,
    };
    let mut events = Vec::new();
    for (t, f) in &m.frames {
        events.clear();
        assert!(FeedAdapter::on_frame(&mut feed, *t, f, &mut |e| events.push(e)));
        for e in &events {
            let Some(u) = owner(e.instrument) else {
                continue;
            };
            engines[u].on_event(e, 0, &mut sink);
            for o in sink.pending.drain(..) {
                engines[u].on_fill(&OptionsFill::paper(&o));
            }
        }
    }
    sink.out
}

#[test]
fn options_kernel_same_on_every_topology_and_as_the_engines_alone() {
    let m = market();
    let (single, ks) = run_on(&m, "single");
    assert!(single.source_error.is_none());
    assert_eq!(single.feed.rejected, 0, "every synthetic frame parses");
    assert_eq!(ks.rejected(), 0);
    assert_eq!(ks.log().dropped(), 0);
    let log = log_bytes(&ks);

    eprintln!("{:?}", single.kernel);
    // A scenario that exercises both underlyings, hedges and option resizes.
    let n_orders = single.orders.len();
    assert!(n_orders > 50, "too quiet: {n_orders} orders");
    assert_eq!(single.fills.len(), n_orders, "every order has its report");
    for u in &m.underlyings {
        assert!(
            single
                .orders
                .iter()
                .any(|o| o.instrument == u.hedge.instrument),
            "no hedge order on {:?}",
            u.hedge.instrument
        );
    }
    assert!(single.orders.iter().any(|o| o.reason == Reason::OptionBook));
    assert!(
        single
            .orders
            .iter()
            .any(|o| o.reason == Reason::OptionBook && o.binding != Binding::Model),
        "the shock must make a risk constraint size an option order"
    );
    let decisions = ks
        .log()
        .records()
        .iter()
        .filter(|r| matches!(r, Record::Decision(_)))
        .count() as u64;
    assert_eq!(decisions, single.kernel.decisions);
    assert_eq!(single.kernel.orders, n_orders as u64);
    // Orders and the recorded engine orders agree one to one.
    let rec: Vec<&OptionsOrder> = ks
        .log()
        .records()
        .iter()
        .filter_map(|r| match r {
            Record::Order(o) => Some(o),
            Record::Decision(_) => None,
        })
        .collect();
    assert_eq!(rec.len(), n_orders);
    for (o, r) in single.orders.iter().zip(&rec) {
        assert_eq!((o.id, o.instrument, o.side), (r.id, r.instrument, r.side));
        assert!(o.qty > 0 && o.limit_px > 0 && o.vol_forecast.is_finite());
    }
    // Positions in the pipeline's mantissas match the engines' lots.
    for (u, mu) in m.underlyings.iter().enumerate() {
        let eng = &ks.engines()[u];
        let hedge = single
            .instruments
            .iter()
            .find(|i| i.id == mu.hedge.instrument)
            .expect("hedge result");
        assert_eq!(
            hedge.position,
            eng.hedge_position_lots() * (mu.hedge.lot_qty * 1e8).round() as i64
        );
    }

    let want_orders = orders(&single);
    let want_fills = fills(&single);
    for topo in ["single", "feed@0,kernel+exec@1"] {
        let (r, k) = run_on(&m, topo);
        assert!(orders(&r) == want_orders, "orders differ on {topo}");
        assert!(fills(&r) == want_fills, "fills differ on {topo}");
        assert!(
            log_bytes(&k) == log,
            "orders/decisions log differs on {topo}"
        );
    }

    let alone = direct(&m);
    assert!(
        alone == log,
        "the pipeline's orders/decisions differ from the engines driven directly"
    );
}
