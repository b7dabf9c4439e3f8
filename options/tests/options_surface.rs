//! The options engine's implied-volatility surface and GARCH forecast: a chain quoted from a
//! known SVI smile is reproduced by the fitted surface (on and between strikes and expiries,
//! mark or mid IVs); thin expiries fall back to their ATM mark IV; a volatility shock in the
//! underlying raises the GARCH forecast and the engine cuts its book by the liquidation buffer
//! while a linear extrapolation of the hedge's margin ratio is still far from a breach.

use feeds::deribit::{option_ticker, OptionTicker};
use feeds::{InstrumentId, MarketEvent};
use options::surface::SliceKind;
use options::{
    Constraint, Decision, IvSource, OptionsConfig, OptionsEngine, OptionsFill, OptionsOrder,
    SurfaceConfig, VolSource,
};
use risk_core::vol::svi::SviParams;
use risk_core::vol::Garch11Params;
use testkit::options::{Chain, Recorder, DAY_NS, T0};

const MIN_NS: u64 = 60_000_000_000;
const F: f64 = 50_000.0;
const YEAR_NS: f64 = 365.0 * 86_400.0 * 1e9;

/// The permissive configuration with `vol_source`, sampled every minute.
fn cfg(vol_source: VolSource) -> OptionsConfig {
    OptionsConfig {
        vol_source,
        sample_interval_ns: MIN_NS,
        ..testkit::options::config()
    }
}

fn bbo(id: InstrumentId, t: u64, mid: f64) -> MarketEvent {
    testkit::options::bbo(id, t, mid, 0.25, 1e9)
}

fn ticker(id: InstrumentId, t: u64, fwd: f64, iv: f64, half_spread: f64) -> MarketEvent {
    option_ticker(
        id,
        t,
        t,
        &OptionTicker {
            underlying_px: fwd,
            mark_px: 0.05,
            mark_iv: iv,
            bid_iv: iv - half_spread,
            ask_iv: iv + half_spread,
        },
    )
}

/// Variance smile (per year); each expiry's total variance is `T × v(k)`, calendar-free.
fn shape() -> SviParams {
    SviParams::new(0.2, 0.3, -0.3, 0.02, 0.3).unwrap()
}

fn true_iv(k: f64) -> f64 {
    shape().total_variance(k).sqrt()
}

/// `strikes_per` strikes per expiry (days), log-spaced in `k ∈ [−0.6, 0.4]`.
fn build(expiries: &[(u64, usize)]) -> Chain {
    let mut chain = Chain::default();
    for &(days, n) in expiries {
        for j in 0..n {
            let k = -0.6 + 1.0 * j as f64 / (n - 1).max(1) as f64;
            chain.option(
                &format!("O-{days}-{j}"),
                F * k.exp(),
                T0 + days * DAY_NS,
                k >= 0.0,
            );
        }
    }
    chain
}

fn engine(c: &Chain, vs: VolSource) -> OptionsEngine {
    c.engine(cfg(vs)).unwrap()
}

/// Sends every option's ticker at `t` with IVs from the known smile.
fn quote_chain(eng: &mut OptionsEngine, c: &Chain, t: u64, half_spread: f64) {
    let mut r = Recorder::default();
    for s in &c.specs {
        let iv = true_iv((s.strike / F).ln());
        eng.on_event(&ticker(s.instrument, t, F, iv, half_spread), 0, &mut r);
    }
}

#[test]
fn surface_reproduces_a_known_svi_chain() {
    for (source, half_spread) in [(IvSource::Mark, 0.0), (IvSource::Mid, 0.03)] {
        let c = build(&[(30, 21), (90, 21), (180, 21)]);
        let sc = SurfaceConfig {
            iv_source: source,
            ..SurfaceConfig::default()
        };
        let mut eng = engine(&c, VolSource::Implied).with_surface(sc).unwrap();
        // Mid source: the mark is off by 5 vol points, the mid is right.
        let mut r = Recorder::default();
        for s in &c.specs {
            let iv = true_iv((s.strike / F).ln());
            let mark = if source == IvSource::Mid {
                iv + 0.05
            } else {
                iv
            };
            let mut e = ticker(s.instrument, T0, F, iv, half_spread);
            e.bid.qty = mark.to_bits() as i64;
            eng.on_event(&e, 0, &mut r);
        }
        let surf = eng.surface().unwrap();
        assert_eq!(surf.slices().len(), 3);
        for sl in surf.slices() {
            assert_eq!(sl.kind, SliceKind::Svi, "{sl:?}");
            assert_eq!(sl.points, 21);
            assert!(sl.butterfly.is_free(), "{sl:?}");
            assert_eq!(sl.calendar_violations, 0);
            assert!(sl.rmse < 1e-9, "{sl:?}");
        }
        assert!(surf.calendar_check().is_free());
        // On and off the quoted strikes, on and between the expiries, and outside them (flat in
        // vol): the surface's IV is the known smile's (total variance ∝ T makes the truth the
        // same at every T).
        for days in [1, 30, 45, 90, 120, 180, 400] {
            for j in 0..37 {
                let k = -0.55 + 0.025 * f64::from(j);
                let got = surf
                    .implied_vol(F * k.exp(), T0 + days * DAY_NS, F)
                    .unwrap();
                let want = true_iv(k);
                assert!(
                    (got - want).abs() < 1e-6,
                    "{source:?} {days}d k={k}: {got} vs {want}"
                );
            }
        }
        // ATM term structure: total variance linear in T.
        let atm = shape().total_variance(0.0);
        for days in [30, 60, 150] {
            let tv = surf.atm_total_variance(T0 + days * DAY_NS).unwrap();
            let want = atm * (days * DAY_NS) as f64 / YEAR_NS;
            assert!((tv - want).abs() < 1e-8, "{days}d: {tv} vs {want}");
        }
    }
}

#[test]
fn thin_expiry_falls_back_to_atm_mark_and_feeds_the_buffer() {
    // The 2-day expiry has 3 strikes (too few for SVI); the 60-day one a full smile.
    let c = build(&[(2, 3), (60, 15)]);
    let mut eng = engine(&c, VolSource::Implied)
        .with_surface(SurfaceConfig::default())
        .unwrap();
    quote_chain(&mut eng, &c, T0, 0.0);
    let surf = eng.surface().unwrap();
    assert_eq!(surf.slices()[0].kind, SliceKind::Flat);
    assert_eq!(surf.slices()[1].kind, SliceKind::Svi);
    // The 2-day strikes are k = −0.6, −0.1, 0.4: the ATM mark is the k = −0.1 one, and the
    // slice is flat at it.
    let atm_mark = true_iv(-0.1);
    assert!((surf.slices()[0].atm_mark_iv - atm_mark).abs() < 1e-12);
    let near = surf.implied_vol(F * 1.3, T0 + 2 * DAY_NS, F).unwrap();
    assert!((near - atm_mark).abs() < 1e-12);
    // The engine sizes with the surface's ATM vol at its 1-day buffer horizon: before the first
    // expiry, flat at it.
    eng.set_desired(c.specs[5].instrument, 10);
    let mut r = Recorder::default();
    eng.on_event(&bbo(c.hedge, T0 + 1, F), 0, &mut r);
    let d = r.decisions.first().expect("a decision");
    assert!((d.vol_implied - atm_mark).abs() < 1e-9, "{}", d.vol_implied);
    assert_eq!(d.vol_used, d.vol_implied);
    assert!(d.vol_garch.is_nan());
    // Tickers without an IV empty the 60-day slice (fewer points, then none): no panic, the
    // slice is skipped and the term structure rests on the other one.
    let mut r = Recorder::default();
    for s in &c.specs[3..] {
        eng.on_event(&ticker(s.instrument, T0 + 2, F, 0.0, 0.0), 0, &mut r);
    }
    let surf = eng.surface().unwrap();
    assert_eq!(surf.slices()[1].kind, SliceKind::Empty);
    assert!(
        surf.atm_vol(T0 + 60 * DAY_NS).is_some(),
        "the 2-day slice remains"
    );
}

/// Hedge margin ratio of the inverse short built from fills: maintenance / equity.
struct MarginTrack {
    collateral: f64,
    mmr: f64,
    face_usd: f64,
    pnl_coin: f64,
    entry_inv: f64,
}

impl MarginTrack {
    fn fill(&mut self, o: &OptionsOrder) {
        let q = o.qty_lots as f64
            * 10.0
            * if o.side == feeds::Side::Buy {
                1.0
            } else {
                -1.0
            };
        // Inverse: PnL (coin) of face q bought at px and marked at m is q (1/px − 1/m).
        self.face_usd += q;
        self.entry_inv += q / o.limit_px;
    }
    fn ratio(&mut self, px: f64) -> f64 {
        self.pnl_coin = self.entry_inv - self.face_usd / px;
        let eq = self.collateral + self.pnl_coin;
        if eq > 0.0 {
            self.mmr * self.face_usd.abs() / px / eq
        } else {
            f64::INFINITY
        }
    }
}

struct ShockRun {
    decisions: Vec<Decision>,
    first_cut_ns: Option<u64>,
    margin: Vec<(u64, f64)>,
    shock_ns: u64,
    garch_calm: f64,
    garch_peak: f64,
}

/// Calm 50 % vol for 10 h of 1-minute ticks, then `shock`× the moves for 4 h; options quoted
/// flat at 50 % IV throughout (the implied vol does not see the shock).
fn shock_run(shock: f64) -> ShockRun {
    let c = build(&[(30, 9)]);
    let mut base = cfg(VolSource::Garch);
    base.collateral_coin = 0.45;
    // Per-minute variance of 50 % annual vol; persistence 0.998.
    let var_min = 0.25 * 60.0 / (365.25 * 86_400.0);
    let (alpha, beta) = (0.05, 0.948);
    let g = Garch11Params::new(var_min * (1.0 - alpha - beta), alpha, beta).unwrap();
    let mut eng = c.engine(base).unwrap().with_garch(g).unwrap();
    let atm = c.specs[5].instrument; // k = 0.025, a call
    let atm2 = c.specs[6].instrument; // k = 0.15, a call
    eng.set_position(atm, 50);
    eng.set_desired(atm, 50);
    eng.set_position(atm2, 50);
    eng.set_desired(atm2, 50);
    let mut r = Recorder::default();
    for s in &c.specs {
        eng.on_event(&ticker(s.instrument, T0, F, 0.5, 0.0), 0, &mut r);
    }
    let mut mt = MarginTrack {
        collateral: base.collateral_coin,
        mmr: base.mmr,
        face_usd: 0.0,
        pnl_coin: 0.0,
        entry_inv: 0.0,
    };
    let mut out = ShockRun {
        decisions: Vec::new(),
        first_cut_ns: None,
        margin: Vec::new(),
        shock_ns: T0 + 600 * MIN_NS,
        garch_calm: 0.0,
        garch_peak: 0.0,
    };
    let (mut px, mut rng) = (F, 0x2545_F491_4F6C_DD1D_u64);
    let step = var_min.sqrt();
    for minute in 0..840u64 {
        let t = T0 + minute * MIN_NS;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let sign = if rng & 1 == 0 { 1.0 } else { -1.0 };
        let mult = if t >= out.shock_ns { shock } else { 1.0 };
        px *= (sign * step * mult).exp();
        let mut r = Recorder::default();
        eng.on_event(&bbo(c.hedge, t, px), 0, &mut r);
        for o in &r.orders {
            eng.on_fill(&OptionsFill::paper(o));
            if o.is_hedge {
                mt.fill(o);
            } else if o.reason == Constraint::LiquidationBuffer && out.first_cut_ns.is_none() {
                out.first_cut_ns = Some(t);
            }
        }
        out.decisions.extend_from_slice(&r.decisions);
        out.margin.push((t, mt.ratio(px)));
        let g = eng.vol_garch().unwrap();
        if t < out.shock_ns {
            out.garch_calm = g;
        } else {
            out.garch_peak = out.garch_peak.max(g);
        }
    }
    out
}

#[test]
fn vol_shock_raises_garch_and_cuts_before_margin_trends_to_a_breach() {
    // Control: no shock, no cut — the book stands at scale 1.
    let calm = shock_run(1.0);
    assert!(calm.first_cut_ns.is_none());
    assert!(!calm.decisions.is_empty(), "the hedge must trade");
    assert!(calm
        .decisions
        .iter()
        .all(|d| d.scale_binding == Constraint::Model && d.vol_garch > 0.3 && d.vol_garch < 0.8));

    let run = shock_run(4.0);
    assert!(
        run.garch_peak > 1.8 * run.garch_calm,
        "GARCH {} → {}",
        run.garch_calm,
        run.garch_peak
    );
    let cut = run
        .first_cut_ns
        .expect("the engine cuts its book after the shock");
    assert!(cut > run.shock_ns);
    let d = run
        .decisions
        .iter()
        .find(|d| d.recv_ns == cut)
        .expect("the cut's decision");
    assert_eq!(d.scale_binding, Constraint::LiquidationBuffer);
    assert!(d.scale < 1.0);
    assert_eq!(d.vol_used, d.vol_garch);
    assert!(d.vol_garch > 1.3 * run.garch_calm, "{d:?}");
    // The margin ratio never breaches, and at the cut a linear extrapolation of its last hour
    // over the buffer horizon (1 day) is still below 1: a margin-trend rule would not have acted.
    assert!(run.margin.iter().all(|&(_, m)| m < 1.0));
    let i = run.margin.iter().position(|&(t, _)| t == cut).unwrap();
    let (t1, m1) = run.margin[i];
    let (t0, m0) = run.margin[i - 60];
    let slope_per_ns = (m1 - m0) / (t1 - t0) as f64;
    let projected = m1 + slope_per_ns.max(0.0) * DAY_NS as f64;
    assert!(projected < 1.0, "projected margin ratio {projected}");
    // The cut book's delta fits the buffer, and the hedge follows it to within the delta band
    // (a hedge already inside the band is not traded).
    assert!(d.after.delta.abs() <= d.delta_band + 1e-9);
    let hedge_delta = d.hedge_lots_after.unsigned_abs() as f64 * 10.0 / d.underlying_px;
    assert!(
        hedge_delta <= d.max_hedge_delta_liquidation + d.delta_band,
        "{hedge_delta} > {}",
        d.max_hedge_delta_liquidation
    );
}

#[test]
fn garch_fitted_from_a_warm_up_window_and_logged() {
    // 3,000 one-minute returns from a known GARCH(1,1) (seeded, Box–Muller normals).
    let (omega, alpha, beta): (f64, f64, f64) = (2e-8, 0.1, 0.85);
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    let mut uniform = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut var = omega / (1.0 - alpha - beta);
    let mut returns = Vec::with_capacity(3_000);
    for _ in 0..3_000 {
        let z = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
        let r = var.sqrt() * z;
        returns.push(r);
        var = omega + alpha * r * r + beta * var;
    }
    let c = build(&[(30, 9)]);
    // Too short a window is an error, not a panic.
    let short = engine(&c, VolSource::Garch).with_garch_fit(&returns[..3]);
    assert!(
        matches!(short, Err(options::OptionsError::Garch(_))),
        "{short:?}"
    );
    let (mut eng, fit) = engine(&c, VolSource::Garch)
        .with_garch_fit(&returns)
        .unwrap();
    let p = fit.params;
    assert!(
        (p.alpha - alpha).abs() < 0.05 && (p.beta - beta).abs() < 0.08,
        "{p:?}"
    );
    let long_run = (p.omega / (1.0 - p.alpha - p.beta) * 525_960.0).sqrt();
    let g = eng.vol_garch().unwrap();
    assert!(
        g > 0.5 * long_run && g < 2.0 * long_run,
        "{g} vs {long_run}"
    );
    // The decision carries the GARCH forecast, and the log writes it.
    eng.set_desired(c.specs[5].instrument, 10);
    let mut r = Recorder::default();
    for s in &c.specs {
        eng.on_event(&ticker(s.instrument, T0, F, 0.5, 0.0), 0, &mut r);
    }
    eng.on_event(&bbo(c.hedge, T0 + 1, F), 0, &mut r);
    let d = r.decisions.first().expect("a decision");
    assert_eq!(d.vol_used, d.vol_garch);
    assert!(d.vol_forecast.is_nan(), "EWMA not warmed up");
    let mut line = Vec::new();
    options::log::write_decision(&mut line, d).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(v["vol_garch"].as_f64(), Some(d.vol_garch));
    assert!(v["vol_forecast"].is_null());
}

#[test]
fn garch_source_without_garch_sizes_nothing() {
    let c = build(&[(30, 9)]);
    let mut eng = engine(&c, VolSource::Garch);
    eng.set_desired(c.specs[5].instrument, 10);
    let mut r = Recorder::default();
    for s in &c.specs {
        eng.on_event(&ticker(s.instrument, T0, F, 0.5, 0.0), 0, &mut r);
    }
    eng.on_event(&bbo(c.hedge, T0 + 1, F), 0, &mut r);
    assert!(r.orders.is_empty());
    assert_eq!(eng.stats().sizing_passes, 0);
    assert!(eng.stats().skipped > 0);
}

#[test]
fn arbitrageable_quotes_are_fitted_and_flagged_not_hidden() {
    let c = build(&[(30, 21), (90, 21)]);
    let mut eng = engine(&c, VolSource::Implied)
        .with_surface(SurfaceConfig::default())
        .unwrap();
    // 30-day expiry: Axel Vogt's smile (butterfly arbitrage) scaled to vol units; 90-day: total
    // variance below the 30-day one everywhere (calendar arbitrage).
    let vogt = SviParams::new(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153).unwrap();
    let t30 = 30.0 / 365.0;
    let t90 = 90.0 / 365.0;
    let mut r = Recorder::default();
    for s in &c.specs {
        let k = (s.strike / F).ln();
        let w30 = vogt.total_variance(k);
        let iv = if s.expiry_ns == T0 + 30 * DAY_NS {
            (w30 / t30).sqrt()
        } else {
            (0.5 * w30 / t90).sqrt()
        };
        eng.on_event(&ticker(s.instrument, T0, F, iv, 0.0), 0, &mut r);
    }
    let surf = eng.surface().unwrap();
    let near = surf.slices()[0];
    assert_eq!(near.kind, SliceKind::Svi);
    assert!(near.rmse < 1e-6, "{near:?}");
    assert!(!near.butterfly.is_free(), "{near:?}");
    assert!(near.butterfly.min_g < 0.0);
    assert!(surf.slices()[1].calendar_violations > 0);
    let cal = surf.calendar_check();
    assert!(!cal.is_free() && cal.worst_slice == 0, "{cal:?}");
    let st = surf.stats();
    assert!(st.butterfly_flags > 0 && st.calendar_flags > 0, "{st:?}");
}
