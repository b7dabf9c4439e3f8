//! Black-76 Greeks against Deribit's published option tickers (2021-07-22 capture in
//! `../shared/data/cryptofeed/DERIBIT.jsonl.zst`; conventions in `../shared/data/VENUES.md`):
//! F = `underlying_price`, r = `interest_rate` (0), T = (expiry − timestamp) in years of 365 days,
//! σ = `mark_iv`/100. Deribit publishes 5 decimals and computes with its own, slightly different
//! instant and underlying, so the comparison is within that precision: tight enough to catch any
//! unit or convention slip (per vol point, per day, coin premium, rho convention), not more.

use risk_core::greeks::units::{
    deribit_theta_per_day, premium_in_coin, rho_per_pct, rho_underlying_fixed_from_black76,
    vega_per_vol_point, vol_from_pct, years_between_ms, DAYS_PER_YEAR,
};
use risk_core::greeks::{greeks, LaneStatus, Model, OptionInputs, OptionKind};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};

struct Instrument {
    strike: f64,
    expiry_ms: i64,
    kind: OptionKind,
}

fn close(name: &str, what: &str, got: f64, want: f64, rel: f64, abs: f64) {
    let tol = (rel * want.abs()).max(abs);
    assert!(
        (got - want).abs() <= tol,
        "{name} {what}: ours {got} Deribit {want} (tolerance {tol:e})"
    );
}

#[test]
fn black76_greeks_match_deribit_tickers() {
    let Some(dir) = testkit::data::shared_dir("cryptofeed/DERIBIT.jsonl.zst") else {
        return;
    };
    let file = std::fs::File::open(dir.join("cryptofeed/DERIBIT.jsonl.zst")).expect("open");
    let reader = BufReader::new(zstd::Decoder::new(file).expect("zstd"));
    let mut instruments: HashMap<String, Instrument> = HashMap::new();
    let mut tickers: Vec<Value> = Vec::new();
    for line in reader.lines() {
        let line = line.expect("read line");
        let rec: Value = serde_json::from_str(&line).expect("record json");
        let Some(data) = rec.get("data").and_then(Value::as_str) else {
            continue;
        };
        let Ok(msg) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        match rec["t"].as_str() {
            Some("http") => {
                for i in msg["result"].as_array().into_iter().flatten() {
                    if i["kind"] != "option" {
                        continue;
                    }
                    instruments.insert(
                        i["instrument_name"].as_str().unwrap_or_default().to_owned(),
                        Instrument {
                            strike: i["strike"].as_f64().expect("strike"),
                            expiry_ms: i["expiration_timestamp"].as_i64().expect("expiry"),
                            kind: if i["option_type"] == "call" {
                                OptionKind::Call
                            } else {
                                OptionKind::Put
                            },
                        },
                    );
                }
            }
            Some("recv") => {
                let p = &msg["params"];
                if p["channel"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("ticker."))
                {
                    tickers.push(p["data"].clone());
                }
            }
            _ => {}
        }
    }
    assert!(
        tickers.len() >= 80,
        "expected the 89 option tickers, found {}",
        tickers.len()
    );
    let mut checked = 0;
    for tk in &tickers {
        let name = tk["instrument_name"].as_str().expect("name");
        let inst = instruments
            .get(name)
            .unwrap_or_else(|| panic!("{name} not in get_instruments"));
        let f = tk["underlying_price"].as_f64().expect("underlying_price");
        let t = years_between_ms(
            tk["timestamp"].as_i64().expect("ts"),
            inst.expiry_ms,
            DAYS_PER_YEAR,
        );
        let r = tk["interest_rate"].as_f64().expect("interest_rate");
        let (g, st) = greeks(&OptionInputs {
            model: Model::Black76,
            kind: inst.kind,
            underlying: f,
            strike: inst.strike,
            t_years: t,
            vol: vol_from_pct(tk["mark_iv"].as_f64().expect("mark_iv")),
            rate: r,
            carry_q: 0.0,
        });
        assert_eq!(st, LaneStatus::Ok, "{name}");
        let pub_g = &tk["greeks"];
        let want = |k: &str| {
            pub_g[k]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} greeks.{k}"))
        };
        // Delta and gamma: 5 published decimals (plus Deribit's input jitter for delta).
        close(name, "delta", g.delta, want("delta"), 0.0, 2e-5);
        close(name, "gamma", g.gamma, want("gamma"), 0.0, 1e-5);
        close(
            name,
            "vega/vol point",
            vega_per_vol_point(g.vega),
            want("vega"),
            5e-4,
            1e-5,
        );
        close(
            name,
            "theta/day",
            deribit_theta_per_day(g.theta, g.price, t),
            want("theta"),
            5e-4,
            3e-5,
        );
        let rho = rho_underlying_fixed_from_black76(g.rho, f, g.delta, t);
        close(name, "rho/1%", rho_per_pct(rho), want("rho"), 1e-3, 1e-5);
        close(
            name,
            "mark (coin)",
            premium_in_coin(g.price, f),
            tk["mark_price"].as_f64().expect("mark"),
            1e-3,
            5e-6,
        );
        checked += 1;
    }
    eprintln!("checked {checked} Deribit tickers");
}
