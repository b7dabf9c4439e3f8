//! Several captures, each with its own venue adapter, merged into one stream by receive time.
//!
//! [`MergedFrames`] is a k-way merge over the inputs' frame readers (Ballast's line format
//! `<recv ns> <raw frame>` via [`CaptureReader`], or cryptofeed JSONL via [`CryptofeedReader`]):
//! it holds exactly one pending frame per input (a reused buffer), so memory is bounded by the
//! inputs' longest frames whatever the captures' length. It always yields the pending frame with
//! the smallest receive time; equal times go in input order (input 0 first), and frames of one
//! input always keep their file order: an input whose times step back is not reordered (that
//! would take a buffer), its step-backs are counted ([`MergedFrames::steps_back`]). cryptofeed's
//! Deribit sample has 25, all behind two REST bodies stamped 1.3 s late.
//!
//! [`MultiFeed`] adds one adapter per input ([`VenueFeed`]: Binance or Deribit) and one global
//! [`Registry`]: each adapter keeps its own registry, and its instrument ids are translated to
//! global ids (by symbol) before the events are handed on, so the same symbol seen on two inputs
//! is one instrument and two venues' ids never collide.
//!
//! Malformed lines are skipped and counted with their file and line (like the single-file
//! readers); a frame its adapter rejects is counted per input. Nothing here panics on input.

use std::path::{Path, PathBuf};

use crate::adapter::FeedAdapter;
use crate::binance::{BinanceFeed, FeedStats};
use crate::capture::{CaptureError, CaptureReader};
use crate::cryptofeed::CryptofeedReader;
use crate::deribit::DeribitFeed;
use crate::event::MarketEvent;
use crate::registry::{InstrumentId, Market, Registry};

/// How many malformed lines are kept with their location across all inputs (all are counted).
pub const MAX_MALFORMED_KEPT: usize = 1000;

/// File format of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// `<recv ns> <raw frame>` lines (plain, gzip or zstd).
    Lines,
    /// cryptofeed JSONL records (plain, gzip or zstd).
    Cryptofeed,
}

impl CaptureFormat {
    /// The format of `path`: cryptofeed when [`crate::cryptofeed::is_cryptofeed`] says so, else
    /// the line format.
    #[must_use]
    pub fn detect(path: &Path) -> Self {
        if crate::cryptofeed::is_cryptofeed(path) {
            Self::Cryptofeed
        } else {
            Self::Lines
        }
    }
}

/// A venue: which adapter parses an input's frames, which protocols the venue simulator speaks.
/// Configured as `binance` or `deribit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Venue {
    /// [`BinanceFeed`] (spot, USD-M, COIN-M streams).
    Binance,
    /// [`DeribitFeed`].
    Deribit,
}

impl Venue {
    /// The name configuration files and flags give it (`binance`, `deribit`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Binance => "binance",
            Self::Deribit => "deribit",
        }
    }
}

/// What parses an input: its venue and, where the frames cannot tell, its market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputKind {
    /// The venue (which adapter).
    pub venue: Venue,
    /// The market every frame belongs to (`None`: guessed per frame, as a lone capture may be).
    pub market: Option<Market>,
}

impl InputKind {
    /// The tags a capture argument may carry, as `TAG=FILE`.
    pub const TAGS: [&'static str; 5] = [
        "binance-spot",
        "binance-usdm",
        "binance-coinm",
        "binance",
        "deribit",
    ];

    /// The kind a capture tag names (`binance-spot`, `binance-usdm`, `binance-coinm`, `binance`
    /// with the market guessed per frame, `deribit`).
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        let (venue, market) = match tag {
            "binance-spot" => (Venue::Binance, Some(Market::BinanceSpot)),
            "binance-usdm" => (Venue::Binance, Some(Market::BinanceUsdM)),
            "binance-coinm" => (Venue::Binance, Some(Market::BinanceCoinM)),
            "binance" => (Venue::Binance, None),
            "deribit" => (Venue::Deribit, Some(Market::Deribit)),
            _ => return None,
        };
        Some(Self { venue, market })
    }

    /// The tag that names this kind (the inverse of [`Self::from_tag`]).
    #[must_use]
    pub const fn tag(self) -> &'static str {
        match (self.venue, self.market) {
            (Venue::Binance, Some(Market::BinanceSpot)) => "binance-spot",
            (Venue::Binance, Some(Market::BinanceUsdM)) => "binance-usdm",
            (Venue::Binance, Some(Market::BinanceCoinM)) => "binance-coinm",
            (Venue::Binance, _) => "binance",
            (Venue::Deribit, _) => "deribit",
        }
    }
}

/// A capture argument that is not `TAG=FILE` with a known tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// No `=`.
    #[error("`{0}`: expected TAG=FILE with TAG one of binance-spot, binance-usdm, binance-coinm, binance, deribit")]
    Missing(String),
    /// An unknown tag.
    #[error("`{0}`: unknown capture tag, expected one of binance-spot, binance-usdm, binance-coinm, binance, deribit")]
    Unknown(String),
    /// `TAG=` with no file.
    #[error("`{0}`: no file after the tag")]
    NoFile(String),
}

/// One input: files that continue each other, their format, their venue and market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    /// Files, in order.
    pub paths: Vec<PathBuf>,
    /// Their format.
    pub format: CaptureFormat,
    /// Their venue.
    pub venue: Venue,
    /// Their market, where the frames cannot tell (spot and USD-M `BTCUSDT` look alike);
    /// `None`: guessed per frame.
    pub market: Option<Market>,
    /// cryptofeed only: keep REST depth snapshots only when their URL names this symbol
    /// (bodies of depth snapshots carry no symbol); `None` keeps every record.
    pub rest_symbol: Option<String>,
}

impl InputSpec {
    /// One file, format detected from its content.
    #[must_use]
    pub fn detect(path: &Path, venue: Venue) -> Self {
        Self {
            paths: vec![path.to_path_buf()],
            format: CaptureFormat::detect(path),
            venue,
            market: None,
            rest_symbol: None,
        }
    }

    /// One file tagged with its kind, `TAG=FILE` (for example `binance-usdm=usdm_btcusdt.gz`),
    /// format detected from its content.
    ///
    /// # Errors
    /// [`TagError`] naming the argument when the tag is missing or unknown or the file is empty.
    pub fn parse_tagged(arg: &str) -> Result<Self, TagError> {
        let Some((tag, file)) = arg.split_once('=') else {
            return Err(TagError::Missing(arg.to_owned()));
        };
        let kind = InputKind::from_tag(tag).ok_or_else(|| TagError::Unknown(arg.to_owned()))?;
        if file.is_empty() {
            return Err(TagError::NoFile(arg.to_owned()));
        }
        Ok(Self::of_kind(Path::new(file), kind))
    }

    /// One file of `kind`, format detected from its content.
    #[must_use]
    pub fn of_kind(path: &Path, kind: InputKind) -> Self {
        Self {
            market: kind.market,
            ..Self::detect(path, kind.venue)
        }
    }

    /// What parses it.
    #[must_use]
    pub fn kind(&self) -> InputKind {
        InputKind {
            venue: self.venue,
            market: self.market,
        }
    }
}

/// Why a merged stream stopped.
#[derive(Debug, thiserror::Error)]
pub enum MultiError {
    /// No inputs.
    #[error("no inputs to merge")]
    NoInputs,
    /// An input could not be opened or read (the error names the file and line).
    #[error("input {input}: {source}")]
    Capture {
        /// Index of the input.
        input: usize,
        /// The reader's error.
        source: CaptureError,
    },
}

/// A skipped line: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Index of the input.
    pub input: usize,
    /// The file.
    pub path: PathBuf,
    /// 1-based line number in that file.
    pub line_no: u64,
    /// What was wrong.
    pub reason: String,
}

impl std::fmt::Display for Malformed {
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

enum Reader {
    Lines(CaptureReader),
    Cryptofeed {
        reader: CryptofeedReader,
        rest_symbol: Option<String>,
    },
}

impl Reader {
    /// Reads the next frame into `buf`; its receive time, or `None` at the end.
    fn fill(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>, CaptureError> {
        match self {
            Self::Lines(r) => Ok(r.next_frame()?.map(|(ts, f)| {
                buf.clear();
                buf.extend_from_slice(f);
                ts
            })),
            Self::Cryptofeed {
                reader,
                rest_symbol: None,
            } => Ok(reader.next_frame()?.map(|(ts, f)| {
                buf.clear();
                buf.extend_from_slice(f);
                ts
            })),
            Self::Cryptofeed {
                reader,
                rest_symbol: Some(sym),
            } => loop {
                let Some(rec) = reader.next_record()? else {
                    return Ok(None);
                };
                if rec.is_for_symbol(sym) {
                    *buf = rec.data;
                    return Ok(Some(rec.recv_ns));
                }
            },
        }
    }

    fn malformed_count(&self) -> u64 {
        match self {
            Self::Lines(r) => r.malformed_count(),
            Self::Cryptofeed { reader, .. } => reader.malformed_count(),
        }
    }

    fn lines(&self) -> u64 {
        match self {
            Self::Lines(r) => r.lines(),
            Self::Cryptofeed { reader, .. } => reader.lines(),
        }
    }

    fn malformed(&self, input: usize, out: &mut Vec<Malformed>) {
        match self {
            Self::Lines(r) => out.extend(r.malformed().iter().map(|m| Malformed {
                input,
                path: m.path.clone(),
                line_no: m.line_no,
                reason: m.reason.to_string(),
            })),
            Self::Cryptofeed { reader, .. } => {
                out.extend(reader.malformed().iter().map(|m| Malformed {
                    input,
                    path: m.path.clone(),
                    line_no: m.line_no,
                    reason: m.reason.to_owned(),
                }));
            }
        }
    }
}

struct Input {
    reader: Reader,
    /// The pending frame (valid when `pending_ns` is `Some`).
    frame: Vec<u8>,
    pending_ns: Option<u64>,
    /// Whether `frame` must be refilled before the next pick (it was handed out).
    consumed: bool,
    frames: u64,
    /// Latest receive time read so far.
    last_ns: u64,
    /// Frames whose receive time is before an earlier frame's of the same input.
    steps_back: u64,
}

/// One frame of the merged stream: `(input, recv_ns, frame)`.
pub type MergedFrame<'a> = (usize, u64, &'a [u8]);

/// k-way merge of several inputs' frames by receive time (see the module docs).
pub struct MergedFrames {
    inputs: Vec<Input>,
}

impl std::fmt::Debug for MergedFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergedFrames")
            .field("inputs", &self.inputs.len())
            .finish_non_exhaustive()
    }
}

impl MergedFrames {
    /// Opens every input (all files are checked up front for the line format; cryptofeed
    /// inputs open their first file).
    ///
    /// # Errors
    /// [`MultiError::NoInputs`], or [`MultiError::Capture`] naming the input and file that cannot
    /// be opened.
    pub fn open(specs: &[InputSpec]) -> Result<Self, MultiError> {
        if specs.is_empty() {
            return Err(MultiError::NoInputs);
        }
        let mut inputs = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            let err = |source| MultiError::Capture { input: i, source };
            let reader = match s.format {
                CaptureFormat::Lines => Reader::Lines(CaptureReader::open(&s.paths).map_err(err)?),
                CaptureFormat::Cryptofeed => Reader::Cryptofeed {
                    reader: CryptofeedReader::open(&s.paths).map_err(err)?,
                    rest_symbol: s.rest_symbol.clone(),
                },
            };
            inputs.push(Input {
                reader,
                frame: Vec::with_capacity(1 << 12),
                pending_ns: None,
                consumed: true,
                frames: 0,
                last_ns: 0,
                steps_back: 0,
            });
        }
        Ok(Self { inputs })
    }

    /// The next frame of the merged stream as `(input, recv_ns, frame)` (the frame is valid until
    /// the next call); `Ok(None)` when every input is exhausted.
    ///
    /// # Errors
    /// [`MultiError::Capture`] when a read fails or a later file cannot be opened (the error names
    /// the file and the last good line); malformed lines are not errors (see [`Self::malformed`]).
    pub fn next_frame(&mut self) -> Result<Option<MergedFrame<'_>>, MultiError> {
        let mut best: Option<(usize, u64)> = None;
        for (i, inp) in self.inputs.iter_mut().enumerate() {
            if inp.consumed {
                inp.consumed = false;
                inp.pending_ns = inp
                    .reader
                    .fill(&mut inp.frame)
                    .map_err(|source| MultiError::Capture { input: i, source })?;
                if let Some(ns) = inp.pending_ns {
                    if ns < inp.last_ns {
                        inp.steps_back += 1;
                    }
                    inp.last_ns = inp.last_ns.max(ns);
                }
            }
            if let Some(ns) = inp.pending_ns {
                // Strict `<`: an equal time keeps the earlier input.
                if best.is_none_or(|(_, b)| ns < b) {
                    best = Some((i, ns));
                }
            }
        }
        let Some((i, ns)) = best else {
            return Ok(None);
        };
        let inp = &mut self.inputs[i];
        inp.consumed = true;
        inp.frames += 1;
        Ok(Some((i, ns, &inp.frame)))
    }

    /// Number of inputs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether there are no inputs (never, once opened).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Frames yielded so far from input `i`.
    #[must_use]
    pub fn frames(&self, i: usize) -> u64 {
        self.inputs.get(i).map_or(0, |x| x.frames)
    }

    /// Frames of input `i` whose receive time is before an earlier frame's of the same input
    /// (kept in file order: the merge is only as ordered as its inputs).
    #[must_use]
    pub fn steps_back(&self, i: usize) -> u64 {
        self.inputs.get(i).map_or(0, |x| x.steps_back)
    }

    /// Lines read so far from input `i`.
    #[must_use]
    pub fn lines(&self, i: usize) -> u64 {
        self.inputs.get(i).map_or(0, |x| x.reader.lines())
    }

    /// Malformed lines counted so far, all inputs.
    #[must_use]
    pub fn malformed_count(&self) -> u64 {
        self.inputs.iter().map(|x| x.reader.malformed_count()).sum()
    }

    /// Malformed lines of input `i` counted so far.
    #[must_use]
    pub fn malformed_count_of(&self, i: usize) -> u64 {
        self.inputs.get(i).map_or(0, |x| x.reader.malformed_count())
    }

    /// Malformed lines kept so far with their location (at most [`MAX_MALFORMED_KEPT`]), by input.
    #[must_use]
    pub fn malformed(&self) -> Vec<Malformed> {
        let mut out = Vec::new();
        for (i, x) in self.inputs.iter().enumerate() {
            x.reader.malformed(i, &mut out);
        }
        out.truncate(MAX_MALFORMED_KEPT);
        out
    }
}

/// One input's adapter.
#[derive(Debug)]
pub enum VenueFeed {
    /// Binance.
    Binance(BinanceFeed),
    /// Deribit.
    Deribit(DeribitFeed),
}

impl VenueFeed {
    /// A fresh adapter of `kind` over `registry` (a Binance adapter told its market registers
    /// every symbol on it).
    #[must_use]
    pub fn new(kind: InputKind, registry: Registry) -> Self {
        match (kind.venue, kind.market) {
            (Venue::Binance, Some(m)) => Self::Binance(BinanceFeed::with_market(registry, m)),
            (Venue::Binance, None) => Self::Binance(BinanceFeed::new(registry)),
            (Venue::Deribit, _) => Self::Deribit(DeribitFeed::new(registry)),
        }
    }

    /// The adapter's own registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        match self {
            Self::Binance(f) => f.registry(),
            Self::Deribit(f) => f.registry(),
        }
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> FeedStats {
        match self {
            Self::Binance(f) => f.stats(),
            Self::Deribit(f) => f.stats(),
        }
    }

    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        match self {
            Self::Binance(f) => f.on_frame(recv_ns, frame, sink).is_ok(),
            Self::Deribit(f) => f.on_frame(recv_ns, frame, sink).is_ok(),
        }
    }
}

/// What [`MultiFeed::next`] did with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// The input it came from.
    pub input: usize,
    /// Its receive time, ns.
    pub recv_ns: u64,
    /// Whether its adapter accepted it.
    pub accepted: bool,
    /// Events it produced.
    pub events: u32,
}

/// One adapter per input and one global registry: parses input `i`'s frames with its own
/// adapter and hands the events on in global instrument ids.
///
/// As a pipeline [`FeedAdapter`] it reads *tagged* frames: the first byte is the input index,
/// the rest the raw frame ([`tag_frame`]); a merged source such as [`MergedFrames`] tags each
/// frame with its input, so several venues run through one feed stage.
#[derive(Debug)]
pub struct MultiAdapter {
    feeds: Vec<VenueFeed>,
    registry: Registry,
    /// Per input: adapter-local id → global id.
    maps: Vec<Vec<InstrumentId>>,
    events: Vec<MarketEvent>,
    rejected: Vec<u64>,
}

/// Writes `frame` tagged with `input` into `out` (cleared first): the format
/// [`MultiAdapter`]'s [`FeedAdapter::on_frame`] reads. `None` for an input index above 255.
pub fn tag_frame(out: &mut Vec<u8>, input: usize, frame: &[u8]) -> Option<()> {
    let tag = u8::try_from(input).ok()?;
    out.clear();
    out.push(tag);
    out.extend_from_slice(frame);
    Some(())
}

impl MultiAdapter {
    /// Adapters of `kinds`; input `i`'s starts over `locals[i]` (an empty registry when
    /// `locals` is shorter), and every instrument of the adapters is registered in `global` by
    /// market and symbol. Pre-register what the consumer needs (a chain, a hedge) so ids are known up front:
    /// a second replay of the same inputs over the first one's registries gives the same ids.
    #[must_use]
    pub fn new(kinds: &[InputKind], global: Registry, mut locals: Vec<Registry>) -> Self {
        locals.resize_with(kinds.len(), Registry::new);
        let feeds: Vec<VenueFeed> = kinds
            .iter()
            .zip(locals)
            .map(|(k, r)| VenueFeed::new(*k, r))
            .collect();
        let mut me = Self {
            maps: vec![Vec::new(); feeds.len()],
            rejected: vec![0; feeds.len()],
            feeds,
            registry: global,
            events: Vec::with_capacity(4096),
        };
        for i in 0..me.feeds.len() {
            me.sync_map(i);
        }
        me
    }

    /// Translates instruments input `i`'s adapter registered since the last call.
    fn sync_map(&mut self, i: usize) {
        let local = self.feeds[i].registry();
        let map = &mut self.maps[i];
        while map.len() < local.len() {
            let inst = &local.instruments()[map.len()];
            let id =
                self.registry
                    .register(&inst.symbol, inst.market, inst.px_scale, inst.qty_scale);
            map.push(id);
        }
    }

    /// The global registry (grows as adapters meet new symbols).
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Input `i`'s adapter.
    #[must_use]
    pub fn feed(&self, i: usize) -> Option<&VenueFeed> {
        self.feeds.get(i)
    }

    /// Frames of input `i` its adapter rejected.
    #[must_use]
    pub fn rejected(&self, i: usize) -> u64 {
        self.rejected.get(i).copied().unwrap_or(0)
    }

    /// Parses `frame` of input `input` and hands its events, in global ids, to `sink`. Returns
    /// whether the adapter accepted it (an unknown input is rejected).
    pub fn on_input_frame(
        &mut self,
        input: usize,
        recv_ns: u64,
        frame: &[u8],
        sink: &mut impl FnMut(&MarketEvent),
    ) -> bool {
        let Some(feed) = self.feeds.get_mut(input) else {
            return false;
        };
        self.events.clear();
        let events = &mut self.events;
        let accepted = feed.on_frame(recv_ns, frame, &mut |e| events.push(e));
        if !accepted {
            self.rejected[input] += 1;
        }
        if self.maps[input].len() < self.feeds[input].registry().len() {
            self.sync_map(input);
        }
        let map = &self.maps[input];
        for e in &mut self.events {
            if let Some(g) = map.get(e.instrument.0 as usize) {
                e.instrument = *g;
            }
            sink(e);
        }
        accepted
    }
}

impl FeedAdapter for MultiAdapter {
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        let Some((&tag, raw)) = frame.split_first() else {
            return false;
        };
        self.on_input_frame(usize::from(tag), recv_ns, raw, &mut |e| sink(*e))
    }

    /// The inputs' counters, summed.
    fn stats(&self) -> FeedStats {
        let mut t = FeedStats::default();
        for f in &self.feeds {
            let s = f.stats();
            t.frames += s.frames;
            t.malformed += s.malformed;
            t.ignored += s.ignored;
            t.fallback_parses += s.fallback_parses;
            t.book_tickers += s.book_tickers;
            t.trades += s.trades;
            t.diffs += s.diffs;
            t.diffs_applied += s.diffs_applied;
            t.diffs_dropped_stale += s.diffs_dropped_stale;
            t.diffs_buffered += s.diffs_buffered;
            t.buffer_overflows += s.buffer_overflows;
            t.gaps += s.gaps;
            t.resyncs += s.resyncs;
            t.snapshots += s.snapshots;
            t.snapshots_ignored += s.snapshots_ignored;
            t.snapshots_stale += s.snapshots_stale;
        }
        t
    }
}

/// Merged inputs, each parsed by its own adapter, events in global instrument ids: a
/// [`MergedFrames`] driving a [`MultiAdapter`] in one loop (no pipeline).
#[derive(Debug)]
pub struct MultiFeed {
    frames: MergedFrames,
    adapter: MultiAdapter,
}

impl MultiFeed {
    /// Opens `specs` with adapters as in [`MultiAdapter::new`].
    ///
    /// # Errors
    /// As [`MergedFrames::open`].
    pub fn open(
        specs: &[InputSpec],
        global: Registry,
        locals: Vec<Registry>,
    ) -> Result<Self, MultiError> {
        let frames = MergedFrames::open(specs)?;
        let kinds: Vec<InputKind> = specs.iter().map(InputSpec::kind).collect();
        Ok(Self {
            frames,
            adapter: MultiAdapter::new(&kinds, global, locals),
        })
    }

    /// The global registry (grows as adapters meet new symbols).
    #[must_use]
    pub fn registry(&self) -> &Registry {
        self.adapter.registry()
    }

    /// Input `i`'s adapter.
    #[must_use]
    pub fn feed(&self, i: usize) -> Option<&VenueFeed> {
        self.adapter.feed(i)
    }

    /// The adapters.
    #[must_use]
    pub fn adapter(&self) -> &MultiAdapter {
        &self.adapter
    }

    /// The merged frame readers (counters, malformed lines).
    #[must_use]
    pub fn frames(&self) -> &MergedFrames {
        &self.frames
    }

    /// Frames of input `i` its adapter rejected.
    #[must_use]
    pub fn rejected(&self, i: usize) -> u64 {
        self.adapter.rejected(i)
    }

    /// Parses the next merged frame with its input's adapter and hands its events, in global
    /// ids, to `sink(input, event)`; `Ok(None)` at the end of every input.
    ///
    /// # Errors
    /// As [`MergedFrames::next_frame`].
    pub fn next(
        &mut self,
        sink: &mut impl FnMut(usize, &MarketEvent),
    ) -> Result<Option<FrameInfo>, MultiError> {
        let Some((input, recv_ns, frame)) = self.frames.next_frame()? else {
            return Ok(None);
        };
        let mut events = 0u32;
        let accepted = self
            .adapter
            .on_input_frame(input, recv_ns, frame, &mut |e| {
                events += 1;
                sink(input, e);
            });
        Ok(Some(FrameInfo {
            input,
            recv_ns,
            accepted,
            events,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, body: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ballast-multi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn lines(p: &Path) -> InputSpec {
        InputSpec {
            paths: vec![p.to_path_buf()],
            format: CaptureFormat::Lines,
            venue: Venue::Binance,
            market: None,
            rest_symbol: None,
        }
    }

    fn drain(m: &mut MergedFrames) -> Vec<(usize, u64, String)> {
        let mut out = Vec::new();
        while let Some((i, ns, f)) = m.next_frame().unwrap() {
            out.push((i, ns, String::from_utf8(f.to_vec()).unwrap()));
        }
        out
    }

    #[test]
    fn merges_by_time_ties_by_input_order() {
        let a = tmp("a.txt", "1 a1\n5 a5\n5 a5b\n9 a9\n");
        let b = tmp("b.txt", "2 b2\n5 b5\n10 b10\n");
        let c = tmp(
            "c.jsonl",
            concat!(
                "{\"t\":\"header\"}\n",
                "{\"t\":\"recv\",\"ts\":0.000000005,\"data\":\"c5\"}\n",
                "{\"t\":\"recv\",\"ts\":0.000000003,\"data\":\"c3\"}\n",
            ),
        );
        let mut cs = lines(&c);
        cs.format = CaptureFormat::Cryptofeed;
        let mut m = MergedFrames::open(&[lines(&a), lines(&b), cs]).unwrap();
        let got = drain(&mut m);
        let want: Vec<(usize, u64, &str)> = vec![
            (0, 1, "a1"),
            (1, 2, "b2"),
            (0, 5, "a5"),
            (0, 5, "a5b"),
            (1, 5, "b5"),
            // c's first frame is at 5 too: after inputs 0 and 1 at 5; its next frame (3) steps
            // back and keeps its file order.
            (2, 5, "c5"),
            (2, 3, "c3"),
            (0, 9, "a9"),
            (1, 10, "b10"),
        ];
        let got: Vec<(usize, u64, &str)> =
            got.iter().map(|(i, n, s)| (*i, *n, s.as_str())).collect();
        assert_eq!(got, want);
        assert_eq!((m.frames(0), m.frames(1), m.frames(2)), (4, 3, 2));
        assert_eq!(
            (m.steps_back(0), m.steps_back(1), m.steps_back(2)),
            (0, 0, 1)
        );
    }

    #[test]
    fn empty_input_and_malformed_lines_are_counted_and_skipped() {
        let a = tmp("e.txt", "");
        let b = tmp("m.txt", "3 x\nnot-a-line\n4\n7 y\nabc def\n8 z");
        let mut m = MergedFrames::open(&[lines(&a), lines(&b)]).unwrap();
        let got = drain(&mut m);
        assert_eq!(
            got,
            vec![(1, 3, "x".into()), (1, 7, "y".into())],
            "bad lines skipped, good ones kept"
        );
        assert_eq!(m.malformed_count(), 4);
        assert_eq!(m.malformed_count_of(0), 0);
        let bad = m.malformed();
        let at: Vec<u64> = bad.iter().map(|x| x.line_no).collect();
        assert_eq!(at, vec![2, 3, 5, 6]);
        assert!(bad.iter().all(|x| x.input == 1 && x.path == b));
        assert!(bad[0].to_string().contains("m.txt:2:"), "{}", bad[0]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any inputs with non-decreasing times merge into a stream that is every frame once,
        /// sorted by (time, input), each input's frames in file order.
        #[test]
        fn merge_is_a_stable_sort_of_sorted_inputs(
            inputs in proptest::collection::vec(
                proptest::collection::vec(0u64..20, 0..12), 1..5)
        ) {
            let dir = std::env::temp_dir().join(format!("ballast-multi-prop-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut specs = Vec::new();
            let mut want = Vec::new();
            for (i, times) in inputs.iter().enumerate() {
                let mut times = times.clone();
                times.sort_unstable();
                let mut body = String::new();
                for (j, t) in times.iter().enumerate() {
                    body.push_str(&format!("{t} f{i}.{j}\n"));
                    want.push((*t, i, j));
                }
                let p = dir.join(format!("in{i}.txt"));
                std::fs::write(&p, body).unwrap();
                specs.push(lines(&p));
            }
            want.sort_unstable();
            let mut m = MergedFrames::open(&specs).unwrap();
            let got: Vec<(u64, usize, usize)> = drain(&mut m)
                .into_iter()
                .map(|(i, t, f)| {
                    let j = f.rsplit('.').next().unwrap().parse().unwrap();
                    (t, i, j)
                })
                .collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn missing_file_is_named() {
        let e = MergedFrames::open(&[lines(Path::new("/nonexistent/ballast-x.txt"))]).unwrap_err();
        assert!(e.to_string().contains("input 0"), "{e}");
        let src = std::error::Error::source(&e).map(ToString::to_string);
        assert!(src.is_some_and(|s| s.contains("/nonexistent/ballast-x.txt")));
        assert!(matches!(MergedFrames::open(&[]), Err(MultiError::NoInputs)));
    }

    #[test]
    fn two_venues_share_global_ids_by_symbol() {
        let d = tmp(
            "d.txt",
            concat!(
                "10 {\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"channel\":\"ticker.BTC-PERPETUAL.raw\",\"data\":{\"instrument_name\":\"BTC-PERPETUAL\",\"timestamp\":1,\"best_bid_price\":100.5,\"best_bid_amount\":10,\"best_ask_price\":101,\"best_ask_amount\":20}}}\n",
                "30 garbage\n",
            ),
        );
        let b = tmp(
            "b2.txt",
            "20 {\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"100.00\",\"B\":\"1.5\",\"a\":\"100.10\",\"A\":\"2\"}}\n",
        );
        let mut local = Registry::new();
        local.register("ETH-PERPETUAL", crate::Market::Deribit, 8, 8);
        local.register("BTCUSDT", crate::Market::BinanceSpot, 8, 8);
        let mut global = Registry::new();
        global.register("SOLUSDT", crate::Market::BinanceSpot, 8, 8);
        let mut dspec = lines(&d);
        dspec.venue = Venue::Deribit;
        let mut f =
            MultiFeed::open(&[dspec, lines(&b)], global, vec![Registry::new(), local]).unwrap();
        let mut seen = Vec::new();
        while let Some(info) = f
            .next(&mut |i, e| seen.push((i, e.recv_ns, e.instrument)))
            .unwrap()
        {
            assert_eq!(info.accepted, info.recv_ns != 30);
        }
        // Global ids: SOLUSDT given, input 1's registry at open, then BTC-PERPETUAL when seen
        // (local id 0 of input 0).
        let id = |s: &str| f.registry().id(s).unwrap().0;
        assert_eq!(
            (
                id("SOLUSDT"),
                id("ETH-PERPETUAL"),
                id("BTCUSDT"),
                id("BTC-PERPETUAL")
            ),
            (0, 1, 2, 3)
        );
        let g = |n| InstrumentId(n);
        assert_eq!(seen, vec![(0, 10, g(3)), (1, 20, g(2))]);

        // The same frames tagged with their input, through the pipeline-facing adapter.
        let global = f.registry().clone();
        let mut a = MultiAdapter::new(
            &[
                InputKind::from_tag("deribit").unwrap(),
                InputKind::from_tag("binance").unwrap(),
            ],
            global,
            Vec::new(),
        );
        let mut again = Vec::new();
        let mut buf = Vec::new();
        for (input, ns, path) in [(0usize, 10u64, &d), (1, 20, &b)] {
            let text = std::fs::read_to_string(path).unwrap();
            let line = text.lines().next().unwrap();
            let frame = line.split_once(' ').unwrap().1;
            tag_frame(&mut buf, input, frame.as_bytes()).unwrap();
            assert!(FeedAdapter::on_frame(&mut a, ns, &buf, &mut |e| again
                .push((input, e.recv_ns, e.instrument))));
        }
        tag_frame(&mut buf, 7, b"{}").unwrap();
        assert!(
            !FeedAdapter::on_frame(&mut a, 40, &buf, &mut |_| {}),
            "unknown input"
        );
        assert!(
            !FeedAdapter::on_frame(&mut a, 40, &[], &mut |_| {}),
            "untagged frame"
        );
        assert_eq!(again, seen, "same events, same global ids");
        assert_eq!(FeedAdapter::stats(&a).frames, 2);
        assert_eq!((f.rejected(0), f.rejected(1)), (1, 0));
    }
}
