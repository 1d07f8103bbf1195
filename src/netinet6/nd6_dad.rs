//! Duplicate address detection (RFC 4862 §5.4), after `nd6_nbr.c`'s
//! `nd6_dad_*`: a new address is tentative (neither a source nor a
//! destination) while `net.inet6.ip6.dad_count` solicitations from the
//! unspecified address ask the link whether anyone has it, RetransTimer
//! apart, after a random delay of up to MAX_RTR_SOLICITATION_DELAY
//! (RFC 4861 §10). An advertisement for it, or another node's own probe
//! for it, makes it duplicated; silence makes it the interface's.

use std::net::Ipv6Addr;
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::net::ifnet::IF;
use crate::netinet6::in6::{IN6_IFF_ANYCAST, IN6_IFF_DUPLICATED, IN6_IFF_TENTATIVE, in6_clearscope, in6_setscope};
use crate::netinet6::ip6::IP6;
use crate::netinet6::nd6::{ND6, ND6_IFF_IFDISABLED, ND6_IFF_NO_DAD, nd6_arm, nd6_ifflags, nd6_ifinfo, nd6_output_to};
use crate::vnet::Vnet;
use crate::wire::icmpv6::{self, ND_NEIGHBOR_SOLICIT};
use crate::wire::ipv6::{is_link_local, multicast_mac, solicited_node};

/// RFC 4861 §10: the longest wait before a first solicitation.
pub const MAX_RTR_SOLICITATION_DELAY: Duration = Duration::from_secs(1);

/// An address being checked (`struct dadq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dad {
    pub index: u32,
    pub addr: Ipv6Addr,
    /// Solicitations sent, and what was heard.
    pub ns_out: u32,
    pub ns_in: u32,
    pub na_in: u32,
    /// When the next probe goes, or the check ends.
    pub deadline: Time,
}

/// Does a new address on `index` with `flags` need checking
/// (`in6if_do_dad`)? Not on the loopback, not an anycast address, not
/// with `no_dad` on the interface or `net.inet6.ip6.dad_count` 0.
pub fn nd6_dad_needed(v: &Vnet, index: u32, flags: u16) -> bool {
    let count = v.get(IP6).map_or(0, |ip6| ip6.dad_count);
    let lo = v
        .get(IF)
        .and_then(|i| i.get(index))
        .is_none_or(|i| i.is_loopback() || !i.is_ethernet());
    count > 0 && !lo && flags & IN6_IFF_ANYCAST == 0 && nd6_ifflags(v, index) & ND6_IFF_NO_DAD == 0
}

/// Start checking `addr` (tentative, scope embedded) on `index`.
pub fn nd6_dad_start(k: &mut Kernel, v: &mut Vnet, index: u32, addr: Ipv6Addr) {
    let delay = Duration::from_micros(v.random() % MAX_RTR_SOLICITATION_DELAY.as_micros() as u64);
    let deadline = k.now().saturating_add(delay);
    let auto = v.builtin(ND6).auto();
    auto.dad.retain(|d| !(d.index == index && d.addr == addr));
    auto.dad.push(Dad {
        index,
        addr,
        ns_out: 0,
        ns_in: 0,
        na_in: 0,
        deadline,
    });
    nd6_arm(k, v, deadline);
}

/// Forget the check of `addr` (it was removed).
pub fn nd6_dad_stop(v: &mut Vnet, index: u32, addr: &Ipv6Addr) {
    if let Some(a) = v.get_mut(ND6).and_then(|nd| nd.auto.as_mut()) {
        a.dad.retain(|d| !(d.index == index && d.addr == *addr));
    }
}

/// The checks whose time has come: another probe, or the address is
/// ours (`nd6_dad_timer`).
pub(crate) fn nd6_dad_timer(k: &mut Kernel, v: &mut Vnet, now: Time) {
    let count = v.get(IP6).map_or(1, |ip6| ip6.dad_count.max(1) as u32);
    let nd = v.builtin(ND6);
    let retrans = nd.retrans();
    let Some(auto) = nd.auto.as_mut() else { return };
    let mut probe = Vec::new();
    let mut done = Vec::new();
    for d in auto.dad.iter_mut().filter(|d| d.deadline <= now) {
        if d.ns_out < count {
            d.ns_out += 1;
            d.deadline = now.saturating_add(retrans);
            probe.push((d.index, d.addr));
        } else {
            done.push((d.index, d.addr));
        }
    }
    auto.dad.retain(|d| !done.contains(&(d.index, d.addr)));
    for (index, addr) in done {
        set_flags(v, index, &addr, 0, IN6_IFF_TENTATIVE);
    }
    for (index, addr) in probe {
        nd6_dad_ns_output(k, v, index, addr);
    }
}

/// A probe: a solicitation for `target` from the unspecified address to
/// its solicited-node group, without our link-layer address (§5.4.2).
fn nd6_dad_ns_output(k: &mut Kernel, v: &mut Vnet, index: u32, target: Ipv6Addr) {
    if nd6_ifflags(v, index) & ND6_IFF_IFDISABLED != 0 {
        return;
    }
    v.builtin(ND6).stats.nsout += 1;
    let dst = in6_setscope(solicited_node(&target), index);
    let msg = icmpv6::nd_emit(ND_NEIGHBOR_SOLICIT, 0, &in6_clearscope(target), None);
    nd6_output_to(k, v, index, Ipv6Addr::UNSPECIFIED, dst, multicast_mac(&dst), msg);
}

/// Another node probes for our tentative `addr` (§5.4.3).
pub(crate) fn nd6_dad_ns_input(k: &mut Kernel, v: &mut Vnet, index: u32, addr: Ipv6Addr) {
    if let Some(d) = dad_of(v, index, &addr) {
        d.ns_in += 1;
        nd6_dad_duplicated(k, v, index, addr);
    }
}

/// Another node advertises our tentative `addr` (§5.4.4).
pub(crate) fn nd6_dad_na_input(k: &mut Kernel, v: &mut Vnet, index: u32, addr: Ipv6Addr) {
    if let Some(d) = dad_of(v, index, &addr) {
        d.na_in += 1;
        nd6_dad_duplicated(k, v, index, addr);
    }
}

fn dad_of<'a>(v: &'a mut Vnet, index: u32, addr: &Ipv6Addr) -> Option<&'a mut Dad> {
    v.get_mut(ND6)?
        .auto
        .as_mut()?
        .dad
        .iter_mut()
        .find(|d| d.index == index && d.addr == *addr)
}

/// The address is someone else's (§5.4.5): duplicated, never used, and
/// logged as FreeBSD logs it. A duplicated link-local address made from
/// the MAC means the MAC is not unique: IPv6 goes off on the interface.
fn nd6_dad_duplicated(k: &mut Kernel, v: &mut Vnet, index: u32, addr: Ipv6Addr) {
    let Some(d) = dad_of(v, index, &addr).copied() else {
        return;
    };
    nd6_dad_stop(v, index, &addr);
    v.builtin(ND6).stats.dupaddrs += 1;
    set_flags(v, index, &addr, IN6_IFF_DUPLICATED, IN6_IFF_TENTATIVE);
    let name = v.builtin(IF).get(index).map(|i| i.name.clone()).unwrap_or_default();
    let a = in6_clearscope(addr);
    k.log(format!(
        "{name}: DAD detected duplicate IPv6 address {a}: NS in/out/loopback={}/{}/0, NA in={}",
        d.ns_in, d.ns_out, d.na_in
    ));
    k.log(format!("{name}: DAD complete for {a} - duplicate found"));
    k.log(format!("{name}: manual intervention required"));
    let mac = v.builtin(IF).get(index).map(|i| i.lladdr).unwrap_or_default();
    if is_link_local(&a) && a.octets()[8..] == crate::wire::ipv6::eui64(&mac) {
        nd6_ifinfo(v, index).flags |= ND6_IFF_IFDISABLED;
        k.log(format!(
            "{name}: possible hardware address duplication detected, disable IPv6"
        ));
    }
}

fn set_flags(v: &mut Vnet, index: u32, addr: &Ipv6Addr, set: u16, clear: u16) {
    if let Some(ia) = v
        .builtin(IP6)
        .ifaddrs
        .iter_mut()
        .find(|ia| ia.index == index && ia.addr == *addr)
    {
        ia.flags = (ia.flags | set) & !clear;
    }
}
