//! The RIB, as FRR's zebra keeps it: every protocol's routes, the best
//! one per prefix chosen by administrative distance then metric, written
//! to the kernel through the routing socket (`RTM_ADD`, `RTM_CHANGE`,
//! `RTM_DELETE`, flagged `RTF_PROTO1`). Connected and kernel routes are
//! the kernel's own (distance 0): a protocol's route for their prefix
//! stays in the RIB unselected. `show ip route` and `show ipv6 route`
//! in FRR 8.4's layout: a jail has one RIB of each family, the same
//! code over IPv4's `u32` keys and IPv6's `u128` ([`RibFamily`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use smallvec::SmallVec;

use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::net::route::{Gateway, RTF_BLACKHOLE, RTF_GATEWAY, RTF_LOCAL, RTF_PROTO1, RTF_REJECT, RTF_UP, Rtentry};
use crate::net::rtsock::{RTM_ADD, RTM_CHANGE, RTM_DELETE, RtFamily};
use crate::netinet::in_::in_ifaddr_all;
use crate::netinet6::in6::{in6_clearscope, in6_ifaddr_all};
use crate::vnet::Vnet;
use crate::wire::ipv6::is_link_local;

/// What the RIB needs of an address family beyond its table.
pub trait RibFamily: RtFamily + Ord {
    /// `show ip route`'s or `show ipv6 route`'s legend.
    const CODES: &'static str;
    /// The interfaces' addresses whose networks are connected routes:
    /// interface, address, prefix length (not loopback's, not IPv6's
    /// link-local ones, which are each link's own).
    fn connected(v: &Vnet) -> Vec<(u32, Self, u8)>;
    /// The address as FRR prints it.
    fn show(self) -> String;
    /// The address as typed (`10.0.0.1`, `2001:db8::1`).
    fn parse_addr(s: &str) -> Option<Self>;
    /// IPv6? (A routing socket of the family hears only of it.)
    const INET6: bool;
    /// A link-local address in interface `index`'s zone (IPv4's are
    /// as they are).
    fn with_zone(self, _index: u32) -> Self {
        self
    }
}

impl RibFamily for u32 {
    const CODES: &'static str = "Codes: K - kernel route, C - connected, S - static, R - RIP,\n       \
         O - OSPF, I - IS-IS, B - BGP, E - EIGRP, N - NHRP,\n       \
         T - Table, v - VNC, V - VNC-Direct, A - Babel, F - PBR,\n       \
         f - OpenFabric,\n";
    fn connected(v: &Vnet) -> Vec<(u32, u32, u8)> {
        in_ifaddr_all(v)
            .iter()
            .filter(|a| a.addr >> 24 != 127)
            .map(|a| (a.index, a.addr, a.plen))
            .collect()
    }
    fn show(self) -> String {
        Ipv4Addr::from(self).to_string()
    }
    fn parse_addr(s: &str) -> Option<u32> {
        crate::net::route::inet_addr(s)
    }
    const INET6: bool = false;
}

impl RibFamily for u128 {
    const CODES: &'static str = "Codes: K - kernel route, C - connected, S - static, R - RIPng,\n       \
         O - OSPFv3, I - IS-IS, B - BGP, N - NHRP, T - Table,\n       \
         v - VNC, V - VNC-Direct, A - Babel, F - PBR,\n       \
         f - OpenFabric,\n";
    fn connected(v: &Vnet) -> Vec<(u32, u128, u8)> {
        in6_ifaddr_all(v)
            .iter()
            .filter(|a| a.usable() && !a.addr.is_loopback() && !is_link_local(&in6_clearscope(a.addr)))
            .map(|a| (a.index, u128::from(a.addr), a.plen))
            .collect()
    }
    fn show(self) -> String {
        in6_clearscope(Ipv6Addr::from(self)).to_string()
    }
    fn parse_addr(s: &str) -> Option<u128> {
        s.parse::<Ipv6Addr>().ok().map(u128::from)
    }
    fn with_zone(self, index: u32) -> u128 {
        crate::wire::ipv6::in6_setscope(Ipv6Addr::from(self), index).to_bits()
    }
    const INET6: bool = true;
}
use crate::socket::RouteSocket;

/// Who a route is from (`ZEBRA_ROUTE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Kernel,
    Connected,
    Static,
    Rip,
    Ospf,
    Bgp,
}

impl Proto {
    /// Its letter in `show ip route` (`zebra_route_char`).
    pub fn char(self) -> char {
        match self {
            Proto::Kernel => 'K',
            Proto::Connected => 'C',
            Proto::Static => 'S',
            Proto::Rip => 'R',
            Proto::Ospf => 'O',
            Proto::Bgp => 'B',
        }
    }
}

/// A protocol's route to a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RibRoute<K = u32> {
    pub proto: Proto,
    pub distance: u8,
    pub metric: u32,
    /// The next hop (0: none, the route is not for the kernel).
    pub gateway: K,
    pub ifindex: u32,
    /// When it was learned or last changed.
    pub since: Time,
}

/// The routing information base of one jail.
pub struct Rib<K: RibFamily = u32> {
    /// The protocols' routes, by prefix.
    routes: BTreeMap<(K, u8), SmallVec<[RibRoute<K>; 1]>>,
    /// What this RIB wrote to the kernel: gateway and interface.
    installed: BTreeMap<(K, u8), (K, u32)>,
    /// What the kernel refused (a route of its own there, a gateway it
    /// cannot reach): not asked again until the kernel's own routes or
    /// ours change, so a refusal is not a loop.
    refused: BTreeMap<(K, u8), (K, u32)>,
    /// The kernel's own prefixes, read again when `kernel_stale`.
    theirs: BTreeSet<(K, u8)>,
    kernel_stale: bool,
    /// Prefixes whose routes changed since the last `sync`; `all_dirty`
    /// when the kernel's own did (every prefix is looked at again).
    dirty: BTreeSet<(K, u8)>,
    all_dirty: bool,
    /// Counts changes of each protocol's routes (what another protocol
    /// redistributes may have changed).
    generation: [u64; Proto::Bgp as usize + 1],
    /// When it started: the age of the kernel's own routes.
    started: Time,
}

/// A route of the kernel's own (connected or kernel) to show.
struct KernelRoute<K> {
    proto: Proto,
    gateway: Option<K>,
    ifname: String,
}

impl<K: RibFamily> Rib<K> {
    pub fn new(now: Time) -> Rib<K> {
        Rib {
            routes: BTreeMap::new(),
            installed: BTreeMap::new(),
            refused: BTreeMap::new(),
            theirs: BTreeSet::new(),
            kernel_stale: true,
            dirty: BTreeSet::new(),
            all_dirty: false,
            generation: [0; Proto::Bgp as usize + 1],
            started: now,
        }
    }

    /// A protocol's route to `prefix` is `r` (it replaces that protocol's
    /// earlier one, keeping its age if nothing but the age changed).
    pub fn update(&mut self, prefix: (K, u8), mut r: RibRoute<K>) {
        let v = self.routes.entry(prefix).or_default();
        if let Some(old) = v.iter_mut().find(|x| x.proto == r.proto) {
            if (RibRoute { since: r.since, ..*old }) == r {
                return;
            }
            if (old.gateway, old.ifindex, old.metric) == (r.gateway, r.ifindex, r.metric) {
                r.since = old.since;
            }
            *old = r;
        } else {
            v.push(r);
        }
        self.generation[r.proto as usize] += 1;
        self.dirty.insert(prefix);
    }

    /// How many routes it wrote to the kernel.
    pub fn installed(&self) -> usize {
        self.installed.len()
    }

    /// How many times any protocol's routes changed.
    pub fn changes(&self) -> u64 {
        self.generation.iter().fold(0, |a, g| a.wrapping_add(*g))
    }

    /// How many times `proto`'s routes changed.
    pub fn generation(&self, proto: Proto) -> u64 {
        self.generation[proto as usize]
    }

    /// The kernel's routes or interfaces changed (a routing message not
    /// of a RIB's): read them again at the next `sync`.
    pub fn kernel_changed(&mut self) {
        self.kernel_stale = true;
    }

    /// `proto`'s selected routes: prefix, metric.
    pub fn selected(&self, proto: Proto) -> impl Iterator<Item = ((K, u8), &RibRoute<K>)> {
        self.routes
            .keys()
            .filter_map(move |k| self.best(k).filter(|b| b.proto == proto).map(|b| (*k, b)))
    }

    /// The gateway and interface to reach `addr` by, for a protocol's
    /// next hop (BGP's): the kernel's longest match, unless that is one of
    /// `not`'s own routes or its interface is down.
    pub fn resolve(&self, p: &Proc, addr: K, not: Proto) -> Option<(K, u32)> {
        let (e, up) = p
            .vnet(|_, v| {
                let e = K::table(v).and_then(|t| t.lookup(addr))?;
                let up = v.get(IF).and_then(|l| l.get(e.ifindex)).is_some_and(|f| f.is_up());
                Some((e, up))
            })
            .ok()
            .flatten()?;
        if !up || e.flags & (RTF_BLACKHOLE | RTF_REJECT) != 0 {
            return None;
        }
        match e.gateway {
            Gateway::Inet(g) if e.flags & RTF_GATEWAY != 0 => {
                let ours = e.flags & RTF_PROTO1 != 0 && self.best(&(e.dst, e.plen)).is_some_and(|b| b.proto == not);
                (!ours).then_some((g, e.ifindex))
            }
            _ if e.flags & RTF_LOCAL != 0 => None,
            _ => Some((addr, e.ifindex)),
        }
    }

    /// A protocol no longer has a route to `prefix`.
    pub fn withdraw(&mut self, prefix: (K, u8), proto: Proto) {
        if let Some(v) = self.routes.get_mut(&prefix) {
            let n = v.len();
            v.retain(|x| x.proto != proto);
            if v.len() != n {
                self.generation[proto as usize] += 1;
                self.dirty.insert(prefix);
            }
            if v.is_empty() {
                self.routes.remove(&prefix);
            }
        }
    }

    /// Only `proto`'s routes to `keep` stay.
    pub fn retain(&mut self, proto: Proto, keep: &[(K, u8)]) {
        let gone: Vec<_> = self
            .routes
            .iter()
            .filter(|(k, v)| v.iter().any(|r| r.proto == proto) && keep.binary_search(k).is_err())
            .map(|(k, _)| *k)
            .collect();
        for p in gone {
            self.withdraw(p, proto);
        }
    }

    /// Every route of `proto` withdrawn (the daemon stopped).
    pub fn withdraw_all(&mut self, proto: Proto) {
        let prefixes: Vec<_> = self.routes.keys().copied().collect();
        for p in prefixes {
            self.withdraw(p, proto);
        }
    }

    /// The route selected for `prefix` among the protocols' (lowest
    /// distance, then metric).
    fn best(&self, prefix: &(K, u8)) -> Option<&RibRoute<K>> {
        self.routes.get(prefix)?.iter().min_by_key(|r| (r.distance, r.metric))
    }

    /// Make the kernel's table hold the selected routes: add, change and
    /// delete what differs from what was written before, for the prefixes
    /// whose routes changed (all of them when the kernel's own did).
    pub fn sync(&mut self, p: &Proc, rs: &RouteSocket) {
        if std::mem::take(&mut self.kernel_stale) {
            let theirs: BTreeSet<_> = kernel_prefixes(p).into_keys().collect();
            if theirs != self.theirs {
                self.theirs = theirs;
                self.refused.clear();
                self.all_dirty = true;
            }
        }
        let todo: Vec<(K, u8)> = if std::mem::take(&mut self.all_dirty) {
            self.dirty.clear();
            let mut v: Vec<_> = self.routes.keys().chain(self.installed.keys()).copied().collect();
            v.sort_unstable();
            v.dedup();
            v
        } else {
            std::mem::take(&mut self.dirty).into_iter().collect()
        };
        for prefix in todo {
            let want = self
                .best(&prefix)
                .filter(|b| b.gateway != K::ZERO && !self.theirs.contains(&prefix))
                .map(|b| (b.gateway, b.ifindex));
            let was = self.installed.get(&prefix).copied();
            let Some(nh) = want else {
                self.refused.remove(&prefix);
                if self.installed.remove(&prefix).is_some() {
                    let _ = rs.request(RTM_DELETE, entry(prefix, (K::ZERO, 0)));
                }
                continue;
            };
            if was == Some(nh) || self.refused.get(&prefix) == Some(&nh) {
                continue;
            }
            let cmd = if was.is_some() { RTM_CHANGE } else { RTM_ADD };
            if let Ok(Ok(_)) = rs.request(cmd, entry(prefix, nh)) {
                self.installed.insert(prefix, nh);
                self.refused.remove(&prefix);
            } else {
                self.refused.insert(prefix, nh);
            }
        }
    }

    /// `show ip route [PROTO]`, `show ipv6 route [PROTO]`, FRR 8.4's
    /// layout.
    pub fn show(&self, p: &Proc, only: Option<Proto>) -> String {
        let now = p.now();
        let mut s = String::from(K::CODES);
        s += "       > - selected route, * - FIB route, q - queued, r - rejected, b - backup\n       \
              t - trapped, o - offload failure\n\n";
        let kernel = kernel_prefixes(p);
        let ifname = |i: u32| {
            p.vnet(|_, v| v.builtin(IF).get(i).map(|f| f.name.clone()))
                .ok()
                .flatten()
                .unwrap_or_else(|| format!("if{i}"))
        };
        let mut prefixes: Vec<(K, u8)> = kernel.keys().chain(self.routes.keys()).copied().collect();
        prefixes.sort();
        prefixes.dedup();
        let age = |t: Time| super::uptime(now.saturating_sub(t));
        for prefix in prefixes {
            let net = format!("{}/{}", prefix.0.show(), prefix.1);
            let kr = kernel.get(&prefix);
            for k in kr.iter().filter(|k| only.is_none_or(|o| o == k.proto)) {
                let started = age(self.started);
                match k.gateway {
                    None => {
                        let _ = writeln!(s, "C>* {net} is directly connected, {}, {started}", k.ifname);
                    }
                    Some(g) => {
                        let _ = writeln!(s, "K>* {net} [0/0] via {}, {}, {started}", g.show(), k.ifname);
                    }
                }
            }
            let best = self.best(&prefix).copied();
            for r in self.routes.get(&prefix).into_iter().flatten() {
                if only.is_some_and(|o| o != r.proto) {
                    continue;
                }
                let selected = kr.is_none() && best == Some(*r);
                let fib = selected && self.installed.contains_key(&prefix);
                let via = match r.gateway {
                    g if g == K::ZERO => "is directly connected".to_string(),
                    g => format!("via {}", g.show()),
                };
                let _ = writeln!(
                    s,
                    "{}{}{} {net} [{}/{}] {via}, {}, weight 1, {}",
                    r.proto.char(),
                    if selected { '>' } else { ' ' },
                    if fib { '*' } else { ' ' },
                    r.distance,
                    r.metric,
                    ifname(r.ifindex),
                    age(r.since)
                );
            }
        }
        s
    }
}

/// The kernel's routing entry for a RIB route.
fn entry<K: RibFamily>(prefix: (K, u8), (gateway, ifindex): (K, u32)) -> Rtentry<K> {
    Rtentry {
        dst: prefix.0,
        plen: prefix.1,
        gateway: Gateway::Inet(gateway),
        ifindex,
        flags: RTF_UP | RTF_GATEWAY | RTF_PROTO1,
        mtu: 0,
    }
}

/// The kernel's own routes, by prefix: the connected networks of
/// interfaces that are up, and routes not written by a RIB (what zebra
/// reads as kernel routes), less host routes to this host's addresses.
pub fn kernel_routes<K: RibFamily>(p: &Proc) -> Vec<((K, u8), Proto)> {
    kernel_prefixes(p).into_iter().map(|(k, r)| (k, r.proto)).collect()
}

fn kernel_prefixes<K: RibFamily>(p: &Proc) -> BTreeMap<(K, u8), KernelRoute<K>> {
    p.vnet(|_, v| {
        let mut out = BTreeMap::new();
        let name = |i: u32| v.get(IF).and_then(|l| l.get(i)).map(|f| (f.name.clone(), f.is_up()));
        for (index, addr, plen) in K::connected(v) {
            if let Some((ifname, true)) = name(index) {
                let prefix = (addr & K::mask(plen), plen);
                out.entry(prefix).or_insert(KernelRoute {
                    proto: Proto::Connected,
                    gateway: None,
                    ifname,
                });
            }
        }
        let Some(t) = K::table(v) else { return out };
        for e in t.entries() {
            if e.flags & (RTF_PROTO1 | RTF_LOCAL | RTF_BLACKHOLE | RTF_REJECT) != 0 {
                continue;
            }
            let Gateway::Inet(g) = e.gateway else { continue };
            let ifname = name(e.ifindex).map_or_else(|| format!("if{}", e.ifindex), |n| n.0);
            out.entry((e.dst, e.plen)).or_insert(KernelRoute {
                proto: Proto::Kernel,
                gateway: Some(g),
                ifname,
            });
        }
        out
    })
    .unwrap_or_default()
}
