//! IPv4 (RFC 791): the header, per-vnet state, statistics and knobs.

use crate::netinet::ip_reass::Reass;
use crate::vnet::module::{SI_ORDER_THIRD, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, VnetKey};
use crate::wire::checksum::in_cksum;

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
    /// Parse and validate a header at the start of `d` (RFC 1122 §3.2.1.1):
    /// version, header length, total length against the data, checksum.
    pub fn parse(d: &[u8]) -> Result<Ipv4Hdr, IpErr> {
        if d.len() < IP_HDR_LEN {
            return Err(IpErr::TooShort);
        }
        if d[0] >> 4 != IPVERSION {
            return Err(IpErr::BadVers);
        }
        let hl = ((d[0] & 0xf) as usize) * 4;
        if hl < IP_HDR_LEN || hl > d.len() {
            return Err(IpErr::BadHlen);
        }
        let len = u16::from_be_bytes([d[2], d[3]]);
        if (len as usize) < hl || len as usize > d.len() {
            return Err(IpErr::BadLen);
        }
        if in_cksum(&d[..hl]) != 0 {
            return Err(IpErr::BadSum);
        }
        Ok(Ipv4Hdr::read(d, hl, len))
    }

    /// Read the fields without validating (the caller knows `d` holds a
    /// checked header).
    pub fn read(d: &[u8], hl: usize, len: u16) -> Ipv4Hdr {
        let w = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
        let a = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        Ipv4Hdr {
            hl,
            tos: d[1],
            len,
            id: w(4),
            off: w(6),
            ttl: d[8],
            p: d[9],
            sum: w(10),
            src: a(12),
            dst: a(16),
        }
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

crate::stats! {
    /// IP statistics (`struct ipstat`), as netstat -s -p ip names them.
    #[derive(Copy)]
    pub struct IpStat {
        total,
        badsum,
        tooshort,
        toosmall,
        badhlen,
        badlen,
        fragments,
        fragdropped,
        fragtimeout,
        forward,
        fastforward,
        cantforward,
        redirectsent,
        noproto,
        delivered,
        localout,
        odropped,
        reassembled,
        fragmented,
        ofragments,
        cantfrag,
        badoptions,
        noroute,
        badvers,
        rawout,
        toolong,
        notmember,
        nogif,
        badaddr,
    }
}

/// Per-vnet IPv4 state (`V_ipforwarding`, `V_ip_defttl`, ...).
#[derive(Debug)]
pub struct Ip {
    /// `net.inet.ip.forwarding`: act as a router (off by default, RFC 1122).
    pub forwarding: bool,
    /// `net.inet.ip.ttl`: TTL of packets this vnet originates.
    pub defttl: i32,
    /// `net.inet.ip.redirect`: send ICMP redirects when forwarding.
    pub redirect: bool,
    /// `net.inet.ip.sourceroute`: forward source-routed packets.
    pub sourceroute: bool,
    /// `net.inet.ip.maxfragpackets`: datagrams awaiting reassembly.
    pub maxfragpackets: i32,
    /// `net.inet.ip.maxfragsperpacket`: fragments per datagram.
    pub maxfragsperpacket: i32,
    /// `net.inet.ip.portrange.first`, `.last`: ephemeral ports.
    pub portrange_first: i32,
    pub portrange_last: i32,
    pub stats: crate::kern::counter::Counters<IpStat>,
    /// The next IP identification (`ip_id`).
    pub id: u16,
    pub reass: Reass,
}

impl Default for Ip {
    fn default() -> Self {
        Ip {
            forwarding: false,
            defttl: 64,
            redirect: true,
            sourceroute: false,
            maxfragpackets: 1024,
            maxfragsperpacket: 16,
            portrange_first: 10000,
            portrange_last: 65535,
            stats: Default::default(),
            id: 0,
            reass: Reass::default(),
        }
    }
}

impl Ip {
    /// The next identification.
    pub fn next_id(&mut self) -> u16 {
        self.id = self.id.wrapping_add(1);
        self.id
    }
}

/// The IPv4 module's slot.
pub const IP: VnetKey<Ip> = VnetKey::fixed(3);

pub(crate) fn module() -> Module<Ip> {
    Module::new("ip", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_THIRD), |k, v| {
        let ip = Ip {
            id: (v.random() & 0xffff) as u16,
            ..Ip::default()
        };
        // lo0's address: every vnet's loopback works from the start.
        crate::netinet::in_::in_loopback_init(k, v);
        ip
    })
    .destructor(|k, _, ip| ip.reass.drain(k))
    .netisr(crate::net::ethernet::ETHERTYPE_IP, crate::netinet::ip_input::ip_input)
    .ifdetach(crate::netinet::in_::in_ifdetach)
    .sysctl(
        "net.inet.ip.forwarding",
        "Enable IP forwarding between interfaces",
        |s| &mut s.forwarding,
    )
    .sysctl_range(
        "net.inet.ip.ttl",
        "Maximum TTL on IP packets",
        |s| &mut s.defttl,
        1,
        255,
    )
    .sysctl("net.inet.ip.redirect", "Enable sending IP redirects", |s| {
        &mut s.redirect
    })
    .sysctl(
        "net.inet.ip.sourceroute",
        "Enable forwarding source routed IP packets",
        |s| &mut s.sourceroute,
    )
    .sysctl_range(
        "net.inet.ip.maxfragpackets",
        "Maximum number of IPv4 fragment reassembly queue entries",
        |s| &mut s.maxfragpackets,
        0,
        1 << 20,
    )
    .sysctl_range(
        "net.inet.ip.maxfragsperpacket",
        "Maximum number of IPv4 fragments allowed per packet",
        |s| &mut s.maxfragsperpacket,
        0,
        8192,
    )
    .sysctl_range(
        "net.inet.ip.portrange.first",
        "First of the ephemeral port range",
        |s| &mut s.portrange_first,
        1,
        65535,
    )
    .sysctl_range(
        "net.inet.ip.portrange.last",
        "Last of the ephemeral port range",
        |s| &mut s.portrange_last,
        1,
        65535,
    )
    .oid(|k| {
        crate::kern::sysctl::Oid::vnet_stats(k, "net.inet.ip.stats", "IP statistics (struct ipstat)", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_shown() {
        // notmember was counted and never shown, when the list was kept
        // by hand.
        let st = IpStat {
            notmember: 7,
            ..Default::default()
        };
        assert!(st.fields().contains(&("notmember", 7)));
        assert_eq!(st.fields().len(), 29);
    }

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
}
