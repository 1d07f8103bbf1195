//! IPv6 input and forwarding (after `ip6_input.c`, `ip6_forward.c`,
//! RFC 8200 §4): validate the header and its addresses, walk the
//! extension headers (`ext_walk`), act on unknown options, deliver what
//! is ours (reassembling fragments) through `ip_protox`, and forward the
//! rest when `net.inet6.ip6.forwarding` is on.

use std::net::{IpAddr, Ipv6Addr};

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::net::ifnet::IF;
use crate::netinet::ip_output::IpOutErr;
use crate::netinet::protosw::{IpFacts, ip_protox};
use crate::netinet6::frag6::frag6_input;
use crate::netinet6::icmp6::icmp6_error;
use crate::netinet6::in6::{in6_clearscope, in6_ifaddr_all, in6_localip, in6_multi, in6_setscope, is_scoped};
use crate::netinet6::ip6::{IP6, IP6_HDR_LEN, IPPROTO_DSTOPTS, IPPROTO_HOPOPTS, IPPROTO_NONE};
use crate::netinet6::ip6_output::{ip6_output_if, ip6_route_via};
use crate::vnet::Vnet;
use crate::wire::icmpv6::{
    ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE, ICMP6_DST_UNREACH_NOROUTE, ICMP6_PACKET_TOO_BIG,
    ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, ICMP6_PARAMPROB_NEXTHEADER, ICMP6_PARAMPROB_OPTION,
    ICMP6_TIME_EXCEED_TRANSIT, ICMP6_TIME_EXCEEDED,
};
use crate::wire::ipv6::{ExtChain, Ip6Err, Packet, ext_options, ext_walk, opt_unknown_action, options};

/// A datagram from interface `index` (the netisr handler of
/// ETHERTYPE_IPV6).
pub fn ip6_input(k: &mut Kernel, v: &mut Vnet, index: u32, mut m: Mbuf, _l2bcast: bool) {
    if crate::netinet6::in6::in6_disabled(v, index) {
        return;
    }
    let ip6 = v.builtin(IP6);
    ip6.stats.total += 1;
    let (src, dst, plen) = match Packet::new_checked(m.data()) {
        Ok(p) => (p.src_addr(), p.dst_addr(), p.payload_len()),
        Err(e) => {
            match e {
                Ip6Err::TooShort => ip6.stats.toosmall += 1,
                Ip6Err::BadVersion => ip6.stats.badvers += 1,
                _ => ip6.stats.tooshort += 1,
            }
            return;
        }
    };
    // Drop what the link padded on.
    m.truncate(IP6_HDR_LEN + plen as usize);
    let lo = v.get(IF).and_then(|i| i.get(index)).is_some_and(|i| i.is_loopback());
    let ip6 = v.builtin(IP6);
    // RFC 4291 §2.5.2, §2.5.3, §2.7: never from a multicast or a
    // v4-mapped address, ::1 only on the loopback, and no zone on the wire.
    let bad = src.is_multicast()
        || src.to_ipv4_mapped().is_some()
        || dst.to_ipv4_mapped().is_some()
        || ((src.is_loopback() || dst.is_loopback()) && !lo)
        || (is_scoped(&src) && src.segments()[1] != 0)
        || (is_scoped(&dst) && dst.segments()[1] != 0)
        || dst.is_unspecified();
    if bad {
        ip6.stats.badscope += 1;
        return;
    }
    let zone = |a: &Ipv6Addr| if lo { loop_zone(v, a, index) } else { index };
    let (src, dst) = (in6_setscope(src, zone(&src)), in6_setscope(dst, zone(&dst)));
    let chain = match ext_walk(m.data()) {
        Ok(c) => c,
        Err(Ip6Err::BadExt { pointer }) => {
            v.builtin(IP6).stats.badoptions += 1;
            return param_prob(k, v, &m, ICMP6_PARAMPROB_HEADER, pointer, index);
        }
        Err(_) => {
            v.builtin(IP6).stats.tooshort += 1;
            return;
        }
    };
    // Hop-by-hop options are every node's to read (§4.3).
    if chain.hbh && !ip6_unknown_opts(k, v, &m, IP6_HDR_LEN, &dst, index) {
        return;
    }
    let ours = if dst.is_multicast() {
        in6_multi(v, index, &dst)
    } else {
        in6_localip(v, &dst)
    };
    if ours {
        return ip6_deliver(k, v, index, m, chain, src, dst);
    }
    let ip6 = v.builtin(IP6);
    if dst.is_multicast() {
        ip6.stats.notmember += 1;
        return;
    }
    if !ip6.forwarding {
        ip6.stats.cantforward += 1;
        return;
    }
    ip6_forward(k, v, index, m, src, dst);
}

/// The interface a scoped address that came through the loopback
/// belongs to: the one holding it (it was sent to ourselves).
fn loop_zone(v: &Vnet, a: &Ipv6Addr, lo: u32) -> u32 {
    in6_ifaddr_all(v)
        .iter()
        .find(|ia| in6_clearscope(ia.addr) == *a)
        .map_or(lo, |ia| ia.index)
}

/// Act on the hop-by-hop options at `at`: the first unknown one not to
/// be skipped decides (router alert is known, MLD's).
fn ip6_unknown_opts(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, at: usize, dst: &Ipv6Addr, index: u32) -> bool {
    let (opts, start) = ext_options(m.data(), at);
    let unknown = options(opts)
        .flatten()
        .find(|o| o.kind != crate::wire::ipv6::IP6OPT_ROUTER_ALERT && opt_unknown_action(o.kind) != 0);
    unknown.is_none_or(|o| ip6_unknown_opt(k, v, m, start + o.at, dst, index))
}

/// An unknown option at `pointer` whose action is not "skip" (§4.2):
/// discard the datagram (01), telling the sender (10), or telling it
/// only if it was not to a multicast address (11). Always false: the
/// datagram is dropped.
fn ip6_unknown_opt(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, pointer: usize, dst: &Ipv6Addr, index: u32) -> bool {
    v.builtin(IP6).stats.badoptions += 1;
    let tell = match m.data().get(pointer).map_or(1, |&kind| opt_unknown_action(kind)) {
        2 => true,
        3 => !dst.is_multicast(),
        _ => false,
    };
    if tell {
        param_prob(k, v, m, ICMP6_PARAMPROB_OPTION, pointer, index);
    }
    false
}

/// A parameter problem pointing at `pointer`, about `m`.
fn param_prob(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, code: u8, pointer: usize, index: u32) {
    icmp6_error(k, v, m.data(), ICMP6_PARAM_PROB, code, pointer as u32, index);
}

/// Deliver a datagram for us: destination options acted on, a routing
/// header refused unless it is spent (RFC 5095), fragments reassembled,
/// then the transport (`ip_protox`), else the raw sockets, else a
/// parameter problem at its next header.
fn ip6_deliver(
    k: &mut Kernel,
    v: &mut Vnet,
    index: u32,
    mut m: Mbuf,
    mut chain: ExtChain,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) {
    if let Some((at, _typ, segleft)) = chain.routing
        && segleft > 0
    {
        // Type 0 is deprecated (RFC 5095), and we process no other.
        v.builtin(IP6).stats.badoptions += 1;
        return param_prob(k, v, &m, ICMP6_PARAMPROB_HEADER, at + 2, index);
    }
    if chain.frag.is_some() {
        match frag6_input(k, v, m, &chain, index) {
            Some(whole) => {
                m = whole;
                chain = match ext_walk(m.data()) {
                    Ok(c) => c,
                    Err(_) => return,
                };
            }
            None => return,
        }
    }
    if chain.proto == IPPROTO_DSTOPTS || chain.proto == IPPROTO_HOPOPTS {
        // Left by the walk only after a fragment: nothing to deliver.
        return;
    }
    // Destination options are ours to act on (`dest6_input`).
    if let Some(at) = chain.dst_unknown {
        ip6_unknown_opt(k, v, &m, at, &dst, index);
        return;
    }
    let ip6 = v.builtin(IP6);
    ip6.stats.delivered += 1;
    if chain.proto == IPPROTO_NONE {
        return;
    }
    let facts = IpFacts {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        proto: chain.proto,
        off: chain.off,
        end: m.len(),
        ifindex: index,
        bcast: dst.is_multicast(),
    };
    let m = match ip_protox(k, chain.proto) {
        Some(input) => input(k, v, m, &facts),
        None => Some(m),
    };
    let Some(m) = m else { return };
    if !crate::netinet::raw_ip::rip_input(k, v, chain.proto, m.data(), index) {
        v.builtin(IP6).stats.noproto += 1;
        param_prob(k, v, &m, ICMP6_PARAMPROB_NEXTHEADER, chain.nxt, index);
    }
}

/// Forward a datagram that is not ours (RFC 8200 §3, RFC 4443 §3):
/// never beyond its addresses' scope, a hop limit spent is "time
/// exceeded", no route "unreachable", too big for the next link "packet
/// too big" (routers never fragment).
fn ip6_forward(k: &mut Kernel, v: &mut Vnet, in_if: u32, mut m: Mbuf, src: Ipv6Addr, dst: Ipv6Addr) {
    let orig = |m: &mut Mbuf| {
        m.finish_csum();
        m.data().to_vec()
    };
    if is_scoped(&src) || is_scoped(&dst) {
        v.builtin(IP6).stats.cantforward += 1;
        if is_scoped(&src) && !is_scoped(&dst) {
            let o = orig(&mut m);
            icmp6_error(k, v, &o, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_BEYONDSCOPE, 0, in_if);
        }
        return;
    }
    let hlim = Packet::new_unchecked(m.data()).hop_limit();
    if hlim <= 1 {
        let o = orig(&mut m);
        icmp6_error(k, v, &o, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_TRANSIT, 0, in_if);
        return;
    }
    let nh = match ip6_route_via(v, &dst, None) {
        Ok(Some(nh)) => nh,
        Ok(None) => return,
        Err(_) => {
            v.builtin(IP6).stats.cantforward += 1;
            let o = orig(&mut m);
            icmp6_error(k, v, &o, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOROUTE, 0, in_if);
            return;
        }
    };
    if m.len() > nh.mtu {
        v.builtin(IP6).stats.cantforward += 1;
        let o = orig(&mut m);
        icmp6_error(k, v, &o, ICMP6_PACKET_TOO_BIG, 0, nh.mtu as u32, in_if);
        return;
    }
    // Back out of the link it came from: the sender hears of the better
    // first hop (RFC 4861 §8.2), and the datagram still goes.
    if nh.ifindex == in_if && v.builtin(IP6).redirect {
        crate::netinet6::nd6_redirect::icmp6_redirect_output(k, v, &mut m, in_if, &nh);
    }
    Packet::new_unchecked(m.data_mut()).set_hop_limit(hlim - 1);
    match ip6_output_if(k, v, nh.ifindex, nh.nexthop, m) {
        Ok(()) => v.builtin(IP6).stats.forward += 1,
        Err((e, mut m)) => {
            v.builtin(IP6).stats.cantforward += 1;
            if matches!(e, IpOutErr::HostDown | IpOutErr::NoRoute | IpOutErr::NetDown) && !m.is_empty() {
                // Quote it as it came.
                Packet::new_unchecked(m.data_mut()).set_hop_limit(hlim);
                let o = orig(&mut m);
                icmp6_error(
                    k,
                    v,
                    &o,
                    ICMP6_DST_UNREACH,
                    crate::wire::icmpv6::ICMP6_DST_UNREACH_ADDR,
                    0,
                    in_if,
                );
            }
        }
    }
}
