//! netstat(1): show network status — the routing table (`-r`), the
//! interfaces (`-i`) and protocol statistics (`-s [-p ip|icmp|arp|udp]`).

use clap::Parser;

use crate::errln;
use crate::kern::proc::Proc;
use crate::net::ethernet::ether_ntoa;
use crate::net::ifnet::IF;
use crate::net::route::{Gateway, Inet, ROUTE, flags_letters};
use crate::netinet::arp::ARP;
use crate::netinet::icmp::{Hist, ICMP, icmp_name};
use crate::netinet::ip::IP;
use crate::netinet::udp::UDP;
use crate::vnet::Vnet;

/// show network status (netstat(1))
#[derive(Parser, Debug)]
#[command(name = "netstat", disable_help_flag = true, disable_version_flag = true)]
pub struct NetstatArgs {
    /// Show the routing tables.
    #[arg(short = 'r')]
    routes: bool,
    /// Show the state of the interfaces.
    #[arg(short = 'i')]
    interfaces: bool,
    /// Show per-protocol statistics (twice: only non-zero counters).
    #[arg(short = 's', action = clap::ArgAction::Count)]
    stats: u8,
    /// Numeric addresses (they always are).
    #[arg(short = 'n')]
    numeric: bool,
    /// Show all sockets, including servers.
    #[arg(short = 'a')]
    all: bool,
    /// Wide output: never truncate.
    #[arg(short = 'W')]
    wide: bool,
    /// Only this protocol: ip, icmp, arp, udp.
    #[arg(short = 'p', value_name = "protocol")]
    proto: Option<String>,
    /// Only this address family: inet.
    #[arg(short = 'f', value_name = "address_family")]
    family: Option<String>,
}

pub async fn netstat(p: Proc, argv: Vec<String>) -> i32 {
    let a: NetstatArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    if let Some(f) = &a.family
        && f != "inet"
    {
        errln!(p, "netstat: {f}: unknown address family");
        return 1;
    }
    let r = p.vnet(|_, v| {
        if a.routes {
            Ok(routes(v))
        } else if a.interfaces {
            Ok(interfaces(v))
        } else if a.stats > 0 {
            stats(v, a.proto.as_deref(), a.stats > 1)
        } else {
            Ok("Active Internet connections\nProto Recv-Q Send-Q Local Address          Foreign Address        (state)\n"
                .to_string())
        }
    });
    match r {
        Ok(Ok(s)) => {
            p.stdout.write_bytes(s.as_bytes());
            0
        }
        Ok(Err(e)) | Err(e) => {
            errln!(p, "netstat: {e}");
            1
        }
    }
}

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

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn pluralies(n: u64) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

fn plurales(n: u64) -> &'static str {
    if n == 1 { "" } else { "es" }
}

/// Collect lines, leaving out zero counters with `-ss`.
struct Lines {
    s: String,
    nozero: bool,
}

impl Lines {
    fn p(&mut self, n: u64, text: impl FnOnce(u64) -> String) {
        if n != 0 || !self.nozero {
            self.s += &text(n);
            self.s.push('\n');
        }
    }
}

/// `netstat -s [-p proto]`.
pub fn stats(v: &mut Vnet, proto: Option<&str>, nozero: bool) -> Result<String, String> {
    let mut l = Lines {
        s: String::new(),
        nozero,
    };
    let all = proto.is_none();
    let known = ["ip", "icmp", "arp", "udp"];
    if let Some(pr) = proto
        && !known.contains(&pr)
    {
        return Err(format!("{pr}: unknown or uninstrumented protocol"));
    }
    if all || proto == Some("udp") {
        let u = v.builtin(UDP).stats;
        l.s += "udp:\n";
        l.p(u.ipackets, |n| format!("\t{n} datagram{} received", plural(n)));
        l.p(u.hdrops, |n| format!("\t{n} with incomplete header"));
        l.p(u.badlen, |n| format!("\t{n} with bad data length field"));
        l.p(u.badsum, |n| format!("\t{n} with bad checksum"));
        l.p(u.nosum, |n| format!("\t{n} with no checksum"));
        l.p(u.noport, |n| format!("\t{n} dropped due to no socket"));
        l.p(u.noportbcast, |n| {
            format!("\t{n} broadcast/multicast datagram{} undelivered", plural(n))
        });
        l.p(u.fullsock, |n| format!("\t{n} dropped due to full socket buffers"));
        l.p(u.opackets, |n| format!("\t{n} datagram{} output", plural(n)));
    }
    if all || proto == Some("ip") {
        let s = v.builtin(IP).stats;
        l.s += "ip:\n";
        l.p(s.total, |n| format!("\t{n} total packet{} received", plural(n)));
        l.p(s.badsum, |n| format!("\t{n} bad header checksum{}", plural(n)));
        l.p(s.toosmall, |n| format!("\t{n} with size smaller than minimum"));
        l.p(s.tooshort, |n| format!("\t{n} with data size < data length"));
        l.p(s.toolong, |n| format!("\t{n} with ip length > max ip packet size"));
        l.p(s.badhlen, |n| format!("\t{n} with header length < data size"));
        l.p(s.badlen, |n| format!("\t{n} with data length < header length"));
        l.p(s.badoptions, |n| format!("\t{n} with bad options"));
        l.p(s.badvers, |n| format!("\t{n} with incorrect version number"));
        l.p(s.fragments, |n| format!("\t{n} fragment{} received", plural(n)));
        l.p(s.fragdropped, |n| {
            format!("\t{n} fragment{} dropped (dup or out of space)", plural(n))
        });
        l.p(s.fragtimeout, |n| {
            format!("\t{n} fragment{} dropped after timeout", plural(n))
        });
        l.p(s.reassembled, |n| format!("\t{n} packet{} reassembled ok", plural(n)));
        l.p(s.delivered, |n| format!("\t{n} packet{} for this host", plural(n)));
        l.p(s.noproto, |n| {
            format!("\t{n} packet{} for unknown/unsupported protocol", plural(n))
        });
        l.p(s.forward, |n| {
            format!("\t{n} packet{} forwarded (0 packets fast forwarded)", plural(n))
        });
        l.p(s.cantforward, |n| format!("\t{n} packet{} not forwardable", plural(n)));
        l.p(s.notmember, |n| {
            format!("\t{n} packet{} received for unknown multicast group", plural(n))
        });
        l.p(s.redirectsent, |n| format!("\t{n} redirect{} sent", plural(n)));
        l.p(s.localout, |n| format!("\t{n} packet{} sent from this host", plural(n)));
        l.p(s.rawout, |n| {
            format!("\t{n} packet{} sent with fabricated ip header", plural(n))
        });
        l.p(s.odropped, |n| {
            format!("\t{n} output packet{} dropped due to no bufs, etc.", plural(n))
        });
        l.p(s.noroute, |n| {
            format!("\t{n} output packet{} discarded due to no route", plural(n))
        });
        l.p(s.fragmented, |n| {
            format!("\t{n} output datagram{} fragmented", plural(n))
        });
        l.p(s.ofragments, |n| format!("\t{n} fragment{} created", plural(n)));
        l.p(s.cantfrag, |n| {
            format!("\t{n} datagram{} that can't be fragmented", plural(n))
        });
        l.p(s.nogif, |n| {
            format!("\t{n} tunneling packet{} that can't find gif", plural(n))
        });
        l.p(s.badaddr, |n| {
            format!("\t{n} datagram{} with bad address in header", plural(n))
        });
    }
    if all || proto == Some("icmp") {
        let s = v.builtin(ICMP).stats.clone();
        l.s += "icmp:\n";
        l.p(s.error, |n| format!("\t{n} call{} to icmp_error", plural(n)));
        l.p(s.oldicmp, |n| {
            format!("\t{n} error{} not generated in response to an icmp message", plural(n))
        });
        histogram(&mut l.s, "Output", &s.outhist);
        l.p(s.badcode, |n| {
            format!("\t{n} message{} with bad code fields", plural(n))
        });
        l.p(s.tooshort, |n| {
            format!("\t{n} message{} less than the minimum length", plural(n))
        });
        l.p(s.checksum, |n| format!("\t{n} message{} with bad checksum", plural(n)));
        l.p(s.badlen, |n| format!("\t{n} message{} with bad length", plural(n)));
        l.p(s.bmcastecho, |n| format!("\t{n} multicast echo requests ignored"));
        l.p(s.bmcasttstamp, |n| {
            format!("\t{n} multicast timestamp requests ignored")
        });
        histogram(&mut l.s, "Input", &s.inhist);
        l.p(s.reflect, |n| format!("\t{n} message response{} generated", plural(n)));
        l.p(s.badaddr, |n| format!("\t{n} invalid return address{}", plurales(n)));
        l.p(s.noroute, |n| format!("\t{n} no return route{}", plural(n)));
        l.p(s.ratelimited, |n| {
            format!("\t{n} response{} suppressed by icmplim", plural(n))
        });
    }
    if all || proto == Some("arp") {
        let s = v.builtin(ARP).stats;
        l.s += "arp:\n";
        l.p(s.txrequests, |n| format!("\t{n} ARP request{} sent", plural(n)));
        l.p(0, |n| format!("\t{n} ARP requests failed to sent"));
        l.p(s.txreplies, |n| format!("\t{n} ARP repl{} sent", pluralies(n)));
        l.p(s.rxrequests, |n| format!("\t{n} ARP request{} received", plural(n)));
        l.p(s.rxreplies, |n| format!("\t{n} ARP repl{} received", pluralies(n)));
        l.p(s.received, |n| format!("\t{n} ARP packet{} received", plural(n)));
        l.p(s.dropped, |n| {
            format!("\t{n} total packet{} dropped due to no ARP entry", plural(n))
        });
        l.p(s.timeouts, |n| format!("\t{n} ARP entry{} timed out", plural(n)));
        l.p(s.dupips, |n| format!("\t{n} Duplicate IP{} seen", plural(n)));
    }
    Ok(l.s)
}

fn histogram(s: &mut String, dir: &str, h: &Hist) {
    let counts = h.counts();
    if counts.is_empty() {
        return;
    }
    *s += &format!("\t{dir} histogram:\n");
    for (t, n) in counts {
        *s += &format!("\t\t{}: {n}\n", icmp_name(t));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plurals() {
        assert_eq!(super::plural(1), "");
        assert_eq!(super::plural(2), "s");
        assert_eq!(super::pluralies(2), "ies");
    }
}
