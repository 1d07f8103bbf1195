//! `netstat -i [-b] [-d] [-I IF]` and `netstat -w N` (`if.c`: intpr and
//! sidewaysintpr): the interfaces with their counters, columns as wide as
//! FreeBSD 14 makes them, and the counters' changes every N seconds.

use super::route::netname;
use crate::net::ethernet::ether_ntoa;
use crate::net::ifnet::{IF, IfCounters};
use crate::net::route::Inet;
use crate::netinet::in_::in_ifaddrs;
use crate::vnet::Vnet;

/// What `-b`, `-d` and `-I` ask for.
#[derive(Clone, Copy, Debug, Default)]
pub struct IfOpts<'a> {
    pub bytes: bool,
    pub drops: bool,
    pub only: Option<&'a str>,
}

/// if.c's `max_num_len`: the width a counter needs (its quirk included).
fn num_len(max: usize, mut n: u64) -> usize {
    let mut len = 2;
    while n > 10 {
        n /= 10;
        len += 1;
    }
    max.max(len)
}

/// One row: name, mtu, network, address, and the counters if it is the
/// link row (address rows show dashes for errors and drops).
struct Row {
    name: String,
    mtu: u32,
    net: String,
    addr: String,
    c: IfCounters,
    link: bool,
}

/// `netstat -i`.
pub fn interfaces(v: &mut Vnet, o: IfOpts<'_>) -> String {
    let mut rows = Vec::new();
    let v = &*v;
    let ifs = v.get(IF).map_or(&[][..], |l| &l.list[..]);
    for i in ifs.iter().filter(|i| o.only.is_none_or(|n| n == i.name)) {
        let name = if i.is_up() {
            i.name.clone()
        } else {
            format!("{}*", i.name)
        };
        let addr = if i.is_loopback() {
            String::new()
        } else {
            ether_ntoa(&i.lladdr)
        };
        rows.push(Row {
            name: name.clone(),
            mtu: i.mtu,
            net: format!("<Link#{}>", i.index),
            addr,
            c: i.counters,
            link: true,
        });
        for ia in in_ifaddrs(v, i.index) {
            rows.push(Row {
                name: name.clone(),
                mtu: i.mtu,
                net: netname(ia.addr & crate::net::radix::mask(ia.plen), ia.plen),
                addr: Inet(ia.addr).to_string(),
                c: i.counters,
                link: false,
            });
        }
    }
    let nw = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(5);
    let netw = rows.iter().map(|r| r.net.len()).max().unwrap_or(0).max(8);
    let addrw = rows.iter().map(|r| r.addr.len().max(1)).max().unwrap_or(0).max(8);
    let (mut pw, mut ew, mut bw) = (8, 5, 10);
    for r in &rows {
        pw = num_len(num_len(pw, r.c.ipackets), r.c.opackets);
        ew = num_len(num_len(num_len(ew, r.c.ierrors), r.c.iqdrops), r.c.collisions);
        if o.drops {
            ew = num_len(ew, r.c.oqdrops);
        }
        if o.bytes {
            bw = num_len(num_len(bw, r.c.ibytes), r.c.obytes);
        }
    }
    let mut s = format!(
        "{:<nw$} {:>5} {:<netw$}  {:<addrw$}",
        "Name", "Mtu", "Network", "Address"
    );
    s += &format!(" {:>pw$} {:>ew$} {:>ew$}", "Ipkts", "Ierrs", "Idrop");
    if o.bytes {
        s += &format!(" {:>bw$}", "Ibytes");
    }
    s += &format!(" {:>pw$} {:>ew$}", "Opkts", "Oerrs");
    if o.bytes {
        s += &format!(" {:>bw$}", "Obytes");
    }
    s += &format!(" {:>ew$}", "Coll");
    if o.drops {
        s += &format!(" {:>ew$}", "Drop");
    }
    s += "\n";
    for r in rows {
        let c = &r.c;
        let dash = |n: u64| if r.link { n.to_string() } else { "-".into() };
        s += &format!("{:<nw$}{:>6} {:<netw$}  {:<addrw$} ", r.name, r.mtu, r.net, r.addr);
        s += &format!("{:>pw$} {:>ew$} {:>ew$} ", c.ipackets, dash(c.ierrors), dash(c.iqdrops));
        if o.bytes {
            s += &format!("{:>bw$} ", c.ibytes);
        }
        s += &format!("{:>pw$} {:>ew$} ", c.opackets, dash(c.oerrors));
        if o.bytes {
            s += &format!("{:>bw$} ", c.obytes);
        }
        s += &format!("{:>ew$}", dash(c.collisions));
        if o.drops {
            s += &format!(" {:>ew$} ", dash(c.oqdrops));
        }
        s += "\n";
    }
    s
}

/// The counters `netstat -w` sums: every interface's, or one's.
pub fn totals(v: &mut Vnet, only: Option<&str>) -> Option<IfCounters> {
    let ifs = &v.builtin(IF).list;
    if let Some(n) = only
        && !ifs.iter().any(|i| i.name == n)
    {
        return None;
    }
    let mut t = IfCounters::default();
    for i in ifs.iter().filter(|i| only.is_none_or(|n| n == i.name)) {
        let c = &i.counters;
        t.ipackets += c.ipackets;
        t.ierrors += c.ierrors;
        t.iqdrops += c.iqdrops;
        t.ibytes += c.ibytes;
        t.opackets += c.opackets;
        t.oerrors += c.oerrors;
        t.obytes += c.obytes;
        t.collisions += c.collisions;
        t.oqdrops += c.oqdrops;
    }
    Some(t)
}

/// sidewaysintpr's two header lines.
pub fn banner(only: Option<&str>, drops: bool) -> String {
    let mut s = format!("{:>17} {:>14} {:>16}\n", "input", only.unwrap_or("(Total)"), "output");
    s += &format!(
        "{:>10} {:>5} {:>5} {:>10} {:>10} {:>5} {:>10} {:>5}",
        "packets", "errs", "idrops", "bytes", "packets", "errs", "bytes", "colls"
    );
    if drops {
        s += &format!(" {:>5.5}", "drops");
    }
    s + "\n"
}

/// One line of `netstat -w`: what changed since `old`.
pub fn delta(new: &IfCounters, old: &IfCounters, drops: bool) -> String {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    let mut s = format!(
        "{:>10} {:>5} {:>5} {:>10} {:>10} {:>5} {:>10} {:>5}",
        d(new.ipackets, old.ipackets),
        d(new.ierrors, old.ierrors),
        d(new.iqdrops, old.iqdrops),
        d(new.ibytes, old.ibytes),
        d(new.opackets, old.opackets),
        d(new.oerrors, old.oerrors),
        d(new.obytes, old.obytes),
        d(new.collisions, old.collisions)
    );
    if drops {
        s += &format!(" {:>5} ", d(new.oqdrops, old.oqdrops));
    }
    s + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_as_if_c_counts_them() {
        assert_eq!(num_len(0, 0), 2);
        assert_eq!(num_len(0, 10), 2);
        assert_eq!(num_len(0, 11), 3);
        assert_eq!(num_len(0, 111), 4);
        assert_eq!(num_len(8, 5), 8);
    }
}
