//! The real captures of `../shared/data` (beside the clone).

use std::path::PathBuf;

/// A file of `../shared/data`, or `None` (skip) when it is missing outside CI.
///
/// # Panics
/// When the file is missing and `CI` is set.
#[must_use]
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
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
