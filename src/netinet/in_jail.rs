//! The IPv4 addresses of a jail without its own vnet (after
//! `netinet/in_jail.c`): a socket whose process runs in a jail with
//! `ip4.addr` may use only those addresses, the first of which (the
//! primary) stands in for the wildcard, for loopback and for a source
//! address routing would pick outside the jail. `None` is a process free
//! to use every address (the host, `ip4=inherit`, or a vnet jail).

use std::net::IpAddr;

use crate::kern::Kernel;
use crate::net::ifnet::IF;
use crate::netinet::in_pcb::{Errno, in_pcbladdr, in4, ip4 as ip4_of};
use crate::netinet::ip::INADDR_LOOPBACK;
use crate::vnet::{Vnet, VnetId};

/// A jail sharing its vnet goes: the addresses jail(8) put on for it
/// come off (its `ip4.addr` aliases).
pub fn prison_remove_ip4(k: &mut Kernel, vnet: VnetId, aliases: &[(String, u32)]) {
    let _ = k.with_vnet(vnet, |k, v| {
        for (ifname, addr) in aliases {
            if let Some(index) = v.builtin(IF).by_name(ifname).map(|i| i.index) {
                let _ = crate::netinet::in_::in_difaddr(k, v, index, *addr);
            }
        }
    });
}

/// May a socket of this jail use `addr`? (`prison_check_ip4`)
pub fn prison_check_ip4(ip4: Option<&[u32]>, addr: u32) -> bool {
    ip4.is_none_or(|l| l.contains(&addr))
}

/// The local address a jailed `bind(2)` to `addr` gets
/// (`prison_local_ip4`): the wildcard is the jail's only address if it has
/// one, 127.0.0.1 is its primary, any other address must be the jail's.
pub fn prison_local_ip4(ip4: Option<&[u32]>, addr: u32) -> Result<u32, Errno> {
    let Some(l) = ip4 else {
        return Ok(addr);
    };
    match (addr, l) {
        (_, []) => Err(Errno::AddrNotAvail),
        (0, [one]) => Ok(*one),
        (0, _) => Ok(0),
        (a, l) if l.contains(&a) => Ok(a),
        (INADDR_LOOPBACK, l) => Ok(l[0]),
        _ => Err(Errno::AddrNotAvail),
    }
}

/// The peer a jailed `connect(2)` to `addr` reaches
/// (`prison_remote_ip4`): 127.0.0.1 is the jail's primary address.
pub fn prison_remote_ip4(ip4: Option<&[u32]>, addr: u32) -> u32 {
    match ip4 {
        Some(l) if addr == INADDR_LOOPBACK && !l.contains(&addr) => l.first().copied().unwrap_or(addr),
        _ => addr,
    }
}

/// The source address of a jailed socket for `routed`, the address source
/// selection picked (`in_pcbladdr`): it if the jail has it, else the
/// jail's primary.
pub fn prison_saddr_ip4(ip4: Option<&[u32]>, routed: u32) -> Result<u32, Errno> {
    match ip4 {
        None => Ok(routed),
        Some(l) if l.contains(&routed) => Ok(routed),
        Some(l) => l.first().copied().ok_or(Errno::AddrNotAvail),
    }
}

/// The source address of a jailed raw socket's datagram to `dst`
/// (`rip_output`): one given (0: none) must be the jail's; else source
/// selection's, within the jail.
pub fn prison_raw_src(v: &mut Vnet, ip4: Option<&[u32]>, dst: u32, given: u32) -> Result<u32, Errno> {
    match (ip4, given) {
        (None, _) => Ok(given),
        (_, 0) => prison_saddr_ip4(ip4, in_pcbladdr(v, ip4_of(dst)).and_then(in4).unwrap_or(0)),
        (_, a) => prison_local_ip4(ip4, a),
    }
}

// The transports' entries, for an address of either family: an IPv4
// address follows the rules above; a jail held to IPv4 addresses has no
// IPv6 at all (as a FreeBSD jail with ip4.addr and no ip6.addr).

/// [`prison_check_ip4`] for either family.
pub fn prison_check_ip(l: Option<&[u32]>, a: IpAddr) -> bool {
    match in4(a) {
        Some(a) => prison_check_ip4(l, a),
        None => l.is_none(),
    }
}

/// [`prison_local_ip4`] for either family.
pub fn prison_local_ip(l: Option<&[u32]>, a: IpAddr) -> Result<IpAddr, Errno> {
    match in4(a) {
        Some(a) => prison_local_ip4(l, a).map(ip4_of),
        None if l.is_none() => Ok(a),
        None => Err(Errno::AddrNotAvail),
    }
}

/// [`prison_remote_ip4`] for either family.
pub fn prison_remote_ip(l: Option<&[u32]>, a: IpAddr) -> IpAddr {
    in4(a).map_or(a, |a| ip4_of(prison_remote_ip4(l, a)))
}

/// [`prison_saddr_ip4`] for either family.
pub fn prison_saddr_ip(l: Option<&[u32]>, a: IpAddr) -> Result<IpAddr, Errno> {
    match in4(a) {
        Some(a) => prison_saddr_ip4(l, a).map(ip4_of),
        None if l.is_none() => Ok(a),
        None => Err(Errno::AddrNotAvail),
    }
}

/// Do two sockets live in the same address space for binding a port
/// (`prison_equal_ip4`)? A host socket's `*:80` and a jail's
/// `10.0.0.5:80` do not clash.
pub fn prison_equal_ip4(a: Option<&[u32]>, b: Option<&[u32]>) -> bool {
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u32 = 0x0a00_0005;
    const B: u32 = 0x0a00_0006;

    #[test]
    fn a_jail_binds_only_its_own_addresses() {
        let one: &[u32] = &[A];
        let two: &[u32] = &[A, B];
        assert_eq!(prison_local_ip4(None, 0), Ok(0));
        assert_eq!(prison_local_ip4(Some(one), 0), Ok(A));
        assert_eq!(prison_local_ip4(Some(two), 0), Ok(0));
        assert_eq!(prison_local_ip4(Some(two), B), Ok(B));
        assert_eq!(prison_local_ip4(Some(two), INADDR_LOOPBACK), Ok(A));
        assert_eq!(prison_local_ip4(Some(one), 0x0a00_0007), Err(Errno::AddrNotAvail));
        assert_eq!(prison_local_ip4(Some(&[]), 0), Err(Errno::AddrNotAvail));
        assert_eq!(prison_remote_ip4(Some(two), INADDR_LOOPBACK), A);
        assert_eq!(prison_remote_ip4(None, INADDR_LOOPBACK), INADDR_LOOPBACK);
        assert_eq!(prison_saddr_ip4(Some(two), B), Ok(B));
        assert_eq!(prison_saddr_ip4(Some(two), 0x0a00_0001), Ok(A));
        assert!(!prison_equal_ip4(None, Some(one)));
    }
}
