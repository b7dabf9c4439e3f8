//! A seeded synthetic market (random-walk underlying, an option chain with a smile, a volatility
//! shock halfway) through the options engine with paper fills: the JSON-lines log of orders and
//! decisions is byte-identical across two runs, portfolio delta after every band hedge is inside
//! the band, and no gamma or vega cap is exceeded after any decision.

use engine::options::log::{write_decision, write_order};
use engine::options::{
    Decision, HedgeSpec, OptionSpec, OptionsConfig, OptionsEngine, OptionsFill, OptionsOrder,
    OptionsSink, VolSource,
};
use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{flags, EventKind, Market, MarketEvent, PxQty, Registry};
use risk_core::greeks_limits::HedgeTo;
use risk_core::margin::Contract;

const DAY_NS: u64 = 86_400_000_000_000;
const T0: u64 = 1_700_000_000_000_000_000;

struct Log {
    out: Vec<u8>,
    pending: Vec<OptionsOrder>,
}

impl OptionsSink for Log {
    fn order(&mut self, o: &OptionsOrder) {
        write_order(&mut self.out, o).expect("vec write");
        self.pending.push(*o);
    }
    fn decision(&mut self, d: &Decision) {
        write_decision(&mut self.out, d).expect("vec write");
    }
}

/// xorshift64*: a fixed, seeded sequence in [0, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn cfg() -> OptionsConfig {
    OptionsConfig {
        delta_band: 0.3,
        hedge_to: HedgeTo::Edge,
        max_abs_gamma: 6e-4,
        max_abs_vega_per_vol_point: 2_500.0,
        collateral_coin: 2.0,
        mmr: 0.005,
        buffer_k: 3.0,
        buffer_horizon_days: 1.0,
        max_margin_ratio: 1.0,
        max_leverage: 5.0,
        liquidity_frac: 0.5,
        rebalance_frac: 0.1,
        vol_source: VolSource::Blend {
            forecast_weight: 0.5,
        },
        ewma_lambda: 0.94,
        ewma_warmup: 5,
        sample_interval_ns: 1_000_000_000,
    }
}

fn run() -> (Vec<u8>, engine::options::OptionsStats) {
    let mut reg = Registry::new();
    let hedge = reg.register("BTC-PERPETUAL", Market::Deribit, 8, 8);
    let mut specs = Vec::new();
    for e in 0..3u64 {
        for k in 0..8 {
            let id = reg.register(&format!("BTC-{e}-{k}-C"), Market::Deribit, 8, 8);
            specs.push(OptionSpec {
                instrument: id,
                strike: 40_000.0 + 2_500.0 * f64::from(k),
                expiry_ns: T0 + (7 + 30 * e) * DAY_NS,
                is_call: true,
                lot_qty: 0.1,
                min_lots: 1,
            });
        }
    }
    let hs = HedgeSpec {
        instrument: hedge,
        contract: Contract::Inverse,
        lot_qty: 10.0,
        min_lots: 1,
    };
    let mut eng = OptionsEngine::new(&reg, cfg(), hs, &specs).expect("engine");
    for (i, s) in specs.iter().enumerate() {
        eng.set_desired(s.instrument, 10 + (i as i64 % 5) * 5);
    }
    let mut log = Log {
        out: Vec::new(),
        pending: Vec::new(),
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut px = 50_000.0_f64;
    for tick in 0..3_000u64 {
        let t = T0 + tick * 250_000_000;
        let shock = if tick >= 1_500 { 2.5 } else { 1.0 };
        px *= 1.0 + 0.0008 * shock * (rng.next() - 0.5);
        let mut e = MarketEvent::new(EventKind::Bbo, hedge, t);
        e.flags = flags::BOOK_VALID;
        let depth = ((5_000.0 + 50_000.0 * rng.next()) * 1e8) as i64;
        e.bid = PxQty {
            px: ((px - 0.5) * 1e8).round() as i64,
            qty: depth,
        };
        e.ask = PxQty {
            px: ((px + 0.5) * 1e8).round() as i64,
            qty: depth,
        };
        eng.on_event(&e, 0, &mut log);
        if tick % 7 == 0 {
            let i = (rng.next() * specs.len() as f64) as usize;
            let m = (specs[i].strike / px).ln();
            let iv = (0.55 + 0.8 * m * m - 0.1 * m) * shock.sqrt();
            let ev = option_ticker(
                specs[i].instrument,
                t + 1,
                t + 1,
                &OptionTicker {
                    underlying_px: px,
                    mark_px: 0.02,
                    mark_iv: iv,
                    bid_iv: iv - 0.02,
                    ask_iv: iv + 0.02,
                },
            );
            eng.on_event(&ev, 0, &mut log);
        }
        for o in log.pending.drain(..) {
            eng.on_fill(&OptionsFill::paper(&o));
        }
    }
    (log.out, eng.stats())
}

#[test]
fn replay_is_deterministic_and_reconciles() {
    let (a, stats) = run();
    let (b, _) = run();
    assert!(a == b, "two runs differ");
    assert!(stats.orders > 20, "too quiet a scenario: {stats:?}");
    let text = String::from_utf8(a).expect("utf-8");
    let mut hedge_band = 0;
    let mut cuts = std::collections::BTreeMap::<String, u32>::new();
    let mut last_band_hedge = false;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON line");
        match v["type"].as_str() {
            Some("order") => {
                if v["hedge"] == true && v["binding"] == "delta_band" {
                    last_band_hedge = true;
                }
                if v["hedge"] == false {
                    *cuts
                        .entry(v["binding"].as_str().unwrap().to_string())
                        .or_default() += 1;
                }
            }
            Some("decision") => {
                let c = &v["constraints"];
                let after = &v["after"];
                let g = after["gamma"].as_f64().unwrap();
                let vega = after["vega_per_vol_point"].as_f64().unwrap();
                assert!(
                    g.abs() <= c["max_abs_gamma"].as_f64().unwrap() * (1.0 + 1e-12),
                    "{line}"
                );
                assert!(
                    vega.abs() <= c["max_abs_vega"].as_f64().unwrap() * (1.0 + 1e-12),
                    "{line}"
                );
                if last_band_hedge {
                    let d = after["delta"].as_f64().unwrap();
                    assert!(
                        d.abs() <= c["delta_band"].as_f64().unwrap() + 1e-12,
                        "{line}"
                    );
                    hedge_band += 1;
                }
                last_band_hedge = false;
            }
            _ => panic!("unknown line {line}"),
        }
    }
    eprintln!("stats {stats:?}; band hedges {hedge_band}; option resizes by binding {cuts:?}");
    assert!(hedge_band > 5, "few band hedges: {hedge_band}");
    // The shock makes the engine cut options by a risk constraint.
    assert!(
        cuts.keys().any(|k| k != "model"),
        "no option resize named a constraint: {cuts:?}"
    );
}
