//! Pictures of a lab: Graphviz DOT, and an SVG drawn here (no tools to
//! install) — generated shapes laid out as what they are, anything else
//! by a seeded force-directed layout (Fruchterman–Reingold).

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
        let end = |e: usize| l.addr[e].map(|(a, p)| format!("{}/{p}", Inet(a))).unwrap_or_default();
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

/// Positions in a unit square.
fn layout(lab: &Lab) -> Vec<(f64, f64)> {
    let n = lab.nodes.len();
    let generated = lab.shape.filter(|_| lab.links.iter().all(|l| l.a < n && l.b < n));
    match generated {
        Some(Shape::Grid(rows, cols)) if rows * cols == n => (0..n)
            .map(|i| {
                let (r, c) = (i / cols, i % cols);
                (
                    c as f64 / cols.max(2).saturating_sub(1) as f64,
                    r as f64 / rows.max(2).saturating_sub(1) as f64,
                )
            })
            .collect(),
        Some(Shape::Chain(m)) if m == n => {
            // A snake of rows, so long chains fit.
            let w = (n as f64).sqrt().ceil().max(1.0) as usize;
            let w = if n <= 12 { n } else { w };
            (0..n)
                .map(|i| {
                    let (r, c) = (i / w, i % w);
                    let c = if r % 2 == 1 { w - 1 - c } else { c };
                    let rows = n.div_ceil(w);
                    (
                        c as f64 / (w.max(2) - 1) as f64,
                        if rows > 1 { r as f64 / (rows - 1) as f64 } else { 0.5 },
                    )
                })
                .collect()
        }
        Some(Shape::Star(m)) if m == n => (0..n)
            .map(|i| {
                if i == 0 {
                    return (0.5, 0.5);
                }
                let a = std::f64::consts::TAU * (i - 1) as f64 / (n - 1) as f64;
                (0.5 + 0.5 * a.cos(), 0.5 + 0.5 * a.sin())
            })
            .collect(),
        _ if n > 600 => (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                (0.5 + 0.5 * a.cos(), 0.5 + 0.5 * a.sin())
            })
            .collect(),
        _ => force(lab),
    }
}

/// Fruchterman–Reingold from a circle (deterministic).
fn force(lab: &Lab) -> Vec<(f64, f64)> {
    let n = lab.nodes.len().max(1);
    let mut p: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            (0.5 + 0.4 * a.cos(), 0.5 + 0.4 * a.sin())
        })
        .collect();
    let k = (1.0 / n as f64).sqrt();
    let mut t = 0.1;
    for _ in 0..300 {
        let mut d = vec![(0.0f64, 0.0f64); n];
        for i in 0..n {
            for j in i + 1..n {
                let (dx, dy) = (p[i].0 - p[j].0, p[i].1 - p[j].1);
                let dist = (dx * dx + dy * dy).sqrt().max(1e-4);
                let f = k * k / dist;
                d[i].0 += dx / dist * f;
                d[i].1 += dy / dist * f;
                d[j].0 -= dx / dist * f;
                d[j].1 -= dy / dist * f;
            }
        }
        for l in &lab.links {
            let (dx, dy) = (p[l.a].0 - p[l.b].0, p[l.a].1 - p[l.b].1);
            let dist = (dx * dx + dy * dy).sqrt().max(1e-4);
            let f = dist * dist / k;
            d[l.a].0 -= dx / dist * f;
            d[l.a].1 -= dy / dist * f;
            d[l.b].0 += dx / dist * f;
            d[l.b].1 += dy / dist * f;
        }
        for i in 0..n {
            let len = (d[i].0 * d[i].0 + d[i].1 * d[i].1).sqrt().max(1e-9);
            p[i].0 += d[i].0 / len * len.min(t);
            p[i].1 += d[i].1 / len * len.min(t);
        }
        t *= 0.985;
    }
    // Fit to the unit square.
    let (minx, maxx) = p
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), q| (a.min(q.0), b.max(q.0)));
    let (miny, maxy) = p
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), q| (a.min(q.1), b.max(q.1)));
    p.iter()
        .map(|q| {
            (
                if maxx > minx { (q.0 - minx) / (maxx - minx) } else { 0.5 },
                if maxy > miny { (q.1 - miny) / (maxy - miny) } else { 0.5 },
            )
        })
        .collect()
}

/// The lab as an SVG picture: nodes with their names, links with their
/// emulation and each end's address.
pub fn svg(lab: &Lab) -> String {
    let n = lab.nodes.len();
    let pos = layout(lab);
    let side = (200.0 * (n as f64).sqrt()).clamp(720.0, 6000.0);
    let small = n > 200;
    let (m, w, h) = (70.0, side, side * 0.75);
    let xy = |i: usize| (m + pos[i].0 * w, m + pos[i].1 * h);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        w + 2.0 * m,
        h + 2.0 * m + 20.0
    );
    s += &format!(
        "<text x=\"{m}\" y=\"24\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
        esc(&lab.name)
    );
    // Addresses go on top of the nodes.
    let mut top = String::new();
    for (i, l) in lab.links.iter().enumerate() {
        let ((x1, y1), (x2, y2)) = (xy(l.a), xy(l.b));
        s += &format!(
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"#6b7b8c\" stroke-width=\"1.5\"/>\n"
        );
        if small {
            continue;
        }
        // Beside the line: its emulation in the middle, each end's address
        // near its node.
        let len = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt().max(1.0);
        let (nx, ny) = (-(y2 - y1) / len, (x2 - x1) / len);
        let label = link_label(lab, i);
        if !label.is_empty() {
            let (mx, my) = ((x1 + x2) / 2.0 + nx * 10.0, (y1 + y2) / 2.0 + ny * 10.0 + 4.0);
            s += &format!(
                "<text x=\"{mx:.1}\" y=\"{my:.1}\" fill=\"#b04020\" text-anchor=\"middle\">{}</text>\n",
                esc(&label)
            );
        }
        for (e, (ax, ay), (bx, by)) in [(0, (x1, y1), (x2, y2)), (1, (x2, y2), (x1, y1))] {
            if let Some((a, p)) = l.addr[e] {
                let t = (34.0 / len).min(0.45);
                let (tx, ty) = (ax + (bx - ax) * t - nx * 9.0, ay + (by - ay) * t - ny * 9.0 + 3.0);
                top += &format!(
                    "<text x=\"{tx:.1}\" y=\"{ty:.1}\" fill=\"#555\" font-size=\"9\" text-anchor=\"middle\">{}/{p}</text>\n",
                    Inet(a)
                );
            }
        }
    }
    for (i, node) in lab.nodes.iter().enumerate() {
        let (x, y) = xy(i);
        let r = if small { 3.0 } else { 16.0 };
        s += &match node.kind {
            Kind::Router => {
                format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"#dbe9f6\" stroke=\"#2f5d8a\"/>\n")
            }
            Kind::Host => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"#e7f4e4\" stroke=\"#3c7a33\"/>\n",
                x - r,
                y - r * 0.75,
                2.0 * r,
                1.5 * r
            ),
            Kind::Switch => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{}\" fill=\"#f6ecd9\" stroke=\"#8a6a2f\"/>\n",
                x - 1.4 * r,
                y - r * 0.6,
                2.8 * r,
                1.2 * r
            ),
        };
        if !small {
            s += &format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\n",
                y + 4.0,
                esc(&node.name)
            );
        }
    }
    s + &top + "</svg>\n"
}
