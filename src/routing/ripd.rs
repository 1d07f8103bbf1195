//! ripd: RIP version 2 (RFC 2453), and over IPv6 RIPng (RFC 2080,
//! ripngd.rs), as FRR's ripd and ripngd are run and configured (`ripd -d
//! -f frr.conf`, `router rip`, `router ripng`). One engine serves both
//! families ([`RipFamily`]). On every interface `network` names it
//! joins the routers' group (224.0.0.9, ff02::9), asks its neighbours
//! for their tables (§3.9.1) and sends its own every `update` seconds
//! (±25 %, as FRR jitters it) to the group: split horizon, or with
//! poisoned reverse, as the interface says (§3.4.3). A route heard is at
//! the sender's metric plus one; it times out after `timeout` seconds
//! unheard, is then sent at metric 16 until `garbage` seconds later it
//! goes (§3.8); a change is told at once by a triggered update, 1 to 5 s
//! after the last (§3.10.1). Count to infinity stops at 16. The best
//! routes go to the family's RIB at distance 120 and from it into the
//! kernel. Malformed messages and entries are counted per source (`show
//! ip rip status`), never trusted.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use super::Frr;
use super::conf::{FrrConf, IfConf, Redist, RipConf, SplitHorizon};
use super::daemon::{Daemon, Wake, daemon_open, daemon_run, daemon_stop, daemon_wait};
use super::rib::{Proto, Rib, RibFamily, RibRoute};
use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::net::ifnet::{IF, Ifnet};
use crate::net::radix::Key;
use crate::net::route::{Gateway, RTF_LOCAL, RTF_PROTO1};
use crate::netinet::in_::{in_ifaddr_all, in_prefix};
use crate::socket::{BindOpts, RouteSocket, UdpSocket};
use crate::vnet::Vnet;
use crate::wire::rip::{
    AF_INET_RIP, RIP_AUTH_AFI, RIP_MAX_ENTRIES, RIP_METRIC_INFINITY, RIP_REQUEST, RIP_RESPONSE, RipEntry, RipRepr,
};

pub const RIP_PORT: u16 = 520;
/// 224.0.0.9, RIP-2 routers (§4.5).
pub const INADDR_RIP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 9);

/// What the engine needs of an address family: RIPv2's is here
/// (`u32`), RIPng's in ripngd.rs (`u128`).
pub trait RipFamily: RibFamily + Default + std::fmt::Debug + 'static {
    const DAEMON: Daemon;
    const PORT: u16;
    /// The routers' group.
    const GROUP: Self;
    /// The protocol as `show ... status` names it (`Routing Protocol is
    /// "rip"`), and its version.
    const NAME: &'static str;
    const VERSION: u8;
    /// Its state in the jail's `Frr`.
    fn state(f: &Frr) -> Option<&Rip<Self>>;
    /// Its state and the RIB it writes.
    fn state_rib(f: &mut Frr) -> (Option<&mut Rip<Self>>, &mut Rib<Self>);
    fn conf(c: &FrrConf) -> Option<&RipConf<Self>>;
    fn split_horizon(i: &IfConf) -> SplitHorizon;
    /// Its socket, bound to the port.
    fn open_socket(p: &Proc) -> io::Result<UdpSocket>;
    /// Interface `ifp`'s address to send from and the networks RIP
    /// tells, if RIP runs on it at all.
    fn rip_ifaddrs(v: &Vnet, ifp: &Ifnet, rc: &RipConf<Self>) -> Option<(Self, Vec<(Self, u8)>)>;
    /// Will it run on `ifp` soon (its source address still tentative)?
    fn rip_if_pending(_: &Vnet, _: &Ifnet) -> bool {
        false
    }
    /// May `src` on `i` be a neighbour (on its link)?
    fn on_link(i: &RipIf<Self>, src: Self) -> bool;
    /// The gateway of a route from `src` that named next hop `nh` (0:
    /// none).
    fn gateway(i: &RipIf<Self>, src: Self, nh: Self) -> Self;
    /// May `addr/plen` be a route's destination?
    fn valid_dst(addr: Self, plen: u8) -> bool;
    /// A message; `None` is a bad packet.
    fn parse(d: &[u8]) -> Option<RipMsg<Self>>;
    fn emit(command: u8, entries: &[Entry<Self>]) -> Vec<u8>;
    /// Entries one message carries on a link of `mtu`.
    fn max_entries(mtu: u32) -> usize;
    /// `a:port`, its zone interface `index` if it needs one.
    fn sockaddr(a: Self, port: u16, index: u32) -> SocketAddr;
    fn from_sockaddr(a: SocketAddr) -> Option<Self>;
}

/// A route entry of either family, as the engine reads and writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<K> {
    pub addr: K,
    pub plen: u8,
    pub tag: u16,
    pub metric: u32,
    /// The next hop it names (0: the sender).
    pub nexthop: K,
}

/// A message of either family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RipMsg<K> {
    pub command: u8,
    /// A request for the whole table (§3.9.1, RFC 2080 §2.4.1).
    pub whole: bool,
    pub entries: Vec<Entry<K>>,
    /// Entries the family refused (another address family, a mask that
    /// is not a prefix).
    pub bad: u64,
}

/// Where a route in ripd's table comes from (`rip_info`'s sub-type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Heard from a neighbour: `R(n)`.
    Rte,
    /// A network of a RIP interface: `C(i)`.
    Interface,
    /// Redistributed: `C(r)`, `K(r)`, `S(r)`.
    Redistribute(Redist),
    /// `default-information originate`: `R(d)`.
    Default,
}

impl Kind {
    /// Its code and sub-code in `show ip rip`, `show ipv6 ripng`.
    pub fn codes(self) -> (char, char) {
        match self {
            Kind::Rte => ('R', 'n'),
            Kind::Interface => ('C', 'i'),
            Kind::Redistribute(Redist::Connected) => ('C', 'r'),
            Kind::Redistribute(Redist::Kernel) => ('K', 'r'),
            Kind::Redistribute(Redist::Static) => ('S', 'r'),
            Kind::Redistribute(Redist::Rip | Redist::Ripng) => ('R', 'r'),
            Kind::Redistribute(Redist::Ospf) => ('O', 'r'),
            Kind::Default => ('R', 'd'),
        }
    }
}

/// A route in ripd's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rte<K = u32> {
    pub kind: Kind,
    pub metric: u32,
    /// The next hop (0 for our own).
    pub gateway: K,
    /// Who told us.
    pub from: K,
    pub ifindex: u32,
    pub tag: u16,
    /// When it times out unheard, or when it goes once at 16.
    pub timeout: Option<Time>,
    pub garbage: Option<Time>,
    /// Changed since the last triggered update.
    pub changed: bool,
}

/// A RIP interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RipIf<K = u32> {
    pub index: u32,
    pub name: String,
    pub mtu: u32,
    /// The address its messages go from (IPv6: the link-local one).
    pub local: K,
    /// Its networks' addresses: address and prefix length.
    pub addrs: Vec<(K, u8)>,
    pub passive: bool,
    pub split_horizon: SplitHorizon,
}

/// A neighbour heard (`rip_peer`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Peer {
    pub bad_packets: u64,
    pub bad_routes: u64,
    pub last: Time,
}

/// ripd's (or ripngd's) state, which `show ip rip` reads.
#[derive(Debug, Default)]
pub struct Rip<K: RipFamily = u32> {
    pub conf: RipConf<K>,
    pub routes: BTreeMap<(K, u8), Rte<K>>,
    pub ifs: Vec<RipIf<K>>,
    pub peers: BTreeMap<K, Peer>,
    pub next_update: Time,
    /// A triggered update waits for this time (§3.10.1).
    pub triggered: Option<Time>,
    last_triggered: Time,
    /// When to look at the interfaces again: one waits for its address
    /// (the kernel tells no one when DAD ends, as FreeBSD's does not).
    recheck: Option<Time>,
    /// Messages sent and received.
    pub sent: u64,
    pub received: u64,
}

impl<K: RipFamily> Rip<K> {
    pub fn new(conf: RipConf<K>) -> Rip<K> {
        Rip {
            conf,
            ..Default::default()
        }
    }
}

type Shared = Rc<RefCell<Frr>>;

/// `ripd`, `ripngd`: the daemon of family `K`.
pub async fn rip_daemon<K: RipFamily>(p: Proc, argv: Vec<String>) -> i32 {
    let d = K::DAEMON;
    let (a, frr) = match daemon_open(&p, &argv, d) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let sock = match K::open_socket(&p) {
        Ok(s) => s,
        Err(e) => {
            errln!(p, "{}: can't bind to port {}: {e}", d.name(), K::PORT);
            daemon_stop(&p, &frr, d);
            return 1;
        }
    };
    let Ok(rs) = RouteSocket::open(&p, Some(K::INET6)) else {
        daemon_stop(&p, &frr, d);
        return 1;
    };
    let f = frr.clone();
    daemon_run(p, frr, d, a.daemon, move |q| serve::<K>(q, f, sock, rs)).await
}

pub async fn ripd(p: Proc, argv: Vec<String>) -> i32 {
    rip_daemon::<u32>(p, argv).await
}

async fn serve<K: RipFamily>(p: Proc, frr: Shared, sock: UdpSocket, rs: RouteSocket) -> i32 {
    p.intr.catch();
    let mut seen = u64::MAX;
    let mut buf = vec![0u8; 65535];
    let now = p.now();
    if let (Some(r), _) = K::state_rib(&mut frr.borrow_mut()) {
        r.next_update = now.saturating_add(jitter(&p, r.conf.update));
    }
    loop {
        let generation = frr.borrow().generation;
        if generation != seen {
            seen = generation;
            let c = K::conf(&frr.borrow().conf).cloned().unwrap_or_default();
            if let (Some(r), _) = K::state_rib(&mut frr.borrow_mut()) {
                r.conf = c;
            }
        }
        let conf = frr.borrow().conf.clone();
        rip_interfaces::<K>(&p, &frr, &sock, &conf);
        rip_local_routes::<K>(&p, &frr);
        rip_timers::<K>(&p, &frr, &sock);
        {
            let mut f = frr.borrow_mut();
            let (r, rib) = K::state_rib(&mut f);
            if let Some(r) = r {
                rip_to_rib(&p, r, rib);
            }
            rib.sync(&p, &rs);
        }
        let Some(next) = K::state(&frr.borrow()).map(next_event) else {
            return 0;
        };
        let ev = daemon_wait(&p, &frr, seen, sock.recv_from_if(&mut buf), &rs, next).await;
        match ev {
            Wake::Packet((n, from, ifindex)) => {
                if let Some(src) = K::from_sockaddr(from) {
                    rip_input::<K>(&p, &frr, &sock, &buf[..n], src, from.port(), ifindex);
                }
            }
            Wake::Intr => return 0,
            _ => {}
        }
    }
}

/// The earliest time something is due.
fn next_event<K: RipFamily>(r: &Rip<K>) -> Time {
    let mut t = r.next_update;
    for x in [r.triggered, r.recheck].into_iter().flatten() {
        t = t.min(x);
    }
    for rte in r.routes.values() {
        for x in [rte.timeout, rte.garbage].into_iter().flatten() {
            t = t.min(x);
        }
    }
    t
}

/// `update` seconds, ±25 % (FRR's `rip_update_jitter`).
fn jitter(p: &Proc, update: u32) -> Duration {
    let base = u64::from(update.max(1)) * 1000;
    let span = base / 2;
    let r = p.vnet(|_, v| v.random()).unwrap_or(0) % (span + 1);
    Duration::from_millis(base - span / 2 + r)
}

/// Is `a` inside `net/plen`?
fn covers<K: Key>(net: K, plen: u8, a: K) -> bool {
    (a ^ net) & K::mask(plen) == K::ZERO
}

/// Which interfaces RIP runs on now: those up that a `network` covers
/// or names. New ones join the group and ask for their neighbours'
/// tables; routes through those that left are dropped.
fn rip_interfaces<K: RipFamily>(p: &Proc, frr: &Shared, sock: &UdpSocket, conf: &FrrConf) {
    let Some(rc) = K::conf(conf).cloned() else {
        return;
    };
    let (ifs, pending) = p
        .vnet(|_, v| {
            let mut out: Vec<RipIf<K>> = Vec::new();
            let mut pending = false;
            let Some(list) = v.get(IF) else { return (out, pending) };
            for ifp in list.list.iter().filter(|i| i.is_up()) {
                let Some((local, addrs)) = K::rip_ifaddrs(v, ifp, &rc) else {
                    pending |= K::rip_if_pending(v, ifp);
                    continue;
                };
                out.push(RipIf {
                    index: ifp.index,
                    name: ifp.name.clone(),
                    mtu: ifp.mtu,
                    local,
                    addrs,
                    // A loopback's networks are told, never sent on.
                    passive: rc.is_passive(&ifp.name) || ifp.is_loopback(),
                    split_horizon: conf.interfaces.get(&ifp.name).map(K::split_horizon).unwrap_or_default(),
                });
            }
            (out, pending)
        })
        .unwrap_or_default();
    let now = p.now();
    if let (Some(r), _) = K::state_rib(&mut frr.borrow_mut()) {
        r.recheck = pending.then(|| now.saturating_add(Duration::from_secs(1)));
    }
    let old = match K::state(&frr.borrow()) {
        Some(r) if r.ifs == ifs => return,
        Some(r) => r.ifs.clone(),
        None => return,
    };
    for i in &ifs {
        if old.iter().any(|o| o.index == i.index) {
            continue;
        }
        let _ = sock.join_multicast(K::GROUP.ip(), i.index);
        if !i.passive {
            let whole = K::emit(RIP_REQUEST, &[]);
            rip_send::<K>(frr, sock, i.index, K::GROUP, K::PORT, &whole);
            // And tell the new link what we know, not waiting for the
            // next update.
            rip_update::<K>(frr, sock, i, K::GROUP, K::PORT, false);
        }
    }
    let mut f = frr.borrow_mut();
    let (Some(r), _) = K::state_rib(&mut f) else { return };
    for o in &old {
        if !ifs.iter().any(|i| i.index == o.index) {
            let _ = sock.leave_multicast(K::GROUP.ip(), o.index);
            for rte in r
                .routes
                .values_mut()
                .filter(|x| x.ifindex == o.index && x.kind == Kind::Rte)
            {
                poison(rte, now, r.conf.garbage);
                r.triggered.get_or_insert(now);
            }
        }
    }
    r.ifs = ifs;
}

/// A route at metric 16 from now, gone `garbage` seconds later (§3.8).
fn poison<K>(rte: &mut Rte<K>, now: Time, garbage: u32) {
    if rte.metric >= RIP_METRIC_INFINITY && rte.garbage.is_some() {
        return;
    }
    rte.metric = RIP_METRIC_INFINITY;
    rte.timeout = None;
    rte.garbage = Some(now.saturating_add(Duration::from_secs(garbage.into())));
    rte.changed = true;
}

/// The routes of our own: the RIP interfaces' networks, what is
/// redistributed, the default if originated. One that went is sent at
/// 16 until the garbage timer takes it.
fn rip_local_routes<K: RipFamily>(p: &Proc, frr: &Shared) {
    let Some((rc, ifs)) = K::state(&frr.borrow()).map(|r| (r.conf.clone(), r.ifs.clone())) else {
        return;
    };
    let mut want: BTreeMap<(K, u8), (Kind, u32, u32)> = BTreeMap::new();
    for i in &ifs {
        for &(a, l) in &i.addrs {
            want.insert((a & K::mask(l), l), (Kind::Interface, 1, i.index));
        }
    }
    let metric_of = |k: Redist| rc.redistribute.get(&k).map(|m| m.unwrap_or(rc.default_metric));
    let _ = p.vnet(|_, v| {
        if let Some(m) = metric_of(Redist::Connected) {
            for (index, a, l) in K::connected(v) {
                let up = v
                    .get(IF)
                    .and_then(|list| list.get(index))
                    .is_some_and(|f| f.is_up() && !f.is_loopback());
                if up {
                    want.entry((a & K::mask(l), l))
                        .or_insert((Kind::Redistribute(Redist::Connected), m, index));
                }
            }
        }
        if let Some(m) = metric_of(Redist::Kernel)
            && let Some(t) = K::table(v)
        {
            for e in t.entries() {
                if e.flags & (RTF_PROTO1 | RTF_LOCAL) == 0
                    && matches!(e.gateway, Gateway::Inet(_))
                    && K::valid_dst(e.dst, e.plen)
                {
                    want.entry((e.dst, e.plen))
                        .or_insert((Kind::Redistribute(Redist::Kernel), m, e.ifindex));
                }
            }
        }
    });
    if rc.default_originate {
        want.entry((K::ZERO, 0))
            .or_insert((Kind::Default, rc.default_metric, 0));
    }
    let now = p.now();
    let mut f = frr.borrow_mut();
    let (Some(r), rib) = K::state_rib(&mut f) else { return };
    if let Some(m) = metric_of(Redist::Static) {
        for (prefix, s) in rib.selected(Proto::Static) {
            want.entry(prefix)
                .or_insert((Kind::Redistribute(Redist::Static), m, s.ifindex));
        }
    }
    let mut changed = false;
    for (prefix, rte) in r.routes.iter_mut() {
        if rte.kind != Kind::Rte && rte.garbage.is_none() && !want.contains_key(prefix) {
            poison(rte, now, r.conf.garbage);
            changed = true;
        }
    }
    for (prefix, (kind, metric, ifindex)) in want {
        let mine = Rte {
            kind,
            metric,
            gateway: K::ZERO,
            from: K::ZERO,
            ifindex,
            tag: 0,
            timeout: None,
            garbage: None,
            changed: true,
        };
        match r.routes.get(&prefix) {
            Some(x) if x.kind == kind && x.metric == metric && x.garbage.is_none() => {}
            // A neighbour's route as good as ours stays (never better:
            // theirs is one more than what they heard).
            Some(x) if x.kind == Kind::Rte && x.metric <= metric && x.garbage.is_none() => {}
            _ => {
                r.routes.insert(prefix, mine);
                changed = true;
            }
        }
    }
    if changed {
        r.triggered.get_or_insert(now);
    }
}

/// Time outs, garbage collection, the regular and triggered updates.
fn rip_timers<K: RipFamily>(p: &Proc, frr: &Shared, sock: &UdpSocket) {
    let now = p.now();
    let (full, triggered) = {
        let mut f = frr.borrow_mut();
        let (Some(r), _) = K::state_rib(&mut f) else { return };
        let garbage = r.conf.garbage;
        let mut changed = false;
        for rte in r.routes.values_mut() {
            if rte.timeout.is_some_and(|t| t <= now) {
                poison(rte, now, garbage);
                changed = true;
            }
        }
        r.routes.retain(|_, rte| rte.garbage.is_none_or(|t| t > now));
        if changed {
            r.triggered.get_or_insert(now);
        }
        let full = r.next_update <= now;
        if full {
            r.next_update = now.saturating_add(jitter(p, r.conf.update));
            // A regular update tells all: no triggered one.
            r.triggered = None;
        }
        let triggered = !full && r.triggered.is_some_and(|t| t <= now);
        if triggered {
            // §3.10.1: not again within 1 to 5 seconds.
            let wait = 1000 + p.vnet(|_, v| v.random() % 4001).unwrap_or(0);
            let earliest = r.last_triggered.saturating_add(Duration::from_millis(wait));
            if earliest > now {
                r.triggered = Some(earliest);
                return;
            }
            r.triggered = None;
            r.last_triggered = now;
        }
        (full, triggered)
    };
    if full || triggered {
        let (ifs, neighbors) = match K::state(&frr.borrow()) {
            Some(r) => (r.ifs.clone(), r.conf.neighbors.clone()),
            None => return,
        };
        for i in ifs.iter().filter(|i| !i.passive) {
            rip_update::<K>(frr, sock, i, K::GROUP, K::PORT, triggered);
        }
        for n in neighbors {
            if let Some(i) = ifs.iter().find(|i| i.addrs.iter().any(|&(a, l)| covers(a, l, n))) {
                rip_update::<K>(frr, sock, i, n, K::PORT, triggered);
            }
        }
        if let (Some(r), _) = K::state_rib(&mut frr.borrow_mut()) {
            for rte in r.routes.values_mut() {
                rte.changed = false;
            }
        }
    }
}

/// Send the table (only what changed, for a triggered update) out of
/// interface `i` to `dst:port`, split horizon as the interface says.
fn rip_update<K: RipFamily>(frr: &Shared, sock: &UdpSocket, i: &RipIf<K>, dst: K, port: u16, only_changed: bool) {
    let entries: Vec<Entry<K>> = {
        let f = frr.borrow();
        let Some(r) = K::state(&f) else { return };
        r.routes
            .iter()
            .filter(|(_, rte)| !only_changed || rte.changed)
            .filter_map(|(&(addr, plen), rte)| {
                let learned_here = rte.ifindex == i.index && matches!(rte.kind, Kind::Rte | Kind::Interface);
                let metric = match (learned_here, i.split_horizon) {
                    (true, SplitHorizon::Simple) => return None,
                    (true, SplitHorizon::PoisonedReverse) if rte.kind == Kind::Rte => RIP_METRIC_INFINITY,
                    (true, SplitHorizon::PoisonedReverse) => return None,
                    _ => rte.metric,
                };
                Some(Entry {
                    addr,
                    plen,
                    tag: rte.tag,
                    metric,
                    nexthop: K::ZERO,
                })
            })
            .collect()
    };
    rip_respond::<K>(frr, sock, i, dst, port, &entries);
}

/// Responses carrying `entries`, as many to a message as the link's MTU
/// allows (RFC 2453 §3.6: 25; RFC 2080 §2.1).
fn rip_respond<K: RipFamily>(frr: &Shared, sock: &UdpSocket, i: &RipIf<K>, dst: K, port: u16, entries: &[Entry<K>]) {
    for chunk in entries.chunks(K::max_entries(i.mtu).max(1)) {
        rip_send::<K>(frr, sock, i.index, dst, port, &K::emit(RIP_RESPONSE, chunk));
    }
}

fn rip_send<K: RipFamily>(frr: &Shared, sock: &UdpSocket, index: u32, dst: K, port: u16, b: &[u8]) {
    let _ = sock.set_multicast_if(index);
    if sock.try_send_to(b, K::sockaddr(dst, port, index)).is_ok()
        && let (Some(r), _) = K::state_rib(&mut frr.borrow_mut())
    {
        r.sent += 1;
    }
}

/// A message from `src:sport` that came in by `ifindex` (§3.9).
fn rip_input<K: RipFamily>(p: &Proc, frr: &Shared, sock: &UdpSocket, d: &[u8], src: K, sport: u16, ifindex: u32) {
    let now = p.now();
    let Some(i) = K::state(&frr.borrow()).and_then(|r| r.ifs.iter().find(|i| i.index == ifindex).cloned()) else {
        return;
    };
    // From ourselves, or from off the link: not a neighbour.
    if i.local == src || i.addrs.iter().any(|&(a, _)| a == src) || !K::on_link(&i, src) {
        return;
    }
    let m = match K::parse(d) {
        Some(m) => m,
        None => {
            if let (Some(r), _) = K::state_rib(&mut frr.borrow_mut()) {
                r.peers.entry(src).or_default().bad_packets += 1;
            }
            return;
        }
    };
    if let (Some(r), _) = K::state_rib(&mut frr.borrow_mut()) {
        r.received += 1;
    }
    if m.command == RIP_REQUEST {
        return rip_request::<K>(frr, sock, &i, &m, src, sport);
    }
    let mut f = frr.borrow_mut();
    let (Some(r), _) = K::state_rib(&mut f) else { return };
    // A response comes from the RIP port (§3.9.2).
    if sport != K::PORT {
        r.peers.entry(src).or_default().bad_packets += 1;
        return;
    }
    let (timeout, garbage) = (r.conf.timeout, r.conf.garbage);
    let peer = r.peers.entry(src).or_default();
    peer.last = now;
    peer.bad_routes += m.bad;
    let mut changed = false;
    for e in &m.entries {
        if !(1..=RIP_METRIC_INFINITY).contains(&e.metric) || !K::valid_dst(e.addr, e.plen) {
            r.peers.entry(src).or_default().bad_routes += 1;
            continue;
        }
        let metric = (e.metric + 1).min(RIP_METRIC_INFINITY);
        let gateway = K::gateway(&i, src, e.nexthop);
        let prefix = (e.addr, e.plen);
        let fresh = Rte {
            kind: Kind::Rte,
            metric,
            gateway,
            from: src,
            ifindex,
            tag: e.tag,
            timeout: Some(now.saturating_add(Duration::from_secs(timeout.into()))),
            garbage: None,
            changed: true,
        };
        match r.routes.get_mut(&prefix) {
            None if metric < RIP_METRIC_INFINITY => {
                r.routes.insert(prefix, fresh);
                changed = true;
            }
            None => {}
            Some(x) if x.kind == Kind::Rte && x.from == src => {
                if metric < RIP_METRIC_INFINITY {
                    let moved = x.metric != metric || x.gateway != gateway || x.garbage.is_some();
                    *x = Rte {
                        changed: x.changed || moved,
                        ..fresh
                    };
                    changed |= moved;
                } else if x.metric < RIP_METRIC_INFINITY {
                    poison(x, now, garbage);
                    changed = true;
                }
            }
            Some(x) if x.kind == Kind::Rte && metric < x.metric => {
                *x = fresh;
                changed = true;
            }
            Some(_) => {}
        }
    }
    if changed {
        r.triggered.get_or_insert(now);
    }
}

/// A request (§3.9.1): the whole table, or the entries asked for, sent
/// to who asked (as an update if it asked from the RIP port).
fn rip_request<K: RipFamily>(frr: &Shared, sock: &UdpSocket, i: &RipIf<K>, m: &RipMsg<K>, src: K, sport: u16) {
    if m.whole {
        if i.passive {
            return;
        }
        return rip_update::<K>(frr, sock, i, src, sport, false);
    }
    let answer: Vec<Entry<K>> = {
        let f = frr.borrow();
        let Some(r) = K::state(&f) else { return };
        m.entries
            .iter()
            .map(|e| {
                let metric = r
                    .routes
                    .get(&(e.addr, e.plen))
                    .map_or(RIP_METRIC_INFINITY, |x| x.metric);
                Entry { metric, ..*e }
            })
            .collect()
    };
    rip_respond::<K>(frr, sock, i, src, sport, &answer);
}

/// ripd's best routes to the RIB (its own and those at 16 withdrawn).
fn rip_to_rib<K: RipFamily>(p: &Proc, r: &Rip<K>, rib: &mut Rib<K>) {
    let now = p.now();
    let mut keep = Vec::new();
    for (&prefix, rte) in &r.routes {
        if rte.kind == Kind::Rte && rte.metric < RIP_METRIC_INFINITY {
            rib.update(
                prefix,
                RibRoute {
                    proto: Proto::Rip,
                    distance: r.conf.distance,
                    metric: rte.metric,
                    gateway: rte.gateway,
                    ifindex: rte.ifindex,
                    since: now,
                },
            );
            keep.push(prefix);
        }
    }
    rib.retain(Proto::Rip, &keep);
}

impl RipFamily for u32 {
    const DAEMON: Daemon = Daemon::Ripd;
    const PORT: u16 = RIP_PORT;
    const GROUP: u32 = INADDR_RIP_GROUP.to_bits();
    const NAME: &'static str = "rip";
    const VERSION: u8 = 2;
    fn state(f: &Frr) -> Option<&Rip<u32>> {
        f.rip.as_ref()
    }
    fn state_rib(f: &mut Frr) -> (Option<&mut Rip<u32>>, &mut Rib<u32>) {
        (f.rip.as_mut(), &mut f.rib)
    }
    fn conf(c: &FrrConf) -> Option<&RipConf<u32>> {
        c.rip.as_ref()
    }
    fn split_horizon(i: &IfConf) -> SplitHorizon {
        i.split_horizon
    }
    fn open_socket(p: &Proc) -> io::Result<UdpSocket> {
        let s = UdpSocket::bind_with(p, SocketAddr::from(([0, 0, 0, 0], RIP_PORT)), BindOpts::reuseaddr())?;
        // Our own multicasts are not news.
        s.set_multicast_loop(false)?;
        Ok(s)
    }
    /// Its addresses a `network` covers, or all if it is named
    /// (loopback's 127/8 never).
    fn rip_ifaddrs(v: &Vnet, ifp: &Ifnet, rc: &RipConf<u32>) -> Option<(u32, Vec<(u32, u8)>)> {
        let named = rc.network_ifs.contains(&ifp.name);
        let addrs: Vec<(u32, u8)> = in_ifaddr_all(v)
            .iter()
            .filter(|a| a.index == ifp.index && a.addr >> 24 != 127)
            .filter(|a| named || rc.networks.iter().any(|&(n, l)| in_prefix(a.addr, n, l)))
            .map(|a| (a.addr, a.plen))
            .collect();
        Some((addrs.first()?.0, addrs))
    }
    fn on_link(i: &RipIf<u32>, src: u32) -> bool {
        i.addrs.iter().any(|&(a, l)| in_prefix(src, a, l))
    }
    /// A next hop on the link is used as it is (§4.4).
    fn gateway(i: &RipIf<u32>, src: u32, nh: u32) -> u32 {
        if nh != 0 && i.addrs.iter().any(|&(a, l)| in_prefix(nh, a, l) && a != nh) {
            nh
        } else {
            src
        }
    }
    /// Not 0/8 but the default, not loopback, not class D or E (§3.9.2).
    fn valid_dst(addr: u32, plen: u8) -> bool {
        let first = addr >> 24;
        if plen == 0 {
            return addr == 0;
        }
        plen <= 32 && first != 0 && first != 127 && first < 224 && addr & !u32::mask(plen) == 0
    }
    /// Authentication we were not told to expect makes a response bad.
    fn parse(d: &[u8]) -> Option<RipMsg<u32>> {
        let m = RipRepr::parse(d).ok()?;
        if m.command == RIP_RESPONSE && m.entries.iter().any(|e| e.afi == RIP_AUTH_AFI) {
            return None;
        }
        let whole = m.entries.len() == 1 && m.entries[0].afi == 0 && m.entries[0].metric == RIP_METRIC_INFINITY;
        let mut out = RipMsg {
            command: m.command,
            whole,
            entries: Vec::new(),
            bad: 0,
        };
        for e in m.entries.iter().filter(|_| !whole) {
            match e.plen().filter(|_| e.afi == AF_INET_RIP) {
                Some(plen) => out.entries.push(Entry {
                    addr: e.addr,
                    plen,
                    tag: e.tag,
                    metric: e.metric,
                    nexthop: e.nexthop,
                }),
                None => out.bad += 1,
            }
        }
        Some(out)
    }
    /// No entries: the request for the whole table.
    fn emit(command: u8, entries: &[Entry<u32>]) -> Vec<u8> {
        let entries = if entries.is_empty() && command == RIP_REQUEST {
            vec![RipEntry::whole_table()]
        } else {
            entries
                .iter()
                .map(|e| RipEntry {
                    tag: e.tag,
                    nexthop: e.nexthop,
                    ..RipEntry::route(e.addr, e.plen, e.metric)
                })
                .collect()
        };
        RipRepr {
            command,
            version: 2,
            entries,
        }
        .emit()
    }
    fn max_entries(_: u32) -> usize {
        RIP_MAX_ENTRIES
    }
    fn sockaddr(a: u32, port: u16, _: u32) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::from(a), port))
    }
    fn from_sockaddr(a: SocketAddr) -> Option<u32> {
        match a {
            SocketAddr::V4(a) => Some(a.ip().to_bits()),
            SocketAddr::V6(_) => None,
        }
    }
}

/// `show ip rip`, FRR's layout.
pub fn show_ip_rip(r: &Rip, now: Time) -> String {
    let mut s = String::from(
        "Codes: R - RIP, C - connected, S - Static, O - OSPF, B - BGP\n\
         Sub-codes:\n      \
         (n) - normal, (s) - static, (d) - default, (r) - redistribute,\n      \
         (i) - interface\n\n     \
         Network            Next Hop         Metric From            Tag Time\n",
    );
    for (&(a, l), rte) in &r.routes {
        let (c, sub) = rte.kind.codes();
        let head = format!("{c}({sub}) {}/{l}", Ipv4Addr::from(a));
        let _ = write!(s, "{head:<24}");
        let _ = write!(s, "{:<20} {:2} ", Ipv4Addr::from(rte.gateway).to_string(), rte.metric);
        if rte.kind == Kind::Rte {
            let _ = write!(s, "{:<15} {:3} ", Ipv4Addr::from(rte.from).to_string(), rte.tag);
            if let Some(t) = rte.timeout.or(rte.garbage) {
                let _ = write!(s, "{:>5}", mmss(t.saturating_sub(now)));
            }
        } else {
            let _ = write!(s, "self            {:3}", rte.tag);
        }
        s.push('\n');
    }
    s
}

/// A timer's time left as FRR prints it.
pub fn mmss(left: Duration) -> String {
    let left = left.as_secs();
    format!("{:02}:{:02}", left / 60 % 60, left % 60)
}

/// `show ip rip status`, `show ipv6 ripng status`: FRR's layouts.
pub fn show_rip_status<K: RipFamily>(r: &Rip<K>, now: Time) -> String {
    let c = &r.conf;
    let v4 = K::VERSION == 2;
    let mut s = format!("Routing Protocol is \"{}\"\n", K::NAME);
    let _ = writeln!(
        s,
        "  Sending updates every {} seconds with +/-50%, next due in {} seconds",
        c.update,
        r.next_update.saturating_sub(now).as_secs()
    );
    let _ = writeln!(
        s,
        "  Timeout after {} seconds, garbage collect after {} seconds",
        c.timeout, c.garbage
    );
    s += "  Outgoing update filter list for all interface is not set\n";
    s += "  Incoming update filter list for all interface is not set\n";
    let _ = writeln!(s, "  Default redistribution metric is {}", c.default_metric);
    s += "  Redistributing:";
    for k in c.redistribute.keys() {
        let _ = write!(s, "{}{}", if v4 { " " } else { "    " }, k.name());
    }
    let v = K::VERSION;
    let _ = writeln!(s, "\n  Default version control: send version {v}, receive version {v} ");
    s += if v4 {
        "    Interface        Send  Recv   Key-chain\n"
    } else {
        "    Interface        Send  Recv\n"
    };
    for i in r.ifs.iter().filter(|i| !i.passive) {
        let _ = if v4 {
            writeln!(s, "    {:<17}{:<6}{:<7}", i.name, v, v)
        } else {
            writeln!(s, "    {:<17}{:<3}   {:<3}", i.name, v, v)
        };
    }
    s += if v4 {
        "\n  Routing for Networks:\n"
    } else {
        "  Routing for Networks:\n"
    };
    for &(a, l) in &c.networks {
        let _ = writeln!(s, "    {}/{l}", a.show());
    }
    for n in &c.network_ifs {
        let _ = writeln!(s, "    {n}");
    }
    let passive: Vec<&RipIf<K>> = r.ifs.iter().filter(|i| i.passive).collect();
    if v4 && !passive.is_empty() {
        s += "  Passive Interface(s):\n";
        for i in passive {
            let _ = writeln!(s, "    {}", i.name);
        }
    }
    s += "  Routing Information Sources:\n";
    s += "    Gateway          BadPackets BadRoutes  Distance Last Update\n";
    for (&a, peer) in &r.peers {
        let ago = now.saturating_sub(peer.last).as_secs();
        let ago = format!("{:02}:{:02}:{:02}", ago / 3600, ago / 60 % 60, ago % 60);
        let (bp, br, d) = (peer.bad_packets, peer.bad_routes, c.distance);
        let _ = if v4 {
            writeln!(s, "    {:<16} {bp:>10} {br:>9} {d:>9}   {ago}", a.show())
        } else {
            // The address on a line of its own, as FRR's ripngd has it.
            writeln!(s, "    {} \n{:15}{bp:>10} {br:>10} {d:>10}      {ago}", a.show(), "")
        };
    }
    if v4 {
        let _ = writeln!(s, "  Distance: (default is {})", c.distance);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unicast_networks_are_routes() {
        let valid_dst = <u32 as RipFamily>::valid_dst;
        assert!(valid_dst(0x0a00_0000, 8));
        assert!(valid_dst(0, 0), "the default");
        assert!(!valid_dst(0x0a00_0001, 24), "host bits set");
        assert!(!valid_dst(0x7f00_0000, 8), "loopback");
        assert!(!valid_dst(0xe000_0000, 4), "multicast");
        assert!(!valid_dst(0x0000_0000, 8), "net 0");
    }
}
