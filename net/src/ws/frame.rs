//! Websocket framing (RFC 6455 5.2): the opcodes and the masked client frames.

pub(super) const OP_CONT: u8 = 0x0;
pub(super) const OP_TEXT: u8 = 0x1;
pub(super) const OP_BINARY: u8 = 0x2;
pub(super) const OP_CLOSE: u8 = 0x8;
pub(super) const OP_PING: u8 = 0x9;
pub(super) const OP_PONG: u8 = 0xA;

/// Appends the masked client frame of `payload` with `opcode` to `out` (RFC 6455 5.2: FIN, the
/// opcode, the mask bit, a 7/16/64-bit length, the masking key, then the payload XORed with it).
pub fn encode_client_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | (opcode & 0x0f));
    let n = payload.len();
    if n < 126 {
        // n < 126: fits the 7-bit length.
        out.push(0x80 | n as u8);
    } else if let Ok(n16) = u16::try_from(n) {
        out.push(0x80 | 126);
        out.extend_from_slice(&n16.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    // Eight bytes at a time (the mask repeated twice), then the tail byte by byte.
    let m8 = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let body = &mut out[start..];
    let mut chunks = body.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ m8).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        // The remainder starts at a multiple of 8, so mask index i & 3 still lines up.
        *b ^= mask[i & 3];
    }
}

/// Appends the masked client text frame of `payload` to `out` ([`encode_client_frame`] with the
/// text opcode).
pub fn encode_client_text_frame(out: &mut Vec<u8>, payload: &[u8], mask: [u8; 4]) {
    encode_client_frame(out, OP_TEXT, payload, mask);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame unmasks to the payload at every length class (7-bit, 16-bit, 64-bit) and at
    /// every tail length of the 8-byte masking.
    #[test]
    fn client_frames() {
        for n in [
            0usize, 1, 7, 8, 9, 125, 126, 127, 1000, 65_535, 65_536, 70_001,
        ] {
            let payload: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            let mask = [0x12, 0x9a, 0x00, 0xff];
            let mut f = vec![0xee];
            encode_client_text_frame(&mut f, &payload, mask);
            let f = &f[1..];
            assert_eq!(f[0], 0x81);
            assert_eq!(f[1] & 0x80, 0x80);
            let (len, at) = match f[1] & 0x7f {
                126 => (usize::from(u16::from_be_bytes([f[2], f[3]])), 4),
                127 => (
                    usize::try_from(u64::from_be_bytes(f[2..10].try_into().unwrap())).unwrap(),
                    10,
                ),
                l => (usize::from(l), 2),
            };
            assert_eq!(len, n);
            assert_eq!(&f[at..at + 4], &mask);
            let body: Vec<u8> = f[at + 4..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(body, payload, "length {n}");
        }
    }
}
