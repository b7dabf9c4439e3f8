//! `ballast venue-sim` as a process: loopback only, control channel, clean stop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::cli::http;
use testkit::data::shared_dir;

#[test]
fn refuses_non_loopback_and_bad_flags() {
    let bin = env!("CARGO_BIN_EXE_ballast");
    for (args, msg) in [
        (
            &[
                "venue-sim",
                "--venue",
                "binance",
                "--synthetic",
                "--listen",
                "0.0.0.0:0",
            ][..],
            "loopback only",
        ),
        (
            &["venue-sim", "--venue", "kraken", "--synthetic"][..],
            "invalid value 'kraken' for '--venue",
        ),
        (
            &["venue-sim", "--venue", "binance"][..],
            "--capture FILE... or --synthetic",
        ),
        (
            &[
                "venue-sim",
                "--venue",
                "binance",
                "--synthetic",
                "--speed",
                "0",
            ][..],
            "--speed",
        ),
        (
            &[
                "venue-sim",
                "--venue",
                "binance",
                "--capture",
                "/nonexistent.gz",
            ][..],
            "cannot read capture",
        ),
        (
            &[
                "venue-sim",
                "--venue",
                "deribit",
                "--synthetic",
                "--secret-env",
                "BALLAST_TEST_UNSET_VAR",
            ][..],
            "BALLAST_TEST_UNSET_VAR",
        ),
    ] {
        let out = Command::new(bin).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
}

#[test]
fn serves_controls_and_stops() {
    let bin = env!("CARGO_BIN_EXE_ballast");
    let mut child = Command::new(bin)
        .args([
            "venue-sim",
            "--venue",
            "binance",
            "--synthetic",
            "--steps",
            "2000",
            "--speed",
            "max",
            "--start-now",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    assert!(addr.ip().is_loopback());
    // The synthetic market runs at once: the REST snapshot appears.
    let t0 = Instant::now();
    loop {
        let (st, body) = http(addr, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=3");
        if st == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["bids"].as_array().unwrap().len(), 3);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{body}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(http(addr, "POST", "/sim/fault?kind=lose_acks&n=2").0, 200);
    assert_eq!(http(addr, "POST", "/sim/fault?kind=stall").0, 400);
    let (st, body) = http(addr, "GET", "/sim/record");
    assert_eq!(st, 200);
    let rec: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rec["faults"], serde_json::json!(["LoseAcks(2)"]));
    assert_eq!(http(addr, "POST", "/sim/stop").0, 200);
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success());
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("venue-sim stopped: 0 orders"), "{rest}");
}

/// `ballast book` on cryptofeed captures: a Deribit option's book (one row per book message,
/// update id = `change_id`, touch as sent) and a Binance USD-M book synced from the capture's own
/// REST snapshot for that symbol.
#[test]
fn book_reads_cryptofeed_and_deribit_captures() {
    let Some(dir) = shared_dir("cryptofeed/DERIBIT.jsonl.zst").map(|d| d.join("cryptofeed")) else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_ballast");
    // Expected rows, read independently: book notifications of the instrument.
    let recs = feeds::cryptofeed::read_all(&[dir.join("DERIBIT.jsonl.zst")]).unwrap();
    let mut want: Vec<(u64, f64, f64)> = Vec::new();
    let mut bids: std::collections::BTreeMap<String, f64> = Default::default();
    let mut asks: std::collections::BTreeMap<String, f64> = Default::default();
    for rec in recs
        .iter()
        .filter(|r| r.kind == feeds::cryptofeed::RecordKind::Recv)
    {
        let v: serde_json::Value = serde_json::from_slice(&rec.data).unwrap();
        if v["params"]["channel"] != "book.BTC-24SEP21-8000-P.raw" {
            continue;
        }
        let d = &v["params"]["data"];
        if d["type"] == "snapshot" {
            bids.clear();
            asks.clear();
        }
        for (side, book) in [("bids", &mut bids), ("asks", &mut asks)] {
            for l in d[side].as_array().unwrap() {
                let key = format!("{:020.8}", l[1].as_f64().unwrap());
                if l[0] == "delete" {
                    book.remove(&key);
                } else {
                    book.insert(key, l[1].as_f64().unwrap());
                }
            }
        }
        let best_bid = bids.values().copied().fold(f64::NAN, f64::max);
        let best_ask = asks.values().copied().fold(f64::NAN, f64::min);
        want.push((d["change_id"].as_u64().unwrap(), best_bid, best_ask));
    }
    assert!(want.len() > 20);
    let out = Command::new(bin)
        .args([
            "book",
            dir.join("DERIBIT.jsonl.zst").to_str().unwrap(),
            "--symbol",
            "BTC-24SEP21-8000-P",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<(u64, f64, f64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |s: &str| {
                if s.is_empty() {
                    f64::NAN
                } else {
                    s.parse::<f64>().unwrap()
                }
            };
            (f[1].parse().unwrap(), num(f[2]), num(f[4]))
        })
        .collect();
    assert_eq!(rows.len(), want.len());
    for (r, w) in rows.iter().zip(&want) {
        assert_eq!(r.0, w.0);
        assert!(
            r.1 == w.1 || (r.1.is_nan() && w.1.is_nan()),
            "{r:?} vs {w:?}"
        );
        assert!(
            r.2 == w.2 || (r.2.is_nan() && w.2.is_nan()),
            "{r:?} vs {w:?}"
        );
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(" 0 gaps"), "{err}");

    let out = Command::new(bin)
        .args([
            "book",
            dir.join("BINANCE_FUTURES.jsonl.zst").to_str().unwrap(),
            "--symbol",
            "SUSHIUSDT",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(" 0 gaps") && err.contains("1 snapshots"),
        "{err}"
    );
    assert!(String::from_utf8(out.stdout).unwrap().lines().count() > 100);
}
