//! The jail's interfaces as a Linux program asks for them (getifaddrs(3),
//! netdevice(7)'s SIOCGIF* ioctls): the vnet's list in Linux's terms,
//! built by vimage and laid out by the shim.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};

use super::proto::{IfAddr, IfInfo, IfPeer};
use crate::kern::proc::Proc;
use crate::net::ifnet::{IF, IFF_BROADCAST, IFF_LOWER_UP, IFF_MULTICAST, IFF_POINTOPOINT, IfKind, Ifnet};
use crate::netinet::in_::in_ifaddrs;
use crate::netinet6::in6::in6_ifaddrs;
use crate::vnet::Vnet;
use crate::wire::ipv6::{in6_clearscope, in6_getscope};

/// Linux's flags that differ from FreeBSD's (if.h): the low ones (up,
/// broadcast, loopback, running, noarp, promisc, allmulti) are the same.
const LINUX_IFF_MULTICAST: u32 = 0x1000;
const LINUX_IFF_LOWER_UP: u32 = 0x1_0000;
/// `ARPHRD_ETHER`, `ARPHRD_LOOPBACK`, `ARPHRD_NONE` (if_arp.h).
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const ARPHRD_NONE: u16 = 0xfffe;

/// FreeBSD's `IFF_*` as Linux's.
pub fn linux_flags(f: u32) -> u32 {
    let mut l = f & 0x3df;
    if f & IFF_MULTICAST != 0 {
        l |= LINUX_IFF_MULTICAST;
    }
    if f & IFF_LOWER_UP != 0 {
        l |= LINUX_IFF_LOWER_UP;
    }
    l
}

/// The interfaces of `p`'s jail's vnet with their addresses.
pub fn ifaddrs(p: &Proc) -> Vec<IfInfo> {
    p.vnet(|_, v| {
        let v: &Vnet = v;
        let ifs = v.get(IF).map_or(&[][..], |i| &i.list[..]);
        ifs.iter().map(|ifp| if_info(v, ifp)).collect()
    })
    .unwrap_or_default()
}

fn if_info(v: &Vnet, ifp: &Ifnet) -> IfInfo {
    let c = &ifp.counters;
    let mut addrs = Vec::new();
    for ia in in_ifaddrs(v, ifp.index) {
        let sa = |a: u32| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), 0);
        let peer = if ifp.flags & IFF_POINTOPOINT != 0 {
            Some(IfPeer::Dst(sa(ia.broadcast)))
        } else if ifp.flags & IFF_BROADCAST != 0 && ia.plen < 32 {
            Some(IfPeer::Broadcast(sa(ia.broadcast)))
        } else {
            None
        };
        addrs.push(IfAddr {
            addr: sa(ia.addr),
            plen: ia.plen,
            peer,
        });
    }
    for ia in in6_ifaddrs(v, ifp.index) {
        let scope = in6_getscope(&ia.addr).unwrap_or(0);
        addrs.push(IfAddr {
            addr: SocketAddr::V6(SocketAddrV6::new(in6_clearscope(ia.addr), 0, 0, scope)),
            plen: ia.plen,
            peer: None,
        });
    }
    let low = |n: u64| n as u32;
    IfInfo {
        index: ifp.index,
        flags: linux_flags(ifp.flags),
        mtu: ifp.mtu,
        hatype: match ifp.kind {
            IfKind::Loop => ARPHRD_LOOPBACK,
            _ if ifp.is_ethernet() => ARPHRD_ETHER,
            _ => ARPHRD_NONE,
        },
        lladdr: if ifp.is_ethernet() { ifp.lladdr } else { [0; 6] },
        stats: [
            low(c.ipackets),
            low(c.opackets),
            low(c.ibytes),
            low(c.obytes),
            low(c.ierrors),
            low(c.oerrors),
            low(c.iqdrops),
            low(c.oqdrops),
            low(c.imcasts),
            low(c.collisions),
        ],
        name: ifp.name.clone(),
        addrs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ifnet::{IFF_LOOPBACK, IFF_RUNNING, IFF_UP};

    #[test]
    fn flags_are_linux_s() {
        let f = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP;
        assert_eq!(linux_flags(f), 0x1_1043);
        assert_eq!(linux_flags(IFF_UP | IFF_LOOPBACK | IFF_RUNNING), 0x49);
    }
}
