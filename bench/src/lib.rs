//! Shared helpers for Ballast's benches: locating `../shared/data`, reading captures into memory.

use std::path::PathBuf;

/// A file of `../shared/data` (relative to the workspace root).
///
/// # Panics
/// When the file is missing: benches need the real data, and say where they looked.
#[must_use]
pub fn shared_data(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "bench data {} is missing: put ../shared beside the clone",
        p.display()
    );
    p
}

/// Every frame of a capture file, in memory.
///
/// # Panics
/// When the capture cannot be read.
#[must_use]
pub fn read_capture(rel: &str) -> Vec<(u64, Vec<u8>)> {
    feeds::capture::read_all(&[shared_data(rel)])
        .expect("capture reads")
        .0
}

/// Median of `xs` (sorted in place).
#[must_use]
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        f64::NAN
    } else {
        xs[xs.len() / 2]
    }
}
