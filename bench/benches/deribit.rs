//! Deribit adapter throughput on the real capture: ns per frame for book notifications and
//! option tickers through `DeribitFeed::on_frame` (parse + exact book + normalized events),
//! beside a `serde_json::Value` DOM parse of the same frames measured in the same run (a parse
//! that neither normalizes nor keeps a book). Prints medians of several rounds and the ratio.

use std::hint::black_box;
use std::time::Instant;

use ballast_bench::median;
use feeds::cryptofeed::{read_all, RecordKind};
use feeds::deribit::DeribitFeed;
use feeds::Registry;
use testkit::data::require;

const ROUNDS: usize = 15;
const REPS: usize = 200;

fn time_per_frame(frames: &[&[u8]], mut f: impl FnMut(&[u8])) -> f64 {
    let mut xs = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        for _ in 0..REPS {
            for fr in frames {
                f(fr);
            }
        }
        xs.push(t0.elapsed().as_nanos() as f64 / (REPS * frames.len()) as f64);
    }
    median(&mut xs)
}

fn main() {
    let recs = read_all(&[require("cryptofeed/DERIBIT.jsonl.zst")]).expect("capture reads");
    let all: Vec<&[u8]> = recs
        .iter()
        .filter(|r| {
            r.kind == RecordKind::Recv
                && r.data
                    .starts_with(b"{\"jsonrpc\":\"2.0\",\"method\":\"subscription\"")
        })
        .map(|r| &r.data[..])
        .collect();
    let books: Vec<&[u8]> = all
        .iter()
        .copied()
        .filter(|f| f.windows(13).any(|w| w == b"\"channel\":\"bo"))
        .collect();
    let tickers: Vec<&[u8]> = all
        .iter()
        .copied()
        .filter(|f| f.windows(13).any(|w| w == b"\"channel\":\"ti"))
        .collect();
    println!("Deribit adapter on the real capture ({} frames: {} book, {} ticker), median of {ROUNDS} rounds", all.len(), books.len(), tickers.len());
    println!(
        "{:<10} {:>11} {:>14} {:>16} {:>14} {:>8}",
        "frames", "mean size", "adapter ns/fr", "serde Value ns/fr", "adapter fr/s", "ratio"
    );
    for (name, set) in [("all", &all), ("book", &books), ("ticker", &tickers)] {
        let mut feed = DeribitFeed::new(Registry::new());
        // Warm-up: registers instruments and sizes books; replays keep chains (snapshots reset).
        for f in &all {
            let _ = feed.on_frame(0, f, &mut |_| {});
        }
        let mut n = 0u64;
        let adapter = time_per_frame(set, |f| {
            let _ = feed.on_frame(1, black_box(f), &mut |e| n = n.wrapping_add(e.seq));
        });
        black_box(n);
        let dom = time_per_frame(set, |f| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(f)).ok());
        });
        let bytes = set.iter().map(|f| f.len()).sum::<usize>() as f64 / set.len().max(1) as f64;
        println!(
            "{name:<10} {bytes:>9.0} B {adapter:>14.0} {dom:>16.0} {:>14.0} {:>8.2}",
            1e9 / adapter,
            adapter / dom
        );
    }
}
