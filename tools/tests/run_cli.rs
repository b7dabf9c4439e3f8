//! `ballast run` and `ballast capture` against the in-process venue simulator on loopback: for
//! both venues, the run's summary and its `--orders-out` file agree exactly with the simulator's
//! record (orders, fills, rejects, position), through an injected disconnect too.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use feeds::{BinanceFeed, CaptureReader, Registry, Side};
use testkit::cli::temp_dir;
use testkit::live::start_sim;
use venue_sim::{self, Fault, SimConfig, SimRecord, Venue};

fn ballast() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
}

fn sim_of(venue: Venue, edit: impl FnOnce(&mut SimConfig)) -> venue_sim::SimHandle {
    start_sim(venue, 20_000, |sc| {
        sc.speed = 10.0;
        edit(sc);
    })
}

fn sim(secret: Option<&str>) -> venue_sim::SimHandle {
    sim_of(Venue::Binance, |sc| {
        if let Some(s) = secret {
            sc.api_key = Some("cli-key".into());
            sc.api_secret = Some(s.into());
        }
    })
}

/// An example config (`file` under `examples/`) pointed at `addr`, run for 2.5 s, with `edit`
/// applied to its text.
fn example(file: &str, addr: std::net::SocketAddr, edit: impl Fn(String) -> String) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap();
    let text = text
        .replace("127.0.0.1:9100", &addr.to_string())
        .replace("127.0.0.1:9200", &addr.to_string())
        .replace("duration_s = 0", "duration_s = 2.5");
    edit(text)
}

/// The Binance example config pointed at `addr`, with `edit` applied to its text.
fn config(addr: std::net::SocketAddr, edit: impl Fn(String) -> String) -> String {
    example("run-venue-sim.toml", addr, edit)
}

fn run_config(dir: &Path, text: &str, env: &[(&str, &str)]) -> std::process::Output {
    let p = dir.join("c.toml");
    std::fs::write(&p, text).unwrap();
    let mut c = ballast();
    c.args(["run", "--config"])
        .arg(&p)
        .arg("--orders-out")
        .arg(dir.join("orders.csv"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The integer after `key` in `stdout`.
fn num(stdout: &str, key: &str) -> i64 {
    let at = stdout
        .find(key)
        .unwrap_or_else(|| panic!("{key} in {stdout}"))
        + key.len();
    stdout[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {stdout}"))
}

/// The feed's own counters (`live_feed …` line: resets, stale gaps, snapshots, retried
/// snapshots), checked against the source's (`live …` line): the feed sees at most what the
/// source sent it (control frames still queued when the run stops are not seen), and retries only
/// snapshots it got.
fn live_feed(stdout: &str) -> [i64; 4] {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("live_feed "))
        .unwrap_or_else(|| panic!("no live_feed line in {stdout}"));
    let got = [
        num(line, " resets "),
        num(line, " stale_gaps "),
        num(line, " snapshots "),
        num(line, " snapshots_retried "),
    ];
    let [resets, stale_gaps, snapshots, retried] = got;
    assert!(got.iter().all(|n| *n >= 0), "{line}");
    assert!(resets <= num(stdout, " disconnects "), "{stdout}");
    assert!(stale_gaps <= num(stdout, " stale_periods "), "{stdout}");
    assert!(snapshots <= num(stdout, " resyncs "), "{stdout}");
    assert!(retried <= snapshots, "{stdout}");
    got
}

/// One row of `--orders-out`.
#[derive(Debug)]
struct Row {
    client_id: String,
    side: Side,
    qty: i64,
    px: i64,
    sent: bool,
    filled: i64,
    cancelled: i64,
}

fn rows(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "order_id,client_id,instrument,side,qty,limit_px,sent,filled_qty,fill_px,cancelled_qty"
        )
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 10, "{l}");
            let n = |i: usize| -> i64 { f[i].parse().unwrap_or_else(|_| panic!("{l}")) };
            Row {
                client_id: f[1].to_owned(),
                side: if f[3] == "sell" {
                    Side::Sell
                } else {
                    Side::Buy
                },
                qty: n(4),
                px: n(5),
                sent: f[6] == "1",
                filled: n(7),
                cancelled: n(9),
            }
        })
        .collect()
}

/// Checks that the run (its summary and `orders.csv` in `dir`) and the simulator's record agree
/// exactly; returns the number of orders sent.
fn assert_agrees(stdout: &str, dir: &Path, rec: &SimRecord) -> usize {
    let rows = rows(&dir.join("orders.csv"));
    // One final report per order, and the summary counts them.
    assert_eq!(num(stdout, "orders ") as usize, rows.len(), "{stdout}");
    assert_eq!(num(stdout, "fills ") as usize, rows.len(), "{stdout}");
    let sent: Vec<&Row> = rows.iter().filter(|r| r.sent).collect();
    assert_eq!(num(stdout, "exec sent ") as usize, sent.len(), "{stdout}");
    // Every order at the venue is one the engine sent, with its side, quantity, price and fills.
    assert_eq!(
        rec.orders.len(),
        sent.len(),
        "orders at the venue vs sent: {stdout}"
    );
    let mut venue_pos = 0i64;
    for r in &rows {
        assert_eq!(r.filled + r.cancelled, r.qty, "{r:?}");
        match rec
            .orders
            .iter()
            .find(|o| r.sent && o.client_id == r.client_id)
        {
            Some(o) => {
                assert_eq!((o.side, o.qty, o.px), (r.side, r.qty, r.px), "{r:?}");
                assert_eq!(o.filled_qty, r.filled, "{r:?}");
                let fills: i64 = rec
                    .fills
                    .iter()
                    .filter(|f| f.order_id == o.order_id)
                    .map(|f| f.qty)
                    .sum();
                assert_eq!(fills, r.filled, "{r:?}");
                venue_pos += if o.side == Side::Buy {
                    o.filled_qty
                } else {
                    -o.filled_qty
                };
            }
            None => {
                assert!(!r.sent, "sent but unknown to the venue: {r:?}");
                assert_eq!(r.filled, 0, "{r:?}");
            }
        }
    }
    let venue_filled: i64 = rec.fills.iter().map(|f| f.qty).sum();
    assert_eq!(
        num(stdout, "filled_qty_mantissa "),
        venue_filled,
        "{stdout}"
    );
    assert_eq!(
        num(stdout, "filled_orders ") as usize,
        rec.orders.iter().filter(|o| o.filled_qty > 0).count(),
        "{stdout}"
    );
    assert_eq!(num(stdout, "position_mantissa "), venue_pos, "{stdout}");
    assert_eq!(
        num(stdout, " rejects ") as usize,
        rec.rejects.len(),
        "{stdout}"
    );
    sent.len()
}

fn success(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// An example file, an edit of its text, and what the error must name.
type BadCase = (&'static str, fn(String) -> String, &'static str);

#[test]
fn wrong_key_is_named() {
    let d = temp_dir("badkey");
    let cases: [BadCase; 5] = [
        (
            "run-venue-sim.toml",
            |t| t.replace("stale_ms = 500", "stale_msec = 500"),
            "stale_msec",
        ),
        (
            "run-venue-sim.toml",
            |t| t.replace("max_position = \"5\"", "max_position = \"-1\""),
            "risk.max_position",
        ),
        (
            "run-venue-sim.toml",
            |t| t.replace("auth = \"logon\"", "auth = \"rsa\""),
            "live.auth",
        ),
        (
            "run-venue-sim-deribit.toml",
            |t| t.replace("market = \"deribit\"", "market = \"spot\""),
            "instrument.market",
        ),
        (
            "run-venue-sim-deribit.toml",
            |t| {
                t.replace(
                    "\"book.BTC-PERPETUAL.100ms\",\n    \"trades.BTC-PERPETUAL.100ms\",\n",
                    "",
                )
            },
            "no channel of `instrument.symbol`",
        ),
    ];
    for (file, edit, want) in cases {
        let text = example(file, "127.0.0.1:1".parse().unwrap(), edit);
        let out = run_config(&d, &text, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{want}: {err}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn binance_hmac_run_agrees_with_its_record() {
    let sim = sim(Some("cli-secret"));
    let d = temp_dir("run");
    let text = config(sim.addr(), |t| {
        t.replace("auth = \"logon\"", "auth = \"hmac\"")
    });
    let out = run_config(
        &d,
        &text,
        &[
            ("BALLAST_BINANCE_API_KEY", "cli-key"),
            ("BALLAST_BINANCE_API_SECRET", "cli-secret"),
        ],
    );
    let rec = sim.record();
    sim.stop();
    let stdout = success(&out);
    assert!(!stdout.contains("cli-secret"));
    assert!(assert_agrees(&stdout, &d, &rec) > 0, "{stdout}");
    assert_eq!(num(&stdout, "logons "), 0, "{stdout}");
    // The book started from a REST snapshot; no connection was lost.
    let [resets, _, snapshots, _] = live_feed(&stdout);
    assert!(snapshots >= 1, "{stdout}");
    assert_eq!(resets, 0, "{stdout}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Ed25519 `session.logon` at connect and again after the simulator drops every connection.
/// The simulator checks the logon signature against the public key and requires a signature
/// on every request of a connection not logged on: orders pass unsigned only because the
/// session is.
#[test]
fn binance_logon_run_relogs_after_a_disconnect_and_agrees() {
    let seed = [11u8; 32];
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let sim = sim_of(Venue::Binance, |sc| {
        sc.api_key = Some("cli-key".into());
        sc.api_secret = Some("an-hmac-secret-the-run-does-not-know".into());
        sc.ed25519_public_key = Some(public);
    });
    let d = temp_dir("logon");
    let text = config(sim.addr(), |t| t);
    let seed_b64 = base64::engine::general_purpose::STANDARD.encode(seed);
    let child = {
        let p = d.join("c.toml");
        std::fs::write(&p, &text).unwrap();
        ballast()
            .args(["run", "--config"])
            .arg(&p)
            .arg("--orders-out")
            .arg(d.join("orders.csv"))
            .env("BALLAST_BINANCE_API_KEY", "cli-key")
            .env("BALLAST_BINANCE_API_SECRET", &seed_b64)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(1300));
    sim.inject(Fault::Disconnect);
    let out = child.wait_with_output().unwrap();
    let rec = sim.record();
    sim.stop();
    let stdout = success(&out);
    assert!(!stdout.contains(&seed_b64));
    assert!(assert_agrees(&stdout, &d, &rec) > 0, "{stdout}");
    assert!(num(&stdout, "live connects ") >= 2, "{stdout}");
    // The dropped feed connection reset the book, which started again from a snapshot.
    let [resets, _, snapshots, _] = live_feed(&stdout);
    assert!(resets >= 1, "{stdout}");
    assert!(snapshots >= 2, "{stdout}");
    // Logged on at start and again on the order connection's reconnect.
    let logons = num(&stdout, "logons ");
    assert!(logons >= 2, "{stdout}");
    assert_eq!(
        logons,
        num(&stdout, "exec_connects "),
        "one logon per connection: {stdout}"
    );
    assert_eq!(num(&stdout, "logon_failures "), 0, "{stdout}");

    // A wrong key is refused at start, naming the logon, never printing the secret.
    let sim = sim_of(Venue::Binance, |sc| {
        sc.api_key = Some("cli-key".into());
        sc.ed25519_public_key = Some(public);
    });
    let other = base64::engine::general_purpose::STANDARD.encode([12u8; 32]);
    let out = run_config(
        &d,
        &config(sim.addr(), |t| t),
        &[
            ("BALLAST_BINANCE_API_KEY", "cli-key"),
            ("BALLAST_BINANCE_API_SECRET", &other),
        ],
    );
    sim.stop();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("session.logon refused"),
        "{err}"
    );
    assert!(!err.contains(&other));
    std::fs::remove_dir_all(&d).unwrap();
}

fn deribit_sim() -> venue_sim::SimHandle {
    sim_of(Venue::Deribit, |sc| {
        sc.api_key = Some("cli-client".into());
        sc.api_secret = Some("cli-deribit-secret".into());
    })
}

const DERIBIT_ENV: [(&str, &str); 2] = [
    ("BALLAST_DERIBIT_API_KEY", "cli-client"),
    ("BALLAST_DERIBIT_API_SECRET", "cli-deribit-secret"),
];

#[test]
fn deribit_run_agrees_with_its_record() {
    let sim = deribit_sim();
    let d = temp_dir("deribit");
    let text = example("run-venue-sim-deribit.toml", sim.addr(), |t| t);
    let out = run_config(&d, &text, &DERIBIT_ENV);
    let rec = sim.record();
    sim.stop();
    let stdout = success(&out);
    assert!(!stdout.contains("cli-deribit-secret"));
    assert!(assert_agrees(&stdout, &d, &rec) > 0, "{stdout}");
    assert!(num(&stdout, "frames ") > 100, "{stdout}");
    // Every order is a multiple of the 10 USD lot.
    for r in rows(&d.join("orders.csv")) {
        assert_eq!(r.qty % 1_000_000_000, 0, "{r:?}");
    }

    // Wrong credentials: refused at start, named, never printed.
    let sim = deribit_sim();
    let text = example("run-venue-sim-deribit.toml", sim.addr(), |t| t);
    let out = run_config(
        &d,
        &text,
        &[
            ("BALLAST_DERIBIT_API_KEY", "cli-client"),
            ("BALLAST_DERIBIT_API_SECRET", "not-the-secret"),
        ],
    );
    sim.stop();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("public/auth refused"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// The simulator drops every connection mid-run: the feed reconnects and resubscribes (and keeps
/// answering heartbeats), the order adapter reconnects, re-authenticates and settles what was in
/// flight; the records still agree exactly.
#[test]
fn deribit_run_through_a_disconnect_agrees() {
    let sim = deribit_sim();
    let d = temp_dir("deribit-fault");
    let p = d.join("c.toml");
    std::fs::write(
        &p,
        example("run-venue-sim-deribit.toml", sim.addr(), |t| {
            t.replace("duration_s = 2.5", "duration_s = 3")
                .replace("heartbeat_s = 10", "heartbeat_s = 1")
        }),
    )
    .unwrap();
    let mut c = ballast();
    c.args(["run", "--config"])
        .arg(&p)
        .arg("--orders-out")
        .arg(d.join("orders.csv"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in DERIBIT_ENV {
        c.env(k, v);
    }
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sim.inject(Fault::Disconnect);
    let out = child.wait_with_output().unwrap();
    let rec = sim.record();
    sim.stop();
    let stdout = success(&out);
    assert!(assert_agrees(&stdout, &d, &rec) > 0, "{stdout}");
    assert!(num(&stdout, "live connects ") >= 2, "{stdout}");
    assert!(num(&stdout, "disconnects ") >= 1, "{stdout}");
    // Deribit books come from subscriptions, not REST snapshots; the drop reset them.
    let [resets, _, snapshots, _] = live_feed(&stdout);
    assert!(resets >= 1 && snapshots == 0, "{stdout}");
    // `public/set_heartbeat` every second: the simulator's `test_request`s are answered.
    assert!(num(&stdout, "heartbeats_answered ") >= 1, "{stdout}");
    assert!(num(&stdout, "kernel_skipped_invalid ") + num(&stdout, "kernel_gaps ") > 0);
    std::fs::remove_dir_all(&d).unwrap();
}

fn replay(path: &Path) -> (u64, u64, u64) {
    let mut r = CaptureReader::open(&[path.to_path_buf()]).unwrap();
    let mut feed = BinanceFeed::new(Registry::new());
    let mut frames = 0;
    while let Some((t, f)) = r.next_frame().unwrap() {
        frames += 1;
        let _ = feed.on_frame(t, f, &mut |_| {});
    }
    (frames, feed.stats().malformed, feed.stats().snapshots)
}

#[test]
fn capture_survives_sigkill_and_flushes_on_sigterm() {
    let sim = sim(None);
    let d = temp_dir("cap");
    for (sig, name) in [("-KILL", "kill.txt"), ("-TERM", "term.txt")] {
        let out = d.join(name);
        let child = ballast()
            .args(["capture", "--venue", "binance", "--url"])
            .arg(format!("ws://{}", sim.addr()))
            .args(["--subscribe", "btcusdt@depth@100ms,btcusdt@trade", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let st = Command::new("kill")
            .arg(sig)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let res = child.wait_with_output().unwrap();
        if sig == "-TERM" {
            assert!(
                res.status.success(),
                "{}",
                String::from_utf8_lossy(&res.stderr)
            );
            assert!(String::from_utf8_lossy(&res.stderr).contains("captured"));
        }
        let (frames, malformed, snapshots) = replay(&out);
        assert!(frames > 50, "{name}: {frames} frames");
        assert_eq!(malformed, 0, "{name}");
        assert!(snapshots >= 1, "{name}: the REST snapshot is captured");
    }
    sim.stop();
    std::fs::remove_dir_all(&d).unwrap();
}
