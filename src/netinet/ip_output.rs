//! IPv4 output (after `ip_output.c`): route lookup, source address
//! selection, the header, fragmentation (RFC 791 §3.2), and handing the
//! datagram to the link layer (ARP for Ethernet, or the loopback).

use std::net::{IpAddr, Ipv4Addr};

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::net::ethernet::{BROADCAST, ETHERTYPE_IP, ether_output_frame};
use crate::net::ifnet::{IF, if_transmit};
use crate::net::route::{ROUTE, RTF_BLACKHOLE, RTF_REJECT};
use crate::netinet::arp::{ArpErr, arpresolve};
use crate::netinet::in_::{in_broadcast, in_ifaddr_for, in_localip, in_multicast};
use crate::netinet::in_mcast::{ether_map_ip_multicast, in_multi_member};
use crate::netinet::ip::{INADDR_BROADCAST, IP, IP_DF, IP_HDR_LEN, IP_MF, IP_OFFMASK, Ipv4Hdr};
use crate::vnet::Vnet;
use crate::wire::ipv4::Packet;

/// Options of an output datagram (the socket's IP-level options).
#[derive(Clone, Copy, Debug, Default)]
pub struct IpOpts {
    /// Source address; chosen from the route if `None`.
    pub src: Option<u32>,
    /// TTL; `net.inet.ip.ttl` if `None`.
    pub ttl: Option<u8>,
    pub tos: u8,
    /// Don't fragment.
    pub df: bool,
    /// Send out of this interface without a route (limited broadcast,
    /// `IP_MULTICAST_IF`).
    pub ifindex: Option<u32>,
    pub proto: u8,
    /// `IP_MULTICAST_LOOP`: a multicast also goes to this host's members.
    pub mloop: bool,
}

/// Why a datagram could not be sent; `Display` is the errno text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpOutErr {
    #[error("No route to host")]
    NoRoute,
    #[error("Host is down")]
    HostDown,
    #[error("Network is down")]
    NetDown,
    #[error("Message too long")]
    MsgSize(u32),
    #[error("No buffer space available")]
    NoBufs,
    #[error("Permission denied")]
    Access,
    #[error("Invalid argument")]
    Invalid,
    /// No source address to send from (EADDRNOTAVAIL).
    #[error("Can't assign requested address")]
    AddrNotAvail,
}

/// Send `payload` to `dst` with a new IPv4 header.
pub fn ip_output(k: &mut Kernel, v: &mut Vnet, mut payload: Mbuf, dst: u32, o: &IpOpts) -> Result<(), IpOutErr> {
    let len = IP_HDR_LEN + payload.len();
    if len > u16::MAX as usize {
        return Err(IpOutErr::MsgSize(u16::MAX as u32));
    }
    let ip = v.builtin(IP);
    let ttl = o.ttl.unwrap_or(ip.defttl.clamp(1, 255) as u8);
    let id = ip.next_id();
    let mut h = Ipv4Hdr::new(o.src.unwrap_or(0), dst, o.proto, ttl, id, len as u16);
    h.tos = o.tos;
    if o.df {
        h.off = IP_DF;
    }
    let hb = payload.prepend(IP_HDR_LEN);
    h.write(hb);
    ip_send(k, v, payload, o.ifindex, o.mloop)
}

/// Send a datagram that already has its header (raw sockets with
/// `IP_HDRINCL`): a zero id or source is filled in, the checksum redone.
pub fn ip_output_raw(k: &mut Kernel, v: &mut Vnet, mut m: Mbuf) -> Result<(), IpOutErr> {
    let d = m.data_mut();
    if d.len() < IP_HDR_LEN || d[0] >> 4 != 4 {
        return Err(IpOutErr::Access);
    }
    let len = d.len() as u16;
    d[2..4].copy_from_slice(&len.to_be_bytes());
    let ip = v.builtin(IP);
    ip.stats.rawout += 1;
    let d = m.data_mut();
    if d[4..6] == [0, 0] {
        let id = v.builtin(IP).next_id();
        m.data_mut()[4..6].copy_from_slice(&id.to_be_bytes());
    }
    ip_send(k, v, m, None, false)
}

/// Where a datagram goes: out of `ifindex` to `nexthop`, `mtu` at most.
#[derive(Clone, Copy, Debug)]
pub struct NextHop {
    pub ifindex: u32,
    pub nexthop: u32,
    pub mtu: usize,
}

/// Look up the way to `dst`: `Ok(None)` for a blackhole.
pub fn ip_route(v: &mut Vnet, dst: u32) -> Result<Option<NextHop>, IpOutErr> {
    let Some(rt) = v.builtin(ROUTE).lookup(dst) else {
        v.builtin(IP).stats.noroute += 1;
        return Err(IpOutErr::NoRoute);
    };
    if rt.flags & RTF_BLACKHOLE != 0 {
        return Ok(None);
    }
    if rt.flags & RTF_REJECT != 0 {
        return Err(IpOutErr::NoRoute);
    }
    let Some(ifp) = v.builtin(IF).get(rt.ifindex) else {
        return Err(IpOutErr::NoRoute);
    };
    if !ifp.is_up() {
        return Err(IpOutErr::NetDown);
    }
    let mtu = if rt.mtu == 0 { ifp.mtu } else { rt.mtu.min(ifp.mtu) } as usize;
    Ok(Some(NextHop {
        ifindex: rt.ifindex,
        nexthop: rt.nexthop(dst),
        mtu,
    }))
}

/// Route and send a datagram this vnet originates, whose header is
/// written (source possibly 0, checksum to be done).
pub(crate) fn ip_send(
    k: &mut Kernel,
    v: &mut Vnet,
    mut m: Mbuf,
    ifindex: Option<u32>,
    mloop: bool,
) -> Result<(), IpOutErr> {
    let h = match Packet::new_checked(m.data()) {
        Ok(p) => p.repr(),
        Err(_) => return Err(IpOutErr::Invalid),
    };
    let nh = match ifindex {
        Some(i) => {
            let mtu = v.builtin(IF).get(i).ok_or(IpOutErr::NoRoute)?.mtu as usize;
            NextHop {
                ifindex: i,
                nexthop: h.dst,
                mtu,
            }
        }
        None if h.dst == INADDR_BROADCAST => return Err(IpOutErr::NoRoute),
        None => match ip_route(v, h.dst)? {
            Some(nh) => nh,
            None => return Ok(()),
        },
    };
    if h.src == 0 {
        // Our own address answers from itself; otherwise the interface's.
        let src = if in_localip(v, h.dst) {
            Some(h.dst)
        } else {
            in_ifaddr_for(v, nh.ifindex, nh.nexthop)
        };
        let Some(src) = src else { return Err(IpOutErr::NoRoute) };
        Packet::new_unchecked(m.data_mut()).set_src_addr(src);
    }
    Packet::new_unchecked(m.data_mut()).fill_checksum();
    v.builtin(IP).stats.localout += 1;
    if mloop && in_multicast(h.dst) && in_multi_member(v, nh.ifindex, IpAddr::V4(Ipv4Addr::from_bits(h.dst))) {
        ip_mloopback(k, v, nh.ifindex, &m);
    }
    ip_output_mtu(k, v, nh, m, h.hl).map_err(|(e, _)| e)
}

/// A copy of a multicast this host sends, for its own members on the
/// interface it leaves by, received as if it came back (`ip_mloopback`).
fn ip_mloopback(k: &mut Kernel, v: &mut Vnet, index: u32, m: &Mbuf) {
    let mut copy = m.clone();
    copy.finish_csum();
    crate::net::ifnet::if_proto_input(k, v, index, ETHERTYPE_IP, copy, false);
}

/// Send a routed datagram, fragmenting it to fit the MTU unless it says
/// DF; on failure the datagram comes back (for an ICMP error).
pub fn ip_output_mtu(
    k: &mut Kernel,
    v: &mut Vnet,
    nh: NextHop,
    mut m: Mbuf,
    hl: usize,
) -> Result<(), (IpOutErr, Mbuf)> {
    if m.len() <= nh.mtu {
        return ip_output_if(k, v, nh.ifindex, nh.nexthop, m);
    }
    let off = u16::from_be_bytes([m.data()[6], m.data()[7]]);
    if off & IP_DF != 0 {
        v.builtin(IP).stats.cantfrag += 1;
        return Err((IpOutErr::MsgSize(nh.mtu as u32), m));
    }
    // Fragments carry pieces of the checksummed segment.
    m.finish_csum();
    let frags = ip_fragment(&m, hl, nh.mtu);
    let ip = v.builtin(IP);
    ip.stats.fragmented += 1;
    ip.stats.ofragments += frags.len() as u64;
    for f in frags {
        if let Err((e, _)) = ip_output_if(k, v, nh.ifindex, nh.nexthop, f) {
            return Err((e, m));
        }
    }
    Ok(())
}

/// Cut a datagram into fragments that fit `mtu` (RFC 791 §3.2): offsets
/// in units of 8 bytes, MF on all but the last (and on the last if the
/// datagram was itself a non-final fragment). Options stay in the first.
pub fn ip_fragment(m: &Mbuf, hl: usize, mtu: usize) -> Vec<Mbuf> {
    let d = m.data();
    let payload = &d[hl..];
    let off0 = Packet::new_unchecked(d).flags_offset();
    let (base, mf0) = (off0 & IP_OFFMASK, off0 & IP_MF);
    let mut out = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let hlen = if at == 0 { hl } else { IP_HDR_LEN };
        let room = (mtu.saturating_sub(hlen) & !7).max(8);
        let n = room.min(payload.len() - at);
        let last = at + n == payload.len();
        let mut f = Vec::with_capacity(hlen + n);
        f.extend_from_slice(&d[..IP_HDR_LEN]);
        if at == 0 {
            f.extend_from_slice(&d[IP_HDR_LEN..hl]);
        }
        f.extend_from_slice(&payload[at..at + n]);
        let len = f.len() as u16;
        let mut p = Packet::new_unchecked(&mut f[..]);
        p.set_header_len(hlen);
        p.set_total_len(len);
        p.set_flags_offset((base + (at / 8) as u16) | if last { mf0 } else { IP_MF });
        p.fill_checksum();
        out.push(Mbuf::from_slice(&f));
        at += n;
    }
    out
}

/// Hand a datagram to interface `out` for `nexthop`: the loopback takes it
/// as it is; Ethernet needs the next hop's address (broadcast, or ARP).
/// On failure the datagram comes back.
pub fn ip_output_if(k: &mut Kernel, v: &mut Vnet, out: u32, nexthop: u32, m: Mbuf) -> Result<(), (IpOutErr, Mbuf)> {
    let Some(ifp) = v.builtin(IF).get(out) else {
        return Err((IpOutErr::NoRoute, m));
    };
    // The frame is gone either way; a full queue is `ENOBUFS`.
    let nobufs = |_| (IpOutErr::NoBufs, Mbuf::zeroed(0));
    // Loopbacks and tunnels take the datagram as it is.
    if !ifp.is_ethernet() {
        return if_transmit(k, v, out, m).map_err(nobufs);
    }
    if nexthop == INADDR_BROADCAST || in_broadcast(v, nexthop, out) {
        return ether_output_frame(k, v, out, BROADCAST, ETHERTYPE_IP, m).map_err(nobufs);
    }
    if in_multicast(nexthop) {
        let mac = ether_map_ip_multicast(nexthop);
        return ether_output_frame(k, v, out, mac, ETHERTYPE_IP, m).map_err(nobufs);
    }
    match arpresolve(k, v, out, nexthop, m) {
        Ok(Some((mac, m))) => ether_output_frame(k, v, out, mac, ETHERTYPE_IP, m).map_err(nobufs),
        Ok(None) => Ok(()),
        Err((ArpErr::HostDown, m)) => Err((IpOutErr::HostDown, m)),
        Err((ArpErr::NoBufs, m)) => Err((IpOutErr::NoBufs, m)),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_cover_the_payload_in_units_of_eight() {
        let mut pkt = vec![0u8; 20 + 3000];
        Ipv4Hdr::new(1, 2, 17, 64, 9, 3020).write(&mut pkt);
        for (i, b) in pkt[20..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let frags = ip_fragment(&Mbuf::from_slice(&pkt), 20, 1500);
        assert_eq!(frags.len(), 3);
        let mut payload = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let h = Ipv4Hdr::parse(f.data()).expect("valid fragment");
            assert!(f.len() <= 1500);
            assert_eq!(h.frag_off(), payload.len());
            assert_eq!(h.off & IP_MF != 0, i < 2);
            payload.extend_from_slice(&f.data()[20..]);
        }
        assert_eq!(payload, &pkt[20..]);
    }
}
