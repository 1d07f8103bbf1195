//! Multicast group membership for both families (after `in_mcast.c` and
//! `in6_mcast.c`, ip(4) and ip6(4)): an interface holds the groups its
//! sockets joined, counted (`if_multiaddrs`); a socket holds its own
//! memberships and sending options (`struct ip_moptions`). IPv4 takes a
//! datagram to a group only on an interface that joined it (RFC 1112
//! §6.2; 224.0.0.1, all hosts, always); UDP gives it to the sockets that
//! joined it there. No IGMP or MLD reports for these groups yet: bridges
//! and epairs flood multicast, and a Linux peer's kernel needs none.

use std::net::{IpAddr, Ipv4Addr};

use crate::net::ifnet::{IF, IFF_MULTICAST};
use crate::netinet::in_::in_ifaddr_all;
use crate::netinet::in_pcb::Errno;
use crate::vnet::Vnet;
use crate::wire::ipv6::in6_clearscope;

/// `INADDR_ALLHOSTS_GROUP`, joined by every interface that can.
pub const INADDR_ALLHOSTS_GROUP: u32 = 0xe000_0001;

/// `IP_MAX_MEMBERSHIPS`: groups one socket may join.
pub const IP_MAX_MEMBERSHIPS: usize = 4095;

/// A socket's multicast options (`ip_moptions`, `ip6_moptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MOptions {
    /// `IP_MULTICAST_IF`, `IPV6_MULTICAST_IF`: the interface it sends by.
    pub ifindex: Option<u32>,
    /// `IP_MULTICAST_TTL`, `IPV6_MULTICAST_HOPS` (default 1).
    pub ttl: Option<u8>,
    /// `IP_MULTICAST_LOOP` off: no copy for this host's own members.
    pub noloop: bool,
    /// The groups joined, each on an interface.
    pub groups: Vec<(IpAddr, u32)>,
}

impl MOptions {
    /// Did it join `g` on interface `index` (`imo_multi_filter`)?
    pub fn member(&self, g: IpAddr, index: u32) -> bool {
        let g = group_key(g);
        self.groups.contains(&(g, index))
    }

    /// The TTL of a multicast it sends.
    pub fn ttl(&self) -> u8 {
        self.ttl.unwrap_or(1)
    }
}

/// How a group is held: an IPv6 one without its embedded scope.
fn group_key(g: IpAddr) -> IpAddr {
    match g {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(a4) => IpAddr::V4(a4),
            None => IpAddr::V6(in6_clearscope(a)),
        },
        a => a,
    }
}

/// Has interface `index` joined `g` (`inm_lookup`)?
pub fn in_multi_member(v: &Vnet, index: u32, g: IpAddr) -> bool {
    let Some(ifp) = v.get(IF).and_then(|l| l.get(index)) else {
        return false;
    };
    if ifp.flags & IFF_MULTICAST == 0 {
        return false;
    }
    let g = group_key(g);
    g == IpAddr::V4(Ipv4Addr::from_bits(INADDR_ALLHOSTS_GROUP)) || ifp.multiaddrs.iter().any(|&(a, _)| a == g)
}

/// The interface a membership with no interface named is for
/// (`inp_lookup_mcast_ifp`): the one the route to the group leaves by,
/// else the first that can multicast and has an address of the family.
pub fn in_mcast_ifp(v: &mut Vnet, g: IpAddr) -> Option<u32> {
    let routed = match g {
        IpAddr::V4(a) => crate::netinet::ip_output::ip_route(v, a.to_bits())
            .ok()
            .flatten()
            .map(|nh| nh.ifindex),
        IpAddr::V6(_) => None,
    };
    let v = &*v;
    routed.or_else(|| {
        v.get(IF)?
            .list
            .iter()
            .filter(|i| i.flags & IFF_MULTICAST != 0 && !i.is_loopback())
            .find(|i| match g {
                IpAddr::V4(_) => in_ifaddr_all(v).iter().any(|a| a.index == i.index),
                IpAddr::V6(_) => true,
            })
            .map(|i| i.index)
    })
}

/// The interface of `IP_ADD_MEMBERSHIP`'s `imr_interface`: the one with
/// that address (`INADDR_ANY`: chosen by [`in_mcast_ifp`]).
pub fn in_mcast_ifaddr(v: &mut Vnet, g: IpAddr, ifaddr: u32) -> Result<u32, Errno> {
    if ifaddr == 0 {
        return in_mcast_ifp(v, g).ok_or(Errno::AddrNotAvail);
    }
    in_ifaddr_all(v)
        .iter()
        .find(|a| a.addr == ifaddr)
        .map(|a| a.index)
        .ok_or(Errno::AddrNotAvail)
}

/// A socket joins `g` on `index` (`inp_join_group`): `EINVAL` for what
/// is not a group, `EADDRNOTAVAIL` for an interface that cannot,
/// `EADDRINUSE` if it already has, `ETOOMANYREFS` past the limit.
pub fn in_joingroup(v: &mut Vnet, mo: &mut MOptions, g: IpAddr, index: u32) -> Result<(), Errno> {
    if !g.is_multicast() {
        return Err(Errno::Inval);
    }
    let g = group_key(g);
    if mo.groups.contains(&(g, index)) {
        return Err(Errno::AddrInUse);
    }
    if mo.groups.len() >= IP_MAX_MEMBERSHIPS {
        return Err(Errno::NoBufs);
    }
    let ifp = v.builtin(IF).get_mut(index).ok_or(Errno::AddrNotAvail)?;
    if ifp.flags & IFF_MULTICAST == 0 {
        return Err(Errno::AddrNotAvail);
    }
    match ifp.multiaddrs.iter_mut().find(|m| m.0 == g) {
        Some(m) => m.1 += 1,
        None => ifp.multiaddrs.push((g, 1)),
    }
    mo.groups.push((g, index));
    Ok(())
}

/// A socket leaves `g` on `index` (`inp_leave_group`): `EADDRNOTAVAIL`
/// if it had not joined.
pub fn in_leavegroup(v: &mut Vnet, mo: &mut MOptions, g: IpAddr, index: u32) -> Result<(), Errno> {
    let g = group_key(g);
    let at = mo
        .groups
        .iter()
        .position(|&m| m == (g, index))
        .ok_or(Errno::AddrNotAvail)?;
    mo.groups.swap_remove(at);
    if let Some(ifp) = v.builtin(IF).get_mut(index)
        && let Some(at) = ifp.multiaddrs.iter().position(|m| m.0 == g)
    {
        ifp.multiaddrs[at].1 -= 1;
        if ifp.multiaddrs[at].1 == 0 {
            ifp.multiaddrs.swap_remove(at);
        }
    }
    Ok(())
}

/// A closing socket leaves all its groups (`inp_freemoptions`).
pub fn in_purgemoptions(v: &mut Vnet, mo: &mut MOptions) {
    for (g, index) in mo.groups.clone() {
        let _ = in_leavegroup(v, mo, g, index);
    }
}

/// The Ethernet address of IPv4 group `g` (RFC 1112 §6.4): 01:00:5e
/// and the group's low 23 bits.
pub fn ether_map_ip_multicast(g: u32) -> [u8; 6] {
    let b = g.to_be_bytes();
    [0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_low_23_bits_of_the_group_make_its_mac() {
        assert_eq!(ether_map_ip_multicast(0xe000_0009), [1, 0, 0x5e, 0, 0, 9]);
        assert_eq!(ether_map_ip_multicast(0xef81_0203), [1, 0, 0x5e, 1, 2, 3]);
    }
}
