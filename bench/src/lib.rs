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

/// Nanoseconds per operation of `f`, which performs `iters` operations per call: the (median,
/// minimum) over `reps` calls after one warm-up call. On a shared machine the minimum is the best
/// estimate of the uncontended cost; the median shows the contention.
pub fn time_per_op(reps: usize, iters: u64, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut xs: Vec<f64> = (0..reps)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    (median(&mut xs), min)
}
