//! Numbering and routing a lab. Point-to-point links without addresses
//! get /30s from 10.0.0.0 upward (link k: 10.0.0.0 + 4k, .1 for its first
//! end, .2 for its second); each switch a /24 from 10.255.255.0 downward.
//! A dual-stack lab's links also get a ULA /64 each (link k: fd00:0:0:k::/64,
//! ::1 and ::2) and each switch one (switch s: fd00:ffff:0:s::/64). The
//! routing below serves both families: it works on addresses as `u128`
//! with the family's width (`Fam`).
//! `routes = "auto"`: shortest paths, or, for generated shapes, routes
//! that follow the shape; either way runs of subnets that leave by the
//! same neighbour merge into as few prefixes as cover them.

use std::collections::VecDeque;
use std::net::Ipv6Addr;

use super::topology::{Shape, tree_parents};
use super::{Kind, Lab, Link, Route};

const P2P_BASE: u32 = 0x0a00_0000;
const LAN_TOP: u32 = 0x0aff_ff00;
/// fd00::/32 for links, fd00:ffff::/32 for switches.
const ULA_LINKS: u128 = 0xfd00_0000 << 96;
const ULA_LANS: u128 = 0xfd00_ffff << 96;

/// The address block of auto-numbered link `k`.
fn block(k: usize) -> u32 {
    P2P_BASE + 4 * k as u32
}

/// An address family as the lab's routing sees it.
#[derive(Clone, Copy)]
struct Fam {
    bits: u8,
    /// The block of the `k`th auto-numbered link, and its length.
    block: fn(usize) -> u128,
    link_plen: u8,
    /// End `e`'s address of this family on a link.
    addr: fn(&Link, usize) -> Option<(u128, u8)>,
}

const INET: Fam = Fam {
    bits: 32,
    block: |k| u128::from(block(k)),
    link_plen: 30,
    addr: |l, e| l.addr[e].map(|(a, p)| (u128::from(a), p)),
};

const INET6: Fam = Fam {
    bits: 128,
    block: |k| ULA_LINKS + ((k as u128) << 64),
    link_plen: 64,
    addr: |l, e| l.addr6[e].map(|(a, p)| (u128::from(a), p)),
};

impl Fam {
    /// The network mask of length `p` in this family's width.
    fn mask(self, p: u8) -> u128 {
        let full = if self.bits == 128 {
            u128::MAX
        } else {
            (1u128 << self.bits) - 1
        };
        match u32::from(self.bits - p.min(self.bits)) {
            128 => 0,
            host => full & !((1u128 << host) - 1),
        }
    }

    /// How many addresses a prefix of length `p` holds (saturating).
    fn size(self, p: u8) -> u128 {
        1u128
            .checked_shl(u32::from(self.bits - p.min(self.bits)))
            .unwrap_or(u128::MAX)
    }
}

/// A dual-stack lab: every end without an IPv6 address gets one (a /64
/// per link and per switch, as the module's doc says).
pub fn number6(lab: &mut Lab) -> Result<(), String> {
    if !lab.inet6 {
        return Ok(());
    }
    let switches: Vec<usize> = (0..lab.nodes.len())
        .filter(|&i| lab.nodes[i].kind == Kind::Switch)
        .collect();
    for (s, &sw) in switches.iter().enumerate() {
        let net = ULA_LANS + ((s as u128) << 64);
        let mut host = 1u128;
        for l in lab.links.iter_mut().filter(|l| l.a == sw || l.b == sw) {
            let end = usize::from(l.a == sw);
            if l.addr6[end].is_none() {
                l.addr6[end] = Some((Ipv6Addr::from(net + host), 64));
                host += 1;
            }
        }
    }
    let mut k = 0usize;
    for l in lab.links.iter_mut() {
        let switch_end = lab.nodes[l.a].kind == Kind::Switch || lab.nodes[l.b].kind == Kind::Switch;
        if switch_end || (l.addr6[0].is_some() && l.addr6[1].is_some()) {
            continue;
        }
        if k >= 1 << 32 {
            return Err("more links than fd00::/32 can number".into());
        }
        let b = (INET6.block)(k);
        k += 1;
        l.addr6[0].get_or_insert((Ipv6Addr::from(b + 1), 64));
        l.addr6[1].get_or_insert((Ipv6Addr::from(b + 2), 64));
    }
    Ok(())
}

/// Give every end without an address one.
pub fn number(lab: &mut Lab) -> Result<(), String> {
    let mut k = 0usize;
    let mut lans = 0u32;
    let switches: Vec<usize> = (0..lab.nodes.len())
        .filter(|&i| lab.nodes[i].kind == Kind::Switch)
        .collect();
    // Each switch: a /24, hosts numbered in link order.
    for &s in &switches {
        let net = LAN_TOP - 256 * lans;
        lans += 1;
        let mut host = 1u32;
        for l in lab.links.iter_mut().filter(|l| l.a == s || l.b == s) {
            let end = usize::from(l.a == s);
            if l.addr[end].is_none() {
                if host > 254 {
                    return Err(format!("switch \"{}\" has more than 254 nodes", lab.nodes[s].name));
                }
                l.addr[end] = Some((net + host, 24));
                host += 1;
            }
        }
    }
    for l in lab.links.iter_mut() {
        let switch_end = lab.nodes[l.a].kind == Kind::Switch || lab.nodes[l.b].kind == Kind::Switch;
        if switch_end || (l.addr[0].is_some() && l.addr[1].is_some()) {
            continue;
        }
        let b = block(k);
        if b.wrapping_add(4) > LAN_TOP - 256 * lans {
            return Err("more links than 10.0.0.0/8 can number".into());
        }
        k += 1;
        l.addr[0].get_or_insert((b + 1, 30));
        l.addr[1].get_or_insert((b + 2, 30));
    }
    Ok(())
}

/// The fewest prefixes that cover addresses `[lo, hi)` of a `bits`-wide
/// family.
pub fn cover(mut lo: u128, hi: u128, bits: u8) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    while lo < hi {
        let fit = 127 - (hi - lo).leading_zeros();
        let align = if lo == 0 { 127 } else { lo.trailing_zeros() };
        let k = fit.min(align).min(u32::from(bits));
        out.push((lo, bits - k as u8));
        lo = lo.saturating_add(1u128 << k);
    }
    out
}

/// Routes for node `n`: every auto-numbered link block in `[from, to)`
/// leaves via `via`.
fn range(routes: &mut Vec<Route<u128>>, f: Fam, n: usize, from: usize, to: usize, via: u128) {
    if from < to {
        let lo = (f.block)(from);
        let hi = lo + f.size(f.link_plen) * (to - from) as u128;
        routes.extend(cover(lo, hi, f.bits).into_iter().map(|(dst, plen)| Route {
            node: n,
            dst,
            plen,
            via,
        }));
    }
}

/// Shortest paths on an arbitrary graph give every node a route to almost
/// every link: nodes × links routes before merging. Past this, refuse.
const MAX_SHORTEST_PATH_WORK: usize = 20_000_000;

/// Compute every node's routes, of both families in a dual-stack lab;
/// an error if there would be far too many.
pub fn auto_routes(lab: &mut Lab) -> Result<(), String> {
    if lab.nodes.len().saturating_mul(lab.links.len()) > MAX_SHORTEST_PATH_WORK && !generated(lab, INET) {
        return Err(format!(
            "routes = \"auto\" on this graph would give each of its {} nodes a route to most of its {} links \
             (up to {} routes): too many; use routes = \"none\", a smaller graph, or a generated chain, star, tree \
             or grid (their routes follow the shape)",
            lab.nodes.len(),
            lab.links.len(),
            lab.nodes.len() * lab.links.len()
        ));
    }
    let v4 = family_routes(lab, INET);
    lab.routes.extend(v4.into_iter().map(|r| Route {
        node: r.node,
        dst: r.dst as u32,
        plen: r.plen,
        via: r.via as u32,
    }));
    if lab.inet6 {
        lab.routes6 = family_routes(lab, INET6);
    }
    Ok(())
}

/// A generated shape whose links are all numbered in order: its routes
/// follow the shape.
fn generated(lab: &Lab, f: Fam) -> bool {
    let generated_only = match lab.shape {
        Some(Shape::Grid(r, c)) => lab.nodes.len() == r * c,
        Some(Shape::Chain(n) | Shape::Star(n) | Shape::Tree(n, _)) => lab.nodes.len() == n,
        _ => false,
    };
    generated_only
        && lab
            .links
            .iter()
            .enumerate()
            .all(|(k, l)| (f.addr)(l, 0).map(|a| a.0) == Some((f.block)(k) + 1))
}

/// One family's routes.
fn family_routes(lab: &Lab, f: Fam) -> Vec<Route<u128>> {
    let mut routes = Vec::new();
    match lab.shape {
        Some(shape) if generated(lab, f) => shape_routes(shape, f, &mut routes),
        _ => shortest_paths(lab, f, &mut routes),
    }
    routes
}

/// Routes that follow a generated shape (links numbered as topology.rs does).
fn shape_routes(shape: Shape, fam: Fam, routes: &mut Vec<Route<u128>>) {
    let block = fam.block;
    match shape {
        Shape::Chain(n) => {
            // Onward by default (the last node: back); what lies behind
            // as the fewest prefixes covering its links.
            for i in 0..n {
                let via = if i + 1 < n {
                    block(i) + 2
                } else {
                    block(i.saturating_sub(1)) + 1
                };
                if n > 1 {
                    routes.push(Route {
                        node: i,
                        dst: 0,
                        plen: 0,
                        via,
                    });
                }
                if i >= 1 && i + 1 < n {
                    range(routes, fam, i, 0, i - 1, block(i - 1) + 1);
                }
            }
        }
        Shape::Star(n) => {
            for i in 1..n {
                routes.push(Route {
                    node: i,
                    dst: 0,
                    plen: 0,
                    via: block(i - 1) + 1,
                });
            }
        }
        Shape::Tree(n, f) => {
            let parent = tree_parents(n, f);
            // Subtree sizes, children after parents in depth-first order.
            let mut size = vec![1usize; n];
            for x in (1..n).rev() {
                if let Some(p) = parent[x] {
                    size[p] += size[x];
                }
            }
            for x in 0..n {
                if let Some(p) = parent[x] {
                    let _ = p;
                    routes.push(Route {
                        node: x,
                        dst: 0,
                        plen: 0,
                        via: block(x - 1) + 1,
                    });
                }
                let mut c = x + 1;
                while c < x + size[x] {
                    // Child c's subtree: nodes [c, c + size), links [c, c + size - 1).
                    range(routes, fam, x, c, c + size[c] - 1, block(c - 1) + 2);
                    c += size[c];
                }
            }
        }
        Shape::Grid(rows, cols) => {
            // Links owned by node i: before them, `first[i]` links.
            let owned = |r: usize, c: usize| usize::from(c + 1 < cols) + usize::from(r + 1 < rows);
            let mut first = vec![0usize; rows * cols + 1];
            for r in 0..rows {
                for c in 0..cols {
                    first[r * cols + c + 1] = first[r * cols + c] + owned(r, c);
                }
            }
            let total = first[rows * cols];
            // The link from (r, c) to the right / below.
            let right = |r: usize, c: usize| first[r * cols + c];
            let down = |r: usize, c: usize| first[r * cols + c] + usize::from(c + 1 < cols);
            for r in 0..rows {
                for c in 0..cols {
                    let i = r * cols + c;
                    // Rows first: other rows' links go up or down; then
                    // this row's go left or right.
                    if r > 0 {
                        range(routes, fam, i, 0, first[r * cols], block(down(r - 1, c)) + 1);
                    }
                    if r + 1 < rows {
                        range(routes, fam, i, first[(r + 1) * cols], total, block(down(r, c)) + 2);
                    }
                    if c > 0 {
                        range(routes, fam, i, first[r * cols], first[i], block(right(r, c - 1)) + 1);
                    }
                    if c + 1 < cols {
                        range(
                            routes,
                            fam,
                            i,
                            first[i + 1],
                            first[(r + 1) * cols],
                            block(right(r, c)) + 2,
                        );
                    }
                }
            }
        }
        Shape::Random(..) => {}
    }
}

/// Shortest-path routes for any lab: a breadth-first search from every
/// node (neighbours in numeric order break ties), subnets sorted, runs
/// through one neighbour merged.
fn shortest_paths(lab: &Lab, f: Fam, routes: &mut Vec<Route<u128>>) {
    let n = lab.nodes.len();
    // Who can hand a packet to whom, and at which address.
    let mut adj: Vec<Vec<(usize, u128)>> = vec![Vec::new(); n];
    // Subnets: (network, length, the nodes on it).
    let mut subnets: Vec<(u128, u8, Vec<usize>)> = Vec::new();
    let mask = |p: u8| f.mask(p);
    for l in &lab.links {
        let sw = [l.a, l.b].into_iter().find(|&x| lab.nodes[x].kind == Kind::Switch);
        if sw.is_some() {
            continue;
        }
        if let (Some((aa, ap)), Some((ba, _))) = ((f.addr)(l, 0), (f.addr)(l, 1)) {
            adj[l.a].push((l.b, ba));
            adj[l.b].push((l.a, aa));
            subnets.push((aa & mask(ap), ap, vec![l.a, l.b]));
        }
    }
    for s in (0..n).filter(|&s| lab.nodes[s].kind == Kind::Switch) {
        let members: Vec<(usize, u128, u8)> = lab
            .links
            .iter()
            .filter_map(|l| {
                let (other, end) = if l.a == s {
                    (l.b, 1)
                } else if l.b == s {
                    (l.a, 0)
                } else {
                    return None;
                };
                (f.addr)(l, end).map(|(a, p)| (other, a, p))
            })
            .collect();
        for &(x, _, _) in &members {
            for &(y, ya, _) in &members {
                if x != y {
                    adj[x].push((y, ya));
                }
            }
        }
        if let Some(&(_, a, p)) = members.first() {
            subnets.push((a & mask(p), p, members.iter().map(|m| m.0).collect()));
        }
    }
    for a in adj.iter_mut() {
        a.sort();
        a.dedup_by_key(|x| x.0);
    }
    subnets.sort_by_key(|s| (s.0, s.1));
    let mut dist = vec![usize::MAX; n];
    let mut via = vec![0u128; n];
    for u in (0..n).filter(|&u| lab.nodes[u].kind != Kind::Switch) {
        dist.iter_mut().for_each(|d| *d = usize::MAX);
        dist[u] = 0;
        let mut q = VecDeque::from([u]);
        while let Some(x) = q.pop_front() {
            for &(y, ya) in &adj[x] {
                if dist[y] == usize::MAX {
                    dist[y] = dist[x] + 1;
                    via[y] = if x == u { ya } else { via[x] };
                    q.push_back(y);
                }
            }
        }
        // Each subnet's next hop, then merged runs.
        let mut run: Option<(u128, u128, u128)> = None;
        let flush = |run: Option<(u128, u128, u128)>, routes: &mut Vec<Route<u128>>| {
            if let Some((lo, hi, g)) = run {
                routes.extend(cover(lo, hi, f.bits).into_iter().map(|(dst, plen)| Route {
                    node: u,
                    dst,
                    plen,
                    via: g,
                }));
            }
        };
        for (net, plen, on) in &subnets {
            if on.contains(&u) {
                continue;
            }
            let best = on
                .iter()
                .filter(|&&w| dist[w] != usize::MAX)
                .min_by_key(|&&w| (dist[w], w));
            let Some(&w) = best else { continue };
            let (lo, hi) = (*net, net.saturating_add(f.size(*plen)));
            run = match run {
                Some((rlo, rhi, g)) if g == via[w] && rhi == lo => Some((rlo, hi, g)),
                other => {
                    flush(other, routes);
                    Some((lo, hi, via[w]))
                }
            };
        }
        flush(run, routes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_are_minimal_and_exact() {
        assert_eq!(cover(0, 16, 32), vec![(0, 28)]);
        assert_eq!(cover(4, 16, 32), vec![(4, 30), (8, 29)]);
        assert_eq!(cover(0, 1 << 32, 32), vec![(0, 0)]);
        assert!(cover(8, 8, 32).is_empty());
        // Four /64s of links, from the second: a /64, a /63, a /64.
        let b = (INET6.block)(1);
        assert_eq!(
            cover(b, b + (4u128 << 64), 128),
            vec![(b, 64), (b + (1 << 64), 63), (b + (3 << 64), 64)]
        );
    }
}
