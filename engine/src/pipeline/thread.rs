//! The threads of a run: which stages each polls (per the [`Topology`]), pinning, and how an idle
//! thread waits.

use std::time::Duration;

use feeds::FeedAdapter;

use super::stage::{ExecStage, FeedStage, KernelStage, Progress, Shared};
use super::{probe, KernelLogic, Wait};
use crate::exec::ExecutionAdapter;
use crate::ring::Ring;
use crate::source::FrameSource;
use crate::topology::{Stage, Topology};

/// The stages one thread runs, with its core.
type StageGroup<'a, 'c, S, F, K, A, R> = (Option<usize>, Vec<StageRef<'a, 'c, S, F, K, A, R>>);

/// One stage of a thread.
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

/// Runs the three stages on `topology`'s threads (on the caller's thread when it is single)
/// until all are done; returns a warning for each thread that could not be pinned.
///
/// # Panics
/// Only if a stage thread panicked (a bug; nothing from outside can cause one).
pub(super) fn run_stages<
    'c,
    S: FrameSource,
    F: FeedAdapter,
    K: KernelLogic,
    A: ExecutionAdapter,
    R: Ring,
>(
    topology: &Topology,
    feed_st: &mut FeedStage<'c, S, F, R>,
    kernel_st: &mut KernelStage<'c, K, R>,
    exec_st: &mut ExecStage<'c, A, R>,
    sh: &Shared,
    wait: Wait,
) -> Vec<String> {
    let mut feed_ref = Some(StageRef::Feed(feed_st));
    let mut kernel_ref = Some(StageRef::Kernel(kernel_st));
    let mut exec_ref = Some(StageRef::Exec(exec_st));
    let mut groups: Vec<StageGroup<'_, 'c, S, F, K, A, R>> = Vec::new();
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
            run_thread(stages, sh, wait);
        }
        return Vec::new();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|(core, mut stages)| {
                let name = stages
                    .iter()
                    .map(|s| match s {
                        StageRef::Feed(_) => "feed",
                        StageRef::Kernel(_) => "kernel",
                        StageRef::Exec(_) => "exec",
                    })
                    .collect::<Vec<_>>()
                    .join("+");
                std::thread::Builder::new()
                    .name(format!("ballast-{name}"))
                    .spawn_scoped(scope, move || {
                        let pinned = core.is_none_or(|id| {
                            core_affinity::set_for_current(core_affinity::CoreId { id })
                        });
                        run_thread(&mut stages, sh, wait);
                        (!pinned).then(|| {
                            format!(
                                "could not pin the {name} thread to core {}; it ran unpinned",
                                core.unwrap_or_default()
                            )
                        })
                    })
                    .expect("spawning a pipeline thread")
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("pipeline thread panicked"))
            .collect::<Vec<_>>()
    })
}
