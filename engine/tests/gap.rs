//! A lost depth diff: the feed sees the gap, the book goes invalid, and no order is sized from it
//! until a snapshot re-syncs the book.

use testkit as common;

use common::data::is_depth_diff;
use common::{run_on, shared_data};
use engine::source::MemorySource;
use synth::{generate, SynthConfig};

#[test]
fn removed_diff_in_real_capture_stops_orders() {
    let Some(path) = shared_data("binance/spot_btcusdt_20240808.gz") else {
        return;
    };
    let (frames, _) = feeds::capture::read_all(&[path]).expect("capture reads");
    let full = run_on("single", MemorySource::new(frames.clone()));
    assert_eq!(full.report.feed.adapter.gaps, 0);
    // Remove a depth diff a third of the way in.
    let depth_idx: Vec<usize> = (0..frames.len())
        .filter(|&i| is_depth_diff(&frames[i].1))
        .collect();
    let victim = depth_idx[depth_idx.len() / 3];
    let next_depth = *depth_idx
        .iter()
        .find(|&&i| i > victim)
        .expect("a later diff");
    let gap_ns = frames[next_depth].0;
    let mut cut = frames.clone();
    cut.remove(victim);
    let s = run_on("feed,kernel+exec", MemorySource::new(cut));
    assert_eq!(s.report.feed.adapter.gaps, 1, "the gap is detected");
    assert!(s.report.kernel.gaps >= 1, "the kernel hears of it");
    assert!(
        s.report.kernel.skipped_invalid > 100,
        "ticks after the gap are not sized"
    );
    let before = s
        .report
        .orders
        .iter()
        .filter(|o| o.recv_ns < gap_ns)
        .count();
    assert!(
        before > 0,
        "orders before the gap exist, so the test can fail"
    );
    let after: Vec<_> = s
        .report
        .orders
        .iter()
        .filter(|o| o.recv_ns >= gap_ns)
        .collect();
    assert!(
        after.is_empty(),
        "{} orders sized from an invalid book, first at {}",
        after.len(),
        after[0].recv_ns
    );
    // The full capture does trade after that point, so the silence is the gap's doing.
    assert!(full.report.orders.iter().any(|o| o.recv_ns >= gap_ns));
}

#[test]
fn synthetic_gap_resyncs_and_orders_resume() {
    let cfg = SynthConfig {
        steps: 8_000,
        gap_at: Some(0.5),
        ..SynthConfig::default()
    };
    let frames = generate(&cfg);
    let snapshots: Vec<u64> = frames
        .iter()
        .filter(|(_, f)| f.starts_with(b"{\"lastUpdateId\""))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(snapshots.len(), 2, "opening snapshot and the resync");
    let resync_ns = snapshots[1];
    // The gap is detected at the first diff after the lost one: 20 steps before the resync.
    let step_ns = cfg.step_ms * 1_000_000;
    let lost_ns = resync_ns - 20 * step_ns;
    let s = run_on("feed,kernel,exec", MemorySource::new(frames));
    let r = &s.report;
    assert_eq!(r.feed.adapter.gaps, 1);
    assert_eq!(r.feed.adapter.resyncs, 1);
    assert_eq!(
        r.kernel.resyncs, 2,
        "opening sync and the resync reach the kernel"
    );
    let inside: Vec<_> = r
        .orders
        .iter()
        .filter(|o| o.recv_ns > lost_ns && o.recv_ns <= resync_ns)
        .collect();
    assert!(
        inside.is_empty(),
        "orders while the book was invalid: {inside:?}"
    );
    assert!(r.kernel.skipped_invalid > 0);
    assert!(
        r.orders.iter().any(|o| o.recv_ns > resync_ns),
        "orders resume after the resync"
    );
}
