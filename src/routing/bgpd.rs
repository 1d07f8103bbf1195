//! bgpd: BGP-4 (RFC 4271) for IPv4 and IPv6 unicast (RFC 4760, RFC
//! 2545), as FRR's bgpd is run and configured (`router bgp ASN`). One task holds every session: a
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
//! only what changed is sent, as UPDATEs that share attributes. Both
//! families are one code over `K: BgpFamily` (`Afi<K>` and `PeerAfi<K>`
//! are a family's tables); sessions run over IPv4.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::future::{Future, poll_fn};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use smallvec::SmallVec;

use super::Frr;
use super::conf::{BgpAfConf, BgpConf, BgpNeighbor, NeighborAf, Redist, RemoteAs};
use super::daemon::{Daemon, Wake, daemon_open, daemon_run, daemon_stop, daemon_wait};
use super::policy::{PrefixList, RmEntry, RouteMap, prefix_list_apply, route_map_apply};
use super::rib::{Proto, Rib, RibFamily, RibRoute, kernel_routes};
use crate::errln;
use crate::kern::clock::Time;
use crate::kern::proc::Proc;
use crate::netinet::in_::in_ifaddr_all;
use crate::netinet6::in6::{IN6_IFF_DUPLICATED, IN6_IFF_TENTATIVE, in6_ifaddr_all};
use crate::socket::{RouteSocket, TcpListener, TcpStream};
use crate::wire::bgp::{
    AFI_IPV4, AFI_IPV6, AS_TRANS, Attrs, BgpErr, Cap, Msg, ORIGIN_IGP, ORIGIN_INCOMPLETE, Open, SAFI_UNICAST, Update,
    Verdict, emit_end_of_rib6, emit_updates, emit_updates6, emit_withdraws, emit_withdraws6, err, msg_len,
    notification_text,
};
use crate::wire::ipv6::{in6_clearscope, in6_getscope, in6_setscope};

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

/// A path to a prefix of IPv4 (`K` = `u32`) or IPv6 (`u128`).
#[derive(Clone, Debug)]
pub struct Path<K = u32> {
    pub source: Source,
    pub attrs: Rc<Attrs>,
    pub weight: u32,
    pub ebgp: bool,
    /// The neighbor's BGP identifier (ours for our own paths).
    pub peer_id: u32,
    /// Gateway and interface its next hop is reached by; `None` while it
    /// cannot be (the path is not valid).
    pub via: Option<(K, u32)>,
}

impl<K> Path<K> {
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
    fn better(&self, o: &Path<K>) -> std::cmp::Ordering {
        let lp = |p: &Path<K>| p.attrs.local_pref.unwrap_or(100);
        let peer = |p: &Path<K>| match p.source {
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

impl<K> Path<K> {
    /// Why `self` wins over `o`: FRR's words for the step that decided
    /// (`bgp_path_selection_reason2str`).
    fn reason(&self, o: &Path<K>) -> &'static str {
        use std::cmp::Ordering::Equal;
        let lp = |p: &Path<K>| p.attrs.local_pref.unwrap_or(100);
        let med = |p: &Path<K>| p.attrs.med.unwrap_or(0);
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
pub struct Conn {
    /// Which of its neighbor's connections (its index moves as others close).
    id: u64,
    stream: TcpStream,
    state: State,
    /// We connected (not the neighbor): what §6.8 compares.
    initiated: bool,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// Our address on it: the next hop we announce; and its interface.
    local: u32,
    ifindex: u32,
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
    /// What it has of IPv4 unicast and of IPv6 unicast.
    pub v4: PeerAfi<u32>,
    pub v6: PeerAfi<u128>,
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
            v4: PeerAfi::default(),
            v6: PeerAfi::default(),
            overflow: false,
            last_reset: None,
            reset_at: None,
            withdrawn_7606: 0,
            discarded: 0,
            established: 0,
        }
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

    /// Each family's routes go to it again at the next round (`resend`:
    /// even what it has).
    fn export_again(&mut self, resend: bool) {
        if self.state == State::Established {
            self.v4.export_again(resend);
            self.v6.export_again(resend);
        }
    }

    fn established_conn(&mut self) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.state == State::Established)
    }
}

/// What a neighbor has of one address family.
pub struct PeerAfi<K: BgpFamily> {
    /// Negotiated in the OPENs (RFC 4760 §8): routes of the family go
    /// both ways.
    pub enabled: bool,
    /// Prefixes accepted from it.
    pub pfx_rcd: u32,
    adj_out: BTreeMap<(K, u8), Rc<Attrs>>,
    export_all: bool,
    /// Send everything again, as if the Adj-RIB-Out were empty (a route
    /// refresh, `clear bgp soft out`) without forgetting what it holds;
    /// End-of-RIB after it.
    resend: bool,
    eor: bool,
    /// The next hop of ours it was last sent.
    local: Option<K::Nh>,
}

impl<K: BgpFamily> Default for PeerAfi<K> {
    fn default() -> Self {
        PeerAfi {
            enabled: false,
            pfx_rcd: 0,
            adj_out: BTreeMap::new(),
            export_all: false,
            resend: false,
            eor: false,
            local: None,
        }
    }
}

impl<K: BgpFamily> PeerAfi<K> {
    pub fn pfx_snt(&self) -> usize {
        self.adj_out.len()
    }

    /// Everything goes to it again at the next round (`resend`: even
    /// what it has, then End-of-RIB).
    fn export_again(&mut self, resend: bool) {
        self.export_all = self.enabled;
        self.resend |= resend && self.enabled;
        self.eor |= resend && self.enabled;
    }
}

/// One address family's tables.
pub struct Afi<K: BgpFamily> {
    /// Every path, by prefix; the best first once decided. Most prefixes
    /// have one path, kept in the map's node (a million of them is the
    /// size of a full table).
    pub table: BTreeMap<(K, u8), SmallVec<[Path<K>; 1]>>,
    /// Prefixes whose paths changed: decided, given to the RIB and sent
    /// out at the next round.
    dirty: BTreeSet<(K, u8)>,
    /// Our own paths, as last made.
    local: BTreeMap<((K, u8), Source), Rc<Attrs>>,
    nh_cache: HashMap<K::Nh, Option<(K, u32)>>,
    pub version: u64,
    pub paths: usize,
}

impl<K: BgpFamily> Default for Afi<K> {
    fn default() -> Self {
        Afi {
            table: BTreeMap::new(),
            dirty: BTreeSet::new(),
            local: BTreeMap::new(),
            nh_cache: HashMap::new(),
            version: 0,
            paths: 0,
        }
    }
}

impl<K: BgpFamily> Afi<K> {
    fn insert_path(&mut self, prefix: (K, u8), path: Path<K>) -> bool {
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

    fn remove_path(&mut self, prefix: (K, u8), source: Source) -> bool {
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
    pub fn best(&self, prefix: &(K, u8)) -> Option<&Path<K>> {
        self.table.get(prefix)?.first().filter(|p| p.via.is_some())
    }

    /// Every path from `src` goes (its session ended).
    fn remove_source(&mut self, src: Source) {
        let gone: Vec<(K, u8)> = self
            .table
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.source == src))
            .map(|(k, _)| *k)
            .collect();
        for prefix in gone {
            self.remove_path(prefix, src);
        }
    }
}

/// A prefix: network and length.
pub type Pfx<K> = (K, u8);

/// What differs between IPv4 and IPv6 unicast: where a family's tables,
/// settings and policy are, its next hops (RFC 2545 §2 for IPv6's), and
/// how its UPDATEs are written (NLRI and NEXT_HOP, or MP_REACH_NLRI).
pub trait BgpFamily: RibFamily + std::hash::Hash + 'static {
    /// Its index in a neighbor's settings (`BgpNeighbor::af`).
    const AF: usize;
    const AFI: u16;
    /// FRR's name of it: `IPv4 Unicast`.
    const NAME: &'static str;
    /// The RIB's protocols `redistribute` names, and their names.
    const REDIST: &'static [(Proto, Redist)];
    /// A next hop as the family has it: IPv6's is global and link-local.
    type Nh: Copy + Eq + std::hash::Hash + std::fmt::Debug;
    fn afi(b: &Bgp) -> &Afi<Self>;
    fn afi_mut(b: &mut Bgp) -> &mut Afi<Self>;
    fn peer_afi(p: &Peer) -> &PeerAfi<Self>;
    fn peer_afi_mut(p: &mut Peer) -> &mut PeerAfi<Self>;
    fn conf(c: &BgpConf) -> &BgpAfConf<Self>;
    fn lists(b: &Bgp) -> &BTreeMap<String, PrefixList<Self>>;
    fn rib(f: &mut Frr) -> &mut Rib<Self>;
    /// An UPDATE's withdrawn routes and NLRI of the family.
    fn nlri(u: &Update) -> (&[Pfx<Self>], &[Pfx<Self>]);
    /// Not for any router to claim.
    fn martian(prefix: (Self, u8)) -> bool;
    /// A route map's `match ... address prefix-list` of this family, and
    /// of the other (which no route of this one matches).
    fn match_lists(e: &RmEntry) -> (&Option<String>, &Option<String>);
    /// A route map's `set ip next-hop` or `set ipv6 next-hop global`.
    fn set_next_hop(e: &RmEntry, a: &mut Attrs);
    fn nh(a: &Attrs) -> Self::Nh;
    fn set_nh(a: &mut Attrs, nh: Self::Nh);
    /// A path's attributes as a neighbor on interface `ifindex` sent
    /// them, made the family's own (the other's next hop left out, a
    /// link-local one put in its zone); `None` if the next hop is not a
    /// unicast address of another router (RFC 7606 §7.3).
    fn received(p: &Proc, a: &Attrs, ifindex: u32) -> Option<Attrs>;
    /// The gateway and interface that reach next hop `nh`.
    fn resolve(p: &Proc, rib: &Rib<Self>, nh: Self::Nh) -> Option<(Self, u32)>;
    /// The next hop we announce on connection `c`.
    fn local_nh(p: &Proc, c: &Conn) -> Option<Self::Nh>;
    /// The next hop as it goes unchanged to an iBGP neighbor (IPv6's
    /// link-local one is only for the link, RFC 2545 §3).
    fn ibgp_nh(_a: &mut Attrs) {}
    /// A path's next hop as `show bgp` prints it: in the table
    /// (`table`), IPv6's link-local one if there is one.
    fn nh_text(a: &Attrs, table: bool) -> String;
    fn emit_updates(a: &Attrs, nlri: &[(Self, u8)], as4: bool, out: &mut Vec<u8>);
    fn emit_withdraws(prefixes: &[(Self, u8)], out: &mut Vec<u8>);
    fn emit_end_of_rib(out: &mut Vec<u8>);
}

impl BgpFamily for u32 {
    const AF: usize = 0;
    const AFI: u16 = AFI_IPV4;
    const NAME: &'static str = "IPv4 Unicast";
    const REDIST: &'static [(Proto, Redist)] = &[
        (Proto::Ospf, Redist::Ospf),
        (Proto::Rip, Redist::Rip),
        (Proto::Static, Redist::Static),
    ];
    type Nh = u32;
    fn afi(b: &Bgp) -> &Afi<u32> {
        &b.v4
    }
    fn afi_mut(b: &mut Bgp) -> &mut Afi<u32> {
        &mut b.v4
    }
    fn peer_afi(p: &Peer) -> &PeerAfi<u32> {
        &p.v4
    }
    fn peer_afi_mut(p: &mut Peer) -> &mut PeerAfi<u32> {
        &mut p.v4
    }
    fn conf(c: &BgpConf) -> &BgpAfConf<u32> {
        &c.v4
    }
    fn lists(b: &Bgp) -> &BTreeMap<String, PrefixList<u32>> {
        &b.lists
    }
    fn rib(f: &mut Frr) -> &mut Rib<u32> {
        &mut f.rib
    }
    fn nlri(u: &Update) -> (&[(u32, u8)], &[(u32, u8)]) {
        (&u.withdrawn, &u.nlri)
    }
    /// 0/8, loopback, multicast, class E.
    fn martian(prefix: (u32, u8)) -> bool {
        let a = prefix.0 >> 24;
        (a == 0 && prefix.1 > 0) || a == 127 || a >= 224
    }
    fn match_lists(e: &RmEntry) -> (&Option<String>, &Option<String>) {
        (&e.match_prefix_list, &e.match_prefix_list6)
    }
    fn set_next_hop(e: &RmEntry, a: &mut Attrs) {
        if let Some(n) = e.next_hop {
            a.next_hop = n;
        }
    }
    fn nh(a: &Attrs) -> u32 {
        a.next_hop
    }
    fn set_nh(a: &mut Attrs, nh: u32) {
        a.next_hop = nh;
    }
    fn received(p: &Proc, a: &Attrs, _: u32) -> Option<Attrs> {
        let nh = a.next_hop;
        let bad = nh == 0 || nh >> 24 == 127 || nh >> 28 >= 14 || is_ours(p, nh);
        (!bad).then(|| Attrs {
            next_hop6: None,
            ..a.clone()
        })
    }
    fn resolve(p: &Proc, rib: &Rib<u32>, nh: u32) -> Option<(u32, u32)> {
        rib.resolve(p, nh, Proto::Bgp)
    }
    fn local_nh(_: &Proc, c: &Conn) -> Option<u32> {
        Some(c.local)
    }
    fn nh_text(a: &Attrs, _: bool) -> String {
        Ipv4Addr::from(a.next_hop).to_string()
    }
    fn emit_updates(a: &Attrs, nlri: &[(u32, u8)], as4: bool, out: &mut Vec<u8>) {
        emit_updates(a, nlri, as4, out);
    }
    fn emit_withdraws(prefixes: &[(u32, u8)], out: &mut Vec<u8>) {
        emit_withdraws(prefixes, out);
    }
    fn emit_end_of_rib(out: &mut Vec<u8>) {
        Msg::Update(Update::default()).emit(true, out);
    }
}

impl BgpFamily for u128 {
    const AF: usize = 1;
    const AFI: u16 = AFI_IPV6;
    const NAME: &'static str = "IPv6 Unicast";
    const REDIST: &'static [(Proto, Redist)] = &[(Proto::Rip, Redist::Ripng), (Proto::Static, Redist::Static)];
    type Nh = (u128, Option<u128>);
    fn afi(b: &Bgp) -> &Afi<u128> {
        &b.v6
    }
    fn afi_mut(b: &mut Bgp) -> &mut Afi<u128> {
        &mut b.v6
    }
    fn peer_afi(p: &Peer) -> &PeerAfi<u128> {
        &p.v6
    }
    fn peer_afi_mut(p: &mut Peer) -> &mut PeerAfi<u128> {
        &mut p.v6
    }
    fn conf(c: &BgpConf) -> &BgpAfConf<u128> {
        &c.v6
    }
    fn lists(b: &Bgp) -> &BTreeMap<String, PrefixList<u128>> {
        &b.lists6
    }
    fn rib(f: &mut Frr) -> &mut Rib<u128> {
        &mut f.rib6
    }
    fn nlri(u: &Update) -> (&[(u128, u8)], &[(u128, u8)]) {
        (&u.withdrawn6, &u.nlri6)
    }
    /// Unspecified, loopback, link-local, multicast, and IPv4-mapped.
    fn martian((a, len): (u128, u8)) -> bool {
        let ip = Ipv6Addr::from(a);
        (a == 0 && len > 0)
            || ip.is_loopback()
            || ip.is_unicast_link_local()
            || ip.is_multicast()
            || ip.to_ipv4_mapped().is_some()
    }
    fn match_lists(e: &RmEntry) -> (&Option<String>, &Option<String>) {
        (&e.match_prefix_list6, &e.match_prefix_list)
    }
    fn set_next_hop(e: &RmEntry, a: &mut Attrs) {
        if let Some(n) = e.next_hop6 {
            a.next_hop6 = Some((n, None));
        }
    }
    fn nh(a: &Attrs) -> (u128, Option<u128>) {
        a.next_hop6.unwrap_or_default()
    }
    fn set_nh(a: &mut Attrs, nh: (u128, Option<u128>)) {
        a.next_hop6 = Some(nh);
    }
    fn received(p: &Proc, a: &Attrs, ifindex: u32) -> Option<Attrs> {
        let (g, ll) = a.next_hop6?;
        let ip = Ipv6Addr::from(g);
        let zoned = |x: u128| in6_setscope(Ipv6Addr::from(x), ifindex).to_bits();
        let ll = ll.filter(|l| Ipv6Addr::from(*l).is_unicast_link_local()).map(zoned);
        // Ours, a link-local one in the session's zone.
        let ours = |x: u128| {
            p.vnet(|_, v| in6_ifaddr_all(v).iter().any(|a| a.addr.to_bits() == x))
                .unwrap_or(false)
        };
        if g == 0 || ip.is_loopback() || ip.is_multicast() || ours(zoned(g)) || ll.is_some_and(ours) {
            return None;
        }
        Some(Attrs {
            next_hop: 0,
            next_hop6: Some((zoned(g), ll)),
            ..a.clone()
        })
    }
    /// A link-local next hop is on its zone's link; a global one is
    /// looked up, and when it is on a link the neighbor's link-local
    /// address there is the gateway (as FRR prefers it).
    fn resolve(p: &Proc, rib: &Rib<u128>, (g, ll): (u128, Option<u128>)) -> Option<(u128, u32)> {
        let ip = Ipv6Addr::from(g);
        if ip.is_unicast_link_local() {
            return in6_getscope(&ip).map(|z| (g, z));
        }
        let zone = |l: &u128| in6_getscope(&Ipv6Addr::from(*l));
        match rib.resolve(p, g, Proto::Bgp)? {
            // The link-local one only where it is: on the session's link.
            (gw, i) if gw == g => Some((ll.filter(|l| zone(l) == Some(i)).unwrap_or(g), i)),
            r => Some(r),
        }
    }
    /// The interface's global address and its link-local one, as FRR
    /// sends them; on an interface without a global address its
    /// link-local one alone. None on a link without IPv6: nothing of
    /// IPv6 goes there. A session over a loopback interface (iBGP
    /// between loopbacks) has no link: its global address alone.
    fn local_nh(p: &Proc, c: &Conn) -> Option<(u128, Option<u128>)> {
        p.vnet(|_, v| {
            let lo = v
                .get(crate::net::ifnet::IF)
                .and_then(|l| l.get(c.ifindex))
                .is_some_and(|f| f.is_loopback());
            let here = || {
                in6_ifaddr_all(v)
                    .iter()
                    .filter(|a| a.usable() && a.index == c.ifindex && !a.addr.is_loopback())
            };
            let ll = here()
                .find(|a| a.addr.is_unicast_link_local() && !lo)
                .map(|a| in6_clearscope(a.addr).to_bits());
            match (here().find(|a| !a.addr.is_unicast_link_local()), ll) {
                (Some(g), ll) => Some((g.addr.to_bits(), ll)),
                (None, ll) => ll.map(|ll| (ll, None)),
            }
        })
        .ok()
        .flatten()
    }
    fn ibgp_nh(a: &mut Attrs) {
        if let Some((_, ll)) = &mut a.next_hop6 {
            *ll = None;
        }
    }
    fn nh_text(a: &Attrs, table: bool) -> String {
        match a.next_hop6 {
            Some((_, Some(ll))) if table => ll.show(),
            Some((g, _)) => g.show(),
            None => "::".into(),
        }
    }
    fn emit_updates(a: &Attrs, nlri: &[(u128, u8)], as4: bool, out: &mut Vec<u8>) {
        let mut a = a.clone();
        if let Some((g, ll)) = &mut a.next_hop6 {
            *g = in6_clearscope(Ipv6Addr::from(*g)).to_bits();
            *ll = ll.map(|l| in6_clearscope(Ipv6Addr::from(l)).to_bits());
        }
        emit_updates6(&a, nlri, as4, out);
    }
    fn emit_withdraws(prefixes: &[(u128, u8)], out: &mut Vec<u8>) {
        emit_withdraws6(prefixes, out);
    }
    fn emit_end_of_rib(out: &mut Vec<u8>) {
        emit_end_of_rib6(out);
    }
}

/// bgpd's state, while it runs.
pub struct Bgp {
    pub conf: BgpConf,
    lists: BTreeMap<String, PrefixList>,
    lists6: BTreeMap<String, PrefixList<u128>>,
    maps: BTreeMap<String, RouteMap>,
    pub router_id: u32,
    pub peers: BTreeMap<u32, Peer>,
    /// IPv4 unicast's tables and IPv6 unicast's.
    pub v4: Afi<u32>,
    pub v6: Afi<u128>,
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
            lists6: BTreeMap::new(),
            maps: BTreeMap::new(),
            router_id: 0,
            peers: BTreeMap::new(),
            v4: Afi::default(),
            v6: Afi::default(),
            refused: 0,
            clears: Vec::new(),
        }
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
    let Ok(rs) = RouteSocket::open(&p, None) else {
        daemon_stop(&p, &frr, Daemon::Bgpd);
        return 1;
    };
    let f = frr.clone();
    daemon_run(p, frr, Daemon::Bgpd, a.daemon, move |q| serve(q, f, listener, rs)).await
}

async fn serve(p: Proc, frr: Rc<RefCell<Frr>>, listener: TcpListener, rs: RouteSocket) -> i32 {
    p.intr.catch();
    let mut seen = u64::MAX;
    let mut gens = [u64::MAX; 5];
    let mut kernel = true;
    let mut tentative = 0;
    let mut buf = vec![0u8; 65_536];
    loop {
        let now = p.now();
        // The kernel tells no one when DAD ends: while an IPv6 address is
        // tentative, its connected network is looked for each second.
        let t = p
            .vnet(|_, v| {
                in6_ifaddr_all(v)
                    .iter()
                    .filter(|a| a.flags & (IN6_IFF_TENTATIVE | IN6_IFF_DUPLICATED) == IN6_IFF_TENTATIVE)
                    .count()
            })
            .unwrap_or(0);
        kernel |= t != tentative;
        tentative = t;
        let next = {
            let mut f = frr.borrow_mut();
            let Frr {
                conf,
                bgp,
                rib,
                rib6,
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
            let g = [
                rib.generation(Proto::Ospf),
                rib.generation(Proto::Rip),
                rib.generation(Proto::Static),
                rib6.generation(Proto::Rip),
                rib6.generation(Proto::Static),
            ];
            for (only, how) in std::mem::take(&mut b.clears) {
                bgp_clear(b, only, how, now);
            }
            if kernel || g != gens {
                gens = g;
                originate = true;
                bgp_revalidate(&p, b, rib);
                bgp_revalidate(&p, b, rib6);
            }
            if kernel {
                bgp_fast_failover(&p, b, rib, now);
                // Our IPv6 next hop is the session interface's addresses:
                // when they changed, what we sent goes out again.
                for peer in b.peers.values_mut() {
                    let now6 = peer.established_conn().and_then(|c| u128::local_nh(&p, c));
                    if peer.state == State::Established && peer.v6.local != now6 {
                        peer.v6.export_again(false);
                    }
                }
            }
            if originate {
                bgp_originate(&p, b, rib);
                bgp_originate(&p, b, rib6);
            }
            kernel = false;
            bgp_timers(&p, b, now);
            bgp_input(&p, b, rib, rib6, now);
            bgp_decide(&p, b, rib);
            bgp_decide(&p, b, rib6);
            rib.sync(&p, &rs);
            rib6.sync(&p, &rs);
            let next = bgp_next_event(b);
            if tentative > 0 {
                next.min(now.saturating_add(Duration::from_secs(1)))
            } else {
                next
            }
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
            Ok((s, SocketAddr::V4(from))) => bgp_accepted(p, b, s, u32::from(*from.ip()), now),
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
                Ok(s) => bgp_connected(p, b.router_id, &b.conf, peer, s, true, now),
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
fn bgp_accepted(p: &Proc, b: &mut Bgp, s: TcpStream, from: u32, now: Time) {
    let (id, conf) = (b.router_id, &b.conf);
    match b.peers.get_mut(&from) {
        Some(peer) if !peer.conf.shutdown && !peer.overflow && peer.conns.len() < 2 => {
            bgp_connected(p, id, conf, peer, s, false, now);
        }
        _ => b.refused += 1,
    }
}

/// A connection is up (ours or the neighbor's): OPEN goes out (§8.2.2).
fn bgp_connected(p: &Proc, id: u32, conf: &BgpConf, peer: &mut Peer, s: TcpStream, initiated: bool, now: Time) {
    let local = match s.local_addr() {
        Ok(SocketAddr::V4(a)) => u32::from(*a.ip()),
        _ => 0,
    };
    let ifindex = p
        .vnet(|_, v| in_ifaddr_all(v).iter().find(|a| a.addr == local).map(|a| a.index))
        .ok()
        .flatten()
        .unwrap_or(0);
    peer.conn_ids += 1;
    peer.conns.push(Conn {
        id: peer.conn_ids,
        stream: s,
        state: State::OpenSent,
        initiated,
        rbuf: Vec::new(),
        wbuf: Vec::new(),
        local,
        ifindex,
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
        caps: [AFI_IPV4, AFI_IPV6]
            .into_iter()
            .zip(&peer.conf.af)
            .filter(|(_, af)| af.activate)
            .map(|(afi, _)| Cap::Mp(afi, SAFI_UNICAST))
            .chain([Cap::RouteRefresh, Cap::As4(conf.asn)])
            .collect(),
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
    b.v4.remove_source(src);
    b.v6.remove_source(src);
    peer.v4 = PeerAfi::default();
    peer.v6 = PeerAfi::default();
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
    let policy_changed = b.lists != conf.prefix_lists || b.lists6 != conf.prefix_lists6 || b.maps != conf.route_maps;
    b.lists = conf.prefix_lists.clone();
    b.lists6 = conf.prefix_lists6.clone();
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
                // A family activated or not changes the OPEN's capabilities.
                let activate = |n: &BgpNeighbor| n.af.each_ref().map(|x| x.activate);
                let reset = n.remote_as != peer.conf.remote_as
                    || n.shutdown != peer.conf.shutdown
                    || n.timers != peer.conf.timers
                    || activate(n) != activate(&peer.conf);
                let (new, old) = (&n.af, &peer.conf.af);
                rr_changed |= (0..2).any(|i| new[i].rr_client != old[i].rr_client);
                let policy = (0..2).any(|i| {
                    new[i].route_map_in != old[i].route_map_in || new[i].prefix_list_in != old[i].prefix_list_in
                });
                peer.conf = n.clone();
                if reset {
                    let e = BgpErr::new(err::CEASE, err::CEASE_ADMIN_RESET);
                    while !peer.conns.is_empty() {
                        bgp_close(b, &mut peer, 0, Some(e.clone()), "Admin. reset".into(), now);
                    }
                    peer = Peer::new(a, n.clone(), c.asn, now);
                } else {
                    peer.export_again(false);
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
                peer.export_again(false);
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
            peer.export_again(false);
            bgp_refresh(peer);
        }
        b.v4.dirty.extend(b.v4.table.keys().copied());
        b.v6.dirty.extend(b.v6.table.keys().copied());
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
        Clear::SoftOut if peer.state == State::Established => peer.export_again(true),
        Clear::SoftIn => bgp_refresh(peer),
        Clear::SoftOut => {}
    });
}

/// Ask an established neighbor for its routes of each family again (RFC
/// 2918), to apply a changed inbound policy.
fn bgp_refresh(peer: &mut Peer) {
    if peer.refresh
        && let Some(ci) = peer.conns.iter().position(|c| c.state == State::Established)
    {
        for (afi, on) in [(AFI_IPV4, peer.v4.enabled), (AFI_IPV6, peer.v6.enabled)] {
            if on {
                peer.send(
                    ci,
                    &Msg::RouteRefresh {
                        afi,
                        safi: SAFI_UNICAST,
                    },
                );
            }
        }
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
fn bgp_input(p: &Proc, b: &mut Bgp, rib: &Rib, rib6: &Rib<u128>, now: Time) {
    b.each_peer(None, |b, peer| {
        let ids: Vec<u64> = peer.conns.iter().map(|c| c.id).collect();
        for id in ids {
            conn_input(p, b, (rib, rib6), peer, id, now);
        }
    });
}

/// The messages connection `id` has read, one by one, while it lasts.
fn conn_input(p: &Proc, b: &mut Bgp, ribs: Ribs, peer: &mut Peer, id: u64, now: Time) {
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
            Ok(m) => bgp_message(p, b, ribs, peer, ci, m, now),
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

/// The two RIBs, for reading: IPv4's and IPv6's.
type Ribs<'a> = (&'a Rib, &'a Rib<u128>);

/// One message on connection `ci` (§8.2.2's events for it).
fn bgp_message(p: &Proc, b: &mut Bgp, ribs: Ribs, peer: &mut Peer, ci: usize, m: Msg, now: Time) -> Result<(), Fail> {
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
            peer.export_again(true);
            peer.keepalive_at = (peer.keepalive > 0).then_some(now);
            // The other connection, if any, lost (§6.8).
            while let Some(other) = peer.conns.iter().position(|c| c.state != State::Established) {
                let e = BgpErr::new(err::CEASE, err::CEASE_COLLISION);
                bgp_close(b, peer, other, Some(e), "Connection collision".into(), now);
            }
            Ok(())
        }
        (State::Established, Msg::Keepalive) => Ok(()),
        (State::Established, Msg::Update(u)) => bgp_update(p, b, ribs, peer, u),
        (State::Established, Msg::RouteRefresh { afi, safi }) => {
            match (afi, safi) {
                (AFI_IPV4, SAFI_UNICAST) => peer.v4.export_again(true),
                (AFI_IPV6, SAFI_UNICAST) => peer.v6.export_again(true),
                _ => {}
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
    // RFC 4760 §8: a family both name; IPv4 unicast, too, from a speaker
    // that names none.
    let mp = o.caps.iter().any(|c| matches!(c, Cap::Mp(..)));
    peer.v4.enabled = peer.conf.af[0].activate && (!mp || o.has(&Cap::Mp(AFI_IPV4, SAFI_UNICAST)));
    peer.v6.enabled = peer.conf.af[1].activate && o.has(&Cap::Mp(AFI_IPV6, SAFI_UNICAST));
    let c = &mut peer.conns[ci];
    c.state = State::OpenConfirm;
    c.hold_at = (peer.hold > 0).then(|| now + Duration::from_secs(peer.hold.into()));
    c.open = Some(o);
    peer.state = State::OpenConfirm;
    peer.send(ci, &Msg::Keepalive);
    peer.keepalive_at = (peer.keepalive > 0).then(|| now + Duration::from_secs(peer.keepalive.into()));
    Ok(())
}

/// An UPDATE (§9): for each family its withdrawals, then its routes
/// checked, filtered and kept.
fn bgp_update(p: &Proc, b: &mut Bgp, (rib, rib6): Ribs, peer: &mut Peer, u: Update) -> Result<(), Fail> {
    peer.discarded += u64::from(u.discarded);
    let ebgp = peer.is_ebgp(b.conf.asn);
    // §6.3: an eBGP path must start with the neighbor's AS.
    let a = u
        .attrs
        .as_ref()
        .filter(|a| u.verdict == Verdict::Ok && !(ebgp && a.first_as() != Some(peer.remote_as)));
    let ifindex = peer
        .conns
        .iter()
        .find(|c| c.state == State::Established)
        .map_or(0, |c| c.ifindex);
    update_af::<u32>(p, b, rib, peer, &u, a, ifindex)?;
    update_af::<u128>(p, b, rib6, peer, &u, a, ifindex)
}

/// An UPDATE's routes of family `K`, with attributes `a` (`None` if
/// they are to be treated as withdrawn).
fn update_af<K: BgpFamily>(
    p: &Proc,
    b: &mut Bgp,
    rib: &Rib<K>,
    peer: &mut Peer,
    u: &Update,
    a: Option<&Attrs>,
    ifindex: u32,
) -> Result<(), Fail> {
    let src = Source::Peer(peer.addr);
    let (withdrawn, nlri) = K::nlri(u);
    if withdrawn.is_empty() && nlri.is_empty() {
        return Ok(());
    }
    if !K::peer_afi(peer).enabled {
        // A family not negotiated (RFC 4760 §7): discarded.
        peer.discarded += 1;
        return Ok(());
    }
    let gone = |b: &mut Bgp, peer: &mut Peer, prefixes: &[(K, u8)]| {
        for &prefix in prefixes {
            if K::afi_mut(b).remove_path(prefix, src) {
                K::peer_afi_mut(peer).pfx_rcd -= 1;
            }
        }
    };
    gone(b, peer, withdrawn);
    if nlri.is_empty() {
        return Ok(());
    }
    let ebgp = peer.is_ebgp(b.conf.asn);
    // RFC 7606 §7.3: a next hop must be a unicast address not ours.
    let Some(mut a) = a.and_then(|a| K::received(p, a, ifindex)) else {
        peer.withdrawn_7606 += 1;
        gone(b, peer, nlri);
        return Ok(());
    };
    if ebgp {
        // Not for another AS to say (RFC 4456 §8: non-transitive).
        a.local_pref = None;
        a.originator_id = None;
        a.cluster_list.clear();
    }
    // A loop, or (FRR 8.4's default, RFC 8212) an eBGP neighbor without
    // an inbound policy: not taken.
    // Reflected back to us (RFC 4456 §8): our own ID as the originator,
    // or our cluster in the list.
    let cluster = b.conf.cluster_id.unwrap_or(b.router_id);
    let reflected = a.originator_id == Some(b.router_id) || a.cluster_list.contains(&cluster);
    let naf = &peer.conf.af[K::AF];
    let refuse = reflected || a.path_has(b.conf.asn) || ebgp && b.conf.ebgp_requires_policy && !naf.has_policy(false);
    let attrs = Rc::new(a);
    for &prefix in nlri {
        let naf = &peer.conf.af[K::AF];
        let accepted = !refuse && !K::martian(prefix) && import_ok(b, naf, prefix);
        let path = accepted.then(|| Path {
            source: src,
            attrs: attrs.clone(),
            weight: 0,
            ebgp,
            peer_id: peer.remote_id,
            via: None,
        });
        let path = match (&naf.route_map_in, path) {
            (Some(m), Some(path)) => b
                .maps
                .get(m)
                .and_then(|m| route_map_apply(m, K::lists(b), prefix, &attrs, 0))
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
                let afi = K::afi_mut(b);
                path.via = resolve_nh(p, afi, rib, K::nh(&path.attrs));
                if afi.insert_path(prefix, path) {
                    K::peer_afi_mut(peer).pfx_rcd += 1;
                }
            }
            None => gone(b, peer, &[prefix]),
        }
    }
    if peer.conf.af[K::AF]
        .max_prefix
        .is_some_and(|m| K::peer_afi(peer).pfx_rcd > m)
    {
        peer.overflow = true;
        let e = BgpErr::new(err::CEASE, err::CEASE_MAX_PREFIX);
        return Err((Some(e), Some("Maximum prefixes reached".into())));
    }
    Ok(())
}

/// The neighbor's inbound prefix list lets `prefix` in (a list that does
/// not exist lets all in, as FRR's).
fn import_ok<K: BgpFamily>(b: &Bgp, naf: &NeighborAf, prefix: (K, u8)) -> bool {
    naf.prefix_list_in
        .as_ref()
        .and_then(|n| K::lists(b).get(n))
        .is_none_or(|l| prefix_list_apply(l, prefix))
}

/// How a next hop is reached, remembered until the kernel's routes change.
fn resolve_nh<K: BgpFamily>(p: &Proc, afi: &mut Afi<K>, rib: &Rib<K>, nh: K::Nh) -> Option<(K, u32)> {
    // Bounded: a neighbor naming a new next hop each time cannot grow it.
    if afi.nh_cache.len() >= 4096 {
        afi.nh_cache.clear();
    }
    *afi.nh_cache.entry(nh).or_insert_with(|| K::resolve(p, rib, nh))
}

/// The kernel's routes changed: each path's next hop is looked up again.
fn bgp_revalidate<K: BgpFamily>(p: &Proc, b: &mut Bgp, rib: &Rib<K>) {
    let afi = K::afi_mut(b);
    afi.nh_cache.clear();
    for (prefix, v) in afi.table.iter_mut() {
        for path in v.iter_mut().filter(|x| !x.local()) {
            let nh = K::nh(&path.attrs);
            let via = *afi.nh_cache.entry(nh).or_insert_with(|| K::resolve(p, rib, nh));
            if via != path.via {
                path.via = via;
                afi.dirty.insert(*prefix);
            }
        }
    }
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

/// Our own paths of family `K`: `network` prefixes the RIB has (FRR's
/// import check), and what `redistribute` names; changes made into the
/// table.
fn bgp_originate<K: BgpFamily>(p: &Proc, b: &mut Bgp, rib: &Rib<K>) {
    let mut want: BTreeMap<((K, u8), Source), Attrs> = BTreeMap::new();
    let mut have: BTreeMap<(K, u8), (Redist, u32)> = kernel_routes::<K>(p)
        .into_iter()
        .map(|(prefix, proto)| {
            let k = if proto == Proto::Connected {
                Redist::Connected
            } else {
                Redist::Kernel
            };
            (prefix, (k, 0))
        })
        .collect();
    for &(proto, k) in K::REDIST {
        for (prefix, r) in rib.selected(proto) {
            have.entry(prefix).or_insert((k, r.metric));
        }
    }
    let base = |origin, med| Attrs {
        origin,
        med: Some(med),
        ..Attrs::default()
    };
    let conf = K::conf(&b.conf);
    for (prefix, map) in &conf.networks {
        if let Some(&(_, metric)) = have.get(prefix) {
            let a = base(ORIGIN_IGP, metric);
            if let Some(a) = local_policy(b, map.as_deref(), *prefix, a) {
                want.insert((*prefix, Source::Network), a);
            }
        }
    }
    for (&prefix, &(k, metric)) in &have {
        // The kernel's gateway routes are static ones to FRR users.
        let r = conf.redistribute.get(&k).or_else(|| {
            (k == Redist::Kernel)
                .then(|| conf.redistribute.get(&Redist::Static))
                .flatten()
        });
        let Some((m, map)) = r else { continue };
        if K::martian(prefix) {
            continue;
        }
        let a = base(ORIGIN_INCOMPLETE, m.unwrap_or(metric));
        if let Some(a) = local_policy(b, map.as_deref(), prefix, a) {
            want.insert((prefix, Source::Redist(k)), a);
        }
    }
    let router_id = b.router_id;
    let afi = K::afi_mut(b);
    let gone: Vec<((K, u8), Source)> = afi.local.keys().filter(|k| !want.contains_key(k)).copied().collect();
    for (prefix, src) in gone {
        afi.local.remove(&(prefix, src));
        afi.remove_path(prefix, src);
    }
    for ((prefix, src), a) in want {
        if afi.local.get(&(prefix, src)).is_some_and(|x| **x == a) {
            continue;
        }
        let a = Rc::new(a);
        afi.local.insert((prefix, src), a.clone());
        let path = Path {
            source: src,
            attrs: a,
            weight: LOCAL_WEIGHT,
            ebgp: false,
            peer_id: router_id,
            via: Some((K::ZERO, 0)),
        };
        afi.insert_path(prefix, path);
    }
}

/// A `route-map` of `network` or `redistribute` applied to our own path.
fn local_policy<K: BgpFamily>(b: &Bgp, map: Option<&str>, prefix: (K, u8), a: Attrs) -> Option<Attrs> {
    match map {
        None => Some(a),
        Some(m) => b
            .maps
            .get(m)
            .and_then(|m| route_map_apply(m, K::lists(b), prefix, &a, LOCAL_WEIGHT))
            .map(|x| x.0),
    }
}

/// The decision process (§9.1) for the prefixes of family `K` that
/// changed: the best path to the RIB, and to each established neighbor
/// what it should now have.
fn bgp_decide<K: BgpFamily>(p: &Proc, b: &mut Bgp, rib: &mut Rib<K>) {
    let now = p.now();
    let (ebgp_d, ibgp_d, _) = b.conf.distance;
    let afi = K::afi_mut(b);
    let dirty = std::mem::take(&mut afi.dirty);
    for prefix in &dirty {
        let Some(v) = afi.table.get_mut(prefix) else { continue };
        if v.is_empty() {
            afi.table.remove(prefix);
            rib.withdraw(*prefix, Proto::Bgp);
            continue;
        }
        // The best by a scan, not a sort: MED compared only within a
        // neighboring AS makes `better` no total order (§9.1.2.2 c).
        if let Some(i) = (0..v.len()).min_by(|&x, &y| v[x].better(&v[y])) {
            v.swap(0, i);
        }
        match v.first() {
            Some(best) if !best.local() && !K::martian(*prefix) && best.via.is_some() => {
                let Some((gateway, ifindex)) = best.via else { continue };
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
        afi.version += 1;
    }
    b.each_peer(None, |b, peer| {
        if peer.state != State::Established || !K::peer_afi(peer).enabled {
            return;
        }
        let pa = K::peer_afi_mut(peer);
        if std::mem::take(&mut pa.export_all) {
            let all: BTreeSet<(K, u8)> = K::afi(b).table.keys().chain(pa.adj_out.keys()).copied().collect();
            let resend = std::mem::take(&mut pa.resend);
            let eor = std::mem::take(&mut pa.eor);
            bgp_export(p, b, peer, all.iter(), resend);
            // End-of-RIB (RFC 4724 §2) after a whole table, as FRR sends it.
            if let Some(c) = peer.established_conn().filter(|_| eor) {
                K::emit_end_of_rib(&mut c.wbuf);
                peer.msg_sent += 1;
            }
        } else if !dirty.is_empty() {
            bgp_export(p, b, peer, dirty.iter(), false);
        }
    });
}

/// What `peer` should have of `prefixes`, sent as UPDATEs where it
/// differs from its Adj-RIB-Out.
fn bgp_export<'a, K: BgpFamily>(
    p: &Proc,
    b: &Bgp,
    peer: &mut Peer,
    prefixes: impl Iterator<Item = &'a (K, u8)>,
    resend: bool,
) {
    let asn = b.conf.asn;
    let ebgp = peer.is_ebgp(asn);
    // No next hop of ours (no IPv6 on the link): nothing goes, what
    // went is withdrawn.
    let local = peer.established_conn().and_then(|c| K::local_nh(p, c));
    K::peer_afi_mut(peer).local = local;
    let mut announce: Vec<(Rc<Attrs>, Vec<Pfx<K>>)> = Vec::new();
    let mut withdraw = Vec::new();
    let mut last: Option<(Rc<Attrs>, Attrs)> = None;
    let afi = K::afi(b);
    for &prefix in prefixes {
        let out = local.and_then(|l| {
            afi.best(&prefix)
                .and_then(|best| export_attrs(b, peer, ebgp, l, prefix, best))
        });
        let pa = K::peer_afi_mut(peer);
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
                if !resend && pa.adj_out.get(&prefix).is_some_and(|x| **x == *rc) {
                    continue;
                }
                pa.adj_out.insert(prefix, rc.clone());
                match announce.last_mut() {
                    Some((x, v)) if Rc::ptr_eq(x, &rc) => v.push(prefix),
                    _ => announce.push((rc, vec![prefix])),
                }
            }
            None => {
                if pa.adj_out.remove(&prefix).is_some() {
                    withdraw.push(prefix);
                }
            }
        }
    }
    let as4 = peer.as4;
    let Some(c) = peer.established_conn() else { return };
    let before = c.wbuf.len();
    K::emit_withdraws(&withdraw, &mut c.wbuf);
    for (a, v) in &announce {
        K::emit_updates(a, v, as4, &mut c.wbuf);
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
/// it does not go there: `local` is our next hop on the session.
fn export_attrs<K: BgpFamily>(
    b: &Bgp,
    peer: &Peer,
    ebgp: bool,
    local: K::Nh,
    prefix: (K, u8),
    best: &Path<K>,
) -> Option<Attrs> {
    let naf = &peer.conf.af[K::AF];
    // An iBGP path goes to iBGP neighbors only as a route reflector
    // does it (RFC 4456 §8): from a client to all, from another to
    // clients, never back to where it came from.
    let mut reflect = false;
    if !ebgp && !best.local() && !best.ebgp {
        let Source::Peer(from) = best.source else { return None };
        let from_client = b.peers.get(&from).is_some_and(|x| x.conf.af[K::AF].rr_client);
        if from == peer.addr || !(from_client || naf.rr_client) {
            return None;
        }
        reflect = true;
    }
    if ebgp && b.conf.ebgp_requires_policy && !naf.has_policy(true) {
        return None;
    }
    if let Some(l) = naf.prefix_list_out.as_ref().and_then(|n| K::lists(b).get(n))
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
        K::set_nh(&mut a, local);
        if !best.local() {
            a.med = None;
        }
    } else {
        a.local_pref = Some(a.local_pref.unwrap_or(100));
        if best.local() || naf.next_hop_self && !reflect {
            K::set_nh(&mut a, local);
        } else {
            K::ibgp_nh(&mut a);
        }
    }
    let a = match &naf.route_map_out {
        None => Some(a),
        Some(m) => b
            .maps
            .get(m)
            .and_then(|m| route_map_apply(m, K::lists(b), prefix, &a, 0))
            .map(|x| x.0),
    }?;
    // Attributes that leave no room for a prefix in 4,096 bytes (a
    // neighbor's long unknown attribute, our prepend on top): not sent.
    (a.encoded_len() + 23 + 5 <= crate::wire::bgp::MAX_LEN).then_some(a)
}

/// `show bgp summary` (`show ip bgp summary`, `show bgp ipv4 unicast
/// summary` without the opening lines): FRR 8.4's layout.
pub fn show_bgp_summary<K: BgpFamily>(b: &Bgp, now: Time, af_named: bool) -> String {
    let peers: Vec<&Peer> = b.peers.values().filter(|x| x.conf.af[K::AF].activate).collect();
    if peers.is_empty() {
        return "% No BGP neighbors found in VRF default\n".into();
    }
    let afi = K::afi(b);
    let mut s = String::new();
    if !af_named {
        let _ = write!(s, "\n{} Summary (VRF default):\n", K::NAME);
    }
    let _ = writeln!(
        s,
        "BGP router identifier {}, local AS number {} vrf-id 0",
        Ipv4Addr::from(b.router_id),
        b.conf.asn
    );
    let _ = writeln!(s, "BGP table version {}", afi.version);
    let bytes = afi.table.len() * 48 + afi.paths * std::mem::size_of::<Path<K>>();
    let _ = writeln!(s, "RIB entries {}, using {bytes} bytes of memory", afi.table.len());
    let _ = writeln!(
        s,
        "Peers {}, using {} KiB of memory\n",
        peers.len(),
        peers.len() * std::mem::size_of::<Peer>() / 1024 + 1
    );
    s += "Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc\n";
    for peer in &peers {
        let up = match peer.since {
            Some(t) => super::uptime(now.saturating_sub(t)),
            None => "never".into(),
        };
        let ebgp = peer.is_ebgp(b.conf.asn);
        let policy = |out: bool| ebgp && b.conf.ebgp_requires_policy && !peer.conf.af[K::AF].has_policy(out);
        let pa = K::peer_afi(peer);
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
        } else if !pa.enabled {
            ("NoNeg".into(), "NoNeg".into())
        } else {
            (
                if policy(false) {
                    "(Policy)".into()
                } else {
                    pa.pfx_rcd.to_string()
                },
                if policy(true) {
                    "(Policy)".into()
                } else {
                    pa.pfx_snt().to_string()
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
    let _ = writeln!(s, "\nTotal number of neighbors {}", peers.len());
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
        for (name, on, pa) in [
            (u32::NAME, peer.conf.af[0].activate, (peer.v4.pfx_rcd, peer.v4.enabled)),
            (u128::NAME, peer.conf.af[1].activate, (peer.v6.pfx_rcd, peer.v6.enabled)),
        ] {
            if on {
                let neg = if pa.1 || peer.state != State::Established {
                    ""
                } else {
                    " (not negotiated)"
                };
                let _ = writeln!(s, " For address family: {name}{neg}\n  {} accepted prefixes", pa.0);
            }
        }
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
pub fn show_bgp_prefix<K: BgpFamily>(b: &Bgp, what: &str) -> String {
    let table = &K::afi(b).table;
    let found = match super::conf::parse_prefix_of::<K>(what) {
        Some(p) if what.contains('/') => table.get_key_value(&p),
        _ => K::parse_addr(what).and_then(|a| {
            (0..=K::BITS)
                .rev()
                .find_map(|l| table.get_key_value(&(a & K::mask(l), l)))
        }),
    };
    let Some((&(net, len), v)) = found else {
        return "% Network not in table\n".into();
    };
    let best = v.first().filter(|x| x.via.is_some());
    let mut s = format!("BGP routing table entry for {}/{len}\n", net.show());
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
        .filter(|x| K::peer_afi(x).adj_out.contains_key(&(net, len)))
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
            K::nh_text(a, false),
            Ipv4Addr::from(from),
            Ipv4Addr::from(id)
        );
        if let Some((_, Some(ll))) = a.next_hop6 {
            let _ = writeln!(s, "    ({}) (used)", ll.show());
        }
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

/// `text` in a column of `width`, as FRR lays out its tables: when it
/// fills the column, the rest of the row goes on the next line, `indent`
/// in.
fn column(s: &mut String, text: &str, width: usize, indent: usize) {
    if text.len() >= width {
        let _ = write!(s, "{text}\n{:indent$}", "");
    } else {
        let _ = write!(s, "{text:<width$}");
    }
}

/// `show bgp ipv4 unicast` (`show ip bgp`), `show bgp ipv6 unicast`:
/// FRR 8.4's layout.
pub fn show_bgp_table<K: BgpFamily>(b: &Bgp) -> String {
    let afi = K::afi(b);
    if afi.table.is_empty() {
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
        afi.version,
        Ipv4Addr::from(b.router_id),
        b.conf.asn
    );
    for (&(net, len), v) in &afi.table {
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
                format!("{}/{len}", net.show())
            } else {
                String::new()
            };
            let a = &path.attrs;
            let metric = a.med.map_or(String::new(), |m| m.to_string());
            let lp = a.local_pref.map_or(String::new(), |m| m.to_string());
            let origin = ['i', 'e', '?'][a.origin.min(2) as usize];
            let path_text = a.path_text();
            let sep = if path_text.is_empty() { "" } else { " " };
            let _ = write!(s, "{status}{internal}");
            column(&mut s, &network, 17, 20);
            column(&mut s, &K::nh_text(a, true), 16, 36);
            let _ = writeln!(s, "{metric:>10}{lp:>7}{:>7} {path_text}{sep}{origin}", path.weight);
        }
    }
    let _ = writeln!(
        s,
        "\nDisplayed  {} routes and {} total paths",
        afi.table.len(),
        afi.paths
    );
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
