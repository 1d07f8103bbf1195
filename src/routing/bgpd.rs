//! bgpd: BGP-4 (RFC 4271) for IPv4 unicast, as FRR's bgpd is run and
//! configured (`router bgp ASN`). One task holds every session: a
//! listener on port 179, a connection (or two, while a collision is
//! settled, §6.8) per neighbor, each through the finite state machine of
//! §8 (Idle, Connect, Active, OpenSent, OpenConfirm, Established) with
//! the connect-retry, hold and keepalive timers. UPDATEs are checked as
//! RFC 7606 says (wire/bgp.rs), filtered by the neighbor's inbound policy
//! (and, as FRR 8.4 does by default, refused from an eBGP neighbor
//! without one: RFC 8212), and kept per prefix with our own paths
//! (`network`, `redistribute`). The decision process (§9.1) picks a best
//! path per prefix, which goes to the RIB (distance 20 eBGP, 200 iBGP)
//! and, through each neighbor's outbound policy, to its Adj-RIB-Out:
//! only what changed is sent, as UPDATEs that share attributes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::future::{Future, poll_fn};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use smallvec::SmallVec;

use super::Frr;
use super::conf::{BgpConf, BgpNeighbor, Redist, RemoteAs};
use super::daemon::{Daemon, Wake, daemon_open, daemon_run, daemon_stop, daemon_wait};
use super::policy::{PrefixList, RouteMap, prefix_list_apply, route_map_apply};
use super::rib::{Proto, Rib, RibRoute, kernel_routes};
use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::netinet::in_::in_ifaddr_all;
use crate::socket::{RouteSocket, TcpListener, TcpStream};
use crate::wire::bgp::{
    AFI_IPV4, AS_TRANS, Attrs, BgpErr, Cap, Msg, ORIGIN_IGP, ORIGIN_INCOMPLETE, Open, Prefix, SAFI_UNICAST, Update,
    Verdict, emit_updates, emit_withdraws, err, msg_len, notification_text,
};

/// FRR's defaults: connect retry 120 s, and a first try 1 s after a
/// session ends (its idle hold).
const CONNECT_RETRY: u64 = 120;
const IDLE_HOLD: u64 = 1;
/// The hold time while the OPEN is awaited (§8: "a large value", 4 min).
const OPEN_HOLD: u64 = 240;
/// FRR's weight for our own paths.
const LOCAL_WEIGHT: u32 = 32768;
/// Reading stops at this much unprocessed input per connection.
const RBUF_MAX: usize = 256 * 1024;

/// The session states of §8.2.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

/// Where a path came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Peer(u32),
    Network,
    Redist(Redist),
}

/// A path to a prefix.
#[derive(Clone, Debug)]
pub struct Path {
    pub source: Source,
    pub attrs: Rc<Attrs>,
    pub weight: u32,
    pub ebgp: bool,
    /// The neighbor's BGP identifier (ours for our own paths).
    pub peer_id: u32,
    /// Gateway and interface its next hop is reached by; `None` while it
    /// cannot be (the path is not valid).
    pub via: Option<(u32, u32)>,
}

impl Path {
    /// The identifier the decision compares: a reflected path's
    /// ORIGINATOR_ID (RFC 4456 §9), else the neighbor's.
    fn router_id(&self) -> u32 {
        self.attrs.originator_id.unwrap_or(self.peer_id)
    }

    fn local(&self) -> bool {
        !matches!(self.source, Source::Peer(_))
    }

    /// §9.1.2.2's order, FRR's first steps first: weight, LOCAL_PREF, our
    /// own, AS path length, ORIGIN, MED (same neighboring AS), eBGP over
    /// iBGP, BGP identifier, neighbor address. Smaller is better.
    fn better(&self, o: &Path) -> std::cmp::Ordering {
        let lp = |p: &Path| p.attrs.local_pref.unwrap_or(100);
        let peer = |p: &Path| match p.source {
            Source::Peer(a) => a,
            _ => 0,
        };
        (o.via.is_some().cmp(&self.via.is_some()))
            .then(o.weight.cmp(&self.weight))
            .then(lp(o).cmp(&lp(self)))
            .then(o.local().cmp(&self.local()))
            .then(self.attrs.path_len().cmp(&o.attrs.path_len()))
            .then(self.attrs.origin.cmp(&o.attrs.origin))
            .then(if self.attrs.first_as() == o.attrs.first_as() {
                self.attrs.med.unwrap_or(0).cmp(&o.attrs.med.unwrap_or(0))
            } else {
                std::cmp::Ordering::Equal
            })
            .then(o.ebgp.cmp(&self.ebgp))
            .then(self.router_id().cmp(&o.router_id()))
            .then(self.attrs.cluster_list.len().cmp(&o.attrs.cluster_list.len()))
            .then(peer(self).cmp(&peer(o)))
    }
}

impl Path {
    /// Why `self` wins over `o`: FRR's words for the step that decided
    /// (`bgp_path_selection_reason2str`).
    fn reason(&self, o: &Path) -> &'static str {
        use std::cmp::Ordering::Equal;
        let lp = |p: &Path| p.attrs.local_pref.unwrap_or(100);
        let med = |p: &Path| p.attrs.med.unwrap_or(0);
        if self.weight != o.weight {
            "Weight"
        } else if lp(self) != lp(o) {
            "Local Pref"
        } else if self.local() != o.local() {
            "Local Route"
        } else if self.attrs.path_len() != o.attrs.path_len() {
            "AS Path"
        } else if self.attrs.origin != o.attrs.origin {
            "Origin"
        } else if self.attrs.first_as() == o.attrs.first_as() && med(self) != med(o) {
            "MED"
        } else if self.ebgp != o.ebgp {
            "Peer Type"
        } else if self.router_id().cmp(&o.router_id()) != Equal {
            "Router ID"
        } else if self.attrs.cluster_list.len() != o.attrs.cluster_list.len() {
            "Cluster length"
        } else {
            "Neighbor IP"
        }
    }
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>>>>;

/// One TCP connection of a session.
struct Conn {
    /// Which of its neighbor's connections (its index moves as others close).
    id: u64,
    stream: TcpStream,
    state: State,
    /// We connected (not the neighbor): what §6.8 compares.
    initiated: bool,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// Our address on it: the next hop we announce.
    local: u32,
    hold_at: Option<Time>,
    /// Its OPEN, once here.
    open: Option<Open>,
    /// End of stream or an error: close it.
    dead: Option<String>,
}

impl Conn {
    /// Write what the socket takes now (the rest at the next poll).
    fn flush(&mut self, cx: &mut Context<'_>) -> bool {
        let mut any = false;
        while !self.wbuf.is_empty() {
            match self.stream.poll_write_buf(cx, &self.wbuf) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    self.wbuf.drain(..n);
                }
                Poll::Ready(r) => {
                    self.dead.get_or_insert_with(|| write_error(r.err()));
                    any = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        any
    }

    /// Read what is there; true if anything came (or the end).
    fn fill(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> bool {
        let mut any = false;
        while self.dead.is_none() && self.rbuf.len() < RBUF_MAX {
            match self.stream.poll_read_buf(cx, buf) {
                Poll::Ready(Ok(0)) => {
                    self.dead = Some("Peer closed the session".into());
                    any = true;
                }
                Poll::Ready(Ok(n)) => {
                    self.rbuf.extend_from_slice(&buf[..n]);
                    any = true;
                }
                Poll::Ready(Err(e)) => {
                    self.dead = Some(format!("Connection error: {e}"));
                    any = true;
                }
                Poll::Pending => break,
            }
        }
        any
    }
}

fn write_error(e: Option<io::Error>) -> String {
    e.map_or_else(|| "Connection closed".into(), |e| format!("Connection error: {e}"))
}

/// A neighbor and its session.
pub struct Peer {
    pub addr: u32,
    pub conf: BgpNeighbor,
    pub state: State,
    conns: Vec<Conn>,
    conn_ids: u64,
    connecting: Option<Connecting>,
    connect_at: Option<Time>,
    /// Its AS and identifier, from its OPEN.
    pub remote_as: u32,
    pub remote_id: u32,
    /// Negotiated: hold time, keepalive interval, four-octet AS numbers,
    /// route refresh.
    pub hold: u16,
    pub keepalive: u16,
    as4: bool,
    refresh: bool,
    keepalive_at: Option<Time>,
    /// Established since, or down since (once up).
    pub since: Option<Time>,
    pub msg_rcvd: u64,
    pub msg_sent: u64,
    /// Prefixes accepted from it.
    pub pfx_rcd: u32,
    adj_out: BTreeMap<Prefix, Rc<Attrs>>,
    export_all: bool,
    /// Send everything again, as if the Adj-RIB-Out were empty (a route
    /// refresh, `clear bgp soft out`) without forgetting what it holds.
    resend: bool,
    /// `maximum-prefix` ended it: down until `clear bgp`, as FRR.
    pub overflow: bool,
    pub last_reset: Option<String>,
    reset_at: Option<Time>,
    /// RFC 7606: UPDATEs whose routes were treated as withdrawn, and
    /// attributes discarded.
    pub withdrawn_7606: u64,
    pub discarded: u64,
    pub established: u64,
}

impl Peer {
    fn new(addr: u32, conf: BgpNeighbor, asn: u32, now: Time) -> Peer {
        let remote_as = match conf.remote_as {
            RemoteAs::As(a) => a,
            RemoteAs::Internal => asn,
            RemoteAs::External => 0,
        };
        Peer {
            addr,
            state: if conf.shutdown { State::Idle } else { State::Active },
            connect_at: (!conf.shutdown && !conf.passive).then_some(now),
            conf,
            conns: Vec::new(),
            conn_ids: 0,
            connecting: None,
            remote_as,
            remote_id: 0,
            hold: 0,
            keepalive: 0,
            as4: false,
            refresh: false,
            keepalive_at: None,
            since: None,
            msg_rcvd: 0,
            msg_sent: 0,
            pfx_rcd: 0,
            adj_out: BTreeMap::new(),
            export_all: false,
            resend: false,
            overflow: false,
            last_reset: None,
            reset_at: None,
            withdrawn_7606: 0,
            discarded: 0,
            established: 0,
        }
    }

    pub fn pfx_snt(&self) -> usize {
        self.adj_out.len()
    }

    fn is_ebgp(&self, asn: u32) -> bool {
        match self.conf.remote_as {
            RemoteAs::As(a) => a != asn,
            RemoteAs::Internal => false,
            RemoteAs::External => true,
        }
    }

    fn send(&mut self, ci: usize, m: &Msg) {
        let as4 = self.as4;
        if let Some(c) = self.conns.get_mut(ci) {
            m.emit(as4, &mut c.wbuf);
            self.msg_sent += 1;
        }
    }

    fn established_conn(&mut self) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.state == State::Established)
    }
}

/// bgpd's state, while it runs.
pub struct Bgp {
    pub conf: BgpConf,
    lists: BTreeMap<String, PrefixList>,
    maps: BTreeMap<String, RouteMap>,
    pub router_id: u32,
    pub peers: BTreeMap<u32, Peer>,
    /// Every path, by prefix; the best first once decided. Most prefixes
    /// have one path, kept in the map's node (a million of them is the
    /// size of a full table).
    pub table: BTreeMap<Prefix, SmallVec<[Path; 1]>>,
    /// Prefixes whose paths changed: decided, given to the RIB and sent
    /// out at the next round.
    dirty: BTreeSet<Prefix>,
    /// Our own paths, as last made.
    local: BTreeMap<(Prefix, Source), Rc<Attrs>>,
    nh_cache: HashMap<u32, Option<(u32, u32)>>,
    pub version: u64,
    pub paths: usize,
    /// Connections refused (from addresses that are not neighbors).
    pub refused: u64,
    /// `clear bgp` requests vtysh left: which neighbor (all if `None`),
    /// and soft (`in`, `out`) or hard.
    pub clears: Vec<(Option<u32>, Clear)>,
}

/// What `clear bgp` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clear {
    /// The session is reset (Cease, Administrative Reset).
    Hard,
    /// Our routes sent again.
    SoftOut,
    /// The neighbor's asked again (route refresh).
    SoftIn,
}

impl Bgp {
    pub fn new(conf: BgpConf) -> Bgp {
        Bgp {
            conf,
            lists: BTreeMap::new(),
            maps: BTreeMap::new(),
            router_id: 0,
            peers: BTreeMap::new(),
            table: BTreeMap::new(),
            dirty: BTreeSet::new(),
            local: BTreeMap::new(),
            nh_cache: HashMap::new(),
            version: 0,
            paths: 0,
            refused: 0,
            clears: Vec::new(),
        }
    }

    fn insert_path(&mut self, prefix: Prefix, path: Path) -> bool {
        let v = self.table.entry(prefix).or_default();
        self.dirty.insert(prefix);
        if let Some(old) = v.iter_mut().find(|x| x.source == path.source) {
            *old = path;
            false
        } else {
            v.push(path);
            self.paths += 1;
            true
        }
    }

    fn remove_path(&mut self, prefix: Prefix, source: Source) -> bool {
        let Some(v) = self.table.get_mut(&prefix) else {
            return false;
        };
        let n = v.len();
        v.retain(|x| x.source != source);
        if v.len() == n {
            return false;
        }
        self.paths -= 1;
        self.dirty.insert(prefix);
        true
    }

    /// The best path to `prefix`, if it has a valid one.
    pub fn best(&self, prefix: &Prefix) -> Option<&Path> {
        self.table.get(prefix)?.first().filter(|p| p.via.is_some())
    }

    /// `f` for each neighbor (those `only` names), taken out of the map
    /// meanwhile so it may change the rest of bgpd's state too.
    fn each_peer(&mut self, only: Option<u32>, mut f: impl FnMut(&mut Bgp, &mut Peer)) {
        let addrs: Vec<u32> = self
            .peers
            .keys()
            .copied()
            .filter(|a| only.is_none_or(|o| o == *a))
            .collect();
        for a in addrs {
            if let Some(mut peer) = self.peers.remove(&a) {
                f(self, &mut peer);
                self.peers.insert(a, peer);
            }
        }
    }
}

pub async fn bgpd(p: Proc, argv: Vec<String>) -> i32 {
    let (a, frr) = match daemon_open(&p, &argv, Daemon::Bgpd) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let listener = match TcpListener::bind_reuseaddr(&p, SocketAddr::from(([0, 0, 0, 0], crate::wire::bgp::BGP_PORT))) {
        Ok(l) => l,
        Err(e) => {
            errln!(p, "bgpd: bind port 179: {e}");
            daemon_stop(&p, &frr, Daemon::Bgpd);
            return 1;
        }
    };
    let Ok(rs) = RouteSocket::open(&p, Some(false)) else {
        daemon_stop(&p, &frr, Daemon::Bgpd);
        return 1;
    };
    let f = frr.clone();
    daemon_run(p, frr, Daemon::Bgpd, a.daemon, move |q| serve(q, f, listener, rs)).await
}

async fn serve(p: Proc, frr: Rc<RefCell<Frr>>, listener: TcpListener, rs: RouteSocket) -> i32 {
    p.intr.catch();
    let mut seen = u64::MAX;
    let mut gens = (u64::MAX, u64::MAX, u64::MAX);
    let mut kernel = true;
    let mut buf = vec![0u8; 65_536];
    loop {
        let now = p.now();
        let next = {
            let mut f = frr.borrow_mut();
            let Frr {
                conf,
                bgp,
                rib,
                generation,
                ..
            } = &mut *f;
            let Some(b) = bgp.as_mut() else { return 0 };
            let mut originate = kernel;
            if *generation != seen {
                seen = *generation;
                bgp_reconfigure(&p, b, conf, now);
                originate = true;
            }
            let g = (
                rib.generation(Proto::Ospf),
                rib.generation(Proto::Rip),
                rib.generation(Proto::Static),
            );
            for (only, how) in std::mem::take(&mut b.clears) {
                bgp_clear(b, only, how, now);
            }
            if kernel || g != gens {
                gens = g;
                originate = true;
                b.nh_cache.clear();
                bgp_revalidate(&p, b, rib);
            }
            if kernel {
                bgp_fast_failover(&p, b, rib, now);
            }
            if originate {
                bgp_originate(&p, b, rib);
            }
            kernel = false;
            bgp_timers(&p, b, now);
            bgp_input(&p, b, rib, now);
            bgp_decide(&p, b, rib);
            rib.sync(&p, &rs);
            bgp_next_event(b)
        };
        let io = poll_fn(|cx| bgp_poll(cx, &p, &frr, &listener, &mut buf));
        match daemon_wait(&p, &frr, seen, io, &rs, next).await {
            Wake::Intr => {
                if let Some(b) = frr.borrow_mut().bgp.as_mut() {
                    bgp_cease_all(b, err::CEASE_ADMIN_SHUTDOWN, "Admin. shutdown");
                }
                return 0;
            }
            Wake::Route => kernel = true,
            Wake::Packet(()) | Wake::Conf | Wake::Rib | Wake::Timer => {}
        }
    }
}

/// Everything the sockets have for us: new connections, connects done,
/// bytes read and written. Ready once anything came.
fn bgp_poll(
    cx: &mut Context<'_>,
    p: &Proc,
    frr: &Rc<RefCell<Frr>>,
    listener: &TcpListener,
    buf: &mut [u8],
) -> Poll<io::Result<()>> {
    let mut f = frr.borrow_mut();
    let Some(b) = f.bgp.as_mut() else {
        return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
    };
    let now = p.now();
    let mut any = false;
    while let Poll::Ready(r) = listener.poll_accept(cx) {
        any = true;
        match r {
            Ok((s, SocketAddr::V4(from))) => bgp_accepted(b, s, u32::from(*from.ip()), now),
            Ok(_) => b.refused += 1,
            Err(_) => break,
        }
    }
    for peer in b.peers.values_mut() {
        if let Some(fut) = peer.connecting.as_mut()
            && let Poll::Ready(r) = fut.as_mut().poll(cx)
        {
            peer.connecting = None;
            any = true;
            match r {
                Ok(s) => bgp_connected(b.router_id, &b.conf, peer, s, true, now),
                // A connection the neighbor made meanwhile goes on.
                // A refused connect is no reset (FRR's "Last reset never").
                Err(_) if peer.conns.is_empty() => {
                    peer.state = State::Active;
                    let retry = peer.conf.connect.map_or(CONNECT_RETRY, u64::from);
                    peer.connect_at = Some(now + Duration::from_secs(retry));
                }
                Err(_) => {}
            }
        }
        for c in &mut peer.conns {
            any |= c.flush(cx);
            any |= c.fill(cx, buf);
        }
    }
    if any { Poll::Ready(Ok(())) } else { Poll::Pending }
}

/// A connection came in: a neighbor's, or refused.
fn bgp_accepted(b: &mut Bgp, s: TcpStream, from: u32, now: Time) {
    let (id, conf) = (b.router_id, &b.conf);
    match b.peers.get_mut(&from) {
        Some(peer) if !peer.conf.shutdown && !peer.overflow && peer.conns.len() < 2 => {
            bgp_connected(id, conf, peer, s, false, now);
        }
        _ => b.refused += 1,
    }
}

/// A connection is up (ours or the neighbor's): OPEN goes out (§8.2.2).
fn bgp_connected(id: u32, conf: &BgpConf, peer: &mut Peer, s: TcpStream, initiated: bool, now: Time) {
    let local = match s.local_addr() {
        Ok(SocketAddr::V4(a)) => u32::from(*a.ip()),
        _ => 0,
    };
    peer.conn_ids += 1;
    peer.conns.push(Conn {
        id: peer.conn_ids,
        stream: s,
        state: State::OpenSent,
        initiated,
        rbuf: Vec::new(),
        wbuf: Vec::new(),
        local,
        hold_at: Some(now + Duration::from_secs(OPEN_HOLD)),
        open: None,
        dead: None,
    });
    peer.state = peer.state.max(State::OpenSent);
    let hold = peer.conf.timers.map_or(conf.hold, |t| t.1);
    let open = Msg::Open(Open {
        version: 4,
        my_as: u16::try_from(conf.asn).unwrap_or(AS_TRANS as u16),
        hold,
        id,
        caps: vec![Cap::Mp(AFI_IPV4, SAFI_UNICAST), Cap::RouteRefresh, Cap::As4(conf.asn)],
    });
    let ci = peer.conns.len() - 1;
    peer.send(ci, &open);
}

/// Connection `ci` of `peer` ends, a NOTIFICATION sent first if `notify`;
/// with its last connection the session goes, and its routes.
fn bgp_close(b: &mut Bgp, peer: &mut Peer, ci: usize, notify: Option<BgpErr>, why: String, now: Time) {
    let mut c = peer.conns.remove(ci);
    if let Some(e) = notify {
        Msg::Notification {
            code: e.code,
            sub: e.sub,
            data: e.data,
        }
        .emit(peer.as4, &mut c.wbuf);
        peer.msg_sent += 1;
        // What the socket takes now; the connection's close sends it.
        let mut cx = Context::from_waker(Waker::noop());
        c.flush(&mut cx);
    }
    let was_up = c.state == State::Established;
    drop(c);
    if was_up {
        bgp_peer_down(b, peer, now);
    }
    // A collision's loser is no reset of the session.
    if was_up || peer.conns.is_empty() {
        peer.last_reset = Some(why);
        peer.reset_at = Some(now);
    }
    if peer.conns.is_empty() {
        peer.state = if peer.conf.shutdown || peer.overflow {
            State::Idle
        } else {
            State::Active
        };
        let wait = if was_up {
            IDLE_HOLD
        } else {
            peer.conf.connect.map_or(CONNECT_RETRY, u64::from)
        };
        peer.connect_at = (!peer.conf.shutdown && !peer.overflow && !peer.conf.passive && peer.connecting.is_none())
            .then(|| now + Duration::from_secs(wait));
    } else {
        peer.state = peer.conns.iter().map(|c| c.state).max().unwrap_or(State::Active);
    }
}

/// The session is down: its routes are withdrawn, nothing is advertised.
fn bgp_peer_down(b: &mut Bgp, peer: &mut Peer, now: Time) {
    let src = Source::Peer(peer.addr);
    let gone: Vec<Prefix> = b
        .table
        .iter()
        .filter(|(_, v)| v.iter().any(|x| x.source == src))
        .map(|(k, _)| *k)
        .collect();
    for prefix in gone {
        b.remove_path(prefix, src);
    }
    peer.pfx_rcd = 0;
    peer.adj_out.clear();
    peer.export_all = false;
    peer.keepalive_at = None;
    peer.since = Some(now);
}

/// Every session ends with a Cease (the daemon stops, say).
fn bgp_cease_all(b: &mut Bgp, sub: u8, why: &str) {
    b.each_peer(None, |b, peer| {
        while !peer.conns.is_empty() {
            bgp_close(b, peer, 0, Some(BgpErr::new(err::CEASE, sub)), why.into(), Time(0));
        }
    });
}

/// The running configuration changed: neighbors added, changed, removed;
/// policy changes re-sent, and asked again of the neighbors (route
/// refresh).
fn bgp_reconfigure(p: &Proc, b: &mut Bgp, conf: &super::conf::FrrConf, now: Time) {
    // `no router bgp`: every session ceases, our paths go.
    let c = conf.bgp.clone().unwrap_or_else(|| BgpConf::new(b.conf.asn));
    let policy_changed = b.lists != conf.prefix_lists || b.maps != conf.route_maps;
    b.lists = conf.prefix_lists.clone();
    b.maps = conf.route_maps.clone();
    b.router_id = c.router_id.unwrap_or_else(|| router_id(p));
    let old: Vec<u32> = b.peers.keys().copied().collect();
    // Who is a client changes what goes to every other iBGP neighbor.
    let mut rr_changed = c.cluster_id != b.conf.cluster_id;
    for a in old {
        let Some(mut peer) = b.peers.remove(&a) else { continue };
        match c.neighbors.get(&a) {
            None => {
                while !peer.conns.is_empty() {
                    let e = BgpErr::new(err::CEASE, err::CEASE_DECONFIGURED);
                    bgp_close(b, &mut peer, 0, Some(e), "Peer De-configured".into(), now);
                }
                continue;
            }
            Some(n) if *n != peer.conf => {
                let reset = n.remote_as != peer.conf.remote_as
                    || n.shutdown != peer.conf.shutdown
                    || n.timers != peer.conf.timers;
                rr_changed |= n.rr_client != peer.conf.rr_client;
                let policy = n.route_map_in != peer.conf.route_map_in || n.prefix_list_in != peer.conf.prefix_list_in;
                peer.conf = n.clone();
                if reset {
                    let e = BgpErr::new(err::CEASE, err::CEASE_ADMIN_RESET);
                    while !peer.conns.is_empty() {
                        bgp_close(b, &mut peer, 0, Some(e.clone()), "Admin. reset".into(), now);
                    }
                    peer = Peer::new(a, n.clone(), c.asn, now);
                } else {
                    peer.export_all = peer.state == State::Established;
                    if policy {
                        bgp_refresh(&mut peer);
                    }
                    // No longer passive (or a new connect timer): try now.
                    if peer.conns.is_empty() && peer.connecting.is_none() && !n.passive && !n.shutdown && !peer.overflow
                    {
                        peer.connect_at.get_or_insert(now);
                    }
                }
            }
            Some(_) if policy_changed => {
                peer.export_all = peer.state == State::Established;
                bgp_refresh(&mut peer);
            }
            Some(_) => {}
        }
        b.peers.insert(a, peer);
    }
    for (&a, n) in &c.neighbors {
        b.peers.entry(a).or_insert_with(|| Peer::new(a, n.clone(), c.asn, now));
    }
    if rr_changed || c.ebgp_requires_policy != b.conf.ebgp_requires_policy || c.distance != b.conf.distance {
        for peer in b.peers.values_mut() {
            peer.export_all = peer.state == State::Established;
            bgp_refresh(peer);
        }
        b.dirty.extend(b.table.keys().copied());
    }
    b.conf = c;
}

/// `clear bgp {*|A.B.C.D} [soft [in|out]]`.
fn bgp_clear(b: &mut Bgp, only: Option<u32>, how: Clear, now: Time) {
    b.each_peer(only, |b, peer| match how {
        Clear::Hard => {
            while !peer.conns.is_empty() {
                let e = BgpErr::new(err::CEASE, err::CEASE_ADMIN_RESET);
                bgp_close(b, peer, 0, Some(e), "Admin. reset".into(), now);
            }
            if std::mem::take(&mut peer.overflow) && !peer.conf.shutdown && !peer.conf.passive {
                peer.state = State::Active;
                peer.connect_at = Some(now);
            }
        }
        Clear::SoftOut if peer.state == State::Established => {
            peer.resend = true;
            peer.export_all = true;
        }
        Clear::SoftIn => bgp_refresh(peer),
        Clear::SoftOut => {}
    });
}

/// Ask an established neighbor for its routes again (RFC 2918), to apply
/// a changed inbound policy.
fn bgp_refresh(peer: &mut Peer) {
    if peer.refresh
        && let Some(ci) = peer.conns.iter().position(|c| c.state == State::Established)
    {
        peer.send(
            ci,
            &Msg::RouteRefresh {
                afi: AFI_IPV4,
                safi: SAFI_UNICAST,
            },
        );
    }
}

/// FRR's choice of router ID: the highest loopback address, else the
/// highest address.
fn router_id(p: &Proc) -> u32 {
    p.vnet(|_, v| {
        let addrs: Vec<u32> = in_ifaddr_all(v)
            .iter()
            .map(|a| a.addr)
            .filter(|a| a >> 24 != 127)
            .collect();
        addrs.iter().copied().max().unwrap_or(0)
    })
    .unwrap_or(0)
}

/// Is `a` one of this host's addresses?
fn is_ours(p: &Proc, a: u32) -> bool {
    p.vnet(|_, v| in_ifaddr_all(v).iter().any(|x| x.addr == a))
        .unwrap_or(false)
}

/// Connects to start, hold timers that ran out, keepalives due.
fn bgp_timers(p: &Proc, b: &mut Bgp, now: Time) {
    b.each_peer(None, |b, peer| {
        // Timers of a state the session has left.
        if !peer.conns.is_empty() {
            peer.connect_at = None;
        }
        if !peer.conns.iter().any(|c| c.state >= State::OpenConfirm) {
            peer.keepalive_at = None;
        }
        if peer.connect_at.is_some_and(|t| t <= now) && peer.conns.is_empty() && peer.connecting.is_none() {
            peer.connect_at = None;
            peer.state = State::Connect;
            let q = p.clone();
            let to = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(peer.addr), crate::wire::bgp::BGP_PORT));
            peer.connecting = Some(Box::pin(async move { TcpStream::connect(&q, to).await }));
        }
        let mut ci = 0;
        while ci < peer.conns.len() {
            if peer.conns[ci].hold_at.is_some_and(|t| t <= now) {
                let e = BgpErr::new(err::HOLD, 0);
                bgp_close(
                    b,
                    peer,
                    ci,
                    Some(e),
                    "BGP Notification send (Hold Timer Expired)".into(),
                    now,
                );
                continue;
            }
            ci += 1;
        }
        if peer.keepalive_at.is_some_and(|t| t <= now)
            && let Some(ci) = peer.conns.iter().position(|c| c.state >= State::OpenConfirm)
        {
            peer.send(ci, &Msg::Keepalive);
            peer.keepalive_at = Some(now + Duration::from_secs(peer.keepalive.max(1).into()));
        }
    });
}

/// When the next timer is due.
fn bgp_next_event(b: &Bgp) -> Time {
    let mut t = Time::MAX;
    for peer in b.peers.values() {
        for x in [peer.connect_at, peer.keepalive_at].into_iter().flatten() {
            t = t.min(x);
        }
        for c in &peer.conns {
            if let Some(h) = c.hold_at {
                t = t.min(h);
            }
        }
    }
    t
}

/// The whole messages each connection of each neighbor has read, handled
/// in order.
fn bgp_input(p: &Proc, b: &mut Bgp, rib: &Rib, now: Time) {
    b.each_peer(None, |b, peer| {
        let ids: Vec<u64> = peer.conns.iter().map(|c| c.id).collect();
        for id in ids {
            conn_input(p, b, rib, peer, id, now);
        }
    });
}

/// The messages connection `id` has read, one by one, while it lasts.
fn conn_input(p: &Proc, b: &mut Bgp, rib: &Rib, peer: &mut Peer, id: u64, now: Time) {
    while let Some(ci) = peer.conns.iter().position(|c| c.id == id) {
        let c = &mut peer.conns[ci];
        let parsed = match msg_len(&c.rbuf) {
            Ok(Some(len)) if c.rbuf.len() >= len => {
                let m = Msg::parse(&c.rbuf[..len], peer.as4);
                c.rbuf.drain(..len);
                m
            }
            Ok(_) => {
                if let Some(why) = c.dead.clone() {
                    bgp_close(b, peer, ci, None, why, now);
                }
                return;
            }
            Err(e) => Err(e),
        };
        peer.msg_rcvd += 1;
        let r = match parsed {
            Ok(m) => bgp_message(p, b, rib, peer, ci, m, now),
            Err(e) => Err((Some(e), None)),
        };
        if let Err((notify, why)) = r {
            let why = why.unwrap_or_else(|| match &notify {
                Some(e) => format!("BGP Notification send ({e})"),
                None => "Connection closed".into(),
            });
            if let Some(ci) = peer.conns.iter().position(|c| c.id == id) {
                bgp_close(b, peer, ci, notify, why, now);
            }
            return;
        }
    }
}

/// What ends a connection: a NOTIFICATION to send (if any) and why.
type Fail = (Option<BgpErr>, Option<String>);

/// One message on connection `ci` (§8.2.2's events for it).
fn bgp_message(p: &Proc, b: &mut Bgp, rib: &Rib, peer: &mut Peer, ci: usize, m: Msg, now: Time) -> Result<(), Fail> {
    let state = peer.conns[ci].state;
    if let Some(h) = (peer.hold > 0 && state >= State::OpenConfirm).then_some(peer.hold) {
        peer.conns[ci].hold_at = Some(now + Duration::from_secs(h.into()));
    }
    match (state, m) {
        (_, Msg::Notification { code, sub, .. }) => Err((
            None,
            Some(format!("BGP Notification received ({})", notification_text(code, sub))),
        )),
        (State::OpenSent, Msg::Open(o)) => bgp_open(p, b, peer, ci, o, now),
        (State::OpenConfirm, Msg::Keepalive) => {
            peer.conns[ci].state = State::Established;
            peer.state = State::Established;
            peer.since = Some(now);
            peer.established += 1;
            peer.export_all = true;
            peer.keepalive_at = (peer.keepalive > 0).then_some(now);
            // The other connection, if any, lost (§6.8).
            while let Some(other) = peer.conns.iter().position(|c| c.state != State::Established) {
                let e = BgpErr::new(err::CEASE, err::CEASE_COLLISION);
                bgp_close(b, peer, other, Some(e), "Connection collision".into(), now);
            }
            Ok(())
        }
        (State::Established, Msg::Keepalive) => Ok(()),
        (State::Established, Msg::Update(u)) => bgp_update(p, b, rib, peer, u),
        (State::Established, Msg::RouteRefresh { afi, safi }) => {
            if (afi, safi) == (AFI_IPV4, SAFI_UNICAST) {
                peer.resend = true;
                peer.export_all = true;
            }
            Ok(())
        }
        (s, _) => Err((Some(BgpErr::new(err::FSM, fsm_sub(s))), None)),
    }
}

/// RFC 6608's subcodes: an unexpected message in OpenSent 1, OpenConfirm 2,
/// Established 3.
fn fsm_sub(s: State) -> u8 {
    match s {
        State::OpenSent => 1,
        State::OpenConfirm => 2,
        State::Established => 3,
        _ => 0,
    }
}

/// The neighbor's OPEN (§6.2): its AS and identifier checked, hold time
/// and capabilities taken, a collision settled (§6.8); KEEPALIVE back.
fn bgp_open(p: &Proc, b: &mut Bgp, peer: &mut Peer, ci: usize, o: Open, now: Time) -> Result<(), Fail> {
    let asn = o.asn();
    let ok_as = match peer.conf.remote_as {
        RemoteAs::As(a) => a == asn,
        RemoteAs::Internal => asn == b.conf.asn,
        RemoteAs::External => asn != b.conf.asn,
    };
    if !ok_as {
        let e = BgpErr {
            data: (o.my_as).to_be_bytes().to_vec(),
            ..BgpErr::new(err::OPEN, err::OPEN_BAD_AS)
        };
        return Err((Some(e), Some(format!("Bad Peer AS {asn}"))));
    }
    if asn == b.conf.asn && (o.id == b.router_id || is_ours(p, o.id)) {
        return Err((Some(BgpErr::new(err::OPEN, err::OPEN_BAD_ID)), None));
    }
    // §6.8: the connection of the speaker with the higher identifier
    // stays.
    let keep_initiated = b.router_id > o.id;
    if let Some(other) = (0..peer.conns.len()).find(|&i| i != ci) {
        let lose = if peer.conns[other].state == State::Established || peer.conns[ci].initiated != keep_initiated {
            ci
        } else {
            other
        };
        let e = BgpErr::new(err::CEASE, err::CEASE_COLLISION);
        if lose == ci {
            return Err((Some(e), Some("Connection collision".into())));
        }
        let id = peer.conns[ci].id;
        bgp_close(b, peer, other, Some(e), "Connection collision".into(), now);
        let ci = peer.conns.iter().position(|c| c.id == id).unwrap_or(0);
        return bgp_open(p, b, peer, ci, o, now);
    }
    let ours = peer.conf.timers.map_or(b.conf.hold, |t| t.1);
    let ka = peer.conf.timers.map_or(b.conf.keepalive, |t| t.0);
    peer.hold = ours.min(o.hold);
    peer.keepalive = if peer.hold == 0 {
        0
    } else {
        ka.min(peer.hold / 3).max(1)
    };
    peer.remote_as = asn;
    peer.remote_id = o.id;
    peer.as4 = o.as4();
    peer.refresh = o
        .caps
        .iter()
        .any(|c| matches!(c, Cap::RouteRefresh | Cap::Other(128, _)));
    let c = &mut peer.conns[ci];
    c.state = State::OpenConfirm;
    c.hold_at = (peer.hold > 0).then(|| now + Duration::from_secs(peer.hold.into()));
    c.open = Some(o);
    peer.state = State::OpenConfirm;
    peer.send(ci, &Msg::Keepalive);
    peer.keepalive_at = (peer.keepalive > 0).then(|| now + Duration::from_secs(peer.keepalive.into()));
    Ok(())
}

/// Not for any router to claim: 0/8, loopback, multicast, class E.
fn martian(prefix: Prefix) -> bool {
    let a = prefix.0 >> 24;
    (a == 0 && prefix.1 > 0) || a == 127 || a >= 224
}

/// An UPDATE (§9): its withdrawals, then its routes checked, filtered
/// and kept.
fn bgp_update(p: &Proc, b: &mut Bgp, rib: &Rib, peer: &mut Peer, u: Update) -> Result<(), Fail> {
    let src = Source::Peer(peer.addr);
    for &prefix in &u.withdrawn {
        if b.remove_path(prefix, src) {
            peer.pfx_rcd -= 1;
        }
    }
    peer.discarded += u64::from(u.discarded);
    // IPv6 unicast is read but not negotiated yet (docs/ROUTING.md, To
    // build next): ignored as an attribute of a family not negotiated.
    if !u.nlri6.is_empty() || !u.withdrawn6.is_empty() {
        peer.discarded += 1;
    }
    if u.nlri.is_empty() {
        return Ok(());
    }
    let ebgp = peer.is_ebgp(b.conf.asn);
    let a = u.attrs.filter(|_| u.verdict == Verdict::Ok).and_then(|mut a| {
        // §6.3 and RFC 7606 §7.2/7.3: an eBGP path must start with the
        // neighbor's AS; a next hop must be a unicast address not ours.
        let nh = a.next_hop;
        let bad_nh = nh == 0 || nh >> 24 == 127 || nh >> 28 >= 14 || is_ours(p, nh);
        if ebgp && a.first_as() != Some(peer.remote_as) || bad_nh {
            return None;
        }
        if ebgp {
            // Not for another AS to say (RFC 4456 §8: non-transitive).
            a.local_pref = None;
            a.originator_id = None;
            a.cluster_list.clear();
        }
        Some(a)
    });
    let Some(a) = a else {
        peer.withdrawn_7606 += 1;
        for &prefix in &u.nlri {
            if b.remove_path(prefix, src) {
                peer.pfx_rcd -= 1;
            }
        }
        return Ok(());
    };
    // A loop, or (FRR 8.4's default, RFC 8212) an eBGP neighbor without
    // an inbound policy: not taken.
    // Reflected back to us (RFC 4456 §8): our own ID as the originator,
    // or our cluster in the list.
    let cluster = b.conf.cluster_id.unwrap_or(b.router_id);
    let reflected = a.originator_id == Some(b.router_id) || a.cluster_list.contains(&cluster);
    let refuse =
        reflected || a.path_has(b.conf.asn) || ebgp && b.conf.ebgp_requires_policy && !peer.conf.has_policy(false);
    let attrs = Rc::new(a);
    for &prefix in &u.nlri {
        let accepted = !refuse && !martian(prefix) && import_ok(b, peer, prefix);
        let path = accepted.then(|| Path {
            source: src,
            attrs: attrs.clone(),
            weight: 0,
            ebgp,
            peer_id: peer.remote_id,
            via: None,
        });
        let path = match (&peer.conf.route_map_in, path) {
            (Some(m), Some(path)) => b
                .maps
                .get(m)
                .and_then(|m| route_map_apply(m, &b.lists, prefix, &attrs, 0))
                .map(|(a, w)| Path {
                    attrs: Rc::new(a),
                    weight: w,
                    ..path
                }),
            (_, path) => path,
        };
        match path {
            Some(mut path) => {
                // After the route map: its `set ip next-hop` counts.
                path.via = resolve_nh(p, b, rib, path.attrs.next_hop);
                if b.insert_path(prefix, path) {
                    peer.pfx_rcd += 1;
                }
            }
            None => {
                if b.remove_path(prefix, src) {
                    peer.pfx_rcd -= 1;
                }
            }
        }
    }
    if peer.conf.max_prefix.is_some_and(|m| peer.pfx_rcd > m) {
        peer.overflow = true;
        let e = BgpErr::new(err::CEASE, err::CEASE_MAX_PREFIX);
        return Err((Some(e), Some("Maximum prefixes reached".into())));
    }
    Ok(())
}

/// The neighbor's inbound prefix list lets `prefix` in (a list that does
/// not exist lets all in, as FRR's).
fn import_ok(b: &Bgp, peer: &Peer, prefix: Prefix) -> bool {
    peer.conf
        .prefix_list_in
        .as_ref()
        .and_then(|n| b.lists.get(n))
        .is_none_or(|l| prefix_list_apply(l, prefix))
}

/// How a next hop is reached, remembered until the kernel's routes change.
fn resolve_nh(p: &Proc, b: &mut Bgp, rib: &Rib, nh: u32) -> Option<(u32, u32)> {
    // Bounded: a neighbor naming a new next hop each time cannot grow it.
    if b.nh_cache.len() >= 4096 {
        b.nh_cache.clear();
    }
    *b.nh_cache.entry(nh).or_insert_with(|| rib.resolve(p, nh, Proto::Bgp))
}

/// The kernel's routes changed: each path's next hop is looked up again.
fn bgp_revalidate(p: &Proc, b: &mut Bgp, rib: &Rib) {
    let mut changed = Vec::new();
    let mut cache = std::mem::take(&mut b.nh_cache);
    for (prefix, v) in b.table.iter_mut() {
        for path in v.iter_mut().filter(|x| !x.local()) {
            let via = *cache
                .entry(path.attrs.next_hop)
                .or_insert_with(|| rib.resolve(p, path.attrs.next_hop, Proto::Bgp));
            if via != path.via {
                path.via = via;
                changed.push(*prefix);
            }
        }
    }
    b.nh_cache = cache;
    b.dirty.extend(changed);
}

/// FRR's fast-external-failover: an eBGP session whose neighbor is no
/// longer on a connected network ends at once, not at its hold timer.
fn bgp_fast_failover(p: &Proc, b: &mut Bgp, rib: &Rib, now: Time) {
    b.each_peer(None, |b, peer| {
        let a = peer.addr;
        if peer.is_ebgp(b.conf.asn)
            && !peer.conns.is_empty()
            && rib.resolve(p, a, Proto::Bgp).is_none_or(|(g, _)| g != a)
        {
            while !peer.conns.is_empty() {
                bgp_close(b, peer, 0, None, "Interface down".into(), now);
            }
        }
    });
}

/// Our own paths: `network` prefixes the RIB has (FRR's import check),
/// and what `redistribute` names; changes made into the table.
fn bgp_originate(p: &Proc, b: &mut Bgp, rib: &Rib) {
    let mut want: BTreeMap<(Prefix, Source), Attrs> = BTreeMap::new();
    let kernel = kernel_routes(p);
    let mut have: BTreeMap<Prefix, (Redist, u32)> = kernel
        .iter()
        .map(|&(prefix, proto)| {
            let k = if proto == Proto::Connected {
                Redist::Connected
            } else {
                Redist::Kernel
            };
            (prefix, (k, 0))
        })
        .collect();
    for (proto, k) in [
        (Proto::Ospf, Redist::Ospf),
        (Proto::Rip, Redist::Rip),
        (Proto::Static, Redist::Static),
    ] {
        for (prefix, r) in rib.selected(proto) {
            have.entry(prefix).or_insert((k, r.metric));
        }
    }
    let base = |origin, med| Attrs {
        origin,
        med: Some(med),
        ..Attrs::default()
    };
    for (prefix, map) in &b.conf.networks {
        if let Some(&(_, metric)) = have.get(prefix) {
            let a = base(ORIGIN_IGP, metric);
            if let Some(a) = local_policy(b, map.as_deref(), *prefix, a) {
                want.insert((*prefix, Source::Network), a);
            }
        }
    }
    for (&prefix, &(k, metric)) in &have {
        // The kernel's gateway routes are static ones to FRR users.
        let conf = b.conf.redistribute.get(&k).or_else(|| {
            (k == Redist::Kernel)
                .then(|| b.conf.redistribute.get(&Redist::Static))
                .flatten()
        });
        let Some((m, map)) = conf else { continue };
        if martian(prefix) {
            continue;
        }
        let a = base(ORIGIN_INCOMPLETE, m.unwrap_or(metric));
        if let Some(a) = local_policy(b, map.as_deref(), prefix, a) {
            want.insert((prefix, Source::Redist(k)), a);
        }
    }
    let gone: Vec<(Prefix, Source)> = b.local.keys().filter(|k| !want.contains_key(k)).copied().collect();
    for (prefix, src) in gone {
        b.local.remove(&(prefix, src));
        b.remove_path(prefix, src);
    }
    for ((prefix, src), a) in want {
        if b.local.get(&(prefix, src)).is_some_and(|x| **x == a) {
            continue;
        }
        let a = Rc::new(a);
        b.local.insert((prefix, src), a.clone());
        let path = Path {
            source: src,
            attrs: a,
            weight: LOCAL_WEIGHT,
            ebgp: false,
            peer_id: b.router_id,
            via: Some((0, 0)),
        };
        b.insert_path(prefix, path);
    }
}

/// A `route-map` of `network` or `redistribute` applied to our own path.
fn local_policy(b: &Bgp, map: Option<&str>, prefix: Prefix, a: Attrs) -> Option<Attrs> {
    match map {
        None => Some(a),
        Some(m) => b
            .maps
            .get(m)
            .and_then(|m| route_map_apply(m, &b.lists, prefix, &a, LOCAL_WEIGHT))
            .map(|x| x.0),
    }
}

/// The decision process (§9.1) for the prefixes that changed: the best
/// path to the RIB, and to each established neighbor what it should now
/// have.
fn bgp_decide(p: &Proc, b: &mut Bgp, rib: &mut Rib) {
    let dirty = std::mem::take(&mut b.dirty);
    let now = p.now();
    let (ebgp_d, ibgp_d, _) = b.conf.distance;
    for prefix in &dirty {
        let Some(v) = b.table.get_mut(prefix) else { continue };
        if v.is_empty() {
            b.table.remove(prefix);
            rib.withdraw(*prefix, Proto::Bgp);
            continue;
        }
        // The best by a scan, not a sort: MED compared only within a
        // neighboring AS makes `better` no total order (§9.1.2.2 c).
        if let Some(i) = (0..v.len()).min_by(|&x, &y| v[x].better(&v[y])) {
            v.swap(0, i);
        }
        match v.first().filter(|x| x.via.is_some()) {
            Some(best) if !best.local() && !martian(*prefix) => {
                let (gateway, ifindex) = best.via.unwrap_or_default();
                rib.update(
                    *prefix,
                    RibRoute {
                        proto: Proto::Bgp,
                        distance: if best.ebgp { ebgp_d } else { ibgp_d },
                        metric: best.attrs.med.unwrap_or(0),
                        gateway,
                        ifindex,
                        since: now,
                    },
                );
            }
            _ => rib.withdraw(*prefix, Proto::Bgp),
        }
    }
    if !dirty.is_empty() {
        b.version += 1;
    }
    b.each_peer(None, |b, peer| {
        if peer.state == State::Established {
            if std::mem::take(&mut peer.export_all) {
                let all: Vec<Prefix> = b.table.keys().chain(peer.adj_out.keys()).copied().collect();
                let all: BTreeSet<Prefix> = all.into_iter().collect();
                let resend = std::mem::take(&mut peer.resend);
                bgp_export(b, peer, all.iter(), resend);
                // End-of-RIB (RFC 4724 §2): an empty UPDATE, as FRR sends.
                if let Some(ci) = peer.conns.iter().position(|c| c.state == State::Established) {
                    peer.send(ci, &Msg::Update(Update::default()));
                }
            } else if !dirty.is_empty() {
                bgp_export(b, peer, dirty.iter(), false);
            }
        }
    });
}

/// What `peer` should have of `prefixes`, sent as UPDATEs where it
/// differs from its Adj-RIB-Out.
fn bgp_export<'a>(b: &Bgp, peer: &mut Peer, prefixes: impl Iterator<Item = &'a Prefix>, resend: bool) {
    let asn = b.conf.asn;
    let ebgp = peer.is_ebgp(asn);
    let Some(local) = peer.established_conn().map(|c| c.local) else {
        return;
    };
    let mut announce: Vec<(Rc<Attrs>, Vec<Prefix>)> = Vec::new();
    let mut withdraw = Vec::new();
    let mut last: Option<(Rc<Attrs>, Attrs)> = None;
    for &prefix in prefixes {
        let out = b
            .best(&prefix)
            .and_then(|best| export_attrs(b, peer, ebgp, local, prefix, best));
        match out {
            Some(a) => {
                // Consecutive prefixes with the same attributes share them.
                let rc = match &last {
                    Some((rc, x)) if *x == a => rc.clone(),
                    _ => {
                        let rc = Rc::new(a.clone());
                        last = Some((rc.clone(), a));
                        rc
                    }
                };
                if !resend && peer.adj_out.get(&prefix).is_some_and(|x| **x == *rc) {
                    continue;
                }
                peer.adj_out.insert(prefix, rc.clone());
                match announce.last_mut() {
                    Some((x, v)) if Rc::ptr_eq(x, &rc) => v.push(prefix),
                    _ => announce.push((rc, vec![prefix])),
                }
            }
            None => {
                if peer.adj_out.remove(&prefix).is_some() {
                    withdraw.push(prefix);
                }
            }
        }
    }
    let as4 = peer.as4;
    let Some(c) = peer.established_conn() else { return };
    let before = c.wbuf.len();
    emit_withdraws(&withdraw, &mut c.wbuf);
    for (a, v) in &announce {
        emit_updates(a, v, as4, &mut c.wbuf);
    }
    let sent = count_msgs(&c.wbuf[before..]);
    peer.msg_sent += sent;
}

fn count_msgs(mut b: &[u8]) -> u64 {
    let mut n = 0;
    while let Ok(Some(l)) = msg_len(b) {
        n += 1;
        b = &b[l.min(b.len())..];
    }
    n
}

/// The attributes `best` goes to `peer` with (§5.1, §9.2), or `None` if
/// it is not for it: not an iBGP path to an iBGP neighbor (no route
/// reflection), not to an eBGP neighbor without an outbound policy (FRR's
/// default), not what its outbound policy refuses.
fn export_attrs(b: &Bgp, peer: &Peer, ebgp: bool, local: u32, prefix: Prefix, best: &Path) -> Option<Attrs> {
    if !peer.conf.activate {
        return None;
    }
    // An iBGP path goes to iBGP neighbors only as a route reflector
    // does it (RFC 4456 §8): from a client to all, from another to
    // clients, never back to where it came from.
    let mut reflect = false;
    if !ebgp && !best.local() && !best.ebgp {
        let Source::Peer(from) = best.source else { return None };
        let from_client = b.peers.get(&from).is_some_and(|x| x.conf.rr_client);
        if from == peer.addr || !(from_client || peer.conf.rr_client) {
            return None;
        }
        reflect = true;
    }
    if ebgp && b.conf.ebgp_requires_policy && !peer.conf.has_policy(true) {
        return None;
    }
    if let Some(l) = peer.conf.prefix_list_out.as_ref().and_then(|n| b.lists.get(n))
        && !prefix_list_apply(l, prefix)
    {
        return None;
    }
    let mut a = (*best.attrs).clone();
    if reflect {
        a.originator_id.get_or_insert(best.peer_id);
        a.cluster_list.insert(0, b.conf.cluster_id.unwrap_or(b.router_id));
    }
    if ebgp {
        a.prepend(b.conf.asn, 1);
        a.originator_id = None;
        a.cluster_list.clear();
        a.local_pref = None;
        a.next_hop = local;
        if !best.local() {
            a.med = None;
        }
    } else {
        a.local_pref = Some(a.local_pref.unwrap_or(100));
        if best.local() || peer.conf.next_hop_self && !reflect {
            a.next_hop = local;
        }
    }
    let a = match &peer.conf.route_map_out {
        None => Some(a),
        Some(m) => b
            .maps
            .get(m)
            .and_then(|m| route_map_apply(m, &b.lists, prefix, &a, 0))
            .map(|x| x.0),
    }?;
    // Attributes that leave no room for a prefix in 4,096 bytes (a
    // neighbor's long unknown attribute, our prepend on top): not sent.
    (a.encoded_len() + 23 + 5 <= crate::wire::bgp::MAX_LEN).then_some(a)
}

/// `show bgp summary` (`show ip bgp summary`, `show bgp ipv4 unicast
/// summary` without the opening lines): FRR 8.4's layout.
pub fn show_bgp_summary(b: &Bgp, now: Time, af_named: bool) -> String {
    if b.peers.is_empty() {
        return "% No BGP neighbors found in VRF default\n".into();
    }
    let mut s = String::new();
    if !af_named {
        s += "\nIPv4 Unicast Summary (VRF default):\n";
    }
    let _ = writeln!(
        s,
        "BGP router identifier {}, local AS number {} vrf-id 0",
        Ipv4Addr::from(b.router_id),
        b.conf.asn
    );
    let _ = writeln!(s, "BGP table version {}", b.version);
    let bytes = b.table.len() * 48 + b.paths * std::mem::size_of::<Path>();
    let _ = writeln!(s, "RIB entries {}, using {bytes} bytes of memory", b.table.len());
    let _ = writeln!(
        s,
        "Peers {}, using {} KiB of memory\n",
        b.peers.len(),
        b.peers.len() * std::mem::size_of::<Peer>() / 1024 + 1
    );
    s += "Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc\n";
    for peer in b.peers.values() {
        let up = match peer.since {
            Some(t) => super::uptime(now.saturating_sub(t)),
            None => "never".into(),
        };
        let ebgp = peer.is_ebgp(b.conf.asn);
        let policy = |out: bool| ebgp && b.conf.ebgp_requires_policy && !peer.conf.has_policy(out);
        let (rcd, snt) = if peer.state != State::Established {
            (
                match (peer.conf.shutdown, peer.overflow) {
                    (true, _) => "Idle (Admin)",
                    (_, true) => "Idle (PfxCt)",
                    _ => peer.state.name(),
                }
                .to_string(),
                "0".to_string(),
            )
        } else {
            (
                if policy(false) {
                    "(Policy)".into()
                } else {
                    peer.pfx_rcd.to_string()
                },
                if policy(true) {
                    "(Policy)".into()
                } else {
                    peer.pfx_snt().to_string()
                },
            )
        };
        let asn = match (peer.remote_as, peer.conf.remote_as) {
            (0, RemoteAs::External) => "external".to_string(),
            (a, _) => a.to_string(),
        };
        let outq = peer.conns.iter().map(|c| count_msgs(&c.wbuf)).sum::<u64>();
        let _ = writeln!(
            s,
            "{:<16}4 {asn:>10} {:>9} {:>9} {:>8} {:>4} {:>4} {up:>8} {rcd:>12} {snt:>8} {}",
            Ipv4Addr::from(peer.addr).to_string(),
            peer.msg_rcvd,
            peer.msg_sent,
            0,
            0,
            outq,
            peer.conf.description.as_deref().unwrap_or("N/A")
        );
    }
    let _ = writeln!(s, "\nTotal number of neighbors {}", b.peers.len());
    s
}

/// `show bgp neighbors [A.B.C.D]`: FRR 8.4's first lines for each, the
/// message counts, resets, and what RFC 7606 made of its UPDATEs.
pub fn show_bgp_neighbors(b: &Bgp, now: Time, only: Option<u32>) -> String {
    let mut s = String::new();
    for peer in b.peers.values().filter(|x| only.is_none_or(|a| a == x.addr)) {
        let kind = if peer.is_ebgp(b.conf.asn) {
            "external"
        } else {
            "internal"
        };
        let _ = writeln!(
            s,
            "BGP neighbor is {}, remote AS {}, local AS {}, {kind} link",
            Ipv4Addr::from(peer.addr),
            peer.remote_as,
            b.conf.asn
        );
        if let Some(d) = &peer.conf.description {
            let _ = writeln!(s, " Description: {d}");
        }
        let _ = writeln!(
            s,
            "  BGP version 4, remote router ID {}, local router ID {}",
            Ipv4Addr::from(peer.remote_id),
            Ipv4Addr::from(b.router_id)
        );
        let _ = write!(s, "  BGP state = {}", peer.state.name());
        if let (State::Established, Some(t)) = (peer.state, peer.since) {
            let _ = write!(s, ", up for {}", super::uptime(now.saturating_sub(t)));
        }
        s.push('\n');
        let (ka, hold) = peer.conf.timers.unwrap_or((b.conf.keepalive, b.conf.hold));
        if peer.state == State::Established {
            let _ = writeln!(
                s,
                "  Hold time is {} seconds, keepalive interval is {} seconds",
                peer.hold, peer.keepalive
            );
        }
        let _ = writeln!(
            s,
            "  Configured hold time is {hold} seconds, keepalive interval is {ka} seconds"
        );
        let _ = writeln!(
            s,
            "  Message statistics:\n                         Sent       Rcvd\n    Total:           {:>10} {:>10}",
            peer.msg_sent, peer.msg_rcvd
        );
        let _ = writeln!(s, "  {} accepted prefixes", peer.pfx_rcd);
        let dropped = peer.established - u64::from(peer.state == State::Established);
        let _ = writeln!(s, "  Connections established {}; dropped {dropped}", peer.established);
        match (&peer.last_reset, peer.reset_at) {
            (Some(r), Some(t)) => {
                let _ = writeln!(s, "  Last reset {},  {r}", super::uptime(now.saturating_sub(t)));
            }
            (Some(r), None) => {
                let _ = writeln!(s, "  Last reset never,  {r}");
            }
            _ => s += "  Last reset never\n",
        }
        let _ = writeln!(
            s,
            "  Malformed UPDATEs treated as withdraw (RFC 7606): {}; attributes discarded: {}\n",
            peer.withdrawn_7606, peer.discarded
        );
    }
    s
}

/// `show bgp ipv4 unicast A.B.C.D[/M]`: the prefix (or the longest one
/// holding the address) and each path, FRR 8.4's layout (without its
/// per-prefix version and update time, which are not kept here).
pub fn show_bgp_prefix(b: &Bgp, what: &str) -> String {
    let found = match super::conf::parse_prefix(what) {
        Some(p) if what.contains('/') => b.table.get_key_value(&p),
        _ => crate::net::route::inet_addr(what).and_then(|a| {
            (0..=32u8)
                .rev()
                .find_map(|l| b.table.get_key_value(&(a & crate::net::radix::mask(l), l)))
        }),
    };
    let Some((&(net, len), v)) = found else {
        return "% Network not in table\n".into();
    };
    let best = v.first().filter(|x| x.via.is_some());
    let mut s = format!("BGP routing table entry for {}/{len}\n", Ipv4Addr::from(net));
    let _ = write!(s, "Paths: ({} available", v.len());
    if best.is_some() {
        s += ", best #1";
    } else {
        s += ", no best path";
    }
    s += ", table default)\n";
    let adv: Vec<String> = b
        .peers
        .values()
        .filter(|x| x.adj_out.contains_key(&(net, len)))
        .map(|x| Ipv4Addr::from(x.addr).to_string())
        .collect();
    if adv.is_empty() {
        s += "  Not advertised to any peer\n";
    } else {
        let _ = writeln!(s, "  Advertised to non peer-group peers:\n  {}", adv.join(" "));
    }
    for (i, path) in v.iter().enumerate() {
        let a = &path.attrs;
        let text = a.path_text();
        let _ = writeln!(s, "  {}", if text.is_empty() { "Local" } else { &text });
        let (from, id) = match path.source {
            Source::Peer(x) => (x, path.peer_id),
            _ => (0, b.router_id),
        };
        let _ = writeln!(
            s,
            "    {} from {} ({})",
            Ipv4Addr::from(a.next_hop),
            Ipv4Addr::from(from),
            Ipv4Addr::from(id)
        );
        let _ = write!(
            s,
            "      Origin {}",
            ["IGP", "EGP", "incomplete"][a.origin.min(2) as usize]
        );
        if let Some(m) = a.med {
            let _ = write!(s, ", metric {m}");
        }
        if let Some(l) = a.local_pref {
            let _ = write!(s, ", localpref {l}");
        }
        if path.weight != 0 {
            let _ = write!(s, ", weight {}", path.weight);
        }
        if path.via.is_some() {
            s += ", valid";
        }
        s += match path.source {
            Source::Peer(_) if path.ebgp => ", external",
            Source::Peer(_) => ", internal",
            Source::Network => ", sourced, local",
            Source::Redist(_) => ", sourced",
        };
        if i == 0 && best.is_some() {
            let why = v.get(1).map_or("First path received", |o| path.reason(o));
            let _ = write!(s, ", best ({why})");
        }
        s.push('\n');
        if let Some(o) = a.originator_id {
            let cl: Vec<String> = a.cluster_list.iter().map(|c| Ipv4Addr::from(*c).to_string()).collect();
            let _ = writeln!(
                s,
                "      Originator: {}, Cluster list: {}",
                Ipv4Addr::from(o),
                cl.join(" ")
            );
        }
    }
    s
}

/// `show bgp ipv4 unicast` (`show ip bgp`): FRR 8.4's layout.
pub fn show_bgp_table(b: &Bgp) -> String {
    if b.table.is_empty() {
        return "No BGP prefixes displayed, 0 exist\n".into();
    }
    let mut s = format!(
        "BGP table version is {}, local router ID is {}, vrf id 0\n\
         Default local pref 100, local AS {}\n\
         Status codes:  s suppressed, d damped, h history, * valid, > best, = multipath,\n               \
         i internal, r RIB-failure, S Stale, R Removed\n\
         Nexthop codes: @NNN nexthop's vrf id, < announce-nh-self\n\
         Origin codes:  i - IGP, e - EGP, ? - incomplete\n\
         RPKI validation codes: V valid, I invalid, N Not found\n\n   \
         Network          Next Hop            Metric LocPrf Weight Path\n",
        b.version,
        Ipv4Addr::from(b.router_id),
        b.conf.asn
    );
    for (&(net, len), v) in &b.table {
        for (i, path) in v.iter().enumerate() {
            let status = match (path.via.is_some(), i == 0) {
                (true, true) => "*>",
                (true, false) => "* ",
                _ => "  ",
            };
            let internal = if matches!(path.source, Source::Peer(_)) && !path.ebgp {
                'i'
            } else {
                ' '
            };
            let network = if i == 0 {
                format!("{}/{len}", Ipv4Addr::from(net))
            } else {
                String::new()
            };
            let a = &path.attrs;
            let nh = Ipv4Addr::from(a.next_hop).to_string();
            let metric = a.med.map_or(String::new(), |m| m.to_string());
            let lp = a.local_pref.map_or(String::new(), |m| m.to_string());
            let origin = ['i', 'e', '?'][a.origin.min(2) as usize];
            let path_text = a.path_text();
            let sep = if path_text.is_empty() { "" } else { " " };
            let _ = writeln!(
                s,
                "{status}{internal}{network:<17}{nh:<16}{metric:>10}{lp:>7}{:>7} {path_text}{sep}{origin}",
                path.weight
            );
        }
    }
    let _ = writeln!(s, "\nDisplayed  {} routes and {} total paths", b.table.len(), b.paths);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::bgp::Seg;

    fn path(src: Source, f: impl FnOnce(&mut Attrs)) -> Path {
        let mut a = Attrs {
            as_path: vec![Seg::Seq(vec![65002])],
            ..Attrs::default()
        };
        f(&mut a);
        Path {
            source: src,
            attrs: Rc::new(a),
            weight: 0,
            ebgp: true,
            peer_id: 2,
            via: Some((1, 1)),
        }
    }

    #[test]
    fn the_decision_process_goes_in_its_order() {
        use std::cmp::Ordering::Less;
        let p1 = Source::Peer(1);
        let p2 = Source::Peer(2);
        let short = path(p1, |_| {});
        let long = path(p2, |a| a.as_path = vec![Seg::Seq(vec![65002, 65003])]);
        assert_eq!(short.better(&long), Less, "a shorter AS path");
        let pref = path(p2, |a| {
            a.as_path = vec![Seg::Seq(vec![65002, 65003])];
            a.local_pref = Some(200);
        });
        assert_eq!(pref.better(&short), Less, "LOCAL_PREF before path length");
        let mut igp = path(p2, |a| a.origin = ORIGIN_IGP);
        let incomplete = path(p1, |a| a.origin = ORIGIN_INCOMPLETE);
        assert_eq!(igp.better(&incomplete), Less, "ORIGIN");
        let low_med = path(p2, |a| a.med = Some(5));
        let high_med = path(p1, |a| a.med = Some(50));
        assert_eq!(low_med.better(&high_med), Less, "MED from the same AS");
        igp.via = None;
        assert_eq!(incomplete.better(&igp), Less, "an unreachable next hop loses");
        let mut ibgp = path(p1, |_| {});
        ibgp.ebgp = false;
        assert_eq!(path(p2, |_| {}).better(&ibgp), Less, "eBGP over iBGP");
        let mut heavy = path(p2, |a| a.as_path = vec![Seg::Seq(vec![1, 2, 3])]);
        heavy.weight = 100;
        assert_eq!(heavy.better(&pref), Less, "weight first");
    }
}
