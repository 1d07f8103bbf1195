//! IPv4 input and forwarding (after `ip_input.c`, RFC 1122 §3.2.1 and
//! RFC 1812 §5): validate, deliver what is ours (reassembling fragments),
//! and forward the rest when `net.inet.ip.forwarding` is on, decrementing
//! the TTL with an incremental checksum update (RFC 1624).

use std::net::{IpAddr, Ipv4Addr};

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::netinet::icmp::{self, icmp_error};
use crate::netinet::in_::{in_broadcast, in_ifaddrs, in_localip, in_multicast, in_prefix};
use crate::netinet::in_mcast::in_multi_member;
use crate::netinet::in_pcb::ip4;
use crate::netinet::ip::{IP, IPPROTO_ICMP, IpErr, Ipv4Hdr};
use crate::netinet::ip_output::{IpOutErr, ip_output_mtu, ip_route};
use crate::netinet::ip_reass::ip_reass;
use crate::netinet::protosw::{IpFacts, ip_protox};
use crate::vnet::Vnet;
use crate::wire::ipv4::Packet;

const IPOPT_EOL: u8 = 0;
const IPOPT_NOP: u8 = 1;
const IPOPT_LSRR: u8 = 131;
const IPOPT_SSRR: u8 = 137;

/// Walk the options (RFC 791 §3.1): `Err(offset)` of a malformed one;
/// `Ok(true)` if there is a source route.
fn ip_dooptions(opts: &[u8]) -> Result<bool, usize> {
    let mut i = 0;
    let mut srcroute = false;
    while i < opts.len() {
        match opts[i] {
            IPOPT_EOL => break,
            IPOPT_NOP => i += 1,
            t => {
                let len = *opts.get(i + 1).ok_or(i)? as usize;
                if len < 2 || i + len > opts.len() {
                    return Err(i + 1);
                }
                if t == IPOPT_LSRR || t == IPOPT_SSRR {
                    srcroute = true;
                }
                i += len;
            }
        }
    }
    Ok(srcroute)
}

/// A datagram from interface `index` (the netisr handler of
/// ETHERTYPE_IP); `l2bcast` says it came to the link broadcast.
pub fn ip_input(k: &mut Kernel, v: &mut Vnet, index: u32, mut m: Mbuf, l2bcast: bool) {
    let ip = v.builtin(IP);
    ip.stats.total += 1;
    let mut h = match Ipv4Hdr::parse(m.data()) {
        Ok(h) => h,
        Err(e) => {
            let s = &mut ip.stats;
            match e {
                IpErr::TooShort => s.toosmall += 1,
                IpErr::BadVers => s.badvers += 1,
                IpErr::BadHlen => s.badhlen += 1,
                IpErr::BadLen => s.badlen += 1,
                IpErr::BadSum => s.badsum += 1,
            }
            return;
        }
    };
    // Drop what the link padded on.
    m.truncate(h.len as usize);
    let srcroute = match ip_dooptions(&m.data()[20..h.hl]) {
        Ok(s) => s,
        Err(_) => {
            ip.stats.badoptions += 1;
            m.finish_csum();
            icmp_error(k, v, m.data(), icmp::ICMP_PARAMPROB, 0, 0, Some(index));
            return;
        }
    };
    let ours = in_localip(v, h.dst);
    let bcast = !ours && in_broadcast(v, h.dst, index);
    // No multicast routing: a group is ours where we joined it.
    let mcast = in_multicast(h.dst);
    if mcast && !in_multi_member(v, index, IpAddr::V4(Ipv4Addr::from_bits(h.dst))) {
        v.builtin(IP).stats.notmember += 1;
        return;
    }
    if ours || bcast || mcast {
        if h.is_fragment() {
            match ip_reass(k, v, m, &h) {
                Some(whole) => {
                    m = whole;
                    h = Packet::new_unchecked(m.data()).repr();
                }
                None => return,
            }
        }
        v.builtin(IP).stats.delivered += 1;
        return ip_deliver(k, v, index, m, &h, bcast || l2bcast || mcast);
    }
    let ip = v.builtin(IP);
    if !ip.forwarding || l2bcast {
        ip.stats.cantforward += 1;
        return;
    }
    if srcroute && !ip.sourceroute {
        ip.stats.cantforward += 1;
        m.finish_csum();
        icmp_error(
            k,
            v,
            m.data(),
            icmp::ICMP_UNREACH,
            icmp::ICMP_UNREACH_SRCFAIL,
            0,
            Some(index),
        );
        return;
    }
    ip_forward(k, v, index, m, &h);
}

/// Hand a datagram for us to its protocol (`ip_protox`), else to the
/// raw sockets, else back as protocol unreachable.
fn ip_deliver(k: &mut Kernel, v: &mut Vnet, index: u32, m: Mbuf, h: &Ipv4Hdr, bcast: bool) {
    let facts = IpFacts {
        src: ip4(h.src),
        dst: ip4(h.dst),
        proto: h.p,
        off: h.hl,
        end: h.len as usize,
        ifindex: index,
        bcast,
    };
    let m = match ip_protox(k, h.p) {
        Some(input) => input(k, v, m, &facts),
        None => Some(m),
    };
    let Some(m) = m else { return };
    if !crate::netinet::raw_ip::rip_input(k, v, h.p, m.data(), index) {
        v.builtin(IP).stats.noproto += 1;
        if !bcast {
            icmp_error(
                k,
                v,
                m.data(),
                icmp::ICMP_UNREACH,
                icmp::ICMP_UNREACH_PROTOCOL,
                0,
                Some(index),
            );
        }
    }
}

/// Forward a datagram that is not ours (RFC 1812 §5.2).
fn ip_forward(k: &mut Kernel, v: &mut Vnet, in_if: u32, mut m: Mbuf, h: &Ipv4Hdr) {
    if h.ttl <= 1 {
        // An error quotes the datagram as the wire would carry it.
        m.finish_csum();
        icmp_error(
            k,
            v,
            m.data(),
            icmp::ICMP_TIMXCEED,
            icmp::ICMP_TIMXCEED_INTRANS,
            0,
            Some(in_if),
        );
        return;
    }
    let nh = match ip_route(v, h.dst) {
        Ok(Some(nh)) => nh,
        Ok(None) => return, // blackhole
        Err(_) => {
            v.builtin(IP).stats.cantforward += 1;
            m.finish_csum();
            icmp_error(
                k,
                v,
                m.data(),
                icmp::ICMP_UNREACH,
                icmp::ICMP_UNREACH_HOST,
                0,
                Some(in_if),
            );
            return;
        }
    };
    Packet::new_unchecked(m.data_mut()).decrement_ttl();
    // Back out of the interface it came in on, to a neighbour on that
    // link: tell the sender of the better first hop (RFC 1812 §5.2.7.2).
    if nh.ifindex == in_if && nh.nexthop != h.dst && v.builtin(IP).redirect {
        let on_link = in_ifaddrs(v, in_if).any(|a| in_prefix(h.src, a.addr, a.plen));
        if on_link {
            let mut orig = m.data().to_vec();
            orig[8] += 1; // quote the datagram as it came
            redirect(k, v, &orig, nh.nexthop, in_if);
        }
    }
    match ip_output_mtu(k, v, nh, m, h.hl) {
        Ok(()) => v.builtin(IP).stats.forward += 1,
        Err((e, m)) => {
            v.builtin(IP).stats.cantforward += 1;
            let mut m = m;
            m.finish_csum();
            let mut orig = m.into_vec();
            orig[8] += 1;
            let (code, mtu) = match e {
                IpOutErr::MsgSize(mtu) => (icmp::ICMP_UNREACH_NEEDFRAG, mtu as u16),
                IpOutErr::NetDown | IpOutErr::NoRoute | IpOutErr::HostDown => (icmp::ICMP_UNREACH_HOST, 0),
                _ => return,
            };
            icmp_error(k, v, &orig, icmp::ICMP_UNREACH, code, mtu, Some(in_if));
        }
    }
}

/// An ICMP redirect (host) pointing the sender at `gw`.
fn redirect(k: &mut Kernel, v: &mut Vnet, orig: &[u8], gw: u32, in_if: u32) {
    v.builtin(IP).stats.redirectsent += 1;
    let Ok(h) = Packet::new_checked(orig).map(|p| p.repr()) else {
        return;
    };
    let quote = orig.len().min(h.hl + icmp::ICMP_QUOTELEN);
    let mut b = vec![0u8; icmp::ICMP_MINLEN + quote];
    b[icmp::ICMP_MINLEN..].copy_from_slice(&orig[..quote]);
    let mut msg = crate::wire::icmp::Packet::new_unchecked(&mut b[..]);
    msg.set_msg_type(icmp::ICMP_REDIRECT);
    msg.set_code(icmp::ICMP_REDIRECT_HOST);
    msg.set_gateway(gw);
    msg.fill_checksum();
    let src = crate::netinet::in_::in_ifaddr_for(v, in_if, h.src);
    let opts = crate::netinet::ip_output::IpOpts {
        src,
        proto: IPPROTO_ICMP,
        ..Default::default()
    };
    if let Some(icmp) = v.get_mut(icmp::ICMP) {
        icmp.stats.outhist.bump(icmp::ICMP_REDIRECT);
    }
    let _ = crate::netinet::ip_output::ip_output(k, v, Mbuf::from_slice(&b), h.src, &opts);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_walk() {
        assert_eq!(ip_dooptions(&[1, 1, 0, 0]), Ok(false));
        assert_eq!(ip_dooptions(&[131, 7, 4, 1, 2, 3, 4, 0]), Ok(true));
        assert_eq!(ip_dooptions(&[7, 0, 0, 0]), Err(1), "length below 2");
        assert_eq!(ip_dooptions(&[7, 9, 0, 0]), Err(1), "past the end");
        assert_eq!(ip_dooptions(&[1, 1, 1, 68]), Err(3), "no length byte");
    }
}
