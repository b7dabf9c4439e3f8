//! The real captures of `../shared/data` (beside the clone).

use std::path::PathBuf;

/// `../shared/data` itself.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// A file of `../shared/data`, or `None` (skip) when it is missing outside CI.
///
/// # Panics
/// When the file is missing and `CI` is set.
#[must_use]
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let p = root().join(rel);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "test data {} is missing (CI needs ../shared beside the clone)",
        p.display()
    );
    eprintln!("skipping: {} not found", p.display());
    None
}

/// `../shared/data` itself when its file `probe` is there, or `None` (skip) when it is missing
/// outside CI: for tests that read several files of it.
///
/// # Panics
/// When `probe` is missing and `CI` is set.
#[must_use]
pub fn shared_dir(probe: &str) -> Option<PathBuf> {
    shared_data(probe).map(|_| root())
}

/// A file of `../shared/data` that must be there (benches measure the real data only).
///
/// # Panics
/// When the file is missing, saying where it was looked for.
#[must_use]
pub fn require(rel: &str) -> PathBuf {
    let p = root().join(rel);
    assert!(
        p.exists(),
        "data {} is missing: put ../shared beside the clone",
        p.display()
    );
    p
}

/// Every frame of a capture file of `../shared/data`, in memory, as `(receive ns, frame)`.
///
/// # Panics
/// When the file is missing or cannot be read.
#[must_use]
pub fn read_capture(rel: &str) -> Vec<(u64, Vec<u8>)> {
    feeds::capture::read_all(&[require(rel)])
        .expect("capture reads")
        .0
}

/// Whether a raw Binance frame is a depth diff (its event is `"depthUpdate"`), for tests that
/// remove one from a capture.
#[must_use]
pub fn is_depth_diff(frame: &[u8]) -> bool {
    frame.windows(13).any(|w| w == b"\"depthUpdate\"")
}
