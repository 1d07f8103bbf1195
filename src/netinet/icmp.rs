//! ICMP (RFC 792, RFC 1122 §3.2.2, RFC 1812 §4.3), after `ip_icmp.c`:
//! echo, errors with their rules (never about an ICMP error, a fragment
//! other than the first, or a broadcast), rate limiting by
//! `net.inet.icmp.icmplim`, and delivery of what the kernel does not answer
//! itself to raw sockets (ping, traceroute).

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::kern::sysctl::Oid;
use crate::netinet::in_::{in_broadcast, in_localip, in_multicast};
use crate::netinet::in_pcb::{in4, ip4};
use crate::netinet::ip::{IP_OFFMASK, IPPROTO_ICMP};
use crate::netinet::ip_output::{IpOpts, ip_output};
use crate::netinet::protosw::{CtlInput, IpFacts, Prc};
use crate::vnet::module::{SI_ORDER_FOURTH, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};
use crate::wire::ipv4::Packet;

pub const ICMP_ECHOREPLY: u8 = 0;
pub const ICMP_UNREACH: u8 = 3;
pub const ICMP_SOURCEQUENCH: u8 = 4;
pub const ICMP_REDIRECT: u8 = 5;
pub const ICMP_ECHO: u8 = 8;
pub const ICMP_TIMXCEED: u8 = 11;
pub const ICMP_PARAMPROB: u8 = 12;
pub const ICMP_TSTAMP: u8 = 13;
pub const ICMP_TSTAMPREPLY: u8 = 14;
pub const ICMP_MAXTYPE: u8 = 40;

pub const ICMP_UNREACH_NET: u8 = 0;
pub const ICMP_UNREACH_HOST: u8 = 1;
pub const ICMP_UNREACH_PROTOCOL: u8 = 2;
pub const ICMP_UNREACH_PORT: u8 = 3;
pub const ICMP_UNREACH_NEEDFRAG: u8 = 4;
pub const ICMP_UNREACH_SRCFAIL: u8 = 5;
pub const ICMP_TIMXCEED_INTRANS: u8 = 0;
pub const ICMP_TIMXCEED_REASS: u8 = 1;
pub const ICMP_REDIRECT_HOST: u8 = 1;
use crate::wire::icmp;
pub use crate::wire::icmp::ICMP_MINLEN;
/// Bytes of the offending datagram quoted after its header in a redirect
/// (RFC 792).
pub const ICMP_QUOTELEN: usize = 8;

/// Is this type an error message (as opposed to a query or a reply)?
pub fn icmp_is_error(t: u8) -> bool {
    matches!(
        t,
        ICMP_UNREACH | ICMP_SOURCEQUENCH | ICMP_REDIRECT | ICMP_TIMXCEED | ICMP_PARAMPROB
    )
}

/// netstat's name for an ICMP type (`icmpnames[]`).
pub fn icmp_name(t: u8) -> String {
    match t {
        0 => "echo reply".into(),
        3 => "destination unreachable".into(),
        4 => "source quench".into(),
        5 => "routing redirect".into(),
        8 => "echo".into(),
        9 => "router advertisement".into(),
        10 => "router solicitation".into(),
        11 => "time exceeded".into(),
        12 => "parameter problem".into(),
        13 => "time stamp".into(),
        14 => "time stamp reply".into(),
        15 => "information request".into(),
        16 => "information request reply".into(),
        17 => "address mask request".into(),
        18 => "address mask reply".into(),
        n => format!("#{n}"),
    }
}

/// A histogram of message types below `N`; it takes no memory until
/// something counts (ICMP's `icps_outhist`, ICMPv6's `icp6s_outhist`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hist<const N: usize = { ICMP_MAXTYPE as usize + 1 }>(Option<Box<[u64; N]>>);

impl<const N: usize> Default for Hist<N> {
    fn default() -> Self {
        Hist(None)
    }
}

impl<const N: usize> Hist<N> {
    pub fn bump(&mut self, t: u8) {
        if (t as usize) < N {
            self.0.get_or_insert_with(|| Box::new([0; N]))[t as usize] += 1;
        }
    }

    /// (type, count) of every type counted.
    pub fn counts(&self) -> Vec<(u8, u64)> {
        self.0
            .iter()
            .flat_map(|h| {
                h.iter()
                    .enumerate()
                    .filter(|(_, n)| **n != 0)
                    .map(|(t, n)| (t as u8, *n))
            })
            .collect()
    }
}

crate::stats! {
    /// ICMP statistics (`struct icmpstat`).
    pub struct IcmpStat {
        error,
        oldicmp,
        badcode,
        tooshort,
        checksum,
        badlen,
        reflect,
        bmcastecho,
        bmcasttstamp,
        badaddr,
        noroute,
        /// Errors and replies not sent for `icmplim`.
        ratelimited,
        ;
        outhist: Hist,
        inhist: Hist,
    }
}

/// Per-vnet ICMP state.
#[derive(Debug)]
pub struct Icmp {
    pub stats: crate::kern::counter::Counters<IcmpStat>,
    /// `net.inet.icmp.icmplim`: responses per second (0: no limit).
    pub icmplim: i32,
    /// `net.inet.icmp.bmcastecho`: answer broadcast echo requests.
    pub bmcastecho: bool,
    /// `net.inet.icmp.tstamprepl`: answer timestamp requests.
    pub tstamprepl: bool,
    /// `net.inet.icmp.quotelen`: bytes of the offending datagram quoted
    /// in an error (RFC 1812 §4.3.2.3: 576 - 28).
    pub quotelen: i32,
    lim: crate::kern::clock::PpsLimit,
}

impl Default for Icmp {
    fn default() -> Self {
        Icmp {
            stats: Default::default(),
            icmplim: 200,
            bmcastecho: false,
            tstamprepl: true,
            quotelen: 548,
            lim: Default::default(),
        }
    }
}

impl Icmp {
    /// `badport_bandlim`: may one more response go out this second?
    fn bandlim(&mut self, now: Time) -> bool {
        let ok = self.lim.check(now, self.icmplim);
        if !ok {
            self.stats.ratelimited += 1;
        }
        ok
    }
}

/// The ICMP module's slot.
pub const ICMP: VnetKey<Icmp> = VnetKey::fixed(4);

pub(crate) fn module() -> Module<Icmp> {
    Module::new("icmp", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_FOURTH), |_, _| {
        Icmp::default()
    })
    .sysctl_range(
        "net.inet.icmp.icmplim",
        "Maximum number of ICMP responses per second",
        |s| &mut s.icmplim,
        0,
        i32::MAX as i64,
    )
    .sysctl(
        "net.inet.icmp.bmcastecho",
        "Reply to multicast/broadcast ICMP Echo Request",
        |s| &mut s.bmcastecho,
    )
    .sysctl_range(
        "net.inet.icmp.quotelen",
        "Number of bytes from original packet to quote in ICMP reply",
        |s| &mut s.quotelen,
        0,
        65535,
    )
    .sysctl("net.inet.icmp.tstamprepl", "Respond to ICMP Timestamp packets", |s| {
        &mut s.tstamprepl
    })
    .oid(|k| {
        Oid::vnet_stats(k, "net.inet.icmp.stats", "ICMP statistics (struct icmpstat)", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}

/// Send an ICMP error about datagram `orig` (its IP header and more), as
/// `icmp_error` does: `nextmtu` goes with "fragmentation needed"; `in_if`
/// is the interface the datagram came in on (its address is our source).
pub fn icmp_error(k: &mut Kernel, v: &mut Vnet, orig: &[u8], t: u8, code: u8, nextmtu: u16, in_if: Option<u32>) {
    v.builtin(ICMP).stats.error += 1;
    let Ok(h) = Packet::new_checked(orig).map(|p| p.repr()) else {
        return;
    };
    let hl = h.hl;
    // Only about the first fragment, never about an ICMP error (RFC 1122).
    if h.off & IP_OFFMASK != 0 {
        return;
    }
    if h.p == IPPROTO_ICMP && orig.len() > hl && icmp_is_error(orig[hl]) {
        v.builtin(ICMP).stats.oldicmp += 1;
        return;
    }
    // Never to or about broadcast, multicast or unspecified addresses.
    let bcast = in_if.is_some_and(|i| in_broadcast(v, h.dst, i) || in_broadcast(v, h.src, i));
    if bcast || in_multicast(h.dst) || in_multicast(h.src) || h.src == 0 || h.src == u32::MAX {
        return;
    }
    let icmp = v.builtin(ICMP);
    if !icmp.bandlim(k.now()) {
        return;
    }
    let quote = orig.len().min(hl + icmp.quotelen.max(8) as usize);
    let mut m = Mbuf::zeroed(ICMP_MINLEN + quote);
    let d = m.data_mut();
    d[ICMP_MINLEN..].copy_from_slice(&orig[..quote]);
    let mut p = icmp::Packet::new_unchecked(d);
    p.set_msg_type(t);
    p.set_code(code);
    if t == ICMP_UNREACH && code == ICMP_UNREACH_NEEDFRAG {
        p.set_next_mtu(nextmtu);
    }
    // The quoted length is as it was on the wire.
    p.fill_checksum();
    v.builtin(ICMP).stats.outhist.bump(t);
    let src = if in_localip(v, h.dst) {
        Some(h.dst)
    } else {
        in_if.and_then(|i| crate::netinet::in_::in_ifaddr_for(v, i, h.src))
    };
    let opts = IpOpts {
        src,
        proto: IPPROTO_ICMP,
        ..IpOpts::default()
    };
    let _ = ip_output(k, v, m, h.src, &opts);
}

/// What an error means to the transport that sent the datagram it
/// quotes (`icmp_input`'s map to `PRC_*`); `None`: nothing to it.
fn icmp_prc(t: u8, code: u8, mtu: u16) -> Option<Prc> {
    match (t, code) {
        (ICMP_UNREACH, ICMP_UNREACH_NEEDFRAG) => Some(Prc::MsgSize(mtu as u32)),
        (ICMP_UNREACH, ICMP_UNREACH_PORT | ICMP_UNREACH_PROTOCOL) => Some(Prc::UnreachPort),
        (ICMP_UNREACH, _) => Some(Prc::Unreach),
        _ => None,
    }
}

/// An ICMP message for this vnet: `m` holds the datagram from its IP
/// header; `bcast` says it was sent to a broadcast address.
pub fn icmp_input(k: &mut Kernel, v: &mut Vnet, m: Mbuf, f: &IpFacts) {
    let (Some(isrc), Some(idst)) = (in4(f.src), in4(f.dst)) else {
        return;
    };
    let (in_if, bcast) = (f.ifindex, f.bcast);
    let d = &m.data()[f.off..f.end];
    let icmp = v.builtin(ICMP);
    let Some(msg) = icmp::Packet::new_checked(d) else {
        icmp.stats.tooshort += 1;
        return;
    };
    if !msg.verify_checksum() {
        icmp.stats.checksum += 1;
        return;
    }
    let t = msg.msg_type();
    icmp.stats.inhist.bump(t);
    match t {
        ICMP_ECHO | ICMP_TSTAMP => {
            if bcast && !icmp.bmcastecho {
                icmp.stats.bmcastecho += 1;
                return;
            }
            if t == ICMP_TSTAMP && (!icmp.tstamprepl || d.len() < icmp::ICMP_TSLEN) {
                return;
            }
            if !icmp.bandlim(k.now()) {
                return;
            }
            let mut reply = icmp::Packet::new_unchecked(d.to_vec());
            let rt = if t == ICMP_ECHO {
                ICMP_ECHOREPLY
            } else {
                ICMP_TSTAMPREPLY
            };
            reply.set_msg_type(rt);
            if t == ICMP_TSTAMP {
                // Milliseconds since midnight UT (RFC 792), here of the clock.
                let ms = ((k.now().0 / 1_000_000) % 86_400_000) as u32;
                reply.set_timestamps(ms, ms);
            }
            reply.fill_checksum();
            let reply = reply.into_inner();
            icmp.stats.reflect += 1;
            icmp.stats.outhist.bump(rt);
            // icmp_reflect: answer from the address asked, or the interface's.
            let src = if in_localip(v, idst) {
                Some(idst)
            } else {
                crate::netinet::in_::in_ifaddr_for(v, in_if, isrc)
            };
            let opts = IpOpts {
                src,
                proto: IPPROTO_ICMP,
                ..IpOpts::default()
            };
            let _ = ip_output(k, v, Mbuf::from_slice(&reply), isrc, &opts);
        }
        _ => {
            if t == ICMP_UNREACH && msg.code() > 15 {
                icmp.stats.badcode += 1;
            }
            // Errors tell the transport about what it sent (`pr_ctlinput`).
            if let Some(prc) = icmp_prc(t, msg.code(), msg.next_mtu())
                && let Ok(q) = Packet::new_checked(msg.data())
                && q.payload().len() >= 8
                && let Some(ctlinput) = crate::netinet::protosw::ip_ctlinput(k, q.protocol())
            {
                let c = CtlInput {
                    prc,
                    src: ip4(q.src_addr()),
                    dst: ip4(q.dst_addr()),
                    quote: q.payload(),
                };
                ctlinput(k, v, &c);
            }
            // Replies and errors belong to whoever listens: ping, traceroute.
            crate::netinet::raw_ip::rip_input(k, v, IPPROTO_ICMP, &m.data()[..f.end], f.ifindex);
        }
    }
}
