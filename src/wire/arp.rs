//! ARP packets for IPv4 over Ethernet (RFC 826) as bytes: a view with
//! named fields, in the manner of smoltcp's `wire`.

use crate::wire::ethernet::ETHERTYPE_IP;

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// The length of an IPv4-over-Ethernet ARP packet.
pub const ARP_LEN: usize = 28;
/// Hardware type Ethernet.
pub const ARPHRD_ETHER: u16 = 1;
pub const ARPOP_REQUEST: u16 = 1;
pub const ARPOP_REPLY: u16 = 2;

/// A view over an ARP packet.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with nothing checked: reading a field past the end panics.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over a whole packet (28 bytes at least).
    pub fn new_checked(buffer: T) -> Option<Packet<T>> {
        (buffer.as_ref().len() >= ARP_LEN).then_some(Packet { buffer })
    }

    /// Ethernet hardware, IPv4 protocol, and lengths that say so.
    pub fn is_ipv4_over_ethernet(&self) -> bool {
        let d = self.buffer.as_ref();
        super::be16(&d[field::HTYPE]) == ARPHRD_ETHER
            && super::be16(&d[field::PTYPE]) == ETHERTYPE_IP
            && d[field::HLEN] == 6
            && d[field::PLEN] == 4
    }

    pub fn operation(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::OPER])
    }

    pub fn sender_hw(&self) -> [u8; 6] {
        self.hw(field::SHA)
    }

    pub fn sender_ip(&self) -> u32 {
        super::be32(&self.buffer.as_ref()[field::SPA])
    }

    pub fn target_hw(&self) -> [u8; 6] {
        self.hw(field::THA)
    }

    pub fn target_ip(&self) -> u32 {
        super::be32(&self.buffer.as_ref()[field::TPA])
    }

    fn hw(&self, r: std::ops::Range<usize>) -> [u8; 6] {
        let d = &self.buffer.as_ref()[r];
        [d[0], d[1], d[2], d[3], d[4], d[5]]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Write a whole IPv4-over-Ethernet packet.
    pub fn emit(&mut self, op: u16, sha: [u8; 6], spa: u32, tha: [u8; 6], tpa: u32) {
        let d = self.buffer.as_mut();
        d[field::HTYPE].copy_from_slice(&ARPHRD_ETHER.to_be_bytes());
        d[field::PTYPE].copy_from_slice(&ETHERTYPE_IP.to_be_bytes());
        d[field::HLEN] = 6;
        d[field::PLEN] = 4;
        d[field::OPER].copy_from_slice(&op.to_be_bytes());
        d[field::SHA].copy_from_slice(&sha);
        d[field::SPA].copy_from_slice(&spa.to_be_bytes());
        d[field::THA].copy_from_slice(&tha);
        d[field::TPA].copy_from_slice(&tpa.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_written_reads_back() {
        let mut b = [0u8; ARP_LEN];
        Packet::new_unchecked(&mut b[..]).emit(ARPOP_REQUEST, [2, 0, 0, 0, 0, 1], 0x0a00_0001, [0; 6], 0x0a00_0002);
        let p = Packet::new_checked(&b[..]).expect("28 bytes");
        assert!(p.is_ipv4_over_ethernet());
        assert_eq!(
            (
                p.operation(),
                p.sender_hw(),
                p.sender_ip(),
                p.target_hw(),
                p.target_ip()
            ),
            (ARPOP_REQUEST, [2, 0, 0, 0, 0, 1], 0x0a00_0001, [0; 6], 0x0a00_0002)
        );
        assert!(Packet::new_checked(&b[..27]).is_none());
        b[4] = 8;
        assert!(!Packet::new_unchecked(&b[..]).is_ipv4_over_ethernet());
    }
}
