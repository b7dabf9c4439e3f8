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

/// Capture files in hftbacktest's line format, read in order.
#[derive(Debug)]
pub struct CaptureSource {
    reader: feeds::CaptureReader,
}

impl CaptureSource {
    /// Opens the files (in order; they continue each other).
    ///
    /// # Errors
    /// A file that cannot be opened, named.
    pub fn open(paths: &[PathBuf]) -> Result<Self, SourceError> {
        let reader = feeds::CaptureReader::open(paths).map_err(|e| SourceError {
            path: paths.first().cloned().unwrap_or_default(),
            message: e.to_string(),
        })?;
        Ok(Self { reader })
    }

    /// The reader (for its malformed-line report).
    #[must_use]
    pub fn reader(&self) -> &feeds::CaptureReader {
        &self.reader
    }
}

impl FrameSource for CaptureSource {
    fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, SourceError> {
        self.reader.next_frame().map_err(|e| SourceError {
            path: PathBuf::from("capture"),
            message: e.to_string(),
        })
    }

    fn malformed(&self) -> u64 {
        self.reader.malformed_count()
    }
}
