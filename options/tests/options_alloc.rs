//! The options engine allocates nothing per event once started, counted on the engine's thread by
//! a global allocator: hedge ticks (full revaluation, sizing, orders), option tickers (single
//! revaluation) and fills; and the same with the implied-volatility surface and GARCH(1,1) on
//! (forecasts, and an SVI refit of the ticker's expiry on every option ticker).

use testkit::alloc as counting;

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{flags, EventKind, MarketEvent, PxQty};
use options::{OptionSpec, OptionsConfig, OptionsEngine, OptionsFill, SurfaceConfig, VolSource};
use risk_core::vol::Garch11Params;
use testkit::options::{Chain, Tally, DAY_NS, T0};

/// The book (64 options over `expiries` weekly expiries on a perpetual hedge) and its engine.
fn engine(
    vol_source: VolSource,
    expiries: u64,
    with_surface_and_garch: bool,
) -> (OptionsEngine, Vec<OptionSpec>, feeds::InstrumentId) {
    let mut chain = Chain::default();
    for i in 0..64_u32 {
        chain.option(
            &format!("O{i}"),
            30_000.0 + 500.0 * f64::from(i),
            T0 + (7 + 7 * (u64::from(i) % expiries)) * DAY_NS,
            i % 2 == 0,
        );
    }
    let cfg = OptionsConfig {
        delta_band: 0.1,
        max_abs_gamma: 5e-4,
        max_abs_vega_per_vol_point: 3_000.0,
        collateral_coin: 5.0,
        max_leverage: 10.0,
        liquidity_frac: 0.5,
        vol_source,
        ewma_lambda: 0.9,
        ..testkit::options::config()
    };
    let mut eng = chain
        .engine(cfg)
        .and_then(|e| {
            if with_surface_and_garch {
                e.with_surface(SurfaceConfig::default()).and_then(|e| {
                    e.with_garch(Garch11Params::new(1e-9, 0.08, 0.9).expect("params"))
                })
            } else {
                Ok(e)
            }
        })
        .expect("engine");
    for s in &chain.specs {
        eng.set_desired(s.instrument, 20);
    }
    (eng, chain.specs, chain.hedge)
}

/// 2,000 hedge ticks, each followed by a ticker of one option; `smile` adds a strike smile that
/// drifts over time, so that every surface refit has work to do.
fn market(specs: &[OptionSpec], hedge: feeds::InstrumentId, smile: bool) -> Vec<MarketEvent> {
    let mut events = Vec::with_capacity(4_000);
    for k in 0..2_000u64 {
        let t = T0 + k * 300_000_000;
        let px = 50_000.0 + 400.0 * ((k as f64) * 0.05).sin();
        let mut e = MarketEvent::new(EventKind::Bbo, hedge, t);
        e.flags = flags::BOOK_VALID;
        e.bid = PxQty {
            px: ((px - 0.5) * 1e8) as i64,
            qty: 20_000 * 100_000_000,
        };
        e.ask = PxQty {
            px: ((px + 0.5) * 1e8) as i64,
            qty: 20_000 * 100_000_000,
        };
        events.push(e);
        let s = &specs[(k as usize * 7) % specs.len()];
        let m = (s.strike / px).ln();
        let skew = if smile { 0.4 * m * m - 0.1 * m } else { 0.0 };
        let iv = 0.5 + 0.3 * ((k as f64) * 0.01).sin().abs() + skew;
        events.push(option_ticker(
            s.instrument,
            t + 1,
            t + 1,
            &OptionTicker {
                underlying_px: px,
                mark_px: 0.03,
                mark_iv: iv,
                bid_iv: iv - 0.01,
                ask_iv: iv + 0.01,
            },
        ));
    }
    events
}

/// Warms up on the first half of `events` (tickers seen, forecasts seeded), then counts the
/// allocations of the second half; asserts that the measured half traded.
fn steady_state_allocs(eng: &mut OptionsEngine, events: &[MarketEvent]) -> u64 {
    let mut sink = Tally {
        orders: Vec::with_capacity(1 << 16),
        decisions: 0,
    };
    let run = |eng: &mut OptionsEngine, sink: &mut Tally, evs: &[MarketEvent]| {
        for e in evs {
            eng.on_event(e, 0, sink);
            for i in 0..sink.orders.len() {
                let f = OptionsFill::paper(&sink.orders[i]);
                eng.on_fill(&f);
            }
            sink.orders.clear();
        }
    };
    let (warm, measured) = events.split_at(events.len() / 2);
    run(eng, &mut sink, warm);
    let orders_before = eng.stats().orders;
    let ((), allocs) = counting::measure(|| run(eng, &mut sink, measured));
    assert!(
        eng.stats().orders > orders_before,
        "the measured half must trade to mean anything"
    );
    allocs
}

/// The counter is live in this binary (so a zero below means something).
#[test]
fn counter_counts() {
    let (v, k) = counting::measure(|| std::hint::black_box(vec![1u8; 64]));
    assert_eq!((v.len(), k), (64, 1));
}

#[test]
fn steady_state_events_do_not_allocate() {
    let vol = VolSource::Blend {
        forecast_weight: 0.5,
    };
    let (mut eng, specs, hedge) = engine(vol, 5, false);
    let events = market(&specs, hedge, false);
    let allocs = steady_state_allocs(&mut eng, &events);
    assert_eq!(allocs, 0, "allocations during {} events", events.len() / 2);
}

#[test]
fn steady_state_with_surface_and_garch_does_not_allocate() {
    let vol = VolSource::GarchBlend {
        forecast_weight: 0.5,
    };
    let (mut eng, specs, hedge) = engine(vol, 4, true);
    let events = market(&specs, hedge, true);
    let allocs = steady_state_allocs(&mut eng, &events);
    let surf = eng.surface().expect("surface");
    assert!(
        surf.stats().svi_fits > 1_000,
        "the surface must refit SVI smiles: {:?}",
        surf.stats()
    );
    assert!(eng.vol_garch().is_some());
    assert_eq!(allocs, 0, "allocations during {} events", events.len() / 2);
}
