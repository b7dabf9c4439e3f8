//! Exact decimal strings ↔ integer mantissas at a fixed scale. No `f64` anywhere.
//!
//! Venues send prices and quantities as decimal strings (`"61837.63000000"`). They are parsed
//! straight into an `i64` mantissa at the instrument's scale (`6183763000000` at scale 8) and
//! printed back the same way, so a price goes in and out of a book bit-exact.

use crate::registry::POW10;

/// Why a decimal string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// Empty string, or nothing but a dot.
    #[error("empty decimal")]
    Empty,
    /// A byte other than ASCII digits and one `.` (signs and exponents are rejected too).
    #[error("unexpected byte {0:#04x} in decimal")]
    BadByte(u8),
    /// More non-zero fractional digits than the instrument's scale can hold.
    #[error("more significant decimals than the instrument's scale {0}")]
    TooPrecise(u8),
    /// The mantissa does not fit an `i64`.
    #[error("decimal overflows a 64-bit mantissa")]
    Overflow,
    /// A scale above 18 was asked for.
    #[error("scale {0} above 18")]
    Scale(u8),
}

/// A parsed decimal: the mantissa at the asked scale and the number of fractional digits the
/// string carried (the venue's own display decimals, trailing zeros included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// value × 10^scale.
    pub mantissa: i64,
    /// Digits after the dot in the source string.
    pub decimals: u8,
}

/// Eight ASCII digits at once (first digit in the lowest byte), or `None` if any byte is not
/// a digit. Lemire's SWAR method.
#[inline(always)]
fn eight_digits(b: &[u8]) -> Option<u64> {
    let v = u64::from_le_bytes(b.get(..8)?.try_into().ok()?);
    let all_digits = ((v & 0xF0F0_F0F0_F0F0_F0F0)
        | ((v.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4))
        == 0x3333_3333_3333_3333;
    if !all_digits {
        return None;
    }
    let v = v - 0x3030_3030_3030_3030;
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul((100 << 16) + 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    Some((v.wrapping_mul((10_000 << 32) + 1) >> 32) & 0xFFFF_FFFF)
}

/// Parse an unsigned decimal string (`"123"`, `"0.001"`, `"61837.63000000"`) into a mantissa at
/// `scale` decimals. Fractional digits beyond `scale` are accepted only when they are zeros.
///
/// # Errors
/// [`DecimalError`] on an empty string, any byte but digits and a single dot (so no sign, no
/// exponent, no whitespace), a missing digit on either side of the dot, non-zero digits beyond
/// `scale`, or a mantissa above `i64::MAX`.
#[inline]
pub fn parse_decimal(s: &[u8], scale: u8) -> Result<Decimal, DecimalError> {
    if scale > 18 {
        return Err(DecimalError::Scale(scale));
    }
    let mut i = 0usize;
    let mut int: u64 = 0;
    // Integer part: at most 19 digits fit a u64 without checks; use checked ops throughout.
    while i < s.len() {
        let c = s[i];
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        int = int
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(DecimalError::Overflow)?;
        i += 1;
    }
    if i == 0 {
        return Err(match s.first() {
            None => DecimalError::Empty,
            Some(b'.') if s.len() == 1 => DecimalError::Empty,
            Some(&c) => DecimalError::BadByte(c),
        });
    }
    let mut frac: u64 = 0;
    let mut nfrac: usize = 0;
    if i < s.len() {
        if s[i] != b'.' {
            return Err(DecimalError::BadByte(s[i]));
        }
        i += 1;
        let start = i;
        // Fast path: eight fractional digits at once while they fit the scale.
        while nfrac + 8 <= scale as usize {
            match eight_digits(&s[i..]) {
                Some(v) => {
                    frac = frac * 100_000_000 + v;
                    nfrac += 8;
                    i += 8;
                }
                None => break,
            }
        }
        while i < s.len() {
            let c = s[i];
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return Err(DecimalError::BadByte(c));
            }
            if nfrac < scale as usize {
                frac = frac * 10 + u64::from(d);
                nfrac += 1;
            } else if d != 0 {
                return Err(DecimalError::TooPrecise(scale));
            }
            i += 1;
        }
        if i == start {
            return Err(DecimalError::Empty);
        }
        let decimals = i - start;
        let m = scaled(int, frac, nfrac, scale)?;
        return Ok(Decimal {
            mantissa: m,
            decimals: decimals.min(255) as u8,
        });
    }
    Ok(Decimal {
        mantissa: scaled(int, 0, 0, scale)?,
        decimals: 0,
    })
}

#[inline]
fn scaled(int: u64, frac: u64, nfrac: usize, scale: u8) -> Result<i64, DecimalError> {
    let scale = scale as usize;
    let m = int
        .checked_mul(POW10[scale] as u64)
        .and_then(|v| v.checked_add(frac * POW10[scale - nfrac] as u64))
        .ok_or(DecimalError::Overflow)?;
    i64::try_from(m).map_err(|_| DecimalError::Overflow)
}

/// Append `mantissa` × 10^-`scale` to `out` with exactly `decimals` fractional digits, except that
/// non-zero digits are never dropped (so `decimals < scale` only trims zeros). Negative mantissas
/// get a leading `-`.
pub fn write_decimal(out: &mut Vec<u8>, mantissa: i64, scale: u8, decimals: u8) {
    let scale = scale.min(18) as usize;
    let neg = mantissa < 0;
    let m = mantissa.unsigned_abs();
    let p = POW10[scale] as u64;
    let int = m / p;
    let mut frac = m % p;
    if neg {
        out.push(b'-');
    }
    write_u64(out, int);
    // Fractional digits at `scale`, most significant first.
    let mut digits = [b'0'; 18];
    for k in (0..scale).rev() {
        digits[k] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    let mut n = scale;
    while n > decimals as usize && digits[n - 1] == b'0' {
        n -= 1;
    }
    let total = n.max(decimals as usize);
    if total == 0 {
        return;
    }
    out.push(b'.');
    out.extend_from_slice(&digits[..n]);
    for _ in n..total {
        out.push(b'0');
    }
}

/// Append the decimal digits of `v` to `out` (no allocation).
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Number of fractional digits in a decimal string (0 without a dot). For display only.
#[must_use]
pub fn frac_digits(s: &[u8]) -> u8 {
    match s.iter().position(|&c| c == b'.') {
        Some(p) => (s.len() - p - 1).min(255) as u8,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str, scale: u8) -> Result<i64, DecimalError> {
        parse_decimal(s.as_bytes(), scale).map(|d| d.mantissa)
    }

    fn w(m: i64, scale: u8, dec: u8) -> String {
        let mut v = Vec::new();
        write_decimal(&mut v, m, scale, dec);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn parses_venue_strings() {
        assert_eq!(p("61837.63000000", 8), Ok(6_183_763_000_000));
        assert_eq!(p("0.00000100", 8), Ok(100));
        assert_eq!(p("7.6110", 4), Ok(76_110));
        assert_eq!(p("297", 0), Ok(297));
        assert_eq!(p("297", 3), Ok(297_000));
        assert_eq!(p("0", 8), Ok(0));
        assert_eq!(p("1.50000000000", 2), Ok(150));
        assert_eq!(parse_decimal(b"61837.63000000", 8).unwrap().decimals, 8);
    }

    #[test]
    fn rejects_what_is_not_an_exact_unsigned_decimal() {
        assert_eq!(p("", 8), Err(DecimalError::Empty));
        assert_eq!(p(".", 8), Err(DecimalError::Empty));
        assert_eq!(p("1.", 8), Err(DecimalError::Empty));
        assert_eq!(p(".5", 8), Err(DecimalError::BadByte(b'.')));
        assert_eq!(p("-1", 8), Err(DecimalError::BadByte(b'-')));
        assert_eq!(p("+1", 8), Err(DecimalError::BadByte(b'+')));
        assert_eq!(p("1e5", 8), Err(DecimalError::BadByte(b'e')));
        assert_eq!(p("1.0e5", 8), Err(DecimalError::BadByte(b'e')));
        assert_eq!(p("1.2.3", 8), Err(DecimalError::BadByte(b'.')));
        assert_eq!(p(" 1", 8), Err(DecimalError::BadByte(b' ')));
        assert_eq!(p("0.001", 2), Err(DecimalError::TooPrecise(2)));
        assert_eq!(p("92233720368.54775808", 8), Err(DecimalError::Overflow));
        assert_eq!(p("92233720368.54775807", 8), Ok(i64::MAX));
        assert_eq!(p("99999999999999999999999", 0), Err(DecimalError::Overflow));
        assert_eq!(p("1", 19), Err(DecimalError::Scale(19)));
    }

    #[test]
    fn eight_digit_fast_path() {
        assert_eq!(eight_digits(b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(b"00000001x"), Some(1));
        assert_eq!(eight_digits(b"99999999"), Some(99_999_999));
        assert_eq!(eight_digits(b"1234567"), None);
        for bad in [
            *b"1234567/",
            *b"1234567:",
            *b"123.5678",
            [0xff, b'2', b'3', b'4', b'5', b'6', b'7', b'8'],
            *b"12 45678",
        ] {
            assert_eq!(eight_digits(&bad), None, "{bad:?}");
        }
        assert_eq!(p("1.12345678", 8), Ok(112_345_678));
        assert_eq!(p("1.1234567890", 10), Ok(11_234_567_890));
        assert_eq!(p("1.123456789000", 9), Ok(1_123_456_789));
        assert_eq!(p("0.1234567812345678", 16), Ok(1_234_567_812_345_678));
    }

    #[test]
    fn writes_with_venue_decimals() {
        assert_eq!(w(6_183_763_000_000, 8, 8), "61837.63000000");
        assert_eq!(w(6_183_763_000_000, 8, 2), "61837.63");
        assert_eq!(w(6_183_763_000_000, 8, 0), "61837.63");
        assert_eq!(w(76_110, 8, 4), "0.0007611"); // never drops non-zero digits
        assert_eq!(w(76_110_000, 8, 4), "0.7611");
        assert_eq!(w(297, 0, 0), "297");
        assert_eq!(w(297, 0, 2), "297.00");
        assert_eq!(w(-150, 2, 2), "-1.50");
        assert_eq!(w(i64::MIN, 0, 0), "-9223372036854775808");
    }

    proptest! {
        #[test]
        fn roundtrip(m in 0i64..i64::MAX, scale in 0u8..=18, extra in 0u8..4) {
            let mut v = Vec::new();
            write_decimal(&mut v, m, scale, scale + extra);
            let d = parse_decimal(&v, scale).unwrap();
            prop_assert_eq!(d.mantissa, m);
            prop_assert_eq!(d.decimals, if scale + extra == 0 { 0 } else { scale + extra });
        }

        #[test]
        fn never_panics_and_agrees_with_i128(s in "[0-9.eE+ -]{0,30}", scale in 0u8..=20) {
            let r = parse_decimal(s.as_bytes(), scale);
            // Reference: i128 arithmetic on the same grammar.
            let ok_grammar = {
                let parts: Vec<&str> = s.split('.').collect();
                !s.is_empty() && parts.len() <= 2 && !parts[0].is_empty()
                    && parts.iter().all(|p| p.bytes().all(|c| c.is_ascii_digit()))
                    && (parts.len() == 1 || !parts[1].is_empty())
            };
            if scale > 18 {
                prop_assert_eq!(r, Err(DecimalError::Scale(scale)));
            } else if !ok_grammar {
                prop_assert!(r.is_err());
            } else {
                let parts: Vec<&str> = s.split('.').collect();
                let frac = parts.get(1).copied().unwrap_or("");
                let (keep, drop) = frac.split_at(frac.len().min(scale as usize));
                let int_overflows = parts[0].trim_start_matches('0').len() > 20
                    || parts[0].parse::<u128>().is_ok_and(|v| v > u128::from(u64::MAX));
                let reference: Option<i128> = if int_overflows {
                    Some(-1)
                } else if drop.bytes().any(|c| c != b'0') {
                    None
                } else {
                    let digits = format!("{}{}{}", parts[0], keep, "0".repeat(scale as usize - keep.len()));
                    match digits.trim_start_matches('0').len() {
                        0 => Some(0),
                        n if n > 19 => Some(-1),
                        _ => {
                            let v: i128 = digits.parse().unwrap();
                            if v > i128::from(i64::MAX) { Some(-1) } else { Some(v) }
                        }
                    }
                };
                match reference {
                    None => prop_assert_eq!(r, Err(DecimalError::TooPrecise(scale))),
                    Some(-1) => prop_assert_eq!(r, Err(DecimalError::Overflow)),
                    Some(v) => prop_assert_eq!(r.map(|d| i128::from(d.mantissa)), Ok(v)),
                }
            }
        }
    }
}
