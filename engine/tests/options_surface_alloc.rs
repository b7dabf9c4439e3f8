//! The options engine with the implied-volatility surface and GARCH(1,1) on allocates nothing per
//! event once started: hedge ticks (forecasts, full revaluation, sizing, orders), option tickers
//! (single revaluation and an SVI refit of the ticker's expiry) and fills, counted by a global
//! allocator. (Its own test binary: the counter is process-wide.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use engine::options::{
    HedgeSpec, OptionSpec, OptionsConfig, OptionsEngine, OptionsFill, OptionsOrder, OptionsSink,
    SurfaceConfig, VolSource,
};
use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{flags, EventKind, Market, MarketEvent, PxQty, Registry};
use risk_core::greeks_limits::HedgeTo;
use risk_core::margin::Contract;
use risk_core::vol::Garch11Params;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // Relaxed: a statistic read after the measured section on the same thread.
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `alloc` above with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // Relaxed: as in `alloc`.
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Sink {
    orders: Vec<OptionsOrder>,
    decisions: u64,
}

impl OptionsSink for Sink {
    fn order(&mut self, o: &OptionsOrder) {
        self.orders.push(*o);
    }
    fn decision(&mut self, _d: &engine::options::Decision) {
        self.decisions += 1;
    }
}

const T0: u64 = 1_700_000_000_000_000_000;
const DAY_NS: u64 = 86_400_000_000_000;

#[test]
fn steady_state_with_surface_and_garch_does_not_allocate() {
    let mut reg = Registry::new();
    let hedge = reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
    let specs: Vec<OptionSpec> = (0..64_u32)
        .map(|i| OptionSpec {
            instrument: reg.register(&format!("O{i}"), Market::Deribit, 8, 8),
            strike: 30_000.0 + 500.0 * f64::from(i),
            expiry_ns: T0 + (7 + 7 * (i as u64 % 4)) * DAY_NS,
            is_call: i % 2 == 0,
            lot_qty: 0.1,
            min_lots: 1,
        })
        .collect();
    let cfg = OptionsConfig {
        delta_band: 0.1,
        hedge_to: HedgeTo::Edge,
        max_abs_gamma: 5e-4,
        max_abs_vega_per_vol_point: 3_000.0,
        collateral_coin: 5.0,
        mmr: 0.005,
        buffer_k: 3.0,
        buffer_horizon_days: 1.0,
        max_margin_ratio: 1.0,
        max_leverage: 10.0,
        liquidity_frac: 0.5,
        rebalance_frac: 0.0,
        vol_source: VolSource::GarchBlend {
            forecast_weight: 0.5,
        },
        ewma_lambda: 0.9,
        ewma_warmup: 2,
        sample_interval_ns: 1_000_000_000,
    };
    let hs = HedgeSpec {
        instrument: hedge,
        contract: Contract::Inverse,
        lot_qty: 10.0,
        min_lots: 1,
    };
    let mut eng = OptionsEngine::new(&reg, cfg, hs, &specs)
        .and_then(|e| e.with_surface(SurfaceConfig::default()))
        .and_then(|e| e.with_garch(Garch11Params::new(1e-9, 0.08, 0.9).expect("params")))
        .expect("engine");
    for s in &specs {
        eng.set_desired(s.instrument, 20);
    }
    let mut sink = Sink {
        orders: Vec::with_capacity(1 << 16),
        decisions: 0,
    };
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
        // A smile in strike that drifts over time, so every refit has work to do.
        let m = (s.strike / px).ln();
        let iv = 0.5 + 0.3 * ((k as f64) * 0.01).sin().abs() + 0.4 * m * m - 0.1 * m;
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
    let run = |eng: &mut OptionsEngine, sink: &mut Sink, evs: &[MarketEvent]| {
        for e in evs {
            eng.on_event(e, 0, sink);
            for i in 0..sink.orders.len() {
                let f = OptionsFill::paper(&sink.orders[i]);
                eng.on_fill(&f);
            }
            sink.orders.clear();
        }
    };
    // Warm up on the first half (tickers seen, forecast seeded), then count on the second.
    let (warm, measured) = events.split_at(events.len() / 2);
    run(&mut eng, &mut sink, warm);
    let before = ALLOCS.load(Ordering::Relaxed);
    let orders_before = eng.stats().orders;
    run(&mut eng, &mut sink, measured);
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert!(
        eng.stats().orders > orders_before,
        "the measured half must trade to mean anything"
    );
    let surf = eng.surface().expect("surface");
    assert!(
        surf.stats().svi_fits > 1_000,
        "the surface must refit SVI smiles: {:?}",
        surf.stats()
    );
    assert!(eng.vol_garch().is_some());
    assert_eq!(allocs, 0, "allocations during {} events", measured.len());
}
