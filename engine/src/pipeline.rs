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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use feeds::{EventKind, FeedAdapter, FeedStats, MarketEvent};

use crate::clock::Clock;
use crate::exec::ExecutionAdapter;
use crate::kernel::{Kernel, KernelStats, PaperAdapter};
use crate::latency::{Hop, HopHistograms};
use crate::order::{Fill, Order};
use crate::probe;
use crate::ring::{Ring, RingRx, RingTx, Rtrb};
use crate::sizer::Sizer;
use crate::source::FrameSource;
use crate::topology::{available_cores, Stage, Topology};

/// The kernel stage's logic: what the pipeline's kernel thread runs between the event ring, the
/// order ring and the fills ring. Implemented by the single-instrument-set [`Kernel`] and by the
/// options engine's [`crate::options::kernel::OptionsKernel`]; [`run_kernel`] drives any of them.
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

struct Shared {
    /// Set by the feed after its last push (Release); read by the kernel before its emptiness check
    /// (Acquire) so the final events are seen.
    feed_done: CachePadded<AtomicBool>,
    /// Set by the kernel once it has processed everything and has no order outstanding (Release);
    /// read by the execution stage (Acquire) before its emptiness check.
    kernel_done: CachePadded<AtomicBool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Busy,
    Idle,
    Done,
}

struct FeedStage<'c, S, F, R: Ring> {
    source: S,
    feed: F,
    tx: R::Tx<Envelope>,
    clock: &'c Clock,
    hist: HopHistograms,
    staged: Vec<MarketEvent>,
    staged_pos: usize,
    staged_ingest: u64,
    staged_lag_ns: u64,
    staged_due_ns: u64,
    pending_bbo: Vec<Option<Envelope>>,
    pending_count: usize,
    backpressure: Backpressure,
    speed: Speed,
    start: Option<(u64, u64)>,
    stats: FeedStageStats,
    warmup: u64,
    done: bool,
    error: Option<String>,
}

impl<S: FrameSource, F: FeedAdapter, R: Ring> FeedStage<'_, S, F, R> {
    fn push_one(&mut self, ev: MarketEvent, t_ingest: u64) -> bool {
        let env = Envelope {
            ev,
            t_ingest,
            t_push: self.clock.raw(),
            ingest_lag_ns: self.staged_lag_ns,
            due_ns: self.staged_due_ns,
        };
        match self.tx.push(env) {
            Ok(()) => {
                self.stats.events += 1;
                true
            }
            Err(env) => {
                let slot = ev.instrument.0 as usize;
                if self.backpressure == Backpressure::Conflate
                    && ev.kind == EventKind::Bbo
                    && slot < self.pending_bbo.len()
                {
                    if self.pending_bbo[slot].replace(env).is_some() {
                        self.stats.conflated += 1;
                    } else {
                        self.pending_count += 1;
                    }
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Pushes conflated BBOs; true when none is left.
    fn flush_pending(&mut self) -> bool {
        if self.pending_count == 0 {
            return true;
        }
        for i in 0..self.pending_bbo.len() {
            if let Some(env) = self.pending_bbo[i] {
                let env = Envelope {
                    t_push: self.clock.raw(),
                    ..env
                };
                if self.tx.push(env).is_err() {
                    return false;
                }
                self.stats.events += 1;
                self.pending_bbo[i] = None;
                self.pending_count -= 1;
            }
        }
        true
    }

    /// Pushes staged events; true when all went.
    fn flush_staged(&mut self) -> bool {
        while self.staged_pos < self.staged.len() {
            let ev = self.staged[self.staged_pos];
            if ev.kind != EventKind::Bbo && !self.flush_pending() {
                return false;
            }
            if !self.push_one(ev, self.staged_ingest) {
                return false;
            }
            self.staged_pos += 1;
        }
        self.staged.clear();
        self.staged_pos = 0;
        true
    }

    fn poll(&mut self, sh: &Shared) -> Progress {
        if self.done {
            return Progress::Done;
        }
        if !self.flush_staged() {
            return Progress::Idle;
        }
        let Self {
            source,
            feed,
            staged,
            stats,
            clock,
            start,
            speed,
            hist,
            error,
            ..
        } = self;
        let mut paced = (0, 0);
        let t_ingest = match source.next_frame() {
            // A live source with nothing ready yet hands an empty frame: idle, not the end.
            Ok(Some((_, []))) => return Progress::Idle,
            Ok(Some((recv_ns, frame))) => {
                paced = pace(clock, start, *speed, recv_ns);
                let t_ingest = clock.raw();
                stats.frames += 1;
                if !feed.on_frame(recv_ns, frame, &mut |ev| staged.push(ev)) {
                    stats.rejected += 1;
                }
                hist.record(Hop::Parse, clock.delta_ns(t_ingest, clock.raw()));
                Some(t_ingest)
            }
            Ok(None) => None,
            Err(e) => {
                *error = Some(e.to_string());
                None
            }
        };
        let Some(t_ingest) = t_ingest else {
            if !self.flush_pending() {
                return Progress::Idle;
            }
            self.stats.malformed_lines = self.source.malformed();
            self.stats.adapter = self.feed.stats();
            self.done = true;
            // Release: pairs with the kernel's Acquire load in `KernelStage::poll`; every event pushed
            // above is visible once `feed_done` is.
            sh.feed_done.store(true, Ordering::Release);
            return Progress::Done;
        };
        self.staged_ingest = t_ingest;
        (self.staged_due_ns, self.staged_lag_ns) = paced;
        if self.stats.frames == self.warmup {
            probe::set_steady();
        }
        self.flush_staged();
        Progress::Busy
    }
}

/// Waits until the frame received at `recv_ns` is due under `speed` (relative to the first frame).
/// Returns the frame's intended send time (ns after the first frame's) and how late, ns, the wait
/// ended after it (`(0, 0)` when unpaced).
fn pace(clock: &Clock, start: &mut Option<(u64, u64)>, speed: Speed, recv_ns: u64) -> (u64, u64) {
    let Speed::Factor(f) = speed else {
        return (0, 0);
    };
    let now = clock.raw();
    let (t0, r0) = *start.get_or_insert((now, recv_ns));
    let due_ns = (recv_ns.saturating_sub(r0) as f64 / f) as u64;
    loop {
        let el = clock.delta_ns(t0, clock.raw());
        if el >= due_ns {
            return (due_ns, el - due_ns);
        }
        let left = due_ns - el;
        if left > 2_000_000 {
            std::thread::sleep(Duration::from_nanos(left - 1_000_000));
        } else {
            std::hint::spin_loop();
        }
    }
}

struct KernelStage<'c, K, R: Ring> {
    kernel: K,
    rx: R::Rx<Envelope>,
    orders_tx: R::Tx<Order>,
    fills_rx: R::Rx<Fill>,
    pending_orders: VecDeque<Order>,
    clock: &'c Clock,
    hist: HopHistograms,
    intervals: Vec<hdrhistogram::Histogram<u64>>,
    interval_ns: u64,
    paced: bool,
    exec_sync: bool,
    warmup: u64,
    seen: u64,
    done: bool,
}

impl<K: KernelLogic, R: Ring> KernelStage<'_, K, R> {
    fn flush_orders(&mut self) {
        while let Some(o) = self.pending_orders.front() {
            if self.orders_tx.push(*o).is_err() {
                return;
            }
            self.pending_orders.pop_front();
        }
    }

    fn poll(&mut self, sh: &Shared) -> Progress {
        if self.done {
            return Progress::Done;
        }
        let mut progress = false;
        self.flush_orders();
        while let Some(f) = self.fills_rx.pop() {
            self.hist.record(
                Hop::FillToKernel,
                self.clock.delta_ns(f.t_report, self.clock.raw()),
            );
            self.kernel.on_fill(&f);
            progress = true;
        }
        if self.pending_orders.is_empty() {
            for _ in 0..64 {
                if self.exec_sync && self.kernel.outstanding() > 0 {
                    break;
                }
                let Some(env) = self.rx.pop() else { break };
                let t_pop = self.clock.raw();
                self.hist
                    .record(Hop::FeedToKernel, self.clock.delta_ns(env.t_push, t_pop));
                let Self {
                    kernel,
                    orders_tx,
                    pending_orders,
                    clock,
                    ..
                } = self;
                kernel.on_event(&env.ev, env.t_ingest, &mut |mut o| {
                    o.t_push = clock.raw();
                    o.ingest_lag_ns = env.ingest_lag_ns;
                    if let Err(o) = orders_tx.push(o) {
                        pending_orders.push_back(o);
                    }
                });
                let t_done = self.clock.raw();
                self.hist
                    .record(Hop::Kernel, self.clock.delta_ns(t_pop, t_done));
                let decision_ns = self.clock.delta_ns(env.t_ingest, t_done);
                self.hist.record(Hop::TickToDecision, decision_ns);
                if self.paced {
                    let corrected_ns = decision_ns.saturating_add(env.ingest_lag_ns);
                    self.hist.record(Hop::TickToDecisionCorrected, corrected_ns);
                    if let Some(last) = self.intervals.len().checked_sub(1) {
                        let slot = usize::try_from(env.due_ns / self.interval_ns)
                            .unwrap_or(usize::MAX)
                            .min(last);
                        self.intervals[slot].saturating_record(corrected_ns.max(1));
                    }
                }
                self.seen += 1;
                if self.seen == self.warmup {
                    probe::set_steady();
                }
                progress = true;
            }
        }
        if progress {
            return Progress::Busy;
        }
        // Acquire: pairs with the feed's Release store; after it, an empty ring means all events
        // were consumed.
        let feed_done = sh.feed_done.load(Ordering::Acquire);
        if feed_done
            && self.rx.is_empty()
            && self.kernel.outstanding() == 0
            && self.pending_orders.is_empty()
        {
            self.done = true;
            // Release: pairs with the execution stage's Acquire load; every order pushed is visible.
            sh.kernel_done.store(true, Ordering::Release);
            return Progress::Done;
        }
        Progress::Idle
    }
}

struct ExecStage<'c, A, R: Ring> {
    adapter: A,
    rx: R::Rx<Order>,
    fills_tx: R::Tx<Fill>,
    pending_fills: VecDeque<Fill>,
    clock: &'c Clock,
    hist: HopHistograms,
    paced: bool,
    orders: Vec<Order>,
    fills: Vec<Fill>,
    done: bool,
}

impl<A: ExecutionAdapter, R: Ring> ExecStage<'_, A, R> {
    fn poll(&mut self, sh: &Shared) -> Progress {
        if self.done {
            return Progress::Done;
        }
        let mut progress = false;
        while let Some(f) = self.pending_fills.front() {
            if self.fills_tx.push(*f).is_err() {
                break;
            }
            self.pending_fills.pop_front();
            progress = true;
        }
        while let Some(o) = self.rx.pop() {
            let t = self.clock.raw();
            self.hist
                .record(Hop::KernelToExec, self.clock.delta_ns(o.t_push, t));
            let tick_to_order_ns = self.clock.delta_ns(o.t_ingest, t);
            self.hist.record(Hop::TickToOrder, tick_to_order_ns);
            if self.paced {
                self.hist.record(
                    Hop::TickToOrderCorrected,
                    tick_to_order_ns.saturating_add(o.ingest_lag_ns),
                );
            }
            self.orders.push(o);
            let Self {
                adapter,
                fills,
                fills_tx,
                pending_fills,
                clock,
                ..
            } = self;
            adapter.submit(&o, clock, &mut |fill| {
                fills.push(fill);
                if let Err(f) = fills_tx.push(fill) {
                    pending_fills.push_back(f);
                }
            });
            progress = true;
        }
        let Self {
            adapter,
            fills,
            fills_tx,
            pending_fills,
            clock,
            ..
        } = self;
        progress |= adapter.poll(clock, &mut |fill| {
            fills.push(fill);
            if let Err(f) = fills_tx.push(fill) {
                pending_fills.push_back(f);
            }
        });
        if progress {
            return Progress::Busy;
        }
        // Acquire: pairs with the kernel's Release store of `kernel_done`.
        if sh.kernel_done.load(Ordering::Acquire)
            && self.rx.is_empty()
            && self.pending_fills.is_empty()
            && self.adapter.in_flight() == 0
        {
            self.done = true;
            return Progress::Done;
        }
        Progress::Idle
    }
}

/// The stages one thread runs, with its core.
type StageGroup<'a, 'c, S, F, K, A, R> = (Option<usize>, Vec<StageRef<'a, 'c, S, F, K, A, R>>);

enum StageRef<'a, 'c, S, F, K, A, R: Ring> {
    Feed(&'a mut FeedStage<'c, S, F, R>),
    Kernel(&'a mut KernelStage<'c, K, R>),
    Exec(&'a mut ExecStage<'c, A, R>),
}

impl<S: FrameSource, F: FeedAdapter, K: KernelLogic, A: ExecutionAdapter, R: Ring>
    StageRef<'_, '_, S, F, K, A, R>
{
    fn poll(&mut self, sh: &Shared) -> Progress {
        match self {
            Self::Feed(s) => s.poll(sh),
            Self::Kernel(s) => s.poll(sh),
            Self::Exec(s) => s.poll(sh),
        }
    }

    fn bit(&self) -> u8 {
        match self {
            Self::Feed(_) => probe::FEED,
            Self::Kernel(_) => probe::KERNEL,
            Self::Exec(_) => probe::EXEC,
        }
    }
}

fn run_thread<S: FrameSource, F: FeedAdapter, K: KernelLogic, A: ExecutionAdapter, R: Ring>(
    stages: &mut [StageRef<'_, '_, S, F, K, A, R>],
    sh: &Shared,
    wait: Wait,
) {
    // The tag is the thread's for the run only: the single-threaded mode runs on the caller's
    // thread, which goes on to build the report (allocating, off the hot path).
    let outer = probe::current();
    probe::set(stages.iter().fold(0, |b, s| b | s.bit()));
    let mut idle: u32 = 0;
    loop {
        let mut all_done = true;
        let mut busy = false;
        for s in stages.iter_mut() {
            match s.poll(sh) {
                Progress::Busy => {
                    busy = true;
                    all_done = false;
                }
                Progress::Idle => all_done = false,
                Progress::Done => {}
            }
        }
        if all_done {
            probe::set(outer);
            return;
        }
        if busy {
            idle = 0;
            continue;
        }
        idle = idle.saturating_add(1);
        match wait {
            Wait::Spin => std::hint::spin_loop(),
            Wait::SpinYield | Wait::SpinPark if idle < 64 => std::hint::spin_loop(),
            Wait::SpinYield => std::thread::yield_now(),
            Wait::SpinPark if idle < 256 => std::thread::yield_now(),
            Wait::SpinPark => std::thread::sleep(Duration::from_micros(50)),
        }
    }
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

/// [`run_with`] for any kernel logic (the options engine's
/// [`crate::options::kernel::OptionsKernel`], or a [`Kernel`]): the report, and the kernel handed
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
    let paced = matches!(cfg.speed, Speed::Factor(_));
    let (ev_tx, ev_rx) = R::with_capacity::<Envelope>(cfg.event_ring.max(2));
    let (ord_tx, ord_rx) = R::with_capacity::<Order>(cfg.order_ring.max(2));
    let (fill_tx, fill_rx) = R::with_capacity::<Fill>(cfg.order_ring.max(2));
    let mut feed_st = FeedStage::<'_, S, F, R> {
        source,
        feed,
        tx: ev_tx,
        clock,
        hist: HopHistograms::new(),
        staged: Vec::with_capacity(4096),
        staged_pos: 0,
        staged_ingest: 0,
        staged_lag_ns: 0,
        staged_due_ns: 0,
        pending_bbo: vec![None; cfg.max_instruments],
        pending_count: 0,
        backpressure: cfg.backpressure,
        speed: cfg.speed,
        start: None,
        stats: FeedStageStats::default(),
        warmup: cfg.warmup_events,
        done: false,
        error: None,
    };
    let max_orders = kernel.max_orders_per_event();
    let mut kernel_st = KernelStage::<'_, K, R> {
        kernel,
        rx: ev_rx,
        orders_tx: ord_tx,
        fills_rx: fill_rx,
        pending_orders: VecDeque::with_capacity(1024.max(max_orders)),
        clock,
        hist: HopHistograms::new(),
        intervals: cfg.intervals.map_or_else(Vec::new, |iv| {
            (0..iv.slots)
                .map(|_| crate::latency::new_histogram())
                .collect()
        }),
        interval_ns: cfg.intervals.map_or(1, |iv| iv.interval_ns.max(1)),
        paced,
        exec_sync: cfg.exec_sync,
        warmup: cfg.warmup_events,
        seen: 0,
        done: false,
    };
    let mut exec_st = ExecStage::<'_, A, R> {
        adapter,
        rx: ord_rx,
        fills_tx: fill_tx,
        pending_fills: VecDeque::with_capacity(1024),
        clock,
        hist: HopHistograms::new(),
        paced,
        orders: Vec::with_capacity(1 << 16),
        fills: Vec::with_capacity(1 << 16),
        done: false,
    };
    let sh = Shared {
        feed_done: CachePadded::new(AtomicBool::new(false)),
        kernel_done: CachePadded::new(AtomicBool::new(false)),
    };
    let t0 = std::time::Instant::now();
    {
        let mut feed_ref = Some(StageRef::Feed(&mut feed_st));
        let mut kernel_ref = Some(StageRef::Kernel(&mut kernel_st));
        let mut exec_ref = Some(StageRef::Exec(&mut exec_st));
        let mut groups: Vec<StageGroup<'_, '_, S, F, K, A, R>> = Vec::new();
        for t in &topology.threads {
            let stages = t
                .stages
                .iter()
                .filter_map(|s| match s {
                    Stage::Feed => feed_ref.take(),
                    Stage::Kernel => kernel_ref.take(),
                    Stage::Exec => exec_ref.take(),
                })
                .collect();
            groups.push((t.core, stages));
        }
        if topology.single {
            for (_, stages) in &mut groups {
                run_thread(stages, &sh, wait);
            }
        } else {
            let pin_failures = std::thread::scope(|scope| {
                let handles: Vec<_> = groups
                    .into_iter()
                    .map(|(core, mut stages)| {
                        let sh = &sh;
                        let name = stages.iter().map(|s| match s {
                            StageRef::Feed(_) => "feed",
                            StageRef::Kernel(_) => "kernel",
                            StageRef::Exec(_) => "exec",
                        }).collect::<Vec<_>>().join("+");
                        std::thread::Builder::new()
                            .name(format!("ballast-{name}"))
                            .spawn_scoped(scope, move || {
                                let pinned = core.is_none_or(|id| core_affinity::set_for_current(core_affinity::CoreId { id }));
                                run_thread(&mut stages, sh, wait);
                                (!pinned).then(|| format!("could not pin the {name} thread to core {}; it ran unpinned", core.unwrap_or_default()))
                            })
                            .expect("spawning a pipeline thread")
                    })
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| h.join().expect("pipeline thread panicked"))
                    .collect::<Vec<_>>()
            });
            warnings.extend(pin_failures);
        }
    }
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
