//! UDP datagrams (RFC 768) as bytes: a view with named fields, in the
//! manner of smoltcp's `wire`.

use std::net::IpAddr;

use crate::wire::checksum::{fold, pseudo, sum};

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}

pub const UDP_HDR_LEN: usize = 8;
const IPPROTO_UDP: u8 = 17;

/// Why a datagram was refused (each is a `udpstat` counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpErr {
    /// Shorter than a header (`hdrops`).
    Truncated,
    /// A length field shorter than a header or longer than the data
    /// (`badlen`).
    BadLen,
}

/// A view over a UDP datagram.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with nothing checked: reading a field past the end panics.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// The bytes viewed.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// A view over a whole datagram: a header, and a length field from 8
    /// to what the buffer holds (what follows it is padding).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, UdpErr> {
        let p = Packet { buffer };
        let d = p.buffer.as_ref();
        if d.len() < UDP_HDR_LEN {
            return Err(UdpErr::Truncated);
        }
        let len = p.len() as usize;
        if len < UDP_HDR_LEN || len > d.len() {
            return Err(UdpErr::BadLen);
        }
        Ok(p)
    }

    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT)
    }

    /// The length field: header and data.
    pub fn len(&self) -> u16 {
        self.be16(field::LENGTH)
    }

    pub fn is_empty(&self) -> bool {
        self.len() as usize <= UDP_HDR_LEN
    }

    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    /// The data, as far as the length field says.
    pub fn payload(&self) -> &[u8] {
        let d = self.buffer.as_ref();
        &d[UDP_HDR_LEN..(self.len() as usize).clamp(UDP_HDR_LEN, d.len())]
    }

    /// The checksum over the pseudo-header of `src` and `dst` is right
    /// (a zero field is no checksum: true).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let seg = &self.buffer.as_ref()[..self.len() as usize];
        self.checksum() == 0 || fold(sum(pseudo(src, dst, IPPROTO_UDP, seg.len() as u32), seg)) == 0
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        super::be16(&self.buffer.as_ref()[r])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Write the header of a datagram filling the buffer.
    pub fn emit_header(&mut self, sport: u16, dport: u16) {
        let len = self.buffer.as_ref().len() as u16;
        let b = self.buffer.as_mut();
        b[field::SRC_PORT].copy_from_slice(&sport.to_be_bytes());
        b[field::DST_PORT].copy_from_slice(&dport.to_be_bytes());
        b[field::LENGTH].copy_from_slice(&len.to_be_bytes());
        b[field::CHECKSUM].copy_from_slice(&[0, 0]);
    }

    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Compute the checksum between `src` and `dst` (a computed 0 is sent
    /// as all ones, RFC 768).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let c = udp_cksum(src, dst, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// The UDP checksum of `seg` (header and data) between `src` and `dst`.
pub fn udp_cksum(src: IpAddr, dst: IpAddr, seg: &[u8]) -> u16 {
    let c = fold(sum(pseudo(src, dst, IPPROTO_UDP, seg.len() as u32), seg));
    if c == 0 { 0xffff } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_datagram_written_checks_and_reads_back() {
        let mut b = [0u8; 12];
        b[8..].copy_from_slice(b"ping");
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.emit_header(1234, 53);
        p.fill_checksum(A, B);
        let p = Packet::new_checked(&b[..]).expect("whole");
        assert_eq!(
            (p.src_port(), p.dst_port(), p.len(), p.payload()),
            (1234, 53, 12, &b"ping"[..])
        );
        assert!(p.verify_checksum(A, B));
        assert!(!p.verify_checksum(A, IpAddr::from([10, 0, 0, 3])));
        assert_eq!(Packet::new_checked(&b[..7]).err(), Some(UdpErr::Truncated));
        assert_eq!(Packet::new_checked(&b[..11]).err(), Some(UdpErr::BadLen));
    }
}
