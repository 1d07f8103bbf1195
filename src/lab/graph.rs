//! Pictures of a lab: Graphviz DOT, and an SVG drawn here (no tools to
//! install). Nodes are placed in link lengths (generated shapes as what
//! they are, trees as their longest path across with the branches hung
//! off it, anything else by stress majorization as Graphviz's neato), then each label (a
//! link end's interface and address, a link's emulation) takes the spot
//! near its place that collides least with nodes, lines and the labels
//! before it.

use super::topology::Shape;
use super::{Kind, Lab};
use crate::net::route::Inet;

/// Link properties as a short label: "10Mbit/s 5ms 1% loss".
fn link_label(lab: &Lab, i: usize) -> String {
    let w = &lab.links[i].emu.0;
    let mut parts = Vec::new();
    for pair in w.chunks(2) {
        if let [k, v] = pair {
            parts.push(match k.as_str() {
                "plr" => format!("{}% loss", v.parse::<f64>().unwrap_or(0.0) * 100.0),
                "dup" => format!("{}% dup", v.parse::<f64>().unwrap_or(0.0) * 100.0),
                "queue" => format!("queue {v}"),
                "jitter" => format!("±{v}"),
                "ber" => format!("ber {v}"),
                _ => v.clone(),
            });
        }
    }
    if let Some(m) = lab.links[i].mtu {
        parts.push(format!("mtu {m}"));
    }
    parts.join(" ")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The lab in Graphviz's language.
pub fn dot(lab: &Lab) -> String {
    let mut s = format!("graph \"{}\" {{\n  node [fontname=Helvetica];\n", esc(&lab.name));
    for (i, n) in lab.nodes.iter().enumerate() {
        let shape = match n.kind {
            Kind::Host => "box",
            Kind::Router => "ellipse",
            Kind::Switch => "box3d",
        };
        let addr = lab.node_addr(i).map(|a| format!("\\n{}", Inet(a))).unwrap_or_default();
        s += &format!(
            "  \"{}\" [shape={shape}, label=\"{}{addr}\"];\n",
            esc(&n.name),
            esc(&n.name)
        );
    }
    for (i, l) in lab.links.iter().enumerate() {
        let names = Lab::ifnames(i);
        let end = |e: usize| {
            let addr = l.addr[e].map(|(a, p)| format!("\\n{}/{p}", Inet(a)));
            format!("{}{}", names[e], addr.unwrap_or_default())
        };
        s += &format!(
            "  \"{}\" -- \"{}\" [label=\"{}\", taillabel=\"{}\", headlabel=\"{}\", fontsize=9];\n",
            esc(&lab.nodes[l.a].name),
            esc(&lab.nodes[l.b].name),
            esc(&link_label(lab, i)),
            end(0),
            end(1)
        );
    }
    s + "}\n"
}

type Pt = (f64, f64);

/// Where each node goes, in link lengths: generated shapes as what they
/// are, trees as a spine with their branches hung off it, anything else
/// by stress. And whether it is in rows (which may sit closer).
fn layout(lab: &Lab) -> (Vec<Pt>, bool) {
    let n = lab.nodes.len();
    if lab.links.iter().any(|l| l.a >= n || l.b >= n) {
        return (ring(n), false);
    }
    let adj = adjacency(lab);
    match lab.shape {
        Some(Shape::Grid(rows, cols)) if rows * cols == n => {
            ((0..n).map(|i| ((i % cols) as f64, (i / cols) as f64)).collect(), true)
        }
        Some(Shape::Chain(m)) if m == n => {
            // A snake of rows, so long chains fit.
            let w = if n <= 12 { n } else { (n as f64).sqrt().ceil() as usize };
            let pos = (0..n).map(|i| {
                let (r, c) = (i / w, i % w);
                let c = if r % 2 == 1 { w - 1 - c } else { c };
                (c as f64, r as f64)
            });
            (pos.collect(), true)
        }
        Some(Shape::Star(m)) if m == n && n > 1 => {
            // Far enough out for the hub's labels.
            let r = ((n - 1) as f64 / std::f64::consts::TAU).max(2.0);
            let pos = (0..n).map(|i| match i {
                0 => (0.0, 0.0),
                _ => {
                    let a = std::f64::consts::TAU * (i - 1) as f64 / (n - 1) as f64;
                    (r * a.cos(), r * a.sin())
                }
            });
            (pos.collect(), false)
        }
        Some(Shape::Tree(m, _)) if m == n && n > 0 => {
            let mut pos = vec![(0.0, 0.0); n];
            hang(&adj, 0, usize::MAX, 0.0, 0.0, &mut pos, &mut Vec::new());
            (pos, true)
        }
        _ if n > 600 => (ring(n), false),
        _ if n > 0 && lab.links.len() == n - 1 && reach(&adj, 0).iter().all(|&d| d != usize::MAX) => {
            (spine(&adj), true)
        }
        _ => (stress(lab), false),
    }
}

/// Nodes on a circle one link length apart.
fn ring(n: usize) -> Vec<Pt> {
    let r = (n as f64 / std::f64::consts::TAU).max(1.0);
    (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n.max(1) as f64;
            (r * a.cos(), r * a.sin())
        })
        .collect()
}

/// Each node's neighbours, in link order.
fn adjacency(lab: &Lab) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); lab.nodes.len()];
    for l in &lab.links {
        adj[l.a].push(l.b);
        adj[l.b].push(l.a);
    }
    adj
}

/// Hops from `from` to every node (`usize::MAX`: unreachable).
fn reach(adj: &[Vec<usize>], from: usize) -> Vec<usize> {
    let mut d = vec![usize::MAX; adj.len()];
    let mut q = std::collections::VecDeque::from([from]);
    d[from] = 0;
    while let Some(v) = q.pop_front() {
        for &w in &adj[v] {
            if d[w] == usize::MAX {
                d[w] = d[v] + 1;
                q.push_back(w);
            }
        }
    }
    d
}

/// Lay the subtree under `v` (away from `parent`) out downwards from row
/// `y`, its leaves one apart from column `x`; its width in columns. The
/// nodes it placed are pushed onto `placed`.
fn hang(adj: &[Vec<usize>], v: usize, parent: usize, x: f64, y: f64, pos: &mut [Pt], placed: &mut Vec<usize>) -> f64 {
    placed.push(v);
    let mut w = 0.0;
    let mut span: Option<(f64, f64)> = None;
    for &c in adj[v].iter().filter(|&&c| c != parent) {
        w += hang(adj, c, v, x + w, y + 1.0, pos, placed);
        span = Some((span.map_or(pos[c].0, |s| s.0), pos[c].0));
    }
    pos[v] = (span.map_or(x, |(a, b)| (a + b) / 2.0), y);
    w.max(1.0)
}

/// A tree as its longest path drawn straight across, each branch hung
/// below or above the node it leaves (whichever side has less).
fn spine(adj: &[Vec<usize>]) -> Vec<Pt> {
    let n = adj.len();
    let far = |d: &[usize]| (0..n).fold(0, |best, i| if d[i] > d[best] { i } else { best });
    let a = far(&reach(adj, 0));
    let da = reach(adj, a);
    let b = far(&da);
    // Walk back from b to a: each step one hop nearer.
    let mut path = vec![b];
    while let Some(&v) = path.last().filter(|&&v| v != a) {
        let Some(&u) = adj[v].iter().find(|&&u| da[u] + 1 == da[v]) else {
            break;
        };
        path.push(u);
    }
    if path.first() > path.last() {
        path.reverse();
    }
    let mut on = vec![false; n];
    path.iter().for_each(|&v| on[v] = true);
    let mut pos = vec![(0.0, 0.0); n];
    let mut x = 0.0;
    let mut last_w = 0.0;
    for (i, &s) in path.iter().enumerate() {
        // Each branch laid out on its own, then moved into place.
        let mut sides = [Vec::new(), Vec::new()];
        let mut wide = [0.0f64; 2];
        for &c in adj[s].iter().filter(|&&c| !on[c]) {
            let mut placed = Vec::new();
            let w = hang(adj, c, s, 0.0, 1.0, &mut pos, &mut placed);
            let side = usize::from(wide[1] < wide[0]);
            sides[side].push((placed, w));
            wide[side] += w;
        }
        let w = wide[0].max(wide[1]).max(1.0);
        if i > 0 {
            x += (last_w + w) / 2.0;
        }
        last_w = w;
        pos[s] = (x, 0.0);
        for (side, branches) in sides.iter().enumerate() {
            let mut left = x - (wide[side] - 1.0) / 2.0;
            for (placed, w) in branches {
                for &v in placed {
                    let y = if side == 0 { pos[v].1 } else { -pos[v].1 };
                    pos[v] = (pos[v].0 + left, y);
                }
                left += w;
            }
        }
    }
    pos
}

/// Stress majorization (SMACOF, as Graphviz's neato): each pair of nodes
/// as far apart as the hops between them, from a circle (deterministic);
/// then turned to lie wider than tall.
fn stress(lab: &Lab) -> Vec<Pt> {
    let n = lab.nodes.len();
    let adj = adjacency(lab);
    let hops: Vec<Vec<usize>> = (0..n).map(|i| reach(&adj, i)).collect();
    // Apart components sit a little further than the graph is wide.
    let wide = hops
        .iter()
        .flatten()
        .filter(|&&d| d != usize::MAX)
        .max()
        .copied()
        .unwrap_or(1)
        + 1;
    let d = |i: usize, j: usize| if hops[i][j] == usize::MAX { wide } else { hops[i][j] } as f64;
    let mut p = ring(n);
    // Node by node, each move seen by the next (Gauss–Seidel: converges
    // where moving all at once can fold the picture onto itself).
    for _ in 0..200 {
        for i in 0..n {
            let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
            for j in (0..n).filter(|&j| j != i) {
                let dij = d(i, j);
                let w = 1.0 / (dij * dij);
                let now = dist(p[i], p[j]).max(1e-9);
                sx += w * (p[j].0 + dij * (p[i].0 - p[j].0) / now);
                sy += w * (p[j].1 + dij * (p[i].1 - p[j].1) / now);
                sw += w;
            }
            if sw > 0.0 {
                p[i] = (sx / sw, sy / sw);
            }
        }
    }
    // The principal axis along x.
    let c = p.iter().fold((0.0, 0.0), |c, q| (c.0 + q.0, c.1 + q.1));
    let c = (c.0 / n.max(1) as f64, c.1 / n.max(1) as f64);
    let (sxx, syy, sxy) = p.iter().fold((0.0, 0.0, 0.0), |s, q| {
        let (x, y) = (q.0 - c.0, q.1 - c.1);
        (s.0 + x * x, s.1 + y * y, s.2 + x * y)
    });
    let a = -0.5 * (2.0 * sxy).atan2(sxx - syy);
    p.iter()
        .map(|q| {
            let (x, y) = (q.0 - c.0, q.1 - c.1);
            (x * a.cos() - y * a.sin(), x * a.sin() + y * a.cos())
        })
        .collect()
}

fn dist(a: Pt, b: Pt) -> f64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

/// A box on the picture.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn at(c: Pt, w: f64, h: f64) -> Rect {
        Rect {
            x0: c.0 - w / 2.0,
            y0: c.1 - h / 2.0,
            x1: c.0 + w / 2.0,
            y1: c.1 + h / 2.0,
        }
    }

    fn overlap(&self, o: &Rect) -> f64 {
        let w = self.x1.min(o.x1) - self.x0.max(o.x0);
        let h = self.y1.min(o.y1) - self.y0.max(o.y0);
        if w > 0.0 && h > 0.0 { w * h } else { 0.0 }
    }

    /// How much of the segment p–q runs through the box (Liang–Barsky).
    fn cut(&self, p: Pt, q: Pt) -> f64 {
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (pk, qk) in [
            (-dx, p.0 - self.x0),
            (dx, self.x1 - p.0),
            (-dy, p.1 - self.y0),
            (dy, self.y1 - p.1),
        ] {
            if pk == 0.0 {
                if qk < 0.0 {
                    return 0.0;
                }
            } else if pk < 0.0 {
                t0 = t0.max(qk / pk);
            } else {
                t1 = t1.min(qk / pk);
            }
        }
        if t1 > t0 { (t1 - t0) * dist(p, q) } else { 0.0 }
    }
}

/// The width of text in Helvetica or DejaVu Sans (the wider), near
/// enough (em fractions).
fn text_width(s: &str, size: f64, bold: bool) -> f64 {
    let em: f64 = s
        .chars()
        .map(|c| match c {
            '.' | '/' | ':' | ',' | '|' | ' ' | 'i' | 'j' | 'l' | 'I' => 0.33,
            'f' | 't' | 'r' | '-' | '(' | ')' => 0.42,
            'm' | 'w' | 'M' | 'W' => 0.98,
            c if c.is_ascii_uppercase() => 0.74,
            _ => 0.64,
        })
        .sum();
    em * size * if bold { 1.08 } else { 1.0 }
}

/// A label: lines of (text, colour, font size), centred on `at`.
struct Label {
    at: Pt,
    w: f64,
    h: f64,
    lines: Vec<(String, &'static str, f64)>,
}

impl Label {
    fn new(lines: Vec<(String, &'static str, f64)>) -> Label {
        let w = lines
            .iter()
            .map(|(s, _, f)| text_width(s, *f, false))
            .fold(0.0, f64::max)
            + 4.0;
        let h = lines.iter().map(|(_, _, f)| f * 1.2).sum::<f64>() + 1.0;
        Label {
            at: (0.0, 0.0),
            w,
            h,
            lines,
        }
    }

    fn rect(&self) -> Rect {
        Rect::at(self.at, self.w, self.h)
    }
}

/// The lab drawn: node boxes, link paths, labels, all in pixels.
struct Picture {
    small: bool,
    nodes: Vec<Rect>,
    /// Each link as points (a curve as many), from `a` to `b`.
    paths: Vec<Vec<Pt>>,
    labels: Vec<Label>,
}

/// The point `s` along a path (its end, past it) and the path's
/// direction there.
fn along(path: &[Pt], s: f64) -> (Pt, Pt) {
    let mut left = s.max(0.0);
    let last = path.len().saturating_sub(2);
    for (i, w) in path.windows(2).enumerate() {
        let len = dist(w[0], w[1]).max(1e-9);
        let u = ((w[1].0 - w[0].0) / len, (w[1].1 - w[0].1) / len);
        if left <= len || i == last {
            let t = left.min(len);
            return ((w[0].0 + u.0 * t, w[0].1 + u.1 * t), u);
        }
        left -= len;
    }
    (path.first().copied().unwrap_or_default(), (1.0, 0.0))
}

fn length(path: &[Pt]) -> f64 {
    path.windows(2).map(|w| dist(w[0], w[1])).sum()
}

/// Labels are put one by one where they collide least with the nodes,
/// the links and the labels put before them.
struct Placer {
    boxes: Vec<Rect>,
    segs: Vec<(Pt, Pt)>,
}

impl Placer {
    fn cost(&self, r: &Rect) -> f64 {
        let area = ((r.x1 - r.x0) * (r.y1 - r.y0)).max(1.0);
        let boxes: f64 = self
            .boxes
            .iter()
            .map(|b| r.overlap(b))
            .filter(|&o| o > 0.0)
            .map(|o| 100.0 + 100.0 * o / area)
            .sum();
        let lines: f64 = self
            .segs
            .iter()
            .map(|(p, q)| r.cut(*p, *q))
            .filter(|&c| c > 0.0)
            .map(|c| 40.0 + c)
            .sum();
        boxes + lines
    }

    /// The cheapest of the candidate centres (each with its own penalty).
    fn put(&mut self, mut label: Label, candidates: &[(Pt, f64)]) -> Label {
        let mut best = (f64::MAX, (0.0, 0.0));
        for &(c, penalty) in candidates {
            let cost = penalty + self.cost(&Rect::at(c, label.w, label.h));
            if cost < best.0 {
                best = (cost, c);
            }
        }
        label.at = best.1;
        self.boxes.push(label.rect());
        label
    }
}

/// Beside a path, from `from` along it to `to`, on either side; then, if
/// `around` is a node's box, all round it.
fn spots(path: &[Pt], from: f64, to: f64, ideal: f64, w: f64, h: f64, around: Option<Rect>) -> Vec<(Pt, f64)> {
    let mut out = Vec::new();
    let mut s = from;
    loop {
        let (_, u) = along(path, s);
        let half_along = u.0.abs() * w / 2.0 + u.1.abs() * h / 2.0;
        let half_across = u.1.abs() * w / 2.0 + u.0.abs() * h / 2.0 + 3.0;
        let s_here = s + half_along;
        let (q, _) = along(path, s_here);
        for (side, lane) in [(-1.0, 0.0), (1.0, 0.0), (-1.0, 14.0), (1.0, 14.0)] {
            let nrm = (-u.1 * side, u.0 * side);
            // Above a line, or right of an upright one, by a hair; a
            // lane further out if need be.
            let pref = if nrm.1 < -1e-6 || (nrm.1.abs() <= 1e-6 && nrm.0 > 0.0) {
                0.0
            } else {
                0.3
            };
            let off = half_across + lane;
            out.push((
                (q.0 + nrm.0 * off, q.1 + nrm.1 * off),
                (s_here - ideal).abs() / 8.0 + pref + lane / 2.0,
            ));
        }
        s += 5.0;
        if s + 2.0 * half_along > to {
            break;
        }
    }
    if let Some(b) = around {
        let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
        for k in 0..24 {
            let a = std::f64::consts::TAU * k as f64 / 24.0;
            let (ux, uy) = (a.cos(), a.sin());
            // Out of the box in that direction, then the label's own half.
            let rx = (b.x1 - b.x0) / 2.0 + w / 2.0 + 3.0;
            let ry = (b.y1 - b.y0) / 2.0 + h / 2.0 + 3.0;
            let t = (rx / ux.abs().max(1e-9)).min(ry / uy.abs().max(1e-9));
            out.push(((cx + ux * t, cy + uy * t), 12.0));
        }
    }
    out
}

/// A node's box: its name fits inside.
fn node_box(lab: &Lab, i: usize, at: Pt, small: bool) -> Rect {
    if small {
        return Rect::at(at, 6.0, 6.0);
    }
    let w = text_width(&lab.nodes[i].name, 11.0, true) + 12.0;
    match lab.nodes[i].kind {
        Kind::Router => Rect::at(at, w.max(32.0), 32.0),
        Kind::Host => Rect::at(at, w.max(32.0), 24.0),
        Kind::Switch => Rect::at(at, w.max(44.0), 20.0),
    }
}

/// What is written at link `i`'s end `e`: its interface and its address.
fn end_label(lab: &Lab, i: usize, e: usize) -> Label {
    let [a, b] = Lab::ifnames(i);
    let mut lines = vec![(if e == 0 { a } else { b }, "#1f4e79", 9.0)];
    if let Some((addr, p)) = lab.links[i].addr[e] {
        lines.push((format!("{}/{p}", Inet(addr)), "#555", 9.0));
    }
    Label::new(lines)
}

/// Lay the lab out and label it.
fn picture(lab: &Lab) -> Picture {
    let n = lab.nodes.len();
    let small = n > 200;
    let (units, rows) = layout(lab);
    // One link length in pixels: room for a label at each end (and the
    // emulation between), or, for big labs, whatever fits 6000 pixels.
    let unit = if small {
        let (x0, x1, y0, y1) = units.iter().fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN), |b, p| {
            (b.0.min(p.0), b.1.max(p.0), b.2.min(p.1), b.3.max(p.1))
        });
        (6000.0 / (x1 - x0).max(y1 - y0).max(1.0)).min(60.0)
    } else {
        // The longest link, were all its labels on one side of it.
        let half = |i: usize| node_box(lab, i, (0.0, 0.0), false).x1;
        let need = |(i, l): (usize, &super::Link)| {
            let emu = text_width(&link_label(lab, i), 11.0, false);
            half(l.a) + end_label(lab, i, 0).w + emu + end_label(lab, i, 1).w + half(l.b) + 16.0
        };
        lab.links.iter().enumerate().map(need).fold(150.0, f64::max).min(360.0)
    };
    // Rows need only room for the labels of an upright link; links at
    // any angle, where others cross, a little more than their own.
    let (unit, row) = match (small, rows) {
        (true, _) => (unit, unit),
        (false, true) => (unit, (unit / 2.0).max(130.0)),
        (false, false) => (unit * 1.3, unit * 1.3),
    };
    let pos: Vec<Pt> = units.iter().map(|p| (p.0 * unit, p.1 * row)).collect();
    let nodes: Vec<Rect> = (0..n).map(|i| node_box(lab, i, pos[i], small)).collect();
    // Links between the same two nodes bow apart.
    let mut pairs = std::collections::HashMap::<(usize, usize), Vec<usize>>::new();
    for (i, l) in lab.links.iter().enumerate() {
        pairs.entry((l.a.min(l.b), l.a.max(l.b))).or_default().push(i);
    }
    let mut paths = vec![Vec::new(); lab.links.len()];
    for (i, l) in lab.links.iter().enumerate() {
        let (a, b) = (
            pos.get(l.a).copied().unwrap_or_default(),
            pos.get(l.b).copied().unwrap_or_default(),
        );
        let same = &pairs[&(l.a.min(l.b), l.a.max(l.b))];
        let k = same.iter().position(|&j| j == i).unwrap_or(0) as f64 - (same.len() - 1) as f64 / 2.0;
        paths[i] = if k == 0.0 {
            vec![a, b]
        } else {
            let len = dist(a, b).max(1.0);
            let bow = k * 40.0 * if l.a < l.b { 1.0 } else { -1.0 };
            let c = (
                (a.0 + b.0) / 2.0 - (b.1 - a.1) / len * bow,
                (a.1 + b.1) / 2.0 + (b.0 - a.0) / len * bow,
            );
            (0..=16)
                .map(|j| {
                    let t = j as f64 / 16.0;
                    let (u, v, w) = ((1.0 - t) * (1.0 - t), 2.0 * t * (1.0 - t), t * t);
                    (u * a.0 + v * c.0 + w * b.0, u * a.1 + v * c.1 + w * b.1)
                })
                .collect()
        };
    }
    let mut labels = Vec::new();
    if !small {
        let mut placer = Placer {
            boxes: nodes.clone(),
            segs: paths.iter().flat_map(|p| p.windows(2).map(|w| (w[0], w[1]))).collect(),
        };
        // Each end's interface and address near its node, first.
        for (i, l) in lab.links.iter().enumerate() {
            for (e, node) in [(0, l.a), (1, l.b)] {
                let mut path = paths[i].clone();
                if e == 1 {
                    path.reverse();
                }
                let label = end_label(lab, i, e);
                let Some(b) = nodes.get(node).copied() else { continue };
                let (_, u) = along(&path, 0.0);
                let exit = ((b.x1 - b.x0) / 2.0 / u.0.abs().max(1e-9)).min((b.y1 - b.y0) / 2.0 / u.1.abs().max(1e-9));
                let c = spots(&path, exit + 2.0, length(&path) / 2.0, 0.0, label.w, label.h, Some(b));
                labels.push(placer.put(label, &c));
            }
        }
        // Then each link's emulation near its middle.
        for (i, path) in paths.iter().enumerate() {
            let text = link_label(lab, i);
            if text.is_empty() {
                continue;
            }
            let label = Label::new(vec![(text, "#b04020", 11.0)]);
            let len = length(path);
            let c = spots(path, 0.0, len, len / 2.0, label.w, label.h, None);
            labels.push(placer.put(label, &c));
        }
    }
    Picture {
        small,
        nodes,
        paths,
        labels,
    }
}

/// The lab as an SVG picture: nodes with their names, links with their
/// emulation, and each end's interface and address.
pub fn svg(lab: &Lab) -> String {
    let pic = picture(lab);
    let title = esc(&lab.name);
    let (m, head) = (20.0, 36.0);
    let all = pic.nodes.iter().copied().chain(pic.labels.iter().map(Label::rect));
    let (x0, y0, x1, y1) = all.fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |b, r| {
        (b.0.min(r.x0), b.1.min(r.y0), b.2.max(r.x1), b.3.max(r.y1))
    });
    let (x0, y0, x1, y1) = if x0 > x1 {
        (0.0, 0.0, 0.0, 0.0)
    } else {
        (x0, y0, x1, y1)
    };
    let (dx, dy) = (m - x0, m + head - y0);
    let width = (x1 - x0 + 2.0 * m).max(text_width(&lab.name, 15.0, true) + 2.0 * m);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{:.0}\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{m}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{title}</text>\n",
        y1 - y0 + 2.0 * m + head
    );
    for path in &pic.paths {
        let pts: Vec<String> = path
            .iter()
            .map(|p| format!("{:.1},{:.1}", p.0 + dx, p.1 + dy))
            .collect();
        s += &format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#6b7b8c\" stroke-width=\"1.5\"/>\n",
            pts.join(" ")
        );
    }
    for (i, (node, r)) in lab.nodes.iter().zip(&pic.nodes).enumerate() {
        let (x, y, w, h) = (r.x0 + dx, r.y0 + dy, r.x1 - r.x0, r.y1 - r.y0);
        let (cx, cy) = (x + w / 2.0, y + h / 2.0);
        s += &match (node.kind, pic.small) {
            (_, true) => {
                format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3\" fill=\"#dbe9f6\" stroke=\"#2f5d8a\"/>\n")
            }
            (Kind::Router, _) => format!(
                "<ellipse cx=\"{cx:.1}\" cy=\"{cy:.1}\" rx=\"{:.1}\" ry=\"{:.1}\" fill=\"#dbe9f6\" stroke=\"#2f5d8a\"/>\n",
                w / 2.0,
                h / 2.0
            ),
            (Kind::Host, _) => format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"4\" fill=\"#e7f4e4\" stroke=\"#3c7a33\"/>\n"
            ),
            (Kind::Switch, _) => format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#f6ecd9\" stroke=\"#8a6a2f\"/>\n"
            ),
        };
        if !pic.small {
            s += &format!(
                "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\n",
                cy + 4.0,
                esc(&lab.nodes[i].name)
            );
        }
    }
    // Labels on top, haloed in white so a line under one cannot hide it.
    s += "<g text-anchor=\"middle\" stroke=\"white\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">\n";
    for l in &pic.labels {
        let mut y = l.at.1 - l.h / 2.0 + dy;
        for (text, fill, size) in &l.lines {
            y += size * 1.2;
            s += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{fill}\" font-size=\"{size}\">{}</text>\n",
                l.at.0 + dx,
                y - size * 0.25,
                esc(text)
            );
        }
    }
    s + "</g>\n</svg>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Lab {
        let path = format!("{}/examples/labs/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        Lab::load(&path).expect("an example")
    }

    fn shape(kind: &str, size: &str) -> Lab {
        let text = format!("name = \"{kind}\"\nroutes = \"auto\"\n[topology]\nkind = \"{kind}\"\nsize = {size}\n");
        Lab::parse("shape.toml", &text).expect("a shape")
    }

    /// No label on a node, on another label or on a line.
    fn clear(pic: &Picture) -> Result<(), String> {
        let segs: Vec<(Pt, Pt)> = pic
            .paths
            .iter()
            .flat_map(|p| p.windows(2).map(|w| (w[0], w[1])))
            .collect();
        for (i, l) in pic.labels.iter().enumerate() {
            let r = l.rect();
            let what = &l.lines[0].0;
            if pic.nodes.iter().any(|n| r.overlap(n) > 0.0) {
                return Err(format!("{what} is on a node"));
            }
            if let Some(o) = pic.labels[..i].iter().find(|o| r.overlap(&o.rect()) > 0.0) {
                return Err(format!("{what} is on {}", o.lines[0].0));
            }
            if segs.iter().any(|(p, q)| r.cut(*p, *q) > 0.0) {
                return Err(format!("a line runs through {what}"));
            }
        }
        Ok(())
    }

    #[test]
    fn labels_keep_clear_of_nodes_lines_and_each_other() {
        for name in ["demo", "routed", "bridged", "dumbbell", "lan", "wireless", "chain"] {
            let lab = example(name);
            let pic = picture(&lab);
            assert_eq!(clear(&pic), Ok(()), "{name}");
            // Every end is named.
            assert_eq!(
                pic.labels.iter().filter(|l| l.lines[0].0.starts_with("epair")).count(),
                2 * lab.links.len()
            );
        }
        for (kind, size) in [
            ("chain", "3"),
            ("star", "7"),
            ("tree", "7"),
            ("grid", "[3, 3]"),
            ("random", "12"),
        ] {
            assert_eq!(clear(&picture(&shape(kind, size))), Ok(()), "{kind}");
        }
        // Links between the same two nodes bow apart.
        let ends = "[[link]]\nends = [\"a\", \"b\"]\n";
        let text = format!(
            "name = \"twice\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n{ends}{ends}name = \"again\"\ndelay = \"5ms\"\n"
        );
        let pic = picture(&Lab::parse("twice.toml", &text).expect("a lab"));
        assert_eq!(clear(&pic), Ok(()));
        assert_ne!(pic.paths[0], pic.paths[1]);
    }

    #[test]
    fn small_labs_are_compact() {
        // A 3-node chain is a row, as tall as its labels.
        let lab = shape("chain", "3");
        let pic = picture(&lab);
        assert!(pic.nodes.iter().all(|r| r.y0 == pic.nodes[0].y0));
        let svg = svg(&lab);
        let height: f64 = svg
            .split("height=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0);
        assert!(height < 160.0, "{height}");
        // The demo: the longest path across, h2 hung under the switch.
        let lab = example("demo");
        let (pos, _) = layout(&lab);
        let at = |name: &str| pos[lab.nodes.iter().position(|n| n.name == name).unwrap_or(0)];
        assert_eq!(
            ["h1", "sw", "r1", "r2", "r3", "h3"].map(at),
            [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0), (4.0, 0.0), (5.0, 0.0)]
        );
        assert_eq!(at("h2"), (1.0, 1.0));
    }
}
