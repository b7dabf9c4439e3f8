//! Exact JSON numbers: Deribit sends prices and amounts as JSON numbers (`0.0015`, `4714.0`,
//! sometimes `1e-05`), parsed here straight into mantissas without going through `f64`.

use crate::decimal::{parse_decimal, DecimalError};
use crate::registry::POW10;

/// Parses a JSON number (digits, optional fraction, optional exponent; no sign) into a mantissa
/// at `scale` decimals.
///
/// # Errors
/// [`DecimalError`] for a sign, a malformed number, more significant decimals than `scale`, or a
/// mantissa that overflows `i64`.
pub fn json_decimal(s: &[u8], scale: u8) -> Result<i64, DecimalError> {
    let Some(epos) = s.iter().position(|&c| c == b'e' || c == b'E') else {
        return parse_decimal(s, scale).map(|d| d.mantissa);
    };
    if scale > 18 {
        return Err(DecimalError::Scale(scale));
    }
    let (mant, exp) = (&s[..epos], &s[epos + 1..]);
    let (neg_exp, exp_digits) = match exp.first() {
        Some(b'-') => (true, &exp[1..]),
        Some(b'+') => (false, &exp[1..]),
        _ => (false, exp),
    };
    if exp_digits.is_empty() || exp_digits.len() > 3 {
        return Err(DecimalError::Empty);
    }
    let mut e: i32 = 0;
    for &c in exp_digits {
        if !c.is_ascii_digit() {
            return Err(DecimalError::BadByte(c));
        }
        e = e * 10 + i32::from(c - b'0');
    }
    if neg_exp {
        e = -e;
    }
    // Digits of the mantissa without the dot, and how many were after the dot.
    let mut digits: u64 = 0;
    let mut frac = 0i32;
    let mut seen_dot = false;
    let mut any = false;
    for &c in mant {
        match c {
            b'.' if !seen_dot => seen_dot = true,
            b'0'..=b'9' => {
                any = true;
                digits = digits
                    .checked_mul(10)
                    .and_then(|d| d.checked_add(u64::from(c - b'0')))
                    .ok_or(DecimalError::Overflow)?;
                if seen_dot {
                    frac += 1;
                }
            }
            other => return Err(DecimalError::BadByte(other)),
        }
    }
    if !any {
        return Err(DecimalError::Empty);
    }
    // value = digits × 10^(e − frac); mantissa = value × 10^scale.
    let k = e - frac + i32::from(scale);
    let m = if k >= 0 {
        if k > 18 {
            if digits == 0 {
                return Ok(0);
            }
            return Err(DecimalError::Overflow);
        }
        digits
            .checked_mul(POW10[k as usize] as u64)
            .ok_or(DecimalError::Overflow)?
    } else {
        let d = -k;
        if d > 18 {
            if digits == 0 {
                return Ok(0);
            }
            return Err(DecimalError::TooPrecise(scale));
        }
        let p = POW10[d as usize] as u64;
        if digits % p != 0 {
            return Err(DecimalError::TooPrecise(scale));
        }
        digits / p
    };
    i64::try_from(m).map_err(|_| DecimalError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_exponent_forms() {
        assert_eq!(json_decimal(b"4714.0", 8), Ok(471_400_000_000));
        assert_eq!(json_decimal(b"0.0015", 8), Ok(150_000));
        assert_eq!(json_decimal(b"1e-05", 8), Ok(1_000));
        assert_eq!(json_decimal(b"2.5E+3", 2), Ok(250_000));
        assert_eq!(json_decimal(b"1e-09", 8), Err(DecimalError::TooPrecise(8)));
        assert_eq!(json_decimal(b"0e-30", 8), Ok(0));
        assert!(json_decimal(b"-1", 8).is_err());
        assert!(json_decimal(b"1e", 8).is_err());
        assert!(json_decimal(b"e5", 8).is_err());
        assert!(json_decimal(b"9e18", 8).is_err());
    }

    proptest! {
        #[test]
        fn exponent_form_equals_plain(m in 0u64..1_000_000_000, shift in 0u32..8) {
            // m × 10^-shift written both ways.
            let plain = {
                let p = 10u64.pow(shift);
                if shift == 0 { format!("{m}") } else { format!("{}.{:0w$}", m / p, m % p, w = shift as usize) }
            };
            let exp = format!("{m}e-{shift}");
            prop_assert_eq!(json_decimal(plain.as_bytes(), 8), json_decimal(exp.as_bytes(), 8));
        }

        #[test]
        fn never_panics(s in proptest::collection::vec(any::<u8>(), 0..30), scale in 0u8..20) {
            let _ = json_decimal(&s, scale);
        }
    }
}
