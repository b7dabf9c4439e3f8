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
    /// `t` where the sign bit of `s` is set (`-0.0` included), `f` elsewhere: a select on a
    /// value's sign without a comparison.
    fn select_neg(s: Self, t: Self, f: Self) -> Self;
    /// `self` with its sign bit flipped where `s`'s is set: `ω·self` for `ω = ±1`, exactly, as
    /// one bit operation instead of a multiplication.
    fn flip(self, s: Self) -> Self;
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
    /// `self · 2^k` for an integer-valued `k` where both `self` and the result are normal: the
    /// same bits as `self * pow2i(k)`, by an integer add to the exponent field (which keeps the
    /// vector multipliers free for the polynomials).
    fn scale2i(self, k: Self) -> Self;
    /// For a positive normal `self`: `(e, m)` with `self = m · 2^e`, `m ∈ [√2/2, √2)` (bounds
    /// as the doubles `0x3fe6a09e667f3bcd` and twice that), `e` an integer-valued float: the
    /// reduction of `ln`, done on the bits (musl's `log`): adding `0x3ff… − 0x3fe6a09e…` carries
    /// into the exponent exactly when the mantissa is at least √2, so no compare or select.
    fn log_reduce(self) -> (Self, Self);
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
    fn select_neg(s: Self, t: Self, f: Self) -> Self {
        if s.is_sign_negative() {
            t
        } else {
            f
        }
    }
    #[inline(always)]
    fn flip(self, s: Self) -> Self {
        f64::from_bits(self.to_bits() ^ (s.to_bits() & SIGN_BIT))
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
    fn scale2i(self, k: Self) -> Self {
        f64::from_bits(self.to_bits().wrapping_add(((k as i64) as u64) << 52))
    }
    #[inline(always)]
    fn log_reduce(self) -> (Self, Self) {
        let ix = self.to_bits().wrapping_add(LOG_SHIFT);
        let e = (ix >> 52) as i64 - 1023;
        let m = f64::from_bits((ix & MANTISSA) + SQRT_HALF_BITS);
        (e as f64, m)
    }
}

/// The sign bit of an `f64`.
const SIGN_BIT: u64 = 1 << 63;
/// The mantissa field of an `f64`.
const MANTISSA: u64 = 0x000f_ffff_ffff_ffff;
/// The bits of √2/2 (rounded).
const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
/// Added to the bits of x in [`Lane::log_reduce`]: the bits of 1.0 minus those of √2/2.
const LOG_SHIFT: u64 = 0x3ff0_0000_0000_0000 - SQRT_HALF_BITS;

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
    fn select_neg(s: Self, t: Self, f: Self) -> Self {
        // `vblendvpd` reads only the sign bit of each mask lane.
        #[cfg(target_feature = "avx")]
        let m = s;
        // Elsewhere `blend` needs whole-lane masks: spread the sign bit.
        #[cfg(not(target_feature = "avx"))]
        let m: f64x4 = bytemuck::cast(bytemuck::cast::<f64x4, i64x4>(s) >> 63);
        m.blend(t, f)
    }
    #[inline(always)]
    fn flip(self, s: Self) -> Self {
        self ^ (s & f64x4::splat(-0.0))
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
        // `vminpd`: `self < o ? self : o`, NaN and ±0 included — the scalar twin's semantics.
        self.fast_min(o)
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // `vmaxpd`: `self > o ? self : o`, as the scalar twin.
        self.fast_max(o)
    }
    #[inline(always)]
    fn pow2i(k: Self) -> Self {
        // k + 1023 as an integer in the low mantissa bits, then shifted into the exponent field.
        let biased = k + f64x4::splat(MAGIC_I + 1023.0);
        let bits: i64x4 = bytemuck::cast(biased);
        bytemuck::cast(bits << 52)
    }
    #[inline(always)]
    fn scale2i(self, k: Self) -> Self {
        // k + 1.5·2^52 holds k (two's complement) in the low mantissa bits; shifted by 52 the
        // rest falls off the top, leaving k << 52.
        let kb: i64x4 = bytemuck::cast(k + f64x4::splat(MAGIC_I));
        let bits: i64x4 = bytemuck::cast(self);
        bytemuck::cast(bits + (kb << 52))
    }
    #[inline(always)]
    fn log_reduce(self) -> (Self, Self) {
        let ix = bytemuck::cast::<f64x4, u64x4>(self) + u64x4::splat(LOG_SHIFT);
        // Exponent as an integer (sign bit clear: positive input), converted to f64 by the 2^52
        // trick.
        let two52: u64x4 = bytemuck::cast(f64x4::splat(4_503_599_627_370_496.0));
        let ef: f64x4 = bytemuck::cast((ix >> 52) | two52);
        let e = ef - f64x4::splat(4_503_599_627_370_496.0 + 1023.0);
        let mbits = (ix & u64x4::splat(MANTISSA)) + u64x4::splat(SQRT_HALF_BITS);
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

/// Lanes as several independent `f64x4` (the fields `$i`): every operation is applied to each
/// part, which gives the out-of-order core as many dependency chains to interleave. The Greeks
/// kernel is one long chain (ln → d → e^{−d²/2} → Φ) per lane, so more parts in flight hide its
/// latency, until register spills cost more than they hide.
macro_rules! multi_lane {
    ($name:ident, $n:literal, $($i:tt),+) => {
        impl $name {
            /// Load the lanes from a slice at `i` (caller guarantees `i + lanes <= s.len()`).
            #[inline(always)]
            pub(crate) fn load(s: &[f64], i: usize) -> Self {
                $name($(load4(s, i + 4 * $i)),+)
            }
            /// Store the lanes into a slice at `i` (caller guarantees `i + lanes <= s.len()`).
            #[inline(always)]
            pub(crate) fn store(self, s: &mut [f64], i: usize) {
                $(store4(s, i + 4 * $i, self.$i);)+
            }
            /// `f` applied to each part.
            #[inline(always)]
            pub(crate) fn map(self, f: impl Fn(f64x4) -> f64x4) -> Self {
                $name($(f(self.$i)),+)
            }
            #[inline(always)]
            fn zip(self, o: Self, f: impl Fn(f64x4, f64x4) -> f64x4) -> Self {
                $name($(f(self.$i, o.$i)),+)
            }
            /// Lanes per value.
            pub(crate) const LANES: usize = 4 * $n;
        }

        impl Add for $name {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.zip(o, |a, b| a + b)
            }
        }
        impl Sub for $name {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.zip(o, |a, b| a - b)
            }
        }
        impl Mul for $name {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.zip(o, |a, b| a * b)
            }
        }
        impl Div for $name {
            type Output = Self;
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                self.zip(o, |a, b| a / b)
            }
        }

        impl Lane for $name {
            type Mask = $name;
            #[inline(always)]
            fn splat(v: f64) -> Self {
                let s = f64x4::splat(v);
                $name($({ let _ = $i; s }),+)
            }
            #[inline(always)]
            fn mul_add(self, b: Self, c: Self) -> Self {
                $name($(self.$i.mul_add(b.$i, c.$i)),+)
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
                $name($(m.$i.blend(t.$i, f.$i)),+)
            }
            #[inline(always)]
            fn select_neg(s: Self, t: Self, f: Self) -> Self {
                $name($(<f64x4 as Lane>::select_neg(s.$i, t.$i, f.$i)),+)
            }
            #[inline(always)]
            fn flip(self, s: Self) -> Self {
                self.zip(s, Lane::flip)
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
                (f64x4::splat(0.0) $(| m.$i)+).any()
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
            fn scale2i(self, k: Self) -> Self {
                self.zip(k, Lane::scale2i)
            }
            #[inline(always)]
            fn log_reduce(self) -> (Self, Self) {
                let em = [$(self.$i.log_reduce()),+];
                ($name($(em[$i].0),+), $name($(em[$i].1),+))
            }
        }
    };
}

/// Eight lanes as two `f64x4` (see [`multi_lane`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct X8(pub f64x4, pub f64x4);
multi_lane!(X8, 2, 0, 1);

/// Twelve lanes as three `f64x4` (see [`multi_lane`]): measured faster than [`X8`] on the
/// Greeks and implied-volatility kernels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct X12(pub f64x4, pub f64x4, pub f64x4);
multi_lane!(X12, 3, 0, 1, 2);

/// Sixteen lanes as four `f64x4` (see [`multi_lane`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct X16(pub f64x4, pub f64x4, pub f64x4, pub f64x4);
multi_lane!(X16, 4, 0, 1, 2, 3);
