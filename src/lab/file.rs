//! The lab file as written (TOML, docs/LABS.md), and its reading into a
//! [`Lab`]: every key known, every name defined, every value checked, and
//! an error that says where (file, line, column) and what was expected.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::topology::{Shape, generate};
use super::{Action, Emu, Event, Kind, Lab, LabError, Link, Node, Route, Routing};
use crate::kern::clock::{ClockKind, parse_duration};
use crate::net::route::inet_addr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    seed: Option<u64>,
    clock: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    routes: Option<Spanned<String>>,
    inet6: Option<bool>,
    topology: Option<TopologyF>,
    #[serde(default)]
    node: Vec<NodeF>,
    #[serde(default)]
    link: Vec<LinkF>,
    #[serde(default)]
    route: Vec<RouteF>,
    #[serde(default)]
    event: Vec<EventF>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyF {
    kind: Spanned<String>,
    size: Spanned<SizeF>,
    fanout: Option<u32>,
    degree: Option<f64>,
    prefix: Option<String>,
    link: Option<EmuF>,
    /// Set in every generated node.
    #[serde(default)]
    sysctl: BTreeMap<String, toml::Value>,
}

/// A probability: 0.02, or "2%".
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum ProbF {
    Num(f64),
    Text(String),
}

/// A value that must be a string (a duration, a rate), or what was
/// written instead.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum TextF {
    Text(String),
    Other(toml::Value),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeF {
    One(u64),
    Two([u64; 2]),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeF {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    #[serde(default)]
    sysctl: BTreeMap<String, toml::Value>,
    #[serde(default)]
    run: Vec<String>,
    tap: Option<Spanned<String>>,
    frr: Option<Spanned<String>>,
}

/// Link emulation, as a link, an event or a generated topology gives it.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct EmuF {
    bw: Option<Spanned<TextF>>,
    delay: Option<Spanned<TextF>>,
    jitter: Option<Spanned<TextF>>,
    loss: Option<Spanned<ProbF>>,
    dup: Option<Spanned<ProbF>>,
    ber: Option<Spanned<ProbF>>,
    queue: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkF {
    ends: Spanned<Vec<Spanned<String>>>,
    name: Option<Spanned<String>>,
    addrs: Option<Spanned<Vec<Spanned<String>>>>,
    mtu: Option<Spanned<u32>>,
    bw: Option<Spanned<TextF>>,
    delay: Option<Spanned<TextF>>,
    jitter: Option<Spanned<TextF>>,
    loss: Option<Spanned<ProbF>>,
    dup: Option<Spanned<ProbF>>,
    ber: Option<Spanned<ProbF>>,
    queue: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteF {
    node: Spanned<String>,
    to: Spanned<String>,
    via: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventF {
    at: Spanned<String>,
    node: Option<Spanned<String>>,
    run: Option<String>,
    link: Option<Spanned<String>>,
    down: Option<bool>,
    up: Option<bool>,
    bw: Option<Spanned<TextF>>,
    delay: Option<Spanned<TextF>>,
    jitter: Option<Spanned<TextF>>,
    loss: Option<Spanned<ProbF>>,
    dup: Option<Spanned<ProbF>>,
    ber: Option<Spanned<ProbF>>,
    queue: Option<u32>,
}

/// Where a span starts: (line, column), both from 1.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Reads one file, with its name and text at hand for errors.
struct Reader<'a> {
    file: &'a str,
    text: &'a str,
}

impl Reader<'_> {
    fn err<T>(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> Result<T, LabError> {
        let (line, col) = line_col(self.text, span.start);
        Err(LabError {
            file: self.file.to_string(),
            line,
            col,
            msg: msg.into(),
        })
    }

    fn duration(&self, s: &Spanned<String>) -> Result<Duration, LabError> {
        parse_duration(s.get_ref()).or_else(|e| self.err(s.span(), format!("expected a duration like \"5ms\": {e}")))
    }

    /// A string value, or an error saying what kind of string.
    fn text(&self, s: &Spanned<TextF>, like: &str) -> Result<Spanned<String>, LabError> {
        match s.get_ref() {
            TextF::Text(t) => Ok(Spanned::new(s.span(), t.clone())),
            TextF::Other(v) => self.err(s.span(), format!("expected {like} in quotes, not {v}")),
        }
    }

    /// A probability from 0 to 1, or a percentage.
    fn prob(&self, p: &Spanned<ProbF>) -> Result<f64, LabError> {
        let v = match p.get_ref() {
            ProbF::Num(v) => Some(*v),
            ProbF::Text(t) => t
                .trim()
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<f64>().ok())
                .map(|n| n / 100.0),
        };
        match v {
            Some(v) if (0.0..=1.0).contains(&v) => Ok(v),
            _ => self.err(
                p.span(),
                "expected a probability from 0 to 1, or a percentage like \"2%\"",
            ),
        }
    }

    /// Link emulation; `at` locates what the pipe command's own checks
    /// refuse.
    fn emu(&self, e: &EmuF, at: std::ops::Range<usize>) -> Result<Emu, LabError> {
        let mut words = Vec::new();
        let mut put = |k: &str, v: String| {
            words.push(k.to_string());
            words.push(v);
        };
        if let Some(b) = &e.bw {
            let b = self.text(b, "a rate like \"10Mbit/s\"")?;
            crate::net::pipe::parse_bw(b.get_ref()).or_else(|m| self.err(b.span(), m))?;
            put("bw", b.get_ref().clone());
        }
        for (k, d) in [("delay", &e.delay), ("jitter", &e.jitter)] {
            if let Some(d) = d {
                let d = self.text(d, "a duration like \"5ms\"")?;
                self.duration(&d)?;
                put(k, d.get_ref().clone());
            }
        }
        for (k, p) in [("plr", &e.loss), ("dup", &e.dup), ("ber", &e.ber)] {
            if let Some(p) = p {
                put(k, self.prob(p)?.to_string());
            }
        }
        if let Some(q) = e.queue {
            put("queue", q.to_string());
        }
        // The pipe command's own parser checks ranges and combinations.
        crate::userland::pipe::parse_conf(&words, Default::default()).or_else(|m| self.err(at, m))?;
        Ok(Emu(words))
    }

    fn prefix(&self, s: &Spanned<String>) -> Result<(u32, u8), LabError> {
        self.prefix_at(s.get_ref(), s.span())
    }

    fn prefix_at(&self, s: &str, span: std::ops::Range<usize>) -> Result<(u32, u8), LabError> {
        let bad = || format!("expected an address/prefix like \"10.0.0.1/24\", not \"{s}\"");
        match s.split_once('/').map(|(a, p)| (inet_addr(a), p.parse::<u8>())) {
            Some((Some(a), Ok(p))) if p <= 32 => Ok((a, p)),
            _ => self.err(span, bad()),
        }
    }

    fn prefix6_at(&self, s: &str, span: std::ops::Range<usize>) -> Result<(Ipv6Addr, u8), LabError> {
        let bad = || format!("expected an IPv6 address/prefix like \"fd00::1/64\", not \"{s}\"");
        match s.split_once('/').map(|(a, p)| (a.parse::<Ipv6Addr>(), p.parse::<u8>())) {
            Some((Ok(a), Ok(p))) if p <= 128 && !a.is_multicast() && !a.is_unspecified() => Ok((a, p)),
            _ => self.err(span, bad()),
        }
    }
}

/// `sysctl = { "net.inet.ip.ttl" = 255 }` as (name, value) pairs.
fn sysctls(m: &BTreeMap<String, toml::Value>) -> Vec<(String, String)> {
    m.iter()
        .map(|(k, v)| {
            let v = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Read a lab from `text` (named `file` in errors).
pub fn parse(file: &str, text: &str) -> Result<Lab, LabError> {
    let r = Reader { file, text };
    let f: File = toml::from_str(text).or_else(|e| {
        let msg = e.message().trim().to_string();
        r.err(e.span().unwrap_or(0..0), msg)
    })?;
    let clock = match &f.clock {
        None => ClockKind::Virtual,
        Some(c) => match c.get_ref().as_str() {
            "virtual" => ClockKind::Virtual,
            "real" => ClockKind::Real,
            _ => return r.err(c.span(), "expected clock = \"virtual\" or \"real\""),
        },
    };
    let routing = match &f.routes {
        None => Routing::None,
        Some(s) => match s.get_ref().as_str() {
            "auto" => Routing::Auto,
            "none" => Routing::None,
            "rip" => Routing::Rip,
            "ospf" => Routing::Ospf,
            "bgp" => Routing::Bgp,
            _ => {
                return r.err(
                    s.span(),
                    "expected routes = \"auto\", \"rip\", \"ospf\", \"bgp\" or \"none\"",
                );
            }
        },
    };
    let until = f.until.as_ref().map(|u| r.duration(u)).transpose()?;
    let mut lab = Lab {
        name: f.name.clone().unwrap_or_default(),
        seed: f.seed.unwrap_or(crate::kern::DEFAULT_SEED),
        clock,
        until,
        routing,
        shape: None,
        inet6: f.inet6.unwrap_or(false),
        nodes: Vec::new(),
        links: Vec::new(),
        routes: Vec::new(),
        routes6: Vec::new(),
        events: Vec::new(),
        via_at: Vec::new(),
    };
    if let Some(t) = &f.topology {
        let emu = t
            .link
            .as_ref()
            .map(|e| r.emu(e, t.kind.span()))
            .transpose()?
            .unwrap_or_default();
        let (n, dims) = match *t.size.get_ref() {
            SizeF::One(n) => (n, None),
            SizeF::Two([a, b]) => (a.saturating_mul(b), Some((a, b))),
        };
        if n == 0 || n > 1_000_000 {
            return r.err(t.size.span(), "expected a size from 1 to 1,000,000 nodes");
        }
        let shape = match (t.kind.get_ref().as_str(), dims) {
            ("chain", None) => Shape::Chain(n as usize),
            ("star", None) => Shape::Star(n as usize),
            ("tree", None) => Shape::Tree(n as usize, t.fanout.unwrap_or(2).max(1) as usize),
            ("grid", Some((a, b))) => Shape::Grid(a as usize, b as usize),
            ("grid", None) => return r.err(t.size.span(), "a grid's size is [rows, columns]"),
            ("random", None) => Shape::Random(n as usize, t.degree.unwrap_or(3.0).max(1.0)),
            ("chain" | "star" | "tree" | "random", Some(_)) => {
                return r.err(t.size.span(), "expected a number of nodes");
            }
            _ => {
                return r.err(
                    t.kind.span(),
                    "expected kind = \"chain\", \"star\", \"tree\", \"grid\" or \"random\"",
                );
            }
        };
        let prefix = t.prefix.clone().unwrap_or_else(|| "n".into());
        generate(
            &mut lab,
            shape,
            &prefix,
            &emu,
            f.seed.unwrap_or(crate::kern::DEFAULT_SEED),
        );
        let sysctl = sysctls(&t.sysctl);
        if !sysctl.is_empty() {
            lab.nodes.iter_mut().for_each(|n| n.sysctl.clone_from(&sysctl));
        }
        lab.shape = Some(shape);
    }
    let mut names: std::collections::HashMap<String, usize> =
        lab.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
    for n in &f.node {
        let name = n.name.get_ref();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '.' || c == '/') {
            return r.err(n.name.span(), "a node name is one word, without '.' or '/'");
        }
        if names.contains_key(name) {
            return r.err(n.name.span(), format!("node \"{name}\" is defined twice"));
        }
        let kind = match n.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("host") => Kind::Host,
            Some("router") => Kind::Router,
            Some("switch") => Kind::Switch,
            Some(_) => {
                let k = n.kind.as_ref().map_or(0..0, |k| k.span());
                return r.err(k, "expected kind = \"host\", \"router\" or \"switch\"");
            }
        };
        if n.tap.is_some() && clock != ClockKind::Real {
            let s = n.tap.as_ref().map_or(0..0, |t| t.span());
            return r.err(s, "a tap needs clock = \"real\" (or --clock real)");
        }
        let sysctl = sysctls(&n.sysctl);
        if let Some(f) = &n.frr
            && let Some(e) = crate::routing::conf::FrrConf::parse(f.get_ref()).1.first()
        {
            return r.err(f.span(), format!("frr {e}"));
        }
        names.insert(name.clone(), lab.nodes.len());
        lab.nodes.push(Node {
            name: name.clone(),
            kind,
            sysctl,
            run: n.run.clone(),
            tap: n.tap.as_ref().map(|t| t.get_ref().clone()),
            frr: n.frr.as_ref().map(|f| f.get_ref().clone()),
        });
    }
    let node = |s: &Spanned<String>| -> Result<usize, LabError> {
        names
            .get(s.get_ref())
            .copied()
            .map_or_else(|| r.err(s.span(), format!("no node is called \"{}\"", s.get_ref())), Ok)
    };
    let mut link_names: std::collections::HashMap<String, usize> =
        lab.links.iter().enumerate().map(|(i, l)| (l.name.clone(), i)).collect();
    let mut used: std::collections::HashMap<String, std::ops::Range<usize>> = Default::default();
    for l in &f.link {
        let ends = l.ends.get_ref();
        if ends.len() != 2 {
            return r.err(l.ends.span(), "expected ends = [\"a\", \"b\"]: two nodes");
        }
        let (a, b) = (node(&ends[0])?, node(&ends[1])?);
        if a == b {
            return r.err(l.ends.span(), "a link joins two different nodes");
        }
        if lab.nodes[a].kind == Kind::Switch && lab.nodes[b].kind == Kind::Switch {
            return r.err(
                l.ends.span(),
                "two switches are not joined by a link here (bridge them in one)",
            );
        }
        let mut addr = [None, None];
        let mut addr6 = [None, None];
        if let Some(addrs) = &l.addrs {
            if addrs.get_ref().len() != 2 {
                return r.err(addrs.span(), "expected addrs = [\"A/len\", \"B/len\"]: one per end");
            }
            for (i, s) in addrs.get_ref().iter().enumerate() {
                let end = [a, b][i];
                if lab.nodes[end].kind == Kind::Switch {
                    if !s.get_ref().is_empty() {
                        return r.err(s.span(), "a switch's end has no address (use \"\")");
                    }
                    continue;
                }
                // "10.0.0.1/24", "fd00::1/64", or both: "10.0.0.1/24 fd00::1/64".
                for word in s.get_ref().split_whitespace() {
                    let key = if word.contains(':') {
                        let (ad, plen) = r.prefix6_at(word, s.span())?;
                        if addr6[i].replace((ad, plen)).is_some() {
                            return r.err(s.span(), "one IPv6 address per end");
                        }
                        ad.to_string()
                    } else {
                        let (ad, plen) = r.prefix_at(word, s.span())?;
                        if addr[i].replace((ad, plen)).is_some() {
                            return r.err(s.span(), "one IPv4 address per end");
                        }
                        crate::net::route::Inet(ad).to_string()
                    };
                    if let Some(first) = used.insert(key, s.span()) {
                        let (line, col) = line_col(text, first.start);
                        return r.err(
                            s.span(),
                            format!(
                                "{} is used twice (first at {line}:{col})",
                                word.split('/').next().unwrap_or("")
                            ),
                        );
                    }
                }
                if addr[i].is_none() && addr6[i].is_none() {
                    return r.err(
                        s.span(),
                        "expected an address/prefix like \"10.0.0.1/24\" or \"fd00::1/64\"",
                    );
                }
            }
            if let [Some((x, px)), Some((y, py))] = addr
                && (px != py || !crate::netinet::in_::in_prefix(y, x, px))
            {
                return r.err(
                    addrs.span(),
                    "the two ends of a link are on one network (the same prefix, like 10.0.0.1/24 and 10.0.0.2/24)",
                );
            }
            if let [Some((x, px)), Some((y, py))] = addr6 {
                let m = <u128 as crate::net::radix::Key>::mask(px);
                if px != py || u128::from(x) & m != u128::from(y) & m {
                    return r.err(
                        addrs.span(),
                        "the two ends of a link are on one network (the same prefix, like fd00::1/64 and fd00::2/64)",
                    );
                }
            }
            if addr6.iter().any(Option::is_some) {
                lab.inet6 = true;
            }
        }
        let name = match &l.name {
            Some(n) => n.get_ref().clone(),
            None => format!("{}-{}", lab.nodes[a].name, lab.nodes[b].name),
        };
        if link_names.contains_key(&name) {
            let s = l.name.as_ref().map_or(l.ends.span(), |n| n.span());
            return r.err(
                s,
                format!("link \"{name}\" is defined twice (name one with name = \"...\")"),
            );
        }
        let emu = r.emu(
            &EmuF {
                bw: l.bw.clone(),
                delay: l.delay.clone(),
                jitter: l.jitter.clone(),
                loss: l.loss.clone(),
                dup: l.dup.clone(),
                ber: l.ber.clone(),
                queue: l.queue,
            },
            l.ends.span(),
        )?;
        let mtu = match &l.mtu {
            Some(m) if !(72..=65535).contains(m.get_ref()) => {
                return r.err(m.span(), "expected an MTU from 72 to 65535");
            }
            m => m.as_ref().map(|m| *m.get_ref()),
        };
        link_names.insert(name.clone(), lab.links.len());
        lab.links.push(Link {
            name,
            a,
            b,
            addr,
            addr6,
            emu,
            mtu,
        });
    }
    for rt in &f.route {
        let n = node(&rt.node)?;
        let (dst, plen) = if rt.to.get_ref() == "default" {
            (0, 0)
        } else {
            r.prefix(&rt.to)?
        };
        let via = inet_addr(rt.via.get_ref())
            .map_or_else(|| r.err(rt.via.span(), "expected an address like \"10.0.0.1\""), Ok)?;
        lab.routes.push(Route {
            node: n,
            dst,
            plen,
            via,
        });
        lab.via_at.push(line_col(text, rt.via.span().start));
    }
    for e in &f.event {
        let at = r.duration(&e.at)?;
        let n = e.node.as_ref().map(node).transpose()?;
        let emu = EmuF {
            bw: e.bw.clone(),
            delay: e.delay.clone(),
            jitter: e.jitter.clone(),
            loss: e.loss.clone(),
            dup: e.dup.clone(),
            ber: e.ber.clone(),
            queue: e.queue,
        };
        let changes_link = e.down.is_some()
            || e.up.is_some()
            || e.bw.is_some()
            || e.delay.is_some()
            || e.jitter.is_some()
            || e.loss.is_some()
            || e.dup.is_some()
            || e.ber.is_some()
            || e.queue.is_some();
        let action = match (&e.run, &e.link) {
            (Some(cmd), None) if !changes_link => Action::Run(cmd.clone()),
            (None, Some(l)) => {
                let li = link_names
                    .get(l.get_ref())
                    .copied()
                    .map_or_else(|| r.err(l.span(), format!("no link is called \"{}\"", l.get_ref())), Ok)?;
                match (e.down, e.up) {
                    (Some(true), None) => Action::LinkDown(li),
                    (None, Some(true)) => Action::LinkUp(li),
                    (None, None) if changes_link => Action::LinkEmu(li, r.emu(&emu, e.at.span())?),
                    _ => {
                        return r.err(
                            l.span(),
                            "a link event is one of down = true, up = true, or new emulation",
                        );
                    }
                }
            }
            _ => return r.err(e.at.span(), "an event has either run = \"...\" or link = \"...\""),
        };
        lab.events.push(Event { at, node: n, action });
    }
    lab.events.sort_by_key(|e| e.at);
    Ok(lab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_where() {
        let e = parse("x.toml", "[[node]]\nname = \"a\"\ncolour = \"red\"\n").expect_err("error");
        assert_eq!((e.line, e.col), (3, 1), "{e}");
        assert!(e.msg.contains("unknown field `colour`"), "{e}");
        let e = parse("x.toml", "[[node]]\nname = \"a\"\n[[link]]\nends = [\"a\", \"b\"]\n").expect_err("error");
        assert_eq!(e.to_string(), "x.toml:4:14: no node is called \"b\"");
        let e = parse("x.toml", "[[event]]\nat = \"soon\"\nrun = \"ping\"\n").expect_err("error");
        assert_eq!((e.line, e.col), (2, 6));
    }
}
