//! Shared helpers for Ballast's benches (the data fixtures are `testkit`'s).

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
