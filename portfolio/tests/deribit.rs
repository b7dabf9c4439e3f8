//! Deribit futures as traded instruments in a `deribit` account: the account's standard margin
//! binds and is named in the order, its liquidation distance equals the closed form, held
//! options count in its equity and margin, bad configurations name their key, and the kernel
//! still allocates nothing per tick.

mod common;

use common::{deribit_spec, drive, registry, Walk};
use feeds::{InstrumentId, Market};
use portfolio::{record_ring, KeepRecords, PortfolioKernel, PortfolioSpec, Rebalance};
use risk_core::margin::deribit::{DeribitFuture, DeribitRates};
use risk_core::margin::Side;

#[global_allocator]
static GLOBAL: testkit::alloc::Counting = testkit::alloc::Counting;

/// Index of the Deribit perpetual and of its account in `deribit_spec`.
const PERP: usize = 4;
const ACCOUNT: usize = 3;

fn kernel(spec: PortfolioSpec) -> PortfolioKernel<KeepRecords> {
    let reg = registry(&spec);
    PortfolioKernel::new(spec, &reg, KeepRecords::default()).unwrap()
}

/// The perpetual's rows over every record.
fn perp_bindings(k: &PortfolioKernel<KeepRecords>) -> Vec<&'static str> {
    k.sink()
        .0
        .iter()
        .map(|r| r.instruments[PERP].binding)
        .collect()
}

#[test]
fn the_deribit_margin_binds_the_perpetual_and_is_named_in_its_order() {
    // 0.5 BTC on Deribit cannot carry the BTC target (a few BTC) within a 4 σ one-day buffer:
    // the perpetual, the cheapest BTC instrument, takes what the buffer allows and the rest goes
    // to the Binance instruments.
    let mut tight = kernel(deribit_spec(0.5, str::to_owned));
    let orders = drive(&mut tight, &mut Walk::new(4), 300, 50.0);
    let perp_orders: Vec<_> = orders
        .iter()
        .filter(|o| o.instrument == InstrumentId(PERP as u32))
        .collect();
    assert!(!perp_orders.is_empty());
    assert!(
        perp_orders
            .iter()
            .any(|o| o.binding.as_str() == "liquidation_buffer"),
        "{:?}",
        perp_orders.iter().map(|o| o.binding).collect::<Vec<_>>()
    );
    assert!(perp_bindings(&tight).contains(&"liquidation_buffer"));
    // The other BTC instruments took the rest: the factor still reaches its target.
    let target = tight.target(0).unwrap();
    let net = tight.net_exposure(0).0;
    assert!((net - target).abs() < 0.02 * 1e6 + 1.0, "{net} vs {target}");

    // With 100 BTC on Deribit the margin never binds, and the perpetual holds more.
    let mut loose = kernel(deribit_spec(100.0, str::to_owned));
    drive(&mut loose, &mut Walk::new(4), 300, 50.0);
    assert!(!perp_bindings(&loose).contains(&"liquidation_buffer"));
    let face = |k: &PortfolioKernel<KeepRecords>| k.position(PERP).abs();
    assert!(
        face(&loose) > face(&tight),
        "{} vs {}",
        face(&loose),
        face(&tight)
    );

    // Every record names the account and its margin is finite; the peak margin use stays under
    // the ceiling the policy kept at each decision.
    for r in &tight.sink().0 {
        let a = &r.accounts[ACCOUNT];
        assert!(a.equity > 0.0 && a.margin_ratio.is_finite(), "{a:?}");
        assert!(a.margin_ratio < 0.5, "{a:?}");
    }
}

#[test]
fn the_liquidation_distance_of_a_lone_perpetual_is_the_closed_form() {
    let mut k = kernel(deribit_spec(0.5, str::to_owned));
    drive(&mut k, &mut Walk::new(6), 300, 50.0);
    let x = k.instrument(PERP).unwrap();
    assert!(x.pos != 0.0);
    let acc = k.account(ACCOUNT).unwrap();
    let f = DeribitFuture {
        side: if x.pos > 0.0 { Side::Long } else { Side::Short },
        face_usd: x.pos.abs() * x.multiplier,
        entry_px: x.entry,
    };
    let mid = x.mid();
    let want = f
        .liquidation_band(&DeribitRates::BTC, acc.wallet)
        .unwrap()
        .distance_from(mid);
    let m = k.account_margin(ACCOUNT).unwrap();
    assert!(
        (m.liq_distance - want).abs() < 1e-9 * want,
        "{} vs {want}",
        m.liq_distance
    );
    // Equity and margin by hand: wallet + PnL; maintenance and initial at the size in coin.
    let size = f.face_usd / mid;
    assert!((m.equity - (acc.wallet + f.unrealized_pnl(mid))).abs() < 1e-12);
    assert!(
        (m.maintenance - size * (0.01 + 0.000_05 * size)).abs() < 1e-12,
        "{}",
        m.maintenance
    );
    assert!((m.initial - size * (0.02 + 0.000_05 * size)).abs() < 1e-12);
}

/// `deribit_spec` with 6 BTC on Deribit holding `qty` of a deep in-the-money BTC call (in the
/// Deribit account: the only deribit account in BTC). A written call takes about one BTC of
/// value and 1.1 BTC of maintenance per contract from the account.
fn with_call(qty: f64) -> PortfolioSpec {
    deribit_spec(6.0, |s| {
        format!(
            "{s}\n[[options]]\nsymbol = \"BTC-27DEC30-1000-C\"\nfactor = \"BTC\"\nqty = {qty:?}\n"
        )
    })
}

/// Drives `k` with the walk and, after every step, the option's ticker at the BTC price.
fn drive_with_ticker(
    k: &mut PortfolioKernel<KeepRecords>,
    opt: InstrumentId,
    walk: &mut Walk,
    steps: usize,
) {
    for _ in 0..steps {
        drive(k, walk, 1, 50.0);
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
        engine::pipeline::KernelLogic::on_event(k, &ev, 0, &mut |_| {});
    }
}

#[test]
fn a_written_option_counts_in_its_deribit_account() {
    let spec = with_call(-2.0);
    let mut reg = registry(&spec);
    let opt = reg.register("BTC-27DEC30-1000-C", Market::Deribit, 8, 8);
    let mut k = PortfolioKernel::new(spec, &reg, KeepRecords::default()).unwrap();
    drive_with_ticker(&mut k, opt, &mut Walk::new(7), 300);
    let held = k.held();
    assert_eq!(held.account, vec![Some(ACCOUNT)]);
    let mark = held.mark_coin(0).unwrap();
    // Deep in the money: the mark is near the intrinsic value in coin.
    assert!(mark > 0.95 && mark < 1.0, "{mark}");
    let m = k.account_margin(ACCOUNT).unwrap();
    let x = k.instrument(PERP).unwrap();
    let acc = k.account(ACCOUNT).unwrap();
    let rates = DeribitRates::BTC;
    let (mut equity, mut mm, mut im) = (acc.wallet - 2.0 * mark, 0.0, 0.0);
    if x.pos != 0.0 {
        let f = DeribitFuture {
            side: if x.pos > 0.0 { Side::Long } else { Side::Short },
            face_usd: x.pos.abs(),
            entry_px: x.entry,
        };
        equity += f.unrealized_pnl(x.mid());
        mm += f.maintenance_margin(&rates, x.mid());
        im += f.initial_margin(&rates, x.mid());
    }
    // Short call: MM 0.075 + mark per contract; IM max(0.15 − OTM/U, 0.1) + mark, in the money.
    mm += 2.0 * (0.075 + mark);
    im += 2.0 * (0.15 + mark);
    assert!((m.equity - equity).abs() < 1e-9, "{} vs {equity}", m.equity);
    assert!(
        (m.maintenance - mm).abs() < 1e-9,
        "{} vs {mm}",
        m.maintenance
    );
    assert!((m.initial - im).abs() < 1e-9, "{} vs {im}", m.initial);
    assert!(m.liq_distance > 0.0 && m.liq_distance.is_finite());
    // The written call is short about 2 BTC of delta: the factor's net delta counts it.
    let r = k.sink().0.last().unwrap();
    assert!((r.factors[0].option_delta + 2.0).abs() < 0.01);
}

#[test]
fn bad_deribit_configurations_name_their_key() {
    /// (the key named, the spec edit).
    type Case = (&'static str, fn(&str) -> String);
    let cases: [Case; 8] = [
        ("portfolio.accounts[3].mmr", |s| {
            s.replace("kind = \"deribit\"", "kind = \"deribit\"\nmmr = 0.01")
        }),
        ("portfolio.accounts[3].future_mm", |s| {
            s.replace("kind = \"deribit\"", "kind = \"deribit\"\nfuture_mm = 0.05")
        }),
        ("portfolio.accounts[0].slope_per_coin", |s| {
            s.replacen(
                "kind = \"margin\"",
                "kind = \"margin\"\nslope_per_coin = 0.1",
                1,
            )
        }),
        ("portfolio.accounts[3].currency", |s| {
            s.replace("currency = \"BTC\"\ncollateral = 0.5", "collateral = 0.5")
        }),
        ("portfolio.instruments[4].multiplier", |s| {
            s.replace("lot = 10.0", "lot = 1.0\nmultiplier = 10.0")
        }),
        ("portfolio.instruments[4].symbol", |s| {
            s.replace("BTC-PERPETUAL", "BTC-27DEC30-1000-C")
        }),
        ("portfolio.instruments[4].account", |s| {
            s.replace("account = \"deribit\"", "account = \"coinm\"")
        }),
        ("portfolio.options[0].account", |s| {
            format!("{s}\n[[options]]\nsymbol = \"BTC-27DEC30-1000-C\"\nfactor = \"BTC\"\nqty = 1.0\naccount = \"usdm\"\n")
        }),
    ];
    for (key, edit) in cases {
        let spec = deribit_spec(0.5, edit);
        let e = spec
            .check()
            .map(|_| ())
            .and_then(|()| portfolio::held::HeldBook::new(&spec).map(|_| ()));
        let e = e.expect_err(key);
        assert_eq!(e.key, key, "{e}");
    }
    // A currency without a published slope needs one.
    let spec = deribit_spec(0.5, |s| {
        s.replace("name = \"ETH\"", "name = \"SOL\"")
            .replace("factor = \"ETH\"", "factor = \"SOL\"")
            .replace(
                "currency = \"BTC\"\ncollateral = 0.5",
                "currency = \"SOL\"\ncollateral = 0.5",
            )
            .replace(
                "symbol = \"BTC-PERPETUAL\"\nfactor = \"BTC\"",
                "symbol = \"SOL-PERPETUAL\"\nfactor = \"SOL\"",
            )
    });
    assert_eq!(
        spec.check().unwrap_err().key,
        "portfolio.accounts[3].slope_per_coin"
    );
}

#[test]
fn no_allocation_per_tick_with_a_deribit_account_and_a_written_option() {
    let spec = with_call(-1.0);
    let mut reg = registry(&spec);
    let opt = reg.register("BTC-27DEC30-1000-C", Market::Deribit, 8, 8);
    let template = Rebalance::with_capacity(2, 5, 4);
    let (ring, mut drain) = record_ring(&template, 8);
    let mut k = PortfolioKernel::new(spec, &reg, ring).unwrap();
    let mut walk = Walk::new(3);
    let mut orders = Vec::with_capacity(1 << 16);
    let mut step = |k: &mut PortfolioKernel<_>, walk: &mut Walk, orders: &mut Vec<_>| {
        let mids = walk.step();
        for i in 0..5 {
            let ev = common::touch(i, walk.t + i as u64, mids, 50.0);
            let before = orders.len();
            engine::pipeline::KernelLogic::on_event(k, &ev, 0, &mut |o| orders.push(o));
            for o in orders[before..].iter().copied() {
                let o: engine::order::Order = o;
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
        let f = mids[0];
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
        engine::pipeline::KernelLogic::on_event(k, &ev, 0, &mut |_| {});
        while let Some(r) = drain.pop() {
            drain.give_back(r);
        }
    };
    for _ in 0..200 {
        step(&mut k, &mut walk, &mut orders);
    }
    let before: u64 = k.portfolio_stats().rebalances.iter().sum();
    let perp_orders = orders.iter().filter(|o| o.instrument.0 == 4).count();
    let ((), allocs) = testkit::alloc::measure(|| {
        for _ in 0..400 {
            step(&mut k, &mut walk, &mut orders);
        }
    });
    let rebalances = k.portfolio_stats().rebalances.iter().sum::<u64>() - before;
    assert!(rebalances >= 5, "{rebalances} rebalances measured");
    assert!(perp_orders > 0, "the perpetual traded");
    assert_eq!(
        allocs, 0,
        "allocations over 400 steps and {rebalances} rebalances"
    );
}
