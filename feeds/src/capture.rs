//! Capture reader for the line format `<receive time ns> <raw frame>`, plain, gzip or zstd, as written
//! by hftbacktest's collector. Several files given in order continue each other.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// How many malformed lines are kept with their location (all are counted).
pub const MAX_MALFORMED_KEPT: usize = 1000;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// No files given.
    #[error("no capture files given")]
    NoFiles,
    /// A file could not be opened or its first bytes read.
    #[error("cannot open capture {}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A read failed (other than a corrupt or truncated gzip stream, which is reported as a
    /// malformed line).
    #[error("cannot read capture {} after line {line_no}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Last line read successfully (1-based).
        line_no: u64,
        /// The I/O error.
        source: io::Error,
    },
}

/// What was wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedReason {
    /// No space between the timestamp and the frame.
    NoSeparator,
    /// The timestamp is not a non-empty run of ASCII digits fitting a `u64`.
    BadTimestamp,
    /// Nothing after the separator.
    EmptyFrame,
    /// The file ends in the middle of a line (no final newline).
    TruncatedLine,
    /// The gzip stream is corrupt or cut short; the rest of the file is skipped.
    CorruptGzip,
}

impl std::fmt::Display for MalformedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoSeparator => "no space between timestamp and frame",
            Self::BadTimestamp => "timestamp is not an unsigned integer (ns)",
            Self::EmptyFrame => "empty frame",
            Self::TruncatedLine => "truncated last line (no newline at end of file)",
            Self::CorruptGzip => "corrupt or truncated gzip/zstd stream (rest of file skipped)",
        })
    }
}

/// A malformed line: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedLine {
    /// The capture file.
    pub path: PathBuf,
    /// 1-based line number in that file.
    pub line_no: u64,
    /// What was wrong.
    pub reason: MalformedReason,
}

impl std::fmt::Display for MalformedLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}",
            self.path.display(),
            self.line_no,
            self.reason
        )
    }
}

struct Open {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    line_no: u64,
    /// gzip or zstd: a read error is a cut or corrupt stream.
    compressed: bool,
}

/// Reads `<recv ns> <raw frame>` lines from several files in order, plain or gzip (detected by
/// the magic bytes, not the extension). Malformed lines are skipped, counted and reported with
/// file and line number; nothing panics. One reusable line buffer.
pub struct CaptureReader {
    paths: Vec<PathBuf>,
    next_path: usize,
    cur: Option<Open>,
    line: Vec<u8>,
    malformed: Vec<MalformedLine>,
    malformed_count: u64,
    lines: u64,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("paths", &self.paths)
            .field("next_path", &self.next_path)
            .field("lines", &self.lines)
            .field("malformed_count", &self.malformed_count)
            .finish_non_exhaustive()
    }
}

/// Opens `path` for reading, decompressing gzip or zstd (detected by the magic bytes, not the
/// extension). Returns the reader and whether the file is compressed (a cut or corrupt compressed
/// stream then reads as an error that the caller reports as such). Shared by every capture reader.
pub(crate) fn open_stream(path: &Path) -> Result<(Box<dyn BufRead + Send>, bool), CaptureError> {
    let err = |source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(err)?;
    if file.metadata().map_err(err)?.is_dir() {
        return Err(err(io::Error::other("is a directory")));
    }
    let mut buf = BufReader::with_capacity(1 << 16, file);
    let head = buf.fill_buf().map_err(err)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((
            Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(buf))),
            true,
        ))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let dec = zstd::stream::read::Decoder::with_buffer(buf).map_err(err)?;
        Ok((Box::new(BufReader::with_capacity(1 << 16, dec)), true))
    } else {
        Ok((Box::new(buf), false))
    }
}

fn open_file(path: &Path) -> Result<Open, CaptureError> {
    let (reader, compressed) = open_stream(path)?;
    Ok(Open {
        path: path.to_path_buf(),
        reader,
        line_no: 0,
        compressed,
    })
}

impl CaptureReader {
    /// Open `paths` for reading in order. Every file is opened once up front so that a missing
    /// or unreadable one is reported before any frame is read.
    ///
    /// # Errors
    /// [`CaptureError::NoFiles`] for an empty list, [`CaptureError::Open`] naming the first file
    /// that cannot be opened.
    pub fn open(paths: &[PathBuf]) -> Result<Self, CaptureError> {
        if paths.is_empty() {
            return Err(CaptureError::NoFiles);
        }
        for p in &paths[1..] {
            open_file(p)?;
        }
        let cur = Some(open_file(&paths[0])?);
        Ok(Self {
            paths: paths.to_vec(),
            next_path: 1,
            cur,
            line: Vec::with_capacity(1 << 16),
            malformed: Vec::new(),
            malformed_count: 0,
            lines: 0,
        })
    }

    fn record(&mut self, path: &Path, line_no: u64, reason: MalformedReason) {
        self.malformed_count += 1;
        if self.malformed.len() < MAX_MALFORMED_KEPT {
            self.malformed.push(MalformedLine {
                path: path.to_path_buf(),
                line_no,
                reason,
            });
        }
    }

    /// The next good line as `(recv_ns, frame)`; `Ok(None)` at the end of the last file.
    /// Malformed lines are skipped and recorded. A trailing `\r` is not part of the frame.
    ///
    /// # Errors
    /// [`CaptureError::Open`] when a later file can no longer be opened, [`CaptureError::Read`]
    /// on an I/O error that is not a corrupt gzip stream.
    pub fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, CaptureError> {
        loop {
            let Some(cur) = self.cur.as_mut() else {
                if self.next_path >= self.paths.len() {
                    return Ok(None);
                }
                let p = self.paths[self.next_path].clone();
                self.next_path += 1;
                self.cur = Some(open_file(&p)?);
                continue;
            };
            self.line.clear();
            let r = cur.reader.read_until(b'\n', &mut self.line);
            match r {
                Ok(0) => {
                    self.cur = None;
                    continue;
                }
                Ok(_) => {
                    cur.line_no += 1;
                    self.lines += 1;
                    let line_no = cur.line_no;
                    if self.line.last() != Some(&b'\n') {
                        let path = cur.path.clone();
                        self.record(&path, line_no, MalformedReason::TruncatedLine);
                        continue;
                    }
                    match split_line(&self.line) {
                        Ok((ts, start, end)) => return Ok(Some((ts, &self.line[start..end]))),
                        Err(reason) => {
                            let path = cur.path.clone();
                            self.record(&path, line_no, reason);
                        }
                    }
                }
                Err(e)
                    if cur.compressed
                        && matches!(
                            e.kind(),
                            io::ErrorKind::InvalidInput
                                | io::ErrorKind::InvalidData
                                | io::ErrorKind::UnexpectedEof
                        ) =>
                {
                    // Whatever was read of the broken line is dropped with the rest of the file.
                    let (path, line_no) = (cur.path.clone(), cur.line_no + 1);
                    self.record(&path, line_no, MalformedReason::CorruptGzip);
                    self.cur = None;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Read {
                        path: cur.path.clone(),
                        line_no: cur.line_no,
                        source,
                    });
                }
            }
        }
    }

    /// Malformed lines recorded so far (at most [`MAX_MALFORMED_KEPT`]; see
    /// [`Self::malformed_count`] for the total).
    #[must_use]
    pub fn malformed(&self) -> &[MalformedLine] {
        &self.malformed
    }

    /// Number of malformed lines so far.
    #[must_use]
    pub fn malformed_count(&self) -> u64 {
        self.malformed_count
    }

    /// Lines read so far (good and malformed).
    #[must_use]
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

/// `(recv_ns, frame_start, frame_end)` of a line ending in `\n`.
fn split_line(line: &[u8]) -> Result<(u64, usize, usize), MalformedReason> {
    let mut end = line.len() - 1; // drop '\n'
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    let body = &line[..end];
    let sp = body
        .iter()
        .position(|&c| c == b' ')
        .ok_or(MalformedReason::NoSeparator)?;
    let ts = &body[..sp];
    if ts.is_empty() {
        return Err(MalformedReason::BadTimestamp);
    }
    let mut v: u64 = 0;
    for &c in ts {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(MalformedReason::BadTimestamp);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(MalformedReason::BadTimestamp)?;
    }
    if sp + 1 >= end {
        return Err(MalformedReason::EmptyFrame);
    }
    Ok((v, sp + 1, end))
}

/// A frame read into memory: `(recv_ns, frame bytes)`.
pub type OwnedFrame = (u64, Vec<u8>);

/// Read a whole capture (all files) into memory as `(recv_ns, frame)` pairs, for tests and
/// benches. Malformed lines are skipped; the reader is returned for its report.
///
/// # Errors
/// As [`CaptureReader::open`] and [`CaptureReader::next_frame`].
pub fn read_all(paths: &[PathBuf]) -> Result<(Vec<OwnedFrame>, CaptureReader), CaptureError> {
    let mut r = CaptureReader::open(paths)?;
    let mut out = Vec::new();
    while let Some((ts, f)) = r.next_frame()? {
        out.push((ts, f.to_vec()));
    }
    Ok((out, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_line_cases() {
        assert_eq!(split_line(b"12 {}\n"), Ok((12, 3, 5)));
        assert_eq!(split_line(b"12 {}\r\n"), Ok((12, 3, 5)));
        assert_eq!(split_line(b"12 a b\n"), Ok((12, 3, 6)));
        assert_eq!(split_line(b"12{}\n"), Err(MalformedReason::NoSeparator));
        assert_eq!(split_line(b"\n"), Err(MalformedReason::NoSeparator));
        assert_eq!(split_line(b" {}\n"), Err(MalformedReason::BadTimestamp));
        assert_eq!(split_line(b"-1 {}\n"), Err(MalformedReason::BadTimestamp));
        assert_eq!(
            split_line(b"99999999999999999999999 {}\n"),
            Err(MalformedReason::BadTimestamp)
        );
        assert_eq!(
            split_line(b"1\xff {}\n"),
            Err(MalformedReason::BadTimestamp)
        );
        assert_eq!(split_line(b"12 \n"), Err(MalformedReason::EmptyFrame));
    }
}
