//! Redirects (RFC 4861 §8), after `icmp6_redirect_output` and
//! `icmp6_redirect_input` in `icmp6.c`. A router that forwards a
//! datagram back out of the link it came in on, from a neighbour on that
//! link, tells the sender the better first hop: another router by its
//! link-local address, or the destination itself, on-link
//! (`net.inet6.ip6.redirect`). A host takes a redirect from the router
//! it now uses for that destination and installs a host route
//! (`RTF_DYNAMIC`) that lives `net.inet6.icmp6.redirtimeout` seconds
//! (`net.inet6.icmp6.rediraccept`); a router takes none. The routes are
//! no more than the neighbour cache's `nd6_maxentries`.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::net::radix::Key;
use crate::net::route::{Gateway, RTF_DYNAMIC, Rtentry};
use crate::net::rtsock::{rt_add, rt_delete};
use crate::netinet::protosw::IpFacts;
use crate::netinet6::icmp6::{ICMP6, icmp6_send};
use crate::netinet6::in6::{in6_clearscope, in6_ifaddrs, in6_linklocal, in6_setscope, is_scoped, key};
use crate::netinet6::ip6::IP6;
use crate::netinet6::ip6_output::NextHop6;
use crate::netinet6::nd6::{ND6, NdState, from_link, nd6_arm, nd6_cache_lladdr};
use crate::vnet::Vnet;
use crate::wire::icmpv6::{self, NdOpt, redirect_emit};
use crate::wire::ipv6::{Packet, is_link_local};

/// A host route a redirect installed, and when it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdRedirect {
    pub index: u32,
    /// The destination redirected (scope embedded).
    pub dst: Ipv6Addr,
    pub expire: Time,
}

/// `m` (as it came in on `in_if`, not yet forwarded) leaves by the same
/// interface to `nh`: redirect its sender if it is a neighbour and the
/// better hop can be named (§8.2), within the error rate limit.
pub fn icmp6_redirect_output(k: &mut Kernel, v: &mut Vnet, m: &mut Mbuf, in_if: u32, nh: &NextHop6) {
    let p = Packet::new_unchecked(m.data());
    let (src, dst) = (p.src_addr(), p.dst_addr());
    let neighbour =
        in6_ifaddrs(v, in_if).any(|ia| !is_scoped(&ia.addr) && (key(&ia.addr) ^ key(&src)) & u128::mask(ia.plen) == 0);
    // The target is a router's link-local address, or the destination.
    let onlink = nh.nexthop == dst;
    if !neighbour || dst.is_multicast() || !(onlink || is_link_local(&in6_clearscope(nh.nexthop))) {
        return;
    }
    let Some(from) = in6_linklocal(v, in_if) else { return };
    if !v.builtin(ICMP6).ratelimit(k.now()) {
        return;
    }
    let tlla = v
        .builtin(ND6)
        .table
        .get(&(in_if, key(&nh.nexthop)))
        .filter(|e| e.state != NdState::Incomplete)
        .map(|e| e.mac);
    m.finish_csum();
    let msg = redirect_emit(&in6_clearscope(nh.nexthop), &dst, tlla, m.data());
    v.builtin(IP6).stats.redirectsent += 1;
    icmp6_send(k, v, msg, from, src, Some(in_if), Some(255));
}

/// A redirect (§8.1 validates it, §8.3 acts on it): from the link-local
/// address of the router this host uses for its destination, for a
/// unicast destination, to a link-local target or the destination
/// itself. The target's MAC is learnt, and a host route installed.
pub fn icmp6_redirect_input(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, f: &IpFacts) {
    let IpAddr::V6(src) = f.src else { return };
    let router = v.get(IP6).is_some_and(|ip6| ip6.forwarding);
    if router || !v.builtin(ICMP6).rediraccept {
        return;
    }
    let index = f.ifindex;
    let Some((target, dst, tlla)) = redirect_valid(v, m, f, src) else {
        v.builtin(ICMP6).stats.badredirect += 1;
        return;
    };
    let onlink = target == dst;
    if let Some(mac) = tlla {
        nd6_cache_lladdr(k, v, index, target, mac);
        if let Some(e) = v.builtin(ND6).table.get_mut(&(index, key(&target))) {
            e.router = !onlink;
        }
    }
    let (now, timeout) = (k.now(), v.builtin(ICMP6).redirtimeout.max(1) as u64);
    let expire = now.saturating_add(Duration::from_secs(timeout));
    let nd = v.builtin(ND6);
    let max = nd.maxentries.max(1) as usize;
    let auto = nd.auto();
    let known = auto.redirects.iter().position(|r| r.dst == dst);
    if known.is_none() && auto.redirects.len() >= max {
        return;
    }
    // A route set by hand, or one of our own, is not replaced.
    if v.builtin(IP6)
        .rt
        .get(key(&dst), 128)
        .is_some_and(|e| e.flags & RTF_DYNAMIC == 0)
    {
        return;
    }
    let _ = rt_delete(v, key(&dst), 128);
    let e = Rtentry {
        dst: key(&dst),
        plen: 128,
        gateway: if onlink {
            Gateway::Link(index)
        } else {
            Gateway::Inet(key(&target))
        },
        ifindex: index,
        flags: RTF_DYNAMIC,
        mtu: 0,
    };
    if rt_add(v, e).is_err() {
        return;
    }
    let auto = v.builtin(ND6).auto();
    let r = NdRedirect { index, dst, expire };
    match known {
        Some(i) => auto.redirects[i] = r,
        None => auto.redirects.push(r),
    }
    nd6_arm(k, v, expire);
}

/// The checks of §8.1; the target and destination (scopes embedded) and
/// the target's MAC if given.
fn redirect_valid(v: &mut Vnet, m: &Mbuf, f: &IpFacts, src: Ipv6Addr) -> Option<(Ipv6Addr, Ipv6Addr, Option<[u8; 6]>)> {
    let msg = icmpv6::Packet::new_checked(&m.data()[f.off..f.end])?;
    let ok = from_link(m) && msg.code() == 0 && f.end - f.off >= 40 && is_link_local(&in6_clearscope(src));
    if !ok {
        return None;
    }
    let opts = msg.nd_options()?;
    let (t, d) = (msg.target(), msg.redirect_dst());
    if d.is_multicast() || !(t == d || is_link_local(&t)) {
        return None;
    }
    let (target, dst) = (in6_setscope(t, f.ifindex), in6_setscope(d, f.ifindex));
    // It must come from the first hop used now for the destination.
    let rt = v.builtin(IP6).rt.lookup(key(&dst))?;
    if rt.ifindex != f.ifindex || rt.gateway != Gateway::Inet(key(&src)) {
        return None;
    }
    let tlla = opts.iter().find_map(|o| match o {
        NdOpt::TargetLinkAddr(mac) => Some(*mac),
        _ => None,
    });
    Some((target, dst, tlla))
}

/// Redirect routes whose time is up go.
pub(crate) fn nd6_redirect_timer(v: &mut Vnet, now: Time) {
    let Some(auto) = v.get_mut(ND6).and_then(|nd| nd.auto.as_mut()) else {
        return;
    };
    if auto.redirects.iter().all(|r| r.expire > now) {
        return;
    }
    let mut gone = Vec::new();
    auto.redirects.retain(|r| {
        if r.expire <= now {
            gone.push(r.dst);
        }
        r.expire > now
    });
    for dst in gone {
        if v.builtin(IP6)
            .rt
            .get(key(&dst), 128)
            .is_some_and(|e| e.flags & RTF_DYNAMIC != 0)
        {
            let _ = rt_delete(v, key(&dst), 128);
        }
    }
}
