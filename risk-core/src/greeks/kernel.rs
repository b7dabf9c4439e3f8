//! The Black–Scholes–Merton / Black-76 formulas, written once over [`Lane`] for valid inputs.
//!
//! Work shared per option: one `ln` (of S/K, with an FMA correction of the ratio's rounding so
//! that ln(S/K) keeps its relative accuracy near the money), one Gaussian `e^{−d₁²/2}` (φ(d₁), and
//! e^{−d₂²/2} = e^{−d₁²/2}·F/K), two discount factors (one for Black-76), one square root, and
//! two rational evaluations for Φ(ωd₁), Φ(ωd₂). The kernel carries u = d/√2, the argument both
//! erfc and the Gaussian e^{−u²} take, instead of d.

use super::elementary::{exp_discount, exp_gauss_kernel, exp_gauss_near, ln};
use super::lanes::Lane;
use super::normal::{beyond_central, ncdf_flip, CodyLane, FRAC_1_SQRT_2PI};
use core::f64::consts::{FRAC_1_SQRT_2, SQRT_2};

/// 1/√8 = 1/(2√2).
const FRAC_1_SQRT_8: f64 = 0.353_553_390_593_273_8;

/// Output tier: price only.
pub(crate) const TIER_PRICE: u8 = 0;
/// Output tier: price, delta, gamma, vega, theta.
pub(crate) const TIER_FIVE: u8 = 1;
/// Output tier: all eight outputs.
pub(crate) const TIER_ALL: u8 = 2;

/// One lane set of inputs. `omega` is +1 for calls, −1 for puts. For Black-76 `s` is the
/// forward and `q` is ignored.
#[derive(Clone, Copy)]
pub(crate) struct KIn<T> {
    pub s: T,
    pub k: T,
    pub t: T,
    pub sig: T,
    pub r: T,
    pub q: T,
    pub omega: T,
}

/// One lane set of outputs (fields outside the tier are left at zero).
#[derive(Clone, Copy)]
pub(crate) struct KOut<T> {
    pub price: T,
    pub delta: T,
    pub gamma: T,
    pub vega: T,
    pub theta: T,
    pub rho: T,
    pub vanna: T,
    pub volga: T,
}

/// ln(S/K) to within about 1 ulp of the exact value, even when S/K rounds near 1.
#[inline(always)]
pub(crate) fn ln_ratio<T: Lane>(s: T, k: T, inv_s: T) -> T {
    let ratio = s / k;
    // s/k = ratio·(1 + c) with c = (s − ratio·k)/s, numerator exact (FMA); c is a tiny
    // correction, so 1/s to a few ulp is plenty.
    let c = ratio.neg().mul_add(k, s) * inv_s;
    ln(ratio) + c
}

/// e^{−d₁²/2}, Φ(ωd₁) and Φ(ωd₂) from u = d/√2 and F/K. `CENTRAL`: every lane has |u₁|,
/// |u₂| ≤ 4, so the range tests are skipped (the same bits).
#[inline(always)]
fn gauss_cdfs<T: CodyLane, const CENTRAL: bool>(u1: T, u2: T, omega: T, f_over_k: T) -> (T, T, T) {
    let g1 = if CENTRAL {
        exp_gauss_near::<T, false>(u1)
    } else {
        exp_gauss_kernel::<T, false>(u1)
    };
    // e^{−u₂²} = e^{−u₁²}·F/K; recompute directly where g1 has underflowed.
    let mut g2 = g1 * f_over_k;
    if !CENTRAL {
        let small = T::lt(g1, T::splat(1e-280));
        if T::any(small) {
            g2 = T::select(small, exp_gauss_kernel::<T, false>(u2), g2);
        }
    }
    let n1 = ncdf_flip::<T, CENTRAL>(u1, u1.abs(), omega, g1);
    let n2 = ncdf_flip::<T, CENTRAL>(u2, u2.abs(), omega, g2);
    (g1, n1, n2)
}

/// Greeks for valid lanes: s, k, t, sig > 0 and finite, σ√T ≥ `V_MIN`, r, q finite with
/// |rT|, |qT| ≤ 700.
#[inline(always)]
pub(crate) fn bs_kernel<T: CodyLane, const TIER: u8, const B76: bool>(i: KIn<T>) -> KOut<T> {
    let zero = T::splat(0.0);
    let sqrt_t = i.t.sqrt();
    let v = i.sig * sqrt_t;
    let inv_v = T::splat(1.0) / v;
    let inv_s = T::splat(1.0) / i.s;
    let q = if B76 { i.r } else { i.q };
    let mut x = ln_ratio(i.s, i.k, inv_s);
    if !B76 {
        x = (i.r - q).mul_add(i.t, x);
    }
    let dr = exp_discount((i.r * i.t).neg());
    let dq = if B76 {
        dr
    } else {
        exp_discount((q * i.t).neg())
    };
    // u = d/√2 = x/(√2·v) ± v/(2√2).
    let xu = x * (inv_v * T::splat(FRAC_1_SQRT_2));
    let u1 = v.mul_add(T::splat(FRAC_1_SQRT_8), xu);
    let u2 = v.mul_add(T::splat(-FRAC_1_SQRT_8), xu);
    // a = S·e^{−qT} (= F·e^{−rT}), b = K·e^{−rT}.
    let a = i.s * dq;
    let b = i.k * dr;
    let (g1, n1, n2) = if beyond_central(u1.abs().max(u2.abs())) {
        gauss_cdfs::<T, false>(u1, u2, i.omega, a / b)
    } else {
        // |u₁|, |u₂| ≤ 4 in every lane (the usual case): no lane can need the far Gaussian,
        // the recomputed g₂ or the outer erfcx region, so one test stands for those four.
        gauss_cdfs::<T, true>(u1, u2, i.omega, a / b)
    };
    // Never below zero (rounding of the two terms far out of the money).
    let bn2 = b * n2;
    let price = a.mul_add(n1, bn2.neg()).flip(i.omega).max(zero);
    let mut o = KOut {
        price,
        delta: zero,
        gamma: zero,
        vega: zero,
        theta: zero,
        rho: zero,
        vanna: zero,
        volga: zero,
    };
    if TIER == TIER_PRICE {
        return o;
    }
    let phi1 = g1 * T::splat(FRAC_1_SQRT_2PI);
    let a_phi = a * phi1;
    o.delta = (dq * n1).flip(i.omega);
    o.gamma = (dq * phi1) * (inv_v * inv_s);
    o.vega = a_phi * sqrt_t;
    // θ = −∂V/∂T = −a·φ(d₁)·σ/(2√T) + ω(q·a·Φ(ωd₁) − r·b·Φ(ωd₂)).
    let carry = (q * a).mul_add(n1, (i.r * bn2).neg()).flip(i.omega);
    // σ/(2√T) = σ²/(2v).
    o.theta = a_phi
        .neg()
        .mul_add(T::splat(0.5) * i.sig * i.sig * inv_v, carry);
    if TIER == TIER_FIVE {
        return o;
    }
    o.rho = if B76 {
        (i.t * price).neg()
    } else {
        (i.t * bn2).flip(i.omega)
    };
    // d₂/σ = u₂·√2·√T/v, d₁ = u₁·√2.
    let d2_sig = u2 * (sqrt_t * inv_v * T::splat(SQRT_2));
    o.vanna = ((dq * phi1) * d2_sig).neg();
    o.volga = o.vega * (u1 * T::splat(SQRT_2)) * d2_sig;
    o
}
