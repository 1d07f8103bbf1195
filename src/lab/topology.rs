//! Generated topologies: chains, stars, trees, grids and random graphs of
//! routers, numbered so that routes over them aggregate (addr.rs).

use std::collections::HashSet;

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{Emu, Kind, Lab, Link, Node};

/// A generator and its size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// n0 - n1 - ... ; link i joins node i and i + 1.
    Chain(usize),
    /// n0 in the middle; link i joins n0 and node i + 1.
    Star(usize),
    /// N nodes, `fanout` children each, numbered depth first (a subtree is
    /// a run of numbers); link i joins node i + 1 and its parent.
    Tree(usize, usize),
    /// Rows × columns, node r·C + c named `n<r>_<c>`; each node owns the
    /// links to its right and below, in that order, numbered row by row.
    Grid(usize, usize),
    /// N nodes, a random spanning tree plus random links up to `degree`
    /// per node on average.
    Random(usize, f64),
}

/// The parent of every node of a depth-first-numbered tree (root: none).
pub fn tree_parents(n: usize, fanout: usize) -> Vec<Option<usize>> {
    // Breadth-first shape, renumbered in depth-first preorder.
    let mut pre = vec![0usize; n];
    let mut next = 0;
    let mut stack = vec![0usize];
    while let Some(b) = stack.pop() {
        if b >= n {
            continue;
        }
        pre[b] = next;
        next += 1;
        for c in (1..=fanout).rev() {
            stack.push(b * fanout + c);
        }
    }
    let mut parent = vec![None; n];
    for b in 1..n {
        parent[pre[b]] = Some(pre[(b - 1) / fanout]);
    }
    parent
}

/// Add the nodes and links of `shape` to `lab`.
pub fn generate(lab: &mut Lab, shape: Shape, prefix: &str, emu: &Emu, seed: u64) {
    let node = |name: String| Node {
        name,
        kind: Kind::Router,
        sysctl: Vec::new(),
        run: Vec::new(),
        tap: None,
        frr: None,
    };
    let base = lab.nodes.len();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    match shape {
        Shape::Grid(rows, cols) => {
            for r in 0..rows {
                for c in 0..cols {
                    lab.nodes.push(node(format!("{prefix}{r}_{c}")));
                    let i = r * cols + c;
                    if c + 1 < cols {
                        edges.push((i, i + 1));
                    }
                    if r + 1 < rows {
                        edges.push((i, i + cols));
                    }
                }
            }
        }
        Shape::Chain(n) | Shape::Star(n) | Shape::Tree(n, _) | Shape::Random(n, _) => {
            lab.nodes.extend((0..n).map(|i| node(format!("{prefix}{i}"))));
            match shape {
                Shape::Chain(_) => edges.extend((1..n).map(|i| (i - 1, i))),
                Shape::Star(_) => edges.extend((1..n).map(|i| (0, i))),
                Shape::Tree(_, f) => {
                    let parent = tree_parents(n, f);
                    edges.extend((1..n).filter_map(|i| parent[i].map(|p| (p, i))));
                }
                _ => edges = random_edges(n, if let Shape::Random(_, d) = shape { d } else { 3.0 }, seed),
            }
        }
    }
    for (a, b) in edges {
        let (a, b) = (base + a, base + b);
        lab.links.push(Link {
            name: format!("{}-{}", lab.nodes[a].name, lab.nodes[b].name),
            a,
            b,
            addr: [None, None],
            addr6: [None, None],
            emu: emu.clone(),
            mtu: None,
        });
    }
}

/// A connected random graph: node i joins a random earlier node, then
/// random pairs until there are `n·degree/2` links (seeded).
fn random_edges(n: usize, degree: f64, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6c61_625f_7261_6e64);
    let mut seen = HashSet::new();
    let mut edges = Vec::new();
    for i in 1..n {
        let j = (rng.next_u64() % i as u64) as usize;
        seen.insert((j, i));
        edges.push((j, i));
    }
    let want = ((n as f64 * degree / 2.0) as usize).min(n.saturating_mul(n.saturating_sub(1)) / 2);
    let mut tries = 0;
    while edges.len() < want && tries < want * 20 {
        tries += 1;
        let (a, b) = (
            (rng.next_u64() % n as u64) as usize,
            (rng.next_u64() % n as u64) as usize,
        );
        let (a, b) = (a.min(b), a.max(b));
        if a != b && seen.insert((a, b)) {
            edges.push((a, b));
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_are_numbered_depth_first() {
        // 7 nodes, binary: 0 (1 (2 3) 4 (5 6))
        let p = tree_parents(7, 2);
        assert_eq!(p, vec![None, Some(0), Some(1), Some(1), Some(0), Some(4), Some(4)]);
    }

    #[test]
    fn random_graphs_are_connected_and_repeatable() {
        let e = random_edges(50, 3.0, 7);
        assert_eq!(e.len(), 75);
        assert_eq!(e, random_edges(50, 3.0, 7));
        let mut reach = [false; 50];
        reach[0] = true;
        for _ in 0..50 {
            for &(a, b) in &e {
                if reach[a] || reach[b] {
                    reach[a] = true;
                    reach[b] = true;
                }
            }
        }
        assert!(reach.iter().all(|&r| r));
    }
}
