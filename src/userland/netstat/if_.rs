//! `netstat -i`: the interfaces (`if.c`).

use super::route::netname;
use crate::net::ethernet::ether_ntoa;
use crate::net::ifnet::IF;
use crate::net::route::Inet;
use crate::vnet::Vnet;

/// `netstat -i`.
pub fn interfaces(v: &mut Vnet) -> String {
    let ifs = &v.builtin(IF).list;
    let w = ifs
        .iter()
        .map(|i| i.name.len() + usize::from(!i.is_up()))
        .max()
        .unwrap_or(0)
        .max(5);
    let mut s = format!(
        "{:<w$} {:>5} {:<13} {:<17} {:>8} {:>5} {:>5} {:>8} {:>5} {:>5}\n",
        "Name", "Mtu", "Network", "Address", "Ipkts", "Ierrs", "Idrop", "Opkts", "Oerrs", "Coll"
    );
    for i in ifs {
        let name = if i.is_up() {
            i.name.clone()
        } else {
            format!("{}*", i.name)
        };
        let c = &i.counters;
        let addr = if i.is_loopback() {
            i.name.clone()
        } else {
            ether_ntoa(&i.lladdr)
        };
        s += &format!(
            "{name:<w$} {:>5} {:<13.13} {:<17.17} {:>8} {:>5} {:>5} {:>8} {:>5} {:>5}\n",
            i.mtu,
            format!("<Link#{}>", i.index),
            addr,
            c.ipackets,
            c.ierrors,
            c.iqdrops,
            c.opackets,
            c.oerrors,
            c.collisions
        );
        for ia in &i.addrs {
            s += &format!(
                "{name:<w$} {:>5} {:<13.13} {:<17.17} {:>8} {:>5} {:>5} {:>8} {:>5} {:>5}\n",
                "-",
                netname(ia.addr & crate::net::radix::mask(ia.plen), ia.plen),
                Inet(ia.addr).to_string(),
                c.ipackets,
                "-",
                "-",
                c.opackets,
                "-",
                "-"
            );
        }
    }
    s
}
