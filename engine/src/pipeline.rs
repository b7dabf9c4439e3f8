//! The pipeline: feed stage → `rtrb` ring → kernel stage → `rtrb` ring → execution stage, and a
//! fills ring back to the kernel. Stages are pollable state machines; a [`Topology`] decides which
//! thread runs which stages (and on which core), so the same code runs single-threaded
//! (deterministic replays and tests) or on pinned threads.
//!
//! Back-pressure: with [`Backpressure::Block`] (replays) the feed waits for room and nothing is
//! dropped; with [`Backpressure::Conflate`] (live) a best-bid/offer event that finds the ring full
//! replaces the pending one of its instrument (counted as conflated); every other event kind still
//! waits. Orders and fills are never dropped: a full ring keeps them queued in the stage.
//!
//! Rings: `rtrb` by default; [`run_kernel_on`] takes any [`Ring`] (crossbeam's `ArrayQueue` for
//! comparison), monomorphized, so the choice costs nothing per push.
//!
//! Determinism: with `exec_sync` (the simulated-execution clock of replays) the kernel takes no new
//! market event while an order of its own awaits its execution report, exactly as if the paper
//! venue answered in zero event time. With `Block` back-pressure the orders then depend only on the
//! input, whatever the topology.

mod stage;
mod thread;

use std::sync::atomic::AtomicBool;

use crossbeam_utils::CachePadded;
use feeds::{FeedAdapter, FeedStats, MarketEvent};

use crate::clock::Clock;
use crate::exec::ExecutionAdapter;
use crate::kernel::{Kernel, KernelStats, PaperAdapter};
use crate::latency::HopHistograms;
use crate::order::{Fill, Order};
use crate::probe;
use crate::ring::{Ring, Rtrb};
use crate::sizer::Sizer;
use crate::source::FrameSource;
use crate::topology::{available_cores, Topology};
use stage::{ExecStage, FeedStage, KernelStage, Shared};

/// The kernel stage's logic: what the pipeline's kernel thread runs between the event ring, the
/// order ring and the fills ring. Implemented by the single-instrument-set [`Kernel`] and by the
/// options engine's `OptionsKernel` (the `options` crate); [`run_kernel`] drives any of them.
///
/// Hot path (`on_event`, `on_fill`, `outstanding`): no allocation, no lock, no I/O.
pub trait KernelLogic: Send {
    /// Processes one market event; calls `emit` with each order it decides (zero or more).
    /// `t_ingest` is the raw clock reading of the frame's ingestion (carried into orders).
    fn on_event(&mut self, ev: &MarketEvent, t_ingest: u64, emit: &mut impl FnMut(Order));

    /// Applies one execution report.
    fn on_fill(&mut self, f: &Fill);

    /// Orders emitted and not yet reported. With [`PipelineConfig::exec_sync`] the stage takes no
    /// market event while this is above 0, which is what keeps replays topology-independent.
    fn outstanding(&self) -> u32;

    /// Counters so far.
    fn stats(&self) -> KernelStats;

    /// Final state of every instrument the kernel holds (after the run; may allocate).
    fn instrument_results(&self) -> Vec<InstrumentResult>;

    /// Most orders one event can produce: the stage sizes the queue of orders waiting for room
    /// on the order ring to it at start-up, so a full ring never makes it grow.
    fn max_orders_per_event(&self) -> usize {
        1
    }
}

impl<Z: Sizer> KernelLogic for Kernel<Z> {
    fn on_event(&mut self, ev: &MarketEvent, t_ingest: u64, emit: &mut impl FnMut(Order)) {
        Kernel::on_event(self, ev, t_ingest, emit);
    }

    fn on_fill(&mut self, f: &Fill) {
        Kernel::on_fill(self, f);
    }

    fn outstanding(&self) -> u32 {
        Kernel::outstanding(self)
    }

    fn stats(&self) -> KernelStats {
        Kernel::stats(self)
    }

    fn instrument_results(&self) -> Vec<InstrumentResult> {
        self.instruments()
            .iter()
            .map(|i| InstrumentResult {
                id: i.id,
                position: self.position(i.id),
                pnl: self.pnl(i.id),
                last_mid_px: self.last_mid(i.id),
            })
            .collect()
    }
}

/// What the feed does when the kernel falls behind. Configured as `block` or `conflate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Backpressure {
    /// Wait for room; lose nothing (replays, deterministic runs).
    Block,
    /// Replace a pending best-bid/offer of the same instrument (counted); other events wait.
    Conflate,
}

/// Pace of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the pipeline goes.
    Max,
    /// Receive-time gaps divided by this factor (1.0 = real time).
    Factor(f64),
}

/// How an idle thread waits. Configured as `spin`, `spin-yield` or `spin-park`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    /// Spin with `pause` (only for a thread alone on its core).
    Spin,
    /// Spin briefly, then yield the core.
    SpinYield,
    /// Spin, yield, then sleep 50 µs at a time (lowest CPU use).
    SpinPark,
}

/// Pipeline configuration.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Stage placement.
    pub topology: Topology,
    /// Slots of the feed→kernel ring.
    pub event_ring: usize,
    /// Slots of the kernel→execution and fills rings.
    pub order_ring: usize,
    /// Feed behaviour when the event ring is full.
    pub backpressure: Backpressure,
    /// Replay pace.
    pub speed: Speed,
    /// Simulated-execution clock: no new market event while an order awaits its report.
    pub exec_sync: bool,
    /// Idle wait; `None` picks `Spin` when every thread has a core to itself, else `SpinYield`.
    pub wait: Option<Wait>,
    /// Events after which a stage marks its thread steady ([`probe::STEADY`]).
    pub warmup_events: u64,
    /// Largest instrument id + 1 the conflation table holds.
    pub max_instruments: usize,
    /// Interval histograms of the coordinated-omission-corrected tick-to-decision latency (for
    /// HdrHistogram interval logs), allocated at start-up; `None` records none.
    pub intervals: Option<IntervalSpec>,
}

/// Interval histograms to keep: one per `interval_ns` of intended send time, `slots` of them (later
/// samples land in the last slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalSpec {
    /// Length of one interval, ns of intended (schedule) time.
    pub interval_ns: u64,
    /// Number of intervals allocated at start-up.
    pub slots: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            topology: Topology::single(),
            event_ring: 4096,
            order_ring: 1024,
            backpressure: Backpressure::Block,
            speed: Speed::Max,
            exec_sync: true,
            wait: None,
            warmup_events: 1000,
            max_instruments: 1024,
            intervals: None,
        }
    }
}

/// An event on the feed→kernel ring with its timestamps (raw clock readings).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    /// The event.
    pub ev: MarketEvent,
    /// When its frame was ingested.
    pub t_ingest: u64,
    /// When it was pushed on the ring.
    pub t_push: u64,
    /// Under a paced replay ([`Speed::Factor`]): ns by which the frame's ingestion trailed its
    /// intended send time (start + scheduled offset); 0 when unpaced. Adding it to a latency
    /// measured from `t_ingest` gives the latency from the intended send time, which is what corrects
    /// for coordinated omission.
    pub ingest_lag_ns: u64,
    /// Under a paced replay: the frame's intended send time, ns after the first frame; 0 when unpaced.
    pub due_ns: u64,
}

const _: () = assert!(std::mem::size_of::<Envelope>() == 128);

/// Counters of the feed stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeedStageStats {
    /// Frames read from the source.
    pub frames: u64,
    /// Frames the parser rejected (counted and skipped).
    pub rejected: u64,
    /// Malformed source lines (counted and skipped by the source).
    pub malformed_lines: u64,
    /// Events pushed to the kernel.
    pub events: u64,
    /// Best-bid/offer events replaced by a newer one under conflation.
    pub conflated: u64,
    /// Adapter counters (diffs, gaps, resyncs...).
    pub adapter: FeedStats,
}

/// Everything a run produced (`A`: the execution adapter, handed back with its counters).
#[derive(Debug)]
pub struct RunReport<A = PaperAdapter> {
    /// Topology actually used.
    pub topology: Topology,
    /// Warnings raised while fitting the topology or pinning.
    pub warnings: Vec<String>,
    /// Feed counters.
    pub feed: FeedStageStats,
    /// Kernel counters.
    pub kernel: KernelStats,
    /// The execution adapter (paper by default) with its counters.
    pub adapter: A,
    /// Every order, in order.
    pub orders: Vec<Order>,
    /// Every execution report, in order.
    pub fills: Vec<Fill>,
    /// Merged latency histograms.
    pub latency: HopHistograms,
    /// Corrected tick-to-decision histograms per interval of intended time (empty unless
    /// [`PipelineConfig::intervals`] asked for them; only paced runs record into them).
    pub intervals: Vec<hdrhistogram::Histogram<u64>>,
    /// Wall time of the run, ns.
    pub elapsed_ns: u64,
    /// An unrecoverable source error, if the run ended on one.
    pub source_error: Option<String>,
    /// Final state of every instrument the kernel held.
    pub instruments: Vec<InstrumentResult>,
}

/// Final state of one instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstrumentResult {
    /// The instrument.
    pub id: feeds::InstrumentId,
    /// Filled position, quantity mantissa.
    pub position: i64,
    /// Mark-to-mid PnL in quote units.
    pub pnl: f64,
    /// Last mid price seen by the kernel.
    pub last_mid_px: Option<f64>,
}

/// Runs `source` through feed → kernel → paper execution under `cfg` until the source ends and every
/// order has its report.
///
/// # Panics
/// Only if a stage thread panicked (a bug; nothing from outside can cause one).
pub fn run<S: FrameSource, F: FeedAdapter, Z: Sizer>(
    cfg: &PipelineConfig,
    source: S,
    feed: F,
    kernel: Kernel<Z>,
    clock: &Clock,
) -> RunReport {
    run_with(cfg, source, feed, kernel, PaperAdapter::default(), clock)
}

/// [`run`] with any execution adapter (a venue adapter, a [`crate::risk_gate::Gated`] one): the
/// run ends when the source ends and every order has its final report.
///
/// # Panics
/// Only if a stage thread panicked (a bug; nothing from outside can cause one).
pub fn run_with<S: FrameSource, F: FeedAdapter, Z: Sizer, A: ExecutionAdapter>(
    cfg: &PipelineConfig,
    source: S,
    feed: F,
    kernel: Kernel<Z>,
    adapter: A,
    clock: &Clock,
) -> RunReport<A> {
    run_kernel(cfg, source, feed, kernel, adapter, clock).0
}

/// [`run_with`] for any kernel logic (the `options` crate's `OptionsKernel`, or a [`Kernel`]): the report, and the kernel handed
/// back with its final state (positions, the options engines, recorded orders and decisions).
///
/// # Panics
/// Only if a stage thread panicked (a bug; nothing from outside can cause one).
pub fn run_kernel<S: FrameSource, F: FeedAdapter, K: KernelLogic, A: ExecutionAdapter>(
    cfg: &PipelineConfig,
    source: S,
    feed: F,
    kernel: K,
    adapter: A,
    clock: &Clock,
) -> (RunReport<A>, K) {
    run_kernel_on::<Rtrb, S, F, K, A>(cfg, source, feed, kernel, adapter, clock)
}

/// [`run_kernel`] on the ring `R` ([`crate::ring::Rtrb`], [`crate::ring::Crossbeam`]) for all
/// three rings (events, orders, fills).
///
/// # Panics
/// Only if a stage thread panicked (a bug; nothing from outside can cause one).
pub fn run_kernel_on<
    R: Ring,
    S: FrameSource,
    F: FeedAdapter,
    K: KernelLogic,
    A: ExecutionAdapter,
>(
    cfg: &PipelineConfig,
    source: S,
    feed: F,
    kernel: K,
    adapter: A,
    clock: &Clock,
) -> (RunReport<A>, K) {
    let cores = available_cores();
    let (topology, mut warnings) = cfg.topology.fit(&cores);
    let wait = cfg.wait.unwrap_or(if topology.dedicated_cores(&cores) {
        Wait::Spin
    } else {
        Wait::SpinYield
    });
    let (ev_tx, ev_rx) = R::with_capacity::<Envelope>(cfg.event_ring.max(2));
    let (ord_tx, ord_rx) = R::with_capacity::<Order>(cfg.order_ring.max(2));
    let (fill_tx, fill_rx) = R::with_capacity::<Fill>(cfg.order_ring.max(2));
    let mut feed_st = FeedStage::<'_, S, F, R>::new(cfg, source, feed, ev_tx, clock);
    let mut kernel_st = KernelStage::<'_, K, R>::new(cfg, kernel, ev_rx, ord_tx, fill_rx, clock);
    let mut exec_st = ExecStage::<'_, A, R>::new(cfg, adapter, ord_rx, fill_tx, clock);
    let sh = Shared {
        feed_done: CachePadded::new(AtomicBool::new(false)),
        kernel_done: CachePadded::new(AtomicBool::new(false)),
    };
    let t0 = std::time::Instant::now();
    warnings.extend(thread::run_stages(
        &topology,
        &mut feed_st,
        &mut kernel_st,
        &mut exec_st,
        &sh,
        wait,
    ));
    let elapsed_ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let mut latency = feed_st.hist;
    latency.merge(&kernel_st.hist);
    latency.merge(&exec_st.hist);
    let instruments = kernel_st.kernel.instrument_results();
    let report = RunReport {
        intervals: kernel_st.intervals,
        instruments,
        topology,
        warnings,
        feed: feed_st.stats,
        kernel: kernel_st.kernel.stats(),
        adapter: exec_st.adapter,
        orders: exec_st.orders,
        fills: exec_st.fills,
        latency,
        elapsed_ns,
        source_error: feed_st.error,
    };
    (report, kernel_st.kernel)
}
