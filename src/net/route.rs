//! A per-vnet routing table of one family: longest-prefix match over a
//! radix trie, with connected, local, static, default, reject and
//! blackhole routes (after `route.c` and route(4)). `K` is the address
//! as an integer of its width: IPv4's table (module ROUTE) has `u32`
//! keys, IPv6's (in netinet6) `u128`.

use std::cell::Cell;
use std::fmt;

use crate::net::radix::{Key, Radix};
use crate::vnet::module::{SI_ORDER_FIRST, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, VnetKey};

// Route flags (net/route.h).
pub const RTF_UP: u32 = 0x1;
pub const RTF_GATEWAY: u32 = 0x2;
pub const RTF_HOST: u32 = 0x4;
pub const RTF_REJECT: u32 = 0x8;
pub const RTF_DYNAMIC: u32 = 0x10;
pub const RTF_MODIFIED: u32 = 0x20;
pub const RTF_DONE: u32 = 0x40;
pub const RTF_STATIC: u32 = 0x800;
pub const RTF_BLACKHOLE: u32 = 0x1000;
pub const RTF_PROTO1: u32 = 0x8000;
pub const RTF_PROTO2: u32 = 0x4000;
pub const RTF_PROTO3: u32 = 0x40000;
pub const RTF_PINNED: u32 = 0x100000;
pub const RTF_LOCAL: u32 = 0x200000;
pub const RTF_BROADCAST: u32 = 0x400000;

/// Where a route sends packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gateway<K = u32> {
    /// Directly out of an interface (`link#N`): the destination is the
    /// next hop.
    Link(u32),
    /// Through a router.
    Inet(K),
}

/// A route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtentry<K = u32> {
    pub dst: K,
    pub plen: u8,
    pub gateway: Gateway<K>,
    /// The interface packets leave by.
    pub ifindex: u32,
    pub flags: u32,
    /// 0: the interface's MTU.
    pub mtu: u32,
}

impl<K: Copy> Rtentry<K> {
    /// The next hop for a packet to `dst` on this route.
    pub fn nexthop(&self, dst: K) -> K {
        match self.gateway {
            Gateway::Inet(g) => g,
            Gateway::Link(_) => dst,
        }
    }
}

/// Why a routing request failed; worded as route(8) reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtError {
    #[error("route already in table")]
    Exists,
    #[error("not in table")]
    NotFound,
    #[error("Network is unreachable")]
    Unreach,
}

/// The table and its statistics (`rtstat`).
#[derive(Clone, Debug)]
pub struct RouteTable<K: Copy = u32> {
    rt: Radix<Rtentry<K>, K>,
    /// The last lookup (destination and its route): a flow's packets find
    /// it without walking the tree. Any change to the table clears it.
    /// Made at the first lookup: an idle vnet's table is a pointer.
    last: std::cell::OnceCell<Box<LastLookup<K>>>,
}

/// A destination and the route it found.
type LastLookup<K> = Cell<Option<(K, Rtentry<K>)>>;

impl<K: Copy> Default for RouteTable<K> {
    fn default() -> Self {
        RouteTable {
            rt: Radix::default(),
            last: std::cell::OnceCell::new(),
        }
    }
}

/// The routing module's slot.
pub const ROUTE: VnetKey<RouteTable> = VnetKey::fixed(1);

pub(crate) fn module() -> Module<RouteTable> {
    Module::new("route", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_FIRST), |_, _| {
        RouteTable::default()
    })
    .builtin()
}

impl<K: Key> RouteTable<K> {
    /// Forget the last lookup (the table changed).
    fn forget(&self) {
        if let Some(c) = self.last.get() {
            c.set(None);
        }
    }

    /// Give back the room kept for growth (after a lab's routes are in).
    pub fn shrink_to_fit(&mut self) {
        self.rt.shrink_to_fit();
    }

    /// Add a route; `RTF_UP` is implied, and `RTF_HOST` for a full-length
    /// prefix.
    pub fn add(&mut self, mut e: Rtentry<K>) -> Result<(), RtError> {
        e.dst = e.dst & K::mask(e.plen);
        e.flags |= RTF_UP;
        if e.plen == K::BITS {
            e.flags |= RTF_HOST;
        }
        if matches!(e.gateway, Gateway::Inet(_)) {
            e.flags |= RTF_GATEWAY;
        }
        if self.rt.get(e.dst, e.plen).is_some() {
            return Err(RtError::Exists);
        }
        self.rt.insert(e.dst, e.plen, e);
        self.forget();
        Ok(())
    }

    /// Replace the route for exactly `dst/plen`.
    pub fn change(&mut self, e: Rtentry<K>) -> Result<Rtentry<K>, RtError> {
        let old = self.delete(e.dst, e.plen)?;
        self.add(e)?;
        Ok(old)
    }

    /// Remove the route for exactly `dst/plen`.
    pub fn delete(&mut self, dst: K, plen: u8) -> Result<Rtentry<K>, RtError> {
        self.forget();
        self.rt.remove(dst, plen).ok_or(RtError::NotFound)
    }

    pub fn get(&self, dst: K, plen: u8) -> Option<&Rtentry<K>> {
        self.rt.get(dst, plen)
    }

    /// Longest-prefix match.
    #[inline]
    pub fn lookup(&self, addr: K) -> Option<Rtentry<K>> {
        let last = self.last.get_or_init(Box::default);
        if let Some((a, e)) = last.get()
            && a == addr
        {
            return Some(e);
        }
        let e = self.rt.lookup(addr).map(|(_, _, e)| *e)?;
        last.set(Some((addr, e)));
        Some(e)
    }

    /// Remove every route through interface `ifindex` (it left, or lost an
    /// address); returns them.
    pub fn purge_if(&mut self, ifindex: u32) -> Vec<Rtentry<K>> {
        let doomed: Vec<(K, u8)> = self
            .rt
            .iter()
            .into_iter()
            .filter(|(_, _, e)| e.ifindex == ifindex || e.gateway == Gateway::Link(ifindex))
            .map(|(k, p, _)| (k, p))
            .collect();
        self.forget();
        doomed.into_iter().filter_map(|(k, p)| self.rt.remove(k, p)).collect()
    }

    /// Every route in address order.
    pub fn entries(&self) -> Vec<Rtentry<K>> {
        self.rt.iter().into_iter().map(|(_, _, e)| *e).collect()
    }

    pub fn len(&self) -> usize {
        self.rt.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rt.is_empty()
    }
}

/// netstat(1)'s flag letters for a route.
pub fn flags_letters(f: u32) -> String {
    const L: &[(u32, char)] = &[
        (RTF_UP, 'U'),
        (RTF_GATEWAY, 'G'),
        (RTF_HOST, 'H'),
        (RTF_REJECT, 'R'),
        (RTF_DYNAMIC, 'D'),
        (RTF_MODIFIED, 'M'),
        (RTF_DONE, 'd'),
        (RTF_STATIC, 'S'),
        (RTF_PROTO1, '1'),
        (RTF_PROTO2, '2'),
        (RTF_PROTO3, '3'),
        (RTF_BLACKHOLE, 'B'),
        (RTF_BROADCAST, 'b'),
    ];
    L.iter().filter(|(b, _)| f & b != 0).map(|(_, c)| *c).collect()
}

/// route(8)'s flag names (`route get`), in its order.
pub fn flags_names(f: u32) -> String {
    const N: &[(u32, &str)] = &[
        (RTF_UP, "UP"),
        (RTF_GATEWAY, "GATEWAY"),
        (RTF_HOST, "HOST"),
        (RTF_REJECT, "REJECT"),
        (RTF_DYNAMIC, "DYNAMIC"),
        (RTF_MODIFIED, "MODIFIED"),
        (RTF_DONE, "DONE"),
        (RTF_STATIC, "STATIC"),
        (RTF_BLACKHOLE, "BLACKHOLE"),
        (RTF_PROTO2, "PROTO2"),
        (RTF_PROTO1, "PROTO1"),
        (RTF_PROTO3, "PROTO3"),
        (RTF_PINNED, "PINNED"),
        (RTF_LOCAL, "LOCAL"),
        (RTF_BROADCAST, "BROADCAST"),
    ];
    N.iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// A dotted quad.
pub struct Inet(pub u32);

impl fmt::Display for Inet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.to_be_bytes();
        write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
    }
}

/// Parse a dotted quad (strictly four decimal parts).
pub fn inet_addr(s: &str) -> Option<u32> {
    s.parse::<std::net::Ipv4Addr>().ok().map(u32::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        inet_addr(s).unwrap_or(0)
    }

    #[test]
    fn add_lookup_delete() {
        let mut t = RouteTable::default();
        t.add(Rtentry {
            dst: ip("10.0.0.0"),
            plen: 24,
            gateway: Gateway::Link(2),
            ifindex: 2,
            flags: 0,
            mtu: 0,
        })
        .expect("add");
        t.add(Rtentry {
            dst: 0,
            plen: 0,
            gateway: Gateway::Inet(ip("10.0.0.1")),
            ifindex: 2,
            flags: RTF_STATIC,
            mtu: 0,
        })
        .expect("add default");
        let r = t.lookup(ip("10.0.0.7"));
        assert_eq!(r.map(|r| r.nexthop(ip("10.0.0.7"))), Some(ip("10.0.0.7")));
        let r = t.lookup(ip("8.8.8.8"));
        assert_eq!(r.map(|r| r.nexthop(ip("8.8.8.8"))), Some(ip("10.0.0.1")));
        assert_eq!(r.map(|r| flags_letters(r.flags)), Some("UGS".into()));
        assert_eq!(r.map(|r| flags_names(r.flags)), Some("UP,GATEWAY,STATIC".into()));
        assert_eq!(
            t.add(Rtentry {
                dst: 0,
                plen: 0,
                gateway: Gateway::Link(2),
                ifindex: 2,
                flags: 0,
                mtu: 0
            }),
            Err(RtError::Exists)
        );
        assert_eq!(t.purge_if(2).len(), 2);
        assert!(t.lookup(ip("10.0.0.7")).is_none());
        assert_eq!(t.delete(0, 0), Err(RtError::NotFound));
        assert_eq!(Inet(ip("192.0.2.1")).to_string(), "192.0.2.1");
    }
}
