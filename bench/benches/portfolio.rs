//! The portfolio kernel (`portfolio::PortfolioKernel`), plain `harness = false` main; run with
//! `cargo bench -p ballast-bench --bench portfolio`. Each figure is printed beside a baseline
//! measured in the same run and the ratio:
//!
//! - a tick without rebalance (a touch update inside a sampling period), for 10 and 100 factors
//!   × 3 instruments (baseline: the single-instrument kernel's tick with its vol-target sizer on
//!   the same event, `engine::kernel::Kernel`);
//! - a whole rebalance (the sample — covariance update, nets, margin — the shrunk matrix, the
//!   risk-parity solve, the split of every factor's trade across its 3 instruments through the
//!   policy chains, the orders, their fills and the record), every sample a rebalance (baseline:
//!   one Cholesky factorization of the factor covariance, the floor of any solve on it);
//! - its parts: the covariance update, the shrunk matrix, the risk-parity solve;
//! - the Ledoit–Wolf shrinkage (`shrinkage = "ledoit-wolf"`): the covariance update keeping its
//!   moments, every factor present and one in ten missing (baseline: the same samples into the
//!   covariance with a fixed intensity); the intensity on its own (`ledoit_wolf_intensity`, which
//!   reads the ready block as the matrix does) and the shrunk matrix starting from it (baseline
//!   for both: the shrunk matrix with a fixed intensity; the difference of the second is what
//!   the estimator adds to a rebalance).
//!
//! Each figure is the median of 31 repetitions, the fastest beside it. The portfolio issue's
//! targets for 100 factors × 3 instruments: a tick ≤ 200 ns, a whole rebalance ≤ 60 µs.

use std::hint::black_box;

use engine::kernel::{Kernel, KernelConfig};
use engine::order::{Fill, Order};
use engine::pipeline::KernelLogic;
use engine::sizer::{VolTargetConfig, VolTargetSizer};
use feeds::{flags, EventKind, InstrumentId, Market, MarketEvent, PxQty, Registry};
use portfolio::spec::{
    AccountKind, AccountSpec, CovarianceSpec, FactorSpec, InstrumentSpec, RebalanceSpec, VolModel,
};
use portfolio::{record_ring, Policy, PortfolioKernel, PortfolioSpec, RecordDrain, RecordRing};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use risk_core::factor_cov::{FactorCovConfig, FactorCovariance, Shrinkage};
use risk_core::linalg::cholesky;
use risk_core::margin::Contract;

const REPS: usize = 31;

fn spec(n: usize) -> PortfolioSpec {
    spec_every(n, 1)
}

/// `n` factors × 3 instruments, rebalancing every `every` samples.
fn spec_every(n: usize, every: u32) -> PortfolioSpec {
    let factors = (0..n)
        .map(|f| FactorSpec {
            name: format!("F{f}"),
            budget: 1.0 / n as f64,
            expected_return: 0.1,
            max_weight: f64::INFINITY,
            max_delta: f64::INFINITY,
            implied_weight: 0.0,
            reference: None,
        })
        .collect();
    let mut accounts = vec![
        account("usdm", AccountKind::Margin, "USD", 5e6),
        account("spot", AccountKind::Spot, "USD", 5e6),
    ];
    let mut instruments = Vec::new();
    for f in 0..n {
        accounts.push(account(
            &format!("coin{f}"),
            AccountKind::Margin,
            &format!("F{f}"),
            0.0,
        ));
        for (market, account, contract, mult, fee) in [
            (
                "binance-usdm",
                "usdm".to_string(),
                Contract::Linear,
                1.0,
                5.0,
            ),
            (
                "binance-spot",
                "spot".to_string(),
                Contract::Linear,
                1.0,
                10.0,
            ),
            (
                "binance-coinm",
                format!("coin{f}"),
                Contract::Inverse,
                10.0,
                5.0,
            ),
        ] {
            instruments.push(InstrumentSpec {
                market: market.into(),
                symbol: format!("F{f}USD"),
                factor: format!("F{f}"),
                account,
                contract,
                multiplier: mult,
                lot: 0.001,
                min_notional: 0.0,
                fee_bps: fee,
                funding_bps_per_day: 0.0,
                max_slippage_bps: 50.0,
                max_notional: f64::INFINITY,
            });
        }
    }
    PortfolioSpec {
        capital: 1e7,
        policy: Policy::RiskParity,
        target_vol: Some(0.2),
        kelly_fraction: 0.5,
        rf: 0.0,
        max_gross_leverage: f64::INFINITY,
        max_net_leverage: f64::INFINITY,
        horizon_days: 1.0,
        depth_forecast: portfolio::spec::DepthForecastMode::Off,
        covariance: CovarianceSpec {
            sample_ms: 1000,
            lambda: 0.97,
            min_samples: 20,
            max_missed: 3,
            shrinkage: Shrinkage::Fixed(0.1),
            vol_model: VolModel::Ewma,
            garch_alpha: 0.08,
            garch_beta: 0.9,
        },
        rebalance: RebalanceSpec {
            every_samples: every,
            drift_band: f64::INFINITY,
            vol_jump: f64::INFINITY,
        },
        factors,
        accounts,
        instruments,
        options: Vec::new(),
        signals: None,
    }
}

fn account(name: &str, kind: AccountKind, ccy: &str, collateral: f64) -> AccountSpec {
    AccountSpec {
        name: name.into(),
        kind,
        currency: ccy.into(),
        collateral,
        tiers: Vec::new(),
        mmr: Some(0.004),
        future_im: None,
        future_mm: None,
        slope_per_coin: None,
        option_mm: None,
        option_im: None,
        option_im_floor: None,
        liq_k: 4.0,
        liq_horizon_days: 1.0,
        max_margin_ratio: 0.5,
    }
}

fn registry(spec: &PortfolioSpec) -> Registry {
    let mut r = Registry::new();
    for s in &spec.instruments {
        let m = match s.market.as_str() {
            "binance-usdm" => Market::BinanceUsdM,
            "binance-spot" => Market::BinanceSpot,
            _ => Market::BinanceCoinM,
        };
        r.register(&s.symbol, m, 8, 8);
    }
    r
}

fn bbo(id: usize, t: u64, mid: f64) -> MarketEvent {
    let mut e = MarketEvent::new(EventKind::Bbo, InstrumentId(id as u32), t);
    e.flags = flags::BOOK_VALID;
    e.bid = PxQty {
        px: ((mid * (1.0 - 1e-5)) * 1e8) as i64,
        qty: 1_000 * 100_000_000,
    };
    e.ask = PxQty {
        px: ((mid * (1.0 + 1e-5)) * 1e8) as i64,
        qty: 1_000 * 100_000_000,
    };
    e
}

/// A kernel of `n` factors × 3 instruments warmed over 40 samples, with its market state.
struct Bench {
    k: PortfolioKernel<RecordRing>,
    drain: RecordDrain,
    rng: ChaCha8Rng,
    px: Vec<f64>,
    t: u64,
    orders: Vec<Order>,
}

impl Bench {
    fn new(n: usize) -> Self {
        Self::with_spec(n, spec(n))
    }

    fn with_spec(n: usize, spec: PortfolioSpec) -> Self {
        let reg = registry(&spec);
        let template = portfolio::Rebalance::with_capacity(n, 3 * n, n + 2);
        let (ring, drain) = record_ring(&template, 4);
        let mut b = Self {
            // Records without the covariance: the replay's default (`--log-covariance` adds it).
            k: PortfolioKernel::new(spec, &reg, ring)
                .unwrap()
                .with_covariance_log(false),
            drain,
            rng: ChaCha8Rng::seed_from_u64(n as u64),
            px: (0..n).map(|f| 100.0 + f as f64).collect(),
            t: 1_700_000_000_000_000_000,
            orders: Vec::with_capacity(1 << 20),
        };
        for _ in 0..40 {
            b.sample();
        }
        b
    }

    /// One sampling period: every instrument's touch moves once, then the boundary event.
    fn sample(&mut self) {
        let common: f64 = self.rng.gen_range(-1.0..1.0);
        for f in 0..self.px.len() {
            let r = 2e-4 * (0.6 * common + self.rng.gen_range(-1.0..1.0));
            self.px[f] *= 1.0 + r;
            for j in 0..3 {
                self.t += 1_000;
                let ev = bbo(3 * f + j, self.t, self.px[f]);
                self.k.on_event(&ev, 0, &mut |_| {});
            }
        }
        self.boundary();
    }

    /// The event that crosses the sampling boundary: a rebalance (every sample is one), its
    /// orders filled at the touch, its record drained.
    fn boundary(&mut self) {
        self.t = (self.t / 1_000_000_000 + 1) * 1_000_000_000;
        let ev = bbo(0, self.t, self.px[0]);
        let before = self.orders.len();
        let orders = &mut self.orders;
        self.k.on_event(&ev, 0, &mut |o| orders.push(o));
        for o in &self.orders[before..] {
            self.k.on_fill(&Fill {
                order_id: o.id,
                instrument: o.instrument,
                side: o.side,
                qty: o.qty,
                px: o.limit_px,
                cancelled_qty: 0,
                t_report: 0,
            });
        }
        if self.orders.len() > (1 << 19) {
            self.orders.clear();
        }
        while let Some(r) = self.drain.pop() {
            self.drain.give_back(r);
        }
    }
}

fn line(what: &str, (med, min): (f64, f64), (bmed, bmin): (f64, f64), base: &str) {
    println!(
        "{what:<46} {:>10.1} ns (min {:>9.1})   {base:<32} {:>10.1} ns (min {:>9.1})   ratio {:>6.2}",
        med,
        min,
        bmed,
        bmin,
        med / bmed
    );
}

fn main() {
    for n in [10usize, 100] {
        let mut b = Bench::new(n);
        println!("== {n} factors × 3 instruments ==");

        // Tick without rebalance: touches inside one sampling period.
        let ticks = 3 * n as u64 * 20;
        let tick = ballast_bench::time_per_op(REPS, ticks, || {
            for s in 0..20 {
                for i in 0..3 * n {
                    b.t += 100;
                    let f = i / 3;
                    let ev = bbo(i, b.t, b.px[f] * (1.0 + 1e-6 * s as f64));
                    b.k.on_event(black_box(&ev), 0, &mut |_| {});
                }
            }
        });
        let reg = {
            let mut r = Registry::new();
            r.register("F0USD", Market::BinanceUsdM, 8, 8);
            r
        };
        let sizer = VolTargetSizer::new(
            InstrumentId(0),
            VolTargetConfig {
                capital: 1_000_000.0,
                target: risk_core::vol_target::VolTarget {
                    target_vol: 0.2,
                    min_leverage: 0.0,
                    max_leverage: 2.0,
                    band: 0.1,
                },
                ewma_lambda: 0.94,
                sample_interval_ns: 1_000_000_000,
                warmup_samples: 3,
                direction: 1.0,
            },
        )
        .unwrap();
        let kcfg = KernelConfig {
            lot_qty: 1,
            min_qty: 1,
            cap_to_touch: true,
        };
        let mut single = Kernel::new(&reg, kcfg, sizer);
        let mut t = 1_700_000_000_000_000_000u64;
        let base_tick = ballast_bench::time_per_op(REPS, ticks, || {
            for s in 0..ticks {
                t += 100;
                let ev = bbo(0, t, 100.0 * (1.0 + 1e-6 * (s % 20) as f64));
                single.on_event(black_box(&ev), 0, &mut |o: Order| {
                    black_box(o);
                });
            }
        });
        // Keep the boundary after the ticks.
        b.t += 1;
        line(
            "tick without rebalance",
            tick,
            base_tick,
            "single-instrument kernel tick",
        );

        // Whole rebalance, every sample.
        let reb = ballast_bench::time_per_op(REPS, 1, || b.boundary());
        // Baseline: one Cholesky of the factor covariance.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let a: Vec<f64> = (0..n * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut cov = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                cov[i * n + j] = (0..n).map(|l| a[i * n + l] * a[j * n + l]).sum::<f64>()
                    + if i == j { n as f64 } else { 0.0 };
            }
        }
        let mut l = vec![0.0; n * n];
        let chol = ballast_bench::time_per_op(REPS, 1, || {
            cholesky(black_box(&cov), n, &mut l).unwrap();
        });
        line(
            "whole rebalance (sample + solve + split)",
            reb,
            chol,
            "one Cholesky of the matrix",
        );
        // The sample alone (covariance, nets, margins, realized contributions, triggers): a
        // kernel that never rebalances after its first.
        let mut quiet = Bench::with_spec(n, spec_every(n, u32::MAX));
        let smp = ballast_bench::time_per_op(REPS, 1, || quiet.boundary());
        line(
            "  sample without rebalance",
            smp,
            chol,
            "one Cholesky of the matrix",
        );
        let stats = b.k.portfolio_stats();
        println!(
            "  ({} rebalances, {} failed, {} orders so far)",
            stats.rebalances.iter().sum::<u64>(),
            stats.failed,
            b.orders.len()
        );

        // Parts.
        let mut fc = FactorCovariance::new(n, FactorCovConfig::default()).unwrap();
        let rets: Vec<Vec<f64>> = (0..64)
            .map(|_| (0..n).map(|_| 1e-3 * rng.gen_range(-1.0..1.0)).collect())
            .collect();
        let mut ri = 0;
        let upd = ballast_bench::time_per_op(REPS, 64, || {
            for _ in 0..64 {
                fc.update(black_box(&rets[ri % 64])).unwrap();
                ri += 1;
            }
        });
        line(
            "  covariance update",
            upd,
            chol,
            "one Cholesky of the matrix",
        );
        let mut idx = vec![0; n];
        let mut m = vec![0.0; n * n];
        let mat = ballast_bench::time_per_op(REPS, 1, || {
            fc.matrix(&mut idx, &mut m).unwrap();
        });
        line(
            "  shrunk positive-definite matrix",
            mat,
            chol,
            "one Cholesky of the matrix",
        );
        // Ledoit–Wolf beside the fixed intensity, on the same samples.
        let lw_cfg = FactorCovConfig {
            shrinkage: Shrinkage::LedoitWolf,
            ..FactorCovConfig::default()
        };
        let mut lw = FactorCovariance::new(n, lw_cfg).unwrap();
        let upd_lw = ballast_bench::time_per_op(REPS, 64, || {
            for _ in 0..64 {
                lw.update(black_box(&rets[ri % 64])).unwrap();
                ri += 1;
            }
        });
        line(
            "  covariance update, Ledoit–Wolf",
            upd_lw,
            upd,
            "the update, fixed intensity",
        );
        let gapped: Vec<Vec<f64>> = rets
            .iter()
            .enumerate()
            .map(|(t, r)| {
                let mut r = r.clone();
                for (i, x) in r.iter_mut().enumerate() {
                    if (i + t) % 10 == 0 {
                        *x = f64::NAN;
                    }
                }
                r
            })
            .collect();
        let mut fixed_gapped = FactorCovariance::new(n, FactorCovConfig::default()).unwrap();
        let mut lw_gapped = FactorCovariance::new(n, lw_cfg).unwrap();
        let upd_gapped = ballast_bench::time_per_op(REPS, 64, || {
            for r in &gapped {
                fixed_gapped.update(black_box(r)).unwrap();
            }
        });
        let upd_lw_gapped = ballast_bench::time_per_op(REPS, 64, || {
            for r in &gapped {
                lw_gapped.update(black_box(r)).unwrap();
            }
        });
        line(
            "  … 1 in 10 missing, Ledoit–Wolf",
            upd_lw_gapped,
            upd_gapped,
            "the same, fixed intensity",
        );
        let intensity = ballast_bench::time_per_op(REPS, 1, || {
            black_box(lw.ledoit_wolf_intensity().unwrap());
        });
        line(
            "  Ledoit–Wolf intensity (reads the block)",
            intensity,
            mat,
            "the shrunk matrix, fixed intensity",
        );
        let mat_lw = ballast_bench::time_per_op(REPS, 1, || {
            black_box(lw.matrix(&mut idx, &mut m).unwrap());
        });
        line(
            "  shrunk matrix, Ledoit–Wolf",
            mat_lw,
            mat,
            "the shrunk matrix, fixed intensity",
        );
        println!(
            "  (Ledoit–Wolf intensity {:.4}; after the gapped samples {:.4})",
            lw.ledoit_wolf_intensity().unwrap(),
            lw_gapped.ledoit_wolf_intensity().unwrap()
        );
        let mut rp = risk_core::risk_parity::RiskParitySolver::new(n);
        let mut w = vec![0.0; n];
        let erc = ballast_bench::time_per_op(REPS, 1, || {
            rp.solve(black_box(&cov), n, None, &mut w).unwrap();
        });
        line(
            "  risk-parity solve (cold)",
            erc,
            chol,
            "one Cholesky of the matrix",
        );
        println!();
    }
}
