//! Implied volatility: the batch's shortcuts for the yield's discount factor (q = 0 or q = r in
//! every lane of a block: no second double-double exponential) give the same bits as the
//! general path, which mixed blocks take, and as the scalar twin.

use risk_core::greeks::{
    greeks, implied_vol_batch, implied_vol_batch_scalar, IvInputs, LaneStatus, Model, OptionInputs,
    OptionKind,
};
use testkit::greeks::{GreeksChain, Rates};

/// The shared chain with yields from `q_of(i, r)`, and its prices by the scalar kernel.
fn chain(n: usize, seed: u64, q_of: impl Fn(usize, f64) -> f64) -> (GreeksChain, Vec<f64>) {
    let c = testkit::greeks::chain(n, seed, Rates::Drawn(&q_of));
    let price = (0..n)
        .map(|i| {
            let (g, st) = greeks(&OptionInputs {
                model: Model::Bsm,
                kind: if c.call[i] {
                    OptionKind::Call
                } else {
                    OptionKind::Put
                },
                underlying: c.s[i],
                strike: c.k[i],
                t_years: c.t[i],
                vol: c.vol[i],
                rate: c.r[i],
                carry_q: c.q[i],
            });
            assert_eq!(st, LaneStatus::Ok);
            g.price
        })
        .collect();
    (c, price)
}

fn solve(c: &GreeksChain, price: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<LaneStatus>) {
    let n = c.s.len();
    let inp = IvInputs {
        model: Model::Bsm,
        underlying: &c.s,
        strike: &c.k,
        t_years: &c.t,
        rate: &c.r,
        carry_q: &c.q,
        is_call: &c.call,
        price,
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
        let (c, price) = chain(n, 7, q_of);
        let (simd, scalar, status) = solve(&c, &price);
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
