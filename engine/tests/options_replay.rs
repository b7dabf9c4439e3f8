//! A seeded synthetic market (random-walk underlying, an option chain with a smile, a volatility
//! shock halfway) through the options engine with paper fills: the JSON-lines log of orders and
//! decisions is byte-identical across two runs, portfolio delta after every band hedge is inside
//! the band, and no gamma or vega cap is exceeded after any decision. The market is
//! [`engine::options::synth`].

use engine::options::log::{write_decision, write_order};
use engine::options::synth::{default_config, generate, PaperSink, SynthOptions};
use engine::options::{Decision, OptionsOrder, OptionsSink};

struct Log {
    out: Vec<u8>,
}

impl OptionsSink for Log {
    fn order(&mut self, o: &OptionsOrder) {
        write_order(&mut self.out, o).expect("vec write");
    }
    fn decision(&mut self, d: &Decision) {
        write_decision(&mut self.out, d).expect("vec write");
    }
}

fn run() -> (Vec<u8>, engine::options::OptionsStats) {
    let m = generate(&SynthOptions::default());
    let mut eng = m.engine(default_config()).expect("engine");
    let mut sink = PaperSink::new(Log { out: Vec::new() }, m.specs.len() + 1);
    for ev in &m.events {
        sink.step(&mut eng, ev, 0);
    }
    (sink.inner.out, eng.stats())
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
