//! `ballast bench` end to end: the core matrix, a pipeline sweep and its files, `compare` flagging
//! a deliberately slowed build, and venue round trips against a local websocket server and the
//! venue simulator (127.0.0.1 only).

use std::net::TcpListener;
use std::path::Path;
use testkit::cli::temp_dir;

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

fn ballast(args: &[&str]) -> (i32, String, String) {
    testkit::cli::run(env!("CARGO_BIN_EXE_ballast"), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Checks HdrHistogram's percentile-distribution format: header, rows of value / percentile /
/// total count / 1/(1-p) ending at percentile 1 with the total count, and the three footer lines.
fn check_hgrm(path: &Path, want_count: Option<u64>) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "       Value     Percentile TotalCount 1/(1-Percentile)"
    );
    assert_eq!(lines.next().unwrap(), "");
    let mut last_total = 0u64;
    let mut last_q = 0.0f64;
    let mut rows = 0;
    for l in lines.clone().take_while(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert!(f.len() == 4 || f.len() == 3, "row `{l}`");
        let v: f64 = f[0].parse().unwrap();
        let q: f64 = f[1].parse().unwrap();
        let total: u64 = f[2].parse().unwrap();
        assert!(v >= 0.0 && q >= last_q && total >= last_total, "row `{l}`");
        (last_q, last_total) = (q, total);
        rows += 1;
    }
    assert!(rows >= 2, "{}: {rows} rows", path.display());
    assert!((last_q - 1.0).abs() < 1e-12, "last percentile {last_q}");
    let footer: Vec<&str> = text.lines().filter(|l| l.starts_with("#[")).collect();
    assert_eq!(footer.len(), 3, "{text}");
    assert!(footer[0].starts_with("#[Mean    ="));
    assert!(footer[1].starts_with("#[Max     ="));
    assert!(footer[2].starts_with("#[Buckets ="));
    let total: u64 = footer[1]
        .trim_end_matches(']')
        .rsplit('=')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(total, last_total);
    if let Some(n) = want_count {
        assert_eq!(total, n, "{}", path.display());
    }
    total
}

fn interval_tags(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("#[StartTime: "));
    IntervalLogIterator::new(&bytes)
        .map(|e| e.unwrap_or_else(|e| panic!("{}: {e:?}", path.display())))
        .filter_map(|e| match e {
            LogEntry::Interval(i) => Some(i.tag().map_or(String::new(), |t| t.as_str().to_owned())),
            _ => None,
        })
        .collect()
}

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn series<'a>(cfg: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    cfg["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("series {name} missing in {cfg}"))
}

fn usable_cores() -> usize {
    core_affinity::get_core_ids().map_or(1, |c| c.len())
}

#[test]
fn cores_prints_the_matrix_and_writes_csv_hgrm_log_and_plot() {
    let dir = temp_dir("cores");
    let csv = dir.join("m.csv");
    let (code, out, err) = ballast(&[
        "bench",
        "cores",
        "--samples",
        "40",
        "--per-sample",
        "50",
        "--csv",
        s(&csv),
        "--out",
        s(&dir),
    ]);
    if usable_cores() < 2 {
        assert_eq!(code, 1);
        assert!(err.contains("at least 2"), "{err}");
        return;
    }
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("n/a") && out.contains("core 0") && out.contains("core 1"),
        "{out}"
    );
    let n = usable_cores();
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 1 + n * (n - 1));
    assert!(text.starts_with("from_core,to_core,median_ns,p99_ns"));
    assert_eq!(
        std::fs::read_to_string(dir.join("cores.csv")).unwrap(),
        text
    );
    for (a, b) in [(0, 1), (1, 0)] {
        check_hgrm(&dir.join(format!("core{a}-core{b}.hgrm")), Some(40));
    }
    let tags = interval_tags(&dir.join("cores.hlog"));
    assert_eq!(tags.len(), n * (n - 1));
    assert!(tags.contains(&"core0-core1".to_string()));
    let sum = summary(&dir.join("summary.json"));
    assert_eq!(sum["bench"], "cores");
    assert_eq!(series(&sum["configs"][0], "round_trip")["count"], 40);
    let svg = std::fs::read_to_string(dir.join("cores.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("core0-core1"));
}

fn pipeline(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "bench",
        "pipeline",
        "--rate",
        "4000",
        "--duration",
        "0.5",
        "--topology",
        "single",
        "--out",
        s(dir),
    ];
    args.extend_from_slice(extra);
    ballast(&args)
}

#[test]
fn pipeline_sweep_reports_every_configuration_and_writes_its_files() {
    let dir = temp_dir("pipeline");
    let (code, out, err) = pipeline(&dir, &["--topology", "feed@0,kernel+exec@1"]);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "-- single",
        "-- feed@0,kernel+exec@1",
        "throughput",
        "conflated",
        "tick_to_decision_co",
        "floor             parse_only",
        "parse p50 =",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in\n{out}");
    }
    let sum = summary(&dir.join("summary.json"));
    assert_eq!(sum["bench"], "pipeline");
    let configs = sum["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 2);
    for c in configs {
        assert_eq!(c["offered"], 2000);
        assert_eq!(c["completed"], 2000, "every frame offered was read");
        let co = series(c, "tick_to_decision_co");
        let raw = series(c, "tick_to_decision");
        assert_eq!(co["count"], raw["count"]);
        assert!(co["count"].as_u64().unwrap() >= 2000);
        assert!(
            co["p50_ns"].as_u64().unwrap() >= raw["p50_ns"].as_u64().unwrap() * 99 / 100,
            "measured from the intended time, latency cannot be smaller: {co} vs {raw}"
        );
    }
    assert!(sum["floors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "parse_only"));
    let n = check_hgrm(&dir.join("single.tick_to_decision_co.hgrm"), None);
    assert_eq!(
        Some(n),
        series(&configs[0], "tick_to_decision_co")["count"].as_u64()
    );
    check_hgrm(&dir.join("feed_0_kernel_exec_1.parse.hgrm"), Some(2000));
    check_hgrm(&dir.join("floor.parse_only.hgrm"), Some(2000));
    let tags = interval_tags(&dir.join("pipeline.hlog"));
    assert!(tags.iter().any(|t| t == "single"));
    assert!(tags.iter().any(|t| t == "feed_0_kernel_exec_1"));
    for svg in ["pipeline.svg", "single.svg", "feed_0_kernel_exec_1.svg"] {
        let text = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("<polyline"),
            "{svg}"
        );
    }
}

#[test]
fn compare_flags_a_deliberately_slowed_build() {
    let a = temp_dir("cmp-a");
    let b = temp_dir("cmp-b");
    let (code, _, err) = pipeline(&a, &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = pipeline(&b, &["--inject-delay-ns", "200000"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("injected          200000 ns per sizer tick"),
        "{out}"
    );
    let (sa, sb) = (a.join("summary.json"), b.join("summary.json"));
    let (code, out, err) = ballast(&["bench", "compare", s(&sa), s(&sb), "--threshold", "10%"]);
    assert_eq!(
        code, 1,
        "a slowed build must fail the comparison\n{out}\n{err}"
    );
    assert!(err.contains("regression(s) beyond 10.0 %"), "{err}");
    let flagged: Vec<&str> = out.lines().filter(|l| l.ends_with("REGRESSION")).collect();
    assert!(
        flagged
            .iter()
            .any(|l| l.starts_with("single") && l.contains(" kernel ")),
        "the kernel hop carries the injected delay:\n{out}"
    );
    let (code, out, err) = ballast(&["bench", "compare", s(&sa), s(&sa)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no regression beyond 10.0 %"));
    // Bad inputs are named.
    let (code, _, err) = ballast(&["bench", "compare", s(&sa), "/nonexistent/x.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/x.json"), "{err}");
    let (code, _, err) = ballast(&["bench", "compare", s(&sa), s(&sb), "--threshold", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("--threshold"), "{err}");
}

#[test]
fn pipeline_rejects_bad_flags() {
    let dir = temp_dir("bad");
    // Values clap parses (enums, topologies) are refused with its usage exit code, 2.
    for (args, needle, want) in [
        (vec!["--rate", "0"], "--rate", 1),
        (vec!["--duration=-1"], "--duration", 1),
        (vec!["--backpressure", "drop"], "--backpressure", 2),
        (vec!["--topology", "feed,kernel"], "--topology", 2),
        (vec!["--stall-ms", "nan"], "--stall-ms", 1),
    ] {
        let mut all = vec!["bench", "pipeline", "--out", s(&dir)];
        all.extend_from_slice(&args);
        let (code, _, err) = ballast(&all);
        assert_eq!(code, want, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A JSON-RPC responder on 127.0.0.1: answers each request with its id, after a one-off stall of
/// `stall_ms` on request `stall_id`.
fn rpc_server(stall_id: u64, stall_ms: u64) -> (String, std::thread::JoinHandle<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws/api/v2", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        let mut answered = 0;
        loop {
            match ws.read() {
                Ok(tungstenite::Message::Text(t)) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                    let id = v["id"].as_u64().unwrap();
                    if id == stall_id {
                        std::thread::sleep(std::time::Duration::from_millis(stall_ms));
                    }
                    let reply = serde_json::json!({"jsonrpc": "2.0", "id": id, "result": "ok"});
                    ws.send(tungstenite::Message::Text(reply.to_string()))
                        .unwrap();
                    answered += 1;
                }
                Ok(tungstenite::Message::Ping(_)) => {
                    let _ = ws.flush();
                }
                Ok(_) => {}
                Err(_) => return answered,
            }
        }
    });
    (url, h)
}

#[test]
fn venue_round_trips_are_corrected_for_a_stalled_answer() {
    // 1000 requests/s, the 70th request (the 50th recorded) answered 100 ms late: about 100
    // requests were due during the stall. From their intended send times they waited from 100 ms
    // down to 0; from their actual send times (after the stall) they did not wait at all.
    let (url, server) = rpc_server(70, 100);
    let dir = temp_dir("venue");
    let (code, out, err) = ballast(&[
        "bench",
        "venue",
        "--url",
        &url,
        "--probe",
        "deribit-test",
        "--count",
        "400",
        "--warmup",
        "20",
        "--rate",
        "1000",
        "--out",
        s(&dir),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.join().unwrap(), 420);
    assert!(
        out.contains("420 sent (20 warm-up), 420 answered, 0 errors, 0 timed out"),
        "{out}"
    );
    let n = check_hgrm(&dir.join("deribit-test_rtt.hgrm"), Some(400));
    assert_eq!(n, 400);
    check_hgrm(&dir.join("deribit-test_rtt_co.hgrm"), Some(400));
    let sum = summary(&dir.join("summary.json"));
    let c = &sum["configs"][0];
    let raw = series(c, "deribit-test_rtt");
    let co = series(c, "deribit-test_rtt_co");
    assert!(
        raw["max_ns"].as_u64().unwrap() >= 95_000_000,
        "the stall itself: {raw}"
    );
    // p90 of 400: the 40 worst. Uncorrected, only one request saw the stall; corrected, ~100 did,
    // half of them by more than 50 ms.
    assert!(raw["p90_ns"].as_u64().unwrap() < 50_000_000, "{raw}");
    assert!(co["p90_ns"].as_u64().unwrap() >= 40_000_000, "{co}");
    assert!(!interval_tags(&dir.join("venue.hlog")).is_empty());
    assert!(std::fs::read_to_string(dir.join("venue.svg"))
        .unwrap()
        .contains("<polyline"));
}

#[test]
fn venue_ping_pong_against_a_local_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(stream).unwrap();
        // Reading answers pings with pongs; flushing sends them at once.
        while ws.read().is_ok() {
            let _ = ws.flush();
        }
    });
    let (code, out, err) = ballast(&[
        "bench", "venue", "--url", &url, "--count", "200", "--warmup", "5", "--rate", "2000",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("205 sent (5 warm-up), 205 answered"), "{out}");
    assert!(out.contains("ping_rtt_co"), "{out}");
    server.join().unwrap();
    // Nothing listening: a clear error naming the URL.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("ws://{dead}/");
    let (code, _, err) = ballast(&["bench", "venue", "--url", &url, "--count", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains(&url), "{err}");
}

#[test]
fn venue_order_acks_from_the_simulator_with_signed_requests() {
    use synth::SynthConfig;
    use venue_sim::{start, SimConfig, SimSource, Venue};
    for venue in [Venue::Binance, Venue::Deribit] {
        let mut cfg = SimConfig::new(
            venue,
            SimSource::Synthetic(SynthConfig {
                steps: 2_000,
                ..SynthConfig::default()
            }),
        );
        cfg.api_key = Some("bench-key".into());
        cfg.api_secret = Some("bench-secret".into());
        // Orders match against the simulator's books, which exist once its market data runs.
        cfg.start_on_subscribe = false;
        cfg.speed = 10.0;
        let sim = start(cfg).expect("simulator starts on loopback");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let (url, probe, symbol, qty) = match venue {
            Venue::Binance => (
                format!("ws://{}/ws-api/v3", sim.addr()),
                "binance-order",
                "BTCUSDT",
                "0.001",
            ),
            Venue::Deribit => (
                format!("ws://{}/ws/api/v2", sim.addr()),
                "deribit-order",
                "BTC-PERPETUAL",
                "10",
            ),
        };
        let run = |secret: &str| {
            ballast(&[
                "bench",
                "venue",
                "--url",
                &url,
                "--probe",
                probe,
                "--symbol",
                symbol,
                "--qty",
                qty,
                "--price",
                "1000",
                "--count",
                "30",
                "--warmup",
                "2",
                "--rate",
                "500",
                "--api-key",
                "bench-key",
                "--api-secret",
                secret,
            ])
        };
        let (code, out, err) = run("bench-secret");
        assert_eq!(code, 0, "{probe}: {err}");
        assert!(
            out.contains("32 sent (2 warm-up), 32 answered, 0 errors"),
            "{probe}: every order acknowledged\n{out}"
        );
        // A wrong secret: Binance rejects every signed order, Deribit refuses the login.
        let (code, out, err) = run("wrong");
        match venue {
            Venue::Binance => {
                assert_eq!(code, 0, "{err}");
                assert!(out.contains("32 answered, 32 errors"), "{out}");
            }
            Venue::Deribit => {
                assert_eq!(code, 1);
                assert!(err.contains("authentication refused"), "{err}");
            }
        }
        sim.stop();
    }
}
