//! A seeded synthetic Deribit options market as raw websocket frames, for the options pipeline's
//! tests and benches: per underlying (BTC, ETH...) an inverse perpetual quoted by `ticker.*`
//! frames (the hedge), a chain of calls and puts over several expiries with one grouped book
//! snapshot each, and `ticker.*` frames carrying a volatility smile; a volatility shock part-way
//! through scales moves and implied volatilities. The frames go through the real
//! [`feeds::deribit::DeribitFeed`], so a replay measures parsing too. Deterministic: the same
//! [`OptionsMarketSpec`] gives the same frames, byte for byte.
//!
//! Start-up code (allocates).

use feeds::deribit::{instruments::parse_expiry, DeribitFeed, DERIBIT_SCALE};
use feeds::{InstrumentId, Market, Registry};
use risk_core::greeks_limits::HedgeTo;
use risk_core::margin::Contract;

use crate::kernel::{OptionsKernel, OptionsKernelError};
use crate::{HedgeSpec, OptionSpec, OptionsConfig, OptionsSink, VolSource};

/// Expiry codes of the chain, in order (all after [`START_NS`]).
const EXPIRIES: [&str; 8] = [
    "5JAN24", "12JAN24", "26JAN24", "23FEB24", "29MAR24", "28JUN24", "27SEP24", "27DEC24",
];

/// Receive time of the first frame: 2024-01-01 00:00 UTC.
pub const START_NS: u64 = 1_704_067_200_000_000_000;

/// One underlying of the market.
#[derive(Debug, Clone, PartialEq)]
pub struct UnderlyingSpec {
    /// Currency code (`BTC`): instruments are `BTC-PERPETUAL`, `BTC-26JAN24-48000-C`...
    pub currency: String,
    /// Starting price, USD.
    pub spot_px: f64,
    /// One perpetual contract, USD face (Deribit: BTC 10, ETH 1).
    pub hedge_lot_usd: f64,
    /// One option lot, coins.
    pub option_lot: f64,
}

/// Shape of the synthetic market.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionsMarketSpec {
    /// RNG seed (xorshift64*; 0 is replaced by a fixed odd constant).
    pub seed: u64,
    /// The underlyings.
    pub underlyings: Vec<UnderlyingSpec>,
    /// Options per underlying (calls and puts alternate over up to 8 expiries).
    pub options_per_underlying: usize,
    /// Ticks; each moves every underlying and sends one perpetual ticker per underlying.
    pub ticks: usize,
    /// Receive time between ticks, ns.
    pub tick_ns: u64,
    /// Option tickers after each tick (random options of a random underlying).
    pub tickers_per_tick: usize,
    /// Width of a tick's uniform relative move before the shock.
    pub step: f64,
    /// Share of `ticks` after which the shock starts, [0, 1].
    pub shock_at: f64,
    /// Multiplier of the move width after the shock (implied volatilities scale by its root).
    pub shock_mult: f64,
}

impl Default for OptionsMarketSpec {
    fn default() -> Self {
        Self {
            seed: 7,
            underlyings: vec![
                UnderlyingSpec {
                    currency: "BTC".into(),
                    spot_px: 42_000.0,
                    hedge_lot_usd: 10.0,
                    option_lot: 0.1,
                },
                UnderlyingSpec {
                    currency: "ETH".into(),
                    spot_px: 2_300.0,
                    hedge_lot_usd: 1.0,
                    option_lot: 1.0,
                },
            ],
            options_per_underlying: 48,
            ticks: 2_000,
            tick_ns: 250_000_000,
            tickers_per_tick: 1,
            step: 0.0008,
            shock_at: 0.5,
            shock_mult: 2.5,
        }
    }
}

/// The instruments of one underlying.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketUnderlying {
    /// The perpetual to hedge with.
    pub hedge: HedgeSpec,
    /// The option chain.
    pub chain: Vec<OptionSpec>,
    /// Starting price, USD.
    pub spot_px: f64,
    /// One option lot, coins.
    pub option_lot: f64,
}

/// A generated market: its registry (Deribit scale), instruments and frames.
#[derive(Debug, Clone)]
pub struct OptionsMarket {
    /// Every instrument, registered before any frame (perpetual, then its chain, per underlying).
    pub registry: Registry,
    /// Hedge and chain per underlying, in [`OptionsMarketSpec::underlyings`] order.
    pub underlyings: Vec<MarketUnderlying>,
    /// `(receive ns, raw Deribit frame)`, in receive order.
    pub frames: Vec<(u64, Vec<u8>)>,
}

/// xorshift64*: a fixed, seeded sequence in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Smile: mark implied volatility (fraction) at log-moneyness `m` under `shock` (≥ 1).
fn smile(m: f64, shock: f64) -> f64 {
    (0.55 + 0.8 * m * m - 0.1 * m) * shock.sqrt()
}

fn perp_frame(name: &str, recv_ns: u64, mid: f64, depth_usd: f64) -> Vec<u8> {
    let (bid, ask) = ((mid * 2.0).floor() / 2.0, (mid * 2.0).floor() / 2.0 + 0.5);
    format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"ticker.{name}.raw\",\"data\":{{\"instrument_name\":\"{name}\",\"timestamp\":{},\"best_bid_price\":{bid:.1},\"best_bid_amount\":{depth_usd:.0},\"best_ask_price\":{ask:.1},\"best_ask_amount\":{depth_usd:.0},\"mark_price\":{mid:.2}}}}}}}",
        recv_ns / 1_000_000
    )
    .into_bytes()
}

fn option_ticker_frame(name: &str, recv_ns: u64, spot: f64, mark_coin: f64, iv: f64) -> Vec<u8> {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"ticker.{name}.100ms\",\"data\":{{\"instrument_name\":\"{name}\",\"timestamp\":{},\"mark_price\":{mark_coin:.4},\"mark_iv\":{:.2},\"bid_iv\":{:.2},\"ask_iv\":{:.2},\"underlying_price\":{spot:.2}}}}}}}",
        recv_ns / 1_000_000,
        iv * 100.0,
        (iv - 0.02) * 100.0,
        (iv + 0.02) * 100.0
    )
    .into_bytes()
}

fn option_book_frame(name: &str, recv_ns: u64, mark_coin: f64, depth: f64) -> Vec<u8> {
    let bid = ((mark_coin - 0.0005) * 1e4).round().max(1.0) / 1e4;
    let ask = ((mark_coin + 0.0005) * 1e4).round() / 1e4 + 0.0005;
    format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"book.{name}.none.10.100ms\",\"data\":{{\"timestamp\":{},\"instrument_name\":\"{name}\",\"change_id\":1,\"bids\":[[{bid:.4},{depth:.1}]],\"asks\":[[{ask:.4},{depth:.1}]]}}}}}}",
        recv_ns / 1_000_000
    )
    .into_bytes()
}

/// A rough coin-denominated option mark: intrinsic plus time value, never below 0.0005.
fn mark_coin(spot: f64, strike: f64, is_call: bool, years: f64, iv: f64) -> f64 {
    let intrinsic = if is_call {
        (spot - strike).max(0.0)
    } else {
        (strike - spot).max(0.0)
    };
    let time = 0.4 * spot * iv * years.max(0.0).sqrt();
    ((intrinsic + time * (-(strike / spot).ln().powi(2) * 4.0).exp()) / spot).max(0.0005)
}

impl OptionsMarket {
    /// Generates the market of `spec`.
    #[must_use]
    pub fn generate(spec: &OptionsMarketSpec) -> Self {
        let mut rng = Rng(if spec.seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            spec.seed
        });
        let mut registry = Registry::new();
        let mut underlyings = Vec::with_capacity(spec.underlyings.len());
        let mut names: Vec<Vec<String>> = Vec::with_capacity(spec.underlyings.len());
        let expiries = EXPIRIES.len();
        let n = spec.options_per_underlying;
        let per_row = n.div_ceil(2 * expiries).max(1);
        for u in &spec.underlyings {
            let perp = format!("{}-PERPETUAL", u.currency);
            let hedge_id = registry.register(&perp, Market::Deribit, DERIBIT_SCALE, DERIBIT_SCALE);
            let step = (u.spot_px / per_row as f64).round().max(1.0);
            let low = (u.spot_px * 0.5 / step).round() * step;
            let mut chain = Vec::with_capacity(n);
            let mut chain_names = Vec::with_capacity(n);
            for k in 0..n {
                let e = k % expiries;
                let is_call = (k / expiries) % 2 == 0;
                let strike = low + step * (k / (2 * expiries)) as f64;
                let name = format!(
                    "{}-{}-{strike:.0}-{}",
                    u.currency,
                    EXPIRIES[e],
                    if is_call { 'C' } else { 'P' }
                );
                let id = registry.register(&name, Market::Deribit, DERIBIT_SCALE, DERIBIT_SCALE);
                chain.push(OptionSpec {
                    instrument: id,
                    strike,
                    expiry_ns: parse_expiry(EXPIRIES[e]).unwrap_or(START_NS),
                    is_call,
                    lot_qty: u.option_lot,
                    min_lots: 1,
                });
                chain_names.push(name);
            }
            underlyings.push(MarketUnderlying {
                hedge: HedgeSpec {
                    instrument: hedge_id,
                    contract: Contract::Inverse,
                    lot_qty: u.hedge_lot_usd,
                    min_lots: 1,
                },
                chain,
                spot_px: u.spot_px,
                option_lot: u.option_lot,
            });
            names.push(chain_names);
        }
        let mut frames = Vec::with_capacity(
            spec.underlyings.len() * (2 * n + spec.ticks) + spec.ticks * spec.tickers_per_tick,
        );
        let mut spot: Vec<f64> = spec.underlyings.iter().map(|u| u.spot_px).collect();
        let years = |t: u64, exp: u64| exp.saturating_sub(t) as f64 / (365.0 * 86_400e9);
        let mut t = START_NS;
        // Opening: every option's book and ticker, so the chain is priced before the first tick.
        for (ui, u) in underlyings.iter().enumerate() {
            for (s, name) in u.chain.iter().zip(&names[ui]) {
                let iv = smile((s.strike / spot[ui]).ln(), 1.0);
                let mark = mark_coin(spot[ui], s.strike, s.is_call, years(t, s.expiry_ns), iv);
                let depth = (200.0 + 800.0 * rng.next()).round();
                frames.push((t, option_book_frame(name, t, mark, depth)));
                t += 1_000;
                frames.push((t, option_ticker_frame(name, t, spot[ui], mark, iv)));
                t += 1_000;
            }
        }
        let shock_tick = (spec.shock_at.clamp(0.0, 1.0) * spec.ticks as f64) as usize;
        for tick in 0..spec.ticks {
            t = START_NS + 1_000_000_000 + tick as u64 * spec.tick_ns;
            let shock = if tick >= shock_tick {
                spec.shock_mult.max(1.0)
            } else {
                1.0
            };
            for (ui, u) in spec.underlyings.iter().enumerate() {
                spot[ui] *= 1.0 + spec.step * shock * (rng.next() - 0.5);
                let depth = (50_000.0 + 500_000.0 * rng.next()) / u.hedge_lot_usd;
                let depth = depth.round() * u.hedge_lot_usd;
                let perp = &registry.instruments()[underlyings[ui].hedge.instrument.0 as usize];
                frames.push((t, perp_frame(&perp.symbol, t, spot[ui], depth)));
                t += 1_000;
            }
            for _ in 0..spec.tickers_per_tick {
                if n == 0 || underlyings.is_empty() {
                    break;
                }
                let ui =
                    ((rng.next() * underlyings.len() as f64) as usize).min(underlyings.len() - 1);
                let k = ((rng.next() * n as f64) as usize).min(n - 1);
                let s = &underlyings[ui].chain[k];
                let iv = smile((s.strike / spot[ui]).ln(), shock);
                let mark = mark_coin(spot[ui], s.strike, s.is_call, years(t, s.expiry_ns), iv);
                frames.push((t, option_ticker_frame(&names[ui][k], t, spot[ui], mark, iv)));
                t += 1_000;
            }
        }
        Self {
            registry,
            underlyings,
            frames,
        }
    }

    /// A Deribit feed over the market's registry (same instrument ids as the kernel's).
    #[must_use]
    pub fn feed(&self) -> DeribitFeed {
        DeribitFeed::new(self.registry.clone())
    }

    /// Every instrument id of underlying `u`'s chain.
    #[must_use]
    pub fn chain_ids(&self, u: usize) -> Vec<InstrumentId> {
        self.underlyings
            .get(u)
            .map_or_else(Vec::new, |m| m.chain.iter().map(|s| s.instrument).collect())
    }

    /// An [`OptionsKernel`] over the market: one engine per underlying with `cfg(underlying)`,
    /// and a desired book of `desired_lots` on every `desired_every`-th option.
    ///
    /// # Errors
    /// [`OptionsKernelError`] when a configuration is out of range.
    pub fn kernel<L: OptionsSink + Send>(
        &self,
        cfg: impl Fn(&MarketUnderlying) -> OptionsConfig,
        desired_every: usize,
        desired_lots: i64,
        log: L,
    ) -> Result<OptionsKernel<L>, OptionsKernelError> {
        let mut k = OptionsKernel::new(&self.registry, log);
        for m in &self.underlyings {
            let e = k.add_underlying(cfg(m), m.hedge, &m.chain)?;
            if let Some(eng) = k.engine_mut(e) {
                for (i, s) in m.chain.iter().enumerate() {
                    if desired_every > 0 && i % desired_every == 0 {
                        eng.set_desired(s.instrument, desired_lots);
                    }
                }
            }
        }
        Ok(k)
    }
}

/// A policy for the synthetic market, set for a 48-option BTC chain of 0.1-coin lots at
/// 42,000 USD (delta band 0.3 coin hedged to the edge; gamma and vega caps the shock makes bind;
/// a blended volatility source) and scaled to `u`'s chain length, lot and price so every
/// underlying trades alike.
#[must_use]
pub fn default_config(u: &MarketUnderlying) -> OptionsConfig {
    let book = (u.chain.len() as f64 / 48.0).max(0.01) * (u.option_lot / 0.1);
    let px = u.spot_px / 42_000.0;
    OptionsConfig {
        delta_band: 0.3 * u.option_lot / 0.1,
        hedge_to: HedgeTo::Edge,
        max_abs_gamma: 6e-4 * book / px,
        max_abs_vega_per_vol_point: 2_500.0 * book * px,
        collateral_coin: 50.0 * book,
        mmr: 0.005,
        buffer_k: 3.0,
        buffer_horizon_days: 1.0,
        max_margin_ratio: 1.0,
        max_leverage: 5.0,
        liquidity_frac: 0.5,
        rebalance_frac: 0.1,
        vol_source: VolSource::Blend {
            forecast_weight: 0.5,
        },
        ewma_lambda: 0.94,
        ewma_warmup: 5,
        sample_interval_ns: 1_000_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use feeds::FeedAdapter;

    #[test]
    fn frames_parse_and_are_reproducible() {
        let spec = OptionsMarketSpec {
            ticks: 50,
            ..OptionsMarketSpec::default()
        };
        let a = OptionsMarket::generate(&spec);
        let b = OptionsMarket::generate(&spec);
        assert!(a.frames == b.frames);
        let mut feed = a.feed();
        let mut events = 0;
        for (t, f) in &a.frames {
            assert!(
                FeedAdapter::on_frame(&mut feed, *t, f, &mut |_| events += 1),
                "{}",
                String::from_utf8_lossy(f)
            );
        }
        assert_eq!(feed.registry().len(), a.registry.len(), "no new instrument");
        assert!(events >= a.frames.len());
    }
}
