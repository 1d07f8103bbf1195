//! `netstat -r`: the routing tables (`route.c`), IPv4's then IPv6's.

use std::net::Ipv6Addr;

use crate::net::ifnet::IF;
use crate::net::route::{Gateway, Inet, ROUTE, Rtentry, flags_letters};
use crate::netinet6::in6::{in6_fmt, in6_local_routes};
use crate::netinet6::ip6::IP6;
use crate::vnet::Vnet;

/// `a.b.c.d/len` for a network, `a.b.c.d` for a host.
pub fn netname(dst: u32, plen: u8) -> String {
    if plen == 32 {
        Inet(dst).to_string()
    } else {
        format!("{}/{plen}", Inet(dst))
    }
}

/// The same for IPv6 (`netname6`): `fe80::%lo0/64`, `::1`.
pub fn netname6(v: &Vnet, dst: u128, plen: u8) -> String {
    let a = in6_fmt(v, &Ipv6Addr::from(dst));
    if plen == 128 { a } else { format!("{a}/{plen}") }
}

/// One family's table: `(destination, gateway)` as text, with the rest
/// of each route; the columns as wide as netstat -n makes them.
fn table<K: Copy>(v: &Vnet, title: &str, rows: Vec<(String, String, Rtentry<K>)>, wd: usize, wg: usize) -> String {
    let name = |i: u32| {
        v.get(IF)
            .and_then(|l| l.get(i))
            .map_or(format!("if#{i}"), |f| f.name.clone())
    };
    let mut s = format!("\n{title}:\n");
    s += &format!(
        "{:<wd$} {:<wg$} {:<6} {:>8} {:>6}\n",
        "Destination", "Gateway", "Flags", "Netif", "Expire"
    );
    for (dst, gw, e) in rows {
        // netstat lets a long column push the next one right.
        let d = format!("{dst:<wd$} ");
        let gw_w = wg.saturating_sub(d.len().saturating_sub(wd + 1));
        let g = format!("{gw:<gw_w$} ");
        let fl_w = 6usize.saturating_sub((d.len() + g.len()).saturating_sub(wd + wg + 2));
        s += &format!("{d}{g}{:<fl_w$} {:>8.8}\n", flags_letters(e.flags), name(e.ifindex));
    }
    s
}

/// `netstat -rn` (`-f inet` or `-f inet6`: one family's table).
pub fn routes(v: &mut Vnet, inet: bool, inet6: bool) -> String {
    let mut s = String::from("Routing tables\n");
    if inet {
        let rows = v
            .builtin(ROUTE)
            .entries()
            .into_iter()
            .map(|e| {
                let dst = if e.plen == 0 {
                    "default".into()
                } else {
                    netname(e.dst, e.plen)
                };
                let gw = match e.gateway {
                    Gateway::Inet(g) => Inet(g).to_string(),
                    Gateway::Link(i) => format!("link#{i}"),
                };
                (dst, gw, e)
            })
            .collect();
        s += &table(v, "Internet", rows, 18, 18);
    }
    if inet6 && let Some(ip6) = v.get(IP6) {
        // The table, and the local routes the addresses imply, in order.
        let mut all = ip6.rt.entries();
        all.extend(
            in6_local_routes(v)
                .into_iter()
                .filter(|l| ip6.rt.get(l.dst, l.plen).is_none()),
        );
        all.sort_by_key(|e| (e.dst, e.plen));
        let rows = all
            .into_iter()
            .map(|e| {
                let dst = if e.plen == 0 {
                    "default".into()
                } else {
                    netname6(v, e.dst, e.plen)
                };
                let gw = match e.gateway {
                    Gateway::Inet(g) => in6_fmt(v, &Ipv6Addr::from(g)),
                    Gateway::Link(i) => format!("link#{i}"),
                };
                (dst, gw, e)
            })
            .collect();
        s += &table(v, "Internet6", rows, 33, 29);
    }
    s
}
