//! `exp` and `ln`, written once over [`Lane`] so the scalar twin and the `f64x4` kernel agree bit
//! for bit.
//!
//! Why not `wide`'s `f64x4::exp`/`ln`: `exp` flushes to zero below `-708.39` (the Gaussian factor
//! needs gradual underflow down to `-745`) and neither has a scalar counterpart with identical
//! rounding. Accuracy of these versions (tested in `tests/greeks_accuracy.rs` against std and
//! `mpmath`): `exp` < 1 ulp on `[-745, 709]`, `ln` < 1 ulp on positive normals and subnormals.

use super::lanes::Lane;

const LOG2E: f64 = core::f64::consts::LOG2_E;
/// ln 2 rounded to double.
const LN2_HI_EXP: f64 = 0.693_147_180_559_945_3;
/// ln 2 − `LN2_HI_EXP`.
const LN2_LO_EXP: f64 = 2.319_046_813_846_299_6e-17;
/// ln 2 with its low 20 mantissa bits cleared (so `e * LN2_HI_LN` is exact for |e| < 2^20).
const LN2_HI_LN: f64 = 0.693_147_180_485_539_1;
/// ln 2 − `LN2_HI_LN`.
const LN2_LO_LN: f64 = 7.440_617_110_012_397e-11;

/// Taylor coefficients 1/n! for n = 13 down to 2.
const EXP_C: [f64; 12] = [
    1.605_904_383_682_161_3e-10,
    2.087_675_698_786_81e-9,
    2.505_210_838_544_172e-8,
    2.755_731_922_398_589e-7,
    2.755_731_922_398_589_3e-6,
    2.480_158_730_158_73e-5,
    1.984_126_984_126_984e-4,
    1.388_888_888_888_889e-3,
    8.333_333_333_333_333e-3,
    4.166_666_666_666_666_4e-2,
    1.666_666_666_666_666_6e-1,
    0.5,
];

/// e^x. Accurate to < 1 ulp for x in `[-745, 709.7]`; gives `+inf` above and `0` (through the
/// subnormals) below. NaN in, NaN out.
#[inline(always)]
pub(crate) fn exp<T: Lane>(x: T) -> T {
    // Clamp so that the two-step scaling below stays within the exponent range; results at the
    // clamps are already inf / 0. (NaN passes: both comparisons are false → returns x.)
    let x = T::select(T::lt(x, T::splat(-1400.0)), T::splat(-1400.0), x);
    let x = T::select(T::gt(x, T::splat(710.0)), T::splat(710.0), x);
    let k = (x * T::splat(LOG2E)).round_even();
    let r = k.neg().mul_add(T::splat(LN2_HI_EXP), x);
    let r = k.neg().mul_add(T::splat(LN2_LO_EXP), r);
    let mut q = T::splat(EXP_C[0]);
    let mut i = 1;
    while i < EXP_C.len() {
        q = q.mul_add(r, T::splat(EXP_C[i]));
        i += 1;
    }
    let p = q.mul_add(r * r, r);
    let e = T::splat(1.0) + p;
    // 2^k in two factors so that k down to -2020 and up to 1024 scale correctly (gradual
    // underflow, overflow to inf).
    let k1 = (k * T::splat(0.5)).round_even();
    let k2 = k - k1;
    // NaN lanes: keep the scale finite so that NaN propagates through `e`.
    let k1 = T::select(T::eq(k1, k1), k1, T::splat(0.0));
    let k2 = T::select(T::eq(k2, k2), k2, T::splat(0.0));
    e * T::pow2i(k1) * T::pow2i(k2)
}

/// Coefficients 2/(2j+1) for j = 9 down to 1 of the atanh series
/// ln((1+s)/(1−s)) = 2s + Σ 2 s^(2j+1)/(2j+1).
const LN_C: [f64; 9] = [
    2.0 / 19.0,
    2.0 / 17.0,
    2.0 / 15.0,
    2.0 / 13.0,
    2.0 / 11.0,
    2.0 / 9.0,
    2.0 / 7.0,
    2.0 / 5.0,
    2.0 / 3.0,
];

/// Natural logarithm of a positive finite `x` (normal or subnormal); < 1 ulp. Callers guarantee
/// the domain (the kernels validate inputs first); outside it the result is unspecified but
/// never a panic.
#[inline(always)]
pub(crate) fn ln<T: Lane>(x: T) -> T {
    let tiny = T::lt(x, T::splat(f64::MIN_POSITIVE));
    let x = T::select(tiny, x * T::splat(18_014_398_509_481_984.0), x); // 2^54
    let (e, m) = x.exponent_mantissa();
    let e = T::select(tiny, e - T::splat(54.0), e);
    // Reduce m to [√2/2, √2).
    let big = T::gt(m, T::splat(core::f64::consts::SQRT_2));
    let m = T::select(big, m * T::splat(0.5), m);
    let e = T::select(big, e + T::splat(1.0), e);
    let f = m - T::splat(1.0); // exact
    let s = f / (T::splat(2.0) + f);
    let z = s * s;
    let mut q = T::splat(LN_C[0]);
    let mut i = 1;
    while i < LN_C.len() {
        q = q.mul_add(z, T::splat(LN_C[i]));
        i += 1;
    }
    let r = q * z;
    let hfsq = T::splat(0.5) * f * f;
    // ln(1+f) = f − (hfsq − s·(hfsq + R)); then + e·ln2 in two parts.
    let tail = s.mul_add(hfsq + r, e * T::splat(LN2_LO_LN));
    e.mul_add(T::splat(LN2_HI_LN), f - (hfsq - tail))
}

/// e^(−d²/2) for any d (0 for |d| > 40 and ±inf), accurate to about 1 ulp: d² is split exactly into `hi + lo` with
/// an FMA, so no precision is lost squaring large |d| (the issue that Cody's split
/// `exp(-xsq²)·exp(-del)` addresses).
#[inline(always)]
pub(crate) fn exp_neg_half_sq<T: Lane>(d: T) -> T {
    // Beyond |d| = 40 the result is 0 (e^-800 underflows); clamping keeps d² finite.
    let d = T::select(T::gt(d.abs(), T::splat(40.0)), T::splat(40.0), d);
    let hi = d * d;
    let lo = d.mul_add(d, hi.neg());
    let e = exp(hi * T::splat(-0.5));
    e.mul_add(lo * T::splat(-0.5), e)
}
