//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// Add `data` to a running one's-complement sum (not yet folded).
pub fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

/// Fold a running sum and complement it.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// `in_cksum`: the checksum of `data`.
pub fn in_cksum(data: &[u8]) -> u16 {
    fold(sum(0, data))
}

/// The pseudo-header sum of UDP and TCP (RFC 768, RFC 9293 §3.1).
pub fn pseudo(src: [u8; 4], dst: [u8; 4], proto: u8, len: u16) -> u32 {
    sum(0, &src) + sum(0, &dst) + proto as u32 + len as u32
}

/// RFC 1624 eqn. 3: the new checksum when one 16-bit word changes from
/// `old` to `new`.
pub fn adjust(cksum: u16, old: u16, new: u16) -> u16 {
    let s = (!cksum as u32) + (!old as u32 & 0xffff) + new as u32;
    fold(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_and_incremental_update() {
        // An IPv4 header with its checksum (0xb861) in place verifies to 0.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(in_cksum(&h), 0);
        // Decrement the TTL and update incrementally: same as recomputing.
        let old = u16::from_be_bytes([h[8], h[9]]);
        h[8] -= 1;
        let new = u16::from_be_bytes([h[8], h[9]]);
        let c = adjust(u16::from_be_bytes([h[10], h[11]]), old, new);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(in_cksum(&h), 0);
        h[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(in_cksum(&h), c);
        assert_eq!(in_cksum(&[0xff]), !0xff00);
    }
}
