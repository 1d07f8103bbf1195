//! RIP version 2 messages (RFC 2453 §4) as bytes: a 4-byte header
//! (command, version, zero) and up to 25 route entries of 20 bytes each
//! (address family, route tag, address, mask, next hop, metric). A view
//! with named fields, and a `Repr` that parses and emits a whole message.

use super::{be16, be32};

/// Where each field lies.
mod field {
    use std::ops::Range;
    pub const COMMAND: usize = 0;
    pub const VERSION: usize = 1;
    pub const ZERO: Range<usize> = 2..4;
    /// In an entry.
    pub const AFI: Range<usize> = 0..2;
    pub const TAG: Range<usize> = 2..4;
    pub const ADDR: Range<usize> = 4..8;
    pub const MASK: Range<usize> = 8..12;
    pub const NEXTHOP: Range<usize> = 12..16;
    pub const METRIC: Range<usize> = 16..20;
}

pub const RIP_HDR_LEN: usize = 4;
pub const RIP_ENTRY_LEN: usize = 20;
/// Entries one message carries at most (§3.6: 512 bytes of UDP data).
pub const RIP_MAX_ENTRIES: usize = 25;
pub const RIP_REQUEST: u8 = 1;
pub const RIP_RESPONSE: u8 = 2;
/// Metric 16: unreachable (§3.5).
pub const RIP_METRIC_INFINITY: u32 = 16;
pub const AF_INET_RIP: u16 = 2;
/// The address family of an authentication entry (§4.1).
pub const RIP_AUTH_AFI: u16 = 0xffff;

/// Why a message was refused (ripd counts it as a bad packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RipErr {
    #[error("packet size {0} is smaller than minimum size or not a multiple of the entry size")]
    BadLen(usize),
    #[error("unknown RIP command {0}")]
    BadCommand(u8),
    #[error("RIP version {0} not supported")]
    BadVersion(u8),
    #[error("must-be-zero field is not zero")]
    NotZero,
}

/// One route entry (§4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RipEntry {
    pub afi: u16,
    pub tag: u16,
    pub addr: u32,
    pub mask: u32,
    pub nexthop: u32,
    pub metric: u32,
}

impl RipEntry {
    /// A route to `addr/plen` at `metric`.
    pub fn route(addr: u32, plen: u8, metric: u32) -> RipEntry {
        let mask = if plen == 0 { 0 } else { u32::MAX << (32 - plen.min(32)) };
        RipEntry {
            afi: AF_INET_RIP,
            tag: 0,
            addr,
            mask,
            nexthop: 0,
            metric,
        }
    }

    /// The request for a whole table (§3.9.1): one entry, address family
    /// 0, metric infinity.
    pub fn whole_table() -> RipEntry {
        RipEntry {
            afi: 0,
            metric: RIP_METRIC_INFINITY,
            ..RipEntry::route(0, 0, 0)
        }
    }

    /// The mask as a prefix length, if it is contiguous.
    pub fn plen(&self) -> Option<u8> {
        let p = self.mask.leading_ones() as u8;
        let back = if p == 0 { 0 } else { u32::MAX << (32 - p) };
        (back == self.mask).then_some(p)
    }
}

/// A view over a RIP message.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view over a whole message: a header and whole entries.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, RipErr> {
        let n = buffer.as_ref().len();
        if n < RIP_HDR_LEN || !(n - RIP_HDR_LEN).is_multiple_of(RIP_ENTRY_LEN) {
            return Err(RipErr::BadLen(n));
        }
        Ok(Packet { buffer })
    }

    pub fn command(&self) -> u8 {
        self.buffer.as_ref()[field::COMMAND]
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    pub fn zero(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::ZERO])
    }

    pub fn entry_count(&self) -> usize {
        (self.buffer.as_ref().len() - RIP_HDR_LEN) / RIP_ENTRY_LEN
    }

    /// Entry `i`'s bytes (RIPng's entries are 20 bytes too).
    pub fn entry_bytes(&self, i: usize) -> &[u8] {
        let at = RIP_HDR_LEN + i * RIP_ENTRY_LEN;
        &self.buffer.as_ref()[at..at + RIP_ENTRY_LEN]
    }

    /// A request or a response of `version`, its zero field zero.
    pub fn check(&self, version: u8) -> Result<(), RipErr> {
        if !matches!(self.command(), RIP_REQUEST | RIP_RESPONSE) {
            return Err(RipErr::BadCommand(self.command()));
        }
        if self.version() != version {
            return Err(RipErr::BadVersion(self.version()));
        }
        if self.zero() != 0 {
            return Err(RipErr::NotZero);
        }
        Ok(())
    }

    /// Entry `i`.
    pub fn entry(&self, i: usize) -> RipEntry {
        let e = self.entry_bytes(i);
        RipEntry {
            afi: be16(&e[field::AFI]),
            tag: be16(&e[field::TAG]),
            addr: be32(&e[field::ADDR]),
            mask: be32(&e[field::MASK]),
            nexthop: be32(&e[field::NEXTHOP]),
            metric: be32(&e[field::METRIC]),
        }
    }
}

/// A whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RipRepr {
    pub command: u8,
    pub version: u8,
    pub entries: Vec<RipEntry>,
}

impl RipRepr {
    /// Parse a version 2 message (§4: version 1 and others are refused
    /// here; ripd counts them).
    pub fn parse(d: &[u8]) -> Result<RipRepr, RipErr> {
        let p = Packet::new_checked(d)?;
        p.check(2)?;
        Ok(RipRepr {
            command: p.command(),
            version: p.version(),
            entries: (0..p.entry_count()).map(|i| p.entry(i)).collect(),
        })
    }

    /// The bytes of the message.
    pub fn emit(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(RIP_HDR_LEN + RIP_ENTRY_LEN * self.entries.len());
        b.extend_from_slice(&[self.command, self.version, 0, 0]);
        for e in &self.entries {
            b.extend_from_slice(&e.afi.to_be_bytes());
            b.extend_from_slice(&e.tag.to_be_bytes());
            b.extend_from_slice(&e.addr.to_be_bytes());
            b.extend_from_slice(&e.mask.to_be_bytes());
            b.extend_from_slice(&e.nexthop.to_be_bytes());
            b.extend_from_slice(&e.metric.to_be_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::hex;

    /// A response as FRR's ripd sends it: 10.0.1.0/24 at metric 1.
    const RESPONSE: &str = "02020000 0002 0000 0a000100 ffffff00 00000000 00000001";

    #[test]
    fn a_response_parses_and_emits_as_it_came() {
        let d = hex(&RESPONSE.replace(' ', ""));
        let r = RipRepr::parse(&d).expect("valid");
        assert_eq!(r.command, RIP_RESPONSE);
        assert_eq!(r.entries.len(), 1);
        let e = r.entries[0];
        assert_eq!((e.afi, e.addr, e.plen(), e.nexthop), (2, 0x0a00_0100, Some(24), 0));
        assert_eq!(r.emit(), d);
    }

    #[test]
    fn bad_messages_say_why() {
        assert_eq!(RipRepr::parse(&[2, 2, 0]), Err(RipErr::BadLen(3)));
        assert_eq!(RipRepr::parse(&[2, 2, 0, 0, 1]), Err(RipErr::BadLen(5)));
        assert_eq!(RipRepr::parse(&[9, 2, 0, 0]), Err(RipErr::BadCommand(9)));
        assert_eq!(RipRepr::parse(&[2, 1, 0, 0]), Err(RipErr::BadVersion(1)));
        assert_eq!(RipRepr::parse(&[2, 2, 0, 1]), Err(RipErr::NotZero));
        let whole = RipRepr {
            command: RIP_REQUEST,
            version: 2,
            entries: vec![RipEntry::whole_table()],
        };
        assert_eq!(RipRepr::parse(&whole.emit()), Ok(whole));
    }

    #[test]
    fn masks_that_are_not_prefixes_have_no_length() {
        assert_eq!(RipEntry::route(0, 0, 1).plen(), Some(0));
        assert_eq!(RipEntry::route(0, 32, 1).plen(), Some(32));
        let e = RipEntry {
            mask: 0xff00_ff00,
            ..RipEntry::route(0, 8, 1)
        };
        assert_eq!(e.plen(), None);
    }
}
