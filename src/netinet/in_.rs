//! IPv4 addresses on interfaces, after `in.c`: adding and removing them
//! with their connected and local routes, and the questions the stack asks
//! of them (is this address mine? a broadcast? which source to use?).
//! They live with IPv4 (the IP module's `ifaddrs`, `V_in_ifaddrhead`),
//! keyed by interface index; the interface layer knows nothing of them.

use crate::kern::Kernel;
use crate::net::ifnet::{IF, IfKind};
use crate::net::radix::mask;
use crate::net::route::{Gateway, ROUTE, RTF_STATIC, Rtentry};
use crate::net::rtsock::{RTM_DELADDR, RTM_NEWADDR, rt_add, rt_delete, rt_newaddrmsg, rt_purge_if};
use crate::netinet::ip::{INADDR_ANY, INADDR_BROADCAST, INADDR_LOOPBACK, IP};
use crate::vnet::Vnet;

/// An IPv4 address of an interface (`struct in_ifaddr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InIfaddr {
    /// The interface it is on.
    pub index: u32,
    pub addr: u32,
    pub plen: u8,
    /// The directed broadcast, or a point-to-point link's far end.
    pub broadcast: u32,
}

/// Interface `index`'s IPv4 addresses, the primary first.
pub fn in_ifaddrs(v: &Vnet, index: u32) -> impl Iterator<Item = &InIfaddr> {
    v.get(IP)
        .into_iter()
        .flat_map(|ip| ip.ifaddrs.iter())
        .filter(move |ia| ia.index == index)
}

/// Every IPv4 address of the vnet, in the order they were added.
pub fn in_ifaddr_all(v: &Vnet) -> &[InIfaddr] {
    v.get(IP).map_or(&[], |ip| &ip.ifaddrs)
}

/// Errors of address configuration, as ifconfig(8) reports them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InError {
    #[error("ioctl (SIOCAIFADDR): File exists")]
    Exists,
    #[error("ioctl (SIOCDIFADDR): Can't assign requested address")]
    NotFound,
    #[error("ioctl (SIOCAIFADDR): Invalid argument")]
    Invalid,
    #[error("interface does not exist")]
    NoIf,
}

/// Is `a` in `net/plen`?
pub fn in_prefix(a: u32, net: u32, plen: u8) -> bool {
    (a ^ net) & mask(plen) == 0
}

/// The directed broadcast address of `addr/plen`.
pub fn in_brdaddr(addr: u32, plen: u8) -> u32 {
    if plen >= 31 {
        INADDR_BROADCAST
    } else {
        addr | !mask(plen)
    }
}

/// lo0's 127.0.0.1/8, with its routes (at vnet construction, before the
/// IP module is in its slot: the caller keeps the address).
pub fn in_loopback_init(v: &mut Vnet) -> Option<InIfaddr> {
    let lo = v.builtin(IF).loif()?;
    let ia = InIfaddr {
        index: lo,
        addr: INADDR_LOOPBACK,
        plen: 8,
        broadcast: in_brdaddr(INADDR_LOOPBACK, 8),
    };
    in_ifaddr_routes(v, &ia);
    Some(ia)
}

/// Add `addr/plen` to interface `index` (`ifconfig IF inet A/P [alias]`).
/// Without `alias`, it replaces the interface's first address.
pub fn in_aifaddr(
    k: &mut Kernel,
    v: &mut Vnet,
    index: u32,
    addr: u32,
    plen: u8,
    brd: Option<u32>,
    alias: bool,
) -> Result<(), InError> {
    if plen > 32 || addr == INADDR_ANY || addr == INADDR_BROADCAST {
        return Err(InError::Invalid);
    }
    v.builtin(IF).get(index).ok_or(InError::NoIf)?;
    let first = in_ifaddrs(v, index).next().copied();
    if !alias && let Some(first) = first {
        if first.addr == addr && first.plen == plen {
            return Ok(());
        }
        in_difaddr(k, v, index, first.addr)?;
    }
    if in_ifaddrs(v, index).any(|a| a.addr == addr) {
        return Err(InError::Exists);
    }
    let ifp = v.builtin(IF).get_mut(index).ok_or(InError::NoIf)?;
    // On a point-to-point interface the "broadcast" is the far end
    // (ifa_dstaddr shares its place), and it must be given.
    if ifp.is_p2p() && brd.is_none() {
        return Err(InError::Invalid);
    }
    let ethernet = ifp.is_ethernet();
    // An address brings the interface up (ether_ioctl's SIOCSIFADDR sets
    // IFF_UP, as the drivers of lo, gif and gre do too).
    crate::net::ifnet::if_up(k, v, index, true);
    let announce = ethernet;
    let ia = InIfaddr {
        index,
        addr,
        plen,
        broadcast: brd.unwrap_or(in_brdaddr(addr, plen)),
    };
    v.builtin(IP).ifaddrs.push(ia);
    in_newaddrmsg(v, RTM_NEWADDR, &ia);
    in_ifaddr_routes(v, &ia);
    if announce {
        crate::netinet::arp::arp_announce(k, v, index, addr);
    }
    Ok(())
}

/// The routes an address brings: its prefix through the interface (a
/// point-to-point link's far end instead), itself through the loopback.
fn in_ifaddr_routes(v: &mut Vnet, ia: &InIfaddr) {
    let InIfaddr {
        index,
        addr,
        plen,
        broadcast,
    } = *ia;
    let Some(ifp) = v.builtin(IF).get(index) else { return };
    let (loopback, p2p) = (ifp.is_loopback(), ifp.is_p2p());
    let lo = v.builtin(IF).loif().unwrap_or(index);
    let link = |dst, plen, ifindex, flags| Rtentry {
        dst,
        plen,
        gateway: Gateway::Link(index),
        ifindex,
        flags,
        mtu: 0,
    };
    if p2p {
        // The far end is reached through the interface.
        let _ = rt_add(v, link(broadcast, 32, index, 0));
    } else if !loopback && plen < 32 {
        let _ = rt_add(v, link(addr, plen, index, 0));
    }
    // The address itself is reached through the loopback.
    let _ = rt_add(v, link(addr, 32, lo, if loopback { 0 } else { RTF_STATIC }));
}

/// Remove `addr` from interface `index` (`ifconfig IF inet A -alias`),
/// with the routes it brought.
pub fn in_difaddr(_k: &mut Kernel, v: &mut Vnet, index: u32, addr: u32) -> Result<(), InError> {
    v.builtin(IF).get(index).ok_or(InError::NoIf)?;
    let ifaddrs = &mut v.builtin(IP).ifaddrs;
    let pos = ifaddrs
        .iter()
        .position(|a| a.index == index && a.addr == addr)
        .ok_or(InError::NotFound)?;
    let ia = ifaddrs.remove(pos);
    in_scrub_routes(v, ia);
    in_newaddrmsg(v, RTM_DELADDR, &ia);
    Ok(())
}

/// Tell the routing sockets of an address that came or went.
fn in_newaddrmsg(v: &mut Vnet, kind: u8, ia: &InIfaddr) {
    let brd = (ia.plen < 31 || v.builtin(IF).get(ia.index).is_some_and(|i| i.is_p2p()))
        .then(|| std::net::Ipv4Addr::from(ia.broadcast).into());
    rt_newaddrmsg(
        v,
        kind,
        ia.index,
        std::net::Ipv4Addr::from(ia.addr).into(),
        ia.plen,
        brd,
    );
}

fn in_scrub_routes(v: &mut Vnet, ia: InIfaddr) {
    let index = ia.index;
    // Another address of ours in the same prefix keeps the prefix route.
    let lo = v.builtin(IF).loif();
    let others: Vec<(u32, u32, u8)> = in_ifaddr_all(v)
        .iter()
        .filter(|a| Some(a.index) != lo)
        .map(|a| (a.index, a.addr, a.plen))
        .filter(|&(_, a, p)| p == ia.plen && in_prefix(a, ia.addr, ia.plen))
        .collect();
    let Some(rt) = v.get_mut(ROUTE) else { return };
    let mine = |e: &Rtentry| e.gateway == Gateway::Link(index);
    let doomed = [
        rt.get(ia.addr, 32).filter(|e| mine(e)).map(|_| (ia.addr, 32)),
        // A point-to-point address's far end.
        rt.get(ia.broadcast, 32)
            .filter(|e| mine(e) && e.ifindex == index)
            .map(|_| (ia.broadcast, 32)),
    ];
    let prefix = ia.plen < 32 && rt.get(ia.addr, ia.plen).is_some_and(|e| e.ifindex == index);
    for (dst, plen) in doomed.into_iter().flatten() {
        let _ = rt_delete(v, dst, plen);
    }
    if prefix {
        let _ = rt_delete(v, ia.addr, ia.plen);
        if let Some(&(other, _, _)) = others.first() {
            let _ = rt_add(
                v,
                Rtentry {
                    dst: ia.addr,
                    plen: ia.plen,
                    gateway: Gateway::Link(other),
                    ifindex: other,
                    flags: 0,
                    mtu: 0,
                },
            );
        }
    }
}

/// Interface `index` leaves the vnet: its addresses, the routes through it
/// and the ARP entries on it go.
pub fn in_ifdetach(_k: &mut Kernel, v: &mut Vnet, index: u32) {
    let Some(ip) = v.get_mut(IP) else { return };
    let (gone, kept) = std::mem::take(&mut ip.ifaddrs)
        .into_iter()
        .partition(|a| a.index == index);
    ip.ifaddrs = kept;
    for ia in gone {
        in_scrub_routes(v, ia);
        in_newaddrmsg(v, RTM_DELADDR, &ia);
    }
    rt_purge_if::<u32>(v, index);
    crate::netinet::arp::arp_ifdetach(v, index);
}

/// Is `a` one of this vnet's addresses (on any interface, as the "weak
/// host" model of RFC 1122 §3.3.4.2 that FreeBSD follows)?
#[inline]
pub fn in_localip(v: &Vnet, a: u32) -> bool {
    in_ifaddr_all(v).iter().any(|x| x.addr == a)
}

/// Is `a` a broadcast address for interface `index` (limited, directed, or
/// the all-zeros host of an attached net)?
pub fn in_broadcast(v: &Vnet, a: u32, index: u32) -> bool {
    if a == INADDR_BROADCAST || a == INADDR_ANY {
        return true;
    }
    let Some(ifp) = v.get(IF).and_then(|l| l.get(index)) else {
        return false;
    };
    if matches!(ifp.kind, IfKind::Loop) {
        return false;
    }
    in_ifaddrs(v, index).any(|ia| ia.plen < 31 && (a == ia.broadcast || a == ia.addr & mask(ia.plen)))
}

/// The address to send from on interface `index` towards `dst`: one in
/// the same prefix if there is one, else the first.
pub fn in_ifaddr_for(v: &Vnet, index: u32, dst: u32) -> Option<u32> {
    in_ifaddrs(v, index)
        .find(|ia| in_prefix(dst, ia.addr, ia.plen))
        .or_else(|| in_ifaddrs(v, index).next())
        .map(|ia| ia.addr)
}

/// Is `a` a multicast (class D) address?
pub fn in_multicast(a: u32) -> bool {
    a >> 28 == 0xe
}

/// The prefix length of a netmask, if it is contiguous.
pub fn mask_to_plen(m: u32) -> Option<u8> {
    let p = m.leading_ones() as u8;
    (mask(p) == m).then_some(p)
}
