//! Protocol control blocks (after `in_pcb.c`): the table that holds a
//! vnet's TCP or UDP sockets, the choice of a local port, and the errors
//! a socket call answers with.

use crate::wire::ipv6::{in6_clearscope, in6_getscope, in6_setscope};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;

use crate::netinet::in_::in_localip;
use crate::netinet::ip::IP;
use crate::netinet::tcp_var::SoError;
use crate::vnet::Vnet;

/// A socket call's error, with FreeBSD's errno text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Errno {
    #[error("Resource temporarily unavailable")]
    Again,
    #[error("Address already in use")]
    AddrInUse,
    #[error("Can't assign requested address")]
    AddrNotAvail,
    #[error("Socket is already connected")]
    IsConn,
    #[error("Socket is not connected")]
    NotConn,
    #[error("Broken pipe")]
    Pipe,
    #[error("Invalid argument")]
    Inval,
    #[error("Network is unreachable")]
    NetUnreach,
    #[error("Message too long")]
    MsgSize,
    #[error("Permission denied")]
    Access,
    #[error("Operation now in progress")]
    InProgress,
    #[error("No buffer space available")]
    NoBufs,
    #[error("Address family not supported by protocol family")]
    AfNoSupport,
    #[error("{0}")]
    So(#[from] SoError),
}

/// An address of either family and a port: where a socket is bound, or
/// the peer it talks to (one half of `struct in_endpoints`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl Endpoint {
    /// An IPv4 socket bound nowhere yet (`INADDR_ANY`, port 0).
    pub const ANY4: Endpoint = Endpoint::v4(0, 0);
    /// An IPv6 one (`in6addr_any`).
    pub const ANY6: Endpoint = Endpoint {
        addr: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        port: 0,
    };

    /// Bound nowhere, in the family of `a` (a new socket of that family).
    pub fn any_like(a: IpAddr) -> Endpoint {
        if a.is_ipv6() { Endpoint::ANY6 } else { Endpoint::ANY4 }
    }

    pub fn new(addr: impl Into<IpAddr>, port: u16) -> Endpoint {
        Endpoint {
            addr: addr.into(),
            port,
        }
    }

    /// An IPv4 end from the address as the IPv4 layer holds it.
    pub const fn v4(addr: u32, port: u16) -> Endpoint {
        Endpoint {
            addr: IpAddr::V4(Ipv4Addr::from_bits(addr)),
            port,
        }
    }

    /// The wildcard address of its family.
    pub fn is_unspecified(&self) -> bool {
        self.addr.is_unspecified()
    }

    /// The same port at `addr`.
    pub fn at(self, addr: IpAddr) -> Endpoint {
        Endpoint { addr, ..self }
    }
}

/// A socket's family and the datagrams it takes (`inp_vflag` with
/// `IN6P_IPV6_V6ONLY`). An AF_INET6 socket with `IPV6_V6ONLY` off also
/// speaks IPv4, whose addresses its user sees IPv4-mapped (RFC 3493
/// §3.7, RFC 4291 §2.5.5.2); the stack holds them as IPv4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vflag {
    /// Made by `socket(AF_INET6, ..)`.
    pub inet6: bool,
    /// `IPV6_V6ONLY`: IPv6 only (`net.inet6.ip6.v6only`, on by default).
    pub v6only: bool,
}

impl Vflag {
    /// A new socket's, of the family of its wildcard `any`.
    pub fn new(v: &mut Vnet, any: Endpoint) -> Vflag {
        let inet6 = any.addr.is_ipv6();
        Vflag {
            inet6,
            v6only: inet6 && v.builtin(crate::netinet6::ip6::IP6).v6only,
        }
    }

    /// Takes IPv4 as well as IPv6.
    pub fn dual(self) -> bool {
        self.inet6 && !self.v6only
    }

    /// Is a socket of this kind bound to `local` a wildcard for datagrams
    /// to `dst`'s family? Its own family's; and a dual one's `::` is
    /// IPv4's too, after IPv4's own wildcards (`local_wild_mapped`).
    /// Returns 0 for no, 2 for its own family, 1 for the mapped fallback.
    pub fn wild(self, local: Endpoint, dst: IpAddr) -> u8 {
        if !local.is_unspecified() {
            0
        } else if local.addr.is_ipv6() == dst.is_ipv6() {
            2
        } else {
            (self.dual() && local.addr.is_ipv6()) as u8
        }
    }

    /// An address the user gives, as the stack holds it: IPv4-mapped
    /// means IPv4 on a dual socket (`in6_sin6_2_sin`); on an IPv6-only
    /// one it is refused (EINVAL, as `tcp6_usr_connect` answers).
    pub fn unmap(self, e: Endpoint) -> Result<Endpoint, Errno> {
        match e.addr {
            IpAddr::V6(a) if self.inet6 => match a.to_ipv4_mapped() {
                Some(_) if self.v6only => Err(Errno::Inval),
                Some(a4) => Ok(e.at(IpAddr::V4(a4))),
                None => Ok(e),
            },
            _ => Ok(e),
        }
    }

    /// An address as the user sees it: IPv4 mapped on an AF_INET6 socket
    /// (`in6_sin_2_v4mapsin6`).
    pub fn sockaddr(self, e: Endpoint) -> SocketAddr {
        match e.addr {
            IpAddr::V4(a) if self.inet6 => SocketAddr::new(IpAddr::V6(a.to_ipv6_mapped()), e.port),
            _ => e.into(),
        }
    }

    /// "4", "6" or, for a dual socket still on `::`, "46": what netstat
    /// and sockstat print after the protocol's name.
    pub fn digits(self, local: Endpoint) -> &'static str {
        match local.addr {
            IpAddr::V4(_) => "4",
            IpAddr::V6(_) if self.dual() => "46",
            IpAddr::V6(_) => "6",
        }
    }
}

/// Where a socket of kind `vf` bound to `local` meets `to` (an address
/// from its user): both as the stack holds them, the local end IPv4's
/// wildcard when a dual socket on `::` meets IPv4. A socket meets only
/// addresses it speaks (EAFNOSUPPORT).
pub fn in_pcb_af(vf: Vflag, local: Endpoint, to: Endpoint) -> Result<(Endpoint, Endpoint), Errno> {
    let to = vf.unmap(to)?;
    if local.addr.is_ipv4() == to.addr.is_ipv4() {
        Ok((local, to))
    } else if vf.wild(local, to.addr) == 1 {
        Ok((Endpoint::v4(0, local.port), to))
    } else {
        Err(Errno::AfNoSupport)
    }
}

/// Do two bindings of one port collide: the same family on the same
/// address or a wildcard, or a dual socket's `::` and an IPv4 address
/// (but not IPv4's own wildcard, which may sit beside it, as
/// `in6_pcbbind_avail` allows).
pub fn in_pcb_overlap((va, a): (Vflag, IpAddr), (vb, b): (Vflag, IpAddr)) -> bool {
    let same = a.is_ipv6() == b.is_ipv6() && (a == b || a.is_unspecified() || b.is_unspecified());
    let mapped = |vx: Vflag, x: IpAddr, vy: Vflag, y: IpAddr| {
        // IPv4's wildcard of an AF_INET socket is the exception.
        let inet_wildcard = y.is_unspecified() && !vy.inet6;
        vx.dual() && x.is_ipv6() && x.is_unspecified() && y.is_ipv4() && !inet_wildcard
    };
    same || mapped(va, a, vb, b) || mapped(vb, b, va, a)
}

/// An IPv4 address as the IPv4 layer takes it; `None` for IPv6.
pub fn in4(a: IpAddr) -> Option<u32> {
    match a {
        IpAddr::V4(a) => Some(a.to_bits()),
        IpAddr::V6(_) => None,
    }
}

/// The IPv4 address `a` (the IPv4 layer's `u32`) of either family's type.
pub const fn ip4(a: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from_bits(a))
}

/// A socket address as the stack holds it: a scope id goes into a
/// scoped address (`sa6_embedscope`).
impl From<SocketAddr> for Endpoint {
    fn from(s: SocketAddr) -> Endpoint {
        let addr = match s {
            SocketAddr::V6(a) if a.scope_id() != 0 => IpAddr::V6(in6_setscope(*a.ip(), a.scope_id())),
            a => a.ip(),
        };
        Endpoint { addr, port: s.port() }
    }
}

/// And back (`sa6_recoverscope`): the zone as the scope id.
impl From<Endpoint> for SocketAddr {
    fn from(e: Endpoint) -> SocketAddr {
        match e.addr {
            IpAddr::V6(a) => {
                let zone = in6_getscope(&a).unwrap_or(0);
                SocketAddr::V6(std::net::SocketAddrV6::new(in6_clearscope(a), e.port, 0, zone))
            }
            a => SocketAddr::new(a, e.port),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        SocketAddr::from(*self).fmt(f)
    }
}

/// A connection's two ends, ours first (`struct in_conninfo`): how the
/// connection table, the SYN cache and the ISN hash name a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ends {
    pub local: Endpoint,
    pub foreign: Endpoint,
}

/// The process holding a socket, and the descriptor, as sockstat shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub comm: String,
    pub fd: u32,
    /// The addresses its jail may use (`ip4.addr`; see
    /// [`in_jail`](crate::netinet::in_jail)), `None` for any.
    pub ip4: Option<Rc<[u32]>>,
}

impl Owner {
    /// The jail addresses of a socket's owner (`None`: unrestricted).
    pub fn ip4(o: &Option<Owner>) -> Option<&[u32]> {
        o.as_ref().and_then(|o| o.ip4.as_deref())
    }

    /// The same, to keep past a borrow of the socket.
    pub fn ip4_rc(o: &Option<Owner>) -> Option<Rc<[u32]>> {
        o.as_ref().and_then(|o| o.ip4.clone())
    }
}

/// Names a control block; the generation tells it from earlier ones that
/// used its slot, so a stale name (a late timer, a closed handle) finds
/// nothing rather than a stranger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PcbId {
    pub idx: u32,
    pub generation: u32,
}

struct Slot<T> {
    generation: u32,
    /// When it was made, by `inp_gencnt`: netstat lists the newest first.
    gencnt: u64,
    pcb: Option<Box<T>>,
}

/// A vnet's control blocks of one protocol (`struct inpcbinfo`).
pub struct PcbTable<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    gencnt: u64,
}

impl<T> Default for PcbTable<T> {
    fn default() -> Self {
        PcbTable {
            slots: Vec::new(),
            free: Vec::new(),
            gencnt: 0,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for PcbTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> PcbTable<T> {
    /// Make a control block (`in_pcballoc`) from its name.
    pub fn alloc(&mut self, make: impl FnOnce(PcbId) -> T) -> PcbId {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    gencnt: 0,
                    pcb: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.gencnt += 1;
        let s = &mut self.slots[idx as usize];
        s.generation = s.generation.wrapping_add(1);
        s.gencnt = self.gencnt;
        let id = PcbId {
            idx,
            generation: s.generation,
        };
        s.pcb = Some(Box::new(make(id)));
        id
    }

    /// Forget a control block (`in_pcbfree`).
    pub fn free(&mut self, id: PcbId) -> Option<Box<T>> {
        let s = self.slots.get_mut(id.idx as usize)?;
        if s.generation != id.generation {
            return None;
        }
        let pcb = s.pcb.take()?;
        self.free.push(id.idx);
        Some(pcb)
    }

    pub fn get(&self, id: PcbId) -> Option<&T> {
        let s = self.slots.get(id.idx as usize)?;
        (s.generation == id.generation).then_some(())?;
        s.pcb.as_deref()
    }

    pub fn get_mut(&mut self, id: PcbId) -> Option<&mut T> {
        let s = self.slots.get_mut(id.idx as usize)?;
        (s.generation == id.generation).then_some(())?;
        s.pcb.as_deref_mut()
    }

    /// Every control block, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.pcb.as_deref())
    }

    /// Every control block, the newest first (the kernel's list order).
    pub fn newest_first(&self) -> Vec<&T> {
        let mut v: Vec<(u64, &T)> = self
            .slots
            .iter()
            .filter_map(|s| Some((s.gencnt, s.pcb.as_deref()?)))
            .collect();
        v.sort_by_key(|&(g, _)| std::cmp::Reverse(g));
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// Take every control block out (the vnet is going away).
    pub fn drain(&mut self) -> impl Iterator<Item = Box<T>> + '_ {
        self.free.clear();
        self.slots.drain(..).filter_map(|s| s.pcb)
    }

    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A local port for a socket on `laddr` (`in_pcbbind`): `port`, or an
/// ephemeral one (random within `net.inet.ip.portrange.first..=last`,
/// as `in_pcb_lport_dest` picks) if 0.
pub fn in_pcbbind(
    v: &mut Vnet,
    laddr: IpAddr,
    port: u16,
    in_use: impl Fn(&mut Vnet, IpAddr, u16) -> bool,
) -> Result<u16, Errno> {
    if !laddr.is_unspecified() && !in_pcb_localip(v, laddr) {
        return Err(Errno::AddrNotAvail);
    }
    if port != 0 {
        return if in_use(v, laddr, port) {
            Err(Errno::AddrInUse)
        } else {
            Ok(port)
        };
    }
    let ip = v.builtin(IP);
    let (first, last) = (
        ip.portrange_first.clamp(1, 65535) as u32,
        ip.portrange_last.clamp(1, 65535) as u32,
    );
    let (lo, hi) = (first.min(last), first.max(last));
    let n = hi - lo + 1;
    let start = (v.random() % n as u64) as u32;
    for i in 0..n {
        let p = (lo + (start + i) % n) as u16;
        if !in_use(v, laddr, p) {
            return Ok(p);
        }
    }
    Err(Errno::AddrNotAvail)
}

/// Is `a` one of this vnet's addresses?
pub fn in_pcb_localip(v: &mut Vnet, a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => in_localip(v, a.to_bits()),
        IpAddr::V6(a) => crate::netinet6::in6::in6_localip(v, &a),
    }
}

/// Our address towards `faddr` (`in_pcbladdr`, source address
/// selection): `faddr` itself if it is ours, else the address of the
/// interface the route leaves by.
pub fn in_pcbladdr(v: &mut Vnet, faddr: IpAddr) -> Option<IpAddr> {
    let f = match faddr {
        IpAddr::V4(f) => f.to_bits(),
        IpAddr::V6(f) => {
            let nh = crate::netinet6::ip6_output::ip6_route(v, &f, None).ok()??;
            return crate::netinet6::in6::in6_selectsrc(v, &f, nh.ifindex).map(IpAddr::V6);
        }
    };
    if in_localip(v, f) {
        return Some(faddr);
    }
    let nh = crate::netinet::ip_output::ip_route(v, f).ok()??;
    crate::netinet::in_::in_ifaddr_for(v, nh.ifindex, nh.nexthop).map(ip4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_names_find_nothing_and_the_newest_comes_first() {
        let mut t: PcbTable<&str> = PcbTable::default();
        let a = t.alloc(|_| "a");
        let b = t.alloc(|_| "b");
        assert_eq!(t.free(a), Some(Box::new("a")));
        let c = t.alloc(|_| "c");
        assert_eq!(c.idx, a.idx, "the slot is reused");
        assert_eq!(t.get(a), None, "under a new generation");
        assert_eq!(t.get(c), Some(&"c"));
        assert_eq!(t.newest_first(), vec![&"c", &"b"]);
        assert_eq!(t.free(a), None);
        assert_eq!(t.len(), 2);
        let _ = b;
    }
}
