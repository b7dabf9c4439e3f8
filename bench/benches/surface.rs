//! Cost of the implied-volatility surface and the GARCH forecast in the options engine, each beside
//! a baseline measured in the same run:
//!
//! 1. One SVI refit of an expiry (`risk_core::vol::svi`): a cold fit (grid + Nelder–Mead) and a
//!    warm refit from the previous smile (what a ticker triggers), for 13, 25 and 50 strikes of a
//!    noisy smile, beside one evaluation of the inner problem (one `(m, σ)` point: the unit the
//!    fits are made of) and the bare evaluation of the smile at the same strikes.
//! 2. The engine's per-event cost with the surface and GARCH on versus off, same chain, same
//!    events: a hedge tick (forecasts, full revaluation, sizing) and an option ticker (single
//!    revaluation + refit of the ticker's expiry, sizing).
//!
//! Figures: median (and fastest) of 21 repetitions of a block, ns per item.

use std::hint::black_box;
use std::time::Instant;

use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{InstrumentId, MarketEvent};
use options::{OptionSpec, OptionsConfig, OptionsEngine, OptionsFill, SurfaceConfig, VolSource};
use risk_core::vol::svi::{self, FitOptions, SviParams};
use risk_core::vol::Garch11Params;
use testkit::options::{Chain, Tally, DAY_NS, T0};

const S: f64 = 50_000.0;
const REPS: usize = 21;

/// (median, fastest) ns per item of `f`, which runs `items` items per call.
fn time(items: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut xs = Vec::with_capacity(REPS);
    for _ in 0..REPS {
        let start = Instant::now();
        f();
        xs.push(start.elapsed().as_nanos() as f64 / items as f64);
    }
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    (ballast_bench::median(&mut xs), min)
}

fn smile() -> SviParams {
    SviParams::new(0.01, 0.06, -0.35, 0.03, 0.25).expect("valid")
}

/// `n` noisy points of the smile over k ∈ [−0.6, 0.4] (±0.5 % of total variance, seeded).
fn points(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let p = smile();
    let mut x = seed | 1;
    let k: Vec<f64> = (0..n).map(|i| -0.6 + i as f64 / (n - 1) as f64).collect();
    let w = k
        .iter()
        .map(|&k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            p.total_variance(k) * (1.0 + 0.005 * (2.0 * u - 1.0))
        })
        .collect();
    (k, w, vec![1.0; n])
}

fn fits() {
    println!(
        "{:>8} {:>12} {:>8} {:>12} {:>8} {:>14} {:>12} {:>12}",
        "strikes",
        "cold fit",
        "evals",
        "warm refit",
        "evals",
        "ns/eval(warm)",
        "smile eval",
        "fit rmse"
    );
    let opts = FitOptions {
        max_evals: 400,
        x_tol: 1e-6,
    };
    for n in [13, 25, 50] {
        let (k, w, wt) = points(n, 7);
        let (_, w2, _) = points(n, 8); // the next ticker's data: same smile, new noise
        let cold = svi::fit(&k, &w, &wt, &opts).expect("fit");
        let (cold_ns, _) = time(20, || {
            for _ in 0..20 {
                black_box(svi::fit(black_box(&k), &w, &wt, &opts).expect("fit"));
            }
        });
        let warm = svi::fit_from(&k, &w2, &wt, &cold.params, &opts).expect("fit");
        let (warm_ns, _) = time(50, || {
            for _ in 0..50 {
                black_box(
                    svi::fit_from(black_box(&k), &w2, &wt, &cold.params, &opts).expect("fit"),
                );
            }
        });
        let p = cold.params;
        let (eval_ns, _) = time(10_000, || {
            for _ in 0..10_000 / n {
                let mut s = 0.0;
                for &kk in black_box(&k) {
                    s += p.total_variance(kk);
                }
                black_box(s);
            }
        });
        println!(
            "{:>8} {:>9.0} ns {:>8} {:>9.0} ns {:>8} {:>11.0} ns {:>9.1} ns {:>12.2e}",
            n,
            cold_ns,
            cold.evals,
            warm_ns,
            warm.evals,
            warm_ns / f64::from(warm.evals),
            eval_ns * n as f64,
            cold.rmse
        );
    }
}

fn bbo(id: InstrumentId, t: u64, mid: f64) -> MarketEvent {
    testkit::options::bbo(id, t, mid, 0.5, 1e6)
}

struct Book {
    eng: OptionsEngine,
    hedge: InstrumentId,
    specs: Vec<OptionSpec>,
}

/// `expiries × strikes` options; with `on`, surface (mark IVs) and GARCH are attached and the
/// buffer uses the GARCH/implied blend, else the EWMA/nearest-ATM blend.
fn book(expiries: usize, strikes: usize, on: bool) -> Book {
    let mut chain = Chain::default();
    for e in 0..expiries {
        for j in 0..strikes {
            let k = -0.6 + j as f64 / (strikes - 1) as f64;
            chain.option(
                &format!("O-{e}-{j}"),
                S * k.exp(),
                T0 + (7 + 28 * e as u64) * DAY_NS,
                k >= 0.0,
            );
        }
    }
    let cfg = OptionsConfig {
        delta_band: 0.05,
        collateral_coin: 1e4,
        vol_source: if on {
            VolSource::GarchBlend {
                forecast_weight: 0.5,
            }
        } else {
            VolSource::Blend {
                forecast_weight: 0.5,
            }
        },
        sample_interval_ns: 1_000_000,
        ..testkit::options::config()
    };
    let mut eng = chain.engine(cfg).expect("engine");
    let Chain { hedge, specs, .. } = chain;
    if on {
        eng = eng
            .with_surface(SurfaceConfig::default())
            .and_then(|e| e.with_garch(Garch11Params::new(1e-10, 0.08, 0.9).expect("params")))
            .expect("surface and garch");
    }
    let mut sink = Tally::default();
    for (i, s) in specs.iter().enumerate() {
        if i % 10 == 0 {
            eng.set_desired(s.instrument, 50);
        }
        eng.on_event(&ticker(s, T0, 0), 0, &mut sink);
    }
    eng.on_event(&bbo(hedge, T0 + 1, S), 0, &mut sink);
    Book { eng, hedge, specs }
}

fn ticker(s: &OptionSpec, t: u64, n: u64) -> MarketEvent {
    let k = (s.strike / S).ln();
    let iv = smile().total_variance(k).sqrt() * 4.0 + 0.002 * ((n % 7) as f64 - 3.0);
    option_ticker(
        s.instrument,
        t,
        t,
        &OptionTicker {
            underlying_px: S,
            mark_px: 0.05,
            mark_iv: iv,
            bid_iv: iv - 0.01,
            ask_iv: iv + 0.01,
        },
    )
}

/// (hedge tick ns, ticker ns): medians per event.
fn engine_costs(b: &mut Book, ticks: usize) -> ((f64, f64), (f64, f64)) {
    let mut sink = Tally::default();
    sink.orders.reserve(1 << 16);
    let mut t = T0 + 2;
    let mut k = 0u64;
    let hedge = b.hedge;
    let drive = |b: &mut Book, ev: &MarketEvent, sink: &mut Tally| {
        b.eng.on_event(ev, 0, sink);
        for o in sink.orders.drain(..) {
            b.eng.on_fill(&OptionsFill::paper(&o));
        }
    };
    let hedge_ns = time(ticks, || {
        for _ in 0..ticks {
            t += 2_000_000;
            k += 1;
            let mid = S * (1.0 + 1e-4 * ((k % 11) as f64 - 5.0));
            drive(b, &bbo(hedge, t, mid), &mut sink);
        }
    });
    let n = b.specs.len();
    let ticker_ns = time(ticks, || {
        for _ in 0..ticks {
            t += 1_000;
            k += 1;
            let s = b.specs[(k as usize * 7919) % n];
            drive(b, &ticker(&s, t, k), &mut sink);
        }
    });
    (hedge_ns, ticker_ns)
}

fn main() {
    println!("== SVI refit of one expiry (max 400 evals, x_tol 1e-6: the surface defaults) ==");
    fits();
    println!();
    println!("== options engine per event: surface + GARCH on vs off (same chain, same events) ==");
    println!(
        "{:>10} {:>14} {:>14} {:>8} {:>14} {:>14} {:>8}",
        "chain", "hedge tick on", "off", "on/off", "ticker on", "off", "on/off"
    );
    for (expiries, strikes, ticks) in [(4, 25, 400), (10, 100, 100)] {
        let mut on = book(expiries, strikes, true);
        let mut off = book(expiries, strikes, false);
        let ((h_on, _), (t_on, _)) = engine_costs(&mut on, ticks);
        let ((h_off, _), (t_off, _)) = engine_costs(&mut off, ticks);
        let st = on.eng.surface().expect("surface").stats();
        println!(
            "{:>4}×{:<5} {:>11.0} ns {:>11.0} ns {:>8.2} {:>11.0} ns {:>11.0} ns {:>8.1}   (svi fits {}, fallbacks {}, butterfly flags {})",
            expiries,
            strikes,
            h_on,
            h_off,
            h_on / h_off,
            t_on,
            t_off,
            t_on / t_off,
            st.svi_fits,
            st.fallbacks,
            st.butterfly_flags
        );
    }
}
