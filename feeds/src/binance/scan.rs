//! Schema-specific scanner for the frames Binance actually sends: compact JSON (no whitespace),
//! the combined envelope `{"stream":"…","data":{…}}` or a bare payload, plain ASCII strings.
//!
//! It validates the whole frame as strict JSON while reading it, records the fields Ballast uses
//! and returns `None` for anything it is not certain about: whitespace, escapes, non-ASCII,
//! duplicate known keys, a known key of an unexpected type, numbers that are not plain `u64`,
//! missing fields, nesting deeper than 32. The caller then runs the serde parser, which is the
//! reference, so the scanner only ever has to agree with serde on frames it accepts.

use std::borrow::Cow;

use super::parse::{Kind, LevelSpans, Parsed};

const MAX_DEPTH: u32 = 32;

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    #[inline(always)]
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + s.len()) == Some(s) {
            self.i += s.len();
            Some(())
        } else {
            None
        }
    }

    /// A string without escapes, control or non-ASCII bytes; returns its contents' span.
    #[inline(always)]
    fn string(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.i;
        let rest = self.b.get(start..)?;
        let mut k = 0;
        // Eight bytes at a time: flag quotes, backslashes, control and non-ASCII bytes; the
        // lowest flag is exact (the bit tricks only over-report above a true hit).
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        while k + 8 <= rest.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&rest[k..k + 8]);
            let v = u64::from_le_bytes(w);
            let q = v ^ (ONES * u64::from(b'"'));
            let bs = v ^ (ONES * u64::from(b'\\'));
            let flags = (q.wrapping_sub(ONES) & !q)
                | (bs.wrapping_sub(ONES) & !bs)
                | (v.wrapping_sub(ONES * 0x20) & !v)
                | v;
            let flags = flags & HIGH;
            if flags != 0 {
                let at = k + (flags.trailing_zeros() / 8) as usize;
                if rest[at] == b'"' {
                    self.i = start + at + 1;
                    return Some((start, start + at));
                }
                return None;
            }
            k += 8;
        }
        while k < rest.len() {
            let c = rest[k];
            if c == b'"' {
                self.i = start + k + 1;
                return Some((start, start + k));
            }
            if c == b'\\' || !(0x20..0x80).contains(&c) {
                return None;
            }
            k += 1;
        }
        None
    }

    /// A plain unsigned integer that fits a `u64`, not followed by a fraction or exponent.
    #[inline(always)]
    fn uint(&mut self) -> Option<u64> {
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return None;
        }
        let start = self.i;
        let digits = &self.b[start..];
        let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
        if n > 20 || (first == b'0' && n > 1) {
            return None;
        }
        // Up to 19 digits cannot overflow a u64; the 20th is checked.
        let mut v: u64 = 0;
        for &c in &digits[..n.min(19)] {
            v = v * 10 + u64::from(c - b'0');
        }
        if n == 20 {
            v = v
                .checked_mul(10)?
                .checked_add(u64::from(digits[19] - b'0'))?;
        }
        self.i += n;
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(v),
        }
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.lit(b"true").is_some() {
            Some(true)
        } else if self.lit(b"false").is_some() {
            Some(false)
        } else {
            None
        }
    }

    /// Any strict-JSON number.
    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if self.eat(b'.').is_some() {
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    fn digits(&mut self) -> Option<()> {
        let s = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        (self.i > s).then_some(())
    }

    /// Skip any JSON value (strictly, compact).
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => {
                self.i += 1;
                if self.eat(b'}').is_some() {
                    return Some(());
                }
                loop {
                    self.string()?;
                    self.eat(b':')?;
                    self.skip_value(depth + 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.lit(b"true"),
            b'f' => self.lit(b"false"),
            b'n' => self.lit(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// `[["px","qty"],…]` into `out` as offsets.
    #[inline]
    fn levels(&mut self, out: &mut Vec<[u32; 4]>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.eat(b'[')?;
            let (a, b) = self.string()?;
            self.eat(b',')?;
            let (c, d) = self.string()?;
            self.eat(b']')?;
            out.push([a as u32, b as u32, c as u32, d as u32]);
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// A known key's value.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Val {
    #[default]
    Absent,
    Str(usize, usize),
    Num(u64),
    Bool(bool),
    /// Level array (recorded in the spans).
    Levels,
}

#[derive(Default)]
struct Slots {
    e: Val,
    big_e: Val,
    s: Val,
    u: Val,
    big_u: Val,
    pu: Val,
    b: Val,
    big_b: Val,
    a: Val,
    big_a: Val,
    t: Val,
    p: Val,
    q: Val,
    m: Val,
    last_update_id: Val,
    symbol: Val,
    bids: Val,
    asks: Val,
}

#[inline(always)]
fn set(slot: &mut Val, v: Val) -> Option<()> {
    if *slot != Val::Absent {
        return None; // duplicate key: let serde decide
    }
    *slot = v;
    Some(())
}

/// Scan a frame. `None` means "not certain": run the serde parser instead.
pub(crate) fn scan<'a>(f: &'a [u8], spans: &mut LevelSpans) -> Option<Parsed<'a>> {
    spans.clear();
    let mut c = Cur { b: f, i: 0 };
    let parsed = if c.lit(b"{\"stream\":").is_some() {
        c.string()?;
        c.lit(b",\"data\":")?;
        let p = payload(&mut c, spans)?;
        c.eat(b'}')?;
        p
    } else {
        payload(&mut c, spans)?
    };
    if c.i != f.len() {
        return None;
    }
    Some(parsed)
}

#[inline]
fn payload<'a>(c: &mut Cur<'a>, spans: &mut LevelSpans) -> Option<Parsed<'a>> {
    let f = c.b;
    c.eat(b'{')?;
    let mut s = Slots::default();
    if c.eat(b'}').is_none() {
        loop {
            let (ks, ke) = c.string()?;
            c.eat(b':')?;
            match &f[ks..ke] {
                b"e" => set(&mut s.e, str_val(c)?)?,
                b"E" => set(&mut s.big_e, Val::Num(c.uint()?))?,
                b"s" => set(&mut s.s, str_val(c)?)?,
                b"u" => set(&mut s.u, Val::Num(c.uint()?))?,
                b"U" => set(&mut s.big_u, Val::Num(c.uint()?))?,
                b"pu" => set(&mut s.pu, Val::Num(c.uint()?))?,
                b"b" => set(&mut s.b, str_num_or_levels(c, &mut spans.bids)?)?,
                b"a" => set(&mut s.a, str_num_or_levels(c, &mut spans.asks)?)?,
                b"B" => set(&mut s.big_b, str_val(c)?)?,
                b"A" => set(&mut s.big_a, str_val(c)?)?,
                b"t" => set(&mut s.t, Val::Num(c.uint()?))?,
                b"p" => set(&mut s.p, str_val(c)?)?,
                b"q" => set(&mut s.q, str_val(c)?)?,
                b"m" => set(&mut s.m, Val::Bool(c.boolean()?))?,
                b"lastUpdateId" => set(&mut s.last_update_id, Val::Num(c.uint()?))?,
                b"symbol" => set(&mut s.symbol, str_val(c)?)?,
                b"bids" => {
                    c.levels(&mut spans.bids)?;
                    set(&mut s.bids, Val::Levels)?;
                }
                b"asks" => {
                    c.levels(&mut spans.asks)?;
                    set(&mut s.asks, Val::Levels)?;
                }
                // A nested envelope key: serde's probe would read it; not a Binance payload.
                b"data" | b"stream" => return None,
                _ => c.skip_value(1)?,
            }
            match c.peek()? {
                b',' => c.i += 1,
                b'}' => {
                    c.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    let e = match s.e {
        Val::Str(a, b) => Some(&f[a..b]),
        _ => None,
    };
    let kind = Kind::decide(s.last_update_id != Val::Absent, e, s.u != Val::Absent);
    let st = |v: Val| match v {
        Val::Str(a, b) => Some(Cow::Borrowed(&f[a..b])),
        _ => None,
    };
    let sym = |v: Val| match v {
        // ASCII-only by construction of `string`.
        Val::Str(a, b) => std::str::from_utf8(&f[a..b]).ok().map(Cow::Borrowed),
        _ => None,
    };
    let num = |v: Val| match v {
        Val::Num(n) => Some(n),
        _ => None,
    };
    let opt_num = |v: Val| match v {
        Val::Num(n) => Some(Some(n)),
        Val::Absent => Some(None),
        _ => None,
    };
    let boolean = |v: Val| match v {
        Val::Bool(x) => Some(x),
        _ => None,
    };
    Some(match kind {
        Kind::Ignored => Parsed::Ignored,
        Kind::BookTicker => Parsed::BookTicker {
            symbol: sym(s.s)?,
            update_id: num(s.u)?,
            event_ms: opt_num(s.big_e)?,
            bid_px: st(s.b)?,
            bid_qty: st(s.big_b)?,
            ask_px: st(s.a)?,
            ask_qty: st(s.big_a)?,
        },
        Kind::Trade => Parsed::Trade {
            symbol: sym(s.s)?,
            event_ms: num(s.big_e)?,
            id: num(s.t)?,
            px: st(s.p)?,
            qty: st(s.q)?,
            buyer_is_maker: boolean(s.m)?,
        },
        Kind::AggTrade => Parsed::Trade {
            symbol: sym(s.s)?,
            event_ms: num(s.big_e)?,
            id: num(s.a)?,
            px: st(s.p)?,
            qty: st(s.q)?,
            buyer_is_maker: boolean(s.m)?,
        },
        Kind::Depth => {
            if s.b != Val::Levels
                || s.a != Val::Levels
                || s.bids != Val::Absent
                || s.asks != Val::Absent
            {
                return None;
            }
            Parsed::Depth {
                symbol: sym(s.s)?,
                event_ms: num(s.big_e)?,
                first_id: num(s.big_u)?,
                final_id: num(s.u)?,
                prev_final_id: opt_num(s.pu)?,
            }
        }
        Kind::Snapshot => {
            if s.bids != Val::Levels
                || s.asks != Val::Levels
                || s.b == Val::Levels
                || s.a == Val::Levels
            {
                return None;
            }
            Parsed::Snapshot {
                symbol: match s.symbol {
                    Val::Absent => None,
                    v => Some(sym(v)?),
                },
                last_update_id: num(s.last_update_id)?,
                event_ms: opt_num(s.big_e)?,
            }
        }
    })
}

#[inline(always)]
fn str_val(c: &mut Cur<'_>) -> Option<Val> {
    let (a, b) = c.string()?;
    Some(Val::Str(a, b))
}

#[inline(always)]
fn str_num_or_levels(c: &mut Cur<'_>, out: &mut Vec<[u32; 4]>) -> Option<Val> {
    match c.peek()? {
        b'"' => str_val(c),
        b'[' => {
            c.levels(out)?;
            Some(Val::Levels)
        }
        _ => Some(Val::Num(c.uint()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uint(s: &str) -> Option<u64> {
        let mut c = Cur {
            b: s.as_bytes(),
            i: 0,
        };
        c.uint()
    }

    #[test]
    fn uint_edges() {
        assert_eq!(uint("0"), Some(0));
        assert_eq!(uint("0,"), Some(0));
        assert_eq!(uint("01"), None);
        assert_eq!(uint("18446744073709551615}"), Some(u64::MAX));
        assert_eq!(uint("18446744073709551616"), None);
        assert_eq!(uint("99999999999999999999"), None);
        assert_eq!(uint("9999999999999999999"), Some(9_999_999_999_999_999_999));
        assert_eq!(uint("123456789012345678901"), None);
        assert_eq!(uint("1.5"), None);
        assert_eq!(uint("1e5"), None);
        assert_eq!(uint("-1"), None);
        assert_eq!(uint(""), None);
    }

    #[test]
    fn string_edges() {
        let mut c = Cur {
            b: br#""abcdefghijklmnop","#,
            i: 0,
        };
        assert_eq!(c.string(), Some((1, 17)));
        for bad in [
            &br#""abcdefgh\"ijk""#[..],
            b"\"abcdefghij\x01k\"",
            "\"abcdefghijé\"".as_bytes(),
            b"\"abcdefghijk",
        ] {
            let mut c = Cur { b: bad, i: 0 };
            assert_eq!(c.string(), None, "{:?}", String::from_utf8_lossy(bad));
        }
        let mut c = Cur { b: b"\"\"", i: 0 };
        assert_eq!(c.string(), Some((1, 1)));
    }
}
