//! `ballast demo` and `ballast replay` end to end, including their error paths.

use std::path::PathBuf;
use testkit::cli::temp_dir;

fn ballast(args: &[&str]) -> (i32, String, String) {
    testkit::cli::run(env!("CARGO_BIN_EXE_ballast"), args)
}

fn capture() -> Option<PathBuf> {
    testkit::shared_data("binance/spot_btcusdt_20240808.gz")
}

#[test]
fn demo_runs_and_reports_every_hop() {
    let dir = temp_dir("demo");
    let orders = dir.join("orders.csv");
    let hgrm = dir.join("hgrm");
    let (code, out, err) = ballast(&[
        "demo",
        "--steps",
        "4000",
        "--speed",
        "max",
        "--orders-out",
        orders.to_str().unwrap(),
        "--hgrm-out",
        hgrm.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "frames",
        "orders",
        "final position",
        "pnl",
        "conflated",
        "tick_to_order",
        "p99.99",
        "1 gaps, 1 resyncs",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in:\n{out}");
    }
    let csv = std::fs::read_to_string(&orders).unwrap();
    assert!(csv.starts_with("order_id,recv_ns,symbol,side,qty,limit_px"));
    assert!(csv.lines().count() > 5, "{csv}");
    let t2o = std::fs::read_to_string(hgrm.join("tick_to_order.hgrm")).unwrap();
    assert!(t2o.contains("Value") && t2o.contains("#[Max"), "{t2o}");
    // Same seed → same orders.
    let orders2 = dir.join("orders2.csv");
    let (code, _, err) = ballast(&[
        "demo",
        "--steps",
        "4000",
        "--speed",
        "max",
        "--topology",
        "single",
        "--orders-out",
        orders2.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(csv, std::fs::read_to_string(&orders2).unwrap());
}

#[test]
fn replay_writes_identical_orders_across_topologies() {
    let Some(cap) = capture() else { return };
    let dir = temp_dir("replay");
    let mut outputs = Vec::new();
    for topo in ["single", "feed@0,kernel+exec@1", "feed@0,kernel@1,exec@2"] {
        let o = dir.join(format!("{}.csv", outputs.len()));
        let (code, out, err) = ballast(&[
            "replay",
            cap.to_str().unwrap(),
            "--topology",
            topo,
            "--orders-out",
            o.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("tick_to_order"), "{out}");
        outputs.push(std::fs::read(&o).unwrap());
    }
    assert!(outputs[0].len() > 200);
    assert!(outputs.iter().all(|o| *o == outputs[0]));
}

#[test]
fn bad_input_gives_one_clear_error_and_non_zero_exit() {
    let dir = temp_dir("errors");
    let (code, _, err) = ballast(&["replay", "/nonexistent/capture.gz"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/capture.gz"), "{err}");
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "[sizing]\ntarget_vol = -1\n").unwrap();
    let (code, _, err) = ballast(&["demo", "--steps", "10", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("sizing.target_vol") && err.contains("bad.toml"),
        "{err}"
    );
    std::fs::write(&cfg, "[sizing]\ntarget_vol = 0.5\nwarmup = 3\n").unwrap();
    let (code, _, err) = ballast(&["demo", "--steps", "10", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("warmup") && err.contains("line 3"), "{err}");
    let (code, _, err) = ballast(&["demo", "--speed", "fast"]);
    assert_ne!(code, 0);
    assert!(err.contains("--speed"), "{err}");
    let (code, _, err) = ballast(&["demo", "--steps", "10", "--topology", "feed@0,kernel"]);
    assert_ne!(code, 0);
    assert!(err.contains("topology"), "{err}");
    let (code, _, err) = ballast(&["replay"]);
    assert_ne!(code, 0);
    assert!(err.contains("FILES") || err.contains("required"), "{err}");
    // A file of garbage is not a crash: lines are counted as malformed and the run completes.
    let junk = dir.join("junk.txt");
    std::fs::write(&junk, "not a capture\n12 {\"half\":\n\n").unwrap();
    let (code, out, err) = ballast(&["replay", junk.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("malformed"), "{out}");
}

#[test]
fn replay_reads_cryptofeed_futures_and_applies_only_its_symbols_snapshot() {
    let Some(p) = testkit::shared_data("cryptofeed/BINANCE_FUTURES.jsonl.zst") else {
        return;
    };
    let dir = temp_dir("cryptofeed");
    let cfg = dir.join("fut.toml");
    std::fs::write(&cfg, "topology = \"single\"\n[instrument]\nsymbol = \"SUSHIUSDT\"\nmarket = \"usdm\"\n[sizing]\nwarmup_samples = 5\n").unwrap();
    let (code, out, err) = ballast(&[
        "replay",
        p.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Three other symbols' REST snapshots are in the file: only SUSHIUSDT's may reach its book.
    assert!(out.contains("0 gaps, 0 resyncs, 1 snapshots"), "{out}");
    assert!(out.contains(" 0 crossed"), "{out}");
    assert!(!out.contains("orders            0 "), "{out}");
}
