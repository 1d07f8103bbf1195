//! ndp(8): the IPv6 neighbour cache: `ndp -a [-n]`, `ndp -c`, `ndp -d
//! ADDR`, `ndp -s ADDR MAC`, with ndp's columns.

use std::net::Ipv6Addr;

use clap::Parser;

use crate::errln;
use crate::kern::proc::Proc;
use crate::net::ethernet::{ether_aton, ether_ntoa};
use crate::net::ifnet::IF;
use crate::netinet6::in6::{in6_fmt, in6_getscope, in6_ifaddr_all, in6_parse};
use crate::netinet6::ip6_output::ip6_route;
use crate::netinet6::nd6::{ND6, NdState, nd6_add_static, nd6_delete, nd6_flush};
use crate::vnet::Vnet;

/// control/diagnose IPv6 neighbor discovery protocol (ndp(8))
#[derive(Parser, Debug)]
#[command(name = "ndp", disable_help_flag = true, disable_version_flag = true)]
pub struct NdpArgs {
    /// Dump the neighbour cache.
    #[arg(short = 'a')]
    all: bool,
    /// Flush the cache.
    #[arg(short = 'c')]
    clear: bool,
    /// Delete the entry for an address.
    #[arg(short = 'd')]
    delete: bool,
    /// Numeric output (it always is).
    #[arg(short = 'n')]
    numeric: bool,
    /// Set a permanent entry: ndp -s address ether_addr.
    #[arg(short = 's')]
    set: bool,
    #[arg(value_name = "address [ether_addr]")]
    args: Vec<String>,
}

/// ndp's `sec2str`: `1d2h3m4s`, leading zero units left out.
fn sec2str(mut s: u64) -> String {
    let (d, h, m) = (s / 86400, s / 3600 % 24, s / 60 % 60);
    s %= 60;
    let mut out = String::new();
    let mut first = true;
    for (n, u) in [(d, 'd'), (h, 'h'), (m, 'm')] {
        if n > 0 || !first {
            out += &format!("{n}{u}");
            first = false;
        }
    }
    out + &format!("{s}s")
}

/// `ndp -an`: our own addresses (permanent), then the neighbours.
fn dump(v: &mut Vnet, now: crate::Time) -> String {
    let mut s = format!(
        "{:<36} {:<17} {:>6} {:<9} {:1} {:>5}\n",
        "Neighbor", "Linklayer Address", "Netif", "Expire", "S", "Flags"
    );
    let ifname = |v: &Vnet, i: u32| {
        v.get(IF)
            .and_then(|l| l.get(i))
            .map(|f| (f.name.clone(), f.lladdr, f.is_ethernet()))
    };
    let mut rows: Vec<(String, String, String, String, char, String)> = Vec::new();
    for ia in in6_ifaddr_all(v) {
        if let Some((name, mac, true)) = ifname(v, ia.index) {
            rows.push((
                in6_fmt(v, &ia.addr),
                ether_ntoa(&mac),
                name,
                "permanent".into(),
                'R',
                String::new(),
            ));
        }
    }
    let mut nbrs: Vec<_> = v
        .builtin(ND6)
        .table
        .iter()
        .map(|(k, e)| (*k, e.state, e.mac, e.deadline, e.router))
        .collect();
    nbrs.sort_by_key(|(k, ..)| *k);
    for ((index, a), state, mac, deadline, router) in nbrs {
        let Some((name, _, _)) = ifname(v, index) else { continue };
        let ll = if state == NdState::Incomplete {
            "(incomplete)".to_string()
        } else {
            ether_ntoa(&mac)
        };
        let exp = match state {
            NdState::Static => "permanent".to_string(),
            _ if deadline <= now => "expired".into(),
            _ => sec2str(deadline.saturating_sub(now).as_secs()),
        };
        let flags = if router { "R" } else { "" };
        rows.push((
            in6_fmt(v, &Ipv6Addr::from(a)),
            ll,
            name,
            exp,
            state.letter(),
            flags.into(),
        ));
    }
    for (a, ll, name, exp, st, fl) in rows {
        s += &format!("{a:<36.36} {ll:<17.17} {name:>6.6} {exp:<9.9} {st}");
        if !fl.is_empty() {
            s += &format!(" {fl}");
        }
        s += "\n";
    }
    s
}

pub async fn ndp(p: Proc, argv: Vec<String>) -> i32 {
    let a: NdpArgs = match super::parse(&p, &argv) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let now = p.now();
    let r = p.vnet(|_, v| -> Result<String, (i32, String)> {
        if a.clear {
            nd6_flush(v);
            return Ok(String::new());
        }
        if a.all {
            return Ok(dump(v, now));
        }
        let Some(host) = a.args.first() else {
            return Err((1, "usage: ndp [-nt] hostname\n       ndp [-nt] -a | -c\n       ndp [-nt] -d hostname\n       ndp [-nt] -s nodename etheraddr [temp] [proxy]".into()));
        };
        let addr = in6_parse(v, host).ok_or((1, format!("{host}: No address associated with hostname")))?;
        if a.delete {
            return match nd6_delete(v, &addr) {
                0 => Err((1, format!("writing to routing socket: No such file or directory\ncannot locate {host}"))),
                _ => Ok(format!("{host} ({}) deleted\n", in6_fmt(v, &addr))),
            };
        }
        if a.set {
            let mac = a
                .args
                .get(1)
                .and_then(|m| ether_aton(m))
                .ok_or((1, "invalid Ethernet address".to_string()))?;
            let index = match in6_getscope(&addr) {
                Some(z) => z,
                None => ip6_route(v, &addr, None)
                    .ok()
                    .flatten()
                    .map(|nh| nh.ifindex)
                    .ok_or((1, "writing to routing socket: Network is unreachable".to_string()))?,
            };
            nd6_add_static(v, index, addr, mac);
            return Ok(String::new());
        }
        let all = dump(v, now);
        let me = in6_fmt(v, &addr);
        let hit: Vec<&str> = all.lines().skip(1).filter(|l| l.split_whitespace().next() == Some(me.as_str())).collect();
        if hit.is_empty() {
            return Err((1, format!("{host} ({me}) -- no entry")));
        }
        Ok(format!("{}\n{}\n", all.lines().next().unwrap_or_default(), hit.join("\n")))
    });
    match r {
        Ok(Ok(s)) => {
            p.stdout.write_bytes(s.as_bytes());
            0
        }
        Ok(Err((code, e))) => {
            errln!(p, "ndp: {e}");
            code
        }
        Err(e) => {
            errln!(p, "ndp: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sec2str_leaves_out_leading_zero_units() {
        assert_eq!(super::sec2str(29), "29s");
        assert_eq!(super::sec2str(86399), "23h59m59s");
        assert_eq!(super::sec2str(3601), "1h0m1s");
        assert_eq!(super::sec2str(90061), "1d1h1m1s");
    }
}
