//! Reader of cryptofeed's raw-data captures: JSONL, plain, gzip or zstd (detected by magic
//! bytes), one record a line:
//! `{"t": "header"|"connect"|"send"|"recv"|"http", "conn": …, "ts": <epoch s>, "data": "<raw payload>"}`
//! (`http` records add `url` and hold a REST body: a Binance depth snapshot, a Deribit
//! `get_instruments` response). `data` is the raw frame as the venue sent it.
//!
//! [`CryptofeedReader::next_frame`] yields `(recv_ns, frame)` for `recv` and `http` records, in
//! file order, like [`crate::CaptureReader`], so replay and `ballast book` read these captures
//! through the same venue adapters. `ts` is converted to ns exactly (no `f64`). A Binance REST
//! depth snapshot body gets the `"symbol"` key its request's URL names (see
//! [`name_depth_symbol`]), so a capture of several symbols syncs every book.

use std::borrow::Cow;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::capture::CaptureError;
use crate::json_str::JsonStr;

/// How many malformed lines are kept with their location (all are counted).
pub const MAX_MALFORMED_KEPT: usize = 1000;

/// Kind of a cryptofeed record (`t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// File header (capture configuration).
    Header,
    /// A connection was opened.
    Connect,
    /// A frame sent by the client (subscriptions).
    Send,
    /// A frame received from the venue.
    Recv,
    /// An HTTP response body (`url` says which request).
    Http,
    /// Any other `t`.
    Other,
}

/// One record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `t`.
    pub kind: RecordKind,
    /// `conn` (empty when absent).
    pub conn: String,
    /// `ts` in ns since the epoch (0 when absent, e.g. the header).
    pub recv_ns: u64,
    /// `url` of `http` records.
    pub url: Option<String>,
    /// `data`: the raw payload (empty when absent).
    pub data: Vec<u8>,
}

impl Record {
    /// Whether a replay of `symbol` should see this record: every received frame, and HTTP bodies
    /// except REST depth snapshots asked for another symbol (their bodies carry no symbol, so the
    /// request's URL is the only way to attribute them). Other bodies (Deribit `get_instruments`)
    /// are kept for the adapter to judge.
    #[must_use]
    pub fn is_for_symbol(&self, symbol: &str) -> bool {
        match self.kind {
            RecordKind::Recv => !self.data.is_empty(),
            RecordKind::Http => {
                !self.data.is_empty()
                    && self.url.as_deref().is_none_or(|u| {
                        !u.contains("depth")
                            || u.split(['?', '&']).any(|kv| {
                                kv.split_once('=').is_some_and(|(k, v)| {
                                    k.eq_ignore_ascii_case("symbol")
                                        && v.eq_ignore_ascii_case(symbol)
                                })
                            })
                    })
            }
            _ => false,
        }
    }
}

/// A line that could not be read as a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedRecord {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line_no: u64,
    /// What was wrong.
    pub reason: &'static str,
}

impl std::fmt::Display for MalformedRecord {
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

#[derive(Debug, Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(borrow, default)]
    conn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
}

/// The fields [`CryptofeedReader::next_frame`] reads, all borrowed from the line: `data` stays
/// a raw JSON string (it always holds escapes, which a `Cow` would decode into a new `String`)
/// and is decoded into the reader's reused buffer; other fields are skipped without copying.
#[derive(Debug, Deserialize)]
struct FrameLine<'a> {
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(borrow, default)]
    ts: Option<&'a RawValue>,
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

struct Open {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    line_no: u64,
}

/// Streams the records of several cryptofeed captures in order. Malformed lines (bad JSON, a
/// bad `ts`, a truncated last line, a corrupt compressed stream) are skipped, counted and kept
/// with their location; nothing panics.
pub struct CryptofeedReader {
    paths: Vec<PathBuf>,
    next_path: usize,
    cur: Option<Open>,
    line: Vec<u8>,
    data: Vec<u8>,
    malformed: Vec<MalformedRecord>,
    malformed_count: u64,
    lines: u64,
}

impl std::fmt::Debug for CryptofeedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryptofeedReader")
            .field("paths", &self.paths)
            .field("lines", &self.lines)
            .field("malformed_count", &self.malformed_count)
            .finish_non_exhaustive()
    }
}

fn open_file(path: &Path) -> Result<Open, CaptureError> {
    let (reader, _compressed) = crate::capture::open_stream(path)?;
    Ok(Open {
        path: path.to_path_buf(),
        reader,
        line_no: 0,
    })
}

/// `ts` (decimal seconds, e.g. `1626993723.1311848`) → ns, exactly; `None` when not a
/// non-negative decimal that fits.
fn ts_ns(raw: &str) -> Option<u64> {
    let d = crate::decimal::parse_decimal(raw.as_bytes(), 9).ok()?;
    u64::try_from(d.mantissa).ok()
}

impl CryptofeedReader {
    /// Opens the first file (later ones are opened when reached).
    ///
    /// # Errors
    /// [`CaptureError::NoFiles`] for an empty list, [`CaptureError::Open`] when the first file
    /// cannot be opened.
    pub fn open(paths: &[PathBuf]) -> Result<Self, CaptureError> {
        let first = paths.first().ok_or(CaptureError::NoFiles)?;
        let cur = Some(open_file(first)?);
        Ok(Self {
            paths: paths.to_vec(),
            next_path: 1,
            cur,
            line: Vec::with_capacity(1 << 16),
            data: Vec::with_capacity(1 << 16),
            malformed: Vec::new(),
            malformed_count: 0,
            lines: 0,
        })
    }

    /// Counts (and keeps, up to [`MAX_MALFORMED_KEPT`]) a malformed line of the current file.
    fn bad(&mut self, line_no: u64, reason: &'static str) {
        self.malformed_count += 1;
        if self.malformed.len() < MAX_MALFORMED_KEPT {
            let path = self
                .cur
                .as_ref()
                .map(|c| c.path.clone())
                .unwrap_or_default();
            self.malformed.push(MalformedRecord {
                path,
                line_no,
                reason,
            });
        }
    }

    /// The next complete line (without its newline) and its number in the current file, or
    /// `None` at the end of the last file.
    fn next_line(&mut self) -> Result<Option<u64>, CaptureError> {
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
            match cur.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => self.cur = None,
                Ok(_) => {
                    cur.line_no += 1;
                    self.lines += 1;
                    let no = cur.line_no;
                    if self.line.last() != Some(&b'\n') {
                        self.bad(no, "truncated last line (no newline at end of file)");
                        continue;
                    }
                    self.line.pop();
                    if self.line.last() == Some(&b'\r') {
                        self.line.pop();
                    }
                    if self.line.is_empty() {
                        continue;
                    }
                    return Ok(Some(no));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::InvalidInput
                            | io::ErrorKind::InvalidData
                            | io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::Other
                    ) =>
                {
                    let no = cur.line_no + 1;
                    self.bad(
                        no,
                        "corrupt or truncated compressed stream (rest of file skipped)",
                    );
                    self.cur = None;
                }
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

    /// The next record; `Ok(None)` at the end.
    ///
    /// # Errors
    /// [`CaptureError`] when a later file cannot be opened or a read fails.
    pub fn next_record(&mut self) -> Result<Option<Record>, CaptureError> {
        loop {
            let Some(no) = self.next_line()? else {
                return Ok(None);
            };
            let parsed = match serde_json::from_slice::<Line<'_>>(&self.line) {
                Ok(l) => {
                    let kind = kind_of(&l.t);
                    match l.ts.map(|r| ts_ns(r.get())) {
                        Some(None) => Err("`ts` is not non-negative decimal seconds"),
                        Some(Some(ns)) => Ok((kind, ns, l)),
                        None if matches!(kind, RecordKind::Recv | RecordKind::Http) => {
                            Err("record without `ts`")
                        }
                        None => Ok((kind, 0, l)),
                    }
                }
                Err(_) => Err("not a JSON record object with a string `t`"),
            };
            match parsed {
                Ok((kind, recv_ns, l)) => {
                    let mut data = l
                        .data
                        .map(|d| d.into_owned().into_bytes())
                        .unwrap_or_default();
                    if kind == RecordKind::Http {
                        name_depth_symbol(l.url.as_deref(), &mut data);
                    }
                    return Ok(Some(Record {
                        kind,
                        conn: l.conn.map(Cow::into_owned).unwrap_or_default(),
                        recv_ns,
                        url: l.url.map(Cow::into_owned),
                        data,
                    }));
                }
                Err(reason) => self.bad(no, reason),
            }
        }
    }

    /// The next `recv` or `http` record as `(recv_ns, raw frame)` (valid until the next call);
    /// `Ok(None)` at the end. Records without data are skipped.
    ///
    /// # Errors
    /// As [`Self::next_record`].
    pub fn next_frame(&mut self) -> Result<Option<(u64, &[u8])>, CaptureError> {
        loop {
            let Some(no) = self.next_line()? else {
                return Ok(None);
            };
            // The frame is decoded into the reused `data` buffer: nothing allocated per record.
            let outcome = match serde_json::from_slice::<FrameLine<'_>>(&self.line) {
                Err(_) => Err("not a JSON record object with a string `t`"),
                Ok(l) if !matches!(kind_of(&l.t), RecordKind::Recv | RecordKind::Http) => Ok(None),
                Ok(l) => match (l.ts.and_then(|r| ts_ns(r.get())), l.data) {
                    (None, _) => Err("`ts` is not non-negative decimal seconds"),
                    (Some(_), None) => Ok(None),
                    (Some(ns), Some(d)) => match JsonStr::of(d.get().as_bytes()) {
                        None => Err("`data` is not a string"),
                        Some(js) if js.raw().is_empty() => Ok(None),
                        Some(js) => {
                            self.data.clear();
                            match js.decode_append(&mut self.data) {
                                Some(()) => {
                                    if kind_of(&l.t) == RecordKind::Http {
                                        name_depth_symbol(l.url.as_deref(), &mut self.data);
                                    }
                                    Ok(Some(ns))
                                }
                                None => Err("`data` holds an invalid escape"),
                            }
                        }
                    },
                },
            };
            match outcome {
                Ok(Some(ns)) => return Ok(Some((ns, &self.data))),
                Ok(None) => {}
                Err(reason) => self.bad(no, reason),
            }
        }
    }

    /// Malformed lines kept so far (at most [`MAX_MALFORMED_KEPT`]).
    #[must_use]
    pub fn malformed(&self) -> &[MalformedRecord] {
        &self.malformed
    }

    /// Malformed lines counted so far.
    #[must_use]
    pub fn malformed_count(&self) -> u64 {
        self.malformed_count
    }

    /// Lines read so far.
    #[must_use]
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

/// Names the symbol in a Binance REST depth snapshot body. Spot and USD-M bodies carry none, so
/// in a capture of several symbols only the request's URL (`…/depth?symbol=BTCUSDT&limit=1000`)
/// says whose book it is: the body gets the `"symbol"` key COIN-M bodies already carry, and the
/// adapter loads it into that instrument. Bodies of other requests, bodies that already name a
/// symbol, and symbols that are not plain `[A-Za-z0-9_-]` are left as they are.
fn name_depth_symbol(url: Option<&str>, body: &mut Vec<u8>) {
    let Some((path, query)) = url.and_then(|u| u.split_once('?')) else {
        return;
    };
    if !path.ends_with("/depth") {
        return;
    }
    let Some(symbol) = query
        .split('&')
        .find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == "symbol"))
        .map(|(_, v)| v)
    else {
        return;
    };
    let plain = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if symbol.is_empty() || !symbol.bytes().all(plain) {
        return;
    }
    let Some(open) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
        return;
    };
    if body[open] != b'{' || body.windows(8).any(|w| w == b"\"symbol\"") {
        return;
    }
    let empty = body[open + 1..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'}');
    let key = format!("\"symbol\":\"{symbol}\"{}", if empty { "" } else { "," });
    body.splice(open + 1..open + 1, key.bytes());
}

fn kind_of(t: &str) -> RecordKind {
    match t {
        "header" => RecordKind::Header,
        "connect" => RecordKind::Connect,
        "send" => RecordKind::Send,
        "recv" => RecordKind::Recv,
        "http" => RecordKind::Http,
        _ => RecordKind::Other,
    }
}

/// Whether `path` looks like a cryptofeed capture: its name contains `.jsonl`, or its first
/// (decompressed) line is a JSON object with a `"t"` field.
#[must_use]
pub fn is_cryptofeed(path: &Path) -> bool {
    if path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(".jsonl"))
    {
        return true;
    }
    let Ok(mut o) = open_file(path) else {
        return false;
    };
    let mut first = Vec::new();
    if o.reader.read_until(b'\n', &mut first).is_err() {
        return false;
    }
    first.starts_with(b"{\"t\"")
}

/// Reads every record of `paths`.
///
/// # Errors
/// As [`CryptofeedReader::open`] and [`CryptofeedReader::next_record`].
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<Record>, CaptureError> {
    let mut r = CryptofeedReader::open(paths)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push(rec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_exact() {
        assert_eq!(ts_ns("1626993723.1311848"), Some(1_626_993_723_131_184_800));
        assert_eq!(ts_ns("1626993723"), Some(1_626_993_723_000_000_000));
        assert_eq!(ts_ns("-1"), None);
        assert_eq!(ts_ns("1.0000000001"), None);
    }

    #[test]
    fn reads_records_and_skips_bad_lines() {
        let dir = std::env::temp_dir().join(format!("ballast-cf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.jsonl");
        let body = concat!(
            "{\"t\":\"header\",\"format\":2}\n",
            "{\"t\":\"recv\",\"conn\":\"c\",\"ts\":1.5,\"data\":\"{\\\"a\\\":1}\"}\n",
            "not json\n",
            "{\"t\":\"recv\",\"conn\":\"c\",\"ts\":\"x\",\"data\":\"{}\"}\n",
            "{\"t\":\"http\",\"conn\":\"h\",\"ts\":2,\"url\":\"https://x/y?currency=BTC\",\"data\":\"{\\\"result\\\":[]}\"}\n",
            "{\"t\":\"recv\",\"ts\":3,\"data\":\"cut"
        );
        std::fs::write(&p, body).unwrap();
        let mut r = CryptofeedReader::open(std::slice::from_ref(&p)).unwrap();
        let mut frames = Vec::new();
        while let Some((ts, f)) = r.next_frame().unwrap() {
            frames.push((ts, String::from_utf8(f.to_vec()).unwrap()));
        }
        assert_eq!(
            frames,
            vec![
                (1_500_000_000, "{\"a\":1}".to_owned()),
                (2_000_000_000, "{\"result\":[]}".to_owned())
            ]
        );
        assert_eq!(r.malformed_count(), 3);
        assert_eq!(r.malformed()[0].line_no, 3);
        let all = read_all(std::slice::from_ref(&p)).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].url.as_deref(), Some("https://x/y?currency=BTC"));
        assert!(is_cryptofeed(&p));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn depth_snapshots_get_the_symbol_their_request_named() {
        let named = |url: Option<&str>, body: &str| {
            let mut b = body.as_bytes().to_vec();
            name_depth_symbol(url, &mut b);
            String::from_utf8(b).unwrap()
        };
        let spot = "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000";
        assert_eq!(
            named(Some(spot), r#"{"lastUpdateId":1,"bids":[],"asks":[]}"#),
            r#"{"symbol":"NKNUSDT","lastUpdateId":1,"bids":[],"asks":[]}"#
        );
        assert_eq!(named(Some(spot), " {} "), r#" {"symbol":"NKNUSDT"} "#);
        // Already named (COIN-M), another request, no symbol, an odd symbol, not an object.
        let coinm = r#"{"lastUpdateId":1,"symbol":"BTCUSD_PERP","bids":[],"asks":[]}"#;
        assert_eq!(named(Some(spot), coinm), coinm);
        let body = r#"{"lastUpdateId":1}"#;
        assert_eq!(
            named(Some("https://x/api/v3/exchangeInfo?symbol=A"), body),
            body
        );
        assert_eq!(named(Some("https://x/api/v3/depth?limit=5"), body), body);
        assert_eq!(
            named(Some("https://x/api/v3/depth?symbol=A%22B"), body),
            body
        );
        assert_eq!(named(Some("https://x/api/v3/depth?symbol="), body), body);
        assert_eq!(named(Some(spot), "[1]"), "[1]");
        assert_eq!(named(None, body), body);
    }
}
