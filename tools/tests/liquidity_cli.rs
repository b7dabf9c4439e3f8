//! `ballast liquidity` on a real capture: one table row per depth target and horizon, out-of-sample
//! counts and MAEs that are numbers; bad arguments are one clear error.

fn ballast(args: &[&str]) -> (i32, String, String) {
    testkit::cli::run(env!("CARGO_BIN_EXE_ballast"), args)
}

#[test]
fn liquidity_table_has_one_row_per_target_and_horizon() {
    let Some(file) = testkit::data::shared_data("binance/usdm_btcusdt_20240808.gz") else {
        return;
    };
    let cap = format!("binance-usdm={}", file.display());
    let (code, out, err) = ballast(&["liquidity", "--capture", &cap, "--horizon-s", "1,5"]);
    assert_eq!(code, 0, "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    let blank = lines.iter().position(|l| l.is_empty()).expect("two tables");
    let (scores, coefs) = (&lines[..blank], &lines[blank + 1..]);
    assert!(scores[0].starts_with("| capture | depth | h s | n |"));
    let cols = scores[0].matches('|').count();
    assert_eq!(cols, 15);
    // touch and top5, each at 1 s and 5 s.
    let rows = &scores[2..];
    assert_eq!(rows.len(), 4, "{out}");
    let mut seen = Vec::new();
    for r in rows {
        assert_eq!(r.matches('|').count(), cols, "{r}");
        let c: Vec<&str> = r.split('|').map(str::trim).collect();
        assert_eq!(c[1], "usdm_btcusdt_20240808");
        seen.push((c[2].to_owned(), c[3].to_owned()));
        // About 170 seconds of the second half, both sides: out of sample only.
        let n: u64 = c[4].parse().unwrap();
        assert!((300..=350).contains(&n), "n = {n}");
        // The four MAEs and the forecast-to-persistence ratio.
        for cell in &c[6..=10] {
            let v: f64 = cell.parse().unwrap();
            assert!(v.is_finite() && v > 0.0, "{cell} in {r}");
        }
        let mult: f64 = c[14].parse().unwrap();
        assert!((0.25..=1.0).contains(&mult));
    }
    let want: Vec<(String, String)> =
        [("touch", "1"), ("touch", "5"), ("top5", "1"), ("top5", "5")]
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
    assert_eq!(seen, want);
    // The coefficients: a header, a rule and one row per fit.
    assert_eq!(coefs.len(), 2 + 4, "{out}");
    assert!(coefs[0].contains("trade_intensity"));
}

#[test]
fn liquidity_refuses_bad_arguments() {
    let (code, _, err) = ballast(&["liquidity", "--capture", "nope=x.gz"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown capture tag"), "{err}");
    let (code, _, err) = ballast(&["liquidity", "--capture", "binance=x.gz", "--horizon-s", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = ballast(&["liquidity", "--capture", "binance=/nonexistent/x.gz"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/x.gz"), "{err}");
}
