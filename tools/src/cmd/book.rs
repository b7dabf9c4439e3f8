//! `ballast book FILE... --symbol SYM`: rebuild one instrument's exact L2 book from captured
//! Binance frames and print its top of book after every applied depth diff, as CSV.
//!
//! Also reads cryptofeed JSONL captures (`.jsonl[.zst]`; REST snapshot bodies are applied only
//! when their URL asked for `SYM`) and Deribit books (a symbol with a `-`, e.g.
//! `BTC-24SEP21-8000-P`: `final_update_id` is then the `change_id`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use feeds::capture::CaptureReader;
use feeds::decimal::{write_decimal, write_u64};
use feeds::{flags, BinanceFeed, EventKind, Market, MarketEvent, PxQty, Registry};

/// Arguments of `ballast book`.
#[derive(Debug, clap::Args)]
pub struct BookArgs {
    /// Capture files (`<recv ns> <frame>` lines, plain or gzip), read in order as one stream.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Venue symbol whose book to print, e.g. BTCUSDT (case-insensitive). A bare REST snapshot
    /// line (it names no symbol) goes to the one instrument awaiting a snapshot; when several
    /// await one it is ambiguous and counted as a rejected frame.
    #[arg(long, value_name = "SYM")]
    pub symbol: String,
}

/// Where frames come from: Ballast line captures or cryptofeed JSONL.
enum Frames {
    Lines(CaptureReader),
    /// Reader, the symbol (REST bodies of other symbols are skipped), the current frame.
    Cryptofeed(feeds::cryptofeed::CryptofeedReader, String, Vec<u8>),
}

impl Frames {
    fn open(files: &[PathBuf], symbol: &str) -> anyhow::Result<Self> {
        if files.iter().any(|f| feeds::cryptofeed::is_cryptofeed(f)) {
            return Ok(Self::Cryptofeed(
                feeds::cryptofeed::CryptofeedReader::open(files)?,
                symbol.to_owned(),
                Vec::new(),
            ));
        }
        Ok(Self::Lines(CaptureReader::open(files)?))
    }

    fn next_frame(&mut self) -> anyhow::Result<Option<(u64, &[u8])>> {
        match self {
            Self::Lines(r) => Ok(r.next_frame()?),
            Self::Cryptofeed(r, sym, buf) => loop {
                let Some(rec) = r.next_record()? else {
                    return Ok(None);
                };
                let keep = rec.is_for_symbol(sym);
                if keep {
                    *buf = rec.data;
                    return Ok(Some((rec.recv_ns, &buf[..])));
                }
            },
        }
    }

    fn malformed_count(&self) -> u64 {
        match self {
            Self::Lines(r) => r.malformed_count(),
            Self::Cryptofeed(r, ..) => r.malformed_count(),
        }
    }

    fn first_malformed(&self) -> Option<String> {
        match self {
            Self::Lines(r) => r.malformed().first().map(ToString::to_string),
            Self::Cryptofeed(r, ..) => r.malformed().first().map(ToString::to_string),
        }
    }
}

/// The venue adapter keeping the book.
enum Feed {
    Binance(Box<BinanceFeed>),
    Deribit(Box<feeds::deribit::DeribitFeed>),
}

impl Feed {
    fn on_frame(
        &mut self,
        recv_ns: u64,
        frame: &[u8],
        sink: &mut impl FnMut(MarketEvent),
    ) -> Result<(), String> {
        match self {
            Self::Binance(f) => f.on_frame(recv_ns, frame, sink).map_err(|e| e.to_string()),
            Self::Deribit(f) => f.on_frame(recv_ns, frame, sink).map_err(|e| e.to_string()),
        }
    }

    fn set_snapshot_target(&mut self, id: feeds::InstrumentId) {
        if let Self::Binance(f) = self {
            f.set_snapshot_target(id);
        }
    }

    fn display_decimals(&self, id: feeds::InstrumentId) -> Option<(u8, u8)> {
        match self {
            Self::Binance(f) => f.display_decimals(id),
            // Deribit sends JSON numbers: print the shortest exact form, at least one decimal.
            Self::Deribit(_) => Some((1, 1)),
        }
    }
}

/// Stdout went away (`| head`): stop quietly.
fn is_closed_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

fn side(line: &mut Vec<u8>, l: PxQty, px_scale: u8, qty_scale: u8, dec: (u8, u8)) {
    // Price 0 never exists on a book: it marks an empty side (printed as empty fields).
    if l.px != 0 || l.qty != 0 {
        write_decimal(line, l.px, px_scale, dec.0);
        line.push(b',');
        write_decimal(line, l.qty, qty_scale, dec.1);
    } else {
        line.push(b',');
    }
}

/// Run `ballast book`.
///
/// # Errors
/// A capture that cannot be opened or read (named), an empty symbol, a symbol that never appears
/// in the capture, or an error writing stdout other than a closed pipe.
pub fn run(args: BookArgs) -> anyhow::Result<()> {
    let symbol = args.symbol.trim().to_ascii_uppercase();
    anyhow::ensure!(!symbol.is_empty(), "--symbol must not be empty");
    let mut reader = Frames::open(&args.files, &symbol)?;
    let deribit = symbol.contains('-');
    let mut registry = Registry::new();
    let id = registry.register(
        &symbol,
        if deribit {
            Market::Deribit
        } else {
            Market::BinanceSpot
        },
        feeds::binance::AUTO_SCALE,
        feeds::binance::AUTO_SCALE,
    );
    let (px_scale, qty_scale) = registry
        .get(id)
        .map(|i| (i.px_scale, i.qty_scale))
        .unwrap_or((8, 8));
    let mut feed = if deribit {
        Feed::Deribit(Box::new(feeds::deribit::DeribitFeed::new(registry)))
    } else {
        Feed::Binance(Box::new(BinanceFeed::new(registry)))
    };

    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut events: Vec<MarketEvent> = Vec::with_capacity(64);
    let mut line: Vec<u8> = Vec::with_capacity(256);
    let mut rows: u64 = 0;
    let mut seen = false;
    let (mut gaps, mut resyncs, mut snapshots) = (0u64, 0u64, 0u64);
    let mut rejected: u64 = 0;
    let mut first_rejected: Option<String> = None;

    let header = b"recv_ns,final_update_id,bid_px,bid_qty,ask_px,ask_qty\n";
    match out.write_all(header) {
        Err(e) if is_closed_pipe(&e) => return Ok(()),
        r => r.context("writing stdout")?,
    }
    // Cryptofeed captures only pass on the REST bodies asked for SYM, so a bare snapshot is
    // SYM's; in line captures it goes to the one instrument awaiting one (see `--symbol`).
    let snapshots_are_sym = matches!(reader, Frames::Cryptofeed(..));
    let mut frame_no: u64 = 0;
    while let Some((recv_ns, frame)) = reader.next_frame()? {
        frame_no += 1;
        events.clear();
        if snapshots_are_sym {
            feed.set_snapshot_target(id);
        }
        if let Err(e) = feed.on_frame(recv_ns, frame, &mut |ev| events.push(ev)) {
            rejected += 1;
            if first_rejected.is_none() {
                first_rejected = Some(format!("frame {frame_no}: {e}"));
            }
            continue;
        }
        let dec = feed.display_decimals(id).unwrap_or((px_scale, qty_scale));
        for ev in events.iter().filter(|ev| ev.instrument == id) {
            seen = true;
            match ev.kind {
                EventKind::Gap => gaps += 1,
                EventKind::SnapshotBegin => snapshots += 1,
                EventKind::SnapshotEnd if gaps > resyncs => resyncs += 1,
                _ => {}
            }
            if ev.kind != EventKind::Bbo || ev.flags & flags::FROM_BOOK == 0 {
                continue;
            }
            line.clear();
            write_u64(&mut line, ev.recv_ns);
            line.push(b',');
            write_u64(&mut line, ev.seq);
            line.push(b',');
            side(&mut line, ev.bid, px_scale, qty_scale, dec);
            line.push(b',');
            side(&mut line, ev.ask, px_scale, qty_scale, dec);
            line.push(b'\n');
            rows += 1;
            match out.write_all(&line) {
                Err(e) if is_closed_pipe(&e) => return Ok(()),
                r => r.context("writing stdout")?,
            }
        }
    }
    match out.flush() {
        Err(e) if is_closed_pipe(&e) => return Ok(()),
        r => r.context("writing stdout")?,
    }
    drop(out);
    let malformed = reader.malformed_count() + rejected;
    let first = reader.first_malformed().or(first_rejected);
    eprintln!(
        "ballast book: {symbol}: {rows} diffs applied, {gaps} gaps, {resyncs} resyncs, {snapshots} snapshots, {malformed} malformed lines ({} unreadable, {rejected} rejected frames){}",
        reader.malformed_count(),
        first.map(|f| format!("; first: {f}")).unwrap_or_default(),
    );
    anyhow::ensure!(seen, "symbol {symbol} does not appear in the capture");
    Ok(())
}
