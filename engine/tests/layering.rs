//! The workspace's dependency graph points one way, down the data path. Read from `cargo
//! metadata` (the resolved graph, normal dependencies only, as `cargo tree -e normal` shows it):
//! the hot-path crate compiles no transport, configuration, simulator or random-number crate, and
//! no crate reaches up or sideways into a room it does not run in.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// The host's target triple (`rustc -vV`), so the graph is this platform's, as the build's is.
fn host_triple() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// Package name → the package names it depends on normally (build and dev edges left out), on
/// this platform; read once per test binary.
fn normal_graph() -> &'static BTreeMap<String, BTreeSet<String>> {
    static GRAPH: OnceLock<BTreeMap<String, BTreeSet<String>>> = OnceLock::new();
    GRAPH.get_or_init(read_graph)
}

fn read_graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host_triple(), "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut graph = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve.nodes") {
        let from = name_of[node["id"].as_str().unwrap()].to_string();
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| name_of[d["pkg"].as_str().unwrap()].to_string())
            .collect();
        graph.entry(from).or_insert_with(BTreeSet::new).extend(deps);
    }
    graph
}

/// Every package `root` depends on normally, directly or not.
fn closure(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

/// The rooms of the workspace, bottom to top, and what each may never reach (directly or not).
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "risk-core",
        &[
            "feeds",
            "engine",
            "net",
            "venues",
            "options",
            "portfolio",
            "synth",
            "config",
            "venue-sim",
            "lab",
            "serde_json",
            "rand",
        ],
    ),
    (
        "feeds",
        &[
            "risk-core",
            "engine",
            "net",
            "venues",
            "options",
            "portfolio",
            "synth",
            "config",
            "venue-sim",
            "lab",
            "tungstenite",
            "rustls",
            "rand",
        ],
    ),
    (
        "engine",
        &[
            "net",
            "venues",
            "options",
            "portfolio",
            "synth",
            "config",
            "venue-sim",
            "lab",
            "testkit",
            "tungstenite",
            "rustls",
            "webpki-roots",
            "toml",
            "ed25519-dalek",
            "hmac",
            "sha1",
            "rand",
            "rand_chacha",
        ],
    ),
    (
        "net",
        &[
            "engine",
            "feeds",
            "risk-core",
            "venues",
            "options",
            "portfolio",
            "config",
            "venue-sim",
            "lab",
        ],
    ),
    (
        "options",
        &[
            "portfolio",
            "net",
            "venues",
            "synth",
            "config",
            "venue-sim",
            "lab",
            "tungstenite",
            "rustls",
            "toml",
            "rand",
        ],
    ),
    (
        "portfolio",
        &[
            "options",
            "net",
            "venues",
            "synth",
            "config",
            "venue-sim",
            "lab",
            "tungstenite",
            "rustls",
            "toml",
            "rand",
        ],
    ),
    (
        "venues",
        &[
            "options",
            "portfolio",
            "synth",
            "config",
            "venue-sim",
            "lab",
            "toml",
        ],
    ),
    (
        "synth",
        &[
            "engine",
            "net",
            "venues",
            "options",
            "portfolio",
            "config",
            "venue-sim",
            "lab",
        ],
    ),
    (
        "venue-sim",
        &[
            "engine",
            "net",
            "venues",
            "options",
            "portfolio",
            "config",
            "lab",
        ],
    ),
    (
        "config",
        &[
            "net",
            "venues",
            "venue-sim",
            "lab",
            "synth",
            "tungstenite",
            "rustls",
        ],
    ),
];

#[test]
fn dependencies_point_down_the_data_path() {
    let graph = normal_graph();
    let mut breaches = Vec::new();
    for (krate, forbidden) in FORBIDDEN {
        assert!(
            graph.contains_key(*krate),
            "no package `{krate}` in the workspace"
        );
        let reach = closure(graph, krate);
        for f in *forbidden {
            if reach.contains(*f) {
                breaches.push(format!("{krate} reaches {f}"));
            }
        }
    }
    assert!(breaches.is_empty(), "forbidden dependencies: {breaches:?}");
}

/// `serde_json` reaches the engine only through `feeds` (the Deribit and cryptofeed readers parse
/// with it on the feed thread); the engine itself never names it.
#[test]
fn engine_names_no_json_or_transport_crate_directly() {
    let graph = normal_graph();
    let direct = &graph["engine"];
    for f in ["serde_json", "tungstenite", "rustls", "toml", "rand"] {
        assert!(!direct.contains(f), "engine depends on {f} directly");
    }
}

#[test]
fn the_check_sees_a_real_breach() {
    let graph = normal_graph();
    assert!(
        closure(graph, "venues").contains("net"),
        "venues runs on net"
    );
    assert!(
        closure(graph, "lab").contains("engine"),
        "the lab drives the engine"
    );
}
