//! ICMPv6 (RFC 4443), after `icmp6.c`: echo, errors with their rules
//! (§2.4: never about an error or a redirect, to a multicast destination
//! only for "packet too big" and an unknown option, never from an
//! unspecified or multicast source) and rate limit
//! (`net.inet6.icmp6.errppslimit`), errors to the transports
//! (`pr_ctlinput`), neighbour discovery to nd6, and everything to the raw
//! ICMPv6 sockets (ping6, traceroute6).

use std::net::{IpAddr, Ipv6Addr};

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::kern::sysctl::Oid;
use crate::netinet::icmp::Hist;
use crate::netinet::protosw::{CtlInput, IpFacts, Prc, ip_ctlinput};
use crate::netinet::tcp_hostcache::{tcp_hc_getmtu, tcp_hc_updatemtu};
use crate::netinet6::in6::{in6_clearscope, in6_localip, in6_selectsrc, in6_setscope};
use crate::netinet6::ip6::{IP6_HDR_LEN, IPPROTO_ICMPV6, IPV6_MMTU};
use crate::netinet6::ip6_output::{Ip6Opts, ip6_output};
use crate::vnet::module::{SI_ORDER_FOURTH, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};
use crate::wire::icmpv6::{self, *};
use crate::wire::ipv6::{Ipv6Repr, Packet, ext_walk};

crate::stats! {
    /// ICMPv6 statistics (`struct icmp6stat`).
    pub struct Icmp6Stat {
        error,
        canterror,
        toofreq,
        badcode,
        tooshort,
        checksum,
        badlen,
        reflect,
        pmtuchg,
        badredirect,
        ;
        outhist: Hist<256>,
        inhist: Hist<256>,
    }
}

/// Per-vnet ICMPv6 state.
#[derive(Debug)]
pub struct Icmp6 {
    pub stats: crate::kern::counter::Counters<Icmp6Stat>,
    /// `net.inet6.icmp6.errppslimit`: errors per second (0: no limit).
    pub errppslimit: i32,
    /// `net.inet6.icmp6.rediraccept`: a host takes redirects.
    pub rediraccept: bool,
    /// `net.inet6.icmp6.redirtimeout`: seconds a redirect's route lives.
    pub redirtimeout: i32,
    lim: crate::kern::clock::PpsLimit,
}

impl Default for Icmp6 {
    fn default() -> Self {
        Icmp6 {
            stats: Default::default(),
            errppslimit: 100,
            rediraccept: true,
            redirtimeout: 600,
            lim: Default::default(),
        }
    }
}

impl Icmp6 {
    /// `icmp6_ratelimit`: may one more error go out this second?
    pub(crate) fn ratelimit(&mut self, now: Time) -> bool {
        let ok = self.lim.check(now, self.errppslimit);
        if !ok {
            self.stats.toofreq += 1;
        }
        ok
    }
}

/// The ICMPv6 module's slot.
pub const ICMP6: VnetKey<Icmp6> = VnetKey::fixed(10);

pub(crate) fn module() -> Module<Icmp6> {
    Module::new("icmp6", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_FOURTH), |_, _| {
        Icmp6::default()
    })
    .sysctl_range(
        "net.inet6.icmp6.errppslimit",
        "Maximum number of ICMPv6 error messages per second",
        |s| &mut s.errppslimit,
        0,
        i32::MAX as i64,
    )
    .sysctl("net.inet6.icmp6.rediraccept", "Accept ICMPv6 redirect messages", |s| {
        &mut s.rediraccept
    })
    .sysctl_range(
        "net.inet6.icmp6.redirtimeout",
        "Delay in seconds before expiring redirect route",
        |s| &mut s.redirtimeout,
        1,
        i32::MAX as i64,
    )
    .oid(|k| {
        Oid::vnet_stats(
            k,
            "net.inet6.icmp6.stats",
            "ICMPv6 statistics (struct icmp6stat)",
            |s| s.stats.fields(),
        )
    })
    .builtin()
}

/// An ICMPv6 message `msg` (checksum to be done) as a whole datagram from
/// `src` to `dst` with hop limit `hlim`, for a link-layer address known
/// already (neighbour discovery's answers).
pub fn icmp6_packet(mut msg: Vec<u8>, src: Ipv6Addr, dst: Ipv6Addr, hlim: u8) -> Mbuf {
    let (s, d) = (in6_clearscope(src), in6_clearscope(dst));
    icmpv6::Packet::new_unchecked(&mut msg[..]).fill_checksum(&s, &d);
    let mut m = Mbuf::from_slice(&msg);
    Ipv6Repr {
        src: s,
        dst: d,
        next_header: IPPROTO_ICMPV6,
        payload_len: msg.len() as u16,
        hop_limit: hlim,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(m.prepend(IP6_HDR_LEN));
    m
}

/// Send ICMPv6 message `msg` (its checksum filled here) from `src` (or
/// the address chosen) to `dst`.
pub fn icmp6_send(
    k: &mut Kernel,
    v: &mut Vnet,
    mut msg: Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ifindex: Option<u32>,
    hlim: Option<u8>,
) {
    let src = if src.is_unspecified() {
        let out = ifindex.or_else(|| {
            crate::netinet6::ip6_output::ip6_route(v, &dst, None)
                .ok()
                .flatten()
                .map(|nh| nh.ifindex)
        });
        match out.and_then(|o| in6_selectsrc(v, &dst, o)) {
            Some(s) => s,
            None => return,
        }
    } else {
        src
    };
    icmpv6::Packet::new_unchecked(&mut msg[..]).fill_checksum(&src, &dst);
    if let Some(t) = msg.first()
        && let Some(icmp6) = v.get_mut(ICMP6)
    {
        icmp6.stats.outhist.bump(*t);
    }
    let o = Ip6Opts {
        hlim,
        ifindex,
        proto: IPPROTO_ICMPV6,
        ..Ip6Opts::default()
    };
    let _ = ip6_output(k, v, Mbuf::from_slice(&msg), src, dst, &o);
}

/// A raw ICMPv6 socket's message out (`rip6_output`): counted in the
/// output histogram as the kernel's own are.
pub fn rip6_output(
    k: &mut Kernel,
    v: &mut Vnet,
    msg: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    o: &Ip6Opts,
) -> Result<(), crate::netinet::ip_output::IpOutErr> {
    if let Some(t) = msg.first()
        && let Some(icmp6) = v.get_mut(ICMP6)
    {
        icmp6.stats.outhist.bump(*t);
    }
    ip6_output(k, v, Mbuf::from_slice(msg), src, dst, o)
}

/// Send an ICMPv6 error about datagram `orig` (as the wire carried it,
/// from its IPv6 header) that came in on `in_if`: `param` is packet too
/// big's MTU or a parameter problem's pointer (`icmp6_error`).
pub fn icmp6_error(k: &mut Kernel, v: &mut Vnet, orig: &[u8], t: u8, code: u8, param: u32, in_if: u32) {
    let icmp6 = v.builtin(ICMP6);
    icmp6.stats.error += 1;
    let Ok(p) = Packet::new_checked(orig) else {
        icmp6.stats.canterror += 1;
        return;
    };
    let (src, dst) = (p.src_addr(), p.dst_addr());
    // To a multicast destination only for these two (§2.4 (e.3)).
    let mcast_ok = t == ICMP6_PACKET_TOO_BIG || (t == ICMP6_PARAM_PROB && code == ICMP6_PARAMPROB_OPTION);
    if (dst.is_multicast() && !mcast_ok) || src.is_unspecified() || src.is_multicast() {
        icmp6.stats.canterror += 1;
        return;
    }
    // Never about an error or a redirect (§2.4 (e.1), (e.2)).
    if let Ok(c) = ext_walk(orig)
        && c.proto == IPPROTO_ICMPV6
        && c.frag.is_none_or(|(_, f)| f.offset == 0)
        && let Some(&typ) = orig.get(c.off)
        && (typ < 128 || typ == ND_REDIRECT)
    {
        icmp6.stats.canterror += 1;
        return;
    }
    if !icmp6.ratelimit(k.now()) {
        return;
    }
    // As much as fits in the minimum MTU (§2.4 (c)).
    let quote = orig.len().min(IPV6_MMTU as usize - IP6_HDR_LEN - ICMP6_HDR_LEN);
    let mut msg = vec![0u8; ICMP6_HDR_LEN + quote];
    msg[ICMP6_HDR_LEN..].copy_from_slice(&orig[..quote]);
    let mut e = icmpv6::Packet::new_unchecked(&mut msg[..]);
    e.set_msg_type(t);
    e.set_code(code);
    e.set_param(param);
    // From the address it was sent to, if ours; else the interface's.
    let (src6, dst6) = (in6_setscope(dst, in_if), in6_setscope(src, in_if));
    let from = if in6_localip(v, &src6) {
        src6
    } else {
        in6_selectsrc(v, &dst6, in_if).unwrap_or(Ipv6Addr::UNSPECIFIED)
    };
    icmp6_send(k, v, msg, from, dst6, None, None);
}

/// What an error means to the transport that sent what it quotes
/// (`icmp6_input`'s map to `PRC_*`); `None`: nothing to it.
fn icmp6_prc(t: u8, code: u8, param: u32) -> Option<Prc> {
    match (t, code) {
        (ICMP6_PACKET_TOO_BIG, _) => Some(Prc::MsgSize(param)),
        (ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT) => Some(Prc::UnreachPort),
        (ICMP6_DST_UNREACH, _) => Some(Prc::Unreach),
        (ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHEADER) => Some(Prc::UnreachPort),
        _ => None,
    }
}

/// An ICMPv6 message for this vnet: `m` holds the datagram from its
/// IPv6 header; the message is `m.data()[f.off..f.end]`.
pub fn icmp6_input(k: &mut Kernel, v: &mut Vnet, m: Mbuf, f: &IpFacts) {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (f.src, f.dst) else {
        return;
    };
    let d = &m.data()[f.off..f.end];
    let icmp6 = v.builtin(ICMP6);
    let Some(msg) = icmpv6::Packet::new_checked(d) else {
        icmp6.stats.tooshort += 1;
        return;
    };
    if !msg.verify_checksum(&src, &dst) {
        icmp6.stats.checksum += 1;
        return;
    }
    let t = msg.msg_type();
    icmp6.stats.inhist.bump(t);
    match t {
        ICMP6_ECHO_REQUEST => {
            let mut reply = d.to_vec();
            reply[0] = ICMP6_ECHO_REPLY;
            icmp6.stats.reflect += 1;
            // From the address asked, unless that was a group.
            let from = if dst.is_multicast() { Ipv6Addr::UNSPECIFIED } else { dst };
            icmp6_send(k, v, reply, from, src, dst.is_multicast().then_some(f.ifindex), None);
        }
        ND_NEIGHBOR_SOLICIT => crate::netinet6::nd6::nd6_ns_input(k, v, &m, f),
        ND_NEIGHBOR_ADVERT => crate::netinet6::nd6::nd6_na_input(k, v, &m, f),
        ND_ROUTER_SOLICIT => crate::netinet6::nd6_rtr::nd6_rs_input(k, v, &m, f),
        MLD_LISTENER_QUERY => crate::netinet6::mld6::mld6_input(k, v, &m, f),
        ND_ROUTER_ADVERT => crate::netinet6::nd6_rtr::nd6_ra_input(k, v, &m, f),
        ND_REDIRECT => crate::netinet6::nd6_redirect::icmp6_redirect_input(k, v, &m, f),
        ICMP6_DST_UNREACH | ICMP6_PACKET_TOO_BIG | ICMP6_TIME_EXCEEDED | ICMP6_PARAM_PROB => {
            if t == ICMP6_PACKET_TOO_BIG {
                icmp6_mtudisc_update(k, v, msg.data(), msg.param(), f.ifindex);
            }
            if let Some(prc) = icmp6_prc(t, msg.code(), msg.param()) {
                icmp6_notify(k, v, prc, msg.data(), f.ifindex);
            }
        }
        _ => {}
    }
    // Whoever listens gets it too: ping6, traceroute6, rtsol.
    crate::netinet::raw_ip::rip_input(k, v, IPPROTO_ICMPV6, &m.data()[..f.end], f.ifindex);
}

/// A "packet too big" lowers the path MTU to what it quotes for every
/// sender to that destination, not below the IPv6 minimum (RFC 8201 §4,
/// `icmp6_mtudisc_update`).
fn icmp6_mtudisc_update(k: &mut Kernel, v: &mut Vnet, quote: &[u8], mtu: u32, in_if: u32) {
    // The quote is cut short: only its header is read.
    if mtu < IPV6_MMTU || quote.len() < IP6_HDR_LEN {
        return;
    }
    let q = Packet::new_unchecked(quote);
    let (d6, now) = (in6_setscope(q.dst_addr(), in_if), k.now());
    let dst = IpAddr::V6(d6);
    let current = match tcp_hc_getmtu(v, now, dst) {
        Some(m) => m,
        None => match crate::netinet6::ip6_output::ip6_route(v, &d6, None) {
            Ok(Some(nh)) => nh.mtu as u32,
            _ => return,
        },
    };
    if mtu < current {
        tcp_hc_updatemtu(v, now, dst, mtu);
        v.builtin(ICMP6).stats.pmtuchg += 1;
    }
}

/// Tell the transport of the datagram an error quotes (`pr_ctlinput`).
fn icmp6_notify(k: &mut Kernel, v: &mut Vnet, prc: Prc, quote: &[u8], in_if: u32) {
    if quote.len() < IP6_HDR_LEN + 8 {
        return;
    }
    let q = Packet::new_unchecked(quote);
    let ctlinput = ip_ctlinput(k, q.next_header());
    if let Some(ctlinput) = ctlinput {
        let c = CtlInput {
            prc,
            src: IpAddr::V6(in6_setscope(q.src_addr(), in_if)),
            dst: IpAddr::V6(in6_setscope(q.dst_addr(), in_if)),
            quote: &quote[IP6_HDR_LEN..],
        };
        ctlinput(k, v, &c);
    }
}
