//! A path-compressed binary trie over address prefixes, for longest-
//! prefix match: what FreeBSD's `radix.c` is to the routing table. The
//! key is an address of one family as an unsigned integer of its width
//! (`u32` for IPv4, `u128` for IPv6), so each family has its own table.
//!
//! Nodes live in a vector and name each other by index. A lookup visits
//! at most one node per distinct prefix length on the path (≤ width + 1),
//! with no allocation; an empty trie allocates nothing.

use std::ops::{BitAnd, BitXor};

const NIL: u32 = u32::MAX;

/// An address as a trie key: an unsigned integer, most significant bit
/// first.
pub trait Key: Copy + Eq + std::fmt::Debug + BitAnd<Output = Self> + BitXor<Output = Self> {
    /// Bits in the key, the longest prefix.
    const BITS: u8;
    const ZERO: Self;
    /// The netmask of a prefix length.
    fn mask(plen: u8) -> Self;
    fn leading_zeros(self) -> u8;
    /// The bit at `pos` (0: the most significant), as a child index.
    fn bit(self, pos: u8) -> usize;
}

macro_rules! key {
    ($t:ty) => {
        impl Key for $t {
            const BITS: u8 = <$t>::BITS as u8;
            const ZERO: $t = 0;
            fn mask(plen: u8) -> $t {
                if plen == 0 {
                    0
                } else {
                    <$t>::MAX << (<Self as Key>::BITS - plen.min(<Self as Key>::BITS))
                }
            }
            fn leading_zeros(self) -> u8 {
                <$t>::leading_zeros(self) as u8
            }
            fn bit(self, pos: u8) -> usize {
                ((self >> (<Self as Key>::BITS - 1 - pos)) & 1) as usize
            }
        }
    };
}
key!(u32);
key!(u128);

/// The IPv4 netmask of a prefix length.
pub fn mask(plen: u8) -> u32 {
    <u32 as Key>::mask(plen)
}

#[derive(Clone, Debug)]
struct Node<K, V> {
    key: K,
    plen: u8,
    val: Option<V>,
    child: [u32; 2],
}

/// The trie; see the module docs.
#[derive(Clone, Debug)]
pub struct Radix<V, K = u32> {
    nodes: Vec<Node<K, V>>,
    /// Freed nodes, linked through their first child (`NIL`: none).
    free: u32,
    root: u32,
    len: usize,
}

impl<V, K> Default for Radix<V, K> {
    fn default() -> Self {
        Radix {
            nodes: Vec::new(),
            free: NIL,
            root: NIL,
            len: 0,
        }
    }
}

impl<V, K: Key> Radix<V, K> {
    /// Give back the room kept for growth (a table built once, read often).
    pub fn shrink_to_fit(&mut self) {
        self.nodes.shrink_to_fit();
    }

    /// Number of prefixes held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn alloc(&mut self, key: K, plen: u8, val: Option<V>) -> u32 {
        let n = Node {
            key,
            plen,
            val,
            child: [NIL, NIL],
        };
        match self.free {
            NIL => {
                // Grow by half: a vnet's table is often one or two routes.
                if self.nodes.len() == self.nodes.capacity() {
                    self.nodes.reserve_exact((self.nodes.len() / 2).max(1));
                }
                self.nodes.push(n);
                (self.nodes.len() - 1) as u32
            }
            i => {
                self.free = self.nodes[i as usize].child[0];
                self.nodes[i as usize] = n;
                i
            }
        }
    }

    fn set_link(&mut self, parent: Option<(u32, usize)>, to: u32) {
        match parent {
            None => self.root = to,
            Some((p, d)) => self.nodes[p as usize].child[d] = to,
        }
    }

    /// Insert `key/plen` (host bits are cleared); returns the value it
    /// replaced.
    pub fn insert(&mut self, key: K, plen: u8, val: V) -> Option<V> {
        let plen = plen.min(K::BITS);
        let key = key & K::mask(plen);
        let mut parent = None;
        let mut cur = self.root;
        loop {
            if cur == NIL {
                let n = self.alloc(key, plen, Some(val));
                self.set_link(parent, n);
                self.len += 1;
                return None;
            }
            let (nkey, nplen) = (self.nodes[cur as usize].key, self.nodes[cur as usize].plen);
            let common = (key ^ nkey).leading_zeros().min(plen).min(nplen);
            if common == nplen && common == plen {
                let old = self.nodes[cur as usize].val.replace(val);
                if old.is_none() {
                    self.len += 1;
                }
                return old;
            }
            if common == nplen {
                let d = key.bit(nplen);
                parent = Some((cur, d));
                cur = self.nodes[cur as usize].child[d];
                continue;
            }
            let n = if common == plen {
                // The new prefix covers the node: it becomes its parent.
                let n = self.alloc(key, plen, Some(val));
                self.nodes[n as usize].child[nkey.bit(plen)] = cur;
                n
            } else {
                // They part at `common`: a valueless glue node joins them.
                let leaf = self.alloc(key, plen, Some(val));
                let glue = self.alloc(key & K::mask(common), common, None);
                self.nodes[glue as usize].child[key.bit(common)] = leaf;
                self.nodes[glue as usize].child[nkey.bit(common)] = cur;
                glue
            };
            self.set_link(parent, n);
            self.len += 1;
            return None;
        }
    }

    /// The path to the node holding exactly `key/plen`, if any.
    fn find(&self, key: K, plen: u8) -> Option<(Option<(u32, usize)>, u32)> {
        let key = key & K::mask(plen);
        let mut parent = None;
        let mut cur = self.root;
        while cur != NIL {
            let n = &self.nodes[cur as usize];
            if n.plen > plen || (key ^ n.key) & K::mask(n.plen) != K::ZERO {
                return None;
            }
            if n.plen == plen {
                return n.val.is_some().then_some((parent, cur));
            }
            let d = key.bit(n.plen);
            parent = Some((cur, d));
            cur = n.child[d];
        }
        None
    }

    /// The value stored for exactly `key/plen`.
    pub fn get(&self, key: K, plen: u8) -> Option<&V> {
        let (_, n) = self.find(key, plen.min(K::BITS))?;
        self.nodes[n as usize].val.as_ref()
    }

    pub fn get_mut(&mut self, key: K, plen: u8) -> Option<&mut V> {
        let (_, n) = self.find(key, plen.min(K::BITS))?;
        self.nodes[n as usize].val.as_mut()
    }

    /// Remove exactly `key/plen`.
    pub fn remove(&mut self, key: K, plen: u8) -> Option<V> {
        let (parent, n) = self.find(key, plen.min(K::BITS))?;
        let val = self.nodes[n as usize].val.take();
        self.len -= 1;
        self.prune(parent, n);
        if self.len == 0 {
            *self = Radix::default();
        }
        val
    }

    /// Drop node `n` if it no longer carries a value and joins less than
    /// two subtrees; then try its parent, which may have become glue.
    fn prune(&mut self, parent: Option<(u32, usize)>, n: u32) {
        let node = &self.nodes[n as usize];
        if node.val.is_some() {
            return;
        }
        let kids: Vec<u32> = node.child.iter().copied().filter(|&c| c != NIL).collect();
        if kids.len() == 2 {
            return;
        }
        let repl = kids.first().copied().unwrap_or(NIL);
        self.set_link(parent, repl);
        let nd = &mut self.nodes[n as usize];
        nd.child = [self.free, NIL];
        self.free = n;
        if let Some((p, _)) = parent {
            // The parent might now be valueless glue with one child.
            let pnode = &self.nodes[p as usize];
            if pnode.val.is_none() {
                let gp = self.parent_of(p);
                self.prune(gp, p);
            }
        }
    }

    fn parent_of(&self, target: u32) -> Option<(u32, usize)> {
        let t = &self.nodes[target as usize];
        let mut parent = None;
        let mut cur = self.root;
        while cur != NIL && cur != target {
            let n = &self.nodes[cur as usize];
            let d = t.key.bit(n.plen);
            parent = Some((cur, d));
            cur = n.child[d];
        }
        parent
    }

    /// Longest-prefix match: the most specific prefix containing `addr`.
    #[inline]
    pub fn lookup(&self, addr: K) -> Option<(K, u8, &V)> {
        let mut best = None;
        let mut cur = self.root;
        while cur != NIL {
            let n = &self.nodes[cur as usize];
            if (addr ^ n.key) & K::mask(n.plen) != K::ZERO {
                break;
            }
            if let Some(v) = &n.val {
                best = Some((n.key, n.plen, v));
            }
            if n.plen >= K::BITS {
                break;
            }
            cur = n.child[addr.bit(n.plen)];
        }
        best
    }

    /// Every prefix in address order (a covering prefix before the ones it
    /// covers).
    pub fn iter(&self) -> Vec<(K, u8, &V)> {
        let mut out = Vec::with_capacity(self.len);
        let mut stack = vec![self.root];
        while let Some(c) = stack.pop() {
            if c == NIL {
                continue;
            }
            let n = &self.nodes[c as usize];
            if let Some(v) = &n.val {
                out.push((n.key, n.plen, v));
            }
            stack.push(n.child[1]);
            stack.push(n.child[0]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(routes: &[(u32, u8)], addr: u32) -> Option<(u32, u8)> {
        routes
            .iter()
            .filter(|(k, p)| (addr ^ k) & mask(*p) == 0)
            .max_by_key(|(_, p)| *p)
            .copied()
    }

    #[test]
    fn longest_prefix_match() {
        let mut r = Radix::default();
        let ip = |a: u8, b: u8, c: u8, d: u8| u32::from_be_bytes([a, b, c, d]);
        r.insert(0, 0, "default");
        r.insert(ip(10, 0, 0, 0), 8, "10/8");
        r.insert(ip(10, 1, 0, 0), 16, "10.1/16");
        r.insert(ip(10, 1, 2, 3), 32, "host");
        assert_eq!(r.lookup(ip(10, 1, 2, 3)).map(|x| *x.2), Some("host"));
        assert_eq!(r.lookup(ip(10, 1, 2, 4)).map(|x| *x.2), Some("10.1/16"));
        assert_eq!(r.lookup(ip(10, 2, 0, 1)).map(|x| *x.2), Some("10/8"));
        assert_eq!(r.lookup(ip(192, 0, 2, 1)).map(|x| *x.2), Some("default"));
        assert_eq!(
            r.insert(ip(10, 1, 9, 9), 16, "again"),
            Some("10.1/16"),
            "host bits cleared"
        );
        assert_eq!(r.remove(ip(10, 1, 0, 0), 16), Some("again"));
        assert_eq!(r.lookup(ip(10, 1, 2, 4)).map(|x| *x.2), Some("10/8"));
        assert_eq!(r.remove(ip(10, 1, 0, 0), 16), None);
        let order: Vec<_> = r.iter().into_iter().map(|x| *x.2).collect();
        assert_eq!(order, vec!["default", "10/8", "host"]);
        for (k, p) in [(0, 0), (ip(10, 0, 0, 0), 8), (ip(10, 1, 2, 3), 32)] {
            assert!(r.remove(k, p).is_some());
        }
        assert!(r.is_empty());
        assert!(r.nodes.is_empty(), "an empty trie holds no memory");
    }

    #[test]
    fn ipv6_prefixes_in_a_table_of_their_own() {
        let a = |s: &str| s.parse::<std::net::Ipv6Addr>().expect("address").to_bits();
        let mut r: Radix<&str, u128> = Radix::default();
        r.insert(0, 0, "default");
        r.insert(a("2001:db8::"), 32, "doc");
        r.insert(a("2001:db8:0:1::"), 64, "lan");
        r.insert(a("2001:db8:0:1::1"), 128, "host");
        assert_eq!(r.lookup(a("2001:db8:0:1::1")).map(|x| *x.2), Some("host"));
        assert_eq!(r.lookup(a("2001:db8:0:1::2")).map(|x| (x.1, *x.2)), Some((64, "lan")));
        assert_eq!(r.lookup(a("2001:db8:ffff::1")).map(|x| *x.2), Some("doc"));
        assert_eq!(r.lookup(a("fe80::1")).map(|x| *x.2), Some("default"));
        assert_eq!(r.remove(a("2001:db8:0:1::"), 64), Some("lan"));
        assert_eq!(r.lookup(a("2001:db8:0:1::2")).map(|x| *x.2), Some("doc"));
        assert_eq!(<u128 as Key>::mask(64), a("ffff:ffff:ffff:ffff::"));
        assert_eq!(<u128 as Key>::mask(128), u128::MAX);
    }

    #[test]
    fn agrees_with_a_linear_scan() {
        let mut x = 0x1234_5678u32;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut r = Radix::default();
        let mut routes: Vec<(u32, u8)> = Vec::new();
        for i in 0..3000 {
            let plen = (rnd() % 33) as u8;
            let key = rnd() & mask(plen) & 0xff0f_ffff;
            if r.insert(key, plen, (key, plen)).is_none() {
                routes.push((key, plen));
            }
            if i % 3 == 0 && !routes.is_empty() {
                let (k, p) = routes.swap_remove(rnd() as usize % routes.len());
                assert_eq!(r.remove(k, p), Some((k, p)));
            }
        }
        assert_eq!(r.len(), routes.len());
        for _ in 0..20_000 {
            let a = rnd() & 0xff0f_ffff;
            assert_eq!(r.lookup(a).map(|(_, _, v)| *v), naive(&routes, a), "{a:#x}");
        }
    }
}
