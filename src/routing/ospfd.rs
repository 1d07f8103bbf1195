//! ospfd: OSPF version 2 (RFC 2328), as FRR's ospfd is run and
//! configured (`ospfd -d`, `router ospf`, `network P area A`, `ip ospf
//! ...`). A raw socket of protocol 89 joined to 224.0.0.5 (and .6) on
//! each OSPF interface: Hellos every `hello` seconds, neighbours dead
//! after `dead` (§10), DR/BDR election on broadcast networks (§9.4), the
//! adjacency machine with the database exchange as master or slave
//! (§10.3, §10.6–10.8), flooding with acknowledgements and retransmission
//! (§13), our router, network, summary (as an area border router,
//! §12.4.3) and AS-external LSAs (§12.4), and SPF (§16.1, §16.2, §16.4)
//! into the RIB at distance 110. ASBR-summary LSAs are flooded but not
//! made or used. Malformed packets and LSAs are counted, never trusted.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration;

use super::Frr;
use super::conf::{FrrConf, OspfConf, Redist};
use super::daemon::{Daemon, Wake, daemon_open, daemon_run, daemon_stop, daemon_wait};
use super::rib::{Proto, RibRoute, kernel_routes};
use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::net::radix::mask;
use crate::netinet::in_::{in_ifaddr_all, in_prefix};
use crate::socket::{RawSocket, RouteSocket};
use crate::wire::ospf::{
    DD_I, DD_M, DD_MS, Dd, Hello, INITIAL_SEQ, LINK_P2P, LINK_STUB, LINK_TRANSIT, LSA_EXTERNAL, LSA_NETWORK,
    LSA_ROUTER, LSA_SUMMARY, Lsa, LsaHdr, LsaKey, MAX_AGE, NetworkLsa, OPT_E, OspfBody, OspfRepr, PrefixLsa, ROUTER_B,
    ROUTER_E, RouterLink, RouterLsa, lsa_newer,
};

pub const IPPROTO_OSPF: u8 = 89;
pub const ALL_SPF_ROUTERS: u32 = 0xe000_0005;
pub const ALL_D_ROUTERS: u32 = 0xe000_0006;
/// The area AS-external LSAs are kept under (they have AS scope).
const AS_SCOPE: u32 = u32::MAX;
/// LSRefreshTime, MinLSInterval, MinLSArrival (Appendix B).
const LS_REFRESH: u64 = 1800;
const MIN_LS_INTERVAL: Duration = Duration::from_secs(5);
const MIN_LS_ARRIVAL: Duration = Duration::from_secs(1);
/// How long SPF waits after a change, so changes come together.
const SPF_DELAY: Duration = Duration::from_millis(200);
/// LSA headers in a DD packet, LSAs in an update.
const DD_CHUNK: usize = 60;

/// Neighbour states (§10.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NbrState {
    Down,
    Init,
    TwoWay,
    ExStart,
    Exchange,
    Loading,
    Full,
}

impl NbrState {
    fn name(self) -> &'static str {
        match self {
            NbrState::Down => "Down",
            NbrState::Init => "Init",
            NbrState::TwoWay => "2-Way",
            NbrState::ExStart => "ExStart",
            NbrState::Exchange => "Exchange",
            NbrState::Loading => "Loading",
            NbrState::Full => "Full",
        }
    }
}

/// Interface states (§9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfState {
    Loopback,
    Waiting,
    PointToPoint,
    DrOther,
    Backup,
    Dr,
}

/// A neighbour (§10).
#[derive(Clone, Debug)]
pub struct Nbr {
    pub rid: u32,
    pub addr: u32,
    pub prio: u8,
    pub state: NbrState,
    /// The DR and BDR it declares (interface addresses).
    pub dr: u32,
    pub bdr: u32,
    pub dead_at: Time,
    pub up: Time,
    /// DD sequence number, and whether we are master.
    seq: u32,
    master: bool,
    /// The last DD we sent, and the (seq, flags) of the last it sent.
    last_dd: Option<Vec<u8>>,
    last_rcvd: Option<(u32, u8)>,
    /// What is left to describe, to ask for, and to be acknowledged.
    summary: Vec<LsaHdr>,
    pub requests: Vec<LsaHdr>,
    pub rxmt: std::collections::BTreeSet<(u32, LsaKey)>,
    rxmt_at: Time,
}

/// An OSPF interface.
#[derive(Clone, Debug)]
pub struct OspfIf {
    pub index: u32,
    pub name: String,
    pub addr: u32,
    pub plen: u8,
    pub area: u32,
    pub p2p: bool,
    pub passive: bool,
    pub loopback: bool,
    pub cost: u16,
    pub hello: u16,
    pub dead: u32,
    pub prio: u8,
    pub rxmt: u16,
    pub mtu: u16,
    pub mtu_ignore: bool,
    pub state: IfState,
    pub dr: u32,
    pub bdr: u32,
    pub nbrs: Vec<Nbr>,
    hello_at: Time,
    wait_until: Option<Time>,
}

/// An LSA in the database and when it was put there.
#[derive(Clone, Debug)]
pub struct Entry {
    pub lsa: Lsa,
    pub at: Time,
}

impl Entry {
    /// Its age now (§12.1.1).
    pub fn age(&self, now: Time) -> u16 {
        let secs = now.saturating_sub(self.at).as_secs();
        (u64::from(self.lsa.hdr().age) + secs).min(u64::from(MAX_AGE)) as u16
    }

    /// When it is next due, after `now`: its refresh if `own`
    /// (LSRefreshTime), its MaxAge; at MaxAge already, a second on, to
    /// see whether it can leave.
    fn due(&self, own: bool, now: Time) -> Time {
        let soon = now + Duration::from_secs(1);
        if self.age(now) >= MAX_AGE {
            return soon;
        }
        let until = |x: u16| self.at + Duration::from_secs(u64::from(x.saturating_sub(self.lsa.hdr().age)));
        match (own, until(LS_REFRESH as u16)) {
            (true, r) if r <= now => soon,
            (true, r) => r.min(until(MAX_AGE)),
            (false, _) => until(MAX_AGE),
        }
    }

    /// Its header, the age as of `now`.
    fn hdr(&self, now: Time) -> LsaHdr {
        LsaHdr {
            age: self.age(now),
            ..self.lsa.hdr()
        }
    }

    /// Its bytes with the age as of `now`, plus the transmission delay.
    fn to_send(&self, now: Time) -> Lsa {
        let mut l = self.lsa.clone();
        l.set_age(self.age(now).saturating_add(1));
        l
    }
}

/// ospfd's state, which `show ip ospf` reads.
#[derive(Debug, Default)]
pub struct Ospf {
    pub conf: OspfConf,
    pub rid: u32,
    pub ifs: Vec<OspfIf>,
    /// The link-state database: (area, LSA) to its entry.
    pub lsdb: BTreeMap<(u32, LsaKey), Entry>,
    /// The routes SPF found: prefix to cost, gateway, interface.
    pub routes: BTreeMap<(u32, u8), Route>,
    spf_at: Option<Time>,
    /// When each of our LSAs was last made, and the lowest sequence number
    /// the next may carry (§13.4).
    made: BTreeMap<(u32, LsaKey), Time>,
    seq_floor: BTreeMap<(u32, LsaKey), i32>,
    originate_at: Option<Time>,
    /// When an LSA of the database is next due to be refreshed or to
    /// leave at MaxAge (`Time(0)`: look).
    lsdb_due: Time,
    /// SPF runs since the RIB was last given the routes.
    rib_stale: bool,
    /// staticd's selected routes in the RIB, for `redistribute static`,
    /// as of the RIB's change count `statics_gen`.
    statics: Vec<(u32, u8)>,
    statics_gen: u64,
    /// What SPF found for us to summarise as an ABR: (into area, prefix,
    /// cost).
    summaries: Vec<(u32, (u32, u8), u32)>,
    /// LSAs to flood and to acknowledge: interface, destination, area.
    flood_q: Vec<(u32, u32, u32, Lsa)>,
    ack_q: Vec<(u32, u32, u32, LsaHdr)>,
    /// Packets to send: interface, destination, bytes.
    out: Vec<(u32, u32, Vec<u8>)>,
    pub spf_runs: u64,
    pub bad_packets: u64,
    /// LSAs refused over `max-lsa`.
    pub lsa_refused: u64,
    pub sent: u64,
    pub received: u64,
}

impl Ospf {
    pub fn new(conf: OspfConf) -> Ospf {
        Ospf {
            conf,
            ..Default::default()
        }
    }
}

pub async fn ospfd(p: Proc, argv: Vec<String>) -> i32 {
    let (a, frr) = match daemon_open(&p, &argv, Daemon::Ospfd) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let sock = match RawSocket::new(&p, false, IPPROTO_OSPF) {
        Ok(s) => s,
        Err(e) => {
            errln!(p, "ospfd: socket: {e}");
            daemon_stop(&p, &frr, Daemon::Ospfd);
            return 1;
        }
    };
    sock.set_multicast_loop(false);
    let Ok(rs) = RouteSocket::open(&p, Some(false)) else {
        daemon_stop(&p, &frr, Daemon::Ospfd);
        return 1;
    };
    let f = frr.clone();
    daemon_run(p, frr, Daemon::Ospfd, a.daemon, move |q| serve(q, f, sock, rs)).await
}

async fn serve(p: Proc, frr: Rc<std::cell::RefCell<Frr>>, sock: RawSocket, rs: RouteSocket) -> i32 {
    p.intr.catch();
    let mut seen = u64::MAX;
    let mut buf = vec![0u8; 65_535];
    let mut joined: Vec<u32> = Vec::new();
    let (mut kernel_changed, mut reconfigured) = (true, true);
    loop {
        let generation = frr.borrow().generation;
        if generation != seen {
            seen = generation;
            reconfigured = true;
            let c = frr.borrow().conf.ospf.clone().unwrap_or_default();
            if let Some(o) = frr.borrow_mut().ospf.as_mut() {
                o.conf = c;
                o.schedule_originate(p.now());
                o.schedule_spf(p.now());
            }
        }
        let now = p.now();
        {
            let mut f = frr.borrow_mut();
            let Frr { conf, ospf, rib, .. } = &mut *f;
            let Some(o) = ospf.as_mut() else { return 0 };
            // Interfaces change only with the kernel's or our
            // configuration's news.
            if kernel_changed || reconfigured {
                ospf_interfaces(&p, o, conf, now);
            }
            // Looked at only when they changed: not a walk of the RIB
            // for every packet.
            let g = rib.changes();
            if g != o.statics_gen {
                o.statics_gen = g;
                let statics: Vec<(u32, u8)> = rib.selected(Proto::Static).map(|(prefix, _)| prefix).collect();
                if statics != o.statics {
                    o.statics = statics;
                    o.schedule_originate(now);
                }
            }
            ospf_timers(&p, o, now);
            if std::mem::take(&mut o.rib_stale) || kernel_changed {
                ospf_to_rib(o, rib, now);
                rib.sync(&p, &rs);
            }
            (kernel_changed, reconfigured) = (false, false);
        }
        let (out, next, ifs) = {
            let mut f = frr.borrow_mut();
            let Some(o) = f.ospf.as_mut() else { return 0 };
            ospf_flush(o);
            o.sent += o.out.len() as u64;
            let ifs: Vec<u32> = o.ifs.iter().filter(|i| !i.passive).map(|i| i.index).collect();
            (std::mem::take(&mut o.out), next_event(o), ifs)
        };
        for &i in ifs.iter().filter(|i| !joined.contains(i)) {
            for g in [ALL_SPF_ROUTERS, ALL_D_ROUTERS] {
                let _ = sock.set_membership(Ipv4Addr::from(g).into(), i, true);
            }
        }
        for &i in joined.iter().filter(|i| !ifs.contains(i)) {
            for g in [ALL_SPF_ROUTERS, ALL_D_ROUTERS] {
                let _ = sock.set_membership(Ipv4Addr::from(g).into(), i, false);
            }
        }
        joined = ifs;
        for (index, dst, b) in out {
            sock.set_multicast_if(index);
            let _ = sock.send_to(&b, (Ipv4Addr::from(dst), 0).into()).await;
        }
        let ev = daemon_wait(&p, &frr, seen, sock.recv_from_if(&mut buf), &rs, next).await;
        match ev {
            Wake::Packet((n, _, ifindex)) => {
                // All that waits, then the timers and the RIB once.
                let mut f = frr.borrow_mut();
                if let Some(o) = f.ospf.as_mut() {
                    ospf_input(o, &buf[..n], ifindex, p.now());
                    while let Some((n, _, ifindex)) = sock.try_recv_from_if(&mut buf) {
                        ospf_input(o, &buf[..n], ifindex, p.now());
                    }
                }
            }
            Wake::Intr => return 0,
            Wake::Route => kernel_changed = true,
            Wake::Conf | Wake::Rib | Wake::Timer => {}
        }
    }
}

/// A route SPF found: (cost, gateway or 0 if directly connected, ifindex).
type Route = (u32, u32, u32);

/// The earliest time something is due.
fn next_event(o: &Ospf) -> Time {
    let mut t = Time::MAX;
    for x in [o.spf_at, o.originate_at].into_iter().flatten() {
        t = t.min(x);
    }
    for i in &o.ifs {
        if !i.passive {
            t = t.min(i.hello_at);
        }
        if let Some(w) = i.wait_until {
            t = t.min(w);
        }
        for n in &i.nbrs {
            t = t.min(n.dead_at);
            if n.state >= NbrState::ExStart {
                t = t.min(n.rxmt_at);
            }
        }
    }
    // Our LSAs' refresh and everyone's MaxAge.
    t.min(o.lsdb_due)
}

/// Which interfaces OSPF runs on: those up whose address a `network`
/// covers or that name an area; their costs and timers from the
/// configuration. New ones wait (§9.3); those gone take their
/// neighbours.
fn ospf_interfaces(p: &Proc, o: &mut Ospf, conf: &FrrConf, now: Time) {
    let oc = o.conf.clone();
    let found: Vec<OspfIf> = p
        .vnet(|_, v| {
            let mut out = Vec::new();
            let Some(list) = v.get(IF) else { return out };
            for ifp in list.list.iter().filter(|i| i.is_up()) {
                let ic = conf
                    .interfaces
                    .get(&ifp.name)
                    .map(|c| c.ospf.clone())
                    .unwrap_or_default();
                for a in in_ifaddr_all(v)
                    .iter()
                    .filter(|a| a.index == ifp.index && a.addr >> 24 != 127)
                {
                    let area = ic.area.or_else(|| {
                        oc.networks
                            .iter()
                            .filter(|((n, l), _)| in_prefix(a.addr, *n, *l))
                            .max_by_key(|((_, l), _)| *l)
                            .map(|x| x.1)
                    });
                    let Some(area) = area else { continue };
                    let bw = if ifp.baudrate == 0 {
                        10_000_000_000
                    } else {
                        ifp.baudrate
                    };
                    let auto = (oc.ref_bandwidth * 1_000_000 / bw).clamp(1, 65535) as u16;
                    out.push(OspfIf {
                        index: ifp.index,
                        name: ifp.name.clone(),
                        addr: a.addr,
                        plen: a.plen,
                        area,
                        p2p: ic.p2p,
                        passive: ic.passive
                            || oc.passive_default != oc.passive.contains(&ifp.name)
                            || ifp.is_loopback(),
                        loopback: ifp.is_loopback(),
                        cost: ic.cost.unwrap_or(if ifp.is_loopback() { 0 } else { auto }),
                        hello: ic.hello.unwrap_or(10),
                        dead: ic.dead.unwrap_or(u32::from(ic.hello.unwrap_or(10)) * 4),
                        prio: ic.priority.unwrap_or(1),
                        rxmt: ic.retransmit.unwrap_or(5),
                        mtu: ifp.mtu.min(65535) as u16,
                        mtu_ignore: ic.mtu_ignore,
                        state: IfState::Waiting,
                        dr: 0,
                        bdr: 0,
                        nbrs: Vec::new(),
                        hello_at: now,
                        wait_until: None,
                    });
                    break;
                }
            }
            out
        })
        .unwrap_or_default();
    let same = |a: &OspfIf, b: &OspfIf| {
        (
            a.index, a.addr, a.plen, a.area, a.p2p, a.passive, a.cost, a.hello, a.dead, a.prio,
        ) == (
            b.index, b.addr, b.plen, b.area, b.p2p, b.passive, b.cost, b.hello, b.dead, b.prio,
        )
    };
    let mut changed = found.len() != o.ifs.len();
    let mut ifs = Vec::with_capacity(found.len());
    for mut i in found {
        if let Some(old) = o.ifs.iter().position(|x| same(x, &i)) {
            ifs.push(o.ifs.swap_remove(old));
            continue;
        }
        changed = true;
        i.state = if i.loopback {
            IfState::Loopback
        } else if i.p2p {
            IfState::PointToPoint
        } else if i.prio == 0 {
            IfState::DrOther
        } else {
            i.wait_until = Some(now + Duration::from_secs(u64::from(i.dead)));
            IfState::Waiting
        };
        ifs.push(i);
    }
    changed |= !o.ifs.is_empty();
    o.ifs = ifs;
    if o.rid == 0 || changed {
        let rid = oc.router_id.unwrap_or_else(|| router_id(p));
        if rid != o.rid && o.rid != 0 {
            // A new router ID starts the protocol over (FRR asks for a
            // restart; we do it).
            o.lsdb.clear();
            for i in &mut o.ifs {
                i.nbrs.clear();
            }
        }
        o.rid = rid;
    }
    if changed {
        o.schedule_originate(now);
    }
}

/// zebra's router ID: the highest loopback address, else the highest.
fn router_id(p: &Proc) -> u32 {
    p.vnet(|_, v| {
        let lo = |i: u32| v.get(IF).and_then(|l| l.get(i)).is_some_and(|f| f.is_loopback());
        let all = in_ifaddr_all(v);
        let pick = |want_lo: bool| {
            all.iter()
                .filter(|a| a.addr >> 24 != 127 && lo(a.index) == want_lo)
                .map(|a| a.addr)
                .max()
        };
        pick(true).or_else(|| pick(false)).unwrap_or(0)
    })
    .unwrap_or(0)
}

impl Ospf {
    fn schedule_originate(&mut self, now: Time) {
        self.originate_at = Some(self.originate_at.map_or(now, |t| t.min(now)));
    }

    fn schedule_spf(&mut self, now: Time) {
        self.spf_at.get_or_insert(now + SPF_DELAY);
    }

    fn send(&mut self, index: u32, dst: u32, area: u32, body: OspfBody) {
        let b = OspfRepr {
            router_id: self.rid,
            area,
            body,
        }
        .emit();
        self.out.push((index, dst, b));
    }

    /// Where an interface floods and acknowledges: to all routers if it
    /// is DR or BDR or point-to-point, else to the DR and BDR (§13.3).
    fn flood_dst(i: &OspfIf) -> u32 {
        match i.state {
            IfState::Dr | IfState::Backup | IfState::PointToPoint => ALL_SPF_ROUTERS,
            _ => ALL_D_ROUTERS,
        }
    }

    /// The areas of our interfaces.
    fn areas(&self) -> Vec<u32> {
        let mut areas: Vec<u32> = self.ifs.iter().map(|i| i.area).collect();
        areas.sort();
        areas.dedup();
        areas
    }

    /// An area border router: in the backbone and another area (§3.3).
    fn is_abr(&self) -> bool {
        let a = self.areas();
        a.len() > 1 && a.contains(&0)
    }

    fn scope(&self, ls_type: u8, area: u32) -> u32 {
        if ls_type == LSA_EXTERNAL { AS_SCOPE } else { area }
    }
}

/// Hellos, dead neighbours, the wait timer, retransmissions, our LSAs and
/// SPF, as they fall due.
fn ospf_timers(p: &Proc, o: &mut Ospf, now: Time) {
    let mut elect = Vec::new();
    let mut reoriginate = false;
    for n in 0..o.ifs.len() {
        let i = &mut o.ifs[n];
        if i.wait_until.is_some_and(|w| w <= now) {
            i.wait_until = None;
            elect.push(n);
        }
        let before = i.nbrs.len();
        i.nbrs.retain(|x| x.dead_at > now);
        if i.nbrs.len() != before {
            elect.push(n);
            reoriginate = true;
        }
    }
    for n in elect {
        dr_election(o, n, now);
        reoriginate = true;
    }
    if reoriginate {
        o.schedule_originate(now);
    }
    // Our LSAs: when due, and every LSRefreshTime; before the
    // retransmissions, so that these carry the newest.
    let lsdb_due = o.lsdb_due <= now;
    if lsdb_due
        && o.lsdb
            .iter()
            .any(|((_, k), e)| k.2 == o.rid && e.age(now) >= LS_REFRESH as u16 && e.age(now) < MAX_AGE)
    {
        o.schedule_originate(now);
    }
    if o.originate_at.is_some_and(|t| t <= now) {
        o.originate_at = None;
        ospf_originate(p, o, now);
    }
    for n in 0..o.ifs.len() {
        if !o.ifs[n].passive && o.ifs[n].hello_at <= now {
            let i = &mut o.ifs[n];
            i.hello_at = now + Duration::from_secs(u64::from(i.hello));
            let h = Hello {
                mask: mask(i.plen),
                hello_interval: i.hello,
                options: OPT_E,
                priority: i.prio,
                dead_interval: i.dead,
                dr: i.dr,
                bdr: i.bdr,
                neighbors: i
                    .nbrs
                    .iter()
                    .filter(|x| x.state >= NbrState::Init)
                    .map(|x| x.rid)
                    .collect(),
            };
            let (index, area) = (i.index, i.area);
            o.send(index, ALL_SPF_ROUTERS, area, OspfBody::Hello(h));
        }
        retransmit(o, n, now);
    }
    // MaxAge LSAs leave once no one is to be told of them (§14).
    let busy = exchanging(o);
    if lsdb_due {
        let gone: Vec<_> = o
            .lsdb
            .iter()
            .filter(|(k, e)| {
                e.age(now) >= MAX_AGE && !busy && !o.ifs.iter().flat_map(|i| &i.nbrs).any(|n| n.rxmt.contains(k))
            })
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            o.lsdb.remove(&k);
            o.schedule_spf(now);
        }
        let rid = o.rid;
        o.lsdb_due = o
            .lsdb
            .iter()
            .map(|((_, k), e)| e.due(k.2 == rid, now))
            .min()
            .unwrap_or(Time::MAX);
    }
    if o.spf_at.is_some_and(|t| t <= now) {
        o.spf_at = None;
        ospf_spf(o, now);
    }
}

/// What is due again to neighbours of interface `n`: the DD or request in
/// flight, and unacknowledged LSAs (§10.8, §13.6).
fn retransmit(o: &mut Ospf, n: usize, now: Time) {
    let (index, area, rxmt) = (o.ifs[n].index, o.ifs[n].area, o.ifs[n].rxmt);
    let mut out = Vec::new();
    for nb in o.ifs[n].nbrs.iter_mut() {
        if nb.state < NbrState::ExStart || nb.rxmt_at > now {
            continue;
        }
        nb.rxmt_at = now + Duration::from_secs(u64::from(rxmt));
        if nb.master
            && matches!(nb.state, NbrState::ExStart | NbrState::Exchange)
            && let Some(b) = &nb.last_dd
        {
            out.push((nb.addr, b.clone()));
        }
        if nb.state == NbrState::Loading && !nb.requests.is_empty() {
            let keys = nb.requests.iter().take(DD_CHUNK).map(LsaHdr::key).collect();
            out.push((nb.addr, emit(o.rid, area, OspfBody::Lsr(keys))));
        }
        if !nb.rxmt.is_empty() {
            let lsas: Vec<Lsa> = nb
                .rxmt
                .iter()
                .filter_map(|k| o.lsdb.get(k).map(|e| e.to_send(now)))
                .take(DD_CHUNK)
                .collect();
            out.push((nb.addr, emit(o.rid, area, OspfBody::Lsu(lsas))));
        }
    }
    for (dst, b) in out {
        o.out.push((index, dst, b));
    }
}

fn emit(rid: u32, area: u32, body: OspfBody) -> Vec<u8> {
    OspfRepr {
        router_id: rid,
        area,
        body,
    }
    .emit()
}

/// A packet that came in by `ifindex` (its IP header first).
fn ospf_input(o: &mut Ospf, d: &[u8], ifindex: u32, now: Time) {
    o.received += 1;
    let Some(ihl) = d.first().map(|b| usize::from(b & 0xf) * 4) else {
        return;
    };
    if d.len() < 20 || ihl < 20 || d.len() < ihl {
        o.bad_packets += 1;
        return;
    }
    let src = u32::from_be_bytes([d[12], d[13], d[14], d[15]]);
    let dst = u32::from_be_bytes([d[16], d[17], d[18], d[19]]);
    let r = match OspfRepr::parse(&d[ihl..]) {
        Ok(r) => r,
        Err(_) => {
            o.bad_packets += 1;
            return;
        }
    };
    let Some(n) = o.ifs.iter().position(|i| i.index == ifindex && !i.passive) else {
        return;
    };
    let i = &o.ifs[n];
    // §8.2: our area, from our network (unless point-to-point), to us or
    // the groups we are in, not from ourselves.
    if r.area != i.area
        || r.router_id == o.rid
        || (!i.p2p && !in_prefix(src, i.addr & mask(i.plen), i.plen))
        || (dst == ALL_D_ROUTERS && !matches!(i.state, IfState::Dr | IfState::Backup))
    {
        o.bad_packets += 1;
        return;
    }
    match r.body {
        OspfBody::Hello(h) => hello_input(o, n, r.router_id, src, &h, now),
        body => {
            let Some(k) = o.ifs[n].nbrs.iter().position(|x| {
                if o.ifs[n].p2p {
                    x.rid == r.router_id
                } else {
                    x.addr == src
                }
            }) else {
                return;
            };
            match body {
                OspfBody::Dd(dd) => dd_input(o, n, k, &dd, now),
                OspfBody::Lsr(keys) => lsr_input(o, n, k, &keys, now),
                OspfBody::Lsu(lsas) => lsu_input(o, n, k, lsas, now),
                OspfBody::Ack(hs) => ack_input(o, n, k, &hs, now),
                OspfBody::Hello(_) => {}
            }
        }
    }
}

/// A Hello (§10.5).
fn hello_input(o: &mut Ospf, n: usize, rid: u32, src: u32, h: &Hello, now: Time) {
    let me = o.rid;
    let i = &mut o.ifs[n];
    if (!i.p2p && h.mask != mask(i.plen))
        || h.hello_interval != i.hello
        || h.dead_interval != i.dead
        || h.options & OPT_E != OPT_E
    {
        o.bad_packets += 1;
        return;
    }
    let p2p = i.p2p;
    let k = match i
        .nbrs
        .iter()
        .position(|x| if p2p { x.rid == rid } else { x.addr == src })
    {
        Some(k) => k,
        None => {
            i.nbrs.push(Nbr {
                rid,
                addr: src,
                prio: h.priority,
                state: NbrState::Init,
                dr: h.dr,
                bdr: h.bdr,
                dead_at: now,
                up: now,
                seq: 0,
                master: false,
                last_dd: None,
                last_rcvd: None,
                summary: Vec::new(),
                requests: Vec::new(),
                rxmt: Default::default(),
                rxmt_at: now,
            });
            i.nbrs.len() - 1
        }
    };
    let nb = &mut i.nbrs[k];
    nb.dead_at = now + Duration::from_secs(u64::from(i.dead));
    nb.rid = rid;
    nb.addr = src;
    let declared = |x: u32, d: u32, b: u32| (d == x, b == x);
    let was = (nb.prio, declared(nb.addr, nb.dr, nb.bdr));
    let (prio_changed, roles_changed) = (was.0 != h.priority, was.1 != declared(src, h.dr, h.bdr));
    nb.prio = h.priority;
    nb.dr = h.dr;
    nb.bdr = h.bdr;
    let mut elect = prio_changed || roles_changed;
    let mut adjacency = false;
    if h.neighbors.contains(&me) {
        if nb.state == NbrState::Init {
            nb.state = NbrState::TwoWay;
            elect = true;
            adjacency = true;
        }
    } else if nb.state >= NbrState::TwoWay {
        reset_nbr(nb, NbrState::Init);
        elect = true;
        o.schedule_originate(now);
    }
    let i = &mut o.ifs[n];
    // BackupSeen ends the wait (§9.3).
    let backup_seen = i.state == IfState::Waiting && (h.bdr == src || (h.dr == src && h.bdr == 0));
    if backup_seen {
        i.wait_until = None;
    }
    if backup_seen || elect && !i.p2p && i.state != IfState::Waiting {
        dr_election(o, n, now);
    } else if adjacency {
        adj_ok(o, n, now);
    }
}

/// Back to `state`, the exchange forgotten.
fn reset_nbr(nb: &mut Nbr, state: NbrState) {
    nb.state = state;
    nb.summary.clear();
    nb.requests.clear();
    nb.rxmt.clear();
    nb.last_dd = None;
    nb.last_rcvd = None;
}

/// DR and BDR election (§9.4), then adjacencies as the result says.
fn dr_election(o: &mut Ospf, n: usize, now: Time) {
    let rid = o.rid;
    let i = &mut o.ifs[n];
    if i.p2p || i.loopback {
        adj_ok(o, n, now);
        return;
    }
    // Candidates: (priority, router ID, address, declared DR, declared BDR).
    let mut me = (i.prio, rid, i.addr, i.dr == i.addr, i.bdr == i.addr);
    let others: Vec<_> = i
        .nbrs
        .iter()
        .filter(|x| x.state >= NbrState::TwoWay && x.prio > 0)
        .map(|x| (x.prio, x.rid, x.addr, x.dr == x.addr, x.bdr == x.addr))
        .collect();
    let pick = |me: &(u8, u32, u32, bool, bool)| {
        let all: Vec<_> = others.iter().copied().chain((me.0 > 0).then_some(*me)).collect();
        let best = |v: Vec<(u8, u32, u32, bool, bool)>| v.into_iter().max_by_key(|c| (c.0, c.1)).map(|c| c.2);
        let not_dr: Vec<_> = all.iter().copied().filter(|c| !c.3).collect();
        let bdr = best(not_dr.iter().copied().filter(|c| c.4).collect()).or_else(|| best(not_dr));
        let dr = best(all.iter().copied().filter(|c| c.3).collect()).or(bdr);
        let bdr = if dr == bdr {
            best(
                all.iter()
                    .copied()
                    .filter(|c| Some(c.2) != dr)
                    .filter(|c| !c.3)
                    .collect(),
            )
        } else {
            bdr
        };
        (dr.unwrap_or(0), bdr.unwrap_or(0))
    };
    let (mut dr, mut bdr) = pick(&me);
    // §9.4 step 4: if we became or stopped being DR or BDR, again.
    if (dr == i.addr) != me.3 || (bdr == i.addr) != me.4 {
        me.3 = dr == i.addr;
        me.4 = bdr == i.addr;
        (dr, bdr) = pick(&me);
    }
    let changed = (dr, bdr) != (i.dr, i.bdr);
    i.dr = dr;
    i.bdr = bdr;
    i.state = if dr == i.addr {
        IfState::Dr
    } else if bdr == i.addr {
        IfState::Backup
    } else {
        IfState::DrOther
    };
    if changed {
        o.schedule_originate(now);
    }
    adj_ok(o, n, now);
}

/// Should we be adjacent to each neighbour in 2-Way or above (§10.4)?
/// Start the exchange with those we should, leave those we should not.
fn adj_ok(o: &mut Ospf, n: usize, now: Time) {
    let rid = o.rid;
    let lsdb_len = o.lsdb.len() as u32;
    let i = &mut o.ifs[n];
    let area = i.area;
    let mut left = false;
    for nb in i.nbrs.iter_mut().filter(|x| x.state >= NbrState::TwoWay) {
        let want = i.p2p || matches!(i.state, IfState::Dr | IfState::Backup) || nb.addr == i.dr || nb.addr == i.bdr;
        if want && nb.state == NbrState::TwoWay {
            nb.state = NbrState::ExStart;
            nb.seq = (now.0 as u32) ^ rid ^ lsdb_len;
            nb.master = true;
            let dd = Dd {
                mtu: i.mtu,
                options: OPT_E,
                flags: DD_I | DD_M | DD_MS,
                seq: nb.seq,
                headers: Vec::new(),
            };
            let b = emit(rid, area, OspfBody::Dd(dd));
            nb.last_dd = Some(b.clone());
            nb.rxmt_at = now + Duration::from_secs(u64::from(i.rxmt));
            o.out.push((i.index, nb.addr, b));
        } else if !want && nb.state > NbrState::TwoWay {
            reset_nbr(nb, NbrState::TwoWay);
            left = true;
        }
    }
    if left {
        o.schedule_originate(now);
    }
}

/// A Database Description (§10.6).
fn dd_input(o: &mut Ospf, n: usize, k: usize, dd: &Dd, now: Time) {
    let rid = o.rid;
    let (area, index, mtu, mtu_ignore) = (o.ifs[n].area, o.ifs[n].index, o.ifs[n].mtu, o.ifs[n].mtu_ignore);
    let rxmt = Duration::from_secs(u64::from(o.ifs[n].rxmt));
    if !mtu_ignore && dd.mtu > mtu {
        o.bad_packets += 1;
        return;
    }
    let state = o.ifs[n].nbrs[k].state;
    let nrid = o.ifs[n].nbrs[k].rid;
    let max_lsa = o.conf.max_lsa;
    match state {
        NbrState::Down | NbrState::Init | NbrState::TwoWay => return,
        NbrState::ExStart => {
            let nb = &mut o.ifs[n].nbrs[k];
            if dd.flags & (DD_I | DD_M | DD_MS) == DD_I | DD_M | DD_MS && dd.headers.is_empty() && nrid > rid {
                nb.master = false;
                nb.seq = dd.seq;
            } else if dd.flags & (DD_I | DD_MS) == 0 && dd.seq == nb.seq && nrid < rid {
                nb.master = true;
            } else {
                return;
            }
            nb.state = NbrState::Exchange;
            let summary = o
                .lsdb
                .iter()
                .filter(|((a, _), _)| *a == area || *a == AS_SCOPE)
                .map(|(_, e)| e.hdr(now))
                .collect();
            o.ifs[n].nbrs[k].summary = summary;
        }
        _ => {}
    }
    let nb = &mut o.ifs[n].nbrs[k];
    let dup = nb.last_rcvd == Some((dd.seq, dd.flags));
    if dup {
        if !nb.master
            && let Some(b) = nb.last_dd.clone()
        {
            o.out.push((index, nb.addr, b));
        }
        return;
    }
    let in_order = if nb.master {
        dd.seq == nb.seq
    } else {
        dd.seq == nb.seq.wrapping_add(1) || state == NbrState::ExStart
    };
    if nb.state != NbrState::Exchange
        || dd.flags & DD_I != 0 && state != NbrState::ExStart
        || (dd.flags & DD_MS != 0) == nb.master && state != NbrState::ExStart
        || !in_order
    {
        // SeqNumberMismatch: start over (§10.3).
        reset_nbr(nb, NbrState::TwoWay);
        adj_ok(o, n, now);
        return;
    }
    nb.last_rcvd = Some((dd.seq, dd.flags));
    for h in &dd.headers {
        let key = (if h.ls_type == LSA_EXTERNAL { AS_SCOPE } else { area }, h.key());
        let ours = o.lsdb.get(&key).map(|e| e.hdr(now));
        if ours.is_none_or(|x| lsa_newer(h, &x) == Ordering::Greater)
            && nb.requests.len() < max_lsa
            && !nb.requests.iter().any(|r| r.key() == h.key())
        {
            nb.requests.push(*h);
        }
    }
    let take = nb.summary.len().min(DD_CHUNK);
    let chunk: Vec<LsaHdr> = nb.summary.drain(..take).collect();
    let more = !nb.summary.is_empty();
    if nb.master {
        nb.seq = nb.seq.wrapping_add(1);
        if chunk.is_empty() && dd.flags & DD_M == 0 {
            exchange_done(o, n, k, now);
            return;
        }
    } else {
        nb.seq = dd.seq;
    }
    let flags = if more { DD_M } else { 0 } | if nb.master { DD_MS } else { 0 };
    let b = emit(
        rid,
        area,
        OspfBody::Dd(Dd {
            mtu,
            options: OPT_E,
            flags,
            seq: nb.seq,
            headers: chunk,
        }),
    );
    nb.last_dd = Some(b.clone());
    nb.rxmt_at = now + rxmt;
    let addr = nb.addr;
    o.out.push((index, addr, b));
    if !o.ifs[n].nbrs[k].master && !more && dd.flags & DD_M == 0 {
        exchange_done(o, n, k, now);
    }
}

/// ExchangeDone: ask for what we lack, or be Full (§10.3).
fn exchange_done(o: &mut Ospf, n: usize, k: usize, now: Time) {
    let (rid, area, index) = (o.rid, o.ifs[n].area, o.ifs[n].index);
    let rxmt = Duration::from_secs(u64::from(o.ifs[n].rxmt));
    let nb = &mut o.ifs[n].nbrs[k];
    if nb.requests.is_empty() {
        full(o, n, k, now);
        return;
    }
    nb.state = NbrState::Loading;
    let keys = nb.requests.iter().take(DD_CHUNK).map(LsaHdr::key).collect();
    nb.rxmt_at = now + rxmt;
    let addr = nb.addr;
    o.out.push((index, addr, emit(rid, area, OspfBody::Lsr(keys))));
}

fn full(o: &mut Ospf, n: usize, k: usize, now: Time) {
    let nb = &mut o.ifs[n].nbrs[k];
    nb.state = NbrState::Full;
    nb.up = now;
    o.schedule_originate(now);
    o.schedule_spf(now);
}

/// A Link State Request (§10.7).
fn lsr_input(o: &mut Ospf, n: usize, k: usize, keys: &[LsaKey], now: Time) {
    let area = o.ifs[n].area;
    if o.ifs[n].nbrs[k].state < NbrState::Exchange {
        return;
    }
    let mut lsas = Vec::new();
    for key in keys {
        match o.lsdb.get(&(o.scope(key.0, area), *key)) {
            Some(e) => lsas.push(e.to_send(now)),
            None => {
                // BadLSReq.
                reset_nbr(&mut o.ifs[n].nbrs[k], NbrState::TwoWay);
                adj_ok(o, n, now);
                return;
            }
        }
    }
    let (index, addr) = (o.ifs[n].index, o.ifs[n].nbrs[k].addr);
    for c in lsas.chunks(DD_CHUNK) {
        o.send(index, addr, area, OspfBody::Lsu(c.to_vec()));
    }
}

/// Is this LSA ours: by us, or a network LSA for one of our addresses?
fn self_originated(o: &Ospf, h: &LsaHdr) -> bool {
    h.adv == o.rid || (h.ls_type == LSA_NETWORK && o.ifs.iter().any(|i| i.addr == h.id))
}

/// A Link State Update (§13).
fn lsu_input(o: &mut Ospf, n: usize, k: usize, lsas: Vec<Lsa>, now: Time) {
    let area = o.ifs[n].area;
    if o.ifs[n].nbrs[k].state < NbrState::Exchange {
        return;
    }
    let from = (o.ifs[n].index, o.ifs[n].nbrs[k].rid);
    let mut acks = Vec::new();
    for lsa in lsas {
        let h = lsa.hdr();
        if !(LSA_ROUTER..=LSA_EXTERNAL).contains(&h.ls_type) {
            continue;
        }
        let key = (o.scope(h.ls_type, area), h.key());
        let cur = o.lsdb.get(&key).map(|e| (e.hdr(now), e.at));
        if h.age >= MAX_AGE && cur.is_none() && !exchanging(o) {
            acks.push(h);
            continue;
        }
        if cur.is_none() && o.lsdb.len() >= o.conf.max_lsa {
            o.lsa_refused += 1;
            continue;
        }
        let order = cur.as_ref().map_or(Ordering::Greater, |c| lsa_newer(&h, &c.0));
        let nb = &mut o.ifs[n].nbrs[k];
        let requested = nb.requests.iter().position(|r| r.key() == h.key());
        match order {
            Ordering::Greater => {
                if cur.as_ref().is_some_and(|c| c.1 + MIN_LS_ARRIVAL > now) && h.adv != o.rid {
                    continue;
                }
                if let Some(r) = requested {
                    nb.requests.remove(r);
                }
                if self_originated(o, &h) {
                    // Ours, from before: a newer one of our own (§13.4).
                    o.seq_floor.insert(key, h.seq.wrapping_add(1));
                    o.made.remove(&key);
                    install(o, key, lsa.clone(), now);
                    o.schedule_originate(now);
                    acks.push(h);
                    continue;
                }
                for x in o.ifs.iter_mut().flat_map(|i| i.nbrs.iter_mut()) {
                    x.rxmt.remove(&key);
                }
                let back = flood(o, key, &lsa, Some(from), now);
                install(o, key, lsa, now);
                if !back {
                    acks.push(h);
                }
            }
            _ if requested.is_some() => {
                // BadLSReq.
                reset_nbr(nb, NbrState::TwoWay);
                adj_ok(o, n, now);
                return;
            }
            Ordering::Equal => {
                // An implied acknowledgement, or a duplicate to ack.
                if !nb.rxmt.remove(&key) {
                    acks.push(h);
                }
            }
            Ordering::Less => {
                let (index, addr) = (from.0, nb.addr);
                if let Some(c) = o.lsdb.get(&key).map(|e| e.to_send(now)) {
                    o.send(index, addr, area, OspfBody::Lsu(vec![c]));
                }
            }
        }
    }
    let i = &o.ifs[n];
    let (index, dst) = (i.index, Ospf::flood_dst(i));
    o.ack_q.extend(acks.into_iter().map(|h| (index, dst, area, h)));
    let nb = &o.ifs[n].nbrs[k];
    if nb.state == NbrState::Loading && nb.requests.is_empty() {
        full(o, n, k, now);
    } else if nb.state == NbrState::Loading {
        // Ask for the rest.
        let keys = nb.requests.iter().take(DD_CHUNK).map(LsaHdr::key).collect();
        let (index, addr) = (o.ifs[n].index, nb.addr);
        o.send(index, addr, area, OspfBody::Lsr(keys));
    }
}

/// An acknowledgment (§13.7).
fn ack_input(o: &mut Ospf, n: usize, k: usize, hs: &[LsaHdr], now: Time) {
    let area = o.ifs[n].area;
    for h in hs {
        let key = (o.scope(h.ls_type, area), h.key());
        let same = o
            .lsdb
            .get(&key)
            .is_some_and(|e| lsa_newer(h, &e.hdr(now)) == Ordering::Equal);
        if same {
            o.ifs[n].nbrs[k].rxmt.remove(&key);
        }
    }
}

/// Is a database exchange under way with any neighbour (then MaxAge
/// LSAs stay, §13 step 4, §14)?
fn exchanging(o: &Ospf) -> bool {
    o.ifs
        .iter()
        .flat_map(|i| &i.nbrs)
        .any(|x| matches!(x.state, NbrState::Exchange | NbrState::Loading))
}

/// Put an LSA in the database; SPF if what it says changed.
fn install(o: &mut Ospf, key: (u32, LsaKey), lsa: Lsa, now: Time) {
    let changed = o
        .lsdb
        .get(&key)
        .is_none_or(|e| e.lsa.body() != lsa.body() || (e.age(now) >= MAX_AGE) != (lsa.hdr().age >= MAX_AGE));
    let e = Entry { lsa, at: now };
    o.lsdb_due = o.lsdb_due.min(e.due(key.1.2 == o.rid, now));
    o.lsdb.insert(key, e);
    if changed {
        o.schedule_spf(now);
    }
}

/// Flood an LSA out the interfaces of its scope (§13.3), but not back to
/// `from` (interface, router ID); whether it went back out the
/// interface it came in by.
fn flood(o: &mut Ospf, key: (u32, LsaKey), lsa: &Lsa, from: Option<(u32, u32)>, now: Time) -> bool {
    let h = lsa.hdr();
    let mut back = false;
    let mut out = Vec::new();
    for i in o
        .ifs
        .iter_mut()
        .filter(|i| !i.passive && (key.0 == AS_SCOPE || i.area == key.0))
    {
        let mut added = false;
        for nb in i.nbrs.iter_mut().filter(|x| x.state >= NbrState::Exchange) {
            if nb.state < NbrState::Full
                && let Some(r) = nb.requests.iter().position(|r| r.key() == h.key())
            {
                match lsa_newer(&h, &nb.requests[r]) {
                    Ordering::Less => continue,
                    Ordering::Equal => {
                        nb.requests.remove(r);
                        continue;
                    }
                    Ordering::Greater => {
                        nb.requests.remove(r);
                    }
                }
            }
            if from == Some((i.index, nb.rid)) {
                continue;
            }
            nb.rxmt.insert(key);
            nb.rxmt_at = nb.rxmt_at.max(now + Duration::from_secs(u64::from(i.rxmt)));
            added = true;
        }
        if !added {
            continue;
        }
        if let Some((index, rid)) = from
            && index == i.index
        {
            let sender_is_dr = i
                .nbrs
                .iter()
                .any(|x| x.rid == rid && (x.addr == i.dr || x.addr == i.bdr));
            if sender_is_dr || i.state == IfState::Backup {
                continue;
            }
            back = true;
        }
        let mut l = lsa.clone();
        l.set_age(h.age.saturating_add(1));
        out.push((
            i.index,
            Ospf::flood_dst(i),
            if key.0 == AS_SCOPE { i.area } else { key.0 },
            l,
        ));
    }
    o.flood_q.extend(out);
    back
}

/// The LSAs flooded and acknowledged since the last flush, as few
/// packets as fit: one update per interface and destination carries
/// many LSAs, one acknowledgement many headers (§13.5's delayed acks).
fn ospf_flush(o: &mut Ospf) {
    const ROOM: usize = 1400;
    let mut lsus: BTreeMap<(u32, u32, u32), Vec<Lsa>> = BTreeMap::new();
    for (index, dst, area, l) in std::mem::take(&mut o.flood_q) {
        lsus.entry((index, dst, area)).or_default().push(l);
    }
    for ((index, dst, area), lsas) in lsus {
        let mut pkt: Vec<Lsa> = Vec::new();
        let mut size = 0;
        for l in lsas {
            if !pkt.is_empty() && size + l.bytes.len() > ROOM {
                o.send(index, dst, area, OspfBody::Lsu(std::mem::take(&mut pkt)));
                size = 0;
            }
            size += l.bytes.len();
            pkt.push(l);
        }
        if !pkt.is_empty() {
            o.send(index, dst, area, OspfBody::Lsu(pkt));
        }
    }
    let mut acks: BTreeMap<(u32, u32, u32), Vec<LsaHdr>> = BTreeMap::new();
    for (index, dst, area, h) in std::mem::take(&mut o.ack_q) {
        acks.entry((index, dst, area)).or_default().push(h);
    }
    for ((index, dst, area), hs) in acks {
        for c in hs.chunks(ROOM / crate::wire::ospf::LSA_HDR_LEN) {
            o.send(index, dst, area, OspfBody::Ack(c.to_vec()));
        }
    }
}

/// Make our LSAs what the interfaces and neighbours say (§12.4): a router
/// LSA per area, a network LSA where we are DR with a neighbour Full,
/// AS-external LSAs for what we redistribute; flush those we no longer
/// have. None more often than MinLSInterval.
fn ospf_originate(p: &Proc, o: &mut Ospf, now: Time) {
    let rid = o.rid;
    if rid == 0 {
        return;
    }
    let externals = redistributed(p, o);
    let mut want: BTreeMap<(u32, LsaKey), Vec<u8>> = BTreeMap::new();
    let areas = o.areas();
    let abr = o.is_abr();
    for &area in &areas {
        let mut links = Vec::new();
        for i in o.ifs.iter().filter(|i| i.area == area) {
            let net = i.addr & mask(i.plen);
            let full_dr = i.nbrs.iter().any(|x| x.state == NbrState::Full && x.addr == i.dr);
            let dr_with_full = i.state == IfState::Dr && i.nbrs.iter().any(|x| x.state == NbrState::Full);
            if i.loopback {
                links.push(RouterLink {
                    id: i.addr,
                    data: u32::MAX,
                    kind: LINK_STUB,
                    metric: 0,
                });
            } else if i.p2p {
                for x in i.nbrs.iter().filter(|x| x.state == NbrState::Full) {
                    links.push(RouterLink {
                        id: x.rid,
                        data: i.addr,
                        kind: LINK_P2P,
                        metric: i.cost,
                    });
                }
                links.push(RouterLink {
                    id: net,
                    data: mask(i.plen),
                    kind: LINK_STUB,
                    metric: i.cost,
                });
            } else if !i.passive && i.state != IfState::Waiting && (full_dr || dr_with_full) {
                links.push(RouterLink {
                    id: i.dr,
                    data: i.addr,
                    kind: LINK_TRANSIT,
                    metric: i.cost,
                });
            } else {
                links.push(RouterLink {
                    id: net,
                    data: mask(i.plen),
                    kind: LINK_STUB,
                    metric: i.cost,
                });
            }
            if dr_with_full {
                let mut routers = vec![rid];
                routers.extend(i.nbrs.iter().filter(|x| x.state == NbrState::Full).map(|x| x.rid));
                let body = NetworkLsa {
                    mask: mask(i.plen),
                    routers,
                }
                .emit();
                want.insert((area, (LSA_NETWORK, i.addr, rid)), body);
            }
        }
        let flags = if externals.is_empty() { 0 } else { ROUTER_E } | if abr { ROUTER_B } else { 0 };
        want.insert((area, (LSA_ROUTER, rid, rid)), RouterLsa { flags, links }.emit());
    }
    for &(area, (addr, plen), cost) in &o.summaries {
        let body = PrefixLsa {
            mask: mask(plen),
            metric: cost,
            e2: false,
            forward: 0,
            tag: 0,
        };
        want.insert((area, (LSA_SUMMARY, addr, rid)), body.emit(LSA_SUMMARY));
    }
    for ((addr, plen), lsa) in externals {
        let _ = plen;
        want.insert((AS_SCOPE, (LSA_EXTERNAL, addr, rid)), lsa.emit(LSA_EXTERNAL));
    }
    let mut later: Option<Time> = None;
    for (key, body) in &want {
        let cur = o.lsdb.get(key);
        if let Some(e) = cur
            && e.lsa.body() == &body[..]
            && e.age(now) < LS_REFRESH as u16
        {
            continue;
        }
        if let Some(&t) = o.made.get(key)
            && t + MIN_LS_INTERVAL > now
        {
            later = Some(later.map_or(t + MIN_LS_INTERVAL, |l: Time| l.min(t + MIN_LS_INTERVAL)));
            continue;
        }
        let seq = cur
            .map(|e| e.lsa.hdr().seq.wrapping_add(1))
            .unwrap_or(INITIAL_SEQ)
            .max(o.seq_floor.get(key).copied().unwrap_or(INITIAL_SEQ));
        let h = LsaHdr {
            age: 0,
            options: OPT_E,
            ls_type: key.1.0,
            id: key.1.1,
            adv: rid,
            seq,
            checksum: 0,
            length: 0,
        };
        let lsa = Lsa::build(h, body);
        o.made.insert(*key, now);
        flood(o, *key, &lsa, None, now);
        install(o, *key, lsa, now);
    }
    // Ours no longer wanted: flushed at MaxAge (§14.1).
    let stale: Vec<_> = o
        .lsdb
        .iter()
        .filter(|(k, e)| self_originated(o, &e.lsa.hdr()) && e.age(now) < MAX_AGE && !want.contains_key(k))
        .map(|(k, e)| (*k, e.lsa.clone()))
        .collect();
    for (key, mut lsa) in stale {
        lsa.set_age(MAX_AGE);
        flood(o, key, &lsa, None, now);
        install(o, key, lsa, now);
    }
    o.originate_at = later;
}

/// The AS-external LSAs `redistribute` asks for: connected networks OSPF
/// does not run on, and kernel and static routes (metric 20, type 2 unless
/// told, as FRR).
fn redistributed(p: &Proc, o: &Ospf) -> Vec<((u32, u8), PrefixLsa)> {
    if o.conf.redistribute.is_empty() {
        return Vec::new();
    }
    let ours: Vec<(u32, u8)> = o.ifs.iter().map(|i| (i.addr & mask(i.plen), i.plen)).collect();
    kernel_routes(p)
        .into_iter()
        .chain(o.statics.iter().map(|&prefix| (prefix, Proto::Static)))
        .filter_map(|(prefix, proto)| {
            let what = match proto {
                Proto::Connected => Redist::Connected,
                Proto::Kernel => Redist::Kernel,
                Proto::Static => Redist::Static,
                _ => return None,
            };
            let &(metric, e1) = o.conf.redistribute.get(&what).or_else(|| {
                // The kernel's gateway routes are static ones to FRR users.
                (what == Redist::Kernel)
                    .then(|| o.conf.redistribute.get(&Redist::Static))
                    .flatten()
            })?;
            if ours.contains(&prefix) {
                return None;
            }
            Some((
                prefix,
                PrefixLsa {
                    mask: mask(prefix.1),
                    metric: metric.unwrap_or(20),
                    e2: !e1,
                    forward: 0,
                    tag: 0,
                },
            ))
        })
        .collect()
}

/// A vertex of the SPF tree: a router (by ID) or a transit network (by
/// its DR's address).
type Vertex = (u8, u32);

/// The shortest-path tree of each area (§16.1), then the AS-external
/// routes (§16.4).
fn ospf_spf(o: &mut Ospf, now: Time) {
    o.spf_runs += 1;
    let rid = o.rid;
    let mut routes: BTreeMap<(u32, u8), Route> = BTreeMap::new();
    let mut asbrs: HashMap<u32, (u32, (u32, u32))> = HashMap::new();
    // Area border routers each area's tree reaches: (area, ID) to the
    // distance and next hop.
    let mut abrs: HashMap<(u32, u32), (u32, (u32, u32))> = HashMap::new();
    // The intra-area routes, by area: what an ABR summarises (§12.4.3).
    let mut intra: BTreeMap<(u32, u8), (u32, u32)> = BTreeMap::new();
    let areas = o.areas();
    let live = |e: &Entry| e.age(now) < MAX_AGE;
    for &area in &areas {
        let routers: HashMap<u32, RouterLsa> = o
            .lsdb
            .range((area, (LSA_ROUTER, 0, 0))..=(area, (LSA_ROUTER, u32::MAX, u32::MAX)))
            .filter(|(k, e)| live(e) && k.1.1 == k.1.2)
            .filter_map(|(k, e)| RouterLsa::parse(e.lsa.body()).ok().map(|r| (k.1.2, r)))
            .collect();
        let nets: HashMap<u32, NetworkLsa> = o
            .lsdb
            .range((area, (LSA_NETWORK, 0, 0))..=(area, (LSA_NETWORK, u32::MAX, u32::MAX)))
            .filter(|(_, e)| live(e))
            .filter_map(|(k, e)| NetworkLsa::parse(e.lsa.body()).ok().map(|r| (k.1.1, r)))
            .collect();
        // Does W link back to V (§16.1 (2)(b))?
        let back = |w: Vertex, v: Vertex| match w.0 {
            LSA_ROUTER => routers.get(&w.1).is_some_and(|r| {
                r.links.iter().any(|l| {
                    (v.0 == LSA_ROUTER && l.kind == LINK_P2P && l.id == v.1)
                        || (v.0 == LSA_NETWORK && l.kind == LINK_TRANSIT && l.id == v.1)
                })
            }),
            _ => nets
                .get(&w.1)
                .is_some_and(|n| v.0 == LSA_ROUTER && n.routers.contains(&v.1)),
        };
        // Vertex to (cost, next hop: gateway (0 directly), interface).
        let mut done: HashMap<Vertex, (u32, (u32, u32))> = HashMap::new();
        let mut best: HashMap<Vertex, (u32, (u32, u32))> = HashMap::new();
        let mut heap = BinaryHeap::new();
        heap.push(Reverse((0u32, LSA_ROUTER, rid, (0u32, 0u32))));
        while let Some(Reverse((cost, t, id, nh))) = heap.pop() {
            let v = (t, id);
            if done.contains_key(&v) {
                continue;
            }
            done.insert(v, (cost, nh));
            let edges: Vec<(Vertex, u32, u32)> = match t {
                LSA_ROUTER => routers.get(&id).map_or_else(Vec::new, |r| {
                    r.links
                        .iter()
                        .filter_map(|l| match l.kind {
                            LINK_P2P => Some(((LSA_ROUTER, l.id), u32::from(l.metric), l.data)),
                            LINK_TRANSIT => Some(((LSA_NETWORK, l.id), u32::from(l.metric), l.data)),
                            _ => None,
                        })
                        .collect()
                }),
                _ => nets.get(&id).map_or_else(Vec::new, |n| {
                    n.routers.iter().map(|&r| ((LSA_ROUTER, r), 0, 0)).collect()
                }),
            };
            for (w, metric, data) in edges {
                if done.contains_key(&w) || !back(w, v) {
                    continue;
                }
                let c = cost + metric;
                // The next hop (§16.1.1).
                let hop = if v == (LSA_ROUTER, rid) {
                    let Some(i) = o.ifs.iter().find(|i| i.addr == data) else {
                        continue;
                    };
                    match w.0 {
                        LSA_NETWORK => (0, i.index),
                        _ => match i.nbrs.iter().find(|x| x.rid == w.1) {
                            Some(x) => (x.addr, i.index),
                            None => continue,
                        },
                    }
                } else if v.0 == LSA_NETWORK && nh.0 == 0 {
                    let Some(gw) = routers
                        .get(&w.1)
                        .and_then(|r| r.links.iter().find(|l| l.kind == LINK_TRANSIT && l.id == v.1))
                        .map(|l| l.data)
                    else {
                        continue;
                    };
                    (gw, nh.1)
                } else {
                    nh
                };
                if best.get(&w).is_none_or(|b| c < b.0) {
                    best.insert(w, (c, hop));
                    heap.push(Reverse((c, w.0, w.1, hop)));
                }
            }
        }
        // The networks the tree reaches (§16.1 (3)): transit ones, then
        // routers' stubs.
        let mut add = |prefix: (u32, u8), c: u32, nh: (u32, u32)| {
            if routes.get(&prefix).is_none_or(|x| c < x.0) {
                routes.insert(prefix, (c, nh.0, nh.1));
                intra.insert(prefix, (c, area));
            }
        };
        for (&(t, id), &(c, nh)) in &done {
            match t {
                LSA_NETWORK => {
                    if let Some(n) = nets.get(&id) {
                        let plen = n.mask.leading_ones() as u8;
                        add((id & n.mask, plen), c, nh);
                    }
                }
                _ => {
                    if let Some(r) = routers.get(&id) {
                        for l in r.links.iter().filter(|l| l.kind == LINK_STUB) {
                            let plen = l.data.leading_ones() as u8;
                            let hop = if id == rid {
                                let i = o.ifs.iter().find(|i| i.addr & mask(i.plen) == l.id & l.data);
                                (0, i.map_or(0, |i| i.index))
                            } else {
                                nh
                            };
                            add((l.id & l.data, plen), c + u32::from(l.metric), hop);
                        }
                        if id != rid && r.flags & ROUTER_E != 0 && asbrs.get(&id).is_none_or(|x| c < x.0) {
                            asbrs.insert(id, (c, nh));
                        }
                        if id != rid && r.flags & ROUTER_B != 0 {
                            abrs.insert((area, id), (c, nh));
                        }
                    }
                }
            }
        }
    }
    // Inter-area routes (§16.2): an ABR looks at the backbone's summary
    // LSAs only, another router at its area's; the distance to the ABR
    // plus the summary's metric, intra-area routes preferred.
    let abr = o.is_abr();
    let mut inter: BTreeMap<(u32, u8), Route> = BTreeMap::new();
    for &area in areas.iter().filter(|&&a| !abr || a == 0) {
        for (k, e) in o
            .lsdb
            .range((area, (LSA_SUMMARY, 0, 0))..=(area, (LSA_SUMMARY, u32::MAX, u32::MAX)))
        {
            let (_, (_, id, adv)) = *k;
            if adv == rid || !live(e) {
                continue;
            }
            let (Ok(x), Some(&(dist, nh))) = (PrefixLsa::parse(e.lsa.body()), abrs.get(&(area, adv))) else {
                continue;
            };
            if x.metric >= 0x00ff_ffff {
                continue;
            }
            let prefix = (id & x.mask, x.mask.leading_ones() as u8);
            let c = dist + x.metric;
            if !routes.contains_key(&prefix) && inter.get(&prefix).is_none_or(|r| c < r.0) {
                inter.insert(prefix, (c, nh.0, nh.1));
            }
        }
    }
    // What an ABR tells each area: the other areas' intra-area routes,
    // and to areas other than the backbone the inter-area ones too.
    let summaries: Vec<(u32, (u32, u8), u32)> = if abr {
        let mut v = Vec::new();
        for &a in &areas {
            for (&prefix, &(c, from)) in &intra {
                if from != a {
                    v.push((a, prefix, c));
                }
            }
            if a != 0 {
                v.extend(inter.iter().map(|(&prefix, r)| (a, prefix, r.0)));
            }
        }
        v
    } else {
        Vec::new()
    };
    if summaries != o.summaries {
        o.summaries = summaries;
        o.schedule_originate(now);
    }
    routes.extend(inter);
    // AS-external routes (§16.4): type 2 by the external metric, then the
    // distance to the ASBR; type 1 by their sum.
    let mut ext: BTreeMap<(u32, u8), ((u32, u32), Route)> = BTreeMap::new();
    for (k, e) in o.lsdb.range((AS_SCOPE, (LSA_EXTERNAL, 0, 0))..) {
        let (_, (_, id, adv)) = *k;
        if adv == rid || !live(e) {
            continue;
        }
        let (Ok(x), Some(&(dist, nh))) = (PrefixLsa::parse(e.lsa.body()), asbrs.get(&adv)) else {
            continue;
        };
        if x.metric >= 0x00ff_ffff {
            continue;
        }
        let prefix = (id & x.mask, x.mask.leading_ones() as u8);
        let rank = if x.e2 { (x.metric, dist) } else { (dist + x.metric, 0) };
        let shown = if x.e2 { x.metric } else { dist + x.metric };
        if !routes.contains_key(&prefix) && ext.get(&prefix).is_none_or(|(r, _)| rank < *r) {
            ext.insert(prefix, (rank, (shown, nh.0, nh.1)));
        }
    }
    routes.extend(ext.into_iter().map(|(p, (_, r))| (p, r)));
    if o.routes != routes {
        o.routes = routes;
        o.rib_stale = true;
    }
}

/// SPF's routes to the RIB (ours, at the configured distance).
fn ospf_to_rib(o: &Ospf, rib: &mut super::rib::Rib, now: Time) {
    let mut keep = Vec::with_capacity(o.routes.len());
    for (&prefix, &(cost, gateway, ifindex)) in &o.routes {
        // What no router may claim: loopback, multicast, class E.
        if prefix.0 >> 24 == 127 || prefix.0 >> 28 >= 14 {
            continue;
        }
        keep.push(prefix);
        rib.update(
            prefix,
            RibRoute {
                proto: Proto::Ospf,
                distance: o.conf.distance,
                metric: cost,
                gateway,
                ifindex,
                since: now,
            },
        );
    }
    rib.retain(Proto::Ospf, &keep);
}

/// `show ip ospf`: FRR 8.4's opening lines, then the packet counters
/// (ours: FRR keeps them per interface).
pub fn show_ip_ospf(o: &Ospf) -> String {
    let areas: std::collections::BTreeSet<u32> = o.ifs.iter().map(|i| i.area).collect();
    let externals = o.lsdb.keys().filter(|(a, _)| *a == AS_SCOPE).count();
    format!(
        "\n OSPF Routing Process, Router ID: {}\n Supports only single TOS (TOS0) routes\n \
         This implementation conforms to RFC2328\n SPF algorithm executed {} times\n \
         Number of external LSA {externals}\n Number of areas attached to this router: {}\n \
         Number of LSA {}, at most {} (max-lsa), refused {}\n \
         Packets received {}, sent {}, dropped as malformed or misaddressed {}\n\n",
        Ipv4Addr::from(o.rid),
        o.spf_runs,
        areas.len(),
        o.lsdb.len(),
        o.conf.max_lsa,
        o.lsa_refused,
        o.received,
        o.sent,
        o.bad_packets
    )
}

/// `show ip ospf neighbor`, FRR 8.4's layout.
pub fn show_ip_ospf_neighbor(o: &Ospf, now: Time) -> String {
    let mut s = format!(
        "\n{:<15} {:>3} {:<15} {:<15} {:>9} {:<15} {:<32} {:>5} {:>5} {:>5}\n",
        "Neighbor ID", "Pri", "State", "Up Time", "Dead Time", "Address", "Interface", "RXmtL", "RqstL", "DBsmL"
    );
    for i in &o.ifs {
        for n in &i.nbrs {
            let role = if i.p2p {
                "-"
            } else if n.addr == i.dr {
                "DR"
            } else if n.addr == i.bdr {
                "Backup"
            } else {
                "DROther"
            };
            let dead = n.dead_at.saturating_sub(now);
            let _ = writeln!(
                s,
                "{:<15} {:>3} {:<15} {:<15} {:>9} {:<15} {:<32} {:>5} {:>5} {:>5}",
                Ipv4Addr::from(n.rid).to_string(),
                n.prio,
                format!("{}/{role}", n.state.name()),
                timeval(now.saturating_sub(n.up)),
                format!("{}.{:03}s", dead.as_secs(), dead.subsec_millis()),
                Ipv4Addr::from(n.addr).to_string(),
                format!("{}:{}", i.name, Ipv4Addr::from(i.addr)),
                n.rxmt.len(),
                n.requests.len(),
                n.summary.len()
            );
        }
    }
    s += "\n";
    s
}

/// An age as FRR's `ospf_timeval_dump` prints it.
fn timeval(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{:03}s", s, d.subsec_millis()),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
        _ => format!("{}d{:02}h{:02}m", s / 86_400, s / 3600 % 24, s / 60 % 60),
    }
}

/// `show ip ospf database`, FRR 8.4's layout.
pub fn show_ip_ospf_database(o: &Ospf, now: Time) -> String {
    let mut s = format!("\n       OSPF Router with ID ({})\n", Ipv4Addr::from(o.rid));
    let mut last: Option<(u32, u8)> = None;
    for ((area, (t, id, adv)), e) in &o.lsdb {
        if last != Some((*area, *t)) {
            last = Some((*area, *t));
            let title = match *t {
                LSA_ROUTER => "Router Link States",
                LSA_NETWORK => "Net Link States",
                3 => "Summary Link States",
                4 => "ASBR-Summary Link States",
                _ => "AS External Link States",
            };
            if *area == AS_SCOPE {
                let _ = writeln!(s, "\n                {title}\n");
            } else {
                let _ = writeln!(s, "\n                {title} (Area {})\n", Ipv4Addr::from(*area));
            }
            s += match *t {
                LSA_ROUTER => "Link ID         ADV Router      Age  Seq#       CkSum  Link count\n",
                LSA_EXTERNAL | LSA_SUMMARY => "Link ID         ADV Router      Age  Seq#       CkSum  Route\n",
                _ => "Link ID         ADV Router      Age  Seq#       CkSum\n",
            };
        }
        let h = e.lsa.hdr();
        let _ = write!(
            s,
            "{:<14} {:<15} {:>4} 0x{:08x} 0x{:04x}",
            Ipv4Addr::from(*id).to_string(),
            Ipv4Addr::from(*adv).to_string(),
            e.age(now),
            h.seq as u32,
            h.checksum
        );
        match *t {
            LSA_ROUTER => {
                let n = RouterLsa::parse(e.lsa.body()).map_or(0, |r| r.links.len());
                let _ = write!(s, " {n}");
            }
            LSA_SUMMARY => {
                if let Ok(x) = PrefixLsa::parse(e.lsa.body()) {
                    let _ = write!(s, " {}/{}", Ipv4Addr::from(*id & x.mask), x.mask.leading_ones());
                }
            }
            LSA_EXTERNAL => {
                if let Ok(x) = PrefixLsa::parse(e.lsa.body()) {
                    let _ = write!(
                        s,
                        " E{} {}/{} [0x{:x}]",
                        if x.e2 { 2 } else { 1 },
                        Ipv4Addr::from(*id & x.mask),
                        x.mask.leading_ones(),
                        x.tag
                    );
                }
            }
            _ => {}
        }
        s += "\n";
    }
    s += "\n";
    s
}
