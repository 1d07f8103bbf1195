//! route(8): manipulate the routing table.
//!
//! `route [-nq] add|delete|change|get|flush [-net|-host] DEST [GATEWAY]
//! [-netmask MASK] [-iface] [-blackhole] [-reject] [-mtu N]`.
//! `route [-n] monitor [-inet|-inet6]` prints what the vnet's routing
//! sockets hear (route(4), src/net/rtsock.rs).

use std::net::IpAddr;

use clap::Parser;

use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::net::radix::mask;
use crate::net::route::{
    Gateway, Inet, ROUTE, RTF_BLACKHOLE, RTF_DONE, RTF_GATEWAY, RTF_REJECT, RTF_STATIC, RtError, Rtentry, flags_names,
    inet_addr,
};
use crate::net::rtsock::{
    RTM_ADD, RTM_CHANGE, RTM_DELADDR, RTM_DELETE, RTM_GET, RTM_IFINFO, RTM_NEWADDR, RtFamily, RtMsg, route_output,
};
use crate::netinet::in_::mask_to_plen;
use crate::socket::RouteSocket;
use crate::userland::print::ctime;
use crate::vnet::Vnet;
use crate::{errln, outln};

/// manually manipulate the routing tables (route(8))
#[derive(Parser, Debug)]
#[command(name = "route", disable_help_flag = true, disable_version_flag = true)]
pub struct RouteArgs {
    /// Print addresses numerically (they always are).
    #[arg(short = 'n')]
    numeric: bool,
    /// Suppress all output from add, change and delete.
    #[arg(short = 'q')]
    quiet: bool,
    /// Verbose (accepted).
    #[arg(short = 'v')]
    verbose: bool,
    /// IPv4 only (accepted).
    #[arg(short = '4')]
    inet: bool,
    /// IPv6.
    #[arg(short = '6')]
    inet6: bool,
    /// add | delete | change | get | show | flush, and its arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "command [[modifiers] args]"
    )]
    args: Vec<String>,
}

struct Req {
    host: bool,
    dst: u32,
    plen: u8,
    dest_word: String,
    gateway_word: Option<String>,
    iface: bool,
    flags: u32,
    mtu: u32,
}

fn usage(p: &Proc) -> i32 {
    errln!(p, "route: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]");
    64
}

/// The modifiers route(8) takes for either family, and the words left.
pub(super) struct Mods<'a> {
    pub host: Option<bool>,
    pub flags: u32,
    pub iface: bool,
    pub mtu: u32,
    /// The prefix length given by `mask_word` (`-netmask`, `-prefixlen`).
    pub mask: Option<u8>,
    /// Destination and gateway.
    pub pos: Vec<&'a String>,
}

/// Read the modifiers: `family` are the words naming the family (taken,
/// ignored), `mask_word` the one giving a prefix length, read by `mask`.
pub(super) fn parse_mods<'a>(
    words: &'a [String],
    family: &[&str],
    mask_word: &str,
    mask: impl Fn(&str) -> Result<u8, String>,
) -> Result<Mods<'a>, (i32, String)> {
    let mut m = Mods {
        host: None,
        flags: RTF_STATIC,
        iface: false,
        mtu: 0,
        mask: None,
        pos: Vec::new(),
    };
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-net" => m.host = Some(false),
            "-host" => m.host = Some(true),
            "-iface" | "-interface" => m.iface = true,
            "-blackhole" => m.flags |= RTF_BLACKHOLE,
            "-reject" => m.flags |= RTF_REJECT,
            "-static" => m.flags |= RTF_STATIC,
            "-nostatic" => m.flags &= !RTF_STATIC,
            f if family.contains(&f) => {}
            k if k == mask_word => {
                let name = &k[1..];
                let v = it.next().ok_or((64, format!("{name}: argument required")))?;
                m.mask = Some(mask(v).map_err(|e| (68, e))?);
            }
            "-mtu" => {
                let v = it.next().ok_or((64, "mtu: argument required".to_string()))?;
                m.mtu = v.parse().map_err(|_| (64, format!("bad mtu: {v}")))?;
            }
            s if s.starts_with('-') => return Err((64, format!("bad keyword: {}", &s[1..]))),
            _ => m.pos.push(w),
        }
    }
    Ok(m)
}

/// Parse `[-net|-host] DEST [GATEWAY] [modifiers]`.
fn parse_req(words: &[String]) -> Result<Req, (i32, String)> {
    let Mods {
        host,
        flags,
        iface,
        mtu,
        mask: netmask,
        pos,
    } = parse_mods(words, &["-inet", "-4"], "-netmask", |m| {
        let mv = inet_addr(m).ok_or(format!("bad address: {m}"))?;
        mask_to_plen(mv).ok_or(format!("bad mask length: {m}"))
    })?;
    let Some(dest) = pos.first() else {
        return Err((64, "destination parameter required".into()));
    };
    let (dst, plen, is_net) = if dest.as_str() == "default" {
        (0, 0, true)
    } else if let Some((a, l)) = dest.split_once('/') {
        let a = inet_addr(a).ok_or((68, format!("bad address: {dest}")))?;
        let l: u8 = l
            .parse()
            .ok()
            .filter(|&l| l <= 32)
            .ok_or((68, format!("bad mask length: {dest}")))?;
        (a, l, true)
    } else {
        let a = inet_addr(dest).ok_or((68, format!("bad address: {dest}")))?;
        match netmask {
            Some(l) => (a, l, true),
            None => (a, 32, host != Some(false)),
        }
    };
    let host = host.unwrap_or(!is_net) || plen == 32;
    if dst & !mask(plen) != 0 && !host {
        return Err((
            68,
            format!(
                "malformed address, bits set after mask; {dest} means {}/{plen}",
                Inet(dst & mask(plen))
            ),
        ));
    }
    Ok(Req {
        host,
        dst,
        plen: if host { 32 } else { plen },
        dest_word: dest.to_string(),
        gateway_word: pos.get(1).map(|s| s.to_string()),
        iface,
        flags,
        mtu,
    })
}

pub async fn route(p: Proc, argv: Vec<String>) -> i32 {
    let a: RouteArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let Some(cmd) = a.args.first().map(String::as_str) else {
        return usage(&p);
    };
    let words = &a.args[1..];
    if a.inet6 || super::route6::is_inet6(words) {
        return match cmd {
            "add" | "delete" | "change" => super::route6::modify6(&p, a.quiet, cmd, words),
            "get" | "show" => super::route6::get6(&p, words),
            _ => {
                errln!(p, "route: bad keyword: {cmd}");
                usage(&p)
            }
        };
    }
    match cmd {
        "add" | "delete" | "change" => modify(&p, &a, cmd, words),
        "get" | "show" => get(&p, words),
        "flush" => flush(&p, &a),
        "monitor" => monitor(&p, &a, words).await,
        _ => {
            errln!(p, "route: bad keyword: {cmd}");
            usage(&p)
        }
    }
}

fn modify(p: &Proc, a: &RouteArgs, cmd: &str, words: &[String]) -> i32 {
    let r = match parse_req(words) {
        Ok(r) => r,
        Err((code, msg)) => {
            errln!(p, "route: {msg}");
            return if code == 64 { usage(p) } else { code };
        }
    };
    let mut line = format!("{cmd} {} {}", if r.host { "host" } else { "net" }, r.dest_word);
    if let Some(g) = &r.gateway_word {
        line += &format!(": gateway {g}");
    }
    let pid = p.pid;
    let res = p.vnet(|_, v| -> Result<(), (String, String)> {
        if cmd == "delete" {
            let e = Rtentry {
                dst: r.dst,
                plen: r.plen,
                gateway: Gateway::Link(0),
                ifindex: 0,
                flags: r.flags,
                mtu: r.mtu,
            };
            return request(v, RTM_DELETE, e, pid);
        }
        let gw = r
            .gateway_word
            .as_deref()
            .ok_or(("gateway required".to_string(), "gateway required".to_string()))?;
        let (gateway, ifindex) = if r.iface || r.flags & (RTF_BLACKHOLE | RTF_REJECT) != 0 && inet_addr(gw).is_none() {
            let i = v
                .builtin(IF)
                .by_name(gw)
                .map(|i| i.index)
                .ok_or((format!("interface '{gw}' does not exist"), String::new()))?;
            (Gateway::Link(i), i)
        } else {
            let g = inet_addr(gw).ok_or((format!("bad address: {gw}"), String::new()))?;
            // The gateway must be on an attached network.
            let via = v.builtin(ROUTE).lookup(g).ok_or_else(unreach)?;
            match via.gateway {
                Gateway::Link(i) if via.flags & RTF_GATEWAY == 0 => (Gateway::Inet(g), i),
                _ => return Err(unreach()),
            }
        };
        let e = Rtentry {
            dst: r.dst,
            plen: r.plen,
            gateway,
            ifindex,
            flags: r.flags,
            mtu: r.mtu,
        };
        let kind = if cmd == "change" { RTM_CHANGE } else { RTM_ADD };
        request(v, kind, e, pid)
    });
    report(p, a.quiet, &line, res)
}

/// route(8)'s request written to the routing socket; a failure as
/// route(8) words it (the warning, and why).
pub fn request<K: RtFamily>(v: &mut Vnet, kind: u8, e: Rtentry<K>, pid: u32) -> Result<(), (String, String)> {
    route_output(v, kind, e, pid, 1).map(|_| ()).map_err(|e| match e {
        RtError::Exists => ("message indicates error: File exists".into(), e.to_string()),
        RtError::NotFound => ("route has not been found".into(), e.to_string()),
        RtError::Unreach => unreach(),
    })
}

/// route(8)'s words for a gateway it cannot reach.
pub fn unreach() -> (String, String) {
    (
        "message indicates error: Network is unreachable".into(),
        RtError::Unreach.to_string(),
    )
}

/// How a change went, as route(8) tells it: the request's line, or the
/// warning and the line with why (`res`: the change in the vnet).
pub(super) fn report(p: &Proc, quiet: bool, line: &str, res: Result<Result<(), (String, String)>, String>) -> i32 {
    match res {
        Ok(Ok(())) => {
            if !quiet {
                outln!(p, "{line}");
            }
            0
        }
        Ok(Err((warn, why))) => {
            errln!(p, "route: {warn}");
            if !why.is_empty() {
                outln!(p, "{line} fib 0: {why}");
            }
            1
        }
        Err(e) => {
            errln!(p, "route: {e}");
            1
        }
    }
}

fn get(p: &Proc, words: &[String]) -> i32 {
    let Some(dest) = words.iter().find(|w| !w.starts_with('-')) else {
        return usage(p);
    };
    let addr = if dest == "default" {
        Some(0)
    } else {
        inet_addr(dest.split('/').next().unwrap_or(dest))
    };
    let Some(addr) = addr else {
        errln!(p, "route: bad address: {dest}");
        return 68;
    };
    let r = p.vnet(|_, v| {
        let e = if dest == "default" {
            v.builtin(ROUTE).get(0, 0).copied()
        } else {
            v.builtin(ROUTE).lookup(addr)
        }?;
        let ifp = v.builtin(IF).get(e.ifindex);
        let ifname = ifp.map_or(format!("if#{}", e.ifindex), |i| i.name.clone());
        let mtu = if e.mtu != 0 { e.mtu } else { ifp.map_or(0, |i| i.mtu) };
        Some((e, ifname, mtu))
    });
    let Ok(Some((e, ifname, mtu))) = r else {
        errln!(p, "route: route has not been found");
        return 255;
    };
    let mut s = format!("   route to: {}\n", Inet(addr));
    s += &format!(
        "destination: {}\n",
        if e.plen == 0 {
            "default".into()
        } else {
            Inet(e.dst).to_string()
        }
    );
    if e.plen < 32 {
        s += &format!(
            "       mask: {}\n",
            if e.plen == 0 {
                "default".into()
            } else {
                Inet(mask(e.plen)).to_string()
            }
        );
    }
    if let Gateway::Inet(g) = e.gateway {
        s += &format!("    gateway: {}\n", Inet(g));
    }
    s += "        fib: 0\n";
    s += &format!("  interface: {ifname}\n");
    s += &format!("      flags: <{}>\n", flags_names(e.flags | RTF_DONE));
    s += &format!(
        "{:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9}\n",
        "recvpipe", "sendpipe", "ssthresh", "rtt,msec", "mtu   ", "weight", "expire"
    );
    s += &format!(
        "{:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8} \n",
        0, 0, 0, 0, mtu, 1, 0
    );
    p.stdout.write_bytes(s.as_bytes());
    0
}

/// `route flush`: remove every route through a gateway.
fn flush(p: &Proc, a: &RouteArgs) -> i32 {
    let r = p.vnet(|_, v| {
        let t = v.builtin(ROUTE);
        let gone: Vec<Rtentry> = t.entries().into_iter().filter(|e| e.flags & RTF_GATEWAY != 0).collect();
        for e in &gone {
            let _ = t.delete(e.dst, e.plen);
        }
        gone
    });
    match r {
        Ok(gone) => {
            if !a.quiet {
                for e in gone {
                    let d = if e.plen == 0 {
                        "default".to_string()
                    } else {
                        super::netstat::netname(e.dst, e.plen)
                    };
                    let g = match e.gateway {
                        Gateway::Inet(g) => Inet(g).to_string(),
                        Gateway::Link(i) => format!("link#{i}"),
                    };
                    outln!(p, "{d:<20.20} {g:<20.20} done");
                }
            }
            0
        }
        Err(e) => {
            errln!(p, "route: {e}");
            1
        }
    }
}

/// `route [-n] monitor [-inet|-inet6]`: print each message the vnet's
/// routing sockets hear, as route(8)'s `print_rtmsg` does, until
/// interrupted.
async fn monitor(p: &Proc, a: &RouteArgs, words: &[String]) -> i32 {
    let family = if a.inet6 || words.iter().any(|w| w == "-inet6") {
        Some(true)
    } else if a.inet || words.iter().any(|w| w == "-inet") {
        Some(false)
    } else {
        None
    };
    let s = match RouteSocket::open(p, family) {
        Ok(s) => s,
        Err(e) => {
            errln!(p, "route: socket: {e}");
            return 1;
        }
    };
    loop {
        let m = match s.recv().await {
            Ok(m) => m,
            Err(e) => {
                errln!(p, "route: read: {e}");
                return 1;
            }
        };
        let wall = p.vnet(|k, _| k.wallclock(k.now())).unwrap_or_default();
        let names = |i: u32| {
            p.vnet(|_, v| v.builtin(IF).get(i).map(|f| f.name.clone()))
                .ok()
                .flatten()
        };
        outln!(p, "\ngot message of size {} on {}", m.msglen(), ctime(wall));
        p.stdout.write_fmt(format_args!("{}", print_rtmsg(&m, names)));
    }
}

/// An address as route(8) prints a sockaddr: a scoped IPv6 one with its
/// zone (`fe80::1%epair0a`).
fn scoped(a: &IpAddr, ifname: &impl Fn(u32) -> Option<String>) -> String {
    match a {
        IpAddr::V6(x) => crate::netinet6::in6::in6_fmt_named(x, ifname),
        a => a.to_string(),
    }
}

/// route(8)'s `print_rtmsg`: a message in words.
pub fn print_rtmsg(m: &RtMsg, ifname: impl Fn(u32) -> Option<String>) -> String {
    let name = match m.kind() {
        RTM_ADD => "RTM_ADD: Add Route",
        RTM_DELETE => "RTM_DELETE: Delete Route",
        RTM_CHANGE => "RTM_CHANGE: Change Metrics or flags",
        RTM_GET => "RTM_GET: Report Metrics",
        RTM_NEWADDR => "RTM_NEWADDR: address being added to iface",
        RTM_DELADDR => "RTM_DELADDR: address being removed from iface",
        RTM_IFINFO => "RTM_IFINFO: iface status change",
        _ => "RTM_IFANNOUNCE: iface arrival/departure",
    };
    let mut o = format!("{name}: len {}, ", m.msglen());
    let bits = |b: &str| if b.is_empty() { String::new() } else { format!("<{b}>") };
    let mask = |a: &IpAddr, plen: u8| match a {
        IpAddr::V4(_) => Inet(mask(plen)).to_string(),
        IpAddr::V6(_) => std::net::Ipv6Addr::from(<u128 as crate::net::radix::Key>::mask(plen)).to_string(),
    };
    match m {
        RtMsg::Route {
            pid,
            seq,
            errno,
            flags,
            dst,
            plen,
            gateway,
            ..
        } => {
            let host = *flags & crate::net::route::RTF_HOST != 0;
            let gw = match gateway {
                Gateway::Inet(g) => scoped(g, &ifname),
                Gateway::Link(i) => format!("link#{i}"),
            };
            let netmask = mask(dst, *plen);
            let dst = scoped(dst, &ifname);
            let (addrs, list) = if host {
                ("<DST,GATEWAY>", format!(" {dst} {gw}"))
            } else {
                ("<DST,GATEWAY,NETMASK>", format!(" {dst} {gw} {netmask}"))
            };
            o += &format!(
                "pid: {pid}, seq {seq}, errno {errno}, flags:{}\nlocks:  inits: \nsockaddrs: {addrs}\n{list}\n",
                bits(&flags_names(*flags))
            );
        }
        RtMsg::Addr {
            ifindex,
            ifname: n,
            addr,
            plen,
            brd,
            ..
        } => {
            let n = if n.is_empty() {
                ifname(*ifindex).unwrap_or_default()
            } else {
                n.clone()
            };
            let (addrs, tail) = match brd {
                Some(b) => ("<NETMASK,IFP,IFA,BRD>", format!(" {b}")),
                None => ("<NETMASK,IFP,IFA>", String::new()),
            };
            o += &format!(
                "metric 0, flags:<UP>\nsockaddrs: {addrs}\n {} {n} {}{tail}\n",
                mask(addr, *plen),
                scoped(addr, &ifname)
            );
        }
        RtMsg::IfInfo {
            ifindex,
            flags,
            link_up,
        } => {
            let f: Vec<&str> = crate::net::ifnet::IFF_NAMES
                .iter()
                .filter(|(b, _)| flags & b != 0)
                .map(|(_, n)| *n)
                .collect();
            o += &format!(
                "if# {ifindex}, link: {}, flags:{}\n",
                if *link_up { "up" } else { "down" },
                bits(&f.join(","))
            );
        }
        RtMsg::IfAnnounce { ifindex, arrival, .. } => {
            o += &format!(
                "if# {ifindex}, what: {}\n",
                if *arrival { "arrival" } else { "departure" }
            );
        }
    }
    o
}
