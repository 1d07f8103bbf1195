//! IPv4 headers (RFC 791) as bytes: a view with named fields, in the
//! manner of smoltcp's `wire`, and the parsed header (`Ipv4Hdr`, the
//! Repr). Nothing else in vimage reads an IPv4 header by offset.

use crate::wire::checksum::in_cksum;

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

pub const IPVERSION: u8 = 4;
pub const IP_HDR_LEN: usize = 20;
pub const IP_MAXPACKET: usize = 65535;
pub const IP_DF: u16 = 0x4000;
pub const IP_MF: u16 = 0x2000;
pub const IP_OFFMASK: u16 = 0x1fff;
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const INADDR_ANY: u32 = 0;
pub const INADDR_BROADCAST: u32 = 0xffff_ffff;
pub const INADDR_LOOPBACK: u32 = 0x7f00_0001;

/// A parsed IPv4 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Hdr {
    /// Header length in bytes.
    pub hl: usize,
    pub tos: u8,
    pub len: u16,
    pub id: u16,
    /// Flags and fragment offset.
    pub off: u16,
    pub ttl: u8,
    pub p: u8,
    pub sum: u16,
    pub src: u32,
    pub dst: u32,
}

/// Why a header was refused (each is an `ipstat` counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpErr {
    TooShort,
    BadVers,
    BadHlen,
    BadLen,
    BadSum,
}

impl Ipv4Hdr {
    /// Parse and validate a datagram's header at the start of `d` (RFC 1122
    /// §3.2.1.1): version, header length, total length against the data,
    /// checksum. Its `len` is the total length field.
    pub fn parse(d: &[u8]) -> Result<Ipv4Hdr, IpErr> {
        let p = Packet::new_checked(d)?;
        let len = p.total_len();
        if (len as usize) < p.header_len() || len as usize > d.len() {
            return Err(IpErr::BadLen);
        }
        if !p.verify_checksum() {
            return Err(IpErr::BadSum);
        }
        Ok(Ipv4Hdr { len, ..p.repr() })
    }

    /// A 20-byte header for a datagram of `len` bytes in all.
    pub fn new(src: u32, dst: u32, p: u8, ttl: u8, id: u16, len: u16) -> Ipv4Hdr {
        Ipv4Hdr {
            hl: IP_HDR_LEN,
            tos: 0,
            len,
            id,
            off: 0,
            ttl,
            p,
            sum: 0,
            src,
            dst,
        }
    }

    /// Write the header (20 bytes, no options) with a fresh checksum.
    pub fn write(&self, d: &mut [u8]) {
        d[0] = (IPVERSION << 4) | 5;
        d[1] = self.tos;
        d[2..4].copy_from_slice(&self.len.to_be_bytes());
        d[4..6].copy_from_slice(&self.id.to_be_bytes());
        d[6..8].copy_from_slice(&self.off.to_be_bytes());
        d[8] = self.ttl;
        d[9] = self.p;
        d[10..12].copy_from_slice(&[0, 0]);
        d[12..16].copy_from_slice(&self.src.to_be_bytes());
        d[16..20].copy_from_slice(&self.dst.to_be_bytes());
        let s = in_cksum(&d[..IP_HDR_LEN]);
        d[10..12].copy_from_slice(&s.to_be_bytes());
    }

    pub fn is_fragment(&self) -> bool {
        self.off & (IP_MF | IP_OFFMASK) != 0
    }

    /// Offset of the fragment in bytes.
    pub fn frag_off(&self) -> usize {
        ((self.off & IP_OFFMASK) as usize) * 8
    }
}

/// A view over the bytes of an IPv4 header and what follows it.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with nothing checked: reading a field past the end panics.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose header is all there: 20 bytes at least, version 4, a
    /// header length from 20 to what the buffer holds. The total length is
    /// not held against the buffer (a datagram quoted by ICMP is cut short).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, IpErr> {
        let p = Packet { buffer };
        let d = p.buffer.as_ref();
        if d.len() < IP_HDR_LEN {
            return Err(IpErr::TooShort);
        }
        if p.version() != IPVERSION {
            return Err(IpErr::BadVers);
        }
        if p.header_len() < IP_HDR_LEN || p.header_len() > d.len() {
            return Err(IpErr::BadHlen);
        }
        Ok(p)
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header's length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        ((self.buffer.as_ref()[field::VER_IHL] & 0xf) as usize) * 4
    }

    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    pub fn total_len(&self) -> u16 {
        self.be16(field::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT)
    }

    /// Flags and fragment offset, as on the wire.
    pub fn flags_offset(&self) -> u16 {
        self.be16(field::FLG_OFF)
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }

    pub fn src_addr(&self) -> u32 {
        self.be32(field::SRC)
    }

    pub fn dst_addr(&self) -> u32 {
        self.be32(field::DST)
    }

    /// The header's checksum sums to zero.
    pub fn verify_checksum(&self) -> bool {
        in_cksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// The options (the header past its first 20 bytes).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[IP_HDR_LEN..self.header_len()]
    }

    /// What follows the header, as far as the buffer goes.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// The fields; `len` is what the buffer holds (a quote, or a datagram
    /// being built), not the total length field.
    pub fn repr(&self) -> Ipv4Hdr {
        Ipv4Hdr {
            hl: self.header_len(),
            tos: self.tos(),
            len: self.buffer.as_ref().len().min(u16::MAX as usize) as u16,
            id: self.ident(),
            off: self.flags_offset(),
            ttl: self.ttl(),
            p: self.protocol(),
            sum: self.checksum(),
            src: self.src_addr(),
            dst: self.dst_addr(),
        }
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        super::be16(&self.buffer.as_ref()[r])
    }

    fn be32(&self, r: std::ops::Range<usize>) -> u32 {
        super::be32(&self.buffer.as_ref()[r])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// TTL − 1, the checksum adjusted rather than recomputed (RFC 1624):
    /// what a router does to every datagram it forwards.
    pub fn decrement_ttl(&mut self) {
        let word = |d: &[u8]| u16::from_be_bytes([d[field::TTL], d[field::PROTOCOL]]);
        let old = word(self.buffer.as_ref());
        let ttl = self.ttl().wrapping_sub(1);
        self.set_ttl(ttl);
        let new = word(self.buffer.as_ref());
        let sum = crate::wire::checksum::adjust(self.checksum(), old, new);
        self.set_checksum(sum);
    }

    /// Version 4 and a header of `hl` bytes (a multiple of 4).
    pub fn set_header_len(&mut self, hl: usize) {
        self.buffer.as_mut()[field::VER_IHL] = (IPVERSION << 4) | (hl / 4) as u8;
    }

    pub fn set_checksum(&mut self, sum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
    }

    pub fn set_total_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }

    pub fn set_flags_offset(&mut self, off: u16) {
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&off.to_be_bytes());
    }

    pub fn set_src_addr(&mut self, a: u32) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.to_be_bytes());
    }

    /// Compute the header checksum afresh.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let s = in_cksum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_validation() {
        let mut b = [0u8; 28];
        let h = Ipv4Hdr::new(0x0a000001, 0x0a000002, IPPROTO_UDP, 64, 7, 28);
        h.write(&mut b);
        let p = Ipv4Hdr::parse(&b);
        assert_eq!(
            p.map(|p| (p.src, p.dst, p.ttl, p.p, p.len, p.id)),
            Ok((0x0a000001, 0x0a000002, 64, 17, 28, 7))
        );
        assert_eq!(Ipv4Hdr::parse(&b[..19]), Err(IpErr::TooShort));
        assert_eq!(Ipv4Hdr::parse(&b[..27]), Err(IpErr::BadLen));
        let mut bad = b;
        bad[8] = 1;
        assert_eq!(Ipv4Hdr::parse(&bad), Err(IpErr::BadSum));
        bad = b;
        bad[0] = 0x65;
        assert_eq!(Ipv4Hdr::parse(&bad), Err(IpErr::BadVers));
        bad = b;
        bad[0] = 0x44;
        assert_eq!(Ipv4Hdr::parse(&bad), Err(IpErr::BadHlen));
        bad = b;
        bad[0] = 0x4f;
        assert_eq!(Ipv4Hdr::parse(&bad), Err(IpErr::BadHlen));
    }

    #[test]
    fn views_check_the_header_only() {
        let mut b = [0u8; 28];
        Ipv4Hdr::new(0x0a000001, 0x0a000002, IPPROTO_UDP, 64, 7, 200).write(&mut b);
        // A quote: the total length says 200, 28 bytes are here.
        let p = Packet::new_checked(&b[..]).map(|p| (p.header_len(), p.payload().len(), p.repr().len));
        assert_eq!(p, Ok((20, 8, 28)));
        assert_eq!(Ipv4Hdr::parse(&b).err(), Some(IpErr::BadLen));
        b[0] = 0x46;
        assert_eq!(Packet::new_checked(&b[..20]).err(), Some(IpErr::BadHlen));
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.set_ttl(1);
        assert_eq!(p.ttl(), 1);
        // A router's TTL - 1 leaves a header that checks, as recomputing would.
        b[0] = 0x45;
        let mut p = Packet::new_unchecked(&mut b[..]);
        p.fill_checksum();
        p.decrement_ttl();
        assert_eq!((p.ttl(), p.verify_checksum()), (0, true));
    }
}
