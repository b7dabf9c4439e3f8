//! `ballast book` on the real capture: every CSV row whose update id equals a bookTicker's `u`
//! carries exactly the ticker's strings; errors are one clear line and a non-zero exit.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use testkit::data::shared_dir;

fn ballast() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
}

/// bookTicker `u` → (b, B, a, A) strings, read independently with serde_json.
fn tickers(path: &std::path::Path) -> HashMap<u64, [String; 4]> {
    let (frames, _) = feeds::capture::read_all(&[path.to_path_buf()]).unwrap();
    let mut m = HashMap::new();
    for (_, f) in frames {
        let v: serde_json::Value = serde_json::from_slice(&f).unwrap();
        if v["stream"]
            .as_str()
            .is_some_and(|s| s.ends_with("@bookTicker"))
        {
            let d = &v["data"];
            let s = |k: &str| d[k].as_str().unwrap().to_owned();
            m.insert(d["u"].as_u64().unwrap(), [s("b"), s("B"), s("a"), s("A")]);
        }
    }
    m
}

#[test]
fn book_rows_equal_book_tickers() {
    let Some(dir) = shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let file = dir.join("binance/spot_btcusdt_20240808.gz");
    let out = ballast()
        .arg("book")
        .arg(&file)
        .args(["--symbol", "BTCUSDT"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("recv_ns,final_update_id,bid_px,bid_qty,ask_px,ask_qty")
    );
    let t = tickers(&file);
    let (mut rows, mut checks, mut mismatches) = (0, 0, 0);
    let mut last_u = 0u64;
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 6, "{l}");
        f[0].parse::<u64>().unwrap();
        let u: u64 = f[1].parse().unwrap();
        assert!(u > last_u, "update ids increase");
        last_u = u;
        rows += 1;
        if let Some(tk) = t.get(&u) {
            checks += 1;
            if f[2..] != tk.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                mismatches += 1;
                eprintln!("mismatch at u={u}: row {l} ticker {tk:?}");
            }
        }
    }
    assert_eq!(rows, 3449, "one row per applied diff");
    assert_eq!(mismatches, 0);
    assert!(checks >= 300, "only {checks} checks");
    assert!(
        stderr.contains("3449 diffs applied, 0 gaps, 0 resyncs"),
        "{stderr}"
    );
    assert!(stderr.contains("0 malformed lines"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one summary line: {stderr}");
}

#[test]
fn closed_pipe_ends_quietly() {
    let Some(dir) = shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let mut child = ballast()
        .arg("book")
        .arg(dir.join("binance/spot_btcusdt_20240808.gz"))
        .args(["--symbol", "btcusdt"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut r = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    r.read_line(&mut first).unwrap();
    assert!(first.starts_with("recv_ns,"));
    drop(r);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(status.success(), "{err}");
}

#[test]
fn missing_file_is_one_clear_line_and_nonzero() {
    let out = ballast()
        .args(["book", "/nonexistent/capture.gz", "--symbol", "BTCUSDT"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/capture.gz"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_flags_fail() {
    let out = ballast()
        .args(["book", "--symbol", "BTCUSDT"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a file is required");
    let out = ballast().args(["book", "x.gz"]).output().unwrap();
    assert!(!out.status.success(), "--symbol is required");
    let out = ballast()
        .args(["book", "x.gz", "--symbol", "BTCUSDT", "--bogus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
}

#[test]
fn symbol_absent_from_capture_fails_and_malformed_lines_are_counted() {
    let Some(dir) = shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let tmp = std::env::temp_dir().join(format!("ballast_book_cli_{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let plain = tmp.join("few.txt");
    // Three good lines from the real capture plus two malformed ones.
    let (frames, _) =
        feeds::capture::read_all(&[dir.join("binance/spot_btcusdt_20240808.gz")]).unwrap();
    let mut text = String::new();
    for (ts, f) in frames.iter().take(3) {
        text.push_str(&format!("{ts} {}\n", String::from_utf8_lossy(f)));
    }
    text.push_str("not-a-timestamp {}\n");
    text.push_str("123 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":1\n");
    std::fs::write(&plain, text).unwrap();
    let out = ballast()
        .arg("book")
        .arg(&plain)
        .args(["--symbol", "ETHUSDT"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ETHUSDT"), "{err}");
    let out = ballast()
        .arg("book")
        .arg(&plain)
        .args(["--symbol", "BTCUSDT"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 malformed lines (1 unreadable, 1 rejected frames)"),
        "{err}"
    );
    assert!(
        err.contains("few.txt:4"),
        "first malformed line named with file and line: {err}"
    );
    std::fs::remove_dir_all(&tmp).ok();
}

/// The cryptofeed USD-M futures capture rewritten in the line format, one symbol's REST snapshot
/// kept (the bodies carry no symbol): rows equal the futures bookTickers at the same `u`.
#[test]
fn futures_line_capture_rows_equal_book_tickers() {
    let Some(dir) = shared_dir("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let raw = std::fs::read(dir.join("cryptofeed/BINANCE_FUTURES.jsonl.zst")).unwrap();
    let text = zstd::stream::decode_all(&raw[..]).unwrap();
    let sym = "SUSHIUSDT";
    let mut lines = String::new();
    let mut tickers: HashMap<u64, [String; 4]> = HashMap::new();
    for rec in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(rec).unwrap();
        let ns = (v["ts"].as_f64().unwrap_or(0.0) * 1e9) as u64;
        let data = v["data"].as_str().unwrap_or("");
        match v["t"].as_str() {
            Some("recv") => {
                let f: serde_json::Value = serde_json::from_str(data).unwrap();
                let d = &f["data"];
                if d["e"] == "bookTicker" && d["s"] == sym {
                    let s = |k: &str| d[k].as_str().unwrap().to_owned();
                    tickers.insert(d["u"].as_u64().unwrap(), [s("b"), s("B"), s("a"), s("A")]);
                }
                lines.push_str(&format!("{ns} {data}\n"));
            }
            Some("http")
                if v["url"]
                    .as_str()
                    .is_some_and(|u| u.contains(&format!("depth?symbol={sym}"))) =>
            {
                lines.push_str(&format!("{ns} {data}\n"));
            }
            _ => {}
        }
    }
    let tmp = std::env::temp_dir().join(format!("ballast_book_fut_{}.txt", std::process::id()));
    std::fs::write(&tmp, lines).unwrap();
    let out = ballast()
        .arg("book")
        .arg(&tmp)
        .args(["--symbol", sym])
        .output()
        .unwrap();
    std::fs::remove_file(&tmp).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (mut checks, mut rows) = (0, 0);
    for l in stdout.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        rows += 1;
        if let Some(tk) = tickers.get(&f[1].parse::<u64>().unwrap()) {
            checks += 1;
            assert_eq!(
                f[2..],
                tk.iter().map(String::as_str).collect::<Vec<_>>()[..],
                "row {l}"
            );
        }
    }
    assert!(rows > 200, "{rows} rows; {stderr}");
    assert!(checks >= 10, "only {checks} checks");
    assert!(
        stderr.contains(" 0 gaps, 0 resyncs, 1 snapshots, 0 malformed lines"),
        "{stderr}"
    );
}
