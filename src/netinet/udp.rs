//! UDP (RFC 768, RFC 1122 §4.1), after `udp_usrreq.c`: sockets (bind with
//! ephemeral ports, connect, send, receive, broadcast when allowed),
//! header and checksum validation (a zero checksum is accepted, ours are
//! always computed), bounded receive buffers with drops counted, and ICMP
//! port unreachable — rate-limited, never for broadcasts — when no socket
//! wants a datagram.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::task::Waker;

use rustc_hash::FxHashMap;

use crate::kern::Kernel;
use crate::kern::mbuf::Mbuf;
use crate::kern::sysctl::Oid;
use crate::netinet::in_::in_broadcast;
use crate::netinet::in_jail::{prison_check_ip, prison_equal_ip4, prison_local_ip, prison_remote_ip, prison_saddr_ip};
use crate::netinet::in_mcast::{MOptions, in_joingroup, in_leavegroup, in_mcast_ifp, in_purgemoptions};
use crate::netinet::in_pcb::{
    Endpoint, Errno, Owner, PcbId, PcbTable, Vflag, in_pcb_af, in_pcb_overlap, in_pcbbind, in_pcbladdr, in4, ip4,
};
use crate::netinet::ip::{INADDR_BROADCAST, IPPROTO_UDP};
use crate::netinet::ip_output::{IpOpts, IpOutErr};
use crate::netinet::protosw::{CtlInput, IpFacts, Prc, pr_output, pr_unreach_port};
use crate::netinet::tcp_var::SoError;
use crate::vnet::module::{SI_ORDER_MIDDLE, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};

use crate::wire::udp::{self, UdpErr};
pub use crate::wire::udp::{UDP_HDR_LEN, udp_cksum};

crate::stats! {
    /// UDP statistics (`struct udpstat`).
    #[derive(Copy)]
    pub struct UdpStat {
        ipackets,
        hdrops,
        badsum,
        nosum,
        badlen,
        noport,
        noportbcast,
        fullsock,
        opackets,
    }
}

/// Names a UDP socket.
pub type UdpId = PcbId;

/// A UDP socket (`inpcb` and its receive buffer).
#[derive(Debug)]
pub struct UdpPcb {
    pub id: UdpId,
    pub local: Endpoint,
    /// The peer once connected (unspecified before).
    pub foreign: Endpoint,
    /// Datagrams, who sent them and the interface they came in by.
    pub rcv: VecDeque<(Endpoint, u32, Vec<u8>)>,
    pub rcv_bytes: usize,
    pub rcv_hiwat: usize,
    /// `SO_BROADCAST`.
    pub broadcast: bool,
    /// `SO_REUSEADDR`: may share its port with others that set it.
    pub reuseaddr: bool,
    /// Its family and whether it takes IPv4 too.
    pub vflag: Vflag,
    pub ttl: u8,
    /// Its groups and multicast sending options.
    pub mopts: MOptions,
    pub error: Option<SoError>,
    rwaker: Option<Waker>,
    pub owner: Option<Owner>,
}

/// Per-vnet UDP state.
#[derive(Debug)]
pub struct Udp {
    pub stats: crate::kern::counter::Counters<UdpStat>,
    /// `net.inet.udp.blackhole`: no port unreachable for closed ports.
    pub blackhole: bool,
    /// `net.inet.udp.recvspace`, `net.inet.udp.maxdgram`.
    pub recvspace: i32,
    pub maxdgram: i32,
    pub pcbs: PcbTable<UdpPcb>,
    ports: FxHashMap<u16, Vec<UdpId>>,
}

impl Default for Udp {
    fn default() -> Self {
        Udp {
            stats: Default::default(),
            blackhole: false,
            recvspace: 42080,
            maxdgram: 9216,
            pcbs: PcbTable::default(),
            ports: FxHashMap::default(),
        }
    }
}

impl Udp {
    pub fn get(&self, id: UdpId) -> Option<&UdpPcb> {
        self.pcbs.get(id)
    }

    pub fn get_mut(&mut self, id: UdpId) -> Option<&mut UdpPcb> {
        self.pcbs.get_mut(id)
    }

    /// Does a socket hold `addr:port`, so that one binding there (with
    /// `SO_REUSEADDR` if `reuse`, from a jail with addresses `ip4`) may
    /// not? Two that both ask may share.
    fn port_in_use(&self, (vf, addr): (Vflag, IpAddr), port: u16, reuse: bool, ip4: Option<&[u32]>) -> bool {
        self.ports.get(&port).is_some_and(|ids| {
            ids.iter().filter_map(|&i| self.get(i)).any(|p| {
                in_pcb_overlap((p.vflag, p.local.addr), (vf, addr))
                    && !(reuse && p.reuseaddr)
                    && prison_equal_ip4(Owner::ip4(&p.owner), ip4)
            })
        })
    }

    /// The socket a datagram to `dst:dport` from `src:sport` is for: a
    /// connected one first, then one bound to the address, then a wildcard
    /// (a jail's that may use `dst` before the host's; a dual socket's
    /// `::` after IPv4's own wildcards).
    fn lookup(&self, dst: Endpoint, src: Endpoint) -> Option<UdpId> {
        let ids = self.ports.get(&dst.port)?;
        let score = |p: &UdpPcb| -> Option<u8> {
            let (connected, bound) = (!p.foreign.is_unspecified(), !p.local.is_unspecified());
            if connected && p.foreign != src || bound && p.local.addr != dst.addr {
                return None;
            }
            let native = match p.vflag.wild(p.local, dst.addr) {
                0 if !bound => return None,
                1 => false,
                _ => true,
            };
            let ip4 = Owner::ip4(&p.owner);
            if !prison_check_ip(ip4, dst.addr) {
                return None;
            }
            Some((connected as u8 * 4 + bound as u8 * 2 + ip4.is_some() as u8) * 2 + native as u8)
        };
        ids.iter()
            .filter_map(|&i| self.get(i).and_then(|p| score(p).map(|s| (s, i))))
            .max_by_key(|&(s, i)| (s, std::cmp::Reverse(i.idx)))
            .map(|(_, i)| i)
    }
}

/// The UDP module's slot.
pub const UDP: VnetKey<Udp> = VnetKey::fixed(5);

pub(crate) fn module() -> Module<Udp> {
    Module::new("udp", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_MIDDLE), |_, _| {
        Udp::default()
    })
    .sysctl(
        "net.inet.udp.blackhole",
        "Do not send port unreachables for refused connects",
        |s| &mut s.blackhole,
    )
    .sysctl_range(
        "net.inet.udp.recvspace",
        "Maximum space for incoming UDP datagrams",
        |s| &mut s.recvspace,
        1,
        1 << 30,
    )
    .sysctl_range(
        "net.inet.udp.maxdgram",
        "Maximum outgoing UDP datagram size",
        |s| &mut s.maxdgram,
        1,
        65507,
    )
    .oid(|k| {
        Oid::vnet_stats(k, "net.inet.udp.stats", "UDP statistics (struct udpstat)", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}

/// A UDP datagram for this vnet.
pub fn udp_input(k: &mut Kernel, v: &mut Vnet, m: Mbuf, f: &IpFacts) {
    let udp = v.builtin(UDP);
    udp.stats.ipackets += 1;
    let seg = match udp::Packet::new_checked(&m.data()[f.off..f.end]) {
        Ok(s) => s,
        Err(e) => {
            match e {
                UdpErr::Truncated => udp.stats.hdrops += 1,
                UdpErr::BadLen => udp.stats.badlen += 1,
            }
            return;
        }
    };
    if seg.checksum() == 0 {
        udp.stats.nosum += 1;
        // Over IPv6 the checksum is not optional (RFC 8200 §8.1).
        if f.src.is_ipv6() {
            return;
        }
    } else if !seg.verify_checksum(f.src, f.dst) {
        udp.stats.badsum += 1;
        return;
    }
    let (from, to) = (
        Endpoint::new(f.src, seg.src_port()),
        Endpoint::new(f.dst, seg.dst_port()),
    );
    let payload = seg.payload();
    // Broadcasts go to every socket bound to the port, multicasts to
    // those that joined the group on the interface it came by (bound to
    // the wildcard or the group); others to the best.
    let mcast = to.addr.is_multicast();
    let takes = |p: &UdpPcb| {
        p.foreign.is_unspecified()
            && (!mcast || p.mopts.member(to.addr, f.ifindex) && (p.local.is_unspecified() || p.local.addr == to.addr))
    };
    let targets: Vec<UdpId> = if f.bcast {
        udp.ports
            .get(&to.port)
            .map(|ids| ids.iter().copied().filter(|&i| udp.get(i).is_some_and(takes)).collect())
            .unwrap_or_default()
    } else {
        udp.lookup(to, from).into_iter().collect()
    };
    if targets.is_empty() {
        if f.bcast {
            udp.stats.noportbcast += 1;
            return;
        }
        udp.stats.noport += 1;
        if !udp.blackhole {
            pr_unreach_port(k, v, &m, f);
        }
        return;
    }
    for id in targets {
        let Some(p) = udp.pcbs.get_mut(id) else {
            continue;
        };
        if p.rcv_bytes + payload.len() > p.rcv_hiwat {
            udp.stats.fullsock += 1;
            continue;
        }
        p.rcv_bytes += payload.len();
        p.rcv.push_back((from, f.ifindex, payload.to_vec()));
        if let Some(w) = p.rwaker.take() {
            w.wake();
        }
    }
}

/// An ICMP error about a datagram we sent (`udp_ctlinput`): an
/// unreachable tells the connected socket it was sent from, refused for
/// a port or protocol, else host unreachable.
pub fn udp_ctlinput(_: &mut Kernel, v: &mut Vnet, c: &CtlInput) {
    if matches!(c.prc, Prc::MsgSize(_)) || c.quote.len() < 4 {
        return;
    }
    let u = udp::Packet::new_unchecked(c.quote);
    let (src, dst) = (Endpoint::new(c.src, u.src_port()), Endpoint::new(c.dst, u.dst_port()));
    let udp = v.builtin(UDP);
    let Some(ids) = udp.ports.get(&src.port).cloned() else {
        return;
    };
    for id in ids {
        if let Some(p) = udp.get_mut(id)
            && p.foreign == dst
            && (p.local.addr == src.addr || p.local.is_unspecified())
        {
            p.error = Some(if c.prc == Prc::UnreachPort {
                SoError::ConnRefused
            } else {
                SoError::HostUnreach
            });
            if let Some(w) = p.rwaker.take() {
                w.wake();
            }
        }
    }
}

/// `socket(AF_INET or AF_INET6, SOCK_DGRAM)`: `any` is the wildcard of
/// the family.
pub fn udp_attach(v: &mut Vnet, owner: Option<Owner>, any: Endpoint) -> UdpId {
    let vflag = Vflag::new(v, any);
    let udp = v.builtin(UDP);
    let rcv_hiwat = udp.recvspace.max(1) as usize;
    udp.pcbs.alloc(|id| UdpPcb {
        id,
        local: any,
        foreign: any,
        rcv: VecDeque::new(),
        rcv_bytes: 0,
        rcv_hiwat,
        broadcast: false,
        reuseaddr: false,
        vflag,
        ttl: 0,
        mopts: MOptions::default(),
        error: None,
        rwaker: None,
        owner,
    })
}

/// `bind(2)`; port 0 picks an ephemeral one.
pub fn udp_bind(v: &mut Vnet, id: UdpId, to: Endpoint) -> Result<u16, Errno> {
    let (vf, to) = match v.builtin(UDP).get(id) {
        Some(p) if p.local.port != 0 => return Err(Errno::Inval),
        Some(p) => (p.vflag, in_pcb_af(p.vflag, p.local, to)?.1),
        None => return Err(Errno::Inval),
    };
    let reuse = v.builtin(UDP).get(id).is_some_and(|p| p.reuseaddr);
    let ip4 = udp_ip4(v, id);
    let laddr = prison_local_ip(ip4.as_deref(), to.addr)?;
    let port = in_pcbbind(v, laddr, to.port, |v, a, p| {
        v.builtin(UDP).port_in_use((vf, a), p, reuse, ip4.as_deref())
    })?;
    let udp = v.builtin(UDP);
    if let Some(p) = udp.get_mut(id) {
        p.local = Endpoint::new(laddr, port);
    }
    udp.ports.entry(port).or_default().push(id);
    Ok(port)
}

/// Bind to an ephemeral port on the wildcard, as a send or connect does
/// on a socket not bound yet.
fn udp_autobind(v: &mut Vnet, id: UdpId) -> Result<(), Errno> {
    match v.builtin(UDP).get(id).map(|p| p.local) {
        Some(local) if local.port == 0 => udp_bind(v, id, local).map(|_| ()),
        _ => Ok(()),
    }
}

/// The jail addresses of a socket's owner.
fn udp_ip4(v: &mut Vnet, id: UdpId) -> Option<std::rc::Rc<[u32]>> {
    v.builtin(UDP).get(id).and_then(|p| Owner::ip4_rc(&p.owner))
}

/// `to` as the socket meets it (an address of a family it speaks).
fn udp_af(v: &mut Vnet, id: UdpId, to: Endpoint) -> Result<Endpoint, Errno> {
    let p = v.builtin(UDP).get(id).ok_or(Errno::Inval)?;
    Ok(in_pcb_af(p.vflag, p.local, to)?.1)
}

/// `connect(2)`: fix the peer (and the local address towards it).
pub fn udp_connect(v: &mut Vnet, id: UdpId, to: Endpoint) -> Result<(), Errno> {
    let to = udp_af(v, id, to)?;
    let ip4 = udp_ip4(v, id);
    let faddr = prison_remote_ip(ip4.as_deref(), to.addr);
    let src = in_pcbladdr(v, faddr).ok_or(Errno::NetUnreach)?;
    let src = prison_saddr_ip(ip4.as_deref(), src)?;
    udp_autobind(v, id)?;
    let p = v.builtin(UDP).get_mut(id).ok_or(Errno::Inval)?;
    if p.local.is_unspecified() {
        p.local.addr = src;
    }
    p.foreign = Endpoint::new(faddr, to.port);
    Ok(())
}

/// `sendto(2)`: to `dst`, or to the connected peer.
pub fn udp_send(k: &mut Kernel, v: &mut Vnet, id: UdpId, data: &[u8], dst: Option<Endpoint>) -> Result<usize, Errno> {
    let dst = dst.map(|d| udp_af(v, id, d)).transpose()?;
    let udp = v.builtin(UDP);
    let maxdgram = udp.maxdgram.max(1) as usize;
    let p = udp.get_mut(id).ok_or(Errno::Inval)?;
    if let Some(e) = p.error.take() {
        return Err(Errno::So(e));
    }
    let ip4j = Owner::ip4_rc(&p.owner);
    let to = match (dst, p.foreign.is_unspecified()) {
        (Some(d), true) => d.at(prison_remote_ip(ip4j.as_deref(), d.addr)),
        (Some(_), false) => return Err(Errno::IsConn),
        (None, true) => return Err(Errno::NotConn),
        (None, false) => p.foreign,
    };
    if data.len() > maxdgram {
        return Err(Errno::MsgSize);
    }
    let (broadcast, mut ttl) = (p.broadcast, p.ttl);
    let (mut ifindex, mloop) = (None, !p.mopts.noloop);
    let mut to = to;
    if to.addr.is_multicast() {
        ttl = p.mopts.ttl();
        ifindex = p.mopts.ifindex;
        // A link-scoped group is the zone of the interface it leaves by.
        if let (IpAddr::V6(g), Some(i)) = (to.addr, ifindex)
            && crate::wire::ipv6::in6_getscope(&g).is_none()
        {
            to.addr = IpAddr::V6(crate::wire::ipv6::in6_setscope(g, i));
        }
    }
    udp_autobind(v, id)?;
    let local = v.builtin(UDP).get(id).ok_or(Errno::Inval)?.local;
    // A broadcast needs SO_BROADCAST (EACCES otherwise).
    let limited = in4(to.addr) == Some(INADDR_BROADCAST);
    let bcast = limited || in4(to.addr).is_some_and(|a| is_bcast_anywhere(v, a));
    if bcast && !broadcast {
        return Err(Errno::Access);
    }
    let src = if !local.is_unspecified() {
        local.addr
    } else if let (Some(i), IpAddr::V4(_)) = (ifindex, to.addr) {
        let a = crate::netinet::in_::in_ifaddr_for(v, i, 0).ok_or(Errno::AddrNotAvail)?;
        prison_saddr_ip(ip4j.as_deref(), ip4(a))?
    } else if limited {
        prison_saddr_ip(ip4j.as_deref(), local.addr)?
    } else {
        prison_saddr_ip(ip4j.as_deref(), in_pcbladdr(v, to.addr).ok_or(Errno::NetUnreach)?)?
    };
    let ulen = UDP_HDR_LEN + data.len();
    let mut m = Mbuf::zeroed(ulen);
    let b = m.data_mut();
    udp::Packet::new_unchecked(&mut *b).emit_header(local.port, to.port);
    b[UDP_HDR_LEN..].copy_from_slice(data);
    // The limited broadcast leaves by the first interface that can.
    if limited {
        ifindex = first_broadcast_if(v);
    }
    let src = match (src.is_unspecified(), ifindex) {
        (true, Some(i)) => crate::netinet::in_::in_ifaddr_for(v, i, INADDR_BROADCAST).map_or(src, ip4),
        _ => src,
    };
    udp::Packet::new_unchecked(m.data_mut()).fill_checksum(src, to.addr);
    v.builtin(UDP).stats.opackets += 1;
    let opts = IpOpts {
        ttl: (ttl > 0).then_some(ttl),
        ifindex,
        proto: IPPROTO_UDP,
        mloop,
        ..IpOpts::default()
    };
    match pr_output(k, v, m, src, to.addr, opts) {
        Ok(()) => Ok(data.len()),
        Err(IpOutErr::MsgSize(_)) => Err(Errno::MsgSize),
        Err(IpOutErr::HostDown) => Err(Errno::So(SoError::HostDown)),
        Err(IpOutErr::NoRoute) => Err(Errno::So(SoError::HostUnreach)),
        Err(IpOutErr::NetDown) => Err(Errno::NetUnreach),
        Err(IpOutErr::NoBufs) => Err(Errno::NoBufs),
        Err(_) => Err(Errno::Inval),
    }
}

/// `recvfrom(2)`: one datagram (truncated to `buf`), who sent it and
/// the interface it came in by (`IP_RECVIF`).
pub fn udp_recv(v: &mut Vnet, id: UdpId, buf: &mut [u8], w: &Waker) -> Result<(usize, Endpoint, u32), Errno> {
    let p = v.builtin(UDP).get_mut(id).ok_or(Errno::Inval)?;
    match p.rcv.pop_front() {
        Some((from, ifindex, d)) => {
            p.rcv_bytes -= d.len();
            let n = d.len().min(buf.len());
            buf[..n].copy_from_slice(&d[..n]);
            Ok((n, from, ifindex))
        }
        None => {
            if let Some(e) = p.error.take() {
                return Err(Errno::So(e));
            }
            p.rwaker = Some(w.clone());
            Err(Errno::Again)
        }
    }
}

/// `close(2)`: it leaves its groups.
pub fn udp_detach(v: &mut Vnet, id: UdpId) {
    let udp = v.builtin(UDP);
    let Some(mut p) = udp.pcbs.free(id) else { return };
    if let Some(ids) = udp.ports.get_mut(&p.local.port) {
        ids.retain(|&i| i != id);
        if ids.is_empty() {
            udp.ports.remove(&p.local.port);
        }
    }
    in_purgemoptions(v, &mut p.mopts);
}

/// `IP_ADD_MEMBERSHIP`, `IPV6_JOIN_GROUP` and their `DROP`s: join or
/// leave group `g` on interface `index` (`None`: as the route says).
pub fn udp_group(v: &mut Vnet, id: UdpId, g: IpAddr, index: Option<u32>, join: bool) -> Result<(), Errno> {
    let index = match index {
        Some(i) => i,
        None => in_mcast_ifp(v, g).ok_or(Errno::AddrNotAvail)?,
    };
    let mut mo = std::mem::take(&mut v.builtin(UDP).get_mut(id).ok_or(Errno::Inval)?.mopts);
    let r = if join {
        in_joingroup(v, &mut mo, g, index)
    } else {
        in_leavegroup(v, &mut mo, g, index)
    };
    if let Some(p) = v.builtin(UDP).get_mut(id) {
        p.mopts = mo;
    }
    r
}

/// Is `a` a directed broadcast address of any interface here?
pub fn is_bcast_anywhere(v: &Vnet, a: u32) -> bool {
    v.get(crate::net::ifnet::IF)
        .is_some_and(|l| l.list.iter().any(|i| in_broadcast(v, a, i.index) && a != 0))
}

/// The interface a limited broadcast leaves by: the first that is up,
/// can broadcast and has an address.
fn first_broadcast_if(v: &mut Vnet) -> Option<u32> {
    let v = &*v;
    v.get(crate::net::ifnet::IF)?
        .list
        .iter()
        .find(|i| {
            i.is_up()
                && i.flags & crate::net::ifnet::IFF_BROADCAST != 0
                && crate::netinet::in_::in_ifaddrs(v, i.index).next().is_some()
        })
        .map(|i| i.index)
}
