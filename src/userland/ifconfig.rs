//! ifconfig(8): configure network interface parameters.
//!
//! `ifconfig [-a | -l | -u | -d] [inet | ether | link]`, `ifconfig IF
//! [inet | ether | link]`, `ifconfig IF create [params]` (epair, bridge,
//! tap, lo, vlan, IF.VID, gif, gre), `ifconfig IF destroy`, and
//! `ifconfig IF [inet] ADDR[/LEN] [DEST] [netmask M] [broadcast B]
//! [alias | -alias] [up | down] [mtu N] [ether MAC] [media M] [name NEW]
//! [description TEXT | -description] [vlan VID vlandev IF [vlanpcp P]]
//! [tunnel SRC DST | -tunnel] [grekey K] [promisc | -promisc] [addm IF]
//! [deletem IF] [vnet JAIL] [-vnet JAIL]`.

use clap::Parser;

use crate::kern::jail::Jid;
use crate::kern::proc::Proc;
use crate::net::bridge::{bridge_addm, bridge_deletem};
use crate::net::ethernet::{ether_aton, ether_ntoa};
use crate::net::if_clone::if_clone_create;
use crate::net::if_media::{ifmedia_name, ifmedia_parse};
use crate::net::ifnet::{
    IF, IFF_BROADCAST, IFF_NAMES, IFF_PROMISC, IfError, IfKind, Ifnet, Ifnets, if_destroy, if_vmove,
};
use crate::net::radix::mask;
use crate::net::route::{Inet, inet_addr};
use crate::netinet::in_::{in_aifaddr, in_difaddr, in_ifaddrs, mask_to_plen};
use crate::netinet6::in6::{
    IN6_IFF_ANYCAST, IN6_IFF_AUTOCONF, IN6_IFF_DEPRECATED, IN6_IFF_DETACHED, IN6_IFF_DUPLICATED, IN6_IFF_TENTATIVE,
    In6Ifaddr, in6_aifaddr, in6_difaddr, in6_fmt, in6_getscope, in6_ifaddrs, in6_parse,
};
use crate::netinet6::nd6::{
    ND6_IFF_ACCEPT_RTADV, ND6_IFF_AUTO_LINKLOCAL, ND6_IFF_IFDISABLED, ND6_IFF_NO_DAD, ND6_IFF_PERFORMNUD, nd6_ifflags,
    nd6_setflag,
};
use crate::vnet::Vnet;
use crate::{errln, outln};

/// configure network interface parameters (ifconfig(8))
#[derive(Parser, Debug)]
#[command(name = "ifconfig", disable_help_flag = true, disable_version_flag = true)]
pub struct IfconfigArgs {
    /// All interfaces (the default with no interface named).
    #[arg(short = 'a')]
    all: bool,
    /// List the names of the interfaces.
    #[arg(short = 'l')]
    list: bool,
    /// Only interfaces that are up.
    #[arg(short = 'u')]
    up: bool,
    /// Only interfaces that are down.
    #[arg(short = 'd')]
    down: bool,
    /// interface [create | destroy | address_family address [parameters]]
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "interface [parameters]"
    )]
    args: Vec<String>,
}

/// `flags=8843<UP,BROADCAST,...>` and the like.
fn bits(v: u32, names: &[(u32, &str)]) -> String {
    let n: Vec<&str> = names.iter().filter(|(b, _)| v & b != 0).map(|(_, n)| *n).collect();
    if v == 0 {
        String::new()
    } else {
        format!("<{}>", n.join(","))
    }
}

const IFCAP_NAMES: &[(u32, &str)] = &[
    (0x1, "RXCSUM"),
    (0x2, "TXCSUM"),
    (0x8, "VLAN_MTU"),
    (0x80000, "LINKSTATE"),
    (0x200000, "RXCSUM_IPV6"),
    (0x400000, "TXCSUM_IPV6"),
];

/// An address family `ifconfig` filters by (`ifconfig IF inet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Af {
    Inet,
    Inet6,
    Ether,
    Link,
}

fn af(w: &str) -> Option<Af> {
    match w {
        "inet" => Some(Af::Inet),
        "inet6" => Some(Af::Inet6),
        "ether" => Some(Af::Ether),
        "link" | "lladdr" => Some(Af::Link),
        _ => None,
    }
}

/// Render one interface as ifconfig(8) does (`ifs`: its vnet's list); with
/// an address family, only its addresses, and nothing if it has none.
fn show(v: &Vnet, ifs: &Ifnets, ifp: &Ifnet, af: Option<Af>) -> String {
    let has = match af {
        None | Some(Af::Link) => true,
        Some(Af::Inet) => in_ifaddrs(v, ifp.index).next().is_some(),
        Some(Af::Inet6) => in6_ifaddrs(v, ifp.index).next().is_some(),
        Some(Af::Ether) => ifp.is_ethernet(),
    };
    if !has {
        return String::new();
    }
    let mut s = format!(
        "{}: flags={:x}{} metric 0 mtu {}\n",
        ifp.name,
        ifp.flags,
        bits(ifp.flags, IFF_NAMES),
        ifp.mtu
    );
    if let Some(d) = &ifp.description {
        s += &format!("\tdescription: {d}\n");
    }
    let caps = match &ifp.kind {
        IfKind::Loop => 0x680003,
        IfKind::Epair { .. } => 0x8,
        IfKind::Tap(_) | IfKind::Tunnel(_) => 0x80000,
        IfKind::Bridge(_) | IfKind::Vlan(_) => 0,
    };
    let nd6 = nd6_ifflags(v, ifp.index);
    let nd6 = format!("{nd6:x}{}", bits(nd6, ND6_IFF_NAMES));
    s += &format!("\toptions={caps:x}{}\n", bits(caps, IFCAP_NAMES));
    if let IfKind::Tunnel(t) = &ifp.kind
        && t.dst != 0
    {
        s += &format!("\ttunnel inet {} --> {}\n", Inet(t.src), Inet(t.dst));
    }
    if ifp.is_ethernet() && af.is_none_or(|a| !matches!(a, Af::Inet | Af::Inet6)) {
        s += &format!("\tether {}\n", ether_ntoa(&ifp.lladdr));
    }
    if af.is_some_and(|a| !matches!(a, Af::Inet | Af::Inet6)) {
        return s;
    }
    let inet = af.is_none_or(|a| a == Af::Inet);
    for ia in in_ifaddrs(v, ifp.index).filter(|_| inet) {
        s += &format!("\tinet {}", Inet(ia.addr));
        if ifp.is_p2p() {
            s += &format!(" --> {}", Inet(ia.broadcast));
        }
        s += &format!(" netmask 0x{:08x}", mask(ia.plen));
        if ifp.flags & IFF_BROADCAST != 0 && ia.plen < 32 {
            s += &format!(" broadcast {}", Inet(ia.broadcast));
        }
        s += "\n";
    }
    for ia in in6_ifaddrs(v, ifp.index).filter(|_| af.is_none_or(|a| a == Af::Inet6)) {
        s += &in6_status(v, ia);
    }
    if af.is_some() {
        return s;
    }
    if let IfKind::Bridge(b) = &ifp.kind {
        s += "\tid 00:00:00:00:00:00 priority 32768 hellotime 2 fwddelay 15\n";
        s += &format!(
            "\tmaxage 20 holdcnt 6 proto rstp maxaddr {} timeout {}\n",
            b.maxaddr,
            b.timeout.as_secs()
        );
        s += "\troot id 00:00:00:00:00:00 priority 32768 ifcost 0 port 0\n";
        for &m in &b.members {
            let name = ifs.get(m).map_or(format!("if#{m}"), |i| i.name.clone());
            s += &format!("\tmember: {name} flags=143<LEARNING,DISCOVER,AUTOEDGE,AUTOPTP>\n");
            s += &format!("\t        ifmaxaddr 0 port {m} priority 128 path cost 2000\n");
        }
    }
    s += &format!("\tgroups: {}\n", ifp.family());
    let media = |baud: u64| {
        let m = ifmedia_name(baud).unwrap_or("autoselect");
        format!("\tmedia: Ethernet {m} ({m} <full-duplex>)\n\tstatus: active\n")
    };
    match &ifp.kind {
        IfKind::Vlan(vl) => {
            let parent = vl.parent.and_then(|(p, _)| ifs.get(p));
            match parent {
                Some(par) => {
                    s += &format!(
                        "\tvlan: {} vlanproto: 802.1q vlanpcp: {} parent interface: {}\n",
                        vl.vid, vl.pcp, par.name
                    );
                    if matches!(par.kind, IfKind::Epair { .. }) {
                        s += &media(par.baudrate);
                    }
                }
                None => s += "\tvlan: 0 vlanproto: 0x0000 vlanpcp: 0 parent interface: <none>\n",
            }
        }
        IfKind::Tunnel(t) if t.key != 0 => s += &format!("\tgrekey: 0x{:x} ({})\n", t.key, t.key),
        IfKind::Epair { .. } => s += &media(ifp.baudrate),
        IfKind::Tap(t) => {
            s += &format!(
                "\tmedia: Ethernet autoselect\n\tstatus: active\n\ttapdev: {}\n",
                t.hostname
            );
        }
        _ => {}
    }
    s += &format!("\tnd6 options={nd6}\n");
    if let Some(p) = &ifp.pipe {
        s += &format!("\tpipe: {}\n", p.conf);
    }
    s
}

/// The nd6 flags ifconfig shows (`ND6_IFF_*`).
const ND6_IFF_NAMES: &[(u32, &str)] = &[
    (0x1, "PERFORMNUD"),
    (0x2, "ACCEPT_RTADV"),
    (0x4, "PREFER_SOURCE"),
    (0x8, "IFDISABLED"),
    (0x10, "DONT_SET_IFROUTE"),
    (0x20, "AUTO_LINKLOCAL"),
    (0x40, "NO_RADR"),
    (0x80, "NO_PREFER_IFACE"),
    (0x100, "NO_DAD"),
];

/// The nd6 flag an `inet6` keyword sets (af_inet6.c's `setnd6flags`).
fn nd6_keyword(w: &str) -> Option<(u32, bool)> {
    let (on, w) = match w.strip_prefix('-') {
        Some(w) => (false, w),
        None => (true, w),
    };
    let f = match w {
        "nud" => ND6_IFF_PERFORMNUD,
        "accept_rtadv" => ND6_IFF_ACCEPT_RTADV,
        "ifdisabled" => ND6_IFF_IFDISABLED,
        "auto_linklocal" => ND6_IFF_AUTO_LINKLOCAL,
        "no_dad" => ND6_IFF_NO_DAD,
        _ => return None,
    };
    Some((f, on))
}

/// One IPv6 address as af_inet6.c prints it: the address (with its
/// zone), prefixlen, its flags, scopeid.
fn in6_status(v: &Vnet, ia: &In6Ifaddr) -> String {
    let mut s = format!("\tinet6 {} prefixlen {}", in6_fmt(v, &ia.addr), ia.plen);
    for (f, n) in [
        (IN6_IFF_ANYCAST, "anycast"),
        (IN6_IFF_TENTATIVE, "tentative"),
        (IN6_IFF_DUPLICATED, "duplicated"),
        (IN6_IFF_DETACHED, "detached"),
        (IN6_IFF_DEPRECATED, "deprecated"),
        (IN6_IFF_AUTOCONF, "autoconf"),
    ] {
        if ia.flags & f != 0 {
            s += " ";
            s += n;
        }
    }
    if let Some(z) = in6_getscope(&ia.addr) {
        s += &format!(" scopeid 0x{z:x}");
    }
    s + "\n"
}

/// Parse `A`, `A/LEN`; with `netmask`, a dotted or hex mask.
fn parse_addr(s: &str) -> Option<(u32, Option<u8>)> {
    match s.split_once('/') {
        Some((a, l)) => {
            let l: u8 = l.parse().ok().filter(|&l| l <= 32)?;
            Some((inet_addr(a)?, Some(l)))
        }
        None => Some((inet_addr(s)?, None)),
    }
}

/// A netmask, dotted or hex, as a prefix length.
pub(crate) fn parse_mask(s: &str) -> Option<u8> {
    let m = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok()?,
        None => inet_addr(s)?,
    };
    mask_to_plen(m)
}

/// A number in decimal or 0x hex.
fn parse_num(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The classful default prefix of an address given without one.
fn classful(a: u32) -> u8 {
    match a >> 24 {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

pub async fn ifconfig(p: Proc, argv: Vec<String>) -> i32 {
    let a: IfconfigArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    // `-a inet`, `-l inet`: only the interfaces with that family.
    let list_af = match (a.all || a.list, a.args.first()) {
        (true, Some(w)) => match af(w) {
            Some(f) => Some(f),
            None => return fail(&p, &format!("Address family '{w}' unknown.")),
        },
        _ => None,
    };
    let listing = |v: &mut Vnet| -> Vec<u32> {
        v.builtin(IF)
            .list
            .iter()
            .filter(|i| (!a.up || i.is_up()) && (!a.down || !i.is_up()))
            .map(|i| i.index)
            .collect()
    };
    if a.list {
        let r = p.vnet(|_, v| {
            let ids = listing(v);
            let v = &*v;
            let Some(ifs) = v.get(IF) else { return String::new() };
            ids.iter()
                .filter_map(|&i| ifs.get(i))
                .filter(|i| !show(v, ifs, i, list_af).is_empty())
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
                .join(" ")
        });
        return match r {
            Ok(s) => {
                outln!(p, "{s}");
                0
            }
            Err(e) => fail(&p, &e),
        };
    }
    if a.args.is_empty() || a.all {
        let r = p.vnet(|_, v| {
            let ids = listing(v);
            let v = &*v;
            let Some(ifs) = v.get(IF) else { return String::new() };
            ids.iter()
                .filter_map(|&i| ifs.get(i))
                .map(|i| show(v, ifs, i, list_af))
                .collect::<String>()
        });
        return match r {
            Ok(s) => {
                p.stdout.write_bytes(s.as_bytes());
                0
            }
            Err(e) => fail(&p, &e),
        };
    }
    let name = a.args[0].clone();
    let rest: Vec<String> = a.args[1..].to_vec();
    match rest.first().map(String::as_str) {
        Some("create") => return create(&p, &name, &rest[1..]),
        Some("destroy") => {
            let r = p.vnet(|k, v| {
                let idx = v.builtin(IF).by_name(&name).map(|i| i.index);
                match idx {
                    Some(i) => if_destroy(k, v, i),
                    None => Err(IfError::NoSuchIf(name.clone())),
                }
            });
            return result(&p, r);
        }
        Some("-vnet") => return vnet_return(&p, &name, rest.get(1)),
        _ => {}
    }
    let exists = p.vnet(|_, v| v.builtin(IF).by_name(&name).map(|i| i.index));
    let index = match exists {
        Ok(Some(i)) => i,
        Ok(None) => return fail(&p, &IfError::NoSuchIf(name).to_string()),
        Err(e) => return fail(&p, &e),
    };
    let only_af = match rest.as_slice() {
        [w] => af(w),
        _ => None,
    };
    if rest.is_empty() || only_af.is_some() {
        let r = p.vnet(|_, v| {
            let v = &*v;
            let Some(ifs) = v.get(IF) else { return String::new() };
            ifs.get(index).map(|i| show(v, ifs, i, only_af)).unwrap_or_default()
        });
        return match r {
            Ok(s) => {
                p.stdout.write_bytes(s.as_bytes());
                0
            }
            Err(e) => fail(&p, &e),
        };
    }
    configure(&p, index, &rest)
}

fn fail(p: &Proc, e: &str) -> i32 {
    errln!(p, "ifconfig: {e}");
    1
}

fn result(p: &Proc, r: Result<Result<(), IfError>, String>) -> i32 {
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => fail(p, &e.to_string()),
        Err(e) => fail(p, &e),
    }
}

fn create(p: &Proc, name: &str, rest: &[String]) -> i32 {
    let (tapdev, params) = match rest {
        [w, d] if w == "tapdev" => (Some(d.as_str()), &rest[..0]),
        _ => (None, rest),
    };
    let r = p.vnet(|k, v| {
        if v.builtin(IF).by_name(name).is_some() {
            return Err(IfError::Other(format!("interface {name} already exists")));
        }
        if_clone_create(k, v, name, tapdev)
    });
    let made = match r {
        Ok(Ok(made)) => made,
        Ok(Err(e)) => return fail(p, &e.to_string()),
        Err(e) => return fail(p, &e),
    };
    // Printed when it is not the name asked for (epair0 -> epair0a).
    if made != name {
        outln!(p, "{made}");
    }
    if params.is_empty() {
        return 0;
    }
    // `ifconfig vlan create vlan 10 vlandev epair0a`: configured at once.
    let index = p.vnet(|_, v| v.builtin(IF).by_name(&made).map(|i| i.index));
    match index {
        Ok(Some(i)) => configure(p, i, params),
        _ => 1,
    }
}

/// `ifconfig IF -vnet JAIL`: bring IF back from JAIL's vnet to ours.
fn vnet_return(p: &Proc, name: &str, jail: Option<&String>) -> i32 {
    let Some(jail) = jail else {
        return fail(p, "-vnet: requires a jail");
    };
    let mut k = p.kernel();
    let r = (|| {
        let jid = k.jail_getid(p.jid, jail).map_err(|e| e.to_string())?;
        let from = k.prison_vnet(jid).map_err(|e| e.to_string())?;
        let to = k.prison_vnet(p.jid).map_err(|e| e.to_string())?;
        let index = k
            .vnets
            .get(from)
            .ok()
            .and_then(|v| v.get(IF))
            .and_then(|l| l.by_name(name))
            .map(|i| i.index)
            .ok_or(format!("SIOCSIFRVNET({jid}, {name}): Invalid argument"))?;
        if_vmove(&mut k, from, index, to).map_err(|e| e.to_string())
    })();
    drop(k);
    match r {
        Ok(()) => 0,
        Err(e) => fail(p, &e),
    }
}

/// Apply the parameters after the interface name, in order.
fn configure(p: &Proc, index: u32, words: &[String]) -> i32 {
    let mut i = 0;
    let mut addr: Option<(u32, Option<u8>)> = None;
    let mut netmask: Option<u8> = None;
    let mut brd: Option<u32> = None;
    let mut alias = false;
    let mut delete = false;
    let mut dst: Option<u32> = None;
    let mut ops: Vec<Op> = Vec::new();
    let mut vlan: (Option<u16>, Option<String>, Option<u8>) = (None, None, None);
    let mut inet6 = false;
    let mut addr6: Option<(String, Option<u8>)> = None;
    let mut prefixlen: Option<u8> = None;
    let val = |i: usize| words.get(i + 1).cloned();
    while i < words.len() {
        let w = words[i].as_str();
        let need = |i: usize| -> Result<String, String> { val(i).ok_or(format!("{w}: requires an argument")) };
        let r: Result<usize, String> = (|| {
            Ok(match w {
                "inet" => 1,
                "inet6" => {
                    inet6 = true;
                    1
                }
                "prefixlen" => {
                    let n = need(i)?;
                    prefixlen = Some(n.parse().ok().filter(|&l| l <= 128).ok_or(format!("{n}: bad value"))?);
                    2
                }
                _ if nd6_keyword(w).is_some() => {
                    let (f, on) = nd6_keyword(w).unwrap_or_default();
                    ops.push(Op::Nd6(f, on));
                    1
                }
                _ if inet6 && addr6.is_none() && !w.starts_with('-') && w.contains(':') => {
                    let (a, l) = match w.split_once('/') {
                        Some((a, l)) => (
                            a,
                            Some(l.parse().ok().filter(|&l| l <= 128).ok_or(format!("{w}: bad value"))?),
                        ),
                        None => (w, None),
                    };
                    addr6 = Some((a.to_string(), l));
                    1
                }
                "up" => {
                    ops.push(Op::Up(true));
                    1
                }
                "down" => {
                    ops.push(Op::Up(false));
                    1
                }
                "alias" | "add" => {
                    alias = true;
                    1
                }
                "-alias" | "delete" => {
                    delete = true;
                    1
                }
                "promisc" => {
                    ops.push(Op::Promisc(true));
                    1
                }
                "-promisc" => {
                    ops.push(Op::Promisc(false));
                    1
                }
                "netmask" => {
                    let m = need(i)?;
                    netmask = Some(parse_mask(&m).ok_or(format!("{m}: bad value"))?);
                    2
                }
                "broadcast" => {
                    let b = need(i)?;
                    brd = Some(inet_addr(&b).ok_or(format!("{b}: bad value"))?);
                    2
                }
                "mtu" => {
                    let m = need(i)?;
                    let n: u32 = m
                        .parse()
                        .ok()
                        .filter(|n| (72..=65535).contains(n))
                        .ok_or(format!("{m}: bad value"))?;
                    ops.push(Op::Mtu(n));
                    2
                }
                "ether" | "link" | "lladdr" => {
                    let m = need(i)?;
                    ops.push(Op::Ether(ether_aton(&m).ok_or(format!("{m}: bad value"))?));
                    2
                }
                "name" => {
                    ops.push(Op::Name(need(i)?));
                    2
                }
                "description" | "descr" => {
                    ops.push(Op::Descr(Some(need(i)?)));
                    2
                }
                "-description" | "-descr" => {
                    ops.push(Op::Descr(None));
                    1
                }
                "vlan" => {
                    let n = need(i)?;
                    let vid: u16 = n.parse().map_err(|_| "invalid value for vlan".to_string())?;
                    if vid == 0 || vid >= 0xfff {
                        return Err("value for vlan out of range".into());
                    }
                    vlan.0 = Some(vid);
                    2
                }
                "vlandev" => {
                    vlan.1 = Some(need(i)?);
                    2
                }
                "vlanpcp" => {
                    let n = need(i)?;
                    let pcp: u8 = n.parse().map_err(|_| "invalid value for vlanpcp".to_string())?;
                    if pcp > 7 {
                        return Err("value for vlanpcp out of range".into());
                    }
                    vlan.2 = Some(pcp);
                    2
                }
                "-vlandev" => {
                    ops.push(Op::Unvlan);
                    1
                }
                "tunnel" => {
                    let (a, b) = (need(i)?, val(i + 1).ok_or(format!("{w}: requires 2 arguments"))?);
                    let pa = inet_addr(&a).ok_or(format!("error in parsing address string: {a}"))?;
                    let pb = inet_addr(&b).ok_or(format!("error in parsing address string: {b}"))?;
                    ops.push(Op::Tunnel(Some((pa, pb))));
                    3
                }
                "-tunnel" | "deletetunnel" => {
                    ops.push(Op::Tunnel(None));
                    1
                }
                "grekey" => {
                    let n = need(i)?;
                    let key = parse_num(&n).ok_or(format!("{n}: bad value"))?;
                    ops.push(Op::GreKey(key));
                    2
                }
                "media" => {
                    let m = need(i)?;
                    ops.push(Op::Media(
                        ifmedia_parse(&m).ok_or(format!("unknown media subtype: {m}"))?,
                    ));
                    2
                }
                "addm" => {
                    ops.push(Op::Addm(need(i)?));
                    2
                }
                "deletem" => {
                    ops.push(Op::Deletem(need(i)?));
                    2
                }
                "vnet" => {
                    ops.push(Op::Vnet(need(i)?));
                    2
                }
                _ => {
                    let parsed = parse_addr(w).ok_or(format!("{w}: bad value"))?;
                    // A second address is the far end (point to point).
                    match (addr, parsed.1) {
                        (None, _) => addr = Some(parsed),
                        (Some(_), None) if dst.is_none() => dst = Some(parsed.0),
                        _ => return Err(format!("{w}: bad value")),
                    }
                    1
                }
            })
        })();
        match r {
            Ok(n) => i += n,
            Err(e) => return fail(p, &e),
        }
    }
    match vlan {
        (None, None, None) => {}
        (Some(vid), Some(dev), pcp) => ops.insert(0, Op::Vlan(vid, dev, pcp.unwrap_or(0))),
        (_, _, Some(_)) if vlan.0.is_none() && vlan.1.is_none() => ops.insert(0, Op::VlanPcp(vlan.2.unwrap_or(0))),
        _ => return fail(p, "both vlan and vlandev must be specified"),
    }
    // What the address needs (a vlan's parent, a name) comes first.
    let (before, after): (Vec<Op>, Vec<Op>) = ops
        .into_iter()
        .partition(|o| matches!(o, Op::Vlan(..) | Op::Tunnel(_) | Op::Name(_) | Op::Nd6(..)));
    let mut renamed = None;
    for op in before {
        if let Op::Name(n) = &op {
            renamed = Some(n.clone());
        }
        if let Err(e) = apply(p, index, op) {
            return fail(p, &e);
        }
    }
    // A new name is told (printifnamemaybe).
    if let Some(n) = renamed {
        outln!(p, "{n}");
    }
    let ops = after;
    let brd = dst.or(brd);
    if let Some((a, len)) = addr {
        let plen = len.or(netmask).unwrap_or_else(|| classful(a));
        let r = p.vnet(|k, v| {
            if delete {
                in_difaddr(k, v, index, a).map_err(|e| e.to_string())
            } else {
                in_aifaddr(k, v, index, a, plen, brd, alias).map_err(|e| e.to_string())
            }
        });
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => return fail(p, &e),
        }
    }
    if let Some((a, len)) = addr6 {
        let plen = len.or(prefixlen).unwrap_or(64);
        let r = p.vnet(|k, v| {
            let a = in6_parse(v, &a).ok_or(format!("{a}: bad value"))?;
            if delete {
                in6_difaddr(v, index, &a).map_err(|e| e.to_string())
            } else {
                in6_aifaddr(k, v, index, a, plen, 0).map_err(|e| e.to_string())
            }
        });
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => return fail(p, &e),
        }
    }
    for op in ops {
        if let Err(e) = apply(p, index, op) {
            return fail(p, &e);
        }
    }
    0
}

enum Op {
    /// `inet6 ifdisabled`, `accept_rtadv`, `no_dad`, ...: an nd6 flag on
    /// or off.
    Nd6(u32, bool),
    Up(bool),
    Name(String),
    Descr(Option<String>),
    Vlan(u16, String, u8),
    VlanPcp(u8),
    Unvlan,
    /// A tunnel's outer addresses (none: delete it).
    Tunnel(Option<(u32, u32)>),
    GreKey(u32),
    /// A line rate (epair(4) takes any: under the virtual clock it is the
    /// link's speed).
    Media(u64),
    Promisc(bool),
    Mtu(u32),
    Ether([u8; 6]),
    Addm(String),
    Deletem(String),
    Vnet(String),
}

fn apply(p: &Proc, index: u32, op: Op) -> Result<(), String> {
    if let Op::Vnet(jail) = op {
        let mut k = p.kernel();
        let jid = k.jail_getid(p.jid, &jail).map_err(|e| e.to_string())?;
        let pr = k.prison(jid).ok_or(format!("jail \"{jail}\" not found"))?;
        if !pr.owns_vnet() || jid == Jid::HOST {
            return Err("SIOCSIFVNET: Invalid argument".into());
        }
        let to = pr.vnet;
        let from = k.prison_vnet(p.jid).map_err(|e| e.to_string())?;
        return if_vmove(&mut k, from, index, to).map_err(|e| e.to_string());
    }
    p.vnet(|k, v| {
        let by_name = |v: &mut Vnet, n: &str| v.builtin(IF).by_name(n).map(|i| i.index);
        match op {
            Op::Nd6(flag, on) => {
                nd6_setflag(k, v, index, flag, on);
                Ok(())
            }
            Op::Up(up) => {
                v.builtin(IF).get(index).ok_or("gone")?;
                let came = crate::net::ifnet::if_up(k, v, index, up);
                let lo = v.builtin(IF).get(index).is_some_and(|i| i.is_loopback());
                let announce: Vec<u32> = if came && !lo {
                    in_ifaddrs(v, index).map(|a| a.addr).collect()
                } else {
                    vec![]
                };
                for a in announce {
                    crate::netinet::arp::arp_announce(k, v, index, a);
                }
                Ok(())
            }
            Op::Promisc(on) => {
                let ifp = v.builtin(IF).get_mut(index).ok_or("gone")?;
                ifp.flags = if on {
                    ifp.flags | IFF_PROMISC
                } else {
                    ifp.flags & !IFF_PROMISC
                };
                Ok(())
            }
            Op::Mtu(n) => {
                v.builtin(IF).get_mut(index).ok_or("gone")?.mtu = n;
                Ok(())
            }
            Op::Name(n) => {
                v.builtin(IF).rename(index, &n).map_err(|e| e.to_string())?;
                Ok(())
            }
            Op::Descr(d) => {
                v.builtin(IF).get_mut(index).ok_or("gone")?.description = d.filter(|d| !d.is_empty());
                Ok(())
            }
            Op::Vlan(vid, dev, pcp) => crate::net::if_clone::vlan_config(v, index, &dev, vid, pcp),
            Op::VlanPcp(pcp) => match &mut v.builtin(IF).get_mut(index).ok_or("gone")?.kind {
                IfKind::Vlan(vl) => {
                    vl.pcp = pcp;
                    Ok(())
                }
                _ => Err("SIOCGETVLAN: Invalid argument".to_string()),
            },
            Op::Unvlan => match &mut v.builtin(IF).get_mut(index).ok_or("gone")?.kind {
                IfKind::Vlan(vl) => {
                    *vl = Default::default();
                    Ok(())
                }
                _ => Err("SIOCGETVLAN: Invalid argument".to_string()),
            },
            Op::Tunnel(ends) => {
                let local = ends.is_some_and(|(a, _)| crate::netinet::in_::in_localip(v, a));
                let ifp = v.builtin(IF).get_mut(index).ok_or("gone")?;
                let IfKind::Tunnel(t) = &mut ifp.kind else {
                    return Err("SIOCSIFPHYADDR: Invalid argument".to_string());
                };
                (t.src, t.dst) = ends.unwrap_or((0, 0));
                // Running once the near end is ours (in_gif_set_running).
                if local {
                    ifp.flags |= crate::net::ifnet::IFF_RUNNING;
                } else {
                    ifp.flags &= !crate::net::ifnet::IFF_RUNNING;
                }
                Ok(())
            }
            Op::GreKey(key) => match &mut v.builtin(IF).get_mut(index).ok_or("gone")?.kind {
                IfKind::Tunnel(t) if t.encap == crate::net::if_tunnel::Encap::Gre => {
                    t.key = key;
                    Ok(())
                }
                _ => Err("ioctl (set grekey): Invalid argument".to_string()),
            },
            Op::Media(rate) => {
                let ifp = v.builtin(IF).get_mut(index).ok_or("gone")?;
                if !matches!(ifp.kind, IfKind::Epair { .. }) {
                    return Err("SIOCSIFMEDIA (media): Device not configured".to_string());
                }
                ifp.baudrate = rate;
                Ok(())
            }
            Op::Ether(mac) => {
                let ifp = v.builtin(IF).get_mut(index).ok_or("gone")?;
                if ifp.is_loopback() {
                    return Err("ioctl (set lladdr): Invalid argument".to_string());
                }
                ifp.lladdr = mac;
                Ok(())
            }
            Op::Addm(m) => {
                let mi = by_name(v, &m).ok_or(format!("BRDGADD {m}: No such file or directory"))?;
                bridge_addm(v, index, mi).map_err(|e| e.to_string())
            }
            Op::Deletem(m) => {
                let mi = by_name(v, &m).ok_or(format!("BRDGDEL {m}: No such file or directory"))?;
                bridge_deletem(v, index, mi).map_err(|e| e.to_string())
            }
            Op::Vnet(_) => Ok(()),
        }
        .map_err(|e: String| e)
    })?
}
