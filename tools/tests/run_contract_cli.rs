//! `ballast run` on Deribit asks the venue (`public/get_instruments`, served by the simulator) for
//! the sized instrument's contract at start-up and refuses a config whose `instrument.lot` or
//! `instrument.tick` disagrees with it, naming the field and both values, before any order.

use std::path::Path;
use std::process::Command;

use testkit::live::start_sim;
use venue_sim::Venue;

fn deribit_sim() -> venue_sim::SimHandle {
    start_sim(Venue::Deribit, 20_000, |sc| {
        sc.speed = 10.0;
        sc.api_key = Some("cli-client".into());
        sc.api_secret = Some("cli-contract-secret".into());
    })
}

/// Runs the Deribit example against `sim` for 1.5 s with `edit` applied; (success, stdout,
/// stderr).
fn run(
    sim: &venue_sim::SimHandle,
    name: &str,
    edit: impl Fn(String) -> String,
) -> (bool, String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/run-venue-sim-deribit.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = edit(
        text.replace("127.0.0.1:9200", &sim.addr().to_string())
            .replace("duration_s = 0", "duration_s = 1.5"),
    );
    let dir = std::env::temp_dir().join(format!(
        "ballast-run-contract-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["run", "--config"])
        .arg(&cfg)
        .env("BALLAST_DERIBIT_API_KEY", "cli-client")
        .env("BALLAST_DERIBIT_API_SECRET", "cli-contract-secret")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn lot_and_tick_are_checked_against_get_instruments() {
    let sim = deribit_sim();
    // A lot of 5 USD is half a 10 USD contract.
    let (ok, _, err) = run(&sim, "lot", |t| {
        t.replace("lot = \"10\"", "lot = \"5\"")
            .replace("min_qty = \"10\"", "min_qty = \"5\"")
    });
    assert!(!ok, "{err}");
    assert!(
        err.contains("`instrument.lot` = \"5\"")
            && err.contains("contract_size = 10")
            && err.contains("BTC-PERPETUAL"),
        "{err}"
    );
    // A tick of 0.1 where the venue's is 0.5.
    let (ok, _, err) = run(&sim, "tick", |t| {
        t.replace("min_qty = \"10\"", "min_qty = \"10\"\ntick = \"0.1\"")
    });
    assert!(!ok, "{err}");
    assert!(
        err.contains("`instrument.tick` = \"0.1\"") && err.contains("tick_size = 0.5"),
        "{err}"
    );
    // An instrument the venue does not list.
    let (ok, _, err) = run(&sim, "symbol", |t| {
        t.replace("BTC-PERPETUAL", "BTC-29MAR30")
    });
    assert!(!ok && err.contains("not listed"), "{err}");
    // Nothing of these reached the venue.
    assert!(sim.record().orders.is_empty());
    // The venue's own contract (lot 20 = two contracts, tick 0.5) runs.
    let (ok, out, err) = run(&sim, "good", |t| {
        t.replace("lot = \"10\"", "lot = \"20\"")
            .replace("min_qty = \"10\"", "min_qty = \"20\"\ntick = \"0.5\"")
    });
    assert!(ok, "{out}\n{err}");
    sim.stop();
}
