//! What the live end-to-end tests share: a venue simulator on a synthetic market, a sizer that
//! trades often, and the check that the simulator's record and the engine's agree exactly.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::order::{Binding, Fill, Order, Reason};
use engine::pipeline::{Backpressure, PipelineConfig, Wait};
use engine::risk_gate::{InstrumentLimits, KillSwitch, RiskGate, RiskLimits};
use engine::sizer::{Sizer, Target, TickView};
use engine::topology::Topology;
use feeds::{Marks, Registry, Side};
use synth::SynthConfig;
use venue_sim::{Fault, SimConfig, SimHandle, SimRecord, SimSource, Venue};

/// The simulator tests' synthetic market: `steps` steps of 50 ms, ten levels a side.
#[must_use]
pub fn synth(steps: u32) -> SynthConfig {
    SynthConfig {
        steps,
        step_ms: 50,
        levels: 10,
        ..SynthConfig::default()
    }
}

/// Starts a simulator of `venue` on [`synth()`]`(steps)`, its configuration adjusted by `edit`
/// first.
///
/// # Panics
/// When the simulator does not start.
pub fn start_sim(venue: Venue, steps: u32, edit: impl FnOnce(&mut SimConfig)) -> SimHandle {
    let mut sc = SimConfig::new(venue, SimSource::Synthetic(synth(steps)));
    edit(&mut sc);
    venue_sim::start(sc).expect("sim")
}

/// The risk gate of the end-to-end tests: generous limits (quantity and position mantissas as
/// given), a 5 % price band around the venue's marks, no rate limit to speak of.
pub fn gate(reg: &Registry, marks: Marks, max_order_qty: i64, max_position: i64) -> RiskGate {
    RiskGate::new(
        reg.instruments(),
        RiskLimits {
            instruments: vec![Some(InstrumentLimits {
                max_order_qty,
                max_notional: 1e9,
                max_position,
            })],
            max_orders_per_sec: 1e6,
            burst: 1e6,
            price_band: Some(0.05),
        },
        marks,
        KillSwitch::new(),
    )
}

/// One thread for feed, kernel and execution, blocking backpressure, spin-then-park waits.
pub fn pipeline() -> PipelineConfig {
    PipelineConfig {
        topology: Topology::single(),
        exec_sync: false,
        backpressure: Backpressure::Block,
        wait: Some(Wait::SpinPark),
        ..PipelineConfig::default()
    }
}

/// The fault script both venues go through while the engine runs: a dropped connection, a
/// stall, malformed frames, a skipped sequence number, delayed then lost acks.
pub fn fault_script(sim: &SimHandle) {
    let ms = |n| std::thread::sleep(Duration::from_millis(n));
    ms(700);
    sim.inject(Fault::Disconnect);
    ms(500);
    sim.inject(Fault::Stall(Duration::from_millis(400)));
    ms(900);
    sim.inject(Fault::Malformed(3));
    ms(300);
    sim.inject(Fault::SkipSequence);
    ms(500);
    sim.inject(Fault::DelayAcks(Duration::from_millis(250)));
    ms(600);
    sim.inject(Fault::DelayAcks(Duration::ZERO));
    sim.inject(Fault::LoseAcks(2));
    ms(800);
}

/// Flips its target between +q and −q every `every` ticks; counts ticks it was handed from an
/// invalid book (must stay 0).
#[derive(Debug)]
pub struct FlipSizer {
    /// Ticks seen.
    pub ticks: u64,
    /// Ticks between flips.
    pub every: u64,
    /// Target size, base units.
    pub qty: f64,
    /// Ticks handed over from an invalid book.
    pub invalid_seen: Arc<std::sync::atomic::AtomicU64>,
}

impl Sizer for FlipSizer {
    fn on_tick(&mut self, v: &TickView<'_>) -> Option<Target> {
        if !v.event.book_valid() {
            self.invalid_seen.fetch_add(1, Ordering::Relaxed);
        }
        self.ticks += 1;
        if self.ticks % self.every != 0 {
            return None;
        }
        let sign = if (self.ticks / self.every) % 2 == 0 {
            1.0
        } else {
            -1.0
        };
        Some(Target {
            qty: sign * self.qty,
            reason: Reason::VolTarget,
            binding: Binding::Model,
            vol_forecast: 0.5,
        })
    }
}

/// Asserts exactly one final report per order and that every order the engine sent
/// (`sent_ids`) is at the venue with the same side, quantity, price and fills, and every order
/// it did not send is reported unfilled. Returns the position the venue's fills add up to.
pub fn assert_venue_agrees(
    orders: &[Order],
    fills: &[Fill],
    rec: &SimRecord,
    sent_ids: &[u64],
) -> i64 {
    // Exactly one final report per order.
    assert_eq!(orders.len(), fills.len());
    let mut ids: Vec<u64> = fills.iter().map(|f| f.order_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), fills.len(), "duplicate reports");

    // The sim's record and the engine's agree exactly.
    let sent: std::collections::HashSet<u64> = sent_ids.iter().copied().collect();
    assert_eq!(
        rec.orders.len(),
        sent.len(),
        "orders at the venue vs orders sent"
    );
    let mut venue_pos = 0i64;
    for o in orders {
        let f = fills.iter().find(|f| f.order_id == o.id).unwrap();
        let cid = format!("e2e-{}", o.id);
        match rec.orders.iter().find(|s| s.client_id == cid) {
            Some(s) => {
                assert!(sent.contains(&o.id));
                assert_eq!(
                    (s.qty, s.px, s.side),
                    (o.qty, o.limit_px, o.side),
                    "order {}",
                    o.id
                );
                assert_eq!(s.filled_qty, f.qty, "filled quantity of order {}", o.id);
                let venue_fills: i64 = rec
                    .fills
                    .iter()
                    .filter(|x| x.order_id == s.order_id)
                    .map(|x| x.qty)
                    .sum();
                assert_eq!(venue_fills, f.qty);
                venue_pos += if s.side == Side::Buy {
                    s.filled_qty
                } else {
                    -s.filled_qty
                };
            }
            None => {
                assert!(
                    !sent.contains(&o.id),
                    "order {} sent but unknown to the venue",
                    o.id
                );
                assert_eq!(f.qty, 0);
            }
        }
    }
    venue_pos
}
