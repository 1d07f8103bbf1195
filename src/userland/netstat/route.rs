//! `netstat -r`: the routing table (`route.c`).

use crate::net::ifnet::IF;
use crate::net::route::{Gateway, Inet, ROUTE, flags_letters};
use crate::vnet::Vnet;

/// `a.b.c.d/len` for a network, `a.b.c.d` for a host.
pub fn netname(dst: u32, plen: u8) -> String {
    if plen == 32 {
        Inet(dst).to_string()
    } else {
        format!("{}/{plen}", Inet(dst))
    }
}

/// `netstat -rn`.
pub fn routes(v: &mut Vnet) -> String {
    let names: Vec<(u32, String)> = v.builtin(IF).list.iter().map(|i| (i.index, i.name.clone())).collect();
    let name = |i: u32| {
        names
            .iter()
            .find(|(x, _)| *x == i)
            .map_or(format!("if#{i}"), |(_, n)| n.clone())
    };
    let mut s = String::from("Routing tables\n\nInternet:\n");
    s += &format!(
        "{:<18} {:<18} {:<6} {:>8} {:>6}\n",
        "Destination", "Gateway", "Flags", "Netif", "Expire"
    );
    for e in v.builtin(ROUTE).entries() {
        let dst = if e.plen == 0 {
            "default".into()
        } else {
            netname(e.dst, e.plen)
        };
        let gw = match e.gateway {
            Gateway::Inet(g) => Inet(g).to_string(),
            Gateway::Link(i) => format!("link#{i}"),
        };
        // netstat lets a long column push the next one right.
        let d = format!("{dst:<18} ");
        let gw_w = 18usize.saturating_sub(d.len().saturating_sub(19));
        let g = format!("{gw:<gw_w$} ");
        let fl_w = 6usize.saturating_sub((d.len() + g.len()).saturating_sub(38));
        s += &format!("{d}{g}{:<fl_w$} {:>8.8}\n", flags_letters(e.flags), name(e.ifindex));
    }
    s
}
