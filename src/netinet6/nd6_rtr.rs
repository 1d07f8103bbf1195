//! Router and prefix discovery (RFC 4861 §6.3) and stateless address
//! autoconfiguration (RFC 4862 §5.5), after `nd6_rtr.c`. A host whose
//! interface accepts router advertisements (`ifconfig IF inet6
//! accept_rtadv`, not while forwarding) learns from them its default
//! routers (a default route through one of them unless one is set by
//! hand), its on-link prefixes (a route each) and makes itself an
//! address in each autonomous /64 from its interface identifier; each
//! lives as long as the advertisements say, and the two-hour rule
//! guards an address's lifetime (§5.5.3 e). Solicitations are sent by
//! rtsol(8) and advertisements by rtadvd(8), programs as on FreeBSD.

use std::net::Ipv6Addr;
use std::time::Duration;

use crate::kern::Kernel;
use crate::kern::clock::Time;
use crate::kern::mbuf::Mbuf;
use crate::net::ifnet::IF;
use crate::net::radix::Key;
use crate::net::route::{Gateway, RTF_STATIC, Rtentry};
use crate::net::rtsock::{rt_add, rt_delete};
use crate::netinet::protosw::IpFacts;
use crate::netinet6::in6::{
    IN6_IFF_AUTOCONF, IN6_IFF_DEPRECATED, in6_aifaddr, in6_clearscope, in6_difaddr, in6_ifaddr_of, key,
};
use crate::netinet6::ip6::{IP6, IPV6_MMTU};
use crate::netinet6::nd6::{
    ND6, ND6_IFF_ACCEPT_RTADV, ND6_IFF_IFDISABLED, from_link, nd6_arm, nd6_cache_lladdr, nd6_ifflags, nd6_ifinfo,
};
use crate::netinet6::nd6_dad::Dad;
use crate::vnet::Vnet;
use crate::wire::icmpv6::{self, ND_OPT_PI_FLAG_AUTO, ND_OPT_PI_FLAG_ONLINK, NdOpt, PrefixInfo};
use crate::wire::ipv6::{eui64, is_link_local};

/// A lifetime that never ends (§4.6.2: all ones).
pub const ND6_INFINITE_LIFETIME: u32 = u32::MAX;
/// RFC 4862 §5.5.3 e: a valid lifetime is not cut below two hours by an
/// advertisement nobody authenticated.
const TWO_HOURS: Duration = Duration::from_secs(7200);

/// A default router (`struct nd_defrouter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdDefrouter {
    pub index: u32,
    /// Its link-local address, scope embedded.
    pub addr: Ipv6Addr,
    pub expire: Time,
    /// The default route goes through it.
    pub installed: bool,
}

/// A prefix an advertisement gave (`struct nd_prefix`), with the address
/// made in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdPrefix {
    pub index: u32,
    pub prefix: Ipv6Addr,
    pub plen: u8,
    /// Until when it is on-link (ZERO: it was not said to be).
    pub expire: Time,
    /// Its route was added for it.
    pub route: bool,
    /// The address made in it, and until when it is preferred and valid.
    pub addr: Option<Ipv6Addr>,
    pub pltime: Time,
    pub vltime: Time,
}

/// What a vnet's autoconfiguration holds (FreeBSD's `V_nd6_list_*`,
/// `V_dadq`), made when first needed.
#[derive(Debug, Default)]
pub struct Nd6Auto {
    pub dad: Vec<Dad>,
    /// Listener reports due (mld6.rs).
    pub mld: Vec<crate::netinet6::mld6::MldPending>,
    pub routers: Vec<NdDefrouter>,
    pub prefixes: Vec<NdPrefix>,
    /// Host routes redirects installed (nd6_redirect.rs).
    pub redirects: Vec<crate::netinet6::nd6_redirect::NdRedirect>,
}

impl Nd6Auto {
    /// The earliest time something here is due.
    pub fn next(&self) -> Option<Time> {
        let dad = self.dad.iter().map(|d| d.deadline).chain(self.mld.iter().map(|m| m.at));
        let rtr = self.routers.iter().map(|r| r.expire);
        let pfx = self.prefixes.iter().flat_map(|p| {
            let onlink = (p.expire != Time::ZERO).then_some(p.expire);
            let addr = p.addr.map(|_| {
                if p.pltime != Time::ZERO {
                    p.pltime.min(p.vltime)
                } else {
                    p.vltime
                }
            });
            onlink.into_iter().chain(addr)
        });
        let redirects = self.redirects.iter().map(|r| r.expire);
        dad.chain(rtr)
            .chain(pfx)
            .chain(redirects)
            .filter(|t| t.0 != u64::MAX)
            .min()
    }

    /// Interface `index` left: what it learnt goes with it.
    pub fn ifdetach(&mut self, index: u32) {
        self.dad.retain(|d| d.index != index);
        self.mld.retain(|m| m.index != index);
        self.routers.retain(|r| r.index != index);
        self.prefixes.retain(|p| p.index != index);
        self.redirects.retain(|r| r.index != index);
    }
}

/// `now + s` seconds, all ones being forever.
fn lifetime(now: Time, s: u32) -> Time {
    if s == ND6_INFINITE_LIFETIME {
        Time(u64::MAX)
    } else {
        now.saturating_add(Duration::from_secs(s.into()))
    }
}

/// A router solicitation reaching a router (`nd6_rs_input`): its
/// sender's MAC is learnt; the answer is rtadvd's.
pub fn nd6_rs_input(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, f: &IpFacts) {
    let std::net::IpAddr::V6(src) = f.src else { return };
    if !v.get(IP6).is_some_and(|ip6| ip6.forwarding) {
        return;
    }
    let Some(msg) = icmpv6::Packet::new_checked(&m.data()[f.off..f.end]) else {
        return;
    };
    let opts = msg.nd_options();
    let slla = opts.iter().flatten().find_map(|o| match o {
        NdOpt::SourceLinkAddr(mac) => Some(*mac),
        _ => None,
    });
    // §6.1.1: from the link, code 0, 8 bytes at least, and no link-layer
    // address from the unspecified address.
    let valid = from_link(m)
        && msg.code() == 0
        && f.end - f.off >= 8
        && opts.is_some()
        && !(src.is_unspecified() && slla.is_some());
    let nd = v.builtin(ND6);
    if !valid {
        nd.stats.badra += 1;
        return;
    }
    nd.stats.rsin += 1;
    if let Some(mac) = slla
        && !src.is_unspecified()
    {
        nd6_cache_lladdr(k, v, f.ifindex, src, mac);
    }
}

/// A router advertisement (`nd6_ra_input`, §6.1.2, §6.3.4): validated,
/// then its router, link MTU and prefixes are taken, if the interface
/// accepts advertisements and this vnet is not a router.
pub fn nd6_ra_input(k: &mut Kernel, v: &mut Vnet, m: &Mbuf, f: &IpFacts) {
    let std::net::IpAddr::V6(src) = f.src else { return };
    let index = f.ifindex;
    let Some(msg) = icmpv6::Packet::new_checked(&m.data()[f.off..f.end]) else {
        return;
    };
    let opts = msg.nd_options();
    let valid =
        from_link(m) && msg.code() == 0 && f.end - f.off >= 16 && is_link_local(&in6_clearscope(src)) && opts.is_some();
    if !valid {
        v.builtin(ND6).stats.badra += 1;
        return;
    }
    let flags = nd6_ifflags(v, index);
    let router = v.get(IP6).is_some_and(|ip6| ip6.forwarding);
    if router || flags & ND6_IFF_ACCEPT_RTADV == 0 || flags & ND6_IFF_IFDISABLED != 0 {
        v.builtin(ND6).stats.raignored += 1;
        return;
    }
    v.builtin(ND6).stats.rain += 1;
    let ra = msg.ra();
    let now = k.now();
    for o in opts.iter().flatten() {
        match *o {
            NdOpt::SourceLinkAddr(mac) => {
                nd6_cache_lladdr(k, v, index, src, mac);
                if let Some(e) = v.builtin(ND6).table.get_mut(&(index, key(&src))) {
                    e.router = true;
                }
            }
            NdOpt::Mtu(mtu) => {
                let ifmtu = v.builtin(IF).get(index).map_or(0, |i| i.mtu);
                if (IPV6_MMTU..=ifmtu).contains(&mtu) {
                    nd6_ifinfo(v, index).linkmtu = mtu;
                } else {
                    k.log(format!(
                        "nd6_ra_input: bogus mtu option mtu={mtu} sent from {}",
                        in6_clearscope(src)
                    ));
                }
            }
            NdOpt::PrefixInfo(pi) => prelist_update(k, v, index, &pi, now),
            _ => {}
        }
    }
    defrtrlist_update(v, index, src, ra.router_lifetime, now);
    defrouter_select(v);
    if let Some(next) = v.builtin(ND6).auto().next() {
        nd6_arm(k, v, next);
    }
}

/// A router's lifetime (§6.3.4): a new one is added, a known one
/// renewed, one at lifetime 0 goes.
fn defrtrlist_update(v: &mut Vnet, index: u32, addr: Ipv6Addr, lifetime_s: u16, now: Time) {
    let max = v.builtin(IP6).maxifdefrouters.max(0) as usize;
    let auto = v.builtin(ND6).auto();
    let expire = now.saturating_add(Duration::from_secs(lifetime_s.into()));
    let known = auto.routers.iter().filter(|r| r.index == index).count();
    match auto.routers.iter_mut().find(|r| r.index == index && r.addr == addr) {
        Some(r) => r.expire = if lifetime_s == 0 { now } else { expire },
        // No more than maxifdefrouters on an interface: a new one is ignored.
        None if lifetime_s > 0 && known < max => auto.routers.push(NdDefrouter {
            index,
            addr,
            expire,
            installed: false,
        }),
        None => {}
    }
    if lifetime_s == 0 {
        defrtr_remove(v, |r| r.index == index && r.addr == addr);
    }
}

/// Forget the routers `doomed` picks, with the default route through one.
fn defrtr_remove(v: &mut Vnet, doomed: impl Fn(&NdDefrouter) -> bool) {
    let ip6 = v.builtin(IP6);
    let default = ip6.rt.get(0, 0).copied();
    let nd = v.builtin(ND6);
    let Some(auto) = nd.auto.as_mut() else { return };
    let mut gone = Vec::new();
    auto.routers.retain(|r| {
        let d = doomed(r);
        if d && r.installed {
            gone.push(r.addr);
        }
        !d
    });
    if let Some(e) = default
        && e.flags & RTF_STATIC == 0
        && matches!(e.gateway, Gateway::Inet(g) if gone.contains(&Ipv6Addr::from(g)))
    {
        let _ = rt_delete(v, 0u128, 0);
    }
}

/// The default route through a known router (`defrouter_select`), unless
/// one is there already (a static one wins).
fn defrouter_select(v: &mut Vnet) {
    if v.builtin(IP6).rt.get(0, 0).is_some() {
        return;
    }
    let nd = v.builtin(ND6);
    let Some(auto) = nd.auto.as_mut() else { return };
    let Some(r) = auto.routers.first_mut() else { return };
    r.installed = true;
    let (addr, index) = (r.addr, r.index);
    let _ = rt_add(
        v,
        Rtentry {
            dst: 0u128,
            plen: 0,
            gateway: Gateway::Inet(key(&addr)),
            ifindex: index,
            flags: 0,
            mtu: 0,
        },
    );
}

/// A prefix information option (§6.3.4; RFC 4862 §5.5.3): on-link
/// prefixes get a route, autonomous /64s an address from the interface
/// identifier, each with the lifetimes given.
fn prelist_update(k: &mut Kernel, v: &mut Vnet, index: u32, pi: &PrefixInfo, now: Time) {
    if pi.plen > 128 || is_link_local(&pi.prefix) || pi.preferred > pi.valid || pi.prefix.is_multicast() {
        return;
    }
    let prefix = Ipv6Addr::from(key(&pi.prefix) & u128::mask(pi.plen));
    let max = v.builtin(IP6).maxifprefixes.max(0) as usize;
    let auto = v.builtin(ND6).auto();
    let known = auto.prefixes.iter().filter(|p| p.index == index).count();
    let at = match auto
        .prefixes
        .iter()
        .position(|p| p.index == index && p.prefix == prefix && p.plen == pi.plen)
    {
        Some(at) => at,
        // Past maxifprefixes on the interface a new prefix is ignored.
        None if pi.valid == 0 || known >= max => return,
        None => {
            auto.prefixes.push(NdPrefix {
                index,
                prefix,
                plen: pi.plen,
                expire: Time::ZERO,
                route: false,
                addr: None,
                pltime: Time::ZERO,
                vltime: Time::ZERO,
            });
            auto.prefixes.len() - 1
        }
    };
    if pi.flags & ND_OPT_PI_FLAG_ONLINK != 0 {
        let expire = if pi.valid == 0 { now } else { lifetime(now, pi.valid) };
        v.builtin(ND6).auto().prefixes[at].expire = expire;
        let net = key(&prefix);
        if v.builtin(IP6).rt.get(net, pi.plen).is_none()
            && rt_add(
                v,
                Rtentry {
                    dst: net,
                    plen: pi.plen,
                    gateway: Gateway::Link(index),
                    ifindex: index,
                    flags: 0,
                    mtu: 0,
                },
            )
            .is_ok()
        {
            v.builtin(ND6).auto().prefixes[at].route = true;
        }
    }
    if pi.flags & ND_OPT_PI_FLAG_AUTO == 0 || pi.plen != 64 {
        return;
    }
    let Some(mac) = v.builtin(IF).get(index).map(|i| i.lladdr) else {
        return;
    };
    let mut o = prefix.octets();
    o[8..].copy_from_slice(&eui64(&mac));
    let addr = Ipv6Addr::from(o);
    let p = v.builtin(ND6).auto().prefixes[at];
    match p.addr {
        Some(a) => {
            // §5.5.3 e: the preferred lifetime as said; the valid one
            // never cut below two hours unless it is less already.
            let got = lifetime(now, pi.valid);
            let left = p.vltime.saturating_sub(now);
            let vltime = if Duration::from_secs(pi.valid.into()) > TWO_HOURS || got > p.vltime {
                got
            } else if left <= TWO_HOURS {
                p.vltime
            } else {
                now.saturating_add(TWO_HOURS)
            };
            let q = &mut v.builtin(ND6).auto().prefixes[at];
            q.vltime = vltime;
            q.pltime = lifetime(now, pi.preferred);
            if pi.preferred > 0
                && let Some(ia) = v.builtin(IP6).ifaddrs.iter_mut().find(|ia| ia.addr == a)
            {
                ia.flags &= !IN6_IFF_DEPRECATED;
            }
        }
        None if pi.valid > 0
            && in6_ifaddr_of(v, &addr).is_none()
            && in6_aifaddr(k, v, index, addr, 64, IN6_IFF_AUTOCONF).is_ok() =>
        {
            let q = &mut v.builtin(ND6).auto().prefixes[at];
            q.addr = Some(addr);
            q.vltime = lifetime(now, pi.valid);
            q.pltime = lifetime(now, pi.preferred);
        }
        None => {}
    }
}

/// What advertisements taught runs out (`nd6_timer`'s router and prefix
/// part): routers go, addresses are deprecated then removed, on-link
/// prefixes lose their routes.
pub(crate) fn nd6_rtr_timer(v: &mut Vnet, now: Time) {
    if v.get(ND6).is_none_or(|nd| nd.auto.is_none()) {
        return;
    }
    let expired = v.builtin(ND6).auto().routers.iter().any(|r| r.expire <= now);
    if expired {
        defrtr_remove(v, |r| r.expire <= now);
        defrouter_select(v);
    }
    let prefixes = v.builtin(ND6).auto().prefixes.clone();
    let mut keep = Vec::with_capacity(prefixes.len());
    for mut p in prefixes {
        if let Some(a) = p.addr {
            if p.vltime <= now {
                let _ = in6_difaddr(v, p.index, &a);
                p.addr = None;
            } else if p.pltime != Time::ZERO && p.pltime <= now {
                // Deprecated (ZERO: nothing more to wait for).
                p.pltime = Time::ZERO;
                if let Some(ia) = v.builtin(IP6).ifaddrs.iter_mut().find(|ia| ia.addr == a) {
                    ia.flags |= IN6_IFF_DEPRECATED;
                }
            }
        }
        if p.expire != Time::ZERO && p.expire <= now {
            if p.route {
                let _ = rt_delete(v, key(&p.prefix), p.plen);
            }
            p.expire = Time::ZERO;
            p.route = false;
        }
        if p.addr.is_some() || p.expire != Time::ZERO {
            keep.push(p);
        }
    }
    v.builtin(ND6).auto().prefixes = keep;
}
