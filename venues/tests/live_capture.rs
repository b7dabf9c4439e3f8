//! Capture → replay round trip on loopback: capturing from the venue simulator and replaying the
//! file gives the same normalized event stream as the live feed produced.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::clock::Clock;
use feeds::capture_writer::{CaptureWriter, CaptureWriterConfig};
use feeds::{flags, BinanceFeed, CaptureReader, Market, MarketEvent, Registry};
use testkit::live::start_sim;
use venue_sim::Venue;
use venues::live::capture::run_capture;
use venues::live::{
    Link, LiveConfig, LiveFeed, LiveSource, StreamSpec, SupervisorConfig, VenueKind,
};

#[test]
fn capture_replays_to_the_live_event_stream() {
    let sim = start_sim(Venue::Binance, 20_000, |sc| sc.speed = 10.0);
    let addr = sim.addr();
    let mut reg = Registry::new();
    let id = reg.register("BTCUSDT", Market::BinanceSpot, 8, 8);
    let link = Arc::new(Link::new(reg.len()));
    let mut source = LiveSource::new(
        LiveConfig {
            url: format!("ws://{addr}"),
            venue: VenueKind::Binance {
                rest_base: format!("http://{addr}"),
                depth_path: "/api/v3/depth".into(),
            },
            streams: vec![StreamSpec {
                instrument: id.0,
                symbol: "BTCUSDT".into(),
                channels: vec!["btcusdt@depth@100ms".into(), "btcusdt@trade".into()],
                stale_ms: 0,
            }],
            supervisor: SupervisorConfig {
                snapshot_delay_ms: 20,
                snapshot_retry_ms: 30,
                ..SupervisorConfig::default()
            },
        },
        Arc::clone(&link),
        Clock::new(),
    );
    let mut feed = LiveFeed::new(BinanceFeed::new(reg.clone()), link, vec![true], None);
    let dir = std::env::temp_dir().join(format!("ballast-live-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cap.txt");
    let mut writer = CaptureWriter::create(CaptureWriterConfig::new(&path)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            stop.store(true, Ordering::Release);
        })
    };
    let mut live: Vec<MarketEvent> = Vec::new();
    let st = run_capture(&mut source, &mut feed, &mut writer, &stop, &mut |e| {
        live.push(e)
    })
    .unwrap();
    stopper.join().unwrap();
    writer.finish().unwrap();
    sim.stop();
    assert!(st.frames > 100 && st.snapshots >= 1, "{st:?}");
    let live: Vec<MarketEvent> = live
        .into_iter()
        .filter(|e| e.flags & flags::SYNTHETIC == 0)
        .collect();
    assert!(
        live.iter().any(|e| e.kind == feeds::EventKind::SnapshotEnd),
        "book synced live"
    );

    let mut reader = CaptureReader::open(&[path]).unwrap();
    let mut replay_feed = BinanceFeed::new(reg);
    let mut replay = Vec::new();
    while let Some((recv_ns, frame)) = reader.next_frame().unwrap() {
        let _ = replay_feed.on_frame(recv_ns, frame, &mut |e| replay.push(e));
    }
    assert_eq!(reader.malformed_count(), 0);
    assert_eq!(replay.len(), live.len());
    for (i, (a, b)) in live.iter().zip(&replay).enumerate() {
        assert_eq!(a, b, "event {i}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
