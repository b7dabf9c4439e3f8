//! The three stages of the pipeline as pollable state machines: feed (source → parser → event
//! ring, with pacing and conflation), kernel (event ring → kernel logic → order ring, fills back)
//! and execution (order ring → adapter → fills ring). No allocation once built.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use feeds::{EventKind, FeedAdapter, MarketEvent};

use super::{probe, Backpressure, Envelope, FeedStageStats, KernelLogic, PipelineConfig, Speed};
use crate::clock::Clock;
use crate::exec::ExecutionAdapter;
use crate::latency::{Hop, HopHistograms};
use crate::order::{Fill, Order};
use crate::ring::{Ring, RingRx, RingTx};
use crate::source::FrameSource;

/// What the stages of a run share across threads.
pub(super) struct Shared {
    /// Set by the feed after its last push (Release); read by the kernel before its emptiness check
    /// (Acquire) so the final events are seen.
    pub(super) feed_done: CachePadded<AtomicBool>,
    /// Set by the kernel once it has processed everything and has no order outstanding (Release);
    /// read by the execution stage (Acquire) before its emptiness check.
    pub(super) kernel_done: CachePadded<AtomicBool>,
}

/// What one poll of a stage did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    Busy,
    Idle,
    Done,
}

/// The feed stage: frames from the source, parsed, pushed on the event ring.
pub(super) struct FeedStage<'c, S, F, R: Ring> {
    source: S,
    feed: F,
    tx: R::Tx<Envelope>,
    clock: &'c Clock,
    pub(super) hist: HopHistograms,
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
    pub(super) stats: FeedStageStats,
    warmup: u64,
    done: bool,
    pub(super) error: Option<String>,
}

impl<'c, S: FrameSource, F: FeedAdapter, R: Ring> FeedStage<'c, S, F, R> {
    /// The stage over `source` and `feed`, pushing on `tx` (start-up: allocates its buffers).
    pub(super) fn new(
        cfg: &PipelineConfig,
        source: S,
        feed: F,
        tx: R::Tx<Envelope>,
        clock: &'c Clock,
    ) -> Self {
        Self {
            source,
            feed,
            tx,
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
        }
    }

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

    pub(super) fn poll(&mut self, sh: &Shared) -> Progress {
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

/// The kernel stage: events from the ring into the kernel logic, its orders onto the order ring,
/// execution reports back into it.
pub(super) struct KernelStage<'c, K, R: Ring> {
    pub(super) kernel: K,
    rx: R::Rx<Envelope>,
    orders_tx: R::Tx<Order>,
    fills_rx: R::Rx<Fill>,
    pending_orders: VecDeque<Order>,
    clock: &'c Clock,
    pub(super) hist: HopHistograms,
    pub(super) intervals: Vec<hdrhistogram::Histogram<u64>>,
    interval_ns: u64,
    paced: bool,
    exec_sync: bool,
    warmup: u64,
    seen: u64,
    done: bool,
}

impl<'c, K: KernelLogic, R: Ring> KernelStage<'c, K, R> {
    /// The stage running `kernel` between the rings (start-up: allocates its queue and the
    /// interval histograms).
    pub(super) fn new(
        cfg: &PipelineConfig,
        kernel: K,
        rx: R::Rx<Envelope>,
        orders_tx: R::Tx<Order>,
        fills_rx: R::Rx<Fill>,
        clock: &'c Clock,
    ) -> Self {
        let max_orders = kernel.max_orders_per_event();
        Self {
            kernel,
            rx,
            orders_tx,
            fills_rx,
            pending_orders: VecDeque::with_capacity(1024.max(max_orders)),
            clock,
            hist: HopHistograms::new(),
            intervals: cfg.intervals.map_or_else(Vec::new, |iv| {
                (0..iv.slots)
                    .map(|_| crate::latency::new_histogram())
                    .collect()
            }),
            interval_ns: cfg.intervals.map_or(1, |iv| iv.interval_ns.max(1)),
            paced: matches!(cfg.speed, Speed::Factor(_)),
            exec_sync: cfg.exec_sync,
            warmup: cfg.warmup_events,
            seen: 0,
            done: false,
        }
    }

    fn flush_orders(&mut self) {
        while let Some(o) = self.pending_orders.front() {
            if self.orders_tx.push(*o).is_err() {
                return;
            }
            self.pending_orders.pop_front();
        }
    }

    pub(super) fn poll(&mut self, sh: &Shared) -> Progress {
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

/// The execution stage: orders into the adapter, its reports onto the fills ring.
pub(super) struct ExecStage<'c, A, R: Ring> {
    pub(super) adapter: A,
    rx: R::Rx<Order>,
    fills_tx: R::Tx<Fill>,
    pending_fills: VecDeque<Fill>,
    clock: &'c Clock,
    pub(super) hist: HopHistograms,
    paced: bool,
    pub(super) orders: Vec<Order>,
    pub(super) fills: Vec<Fill>,
    done: bool,
}

impl<'c, A: ExecutionAdapter, R: Ring> ExecStage<'c, A, R> {
    /// The stage submitting to `adapter` (start-up: allocates the order and fill records).
    pub(super) fn new(
        cfg: &PipelineConfig,
        adapter: A,
        rx: R::Rx<Order>,
        fills_tx: R::Tx<Fill>,
        clock: &'c Clock,
    ) -> Self {
        Self {
            adapter,
            rx,
            fills_tx,
            pending_fills: VecDeque::with_capacity(1024),
            clock,
            hist: HopHistograms::new(),
            paced: matches!(cfg.speed, Speed::Factor(_)),
            orders: Vec::with_capacity(1 << 16),
            fills: Vec::with_capacity(1 << 16),
            done: false,
        }
    }

    pub(super) fn poll(&mut self, sh: &Shared) -> Progress {
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
