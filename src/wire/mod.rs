//! Packets as bytes: views and the checksum, below every layer (it
//! imports nothing of the stack).

pub mod arp;
pub mod bgp;
pub mod checksum;
pub mod ethernet;
pub mod gre;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ospf;
pub mod rip;
pub mod ripng;
pub mod tcp;
pub mod udp;

/// Bytes from hex (a test's captured packet).
#[cfg(test)]
fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A big-endian 16-bit field (the slice is the field's two bytes).
fn be16(d: &[u8]) -> u16 {
    u16::from_be_bytes([d[0], d[1]])
}

/// A big-endian 32-bit field (the slice is the field's four bytes).
fn be32(d: &[u8]) -> u32 {
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}
