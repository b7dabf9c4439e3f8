//! A small portfolio spec and a seeded two-factor market of touches for the kernel tests.

#![allow(dead_code)]

use engine::order::{Fill, Order};
use engine::pipeline::KernelLogic;
use feeds::{flags, EventKind, InstrumentId, Market, MarketEvent, PxQty, Registry};
use portfolio::{PortfolioKernel, PortfolioSpec, RebalanceSink};

/// Two factors (BTC, ETH): USD-M linear perps in one cross-margin account, a BTC spot in a spot
/// account and a BTC COIN-M inverse perp in a BTC account.
pub const SPEC: &str = r#"
capital = 1000000.0
policy = "risk-parity"
target_vol = 0.3

[covariance]
sample_ms = 1000
lambda = 0.9
min_samples = 10
max_missed = 3
shrinkage = 0.0

[rebalance]
every_samples = 5
drift_band = 0.01
vol_jump = 0.5

[[factors]]
name = "BTC"
budget = 0.6

[[factors]]
name = "ETH"
budget = 0.4

[[accounts]]
name = "usdm"
kind = "margin"
collateral = 500000.0
mmr = 0.004

[[accounts]]
name = "spot"
kind = "spot"
collateral = 100000.0

[[accounts]]
name = "coinm"
kind = "margin"
currency = "BTC"
collateral = 0.0
mmr = 0.004

[[instruments]]
market = "binance-usdm"
symbol = "BTCUSDT"
factor = "BTC"
account = "usdm"
contract = "linear"
lot = 0.001
fee_bps = 5.0

[[instruments]]
market = "binance-usdm"
symbol = "ETHUSDT"
factor = "ETH"
account = "usdm"
contract = "linear"
lot = 0.001
fee_bps = 5.0

[[instruments]]
market = "binance-spot"
symbol = "BTCUSDT"
factor = "BTC"
account = "spot"
contract = "linear"
lot = 0.00001
fee_bps = 10.0

[[instruments]]
market = "binance-coinm"
symbol = "BTCUSD_PERP"
factor = "BTC"
account = "coinm"
contract = "inverse"
multiplier = 100.0
lot = 1.0
fee_bps = 5.0
"#;

/// A Deribit BTC account and its perpetual to append to `SPEC` (instrument 4, the cheapest BTC
/// instrument: no fee): `COLLATERAL` is its coin balance.
pub const DERIBIT: &str = r#"
[[accounts]]
name = "deribit"
kind = "deribit"
currency = "BTC"
collateral = COLLATERAL
liq_k = 4.0

[[instruments]]
market = "deribit"
symbol = "BTC-PERPETUAL"
factor = "BTC"
account = "deribit"
contract = "inverse"
lot = 10.0
funding_bps_per_day = 0.0
"#;

/// `SPEC` with the Deribit account (`collateral` BTC) and perpetual appended, then `edit`.
pub fn deribit_spec(collateral: f64, edit: impl Fn(&str) -> String) -> PortfolioSpec {
    let text = format!(
        "{SPEC}{}",
        DERIBIT.replace("COLLATERAL", &format!("{collateral:?}"))
    );
    toml::from_str(&edit(&text)).unwrap()
}

/// The spec of `SPEC` with `edit` applied to its TOML text.
pub fn spec_with(edit: impl Fn(&str) -> String) -> PortfolioSpec {
    toml::from_str(&edit(SPEC)).unwrap()
}

/// The registry of `SPEC`'s instruments, in its order, at 8 decimals.
pub fn registry(spec: &PortfolioSpec) -> Registry {
    let mut r = Registry::new();
    for s in &spec.instruments {
        let m = match s.market.as_str() {
            "binance-spot" => Market::BinanceSpot,
            "binance-usdm" => Market::BinanceUsdM,
            "binance-coinm" => Market::BinanceCoinM,
            _ => Market::Deribit,
        };
        r.register(&s.symbol, m, 8, 8);
    }
    r
}

/// A seeded random walk of the factors (correlated), sampled every 250 ms.
pub struct Walk {
    state: u64,
    /// Log prices.
    pub x: [f64; 2],
    /// Event time, ns.
    pub t: u64,
}

impl Walk {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            x: [60_000f64.ln(), 2_600f64.ln()],
            t: 1_700_000_000_000_000_000,
        }
    }

    fn uniform(&mut self) -> f64 {
        // xorshift64*.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Advances 250 ms and returns the mids of the two factors.
    pub fn step(&mut self) -> [f64; 2] {
        // About 60 % and 80 % annualized at 4 steps a second.
        let dt: f64 = 0.25 / (365.0 * 86_400.0);
        let (z1, z2) = (self.normal(), self.normal());
        let z2 = 0.7 * z1 + (1.0f64 - 0.49).sqrt() * z2;
        self.x[0] += 0.6 * dt.sqrt() * z1;
        self.x[1] += 0.8 * dt.sqrt() * z2;
        self.t += 250_000_000;
        [self.x[0].exp(), self.x[1].exp()]
    }
}

/// A valid touch of `id` around `mid` with `qty` each side, at 8 decimals.
pub fn bbo(id: u32, t: u64, mid: f64, qty: f64) -> MarketEvent {
    let mut e = MarketEvent::new(EventKind::Bbo, InstrumentId(id), t);
    e.flags = flags::BOOK_VALID;
    let half = (mid * 1e-5).max(1e-8);
    e.bid = PxQty {
        px: ((mid - half) * 1e8).round() as i64,
        qty: (qty * 1e8).round() as i64,
    };
    e.ask = PxQty {
        px: ((mid + half) * 1e8).round() as i64,
        qty: (qty * 1e8).round() as i64,
    };
    e
}

/// Which instrument follows which factor, the basis of each, and whether its touch quantity is
/// in USD (Deribit's futures amounts) rather than coin (spec order of `SPEC`, then `DERIBIT`).
pub const FOLLOWS: [(usize, f64, bool); 5] = [
    (0, 1.0, false),
    (1, 1.0, false),
    (0, 0.9999, false),
    (0, 1.0002, false),
    (0, 1.0001, true),
];

/// The touch of instrument `i` at the walk's `mids`: `qty` coin (in USD for a Deribit future).
pub fn touch(i: usize, t: u64, mids: [f64; 2], qty: f64) -> MarketEvent {
    let (f, basis, usd) = FOLLOWS[i];
    let mid = mids[f] * basis;
    bbo(
        i as u32,
        t,
        mid,
        if usd { (qty * mid).round() } else { qty },
    )
}

/// Drives `k` with `steps` steps of the walk, touches of `qty` on every instrument each step,
/// filling every order at its limit up to its touch (the paper venue). Returns the orders.
pub fn drive<S: RebalanceSink>(
    k: &mut PortfolioKernel<S>,
    walk: &mut Walk,
    steps: usize,
    qty: f64,
) -> Vec<Order> {
    let mut orders = Vec::new();
    for _ in 0..steps {
        let mids = walk.step();
        for i in 0..k.spec().instruments.len().min(FOLLOWS.len()) {
            let ev = touch(i, walk.t + i as u64, mids, qty);
            let mut out = Vec::new();
            k.on_event(&ev, 0, &mut |o| out.push(o));
            for o in out {
                let filled = o.qty.min(o.touch_qty);
                k.on_fill(&Fill {
                    order_id: o.id,
                    instrument: o.instrument,
                    side: o.side,
                    qty: filled,
                    px: o.limit_px,
                    cancelled_qty: o.qty - filled,
                    t_report: 0,
                });
                orders.push(o);
            }
        }
    }
    orders
}
