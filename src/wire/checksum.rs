//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624):
//! pure functions of bytes, for every layer.

use std::net::IpAddr;

/// Add `data` (starting at an even offset of what is summed) to a running
/// one's-complement sum, not yet folded. Eight bytes at a time: the sum of
/// 32-bit big-endian words folds to the same 16-bit sum (RFC 1071 §2).
pub fn sum(acc: u32, data: &[u8]) -> u32 {
    let mut a = acc as u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        a += (w >> 32) + (w & 0xffff_ffff);
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for c in &mut words {
        a += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [b] = words.remainder() {
        a += (*b as u64) << 8;
    }
    while a >> 32 != 0 {
        a = (a & 0xffff_ffff) + (a >> 32);
    }
    a as u32
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

/// The pseudo-header sum of UDP and TCP over IPv4 (RFC 768, RFC 9293
/// §3.1) or IPv6 (RFC 8200 §8.1: the 32-bit length folds to the same
/// sum), between `src` and `dst` of one family.
pub fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u32 {
    let addrs = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum(sum(0, &s.octets()), &d.octets()),
        (s, d) => sum(sum(0, &ip6_octets(s)), &ip6_octets(d)),
    };
    // Length and protocol as IPv6 lays them out; the same sum as IPv4's
    // zero, protocol and 16-bit length.
    let l = len.to_be_bytes();
    sum(addrs, &[l[0], l[1], l[2], l[3], 0, 0, 0, proto])
}

/// The 16 bytes of an address as the wire carries it (a zone the stack
/// embedded cleared), an IPv4 one mapped (RFC 4291 §2.5.5.2).
fn ip6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => super::ipv6::in6_clearscope(a).octets(),
    }
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

    #[test]
    fn wide_sum_agrees_with_sixteen_bit_words() {
        let mut x = 7u32;
        for len in 0..300 {
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let mut slow = 0u64;
            for c in d.chunks(2) {
                slow += ((c[0] as u64) << 8) | c.get(1).map_or(0, |&b| b as u64);
            }
            while slow > 0xffff {
                slow = (slow & 0xffff) + (slow >> 16);
            }
            assert_eq!(in_cksum(&d), !(slow as u16), "len {len}");
        }
    }
}
