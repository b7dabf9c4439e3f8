//! Ed25519 signature check of Binance `session.logon` (signature base64 over the payload).

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

/// Whether `sig_b64` (standard base64 of 64 bytes) is a valid Ed25519 signature of `msg` under
/// the public key `pk`.
pub(super) fn verify_b64(pk: &[u8; 32], msg: &[u8], sig_b64: &str) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(pk) else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(sig_b64) else {
        return false;
    };
    let Ok(bytes) = <[u8; 64]>::try_from(raw.as_slice()) else {
        return false;
    };
    key.verify(msg, &Signature::from_bytes(&bytes)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn verifies_own_signature_and_rejects_others() {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let pk = sk.verifying_key().to_bytes();
        let msg = b"apiKey=k&timestamp=1";
        let sig = base64::engine::general_purpose::STANDARD.encode(sk.sign(msg).to_bytes());
        assert!(verify_b64(&pk, msg, &sig));
        assert!(!verify_b64(&pk, b"apiKey=k&timestamp=2", &sig));
        assert!(!verify_b64(&pk, msg, "not base64"));
        assert!(!verify_b64(&pk, msg, "AAAA"));
    }
}
