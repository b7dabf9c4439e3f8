//! The second pass's stages (its tagged frame source is `run_common::TaggedSource`): the derived
//! hedge touches, the feed stage over both, and the writer thread of the order and decision log.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use feeds::binance::FeedStats;
use feeds::deribit::read_option_ticker;
use feeds::multi::MultiAdapter;
use feeds::{flags, EventKind, FeedAdapter, InstrumentId, MarketEvent, PxQty};
use options::kernel::Record;

/// The derived hedge touch of `--hedge-from-underlying`: before each ticker of an option whose
/// future is an underlying's derived hedge, a `Bbo` of `<future>@derived` at the ticker's
/// `underlying_price` ± the half-spread with the configured size each side, flagged `SYNTHETIC`.
pub(super) struct Derive {
    /// Option id → the derived hedge its tickers quote.
    pub(super) derive_to: Vec<Option<InstrumentId>>,
    pub(super) half_spread: f64,
    pub(super) qty_mantissa: i64,
    /// Derived touches emitted (read after the run).
    pub(super) derived: Arc<AtomicU64>,
}

impl Derive {
    fn bbo(&self, e: &MarketEvent) -> Option<MarketEvent> {
        let h = self
            .derive_to
            .get(e.instrument.0 as usize)
            .copied()
            .flatten()?;
        let px = read_option_ticker(e)?.underlying_px;
        let (bid, ask) = (
            px * (1.0 - self.half_spread) * 1e8,
            px * (1.0 + self.half_spread) * 1e8,
        );
        if !(bid >= 1.0 && ask < 9.0e18) {
            return None;
        }
        let mut b = MarketEvent::new(EventKind::Bbo, h, e.recv_ns);
        b.exch_ns = e.exch_ns;
        b.flags = flags::BOOK_VALID | flags::SYNTHETIC;
        b.bid = PxQty {
            px: bid.round() as i64,
            qty: self.qty_mantissa,
        };
        b.ask = PxQty {
            px: ask.round() as i64,
            qty: self.qty_mantissa,
        };
        Some(b)
    }
}

/// The feed stage: every input's adapter ([`MultiAdapter`]) and the derived hedge touches.
pub(super) struct ReplayFeed {
    pub(super) inner: MultiAdapter,
    pub(super) derive: Derive,
}

impl FeedAdapter for ReplayFeed {
    fn on_frame(&mut self, recv_ns: u64, frame: &[u8], sink: &mut impl FnMut(MarketEvent)) -> bool {
        let Some((&tag, raw)) = frame.split_first() else {
            return false;
        };
        let derive = &self.derive;
        self.inner
            .on_input_frame(usize::from(tag), recv_ns, raw, &mut |e| {
                if e.kind == EventKind::OptionTicker {
                    if let Some(b) = derive.bbo(e) {
                        // Relaxed: a counter, read only after the feed thread is joined (the
                        // join orders it).
                        derive.derived.fetch_add(1, Ordering::Relaxed);
                        sink(b);
                    }
                }
                sink(*e);
            })
    }

    fn stats(&self) -> FeedStats {
        self.inner.stats()
    }
}

/// Writes orders and decisions from the kernel's record ring into their files (a thread of its
/// own: the kernel waits for room, so nothing is lost) and counts orders by reason.
#[derive(Default)]
pub(super) struct Written {
    pub(super) orders: u64,
    pub(super) decisions: u64,
    pub(super) by_reason: BTreeMap<(&'static str, &'static str, bool), u64>,
}

pub(super) fn writer(
    mut rx: rtrb::Consumer<Record>,
    orders_out: Option<PathBuf>,
    decisions_out: Option<PathBuf>,
) -> std::thread::JoinHandle<anyhow::Result<Written>> {
    std::thread::spawn(move || {
        let open = |p: &Option<PathBuf>| -> anyhow::Result<Option<BufWriter<File>>> {
            p.as_ref()
                .map(|p| {
                    File::create(p)
                        .map(BufWriter::new)
                        .with_context(|| format!("cannot create {}", p.display()))
                })
                .transpose()
        };
        let (mut ow, mut dw) = (open(&orders_out)?, open(&decisions_out)?);
        let mut w = Written::default();
        loop {
            let Ok(r) = rx.pop() else {
                if rx.is_abandoned() && rx.is_empty() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_micros(50));
                continue;
            };
            let out = match &r {
                Record::Order(o) => {
                    w.orders += 1;
                    *w.by_reason
                        .entry((o.reason.as_str(), o.binding.as_str(), o.is_hedge))
                        .or_default() += 1;
                    ow.as_mut()
                }
                Record::Decision(_) => {
                    w.decisions += 1;
                    dw.as_mut()
                }
            };
            if let Some(f) = out {
                r.write_jsonl(f).context("writing the JSON-lines log")?;
            }
        }
        for (f, p) in [(ow, &orders_out), (dw, &decisions_out)] {
            if let (Some(mut f), Some(p)) = (f, p) {
                f.flush()
                    .with_context(|| format!("cannot write {}", p.display()))?;
            }
        }
        Ok(w)
    })
}
