//! The portfolio kernel on a seeded two-factor market: risk contributions at budget at every
//! rebalance, each instrument constraint binding and named, no allocation per tick.

mod common;

use common::{drive, registry, spec_with, Walk};
use portfolio::{record_ring, FactorBinding, KeepRecords, PortfolioKernel, Rebalance};

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

fn kernel(spec: portfolio::PortfolioSpec) -> PortfolioKernel<KeepRecords> {
    let reg = registry(&spec);
    PortfolioKernel::new(spec, &reg, KeepRecords::default()).unwrap()
}

/// Max |RCᵢ − bᵢ| / bᵢ of a record's targets under its own covariance.
fn rc_error(r: &Rebalance) -> f64 {
    let k = r.cov_factors.len();
    let e: Vec<f64> = r
        .cov_factors
        .iter()
        .map(|&f| r.factors[f].target_exposure)
        .collect();
    let sx: Vec<f64> = (0..k)
        .map(|i| (0..k).map(|j| r.cov[i * k + j] * e[j]).sum())
        .collect();
    let var: f64 = e.iter().zip(&sx).map(|(a, b)| a * b).sum();
    r.cov_factors
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            let b = r.factors[f].budget;
            (e[i] * sx[i] / var - b).abs() / b
        })
        .fold(0.0, f64::max)
}

#[test]
fn every_rebalance_holds_the_budgets_and_nets_exposure_across_venues() {
    let mut k = kernel(spec_with(str::to_owned));
    let orders = drive(&mut k, &mut Walk::new(1), 600, 50.0);
    let recs = &k.sink().0;
    assert!(recs.len() >= 5, "{} rebalances", recs.len());
    assert!(!orders.is_empty());
    for r in recs {
        assert_eq!(r.cov_factors, vec![0, 1]);
        assert!(r.factors.iter().all(|f| f.binding == FactorBinding::Model));
        let err = rc_error(r);
        assert!(err < 1e-8, "rebalance {}: {err:e}", r.seq);
        assert!((r.portfolio_vol - 0.3).abs() < 1e-9);
        for row in &r.instruments {
            if row.order_id != 0 {
                let o = orders.iter().find(|o| o.id == row.order_id).unwrap();
                assert_eq!(o.rebalance, r.seq);
            }
        }
    }
    // After the last rebalance the net exposure of each factor across its venues is its target
    // (to the band: prices moved since).
    for f in 0..2 {
        let target = k.target(f).unwrap();
        let net = k.net_exposure(f).0;
        assert!(
            (net - target).abs() < 0.02 * 1e6 + 1.0,
            "factor {f}: net {net} target {target}"
        );
    }
}

/// The bindings of the instruments' rows over every record.
fn bindings(k: &PortfolioKernel<KeepRecords>) -> Vec<&'static str> {
    k.sink()
        .0
        .iter()
        .flat_map(|r| r.instruments.iter().map(|i| i.binding))
        .collect()
}

#[test]
fn each_instrument_constraint_binds_and_is_named() {
    /// (binding expected, spec edit, touch quantity).
    type Case = (&'static str, fn(&str) -> String, f64);
    let cases: [Case; 6] = [
        ("liquidity", str::to_owned, 0.01),
        (
            "max_notional",
            |s| s.replacen("fee_bps = 5.0", "fee_bps = 5.0\nmax_notional = 1000.0", 1),
            50.0,
        ),
        (
            "delta_limit",
            |s| s.replacen("budget = 0.6", "budget = 0.6\nmax_delta = 0.5", 1),
            50.0,
        ),
        (
            "liquidation_buffer",
            |s| {
                s.replacen("collateral = 500000.0", "collateral = 2000.0", 1)
                    .replace("fee_bps = 10.0", "fee_bps = 10.0\nmax_notional = 1.0")
                    .replace(
                        "multiplier = 100.0",
                        "multiplier = 100.0\nmax_notional = 1.0",
                    )
            },
            50.0,
        ),
        (
            "min_trade_size",
            |s| s.replace("fee_bps = 5.0", "fee_bps = 5.0\nmin_notional = 1e12"),
            50.0,
        ),
        (
            "spot_balance",
            |s| {
                s.replace("fee_bps = 10.0", "fee_bps = 0.0")
                    .replace("collateral = 100000.0", "collateral = 1000.0")
            },
            50.0,
        ),
    ];
    for (want, edit, qty) in cases {
        let mut k = kernel(spec_with(edit));
        let orders = drive(&mut k, &mut Walk::new(2), 200, qty);
        let b = bindings(&k);
        assert!(b.contains(&want), "{want}: {b:?}");
        if want != "min_trade_size" {
            assert!(
                orders.iter().any(|o| o.binding.as_str() == want),
                "{want}: no order says so"
            );
        }
    }
}

#[test]
fn no_allocation_per_tick_after_warm_up() {
    let spec = spec_with(str::to_owned);
    let reg = registry(&spec);
    let template = Rebalance::with_capacity(2, 4, 3);
    let (ring, mut drain) = record_ring(&template, 8);
    let mut k = PortfolioKernel::new(spec, &reg, ring).unwrap();
    let mut walk = Walk::new(3);
    let mut orders = Vec::with_capacity(1 << 16);
    let mut step = |k: &mut PortfolioKernel<_>, walk: &mut Walk, orders: &mut Vec<_>| {
        let mids = walk.step();
        for i in 0..4 {
            let ev = common::touch(i, walk.t + i as u64, mids, 50.0);
            let before = orders.len();
            engine::pipeline::KernelLogic::on_event(k, &ev, 0, &mut |o| orders.push(o));
            for o in orders[before..].iter().copied() {
                engine::pipeline::KernelLogic::on_fill(
                    k,
                    &engine::order::Fill {
                        order_id: o.id,
                        instrument: o.instrument,
                        side: o.side,
                        qty: o.qty.min(o.touch_qty),
                        px: o.limit_px,
                        cancelled_qty: o.qty - o.qty.min(o.touch_qty),
                        t_report: 0,
                    },
                );
            }
        }
        while let Some(r) = drain.pop() {
            drain.give_back(r);
        }
    };
    for _ in 0..200 {
        step(&mut k, &mut walk, &mut orders);
    }
    let rebalances_before: u64 = k.portfolio_stats().rebalances.iter().sum();
    let ((), allocs) = testkit::alloc::measure(|| {
        for _ in 0..400 {
            step(&mut k, &mut walk, &mut orders);
        }
    });
    let rebalances: u64 = k.portfolio_stats().rebalances.iter().sum::<u64>() - rebalances_before;
    assert!(rebalances >= 5, "{rebalances} rebalances measured");
    assert_eq!(
        allocs, 0,
        "allocations over 400 steps and {rebalances} rebalances"
    );
}

#[test]
fn a_held_option_book_is_hedged_with_the_linear_instruments() {
    // The same market twice: without options, and holding 5 deep in-the-money BTC calls
    // (delta ≈ 1 each) whose ticker arrives every step.
    let plain = spec_with(str::to_owned);
    let mut k0 = kernel(plain.clone());
    drive(&mut k0, &mut Walk::new(5), 300, 50.0);
    let with = spec_with(|s| {
        format!("{s}\n[[options]]\nsymbol = \"BTC-27DEC30-1000-C\"\nfactor = \"BTC\"\nqty = 5.0\n")
    });
    let mut reg = registry(&with);
    let opt = reg.register("BTC-27DEC30-1000-C", feeds::Market::Deribit, 8, 8);
    let mut k1 = PortfolioKernel::new(with, &reg, KeepRecords::default()).unwrap();
    let mut walk = Walk::new(5);
    for _ in 0..300 {
        // One step of the same walk, then the option's ticker at the new BTC price.
        drive(&mut k1, &mut walk, 1, 50.0);
        let f = walk.x[0].exp();
        let ev = feeds::deribit::option_ticker(
            opt,
            walk.t + 10,
            0,
            &feeds::deribit::OptionTicker {
                underlying_px: f,
                mark_px: (f - 1000.0) / f,
                mark_iv: 0.6,
                bid_iv: 0.59,
                ask_iv: 0.61,
            },
        );
        engine::pipeline::KernelLogic::on_event(&mut k1, &ev, 0, &mut |_| {
            panic!("a ticker between samples sends no order")
        });
    }
    let r = k1.sink().0.last().unwrap();
    assert!(
        (r.factors[0].option_delta - 5.0).abs() < 5e-3,
        "{}",
        r.factors[0].option_delta
    );
    assert!(r.factors[0].option_gamma.abs() < 1e-6);
    // Both portfolios hold the same BTC net exposure (the option counts in it), so the one with
    // the options holds about 5 BTC less in its linear and inverse instruments.
    let (n0, d0) = k0.net_exposure(0);
    let (n1, d1) = k1.net_exposure(0);
    let mid = walk.x[0].exp();
    assert!((n0 - n1).abs() < 0.03 * 1e6, "net {n0} vs {n1}");
    let option_part = k1.sink().0.last().unwrap().factors[0].option_delta;
    assert!(
        (d0 - d1).abs() < 0.03 * 1e6 / mid,
        "net deltas {d0} vs {d1}"
    );
    let legs0 = d0;
    let legs1 = d1 - option_part;
    assert!(
        (legs0 - legs1 - 5.0).abs() < 0.03 * 1e6 / mid + 0.05,
        "instrument deltas {legs0} vs {legs1}"
    );
}

#[test]
fn garch_volatilities_replace_the_ewma_diagonal_and_keep_the_budgets() {
    let mut ewma = kernel(spec_with(str::to_owned));
    let mut garch = kernel(spec_with(|s| {
        s.replace(
            "shrinkage = 0.0",
            "shrinkage = 0.0\nvol_model = \"garch\"\ngarch_alpha = 0.2\ngarch_beta = 0.7",
        )
    }));
    drive(&mut ewma, &mut Walk::new(9), 400, 50.0);
    drive(&mut garch, &mut Walk::new(9), 400, 50.0);
    // The first rebalances (start) fall on the same sample: the covariance is ready at the same
    // time whatever the volatility model.
    let (e, g) = (&ewma.sink().0[0], &garch.sink().0[0]);
    assert_eq!(e.recv_ns, g.recv_ns);
    assert!((e.factors[0].vol - g.factors[0].vol).abs() > 1e-6);
    assert!(g.factors.iter().all(|f| f.vol > 0.0 && f.vol.is_finite()));
    // The EWMA correlation is kept: the off-diagonal over the vols' product is the same.
    let corr = |r: &Rebalance| r.cov[1] / (r.cov[0] * r.cov[3]).sqrt();
    assert!((corr(e) - corr(g)).abs() < 1e-9, "{} {}", corr(e), corr(g));
    for r in &garch.sink().0 {
        assert!(rc_error(r) < 1e-8);
    }
}

#[test]
fn the_implied_at_the_money_volatility_blends_into_the_forecast() {
    // BTC watches two options (quantity 0): the one nearer the money sets the implied vol.
    let spec = spec_with(|s| {
        format!(
            "{}\n[[options]]\nsymbol = \"BTC-27DEC30-60000-C\"\nfactor = \"BTC\"\nqty = 0.0\n\n[[options]]\nsymbol = \"BTC-27DEC30-90000-C\"\nfactor = \"BTC\"\nqty = 0.0\n",
            s.replacen("budget = 0.6", "budget = 0.6\nimplied_weight = 0.5", 1)
        )
    });
    let mut reg = registry(&spec);
    let atm = reg.register("BTC-27DEC30-60000-C", feeds::Market::Deribit, 8, 8);
    let otm = reg.register("BTC-27DEC30-90000-C", feeds::Market::Deribit, 8, 8);
    let mut k = PortfolioKernel::new(spec, &reg, KeepRecords::default()).unwrap();
    let mut plain = kernel(spec_with(str::to_owned));
    let (mut walk, mut walk0) = (Walk::new(8), Walk::new(8));
    for _ in 0..300 {
        drive(&mut k, &mut walk, 1, 50.0);
        drive(&mut plain, &mut walk0, 1, 50.0);
        let f = walk.x[0].exp();
        for (id, iv) in [(atm, 1.5), (otm, 3.0)] {
            let ev = feeds::deribit::option_ticker(
                id,
                walk.t + 10,
                0,
                &feeds::deribit::OptionTicker {
                    underlying_px: f,
                    mark_px: 0.1,
                    mark_iv: iv,
                    bid_iv: iv,
                    ask_iv: iv,
                },
            );
            engine::pipeline::KernelLogic::on_event(&mut k, &ev, 0, &mut |_| {});
        }
    }
    // The first rebalances fall on the same sample (readiness does not depend on the vols).
    let (r, r0) = (&k.sink().0[0], &plain.sink().0[0]);
    assert_eq!(r.recv_ns, r0.recv_ns, "same rebalance clock");
    let forecast = r0.factors[0].vol;
    let blended = r.factors[0].vol;
    assert!(
        (blended - (0.5 * forecast + 0.5 * 1.5)).abs() < 1e-12,
        "{blended} vs forecast {forecast}"
    );
    assert!(
        (r.factors[1].vol - r0.factors[1].vol).abs() < 1e-15,
        "ETH untouched"
    );
    // The matrix's diagonal carries it, the correlation stays, the budgets hold.
    assert!((r.cov[0].sqrt() - blended).abs() < 1e-9 * blended);
    let corr = |x: &Rebalance| x.cov[1] / (x.cov[0] * x.cov[3]).sqrt();
    assert!((corr(r) - corr(r0)).abs() < 1e-9);
    assert!(rc_error(r) < 1e-8);
    assert!(
        r.factors[0].weight < r0.factors[0].weight,
        "more vol, less weight"
    );
}

#[test]
fn kelly_follows_an_expected_return_signal() {
    use portfolio::signal::Signal;
    let spec = spec_with(|s| {
        s.replace(
            "policy = \"risk-parity\"\ntarget_vol = 0.3",
            "policy = \"kelly\"\nkelly_fraction = 0.5",
        )
        .replace("budget = 0.6", "budget = 0.6\nexpected_return = 0.4")
        .replace("budget = 0.4", "budget = 0.4\nexpected_return = 0.2")
    });
    // Start of the walk plus 100 s (400 steps of 250 ms): BTC turns bearish, then ETH bullish at
    // the same instant, then a repeat of the same values (no change, no rebalance).
    let t0 = Walk::new(3).t;
    let at = |s: u64| t0 + s * 1_000_000_000 + 123;
    let signals = vec![
        Signal {
            recv_ns: at(100),
            factor: 0,
            expected_return: -0.3,
        },
        Signal {
            recv_ns: at(100),
            factor: 1,
            expected_return: 0.5,
        },
        Signal {
            recv_ns: at(130),
            factor: 0,
            expected_return: -0.3,
        },
    ];
    let reg = registry(&spec);
    let mut k = PortfolioKernel::new(spec, &reg, KeepRecords::default())
        .unwrap()
        .with_signals(signals);
    drive(&mut k, &mut Walk::new(3), 600, 50.0);
    let recs = &k.sink().0;
    assert_eq!(k.portfolio_stats().signals, 3);
    // The update is applied at the first boundary after it (101 s) and rebalances there.
    let first = recs
        .iter()
        .position(|r| r.recv_ns >= at(100))
        .expect("a rebalance after the signal");
    let r = &recs[first];
    assert_eq!(r.trigger, portfolio::Trigger::Signal);
    assert!(r.recv_ns < at(102), "{}", r.recv_ns - t0);
    assert_eq!(
        k.portfolio_stats().rebalances[5],
        1,
        "a repeated value is no change"
    );
    for (i, r) in recs.iter().enumerate() {
        let mu = if i < first { [0.4, 0.2] } else { [-0.3, 0.5] };
        assert_eq!(
            [r.factors[0].expected_return, r.factors[1].expected_return],
            mu
        );
        // Every target is ½ Σ⁻¹ μ under the record's own covariance (no limit binds here).
        assert_eq!(r.cov_factors, vec![0, 1]);
        let c = &r.cov;
        let det = c[0] * c[3] - c[1] * c[2];
        let w = [
            0.5 * (c[3] * mu[0] - c[1] * mu[1]) / det,
            0.5 * (c[0] * mu[1] - c[2] * mu[0]) / det,
        ];
        for (f, (wf, row)) in w.iter().zip(&r.factors).enumerate() {
            let want = wf * 1e6;
            let got = row.target_exposure;
            assert!(
                (got - want).abs() <= 1e-9 * want.abs(),
                "rebalance {} factor {f}: {got} vs {want}",
                r.seq
            );
        }
    }
    assert!(recs[first].factors[0].target_exposure < 0.0);
    assert!(recs[first - 1].factors[0].target_exposure > 0.0);
}
