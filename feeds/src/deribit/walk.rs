//! A minimal, allocation-free JSON structure walker for Deribit's envelopes: iterate an
//! object's entries as raw key bytes and value spans, string-aware, with bracket matching.
//! Leaf objects are then parsed by serde (tickers, trades) or by hand (book levels) from their
//! spans, so nothing goes through `serde_json::value::RawValue`, whose nested-value skipping
//! allocates a scratch stack per call.

/// Deepest nesting accepted inside one value.
const MAX_DEPTH: usize = 64;

/// Index of the first non-whitespace byte at or after `i`.
pub fn ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `s[i] == b'"'`.
fn skip_string(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match *s.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            c if c < 0x20 => return None,
            _ => j += 1,
        }
    }
}

/// End (exclusive) of the JSON value starting at `i` (no leading whitespace); `None` when it is
/// malformed or cut short. Brackets must match; scalars are checked only for their extent (their
/// consumers parse them).
pub fn skip_value(s: &[u8], i: usize) -> Option<usize> {
    match *s.get(i)? {
        b'"' => skip_string(s, i),
        b'{' | b'[' => {
            let mut stack = [0u8; MAX_DEPTH];
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *s.get(j)? {
                    b'"' => j = skip_string(s, j)?,
                    c @ (b'{' | b'[') => {
                        if depth == MAX_DEPTH {
                            return None;
                        }
                        stack[depth] = if c == b'{' { b'}' } else { b']' };
                        depth += 1;
                        j += 1;
                    }
                    c @ (b'}' | b']') => {
                        if depth == 0 || stack[depth - 1] != c {
                            return None;
                        }
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            return Some(j);
                        }
                    }
                    _ => j += 1,
                }
            }
        }
        _ => {
            let mut j = i;
            while j < s.len() && !matches!(s[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// Walks the object starting at `s[i] == b'{'`: for each entry calls `f(key, value_start)` (key
/// raw, without quotes), which reads or skips the value and returns where it ends, so a value the
/// caller wants is read as it is passed (one pass). Returns the end of the object; `None` when it
/// is malformed or `f` returned `None`.
pub fn object(
    s: &[u8],
    i: usize,
    mut f: impl FnMut(&[u8], usize) -> Option<usize>,
) -> Option<usize> {
    if s.get(i) != Some(&b'{') {
        return None;
    }
    let mut j = ws(s, i + 1);
    if s.get(j) == Some(&b'}') {
        return Some(j + 1);
    }
    loop {
        if s.get(j) != Some(&b'"') {
            return None;
        }
        let kend = skip_string(s, j)?;
        let key = &s[j + 1..kend - 1];
        j = ws(s, kend);
        if s.get(j) != Some(&b':') {
            return None;
        }
        let vend = f(key, ws(s, j + 1))?;
        j = ws(s, vend);
        match s.get(j)? {
            b',' => j = ws(s, j + 1),
            b'}' => return Some(j + 1),
            _ => return None,
        }
    }
}

/// Calls `f(key, value_start, value_end)` for each entry of the object starting at `s[i] ==
/// b'{'` (keys raw, without quotes; each value skipped first); returns the end of the object.
/// `None` when malformed.
pub fn entries(s: &[u8], i: usize, mut f: impl FnMut(&[u8], usize, usize)) -> Option<usize> {
    object(s, i, |key, v| {
        let vend = skip_value(s, v)?;
        f(key, v, vend);
        Some(vend)
    })
}

/// The contents of a string value without escapes (`None` for other values or escaped strings).
pub fn plain_str(s: &[u8]) -> Option<&str> {
    let inner = s.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if inner.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(inner).ok()
}

/// An unsigned integer value (`None` for anything else, including `null`).
pub fn uint(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn walks_objects() {
        let s = br#"{"a": {"x":[1,{"y":"}"}]}, "b":"q\"z" ,"c":12}"#;
        let mut keys = Vec::new();
        let end = entries(s, 0, |k, a, b| keys.push((k.to_vec(), s[a..b].to_vec()))).unwrap();
        assert_eq!(end, s.len());
        assert_eq!(keys[0].0, b"a");
        assert_eq!(keys[0].1, br#"{"x":[1,{"y":"}"}]}"#);
        assert_eq!(keys[1].1, br#""q\"z""#);
        assert_eq!(plain_str(&keys[1].1), None);
        assert_eq!(uint(&keys[2].1), Some(12));
        assert!(entries(br#"{"a":[1}"#, 0, |_, _, _| {}).is_none());
        assert!(entries(br#"{"a":1"#, 0, |_, _, _| {}).is_none());
        assert!(entries(br#"{"a" 1}"#, 0, |_, _, _| {}).is_none());
        assert_eq!(entries(b"{ }", 0, |_, _, _| {}), Some(3));
        assert_eq!(uint(b"null"), None);
        assert_eq!(uint(b"99999999999999999999"), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = entries(&s, 0, |_, _, _| {});
            let _ = skip_value(&s, 0);
        }
    }
}
