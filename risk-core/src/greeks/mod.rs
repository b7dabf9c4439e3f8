//! European option prices, Greeks and implied volatility under Black–Scholes–Merton and Black-76:
//! a batched `f64x4` kernel over structure-of-arrays inputs with a scalar twin that gives the
//! same bits, a normal CDF accurate in the deep tails, and batched implied volatility.
//!
//! # Models
//! - [`Model::Bsm`]: spot `S`, continuously compounded rate `r`, dividend / borrow yield `q`.
//!   `V_call = S·e^{−qT}·Φ(d₁) − K·e^{−rT}·Φ(d₂)`, `d₁,₂ = (ln(S/K) + (r − q)T)/(σ√T) ± σ√T/2`.
//! - [`Model::Black76`]: forward or futures price `F`, discount rate `r`:
//!   `V_call = e^{−rT}(F·Φ(d₁) − K·Φ(d₂))` — BSM with `S = F`, `q = r` (`carry_q` is ignored).
//!
//! # Units (canonical outputs; see [`units`] for venue conventions)
//! | output | meaning | unit |
//! |---|---|---|
//! | `price` | option premium | currency of `underlying`/`strike` |
//! | `delta` | ∂V/∂S (BSM) or ∂V/∂F (Black-76) | unitless |
//! | `gamma` | ∂²V/∂S² or ∂²V/∂F² | 1 / currency |
//! | `vega` | ∂V/∂σ, per 1.00 of volatility | currency |
//! | `theta` | −∂V/∂T, per year of calendar time (BSM: S fixed; Black-76: F fixed) | currency / year |
//! | `rho` | ∂V/∂r per 1.00 of rate (BSM: S, q fixed; Black-76: F fixed, so = −T·V) | currency |
//! | `vanna` | ∂²V/∂S∂σ (∂²V/∂F∂σ) | 1 / vol |
//! | `volga` | ∂²V/∂σ² | currency |
//!
//! `t_years` is time to expiry in years, `vol` annualized volatility (0.25 = 25 %), `rate` and
//! `carry_q` continuously compounded annual rates (0.05 = 5 %).
//!
//! # Edge cases (never a panic)
//! Each lane gets a [`LaneStatus`]:
//! - `T = 0` or `σ = 0` (or σ√T below 1e-100): [`LaneStatus::Intrinsic`]; the price is the
//!   σ√T → 0 limit, `max(ω(S·e^{−qT} − K·e^{−rT}), 0)` (the intrinsic value at T = 0), delta,
//!   theta and rho their limits, gamma, vega, vanna, volga 0. Exactly at the forward money
//!   (F = K) where those limits do not exist, delta = ω·e^{−qT}/2 and the other Greeks are NaN.
//! - NaN, ±inf, non-positive underlying or strike, negative T or σ, non-finite r or q: all
//!   outputs NaN and the status names the first offending input.
//!
//! # Accuracy
//! Over |ln(F/K)| ≤ 6σ√T and σ√T ∈ [1e-3, 3], prices and each Greek agree with 60-digit
//! `mpmath` references (`tests/greeks_accuracy.rs`, 4,000 cases) to 1e-12 relative or 1e-15 ×
//! the underlying, whichever is looser — measured worst case 0.31 of that tolerance (rho),
//! worst relative error 2.3e-13 where the value is not tiny. Φ and erfc: relative error
//! ≤ 5.7e-16 everywhere tested (down to Φ(−38)). Implied volatility: ≤ 3.4e-13 relative where
//! the time value is ≥ 1e-8 of the underlying, ≤ 1.1e-13 down to 1e-14 (3,000 cases).
//!
//! # Work per option and layout
//! One `ln` (ln(S/K), with an FMA-corrected ratio), one Gaussian exponential shared by φ(d₁),
//! Φ(d₁) and Φ(d₂) (e^{−d₂²/2} = e^{−d₁²/2}·F/K), the discount factors (one exponential for
//! Black-76, two for BSM), one square root and one rational
//! (erfc·e^{y²} on y ≤ 4, one fit; Cody's outer form beyond) for each of the two Φ. The batch
//! functions process blocks of twelve lanes as three `f64x4` (three independent dependency
//! chains for the out-of-order core; measured faster than two), then eight, then one `f64x4`,
//! then a scalar tail; the scalar twin runs the
//! same generic code on `f64` and gives the same bits. No allocation.

mod elementary;
mod iv;
mod kernel;
mod lanes;
mod normal;
pub mod units;

pub use iv::{implied_vol, implied_vol_batch, implied_vol_batch_scalar, IvInputs, IvOption};
pub use normal::{erfc, erfc_x4, norm_cdf, norm_cdf_x4, norm_pdf, norm_pdf_x4};

use kernel::{bs_kernel, KIn, KOut, TIER_ALL, TIER_FIVE, TIER_PRICE};
use lanes::{load4, store4, X12, X16, X8};
use wide::f64x4;

/// Pricing model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// Black–Scholes–Merton on spot with rate `r` and continuous yield `q`.
    Bsm,
    /// Black-76 on a forward or futures price, discounted at `r`.
    Black76,
}

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionKind {
    /// Right to buy at the strike.
    Call,
    /// Right to sell at the strike.
    Put,
}

impl OptionKind {
    /// +1 for a call, −1 for a put.
    #[must_use]
    #[inline]
    pub fn omega(self) -> f64 {
        match self {
            OptionKind::Call => 1.0,
            OptionKind::Put => -1.0,
        }
    }
}

/// Which outputs a batch call computes. Outputs outside the tier are not written (their slices
/// may be empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// `price` only.
    Price,
    /// `price`, `delta`, `gamma`, `vega`, `theta`.
    PriceAnd4,
    /// All eight outputs.
    All,
}

/// Per-lane outcome. `repr(u8)` so a batch's statuses are one byte each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum LaneStatus {
    /// Computed from valid inputs.
    #[default]
    Ok = 0,
    /// T = 0 or σ = 0: the deterministic limit (see the module docs); for implied volatility,
    /// a price exactly at intrinsic value (σ = 0).
    Intrinsic = 1,
    /// Underlying (S or F) not finite or ≤ 0.
    BadUnderlying = 2,
    /// Strike not finite or ≤ 0.
    BadStrike = 3,
    /// Time to expiry NaN, infinite or negative (for implied volatility: also 0).
    BadTime = 4,
    /// Volatility NaN, infinite or negative.
    BadVol = 5,
    /// Rate or carry not finite, or |r·T|, |q·T| > 700 (discount factors out of range).
    BadRate = 6,
    /// Option price NaN, infinite or negative (implied volatility input).
    BadPrice = 7,
    /// Price below the no-arbitrage lower bound (discounted intrinsic value).
    BelowIntrinsic = 8,
    /// Price at or above the no-arbitrage upper bound (S·e^{−qT} for a call, K·e^{−rT} for a put).
    AboveMaximum = 9,
    /// Finite inputs outside the range evaluated in doubles: underlying or strike outside
    /// [1e-250, 1e250], a discounted leg S·e^{−qT} or K·e^{−rT} outside [1e-300, 1e300], or
    /// σ√T above 1e3.
    OutOfRange = 10,
}

impl LaneStatus {
    /// Whether the lane's outputs are numbers (Ok or Intrinsic).
    #[must_use]
    #[inline]
    pub fn is_ok(self) -> bool {
        matches!(self, LaneStatus::Ok | LaneStatus::Intrinsic)
    }

    /// A short lowercase name (`ok`, `intrinsic`, `bad_underlying`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LaneStatus::Ok => "ok",
            LaneStatus::Intrinsic => "intrinsic",
            LaneStatus::BadUnderlying => "bad_underlying",
            LaneStatus::BadStrike => "bad_strike",
            LaneStatus::BadTime => "bad_time",
            LaneStatus::BadVol => "bad_vol",
            LaneStatus::BadRate => "bad_rate",
            LaneStatus::BadPrice => "bad_price",
            LaneStatus::BelowIntrinsic => "below_intrinsic",
            LaneStatus::AboveMaximum => "above_maximum",
            LaneStatus::OutOfRange => "out_of_range",
        }
    }
}

/// Errors of the batch APIs (shape problems only; per-lane problems go to [`LaneStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GreeksError {
    /// An input or output slice does not have the batch length.
    #[error("slice `{field}` has length {got}, expected {expected}")]
    LengthMismatch {
        /// Name of the slice.
        field: &'static str,
        /// Its length.
        got: usize,
        /// The batch length (`strike.len()`).
        expected: usize,
    },
}

/// One option's inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionInputs {
    /// Pricing model.
    pub model: Model,
    /// Call or put.
    pub kind: OptionKind,
    /// Spot S (BSM) or forward F (Black-76), > 0.
    pub underlying: f64,
    /// Strike K, > 0.
    pub strike: f64,
    /// Time to expiry in years, ≥ 0.
    pub t_years: f64,
    /// Annualized volatility (0.2 = 20 %), ≥ 0.
    pub vol: f64,
    /// Continuously compounded rate r (annual).
    pub rate: f64,
    /// Continuous dividend / borrow yield q (annual); ignored by Black-76.
    pub carry_q: f64,
}

/// Price and Greeks of one option in the canonical units of the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Greeks {
    /// Premium.
    pub price: f64,
    /// ∂V/∂S (∂V/∂F for Black-76).
    pub delta: f64,
    /// ∂²V/∂S² (∂²V/∂F²).
    pub gamma: f64,
    /// ∂V/∂σ per 1.00 of volatility.
    pub vega: f64,
    /// −∂V/∂T per year.
    pub theta: f64,
    /// ∂V/∂r per 1.00 of rate.
    pub rho: f64,
    /// ∂²V/∂S∂σ.
    pub vanna: f64,
    /// ∂²V/∂σ².
    pub volga: f64,
}

/// Structure-of-arrays inputs of a batch. All slices have the batch length, except `carry_q`,
/// which may be empty for Black-76.
#[derive(Debug, Clone, Copy)]
pub struct BatchInputs<'a> {
    /// Pricing model of the whole batch.
    pub model: Model,
    /// Spot S (BSM) or forward F (Black-76).
    pub underlying: &'a [f64],
    /// Strike K.
    pub strike: &'a [f64],
    /// Time to expiry in years.
    pub t_years: &'a [f64],
    /// Annualized volatility.
    pub vol: &'a [f64],
    /// Rate r.
    pub rate: &'a [f64],
    /// Yield q (BSM only).
    pub carry_q: &'a [f64],
    /// `true` for a call, `false` for a put.
    pub is_call: &'a [bool],
}

/// Structure-of-arrays outputs of a batch. Slices of outputs in the requested [`Tier`] and
/// `status` must have the batch length; the others may be empty and are not touched.
#[derive(Debug)]
pub struct BatchOutputs<'a> {
    /// Premium.
    pub price: &'a mut [f64],
    /// Delta.
    pub delta: &'a mut [f64],
    /// Gamma.
    pub gamma: &'a mut [f64],
    /// Vega per 1.00 vol.
    pub vega: &'a mut [f64],
    /// Theta per year.
    pub theta: &'a mut [f64],
    /// Rho per 1.00 rate.
    pub rho: &'a mut [f64],
    /// Vanna.
    pub vanna: &'a mut [f64],
    /// Volga.
    pub volga: &'a mut [f64],
    /// Per-lane status.
    pub status: &'a mut [LaneStatus],
}

/// Smallest σ√T treated as a diffusion; below it the lane takes the σ√T → 0 limit.
const V_MIN: f64 = 1e-100;
/// Largest σ√T evaluated.
pub(crate) const V_MAX: f64 = 1e3;
/// Underlying and strike must lie in [`MAG_MIN`, `MAG_MAX`] so that S/K and the products stay
/// comfortably inside the double range.
pub(crate) const MAG_MIN: f64 = 1e-250;
/// See [`MAG_MIN`].
pub(crate) const MAG_MAX: f64 = 1e250;

/// Magnitude test shared by all entry points (finite, positive S and K assumed).
#[inline(always)]
pub(crate) fn magnitudes_ok(s: f64, k: f64) -> bool {
    (MAG_MIN..=MAG_MAX).contains(&s) && (MAG_MIN..=MAG_MAX).contains(&k)
}

/// |rT|, |qT| up to which the discounted legs need no test: with S, K in [`MAG_MIN`,
/// `MAG_MAX`], e^{±115} ≈ 1e±50 keeps S·e^{−qT} and K·e^{−rT} within [1e-300, 1e300]. The vector
/// paths accept only such lanes; the others (rates × maturities up to 700) go through the
/// scalar test [`legs_ok`].
pub(crate) const RATE_SAFE: f64 = 115.0;

/// Whether the discounted legs S·e^{−qT}, K·e^{−rT} (Black-76: q = r) lie within
/// [1e-300, 1e300], so that they, F/K and the products with them stay finite and normal (given
/// S, K within range and |rT|, |qT| ≤ 700). Exponentials only where |rT| or |qT| exceeds
/// [`RATE_SAFE`].
#[inline(always)]
pub(crate) fn legs_ok(s: f64, k: f64, t: f64, r: f64, q: f64) -> bool {
    let (rt, qt) = (r * t, q * t);
    if rt.abs() <= RATE_SAFE && qt.abs() <= RATE_SAFE {
        return true;
    }
    let leg = |x: f64| (1e-300..=1e300).contains(&x);
    leg(s * (-qt).exp()) && leg(k * (-rt).exp())
}

/// Vector form of [`magnitudes_ok`].
#[inline(always)]
pub(crate) fn magnitudes_ok_x4(s: f64x4, k: f64x4) -> f64x4 {
    use wide::{CmpGe, CmpLe};
    let (lo, hi) = (f64x4::splat(MAG_MIN), f64x4::splat(MAG_MAX));
    s.cmp_ge(lo) & s.cmp_le(hi) & k.cmp_ge(lo) & k.cmp_le(hi)
}

/// Validation of one lane: `Ok` (diffusion), `Intrinsic` (degenerate limit) or an error code.
#[inline(always)]
fn classify(s: f64, k: f64, t: f64, sig: f64, r: f64, q: f64) -> LaneStatus {
    if !(s.is_finite() && s > 0.0) {
        LaneStatus::BadUnderlying
    } else if !(k.is_finite() && k > 0.0) {
        LaneStatus::BadStrike
    } else if !(t.is_finite() && t >= 0.0) {
        LaneStatus::BadTime
    } else if !(sig.is_finite() && sig >= 0.0) {
        LaneStatus::BadVol
    } else if !((r * t).abs() <= 700.0 && (q * t).abs() <= 700.0 && r.is_finite() && q.is_finite())
    {
        LaneStatus::BadRate
    } else if !magnitudes_ok(s, k) || !legs_ok(s, k, t, r, q) || sig * t.sqrt() > V_MAX {
        LaneStatus::OutOfRange
    } else if sig * t.sqrt() < V_MIN {
        LaneStatus::Intrinsic
    } else {
        LaneStatus::Ok
    }
}

/// Vector form of the `Ok` test of [`classify`]: all ones where a lane is a diffusion lane. The
/// magnitude and σ√T range tests subsume the others: NaN fails every comparison, S, K in
/// [`MAG_MIN`, `MAG_MAX`] are finite and positive, σ√T ∈ [`V_MIN`, `V_MAX`] needs T > 0 and
/// finite σ, T (σ√T is NaN or infinite otherwise), and with T > 0, |rT|, |qT| ≤ [`RATE_SAFE`]
/// need finite r, q and keep the discounted legs in range (lanes with larger rates × maturities
/// take the scalar path, which tests the legs).
#[inline(always)]
fn ok_mask_x4(s: f64x4, k: f64x4, t: f64x4, sig: f64x4, r: f64x4, q: f64x4) -> f64x4 {
    use wide::{CmpGe, CmpLe};
    let lim = f64x4::splat(RATE_SAFE);
    let v = sig * t.sqrt();
    magnitudes_ok_x4(s, k)
        & v.cmp_ge(f64x4::splat(V_MIN))
        & v.cmp_le(f64x4::splat(V_MAX))
        & (r * t).abs().cmp_le(lim)
        & (q * t).abs().cmp_le(lim)
}

/// The σ√T → 0 limit (T = 0 or σ = 0), for lanes classified `Intrinsic`.
fn degenerate(model: Model, omega: f64, s: f64, k: f64, t: f64, r: f64, q: f64) -> Greeks {
    let q = if model == Model::Black76 { r } else { q };
    let dr = (-r * t).exp();
    let dq = if model == Model::Black76 {
        dr
    } else {
        (-q * t).exp()
    };
    let a = s * dq;
    let b = k * dr;
    let fwd_itm = omega * (a - b);
    if a == b {
        let nan = f64::NAN;
        return Greeks {
            price: 0.0,
            delta: omega * dq * 0.5,
            gamma: nan,
            vega: nan,
            theta: nan,
            rho: nan,
            vanna: nan,
            volga: nan,
        };
    }
    let itm = fwd_itm > 0.0;
    let price = if itm { fwd_itm } else { 0.0 };
    let rho = match model {
        Model::Black76 => -t * price,
        Model::Bsm if itm => omega * t * b,
        Model::Bsm => 0.0,
    };
    Greeks {
        price,
        delta: if itm { omega * dq } else { 0.0 },
        gamma: 0.0,
        vega: 0.0,
        theta: if itm { omega * (q * a - r * b) } else { 0.0 },
        rho,
        vanna: 0.0,
        volga: 0.0,
    }
}

const NAN_GREEKS: Greeks = Greeks {
    price: f64::NAN,
    delta: f64::NAN,
    gamma: f64::NAN,
    vega: f64::NAN,
    theta: f64::NAN,
    rho: f64::NAN,
    vanna: f64::NAN,
    volga: f64::NAN,
};

fn from_kout(o: KOut<f64>) -> Greeks {
    Greeks {
        price: o.price,
        delta: o.delta,
        gamma: o.gamma,
        vega: o.vega,
        theta: o.theta,
        rho: o.rho,
        vanna: o.vanna,
        volga: o.volga,
    }
}

/// One lane through the scalar path (validation, degenerate limits, kernel).
#[inline(always)]
fn one<const TIER: u8, const B76: bool>(
    omega: f64,
    s: f64,
    k: f64,
    t: f64,
    sig: f64,
    r: f64,
    q: f64,
) -> (Greeks, LaneStatus) {
    let model = if B76 { Model::Black76 } else { Model::Bsm };
    let q = if B76 { r } else { q };
    match classify(s, k, t, sig, r, q) {
        LaneStatus::Ok => {
            let o = bs_kernel::<f64, TIER, B76>(KIn {
                s,
                k,
                t,
                sig,
                r,
                q,
                omega,
            });
            (from_kout(o), LaneStatus::Ok)
        }
        LaneStatus::Intrinsic => (
            degenerate(model, omega, s, k, t, r, q),
            LaneStatus::Intrinsic,
        ),
        bad => (NAN_GREEKS, bad),
    }
}

/// Price and all Greeks of one option (the scalar twin of [`greeks_batch`] for one lane; same
/// bits). Never panics; see the module docs for the statuses.
#[must_use]
pub fn greeks(o: &OptionInputs) -> (Greeks, LaneStatus) {
    let omega = o.kind.omega();
    match o.model {
        Model::Bsm => one::<TIER_ALL, false>(
            omega,
            o.underlying,
            o.strike,
            o.t_years,
            o.vol,
            o.rate,
            o.carry_q,
        ),
        Model::Black76 => one::<TIER_ALL, true>(
            omega,
            o.underlying,
            o.strike,
            o.t_years,
            o.vol,
            o.rate,
            o.rate,
        ),
    }
}

fn check_len(field: &'static str, got: usize, expected: usize) -> Result<(), GreeksError> {
    if got == expected {
        Ok(())
    } else {
        Err(GreeksError::LengthMismatch {
            field,
            got,
            expected,
        })
    }
}

fn check_shapes(inp: &BatchInputs, tier: Tier, out: &BatchOutputs) -> Result<usize, GreeksError> {
    let n = inp.strike.len();
    check_len("underlying", inp.underlying.len(), n)?;
    check_len("t_years", inp.t_years.len(), n)?;
    check_len("vol", inp.vol.len(), n)?;
    check_len("rate", inp.rate.len(), n)?;
    if inp.model == Model::Bsm {
        check_len("carry_q", inp.carry_q.len(), n)?;
    }
    check_len("is_call", inp.is_call.len(), n)?;
    check_len("status", out.status.len(), n)?;
    check_len("price", out.price.len(), n)?;
    if tier != Tier::Price {
        check_len("delta", out.delta.len(), n)?;
        check_len("gamma", out.gamma.len(), n)?;
        check_len("vega", out.vega.len(), n)?;
        check_len("theta", out.theta.len(), n)?;
    }
    if tier == Tier::All {
        check_len("rho", out.rho.len(), n)?;
        check_len("vanna", out.vanna.len(), n)?;
        check_len("volga", out.volga.len(), n)?;
    }
    Ok(n)
}

#[inline(always)]
fn store_one<const TIER: u8>(out: &mut BatchOutputs, i: usize, g: &Greeks, st: LaneStatus) {
    out.status[i] = st;
    out.price[i] = g.price;
    if TIER >= TIER_FIVE {
        out.delta[i] = g.delta;
        out.gamma[i] = g.gamma;
        out.vega[i] = g.vega;
        out.theta[i] = g.theta;
    }
    if TIER == TIER_ALL {
        out.rho[i] = g.rho;
        out.vanna[i] = g.vanna;
        out.volga[i] = g.volga;
    }
}

#[inline(always)]
fn scalar_lane<const TIER: u8, const B76: bool>(
    inp: &BatchInputs,
    out: &mut BatchOutputs,
    i: usize,
) {
    let q = if B76 { 0.0 } else { inp.carry_q[i] };
    let omega = if inp.is_call[i] { 1.0 } else { -1.0 };
    let (g, st) = one::<TIER, B76>(
        omega,
        inp.underlying[i],
        inp.strike[i],
        inp.t_years[i],
        inp.vol[i],
        inp.rate[i],
        q,
    );
    store_one::<TIER>(out, i, &g, st);
}

fn run_scalar<const TIER: u8, const B76: bool>(
    inp: &BatchInputs,
    out: &mut BatchOutputs,
    n: usize,
) {
    for i in 0..n {
        scalar_lane::<TIER, B76>(inp, out, i);
    }
}

/// Loads, stores and validation for the vector lane types.
pub(crate) trait VecIo: normal::CodyLane {
    /// Lanes per value.
    const N: usize;
    fn load(s: &[f64], i: usize) -> Self;
    fn store(self, s: &mut [f64], i: usize);
    /// +1 / −1 per lane from `is_call[i..]`.
    fn omega(c: &[bool], i: usize) -> Self;
    /// Whether every lane is a valid diffusion lane (see `classify`).
    fn all_ok(s: Self, k: Self, t: Self, sig: Self, r: Self, q: Self) -> bool;
}

/// +1.0 (call) / −1.0 (put) for four lanes without a select per lane: the four flags read as
/// one 32-bit word, each lane tests its byte, and a put gets the sign bit on 1.0.
#[inline(always)]
fn omega4(c: &[bool]) -> f64x4 {
    use wide::{i64x4, CmpEq};
    let w = i64::from(u32::from_le_bytes([
        u8::from(c[0]),
        u8::from(c[1]),
        u8::from(c[2]),
        u8::from(c[3]),
    ]));
    let byte = i64x4::new([1, 1 << 8, 1 << 16, 1 << 24]);
    let put = (i64x4::splat(w) & byte).cmp_eq(i64x4::splat(0));
    f64x4::splat(1.0) | bytemuck::cast::<i64x4, f64x4>(put & i64x4::splat(i64::MIN))
}

impl VecIo for f64x4 {
    const N: usize = 4;
    #[inline(always)]
    fn load(s: &[f64], i: usize) -> Self {
        load4(s, i)
    }
    #[inline(always)]
    fn store(self, s: &mut [f64], i: usize) {
        store4(s, i, self)
    }
    #[inline(always)]
    fn omega(c: &[bool], i: usize) -> Self {
        omega4(&c[i..i + 4])
    }
    #[inline(always)]
    fn all_ok(s: Self, k: Self, t: Self, sig: Self, r: Self, q: Self) -> bool {
        ok_mask_x4(s, k, t, sig, r, q).all()
    }
}

/// [`VecIo`] for a multi-part lane type whose `f64x4` parts are the fields `$i`.
macro_rules! vec_io {
    ($name:ident, $($i:tt),+) => {
        impl VecIo for $name {
            const N: usize = $name::LANES;
            #[inline(always)]
            fn load(s: &[f64], i: usize) -> Self {
                $name::load(s, i)
            }
            #[inline(always)]
            fn store(self, s: &mut [f64], i: usize) {
                $name::store(self, s, i)
            }
            #[inline(always)]
            fn omega(c: &[bool], i: usize) -> Self {
                $name($(omega4(&c[i + 4 * $i..i + 4 * $i + 4])),+)
            }
            #[inline(always)]
            fn all_ok(s: Self, k: Self, t: Self, sig: Self, r: Self, q: Self) -> bool {
                // One mask test for all parts.
                [$(ok_mask_x4(s.$i, k.$i, t.$i, sig.$i, r.$i, q.$i)),+]
                    .into_iter()
                    .reduce(|a, b| a & b)
                    .is_some_and(|m| m.all())
            }
        }
    };
}
vec_io!(X8, 0, 1);
vec_io!(X12, 0, 1, 2);
vec_io!(X16, 0, 1, 2, 3);

/// One vector block at `i`; falls back to the scalar path (same bits) when a lane needs
/// validation or a limit.
#[inline(always)]
fn vec_block<T: VecIo, const TIER: u8, const B76: bool>(
    inp: &BatchInputs,
    out: &mut BatchOutputs,
    i: usize,
) {
    let s = T::load(inp.underlying, i);
    let k = T::load(inp.strike, i);
    let t = T::load(inp.t_years, i);
    let sig = T::load(inp.vol, i);
    let r = T::load(inp.rate, i);
    let q = if B76 { r } else { T::load(inp.carry_q, i) };
    if T::all_ok(s, k, t, sig, r, q) {
        let omega = T::omega(inp.is_call, i);
        let o = bs_kernel::<T, TIER, B76>(KIn {
            s,
            k,
            t,
            sig,
            r,
            q,
            omega,
        });
        out.status[i..i + T::N].fill(LaneStatus::Ok);
        o.price.store(out.price, i);
        if TIER >= TIER_FIVE {
            o.delta.store(out.delta, i);
            o.gamma.store(out.gamma, i);
            o.vega.store(out.vega, i);
            o.theta.store(out.theta, i);
        }
        if TIER == TIER_ALL {
            o.rho.store(out.rho, i);
            o.vanna.store(out.vanna, i);
            o.volga.store(out.volga, i);
        }
    } else {
        for j in i..i + T::N {
            scalar_lane::<TIER, B76>(inp, out, j);
        }
    }
}

fn run_simd<const TIER: u8, const B76: bool>(inp: &BatchInputs, out: &mut BatchOutputs, n: usize) {
    // Local copies resliced to exactly `n`: the lengths are then known inside the loop (no
    // bounds checks per block) and the slice pointers stay in registers instead of being
    // reloaded from `out` after every store.
    let inp = &BatchInputs {
        model: inp.model,
        underlying: &inp.underlying[..n],
        strike: &inp.strike[..n],
        t_years: &inp.t_years[..n],
        vol: &inp.vol[..n],
        rate: &inp.rate[..n],
        carry_q: if B76 { &[] } else { &inp.carry_q[..n] },
        is_call: &inp.is_call[..n],
    };
    let five = TIER >= TIER_FIVE;
    let all = TIER == TIER_ALL;
    let out = &mut BatchOutputs {
        price: &mut out.price[..n],
        delta: if five { &mut out.delta[..n] } else { &mut [] },
        gamma: if five { &mut out.gamma[..n] } else { &mut [] },
        vega: if five { &mut out.vega[..n] } else { &mut [] },
        theta: if five { &mut out.theta[..n] } else { &mut [] },
        rho: if all { &mut out.rho[..n] } else { &mut [] },
        vanna: if all { &mut out.vanna[..n] } else { &mut [] },
        volga: if all { &mut out.volga[..n] } else { &mut [] },
        status: &mut out.status[..n],
    };
    let mut i = 0;
    while i + 16 <= n {
        vec_block::<X16, TIER, B76>(inp, out, i);
        i += 16;
    }
    if i + 12 <= n {
        vec_block::<X12, TIER, B76>(inp, out, i);
        i += 12;
    }
    if i + 8 <= n {
        vec_block::<X8, TIER, B76>(inp, out, i);
        i += 8;
    }
    if i + 4 <= n {
        vec_block::<f64x4, TIER, B76>(inp, out, i);
        i += 4;
    }
    for j in i..n {
        scalar_lane::<TIER, B76>(inp, out, j);
    }
}

macro_rules! dispatch {
    ($f:ident, $inp:expr, $tier:expr, $out:expr, $n:expr) => {
        match ($tier, $inp.model) {
            (Tier::Price, Model::Bsm) => $f::<TIER_PRICE, false>($inp, $out, $n),
            (Tier::Price, Model::Black76) => $f::<TIER_PRICE, true>($inp, $out, $n),
            (Tier::PriceAnd4, Model::Bsm) => $f::<TIER_FIVE, false>($inp, $out, $n),
            (Tier::PriceAnd4, Model::Black76) => $f::<TIER_FIVE, true>($inp, $out, $n),
            (Tier::All, Model::Bsm) => $f::<TIER_ALL, false>($inp, $out, $n),
            (Tier::All, Model::Black76) => $f::<TIER_ALL, true>($inp, $out, $n),
        }
    };
}

/// Prices and Greeks of a batch in `f64x4` lanes (blocks of four, then three, two or one, then a
/// scalar tail). Writes the outputs of `tier` and one [`LaneStatus`] per lane. No allocation.
///
/// # Errors
/// [`GreeksError::LengthMismatch`] when a required slice does not have the batch length
/// (`strike.len()`); nothing is written then.
pub fn greeks_batch(
    inp: &BatchInputs,
    tier: Tier,
    out: &mut BatchOutputs,
) -> Result<(), GreeksError> {
    let n = check_shapes(inp, tier, out)?;
    dispatch!(run_simd, inp, tier, out, n);
    Ok(())
}

/// Scalar twin of [`greeks_batch`]: same signature, same results bit for bit, one lane at a
/// time.
///
/// # Errors
/// As [`greeks_batch`].
pub fn greeks_batch_scalar(
    inp: &BatchInputs,
    tier: Tier,
    out: &mut BatchOutputs,
) -> Result<(), GreeksError> {
    let n = check_shapes(inp, tier, out)?;
    dispatch!(run_scalar, inp, tier, out, n);
    Ok(())
}
