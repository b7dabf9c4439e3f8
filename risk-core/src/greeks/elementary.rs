//! `exp` and `ln`, written once over [`Lane`] so the scalar twin and the `f64x4` kernel agree bit
//! for bit.
//!
//! Why not `wide`'s `f64x4::exp`/`ln` (measured against std in this module's tests): `exp` is
//! within 1 ulp on |x| < 700 but flushes to zero below −708.39, where e^{−d²/2} still matters
//! down to −745; `ln` is up to ~1000 ulp off near x = 1 — exactly where ln(S/K) lives for
//! near-the-money options — and returns garbage for subnormals. Neither has a scalar twin with
//! identical rounding. These versions: `exp` and `ln` within 1 ulp of std everywhere tested, and
//! bit-identical between `f64` and `f64x4`.

use super::lanes::Lane;

const LOG2E: f64 = core::f64::consts::LOG2_E;
/// ln 2 rounded to double.
const LN2_HI_EXP: f64 = core::f64::consts::LN_2;
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

// ---------------------------------------------------------------------------------------------
// Double-double helpers (a value is an unevaluated sum hi + lo, |lo| ≤ ulp(hi)/2), used where a
// result must be exact well beyond 53 bits: the intrinsic value subtracted from a price in the
// implied-volatility reduction.

/// (s, e) with s + e = a + b exactly (Knuth's two-sum).
#[inline(always)]
pub(crate) fn two_sum<T: Lane>(a: T, b: T) -> (T, T) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// (s, e) with s + e = a + b exactly, given |a| ≥ |b| (or a = 0).
#[inline(always)]
pub(crate) fn fast_two_sum<T: Lane>(a: T, b: T) -> (T, T) {
    let s = a + b;
    (s, b - (s - a))
}

/// (p, e) with p + e = a·b exactly (FMA).
#[inline(always)]
pub(crate) fn two_prod<T: Lane>(a: T, b: T) -> (T, T) {
    let p = a * b;
    (p, a.mul_add(b, p.neg()))
}

/// Double-double product (relative error ~ 2^-104).
#[inline(always)]
pub(crate) fn dd_mul<T: Lane>(a: (T, T), b: (T, T)) -> (T, T) {
    let (p, e) = two_prod(a.0, b.0);
    let e = a.0.mul_add(b.1, a.1.mul_add(b.0, e));
    fast_two_sum(p, e)
}

/// Double-double sum (relative error ~ 2^-104 absent cancellation; exact cancellation-safe).
#[inline(always)]
pub(crate) fn dd_add<T: Lane>(a: (T, T), b: (T, T)) -> (T, T) {
    let (s, e) = two_sum(a.0, b.0);
    let (t, f) = two_sum(a.1, b.1);
    let (s, e) = fast_two_sum(s, e + t);
    fast_two_sum(s, e + f)
}

/// ln 2 = DD_LN2_1 + DD_LN2_2 + DD_LN2_3 to ~1e-43; DD_LN2_1 has 20 trailing zero bits.
const DD_LN2_1: f64 = LN2_HI_LN;
const DD_LN2_2: f64 = LN2_LO_LN;
const DD_LN2_3: f64 = -1.312_469_841_778_525_5e-27;

/// 1/j! as double-doubles, j = 1..=8.
const DD_INV_FACT: [(f64, f64); 8] = [
    (1.0, 0.0),
    (0.5, 0.0),
    (0.166_666_666_666_666_66, 9.251_858_538_542_97e-18),
    (0.041_666_666_666_666_664, 2.312_964_634_635_742_7e-18),
    (0.008_333_333_333_333_333, 1.156_482_317_317_871_4e-19),
    (0.001_388_888_888_888_889, -5.300_543_954_373_577e-20),
    (1.984_126_984_126_984e-4, 1.720_955_829_342_070_5e-22),
    (2.480_158_730_158_73e-5, 2.151_194_786_677_588_2e-23),
];

/// e^(yh + yl) as a double-double with relative error below ~1e-30, for |yh| ≤ 700.
///
/// Reduction y = k·ln 2 + r with r in double-double (three-part ln 2), then r/32, a Taylor
/// series with the terms of order ≤ 8 in double-double and 9..12 in double, five squarings and
/// the exact scaling by 2^k.
#[inline(always)]
pub(crate) fn exp_dd<T: Lane>(yh: T, yl: T) -> (T, T) {
    let k = (yh * T::splat(LOG2E)).round_even();
    // yh − k·L1 is exact (k·L1 is exact and the difference is representable).
    let t = k.neg().mul_add(T::splat(DD_LN2_1), yh);
    let (p, pe) = two_prod(k, T::splat(DD_LN2_2));
    let (s1, e1) = two_sum(t, p.neg());
    let lo = (e1 - pe) + (yl - k * T::splat(DD_LN2_3));
    let (rh, rl) = fast_two_sum(s1, lo);
    let r = (rh * T::splat(1.0 / 32.0), rl * T::splat(1.0 / 32.0));
    // Σ_{j≥1} r^j/j!: tail 9..12 in double (each term < 1e-21 relative), then dd Horner.
    let tail = T::splat(2.087_675_698_786_81e-9)
        .mul_add(r.0, T::splat(2.505_210_838_544_172e-8))
        .mul_add(r.0, T::splat(2.755_731_922_398_589e-7))
        .mul_add(r.0, T::splat(2.755_731_922_398_589_3e-6));
    let mut acc = (tail * r.0, T::splat(0.0));
    let mut j = DD_INV_FACT.len();
    while j > 0 {
        j -= 1;
        let c = (T::splat(DD_INV_FACT[j].0), T::splat(DD_INV_FACT[j].1));
        acc = dd_mul(dd_add(acc, c), r);
    }
    // e^r = 1 + acc; square five times: (1+a)² = 1 + (2a + a²), kept as 1 + a to keep precision.
    let mut i = 0;
    while i < 5 {
        let a2 = dd_mul(acc, acc);
        acc = dd_add((acc.0 * T::splat(2.0), acc.1 * T::splat(2.0)), a2);
        i += 1;
    }
    let one_plus = dd_add((T::splat(1.0), T::splat(0.0)), acc);
    let scale = T::pow2i(k);
    (one_plus.0 * scale, one_plus.1 * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wide::f64x4;

    /// Distance in units in the last place between two finite doubles of the same sign.
    fn ulps(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let ulp = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
        ((a - b) / ulp).abs()
    }

    /// Deterministic sample points (xorshift), no external RNG needed.
    fn points(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                lo + (hi - lo) * ((x >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect()
    }

    #[test]
    fn exp_within_one_ulp_of_std_and_wide_measured() {
        let (mut mine, mut wide_max, mut wide_core) = (0.0f64, 0.0f64, 0.0f64);
        for x in points(200_000, -745.0, 709.7) {
            let want = x.exp();
            if want < f64::MIN_POSITIVE {
                // Subnormal results: absolute error below one subnormal step.
                assert!((exp(x) - want).abs() <= 5e-324, "exp({x})");
                continue;
            }
            mine = mine.max(ulps(exp(x), want));
            let w = ulps(f64x4::splat(x).exp().to_array()[0], want);
            if x.abs() < 700.0 {
                wide_core = wide_core.max(w);
            }
            wide_max = wide_max.max(w);
            let v: [f64; 4] = exp(f64x4::splat(x)).to_array();
            assert_eq!(v[0].to_bits(), exp(x).to_bits());
        }
        eprintln!(
            "exp: ours max {mine:.2} ulp; wide::f64x4::exp max {wide_core:.2} ulp on |x| < 700, \
             {wide_max:.3e} ulp on [-745, 709.7] (flushes to 0 below -708.39) (vs std)"
        );
        assert!(mine <= 1.0, "exp max ulp {mine}");
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn ln_within_one_ulp_of_std_and_wide_measured() {
        let (mut mine, mut wide_max, mut wide_core) = (0.0f64, 0.0f64, 0.0f64);
        let mut xs = points(100_000, -700.0, 700.0)
            .into_iter()
            .map(f64::exp)
            .collect::<Vec<_>>();
        xs.extend(points(100_000, 0.5, 2.0));
        xs.extend([
            1.0,
            f64::MIN_POSITIVE,
            5e-324,
            1e-310,
            f64::MAX,
            1.0 + f64::EPSILON,
        ]);
        for x in xs {
            let want = x.ln();
            mine = mine.max(ulps(ln(x), want));
            let w = ulps(f64x4::splat(x).ln().to_array()[0], want);
            if x >= f64::MIN_POSITIVE {
                wide_core = wide_core.max(w);
            }
            wide_max = wide_max.max(w);
            assert_eq!(ln(f64x4::splat(x)).to_array()[0].to_bits(), ln(x).to_bits());
        }
        eprintln!(
            "ln: ours max {mine:.2} ulp; wide::f64x4::ln max {wide_core:.2} ulp on normals, \
             {wide_max:.3e} with subnormals (vs std)"
        );
        assert!(mine <= 1.0, "ln max ulp {mine}");
    }

    #[test]
    fn exp_dd_is_consistent_far_beyond_double() {
        for y in points(20_000, -40.0, 40.0) {
            let (h, l) = exp_dd(y, 0.0);
            assert!(ulps(h, y.exp()) <= 1.0, "exp_dd({y}) hi");
            // e^y · e^−y = 1 to ~1e-30.
            let (h2, l2) = exp_dd(-y, 0.0);
            let (p, e) = dd_mul((h, l), (h2, l2));
            assert!(
                ((p - 1.0) + e).abs() < 1e-29,
                "exp_dd({y}): product - 1 = {:e}",
                (p - 1.0) + e
            );
        }
        // Low part of the argument counts: e^(y + 1e-20) − e^y ≈ 1e-20·e^y.
        let (h0, l0) = exp_dd(0.3, 0.0);
        let (h1, l1) = exp_dd(0.3, 1e-20);
        let diff = (h1 - h0) + (l1 - l0);
        assert!((diff / (1e-20 * 0.3f64.exp()) - 1.0).abs() < 1e-6);
    }
}
