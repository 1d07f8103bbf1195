//! IPv6 output (after `ip6_output.c`): the route (or the zone of a
//! scoped destination), source selection, the header, fragmentation at
//! the source only (RFC 8200 §4.5, §5), and the hand-off to the link:
//! multicast straight to its MAC (RFC 2464 §7), unicast through neighbour
//! discovery, the loopback as it is.

use std::net::{IpAddr, Ipv6Addr};

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::net::ethernet::{ETHERTYPE_IPV6, ether_output_frame};
use crate::net::ifnet::{IF, if_transmit};
use crate::net::route::{RTF_BLACKHOLE, RTF_REJECT};
use crate::netinet::ip_output::IpOutErr;
use crate::netinet::tcp_hostcache::tcp_hc_getmtu;
use crate::netinet6::in6::{in6_clearscope, in6_getscope, in6_localip, in6_selectsrc, key};
use crate::netinet6::ip6::{IP6, IP6_HDR_LEN, IPPROTO_FRAGMENT, IPV6_MAXPACKET, IPV6_MMTU};
use crate::netinet6::nd6::{Nd6Err, nd6_resolve};
use crate::vnet::Vnet;
use crate::wire::ipv6::{FragHdr, Ipv6Repr, Packet, multicast_mac};

/// Options of an output datagram (a socket's IPV6_* options).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ip6Opts {
    /// Hop limit; `net.inet6.ip6.hlim` (multicast: 1) if `None`.
    pub hlim: Option<u8>,
    pub tclass: u8,
    /// Out of this interface (IPV6_PKTINFO, IPV6_MULTICAST_IF).
    pub ifindex: Option<u32>,
    pub proto: u8,
    /// IPV6_DONTFRAG: too big is EMSGSIZE, never fragments.
    pub dontfrag: bool,
    /// The unspecified source is meant (duplicate address detection).
    pub unspec_src: bool,
}

/// Where a datagram goes: out of `ifindex` to `nexthop`, `mtu` at most.
#[derive(Clone, Copy, Debug)]
pub struct NextHop6 {
    pub ifindex: u32,
    pub nexthop: Ipv6Addr,
    pub mtu: usize,
}

/// The way to `dst` (scope embedded): our own addresses through the
/// loopback, multicast out of its zone's interface, the rest by the
/// table. `Ok(None)` for a blackhole.
pub fn ip6_route(v: &mut Vnet, dst: &Ipv6Addr, ifindex: Option<u32>) -> Result<Option<NextHop6>, IpOutErr> {
    if in6_localip(v, dst) && ifindex.is_none() {
        let ifs = v.builtin(IF);
        let lo = ifs.loif().and_then(|i| ifs.get(i)).ok_or(IpOutErr::NoRoute)?;
        return Ok(Some(NextHop6 {
            ifindex: lo.index,
            nexthop: *dst,
            mtu: lo.mtu as usize,
        }));
    }
    ip6_route_via(v, dst, ifindex)
}

/// The way to `dst`, known not to be ours (what `ip6_forward` asks):
/// out of `ifindex` if given and `dst` is unscoped or multicast, else by
/// the table.
pub fn ip6_route_via(v: &mut Vnet, dst: &Ipv6Addr, ifindex: Option<u32>) -> Result<Option<NextHop6>, IpOutErr> {
    let mtu_of = |v: &mut Vnet, i: u32| v.builtin(IF).get(i).map(|f| (f.mtu as usize, f.is_up()));
    let (ifindex, nexthop, rtmtu) = if dst.is_multicast() {
        let i = in6_getscope(dst).or(ifindex).ok_or(IpOutErr::NoRoute)?;
        (i, *dst, 0)
    } else if let (Some(i), None) = (ifindex, in6_getscope(dst)) {
        // Pinned to an interface (IPV6_PKTINFO): on-link.
        (i, *dst, 0)
    } else {
        let Some(rt) = v.builtin(IP6).rt.lookup(key(dst)) else {
            v.builtin(IP6).stats.noroute += 1;
            return Err(IpOutErr::NoRoute);
        };
        if rt.flags & RTF_BLACKHOLE != 0 {
            return Ok(None);
        }
        if rt.flags & RTF_REJECT != 0 {
            return Err(IpOutErr::NoRoute);
        }
        (rt.ifindex, Ipv6Addr::from(rt.nexthop(key(dst))), rt.mtu)
    };
    let (ifmtu, up) = mtu_of(v, ifindex).ok_or(IpOutErr::NoRoute)?;
    if !up {
        return Err(IpOutErr::NetDown);
    }
    // The link MTU a router advertised (in6_ifmtu).
    let ifmtu = match crate::netinet6::nd6::nd6_linkmtu(v, ifindex) {
        0 => ifmtu,
        m => (m as usize).min(ifmtu),
    };
    let mtu = if rtmtu == 0 { ifmtu } else { (rtmtu as usize).min(ifmtu) };
    Ok(Some(NextHop6 { ifindex, nexthop, mtu }))
}

/// Send `payload` (a transport's bytes) from `src` to `dst` (scopes
/// embedded) with a new IPv6 header; an unspecified `src` is chosen.
pub fn ip6_output(
    k: &mut Kernel,
    v: &mut Vnet,
    mut payload: Mbuf,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    o: &Ip6Opts,
) -> Result<(), IpOutErr> {
    if payload.len() > IPV6_MAXPACKET {
        return Err(IpOutErr::MsgSize(IPV6_MAXPACKET as u32));
    }
    let Some(mut nh) = ip6_route(v, &dst, o.ifindex)? else {
        return Ok(());
    };
    // Fragments at the path's MTU, once it is known (`ip6_getpmtu`).
    if let Some(pmtu) = tcp_hc_getmtu(v, k.now(), IpAddr::V6(dst)) {
        nh.mtu = nh.mtu.min(pmtu as usize);
    }
    let src = if src.is_unspecified() && !o.unspec_src {
        match in6_selectsrc(v, &dst, nh.ifindex) {
            Some(s) => s,
            None => {
                v.builtin(IP6).stats.sources_none += 1;
                return Err(IpOutErr::AddrNotAvail);
            }
        }
    } else {
        src
    };
    let ip6 = v.builtin(IP6);
    let hlim = o.hlim.unwrap_or(if dst.is_multicast() {
        1
    } else {
        ip6.hlim.clamp(1, 255) as u8
    });
    let h = Ipv6Repr {
        src: in6_clearscope(src),
        dst: in6_clearscope(dst),
        next_header: o.proto,
        payload_len: payload.len() as u16,
        hop_limit: hlim,
        traffic_class: o.tclass,
        flow_label: 0,
    };
    h.emit(payload.prepend(IP6_HDR_LEN));
    ip6.stats.localout += 1;
    let m = payload;
    if m.len() <= nh.mtu {
        return ip6_output_if(k, v, nh.ifindex, nh.nexthop, m).map_err(|(e, _)| e);
    }
    if o.dontfrag {
        v.builtin(IP6).stats.cantfrag += 1;
        return Err(IpOutErr::MsgSize(nh.mtu as u32));
    }
    let ip6 = v.builtin(IP6);
    ip6.id = ip6.id.wrapping_add(1);
    let id = ip6.id;
    let frags = ip6_fragment(m, nh.mtu.max(IPV6_MMTU as usize), id);
    let ip6 = v.builtin(IP6);
    ip6.stats.fragmented += 1;
    ip6.stats.ofragments += frags.len() as u64;
    for f in frags {
        ip6_output_if(k, v, nh.ifindex, nh.nexthop, f).map_err(|(e, _)| e)?;
    }
    Ok(())
}

/// Cut a datagram (a bare IPv6 header, then its payload) into fragments
/// that fit `mtu` (§4.5): each a copy of the header, a fragment header
/// and a multiple of 8 bytes but the last.
pub fn ip6_fragment(mut m: Mbuf, mtu: usize, ident: u32) -> Vec<Mbuf> {
    // Fragments carry pieces of the checksummed segment.
    m.finish_csum();
    let d = m.data();
    let nxt = Packet::new_unchecked(d).next_header();
    let payload = &d[IP6_HDR_LEN..];
    let room = (mtu - IP6_HDR_LEN - FragHdr::LEN) & !7;
    let mut out = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let n = room.min(payload.len() - at);
        let more = at + n < payload.len();
        let mut f = Vec::with_capacity(IP6_HDR_LEN + FragHdr::LEN + n);
        f.extend_from_slice(&d[..IP6_HDR_LEN]);
        f.extend_from_slice(&[0; FragHdr::LEN]);
        f.extend_from_slice(&payload[at..at + n]);
        FragHdr {
            next_header: nxt,
            offset: at as u16,
            more,
            ident,
        }
        .emit(&mut f[IP6_HDR_LEN..]);
        let mut p = Packet::new_unchecked(&mut f[..]);
        p.set_next_header(IPPROTO_FRAGMENT);
        p.set_payload_len((FragHdr::LEN + n) as u16);
        out.push(Mbuf::from_slice(&f));
        at += n;
    }
    out
}

/// Hand a datagram to interface `out` for `nexthop`: the loopback and
/// tunnels take it as it is; on Ethernet a multicast goes to its MAC,
/// a unicast to the neighbour's (nd6_resolve). On failure the datagram
/// comes back.
pub fn ip6_output_if(
    k: &mut Kernel,
    v: &mut Vnet,
    out: u32,
    nexthop: Ipv6Addr,
    m: Mbuf,
) -> Result<(), (IpOutErr, Mbuf)> {
    if crate::netinet6::in6::in6_disabled(v, out) {
        return Err((IpOutErr::NetDown, m));
    }
    let Some(ifp) = v.builtin(IF).get(out) else {
        return Err((IpOutErr::NoRoute, m));
    };
    let nobufs = |_| (IpOutErr::NoBufs, Mbuf::zeroed(0));
    if !ifp.is_ethernet() {
        return if_transmit(k, v, out, m).map_err(nobufs);
    }
    if nexthop.is_multicast() {
        let mac = multicast_mac(&nexthop);
        return ether_output_frame(k, v, out, mac, ETHERTYPE_IPV6, m).map_err(nobufs);
    }
    match nd6_resolve(k, v, out, nexthop, m) {
        Ok(Some((mac, m))) => ether_output_frame(k, v, out, mac, ETHERTYPE_IPV6, m).map_err(nobufs),
        Ok(None) => Ok(()),
        Err((Nd6Err::HostDown, m)) => Err((IpOutErr::HostDown, m)),
        Err((Nd6Err::NoBufs, m)) => Err((IpOutErr::NoBufs, m)),
    }
}
