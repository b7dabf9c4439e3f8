//! `ballast replay` with `[portfolio]` over the six Binance captures of 2024-08-08, and `ballast
//! demo --portfolio`: byte-identical across runs and topologies, every rebalance re-solvable from
//! its own record (risk contributions at budget under the logged covariance), every order naming
//! its rebalance.

use std::path::{Path, PathBuf};

use testkit::data::shared_dir;

fn ballast(args: &[&str]) -> (i32, String, String) {
    testkit::cli::run(env!("CARGO_BIN_EXE_ballast"), args)
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/portfolio.toml")
}

fn records(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Max |RCᵢ − bᵢ| / bᵢ of a record's targets under its logged covariance, `None` when a factor
/// limit bound (the budgets then do not hold by design).
fn rc_error(r: &serde_json::Value) -> Option<f64> {
    let names: Vec<&str> = r["cov_factors"]
        .as_array()?
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let k = names.len();
    let cov: Vec<f64> = r["cov"]
        .as_array()?
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let fac = |n: &str| {
        r["factors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .unwrap()
            .clone()
    };
    let rows: Vec<serde_json::Value> = names.iter().map(|n| fac(n)).collect();
    if rows.iter().any(|f| f["binding"] != "model") {
        return None;
    }
    let e: Vec<f64> = rows
        .iter()
        .map(|f| f["target_exposure"].as_f64().unwrap())
        .collect();
    let sx: Vec<f64> = (0..k)
        .map(|i| (0..k).map(|j| cov[i * k + j] * e[j]).sum())
        .collect();
    let var: f64 = e.iter().zip(&sx).map(|(a, b)| a * b).sum();
    Some(
        rows.iter()
            .enumerate()
            .map(|(i, f)| {
                let b = f["budget"].as_f64().unwrap();
                (e[i] * sx[i] / var - b).abs() / b
            })
            .fold(0.0, f64::max),
    )
}

#[test]
fn six_captures_replay_identically_on_every_topology_and_hold_the_budgets() {
    if shared_dir("binance/spot_btcusdt_20240808.gz").is_none() {
        return;
    }
    let dir = testkit::cli::temp_dir("portfolio-replay");
    let cfg = example();
    let mut outputs = Vec::new();
    for (i, topo) in ["single", "feed@0,kernel+exec@1", "single"]
        .iter()
        .enumerate()
    {
        let (orders, decisions) = (
            dir.join(format!("o{i}.csv")),
            dir.join(format!("d{i}.jsonl")),
        );
        let (code, out, err) = ballast(&[
            "replay",
            "--config",
            cfg.to_str().unwrap(),
            "--topology",
            topo,
            "--orders-out",
            orders.to_str().unwrap(),
            "--decisions-out",
            decisions.to_str().unwrap(),
            "--log-covariance",
        ]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(
            out.contains("factor") && out.contains("closest liq"),
            "{out}"
        );
        outputs.push((
            std::fs::read(&orders).unwrap(),
            std::fs::read(&decisions).unwrap(),
        ));
    }
    for o in &outputs[1..] {
        assert!(
            o.0 == outputs[0].0,
            "orders differ across runs or topologies"
        );
        assert!(
            o.1 == outputs[0].1,
            "rebalances differ across runs or topologies"
        );
    }
    let recs = records(&dir.join("d0.jsonl"));
    assert!(recs.len() >= 5, "{} rebalances", recs.len());
    let mut checked = 0;
    for r in &recs {
        assert_eq!(r["type"], "rebalance");
        for key in [
            "recv_ns",
            "policy",
            "portfolio_vol",
            "factors",
            "instruments",
            "accounts",
        ] {
            assert!(!r[key].is_null(), "{key} missing");
        }
        for a in r["accounts"].as_array().unwrap() {
            assert!(a["margin_ratio"].as_f64().unwrap() < 0.5);
        }
        if let Some(err) = rc_error(r) {
            assert!(err < 1e-8, "rebalance {}: {err:e}", r["seq"]);
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} rebalances checked");
    // The example turns the depth forecast on: some instrument's liquidity cap was shrunk by a
    // predicted void, and the multiplier is always in (0, 1].
    let rows: Vec<&serde_json::Value> = recs
        .iter()
        .flat_map(|r| r["instruments"].as_array().unwrap())
        .collect();
    assert!(rows.iter().all(|i| {
        let m = i["flow_multiplier"].as_f64().unwrap();
        m > 0.0 && m <= 1.0
    }));
    assert!(rows
        .iter()
        .any(|i| i["flow_multiplier"].as_f64().unwrap() < 1.0 && i["binding"] == "liquidity"));
    // Every order names a rebalance whose record lists it.
    let orders = String::from_utf8(outputs[0].0.clone()).unwrap();
    let mut n = 0;
    for line in orders.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let (id, seq) = (cols[0], cols[1].parse::<usize>().unwrap());
        let rec = &recs[seq - 1];
        assert!(
            rec["instruments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["order_id"].as_u64() == id.parse::<u64>().ok()),
            "order {id} not in rebalance {seq}"
        );
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn portfolio_capture_flags_replace_the_configuration_and_bad_tags_are_named() {
    let Some(data) = shared_dir("binance/usdm_btcusdt_20240808.gz") else {
        return;
    };
    let cfg = example();
    let (code, _, err) = ballast(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--capture",
        &format!(
            "binance-perp={}",
            data.join("binance/usdm_btcusdt_20240808.gz").display()
        ),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown capture tag"), "{err}");
    // Only the USD-M captures: spot and COIN-M never see a touch and are not traded.
    let (code, out, err) = ballast(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--capture",
        &format!(
            "binance-usdm={}",
            data.join("binance/usdm_btcusdt_20240808.gz").display()
        ),
        "--capture",
        &format!(
            "binance-usdm={}",
            data.join("binance/usdm_ethusdt_20240808.gz").display()
        ),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    // Instrument rows (the account table's `spot` row names the account and its model).
    for line in out.lines().filter(|l| {
        l.starts_with("BTCUSD_PERP") || (l.contains(" spot ") && !l.starts_with("spot "))
    }) {
        assert!(line.contains(" 0 ") || line.contains(" -"), "{line}");
    }
}

/// `--capture` flags for the six captures of the example (their paths are relative to it).
fn six_captures(data: &Path) -> Vec<String> {
    [
        ("binance-spot", "spot_btcusdt"),
        ("binance-spot", "spot_ethusdt"),
        ("binance-usdm", "usdm_btcusdt"),
        ("binance-usdm", "usdm_ethusdt"),
        ("binance-coinm", "cm_btcusd_perp"),
        ("binance-coinm", "cm_ethusd_perp"),
    ]
    .iter()
    .flat_map(|(tag, name)| {
        [
            "--capture".to_owned(),
            format!(
                "{tag}={}",
                data.join(format!("binance/{name}_20240808.gz")).display()
            ),
        ]
    })
    .collect()
}

/// `text` with its `[portfolio.covariance]` shrinkage line replaced by the Ledoit–Wolf one.
fn ledoit_wolf(text: &str) -> String {
    let out: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.starts_with("shrinkage = ") {
                "shrinkage = \"ledoit-wolf\""
            } else {
                l
            }
        })
        .collect();
    assert!(
        out.contains(&"shrinkage = \"ledoit-wolf\""),
        "no shrinkage line"
    );
    out.join("\n")
}

#[test]
fn ledoit_wolf_shrinkage_on_three_factors_is_reported_by_every_rebalance() {
    // The demo's three factors, with Ledoit–Wolf's intensity: high while the correlations are
    // about equal (0.80, 0.70, 0.74: the constant-correlation target is near the truth), lower
    // after the break (0.16, 0.21, −0.24), every record saying the one it used.
    let dir = testkit::cli::temp_dir("portfolio-lw-demo");
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/portfolio-demo.toml");
    let cfg = dir.join("demo-lw.toml");
    std::fs::write(&cfg, ledoit_wolf(&std::fs::read_to_string(demo).unwrap())).unwrap();
    let d = dir.join("d.jsonl");
    let (code, out, err) = ballast(&[
        "demo",
        "--portfolio",
        "--speed",
        "max",
        "--topology",
        "single",
        "--config",
        cfg.to_str().unwrap(),
        "--decisions-out",
        d.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let recs = records(&d);
    assert!(recs.len() >= 20, "{} rebalances", recs.len());
    let three: Vec<f64> = recs
        .iter()
        .filter(|r| {
            r["factors"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["ready"] == true)
                .count()
                == 3
        })
        .map(|r| r["shrinkage"].as_f64().unwrap())
        .collect();
    assert!(three.len() >= 20);
    assert!(three.iter().all(|d| *d > 0.0 && *d <= 1.0), "{three:?}");
    let inside = three.iter().filter(|d| **d < 1.0).count();
    assert!(
        inside >= 10,
        "{inside} of {} strictly inside (0, 1): {three:?}",
        three.len()
    );
}

#[test]
fn ledoit_wolf_on_the_six_captures_shrinks_two_factors_fully_and_changes_nothing() {
    // Two factors: the constant-correlation target's one correlation is the sample's, so γ = 0,
    // the intensity is 1 (as the batch estimator gives) and the matrix is the EWMA's as with any
    // fixed intensity; the rebalances are the example's to rounding, each re-solvable.
    let Some(data) = shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let dir = testkit::cli::temp_dir("portfolio-lw-six");
    let cfg = dir.join("six-lw.toml");
    std::fs::write(
        &cfg,
        ledoit_wolf(&std::fs::read_to_string(example()).unwrap()),
    )
    .unwrap();
    let mut runs = Vec::new();
    for (i, c) in [cfg.clone(), example()].iter().enumerate() {
        let d = dir.join(format!("d{i}.jsonl"));
        let mut args: Vec<String> = [
            "replay",
            "--config",
            c.to_str().unwrap(),
            "--topology",
            "single",
            "--decisions-out",
            d.to_str().unwrap(),
            "--log-covariance",
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(six_captures(&data));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = ballast(&args);
        assert_eq!(code, 0, "{out}\n{err}");
        runs.push(records(&d));
    }
    let (lw, fixed) = (&runs[0], &runs[1]);
    assert_eq!(lw.len(), fixed.len());
    assert!(lw.len() >= 5);
    for (a, b) in lw.iter().zip(fixed) {
        assert_eq!(a["shrinkage"].as_f64(), Some(1.0));
        assert_eq!(b["shrinkage"].as_f64(), Some(0.1));
        for (x, y) in a["cov"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["cov"].as_array().unwrap())
        {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} vs {y}");
        }
        for (x, y) in a["factors"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["factors"].as_array().unwrap())
        {
            let (x, y) = (
                x["target_exposure"].as_f64().unwrap(),
                y["target_exposure"].as_f64().unwrap(),
            );
            assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{x} vs {y}");
        }
        if let Some(e) = rc_error(a) {
            assert!(e < 1e-8, "rebalance {}: {e:e}", a["seq"]);
        }
    }
}

#[test]
fn demo_portfolio_runs_and_is_deterministic() {
    let dir = testkit::cli::temp_dir("portfolio-demo");
    let (mut logs, mut orders) = (Vec::new(), Vec::new());
    // Two topologies, and the first one twice: the same bytes every run.
    for (i, topo) in ["single", "feed@0,kernel+exec@1", "single"]
        .iter()
        .enumerate()
    {
        let d = dir.join(format!("d{i}.jsonl"));
        let o = dir.join(format!("o{i}.csv"));
        let (code, out, err) = ballast(&[
            "demo",
            "--portfolio",
            "--speed",
            "max",
            "--topology",
            topo,
            "--decisions-out",
            d.to_str().unwrap(),
            "--orders-out",
            o.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}\n{err}");
        for want in [
            "before the break",
            "in the vol shock",
            "closest liq",
            "deribit-btc  deribit",
            "BTC-PERPETUAL",
            "tick_to_order",
        ] {
            assert!(out.contains(want), "{want}: {out}");
        }
        logs.push(std::fs::read(&d).unwrap());
        orders.push(std::fs::read_to_string(&o).unwrap());
    }
    assert!(
        logs[0] == logs[1] && logs[0] == logs[2],
        "demo rebalances differ across runs or topologies"
    );
    assert!(
        orders[0] == orders[1] && orders[0] == orders[2],
        "demo orders differ"
    );
    // The demo trades on Deribit, and the Deribit account's margin binds the perpetual at times
    // (its records and orders say so).
    let perp: Vec<&str> = orders[0]
        .lines()
        .filter(|l| l.contains(",deribit,deribit,BTC-PERPETUAL,"))
        .collect();
    assert!(perp.len() > 10, "{} Deribit orders", perp.len());
    assert!(
        perp.iter().any(|l| l.contains(",liquidation_buffer,")),
        "no Deribit order bound by its account's margin"
    );
    let recs = records(&dir.join("d0.jsonl"));
    for r in &recs {
        let a = r["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "deribit-btc")
            .unwrap();
        assert_eq!(a["kind"], "deribit");
        assert_eq!(a["currency"], "BTC");
        assert!(a["margin_ratio"].as_f64().unwrap() < 0.3, "{a}");
    }
}

/// A capture the engine was not tuned on: cryptofeed's Binance USD-M sample of 2021 (other
/// symbols, another year, another file format; 30 s of four symbols, each book synced from a REST
/// snapshot whose body names no symbol). Two of its symbols as two factors: every book syncs, the
/// engine rebalances, and every unconstrained rebalance holds the budgets under its own logged
/// covariance.
#[test]
fn unseen_cryptofeed_capture_syncs_every_book_and_holds_the_budgets() {
    let Some(data) = shared_dir("cryptofeed/BINANCE_FUTURES.jsonl.zst") else {
        return;
    };
    let dir = testkit::cli::temp_dir("portfolio-cryptofeed");
    let cfg = dir.join("portfolio.toml");
    std::fs::write(&cfg, CRYPTOFEED_PORTFOLIO).unwrap();
    let decisions = dir.join("d.jsonl");
    let (code, out, err) = ballast(&[
        "replay",
        "--config",
        cfg.to_str().unwrap(),
        "--capture",
        &format!(
            "binance-usdm={}",
            data.join("cryptofeed/BINANCE_FUTURES.jsonl.zst").display()
        ),
        "--decisions-out",
        decisions.to_str().unwrap(),
        "--log-covariance",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("0 gaps, 0 resyncs, 4 snapshots"), "{out}");
    let recs = records(&decisions);
    assert!(recs.len() > 20, "{} rebalances\n{out}", recs.len());
    let both = recs
        .iter()
        .filter(|r| r["cov_factors"].as_array().is_some_and(|a| a.len() == 2))
        .count();
    assert!(both > 10, "{both} rebalances over both factors\n{out}");
    let checked: Vec<f64> = recs.iter().filter_map(rc_error).collect();
    assert!(checked.len() > 10, "{}", checked.len());
    for e in checked {
        assert!(e < 1e-8, "risk contributions off budget by {e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Two USD-M symbols of the 2021 cryptofeed sample, 50/50, sampled every 100 ms (the capture
/// holds 30 s).
const CRYPTOFEED_PORTFOLIO: &str = r#"topology = "single"

[portfolio]
capital = 100_000.0
policy = "risk-parity"
target_vol = 0.5
max_gross_leverage = 2.0
max_net_leverage = 2.0

[portfolio.covariance]
sample_ms = 100
lambda = 0.97
min_samples = 20
max_missed = 20
shrinkage = 0.1

[portfolio.rebalance]
every_samples = 20
drift_band = 0.02
vol_jump = 0.25

[[portfolio.factors]]
name = "SUSHI"
budget = 0.5
reference = "binance-usdm:SUSHIUSDT"

[[portfolio.factors]]
name = "CTK"
budget = 0.5
reference = "binance-usdm:CTKUSDT"

[[portfolio.accounts]]
name = "usdm"
kind = "margin"
collateral = 50_000.0
mmr = 0.01

[[portfolio.instruments]]
market = "binance-usdm"
symbol = "SUSHIUSDT"
factor = "SUSHI"
account = "usdm"
contract = "linear"
lot = 1.0
min_notional = 5.0
fee_bps = 4.0
max_slippage_bps = 10.0

[[portfolio.instruments]]
market = "binance-usdm"
symbol = "CTKUSDT"
factor = "CTK"
account = "usdm"
contract = "linear"
lot = 1.0
min_notional = 5.0
fee_bps = 4.0
max_slippage_bps = 10.0
"#;

/// Kelly on the two USD-M captures with expected returns from a signal file: the update at
/// 00:03:00 (capture time) rebalances at the next sample, and every record carries the expected
/// returns it used. A bad signal line, and a signal file under risk parity, are errors naming
/// the line and field, or the key.
#[test]
fn kelly_replay_follows_a_signal_file_and_bad_signals_are_named() {
    let Some(data) = shared_dir("binance/usdm_btcusdt_20240808.gz") else {
        return;
    };
    let dir = testkit::cli::temp_dir("portfolio-signals");
    let kelly = std::fs::read_to_string(example())
        .unwrap()
        .replace(
            "policy = \"risk-parity\"",
            "policy = \"kelly\"\nkelly_fraction = 0.25",
        )
        .replace("budget = 0.6", "budget = 0.6\nexpected_return = 0.5")
        .replace("budget = 0.4", "budget = 0.4\nexpected_return = 0.3");
    let cfg = dir.join("kelly.toml");
    std::fs::write(&cfg, &kelly).unwrap();
    // 2024-08-08 23:57:35 UTC is the first frame; the update lands three minutes in.
    let t = 1_723_161_435_000_000_000u64;
    let signals = dir.join("mu.csv");
    std::fs::write(
        &signals,
        format!("recv_ns,factor,expected_return\n{t},BTC,-0.2\n{t},ETH,0.6\n"),
    )
    .unwrap();
    let decisions = dir.join("d.jsonl");
    let capture = |f: &str| format!("binance-usdm={}", data.join("binance").join(f).display());
    let args = |sig: &Path| {
        vec![
            "replay".to_owned(),
            "--config".to_owned(),
            cfg.display().to_string(),
            "--capture".to_owned(),
            capture("usdm_btcusdt_20240808.gz"),
            "--capture".to_owned(),
            capture("usdm_ethusdt_20240808.gz"),
            "--signals".to_owned(),
            sig.display().to_string(),
            "--decisions-out".to_owned(),
            decisions.display().to_string(),
        ]
    };
    let run = |a: Vec<String>| ballast(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out, err) = run(args(&signals));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("2 expected-return updates applied"), "{out}");
    let recs = records(&decisions);
    let mu = |r: &serde_json::Value, f: usize| r["factors"][f]["expected_return"].as_f64().unwrap();
    let first = recs
        .iter()
        .position(|r| r["recv_ns"].as_u64().unwrap() >= t)
        .expect("a rebalance after the update");
    assert!(first > 0, "rebalances before the update too");
    assert_eq!(recs[first]["trigger"], "signal");
    for (i, r) in recs.iter().enumerate() {
        let want = if i < first { [0.5, 0.3] } else { [-0.2, 0.6] };
        assert_eq!([mu(r, 0), mu(r, 1)], want, "record {i}");
    }
    // A bearish BTC view turns its Kelly target short.
    assert!(
        recs[first]["factors"][0]["target_exposure"]
            .as_f64()
            .unwrap()
            < 0.0
    );

    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "recv_ns,factor,expected_return\n1,BTC,0.1\n2,DOGE,0.1\n",
    )
    .unwrap();
    let (code, _, err) = run(args(&bad));
    assert_ne!(code, 0);
    assert!(
        err.contains("bad.csv:3: `factor`: `DOGE` is not a factor"),
        "{err}"
    );

    let rp = dir.join("rp.toml");
    std::fs::write(&rp, std::fs::read_to_string(example()).unwrap()).unwrap();
    let mut a = args(&signals);
    a[2] = rp.display().to_string();
    let (code, _, err) = run(a);
    assert_ne!(code, 0);
    assert!(
        err.contains("portfolio.signals") && err.contains("kelly"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
