//! Execution adapters: orders out to a venue, one final execution report ([`Fill`]) per order back
//! into the kernel.
//!
//! Every adapter implements [`ExecutionAdapter`]. The paper adapter ([`PaperAdapter`]) answers at
//! once and stays the default; the venue adapters (the `venues` crate's `BinanceExec` and
//! `DeribitExec`) speak the venues' own order protocols over a websocket and report
//! asynchronously from [`ExecutionAdapter::poll`]. The pre-trade risk gate
//! ([`crate::risk_gate::Gated`]) wraps any of them.
//!
//! Contract: every order handed to [`ExecutionAdapter::submit`] gets exactly one final report
//! (filled part, cancelled rest), whatever the venue does (lost or late acks are recovered by
//! querying the order's state). An order the adapter could not send is reported as wholly
//! cancelled.

use crate::clock::Clock;
use crate::kernel::PaperAdapter;
use crate::order::{Fill, Order};

/// Orders in flight per venue adapter that its maps and buffers hold without growing (reserved at
/// start-up, so the order and answer paths do not allocate); beyond it they grow once.
pub const INFLIGHT_CAPACITY: usize = 4096;

/// Orders out, final execution reports back.
pub trait ExecutionAdapter: Send {
    /// Sends `o`. Its final report goes to `report` now (synchronous adapters) or from a later
    /// [`ExecutionAdapter::poll`].
    fn submit(&mut self, o: &Order, clock: &Clock, report: &mut impl FnMut(Fill));

    /// Reads what the venue sent and pushes the final reports it completes. Returns whether
    /// anything happened (for the idle strategy).
    fn poll(&mut self, clock: &Clock, report: &mut impl FnMut(Fill)) -> bool {
        let _ = (clock, report);
        false
    }

    /// Orders sent whose final report is still to come.
    fn in_flight(&self) -> usize {
        0
    }

    /// Cancels every working order at the venue (kill switch). Reports still arrive through
    /// [`ExecutionAdapter::poll`].
    fn cancel_all(&mut self, clock: &Clock) {
        let _ = clock;
    }
}

impl ExecutionAdapter for PaperAdapter {
    fn submit(&mut self, o: &Order, clock: &Clock, report: &mut impl FnMut(Fill)) {
        report(PaperAdapter::submit(self, o, clock.raw()));
    }
}

/// A wholly cancelled report for `o` (nothing filled), stamped `t_report`.
#[must_use]
pub fn cancelled(o: &Order, t_report: u64) -> Fill {
    Fill {
        order_id: o.id,
        instrument: o.instrument,
        side: o.side,
        qty: 0,
        px: o.limit_px,
        cancelled_qty: o.qty,
        t_report,
    }
}
