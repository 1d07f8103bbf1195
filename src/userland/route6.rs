//! route(8) for IPv6 (`route -6 add`, `route add -inet6`): `DEST[/LEN]`
//! or `DEST -prefixlen N`, `default`, a gateway address (a link-local
//! one with its zone, `fe80::1%epair0a`) or `-iface IF`, and `get`.

use std::net::Ipv6Addr;

use crate::errln;
use crate::kern::proc::Proc;
use crate::net::ifnet::IF;
use crate::net::radix::Key;
use crate::net::route::{Gateway, RTF_DONE, RTF_GATEWAY, Rtentry, flags_names};
use crate::net::rtsock::{RTM_ADD, RTM_CHANGE, RTM_DELETE};
use crate::netinet6::in6::{in6_fmt, in6_getscope, in6_parse, key};
use crate::netinet6::ip6::IP6;
use crate::userland::route::{Mods, parse_mods};
use crate::vnet::Vnet;

/// Is this an IPv6 request (`-6`, `-inet6`, or an IPv6 destination)?
pub fn is_inet6(words: &[String]) -> bool {
    words.iter().any(|w| w == "-inet6" || w == "-6")
        || words
            .iter()
            .find(|w| !w.starts_with('-'))
            .is_some_and(|w| w.contains(':'))
}

struct Req6 {
    host: bool,
    dst: Ipv6Addr,
    plen: u8,
    dest_word: String,
    gateway_word: Option<String>,
    iface: bool,
    flags: u32,
    mtu: u32,
}

fn parse_req6(v: &Vnet, words: &[String]) -> Result<Req6, (i32, String)> {
    let Mods {
        host,
        flags,
        iface,
        mtu,
        mask: prefixlen,
        pos,
    } = parse_mods(words, &["-inet6", "-6"], "-prefixlen", |m| {
        m.parse().ok().filter(|&l| l <= 128).ok_or(format!("bad value: {m}"))
    })?;
    let Some(dest) = pos.first() else {
        return Err((64, "destination parameter required".into()));
    };
    let bad = || (68, format!("{dest}: bad address"));
    let (dst, plen) = if dest.as_str() == "default" {
        (Ipv6Addr::UNSPECIFIED, 0)
    } else if let Some((a, l)) = dest.split_once('/') {
        let l: u8 = l.parse().ok().filter(|&l| l <= 128).ok_or_else(bad)?;
        (in6_parse(v, a).ok_or_else(bad)?, l)
    } else {
        let a = in6_parse(v, dest).ok_or_else(bad)?;
        (a, prefixlen.unwrap_or(if host == Some(false) { 64 } else { 128 }))
    };
    let host = host.unwrap_or(plen == 128) || plen == 128;
    Ok(Req6 {
        host,
        dst: Ipv6Addr::from(key(&dst) & <u128 as Key>::mask(plen)),
        plen,
        dest_word: dest.to_string(),
        gateway_word: pos.get(1).map(|s| s.to_string()),
        iface,
        flags,
        mtu,
    })
}

/// `route -6 add|delete|change`.
pub fn modify6(p: &Proc, quiet: bool, cmd: &str, words: &[String]) -> i32 {
    let r = match p.vnet(|_, v| parse_req6(v, words)) {
        Ok(Ok(r)) => r,
        Ok(Err((code, msg))) => {
            errln!(p, "route: {msg}");
            return code;
        }
        Err(e) => {
            errln!(p, "route: {e}");
            return 1;
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
                dst: key(&r.dst),
                plen: r.plen,
                gateway: Gateway::Link(0),
                ifindex: 0,
                flags: r.flags,
                mtu: r.mtu,
            };
            return super::route::request(v, RTM_DELETE, e, pid);
        }
        let gw = r
            .gateway_word
            .as_deref()
            .ok_or(("gateway required".to_string(), "gateway required".to_string()))?;
        let (gateway, ifindex) = match (r.iface, in6_parse(v, gw)) {
            (false, Some(g)) => {
                // The gateway is on an attached link (or names its zone).
                match in6_getscope(&g) {
                    Some(z) => (Gateway::Inet(key(&g)), z),
                    None => {
                        let via = v.builtin(IP6).rt.lookup(key(&g)).ok_or_else(super::route::unreach)?;
                        match via.gateway {
                            Gateway::Link(i) if via.flags & RTF_GATEWAY == 0 => (Gateway::Inet(key(&g)), i),
                            _ => return Err(super::route::unreach()),
                        }
                    }
                }
            }
            _ => {
                let i = v
                    .builtin(IF)
                    .by_name(gw)
                    .map(|i| i.index)
                    .ok_or((format!("interface '{gw}' does not exist"), String::new()))?;
                (Gateway::Link(i), i)
            }
        };
        let e = Rtentry {
            dst: key(&r.dst),
            plen: r.plen,
            gateway,
            ifindex,
            flags: r.flags,
            mtu: r.mtu,
        };
        let kind = if cmd == "change" { RTM_CHANGE } else { RTM_ADD };
        super::route::request(v, kind, e, pid)
    });
    super::route::report(p, quiet, &line, res)
}

/// `route -6 get DEST`.
pub fn get6(p: &Proc, words: &[String]) -> i32 {
    let Some(dest) = words.iter().find(|w| !w.starts_with('-')) else {
        errln!(p, "route: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]");
        return 64;
    };
    let r = p.vnet(|_, v| {
        let a = if dest == "default" {
            Ipv6Addr::UNSPECIFIED
        } else {
            in6_parse(v, dest.split('/').next().unwrap_or(dest))?
        };
        let t = &v.builtin(IP6).rt;
        let e = if dest == "default" {
            t.get(0, 0).copied()
        } else {
            t.lookup(key(&a))
        }?;
        let ifp = v.builtin(IF).get(e.ifindex);
        let ifname = ifp.map_or(format!("if#{}", e.ifindex), |i| i.name.clone());
        let mtu = if e.mtu != 0 { e.mtu } else { ifp.map_or(0, |i| i.mtu) };
        let dst = in6_fmt(v, &Ipv6Addr::from(e.dst));
        let gw = match e.gateway {
            Gateway::Inet(g) => Some(in6_fmt(v, &Ipv6Addr::from(g))),
            Gateway::Link(_) => None,
        };
        let mask = (e.plen < 128).then(|| Ipv6Addr::from(<u128 as Key>::mask(e.plen)).to_string());
        Some((in6_fmt(v, &a), e, dst, gw, mask, ifname, mtu))
    });
    let Ok(Some((to, e, dst, gw, mask, ifname, mtu))) = r else {
        errln!(p, "route: route has not been found");
        return 255;
    };
    let mut s = format!("   route to: {to}\n");
    s += &format!("destination: {}\n", if e.plen == 0 { "default".into() } else { dst });
    if let Some(m) = mask {
        s += &format!("       mask: {}\n", if e.plen == 0 { "default".into() } else { m });
    }
    if let Some(g) = gw {
        s += &format!("    gateway: {g}\n");
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
