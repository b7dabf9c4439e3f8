//! Sizing-model benches (plain `harness = false` main; run with `cargo bench -p ballast-bench
//! --bench sizing`). Each figure is printed beside a baseline measured in the same run, the ratio
//! and the target of issue 4:
//!
//! - GARCH(1,1) online update, ns per tick (baseline: the EWMA update; target ≤ 10 ns);
//! - GARCH(1,1) maximum-likelihood fit on 5 000 returns (baseline: one log-likelihood pass);
//! - risk parity (ERC) for 10, 100 and 500 assets (baseline: one `Σx` product; target ≤ 200 µs
//!   at 100 assets);
//! - a full policy evaluation per tick — Kelly base and every constraint kind (baseline: the
//!   base model alone; target ≤ 200 ns).
//!
//! Each figure is the median of 51 repetitions, with the fastest repetition beside it: on a
//! shared machine the minimum is the best estimate of the uncontended cost, and the target check
//! uses it (the median is printed so that contention shows). Read the ratios first.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use risk_core::greeks_limits::PortfolioGreeks;
use risk_core::liquidity::{Level, SqrtImpact};
use risk_core::margin::{Contract, MarginTiers};
use risk_core::policy::{BaseModel, BookView, Constraint, Decision, SizingInputs, SizingPolicy};
use risk_core::risk_parity::RiskParitySolver;
use risk_core::vol::garch::{self, FitOptions, Garch11, Garch11Params};
use risk_core::vol::Ewma;
use std::hint::black_box;

const REPS: usize = 51;

/// Nanoseconds per operation of `f` (which performs `iters` operations): (median, minimum) over
/// `REPS` runs.
fn time_per_op(iters: u64, f: impl FnMut()) -> (f64, f64) {
    ballast_bench::time_per_op(REPS, iters, f)
}

fn scale((a, b): (f64, f64), k: f64) -> (f64, f64) {
    (a * k, b * k)
}

fn simulate(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (w, a, b): (f64, f64, f64) = (2e-6, 0.08, 0.9);
    let mut h = w / (1.0 - a - b);
    (0..n)
        .map(|_| {
            let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
            let u2: f64 = rng.gen();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let r = h.sqrt() * z;
            h = w + a * r * r + b * h;
            r
        })
        .collect()
}

fn factor_cov(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = 4;
    let load: Vec<f64> = (0..n * k)
        .map(|i| {
            let x: f64 = rng.gen_range(-0.15..0.15);
            if i % k == 0 {
                x.abs() + 0.05
            } else {
                x
            }
        })
        .collect();
    let spec: Vec<f64> = (0..n).map(|_| rng.gen_range(0.01..0.09)).collect();
    let mut cov = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let s: f64 = (0..k).map(|f| load[i * k + f] * load[j * k + f]).sum();
            cov[i * n + j] = s + if i == j { spec[i] } else { 0.0 };
        }
    }
    cov
}

struct Row {
    name: String,
    /// (median, min).
    value: (f64, f64),
    unit: &'static str,
    baseline_name: String,
    baseline: (f64, f64),
    target: Option<f64>,
}

/// GARCH(1,1) online update vs EWMA update (ns per tick); returns the row and the parameters
/// (reused by the fit's baseline).
fn garch_update(quick: bool, rows: &mut Vec<Row>) -> Garch11Params {
    let rets = simulate(1 << 14, 1);
    let p = Garch11Params::new(2e-6, 0.08, 0.9).unwrap();
    let n_ticks = rets.len() as u64;
    let reps_inner = if quick { 1 } else { 64 };
    let garch_ns = time_per_op(n_ticks * reps_inner, || {
        let mut g = Garch11::new(p, 0.0, 4e-5).unwrap();
        for _ in 0..reps_inner {
            for &r in &rets {
                g.update(black_box(r));
            }
        }
        black_box(g.variance());
    });
    let ewma_ns = time_per_op(n_ticks * reps_inner, || {
        let mut e = Ewma::seeded(0.94, 4e-5).unwrap();
        for _ in 0..reps_inner {
            for &r in &rets {
                e.update(black_box(r));
            }
        }
        black_box(e.variance());
    });
    rows.push(Row {
        name: "GARCH(1,1) online update".into(),
        value: garch_ns,
        unit: "ns/tick",
        baseline_name: "EWMA update".into(),
        baseline: ewma_ns,
        target: Some(10.0),
    });

    p
}

/// GARCH fit on 5 000 returns vs one likelihood pass at `p`.
fn garch_fit(p: &Garch11Params, rows: &mut Vec<Row>) {
    let r5k = simulate(5000, 2);
    let bc = garch::backcast(&r5k);
    let fit_ns = time_per_op(1, || {
        black_box(garch::fit(black_box(&r5k), &FitOptions::default()).unwrap());
    });
    let ll_ns = time_per_op(1, || {
        black_box(garch::loglikelihood(p, 0.0, None, black_box(&r5k), bc));
    });
    rows.push(Row {
        name: "GARCH(1,1) fit, 5000 returns".into(),
        value: scale(fit_ns, 1e-3),
        unit: "µs",
        baseline_name: "one loglik pass".into(),
        baseline: scale(ll_ns, 1e-3),
        target: None,
    });
}

/// ERC for 10, 100, 500 assets vs one Σx product.
fn erc(rows: &mut Vec<Row>) {
    for n in [10usize, 100, 500] {
        let cov = factor_cov(n, 3 + n as u64);
        let mut solver = RiskParitySolver::new(n);
        let mut w = vec![0.0; n];
        let erc_ns = time_per_op(1, || {
            black_box(solver.solve(black_box(&cov), n, None, &mut w).unwrap());
        });
        let rep = solver.solve(&cov, n, None, &mut w).unwrap();
        let x = vec![1.0 / n as f64; n];
        let mut y = vec![0.0; n];
        let inner = if n <= 100 { 100 } else { 10 };
        let mv_ns = time_per_op(inner, || {
            for _ in 0..inner {
                risk_core::linalg::mat_vec(black_box(&cov), n, black_box(&x), &mut y).unwrap();
            }
            black_box(&y);
        });
        rows.push(Row {
            name: format!(
                "ERC {n} assets ({} sweeps, {} Newton)",
                rep.sweeps, rep.newton_steps
            ),
            value: scale(erc_ns, 1e-3),
            unit: "µs",
            baseline_name: "one Σx".into(),
            baseline: scale(mv_ns, 1e-3),
            target: (n == 100).then_some(200.0),
        });
    }
}

/// Full policy evaluation per tick vs the base model alone (and that vs building the inputs).
fn policy(quick: bool, rows: &mut Vec<Row>) {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mid = 50_000.0;
    let bids: Vec<Level> = (0..20)
        .map(|i| Level {
            px: mid - 0.5 - f64::from(i),
            qty: rng.gen_range(0.1..3.0),
        })
        .collect();
    let asks: Vec<Level> = (0..20)
        .map(|i| Level {
            px: mid + 0.5 + f64::from(i),
            qty: rng.gen_range(0.1..3.0),
        })
        .collect();
    let tiers = MarginTiers::new(&[
        (0.0, 0.004),
        (50_000.0, 0.005),
        (250_000.0, 0.01),
        (1_000_000.0, 0.025),
        (5_000_000.0, 0.05),
    ])
    .unwrap();
    let chain = [
        Constraint::MaxLeverage { max: 3.0 },
        Constraint::MaxNotional { max: 250_000.0 },
        Constraint::DeltaLimit { max_abs: 10.0 },
        Constraint::GammaLimit { max_abs: 1.0 },
        Constraint::VegaLimit { max_abs: 500.0 },
        Constraint::LiquidationBuffer {
            tiers,
            k: 3.0,
            horizon_years: 1.0 / 365.0,
            max_margin_ratio: 0.5,
        },
        Constraint::Liquidity {
            max_slippage_bps: 5.0,
            impact: Some(SqrtImpact {
                y: 0.7,
                daily_vol: 0.03,
                adv_qty: 1e4,
                half_spread_bps: 0.5,
            }),
        },
        Constraint::PoolCap {
            max_share: 0.1,
            oi_limit: Some(5e7),
        },
        Constraint::MinTradeSize { min_qty: 0.001 },
        Constraint::LotRounding { lot: 0.001 },
    ];
    let full =
        SizingPolicy::new(Contract::Linear, BaseModel::Kelly { fraction: 0.5 }, &chain).unwrap();
    let bare =
        SizingPolicy::new(Contract::Linear, BaseModel::Kelly { fraction: 0.5 }, &[]).unwrap();
    // Vary the inputs per tick so nothing is hoisted.
    let ticks: Vec<(f64, f64)> = (0..1024)
        .map(|_| (rng.gen_range(-0.5..0.5), rng.gen_range(0.3..0.9)))
        .collect();
    let mk = |mu: f64, vol: f64| SizingInputs {
        capital: 100_000.0,
        collateral: 100_000.0,
        mark_px: mid,
        current_qty: 0.5,
        direction: 1.0,
        expected_return: mu,
        rf: 0.0,
        forecast_vol: vol,
        other_greeks: PortfolioGreeks {
            delta: 1.0,
            gamma: 0.1,
            vega_per_vol_point: 50.0,
        },
        unit_greeks: PortfolioGreeks {
            delta: 1.0,
            gamma: 0.0,
            vega_per_vol_point: 0.0,
        },
        book: Some(BookView {
            bids: &bids,
            asks: &asks,
        }),
        flow_multiplier_buy: 0.9,
        flow_multiplier_sell: 1.0,
        pool_liquidity: 2e7,
        open_interest: 1e7,
    };
    let rounds = if quick { 1 } else { 20 };
    let n_eval = ticks.len() as u64 * rounds;
    let mut d = Decision::default();
    let full_ns = time_per_op(n_eval, || {
        for _ in 0..rounds {
            for &(mu, vol) in &ticks {
                full.evaluate_into(black_box(&mk(mu, vol)), &mut d).unwrap();
                black_box(d.target_qty);
            }
        }
    });
    let bare_ns = time_per_op(n_eval, || {
        for _ in 0..rounds {
            for &(mu, vol) in &ticks {
                bare.evaluate_into(black_box(&mk(mu, vol)), &mut d).unwrap();
                black_box(d.target_qty);
            }
        }
    });
    let empty_ns = time_per_op(n_eval, || {
        for _ in 0..rounds {
            for &(mu, vol) in &ticks {
                black_box(&mk(mu, vol));
            }
        }
    });
    rows.push(Row {
        name: "policy: base model only".into(),
        value: bare_ns,
        unit: "ns/tick",
        baseline_name: "inputs only".into(),
        baseline: empty_ns,
        target: None,
    });
    rows.push(Row {
        name: format!("policy: Kelly + {} constraints", chain.len()),
        value: full_ns,
        unit: "ns/tick",
        baseline_name: "base model only".into(),
        baseline: bare_ns,
        target: Some(200.0),
    });
}

/// The table: each figure beside its baseline, the ratio and the target check.
fn print_rows(rows: &[Row]) {
    println!();
    println!(
        "{:<40} {:>11} {:>11} {:<8} {:>16} {:>11} {:>11} {:>7} {:>8} {:>8}",
        "sizing bench",
        "median",
        "min",
        "unit",
        "baseline",
        "median",
        "min",
        "ratio",
        "target",
        "ok(min)"
    );
    for r in rows {
        let (t, ok) = match r.target {
            Some(t) => (format!("<= {t}"), if r.value.1 <= t { "yes" } else { "NO" }),
            None => ("-".into(), "-"),
        };
        println!(
            "{:<40} {:>11.3} {:>11.3} {:<8} {:>16} {:>11.3} {:>11.3} {:>6.1}x {:>8} {:>8}",
            r.name,
            r.value.0,
            r.value.1,
            r.unit,
            r.baseline_name,
            r.baseline.0,
            r.baseline.1,
            r.value.0 / r.baseline.0,
            t,
            ok
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that quick.
    let quick = std::env::args().any(|a| a == "--test") || cfg!(debug_assertions);
    let mut rows = Vec::new();
    let p = garch_update(quick, &mut rows);
    garch_fit(&p, &mut rows);
    erc(&mut rows);
    policy(quick, &mut rows);
    print_rows(&rows);
}
