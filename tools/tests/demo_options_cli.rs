//! `ballast demo --options`: the built-in synthetic options market runs in seconds through a
//! direct loop and the pipeline (which must agree, or the command fails), prints the summary
//! table, writes the same orders and decisions twice, and its log reconciles: caps hold at every
//! decision, delta is inside the band after each band hedge, and after the volatility shock
//! options are cut by a named risk constraint.

fn ballast(args: &[&str]) -> (i32, String, String) {
    testkit::cli::run(env!("CARGO_BIN_EXE_ballast"), args)
}

#[test]
fn demo_options_prints_the_table_and_reconciles() {
    let dir = std::env::temp_dir().join(format!("ballast-demo-opt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut logs = Vec::new();
    for run in 0..2 {
        let (o, d) = (dir.join(format!("o{run}")), dir.join(format!("d{run}")));
        let (code, out, err) = ballast(&[
            "demo",
            "--options",
            "--topology",
            "single",
            "--orders-out",
            o.to_str().unwrap(),
            "--decisions-out",
            d.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
        for row in [
            "by reason",
            "by binding",
            "BTC delta, coin",
            "ETH gamma, per USD",
            "BTC vega, USD per vol point",
            "margin BTC-PERPETUAL peak maintenance margin",
            "kernel per event",
            "tick_to_order",
            "vol shock         ",
        ] {
            assert!(out.contains(row), "missing `{row}` in\n{out}");
        }
        assert!(!out.contains("no option cut after it"), "{out}");
        logs.push((std::fs::read(&o).unwrap(), std::fs::read(&d).unwrap()));
    }
    assert!(logs[0] == logs[1], "two demo runs differ");
    let text = String::from_utf8(logs[0].1.clone()).unwrap();
    let orders: Vec<serde_json::Value> = std::str::from_utf8(&logs[0].0)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut it = orders.iter();
    let (mut band, mut risk_cuts) = (0, 0);
    for line in text.lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        let c = &d["constraints"];
        let n = d["orders"].as_u64().unwrap() as usize;
        let mine: Vec<_> = it.by_ref().take(n).collect();
        let g = d["after"]["gamma"].as_f64().unwrap();
        let v = d["after"]["vega_per_vol_point"].as_f64().unwrap();
        assert!(
            g.abs() <= c["max_abs_gamma"].as_f64().unwrap() * (1.0 + 1e-12),
            "{d}"
        );
        assert!(
            v.abs() <= c["max_abs_vega"].as_f64().unwrap() * (1.0 + 1e-12),
            "{d}"
        );
        if mine
            .iter()
            .any(|o| o["hedge"] == true && o["binding"] == "delta_band")
        {
            let delta = d["after"]["delta"].as_f64().unwrap();
            assert!(
                delta.abs() <= c["delta_band"].as_f64().unwrap() + 1e-9,
                "{d}"
            );
            band += 1;
        }
        risk_cuts += mine
            .iter()
            .filter(|o| {
                o["hedge"] == false
                    && o["reason"] != "model"
                    && o["target_lots"].as_i64().unwrap().abs()
                        < (o["position_lots"].as_i64().unwrap()
                            + o["working_lots"].as_i64().unwrap())
                        .abs()
            })
            .count();
    }
    assert!(it.next().is_none(), "orders without a decision");
    assert!(band > 5, "few band hedges: {band}");
    assert!(risk_cuts > 0, "no option cut by a risk constraint");
}

#[test]
fn plain_demo_flags_still_refuse_options_only_flags() {
    let (code, _, err) = ballast(&["demo", "--decisions-out", "/tmp/x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--options"), "{err}");
}
