//! Implied volatility: price → σ, batched over `f64x4` with a bit-identical scalar twin.
//!
//! Method (after Jäckel, "Let's Be Rational", 2015, in a simpler vectorizable form):
//! 1. Reduce to an out-of-the-money option in normalized Black form. With a = S·e^{−qT}
//!    (= F·e^{−rT}) and b = K·e^{−rT}, the time value is the price minus the forward intrinsic
//!    value ω(a − b), the latter computed with exact products (FMA) and an exact sum so that no
//!    digits are lost when the time value is small. The time value is that of an OTM call at
//!    x̃ = −|ln(F/K)|, normalized β = tv/√(ab) = e^{x̃/2}Φ(x̃/s + s/2) − e^{−x̃/2}Φ(x̃/s − s/2),
//!    s = σ√T.
//! 2. Split at the inflection point s_c = √(2|x̃|), b_c = b(x̃, s_c). Below b_c, solve
//!    ln b(s) = ln β by Halley's method from the small-s (Bachelier) limit
//!    b ≈ s·(φ(a) − a·Φ(−a)), a = |x̃|/s, inverted for a by a fitted rational (see
//!    `bachelier_a`); above, solve b(s) = β by Householder's third-order method from the
//!    tangent at s_c (monotone from below, b concave there).
//!    Each iteration is one normalized Black evaluation sharing its Gaussian factor, kept inside
//!    a bracket that every evaluation tightens. Measured: two evaluations per lane on a
//!    realistic chain, at most three over |x̃| ≤ 6s, s ∈ [1e-3, 3] (the tests).
//! 3. σ = s/√T.
//!
//! Bounds: a price below the discounted intrinsic value gives NaN and
//! [`LaneStatus::BelowIntrinsic`]; at or above S·e^{−qT} (call) or K·e^{−rT} (put) NaN and
//! [`LaneStatus::AboveMaximum`]; exactly intrinsic gives σ = 0 and [`LaneStatus::Intrinsic`].

use super::elementary::{
    dd_add, dd_mul_d, exp, exp_dd, exp_gauss_kernel, exp_mid, ln, two_prod, DdTableLane,
};
use super::kernel::ln_ratio;
use super::lanes::{Lane, X12, X8};
use super::normal::{ncdf_g, CodyLane, FRAC_1_SQRT_2PI};
use super::{legs_ok, magnitudes_ok, GreeksError, LaneStatus, Model, OptionKind, VecIo};
use wide::f64x4;

/// Maximum solver iterations (2 on a realistic chain; more where the initial guesses are
/// poorer: the lower branch's for large s = σ√T, its Bachelier limit being exact as s → 0, the
/// upper branch's far above s_c).
const MAX_ITER: usize = 12;
/// Stop when the last step was below this fraction of s. Lower branch: Halley (third order)
/// leaves an error of order step³ (≤ 1e-17 of s); upper branch: Householder(3) (fourth order),
/// order step⁴ (≤ 1e-16 of s). Both far below the 1e-12 target, and below a few ulp.
const STEP_TOL_LOW: f64 = 1e-5;
/// See [`STEP_TOL_LOW`].
const STEP_TOL_UP: f64 = 1e-4;
/// √(2π).
const SQRT_2PI: f64 = 2.506_628_274_631_000_7;

/// One option's implied-volatility inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IvOption {
    /// Pricing model.
    pub model: Model,
    /// Call or put.
    pub kind: OptionKind,
    /// Spot S (BSM) or forward F (Black-76), > 0.
    pub underlying: f64,
    /// Strike K, > 0.
    pub strike: f64,
    /// Time to expiry in years, > 0.
    pub t_years: f64,
    /// Continuously compounded rate r.
    pub rate: f64,
    /// Continuous yield q (BSM only).
    pub carry_q: f64,
    /// Option premium, in the currency of `underlying`.
    pub price: f64,
}

/// Structure-of-arrays inputs for [`implied_vol_batch`]. All slices have the batch length
/// except `carry_q`, which may be empty for Black-76.
#[derive(Debug, Clone, Copy)]
pub struct IvInputs<'a> {
    /// Pricing model of the whole batch.
    pub model: Model,
    /// Spot S (BSM) or forward F (Black-76).
    pub underlying: &'a [f64],
    /// Strike K.
    pub strike: &'a [f64],
    /// Time to expiry in years.
    pub t_years: &'a [f64],
    /// Rate r.
    pub rate: &'a [f64],
    /// Yield q (BSM only).
    pub carry_q: &'a [f64],
    /// `true` for a call.
    pub is_call: &'a [bool],
    /// Option premium.
    pub price: &'a [f64],
}

/// Per-lane quantities of the reduction, before the solve.
#[derive(Clone, Copy)]
struct Prep<T> {
    /// x̃ = −|ln(F/K)| ≤ 0.
    x: T,
    /// e^{x̃/2} and its inverse.
    e: T,
    inv_e: T,
    /// Normalized OTM time value β.
    beta: T,
    /// Time value (price units), to classify.
    tv: T,
    /// Upper bound of the price (a for a call, b for a put).
    upper: T,
    /// √T.
    sqrt_t: T,
}

#[inline(always)]
fn prep<T: DdTableLane, const B76: bool>(
    s: T,
    k: T,
    t: T,
    r: T,
    q: T,
    omega: T,
    price: T,
) -> Prep<T> {
    // Discount factors as double-doubles so that the intrinsic value, and hence a small time
    // value of an in-the-money option, is exact to far beyond 53 bits.
    let (rth, rtl) = two_prod(r, t);
    let dr = exp_dd(rth.neg(), rtl.neg());
    // e^{−qT} only where needed: Black-76, and BSM batches whose lanes all have q = r (the
    // same factor) or q = 0 (exactly 1: what `exp_dd` returns for 0, with the same products
    // downstream), skip the second double-double exponential.
    let dq = if B76 || !T::any(T::not(T::eq(q, r))) {
        dr
    } else if !T::any(T::not(T::eq(q, T::splat(0.0)))) {
        (T::splat(1.0), T::splat(0.0))
    } else {
        let (qth, qtl) = two_prod(q, t);
        exp_dd(qth.neg(), qtl.neg())
    };
    let mut x = ln_ratio(s, k, T::splat(1.0) / s);
    // S/K overflows or underflows for magnitudes near the ends of the accepted range (S = 1e157,
    // K = 1e-200): there, and only there (rare), ln S − ln K, accurate to ~1e-16 relative at
    // such |x|.
    let huge = T::not(T::le(x.abs(), T::splat(690.0)));
    if T::any(huge) {
        x = T::select(huge, ln(s) - ln(k), x);
    }
    if !B76 {
        x = (r - q).mul_add(t, x);
    }
    let (ah, al) = dd_mul_d(s, dq);
    let (bh, bl) = dd_mul_d(k, dr);
    // Forward intrinsic a − b (double-double).
    let (sh, sl) = dd_add((ah, al), (bh.neg(), bl.neg()));
    let wsh = omega * sh;
    let itm = T::gt(wsh, T::splat(0.0));
    // price − ω(a − b): where the time value is small against the intrinsic value, price − ω·sh
    // is exact (Sterbenz) and the low part then enters with one rounding; elsewhere the two
    // roundings are within an ulp or so of the time value.
    let tv_itm = (price - wsh) - omega * sl;
    let tv = T::select(itm, tv_itm, price);
    let xt = x.abs().neg();
    // e^{x̃/2} without `exp`'s range handling where x̃/2 ≥ −708 (always, but for S/K or the
    // carry near the ends of the accepted ranges): the same polynomial, one scaling. Per lane,
    // so that the scalar twin picks the same function for each lane.
    let half = T::splat(0.5) * xt;
    let far = T::lt(half, T::splat(-708.0));
    let mut e = exp_mid(half);
    if T::take_rare(far) {
        e = T::select(far, exp(half), e);
    }
    let inv_e = T::splat(1.0) / e;
    let beta = tv / (ah * bh).sqrt();
    let upper = T::select(T::gt(omega, T::splat(0.0)), ah, bh);
    Prep {
        x: xt,
        e,
        inv_e,
        beta,
        tv,
        upper,
        sqrt_t: t.sqrt(),
    }
}

/// Normalized OTM call b(x, s) (x ≤ 0) and ∂b/∂s. The Gaussian factor is the kernels' (0 below
/// e^−708, where b is far below any β the solver can be asked for; the bracket then bisects).
#[inline(always)]
fn black_norm<T: CodyLane>(x: T, e: T, inv_e: T, s: T, inv_s: T) -> (T, T) {
    let h = x * inv_s;
    let d1 = s.mul_add(T::splat(0.5), h);
    let d2 = s.mul_add(T::splat(-0.5), h);
    let g1 = exp_gauss_kernel::<T, true>(d1);
    // e^{−d₂²/2} = e^{−d₁²/2}·e^{x}; recompute directly (rare) where either factor has
    // underflowed (x below about −645, or |d₁| above about 35.9): the product would be 0 where
    // the true value need not be (d₂ near 0), and Φ(d₂) takes its Gaussian factor from it.
    let ee = e * e;
    let mut g2 = g1 * ee;
    let small = T::lt(g1.min(ee), T::splat(1e-280));
    if T::any(small) {
        g2 = T::select(small, exp_gauss_kernel::<T, true>(d2), g2);
    }
    let n1 = ncdf_g(d1, g1);
    let n2 = ncdf_g(d2, g2);
    let b = e.mul_add(n1, (n2 * inv_e).neg());
    let vega = e * g1 * T::splat(FRAC_1_SQRT_2PI);
    (b, vega)
}

/// a > 0 with v = φ(a)/a − Φ(−a) for v = β/|x| (the normalized Bachelier price per unit of
/// |x|), from a (3, 4) rational in y = √L, L = ln(1 + φ(0)/v) = ln(β + φ(0)|x|) − ln β:
/// a = L·P(y)/Q(y), which goes as L for small a and as √(2L) for large a. Fitted with
/// `mpmath` (`risk-core/tests/data/greeks/fit_bachelier_inverse.py 3 4 12`: weighted least
/// squares, Sanathanan–Koerner iterations) on a ∈ [1e-3, 12]: relative error below 7.9e-4
/// there (measured in the tests: 7.8e-4; 2.7e-3 out to a = 20).
#[inline(always)]
fn bachelier_a<T: Lane>(ax: T, beta: T, ln_beta: T) -> T {
    let l = ln(T::splat(FRAC_1_SQRT_2PI).mul_add(ax, beta)) - ln_beta;
    let y = l.sqrt();
    let num = T::splat(0.297_602_616_765_998_7)
        .mul_add(y, T::splat(-0.121_907_529_569_386_91))
        .mul_add(y, T::splat(0.401_041_158_296_269_24))
        .mul_add(y, T::splat(0.998_672_800_566_978_8));
    let den = T::splat(0.211_211_872_964_643_03)
        .mul_add(y, T::splat(-0.062_433_663_773_428_85))
        .mul_add(y, T::splat(0.875_274_231_693_070_4))
        .mul_add(y, T::splat(0.366_085_719_554_493_04))
        .mul_add(y, T::splat(1.0));
    l * num / den
}

/// Solve b(x, s) = β for s on lanes with 0 < β < e^{x/2}. Returns s and the number of
/// Black evaluations the loop made (for a block: those of its slowest lane).
#[inline(always)]
fn solve<T: CodyLane>(p: &Prep<T>) -> (T, usize) {
    let one = T::splat(1.0);
    let x = p.x;
    let x2 = x * x;
    let sc = (T::splat(2.0) * x.abs()).sqrt().max(T::splat(1e-300));
    // At s_c, d₁ = x/s_c + s_c/2 = 0 and d₂ = −s_c, so b_c = e^{x/2}/2 − e^{−x/2}·Φ(−s_c) with
    // e^{−s_c²/2} = e^{x}: one Φ and no exponential instead of a full evaluation.
    let bc = (T::splat(0.5) * p.e) - ncdf_g(sc.neg(), p.e * p.e) * p.inv_e;
    let lower = T::lt(p.beta, bc);
    let ln_beta = ln(p.beta);

    // Lower branch guess: the small-s (Bachelier) limit b ≈ s·(φ(a) − a·Φ(−a)), a = |x|/s,
    // inverted through a fitted rational (see `bachelier_a`): within 1.2 % of the root on the
    // bench's chain (the limit's own error, O(s²)), so every lane there needs two Black
    // evaluations: the first step leaves an error of order 1e-7 at most, the second's step,
    // below the stopping tolerance, finishes.
    let s_low = (x.abs() / bachelier_a(x.abs(), p.beta, ln_beta)).min(sc);
    // Upper branch guess: tangent at s_c, b'(s_c) = e^{x/2}/√(2π).
    let s_up = sc + (p.beta - bc) * (T::splat(SQRT_2PI) * p.inv_e);
    let mut s = T::select(lower, s_low, s_up);
    // The bracket reaches a little past s_c: when the root sits at s_c (d₁ = 0 at the
    // solution, e.g. σ²/2 = r − q at the money), rounding of b_c can put it on either side.
    let mut lo = T::select(lower, T::splat(0.0), sc * T::splat(1.0 - 1e-6));
    let mut hi = T::select(lower, sc * T::splat(1.0 + 1e-6), T::splat(f64::INFINITY));

    let mut active = T::eq(s, s); // all lanes
    let mut n = 0;
    while n < MAX_ITER && T::any(active) {
        let inv_s = one / s;
        let (b, bp) = black_norm(x, p.e, p.inv_e, s, inv_s);
        // Bracket update: b increases with s.
        let above = T::gt(b, p.beta);
        hi = T::select(T::and(active, above), s, hi);
        lo = T::select(T::and(active, T::not(above)), s, lo);
        let x2_s3 = x2 * (inv_s * inv_s * inv_s);
        let h2 = x2_s3 - T::splat(0.25) * s; // b''/b'
                                             // Each branch's step as −numerator/denominator, blended before one division.
        let (mut num_low, mut den_low) = (T::splat(0.0), T::splat(1.0));
        let (mut num_up, mut den_up) = (T::splat(0.0), T::splat(1.0));
        if T::any(T::and(active, lower)) {
            // Halley on f = ln b − ln β: −2fb/(2b' − f(h₂b − b')).
            let f = ln(b) - ln_beta;
            den_low = T::splat(2.0).mul_add(bp, (f * h2.mul_add(b, bp.neg())).neg());
            num_low = (T::splat(2.0) * f * b).neg();
        }
        if T::any(T::and(active, T::not(lower))) {
            // Householder(3) on f = b − β, δ = b − β:
            // −δ(b' − ½h₂δ)/(b'² − h₂δb' + h₃δ²/6), h₃ = h₂² − 3x²/s⁴ − ¼.
            let delta = b - p.beta;
            let h3 = h2.mul_add(h2, T::splat(-3.0) * x2_s3 * inv_s) - T::splat(0.25);
            let num = (T::splat(-0.5) * h2).mul_add(delta, bp);
            den_up = (h3 * T::splat(1.0 / 6.0) * delta)
                .mul_add(delta, (h2 * delta).neg().mul_add(bp, bp * bp));
            num_up = (delta * num).neg();
        }
        let step = T::select(lower, num_low, num_up) / T::select(lower, den_low, den_up);
        let mut s_new = s + step;
        // Keep inside the bracket: bisect (or double when unbounded above).
        let outside = T::not(T::and(T::ge(s_new, lo), T::le(s_new, hi)));
        let mid = T::select(
            T::lt(hi, T::splat(f64::INFINITY)),
            T::splat(0.5) * (lo + hi),
            T::splat(2.0) * s,
        );
        s_new = T::select(outside, mid, s_new);
        let tol = T::select(lower, T::splat(STEP_TOL_LOW), T::splat(STEP_TOL_UP));
        let done = T::and(T::not(outside), T::le(step.abs(), tol * s));
        s = T::select(active, s_new, s);
        active = T::and(active, T::not(done));
        n += 1;
    }
    (s, n)
}

/// Classification of one lane (scalar): `Ok` to solve, or the outcome.
#[inline(always)]
fn classify<const B76: bool>(s: f64, k: f64, t: f64, r: f64, q: f64, price: f64) -> LaneStatus {
    if !(s.is_finite() && s > 0.0) {
        LaneStatus::BadUnderlying
    } else if !(k.is_finite() && k > 0.0) {
        LaneStatus::BadStrike
    } else if !(t.is_finite() && t > 0.0) {
        LaneStatus::BadTime
    } else if !((r * t).abs() <= 700.0 && (q * t).abs() <= 700.0 && r.is_finite() && q.is_finite())
    {
        LaneStatus::BadRate
    } else if !(price.is_finite() && price >= 0.0) {
        LaneStatus::BadPrice
    } else if !magnitudes_ok(s, k) || !legs_ok(s, k, t, r, q) {
        LaneStatus::OutOfRange
    } else {
        LaneStatus::Ok
    }
}

#[inline(always)]
fn one<const B76: bool>(
    s: f64,
    k: f64,
    t: f64,
    r: f64,
    q: f64,
    omega: f64,
    price: f64,
) -> (f64, LaneStatus) {
    let q = if B76 { r } else { q };
    let st = classify::<B76>(s, k, t, r, q, price);
    if st != LaneStatus::Ok {
        return (f64::NAN, st);
    }
    let p = prep::<f64, B76>(s, k, t, r, q, omega, price);
    if p.tv < 0.0 {
        return (f64::NAN, LaneStatus::BelowIntrinsic);
    }
    if price >= p.upper {
        return (f64::NAN, LaneStatus::AboveMaximum);
    }
    if p.tv == 0.0 || p.beta == 0.0 {
        // No time value left in doubles: σ = 0 is the only consistent answer.
        return (0.0, LaneStatus::Intrinsic);
    }
    (solve(&p).0 / p.sqrt_t, LaneStatus::Ok)
}

/// Implied volatility of one option (the scalar twin of [`implied_vol_batch`] for one lane).
/// Returns (σ, status); σ is NaN unless the status is `Ok` or `Intrinsic`.
#[must_use]
pub fn implied_vol(o: &IvOption) -> (f64, LaneStatus) {
    let omega = o.kind.omega();
    match o.model {
        Model::Bsm => one::<false>(
            o.underlying,
            o.strike,
            o.t_years,
            o.rate,
            o.carry_q,
            omega,
            o.price,
        ),
        Model::Black76 => one::<true>(
            o.underlying,
            o.strike,
            o.t_years,
            o.rate,
            o.rate,
            omega,
            o.price,
        ),
    }
}

fn check(inp: &IvInputs, vol: &[f64], status: &[LaneStatus]) -> Result<usize, GreeksError> {
    let n = inp.strike.len();
    let fields: [(&'static str, usize); 8] = [
        ("underlying", inp.underlying.len()),
        ("t_years", inp.t_years.len()),
        ("rate", inp.rate.len()),
        ("is_call", inp.is_call.len()),
        ("price", inp.price.len()),
        ("vol", vol.len()),
        ("status", status.len()),
        (
            "carry_q",
            if inp.model == Model::Bsm {
                inp.carry_q.len()
            } else {
                n
            },
        ),
    ];
    for (field, got) in fields {
        if got != n {
            return Err(GreeksError::LengthMismatch {
                field,
                got,
                expected: n,
            });
        }
    }
    Ok(n)
}

#[inline(always)]
fn scalar_lane<const B76: bool>(inp: &IvInputs, i: usize) -> (f64, LaneStatus) {
    let q = if B76 { 0.0 } else { inp.carry_q[i] };
    let omega = if inp.is_call[i] { 1.0 } else { -1.0 };
    one::<B76>(
        inp.underlying[i],
        inp.strike[i],
        inp.t_years[i],
        inp.rate[i],
        q,
        omega,
        inp.price[i],
    )
}

fn run_scalar<const B76: bool>(
    inp: &IvInputs,
    vol: &mut [f64],
    status: &mut [LaneStatus],
    n: usize,
) {
    for i in 0..n {
        let (v, st) = scalar_lane::<B76>(inp, i);
        vol[i] = v;
        status[i] = st;
    }
}

/// One vector block at `i`: the vector path when every lane is valid and strictly inside the
/// bounds, otherwise the scalar path lane by lane (same bits either way).
#[inline(always)]
fn iv_block<T: VecIo + DdTableLane, const B76: bool>(
    inp: &IvInputs,
    vol: &mut [f64],
    status: &mut [LaneStatus],
    i: usize,
) {
    let s = T::load(inp.underlying, i);
    let k = T::load(inp.strike, i);
    let t = T::load(inp.t_years, i);
    let r = T::load(inp.rate, i);
    let q = if B76 { r } else { T::load(inp.carry_q, i) };
    let price = T::load(inp.price, i);
    let zero = T::splat(0.0);
    let inf = T::splat(f64::INFINITY);
    // Rates × maturities within `RATE_SAFE` (the discounted legs then need no test); the rest
    // take the scalar path.
    let lim = T::splat(super::RATE_SAFE);
    let (lo, hi) = (T::splat(super::MAG_MIN), T::splat(super::MAG_MAX));
    let checks = [
        T::ge(s, lo),
        T::le(s, hi),
        T::ge(k, lo),
        T::le(k, hi),
        T::gt(t, zero),
        T::lt(t, inf),
        T::le((r * t).abs(), lim),
        T::le((q * t).abs(), lim),
        T::lt(r.abs(), inf),
        T::lt(q.abs(), inf),
        T::ge(price, zero),
        T::lt(price, inf),
    ];
    let valid = checks
        .into_iter()
        .reduce(T::and)
        .unwrap_or(T::eq(zero, zero));
    if !T::any(T::not(valid)) {
        let omega = T::omega(inp.is_call, i);
        let p = prep::<T, B76>(s, k, t, r, q, omega, price);
        let solvable = T::and(
            T::and(T::gt(p.tv, zero), T::gt(p.beta, zero)),
            T::lt(price, p.upper),
        );
        if !T::any(T::not(solvable)) {
            (solve(&p).0 / p.sqrt_t).store(vol, i);
            status[i..i + T::N].fill(LaneStatus::Ok);
            return;
        }
    }
    for j in i..i + T::N {
        let (v, st) = scalar_lane::<B76>(inp, j);
        vol[j] = v;
        status[j] = st;
    }
}

fn run_simd<const B76: bool>(inp: &IvInputs, vol: &mut [f64], status: &mut [LaneStatus], n: usize) {
    let mut i = 0;
    while i + 12 <= n {
        iv_block::<X12, B76>(inp, vol, status, i);
        i += 12;
    }
    if i + 8 <= n {
        iv_block::<X8, B76>(inp, vol, status, i);
        i += 8;
    }
    if i + 4 <= n {
        iv_block::<f64x4, B76>(inp, vol, status, i);
        i += 4;
    }
    for j in i..n {
        let (v, st) = scalar_lane::<B76>(inp, j);
        vol[j] = v;
        status[j] = st;
    }
}

/// Implied volatilities of a batch, in `f64x4` lanes (blocks of three, then two, then one,
/// then a scalar tail). σ is annualized (0.2 = 20 %); see the module docs for the statuses. No allocation.
///
/// # Errors
/// [`GreeksError::LengthMismatch`] when a slice does not have the batch length
/// (`strike.len()`); nothing is written then.
pub fn implied_vol_batch(
    inp: &IvInputs,
    vol: &mut [f64],
    status: &mut [LaneStatus],
) -> Result<(), GreeksError> {
    let n = check(inp, vol, status)?;
    match inp.model {
        Model::Bsm => run_simd::<false>(inp, vol, status, n),
        Model::Black76 => run_simd::<true>(inp, vol, status, n),
    }
    Ok(())
}

/// Scalar twin of [`implied_vol_batch`]: same signature and the same bits, one lane at a time.
///
/// # Errors
/// As [`implied_vol_batch`].
pub fn implied_vol_batch_scalar(
    inp: &IvInputs,
    vol: &mut [f64],
    status: &mut [LaneStatus],
) -> Result<(), GreeksError> {
    let n = check(inp, vol, status)?;
    match inp.model {
        Model::Bsm => run_scalar::<false>(inp, vol, status, n),
        Model::Black76 => run_scalar::<true>(inp, vol, status, n),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluations per lane on a realistic chain (the bench's: 8 expiries from a week to two
    /// years, strikes across ±3 standard deviations with a smile, calls and puts), priced by the
    /// kernel and inverted by the scalar solver. Guards the initial guesses and stopping rule.
    #[test]
    fn realistic_chain_needs_few_iterations() {
        let expiries = [7.0, 14.0, 30.0, 60.0, 91.0, 182.0, 365.0, 730.0];
        let (mut total, mut worst, mut lanes) = (0usize, 0usize, 0usize);
        let mut worst_err = 0.0f64;
        let mut hist = [0usize; MAX_ITER + 1];
        for (ei, days) in expiries.iter().enumerate() {
            let t = days / 365.0;
            for zi in 0..=60 {
                let z = -3.0 + 0.1 * zi as f64;
                let atm = 0.2 + 0.01 * ei as f64;
                let vol = atm * (1.0 + 0.08 * z * z - 0.05 * z);
                let (s, r, q) = (100.0, 0.03, 0.01);
                let k = s * (z * atm * t.sqrt()).exp();
                for kind in [OptionKind::Call, OptionKind::Put] {
                    let (g, st) = crate::greeks::greeks(&crate::greeks::OptionInputs {
                        model: Model::Bsm,
                        kind,
                        underlying: s,
                        strike: k,
                        t_years: t,
                        vol,
                        rate: r,
                        carry_q: q,
                    });
                    assert_eq!(st, LaneStatus::Ok);
                    let p = prep::<f64, false>(s, k, t, r, q, kind.omega(), g.price);
                    assert!(p.tv > 0.0 && p.beta > 0.0);
                    let (sol, n) = solve(&p);
                    let err = (sol / p.sqrt_t - vol).abs() / vol;
                    assert!(err < 1e-12, "z {z} t {t}: rel err {err:e}");
                    worst_err = worst_err.max(err);
                    total += n;
                    worst = worst.max(n);
                    hist[n] += 1;
                    lanes += 1;
                }
            }
        }
        let mean = total as f64 / lanes as f64;
        eprintln!(
            "iv evaluations: mean {mean:.2}, worst {worst}, histogram {hist:?}; \
             worst rel err {worst_err:.2e}"
        );
        // Every lane: one evaluation to correct the guess, one to confirm (a lane whose guess
        // is already within the stopping tolerance may stop after one).
        assert!(mean <= 2.0, "mean evaluations {mean}");
        assert!(worst <= 2, "worst evaluations {worst}");
    }

    /// Evaluations per lane over the whole accuracy domain (|x| ≤ 6s, s = σ√T in [1e-3, 3]),
    /// normalized prices from the scalar Black evaluation: every lane converges far below the
    /// iteration cap (the bracket guarantees convergence; the guesses decide how fast).
    #[test]
    fn whole_domain_converges_within_the_cap() {
        let mut hist = [0usize; MAX_ITER + 1];
        let (mut worst, mut worst_at) = (0usize, (0.0, 0.0));
        for si in 0..=60 {
            let s_true = 1e-3 * (3e3f64).powf(f64::from(si) / 60.0);
            for xi in 1..=60 {
                let x = -6.0 * s_true * f64::from(xi) / 60.0;
                let e = exp(0.5 * x);
                let (beta, _) = black_norm(x, e, 1.0 / e, s_true, 1.0 / s_true);
                if !(beta > 0.0 && beta < e) {
                    continue;
                }
                let p = Prep {
                    x,
                    e,
                    inv_e: 1.0 / e,
                    beta,
                    tv: beta,
                    upper: 1.0,
                    sqrt_t: 1.0,
                };
                let (sol, n) = solve(&p);
                assert!(sol.is_finite() && sol > 0.0, "x {x} s {s_true}: {sol}");
                hist[n] += 1;
                if n > worst {
                    (worst, worst_at) = (n, (x, s_true));
                }
            }
        }
        eprintln!(
            "whole domain: evaluations histogram {hist:?}, worst {worst} at (x, s) {worst_at:?}"
        );
        assert!(worst < MAX_ITER, "hit the cap at (x, s) = {worst_at:?}");
    }

    /// The fitted inverse of the normalized Bachelier price against the exact function
    /// φ(a)/a − Φ(−a) (the crate's Φ), over the fitted range and beyond it.
    #[test]
    fn bachelier_inverse_matches_the_exact_function() {
        let g = |a: f64| (-0.5 * a * a).exp() * FRAC_1_SQRT_2PI / a - crate::greeks::norm_cdf(-a);
        let (mut worst_in, mut worst_out) = (0.0f64, 0.0f64);
        for i in 0..=2000 {
            // a from 1e-4 to 20, log-spaced.
            let a_true = 1e-4 * (2e5f64).powf(f64::from(i) / 2000.0);
            // v = g(a) with |x| = 1: β = v.
            let v = g(a_true);
            let a = bachelier_a(1.0, v, ln(v));
            let err = (a / a_true - 1.0).abs();
            if (1e-3..=12.0).contains(&a_true) {
                worst_in = worst_in.max(err);
            } else {
                worst_out = worst_out.max(err);
            }
        }
        eprintln!(
            "bachelier_a: worst rel err {worst_in:.2e} on [1e-3, 12], {worst_out:.2e} outside"
        );
        assert!(worst_in < 8e-4, "fitted range: {worst_in:e}");
        assert!(worst_out < 0.05, "outside the fitted range: {worst_out:e}");
    }
}
