//! A configured run: registry, Binance feed, vol-target sizer and kernel built from a
//! [`Resolved`] configuration and driven through the pipeline. What `ballast demo`, `ballast replay`,
//! the tests and the benches share.

use std::io::Write as _;

use feeds::{BinanceFeed, InstrumentId, Registry};

use crate::Resolved;
use engine::clock::Clock;
use engine::kernel::Kernel;
use engine::pipeline::{run, PipelineConfig, RunReport};
use engine::sizer::VolTargetSizer;
use engine::source::FrameSource;

/// The outcome of [`run_session`].
#[derive(Debug)]
pub struct Session {
    /// What the pipeline produced.
    pub report: RunReport,
    /// Instruments of the run.
    pub registry: Registry,
    /// The sized instrument.
    pub id: InstrumentId,
}

/// A sizer configuration the kernel cannot use.
#[derive(Debug, thiserror::Error)]
#[error("sizing configuration rejected (EWMA lambda outside (0, 1) or a zero sampling interval)")]
pub struct SessionError;

/// Runs `source` under `res`, with `pipeline` in place of `res.pipeline`.
///
/// # Errors
/// A sizing configuration the sizer rejects (already excluded by [`crate::Config::resolve`]).
pub fn run_session<S: FrameSource>(
    res: &Resolved,
    pipeline: &PipelineConfig,
    source: S,
    clock: &Clock,
) -> Result<Session, SessionError> {
    let mut registry = Registry::new();
    let id = registry.register(&res.symbol, res.market, res.px_scale, res.qty_scale);
    let mut feed = BinanceFeed::new(registry.clone());
    feed.set_snapshot_target(id);
    let sizer = VolTargetSizer::new(id, res.sizing).ok_or(SessionError)?;
    let kernel = Kernel::new(&registry, res.kernel, sizer);
    let report = run(pipeline, source, feed, kernel, clock);
    Ok(Session {
        report,
        registry,
        id,
    })
}

/// Writes every order of `report` with its execution report as CSV (header first). Depends only on
/// the input and configuration (no timestamps of the local clock), so two runs of the same replay
/// give the same bytes whatever the topology.
///
/// # Errors
/// The writer's I/O errors.
pub fn write_orders_csv(
    w: &mut impl std::io::Write,
    registry: &Registry,
    report: &RunReport,
) -> std::io::Result<()> {
    use feeds::decimal::write_decimal;
    writeln!(
        w,
        "order_id,recv_ns,symbol,side,qty,limit_px,touch_qty,reason,binding,target_qty,position_qty,working_qty,vol_forecast,fill_qty,fill_px,cancelled_qty"
    )?;
    let mut buf = Vec::with_capacity(256);
    let mut f64s = ryu::Buffer::new();
    for (ord, fill) in report.orders.iter().zip(&report.fills) {
        let Some(inst) = registry.get(ord.instrument) else {
            continue;
        };
        let (ps, qs) = (inst.px_scale, inst.qty_scale);
        buf.clear();
        write!(
            buf,
            "{},{},{},{},",
            ord.id,
            ord.recv_ns,
            inst.symbol,
            if ord.side == feeds::Side::Buy {
                "buy"
            } else {
                "sell"
            }
        )?;
        write_decimal(&mut buf, ord.qty, qs, qs);
        buf.push(b',');
        write_decimal(&mut buf, ord.limit_px, ps, ps);
        buf.push(b',');
        write_decimal(&mut buf, ord.touch_qty, qs, qs);
        write!(buf, ",{},{},", ord.reason.as_str(), ord.binding.as_str())?;
        for v in [
            ord.target_qty,
            ord.position_qty,
            ord.working_qty,
            ord.vol_forecast,
        ] {
            buf.extend_from_slice(f64s.format(v).as_bytes());
            buf.push(b',');
        }
        write_decimal(&mut buf, fill.qty, qs, qs);
        buf.push(b',');
        write_decimal(&mut buf, fill.px, ps, ps);
        buf.push(b',');
        write_decimal(&mut buf, fill.cancelled_qty, qs, qs);
        buf.push(b'\n');
        w.write_all(&buf)?;
    }
    Ok(())
}
