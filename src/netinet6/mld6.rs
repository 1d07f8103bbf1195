//! Multicast listener discovery, version 2 (RFC 3810), after `mld6.c`,
//! as much as a host needs for snooping switches and Linux bridges to
//! forward its groups to it: the groups an interface listens to (each
//! address's solicited-node group, all-routers on a router; never
//! ff02::1, §6) are reported when joined, and all of them in answer to a
//! query after a random part of its maximum response delay (§6.2).
//! Reports go to ff02::16 with hop limit 1 and a router alert (RFC
//! 2711), from the link-local address or, before it has one, from ::
//! (§5.2.13). Not done: retransmitting state changes [Robustness] times,
//! reports on leaving, source filters (no socket joins groups yet).

use std::net::Ipv6Addr;
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::net::ethernet::{ETHERTYPE_IPV6, ether_output_frame};
use crate::net::ifnet::IF;
use crate::netinet::protosw::IpFacts;
use crate::netinet6::icmp6::ICMP6;
use crate::netinet6::in6::{in6_clearscope, in6_ifaddrs, in6_linklocal};
use crate::netinet6::ip6::{IP6, IP6_HDR_LEN, IPPROTO_HOPOPTS, IPPROTO_ICMPV6};
use crate::netinet6::nd6::{ND6, nd6_arm};
use crate::vnet::Vnet;
use crate::wire::icmpv6::{self, MLD2_CHANGE_TO_EXCLUDE, MLD2_MODE_IS_EXCLUDE};
use crate::wire::ipv6::{Ipv6Repr, multicast_mac, solicited_node};

/// All MLDv2-capable routers (RFC 3810 §5.2.14).
pub const MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);

/// A report due: interface `index`'s groups, at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MldPending {
    pub index: u32,
    pub at: Time,
}

/// Does MLD speak on `index`? Ethernet interfaces but the loopback.
fn mld_if(v: &Vnet, index: u32) -> bool {
    v.get(IF)
        .and_then(|i| i.get(index))
        .is_some_and(|i| i.is_ethernet() && !i.is_loopback())
}

/// The groups interface `index` reports (`in6_multi`'s list, less
/// all-nodes).
pub fn mld6_groups(v: &Vnet, index: u32) -> Vec<Ipv6Addr> {
    let mut g: Vec<Ipv6Addr> = in6_ifaddrs(v, index).map(|ia| solicited_node(&ia.addr)).collect();
    if v.get(IP6).is_some_and(|ip6| ip6.forwarding) {
        g.push(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2));
    }
    g.sort();
    g.dedup();
    g
}

/// Address `addr` arrived on `index`: its solicited-node group is
/// joined, and said so, unless another address had joined it already.
pub fn mld6_join(k: &mut Kernel, v: &mut Vnet, index: u32, addr: &Ipv6Addr) {
    let g = solicited_node(addr);
    let sharing = in6_ifaddrs(v, index).filter(|ia| solicited_node(&ia.addr) == g).count();
    if sharing == 1 && mld_if(v, index) {
        mld6_output(k, v, index, &[(MLD2_CHANGE_TO_EXCLUDE, g)]);
    }
}

/// A listener query (§6.2): a report of every group (or of the one
/// asked about, if ours) after a random part of the delay allowed.
pub fn mld6_input(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, f: &IpFacts) {
    let Some((max_ms, group)) = icmpv6::mld_query(&m.data()[f.off..f.end]) else {
        return;
    };
    let ours = group.is_unspecified() || mld6_groups(v, f.ifindex).contains(&group);
    if !ours || !mld_if(v, f.ifindex) {
        return;
    }
    let delay = Duration::from_micros(v.random() % (u64::from(max_ms.max(1)) * 1000));
    let at = k.now().saturating_add(delay);
    let auto = v.builtin(ND6).auto();
    match auto.mld.iter_mut().find(|p| p.index == f.ifindex) {
        Some(p) => p.at = p.at.min(at),
        None => auto.mld.push(MldPending { index: f.ifindex, at }),
    }
    nd6_arm(k, v, at);
}

/// The reports whose time has come.
pub(crate) fn mld6_timer(k: &mut Kernel, v: &mut Vnet, now: Time) {
    let Some(auto) = v.get_mut(ND6).and_then(|nd| nd.auto.as_mut()) else {
        return;
    };
    let due: Vec<u32> = auto.mld.iter().filter(|p| p.at <= now).map(|p| p.index).collect();
    auto.mld.retain(|p| p.at > now);
    for index in due {
        let records: Vec<(u8, Ipv6Addr)> = mld6_groups(v, index)
            .into_iter()
            .map(|g| (MLD2_MODE_IS_EXCLUDE, g))
            .collect();
        if !records.is_empty() {
            mld6_output(k, v, index, &records);
        }
    }
}

/// A report out of `index`: IPv6 header, hop-by-hop header with the
/// router alert, the report.
fn mld6_output(k: &mut Kernel, v: &mut Vnet, index: u32, records: &[(u8, Ipv6Addr)]) {
    let src = in6_linklocal(v, index).map_or(Ipv6Addr::UNSPECIFIED, in6_clearscope);
    let mut msg = icmpv6::mldv2_report_emit(records);
    icmpv6::Packet::new_unchecked(&mut msg[..]).fill_checksum(&src, &MLDV2_ROUTERS);
    // Next header ICMPv6, length 0 (8 bytes): router alert "MLD", PadN.
    let hbh = [IPPROTO_ICMPV6, 0, 5, 2, 0, 0, 1, 0];
    let mut m = Mbuf::from_slice(&[&hbh[..], &msg[..]].concat());
    Ipv6Repr {
        src,
        dst: MLDV2_ROUTERS,
        next_header: IPPROTO_HOPOPTS,
        payload_len: (hbh.len() + msg.len()) as u16,
        hop_limit: 1,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(m.prepend(IP6_HDR_LEN));
    if let Some(icmp6) = v.get_mut(ICMP6) {
        icmp6.stats.outhist.bump(icmpv6::MLDV2_LISTENER_REPORT);
    }
    let _ = ether_output_frame(k, v, index, multicast_mac(&MLDV2_ROUTERS), ETHERTYPE_IPV6, m);
}
