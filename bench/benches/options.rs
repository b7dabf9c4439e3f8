//! The options engine's per-tick cost: one hedge tick in → full Black-76 revaluation of the
//! chain, portfolio Greeks, the sizing policy, all orders out — for chains of 100, 1,000 and
//! 10,000 options, beside two baselines measured in the same run: the core-to-core round trip
//! (`lab::c2c::round_trip`, the floor of any thread hand-off) and the bare Greeks batch of the
//! same chain (`risk_core::greeks::greeks_batch`), so the sizing overhead shows as a ratio.
//!
//! Every underlying tick moves the mid, so every tick revalues the whole chain. 10 % of the
//! options are in the desired book with a tight gamma cap, so the policy scales and resizes every
//! pass. Figures: median (and fastest) of 31 repetitions of a block of ticks, ns per tick.
//! Targets on one core: 1,000 options ≤ 20 µs, 10,000 ≤ 150 µs. `-- --per-tick-only` prints this
//! table alone.
//!
//! Then the full pipeline for a 1,000-option book on the 2-core topology (`feed@0,kernel+exec@1`):
//! synthetic Deribit frames (perpetual tickers and option tickers) offered at a fixed rate through
//! the Deribit feed, the options kernel and the paper execution stage, on each ring; tick-to-order
//! p50/p99/p99.9 corrected for coordinated omission (from each frame's intended send time),
//! beside the core-to-core round trip measured just before and after, and their ratio. Target:
//! tick-to-order p50 ≤ 25 µs.

use std::hint::black_box;
use std::time::Instant;

use engine::clock::Clock;
use engine::latency::{fmt_ns, Hop};
use engine::pipeline::Backpressure;
use engine::ring::RingChoice;
use engine::topology::{available_cores, Topology};
use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{InstrumentId, MarketEvent};
use lab::bench::{options_market, run_options_case, time_compression, PipelineBench, PipelineCase};
use lab::load::{Injection, RateSource};
use options::{
    Decision, OptionSpec, OptionsConfig, OptionsEngine, OptionsFill, OptionsOrder, OptionsSink,
};
use risk_core::greeks::{greeks_batch, BatchInputs, BatchOutputs, LaneStatus, Model, Tier};
use testkit::options::{Chain, DAY_NS, T0};

const S: f64 = 50_000.0;
const REPS: usize = 31;

#[derive(Default)]
struct Sink {
    orders: Vec<OptionsOrder>,
    decisions: u64,
}

impl OptionsSink for Sink {
    fn order(&mut self, o: &OptionsOrder) {
        self.orders.push(*o);
    }
    fn decision(&mut self, d: &Decision) {
        self.decisions += u64::from(d.orders);
    }
}

fn bbo(id: InstrumentId, t: u64, mid: f64) -> MarketEvent {
    testkit::options::bbo(id, t, mid, 0.5, 1e6)
}

struct Book {
    eng: OptionsEngine,
    hedge: InstrumentId,
    specs: Vec<OptionSpec>,
}

fn build(n: usize) -> Book {
    let mut chain = Chain::default();
    for i in 0..n {
        chain.option(
            &format!("OPT-{i}"),
            S * (0.5 + (i % 97) as f64 / 97.0),
            T0 + (1 + (i % 13) as u64 * 28) * DAY_NS,
            i % 2 == 0,
        );
    }
    let cfg = OptionsConfig {
        delta_band: 0.05,
        max_abs_gamma: 1e-4 * (n as f64 / 100.0),
        collateral_coin: 1e4,
        ..testkit::options::config()
    };
    let mut eng = chain.engine(cfg).expect("engine");
    let Chain { hedge, specs, .. } = chain;
    let mut sink = Sink::default();
    for (i, s) in specs.iter().enumerate() {
        if i % 10 == 0 {
            eng.set_desired(s.instrument, 50);
        }
        let t = OptionTicker {
            underlying_px: S,
            mark_px: 0.05,
            mark_iv: 0.5 + 0.2 * ((s.strike / S).ln()).abs(),
            bid_iv: 0.0,
            ask_iv: 0.0,
        };
        eng.on_event(&option_ticker(s.instrument, T0, T0, &t), 0, &mut sink);
    }
    Book { eng, hedge, specs }
}

/// ns per tick: (median, fastest) over REPS blocks of `ticks` hedge ticks, every order filled.
fn per_tick(b: &mut Book, ticks: usize) -> (f64, f64, f64) {
    let mut sink = Sink::default();
    sink.orders.reserve(1 << 16);
    let mut xs = Vec::with_capacity(REPS);
    let mut t = T0 + 1;
    let mut orders = 0usize;
    for _ in 0..REPS {
        let start = Instant::now();
        for k in 0..ticks {
            t += 1_000_000;
            let mid = S + if k % 2 == 0 { 5.0 } else { -5.0 };
            b.eng.on_event(&bbo(b.hedge, t, mid), 0, &mut sink);
            for o in sink.orders.drain(..) {
                b.eng.on_fill(&OptionsFill::paper(&o));
                orders += 1;
            }
        }
        xs.push(start.elapsed().as_nanos() as f64 / ticks as f64);
    }
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    (
        ballast_bench::median(&mut xs),
        min,
        orders as f64 / (REPS * ticks) as f64,
    )
}

/// ns per bare Greeks batch over the same chain (no sizing).
fn bare_batch(b: &Book, ticks: usize) -> f64 {
    let n = b.specs.len();
    let strike: Vec<f64> = b.specs.iter().map(|s| s.strike).collect();
    let t_years: Vec<f64> = b
        .specs
        .iter()
        .map(|s| (s.expiry_ns - T0) as f64 / (365.0 * DAY_NS as f64))
        .collect();
    let vol: Vec<f64> = b.eng.chain().mark_iv.clone();
    let rate = vec![0.0; n];
    let is_call: Vec<bool> = b.specs.iter().map(|s| s.is_call).collect();
    let mut und = vec![S; n];
    let (mut p, mut d, mut g, mut v, mut th) = (
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
        vec![0.0; n],
    );
    let mut st = vec![LaneStatus::Ok; n];
    let mut xs = Vec::with_capacity(REPS);
    for _ in 0..REPS {
        let start = Instant::now();
        for k in 0..ticks {
            let s = S + if k % 2 == 0 { 5.0 } else { -5.0 };
            und.iter_mut().for_each(|u| *u = s);
            let inp = BatchInputs {
                model: Model::Black76,
                underlying: &und,
                strike: &strike,
                t_years: &t_years,
                vol: &vol,
                rate: &rate,
                carry_q: &[],
                is_call: &is_call,
            };
            let mut out = BatchOutputs {
                price: &mut p,
                delta: &mut d,
                gamma: &mut g,
                vega: &mut v,
                theta: &mut th,
                rho: &mut [],
                vanna: &mut [],
                volga: &mut [],
                status: &mut st,
            };
            greeks_batch(black_box(&inp), Tier::PriceAnd4, &mut out).expect("shapes");
            black_box(&d);
        }
        xs.push(start.elapsed().as_nanos() as f64 / ticks as f64);
    }
    ballast_bench::median(&mut xs)
}

fn main() {
    per_tick_table();
    // `cargo bench --bench options -- --per-tick-only`: the kernel table alone.
    if !std::env::args().any(|a| a == "--per-tick-only") {
        full_pipeline();
    }
}

fn per_tick_table() {
    let rt = lab::c2c::round_trip(0, 1, 201, 1000);
    println!(
        "core-to-core round trip (cores 0↔1, pinned={}): median {:.0} ns, p99 {:.0} ns",
        rt.pinned, rt.median_ns, rt.p99_ns
    );
    println!();
    println!(
        "{:>8} {:>14} {:>12} {:>16} {:>12} {:>10} {:>12} {:>8}",
        "options",
        "tick→orders",
        "fastest",
        "bare greeks",
        "sizing/bare",
        "vs c2c",
        "orders/tick",
        "target"
    );
    for (n, ticks, target_ns) in [
        (100, 2000, None),
        (1_000, 400, Some(20_000.0)),
        (10_000, 40, Some(150_000.0)),
    ] {
        let mut b = build(n);
        let (med, min, opt) = per_tick(&mut b, ticks);
        let bare = bare_batch(&b, ticks);
        let verdict = match target_ns {
            Some(t) if med <= t => format!("≤{:.0}µs ok", t / 1e3),
            Some(t) => format!(">{:.0}µs", t / 1e3),
            None => "-".to_string(),
        };
        println!(
            "{:>8} {:>11.0} ns {:>9.0} ns {:>13.0} ns {:>12.2} {:>9.1}× {:>12.3} {:>8}",
            n,
            med,
            min,
            bare,
            med / bare,
            med / rt.median_ns,
            opt,
            verdict
        );
    }
}

/// Frames offered per second and seconds per ring in the pipeline section.
const PIPELINE_RATE: f64 = 5_000.0;
const PIPELINE_SECONDS: f64 = 4.0;

fn full_pipeline() {
    let cores = available_cores();
    let pair = (
        cores.first().copied().unwrap_or(0),
        cores.get(1).copied().unwrap_or(0),
    );
    let topology = "feed@0,kernel+exec@1";
    let n = (PIPELINE_RATE * PIPELINE_SECONDS) as usize;
    let market = options_market(1_000, n, 7);
    let compression = time_compression(&market.frames, PIPELINE_RATE);
    let bench = PipelineBench {
        rate_per_s: PIPELINE_RATE,
        backpressure: Backpressure::Block,
        interval_ns: 1_000_000_000,
        inject: Injection::default(),
    };
    let case = PipelineCase {
        name: topology.into(),
        topology: Topology::parse(topology).expect("topology"),
    };
    let clock = Clock::new();
    println!();
    println!(
        "full pipeline, 1,000-option book, {topology}: {} frames at {PIPELINE_RATE:.0}/s \
         (perpetual ticker + option ticker per tick), Deribit feed → options kernel → paper",
        market.frames.len()
    );
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>8} {:>12} {:>12} {:>11} {:>10}",
        "ring", "p50", "p99", "p99.9", "orders", "c2c before", "c2c after", "p50/c2c", "target"
    );
    for ring in RingChoice::ALL {
        let before = lab::c2c::round_trip(pair.0, pair.1, 201, 1000).median_ns;
        let source = RateSource::new(market.frames.clone(), PIPELINE_RATE, market.frames.len());
        let r = run_options_case(&bench, &case, ring, &market, compression, source, &clock)
            .expect("options kernel");
        let after = lab::c2c::round_trip(pair.0, pair.1, 201, 1000).median_ns;
        let h = r.report.latency.get(Hop::TickToOrderCorrected);
        let q = |p: f64| h.value_at_percentile(p);
        let c2c = 0.5 * (before + after);
        println!(
            "{:>10} {:>10} {:>10} {:>10} {:>8} {:>9.0} ns {:>9.0} ns {:>10.1}× {:>10}",
            ring.name(),
            fmt_ns(q(50.0)),
            fmt_ns(q(99.0)),
            fmt_ns(q(99.9)),
            h.len(),
            before,
            after,
            q(50.0) as f64 / c2c.max(1.0),
            if h.is_empty() {
                "no orders"
            } else if q(50.0) <= 25_000 {
                "≤25µs ok"
            } else {
                ">25µs"
            }
        );
        for w in &r.report.warnings {
            println!("{:>10} warning: {w}", "");
        }
    }
}
