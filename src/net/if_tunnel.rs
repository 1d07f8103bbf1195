//! IP tunnels between two addresses: gif(4), IPv4 in IPv4 (RFC 2003, IP
//! protocol 4), and gre(4), IPv4 in GRE (RFC 2784, with RFC 2890's key;
//! IP protocol 47). A tunnel interface is point to point: what is routed
//! out of it is wrapped in a new IPv4 header to the far end; what comes
//! from the far end, unwrapped, arrives on it.

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::net::ethernet::ETHERTYPE_IP;
use crate::net::ifnet::{IF, IfKind, NoBufs, if_input};
use crate::netinet::in_pcb::in4;
use crate::netinet::ip_output::{IpOpts, IpOutErr, ip_output, ip_route};
use crate::netinet::protosw::IpFacts;
use crate::vnet::Vnet;
use crate::wire::gre::{self, GRE_KP};

/// IPv4 in IPv4.
pub const IPPROTO_IPIP: u8 = 4;
/// Generic Routing Encapsulation.
pub const IPPROTO_GRE: u8 = 47;

/// Which encapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    Gif,
    Gre,
}

/// A tunnel's configuration (`ifconfig gif0 tunnel SRC DST`, `grekey K`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub encap: Encap,
    /// The outer addresses (0 until `tunnel` is set).
    pub src: u32,
    pub dst: u32,
    /// gre(4)'s key (0: none).
    pub key: u32,
}

impl Tunnel {
    pub fn new(encap: Encap) -> Tunnel {
        Tunnel {
            encap,
            src: 0,
            dst: 0,
            key: 0,
        }
    }

    fn proto(&self) -> u8 {
        match self.encap {
            Encap::Gif => IPPROTO_IPIP,
            Encap::Gre => IPPROTO_GRE,
        }
    }
}

/// Send datagram `m`, routed out of tunnel `index`, to the far end.
pub fn tunnel_output(k: &mut Kernel, v: &mut Vnet, index: u32, mut m: Mbuf) -> Result<(), NoBufs> {
    let ifs = v.builtin(IF);
    let Some(ifp) = ifs.get_mut(index) else { return Ok(()) };
    let IfKind::Tunnel(t) = &ifp.kind else { return Ok(()) };
    let t = t.clone();
    if t.dst == 0 {
        ifp.counters.oerrors += 1;
        return Ok(());
    }
    // A tunnel routed through a tunnel would wrap for ever: refuse it
    // (gif's max_nesting of 1).
    let loops = ip_route(v, t.dst).ok().flatten().is_some_and(|nh| {
        v.builtin(IF)
            .get(nh.ifindex)
            .is_some_and(|i| matches!(i.kind, IfKind::Tunnel(_)))
    });
    if loops {
        if let Some(ifp) = v.builtin(IF).get_mut(index) {
            ifp.counters.oerrors += 1;
        }
        return Ok(());
    }
    // The inner checksums are the wire's from here on.
    m.finish_csum();
    if t.encap == Encap::Gre {
        let key = (t.key != 0).then_some(t.key);
        gre::emit(m.prepend(if key.is_some() { 8 } else { 4 }), ETHERTYPE_IP, key);
    }
    let opts = IpOpts {
        src: Some(t.src),
        proto: t.proto(),
        ..IpOpts::default()
    };
    match ip_output(k, v, m, t.dst, &opts) {
        Err(IpOutErr::NoBufs) => Err(NoBufs),
        _ => Ok(()),
    }
}

/// A datagram of protocol 4 or 47 addressed to us: unwrapped onto the
/// tunnel whose far end sent it. Given back if no tunnel is that one's.
pub fn tunnel_input(k: &mut Kernel, v: &mut Vnet, mut m: Mbuf, f: &IpFacts) -> Option<Mbuf> {
    let encap = if f.proto == IPPROTO_GRE { Encap::Gre } else { Encap::Gif };
    let (src, dst) = (in4(f.src), in4(f.dst));
    let found = v.builtin(IF).list.iter().find_map(|i| match &i.kind {
        IfKind::Tunnel(t) if t.encap == encap && Some(t.dst) == src && Some(t.src) == dst => Some((i.index, t.key)),
        _ => None,
    });
    let Some((index, key)) = found else { return Some(m) };
    m.adj(f.off);
    if encap == Encap::Gre {
        // Checksums, sequence numbers, other versions and protocols:
        // not ours to carry.
        let hl = gre::Packet::new_checked(m.data())
            .filter(|g| g.flags() & !GRE_KP == 0 && g.protocol() == ETHERTYPE_IP && g.key().unwrap_or(0) == key)
            .map(|g| g.header_len());
        let Some(hl) = hl else {
            if let Some(i) = v.builtin(IF).get_mut(index) {
                i.counters.ierrors += 1;
            }
            return None;
        };
        m.adj(hl);
    }
    if_input(k, v, index, m);
    None
}
