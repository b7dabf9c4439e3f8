//! `ballast venue-sim` as a process: loopback only, control channel, clean stop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http(addr: SocketAddr, method: &str, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        buf.split_once("\r\n\r\n")
            .map(|x| x.1.to_owned())
            .unwrap_or_default(),
    )
}

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
            "unknown venue",
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
