//! UDP (RFC 768), after `udp_usrreq.c`: header and checksum validation, and
//! the answer to a datagram no socket wants — ICMP port unreachable,
//! rate-limited, never for broadcasts.

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::kern::sysctl::Oid;
use crate::netinet::icmp::{ICMP_UNREACH, ICMP_UNREACH_PORT, icmp_error};
use crate::netinet::in_cksum::{fold, pseudo, sum};
use crate::netinet::ip::{IPPROTO_UDP, Ipv4Hdr};
use crate::vnet::module::{SI_ORDER_MIDDLE, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};

pub const UDP_HDR_LEN: usize = 8;

/// UDP statistics (`struct udpstat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpStat {
    pub ipackets: u64,
    pub hdrops: u64,
    pub badsum: u64,
    pub nosum: u64,
    pub badlen: u64,
    pub noport: u64,
    pub noportbcast: u64,
    pub fullsock: u64,
    pub opackets: u64,
}

/// Per-vnet UDP state.
#[derive(Debug, Default)]
pub struct Udp {
    pub stats: UdpStat,
    /// `net.inet.udp.blackhole`: no port unreachable for closed ports.
    pub blackhole: bool,
}

/// The UDP module's slot.
pub const UDP: VnetKey<Udp> = VnetKey::fixed(5);

pub(crate) fn module() -> Module<Udp> {
    Module::new("udp", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE), |_, _| {
        Udp::default()
    })
    .sysctl(
        "net.inet.udp.blackhole",
        "Do not send port unreachables for refused connects",
        |s| &mut s.blackhole,
    )
    .oid(|k| {
        Oid::vnet_stats(k, "net.inet.udp.stats", "UDP statistics (struct udpstat)", |s| {
            let st = &s.stats;
            vec![
                ("ipackets", st.ipackets),
                ("hdrops", st.hdrops),
                ("badsum", st.badsum),
                ("nosum", st.nosum),
                ("badlen", st.badlen),
                ("noport", st.noport),
                ("noportbcast", st.noportbcast),
                ("fullsock", st.fullsock),
                ("opackets", st.opackets),
            ]
        })
    })
    .builtin()
}

/// The UDP checksum of `seg` (header and data) between `src` and `dst`.
pub fn udp_cksum(src: u32, dst: u32, seg: &[u8]) -> u16 {
    let c = fold(sum(
        pseudo(src.to_be_bytes(), dst.to_be_bytes(), IPPROTO_UDP, seg.len() as u16),
        seg,
    ));
    // A computed 0 is sent as all ones (RFC 768).
    if c == 0 { 0xffff } else { c }
}

/// A UDP datagram for this vnet.
pub fn udp_input(k: &mut Kernel, v: &mut Vnet, m: Mbuf, h: &Ipv4Hdr, in_if: u32, bcast: bool) {
    let udp = v.builtin(UDP);
    udp.stats.ipackets += 1;
    let seg = &m.data()[h.hl..h.len as usize];
    if seg.len() < UDP_HDR_LEN {
        udp.stats.hdrops += 1;
        return;
    }
    let ulen = u16::from_be_bytes([seg[4], seg[5]]) as usize;
    if ulen < UDP_HDR_LEN || ulen > seg.len() {
        udp.stats.badlen += 1;
        return;
    }
    let seg = &seg[..ulen];
    if seg[6..8] == [0, 0] {
        udp.stats.nosum += 1;
    } else if fold(sum(
        pseudo(h.src.to_be_bytes(), h.dst.to_be_bytes(), IPPROTO_UDP, ulen as u16),
        seg,
    )) != 0
    {
        udp.stats.badsum += 1;
        return;
    }
    // No sockets yet to take it: the port is closed.
    if bcast {
        udp.stats.noportbcast += 1;
        return;
    }
    udp.stats.noport += 1;
    if !udp.blackhole {
        icmp_error(k, v, m.data(), ICMP_UNREACH, ICMP_UNREACH_PORT, 0, Some(in_if));
    }
}
