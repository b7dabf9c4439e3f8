//! Conversions from the canonical units of [`super::Greeks`] to venue conventions.
//!
//! Canonical: vega per 1.00 of volatility, theta per year (−∂V/∂T), rho per 1.00 of rate,
//! premium in the currency of the strike.
//!
//! Deribit (options on BTC/ETH, Black-76 on the futures price F, r = 0, T in years of 365
//! days): the premium is quoted in coin, `price / F`; delta, gamma as Black-76 (delta 5
//! decimals); vega in USD per vol point; theta in USD per day; rho per 1 % of rate.

/// Calendar days per year used by the per-day conversions (Deribit counts 365).
pub const DAYS_PER_YEAR: f64 = 365.0;

/// Vega per 1.00 of volatility → per volatility point (0.01).
#[must_use]
#[inline]
pub fn vega_per_vol_point(vega_per_unit_vol: f64) -> f64 {
    vega_per_unit_vol * 0.01
}

/// Theta per year → per calendar day of a `days_per_year`-day year.
#[must_use]
#[inline]
pub fn theta_per_day(theta_per_year: f64, days_per_year: f64) -> f64 {
    theta_per_year / days_per_year
}

/// Rho per 1.00 of rate → per 1 % (0.01) of rate.
#[must_use]
#[inline]
pub fn rho_per_pct(rho_per_unit_rate: f64) -> f64 {
    rho_per_unit_rate * 0.01
}

/// Premium in quote currency → coin-denominated premium (Deribit): `price / F`.
#[must_use]
#[inline]
pub fn premium_in_coin(price_quote: f64, forward: f64) -> f64 {
    price_quote / forward
}

/// Coin-denominated premium → quote currency: `price_coin · F`.
#[must_use]
#[inline]
pub fn premium_from_coin(price_coin: f64, forward: f64) -> f64 {
    price_coin * forward
}

/// Volatility quoted in percent (Deribit `mark_iv` 64.5) → fraction (0.645).
#[must_use]
#[inline]
pub fn vol_from_pct(vol_pct: f64) -> f64 {
    vol_pct / 100.0
}

/// Milliseconds between two epoch-ms timestamps → years of `days_per_year` days.
#[must_use]
#[inline]
pub fn years_between_ms(from_ms: i64, to_ms: i64, days_per_year: f64) -> f64 {
    (to_ms - from_ms) as f64 / (days_per_year * 86_400_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(vega_per_vol_point(12.5), 0.125);
        assert_eq!(theta_per_day(-365.0, DAYS_PER_YEAR), -1.0);
        assert_eq!(rho_per_pct(200.0), 2.0);
        assert_eq!(premium_in_coin(3000.0, 30000.0), 0.1);
        assert_eq!(premium_from_coin(0.1, 30000.0), 3000.0);
        assert_eq!(vol_from_pct(64.5), 0.645);
        assert_eq!(years_between_ms(0, 86_400_000 * 365, DAYS_PER_YEAR), 1.0);
    }
}
