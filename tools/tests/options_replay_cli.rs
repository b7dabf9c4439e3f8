//! `ballast options-replay` on the real Deribit capture, through the pipeline: two runs (and a
//! run on two threads) give byte-identical orders and decisions; the decisions log reconciles
//! (portfolio delta after each band hedge inside the band, no gamma or vega cap exceeded at any
//! decision, the derived hedge's price is a ticker's `underlying_price`); a captured hedge book
//! is merged by receive time; bad configs and flags are one clear error naming the key.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use testkit::cli::temp_dir;

fn deribit() -> Option<PathBuf> {
    testkit::shared_data("cryptofeed/DERIBIT.jsonl.zst")
}

fn ballast(args: &[&str]) -> (i32, String, String) {
    testkit::cli::run(env!("CARGO_BIN_EXE_ballast"), args)
}

/// BTC and ETH books sized for the capture: the example configuration (so it stays valid).
fn example_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/options-replay.toml")
}

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Checks the log; returns (band hedges checked, decisions).
fn reconcile(orders: &[serde_json::Value], decisions: &[serde_json::Value]) -> (usize, usize) {
    let mut it = orders.iter();
    let mut band_hedges = 0;
    let mut last_id = 0;
    for d in decisions {
        let c = &d["constraints"];
        let n = d["orders"].as_u64().unwrap() as usize;
        assert!(n > 0, "a decision without orders: {d}");
        // The orders of a decision precede it and share its receive time.
        let mine: Vec<&serde_json::Value> = it.by_ref().take(n).collect();
        assert_eq!(mine.len(), n, "orders file ends before decision {d}");
        let mut band_hedge = false;
        for o in &mine {
            assert_eq!(o["recv_ns"], d["recv_ns"], "{o} vs {d}");
            let id = o["id"].as_u64().unwrap();
            assert!(id > last_id, "order ids not increasing: {o}");
            last_id = id;
            band_hedge |= o["hedge"] == true && o["binding"] == "delta_band";
        }
        let after = &d["after"];
        assert!(
            f(&after["gamma"]).abs() <= f(&c["max_abs_gamma"]) * (1.0 + 1e-12),
            "gamma cap exceeded: {d}"
        );
        assert!(
            f(&after["vega_per_vol_point"]).abs() <= f(&c["max_abs_vega"]) * (1.0 + 1e-12),
            "vega cap exceeded: {d}"
        );
        if band_hedge {
            assert!(
                f(&after["delta"]).abs() <= f(&c["delta_band"]) + 1e-9,
                "delta outside the band after a band hedge: {d}"
            );
            band_hedges += 1;
        }
    }
    assert!(it.next().is_none(), "orders without a decision");
    (band_hedges, decisions.len())
}

/// `underlying_price` of every ticker in the capture.
fn underlying_prices(capture: &Path) -> Vec<f64> {
    let mut text = String::new();
    zstd::stream::read::Decoder::new(std::fs::File::open(capture).unwrap())
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let mut out = Vec::new();
    for l in text.lines() {
        let r: serde_json::Value = serde_json::from_str(l).unwrap();
        if r["t"] != "recv" {
            continue;
        }
        let d: serde_json::Value = serde_json::from_str(r["data"].as_str().unwrap()).unwrap();
        if let Some(px) = d["params"]["data"]["underlying_price"].as_f64() {
            out.push(px);
        }
    }
    out
}

#[test]
fn deribit_replay_is_deterministic_and_reconciles() {
    let Some(cap) = deribit() else { return };
    let dir = temp_dir("det");
    let cfg = example_config();
    let mut outs = Vec::new();
    // Twice on one thread, once on two (the pipeline's execution clock keeps the order).
    for (run, topology) in ["single", "single", "feed@0,kernel+exec@1"]
        .iter()
        .enumerate()
    {
        let (o, d) = (
            dir.join(format!("o{run}.jsonl")),
            dir.join(format!("d{run}.jsonl")),
        );
        // The last run goes through `ballast replay`, which runs the options engine for a
        // configuration with `[options]`: the same logs.
        let tagged = format!("deribit={}", cap.display());
        let (cmd, capture) = if run == 2 {
            ("replay", tagged.as_str())
        } else {
            ("options-replay", cap.to_str().unwrap())
        };
        let (code, out, err) = ballast(&[
            cmd,
            "--capture",
            capture,
            "--config",
            cfg.to_str().unwrap(),
            "--hedge-from-underlying",
            "--topology",
            topology,
            "--orders-out",
            o.to_str().unwrap(),
            "--decisions-out",
            d.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
        assert!(out.contains("BTC: ") && out.contains("ETH: "), "{out}");
        assert!(
            out.contains("tick_to_order"),
            "pipeline latency table: {out}"
        );
        assert!(out.contains("DERIVED touch (not a real book)"), "{out}");
        // The capture's REST bodies stamped late are counted, not reordered.
        assert!(out.contains("25 frames step back in time"), "{out}");
        outs.push((std::fs::read(&o).unwrap(), std::fs::read(&d).unwrap(), o, d));
    }
    assert!(outs[0].0 == outs[1].0, "orders differ between runs");
    assert!(outs[0].1 == outs[1].1, "decisions differ between runs");
    assert!(outs[0].0 == outs[2].0, "orders differ between topologies");
    assert!(
        outs[0].1 == outs[2].1,
        "decisions differ between topologies"
    );
    let orders = lines(&outs[0].2);
    let decisions = lines(&outs[0].3);
    let (band_hedges, n) = reconcile(&orders, &decisions);
    assert!(band_hedges >= 2, "too few band hedges: {band_hedges}");
    // Both underlyings decided (distinct hedge instruments traded).
    let hedges: BTreeSet<u64> = orders
        .iter()
        .filter(|o| o["hedge"] == true)
        .map(|o| o["instrument"].as_u64().unwrap())
        .collect();
    assert_eq!(hedges.len(), 2, "hedge orders on {hedges:?}");
    // The derived hedge's mid is a ticker's underlying price (± rounding to 1e-8).
    let pxs = underlying_prices(&cap);
    for d in &decisions {
        let u = f(&d["underlying_px"]);
        assert!(
            pxs.iter().any(|p| (p - u).abs() <= 1e-6),
            "underlying_px {u} is no ticker's underlying_price"
        );
    }
    eprintln!(
        "{n} decisions, {} orders, {band_hedges} band hedges",
        orders.len()
    );
}

#[test]
fn captured_hedge_book_is_merged_by_receive_time() {
    let Some(cap) = deribit() else { return };
    let dir = temp_dir("cap");
    // A BTCUSDT USD-M bookTicker every 2 s over the capture's last 28 s (its frames run from
    // 1626993723.8 to 1626993754.2; the first ticker comes after the two REST bodies stamped
    // 1626993725.13 that precede, in file order, frames stamped up to 1.3 s earlier).
    let mut hedge = String::new();
    let t0: u64 = 1_626_993_726_000_000_000;
    for i in 0..15u64 {
        let mid = 32_300.0 + 10.0 * i as f64;
        hedge.push_str(&format!(
            "{} {{\"stream\":\"btcusdt@bookTicker\",\"data\":{{\"e\":\"bookTicker\",\"u\":{},\"s\":\"BTCUSDT\",\"b\":\"{:.1}\",\"B\":\"40.000\",\"a\":\"{:.1}\",\"A\":\"30.000\",\"T\":1,\"E\":1}}}}\n",
            t0 + i * 2_000_000_000,
            100 + i,
            mid - 0.5,
            mid + 0.5
        ));
    }
    let hp = dir.join("btcusdt.txt");
    std::fs::write(&hp, hedge).unwrap();
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        "[options]\nunderlyings = [\"BTC\"]\nvol_source = \"implied\"\n[hedge]\ncontract = \"linear\"\nlot_qty = 0.001\n",
    )
    .unwrap();
    let (o, d) = (dir.join("o.jsonl"), dir.join("d.jsonl"));
    let (code, out, err) = ballast(&[
        "options-replay",
        "--capture",
        cap.to_str().unwrap(),
        "--hedge-capture",
        hp.to_str().unwrap(),
        "--hedge-symbol",
        "BTC=BTCUSDT",
        "--config",
        cfg.to_str().unwrap(),
        "--orders-out",
        o.to_str().unwrap(),
        "--decisions-out",
        d.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("captured book BTCUSDT"), "{out}");
    assert!(!out.contains("ETH: "), "{out}");
    let decisions = lines(&d);
    let orders = lines(&o);
    reconcile(&orders, &decisions);
    assert!(!decisions.is_empty());
    // The underlying price of each decision is the mid of the last hedge ticker received at or
    // before it: the two inputs were merged by receive time.
    for dd in &decisions {
        let t = dd["recv_ns"].as_u64().unwrap();
        let i = (t - t0) / 2_000_000_000;
        let mid = 32_300.0 + 10.0 * i.min(14) as f64;
        assert!((f(&dd["underlying_px"]) - mid).abs() < 1e-9, "{dd}");
    }
    // Hedge orders trade at the touch of that ticker.
    for oo in orders.iter().filter(|o| o["hedge"] == true) {
        let i = (oo["recv_ns"].as_u64().unwrap() - t0) / 2_000_000_000;
        let mid = 32_300.0 + 10.0 * i.min(14) as f64;
        let px = if oo["side"] == "buy" {
            mid + 0.5
        } else {
            mid - 0.5
        };
        assert!((f(&oo["limit_px"]) - px).abs() < 1e-9, "{oo}");
    }
}

#[test]
fn bad_config_and_flags_are_named() {
    let Some(cap) = deribit() else { return };
    let dir = temp_dir("bad");
    let c = cap.to_str().unwrap();
    for (toml, want) in [
        ("[options]\ndelta_bnd = 0.3\n", "delta_bnd"),
        (
            "[options]\nvol_source = \"psychic\"\n",
            "options.vol_source",
        ),
        ("[hedge]\ncontract = \"perpetual\"\n", "hedge.contract"),
        ("[options.underlying.BTC]\ncollateral = 1.0\n", "collateral"),
        ("[options]\ndelta_band = -1.0\n", "delta_band"),
        (
            "[options.garch]\nomega = 1e-9\nalpha = 0.2\nbeta = 0.85\n",
            "options.garch.alpha + options.garch.beta",
        ),
        (
            "[options.underlying.BTC.garch]\nomega = -1e-9\nalpha = 0.1\nbeta = 0.8\n",
            "options.underlying.BTC.garch.omega",
        ),
        ("[options]\nvol_source = \"garch\"\n", "options.garch"),
        (
            "[options.surface]\niv_source = \"last\"\n",
            "options.surface.iv_source",
        ),
        (
            "[options.surface]\nmin_points = 2\n",
            "options.surface.min_points",
        ),
        (
            "[[options.book]]\nsymbol = \"BTC-1JAN99-1-C\"\nlots = 1\n",
            "BTC-1JAN99-1-C",
        ),
    ] {
        let cfg = dir.join("c.toml");
        std::fs::write(&cfg, toml).unwrap();
        let (code, _, err) = ballast(&[
            "options-replay",
            "--capture",
            c,
            "--config",
            cfg.to_str().unwrap(),
            "--hedge-from-underlying",
        ]);
        assert_eq!(code, 1, "{toml}: {err}");
        assert!(
            err.contains(want),
            "{toml}: error does not name `{want}`: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = ballast(&["options-replay", "--capture", c]);
    assert_eq!(code, 1);
    assert!(err.contains("no hedge feed"), "{err}");
    let (code, _, err) = ballast(&[
        "options-replay",
        "--capture",
        "/nonexistent/x.jsonl",
        "--hedge-from-underlying",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/x.jsonl"), "{err}");
}
