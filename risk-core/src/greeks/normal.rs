//! The standard normal CDF Φ and `erfc`, accurate to a few ulp over the whole real line including
//! the deep tails, scalar and `f64x4`.
//!
//! Method: Φ and erfc from `erfcx(y) = erfc(y)·e^{y²}`, `y = |x|` (for Φ(d), `y = |d|/√2`),
//! times a Gaussian factor, in two regions:
//! - `y ≤ 4`: one degree (8, 8) rational fitted for this crate with `mpmath` (relative error
//!   3.9e-17 with the coefficients rounded to doubles). W. J. Cody's scheme ("Rational Chebyshev
//!   approximations for the error function", Math. Comp. 23 (1969) 631–637; SPECFUN `CALERF`)
//!   splits this range in two (erf below 0.46875, erfc·e^{y²} above), which a vector of lanes
//!   with both small and moderate arguments, the usual case in an option chain, had to evaluate
//!   both of; one region halves that work. Φ and erfc need no erf form near 0: the term
//!   subtracted from 1 (or 2) is at most 1/2 (or 1) there, so nothing cancels.
//! - `y > 4`: Cody's `erfc(y) = e^{−y²}/y·(1/√π − z·P₅(z)/Q₅(z))`, `z = 1/y²`, rewritten as a
//!   rational in `w = y²` (numerator and denominator multiplied by `w⁵`) so that it needs one
//!   division, and the vector code blends numerators and denominators before that division.
//!
//! The Gaussian factor is computed from the caller's own argument (for Φ(d): `e^{−d²/2}` from
//! `d`, not from the rounded `d/√2`), with `d²` split exactly by an FMA, so tail values keep their
//! relative accuracy (Φ(−37) is correct to a few ulp, not to 1e-13).
//!
//! The scalar functions branch on the region; the `f64x4` functions evaluate the outer region
//! only when some lane needs it and blend. Both execute the same operations per lane and agree
//! bit for bit.

use super::elementary::{exp, exp_neg_half_sq, gauss_split};
use super::lanes::{Lane, X12, X16, X8};
use wide::f64x4;

const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
/// 1/√π.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
/// 1/√(2π).
pub(crate) const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// Upper end of the central region, in y = |x| of erfc.
const Y_CENTRAL: f64 = 4.0;
/// Clamp for the outer region: erfc(30) = 0 in doubles, and the clamp keeps w⁶ finite.
const Y_CLAMP: f64 = 30.0;

// erfc(y)·e^{y²} on 0 ≤ y ≤ 4: a degree (8, 8) rational, numerator lowest power first,
// denominator monic (lowest power first, leading 1 implied). Fitted for this crate with
// `mpmath` (`risk-core/tests/data/greeks/fit_erfcx.py 8 8 4`: 50 digits, 600 Chebyshev points,
// Sanathanan–Koerner iterations then Lawson reweighting toward minimax): relative error 1.2e-17
// as fitted, 3.9e-17 with the coefficients rounded to these doubles (4,001 points checked in
// 50-digit arithmetic). N[0] = M[0], so the value at y = 0 is exactly 1. One region where Cody
// needs two (erf below 0.46875, erfc·e^{y²} above).
#[allow(clippy::excessive_precision)] // fitted digits as printed by the fit
const N: [f64; 9] = [
    1_637.338_466_591_834_7,
    2_630.572_925_345_532,
    2_129.452_416_276_843,
    1_061.839_041_872_613_5,
    346.968_613_046_716_94,
    73.748_683_525_679_5,
    9.439_860_187_610_519,
    0.564_186_156_133_262_3,
    7.450_695_069_310_654e-8,
];
#[allow(clippy::excessive_precision)] // fitted digits as printed by the fit
const M: [f64; 8] = [
    1_637.338_466_591_834_7,
    4_478.111_540_531_864,
    5_545.121_719_951_451,
    4_072.419_739_261_276,
    1_947.083_100_153_544_8,
    623.331_363_026_052_5,
    131.218_082_498_837_4,
    16.731_581_274_961_798,
];
// erfc·x·e^{x²} − 1/√π on x > 4, in z = 1/x²: Cody (1969) / CALERF, digits as published.
#[allow(clippy::excessive_precision)] // published digits
const P: [f64; 6] = [
    0.305_326_634_961_232_36,
    0.360_344_899_949_804_45,
    0.125_781_726_111_229_26,
    0.016_083_785_148_742_275,
    6.587_491_615_298_378e-4,
    0.016_315_387_137_302_097,
];
#[allow(clippy::excessive_precision)] // published digits
const Q: [f64; 5] = [
    2.568_520_192_289_822,
    1.872_952_849_923_460_4,
    0.527_905_102_951_428_4,
    0.060_518_341_312_441_32,
    0.002_335_204_976_268_691_8,
];

/// `a` with every entry halved (exact: powers of two scale without rounding).
const fn halved<const L: usize>(a: [f64; L]) -> [f64; L] {
    let mut h = a;
    let mut i = 0;
    while i < L {
        h[i] = a[i] * 0.5;
        i += 1;
    }
    h
}

/// [`N`] halved: numerators of erfcx/2, which carries Φ's factor 1/2 for free.
const N_HALF: [f64; 9] = halved(N);
/// [`P`] halved (see [`N_HALF`]).
const P_HALF: [f64; 6] = halved(P);

/// Central region: (num, den) with erfc(y)·e^{y²} = num/den (`HALF`: num/den = erfcx/2, the
/// same bits halved), 0 ≤ y ≤ 4.
#[inline(always)]
fn central<T: Lane, const HALF: bool>(y: T) -> (T, T) {
    let n = if HALF { &N_HALF } else { &N };
    let mut p = T::splat(n[8]);
    let mut q = y + T::splat(M[7]);
    let mut i = 7;
    while i > 0 {
        p = p.mul_add(y, T::splat(n[i]));
        q = q.mul_add(y, T::splat(M[i - 1]));
        i -= 1;
    }
    (p.mul_add(y, T::splat(n[0])), q)
}

/// Outer region: (num, den) with erfc(y)·e^{y²} = num/den (`HALF` as [`central`]),
/// y ≤ `Y_CLAMP`.
#[inline(always)]
fn outer<T: Lane, const HALF: bool>(y: T) -> (T, T) {
    let (p, c) = if HALF {
        (&P_HALF, 0.5 * FRAC_1_SQRT_PI)
    } else {
        (&P, FRAC_1_SQRT_PI)
    };
    let w = y * y;
    let pw = T::splat(p[4])
        .mul_add(w, T::splat(p[3]))
        .mul_add(w, T::splat(p[2]))
        .mul_add(w, T::splat(p[1]))
        .mul_add(w, T::splat(p[0]))
        .mul_add(w, T::splat(p[5]));
    let qw = T::splat(Q[4])
        .mul_add(w, T::splat(Q[3]))
        .mul_add(w, T::splat(Q[2]))
        .mul_add(w, T::splat(Q[1]))
        .mul_add(w, T::splat(Q[0]))
        .mul_add(w, T::splat(1.0));
    let wq = w * qw;
    (wq.mul_add(T::splat(c), pw.neg()), y * wq)
}

/// Region dispatch: scalar branches, vectors blend.
pub(crate) trait CodyLane: Lane {
    /// `erfc(y)·e^{y²}` for `y ≥ 0` (NaN lanes take the central region and stay NaN); with
    /// `HALF`, exactly half of it.
    fn erfcx<const HALF: bool>(y: Self) -> Self;
}

impl CodyLane for f64 {
    #[inline(always)]
    fn erfcx<const HALF: bool>(y: f64) -> f64 {
        let (n, d) = if y > Y_CENTRAL {
            outer::<f64, HALF>(y.min(Y_CLAMP))
        } else {
            central::<f64, HALF>(y)
        };
        n / d
    }
}

/// Vector region dispatch: the central region always (the only one a realistic chain needs),
/// the outer one only when some lane needs it; blend numerators and denominators, divide once.
#[inline(always)]
fn erfcx_blend<T: Lane, const HALF: bool>(y: T) -> T {
    let (mut num, mut den) = central::<T, HALF>(y);
    let is_outer = T::gt(y, T::splat(Y_CENTRAL));
    if T::any(is_outer) {
        let (n, d) = outer::<T, HALF>(y.min(T::splat(Y_CLAMP)));
        num = T::select(is_outer, n, num);
        den = T::select(is_outer, d, den);
    }
    num / den
}

impl CodyLane for f64x4 {
    #[inline(always)]
    fn erfcx<const HALF: bool>(y: f64x4) -> f64x4 {
        erfcx_blend::<f64x4, HALF>(y)
    }
}

impl CodyLane for X8 {
    #[inline(always)]
    fn erfcx<const HALF: bool>(y: X8) -> X8 {
        erfcx_blend::<X8, HALF>(y)
    }
}

impl CodyLane for X12 {
    #[inline(always)]
    fn erfcx<const HALF: bool>(y: X12) -> X12 {
        erfcx_blend::<X12, HALF>(y)
    }
}

impl CodyLane for X16 {
    #[inline(always)]
    fn erfcx<const HALF: bool>(y: X16) -> X16 {
        erfcx_blend::<X16, HALF>(y)
    }
}

/// Φ(d) given `g = e^{−d²/2}` (which the kernels share with φ and the other Φ):
/// `Φ(d) = g/2 · erfcx(|d|/√2)` for d < 0, one minus that for d ≥ 0 (the subtracted term is at
/// most 1/2 there, so no cancellation).
#[inline(always)]
pub(crate) fn ncdf_g<T: CodyLane>(d: T, g: T) -> T {
    let y = (d * T::splat(FRAC_1_SQRT_2)).abs();
    let q = T::erfcx::<false>(y);
    let tail = (T::splat(0.5) * g) * q;
    T::select(T::lt(d, T::splat(0.0)), tail, T::splat(1.0) - tail)
}

/// Φ(ω·d) for ω = ±1 from u = d/√2, y = |u| and `g = e^{−u²}` (= e^{−d²/2}): the Greeks
/// kernel's form of [`ncdf_g`], which carries u rather than d, with fewer operations. ω enters
/// as a sign flip, not a multiplication; the factor 1/2 sits in the rational's numerator (an
/// exact scaling: the same bits as `(0.5·g)·erfcx`); the side is chosen by the sign bit of ω·u,
/// not a comparison (they differ only at ω·u = −0, where both sides are 1/2 up to the rounding
/// of `g`). `CENTRAL`: the caller knows y ≤ 4 in every lane (no region test, the same bits).
#[inline(always)]
pub(crate) fn ncdf_flip<T: CodyLane, const CENTRAL: bool>(u: T, y: T, omega: T, g: T) -> T {
    let half = if CENTRAL {
        let (n, m) = central::<T, true>(y);
        n / m
    } else {
        T::erfcx::<true>(y)
    };
    let tail = g * half;
    T::select_neg(u.flip(omega), tail, T::splat(1.0) - tail)
}

/// Whether some lane of `y` lies outside the central region of erfcx (where
/// [`ncdf_flip`] must not be told `CENTRAL`).
#[inline(always)]
pub(crate) fn beyond_central<T: Lane>(y: T) -> bool {
    T::any(T::gt(y, T::splat(Y_CENTRAL)))
}

/// Φ(d), generic.
#[inline(always)]
pub(crate) fn ncdf<T: CodyLane>(d: T) -> T {
    ncdf_g(d, exp_neg_half_sq(d))
}

/// erfc(x), generic.
#[inline(always)]
pub(crate) fn erfc_generic<T: CodyLane>(x: T) -> T {
    let y = x.abs();
    let q = T::erfcx::<false>(y);
    // e^{−x²} with x² split exactly.
    let yc = T::select(T::gt(y, T::splat(Y_CLAMP)), T::splat(Y_CLAMP), y);
    let t = gauss_split(yc, -1.0, exp) * q;
    T::select(T::lt(x, T::splat(0.0)), T::splat(2.0) - t, t)
}

/// Standard normal CDF Φ(x) = P(Z ≤ x). Relative error within a few ulp for every x (Φ(−38) ≈
/// 2.9e-316 included); 0 below about −38.5, 1 above about 8.3; NaN for NaN.
#[must_use]
#[inline]
pub fn norm_cdf(x: f64) -> f64 {
    ncdf(x)
}

/// Four lanes of [`norm_cdf`], bit-identical to it lane by lane.
#[must_use]
#[inline]
pub fn norm_cdf_x4(x: f64x4) -> f64x4 {
    ncdf(x)
}

/// Standard normal density φ(x) = e^{−x²/2}/√(2π), within about 2 ulp for every x.
#[must_use]
#[inline]
pub fn norm_pdf(x: f64) -> f64 {
    exp_neg_half_sq(x) * FRAC_1_SQRT_2PI
}

/// Four lanes of [`norm_pdf`].
#[must_use]
#[inline]
pub fn norm_pdf_x4(x: f64x4) -> f64x4 {
    exp_neg_half_sq(x) * f64x4::splat(FRAC_1_SQRT_2PI)
}

/// Complementary error function erfc(x) = 1 − erf(x), relative error within a few ulp for
/// every x (down to the subnormals, erfc(26.5) ≈ 6e-307); NaN for NaN.
#[must_use]
#[inline]
pub fn erfc(x: f64) -> f64 {
    erfc_generic(x)
}

/// Four lanes of [`erfc`], bit-identical to it lane by lane.
#[must_use]
#[inline]
pub fn erfc_x4(x: f64x4) -> f64x4 {
    erfc_generic(x)
}
