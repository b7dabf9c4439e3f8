//! The one audited place where the Greeks code touches SIMD: a small [`Lane`] trait implemented
//! for `f64` (the scalar twin) and `wide::f64x4` (four lanes of AVX2).
//!
//! All arithmetic in `greeks` is written once, generically over [`Lane`], so the scalar twin and
//! the vector kernel execute the same operations in the same order (FMA where the code says
//! `mul_add`, correctly rounded `+ - * / sqrt` elsewhere) and give bit-identical results. The only
//! differences are in control flow: the scalar twin branches where the vector code blends.
//!
//! No `unsafe` here: bit casts go through `bytemuck` (both types are `Pod`).

use core::ops::{Add, Div, Mul, Sub};
use wide::{f64x4, i64x4, u64x4, CmpEq, CmpGe, CmpGt, CmpLe, CmpLt};

/// A lane type: `f64` or `f64x4`. Comparison results are masks ([`Lane::Mask`]).
pub(crate) trait Lane:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// `bool` for `f64`, an all-ones/all-zeros `f64x4` for vectors.
    type Mask: Copy;
    /// Broadcast a constant.
    fn splat(v: f64) -> Self;
    /// `self * b + c` with one rounding (FMA).
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `-self` (sign flip, exact; `-0.0` for `0.0`).
    fn neg(self) -> Self;
    /// Correctly rounded square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Round to nearest, ties to even.
    fn round_even(self) -> Self;
    /// Lane-wise `self < o`.
    fn lt(self, o: Self) -> Self::Mask;
    /// Lane-wise `self <= o`.
    fn le(self, o: Self) -> Self::Mask;
    /// Lane-wise `self > o`.
    fn gt(self, o: Self) -> Self::Mask;
    /// Lane-wise `self >= o`.
    fn ge(self, o: Self) -> Self::Mask;
    /// Lane-wise `self == o`.
    fn eq(self, o: Self) -> Self::Mask;
    /// `m ? t : f` per lane.
    fn select(m: Self::Mask, t: Self, f: Self) -> Self;
    /// Mask conjunction.
    fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Mask negation.
    fn not(a: Self::Mask) -> Self::Mask;
    /// Whether any lane of the mask is set.
    fn any(m: Self::Mask) -> bool;
    /// Whether to take the path for a rare range (subnormal ln argument, Gaussian factor in the
    /// flush range) selected by `m`: vectors only when some lane needs it (one predictable
    /// branch instead of the blends), the scalar twin always (branch-free selects, which
    /// measured faster there). Either way the values are the same: the rare path's selects
    /// leave the other lanes unchanged.
    fn take_rare(m: Self::Mask) -> bool;
    /// Smaller of two values (operands are never NaN where this is used).
    fn min(self, o: Self) -> Self;
    /// Larger of two values (operands are never NaN where this is used).
    fn max(self, o: Self) -> Self;
    /// `2^k` for an integer-valued `k` in `[-1022, 1023]`.
    fn pow2i(k: Self) -> Self;
    /// For a positive normal `self`: `(e, m)` with `self = m · 2^e`, `m ∈ [1, 2)`, `e` an
    /// integer-valued float.
    fn exponent_mantissa(self) -> (Self, Self);
}

impl Lane for f64 {
    type Mask = bool;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        f64::mul_add(self, b, c)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        -self
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn round_even(self) -> Self {
        f64::round_ties_even(self)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> bool {
        self < o
    }
    #[inline(always)]
    fn le(self, o: Self) -> bool {
        self <= o
    }
    #[inline(always)]
    fn gt(self, o: Self) -> bool {
        self > o
    }
    #[inline(always)]
    fn ge(self, o: Self) -> bool {
        self >= o
    }
    #[inline(always)]
    fn eq(self, o: Self) -> bool {
        self == o
    }
    #[inline(always)]
    fn select(m: bool, t: Self, f: Self) -> Self {
        if m {
            t
        } else {
            f
        }
    }
    #[inline(always)]
    fn and(a: bool, b: bool) -> bool {
        a & b
    }
    #[inline(always)]
    fn not(a: bool) -> bool {
        !a
    }
    #[inline(always)]
    fn any(m: bool) -> bool {
        m
    }
    #[inline(always)]
    fn take_rare(_m: bool) -> bool {
        true
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        // Same semantics as `vminpd` (returns `o` unless `self < o`).
        if self < o {
            self
        } else {
            o
        }
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // Same semantics as `vmaxpd` (returns `o` unless `self > o`).
        if self > o {
            self
        } else {
            o
        }
    }
    #[inline(always)]
    fn pow2i(k: Self) -> Self {
        f64::from_bits(((k as i64 + 1023) as u64) << 52)
    }
    #[inline(always)]
    fn exponent_mantissa(self) -> (Self, Self) {
        let bits = self.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
        let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
        (e as f64, m)
    }
}

/// 2^52 + 2^51: adding it to an integer-valued double of magnitude < 2^51 leaves the integer in
/// the low mantissa bits.
const MAGIC_I: f64 = 6_755_399_441_055_744.0;

impl Lane for f64x4 {
    type Mask = f64x4;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        f64x4::splat(v)
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        f64x4::mul_add(self, b, c)
    }
    #[inline(always)]
    fn neg(self) -> Self {
        self ^ f64x4::splat(-0.0)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64x4::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64x4::abs(self)
    }
    #[inline(always)]
    fn round_even(self) -> Self {
        f64x4::round(self)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        self.cmp_lt(o)
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self {
        self.cmp_le(o)
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Self {
        self.cmp_gt(o)
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        self.cmp_ge(o)
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        self.cmp_eq(o)
    }
    #[inline(always)]
    fn select(m: Self, t: Self, f: Self) -> Self {
        m.blend(t, f)
    }
    #[inline(always)]
    fn and(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline(always)]
    fn not(a: Self) -> Self {
        !a
    }
    #[inline(always)]
    fn any(m: Self) -> bool {
        m.any()
    }
    #[inline(always)]
    fn take_rare(m: Self) -> bool {
        m.any()
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        // Blend on an explicit comparison so that the semantics match the scalar twin exactly.
        self.cmp_lt(o).blend(self, o)
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        self.cmp_gt(o).blend(self, o)
    }
    #[inline(always)]
    fn pow2i(k: Self) -> Self {
        // k + 1023 as an integer in the low mantissa bits, then shifted into the exponent field.
        let biased = k + f64x4::splat(MAGIC_I + 1023.0);
        let bits: i64x4 = bytemuck::cast(biased);
        bytemuck::cast(bits << 52)
    }
    #[inline(always)]
    fn exponent_mantissa(self) -> (Self, Self) {
        let bits: u64x4 = bytemuck::cast(self);
        // Exponent field as an integer, converted to f64 by the 2^52 trick.
        let ebits = (bits >> 52) & u64x4::splat(0x7ff);
        let two52: u64x4 = bytemuck::cast(f64x4::splat(4_503_599_627_370_496.0));
        let ef: f64x4 = bytemuck::cast(ebits | two52);
        let e = ef - f64x4::splat(4_503_599_627_370_496.0 + 1023.0);
        let mbits =
            (bits & u64x4::splat(0x000f_ffff_ffff_ffff)) | u64x4::splat(0x3ff0_0000_0000_0000);
        (e, bytemuck::cast(mbits))
    }
}

/// Load four lanes from a slice at `i` (caller guarantees `i + 4 <= s.len()`).
#[inline(always)]
pub(crate) fn load4(s: &[f64], i: usize) -> f64x4 {
    let a: [f64; 4] = s[i..i + 4].try_into().unwrap_or([f64::NAN; 4]);
    f64x4::new(a)
}

/// Store four lanes into a slice at `i` (caller guarantees `i + 4 <= s.len()`).
#[inline(always)]
pub(crate) fn store4(s: &mut [f64], i: usize, v: f64x4) {
    s[i..i + 4].copy_from_slice(&v.to_array());
}

/// Eight lanes as two `f64x4` halves. Every operation is applied to both halves, which gives
/// the out-of-order core two independent dependency chains to interleave: the Greeks kernel is
/// one long chain (ln → d → exp → Φ), so this roughly doubles throughput over a lone `f64x4`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct X8(pub f64x4, pub f64x4);

macro_rules! x8_binop {
    ($tr:ident, $f:ident) => {
        impl $tr for X8 {
            type Output = X8;
            #[inline(always)]
            fn $f(self, o: X8) -> X8 {
                X8(self.0.$f(o.0), self.1.$f(o.1))
            }
        }
    };
}
x8_binop!(Add, add);
x8_binop!(Sub, sub);
x8_binop!(Mul, mul);
x8_binop!(Div, div);

impl Lane for X8 {
    type Mask = X8;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        X8(f64x4::splat(v), f64x4::splat(v))
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        X8(self.0.mul_add(b.0, c.0), self.1.mul_add(b.1, c.1))
    }
    #[inline(always)]
    fn neg(self) -> Self {
        X8(Lane::neg(self.0), Lane::neg(self.1))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        X8(self.0.sqrt(), self.1.sqrt())
    }
    #[inline(always)]
    fn abs(self) -> Self {
        X8(self.0.abs(), self.1.abs())
    }
    #[inline(always)]
    fn round_even(self) -> Self {
        X8(self.0.round(), self.1.round())
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        X8(self.0.cmp_lt(o.0), self.1.cmp_lt(o.1))
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self {
        X8(self.0.cmp_le(o.0), self.1.cmp_le(o.1))
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Self {
        X8(self.0.cmp_gt(o.0), self.1.cmp_gt(o.1))
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        X8(self.0.cmp_ge(o.0), self.1.cmp_ge(o.1))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        X8(self.0.cmp_eq(o.0), self.1.cmp_eq(o.1))
    }
    #[inline(always)]
    fn select(m: Self, t: Self, f: Self) -> Self {
        X8(m.0.blend(t.0, f.0), m.1.blend(t.1, f.1))
    }
    #[inline(always)]
    fn and(a: Self, b: Self) -> Self {
        X8(a.0 & b.0, a.1 & b.1)
    }
    #[inline(always)]
    fn not(a: Self) -> Self {
        X8(!a.0, !a.1)
    }
    #[inline(always)]
    fn any(m: Self) -> bool {
        (m.0 | m.1).any()
    }
    #[inline(always)]
    fn take_rare(m: Self) -> bool {
        <Self as Lane>::any(m)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        X8(Lane::min(self.0, o.0), Lane::min(self.1, o.1))
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        X8(Lane::max(self.0, o.0), Lane::max(self.1, o.1))
    }
    #[inline(always)]
    fn pow2i(k: Self) -> Self {
        X8(<f64x4 as Lane>::pow2i(k.0), <f64x4 as Lane>::pow2i(k.1))
    }
    #[inline(always)]
    fn exponent_mantissa(self) -> (Self, Self) {
        let (e0, m0) = self.0.exponent_mantissa();
        let (e1, m1) = self.1.exponent_mantissa();
        (X8(e0, e1), X8(m0, m1))
    }
}

/// Load eight lanes from a slice at `i` (caller guarantees `i + 8 <= s.len()`).
#[inline(always)]
pub(crate) fn load8(s: &[f64], i: usize) -> X8 {
    X8(load4(s, i), load4(s, i + 4))
}

/// Store eight lanes into a slice at `i` (caller guarantees `i + 8 <= s.len()`).
#[inline(always)]
pub(crate) fn store8(s: &mut [f64], i: usize, v: X8) {
    store4(s, i, v.0);
    store4(s, i + 4, v.1);
}

/// Twelve lanes as three `f64x4`: three independent dependency chains (see [`X8`]); measured
/// faster than [`X8`] on the Greeks and implied-volatility kernels (more work in flight to hide
/// the latency of the long ln → exp → Φ chain).
#[derive(Clone, Copy, Debug)]
pub(crate) struct X12(pub f64x4, pub f64x4, pub f64x4);

impl X12 {
    #[inline(always)]
    fn map(self, f: impl Fn(f64x4) -> f64x4) -> X12 {
        X12(f(self.0), f(self.1), f(self.2))
    }
    #[inline(always)]
    fn zip(self, o: X12, f: impl Fn(f64x4, f64x4) -> f64x4) -> X12 {
        X12(f(self.0, o.0), f(self.1, o.1), f(self.2, o.2))
    }
}

macro_rules! x12_binop {
    ($tr:ident, $f:ident) => {
        impl $tr for X12 {
            type Output = X12;
            #[inline(always)]
            fn $f(self, o: X12) -> X12 {
                self.zip(o, |a, b| a.$f(b))
            }
        }
    };
}
x12_binop!(Add, add);
x12_binop!(Sub, sub);
x12_binop!(Mul, mul);
x12_binop!(Div, div);

impl Lane for X12 {
    type Mask = X12;
    #[inline(always)]
    fn splat(v: f64) -> Self {
        let s = f64x4::splat(v);
        X12(s, s, s)
    }
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        X12(
            self.0.mul_add(b.0, c.0),
            self.1.mul_add(b.1, c.1),
            self.2.mul_add(b.2, c.2),
        )
    }
    #[inline(always)]
    fn neg(self) -> Self {
        self.map(Lane::neg)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        self.map(f64x4::sqrt)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.map(f64x4::abs)
    }
    #[inline(always)]
    fn round_even(self) -> Self {
        self.map(f64x4::round)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        self.zip(o, |a, b| a.cmp_lt(b))
    }
    #[inline(always)]
    fn le(self, o: Self) -> Self {
        self.zip(o, |a, b| a.cmp_le(b))
    }
    #[inline(always)]
    fn gt(self, o: Self) -> Self {
        self.zip(o, |a, b| a.cmp_gt(b))
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        self.zip(o, |a, b| a.cmp_ge(b))
    }
    #[inline(always)]
    fn eq(self, o: Self) -> Self {
        self.zip(o, |a, b| a.cmp_eq(b))
    }
    #[inline(always)]
    fn select(m: Self, t: Self, f: Self) -> Self {
        X12(
            m.0.blend(t.0, f.0),
            m.1.blend(t.1, f.1),
            m.2.blend(t.2, f.2),
        )
    }
    #[inline(always)]
    fn and(a: Self, b: Self) -> Self {
        a.zip(b, |x, y| x & y)
    }
    #[inline(always)]
    fn not(a: Self) -> Self {
        a.map(|x| !x)
    }
    #[inline(always)]
    fn any(m: Self) -> bool {
        (m.0 | m.1 | m.2).any()
    }
    #[inline(always)]
    fn take_rare(m: Self) -> bool {
        <Self as Lane>::any(m)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        self.zip(o, Lane::min)
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        self.zip(o, Lane::max)
    }
    #[inline(always)]
    fn pow2i(k: Self) -> Self {
        k.map(<f64x4 as Lane>::pow2i)
    }
    #[inline(always)]
    fn exponent_mantissa(self) -> (Self, Self) {
        let (e0, m0) = self.0.exponent_mantissa();
        let (e1, m1) = self.1.exponent_mantissa();
        let (e2, m2) = self.2.exponent_mantissa();
        (X12(e0, e1, e2), X12(m0, m1, m2))
    }
}

/// Load twelve lanes from a slice at `i` (caller guarantees `i + 12 <= s.len()`).
#[inline(always)]
pub(crate) fn load12(s: &[f64], i: usize) -> X12 {
    X12(load4(s, i), load4(s, i + 4), load4(s, i + 8))
}

/// Store twelve lanes into a slice at `i` (caller guarantees `i + 12 <= s.len()`).
#[inline(always)]
pub(crate) fn store12(s: &mut [f64], i: usize, v: X12) {
    store4(s, i, v.0);
    store4(s, i + 4, v.1);
    store4(s, i + 8, v.2);
}
