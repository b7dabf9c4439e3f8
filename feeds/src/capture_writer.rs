//! Crash-safe capture writer in the line format [`crate::CaptureReader`] reads:
//! `<receive time ns> <raw frame>\n`.
//!
//! - Buffered: lines go to an in-memory buffer and reach the file on [`CaptureWriter::flush`],
//!   which [`CaptureWriter::write_frame`] and [`CaptureWriter::tick`] call whenever the last
//!   flush is older than the flush interval (100 ms by default). The capture loop calls `tick`
//!   on every socket read timeout (keep it ≤ the interval) and `flush` on SIGINT/SIGTERM, so at
//!   most one interval of frames is lost by a `kill -9`.
//! - A capture cut by `kill -9` replays up to its last complete line: plain files end in at
//!   most one partial line, which the reader skips; gzip flushes are *sync* flushes (the
//!   deflate stream is byte-aligned and decodable up to there), so a cut gzip file decodes up to
//!   the last flush and the reader reports the cut tail; zstd flushes end a block likewise.
//! - Optional rotation by size (uncompressed bytes) or age: files are then named
//!   `<path>.<seq>` with a five-digit sequence (`cap.txt.00000`, `cap.txt.00001`, …), each a
//!   complete stream, and [`CaptureWriter::paths`] lists them in order for replay.
//! - A frame containing a raw `\n` or `\r` (never in a single-line JSON frame, but possible in
//!   pretty-printed ones) has them written as spaces, which JSON treats alike; counted in
//!   [`CaptureStats::frames_rewritten`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;

/// Compression of the capture files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Compression {
    /// Plain text.
    #[default]
    None,
    /// gzip (read by [`crate::CaptureReader`]).
    Gzip,
    /// zstd.
    Zstd,
}

/// When to start a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// After this many uncompressed bytes in a file.
    pub max_bytes: Option<u64>,
    /// After a file has been open this long.
    pub max_age: Option<Duration>,
}

impl Rotation {
    fn enabled(&self) -> bool {
        self.max_bytes.is_some() || self.max_age.is_some()
    }
}

/// Configuration of a [`CaptureWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureWriterConfig {
    /// Output path (the base name when rotating).
    pub path: PathBuf,
    /// Compression.
    pub compression: Compression,
    /// Rotation.
    pub rotation: Rotation,
    /// Longest time buffered lines wait before they are written out (100 ms by default).
    pub flush_interval: Duration,
}

impl CaptureWriterConfig {
    /// Plain, unrotated, flushed every 100 ms.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            compression: Compression::None,
            rotation: Rotation::default(),
            flush_interval: Duration::from_millis(100),
        }
    }
}

/// Counters of a [`CaptureWriter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Lines written.
    pub lines: u64,
    /// Uncompressed bytes written.
    pub bytes: u64,
    /// Flushes to the file.
    pub flushes: u64,
    /// Files opened.
    pub files: u64,
    /// Frames whose raw newlines were written as spaces.
    pub frames_rewritten: u64,
}

enum Sink {
    Plain(File),
    Gzip(GzEncoder<File>),
    Zstd(zstd::stream::write::Encoder<'static, File>),
}

impl Sink {
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(f) => f.write_all(b),
            Self::Gzip(g) => g.write_all(b),
            Self::Zstd(z) => z.write_all(b),
        }
    }

    /// Pushes everything written so far to the file as a decodable prefix.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(f) => f.flush(),
            // flate2's `flush` is a deflate sync flush followed by a flush of the file.
            Self::Gzip(g) => g.flush(),
            // Ends the current zstd block and writes it out.
            Self::Zstd(z) => z.flush(),
        }
    }

    fn finish(self) -> io::Result<File> {
        match self {
            Self::Plain(f) => Ok(f),
            Self::Gzip(g) => g.finish(),
            Self::Zstd(z) => z.finish(),
        }
    }
}

/// Writes a capture; see the module docs. Not `Sync`: one per capture thread.
pub struct CaptureWriter {
    cfg: CaptureWriterConfig,
    sink: Option<Sink>,
    buf: Vec<u8>,
    paths: Vec<PathBuf>,
    file_bytes: u64,
    opened_at: Instant,
    last_flush: Instant,
    stats: CaptureStats,
}

impl std::fmt::Debug for CaptureWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureWriter")
            .field("cfg", &self.cfg)
            .field("paths", &self.paths)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn open_sink(path: &Path, c: Compression) -> io::Result<Sink> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    Ok(match c {
        Compression::None => Sink::Plain(f),
        Compression::Gzip => Sink::Gzip(GzEncoder::new(f, flate2::Compression::fast())),
        Compression::Zstd => Sink::Zstd(zstd::stream::write::Encoder::new(f, 3)?),
    })
}

impl CaptureWriter {
    /// Creates the (first) output file, truncating an existing one.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create(cfg: CaptureWriterConfig) -> io::Result<Self> {
        let now = Instant::now();
        let mut w = Self {
            cfg,
            sink: None,
            buf: Vec::with_capacity(1 << 20),
            paths: Vec::new(),
            file_bytes: 0,
            opened_at: now,
            last_flush: now,
            stats: CaptureStats::default(),
        };
        w.open_next()?;
        Ok(w)
    }

    fn open_next(&mut self) -> io::Result<()> {
        let path = if self.cfg.rotation.enabled() {
            let mut s = self.cfg.path.clone().into_os_string();
            s.push(format!(".{:05}", self.paths.len()));
            PathBuf::from(s)
        } else {
            self.cfg.path.clone()
        };
        self.sink = Some(open_sink(&path, self.cfg.compression)?);
        self.paths.push(path);
        self.file_bytes = 0;
        self.opened_at = Instant::now();
        self.stats.files += 1;
        Ok(())
    }

    /// Appends one line `<recv_ns> <frame>\n`; flushes when the interval has passed and
    /// rotates when a limit is reached.
    ///
    /// # Errors
    /// A write, flush or rotation error (the capture cannot go on safely).
    pub fn write_frame(&mut self, recv_ns: u64, frame: &[u8]) -> io::Result<()> {
        let start = self.buf.len();
        crate::decimal::write_u64(&mut self.buf, recv_ns);
        self.buf.push(b' ');
        let body = self.buf.len();
        self.buf.extend_from_slice(frame);
        if frame.iter().any(|&c| c == b'\n' || c == b'\r') {
            for c in &mut self.buf[body..] {
                if *c == b'\n' || *c == b'\r' {
                    *c = b' ';
                }
            }
            self.stats.frames_rewritten += 1;
        }
        self.buf.push(b'\n');
        let n = (self.buf.len() - start) as u64;
        self.file_bytes += n;
        self.stats.bytes += n;
        self.stats.lines += 1;
        let rotate = self
            .cfg
            .rotation
            .max_bytes
            .is_some_and(|m| self.file_bytes >= m)
            || self
                .cfg
                .rotation
                .max_age
                .is_some_and(|a| self.opened_at.elapsed() >= a);
        if rotate {
            self.rotate()
        } else {
            self.tick()
        }
    }

    /// Flushes if the last flush is older than the flush interval. Call it on every socket read
    /// timeout so that quiet periods are flushed too.
    ///
    /// # Errors
    /// A write error.
    pub fn tick(&mut self) -> io::Result<()> {
        if self.last_flush.elapsed() >= self.cfg.flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every buffered line to the file now as a decodable prefix (gzip sync flush, zstd
    /// block end). Call it on SIGINT/SIGTERM.
    ///
    /// # Errors
    /// A write error.
    pub fn flush(&mut self) -> io::Result<()> {
        self.last_flush = Instant::now();
        let Some(sink) = self.sink.as_mut() else {
            return Ok(());
        };
        if !self.buf.is_empty() {
            sink.write_all(&self.buf)?;
            self.buf.clear();
        }
        sink.flush()?;
        self.stats.flushes += 1;
        Ok(())
    }

    /// Closes the current file (complete compressed stream) and opens the next one.
    ///
    /// # Errors
    /// A write error, or the next file cannot be created.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Some(s) = self.sink.take() {
            s.finish()?.sync_data()?;
        }
        self.open_next()
    }

    /// Flushes and closes (writes the compression trailer); returns the files written, in order.
    ///
    /// # Errors
    /// A write error.
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        self.flush()?;
        if let Some(s) = self.sink.take() {
            s.finish()?.sync_data()?;
        }
        Ok(std::mem::take(&mut self.paths))
    }

    /// Files written so far, in order.
    #[must_use]
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> CaptureStats {
        self.stats
    }
}

impl Drop for CaptureWriter {
    fn drop(&mut self) {
        // Best effort: a writer dropped without `finish` (panic unwinding, early return) still
        // leaves a complete file.
        let _ = self.flush();
        if let Some(s) = self.sink.take() {
            let _ = s.finish();
        }
    }
}
