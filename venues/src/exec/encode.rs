//! Request encoding for the order path: JSON pieces written into a buffer reused across orders,
//! with no allocation once the buffer has grown to its working size. Decimals print exactly from
//! their mantissa and scale ([`feeds::write_decimal`]); integers through
//! [`feeds::decimal::write_u64`]; nothing goes through floating point.

use feeds::decimal::write_u64;
use feeds::write_decimal;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string (quoted; `"`, `\` and control characters escaped).
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    json_str_body(out, s);
    out.push(b'"');
}

/// Appends `s` escaped for the inside of a JSON string (no quotes).
pub fn json_str_body(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
        // The usual case (symbols, keys, method names): one copy.
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
}

/// Appends the exact decimal `mantissa` × 10^-`scale` (shortest form: `10`, `0.002`, `60000.5`).
pub fn decimal(out: &mut Vec<u8>, mantissa: i64, scale: u8) {
    write_decimal(out, mantissa, scale, 0);
}

/// Appends `v` in decimal.
pub fn uint(out: &mut Vec<u8>, v: u64) {
    write_u64(out, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape() {
        let mut o = Vec::new();
        json_str(&mut o, "a\"b\\c\n\u{1}é");
        assert_eq!(
            serde_json::from_slice::<String>(&o).unwrap(),
            "a\"b\\c\n\u{1}é"
        );
    }

    #[test]
    fn decimals_exact() {
        let mut o = Vec::new();
        for (m, s, want) in [
            (1_000_000_000i64, 8u8, "10"),
            (200_000, 8, "0.002"),
            (6_000_050_000_000, 8, "60000.5"),
            (-5, 1, "-0.5"),
            (0, 8, "0"),
            (i64::MAX, 18, "9.223372036854775807"),
        ] {
            o.clear();
            decimal(&mut o, m, s);
            assert_eq!(std::str::from_utf8(&o).unwrap(), want);
        }
        o.clear();
        uint(&mut o, u64::MAX);
        assert_eq!(o, u64::MAX.to_string().as_bytes());
    }
}
