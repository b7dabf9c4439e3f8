//! Capturing a live connection: every raw frame with its receive time, in the capture line format,
//! through the crash-safe [`feeds::capture_writer::CaptureWriter`]. Binance REST snapshots fetched
//! for book sync are captured as lines too (as in the foundation's captures), so a replay syncs
//! its books the same way the live feed did.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use feeds::capture_writer::CaptureWriter;
use feeds::{FeedAdapter, MarketEvent};

use super::{is_control, VenueFeed, CTL_SNAPSHOT};
use crate::live::LiveFeed;
use engine::source::FrameSource;

/// What a capture wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureRunStats {
    /// Venue frames written.
    pub frames: u64,
    /// REST snapshots written.
    pub snapshots: u64,
}

/// Reads `source` until it ends or `stop` is set, writing every venue frame and snapshot body to
/// `writer` and handing every frame (control frames included) to `feed`, whose normalized events
/// go to `sink` (so a capture run also keeps the books synced and asks for resyncs). Flushes the
/// writer on the way out (the writer also flushes at least every 100 ms by itself).
///
/// # Errors
/// A write error, or the source's unrecoverable error (as `io::Error`).
pub fn run_capture<S: FrameSource, V: VenueFeed>(
    source: &mut S,
    feed: &mut LiveFeed<V>,
    writer: &mut CaptureWriter,
    stop: &AtomicBool,
    sink: &mut impl FnMut(MarketEvent),
) -> io::Result<CaptureRunStats> {
    let mut st = CaptureRunStats::default();
    loop {
        // Acquire: pairs with the Release store of the signal handler or caller.
        if stop.load(Ordering::Acquire) {
            break;
        }
        let frame = source
            .next_frame()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let Some((recv_ns, frame)) = frame else { break };
        if frame.is_empty() {
            writer.tick()?;
            std::thread::sleep(std::time::Duration::from_micros(100));
            continue;
        }
        if is_control(frame) {
            if frame.get(1) == Some(&CTL_SNAPSHOT) && frame.len() > 6 {
                writer.write_frame(recv_ns, &frame[6..])?;
                st.snapshots += 1;
            }
        } else {
            writer.write_frame(recv_ns, frame)?;
            st.frames += 1;
        }
        feed.on_frame(recv_ns, frame, sink);
    }
    writer.flush()?;
    Ok(st)
}
