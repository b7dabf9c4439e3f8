//! `exp` and `ln`, written once over [`Lane`] so the scalar twin and the `f64x4` kernel agree bit
//! for bit.
//!
//! Why not `wide`'s `f64x4::exp`/`ln` (measured against std in this module's tests): `exp` is
//! within 1 ulp on |x| < 700 but flushes to zero below −708.39, where e^{−d²/2} still matters
//! down to −745; `ln` is up to ~1000 ulp off near x = 1 — exactly where ln(S/K) lives for
//! near-the-money options — and returns garbage for subnormals. Neither has a scalar twin with
//! identical rounding. These versions: `exp` and `ln` within 1 ulp of std everywhere tested, and
//! bit-identical between `f64` and `f64x4`.

use super::lanes::{Lane, X12, X8};
use wide::f64x4;

const LOG2E: f64 = core::f64::consts::LOG2_E;
/// ln 2 rounded to double.
const LN2_HI_EXP: f64 = core::f64::consts::LN_2;
/// ln 2 − `LN2_HI_EXP`.
const LN2_LO_EXP: f64 = 2.319_046_813_846_299_6e-17;
/// ln 2 with its low 20 mantissa bits cleared (so `e * LN2_HI_LN` is exact for |e| < 2^20).
const LN2_HI_LN: f64 = 0.693_147_180_485_539_1;
/// ln 2 − `LN2_HI_LN`.
const LN2_LO_LN: f64 = 7.440_617_110_012_397e-11;

/// p(r) ≈ (e^r − 1 − r)/r² on [−ln2/2, ln2/2], degree 9, highest power first: a Chebyshev fit
/// (near-minimax) made with `mpmath.chebyfit`; e^r = 1 + r + r²·p(r) to 1.6e-17 relative.
#[allow(clippy::excessive_precision)] // fitted digits as printed by the fit
const EXP_C: [f64; 10] = [
    2.510_037_583_256_123_4e-8,
    2.762_007_587_998_336_7e-7,
    2.755_726_848_031_002_4e-6,
    2.480_152_132_236_869_2e-5,
    1.984_126_986_304_054_5e-4,
    1.388_888_891_719_671_9e-3,
    8.333_333_333_330_065e-3,
    4.166_666_666_662_416_4e-2,
    0.166_666_666_666_666_69,
    0.500_000_000_000_000_1,
];

/// Largest |x| for [`exp_small`].
pub(crate) const EXP_SMALL_MAX: f64 = 0.25;

/// q(x) ≈ (e^x − 1)/x on [−1/4, 1/4], degree 9, highest power first: a Chebyshev fit
/// (near-minimax) made with `mpmath.chebyfit` (`risk-core/tests/data/greeks/fit_exp_small.py`);
/// e^x = 1 + x·q(x) to 2.9e-17 relative with these doubles, evaluated exactly.
#[allow(clippy::excessive_precision)] // fitted digits as printed by the fit
const EXP_SMALL_C: [f64; 10] = [
    2.758_995_736_624_980_5e-7,
    2.759_648_863_787_355_4e-6,
    2.480_156_944_942_92e-5,
    1.984_124_841_605_262e-4,
    1.388_888_889_287_406_3e-3,
    8.333_333_338_116_193e-3,
    4.166_666_666_666_355_6e-2,
    0.166_666_666_666_629_3,
    0.5,
    1.0,
];

/// e^x for |x| ≤ [`EXP_SMALL_MAX`] without range reduction (no rounding to k, no ln 2 split, no
/// 2^k scale): 1 + x·q(x), all by Horner (ten multiply-adds).
#[inline(always)]
pub(crate) fn exp_small<T: Lane>(x: T) -> T {
    let mut q = T::splat(EXP_SMALL_C[0]);
    let mut i = 1;
    while i < EXP_SMALL_C.len() {
        q = q.mul_add(x, T::splat(EXP_SMALL_C[i]));
        i += 1;
    }
    q.mul_add(x, T::splat(1.0))
}

/// e^x for the kernels' discount factors e^{−rT}, e^{−qT} (|x| ≤ 700 after validation):
/// [`exp_small`] on lanes with |x| ≤ 1/4 — every rate times maturity a chain usually has — and
/// [`exp_mid`] on the others, chosen lane by lane so that the scalar twin and the vectors
/// agree bit for bit. A vector whose lanes are all small evaluates only [`exp_small`]: about
/// a third fewer operations and a shorter dependency chain than the reduced form.
#[inline(always)]
pub(crate) fn exp_discount<T: Lane>(x: T) -> T {
    let small = T::le(x.abs(), T::splat(EXP_SMALL_MAX));
    let e = exp_small(x);
    if T::any(T::not(small)) {
        T::select(small, e, exp_mid(x))
    } else {
        e
    }
}

/// The range reduction all the `exp`s share: x = k·ln2 + r (ln2 in two parts, |r| ≤ ln2/2) and
/// e^r = 1 + r + r²·p(r) with `poly` evaluating [`EXP_C`] at r. Returns (k, e^r); e^x = e^r·2^k.
#[inline(always)]
fn exp_reduced<T: Lane>(x: T, poly: impl Fn(T) -> T) -> (T, T) {
    let k = (x * T::splat(LOG2E)).round_even();
    let r = k.neg().mul_add(T::splat(LN2_HI_EXP), x);
    let r = k.neg().mul_add(T::splat(LN2_LO_EXP), r);
    (k, T::splat(1.0) + poly(r).mul_add(r * r, r))
}

/// [`EXP_C`] evaluated by Horner's scheme.
#[inline(always)]
fn exp_poly_horner<T: Lane>(r: T) -> T {
    let mut q = T::splat(EXP_C[0]);
    let mut i = 1;
    while i < EXP_C.len() {
        q = q.mul_add(r, T::splat(EXP_C[i]));
        i += 1;
    }
    q
}

/// e^x. Accurate to < 1 ulp for x in `[-745, 709.7]`; gives `+inf` above and `0` (through the
/// subnormals) below. NaN in, NaN out.
#[inline(always)]
pub(crate) fn exp<T: Lane>(x: T) -> T {
    // Clamp so that the two-step scaling below stays within the exponent range; results at the
    // clamps are already inf / 0. (NaN passes: both comparisons are false → returns x.)
    let x = T::select(T::lt(x, T::splat(-1400.0)), T::splat(-1400.0), x);
    let x = T::select(T::gt(x, T::splat(710.0)), T::splat(710.0), x);
    let (k, e) = exp_reduced(x, exp_poly_horner);
    // 2^k in two factors so that k down to -2020 and up to 1024 scale correctly (gradual
    // underflow, overflow to inf).
    let k1 = (k * T::splat(0.5)).round_even();
    let k2 = k - k1;
    // NaN lanes: keep the scale finite so that NaN propagates through `e`.
    let k1 = T::select(T::eq(k1, k1), k1, T::splat(0.0));
    let k2 = T::select(T::eq(k2, k2), k2, T::splat(0.0));
    e * T::pow2i(k1) * T::pow2i(k2)
}

/// e^x for `x` in [−708, 709] without any range handling: the kernels' discount factors
/// (|rT| ≤ 700 after validation, through [`exp_discount`]) and, through [`exp_kernel`], the
/// Gaussian factors. Equal to [`exp_kernel`] on that range. Horner's scheme: measured faster in
/// the vector kernels than Estrin's, which has a shorter dependency chain but three more
/// multiplications (the kernels are bound by multiply/FMA throughput more than by latency).
#[inline(always)]
pub(crate) fn exp_mid<T: Lane>(x: T) -> T {
    let (k, e) = exp_reduced(x, exp_poly_horner);
    e.scale2i(k)
}

/// e^x for the kernels, where the argument is known to be ≤ 709 (Gaussian factors −d²/2):
/// results below e^−708 (≈ 3e-308, only ever multiplied into values far below any tolerance)
/// flushed to 0. NaN is not propagated. Equal to [`exp`] wherever the result is ≥ e^−708 (the
/// same reduction and polynomial; scaling by 2^k is exact there). The flush range costs vectors
/// one compare and a branch taken only when some lane is in it ([`Lane::take_rare`]).
#[inline(always)]
pub(crate) fn exp_kernel<T: Lane>(x: T) -> T {
    let low = T::lt(x, T::splat(-708.0));
    let any_low = T::take_rare(low);
    let x = if any_low {
        T::select(low, T::splat(-708.0), x)
    } else {
        x
    };
    let e = exp_mid(x);
    if any_low {
        T::select(low, T::splat(0.0), e)
    } else {
        e
    }
}

/// The Gaussian factor for the kernels: e^(−z²/2) with `HALF`, e^(−z²) without (z = d/√2, the
/// form the Greeks kernel carries), in [`exp_kernel`] semantics: 0 below e^−708, i.e. |z| above
/// 37.6 (`HALF`) or 26.6. One rare-range test for vectors: below |z| = 37.5 (26.5) neither the
/// clamp nor the flush can apply, so [`exp_mid`] is called directly (the same bits as the full
/// path there).
#[inline(always)]
pub(crate) fn exp_gauss_kernel<T: Lane, const HALF: bool>(z: T) -> T {
    let far = T::gt(z.abs(), T::splat(if HALF { 37.5 } else { 26.5 }));
    if T::take_rare(far) {
        return exp_gauss_far::<T, HALF>(z);
    }
    exp_gauss_near::<T, HALF>(z)
}

/// [`exp_gauss_kernel`] for |z| ≤ 37.5 (`HALF`) or 26.5 known to the caller (no range test; the
/// same bits). z² is split exactly (FMA), so the factor keeps its relative accuracy where z² is
/// large.
#[inline(always)]
pub(crate) fn exp_gauss_near<T: Lane, const HALF: bool>(z: T) -> T {
    gauss_split(z, if HALF { -0.5 } else { -1.0 }, exp_mid)
}

/// e^{c·z²} (c = −1/2 or −1) through `exp_fn`, with z² split exactly by an FMA (z² = hi + lo):
/// e^{c·hi}·(1 + c·lo), so the factor keeps its relative accuracy where z² is large. The one
/// form of the Gaussian factor for the kernels, Φ and erfc.
#[inline(always)]
pub(crate) fn gauss_split<T: Lane>(z: T, c: f64, exp_fn: impl Fn(T) -> T) -> T {
    let scale = T::splat(c);
    let hi = z * z;
    let lo = z.mul_add(z, hi.neg());
    let e = exp_fn(hi * scale);
    e.mul_add(lo * scale, e)
}

/// [`exp_gauss_kernel`] with the range handling: |z| clamped to 40 (`HALF`) or 28.3 so that z²
/// stays finite, results below e^−708 flushed to 0.
#[inline(always)]
fn exp_gauss_far<T: Lane, const HALF: bool>(z: T) -> T {
    let clamp = T::splat(if HALF { 40.0 } else { 28.3 });
    let big = T::gt(z.abs(), clamp);
    let z = if T::take_rare(big) {
        T::select(big, clamp, z)
    } else {
        z
    };
    gauss_split(z, if HALF { -0.5 } else { -1.0 }, exp_kernel)
}

/// P(z) ≈ (ln((1+s)/(1−s)) − 2s)/(s·z), z = s² ∈ [0, (3−2√2)²], degree 6, highest power
/// first (Chebyshev fit with `mpmath.chebyfit`; the series would be Σ 2 z^(j−1)/(2j+1)). Error
/// below 2e-18 relative to ln(1+f).
#[allow(clippy::excessive_precision)] // fitted digits as printed by the fit
const LN_C: [f64; 7] = [
    0.146_164_496_850_434_06,
    0.153_317_216_005_560_42,
    0.181_828_891_252_617_23,
    0.222_222_111_347_950_8,
    0.285_714_286_259_754_87,
    0.399_999_999_998_995_05,
    0.666_666_666_666_667,
];

/// Natural logarithm of a positive finite `x` (normal or subnormal); < 1 ulp. Callers guarantee
/// the domain (the kernels validate inputs first); outside it the result is unspecified but
/// never a panic.
#[inline(always)]
pub(crate) fn ln<T: Lane>(x: T) -> T {
    let tiny = T::lt(x, T::splat(f64::MIN_POSITIVE));
    // Subnormals (rare): scale by 2^54 first.
    let any_tiny = T::take_rare(tiny);
    let x = if any_tiny {
        T::select(tiny, x * T::splat(18_014_398_509_481_984.0), x)
    } else {
        x
    };
    // x = m·2^e, m ∈ [√2/2, √2).
    let (e, m) = x.log_reduce();
    let e = if any_tiny {
        T::select(tiny, e - T::splat(54.0), e)
    } else {
        e
    };
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
    gauss_split(d, -0.5, exp)
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

/// Double-double product (relative error ~ 2^-104); the tests' check of [`exp_dd`].
#[cfg(test)]
#[inline(always)]
pub(crate) fn dd_mul<T: Lane>(a: (T, T), b: (T, T)) -> (T, T) {
    let (p, e) = two_prod(a.0, b.0);
    let e = a.0.mul_add(b.1, a.1.mul_add(b.0, e));
    fast_two_sum(p, e)
}

/// Double times double-double, normalized (relative error ~ 2^-104).
#[inline(always)]
pub(crate) fn dd_mul_d<T: Lane>(a: T, b: (T, T)) -> (T, T) {
    let (p, e) = two_prod(a, b.0);
    fast_two_sum(p, a.mul_add(b.1, e))
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

/// 1/6 as a double-double.
const INV6: (f64, f64) = (0.166_666_666_666_666_66, 9.251_858_538_542_97e-18);

/// 2^(j/64), j = 0..63, as double-doubles (mpmath, 50 digits).
#[allow(
    clippy::excessive_precision,
    clippy::unreadable_literal,
    clippy::approx_constant
)] // generated table (entry 32 is √2 as a double-double)
pub(crate) const EXP2_64THS: [(f64, f64); 64] = [
    (1.0, 0.0),
    (1.0108892860517005, -1.5234778603368577e-17),
    (1.0218971486541166, 5.109225028973444e-17),
    (1.0330248790212284, 7.600838874027088e-18),
    (1.0442737824274138, 8.551889705537965e-17),
    (1.0556451783605572, 1.759325738772092e-18),
    (1.0671404006768237, -7.899853966841582e-17),
    (1.0787607977571199, -6.656660436056593e-17),
    (1.0905077326652577, -3.046782079812471e-17),
    (1.102382583307841, 5.2660368715706944e-17),
    (1.1143867425958924, 1.0410278456845571e-16),
    (1.1265216186082418, 5.165856758795457e-17),
    (1.1387886347566916, 8.912812676025408e-17),
    (1.1511892299529827, 3.250710218863827e-17),
    (1.1637248587775775, 3.8292048369240935e-17),
    (1.1763969916502812, 5.554203254218079e-17),
    (1.189207115002721, 3.982015231465646e-17),
    (1.202156731452703, 6.644981499252301e-17),
    (1.215247359980469, -7.712630692681488e-17),
    (1.22848053610687, -1.89878163130253e-17),
    (1.241857812073484, 4.658027591836937e-17),
    (1.255380757024691, -6.7113898212968784e-18),
    (1.2690509571917332, 2.667932131342186e-18),
    (1.2828700160787783, 1.713594918243561e-17),
    (1.2968395546510096, 2.5382502794888315e-17),
    (1.3109612115247644, -7.181536135519454e-17),
    (1.3252366431597413, -2.8587312100388614e-17),
    (1.339667524053303, 8.927282594831732e-17),
    (1.3542555469368927, 7.70094837980299e-17),
    (1.3690024229745905, 9.593797919118849e-17),
    (1.383909881963832, -6.770511658794786e-17),
    (1.3989796725383112, -9.614213209051323e-17),
    (1.4142135623730951, -9.667293313452913e-17),
    (1.42961333839197, -1.2031642489053655e-17),
    (1.4451808069770467, -3.0237581349939873e-17),
    (1.460917794180647, -5.600377186075216e-17),
    (1.4768261459394993, -3.483994556892796e-17),
    (1.4929077282912648, 1.4192920154284036e-17),
    (1.5091644275934228, -1.016455327754295e-16),
    (1.5255981507445384, -1.1024941712342561e-16),
    (1.5422108254079407, 7.949834809697621e-17),
    (1.559004400237837, 3.7812070533575275e-17),
    (1.5759808451078865, -1.0136916471278304e-17),
    (1.593142151342267, -1.0094406542311964e-16),
    (1.6104903319492543, 2.4707192569797888e-17),
    (1.6280274218573478, -6.712955084707084e-17),
    (1.645755478153965, -1.0125679913674773e-16),
    (1.6636765803267364, 5.8909926967131e-17),
    (1.681792830507429, 8.199010020581497e-17),
    (1.7001063537185235, -8.0237193703977e-18),
    (1.718619298122478, -1.851380418263111e-17),
    (1.7373338352737062, 3.164389299292957e-17),
    (1.7562521603732995, 2.960140695448873e-17),
    (1.7753764925265212, 6.429731796556572e-17),
    (1.7947090750031072, 1.8227458427912087e-17),
    (1.8142521755003989, -9.969531538920349e-17),
    (1.8340080864093424, 3.283107224245627e-17),
    (1.8539791250833855, 9.761887490727594e-17),
    (1.8741676341103, -6.122763413004143e-17),
    (1.8945759815869656, 3.4034035352165297e-17),
    (1.9152065613971474, -1.0619946056195963e-16),
    (1.9360617934922943, 1.0332385960676326e-16),
    (1.9571441241754002, 8.960767791036668e-17),
    (1.978456026387951, 4.0388753109278167e-17),
];

/// Lanes that can look up [`EXP2_64THS`] (the table of [`exp_dd`]).
pub(crate) trait DdTableLane: Lane {
    /// `EXP2_64THS[j]` as (high parts, low parts) for an integer-valued `j` in [0, 63].
    fn exp2_64ths(j: Self) -> (Self, Self);
}

impl DdTableLane for f64 {
    #[inline(always)]
    fn exp2_64ths(j: f64) -> (f64, f64) {
        // The same index as the vector lanes read (see `exp2_64ths_x4`).
        EXP2_64THS[((j + TWO52).to_bits() & 63) as usize]
    }
}

/// 2^52: j + 2^52 holds an integer j ∈ [0, 2^52) in the low mantissa bits.
const TWO52: f64 = 4_503_599_627_370_496.0;

/// Four lanes: the index from the mantissa bits of j + 2^52 (no float-to-integer conversion with
/// its saturation checks), one (high, low) pair read per lane.
#[inline(always)]
fn exp2_64ths_x4(j: f64x4) -> (f64x4, f64x4) {
    let bits: [u64; 4] = bytemuck::cast(j + f64x4::splat(TWO52));
    let e = bits.map(|b| EXP2_64THS[(b & 63) as usize]);
    (f64x4::new(e.map(|p| p.0)), f64x4::new(e.map(|p| p.1)))
}

impl DdTableLane for f64x4 {
    #[inline(always)]
    fn exp2_64ths(j: f64x4) -> (f64x4, f64x4) {
        exp2_64ths_x4(j)
    }
}

impl DdTableLane for X8 {
    #[inline(always)]
    fn exp2_64ths(j: X8) -> (X8, X8) {
        let (h0, l0) = exp2_64ths_x4(j.0);
        let (h1, l1) = exp2_64ths_x4(j.1);
        (X8(h0, h1), X8(l0, l1))
    }
}

impl DdTableLane for X12 {
    #[inline(always)]
    fn exp2_64ths(j: X12) -> (X12, X12) {
        let (h0, l0) = exp2_64ths_x4(j.0);
        let (h1, l1) = exp2_64ths_x4(j.1);
        let (h2, l2) = exp2_64ths_x4(j.2);
        (X12(h0, h1, h2), X12(l0, l1, l2))
    }
}

/// e^(yh + yl) as a double-double with relative error of order 1e-26 (e^y·e^−y − 1 ≤ 4.1e-26
/// measured in the tests), for |yh| ≤ 700: the precision the implied-volatility reduction needs
/// to subtract the intrinsic value from a double price.
///
/// Reduction y = (64m + j)·ln2/64 + r, |r| ≤ ln2/128, with a three-part ln 2; the result is
/// 2^m · 2^(j/64) · e^r with 2^(j/64) from a double-double table. In e^r − 1 only the terms
/// r0, r0²/2, r0³/6 need double-double products (FMA); r1 (the low part of r) and the terms
/// from r0⁴/24 ≈ 3.5e-11 down are plain doubles. The sums whose larger term is known
/// (|r0| ≥ r0²/2 ≥ |r0|³/6 for |r0| ≤ ln2/128, the table entry ≥ 1 against its product with
/// e^r − 1) are fast two-sums, and the table entry times 1 + (e^r − 1) needs one exact
/// product: the rest of it is far below the entry's low part.
#[inline(always)]
pub(crate) fn exp_dd<T: DdTableLane>(yh: T, yl: T) -> (T, T) {
    let k = (yh * T::splat(64.0 * LOG2E)).round_even();
    // m = floor(k/64) (no ties: k is an integer), j = k − 64m ∈ [0, 63].
    let m = ((k - T::splat(31.5)) * T::splat(1.0 / 64.0)).round_even();
    let j = k - T::splat(64.0) * m;
    // y − k·ln2/64: k·L1/64 is exact, the difference too.
    let t = k.neg().mul_add(T::splat(DD_LN2_1 / 64.0), yh);
    let (p, pe) = two_prod(k, T::splat(DD_LN2_2 / 64.0));
    let (s1, e1) = two_sum(t, p.neg());
    let lo = (e1 - pe) + (yl - k * T::splat(DD_LN2_3 / 64.0));
    let (r0, r1) = fast_two_sum(s1, lo);
    // e^r − 1 = r0 + r1 + r0²/2 + r0·r1 + r0³/6 + r0⁴·(1/24 + r0/120 + ...): the r0² and r0³
    // terms as double-doubles (FMA products), everything of order 1e-11 and below in doubles.
    let (sq, sq_lo) = two_prod(r0, r0);
    let (cu, cu_lo) = two_prod(sq, r0);
    let cu_lo = sq_lo.mul_add(r0, cu_lo);
    let (c6, c6_lo) = two_prod(cu, T::splat(INV6.0));
    let c6_lo = cu.mul_add(T::splat(INV6.1), cu_lo.mul_add(T::splat(INV6.0), c6_lo));
    let quartic = T::splat(1.0 / 40_320.0)
        .mul_add(r0, T::splat(1.0 / 5_040.0))
        .mul_add(r0, T::splat(1.0 / 720.0))
        .mul_add(r0, T::splat(1.0 / 120.0))
        .mul_add(r0, T::splat(1.0 / 24.0))
        * (sq * sq);
    let (h, e) = fast_two_sum(r0, T::splat(0.5) * sq);
    let (h, e2) = fast_two_sum(h, c6);
    // r1·e^{r0} − r1 = r1·(r0 + r0²/2 + ...), to order r0²·r1.
    let r1_terms = T::splat(0.5).mul_add(sq, r0).mul_add(r1, quartic);
    let low = (e + e2) + (r1 + (T::splat(0.5).mul_add(sq_lo, c6_lo) + r1_terms));
    // 2^(j/64)·(1 + h + low) = E + E·h + (E·low + E_lo·h + E_lo), E = E_hi + E_lo the table
    // entry: E·h exact (FMA), the rest of order 1e-16·E or below in doubles.
    let (th, tl) = T::exp2_64ths(j);
    let (ph, pl) = two_prod(th, h);
    let (sh, se) = fast_two_sum(th, ph);
    let rest = th.mul_add(low, tl.mul_add(h, pl)) + tl;
    let (rh, rl) = fast_two_sum(sh, se + rest);
    let scale = T::pow2i(m);
    (rh * scale, rl * scale)
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
    fn discount_exp_within_one_ulp_of_std_and_lane_consistent() {
        // Dense where the unreduced polynomial serves, sparse across the rest of |x| ≤ 700.
        let mut xs = points(200_000, -EXP_SMALL_MAX, EXP_SMALL_MAX);
        xs.extend(points(20_000, -700.0, 700.0));
        xs.extend([0.0, -0.0, EXP_SMALL_MAX, -EXP_SMALL_MAX, 1e-300, -1e-18]);
        xs.extend([EXP_SMALL_MAX.next_up(), (-EXP_SMALL_MAX).next_down()]);
        let (mut small, mut large) = (0.0f64, 0.0f64);
        for &x in &xs {
            let got = exp_discount(x);
            let u = ulps(got, x.exp());
            if x.abs() <= EXP_SMALL_MAX {
                small = small.max(u);
            } else {
                large = large.max(u);
            }
        }
        eprintln!("discount exp: max {small:.2} ulp on |x| <= 1/4, {large:.2} ulp beyond (vs std)");
        assert!(small <= 1.0 && large <= 1.0, "{small} {large}");
        // Vectors with small and large lanes mixed take each lane's own polynomial.
        for c in xs.chunks_exact(4) {
            let big = |x: f64| (x * 2000.0).clamp(-700.0, 700.0);
            let mixed = [c[0], big(c[1]), c[2], big(c[3])];
            let v = exp_discount(f64x4::new(mixed)).to_array();
            for (g, x) in v.iter().zip(mixed) {
                assert_eq!(g.to_bits(), exp_discount(x).to_bits(), "{x}");
            }
        }
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
        let mut worst = 0.0f64;
        for y in points(20_000, -40.0, 40.0) {
            let (h, l) = exp_dd(y, 0.0);
            assert!(ulps(h, y.exp()) <= 1.0, "exp_dd({y}) hi");
            // e^y · e^−y = 1 far beyond double precision.
            let (h2, l2) = exp_dd(-y, 0.0);
            let (p, e) = dd_mul((h, l), (h2, l2));
            worst = worst.max(((p - 1.0) + e).abs());
        }
        eprintln!("exp_dd: max |e^y·e^-y - 1| = {worst:.2e}");
        assert!(worst < 1e-25, "exp_dd: product - 1 up to {worst:e}");
        // Low part of the argument counts: e^(y + 1e-20) − e^y ≈ 1e-20·e^y.
        let (h0, l0) = exp_dd(0.3, 0.0);
        let (h1, l1) = exp_dd(0.3, 1e-20);
        let diff = (h1 - h0) + (l1 - l0);
        assert!((diff / (1e-20 * 0.3f64.exp()) - 1.0).abs() < 1e-6);
    }
}
