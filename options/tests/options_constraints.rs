//! Scenarios of the options engine where one constraint must bind (delta band, gamma cap, vega
//! cap, liquidation buffer, liquidity, leverage): the orders and decisions must name it, and the
//! constrained quantity must respect it.

use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{EventKind, InstrumentId, MarketEvent};
use options::{Constraint, OptionsConfig, OptionsEngine, OptionsFill};
use testkit::options::{config, p8, Chain, Recorder, DAY_NS, T0};

const S: f64 = 50_000.0;

struct Setup {
    eng: OptionsEngine,
    hedge: InstrumentId,
    call: InstrumentId,
    far: InstrumentId,
}

fn setup(cfg: OptionsConfig) -> Setup {
    let mut chain = Chain::default();
    let call = chain.option("BTC-30D-50000-C", 50_000.0, T0 + 30 * DAY_NS, true);
    let far = chain.option("BTC-365D-50000-C", 50_000.0, T0 + 365 * DAY_NS, true);
    let eng = chain.engine(cfg).expect("valid engine");
    Setup {
        eng,
        hedge: chain.hedge,
        call,
        far,
    }
}

fn bbo(id: InstrumentId, t: u64, mid: f64, qty: f64) -> MarketEvent {
    testkit::options::bbo(id, t, mid, 0.25, qty)
}

fn ticker(id: InstrumentId, t: u64, iv: f64) -> MarketEvent {
    option_ticker(
        id,
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

/// Prices the chain (tickers then one hedge tick) and returns what the hedge tick produced.
fn prime(s: &mut Setup, hedge_qty: f64, iv: f64) -> Recorder {
    let mut r = Recorder::default();
    s.eng.on_event(&ticker(s.call, T0, iv), 0, &mut r);
    s.eng.on_event(&ticker(s.far, T0, iv), 0, &mut r);
    let mut r = Recorder::default();
    s.eng
        .on_event(&bbo(s.hedge, T0 + 1, S, hedge_qty), 0, &mut r);
    r
}

fn fill_all(s: &mut Setup, r: &Recorder) {
    for o in &r.orders {
        s.eng.on_fill(&OptionsFill::paper(o));
    }
}

#[test]
fn delta_band_binds_and_hedge_lands_inside_band() {
    let mut s = setup(config());
    assert!(s.eng.set_position(s.call, 10)); // 1 BTC of ATM call, delta ≈ 0.54
    assert!(s.eng.set_desired(s.call, 10));
    let r = prime(&mut s, 1e9, 0.6);
    assert_eq!(r.orders.len(), 1, "{:?}", r.orders);
    let o = r.orders[0];
    assert!(o.is_hedge);
    assert_eq!(o.reason, Constraint::DeltaBand);
    assert_eq!(o.binding, Constraint::DeltaBand);
    assert_eq!(o.side, feeds::Side::Sell);
    let d = r.decisions[0];
    assert!(
        d.before.delta > 0.5 && d.before.delta < 0.6,
        "{}",
        d.before.delta
    );
    assert!(
        d.after.delta.abs() <= 0.2 + 1e-12,
        "after {}",
        d.after.delta
    );
    // Edge hedging: the hedge brings delta just inside the edge (within one 10 USD lot).
    assert!(d.after.delta > 0.2 - 10.0 / S, "after {}", d.after.delta);
    fill_all(&mut s, &r);
    // Nothing more to do at the same price.
    let mut r2 = Recorder::default();
    s.eng
        .on_event(&bbo(s.hedge, T0 + 2, S + 1.0, 1e9), 0, &mut r2);
    assert!(r2.orders.is_empty(), "{:?}", r2.orders);
}

#[test]
fn gamma_cap_binds_on_an_oversized_book() {
    let mut c = config();
    // Gamma of 10 BTC of the 30-day ATM call ≈ 10 × φ(d1)/(S σ √T) ≈ 4.6e-4; cap at 2e-4.
    c.max_abs_gamma = 2e-4;
    let mut s = setup(c);
    s.eng.set_position(s.call, 100);
    s.eng.set_desired(s.call, 100);
    let r = prime(&mut s, 1e9, 0.6);
    let opt: Vec<_> = r.orders.iter().filter(|o| !o.is_hedge).collect();
    assert_eq!(opt.len(), 1);
    assert_eq!(opt[0].reason, Constraint::GammaCap);
    assert_eq!(opt[0].binding, Constraint::GammaCap);
    assert_eq!(opt[0].side, feeds::Side::Sell);
    let d = r.decisions[0];
    assert_eq!(d.scale_binding, Constraint::GammaCap);
    assert!(d.desired.gamma > 2e-4);
    assert!(d.after.gamma <= 2e-4, "{}", d.after.gamma);
    // Largest whole-lot book under the cap: one more lot would breach it.
    let per_lot = d.after.gamma / opt[0].target_lots as f64;
    assert!((opt[0].target_lots + 1) as f64 * per_lot > 2e-4);
    // The hedge follows the cut book, inside the band.
    assert!(d.after.delta.abs() <= 0.2 + 1e-12);
}

#[test]
fn gamma_cap_limits_an_increase_toward_the_desired_book() {
    let mut c = config();
    c.max_abs_gamma = 2e-4;
    let mut s = setup(c);
    s.eng.set_desired(s.call, 100);
    let r = prime(&mut s, 1e9, 0.6);
    let o = r.orders.iter().find(|o| !o.is_hedge).expect("option order");
    assert_eq!(o.reason, Constraint::Model);
    assert_eq!(o.binding, Constraint::GammaCap);
    assert_eq!(o.side, feeds::Side::Buy);
    assert!(o.target_lots < 100 && o.target_lots > 0);
    assert!(r.decisions[0].after.gamma <= 2e-4);
}

#[test]
fn vega_cap_binds_on_a_long_dated_book() {
    let mut c = config();
    // Vega of 10 BTC of the 1-year ATM call ≈ 10 × S φ(d1) √T / 100 ≈ 1.9k USD per vol point.
    c.max_abs_vega_per_vol_point = 500.0;
    let mut s = setup(c);
    s.eng.set_position(s.far, 100);
    s.eng.set_desired(s.far, 100);
    let r = prime(&mut s, 1e9, 0.6);
    let o = r.orders.iter().find(|o| !o.is_hedge).expect("option order");
    assert_eq!(o.instrument, s.far);
    assert_eq!(o.reason, Constraint::VegaCap);
    assert_eq!(o.binding, Constraint::VegaCap);
    let d = r.decisions[0];
    assert!(d.desired.vega_per_vol_point > 500.0);
    assert!(d.after.vega_per_vol_point <= 500.0);
    assert!(d.after.gamma <= d.max_abs_gamma);
}

#[test]
fn liquidation_buffer_binds_with_little_coin_collateral() {
    let mut c = config();
    c.collateral_coin = 0.25;
    let mut s = setup(c);
    s.eng.set_position(s.call, 100); // 10 BTC, delta ≈ 5.4: needs a 270k USD short
    s.eng.set_desired(s.call, 100);
    let r = prime(&mut s, 1e9, 0.6);
    let d = r.decisions[0];
    assert_eq!(d.scale_binding, Constraint::LiquidationBuffer);
    assert!(d.scale_liquidation < 1.0 && d.scale_liquidation < d.scale_leverage);
    let o = r.orders.iter().find(|o| !o.is_hedge).expect("option cut");
    assert_eq!(o.reason, Constraint::LiquidationBuffer);
    assert_eq!(o.binding, Constraint::LiquidationBuffer);
    let h = r.orders.iter().find(|o| o.is_hedge).expect("hedge");
    // The hedge never exceeds what the buffer allows.
    assert!(h.target_lots.unsigned_abs() as f64 * 10.0 / S <= d.max_hedge_delta_liquidation + 1e-9);
}

#[test]
fn vol_shock_cuts_exposure_by_the_liquidation_buffer() {
    let mut c = config();
    c.collateral_coin = 0.8;
    let mut s = setup(c);
    s.eng.set_position(s.call, 100);
    s.eng.set_desired(s.call, 100);
    let r = prime(&mut s, 1e9, 0.6);
    assert!(
        r.orders.iter().all(|o| o.is_hedge),
        "calm market: only a hedge {:?}",
        r.orders
    );
    fill_all(&mut s, &r);
    // Implied vol triples: the buffer widens, the book must shrink.
    let mut r2 = Recorder::default();
    s.eng.on_event(&ticker(s.far, T0 + 10, 1.8), 0, &mut r2);
    s.eng.on_event(&ticker(s.call, T0 + 11, 1.8), 0, &mut r2);
    let cut = r2
        .orders
        .iter()
        .find(|o| !o.is_hedge)
        .expect("option cut after the shock");
    assert_eq!(cut.reason, Constraint::LiquidationBuffer);
    assert_eq!(cut.side, feeds::Side::Sell);
    let d = r2.decisions.last().unwrap();
    assert!(d.vol_used > 1.7);
    assert_eq!(d.scale_binding, Constraint::LiquidationBuffer);
}

#[test]
fn leverage_binds_when_tighter_than_the_buffer() {
    let mut c = config();
    c.collateral_coin = 1.0;
    c.max_leverage = 2.0; // at most 2 BTC of hedge delta
    c.buffer_k = 0.0;
    c.mmr = 0.001;
    let mut s = setup(c);
    s.eng.set_position(s.call, 100);
    s.eng.set_desired(s.call, 100);
    let r = prime(&mut s, 1e9, 0.6);
    let d = r.decisions[0];
    assert_eq!(d.scale_binding, Constraint::Leverage);
    let o = r.orders.iter().find(|o| !o.is_hedge).expect("option cut");
    assert_eq!(
        (o.reason, o.binding),
        (Constraint::Leverage, Constraint::Leverage)
    );
    let h = r.orders.iter().find(|o| o.is_hedge).expect("hedge");
    assert!(h.target_lots.unsigned_abs() as f64 * 10.0 / S <= 2.0 + 1e-9);
}

#[test]
fn liquidity_caps_the_hedge_to_the_touch() {
    let mut s = setup(config());
    s.eng.set_position(s.call, 100); // needs ≈ 5.2 BTC ≈ 26k lots of 10 USD
    s.eng.set_desired(s.call, 100);
    let r = prime(&mut s, 1_000.0, 0.6); // 1000 USD displayed = 100 lots
    assert_eq!(r.orders.len(), 1);
    let o = r.orders[0];
    assert!(o.is_hedge);
    assert_eq!(o.reason, Constraint::DeltaBand);
    assert_eq!(o.binding, Constraint::Liquidity);
    assert_eq!(o.qty_lots, 100);
    assert_eq!(r.decisions[0].hedge_liquidity_cap_lots, 100);
}

#[test]
fn liquidity_frac_caps_option_resizes_to_the_option_book() {
    let mut c = config();
    c.max_abs_gamma = 2e-4;
    c.liquidity_frac = 0.5;
    let mut s = setup(c);
    s.eng.set_position(s.call, 100);
    s.eng.set_desired(s.call, 100);
    let mut r = Recorder::default();
    // The option's own book shows 2 BTC a side: half of it is 10 lots.
    let mut e = bbo(s.call, T0, 0.05, 2.0);
    e.bid.px = p8(0.049);
    e.ask.px = p8(0.051);
    s.eng.on_event(&e, 0, &mut r);
    let r = prime(&mut s, 1e9, 0.6);
    let o = r.orders.iter().find(|o| !o.is_hedge).expect("option cut");
    assert_eq!(o.reason, Constraint::GammaCap);
    assert_eq!(o.binding, Constraint::Liquidity);
    assert_eq!(o.qty_lots, 10);
}

#[test]
fn single_option_revaluation_matches_a_full_batch() {
    let mut a = setup(config());
    let mut b = setup(config());
    let mut r = Recorder::default();
    for s in [&mut a, &mut b] {
        s.eng.on_event(&ticker(s.call, T0, 0.6), 0, &mut r);
        s.eng.on_event(&ticker(s.far, T0, 0.6), 0, &mut r);
        s.eng.on_event(&bbo(s.hedge, T0 + 1, S, 1e9), 0, &mut r);
    }
    // a: only the call's ticker moves (one-option batch); b: then a full revaluation at the
    // same underlying and time.
    a.eng.on_event(&ticker(a.call, T0 + 1, 0.7), 0, &mut r);
    b.eng.on_event(&ticker(b.call, T0 + 1, 0.7), 0, &mut r);
    // Tickers before the first underlying price are stored, not priced.
    assert_eq!(a.eng.stats().single_revaluations, 1);
    b.eng
        .on_event(&bbo(b.hedge, T0 + 1, S + 0.5, 1e9), 0, &mut r);
    b.eng.on_event(&bbo(b.hedge, T0 + 1, S, 1e9), 0, &mut r);
    assert_eq!(b.eng.stats().full_revaluations, 3);
    let (ca, cb) = (a.eng.chain(), b.eng.chain());
    for i in 0..ca.len() {
        assert_eq!(ca.delta[i].to_bits(), cb.delta[i].to_bits());
        assert_eq!(ca.gamma[i].to_bits(), cb.gamma[i].to_bits());
        assert_eq!(ca.vega[i].to_bits(), cb.vega[i].to_bits());
    }
    assert!(ca.vega[0] > 0.0);
}

#[test]
fn no_sizing_from_an_invalid_hedge_book() {
    let mut s = setup(config());
    s.eng.set_position(s.call, 10);
    let mut r = Recorder::default();
    s.eng.on_event(&ticker(s.call, T0, 0.6), 0, &mut r);
    let mut e = bbo(s.hedge, T0 + 1, S, 1e9);
    e.flags = 0;
    s.eng.on_event(&e, 0, &mut r);
    assert!(r.orders.is_empty());
    let gap = MarketEvent::new(EventKind::Gap, s.hedge, T0 + 2);
    s.eng.on_event(&bbo(s.hedge, T0 + 2, S, 1e9), 0, &mut r);
    assert_eq!(r.orders.len(), 1);
    s.eng.on_event(&gap, 0, &mut r);
    s.eng.on_event(&ticker(s.call, T0 + 3, 0.9), 0, &mut r);
    assert_eq!(r.orders.len(), 1, "nothing sized after a gap");
}
