//! `ballast bench pipeline --rings` and `--workload options` end to end: every (topology, ring)
//! pair is a configuration with its own series, .hgrm files, interval-log tag and SVG; the options
//! workload sizes a synthetic option book and reports tick-to-order beside the core-to-core floor
//! measured before and after; bad values are refused with the flag named.

use std::path::Path;
use testkit::cli::temp_dir;

fn ballast(args: &[&str]) -> (i32, String, String) {
    testkit::cli::run(env!("CARGO_BIN_EXE_ballast"), args)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
        .expect("summary JSON")
}

fn series<'a>(cfg: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    cfg["series"]
        .as_array()
        .expect("series array")
        .iter()
        .find(|x| x["name"] == name)
}

#[test]
fn every_topology_runs_on_every_ring() {
    let dir = temp_dir("sweep");
    let (code, out, err) = ballast(&[
        "bench",
        "pipeline",
        "--rate",
        "4000",
        "--duration",
        "0.5",
        "--topology",
        "single",
        "--topology",
        "feed@0,kernel+exec@1",
        "--rings",
        "rtrb,crossbeam",
        "--out",
        s(&dir),
    ]);
    assert_eq!(code, 0, "{err}");
    let sum = summary(&dir);
    let names: Vec<&str> = sum["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "single/rtrb",
            "single/crossbeam",
            "feed@0,kernel+exec@1/rtrb",
            "feed@0,kernel+exec@1/crossbeam"
        ]
    );
    for c in sum["configs"].as_array().expect("configs") {
        assert_eq!(c["completed"], 2000, "{}", c["name"]);
        let co = series(c, "tick_to_decision_co").expect("corrected series");
        assert!(co["count"].as_u64().expect("count") >= 2000);
    }
    let hlog = std::fs::read_to_string(dir.join("pipeline.hlog")).expect("interval log");
    for stem in [
        "single_rtrb",
        "single_crossbeam",
        "feed_0_kernel_exec_1_rtrb",
        "feed_0_kernel_exec_1_crossbeam",
    ] {
        assert!(
            dir.join(format!("{stem}.tick_to_decision_co.hgrm"))
                .exists(),
            "{stem}"
        );
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).expect("svg");
        assert!(
            svg.starts_with("<svg") && svg.contains("<polyline"),
            "{stem}"
        );
        assert!(hlog.contains(&format!("Tag={stem}")), "{stem} in the log");
    }
    assert!(out.contains("-- single/crossbeam"), "{out}");
    assert!(out.contains("c2c_round_trip_after"), "{out}");
}

#[test]
fn options_workload_reports_tick_to_order_beside_the_floor() {
    let dir = temp_dir("options");
    let (code, out, err) = ballast(&[
        "bench",
        "pipeline",
        "--workload",
        "options",
        "--options",
        "100",
        "--rate",
        "4000",
        "--duration",
        "1",
        "--topology",
        "single",
        "--out",
        s(&dir),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("workload          options: 100 options"),
        "{out}"
    );
    assert!(out.contains("tick_to_order     p50"), "{out}");
    let sum = summary(&dir);
    let c = &sum["configs"][0];
    assert_eq!(c["name"], "single");
    assert_eq!(c["completed"], 4000);
    let t2o = series(c, "tick_to_order_co").expect("the book must trade");
    assert!(t2o["count"].as_u64().expect("count") > 10, "{t2o}");
}

#[test]
fn bad_ring_and_workload_flags_are_refused() {
    let dir = temp_dir("bad");
    for (flag, value, needle) in [
        ("--rings", "spsc", "--rings"),
        ("--rings", ",", "--rings"),
        ("--workload", "gamma", "--workload"),
        ("--options", "0", "--options"),
    ] {
        let mut args = vec!["bench", "pipeline", "--duration", "0.1", "--out", s(&dir)];
        if flag == "--options" {
            args.extend_from_slice(&["--workload", "options"]);
        }
        args.extend_from_slice(&[flag, value]);
        let (code, _, err) = ballast(&args);
        assert_ne!(code, 0, "{flag} {value} accepted");
        assert!(err.contains(needle), "{flag} {value}: {err}");
    }
}
