//! `ballast vol fit` and `ballast size kelly|erc|liq`: outputs against the references of
//! `risk-core/tests/data/sizing/`, and one clear error line (file, row, column) with a
//! non-zero exit for each kind of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ballast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(args)
        .output()
        .expect("run ballast")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../risk-core/tests/data/sizing")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).to_string_lossy().into_owned()
}

/// A scratch directory for this test binary's files.
fn scratch(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ballast-sizing-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p.to_string_lossy().into_owned()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The error line of a failed run: exactly one line, non-zero exit.
fn error_line(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected failure, got {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = String::from_utf8(o.stderr.clone()).unwrap();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got {err:?}");
    lines[0].to_string()
}

fn assert_names(line: &str, file: &str, row: usize, col: usize) {
    let name = Path::new(file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(line.contains(&name), "{line:?} does not name {name}");
    assert!(
        line.contains(&format!("row {row}")),
        "{line:?} does not name row {row}"
    );
    assert!(
        line.contains(&format!("column {col}")),
        "{line:?} does not name column {col}"
    );
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn vol_fit_garch_matches_arch() {
    let refs = json(&std::fs::read_to_string(fixtures().join("garch_reference.json")).unwrap());
    for (name, extra) in [
        ("daily_normal", vec![]),
        ("mean_price", vec!["--prices", "--mean", "constant"]),
    ] {
        let case = &refs[name];
        let file = fixture(case["file"].as_str().unwrap());
        let mut args = vec!["vol", "fit", "--model", "garch11"];
        args.extend(extra);
        args.push(&file);
        let out = json(&stdout(&ballast(&args)));
        assert_eq!(out["model"], "garch11");
        assert_eq!(out["n"], case["n"]);
        for k in ["alpha", "beta"] {
            let d = out[k].as_f64().unwrap() - case[k].as_f64().unwrap();
            assert!(d.abs() < 0.005, "{name} {k}: {d}");
        }
        assert!((out["loglik"].as_f64().unwrap() - case["loglik"].as_f64().unwrap()).abs() < 0.5);
        let fc = out["forecast"].as_array().unwrap();
        assert_eq!(fc.len(), 5);
        for (g, w) in fc.iter().zip(case["forecast"].as_array().unwrap()) {
            assert!((g.as_f64().unwrap() / w.as_f64().unwrap() - 1.0).abs() < 0.01);
        }
        assert!(out["omega"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn vol_fit_ewma_and_horizon() {
    let refs = json(&std::fs::read_to_string(fixtures().join("garch_reference.json")).unwrap());
    let case = &refs["ewma_daily_normal"];
    let file = fixture("garch_daily_normal.csv");
    let out = json(&stdout(&ballast(&[
        "vol",
        "fit",
        "--model",
        "ewma",
        "--horizon",
        "3",
        &file,
    ])));
    assert_eq!(out["model"], "ewma");
    assert_eq!(out["lambda"].as_f64(), Some(0.94));
    assert!((out["loglik"].as_f64().unwrap() - case["loglik"].as_f64().unwrap()).abs() < 1e-6);
    let fc = out["forecast"].as_array().unwrap();
    assert_eq!(fc.len(), 3);
    let want = case["forecast"][0].as_f64().unwrap();
    assert!((fc[2].as_f64().unwrap() / want - 1.0).abs() < 1e-9);
}

#[test]
fn kelly_matches_closed_form_and_scales() {
    let mu = scratch("mu.csv", "0.08\n0.07\n");
    let cov = scratch("cov.csv", "0.04,0.024\n0.024,0.09\n");
    let rows = |s: String| -> Vec<(usize, f64)> {
        let mut lines = s.lines();
        assert_eq!(lines.next(), Some("asset,fraction"));
        lines
            .map(|l| {
                let (a, f) = l.split_once(',').unwrap();
                (a.parse().unwrap(), f.parse().unwrap())
            })
            .collect()
    };
    let full = rows(stdout(&ballast(&[
        "size", "kelly", "--mu", &mu, "--cov", &cov, "--rf", "0.02",
    ])));
    // Σ⁻¹ (μ − r) by the 2×2 inverse.
    let (e1, e2) = (0.06, 0.05);
    let det = 0.04 * 0.09 - 0.024 * 0.024;
    let want = [
        (0.09 * e1 - 0.024 * e2) / det,
        (0.04 * e2 - 0.024 * e1) / det,
    ];
    assert_eq!(full.len(), 2);
    for ((a, f), (i, w)) in full.iter().zip(want.iter().enumerate()) {
        assert_eq!(*a, i + 1);
        assert!((f / w - 1.0).abs() < 1e-12, "{f} vs {w}");
    }
    let capped = rows(stdout(&ballast(&[
        "size",
        "kelly",
        "--mu",
        &mu,
        "--cov",
        &cov,
        "--rf",
        "0.02",
        "--fraction",
        "0.5",
        "--max-leverage",
        "0.5",
    ])));
    let gross: f64 = capped.iter().map(|r| r.1.abs()).sum();
    assert!((gross - 0.5).abs() < 1e-12);
}

#[test]
fn erc_matches_riskfolio() {
    let refs = json(&std::fs::read_to_string(fixtures().join("rp_reference.json")).unwrap());
    for name in ["mrt2010", "n10_budget"] {
        let case = &refs[name];
        let cov = fixture(case["cov"].as_str().unwrap());
        let mut args = vec!["size".to_string(), "erc".into(), "--cov".into(), cov];
        if let Some(b) = case["budget"].as_str() {
            args.push("--budget".into());
            args.push(fixture(b));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = stdout(&ballast(&args));
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("asset,weight,risk_contribution"));
        let w: Vec<(f64, f64)> = lines
            .map(|l| {
                let c: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
                (c[1], c[2])
            })
            .collect();
        let want = case["weights"].as_array().unwrap();
        assert_eq!(w.len(), want.len());
        let n = w.len() as f64;
        for (i, ((wi, rci), wr)) in w.iter().zip(want).enumerate() {
            assert!((wi - wr.as_f64().unwrap()).abs() < 1e-6, "{name} asset {i}");
            let budget = if case["budget"].is_string() {
                None
            } else {
                Some(1.0 / n)
            };
            if let Some(b) = budget {
                assert!((rci / b - 1.0).abs() < 1e-10);
            }
        }
        assert!((w.iter().map(|x| x.0).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((w.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn liq_prints_price_and_safe_size() {
    let tiers = scratch(
        "tiers.csv",
        "notional_floor,mmr,maint_amount\n0,0.004,0\n50000,0.005,50\n250000,0.01,1300\n",
    );
    let out = stdout(&ballast(&[
        "size",
        "liq",
        "--contract",
        "linear",
        "--side",
        "long",
        "--entry",
        "50000",
        "--qty",
        "1",
        "--collateral",
        "5000",
        "--mmr-tiers",
        &tiers,
    ]));
    let kv: std::collections::HashMap<&str, &str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .collect();
    let liq: f64 = kv["liquidation_price"].parse().unwrap();
    // Notional at liquidation is in the first bracket: P = (Q E − C) / (Q (1 − m)).
    assert!((liq - 45_000.0 / 0.996).abs() < 1e-6, "{liq}");
    let out = stdout(&ballast(&[
        "size",
        "liq",
        "--contract",
        "inverse",
        "--side",
        "short",
        "--entry",
        "50000",
        "--qty",
        "100000",
        "--collateral",
        "0.5",
        "--mmr-tiers",
        &tiers,
        "--sigma",
        "0.03",
        "--horizon",
        "1",
        "--k",
        "3",
        "--max-margin-ratio",
        "0.8",
    ]));
    let kv: std::collections::HashMap<&str, &str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .collect();
    let q: f64 = kv["max_safe_qty"].parse().unwrap();
    assert!(q > 0.0 && q.is_finite());
    assert!(kv.contains_key("buffer_price") && kv.contains_key("binding"));
}

#[test]
fn bad_inputs_name_file_row_and_column() {
    let good_cov = scratch("good_cov.csv", "0.04,0.01\n0.01,0.09\n");
    let mu = scratch("mu2.csv", "0.1\n0.2\n");
    // Non-numeric cell.
    let f = scratch("text_cov.csv", "0.04,0.01\n0.01,abc\n");
    let l = error_line(&ballast(&["size", "erc", "--cov", &f]));
    assert_names(&l, &f, 2, 2);
    // Ragged matrix.
    let f = scratch("ragged_cov.csv", "0.04,0.01\n0.01\n");
    assert_names(
        &error_line(&ballast(&["size", "erc", "--cov", &f])),
        &f,
        2,
        2,
    );
    // Non-square matrix.
    let f = scratch("wide_cov.csv", "0.04,0.01,0.0\n0.01,0.09,0.0\n");
    assert_names(
        &error_line(&ballast(&["size", "kelly", "--mu", &mu, "--cov", &f])),
        &f,
        2,
        3,
    );
    // Not positive definite (singular).
    let f = scratch("sing_cov.csv", "0.04,0.04\n0.04,0.04\n");
    let l = error_line(&ballast(&["size", "kelly", "--mu", &mu, "--cov", &f]));
    assert_names(&l, &f, 2, 2);
    assert!(l.contains("positive definite"));
    // Indefinite.
    let f = scratch("indef_cov.csv", "0.04,0.05\n0.05,0.04\n");
    assert!(error_line(&ballast(&["size", "erc", "--cov", &f])).contains("positive definite"));
    // Not symmetric.
    let f = scratch("asym_cov.csv", "0.04,0.01\n0.02,0.09\n");
    assert_names(
        &error_line(&ballast(&["size", "erc", "--cov", &f])),
        &f,
        1,
        2,
    );
    // Mismatched dimensions.
    let mu3 = scratch("mu3.csv", "0.1\n0.2\n0.3\n");
    assert_names(
        &error_line(&ballast(&[
            "size", "kelly", "--mu", &mu3, "--cov", &good_cov,
        ])),
        &mu3,
        3,
        1,
    );
    // Budgets not summing to one, and a non-positive budget.
    let b = scratch("b_sum.csv", "0.5\n0.6\n");
    let l = error_line(&ballast(&[
        "size", "erc", "--cov", &good_cov, "--budget", &b,
    ]));
    assert!(
        l.contains("b_sum.csv") && l.contains("sum") && l.contains("column 1"),
        "{l}"
    );
    let b = scratch("b_neg.csv", "1.5\n-0.5\n");
    assert_names(
        &error_line(&ballast(&[
            "size", "erc", "--cov", &good_cov, "--budget", &b,
        ])),
        &b,
        2,
        1,
    );
    // A budget file of the wrong length.
    let b = scratch("b_len.csv", "1.0\n");
    assert!(error_line(&ballast(&[
        "size", "erc", "--cov", &good_cov, "--budget", &b
    ]))
    .contains("b_len.csv"));
    // Non-numeric return, with the column named.
    let f = scratch("rets.csv", "date,return\n1,0.01\n2,x\n");
    let l = error_line(&ballast(&["vol", "fit", &f]));
    assert_names(&l, &f, 3, 2);
    // Ragged return file and a missing column.
    let f = scratch("rets_ragged.csv", "date,return\n1,0.01\n2\n");
    assert!(error_line(&ballast(&["vol", "fit", &f])).contains("row 3"));
    let f = scratch("rets_nocol.csv", "date,ret\n1,0.01\n");
    assert!(error_line(&ballast(&["vol", "fit", &f])).contains("`return`"));
    // A non-positive price.
    let f = scratch("px.csv", "price\n100\n0\n");
    assert_names(
        &error_line(&ballast(&["vol", "fit", "--prices", &f])),
        &f,
        3,
        1,
    );
    // Bad MMR tiers: rate out of range, discontinuous amounts, non-numeric.
    let t = scratch("t_rate.csv", "0,0.004\n50000,1.5\n");
    let args = [
        "size",
        "liq",
        "--contract",
        "linear",
        "--side",
        "long",
        "--entry",
        "100",
        "--qty",
        "1",
        "--collateral",
        "10",
        "--mmr-tiers",
    ];
    let run = |t: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a.push(t);
        ballast(&a)
    };
    assert_names(&error_line(&run(&t)), &t, 2, 2);
    let t = scratch("t_amt.csv", "0,0.004,0\n50000,0.005,75\n");
    assert_names(&error_line(&run(&t)), &t, 2, 3);
    let t = scratch("t_txt.csv", "0,0.004\nfifty,0.005\n");
    assert_names(&error_line(&run(&t)), &t, 2, 1);
    // A missing file.
    assert!(
        error_line(&ballast(&["size", "erc", "--cov", "/nonexistent/cov.csv"])).contains("cov.csv")
    );
}
