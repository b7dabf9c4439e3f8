//! Where frames come from: a capture file, a synthetic market, later a socket.

use std::path::PathBuf;

/// A source of raw venue frames with their receive times.
pub trait FrameSource: Send {
    /// The next frame: receive time in ns since the epoch and the raw bytes (valid until the next
    /// call). `Ok(None)` at the end.
    ///
    /// # Errors
    /// An unrecoverable read error (the run ends and reports it; malformed lines are not errors,
    /// sources skip and count them).
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError>;

    /// Lines or frames skipped as malformed so far.
    fn malformed(&self) -> u64 {
        0
    }
}

/// A source that cannot go on.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SourceError {
    /// File (or source name) that failed.
    pub path: PathBuf,
    /// What failed.
    pub message: String,
}

/// Frames held in memory (tests, benches, the demo's pre-generated market).
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    frames: Vec<(u64, Vec<u8>)>,
    next: usize,
}

impl MemorySource {
    /// A source over `frames`, in order.
    #[must_use]
    pub fn new(frames: Vec<(u64, Vec<u8>)>) -> Self {
        Self { frames, next: 0 }
    }

    /// Number of frames.
    #[must_use]
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there are no frames.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl FrameSource for MemorySource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        let Some((ts, f)) = self.frames.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        Ok(Some((*ts, f.as_slice())))
    }
}

/// Capture files, read in order: hftbacktest's line format (`<recv ns> <raw frame>`, plain, gzip
/// or zstd) or cryptofeed's JSONL records (detected from the first file).
#[derive(Debug)]
pub enum CaptureSource {
    /// Line-format captures.
    Lines(feeds::CaptureReader),
    /// cryptofeed JSONL captures: received frames, and REST bodies meant for `symbol`.
    Cryptofeed {
        /// The reader.
        reader: feeds::cryptofeed::CryptofeedReader,
        /// The replayed symbol (REST depth snapshots for other symbols are skipped).
        symbol: String,
        /// The current frame.
        frame: Vec<u8>,
    },
}

impl CaptureSource {
    /// Opens the files (in order; they continue each other) for a replay of `symbol`.
    ///
    /// # Errors
    /// A file that cannot be opened, named.
    pub fn open(paths: &[PathBuf], symbol: &str) -> Result<Self, SourceError> {
        let named = |e: feeds::CaptureError| SourceError {
            path: paths.first().cloned().unwrap_or_default(),
            message: e.to_string(),
        };
        if paths
            .first()
            .is_some_and(|p| feeds::cryptofeed::is_cryptofeed(p))
        {
            return feeds::cryptofeed::CryptofeedReader::open(paths)
                .map(|reader| Self::Cryptofeed {
                    reader,
                    symbol: symbol.to_owned(),
                    frame: Vec::new(),
                })
                .map_err(named);
        }
        feeds::CaptureReader::open(paths)
            .map(Self::Lines)
            .map_err(named)
    }
}

impl FrameSource for CaptureSource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        let err = |e: feeds::CaptureError| SourceError {
            path: PathBuf::from("capture"),
            message: e.to_string(),
        };
        match self {
            Self::Lines(r) => r.next_frame().map_err(err),
            Self::Cryptofeed {
                reader,
                symbol,
                frame,
            } => loop {
                let Some(rec) = reader.next_record().map_err(err)? else {
                    return Ok(None);
                };
                if rec.is_for_symbol(symbol) {
                    *frame = rec.data;
                    return Ok(Some((rec.recv_ns, &frame[..])));
                }
            },
        }
    }

    fn malformed(&self) -> u64 {
        match self {
            Self::Lines(r) => r.malformed_count(),
            Self::Cryptofeed { reader, .. } => reader.malformed_count(),
        }
    }
}
