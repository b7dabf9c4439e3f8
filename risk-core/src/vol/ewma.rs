//! EWMA (RiskMetrics) variance: `σ²ₜ = λ σ²ₜ₋₁ + (1 − λ) r²ₜ₋₁`.
//!
//! Initialization: the first `warmup` returns are averaged (zero mean, `Σ r² / n`) and that mean
//! square seeds the recursion; until then [`Ewma::variance`] returns `None`. O(1) per update, no
//! allocation.

/// EWMA variance of per-observation returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma {
    lambda: f64,
    warmup: u32,
    n: u32,
    sum_sq: f64,
    var: f64,
}

/// RiskMetrics' daily decay, the default.
pub const DEFAULT_LAMBDA: f64 = 0.94;

impl Ewma {
    /// An EWMA with decay `lambda` (0 < λ < 1) seeded by the mean square of the first `warmup`
    /// returns (at least 1). Returns `None` for a λ outside (0, 1).
    #[must_use]
    pub fn new(lambda: f64, warmup: u32) -> Option<Self> {
        if !(lambda > 0.0 && lambda < 1.0) {
            return None;
        }
        Some(Self {
            lambda,
            warmup: warmup.max(1),
            n: 0,
            sum_sq: 0.0,
            var: 0.0,
        })
    }

    /// An EWMA with decay `lambda` already seeded with `variance` (no warm-up): e.g. the
    /// `arch` package's backcast ([`crate::vol::garch::backcast`]) so that the recursion matches
    /// its `EWMAVariance`. Returns `None` for a λ outside (0, 1) or a negative or non-finite
    /// variance.
    #[must_use]
    pub fn seeded(lambda: f64, variance: f64) -> Option<Self> {
        if !(lambda > 0.0 && lambda < 1.0 && variance >= 0.0 && variance.is_finite()) {
            return None;
        }
        Some(Self {
            lambda,
            warmup: 0,
            n: 0,
            sum_sq: 0.0,
            var: variance,
        })
    }

    /// Variance `h` steps ahead: EWMA forecasts are flat, so this is [`Ewma::variance`] for
    /// every `h`.
    #[must_use]
    pub fn forecast(&self, _h: u32) -> Option<f64> {
        self.variance()
    }

    /// Feed one return (e.g. a log return of the mid price). Non-finite returns are ignored and
    /// reported as `false`, so NaN never enters the state.
    pub fn update(&mut self, ret: f64) -> bool {
        if !ret.is_finite() {
            return false;
        }
        let r2 = ret * ret;
        if self.n < self.warmup {
            self.sum_sq += r2;
            self.n += 1;
            if self.n == self.warmup {
                self.var = self.sum_sq / f64::from(self.warmup);
            }
        } else {
            self.var = self.lambda.mul_add(self.var, (1.0 - self.lambda) * r2);
        }
        true
    }

    /// Current one-step variance forecast per observation, once warmed up.
    #[must_use]
    pub fn variance(&self) -> Option<f64> {
        (self.n >= self.warmup).then_some(self.var)
    }

    /// The decay λ.
    #[must_use]
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Returns seen so far (saturating at the warm-up length).
    #[must_use]
    pub fn observations(&self) -> u32 {
        self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_from_warmup_mean_square_then_recurses() {
        let mut e = Ewma::new(0.9, 2).unwrap();
        assert!(e.variance().is_none());
        e.update(0.01);
        e.update(-0.03);
        let seed = (0.0001 + 0.0009) / 2.0;
        assert_eq!(e.variance(), Some(seed));
        e.update(0.02);
        let want = 0.9 * seed + 0.1 * 0.0004;
        assert!((e.variance().unwrap() - want).abs() < 1e-18);
    }

    #[test]
    fn seeded_starts_recursing_at_once() {
        let mut e = Ewma::seeded(0.94, 2e-4).unwrap();
        assert_eq!(e.variance(), Some(2e-4));
        e.update(0.01);
        let want = 0.94 * 2e-4 + 0.06 * 1e-4;
        assert!((e.variance().unwrap() - want).abs() < 1e-18);
        assert_eq!(e.forecast(7), e.variance());
        assert!(Ewma::seeded(0.94, f64::NAN).is_none());
    }

    #[test]
    fn rejects_bad_lambda_and_non_finite_returns() {
        assert!(Ewma::new(1.0, 1).is_none());
        assert!(Ewma::new(f64::NAN, 1).is_none());
        let mut e = Ewma::new(0.94, 1).unwrap();
        assert!(!e.update(f64::NAN));
        assert!(!e.update(f64::INFINITY));
        assert!(e.variance().is_none());
    }
}
