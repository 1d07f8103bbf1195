//! ripd: RIP version 2 (RFC 2453), as FRR's ripd is run and configured
//! (`ripd -f frr.conf -d`, `router rip`). On every interface `network`
//! names it joins 224.0.0.9, asks its neighbours for their tables (§3.9.1)
//! and sends its own every `update` seconds (±25 %, as FRR jitters it) to
//! 224.0.0.9:520 with TTL 1: split horizon, or with poisoned reverse, as
//! the interface says (§3.4.3). A route heard is at the sender's metric
//! plus one; it times out after `timeout` seconds unheard, is then sent
//! at metric 16 until `garbage` seconds later it goes (§3.8); a change is
//! told at once by a triggered update, 1 to 5 s after the last (§3.10.1).
//! Count to infinity stops at 16. The best routes go to the RIB at
//! distance 120 and from it into the kernel. Malformed messages and
//! entries are counted per source (`show ip rip status`), never trusted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use super::Frr;
use super::conf::{FrrConf, Redist, RipConf, SplitHorizon};
use super::daemon::{Daemon, Wake, daemon_open, daemon_run, daemon_stop, daemon_wait};
use super::rib::{Proto, RibRoute};
use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::net::radix::mask;
use crate::net::route::{Gateway, ROUTE, RTF_LOCAL, RTF_PROTO1};
use crate::netinet::in_::{in_ifaddr_all, in_prefix};
use crate::socket::{BindOpts, RouteSocket, UdpSocket};
use crate::wire::rip::{
    AF_INET_RIP, RIP_AUTH_AFI, RIP_MAX_ENTRIES, RIP_METRIC_INFINITY, RIP_REQUEST, RIP_RESPONSE, RipEntry, RipRepr,
};

pub const RIP_PORT: u16 = 520;
/// 224.0.0.9, RIP-2 routers (§4.5).
pub const INADDR_RIP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 9);

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

/// A route in ripd's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rte {
    pub kind: Kind,
    pub metric: u32,
    /// The next hop (0 for our own).
    pub gateway: u32,
    /// Who told us.
    pub from: u32,
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
pub struct RipIf {
    pub index: u32,
    pub name: String,
    /// Its addresses: address and prefix length.
    pub addrs: Vec<(u32, u8)>,
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

/// ripd's state, which `show ip rip` reads.
#[derive(Debug, Default)]
pub struct Rip {
    pub conf: RipConf,
    pub routes: BTreeMap<(u32, u8), Rte>,
    pub ifs: Vec<RipIf>,
    pub peers: BTreeMap<u32, Peer>,
    pub next_update: Time,
    /// A triggered update waits for this time (§3.10.1).
    pub triggered: Option<Time>,
    last_triggered: Time,
    /// Messages sent and received.
    pub sent: u64,
    pub received: u64,
}

impl Rip {
    pub fn new(conf: RipConf) -> Rip {
        Rip {
            conf,
            ..Default::default()
        }
    }
}

pub async fn ripd(p: Proc, argv: Vec<String>) -> i32 {
    let (a, frr) = match daemon_open(&p, &argv, Daemon::Ripd) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let sock = match open_socket(&p) {
        Ok(s) => s,
        Err(e) => {
            errln!(p, "ripd: can't bind to port {RIP_PORT}: {e}");
            daemon_stop(&p, &frr, Daemon::Ripd);
            return 1;
        }
    };
    let Ok(rs) = RouteSocket::open(&p, Some(false)) else {
        daemon_stop(&p, &frr, Daemon::Ripd);
        return 1;
    };
    let f = frr.clone();
    daemon_run(p, frr, Daemon::Ripd, a.daemon, move |q| serve(q, f, sock, rs)).await
}

fn open_socket(p: &Proc) -> std::io::Result<UdpSocket> {
    let s = UdpSocket::bind_with(p, SocketAddr::from(([0, 0, 0, 0], RIP_PORT)), BindOpts::reuseaddr())?;
    // Our own multicasts are not news.
    s.set_multicast_loop(false)?;
    Ok(s)
}

async fn serve(p: Proc, frr: Rc<std::cell::RefCell<Frr>>, sock: UdpSocket, rs: RouteSocket) -> i32 {
    p.intr.catch();
    let mut seen = u64::MAX;
    let mut buf = vec![0u8; 1500];
    let now = p.now();
    if let Some(r) = frr.borrow_mut().rip.as_mut() {
        r.next_update = now.saturating_add(jitter(&p, r.conf.update));
    }
    loop {
        let generation = frr.borrow().generation;
        if generation != seen {
            seen = generation;
            let c = frr.borrow().conf.clone();
            if let Some(r) = frr.borrow_mut().rip.as_mut() {
                r.conf = c.rip.clone().unwrap_or_default();
            }
        }
        let conf = frr.borrow().conf.clone();
        rip_interfaces(&p, &frr, &sock, &conf);
        rip_local_routes(&p, &frr);
        rip_timers(&p, &frr, &sock);
        {
            let mut f = frr.borrow_mut();
            let f = &mut *f;
            if let Some(r) = f.rip.as_ref() {
                rip_to_rib(&p, r, &mut f.rib);
            }
            f.rib.sync(&p, &rs);
        }
        let Some(next) = frr.borrow().rip.as_ref().map(next_event) else {
            return 0;
        };
        let ev = daemon_wait(&p, &frr, seen, sock.recv_from_if(&mut buf), &rs, next).await;
        match ev {
            Wake::Packet((n, SocketAddr::V4(from), ifindex)) => {
                rip_input(&p, &frr, &sock, &buf[..n], from.ip().to_bits(), from.port(), ifindex);
            }
            Wake::Intr => return 0,
            _ => {}
        }
    }
}

/// The earliest time something is due.
fn next_event(r: &Rip) -> Time {
    let mut t = r.next_update;
    if let Some(x) = r.triggered {
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

/// Is `addr` an address a route may be to (§3.9.2: not 0/8 but the
/// default, not loopback, not class D or E)?
fn valid_dst(addr: u32, plen: u8) -> bool {
    let first = addr >> 24;
    if plen == 0 {
        return addr == 0;
    }
    first != 0 && first != 127 && first < 224 && addr & !mask(plen) == 0
}

/// Which interfaces RIP runs on now: those up whose address a `network`
/// covers, or that one names. New ones join the group and ask for their
/// neighbours' tables; routes through those that left are dropped.
fn rip_interfaces(p: &Proc, frr: &Rc<std::cell::RefCell<Frr>>, sock: &UdpSocket, conf: &FrrConf) {
    let Some(rc) = conf.rip.clone() else {
        return;
    };
    let ifs = p
        .vnet(|_, v| {
            let mut out: Vec<RipIf> = Vec::new();
            let Some(list) = v.get(IF) else { return out };
            for ifp in list.list.iter().filter(|i| i.is_up()) {
                // Its addresses a `network` covers, or all if it is named
                // (loopback's 127/8 never).
                let named = rc.network_ifs.contains(&ifp.name);
                let addrs: Vec<(u32, u8)> = in_ifaddr_all(v)
                    .iter()
                    .filter(|a| a.index == ifp.index && a.addr >> 24 != 127)
                    .filter(|a| named || rc.networks.iter().any(|&(n, l)| in_prefix(a.addr, n, l)))
                    .map(|a| (a.addr, a.plen))
                    .collect();
                if addrs.is_empty() {
                    continue;
                }
                out.push(RipIf {
                    index: ifp.index,
                    name: ifp.name.clone(),
                    addrs,
                    // A loopback's networks are told, never sent on.
                    passive: rc.is_passive(&ifp.name) || ifp.is_loopback(),
                    split_horizon: conf
                        .interfaces
                        .get(&ifp.name)
                        .map(|i| i.split_horizon)
                        .unwrap_or_default(),
                });
            }
            out
        })
        .unwrap_or_default();
    let old = match frr.borrow().rip.as_ref() {
        Some(r) if r.ifs == ifs => return,
        Some(r) => r.ifs.clone(),
        None => return,
    };
    let now = p.now();
    for i in &ifs {
        if old.iter().any(|o| o.index == i.index) {
            continue;
        }
        let _ = sock.join_multicast(INADDR_RIP_GROUP.into(), i.index);
        if !i.passive {
            let req = RipRepr {
                command: RIP_REQUEST,
                version: 2,
                entries: vec![RipEntry::whole_table()],
            };
            rip_send(p, frr, sock, i.index, INADDR_RIP_GROUP.to_bits(), RIP_PORT, &req.emit());
            // And tell the new link what we know, not waiting for the
            // next update.
            rip_update(p, frr, sock, i, INADDR_RIP_GROUP.to_bits(), RIP_PORT, false);
        }
    }
    let mut f = frr.borrow_mut();
    let Some(r) = f.rip.as_mut() else { return };
    for o in &old {
        if !ifs.iter().any(|i| i.index == o.index) {
            let _ = sock.leave_multicast(INADDR_RIP_GROUP.into(), o.index);
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
fn poison(rte: &mut Rte, now: Time, garbage: u32) {
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
fn rip_local_routes(p: &Proc, frr: &Rc<std::cell::RefCell<Frr>>) {
    let Some((rc, ifs)) = frr.borrow().rip.as_ref().map(|r| (r.conf.clone(), r.ifs.clone())) else {
        return;
    };
    let mut want: BTreeMap<(u32, u8), (Kind, u32, u32)> = BTreeMap::new();
    for i in &ifs {
        for &(a, l) in &i.addrs {
            want.insert((a & mask(l), l), (Kind::Interface, 1, i.index));
        }
    }
    let metric_of = |k: Redist| rc.redistribute.get(&k).map(|m| m.unwrap_or(rc.default_metric));
    let _ = p.vnet(|_, v| {
        if let Some(m) = metric_of(Redist::Connected) {
            for a in in_ifaddr_all(v) {
                let up = v
                    .get(IF)
                    .and_then(|l| l.get(a.index))
                    .is_some_and(|f| f.is_up() && !f.is_loopback());
                if up {
                    want.entry((a.addr & mask(a.plen), a.plen)).or_insert((
                        Kind::Redistribute(Redist::Connected),
                        m,
                        a.index,
                    ));
                }
            }
        }
        if let Some(m) = metric_of(Redist::Kernel)
            && let Some(t) = v.get(ROUTE)
        {
            for e in t.entries() {
                if e.flags & (RTF_PROTO1 | RTF_LOCAL) == 0 && matches!(e.gateway, Gateway::Inet(_)) {
                    want.entry((e.dst, e.plen))
                        .or_insert((Kind::Redistribute(Redist::Kernel), m, e.ifindex));
                }
            }
        }
    });
    if rc.default_originate {
        want.entry((0, 0)).or_insert((Kind::Default, rc.default_metric, 0));
    }
    let now = p.now();
    let mut f = frr.borrow_mut();
    let Some(r) = f.rip.as_mut() else { return };
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
            gateway: 0,
            from: 0,
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
fn rip_timers(p: &Proc, frr: &Rc<std::cell::RefCell<Frr>>, sock: &UdpSocket) {
    let now = p.now();
    let (full, triggered) = {
        let mut f = frr.borrow_mut();
        let Some(r) = f.rip.as_mut() else { return };
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
        let (ifs, neighbors) = match frr.borrow().rip.as_ref() {
            Some(r) => (r.ifs.clone(), r.conf.neighbors.clone()),
            None => return,
        };
        for i in ifs.iter().filter(|i| !i.passive) {
            rip_update(p, frr, sock, i, INADDR_RIP_GROUP.to_bits(), RIP_PORT, triggered);
        }
        for n in neighbors {
            if let Some(i) = ifs.iter().find(|i| i.addrs.iter().any(|&(a, l)| in_prefix(n, a, l))) {
                rip_update(p, frr, sock, i, n, RIP_PORT, triggered);
            }
        }
        if let Some(r) = frr.borrow_mut().rip.as_mut() {
            for rte in r.routes.values_mut() {
                rte.changed = false;
            }
        }
    }
}

/// Send the table (only what changed, for a triggered update) out of
/// interface `i` to `dst:port`, split horizon as the interface says.
fn rip_update(
    p: &Proc,
    frr: &Rc<std::cell::RefCell<Frr>>,
    sock: &UdpSocket,
    i: &RipIf,
    dst: u32,
    port: u16,
    only_changed: bool,
) {
    let entries: Vec<RipEntry> = {
        let f = frr.borrow();
        let Some(r) = f.rip.as_ref() else { return };
        r.routes
            .iter()
            .filter(|(_, rte)| !only_changed || rte.changed)
            .filter_map(|(&(a, l), rte)| {
                let learned_here = rte.ifindex == i.index && matches!(rte.kind, Kind::Rte | Kind::Interface);
                let metric = match (learned_here, i.split_horizon) {
                    (true, SplitHorizon::Simple) => return None,
                    (true, SplitHorizon::PoisonedReverse) if rte.kind == Kind::Rte => RIP_METRIC_INFINITY,
                    (true, SplitHorizon::PoisonedReverse) => return None,
                    _ => rte.metric,
                };
                Some(RipEntry {
                    tag: rte.tag,
                    ..RipEntry::route(a, l, metric)
                })
            })
            .collect()
    };
    rip_respond(p, frr, sock, i.index, dst, port, &entries);
}

/// Responses carrying `entries`, 25 to a message (RFC 2453 §3.6).
fn rip_respond(
    p: &Proc,
    frr: &Rc<std::cell::RefCell<Frr>>,
    sock: &UdpSocket,
    index: u32,
    dst: u32,
    port: u16,
    entries: &[RipEntry],
) {
    for chunk in entries.chunks(RIP_MAX_ENTRIES) {
        let m = RipRepr {
            command: RIP_RESPONSE,
            version: 2,
            entries: chunk.to_vec(),
        };
        rip_send(p, frr, sock, index, dst, port, &m.emit());
    }
}

fn rip_send(p: &Proc, frr: &Rc<std::cell::RefCell<Frr>>, sock: &UdpSocket, index: u32, dst: u32, port: u16, b: &[u8]) {
    let _ = p;
    let _ = sock.set_multicast_if(index);
    if sock
        .try_send_to(b, SocketAddr::from((Ipv4Addr::from(dst), port)))
        .is_ok()
        && let Some(r) = frr.borrow_mut().rip.as_mut()
    {
        r.sent += 1;
    }
}

/// A message from `src:sport` that came in by `ifindex` (§3.9).
fn rip_input(
    p: &Proc,
    frr: &Rc<std::cell::RefCell<Frr>>,
    sock: &UdpSocket,
    d: &[u8],
    src: u32,
    sport: u16,
    ifindex: u32,
) {
    let now = p.now();
    let Some(i) = frr
        .borrow()
        .rip
        .as_ref()
        .and_then(|r| r.ifs.iter().find(|i| i.index == ifindex).cloned())
    else {
        return;
    };
    // From ourselves, or from off the link: not a neighbour.
    if i.addrs.iter().any(|&(a, _)| a == src) || !i.addrs.iter().any(|&(a, l)| in_prefix(src, a, l)) {
        return;
    }
    let bad_packet = |frr: &Rc<std::cell::RefCell<Frr>>| {
        if let Some(r) = frr.borrow_mut().rip.as_mut() {
            r.peers.entry(src).or_default().bad_packets += 1;
        }
    };
    let m = match RipRepr::parse(d) {
        Ok(m) => m,
        Err(_) => return bad_packet(frr),
    };
    if let Some(r) = frr.borrow_mut().rip.as_mut() {
        r.received += 1;
    }
    if m.command == RIP_REQUEST {
        return rip_request(p, frr, sock, &i, &m, src, sport);
    }
    // A response comes from the RIP port (§3.9.2), and we do not take
    // authentication we were not told to expect.
    if sport != RIP_PORT || m.entries.iter().any(|e| e.afi == RIP_AUTH_AFI) {
        return bad_packet(frr);
    }
    let mut f = frr.borrow_mut();
    let Some(r) = f.rip.as_mut() else { return };
    let (timeout, garbage) = (r.conf.timeout, r.conf.garbage);
    let peer = r.peers.entry(src).or_default();
    peer.last = now;
    let mut changed = false;
    for e in &m.entries {
        let plen = e.plen();
        let ok = e.afi == AF_INET_RIP
            && (1..=RIP_METRIC_INFINITY).contains(&e.metric)
            && plen.is_some_and(|l| valid_dst(e.addr, l));
        let Some(plen) = plen.filter(|_| ok) else {
            r.peers.entry(src).or_default().bad_routes += 1;
            continue;
        };
        let metric = (e.metric + 1).min(RIP_METRIC_INFINITY);
        // A next hop on the link is used as it is (§4.4).
        let gateway = if e.nexthop != 0
            && i.addrs
                .iter()
                .any(|&(a, l)| in_prefix(e.nexthop, a, l) && a != e.nexthop)
        {
            e.nexthop
        } else {
            src
        };
        let prefix = (e.addr, plen);
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
fn rip_request(
    p: &Proc,
    frr: &Rc<std::cell::RefCell<Frr>>,
    sock: &UdpSocket,
    i: &RipIf,
    m: &RipRepr,
    src: u32,
    sport: u16,
) {
    let whole = m.entries.len() == 1 && m.entries[0].afi == 0 && m.entries[0].metric == RIP_METRIC_INFINITY;
    if whole {
        if i.passive {
            return;
        }
        return rip_update(p, frr, sock, i, src, sport, false);
    }
    let answer: Vec<RipEntry> = {
        let f = frr.borrow();
        let Some(r) = f.rip.as_ref() else { return };
        m.entries
            .iter()
            .map(|e| {
                let metric = e
                    .plen()
                    .and_then(|l| r.routes.get(&(e.addr, l)))
                    .map_or(RIP_METRIC_INFINITY, |x| x.metric);
                RipEntry { metric, ..*e }
            })
            .collect()
    };
    rip_respond(p, frr, sock, i.index, src, sport, &answer);
}

/// ripd's best routes to the RIB (its own and those at 16 withdrawn).
fn rip_to_rib(p: &Proc, r: &Rip, rib: &mut super::rib::Rib) {
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
        let (c, sub) = match rte.kind {
            Kind::Rte => ('R', 'n'),
            Kind::Interface => ('C', 'i'),
            Kind::Redistribute(Redist::Connected) => ('C', 'r'),
            Kind::Redistribute(Redist::Kernel) => ('K', 'r'),
            Kind::Redistribute(Redist::Static) => ('S', 'r'),
            Kind::Redistribute(Redist::Rip) => ('R', 'r'),
            Kind::Redistribute(Redist::Ospf) => ('O', 'r'),
            Kind::Default => ('R', 'd'),
        };
        let head = format!("{c}({sub}) {}/{l}", Ipv4Addr::from(a));
        let _ = write!(s, "{head:<24}");
        let _ = write!(s, "{:<20} {:2} ", Ipv4Addr::from(rte.gateway).to_string(), rte.metric);
        if rte.kind == Kind::Rte {
            let _ = write!(s, "{:<15} {:3} ", Ipv4Addr::from(rte.from).to_string(), rte.tag);
            if let Some(t) = rte.timeout.or(rte.garbage) {
                let left = t.saturating_sub(now).as_secs();
                let _ = write!(s, "{:>5}", format!("{:02}:{:02}", left / 60 % 60, left % 60));
            }
        } else {
            let _ = write!(s, "self            {:3}", rte.tag);
        }
        s.push('\n');
    }
    s
}

/// `show ip rip status`, FRR's layout.
pub fn show_ip_rip_status(r: &Rip, now: Time) -> String {
    let c = &r.conf;
    let mut s = String::from("Routing Protocol is \"rip\"\n");
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
        let _ = write!(s, " {}", k.name());
    }
    s += "\n  Default version control: send version 2, receive version 2 \n";
    s += "    Interface        Send  Recv   Key-chain\n";
    for i in r.ifs.iter().filter(|i| !i.passive) {
        let _ = writeln!(s, "    {:<17}{:<6}{:<7}", i.name, "2", "2");
    }
    s += "\n  Routing for Networks:\n";
    for &(a, l) in &c.networks {
        let _ = writeln!(s, "    {}/{l}", Ipv4Addr::from(a));
    }
    for n in &c.network_ifs {
        let _ = writeln!(s, "    {n}");
    }
    let passive: Vec<&RipIf> = r.ifs.iter().filter(|i| i.passive).collect();
    if !passive.is_empty() {
        s += "  Passive Interface(s):\n";
        for i in passive {
            let _ = writeln!(s, "    {}", i.name);
        }
    }
    s += "  Routing Information Sources:\n";
    s += "    Gateway          BadPackets BadRoutes  Distance Last Update\n";
    for (&a, peer) in &r.peers {
        let ago = now.saturating_sub(peer.last).as_secs();
        let _ = writeln!(
            s,
            "    {:<16} {:>10} {:>9} {:>9}   {:02}:{:02}:{:02}",
            Ipv4Addr::from(a).to_string(),
            peer.bad_packets,
            peer.bad_routes,
            c.distance,
            ago / 3600,
            ago / 60 % 60,
            ago % 60
        );
    }
    let _ = writeln!(s, "  Distance: (default is {})", c.distance);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unicast_networks_are_routes() {
        assert!(valid_dst(0x0a00_0000, 8));
        assert!(valid_dst(0, 0), "the default");
        assert!(!valid_dst(0x0a00_0001, 24), "host bits set");
        assert!(!valid_dst(0x7f00_0000, 8), "loopback");
        assert!(!valid_dst(0xe000_0000, 4), "multicast");
        assert!(!valid_dst(0x0000_0000, 8), "net 0");
    }
}
