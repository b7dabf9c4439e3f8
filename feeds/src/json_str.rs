//! JSON string values read in place: the bytes between the quotes, escapes decoded on demand
//! (piece by piece, into a fixed buffer, or appended to a reused `Vec`) without allocating. Used
//! by the execution adapters' answer parsing and the cryptofeed capture reader.

/// A JSON string value as it sits in the frame: the bytes between its quotes, escapes not yet
/// decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a>(&'a [u8]);

impl<'a> JsonStr<'a> {
    /// The string held by the raw JSON value `v` (quotes included, as the walker hands values
    /// out); `None` for any other value.
    #[must_use]
    pub fn of(v: &'a [u8]) -> Option<Self> {
        let inner = v.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        Some(Self(inner))
    }

    /// The string whose contents between the quotes are `inner` (escapes not decoded).
    #[must_use]
    pub fn from_inner(inner: &'a [u8]) -> Self {
        Self(inner)
    }

    /// The raw contents (escapes not decoded).
    #[must_use]
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Hands the decoded contents to `f` piece by piece (runs without escapes as they are, each
    /// escape decoded to its UTF-8 bytes). `None` when an escape is invalid (unknown, cut short,
    /// a lone surrogate) or `f` returned `None`.
    pub fn pieces(&self, mut f: impl FnMut(&[u8]) -> Option<()>) -> Option<()> {
        let s = self.0;
        let mut i = 0;
        while i < s.len() {
            let esc = s[i..]
                .iter()
                .position(|&c| c == b'\\')
                .map_or(s.len(), |k| i + k);
            if esc > i {
                f(&s[i..esc])?;
            }
            if esc == s.len() {
                break;
            }
            i = esc + 2;
            let one = match *s.get(esc + 1)? {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 8,
                b'f' => 12,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let hi = hex4(s.get(i..i + 4)?)?;
                    i += 4;
                    let cp = match hi {
                        0xD800..=0xDBFF => {
                            if s.get(i..i + 2)? != b"\\u" {
                                return None;
                            }
                            let lo = hex4(s.get(i + 2..i + 6)?)?;
                            if !(0xDC00..=0xDFFF).contains(&lo) {
                                return None;
                            }
                            i += 6;
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        }
                        0xDC00..=0xDFFF => return None,
                        _ => hi,
                    };
                    let mut b = [0u8; 4];
                    f(char::from_u32(cp)?.encode_utf8(&mut b).as_bytes())?;
                    continue;
                }
                _ => return None,
            };
            f(&[one])?;
        }
        Some(())
    }

    /// Whether the decoded string is `want`.
    #[must_use]
    pub fn is(&self, want: &[u8]) -> bool {
        if !self.0.contains(&b'\\') {
            return self.0 == want;
        }
        let mut at = 0;
        self.pieces(|p| {
            let end = at + p.len();
            (want.get(at..end)? == p).then(|| at = end)
        })
        .is_some()
            && at == want.len()
    }

    /// The decoded string: borrowed from the frame when it has no escapes, else decoded into
    /// `buf`. `None` when an escape is invalid or the decoded string does not fit `buf`.
    pub fn decode_into<'b, const N: usize>(&self, buf: &'b mut [u8; N]) -> Option<&'b [u8]>
    where
        'a: 'b,
    {
        if !self.0.contains(&b'\\') {
            return Some(self.0);
        }
        let mut n = 0;
        self.pieces(|p| {
            buf.get_mut(n..n + p.len())?.copy_from_slice(p);
            n += p.len();
            Some(())
        })?;
        Some(&buf[..n])
    }

    /// Appends the decoded string to `out` (which grows only past its capacity). `None` when an
    /// escape is invalid; `out` then holds a partial decode.
    pub fn decode_append(&self, out: &mut Vec<u8>) -> Option<()> {
        if !self.0.contains(&b'\\') {
            out.extend_from_slice(self.0);
            return Some(());
        }
        self.pieces(|p| {
            out.extend_from_slice(p);
            Some(())
        })
    }

    /// The decoded string, owned, invalid UTF-8 replaced (error messages at start-up; this one
    /// allocates).
    #[must_use]
    pub fn to_string_lossy(&self) -> String {
        let mut v = Vec::with_capacity(self.0.len());
        let ok = self.pieces(|p| {
            v.extend_from_slice(p);
            Some(())
        });
        if ok.is_none() {
            v.clear();
            v.extend_from_slice(self.0);
        }
        String::from_utf8_lossy(&v).into_owned()
    }
}

fn hex4(h: &[u8]) -> Option<u32> {
    h.iter().try_fold(0u32, |acc, &c| {
        let d = char::from(c).to_digit(16)?;
        Some(acc << 4 | d)
    })
}
