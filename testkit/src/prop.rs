//! The property tests' runner settings.

use proptest::test_runner::{Config, FileFailurePersistence};

/// `cases` cases per property, failures saved to `regressions` (a path from the crate's folder,
/// e.g. `proptest-regressions/sizing_kelly.txt`, committed so that they run first next time).
#[must_use]
pub fn config(cases: u32, regressions: &'static str) -> Config {
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    }
}
