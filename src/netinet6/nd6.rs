//! Neighbour discovery (RFC 4861), after `nd6.c` and `nd6_nbr.c`: the
//! neighbour cache with its states (§7.3.2: INCOMPLETE, REACHABLE, STALE,
//! DELAY, PROBE), bounded like ARP's table, a bounded queue of packets
//! held while a neighbour is resolved, and neighbour solicitations and
//! advertisements in and out (§7.2), and each interface's ND settings
//! (`struct nd_ifinfo`). One timer per vnet serves the whole cache,
//! duplicate address detection (nd6_dad.rs), what router advertisements
//! taught (nd6_rtr.rs) and listener reports due (mld6.rs), armed for
//! the earliest deadline.

use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::kern::Kernel;
use crate::kern::callout::{Action, TimerId};
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::net::ethernet::{ETHERTYPE_IPV6, ether_ntoa, ether_output_frame};
use crate::net::ifnet::IF;
use crate::netinet::protosw::IpFacts;
use crate::netinet6::icmp6::icmp6_send;
use crate::netinet6::in6::{in6_ifaddrs, in6_selectsrc, in6_setscope, key};
use crate::netinet6::ip6::IP6;
use crate::vnet::module::{SI_ORDER_SECOND, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};
use crate::wire::icmpv6::{
    self, ND_NA_FLAG_OVERRIDE, ND_NA_FLAG_ROUTER, ND_NA_FLAG_SOLICITED, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, NdOpt,
};
use crate::wire::ipv6::{Packet, solicited_node};

// An interface's neighbour discovery flags (`ND6_IFF_*`, nd6.h).
pub const ND6_IFF_PERFORMNUD: u32 = 0x1;
pub const ND6_IFF_ACCEPT_RTADV: u32 = 0x2;
pub const ND6_IFF_IFDISABLED: u32 = 0x8;
pub const ND6_IFF_AUTO_LINKLOCAL: u32 = 0x20;
pub const ND6_IFF_NO_DAD: u32 = 0x100;

/// An interface's neighbour discovery settings (`struct nd_ifinfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdIfinfo {
    pub index: u32,
    /// `ND6_IFF_*`.
    pub flags: u32,
    /// The link MTU a router advertised (0: the interface's own).
    pub linkmtu: u32,
}

/// The state of a neighbour (§7.3.2); `Static` is set by hand (`ndp -s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NdState {
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Static,
}

impl NdState {
    /// ndp(8)'s letter for it.
    pub fn letter(self) -> char {
        match self {
            NdState::Incomplete => 'I',
            NdState::Reachable => 'R',
            NdState::Stale => 'S',
            NdState::Delay => 'D',
            NdState::Probe => 'P',
            NdState::Static => 'R',
        }
    }
}

/// A neighbour (`struct llentry` for IPv6).
#[derive(Debug)]
pub struct NdEntry {
    pub state: NdState,
    pub mac: [u8; 6],
    /// It said it is a router (an advertisement's R flag).
    pub router: bool,
    /// Solicitations sent in this state.
    pub asked: u32,
    /// When the state's time is up (REACHABLE ends, a retransmission is
    /// due, a STALE entry is collected).
    pub deadline: Time,
    pub hold: VecDeque<Mbuf>,
}

crate::stats! {
    /// Neighbour discovery counters (of `struct icmp6stat`'s ND part).
    #[derive(Copy)]
    pub struct Nd6Stat {
        nsout,
        naout,
        nsin,
        nain,
        badns,
        badna,
        dropped,
        timeouts,
        dupaddrs,
        rsout,
        rsin,
        rain,
        badra,
        raignored,
    }
}

/// Per-vnet neighbour discovery state.
#[derive(Debug)]
pub struct Nd6 {
    /// Neighbours by (interface, address, scope embedded).
    pub table: FxHashMap<(u32, u128), NdEntry>,
    pub stats: crate::kern::counter::Counters<Nd6Stat>,
    /// `net.inet6.icmp6.nd6_delay`: seconds in DELAY before probing.
    pub delay: i32,
    /// `net.inet6.icmp6.nd6_umaxtries`: unicast probes before giving up.
    pub umaxtries: i32,
    /// `net.inet6.icmp6.nd6_mmaxtries`: multicast solicitations.
    pub mmaxtries: i32,
    /// `net.inet6.icmp6.nd6_maxqueuelen`: packets held per neighbour.
    pub maxqueuelen: i32,
    /// `net.inet6.icmp6.nd6_maxentries` (vimage): entries in the cache.
    pub maxentries: i32,
    /// `net.inet6.icmp6.nd6_reachable`: REACHABLE_TIME in ms (§10).
    pub reachable: i32,
    /// `net.inet6.icmp6.nd6_retrans`: RETRANS_TIMER in ms.
    pub retrans: i32,
    /// `net.inet6.icmp6.nd6_gctimer`: seconds a STALE entry is kept.
    pub gctimer: i32,
    /// Interfaces' settings, for those that have been set.
    pub ifinfo: Vec<NdIfinfo>,
    /// Addresses under DAD and what routers taught, made when first
    /// needed (an idle vnet has none).
    pub auto: Option<Box<crate::netinet6::nd6_rtr::Nd6Auto>>,
    timer: Option<(Time, TimerId)>,
}

impl Default for Nd6 {
    fn default() -> Self {
        Nd6 {
            table: FxHashMap::default(),
            stats: Default::default(),
            delay: 5,
            umaxtries: 3,
            mmaxtries: 3,
            maxqueuelen: 16,
            maxentries: 4096,
            reachable: 30_000,
            retrans: 1_000,
            gctimer: 86_400,
            ifinfo: Vec::new(),
            auto: None,
            timer: None,
        }
    }
}

impl Nd6 {
    pub(crate) fn retrans(&self) -> Duration {
        Duration::from_millis(self.retrans.max(1) as u64)
    }

    /// The autoconfiguration state, made now if need be.
    pub(crate) fn auto(&mut self) -> &mut crate::netinet6::nd6_rtr::Nd6Auto {
        self.auto.get_or_insert_with(Default::default)
    }
}

/// Interface `index`'s ND flags: as set, or the defaults an interface
/// arrives with (`nd6_ifattach`): NUD; a link-local address made
/// automatically (`net.inet6.ip6.auto_linklocal`) on all but bridges;
/// router advertisements accepted if `net.inet6.ip6.accept_rtadv`.
pub fn nd6_ifflags(v: &Vnet, index: u32) -> u32 {
    if let Some(i) = v.get(ND6).and_then(|nd| nd.ifinfo.iter().find(|i| i.index == index)) {
        return i.flags;
    }
    let ip6 = v.get(IP6);
    let ifp = v.get(IF).and_then(|i| i.get(index));
    let bridge = ifp.is_some_and(|i| matches!(i.kind, crate::net::ifnet::IfKind::Bridge(_)));
    let lo = ifp.is_some_and(|i| i.is_loopback());
    let mut f = ND6_IFF_PERFORMNUD;
    if (ip6.is_some_and(|i| i.auto_linklocal) || lo) && !bridge {
        f |= ND6_IFF_AUTO_LINKLOCAL;
    }
    if ip6.is_some_and(|i| i.accept_rtadv) && !lo {
        f |= ND6_IFF_ACCEPT_RTADV;
    }
    f
}

/// Interface `index`'s settings, to change them.
pub(crate) fn nd6_ifinfo(v: &mut Vnet, index: u32) -> &mut NdIfinfo {
    let flags = nd6_ifflags(v, index);
    let nd = v.builtin(ND6);
    let at = match nd.ifinfo.iter().position(|i| i.index == index) {
        Some(at) => at,
        None => {
            nd.ifinfo.push(NdIfinfo {
                index,
                flags,
                linkmtu: 0,
            });
            nd.ifinfo.len() - 1
        }
    };
    &mut nd.ifinfo[at]
}

/// `ifconfig IF inet6 [-]accept_rtadv|[-]no_dad|[-]auto_linklocal|
/// [-]ifdisabled|[-]nud` (SIOCSIFINFO_IN6): one flag on or off. IPv6 on
/// again, or a link-local address wanted, makes one now.
pub fn nd6_setflag(k: &mut Kernel, v: &mut Vnet, index: u32, flag: u32, on: bool) {
    let i = nd6_ifinfo(v, index);
    let was = i.flags;
    i.flags = if on { i.flags | flag } else { i.flags & !flag };
    let enabled = was & ND6_IFF_IFDISABLED != 0 && !on && flag == ND6_IFF_IFDISABLED;
    if enabled || (flag == ND6_IFF_AUTO_LINKLOCAL && on) {
        crate::netinet6::in6::in6_ifattach(k, v, index);
    }
}

/// The link MTU a router advertised on `index` (0: none).
#[inline]
pub fn nd6_linkmtu(v: &Vnet, index: u32) -> u32 {
    v.get(ND6)
        .and_then(|nd| nd.ifinfo.iter().find(|i| i.index == index))
        .map_or(0, |i| i.linkmtu)
}

/// Is IPv6 off on `index`?
pub fn in6_disabled(v: &Vnet, index: u32) -> bool {
    v.get(ND6)
        .and_then(|nd| nd.ifinfo.iter().find(|i| i.index == index))
        .is_some_and(|i| i.flags & ND6_IFF_IFDISABLED != 0)
}

/// The neighbour discovery module's slot.
pub const ND6: VnetKey<Nd6> = VnetKey::fixed(9);

pub(crate) fn module() -> Module<Nd6> {
    Module::new("nd6", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_SECOND), |_, _| {
        Nd6::default()
    })
    .destructor(|k, _, nd| {
        if let Some((_, t)) = nd.timer {
            k.untimeout(t);
        }
    })
    .sysctl_range(
        "net.inet6.icmp6.nd6_delay",
        "Delay in seconds before probing a stale neighbour",
        |s| &mut s.delay,
        0,
        3600,
    )
    .sysctl_range(
        "net.inet6.icmp6.nd6_umaxtries",
        "Number of unicast neighbour solicitations before giving up",
        |s| &mut s.umaxtries,
        1,
        100,
    )
    .sysctl_range(
        "net.inet6.icmp6.nd6_mmaxtries",
        "Number of multicast neighbour solicitations before giving up",
        |s| &mut s.mmaxtries,
        1,
        100,
    )
    .sysctl_range(
        "net.inet6.icmp6.nd6_maxqueuelen",
        "Maximum number of packets held per neighbour being resolved",
        |s| &mut s.maxqueuelen,
        0,
        1 << 16,
    )
    .sysctl_range(
        "net.inet6.icmp6.nd6_maxentries",
        "Maximum number of entries in the neighbour cache",
        |s| &mut s.maxentries,
        1,
        1 << 24,
    )
    .sysctl_range(
        "net.inet6.icmp6.nd6_reachable",
        "Reachable time in milliseconds",
        |s| &mut s.reachable,
        1,
        3_600_000,
    )
    .sysctl_range(
        "net.inet6.icmp6.nd6_retrans",
        "Time between solicitations in milliseconds",
        |s| &mut s.retrans,
        1,
        3_600_000,
    )
    .sysctl_range(
        "net.inet6.icmp6.nd6_gctimer",
        "Seconds a stale neighbour is kept",
        |s| &mut s.gctimer,
        1,
        i32::MAX as i64,
    )
    .oid(|k| {
        crate::kern::sysctl::Oid::vnet_stats(k, "net.inet6.icmp6.nd6_stats", "Neighbour discovery statistics", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}

/// Why resolution failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nd6Err {
    /// The neighbour did not answer (EHOSTDOWN).
    HostDown,
    /// The cache is full (ENOBUFS).
    NoBufs,
}

/// What `nd6_resolve` did with a packet: the neighbour's address with
/// the packet, `None` if it holds it, or why not with the packet.
pub type Resolved = Result<Option<([u8; 6], Mbuf)>, (Nd6Err, Mbuf)>;

/// Make sure the vnet's timer fires by `at`.
pub(crate) fn nd6_arm(k: &mut Kernel, v: &mut Vnet, at: Time) {
    let nd = v.builtin(ND6);
    if nd.timer.is_some_and(|(t, _)| t <= at) {
        return;
    }
    if let Some((_, old)) = nd.timer.take() {
        k.untimeout(old);
    }
    let t = k.timeout_at(
        at,
        Action::Vnet {
            vnet: v.id(),
            f: nd6_timer,
            arg: 0,
        },
    );
    v.builtin(ND6).timer = Some((at, t));
}

/// A REACHABLE entry's lifetime: ReachableTime, drawn between 0.5 and
/// 1.5 times its base (§6.3.2).
fn reachable_time(v: &mut Vnet) -> Duration {
    let base = v.builtin(ND6).reachable.max(1) as u64;
    let f = 500 + v.random() % 1001;
    Duration::from_micros(base * f)
}

/// `nd6_resolve`: the MAC address of `dst` (scope embedded) on `index`.
/// A neighbour not known is solicited and the packet held (`Ok(None)`);
/// a STALE one is used and probed after a delay (§7.3.3).
pub fn nd6_resolve(k: &mut Kernel, v: &mut Vnet, index: u32, dst: Ipv6Addr, m: Mbuf) -> Resolved {
    let now = k.now();
    let nd = v.builtin(ND6);
    let maxhold = nd.maxqueuelen.max(0) as usize;
    let delay = Duration::from_secs(nd.delay.max(0) as u64);
    let full = nd.table.len() >= nd.maxentries.max(1) as usize;
    if let Some(e) = nd.table.get_mut(&(index, key(&dst))) {
        match e.state {
            NdState::Incomplete => {
                e.hold.push_back(m);
                while e.hold.len() > maxhold {
                    e.hold.pop_front();
                    nd.stats.dropped += 1;
                }
                return Ok(None);
            }
            NdState::Reachable if e.deadline <= now => {
                e.state = NdState::Delay;
                e.deadline = now.saturating_add(delay);
            }
            NdState::Stale => {
                e.state = NdState::Delay;
                e.deadline = now.saturating_add(delay);
            }
            _ => return Ok(Some((e.mac, m))),
        }
        let (mac, at) = (e.mac, e.deadline);
        nd6_arm(k, v, at);
        return Ok(Some((mac, m)));
    }
    if full && !nd6_evict(nd) {
        nd.stats.dropped += 1;
        return Err((Nd6Err::NoBufs, m));
    }
    let deadline = now.saturating_add(nd.retrans());
    let mut hold = VecDeque::new();
    if maxhold > 0 {
        hold.push_back(m);
    }
    nd.table.insert(
        (index, key(&dst)),
        NdEntry {
            state: NdState::Incomplete,
            mac: [0; 6],
            router: false,
            asked: 1,
            deadline,
            hold,
        },
    );
    nd6_arm(k, v, deadline);
    nd6_ns_output(k, v, index, dst, None);
    Ok(None)
}

/// Room for a neighbour we need, in a full cache: the STALE entry
/// nearest its collection goes (those unsolicited neighbours made, a
/// flood of them included), as Linux's forced garbage collection does.
/// False if every entry is in use.
fn nd6_evict(nd: &mut Nd6) -> bool {
    let victim = nd
        .table
        .iter()
        .filter(|(_, e)| e.state == NdState::Stale && e.hold.is_empty())
        .min_by_key(|(k, e)| (e.deadline, **k))
        .map(|(k, _)| *k);
    victim.is_some_and(|k| nd.table.remove(&k).is_some())
}

/// The cache's timer: every entry whose time is up moves on (§7.3.3):
/// INCOMPLETE asks again or gives up, REACHABLE goes STALE, DELAY starts
/// probing, PROBE probes again or gives up, STALE is collected.
fn nd6_timer(k: &mut Kernel, v: &mut Vnet, _: u64) {
    let now = k.now();
    let nd = v.builtin(ND6);
    nd.timer = None;
    let due: Vec<(u32, u128)> = nd
        .table
        .iter()
        .filter(|(_, e)| e.state != NdState::Static && e.deadline <= now)
        .map(|(k, _)| *k)
        .collect();
    let (mmax, umax, retrans, gc) = (
        nd.mmaxtries.max(1) as u32,
        nd.umaxtries.max(1) as u32,
        nd.retrans(),
        Duration::from_secs(nd.gctimer.max(1) as u64),
    );
    let mut solicit = Vec::new();
    for key in due {
        let nd = v.builtin(ND6);
        let Some(e) = nd.table.get_mut(&key) else { continue };
        match e.state {
            NdState::Incomplete if e.asked < mmax => {
                e.asked += 1;
                e.deadline = now.saturating_add(retrans);
                solicit.push((key, false));
            }
            NdState::Probe if e.asked < umax => {
                e.asked += 1;
                e.deadline = now.saturating_add(retrans);
                solicit.push((key, true));
            }
            NdState::Incomplete | NdState::Probe => {
                // Nobody answered: what waited is dropped.
                if let Some(e) = nd.table.remove(&key) {
                    nd.stats.dropped += e.hold.len() as u64;
                }
                nd.stats.timeouts += 1;
            }
            NdState::Reachable => {
                e.state = NdState::Stale;
                e.deadline = now.saturating_add(gc);
            }
            NdState::Delay => {
                e.state = NdState::Probe;
                e.asked = 1;
                e.deadline = now.saturating_add(retrans);
                solicit.push((key, true));
            }
            NdState::Stale => {
                nd.table.remove(&key);
            }
            NdState::Static => {}
        }
    }
    for ((index, a), unicast) in solicit {
        let mac = unicast
            .then(|| v.builtin(ND6).table.get(&(index, a)).map(|e| e.mac))
            .flatten();
        nd6_ns_output(k, v, index, Ipv6Addr::from(a), mac);
    }
    crate::netinet6::nd6_dad::nd6_dad_timer(k, v, now);
    crate::netinet6::mld6::mld6_timer(k, v, now);
    crate::netinet6::nd6_rtr::nd6_rtr_timer(v, now);
    crate::netinet6::nd6_redirect::nd6_redirect_timer(v, now);
    let nd = v.builtin(ND6);
    let cache = nd
        .table
        .values()
        .filter(|e| e.state != NdState::Static)
        .map(|e| e.deadline)
        .min();
    let auto = nd.auto.as_ref().and_then(|a| a.next());
    if let Some(next) = cache.into_iter().chain(auto).min() {
        nd6_arm(k, v, next);
    }
}

/// Solicit `target` (scope embedded) on `index`: to its solicited-node
/// group, or straight to `unicast` when probing a neighbour known
/// (§7.2.2). The source is an address of the interface, and our MAC goes
/// with it.
pub fn nd6_ns_output(k: &mut Kernel, v: &mut Vnet, index: u32, target: Ipv6Addr, unicast: Option<[u8; 6]>) {
    let Some(mac) = v.builtin(IF).get(index).map(|i| i.lladdr) else {
        return;
    };
    let dst = match unicast {
        Some(_) => target,
        None => in6_setscope(solicited_node(&target), index),
    };
    let Some(src) = in6_selectsrc(v, &target, index) else {
        return;
    };
    v.builtin(ND6).stats.nsout += 1;
    let msg = icmpv6::nd_emit(
        ND_NEIGHBOR_SOLICIT,
        0,
        &crate::netinet6::in6::in6_clearscope(target),
        Some(mac),
    );
    match unicast {
        // A probe goes to the MAC we know, not through the cache again.
        Some(to) => nd6_output_to(k, v, index, src, dst, to, msg),
        None => icmp6_send(k, v, msg, src, dst, Some(index), Some(255)),
    }
}

/// Send an ND message to a neighbour whose MAC is given.
pub(crate) fn nd6_output_to(
    k: &mut Kernel,
    v: &mut Vnet,
    index: u32,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    mac: [u8; 6],
    msg: Vec<u8>,
) {
    if let (Some(icmp6), Some(&t)) = (v.get_mut(crate::netinet6::icmp6::ICMP6), msg.first()) {
        icmp6.stats.outhist.bump(t);
    }
    let m = crate::netinet6::icmp6::icmp6_packet(msg, src, dst, 255);
    let _ = ether_output_frame(k, v, index, mac, ETHERTYPE_IPV6, m);
}

/// `nd6_cache_lladdr`: what a solicitation (or router message) says of
/// its sender's MAC: a new neighbour is STALE, a changed one goes STALE
/// (§7.2.3); what was held for an INCOMPLETE one goes out.
pub(crate) fn nd6_cache_lladdr(k: &mut Kernel, v: &mut Vnet, index: u32, addr: Ipv6Addr, mac: [u8; 6]) {
    let now = k.now();
    let nd = v.builtin(ND6);
    let gc = Duration::from_secs(nd.gctimer.max(1) as u64);
    let full = nd.table.len() >= nd.maxentries.max(1) as usize;
    let held = match nd.table.get_mut(&(index, key(&addr))) {
        Some(e) if e.state == NdState::Static => return,
        Some(e) if e.state != NdState::Incomplete && e.mac == mac => return,
        Some(e) => {
            e.mac = mac;
            e.state = NdState::Stale;
            e.deadline = now.saturating_add(gc);
            std::mem::take(&mut e.hold)
        }
        None if !full => {
            nd.table.insert(
                (index, key(&addr)),
                NdEntry {
                    state: NdState::Stale,
                    mac,
                    router: false,
                    asked: 0,
                    deadline: now.saturating_add(gc),
                    hold: VecDeque::new(),
                },
            );
            VecDeque::new()
        }
        None => return,
    };
    nd6_arm(k, v, now.saturating_add(gc));
    for m in held {
        let _ = ether_output_frame(k, v, index, mac, ETHERTYPE_IPV6, m);
    }
}

/// The hop limit of the datagram holding an ND message: 255, or it came
/// from beyond the link (§7.1.1).
pub(crate) fn from_link(m: &Mbuf) -> bool {
    Packet::new_unchecked(m.data()).hop_limit() == 255
}

/// A neighbour solicitation (§7.1.1, §7.2.3): validated, its sender's
/// MAC learnt, answered if the target is ours.
pub fn nd6_ns_input(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, f: &IpFacts) {
    let (std::net::IpAddr::V6(src), std::net::IpAddr::V6(dst)) = (f.src, f.dst) else {
        return;
    };
    let Some(msg) = icmpv6::Packet::new_checked(&m.data()[f.off..f.end]) else {
        return;
    };
    let target = msg.target();
    let opts = msg.nd_options();
    let slla = opts.iter().flatten().find_map(|o| match o {
        NdOpt::SourceLinkAddr(mac) => Some(*mac),
        _ => None,
    });
    let dad = src.is_unspecified();
    let valid = from_link(m)
        && msg.code() == 0
        && opts.is_some()
        && !target.is_multicast()
        && (!dad || (dst.segments()[0] == 0xff02 && slla.is_none()));
    let nd = v.builtin(ND6);
    if !valid {
        nd.stats.badns += 1;
        return;
    }
    nd.stats.nsin += 1;
    let target = in6_setscope(target, f.ifindex);
    let Some(ia) = in6_ifaddrs(v, f.ifindex).find(|ia| ia.addr == target).copied() else {
        return;
    };
    if !ia.usable() {
        // Our tentative address: another node wants it too (RFC 4862
        // §5.4.3); one resolving it is not answered yet.
        if dad {
            crate::netinet6::nd6_dad::nd6_dad_ns_input(k, v, f.ifindex, target);
        }
        return;
    }
    if let Some(mac) = slla {
        nd6_cache_lladdr(k, v, f.ifindex, src, mac);
    }
    let router = v.get(IP6).is_some_and(|ip6| ip6.forwarding);
    let mut flags = ND_NA_FLAG_OVERRIDE | if router { ND_NA_FLAG_ROUTER } else { 0 };
    let to = if dad {
        in6_setscope(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), f.ifindex)
    } else {
        flags |= ND_NA_FLAG_SOLICITED;
        src
    };
    nd6_na_output(k, v, f.ifindex, target, to, flags, slla);
}

/// Advertise `target` (ours) to `to` with `flags`; `mac`: the
/// solicitor's, to answer it without resolving it.
fn nd6_na_output(
    k: &mut Kernel,
    v: &mut Vnet,
    index: u32,
    target: Ipv6Addr,
    to: Ipv6Addr,
    flags: u8,
    mac: Option<[u8; 6]>,
) {
    let Some(mine) = v.builtin(IF).get(index).map(|i| i.lladdr) else {
        return;
    };
    v.builtin(ND6).stats.naout += 1;
    let msg = icmpv6::nd_emit(
        ND_NEIGHBOR_ADVERT,
        flags,
        &crate::netinet6::in6::in6_clearscope(target),
        Some(mine),
    );
    match mac {
        Some(mac) if !to.is_multicast() => nd6_output_to(k, v, index, target, to, mac, msg),
        _ => icmp6_send(k, v, msg, target, to, Some(index), Some(255)),
    }
}

/// A neighbour advertisement (§7.1.2, §7.2.5): an INCOMPLETE neighbour
/// learns its MAC (and gets what was held); a known one is updated as
/// the override and solicited flags say.
pub fn nd6_na_input(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, f: &IpFacts) {
    let std::net::IpAddr::V6(dst) = f.dst else { return };
    let Some(msg) = icmpv6::Packet::new_checked(&m.data()[f.off..f.end]) else {
        return;
    };
    let flags = msg.na_flags();
    let target = msg.target();
    let opts = msg.nd_options();
    let tlla = opts.iter().flatten().find_map(|o| match o {
        NdOpt::TargetLinkAddr(mac) => Some(*mac),
        _ => None,
    });
    let solicited = flags & ND_NA_FLAG_SOLICITED != 0;
    let valid = from_link(m)
        && msg.code() == 0
        && opts.is_some()
        && !target.is_multicast()
        && !(solicited && dst.is_multicast());
    if !valid {
        v.builtin(ND6).stats.badna += 1;
        return;
    }
    v.builtin(ND6).stats.nain += 1;
    let target = in6_setscope(target, f.ifindex);
    let ours = in6_ifaddrs(v, f.ifindex).find(|ia| ia.addr == target).copied();
    if let Some(ia) = ours {
        // Someone else says it has our address: while DAD runs, it is
        // not ours (RFC 4862 §5.4.4); after, it is logged.
        if !ia.usable() {
            crate::netinet6::nd6_dad::nd6_dad_na_input(k, v, f.ifindex, target);
            return;
        }
        v.builtin(ND6).stats.dupaddrs += 1;
        let name = v.builtin(IF).get(f.ifindex).map(|i| i.name.clone()).unwrap_or_default();
        k.log(format!(
            "nd6_na_input: duplicate IP6 address {} by {} on {name}",
            crate::netinet6::in6::in6_clearscope(target),
            tlla.map(|m| ether_ntoa(&m)).unwrap_or_default()
        ));
        return;
    }
    let now = k.now();
    let rt = reachable_time(v);
    let nd = v.builtin(ND6);
    let gc = Duration::from_secs(nd.gctimer.max(1) as u64);
    let Some(e) = nd.table.get_mut(&(f.ifindex, key(&target))) else {
        return;
    };
    let (override_, router) = (flags & ND_NA_FLAG_OVERRIDE != 0, flags & ND_NA_FLAG_ROUTER != 0);
    let mut held = VecDeque::new();
    match e.state {
        NdState::Static => return,
        NdState::Incomplete => {
            let Some(mac) = tlla else { return };
            e.mac = mac;
            (e.state, e.deadline) = if solicited {
                (NdState::Reachable, now.saturating_add(rt))
            } else {
                (NdState::Stale, now.saturating_add(gc))
            };
            e.asked = 0;
            held = std::mem::take(&mut e.hold);
        }
        _ => {
            let changed = tlla.is_some_and(|m| m != e.mac);
            if !override_ && changed {
                if e.state == NdState::Reachable {
                    e.state = NdState::Stale;
                    e.deadline = now.saturating_add(gc);
                }
                return;
            }
            if let Some(mac) = tlla {
                e.mac = mac;
            }
            if solicited {
                e.state = NdState::Reachable;
                e.deadline = now.saturating_add(rt);
                e.asked = 0;
            } else if changed {
                e.state = NdState::Stale;
                e.deadline = now.saturating_add(gc);
            }
        }
    }
    e.router = router;
    let (mac, at) = (e.mac, e.deadline);
    nd6_arm(k, v, at);
    for m in held {
        let _ = ether_output_frame(k, v, f.ifindex, mac, ETHERTYPE_IPV6, m);
    }
}

/// Forget every neighbour on `index` (it left the vnet).
pub fn nd6_ifdetach(v: &mut Vnet, index: u32) {
    if let Some(nd) = v.get_mut(ND6) {
        nd.table.retain(|&(i, _), _| i != index);
        nd.ifinfo.retain(|i| i.index != index);
        if let Some(a) = nd.auto.as_mut() {
            a.ifdetach(index);
        }
    }
}

/// `ndp -s`: a permanent entry.
pub fn nd6_add_static(v: &mut Vnet, index: u32, addr: Ipv6Addr, mac: [u8; 6]) {
    v.builtin(ND6).table.insert(
        (index, key(&addr)),
        NdEntry {
            state: NdState::Static,
            mac,
            router: false,
            asked: 0,
            deadline: Time::ZERO,
            hold: VecDeque::new(),
        },
    );
}

/// `ndp -d`: delete the entries for `addr` (scope embedded); how many.
pub fn nd6_delete(v: &mut Vnet, addr: &Ipv6Addr) -> usize {
    let nd = v.builtin(ND6);
    let n = nd.table.len();
    nd.table.retain(|&(_, a), _| a != key(addr));
    n - nd.table.len()
}

/// `ndp -c`: flush the cache (static entries too, as ndp does).
pub fn nd6_flush(v: &mut Vnet) -> usize {
    let nd = v.builtin(ND6);
    let n = nd.table.len();
    nd.table.clear();
    n
}
