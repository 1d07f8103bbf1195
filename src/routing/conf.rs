//! FRR's configuration language (frr.conf, and what `vtysh -c` types in
//! configure mode), the part vimage's daemons carry out: `router rip`
//! with its `network`, `neighbor`, `passive-interface`, `redistribute`,
//! `default-information originate`, `timers basic`, `version`,
//! `default-metric`, `distance`; `router ripng` with the same less
//! `neighbor`, `version` and `distance`; `router ospf`, `router bgp`,
//! prefix lists and route maps; `interface IF` with `ip rip` and `ipv6
//! ripng split-horizon [poisoned-reverse]` and `ip ospf ...`; `hostname`. Lines are read as FRR
//! reads them: a command not of the current node is tried at the top,
//! `no` takes a setting back, `!` starts a comment, and what FRR would
//! refuse is an error naming the line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::policy::{PrefixList, RouteMap, policy_config, prefix_list_line, route_map_line};
use super::rib::RibFamily;
use crate::net::route::inet_addr;

/// Where a redistributed route comes from (`redistribute WHAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Redist {
    Kernel,
    Connected,
    Static,
    /// BGP's only.
    Rip,
    Ospf,
    /// BGP's IPv6 unicast only.
    Ripng,
}

impl Redist {
    pub fn name(self) -> &'static str {
        match self {
            Redist::Kernel => "kernel",
            Redist::Connected => "connected",
            Redist::Static => "static",
            Redist::Rip => "rip",
            Redist::Ospf => "ospf",
            Redist::Ripng => "ripng",
        }
    }
}

/// How an interface's updates treat routes learned through it (RFC 2453
/// §3.4.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SplitHorizon {
    /// Left out (FRR's default).
    #[default]
    Simple,
    /// Sent back at metric 16.
    PoisonedReverse,
    /// Sent back as they are (`no ip rip split-horizon`).
    Off,
}

/// `router rip`, and `router ripng` (`K` = `u128`: no `neighbor`,
/// `version` or `distance` there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RipConf<K = u32> {
    /// `network A.B.C.D/M`: RIP on interfaces with an address inside.
    pub networks: Vec<(K, u8)>,
    /// `network IFNAME`.
    pub network_ifs: Vec<String>,
    /// `neighbor A.B.C.D`: updates also sent to it, unicast.
    pub neighbors: Vec<K>,
    /// `passive-interface IF`, and `passive-interface default` (all but
    /// those named `no passive-interface IF`).
    pub passive: Vec<String>,
    pub passive_default: bool,
    pub redistribute: BTreeMap<Redist, Option<u32>>,
    /// `default-information originate`.
    pub default_originate: bool,
    /// `timers basic UPDATE TIMEOUT GARBAGE` (seconds).
    pub update: u32,
    pub timeout: u32,
    pub garbage: u32,
    pub default_metric: u32,
    pub distance: u8,
}

impl<K> Default for RipConf<K> {
    fn default() -> Self {
        RipConf {
            networks: Vec::new(),
            network_ifs: Vec::new(),
            neighbors: Vec::new(),
            passive: Vec::new(),
            passive_default: false,
            redistribute: BTreeMap::new(),
            default_originate: false,
            update: 30,
            timeout: 180,
            garbage: 120,
            default_metric: 1,
            distance: 120,
        }
    }
}

impl<K> RipConf<K> {
    /// Is RIP passive (listening, not sending) on `ifname`?
    pub fn is_passive(&self, ifname: &str) -> bool {
        self.passive_default != self.passive.iter().any(|p| p == ifname)
    }
}

/// `router ospf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OspfConf {
    /// `ospf router-id A.B.C.D` (else the highest address, loopbacks first).
    pub router_id: Option<u32>,
    /// `network A.B.C.D/M area AREA`.
    pub networks: Vec<((u32, u8), u32)>,
    pub passive: Vec<String>,
    pub passive_default: bool,
    /// `redistribute WHAT [metric N] [metric-type 1|2]`: metric and E1.
    pub redistribute: BTreeMap<Redist, (Option<u32>, bool)>,
    /// `auto-cost reference-bandwidth` (Mbit/s).
    pub ref_bandwidth: u64,
    pub distance: u8,
    /// `max-lsa N` (IOS's; FRR has none): LSAs new to the database past
    /// this many are refused and counted, what bounds an LSA storm.
    pub max_lsa: usize,
}

/// `max-lsa`'s default: far above a 1,000-router area's 3,000.
pub const MAX_LSA: usize = 100_000;

impl Default for OspfConf {
    fn default() -> Self {
        OspfConf {
            router_id: None,
            networks: Vec::new(),
            passive: Vec::new(),
            passive_default: false,
            redistribute: BTreeMap::new(),
            ref_bandwidth: 100,
            distance: 110,
            max_lsa: MAX_LSA,
        }
    }
}

/// `ip ospf ...` of an interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OspfIfConf {
    pub cost: Option<u16>,
    pub hello: Option<u16>,
    pub dead: Option<u32>,
    pub priority: Option<u8>,
    pub retransmit: Option<u16>,
    /// `ip ospf network point-to-point`.
    pub p2p: bool,
    /// `ip ospf area AREA`.
    pub area: Option<u32>,
    pub passive: bool,
    pub mtu_ignore: bool,
}

/// `neighbor X remote-as ...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteAs {
    As(u32),
    /// `internal`: our own AS.
    Internal,
    /// `external`: any AS but ours.
    External,
}

/// A BGP neighbor's settings (`neighbor A.B.C.D ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpNeighbor {
    pub remote_as: RemoteAs,
    pub description: Option<String>,
    /// `timers KEEPALIVE HOLD`.
    pub timers: Option<(u16, u16)>,
    /// `timers connect N` (FRR's default 120 s).
    pub connect: Option<u16>,
    pub shutdown: bool,
    /// `passive`: wait to be connected to.
    pub passive: bool,
    /// Its settings in `address-family ipv4 unicast` and `ipv6 unicast`.
    pub af: [NeighborAf; 2],
}

/// A neighbor's settings in one address family: `activate` (IPv4's on
/// by default, IPv6's off, as FRR), `next-hop-self`,
/// `route-reflector-client`, `route-map NAME in|out`, `prefix-list NAME
/// in|out`, `maximum-prefix N`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeighborAf {
    pub activate: bool,
    pub next_hop_self: bool,
    /// RFC 4456.
    pub rr_client: bool,
    pub route_map_in: Option<String>,
    pub route_map_out: Option<String>,
    pub prefix_list_in: Option<String>,
    pub prefix_list_out: Option<String>,
    pub max_prefix: Option<u32>,
}

impl NeighborAf {
    /// Is there an inbound or outbound policy (`bgp ebgp-requires-policy`)?
    pub fn has_policy(&self, out: bool) -> bool {
        if out {
            self.route_map_out.is_some() || self.prefix_list_out.is_some()
        } else {
            self.route_map_in.is_some() || self.prefix_list_in.is_some()
        }
    }
}

impl BgpNeighbor {
    fn new(remote_as: RemoteAs) -> BgpNeighbor {
        BgpNeighbor {
            remote_as,
            description: None,
            timers: None,
            connect: None,
            shutdown: false,
            passive: false,
            af: [
                NeighborAf {
                    activate: true,
                    ..NeighborAf::default()
                },
                NeighborAf::default(),
            ],
        }
    }
}

/// What `router bgp` originates in one address family: `network
/// PREFIX [route-map NAME]`, `redistribute WHAT [metric N] [route-map
/// NAME]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpAfConf<K> {
    pub networks: BTreeMap<(K, u8), Option<String>>,
    pub redistribute: BTreeMap<Redist, (Option<u32>, Option<String>)>,
}

impl<K> Default for BgpAfConf<K> {
    fn default() -> Self {
        BgpAfConf {
            networks: BTreeMap::new(),
            redistribute: BTreeMap::new(),
        }
    }
}

/// `router bgp ASN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpConf {
    pub asn: u32,
    pub router_id: Option<u32>,
    /// `bgp cluster-id A.B.C.D` (else the router ID).
    pub cluster_id: Option<u32>,
    /// FRR 8.4's default: no routes to or from an eBGP peer without a
    /// policy (RFC 8212).
    pub ebgp_requires_policy: bool,
    /// `timers bgp KEEPALIVE HOLD` (60, 180).
    pub keepalive: u16,
    pub hold: u16,
    pub neighbors: BTreeMap<u32, BgpNeighbor>,
    /// `address-family ipv4 unicast`'s and `ipv6 unicast`'s origins.
    pub v4: BgpAfConf<u32>,
    pub v6: BgpAfConf<u128>,
    /// `distance bgp EXTERNAL INTERNAL LOCAL` (20, 200, 200).
    pub distance: (u8, u8, u8),
}

impl BgpConf {
    pub fn new(asn: u32) -> BgpConf {
        BgpConf {
            asn,
            router_id: None,
            cluster_id: None,
            ebgp_requires_policy: true,
            keepalive: 60,
            hold: 180,
            neighbors: BTreeMap::new(),
            v4: BgpAfConf::default(),
            v6: BgpAfConf::default(),
            distance: (20, 200, 200),
        }
    }
}

/// A static route, staticd's (`ip route PREFIX GATEWAY [IFNAME]
/// [DISTANCE]`, `ipv6 route ...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticRoute<K = u32> {
    pub prefix: (K, u8),
    pub gateway: K,
    /// The interface a link-local gateway is on.
    pub ifname: Option<String>,
    /// 1 unless told.
    pub distance: u8,
}

/// `interface IF`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfConf {
    pub split_horizon: SplitHorizon,
    /// `ipv6 ripng split-horizon [poisoned-reverse]`.
    pub ripng_split_horizon: SplitHorizon,
    pub description: Option<String>,
    pub ospf: OspfIfConf,
}

/// The node a line is read in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Node {
    #[default]
    Config,
    RouterRip,
    RouterRipng,
    RouterOspf,
    RouterBgp,
    /// `address-family ipv4 unicast` in `router bgp`.
    BgpIpv4,
    /// `address-family ipv6 unicast`.
    BgpIpv6,
    /// Another address family: its lines are refused.
    BgpOtherAf,
    RouteMap(String, u32),
    Interface(String),
}

/// A whole configuration, as `show running-config` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrrConf {
    pub hostname: Option<String>,
    /// `ip route`, `ipv6 route`.
    pub statics: Vec<StaticRoute>,
    pub statics6: Vec<StaticRoute<u128>>,
    pub rip: Option<RipConf>,
    pub ripng: Option<RipConf<u128>>,
    pub ospf: Option<OspfConf>,
    pub bgp: Option<BgpConf>,
    pub prefix_lists: BTreeMap<String, PrefixList>,
    pub prefix_lists6: BTreeMap<String, PrefixList<u128>>,
    pub route_maps: BTreeMap<String, RouteMap>,
    pub interfaces: BTreeMap<String, IfConf>,
}

/// Lines FRR accepts that change nothing here. The first two are the header `show running-config` prints, so its output reads back.
const ACCEPTED: &[&str] = &[
    "Building configuration",
    "Current configuration",
    "frr",
    "log",
    "service",
    "line",
    "password",
    "enable",
    "ip forwarding",
    "ipv6 forwarding",
    "debug",
    "agentx",
    "end",
    "write",
    "configure",
];

impl FrrConf {
    /// Read a whole file: its configuration, and a message for each line
    /// it refused (`line N: % Unknown command: ...`), as FRR logs them.
    pub fn parse(text: &str) -> (FrrConf, Vec<String>) {
        let mut c = FrrConf::default();
        let mut node = Node::Config;
        let mut errors = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Err(e) = c.apply(&mut node, line) {
                errors.push(format!("line {}: {e}", n + 1));
            }
        }
        (c, errors)
    }

    /// Take one line in `node`, which it may change; the error is FRR's.
    pub fn apply(&mut self, node: &mut Node, line: &str) -> Result<(), String> {
        let line = line.split('!').next().unwrap_or("").trim();
        if line.is_empty() {
            return Ok(());
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "exit-address-family"
            || words[0] == "exit" && matches!(node, Node::BgpIpv4 | Node::BgpIpv6 | Node::BgpOtherAf)
        {
            *node = Node::RouterBgp;
            return Ok(());
        }
        if matches!(words[0], "exit" | "quit" | "exit-vrf") {
            *node = Node::Config;
            return Ok(());
        }
        let (neg, w) = match words.split_first() {
            Some((&"no", rest)) if !rest.is_empty() => (true, rest),
            _ => (false, &words[..]),
        };
        let inner = match node.clone() {
            Node::RouterRip => rip_line(self.rip.get_or_insert_with(RipConf::default), neg, w),
            Node::RouterRipng => rip_line(self.ripng.get_or_insert_with(RipConf::default), neg, w),
            Node::RouterOspf => self.ospf_line(neg, w),
            Node::Interface(name) => self.if_line(&name, neg, w),
            Node::RouterBgp => self.bgp_line(node, neg, w, false),
            Node::BgpIpv4 => self.bgp_line(node, neg, w, true),
            Node::BgpIpv6 => self.bgp.as_mut().and_then(|b| bgp_af_line(b, |b| &mut b.v6, 1, neg, w)),
            Node::BgpOtherAf => Some(Err(format!(
                "% {line}: only the IPv4 and IPv6 unicast address families are supported here"
            ))),
            Node::RouteMap(name, seq) => self
                .route_maps
                .get_mut(&name)
                .and_then(|m| m.get_mut(&seq))
                .and_then(|e| route_map_line(e, neg, w)),
            Node::Config => None,
        };
        match inner {
            Some(r) => r,
            None => self.top_line(node, neg, w, line),
        }
    }

    fn top_line(&mut self, node: &mut Node, neg: bool, w: &[&str], line: &str) -> Result<(), String> {
        match w {
            ["router", "rip", rest @ ..] if rest.is_empty() || rest[0] == "vrf" && rest.get(1) == Some(&"default") => {
                if neg {
                    self.rip = None;
                    *node = Node::Config;
                } else {
                    self.rip.get_or_insert_with(RipConf::default);
                    *node = Node::RouterRip;
                }
                Ok(())
            }
            ["router", "ripng", rest @ ..]
                if rest.is_empty() || rest[0] == "vrf" && rest.get(1) == Some(&"default") =>
            {
                if neg {
                    self.ripng = None;
                    *node = Node::Config;
                } else {
                    self.ripng.get_or_insert_with(RipConf::default);
                    *node = Node::RouterRipng;
                }
                Ok(())
            }
            ["router", "ospf", rest @ ..] if rest.is_empty() || rest[0] == "vrf" && rest.get(1) == Some(&"default") => {
                if neg {
                    self.ospf = None;
                    *node = Node::Config;
                } else {
                    self.ospf.get_or_insert_with(OspfConf::default);
                    *node = Node::RouterOspf;
                }
                Ok(())
            }
            ["router", "bgp", rest @ ..] => {
                let asn = match rest {
                    [] if neg => None,
                    [] => return Err("% Command incomplete: router bgp".into()),
                    [a, ..] => Some(parse_asn(a)?),
                };
                if neg {
                    if asn.is_none() || self.bgp.as_ref().map(|b| b.asn) == asn {
                        self.bgp = None;
                    }
                    *node = Node::Config;
                    return Ok(());
                }
                let asn = asn.unwrap_or_default();
                match &self.bgp {
                    Some(b) if b.asn != asn => {
                        return Err(format!("BGP is already running; AS is {}", b.asn));
                    }
                    Some(_) => {}
                    None => self.bgp = Some(BgpConf::new(asn)),
                }
                *node = Node::RouterBgp;
                Ok(())
            }
            ["ip", "prefix-list", rest @ ..] => prefix_list_line(&mut self.prefix_lists, neg, rest),
            ["ipv6", "prefix-list", rest @ ..] => prefix_list_line(&mut self.prefix_lists6, neg, rest),
            ["ip", "route", rest @ ..] => static_line(&mut self.statics, neg, rest),
            ["ipv6", "route", rest @ ..] => static_line(&mut self.statics6, neg, rest),
            ["route-map", name, act @ ("permit" | "deny"), seq] => {
                let seq: u32 = seq
                    .parse()
                    .ok()
                    .filter(|s| (1..=65535).contains(s))
                    .ok_or_else(|| format!("% Invalid value: {seq} (from 1 to 65535)"))?;
                let m = self.route_maps.entry(name.to_string()).or_default();
                if neg {
                    m.remove(&seq);
                    if m.is_empty() {
                        self.route_maps.remove(*name);
                    }
                    return Ok(());
                }
                m.entry(seq).or_default().permit = *act == "permit";
                *node = Node::RouteMap(name.to_string(), seq);
                Ok(())
            }
            ["route-map", name] if neg => {
                self.route_maps.remove(*name);
                Ok(())
            }
            ["interface", name, ..] => {
                if neg {
                    self.interfaces.remove(*name);
                } else {
                    self.interfaces.entry(name.to_string()).or_default();
                    *node = Node::Interface(name.to_string());
                }
                Ok(())
            }
            ["hostname", name] => {
                self.hostname = (!neg).then(|| name.to_string());
                Ok(())
            }
            _ if ACCEPTED
                .iter()
                .any(|a| line.starts_with(a) || line.strip_prefix("no ").is_some_and(|l| l.starts_with(a))) =>
            {
                Ok(())
            }
            _ => Err(format!("% Unknown command: {line}")),
        }
    }

    /// A line of `router ospf`; `None` if it is not one.
    fn ospf_line(&mut self, neg: bool, w: &[&str]) -> Option<Result<(), String>> {
        let o = self.ospf.get_or_insert_with(OspfConf::default);
        let res = match w {
            ["ospf", "router-id", a] | ["router-id", a] => match inet_addr(a) {
                Some(a) => {
                    o.router_id = (!neg).then_some(a);
                    Ok(())
                }
                None => Err(format!("% Malformed address: {a}")),
            },
            ["ospf", "router-id"] if neg => {
                o.router_id = None;
                Ok(())
            }
            ["network", p, "area", a] => match (parse_prefix(p), parse_area(a)) {
                (Some(p), Some(a)) => {
                    o.networks.retain(|x| x.0 != p);
                    if !neg {
                        o.networks.push((p, a));
                    }
                    Ok(())
                }
                (None, _) => Err(format!("% Malformed prefix: {p}")),
                _ => Err(format!("% OSPF area ID is invalid: {a}")),
            },
            ["passive-interface", name] => passive_line(&mut o.passive, &mut o.passive_default, name, neg),
            ["redistribute", what, rest @ ..] => {
                let k = match redist_local(what) {
                    Ok(k) => k,
                    Err(e) => return Some(Err(e)),
                };
                let (mut metric, mut e1) = (None, false);
                let mut it = rest.iter();
                while let Some(x) = it.next() {
                    match (*x, it.next()) {
                        ("metric", Some(m)) => match m.parse::<u32>().ok().filter(|m| *m <= 16_777_214) {
                            Some(m) => metric = Some(m),
                            None => return Some(Err(format!("% Invalid metric: {m}"))),
                        },
                        ("metric-type", Some(&"1")) => e1 = true,
                        ("metric-type", Some(&"2")) => e1 = false,
                        _ => return Some(Err(format!("% Unknown command: {}", w.join(" ")))),
                    }
                }
                if neg {
                    o.redistribute.remove(&k);
                } else {
                    o.redistribute.insert(k, (metric, e1));
                }
                Ok(())
            }
            ["auto-cost", "reference-bandwidth", n] => {
                match n.parse::<u64>().ok().filter(|n| (1..=4_294_967).contains(n)) {
                    Some(n) => {
                        o.ref_bandwidth = if neg { 100 } else { n };
                        Ok(())
                    }
                    None => Err(format!("% Invalid value: {n} (from 1 to 4294967)")),
                }
            }
            ["distance", d] => match d.parse::<u8>().ok().filter(|d| *d > 0) {
                Some(d) => {
                    o.distance = if neg { 110 } else { d };
                    Ok(())
                }
                None => Err(format!("% Invalid value: {d} (from 1 to 255)")),
            },
            ["max-lsa", n] => match n.parse::<usize>().ok().filter(|n| (1..=10_000_000).contains(n)) {
                Some(n) => {
                    o.max_lsa = if neg { MAX_LSA } else { n };
                    Ok(())
                }
                None => Err(format!("% Invalid value: {n} (from 1 to 10000000)")),
            },
            // Logged or tuned in FRR; nothing to do here.
            ["log-adjacency-changes", ..] | ["timers", ..] | ["ospf", "abr-type", ..] | ["capability", "opaque"] => {
                Ok(())
            }
            _ => return None,
        };
        Some(res)
    }

    /// A line of `router bgp`, or of its `address-family ipv4 unicast`
    /// (FRR takes those at the top of `router bgp` too, as IPv4 unicast's);
    /// `None` if it is not one.
    fn bgp_line(&mut self, node: &mut Node, neg: bool, w: &[&str], in_af: bool) -> Option<Result<(), String>> {
        let b = self.bgp.as_mut()?;
        let res = match w {
            ["address-family", "ipv4", rest @ ..] if !in_af && (rest.is_empty() || rest == ["unicast"]) => {
                *node = Node::BgpIpv4;
                Ok(())
            }
            ["address-family", "ipv6", rest @ ..] if !in_af && (rest.is_empty() || rest == ["unicast"]) => {
                *node = Node::BgpIpv6;
                Ok(())
            }
            ["address-family", ..] if !in_af => {
                *node = Node::BgpOtherAf;
                Err(format!(
                    "% {}: only IPv4 and IPv6 unicast are supported here",
                    w.join(" ")
                ))
            }
            ["bgp", "router-id", a] => match inet_addr(a) {
                Some(a) => {
                    b.router_id = (!neg).then_some(a);
                    Ok(())
                }
                None => Err(format!("% Malformed bgp router-id: {a}")),
            },
            ["bgp", "cluster-id", a] => match inet_addr(a) {
                Some(a) => {
                    b.cluster_id = (!neg).then_some(a);
                    Ok(())
                }
                None => Err(format!("% Malformed bgp cluster-id: {a}")),
            },
            ["bgp", "ebgp-requires-policy"] => {
                b.ebgp_requires_policy = !neg;
                Ok(())
            }
            // Logging, best-path tie-breaks and defaults FRR has: accepted.
            [
                "bgp",
                "log-neighbor-changes" | "bestpath" | "default" | "deterministic-med" | "graceful-restart",
                ..,
            ] => Ok(()),
            ["timers", "bgp", k, h] => (|| {
                let (k, h) = (num(k, 0, 65535)?, num(h, 0, 65535)?);
                if h != 0 && h < 3 {
                    return Err("% hold time must be 0 or at least 3".to_string());
                }
                (b.keepalive, b.hold) = if neg { (60, 180) } else { (k as u16, h as u16) };
                Ok(())
            })(),
            ["timers", "bgp"] if neg => {
                (b.keepalive, b.hold) = (60, 180);
                Ok(())
            }
            ["distance", "bgp", e, i, l] => (|| {
                let d = (num(e, 1, 255)? as u8, num(i, 1, 255)? as u8, num(l, 1, 255)? as u8);
                b.distance = if neg { (20, 200, 200) } else { d };
                Ok(())
            })(),
            ["neighbor", a, rest @ ..] if !bgp_af_neighbor_line(rest) => match inet_addr(a) {
                Some(a) => neighbor_line(b, a, neg, rest),
                None => Err(format!("% Malformed address: {a}")),
            },
            _ => return bgp_af_line(b, |b| &mut b.v4, 0, neg, w),
        };
        Some(res)
    }

    /// A line of `interface IF`; `None` if it is not one.
    fn if_line(&mut self, name: &str, neg: bool, w: &[&str]) -> Option<Result<(), String>> {
        let i = self.interfaces.entry(name.to_string()).or_default();
        match w {
            ["ip", "rip", "split-horizon", rest @ ..] => {
                return Some(split_horizon_line(&mut i.split_horizon, neg, rest));
            }
            ["ipv6", "ripng", "split-horizon", rest @ ..] => {
                return Some(split_horizon_line(&mut i.ripng_split_horizon, neg, rest));
            }
            ["ip", "ospf", rest @ ..] => return Some(ospf_if_line(&mut i.ospf, neg, rest)),
            ["description", rest @ ..] => i.description = (!neg).then(|| rest.join(" ")),
            // Set with ifconfig here; accepted as FRR accepts them.
            ["ip", "address", ..] | ["ipv6", "address", ..] | ["link-detect"] | ["shutdown"] => {}
            _ => return None,
        }
        Some(Ok(()))
    }

    /// The configuration as `show running-config` prints it.
    pub fn running_config(&self) -> String {
        let mut s = String::from(
            "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4\nfrr defaults traditional\n",
        );
        if let Some(h) = &self.hostname {
            let _ = writeln!(s, "hostname {h}");
        }
        static_config(&mut s, "ip", &self.statics);
        static_config(&mut s, "ipv6", &self.statics6);
        s += "!\n";
        for (name, i) in &self.interfaces {
            if *i == IfConf::default() {
                continue;
            }
            let _ = writeln!(s, "interface {name}");
            if let Some(d) = &i.description {
                let _ = writeln!(s, " description {d}");
            }
            for (sh, what) in [(i.split_horizon, "ip rip"), (i.ripng_split_horizon, "ipv6 ripng")] {
                match sh {
                    SplitHorizon::Simple => {}
                    SplitHorizon::PoisonedReverse => _ = writeln!(s, " {what} split-horizon poisoned-reverse"),
                    SplitHorizon::Off => _ = writeln!(s, " no {what} split-horizon"),
                }
            }
            let o = &i.ospf;
            let area = |a: u32| std::net::Ipv4Addr::from(a).to_string();
            for (name, v) in [
                ("area", o.area.map(area)),
                ("cost", o.cost.map(|x| x.to_string())),
                ("dead-interval", o.dead.map(|x| x.to_string())),
                ("hello-interval", o.hello.map(|x| x.to_string())),
                ("mtu-ignore", o.mtu_ignore.then(String::new)),
                ("network", o.p2p.then(|| "point-to-point".to_string())),
                ("passive", o.passive.then(String::new)),
                ("priority", o.priority.map(|x| x.to_string())),
                ("retransmit-interval", o.retransmit.map(|x| x.to_string())),
            ] {
                if let Some(v) = v {
                    let _ = writeln!(s, "{}", format!(" ip ospf {name} {v}").trim_end());
                }
            }
            s += "exit\n!\n";
        }
        if let Some(r) = &self.rip {
            rip_config(&mut s, "router rip", r);
        }
        if let Some(r) = &self.ripng {
            rip_config(&mut s, "router ripng", r);
        }
        if let Some(o) = &self.ospf {
            s += "router ospf\n";
            if let Some(r) = o.router_id {
                let _ = writeln!(s, " ospf router-id {}", std::net::Ipv4Addr::from(r));
            }
            for (k, (m, e1)) in &o.redistribute {
                let _ = write!(s, " redistribute {}", k.name());
                if let Some(m) = m {
                    let _ = write!(s, " metric {m}");
                }
                s += if *e1 { " metric-type 1\n" } else { "\n" };
            }
            if o.passive_default {
                s += " passive-interface default\n";
            }
            for p in &o.passive {
                let no = if o.passive_default { "no " } else { "" };
                let _ = writeln!(s, " {no}passive-interface {p}");
            }
            for &((a, l), area) in &o.networks {
                let _ = writeln!(
                    s,
                    " network {}/{l} area {}",
                    std::net::Ipv4Addr::from(a),
                    std::net::Ipv4Addr::from(area)
                );
            }
            if o.ref_bandwidth != 100 {
                let _ = writeln!(s, " auto-cost reference-bandwidth {}", o.ref_bandwidth);
            }
            if o.distance != 110 {
                let _ = writeln!(s, " distance {}", o.distance);
            }
            if o.max_lsa != MAX_LSA {
                let _ = writeln!(s, " max-lsa {}", o.max_lsa);
            }
            s += "exit\n!\n";
        }
        if let Some(b) = &self.bgp {
            bgp_config(b, &mut s);
        }
        policy_config(&self.prefix_lists, &self.prefix_lists6, &self.route_maps, &mut s);
        s += "end\n";
        s
    }
}

/// `router bgp` as `show running-config` prints it.
fn bgp_config(b: &BgpConf, s: &mut String) {
    use std::net::Ipv4Addr;
    let _ = writeln!(s, "router bgp {}", b.asn);
    if let Some(r) = b.router_id {
        let _ = writeln!(s, " bgp router-id {}", Ipv4Addr::from(r));
    }
    if let Some(c) = b.cluster_id {
        let _ = writeln!(s, " bgp cluster-id {}", Ipv4Addr::from(c));
    }
    if !b.ebgp_requires_policy {
        s.push_str(" no bgp ebgp-requires-policy\n");
    }
    if (b.keepalive, b.hold) != (60, 180) {
        let _ = writeln!(s, " timers bgp {} {}", b.keepalive, b.hold);
    }
    for (&a, n) in &b.neighbors {
        let a = Ipv4Addr::from(a);
        let r = match n.remote_as {
            RemoteAs::As(x) => x.to_string(),
            RemoteAs::Internal => "internal".into(),
            RemoteAs::External => "external".into(),
        };
        let _ = writeln!(s, " neighbor {a} remote-as {r}");
        if let Some(d) = &n.description {
            let _ = writeln!(s, " neighbor {a} description {d}");
        }
        if n.passive {
            let _ = writeln!(s, " neighbor {a} passive");
        }
        if n.shutdown {
            let _ = writeln!(s, " neighbor {a} shutdown");
        }
        if let Some((k, h)) = n.timers {
            let _ = writeln!(s, " neighbor {a} timers {k} {h}");
        }
        if let Some(c) = n.connect {
            let _ = writeln!(s, " neighbor {a} timers connect {c}");
        }
    }
    bgp_af_config(b, &b.v4, 0, s);
    if b.neighbors.values().any(|n| n.af[1] != NeighborAf::default()) || b.v6 != BgpAfConf::default() {
        bgp_af_config(b, &b.v6, 1, s);
    }
    s.push_str("exit\n!\n");
}

/// One address family of `router bgp` as `show running-config` prints it.
fn bgp_af_config<K: RibFamily>(b: &BgpConf, af: &BgpAfConf<K>, i: usize, s: &mut String) {
    use std::net::Ipv4Addr;
    let _ = writeln!(
        s,
        " !\n address-family {} unicast",
        if K::INET6 { "ipv6" } else { "ipv4" }
    );
    for (&(net, len), m) in &af.networks {
        let _ = write!(s, "  network {}/{len}", net.show());
        if let Some(m) = m {
            let _ = write!(s, " route-map {m}");
        }
        s.push('\n');
    }
    for (k, (metric, map)) in &af.redistribute {
        let _ = write!(s, "  redistribute {}", k.name());
        if let Some(m) = metric {
            let _ = write!(s, " metric {m}");
        }
        if let Some(m) = map {
            let _ = write!(s, " route-map {m}");
        }
        s.push('\n');
    }
    for (&a, n) in &b.neighbors {
        let a = Ipv4Addr::from(a);
        let n = &n.af[i];
        // IPv4's is on unless taken back, IPv6's off unless given.
        if n.activate && i == 1 {
            let _ = writeln!(s, "  neighbor {a} activate");
        }
        if n.next_hop_self {
            let _ = writeln!(s, "  neighbor {a} next-hop-self");
        }
        if n.rr_client {
            let _ = writeln!(s, "  neighbor {a} route-reflector-client");
        }
        for (what, dir, v) in [
            ("prefix-list", "in", &n.prefix_list_in),
            ("prefix-list", "out", &n.prefix_list_out),
            ("route-map", "in", &n.route_map_in),
            ("route-map", "out", &n.route_map_out),
        ] {
            if let Some(v) = v {
                let _ = writeln!(s, "  neighbor {a} {what} {v} {dir}");
            }
        }
        if let Some(m) = n.max_prefix {
            let _ = writeln!(s, "  neighbor {a} maximum-prefix {m}");
        }
        if !n.activate && i == 0 {
            let _ = writeln!(s, "  no neighbor {a} activate");
        }
    }
    if b.distance != (20, 200, 200) && i == 0 {
        let _ = writeln!(s, "  distance bgp {} {} {}", b.distance.0, b.distance.1, b.distance.2);
    }
    s.push_str(" exit-address-family\n");
}

/// An `ip ospf ...` line of an interface.
fn ospf_if_line(o: &mut OspfIfConf, neg: bool, w: &[&str]) -> Result<(), String> {
    fn num<T: std::str::FromStr + PartialOrd>(s: &str, lo: T, hi: T) -> Result<T, String> {
        s.parse::<T>()
            .ok()
            .filter(|n| *n >= lo && *n <= hi)
            .ok_or_else(|| format!("% Invalid value: {s}"))
    }
    fn set<T>(neg: bool, v: Result<T, String>) -> Result<Option<T>, String> {
        v.map(|v| (!neg).then_some(v))
    }
    match w {
        ["cost", n] => o.cost = set(neg, num(n, 1u16, 65535))?,
        ["hello-interval", n] => o.hello = set(neg, num(n, 1u16, 65535))?,
        ["dead-interval", n] => o.dead = set(neg, num(n, 1u32, 65535))?,
        ["priority", n] => o.priority = set(neg, num(n, 0u8, 255))?,
        ["retransmit-interval", n] => o.retransmit = set(neg, num(n, 1u16, 65535))?,
        ["network", "point-to-point"] => o.p2p = !neg,
        ["network", "broadcast"] => o.p2p = false,
        ["area", a] => {
            o.area = set(
                neg,
                parse_area(a).ok_or_else(|| format!("% OSPF area ID is invalid: {a}")),
            )?
        }
        ["passive"] => o.passive = !neg,
        ["mtu-ignore"] => o.mtu_ignore = !neg,
        [x, ..] if neg && matches!(*x, "cost" | "hello-interval" | "dead-interval" | "priority" | "area") => {
            *o = OspfIfConf {
                cost: if *x == "cost" { None } else { o.cost },
                hello: if *x == "hello-interval" { None } else { o.hello },
                dead: if *x == "dead-interval" { None } else { o.dead },
                priority: if *x == "priority" { None } else { o.priority },
                area: if *x == "area" { None } else { o.area },
                ..o.clone()
            }
        }
        _ => return Err(format!("% Unknown command: ip ospf {}", w.join(" "))),
    }
    Ok(())
}

/// An AS number: 1..4294967295, plain or `asdot` (`1.10`).
pub fn parse_asn(s: &str) -> Result<u32, String> {
    let bad = || format!("% Invalid AS number: {s}");
    let n = match s.split_once('.') {
        Some((hi, lo)) => {
            (hi.parse::<u16>().map_err(|_| bad())? as u32) << 16 | lo.parse::<u16>().map_err(|_| bad())? as u32
        }
        None => s.parse::<u32>().map_err(|_| bad())?,
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(n)
}

/// Is this `neighbor X ...` line one of an address family's?
fn bgp_af_neighbor_line(w: &[&str]) -> bool {
    matches!(
        w.first(),
        Some(
            &("next-hop-self"
                | "route-reflector-client"
                | "route-map"
                | "prefix-list"
                | "maximum-prefix"
                | "activate"
                | "soft-reconfiguration"
                | "send-community")
        )
    )
}

/// A line of `address-family ipv4|ipv6 unicast` (`af` picks which part
/// of `router bgp`, `i` which of a neighbor's settings); `None` if it is
/// not one.
fn bgp_af_line<K: RibFamily>(
    b: &mut BgpConf,
    af: impl Fn(&mut BgpConf) -> &mut BgpAfConf<K>,
    i: usize,
    neg: bool,
    w: &[&str],
) -> Option<Result<(), String>> {
    let kinds: &[Redist] = if K::INET6 {
        &[Redist::Kernel, Redist::Connected, Redist::Static, Redist::Ripng]
    } else {
        &[
            Redist::Kernel,
            Redist::Connected,
            Redist::Static,
            Redist::Rip,
            Redist::Ospf,
        ]
    };
    let res = match w {
        ["network", p, rest @ ..] => match (parse_prefix_of::<K>(p), rest) {
            (None, _) => Err(format!("% Malformed prefix: {p}")),
            (Some(p), []) => {
                toggle_map(&mut af(b).networks, p, None, neg);
                Ok(())
            }
            (Some(p), ["route-map", m]) => {
                toggle_map(&mut af(b).networks, p, Some(m.to_string()), neg);
                Ok(())
            }
            _ => Err(format!("% Unknown command: {}", w.join(" "))),
        },
        ["redistribute", what, rest @ ..] => {
            let Some(&k) = kinds.iter().find(|k| k.name() == *what) else {
                return Some(Err(format!("% Unknown command: redistribute {what}")));
            };
            let (mut metric, mut map) = (None, None);
            for pair in rest.chunks(2) {
                match pair {
                    ["metric", m] => match num(m, 0, u32::MAX) {
                        Ok(m) => metric = Some(m),
                        Err(e) => return Some(Err(e)),
                    },
                    ["route-map", n] => map = Some(n.to_string()),
                    _ => return Some(Err(format!("% Unknown command: {}", w.join(" ")))),
                }
            }
            toggle_map(&mut af(b).redistribute, k, (metric, map), neg);
            Ok(())
        }
        ["neighbor", a, rest @ ..] => match inet_addr(a) {
            Some(a) => neighbor_af_line(b, a, i, neg, rest),
            None => Err(format!("% Malformed address: {a}")),
        },
        _ => return None,
    };
    Some(res)
}

/// A `neighbor A.B.C.D ...` line of an address family.
fn neighbor_af_line(b: &mut BgpConf, a: u32, i: usize, neg: bool, w: &[&str]) -> Result<(), String> {
    if !bgp_af_neighbor_line(w) {
        return neighbor_line(b, a, neg, w);
    }
    let n = &mut neighbor_mut(b, a)?.af[i];
    let name = |s: &&str| (!neg).then(|| s.to_string());
    match w {
        ["next-hop-self", ..] => n.next_hop_self = !neg,
        ["route-reflector-client"] => n.rr_client = !neg,
        ["route-map", m, "in"] => n.route_map_in = name(m),
        ["route-map", m, "out"] => n.route_map_out = name(m),
        ["prefix-list", m, "in"] => n.prefix_list_in = name(m),
        ["prefix-list", m, "out"] => n.prefix_list_out = name(m),
        ["maximum-prefix", m, ..] => n.max_prefix = if neg { None } else { Some(num(m, 1, u32::MAX)?) },
        ["activate"] => n.activate = !neg,
        // What FRR does that makes no difference here.
        ["soft-reconfiguration", ..] | ["send-community", ..] => {}
        _ => return Err(unknown_neighbor_line(a, w)),
    }
    Ok(())
}

/// Neighbor `a`, which a `remote-as` line must have made.
fn neighbor_mut(b: &mut BgpConf, a: u32) -> Result<&mut BgpNeighbor, String> {
    b.neighbors
        .get_mut(&a)
        .ok_or_else(|| "% Specify remote-as or peer-group commands first".to_string())
}

fn unknown_neighbor_line(a: u32, w: &[&str]) -> String {
    format!(
        "% Unknown command: neighbor {} {}",
        std::net::Ipv4Addr::from(a),
        w.join(" ")
    )
}

/// A `neighbor A.B.C.D ...` line of `router bgp`.
fn neighbor_line(b: &mut BgpConf, a: u32, neg: bool, w: &[&str]) -> Result<(), String> {
    if let ["remote-as", r] = w {
        let r = match *r {
            "internal" => RemoteAs::Internal,
            "external" => RemoteAs::External,
            x => RemoteAs::As(parse_asn(x)?),
        };
        if neg {
            b.neighbors.remove(&a);
        } else {
            b.neighbors
                .entry(a)
                .and_modify(|n| n.remote_as = r)
                .or_insert_with(|| BgpNeighbor::new(r));
        }
        return Ok(());
    }
    if neg && w.is_empty() {
        b.neighbors.remove(&a);
        return Ok(());
    }
    let n = neighbor_mut(b, a)?;
    match w {
        ["description", rest @ ..] => n.description = (!neg).then(|| rest.join(" ")),
        ["timers", "connect", c] => n.connect = if neg { None } else { Some(num(c, 1, 65535)? as u16) },
        ["timers", k, h] => {
            let (k, h) = (num(k, 0, 65535)? as u16, num(h, 0, 65535)? as u16);
            if h != 0 && h < 3 {
                return Err("% hold time must be 0 or at least 3".into());
            }
            n.timers = (!neg).then_some((k, h));
        }
        ["timers"] if neg => n.timers = None,
        ["shutdown", ..] => n.shutdown = !neg,
        ["passive"] => n.passive = !neg,
        // What FRR does that makes no difference here.
        ["update-source", ..] | ["ebgp-multihop", ..] | ["capability", ..] | ["advertisement-interval", ..] => {}
        _ => return Err(unknown_neighbor_line(a, w)),
    }
    Ok(())
}

/// Set `k` to `v` in `m`, or take it out if `neg`.
fn toggle_map<K: Ord, V>(m: &mut BTreeMap<K, V>, k: K, v: V, neg: bool) {
    if neg {
        m.remove(&k);
    } else {
        m.insert(k, v);
    }
}

/// `router rip`'s or `router ripng`'s part of the running configuration.
fn rip_config<K: RibFamily>(s: &mut String, head: &str, r: &RipConf<K>) {
    *s += head;
    s.push('\n');
    if r.default_originate {
        *s += " default-information originate\n";
    }
    if r.default_metric != 1 {
        let _ = writeln!(*s, " default-metric {}", r.default_metric);
    }
    if r.distance != 120 {
        let _ = writeln!(*s, " distance {}", r.distance);
    }
    for &(a, l) in &r.networks {
        let _ = writeln!(*s, " network {}/{l}", a.show());
    }
    for i in &r.network_ifs {
        let _ = writeln!(*s, " network {i}");
    }
    for &n in &r.neighbors {
        let _ = writeln!(*s, " neighbor {}", n.show());
    }
    if r.passive_default {
        *s += " passive-interface default\n";
    }
    for p in &r.passive {
        let no = if r.passive_default { "no " } else { "" };
        let _ = writeln!(*s, " {no}passive-interface {p}");
    }
    for (k, m) in &r.redistribute {
        match m {
            Some(m) => writeln!(*s, " redistribute {} metric {m}", k.name()),
            None => writeln!(*s, " redistribute {}", k.name()),
        }
        .ok();
    }
    if (r.update, r.timeout, r.garbage) != (30, 180, 120) {
        let _ = writeln!(*s, " timers basic {} {} {}", r.update, r.timeout, r.garbage);
    }
    *s += "exit\n!\n";
}

/// `[no] ip route PREFIX GATEWAY [IFNAME] [DISTANCE]` (or `ipv6 route`):
/// `no` with only the prefix takes all its routes back.
fn static_line<K: RibFamily>(v: &mut Vec<StaticRoute<K>>, neg: bool, rest: &[&str]) -> Result<(), String> {
    let [prefix, more @ ..] = rest else {
        return Err("% Command incomplete".into());
    };
    let prefix = parse_prefix_of::<K>(prefix).ok_or_else(|| format!("% Malformed prefix: {prefix}"))?;
    let Some((gw, more)) = more.split_first() else {
        if neg {
            v.retain(|s| s.prefix != prefix);
            return Ok(());
        }
        return Err("% Command incomplete".into());
    };
    let gateway = K::parse_addr(gw).ok_or_else(|| {
        format!("% {gw}: static routes here go through a gateway address (not an interface or a blackhole)")
    })?;
    let (ifname, more) = match more.split_first() {
        Some((n, m)) if n.parse::<u8>().is_err() => (Some(n.to_string()), m),
        _ => (None, more),
    };
    let distance = match more {
        [] => 1,
        [d] => num(d, 1, 255)? as u8,
        _ => return Err(format!("% Unknown command: {}", rest.join(" "))),
    };
    v.retain(|s| (s.prefix, s.gateway) != (prefix, gateway));
    if !neg {
        v.push(StaticRoute {
            prefix,
            gateway,
            ifname,
            distance,
        });
    }
    Ok(())
}

/// The static routes as FRR writes them.
fn static_config<K: RibFamily>(s: &mut String, af: &str, v: &[StaticRoute<K>]) {
    for r in v {
        let _ = write!(
            *s,
            "{af} route {}/{} {}",
            r.prefix.0.show(),
            r.prefix.1,
            r.gateway.show()
        );
        if let Some(i) = &r.ifname {
            let _ = write!(*s, " {i}");
        }
        if r.distance != 1 {
            let _ = write!(*s, " {}", r.distance);
        }
        s.push('\n');
    }
}

/// `[no] ip rip split-horizon [poisoned-reverse]`, and RIPng's.
fn split_horizon_line(sh: &mut SplitHorizon, neg: bool, rest: &[&str]) -> Result<(), String> {
    *sh = match (rest, neg) {
        ([], false) => SplitHorizon::Simple,
        ([], true) => SplitHorizon::Off,
        (["poisoned-reverse"], false) => SplitHorizon::PoisonedReverse,
        (["poisoned-reverse"], true) => SplitHorizon::Simple,
        _ => return Err(format!("% Unknown command: split-horizon {}", rest.join(" "))),
    };
    Ok(())
}

/// A line of `router rip` or `router ripng`; `None` if it is not one.
fn rip_line<K: RibFamily>(r: &mut RipConf<K>, neg: bool, w: &[&str]) -> Option<Result<(), String>> {
    let v4 = !K::INET6;
    let res = match w {
        ["network", what] => match parse_prefix_of::<K>(what) {
            Some(p) => {
                toggle(&mut r.networks, p, neg);
                Ok(())
            }
            None if what.contains(['.', '/', ':']) => Err(format!("% Malformed prefix: {what}")),
            None => {
                toggle(&mut r.network_ifs, what.to_string(), neg);
                Ok(())
            }
        },
        ["neighbor", a] if v4 => match K::parse_addr(a) {
            Some(a) => {
                toggle(&mut r.neighbors, a, neg);
                Ok(())
            }
            None => Err(format!("% Malformed address: {a}")),
        },
        ["passive-interface", name] => passive_line(&mut r.passive, &mut r.passive_default, name, neg),
        ["redistribute", what, rest @ ..] => {
            let k = match redist_local(what) {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            let metric = match rest {
                [] => Ok(None),
                ["metric", m] => num(m, 0, 16).map(Some),
                _ => Err(format!("% Unknown command: {}", w.join(" "))),
            };
            metric.map(|m| {
                if neg {
                    r.redistribute.remove(&k);
                } else {
                    r.redistribute.insert(k, m);
                }
            })
        }
        ["default-information", "originate"] => {
            r.default_originate = !neg;
            Ok(())
        }
        ["timers", "basic", u, t, g] => (|| {
            let (u, t, g) = (
                num(u, 5, 2_147_483_647)?,
                num(t, 5, 2_147_483_647)?,
                num(g, 5, 2_147_483_647)?,
            );
            (r.update, r.timeout, r.garbage) = if neg { (30, 180, 120) } else { (u, t, g) };
            Ok(())
        })(),
        ["timers", "basic"] if neg => {
            (r.update, r.timeout, r.garbage) = (30, 180, 120);
            Ok(())
        }
        ["version", "2"] if v4 => Ok(()),
        ["version", v] if v4 => Err(format!("% RIP version {v} is not supported here (version 2 only)")),
        ["default-metric", m] => num(m, 1, 16).map(|m| r.default_metric = if neg { 1 } else { m }),
        ["distance", d] if v4 => num(d, 1, 255).map(|d| r.distance = if neg { 120 } else { d as u8 }),
        _ => return None,
    };
    Some(res)
}

/// A number in `lo..=hi`, or FRR's error.
fn num(s: &str, lo: u32, hi: u32) -> Result<u32, String> {
    s.parse::<u32>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("% Invalid value: {s} (from {lo} to {hi})"))
}

/// An area ID: dotted (`0.0.0.1`) or a number (`1`).
pub fn parse_area(s: &str) -> Option<u32> {
    inet_addr(s).or_else(|| s.parse().ok())
}

/// What RIP and OSPF may redistribute: the kernel's routes, connected
/// networks, static routes.
fn redist_local(what: &str) -> Result<Redist, String> {
    [Redist::Kernel, Redist::Connected, Redist::Static]
        .into_iter()
        .find(|k| k.name() == what)
        .ok_or_else(|| format!("% Unknown command: redistribute {what}"))
}

/// `[no] passive-interface default|IF`: named under `default`, an
/// interface is an exception (not passive).
fn passive_line(passive: &mut Vec<String>, default: &mut bool, name: &str, neg: bool) -> Result<(), String> {
    if name == "default" {
        *default = !neg;
        passive.clear();
    } else {
        toggle(passive, name.to_string(), neg != *default);
    }
    Ok(())
}

/// Add `x` to `v` (once), or take it out if `neg`.
fn toggle<T: PartialEq>(v: &mut Vec<T>, x: T, neg: bool) {
    v.retain(|y| *y != x);
    if !neg {
        v.push(x);
    }
}

/// `A.B.C.D/M` to its network and length (host bits cleared).
pub fn parse_prefix(s: &str) -> Option<(u32, u8)> {
    parse_prefix_of::<u32>(s)
}

/// A prefix of either family, host bits cleared.
pub fn parse_prefix_of<K: RibFamily>(s: &str) -> Option<(K, u8)> {
    let (a, l) = s.split_once('/')?;
    let l: u8 = l.parse().ok().filter(|l| *l <= K::BITS)?;
    Some((K::parse_addr(a)? & K::mask(l), l))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "frr version 8.4
frr defaults traditional
hostname r1
log syslog informational
!
interface eth0
 ip rip split-horizon poisoned-reverse
 ip ospf cost 7
 ip ospf network point-to-point
exit
!
router rip
 version 2
 network 10.0.0.0/8
 network eth1
 passive-interface eth2
 redistribute connected
 redistribute static metric 3
 timers basic 10 60 40
exit
!
router ospf
 ospf router-id 1.1.1.1
 network 10.0.0.0/8 area 0
 network 192.168.0.0/16 area 1
 passive-interface eth2
 redistribute connected metric-type 1
 max-lsa 500
exit
!
router bgp 65001
 bgp router-id 1.1.1.1
 no bgp ebgp-requires-policy
 bgp log-neighbor-changes
 neighbor 10.0.0.2 remote-as 65002
 neighbor 10.0.0.2 timers 3 9
 neighbor 10.0.0.6 remote-as internal
 network 10.9.0.0/16
 !
 address-family ipv4 unicast
  redistribute ospf route-map OUT
  neighbor 10.0.0.2 route-map OUT out
  neighbor 10.0.0.2 prefix-list IN in
  neighbor 10.0.0.6 next-hop-self
  neighbor 10.0.0.6 route-reflector-client
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8:9::/48
  redistribute ripng
  neighbor 10.0.0.2 activate
  neighbor 10.0.0.2 prefix-list OUT6 out
 exit-address-family
exit
!
ip prefix-list IN seq 5 permit 10.0.0.0/8 le 24
!
ipv6 prefix-list OUT6 seq 5 permit 2001:db8::/32 le 64
!
route-map OUT permit 10
 set as-path prepend 65001
 set local-preference 50
exit
!
line vty
!
end
";

    #[test]
    fn an_frr_conf_reads_and_prints_back() {
        let (c, errors) = FrrConf::parse(CONF);
        assert!(errors.is_empty(), "{errors:?}");
        let r = c.rip.clone().expect("router rip");
        assert_eq!(r.networks, [(0x0a00_0000, 8)]);
        assert_eq!(r.network_ifs, ["eth1"]);
        assert!(r.is_passive("eth2") && !r.is_passive("eth0"));
        assert_eq!((r.update, r.timeout, r.garbage), (10, 60, 40));
        assert_eq!(r.redistribute.get(&Redist::Static), Some(&Some(3)));
        assert_eq!(c.interfaces["eth0"].split_horizon, SplitHorizon::PoisonedReverse);
        let o = c.ospf.clone().expect("router ospf");
        assert_eq!(o.networks, [((0x0a00_0000, 8), 0), ((0xc0a8_0000, 16), 1)]);
        assert_eq!(
            (o.router_id, c.interfaces["eth0"].ospf.cost),
            (Some(0x0101_0101), Some(7))
        );
        assert!(c.interfaces["eth0"].ospf.p2p);
        assert_eq!(o.redistribute.get(&Redist::Connected), Some(&(None, true)));
        assert_eq!(o.max_lsa, 500);
        let b = c.bgp.clone().expect("router bgp");
        assert_eq!(
            (b.asn, b.ebgp_requires_policy, b.router_id),
            (65001, false, Some(0x0101_0101))
        );
        let n = &b.neighbors[&0x0a00_0002];
        assert_eq!((n.remote_as, n.timers), (RemoteAs::As(65002), Some((3, 9))));
        assert_eq!(
            (n.af[0].route_map_out.as_deref(), n.af[0].prefix_list_in.as_deref()),
            (Some("OUT"), Some("IN"))
        );
        assert!(b.neighbors[&0x0a00_0006].af[0].next_hop_self);
        assert_eq!(b.v4.networks.keys().copied().collect::<Vec<_>>(), [(0x0a09_0000, 16)]);
        assert_eq!(b.v4.redistribute[&Redist::Ospf], (None, Some("OUT".to_string())));
        assert!(n.af[1].activate && !b.neighbors[&0x0a00_0006].af[1].activate);
        assert_eq!(n.af[1].prefix_list_out.as_deref(), Some("OUT6"));
        assert_eq!(
            b.v6.networks.keys().copied().collect::<Vec<_>>(),
            [(0x2001_0db8_0009 << 80, 48)]
        );
        assert_eq!(b.v6.redistribute[&Redist::Ripng], (None, None));
        assert_eq!(c.prefix_lists6["OUT6"][&5].prefix, (0x2001_0db8 << 96, 32));
        assert_eq!(c.route_maps["OUT"][&10].local_pref, Some(50));
        assert_eq!(c.prefix_lists["IN"][&5].le, Some(24));
        let again = FrrConf::parse(&c.running_config());
        assert_eq!(again, (c, vec![]), "what it prints reads back the same");
    }

    /// A neighbor's IPv6 settings are kept even before it is activated
    /// there, and a top-level `neighbor X route-map` is IPv4's, as in FRR.
    #[test]
    fn address_families_keep_their_own_neighbor_settings() {
        let text = "router bgp 1\n neighbor 10.0.0.2 remote-as 2\n neighbor 10.0.0.2 route-map A in\n \
                    address-family ipv6 unicast\n  neighbor 10.0.0.2 prefix-list P out\n exit-address-family\n";
        let (c, errors) = FrrConf::parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        let n = &c.bgp.as_ref().expect("bgp").neighbors[&0x0a00_0002];
        assert_eq!(n.af[0].route_map_in.as_deref(), Some("A"));
        assert!(n.af[0].activate && !n.af[1].activate);
        assert_eq!(n.af[1].prefix_list_out.as_deref(), Some("P"));
        let run = c.running_config();
        assert!(run.contains("  neighbor 10.0.0.2 prefix-list P out\n"), "{run}");
        assert_eq!(FrrConf::parse(&run), (c, vec![]));
        let (_, errors) = FrrConf::parse("router bgp 1\n address-family l2vpn evpn\n");
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn a_top_level_command_leaves_the_node_and_no_takes_back() {
        let mut c = FrrConf::default();
        let mut node = Node::Config;
        for l in [
            "router rip",
            "network 10.0.0.0/24",
            "interface eth0",
            "no ip rip split-horizon",
        ] {
            c.apply(&mut node, l).expect(l);
        }
        assert_eq!(node, Node::Interface("eth0".into()));
        assert_eq!(c.interfaces["eth0"].split_horizon, SplitHorizon::Off);
        c.apply(&mut node, "router rip").expect("back");
        c.apply(&mut node, "no network 10.0.0.0/24").expect("no");
        assert!(c.rip.as_ref().is_some_and(|r| r.networks.is_empty()));
        c.apply(&mut node, "passive-interface default").expect("default");
        c.apply(&mut node, "no passive-interface eth1").expect("exception");
        let r = c.rip.as_ref().expect("rip");
        assert!(r.is_passive("eth0") && !r.is_passive("eth1"));
    }

    #[test]
    fn what_frr_refuses_is_an_error_with_its_line() {
        let (_, errors) =
            FrrConf::parse("router rip\n network 10.0.0.300/8\n bogus words\n timers basic 1 2 3\nversion 1\n");
        assert_eq!(
            errors,
            [
                "line 2: % Malformed prefix: 10.0.0.300/8",
                "line 3: % Unknown command: bogus words",
                "line 4: % Invalid value: 1 (from 5 to 2147483647)",
                "line 5: % RIP version 1 is not supported here (version 2 only)",
            ]
        );
    }
}
