//! Labs: a network described in a TOML file (docs/LABS.md) — nodes,
//! links, addresses, routes, a timeline — built into vnets and run.
//!
//! `file.rs` reads the file into a [`Lab`]; `topology.rs` generates chains,
//! stars, trees, grids and random graphs; `addr.rs` numbers the links and
//! computes routes; `build.rs` makes the jails, epairs, bridges, addresses
//! and routes straight through the kernel (fast enough for 100,000
//! nodes); `run.rs` runs the startup commands and the timeline and
//! collects what they print; `graph.rs` draws the lab.

mod addr;
mod build;
pub mod cli;
mod file;
mod graph;
pub mod run;
mod topology;

use std::time::Duration;

pub use build::{Built, build};
pub use graph::{dot, svg};
pub use run::{Options, Record, format, run};
pub use topology::Shape;

use crate::kern::clock::ClockKind;

/// A bad lab file: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl std::fmt::Display for LabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.msg)
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
        }
    }
}

impl std::error::Error for LabError {}

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Host,
    /// Forwarding on.
    Router,
    /// A bridge: the nodes linked to it share one subnet.
    Switch,
}

/// A node: a jail with its own vnet.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub kind: Kind,
    pub sysctl: Vec<(String, String)>,
    pub run: Vec<String>,
    /// A host TAP device joined to the node as `tap0`.
    pub tap: Option<String>,
    /// Its FRR configuration (frr.conf's language): the running
    /// configuration its routing daemons start with.
    pub frr: Option<String>,
}

/// Link emulation as the words of `pipe IF config`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Emu(pub Vec<String>);

/// A link: an epair from node `a` to node `b`.
#[derive(Clone, Debug)]
pub struct Link {
    pub name: String,
    pub a: usize,
    pub b: usize,
    /// Each end's address and prefix length (none: numbered for you, or
    /// a switch's end).
    pub addr: [Option<(u32, u8)>; 2],
    /// Each end's IPv6 address (numbered for you in a lab with `inet6`).
    pub addr6: [Option<(std::net::Ipv6Addr, u8)>; 2],
    pub emu: Emu,
    pub mtu: Option<u32>,
}

/// A static route (IPv4; `Route<u128>` for IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<K = u32> {
    pub node: usize,
    pub dst: K,
    pub plen: u8,
    pub via: K,
}

/// What a timeline entry does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A command line, in the event's node (or on the host).
    Run(String),
    LinkDown(usize),
    LinkUp(usize),
    LinkEmu(usize, Emu),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub at: Duration,
    pub node: Option<usize>,
    pub action: Action,
}

/// `routes = ...`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    None,
    Auto,
    /// Every node runs ripd on all its links (docs/ROUTING.md).
    Rip,
    /// Every node runs ospfd on all its links, all in area 0.
    Ospf,
    /// Every node runs bgpd in an AS of its own (65001 on), with an eBGP
    /// session to each neighbor on its links, redistributing its
    /// connected networks.
    Bgp,
}

/// A lab, read and checked.
#[derive(Clone, Debug)]
pub struct Lab {
    pub name: String,
    pub seed: u64,
    pub clock: ClockKind,
    pub until: Option<Duration>,
    pub routing: Routing,
    /// What generated its nodes, if anything did.
    pub shape: Option<Shape>,
    /// Dual stack: every link end gets an IPv6 address too (`inet6 =
    /// true`, or any written in `addrs`), and `routes = "auto"` routes
    /// both families.
    pub inet6: bool,
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub routes: Vec<Route>,
    pub routes6: Vec<Route<u128>>,
    pub events: Vec<Event>,
    /// Where the file wrote each of its routes' `via` (line, column): the
    /// first routes are the file's.
    pub via_at: Vec<(usize, usize)>,
}

impl Lab {
    /// The interfaces link `i` gives its two ends on a fresh host:
    /// `epair<i>a` in `a`, `epair<i>b` in `b` (what pictures name; a
    /// daemon already holding labs gives the next free units).
    pub fn ifnames(i: usize) -> [String; 2] {
        [format!("epair{i}a"), format!("epair{i}b")]
    }

    /// Read a lab file.
    pub fn load(path: &str) -> Result<Lab, LabError> {
        let text = std::fs::read_to_string(path).map_err(|e| LabError {
            file: path.to_string(),
            line: 0,
            col: 0,
            msg: e.to_string(),
        })?;
        Lab::parse(path, &text)
    }

    /// Read a lab from text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Lab, LabError> {
        let mut lab = file::parse(file, text)?;
        let whole = |msg| LabError {
            file: file.to_string(),
            line: 0,
            col: 0,
            msg,
        };
        addr::number(&mut lab).map_err(whole)?;
        addr::number6(&mut lab).map_err(whole)?;
        // A route's gateway is on a network its node is attached to.
        for (r, &(line, col)) in lab.routes.iter().zip(&lab.via_at) {
            let attached = lab.links.iter().any(|l| {
                [(l.a, l.addr[0]), (l.b, l.addr[1])]
                    .iter()
                    .any(|&(n, a)| n == r.node && a.is_some_and(|(a, p)| crate::netinet::in_::in_prefix(r.via, a, p)))
            });
            if !attached {
                return Err(LabError {
                    file: file.to_string(),
                    line,
                    col,
                    msg: format!(
                        "{} is not on a network {} is attached to",
                        crate::net::route::Inet(r.via),
                        lab.nodes[r.node].name
                    ),
                });
            }
        }
        if lab.routing == Routing::Auto {
            addr::auto_routes(&mut lab).map_err(whole)?;
        }
        lab.start_daemons();
        Ok(lab)
    }

    /// With `routes = "rip"` or `"ospf"`, a configuration for each node
    /// that has none: the protocol on the networks of all its links (and
    /// RIPng on their IPv6 networks in a dual-stack lab). A node whose
    /// configuration has `router rip`, `router ripng`, `router ospf`,
    /// `router bgp` or static routes starts ripd, ripngd, ospfd, bgpd or
    /// staticd before its own commands.
    fn start_daemons(&mut self) {
        let (router, area) = match self.routing {
            Routing::Rip => ("router rip", ""),
            Routing::Ospf => ("router ospf", " area 0"),
            _ => ("", ""),
        };
        for i in 0..self.nodes.len() {
            if self.nodes[i].frr.is_none() && self.nodes[i].kind != Kind::Switch {
                if self.routing == Routing::Bgp {
                    self.nodes[i].frr = Some(self.bgp_conf(i));
                } else if !router.is_empty() {
                    let mut conf = format!("{router}\n");
                    for l in &self.links {
                        for (end, n) in [l.a, l.b].into_iter().enumerate() {
                            if let (true, Some((a, plen))) = (n == i, l.addr[end]) {
                                let net = a & crate::net::radix::mask(plen);
                                conf += &format!(" network {}/{plen}{area}\n", crate::net::route::Inet(net));
                            }
                        }
                    }
                    if self.routing == Routing::Rip && self.inet6 {
                        conf += "router ripng\n";
                        for l in &self.links {
                            for (end, n) in [l.a, l.b].into_iter().enumerate() {
                                if let (true, Some((a, plen))) = (n == i, l.addr6[end]) {
                                    let net = u128::from(a) & <u128 as crate::net::radix::Key>::mask(plen);
                                    conf += &format!(" network {}/{plen}\n", std::net::Ipv6Addr::from(net));
                                }
                            }
                        }
                    }
                    self.nodes[i].frr = Some(conf);
                }
            }
            let node = &mut self.nodes[i];
            let has = |r: &str| node.frr.as_deref().is_some_and(|f| f.lines().any(|l| l.trim() == r));
            let bgp = |f: &str| f.lines().any(|l| l.trim().starts_with("router bgp "));
            let statics = |f: &str| {
                f.lines()
                    .any(|l| l.trim().starts_with("ip route ") || l.trim().starts_with("ipv6 route "))
            };
            let daemons: Vec<&str> = [
                ("router rip", "ripd -d"),
                ("router ripng", "ripngd -d"),
                ("router ospf", "ospfd -d"),
                ("router bgp", "bgpd -d"),
                ("ip route", "staticd -d"),
            ]
            .into_iter()
            .filter(|(r, _)| {
                has(r)
                    || *r == "router bgp" && node.frr.as_deref().is_some_and(bgp)
                    || *r == "ip route" && node.frr.as_deref().is_some_and(statics)
            })
            .map(|(_, d)| d)
            .collect();
            for d in daemons.into_iter().rev() {
                node.run.insert(0, d.into());
            }
        }
    }

    /// Node `i`'s generated BGP configuration (`routes = "bgp"`): AS
    /// 65001 + i (past 65534, four-octet ones from 4,200,000,000), an eBGP
    /// session to every other node on each of its links (through a
    /// switch, every other node on it), its connected networks
    /// redistributed; with `inet6`, IPv6 unicast too over the same
    /// sessions.
    fn bgp_conf(&self, i: usize) -> String {
        let asn = if i + 65001 <= 65534 {
            65001 + i as u64
        } else {
            4_200_000_000 + i as u64
        };
        let mut conf = format!("router bgp {asn}\n no bgp ebgp-requires-policy\n");
        // The links of node (or switch) `n`: the other end's node and address.
        let ends = |n: usize| -> Vec<(usize, Option<u32>)> {
            self.links
                .iter()
                .filter_map(|l| match (l.a == n, l.b == n) {
                    (true, _) => Some((l.b, l.addr[1].map(|a| a.0))),
                    (_, true) => Some((l.a, l.addr[0].map(|a| a.0))),
                    _ => None,
                })
                .collect()
        };
        let mut peers = Vec::new();
        for (other, addr) in ends(i) {
            if self.nodes[other].kind == Kind::Switch {
                peers.extend(ends(other).into_iter().filter(|(n, _)| *n != i).filter_map(|x| x.1));
            } else {
                peers.extend(addr);
            }
        }
        for a in &peers {
            conf += &format!(" neighbor {} remote-as external\n", crate::net::route::Inet(*a));
        }
        conf += " address-family ipv4 unicast\n  redistribute connected\n exit-address-family\n";
        if self.inet6 {
            conf += " address-family ipv6 unicast\n  redistribute connected\n";
            for a in &peers {
                conf += &format!("  neighbor {} activate\n", crate::net::route::Inet(*a));
            }
            conf += " exit-address-family\n";
        }
        conf
    }

    /// The first address of node `i` (what its name resolves to).
    pub fn node_addr(&self, i: usize) -> Option<u32> {
        self.links.iter().find_map(|l| match (l.a == i, l.b == i) {
            (true, _) => l.addr[0].map(|a| a.0),
            (_, true) => l.addr[1].map(|a| a.0),
            _ => None,
        })
    }

    /// The first IPv6 address of node `i` (what its name resolves to for
    /// ping6, traceroute6).
    pub fn node_addr6(&self, i: usize) -> Option<std::net::Ipv6Addr> {
        self.links.iter().find_map(|l| match (l.a == i, l.b == i) {
            (true, _) => l.addr6[0].map(|a| a.0),
            (_, true) => l.addr6[1].map(|a| a.0),
            _ => None,
        })
    }
}
