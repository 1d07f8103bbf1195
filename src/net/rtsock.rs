//! The routing socket, route(4): a vnet's routing daemons and route(8)
//! change its tables by writing `RTM_ADD`/`RTM_DELETE`/`RTM_CHANGE`/
//! `RTM_GET` messages, and every open routing socket of the vnet reads
//! what changed: routes (`rt_routemsg`), addresses (`rt_newaddrmsg`:
//! `RTM_NEWADDR`/`RTM_DELADDR`), interface state (`rt_ifmsg`:
//! `RTM_IFINFO`) and interfaces coming and going (`rt_ifannouncemsg`:
//! `RTM_IFANNOUNCE`). Messages are typed here; [`RtMsg::msglen`] is the
//! length the same message has in FreeBSD's amd64 layout (`rt_msghdr`
//! and its sockaddrs, each rounded to 8 bytes), which `route monitor`
//! prints. A socket's queue holds `net.route.netisr_maxqlen` messages;
//! what comes beyond is dropped and counted (`netstat -s -p route`'s
//! "messages dropped").

use std::collections::VecDeque;
use std::net::IpAddr;
use std::task::Waker;

use crate::net::ifnet::IF;
use crate::net::route::{Gateway, ROUTE, RTF_DONE, RouteTable, RtError, Rtentry};
use crate::vnet::module::{SI_ORDER_SECOND, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, Vnet, VnetKey};

// Message types (net/route.h).
pub const RTM_ADD: u8 = 0x1;
pub const RTM_DELETE: u8 = 0x2;
pub const RTM_CHANGE: u8 = 0x3;
pub const RTM_GET: u8 = 0x4;
pub const RTM_NEWADDR: u8 = 0xc;
pub const RTM_DELADDR: u8 = 0xd;
pub const RTM_IFINFO: u8 = 0xe;
pub const RTM_IFANNOUNCE: u8 = 0x11;

/// What changed, as a routing socket reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtMsg {
    /// `rt_msghdr`: a route added, deleted, changed or reported.
    Route {
        kind: u8,
        pid: u32,
        seq: u32,
        /// 0, or the errno the request failed with.
        errno: i32,
        flags: u32,
        dst: IpAddr,
        plen: u8,
        /// `Gateway::Link(i)` is `link#i`.
        gateway: Gateway<IpAddr>,
        ifindex: u32,
    },
    /// `ifa_msghdr`: an address added or removed.
    Addr {
        kind: u8,
        ifindex: u32,
        ifname: String,
        addr: IpAddr,
        plen: u8,
        /// The broadcast (or point-to-point far end) address.
        brd: Option<IpAddr>,
    },
    /// `if_msghdr`: an interface's flags or link changed.
    IfInfo { ifindex: u32, flags: u32, link_up: bool },
    /// `if_announcemsghdr`: an interface arrived or departed.
    IfAnnounce {
        ifindex: u32,
        ifname: String,
        arrival: bool,
    },
}

/// A sockaddr's room in a message: `SA_SIZE` of its family on amd64.
fn sa_size(a: &IpAddr) -> usize {
    match a {
        IpAddr::V4(_) => 16,
        IpAddr::V6(_) => 32,
    }
}

/// `sockaddr_dl` of interface `name` (no link address), rounded.
fn sdl_size(name: &str) -> usize {
    (8 + name.len()).max(20).div_ceil(8) * 8
}

impl RtMsg {
    pub fn kind(&self) -> u8 {
        match self {
            RtMsg::Route { kind, .. } | RtMsg::Addr { kind, .. } => *kind,
            RtMsg::IfInfo { .. } => RTM_IFINFO,
            RtMsg::IfAnnounce { .. } => RTM_IFANNOUNCE,
        }
    }

    /// The message's length in FreeBSD's layout.
    pub fn msglen(&self) -> usize {
        match self {
            RtMsg::Route {
                dst, gateway, flags, ..
            } => {
                let gw = match gateway {
                    Gateway::Inet(g) => sa_size(g),
                    Gateway::Link(_) => 24,
                };
                // A host route carries no netmask.
                let mask = if flags & crate::net::route::RTF_HOST != 0 {
                    0
                } else {
                    sa_size(dst)
                };
                152 + sa_size(dst) + gw + mask
            }
            RtMsg::Addr { addr, ifname, brd, .. } => {
                20 + sa_size(addr) * (2 + brd.is_some() as usize) + sdl_size(ifname)
            }
            RtMsg::IfInfo { .. } => 168,
            RtMsg::IfAnnounce { .. } => 24,
        }
    }
}

/// One open routing socket.
#[derive(Debug, Default)]
struct RtPcb {
    q: VecDeque<RtMsg>,
    waker: Option<Waker>,
    /// Only messages about this family (the socket's protocol), if set.
    family: Option<bool>,
}

/// A vnet's routing sockets.
#[derive(Debug, Default)]
pub struct Rtsock {
    socks: Vec<Option<RtPcb>>,
    /// `net.route.netisr_maxqlen`.
    pub maxqlen: i32,
    /// Messages dropped for a full queue.
    pub drops: u64,
}

/// The routing socket module's slot.
pub const RTSOCK: VnetKey<Rtsock> = VnetKey::fixed(11);

pub(crate) fn module() -> Module<Rtsock> {
    Module::new("rtsock", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_SECOND), |_, _| {
        Rtsock {
            maxqlen: 256,
            ..Rtsock::default()
        }
    })
    .builtin()
    .sysctl_range(
        "net.route.netisr_maxqlen",
        "maximum routing socket dispatch queue length",
        |s| &mut s.maxqlen,
        1,
        1 << 20,
    )
}

/// `socket(PF_ROUTE, SOCK_RAW, family)`: `Some(false)` AF_INET only,
/// `Some(true)` AF_INET6 only, `None` all.
pub fn rts_attach(v: &mut Vnet, family: Option<bool>) -> usize {
    let s = v.builtin(RTSOCK);
    let pcb = Some(RtPcb {
        family,
        ..RtPcb::default()
    });
    match s.socks.iter().position(Option::is_none) {
        Some(i) => {
            s.socks[i] = pcb;
            i
        }
        None => {
            s.socks.push(pcb);
            s.socks.len() - 1
        }
    }
}

pub fn rts_detach(v: &mut Vnet, id: usize) {
    if let Some(s) = v.get_mut(RTSOCK)
        && let Some(slot) = s.socks.get_mut(id)
    {
        *slot = None;
    }
}

/// The next message for socket `id`, or `None` (after arranging to wake
/// `w` when one comes).
pub fn rts_recv(v: &mut Vnet, id: usize, w: &Waker) -> Option<RtMsg> {
    let pcb = v.builtin(RTSOCK).socks.get_mut(id)?.as_mut()?;
    let m = pcb.q.pop_front();
    if m.is_none() {
        pcb.waker = Some(w.clone());
    }
    m
}

/// The family a message is about, if one.
fn family_of(m: &RtMsg) -> Option<bool> {
    match m {
        RtMsg::Route { dst, .. } | RtMsg::Addr { addr: dst, .. } => Some(dst.is_ipv6()),
        _ => None,
    }
}

/// `rt_dispatch`: give `m` to every routing socket of the vnet.
pub fn rt_dispatch(v: &mut Vnet, m: RtMsg) {
    let Some(s) = v.get_mut(RTSOCK) else { return };
    if s.socks.is_empty() {
        return;
    }
    let fam = family_of(&m);
    let max = s.maxqlen.max(1) as usize;
    let mut drops = 0;
    for pcb in s.socks.iter_mut().flatten() {
        if pcb.family.is_some() && fam.is_some() && pcb.family != fam {
            continue;
        }
        if pcb.q.len() >= max {
            drops += 1;
            continue;
        }
        pcb.q.push_back(m.clone());
        if let Some(w) = pcb.waker.take() {
            w.wake();
        }
    }
    s.drops += drops;
}

/// Are any routing sockets open (is a message worth making)?
fn listened(v: &Vnet) -> bool {
    v.get(RTSOCK).is_some_and(|s| s.socks.iter().any(Option::is_some))
}

/// An address family's routing table: its key as the address it is, and
/// where a vnet keeps the table (IPv4's here, IPv6's in netinet6).
pub trait RtFamily: crate::net::radix::Key {
    fn ip(self) -> IpAddr;
    fn table(v: &Vnet) -> Option<&RouteTable<Self>>;
    fn table_mut(v: &mut Vnet) -> &mut RouteTable<Self>;
}

impl RtFamily for u32 {
    fn ip(self) -> IpAddr {
        std::net::Ipv4Addr::from(self).into()
    }
    fn table(v: &Vnet) -> Option<&RouteTable> {
        v.get(ROUTE)
    }
    fn table_mut(v: &mut Vnet) -> &mut RouteTable {
        v.builtin(ROUTE)
    }
}

/// A route of either table as a message.
pub fn route_msg<K: RtFamily>(kind: u8, e: &Rtentry<K>, pid: u32, seq: u32, errno: i32) -> RtMsg {
    RtMsg::Route {
        kind,
        pid,
        seq,
        errno,
        flags: e.flags | if errno == 0 { RTF_DONE } else { 0 },
        dst: e.dst.ip(),
        plen: e.plen,
        gateway: match e.gateway {
            Gateway::Inet(g) => Gateway::Inet(g.ip()),
            Gateway::Link(i) => Gateway::Link(i),
        },
        ifindex: e.ifindex,
    }
}

/// `rt_routemsg`: tell the sockets the kernel changed a route itself.
pub fn rt_routemsg<K: RtFamily>(v: &mut Vnet, kind: u8, e: &Rtentry<K>) {
    if listened(v) {
        rt_dispatch(v, route_msg(kind, e, 0, 0, 0));
    }
}

/// `rt_newaddrmsg`: an address came (`RTM_NEWADDR`) or went.
pub fn rt_newaddrmsg(v: &mut Vnet, kind: u8, ifindex: u32, addr: IpAddr, plen: u8, brd: Option<IpAddr>) {
    if !listened(v) {
        return;
    }
    let ifname = v.builtin(IF).get(ifindex).map(|i| i.name.clone()).unwrap_or_default();
    rt_dispatch(
        v,
        RtMsg::Addr {
            kind,
            ifindex,
            ifname,
            addr,
            plen,
            brd,
        },
    );
}

/// `rt_ifmsg`: interface `index`'s flags changed.
pub fn rt_ifmsg(v: &mut Vnet, ifindex: u32) {
    if !listened(v) {
        return;
    }
    let Some(ifp) = v.builtin(IF).get(ifindex) else { return };
    let (flags, link_up) = (ifp.flags, ifp.flags & crate::net::ifnet::IFF_LOWER_UP != 0);
    rt_dispatch(
        v,
        RtMsg::IfInfo {
            ifindex,
            flags,
            link_up,
        },
    );
}

/// `rt_ifannouncemsg`: interface `index` arrived or is departing.
pub fn rt_ifannouncemsg(v: &mut Vnet, ifindex: u32, arrival: bool) {
    if !listened(v) {
        return;
    }
    let ifname = v.builtin(IF).get(ifindex).map(|i| i.name.clone()).unwrap_or_default();
    rt_dispatch(
        v,
        RtMsg::IfAnnounce {
            ifindex,
            ifname,
            arrival,
        },
    );
}

/// Add a route and tell the sockets (`rib_action(RTM_ADD)`).
pub fn rt_add<K: RtFamily>(v: &mut Vnet, e: Rtentry<K>) -> Result<(), RtError> {
    let t = K::table_mut(v);
    t.add(e)?;
    let e = *t.get(e.dst & K::mask(e.plen), e.plen).unwrap_or(&e);
    rt_routemsg(v, RTM_ADD, &e);
    Ok(())
}

/// Replace the route for exactly its prefix and tell the sockets.
pub fn rt_change<K: RtFamily>(v: &mut Vnet, e: Rtentry<K>) -> Result<(), RtError> {
    K::table_mut(v).change(e)?;
    rt_routemsg(v, RTM_CHANGE, &e);
    Ok(())
}

/// Delete a route and tell the sockets.
pub fn rt_delete<K: RtFamily>(v: &mut Vnet, dst: K, plen: u8) -> Result<Rtentry<K>, RtError> {
    let e = K::table_mut(v).delete(dst, plen)?;
    rt_routemsg(v, RTM_DELETE, &e);
    Ok(e)
}

/// Remove every route through interface `ifindex`, telling the sockets.
pub fn rt_purge_if<K: RtFamily>(v: &mut Vnet, ifindex: u32) {
    for e in K::table_mut(v).purge_if(ifindex) {
        rt_routemsg(v, RTM_DELETE, &e);
    }
}

/// A request written to a routing socket (`route_output`): do it in the
/// family's table and tell every socket, the writer's too, how it went.
/// The answer to `RTM_GET` is the route found (longest match), to the
/// writer.
pub fn route_output<K: RtFamily>(
    v: &mut Vnet,
    kind: u8,
    e: Rtentry<K>,
    pid: u32,
    seq: u32,
) -> Result<Rtentry<K>, RtError> {
    let t = K::table_mut(v);
    let res = match kind {
        RTM_ADD => t.add(e).map(|_| *t.get(e.dst & K::mask(e.plen), e.plen).unwrap_or(&e)),
        RTM_DELETE => t.delete(e.dst, e.plen),
        RTM_CHANGE => t.change(e).map(|_| e),
        RTM_GET => {
            let found = if e.plen == K::BITS {
                t.lookup(e.dst)
            } else {
                t.get(e.dst, e.plen).copied()
            };
            return found.ok_or(RtError::NotFound);
        }
        _ => Err(RtError::NotFound),
    };
    let errno = match res {
        Ok(_) => 0,
        Err(RtError::Exists) => 17,
        Err(RtError::NotFound) => 3,
        Err(RtError::Unreach) => 51,
    };
    let shown = res.as_ref().map(|r| *r).unwrap_or(e);
    if listened(v) {
        rt_dispatch(v, route_msg(kind, &shown, pid, seq, errno));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn lengths_are_freebsds() {
        let e = Rtentry {
            dst: u32::from(Ipv4Addr::new(10, 1, 0, 0)),
            plen: 16,
            gateway: Gateway::Inet(u32::from(Ipv4Addr::new(10, 0, 0, 2))),
            ifindex: 2,
            flags: 0,
            mtu: 0,
        };
        // route(8)'s RTM_ADD with DST, GATEWAY, NETMASK: 152 + 3 * 16.
        assert_eq!(route_msg(RTM_ADD, &e, 1, 1, 0).msglen(), 200);
        let a = RtMsg::Addr {
            kind: RTM_NEWADDR,
            ifindex: 2,
            ifname: "epair0a".into(),
            addr: Ipv4Addr::new(10, 0, 0, 1).into(),
            plen: 24,
            brd: Some(Ipv4Addr::new(10, 0, 0, 255).into()),
        };
        assert_eq!(a.msglen(), 20 + 3 * 16 + 24);
    }
}
