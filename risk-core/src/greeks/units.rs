//! Conversions from the canonical units of [`super::Greeks`] to venue conventions.
//!
//! Canonical: vega per 1.00 of volatility, theta per year (−∂V/∂T), rho per 1.00 of rate,
//! premium in the currency of the strike.
//!
//! Deribit (options on BTC/ETH, Black-76 on the futures price F, r = 0, T in years of 365
//! days): the premium is quoted in coin, `price / F`; delta, gamma as Black-76 (delta 5
//! decimals); vega in USD per vol point; theta in USD per day, and inside the last day the lesser
//! in magnitude of the 1-day theta and the whole remaining premium ([`deribit_theta_per_day`]);
//! rho per 1 % of rate taken with the underlying price held fixed
//! ([`rho_underlying_fixed_from_black76`]), not Black-76's F-fixed `−T·V`. Checked against
//! Deribit's published tickers in `tests/greeks_deribit.rs`.

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

/// Deribit's theta per day: `theta_per_year / 365`, except inside the last day, where it is the
/// lesser in magnitude of that and the lifetime theta `−price` (premium in quote currency).
#[must_use]
#[inline]
pub fn deribit_theta_per_day(theta_per_year: f64, price: f64, t_years: f64) -> f64 {
    let day = theta_per_day(theta_per_year, DAYS_PER_YEAR);
    if t_years < 1.0 / DAYS_PER_YEAR && day.abs() > price.abs() {
        -price.abs()
    } else {
        day
    }
}

/// Rho with the underlying price held fixed (∂V/∂r at fixed F, treated like a spot), from
/// Black-76 outputs: `rho_f_fixed + T·F·delta` (= ω·K·T·e^{−rT}·Φ(ωd₂)). Per 1.00 of rate.
#[must_use]
#[inline]
pub fn rho_underlying_fixed_from_black76(
    rho_f_fixed: f64,
    forward: f64,
    delta: f64,
    t_years: f64,
) -> f64 {
    rho_f_fixed + t_years * forward * delta
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
        // Last day: lifetime theta when it is smaller in magnitude.
        assert_eq!(deribit_theta_per_day(-365.0, 0.25, 0.5 / 365.0), -0.25);
        assert_eq!(deribit_theta_per_day(-365.0, 2.0, 0.5 / 365.0), -1.0);
        assert_eq!(deribit_theta_per_day(-365.0, 0.25, 2.0 / 365.0), -1.0);
        assert_eq!(
            rho_underlying_fixed_from_black76(-1.0, 100.0, 0.5, 2.0),
            99.0
        );
    }
}
