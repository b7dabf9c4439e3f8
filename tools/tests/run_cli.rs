//! `ballast run` and `ballast capture` against the in-process venue simulator on loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use engine::synth::SynthConfig;
use engine::venue_sim::{self, SimConfig, SimSource, Venue};
use feeds::{BinanceFeed, CaptureReader, Registry};

fn ballast() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ballast"))
}

fn sim(secret: Option<&str>) -> venue_sim::SimHandle {
    let mut sc = SimConfig::new(
        Venue::Binance,
        SimSource::Synthetic(SynthConfig {
            steps: 20_000,
            step_ms: 50,
            levels: 10,
            ..SynthConfig::default()
        }),
    );
    sc.speed = 10.0;
    if let Some(s) = secret {
        sc.api_key = Some("cli-key".into());
        sc.api_secret = Some(s.into());
    }
    venue_sim::start(sc).expect("sim")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ballast-run-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The example config pointed at `addr`, with `edit` applied to its text.
fn config(addr: std::net::SocketAddr, edit: impl Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/run-venue-sim.toml"
    ))
    .unwrap();
    let text = text
        .replace("127.0.0.1:9100", &addr.to_string())
        .replace("duration_s = 0", "duration_s = 2.5");
    edit(text)
}

#[test]
fn wrong_key_is_named() {
    let d = tmp("badkey");
    let p = d.join("c.toml");
    std::fs::write(
        &p,
        config("127.0.0.1:1".parse().unwrap(), |t| {
            t.replace("stale_ms = 500", "stale_msec = 500")
        }),
    )
    .unwrap();
    let out = ballast()
        .args(["run", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stale_msec"), "{err}");
    std::fs::write(
        &p,
        config("127.0.0.1:1".parse().unwrap(), |t| {
            t.replace("max_position = \"5\"", "max_position = \"-1\"")
        }),
    )
    .unwrap();
    let out = ballast()
        .args(["run", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("risk.max_position"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn run_against_venue_sim_agrees_with_its_record() {
    let sim = sim(Some("cli-secret"));
    let d = tmp("run");
    let p = d.join("c.toml");
    std::fs::write(&p, config(sim.addr(), |t| t)).unwrap();
    let out = ballast()
        .args(["run", "--config"])
        .arg(&p)
        .env("BALLAST_BINANCE_API_KEY", "cli-key")
        .env("BALLAST_BINANCE_API_SECRET", "cli-secret")
        .output()
        .unwrap();
    let rec = sim.record();
    sim.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("cli-secret"));
    let num = |key: &str| -> i64 {
        let at = stdout
            .find(key)
            .unwrap_or_else(|| panic!("{key} in {stdout}"))
            + key.len();
        stdout[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let orders = num("exec sent ");
    assert!(orders > 0, "{stdout}");
    assert_eq!(orders as usize, rec.orders.len(), "{stdout}");
    let venue_pos: i64 = rec
        .orders
        .iter()
        .map(|o| {
            if o.side == feeds::Side::Buy {
                o.filled_qty
            } else {
                -o.filled_qty
            }
        })
        .sum();
    assert_eq!(num("position_mantissa "), venue_pos, "{stdout}");
    assert_eq!(num("orders "), num("fills "));
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
    let d = tmp("cap");
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
