//! HMAC-SHA256 request signing (Binance `signature`), off the allocator and with the key schedule
//! done once.
//!
//! `sha2` picks the CPU's SHA extensions at run time (x86 SHA-NI) when present; the keyed inner and
//! outer states are computed once in [`HmacSigner::new`] and cloned per signature, so a signature
//! costs two compression calls over the payload plus two for the pads' continuation.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A signer holding the keyed HMAC-SHA256 state. `Debug` never shows the key.
#[derive(Clone)]
pub struct HmacSigner {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSigner(<secret>)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl HmacSigner {
    /// A signer for `secret` (any length; HMAC hashes long keys).
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        // `new_from_slice` accepts keys of every length for HMAC; the error arm cannot happen.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| {
            <Hmac<Sha256> as Mac>::new_from_slice(&[]).expect("empty HMAC key")
        });
        Self { keyed }
    }

    /// The raw 32-byte MAC of `payload`.
    #[must_use]
    pub fn mac(&self, payload: &[u8]) -> [u8; 32] {
        let mut m = self.keyed.clone();
        m.update(payload);
        m.finalize().into_bytes().into()
    }

    /// The lowercase hex MAC of `payload` (what Binance expects in `signature`), no allocation.
    #[must_use]
    pub fn sign_hex(&self, payload: &[u8]) -> [u8; 64] {
        let mac = self.mac(payload);
        let mut out = [0u8; 64];
        for (i, b) in mac.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 15) as usize];
        }
        out
    }
}

/// HMAC-SHA256 of `payload` under `secret` keyed from scratch each call (the naive way: the key
/// schedule is redone per signature). For the bench's baseline.
#[must_use]
pub fn sign_hex_unkeyed(secret: &[u8], payload: &[u8]) -> [u8; 64] {
    HmacSigner::new(secret).sign_hex(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's documented signed-request example (VENUES.md; Binance API docs, "SIGNED endpoint
    /// examples").
    #[test]
    fn binance_documented_example() {
        let secret = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let payload = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let s = HmacSigner::new(secret).sign_hex(payload);
        assert_eq!(
            std::str::from_utf8(&s).unwrap(),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert_eq!(sign_hex_unkeyed(secret, payload), s);
    }

    /// RFC 4231 test case 2 (key shorter than a block) and 6 (key longer than a block).
    #[test]
    fn rfc4231() {
        let s = HmacSigner::new(b"Jefe").sign_hex(b"what do ya want for nothing?");
        assert_eq!(
            std::str::from_utf8(&s).unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let s = HmacSigner::new(&[0xaa; 131])
            .sign_hex(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            std::str::from_utf8(&s).unwrap(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn debug_hides_key() {
        assert_eq!(
            format!("{:?}", HmacSigner::new(b"k")),
            "HmacSigner(<secret>)"
        );
    }
}
