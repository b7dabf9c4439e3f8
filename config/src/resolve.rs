//! [`Config::resolve`]: the file checked and turned into the engine's types.

use crate::error::{bad, ConfigError};
use crate::Config;
use engine::kernel::KernelConfig;
use engine::pipeline::PipelineConfig;
use engine::sizer::VolTargetConfig;
use feeds::Market;

/// A configuration checked and turned into the engine's types.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Pipeline settings.
    pub pipeline: PipelineConfig,
    /// Kernel order shaping.
    pub kernel: KernelConfig,
    /// The sizer's settings.
    pub sizing: VolTargetConfig,
    /// Sized symbol.
    pub symbol: String,
    /// Its market.
    pub market: Market,
    /// Its price scale.
    pub px_scale: u8,
    /// Its quantity scale.
    pub qty_scale: u8,
}

impl Config {
    /// Checks every value and builds the engine's settings.
    ///
    /// # Errors
    /// The first value out of range, named.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let pipeline = self.pipeline()?;
        let i = &self.instrument;
        let lots = i.lots()?;
        let sizing = self.sizing.resolve()?;
        Ok(Resolved {
            pipeline,
            kernel: KernelConfig {
                lot_qty: lots.lot,
                min_qty: lots.min_qty,
                cap_to_touch: self.sizing.cap_to_touch,
            },
            sizing,
            symbol: i.symbol.clone(),
            market: i.market,
            px_scale: i.px_scale,
            qty_scale: i.qty_scale,
        })
    }

    /// The top-level keys: topology, rings, backpressure, wait.
    ///
    /// # Errors
    /// A ring size out of range, naming the key.
    pub fn pipeline(&self) -> Result<PipelineConfig, ConfigError> {
        for (field, slots) in [
            ("event_ring", self.event_ring),
            ("order_ring", self.order_ring),
        ] {
            if !(2..=1 << 24).contains(&slots) {
                return Err(bad(field, slots, "expected 2 ..= 16777216"));
            }
        }
        Ok(PipelineConfig {
            topology: self.topology.clone(),
            event_ring: self.event_ring,
            order_ring: self.order_ring,
            backpressure: self.backpressure,
            wait: self.wait,
            ..PipelineConfig::default()
        })
    }
}
