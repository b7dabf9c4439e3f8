//! The seeded synthetic Deribit market ([`options::synthetic`]: BTC and ETH perpetuals, chains
//! with a smile, a volatility shock half-way) parsed by the Deribit feed into an `OptionsKernel`
//! with paper fills, by hand on one thread: the JSON-lines log of orders and decisions is
//! byte-identical across two runs, portfolio delta after every band hedge is inside the band, and
//! no gamma or vega cap is exceeded after any decision.

use engine::kernel::PaperAdapter;
use engine::pipeline::KernelLogic;
use feeds::FeedAdapter;
use options::kernel::{OptionsKernel, RecordBuffer};
use options::synthetic::{default_config, OptionsMarket, OptionsMarketSpec};

fn run() -> (Vec<u8>, u64) {
    let m = OptionsMarket::generate(&OptionsMarketSpec {
        ticks: 3_000,
        ..OptionsMarketSpec::default()
    });
    let mut k: OptionsKernel = m
        .kernel(default_config, 3, 20, RecordBuffer::with_capacity(1 << 16))
        .expect("kernel");
    let mut feed = m.feed();
    let mut paper = PaperAdapter::default();
    let (mut events, mut orders) = (Vec::new(), Vec::new());
    for (t, f) in &m.frames {
        events.clear();
        assert!(FeedAdapter::on_frame(&mut feed, *t, f, &mut |e| events.push(e)));
        for e in &events {
            KernelLogic::on_event(&mut k, e, 0, &mut |o| orders.push(o));
            for o in orders.drain(..) {
                let fill = paper.submit(&o, 0);
                KernelLogic::on_fill(&mut k, &fill);
            }
        }
    }
    assert_eq!(k.log().dropped(), 0);
    let mut out = Vec::new();
    k.log().write_jsonl(&mut out).expect("write to memory");
    (out, KernelLogic::stats(&k).orders)
}

#[test]
fn replay_is_deterministic_and_reconciles() {
    let (a, stats) = run();
    let (b, _) = run();
    assert!(a == b, "two runs differ");
    assert!(stats > 20, "too quiet a scenario: {stats} orders");
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
                        d.abs() <= c["delta_band"].as_f64().unwrap() + 1e-9,
                        "{line}"
                    );
                    hedge_band += 1;
                }
                last_band_hedge = false;
            }
            _ => panic!("unknown line {line}"),
        }
    }
    eprintln!("{stats} orders; band hedges {hedge_band}; option resizes by binding {cuts:?}");
    assert!(hedge_band > 5, "few band hedges: {hedge_band}");
    // The shock makes the engine cut options by a risk constraint.
    assert!(
        cuts.keys().any(|k| k != "model"),
        "no option resize named a constraint: {cuts:?}"
    );
}
