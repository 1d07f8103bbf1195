//! IPv6 addresses on interfaces, after `in6.c` and `in6_ifattach.c`:
//! adding and removing them with their prefix and local routes, the
//! link-local address every interface gets (AUTO_LINKLOCAL), ::1 on lo0,
//! the groups an interface listens to, and source address selection
//! (RFC 6724, its rules that matter here).
//!
//! Scoped addresses (link-local, RFC 4007) carry their interface inside
//! the stack, embedded as KAME does (`wire::ipv6::in6_setscope`): so
//! `fe80::1%epair0a` is one address, and each interface's `fe80::/64`
//! is a route of its own.

use std::net::Ipv6Addr;

use crate::kern::Kernel;
use crate::net::ifnet::IF;
use crate::net::route::{Gateway, RTF_STATIC, Rtentry};
use crate::net::rtsock::{RTM_DELADDR, RTM_NEWADDR, rt_add, rt_delete, rt_newaddrmsg, rt_purge_if};
use crate::netinet6::ip6::{IP6, Ip6};
use crate::netinet6::nd6_dad::{nd6_dad_needed, nd6_dad_start, nd6_dad_stop};
use crate::vnet::Vnet;
use crate::wire::ipv6::{eui64, is_link_local, solicited_node};
pub use crate::wire::ipv6::{in6_clearscope, in6_getscope, in6_setscope, is_scoped};

// Address flags (netinet6/in6_var.h).
pub const IN6_IFF_ANYCAST: u16 = 0x01;
pub const IN6_IFF_TENTATIVE: u16 = 0x02;
pub const IN6_IFF_DUPLICATED: u16 = 0x04;
pub const IN6_IFF_DETACHED: u16 = 0x08;
pub const IN6_IFF_DEPRECATED: u16 = 0x10;
pub const IN6_IFF_AUTOCONF: u16 = 0x40;

/// An IPv6 address of an interface (`struct in6_ifaddr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct In6Ifaddr {
    /// The interface it is on.
    pub index: u32,
    /// The address, its scope embedded if it has one.
    pub addr: Ipv6Addr,
    pub plen: u8,
    /// `IN6_IFF_*`.
    pub flags: u16,
}

impl In6Ifaddr {
    /// May it be used (as a source, or to receive)? Not while DAD runs
    /// or after it failed.
    pub fn usable(&self) -> bool {
        self.flags & (IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED) == 0
    }
}

/// An address as a routing key.
pub fn key(a: &Ipv6Addr) -> u128 {
    u128::from(*a)
}

/// Interface `index`'s IPv6 addresses, in the order they were added.
pub fn in6_ifaddrs(v: &Vnet, index: u32) -> impl Iterator<Item = &In6Ifaddr> {
    in6_ifaddr_all(v).iter().filter(move |ia| ia.index == index)
}

/// Every IPv6 address of the vnet.
pub fn in6_ifaddr_all(v: &Vnet) -> &[In6Ifaddr] {
    v.get(IP6).map_or(&[], |ip6| &ip6.ifaddrs)
}

/// Is `a` (scope embedded) one of ours, ready for use?
pub fn in6_localip(v: &Vnet, a: &Ipv6Addr) -> bool {
    in6_ifaddr_all(v).iter().any(|ia| ia.addr == *a && ia.usable())
}

/// Interface `index`'s usable link-local address (scope embedded): the
/// source of what only the link hears (RS, RA, MLD).
pub fn in6_linklocal(v: &Vnet, index: u32) -> Option<Ipv6Addr> {
    in6_ifaddrs(v, index)
        .find(|ia| ia.usable() && is_link_local(&in6_clearscope(ia.addr)))
        .map(|ia| ia.addr)
}

/// Our address `a`, in any state.
pub fn in6_ifaddr_of<'a>(v: &'a Vnet, a: &Ipv6Addr) -> Option<&'a In6Ifaddr> {
    in6_ifaddr_all(v).iter().find(|ia| ia.addr == *a)
}

/// Does interface `index` listen to multicast group `g` (scope embedded)?
/// Every interface joins the all-nodes groups and, for each of its
/// addresses, the solicited-node group (RFC 4861 §7.2.1); a router the
/// all-routers group (RFC 4291 §2.7.1); and those its sockets joined.
pub fn in6_multi(v: &Vnet, index: u32, g: &Ipv6Addr) -> bool {
    let g = in6_clearscope(*g);
    let s = g.segments();
    if matches!(s, [0xff01 | 0xff02, 0, 0, 0, 0, 0, 0, 1]) {
        return true;
    }
    if s == [0xff02, 0, 0, 0, 0, 0, 0, 2] {
        return v.get(IP6).is_some_and(|ip6| ip6.forwarding);
    }
    in6_ifaddrs(v, index).any(|ia| solicited_node(&ia.addr) == g)
        || crate::netinet::in_mcast::in_multi_member(v, index, std::net::IpAddr::V6(g))
}

/// Errors of address configuration, as ifconfig(8) reports them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum In6Error {
    #[error("ioctl (SIOCDIFADDR_IN6): Can't assign requested address")]
    NotFound,
    #[error("ioctl (SIOCAIFADDR_IN6): Invalid argument")]
    Invalid,
    #[error("interface does not exist")]
    NoIf,
}

/// lo0's ::1 and fe80::1%lo0, at vnet construction
/// (before the module is in its slot: the caller's state takes them).
pub fn in6_loopback_init(v: &mut Vnet, ip6: &mut Ip6) {
    let Some(lo) = v.builtin(IF).loif() else { return };
    ip6.ifaddrs.reserve_exact(2);
    for (addr, plen) in [
        (Ipv6Addr::LOCALHOST, 128),
        (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1), 64),
    ] {
        let ia = In6Ifaddr {
            index: lo,
            addr: in6_setscope(addr, lo),
            plen,
            flags: 0,
        };
        // Its prefixes need no route (in6_ifaddr_routes).
        ip6.ifaddrs.push(ia);
    }
}

/// The route an address brings: its prefix through the interface (the
/// prefix route). Its local route (itself through the loopback, `UHS
/// lo0` in netstat) is implied by the address list, which `ip6_route`
/// asks first, and so are the loopback's prefixes (nothing but its own
/// addresses is there): an idle vnet's table is empty.
fn in6_ifaddr_routes(v: &mut Vnet, ia: &In6Ifaddr, lo: u32) {
    if ia.plen < 128 && ia.index != lo {
        let net = key(&ia.addr) & <u128 as crate::net::radix::Key>::mask(ia.plen);
        if v.builtin(IP6).rt.get(net, ia.plen).is_none() {
            let _ = rt_add(
                v,
                Rtentry {
                    dst: net,
                    plen: ia.plen,
                    gateway: Gateway::Link(ia.index),
                    ifindex: ia.index,
                    flags: 0,
                    mtu: 0,
                },
            );
        }
    }
}

/// The routes the addresses imply, as netstat shows them: each address
/// through the loopback, and the loopback's own prefixes.
pub fn in6_local_routes(v: &Vnet) -> Vec<Rtentry<u128>> {
    use crate::net::route::{RTF_HOST, RTF_UP};
    let lo = v.get(IF).and_then(|i| i.loif()).unwrap_or(0);
    let mut out = Vec::new();
    for ia in in6_ifaddr_all(v) {
        out.push(Rtentry {
            dst: key(&ia.addr),
            plen: 128,
            gateway: Gateway::Link(ia.index),
            ifindex: lo,
            flags: RTF_UP | RTF_HOST | RTF_STATIC,
            mtu: 0,
        });
        if ia.index == lo && ia.plen < 128 {
            out.push(Rtentry {
                dst: key(&ia.addr) & <u128 as crate::net::radix::Key>::mask(ia.plen),
                plen: ia.plen,
                gateway: Gateway::Link(lo),
                ifindex: lo,
                flags: RTF_UP,
                mtu: 0,
            });
        }
    }
    out
}

/// Add `addr/plen` to interface `index` (`ifconfig IF inet6 A prefixlen
/// P [alias]`). IPv6 addresses accumulate; adding one again changes its
/// prefix length. A new address is tentative while duplicate address
/// detection runs (nd6_dad.rs).
pub fn in6_aifaddr(
    k: &mut Kernel,
    v: &mut Vnet,
    index: u32,
    addr: Ipv6Addr,
    plen: u8,
    flags: u16,
) -> Result<(), In6Error> {
    if plen > 128 || addr.is_unspecified() || addr.is_multicast() {
        return Err(In6Error::Invalid);
    }
    v.builtin(IF).get(index).ok_or(In6Error::NoIf)?;
    // An address brings the interface up, as for IPv4 (and so, first,
    // its link-local address).
    crate::net::ifnet::if_up(k, v, index, true);
    let addr = match in6_getscope(&addr) {
        Some(z) if z != index => return Err(In6Error::Invalid),
        _ => in6_setscope(addr, index),
    };
    if let Some(old) = in6_ifaddr_of(v, &addr).copied() {
        if old.index != index {
            return Err(In6Error::Invalid);
        }
        if old.plen == plen {
            return Ok(());
        }
        in6_difaddr(v, index, &addr)?;
    }
    let dad = nd6_dad_needed(v, index, flags);
    let ia = In6Ifaddr {
        index,
        addr,
        plen,
        flags: if dad { flags | IN6_IFF_TENTATIVE } else { flags },
    };
    let lo = v.builtin(IF).loif().unwrap_or(0);
    v.builtin(IP6).ifaddrs.push(ia);
    in6_ifaddr_routes(v, &ia, lo);
    in6_newaddrmsg(v, RTM_NEWADDR, &ia);
    crate::netinet6::mld6::mld6_join(k, v, index, &addr);
    if dad {
        nd6_dad_start(k, v, index, addr);
    }
    Ok(())
}

/// Remove `addr` from interface `index` (`-alias`), with its local route,
/// and its prefix route once no other address of the interface has the
/// prefix.
pub fn in6_difaddr(v: &mut Vnet, index: u32, addr: &Ipv6Addr) -> Result<(), In6Error> {
    let addr = in6_setscope(*addr, index);
    let ip6 = v.builtin(IP6);
    let at = ip6
        .ifaddrs
        .iter()
        .position(|ia| ia.index == index && ia.addr == addr)
        .ok_or(In6Error::NotFound)?;
    let ia = ip6.ifaddrs.remove(at);
    nd6_dad_stop(v, index, &addr);
    let ip6 = v.builtin(IP6);
    let mask = <u128 as crate::net::radix::Key>::mask(ia.plen);
    let net = key(&ia.addr) & mask;
    let shared = ip6
        .ifaddrs
        .iter()
        .any(|o| o.index == index && o.plen == ia.plen && key(&o.addr) & mask == net);
    if ia.plen < 128 && !shared {
        let _ = rt_delete(v, net, ia.plen);
    }
    in6_newaddrmsg(v, RTM_DELADDR, &ia);
    Ok(())
}

/// Tell the routing sockets of an address that came or went.
fn in6_newaddrmsg(v: &mut Vnet, kind: u8, ia: &In6Ifaddr) {
    rt_newaddrmsg(v, kind, ia.index, ia.addr.into(), ia.plen, None);
}

/// `in6_if_up` (and `dom_ifattach` for one that arrives up): a
/// link-local address made from the interface's MAC (RFC 4862 §5.3,
/// RFC 4291 App. A) on every Ethernet interface but a bridge, unless
/// its `auto_linklocal` is off or IPv6 is disabled on it.
pub fn in6_ifattach(k: &mut Kernel, v: &mut Vnet, index: u32) {
    let nd6 = crate::netinet6::nd6::nd6_ifflags(v, index);
    if nd6 & crate::netinet6::nd6::ND6_IFF_AUTO_LINKLOCAL == 0 || in6_disabled(v, index) {
        return;
    }
    let Some(ifp) = v.builtin(IF).get(index) else { return };
    if !ifp.is_ethernet() || !ifp.is_up() || matches!(ifp.kind, crate::net::ifnet::IfKind::Bridge(_)) {
        return;
    }
    let iid = eui64(&ifp.lladdr);
    if in6_ifaddrs(v, index).any(|ia| is_link_local(&ia.addr)) {
        return;
    }
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&iid);
    let _ = in6_aifaddr(k, v, index, Ipv6Addr::from(o), 64, 0);
}

pub use crate::netinet6::nd6::in6_disabled;

/// `dom_ifdetach`: the interface's addresses, routes and neighbours go.
pub fn in6_ifdetach(_: &mut Kernel, v: &mut Vnet, index: u32) {
    if let Some(ip6) = v.get_mut(IP6) {
        ip6.ifaddrs.retain(|ia| ia.index != index);
        rt_purge_if::<u128>(v, index);
    }
    crate::netinet6::nd6::nd6_ifdetach(v, index);
}

/// RFC 6724 §3.1's scope of an address: smaller is narrower.
fn scope(a: &Ipv6Addr) -> u8 {
    if a.is_loopback() || is_link_local(a) {
        2
    } else if a.is_multicast() {
        a.segments()[0] as u8 & 0x0f
    } else {
        14
    }
}

/// Our source address towards `dst` leaving by interface `out`
/// (`in6_selectsrc`): `dst` itself if it is ours; else, among the usable
/// addresses (those of `out` first), one whose scope is at least the
/// destination's (rule 2), not deprecated (rule 3), with the longest
/// prefix in common (rule 8).
pub fn in6_selectsrc(v: &Vnet, dst: &Ipv6Addr, out: u32) -> Option<Ipv6Addr> {
    if in6_localip(v, dst) {
        return Some(*dst);
    }
    let want = scope(dst);
    let common = |a: &Ipv6Addr| (key(a) ^ key(dst)).leading_zeros();
    in6_ifaddr_all(v)
        .iter()
        .filter(|ia| ia.usable() && ia.flags & IN6_IFF_ANYCAST == 0)
        .filter(|ia| scope(&ia.addr) >= want.min(14) && (ia.index == out || scope(&ia.addr) > 2))
        .filter(|ia| !is_scoped(&ia.addr) || ia.index == out)
        .max_by_key(|ia| {
            (
                ia.index == out,
                scope(&ia.addr) == want || (want > 2 && scope(&ia.addr) > 2),
                ia.flags & IN6_IFF_DEPRECATED == 0,
                common(&ia.addr),
            )
        })
        .map(|ia| ia.addr)
}

/// An address as people write it: a scoped one with `%` and its
/// interface's name (`fe80::1%lo0`).
pub fn in6_fmt(v: &Vnet, a: &Ipv6Addr) -> String {
    in6_fmt_named(a, |z| v.get(IF).and_then(|i| i.get(z)).map(|i| i.name.clone()))
}

/// As [`in6_fmt`], the zone's name from `name` (its index if none).
pub fn in6_fmt_named(a: &Ipv6Addr, name: impl Fn(u32) -> Option<String>) -> String {
    match in6_getscope(a) {
        Some(z) => format!("{}%{}", in6_clearscope(*a), name(z).unwrap_or_else(|| z.to_string())),
        None => a.to_string(),
    }
}

/// Read `fe80::1%epair0a` (or `%2`) into an address with its zone
/// embedded; a scoped address without a zone is taken as it is.
pub fn in6_parse(v: &Vnet, s: &str) -> Option<Ipv6Addr> {
    let (a, zone) = match s.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (s, None),
    };
    let a: Ipv6Addr = a.parse().ok()?;
    match zone {
        None => Some(a),
        Some(z) => {
            let index = match z.parse::<u32>() {
                Ok(n) => n,
                Err(_) => v.get(IF)?.by_name(z)?.index,
            };
            is_scoped(&a).then(|| in6_setscope(a, index))
        }
    }
}
