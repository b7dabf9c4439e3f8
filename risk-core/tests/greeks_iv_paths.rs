//! Implied volatility: the batch's shortcuts for the yield's discount factor (q = 0 or q = r in
//! every lane of a block: no second double-double exponential) give the same bits as the
//! general path, which mixed blocks take, and as the scalar twin.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use risk_core::greeks::{
    greeks, implied_vol_batch, implied_vol_batch_scalar, IvInputs, LaneStatus, Model, OptionInputs,
    OptionKind,
};

struct Chain {
    s: Vec<f64>,
    k: Vec<f64>,
    t: Vec<f64>,
    vol: Vec<f64>,
    r: Vec<f64>,
    q: Vec<f64>,
    call: Vec<bool>,
    price: Vec<f64>,
}

/// A realistic chain (strikes across ±3 standard deviations, a smile, calls and puts,
/// expiries from a week to two years), yields from `q_of(i, r)`, priced by the scalar kernel.
fn chain(n: usize, seed: u64, q_of: impl Fn(usize, f64) -> f64) -> Chain {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let expiries = [7.0, 14.0, 30.0, 60.0, 91.0, 182.0, 365.0, 730.0];
    let mut c = Chain {
        s: Vec::new(),
        k: Vec::new(),
        t: Vec::new(),
        vol: Vec::new(),
        r: Vec::new(),
        q: Vec::new(),
        call: Vec::new(),
        price: Vec::new(),
    };
    for i in 0..n {
        let s = 100.0 * (1.0 + rng.gen_range(-0.01..0.01));
        let t: f64 = expiries[rng.gen_range(0..expiries.len())] / 365.0;
        let z: f64 = rng.gen_range(-3.0..3.0);
        let atm = 0.25 + rng.gen_range(-0.05..0.05);
        let vol = atm * (1.0 + 0.08 * z * z - 0.05 * z);
        let r = rng.gen_range(0.0..0.06);
        let q = q_of(i, r);
        let call = rng.gen_bool(0.5);
        let k = s * (z * atm * t.sqrt()).exp();
        let (g, st) = greeks(&OptionInputs {
            model: Model::Bsm,
            kind: if call {
                OptionKind::Call
            } else {
                OptionKind::Put
            },
            underlying: s,
            strike: k,
            t_years: t,
            vol,
            rate: r,
            carry_q: q,
        });
        assert_eq!(st, LaneStatus::Ok);
        c.s.push(s);
        c.k.push(k);
        c.t.push(t);
        c.vol.push(vol);
        c.r.push(r);
        c.q.push(q);
        c.call.push(call);
        c.price.push(g.price);
    }
    c
}

fn solve(c: &Chain) -> (Vec<f64>, Vec<f64>, Vec<LaneStatus>) {
    let n = c.s.len();
    let inp = IvInputs {
        model: Model::Bsm,
        underlying: &c.s,
        strike: &c.k,
        t_years: &c.t,
        rate: &c.r,
        carry_q: &c.q,
        is_call: &c.call,
        price: &c.price,
    };
    let (mut v1, mut s1) = (vec![0.0; n], vec![LaneStatus::Ok; n]);
    let (mut v2, mut s2) = (vec![0.0; n], vec![LaneStatus::Ok; n]);
    implied_vol_batch(&inp, &mut v1, &mut s1).expect("shapes");
    implied_vol_batch_scalar(&inp, &mut v2, &mut s2).expect("shapes");
    assert_eq!(s1, s2);
    (v1, v2, s1)
}

/// Blocks of twelve: with one lane in every third block different, some blocks take the
/// shortcut and the others the general path for the same kind of lanes.
fn odd_lane(i: usize) -> bool {
    i % 36 == 5
}

#[test]
fn yield_shortcuts_match_the_general_path_bit_for_bit() {
    let n = 12 * 60 + 7;
    for (name, q_of) in [
        (
            "q = 0",
            Box::new(|i: usize, _r: f64| if odd_lane(i) { 0.02 } else { 0.0 })
                as Box<dyn Fn(usize, f64) -> f64>,
        ),
        (
            "q = r",
            Box::new(|i: usize, r: f64| if odd_lane(i) { 0.02 } else { r }),
        ),
    ] {
        let c = chain(n, 7, q_of);
        let (simd, scalar, status) = solve(&c);
        for i in 0..n {
            assert_eq!(status[i], LaneStatus::Ok, "{name}: lane {i}");
            assert_eq!(
                simd[i].to_bits(),
                scalar[i].to_bits(),
                "{name}: lane {i}: {} vs {}",
                simd[i],
                scalar[i]
            );
            let err = (simd[i] - c.vol[i]).abs() / c.vol[i];
            assert!(err < 1e-12, "{name}: lane {i}: rel err {err:e}");
        }
    }
}
