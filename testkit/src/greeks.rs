//! Inputs of the Greeks and implied-volatility kernels: a realistic seeded option chain in
//! structure-of-arrays form.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One underlying near 100, expiries from a week to two years, strikes across ±3 standard
/// deviations, a smile, calls and puts; one entry per option in every vector.
#[derive(Debug, Clone, PartialEq)]
pub struct GreeksChain {
    /// Underlying price.
    pub s: Vec<f64>,
    /// Strike.
    pub k: Vec<f64>,
    /// Time to expiry, years.
    pub t: Vec<f64>,
    /// Volatility (annual, decimal).
    pub vol: Vec<f64>,
    /// Rate (continuous, decimal).
    pub r: Vec<f64>,
    /// Carry / dividend yield (continuous, decimal).
    pub q: Vec<f64>,
    /// Call (`true`) or put.
    pub call: Vec<bool>,
}

/// The rates of a [`chain`].
#[derive(Clone, Copy)]
pub enum Rates<'a> {
    /// The same rate and carry for every option.
    Fixed {
        /// Rate.
        r: f64,
        /// Carry.
        q: f64,
    },
    /// A rate drawn in `[0, 6 %)` per option and the carry `q_of(index, rate)`.
    Drawn(&'a dyn Fn(usize, f64) -> f64),
}

impl std::fmt::Debug for Rates<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed { r, q } => write!(f, "Fixed {{ r: {r}, q: {q} }}"),
            Self::Drawn(_) => f.write_str("Drawn"),
        }
    }
}

/// `n` options drawn from a ChaCha8 generator seeded with `seed` (the same chain on every
/// machine), with `rates`.
#[must_use]
pub fn chain(n: usize, seed: u64, rates: Rates<'_>) -> GreeksChain {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let expiries = [7.0, 14.0, 30.0, 60.0, 91.0, 182.0, 365.0, 730.0];
    let mut c = GreeksChain {
        s: Vec::with_capacity(n),
        k: Vec::with_capacity(n),
        t: Vec::with_capacity(n),
        vol: Vec::with_capacity(n),
        r: Vec::with_capacity(n),
        q: Vec::with_capacity(n),
        call: Vec::with_capacity(n),
    };
    for i in 0..n {
        let s = 100.0 * (1.0 + rng.gen_range(-0.01..0.01));
        let t: f64 = expiries[rng.gen_range(0..expiries.len())] / 365.0;
        let z: f64 = rng.gen_range(-3.0..3.0);
        let atm = 0.25 + rng.gen_range(-0.05..0.05);
        let vol = atm * (1.0 + 0.08 * z * z - 0.05 * z);
        let (r, q) = match rates {
            Rates::Fixed { r, q } => (r, q),
            Rates::Drawn(q_of) => {
                let r = rng.gen_range(0.0..0.06);
                (r, q_of(i, r))
            }
        };
        c.call.push(rng.gen_bool(0.5));
        c.s.push(s);
        c.k.push(s * (z * atm * t.sqrt()).exp());
        c.t.push(t);
        c.vol.push(vol);
        c.r.push(r);
        c.q.push(q);
    }
    c
}
