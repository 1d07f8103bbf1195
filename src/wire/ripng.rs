//! RIPng messages (RFC 2080 §2.1) as bytes: a 4-byte header (command,
//! version 1, zero) and route table entries of 20 bytes each (IPv6
//! prefix, route tag, prefix length, metric). An entry of metric 0xFF is
//! a next hop entry (§2.1.1): the routes after it are through its
//! address, or through the sender if it is `::`. The header and its
//! checks are RIP's (wire/rip.rs's view); a `Repr` parses and emits a
//! whole message.

use super::be16;
use super::rip::{Packet, RipErr};

/// Where each field of an entry lies.
mod field {
    use std::ops::Range;
    pub const PREFIX: Range<usize> = 0..16;
    pub const TAG: Range<usize> = 16..18;
    pub const PLEN: usize = 18;
    pub const METRIC: usize = 19;
}

pub use super::rip::{RIP_ENTRY_LEN as RIPNG_RTE_LEN, RIP_HDR_LEN as RIPNG_HDR_LEN};
pub const RIPNG_VERSION: u8 = 1;
/// The metric that marks a next hop entry (§2.1.1).
pub const RIPNG_METRIC_NEXTHOP: u8 = 0xff;

/// One route table entry (§2.1), a next hop entry too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rte {
    pub prefix: u128,
    pub tag: u16,
    pub plen: u8,
    pub metric: u8,
}

impl Rte {
    /// The next hop entry for `addr` (`::`: the sender).
    pub fn nexthop(addr: u128) -> Rte {
        Rte {
            prefix: addr,
            tag: 0,
            plen: 0,
            metric: RIPNG_METRIC_NEXTHOP,
        }
    }

    /// The request for a whole table (§2.4.1): one entry, prefix `::/0`,
    /// metric infinity.
    pub fn whole_table() -> Rte {
        Rte {
            prefix: 0,
            tag: 0,
            plen: 0,
            metric: 16,
        }
    }
}

/// A whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RipngRepr {
    pub command: u8,
    pub rtes: Vec<Rte>,
}

impl RipngRepr {
    /// Parse a version 1 message (request 1, response 2: RIP's numbers).
    pub fn parse(d: &[u8]) -> Result<RipngRepr, RipErr> {
        let p = Packet::new_checked(d)?;
        p.check(RIPNG_VERSION)?;
        let rtes = (0..p.entry_count())
            .map(|i| {
                let e = p.entry_bytes(i);
                let mut prefix = [0u8; 16];
                prefix.copy_from_slice(&e[field::PREFIX]);
                Rte {
                    prefix: u128::from_be_bytes(prefix),
                    tag: be16(&e[field::TAG]),
                    plen: e[field::PLEN],
                    metric: e[field::METRIC],
                }
            })
            .collect();
        Ok(RipngRepr {
            command: p.command(),
            rtes,
        })
    }

    /// The bytes of the message.
    pub fn emit(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(RIPNG_HDR_LEN + RIPNG_RTE_LEN * self.rtes.len());
        b.extend_from_slice(&[self.command, RIPNG_VERSION, 0, 0]);
        for e in &self.rtes {
            b.extend_from_slice(&e.prefix.to_be_bytes());
            b.extend_from_slice(&e.tag.to_be_bytes());
            b.extend_from_slice(&[e.plen, e.metric]);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::hex;

    /// A response as FRR's ripngd sends it: 2001:db8:1::/64 at metric 1,
    /// after a next hop entry of `::` (the sender).
    const RESPONSE: &str = "02010000 00000000000000000000000000000000 0000 00 ff \
                            20010db8000100000000000000000000 0000 40 01";

    #[test]
    fn a_response_parses_and_emits_as_it_came() {
        let d = hex(&RESPONSE.replace(' ', ""));
        let r = RipngRepr::parse(&d).expect("valid");
        assert_eq!(r.command, 2);
        assert_eq!(
            r.rtes,
            vec![
                Rte::nexthop(0),
                Rte {
                    prefix: 0x2001_0db8_0001_u128 << 80,
                    tag: 0,
                    plen: 64,
                    metric: 1
                }
            ]
        );
        assert_eq!(r.emit(), d);
    }

    #[test]
    fn bad_messages_say_why() {
        assert_eq!(RipngRepr::parse(&[2, 1, 0]), Err(RipErr::BadLen(3)));
        assert_eq!(RipngRepr::parse(&[2, 1, 0, 0, 1]), Err(RipErr::BadLen(5)));
        assert_eq!(RipngRepr::parse(&[9, 1, 0, 0]), Err(RipErr::BadCommand(9)));
        assert_eq!(RipngRepr::parse(&[2, 2, 0, 0]), Err(RipErr::BadVersion(2)));
        assert_eq!(RipngRepr::parse(&[2, 1, 0, 1]), Err(RipErr::NotZero));
        let whole = RipngRepr {
            command: 1,
            rtes: vec![Rte::whole_table()],
        };
        assert_eq!(whole.emit().len(), RIPNG_HDR_LEN + RIPNG_RTE_LEN);
        assert_eq!(RipngRepr::parse(&whole.emit()), Ok(whole));
    }
}
