//! Ethernet II frames (IEEE 802.3 with DIX types) as bytes: a view with
//! named fields, in the manner of smoltcp's `wire`.

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

pub const ETHER_ADDR_LEN: usize = 6;
pub const ETHER_HDR_LEN: usize = 14;
/// Frames shorter than this (without the FCS) are padded, as NICs do.
pub const ETHER_MIN_LEN: usize = 60;
pub const ETHERTYPE_IP: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// A group address (the I/G bit); broadcast is one.
pub fn is_multicast(mac: &[u8]) -> bool {
    mac.first().is_some_and(|b| b & 1 == 1)
}

/// A view over an Ethernet frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view with nothing checked: reading a field past the end panics.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// A view over a frame whose header is all there; `None` for a runt.
    pub fn new_checked(buffer: T) -> Option<Frame<T>> {
        (buffer.as_ref().len() >= ETHER_HDR_LEN).then_some(Frame { buffer })
    }

    pub fn dst_addr(&self) -> [u8; 6] {
        self.addr(field::DESTINATION)
    }

    pub fn src_addr(&self) -> [u8; 6] {
        self.addr(field::SOURCE)
    }

    pub fn ethertype(&self) -> u16 {
        super::be16(&self.buffer.as_ref()[field::ETHERTYPE])
    }

    /// What follows the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[ETHER_HDR_LEN..]
    }

    fn addr(&self, r: std::ops::Range<usize>) -> [u8; 6] {
        let d = &self.buffer.as_ref()[r];
        [d[0], d[1], d[2], d[3], d[4], d[5]]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a);
    }

    pub fn set_src_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a);
    }

    pub fn set_ethertype(&mut self, t: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&t.to_be_bytes());
    }
}

/// An 802.1Q tag as it follows the addresses: the tag's type, then the
/// tag control information (priority, DEI, VLAN id), then the type inside.
pub mod vlan {
    pub const ENCAP_LEN: usize = 4;
    /// Where the TCI lies in a tagged frame.
    const TCI: std::ops::Range<usize> = 14..16;

    /// The VLAN id of a tagged frame of at least 18 bytes.
    pub fn vid(frame: &[u8]) -> Option<u16> {
        Some(super::super::be16(frame.get(TCI)?) & 0xfff)
    }

    /// Tag a frame whose addresses have been moved to the front of four
    /// new bytes: the tag type and `tci` in the gap.
    pub fn write_tag(frame: &mut [u8], tci: u16) {
        let mut f = super::Frame::new_unchecked(&mut *frame);
        f.set_ethertype(super::ETHERTYPE_VLAN);
        frame[TCI].copy_from_slice(&tci.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_what_was_written() {
        let mut b = [0u8; 18];
        let mut f = Frame::new_unchecked(&mut b[..]);
        f.set_dst_addr(BROADCAST);
        f.set_src_addr([2, 0, 0, 0, 0, 1]);
        f.set_ethertype(ETHERTYPE_ARP);
        let f = Frame::new_checked(&b[..]).map(|f| (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len()));
        assert_eq!(f, Some((BROADCAST, [2, 0, 0, 0, 0, 1], ETHERTYPE_ARP, 4)));
        assert!(Frame::new_checked(&b[..13]).is_none());
        vlan::write_tag(&mut b, 0x2007);
        assert_eq!(vlan::vid(&b), Some(7));
        assert_eq!(Frame::new_unchecked(&b[..]).ethertype(), ETHERTYPE_VLAN);
    }
}
